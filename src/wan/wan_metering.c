/*
 * wan_metering.c: metering messages and the time exchange on a gateway connection.
 *
 * POST /v1/metering/values: the message is parsed and checked (metering_prepare:
 * identity, authorisation, the gateway's signature; on this thread, outside any
 * transaction), then its row joins the thread's batch transaction (wan_orders.c: group
 * commit with the other values and order requests queued meanwhile) and is acknowledged
 * only after that transaction committed: an ack means the GWA holds the message durably
 * and will deliver it (docs/metering.md "Guarantees"). A resend of the same message id
 * and bytes is acknowledged again with the same ack id ("duplicate": true).
 *
 * POST /v1/time: served only while the GWA's own clock is checked and in bounds (the
 * newest time_checks row is ok and still valid); one exchange per gateway per
 * [time] min_interval_s (T-PTB.3); every refusal is recorded for the gateway (T-PTB.2).
 */
#include "wan/wan_metering.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "base/log.h"
#include "base/util.h"
#include "metering/metering.h"
#include "metering/timesvc.h"
#include "store/store_metering.h"

#define WAN_METERING_REPLY_MAX 1024

static long time_min_interval_s = 60;
static long time_max_offset_ms = 1000;
static long metering_batch_max = 64;
static long metering_batch_ms = 5;

long wan_metering_batch_max(void)
{
	return metering_batch_max;
}

long wan_metering_batch_ms(void)
{
	return metering_batch_ms;
}

tw_rc wan_metering_configure(const struct tw_config *conf, struct tw_error *err)
{
	tw_rc rc = tw_config_get_long(conf, "time", "min_interval_s", 60, 0, 86400,
		&time_min_interval_s, err);

	if (rc == TW_OK)
		rc = tw_config_get_long(conf, "time", "max_offset_ms", 1000, 1, 3600000,
			&time_max_offset_ms, err);
	/* Group commit bounds: at most 64 values per transaction (the batch holds 128
	 * requests in all), a value waits at most 100 ms for its commit. */
	if (rc == TW_OK)
		rc = tw_config_get_long(conf, "wan", "metering_batch", 64, 1, 64,
			&metering_batch_max, err);
	if (rc == TW_OK)
		rc = tw_config_get_long(conf, "wan", "metering_batch_ms", 5, 0, 100,
			&metering_batch_ms, err);
	return rc;
}

/* The body of req (NULL with len 0 when empty); false: answered already. */
static bool wm_body(struct evhttp_request *req, size_t max, const unsigned char **data,
	size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	*len = evbuffer_get_length(in);
	*data = NULL;
	if (!wan_content_type_json(req)) {
		wan_reply_error(req, 415, "unsupported_media_type",
			"Content-Type must be application/json", false);
		return false;
	}
	if (*len > max) {
		wan_reply_error(req, 413, "too_large", "body exceeds its limit", true);
		return false;
	}
	if (*len > 0 && (*data = evbuffer_pullup(in, (ev_ssize_t)*len)) == NULL) {
		wan_reply_error(req, 500, "internal", "out of memory", true);
		return false;
	}
	return true;
}

static void wm_reply_text(struct evhttp_request *req, int code, const char *text)
{
	struct tw_buf body;
	struct tw_error e;

	tw_buf_init(&body, WAN_METERING_REPLY_MAX);
	if (tw_buf_append(&body, text, strlen(text), &e) != TW_OK)
		wan_reply_error(req, 500, "internal", "cannot encode the answer", false);
	else
		wan_reply_json(req, code, &body, false);
	tw_buf_free(&body);
}

/* Log a refusal of a value and answer it; code 500 is logged as an error. */
static void values_refuse(struct wan_thread *thr, struct evhttp_request *req,
	const char *gateway_id, const char *peer, const char *object, int code,
	const char *ecode, const char *message)
{
	if (code == 500)
		tw_err("wan: cannot store a metering message of %s: %s", gateway_id, message);
	wan_journal_add(thr, gateway_id, peer, "metering.receive", object, "refused", message);
	wan_reply_error(req, code, ecode, code == 500 ? "the message could not be stored; "
		"send it again" : message, false);
}

