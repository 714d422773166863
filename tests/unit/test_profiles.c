/*
 * test_profiles.c: unit tests of profile management and monitoring (issue 4):
 * profile schemas and hashes (gwa/profile.h), encryption at rest (crypto/secretbox.h), the
 * service layer with its T-PV.2/T-PV.4/reference/drift rules (gwa/profile_admin.h),
 * alarms with T-AB.1 and actions, signed gateway logs (gwa/monitor.h), the order hooks
 * (gwa/profile_orders.h), each against a fresh SQLite store in a mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/config.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/job.h"
#include "gwa/monitor.h"
#include "gwa/order.h"
#include "gwa/profile.h"
#include "gwa/profile_admin.h"
#include "gwa/profile_orders.h"
#include "crypto/secretbox.h"
#include "pki/certstore.h"
#include "sim/sim_monitor.h"
#include "sim/sim_orders.h"
#include "store/store.h"
#include "store/store_jobs.h"
#include "store/store_profiles.h"

#define GW "SMGW-T-0001"
#define METER_KEY "00112233445566778899aabbccddeeff"

static const char meter_doc[] =
	"{\"profile_id\":\"meter-1\",\"type\":\"meter\",\"meter_id\":\"1EMH0012345678\","
	"\"protocol\":\"sml\",\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*255\",\"1-0:2.8.0*255\"],"
	"\"key\":{\"ref\":\"K-1\",\"algorithm\":\"aes-128\",\"value\":\"" METER_KEY "\"}}";
static const char wan_doc[] =
	"{\"profile_id\":\"wan-emt\",\"type\":\"wan\",\"recipient\":\"EMT-A\","
	"\"address\":\"emt.example:443\",\"tls_cert_fingerprint\":"
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"retries\":3,"
	"\"retry_interval_s\":60}";
static const char eval_doc[] =
	"{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\","
	"\"meters\":[\"1EMH0012345678\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,"
	"\"recipients\":[{\"emt\":\"EMT-A\",\"wan_profile\":\"wan-emt\"}]}";
static const char proxy_doc[] =
	"{\"profile_id\":\"proxy-1\",\"type\":\"proxy\",\"cls_id\":\"CLS-1\","
	"\"cls_address\":\"192.168.1.20:8080\",\"emt\":\"EMT-A\",\"emt_address\":\"emt.example:443\","
	"\"emt_tls_cert_fingerprint\":"
	"\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"max_session_s\":600}";
static const char han_doc[] =
	"{\"profile_id\":\"han-1\",\"type\":\"han\",\"interface\":\"ethernet\","
	"\"session_timeout_s\":600,\"users\":[{\"name\":\"consumer\",\"role\":\"consumer\","
	"\"password\":\"correct horse battery\"}]}";

struct fixture {
	char dir[64];
	char path[128];
	struct tw_store *st;
	struct secretbox *sb;
	int64_t tenant;
};

static const struct profile_who who = { "os:test", "local-admin", "local:1" };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct store_gateway gw;
	struct tw_error err;
	unsigned char key[32];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-prof-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	assert_int_equal(store_open(f->path, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "default", &f->tenant, &err), TW_OK);
	memset(&gw, 0, sizeof(gw));
	gw.tenant_id = f->tenant;
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), GW);
	snprintf(gw.state, sizeof(gw.state), "registered");
	gw.created_ms = tw_now_ms();
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "SMGW-T-0002");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	memset(key, 7, sizeof(key));
	assert_int_equal(secretbox_from_key(key, &f->sb, &err), TW_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(f->st);
	secretbox_free(f->sb);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static size_t audit_count(struct tw_store *st, const char *action, const char *result);

struct count_ctx { const char *action, *result; size_t n; };

static int count_cb(const struct store_audit_row *row, void *arg)
{
	struct count_ctx *c = arg;

	if (strcmp(row->action, c->action) == 0 &&
	    (c->result == NULL || strcmp(row->result, c->result) == 0))
		c->n++;
	return 0;
}

static size_t audit_count(struct tw_store *st, const char *action, const char *result)
{
	struct count_ctx c = { action, result, 0 };
	struct tw_error err;

	assert_int_equal(store_audit_foreach(st, 1, count_cb, &c, &err), TW_OK);
	return c.n;
}

static tw_rc parse(const char *text, struct tw_error *err)
{
	struct profile_doc *d = NULL;
	tw_rc rc = profile_parse(text, strlen(text), &d, err);

	profile_doc_free(d);
	return rc;
}

/* ---- schemas ---- */

static void test_schemas_accept_valid_documents(void **state)
{
	const char *docs[] = { meter_doc, wan_doc, eval_doc, proxy_doc, han_doc };
	struct tw_error err;

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		if (parse(docs[i], &err) != TW_OK)
			fail_msg("document %zu refused: %s", i, err.message);
	}
}

