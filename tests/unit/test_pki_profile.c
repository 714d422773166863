/*
 * test_pki_profile.c: unit tests of the SM-PKI certificate profiles and the per-CA
 * configuration: TLS/SIG/ENC certificates of every role (GWA, GWH, EMT, SMGW) issued
 * from a verified request and compared with the real SM-PKI certificates in
 * $TORWART_SHARED/reference/sm-pki (or, without ../shared, with the expectation checked
 * in here); [ca.<name>] loading; role/usage names. Requests themselves: test_pki.c.
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
#include <time.h>

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
#include "sm_pki_expect.h"

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

/* ------------------------------------------------------------------ CA configuration */

static void test_ca_config(void **state)
{
	static const char conf_text[] =
		"[pki]\n"
		"crl_url = http://127.0.0.1:7080/crl/sub-ca.crl\n"
		"[ca.sub-ca]\n"
		"policy_oid = 1.3.6.1.4.1.51695.1.2\n"
		"cps_uri = https://torwart.example/cps/\n"
		"directory_base = ou=sm-pki,o=torwart\n"
		"validity_days.tls = 365\n"
		"crl_next_update_hours = 24\n"
		"[ca.bad]\n"
		"validity_days.sig = 0\n"
		"[ca.badurl]\n"
		"crl_url = not a url\n"
		"[ca.badoid]\n"
		"policy_oid = anyPolicy\n";
	struct tw_config *conf = NULL;
	struct pki_ca_config *c = NULL;
	struct pki_cert_request req;
	struct tw_error err;

	(void)state;
	assert_int_equal(tw_config_parse(conf_text, sizeof(conf_text) - 1, "test", &conf, &err),
		TW_OK);
	assert_int_equal(pki_ca_config_load(conf, "sub-ca", &c, &err), TW_OK);
	assert_string_equal(c->key_label, "sub-ca");
	assert_string_equal(c->policy_oid, "1.3.6.1.4.1.51695.1.2");
	assert_string_equal(c->crl_url, "http://127.0.0.1:7080/crl/sub-ca.crl");   /* [pki] */
	assert_string_equal(c->directory_base, "ou=sm-pki,o=torwart");
	assert_string_equal(c->crl_publish_path, "crl/sub-ca.crl");
	assert_int_equal(c->validity_days_tls, 365);
	assert_int_equal(c->validity_days_sig, 730);
	assert_int_equal(c->crl_next_update_hours, 24);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_TLS;
	pki_ca_config_apply(c, &req);
	assert_int_equal(req.validity_days, 365);
	assert_string_equal(req.cps_uri, "https://torwart.example/cps/");
	pki_ca_config_free(c);
	/* Absent section: defaults. */
	assert_int_equal(pki_ca_config_load(conf, "other", &c, &err), TW_OK);
	assert_null(c->policy_oid);
	assert_int_equal(c->validity_days_enc, 730);
	pki_ca_config_free(c);
	assert_int_equal(pki_ca_config_load(conf, "bad", &c, &err), TW_E_CONFIG);
	assert_null(c);
	assert_int_equal(pki_ca_config_load(conf, "badurl", &c, &err), TW_E_CONFIG);
	assert_int_equal(pki_ca_config_load(conf, "badoid", &c, &err), TW_E_CONFIG);
	assert_int_equal(pki_ca_config_load(conf, "../x", &c, &err), TW_E_CONFIG);
	tw_config_free(conf);
}

static X509 *load_real(const char *name);

/*
 * Issue 11: CRL distribution points per CA (several HTTP/LDAP URLs, or derived from where
 * the api serves the CRL), delta CRL settings, the notAfter rule per profile.
 */
