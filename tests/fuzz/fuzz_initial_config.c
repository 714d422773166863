/*
 * fuzz_initial_config.c: libFuzzer target over the gateway side of the initial
 * configuration file (gwa/initial_config.c, initial_config_open): CMS EnvelopedData (DER
 * or PEM) from outside, decrypted with the gateway's ENC key, the inner SignedData
 * verified against the gateway's root, the JSON content checked. Keys and the trust
 * anchor are made once at start (brainpoolP256r1); mutated inputs mostly stop at the CMS
 * parser or the decryption, which is where hostile bytes hit first.
 *
 * Invariant: TW_OK <=> a content object out.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "crypto/keys.h"
#include "gwa/initial_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;
static X509 *cert;
static X509_STORE *trust;

static void setup(void)
{
	struct tw_error err;

	if (keys_generate_ec(NID_brainpoolP256r1, &key, &err) != TW_OK ||
	    (cert = X509_new()) == NULL || X509_set_pubkey(cert, key) != 1 ||
	    X509_set_version(cert, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), 86400) == NULL ||
	    X509_sign(cert, key, EVP_sha256()) <= 0 || (trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(trust, cert) != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *content = NULL;
	struct tw_error err;
	tw_rc rc;

	if (key == NULL)
		setup();
	rc = initial_config_open(data, size, key, cert, trust, &content, &err);
	if ((rc == TW_OK) != (content != NULL))
		abort();
	json_decref(content);
	return 0;
}
