/*
 * sim.c: the SMGW simulator's engine: many virtual gateways in one libevent loop. A
 * "visit" is one TLS connection of one gateway to `wan` (TR-03116-3 mutual auth) that
 * runs the gateway side of WAN protocol v1 (docs/wan-protocol.md):
 *
 *   POST /v1/session -> while pending_orders > 0: GET /v1/orders -> execute
 *   (sim_orders.h) -> POST /v1/orders/ID/result
 *
 * Scheduling: a FIFO of gateways waiting for a visit; at most opt->concurrency visits
 * are in flight. The TLS client contexts are shared and each gateway's certificate and
 * key are parsed once (sim_tls.c), so a visit costs its handshake, not a context. Faults
 * (sim.h) are injected per order or wake-up with the configured probability.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/util.h"
#include "net/bev_coalesce.h"
#include "sim/sim_firmware.h"
#include "sim/sim_internal.h"

#define SIM_TIMEOUT_S        30
#define SIM_FIRMWARE         "torwart-sim/0.2.0"

enum sim_phase { PHASE_SESSION, PHASE_ORDERS, PHASE_RESULT, PHASE_DOWNLOAD };

struct sim_visit {
	struct sim_state *st;
	struct sim_gateway *gw;
	struct evhttp_connection *evcon;
	struct bufferevent *bev;             /* owned by evcon */
	enum evhttp_request_error http_error;
	bool have_http_error;
	enum sim_phase phase;
	unsigned orders;                     /* orders handled in this visit */
	bool answer_ok;                      /* what the last posted result said */
	/* a firmware-update order whose image is being fetched (sim_firmware.h) */
	struct wan_order fw_order;           /* payload: own reference while fetching */
	struct sim_fw_need fw;
	unsigned fw_refetches;               /* downloads started again after a bad digest */
};

static void sim_handle_order(struct sim_visit *v, const struct wan_order *o);

bool sim_roll(unsigned percent)
{
	unsigned char r[2];
	unsigned v;

	if (percent == 0)
		return false;
	if (percent >= 100)
		return true;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return false;
	v = ((unsigned)r[0] << 8 | r[1]) % 100;
	return v < percent;
}

void sim_enqueue(struct sim_state *st, size_t idx)
{
	struct sim_gateway *gw = &st->gws[idx];

	if (gw->queued) {
		gw->revisit = true;   /* woken during a visit: look again afterwards */
		return;
	}
	gw->queued = true;
	st->queue[(st->qhead + st->qcount) % st->n] = idx;
	st->qcount++;
}

static size_t sim_queue_pop(struct sim_state *st)
{
	size_t idx = st->queue[st->qhead];

	st->qhead = (st->qhead + 1) % st->n;
	st->qcount--;
	return idx;
}

static void sim_gateway_report(struct sim_state *st, struct sim_gateway *gw)
{
	const char *name = gw->id[0] != '\0' ? gw->id : gw->pub.dir;

	if (st->opt->quiet || st->daemon)
		return;
	if (gw->failed == 0)
		printf("%s: %u/%u sessions ok, %u resumed\n", name, gw->ok, st->rounds, gw->resumed);
	else
		printf("%s: %u/%u sessions ok, %u failed: %s\n", name, gw->ok, st->rounds,
			gw->failed, gw->first_error);
}

