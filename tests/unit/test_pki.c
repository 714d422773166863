/*
 * test_pki.c: unit tests of the SM-PKI request engine: WSDL return codes,
 * CRMF requests in the BSI wrappers (the independent reference request in
 * $TORWART_SHARED/reference/sm-pki, our own initial / renewal / GWA-authorised requests),
 * and one WSDL code per kind of bad input. Profiles and the per-CA configuration:
 * test_pki_profile.c.
 *
 * Everything runs in memory with software brainpool keys; no signer, no token.
 */
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

/* ------------------------------------------------------------------ fixture */

#include "pki_fixture.h"

static void gen_renewal(struct party *signer, unsigned char **der, size_t *len)
{
	struct reqgen_params p;

	pki_fixture_params(&p);
	p.outer_cert = signer->cert;
	p.outer_key = signer->key;
	pki_fixture_gen(&p, false, der, len);
}

/* Parse and expect `want`; returns the request on success (caller frees). */
static struct request *expect(const unsigned char *in, size_t len,
	const struct request_verify_opts *opts, enum pki_result want)
{
	struct request *req = NULL;
	enum pki_result got = PKI_OK_SYNTAX;
	struct tw_error err;
	tw_rc rc;

	tw_error_clear(&err);
	rc = request_parse(in, len, opts, &req, &got, &err);
	if (got != want)
		fail_msg("expected %s, got %s (%s)", pki_result_name(want), pki_result_name(got),
			err.message);
	if (want == PKI_OK_SYNTAX) {
		assert_int_equal(rc, TW_OK);
		assert_non_null(req);
	} else {
		assert_int_not_equal(rc, TW_OK);
		assert_null(req);
		assert_true(err.message[0] != '\0');
	}
	return req;
}

/* ------------------------------------------------------------------ result codes */

static void test_result_names(void **state)
{
	static const char *const wsdl[] = { "ok_syntax", "ok_cert_available",
		"ok_received_correctly", "failure_syntax", "failure_incorrect_request",
		"failure_synchronous_processing_not_possible", "failure_request_not_accepted",
		"failure_unauthorized_request", "failure_other_error", "failure_internal_error",
		"failure_inner_signature", "failure_outer_signature",
		"failure_authorization_signature", "failure_domain_parameters",
		"failure_cert_not_available", "failure_messageID_unknown" };
	enum pki_result r;
	struct tw_error err;

	(void)state;
	assert_int_equal(sizeof(wsdl) / sizeof(wsdl[0]), PKI_RESULT__COUNT);
	for (int i = 0; i < PKI_RESULT__COUNT; i++) {
		assert_int_equal(pki_result_parse(wsdl[i], &r, &err), TW_OK);
		assert_string_equal(pki_result_name(r), wsdl[i]);
		assert_int_equal(pki_result_is_ok(r), strncmp(wsdl[i], "ok_", 3) == 0);
		assert_int_equal(pki_result_rc(r) == TW_OK, pki_result_is_ok(r));
	}
	assert_int_equal(pki_result_parse("failure_messageid_unknown", &r, &err), TW_E_INVALID);
	assert_int_equal(pki_result_parse("callback_possible", &r, &err), TW_E_INVALID);
	assert_null(pki_result_name(PKI_RESULT__COUNT));
	assert_int_equal(pki_result_rc(PKI_FAILURE_INNER_SIGNATURE), TW_E_CRYPTO);
}

/* ------------------------------------------------------------------ reference request */