void wan_metering_stored(struct wan_thread *thr, struct evhttp_request *req,
	const char *peer, const struct store_metering_msg *row, size_t received_len, tw_rc rc,
	const struct tw_error *e, int64_t id, bool duplicate)
{
	char object[96], detail[WAN_DETAIL_MAX + 1], answer[160];

	snprintf(object, sizeof(object), "msg:%s", row->message_id);
	if (rc == TW_E_UNAVAILABLE) {
		/* Nothing of the batch was committed: the gateway sends again later. */
		wan_journal_add(thr, row->gateway_id, peer, "metering.receive", object, "refused",
			e->message);
		wan_reply_unavailable(req);
		return;
	}
	if (rc != TW_OK) {
		values_refuse(thr, req, row->gateway_id, peer, object,
			rc == TW_E_EXISTS ? 409 : rc == TW_E_INVALID ? 400 : 500,
			rc == TW_E_EXISTS ? "replayed" : rc == TW_E_INVALID ? "invalid_request" :
			"internal", e->message);
		return;
	}
	snprintf(detail, sizeof(detail), "%s for EMT %s, metering point %s, %zu bytes%s%s",
		row->kind, row->emt_id, row->metering_point, received_len,
		duplicate ? ", resent" : "", row->clock_ok ? "" : ", gateway clock out of bounds");
	wan_journal_add(thr, row->gateway_id, peer, "metering.receive", object, "ok", detail);
	snprintf(answer, sizeof(answer), "{\"ack\":%lld,\"message_id\":\"%s\",\"duplicate\":%s}",
		(long long)id, row->message_id, duplicate ? "true" : "false");
	wm_reply_text(req, 200, answer);
}

static void values_post(struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	struct metering_msg m;
	struct store_metering_msg row;
	const unsigned char *data;
	struct tw_error e;
	char object[96];
	size_t len;
	tw_rc rc;

	memset(&m, 0, sizeof(m));
	memset(&row, 0, sizeof(row));
	if (!wm_body(req, METERING_BODY_MAX, &data, &len))
		return;
	if ((rc = metering_msg_parse(data, len, &m, &e)) != TW_OK) {
		wan_journal_add(conn->thr, conn->gateway_id, peer, "metering.receive", NULL,
			"refused", e.message);
		wan_reply_error(req, rc == TW_E_TOO_LARGE ? 413 : 400, rc == TW_E_TOO_LARGE ?
			"too_large" : rc == TW_E_PROTOCOL ? "bad_json" : "invalid_request", e.message,
			false);
		goto out;
	}
	snprintf(object, sizeof(object), "msg:%s", m.message_id);
	/*
	 * Verification runs here, on this event loop: wan runs one loop per CPU ([wan]
	 * threads) and spreads connections over them, so verifications already use every
	 * core; only the store write waits for the batch.
	 */
	rc = metering_prepare(conn->thr->store, conn->gateway_id, &m, tw_now_ms(), &row, &e);
	if (rc == TW_E_UNAVAILABLE) {
		wan_reply_unavailable(req);
		goto out;
	}
	if (rc != TW_OK) {
		int code = 500;
		const char *ecode = "internal";

		switch (rc) {
		case TW_E_DENIED:
			code = 403;
			ecode = strcmp(m.gateway_id, conn->gateway_id) != 0 ? "identity_mismatch" :
				"not_authorised";
			break;
		case TW_E_CRYPTO: code = 422; ecode = "bad_signature"; break;
		case TW_E_INVALID: code = 400; ecode = "invalid_request"; break;
		case TW_E_NOT_FOUND: code = 422; ecode = "no_sig_certificate"; break;
		default: break;
		}
		values_refuse(conn->thr, req, conn->gateway_id, peer, object, code, ecode,
			e.message);
		goto out;
	}
	/* Stored and answered with the thread's next batch commit (wan_metering_stored). */
	wan_batch_metering(req, conn, peer, &row, m.cms_len);
out:
	store_metering_msg_clear(&row);
	metering_msg_clear(&m);
}

static void time_refuse(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	int code, const char *ecode, const char *why)
{
	struct tw_error e;

	if (store_gateway_time_record(conn->thr->store, conn->gateway_id, false, tw_now_ms(), 0,
	    why, &e) != TW_OK)
		tw_warn("wan: cannot record a failed time synchronisation of %s: %s",
			conn->gateway_id, e.message);
	wan_journal_add(conn->thr, conn->gateway_id, peer, "time.sync", NULL, "refused", why);
	wan_reply_error(req, code, ecode, why, false);
}

