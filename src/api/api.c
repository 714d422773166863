/*
 * api.c: the operator-facing HTTP service, today reduced to what can be offered without
 * operator authentication (issue 5): a health endpoint for load balancers and monitoring.
 * Nothing that names a gateway or a certificate is served before authentication exists.
 */
#include "api/api.h"
#include "api/api_console.h"
#include "api/api_crl.h"
#include "api/api_operator.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "base/log.h"
#include "base/util.h"
#include "dir/dir.h"
#include "net/conn_guard.h"
#include "net/metrics_http.h"
#include "store/store.h"
#include "ws/ws.h"

/* [api] http_max_connections / http_max_connections_per_source defaults. */
#define API_HTTP_DEFAULT_MAX_CONNS  1024
#define API_HTTP_DEFAULT_PER_SOURCE 64

struct api_ctx {
	struct tw_store *store;
	struct event_base *base;
	struct conn_guard *guard;   /* the plain listener's caps and lifetime deadline */
};

/*
 * Plain-HTTP connections (/health, /crl/...) are tracked like the TLS ones: a cap per
 * source and in total, and one hard deadline ([api] http_request_timeout) for the whole
 * connection, since these requests are single small GETs.
 */
static struct bufferevent *api_http_bevcb(struct event_base *base, void *arg)
{
	struct api_ctx *ctx = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (bev != NULL && !conn_guard_track(ctx->guard, base, bev, NULL, NULL, NULL)) {
		/* Out of memory: evhttp makes its own bufferevent, untracked (logged). */
		tw_err("api: out of memory tracking a plain-HTTP connection");
		bufferevent_free(bev);
		bev = NULL;
	}
	return bev;
}



static void api_send_json(struct evhttp_request *req, int code, const char *reason,
	json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = json_dumps(body, JSON_COMPACT);

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && text != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, code, reason, out);
	free(text);
	if (out != NULL)
		evbuffer_free(out);
}

static void api_health(struct evhttp_request *req, void *arg)
{
	struct api_ctx *ctx = arg;
	struct tw_error err;
	int version = 0;
	json_t *body;
	int ok;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		body = json_pack("{s:{s:s,s:s}}", "error", "code", "method-not-allowed", "message",
			"use GET");
		api_send_json(req, 405, "Method Not Allowed", body);
		json_decref(body);
		return;
	}
	ok = store_schema_version(ctx->store, &version, &err) == TW_OK;
	body = json_pack("{s:s,s:s,s:i}", "status", ok ? "ok" : "degraded", "service", "api",
		"schema_version", version);
	api_send_json(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", body);
	json_decref(body);
}

static void api_not_found(struct evhttp_request *req, void *arg)
{
	json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "not-found", "message",
		"no such resource; see docs/architecture.md for what api serves today");

	(void)arg;
	api_send_json(req, 404, "Not Found", body);
	json_decref(body);
}

static void api_on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct api_ctx *ctx = arg;

	(void)events;
	tw_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(ctx->base);
}

tw_rc api_run(const struct tw_home *home, struct tw_error *err)
{
	struct api_ctx ctx = { 0 };
	struct evhttp *http = NULL;
	struct api_operator *operator_api = NULL;   /* HTTPS, [api] tls_listen */
	struct api_console *console = NULL;         /* web console, [console] listen */
	struct ws_service *ws = NULL;               /* SM-PKI web service, [ws] listen */
	struct dir_front *dir = NULL;               /* LDAPS directory front end, [dir] listen */
	struct metrics_http *metrics = NULL;        /* [metrics] api_listen */
	struct event *sigterm = NULL, *sigint = NULL;
	struct conn_guard_limits lim;
	char *store_url = NULL, *host = NULL;
	uint16_t port = 0;
	tw_rc rc;

	rc = tw_parse_hostport(tw_config_get_or(home->conf, "api", "listen",
		TW_DEFAULT_API_LISTEN), &host, &port, err);
	if (rc != TW_OK)
		goto out;
	/* The commands run for remote operators log in with the api's database role too
	 * ([store] url_api; base/home.c). */
	if (setenv("TORWART_STORE_SERVICE", "api", 1) != 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	store_url = tw_home_store_url(home);
	if (store_url == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = store_open_wait(home, store_url, &ctx.store, err)) != TW_OK)
		goto out;
	if ((rc = conn_guard_limits_load(home->conf, "api", "http_", API_HTTP_DEFAULT_MAX_CONNS,
	    API_HTTP_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK)
		goto out;
	conn_guard_fit_nofile("api", 256 + lim.max_conns, &lim);
	if ((rc = conn_guard_new("api-http", &lim, &ctx.guard, err)) != TW_OK)
		goto out;
	ctx.base = event_base_new();
	http = ctx.base ? evhttp_new(ctx.base) : NULL;
	if (http == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the HTTP server");
		goto out;
	}
	evhttp_set_max_headers_size(http, 16 * 1024);
	evhttp_set_max_body_size(http, 64 * 1024);
	evhttp_set_timeout(http, 30);
	evhttp_set_bevcb(http, api_http_bevcb, &ctx);
	evhttp_set_cb(http, "/health", api_health, &ctx);
	if ((rc = api_crl_register(http, home, ctx.store, err)) != TW_OK)   /* /crl/<ca>.crl */
		goto out;
	evhttp_set_gencb(http, api_not_found, &ctx);
	if (evhttp_bind_socket(http, host, port) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s:%u (in use? see [api] listen)",
			host, port);
		goto out;
	}
	if ((rc = api_operator_start(ctx.base, home, ctx.store, &operator_api, err)) != TW_OK ||
	    (rc = api_console_start(ctx.base, home, ctx.store, operator_api, &console, err)) !=
	    TW_OK ||
	    (rc = ws_service_start(ctx.base, home, ctx.store, &ws, err)) != TW_OK ||
	    (rc = dir_front_start(ctx.base, home, ctx.store, &dir, err)) != TW_OK ||
	    (rc = metrics_http_start(ctx.base, home, "api", api_operator_metrics, operator_api,
	    &metrics, err)) != TW_OK)
		goto out;
	/*
	 * A peer that is gone when we write (a shed or expired connection, a client that
	 * dropped) must be EPIPE for that connection, not SIGPIPE for the whole api.
	 */
	signal(SIGPIPE, SIG_IGN);
	sigterm = evsignal_new(ctx.base, SIGTERM, api_on_signal, &ctx);
	sigint = evsignal_new(ctx.base, SIGINT, api_on_signal, &ctx);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot install signal handlers");
		goto out;
	}
	tw_info("api listening on %s:%u", host, port);
	event_base_dispatch(ctx.base);
	rc = TW_OK;
out:
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	metrics_http_stop(metrics);
	if (http != NULL)
		evhttp_free(http);
	api_console_free(console);
	api_operator_free(operator_api);
	ws_service_free(ws);
	dir_front_free(dir);
	if (ctx.base != NULL)
		event_base_free(ctx.base);
	conn_guard_free(ctx.guard);   /* after the base: its last connections release it */
	store_close(ctx.store);
	free(store_url);
	free(host);
	return rc;
}
