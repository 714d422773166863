/*
 * job.h: jobs, the persistent orders of the GWA to its gateways, and their workflow
 * states (UC-3.6 "Fachlicher Ablaufzustand"; docs/jobs.md):
 *
 *   created -> waking -> awaiting-connection -> sent -> done | failed
 *      ^          |              |               |
 *      +----------+--------------+---------------+--- deadline missed: logged timeout;
 *                                                     retry (back to created after a
 *                                                     back-off) or timed-out (final)
 *   any open state -> cancelled (operator)
 *
 * Every transition is a compare-and-set in the store plus an admin-log entry in the same
 * transaction, so states survive restarts of every process and two processes racing on
 * one job cannot both win. Jobs of one gateway run strictly in order (only the oldest
 * open job, the "head", is woken for or handed out); jobs of different gateways run
 * concurrently.
 *
 * Callers: the CLI (create, cancel), the worker (wake-ups, deadlines), wan (hand out,
 * results). Each passes its own store connection; none of these functions may be called
 * inside a transaction the caller opened, except job_create_in_tx, which must be.
 */
#ifndef TORWART_GWA_JOB_H
#define TORWART_GWA_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "store/store.h"
#include "store/store_jobs.h"

#define JOB_DEFAULT_TIMEOUT_S      300
#define JOB_DEFAULT_ATTEMPTS       3
#define JOB_DEFAULT_RETRY_DELAY_S  60
#define JOB_MAX_TIMEOUT_S          (7L * 86400L)
#define JOB_BACKOFF_MAX_MS         (3600L * 1000L)

/* Who acts (for the admin log). All borrowed. */
struct job_actor {
	const char *actor;      /* "os:alice", "gateway:ID", "system:worker" */
	const char *role;       /* "local-admin", "smgw", "service" */
	const char *client;     /* "local:PID", peer address */
};

struct job_spec {
	const char *type;          /* order type (gwa/order.h) */
	const json_t *payload;     /* JSON object; borrowed */
	long timeout_s;            /* 0 = the type's default, else JOB_DEFAULT_TIMEOUT_S */
	int max_attempts;          /* 0 = the type's default, else JOB_DEFAULT_ATTEMPTS */
	long retry_delay_s;        /* -1 = JOB_DEFAULT_RETRY_DELAY_S */
};

/* Validate spec for gateway_id, then insert the job + audit "job.create", in one
 * transaction of its own (job_create_in_tx between store_begin and store_commit). */
tw_rc job_create(struct tw_store *store, const char *gateway_id, const struct job_spec *spec,
	const struct job_actor *who, int64_t *id, struct tw_error *err);

/*
 * The same inside the caller's open transaction (store_in_transaction(store), else
 * TW_E_INTERNAL): neither begins, commits nor rolls back, so a service can store its data
 * and the order that carries it to the gateway atomically. The order type's validate hook
 * sees the caller's uncommitted rows. On failure nothing is logged here; the caller rolls
 * back (which undoes its own writes too) and logs its refusal. *id = 0 on failure.
 */
tw_rc job_create_in_tx(struct tw_store *store, const char *gateway_id,
	const struct job_spec *spec, const struct job_actor *who, int64_t *id,
	struct tw_error *err);

/* A fleet order: the gateways chosen by selection, all validated before anything is
 * stored, then one batch + one job per gateway in one transaction. selection is "all",
 * "ids:A,B,C", "tag:T" or "tenant:T". TW_E_NOT_FOUND when it selects nobody. */
/*
 * How many jobs job_create_fleet would create for selection on this (tenant-scoped)
 * store handle: the same selection code, so the api's four-eyes decision counts the
 * gateways the order really reaches.
 */
tw_rc job_fleet_count(struct tw_store *store, const char *selection, int64_t *count,
	struct tw_error *err);
/*
 * Calls cb for every gateway selection chooses (the same selection code as
 * job_create_fleet; cb returns non-zero to stop). Other services with fleet orders of
 * their own (renewal.c) select exactly as jobs do.
 */
tw_rc job_fleet_foreach(struct tw_store *store, const char *selection,
	store_gateway_cb cb, void *arg, struct tw_error *err);
tw_rc job_create_fleet(struct tw_store *store, const char *selection,
	const struct job_spec *spec, const struct job_actor *who, int64_t *batch_id,
	int64_t *count, struct tw_error *err);

/*
 * job_create_fleet inside the caller's open transaction (as job_create_in_tx): a service
 * stores its own record of the fleet order (gwa_sig_push.c) in the same commit. On
 * failure nothing is logged here; the caller rolls back.
 */
tw_rc job_create_fleet_in_tx(struct tw_store *store, const char *selection,
	const struct job_spec *spec, const struct job_actor *who, int64_t *batch_id,
	int64_t *count, struct tw_error *err);

