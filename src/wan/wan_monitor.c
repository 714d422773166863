/*
 * wan_monitor.c: POST /v1/alarms: alarms and notifications sent by a gateway
 * (UC-3.2.3), acknowledged with the id under which they are stored.
 *
 * Attribution (T-AB.1): the message is stored under the gateway the TLS handshake
 * identified; a body naming another gateway is refused with 403 and logged as
 * wan.refuse. Storing is a synchronous store transaction on the loop's own store
 * connection: alarms are rare, and the gateway must only get its acknowledgement once
 * the alarm and its admin-log entry are durable.
 */
#include "wan/wan_monitor.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "base/log.h"
#include "gwa/monitor.h"
#include "gwa/profile_orders.h"

#define WAN_MONITOR_REPLY_MAX 256

static void alarm_post(struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct monitor_message m;
	const unsigned char *data;
	struct tw_buf body;
	struct tw_error e;
	int64_t ack = 0;
	tw_rc rc;

	tw_buf_init(&body, WAN_MONITOR_REPLY_MAX);
	if (!wan_content_type_json(req)) {
		wan_reply_error(req, 415, "unsupported_media_type",
			"Content-Type must be application/json", false);
		goto out;
	}
	if (len > MONITOR_BODY_MAX) {
		wan_reply_error(req, 413, "too_large", "body exceeds 65536 bytes", true);
		goto out;
	}
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len > 0 && data == NULL) {
		wan_reply_error(req, 500, "internal", "out of memory", true);
		goto out;
	}
	if ((rc = monitor_message_parse(data, len, &m, &e)) != TW_OK) {
		wan_reply_error(req, rc == TW_E_TOO_LARGE ? 413 : 400, rc == TW_E_TOO_LARGE ?
			"too_large" : rc == TW_E_PROTOCOL ? "bad_json" : "invalid_request", e.message,
			false);
		goto out;
	}
	rc = monitor_receive(conn->thr->store, profile_orders_monitor_conf(), conn->gateway_id,
		peer, &m, &ack, &e);
	if (rc == TW_E_DENIED) {
		wan_refuse(conn->thr, conn->gateway_id, peer, m.gateway_id,
			"identity mismatch (alarm)");
		wan_reply_error(req, 403, "identity_mismatch",
			"gateway_id does not match the TLS client certificate", true);
		goto out;
	}
	if (rc != TW_OK) {
		tw_err("wan: cannot store an alarm of %s: %s", conn->gateway_id, e.message);
		wan_reply_error(req, 500, "internal", "the alarm could not be stored; send it again",
			false);
		goto out;
	}
	if (tw_buf_appendf(&body, &e, "{\"ack\":%lld}", (long long)ack) != TW_OK) {
		wan_reply_error(req, 500, "internal", "cannot encode the answer", false);
		goto out;
	}
	wan_reply_json(req, 200, &body, false);
out:
	tw_buf_free(&body);
}

bool wan_monitor_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path)
{
	if (path == NULL || strcmp(path, "/v1/alarms") != 0)
		return false;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		wan_reply_error(req, 405, "method_not_allowed", "use POST", false);
	} else if (conn->session[0] == '\0') {
		wan_reply_error(req, 409, "no_session", "open a session first (POST /v1/session)",
			false);
	} else {
		alarm_post(req, conn, wan_conn_peer(conn, ssl));
	}
	return true;
}
