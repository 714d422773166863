/*
 * test_gwa_sig_push.c: the orders of a new GWA SIG certificate to the gateways after a
 * SIG rotation (issue 12, gwa/gwa_sig_push.h): one fleet order per tenant with gateways,
 * none twice, the count of gateways that have not installed it (open and failed jobs
 * count, done ones do not); which gateways of a tick still wait for a certificate, and
 * which key version their wake-ups get (gwa/wakeup_key.h); and the worker's reload of the [renewal] values
 * (gwa/renewal.h renewal_worker_reload): all or nothing, typed errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "base/config.h"
#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/gwa_sig_push.h"
#include "gwa/job.h"
#include "gwa/renewal.h"
#include "gwa/wakeup_key.h"
#include "crypto/key_label.h"
#include "crypto/signer.h"
#include "store/store.h"
#include "store/store_gwa_sig.h"
#include "store/store_jobs.h"

static char dir[64], cert_path[128], cert2_path[128];
static struct tw_store *st;
static const struct job_actor who = { "os:test", "local-admin", "local:1" };

/* A self-signed certificate whose CN names the GWA (all gwa-cert-update checks here). */
static void make_cert(const char *path, const char *cn)
{
	struct tw_error e;
	EVP_PKEY *k = NULL;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &k, &e), TW_OK);
	assert_non_null(x);
	assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC,
		(const unsigned char *)cn, -1, -1, 0), 1);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(keys_write_certs_pem(path, &x, 1, &e), TW_OK);
	X509_NAME_free(n);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void add_gateway(const char *id, int64_t tenant)
{
	struct store_gateway gw;

	memset(&gw, 0, sizeof(gw));
	gw.tenant_id = tenant;
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "%s", id);
	snprintf(gw.state, sizeof(gw.state), "registered");
	gw.created_ms = tw_now_ms();
	assert_int_equal(store_gateway_insert(st, &gw, NULL), TW_OK);
}

