/*
 * wan_emt.c: the routes of an EMT connection (UC-3.2.4, EMT <-> CLS communication;
 * docs/wan-protocol.md "EMT requests").
 *
 *   POST /v1/emt/cls-requests      {"gateway","cls","duration_s"} -> 202 {"job": N}
 *   GET  /v1/emt/cls-requests/N    the job's state and result, to the EMT that made it
 *
 * The EMT is identified by its TLS certificate only (wan_conn.c: conn->emt_id is its
 * market partner id). The GWA checks that this EMT is authorised for the gateway
 * (emt_authorisations, `torwart profile authorise-emt`) and then creates a job of the
 * order type "cls-connect" (gwa/order_emt.c), which wakes the gateway and activates its
 * proxy communication. Every request, accepted or refused, is an admin-log entry with
 * actor "emt:<id>" and role "emt" (the job's own entries carry the same actor).
 *
 * An unknown gateway and a gateway the EMT is not authorised for get the same 403, so an
 * EMT learns nothing about gateways that are not its business; a job of another EMT is
 * indistinguishable from a missing one (404). Every path outside /v1/emt/ is refused
 * with 403 wrong_principal: an EMT never reaches the gateway routes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "base/log.h"
#include "base/util.h"
#include "gwa/job.h"
#include "metering/metering_taf.h"
#include "store/store_jobs.h"
#include "store/store_profiles.h"
#include "wan/wan_internal.h"

#define EMT_PREFIX       "/v1/emt/"
#define EMT_CLS_PATH     "/v1/emt/cls-requests"
#define EMT_TAF_PATH     "/v1/emt/taf-requests"   /* UC-3.5.3-3.5.5 (metering_taf.c) */
#define EMT_REPLY_MAX    (WAN_ORDER_PAYLOAD_MAX + 4096)

/* Refuse and log (action, result "refused"); the answer is code/ecode/message. */
static void emt_refuse(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	const char *action, const char *object, int code, const char *ecode,
	const char *message)
{
	tw_warn("wan: EMT %s (%s): %s refused: %s", conn->emt_id, peer, action, message);
	wan_journal_add_emt(conn->thr, conn->emt_id, peer, action, object, "refused", message);
	wan_reply_error(req, code, ecode, message, false);
}

static void emt_reply_object(struct evhttp_request *req, int code, json_t *obj)
{
	struct tw_buf body;
	struct tw_error e;
	char *text = obj != NULL ? json_dumps(obj, JSON_COMPACT) : NULL;

	tw_buf_init(&body, EMT_REPLY_MAX);
	if (text == NULL || tw_buf_append(&body, text, strlen(text), &e) != TW_OK)
		wan_reply_error(req, HTTP_INTERNAL, "internal", "cannot encode the answer", true);
	else
		wan_reply_json(req, code, &body, false);
	free(text);
	tw_buf_free(&body);
}

/*
 * The JSON body of an EMT request, at most max bytes, contiguous in *data (NULL when
 * empty). false: refused (415, 413) or out of memory, and the answer is sent.
 */
static bool emt_body(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	const char *action, size_t max, const unsigned char **data, size_t len)
{
	char msg[64];

	*data = NULL;
	if (!wan_content_type_json(req)) {
		emt_refuse(req, conn, peer, action, NULL, 415, "unsupported_media_type",
			"Content-Type must be application/json");
		return false;
	}
	if (len > max) {
		snprintf(msg, sizeof(msg), "body exceeds %zu bytes", max);
		emt_refuse(req, conn, peer, action, NULL, 413, "too_large", msg);
		return false;
	}
	*data = len > 0 ? evbuffer_pullup(evhttp_request_get_input_buffer(req),
		(ev_ssize_t)len) : NULL;
	if (len > 0 && *data == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		return false;
	}
	return true;
}

/*
 * The common end of an EMT's request (CLS, TAF): the gateway must be administered and not
 * disabled, then a job of type for it with payload (borrowed) as the EMT, the journal
 * entry action with detail, and 202 {"job"}. A refusal of job_create (authorisation
 * revoked meanwhile, bad payload) is answered like the checks before it.
 */
