/*
 * worker.c: scheduled work. The worker re-verifies the admin-log hash chain on a
 * schedule, so tampering with the database is noticed by the running system and not only
 * when someone runs `torwart audit verify`, and drives jobs (deadlines, retries, paced
 * wake-ups; worker_jobs.c).
 *
 * Verification is incremental (issue 10): each interval continues from the last signed
 * tree head an earlier pass verified (a full pass over 10 M entries takes 40-50 s); a
 * full pass runs at start and every audit_full_verify_interval seconds.
 */
#include "worker/worker.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "audit/service.h"
#include "base/log.h"
#include "base/util.h"
#include "dir/dir.h"
#include "gwa/crl_push.h"
#include "gwa/renewal.h"
#include "gwa/firmware_worker.h"
#include "metering/metering_deliver.h"
#include "pki/crl.h"
#include "pki/trust.h"
#include "store/store.h"
#include "worker/worker_jobs.h"
#include "ws/ws_outbox.h"
#include "worker/worker_metrics.h"

struct worker_ctx {
	struct event_base *base;
	struct tw_store *store;
	int64_t last_intact_entries;
	int alarmed;              /* report a broken chain once, not every interval */
	long full_interval_s;     /* full pass every so often; 0: at start only */
	int64_t last_full_ms;     /* 0: none yet, the next pass is full */
	struct audit_service *audit_svc;   /* tree heads, shipping, alerts, retention */
};

static void worker_verify_audit(evutil_socket_t fd, short events, void *arg)
{
	struct worker_ctx *ctx = arg;
	struct audit_verify_result res;
	struct tw_error err;
	int64_t now = tw_now_ms();
	bool full = ctx->last_full_ms == 0 || (ctx->full_interval_s > 0 &&
		now - ctx->last_full_ms >= (int64_t)ctx->full_interval_s * 1000);
	tw_rc rc;

	(void)fd;
	(void)events;
	tw_error_clear(&err);
	rc = audit_verify_incremental(ctx->store, NULL, "worker", full, &res, &err);
	if (rc == TW_OK) {
		if (full)
			ctx->last_full_ms = now;
		if (res.tree_size != ctx->last_intact_entries)
			tw_debug("admin log intact: %s pass from %lld, %lld entries checked, tree "
				"size %lld, position %lld", full ? "full" : "incremental",
				(long long)res.resumed_at, (long long)res.entries,
				(long long)res.tree_size, (long long)res.verified_to);
		ctx->last_intact_entries = res.tree_size;
		ctx->alarmed = 0;
	} else if (rc == TW_E_INTEGRITY) {
		if (!ctx->alarmed) {
			tw_err("ALERT admin log integrity broken at entry %lld: %s",
				(long long)res.first_bad_seq, res.reason);
			if (alert_raise(ctx->store, ALERT_LOG_INTEGRITY, NULL, "admin_log", err.message,
			    &err) != TW_OK)
				tw_err("cannot queue the alert: %s", err.message);
		}
		ctx->alarmed = 1;
	} else {
		tw_warn("admin-log verification could not run: %s", err.message);
	}
}

static void worker_on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct worker_ctx *ctx = arg;

	(void)events;
	tw_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(ctx->base);
}

