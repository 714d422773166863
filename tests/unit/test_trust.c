/*
 * test_trust.c: trust across the SM-PKI (src/pki/trust.c), the parts that decide on bytes
 * from outside: a CRL from a distribution point is taken only when a trusted CA of its
 * issuer's name signed it with its own key (two test CAs share one name), it is a full
 * CRL, its times make sense; a trust set refuses a Sub-CA that does not chain to an
 * anchor. The fetching and the edges run for real in tests/integration/trust.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/keys.h"
#include "pki/trust.h"

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A CA certificate named cn, signed by parent (NULL: self-signed). */
static void make_ca(struct ca *c, const char *cn, const struct ca *parent)
{
	X509_NAME *name = X509_NAME_new();
	static long serial = 1;

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &c->key, NULL), TW_OK);
	c->cert = X509_new();
	X509_set_version(c->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c->cert), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c->cert, name);
	X509_set_issuer_name(c->cert, parent != NULL ? X509_get_subject_name(parent->cert) : name);
	X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c->cert), 86400L * 365);
	X509_set_pubkey(c->cert, c->key);
	add_ext(c->cert, parent != NULL ? parent->cert : c->cert, NID_basic_constraints,
		"critical,CA:TRUE");
	add_ext(c->cert, parent != NULL ? parent->cert : c->cert, NID_key_usage,
		"critical,keyCertSign,cRLSign");
	add_ext(c->cert, c->cert, NID_subject_key_identifier, "hash");
	/* As in real certificates: lets chain building tell same-named CAs apart. */
	if (parent != NULL)
		add_ext(c->cert, parent->cert, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(c->cert, parent != NULL ? parent->key : c->key, EVP_sha256()) > 0);
	X509_NAME_free(name);
}

static void ca_free(struct ca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

/* A CRL of issuer (name), signed by key, this/next update relative to now, number n. */
static unsigned char *make_crl(const struct ca *issuer, EVP_PKEY *key, long this_off,
	long next_off, long n, bool delta, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	int l;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->cert));
	X509_gmtime_adj(t, this_off);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, next_off);
	X509_CRL_set1_nextUpdate(crl, t);
	ASN1_INTEGER_set(num, n);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	if (delta)
		X509_CRL_add1_ext_i2d(crl, NID_delta_crl, num, 1, 0);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	l = i2d_X509_CRL(crl, &der);
	assert_true(l > 0);
	*len = (size_t)l;
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return der;
}

static void test_crl_check(void **state)
{
	struct ca root, sub, root2, sub2;
	STACK_OF(X509) *anchors = sk_X509_new_null(), *cas = sk_X509_new_null();
	struct trust_set *ts = NULL;
	struct trust_crl_info info, info2;
	struct tw_error err;
	unsigned char *der;
	size_t len;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	make_ca(&root, "TEST-ROOT.CA", NULL);
	make_ca(&sub, "TEST.CA", &root);
	/* Another Root and Sub-CA with the same names, as two test homes have. */
	make_ca(&root2, "TEST-ROOT.CA", NULL);
	make_ca(&sub2, "TEST.CA", &root2);
	sk_X509_push(anchors, root.cert);
	sk_X509_push(anchors, root2.cert);
	sk_X509_push(cas, sub.cert);
	sk_X509_push(cas, sub2.cert);
	assert_int_equal(trust_set_new(anchors, cas, &ts, &err), TW_OK);

	der = make_crl(&sub, sub.key, -60, 86400, 5, false, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info, &err), TW_OK);
	assert_int_equal(info.number, 5);
	assert_true(info.next_update > info.this_update);
	assert_non_null(strstr(info.issuer, "CN=TEST.CA #"));
	/* One byte more or less: not one DER CRL. */
	assert_int_equal(trust_crl_check(ts, der, len - 1, now, &info2, &err), TW_E_INVALID);
	OPENSSL_free(der);
	/* The same name, the other key: accepted, but keyed by that other CA. */
	der = make_crl(&sub2, sub2.key, -60, 86400, 1, false, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info2, &err), TW_OK);
	assert_string_not_equal(info.issuer, info2.issuer);
	OPENSSL_free(der);
	/* A key that belongs to no trusted CA of that name. */
	der = make_crl(&sub, root.key, -60, 86400, 6, false, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info2, &err), TW_E_CRYPTO);
	OPENSSL_free(der);
	/* A delta CRL, a CRL from the future, nextUpdate before thisUpdate. */
	der = make_crl(&sub, sub.key, -60, 86400, 7, true, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info2, &err), TW_E_INVALID);
	OPENSSL_free(der);
	der = make_crl(&sub, sub.key, 3600, 86400, 8, false, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info2, &err), TW_E_INVALID);
	OPENSSL_free(der);
	der = make_crl(&sub, sub.key, -60, -120, 9, false, &len);
	assert_int_equal(trust_crl_check(ts, der, len, now, &info2, &err), TW_E_INVALID);
	OPENSSL_free(der);
	assert_int_equal(trust_crl_check(ts, (const unsigned char *)"junk", 4, now, &info2, &err),
		TW_E_INVALID);
	trust_set_free(ts);
	sk_X509_free(anchors);
	sk_X509_free(cas);
	ca_free(&root);
	ca_free(&sub);
	ca_free(&root2);
	ca_free(&sub2);
}

