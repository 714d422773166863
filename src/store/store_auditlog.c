/*
 * store_auditlog.c: argument checks and backend dispatch for store_auditlog.h. Checks
 * run before any SQL so a bad argument never reaches the database.
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
static const char SAL_ALERT_INSERT[] =
	"INSERT INTO alert_queue (created_ms, kind, role, severity, subject, message, next_ms) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SAL_ALERT_DUE[] =
	"SELECT id, created_ms, kind, role, severity, subject, message, attempts, next_ms, "
	"delivered_ms, last_error FROM alert_queue WHERE delivered_ms = 0 AND next_ms <= ?1 "
	"ORDER BY id LIMIT ?2";
static const char SAL_ALERT_UPDATE[] =
	"UPDATE alert_queue SET attempts = ?2, next_ms = ?3, delivered_ms = ?4, last_error = ?5 "
	"WHERE id = ?1";
static const char SAL_ALERT_PENDING[] =
	"SELECT count(*) FROM alert_queue WHERE delivered_ms = 0";

/* Run a prepared, bound statement that returns no rows. */
static tw_rc sal_step_done(struct db *s, struct db_stmt *st, const char *doing,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, doing);
	db_done(s, st);
	return rc;
}

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

static tw_rc sal_text(const char *s, size_t max, bool required, const char *what,
	struct tw_error *err)
{
	size_t len;

