/*
 * sqlite_auditlog.c: SQL of the admin-log area (store_auditlog.h) on SQLite: Merkle
 * nodes, signed heads, retention cuts, shipping cursors, the alert queue. Arguments were
 * checked by store_auditlog.c; stored bytes are checked like outside input on the way out.
 */
#include <string.h>

#include <sqlite3.h>

#include "base/util.h"
#include "store/sqlite_internal.h"
#include "store/store_auditlog_backend.h"

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
static tw_rc sal_step_done(struct sq *s, sqlite3_stmt *st, const char *doing,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, doing);
	sq_done(s, st);
	return rc;
}

static tw_rc sal_snapshot_begin(void *be, struct tw_error *err)
{
	/* DEFERRED: no lock until the first read, which then pins the WAL snapshot. */
	return sq_exec(be, "BEGIN DEFERRED", "starting a read snapshot", err);
}

static tw_rc sal_node_put(void *be, int level, int64_t idx, const unsigned char hash[32],
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_NODE_PUT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
	return sal_step_done(s, st, "storing an admin-log tree node", err);
}

static tw_rc sal_node_get(void *be, int level, int64_t idx, unsigned char hash[32],
	bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_NODE_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int(st, 1, level);
	sqlite3_bind_int64(st, 2, idx);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if ((rc = sq_col_hash(st, 0, hash, "admin-log tree node", err)) == TW_OK)
			*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading an admin-log tree node");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sal_node_max(void *be, int level, int64_t *max_idx, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_NODE_MAX, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int(st, 1, level);
	if (sqlite3_step(st) == SQLITE_ROW)
		*max_idx = sqlite3_column_int64(st, 0);
	else
		rc = sq_step_fail(s, err, "reading admin-log tree nodes");
	sq_done(s, st);
	return rc;
}

static tw_rc sal_head_row(sqlite3_stmt *st, struct store_auditlog_head *h, struct tw_error *err)
{
	const void *sig = sqlite3_column_blob(st, 4);
	int n = sqlite3_column_bytes(st, 4);
	tw_rc rc;

	memset(h, 0, sizeof(*h));
	h->tree_size = sqlite3_column_int64(st, 0);
	h->time_ms = sqlite3_column_int64(st, 1);
	if ((rc = sq_col_hash(st, 2, h->root, "tree head root", err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, h, key_label, err)) != TW_OK)
		return rc;
	if (sig == NULL || n <= 0 || (size_t)n > sizeof(h->sig))
		return tw_error_set(err, TW_E_INTEGRITY, "stored tree head %lld has a signature "
			"of %d bytes (edited database?)", (long long)h->tree_size, n);
	memcpy(h->sig, sig, (size_t)n);
	h->sig_len = (size_t)n;
	return TW_OK;
}

static tw_rc sal_head_insert(void *be, const struct store_auditlog_head *h,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_HEAD_INSERT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, h->tree_size);
	sqlite3_bind_int64(st, 2, h->time_ms);
	sqlite3_bind_blob(st, 3, h->root, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, h->key_label, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, h->sig, (int)h->sig_len, SQLITE_STATIC);
	return sal_step_done(s, st, "storing a signed tree head", err);
}

