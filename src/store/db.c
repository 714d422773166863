/*
 * db.c: what both drivers share: the statement cache, the checked column readers, and
 * the migration runner (one numbered sequence; each migration in its own write
 * transaction, re-checked under the writer lock so two processes can migrate at once).
 */
#include "store/db.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

tw_rc db_prepare(struct db *d, const char *sql, struct db_stmt **out, struct tw_error *err)
{
	size_t i;
	tw_rc rc;

	*out = NULL;
	for (i = 0; i < d->cache_count; i++) {
		if (d->cache[i].sql != sql)
			continue;
		if (d->cache[i].busy)
			break;   /* running (a callback re-entered): use a temporary copy */
		d->cache[i].busy = true;
		*out = d->cache[i].st;
		return TW_OK;
	}
	if ((rc = d->drv->prepare(d, sql, out, err)) != TW_OK)
		return rc;
	if (i == d->cache_count && d->cache_count < DB_CACHE_MAX) {
		d->cache[i].sql = sql;
		d->cache[i].st = *out;
		d->cache[i].busy = true;
		d->cache_count++;
	}
	return TW_OK;
}

void db_done(struct db *d, struct db_stmt *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < d->cache_count; i++) {
		if (d->cache[i].st == st) {
			d->drv->reset(st);
			d->cache[i].busy = false;
			return;
		}
	}
	d->drv->finalize(st);
}

void db_close(struct db *d)
{
	if (d == NULL)
		return;
	d->closing = true;
	for (size_t i = 0; i < d->cache_count; i++)
		d->drv->finalize(d->cache[i].st);
	d->cache_count = 0;
	d->drv->close(d);
}

/* Bind parameter i+1 by types[i] (db_run); the va_list is consumed. */
static void db_bindv(struct db_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i] != '\0'; i++) {
		switch (types[i]) {
		case 'i':
			db_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 't':
			db_bind_text(st, i + 1, va_arg(ap, const char *));
			break;
		case 'b':
		case 'B': {
			const void *v = va_arg(ap, const void *);
			size_t n = va_arg(ap, size_t);

			if (types[i] == 'B' && (v == NULL || n == 0))
				db_bind_null(st, i + 1);
			else
				db_bind_blob(st, i + 1, v, n);
			break;
		}
		default:
			db_bind_null(st, i + 1);
			break;
		}
	}
}

tw_rc db_vrun(struct db *d, const char *sql, int64_t *changes, int64_t *id,
	const char *doing, struct tw_error *err, const char *types, va_list ap)
{
	struct db_stmt *st = NULL;
	tw_rc rc;

	int step;

	if ((rc = db_prepare(d, sql, &st, err)) != TW_OK)
		return rc;
	db_bindv(st, types, ap);
	step = db_step(st);
	/*
	 * An INSERT ... RETURNING id (db_insert) answers with the new row's id as its one
	 * row, in the same round trip as the insert: no lastval() query after it.
	 */
	if (step == DB_ROW) {
		if (id != NULL)
			*id = db_column_int64(st, 0);
		step = db_step(st);
	} else if (id != NULL && step == DB_DONE) {
		step = DB_ERROR;
		rc = tw_error_set(err, TW_E_INTERNAL, "%s: the insert returned no id (RETURNING "
			"id missing?)", doing);
	}
	if (step != DB_DONE && rc == TW_OK)
		rc = db_step_fail(d, err, doing);
	else if (rc == TW_OK && changes != NULL)
		*changes = db_changes(d);
	db_done(d, st);
	return rc;
}

tw_rc db_run(struct db *d, const char *sql, int64_t *changes, const char *doing,
	struct tw_error *err, const char *types, ...)
{
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vrun(d, sql, changes, NULL, doing, err, types, ap);
	va_end(ap);
	return rc;
}

tw_rc db_insert(struct db *d, const char *sql, int64_t *id, const char *doing,
	struct tw_error *err, const char *types, ...)
{
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vrun(d, sql, NULL, id, doing, err, types, ap);
	va_end(ap);
	return rc;
}

