/*
 * sqlite.c: the embedded SQLite backend of the store (struct store_backend_ops).
 *
 * One struct sq is one connection, used by one thread (opened NOMUTEX). Durability
 * settings follow DESIGN.md: WAL so readers never block the writer, synchronous=FULL
 * so a committed audit entry survives a power cut, a busy timeout so the wan, signer
 * and CLI processes queue for the write lock instead of failing, and foreign keys on.
 * Statements are prepared once per connection and reused (sq_stmt / sq_release).
 *
 * Arguments were checked by store.c; this file only speaks SQL and maps SQLite result
 * codes onto the store.h vocabulary.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/util.h"
#include "store/sqlite_internal.h"
#include "store/store_backend.h"

#define SQ_BUSY_TIMEOUT_MS 10000

/* Every statement this backend runs more than once; the index into sq.stmts. */
enum sq_id {
	SQ_TENANT_INSERT,
	SQ_TENANT_SELECT,
	SQ_GATEWAY_INSERT,
	SQ_GATEWAY_GET,
	SQ_GATEWAY_TOUCH,
	SQ_GATEWAY_ALL,
	SQ_CERT_INSERT,
	SQ_CERT_BY_FINGERPRINT,
	SQ_AUDIT_LAST,
	SQ_AUDIT_INSERT,
	SQ_AUDIT_FROM,
	SQ__COUNT
};

#define SQ_GATEWAY_COLUMNS \
	"tenant_id, gateway_id, state, created_ms, last_contact_ms, last_address"
#define SQ_CERT_COLUMNS \
	"tenant_id, serial_hex, issuer, subject, owner_kind, owner_id, usage, not_before, " \
	"not_after, status, fingerprint, der"
#define SQ_AUDIT_COLUMNS \
	"seq, time, actor, role, client, action, object, result, detail, prev_hash, hash, " \
	"error_code"

static const char *const sq_sql[SQ__COUNT] = {
	[SQ_TENANT_INSERT] = "INSERT INTO tenants (name, created_ms) VALUES (?1, ?2) "
		"ON CONFLICT (name) DO NOTHING",
	[SQ_TENANT_SELECT] = "SELECT id FROM tenants WHERE name = ?1",
	[SQ_GATEWAY_INSERT] = "INSERT INTO gateways (" SQ_GATEWAY_COLUMNS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[SQ_GATEWAY_GET] = "SELECT " SQ_GATEWAY_COLUMNS " FROM gateways WHERE gateway_id = ?1",
	[SQ_GATEWAY_TOUCH] = "UPDATE gateways SET last_contact_ms = ?2, last_address = ?3, "
		"state = CASE state WHEN 'disabled' THEN state ELSE 'active' END "
		"WHERE gateway_id = ?1",
	[SQ_GATEWAY_ALL] = "SELECT " SQ_GATEWAY_COLUMNS " FROM gateways ORDER BY gateway_id",
	[SQ_CERT_INSERT] = "INSERT INTO certificates (" SQ_CERT_COLUMNS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQ_CERT_BY_FINGERPRINT] = "SELECT " SQ_CERT_COLUMNS " FROM certificates "
		"WHERE fingerprint = ?1",
	[SQ_AUDIT_LAST] = "SELECT " SQ_AUDIT_COLUMNS " FROM admin_log ORDER BY seq DESC LIMIT 1",
	[SQ_AUDIT_INSERT] = "INSERT INTO admin_log (" SQ_AUDIT_COLUMNS ") "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[SQ_AUDIT_FROM] = "SELECT " SQ_AUDIT_COLUMNS " FROM admin_log WHERE seq >= ?1 "
		"ORDER BY seq",
};

/* struct sq is in sqlite_internal.h, shared with the sqlite_<area>.c files. */
_Static_assert(SQ__COUNT <= SQ_CORE_STMT_MAX, "raise SQ_CORE_STMT_MAX");

/* ---- errors ---- */

tw_rc sq_fail(struct sq *s, tw_rc code, struct tw_error *err, const char *doing)
{
	return tw_error_set(err, code, "store %s: %s failed: %s", s->path, doing,
		sqlite3_errmsg(s->db));
}

/*
 * Map a failed sqlite3_step onto the store vocabulary. Must run before the statement is
 * reset so sqlite3_errmsg still describes this failure.
 */
