/*
 * store_jobs.c: the public store_jobs.h API. Checks every argument once, before any SQL
 * runs (so bad input changes nothing and is never truncated), then dispatches to the
 * backend's jobs ops chosen by the store's core backend.
 */
#include "store/store_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/store_backend.h"
#include "store/store_check.h"
#include "store/store_jobs_backend.h"

static const char *const job_state_names[JOB__STATES] = {
	[JOB_CREATED] = "created",
	[JOB_WAKING] = "waking",
	[JOB_AWAITING] = "awaiting-connection",
	[JOB_SENT] = "sent",
	[JOB_DONE] = "done",
	[JOB_FAILED] = "failed",
	[JOB_TIMED_OUT] = "timed-out",
	[JOB_CANCELLED] = "cancelled",
};

const char *store_job_state_name(enum store_job_state s)
{
	return (unsigned)s < JOB__STATES ? job_state_names[s] : NULL;
}

int store_job_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < JOB__STATES; i++)
		if (strcmp(job_state_names[i], name) == 0)
			return i;
	return -1;
}

bool store_job_state_open(enum store_job_state s)
{
	return s == JOB_CREATED || s == JOB_WAKING || s == JOB_AWAITING || s == JOB_SENT;
}

void store_job_clear(struct store_job *job)
{
	if (job == NULL)
		return;
	free(job->payload);
	free(job->result);
	memset(job, 0, sizeof(*job));
}

static const struct store_jobs_ops *sj_ops(struct tw_store *store, struct tw_error *err)
{
	return store_area_ops(store, &store_sqlite_jobs_ops, "job", err);
}

static tw_rc sj_check_job(const struct store_job *j, bool insert, struct tw_error *err)
{
	tw_rc rc;

	if (j == NULL)
		return tw_error_set(err, TW_E_INVALID, "no job given");
	if ((rc = STORE_CHECK_MEMBER(j, error, false, err)) != TW_OK)
		return rc;
	if (store_job_state_name(j->state) == NULL)
		return tw_error_set(err, TW_E_INVALID, "job state %d is not valid", (int)j->state);
	if (j->attempts < 0 || j->attempts > 100)
		return tw_error_set(err, TW_E_INVALID, "attempts must be in [0, 100]");
	if (j->result != NULL && strnlen(j->result, STORE_JOB_PAYLOAD_MAX + 1) >
	    STORE_JOB_PAYLOAD_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "job result exceeds %d bytes",
			STORE_JOB_PAYLOAD_MAX);
	if (!insert)
		return TW_OK;
	if ((rc = STORE_CHECK_MEMBER(j, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(j, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(j, actor, true, err)) != TW_OK ||
	    (rc = store_check_text(j->payload, STORE_JOB_PAYLOAD_MAX, "job payload", err)) != TW_OK)
		return rc;
	if (j->max_attempts < 1 || j->max_attempts > 100)
		return tw_error_set(err, TW_E_INVALID, "max_attempts must be in [1, 100]");
	if (j->timeout_ms <= 0 || j->retry_delay_ms < 0)
		return tw_error_set(err, TW_E_INVALID, "timeout must be positive and the retry "
			"delay not negative");
	return TW_OK;
}

tw_rc store_job_insert(struct tw_store *store, const struct store_job *job, int64_t *id,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id == NULL)
		return tw_error_set(err, TW_E_INVALID, "no id out-parameter");
	if ((rc = sj_check_job(job, true, err)) != TW_OK)
		return rc;
	return ops->job_insert(store->be, job, id, err);
}

tw_rc store_job_get(struct tw_store *store, int64_t id, struct store_job *out,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	bool found = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = ops->job_get(store->be, id, out, &found, err)) != TW_OK)
		return rc;
	if (found && store->scope_tenant != 0 && out->tenant_id != store->scope_tenant) {
		/* Another tenant's job does not exist for this handle (store_scope_tenant). */
		memset(out, 0, sizeof(*out));
		found = false;
	}
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no job %lld",
		(long long)id);
}

tw_rc store_job_transition(struct tw_store *store, const struct store_job *job,
	enum store_job_state from, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_check_job(job, false, err)) != TW_OK)
		return rc;
	if (store_job_state_name(from) == NULL)
		return tw_error_set(err, TW_E_INVALID, "invalid from-state");
	return ops->job_transition(store->be, job, store_job_state_name(from), err);
}

