/*
 * approval.c: four-eyes requests, their decision and execution through a registry of
 * action handlers (see approval.h), plus the built-in handlers operator.role and
 * break-glass.
 */
#include "auth/approval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "auth/command.h"
#include "base/log.h"
#include "base/util.h"

static struct {
	char name[STORE_ID_MAX + 1];
	auth_action_fn fn;
} ap_actions[AUTH_ACTIONS_MAX];
static size_t ap_action_count;

tw_rc auth_action_register(const char *action, auth_action_fn fn, struct tw_error *err)
{
	if (action == NULL || fn == NULL || action[0] == '\0' || strlen(action) > STORE_ID_MAX)
		return tw_error_set(err, TW_E_INVALID, "an action needs a name and a handler");
	for (size_t i = 0; i < ap_action_count; i++) {
		if (strcmp(ap_actions[i].name, action) == 0) {
			ap_actions[i].fn = fn;
			return TW_OK;
		}
	}
	if (ap_action_count >= AUTH_ACTIONS_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d four-eyes actions",
			AUTH_ACTIONS_MAX);
	snprintf(ap_actions[ap_action_count].name, STORE_ID_MAX + 1, "%s", action);
	ap_actions[ap_action_count++].fn = fn;
	return TW_OK;
}

static auth_action_fn ap_handler(const char *action)
{
	for (size_t i = 0; i < ap_action_count; i++) {
		if (strcmp(ap_actions[i].name, action) == 0)
			return ap_actions[i].fn;
	}
	return NULL;
}

bool auth_action_known(const char *action)
{
	return action != NULL && ap_handler(action) != NULL;
}

static tw_rc ap_audit(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, const char *result, const char *detail,
	struct tw_error *err)
{
	return auth_audit_as(store, p, action, object, result, detail, err);
}

/* ---- built-in handlers ---- */

/* operator.role: {"operator": NAME, "roles": "a,b"}: set the operator's roles. */
static tw_rc ap_role_change(struct tw_store *store, const struct auth_action_ctx *ctx,
	const json_t *params, char *result, size_t result_size, struct tw_error *err)
{
	const char *name = json_string_value(json_object_get(params, "operator"));
	const char *text = json_string_value(json_object_get(params, "roles"));
	struct store_operator op;
	char before[256], after[256], detail[STORE_TEXT_MAX + 1], object[STORE_NAME_MAX + 1];
	uint32_t roles = 0;
	tw_rc rc;

	memset(&op, 0, sizeof(op));
	if (name == NULL || text == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "operator.role needs \"operator\" and "
			"\"roles\"");
		goto out;
	}
	if ((rc = auth_roles_parse(text, &roles, err)) != TW_OK)
		goto out;
	if ((rc = store_operator_get_by_name(store, name, &op, err)) != TW_OK)
		goto out;
	/* Checked again at execution: the tenant and the exclusions may have changed. */
	if (op.tenant_id != ctx->request->tenant_id) {
		rc = tw_error_set(err, TW_E_DENIED, "operator %s belongs to another tenant", name);
		goto out;
	}
	if ((rc = auth_exclusions_check(&ctx->settings->exclusions, roles, err)) != TW_OK)
		goto out;
	/* The requester must still be allowed to grant what is added (a security officer
	 * for installation-wide roles): its roles may have changed since the request. */
	if (ctx->requester != NULL &&
	    ((roles & ~op.roles) & ~auth_roles_grantable(ctx->requester)) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "the requester %s may not grant some of these "
			"roles (installation-wide roles need a security officer)",
			ctx->requester->name);
		goto out;
	}
	if ((rc = store_operator_set_roles(store, op.id, roles, err)) != TW_OK)
		goto out;
	auth_roles_format(op.roles, before, sizeof(before));
	auth_roles_format(roles, after, sizeof(after));
	snprintf(detail, sizeof(detail), "roles %s -> %s (request %lld by %s, released by %s)",
		before, after, (long long)ctx->request->id, ctx->request->requester,
		ctx->approver->name);
	snprintf(object, sizeof(object), "operator:%s", name);
	if ((rc = ap_audit(store, ctx->approver, "operator.role", object, "ok", detail, err)) !=
	    TW_OK)
		goto out;
	snprintf(result, result_size, "roles of %s are now %s", name, after);