tw_rc worker_run(const struct tw_home *home, struct tw_error *err)
{
	struct worker_ctx ctx = { 0 };
	struct event *timer = NULL, *sigterm = NULL, *sigint = NULL;
	struct timeval every = { 0, 0 };
	char *store_url = NULL;
	struct worker_jobs *jobs = NULL;
	struct crl_worker *crl = NULL;
	struct ws_outbox *outbox = NULL;
	struct dir_worker *dir = NULL;   /* directory publication ([dir]) */
	struct trust_fetcher *trust = NULL;   /* other CAs' CRLs ([trust]) */
	struct renewal_worker *renewal = NULL;
	struct crl_push *crl_push = NULL;     /* CRLs to the gateways (gwa/crl_push.h) */
	struct firmware_worker *fw = NULL;
	struct worker_metrics *metrics = NULL;   /* [metrics] worker_listen */
	struct metering_deliverer *metering = NULL;
	long interval;
	tw_rc rc;

	/*
	 * A peer that closes while we write (the log server, an EMT, a participant's
	 * endpoint) must be EPIPE for that connection, not SIGPIPE for the whole worker (as
	 * in the api and the wan).
	 */
	signal(SIGPIPE, SIG_IGN);
	rc = tw_config_get_long(home->conf, "worker", "audit_verify_interval", 60, 1, 86400,
		&interval, err);
	if (rc != TW_OK)
		goto out;
	every.tv_sec = interval;
	rc = tw_config_get_long(home->conf, "worker", "audit_full_verify_interval", 86400, 0,
		31L * 86400, &ctx.full_interval_s, err);
	if (rc != TW_OK)
		goto out;
	store_url = tw_home_store_url(home);
	if (store_url == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = store_open_wait(home, store_url, &ctx.store, err)) != TW_OK)
		goto out;
	ctx.base = event_base_new();
	if (ctx.base == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the event loop");
		goto out;
	}
	timer = event_new(ctx.base, -1, EV_PERSIST, worker_verify_audit, &ctx);
	sigterm = evsignal_new(ctx.base, SIGTERM, worker_on_signal, &ctx);
	sigint = evsignal_new(ctx.base, SIGINT, worker_on_signal, &ctx);
	if (timer == NULL || sigterm == NULL || sigint == NULL ||
	    event_add(timer, &every) != 0 || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot set up the worker's events");
		goto out;
	}
	if ((rc = audit_service_start(ctx.base, home, ctx.store, &ctx.audit_svc, err)) != TW_OK)
		goto out;
	if ((rc = worker_jobs_start(home, ctx.base, ctx.store, &jobs, err)) != TW_OK)
		goto out;
	if ((rc = crl_worker_start(home, ctx.base, ctx.store, &crl, err)) != TW_OK)
		goto out;
	/* SM-PKI web service callbacks (SendCertificates from the outbox; ws_outbox.h). */
	if ((rc = ws_outbox_start(home, ctx.base, ctx.store, &outbox, err)) != TW_OK ||
	    (rc = dir_worker_start(home, ctx.base, ctx.store, &dir, err)) != TW_OK ||
	    (rc = trust_fetcher_start(home, ctx.base, ctx.store, &trust, err)) != TW_OK)
		goto out;
	if ((rc = renewal_worker_start(home, ctx.base, ctx.store, &renewal, err)) != TW_OK ||
	    (rc = crl_push_start(home, ctx.base, ctx.store, &crl_push, err)) != TW_OK)
		goto out;
	/* Daily firmware check and staged rollouts (gwa/firmware_worker.h). */
	if ((rc = firmware_worker_start(home, ctx.base, ctx.store, &fw, err)) != TW_OK)
		goto out;
	if ((rc = worker_metrics_start(ctx.base, home, ctx.store, &metrics, err)) != TW_OK)
		goto out;
	if ((rc = metering_deliverer_start(home, &metering, err)) != TW_OK)   /* UC-3.5.x */
		goto out;
	tw_info("worker running; admin log verified every %ld s", interval);
	worker_verify_audit(-1, 0, &ctx);
	event_base_dispatch(ctx.base);
	rc = TW_OK;
out:
	worker_metrics_stop(metrics);
	audit_service_stop(ctx.audit_svc);
	if (timer != NULL)
		event_free(timer);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	worker_jobs_stop(jobs);
	crl_worker_stop(crl);
	ws_outbox_stop(outbox);
	dir_worker_stop(dir);
	trust_fetcher_stop(trust);
	renewal_worker_stop(renewal);
	crl_push_stop(crl_push);
	firmware_worker_stop(fw);
	metering_deliverer_stop(metering);
	if (ctx.base != NULL)
		event_base_free(ctx.base);
	store_close(ctx.store);
	free(store_url);
	return rc;
}
