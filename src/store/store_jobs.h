/*
 * store_jobs.h: the tables of jobs, fleet batches, gateway tags and wake-up addresses
 * (migration 0003_jobs.sql; owner: the gwa module, src/gwa/job*.c).
 *
 * Arguments are validated in store_jobs.c before any SQL runs. None of these functions
 * opens a transaction: callers wrap data + audit entry in store_begin .. store_commit.
 * State changes are compare-and-set (store_job_transition), because wan, worker and the
 * CLI change jobs from different processes: the loser of a race gets TW_E_NOT_FOUND
 * ("no longer in state X") and changes nothing.
 */
#ifndef TORWART_STORE_STORE_JOBS_H
#define TORWART_STORE_STORE_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_JOB_TYPE_MAX     32
#define STORE_JOB_PAYLOAD_MAX  (48 * 1024)   /* == ORDER_PAYLOAD_MAX */
#define STORE_JOB_ERROR_MAX    511
#define STORE_TAG_MAX          64
#define STORE_ADDRESS_MAX      63            /* "host:port", "[v6]:port" */

/* The workflow states (docs/jobs.md). Open states come first. */
enum store_job_state {
	JOB_CREATED = 0,
	JOB_WAKING,
	JOB_AWAITING,          /* "awaiting-connection" */
	JOB_SENT,
	JOB_DONE,
	JOB_FAILED,
	JOB_TIMED_OUT,         /* "timed-out": final, after the last attempt */
	JOB_CANCELLED,
	JOB__STATES
};

/* "created", "awaiting-connection", ...; static. NULL for an invalid value. */
const char *store_job_state_name(enum store_job_state s);
/* -1 for an unknown name. */
int store_job_state_parse(const char *name);
/* created, waking, awaiting-connection, sent. */
bool store_job_state_open(enum store_job_state s);

struct store_job {
	int64_t id;                          /* assigned by store_job_insert */
	int64_t batch_id;                    /* 0 = a single job */
	char gateway_id[STORE_ID_MAX + 1];
	int64_t tenant_id;
	char type[STORE_JOB_TYPE_MAX + 1];
	enum store_job_state state;
	int attempts;
	int max_attempts;                    /* 1..100 */
	int64_t timeout_ms;                  /* per attempt */
	int64_t retry_delay_ms;              /* back-off base, doubles per attempt */
	int64_t next_ms;
	int64_t deadline_ms;                 /* 0 = none */
	int64_t created_ms;
	int64_t updated_ms;
	char actor[STORE_NAME_MAX + 1];
	char error[STORE_JOB_ERROR_MAX + 1];
	char *payload;                       /* canonical JSON; owned, see store_job_clear */
	char *result;                        /* JSON or ""; owned, may be NULL */
};

/* Frees payload/result and zeroes the struct. NULL is fine. */
void store_job_clear(struct store_job *job);

/* Insert job (payload required); *id = new id. TW_E_NOT_FOUND for an unknown gateway. */
tw_rc store_job_insert(struct tw_store *store, const struct store_job *job, int64_t *id,
	struct tw_error *err);
/* Fills out (payload/result allocated). TW_E_NOT_FOUND if absent. */
tw_rc store_job_get(struct tw_store *store, int64_t id, struct store_job *out,
	struct tw_error *err);
/*
 * Compare-and-set: if job->id is in state from, write job's state, attempts, next_ms,
 * deadline_ms, updated_ms, error and result (NULL = keep). Otherwise TW_E_NOT_FOUND.
 */
tw_rc store_job_transition(struct tw_store *store, const struct store_job *job,
	enum store_job_state from, struct tw_error *err);
/* The gateway's oldest open job; *found = false when it has none. */
tw_rc store_job_head(struct tw_store *store, const char *gateway_id, struct store_job *out,
	bool *found, struct tw_error *err);
/*
 * The wan's hand-out, one statement: the gateway's oldest open job becomes sent (deadline
 * now_ms + timeout, one more attempt when it was created, not woken) unless it is sent
 * already. *found: one was claimed (out is it as stored now; store_job_clear it);
 * *pending: the gateway's open jobs, the claimed one included. Exactly once across
 * processes and wan instances: a concurrent claim of the same job finds nothing.
 */
tw_rc store_job_claim_head(struct tw_store *store, const char *gateway_id, int64_t now_ms,
	struct store_job *out, bool *found, int64_t *pending, struct tw_error *err);
/* Number of open jobs of a gateway. */
tw_rc store_job_count_open(struct tw_store *store, const char *gateway_id, int64_t *n,
	struct tw_error *err);

