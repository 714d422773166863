/*
 * store_auditlog.c: argument checks and the SQL of store_auditlog.h (db.h, both drivers).
 * Checks run before any SQL so a bad argument never reaches the database.
 */
#include "store/store_auditlog.h"

#include <string.h>

#include "base/util.h"
#include "store/db.h"
#include "store/store_check.h"

static const char SAL_NODE_PUT[] =
	"INSERT INTO admin_log_node (level, idx, hash) VALUES (?1, ?2, ?3)";
static const char SAL_NODE_GET[] =
	"SELECT hash FROM admin_log_node WHERE level = ?1 AND idx = ?2";
static const char SAL_NODE_MAX[] =
	"SELECT coalesce(max(idx), -1) FROM admin_log_node WHERE level = ?1";
static const char SAL_HEAD_INSERT[] =
	"INSERT INTO admin_log_head (tree_size, time_ms, root, key_label, signature) "
	"VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SAL_HEAD_GET[] =
	"SELECT tree_size, time_ms, root, key_label, signature FROM admin_log_head "
	"WHERE tree_size = ?1";
static const char SAL_HEAD_LATEST[] =
	"SELECT tree_size, time_ms, root, key_label, signature FROM admin_log_head "
	"ORDER BY tree_size DESC LIMIT 1";
static const char SAL_HEAD_ALL[] =
	"SELECT tree_size, time_ms, root, key_label, signature FROM admin_log_head "
	"ORDER BY tree_size";
static const char SAL_CUT_LATEST[] =
	"SELECT cut_seq, time_ms, chain_hash, archive, archive_sha256 FROM admin_log_cut "
	"ORDER BY cut_seq DESC LIMIT 1";
static const char SAL_CUT_INSERT[] =
	"INSERT INTO admin_log_cut (cut_seq, time_ms, chain_hash, archive, archive_sha256) "
	"VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SAL_CUT_DELETE[] = "DELETE FROM admin_log WHERE seq <= ?1";
static const char SAL_CURSOR_GET[] = "SELECT seq FROM admin_log_cursor WHERE name = ?1";
static const char SAL_CURSOR_SET[] =
	"INSERT INTO admin_log_cursor (name, seq, updated_ms) VALUES (?1, ?2, ?3) "
	"ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_ms = excluded.updated_ms";
#define SAL_ALERT_INSERT_SQL \
	"INSERT INTO alert_queue (created_ms, kind, role, severity, subject, message, next_ms) " \
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
/* The services queue alerts with INSERT alone: on PostgreSQL the wan's role may not read
 * the queue (roles.pg.sql), and RETURNING would read its id column. */
static const char SAL_ALERT_INSERT[] = SAL_ALERT_INSERT_SQL;
static const char SAL_ALERT_INSERT_ID[] = SAL_ALERT_INSERT_SQL " RETURNING id";
static const char SAL_ALERT_DUE[] =
	"SELECT id, created_ms, kind, role, severity, subject, message, attempts, next_ms, "
	"delivered_ms, last_error FROM alert_queue WHERE delivered_ms = 0 AND next_ms <= ?1 "
	"ORDER BY id LIMIT ?2";
static const char SAL_ALERT_UPDATE[] =
	"UPDATE alert_queue SET attempts = ?2, next_ms = ?3, delivered_ms = ?4, last_error = ?5 "
	"WHERE id = ?1";
static const char SAL_ALERT_REQUEUE[] =
	"UPDATE alert_queue SET next_ms = ?2 WHERE delivered_ms = 0 AND next_ms = ?1";
static const char SAL_ALERT_SET_ASIDE[] =
	"SELECT count(*) FROM alert_queue WHERE delivered_ms = 0 AND next_ms = ?1";
static const char SAL_ALERT_PENDING[] =
	"SELECT count(*) FROM alert_queue WHERE delivered_ms = 0";

