/*
 * crl_push.h: the current CRLs of the home's SM-PKI CAs to the gateways (issue 12,
 * UC-3.3.3 "fetch and apply CRLs", T-SZ.7-9; docs/renewal.md "CRLs on the gateways").
 *
 * The order is crl-update (renewal_crl.c). `torwart gateway crl-push` orders it by hand;
 * the worker's timer below orders it by itself:
 *   - after every new CRL: a gateway whose last crl-update job is older than the newest
 *     published CRL file gets one;
 *   - at least every [renewal] crl_push_interval seconds (default 86400; 0 = no automatic
 *     push), so a gateway's CRLs never reach their nextUpdate while the GWA has newer;
 *   - never a second one while one is open for the gateway (jobs run in order per
 *     gateway; the open one is delivered first and the next scan pushes the newer CRL);
 *   - per tenant, at most [renewal] crl_push_batch (200) gateways per step; a scan every
 *     [renewal] crl_push_scan seconds (300; the first one a scan period after the start),
 *     and while a step filled its batch the next one after [renewal] crl_push_pace
 *     seconds (5); the wake-ups themselves go through the jobs' token buckets: a fleet of
 *     100,000 is paced (about 40 jobs/s per tenant), not flooded;
 *   - one admin-log entry "crl.push" per tenant and scan that ordered something, besides
 *     each job's own "job.create" (actor system:worker).
 */
#ifndef TORWART_GWA_CRL_PUSH_H
#define TORWART_GWA_CRL_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

#define CRL_PUSH_INTERVAL_DEFAULT_S 86400L
#define CRL_PUSH_SCAN_DEFAULT_S     300L
#define CRL_PUSH_BATCH_DEFAULT      200L
#define CRL_PUSH_PACE_DEFAULT_S     5L

/* What crl_push_payload read. */
struct crl_push_info {
	int64_t newest_ms;      /* modification time of the newest published CRL file */
	char numbers[160];      /* "sub-ca #12, ..." for logs */
};

/*
 * The crl-update payload {"crls": [base64 DER, ...]} of the home's published CRLs
 * ([ca] crl_cas, the operator CA excluded: it is not part of the SM-PKI). *payload is the
 * caller's. TW_E_NOT_FOUND when no CRL is published yet. info may be NULL.
 */
tw_rc crl_push_payload(const struct tw_home *home, json_t **payload,
	struct crl_push_info *info, struct tw_error *err);

/*
 * One scan at now_ms: for every tenant, the gateways due (see above) get a crl-update
 * job, at most batch per tenant. *ordered (may be NULL) counts the jobs created; *more
 * (may be NULL) says that a tenant filled its batch (more may be due). TW_OK also when
 * no CRL is published yet (nothing to push).
 */
tw_rc crl_push_scan(const struct tw_home *home, struct tw_store *store, int64_t now_ms,
	long interval_s, long batch, int64_t *ordered, bool *more, struct tw_error *err);

/* The worker's timer. *out = NULL and TW_OK when [renewal] crl_push_interval = 0. */
struct crl_push;
struct event_base;
tw_rc crl_push_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct crl_push **out, struct tw_error *err);
void crl_push_stop(struct crl_push *p);

#endif
