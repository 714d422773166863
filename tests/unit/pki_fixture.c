/* pki_fixture.c: a test PKI in memory shared by test_pki.c and test_pki_profile.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/cms.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "base/config.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "pki/profile.h"
#include "pki/reqgen.h"
#include "pki/request.h"
#include "pki/result.h"
#include "pki_fixture.h"

struct pki_fixture fx;

X509 *pki_fixture_sign_cert(struct pki_cert_request *req, EVP_PKEY *issuer_key)
{
	struct tw_error err;
	X509 *x = NULL;

	if (pki_build_certificate(req, &x, &err) != TW_OK)
		fail_msg("pki_build_certificate: %s", err.message);
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0)
		fail_msg("X509_sign");
	return x;
}

void pki_fixture_make_party(struct party *p, enum pki_usage usage, const char *cn,
	const struct party *issuer)
{
	struct pki_cert_request req;
	struct tw_error err;

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &p->key, &err), TW_OK);
	memset(&req, 0, sizeof(req));
	req.usage = usage;
	req.role = issuer == NULL || usage == PKI_USAGE_SUB_CA ? PKI_ROLE_CA : PKI_ROLE_EMT;
	req.subject.common_name = cn;
	req.subject.org_unit = "9900000000001";
	req.subject.serial_number = "1";
	req.subject.dns_name = usage == PKI_USAGE_TLS ? "localhost" : NULL;
	if (usage == PKI_USAGE_SUB_CA) {
		/* Copied into the issuerAltName of everything the Sub-CA issues. */
		req.subject.email = "sub-ca@torwart.example";
		req.subject.uri = "https://torwart.example/sub-ca/";
	}
	req.public_key = p->key;
	req.issuer_cert = issuer != NULL ? issuer->cert : NULL;
	req.validity_days = 365;
	p->cert = pki_fixture_sign_cert(&req, issuer != NULL ? issuer->key : p->key);
}

void pki_fixture_party_free(struct party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
}

int pki_fixture_setup(void **state)
{
	struct tw_error err;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	pki_fixture_make_party(&fx.root, PKI_USAGE_ROOT_CA, "TEST-ROOT.CA", NULL);
	pki_fixture_make_party(&fx.sub, PKI_USAGE_SUB_CA, "TEST-SUB.CA", &fx.root);
	pki_fixture_make_party(&fx.gwa_sig, PKI_USAGE_SIG, "TEST.GWA.TORWART", &fx.sub);
	pki_fixture_make_party(&fx.gwa_tls, PKI_USAGE_TLS, "TEST.GWA.TORWART", &fx.sub);
	pki_fixture_make_party(&fx.emt_sig, PKI_USAGE_SIG, "Company-Test.EMT.MAK", &fx.sub);
	pki_fixture_make_party(&fx.other_sig, PKI_USAGE_SIG, "Other.EMT.MAK", &fx.sub);
	pki_fixture_make_party(&fx.foreign_root, PKI_USAGE_ROOT_CA, "FOREIGN-ROOT.CA", NULL);
	pki_fixture_make_party(&fx.foreign_sig, PKI_USAGE_SIG, "Company-Test.EMT.MAK", &fx.foreign_root);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &fx.k_tls, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP384r1, &fx.k_sig, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &fx.k_enc, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_X9_62_prime256v1, &fx.k_p256, &err), TW_OK);
	fx.trust = X509_STORE_new();
	assert_non_null(fx.trust);
	assert_int_equal(X509_STORE_add_cert(fx.trust, fx.root.cert), 1);
	assert_int_equal(X509_STORE_add_cert(fx.trust, fx.sub.cert), 1);
	return 0;
}

int pki_fixture_teardown(void **state)
{
	(void)state;
	pki_fixture_party_free(&fx.root);
	pki_fixture_party_free(&fx.sub);
	pki_fixture_party_free(&fx.gwa_sig);
	pki_fixture_party_free(&fx.gwa_tls);
	pki_fixture_party_free(&fx.emt_sig);
	pki_fixture_party_free(&fx.other_sig);
	pki_fixture_party_free(&fx.foreign_root);
	pki_fixture_party_free(&fx.foreign_sig);
	EVP_PKEY_free(fx.k_tls);
	EVP_PKEY_free(fx.k_sig);
	EVP_PKEY_free(fx.k_enc);
	EVP_PKEY_free(fx.k_p256);
	X509_STORE_free(fx.trust);
	return 0;
}

/* The reference request's subject, so renewals can be signed by fx.emt_sig. */
void pki_fixture_params(struct reqgen_params *p)
{
	memset(p, 0, sizeof(*p));
	p->subject.common_name = "Company-Test.EMT.MAK";
	p->subject.org_unit = "9900000000001";
	p->subject.serial_number = "1";
	p->subject.email = "test@company.example";
	p->subject.uri = "https://maco.company.example:11111/maco";
	p->subject.dns_name = "maco.company.example";
	p->keys[PKI_USAGE_TLS] = fx.k_tls;
	p->keys[PKI_USAGE_SIG] = fx.k_sig;
	p->keys[PKI_USAGE_ENC] = fx.k_enc;
}

void pki_fixture_gen(const struct reqgen_params *p, bool any_curve, unsigned char **der,
	size_t *len)
{
	struct tw_error err;

	if (reqgen_build(p, any_curve, der, len, &err) != TW_OK)
		fail_msg("reqgen_build: %s", err.message);
}

void pki_fixture_gen_initial(unsigned char **der, size_t *len)
{
	struct reqgen_params p;

	pki_fixture_params(&p);
	pki_fixture_gen(&p, false, der, len);
}