static int setup(void **state)
{
	char path[128];
	struct tw_error e;
	int64_t t1, t2, t3;

	(void)state;
	tw_log_init("test_gwa_sig_push", TW_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/test_gwa_sig_push.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (store_open(path, &st, &e) != TW_OK || store_migrate(st, &e) != TW_OK)
		fail_msg("store: %s", e.message);
	assert_int_equal(store_tenant_ensure(st, "default", &t1, NULL), TW_OK);
	assert_int_equal(store_tenant_ensure(st, "acme", &t2, NULL), TW_OK);
	assert_int_equal(store_tenant_ensure(st, "empty", &t3, NULL), TW_OK);
	add_gateway("GW-A", t1);
	add_gateway("GW-B", t1);
	add_gateway("GW-C", t2);
	snprintf(cert_path, sizeof(cert_path), "%s/gwa-sig.crt", dir);
	snprintf(cert2_path, sizeof(cert2_path), "%s/gwa-sig-2.crt", dir);
	make_cert(cert_path, "GWA-TEST");
	make_cert(cert2_path, "GWA-TEST");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (getenv("TORWART_KEEP_TMP") == NULL && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}

/* The gateway takes its head order and answers with fingerprint fp. */
static void answer(const char *gw, const char *fp, bool ok)
{
	struct job_actor gw_who = { "gateway", "smgw", "127.0.0.1:1" };
	struct job_delivery d;
	struct job_outcome o;
	bool found = false;
	int64_t pending = 0;
	json_t *res;

	memset(&d, 0, sizeof(d));
	assert_int_equal(job_deliver(st, gw, &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_true(found);
	assert_string_equal(d.type, "gwa-cert-update");
	json_decref(d.payload);
	res = json_pack("{s:s, s:s}", "gateway_id", gw, "fingerprint", fp);
	memset(&o, 0, sizeof(o));
	o.ok = ok;
	o.result = ok ? res : NULL;
	o.code = ok ? NULL : "gwa_cert_untrusted";
	o.message = ok ? NULL : "no chain";
	assert_int_equal(job_complete(st, gw, d.id, &o, &gw_who, NULL), TW_OK);
	json_decref(res);
}

static void test_orders_once_per_tenant(void **state)
{
	struct gwa_sig_push_result r;
	struct store_gwa_sig_push p[4];
	struct tw_error e;
	char fp[65];
	int64_t n = -1;
	size_t np = 0;

	(void)state;
	assert_int_equal(gwa_sig_push_unconfirmed(st, cert_path, &n, fp, &e), TW_OK);
	assert_int_equal(n, 0);   /* nothing ordered yet */
	assert_int_equal(gwa_sig_push_ensure(st, cert_path, 3600, 2, &who, &r, &e), TW_OK);
	assert_int_equal(r.batches, 2);    /* default and acme; "empty" has no gateway */
	assert_int_equal(r.gateways, 3);
	assert_int_equal(r.unconfirmed, 3);
	assert_string_equal(r.fingerprint, fp);
	assert_int_equal(store_gwa_sig_push_list(st, fp, p, 4, &np, &e), TW_OK);
	assert_int_equal(np, 2);
	assert_true(p[0].batch_id > 0 && p[1].batch_id > 0 && p[0].batch_id != p[1].batch_id);
	{
		struct store_job j;

		memset(&j, 0, sizeof(j));
		assert_int_equal(store_job_get(st, 1, &j, &e), TW_OK);
		assert_string_equal(j.type, "gwa-cert-update");
		assert_int_equal(j.timeout_ms, 3600 * 1000);   /* the policy given */
		assert_int_equal(j.max_attempts, 2);
		store_job_clear(&j);
	}
	/* A rerun orders nothing. */
	assert_int_equal(gwa_sig_push_ensure(st, cert_path, 3600, 2, &who, &r, &e), TW_OK);
	assert_int_equal(r.batches, 0);
	assert_int_equal(r.gateways, 0);
	assert_int_equal(r.unconfirmed, 3);
	/* The record refuses a second order of the same tenant. */
	p[0].created_ms = 1;
	assert_int_equal(store_gwa_sig_push_add(st, &p[0], &e), TW_E_EXISTS);

	/* GW-A installs it, GW-C refuses it: one confirmed, the failure still counts. */
	answer("GW-A", fp, true);
	answer("GW-C", fp, false);
	assert_int_equal(gwa_sig_push_unconfirmed(st, cert_path, &n, fp, &e), TW_OK);
	assert_int_equal(n, 2);
	answer("GW-B", fp, true);
	assert_int_equal(gwa_sig_push_unconfirmed(st, cert_path, &n, fp, &e), TW_OK);
	assert_int_equal(n, 1);

	/* Another certificate is another campaign. */
	assert_int_equal(gwa_sig_push_ensure(st, cert2_path, 0, 0, &who, &r, &e), TW_OK);
	assert_int_equal(r.batches, 2);
	assert_int_equal(r.unconfirmed, 3);
	/* A file that is no certificate: typed error, nothing ordered. */
	assert_int_not_equal(gwa_sig_push_ensure(st, dir, 0, 0, &who, &r, &e), TW_OK);
}

static void fp_of(const char *path, char fp[65])
{
	struct tw_error e;
	X509 *x = NULL;

	assert_int_equal(keys_read_cert_pem(path, &x, &e), TW_OK);
	assert_int_equal(keys_cert_fingerprint(x, fp, &e), TW_OK);
	X509_free(x);
}

/*
 * After test_orders_once_per_tenant: certificate 1 done by GW-A and GW-B, failed at
 * GW-C; certificate 2 ordered to all three, open.
 */
static void test_waiting_among(void **state)
{
	const char *ids[5] = { "GW-A", "GW-B", "GW-C", "GW-NEW", "GW-C" };
	const char *many[150];
	bool w[150];
	char fp1[65], fp2[65];
	struct tw_error e;

	(void)state;
	fp_of(cert_path, fp1);
	fp_of(cert2_path, fp2);
	assert_int_equal(store_gwa_sig_waiting_among(st, fp1, ids, 5, w, &e), TW_OK);
	/* done: no; failed: still waits (both slots); not in the orders: no */
	assert_false(w[0]);
	assert_false(w[1]);
	assert_true(w[2]);
	assert_false(w[3]);
	assert_true(w[4]);
	assert_int_equal(store_gwa_sig_waiting_among(st, fp2, ids, 5, w, &e), TW_OK);
	assert_true(w[0] && w[1] && w[2]);
	assert_false(w[3]);
	/* An unknown certificate: nobody waits for it. */
	assert_int_equal(store_gwa_sig_waiting_among(st, "00", ids, 5, w, &e), TW_OK);
	assert_false(w[0] || w[1] || w[2] || w[3] || w[4]);

	/* More than one statement's worth: the answer for every slot. */
	for (size_t i = 0; i < 150; i++)
		many[i] = "GW-NONE";
	many[0] = "GW-A";
	many[64] = "GW-B";
	many[149] = "GW-C";
	assert_int_equal(store_gwa_sig_waiting_among(st, fp2, many, 150, w, &e), TW_OK);
	for (size_t i = 0; i < 150; i++)
		assert_int_equal(w[i], i == 0 || i == 64 || i == 149);

	/* GW-C installs certificate 2 (a gwa-cert-update done after its failed order of
	 * certificate 1, as an order by hand would be): it waits for neither any more. */
	answer("GW-C", fp2, true);
	assert_int_equal(store_gwa_sig_waiting_among(st, fp1, ids, 5, w, &e), TW_OK);
	assert_false(w[2] || w[4]);
	assert_int_equal(store_gwa_sig_waiting_among(st, fp2, ids, 5, w, &e), TW_OK);
	assert_true(w[0] && w[1]);
	assert_false(w[2]);
	/* Bad input: a typed error, nothing marked. */
	assert_int_equal(store_gwa_sig_waiting_among(st, NULL, ids, 5, w, &e), TW_E_INVALID);
}

/* The key version per wake-up from the rotation's files (wakeup_key.h). */
static void test_wakeup_key(void **state)
{
	struct wakeup_item it[3] = {
		{ .gateway_id = "GW-A", .previous = true }, { .gateway_id = "GW-C" },
		{ .gateway_id = "GW-NEW" },
	};
	struct wakeup_key_state k;
	struct tw_home home;
	struct tw_error e;
	char pki[160], cur[176], prev[176], want[SIGNER_LABEL_MAX + 1];
	X509 *x = NULL;

	(void)state;
	memset(&home, 0, sizeof(home));
	home.dir = dir;
	snprintf(pki, sizeof(pki), "%s/pki", dir);
	snprintf(cur, sizeof(cur), "%s/gwa-sig.crt", pki);
	snprintf(prev, sizeof(prev), "%s/gwa-sig.crt.prev", pki);
	assert_int_equal(mkdir(pki, 0700), 0);
	assert_int_equal(wakeup_key_init(&k, &home, &e), TW_OK);
	/* No rotation: no previous version, the store is not asked (NULL would fail). */
	assert_int_equal(wakeup_key_refresh(&k, &e), TW_OK);
	assert_string_equal(wakeup_key_prev_label(&k), "");
	assert_int_equal(wakeup_key_choose(&k, NULL, it, 3, &e), TW_OK);
	assert_false(it[0].previous || it[1].previous || it[2].previous);

	/* After the switch: certificate 2 current, certificate 1 kept as ".prev". */
	assert_int_equal(rename(cert2_path, cur), 0);
	assert_int_equal(rename(cert_path, prev), 0);
	assert_int_equal(keys_read_cert_pem(prev, &x, &e), TW_OK);
	assert_int_equal(signer_label_of_key(SIGNER_KEY_GWA_SIG, X509_get0_pubkey(x), want,
		sizeof(want), &e), TW_OK);
	X509_free(x);
	assert_int_equal(wakeup_key_refresh(&k, &e), TW_OK);
	assert_string_equal(wakeup_key_prev_label(&k), want);
	assert_true(signer_label_versioned(want));
	/* GW-A has certificate 2's order open; GW-C installed it; GW-NEW has no order. */
	assert_int_equal(wakeup_key_choose(&k, st, it, 3, &e), TW_OK);
	assert_true(it[0].previous);
	assert_false(it[1].previous || it[2].previous);
	/* The signer said the version is gone: nobody gets it until the files change. */
	wakeup_key_prev_gone(&k);
	assert_int_equal(wakeup_key_choose(&k, st, it, 3, &e), TW_OK);
	assert_false(it[0].previous);
	/* Retired: ".prev" removed, every wake-up with the current key again. */
	assert_int_equal(unlink(prev), 0);
	assert_int_equal(wakeup_key_refresh(&k, &e), TW_OK);
	assert_string_equal(wakeup_key_prev_label(&k), "");
	/* A ".prev" that is no certificate: an error to log, no previous version. */
	{
		FILE *f = fopen(prev, "w");

		assert_non_null(f);
		fputs("not a certificate\n", f);
		fclose(f);
	}
	assert_int_not_equal(wakeup_key_refresh(&k, &e), TW_OK);
	assert_non_null(strstr(e.message, "current key"));
	assert_string_equal(wakeup_key_prev_label(&k), "");
	assert_int_equal(wakeup_key_choose(&k, st, it, 3, &e), TW_OK);
	assert_false(it[0].previous);
	/* Not read again while nothing changed. */
	assert_int_equal(wakeup_key_refresh(&k, &e), TW_OK);
	wakeup_key_free(&k);
	/* the certificates back where test_reload and teardown do not care */
	assert_int_equal(rename(cur, cert2_path), 0);
}

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_reload(void **state)
{
	static const char start[] = "[renewal]\nrenew_before_days = 10\n"
		"renew_before_days.acme = 20\n\n[ws.remote.other]\nurl = https://127.0.0.1:1/ws\n";
	struct renewal_worker *w = NULL;
	struct tw_home home;
	struct tw_error e;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/torwart.conf", dir);
	memset(&home, 0, sizeof(home));
	home.dir = dir;
	assert_int_equal(tw_config_parse(start, strlen(start), "test", &home.conf, &e), TW_OK);
	assert_int_equal(renewal_worker_new(&home, st, &w, &e), TW_OK);

	write_conf(path, "[renewal]\nrenew_before_days = 30\nrenew_before_days.acme = 45\n"
		"sub_ca.acme = remote:other\nsub_ca = local\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_OK);
	/* twice: the previous reloaded configuration is freed */
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_OK);

	write_conf(path, "[renewal]\nrenew_before_days.nosuch = 5\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	assert_non_null(strstr(e.message, "renew_before_days.nosuch"));
	write_conf(path, "[renewal]\nrenew_before_days.acme = 3651\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	write_conf(path, "[renewal]\nrenew_before_days = x\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	write_conf(path, "[renewal]\nsub_ca.acme = remote:unknown\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	assert_non_null(strstr(e.message, "ws.remote.unknown"));
	write_conf(path, "[renewal]\nsub_ca = remote:\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	write_conf(path, "[renewal]\nsub_ca.beta = somewhere\n");
	assert_int_equal(renewal_worker_reload(w, path, &e), TW_E_CONFIG);
	/* a file that cannot be read: refused, nothing changes */
	assert_int_not_equal(renewal_worker_reload(w, "/nonexistent/torwart.conf", &e), TW_OK);
	/* the alerting wrapper on a bad file: no crash, an alert queued */
	write_conf(path, "[renewal]\nrenew_before_days = -1\n");
	renewal_worker_on_reload(w);
	renewal_worker_on_reload(NULL);
	renewal_worker_free(w);
	tw_config_free(home.conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_once_per_tenant),
		cmocka_unit_test(test_waiting_among),
		cmocka_unit_test(test_wakeup_key),
		cmocka_unit_test(test_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