static void test_schemas_refuse_bad_documents(void **state)
{
	static const char *const bad[] = {
		"",
		"[1]",
		"{\"profile_id\":\"x\"}",
		"{\"profile_id\":\"bad id\",\"type\":\"meter\"}",
		"{\"profile_id\":\"x\",\"type\":\"toaster\"}",
		/* unknown member */
		"{\"profile_id\":\"w\",\"type\":\"wan\",\"recipient\":\"E\",\"address\":\"a:1\","
		"\"tls_cert_fingerprint\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"retries\":3,\"retry_interval_s\":60,\"extra\":1}",
		/* port out of range */
		"{\"profile_id\":\"w\",\"type\":\"wan\",\"recipient\":\"E\",\"address\":\"a:99999\","
		"\"tls_cert_fingerprint\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"retries\":3,\"retry_interval_s\":60}",
		/* OBIS field > 255 */
		"{\"profile_id\":\"m\",\"type\":\"meter\",\"meter_id\":\"M\",\"protocol\":\"sml\","
		"\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*256\"],\"key\":{\"ref\":\"K\","
		"\"algorithm\":\"aes-128\",\"value\":\"" METER_KEY "\"}}",
		/* key too short for aes-128 */
		"{\"profile_id\":\"m\",\"type\":\"meter\",\"meter_id\":\"M\",\"protocol\":\"sml\","
		"\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*255\"],\"key\":{\"ref\":\"K\","
		"\"algorithm\":\"aes-128\",\"value\":\"0011\"}}",
		/* a masked key is not a key */
		"{\"profile_id\":\"m\",\"type\":\"meter\",\"meter_id\":\"M\",\"protocol\":\"sml\","
		"\"scenario\":\"wired\",\"obis\":[\"1-0:1.8.0*255\"],\"key\":{\"ref\":\"K\","
		"\"algorithm\":\"aes-128\",\"value\":\"***\"}}",
		/* duplicate key */
		"{\"profile_id\":\"a\",\"profile_id\":\"b\",\"type\":\"meter\"}",
		/* unknown TAF, empty recipients */
		"{\"profile_id\":\"e\",\"type\":\"evaluation\",\"taf\":\"TAF99\",\"meters\":[\"M\"],"
		"\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,\"recipients\":[]}",
		/* HAN password too short, repeated user */
		"{\"profile_id\":\"h\",\"type\":\"han\",\"interface\":\"ethernet\",\"session_timeout_s\":600,"
		"\"users\":[{\"name\":\"u\",\"role\":\"consumer\",\"password\":\"short\"}]}",
		"{\"profile_id\":\"h\",\"type\":\"han\",\"interface\":\"ethernet\",\"session_timeout_s\":600,"
		"\"users\":[{\"name\":\"u\",\"role\":\"consumer\",\"password\":\"longenough\"},"
		"{\"name\":\"u\",\"role\":\"consumer\",\"password\":\"longenough\"}]}",
	};
	struct tw_error err;
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &err) == TW_OK)
			fail_msg("bad document %zu accepted", i);
		assert_true(err.message[0] != '\0');
	}
	big = calloc(1, PROFILE_DOC_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', PROFILE_DOC_MAX + 1);
	assert_int_equal(profile_parse(big, PROFILE_DOC_MAX + 1, &(struct profile_doc *){ NULL },
		&err), TW_E_TOO_LARGE);
	free(big);
}