tw_rc sq_step_fail(struct sq *s, struct tw_error *err, const char *doing)
{
	int ext = sqlite3_extended_errcode(s->db);

	switch (ext) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return tw_error_set(err, TW_E_EXISTS, "%s: already exists (%s)", doing,
			sqlite3_errmsg(s->db));
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return tw_error_set(err, TW_E_NOT_FOUND, "%s: a referenced row (tenant) does not "
			"exist", doing);
	default:
		return sq_fail(s, TW_E_STORE, err, doing);
	}
}

/* ---- statement cache ---- */

/*
 * The cached statement for id, or a fresh one when the cached statement is running
 * (a foreach callback calling back into the store); sq_release tells them apart.
 */
static tw_rc sq_stmt(struct sq *s, enum sq_id id, sqlite3_stmt **out, struct tw_error *err)
{
	sqlite3_stmt *st = s->stmts[id];
	unsigned int flags = 0;

	*out = NULL;
	if (st != NULL && !sqlite3_stmt_busy(st)) {
		*out = st;
		return TW_OK;
	}
	if (st == NULL)
		flags = SQLITE_PREPARE_PERSISTENT;
	if (sqlite3_prepare_v3(s->db, sq_sql[id], -1, flags, &st, NULL) != SQLITE_OK)
		return sq_fail(s, TW_E_STORE, err, "preparing a statement");
	if (s->stmts[id] == NULL)
		s->stmts[id] = st;
	*out = st;
	return TW_OK;
}

static void sq_release(struct sq *s, enum sq_id id, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	if (st == s->stmts[id]) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
}

/* Run one statement that takes no arguments and returns no rows (PRAGMA, BEGIN ...). */
tw_rc sq_exec(struct sq *s, const char *sql, const char *doing, struct tw_error *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(s, TW_E_STORE, err, doing);
	return TW_OK;
}

/* ---- column readers: what the database holds is checked like any outside input ---- */

tw_rc sq_col_text(sqlite3_stmt *st, int col, char *dst, size_t size, const char *what,
	struct tw_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	dst[0] = '\0';
	if (t == NULL || n <= 0)
		return TW_OK;
	if ((size_t)n >= size)
		return tw_error_set(err, TW_E_INTEGRITY,
			"stored %s is %d bytes, more than the limit of %zu (edited database?)", what,
			n, size - 1);
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return TW_OK;
}

tw_rc sq_col_hash(sqlite3_stmt *st, int col, unsigned char dst[32], const char *what,
	struct tw_error *err)
{
	const void *b = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);

	memset(dst, 0, 32);
	if (b == NULL || n != 32)
		return tw_error_set(err, TW_E_INTEGRITY,
			"stored %s is %d bytes, not 32 (edited database?)", what, n);
	memcpy(dst, b, 32);
	return TW_OK;
}

/*
 * Statements of the area files (sqlite_<area>.c), cached by the address of their static
 * SQL text. Same busy rule as sq_stmt: a running statement gets a fresh copy.
 */
tw_rc sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **out, struct tw_error *err)
{
	size_t slot = SQ_EXTRA_MAX;

	*out = NULL;
	for (size_t i = 0; i < s->extra_count; i++) {
		if (s->extra[i].sql != sql)
			continue;
		if (!sqlite3_stmt_busy(s->extra[i].st)) {
			*out = s->extra[i].st;
			return TW_OK;
		}
		slot = i;
		break;
	}
	if (slot == SQ_EXTRA_MAX && s->extra_count < SQ_EXTRA_MAX) {
		slot = s->extra_count;
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			&s->extra[slot].st, NULL) != SQLITE_OK)
			return sq_fail(s, TW_E_STORE, err, "preparing a statement");
		s->extra[slot].sql = sql;
		s->extra_count++;
		*out = s->extra[slot].st;
		return TW_OK;
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, 0, out, NULL) != SQLITE_OK)
		return sq_fail(s, TW_E_STORE, err, "preparing a statement");
	return TW_OK;
}