static void test_reference_request(void **state)
{
	const char *shared = getenv("TORWART_SHARED");
	char path[512];
	unsigned char *b64 = NULL;
	unsigned char *der = NULL;
	size_t b64_len = 0, der_len = 0;
	struct request *req, *again;
	const struct request_entry *tls;
	struct tw_error err;

	(void)state;
	snprintf(path, sizeof(path), "%s/reference/sm-pki/initial-request.crmf.b64",
		shared != NULL ? shared : "/nonexistent");
	if (shared == NULL || tw_read_file(path, 1 << 20, &b64, &b64_len, &err) != TW_OK) {
		print_message("[  SKIP    ] %s absent: the independent reference request is not "
			"checked\n", path);
		skip();
	}
	/* base64 as stored; three POPs verify inside request_parse. */
	req = expect(b64, b64_len, NULL, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_INITIAL);
	assert_int_equal(req->n_entries, 3);
	assert_int_equal(req->entries[0].usage, PKI_USAGE_ENC);
	assert_int_equal(req->entries[1].usage, PKI_USAGE_SIG);
	assert_int_equal(req->entries[2].usage, PKI_USAGE_TLS);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(req->entries[i].curve_nid, NID_brainpoolP256r1);
	tls = request_find(req, PKI_USAGE_TLS);
	assert_non_null(tls);
	assert_non_null(tls->dns_name);
	assert_non_null(tls->email);
	assert_non_null(tls->uri);
	assert_null(request_find(req, PKI_USAGE_SIG)->dns_name);
	/* Two DNS names, e-mail, URI; certified in the real certificates' order. */
	assert_non_null(tls->san);
	assert_int_equal(sk_GENERAL_NAME_num(tls->san), 4);
	{
		static const int want[] = { GEN_EMAIL, GEN_URI, GEN_DNS, GEN_DNS };
		struct pki_cert_request cr;
		GENERAL_NAMES *got;
		X509 *x;

		memset(&cr, 0, sizeof(cr));
		cr.usage = PKI_USAGE_TLS;
		cr.role = PKI_ROLE_EMT;
		cr.subject_name = tls->subject;
		cr.san = tls->san;
		cr.public_key = tls->public_key;
		cr.issuer_cert = fx.sub.cert;
		cr.validity_days = 730;
		x = pki_fixture_sign_cert(&cr, fx.sub.key);
		got = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		assert_non_null(got);
		assert_int_equal(sk_GENERAL_NAME_num(got), 4);
		for (int i = 0; i < 4; i++)
			assert_int_equal(sk_GENERAL_NAME_value(got, i)->type, want[i]);
		/* The reference subject keeps its UTF8String streetAddress. */
		assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), tls->subject), 0);
		GENERAL_NAMES_free(got);
		X509_free(x);
		/* A DNS name is refused for a SIG certificate. */
		cr.usage = PKI_USAGE_SIG;
		assert_int_equal(pki_build_certificate(&cr, &x, &err), TW_E_INVALID);
	}
	assert_null(req->outer_signer);
	assert_null(req->authoriser);
	/* The same bytes as DER (indefinite-length BER, as the independent tool wrote it). */
	assert_int_equal(request_decode(b64, b64_len, &der, &der_len, &err), TW_OK);
	again = expect(der, der_len, NULL, PKI_OK_SYNTAX);
	assert_memory_equal(again->digest, req->digest, REQUEST_DIGEST_LEN);
	assert_memory_equal(again->wire_digest, req->wire_digest, REQUEST_DIGEST_LEN);
	request_free(again);
	/* An SMGW policy would refuse it: no GWA authorisation. */
	{
		struct request_verify_opts o = { .auth = REQUEST_AUTH_REQUIRED };

		expect(der, der_len, &o, PKI_FAILURE_AUTHORIZATION_SIGNATURE);
	}
	request_free(req);
	free(der);
	free(b64);
}

/* ------------------------------------------------------------------ our requests */

