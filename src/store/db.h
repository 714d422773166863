/*
 * db.h: the store's SQL driver interface (internal to src/store).
 *
 * Every area (store.c, store_<area>.c) writes its queries once, in SQL that SQLite and
 * PostgreSQL both accept, with ?N placeholders, and runs them through these calls, which
 * mirror the sqlite3 statement API: prepare, bind, step (DB_ROW / DB_DONE), column, done.
 * One driver per database speaks its dialect (driver_sqlite.c, driver_pg.c): placeholder
 * syntax, blob vs bytea, returning ids, the global writer lock of a write transaction,
 * and the mapping of its errors onto the store.h vocabulary (duplicate -> TW_E_EXISTS,
 * missing referenced row -> TW_E_NOT_FOUND, anything else -> TW_E_STORE).
 *
 * A struct db is one connection used by one thread. Statements are cached per
 * connection by the address of their static SQL text (db.c); a statement that is still
 * running when the same SQL is prepared again (a foreach callback calling back into the
 * store) gets a fresh copy. Every db_prepare is paired with one db_done.
 */
#ifndef TORWART_STORE_DB_H
#define TORWART_STORE_DB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

enum { DB_ERROR = 1, DB_ROW = 100, DB_DONE = 101 };
enum db_type { DB_NULL, DB_INT, DB_TEXT, DB_BLOB };   /* of a value read (store_copy) */

#define DB_CACHE_MAX 288

struct db;
struct db_stmt;

struct db_driver {
	const char *name;                  /* "sqlite", "postgresql" */
	bool pg;                           /* picks the migration variant */
	tw_rc (*open)(const char *target, struct db **out, struct tw_error *err);
	void (*close)(struct db *d);
	/* SQL without parameters or rows; may hold several statements (migrations). */
	tw_rc (*exec)(struct db *d, const char *sql, const char *doing, struct tw_error *err);
	/* write: take the global writer lock now (SQLite BEGIN IMMEDIATE, PG advisory lock). */
	tw_rc (*begin)(struct db *d, bool write, struct tw_error *err);
	bool (*in_transaction)(struct db *d);
	/* At most 32 parameters (?1..?32) per statement: the PostgreSQL driver keeps them in
	 * fixed arrays and refuses more with TW_E_INTERNAL; SQLite would take more, so a
	 * query with more passes the SQLite tests and fails only on PostgreSQL. */
	tw_rc (*prepare)(struct db *d, const char *sql, struct db_stmt **out,
		struct tw_error *err);
	void (*reset)(struct db_stmt *st);          /* back to unbound, ready to run again */
	void (*finalize)(struct db_stmt *st);
	void (*bind_int64)(struct db_stmt *st, int i, int64_t v);
	void (*bind_text)(struct db_stmt *st, int i, const char *v);  /* borrowed until done */
	void (*bind_blob)(struct db_stmt *st, int i, const void *v, size_t n);
	void (*bind_null)(struct db_stmt *st, int i);
	int (*step)(struct db_stmt *st);
	bool (*column_null)(struct db_stmt *st, int col);
	int64_t (*column_int64)(struct db_stmt *st, int col);
	const char *(*column_text)(struct db_stmt *st, int col);     /* NULL for NULL */
	const void *(*column_blob)(struct db_stmt *st, int col);
	int (*column_bytes)(struct db_stmt *st, int col);            /* after text/blob */
	int (*column_count)(struct db_stmt *st);
	const char *(*column_name)(struct db_stmt *st, int col);
	enum db_type (*column_type)(struct db_stmt *st, int col);
	/* After rows were copied in with their ids: identity columns continue above them. */
	tw_rc (*ids_follow)(struct db *d, const char *table, struct tw_error *err);
	int64_t (*changes)(struct db *d);
	/* Map the last failure (before done): unique -> EXISTS, FK -> NOT_FOUND. */
	tw_rc (*step_fail)(struct db *d, struct tw_error *err, const char *doing);
	const char *sql_has_migrations;    /* one row, one count column */
};

