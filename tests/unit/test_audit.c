/*
 * test_audit.c: unit tests of the hash-chained admin log (audit.h): canonical encoding,
 * appends, batches, transactions, tamper detection (edit, relink, delete) and one
 * unbroken chain under concurrent appenders (threads and processes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "base/error.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct tw_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tw_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-audit-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	assert_int_equal(store_open(f->path, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	struct fixture *f = *state;
	char p[192];
	size_t i;

	store_close(f->st);
	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Tamper the way an attacker with file access would: a raw connection, no store.c. */
static int raw_exec(const struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void append_n(struct tw_store *st, int n, const char *actor)
{
	struct audit_entry e = {
		.actor = actor, .role = "local-admin", .client = "local:1",
		.action = "test.append", .object = "obj", .result = "ok", .detail = NULL,
	};
	struct tw_error err;
	char detail[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(detail, sizeof(detail), "entry %d", i);
		e.detail = detail;
		if (audit_append(st, &e, &err) != TW_OK)
			fail_msg("audit_append: %s", err.message);
	}
}

struct rows {
	struct store_audit_row r[16];
	int n;
};

static int collect_row(const struct store_audit_row *row, void *arg)
{
	struct rows *rs = arg;

	if (rs->n < 16)
		rs->r[rs->n] = *row;
	rs->n++;
	return 0;
}

/* ---- canonical encoding ---- */

static void put_field(unsigned char *buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	buf[(*len)++] = (unsigned char)(n >> 24);
	buf[(*len)++] = (unsigned char)(n >> 16);
	buf[(*len)++] = (unsigned char)(n >> 8);
	buf[(*len)++] = (unsigned char)n;
	memcpy(buf + *len, s, n);
	*len += n;
}

static void test_row_hash_known_answer(void **state)
{
	struct store_audit_row row;
	unsigned char buf[1024], want[32], got[32];
	unsigned int wl = 0;
	size_t len = 0;

	(void)state;
	memset(&row, 0, sizeof(row));
	row.seq = 42;
	snprintf(row.time, sizeof(row.time), "2026-11-24T06:51:41.123Z");
	snprintf(row.actor, sizeof(row.actor), "alice");
	snprintf(row.role, sizeof(row.role), "local-admin");
	snprintf(row.client, sizeof(row.client), "192.0.2.7");
	snprintf(row.action, sizeof(row.action), "gateway.add");
	snprintf(row.object, sizeof(row.object), "ETWA0012345678");
	snprintf(row.result, sizeof(row.result), "ok");
	memset(row.prev_hash, 0x5a, 32);

	memcpy(buf, row.prev_hash, 32);
	len = 32;
	put_field(buf, &len, "42");
	put_field(buf, &len, row.time);
	put_field(buf, &len, "alice");
	put_field(buf, &len, "local-admin");
	put_field(buf, &len, "192.0.2.7");
	put_field(buf, &len, "gateway.add");
	put_field(buf, &len, "ETWA0012345678");
	put_field(buf, &len, "ok");
	put_field(buf, &len, "");
	assert_int_equal(EVP_Digest(buf, len, want, &wl, EVP_sha256(), NULL), 1);
	audit_row_hash(&row, got);
	assert_memory_equal(got, want, 32);

	/* Moving a byte from one field into the next must change the hash. */
	snprintf(row.actor, sizeof(row.actor), "alic");
	snprintf(row.role, sizeof(row.role), "elocal-admin");
	audit_row_hash(&row, want);
	assert_memory_not_equal(got, want, 32);
}

/* ---- append and verify ---- */

static void test_append_verify(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct rows rs;
	struct tw_error err;
	unsigned char zero[32] = { 0 }, h[32];
	struct audit_entry e = { .actor = NULL };
	int i;

	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);   /* empty log is intact */
	assert_int_equal(res.entries, 0);

	append_n(f->st, 10, "alice");
	assert_int_equal(audit_append(f->st, &e, &err), TW_OK);      /* all-NULL fields */
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 11);
	assert_int_equal(res.first_bad_seq, 0);

	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_audit_foreach(f->st, 1, collect_row, &rs, &err), TW_OK);
	assert_int_equal(rs.n, 11);
	assert_memory_equal(rs.r[0].prev_hash, zero, 32);
	for (i = 0; i < 11; i++) {
		assert_int_equal(rs.r[i].seq, i + 1);
		audit_row_hash(&rs.r[i], h);
		assert_memory_equal(h, rs.r[i].hash, 32);
		if (i > 0)
			assert_memory_equal(rs.r[i].prev_hash, rs.r[i - 1].hash, 32);
	}
	assert_string_equal(rs.r[0].actor, "alice");
	assert_string_equal(rs.r[0].detail, "entry 0");
	assert_int_equal(strlen(rs.r[0].time), 24);
	assert_int_equal(rs.r[0].time[23], 'Z');
	assert_string_equal(rs.r[10].actor, "");
	assert_string_equal(rs.r[10].detail, "");

	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_audit_foreach(f->st, 9, collect_row, &rs, &err), TW_OK);
	assert_int_equal(rs.n, 3);
	assert_int_equal(rs.r[0].seq, 9);
}

