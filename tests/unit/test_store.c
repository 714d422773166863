/*
 * test_store.c: unit tests of the store (store.h): URL handling, migrations, tenants,
 * gateways, certificates, admin log rows, limits and transactions. Each test gets a fresh
 * SQLite database in its own mkdtemp directory under /tmp; the same cases then run on
 * PostgreSQL, each in a fresh database, when TORWART_TEST_PG names a server
 * ("postgresql://USER@HOST:PORT/", set by tests/unit/with_pg.sh, which starts one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "base/error.h"
#include "base/home.h"
#include "base/util.h"
#include "store/store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct tw_store *st;
	int64_t tenant;
	char db[64];          /* PostgreSQL: the database of this test, "" on SQLite */
	char url[256];        /* the URL the store was opened with */
};

static const char *pg_base;   /* TORWART_TEST_PG; NULL: the SQLite pass */

/* Run SQL on a raw libpq connection to database db (not the store's). */
static PGresult *pg_raw(const char *db, const char *sql)
{
	char url[256];
	PGconn *c;
	PGresult *r;

	snprintf(url, sizeof(url), "%s%s", pg_base, db);
	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("raw SQL failed: %s: %s", sql, PQerrorMessage(c));
	PQfinish(c);
	return r;
}

static void fixture_remove(const struct fixture *f)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[192];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	rmdir(f->dir);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tw_error err;

	static int n;
	char sql[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	snprintf(f->url, sizeof(f->url), "%s", f->path);
	if (pg_base != NULL) {
		snprintf(f->db, sizeof(f->db), "tw_unit_%d_%d", (int)getpid(), ++n);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
		PQclear(pg_raw("postgres", sql));
		snprintf(f->url, sizeof(f->url), "%s%s", pg_base, f->db);
	}
	assert_int_equal(store_open(f->url, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "default", &f->tenant, &err), TW_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	char sql[128];

	store_close(f->st);
	fixture_remove(f);
	if (f->db[0] != '\0') {
		snprintf(sql, sizeof(sql), "DROP DATABASE %s", f->db);
		PQclear(pg_raw("postgres", sql));
	}
	free(f);
	return 0;
}

/* Count rows with a separate raw connection, so the store cannot fool itself. */
static int raw_count(const struct fixture *f, const char *table)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[128];
	int n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (f->db[0] != '\0') {
		PGresult *r = pg_raw(f->db, sql);

		n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		return n;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void raw_exec(const struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	if (f->db[0] != '\0') {
		PQclear(pg_raw(f->db, sql));
		return;
	}
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("raw SQL failed: %s: %s", sql, msg);
	sqlite3_close(db);
}

static void make_gateway(struct store_gateway *gw, int64_t tenant, const char *id)
{
	memset(gw, 0, sizeof(*gw));
	gw->tenant_id = tenant;
	snprintf(gw->gateway_id, sizeof(gw->gateway_id), "%s", id);
	snprintf(gw->state, sizeof(gw->state), "registered");
	gw->created_ms = 1700000000000LL;
}

static unsigned char test_der[300];

static void make_cert(struct store_certificate *c, int64_t tenant, const char *serial,
	const char *fp)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(test_der); i++)
		test_der[i] = (unsigned char)(i * 7 + 1);
	test_der[10] = 0;    /* an embedded NUL must survive the roundtrip */
	c->tenant_id = tenant;
	snprintf(c->serial_hex, sizeof(c->serial_hex), "%s", serial);
	snprintf(c->issuer, sizeof(c->issuer), "CN=Test Sub-CA,O=Torwart,C=DE");
	snprintf(c->subject, sizeof(c->subject), "CN=ETWA0012345678.sm,O=Torwart,C=DE");
	snprintf(c->owner_kind, sizeof(c->owner_kind), "smgw");
	snprintf(c->owner_id, sizeof(c->owner_id), "ETWA0012345678");
	snprintf(c->usage, sizeof(c->usage), "TLS");
	c->not_before = 1700000000;
	c->not_after = 1800000000;
	snprintf(c->status, sizeof(c->status), "valid");
	snprintf(c->fingerprint, sizeof(c->fingerprint), "%s", fp);
	c->der = test_der;
	c->der_len = sizeof(test_der);
}

