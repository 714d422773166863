/*
 * session.c: login, throttling of failed logins, session tokens (see session.h).
 *
 * Why count per operator and per address: per-operator counters stop guessing one
 * account's factor from many places; per-address counters stop one place from walking
 * through many accounts (every certificate it holds). Both are refused before the factor
 * is checked, so a locked-out attacker learns nothing more.
 */
#include "auth/session.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_auth.h"

/* Admin-log entry inside an open transaction or on its own. */
static tw_rc sess_audit(struct tw_store *store, const char *actor, const char *role,
	const char *client, const char *action, const char *object, const char *result,
	const char *detail, struct tw_error *err)
{
	struct audit_entry e = { .actor = actor, .role = role, .client = client,
		.action = action, .object = object, .result = result, .detail = detail };

	return store_in_transaction(store) ? audit_append_in_tx(store, &e, err) :
		audit_append(store, &e, err);
}

/*
 * The limit of a counter: max_failures per operator, AUTH_ADDRESS_FAILURES_FACTOR times
 * that per client address (several operators may share one, e.g. a jump host).
 */
static long sess_limit(const struct auth_settings *s, const char *kind)
{
	return strcmp(kind, "address") == 0 ? s->max_failures * AUTH_ADDRESS_FAILURES_FACTOR :
		s->max_failures;
}

/* True when the counter of (kind, subject) is at the limit inside its window. */
static tw_rc sess_locked(struct tw_store *store, const struct auth_settings *s,
	const char *kind, const char *subject, int64_t now, bool *locked, struct tw_error *err)
{
	struct store_auth_failure f;
	bool found = false;
	tw_rc rc;

	*locked = false;
	if ((rc = store_auth_failure_get(store, kind, subject, &f, &found, err)) != TW_OK)
		return rc;
	*locked = found && now - f.window_ms < s->failure_window_s * 1000 &&
		f.count >= sess_limit(s, kind);
	return TW_OK;
}

/* Count one failure; *burst = true when this one reached the limit (alert once). */
static tw_rc sess_count(struct tw_store *store, const struct auth_settings *s,
	const char *kind, const char *subject, int64_t now, bool *burst, struct tw_error *err)
{
	struct store_auth_failure f;
	bool found = false;
	tw_rc rc;

	*burst = false;
	if ((rc = store_auth_failure_get(store, kind, subject, &f, &found, err)) != TW_OK)
		return rc;
	if (!found || now - f.window_ms >= s->failure_window_s * 1000) {
		memset(&f, 0, sizeof(f));
		f.window_ms = now;
	}
	f.count++;
	if (f.count >= sess_limit(s, kind) && !f.alerted) {
		f.alerted = true;
		*burst = true;
	}
	return store_auth_failure_put(store, kind, subject, &f, err);
}

/*
 * Record a refused login: counters + admin-log entry in one transaction, then the
 * alert. Returns TW_E_DENIED with the operator-facing reason (never the secret).
 */
static tw_rc sess_refuse(struct tw_store *store, const struct auth_settings *s,
	const struct auth_login_input *in, const char *operator_name, int64_t now,
	const char *why, struct tw_error *err)
{
	struct tw_error serr;
	bool burst_op = false, burst_addr = false;
	char detail[STORE_TEXT_MAX + 1];
	const char *actor = operator_name != NULL ? operator_name : "unknown";
	tw_rc rc;

	snprintf(detail, sizeof(detail), "login refused: %s (certificate %.16s..., client %s)",
		why, in->cert_fingerprint != NULL ? in->cert_fingerprint : "-",
		in->client != NULL ? in->client : "-");
	tw_warn("%s", detail);
	if ((rc = store_begin(store, &serr)) != TW_OK)
		goto out;
	if ((operator_name == NULL || (rc = sess_count(store, s, "operator", operator_name, now,
	     &burst_op, &serr)) == TW_OK) &&
	    (rc = sess_count(store, s, "address", in->client != NULL ? in->client : "-", now,
	     &burst_addr, &serr)) == TW_OK &&
	    (rc = sess_audit(store, actor, "-", in->client, "auth.login", actor, "refused",
	     detail, &serr)) == TW_OK)
		rc = store_commit(store, &serr);
	if (rc != TW_OK)
		store_rollback(store);
out:
	if (rc != TW_OK)
		tw_err("cannot record a refused login: %s", serr.message);
	if (burst_op || burst_addr) {
		char text[STORE_TEXT_MAX + 1];

		snprintf(text, sizeof(text), "%ld failed logins within %ld s for %s%s%s; further "
			"attempts are refused until the window ends", s->max_failures,
			s->failure_window_s, burst_op ? "operator " : "", burst_op ? actor : "",
			burst_addr ? (burst_op ? " and the client address" : "the client address") :
			"");
		auth_alert(store, "failed-login-burst", "security-officer", actor, in->client, text);
	}
	return tw_error_set(err, TW_E_DENIED, "login refused: %s", why);
}

