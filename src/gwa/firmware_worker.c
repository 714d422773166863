/*
 * firmware_worker.c: the worker's daily firmware check (M-4.5.19, firmware.h
 * firmware_check_all): every stored image is re-hashed and its manufacturer container
 * verified again with the CRLs current then, once at the worker's start and every
 * [firmware] check_interval seconds (default 86400 = daily, 60 .. 604800). Failures are
 * logged and alerted by firmware_check_all; this file only schedules. It also drives the
 * staged rollouts (gwa/rollout.h): rollout_tick every [rollout] tick_ms (default 1000),
 * with the maintenance windows of the configuration read once at the start.
 */
#include "gwa/firmware_worker.h"

#include <stdlib.h>

#include <event2/event.h>

#include "base/config.h"
#include "base/log.h"
#include "gwa/firmware.h"
#include "gwa/rollout.h"
#include "base/util.h"

struct firmware_worker {
	const struct tw_home *home;
	struct tw_store *store;
	struct event *timer;
	struct event *rollouts;
	struct rollout_windows *windows;   /* [rollout] window, [rollout.window.*] */
};

static void fw_worker_rollouts(evutil_socket_t fd, short events, void *arg)
{
	struct firmware_worker *w = arg;
	struct tw_error err;
	int changed = 0;

	(void)fd;
	(void)events;
	tw_error_clear(&err);
	if (rollout_tick(w->store, w->windows, tw_now_ms(), &changed, &err) != TW_OK)
		tw_warn("rollouts: %s", err.message);
	else if (changed > 0)
		tw_debug("rollouts: %d changes", changed);
}

static void fw_worker_fire(evutil_socket_t fd, short events, void *arg)
{
	static const struct firmware_actor who = { .actor = "system:worker", .role = "service",
		.client = "local" };
	struct firmware_worker *w = arg;
	struct tw_error err;
	int checked = 0, failed = 0;

	(void)fd;
	(void)events;
	tw_error_clear(&err);
	if (firmware_check_all(w->home, w->store, &who, &checked, &failed, &err) != TW_OK)
		tw_warn("firmware check could not run: %s", err.message);
	else if (failed > 0)
		tw_err("firmware check: %d of %d images FAILED (alert raised; see the admin log, "
			"firmware.check)", failed, checked);
	else if (checked > 0)
		tw_info("firmware check: %d images ok", checked);
}

tw_rc firmware_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct firmware_worker **out, struct tw_error *err)
{
	struct firmware_worker *w = NULL;
	struct timeval every = { 0, 0 }, tick = { 0, 0 };
	long interval = 0, tick_ms = 0;
	tw_rc rc;

	*out = NULL;
	if ((rc = tw_config_get_long(home->conf, "firmware", "check_interval", 86400, 60,
		604800, &interval, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "rollout", "tick_ms", 1000, 50, 60000, &tick_ms,
		err)) != TW_OK)
		return rc;
	tick.tv_sec = tick_ms / 1000;
	tick.tv_usec = (tick_ms % 1000) * 1000;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	w->home = home;
	w->store = store;
	if ((rc = rollout_windows_load(home->conf, &w->windows, err)) != TW_OK) {
		firmware_worker_stop(w);
		return rc;
	}
	every.tv_sec = interval;
	if ((w->timer = event_new(base, -1, EV_PERSIST, fw_worker_fire, w)) == NULL ||
	    event_add(w->timer, &every) != 0 ||
	    (w->rollouts = event_new(base, -1, EV_PERSIST, fw_worker_rollouts, w)) == NULL ||
	    event_add(w->rollouts, &tick) != 0) {
		firmware_worker_stop(w);
		return tw_error_set(err, TW_E_INTERNAL, "cannot set up the firmware check timer");
	}
	fw_worker_fire(-1, 0, w);
	*out = w;
	return TW_OK;
}

void firmware_worker_stop(struct firmware_worker *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	if (w->rollouts != NULL)
		event_free(w->rollouts);
	rollout_windows_free(w->windows);
	free(w);
}
