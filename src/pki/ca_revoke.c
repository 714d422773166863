/*
 * ca_revoke.c: revocation (ca_revoke in ca.h, DOMAIN.md S-5). The certificate's status,
 * the CRL's dirty flag and the admin-log entry commit together; the caller then
 * regenerates the CRL (crl.h) so relying parties see the revocation at once, and the
 * worker does it on its schedule if that step failed.
 */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "pki/ca.h"
#include "pki/ca_internal.h"
#include "pki/crl.h"
#include "store/store.h"

/*
 * A tenant-scoped store handle (the api runs an operator's command on one, see
 * store_scope_tenant) may revoke only certificates whose subject belongs to its tenant:
 * a gateway's certificate (owner = the gateway id) follows the gateway's tenant, any
 * other certificate (participants, operators) the tenant it was recorded under. Another
 * tenant's certificate is answered exactly like a serial this CA never issued, so the
 * refusal reveals nothing about it (docs/security.md, "Certificate revocation").
 */
static tw_rc ca_revoke_visible(struct tw_store *store, const char *issuer, const char *hex,
	struct tw_error *err)
{
	int64_t scope = store_scoped_tenant(store), tenant = 0;
	struct store_ca_cert cert;
	struct store_certificate row;
	struct store_gateway gw;
	struct tw_error lerr;
	tw_rc rc;

	if (scope == 0)
		return TW_OK;
	memset(&cert, 0, sizeof(cert));
	memset(&row, 0, sizeof(row));
	if ((rc = store_ca_cert_get(store, issuer, hex, false, &cert, err)) != TW_OK)
		goto out;
	if (store_certificate_get_by_fingerprint(store, cert.fingerprint, &row, &lerr) == TW_OK)
		tenant = row.tenant_id;
	/* The gateway's current tenant wins: the certificate row keeps the tenant of its
	 * issuance (participants are recorded under "default"). Read unscoped for the
	 * comparison only, then the handle's scope is restored. */
	memset(&gw, 0, sizeof(gw));
	if (cert.owner_id[0] != '\0') {
		tw_rc g;

		store_scope_tenant(store, 0);
		g = store_gateway_get(store, cert.owner_id, &gw, &lerr);
		store_scope_tenant(store, scope);
		if (g == TW_OK)
			tenant = gw.tenant_id;
	}
	if (tenant != scope)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "this CA issued no certificate with serial "
			"%s (see `torwart ca list`)", hex);
out:
	store_ca_cert_clear(&cert);
	store_certificate_clear(&row);
	return rc;
}

tw_rc ca_revoke(const struct tw_home *home, struct tw_store *store, const struct ca_actor *who,
	const char *ca, const char *serial, int reason, bool *changed, struct tw_error *err)
{
	struct ca_run r = { .store = store, .who = who };
	struct store_ca_cert cert;
	char issuer[STORE_TEXT_MAX + 1], hex[STORE_ID_MAX + 1], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	*changed = false;
	memset(&cert, 0, sizeof(cert));
	if ((rc = ca_serial_normalise(serial, hex, sizeof(hex), err)) != TW_OK ||
	    (rc = ca_issuer_name(home, ca, issuer, sizeof(issuer), err)) != TW_OK)
		return rc;
	if (reason < 0 || reason > 10 || reason == 7)
		return tw_error_set(err, TW_E_INVALID, "revocation reason %d is not an RFC 5280 "
			"CRLReason", reason);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = ca_revoke_visible(store, issuer, hex, err)) != TW_OK)
		goto rollback;
	if ((rc = store_ca_cert_revoke(store, issuer, hex, reason, tw_now_ms(), changed,
		err)) != TW_OK ||
	    (rc = store_ca_cert_get(store, issuer, hex, false, &cert, err)) != TW_OK)
		goto rollback;
	if (*changed)
		snprintf(detail, sizeof(detail), "reason=%s subject=%s", ca_reason_name(reason),
			cert.subject);
	else
		snprintf(detail, sizeof(detail), "already revoked (reason=%s); unchanged",
			ca_reason_name(cert.revocation_reason));
	/* The delta CRL too (a no-op without one): it publishes the revocation first. */
	if (*changed && strlen(ca) + sizeof(CRL_DELTA_SUFFIX) - 1 <= STORE_ID_MAX) {
		char delta[STORE_ID_MAX + 1];

		snprintf(delta, sizeof(delta), "%s%s", ca, CRL_DELTA_SUFFIX);
		if ((rc = store_ca_crl_mark_dirty(store, delta, err)) != TW_OK)
			goto rollback;
	}
	if ((*changed && (rc = store_ca_crl_mark_dirty(store, ca, err)) != TW_OK) ||
	    (rc = ca_audit(&r, "ca.revoke", hex, "ok", NULL, detail, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		goto rollback;
	return TW_OK;
rollback:
	store_rollback(store);
	*changed = false;
	return rc;
}