	if (s == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s is missing", what);
	len = strnlen(s, max + 1);
	if (len > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is longer than %zu bytes", what, max);
	if (required && len == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is empty", what);
	return TW_OK;
}

#define SAL_FIELD(obj, member, required, err) \
	sal_text((obj)->member, sizeof((obj)->member) - 1, (required), #member, (err))

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
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_NODE_PUT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, level);
	db_bind_int64(st, 2, idx);
	db_bind_blob(st, 3, hash, 32);
	return sal_step_done(db, st, "storing an admin-log tree node", err);
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
	int step;

	if ((rc = db_prepare(db, SAL_NODE_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, level);
	db_bind_int64(st, 2, idx);
	step = db_step(st);
	if (step == DB_ROW) {
		if ((rc = db_col_hash(st, 0, hash, "admin-log tree node", err)) == TW_OK)
			*found = true;
	} else if (step != DB_DONE) {
		rc = db_step_fail(db, err, "reading an admin-log tree node");
	}
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
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_NODE_MAX, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, level);
	if (db_step(st) == DB_ROW)
		*max_idx = db_column_int64(st, 0);
	else
		rc = db_step_fail(db, err, "reading admin-log tree nodes");
	db_done(db, st);
	return rc;
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
	if ((rc = SAL_FIELD(h, key_label, true, err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_HEAD_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, h->tree_size);
	db_bind_int64(st, 2, h->time_ms);
	db_bind_blob(st, 3, h->root, 32);
	db_bind_text(st, 4, h->key_label);
	db_bind_blob(st, 5, h->sig, h->sig_len);
	return sal_step_done(db, st, "storing a signed tree head", err);
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
	int step;

	if ((rc = db_prepare(db, tree_size > 0 ? SAL_HEAD_GET : SAL_HEAD_LATEST, &st, err)) != TW_OK)
		return rc;
	if (tree_size > 0)
		db_bind_int64(st, 1, tree_size);
	step = db_step(st);
	if (step == DB_ROW) {
		if ((rc = sal_head_row(st, out, err)) == TW_OK)
			*found = true;
	} else if (step != DB_DONE) {
		rc = db_step_fail(db, err, "reading a signed tree head");
	}
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
	struct db_stmt *st = NULL;
	struct store_auditlog_head h;
	int step;

	if ((rc = db_prepare(db, SAL_HEAD_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = db_step(st)) == DB_ROW) {
		if ((rc = sal_head_row(st, &h, err)) != TW_OK)
			goto out;
		if (cb(&h, arg) != 0)
			break;
	}
	if (step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(db, err, "reading signed tree heads");
out:
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
	int step;

	if ((rc = db_prepare(db, SAL_CUT_LATEST, &st, err)) != TW_OK)
		return rc;
	step = db_step(st);
	if (step == DB_ROW) {
		out->cut_seq = db_column_int64(st, 0);
		out->time_ms = db_column_int64(st, 1);
		if ((rc = db_col_hash(st, 2, out->chain_hash, "cut chain hash", err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 3, out, archive, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 4, out, archive_sha256, err)) == TW_OK)
			*found = true;
	} else if (step != DB_DONE) {
		rc = db_step_fail(db, err, "reading the retention cut");
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
	if ((rc = SAL_FIELD(cut, archive, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(cut, archive_sha256, true, err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;

	/* The cut row first: the delete trigger admits exactly the entries it covers. */
	if ((rc = db_prepare(db, SAL_CUT_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, cut->cut_seq);
	db_bind_int64(st, 2, cut->time_ms);
	db_bind_blob(st, 3, cut->chain_hash, 32);
	db_bind_text(st, 4, cut->archive);
	db_bind_text(st, 5, cut->archive_sha256);
	if ((rc = sal_step_done(db, st, "recording the retention cut", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(db, SAL_CUT_DELETE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, cut->cut_seq);
	return sal_step_done(db, st, "removing archived admin-log entries", err);
}

tw_rc store_auditlog_cursor_get(struct tw_store *store, const char *name, int64_t *seq,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (seq != NULL)
		*seq = 0;
	if ((rc = sal_ops(store, &db, err)) != TW_OK ||
	    (rc = sal_text(name, STORE_ID_MAX, true, "cursor name", err)) != TW_OK)
		return rc;
	if (seq == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cursor_get: seq is NULL");
	struct db_stmt *st = NULL;
	int step;

	if ((rc = db_prepare(db, SAL_CURSOR_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, name);
	step = db_step(st);
	if (step == DB_ROW)
		*seq = db_column_int64(st, 0);
	else if (step != DB_DONE)
		rc = db_step_fail(db, err, "reading a shipping cursor");
	db_done(db, st);
	return rc;
}

tw_rc store_auditlog_cursor_set(struct tw_store *store, const char *name, int64_t seq,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if ((rc = sal_ops(store, &db, err)) != TW_OK ||
	    (rc = sal_text(name, STORE_ID_MAX, true, "cursor name", err)) != TW_OK)
		return rc;
	if (seq < 0)
		return tw_error_set(err, TW_E_INVALID, "cursor %s: seq %lld is negative", name,
			(long long)seq);
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_CURSOR_SET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, name);
	db_bind_int64(st, 2, seq);
	db_bind_int64(st, 3, tw_now_ms());
	return sal_step_done(db, st, "saving a shipping cursor", err);
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
	if (a == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_insert: NULL argument");
	if ((rc = SAL_FIELD(a, kind, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, role, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, severity, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, subject, false, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, message, true, err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_ALERT_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, a->created_ms);
	db_bind_text(st, 2, a->kind);
	db_bind_text(st, 3, a->role);
	db_bind_text(st, 4, a->severity);
	db_bind_text(st, 5, a->subject);
	db_bind_text(st, 6, a->message);
	db_bind_int64(st, 7, a->next_ms);
	if ((rc = sal_step_done(db, st, "queueing an alert", err)) == TW_OK)
		rc = db_last_id(db, id, err);
	return rc;
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
	int step = DB_DONE;

	if ((rc = db_prepare(db, SAL_ALERT_DUE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, now_ms);
	db_bind_int64(st, 2, (int64_t)max);
	while (*n < max && (step = db_step(st)) == DB_ROW) {
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
			goto out;
		a->attempts = db_column_int64(st, 7);
		a->next_ms = db_column_int64(st, 8);
		a->delivered_ms = db_column_int64(st, 9);
		(*n)++;
	}
	if (*n < max && step != DB_DONE)
		rc = db_step_fail(db, err, "reading the alert queue");
out:
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
	if ((rc = sal_text(last_error, STORE_TEXT_MAX, false, "alert error", err)) != TW_OK)
		return rc;
	if (id <= 0 || attempts < 0)
		return tw_error_set(err, TW_E_INVALID, "alert %lld: bad update", (long long)id);
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_ALERT_UPDATE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, attempts);
	db_bind_int64(st, 3, next_ms);
	db_bind_int64(st, 4, delivered_ms);
	db_bind_text(st, 5, last_error);
	return sal_step_done(db, st, "updating an alert", err);
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
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SAL_ALERT_PENDING, &st, err)) != TW_OK)
		return rc;
	if (db_step(st) == DB_ROW)
		*n = db_column_int64(st, 0);
	else
		rc = db_step_fail(db, err, "counting alerts");
	db_done(db, st);
	return rc;
}