static void test_ca_config_crl_and_validity(void **state)
{
	static const char conf_text[] =
		"[api]\n"
		"listen = 192.0.2.7:7443\n"
		"[ca.sub-ca]\n"
		"crl_url = http://crl.example/sub.crl ldap://ldap.example/cn=SUB?certificateRevocationList\n"
		"delta_crl = yes\n"
		"validity_end.enc = exact\n"
		"[ca.root-ca]\n"
		"[ca.ftp]\n"
		"crl_url = ftp://crl.example/x.crl\n"
		"[ca.badend]\n"
		"validity_end = midnight\n"
		"[ca.baddelta]\n"
		"delta_crl = maybe\n";
	static const char conf_base[] = "[ca]\ncrl_base_url = http://pki.example/crl/\n";
	struct tw_config *conf = NULL;
	struct pki_ca_config *c = NULL;
	struct pki_cert_request req;
	struct tw_error err;

	(void)state;
	assert_int_equal(tw_config_parse(conf_text, sizeof(conf_text) - 1, "t", &conf, &err),
		TW_OK);
	assert_int_equal(pki_ca_config_load(conf, "sub-ca", &c, &err), TW_OK);
	assert_string_equal(c->crl_url,
		"http://crl.example/sub.crl ldap://ldap.example/cn=SUB?certificateRevocationList");
	assert_true(c->delta_crl);
	assert_string_equal(c->delta_crl_url, "http://crl.example/sub-delta.crl");
	assert_string_equal(c->delta_crl_publish_path, "crl/sub-ca-delta.crl");
	assert_int_equal(c->validity_end_tls, PKI_VALIDITY_END_OF_DAY_UTC);   /* the default */
	assert_int_equal(c->validity_end_enc, PKI_VALIDITY_EXACT);
	assert_int_equal(c->validity_end_ca, PKI_VALIDITY_EXACT);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_SIG;
	pki_ca_config_apply(c, &req);
	assert_int_equal(req.validity_end, PKI_VALIDITY_END_OF_DAY_UTC);
	pki_ca_config_free(c);
	/* No URL configured: the api's own route, never a fixed localhost. */
	assert_int_equal(pki_ca_config_load(conf, "root-ca", &c, &err), TW_OK);
	assert_string_equal(c->crl_url, "http://192.0.2.7:7443/crl/root-ca.crl");
	assert_string_equal(c->key_label, "root-ca");
	assert_string_equal(c->cert_path, "pki/root-ca.crt");
	assert_false(c->delta_crl);
	assert_null(c->delta_crl_url);
	pki_ca_config_free(c);
	assert_int_equal(pki_ca_config_load(conf, "ftp", &c, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "ftp://"));
	assert_int_equal(pki_ca_config_load(conf, "badend", &c, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "validity_end"));
	assert_int_equal(pki_ca_config_load(conf, "baddelta", &c, &err), TW_E_CONFIG);
	tw_config_free(conf);
	assert_int_equal(tw_config_parse(conf_base, sizeof(conf_base) - 1, "t", &conf, &err),
		TW_OK);
	assert_int_equal(pki_ca_config_load(conf, "sub-ca", &c, &err), TW_OK);
	assert_string_equal(c->crl_url, "http://pki.example/crl/sub-ca.crl");
	pki_ca_config_free(c);
	tw_config_free(conf);
}

/* Several distribution point URLs: one distributionPoint, every URL a fullName, in order. */
static void test_crl_dp_list(void **state)
{
	struct pki_cert_request cr;
	struct tw_error err;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	CRL_DIST_POINTS *cdp;
	GENERAL_NAMES *names;

	(void)state;
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &key, &err), TW_OK);
	memset(&cr, 0, sizeof(cr));
	cr.usage = PKI_USAGE_SIG;
	cr.role = PKI_ROLE_EMT;
	cr.subject.common_name = "DP.EMT.T";
	cr.public_key = key;
	cr.issuer_cert = fx.sub.cert;
	cr.validity_days = 730;
	cr.crl_url = " http://a.example/sub.crl  ldap://l.example/cn=X?certificateRevocationList ";
	assert_int_equal(pki_build_certificate(&cr, &x, &err), TW_OK);
	cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	assert_int_equal(sk_DIST_POINT_num(cdp), 1);
	names = sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname;
	assert_int_equal(sk_GENERAL_NAME_num(names), 2);
	assert_string_equal((const char *)ASN1_STRING_get0_data(
		sk_GENERAL_NAME_value(names, 0)->d.uniformResourceIdentifier),
		"http://a.example/sub.crl");
	assert_string_equal((const char *)ASN1_STRING_get0_data(
		sk_GENERAL_NAME_value(names, 1)->d.uniformResourceIdentifier),
		"ldap://l.example/cn=X?certificateRevocationList");
	CRL_DIST_POINTS_free(cdp);
	X509_free(x);
	x = NULL;
	cr.crl_url = "   ";
	assert_int_equal(pki_build_certificate(&cr, &x, &err), TW_E_INVALID);
	assert_null(x);
	EVP_PKEY_free(key);
}

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
		.tm_min = mi, .tm_sec = s };

	return (int64_t)timegm(&tm);
}

