/*
 * job_flow.c: the moving part of the job workflow (job.h): hand-out to a connected
 * gateway (wan), results (wan), deadlines and retries (worker) and the worker's
 * wake-up bookkeeping. Creation and cancel are in job.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/job.h"
#include "gwa/order.h"

#define JOB_DETAIL_MAX 400

static tw_rc flow_audit(struct tw_store *store, const struct job_actor *who,
	const char *action, int64_t id, const char *result, const char *detail,
	struct tw_error *err)
{
	char object[40];
	struct audit_entry e;

	snprintf(object, sizeof(object), "job:%lld", (long long)id);
	e = (struct audit_entry){ .actor = who->actor, .role = who->role,
		.client = who->client, .action = action, .object = object, .result = result,
		.detail = detail };
	return audit_append_in_tx(store, &e, err);
}

static tw_rc parse_payload(const struct store_job *j, json_t **out, struct tw_error *err)
{
	json_error_t je;

	*out = json_loads(j->payload != NULL ? j->payload : "", JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INTEGRITY, "job %lld has a stored payload that is not "
			"a JSON object (edited database?)", (long long)j->id);
	}
	return TW_OK;
}

/* ---- hand-out (wan) ---- */

tw_rc job_deliver_in_tx(struct tw_store *store, const char *gateway_id,
	const struct job_actor *who, struct job_delivery *out, bool *found, int64_t *pending,
	struct tw_error *err)
{
	struct store_job j;
	json_t *payload = NULL;
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	*found = false;
	*pending = 0;
	memset(&j, 0, sizeof(j));
	/*
	 * The claim first, in one statement (store_job_claim_head): exactly once (issue 10),
	 * a job already sent is in flight in some session (maybe on another wan instance) and
	 * is not handed out again; it comes back through its deadline (retry, same id), as a
	 * lost connection always did. Everything below runs in the caller's transaction: a
	 * failure rolls the claim back with it.
	 */
	if ((rc = store_job_claim_head(store, gateway_id, tw_now_ms(), &j, found, pending,
		err)) != TW_OK || !*found)
		goto out;
	if ((rc = parse_payload(&j, &payload, err)) != TW_OK)
		goto out;
	if (order_find(j.type) == NULL) {
		rc = tw_error_set(err, TW_E_INTERNAL, "job %lld has order type %s, which this "
			"build does not know", (long long)j.id, j.type);
		goto out;
	}
	snprintf(detail, sizeof(detail), "%s handed to gateway %s (attempt %d/%d)", j.type,
		gateway_id, j.attempts, j.max_attempts);
	if ((rc = flow_audit(store, who, "job.sent", j.id, "ok", detail, err)) != TW_OK)
		goto out;
	out->id = j.id;
	snprintf(out->type, sizeof(out->type), "%s", j.type);
	out->attempt = j.attempts;
	out->deadline_ms = j.deadline_ms;
	out->payload = payload;     /* the stored payload: job_delivery_to_wire after commit */
	payload = NULL;
out:
	if (rc != TW_OK)
		*found = false;
	json_decref(payload);
	store_job_clear(&j);
	return rc;
}

tw_rc job_delivery_to_wire(struct tw_store *store, const char *gateway_id,
	struct job_delivery *d, struct tw_error *err)
{
	const struct order_type *t = order_find(d->type);
	struct order_ctx ctx;
	json_t *wire = NULL;
	tw_rc rc;

	if (t == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "job %lld has order type %s, which this "
			"build does not know", (long long)d->id, d->type);
	if (t->to_wire == NULL)
		return TW_OK;
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = store;
	ctx.job_id = d->id;
	ctx.gateway_id = gateway_id;
	ctx.type = d->type;
	ctx.payload = d->payload;
	if ((rc = t->to_wire(&ctx, &wire, err)) != TW_OK)
		return rc;
	json_decref(d->payload);
	d->payload = wire;
	return TW_OK;
}

tw_rc job_deliver(struct tw_store *store, const char *gateway_id, const struct job_actor *who,
	struct job_delivery *out, bool *found, int64_t *pending, struct tw_error *err)
{
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	*found = false;
	*pending = 0;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	rc = job_deliver_in_tx(store, gateway_id, who, out, found, pending, err);
	if (rc == TW_OK && *found)
		rc = store_commit(store, err);
	else
		store_rollback(store);   /* nothing to keep: read only, or failed */
	/* After the commit: to_wire may ask the signer (job_delivery_to_wire). */
	if (rc == TW_OK && *found)
		rc = job_delivery_to_wire(store, gateway_id, out, err);
	if (rc != TW_OK) {
		store_rollback(store);
		json_decref(out->payload);
		memset(out, 0, sizeof(*out));
		*found = false;
	}
	return rc;
}

/* ---- results (wan) ---- */