static void test_batch(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	struct audit_entry batch[5];
	char longactor[STORE_NAME_MAX + 2];
	struct store_audit_row last;
	bool found;
	int i;

	memset(batch, 0, sizeof(batch));
	for (i = 0; i < 5; i++) {
		batch[i].actor = "wan";
		batch[i].action = "wan.session.open";
		batch[i].result = "ok";
	}
	append_n(f->st, 2, "bob");
	assert_int_equal(audit_append_batch(f->st, batch, 5, &err), TW_OK);
	assert_int_equal(audit_append_batch(f->st, batch, 0, &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_true(found);
	assert_int_equal(last.seq, 7);

	/* One over-long entry refuses the whole batch and writes nothing. */
	memset(longactor, 'a', sizeof(longactor) - 1);
	longactor[sizeof(longactor) - 1] = '\0';
	batch[3].actor = longactor;
	assert_int_equal(audit_append_batch(f->st, batch, 5, &err), TW_E_TOO_LARGE);
	assert_non_null(strstr(err.message, "actor"));
	assert_int_equal(audit_append(f->st, &batch[3], &err), TW_E_TOO_LARGE);
	assert_false(store_in_transaction(f->st));
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 7);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 7);
}

static void test_in_tx(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	struct store_gateway gw, out;
	struct audit_entry e = { .actor = "alice", .action = "gateway.add",
		.object = "ETWA0000000001", .result = "ok" };
	int64_t tenant;

	assert_int_equal(audit_append_in_tx(f->st, &e, &err), TW_E_INTERNAL);
	assert_int_equal(store_tenant_ensure(f->st, "default", &tenant, &err), TW_OK);
	memset(&gw, 0, sizeof(gw));
	gw.tenant_id = tenant;
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "ETWA0000000001");
	snprintf(gw.state, sizeof(gw.state), "registered");

	/* Data + audit entry rolled back together ... */
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(audit_append_in_tx(f->st, &e, &err), TW_OK);
	assert_int_equal(audit_append_in_tx(f->st, &e, &err), TW_OK);
	store_rollback(f->st);
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000001", &out, &err), TW_E_NOT_FOUND);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 0);

	/* ... and committed together. */
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(audit_append_in_tx(f->st, &e, &err), TW_OK);
	/* audit_append opens its own transaction, so inside ours it is refused. */
	assert_int_equal(audit_append(f->st, &e, &err), TW_E_INTERNAL);
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000001", &out, &err), TW_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 1);
}

/* ---- tampering ---- */

static void test_triggers_block_edits(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 3, "alice");
	assert_int_not_equal(raw_exec(f, "UPDATE admin_log SET actor = 'mallory' WHERE seq = 2"),
		SQLITE_OK);
	assert_int_not_equal(raw_exec(f, "DELETE FROM admin_log WHERE seq = 2"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 3);
}

static void test_tamper_content(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 5, "alice");
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; "
		"UPDATE admin_log SET detail = 'nothing to see' WHERE seq = 3"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 3);
	assert_int_equal(res.entries, 2);
	assert_string_equal(res.reason, "hash mismatch: row content changed");
	assert_non_null(strstr(err.message, "entry 3"));
}

/* Edit a row and fix up its own hash: the next row's link breaks. */
static void test_tamper_relink(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	struct rows rs;
	unsigned char h[32];
	char hex[65], sql[256];
	int i;

	append_n(f->st, 5, "alice");
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(store_audit_foreach(f->st, 1, collect_row, &rs, &err), TW_OK);
	snprintf(rs.r[2].actor, sizeof(rs.r[2].actor), "mallory");
	audit_row_hash(&rs.r[2], h);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	snprintf(sql, sizeof(sql), "DROP TRIGGER admin_log_no_update; UPDATE admin_log SET "
		"actor = 'mallory', hash = x'%s' WHERE seq = 3", hex);
	assert_int_equal(raw_exec(f, sql), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 4);
	assert_string_equal(res.reason, "prev_hash does not match entry 3");
}

static void test_tamper_delete(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 5, "alice");
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_delete; "
		"DELETE FROM admin_log WHERE seq = 3"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 3);
	assert_int_equal(res.entries, 2);
	assert_non_null(strstr(res.reason, "sequence gap after 2"));
}

static void test_tamper_first_and_hash_blob(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 3, "alice");
	/* CHECK(length(hash) = 32) stops a wrong-length hash even without the trigger ... */
	assert_int_not_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; "
		"UPDATE admin_log SET hash = x'00' WHERE seq = 2"), SQLITE_OK);
	/* ... and deleting the first row shows as a gap at 1. */
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_delete; "
		"DELETE FROM admin_log WHERE seq = 1"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 1);
	assert_int_equal(res.entries, 0);
}

/* ---- concurrency ---- */

#define CONC_PER_WRITER 100

struct writer {
	const char *path;
	const char *actor;
	tw_rc rc;
	char msg[TW_ERROR_MESSAGE_MAX];
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct tw_store *st = NULL;
	struct tw_error err;
	struct audit_entry e = { .actor = w->actor, .action = "test.concurrent", .result = "ok" };
	int i;

	w->rc = store_open(w->path, &st, &err);
	for (i = 0; w->rc == TW_OK && i < CONC_PER_WRITER; i++)
		w->rc = audit_append(st, &e, &err);
	if (w->rc != TW_OK)
		snprintf(w->msg, sizeof(w->msg), "%s", err.message);
	store_close(st);
	return NULL;
}

static void test_concurrent_threads(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	struct writer w[3] = {
		{ .path = f->path, .actor = "wan" },
		{ .path = f->path, .actor = "signer" },
		{ .path = f->path, .actor = "cli" },
	};
	pthread_t t[3];
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer_main, &w[i]), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (w[i].rc != TW_OK)
			fail_msg("writer %s: %s", w[i].actor, w[i].msg);
	}
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 3 * CONC_PER_WRITER);
}

static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	pid_t pid[2];
	int i, status;

	/* Children open their own connections; the parent's stays idle meanwhile. */
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct writer w = { .path = f->path, .actor = i ? "child1" : "child0" };

			writer_main(&w);
			_exit(w.rc == TW_OK ? 0 : 1);
		}
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 2 * CONC_PER_WRITER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_hash_known_answer),
		cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_triggers_block_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_relink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_first_and_hash_blob, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
