/*
 * store_auth.h: the tables of operator authentication and four-eyes approvals (migration
 * 0005_auth.sql; owner: the auth module, src/auth).
 *
 *   operators      accounts: tenant, roles (bit set), second factor, client certificate
 *   auth_sessions  session tokens (only the SHA-256 of the secret is stored)
 *   auth_failures  failed-login counters per operator and per client address
 *   approvals      four-eyes requests and their decisions
 *
 * store_auth.c validates every argument before any SQL runs (fixed-size fields must hold
 * their NUL; nothing is silently truncated). None of these functions opens a
 * transaction: the auth module wraps data + admin-log entry in store_begin..store_commit.
 */
#ifndef TORWART_STORE_STORE_AUTH_H
#define TORWART_STORE_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_AUTH_SECRET_MAX       255    /* scrypt record or base32 TOTP key */
#define STORE_APPROVAL_PARAMS_MAX   4096   /* JSON parameters of a pending action */

struct store_operator {
	int64_t id;                              /* assigned by insert */
	int64_t tenant_id;
	char tenant[STORE_ID_MAX + 1];           /* tenant name; filled by the getters */
	char name[STORE_ID_MAX + 1];
	uint32_t roles;                          /* bit set of enum auth_role */
	char status[16];                         /* "enabled", "disabled" */
	char factor[16];                         /* "password", "totp" */
	char secret[STORE_AUTH_SECRET_MAX + 1];  /* scrypt record or TOTP key: wipe after use */
	int64_t totp_last_step;                  /* highest TOTP time step accepted */
	char cert_fingerprint[65];               /* SHA-256 of the client certificate, hex */
	char cert_serial[STORE_ID_MAX + 1];
	int64_t cert_not_after;                  /* seconds since the epoch */
	char cert_status[16];                    /* "valid", "revoked" */
	int64_t created_ms;
	char created_by[STORE_NAME_MAX + 1];
};

/* TW_E_EXISTS for a taken name or fingerprint; TW_E_NOT_FOUND for an unknown tenant. */
tw_rc store_operator_insert(struct tw_store *store, const struct store_operator *op,
	int64_t *id, struct tw_error *err);
/* TW_E_NOT_FOUND if absent. */
tw_rc store_operator_get_by_name(struct tw_store *store, const char *name,
	struct store_operator *out, struct tw_error *err);
tw_rc store_operator_get_by_fingerprint(struct tw_store *store, const char *fingerprint,
	struct store_operator *out, struct tw_error *err);
tw_rc store_operator_get_by_id(struct tw_store *store, int64_t id,
	struct store_operator *out, struct tw_error *err);
/* Each returns TW_E_NOT_FOUND when no operator has that id. */
tw_rc store_operator_set_roles(struct tw_store *store, int64_t id, uint32_t roles,
	struct tw_error *err);
/* status "enabled"/"disabled", cert_status "valid"/"revoked". */
tw_rc store_operator_set_status(struct tw_store *store, int64_t id, const char *status,
	const char *cert_status, struct tw_error *err);
/*
 * Replace the second-factor secret (a plain TOTP key resealed on first use, see
 * auth/cred.h). TW_E_NOT_FOUND when no operator has that id.
 */
tw_rc store_operator_set_secret(struct tw_store *store, int64_t id, const char *secret,
	struct tw_error *err);
/*
 * Record a used TOTP step only if it is newer than the last one: TW_E_DENIED when
 * step <= totp_last_step (a replayed code), so two logins cannot use one code.
 */
tw_rc store_operator_use_totp_step(struct tw_store *store, int64_t id, int64_t step,
	struct tw_error *err);
/* tenant_id 0: all tenants. Ordered by name; op is borrowed for the call. cb != 0 stops. */
typedef int (*store_operator_cb)(const struct store_operator *op, void *arg);
tw_rc store_operator_foreach(struct tw_store *store, int64_t tenant_id, store_operator_cb cb,
	void *arg, struct tw_error *err);
/* Name of tenant id (tenants table, read only). TW_E_NOT_FOUND if absent. */
tw_rc store_auth_tenant_name(struct tw_store *store, int64_t id,
	char name[STORE_ID_MAX + 1], struct tw_error *err);