static void test_generated_initial(void **state)
{
	unsigned char *der = NULL;
	unsigned char *pem = NULL;
	char *b64 = NULL;
	size_t len = 0;
	struct request *req, *r2;
	const struct request_entry *e;
	struct tw_error err;
	BIO *bio;
	char *pem_data = NULL;
	long pem_len;

	(void)state;
	pki_fixture_gen_initial(&der, &len);
	req = expect(der, len, NULL, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_INITIAL);
	assert_int_equal(req->n_entries, 3);
	e = request_find(req, PKI_USAGE_SIG);
	assert_non_null(e);
	assert_int_equal(e->curve_nid, NID_brainpoolP384r1);
	assert_int_equal(EVP_PKEY_eq(e->public_key, fx.k_sig), 1);
	e = request_find(req, PKI_USAGE_TLS);
	assert_string_equal(e->dns_name, "maco.company.example");
	assert_string_equal(e->email, "test@company.example");
	assert_string_equal(e->uri, "https://maco.company.example:11111/maco");
	assert_int_equal(EVP_PKEY_eq(e->public_key, fx.k_tls), 1);
	e = request_find(req, PKI_USAGE_ENC);
	assert_null(e->dns_name);
	assert_false(req->signers_checked);

	/* base64 and PEM transport give the same request. */
	assert_int_equal(reqgen_base64(der, len, &b64, &err), TW_OK);
	r2 = expect((const unsigned char *)b64, strlen(b64), NULL, PKI_OK_SYNTAX);
	assert_memory_equal(r2->digest, req->digest, REQUEST_DIGEST_LEN);
	request_free(r2);
	bio = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio(bio, "CERTIFICATE REQUEST MESSAGES", "", der, (long)len) > 0);
	pem_len = BIO_get_mem_data(bio, &pem_data);
	pem = malloc((size_t)pem_len);
	memcpy(pem, pem_data, (size_t)pem_len);
	BIO_free(bio);
	r2 = expect(pem, (size_t)pem_len, NULL, PKI_OK_SYNTAX);
	assert_memory_equal(r2->digest, req->digest, REQUEST_DIGEST_LEN);
	request_free(r2);

	/* A fresh request for the same keys has fresh POPs and therefore a new digest. */
	{
		unsigned char *der2 = NULL;
		size_t len2 = 0;

		pki_fixture_gen_initial(&der2, &len2);
		r2 = expect(der2, len2, NULL, PKI_OK_SYNTAX);
		assert_memory_not_equal(r2->digest, req->digest, REQUEST_DIGEST_LEN);
		request_free(r2);
		free(der2);
	}
	request_free(req);
	free(pem);
	free(b64);
	free(der);
}

struct cb_state {
	int calls[3];
	tw_rc answer;
	X509 *seen;
};

static tw_rc check_cb(void *ctx, enum request_signer_role role, X509 *cert,
	const struct request *req, struct tw_error *err)
{
	struct cb_state *s = ctx;

	assert_non_null(req);
	assert_true(req->n_entries >= 1);
	s->calls[role]++;
	s->seen = cert;
	if (s->answer != TW_OK)
		return tw_error_set(err, s->answer, "certificate revoked (test)");
	return TW_OK;
}

static void test_generated_renewal(void **state)
{
	unsigned char *der = NULL;
	size_t len = 0;
	struct cb_state cb = { { 0, 0, 0 }, TW_OK, NULL };
	struct request_verify_opts o = { .trust = fx.trust, .check_signer = check_cb,
		.check_ctx = &cb };
	struct request *req;

	(void)state;
	gen_renewal(&fx.emt_sig, &der, &len);
	req = expect(der, len, &o, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_RENEWAL);
	assert_int_equal(req->n_entries, 3);
	assert_non_null(req->outer_signer);
	assert_int_equal(X509_cmp(req->outer_signer, fx.emt_sig.cert), 0);
	assert_true(req->signers_checked);
	assert_int_equal(cb.calls[REQUEST_SIGNER_OUTER], 1);
	assert_int_equal(cb.calls[REQUEST_SIGNER_AUTHORISATION], 0);
	request_free(req);

	/* The store says revoked: outer signature refused. A store failure: internal. */
	cb.answer = TW_E_DENIED;
	expect(der, len, &o, PKI_FAILURE_OUTER_SIGNATURE);
	cb.answer = TW_E_STORE;
	expect(der, len, &o, PKI_FAILURE_INTERNAL_ERROR);
	free(der);

	/* Signed by another participant's SIG certificate: subject mismatch. */
	cb.answer = TW_OK;
	gen_renewal(&fx.other_sig, &der, &len);
	expect(der, len, &o, PKI_FAILURE_OUTER_SIGNATURE);
	free(der);
	/* Same subject, but from a foreign CA: no chain to the trust store. */
	gen_renewal(&fx.foreign_sig, &der, &len);
	expect(der, len, &o, PKI_FAILURE_OUTER_SIGNATURE);
	/* Without trust store and callback the signature alone is checked. */
	req = expect(der, len, NULL, PKI_OK_SYNTAX);
	assert_false(req->signers_checked);
	request_free(req);
	free(der);
	/* A TLS certificate is not a SIG certificate. */
	gen_renewal(&fx.gwa_tls, &der, &len);
	expect(der, len, NULL, PKI_FAILURE_OUTER_SIGNATURE);
	free(der);
}

/* A key "held elsewhere" for reqgen's signing callback: signs with key, counts calls. */
struct held_key {
	EVP_PKEY *key;
	int calls;
};

