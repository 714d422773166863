/*
 * approval.h: four-eyes release of critical actions (M-4.5.6.6).
 *
 * An action that auth_four_eyes_required() names is not executed when requested: it is
 * stored as a pending request (who, what = action name + JSON parameters, why) and runs
 * only when a different operator with the approver role of the same tenant approves it
 * before it expires. Request, approval, rejection, expiry and the execution's result are
 * all written to the admin log; the execution and its log entries commit together.
 *
 * Areas register the handlers of their actions (CA key activation, revocation, firmware
 * release, fleet orders, ...) with auth_action_register; this module implements
 * "operator.role" (role changes) and "break-glass" (the post-hoc release of a
 * break-glass use) itself (auth_actions_register_builtin).
 */
#ifndef TORWART_AUTH_APPROVAL_H
#define TORWART_AUTH_APPROVAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "store/store_auth.h"

struct auth_action_ctx {
	const struct auth_settings *settings;
	const struct store_approval *request;   /* the request being executed */
	const struct auth_principal *approver;  /* who released it */
	/* The requester as it is at execution (roles and tenant of its operator row now);
	 * NULL for a request of break-glass. */
	const struct auth_principal *requester;
};

/*
 * Execute an approved action inside the caller's transaction. params is the request's
 * JSON object (borrowed). Write a one-line outcome into result (may be left empty).
 * Returning an error rolls the transaction back; the request is then marked "failed"
 * with err's message. A handler writes its own data-level admin-log entries with
 * audit_append_in_tx, as the approver (ctx->approver) on behalf of the requester.
 */
typedef tw_rc (*auth_action_fn)(struct tw_store *store, const struct auth_action_ctx *ctx,
	const json_t *params, char *result, size_t result_size, struct tw_error *err);

#define AUTH_ACTIONS_MAX 64

/* Register (or replace) the handler of action. TW_E_TOO_LARGE when the table is full. */
tw_rc auth_action_register(const char *action, auth_action_fn fn, struct tw_error *err);
/* Register operator.role and break-glass; idempotent. */
void auth_actions_register_builtin(void);
/* True when a handler for action is registered. */
bool auth_action_known(const char *action);

/*
 * Store a pending request of action in tenant_id by p. params must be a JSON object of
 * at most STORE_APPROVAL_PARAMS_MAX bytes compact; reason is required (why). The request
 * expires after approval_ttl. *id is the new request's number. TW_E_INVALID for an
 * action without handler or a missing reason.
 */
tw_rc auth_approval_request(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, int64_t tenant_id, const char *action,
	const json_t *params, const char *reason, int64_t *id, struct tw_error *err);

/*
 * Approve (approve = true: execute) or reject request id as p. Refused with TW_E_DENIED
 * (and logged; the request stays pending for another approver) when p lacks the approver
 * role, is break-glass, belongs to another tenant, requested it, is the subject of a
 * role change it would approve, or (approve only) created the requester's account or
 * was created by the requester less than creator_window ago; or when the request has
 * expired (it is then marked expired). TW_E_EXISTS when it was decided already.
 *
 * Execution-time refusal: when the requester is no longer an enabled operator of the
 * request's tenant (disabled, certificate revoked, moved), or the handler refuses
 * (TW_E_DENIED), nothing runs and the request ends "failed" with the result
 * "refused: <why>"; other handler errors end "failed" with "failed: <why>". So the
 * final state always says what really happened. out (may be NULL) receives the request
 * as decided.
 */
tw_rc auth_approval_decide(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, int64_t id, bool approve, const char *reason,
	struct store_approval *out, struct tw_error *err);

/*
 * The real outcome of a released request whose action runs after the release (an api
 * command, run once the approval committed): ok = it ran and succeeded (state stays
 * "executed", result "executed: <what>"), else the request ends "failed" with
 * "refused: <what>" (the command refused or failed; what says why). Logged as
 * "approval.outcome" by approver, in one transaction with the change.
 */
tw_rc auth_approval_outcome(struct tw_store *store, const struct auth_principal *approver,
	int64_t id, bool ok, const char *what, struct tw_error *err);

/*
 * Like auth_approval_outcome(ok = true), but only while the request's result is still
 * exactly released (as read before): a claim that one of several api processes racing
 * for the same released request wins; the others get TW_E_EXISTS and change nothing.
 */
tw_rc auth_approval_claim(struct tw_store *store, const struct auth_principal *p,
	int64_t id, const char *released, const char *what, struct tw_error *err);

/* Mark every pending request past its expiry as expired (logged). *count may be NULL. */
tw_rc auth_approval_expire(struct tw_store *store, int64_t now_ms, int *count,
	struct tw_error *err);

/* Requests of p's tenant (all for break-glass), optionally one state; after expiring. */
tw_rc auth_approval_list(struct tw_store *store, const struct auth_principal *p,
	const char *state, store_approval_cb cb, void *arg, struct tw_error *err);
/* One request, tenant-checked (a foreign tenant's request is TW_E_DENIED). */
tw_rc auth_approval_show(struct tw_store *store, const struct auth_principal *p, int64_t id,
	struct store_approval *out, struct tw_error *err);

#endif