/* List filter; empty/zero members do not filter. */
struct store_job_filter {
	const char *gateway_id;
	int64_t batch_id;
	int state;                           /* enum store_job_state, or -1 for any */
	int64_t after_id;                    /* id > after_id (paging) */
	size_t limit;                        /* 0 = no limit */
};
/* Ascending id; job (payload/result included) is borrowed for the call. cb != 0 stops. */
typedef int (*store_job_cb)(const struct store_job *job, void *arg);
tw_rc store_job_foreach(struct tw_store *store, const struct store_job_filter *f,
	store_job_cb cb, void *arg, struct tw_error *err);
/* counts[state] for a batch (batch_id 0 = all jobs). */
tw_rc store_job_counts(struct tw_store *store, int64_t batch_id, int64_t counts[JOB__STATES],
	struct tw_error *err);
/* counts[state] of all jobs on the handle's tenant scope (store_scope_tenant), in SQL. */
tw_rc store_job_state_counts(struct tw_store *store, int64_t counts[JOB__STATES],
	struct tw_error *err);

/* What the worker needs to wake one job's gateway. */
struct store_job_due {
	int64_t id;
	int64_t tenant_id;
	char gateway_id[STORE_ID_MAX + 1];
	char address[STORE_ADDRESS_MAX + 1]; /* wake-up address, "" if none registered */
	int attempts;
	int64_t timeout_ms;
};
/*
 * Up to max jobs that are the head of their gateway's queue, in state created with
 * next_ms <= now, oldest next_ms first, skipping tenants in skip_tenants (n_skip of
 * them: their token bucket is empty). *n = number written to out.
 */
tw_rc store_job_due(struct tw_store *store, int64_t now_ms, const int64_t *skip_tenants,
	size_t n_skip, struct store_job_due *out, size_t max, size_t *n, struct tw_error *err);
/* Up to max ids of open jobs whose deadline passed (0 < deadline_ms <= now). */
tw_rc store_job_expired(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err);

/* ---- fleet batches ---- */
struct store_job_batch {
	int64_t id;
	char type[STORE_JOB_TYPE_MAX + 1];
	char selection[STORE_TEXT_MAX + 1];  /* as given: "all", "ids:A,B", "tag:T", "tenant:T" */
	int64_t total;
	char actor[STORE_NAME_MAX + 1];
	int64_t created_ms;
};
tw_rc store_job_batch_insert(struct tw_store *store, const struct store_job_batch *b,
	int64_t *id, struct tw_error *err);
tw_rc store_job_batch_get(struct tw_store *store, int64_t id, struct store_job_batch *out,
	struct tw_error *err);
/* Newest fleet orders first, those with id < before_id (0: from the newest), at most max
 * (1..100000) into out[]; *n = how many. Every tenant's: callers filter by visible jobs. */
tw_rc store_job_batch_list(struct tw_store *store, int64_t before_id,
	struct store_job_batch *out, size_t max, size_t *n, struct tw_error *err);

/* ---- gateway tags, tenants and wake-up addresses ---- */
/* Tags: 1..64 of [A-Za-z0-9._:-]. Adding an existing tag is TW_OK (idempotent). */
tw_rc store_gateway_tag_add(struct tw_store *store, const char *gateway_id, const char *tag,
	struct tw_error *err);
/* TW_E_NOT_FOUND if the gateway did not carry the tag. */
tw_rc store_gateway_tag_remove(struct tw_store *store, const char *gateway_id,
	const char *tag, struct tw_error *err);
/* Tags of a gateway, comma separated, into buf (sorted). */
tw_rc store_gateway_tags(struct tw_store *store, const char *gateway_id, char *buf,
	size_t size, struct tw_error *err);
/* Move a gateway to tenant_id. TW_E_NOT_FOUND for an unknown gateway or tenant. */
tw_rc store_gateway_set_tenant(struct tw_store *store, const char *gateway_id,
	int64_t tenant_id, struct tw_error *err);
/* Tenant id of name; TW_E_NOT_FOUND if there is no such tenant. */
tw_rc store_tenant_find(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err);
/* address "" removes it. */
tw_rc store_gateway_wakeup_set(struct tw_store *store, const char *gateway_id,
	const char *address, struct tw_error *err);
/* *found = false if none is registered. */
tw_rc store_gateway_wakeup_get(struct tw_store *store, const char *gateway_id,
	char address[STORE_ADDRESS_MAX + 1], bool *found, struct tw_error *err);

/* Gateway selection for fleet orders, ordered by gateway_id. */
enum store_gw_select { GW_SELECT_ALL, GW_SELECT_TAG, GW_SELECT_TENANT };
tw_rc store_gateway_select(struct tw_store *store, enum store_gw_select how,
	const char *value, store_gateway_cb cb, void *arg, struct tw_error *err);

#endif