static void test_set_refuses_unchained(void **state)
{
	struct ca root, other, sub;
	STACK_OF(X509) *anchors = sk_X509_new_null(), *cas = sk_X509_new_null();
	struct trust_set *ts = NULL;
	struct tw_error err;

	(void)state;
	make_ca(&root, "ROOT-A", NULL);
	make_ca(&other, "ROOT-B", NULL);
	make_ca(&sub, "SUB-B", &other);
	sk_X509_push(anchors, root.cert);
	sk_X509_push(cas, sub.cert);
	assert_int_equal(trust_set_new(anchors, cas, &ts, &err), TW_E_CONFIG);
	assert_null(ts);
	assert_non_null(strstr(err.message, "[trust] cas"));
	/* A non-self-signed anchor is no Root. */
	sk_X509_pop(anchors);
	sk_X509_push(anchors, sub.cert);
	sk_X509_pop(cas);
	assert_int_equal(trust_set_new(anchors, cas, &ts, &err), TW_E_CONFIG);
	sk_X509_free(anchors);
	sk_X509_free(cas);
	ca_free(&root);
	ca_free(&other);
	ca_free(&sub);
}

/* A participant's leaf certificate of issuer: CN, OU (NULL: none), EKU (NULL: none). */
static X509 *make_leaf(const struct ca *issuer, const char *cn, const char *ou,
	const char *eku)
{
	X509_NAME *name = X509_NAME_new();
	EVP_PKEY *key = NULL;
	X509 *x = X509_new();

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &key, NULL), TW_OK);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	if (ou != NULL)
		X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1,
			-1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, X509_get_subject_name(issuer->cert));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	if (eku != NULL)
		add_ext(x, issuer->cert, NID_ext_key_usage, eku);
	assert_true(X509_sign(x, issuer->key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	EVP_PKEY_free(key);
	return x;
}

/*
 * trust_check_participant's decisions before the CRL (the CRL part is trust_check, run
 * for real in tests/integration/trust_sites.sh): no trust set or an issuer outside it is
 * "not found" (the edge's own refusal), the SM-PKI naming, the role and the TLS usage.
 */
static void test_participant(void **state)
{
	struct ca root, sub, stranger;
	STACK_OF(X509) *anchors = sk_X509_new_null(), *cas = sk_X509_new_null();
	struct trust_set *ts = NULL;
	struct trust_participant tp;
	struct tw_error err;
	X509 *x;

	(void)state;
	make_ca(&root, "P-ROOT.CA", NULL);
	make_ca(&sub, "P.CA", &root);
	make_ca(&stranger, "STRANGER.CA", NULL);
	sk_X509_push(anchors, root.cert);
	sk_X509_push(cas, sub.cert);
	assert_int_equal(trust_set_new(anchors, cas, &ts, &err), TW_OK);
	x = make_leaf(&sub, "X.EMT.UNIT", "9900000000071", "clientAuth,serverAuth");
	assert_int_equal(trust_check_participant(NULL, NULL, x, "EMT", 0, &tp, &err),
		TW_E_NOT_FOUND);
	assert_int_equal(trust_check_participant(NULL, ts, x, "GWA", 0, &tp, &err),
		TW_E_DENIED);
	assert_string_equal(tp.role, "EMT");
	assert_string_equal(tp.mp_id, "9900000000071");
	assert_string_equal(tp.ca, "P.CA");
	X509_free(x);
	x = make_leaf(&stranger, "X.EMT.UNIT", "9900000000071", "clientAuth");
	assert_int_equal(trust_check_participant(NULL, ts, x, NULL, 0, &tp, &err),
		TW_E_NOT_FOUND);
	X509_free(x);
	x = make_leaf(&sub, "NO-ROLE", "9900000000071", "clientAuth");
	assert_int_equal(trust_check_participant(NULL, ts, x, NULL, 0, &tp, &err), TW_E_DENIED);
	X509_free(x);
	x = make_leaf(&sub, "X.SMGW.UNIT", "9900000000071", "clientAuth");
	assert_int_equal(trust_check_participant(NULL, ts, x, NULL, 0, &tp, &err), TW_E_DENIED);
	X509_free(x);
	x = make_leaf(&sub, "X.EMT.UNIT", NULL, "clientAuth");
	assert_int_equal(trust_check_participant(NULL, ts, x, "EMT", 0, &tp, &err), TW_E_DENIED);
	X509_free(x);
	x = make_leaf(&sub, "X.EMT.UNIT", "9900000000071", NULL);      /* SIG/ENC: no EKU */
	assert_int_equal(trust_check_participant(NULL, ts, x, "EMT", 0, &tp, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "not a TLS"));
	X509_free(x);
	x = make_leaf(&sub, "X.EMT.UNIT", "9900000000071", "codeSigning");
	assert_int_equal(trust_check_participant(NULL, ts, x, "EMT", 0, &tp, &err), TW_E_DENIED);
	X509_free(x);
	trust_set_free(ts);
	sk_X509_free(anchors);
	sk_X509_free(cas);
	ca_free(&root);
	ca_free(&sub);
	ca_free(&stranger);
}

/* The ldap:// distribution point check (trust_ldap_target_parse). */
static void test_ldap_target(void **state)
{
	struct trust_ldap_target t;
	struct tw_error err;
	static const char *const bad[] = {
		"http://h/cn=x",
		"ldaps://h/cn=x?certificateRevocationList",
		"ldap:///cn=x?certificateRevocationList",
		"ldap://h/?certificateRevocationList",
		"ldap://h/cn=x?certificateRevocationList?sub",
		"ldap://h/cn=x?certificateRevocationList,cACertificate",
		"ldap://h/cn=x?userCertificate",
		"ldap://h/cn=x?certificateRevocationList?base?\?!x-critical=1",
		"not a url",
		"",
		NULL,
	};

	(void)state;
	/* The real certificate's distribution point (reference/sm-pki/real-emt-tls.cer). */
	assert_int_equal(trust_ldap_target_parse("ldap://ldap.sub-ca.da-rz.net/serialNumber=4,"
		"cn=DARZ.CA,o=SM-PKI-DE,c=DE,dc=darz,dc=de?certificateRevocationList", &t, &err),
		TW_OK);
	assert_string_equal(t.uri, "ldap://ldap.sub-ca.da-rz.net:389");
	assert_string_equal(t.dn, "serialNumber=4,cn=DARZ.CA,o=SM-PKI-DE,c=DE,dc=darz,dc=de");
	assert_string_equal(t.attr, "certificateRevocationList");
	assert_int_equal(trust_ldap_target_parse("ldap://127.0.0.1:3890/cn=R,c=DE?"
		"authorityRevocationList;binary?base", &t, &err), TW_OK);
	assert_string_equal(t.uri, "ldap://127.0.0.1:3890");
	assert_string_equal(t.attr, "authorityRevocationList");
	assert_int_equal(trust_ldap_target_parse("ldap://h/cn=x", &t, &err), TW_OK);
	assert_string_equal(t.attr, "certificateRevocationList");
	for (int i = 0; bad[i] != NULL; i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(trust_ldap_target_parse(bad[i], &t, &err), TW_E_INVALID);
		assert_true(err.message[0] != '\0');
	}
	assert_int_equal(trust_ldap_target_parse(NULL, &t, &err), TW_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crl_check),
		cmocka_unit_test(test_set_refuses_unchained),
		cmocka_unit_test(test_participant),
		cmocka_unit_test(test_ldap_target),
	};

	return cmocka_run_group_tests_name("trust", tests, NULL, NULL);
}
