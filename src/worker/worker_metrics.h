/*
 * worker_metrics.h: the worker's /metrics ([metrics] worker_listen): the state of the
 * whole installation as the store sees it (jobs by state, CRL age per CA, admin-log size
 * and the age of the last verified signed head, the alert queue) plus the signer's
 * counters from its metrics file (signer/signer_metrics.h). docs/monitoring.md.
 */
#ifndef TORWART_WORKER_WORKER_METRICS_H
#define TORWART_WORKER_WORKER_METRICS_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct worker_metrics;

/* Serve on base with the worker's store (both borrowed). *out NULL when not configured. */
tw_rc worker_metrics_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct worker_metrics **out, struct tw_error *err);
void worker_metrics_stop(struct worker_metrics *wm);

/* The samples themselves (for tests): appended to out. */
struct tw_buf;
tw_rc worker_metrics_render_store(struct tw_buf *out, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err);

#endif