static tw_rc held_sign(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	struct held_key *h = ctx;
	int bits = EVP_PKEY_get_bits(h->key);
	const EVP_MD *md = bits <= 256 ? EVP_sha256() : bits <= 384 ? EVP_sha384() : EVP_sha512();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	size_t n = 0;

	(void)err;
	h->calls++;
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, NULL, md, NULL, h->key), 1);
	assert_int_equal(EVP_DigestSign(mctx, NULL, &n, data, len), 1);
	assert_non_null(*sig = malloc(n));
	assert_int_equal(EVP_DigestSign(mctx, *sig, &n, data, len), 1);
	*sig_len = n;
	EVP_MD_CTX_free(mctx);
	return TW_OK;
}

/* The public half only, as the signer hands it out. */
static EVP_PKEY *public_only(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_PUBKEY(key, &der);
	EVP_PKEY *pub;

	assert_true(len > 0);
	p = der;
	assert_non_null(pub = d2i_PUBKEY(NULL, &p, len));
	OPENSSL_free(der);
	return pub;
}

/*
 * Keys held elsewhere (the GWA's signer, issue 12): every proof of possession and the
 * outer signature made by callbacks with public keys only; the CA's parser accepts the
 * renewal (chain, outer signer check), the outer SignedData carries signed attributes;
 * a callback that signs with another key is caught before the request leaves.
 */
static void test_held_keys(void **state)
{
	struct held_key tls = { fx.k_tls, 0 }, sig = { fx.k_sig, 0 }, enc = { fx.k_enc, 0 };
	struct held_key outer = { fx.emt_sig.key, 0 }, wrong = { fx.other_sig.key, 0 };
	EVP_PKEY *pubs[3] = { public_only(fx.k_tls), public_only(fx.k_sig),
		public_only(fx.k_enc) };
	EVP_PKEY *outer_pub = public_only(fx.emt_sig.key);
	struct cb_state cb = { { 0, 0, 0 }, TW_OK, NULL };
	struct request_verify_opts o = { .trust = fx.trust, .check_signer = check_cb,
		.check_ctx = &cb };
	struct reqgen_params p;
	struct request *req;
	struct tw_error err;
	unsigned char *der = NULL, *sd = NULL;
	size_t len = 0, sd_len = 0;
	char oid[64];

	(void)state;
	pki_fixture_params(&p);
	p.keys[PKI_USAGE_TLS] = p.keys[PKI_USAGE_SIG] = p.keys[PKI_USAGE_ENC] = NULL;
	p.held[PKI_USAGE_TLS] = (struct reqgen_signer){ pubs[0], held_sign, &tls };
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ pubs[1], held_sign, &sig };
	p.held[PKI_USAGE_ENC] = (struct reqgen_signer){ pubs[2], held_sign, &enc };
	p.outer_cert = fx.emt_sig.cert;
	p.outer_held = (struct reqgen_signer){ outer_pub, held_sign, &outer };
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_OK);
	assert_int_equal(tls.calls + sig.calls + enc.calls, 3);
	assert_int_equal(outer.calls, 1);
	req = expect(der, len, &o, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_RENEWAL);
	assert_int_equal(req->n_entries, 3);
	assert_int_equal(X509_cmp(req->outer_signer, fx.emt_sig.cert), 0);
	assert_true(req->signers_checked);
	assert_int_equal(EVP_PKEY_eq(request_find(req, PKI_USAGE_ENC)->public_key, fx.k_enc), 1);
	request_free(req);
	/* RFC 5652 5.3: signed attributes for an eContentType other than id-data. */
	assert_int_equal(request_unwrap(der, len, oid, sizeof(oid), &sd, &sd_len, &err), TW_OK);
	assert_string_equal(oid, REQUEST_OID_RENEWAL);
	{
		/* [0] SignedData back into a ContentInfo for OpenSSL's CMS parser. */
		unsigned char *ci = NULL;
		size_t ci_len = 0;
		const unsigned char *cp;
		CMS_ContentInfo *cms;
		CMS_SignerInfo *si;

		assert_int_equal(request_wrap("1.2.840.113549.1.7.2", sd, sd_len, &ci, &ci_len,
			&err), TW_OK);
		cp = ci;
		assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &cp, (long)ci_len));
		assert_non_null(si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
		assert_int_equal(CMS_signed_get_attr_count(si), 3);
		assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) >= 0);
		assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) >= 0);
		CMS_ContentInfo_free(cms);
		free(ci);
	}
	free(sd);
	free(der);
	der = NULL;

	/* Software keys and held keys mix; a key given both ways is a caller's bug. */
	p.keys[PKI_USAGE_TLS] = fx.k_tls;
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_E_INVALID);
	p.held[PKI_USAGE_TLS] = (struct reqgen_signer){ NULL, NULL, NULL };
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_OK);
	free(der);
	der = NULL;
	/* A signer that signs with another key: caught by the parse-back, nothing handed out. */
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ pubs[1], held_sign, &wrong };
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_E_CRYPTO);
	assert_null(der);
	assert_non_null(strstr(err.message, "does not verify"));
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ pubs[1], held_sign, &sig };
	/* The outer key must be the outer certificate's. */
	p.outer_held = (struct reqgen_signer){ pubs[1], held_sign, &sig };
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_E_INVALID);
	assert_null(der);
	/* The outer signature made with another key than the certificate's: caught too. */
	p.outer_held = (struct reqgen_signer){ outer_pub, held_sign, &wrong };
	assert_int_equal(reqgen_build(&p, false, &der, &len, &err), TW_E_CRYPTO);
	assert_null(der);

	for (int i = 0; i < 3; i++)
		EVP_PKEY_free(pubs[i]);
	EVP_PKEY_free(outer_pub);
}