out:
	tw_wipe(&op, sizeof(op));
	return rc;
}

/* break-glass: the release after the fact of a break-glass use; nothing to execute. */
static tw_rc ap_break_glass(struct tw_store *store, const struct auth_action_ctx *ctx,
	const json_t *params, char *result, size_t result_size, struct tw_error *err)
{
	(void)store;
	(void)params;
	(void)err;
	snprintf(result, result_size, "break-glass use reviewed and released by %s",
		ctx->approver->name);
	return TW_OK;
}

void auth_actions_register_builtin(void)
{
	auth_action_register("operator.role", ap_role_change, NULL);
	auth_action_register("break-glass", ap_break_glass, NULL);
}

/* ---- requests ---- */

tw_rc auth_approval_request(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, int64_t tenant_id, const char *action,
	const json_t *params, const char *reason, int64_t *id, struct tw_error *err)
{
	struct store_approval a;
	char *text = NULL, detail[STORE_TEXT_MAX + 1], object[STORE_NAME_MAX + 1];
	bool own_tx = false;
	tw_rc rc;

	*id = 0;
	memset(&a, 0, sizeof(a));
	if (!auth_action_known(action)) {
		rc = tw_error_set(err, TW_E_INVALID, "no handler for action \"%.64s\"; nothing "
			"can execute it", action != NULL ? action : "");
		goto out;
	}
	if (reason == NULL || reason[0] == '\0' || strlen(reason) > STORE_TEXT_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "a four-eyes request needs a reason (why) of "
			"at most %d bytes", STORE_TEXT_MAX);
		goto out;
	}
	/* Shown to the approver: one line, no escape sequences (issue 9). */
	if ((rc = auth_text_check(reason, "the reason (why)", err)) != TW_OK)
		goto out;
	if (!json_is_object(params) ||
	    (text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the parameters must be a JSON object");
		goto out;
	}
	if (strlen(text) > STORE_APPROVAL_PARAMS_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "the parameters are longer than %d bytes",
			STORE_APPROVAL_PARAMS_MAX);
		goto out;
	}
	if (tenant_id <= 0 || strlen(p->name) > STORE_ID_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "a four-eyes request needs a tenant");
		goto out;
	}
	a.tenant_id = tenant_id;
	snprintf(a.action, sizeof(a.action), "%s", action);
	snprintf(a.params, sizeof(a.params), "%s", text);
	snprintf(a.reason, sizeof(a.reason), "%s", reason);
	snprintf(a.requester, sizeof(a.requester), "%s", p->name);
	a.requester_id = p->operator_id;
	snprintf(a.state, sizeof(a.state), "pending");
	a.created_ms = tw_now_ms();
	a.expires_ms = a.created_ms + s->approval_ttl_s * 1000;
	if (!store_in_transaction(store)) {
		if ((rc = store_begin(store, err)) != TW_OK)
			goto out;
		own_tx = true;
	}
	if ((rc = store_approval_insert(store, &a, id, err)) != TW_OK)
		goto out;
	snprintf(object, sizeof(object), "approval:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "%s %s; why: %s", action, text, reason);
	if ((rc = ap_audit(store, p, "approval.request", object, "pending", detail, err)) !=
	    TW_OK)
		goto out;
	if (own_tx)
		rc = store_commit(store, err);
out:
	if (rc != TW_OK && own_tx)
		store_rollback(store);
	if (rc != TW_OK)
		*id = 0;
	free(text);
	return rc;
}

/* Log a refused decision and return TW_E_DENIED. */
static tw_rc ap_refuse(struct tw_store *store, const struct auth_principal *p, int64_t id,
	const char *why, struct tw_error *err)
{
	char object[64];
	struct tw_error aerr;

	snprintf(object, sizeof(object), "approval:%lld", (long long)id);
	if (ap_audit(store, p, "approval.decide", object, "refused", why, &aerr) != TW_OK)
		tw_err("cannot write the admin log (approval.decide): %s", aerr.message);
	tw_warn("refused decision on approval %lld by %s: %s", (long long)id, p->name, why);
	return tw_error_set(err, TW_E_DENIED, "approval %lld: %s", (long long)id, why);
}

