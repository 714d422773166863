/*
 * worker_jobs.h: the job part of the worker (docs/jobs.md): every tick it turns missed
 * deadlines into logged timeouts (retry or give up) and releases wake-ups for due jobs
 * through the token buckets (T-WU.4).
 *
 * Configuration ([worker]): job_tick_ms (100), wakeup_rate (per second, 200),
 * wakeup_burst (= rate), wakeup_tenant_rate (= rate), wakeup_tenant_burst (= tenant
 * rate), job_batch (most jobs handled per tick and step, 500), gwa_sig_cert.
 */
#ifndef TORWART_WORKER_WORKER_JOBS_H
#define TORWART_WORKER_WORKER_JOBS_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct worker_jobs;

/* Start the tick on base; store and home are borrowed and must outlive the jobs part. */
tw_rc worker_jobs_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct worker_jobs **out, struct tw_error *err);
void worker_jobs_stop(struct worker_jobs *wj);

/* One tick (exposed for tests): deadlines, then wake-ups. */
void worker_jobs_tick(struct worker_jobs *wj, int64_t now_ms);

#endif