void sq_done(struct sq *s, sqlite3_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < s->extra_count; i++) {
		if (s->extra[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	}
	sqlite3_finalize(st);
}

/* ---- open / close ---- */

static void sq_close(void *be)
{
	struct sq *s = be;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < SQ__COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	for (i = 0; i < s->extra_count; i++)
		sqlite3_finalize(s->extra[i].st);
	/* close_v2 so a statement we forgot cannot keep the file open silently. */
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

static tw_rc sq_open(const char *target, void **be, struct tw_error *err)
{
	struct sq *s = NULL;
	sqlite3_stmt *st = NULL;
	const char *mode;
	tw_rc rc;

	*be = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = tw_strdup(target)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
		goto out;
	}
	if (sqlite3_open_v2(target, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		if (s->db == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening store %s",
				target);
			goto out;
		}
		rc = sq_fail(s, TW_E_STORE, err, "opening the database");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		rc = sq_fail(s, TW_E_STORE, err, "setting the busy timeout");
		goto out;
	}

	/* journal_mode answers with the mode in force; anything but WAL is refused. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = sq_fail(s, TW_E_STORE, err, "switching to WAL journal mode");
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
		rc = tw_error_set(err, TW_E_STORE,
			"store %s: journal mode is \"%s\", not WAL (file system without shared "
			"memory?)", target, mode != NULL ? mode : "?");
		goto out;
	}
	if ((rc = sq_exec(s, "PRAGMA synchronous = FULL", "setting synchronous=FULL",
	    err)) != TW_OK ||
	    (rc = sq_exec(s, "PRAGMA foreign_keys = ON", "enabling foreign keys", err)) != TW_OK)
		goto out;

	*be = s;
	s = NULL;
	rc = TW_OK;
out:
	sqlite3_finalize(st);
	sq_close(s);
	return rc;
}

/* ---- schema ---- */

static tw_rc sq_version(struct sq *s, int *version, struct tw_error *err)
{
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	*version = 0;
	/* A fresh database has no schema_migrations table yet: version 0, not an error. */
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
	    "AND name = 'schema_migrations'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = sq_fail(s, TW_E_STORE, err, "reading the schema version");
		goto out;
	}
	if (sqlite3_column_int(st, 0) == 0) {
		rc = TW_OK;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		rc = sq_fail(s, TW_E_STORE, err, "reading the schema version");
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	rc = TW_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static tw_rc sq_schema_version(void *be, int *version, struct tw_error *err)
{
	return sq_version(be, version, err);
}

static bool sq_in_transaction(void *be)
{
	struct sq *s = be;

	return sqlite3_get_autocommit(s->db) == 0;
}

static void sq_rollback(void *be)
{
	struct sq *s = be;

	if (sq_in_transaction(s))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static tw_rc sq_begin(void *be, struct tw_error *err)
{
	/* IMMEDIATE takes the write lock now, so read-then-write cannot hit BUSY_SNAPSHOT. */
	return sq_exec(be, "BEGIN IMMEDIATE", "starting a write transaction", err);
}

static tw_rc sq_commit(void *be, struct tw_error *err)
{
	struct sq *s = be;
	tw_rc rc;

	rc = sq_exec(s, "COMMIT", "committing", err);
	if (rc != TW_OK)
		sq_rollback(s);
	return rc;
}

/* Apply one migration in its own transaction unless another process already did. */
static tw_rc sq_migrate_one(struct sq *s, const struct store_migration *m,
	struct tw_error *err)
{
	sqlite3_stmt *st = NULL;
	int version;
	tw_rc rc;

	if ((rc = sq_begin(s, err)) != TW_OK)
		goto out;
	/* Re-read under the write lock: two processes may migrate the same file at once. */
	if ((rc = sq_version(s, &version, err)) != TW_OK)
		goto out;
	if (version >= m->version) {
		rc = TW_OK;
		goto out;
	}
	if (version != m->version - 1) {
		rc = tw_error_set(err, TW_E_INTERNAL, "store %s: schema version %d, cannot apply "
			"migration %s", s->path, version, m->name);
		goto out;
	}
	if (sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
		rc = tw_error_set(err, TW_E_STORE, "store %s: migration %s failed: %s", s->path,
			m->name, sqlite3_errmsg(s->db));
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "INSERT INTO schema_migrations (version, name, "
	    "applied_ms) VALUES (?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) {
		rc = sq_fail(s, TW_E_STORE, err, "recording a migration");
		goto out;
	}
	sqlite3_bind_int(st, 1, m->version);
	sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, tw_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_fail(s, TW_E_STORE, err, "recording a migration");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = sq_commit(s, err);
out:
	sqlite3_finalize(st);
	if (rc != TW_OK || sq_in_transaction(s)) {
		if (rc == TW_OK)
			rc = sq_commit(s, err);   /* nothing to apply: end the empty transaction */
		else
			sq_rollback(s);
	}
	return rc;
}

static tw_rc sq_migrate(void *be, struct tw_error *err)
{
	struct sq *s = be;
	int version;
	size_t i;
	tw_rc rc;

	if (sq_in_transaction(s))
		return tw_error_set(err, TW_E_INTERNAL, "store_migrate inside a transaction");
	if ((rc = sq_exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
	    "creating schema_migrations", err)) != TW_OK)
		return rc;
	if ((rc = sq_version(s, &version, err)) != TW_OK)
		return rc;
	/* An older binary must not run against a schema it does not understand. */
	if (version > (int)store_migrations_count)
		return tw_error_set(err, TW_E_STORE, "store %s: schema version %d is newer than "
			"this build knows (%zu); upgrade Torwart", s->path, version,
			store_migrations_count);
	for (i = 0; i < store_migrations_count; i++) {
		if (store_migrations[i].version <= version)
			continue;
		if ((rc = sq_migrate_one(s, &store_migrations[i], err)) != TW_OK)
			return rc;
	}
	return TW_OK;
}

/* ---- tenants ---- */

static tw_rc sq_tenant_ensure(void *be, const char *name, int64_t *id, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	enum sq_id sid = SQ_TENANT_INSERT;
	int step;
	tw_rc rc;

	if ((rc = sq_stmt(s, sid, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, tw_now_ms());
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "creating tenant");
		goto out;
	}
	sq_release(s, sid, st);
	sid = SQ_TENANT_SELECT;
	if ((rc = sq_stmt(s, sid, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW) {
		rc = step == SQLITE_DONE ? tw_error_set(err, TW_E_INTERNAL,
			"tenant \"%s\" vanished after insert", name) :
			sq_step_fail(s, err, "reading tenant");
		goto out;
	}
	*id = sqlite3_column_int64(st, 0);
	rc = TW_OK;
out:
	sq_release(s, sid, st);
	return rc;
}

/* ---- gateways ---- */

static tw_rc sq_gateway_row(sqlite3_stmt *st, struct store_gateway *gw, struct tw_error *err)
{
	tw_rc rc;

	memset(gw, 0, sizeof(*gw));
	gw->tenant_id = sqlite3_column_int64(st, 0);
	if ((rc = SQ_COL_TEXT(st, 1, gw, gateway_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, gw, state, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, gw, last_address, err)) != TW_OK)
		return rc;
	gw->created_ms = sqlite3_column_int64(st, 3);
	gw->last_contact_ms = sqlite3_column_int64(st, 4);
	return TW_OK;
}

static tw_rc sq_gateway_insert(void *be, const struct store_gateway *gw, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_GATEWAY_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, gw->tenant_id);
	sqlite3_bind_text(st, 2, gw->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, gw->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, gw->created_ms);
	sqlite3_bind_int64(st, 5, gw->last_contact_ms);
	sqlite3_bind_text(st, 6, gw->last_address, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "inserting gateway");
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_GATEWAY_INSERT, st);
	return rc;
}

static tw_rc sq_gateway_get(void *be, const char *gateway_id, struct store_gateway *out,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_GATEWAY_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gateway_id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway \"%s\" is not registered",
			gateway_id);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading gateway");
		goto out;
	}
	rc = sq_gateway_row(st, out, err);
out:
	sq_release(s, SQ_GATEWAY_GET, st);
	return rc;
}

static tw_rc sq_gateway_touch(void *be, const char *gateway_id, int64_t when_ms,
	const char *address, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_GATEWAY_TOUCH, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, when_ms);
	sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "recording gateway contact");
		goto out;
	}
	if (sqlite3_changes(s->db) == 0) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway \"%s\" is not registered",
			gateway_id);
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_GATEWAY_TOUCH, st);
	return rc;
}

