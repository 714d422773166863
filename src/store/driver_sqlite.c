/*
 * driver_sqlite.c: the store's driver (db.h) on the SQLite C API.
 *
 * Durability settings follow DESIGN.md: WAL so readers never block the writer,
 * synchronous=FULL so a committed audit entry survives a power cut, a busy timeout so
 * the wan, signer and CLI processes queue for the write lock instead of failing, and
 * foreign keys on. A write transaction is BEGIN IMMEDIATE: the database's single writer
 * lock is the global writer order the admin-log chain and the job hand-out rely on.
 * New rows' ids come back through INSERT ... RETURNING id (db_insert), which SQLite
 * has since 3.35 (bookworm: 3.40); an older library is refused at open.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/util.h"
#include "store/db.h"

#define SQ_BUSY_TIMEOUT_MS 10000

struct sq {
	struct db base;
	sqlite3 *db;
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
};

#define SQ(d) ((struct sq *)(d))
#define ST(s) (((struct sq_stmt *)(s))->st)

static tw_rc sq_fail(struct db *d, tw_rc code, struct tw_error *err, const char *doing)
{
	int ec = sqlite3_errcode(SQ(d)->db);

	/*
	 * Busy beyond the busy timeout (another process held the write lock for longer):
	 * the database is there but not available now. Callers answer "retry later" and the
	 * next statement tries again; nothing of the failed transaction is kept.
	 */
	if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
		return tw_error_set(err, TW_E_UNAVAILABLE, "store %s: %s failed: the database "
			"stayed busy (locked by another process) beyond the %d ms busy timeout; retry "
			"later", d->label, doing, SQ_BUSY_TIMEOUT_MS);
	return tw_error_set(err, code, "store %s: %s failed: %s", d->label, doing,
		sqlite3_errmsg(SQ(d)->db));
}

static tw_rc sq_step_fail(struct db *d, struct tw_error *err, const char *doing)
{
	switch (sqlite3_extended_errcode(SQ(d)->db)) {
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return tw_error_set(err, TW_E_EXISTS, "%s: already exists (%s)", doing,
			sqlite3_errmsg(SQ(d)->db));
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return tw_error_set(err, TW_E_NOT_FOUND, "%s: a referenced row (tenant) does not "
			"exist", doing);
	default:
		return sq_fail(d, TW_E_STORE, err, doing);
	}
}

static tw_rc sq_exec(struct db *d, const char *sql, const char *doing, struct tw_error *err)
{
	if (sqlite3_exec(SQ(d)->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(d, TW_E_STORE, err, doing);
	return TW_OK;
}

static tw_rc sq_begin(struct db *d, bool write, struct tw_error *err)
{
	/* IMMEDIATE takes the write lock now, so read-then-write cannot hit BUSY_SNAPSHOT;
	 * DEFERRED takes no lock until the first read, which then pins the WAL snapshot. */
	return write ? sq_exec(d, "BEGIN IMMEDIATE", "starting a write transaction", err) :
		sq_exec(d, "BEGIN DEFERRED", "starting a read snapshot", err);
}

static bool sq_in_transaction(struct db *d)
{
	return sqlite3_get_autocommit(SQ(d)->db) == 0;
}

static tw_rc sq_prepare(struct db *d, const char *sql, struct db_stmt **out,
	struct tw_error *err)
{
	struct sq_stmt *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory preparing a statement");
	if (sqlite3_prepare_v3(SQ(d)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st,
	    NULL) != SQLITE_OK) {
		free(s);
		return sq_fail(d, TW_E_STORE, err, "preparing a statement");
	}
	s->base.db = d;
	*out = &s->base;
	return TW_OK;
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(ST(st));
	sqlite3_clear_bindings(ST(st));
}

static void sq_finalize(struct db_stmt *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(ST(st));
	free(st);
}

static void sq_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	sqlite3_bind_int64(ST(st), i, v);
}

static void sq_bind_text(struct db_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(ST(st), i, v, -1, SQLITE_STATIC);
}

static void sq_bind_blob(struct db_stmt *st, int i, const void *v, size_t n)
{
	sqlite3_bind_blob(ST(st), i, v, (int)n, SQLITE_STATIC);
}

static void sq_bind_null(struct db_stmt *st, int i)
{
	sqlite3_bind_null(ST(st), i);
}

static int sq_step(struct db_stmt *st)
{
	int r = sqlite3_step(ST(st));

	return r == SQLITE_ROW ? DB_ROW : r == SQLITE_DONE ? DB_DONE : DB_ERROR;
}

static bool sq_column_null(struct db_stmt *st, int c)
{
	return sqlite3_column_type(ST(st), c) == SQLITE_NULL;
}

static int64_t sq_column_int64(struct db_stmt *st, int c)
{
	return sqlite3_column_int64(ST(st), c);
}

static const char *sq_column_text(struct db_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(ST(st), c);
}

static const void *sq_column_blob(struct db_stmt *st, int c)
{
	return sqlite3_column_blob(ST(st), c);
}

static int sq_column_bytes(struct db_stmt *st, int c)
{
	return sqlite3_column_bytes(ST(st), c);
}

static int sq_column_count(struct db_stmt *st)
{
	return sqlite3_column_count(ST(st));
}

static const char *sq_column_name(struct db_stmt *st, int c)
{
	return sqlite3_column_name(ST(st), c);
}

static enum db_type sq_column_type(struct db_stmt *st, int c)
{
	switch (sqlite3_column_type(ST(st), c)) {
	case SQLITE_INTEGER: return DB_INT;
	case SQLITE_BLOB: return DB_BLOB;
	case SQLITE_NULL: return DB_NULL;
	default: return DB_TEXT;
	}
}

static tw_rc sq_ids_follow(struct db *d, const char *table, struct tw_error *err)
{
	(void)d;
	(void)table;
	(void)err;
	return TW_OK;   /* an INTEGER PRIMARY KEY continues after its largest value anyway */
}

static int64_t sq_changes(struct db *d)
{
	return sqlite3_changes(SQ(d)->db);
}

static void sq_close(struct db *d)
{
	if (d == NULL)
		return;
	/* close_v2 so a statement we forgot cannot keep the file open silently. */
	sqlite3_close_v2(SQ(d)->db);
	free(d->label);
	free(d);
}

/*
 * No initial bulk allocation for page caches (SQLITE_CONFIG_PAGECACHE with no memory and
 * no slots). By default every page cache, also the one of each ephemeral table a
 * statement opens for an IN (...) list of three or more values (our CHECK (state IN
 * ...) constraints, OPEN_STATES in store_jobs.c), takes 20 page slots (~88 KB) in one
 * malloc at its first use and frees them when the statement is reset. glibc serves that
 * from the top of the heap and gives it back to the kernel on free (trim above 128 KB),
 * so each such statement grew and shrank the heap: two brk calls, ~45 fresh page faults
 * and a TLB flush per execution, ~1 ms of the job hand-out on SQLite (docs/performance.md,
 * "Job hand-out on SQLite"). Without the bulk, pages are allocated one by one as a cache
 * needs them, which is what happens beyond those 20 pages anyway. Process-wide and only
 * possible before SQLite initialises: if something in the process initialised it first,
 * sqlite3_config answers SQLITE_MISUSE and nothing changes but the speed.
 */
static pthread_once_t sq_config_once = PTHREAD_ONCE_INIT;

static void sq_config(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0);
}

