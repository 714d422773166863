/*
 * store_profile_reput.h: the query of the profile re-put on an EMT key change (issue 12,
 * UC-3.3.3; gwa/profile_reput.h). No table of its own: it reads the pki module's
 * certificates and ca_participants.
 */
#ifndef TORWART_STORE_STORE_PROFILE_REPUT_H
#define TORWART_STORE_STORE_PROFILE_REPUT_H

#include <stdbool.h>

#include "base/error.h"
#include "store/store.h"

/*
 * The SHA-256 fingerprint of the newest valid TLS certificate this home issued to an EMT
 * participant whose market partner id is mpid (the OU of its certificates); *found false
 * (fp "") when there is none.
 */
tw_rc store_emt_tls_current(struct tw_store *store, const char *mpid, char fp[65],
	bool *found, struct tw_error *err);

#endif