static tw_rc sq_gateway_foreach(void *be, store_gateway_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_gateway gw;
	int step;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_GATEWAY_ALL, &st, err)) != TW_OK)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = sq_gateway_row(st, &gw, err)) != TW_OK)
			goto out;
		if (cb(&gw, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "listing gateways");
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_GATEWAY_ALL, st);
	return rc;
}

/* ---- certificates ---- */

static tw_rc sq_certificate_insert(void *be, const struct store_certificate *c,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_CERT_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, c->tenant_id);
	sqlite3_bind_text(st, 2, c->serial_hex, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c->issuer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, c->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->owner_kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, c->owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, c->usage, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, c->not_before);
	sqlite3_bind_int64(st, 9, c->not_after);
	sqlite3_bind_text(st, 10, c->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 11, c->fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 12, c->der, (int)c->der_len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "inserting certificate");
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_CERT_INSERT, st);
	return rc;
}

static tw_rc sq_certificate_get_by_fingerprint(void *be, const char *fingerprint,
	struct store_certificate *out, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	const void *der;
	int step, n;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_CERT_BY_FINGERPRINT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, fingerprint, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no certificate with fingerprint %s",
			fingerprint);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading certificate");
		goto out;
	}
	out->tenant_id = sqlite3_column_int64(st, 0);
	if ((rc = SQ_COL_TEXT(st, 1, out, serial_hex, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, out, issuer, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, out, subject, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, out, owner_kind, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, out, owner_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 6, out, usage, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 9, out, status, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 10, out, fingerprint, err)) != TW_OK)
		goto out;
	out->not_before = sqlite3_column_int64(st, 7);
	out->not_after = sqlite3_column_int64(st, 8);
	der = sqlite3_column_blob(st, 11);
	n = sqlite3_column_bytes(st, 11);
	if (der == NULL || n <= 0 || n > STORE_CERT_MAX) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "stored certificate %s has a DER of %d "
			"bytes (edited database?)", fingerprint, n);
		goto out;
	}
	if ((out->der = malloc((size_t)n)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory reading certificate");
		goto out;
	}
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
	rc = TW_OK;
out:
	sq_release(s, SQ_CERT_BY_FINGERPRINT, st);
	return rc;
}

