/*
 * ca_state.c: activation state of the CA keys (ca_state.h). The one check every signing
 * entry point of the CA engine calls, and the activate/deactivate transitions.
 */
#include "pki/ca_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/config.h"
#include "base/util.h"
#include "pki/crl.h"
#include "pki/profile.h"

tw_rc ca_state_get(struct tw_store *store, const char *ca, bool *active,
	struct store_ca_key_state *row, bool *found, struct tw_error *err)
{
	struct store_ca_key_state tmp, *r = row != NULL ? row : &tmp;
	tw_rc rc;

	*active = false;
	*found = false;
	rc = store_ca_key_state_get(store, ca, r, found, err);
	if (rc == TW_OK && *found)
		*active = strcmp(r->state, "active") == 0;
	return rc;
}

tw_rc ca_state_require_active(struct tw_store *store, const char *ca, const char *use,
	struct tw_error *err)
{
	struct store_ca_key_state row;
	bool active = false, found = false;
	tw_rc rc;

	if ((rc = ca_state_get(store, ca, &active, &row, &found, err)) != TW_OK)
		return rc;
	if (active)
		return TW_OK;
	if (!found)
		return tw_error_set(err, TW_E_DENIED, "%s refused: the key of CA '%s' has never "
			"been activated; run `torwart ca activate --home DIR --ca %s` (four-eyes "
			"release)", use, ca, ca);
	return tw_error_set(err, TW_E_DENIED, "%s refused: the key of CA '%s' is inactive "
		"(deactivated by %.100s: %.200s); run `torwart ca activate --home DIR --ca %s` "
		"(four-eyes release)", use, ca, row.changed_by, row.reason[0] ? row.reason :
		"no reason given", ca);
}

static tw_rc ca_state_audit(struct tw_store *store, const struct ca_actor *who,
	const char *ca, bool active, const char *result, const char *detail, bool in_tx,
	struct tw_error *err)
{
	char object[STORE_ID_MAX + 8];
	struct audit_entry e = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = active ? "ca.key.activate" : "ca.key.deactivate", .object = object,
		.result = result, .detail = detail };

	snprintf(object, sizeof(object), "ca:%s", ca);
	return in_tx ? audit_append_in_tx(store, &e, err) : audit_append(store, &e, err);
}

tw_rc ca_state_set_in_tx(struct tw_store *store, const struct ca_actor *who, const char *ca,
	bool active, const char *reason, bool *changed, struct tw_error *err)
{
	struct store_ca_key_state row;
	bool was = false, found = false;
	char detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	*changed = false;
	if (who == NULL || who->actor == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "ca_state_set: no actor");
	if (reason != NULL && strlen(reason) > STORE_TEXT_MAX - 64)
		return tw_error_set(err, TW_E_TOO_LARGE, "reason is longer than %d bytes",
			STORE_TEXT_MAX - 64);
	if ((rc = ca_state_get(store, ca, &was, &row, &found, err)) != TW_OK)
		return rc;
	if (found && was == active) {
		snprintf(detail, sizeof(detail), "already %s since %lld by %.200s; unchanged%s%s",
			row.state, (long long)row.changed_ms, row.changed_by,
			reason != NULL ? ": " : "", reason != NULL ? reason : "");
		return ca_state_audit(store, who, ca, active, "unchanged", detail, true, err);
	}
	memset(&row, 0, sizeof(row));
	if ((rc = tw_strlcpy_checked(row.ca, ca, sizeof(row.ca), err, "CA name")) != TW_OK ||
	    (rc = tw_strlcpy_checked(row.changed_by, who->actor, sizeof(row.changed_by), err,
		"actor")) != TW_OK ||
	    (rc = tw_strlcpy_checked(row.reason, reason != NULL ? reason : "",
		sizeof(row.reason), err, "reason")) != TW_OK)
		return rc;
	snprintf(row.state, sizeof(row.state), "%s", active ? "active" : "inactive");
	row.changed_ms = tw_now_ms();
	snprintf(detail, sizeof(detail), "%s -> %s%s%s", found ? (was ? "active" : "inactive") :
		"never activated", row.state, reason != NULL ? ": " : "",
		reason != NULL ? reason : "");
	if ((rc = store_ca_key_state_put(store, &row, err)) != TW_OK ||
	    (rc = ca_state_audit(store, who, ca, active, "ok", detail, true, err)) != TW_OK)
		return rc;
	*changed = true;
	return TW_OK;
}

/*
 * The CA must be one the engine can use: the default CA, or a [ca.<name>] section that
 * names its own key or certificate (an operator must say which CA they mean; without a
 * section the defaults are key <name> and pki/<name>.crt, see pki_ca_config_load), with
 * its certificate present.
 */
static tw_rc ca_state_configured(const struct tw_home *home, const char *ca,
	struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	char section[STORE_ID_MAX + 8];
	char *cert = NULL;
	tw_rc rc;

	if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) != TW_OK)
		return rc;
	snprintf(section, sizeof(section), "ca.%s", ca);
	if (strcmp(ca, CA_DEFAULT_NAME) != 0 &&
	    tw_config_get(home->conf, section, "key_label") == NULL &&
	    tw_config_get(home->conf, section, "cert") == NULL) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' is not configured: torwart.conf "
			"has no [%s] with key_label and cert", ca, section);
		goto out;
	}
	if ((cert = crl_home_path(home, cfg->cert_path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!tw_path_exists(cert))
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' has no certificate at %s (see "
			"[%s] cert)", ca, cert, section);
out:
	free(cert);
	pki_ca_config_free(cfg);
	return rc;
}

tw_rc ca_state_set(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *ca, bool active, const char *reason,
	bool *changed, struct tw_error *err)
{
	struct tw_error why;
	tw_rc rc;

	*changed = false;
	if (who == NULL || who->actor == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "ca_state_set: no actor");
	if (ca == NULL || strlen(ca) > STORE_ID_MAX)
		return tw_error_set(err, TW_E_INVALID, "CA name missing or longer than %d bytes",
			STORE_ID_MAX);
	tw_error_clear(&why);
	if ((rc = ca_state_configured(home, ca, &why)) != TW_OK) {
		/* A refused activation is evidence too; the refusal is the error reported. */
		struct tw_error log_err;

		tw_error_clear(&log_err);
		if (ca_state_audit(store, who, ca, active, "refused", why.message, false,
		    &log_err) != TW_OK)
			tw_error_set(err, rc, "%s (and the refusal could not be logged: %s)",
				why.message, log_err.message);
		else
			tw_error_set(err, rc, "%s", why.message);
		return rc;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = ca_state_set_in_tx(store, who, ca, active, reason, changed, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK) {
		store_rollback(store);
		*changed = false;
	}
	return rc;
}

tw_rc ca_state_activate_created(struct tw_store *store, const char *actor, const char *ca,
	const char *reason, struct tw_error *err)
{
	const struct ca_actor who = { .actor = actor, .role = "ceremony", .client = "local" };
	bool changed = false;
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = ca_state_set_in_tx(store, &who, ca, true, reason, &changed, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		store_rollback(store);
	return rc;
}