tw_rc store_job_head(struct tw_store *store, const char *gateway_id, struct store_job *out,
	bool *found, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->job_head(store->be, gateway_id, out, found, err);
}

tw_rc store_job_count_open(struct tw_store *store, const char *gateway_id, int64_t *n,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->job_count_open(store->be, gateway_id, n, err);
}

/* A tenant-scoped job walk (store_scope_tenant): other tenants' jobs are skipped. */
struct sj_scope {
	int64_t tenant_id;
	store_job_cb cb;
	void *arg;
};

static int sj_scope_filter(const struct store_job *job, void *arg)
{
	const struct sj_scope *s = arg;

	return job->tenant_id == s->tenant_id ? s->cb(job, s->arg) : 0;
}

tw_rc store_job_foreach(struct tw_store *store, const struct store_job_filter *f,
	store_job_cb cb, void *arg, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || cb == NULL)
		return tw_error_set(err, TW_E_INVALID, "no filter or callback given");
	if (f->gateway_id != NULL &&
	    (rc = store_check_text(f->gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (f->state >= JOB__STATES)
		return tw_error_set(err, TW_E_INVALID, "invalid state filter");
	if (store->scope_tenant != 0) {
		struct sj_scope scope = { store->scope_tenant, cb, arg };

		return ops->job_foreach(store->be, f, sj_scope_filter, &scope, err);
	}
	return ops->job_foreach(store->be, f, cb, arg, err);
}

tw_rc store_job_counts(struct tw_store *store, int64_t batch_id, int64_t counts[JOB__STATES],
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);

	if (counts != NULL)
		memset(counts, 0, sizeof(int64_t) * JOB__STATES);
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (counts == NULL || batch_id < 0)
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_counts");
	return ops->job_counts(store->be, batch_id, counts, err);
}

#define SJ_SKIP_MAX 256

tw_rc store_job_due(struct tw_store *store, int64_t now_ms, const int64_t *skip_tenants,
	size_t n_skip, struct store_job_due *out, size_t max, size_t *n, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	struct tw_buf skip;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL || (out == NULL && max > 0) || (skip_tenants == NULL && n_skip > 0))
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_due");
	if (n_skip > SJ_SKIP_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d tenants to skip",
			SJ_SKIP_MAX);
	if (max == 0)
		return TW_OK;
	/* The skip list travels as one JSON array parameter (no SQL built from input). */
	tw_buf_init(&skip, 32 + n_skip * 24);
	rc = tw_buf_append(&skip, "[", 1, err);
	for (size_t i = 0; rc == TW_OK && i < n_skip; i++)
		rc = tw_buf_appendf(&skip, err, "%s%lld", i > 0 ? "," : "",
			(long long)skip_tenants[i]);
	if (rc == TW_OK)
		rc = tw_buf_append(&skip, "]", 1, err);
	if (rc == TW_OK)
		rc = ops->job_due(store->be, now_ms, (const char *)skip.data, out, max, n, err);
	tw_buf_free(&skip);
	return rc;
}

tw_rc store_job_expired(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);

	if (n != NULL)
		*n = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL || (ids == NULL && max > 0))
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_expired");
	if (max == 0)
		return TW_OK;
	return ops->job_expired(store->be, now_ms, ids, max, n, err);
}

tw_rc store_job_batch_insert(struct tw_store *store, const struct store_job_batch *b,
	int64_t *id, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (b == NULL || id == NULL || b->total < 0)
		return tw_error_set(err, TW_E_INVALID, "invalid fleet order");
	if ((rc = STORE_CHECK_MEMBER(b, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(b, selection, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(b, actor, true, err)) != TW_OK)
		return rc;
	return ops->batch_insert(store->be, b, id, err);
}

tw_rc store_job_batch_get(struct tw_store *store, int64_t id, struct store_job_batch *out,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	bool found = false;
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = ops->batch_get(store->be, id, out, &found, err)) != TW_OK)
		return rc;
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no fleet order %lld",
		(long long)id);
}

