/*
 * ca_state.h: activation state of the CA keys (M-4.5.18 "activation four-eyes", issue 5).
 *
 * A CA ([ca.<name>] in torwart.conf; its key lives in the token and is used only through
 * the signer) is either active or inactive. Issuance and CRL signing call
 * ca_state_require_active first, so an inactive CA's key is never asked to sign, whoever
 * calls (CLI, worker, api). `torwart ca activate|deactivate` change the state; the
 * four-eyes mechanism (approval.h) wraps those commands, this module does not ask for
 * a second person itself.
 *
 * A CA without a row in ca_key_state is INACTIVE (fail closed: a key is used only when
 * an activation is on record). Migration 0007 carries the CAs of older homes over as
 * active, and `torwart init --test-pki` records the test PKI's CAs as activated
 * (testpki.c), so existing homes keep working. See docs/ca-operations.md.
 *
 * Admin log: "ca.key.activate" / "ca.key.deactivate" (object "ca:<name>"), result "ok",
 * "unchanged" (already in that state) or "refused".
 */
#ifndef TORWART_PKI_CA_STATE_H
#define TORWART_PKI_CA_STATE_H

#include <stdbool.h>

#include "base/error.h"
#include "base/home.h"
#include "pki/ca.h"
#include "store/store.h"
#include "store/store_ca.h"

/*
 * TW_OK when CA `ca` is active; otherwise TW_E_DENIED with a message naming the CA, what
 * was refused (`use`, e.g. "certificate issuance", "CRL signing") and the command that
 * activates it. Store failures are returned as they are. Nothing is written.
 */
tw_rc ca_state_require_active(struct tw_store *store, const char *ca, const char *use,
	struct tw_error *err);

/*
 * The CA's state: *active, and the row in *row (may be NULL; zeroed when there is none,
 * then *found is false and *active false).
 */
tw_rc ca_state_get(struct tw_store *store, const char *ca, bool *active,
	struct store_ca_key_state *row, bool *found, struct tw_error *err);

/*
 * `torwart ca activate|deactivate`: set CA `ca` to active or inactive with the admin-log
 * entry in one transaction. The CA must be configured: "sub-ca" (the default CA) or a
 * [ca.<name>] section that names its key_label or cert, and its certificate file must
 * exist; otherwise TW_E_NOT_FOUND and nothing but a "refused" entry is written. Setting
 * the state it already has changes nothing, *changed is false, and it is still audited
 * ("unchanged"). reason may be NULL.
 */
tw_rc ca_state_set(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *ca, bool active, const char *reason,
	bool *changed, struct tw_error *err);

/*
 * The same without the configuration check, inside a transaction the caller opened
 * (store_begin), for the CA's creator: the test PKI records its CAs as activated at init.
 */
tw_rc ca_state_set_in_tx(struct tw_store *store, const struct ca_actor *who, const char *ca,
	bool active, const char *reason, bool *changed, struct tw_error *err);

/*
 * For the code that has just generated a CA's key in a ceremony (init, operator
 * ca-init): record it as activated, in its own transaction with the admin-log entry
 * (role "ceremony", client "local"). actor is the person running the ceremony.
 */
tw_rc ca_state_activate_created(struct tw_store *store, const char *actor, const char *ca,
	const char *reason, struct tw_error *err);

#endif