static tw_rc sal_head_get(void *be, int64_t tree_size, struct store_auditlog_head *out,
	bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, tree_size > 0 ? SAL_HEAD_GET : SAL_HEAD_LATEST, &st, err)) != TW_OK)
		return rc;
	if (tree_size > 0)
		sqlite3_bind_int64(st, 1, tree_size);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if ((rc = sal_head_row(st, out, err)) == TW_OK)
			*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a signed tree head");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sal_head_foreach(void *be, store_auditlog_head_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_auditlog_head h;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_HEAD_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = sal_head_row(st, &h, err)) != TW_OK)
			goto out;
		if (cb(&h, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading signed tree heads");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sal_cut_latest(void *be, struct store_auditlog_cut *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_CUT_LATEST, &st, err)) != TW_OK)
		return rc;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->cut_seq = sqlite3_column_int64(st, 0);
		out->time_ms = sqlite3_column_int64(st, 1);
		if ((rc = sq_col_hash(st, 2, out->chain_hash, "cut chain hash", err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 3, out, archive, err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 4, out, archive_sha256, err)) == TW_OK)
			*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading the retention cut");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sal_cut_apply(void *be, const struct store_auditlog_cut *cut,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	/* The cut row first: the delete trigger admits exactly the entries it covers. */
	if ((rc = sq_prepare(s, SAL_CUT_INSERT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, cut->cut_seq);
	sqlite3_bind_int64(st, 2, cut->time_ms);
	sqlite3_bind_blob(st, 3, cut->chain_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cut->archive, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, cut->archive_sha256, -1, SQLITE_STATIC);
	if ((rc = sal_step_done(s, st, "recording the retention cut", err)) != TW_OK)
		return rc;
	if ((rc = sq_prepare(s, SAL_CUT_DELETE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, cut->cut_seq);
	return sal_step_done(s, st, "removing archived admin-log entries", err);
}

static tw_rc sal_cursor_get(void *be, const char *name, int64_t *seq, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_CURSOR_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	else if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading a shipping cursor");
	sq_done(s, st);
	return rc;
}

static tw_rc sal_cursor_set(void *be, const char *name, int64_t seq, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_CURSOR_SET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_int64(st, 3, tw_now_ms());
	return sal_step_done(s, st, "saving a shipping cursor", err);
}

static tw_rc sal_alert_insert(void *be, const struct store_alert *a, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_ALERT_INSERT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, a->created_ms);
	sqlite3_bind_text(st, 2, a->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->subject, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, a->next_ms);
	if ((rc = sal_step_done(s, st, "queueing an alert", err)) == TW_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static tw_rc sal_alert_due(void *be, int64_t now_ms, struct store_alert *out, size_t max,
	size_t *n, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_alert *a;
	int step = SQLITE_DONE;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_ALERT_DUE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
		a = &out[*n];
		memset(a, 0, sizeof(*a));
		a->id = sqlite3_column_int64(st, 0);
		a->created_ms = sqlite3_column_int64(st, 1);
		if ((rc = SQ_COL_TEXT(st, 2, a, kind, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 3, a, role, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 4, a, severity, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 5, a, subject, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 6, a, message, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 10, a, last_error, err)) != TW_OK)
			goto out;
		a->attempts = sqlite3_column_int64(st, 7);
		a->next_ms = sqlite3_column_int64(st, 8);
		a->delivered_ms = sqlite3_column_int64(st, 9);
		(*n)++;
	}
	if (*n < max && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading the alert queue");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sal_alert_update(void *be, int64_t id, int64_t attempts, int64_t next_ms,
	int64_t delivered_ms, const char *last_error, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_ALERT_UPDATE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, attempts);
	sqlite3_bind_int64(st, 3, next_ms);
	sqlite3_bind_int64(st, 4, delivered_ms);
	sqlite3_bind_text(st, 5, last_error, -1, SQLITE_STATIC);
	return sal_step_done(s, st, "updating an alert", err);
}

static tw_rc sal_alert_pending(void *be, int64_t *n, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SAL_ALERT_PENDING, &st, err)) != TW_OK)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = sq_step_fail(s, err, "counting alerts");
	sq_done(s, st);
	return rc;
}

const struct store_auditlog_backend_ops store_sqlite_auditlog_ops = {
	.snapshot_begin = sal_snapshot_begin,
	.node_put = sal_node_put,
	.node_get = sal_node_get,
	.node_max = sal_node_max,
	.head_insert = sal_head_insert,
	.head_get = sal_head_get,
	.head_foreach = sal_head_foreach,
	.cut_latest = sal_cut_latest,
	.cut_apply = sal_cut_apply,
	.cursor_get = sal_cursor_get,
	.cursor_set = sal_cursor_set,
	.alert_insert = sal_alert_insert,
	.alert_due = sal_alert_due,
	.alert_update = sal_alert_update,
	.alert_pending = sal_alert_pending,
};
