/*
 * store_gwa_sig.h: the table gwa_sig_pushes (migration "gwa_sig_push"; service
 * gwa/gwa_sig_push.h): which fleet order carries a GWA SIG certificate to the gateways
 * of which tenant.
 */
#ifndef TORWART_STORE_STORE_GWA_SIG_H
#define TORWART_STORE_STORE_GWA_SIG_H

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

#endif