static void emt_job_submit(struct evhttp_request *req, struct wan_conn *conn,
	const char *peer, const char *action, const char *type, const char *gateway,
	json_t *payload, const char *detail)
{
	struct store_gateway gw;
	struct job_actor who;
	struct job_spec spec;
	struct tw_error e;
	char actor[STORE_ID_MAX + 8], object[32];
	json_t *answer = NULL;
	int64_t id = 0;
	tw_rc rc;

	rc = store_gateway_get(conn->thr->store, gateway, &gw, &e);
	if (rc == TW_OK && strcmp(gw.state, "disabled") == 0)
		rc = TW_E_DENIED;
	if (rc != TW_OK) {
		emt_refuse(req, conn, peer, action, gateway, 409, "gateway_unavailable",
			"the gateway is disabled or no longer administered");
		return;
	}
	if (payload == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		return;
	}
	snprintf(actor, sizeof(actor), "emt:%s", conn->emt_id);
	who = (struct job_actor){ .actor = actor, .role = "emt", .client = peer };
	spec = (struct job_spec){ .type = type, .payload = payload, .timeout_s = 0,
		.max_attempts = 0, .retry_delay_s = -1 };
	rc = job_create(conn->thr->store, gateway, &spec, &who, &id, &e);
	if (rc == TW_E_INVALID || rc == TW_E_DENIED || rc == TW_E_NOT_FOUND) {
		/* E.g. the authorisation was revoked between the check and the job. */
		emt_refuse(req, conn, peer, action, gateway,
			rc == TW_E_INVALID ? HTTP_BADREQUEST : 403,
			rc == TW_E_INVALID ? "invalid_request" : "not_authorised", e.message);
		return;
	}
	if (rc != TW_OK) {
		tw_err("wan: cannot create a %s job for EMT %s: %s", type, conn->emt_id,
			e.message);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot take the request "
			"now; retry later", true);
		return;
	}
	snprintf(object, sizeof(object), "job:%lld", (long long)id);
	wan_journal_add_emt(conn->thr, conn->emt_id, peer, action, object, "ok", detail);
	answer = json_pack("{s:I}", "job", (json_int_t)id);
	emt_reply_object(req, 202, answer);
	json_decref(answer);
}

/* POST /v1/emt/cls-requests */
static void cls_request_create(struct evhttp_request *req, struct wan_conn *conn,
	const char *peer)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct wan_emt_cls_request creq;
	struct tw_error e;
	char detail[WAN_DETAIL_MAX + 1];
	const unsigned char *data;
	json_t *payload = NULL;
	bool yes = false;
	tw_rc rc;

	if (!emt_body(req, conn, peer, "emt.cls-request", WAN_EMT_BODY_MAX, &data, len))
		goto out;
	rc = wan_emt_cls_request_parse(data, len, &creq, &e);
	if (rc != TW_OK) {
		emt_refuse(req, conn, peer, "emt.cls-request", NULL,
			rc == TW_E_TOO_LARGE ? 413 : HTTP_BADREQUEST, wan_error_code_for(rc), e.message);
		goto out;
	}
	/* The authorisation list is the only source of truth (UC-3.2.4, T-PV.4). */
	rc = store_emt_is_authorised(conn->thr->store, creq.gateway, conn->emt_id, &yes, &e);
	if (rc != TW_OK) {
		tw_err("wan: EMT authorisation lookup failed: %s", e.message);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot check the "
			"authorisation now; retry later", true);
		goto out;
	}
	if (!yes) {
		snprintf(detail, sizeof(detail), "EMT %s is not authorised for gateway %s",
			conn->emt_id, creq.gateway);
		emt_refuse(req, conn, peer, "emt.cls-request", creq.gateway, 403, "not_authorised",
			detail);
		goto out;
	}
	payload = json_pack("{s:s, s:s, s:I}", "emt", conn->emt_id, "cls", creq.cls,
		"duration_s", (json_int_t)creq.duration_s);
	snprintf(detail, sizeof(detail), "gateway %s, cls %s, %ld s", creq.gateway, creq.cls,
		creq.duration_s);
	emt_job_submit(req, conn, peer, "emt.cls-request", "cls-connect", creq.gateway, payload,
		detail);