/* Expire one request (own transaction, logged). */
static tw_rc ap_expire_one(struct tw_store *store, const struct store_approval *a,
	int64_t now, struct tw_error *err)
{
	struct store_approval d;
	struct auth_principal sys;
	char object[64], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	memset(&d, 0, sizeof(d));
	snprintf(d.state, sizeof(d.state), "expired");
	snprintf(d.decided_by, sizeof(d.decided_by), "system");
	d.decided_ms = now;
	snprintf(d.decision_reason, sizeof(d.decision_reason), "not released before expiry");
	memset(&sys, 0, sizeof(sys));
	snprintf(sys.name, sizeof(sys.name), "system");
	snprintf(sys.client, sizeof(sys.client), "local");
	sys.roles = 0;
	snprintf(object, sizeof(object), "approval:%lld", (long long)a->id);
	snprintf(detail, sizeof(detail), "%s requested by %s expired unreleased", a->action,
		a->requester);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	rc = store_approval_decide(store, a->id, &d, err);
	if (rc == TW_E_EXISTS) {         /* decided meanwhile: nothing to expire */
		store_rollback(store);
		return TW_OK;
	}
	if (rc == TW_OK && (rc = ap_audit(store, &sys, "approval.expire", object, "expired",
	    detail, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}

struct ap_due {
	int64_t now;
	struct store_approval due[64];
	size_t n;
};

static int ap_collect_due(const struct store_approval *a, void *arg)
{
	struct ap_due *d = arg;

	if (a->expires_ms <= d->now && d->n < sizeof(d->due) / sizeof(d->due[0]))
		d->due[d->n++] = *a;
	return 0;
}

tw_rc auth_approval_expire(struct tw_store *store, int64_t now_ms, int *count,
	struct tw_error *err)
{
	struct ap_due *d = calloc(1, sizeof(*d));
	int total = 0;
	tw_rc rc = TW_OK;

	if (count != NULL)
		*count = 0;
	if (d == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	d->now = now_ms > 0 ? now_ms : tw_now_ms();
	/* In rounds of 64, so memory stays bounded however many are due. */
	do {
		d->n = 0;
		if ((rc = store_approval_foreach(store, 0, "pending", ap_collect_due, d, err)) !=
		    TW_OK)
			break;
		for (size_t i = 0; i < d->n && rc == TW_OK; i++) {
			rc = ap_expire_one(store, &d->due[i], d->now, err);
			total++;
		}
	} while (rc == TW_OK && d->n == sizeof(d->due) / sizeof(d->due[0]));
	free(d);
	if (count != NULL)
		*count = total;
	return rc;
}

/*
 * The requester as it is now. *refusal is set (and TW_OK returned) when it can no longer
 * have anything executed: gone, disabled, certificate revoked, or in another tenant than
 * the request. have is false for break-glass requests (requester_id 0).
 */
static tw_rc ap_requester_now(struct tw_store *store, const struct store_approval *a,
	struct store_operator *op, struct auth_principal *who, bool *have, char *refusal,
	size_t size, struct tw_error *err)
{
	struct tw_error lerr;
	tw_rc rc;

	*have = false;
	refusal[0] = '\0';
	memset(who, 0, sizeof(*who));
	if (a->requester_id == 0)
		return TW_OK;
	rc = store_operator_get_by_id(store, a->requester_id, op, &lerr);
	if (rc == TW_E_NOT_FOUND) {
		snprintf(refusal, size, "the requester %s no longer exists", a->requester);
		return TW_OK;
	}
	if (rc != TW_OK)
		return tw_error_set(err, rc, "%s", lerr.message);
	if (strcmp(op->status, "enabled") != 0 || strcmp(op->cert_status, "valid") != 0)
		snprintf(refusal, size, "the requester %s is disabled", a->requester);
	else if (op->tenant_id != a->tenant_id)
		snprintf(refusal, size, "the requester %s no longer belongs to the request's "
			"tenant", a->requester);
	who->operator_id = op->id;
	who->tenant_id = op->tenant_id;
	who->roles = op->roles;
	snprintf(who->name, sizeof(who->name), "%s", op->name);
	snprintf(who->tenant, sizeof(who->tenant), "%s", op->tenant);
	snprintf(who->client, sizeof(who->client), "-");
	*have = true;
	return TW_OK;
}

/*
 * The creator rule (docs/security.md, "One person, one pair of eyes"): true when the
 * approver created the requester's account, or the requester created the approver's,
 * less than window seconds ago. An administrator who mints a second account can
 * otherwise release its own requests through it.
 */
static bool ap_creator_related(const struct store_operator *requester,
	const struct store_operator *approver, int64_t now_ms, long window_s)
{
	int64_t w = (int64_t)window_s * 1000;

	return (strcmp(requester->created_by, approver->name) == 0 &&
		now_ms - requester->created_ms < w) ||
	       (strcmp(approver->created_by, requester->name) == 0 &&
		now_ms - approver->created_ms < w);
}

/* Record an execution-time refusal: the request ends failed, "refused: why". */
static tw_rc ap_refuse_execution(struct tw_store *store, const struct auth_principal *p,
	const struct store_approval *a, struct store_approval *d, const char *why,
	struct tw_error *err)
{
	char object[64], detail[STORE_TEXT_MAX + 1];
	struct tw_error lerr;

	snprintf(object, sizeof(object), "approval:%lld", (long long)a->id);
	snprintf(d->state, sizeof(d->state), "failed");
	snprintf(d->result, sizeof(d->result), "refused: %s; nothing was executed", why);
	snprintf(detail, sizeof(detail), "%s requested by %s released but refused: %s",
		a->action, a->requester, why);
	if (store_begin(store, &lerr) == TW_OK) {
		if (store_approval_decide(store, a->id, d, &lerr) == TW_OK &&
		    ap_audit(store, p, "approval.approve", object, "refused", detail, &lerr) ==
		    TW_OK)
			store_commit(store, &lerr);
		else
			store_rollback(store);
	}
	tw_warn("approval %lld: %s", (long long)a->id, d->result);
	return tw_error_set(err, TW_E_DENIED, "approval %lld released, but %s was refused: %s",
		(long long)a->id, a->action, why);
}

tw_rc auth_approval_decide(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, int64_t id, bool approve, const char *reason,
	struct store_approval *out, struct tw_error *err)
{
	struct store_approval *a = calloc(1, sizeof(*a)), d;
	struct store_operator reqop;
	struct auth_principal requester;
	bool have_requester = false;
	char refusal[STORE_TEXT_MAX / 2] = "";
	struct auth_action_ctx ctx;
	json_t *params = NULL;
	auth_action_fn fn;
	char result[STORE_TEXT_MAX + 1] = "", detail[STORE_TEXT_MAX + 1], object[64];
	char why[TW_ERROR_MESSAGE_MAX];
	struct tw_error xerr;
	int64_t now = tw_now_ms();
	tw_rc rc;

	memset(&reqop, 0, sizeof(reqop));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (a == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (p->break_glass) {
		rc = ap_refuse(store, p, id, "break-glass cannot release four-eyes requests; a "
			"second operator with the approver role must", err);
		goto out;
	}
	if ((rc = auth_check(store, p, AUTH_OP_APPROVAL_DECIDE, 0, "approval", err)) != TW_OK)
		goto out;
	if (reason != NULL && strlen(reason) > STORE_TEXT_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "the reason is longer than %d bytes",
			STORE_TEXT_MAX);
		goto out;
	}
	if (reason != NULL && (rc = auth_text_check(reason, "the reason", err)) != TW_OK)
		goto out;
	if ((rc = store_approval_get(store, id, a, err)) != TW_OK)
		goto out;
	if (a->tenant_id != p->tenant_id) {
		/* Logged as what it is, answered as a missing request (issue 9). */
		ap_refuse(store, p, id, "the request belongs to another tenant", err);
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no approval request %lld", (long long)id);
		goto out;
	}
	if (strcmp(a->state, "pending") != 0) {
		rc = tw_error_set(err, TW_E_EXISTS, "approval %lld is %s already", (long long)id,
			a->state);
		goto out;
	}
	if (a->expires_ms <= now) {
		if ((rc = ap_expire_one(store, a, now, err)) == TW_OK)
			rc = ap_refuse(store, p, id, "the request has expired", err);
		goto out;
	}
	/* Four eyes: never the requester, whatever the configuration says. */
	if (a->requester_id == p->operator_id || strcmp(a->requester, p->name) == 0) {
		rc = ap_refuse(store, p, id, "the requester cannot release their own request",
			err);
		goto out;
	}
	if ((params = json_loads(a->params, 0, NULL)) == NULL || !json_is_object(params)) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "approval %lld: stored parameters are not "
			"a JSON object", (long long)id);
		goto out;
	}
	/* Nobody releases a change of their own roles. */
	if (strcmp(a->action, "operator.role") == 0 &&
	    strcmp(json_string_value(json_object_get(params, "operator")) != NULL ?
	    json_string_value(json_object_get(params, "operator")) : "", p->name) == 0) {
		rc = ap_refuse(store, p, id, "an approver cannot release a change of their own "
			"roles", err);
		goto out;
	}
	/* The approver's own role set must still respect the exclusions. */
	if (auth_exclusions_check(&s->exclusions, p->roles, &xerr) != TW_OK) {
		rc = ap_refuse(store, p, id, xerr.message, err);
		goto out;
	}
	if ((rc = ap_requester_now(store, a, &reqop, &requester, &have_requester, refusal,
	    sizeof(refusal), err)) != TW_OK)
		goto out;
	if (approve && have_requester) {
		struct store_operator self;

		memset(&self, 0, sizeof(self));
		if ((rc = store_operator_get_by_id(store, p->operator_id, &self, err)) != TW_OK)
			goto out;
		if (ap_creator_related(&reqop, &self, now, s->creator_window_s)) {
			tw_wipe(&self, sizeof(self));
			rc = ap_refuse(store, p, id, "the approver and the requester created one "
				"another's account within [auth] creator_window; another approver must "
				"release it", err);
			goto out;
		}
		tw_wipe(&self, sizeof(self));
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.decided_by, sizeof(d.decided_by), "%s", p->name);
	d.decided_ms = now;
	snprintf(d.decision_reason, sizeof(d.decision_reason), "%s", reason != NULL ? reason : "");
	snprintf(object, sizeof(object), "approval:%lld", (long long)id);
	fn = ap_handler(a->action);
	if (approve && refusal[0] != '\0') {
		rc = ap_refuse_execution(store, p, a, &d, refusal, err);
		goto out;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if (!approve) {
		snprintf(d.state, sizeof(d.state), "rejected");
		snprintf(detail, sizeof(detail), "%s requested by %s rejected: %s", a->action,
			a->requester, d.decision_reason);
		if ((rc = store_approval_decide(store, id, &d, err)) == TW_OK &&
		    (rc = ap_audit(store, p, "approval.reject", object, "ok", detail, err)) == TW_OK)
			rc = store_commit(store, err);
		goto decided;
	}
	snprintf(d.state, sizeof(d.state), "executed");
	ctx.settings = s;
	ctx.request = a;
	ctx.approver = p;
	ctx.requester = have_requester ? &requester : NULL;
	if (fn == NULL)
		rc = tw_error_set(&xerr, TW_E_CONFIG, "no handler registered for %s", a->action);
	else
		rc = fn(store, &ctx, params, result, sizeof(result), &xerr);
	if (rc == TW_OK) {
		snprintf(d.result, sizeof(d.result), "%s", result);
		snprintf(detail, sizeof(detail), "%s requested by %s released and executed: %s",
			a->action, a->requester, result);
		if ((rc = store_approval_decide(store, id, &d, err)) == TW_OK &&
		    (rc = ap_audit(store, p, "approval.approve", object, "ok", detail, err)) ==
		    TW_OK)
			rc = store_commit(store, err);
		goto decided;
	}
	/* The action failed: undo what it did, then record the failure on its own. */
	store_rollback(store);
	snprintf(why, sizeof(why), "%s", xerr.message);
	if (rc == TW_E_DENIED) {
		rc = ap_refuse_execution(store, p, a, &d, why, err);
		goto out;
	}
	snprintf(d.state, sizeof(d.state), "failed");
	snprintf(d.result, sizeof(d.result), "failed: %s", why);
	snprintf(detail, sizeof(detail), "%s requested by %s released but failed: %s",
		a->action, a->requester, why);
	if (store_begin(store, err) == TW_OK) {
		if (store_approval_decide(store, id, &d, err) == TW_OK &&
		    ap_audit(store, p, "approval.approve", object, "error", detail, err) == TW_OK)
			store_commit(store, err);
		else
			store_rollback(store);
	}
	rc = tw_error_set(err, rc, "approval %lld released, but %s failed: %s", (long long)id,
		a->action, why);
	goto out;
decided:
	if (rc != TW_OK)
		store_rollback(store);
	else if (out != NULL && store_approval_get(store, id, out, &xerr) != TW_OK)
		*out = *a;
out:
	tw_wipe(&reqop, sizeof(reqop));
	json_decref(params);
	free(a);
	return rc;
}

/* auth_approval_outcome and auth_approval_claim: expect NULL, or the result to replace. */
static tw_rc ap_outcome(struct tw_store *store, const struct auth_principal *approver,
	int64_t id, bool ok, const char *what, const char *expect, struct tw_error *err)
{
	char result[STORE_TEXT_MAX + 1], object[64];
	size_t n;
	tw_rc rc;

	n = (size_t)snprintf(result, sizeof(result), "%s: ", ok ? "executed" : "refused");
	/* Command output is the requester's text: only printable ASCII goes into the row
	 * an approver reads (no escapes or line breaks that could forge the display). */
	for (const char *c = what != NULL ? what : ""; *c != '\0' && n + 1 < sizeof(result);
	     c++)
		result[n++] = (*c >= 0x20 && *c < 0x7f) ? *c : ' ';
	result[n] = '\0';
	snprintf(object, sizeof(object), "approval:%lld", (long long)id);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_approval_finish(store, id, ok ? "executed" : "failed", result, expect,
	    err)) ==
	    TW_OK && (rc = ap_audit(store, approver, "approval.outcome", object, ok ? "ok" :
	    "refused", result, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}

tw_rc auth_approval_outcome(struct tw_store *store, const struct auth_principal *approver,
	int64_t id, bool ok, const char *what, struct tw_error *err)
{
	return ap_outcome(store, approver, id, ok, what, NULL, err);
}

tw_rc auth_approval_claim(struct tw_store *store, const struct auth_principal *p,
	int64_t id, const char *released, const char *what, struct tw_error *err)
{
	return ap_outcome(store, p, id, true, what, released, err);
}

tw_rc auth_approval_list(struct tw_store *store, const struct auth_principal *p,
	const char *state, store_approval_cb cb, void *arg, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = auth_check(store, p, AUTH_OP_APPROVAL_LIST, 0, "approvals", err)) != TW_OK)
		return rc;
	if ((rc = auth_approval_expire(store, 0, NULL, err)) != TW_OK)
		return rc;
	return store_approval_foreach(store, p->break_glass ? 0 : p->tenant_id, state, cb, arg,
		err);
}

tw_rc auth_approval_show(struct tw_store *store, const struct auth_principal *p, int64_t id,
	struct store_approval *out, struct tw_error *err)
{
	char object[64];
	tw_rc rc;

	snprintf(object, sizeof(object), "approval:%lld", (long long)id);
	if ((rc = auth_check(store, p, AUTH_OP_APPROVAL_SHOW, 0, object, err)) != TW_OK)
		return rc;
	if ((rc = auth_approval_expire(store, 0, NULL, err)) != TW_OK)
		return rc;
	if ((rc = store_approval_get(store, id, out, err)) != TW_OK)
		return rc;
	rc = auth_check(store, p, AUTH_OP_APPROVAL_SHOW, out->tenant_id, object, err);
	if (rc != TW_OK && !p->break_glass && out->tenant_id != p->tenant_id)
		/* Another tenant's request is a missing one (issue 9); auth_check logged it. */
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no approval request %lld", (long long)id);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
