/*
 * wan_renewal.c: the wan's part of certificate renewal (gwa/renewal.h, docs/renewal.md).
 *
 * A gateway that logs in with the TLS certificate a renewal issued for it (status
 * 'pending') proves that it installed the new certificates and holds their keys; the
 * session opening confirms the renewal and switches the inventory (one transaction in
 * renewal_proof). This runs once per renewal, so its synchronous store transaction on the
 * event loop costs nothing measurable; every other login skips it (the flag is set only
 * for pending certificates, read by the identification anyway).
 */
#include <stdbool.h>

#include "base/log.h"
#include "gwa/renewal.h"
#include "wan/wan_internal.h"

void wan_renewal_proof(struct wan_conn *conn, const char *peer)
{
	struct tw_error e;
	bool confirmed = false;

	conn->renewal_proof = false;
	if (renewal_proof(conn->thr->store, conn->gateway_id, conn->fingerprint, peer,
	    &confirmed, &e) != TW_OK)
		/* Not fatal: the certificate still logs in, the next session tries again. */
		tw_warn("wan: renewal proof of %s not recorded: %s", conn->gateway_id, e.message);
	else if (confirmed)
		tw_info("wan: %s connected with its renewed TLS certificate", conn->gateway_id);
}
