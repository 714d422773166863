/*
 * wan_orders.c: the order routes of WAN protocol v1 (docs/wan-protocol.md "Orders"):
 * GET /v1/orders hands the authenticated gateway its next job, POST /v1/orders/ID/result
 * records the outcome. The job workflow itself is gwa/job.h; this file maps HTTP to it.
 *
 * Only the TLS identity (conn->gateway_id) ever selects jobs: a gateway cannot name
 * another gateway's job (it gets the same 404 as for a missing one, and the attempt is
 * logged as a refusal). A refused request changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "base/log.h"
#include "base/util.h"
#include "gwa/job.h"
#include "gwa/order.h"
#include "wan/wan_internal.h"

#define WAN_ORDERS_REPLY_MAX (WAN_ORDER_PAYLOAD_MAX + 4096)

static void orders_who(struct wan_conn *conn, const char *peer, char *actor, size_t size,
	struct job_actor *who)
{
	snprintf(actor, size, "gateway:%s", conn->gateway_id);
	who->actor = actor;
	who->role = "smgw";
	who->client = peer;
}

/* Map a job-layer failure to an HTTP answer. */
static void orders_fail(struct evhttp_request *req, tw_rc rc, const char *message)
{
	if (rc == TW_E_NOT_FOUND)
		wan_reply_error(req, 404, "unknown_order", message, false);
	else if (rc == TW_E_EXISTS)
		wan_reply_error(req, 409, "order_closed", message, false);
	else if (rc == TW_E_INVALID)
		wan_reply_error(req, 422, "result_refused", message, false);
	else
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot process the order "
			"now; retry later", true);
}

void wan_orders_get(struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	struct wan_orders_response res;
	struct job_delivery d;
	struct job_actor who;
	struct tw_buf body;
	struct tw_error e;
	char actor[96];
	bool found = false;
	int64_t pending = 0;
	tw_rc rc;

	memset(&res, 0, sizeof(res));
	tw_buf_init(&body, WAN_ORDERS_REPLY_MAX);
	orders_who(conn, peer, actor, sizeof(actor), &who);
	rc = job_deliver(conn->thr->store, conn->gateway_id, &who, &d, &found, &pending, &e);
	if (rc != TW_OK) {
		tw_err("wan: cannot hand out an order to %s: %s", conn->gateway_id, e.message);
		orders_fail(req, TW_E_STORE, e.message);
		goto out;
	}
	res.pending_orders = (long)pending;
	if (found) {
		res.has_order = true;
		res.order.id = d.id;
		memcpy(res.order.type, d.type, sizeof(res.order.type));
		res.order.payload = d.payload;     /* ownership moves to res */
		res.order.attempt = d.attempt > 0 ? d.attempt : 1;
		tw_time_format_utc(d.deadline_ms, res.order.deadline, sizeof(res.order.deadline));
	}
	if (wan_orders_response_encode(&res, &body, &e) != TW_OK) {
		tw_err("wan: cannot encode an order for %s: %s", conn->gateway_id, e.message);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "cannot encode the order", true);
		goto out;
	}
	wan_reply_json(req, HTTP_OK, &body, false);
out:
	wan_orders_response_clear(&res);
	tw_buf_free(&body);
}

void wan_orders_result(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	const char *id_text)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct wan_order_result r;
	struct job_outcome oc;
	struct job_actor who;
	struct tw_buf body;
	struct tw_error e;
	const unsigned char *data;
	char actor[96], detail[WAN_DETAIL_MAX + 1];
	int64_t id = 0, pending = 0;
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	tw_buf_init(&body, 256);
	orders_who(conn, peer, actor, sizeof(actor), &who);
	if (wan_order_id_parse(id_text, strlen(id_text), &id, &e) != TW_OK) {
		wan_reply_error(req, HTTP_NOTFOUND, "not_found", e.message, false);
		goto out;
	}
	if (len > WAN_MESSAGE_MAX_BODY) {
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, "order result too large");
		wan_reply_error(req, 413, "too_large", "body exceeds 65536 bytes", true);
		goto out;
	}
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len > 0 && data == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		goto out;
	}
	if ((rc = wan_order_result_parse(data, len, &r, &e)) != TW_OK) {
		snprintf(detail, sizeof(detail), "malformed result of order %lld: %s",
			(long long)id, e.message);
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, detail);
		wan_reply_error(req, rc == TW_E_TOO_LARGE ? 413 : HTTP_BADREQUEST,
			wan_error_code_for(rc), e.message, false);
		goto out;
	}
	memset(&oc, 0, sizeof(oc));
	oc.ok = r.ok;
	oc.result = r.result;
	oc.code = r.code;
	oc.message = r.message;
	rc = job_complete(conn->thr->store, conn->gateway_id, id, &oc, &who, &e);
	if (rc == TW_E_NOT_FOUND) {
		/* T-AB.1-like: results only for the authenticated gateway's own jobs. */
		snprintf(detail, sizeof(detail), "result for order %lld, which is not an order of "
			"this gateway", (long long)id);
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, detail);
	} else if (rc == TW_E_EXISTS) {
		snprintf(detail, sizeof(detail), "result for order %lld refused: %s", (long long)id,
			e.message);
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, detail);
	}
	if (rc != TW_OK && rc != TW_E_INVALID) {
		if (rc != TW_E_NOT_FOUND && rc != TW_E_EXISTS)
			tw_err("wan: cannot record the result of order %lld: %s", (long long)id,
				e.message);
		orders_fail(req, rc, e.message);
		goto out;
	}
	/* TW_E_INVALID: the order type refused the result; the job is failed and logged. */
	if (store_job_count_open(conn->thr->store, conn->gateway_id, &pending, &e) != TW_OK)
		pending = 0;
	if (rc == TW_E_INVALID) {
		orders_fail(req, rc, e.message);
		goto out;
	}
	if (wan_pending_encode((long)pending, &body, &e) != TW_OK) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "cannot encode the answer", true);
		goto out;
	}
	wan_reply_json(req, HTTP_OK, &body, false);
out:
	wan_order_result_clear(&r);
	tw_buf_free(&body);
}

/* Pass each member of the session "status" to its registered hook (order.h). */
void wan_orders_session_status(struct wan_conn *conn, const void *body, size_t len)
{
	json_t *status = NULL, *v;
	const char *k;
	struct tw_error e;

	if (wan_session_status_get(body, len, &status, &e) != TW_OK || status == NULL)
		return;
	json_object_foreach(status, k, v) {
		const struct order_session_hook *h = order_session_hook_find(k);

		if (h != NULL && h->on_session(conn->thr->store, conn->gateway_id, v, &e) != TW_OK)
			tw_warn("wan: session status \"%s\" of %s not processed: %s", k,
				conn->gateway_id, e.message);
	}
	json_decref(status);
}
