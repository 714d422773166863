/*
 * service.c: the auth module's service-layer operations (see service.h): operators,
 * role-change requests, tenant-scoped gateway reads and the break-glass record.
 */
#include "auth/service.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "auth/cred.h"
#include "auth/opca.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "pki/certstore.h"
#include "store/store_ca.h"

#define SVC_BREAK_GLASS_TENANT "default"

static tw_rc svc_audit(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, const char *result, const char *detail,
	struct tw_error *err)
{
	return auth_audit_as(store, p, action, object, result, detail, err);
}

/* Bad input is refused, logged, and changes nothing. */
static tw_rc svc_bad_input(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, tw_rc code, const char *why,
	struct tw_error *err)
{
	struct tw_error aerr;

	if (svc_audit(store, p, action, object, "refused", why, &aerr) != TW_OK)
		tw_err("cannot write the admin log (%s): %s", action, aerr.message);
	return tw_error_set(err, code, "%s", why);
}

bool auth_operator_name_valid(const char *name)
{
	size_t n = name != NULL ? strnlen(name, STORE_ID_MAX + 1) : 0;

	if (n == 0 || n > STORE_ID_MAX || name[0] == '.' || name[0] == '-')
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
		== n;
}

/* Roles a requester may ask for (M-4.5.4; auth_roles_grantable). */
static uint32_t svc_grantable(const struct auth_principal *p)
{
	return auth_roles_grantable(p);
}