static tw_rc sal_head_row(struct db_stmt *st, struct store_auditlog_head *h, struct tw_error *err)
{
	const void *sig = db_column_blob(st, 4);
	int n = db_column_bytes(st, 4);
	tw_rc rc;

	memset(h, 0, sizeof(*h));
	h->tree_size = db_column_int64(st, 0);
	h->time_ms = db_column_int64(st, 1);
	if ((rc = db_col_hash(st, 2, h->root, "tree head root", err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, h, key_label, err)) != TW_OK)
		return rc;
	if (sig == NULL || n <= 0 || (size_t)n > sizeof(h->sig))
		return tw_error_set(err, TW_E_INTEGRITY, "stored tree head %lld has a signature "
			"of %d bytes (edited database?)", (long long)h->tree_size, n);
	memcpy(h->sig, sig, (size_t)n);
	h->sig_len = (size_t)n;
	return TW_OK;
}

static tw_rc sal_ops(struct tw_store *store, struct db **db, struct tw_error *err)
{
	*db = store_db(store, err);
	return *db != NULL ? TW_OK : err != NULL ? err->code : TW_E_INTERNAL;
}

static tw_rc sal_check_node(int level, int64_t idx, struct tw_error *err)
{
	if (level < STORE_AUDITLOG_NODE_MIN_LEVEL || level > 62 || idx < 0 ||
	    idx > (INT64_MAX >> level))
		return tw_error_set(err, TW_E_INVALID, "admin-log node (%d, %lld) is out of range",
			level, (long long)idx);
	return TW_OK;
}

tw_rc store_auditlog_snapshot_begin(struct tw_store *store, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (store_in_transaction(store))
		return tw_error_set(err, TW_E_INTERNAL, "a read snapshot cannot nest in a transaction");
	store_audit_last_forget(store);
	return db_begin(db, false, err);   /* a read snapshot, no writer lock */
}

void store_auditlog_snapshot_end(struct tw_store *store)
{
	/* A read-only transaction: ending it by rollback loses nothing. */
	store_rollback(store);
}

tw_rc store_auditlog_node_put(struct tw_store *store, int level, int64_t idx,
	const unsigned char hash[32], struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK || (rc = sal_check_node(level, idx, err)))
		return rc;
	if (hash == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_put: hash is NULL");
	return db_run(db, SAL_NODE_PUT, NULL, "storing an admin-log tree node", err, "iib",
		(int64_t)level, idx, hash, (size_t)32);
}

