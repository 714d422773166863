/*
 * store_auditlog.c: argument checks and backend dispatch for store_auditlog.h. Checks
 * run before any SQL so a bad argument never reaches the database.
 */
#include "store/store_auditlog.h"

#include <string.h>

#include "store/store_auditlog_backend.h"
#include "store/store_backend.h"

static tw_rc sal_ops(struct tw_store *store, const struct store_auditlog_backend_ops **ops,
	struct tw_error *err)
{
	*ops = NULL;
	if (store == NULL || store->ops == NULL || store->be == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store handle is not open");
	if (store->ops != &store_sqlite_ops)
		return tw_error_set(err, TW_E_CONFIG, "the admin-log tables exist only on the "
			"SQLite backend so far");
	*ops = &store_sqlite_auditlog_ops;
	return TW_OK;
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
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (store_in_transaction(store))
		return tw_error_set(err, TW_E_INTERNAL, "a read snapshot cannot nest in a transaction");
	return ops->snapshot_begin(store->be, err);
}

void store_auditlog_snapshot_end(struct tw_store *store)
{
	/* A read-only transaction: ending it by rollback loses nothing. */
	store_rollback(store);
}

tw_rc store_auditlog_node_put(struct tw_store *store, int level, int64_t idx,
	const unsigned char hash[32], struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK || (rc = sal_check_node(level, idx, err)))
		return rc;
	if (hash == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_put: hash is NULL");
	return ops->node_put(store->be, level, idx, hash, err);
}

tw_rc store_auditlog_node_get(struct tw_store *store, int level, int64_t idx,
	unsigned char hash[32], bool *found, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (hash != NULL)
		memset(hash, 0, 32);
	if ((rc = sal_ops(store, &ops, err)) != TW_OK || (rc = sal_check_node(level, idx, err)))
		return rc;
	if (hash == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_get: NULL output");
	return ops->node_get(store->be, level, idx, hash, found, err);
}

tw_rc store_auditlog_node_max(struct tw_store *store, int level, int64_t *max_idx,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (max_idx != NULL)
		*max_idx = -1;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK || (rc = sal_check_node(level, 0, err)))
		return rc;
	if (max_idx == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_node_max: max_idx is NULL");
	return ops->node_max(store->be, level, max_idx, err);
}

tw_rc store_auditlog_head_insert(struct tw_store *store, const struct store_auditlog_head *h,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
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
	return ops->head_insert(store->be, h, err);
}

tw_rc store_auditlog_head_get(struct tw_store *store, int64_t tree_size,
	struct store_auditlog_head *out, bool *found, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (out == NULL || found == NULL || tree_size < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_head_get: bad arguments");
	return ops->head_get(store->be, tree_size, out, found, err);
}

tw_rc store_auditlog_head_foreach(struct tw_store *store, store_auditlog_head_cb cb, void *arg,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_head_foreach: cb is NULL");
	return ops->head_foreach(store->be, cb, arg, err);
}

tw_rc store_auditlog_cut_latest(struct tw_store *store, struct store_auditlog_cut *out,
	bool *found, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cut_latest: NULL output");
	return ops->cut_latest(store->be, out, found, err);
}

tw_rc store_auditlog_cut_apply(struct tw_store *store, const struct store_auditlog_cut *cut,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
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
	return ops->cut_apply(store->be, cut, err);
}

tw_rc store_auditlog_cursor_get(struct tw_store *store, const char *name, int64_t *seq,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (seq != NULL)
		*seq = 0;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK ||
	    (rc = sal_text(name, STORE_ID_MAX, true, "cursor name", err)) != TW_OK)
		return rc;
	if (seq == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auditlog_cursor_get: seq is NULL");
	return ops->cursor_get(store->be, name, seq, err);
}

tw_rc store_auditlog_cursor_set(struct tw_store *store, const char *name, int64_t seq,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK ||
	    (rc = sal_text(name, STORE_ID_MAX, true, "cursor name", err)) != TW_OK)
		return rc;
	if (seq < 0)
		return tw_error_set(err, TW_E_INVALID, "cursor %s: seq %lld is negative", name,
			(long long)seq);
	return ops->cursor_set(store->be, name, seq, err);
}

tw_rc store_alert_insert(struct tw_store *store, const struct store_alert *a, int64_t *id,
	struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (a == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_insert: NULL argument");
	if ((rc = SAL_FIELD(a, kind, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, role, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, severity, true, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, subject, false, err)) != TW_OK ||
	    (rc = SAL_FIELD(a, message, true, err)) != TW_OK)
		return rc;
	return ops->alert_insert(store->be, a, id, err);
}

tw_rc store_alert_due(struct tw_store *store, int64_t now_ms, struct store_alert *out,
	size_t max, size_t *n, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (out == NULL || n == NULL || max == 0 || max > 1000)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_due: bad arguments");
	return ops->alert_due(store->be, now_ms, out, max, n, err);
}

tw_rc store_alert_update(struct tw_store *store, int64_t id, int64_t attempts,
	int64_t next_ms, int64_t delivered_ms, const char *last_error, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (last_error == NULL)
		last_error = "";
	if ((rc = sal_text(last_error, STORE_TEXT_MAX, false, "alert error", err)) != TW_OK)
		return rc;
	if (id <= 0 || attempts < 0)
		return tw_error_set(err, TW_E_INVALID, "alert %lld: bad update", (long long)id);
	return ops->alert_update(store->be, id, attempts, next_ms, delivered_ms, last_error, err);
}

tw_rc store_alert_pending(struct tw_store *store, int64_t *n, struct tw_error *err)
{
	const struct store_auditlog_backend_ops *ops;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if ((rc = sal_ops(store, &ops, err)) != TW_OK)
		return rc;
	if (n == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alert_pending: n is NULL");
	return ops->alert_pending(store->be, n, err);
}