out:
	json_decref(payload);
}

/*
 * POST /v1/emt/taf-requests (UC-3.5.3-3.5.5): {"gateway","metering_point","taf",
 * "tariff_stage"?}. The EMT must be authorised for the gateway and named with the
 * metering point by an evaluation profile of that TAF; otherwise 403 not_authorised (an
 * unknown gateway looks the same).
 */
static void taf_request_create(struct evhttp_request *req, struct wan_conn *conn,
	const char *peer)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct metering_taf_request treq;
	struct tw_error e;
	char detail[WAN_DETAIL_MAX + 1];
	const unsigned char *data;
	json_t *payload = NULL;
	tw_rc rc;

	if (!emt_body(req, conn, peer, "emt.taf-request", METERING_TAF_BODY_MAX, &data, len))
		goto out;
	rc = metering_taf_request_parse(data, len, &treq, &e);
	if (rc != TW_OK) {
		emt_refuse(req, conn, peer, "emt.taf-request", NULL,
			rc == TW_E_TOO_LARGE ? 413 : HTTP_BADREQUEST, wan_error_code_for(rc), e.message);
		goto out;
	}
	rc = metering_check_authorised_taf(conn->thr->store, treq.gateway, conn->emt_id,
		treq.metering_point, treq.taf, &e);
	if (rc == TW_E_DENIED) {
		emt_refuse(req, conn, peer, "emt.taf-request", treq.gateway, 403, "not_authorised",
			e.message);
		goto out;
	}
	if (rc != TW_OK) {
		tw_err("wan: EMT TAF authorisation lookup failed: %s", e.message);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot check the "
			"authorisation now; retry later", true);
		goto out;
	}
	payload = treq.tariff_stage > 0 ?
		json_pack("{s:s, s:s, s:s, s:I}", "emt", conn->emt_id, "metering_point",
			treq.metering_point, "taf", treq.taf, "tariff_stage",
			(json_int_t)treq.tariff_stage) :
		json_pack("{s:s, s:s, s:s}", "emt", conn->emt_id, "metering_point",
			treq.metering_point, "taf", treq.taf);
	snprintf(detail, sizeof(detail), "%s for gateway %s, metering point %s", treq.taf,
		treq.gateway, treq.metering_point);
	emt_job_submit(req, conn, peer, "emt.taf-request", "taf-request", treq.gateway, payload,
		detail);
out:
	json_decref(payload);
}

/*
 * The answer for job (owned by the caller): {"job","gateway", the payload's members
 * except "emt", "state", "result"?, "error"?}. Stored JSON that does not load is left out
 * rather than failing. A readout's message (TAF6/TAF9) is not repeated here: it reaches
 * the EMT through its metering endpoint; the view names its message id.
 */
static json_t *cls_request_view(const struct store_job *job, const json_t *payload)
{
	json_t *o = json_pack("{s:I, s:s}", "job", (json_int_t)job->id, "gateway",
		job->gateway_id);
	const char *k;
	json_t *v;

	if (o == NULL)
		return NULL;
	json_object_foreach((json_t *)payload, k, v)
		if (strcmp(k, "emt") != 0)
			json_object_set(o, k, v);
	json_object_set_new(o, "state", json_string(store_job_state_name(job->state)));
	if (job->result != NULL && job->result[0] != '\0') {
		json_t *r = json_loads(job->result, JSON_REJECT_DUPLICATES, NULL);
		json_t *msg = r != NULL ? json_object_get(r, "message") : NULL;

		if (msg != NULL) {
			json_object_set(r, "message_id", json_object_get(msg, "message_id"));
			json_object_del(r, "message");
		}
		if (r != NULL)
			json_object_set_new(o, "result", r);
	}
	if (job->error[0] != '\0')
		json_object_set_new(o, "error", json_string(job->error));
	return o;
}

