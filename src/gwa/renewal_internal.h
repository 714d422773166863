/*
 * renewal_internal.h: what renewal.c and renewal_orders.c share (not a public API).
 */
#ifndef TORWART_GWA_RENEWAL_INTERNAL_H
#define TORWART_GWA_RENEWAL_INTERNAL_H

#include "gwa/renewal.h"

/* One admin-log entry "renewal.<what>" with object "renewal:ID gateway:GW" (in tx). */
tw_rc renewal_audit(struct tw_store *store, const struct job_actor *who, const char *action,
	const struct store_renewal *r, const char *result, const char *code, const char *detail,
	struct tw_error *err);
/*
 * r (read in state from) -> failed with code and message, plus its admin-log entry, inside
 * the caller's transaction. TW_E_NOT_FOUND when r left state from meanwhile.
 */
tw_rc renewal_fail_in_tx(struct tw_store *store, struct store_renewal *r, const char *from,
	const char *code, const char *message, const struct job_actor *who,
	struct tw_error *err);
/* The renewal id in a cert-request / cert-install payload ({"renewal": N}), or 0. */
int64_t renewal_payload_id(const json_t *payload);

#endif
