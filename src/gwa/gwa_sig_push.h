/*
 * gwa_sig_push.h: the GWA's new SIG certificate to every gateway after a rotation of the
 * GWA SIG key (issue 12; docs/renewal.md "Gateways and the new GWA SIG certificate").
 *
 * Gateways verify wake-ups with the GWA SIG certificate they hold (gwa_cert_order.c).
 * When `torwart gwa renew --key sig` has switched to a new SIG certificate, one fleet
 * order "gwa-cert-update" per tenant carries it to that tenant's gateways: an ordinary
 * fleet batch (paced by the token buckets, retried, visible in `job batches` to the
 * tenant's operators), recorded with the certificate's fingerprint in the transaction
 * that creates it (store_gwa_sig.h), so a rerun after a crash orders only what is
 * missing and never twice.
 */
#ifndef TORWART_GWA_GWA_SIG_PUSH_H
#define TORWART_GWA_GWA_SIG_PUSH_H

#include <stdint.h>

#include "base/error.h"
#include "gwa/job.h"
#include "store/store.h"

#define GWA_SIG_PUSH_TENANTS_MAX 256

struct gwa_sig_push_result {
	int64_t batches;      /* fleet orders created by this call */
	int64_t gateways;     /* jobs in them */
	int64_t unconfirmed;  /* gateways of all its orders that have not installed it */
	char fingerprint[65];
};

/* The orders' job policy ([gwa] sig_order_timeout, sig_order_attempts). */
#define GWA_SIG_ORDER_TIMEOUT_DEFAULT  86400   /* s per attempt */
#define GWA_SIG_ORDER_ATTEMPTS_DEFAULT 7

/*
 * Order the SIG certificate in the PEM file cert_path to the gateways of every tenant
 * that has no order of it yet (a tenant without gateways gets none), each job with
 * timeout_s per attempt and attempts attempts (0: the job defaults). Each tenant's
 * order is one transaction: batch, jobs, its record and the "gwa.sig-orders" admin-log
 * entry. Also fills out->unconfirmed (gwa_sig_push_unconfirmed). Not inside a
 * transaction.
 */
tw_rc gwa_sig_push_ensure(struct tw_store *store, const char *cert_path, long timeout_s,
	int attempts, const struct job_actor *who, struct gwa_sig_push_result *out,
	struct tw_error *err);

/*
 * The gateways that have not confirmed the certificate in cert_path: jobs of its orders
 * that are not done (open, failed, timed out or cancelled).
 */
tw_rc gwa_sig_push_unconfirmed(struct tw_store *store, const char *cert_path,
	int64_t *count, char fingerprint[65], struct tw_error *err);

#endif