static void test_hashes_are_canonical(void **state)
{
	const char *a = "{\"b\":1,\"a\":\"x\"}", *b = "{ \"a\" : \"x\", \"b\" : 1 }";
	struct profile_set_item items[2], again[2], *parsed = NULL;
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL), *set = NULL;
	char ha[65], hb[65], s1[65], s2[65], s3[65];
	struct tw_error err;
	size_t n = 0;

	(void)state;
	assert_int_equal(profile_hash(ja, ha, &err), TW_OK);
	assert_int_equal(profile_hash(jb, hb, &err), TW_OK);
	assert_string_equal(ha, hb);
	memset(items, 0, sizeof(items));
	snprintf(items[0].profile_id, sizeof(items[0].profile_id), "zeta");
	snprintf(items[0].type, sizeof(items[0].type), "meter");
	memcpy(items[0].hash, ha, 65);
	snprintf(items[1].profile_id, sizeof(items[1].profile_id), "alpha");
	snprintf(items[1].type, sizeof(items[1].type), "wan");
	memcpy(items[1].hash, ha, 65);
	again[0] = items[1];
	again[1] = items[0];
	assert_int_equal(profile_set_hash(items, 2, s1, &err), TW_OK);
	assert_int_equal(profile_set_hash(again, 2, s2, &err), TW_OK);
	assert_string_equal(s1, s2);
	/* The empty set hashes the empty string. */
	assert_int_equal(profile_set_hash(items, 0, s3, &err), TW_OK);
	assert_string_equal(s3, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(profile_set_to_json(items, 2, &set, &err), TW_OK);
	assert_int_equal(profile_set_parse(set, &parsed, &n, s3, &err), TW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(s3, s1);
	free(parsed);
	/* A set whose hash does not match its list is refused. */
	json_object_set_new(set, "profile_set_hash", json_string(ha));
	assert_int_equal(profile_set_parse(set, &parsed, &n, s3, &err), TW_E_INVALID);
	json_decref(set);
	json_decref(ja);
	json_decref(jb);
}

/* ---- encryption at rest ---- */

static void test_secretbox(void **state)
{
	struct fixture *f = *state;
	struct secretbox *sb2 = NULL;
	char *sealed = NULL, *plain = NULL, path[160];
	struct tw_error err;
	struct stat st;
	size_t len = 0;

	assert_int_equal(secretbox_seal(f->sb, "ctx-a", "secret", 6, &sealed, &err), TW_OK);
	assert_true(secretbox_is_sealed(sealed));
	assert_null(strstr(sealed, "secret"));
	assert_int_equal(secretbox_unseal(f->sb, "ctx-a", sealed, &plain, &len, &err), TW_OK);
	assert_int_equal(len, 6);
	assert_string_equal(plain, "secret");
	free(plain);
	/* Moved to another place (other associated data): does not open. */
	assert_int_equal(secretbox_unseal(f->sb, "ctx-b", sealed, &plain, &len, &err),
		TW_E_CRYPTO);
	/* Altered: does not open. */
	sealed[strlen(SECRETBOX_PREFIX) + 2] ^= 1;
	assert_int_not_equal(secretbox_unseal(f->sb, "ctx-a", sealed, &plain, &len, &err), TW_OK);
	free(sealed);
	/* The key file is created 0600 under secrets/ and reused. */
	snprintf(path, sizeof(path), "%s/secrets/data.key", f->dir);
	assert_int_equal(secretbox_open_file(path, &sb2, &err), TW_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	secretbox_free(sb2);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(secretbox_open_file(path, &sb2, &err), TW_E_CONFIG);
	assert_null(sb2);
}

/*
 * Services starting together on a new home race to create the data key: every one of
 * them must end up with the same whole key (a reader once saw a half-written, empty file
 * and the api exited, seen in integration-pg-remote_cli). The window of the old code
 * was too small for 16 processes released at once to hit it here (0 of 10 runs); the test
 * guards what matters now: concurrent creators all succeed and all hold the same key.
 */
static void test_secretbox_key_race(void **state)
{
	struct fixture *f = *state;
	enum { RACERS = 16 };
	struct secretbox *mine = NULL;
	char path[160], out[192];
	struct tw_error err;
	int gate[2];
	pid_t pids[RACERS];

	snprintf(path, sizeof(path), "%s/race/data.key", f->dir);
	assert_int_equal(pipe(gate), 0);
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct secretbox *sb = NULL;
			char *sealed = NULL, c;
			int ok;

			close(gate[1]);
			(void)!read(gate[0], &c, 1);    /* released all at once by the close */
			ok = secretbox_open_file(path, &sb, &err) == TW_OK &&
			     secretbox_seal(sb, "race", "same-key", 8, &sealed, &err) == TW_OK;
			snprintf(out, sizeof(out), "%s/race/sealed.%d", f->dir, i);
			ok = ok && tw_write_file(out, sealed, strlen(sealed), 0600, false, &err) ==
				TW_OK;
			_exit(ok ? 0 : 1);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < RACERS; i++) {
		int status = 0;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(secretbox_open_file(path, &mine, &err), TW_OK);
	for (int i = 0; i < RACERS; i++) {
		unsigned char *data = NULL;
		char *plain = NULL, *text;
		size_t len = 0, plen = 0;

		snprintf(out, sizeof(out), "%s/race/sealed.%d", f->dir, i);
		assert_int_equal(tw_read_file(out, 4096, &data, &len, &err), TW_OK);
		text = calloc(1, len + 1);
		assert_non_null(text);
		memcpy(text, data, len);
		assert_int_equal(secretbox_unseal(mine, "race", text, &plain, &plen, &err), TW_OK);
		assert_int_equal(plen, 8);
		free(plain);
		free(text);
		free(data);
	}
	secretbox_free(mine);
}

static void test_secrets_seal_mask_unseal(void **state)
{
	struct fixture *f = *state;
	struct profile_doc *d = NULL;
	json_t *sealed = NULL, *masked = NULL, *plain = NULL;
	struct tw_error err;
	char *text;

	assert_int_equal(profile_parse(han_doc, strlen(han_doc), &d, &err), TW_OK);
	assert_int_equal(profile_secrets(d->json, d->type, PROFILE_SEAL, f->sb, GW, &sealed, &err),
		TW_OK);
	text = json_dumps(sealed, 0);
	assert_null(strstr(text, "correct horse"));
	free(text);
	assert_int_equal(profile_secrets(sealed, d->type, PROFILE_MASK_SECRETS, NULL, GW, &masked,
		&err), TW_OK);
	text = json_dumps(masked, 0);
	assert_non_null(strstr(text, "\"***\""));
	assert_null(strstr(text, SECRETBOX_PREFIX));
	free(text);
	assert_int_equal(profile_secrets(sealed, d->type, PROFILE_UNSEAL, f->sb, GW, &plain, &err),
		TW_OK);
	assert_true(json_equal(plain, d->json));
	json_decref(plain);
	/* Bound to the gateway: the same sealed document does not open for another one. */
	assert_int_not_equal(profile_secrets(sealed, d->type, PROFILE_UNSEAL, f->sb, "OTHER",
		&plain, &err), TW_OK);
	json_decref(sealed);
	json_decref(masked);
	profile_doc_free(d);
}

/* ---- service layer ---- */

static tw_rc put(struct fixture *f, const char *doc, struct tw_error *err)
{
	struct profile_put_result res;

	return profile_admin_put(f->st, f->sb, &who, GW, doc, strlen(doc), &res, err);
}

static void test_put_rules_and_references(void **state)
{
	struct fixture *f = *state;
	struct store_profile row;
	struct tw_error err;
	json_t *shown = NULL, *wire = NULL;
	char type[16], hash[65], *text;

	/* Evaluation before its meter: refused (reference), nothing stored. */
	assert_int_equal(put(f, eval_doc, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "meter"));
	assert_int_equal(put(f, meter_doc, &err), TW_OK);
	assert_int_equal(put(f, wan_doc, &err), TW_OK);
	/* T-PV.4: the EMT is not authorised for this gateway. */
	assert_int_equal(put(f, eval_doc, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "T-PV.4"));
	assert_true(audit_count(f->st, "profile.put", "refused") >= 2);
	assert_int_equal(profile_admin_emt(f->st, &who, GW, "EMT-A", false, &err), TW_OK);
	/* Authorised for the other gateway only does not count. */
	assert_int_equal(profile_admin_emt(f->st, &who, "SMGW-T-0002", "EMT-B", false, &err), TW_OK);
	assert_int_equal(put(f, eval_doc, &err), TW_OK);
	assert_int_equal(put(f, proxy_doc, &err), TW_OK);
	assert_int_equal(put(f, han_doc, &err), TW_OK);
	assert_int_equal(audit_count(f->st, "profile.put", "ok"), 5);

	/* The stored row holds no secret in clear. */
	assert_int_equal(store_profile_get(f->st, GW, "meter-1", &row, &err), TW_OK);
	assert_null(strstr(row.doc, METER_KEY));
	assert_non_null(strstr(row.doc, SECRETBOX_PREFIX));
	store_profile_clear(&row);
	/* show masks and is logged; wire unseals and matches the hash. */
	assert_int_equal(profile_admin_show(f->st, &who, GW, "meter-1", &shown, type, hash, &err),
		TW_OK);
	text = json_dumps(shown, 0);
	assert_null(strstr(text, METER_KEY));
	free(text);
	json_decref(shown);
	assert_int_equal(audit_count(f->st, "profile.read", "ok"), 1);
	assert_int_equal(profile_admin_wire(f->st, f->sb, GW, "meter-1", &wire, hash, &err), TW_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(wire, "key"),
		"value")), METER_KEY);
	json_decref(wire);

	/* References: meter and WAN profile in use, EMT in use. */
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "meter-1", &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "taf1"));
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "wan-emt", &err), TW_E_DENIED);
	assert_int_equal(profile_admin_emt(f->st, &who, GW, "EMT-A", true, &err), TW_E_DENIED);
	assert_int_equal(audit_count(f->st, "profile.delete", "refused"), 2);
	/* A WAN profile recipient change that would redirect the evaluation data: refused. */
	{
		char other[sizeof(wan_doc) + 8];
		char *p;

		snprintf(other, sizeof(other), "%s", wan_doc);
		p = strstr(other, "EMT-A");
		p[4] = 'Z';
		assert_int_equal(put(f, other, &err), TW_E_DENIED);
	}
	/* The type of an id is fixed. */
	assert_int_equal(put(f, "{\"profile_id\":\"taf1\",\"type\":\"han\",\"interface\":"
		"\"ethernet\",\"session_timeout_s\":600,\"users\":[{\"name\":\"c\",\"role\":"
		"\"consumer\",\"password\":\"longenough\"}]}", &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "evaluation profile"));
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "taf1", &err), TW_OK);
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "meter-1", &err), TW_OK);
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "meter-1", &err), TW_E_NOT_FOUND);
	assert_int_equal(profile_admin_emt(f->st, &who, GW, "EMT-A", true, &err), TW_OK);

	/* Tampering with a stored row is detected before anything is sent. */
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "sqlite3 '%s' \"UPDATE profiles SET doc=replace(doc,"
			"'emt.example','evil.example') WHERE profile_id='wan-emt'\"", f->path);
		if (system(cmd) == 0) {
			assert_int_equal(profile_admin_wire(f->st, f->sb, GW, "wan-emt", &wire, hash,
				&err), TW_E_INTEGRITY);
		}
	}
}