/* Mark job failed with why (hook failure after rollback); own transaction. */
static tw_rc fail_after_hook(struct tw_store *store, int64_t id, const char *why,
	const struct job_actor *who, struct tw_error *err)
{
	struct store_job j;
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_job_get(store, id, &j, err)) != TW_OK)
		goto out;
	j.state = JOB_FAILED;
	j.deadline_ms = 0;
	j.updated_ms = tw_now_ms();
	snprintf(j.error, sizeof(j.error), "result refused: %s", why);
	free(j.result);
	j.result = NULL;
	snprintf(detail, sizeof(detail), "%s of gateway %s: result refused: %s", j.type,
		j.gateway_id, why);
	if ((rc = store_job_transition(store, &j, JOB_SENT, err)) != TW_OK ||
	    (rc = flow_audit(store, who, "job.failed", id, "error", detail, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
out:
	if (rc != TW_OK)
		store_rollback(store);
	store_job_clear(&j);
	return rc;
}

/* job_complete_in_tx; *hook_failed: the order type refused the result (hook_err). */
static tw_rc complete_in_tx(struct tw_store *store, const char *gateway_id, int64_t id,
	const struct job_outcome *oc, const struct job_actor *who, bool *hook_failed_out,
	struct tw_error *hook_err_out, struct tw_error *err)
{
	struct store_job j;
	const struct order_type *t;
	struct order_ctx ctx;
	json_t *payload = NULL;
	char detail[JOB_DETAIL_MAX], *result_text = NULL;
	struct tw_error hook_err;
	bool hook_failed = false;
	int64_t now = tw_now_ms();
	tw_rc rc;

	memset(&j, 0, sizeof(j));
	tw_error_clear(&hook_err);
	*hook_failed_out = false;
	rc = store_job_get(store, id, &j, err);
	/* Another gateway's job is answered exactly like a missing one (no oracle). */
	if (rc == TW_E_NOT_FOUND || (rc == TW_OK && strcmp(j.gateway_id, gateway_id) != 0)) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no order %lld", gateway_id,
			(long long)id);
		goto out;
	}
	if (rc != TW_OK)
		goto out;
	if (j.state != JOB_SENT) {
		rc = tw_error_set(err, TW_E_EXISTS, "order %lld is %s, not waiting for a result",
			(long long)id, store_job_state_name(j.state));
		goto out;
	}
	if ((rc = parse_payload(&j, &payload, err)) != TW_OK)
		goto out;
	t = order_find(j.type);
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = store;
	ctx.job_id = id;
	ctx.gateway_id = gateway_id;
	ctx.type = j.type;
	ctx.payload = payload;
	ctx.actor = j.actor;
	j.deadline_ms = 0;
	j.updated_ms = now;
	free(j.result);
	j.result = NULL;
	if (oc->ok) {
		result_text = json_dumps(oc->result, JSON_COMPACT | JSON_SORT_KEYS);
		if (result_text == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if (t != NULL && t->on_result != NULL &&
		    t->on_result(&ctx, oc->result, &hook_err) != TW_OK) {
			hook_failed = true;
			rc = TW_E_INVALID;
			goto out;
		}
		j.state = JOB_DONE;
		j.result = result_text;
		result_text = NULL;
		j.error[0] = '\0';
		snprintf(detail, sizeof(detail), "%s done by gateway %s (attempt %d)", j.type,
			gateway_id, j.attempts);
	} else {
		if (t != NULL && t->on_error != NULL &&
		    (rc = t->on_error(&ctx, oc->code, oc->message, err)) != TW_OK)
			goto out;
		j.state = JOB_FAILED;
		snprintf(j.error, sizeof(j.error), "gateway error %s: %s", oc->code,
			oc->message != NULL ? oc->message : "");
		snprintf(detail, sizeof(detail), "%s failed on gateway %s: %s: %.200s", j.type,
			gateway_id, oc->code, oc->message != NULL ? oc->message : "");
	}
	if ((rc = store_job_transition(store, &j, JOB_SENT, err)) != TW_OK ||
	    (rc = flow_audit(store, who, oc->ok ? "job.done" : "job.failed", id,
	    oc->ok ? "ok" : "error", detail, err)) != TW_OK)
		goto out;
out:
	json_decref(payload);
	free(result_text);
	store_job_clear(&j);
	if (hook_failed) {
		*hook_failed_out = true;
		*hook_err_out = hook_err;
		tw_error_set(err, TW_E_INVALID, "result refused: %s", hook_err.message);
	}
	return rc;
}

tw_rc job_complete_in_tx(struct tw_store *store, const char *gateway_id, int64_t id,
	const struct job_outcome *oc, const struct job_actor *who, struct tw_error *err)
{
	struct tw_error hook_err;
	bool hook_failed;

	return complete_in_tx(store, gateway_id, id, oc, who, &hook_failed, &hook_err, err);
}

tw_rc job_complete(struct tw_store *store, const char *gateway_id, int64_t id,
	const struct job_outcome *oc, const struct job_actor *who, struct tw_error *err)
{
	struct tw_error hook_err;
	bool hook_failed = false;
	tw_rc rc;

	tw_error_clear(&hook_err);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	rc = complete_in_tx(store, gateway_id, id, oc, who, &hook_failed, &hook_err, err);
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	if (hook_failed) {
		/* Nothing of the hook stays (rolled back); the job fails with its reason. */
		rc = fail_after_hook(store, id, hook_err.message, who, err);
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_INVALID, "result refused: %s", hook_err.message);
	}
	return rc;
}