/* Drivers embed these as their first member. */
struct db {
	const struct db_driver *drv;
	char *label;                       /* for messages: a path or host/dbname, no password */
	struct {
		const char *sql;                 /* static text; the address is the key */
		struct db_stmt *st;
		bool busy;
	} cache[DB_CACHE_MAX];
	size_t cache_count;
	bool closing;                      /* db_close: finalize need not tidy the server */
};
struct db_stmt {
	struct db *db;
};

extern const struct db_driver db_driver_sqlite;
extern const struct db_driver db_driver_pg;

/* The connection of an open store handle (TW_E_INTERNAL when it is not open). */
struct db *store_db(struct tw_store *store, struct tw_error *err);

tw_rc db_prepare(struct db *d, const char *sql, struct db_stmt **out, struct tw_error *err);
void db_done(struct db *d, struct db_stmt *st);
void db_close(struct db *d);
tw_rc db_migrate(struct db *d, struct tw_error *err);
tw_rc db_schema_version(struct db *d, int *version, struct tw_error *err);
tw_rc db_commit(struct db *d, struct tw_error *err);
void db_rollback(struct db *d);

#define db_exec(d, sql, doing, err) ((d)->drv->exec((d), (sql), (doing), (err)))
#define db_begin(d, write, err) ((d)->drv->begin((d), (write), (err)))
#define db_in_transaction(d) ((d)->drv->in_transaction(d))
#define db_step_fail(d, err, doing) ((d)->drv->step_fail((d), (err), (doing)))
#define db_changes(d) ((d)->drv->changes(d))
#define db_step(st) ((st)->db->drv->step(st))
#define db_bind_int64(st, i, v) ((st)->db->drv->bind_int64((st), (i), (v)))
#define db_bind_text(st, i, v) ((st)->db->drv->bind_text((st), (i), (v)))
#define db_bind_blob(st, i, v, n) ((st)->db->drv->bind_blob((st), (i), (v), (n)))
#define db_bind_null(st, i) ((st)->db->drv->bind_null((st), (i)))
#define db_column_null(st, c) ((st)->db->drv->column_null((st), (c)))
#define db_column_int64(st, c) ((st)->db->drv->column_int64((st), (c)))
#define db_column_text(st, c) ((st)->db->drv->column_text((st), (c)))
#define db_column_blob(st, c) ((st)->db->drv->column_blob((st), (c)))
#define db_column_bytes(st, c) ((st)->db->drv->column_bytes((st), (c)))

/*
 * One statement that returns no rows, start to finish: prepare, bind parameter i+1 by
 * types[i] ('i' int64_t, 't' text or NULL, 'b' blob as pointer then size_t, 'B' the same
 * but NULL or empty binds SQL NULL, 'n' NULL and no argument), step, done; a failure is
 * mapped (db_step_fail) with doing. *changes (may be NULL): rows changed. Integer
 * arguments must be int64_t: cast int members.
 */
tw_rc db_run(struct db *d, const char *sql, int64_t *changes, const char *doing,
	struct tw_error *err, const char *types, ...);
/* db_run with a va_list, for wrappers; id not NULL: the statement is an INSERT ...
 * RETURNING id and *id gets the new row's id. */
tw_rc db_vrun(struct db *d, const char *sql, int64_t *changes, int64_t *id,
	const char *doing, struct tw_error *err, const char *types, va_list ap);
/*
 * db_run of "INSERT ... RETURNING id" that reads the new row's id into *id. The id comes
 * back with the insert (SQLite >= 3.35 and PostgreSQL both accept RETURNING): one round
 * trip on PostgreSQL, where a separate lastval() query was a second one.
 */
tw_rc db_insert(struct db *d, const char *sql, int64_t *id, const char *doing,
	struct tw_error *err, const char *types, ...);
/*
 * A query: prepare, bind (as db_run), step to the first row. TW_OK: *st is open and
 * *row says whether it stands on a row; the caller reads it, steps on with db_next and
 * always ends with db_done(d, *st). Failure: mapped with doing, *st is NULL (done).
 * The loop of a list:
 *   for (rc = db_fetch(d, SQL, &st, &row, doing, err, "i", x); rc == TW_OK && row;
 *        rc = db_next(st, &row, doing, err)) { read the row; break to stop early; }
 *   db_done(d, st);
 */
