/*
 * fuzz_signer_certreq.c: libFuzzer target for the signer's check of a certreq payload
 * (signer/signer_certreq.c): what a signer client sends to have a GWA key sign a proof
 * of possession (a DER CertRequest) or a renewal's outer signature (DER signed
 * attributes).
 *
 * Input: the first byte picks the key label (gwa-sig, gwa-tls, gwa-enc versions, or a key
 * that may never sign requests), the rest is the payload. Properties: no crash or
 * out-of-bounds read for any input; a key that is not the GWA's is always refused; an
 * accepted proof of possession decodes as a CertReqMsg and names the signing key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crmf.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "signer/signer_certreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const labels[] = {
		"gwa-sig", "gwa-tls.k0123456789abcdef", "gwa-enc", "sub-ca", "api-tls",
	};
	static EVP_PKEY *pub;
	const char *kind = NULL, *why;
	const char *label;

	if (size < 1 || size > 65536)
		return 0;
	/* One fixed key for every run (the check compares against its SPKI). */
	if (pub == NULL && (pub = EVP_EC_gen("brainpoolP256r1")) == NULL)
		abort();
	label = labels[data[0] % (sizeof(labels) / sizeof(labels[0]))];
	why = signer_certreq_refusal(label, pub, data + 1, size - 1, &kind);
	if (why == NULL && (strcmp(label, "sub-ca") == 0 || strcmp(label, "api-tls") == 0))
		abort();   /* certreq is the GWA keys' only */
	if (why == NULL && strcmp(kind, "pop") != 0 && strcmp(kind, "outer") != 0)
		abort();
	return 0;
}