tw_rc store_auditlog_node_get(struct tw_store *store, int level, int64_t idx,
	unsigned char hash[32], bool *found, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (hash != NULL)
		memset(hash, 0, 32);
	if ((rc = sal_ops(store, &db, err)) != TW_OK || (rc = sal_check_node(level, idx, err)))
		return rc;
	if (hash == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_get: NULL output");
	struct db_stmt *st = NULL;
	bool row;

	if ((rc = db_fetch(db, SAL_NODE_GET, &st, &row, "reading an admin-log tree node", err,
		"ii", (int64_t)level, idx)) != TW_OK)
		return rc;
	if (row && (rc = db_col_hash(st, 0, hash, "admin-log tree node", err)) == TW_OK)
		*found = true;
	db_done(db, st);
	return rc;
}

tw_rc store_auditlog_node_max(struct tw_store *store, int level, int64_t *max_idx,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (max_idx != NULL)
		*max_idx = -1;
	if ((rc = sal_ops(store, &db, err)) != TW_OK || (rc = sal_check_node(level, 0, err)))
		return rc;
	if (max_idx == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_max: max_idx is NULL");
	return db_int(db, SAL_NODE_MAX, max_idx, NULL, "reading admin-log tree nodes", err, "i",
		(int64_t)level);
}

tw_rc store_auditlog_head_insert(struct tw_store *store, const struct store_auditlog_head *h,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (h == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_head_insert: head is NULL");
	if (h->tree_size <= 0)
		return tw_error_set(err, TW_E_INVALID, "tree head size %lld is not positive",
			(long long)h->tree_size);
	if (h->sig_len < 8 || h->sig_len > sizeof(h->sig))
		return tw_error_set(err, TW_E_INVALID, "tree head signature of %zu bytes is out "
			"of range", h->sig_len);
	if ((rc = STORE_CHECK_MEMBER(h, key_label, true, err)) != TW_OK)
		return rc;
	return db_run(db, SAL_HEAD_INSERT, NULL, "storing a signed tree head", err, "iibtb",
		h->tree_size, h->time_ms, h->root, (size_t)32, h->key_label, h->sig, h->sig_len);
}

tw_rc store_auditlog_head_get(struct tw_store *store, int64_t tree_size,
	struct store_auditlog_head *out, bool *found, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (out == NULL || found == NULL || tree_size < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_head_get: bad arguments");
	struct db_stmt *st = NULL;
	bool row;

	if ((rc = db_fetch(db, tree_size > 0 ? SAL_HEAD_GET : SAL_HEAD_LATEST, &st, &row,
		"reading a signed tree head", err, tree_size > 0 ? "i" : "", tree_size)) != TW_OK)
		return rc;
	if (row && (rc = sal_head_row(st, out, err)) == TW_OK)
		*found = true;
	db_done(db, st);
	return rc;
}

tw_rc store_auditlog_head_foreach(struct tw_store *store, store_auditlog_head_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_head_foreach: cb is NULL");
	struct store_auditlog_head h;
	struct db_stmt *st = NULL;
	bool row;

	for (rc = db_fetch(db, SAL_HEAD_ALL, &st, &row, "reading signed tree heads", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "reading signed tree heads", err)) {
		if ((rc = sal_head_row(st, &h, err)) != TW_OK || cb(&h, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_auditlog_cut_latest(struct tw_store *store, struct store_auditlog_cut *out,
	bool *found, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cut_latest: NULL output");
	struct db_stmt *st = NULL;
	bool row;

	if ((rc = db_fetch(db, SAL_CUT_LATEST, &st, &row, "reading the retention cut", err,
		"")) != TW_OK)
		return rc;
	if (row) {
		out->cut_seq = db_column_int64(st, 0);
		out->time_ms = db_column_int64(st, 1);
		if ((rc = db_col_hash(st, 2, out->chain_hash, "cut chain hash", err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 3, out, archive, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 4, out, archive_sha256, err)) == TW_OK)
			*found = true;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_auditlog_cut_apply(struct tw_store *store, const struct store_auditlog_cut *cut,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (cut == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cut_apply: cut is NULL");
	if (!store_in_transaction(store))
		return tw_error_set(err, TW_E_INTERNAL,
			"store_auditlog_cut_apply needs a transaction (store_begin)");
	if (cut->cut_seq <= 0)
		return tw_error_set(err, TW_E_INVALID, "retention cut %lld is not positive",
			(long long)cut->cut_seq);
	if ((rc = STORE_CHECK_MEMBER(cut, archive, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(cut, archive_sha256, true, err)) != TW_OK)
		return rc;
	/* The cut row first: the delete trigger admits exactly the entries it covers. */
	if ((rc = db_run(db, SAL_CUT_INSERT, NULL, "recording the retention cut", err, "iibtt",
		cut->cut_seq, cut->time_ms, cut->chain_hash, (size_t)32, cut->archive,
		cut->archive_sha256)) != TW_OK)
		return rc;
	store_audit_last_forget(store);
	return db_run(db, SAL_CUT_DELETE, NULL, "removing archived admin-log entries", err, "i",
		cut->cut_seq);
}

tw_rc store_auditlog_cursor_get(struct tw_store *store, const char *name, int64_t *seq,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (seq != NULL)
		*seq = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK ||
	    (rc = store_check_text(name, STORE_ID_MAX, "cursor name", err)) != TW_OK)
		return rc;
	if (seq == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cursor_get: seq is NULL");
	return db_int(db, SAL_CURSOR_GET, seq, NULL, "reading a shipping cursor", err, "t", name);
}

tw_rc store_auditlog_cursor_set(struct tw_store *store, const char *name, int64_t seq,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK ||
	    (rc = store_check_text(name, STORE_ID_MAX, "cursor name", err)) != TW_OK)
		return rc;
	if (seq < 0)
		return tw_error_set(err, TW_E_INVALID, "cursor %s: seq %lld is negative", name,
			(long long)seq);
	return db_run(db, SAL_CURSOR_SET, NULL, "saving a shipping cursor", err, "tii", name, seq,
		tw_now_ms());
}

tw_rc store_alert_insert(struct tw_store *store, const struct store_alert *a, int64_t *id,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (a == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_insert: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(a, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, role, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, severity, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, subject, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, message, true, err)) != TW_OK)
		return rc;
	if (id == NULL)
		return db_run(db, SAL_ALERT_INSERT, NULL, "queueing an alert", err, "ittttti",
			a->created_ms, a->kind, a->role, a->severity, a->subject, a->message,
			a->next_ms);
	return db_insert(db, SAL_ALERT_INSERT_ID, id, "queueing an alert", err, "ittttti",
		a->created_ms, a->kind, a->role, a->severity, a->subject, a->message, a->next_ms);
}

tw_rc store_alert_due(struct tw_store *store, int64_t now_ms, struct store_alert *out,
	size_t max, size_t *n, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (out == NULL || n == NULL || max == 0 || max > 1000)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_due: bad arguments");
	struct db_stmt *st = NULL;
	struct store_alert *a;
	bool row;

	for (rc = db_fetch(db, SAL_ALERT_DUE, &st, &row, "reading the alert queue", err, "ii",
		now_ms, (int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "reading the alert queue", err)) {
		a = &out[*n];
		memset(a, 0, sizeof(*a));
		a->id = db_column_int64(st, 0);
		a->created_ms = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 2, a, kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, a, role, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, a, severity, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, a, subject, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 6, a, message, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 10, a, last_error, err)) != TW_OK)
			break;
		a->attempts = db_column_int64(st, 7);
		a->next_ms = db_column_int64(st, 8);
		a->delivered_ms = db_column_int64(st, 9);
		(*n)++;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_alert_update(struct tw_store *store, int64_t id, int64_t attempts,
	int64_t next_ms, int64_t delivered_ms, const char *last_error, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (last_error == NULL)
		last_error = "";
	if (strnlen(last_error, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "alert error is longer than %d bytes",
			STORE_TEXT_MAX);
	if (id <= 0 || attempts < 0)
		return tw_error_set(err, TW_E_INVALID, "alert %lld: bad update", (long long)id);
	return db_run(db, SAL_ALERT_UPDATE, NULL, "updating an alert", err, "iiiit", id, attempts,
		next_ms, delivered_ms, last_error);
}

tw_rc store_alert_requeue(struct tw_store *store, int64_t parked_ms, int64_t now_ms,
	int64_t *n, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	return db_run(db, SAL_ALERT_REQUEUE, n, "re-queueing set-aside alerts", err, "ii",
		parked_ms, now_ms);
}

tw_rc store_alert_set_aside(struct tw_store *store, int64_t parked_ms, int64_t *n,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (n == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_set_aside: n is NULL");
	return db_int(db, SAL_ALERT_SET_ASIDE, n, NULL, "counting set-aside alerts", err, "i",
		parked_ms);
}

tw_rc store_alert_pending(struct tw_store *store, int64_t *n, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK)
		return rc;
	if (n == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_pending: n is NULL");
	return db_int(db, SAL_ALERT_PENDING, n, NULL, "counting alerts", err, "");
}
