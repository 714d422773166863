/*
 * saml_login.c: SAML login and the context's identity provider (saml_login.h).
 *
 * Why the checks come in this order: the assertion is verified completely (signature
 * first, auth/saml.c) before anything in it is believed; the replay cache entry is
 * written in the same transaction as the session, so two concurrent presentations of one
 * assertion cannot both open a session (the second insert fails on the primary key).
 */
#include "auth/saml_login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "auth/session.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "store/store_auth.h"
#include "store/store_gwa_context.h"
#include "store/store_saml.h"

static void sl_actor(char *dst, size_t size, const char *issuer, const char *name_id)
{
	snprintf(dst, size, "saml:%.120s:%.120s", issuer != NULL && issuer[0] != '\0' ? issuer :
		"-", name_id != NULL && name_id[0] != '\0' ? name_id : "-");
}

/* Log a refusal (its own transaction) and return TW_E_DENIED with the typed reason. */
static tw_rc sl_refuse(struct tw_store *store, const struct auth_saml_input *in,
	const char *actor, enum saml_refusal r, const char *why_text, enum saml_refusal *why,
	struct tw_error *err)
{
	char detail[STORE_TEXT_MAX + 1];
	struct audit_entry e;
	struct tw_error aerr;

	*why = r;
	/* The typed code leads the detail (saml_verify's texts carry it already). */
	snprintf(detail, sizeof(detail), "saml login refused: %s%s%s (context %.64s, "
		"certificate %.16s..., client %.64s)", strncmp(why_text, "saml_", 5) == 0 ? "" :
		saml_refusal_code(r), strncmp(why_text, "saml_", 5) == 0 ? "" : ": ", why_text,
		in->tenant != NULL ? in->tenant : "-",
		in->cert_fingerprint != NULL ? in->cert_fingerprint : "-",
		in->client != NULL ? in->client : "-");
	tw_warn("%s", detail);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.role = "-";
	e.client = in->client != NULL ? in->client : "-";
	e.action = "auth.login";
	e.object = actor;
	e.result = "refused";
	e.detail = detail;
	if (audit_append(store, &e, &aerr) != TW_OK)
		tw_err("cannot record a refused SAML login: %s", aerr.message);
	/* why_text starts with the code already when it comes from saml_verify. */
	if (strncmp(why_text, "saml_", 5) == 0)
		return tw_error_set(err, TW_E_DENIED, "login refused: %s", why_text);
	return tw_error_set(err, TW_E_DENIED, "login refused: %s: %s", saml_refusal_code(r),
		why_text);
}