static void test_smgw_authorised(void **state)
{
	unsigned char *der = NULL;
	unsigned char *auth = NULL;
	size_t len = 0, auth_len = 0;
	struct cb_state cb = { { 0, 0, 0 }, TW_OK, NULL };
	struct request_verify_opts o = { .trust = fx.trust, .check_signer = check_cb,
		.check_ctx = &cb, .auth = REQUEST_AUTH_REQUIRED };
	struct request_verify_opts forbid = { .auth = REQUEST_AUTH_FORBIDDEN };
	struct request *req, *plain;
	struct tw_error err;

	(void)state;
	pki_fixture_gen_initial(&der, &len);
	assert_int_equal(reqgen_authorise_key(fx.gwa_sig.key, fx.gwa_sig.cert, der, len, &auth,
		&auth_len, &err), TW_OK);
	req = expect(auth, auth_len, &o, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_INITIAL);
	assert_non_null(req->authoriser);
	assert_int_equal(X509_cmp(req->authoriser, fx.gwa_sig.cert), 0);
	assert_int_equal(cb.calls[REQUEST_SIGNER_AUTHORISATION], 1);
	/* The replay digest ignores the authorisation layer. */
	plain = expect(der, len, NULL, PKI_OK_SYNTAX);
	assert_memory_equal(plain->digest, req->digest, REQUEST_DIGEST_LEN);
	assert_memory_not_equal(plain->wire_digest, req->wire_digest, REQUEST_DIGEST_LEN);
	request_free(plain);
	request_free(req);
	/* Required but missing; present where forbidden; refused by the store. */
	expect(der, len, &o, PKI_FAILURE_AUTHORIZATION_SIGNATURE);
	expect(auth, auth_len, &forbid, PKI_FAILURE_INCORRECT_REQUEST);
	cb.answer = TW_E_DENIED;
	expect(auth, auth_len, &o, PKI_FAILURE_AUTHORIZATION_SIGNATURE);
	cb.answer = TW_OK;
	free(auth);
	free(der);

	/* An authorised renewal: both layers verify, both certificates are checked. */
	memset(cb.calls, 0, sizeof(cb.calls));
	gen_renewal(&fx.emt_sig, &der, &len);
	assert_int_equal(reqgen_authorise_key(fx.gwa_sig.key, fx.gwa_sig.cert, der, len, &auth,
		&auth_len, &err), TW_OK);
	req = expect(auth, auth_len, &o, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_RENEWAL);
	assert_non_null(req->outer_signer);
	assert_non_null(req->authoriser);
	assert_int_equal(cb.calls[REQUEST_SIGNER_OUTER], 1);
	assert_int_equal(cb.calls[REQUEST_SIGNER_AUTHORISATION], 1);
	request_free(req);
	free(auth);
	/* The key must match the certificate; a TLS certificate does not authorise. */
	assert_int_equal(reqgen_authorise_key(fx.emt_sig.key, fx.gwa_sig.cert, der, len, &auth,
		&auth_len, &err), TW_E_INVALID);
	assert_int_equal(reqgen_authorise_key(fx.gwa_tls.key, fx.gwa_tls.cert, der, len, &auth,
		&auth_len, &err), TW_OK);
	expect(auth, auth_len, NULL, PKI_FAILURE_AUTHORIZATION_SIGNATURE);
	free(auth);
	free(der);
}