/* ---- deadlines (worker) ---- */

tw_rc job_expire(struct tw_store *store, int64_t id, int64_t now_ms,
	const struct job_actor *who, struct tw_error *err)
{
	struct store_job j;
	enum store_job_state from;
	char detail[JOB_DETAIL_MAX];
	bool retry;
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_job_get(store, id, &j, err)) != TW_OK)
		goto out;
	if (!store_job_state_open(j.state) || j.state == JOB_CREATED || j.deadline_ms == 0 ||
	    j.deadline_ms > now_ms) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "job %lld is not overdue", (long long)id);
		goto out;
	}
	from = j.state;
	retry = j.attempts < j.max_attempts;
	/* UC-3.6: an unanswered contact is a logged timeout with the workflow state. */
	snprintf(j.error, sizeof(j.error), "timeout in state %s (attempt %d/%d)",
		store_job_state_name(from), j.attempts, j.max_attempts);
	snprintf(detail, sizeof(detail), "%s for gateway %s: no %s before the deadline in "
		"state %s, attempt %d/%d; %s", j.type, j.gateway_id,
		from == JOB_SENT ? "result" : "connection", store_job_state_name(from), j.attempts,
		j.max_attempts, retry ? "retrying" : "giving up");
	j.state = retry ? JOB_CREATED : JOB_TIMED_OUT;
	j.next_ms = retry ? now_ms + job_backoff_ms(j.retry_delay_ms, j.attempts) : j.next_ms;
	j.deadline_ms = 0;
	j.updated_ms = now_ms;
	free(j.result);
	j.result = NULL;
	if ((rc = store_job_transition(store, &j, from, err)) != TW_OK ||
	    (rc = flow_audit(store, who, "job.timeout", id, retry ? "retry" : "timed-out",
	    detail, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
	if (rc == TW_OK)
		tw_warn("job %lld (%s): %s", (long long)id, j.gateway_id, detail);
out:
	if (rc != TW_OK)
		store_rollback(store);
	store_job_clear(&j);
	return rc;
}

/* ---- wake-up bookkeeping (worker) ---- */

tw_rc job_mark_waking(struct tw_store *store, const struct store_job_due *due, size_t n,
	int64_t now_ms, const struct job_actor *who, bool *ok, struct tw_error *err)
{
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	for (size_t i = 0; i < n; i++)
		ok[i] = false;
	if (n == 0)
		return TW_OK;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct store_job j;
		struct tw_error e;

		memset(&j, 0, sizeof(j));
		j.id = due[i].id;
		j.state = JOB_WAKING;
		j.attempts = due[i].attempts + 1;
		j.deadline_ms = now_ms + due[i].timeout_ms;
		j.next_ms = now_ms;
		j.updated_ms = now_ms;
		rc = store_job_transition(store, &j, JOB_CREATED, &e);
		if (rc == TW_E_NOT_FOUND) {
			rc = TW_OK;      /* handed out or cancelled meanwhile: not ours any more */
			continue;
		}
		if (rc != TW_OK) {
			tw_error_set(err, rc, "%s", e.message);
			break;
		}
		snprintf(detail, sizeof(detail), "gateway %s: requesting a signed wake-up "
			"(attempt %d)", due[i].gateway_id, j.attempts);
		rc = flow_audit(store, who, "job.waking", j.id, "ok", detail, err);
		ok[i] = rc == TW_OK;
	}
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK) {
		store_rollback(store);
		for (size_t i = 0; i < n; i++)
			ok[i] = false;
	}
	return rc;
}

tw_rc job_mark_awaiting(struct tw_store *store, const struct store_job_due *due,
	const bool *ok, const char *const *detail, size_t n, int64_t now_ms,
	const struct job_actor *who, struct tw_error *err)
{
	tw_rc rc;

	if (n == 0)
		return TW_OK;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct store_job j;
		struct tw_error e;

		if (!ok[i])
			continue;
		memset(&j, 0, sizeof(j));
		j.id = due[i].id;
		j.state = JOB_AWAITING;
		j.attempts = due[i].attempts + 1;
		j.deadline_ms = now_ms + due[i].timeout_ms;
		j.next_ms = now_ms;
		j.updated_ms = now_ms;
		rc = store_job_transition(store, &j, JOB_WAKING, &e);
		if (rc == TW_E_NOT_FOUND) {
			rc = TW_OK;      /* the gateway was faster than our bookkeeping */
			continue;
		}
		if (rc != TW_OK) {
			tw_error_set(err, rc, "%s", e.message);
			break;
		}
		rc = flow_audit(store, who, "job.wakeup", j.id,
			strncmp(detail[i], "wake-up sent", 12) == 0 ? "ok" : "error", detail[i], err);
	}
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}
