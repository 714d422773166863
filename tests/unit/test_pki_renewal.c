/*
 * test_pki_renewal.c: the GWA's checks of a gateway's renewal request
 * (gwa/renewal_check.c, issue 12, UC-3.3.3): accepted when it is a proper BSI renewal of
 * TLS+SIG+ENC signed with the gateway's current SIG key; every other case refused with
 * its one WSDL code (subject of another gateway, a SIG certificate that is not the
 * current one, a wrong curve, a broken proof of possession, an initial request, a partial
 * renewal, an authorisation layer the gateway must not add). Software keys (pki_fixture).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/keys.h"
#include "gwa/renewal.h"
#include "pki/request.h"
#include "pki_fixture.h"

#define GW "GW-RENEW-1"

/* A gateway's SIG certificate (CN = serialNumber = id), issued by the fixture Sub-CA. */
static void make_gw_sig(struct party *p, const char *id)
{
	struct pki_cert_request req;
	struct tw_error err;

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &p->key, &err), TW_OK);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_SIG;
	req.role = PKI_ROLE_SMGW;
	req.subject.common_name = id;
	req.subject.serial_number = id;
	req.public_key = p->key;
	req.issuer_cert = fx.sub.cert;
	req.validity_days = 365;
	p->cert = pki_fixture_sign_cert(&req, fx.sub.key);
}

static void gw_params(struct reqgen_params *p, const struct party *outer, const char *id)
{
	memset(p, 0, sizeof(*p));
	p->subject.common_name = id;
	p->subject.serial_number = id;
	p->keys[PKI_USAGE_TLS] = fx.k_tls;
	p->keys[PKI_USAGE_SIG] = fx.k_enc;   /* brainpoolP256r1 */
	p->keys[PKI_USAGE_ENC] = fx.k_enc;
	p->outer_cert = outer->cert;
	p->outer_key = outer->key;
}

static enum pki_result check(const unsigned char *der, size_t len, const char *id,
	X509 *current)
{
	struct request *req = NULL;
	enum pki_result result = PKI_OK_SYNTAX;
	struct tw_error err;
	tw_rc rc = renewal_check_request(der, len, id, current, &req, &result, &err);

	assert_true((rc == TW_OK) == (req != NULL));
	assert_true((rc == TW_OK) == (result == PKI_OK_SYNTAX));
	if (req != NULL) {
		assert_int_equal(req->kind, REQUEST_KIND_RENEWAL);
		assert_int_equal(req->n_entries, 3);
	}
	request_free(req);
	return result;
}

static void test_accepts_proper_renewal(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	make_gw_sig(&gw, GW);
	gw_params(&p, &gw, GW);
	pki_fixture_gen(&p, false, &der, &len);
	assert_int_equal(check(der, len, GW, gw.cert), PKI_OK_SYNTAX);
	/* The same bytes as base64 (how they travel in the cert-request result). */
	{
		char *b64 = NULL;
		struct tw_error err;

		assert_int_equal(reqgen_base64(der, len, &b64, &err), TW_OK);
		assert_int_equal(check((unsigned char *)b64, strlen(b64), GW, gw.cert),
			PKI_OK_SYNTAX);
		free(b64);
	}
	free(der);
	pki_fixture_party_free(&gw);
}

static void test_refuses_other_gateway(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	make_gw_sig(&gw, GW);
	gw_params(&p, &gw, GW);
	pki_fixture_gen(&p, false, &der, &len);
	/* A request (and SIG certificate) naming GW, received on GW-OTHER's session. */
	assert_int_equal(check(der, len, "GW-OTHER", gw.cert), PKI_FAILURE_UNAUTHORIZED_REQUEST);
	free(der);
	pki_fixture_party_free(&gw);
}

static void test_refuses_not_current_sig(void **state)
{
	struct party old, cur;
	struct reqgen_params p;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	make_gw_sig(&old, GW);
	make_gw_sig(&cur, GW);
	gw_params(&p, &old, GW);   /* signed with the replaced SIG key */
	pki_fixture_gen(&p, false, &der, &len);
	assert_int_equal(check(der, len, GW, cur.cert), PKI_FAILURE_OUTER_SIGNATURE);
	free(der);
	pki_fixture_party_free(&old);
	pki_fixture_party_free(&cur);
}

static void test_refuses_foreign_subject(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	make_gw_sig(&gw, GW);
	gw_params(&p, &gw, "GW-SOMEBODY-ELSE");   /* entries name another gateway */
	pki_fixture_gen(&p, false, &der, &len);
	/* The parser refuses an outer signer whose subject is not the request's. */
	assert_int_equal(check(der, len, GW, gw.cert), PKI_FAILURE_OUTER_SIGNATURE);
	free(der);
	pki_fixture_party_free(&gw);
}

static void test_refuses_wrong_curve(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *der = NULL;
	size_t len = 0;

	(void)state;
	make_gw_sig(&gw, GW);
	gw_params(&p, &gw, GW);
	p.keys[PKI_USAGE_TLS] = fx.k_p256;
	pki_fixture_gen(&p, true, &der, &len);
	assert_int_equal(check(der, len, GW, gw.cert), PKI_FAILURE_DOMAIN_PARAMETERS);
	free(der);
	pki_fixture_party_free(&gw);
}