static tw_rc sq_open(const char *target, struct db **out, struct tw_error *err)
{
	struct sq *s = NULL;
	sqlite3_stmt *st = NULL;
	const char *mode;
	tw_rc rc;

	*out = NULL;
	if (sqlite3_libversion_number() < 3035000)
		return tw_error_set(err, TW_E_STORE, "store %s: SQLite %s is too old; the store "
			"needs 3.35 or newer (INSERT ... RETURNING)", target, sqlite3_libversion());
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->base.label = tw_strdup(target)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
		goto out;
	}
	s->base.drv = &db_driver_sqlite;
	pthread_once(&sq_config_once, sq_config);
	if (sqlite3_open_v2(target, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		if (s->db == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening store %s",
				target);
			goto out;
		}
		rc = sq_fail(&s->base, TW_E_STORE, err, "opening the database");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if (sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		rc = sq_fail(&s->base, TW_E_STORE, err, "setting the busy timeout");
		goto out;
	}
	/* journal_mode answers with the mode in force; anything but WAL is refused. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = sq_fail(&s->base, TW_E_STORE, err, "switching to WAL journal mode");
		goto out;
	}
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)) {
		rc = tw_error_set(err, TW_E_STORE,
			"store %s: journal mode is \"%s\", not WAL (file system without shared "
			"memory?)", target, mode != NULL ? mode : "?");
		goto out;
	}
	if ((rc = sq_exec(&s->base, "PRAGMA synchronous = FULL", "setting synchronous=FULL",
	    err)) != TW_OK ||
	    (rc = sq_exec(&s->base, "PRAGMA foreign_keys = ON", "enabling foreign keys",
	    err)) != TW_OK)
		goto out;
	*out = &s->base;
	s = NULL;
	rc = TW_OK;
out:
	sqlite3_finalize(st);
	if (s != NULL)
		sq_close(&s->base);
	return rc;
}

const struct db_driver db_driver_sqlite = {
	.name = "sqlite",
	.pg = false,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.begin = sq_begin,
	.in_transaction = sq_in_transaction,
	.prepare = sq_prepare,
	.reset = sq_reset,
	.finalize = sq_finalize,
	.bind_int64 = sq_bind_int64,
	.bind_text = sq_bind_text,
	.bind_blob = sq_bind_blob,
	.bind_null = sq_bind_null,
	.step = sq_step,
	.column_null = sq_column_null,
	.column_int64 = sq_column_int64,
	.column_text = sq_column_text,
	.column_blob = sq_column_blob,
	.column_bytes = sq_column_bytes,
	.column_count = sq_column_count,
	.column_name = sq_column_name,
	.column_type = sq_column_type,
	.ids_follow = sq_ids_follow,
	.changes = sq_changes,
	.step_fail = sq_step_fail,
	.sql_has_migrations = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
		"name = 'schema_migrations'",
};
