/*
 * store_auth.c: the public store_auth.h API. Checks every argument once, before any SQL
 * runs (so bad input changes nothing and is never truncated), then dispatches to the
 * backend's area ops chosen by the store's core backend.
 */
#include "store/store_auth.h"

#include <string.h>

#include "store/store_backend.h"
#include "store/store_check.h"

static const struct store_auth_ops *sa_ops(struct tw_store *store, struct tw_error *err)
{
	return store_area_ops(store, &store_sqlite_auth_ops, "operator", err);
}

static bool sa_one_of(const char *s, const char *a, const char *b)
{
	return s != NULL && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static bool sa_hex(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	}
	return h[n] == '\0';
}

static bool sa_kind_ok(const char *kind)
{
	return sa_one_of(kind, "operator", "address");
}

/* ---- operators ---- */

tw_rc store_operator_insert(struct tw_store *store, const struct store_operator *op,
	int64_t *id, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (op == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_insert: NULL argument");
	*id = 0;
	if ((rc = STORE_CHECK_MEMBER(op, name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, status, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, factor, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, secret, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_serial, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_status, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, created_by, true, err)) != TW_OK)
		return rc;
	if (!sa_one_of(op->status, "enabled", "disabled") ||
	    !sa_one_of(op->factor, "password", "totp") ||
	    !sa_one_of(op->cert_status, "valid", "revoked") ||
	    !sa_hex(op->cert_fingerprint, 64) || op->tenant_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "operator %s: status, factor, certificate "
			"status, fingerprint or tenant is not valid", op->name);
	return ops->operator_insert(store->be, op, id, err);
}

static tw_rc sa_operator_get(struct tw_store *store, int by, const char *key, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_get: NULL argument");
	if (by != STORE_OPERATOR_BY_ID &&
	    (rc = store_check_text(key, by == STORE_OPERATOR_BY_NAME ? STORE_ID_MAX : 64,
	     by == STORE_OPERATOR_BY_NAME ? "operator name" : "certificate fingerprint",
	     err)) != TW_OK)
		return rc;
	return ops->operator_get(store->be, by, key, id, out, err);
}

tw_rc store_operator_get_by_name(struct tw_store *store, const char *name,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_get(store, STORE_OPERATOR_BY_NAME, name, 0, out, err);
}

tw_rc store_operator_get_by_fingerprint(struct tw_store *store, const char *fingerprint,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_get(store, STORE_OPERATOR_BY_FINGERPRINT, fingerprint, 0, out, err);
}

tw_rc store_operator_get_by_id(struct tw_store *store, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_get(store, STORE_OPERATOR_BY_ID, NULL, id, out, err);
}

tw_rc store_operator_set_roles(struct tw_store *store, int64_t id, uint32_t roles,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	return ops->operator_set_roles(store->be, id, roles, err);
}

tw_rc store_operator_set_status(struct tw_store *store, int64_t id, const char *status,
	const char *cert_status, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (!sa_one_of(status, "enabled", "disabled") ||
	    !sa_one_of(cert_status, "valid", "revoked"))
		return tw_error_set(err, TW_E_INVALID, "operator status must be enabled/disabled "
			"and certificate status valid/revoked");
	return ops->operator_set_status(store->be, id, status, cert_status, err);
}

tw_rc store_operator_set_secret(struct tw_store *store, int64_t id, const char *secret,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (secret == NULL || secret[0] == '\0' || strlen(secret) > STORE_AUTH_SECRET_MAX)
		return tw_error_set(err, TW_E_INVALID, "an operator secret is 1..%d bytes",
			STORE_AUTH_SECRET_MAX);
	return ops->operator_set_secret(store->be, id, secret, err);
}

tw_rc store_operator_use_totp_step(struct tw_store *store, int64_t id, int64_t step,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (step <= 0)
		return tw_error_set(err, TW_E_INVALID, "TOTP time step must be positive");
	return ops->operator_use_totp_step(store->be, id, step, err);
}

tw_rc store_operator_foreach(struct tw_store *store, int64_t tenant_id, store_operator_cb cb,
	void *arg, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_foreach: bad argument");
	return ops->operator_foreach(store->be, tenant_id, cb, arg, err);
}

tw_rc store_auth_tenant_name(struct tw_store *store, int64_t id,
	char name[STORE_ID_MAX + 1], struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (name != NULL)
		name[0] = '\0';
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (name == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_tenant_name: NULL argument");
	return ops->tenant_name(store->be, id, name, STORE_ID_MAX + 1, err);
}

/* ---- sessions ---- */

tw_rc store_session_insert(struct tw_store *store, const struct store_session *s,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (s == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_session_insert: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(s, id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, cert_fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, client, false, err)) != TW_OK)
		return rc;
	if (!sa_hex(s->id, 32) || s->expires_ms <= s->created_ms)
		return tw_error_set(err, TW_E_INVALID, "session id or lifetime is not valid");
	return ops->session_insert(store->be, s, err);
}

tw_rc store_session_get(struct tw_store *store, const char *id, struct store_session *out,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_session_get: NULL argument");
	if ((rc = store_check_text(id, 32, "session id", err)) != TW_OK)
		return rc;
	return ops->session_get(store->be, id, out, err);
}

tw_rc store_session_revoke(struct tw_store *store, const char *id, int64_t when_ms,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(id, 32, "session id", err)) != TW_OK)
		return rc;
	return ops->session_revoke(store->be, id, when_ms, err);
}

