/*
 * store_jobs_backend.h: the jobs area's backend operations (internal to src/store).
 * store_jobs.c validates and dispatches; sqlite_jobs.c implements them for SQLite.
 */
#ifndef TORWART_STORE_STORE_JOBS_BACKEND_H
#define TORWART_STORE_STORE_JOBS_BACKEND_H

#include "store/store_jobs.h"

struct store_jobs_ops {
	tw_rc (*job_insert)(void *be, const struct store_job *job, int64_t *id,
		struct tw_error *err);
	tw_rc (*job_get)(void *be, int64_t id, struct store_job *out, bool *found,
		struct tw_error *err);
	tw_rc (*job_transition)(void *be, const struct store_job *job, const char *from,
		struct tw_error *err);
	tw_rc (*job_head)(void *be, const char *gateway_id, struct store_job *out, bool *found,
		struct tw_error *err);
	tw_rc (*job_count_open)(void *be, const char *gateway_id, int64_t *n,
		struct tw_error *err);
	tw_rc (*job_foreach)(void *be, const struct store_job_filter *f, store_job_cb cb,
		void *arg, struct tw_error *err);
	tw_rc (*job_counts)(void *be, int64_t batch_id, int64_t counts[JOB__STATES],
		struct tw_error *err);
	tw_rc (*job_due)(void *be, int64_t now_ms, const char *skip_json,
		struct store_job_due *out, size_t max, size_t *n, struct tw_error *err);
	tw_rc (*job_expired)(void *be, int64_t now_ms, int64_t *ids, size_t max, size_t *n,
		struct tw_error *err);
	tw_rc (*batch_insert)(void *be, const struct store_job_batch *b, int64_t *id,
		struct tw_error *err);
	tw_rc (*batch_get)(void *be, int64_t id, struct store_job_batch *out, bool *found,
		struct tw_error *err);
	tw_rc (*tag_add)(void *be, const char *gateway_id, const char *tag, struct tw_error *err);
	tw_rc (*tag_remove)(void *be, const char *gateway_id, const char *tag, bool *removed,
		struct tw_error *err);
	tw_rc (*tags)(void *be, const char *gateway_id, char *buf, size_t size,
		struct tw_error *err);
	tw_rc (*set_tenant)(void *be, const char *gateway_id, int64_t tenant_id, bool *changed,
		struct tw_error *err);
	tw_rc (*tenant_find)(void *be, const char *name, int64_t *id, bool *found,
		struct tw_error *err);
	tw_rc (*wakeup_set)(void *be, const char *gateway_id, const char *address,
		int64_t now_ms, struct tw_error *err);
	tw_rc (*wakeup_get)(void *be, const char *gateway_id, char *address, size_t size,
		bool *found, struct tw_error *err);
	tw_rc (*gateway_select)(void *be, enum store_gw_select how, const char *value,
		store_gateway_cb cb, void *arg, struct tw_error *err);
};

extern const struct store_jobs_ops store_sqlite_jobs_ops;

#endif