/* One visit of gw ended (ok or not): account, and requeue or retire the gateway. */
static void sim_visit_done(struct sim_state *st, struct sim_gateway *gw, bool ok,
	const char *error)
{
	gw->rounds_done++;
	gw->queued = false;
	if (ok && !gw->pub.reload_tls)
		gw->proof_pending = false;   /* a session with the new credentials happened */
	if (gw->pub.reload_tls) {
		/* New TLS credentials (renewal): never resume the old certificate's session, and
		 * (daemon) come back at once with the new certificate: that connection is what
		 * the GWA waits for to switch its inventory. */
		gw->pub.reload_tls = false;
		gw->revisit = st->daemon;
		gw->proof_pending = st->daemon;
		sim_tls_identity_drop(gw);
		SSL_SESSION_free(gw->session);
		gw->session = NULL;
	}
	if (ok) {
		gw->ok++;
		st->res->sessions_ok++;
	} else {
		gw->failed++;
		st->res->sessions_failed++;
		if (gw->first_error[0] == '\0')
			snprintf(gw->first_error, sizeof(gw->first_error), "visit %u: %s",
				gw->rounds_done, error != NULL ? error : "unknown error");
		if (st->daemon)
			tw_warn("sim: %s: %s", gw->id[0] ? gw->id : gw->pub.dir,
				error != NULL ? error : "visit failed");
	}
	if (!st->daemon && gw->rounds_done < st->rounds) {
		sim_enqueue(st, (size_t)(gw - st->gws));
		return;
	}
	if (!st->daemon)
		sim_gateway_report(st, gw);
	if (!st->opt->resume) {
		SSL_SESSION_free(gw->session);
		gw->session = NULL;
	}
	if (st->daemon && gw->revisit) {
		gw->revisit = false;
		sim_enqueue(st, (size_t)(gw - st->gws));
	}
}

/* TCP_NODELAY as soon as the socket exists (see wan.c: Nagle vs. delayed ACK). */
static void sim_info_cb(const SSL *ssl, int where, int ret)
{
	int fd;

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_START) == 0 || (fd = SSL_get_fd(ssl)) < 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
}

static void sim_free_evcon(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	evhttp_connection_free(arg);
}

static void sim_error_cb(enum evhttp_request_error e, void *arg)
{
	struct sim_visit *v = arg;

	v->http_error = e;
	v->have_http_error = true;
}

/* Why a request failed before any HTTP answer: TLS first, then the HTTP layer. */
static void sim_transport_error(struct sim_visit *v, char *buf, size_t size)
{
	static const char *const names[] = { "timeout", "connection closed", "invalid header",
		"buffer error", "request cancelled", "body too large" };
	unsigned long e = bufferevent_get_openssl_error(v->bev);

	if (e != 0) {
		snprintf(buf, size, "TLS: %s", ERR_reason_error_string(e) != NULL ?
			ERR_reason_error_string(e) : "unknown error");
		while (bufferevent_get_openssl_error(v->bev) != 0)
			;
	} else if (v->have_http_error && (unsigned)v->http_error < 6) {
		snprintf(buf, size, "HTTP: %s", names[v->http_error]);
	} else {
		snprintf(buf, size, "connection failed");
	}
}

static void sim_visit_cb(struct evhttp_request *req, void *arg);