/* GET /v1/emt/cls-requests/N and /v1/emt/taf-requests/N (job type type, action). */
static void cls_request_show(struct evhttp_request *req, struct wan_conn *conn,
	const char *peer, const char *id_text, const char *type, const char *action)
{
	struct store_job job;
	struct tw_error e;
	char actor[STORE_ID_MAX + 8], object[32];
	json_t *payload = NULL, *answer = NULL;
	const json_t *emt;
	int64_t id = 0;
	bool mine;
	tw_rc rc;

	memset(&job, 0, sizeof(job));
	if (wan_order_id_parse(id_text, strlen(id_text), &id, &e) != TW_OK) {
		emt_refuse(req, conn, peer, action, NULL, 404, "not_found", "no such request");
		goto out;
	}
	snprintf(object, sizeof(object), "job:%lld", (long long)id);
	rc = store_job_get(conn->thr->store, id, &job, &e);
	if (rc != TW_OK && rc != TW_E_NOT_FOUND) {
		tw_err("wan: cannot read job %lld: %s", (long long)id, e.message);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot answer now", true);
		goto out;
	}
	/* Ownership: a job of this type created by this EMT, for this EMT. */
	snprintf(actor, sizeof(actor), "emt:%s", conn->emt_id);
	mine = rc == TW_OK && strcmp(job.type, type) == 0 &&
		strcmp(job.actor, actor) == 0 && job.payload != NULL &&
		(payload = json_loads(job.payload, JSON_REJECT_DUPLICATES, NULL)) != NULL &&
		json_is_string(emt = json_object_get(payload, "emt")) &&
		strcmp(json_string_value(emt), conn->emt_id) == 0;
	if (!mine) {
		emt_refuse(req, conn, peer, action, object, 404, "not_found",
			rc == TW_OK ? "no such request (a job of another principal)" :
			"no such request");
		goto out;
	}
	answer = cls_request_view(&job, payload);
	wan_journal_add_emt(conn->thr, conn->emt_id, peer, action, object, "ok",
		store_job_state_name(job.state));
	emt_reply_object(req, HTTP_OK, answer);
out:
	json_decref(payload);
	json_decref(answer);
	store_job_clear(&job);
}

void wan_emt_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path)
{
	const char *peer = wan_conn_peer(conn, ssl);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (path == NULL || strncmp(path, EMT_PREFIX, strlen(EMT_PREFIX)) != 0) {
		/* A gateway route (or anything else): never for an EMT. */
		wan_refuse_emt(conn->thr, conn->emt_id, peer, path != NULL ? path : "",
			"EMT on a gateway route");
		wan_reply_error(req, 403, "wrong_principal", "this resource is not for EMTs",
			false);
		return;
	}
	if (strcmp(path, EMT_CLS_PATH) == 0) {
		if (cmd != EVHTTP_REQ_POST) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
			wan_reply_error(req, HTTP_BADMETHOD, "method_not_allowed", "use POST", false);
		} else {
			cls_request_create(req, conn, peer);
		}
		return;
	}
	if (strncmp(path, EMT_CLS_PATH "/", strlen(EMT_CLS_PATH) + 1) == 0) {
		const char *id = path + strlen(EMT_CLS_PATH) + 1;

		if (cmd != EVHTTP_REQ_GET) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
			wan_reply_error(req, HTTP_BADMETHOD, "method_not_allowed", "use GET", false);
		} else {
			cls_request_show(req, conn, peer, id, "cls-connect", "emt.cls-request.read");
		}
		return;
	}
	if (strcmp(path, EMT_TAF_PATH) == 0) {
		if (cmd != EVHTTP_REQ_POST) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
			wan_reply_error(req, HTTP_BADMETHOD, "method_not_allowed", "use POST", false);
		} else {
			taf_request_create(req, conn, peer);
		}
		return;
	}
	if (strncmp(path, EMT_TAF_PATH "/", strlen(EMT_TAF_PATH) + 1) == 0) {
		const char *id = path + strlen(EMT_TAF_PATH) + 1;

		if (cmd != EVHTTP_REQ_GET) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
			wan_reply_error(req, HTTP_BADMETHOD, "method_not_allowed", "use GET", false);
		} else {
			cls_request_show(req, conn, peer, id, "taf-request", "emt.taf-request.read");
		}
		return;
	}
	wan_reply_error(req, HTTP_NOTFOUND, "not_found", "no such resource", false);
}
