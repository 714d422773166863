/*
 * worker_jobs.c: deadlines, retries and paced wake-ups (worker_jobs.h, docs/jobs.md).
 *
 * The worker holds no job state: each tick reads overdue and due jobs from the store and
 * moves them with gwa/job.h's compare-and-set transitions, so a restarted worker (or a
 * second one) continues where the last left off, and a gateway that connects while its
 * wake-up is being prepared simply wins the race.
 */
#include "worker/worker_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "audit/alert.h"
#include "base/util.h"
#include "gwa/job.h"
#include "gwa/job_bucket.h"
#include "gwa/wakeup.h"
#include "store/store_jobs.h"

#define WJ_DETAIL_MAX 300

struct worker_jobs {
	const struct tw_home *home;
	struct tw_store *store;
	struct event *tick;
	struct wakeup_sender *sender;      /* NULL until the first wake-up is needed */
	struct job_pacer pacer;
	size_t batch;
	char client[32];
	struct store_job_due *due;         /* batch slots */
	bool *ok;
	char (*detail)[WJ_DETAIL_MAX];
	const char **detail_ptr;
	int64_t *ids;
	struct wakeup_item *wake;          /* the tick's wake-ups, signed in one round trip */
	size_t *wake_job;                  /* wake[k] is the wake-up of due[wake_job[k]] */
	bool sender_failed_logged;
	bool keys_failed_logged;           /* the key-version lookup failed: said once */
	bool unavailable;                  /* the database is down: said once, not per tick */
	/* Job timeouts in the current window; one alert per window above the threshold. */
	long timeout_threshold, timeout_window_ms;
	int64_t window_start_ms;
	long window_timeouts;
	bool window_alerted;
};

/*
 * Many timeouts at once mean a fleet problem (WAN outage, bad wake-up address, broken
 * firmware), not one slow gateway: tell the gateway operators (issue 5 alerts).
 */
static void wj_count_timeouts(struct worker_jobs *wj, long n, int64_t now)
{
	if (now - wj->window_start_ms >= wj->timeout_window_ms) {
		wj->window_start_ms = now;
		wj->window_timeouts = 0;
		wj->window_alerted = false;
	}
	wj->window_timeouts += n;
	if (!wj->window_alerted && wj->window_timeouts >= wj->timeout_threshold) {
		struct tw_error e;
		char msg[160];

		snprintf(msg, sizeof(msg), "%ld job timeouts within %ld s (threshold %ld, "
			"[alert] job_timeout_threshold)", wj->window_timeouts,
			wj->timeout_window_ms / 1000, wj->timeout_threshold);
		if (alert_raise(wj->store, ALERT_JOB_TIMEOUT, NULL, "jobs", msg, &e) != TW_OK)
			tw_err("worker: cannot raise the job-timeout alert: %s", e.message);
		wj->window_alerted = true;
	}
}

static void wj_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_jobs_tick(arg, tw_now_ms());
}

/*
 * A tick could not read its jobs. While the database is unavailable the store logs the
 * outage, each reconnect attempt and the recovery; every tick (job_tick_ms) would only
 * repeat it, so the worker says once that job processing pauses, and once that it resumes.
 */
static bool wj_store_ok(struct worker_jobs *wj, tw_rc rc, const char *what,
	const struct tw_error *e)
{
	if (rc == TW_OK) {
		if (wj->unavailable)
			tw_info("worker: the database is available again; job processing resumes");
		wj->unavailable = false;
		return true;
	}
	if (rc != TW_E_UNAVAILABLE)
		tw_warn("worker: cannot %s: %s", what, e->message);
	else if (!wj->unavailable)
		tw_warn("worker: cannot %s: %s; job processing pauses until the database is back "
			"(no job is lost: deadlines and retries are evaluated then)", what, e->message);
	wj->unavailable = rc == TW_E_UNAVAILABLE;
	return false;
}

static void wj_expire(struct worker_jobs *wj, const struct job_actor *who, int64_t now)
{
	struct tw_error e;
	size_t n = 0;

	if (!wj_store_ok(wj, store_job_expired(wj->store, now, wj->ids, wj->batch, &n, &e),
	    "look for overdue jobs", &e))
		return;
	long timed_out = 0;

	for (size_t i = 0; i < n; i++) {
		tw_rc rc = job_expire(wj->store, wj->ids[i], now, who, &e);

		if (rc == TW_OK)
			timed_out++;
		else if (rc != TW_E_NOT_FOUND)
			tw_warn("worker: cannot time out job %lld: %s", (long long)wj->ids[i],
				e.message);
	}
	if (timed_out > 0)
		wj_count_timeouts(wj, timed_out, now);
}

