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
