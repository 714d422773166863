/*
 * metrics_http.c: GET /metrics on a loopback listener (see metrics_http.h).
 */
#include "net/metrics_http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "base/log.h"
#include "base/metrics.h"

/* How often the own thread looks at its stop flag. */
#define METRICS_STOP_POLL_MS 200
/* One scrape's text; far above what a service renders. */
#define METRICS_MAX_BYTES (4 * 1024 * 1024)

struct metrics_http {
	char service[16];
	metrics_render_fn render;
	void *arg;
	struct event_base *base;   /* the loop it runs on */
	bool own_base;             /* base and thread are ours */
	struct evhttp *http;
	struct event *poll;        /* own thread: the stop check */
	pthread_t tid;
	bool started;
	atomic_bool stop;
	int64_t start_s;
	atomic_uint_fast64_t scrapes;
};

bool metrics_http_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (host == NULL)
		return false;
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

static void metrics_send(struct evhttp_request *req, int code, const char *reason,
	const char *type, const void *data, size_t len)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && len > 0)
		evbuffer_add(out, data, len);
	evhttp_send_reply(req, code, reason, out);
	if (out != NULL)
		evbuffer_free(out);
}

static void metrics_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *m = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct tw_buf out;
	struct tw_error err;
	tw_rc rc;

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		metrics_send(req, 404, "Not Found", "text/plain", "only /metrics here\n", 19);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		metrics_send(req, 405, "Method Not Allowed", "text/plain", "use GET\n", 8);
		return;
	}
	tw_counter_add(&m->scrapes, 1);
	tw_buf_init(&out, METRICS_MAX_BYTES);
	rc = tw_metrics_family(&out, "torwart_up", "gauge", "1 while the service runs", &err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(&out, "torwart_up", "service", m->service, 1, &err);
	if (rc == TW_OK)
		rc = tw_metrics_family(&out, "torwart_start_time_seconds", "gauge",
			"when the service started (seconds since the epoch)", &err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(&out, "torwart_start_time_seconds", "service", m->service,
			(uint64_t)m->start_s, &err);
	if (rc == TW_OK)
		rc = tw_metrics_family(&out, "torwart_metrics_scrapes_total", "counter",
			"scrapes of this /metrics", &err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(&out, "torwart_metrics_scrapes_total", "service",
			m->service, atomic_load(&m->scrapes), &err);
	if (rc == TW_OK && m->render != NULL)
		rc = m->render(&out, m->arg, &err);
	if (rc != TW_OK) {
		/* A failed scrape is visible to Prometheus (up == 0), and the reason is here. */
		tw_warn("metrics (%s): cannot render: %s", m->service, err.message);
		metrics_send(req, 500, "Internal Server Error", "text/plain", "cannot render\n", 14);
	} else {
		metrics_send(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", out.data,
			out.len);
	}
	tw_buf_free(&out);
}

static void metrics_poll(evutil_socket_t fd, short what, void *arg)
{
	struct metrics_http *m = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&m->stop))
		event_base_loopbreak(m->base);
}

static void *metrics_thread(void *arg)
{
	struct metrics_http *m = arg;

	event_base_dispatch(m->base);
	return NULL;
}

tw_rc metrics_http_start(struct event_base *base, const struct tw_home *home,
	const char *service, metrics_render_fn render, void *arg, struct metrics_http **out,
	struct tw_error *err)
{
	char key[32];
	const char *listen;
	struct metrics_http *m = NULL;
	char *host = NULL;
	uint16_t port = 0;
	tw_rc rc;

	*out = NULL;
	snprintf(key, sizeof(key), "%s_listen", service);
	if ((listen = tw_config_get(home->conf, "metrics", key)) == NULL)
		return TW_OK;
	if ((rc = tw_parse_hostport(listen, &host, &port, err)) != TW_OK) {
		tw_error_set(err, rc, "[metrics] %s: %s", key, err->message);
		goto out;
	}
	if (!metrics_http_loopback(host)) {
		rc = tw_error_set(err, TW_E_CONFIG, "[metrics] %s = %s: metrics are served on a "
			"loopback address only (127.0.0.1, ::1); put a reverse proxy or tunnel in "
			"front for a remote Prometheus (docs/monitoring.md)", key, listen);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(m->service, sizeof(m->service), "%s", service);
	m->render = render;
	m->arg = arg;
	m->start_s = tw_now_ms() / 1000;
	atomic_init(&m->stop, false);
	atomic_init(&m->scrapes, 0);
	m->own_base = base == NULL;
	m->base = base != NULL ? base : event_base_new();
	if (m->base == NULL || (m->http = evhttp_new(m->base)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the metrics listener");
		goto out;
	}
	evhttp_set_max_headers_size(m->http, 8 * 1024);
	evhttp_set_max_body_size(m->http, 0);
	/* POST is let through only to be answered 405 (evhttp would say 501). */
	evhttp_set_timeout(m->http, 10);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_gencb(m->http, metrics_request, m);
	if (evhttp_bind_socket(m->http, host, port) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s:%u (in use? see [metrics] %s)",
			host, port, key);
		goto out;
	}
	if (m->own_base) {
		struct timeval every = { 0, METRICS_STOP_POLL_MS * 1000 };
		sigset_t all, old;
		int e;

		if ((m->poll = event_new(m->base, -1, EV_PERSIST, metrics_poll, m)) == NULL ||
		    event_add(m->poll, &every) != 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "cannot set up the metrics thread");
			goto out;
		}
		/* The process's signals stay with its main thread. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		e = pthread_create(&m->tid, NULL, metrics_thread, m);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (e != 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot start the metrics thread: %s",
				strerror(e));
			goto out;
		}
		m->started = true;
	}
	tw_info("%s: metrics on http://%s:%u/metrics", service, host, port);
	*out = m;
	m = NULL;
	rc = TW_OK;
out:
	metrics_http_stop(m);
	free(host);
	return rc;
}

void metrics_http_stop(struct metrics_http *m)
{
	if (m == NULL)
		return;
	if (m->started) {
		atomic_store(&m->stop, true);
		pthread_join(m->tid, NULL);
	}
	if (m->poll != NULL)
		event_free(m->poll);
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->own_base && m->base != NULL)
		event_base_free(m->base);
	free(m);
}