static void test_drift(void **state)
{
	struct fixture *f = *state;
	struct profile_drift d;
	struct tw_error err;
	json_t *set = NULL;
	bool drift = true;

	assert_int_equal(put(f, meter_doc, &err), TW_OK);
	assert_int_equal(put(f, wan_doc, &err), TW_OK);
	assert_int_equal(profile_admin_drift(f->st, GW, &d, &err), TW_OK);
	assert_false(d.reported);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.rows[0].state, PROFILE_NOT_REPORTED);
	profile_drift_clear(&d);
	/* The gateway reports exactly the desired set. */
	assert_int_equal(profile_admin_desired_set(f->st, GW, &set, &err), TW_OK);
	assert_int_equal(profile_admin_report(f->st, GW, set, "session", "1.2.3.4", &drift, &err),
		TW_OK);
	assert_false(drift);
	assert_int_equal(profile_admin_drift(f->st, GW, &d, &err), TW_OK);
	assert_true(d.in_sync);
	profile_drift_clear(&d);
	/* The same in-sync report again (every session): nothing to store or log. */
	assert_int_equal(profile_admin_report(f->st, GW, set, "session", NULL, &drift, &err),
		TW_OK);
	assert_false(drift);
	assert_int_equal(audit_count(f->st, "profile.report", NULL), 1);
	/* The GWA changes its mind: drift until the gateway reports the new set. */
	assert_int_equal(profile_admin_delete(f->st, &who, GW, "wan-emt", &err), TW_OK);
	assert_int_equal(profile_admin_drift(f->st, GW, &d, &err), TW_OK);
	assert_false(d.in_sync);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.rows[1].profile_id, "wan-emt");
	assert_int_equal(d.rows[1].state, PROFILE_UNEXPECTED_AT_GATEWAY);
	profile_drift_clear(&d);
	assert_int_equal(profile_admin_report(f->st, GW, set, "session", NULL, &drift, &err),
		TW_OK);
	assert_true(drift);
	assert_int_equal(audit_count(f->st, "profile.report", "drift"), 1);
	assert_int_equal(audit_count(f->st, "profile.report", "in-sync"), 1);
	/* A report whose hash does not match its list is refused and changes nothing. */
	json_object_set_new(set, "profile_set_hash", json_string(
		"0000000000000000000000000000000000000000000000000000000000000000"));
	assert_int_equal(profile_admin_report(f->st, GW, set, "session", NULL, &drift, &err),
		TW_E_INVALID);
	json_decref(set);
}