/* ---- open, URLs, migrations ---- */

static void test_open_migrate_twice(void **state)
{
	struct fixture *f = *state;
	struct tw_store *st2 = NULL;
	struct tw_error err;
	char url[300];
	int v1 = -1, v2 = -1;

	assert_int_equal(store_schema_version(f->st, &v1, &err), TW_OK);
	assert_true(v1 >= 1);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(store_schema_version(f->st, &v2, &err), TW_OK);
	assert_int_equal(v1, v2);
	assert_int_equal(raw_count(f, "schema_migrations"), v1);

	/* A second connection (SQLite: through the "sqlite:" form) sees the same schema. */
	snprintf(url, sizeof(url), f->db[0] != '\0' ? "%s" : "sqlite:%s", f->url);
	assert_int_equal(store_open(url, &st2, &err), TW_OK);
	assert_int_equal(store_migrate(st2, &err), TW_OK);
	assert_int_equal(store_schema_version(st2, &v2, &err), TW_OK);
	assert_int_equal(v1, v2);
	store_close(st2);
	assert_int_equal(raw_count(f, "schema_migrations"), v1);
}

static void test_fresh_version_zero_and_pragmas(void **state)
{
	struct fixture *f = *state;
	struct tw_store *st = NULL;
	struct tw_error err;
	char path[192];
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	int v = -1;

	snprintf(path, sizeof(path), "%s/fresh.db", f->dir);
	assert_int_equal(store_open(path, &st, &err), TW_OK);
	assert_int_equal(store_schema_version(st, &v, &err), TW_OK);
	assert_int_equal(v, 0);
	store_close(st);

	/* WAL is persistent in the file: check it from outside. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fresh.db-wal", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/fresh.db-shm", f->dir);
	unlink(path);
}

static void test_urls_refused(void **state)
{
	struct tw_store *st = (struct tw_store *)0x1;
	struct tw_error err;

	(void)state;
	/* PostgreSQL that is not there: a clear error naming the cause, no handle. */
	assert_int_equal(store_open("postgresql://torwart:secret@127.0.0.1:1/torwart?"
		"connect_timeout=5", &st, &err), TW_E_UNAVAILABLE);
	assert_null(st);
	assert_non_null(strstr(err.message, "cannot connect to the database"));
	assert_null(strstr(err.message, "secret"));
	assert_int_equal(store_open("mysql://db/torwart", &st, &err), TW_E_CONFIG);
	assert_int_equal(store_open("sqlite:", &st, &err), TW_E_CONFIG);
	assert_int_equal(store_open("", &st, &err), TW_E_INVALID);
	assert_int_equal(store_open(NULL, &st, &err), TW_E_INVALID);
	assert_int_equal(store_open("/nonexistent-dir-tw/x/store.db", &st, &err), TW_E_STORE);
	assert_null(st);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct tw_error err;

	raw_exec(f, "INSERT INTO schema_migrations VALUES (999, '0999_future', 0)");
	assert_int_equal(store_migrate(f->st, &err), TW_E_STORE);
	assert_non_null(strstr(err.message, "newer"));
}

/* ---- tenants ---- */

static void test_tenant_ensure(void **state)
{
	struct fixture *f = *state;
	struct tw_error err;
	char name[STORE_ID_MAX + 2];
	int64_t a = 0, b = 0, c = 0;

	assert_int_equal(store_tenant_ensure(f->st, "stadtwerke", &a, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "stadtwerke", &b, &err), TW_OK);
	assert_true(a > 0);
	assert_int_equal(a, b);
	assert_int_equal(store_tenant_ensure(f->st, "default", &c, &err), TW_OK);
	assert_int_equal(c, f->tenant);
	assert_true(c != a);

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(store_tenant_ensure(f->st, name, &c, &err), TW_E_TOO_LARGE);
	assert_int_equal(c, 0);
	assert_int_equal(store_tenant_ensure(f->st, "", &c, &err), TW_E_INVALID);
	name[STORE_ID_MAX] = '\0';   /* exactly at the limit is fine */
	assert_int_equal(store_tenant_ensure(f->st, name, &c, &err), TW_OK);
	assert_int_equal(raw_count(f, "tenants"), 3);
}