/* The review request of a break-glass use (tenant "default"); inside a transaction. */
static tw_rc svc_break_glass_review(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const char *what, struct tw_error *err)
{
	json_t *params = json_pack("{s:s}", "command", what);
	int64_t tenant = 0, id = 0;
	tw_rc rc;

	if (params == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = store_tenant_ensure(store, SVC_BREAK_GLASS_TENANT, &tenant, err);
	if (rc == TW_OK)
		rc = auth_approval_request(store, s, p, tenant, "break-glass", params,
			"break-glass use must be reviewed and released by an approver", &id, err);
	json_decref(params);
	return rc;
}

void auth_break_glass_record(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const char *command)
{
	struct tw_error err;
	char detail[STORE_TEXT_MAX + 1];

	auth_actions_register_builtin();
	snprintf(detail, sizeof(detail), "direct --home access: %s", command);
	if (store_begin(store, &err) == TW_OK) {
		if (svc_audit(store, p, "auth.break-glass", command, "ok", detail, &err) == TW_OK &&
		    svc_break_glass_review(store, s, p, command, &err) == TW_OK &&
		    store_commit(store, &err) == TW_OK) {
			err.message[0] = '\0';
		} else {
			store_rollback(store);
			tw_err("cannot record the break-glass use: %s", err.message);
		}
	}
	auth_alert(store, "break-glass", "security-officer", p->name, p->client, detail);
}

void auth_break_glass_read_record(struct tw_store *store, const struct auth_principal *p,
	const char *command)
{
	struct tw_error err;
	char detail[STORE_TEXT_MAX + 1];

	snprintf(detail, sizeof(detail), "direct --home read: %s", command);
	if (svc_audit(store, p, "auth.break-glass-read", command, "ok", detail, &err) != TW_OK)
		tw_err("cannot record the break-glass read: %s", err.message);
}

tw_rc auth_svc_operator_add(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const struct auth_operator_new *in,
	struct auth_operator_added *out, struct tw_error *err)
{
	struct store_operator op;
	struct tw_error xerr;
	char object[STORE_NAME_MAX + 1], detail[STORE_TEXT_MAX + 1], roles[256];
	const char *tenant;
	int64_t tenant_id = 0, id = 0;
	json_t *params = NULL;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&op, 0, sizeof(op));
	snprintf(object, sizeof(object), "operator:%.64s", in->name != NULL ? in->name : "");
	if ((rc = auth_check(store, p, AUTH_OP_OPERATOR_ADD, 0, object, err)) != TW_OK)
		goto out;
	if (!auth_operator_name_valid(in->name)) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_INVALID, "operator names "
			"are 1-64 characters of A-Z a-z 0-9 . _ - (not starting with . or -)", err);
		goto out;
	}
	if (in->factor == NULL || (strcmp(in->factor, "password") != 0 &&
	    strcmp(in->factor, "totp") != 0)) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_INVALID, "the second "
			"factor must be \"password\" or \"totp\"", err);
		goto out;
	}
	/* Only break-glass (the bootstrap on the machine) may set a new account's secret;
	 * everyone else's operators enrol themselves, so the creator never holds them. */
	if (!p->break_glass && (!in->enrol || in->password != NULL)) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_DENIED, "operators added "
			"through the api enrol themselves: give the new operator's public key; its "
			"password or TOTP key is set by the operator at enrolment (torwart operator "
			"enrol), never by its creator", err);
		goto out;
	}
	if (in->public_key == NULL || (in->roles & ~AUTH_ROLES_ALL) != 0 ||
	    (in->roles != 0 && (in->reason == NULL || in->reason[0] == '\0'))) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_INVALID, "an operator "
			"needs a public key; requested roles need a reason", err);
		goto out;
	}
	if ((in->roles & ~svc_grantable(p)) != 0) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_DENIED, "you may not "
			"grant some of the requested roles (role escalation)", err);
		goto out;
	}
	if (auth_exclusions_check(&s->exclusions, in->roles, &xerr) != TW_OK) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_DENIED, xerr.message,
			err);
		goto out;
	}
	tenant = p->break_glass ? (in->tenant != NULL ? in->tenant : SVC_BREAK_GLASS_TENANT) :
		p->tenant;
	if (!p->break_glass && in->tenant != NULL && strcmp(in->tenant, p->tenant) != 0) {
		rc = svc_bad_input(store, p, "operator.add", object, TW_E_DENIED, "operators can "
			"only be added to your own tenant", err);
		goto out;
	}
	if (in->enrol) {
		/* No secret yet: the one-time code stands in for it until the operator enrols. */
		out->enrol_expires_ms = tw_now_ms() + AUTH_ENROL_TTL_MS;
		if ((rc = auth_enrol_code_new(out->enrol_expires_ms, out->enrol_code, op.secret,
		    sizeof(op.secret), err)) != TW_OK)
			goto out;
	} else if (strcmp(in->factor, "password") == 0) {
		rc = auth_password_hash(in->password, in->password_len, 0, op.secret,
			sizeof(op.secret), &xerr);
		if (rc == TW_E_INVALID || rc == TW_E_TOO_LARGE) {
			rc = svc_bad_input(store, p, "operator.add", object, rc, xerr.message, err);
			goto out;
		}
		if (rc != TW_OK) {
			tw_error_set(err, rc, "%s", xerr.message);
			goto out;
		}
	} else {
		/* The plain key goes to the operator once (out->totp_key); the store keeps it
		 * sealed, so a copy of the database alone yields no second factor. */
		if ((rc = auth_totp_new_key(out->totp_key, err)) != TW_OK ||
		    (rc = auth_totp_seal(in->box, in->name, out->totp_key, op.secret,
		     sizeof(op.secret), err)) != TW_OK)
			goto out;
	}
	/* The certificate is signed before the transaction (the signer is another process);
	 * should the insert fail, the unused certificate stays in the signer's log only. */
	{
		struct store_operator existing;

		if (store_operator_get_by_name(store, in->name, &existing, &xerr) == TW_OK) {
			tw_wipe(&existing, sizeof(existing));
			rc = svc_bad_input(store, p, "operator.add", object, TW_E_EXISTS, "an operator "
				"of that name exists already", err);
			goto out;
		}
	}
	if ((rc = in->issue(in->issue_arg, in->name, tenant, in->public_key, &out->cert, err)) !=
	    TW_OK)
		goto out;
	if ((rc = keys_cert_fingerprint(out->cert, out->fingerprint, err)) != TW_OK)
		goto out;
	{
		const ASN1_INTEGER *serial = X509_get0_serialNumber(out->cert);
		BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
		char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
		ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
		int days = 0, secs = 0;

		snprintf(op.cert_serial, sizeof(op.cert_serial), "%s", hex != NULL ? hex : "?");
		if (epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch,
		    X509_get0_notAfter(out->cert)) == 1)
			op.cert_not_after = (int64_t)days * 86400 + secs;
		ASN1_TIME_free(epoch);
		OPENSSL_free(hex);
		BN_free(bn);
	}
	snprintf(op.name, sizeof(op.name), "%s", in->name);
	snprintf(op.status, sizeof(op.status), "enabled");
	snprintf(op.factor, sizeof(op.factor), "%s", in->factor);
	snprintf(op.cert_fingerprint, sizeof(op.cert_fingerprint), "%s", out->fingerprint);
	snprintf(op.cert_status, sizeof(op.cert_status), "valid");
	snprintf(op.created_by, sizeof(op.created_by), "%s", p->name);
	op.created_ms = tw_now_ms();
	op.roles = p->break_glass ? in->roles : 0;
	auth_roles_format(in->roles, roles, sizeof(roles));
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_tenant_ensure(store, tenant, &tenant_id, err)) != TW_OK)
		goto rollback;
	op.tenant_id = tenant_id;
	if ((rc = store_operator_insert(store, &op, &id, err)) != TW_OK ||
	    (rc = pki_certificate_record(store, tenant_id, out->cert, AUTH_OPCA_OWNER_KIND,
	     in->name, "TLS", err)) != TW_OK)
		goto rollback;
	snprintf(detail, sizeof(detail), "tenant %s, factor %s, certificate %.16s..., serial "
		"%s; roles %s %s%s", tenant, op.factor, op.cert_fingerprint, op.cert_serial, roles,
		p->break_glass ? "granted (break-glass)" : "requested",
		in->enrol ? "; enrolment pending (one-time code delivered out of band)" : "");
	if ((rc = svc_audit(store, p, "operator.add", object, "ok", detail, err)) != TW_OK)
		goto rollback;
	if (in->roles != 0) {
		if (p->break_glass) {
			rc = svc_break_glass_review(store, s, p, "operator add with roles", err);
		} else if (auth_four_eyes_required(s, "operator.role", 0)) {
			params = json_pack("{s:s,s:s}", "operator", in->name, "roles", roles);
			rc = params == NULL ? tw_error_set(err, TW_E_NOMEM, "out of memory") :
				auth_approval_request(store, s, p, tenant_id, "operator.role", params,
				in->reason, &out->approval_id, err);
		}
		if (rc != TW_OK)
			goto rollback;
	}
	rc = store_commit(store, err);
	goto out;