static void test_refuses_bad_pop(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *init = NULL, *msgs = NULL, *der = NULL;
	size_t init_len = 0, msgs_len = 0, len = 0;
	struct tw_error err;
	char oid[64];

	(void)state;
	make_gw_sig(&gw, GW);
	gw_params(&p, &gw, GW);
	p.outer_cert = NULL;
	p.outer_key = NULL;
	pki_fixture_gen(&p, false, &init, &init_len);
	assert_int_equal(request_unwrap(init, init_len, oid, sizeof(oid), &msgs, &msgs_len,
		&err), TW_OK);
	msgs[msgs_len - 1] ^= 0x01;   /* the end of the last POP signature */
	assert_int_equal(reqgen_renewal_wrap(gw.cert, gw.key, msgs, msgs_len, &der, &len, &err),
		TW_OK);
	assert_int_equal(check(der, len, GW, gw.cert), PKI_FAILURE_INNER_SIGNATURE);
	free(init);
	free(msgs);
	free(der);
	pki_fixture_party_free(&gw);
}

static void test_refuses_initial_partial_and_authorised(void **state)
{
	struct party gw;
	struct reqgen_params p;
	unsigned char *der = NULL, *auth = NULL;
	size_t len = 0, auth_len = 0;
	struct tw_error err;

	(void)state;
	make_gw_sig(&gw, GW);
	/* an initial request: no outer signature at all */
	gw_params(&p, &gw, GW);
	p.outer_cert = NULL;
	p.outer_key = NULL;
	pki_fixture_gen(&p, false, &der, &len);
	assert_int_equal(check(der, len, GW, gw.cert), PKI_FAILURE_INCORRECT_REQUEST);
	free(der);
	/* a renewal of the TLS certificate alone */
	gw_params(&p, &gw, GW);
	p.keys[PKI_USAGE_SIG] = NULL;
	p.keys[PKI_USAGE_ENC] = NULL;
	pki_fixture_gen(&p, false, &der, &len);
	assert_int_equal(check(der, len, GW, gw.cert), PKI_FAILURE_INCORRECT_REQUEST);
	free(der);
	/* a renewal that already carries an authorisation layer (only the GWA adds it) */
	gw_params(&p, &gw, GW);
	pki_fixture_gen(&p, false, &der, &len);
	assert_int_equal(reqgen_authorise_key(fx.gwa_sig.key, fx.gwa_sig.cert, der, len, &auth,
		&auth_len, &err), TW_OK);
	assert_int_equal(check(auth, auth_len, GW, gw.cert), PKI_FAILURE_INCORRECT_REQUEST);
	/* junk */
	assert_int_not_equal(check((const unsigned char *)"junk", 4, GW, gw.cert),
		PKI_OK_SYNTAX);
	free(der);
	free(auth);
	pki_fixture_party_free(&gw);
}

/* Windows of two tenants: each tenant its own value, others the global one, else 60. */
static tw_rc window_of(const char *conf_text, const char *tenant, long *days)
{
	struct tw_config *conf = NULL;
	struct tw_error err;
	tw_rc rc;

	assert_int_equal(tw_config_parse(conf_text, strlen(conf_text), "test", &conf, &err),
		TW_OK);
	*days = -1;
	rc = renewal_before_days(conf, tenant, days, &err);
	if (rc != TW_OK)
		assert_non_null(strstr(err.message, "renew_before_days"));
	tw_config_free(conf);
	return rc;
}

static void test_renew_before_days_per_tenant(void **state)
{
	const char *two = "[renewal]\nrenew_before_days = 10\nrenew_before_days.acme = 45\n"
		"renew_before_days.beta = 0\nsub_ca.acme = local\n";
	long days;

	(void)state;
	assert_int_equal(window_of(two, "acme", &days), TW_OK);
	assert_int_equal(days, 45);
	assert_int_equal(window_of(two, "beta", &days), TW_OK);
	assert_int_equal(days, 0);    /* off for beta alone */
	assert_int_equal(window_of(two, "default", &days), TW_OK);
	assert_int_equal(days, 10);   /* no own value: the global one */
	assert_int_equal(window_of(two, NULL, &days), TW_OK);
	assert_int_equal(days, 10);
	/* "acme" is not a prefix match of "acme2" */
	assert_int_equal(window_of(two, "acme2", &days), TW_OK);
	assert_int_equal(days, 10);
	assert_int_equal(window_of("[renewal]\nrenew_before_days.acme = 5\n", "other", &days),
		TW_OK);
	assert_int_equal(days, RENEWAL_BEFORE_DAYS_DEFAULT);
	assert_int_equal(window_of("", "acme", &days), TW_OK);
	assert_int_equal(days, RENEWAL_BEFORE_DAYS_DEFAULT);
	/* out of range or not a number: a config error naming the key, *days untouched */
	assert_int_equal(window_of("[renewal]\nrenew_before_days.acme = 3651\n", "acme", &days),
		TW_E_CONFIG);
	assert_int_equal(days, -1);
	assert_int_equal(window_of("[renewal]\nrenew_before_days.acme = -1\n", "acme", &days),
		TW_E_CONFIG);
	assert_int_equal(window_of("[renewal]\nrenew_before_days.acme = 3x\n", "acme", &days),
		TW_E_CONFIG);
	assert_int_equal(window_of("[renewal]\nrenew_before_days = 4000\n", "acme", &days),
		TW_E_CONFIG);
	assert_int_equal(window_of("[renewal]\nrenew_before_days.acme = 3650\n", "acme", &days),
		TW_OK);
	assert_int_equal(days, 3650);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_proper_renewal),
		cmocka_unit_test(test_refuses_other_gateway),
		cmocka_unit_test(test_refuses_not_current_sig),
		cmocka_unit_test(test_refuses_foreign_subject),
		cmocka_unit_test(test_refuses_wrong_curve),
		cmocka_unit_test(test_refuses_bad_pop),
		cmocka_unit_test(test_refuses_initial_partial_and_authorised),
		cmocka_unit_test(test_renew_before_days_per_tenant),
	};

	return cmocka_run_group_tests(tests, pki_fixture_setup, pki_fixture_teardown);
}