static bool tag_valid(const char *t)
{
	size_t n;

	for (n = 0; t[n] != '\0'; n++) {
		char c = t[n];

		if (n >= STORE_TAG_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return n > 0;
}

static tw_rc sj_gw_tag(const char *gateway_id, const char *tag, struct tw_error *err)
{
	tw_rc rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err);

	if (rc != TW_OK)
		return rc;
	if (tag == NULL || !tag_valid(tag))
		return tw_error_set(err, TW_E_INVALID, "tags are 1..%d characters of "
			"[A-Za-z0-9._:-]", STORE_TAG_MAX);
	return TW_OK;
}

tw_rc store_gateway_tag_add(struct tw_store *store, const char *gateway_id, const char *tag,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_gw_tag(gateway_id, tag, err)) != TW_OK)
		return rc;
	return ops->tag_add(store->be, gateway_id, tag, err);
}

tw_rc store_gateway_tag_remove(struct tw_store *store, const char *gateway_id,
	const char *tag, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	bool removed = false;
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_gw_tag(gateway_id, tag, err)) != TW_OK)
		return rc;
	if ((rc = ops->tag_remove(store->be, gateway_id, tag, &removed, err)) != TW_OK)
		return rc;
	return removed ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND,
		"gateway %s has no tag %s", gateway_id, tag);
}

tw_rc store_gateway_tags(struct tw_store *store, const char *gateway_id, char *buf,
	size_t size, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (buf == NULL || size == 0)
		return tw_error_set(err, TW_E_INVALID, "no buffer given");
	buf[0] = '\0';
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->tags(store->be, gateway_id, buf, size, err);
}

tw_rc store_gateway_set_tenant(struct tw_store *store, const char *gateway_id,
	int64_t tenant_id, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	bool changed = false;
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = ops->set_tenant(store->be, gateway_id, tenant_id, &changed, err)) != TW_OK)
		return rc;
	return changed ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND,
		"gateway \"%s\" is not registered", gateway_id);
}

tw_rc store_tenant_find(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	bool found = false;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(name, STORE_ID_MAX, "tenant name", err)) != TW_OK)
		return rc;
	if ((rc = ops->tenant_find(store->be, name, id, &found, err)) != TW_OK)
		return rc;
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no tenant \"%s\"",
		name);
}

tw_rc store_gateway_wakeup_set(struct tw_store *store, const char *gateway_id,
	const char *address, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	char *host = NULL;
	uint16_t port;
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (address == NULL)
		return tw_error_set(err, TW_E_INVALID, "no wake-up address given");
	if (address[0] != '\0') {
		if (strnlen(address, STORE_ADDRESS_MAX + 1) > STORE_ADDRESS_MAX)
			return tw_error_set(err, TW_E_TOO_LARGE, "wake-up address is longer than %d "
				"bytes", STORE_ADDRESS_MAX);
		if ((rc = tw_parse_hostport(address, &host, &port, err)) != TW_OK)
			return tw_error_set(err, rc, "wake-up address \"%s\": use HOST:PORT", address);
		free(host);
	}
	return ops->wakeup_set(store->be, gateway_id, address, tw_now_ms(), err);
}

tw_rc store_gateway_wakeup_get(struct tw_store *store, const char *gateway_id,
	char address[STORE_ADDRESS_MAX + 1], bool *found, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (address == NULL || found == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->wakeup_get(store->be, gateway_id, address, STORE_ADDRESS_MAX + 1, found,
		err);
}

tw_rc store_gateway_select(struct tw_store *store, enum store_gw_select how,
	const char *value, store_gateway_cb cb, void *arg, struct tw_error *err)
{
	const struct store_jobs_ops *ops = sj_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || (how != GW_SELECT_ALL && how != GW_SELECT_TAG &&
	    how != GW_SELECT_TENANT))
		return tw_error_set(err, TW_E_INVALID, "invalid gateway selection");
	if (how != GW_SELECT_ALL &&
	    (rc = store_check_text(value, STORE_ID_MAX, "selection value", err)) != TW_OK)
		return rc;
	if (store->scope_tenant != 0) {
		struct store_scope_filter scope = { store->scope_tenant, cb, arg };

		return ops->gateway_select(store->be, how, value, store_scope_gateway_filter,
			&scope, err);
	}
	return ops->gateway_select(store->be, how, value, cb, arg, err);
}