/* Cancel an open job (any open state). TW_E_EXISTS ("already final") otherwise. */
tw_rc job_cancel(struct tw_store *store, int64_t id, const struct job_actor *who,
	struct tw_error *err);

/* What wan hands to the gateway (GET /v1/orders). */
struct job_delivery {
	int64_t id;
	char type[STORE_JOB_TYPE_MAX + 1];
	int attempt;
	int64_t deadline_ms;
	json_t *payload;           /* wire payload (order type's to_wire); caller decrefs.
	                            * job_deliver_in_tx leaves the stored payload here:
	                            * job_delivery_to_wire after the commit. */
};

/*
 * The gateway's head job, moved to "sent" (claimed with a compare-and-set, so exactly one
 * session gets it). *found = false when it has no open job, or its head is already sent
 * (in flight in some session, maybe on another wan instance: it comes back through its
 * deadline, same id). *pending = open jobs after this call (including the one handed out).
 */
tw_rc job_deliver(struct tw_store *store, const char *gateway_id, const struct job_actor *who,
	struct job_delivery *out, bool *found, int64_t *pending, struct tw_error *err);
/*
 * job_deliver inside the caller's open transaction (wan batches hand-outs: one commit for
 * many). TW_OK: *found says whether out was filled (out->payload then owned by the caller).
 * Any other rc: the transaction may hold partial writes; roll it back.
 */
tw_rc job_deliver_in_tx(struct tw_store *store, const char *gateway_id,
	const struct job_actor *who, struct job_delivery *out, bool *found, int64_t *pending,
	struct tw_error *err);
/*
 * The order type's to_wire for a delivery of job_deliver_in_tx, replacing d->payload: run
 * it AFTER the transaction committed, never inside one. to_wire may ask the signer (sealed
 * profile secrets), and the signer, one thread, may itself be waiting for the database
 * lock this transaction holds to append its own admin-log entry: a wait on each other
 * that only the busy timeout (SQLite) or nothing (PostgreSQL) would end. On failure the
 * job stays "sent" and comes back through its deadline like a lost connection.
 */
tw_rc job_delivery_to_wire(struct tw_store *store, const char *gateway_id,
	struct job_delivery *d, struct tw_error *err);

/* The outcome a gateway reported for an order. */
struct job_outcome {
	bool ok;
	const json_t *result;      /* ok: result object */
	const char *code;          /* !ok: gateway's error code */
	const char *message;       /* !ok: gateway's message */
};

/*
 * Record the outcome of job id reported by gateway_id (the TLS identity):
 *   TW_E_NOT_FOUND  no such job of this gateway (a job of another gateway looks the same)
 *   TW_E_EXISTS     the job is not "sent" (closed, or never handed out)
 * On success the job is done or failed (the order type's hook ran in the transaction).
 */
tw_rc job_complete(struct tw_store *store, const char *gateway_id, int64_t id,
	const struct job_outcome *outcome, const struct job_actor *who, struct tw_error *err);
/*
 * job_complete inside the caller's open transaction. TW_OK, TW_E_NOT_FOUND and
 * TW_E_EXISTS wrote nothing beyond the recorded outcome (the transaction stays usable);
 * any other rc: roll back, then call job_complete on its own (it fails the job with the
 * reason when the order type refused the result).
 */
tw_rc job_complete_in_tx(struct tw_store *store, const char *gateway_id, int64_t id,
	const struct job_outcome *outcome, const struct job_actor *who, struct tw_error *err);

/*
 * Deadline of an open job missed: log a timeout and retry (created after a back-off)
 * or give up (timed-out). TW_E_NOT_FOUND if the job changed meanwhile (nothing to do).
 */
tw_rc job_expire(struct tw_store *store, int64_t id, int64_t now_ms,
	const struct job_actor *who, struct tw_error *err);

/*
 * Wake-up bookkeeping of the worker for n due jobs, each in one transaction per call:
 * job_mark_waking moves created -> waking (attempt + 1, deadline = now + timeout); ok[i]
 * says which succeeded (others changed meanwhile). job_mark_awaiting moves waking ->
 * awaiting-connection; detail[i] says what happened ("wake-up sent to ...",
 * "no wake-up address ...", "wake-up failed: ...").
 */
tw_rc job_mark_waking(struct tw_store *store, const struct store_job_due *due, size_t n,
	int64_t now_ms, const struct job_actor *who, bool *ok, struct tw_error *err);
tw_rc job_mark_awaiting(struct tw_store *store, const struct store_job_due *due,
	const bool *ok, const char *const *detail, size_t n, int64_t now_ms,
	const struct job_actor *who, struct tw_error *err);

/* Back-off before attempt number `attempts + 1`: delay * 2^(attempts-1), capped. */
int64_t job_backoff_ms(int64_t retry_delay_ms, int attempts);

#endif