/* ------------------------------------------------------------------ bad input */

static void test_bad_syntax(void **state)
{
	unsigned char *der = NULL;
	unsigned char *big;
	size_t len = 0;
	enum pki_result got;
	struct request *req = NULL;
	struct tw_error err;

	(void)state;
	pki_fixture_gen_initial(&der, &len);
	/* Every truncation is a syntax error (and never a crash or an accept). */
	for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 13))
		expect(der, cut == 0 ? 1 : cut, NULL, PKI_FAILURE_SYNTAX);
	/* Trailing garbage. */
	big = malloc(REQUEST_MAX_BYTES + 1);
	memcpy(big, der, len);
	big[len] = 0x00;
	expect(big, len + 1, NULL, PKI_FAILURE_SYNTAX);
	/* Over 64 KiB: failure_syntax with TW_E_TOO_LARGE, before any parsing. */
	memset(big, 'A', REQUEST_MAX_BYTES + 1);
	memcpy(big, der, len);
	assert_int_equal(request_parse(big, REQUEST_MAX_BYTES + 1, NULL, &req, &got, &err),
		TW_E_TOO_LARGE);
	assert_int_equal(got, PKI_FAILURE_SYNTAX);
	assert_null(req);
	free(big);
	/* Not base64, not PEM, empty. */
	expect((const unsigned char *)"hello world", 11, NULL, PKI_FAILURE_SYNTAX);
	expect((const unsigned char *)"-----BEGIN X-----\nzz\n", 21, NULL, PKI_FAILURE_SYNTAX);
	expect((const unsigned char *)"  \n", 3, NULL, PKI_FAILURE_SYNTAX);
	assert_int_equal(request_parse((const unsigned char *)"", 0, NULL, &req, &got, &err),
		TW_E_INVALID);
	free(der);
}

static void test_bad_wrapper_oid(void **state)
{
	unsigned char *der = NULL, *msgs = NULL, *wrong = NULL;
	size_t len = 0, msgs_len = 0, wrong_len = 0;
	char oid[64];
	struct tw_error err;

	(void)state;
	pki_fixture_gen_initial(&der, &len);
	assert_int_equal(request_unwrap(der, len, oid, sizeof(oid), &msgs, &msgs_len, &err), TW_OK);
	assert_string_equal(oid, REQUEST_OID_INITIAL);
	assert_int_equal(request_wrap("0.4.0.127.0.7.4.1.1.9", msgs, msgs_len, &wrong, &wrong_len,
		&err), TW_OK);
	expect(wrong, wrong_len, NULL, PKI_FAILURE_SYNTAX);
	free(wrong);
	/* Initial OID around a SignedData, renewal OID around bare CertReqMessages. */
	assert_int_equal(request_wrap(REQUEST_OID_RENEWAL, msgs, msgs_len, &wrong, &wrong_len,
		&err), TW_OK);
	expect(wrong, wrong_len, NULL, PKI_FAILURE_SYNTAX);
	free(wrong);
	/* A renewal whose SignedData is valid but signs id-data instead of bsiCertReqMsgs. */
	{
		BIO *in = BIO_new_mem_buf(msgs, (int)msgs_len);
		CMS_ContentInfo *cms = CMS_sign(fx.emt_sig.cert, fx.emt_sig.key, NULL, in,
			CMS_BINARY);
		unsigned char *ci = NULL, *sd = NULL;
		size_t sd_len = 0;
		int ci_len;

		assert_non_null(cms);
		ci_len = i2d_CMS_ContentInfo(cms, &ci);
		assert_true(ci_len > 0);
		assert_int_equal(request_unwrap(ci, (size_t)ci_len, oid, sizeof(oid), &sd, &sd_len,
			&err), TW_OK);
		assert_int_equal(request_wrap(REQUEST_OID_RENEWAL, sd, sd_len, &wrong, &wrong_len,
			&err), TW_OK);
		expect(wrong, wrong_len, NULL, PKI_FAILURE_SYNTAX);
		/* As an authorisation layer: it must wrap a BSI wrapper, not bare messages. */
		free(wrong);
		expect(ci, (size_t)ci_len, NULL, PKI_FAILURE_SYNTAX);
		OPENSSL_free(ci);
		free(sd);
		CMS_ContentInfo_free(cms);
		BIO_free(in);
	}
	/* Bare CertReqMessages without a wrapper. */
	expect(msgs, msgs_len, NULL, PKI_FAILURE_SYNTAX);
	free(msgs);
	free(der);
}