tw_rc auth_saml_login(struct tw_store *store, const struct auth_settings *s,
	const struct auth_saml_input *in, struct auth_principal *p,
	char token[AUTH_TOKEN_LEN + 1], int64_t *expires_ms, enum saml_refusal *why,
	struct tw_error *err)
{
	struct store_saml_idp idp;
	struct store_operator op;
	struct store_session ses;
	struct saml_assertion a;
	struct saml_expect x;
	struct auth_token tok;
	struct audit_entry e;
	struct tw_error lerr;
	int64_t now = in->now_ms > 0 ? in->now_ms : tw_now_ms(), tenant_id = 0;
	long skew = in->skew_s >= 0 ? in->skew_s : SAML_SKEW_DEFAULT_S;
	const char *client = in->client != NULL && in->client[0] != '\0' ? in->client : "-";
	char actor[STORE_NAME_MAX + 1], roles[256], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	memset(&idp, 0, sizeof(idp));
	memset(&op, 0, sizeof(op));
	memset(&tok, 0, sizeof(tok));
	token[0] = '\0';
	*expires_ms = 0;
	*why = SAML_OK;
	sl_actor(actor, sizeof(actor), NULL, NULL);
	if (in->audience == NULL || in->audience[0] == '\0') {
		rc = tw_error_set(err, TW_E_CONFIG, "SAML login is not configured: set [saml] "
			"entity_id (this GWA's entity id, the assertions' Audience) in torwart.conf");
		goto out;
	}
	if (in->cert_fingerprint == NULL || strlen(in->cert_fingerprint) != 64) {
		rc = sl_refuse(store, in, actor, SAML_CERTIFICATE, "no client certificate", why,
			err);
		goto out;
	}
	if (in->tenant == NULL ||
	    (rc = store_ctx_tenant_id(store, in->tenant, &tenant_id, &lerr)) == TW_E_NOT_FOUND ||
	    (rc == TW_OK && (rc = store_saml_idp_get(store, tenant_id, &idp, &lerr)) ==
	    TW_E_NOT_FOUND)) {
		rc = sl_refuse(store, in, actor, SAML_IDP, "the context has no identity provider",
			why, err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	sl_actor(actor, sizeof(actor), idp.entity_id, NULL);
	memset(&x, 0, sizeof(x));
	x.idp_cert_pem = idp.cert_pem;
	x.idp_cert_len = strlen(idp.cert_pem);
	x.issuer = idp.entity_id;
	x.audience = in->audience;
	x.now_ms = now;
	x.skew_s = skew;
	x.recipient = in->recipient;
	rc = saml_verify(in->xml, in->len, &x, &a, why, &lerr);
	if (rc == TW_E_DENIED || (rc == TW_E_TOO_LARGE && *why != SAML_OK)) {
		rc = sl_refuse(store, in, actor, *why, lerr.message, why, err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	/* From here on the NameID is the identity provider's word. */
	sl_actor(actor, sizeof(actor), idp.entity_id, a.name_id);
	rc = store_operator_get_by_name(store, a.name_id, &op, &lerr);
	if (rc == TW_E_NOT_FOUND || (rc == TW_OK && op.tenant_id != tenant_id)) {
		rc = sl_refuse(store, in, actor, SAML_OPERATOR, "the NameID names no operator of "
			"the context", why, err);
		goto out;
	}
	if (rc != TW_OK) {
		tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	if (strcmp(op.status, "enabled") != 0 || strcmp(op.cert_status, "valid") != 0 ||
	    op.cert_not_after * 1000 <= now) {
		rc = sl_refuse(store, in, actor, SAML_OPERATOR, "the operator is disabled or its "
			"certificate is revoked or expired", why, err);
		goto out;
	}
	if (!tw_ct_equal(in->cert_fingerprint, op.cert_fingerprint, 64) ||
	    (in->cert_not_after > 0 && in->cert_not_after * 1000 <= now)) {
		rc = sl_refuse(store, in, actor, SAML_CERTIFICATE, "the TLS client certificate is "
			"not the operator's", why, err);
		goto out;
	}

	/*
	 * InResponseTo: without a caller's check only unsolicited assertions, since this
	 * door sends no AuthnRequest and an answer to one belongs to a login someone else
	 * started, possibly at another service provider (docs/security.md). The console
	 * accepts the answer to its own pending request (started by this certificate).
	 */
	if ((in->in_response_to_ok == NULL && a.in_response_to[0] != '\0') ||
	    (in->in_response_to_ok != NULL &&
	     !in->in_response_to_ok(in->in_response_to_arg, a.in_response_to))) {
		rc = sl_refuse(store, in, actor, SAML_IN_RESPONSE_TO, a.in_response_to[0] != '\0' ?
			"the assertion answers an AuthnRequest (InResponseTo) that was not sent "
			"here for this certificate and context, was answered already or expired" :
			"unsolicited assertions are not accepted here ([console] saml_unsolicited)",
			why, err);
		goto out;
	}

	/* Success: replay cache entry + session + admin log in one transaction. */
	if ((rc = auth_session_new(s, &op, client, now, &tok, &ses, token, err)) != TW_OK)
		goto out;
	auth_roles_format(op.roles, roles, sizeof(roles));
	snprintf(detail, sizeof(detail), "saml login: session %.8s... until %lld, operator %s, "
		"tenant %s, assertion %.64s", ses.id, (long long)ses.expires_ms, op.name, op.tenant,
		a.id);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.role = roles;
	e.client = client;
	e.action = "auth.login";
	e.object = op.name;
	e.result = "ok";
	e.detail = detail;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	rc = store_saml_replay_use(store, idp.entity_id, a.id, a.expires_ms + skew * 1000, now,
		&lerr);
	if (rc == TW_OK && (rc = store_session_insert(store, &ses, err)) == TW_OK &&
	    (rc = audit_append_in_tx(store, &e, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	if (rc == TW_E_EXISTS) {
		rc = sl_refuse(store, in, actor, SAML_REPLAYED, "the assertion was used already "
			"(one-time use)", why, err);
		goto out;
	}
	if (rc != TW_OK) {
		if (err->code == TW_OK || err->message[0] == '\0')
			tw_error_set(err, rc, "%s", lerr.message);
		goto out;
	}
	*expires_ms = ses.expires_ms;
	p->operator_id = op.id;
	p->tenant_id = op.tenant_id;
	p->roles = op.roles;
	snprintf(p->name, sizeof(p->name), "%s", op.name);
	snprintf(p->tenant, sizeof(p->tenant), "%s", op.tenant);
	snprintf(p->client, sizeof(p->client), "%s", client);
	snprintf(p->session_id, sizeof(p->session_id), "%s", ses.id);
out:
	if (rc != TW_OK) {
		tw_wipe(token, AUTH_TOKEN_LEN + 1);
		token[0] = '\0';
	}
	store_saml_idp_clear(&idp);
	tw_wipe(&tok, sizeof(tok));
	tw_wipe(&op, sizeof(op));
	return rc;
}

static tw_rc sl_audit_tx(struct tw_store *store, const char *tenant, const char *action,
	const char *detail, const char *actor, const char *role, const char *client,
	struct tw_error *err)
{
	char object[STORE_NAME_MAX + 1];
	struct audit_entry e;

	snprintf(object, sizeof(object), "context:%s", tenant);
	memset(&e, 0, sizeof(e));
	e.actor = actor != NULL ? actor : "-";
	e.role = role != NULL ? role : "-";
	e.client = client != NULL ? client : "-";
	e.action = action;
	e.object = object;
	e.result = "ok";
	e.detail = detail;
	return audit_append_in_tx(store, &e, err);
}

tw_rc auth_saml_idp_set(struct tw_store *store, const char *tenant, const char *entity_id,
	const unsigned char *pem, size_t len, const char *actor, const char *role,
	const char *client, struct tw_error *err)
{
	struct store_saml_idp idp;
	char detail[STORE_TEXT_MAX + 1], *pem_text = NULL;
	BIO *bio = NULL;
	X509 *cert = NULL, *extra = NULL;
	ASN1_TIME *epoch = NULL;
	int days = 0, secs = 0;
	tw_rc rc;

	memset(&idp, 0, sizeof(idp));
	if (entity_id == NULL || entity_id[0] == '\0' || strlen(entity_id) > STORE_SAML_TEXT_MAX)
		return tw_error_set(err, TW_E_INVALID, "an entity id of 1..%d characters is needed",
			STORE_SAML_TEXT_MAX);
	if (pem == NULL || len == 0 || len > STORE_SAML_PEM_MAX)
		return tw_error_set(err, TW_E_INVALID, "the identity provider certificate must be "
			"1..%d bytes of PEM", STORE_SAML_PEM_MAX);
	if ((rc = store_ctx_tenant_id(store, tenant, &idp.tenant_id, err)) != TW_OK)
		return rc;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the identity provider certificate is not one "
			"PEM certificate");
		goto out;
	}
	if ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "give exactly one certificate (the identity "
			"provider's signing certificate)");
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the identity provider certificate is not "
			"valid now");
		goto out;
	}
	if ((epoch = ASN1_TIME_set(NULL, 0)) == NULL ||
	    !ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notAfter(cert))) {
		rc = tw_error_set(err, TW_E_INVALID, "cannot read the certificate's validity");
		goto out;
	}
	if ((rc = keys_cert_fingerprint(cert, idp.fingerprint, err)) != TW_OK)
		goto out;
	if ((pem_text = malloc(len + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(pem_text, pem, len);
	pem_text[len] = '\0';
	idp.cert_pem = pem_text;
	idp.not_after = (int64_t)days * 86400 + secs;
	idp.updated_ms = tw_now_ms();
	snprintf(idp.entity_id, sizeof(idp.entity_id), "%s", entity_id);
	snprintf(detail, sizeof(detail), "identity provider %.256s, certificate %.16s...",
		entity_id, idp.fingerprint);
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_saml_idp_put(store, &idp, err)) == TW_OK &&
	    (rc = sl_audit_tx(store, tenant, "context.idp-set", detail, actor, role, client,
	     err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
out:
	free(pem_text);
	ASN1_TIME_free(epoch);
	X509_free(extra);
	X509_free(cert);
	BIO_free(bio);
	return rc;
}

tw_rc auth_saml_idp_remove(struct tw_store *store, const char *tenant, const char *actor,
	const char *role, const char *client, struct tw_error *err)
{
	int64_t tenant_id = 0;
	tw_rc rc;

	if ((rc = store_ctx_tenant_id(store, tenant, &tenant_id, err)) != TW_OK)
		return rc;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_saml_idp_delete(store, tenant_id, err)) == TW_OK &&
	    (rc = sl_audit_tx(store, tenant, "context.idp-remove", "identity provider removed",
	     actor, role, client, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}