/* ---- alarms (T-AB.1, actions) ---- */

static void test_alarms(void **state)
{
	struct fixture *f = *state;
	const char *body = "{\"gateway_id\":\"" GW "\",\"kind\":\"alarm\",\"type\":\"tamper\","
		"\"severity\":\"critical\",\"time\":\"2026-11-24T06:51:41Z\",\"message\":\"case opened\"}";
	const char *conf_text = "[monitor]\nalarm_actions = alert\naction.tamper = alert, none\n";
	struct tw_config *conf = NULL;
	struct monitor_message m;
	struct monitor_actions a;
	struct tw_error err;
	int64_t ack = 0;

	assert_int_equal(monitor_message_parse(body, strlen(body), &m, &err), TW_OK);
	assert_int_equal(tw_config_parse(conf_text, strlen(conf_text), "test", &conf, &err), TW_OK);
	assert_int_equal(monitor_actions_for(conf, &m, &a, &err), TW_OK);
	assert_true(a.alert);
	assert_false(a.selftest);
	/* T-AB.1: the TLS identity is another gateway: refused, nothing stored. */
	assert_int_equal(monitor_receive(f->st, conf, "SMGW-T-0002", "peer", &m, &ack, &err),
		TW_E_DENIED);
	assert_int_equal(audit_count(f->st, "gateway.alarm", NULL), 0);
	assert_int_equal(monitor_receive(f->st, conf, GW, "peer", &m, &ack, &err), TW_OK);
	assert_true(ack > 0);
	assert_int_equal(audit_count(f->st, "gateway.alarm", "ok"), 1);
	tw_config_free(conf);
	/* Strict parsing. */
	assert_int_not_equal(monitor_message_parse("{\"gateway_id\":\"x\"}", 18, &m, &err), TW_OK);
	assert_int_equal(monitor_message_parse("nope", 4, &m, &err), TW_E_PROTOCOL);
	conf_text = "[monitor]\naction.tamper = explode\n";
	assert_int_equal(tw_config_parse(conf_text, strlen(conf_text), "test", &conf, &err), TW_OK);
	assert_int_equal(monitor_message_parse(body, strlen(body), &m, &err), TW_OK);
	assert_int_equal(monitor_actions_for(conf, &m, &a, &err), TW_E_CONFIG);
	tw_config_free(conf);
}

/* ---- signed logs (UC-3.4.2) ---- */

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)GW, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static int log_status_cb(const struct store_gateway_log *l, enum monitor_log_status st,
	void *arg)
{
	size_t *counts = arg;

	(void)l;
	counts[st]++;
	return 0;
}

static void test_signed_logs(void **state)
{
	struct fixture *f = *state;
	struct monitor_log_entry e[3];
	struct monitor_ingest_stats st;
	struct tw_error err;
	EVP_PKEY *key = NULL;
	json_t *res = NULL;
	size_t counts[3] = { 0, 0, 0 };
	X509 *cert;

	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &key, &err), TW_OK);
	cert = self_signed(key);
	/* No SIG certificate yet: nothing can be verified, nothing stored. */
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		e[i].seq = i + 1;
		snprintf(e[i].time, sizeof(e[i].time), "2026-11-24T06:5%d:00Z", i);
		snprintf(e[i].message, sizeof(e[i].message), "event %d", i + 1);
		assert_int_equal(monitor_log_sign(key, GW, "system", &e[i], &err), TW_OK);
	}
	/* Entry 3 was altered after signing (on the gateway's disk, or in transit). */
	snprintf(e[2].message, sizeof(e[2].message), "nothing happened");
	assert_int_equal(monitor_logs_to_json("system", e, 3, &res, &err), TW_OK);
	assert_int_equal(monitor_logs_ingest(f->st, GW, res, "peer", &st, &err), TW_E_NOT_FOUND);
	assert_int_equal(pki_certificate_record(f->st, f->tenant, cert, "smgw", GW, "SIG", &err),
		TW_OK);
	assert_int_equal(monitor_logs_ingest(f->st, GW, res, "peer", &st, &err), TW_OK);
	assert_int_equal(st.stored, 3);
	assert_int_equal(st.invalid, 1);
	assert_int_equal(audit_count(f->st, "gateway.log.receive", "invalid-signature"), 1);
	/* Again: duplicates, nothing new. */
	assert_int_equal(monitor_logs_ingest(f->st, GW, res, "peer", &st, &err), TW_OK);
	assert_int_equal(st.duplicates, 3);
	assert_int_equal(st.stored, 0);
	/* Kept verifiable: re-verified on display. */
	assert_int_equal(monitor_logs_show(f->st, "os:test", "local-admin", "local:1", GW, NULL,
		log_status_cb, counts, &err), TW_OK);
	assert_int_equal(counts[MONITOR_LOG_VALID], 2);
	assert_int_equal(counts[MONITOR_LOG_INVALID], 1);
	assert_int_equal(audit_count(f->st, "gateway.log.read", "ok"), 1);
	json_decref(res);
	/* Bad results are refused. */
	res = json_pack("{s:s,s:[{s:I,s:s,s:s,s:s}]}", "kind", "system", "entries", "seq",
		(json_int_t)0, "time", "2026-11-24T06:50:00Z", "message", "x", "signature", "AAAA");
	assert_int_equal(monitor_logs_ingest(f->st, GW, res, "peer", &st, &err), TW_E_PROTOCOL);
	json_decref(res);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* ---- a put or delete and its order job: one transaction ---- */

