/*
 * store_auditlog_backend.h: the backend operations behind store_auditlog.h (internal to
 * src/store). store_auditlog.c validates, then dispatches here; sqlite_auditlog.c
 * implements it for SQLite, a PostgreSQL backend would add postgres_auditlog.c.
 */
#ifndef TORWART_STORE_STORE_AUDITLOG_BACKEND_H
#define TORWART_STORE_STORE_AUDITLOG_BACKEND_H

#include "store/store_auditlog.h"

struct store_auditlog_backend_ops {
	tw_rc (*snapshot_begin)(void *be, struct tw_error *err);
	tw_rc (*node_put)(void *be, int level, int64_t idx, const unsigned char hash[32],
		struct tw_error *err);
	tw_rc (*node_get)(void *be, int level, int64_t idx, unsigned char hash[32], bool *found,
		struct tw_error *err);
	tw_rc (*node_max)(void *be, int level, int64_t *max_idx, struct tw_error *err);
	tw_rc (*head_insert)(void *be, const struct store_auditlog_head *h, struct tw_error *err);
	tw_rc (*head_get)(void *be, int64_t tree_size, struct store_auditlog_head *out,
		bool *found, struct tw_error *err);
	tw_rc (*head_foreach)(void *be, store_auditlog_head_cb cb, void *arg,
		struct tw_error *err);
	tw_rc (*cut_latest)(void *be, struct store_auditlog_cut *out, bool *found,
		struct tw_error *err);
	tw_rc (*cut_apply)(void *be, const struct store_auditlog_cut *cut, struct tw_error *err);
	tw_rc (*cursor_get)(void *be, const char *name, int64_t *seq, struct tw_error *err);
	tw_rc (*cursor_set)(void *be, const char *name, int64_t seq, struct tw_error *err);
	tw_rc (*alert_insert)(void *be, const struct store_alert *a, int64_t *id,
		struct tw_error *err);
	tw_rc (*alert_due)(void *be, int64_t now_ms, struct store_alert *out, size_t max,
		size_t *n, struct tw_error *err);
	tw_rc (*alert_update)(void *be, int64_t id, int64_t attempts, int64_t next_ms,
		int64_t delivered_ms, const char *last_error, struct tw_error *err);
	tw_rc (*alert_pending)(void *be, int64_t *n, struct tw_error *err);
};

extern const struct store_auditlog_backend_ops store_sqlite_auditlog_ops;

#endif
