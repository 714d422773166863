/*
 * job.c: the job workflow (job.h, docs/jobs.md): creation and validation, fleet orders,
 * cancel, hand-out to a connected gateway, results, deadlines and retries, and the
 * worker's wake-up bookkeeping. Every transition is a compare-and-set plus an admin-log
 * entry in one transaction; nothing here keeps state in memory.
 */
#include "gwa/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/order.h"

#define JOB_DETAIL_MAX 400

static tw_rc job_audit(struct tw_store *store, const struct job_actor *who,
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

int64_t job_backoff_ms(int64_t retry_delay_ms, int attempts)
{
	int64_t d = retry_delay_ms;

	for (int i = 1; i < attempts && d < JOB_BACKOFF_MAX_MS; i++)
		d *= 2;
	return d > JOB_BACKOFF_MAX_MS ? JOB_BACKOFF_MAX_MS : d;
}

/* Fill a job row from spec (validated by the caller) for gateway gw. */
static tw_rc job_prepare(const struct order_type *t, const struct job_spec *spec,
	const struct store_gateway *gw, const struct job_actor *who, const char *payload,
	int64_t batch_id, struct store_job *j, struct tw_error *err)
{
	long timeout = spec->timeout_s > 0 ? spec->timeout_s : t->timeout_s > 0 ? t->timeout_s :
		JOB_DEFAULT_TIMEOUT_S;
	int attempts = spec->max_attempts > 0 ? spec->max_attempts : t->max_attempts > 0 ?
		t->max_attempts : JOB_DEFAULT_ATTEMPTS;
	long delay = spec->retry_delay_s >= 0 ? spec->retry_delay_s : JOB_DEFAULT_RETRY_DELAY_S;
	int64_t now = tw_now_ms();

	if (timeout > JOB_MAX_TIMEOUT_S || attempts > 100 || delay > JOB_MAX_TIMEOUT_S)
		return tw_error_set(err, TW_E_INVALID, "timeout and retry delay may be at most %ld s, "
			"attempts at most 100", JOB_MAX_TIMEOUT_S);
	memset(j, 0, sizeof(*j));
	j->batch_id = batch_id;
	memcpy(j->gateway_id, gw->gateway_id, sizeof(j->gateway_id));
	j->tenant_id = gw->tenant_id;
	snprintf(j->type, sizeof(j->type), "%s", t->name);
	j->state = JOB_CREATED;
	j->max_attempts = attempts;
	j->timeout_ms = (int64_t)timeout * 1000;
	j->retry_delay_ms = (int64_t)delay * 1000;
	j->next_ms = now;
	j->created_ms = now;
	j->updated_ms = now;
	snprintf(j->actor, sizeof(j->actor), "%s", who->actor);
	j->payload = (char *)payload;   /* borrowed for the insert */
	return TW_OK;
}

/* Canonical text of the payload (sorted keys: the same order twice gives the same row). */
static char *payload_text(const json_t *payload)
{
	return json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
}

static tw_rc insert_one(struct tw_store *store, const struct order_type *t,
	const struct job_spec *spec, const struct store_gateway *gw, const char *payload,
	int64_t batch_id, const struct job_actor *who, int64_t *id, struct tw_error *err)
{
	struct store_job j;
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	if ((rc = job_prepare(t, spec, gw, who, payload, batch_id, &j, err)) != TW_OK)
		return rc;
	if ((rc = store_job_insert(store, &j, id, err)) != TW_OK)
		return rc;
	snprintf(detail, sizeof(detail), "%s for gateway %s: batch %lld, timeout %lld s, %d "
		"attempts", t->name, gw->gateway_id, (long long)batch_id,
		(long long)(j.timeout_ms / 1000), j.max_attempts);
	return job_audit(store, who, "job.create", *id, "ok", detail, err);
}

tw_rc job_create_in_tx(struct tw_store *store, const char *gateway_id,
	const struct job_spec *spec, const struct job_actor *who, int64_t *id,
	struct tw_error *err)
{
	const struct order_type *t;
	struct store_gateway gw;
	char *payload = NULL;
	tw_rc rc;

	*id = 0;
	if (!store_in_transaction(store)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "job_create_in_tx outside a transaction; "
			"call store_begin first or use job_create");
		goto out;
	}
	if (gateway_id == NULL || spec == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "a job needs a gateway id and an order spec");
		goto out;
	}
	if ((rc = store_gateway_get(store, gateway_id, &gw, err)) != TW_OK) {
		if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "gateway %s is not registered", gateway_id);
		goto out;
	}
	/* Validated inside the transaction: the hooks see the caller's uncommitted rows
	 * (profile-insert checks the desired profile stored just before). */
	if ((rc = order_validate(store, spec->type, gateway_id, spec->payload, err)) != TW_OK)
		goto out;
	t = order_find(spec->type);
	if ((payload = payload_text(spec->payload)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = insert_one(store, t, spec, &gw, payload, 0, who, id, err);
out:
	if (rc != TW_OK)
		*id = 0;
	free(payload);
	return rc;
}

tw_rc job_create(struct tw_store *store, const char *gateway_id, const struct job_spec *spec,
	const struct job_actor *who, int64_t *id, struct tw_error *err)
{
	tw_rc rc;

	*id = 0;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = job_create_in_tx(store, gateway_id, spec, who, id, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK) {
		store_rollback(store);
		*id = 0;
	}
	return rc;
}

/* ---- fleet orders ---- */

struct fleet {
	struct store_gateway *gws;
	size_t n, cap;
	tw_rc rc;
};

static int fleet_add(const struct store_gateway *gw, void *arg)
{
	struct fleet *f = arg;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct store_gateway *g = realloc(f->gws, cap * sizeof(*g));

		if (g == NULL) {
			f->rc = TW_E_NOMEM;
			return 1;
		}
		f->gws = g;
		f->cap = cap;
	}
	f->gws[f->n++] = *gw;
	return 0;
}

