/*
 * order.h: the order-type registry on the GWA side (issue 4).
 *
 * An order is what a job asks a gateway to do ("ping", "set-retention",
 * "profile-insert", ...). Each type is one `struct order_type`; the job machinery
 * (gwa/job.h, worker, wan) knows nothing about a type beyond these hooks:
 *
 *   validate   before a job is created (CLI, api, fleet orders): refuse a bad payload
 *              with a typed error; nothing is stored then (T-PV.2).
 *   to_wire    when wan hands the order to the gateway: build the payload that goes on
 *              the wire (e.g. decrypt sealed secrets from the profiles table). NULL =
 *              send the stored payload unchanged.
 *   on_result  when the gateway answers {"status":"ok","result":{...}}: runs INSIDE the
 *              store transaction that marks the job done (store_begin already called;
 *              the audit entry of the job follows in the same transaction). Write your
 *              own tables here with store_* calls; do not begin/commit. A non-TW_OK
 *              return rolls the transaction back and the job becomes `failed` with your
 *              message (nothing of the hook is kept: no half-applied result).
 *   on_error   optional: the gateway answered {"status":"error",...}; runs inside the
 *              transaction that marks the job failed. NULL = nothing to do.
 *
 * Payloads and results are JSON objects (jansson). The stored payload is the canonical
 * JSON text of the job row; it must never hold a secret in clear (store a reference
 * and resolve it in to_wire instead).
 *
 * Registration: built-in types are listed in order.c's table (each area adds one line
 * there with its extern); tests and plug-ins may add more with order_register() before
 * any thread starts. Lookups afterwards are read-only and thread-safe.
 */
#ifndef TORWART_GWA_ORDER_H
#define TORWART_GWA_ORDER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "store/store.h"

#define ORDER_TYPE_MAX      32     /* type names: 1..32 of [a-z0-9-] */
#define ORDER_PAYLOAD_MAX   (48 * 1024)  /* canonical JSON of a payload or a result */
#define ORDER_REGISTRY_MAX  64

/* What a hook gets to know about the job it runs for. All pointers borrowed. */
struct order_ctx {
	struct tw_store *store;    /* validate/to_wire: not in a transaction; on_*: inside one */
	int64_t job_id;            /* 0 in validate (no job yet) */
	const char *gateway_id;    /* the TLS-authenticated gateway (wan) or the target */
	const char *type;
	const json_t *payload;     /* the stored payload object */
	const char *actor;         /* who created the job ("os:alice"), for audit details */
};

struct order_type {
	const char *name;
	/* One line for `torwart job types` and docs. */
	const char *summary;
	/* Defaults for jobs of this type (0 = job.c's defaults: 300 s, 3 attempts). */
	long timeout_s;            /* per attempt: wake-up until result */
	int max_attempts;
	tw_rc (*validate)(const struct order_ctx *ctx, struct tw_error *err);
	/* *wire is a new reference owned by the caller. */
	tw_rc (*to_wire)(const struct order_ctx *ctx, json_t **wire, struct tw_error *err);
	tw_rc (*on_result)(const struct order_ctx *ctx, const json_t *result,
		struct tw_error *err);
	tw_rc (*on_error)(const struct order_ctx *ctx, const char *code, const char *message,
		struct tw_error *err);
};

/*
 * Hooks run when a gateway opens a session (POST /v1/session) and sends the optional
 * "status" object (e.g. {"profiles":{...}} for drift detection, T-PV.3). member is the
 * member of "status" the hook consumes; on_session gets its value (never NULL). Runs in
 * wan, outside any transaction, after the session was accepted; a failure is logged and
 * does not fail the session.
 */
struct order_session_hook {
	const char *member;
	tw_rc (*on_session)(struct tw_store *store, const char *gateway_id,
		const json_t *value, struct tw_error *err);
};

/* The type called name, or NULL. */
const struct order_type *order_find(const char *name);
/* Type names are 1..ORDER_TYPE_MAX of [a-z0-9-]. */
bool order_type_name_valid(const char *name);
/* Add a type (tests, plug-ins); TW_E_EXISTS for a taken name. Not thread-safe. */
tw_rc order_register(const struct order_type *type, struct tw_error *err);
/* Calls cb for every registered type, built-ins first. */
void order_foreach(void (*cb)(const struct order_type *type, void *arg), void *arg);

/* Session hooks: built-ins in order.c's table; order_session_hook_register adds more. */
tw_rc order_session_hook_register(const struct order_session_hook *hook,
	struct tw_error *err);
const struct order_session_hook *order_session_hook_find(const char *member);

/*
 * Validate payload for type against the registry: known type, a JSON object whose
 * canonical text fits ORDER_PAYLOAD_MAX, then the type's validate hook.
 */
tw_rc order_validate(struct tw_store *store, const char *type, const char *gateway_id,
	const json_t *payload, struct tw_error *err);

/* Built-in order types of the jobs area (order_builtin.c). */
extern const struct order_type order_type_ping;
extern const struct order_type order_type_set_retention;
/* UC-3.2.4 EMT <-> CLS (order_emt.c). */
extern const struct order_type order_type_cls_connect;

#endif
