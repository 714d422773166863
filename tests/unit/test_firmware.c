/*
 * test_firmware.c: the firmware catalogue (gwa/firmware.h, store_firmware.h) and the CA
 * key activation state (pki/ca_state.h), including migration 0007's carry-over of the
 * CAs of older homes. No token needed: nothing here signs.
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
#include <sqlite3.h>

#include "base/error.h"
#include "base/home.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "pki/ca_state.h"
#include "store/store.h"
#include "store/store_ca.h"
#include "store/store_firmware.h"

struct fx {
	char dir[64];
	char db[128];
	struct tw_home *home;
	struct tw_store *st;
};

static const struct firmware_actor who = { "unit:alice", "firmware-manager", "unit" };
static const struct ca_actor ca_who = { "unit:bob", "ca-operator", "unit" };

static int fx_setup(void **state)
{
	static const char conf[] = "[store]\nurl = store.db\n[firmware]\nmax_size = 1000\n";
	struct fx *f = calloc(1, sizeof(*f));
	struct tw_error err;
	char path[160];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-test-fw-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", f->dir);
	assert_int_equal(tw_write_file(path, conf, sizeof(conf) - 1, 0600, true, &err), TW_OK);
	assert_int_equal(tw_home_open(f->dir, &f->home, &err), TW_OK);
	snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
	assert_int_equal(store_open(f->db, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->st);
	tw_home_free(f->home);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Write n bytes of pattern c to DIR/name; returns the path (static). */
static const char *fx_file(const struct fx *f, const char *name, size_t n, int c)
{
	static char path[160];
	unsigned char *buf = malloc(n > 0 ? n : 1);
	struct tw_error err;

	assert_non_null(buf);
	memset(buf, c, n);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
	assert_int_equal(tw_write_file(path, buf, n, 0600, true, &err), TW_OK);
	free(buf);
	return path;
}

static long fx_count(const struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void fx_exec(const struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Files in HOME/firmware (leftover temporary uploads count too). */
static long fx_files(const struct fx *f)
{
	char cmd[160];
	char line[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/firmware' 2>/dev/null | wc -l", f->dir);
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	pclose(p);
	return strtol(line, NULL, 10);
}

static void test_labels(void **state)
{
	static const char *const good[] = { "PPC/SMGW-2", "1.0.0", "v2+build.7", "a_b", "X" };
	static const char *const bad[] = { "", "/abs", ".hidden", "-opt", "a b", "ü", "a;b",
		"x\ny" };
	struct tw_error err;
	char longer[STORE_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(firmware_label_check(good[i], "model", &err), TW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(firmware_label_check(bad[i], "model", &err), TW_E_INVALID);
	assert_int_equal(firmware_label_check(NULL, "model", &err), TW_E_INVALID);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(firmware_label_check(longer, "model", &err), TW_E_INVALID);
	longer[STORE_ID_MAX] = '\0';
	assert_int_equal(firmware_label_check(longer, "model", &err), TW_OK);
}

static void test_add_and_refusals(void **state)
{
	struct fx *f = *state;
	struct store_firmware img, got;
	struct tw_error err;
	char dirpath[160];
	long max = 0;

	assert_int_equal(firmware_max_size(f->home, &max, &err), TW_OK);
	assert_int_equal(max, 1000);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "a.img", 1000, 'a'),
		"PPC/SMGW-2", "1.0.0", &img, &err), TW_OK);
	assert_int_equal(img.id, 1);
	assert_int_equal(img.size, 1000);
	assert_string_equal(img.state, "uploaded");
	assert_string_equal(img.signature, "unverified");
	assert_int_equal(store_firmware_get(f->st, img.id, &got, &err), TW_OK);
	assert_string_equal(got.sha256, img.sha256);
	assert_string_equal(got.uploaded_by, "unit:alice");
	assert_int_equal(firmware_verify_file(f->home, &got, &err), TW_OK);

	/* Refusals: nothing stored, no file left, each logged as refused. */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "b.img", 1000, 'a'),
		"PPC/SMGW-2", "1.0.1", NULL, &err), TW_E_EXISTS);     /* same bytes */
	assert_non_null(strstr(err.message, "already firmware image 1"));
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "c.img", 10, 'c'),
		"PPC/SMGW-2", "1.0.0", NULL, &err), TW_E_EXISTS);     /* same model+version */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "d.img", 0, 'd'),
		"PPC/SMGW-2", "2", NULL, &err), TW_E_INVALID);        /* empty */
	assert_non_null(strstr(err.message, "empty"));
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "e.img", 1001, 'e'),
		"PPC/SMGW-2", "3", NULL, &err), TW_E_TOO_LARGE);      /* over max_size */
	assert_int_equal(firmware_add(f->home, f->st, &who, "/nonexistent/x.img",
		"PPC/SMGW-2", "4", NULL, &err), TW_E_NOT_FOUND);
	snprintf(dirpath, sizeof(dirpath), "%s", f->dir);
	assert_int_equal(firmware_add(f->home, f->st, &who, dirpath, "PPC/SMGW-2", "5", NULL,
		&err), TW_E_INVALID);                                 /* a directory */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "g.img", 5, 'g'),
		"../evil", "6", NULL, &err), TW_E_INVALID);           /* bad label */
	assert_int_equal(fx_count(f, "SELECT count(*) FROM firmware_images"), 1);
	assert_int_equal(fx_files(f), 1);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.add' AND result = 'refused'"), 7);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.add' AND result = 'ok'"), 1);
}