/* ---- gateways ---- */

struct collect {
	char ids[8][STORE_ID_MAX + 1];
	int n;
	int stop_after;
	struct tw_store *st;
	int nested_ok;
};

static int collect_gateway(const struct store_gateway *gw, void *arg)
{
	struct collect *c = arg;
	struct store_gateway again;
	struct tw_error err;

	if (c->n < 8)
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", gw->gateway_id);
	c->n++;
	/* Re-entering the store from a callback must work (uses a fresh statement). */
	if (c->st != NULL && store_gateway_get(c->st, gw->gateway_id, &again, &err) == TW_OK &&
	    strcmp(again.gateway_id, gw->gateway_id) == 0)
		c->nested_ok++;
	return c->stop_after > 0 && c->n >= c->stop_after;
}

static void test_gateway(void **state)
{
	struct fixture *f = *state;
	struct store_gateway gw, out;
	struct collect c;
	struct tw_error err;

	make_gateway(&gw, f->tenant, "ETWA0000000002");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_EXISTS);
	make_gateway(&gw, f->tenant, "ETWA0000000001");
	snprintf(gw.last_address, sizeof(gw.last_address), "192.0.2.1:4711");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	make_gateway(&gw, f->tenant + 1000, "ETWA0000000009");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_NOT_FOUND);

	assert_int_equal(store_gateway_get(f->st, "ETWA0000000001", &out, &err), TW_OK);
	assert_int_equal(out.tenant_id, f->tenant);
	assert_string_equal(out.gateway_id, "ETWA0000000001");
	assert_string_equal(out.state, "registered");
	assert_int_equal(out.created_ms, 1700000000000LL);
	assert_int_equal(out.last_contact_ms, 0);
	assert_string_equal(out.last_address, "192.0.2.1:4711");
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000404", &out, &err), TW_E_NOT_FOUND);
	assert_string_equal(out.gateway_id, "");

	assert_int_equal(store_gateway_touch(f->st, "ETWA0000000002", 1700000001234LL,
		"[2001:db8::1]:5000", &err), TW_OK);
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000002", &out, &err), TW_OK);
	assert_string_equal(out.state, "active");
	assert_int_equal(out.last_contact_ms, 1700000001234LL);
	assert_string_equal(out.last_address, "[2001:db8::1]:5000");
	assert_int_equal(store_gateway_touch(f->st, "ETWA0000000404", 1, "x", &err),
		TW_E_NOT_FOUND);

	memset(&c, 0, sizeof(c));
	c.st = f->st;
	assert_int_equal(store_gateway_foreach(f->st, collect_gateway, &c, &err), TW_OK);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.nested_ok, 2);
	assert_string_equal(c.ids[0], "ETWA0000000001");
	assert_string_equal(c.ids[1], "ETWA0000000002");

	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	assert_int_equal(store_gateway_foreach(f->st, collect_gateway, &c, &err), TW_OK);
	assert_int_equal(c.n, 1);
	/* The stopped query was reset: a new one starts from the top. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_gateway_foreach(f->st, collect_gateway, &c, &err), TW_OK);
	assert_int_equal(c.n, 2);
}

static void test_gateway_limits(void **state)
{
	struct fixture *f = *state;
	struct store_gateway gw, out;
	struct tw_error err;
	char addr[80];
	char longid[STORE_ID_MAX + 2];

	make_gateway(&gw, f->tenant, "x");
	memset(gw.gateway_id, 'A', sizeof(gw.gateway_id));   /* no NUL inside the array */
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_TOO_LARGE);
	assert_non_null(strstr(err.message, "gateway_id"));
	make_gateway(&gw, f->tenant, "ETWA0000000001");
	memset(gw.state, 's', sizeof(gw.state));
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_TOO_LARGE);
	make_gateway(&gw, f->tenant, "ETWA0000000001");
	memset(gw.last_address, '1', sizeof(gw.last_address));
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_TOO_LARGE);
	make_gateway(&gw, f->tenant, "");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_INVALID);
	assert_int_equal(raw_count(f, "gateways"), 0);

	make_gateway(&gw, f->tenant, "ETWA0000000001");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	memset(addr, '9', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	assert_int_equal(store_gateway_touch(f->st, "ETWA0000000001", 5, addr, &err),
		TW_E_TOO_LARGE);
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000001", &out, &err), TW_OK);
	assert_string_equal(out.state, "registered");
	assert_int_equal(out.last_contact_ms, 0);

	memset(longid, 'B', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(store_gateway_get(f->st, longid, &out, &err), TW_E_TOO_LARGE);
	assert_int_equal(store_gateway_touch(f->st, longid, 5, "", &err), TW_E_TOO_LARGE);
}

/* ---- certificates ---- */

#define FP1 "1111111111111111111111111111111111111111111111111111111111111111"
#define FP2 "2222222222222222222222222222222222222222222222222222222222222222"
#define FP3 "3333333333333333333333333333333333333333333333333333333333333333"

static void test_certificate(void **state)
{
	struct fixture *f = *state;
	struct store_certificate c, out;
	struct tw_error err;

	make_cert(&c, f->tenant, "1a2b", FP1);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_OK);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_EXISTS);
	/* Same fingerprint, other serial: still a duplicate. */
	make_cert(&c, f->tenant, "ffff", FP1);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_EXISTS);
	/* Same (issuer, serial), other fingerprint: a duplicate too. */
	make_cert(&c, f->tenant, "1a2b", FP2);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_EXISTS);
	make_cert(&c, f->tenant, "1a2c", FP2);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_OK);
	assert_int_equal(raw_count(f, "certificates"), 2);

	memset(&out, 0, sizeof(out));
	assert_int_equal(store_certificate_get_by_fingerprint(f->st, FP1, &out, &err), TW_OK);
	assert_int_equal(out.tenant_id, f->tenant);
	assert_string_equal(out.serial_hex, "1a2b");
	assert_string_equal(out.issuer, "CN=Test Sub-CA,O=Torwart,C=DE");
	assert_string_equal(out.subject, "CN=ETWA0012345678.sm,O=Torwart,C=DE");
	assert_string_equal(out.owner_kind, "smgw");
	assert_string_equal(out.owner_id, "ETWA0012345678");
	assert_string_equal(out.usage, "TLS");
	assert_int_equal(out.not_before, 1700000000);
	assert_int_equal(out.not_after, 1800000000);
	assert_string_equal(out.status, "valid");
	assert_string_equal(out.fingerprint, FP1);
	assert_int_equal(out.der_len, sizeof(test_der));
	assert_memory_equal(out.der, test_der, sizeof(test_der));
	store_certificate_clear(&out);
	assert_null(out.der);
	store_certificate_clear(NULL);

	assert_int_equal(store_certificate_get_by_fingerprint(f->st, FP3, &out, &err),
		TW_E_NOT_FOUND);
	assert_null(out.der);
}