tw_rc db_vfetch(struct db *d, const char *sql, struct db_stmt **st, bool *row,
	const char *doing, struct tw_error *err, const char *types, va_list ap)
{
	tw_rc rc;

	*row = false;
	if ((rc = db_prepare(d, sql, st, err)) != TW_OK)
		return rc;
	db_bindv(*st, types, ap);
	if ((rc = db_next(*st, row, doing, err)) != TW_OK) {
		db_done(d, *st);
		*st = NULL;
	}
	return rc;
}

tw_rc db_fetch(struct db *d, const char *sql, struct db_stmt **st, bool *row,
	const char *doing, struct tw_error *err, const char *types, ...)
{
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vfetch(d, sql, st, row, doing, err, types, ap);
	va_end(ap);
	return rc;
}

tw_rc db_exists(struct db *d, const char *sql, bool *yes, const char *doing,
	struct tw_error *err, const char *types, ...)
{
	struct db_stmt *st = NULL;
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vfetch(d, sql, &st, yes, doing, err, types, ap);
	va_end(ap);
	db_done(d, st);
	return rc;
}

tw_rc db_int(struct db *d, const char *sql, int64_t *v, bool *found, const char *doing,
	struct tw_error *err, const char *types, ...)
{
	struct db_stmt *st = NULL;
	bool row = false;
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vfetch(d, sql, &st, &row, doing, err, types, ap);
	va_end(ap);
	if (row)
		*v = db_column_int64(st, 0);
	if (found != NULL)
		*found = row;
	db_done(d, st);
	return rc;
}

tw_rc db_text(struct db *d, const char *sql, char *dst, size_t size, const char *what,
	bool *found, const char *doing, struct tw_error *err, const char *types, ...)
{
	struct db_stmt *st = NULL;
	bool row = false;
	va_list ap;
	tw_rc rc;

	dst[0] = '\0';
	va_start(ap, types);
	rc = db_vfetch(d, sql, &st, &row, doing, err, types, ap);
	va_end(ap);
	if (row)
		rc = db_col_text(st, 0, dst, size, what, err);
	*found = row;
	db_done(d, st);
	return rc;
}

tw_rc db_text_list(struct db *d, const char *sql, char *out, size_t width, size_t max,
	size_t *n, const char *what, const char *doing, struct tw_error *err,
	const char *types, ...)
{
	struct db_stmt *st = NULL;
	bool row = false;
	va_list ap;
	tw_rc rc;

	*n = 0;
	va_start(ap, types);
	rc = db_vfetch(d, sql, &st, &row, doing, err, types, ap);
	va_end(ap);
	for (; rc == TW_OK && row && *n < max; rc = db_next(st, &row, doing, err)) {
		if ((rc = db_col_text(st, 0, out + *n * width, width, what, err)) != TW_OK)
			break;
		(*n)++;
	}
	db_done(d, st);
	return rc;
}

tw_rc db_next(struct db_stmt *st, bool *row, const char *doing, struct tw_error *err)
{
	int step = db_step(st);

	*row = step == DB_ROW;
	if (step == DB_ROW || step == DB_DONE)
		return TW_OK;
	return db_step_fail(st->db, err, doing);
}

tw_rc db_col_text(struct db_stmt *st, int col, char *dst, size_t size, const char *what,
	struct tw_error *err)
{
	const char *t = db_column_text(st, col);
	int n = db_column_bytes(st, col);

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

tw_rc db_col_dup(struct db_stmt *st, int col, size_t max, const char *what, char **out,
	struct tw_error *err)
{
	const char *t = db_column_text(st, col);
	size_t n = (size_t)db_column_bytes(st, col);