static void test_bad_entries(void **state)
{
	unsigned char *der = NULL, *msgs_der = NULL, *two = NULL, *re = NULL;
	const unsigned char *p;
	size_t len = 0, msgs_len = 0, two_len = 0;
	OSSL_CRMF_MSGS *msgs;
	char oid[64];
	int re_len;
	struct tw_error err;
	struct reqgen_params prm;

	(void)state;
	/* Two CertReqMsgs in an initial request. */
	pki_fixture_gen_initial(&der, &len);
	assert_int_equal(request_unwrap(der, len, oid, sizeof(oid), &msgs_der, &msgs_len, &err),
		TW_OK);
	p = msgs_der;
	msgs = d2i_OSSL_CRMF_MSGS(NULL, &p, (long)msgs_len);
	assert_non_null(msgs);
	OSSL_CRMF_MSG_free(sk_OSSL_CRMF_MSG_pop(msgs));
	re_len = i2d_OSSL_CRMF_MSGS(msgs, &re);
	assert_true(re_len > 0);
	assert_int_equal(request_wrap(REQUEST_OID_INITIAL, re, (size_t)re_len, &two, &two_len,
		&err), TW_OK);
	expect(two, two_len, NULL, PKI_FAILURE_INCORRECT_REQUEST);
	free(two);
	OPENSSL_free(re);
	re = NULL;
	/* The same type twice: duplicate the first entry over the popped one. */
	assert_true(sk_OSSL_CRMF_MSG_push(msgs, OSSL_CRMF_MSG_dup(sk_OSSL_CRMF_MSG_value(msgs,
		0))) > 0);
	re_len = i2d_OSSL_CRMF_MSGS(msgs, &re);
	assert_int_equal(request_wrap(REQUEST_OID_INITIAL, re, (size_t)re_len, &two, &two_len,
		&err), TW_OK);
	expect(two, two_len, NULL, PKI_FAILURE_INCORRECT_REQUEST);
	free(two);
	OPENSSL_free(re);
	re = NULL;   /* i2d writes into a non-NULL *out */
	OSSL_CRMF_MSGS_free(msgs);
	free(msgs_der);
	free(der);

	/* A dNSName in the SIG CertReqMsg (POP re-made, so only the SAN is wrong). */
	pki_fixture_gen_initial(&der, &len);
	assert_int_equal(request_unwrap(der, len, oid, sizeof(oid), &msgs_der, &msgs_len, &err),
		TW_OK);
	p = msgs_der;
	msgs = d2i_OSSL_CRMF_MSGS(NULL, &p, (long)msgs_len);
	assert_non_null(msgs);
	{
		OSSL_CRMF_MSG *sig = sk_OSSL_CRMF_MSG_value(msgs, 1);   /* order ENC, SIG, TLS */
		X509_EXTENSIONS *exts = sk_X509_EXTENSION_new_null();
		GENERAL_NAMES *san = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();

		assert_int_equal(ASN1_STRING_set(ia5, "sig.example", -1), 1);
		GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
		assert_true(sk_GENERAL_NAME_push(san, gn) > 0);
		assert_int_equal(ASN1_BIT_STRING_set_bit(ku, 0, 1), 1);
		assert_int_equal(X509V3_add1_i2d(&exts, NID_key_usage, ku, 0, X509V3_ADD_APPEND), 1);
		assert_int_equal(X509V3_add1_i2d(&exts, NID_subject_alt_name, san, 0,
			X509V3_ADD_APPEND), 1);
		assert_int_equal(OSSL_CRMF_MSG_set0_extensions(sig, exts), 1);
		assert_int_equal(OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, sig, fx.k_sig,
			EVP_sha384(), NULL, NULL), 1);
		GENERAL_NAMES_free(san);
		ASN1_BIT_STRING_free(ku);
	}
	re_len = i2d_OSSL_CRMF_MSGS(msgs, &re);
	assert_true(re_len > 0);
	assert_int_equal(request_wrap(REQUEST_OID_INITIAL, re, (size_t)re_len, &two, &two_len,
		&err), TW_OK);
	expect(two, two_len, NULL, PKI_FAILURE_INCORRECT_REQUEST);
	free(two);
	OPENSSL_free(re);
	re = NULL;
	OSSL_CRMF_MSGS_free(msgs);
	free(msgs_der);
	free(der);

	/* A P-256 key: domain parameters. */
	pki_fixture_params(&prm);
	prm.keys[PKI_USAGE_SIG] = fx.k_p256;
	assert_int_equal(reqgen_build(&prm, false, &der, &len, &err), TW_E_INVALID);
	pki_fixture_gen(&prm, true, &der, &len);
	expect(der, len, NULL, PKI_FAILURE_DOMAIN_PARAMETERS);
	free(der);
}