static void test_certificate_limits(void **state)
{
	struct fixture *f = *state;
	struct store_certificate c;
	struct tw_error err;
	unsigned char *big;

	make_cert(&c, f->tenant, "01", FP1);
	memset(c.issuer, 'I', sizeof(c.issuer));
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_TOO_LARGE);
	make_cert(&c, f->tenant, "01", FP1);
	memset(c.serial_hex, 'a', sizeof(c.serial_hex));
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_TOO_LARGE);
	make_cert(&c, f->tenant, "01", FP1);
	memset(c.fingerprint, 'f', sizeof(c.fingerprint));
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_TOO_LARGE);

	big = calloc(1, STORE_CERT_MAX + 1);
	assert_non_null(big);
	make_cert(&c, f->tenant, "01", FP1);
	c.der = big;
	c.der_len = STORE_CERT_MAX + 1;
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_TOO_LARGE);
	c.der_len = 0;
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_E_INVALID);
	c.der_len = STORE_CERT_MAX;   /* exactly the limit is accepted */
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_OK);
	free(big);
	assert_int_equal(raw_count(f, "certificates"), 1);
}

/* ---- transactions ---- */

static void test_transaction_rollback(void **state)
{
	struct fixture *f = *state;
	struct store_gateway gw, out;
	struct store_certificate c;
	struct tw_error err;

	assert_false(store_in_transaction(f->st));
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_true(store_in_transaction(f->st));
	assert_int_equal(store_begin(f->st, &err), TW_E_INTERNAL);
	make_gateway(&gw, f->tenant, "ETWA0000000007");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	make_cert(&c, f->tenant, "07", FP1);
	assert_int_equal(store_certificate_insert(f->st, &c, &err), TW_OK);
	/* Visible inside the transaction ... */
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000007", &out, &err), TW_OK);
	store_rollback(f->st);
	assert_false(store_in_transaction(f->st));
	/* ... and gone after the rollback. */
	assert_int_equal(store_gateway_get(f->st, "ETWA0000000007", &out, &err), TW_E_NOT_FOUND);
	assert_int_equal(raw_count(f, "gateways"), 0);
	assert_int_equal(raw_count(f, "certificates"), 0);
	store_rollback(f->st);   /* no-op outside a transaction */
	assert_int_equal(store_commit(f->st, &err), TW_E_INTERNAL);

	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(raw_count(f, "gateways"), 1);
}