static tw_rc fleet_select(struct tw_store *store, const char *selection, struct fleet *f,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (strcmp(selection, "all") == 0)
		rc = store_gateway_select(store, GW_SELECT_ALL, NULL, fleet_add, f, err);
	else if (strncmp(selection, "tag:", 4) == 0)
		rc = store_gateway_select(store, GW_SELECT_TAG, selection + 4, fleet_add, f, err);
	else if (strncmp(selection, "tenant:", 7) == 0)
		rc = store_gateway_select(store, GW_SELECT_TENANT, selection + 7, fleet_add, f, err);
	else if (strncmp(selection, "ids:", 4) == 0) {
		const char *p = selection + 4;

		while (rc == TW_OK && *p != '\0') {
			char id[STORE_ID_MAX + 1];
			size_t len = strcspn(p, ",");
			struct store_gateway gw;

			if (len == 0 || len > STORE_ID_MAX)
				return tw_error_set(err, TW_E_INVALID, "gateway list: empty or over-long "
					"id in \"%.80s\"", selection + 4);
			memcpy(id, p, len);
			id[len] = '\0';
			rc = store_gateway_get(store, id, &gw, err);
			if (rc == TW_E_NOT_FOUND)
				return tw_error_set(err, rc, "gateway %s is not registered; nothing was "
					"ordered", id);
			if (rc == TW_OK)
				fleet_add(&gw, f);
			p += len;
			if (*p == ',')
				p++;
		}
	} else {
		return tw_error_set(err, TW_E_INVALID, "selection \"%.60s\": use all, ids:A,B, "
			"tag:T or tenant:T", selection);
	}
	if (rc == TW_OK && f->rc != TW_OK)
		rc = tw_error_set(err, f->rc, "out of memory selecting gateways");
	return rc;
}

tw_rc job_fleet_count(struct tw_store *store, const char *selection, int64_t *count,
	struct tw_error *err)
{
	struct fleet f = { NULL, 0, 0, TW_OK };
	tw_rc rc;

	*count = 0;
	if (selection == NULL || strlen(selection) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_INVALID, "a gateway selection is required");
	if ((rc = fleet_select(store, selection, &f, err)) == TW_OK)
		*count = (int64_t)f.n;
	free(f.gws);
	return rc;
}

tw_rc job_fleet_foreach(struct tw_store *store, const char *selection,
	store_gateway_cb cb, void *arg, struct tw_error *err)
{
	struct fleet f = { NULL, 0, 0, TW_OK };
	tw_rc rc;

	if (selection == NULL || strlen(selection) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_INVALID, "a gateway selection is required");
	if ((rc = fleet_select(store, selection, &f, err)) == TW_OK)
		for (size_t i = 0; i < f.n && cb(&f.gws[i], arg) == 0; i++)
			;
	free(f.gws);
	return rc;
}

/* The gateways of selection, the order validated for each (T-PV.2: all or nothing, before
 * anything is stored), and the payload's text; *t the order type. */
