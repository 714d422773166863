/* pki_fixture.h: a test PKI in memory (software keys) shared by the pki unit tests. */
#ifndef TORWART_TESTS_PKI_FIXTURE_H
#define TORWART_TESTS_PKI_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/profile.h"
#include "pki/reqgen.h"

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

struct pki_fixture {
	struct party root, sub, gwa_sig, gwa_tls, emt_sig, other_sig, foreign_root, foreign_sig;
	EVP_PKEY *k_tls, *k_sig, *k_enc, *k_p256;
	X509_STORE *trust;
};

extern struct pki_fixture fx;

X509 *pki_fixture_sign_cert(struct pki_cert_request *req, EVP_PKEY *issuer_key);
void pki_fixture_make_party(struct party *p, enum pki_usage usage, const char *cn,
	const struct party *issuer);
void pki_fixture_party_free(struct party *p);
int pki_fixture_setup(void **state);
int pki_fixture_teardown(void **state);
/* The reference request's subject, so renewals can be signed by fx.emt_sig. */
void pki_fixture_params(struct reqgen_params *p);
void pki_fixture_gen(const struct reqgen_params *p, bool any_curve, unsigned char **der,
	size_t *len);
void pki_fixture_gen_initial(unsigned char **der, size_t *len);

#endif