struct store_session {
	char id[33];                             /* 32 hex digits */
	int64_t operator_id;
	unsigned char secret_hash[32];
	char cert_fingerprint[65];
	char client[STORE_ID_MAX + 1];
	int64_t created_ms;
	int64_t expires_ms;
	int64_t revoked_ms;                      /* 0 while not revoked */
};

tw_rc store_session_insert(struct tw_store *store, const struct store_session *s,
	struct tw_error *err);
/* TW_E_NOT_FOUND if absent. */
tw_rc store_session_get(struct tw_store *store, const char *id, struct store_session *out,
	struct tw_error *err);
/* Revoke one session (TW_E_NOT_FOUND if absent or already revoked). */
tw_rc store_session_revoke(struct tw_store *store, const char *id, int64_t when_ms,
	struct tw_error *err);
/* Revoke every live session of an operator; *count (may be NULL) says how many. */
tw_rc store_session_revoke_operator(struct tw_store *store, int64_t operator_id,
	int64_t when_ms, int *count, struct tw_error *err);

/* ---- failed-login counters: kind "operator" or "address" ---- */
struct store_auth_failure {
	int64_t window_ms;                       /* start of the counting window */
	int64_t count;
	bool alerted;                            /* the burst alert of this window was raised */
};
/* *found = false when there is no counter. */
tw_rc store_auth_failure_get(struct tw_store *store, const char *kind, const char *subject,
	struct store_auth_failure *out, bool *found, struct tw_error *err);
tw_rc store_auth_failure_put(struct tw_store *store, const char *kind, const char *subject,
	const struct store_auth_failure *f, struct tw_error *err);
/* Absent is fine. */
tw_rc store_auth_failure_clear(struct tw_store *store, const char *kind, const char *subject,
	struct tw_error *err);

/* ---- four-eyes approvals ---- */
struct store_approval {
	int64_t id;                              /* assigned by insert */
	int64_t tenant_id;
	char action[STORE_ID_MAX + 1];
	char params[STORE_APPROVAL_PARAMS_MAX + 1];  /* compact JSON object */
	char reason[STORE_TEXT_MAX + 1];
	char requester[STORE_ID_MAX + 1];
	int64_t requester_id;                    /* operator id; 0 for break-glass */
	char state[16];                          /* pending, executed, rejected, expired, failed */
	int64_t created_ms;
	int64_t expires_ms;
	char decided_by[STORE_ID_MAX + 1];
	int64_t decided_ms;
	char decision_reason[STORE_TEXT_MAX + 1];
	char result[STORE_TEXT_MAX + 1];
};

tw_rc store_approval_insert(struct tw_store *store, const struct store_approval *a,
	int64_t *id, struct tw_error *err);
/* TW_E_NOT_FOUND if absent. */
tw_rc store_approval_get(struct tw_store *store, int64_t id, struct store_approval *out,
	struct tw_error *err);
/*
 * Move a pending request to a final state with the decision fields of d (state,
 * decided_by, decided_ms, decision_reason, result). TW_E_EXISTS when the request is no
 * longer pending (someone decided first), TW_E_NOT_FOUND when it does not exist.
 */
tw_rc store_approval_decide(struct tw_store *store, int64_t id, const struct store_approval *d,
	struct tw_error *err);
/*
 * The outcome of an executed request whose action runs after the decision committed (a
 * released api command): state "executed" or "failed" and result replace the
 * decision's. TW_E_EXISTS unless the request is in state "executed" (only such a
 * request's outcome can still change) and, when expect_result is not NULL, its result
 * is still exactly expect_result (a claim: of two processes racing for the same
 * request, one wins); TW_E_NOT_FOUND when it does not exist.
 */
tw_rc store_approval_finish(struct tw_store *store, int64_t id, const char *state,
	const char *result, const char *expect_result, struct tw_error *err);
/* tenant_id 0: all; state NULL: all. Ordered by id; a is borrowed. cb != 0 stops. */
typedef int (*store_approval_cb)(const struct store_approval *a, void *arg);
tw_rc store_approval_foreach(struct tw_store *store, int64_t tenant_id, const char *state,
	store_approval_cb cb, void *arg, struct tw_error *err);

/* operator_get's `by`. */
enum { STORE_OPERATOR_BY_NAME = 1, STORE_OPERATOR_BY_FINGERPRINT, STORE_OPERATOR_BY_ID };

#endif