rollback:
	store_rollback(store);
out:
	if (rc != TW_OK) {
		X509_free(out->cert);
		out->cert = NULL;
		tw_wipe(out->totp_key, sizeof(out->totp_key));
		tw_wipe(out->enrol_code, sizeof(out->enrol_code));
	}
	json_decref(params);
	tw_wipe(&op, sizeof(op));
	return rc;
}

tw_rc auth_enrol_code_deliver(const char *dir, const char *name, const char *code,
	int64_t expires_ms, struct tw_error *err)
{
	char *path = NULL, text[256], when[40];
	int n;
	tw_rc rc;

	if (!auth_operator_name_valid(name))
		return tw_error_set(err, TW_E_INVALID, "not a valid operator name");
	if ((rc = tw_mkdir_p(dir, 0700, err)) != TW_OK)
		return rc;
	if ((path = tw_asprintf("%s/%s.code", dir, name)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	tw_time_format_utc(expires_ms, when, sizeof(when));
	n = snprintf(text, sizeof(text), "%s\n# one-time enrolment code of operator %s, valid "
		"until %s; hand it to that person only (not to the account's creator)\n", code,
		name, when);
	rc = n < 0 || (size_t)n >= sizeof(text) ?
		tw_error_set(err, TW_E_INTERNAL, "enrolment text does not fit") :
		tw_write_file(path, text, (size_t)n, 0600, false, err);
	tw_wipe(text, sizeof(text));
	free(path);
	return rc;
}

struct svc_list {
	store_operator_cb cb;
	void *arg;
};

static int svc_list_one(const struct store_operator *op, void *arg)
{
	struct svc_list *l = arg;
	struct store_operator copy = *op;
	int stop;

	/* Nobody outside this module sees a second-factor secret. */
	memset(copy.secret, 0, sizeof(copy.secret));
	stop = l->cb(&copy, l->arg);
	tw_wipe(&copy, sizeof(copy));
	return stop;
}

tw_rc auth_svc_operator_list(struct tw_store *store, const struct auth_principal *p,
	store_operator_cb cb, void *arg, struct tw_error *err)
{
	struct svc_list l = { cb, arg };
	tw_rc rc;

	if ((rc = auth_check(store, p, AUTH_OP_OPERATOR_LIST, 0, "operators", err)) != TW_OK)
		return rc;
	return store_operator_foreach(store, p->break_glass ? 0 : p->tenant_id, svc_list_one,
		&l, err);
}

/* Load the target operator and check the tenant; foreign tenants are denied. */
static tw_rc svc_target(struct tw_store *store, const struct auth_principal *p,
	enum auth_op op, const char *name, struct store_operator *out, const char *object,
	struct tw_error *err)
{
	tw_rc rc;

	if (!auth_operator_name_valid(name))
		return svc_bad_input(store, p, auth_op_name(op), object, TW_E_INVALID,
			"not a valid operator name", err);
	if ((rc = auth_check(store, p, op, 0, object, err)) != TW_OK)
		return rc;
	rc = store_operator_get_by_name(store, name, out, err);
	if (rc == TW_E_NOT_FOUND)
		return svc_bad_input(store, p, auth_op_name(op), object, TW_E_NOT_FOUND,
			"no such operator", err);
	if (rc != TW_OK)
		return rc;
	rc = auth_check(store, p, op, out->tenant_id, object, err);
	if (rc != TW_OK && !p->break_glass && out->tenant_id != p->tenant_id)
		/* Another tenant's operator is a missing one (issue 9); auth_check logged it. */
		rc = svc_bad_input(store, p, auth_op_name(op), object, TW_E_NOT_FOUND,
			"no such operator", err);
	return rc;
}

/*
 * Revoke op's certificate in the certificates table (the CRL's source) and flag the
 * operator CA's CRL; inside the caller's transaction. Operators added before their
 * certificates were recorded have no row: they are refused by the store check at login
 * and on every request all the same, only the CRL cannot list them (note says so).
 */
static tw_rc svc_revoke_cert(struct tw_store *store, const struct store_operator *op,
	int64_t now, char *note, size_t size, struct tw_error *err)
{
	struct store_certificate cert;
	struct tw_error lerr;
	bool changed = false;
	tw_rc rc;

	memset(&cert, 0, sizeof(cert));
	rc = store_certificate_get_by_fingerprint(store, op->cert_fingerprint, &cert, &lerr);
	if (rc == TW_E_NOT_FOUND) {
		snprintf(note, size, " (not on the CRL: certificate issued before it was recorded)");
		rc = TW_OK;
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	if ((rc = store_ca_cert_revoke(store, cert.issuer, cert.serial_hex,
	     AUTH_OPCA_REVOKE_REASON, now, &changed, err)) != TW_OK ||
	    (rc = store_ca_crl_mark_dirty(store, AUTH_OPCA_CRL_CA, err)) != TW_OK)
		goto out;
	snprintf(note, size, " (serial %.40s, on the %s CRL)", cert.serial_hex,
		AUTH_OPCA_CRL_CA);
out:
	store_certificate_clear(&cert);
	return rc;
}

tw_rc auth_svc_operator_disable(struct tw_store *store, const struct auth_principal *p,
	const char *name, const char *reason, struct tw_error *err)
{
	struct store_operator op;
	char object[STORE_NAME_MAX + 1], detail[STORE_TEXT_MAX + 1], crl[96] = "";
	int64_t now = tw_now_ms();
	int revoked = 0;
	tw_rc rc;

	memset(&op, 0, sizeof(op));
	snprintf(object, sizeof(object), "operator:%.64s", name != NULL ? name : "");
	if ((rc = svc_target(store, p, AUTH_OP_OPERATOR_DISABLE, name, &op, object, err)) !=
	    TW_OK)
		goto out;
	if (op.id == p->operator_id) {
		rc = svc_bad_input(store, p, "operator.disable", object, TW_E_DENIED, "you cannot "
			"disable yourself; ask another administrator", err);
		goto out;
	}
	if (reason != NULL && strlen(reason) > 512) {
		rc = svc_bad_input(store, p, "operator.disable", object, TW_E_TOO_LARGE,
			"the reason is longer than 512 bytes", err);
		goto out;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_operator_set_status(store, op.id, "disabled", "revoked", err)) == TW_OK &&
	    (rc = store_session_revoke_operator(store, op.id, now, &revoked, err)) == TW_OK &&
	    (rc = svc_revoke_cert(store, &op, now, crl, sizeof(crl), err)) == TW_OK) {
		snprintf(detail, sizeof(detail), "disabled, certificate %.16s... revoked%s, %d "
			"session(s) ended; why: %s", op.cert_fingerprint, crl, revoked,
			reason != NULL && reason[0] != '\0' ? reason : "-");
		if ((rc = svc_audit(store, p, "operator.disable", object, "ok", detail, err)) ==
		    TW_OK)
			rc = store_commit(store, err);
	}
	if (rc != TW_OK)
		store_rollback(store);
out:
	tw_wipe(&op, sizeof(op));
	return rc;
}

tw_rc auth_svc_operator_role(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const char *name, uint32_t roles, const char *reason,
	int64_t *approval_id, struct tw_error *err)
{
	struct store_operator op;
	struct tw_error xerr;
	char object[STORE_NAME_MAX + 1], text[256];
	json_t *params = NULL;
	tw_rc rc;

	*approval_id = 0;
	memset(&op, 0, sizeof(op));
	snprintf(object, sizeof(object), "operator:%.64s", name != NULL ? name : "");
	if ((rc = svc_target(store, p, AUTH_OP_OPERATOR_ROLE_REQUEST, name, &op, object, err)) !=
	    TW_OK)
		goto out;
	if (op.id == p->operator_id) {
		rc = svc_bad_input(store, p, "operator.role", object, TW_E_DENIED, "nobody may "
			"change their own roles (role escalation)", err);
		goto out;
	}
	if ((roles & ~AUTH_ROLES_ALL) != 0 || reason == NULL || reason[0] == '\0') {
		rc = svc_bad_input(store, p, "operator.role", object, TW_E_INVALID, "a role change "
			"needs known roles and a reason", err);
		goto out;
	}
	if (((roles & ~op.roles) & ~svc_grantable(p)) != 0) {
		rc = svc_bad_input(store, p, "operator.role", object, TW_E_DENIED, "you may not "
			"grant some of the requested roles (role escalation)", err);
		goto out;
	}
	if (auth_exclusions_check(&s->exclusions, roles, &xerr) != TW_OK) {
		rc = svc_bad_input(store, p, "operator.role", object, TW_E_DENIED, xerr.message,
			err);
		goto out;
	}
	auth_roles_format(roles, text, sizeof(text));
	params = json_pack("{s:s,s:s}", "operator", name, "roles", roles != 0 ? text : "");
	if (params == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if (p->break_glass) {
		/* Executed at once, and released afterwards by an approver. */
		char detail[STORE_TEXT_MAX + 1];

		snprintf(detail, sizeof(detail), "roles set to %s (break-glass); why: %s", text,
			reason);
		if ((rc = auth_exclusions_check(&s->exclusions, roles, err)) == TW_OK &&
		    (rc = store_operator_set_roles(store, op.id, roles, err)) == TW_OK &&
		    (rc = svc_audit(store, p, "operator.role", object, "ok", detail, err)) == TW_OK)
			rc = svc_break_glass_review(store, s, p, "operator role", err);
	} else {
		rc = auth_approval_request(store, s, p, op.tenant_id, "operator.role", params,
			reason, approval_id, err);
	}
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
out:
	json_decref(params);
	tw_wipe(&op, sizeof(op));
	return rc;
}

struct svc_gw {
	const struct auth_principal *p;
	store_gateway_cb cb;
	void *arg;
	long count;
};

static int svc_gw_one(const struct store_gateway *gw, void *arg)
{
	struct svc_gw *g = arg;

	if (!g->p->break_glass && gw->tenant_id != g->p->tenant_id)
		return 0;
	g->count++;
	return g->cb(gw, g->arg);
}

tw_rc auth_svc_gateway_list(struct tw_store *store, const struct auth_principal *p,
	store_gateway_cb cb, void *arg, struct tw_error *err)
{
	struct svc_gw g = { p, cb, arg, 0 };
	char detail[128];
	tw_rc rc;

	if ((rc = auth_check(store, p, AUTH_OP_GATEWAY_LIST, 0, "gateways", err)) != TW_OK)
		return rc;
	if ((rc = store_gateway_foreach(store, svc_gw_one, &g, err)) != TW_OK)
		return rc;
	/* M-4.5.6.7: reads of operating data are logged too. */
	snprintf(detail, sizeof(detail), "%ld gateway(s) of tenant %s listed", g.count,
		p->tenant);
	return svc_audit(store, p, "gateway.list", "gateways", "ok", detail, err);
}
