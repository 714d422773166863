/*
 * wan_http.c: HTTP routing and the handlers of WAN protocol v1 (docs/wan-protocol.md).
 *
 * libevent's evhttp parses HTTP (we never do); this file decides what a request means.
 * Every answer is JSON; every error is {"error":{"code","message"}} and changes nothing.
 * Bodies are decoded only by wan_message.c.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/util.h"
#include "store/store_jobs.h"
#include "wan/wan_internal.h"
#include "wan/wan_metrics.h"
#include "wan/wan_metering.h"
#include "wan/wan_monitor.h"
#include "wan/wan_firmware.h"

/* The answer buffer holds at most an error or a session answer; far below this. */
#define WAN_REPLY_MAX 4096

void wan_refuse(struct wan_thread *thr, const char *gateway_id, const char *client,
	const char *object, const char *detail)
{
	wan_metrics_refusal(detail);
	tw_warn("wan: refused %s%s from %s: %s", gateway_id != NULL ? "gateway " : "unknown peer",
		gateway_id != NULL ? gateway_id : "", client != NULL ? client : "?", detail);
	wan_journal_add(thr, gateway_id, client, "wan.refuse", object, "refused", detail);
}

void wan_refuse_emt(struct wan_thread *thr, const char *emt_id, const char *client,
	const char *object, const char *detail)
{
	wan_metrics_refusal(detail);
	tw_warn("wan: refused EMT %s from %s: %s", emt_id != NULL ? emt_id : "(unknown)",
		client != NULL ? client : "?", detail);
	wan_journal_add_emt(thr, emt_id, client, "wan.refuse", object, "refused", detail);
}

void wan_reply_json(struct evhttp_request *req, int code, const struct tw_buf *body,
	bool close)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (close)
		evhttp_add_header(h, "Connection", "close");
	if (out != NULL && body != NULL && body->len > 0)
		evbuffer_add(out, body->data, body->len);
	evhttp_send_reply(req, code, NULL, out);
	evbuffer_free(out);
}

void wan_reply_error(struct evhttp_request *req, int code, const char *ecode,
	const char *message, bool close)
{
	struct tw_buf body;

	tw_buf_init(&body, WAN_REPLY_MAX);
	if (wan_error_encode(ecode, message, &body, NULL) != TW_OK)
		tw_buf_reset(&body);
	wan_reply_json(req, code, &body, close);
	tw_buf_free(&body);
}

/*
 * The database is unavailable (an outage, PostgreSQL restarting, SQLite locked beyond its
 * busy timeout): nothing was done for this request, the gateway should come back soon.
 * Retry-After spreads the fleet's return over a few seconds.
 */
void wan_reply_unavailable(struct evhttp_request *req)
{
	char after[8];

	snprintf(after, sizeof(after), "%u", 5u + (unsigned)(tw_monotonic_ms() % 26));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", after);
	wan_reply_error(req, 503, "unavailable", "the GWA's database is unavailable; nothing "
		"was changed, retry later", true);
}

#define reply wan_reply_json
#define reply_error wan_reply_error

bool wan_content_type_json(struct evhttp_request *req)
{
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req),
		"Content-Type");
	size_t n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* POST /v1/session: the gateway says who it is; we check it against its certificate. */
static void session_open(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct wan_session_request sreq;
	struct wan_session_response sres;
	unsigned char rnd[16];
	char detail[WAN_DETAIL_MAX + 1];
	struct tw_buf body;
	struct tw_error e;
	const unsigned char *data;
	const char *peer = wan_conn_peer(conn, ssl);
	int64_t now = tw_now_ms(), started = tw_monotonic_ms();
	json_t *status = NULL;
	tw_rc rc;

	tw_buf_init(&body, WAN_REPLY_MAX);
	if (!wan_content_type_json(req)) {
		reply_error(req, 415, "unsupported_media_type",
			"Content-Type must be application/json", false);
		goto out;
	}
	if (len > WAN_MESSAGE_MAX_BODY) {
		reply_error(req, 413, "too_large", "body exceeds 65536 bytes", true);
		goto out;
	}
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len > 0 && data == NULL) {
		reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		goto out;
	}
	/* One parse: the status object goes to the hooks from it. */
	rc = wan_session_request_parse_status(data, len, &sreq, &status, &e);
	if (rc != TW_OK) {
		reply_error(req, rc == TW_E_TOO_LARGE ? 413 : HTTP_BADREQUEST,
			wan_error_code_for(rc), e.message, false);
		goto out;
	}
	/* The body may not claim another identity than the certificate proved (T-VA.1). */
	if (strcmp(sreq.gateway_id, conn->gateway_id) != 0) {
		wan_refuse(conn->thr, conn->gateway_id, peer, sreq.gateway_id, "identity mismatch");
		reply_error(req, 403, "identity_mismatch",
			"gateway_id does not match the TLS client certificate", true);
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		reply_error(req, HTTP_INTERNAL, "internal", "no randomness for a session id", true);
		goto out;
	}
	tw_hex_encode(rnd, sizeof(rnd), conn->session);
	if (conn->renewal_proof)
		wan_renewal_proof(conn, peer);

	memset(&sres, 0, sizeof(sres));
	sres.protocol = WAN_PROTOCOL_VERSION;
	snprintf(sres.session, sizeof(sres.session), "%s", conn->session);
	tw_time_format_utc(now, sres.server_time, sizeof(sres.server_time));
	{
		int64_t pending = 0;

		/* The session still opens if the count fails; the gateway asks again. */
		if (store_job_count_open(conn->thr->store, conn->gateway_id, &pending, &e) != TW_OK)
			tw_warn("wan: cannot count the orders of %s: %s", conn->gateway_id, e.message);
		sres.pending_orders = (long)pending;
	}
	if (wan_session_response_encode(&sres, &body, &e) != TW_OK) {
		tw_err("wan: cannot encode a session answer: %s", e.message);
		reply_error(req, HTTP_INTERNAL, "internal", "cannot encode the answer", true);
		goto out;
	}
	wan_journal_touch(conn->thr, conn->gateway_id, now, peer);
	snprintf(detail, sizeof(detail), "firmware %s, clock offset %lld ms",
		sreq.firmware_version, (long long)(sreq.time_ms - now));
	wan_journal_add(conn->thr, conn->gateway_id, peer, "wan.session.open",
		conn->gateway_id, "ok", detail);
	wan_orders_session_status(conn, status);
	reply(req, HTTP_OK, &body, false);
	wan_metrics_session((uint64_t)(tw_monotonic_ms() - started) * 1000);