tw_rc auth_session_new(const struct auth_settings *s, const struct store_operator *op,
	const char *client, int64_t now, struct auth_token *tok, struct store_session *ses,
	char token[AUTH_TOKEN_LEN + 1], struct tw_error *err)
{
	tw_rc rc;

	if ((rc = auth_token_new(tok, token, err)) != TW_OK)
		return rc;
	memset(ses, 0, sizeof(*ses));
	snprintf(ses->id, sizeof(ses->id), "%s", tok->id);
	ses->operator_id = op->id;
	snprintf(ses->cert_fingerprint, sizeof(ses->cert_fingerprint), "%s", op->cert_fingerprint);
	snprintf(ses->client, sizeof(ses->client), "%s", client);
	ses->created_ms = now;
	ses->expires_ms = now + s->session_ttl_s * 1000;
	return auth_token_hash(tok, ses->secret_hash, err);
}

/* The principal of an operator row (roles and tenant as stored now). */
static tw_rc sess_principal(struct tw_store *store, const struct store_operator *op,
	const char *client, struct auth_principal *p, struct tw_error *err)
{
	(void)store;
	(void)err;
	memset(p, 0, sizeof(*p));
	p->operator_id = op->id;
	p->tenant_id = op->tenant_id;
	p->roles = op->roles;
	snprintf(p->name, sizeof(p->name), "%s", op->name);
	snprintf(p->tenant, sizeof(p->tenant), "%s", op->tenant);
	snprintf(p->client, sizeof(p->client), "%s", client != NULL ? client : "-");
	return TW_OK;
}