static int count_all_cb(const struct store_audit_row *row, void *arg)
{
	(void)row;
	(*(size_t *)arg)++;
	return 0;
}

static size_t audit_total(struct tw_store *st)
{
	struct tw_error err;
	size_t n = 0;

	assert_int_equal(store_audit_foreach(st, 1, count_all_cb, &n, &err), TW_OK);
	return n;
}

static size_t desired_count(struct tw_store *st)
{
	struct tw_error err;
	json_t *set = NULL;
	size_t n;

	assert_int_equal(profile_admin_desired_set(st, GW, &set, &err), TW_OK);
	n = json_array_size(json_object_get(set, "profiles"));
	json_decref(set);
	return n;
}

static void test_put_and_job_are_atomic(void **state)
{
	struct fixture *f = *state;
	struct profile_put_result res;
	struct store_job job;
	struct job_spec spec;
	struct job_actor jwho = { "os:test", "local-admin", "local:1" };
	struct tw_error err;
	sqlite3 *db = NULL;
	json_t *payload;
	int64_t job_id = -1;
	size_t before;

	/* A gateway that cannot take jobs: the store refuses every job row for GW. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER no_jobs BEFORE INSERT ON jobs WHEN "
		"NEW.gateway_id = '" GW "' BEGIN SELECT RAISE(ABORT, 'gateway takes no jobs'); END",
		NULL, NULL, NULL), SQLITE_OK);

	/* put: the job fails, so the desired profile is not stored either. */
	before = audit_total(f->st);
	assert_int_not_equal(profile_admin_put_job(f->st, f->sb, &who, GW, meter_doc,
		strlen(meter_doc), true, &res, &job_id, &err), TW_OK);
	assert_int_equal(job_id, 0);
	assert_int_equal(desired_count(f->st), 0);
	/* The admin log only gained the refusal (no "profile.put ok", no "job.create"). */
	assert_int_equal(audit_total(f->st), before + 1);
	assert_int_equal(audit_count(f->st, "profile.put", "refused"), 1);
	assert_int_equal(audit_count(f->st, "profile.put", "ok"), 0);
	assert_int_equal(audit_count(f->st, "job.create", NULL), 0);

	/* delete: the job fails, so the profile stays desired. */
	assert_int_equal(profile_admin_put_job(f->st, f->sb, &who, GW, meter_doc,
		strlen(meter_doc), false, &res, &job_id, &err), TW_OK);
	assert_int_equal(job_id, 0);
	assert_int_equal(desired_count(f->st), 1);
	before = audit_total(f->st);
	assert_int_not_equal(profile_admin_delete_job(f->st, &who, GW, "meter-1", true, &job_id,
		&err), TW_OK);
	assert_int_equal(job_id, 0);
	assert_int_equal(desired_count(f->st), 1);
	assert_int_equal(audit_total(f->st), before + 1);
	assert_int_equal(audit_count(f->st, "profile.delete", "refused"), 1);
	assert_int_equal(audit_count(f->st, "profile.delete", "ok"), 0);
	assert_int_equal(audit_count(f->st, "job.create", NULL), 0);

	/* An order that fails its type's validation rolls back the same way (job_create_in_tx
	 * inside the caller's transaction, then rollback). */
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(profile_admin_delete_in_tx(f->st, &who, GW, "meter-1", &err), TW_OK);
	memset(&spec, 0, sizeof(spec));
	spec.type = "profile-insert";
	spec.payload = payload = json_pack("{s:s,s:s}", "profile_id", "meter-1", "hash", res.hash);
	spec.retry_delay_s = -1;
	/* meter-1 is no longer desired inside this transaction: T-PV.2 refuses the order. */
	assert_int_equal(job_create_in_tx(f->st, GW, &spec, &jwho, &job_id, &err),
		TW_E_INVALID);
	assert_int_equal(job_id, 0);
	store_rollback(f->st);
	assert_int_equal(desired_count(f->st), 1);
	/* ... and job_create_in_tx refuses to run without the caller's transaction. */
	assert_int_equal(job_create_in_tx(f->st, GW, &spec, &jwho, &job_id, &err), TW_E_INTERNAL);
	assert_non_null(strstr(err.message, "transaction"));
	json_decref(payload);

	/* Jobs possible again: put and delete store the data, the job and both log entries. */
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_jobs", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(profile_admin_put_job(f->st, f->sb, &who, GW, wan_doc, strlen(wan_doc),
		true, &res, &job_id, &err), TW_OK);
	assert_true(job_id > 0);
	assert_int_equal(desired_count(f->st), 2);
	memset(&job, 0, sizeof(job));
	assert_int_equal(store_job_get(f->st, job_id, &job, &err), TW_OK);
	assert_string_equal(job.type, "profile-insert");
	assert_string_equal(job.gateway_id, GW);
	assert_non_null(strstr(job.payload, res.hash));
	store_job_clear(&job);
	assert_int_equal(audit_count(f->st, "profile.put", "ok"), 2);
	assert_int_equal(audit_count(f->st, "job.create", "ok"), 1);
	assert_int_equal(profile_admin_delete_job(f->st, &who, GW, "wan-emt", true, &job_id,
		&err), TW_OK);
	assert_true(job_id > 0);
	assert_int_equal(desired_count(f->st), 1);
	memset(&job, 0, sizeof(job));
	assert_int_equal(store_job_get(f->st, job_id, &job, &err), TW_OK);
	assert_string_equal(job.type, "profile-delete");
	store_job_clear(&job);
	assert_int_equal(audit_count(f->st, "profile.delete", "ok"), 1);
	assert_int_equal(audit_count(f->st, "job.create", "ok"), 2);
}