static tw_rc fleet_prepare(struct tw_store *store, const char *selection,
	const struct job_spec *spec, struct fleet *f, const struct order_type **t,
	char **payload, struct tw_error *err)
{
	tw_rc rc;

	*payload = NULL;
	if (selection == NULL || strlen(selection) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_INVALID, "a gateway selection is required");
	if ((rc = fleet_select(store, selection, f, err)) != TW_OK)
		return rc;
	if (f->n == 0)
		return tw_error_set(err, TW_E_NOT_FOUND, "selection \"%.60s\" matches no gateway",
			selection);
	for (size_t i = 0; i < f->n; i++)
		if ((rc = order_validate(store, spec->type, f->gws[i].gateway_id, spec->payload,
		    err)) != TW_OK)
			return rc;
	*t = order_find(spec->type);
	if ((*payload = payload_text(spec->payload)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	return TW_OK;
}

/* The batch, its jobs and the "job.fleet" entry, inside the caller's transaction. */
static tw_rc fleet_insert(struct tw_store *store, const char *selection,
	const struct order_type *t, const struct job_spec *spec, const struct fleet *f,
	const char *payload, const struct job_actor *who, int64_t *batch_id,
	struct tw_error *err)
{
	struct store_job_batch b;
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	memset(&b, 0, sizeof(b));
	snprintf(b.type, sizeof(b.type), "%s", t->name);
	snprintf(b.selection, sizeof(b.selection), "%s", selection);
	snprintf(b.actor, sizeof(b.actor), "%s", who->actor);
	b.total = (int64_t)f->n;
	b.created_ms = tw_now_ms();
	rc = store_job_batch_insert(store, &b, batch_id, err);
	for (size_t i = 0; rc == TW_OK && i < f->n; i++) {
		int64_t id;

		rc = insert_one(store, t, spec, &f->gws[i], payload, *batch_id, who, &id, err);
	}
	snprintf(detail, sizeof(detail), "%s to %zu gateways (%s)", t->name, f->n, selection);
	if (rc == TW_OK) {
		char object[40];
		struct audit_entry e;

		snprintf(object, sizeof(object), "batch:%lld", (long long)*batch_id);
		e = (struct audit_entry){ .actor = who->actor, .role = who->role,
			.client = who->client, .action = "job.fleet", .object = object,
			.result = "ok", .detail = detail };
		rc = audit_append_in_tx(store, &e, err);
	}
	if (rc != TW_OK)
		*batch_id = 0;
	return rc;
}

tw_rc job_create_fleet(struct tw_store *store, const char *selection,
	const struct job_spec *spec, const struct job_actor *who, int64_t *batch_id,
	int64_t *count, struct tw_error *err)
{
	struct fleet f = { NULL, 0, 0, TW_OK };
	const struct order_type *t = NULL;
	char *payload = NULL;
	tw_rc rc;

	*batch_id = 0;
	*count = 0;
	/* Selected and validated before the write transaction: it holds no lock meanwhile. */
	if ((rc = fleet_prepare(store, selection, spec, &f, &t, &payload, err)) != TW_OK ||
	    (rc = store_begin(store, err)) != TW_OK)
		goto out;
	rc = fleet_insert(store, selection, t, spec, &f, payload, who, batch_id, err);
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK) {
		store_rollback(store);
		*batch_id = 0;
		goto out;
	}
	*count = (int64_t)f.n;
out:
	free(f.gws);
	free(payload);
	return rc;
}

tw_rc job_create_fleet_in_tx(struct tw_store *store, const char *selection,
	const struct job_spec *spec, const struct job_actor *who, int64_t *batch_id,
	int64_t *count, struct tw_error *err)
{
	struct fleet f = { NULL, 0, 0, TW_OK };
	const struct order_type *t = NULL;
	char *payload = NULL;
	tw_rc rc;

	*batch_id = 0;
	*count = 0;
	if (!store_in_transaction(store))
		return tw_error_set(err, TW_E_INTERNAL, "job_create_fleet_in_tx outside a "
			"transaction");
	if ((rc = fleet_prepare(store, selection, spec, &f, &t, &payload, err)) == TW_OK &&
	    (rc = fleet_insert(store, selection, t, spec, &f, payload, who, batch_id, err)) ==
	    TW_OK)
		*count = (int64_t)f.n;
	free(f.gws);
	free(payload);
	return rc;
}

/* ---- cancel ---- */

tw_rc job_cancel(struct tw_store *store, int64_t id, const struct job_actor *who,
	struct tw_error *err)
{
	struct store_job j;
	enum store_job_state from;
	char detail[JOB_DETAIL_MAX];
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_job_get(store, id, &j, err)) != TW_OK)
		goto out;
	if (!store_job_state_open(j.state)) {
		rc = tw_error_set(err, TW_E_EXISTS, "job %lld is already %s; only open jobs can be "
			"cancelled", (long long)id, store_job_state_name(j.state));
		goto out;
	}
	from = j.state;
	snprintf(detail, sizeof(detail), "%s for gateway %s cancelled in state %s", j.type,
		j.gateway_id, store_job_state_name(from));
	j.state = JOB_CANCELLED;
	j.deadline_ms = 0;
	j.updated_ms = tw_now_ms();
	snprintf(j.error, sizeof(j.error), "cancelled by %s", who->actor);
	free(j.result);
	j.result = NULL;
	if ((rc = store_job_transition(store, &j, from, err)) != TW_OK ||
	    (rc = job_audit(store, who, "job.cancel", id, "ok", detail, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
out:
	if (rc != TW_OK)
		store_rollback(store);
	store_job_clear(&j);
	return rc;
}
