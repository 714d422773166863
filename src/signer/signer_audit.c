/*
 * signer_audit.c: the admin-log side of signer operations. Every signature, key
 * generation, share entry and refusal is an entry before a result is handed out; a
 * refused key use or a refused caller also raises a key-access alert.
 */
#include "signer/signer_internal.h"

#include <stdio.h>
#include <string.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "store/store.h"

tw_rc signer_audit(struct signer_srv *srv, const struct conn *c, const char *action,
	const char *label, const char *result, const char *detail, struct tw_error *err)
{
	struct audit_entry e = {
		.actor = c->actor != NULL ? c->actor : "unknown",
		.role = c->role != NULL ? c->role : "unknown",
		.client = c->peer,
		.action = action,
		.object = label,
		.result = result,
		.detail = detail,
	};
	struct tw_error aerr;
	tw_rc rc;

	/* No store (a failed setup): nothing can be logged, so nothing is handed out. */
	if (srv->store == NULL)
		return tw_error_set(err, TW_E_STORE, "the signer has no store, so it cannot write "
			"the admin log: %s", srv->setup_err.message);
	if ((rc = audit_append(srv->store, &e, &aerr)) != TW_OK) {
		tw_err("cannot write the admin log (%s %s): %s", action, label, aerr.message);
		return tw_error_set(err, rc, "the signer cannot write the admin log, so it hands "
			"out nothing: %s", aerr.message);
	}
	return TW_OK;
}

/* Refuse with TW_E_DENIED and an audit entry naming key and purpose. */
tw_rc signer_refuse(struct signer_srv *srv, const struct conn *c, const char *label,
	const char *purpose, const char *why, struct tw_error *err)
{
	char detail[STORE_TEXT_MAX + 1];
	struct tw_error aerr;

	snprintf(detail, sizeof(detail), "purpose=%s: %s", purpose, why);
	tw_warn("refused %s: key '%s', purpose %s: %s", c->peer, label, purpose, why);
	if (signer_audit(srv, c, "signer.refuse", label, "refused", detail, &aerr) != TW_OK)
		tw_err("refusal not audited: %s", aerr.message);
	/* A use of a key outside its policy is an attempt on the key: the security officers
	 * hear of it (issue 5 alerts), not only the log. */
	{
		char msg[STORE_TEXT_MAX + 1];

		snprintf(msg, sizeof(msg), "refused use of key '%s' by %s: %s", label, c->peer,
			detail);
		if (alert_raise(srv->store, ALERT_KEY_ACCESS, NULL, label, msg, &aerr) != TW_OK)
			tw_err("key-access alert not raised: %s", aerr.message);
	}
	return tw_error_set(err, TW_E_DENIED, "signer refused: key '%s' may not sign for "
		"purpose '%s' (%s)", label, purpose, why);
}

tw_rc signer_refuse_peer(struct signer_srv *srv, const struct conn *c, uint8_t op,
	const char *what, const char *why, struct tw_error *err)
{
	char detail[STORE_TEXT_MAX + 1], msg[STORE_TEXT_MAX + 1];
	struct tw_error aerr;

	snprintf(detail, sizeof(detail), "op=%s%s%s service=%s: %s", signer_op_name(op),
		what != NULL ? " " : "", what != NULL ? what : "", signer_peer_name(c->kind), why);
	tw_warn("refused %s: %s", c->peer, detail);
	if (signer_audit(srv, c, "signer.refuse", signer_op_name(op), "refused", detail,
	    &aerr) != TW_OK)
		tw_err("refusal not audited: %s", aerr.message);
	/* A service asking for what it never needs is a compromised or misused service. */
	snprintf(msg, sizeof(msg), "refused signer request by %s: %s", c->peer, detail);
	if (srv->store != NULL &&
	    alert_raise(srv->store, ALERT_KEY_ACCESS, NULL, signer_op_name(op), msg, &aerr) !=
	    TW_OK)
		tw_err("key-access alert not raised: %s", aerr.message);
	return tw_error_set(err, TW_E_DENIED, "signer refused %s for the %s service (%s): %s",
		signer_op_name(op), signer_peer_name(c->kind), c->peer, why);
}