tw_rc store_session_revoke_operator(struct tw_store *store, int64_t operator_id,
	int64_t when_ms, int *count, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	int ignored;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	return ops->session_revoke_operator(store->be, operator_id, when_ms,
		count != NULL ? count : &ignored, err);
}

/* ---- failures ---- */

tw_rc store_auth_failure_get(struct tw_store *store, const char *kind, const char *subject,
	struct store_auth_failure *out, bool *found, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || !sa_kind_ok(kind))
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_get: bad argument");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	return ops->failure_get(store->be, kind, subject, out, found, err);
}

tw_rc store_auth_failure_put(struct tw_store *store, const char *kind, const char *subject,
	const struct store_auth_failure *f, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || !sa_kind_ok(kind) || f->count < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_put: bad argument");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	return ops->failure_put(store->be, kind, subject, f, err);
}

tw_rc store_auth_failure_clear(struct tw_store *store, const char *kind, const char *subject,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (!sa_kind_ok(kind))
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_clear: bad kind");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	return ops->failure_clear(store->be, kind, subject, err);
}

/* ---- approvals ---- */

static bool sa_state_ok(const char *s)
{
	return sa_one_of(s, "pending", "executed") || sa_one_of(s, "rejected", "expired") ||
		sa_one_of(s, "failed", "failed");
}

tw_rc store_approval_insert(struct tw_store *store, const struct store_approval *a,
	int64_t *id, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (a == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_insert: NULL argument");
	*id = 0;
	if ((rc = STORE_CHECK_MEMBER(a, action, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, params, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, reason, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, requester, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, state, true, err)) != TW_OK)
		return rc;
	if (strcmp(a->state, "pending") != 0 || a->expires_ms <= a->created_ms ||
	    a->tenant_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "a new approval request must be pending, "
			"belong to a tenant and expire after it was created");
	return ops->approval_insert(store->be, a, id, err);
}

tw_rc store_approval_get(struct tw_store *store, int64_t id, struct store_approval *out,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_get: NULL argument");
	return ops->approval_get(store->be, id, out, err);
}

tw_rc store_approval_decide(struct tw_store *store, int64_t id, const struct store_approval *d,
	struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (d == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_decide: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(d, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, decided_by, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, decision_reason, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, result, false, err)) != TW_OK)
		return rc;
	if (!sa_state_ok(d->state) || strcmp(d->state, "pending") == 0)
		return tw_error_set(err, TW_E_INVALID, "decision state \"%s\" is not final",
			d->state);
	return ops->approval_decide(store->be, id, d, err);
}

tw_rc store_approval_finish(struct tw_store *store, int64_t id, const char *state,
	const char *result, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(state, 15, "approval state", err)) != TW_OK ||
	    (rc = store_check_text(result, STORE_TEXT_MAX, "approval result", err)) != TW_OK)
		return rc;
	if (!sa_one_of(state, "executed", "failed"))
		return tw_error_set(err, TW_E_INVALID, "an outcome is executed or failed, not "
			"\"%s\"", state);
	if (ops->approval_finish == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "this store cannot record outcomes");
	return ops->approval_finish(store->be, id, state, result, err);
}

tw_rc store_approval_foreach(struct tw_store *store, int64_t tenant_id, const char *state,
	store_approval_cb cb, void *arg, struct tw_error *err)
{
	const struct store_auth_ops *ops = sa_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0 || (state != NULL && !sa_state_ok(state)))
		return tw_error_set(err, TW_E_INVALID, "store_approval_foreach: bad argument");
	return ops->approval_foreach(store->be, tenant_id, state, cb, arg, err);
}