/* ---- order hooks ---- */

static void test_order_hooks(void **state)
{
	struct fixture *f = *state;
	struct profile_put_result res;
	struct tw_error err;
	json_t *payload, *wire = NULL, *result, *set = NULL;
	const struct order_type *t;
	struct order_ctx ctx;
	unsigned char key[32];
	struct secretbox *sb = NULL;

	assert_int_equal(profile_admin_put(f->st, f->sb, &who, GW, meter_doc, strlen(meter_doc),
		&res, &err), TW_OK);
	assert_non_null(t = order_find("profile-insert"));
	payload = json_pack("{s:s,s:s}", "profile_id", "meter-1", "hash", res.hash);
	assert_int_equal(order_validate(f->st, "profile-insert", GW, payload, &err), TW_OK);
	/* T-PV.2: a payload naming something never validated is refused. */
	{
		json_t *bad = json_pack("{s:s,s:s}", "profile_id", "nope", "hash", res.hash);

		assert_int_not_equal(order_validate(f->st, "profile-insert", GW, bad, &err), TW_OK);
		json_decref(bad);
	}
	memset(key, 7, sizeof(key));
	assert_int_equal(secretbox_from_key(key, &sb, &err), TW_OK);
	profile_orders_set_box(sb);
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = f->st;
	ctx.gateway_id = GW;
	ctx.type = "profile-insert";
	ctx.payload = payload;
	assert_int_equal(t->to_wire(&ctx, &wire, &err), TW_OK);
	assert_string_equal(json_string_value(json_object_get(wire, "gateway_id")), GW);
	assert_non_null(json_object_get(json_object_get(wire, "profile"), "key"));
	json_decref(wire);
	/* The result carries the gateway's set: recorded as reported, in the job's tx. */
	assert_int_equal(profile_admin_desired_set(f->st, GW, &set, &err), TW_OK);
	result = json_pack("{s:s,s:s,s:O}", "profile_id", "meter-1", "hash", res.hash,
		"profiles", set);
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(t->on_result(&ctx, result, &err), TW_OK);
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	json_decref(result);
	/* A result for another hash fails the job. */
	result = json_pack("{s:s,s:s,s:O}", "profile_id", "meter-1", "hash", "00", "profiles", set);
	assert_int_equal(t->on_result(&ctx, result, &err), TW_E_PROTOCOL);
	json_decref(result);
	json_decref(set);
	json_decref(payload);
	/* profile-read: a gateway returning a secret in clear has its result refused. */
	t = order_find("profile-read");
	assert_non_null(t);
	ctx.type = "profile-read";
	assert_int_equal(profile_admin_desired_set(f->st, GW, &set, &err), TW_OK);
	result = json_pack("{s:[o],s:O}", "documents", json_loads(meter_doc, 0, NULL), "profiles",
		set);
	assert_int_equal(t->on_result(&ctx, result, &err), TW_E_PROTOCOL);
	assert_non_null(strstr(err.message, "in clear"));
	json_decref(result);
	json_decref(set);
	/* log-read and self-test payloads. */
	payload = json_pack("{s:s,s:I,s:I}", "kind", "calibration", "from", (json_int_t)1,
		"to", (json_int_t)10);
	assert_int_equal(order_validate(f->st, "log-read", GW, payload, &err), TW_OK);
	json_object_set_new(payload, "to", json_integer(0));
	assert_int_equal(order_validate(f->st, "log-read", GW, payload, &err), TW_E_INVALID);
	json_decref(payload);
	payload = json_object();
	assert_int_equal(order_validate(f->st, "self-test", GW, payload, &err), TW_OK);
	json_decref(payload);
	result = json_pack("{s:s,s:[{s:s,s:b}]}", "result", "passed", "checks", "name", "clock",
		"ok", 0);
	assert_int_equal(monitor_selftest_record(f->st, GW, result, &err), TW_E_PROTOCOL);
	json_decref(result);
	result = json_pack("{s:s,s:[{s:s,s:b}]}", "result", "failed", "checks", "name", "clock",
		"ok", 0);
	assert_int_equal(monitor_selftest_record(f->st, GW, result, &err), TW_OK);
	assert_int_equal(audit_count(f->st, "gateway.selftest", "failed"), 1);
	json_decref(result);
	profile_orders_set_box(NULL);
}

/* ---- the simulator's side (sim_profiles.c, sim_monitor.c) ---- */

static tw_rc sim_exec(struct sim_gw *gw, const char *type, json_t *payload, json_t **result,
	const char **code)
{
	struct tw_error err;
	tw_rc rc = sim_order_execute(gw, type, payload, result, code, &err);

	json_decref(payload);
	return rc;
}

static json_t *insert_payload(const char *gw, const char *doc)
{
	return json_pack("{s:s,s:o}", "gateway_id", gw, "profile", json_loads(doc, 0, NULL));
}