tw_rc auth_login(struct tw_store *store, const struct auth_settings *s,
	const struct auth_login_input *in, struct auth_principal *p,
	char token[AUTH_TOKEN_LEN + 1], int64_t *expires_ms, struct tw_error *err)
{
	struct store_operator op;
	struct store_session ses;
	struct auth_token tok;
	struct tw_error lerr;
	int64_t now = in->now_ms > 0 ? in->now_ms : tw_now_ms(), step = 0;
	const char *client = in->client != NULL && in->client[0] != '\0' ? in->client : "-";
	char roles[256], detail[STORE_TEXT_MAX + 1];
	char resealed[STORE_AUTH_SECRET_MAX + 1] = "";
	bool locked = false, plain_totp = false, enrolled = false;
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	memset(&op, 0, sizeof(op));
	memset(&tok, 0, sizeof(tok));
	token[0] = '\0';
	*expires_ms = 0;
	if (in->cert_fingerprint == NULL || strlen(in->cert_fingerprint) != 64) {
		rc = sess_refuse(store, s, in, NULL, now, "no client certificate", err);
		goto out;
	}
	if ((rc = sess_locked(store, s, "address", client, now, &locked, err)) != TW_OK)
		goto out;
	if (locked) {
		rc = sess_refuse(store, s, in, NULL, now, "too many failed logins from this "
			"address; wait for the failure window to end", err);
		goto out;
	}
	rc = store_operator_get_by_fingerprint(store, in->cert_fingerprint, &op, &lerr);
	if (rc == TW_E_NOT_FOUND) {
		rc = sess_refuse(store, s, in, NULL, now, "the client certificate belongs to no "
			"operator", err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	if ((rc = sess_locked(store, s, "operator", op.name, now, &locked, err)) != TW_OK)
		goto out;
	if (locked) {
		rc = sess_refuse(store, s, in, op.name, now, "too many failed logins for this "
			"operator; wait for the failure window to end", err);
		goto out;
	}
	if (strcmp(op.status, "enabled") != 0) {
		rc = sess_refuse(store, s, in, op.name, now, "the operator is disabled", err);
		goto out;
	}
	if (strcmp(op.cert_status, "valid") != 0) {
		rc = sess_refuse(store, s, in, op.name, now, "the operator certificate is "
			"revoked", err);
		goto out;
	}
	/* TLS verified the validity period already; this holds even if a stale session
	 * resumption carried an old certificate. */
	if (op.cert_not_after * 1000 <= now || (in->cert_not_after > 0 &&
	    in->cert_not_after * 1000 <= now)) {
		rc = sess_refuse(store, s, in, op.name, now, "the operator certificate has "
			"expired", err);
		goto out;
	}
	if (auth_enrol_pending(op.secret) || in->enrol_code != NULL) {
		if (!auth_enrol_pending(op.secret)) {
			rc = sess_refuse(store, s, in, op.name, now, "this operator has enrolled "
				"already (an enrolment code works once)", err);
			goto out;
		}
		if (in->enrol_code == NULL) {
			rc = sess_refuse(store, s, in, op.name, now, "enrolment pending: enrol first "
				"with `torwart operator enrol` and the one-time code", err);
			goto out;
		}
		rc = auth_enrol_code_verify(op.secret, in->enrol_code, now, &lerr);
		if (rc == TW_E_DENIED) {
			rc = sess_refuse(store, s, in, op.name, now, lerr.message, err);
			goto out;
		}
		if (rc != TW_OK) {
			tw_error_set(err, rc, "%s", lerr.message);
			goto out;
		}
		/* The operator's own first secret; the code is consumed by replacing it in the
		 * transaction of the login below. Bad new secrets leave the code usable. */
		if (strcmp(op.factor, "password") == 0) {
			if (in->password == NULL) {
				rc = tw_error_set(err, TW_E_INVALID, "enrolment needs your new password");
				goto out;
			}
			if ((rc = auth_password_hash(in->password, in->password_len, 0, resealed,
			    sizeof(resealed), err)) != TW_OK)
				goto out;
		} else {
			if (in->totp_key_out == NULL || in->box == NULL) {
				rc = tw_error_set(err, TW_E_CONFIG, "TOTP enrolment needs the home's data "
					"key and a place for the new key");
				goto out;
			}
			if ((rc = auth_totp_new_key(in->totp_key_out, err)) != TW_OK ||
			    (rc = auth_totp_seal(in->box, op.name, in->totp_key_out, resealed,
			     sizeof(resealed), err)) != TW_OK) {
				tw_wipe(in->totp_key_out, 33);
				goto out;
			}
		}
		enrolled = true;
	} else if (strcmp(op.factor, "password") == 0) {
		if (in->password == NULL) {
			rc = sess_refuse(store, s, in, op.name, now, "a password is required", err);
			goto out;
		}
		rc = auth_password_verify(in->password, in->password_len, op.secret, &lerr);
	} else {
		if (in->totp == NULL) {
			rc = sess_refuse(store, s, in, op.name, now, "a TOTP code is required", err);
			goto out;
		}
		rc = auth_totp_verify_stored(in->box, op.name, op.secret, in->totp, now / 1000,
			&step, &plain_totp, &lerr);
		/* Migration-free sealing: a plain key that just proved itself is sealed now. */
		if (rc == TW_OK && plain_totp && in->box != NULL &&
		    auth_totp_seal(in->box, op.name, op.secret, resealed, sizeof(resealed), &lerr) !=
		    TW_OK) {
			tw_warn("cannot seal the TOTP key of %s: %s; it stays unsealed", op.name,
				lerr.message);
			resealed[0] = '\0';
		}
	}
	if (rc == TW_E_DENIED || rc == TW_E_INVALID) {
		rc = sess_refuse(store, s, in, op.name, now, "wrong password or code", err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}

	/* Success: session + counters + admin log in one transaction. */
	if ((rc = auth_session_new(s, &op, client, now, &tok, &ses, token, err)) != TW_OK)
		goto out;
	auth_roles_format(op.roles, roles, sizeof(roles));
	snprintf(detail, sizeof(detail), "session %.8s... until %lld, factor %s, tenant %s%s",
		ses.id, (long long)ses.expires_ms, op.factor, op.tenant, enrolled ?
		"; enrolled: first secret set by the operator" : resealed[0] != '\0' ?
		"; TOTP key sealed at rest" : "");
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((step == 0 || (rc = store_operator_use_totp_step(store, op.id, step, &lerr)) ==
	     TW_OK) &&
	    (resealed[0] == '\0' || (rc = store_operator_set_secret(store, op.id, resealed,
	     err)) == TW_OK) &&
	    (rc = store_session_insert(store, &ses, err)) == TW_OK &&
	    (rc = store_auth_failure_clear(store, "operator", op.name, err)) == TW_OK &&
	    (!enrolled || (rc = sess_audit(store, op.name, roles, client, "operator.enrol",
	     op.name, "ok", "one-time enrolment code used; the operator chose its own first "
	     "secret", err)) == TW_OK) &&
	    (rc = sess_audit(store, op.name, roles, client, "auth.login", op.name, "ok", detail,
	     err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	if (rc == TW_E_DENIED) {
		/* A replayed TOTP code: counted and logged like any wrong factor. */
		rc = sess_refuse(store, s, in, op.name, now, "the TOTP code was used already",
			err);
		goto out;
	}
	if (rc != TW_OK)
		goto out;
	*expires_ms = ses.expires_ms;
	rc = sess_principal(store, &op, client, p, err);
	snprintf(p->session_id, sizeof(p->session_id), "%s", ses.id);
out:
	if (rc != TW_OK) {
		tw_wipe(token, AUTH_TOKEN_LEN + 1);
		token[0] = '\0';
		if (in->totp_key_out != NULL)
			tw_wipe(in->totp_key_out, 33);
	}
	tw_wipe(resealed, sizeof(resealed));
	tw_wipe(&tok, sizeof(tok));
	tw_wipe(&op, sizeof(op));
	return rc;
}

/* Log a refused token and return TW_E_DENIED. */
static tw_rc sess_token_refuse(struct tw_store *store, const char *client, const char *who,
	const char *why, struct tw_error *err)
{
	struct tw_error aerr;

	tw_warn("refused a session token from %s: %s", client, why);
	if (sess_audit(store, who, "-", client, "auth.token", who, "refused", why, &aerr) != TW_OK)
		tw_err("cannot write the admin log (auth.token): %s", aerr.message);
	return tw_error_set(err, TW_E_DENIED, "session refused: %s; log in again with "
		"torwart login", why);
}

tw_rc auth_session_check(struct tw_store *store, const char *token, size_t len,
	const char *cert_fingerprint, const char *client, int64_t now_ms,
	struct auth_principal *p, struct tw_error *err)
{
	struct auth_token tok;
	struct store_session ses;
	struct store_operator op;
	struct tw_error lerr;
	unsigned char hash[32];
	const char *cl = client != NULL ? client : "-";
	int64_t now = now_ms > 0 ? now_ms : tw_now_ms();
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	memset(&op, 0, sizeof(op));
	if (auth_token_parse(token, len, &tok, &lerr) != TW_OK) {
		rc = sess_token_refuse(store, cl, "unknown", "malformed token", err);
		goto out;
	}
	rc = store_session_get(store, tok.id, &ses, &lerr);
	if (rc == TW_E_NOT_FOUND) {
		rc = sess_token_refuse(store, cl, "unknown", "unknown session", err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	if ((rc = auth_token_hash(&tok, hash, err)) != TW_OK)
		goto out;
	if (!tw_ct_equal(hash, ses.secret_hash, sizeof(hash))) {
		rc = sess_token_refuse(store, cl, "unknown", "forged token (secret does not match)",
			err);
		goto out;
	}
	if (ses.revoked_ms != 0) {
		rc = sess_token_refuse(store, cl, "unknown", "the session was revoked", err);
		goto out;
	}
	if (ses.expires_ms <= now) {
		rc = sess_token_refuse(store, cl, "unknown", "the session has expired", err);
		goto out;
	}
	if (cert_fingerprint == NULL || strlen(cert_fingerprint) != 64 ||
	    !tw_ct_equal(cert_fingerprint, ses.cert_fingerprint, 64)) {
		rc = sess_token_refuse(store, cl, "unknown", "the token was issued to another "
			"client certificate", err);
		goto out;
	}
	if ((rc = store_operator_get_by_id(store, ses.operator_id, &op, err)) != TW_OK)
		goto out;
	if (strcmp(op.status, "enabled") != 0 || strcmp(op.cert_status, "valid") != 0 ||
	    op.cert_not_after * 1000 <= now) {
		rc = sess_token_refuse(store, cl, op.name, "the operator is disabled or its "
			"certificate is revoked or expired", err);
		goto out;
	}
	rc = sess_principal(store, &op, cl, p, err);
	snprintf(p->session_id, sizeof(p->session_id), "%s", ses.id);
out:
	tw_wipe(&tok, sizeof(tok));
	tw_wipe(&op, sizeof(op));
	return rc;
}

tw_rc auth_session_logout(struct tw_store *store, const struct auth_principal *p,
	struct tw_error *err)
{
	char roles[256];
	tw_rc rc;

	if ((rc = auth_check(store, p, AUTH_OP_SESSION_LOGOUT, 0, "session", err)) != TW_OK)
		return rc;
	if (p->session_id[0] == '\0')
		return tw_error_set(err, TW_E_INVALID, "no session to end");
	auth_principal_role_text(p, roles, sizeof(roles));
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_session_revoke(store, p->session_id, tw_now_ms(), err)) == TW_OK &&
	    (rc = sess_audit(store, p->name, roles, p->client, "auth.logout", p->name, "ok",
	     "session ended by its operator", err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}
