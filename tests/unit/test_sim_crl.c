/*
 * test_sim_crl.c: a peer's certificate carried in a profile (issue 12, UC-3.3.3):
 *   - the GWA's schema (gwa/profile.h): tls_cert / emt_tls_cert must be one certificate
 *     in base64 DER whose SHA-256 fingerprint is the profile's fingerprint member;
 *   - the simulated gateway's revocation check (sim/sim_crl_check.h) against the CRLs it
 *     holds: untrusted, no CRL, stale CRL (TR-03109-4: nextUpdate passed), revoked, good;
 *     and the profile-insert order refusing a revoked EMT with nothing changed.
 * A throw-away root CA and CRLs are made here with OpenSSL in a mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/profile.h"
#include "sim/sim_crl_check.h"
#include "sim/sim_orders.h"

#define GW "SMGW-CRL-0001"
#define EMT "9900000000007"

struct fx {
	char dir[64];
	EVP_PKEY *root_key, *other_key, *leaf_key;
	X509 *root, *other_root, *leaf, *foreign;
};

static X509 *make_cert(const char *cn, long serial, EVP_PKEY *pub, X509 *issuer,
	EVP_PKEY *issuer_key, bool ca)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
		ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (ca) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

/* A CRL of issuer with nextUpdate next_s from now, revoking serial (0 = none). */
static char *make_crl_b64(X509 *issuer, EVP_PKEY *key, long next_s, long serial, long number)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	unsigned char *der = NULL;
	char *b64;
	int len;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer));
	X509_gmtime_adj(t, -7200);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, next_s);
	X509_CRL_set1_nextUpdate(crl, t);
	if (serial != 0) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();

		ASN1_INTEGER_set(sn, serial);
		X509_REVOKED_set_serialNumber(r, sn);
		X509_gmtime_adj(t, -60);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
	}
	ASN1_INTEGER_set(num, number);
	X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	len = i2d_X509_CRL(crl, &der);
	assert_true(len > 0);
	b64 = calloc(1, (size_t)len * 2 + 8);
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	OPENSSL_free(der);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return b64;
}

static char *cert_b64(X509 *x)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);
	char *b64 = calloc(1, (size_t)len * 2 + 8);

	EVP_EncodeBlock((unsigned char *)b64, der, len);
	OPENSSL_free(der);
	return b64;
}

static void cert_fp(X509 *x, char out[65])
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	int len = i2d_X509(x, &der);

	EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
}

static void write_pem(const char *dir, const char *file, X509 *x)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_non_null(f = fopen(path, "w"));
	if (x != NULL)
		assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct tw_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/torwart-simcrl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &f->root_key, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &f->other_key, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &f->leaf_key, &err), TW_OK);
	f->root = make_cert("Test Root", 1, f->root_key, NULL, f->root_key, true);
	f->other_root = make_cert("Other Root", 1, f->other_key, NULL, f->other_key, true);
	f->leaf = make_cert("X.EMT.IT", 77, f->leaf_key, f->root, f->root_key, false);
	f->foreign = make_cert("Y.EMT.IT", 78, f->leaf_key, f->other_root, f->other_key, false);
	write_pem(f->dir, "root-ca.crt", f->root);
	write_pem(f->dir, "chain.pem", NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	X509_free(f->root);
	X509_free(f->other_root);
	X509_free(f->leaf);
	X509_free(f->foreign);
	EVP_PKEY_free(f->root_key);
	EVP_PKEY_free(f->other_key);
	EVP_PKEY_free(f->leaf_key);
	free(f);
	return 0;
}

static char *wan_doc(const char *fp, const char *b64)
{
	return tw_asprintf("{\"profile_id\":\"wan-x\",\"type\":\"wan\",\"recipient\":\"" EMT "\","
		"\"address\":\"emt.example:443\",\"tls_cert_fingerprint\":\"%s\",\"tls_cert\":\"%s\","
		"\"retries\":3,\"retry_interval_s\":60}", fp, b64);
}

static void test_schema(void **state)
{
	struct fx *f = *state;
	struct profile_doc *doc = NULL;
	struct tw_error err;
	char fp[65], other_fp[65], *b64 = cert_b64(f->leaf), *d, upper[65];

	cert_fp(f->leaf, fp);
	cert_fp(f->foreign, other_fp);
	/* The certificate of the fingerprint (in either case of hex digits): accepted. */
	d = wan_doc(fp, b64);
	assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_OK);
	assert_string_equal(profile_peer_cert(doc), b64);
	assert_string_equal(profile_peer_id(doc), EMT);
	profile_doc_free(doc);
	free(d);
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)(fp[i] >= 'a' && fp[i] <= 'f' ? fp[i] - 32 : fp[i]);
	d = wan_doc(upper, b64);
	assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_OK);
	profile_doc_free(doc);
	free(d);
	/* Another certificate's fingerprint: refused, naming the member. */
	d = wan_doc(other_fp, b64);
	assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "\"tls_cert\" is not the certificate"));
	free(d);
	/* Not base64, not a certificate, a certificate with bytes after it. */
	{
		const char *bad[] = { "!!!!notbase64!!!!", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY",
			"=QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" };
		for (size_t i = 0; i < 3; i++) {
			d = wan_doc(fp, bad[i]);
			assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_E_INVALID);
			free(d);
		}
	}
	{
		unsigned char *der = NULL, *more;
		int len = i2d_X509(f->leaf, &der);
		char *b = calloc(1, (size_t)len * 2 + 16);

		more = malloc((size_t)len + 3);
		memcpy(more, der, (size_t)len);
		memcpy(more + len, "\0\0\0", 3);
		EVP_EncodeBlock((unsigned char *)b, more, len + 3);
		d = wan_doc(fp, b);
		assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_E_INVALID);
		free(d);
		free(b);
		free(more);
		OPENSSL_free(der);
	}
	/* The proxy profile's member. */
	d = tw_asprintf("{\"profile_id\":\"p\",\"type\":\"proxy\",\"cls_id\":\"CLS-1\","
		"\"cls_address\":\"10.0.0.2:502\",\"emt\":\"" EMT "\",\"emt_address\":\"e.example:443\","
		"\"emt_tls_cert_fingerprint\":\"%s\",\"emt_tls_cert\":\"%s\",\"max_session_s\":60}",
		fp, b64);
	assert_int_equal(profile_parse(d, strlen(d), &doc, &err), TW_OK);
	assert_string_equal(profile_peer_cert(doc), b64);
	profile_doc_free(doc);
	free(d);
	free(b64);
}