/* Queue the next request of the visit on its connection. */
static tw_rc sim_request(struct sim_visit *v, enum evhttp_cmd_type cmd, const char *path,
	const void *body, size_t len, struct tw_error *err)
{
	struct evhttp_request *req = evhttp_request_new(sim_visit_cb, v);

	if (req == NULL)
		return tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP request");
	evhttp_request_set_error_cb(req, sim_error_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", v->st->host);
	if (body != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			"application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	}
	/* On failure evhttp_make_request frees req itself. */
	if (evhttp_make_request(v->evcon, req, cmd, path) != 0)
		return tw_error_set(err, TW_E_IO, "cannot send %s", path);
	return TW_OK;
}

/* End the visit: close_notify when the exchange went well, release from the loop. */
static void sim_visit_end(struct sim_visit *v, bool ok, const char *error, bool graceful)
{
	struct sim_state *st = v->st;
	struct sim_gateway *gw = v->gw;
	struct timeval now = { 0, 0 };
	SSL *ssl = bufferevent_openssl_get_ssl(v->bev);

	if (ok && ssl != NULL && SSL_session_reused(ssl)) {
		gw->resumed++;
		st->res->resumed++;
	}
	if (ok && st->opt->resume && ssl != NULL) {
		SSL_SESSION_free(gw->session);
		gw->session = SSL_get1_session(ssl);
	}
	/* close_notify keeps the session resumable; a "dropped" visit just goes away. */
	if (graceful && ssl != NULL) {
		ERR_clear_error();
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	if (event_base_once(st->base, -1, EV_TIMEOUT, sim_free_evcon, v->evcon, &now) != 0)
		tw_err("sim: cannot schedule a connection for release (leaks one connection)");
	json_decref(v->fw_order.payload);
	free(v);
	st->in_flight--;
	sim_visit_done(st, gw, ok, error);
	sim_pump(st);
}

/* Build the answer to order o (executing it unless it ran already). */
static json_t *sim_answer(struct sim_visit *v, const struct wan_order *o, bool *repeated)
{
	struct sim_gateway *gw = v->gw;
	const struct sim_faults *f = &v->st->opt->faults;
	json_t *answer, *result = NULL;
	const char *code = NULL;
	struct tw_error e;
	tw_rc rc;

	*repeated = false;
	if ((answer = sim_done_get(gw, o->id)) != NULL) {
		*repeated = true;
		return answer;
	}
	if (sim_roll(f->error))
		return json_pack("{s:s, s:{s:s, s:s}}", "status", "error", "error", "code",
			"injected_fault", "message", "fault injection: answer with an error");
	gw->pub.faults = 0;
	if (strcmp(o->type, "firmware-update") == 0)
		gw->pub.faults = (sim_roll(f->fw_refuse) ? SIM_FAULT_FW_REFUSE : 0) |
			(sim_roll(f->fw_reboot) ? SIM_FAULT_FW_REBOOT : 0);
	rc = sim_order_execute(&gw->pub, o->type, o->payload, &result, &code, &e);
	if (strcmp(o->type, "firmware-update") == 0)
		json_object_del(gw->pub.state, "fw_order");   /* executed: nothing to resume */
	if (rc == TW_OK)
		answer = json_pack("{s:s, s:o}", "status", "ok", "result", result);
	else
		answer = json_pack("{s:s, s:{s:s, s:s}}", "status", "error", "error", "code",
			code != NULL ? code : "failed", "message", e.message);
	if (answer == NULL)
		return NULL;
	/* Remember it before answering: a re-delivered id must not run twice. */
	if (sim_done_put(gw, o->id, rc == TW_OK, answer, &e) != TW_OK ||
	    sim_gw_save(gw, &e) != TW_OK)
		tw_warn("sim: %s: state not saved: %s", gw->id, e.message);
	return answer;
}

/* Ask for the next range of the image being fetched. */
static void sim_fw_request(struct sim_visit *v)
{
	struct evhttp_request *req = evhttp_request_new(sim_visit_cb, v);
	char range[80];

	if (req == NULL) {
		sim_visit_end(v, false, "cannot create an HTTP request", false);
		return;
	}
	evhttp_request_set_error_cb(req, sim_error_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", v->st->host);
	snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)v->fw.have,
		(long long)(v->fw.have + v->fw.range_max - 1));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Range", range);
	v->phase = PHASE_DOWNLOAD;
	if (evhttp_make_request(v->evcon, req, EVHTTP_REQ_GET, v->fw.url) != 0)
		sim_visit_end(v, false, "cannot request a firmware range", false);
}

/* Once per order (kept in the state): whether a one-shot fault hits this order now. */
static bool sim_fw_fault_once(struct sim_visit *v, const char *member, unsigned percent)
{
	json_t *ids = json_object_get(v->gw->pub.state, member);
	struct tw_error e;
	size_t i;
	json_t *x;

	if (percent == 0)
		return false;
	json_array_foreach(ids, i, x)
		if (json_integer_value(x) == v->fw_order.id)
			return false;
	if (!sim_roll(percent))
		return false;
	if (ids == NULL) {
		ids = json_array();
		json_object_set_new(v->gw->pub.state, member, ids);
	}
	json_array_append_new(ids, json_integer(v->fw_order.id));
	if (sim_gw_save(v->gw, &e) != TW_OK)
		tw_warn("sim: %s: state not saved: %s", v->gw->id, e.message);
	return true;
}

/* A range arrived (206): store it, ask for the next, or check and execute the order. */
static void sim_fw_range(struct sim_visit *v, struct evhttp_request *req, int code)
{
	const struct sim_faults *f = &v->st->opt->faults;
	const char *cr = evhttp_find_header(evhttp_request_get_input_headers(req),
		"Content-Range");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	long long first = -1;
	const unsigned char *data;
	char error[SIM_ERROR_MAX];
	struct tw_error e;

	if (code != 206 || cr == NULL || strncmp(cr, "bytes ", 6) != 0 || len == 0 ||
	    len > (size_t)v->fw.range_max) {
		snprintf(error, sizeof(error), "firmware download: HTTP %d", code);
		sim_visit_end(v, false, error, false);
		return;
	}
	first = strtoll(cr + 6, NULL, 10);
	data = evbuffer_pullup(in, (ev_ssize_t)len);
	if (data == NULL || sim_fw_append(&v->fw, first, data, len, &e) != TW_OK) {
		snprintf(error, sizeof(error), "firmware download: %s", data == NULL ?
			"out of memory" : e.message);
		sim_visit_end(v, false, error, false);
		return;
	}
	if (v->fw.have < v->fw.size) {
		/* Fault: the connection drops mid-transfer; the next visit resumes here. */
		if (sim_fw_fault_once(v, "fw_dropped", f->fw_drop)) {
			sim_visit_end(v, false, "fault injection: connection dropped during a "
				"firmware download", false);
			return;
		}
		sim_fw_request(v);
		return;
	}
	/* Complete: a damaged image is caught by its digest and fetched again. */
	if (sim_fw_check(&v->gw->pub, v->fw_order.payload,
	    sim_fw_fault_once(v, "fw_corrupted", f->fw_corrupt), &e) != TW_OK &&
	    v->fw_refetches < 2) {
		tw_info("sim: %s: %s", v->gw->id, e.message);
		v->fw_refetches++;
		v->fw.have = 0;
		sim_fw_request(v);
		return;
	}
	sim_handle_order(v, &v->fw_order);
}

/* A firmware order of an earlier session still running: continue it. */
static bool sim_fw_resume(struct sim_visit *v)
{
	json_t *fo = json_object_get(v->gw->pub.state, "fw_order"), *done;
	const json_t *id = json_object_get(fo, "id");
	json_t *payload = json_object_get(fo, "payload");

	if (!json_is_integer(id) || !json_is_object(payload))
		return false;
	if ((done = sim_done_get(v->gw, json_integer_value(id))) != NULL) {
		json_decref(done);
		json_object_del(v->gw->pub.state, "fw_order");
		return false;
	}
	json_decref(v->fw_order.payload);
	memset(&v->fw_order, 0, sizeof(v->fw_order));
	v->fw_order.id = json_integer_value(id);
	snprintf(v->fw_order.type, sizeof(v->fw_order.type), "firmware-update");
	v->fw_order.payload = json_incref(payload);
	v->fw_order.attempt = 1;
	sim_handle_order(v, &v->fw_order);
	return true;
}

static void sim_handle_order(struct sim_visit *v, const struct wan_order *o)
{
	const struct sim_faults *f = &v->st->opt->faults;
	struct tw_error e;
	json_t *answer, *done;
	char path[64], *text = NULL;
	bool repeated;

	/* A firmware order first fetches its image (in ranges, resumable). */
	if ((done = sim_done_get(v->gw, o->id)) == NULL &&
	    sim_fw_download_needed(&v->gw->pub, o, &v->fw)) {
		if (o != &v->fw_order) {
			struct tw_error se;

			json_decref(v->fw_order.payload);
			v->fw_order = *o;
			json_incref(v->fw_order.payload);
			/*
			 * Remember the order: after a dropped connection the GWA does not hand a
			 * sent order out again before its deadline, so the gateway resumes it on
			 * its own at the next session (the download stays allowed while sent).
			 */
			if (json_object_set_new(v->gw->pub.state, "fw_order", json_pack("{s:I, s:O}",
			    "id", (json_int_t)o->id, "payload", o->payload)) != 0 ||
			    sim_gw_save(v->gw, &se) != TW_OK)
				tw_warn("sim: %s: firmware order not saved for a resume", v->gw->id);
		}
		sim_fw_request(v);
		return;
	}
	json_decref(done);
	answer = sim_answer(v, o, &repeated);
	if (answer == NULL) {
		sim_visit_end(v, false, "out of memory building an answer", false);
		return;
	}
	if (repeated)
		v->st->res->orders_repeated++;
	v->answer_ok = strcmp(json_string_value(json_object_get(answer, "status")), "ok") == 0;
	if (sim_roll(f->drop)) {
		json_decref(answer);
		/* Fault: the order ran, but the result never arrives (GWA sees a timeout). */
		sim_visit_end(v, true, NULL, false);
		return;
	}
	snprintf(path, sizeof(path), "/v1/orders/%lld/result", (long long)o->id);
	if (sim_roll(f->malformed))
		text = tw_strdup("{\"status\":\"ok\",\"result\":");   /* truncated JSON */
	else
		text = json_dumps(answer, JSON_COMPACT);
	json_decref(answer);
	v->phase = PHASE_RESULT;
	v->orders++;
	if (text == NULL || sim_request(v, EVHTTP_REQ_POST, path, text, strlen(text), &e) != TW_OK)
		sim_visit_end(v, false, text == NULL ? "out of memory" : e.message, false);
	free(text);
}

/* Ask for the next order, or end the visit when there is none (or enough for now). */
static void sim_next(struct sim_visit *v, long pending)
{
	struct tw_error e;

	if (pending <= 0 || v->orders >= v->st->max_orders) {
		sim_visit_end(v, true, NULL, true);
		return;
	}
	v->phase = PHASE_ORDERS;
	if (sim_request(v, EVHTTP_REQ_GET, "/v1/orders", NULL, 0, &e) != TW_OK)
		sim_visit_end(v, false, e.message, false);
}

static void sim_visit_cb(struct evhttp_request *req, void *arg)
{
	struct sim_visit *v = arg;
	char error[SIM_ERROR_MAX] = "";
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	struct evbuffer *in;
	const unsigned char *body;
	struct tw_error e;
	size_t len;

	if (req == NULL || code == 0) {
		sim_transport_error(v, error, sizeof(error));
		sim_visit_end(v, false, error, false);
		return;
	}
	if (v->phase == PHASE_DOWNLOAD && code == 206) {
		sim_fw_range(v, req, code);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	body = len > 0 && len <= WAN_MESSAGE_MAX_BODY ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len > WAN_MESSAGE_MAX_BODY) {
		snprintf(error, sizeof(error), "HTTP %d with an oversized body", code);
		sim_visit_end(v, false, error, false);
		return;
	}
	if (code != 200) {
		struct wan_error_body eb;

		if (wan_error_parse(body, len, &eb, &e) == TW_OK)
			snprintf(error, sizeof(error), "HTTP %d %s: %s", code, eb.code, eb.message);
		else
			snprintf(error, sizeof(error), "HTTP %d", code);
		if (v->phase == PHASE_RESULT) {
			/* The GWA refused our result (malformed, closed): count it, carry on. */
			v->st->res->orders_failed++;
			sim_visit_end(v, true, NULL, true);
		} else {
			sim_visit_end(v, false, error, false);
		}
		return;
	}
	if (v->phase == PHASE_SESSION) {
		struct wan_session_response res;

		if (wan_session_response_parse(body, len, &res, &e) != TW_OK) {
			snprintf(error, sizeof(error), "bad session answer: %s", e.message);
			sim_visit_end(v, false, error, false);
		} else if (res.protocol != WAN_PROTOCOL_VERSION) {
			snprintf(error, sizeof(error), "server speaks protocol %ld, we speak %d",
				res.protocol, WAN_PROTOCOL_VERSION);
			sim_visit_end(v, false, error, false);
		} else if (sim_fw_resume(v)) {
			/* a firmware download of an earlier session continues */
		} else {
			sim_next(v, res.pending_orders);
		}
	} else if (v->phase == PHASE_ORDERS) {
		struct wan_orders_response res;

		if (wan_orders_response_parse(body, len, &res, &e) != TW_OK) {
			snprintf(error, sizeof(error), "bad orders answer: %s", e.message);
			sim_visit_end(v, false, error, false);
		} else if (!res.has_order) {
			sim_visit_end(v, true, NULL, true);
		} else {
			sim_handle_order(v, &res.order);
		}
		wan_orders_response_clear(&res);
	} else {
		long pending = 0;

		if (v->answer_ok)
			v->st->res->orders_ok++;
		else
			v->st->res->orders_failed++;
		if (wan_pending_parse(body, len, &pending, &e) != TW_OK) {
			snprintf(error, sizeof(error), "bad result answer: %s", e.message);
			sim_visit_end(v, false, error, false);
			return;
		}
		sim_next(v, pending);
	}
}

static void sim_status_cb(const struct sim_status_provider *p, void *arg)
{
	void **a = arg;
	struct sim_gateway *gw = a[0];
	json_t *status = a[1], *value = NULL;
	struct tw_error e;

	if (p->report(&gw->pub, &value, &e) != TW_OK)
		tw_warn("sim: %s: status \"%s\" not reported: %s", gw->id, p->member, e.message);
	else if (value != NULL)
		json_object_set_new(status, p->member, value);
}

static tw_rc sim_visit_start(struct sim_state *st, struct sim_gateway *gw,
	struct tw_error *err)
{
	struct sim_visit *v = NULL;
	struct wan_session_request body;
	struct tw_buf buf;
	json_t *status = NULL;
	void *args[2];
	SSL *ssl = NULL;
	tw_rc rc;

	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	if ((rc = sim_gw_load(gw, err)) != TW_OK)
		goto fail;
	memset(&body, 0, sizeof(body));
	memcpy(body.gateway_id, gw->id, sizeof(body.gateway_id));
	snprintf(body.firmware_version, sizeof(body.firmware_version), "%s",
		sim_fw_running(&gw->pub) != NULL ? sim_fw_running(&gw->pub) : SIM_FIRMWARE);
	tw_time_format_utc(tw_now_ms(), body.time, sizeof(body.time));
	if ((status = json_object()) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	args[0] = gw;
	args[1] = status;
	sim_status_foreach(sim_status_cb, args);
	if ((rc = wan_session_request_encode_status(&body, json_object_size(status) > 0 ?
	    status : NULL, &buf, err)) != TW_OK)
		goto fail;
	if ((rc = sim_tls_ssl_new(st, gw, &ssl, err)) != TW_OK)
		goto fail;
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	v->st = st;
	v->gw = gw;
	v->phase = PHASE_SESSION;
	if (!st->host_is_ip)
		SSL_set_tlsext_host_name(ssl, st->host);
	SSL_set_info_callback(ssl, sim_info_cb);
	if (st->opt->resume && gw->session != NULL)
		SSL_set_session(ssl, gw->session);
	v->bev = bufferevent_openssl_socket_new(st->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (v->bev == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create a TLS bufferevent");
		goto fail;
	}
	ssl = NULL;   /* owned by the bufferevent now */
	bufferevent_openssl_set_allow_dirty_shutdown(v->bev, 1);
	/* A request's header block and body in one TLS record and one write. */
	(void)bev_coalesce_writes(v->bev);
	v->evcon = evhttp_connection_base_bufferevent_new(st->base, NULL, v->bev, st->host,
		st->port);
	if (v->evcon == NULL) {
		bufferevent_free(v->bev);
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP connection");
		goto fail;
	}
	evhttp_connection_set_timeout(v->evcon, SIM_TIMEOUT_S);
	if ((rc = sim_request(v, EVHTTP_REQ_POST, "/v1/session", buf.data, buf.len, err)) !=
	    TW_OK) {
		evhttp_connection_free(v->evcon);
		goto fail;
	}
	st->in_flight++;
	if (st->in_flight > st->res->peak_in_flight)
		st->res->peak_in_flight = st->in_flight;
	json_decref(status);
	tw_buf_free(&buf);
	return TW_OK;
fail:
	json_decref(status);
	SSL_free(ssl);
	free(v);
	tw_buf_free(&buf);
	return rc;
}

void sim_pump(struct sim_state *st)
{
	while (st->in_flight < st->concurrency && st->qcount > 0) {
		struct sim_gateway *gw = &st->gws[sim_queue_pop(st)];
		struct tw_error e;

		if (sim_visit_start(st, gw, &e) != TW_OK)
			sim_visit_done(st, gw, false, e.message);
	}
}
