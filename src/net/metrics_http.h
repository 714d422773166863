/*
 * metrics_http.h: the loopback-only plain-HTTP listener that serves GET /metrics of one
 * service (docs/monitoring.md, "Service metrics").
 *
 * Configured per service in torwart.conf:
 *
 *   [metrics]
 *   wan_listen    = 127.0.0.1:9461
 *   api_listen    = 127.0.0.1:9462
 *   worker_listen = 127.0.0.1:9463
 *
 * A service whose key is unset serves no metrics. The address must be a loopback one
 * (127.0.0.0/8, ::1, localhost): metrics name gateways' counts, CAs and queue sizes, which
 * are not secrets but are nobody else's business; a scraper elsewhere goes through a
 * reverse proxy or an SSH tunnel that the operator sets up on purpose. Metrics never
 * contain keys, tokens, PINs or personal data.
 */
#ifndef TORWART_NET_METRICS_HTTP_H
#define TORWART_NET_METRICS_HTTP_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "base/util.h"

struct metrics_http;

/*
 * Append the service's samples to out. Runs on the listener's loop: the caller's own
 * loop (base given to metrics_http_start) or the listener's thread (base NULL), where
 * it may read atomics only.
 */
typedef tw_rc (*metrics_render_fn)(struct tw_buf *out, void *arg, struct tw_error *err);

/*
 * Start serving `[metrics] <service>_listen` (service: "wan", "api", "worker"). base:
 * serve on that loop; NULL: on a thread of its own (with all signals blocked). *out
 * stays NULL when the key is unset. A non-loopback address is TW_E_CONFIG.
 */
tw_rc metrics_http_start(struct event_base *base, const struct tw_home *home,
	const char *service, metrics_render_fn render, void *arg, struct metrics_http **out,
	struct tw_error *err);
/* Stop listening (and join the thread). NULL is fine. */
void metrics_http_stop(struct metrics_http *m);

/* True when host is a loopback address or "localhost" (exposed for the unit test). */
bool metrics_http_loopback(const char *host);

#endif