/* gw.state "crls" holding one CRL of the test root. */
static void hold_crl(json_t *state, char *b64)
{
	json_object_set_new(state, "crls", json_pack("{s:{s:i,s:s}}", "/CN=Test Root", "number",
		1, "der", b64));
	free(b64);
}

static void test_gateway_check(void **state)
{
	struct fx *f = *state;
	struct sim_gw gw = { .dir = f->dir, .id = GW };
	struct tw_error err;
	const char *code = NULL;
	json_t *result = NULL, *before, *order;
	char fp[65], *b64 = cert_b64(f->leaf), *d;

	gw.state = json_object();
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &gw.sig_key, &err), TW_OK);
	/* No CRL held: the revocation status is unknown, refused. */
	assert_int_equal(sim_crl_check_peer(&gw, f->leaf, "EMT " EMT, &code, &err), TW_E_DENIED);
	assert_string_equal(code, "crl_missing");
	/* A certificate of another root: untrusted, whatever the CRLs say. */
	hold_crl(gw.state, make_crl_b64(f->root, f->root_key, 86400, 0, 1));
	assert_int_equal(sim_crl_check_peer(&gw, f->foreign, "EMT Y", &code, &err), TW_E_DENIED);
	assert_string_equal(code, "certificate_untrusted");
	/* A current CRL without it: good. */
	code = NULL;
	assert_int_equal(sim_crl_check_peer(&gw, f->leaf, "EMT " EMT, &code, &err), TW_OK);
	/* A CRL past its nextUpdate (TR-03109-4): refused as stale even though it is clean. */
	hold_crl(gw.state, make_crl_b64(f->root, f->root_key, -60, 0, 2));
	assert_int_equal(sim_crl_check_peer(&gw, f->leaf, "EMT " EMT, &code, &err), TW_E_DENIED);
	assert_string_equal(code, "crl_stale");
	/* A current CRL revoking serial 77: revoked, with the serial in the message. */
	hold_crl(gw.state, make_crl_b64(f->root, f->root_key, 86400, 77, 3));
	assert_int_equal(sim_crl_check_peer(&gw, f->leaf, "EMT " EMT, &code, &err), TW_E_DENIED);
	assert_string_equal(code, "certificate_revoked");
	assert_non_null(strstr(err.message, "4D"));   /* serial 77 in hex */
	/* The profile-insert order: refused, the gateway's state unchanged. */
	cert_fp(f->leaf, fp);
	d = wan_doc(fp, b64);
	before = json_deep_copy(gw.state);
	order = json_pack("{s:s,s:o}", "gateway_id", GW, "profile", json_loads(d, 0, NULL));
	assert_non_null(order);
	assert_int_not_equal(sim_order_execute(&gw, "profile-insert", order, &result, &code,
		&err), TW_OK);
	assert_string_equal(code, "certificate_revoked");
	assert_true(json_equal(before, gw.state));
	/* A current CRL that revokes another serial: the order is accepted. */
	hold_crl(gw.state, make_crl_b64(f->root, f->root_key, 86400, 78, 4));
	assert_int_equal(sim_order_execute(&gw, "profile-insert", order, &result, &code, &err),
		TW_OK);
	json_decref(result);
	json_decref(order);
	/* That profile held, nothing revoked: no partner to report; then a CRL revoking 77. */
	{
		json_t *list = sim_crl_revoked_partners(&gw);

		assert_int_equal(json_array_size(list), 0);
		json_decref(list);
		hold_crl(gw.state, make_crl_b64(f->root, f->root_key, 86400, 77, 5));
		list = sim_crl_revoked_partners(&gw);
		assert_int_equal(json_array_size(list), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0),
			"profile_id")), "wan-x");
		assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0),
			"serial")), "4D");
		json_decref(list);
	}
	/* Garbage where a certificate should be (only a bypassed GWA could send it). */
	assert_int_equal(sim_crl_check_peer_b64(&gw, "QUJD", "EMT " EMT, &code, &err),
		TW_E_INVALID);
	assert_string_equal(code, "invalid_certificate");
	json_decref(before);
	json_decref(gw.state);
	EVP_PKEY_free(gw.sig_key);
	free(d);
	free(b64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_check, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