static void test_simulator_handlers(void **state)
{
	struct fixture *f = *state;
	struct sim_gw gw;
	struct tw_error err;
	struct profile_set_item *items = NULL;
	struct monitor_log_entry *entries = NULL;
	struct profile_drift d;
	json_t *result = NULL, *before, *set = NULL;
	const char *code = NULL;
	char hash[65], kind[16], *text;
	size_t n = 0;
	bool valid = false;

	memset(&gw, 0, sizeof(gw));
	gw.dir = f->dir;
	gw.id = GW;
	gw.state = json_object();
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &gw.sig_key, &err), TW_OK);

	/* T-PV.1: an order for another gateway is refused, state untouched. */
	assert_int_not_equal(sim_exec(&gw, "profile-insert", insert_payload("OTHER", meter_doc),
		&result, &code), TW_OK);
	assert_string_equal(code, "wrong_gateway");
	assert_int_equal(json_object_size(gw.state), 0);
	/* The gateway validates too: evaluation before its meter is refused. */
	assert_int_not_equal(sim_exec(&gw, "profile-insert", insert_payload(GW, eval_doc),
		&result, &code), TW_OK);
	assert_string_equal(code, "unknown_meter");
	assert_int_equal(sim_exec(&gw, "profile-insert", insert_payload(GW, meter_doc), &result,
		&code), TW_OK);
	json_decref(result);
	assert_int_equal(sim_exec(&gw, "profile-insert", insert_payload(GW, wan_doc), &result,
		&code), TW_OK);
	json_decref(result);
	assert_int_equal(sim_exec(&gw, "profile-insert", insert_payload(GW, eval_doc), &result,
		&code), TW_OK);
	/* The hash the gateway reports is the GWA's hash of the same document. */
	assert_int_equal(profile_admin_emt(f->st, &who, GW, "EMT-A", false, &err), TW_OK);
	assert_int_equal(put(f, meter_doc, &err), TW_OK);
	assert_int_equal(put(f, wan_doc, &err), TW_OK);
	assert_int_equal(put(f, eval_doc, &err), TW_OK);
	assert_int_equal(profile_admin_report(f->st, GW, json_object_get(result, "profiles"),
		"order", NULL, NULL, &err), TW_OK);
	assert_int_equal(profile_admin_drift(f->st, GW, &d, &err), TW_OK);
	assert_true(d.in_sync);
	profile_drift_clear(&d);
	json_decref(result);

	/* UC-3.3.2 footnote 3: the gateway refuses to delete a referenced meter profile. */
	before = json_deep_copy(gw.state);
	assert_int_not_equal(sim_exec(&gw, "profile-delete", json_pack("{s:s,s:s}", "gateway_id",
		GW, "profile_id", "meter-1"), &result, &code), TW_OK);
	assert_string_equal(code, "referenced");
	assert_true(json_equal(before, gw.state));
	json_decref(before);
	/* Reads never carry secrets. */
	assert_int_equal(sim_exec(&gw, "profile-read", json_pack("{s:s}", "gateway_id", GW),
		&result, &code), TW_OK);
	text = json_dumps(result, 0);
	assert_null(strstr(text, METER_KEY));
	assert_non_null(strstr(text, "\"***\""));
	free(text);
	json_decref(result);
	/* The status member parses as a set. */
	assert_int_equal(sim_status_profiles.report(&gw, &set, &err), TW_OK);
	assert_int_equal(profile_set_parse(set, &items, &n, hash, &err), TW_OK);
	assert_int_equal(n, 3);
	free(items);
	json_decref(set);
	/* Self-test, and signed log entries that verify with the SIG key. */
	assert_int_equal(sim_exec(&gw, "self-test", json_pack("{s:s}", "gateway_id", GW),
		&result, &code), TW_OK);
	assert_string_equal(json_string_value(json_object_get(result, "result")), "passed");
	json_decref(result);
	assert_int_equal(sim_exec(&gw, "log-read", json_pack("{s:s,s:s,s:I,s:I}", "gateway_id", GW,
		"kind", "system", "from", (json_int_t)1, "to", (json_int_t)100), &result, &code), TW_OK);
	assert_int_equal(monitor_logs_parse(result, kind, &entries, &n, &err), TW_OK);
	assert_int_equal(n, 4);   /* three inserts and the self-test */
	assert_int_equal(monitor_log_verify(gw.sig_key, GW, kind, &entries[0], &valid, &err),
		TW_OK);
	assert_true(valid);
	assert_int_equal(monitor_log_verify(gw.sig_key, "OTHER", kind, &entries[0], &valid, &err),
		TW_OK);
	assert_false(valid);
	free(entries);
	json_decref(result);
	/* Alarms on demand in the session status. */
	sim_monitor_set_alarm("tamper", "critical");
	assert_int_equal(sim_status_alarms.report(&gw, &set, &err), TW_OK);
	{
		struct monitor_message m;
		int64_t ack;

		assert_int_equal(monitor_message_from_json(json_array_get(set, 0), &m, &err), TW_OK);
		assert_int_equal(monitor_receive(f->st, NULL, GW, "sim", &m, &ack, &err), TW_OK);
	}
	json_decref(set);
	sim_monitor_set_alarm(NULL, NULL);
	EVP_PKEY_free(gw.sig_key);
	json_decref(gw.state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schemas_accept_valid_documents),
		cmocka_unit_test(test_schemas_refuse_bad_documents),
		cmocka_unit_test(test_hashes_are_canonical),
		cmocka_unit_test_setup_teardown(test_secretbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secretbox_key_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secrets_seal_mask_unseal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_rules_and_references, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_and_job_are_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simulator_handlers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
