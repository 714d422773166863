/*
 * dir_worker.c: the worker's publication schedule (dir.h): drain the queue every
 * [dir] publish_interval seconds; one outage alert per outage when the oldest pending
 * publication is older than [dir] alert_after seconds.
 */
#include "dir/dir.h"

#include <stdlib.h>
#include <string.h>

#include "audit/alert.h"
#include "base/log.h"
#include "base/util.h"

struct dir_worker {
	struct dir_publisher *pub;
	struct tw_store *store;
	struct event *timer;
	long alert_after_s;
	bool alerted;
	bool failing;           /* log a failure once per outage, not every interval */
};

static void dw_tick(evutil_socket_t fd, short what, void *arg)
{
	struct dir_worker *w = arg;
	struct dir_drain_result res;
	struct tw_error err;
	tw_rc rc;

	(void)fd;
	(void)what;
	rc = dir_publisher_drain(w->pub, 0, &res, &err);
	if (rc != TW_OK) {
		if (!w->failing)
			tw_warn("directory: publication paused, %lld pending: %s",
				(long long)res.pending, err.message);
		w->failing = true;
	} else {
		if (w->failing || res.published > 0 || res.crls > 0)
			tw_info("directory: %lld certificate(s) and %lld CRL(s) published, %lld pending",
				(long long)res.published, (long long)res.crls, (long long)res.pending);
		w->failing = false;
	}
	if (res.pending > 0 && res.oldest_ms > 0 &&
	    tw_now_ms() - res.oldest_ms > (int64_t)w->alert_after_s * 1000) {
		if (!w->alerted) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%lld certificate(s) wait for publication to the "
				"directory, the oldest for more than %ld s (%s); check slapd and "
				"`torwart dir status`", (long long)res.pending, w->alert_after_s,
				rc != TW_OK ? err.message : "no error");
			if (alert_raise(w->store, ALERT_OUTAGE, NULL, "directory", msg, &err) != TW_OK)
				tw_err("cannot queue the directory alert: %s", err.message);
			w->alerted = true;
		}
	} else if (res.pending == 0) {
		w->alerted = false;
	}
}

tw_rc dir_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct dir_worker **out, struct tw_error *err)
{
	const char *on = tw_config_get(home->conf, "dir", "publish");
	bool enabled = tw_config_get(home->conf, "dir", "ldapi") != NULL ||
		tw_config_get(home->conf, "dir", "listen") != NULL;
	struct dir_worker *w = NULL;
	long interval = 5;
	struct timeval tv;
	tw_rc rc;

	*out = NULL;
	if (on != NULL) {
		if (strcmp(on, "yes") != 0 && strcmp(on, "no") != 0)
			return tw_error_set(err, TW_E_CONFIG, "[dir] publish = %s: use yes or no", on);
		enabled = strcmp(on, "yes") == 0;
	}
	if (!enabled)
		return TW_OK;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	w->store = store;
	if ((rc = tw_config_get_long(home->conf, "dir", "publish_interval", 5, 1, 3600,
	    &interval, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "dir", "alert_after", 600, 1, 30L * 86400,
	    &w->alert_after_s, err)) != TW_OK ||
	    (rc = dir_publisher_new(home, store, &w->pub, err)) != TW_OK)
		goto fail;
	tv.tv_sec = interval;
	tv.tv_usec = 0;
	if ((w->timer = event_new(base, -1, EV_PERSIST, dw_tick, w)) == NULL ||
	    event_add(w->timer, &tv) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot schedule directory publication");
		goto fail;
	}
	tw_info("directory publication every %ld s", interval);
	*out = w;
	return TW_OK;
fail:
	dir_worker_stop(w);
	return rc;
}

void dir_worker_stop(struct dir_worker *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	dir_publisher_free(w->pub);
	free(w);
}