/* ---- admin log rows ---- */

static void test_audit_rows(void **state)
{
	struct fixture *f = *state;
	struct store_audit_row row, last;
	struct tw_error err;
	bool found = true;

	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_false(found);

	memset(&row, 0, sizeof(row));
	row.seq = 1;
	snprintf(row.time, sizeof(row.time), "2026-01-01T00:00:00.000Z");
	snprintf(row.actor, sizeof(row.actor), "tester");
	memset(row.hash, 0xab, sizeof(row.hash));
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_OK);
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_E_EXISTS);
	row.seq = 2;
	memset(row.detail, 'd', sizeof(row.detail));
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_E_TOO_LARGE);
	row.seq = 0;
	row.detail[0] = '\0';
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_E_INVALID);

	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_true(found);
	assert_int_equal(last.seq, 1);
	assert_string_equal(last.actor, "tester");
	assert_memory_equal(last.hash, row.hash, 32);
	assert_int_equal(raw_count(f, "admin_log"), 1);
}

static void audit_row_at(struct store_audit_row *row, int64_t seq, unsigned char fill,
	const char *actor)
{
	memset(row, 0, sizeof(*row));
	row->seq = seq;
	snprintf(row->time, sizeof(row->time), "2026-01-01T00:00:00.000Z");
	snprintf(row->actor, sizeof(row->actor), "%s", actor);
	memset(row->prev_hash, fill - 1, sizeof(row->prev_hash));
	memset(row->hash, fill, sizeof(row->hash));
}

/*
 * A write transaction that appended an entry answers store_audit_last from what it
 * appended (no read back under the writer lock). That answer must never outlive the
 * transaction: after a rollback, after a commit followed by another process's append, or
 * after a failed insert, the tail is read from the database again.
 */
static void test_audit_last_in_tx(void **state)
{
	struct fixture *f = *state;
	struct store_audit_row row, last;
	struct tw_store *other = NULL;
	struct tw_error err;
	bool found = false;
	char url[600];

	snprintf(url, sizeof(url), f->db[0] != '\0' ? "%s" : "sqlite:%s", f->url);
	assert_int_equal(store_open(url, &other, &err), TW_OK);

	/* Appended in the transaction: the tail is the row as appended, in and after it. */
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	audit_row_at(&row, 1, 0x11, "first");
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_OK);
	audit_row_at(&row, 2, 0x22, "second");
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_true(found);
	assert_memory_equal(&last, &row, sizeof(row));
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 2);
	assert_string_equal(last.actor, "second");
	assert_memory_equal(last.hash, row.hash, 32);
	assert_memory_equal(last.prev_hash, row.prev_hash, 32);

	/* Another handle (process) appends after our commit: our next transaction sees it. */
	audit_row_at(&row, 3, 0x33, "other");
	assert_int_equal(store_audit_insert(other, &row, &err), TW_OK);
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 3);
	assert_string_equal(last.actor, "other");

	/* Rolled back: the appended entry is not the tail any more. */
	audit_row_at(&row, 4, 0x44, "rolled-back");
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_OK);
	store_rollback(f->st);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 3);
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 3);

	/* A refused insert (seq taken) leaves the stored tail, not the refused row. */
	audit_row_at(&row, 4, 0x44, "fourth");
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_OK);
	audit_row_at(&row, 4, 0x55, "duplicate");
	assert_int_equal(store_audit_insert(f->st, &row, &err), TW_E_EXISTS);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_int_equal(last.seq, 4);
	assert_string_equal(last.actor, "fourth");
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(raw_count(f, "admin_log"), 4);
	store_close(other);
}