static void time_post(struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	struct timesvc_request tr;
	struct store_time_check last;
	struct store_gateway_time gt;
	const unsigned char *data;
	struct tw_error e;
	char t1[48], t2[48], t3[48], answer[320], detail[WAN_DETAIL_MAX + 1];
	int64_t recv_ms = tw_now_ms(), offset;
	size_t len;
	tw_rc rc;

	if (!wm_body(req, TIMESVC_BODY_MAX, &data, &len))
		return;
	if ((rc = timesvc_request_parse(data, len, &tr, &e)) != TW_OK) {
		time_refuse(req, conn, peer, rc == TW_E_TOO_LARGE ? 413 : 400,
			rc == TW_E_PROTOCOL ? "bad_json" : "invalid_request", e.message);
		return;
	}
	if (strcmp(tr.gateway_id, conn->gateway_id) != 0) {
		wan_refuse(conn->thr, conn->gateway_id, peer, tr.gateway_id,
			"identity mismatch (time)");
		wan_reply_error(req, 403, "identity_mismatch",
			"gateway_id does not match the TLS client certificate", true);
		return;
	}
	/* UC-3.2.1: only legal (checked) time is served. */
	rc = store_time_check_last(conn->thr->store, &last, &e);
	if (rc != TW_OK || !last.ok || recv_ms > last.valid_until_ms) {
		time_refuse(req, conn, peer, 503, "time_unavailable", rc != TW_OK ?
			"the GWA clock was never checked against its upstream time servers" :
			!last.ok ? "the GWA clock is not synchronised with its upstream" :
			"the GWA clock check is overdue");
		return;
	}
	/* T-PTB.3: one exchange per gateway per min_interval_s. */
	rc = store_gateway_time_get(conn->thr->store, conn->gateway_id, &gt, &e);
	if (rc == TW_OK && time_min_interval_s > 0 && gt.last_sync_ms > 0 &&
	    recv_ms - gt.last_sync_ms < time_min_interval_s * 1000) {
		time_refuse(req, conn, peer, 429, "too_many_requests", "time synchronisation "
			"requested too often");
		return;
	}
	offset = recv_ms - tr.t1_ms;   /* gateway behind: positive; includes one-way delay */
	if (store_gateway_time_record(conn->thr->store, conn->gateway_id, true, recv_ms, offset,
	    NULL, &e) != TW_OK) {
		tw_err("wan: cannot record the time synchronisation of %s: %s", conn->gateway_id,
			e.message);
		wan_reply_error(req, 500, "internal", "retry later", false);
		return;
	}
	snprintf(detail, sizeof(detail), "gateway clock offset %lld ms%s", (long long)-offset,
		offset > time_max_offset_ms || offset < -time_max_offset_ms ?
		" (beyond the legal bound)" : "");
	wan_journal_add(conn->thr, conn->gateway_id, peer, "time.sync", NULL,
		offset > time_max_offset_ms || offset < -time_max_offset_ms ? "off" : "ok", detail);
	tw_time_format_utc(tr.t1_ms, t1, sizeof(t1));
	tw_time_format_utc(recv_ms, t2, sizeof(t2));
	tw_time_format_utc(tw_now_ms(), t3, sizeof(t3));
	snprintf(answer, sizeof(answer), "{\"nonce\":\"%s\",\"t1\":\"%s\",\"t2\":\"%s\","
		"\"t3\":\"%s\",\"max_offset_ms\":%ld}", tr.nonce, t1, t2, t3, time_max_offset_ms);
	wm_reply_text(req, 200, answer);
}

bool wan_metering_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path)
{
	bool values = path != NULL && strcmp(path, "/v1/metering/values") == 0;
	bool time = path != NULL && strcmp(path, "/v1/time") == 0;

	if (!values && !time)
		return false;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		wan_reply_error(req, 405, "method_not_allowed", "use POST", false);
	} else if (conn->session[0] == '\0') {
		wan_reply_error(req, 409, "no_session", "open a session first (POST /v1/session)",
			false);
	} else if (values) {
		values_post(req, conn, wan_conn_peer(conn, ssl));
	} else {
		time_post(req, conn, wan_conn_peer(conn, ssl));
	}
	return true;
}