/* ---- admin log ---- */

static tw_rc sq_audit_row(sqlite3_stmt *st, struct store_audit_row *row, struct tw_error *err)
{
	tw_rc rc;

	memset(row, 0, sizeof(*row));
	row->seq = sqlite3_column_int64(st, 0);
	if ((rc = SQ_COL_TEXT(st, 1, row, time, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, row, actor, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, row, role, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, row, client, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, row, action, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 6, row, object, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, row, result, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 8, row, detail, err)) != TW_OK ||
	    (rc = sq_col_hash(st, 9, row->prev_hash, "prev_hash", err)) != TW_OK ||
	    (rc = sq_col_hash(st, 10, row->hash, "hash", err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 11, row, error_code, err)) != TW_OK) {
		/* Name the row, so audit_verify can point at it. */
		char why[TW_ERROR_MESSAGE_MAX];

		tw_strlcpy_checked(why, err != NULL ? err->message : "unreadable", sizeof(why),
			NULL, "reason");
		return tw_error_set(err, rc, "admin log entry %lld: %s", (long long)row->seq, why);
	}
	return TW_OK;
}

static tw_rc sq_audit_last(void *be, struct store_audit_row *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_AUDIT_LAST, &st, err)) != TW_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = TW_OK;
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading the last admin log entry");
		goto out;
	}
	if ((rc = sq_audit_row(st, out, err)) != TW_OK)
		goto out;
	*found = true;
out:
	sq_release(s, SQ_AUDIT_LAST, st);
	return rc;
}

static tw_rc sq_audit_insert(void *be, const struct store_audit_row *row, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_stmt(s, SQ_AUDIT_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, row->seq);
	sqlite3_bind_text(st, 2, row->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, row->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, row->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, row->detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, row->prev_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, row->hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, row->error_code, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "appending to the admin log");
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_AUDIT_INSERT, st);
	return rc;
}

static tw_rc sq_audit_foreach(void *be, int64_t from_seq, store_audit_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_audit_row *row = NULL;
	int step;
	tw_rc rc;

	/* ~2.8 KB per row: keep it off the stack of small worker threads. */
	if ((row = malloc(sizeof(*row))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory reading the admin log");
		goto out;
	}
	if ((rc = sq_stmt(s, SQ_AUDIT_FROM, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, from_seq);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = sq_audit_row(st, row, err)) != TW_OK)
			goto out;
		if (cb(row, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading the admin log");
		goto out;
	}
	rc = TW_OK;
out:
	sq_release(s, SQ_AUDIT_FROM, st);
	free(row);
	return rc;
}

const struct store_backend_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.migrate = sq_migrate,
	.schema_version = sq_schema_version,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_transaction = sq_in_transaction,
	.tenant_ensure = sq_tenant_ensure,
	.gateway_insert = sq_gateway_insert,
	.gateway_get = sq_gateway_get,
	.gateway_touch = sq_gateway_touch,
	.gateway_foreach = sq_gateway_foreach,
	.certificate_insert = sq_certificate_insert,
	.certificate_get_by_fingerprint = sq_certificate_get_by_fingerprint,
	.audit_last = sq_audit_last,
	.audit_insert = sq_audit_insert,
	.audit_foreach = sq_audit_foreach,
};
