/*
 * store_gwa_sig.h: the table gwa_sig_pushes (migration "gwa_sig_push"; service
 * gwa/gwa_sig_push.h): which fleet order carries a GWA SIG certificate to the gateways
 * of which tenant.
 */
#ifndef TORWART_STORE_STORE_GWA_SIG_H
#define TORWART_STORE_STORE_GWA_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

struct store_gwa_sig_push {
	char fingerprint[65];                /* hex SHA-256 of the certificate's DER */
	int64_t tenant_id;
	int64_t batch_id;                    /* job_batches.id */
	int64_t created_ms;
};

/*
 * Record the fleet order batch_id for (fingerprint, tenant_id); call it in the
 * transaction that created the order. TW_E_EXISTS when that tenant has one already.
 */
tw_rc store_gwa_sig_push_add(struct tw_store *store, const struct store_gwa_sig_push *p,
	struct tw_error *err);

/* The pushes of fingerprint, by tenant id, at most max into out (*n of them). */
tw_rc store_gwa_sig_push_list(struct tw_store *store, const char *fingerprint,
	struct store_gwa_sig_push *out, size_t max, size_t *n, struct tw_error *err);

/* Gateways per statement of store_gwa_sig_waiting_among (the placeholders of its SQL). */
#define STORE_GWA_SIG_AMONG_MAX 31

/*
 * Which of the n gateways gateway_ids[] still wait for the GWA SIG certificate
 * fingerprint (they verify wake-ups with the previous one): waiting[i] true when gateway
 * i has a job of that certificate's fleet orders (store_gwa_sig_push_add) that is not
 * done, and no gwa-cert-update job done after it (a hand-made order after a failed
 * one). A gateway without such a job (added after the orders: `gateway add` gave it the
 * certificate) does not wait. One statement per STORE_GWA_SIG_AMONG_MAX gateways, not
 * one per gateway (the worker asks for each tick's wake-ups). Strings borrowed; on
 * failure every waiting[i] is false.
 */
tw_rc store_gwa_sig_waiting_among(struct tw_store *store, const char *fingerprint,
	const char *const *gateway_ids, size_t n, bool *waiting, struct tw_error *err);

#endif
