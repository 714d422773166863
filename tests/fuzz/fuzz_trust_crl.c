/*
 * fuzz_trust_crl.c: libFuzzer target over the check of a CRL fetched from another CA's
 * distribution point (pki/trust.c trust_crl_check): the bytes come from whatever answers
 * at the URL inside a certificate. A self-signed Root is the trust anchor; a random CRL
 * cannot carry its signature, so everything must be refused cleanly, and a refusal must
 * leave a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/keys.h"
#include "pki/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct trust_set *fuzz_ts;

static void fuzz_setup(void)
{
	EVP_PKEY *key = NULL;
	X509 *root = X509_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509) *anchors = sk_X509_new_null();
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	if (keys_generate_ec(NID_brainpoolP256r1, &key, NULL) != TW_OK || root == NULL ||
	    name == NULL || anchors == NULL)
		abort();
	X509_set_version(root, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(root), 1);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)"TORWART-TEST-ROOT.CA", -1, -1, 0);
	X509_set_subject_name(root, name);
	X509_set_issuer_name(root, name);
	X509_gmtime_adj(X509_getm_notBefore(root), -60);
	X509_gmtime_adj(X509_getm_notAfter(root), 86400);
	X509_set_pubkey(root, key);
	X509V3_set_ctx(&ctx, root, root, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(root, e, -1);
	X509_EXTENSION_free(e);
	if (X509_sign(root, key, EVP_sha256()) <= 0 || !sk_X509_push(anchors, root) ||
	    trust_set_new(anchors, NULL, &fuzz_ts, NULL) != TW_OK)
		abort();
	sk_X509_pop_free(anchors, X509_free);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trust_crl_info info;
	struct tw_error err;

	if (fuzz_ts == NULL)
		fuzz_setup();
	memset(&err, 0, sizeof(err));
	if (trust_crl_check(fuzz_ts, data, size, 2000000000, &info, &err) == TW_OK)
		abort();        /* nobody else holds the Root's key */
	if (err.message[0] == '\0')
		abort();
	return 0;
}