out:
	json_decref(status);
	tw_buf_free(&body);
}

/* Allow-header, 405 answer. */
static void method_not_allowed(struct evhttp_request *req, const char *allow)
{
	char msg[32];

	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	snprintf(msg, sizeof(msg), "use %s", allow);
	reply_error(req, HTTP_BADMETHOD, "method_not_allowed", msg, false);
}

void wan_http_request(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct wan_conn *conn = wan_conn_get(ssl);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	(void)arg;
	/* Identification could not ask the database: no service, only "retry later". */
	if (conn != NULL && conn->store_down && !conn->refused) {
		wan_reply_unavailable(req);
		return;
	}
	/*
	 * No TLS state (the accept fallback in wan.c), or a resumed session whose gateway
	 * was refused at handshake completion: answer nothing of substance.
	 */
	if (conn == NULL || !conn->identified || conn->refused) {
		reply_error(req, 403, "not_authenticated", "no authenticated gateway", true);
		return;
	}
	/* Each principal kind has its own routes; an EMT never reaches a gateway route. */
	if (conn->kind == WAN_PRINCIPAL_EMT) {
		wan_emt_route(req, conn, ssl, path);
		return;
	}
	if (conn->kind != WAN_PRINCIPAL_GATEWAY) {
		reply_error(req, 403, "not_authenticated", "no authenticated gateway", true);
		return;
	}
	/* ... and a gateway never reaches an EMT route (logged: it is not lost, it probes). */
	if (path != NULL && (strcmp(path, "/v1/emt") == 0 || strncmp(path, "/v1/emt/", 8) == 0)) {
		wan_refuse(conn->thr, conn->gateway_id, wan_conn_peer(conn, ssl), path,
			"gateway on an EMT route");
		reply_error(req, 403, "wrong_principal", "this resource is for EMTs, not gateways",
			false);
		return;
	}
	if (path != NULL && strcmp(path, "/v1/session") == 0) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
			method_not_allowed(req, "POST");
		else
			session_open(req, conn, ssl);
		return;
	}
	/* Orders need an opened session on this connection (POST /v1/session first). */
	if (path != NULL && strcmp(path, "/v1/orders") == 0) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
			method_not_allowed(req, "GET");
		else if (conn->session[0] == '\0')
			reply_error(req, 409, "no_session", "open a session first (POST /v1/session)",
				false);
		else
			wan_orders_get(req, conn, wan_conn_peer(conn, ssl));
		return;
	}
	if (path != NULL && strncmp(path, "/v1/orders/", 11) == 0) {
		const char *id = path + 11;
		size_t n = strcspn(id, "/");

		if (n > 0 && n <= WAN_ORDER_ID_MAX && strcmp(id + n, "/result") == 0) {
			char idbuf[WAN_ORDER_ID_MAX + 1];

			memcpy(idbuf, id, n);
			idbuf[n] = '\0';
			if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
				method_not_allowed(req, "POST");
			else if (conn->session[0] == '\0')
				reply_error(req, 409, "no_session", "open a session first "
					"(POST /v1/session)", false);
			else if (!wan_content_type_json(req))
				reply_error(req, 415, "unsupported_media_type",
					"Content-Type must be application/json", false);
			else
				wan_orders_result(req, conn, wan_conn_peer(conn, ssl), idbuf);
			return;
		}
	}
	if (wan_monitor_route(req, conn, ssl, path))   /* POST /v1/alarms (wan_monitor.c) */
		return;
	if (wan_firmware_route(req, conn, ssl, path))  /* GET /v1/firmware/ID (wan_firmware.c) */
		return;
	if (wan_metering_route(req, conn, ssl, path))  /* values, time (wan_metering.c) */
		return;
	reply_error(req, HTTP_NOTFOUND, "not_found", "no such resource", false);
}