static void wj_wake(struct worker_jobs *wj, const struct job_actor *who, int64_t now)
{
	int64_t skip[JOB_BUCKET_TENANTS_MAX];
	size_t nskip, avail, n = 0, m = 0, nwake = 0;
	struct tw_error e;

	avail = job_pacer_available(&wj->pacer, now);
	if (avail == 0)
		return;
	if (avail > wj->batch)
		avail = wj->batch;
	nskip = job_pacer_empty_tenants(&wj->pacer, now, skip, JOB_BUCKET_TENANTS_MAX);
	if (!wj_store_ok(wj, store_job_due(wj->store, now, skip, nskip, wj->due, avail, &n, &e),
	    "look for due jobs", &e))
		return;
	/* Take tokens; jobs of a tenant whose bucket ran dry wait for the next tick. */
	for (size_t i = 0; i < n; i++)
		if (job_pacer_take(&wj->pacer, wj->due[i].tenant_id, now))
			wj->due[m++] = wj->due[i];
	if (m == 0)
		return;
	if (job_mark_waking(wj->store, wj->due, m, now, who, wj->ok, &e) != TW_OK) {
		tw_warn("worker: cannot mark %zu jobs as waking: %s", m, e.message);
		return;
	}
	if (wj->sender == NULL && wakeup_sender_open(wj->home, &wj->sender, &e) != TW_OK &&
	    !wj->sender_failed_logged) {
		tw_err("worker: wake-ups cannot be sent: %s", e.message);
		wj->sender_failed_logged = true;
	}
	for (size_t i = 0; i < m; i++) {
		wj->detail_ptr[i] = wj->detail[i];
		if (!wj->ok[i])
			continue;
		if (wj->due[i].address[0] == '\0') {
			snprintf(wj->detail[i], WJ_DETAIL_MAX, "gateway %s has no wake-up address; "
				"waiting for its own contact", wj->due[i].gateway_id);
		} else if (wj->sender == NULL) {
			snprintf(wj->detail[i], WJ_DETAIL_MAX, "wake-up of %s not sent: no wake-up "
				"sender (see the worker log)", wj->due[i].gateway_id);
		} else {
			wj->wake[nwake] = (struct wakeup_item){ .gateway_id = wj->due[i].gateway_id,
				.address = wj->due[i].address };
			wj->wake_job[nwake++] = i;
		}
	}
	/*
	 * After a GWA SIG rotation, gateways that have not installed the new certificate
	 * get wake-ups signed with the kept previous key (wakeup_key.h): one store lookup
	 * per 31 wake-ups, only while a previous key is kept. On failure all go out with
	 * the current key, as before a rotation.
	 */
	if (nwake > 0 && wakeup_sender_choose_keys(wj->sender, wj->store, wj->wake, nwake,
	    &e) != TW_OK) {
		if (!wj->keys_failed_logged)
			tw_warn("worker: wake-ups are signed with the current GWA SIG key: %s",
				e.message);
		wj->keys_failed_logged = true;
	} else if (nwake > 0) {
		wj->keys_failed_logged = false;
	}
	/* Every datagram is signed on its own, the tick's signatures in one signer round
	 * trip per key version and one admin-log transaction there (SIGN_DATA_BATCH). */
	if (nwake > 0)
		(void)wakeup_send_batch(wj->sender, wj->wake, nwake);
	for (size_t k = 0; k < nwake; k++) {
		size_t i = wj->wake_job[k];

		if (wj->wake[k].rc != TW_OK) {
			snprintf(wj->detail[i], WJ_DETAIL_MAX, "wake-up of %s to %s failed: %s",
				wj->due[i].gateway_id, wj->due[i].address, wj->wake[k].e.message);
			tw_warn("worker: %s", wj->detail[i]);
		} else {
			snprintf(wj->detail[i], WJ_DETAIL_MAX, "wake-up sent to %s for gateway %s%s",
				wj->due[i].address, wj->due[i].gateway_id, wj->wake[k].previous ?
				" (signed with the previous GWA SIG key: the gateway has not installed "
				"the new certificate)" : "");
		}
	}
	/* The deadline counts from the wake-up, not from the token wait. */
	if (job_mark_awaiting(wj->store, wj->due, wj->ok, wj->detail_ptr, m, tw_now_ms(), who,
	    &e) != TW_OK)
		tw_warn("worker: cannot record %zu wake-ups: %s", m, e.message);
}