/* Flip the last byte: the last ECDSA signature's s (POP, outer or authorisation). */
static void flip_last(unsigned char *der, size_t len)
{
	der[len - 1] ^= 0x01;
}

static void test_bad_signatures(void **state)
{
	unsigned char *der = NULL, *auth = NULL;
	size_t len = 0, auth_len = 0;
	struct tw_error err;

	(void)state;
	/* POP of the last CertReqMsg (TLS). */
	pki_fixture_gen_initial(&der, &len);
	flip_last(der, len);
	expect(der, len, NULL, PKI_FAILURE_INNER_SIGNATURE);
	free(der);
	/* The renewal's outer SignedData. */
	gen_renewal(&fx.emt_sig, &der, &len);
	flip_last(der, len);
	expect(der, len, NULL, PKI_FAILURE_OUTER_SIGNATURE);
	free(der);
	/* The GWA authorisation. */
	pki_fixture_gen_initial(&der, &len);
	assert_int_equal(reqgen_authorise_key(fx.gwa_sig.key, fx.gwa_sig.cert, der, len, &auth,
		&auth_len, &err), TW_OK);
	flip_last(auth, auth_len);
	expect(auth, auth_len, NULL, PKI_FAILURE_AUTHORIZATION_SIGNATURE);
	free(auth);
	free(der);
}

/*
 * A requested key whose point is not on its curve is refused (domain parameters), on the
 * path that builds request keys from a per-curve template (request_curve_params) as on
 * the general one; the same curves' good keys still come out equal to the generated ones.
 */
static void test_key_off_curve(void **state)
{
	unsigned char *der = NULL, *pt = NULL;
	size_t len = 0, plen;
	struct request *req;
	bool hit = false;

	(void)state;
	pki_fixture_gen_initial(&der, &len);
	req = expect(der, len, NULL, PKI_OK_SYNTAX);
	assert_int_equal(EVP_PKEY_eq(request_find(req, PKI_USAGE_TLS)->public_key, fx.k_tls), 1);
	request_free(req);
	plen = EVP_PKEY_get1_encoded_public_key(fx.k_tls, &pt);
	assert_true(plen > 1);
	for (size_t i = 0; i + plen <= len && !hit; i++) {
		if (memcmp(der + i, pt, plen) == 0) {
			der[i + plen - 1] ^= 0x01;   /* y off by one: not on the curve */
			hit = true;
		}
	}
	assert_true(hit);
	expect(der, len, NULL, PKI_FAILURE_DOMAIN_PARAMETERS);
	OPENSSL_free(pt);
	free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_reference_request),
		cmocka_unit_test(test_generated_initial),
		cmocka_unit_test(test_generated_renewal),
		cmocka_unit_test(test_held_keys),
		cmocka_unit_test(test_smgw_authorised),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_bad_wrapper_oid),
		cmocka_unit_test(test_bad_entries),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_key_off_curve),
	};

	return cmocka_run_group_tests(tests, pki_fixture_setup, pki_fixture_teardown);
}