	*out = NULL;
	if (n > max)
		return tw_error_set(err, TW_E_INTEGRITY, "stored %s is %zu bytes, more than the "
			"limit of %zu (edited database?)", what, n, max);
	if ((*out = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading %s", what);
	if (n > 0 && t != NULL)
		memcpy(*out, t, n);
	(*out)[n] = '\0';
	return TW_OK;
}

tw_rc db_col_hash(struct db_stmt *st, int col, unsigned char dst[32], const char *what,
	struct tw_error *err)
{
	const void *b = db_column_blob(st, col);
	int n = db_column_bytes(st, col);

	memset(dst, 0, 32);
	if (b == NULL || n != 32)
		return tw_error_set(err, TW_E_INTEGRITY,
			"stored %s is %d bytes, not 32 (edited database?)", what, n);
	memcpy(dst, b, 32);
	return TW_OK;
}

/* One integer from a query without parameters. */
static tw_rc db_query_int(struct db *d, const char *sql, int64_t *v, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	tw_rc rc;

	*v = 0;
	if ((rc = d->drv->prepare(d, sql, &st, err)) != TW_OK)
		return rc;
	if (db_step(st) == DB_ROW)
		*v = db_column_int64(st, 0);
	else
		rc = db_step_fail(d, err, "reading the schema version");
	d->drv->finalize(st);
	return rc;
}

tw_rc db_schema_version(struct db *d, int *version, struct tw_error *err)
{
	int64_t n = 0;
	tw_rc rc;

	*version = 0;
	/* A fresh database has no schema_migrations table yet: version 0, not an error. */
	if ((rc = db_query_int(d, d->drv->sql_has_migrations, &n, err)) != TW_OK || n == 0)
		return rc;
	if ((rc = db_query_int(d, "SELECT coalesce(max(version), 0) FROM schema_migrations",
	    &n, err)) == TW_OK)
		*version = (int)n;
	return rc;
}

tw_rc db_commit(struct db *d, struct tw_error *err)
{
	tw_rc rc = db_exec(d, "COMMIT", "committing", err);

	if (rc != TW_OK)
		db_rollback(d);
	return rc;
}

void db_rollback(struct db *d)
{
	if (db_in_transaction(d))
		db_exec(d, "ROLLBACK", "rolling back", NULL);
}

/* Apply one migration in its own transaction unless another process already did. */
static tw_rc db_migrate_one(struct db *d, const struct store_migration *m,
	struct tw_error *err)
{
	static const char sql_record[] = "INSERT INTO schema_migrations (version, name, "
		"applied_ms) VALUES (?1, ?2, ?3)";
	struct db_stmt *st = NULL;
	int version;
	tw_rc rc;

	if ((rc = db_begin(d, true, err)) != TW_OK)
		return rc;
	/* Re-read under the write lock: two processes may migrate the same database at once. */
	if ((rc = db_schema_version(d, &version, err)) != TW_OK || version >= m->version)
		goto out;
	if (version != m->version - 1) {
		rc = tw_error_set(err, TW_E_INTERNAL, "store %s: schema version %d, cannot apply "
			"migration %s", d->label, version, m->name);
		goto out;
	}
	if ((rc = db_exec(d, d->drv->pg ? m->sql_pg : m->sql, m->name, err)) != TW_OK ||
	    (rc = d->drv->prepare(d, sql_record, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, m->version);
	db_bind_text(st, 2, m->name);
	db_bind_int64(st, 3, tw_now_ms());
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a migration");
	d->drv->finalize(st);
out:
	if (rc == TW_OK)
		return db_commit(d, err);
	db_rollback(d);
	return rc;
}

tw_rc db_migrate(struct db *d, struct tw_error *err)
{
	int version;
	tw_rc rc;

	if (db_in_transaction(d))
		return tw_error_set(err, TW_E_INTERNAL, "store_migrate inside a transaction");
	/* BIGINT: an INTEGER on SQLite, a 64-bit integer on PostgreSQL. */
	if ((rc = db_exec(d, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
	    "creating schema_migrations", err)) != TW_OK ||
	    (rc = db_schema_version(d, &version, err)) != TW_OK)
		return rc;
	/* An older binary must not run against a schema it does not understand. */
	if (version > (int)store_migrations_count)
		return tw_error_set(err, TW_E_STORE, "store %s: schema version %d is newer than "
			"this build knows (%zu); upgrade Torwart", d->label, version,
			store_migrations_count);
	for (size_t i = 0; i < store_migrations_count; i++) {
		if (store_migrations[i].version <= version)
			continue;
		if ((rc = db_migrate_one(d, &store_migrations[i], err)) != TW_OK)
			return rc;
	}
	return TW_OK;
}