/*
 * PostgreSQL only: the server drops the store's connection (restart, failover). The
 * next call fails as "unavailable" and changes nothing; the one after reconnects.
 */
static void test_pg_connection_lost(void **state)
{
	struct fixture *f = *state;
	struct store_gateway gw;
	struct tw_error err;
	char sql[160];

	if (f->db[0] == '\0')
		skip();
	make_gateway(&gw, f->tenant, "ETWA0000000010");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		"WHERE datname = '%s' AND pid <> pg_backend_pid()", f->db);
	PQclear(pg_raw("postgres", sql));
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_UNAVAILABLE);
	assert_non_null(strstr(err.message, "unavailable"));
	assert_false(store_in_transaction(f->st));
	assert_int_equal(raw_count(f, "gateways"), 0);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	PQclear(pg_raw("postgres", sql));
	assert_int_equal(store_begin(f->st, &err), TW_OK);   /* reconnects first */
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(raw_count(f, "gateways"), 1);
}

/*
 * PostgreSQL only: the connection is lost inside a transaction. The server discarded the
 * transaction, so nothing of it may be stored, and no later statement of it may run on a
 * new connection outside any transaction (the old driver reconnected under it and
 * autocommitted the rest: half a transaction). Every statement fails until the caller
 * rolls back; then the store reconnects.
 */
static void test_pg_lost_in_transaction(void **state)
{
	struct fixture *f = *state;
	struct store_gateway a, b, c;
	struct tw_error err;
	char sql[160];

	if (f->db[0] == '\0')
		skip();
	make_gateway(&a, f->tenant, "ETWA0000000021");
	make_gateway(&b, f->tenant, "ETWA0000000022");
	make_gateway(&c, f->tenant, "ETWA0000000023");
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		"WHERE datname = '%s' AND pid <> pg_backend_pid()", f->db);
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &a, &err), TW_OK);
	PQclear(pg_raw("postgres", sql));
	assert_int_equal(store_gateway_insert(f->st, &b, &err), TW_E_UNAVAILABLE);
	assert_true(store_in_transaction(f->st));
	assert_int_equal(store_gateway_insert(f->st, &c, &err), TW_E_UNAVAILABLE);
	assert_int_equal(store_commit(f->st, &err), TW_E_UNAVAILABLE);
	assert_false(store_in_transaction(f->st));
	assert_int_equal(raw_count(f, "gateways"), 0);
	/* Rolled back: the next statement reconnects and works. */
	assert_int_equal(store_gateway_insert(f->st, &c, &err), TW_OK);
	assert_int_equal(raw_count(f, "gateways"), 1);
}

/* Writer locks (driver_pg.c's advisory key) held on the fixture's database now. */
static int pg_writer_locks(const struct fixture *f)
{
	PGresult *r = pg_raw(f->db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
		"AND objid = 74190509 AND database = (SELECT oid FROM pg_database WHERE "
		"datname = current_database())");
	int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);

	PQclear(r);
	return n;
}

/*
 * PostgreSQL: BEGIN and the writer lock travel with the transaction's first statement
 * (one round trip less per transaction). The lock is held from that statement to the
 * commit, a transaction that runs nothing sends nothing, and a connection that died
 * while idle is reopened by the first statement as it was by the BEGIN before.
 */
