/*
 * fuzz_metering.c: libFuzzer target over what gateways send as metering data
 * (POST /v1/metering/values, src/metering/metering.c): the strict JSON body
 * (metering_msg_parse) and the CMS inside it (metering_cms_verify, which decodes a
 * SignedData, checks its signer against a fixed certificate and decodes the content as an
 * EnvelopedData), and an EMT's TAF request body (metering_taf_request_parse,
 * POST /v1/emt/taf-requests). First byte 0: a metering body; 1: an EMT TAF request;
 * otherwise the CMS itself.
 *
 * Invariants: a refused body leaves the struct zeroed; a verified CMS yields inner bytes
 * that decode (never a success without content). The fixed signer is a fresh
 * brainpoolP256r1 self-signed certificate, so random input never verifies; the decoding
 * paths before and around the signature check are what is exercised.
 *
 * Build: see tests/fuzz/meson.build (clang, -Dfuzz=true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "metering/metering.h"
#include "metering/metering_taf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *signer(void)
{
	static X509 *x;
	EVP_PKEY *k;

	if (x != NULL)
		return x;
	if ((k = EVP_EC_gen("brainpoolP256r1")) == NULL || (x = X509_new()) == NULL ||
	    X509_set_pubkey(x, k) != 1 || X509_sign(x, k, EVP_sha256()) <= 0)
		abort();
	EVP_PKEY_free(k);
	return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct metering_msg zero;
	struct metering_msg m;
	unsigned char *inner = NULL;
	size_t inner_len = 0;

	if (size == 0)
		return 0;
	if (data[0] == 0) {
		if (metering_msg_parse(data + 1, size - 1, &m, NULL) == TW_OK) {
			if (m.cms == NULL || m.cms_len == 0 || m.cms_len > METERING_CMS_MAX)
				abort();
			if (metering_cms_verify(m.cms, m.cms_len, signer(), &inner, &inner_len,
			    NULL) == TW_OK && (inner == NULL || inner_len == 0))
				abort();
			metering_msg_clear(&m);
		} else if (memcmp(&m, &zero, sizeof(m)) != 0) {
			abort();
		}
	} else if (data[0] == 1) {
		static const struct metering_taf_request tzero;
		struct metering_taf_request t;

		if (metering_taf_request_parse(data + 1, size - 1, &t, NULL) == TW_OK) {
			if ((strcmp(t.taf, "TAF5") == 0) != (t.tariff_stage >= 1 &&
			    t.tariff_stage <= METERING_TAF_STAGE_MAX))
				abort();
		} else if (memcmp(&t, &tzero, sizeof(t)) != 0) {
			abort();
		}
	} else if (metering_cms_verify(data + 1, size - 1, signer(), &inner, &inner_len,
	    NULL) == TW_OK && (inner == NULL || inner_len == 0)) {
		abort();
	}
	free(inner);
	return 0;
}