static void test_release_withdraw(void **state)
{
	struct fx *f = *state;
	struct store_firmware a, b, got;
	struct tw_error err;
	char path[200];

	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "a.img", 100, 'a'),
		"M", "1", &a, &err), TW_OK);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "b.img", 100, 'b'),
		"M", "2", &b, &err), TW_OK);
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, &got, &err), TW_OK);
	assert_string_equal(got.state, "released");
	assert_string_equal(got.released_by, "unit:alice");
	assert_true(got.released_ms > 0);
	/* Only uploaded -> released. */
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, NULL, &err), TW_E_DENIED);
	assert_int_equal(firmware_release(f->home, f->st, &who, 99, NULL, &err), TW_E_NOT_FOUND);
	/* T-SU.1: a changed file at rest is not released. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, b.path);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(tw_write_file(path, "tampered", 8, 0600, false, &err), TW_OK);
	assert_int_equal(firmware_release(f->home, f->st, &who, b.id, NULL, &err),
		TW_E_INTEGRITY);
	assert_int_equal(store_firmware_get(f->st, b.id, &got, &err), TW_OK);
	assert_string_equal(got.state, "uploaded");
	/* withdraw from released and from uploaded; withdrawn is final. */
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, a.id, "CVE-1", &got, &err),
		TW_OK);
	assert_string_equal(got.state, "withdrawn");
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, b.id, NULL, &got, &err), TW_OK);
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, a.id, NULL, NULL, &err),
		TW_E_DENIED);
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, NULL, &err), TW_E_DENIED);
	/* The store refuses moves outside the state machine even if a caller asks. */
	assert_int_equal(store_firmware_transition(f->st, a.id, "withdrawn", "released", 1,
		"x", &err), TW_E_INTERNAL);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action IN "
		"('firmware.release', 'firmware.withdraw') AND result = 'ok'"), 3);
}

static void test_ca_state(void **state)
{
	struct fx *f = *state;
	struct store_ca_key_state row;
	struct tw_error err;
	bool active = true, found = true, changed = false;
	char path[160];

	/* Fail closed: a CA without a record is inactive. */
	assert_int_equal(ca_state_get(f->st, "sub-ca", &active, &row, &found, &err), TW_OK);
	assert_false(found);
	assert_false(active);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "issuance", &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "torwart ca activate"));
	assert_non_null(strstr(err.message, "never been activated"));
	/* Activation needs a configured CA with its certificate. */
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, NULL, &changed,
		&err), TW_E_NOT_FOUND);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "other", true, NULL, &changed,
		&err), TW_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "[ca.other]"));
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "bad name", true, NULL, &changed,
		&err), TW_E_CONFIG);
	snprintf(path, sizeof(path), "%s/pki", f->dir);
	assert_int_equal(tw_mkdir_p(path, 0700, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/pki/sub-ca.crt", f->dir);
	assert_int_equal(tw_write_file(path, "x", 1, 0600, true, &err), TW_OK);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, "ceremony 7",
		&changed, &err), TW_OK);
	assert_true(changed);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "issuance", &err), TW_OK);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, NULL, &changed,
		&err), TW_OK);
	assert_false(changed);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", false, "end of shift",
		&changed, &err), TW_OK);
	assert_true(changed);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "CRL signing", &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "CRL signing refused"));
	assert_non_null(strstr(err.message, "end of shift"));
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'ca.key.activate' AND object = 'ca:sub-ca'"), 3);   /* refused, ok, unchanged */
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'ca.key.deactivate' AND result = 'ok'"), 1);
	assert_int_equal(ca_state_activate_created(f->st, "unit:carol", "operator", "new",
		&err), TW_OK);
	assert_int_equal(ca_state_require_active(f->st, "operator", "CRL signing", &err), TW_OK);
}

/* Migration 0007 on an older home: its CA certificates' CAs come out active. */
static void test_migration_carry_over(void **state)
{
	struct fx *f = *state;
	struct store_ca_key_state row;
	struct tw_error err;
	bool active = false, found = false;

	/* Back to schema 6 (later migrations undone too) with a CA certificate recorded, as
	 * init --test-pki left it. */
	fx_exec(f, "DROP TABLE firmware_images; DROP TABLE ca_key_state; "
		"DROP TABLE admin_log_verified; DROP TABLE ws_device_admin; DROP TABLE ws_endpoints; "
		"DROP TABLE ws_outbox; DROP TABLE ws_client_requests; "
		"DROP TABLE metering_messages; "
		"DROP TABLE emt_endpoints; DROP TABLE time_checks; DROP TABLE gateway_time; "
		"DELETE FROM schema_migrations WHERE version >= 7; "
		"INSERT INTO tenants (name, created_ms) VALUES ('default', 0); "
		"INSERT INTO certificates (tenant_id, serial_hex, issuer, subject, owner_kind, "
		"owner_id, usage, not_before, not_after, status, fingerprint, der) VALUES "
		"(1, '01', 'CN=R', 'CN=S', 'ca', 'sub-ca', 'CA', 0, 1, 'valid', 'f1', x'30'), "
		"(1, '02', 'CN=R', 'CN=G', 'gwa', 'GWA', 'SIG', 0, 1, 'valid', 'f2', x'30')");
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(ca_state_get(f->st, "sub-ca", &active, &row, &found, &err), TW_OK);
	assert_true(found);
	assert_true(active);
	assert_string_equal(row.changed_by, "migration:0007");
	assert_true(row.changed_ms > 1700000000000LL);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM ca_key_state"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test_setup_teardown(test_add_and_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_release_withdraw, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ca_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migration_carry_over, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