/* The notAfter rule, against the real certificates' dates and the calendar's corners. */
static void test_validity_rule(void **state)
{
	static const char *const real[] = { "real-emt-tls.cer", "real-emt-sig.cer",
		"real-emt-enc.cer" };
	struct tw_error err;
	int64_t na = 0;
	enum pki_validity_end rule;

	(void)state;
	/* The real certificates: 2026-01-13 10:37:08Z .. 2028-01-13 23:59:59Z (UTC). */
	assert_int_equal(pki_validity_not_after(utc(2026, 1, 13, 10, 37, 8), 730,
		PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
	assert_int_equal(na, utc(2028, 1, 13, 23, 59, 59));
	/* Late in the UTC day (after midnight in Germany): still the UTC calendar day. */
	assert_int_equal(pki_validity_not_after(utc(2026, 6, 30, 23, 30, 0), 730,
		PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
	assert_int_equal(na, utc(2028, 6, 30, 23, 59, 59));
	/* Calendar years across a leap day: the same day, not 730 x 24 h. */
	assert_int_equal(pki_validity_not_after(utc(2027, 3, 1, 8, 0, 0), 730,
		PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
	assert_int_equal(na, utc(2029, 3, 1, 23, 59, 59));
	/* 29 February: 28 February, never longer. */
	assert_int_equal(pki_validity_not_after(utc(2028, 2, 29, 12, 0, 0), 730,
		PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
	assert_int_equal(na, utc(2030, 2, 28, 23, 59, 59));
	/* Not whole years: days, to the end of that day. */
	assert_int_equal(pki_validity_not_after(utc(2026, 12, 25, 1, 2, 3), 10,
		PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
	assert_int_equal(na, utc(2027, 1, 4, 23, 59, 59));
	assert_int_equal(pki_validity_not_after(utc(2026, 1, 13, 10, 37, 8), 730,
		PKI_VALIDITY_EXACT, &na, &err), TW_OK);
	assert_int_equal(na, utc(2026, 1, 13, 10, 37, 8) + 730LL * 86400);
	assert_int_equal(pki_validity_not_after(0, 0, PKI_VALIDITY_EXACT, &na, &err),
		TW_E_INVALID);
	assert_int_equal(pki_validity_end_parse("end_of_day_utc", &rule, &err), TW_OK);
	assert_int_equal(rule, PKI_VALIDITY_END_OF_DAY_UTC);
	assert_string_equal(pki_validity_end_name(PKI_VALIDITY_EXACT), "exact");
	assert_int_equal(pki_validity_end_parse("local", &rule, &err), TW_E_INVALID);
	/* And every real certificate in ../shared, when present. */
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		X509 *x = load_real(real[i]);
		struct tm nb;

		if (x == NULL)
			continue;
		assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &nb), 1);
		assert_int_equal(pki_validity_not_after((int64_t)timegm(&nb), 730,
			PKI_VALIDITY_END_OF_DAY_UTC, &na, &err), TW_OK);
		assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)na), 0);
		X509_free(x);
	}
}

/* ------------------------------------------------------------------ profiles */


static X509 *load_real(const char *name)
{
	const char *shared = getenv("TORWART_SHARED");
	char path[512];
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	struct tw_error err;
	X509 *x;

	if (shared == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/reference/sm-pki/%s", shared, name);
	if (tw_read_file(path, 65536, &der, &len, &err) != TW_OK)
		return NULL;
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	free(der);
	return x;
}

/*
 * Issue TLS/SIG/ENC for every role from a generated request (the subject DN taken from
 * the verified request, the rest from the CA configuration) and compare with the real
 * certificates: extension set and order, criticality, key usage, EKU, subject string
 * types, policy with CPS, CRL DP, CA:FALSE.
 */
static void test_profiles_from_request(void **state)
{
	static const enum pki_role roles[] = { PKI_ROLE_GWA, PKI_ROLE_GWH, PKI_ROLE_EMT,
		PKI_ROLE_SMGW };
	static const struct { enum pki_usage usage; const char *file; } types[] = {
		{ PKI_USAGE_TLS, "real-emt-tls.cer" }, { PKI_USAGE_SIG, "real-emt-sig.cer" },
		{ PKI_USAGE_ENC, "real-emt-enc.cer" } };
	static const char conf_text[] = "[ca.sub-ca]\n"
		"policy_oid = 1.3.6.1.4.1.51695.1.2\n"
		"cps_uri = https://torwart.example/cps/\n"
		"crl_url = ldap://directory.torwart.example/cn=TEST-SUB.CA?certificateRevocationList\n";
	struct tw_config *conf = NULL;
	struct pki_ca_config *ca = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	struct request *req;
	struct tw_error err;
	int compared = 0;

	(void)state;
	assert_int_equal(tw_config_parse(conf_text, sizeof(conf_text) - 1, "t", &conf, &err), TW_OK);
	assert_int_equal(pki_ca_config_load(conf, "sub-ca", &ca, &err), TW_OK);
	pki_fixture_gen_initial(&der, &len);
	req = expect(der, len, NULL, PKI_OK_SYNTAX);
	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		for (size_t t = 0; t < 3; t++) {
			const struct request_entry *e = request_find(req, types[t].usage);
			struct pki_cert_request cr;
			X509 *ours, *real;
			CERTIFICATEPOLICIES *pol;
			char what[32];

			snprintf(what, sizeof(what), "%s %s", pki_role_name(roles[r]),
				pki_usage_name(types[t].usage));
			memset(&cr, 0, sizeof(cr));
			cr.usage = types[t].usage;
			cr.role = roles[r];
			cr.subject_name = e->subject;
			if (r % 2 == 0) {
				cr.san = e->san;
			} else {
				cr.subject.email = e->email;
				cr.subject.uri = e->uri;
				cr.subject.dns_name = types[t].usage == PKI_USAGE_TLS ? e->dns_name : NULL;
			}
			cr.public_key = e->public_key;
			cr.issuer_cert = fx.sub.cert;
			pki_ca_config_apply(ca, &cr);
			ours = pki_fixture_sign_cert(&cr, fx.sub.key);
			sm_pki_assert_extensions(ours, types[t].usage, what);
			assert_int_equal(X509_NAME_cmp(X509_get_subject_name(ours), e->subject), 0);
			assert_false(X509_get_extension_flags(ours) & EXFLAG_CA);
			pol = X509_get_ext_d2i(ours, NID_certificate_policies, NULL, NULL);
			assert_non_null(pol);
			assert_int_equal(sk_POLICYQUALINFO_num(sk_POLICYINFO_value(pol, 0)->qualifiers), 1);
			CERTIFICATEPOLICIES_free(pol);
			real = load_real(types[t].file);
			if (real != NULL) {
				sm_pki_assert_extensions(real, types[t].usage, types[t].file);
				assert_int_equal(X509_get_key_usage(ours), X509_get_key_usage(real));
				assert_int_equal(X509_get_extended_key_usage(ours),
					X509_get_extended_key_usage(real));
				compared++;
			} else {
				assert_int_equal(X509_get_key_usage(ours), types[t].usage == PKI_USAGE_ENC ?
					(KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT) : KU_DIGITAL_SIGNATURE);
			}
			X509_free(real);
			X509_free(ours);
		}
	}
	if (compared == 0)
		print_message("[  NOTE    ] $TORWART_SHARED/reference/sm-pki absent: profiles "
			"compared with the checked-in expectation only\n");
	request_free(req);
	free(der);
	pki_ca_config_free(ca);
	tw_config_free(conf);
}

static void test_role_usage_names(void **state)
{
	enum pki_role role;
	enum pki_usage usage;
	struct tw_error err;

	(void)state;
	assert_int_equal(pki_role_parse("SMGW", &role, &err), TW_OK);
	assert_int_equal(role, PKI_ROLE_SMGW);
	assert_int_equal(pki_role_parse("gwh", &role, &err), TW_OK);
	assert_int_equal(role, PKI_ROLE_GWH);
	assert_int_equal(pki_role_parse("MSB", &role, &err), TW_E_INVALID);
	assert_int_equal(pki_usage_parse("enc", &usage, &err), TW_OK);
	assert_int_equal(usage, PKI_USAGE_ENC);
	assert_int_equal(pki_usage_parse("CA", &usage, &err), TW_E_INVALID);
	assert_true(pki_curve_allowed(NID_brainpoolP512r1));
	assert_false(pki_curve_allowed(NID_X9_62_prime256v1));
	assert_string_equal(request_kind_name(REQUEST_KIND_RENEWAL), "renewal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_role_usage_names),
		cmocka_unit_test(test_ca_config),
		cmocka_unit_test(test_ca_config_crl_and_validity),
		cmocka_unit_test(test_validity_rule),
		cmocka_unit_test(test_crl_dp_list),
		cmocka_unit_test(test_profiles_from_request),
	};

	return cmocka_run_group_tests(tests, pki_fixture_setup, pki_fixture_teardown);
}