tw_rc db_fetch(struct db *d, const char *sql, struct db_stmt **st, bool *row,
	const char *doing, struct tw_error *err, const char *types, ...);
/* db_fetch with a va_list, for wrappers. */
tw_rc db_vfetch(struct db *d, const char *sql, struct db_stmt **st, bool *row,
	const char *doing, struct tw_error *err, const char *types, va_list ap);
/* Whether the query (as db_fetch) returns a row at all. */
tw_rc db_exists(struct db *d, const char *sql, bool *yes, const char *doing,
	struct tw_error *err, const char *types, ...);
/* The first column of the first row as an integer; *v unchanged when there is no row
 * (then *found, if not NULL, is false). */
tw_rc db_int(struct db *d, const char *sql, int64_t *v, bool *found, const char *doing,
	struct tw_error *err, const char *types, ...);
/*
 * The first column of each row as text (db_col_text, what names it) into the fixed-width
 * slots of out: row i at out + i * width. Stops after max rows; *n rows were stored.
 * max must be > 0.
 */
tw_rc db_text_list(struct db *d, const char *sql, char *out, size_t width, size_t max,
	size_t *n, const char *what, const char *doing, struct tw_error *err,
	const char *types, ...);
/* The first column of the first row as text into dst (db_col_text; "" and *found false
 * when there is no row). */
tw_rc db_text(struct db *d, const char *sql, char *dst, size_t size, const char *what,
	bool *found, const char *doing, struct tw_error *err, const char *types, ...);
/* The next row of a db_fetch: *row false at the end; a failure is mapped with doing. */
tw_rc db_next(struct db_stmt *st, bool *row, const char *doing, struct tw_error *err);
/* Copy a text column into dst; TW_E_INTEGRITY if the stored text is longer than size-1. */
tw_rc db_col_text(struct db_stmt *st, int col, char *dst, size_t size, const char *what,
	struct tw_error *err);
/* A new copy (caller frees) of a text column of at most max bytes; TW_E_INTEGRITY above. */
tw_rc db_col_dup(struct db_stmt *st, int col, size_t max, const char *what, char **out,
	struct tw_error *err);
/* Copy a 32-byte blob column; TW_E_INTEGRITY otherwise. */
tw_rc db_col_hash(struct db_stmt *st, int col, unsigned char dst[32], const char *what,
	struct tw_error *err);
#define DB_COL_TEXT(st, col, obj, member, err) \
	db_col_text((st), (col), (obj)->member, sizeof((obj)->member), #member, (err))

struct tw_store {
	struct db *db;          /* owned; released by db_close */
	int64_t scope_tenant;   /* 0: all tenants; else gateways/jobs of others are hidden */
	/*
	 * The admin-log entry this write transaction appended last (store_audit_insert), so
	 * the next append of the same transaction need not read it back (store_audit_last):
	 * under the writer lock nobody else can append meanwhile. Valid only inside the
	 * transaction that set it; store_begin, store_commit, store_rollback and a retention
	 * cut forget it. Kept only in a write transaction begun by store_begin (audit_write_tx;
	 * a read snapshot holds no writer lock). Owned (allocated on first use, freed by
	 * store_close).
	 */
	struct store_audit_row *audit_last;
	bool audit_last_valid;
	bool audit_write_tx;
};

/* Forget the cached last admin-log entry (a statement changed the log's tail). */
void store_audit_last_forget(struct tw_store *store);

/* The callback wrapper of a tenant-scoped gateway walk (store.c, store_jobs.c). */
struct store_scope_filter {
	int64_t tenant_id;
	store_gateway_cb cb;
	void *arg;
};
int store_scope_gateway_filter(const struct store_gateway *gw, void *arg);

/*
 * Migrations embedded at build time by gen_migrations.py from migrations/NNNN_name.sql,
 * with the PostgreSQL text from NNNN_name.pg.sql where the dialects differ (or the
 * generator's type mapping of the shared file). Versions are 1, 2, 3, ... without gaps.
 */
struct store_migration {
	int version;
	const char *name;    /* file name without .sql, e.g. "0001_init" */
	const char *sql;     /* SQLite */
	const char *sql_pg;  /* PostgreSQL */
};
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