void worker_jobs_tick(struct worker_jobs *wj, int64_t now_ms)
{
	struct job_actor who = { "system:worker", "service", wj->client };

	wj_expire(wj, &who, now_ms);
	wj_wake(wj, &who, now_ms);
}

static tw_rc wj_conf(const struct tw_home *home, const char *key, long def, long min,
	long max, long *out, struct tw_error *err)
{
	return tw_config_get_long(home->conf, "worker", key, def, min, max, out, err);
}

tw_rc worker_jobs_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct worker_jobs **out, struct tw_error *err)
{
	struct worker_jobs *wj = NULL;
	long tick_ms, rate, burst, trate, tburst, batch, timeout_threshold, timeout_window;
	struct timeval tv;
	tw_rc rc;

	*out = NULL;
	if ((rc = wj_conf(home, "job_tick_ms", 100, 10, 60000, &tick_ms, err)) != TW_OK ||
	    (rc = wj_conf(home, "wakeup_rate", 200, 1, 1000000, &rate, err)) != TW_OK ||
	    (rc = wj_conf(home, "wakeup_burst", rate, 1, 1000000, &burst, err)) != TW_OK ||
	    (rc = wj_conf(home, "wakeup_tenant_rate", rate, 1, 1000000, &trate, err)) != TW_OK ||
	    (rc = wj_conf(home, "wakeup_tenant_burst", trate, 1, 1000000, &tburst, err)) != TW_OK ||
	    (rc = wj_conf(home, "job_batch", 500, 1, 100000, &batch, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "alert", "job_timeout_threshold", 10, 1,
	     1000000, &timeout_threshold, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "alert", "job_timeout_window", 300, 1, 86400,
	     &timeout_window, err)) != TW_OK)
		return rc;
	if ((wj = calloc(1, sizeof(*wj))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	wj->home = home;
	wj->store = store;
	wj->batch = (size_t)batch;
	wj->timeout_threshold = timeout_threshold;
	wj->timeout_window_ms = timeout_window * 1000;
	wj->window_start_ms = tw_now_ms();
	snprintf(wj->client, sizeof(wj->client), "local:%ld", (long)getpid());
	job_pacer_init(&wj->pacer, (double)rate, (double)burst, (double)trate, (double)tburst,
		tw_now_ms());
	wj->due = calloc(wj->batch, sizeof(*wj->due));
	wj->ok = calloc(wj->batch, sizeof(*wj->ok));
	wj->detail = calloc(wj->batch, sizeof(*wj->detail));
	wj->detail_ptr = calloc(wj->batch, sizeof(*wj->detail_ptr));
	wj->ids = calloc(wj->batch, sizeof(*wj->ids));
	wj->wake = calloc(wj->batch, sizeof(*wj->wake));
	wj->wake_job = calloc(wj->batch, sizeof(*wj->wake_job));
	wj->tick = event_new(base, -1, EV_PERSIST, wj_tick_cb, wj);
	tv.tv_sec = tick_ms / 1000;
	tv.tv_usec = (tick_ms % 1000) * 1000;
	if (wj->due == NULL || wj->ok == NULL || wj->detail == NULL || wj->detail_ptr == NULL ||
	    wj->ids == NULL || wj->wake == NULL || wj->wake_job == NULL || wj->tick == NULL ||
	    event_add(wj->tick, &tv) != 0) {
		worker_jobs_stop(wj);
		return tw_error_set(err, TW_E_NOMEM, "cannot set up the job tick");
	}
	tw_info("worker: jobs every %ld ms; wake-ups at most %ld/s (burst %ld), per tenant "
		"%ld/s (burst %ld)", tick_ms, rate, burst, trate, tburst);
	*out = wj;
	return TW_OK;
}

void worker_jobs_stop(struct worker_jobs *wj)
{
	if (wj == NULL)
		return;
	if (wj->tick != NULL)
		event_free(wj->tick);
	wakeup_sender_close(wj->sender);
	free(wj->due);
	free(wj->ok);
	free(wj->detail);
	free(wj->detail_ptr);
	free(wj->ids);
	free(wj->wake);
	free(wj->wake_job);
	free(wj);
}
