/*
 * service.h: the admin log's periodic work, run by the worker on its event loop: signed
 * tree heads every N entries or T seconds, shipping to the log server, alert delivery,
 * and retention. The worker creates one service and forgets about the details.
 *
 * [audit] head_every = N entries (default 1000), head_interval = T seconds (default 300),
 * retention_days = D (default 183, i.e. 6 months; 0 = never remove), archive_dir
 * (default "archive" in the home). See ship.h and alert.h for their keys.
 */
#ifndef TORWART_AUDIT_SERVICE_H
#define TORWART_AUDIT_SERVICE_H

#include <stdint.h>

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct signer_client;
struct audit_service;

/* Starts a 1-second timer on base. home and store must outlive the service. */
tw_rc audit_service_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct audit_service **out, struct tw_error *err);
void audit_service_stop(struct audit_service *svc);   /* NULL is fine */

struct audit_retention_result {
	int64_t cut_seq;          /* 0: nothing was old enough */
	int64_t entries;          /* entries archived and removed */
	char archive[1024];       /* archive file written */
};

/*
 * Archive and remove entries 1..cut where cut is upto rounded down to a multiple of
 * 256 (so the tree left of the cut is stored nodes): sign a head at the cut if there is
 * none, export to archive_dir (verified before anything is removed), then in one
 * transaction record the cut, delete the entries and log "audit.retention".
 */
tw_rc audit_retention_run(struct tw_store *store, struct signer_client *sc,
	const char *archive_dir, const char *cert_path, int64_t upto,
	struct audit_retention_result *out, struct tw_error *err);
/* Highest seq whose time is before cutoff_ms (0 if none). */
tw_rc audit_retention_due(struct tw_store *store, int64_t cutoff_ms, int64_t *upto,
	struct tw_error *err);

#endif