static void test_pg_begin_with_first_statement(void **state)
{
	struct fixture *f = *state;
	struct store_gateway a, b;
	struct tw_error err;
	char sql[160];

	if (f->db[0] == '\0')
		skip();
	make_gateway(&a, f->tenant, "ETWA0000000031");
	make_gateway(&b, f->tenant, "ETWA0000000032");
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(pg_writer_locks(f), 0);          /* nothing sent yet */
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_false(store_in_transaction(f->st));
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &a, &err), TW_OK);
	assert_int_equal(pg_writer_locks(f), 1);          /* taken with the first statement */
	assert_int_equal(raw_count(f, "gateways"), 0);    /* and inside the transaction */
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(pg_writer_locks(f), 0);
	assert_int_equal(raw_count(f, "gateways"), 1);
	/* Killed while idle: the transaction's first statement reconnects and runs. */
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		"WHERE datname = '%s' AND pid <> pg_backend_pid()", f->db);
	PQclear(pg_raw("postgres", sql));
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &b, &err), TW_OK);
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(raw_count(f, "gateways"), 2);
}

/* store_copy copies every table of the schema: a new migration's table is not forgotten. */
static void test_copy_covers_schema(void **state)
{
	struct fixture *f = *state;

	if (f->db[0] != '\0')
		skip();
	assert_int_equal(raw_count(f, "sqlite_master WHERE type = 'table' AND "
		"name <> 'schema_migrations'"), (int)store_copy_table_count());
}

/* One resolver of [store] url: "sqlite:store.db" and "store.db" name the same file. */
static void test_home_url(void **state)
{
	struct fixture *f = *state;
	static const char *const conf[] = { "url = sqlite:store.db\n", "url = store.db\n",
		"url = sqlite:/abs/x.db\n", "url = postgresql://u@h:5/d\n", "" };
	const char *want[5];
	char path[192], body[128], *got;
	struct tw_home *home = NULL;
	struct tw_error err;

	char own[200];

	snprintf(own, sizeof(own), "sqlite:%s", f->path);
	want[0] = want[1] = want[4] = own;
	want[2] = "sqlite:/abs/x.db";
	want[3] = "postgresql://u@h:5/d";
	snprintf(path, sizeof(path), "%s/torwart.conf", f->dir);
	for (size_t i = 0; i < 5; i++) {
		snprintf(body, sizeof(body), "[store]\n%s", conf[i]);
		assert_int_equal(tw_write_file(path, body, strlen(body), 0600, false, &err), TW_OK);
		assert_int_equal(tw_home_open(f->dir, &home, &err), TW_OK);
		got = tw_home_store_url(home);
		assert_non_null(got);
		assert_string_equal(got, want[i]);
		free(got);
		tw_home_free(home);
	}
	unlink(path);
}

/*
 * A failing statement inside a transaction fails alone: the transaction stays usable
 * (PostgreSQL would abort it whole; the driver runs writes under a savepoint there).
 */
static void test_failure_inside_transaction(void **state)
{
	struct fixture *f = *state;
	struct store_gateway gw;
	struct tw_error err;

	make_gateway(&gw, f->tenant, "ETWA0000000008");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(store_begin(f->st, &err), TW_OK);
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_E_EXISTS);
	make_gateway(&gw, f->tenant, "ETWA0000000009");
	assert_int_equal(store_gateway_insert(f->st, &gw, &err), TW_OK);
	assert_int_equal(store_commit(f->st, &err), TW_OK);
	assert_int_equal(raw_count(f, "gateways"), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_migrate_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_version_zero_and_pragmas, setup,
			teardown),
		cmocka_unit_test(test_urls_refused),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenant_ensure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gateway_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transaction_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_last_in_tx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_inside_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_covers_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_connection_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_lost_in_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pg_begin_with_first_statement, setup,
			teardown),
	};
	int failed;

	failed = cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
	pg_base = getenv("TORWART_TEST_PG");
	if (pg_base == NULL || *pg_base == '\0') {
		printf("PostgreSQL cases not run: TORWART_TEST_PG is not set "
			"(meson test unit-store-pg starts a server)\n");
		return failed;
	}
	return failed + cmocka_run_group_tests_name("postgresql", tests, NULL, NULL);
}
