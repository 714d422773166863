/*
 * sim.c: the SMGW simulator's engine: many virtual gateways in one libevent loop, each
 * opening mutually authenticated TR-03116-3 TLS sessions to `wan` and speaking the
 * gateway side of WAN protocol v1 (docs/wan-protocol.md): POST /v1/session.
 *
 * Scheduling: a FIFO of gateways that still have rounds to run; at most
 * opt->concurrency sessions are in flight. A gateway's rounds run one after another
 * (round n+1 may resume round n's TLS session), different gateways run in parallel.
 * A gateway's TLS context (its key and certificates) exists only while it has rounds
 * left, so memory follows the concurrency, not the fleet size.
 *
 * HTTP is libevent's evhttp client over an OpenSSL bufferevent; bodies go through the
 * same codec as the server (wan_message.c).
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
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/err.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/tls.h"
#include "sim/sim.h"
#include "wan/wan_message.h"

#define SIM_TIMEOUT_S        30
#define SIM_FIRMWARE         "torwart-sim/0.1.0"
#define SIM_ERROR_MAX        200
#define SIM_ID_FILE_MAX      256

struct sim_gateway {
	const char *dir;                     /* borrowed from sim_options */
	char id[WAN_GATEWAY_ID_MAX + 1];
	unsigned rounds_done;
	unsigned ok, failed, resumed;
	SSL_CTX *ctx;                        /* while rounds remain */
	SSL_SESSION *session;                /* last session, for --resume */
	char first_error[SIM_ERROR_MAX];
};

struct sim_state {
	const struct sim_options *opt;
	struct event_base *base;
	char *host;
	uint16_t port;
	bool host_is_ip;
	unsigned rounds;
	unsigned concurrency;
	struct sim_gateway *gws;
	size_t *queue;                       /* ring of gateway indices, capacity n */
	size_t qhead, qcount;
	unsigned in_flight;
	struct sim_result *res;
};

struct sim_session {
	struct sim_state *st;
	struct sim_gateway *gw;
	struct evhttp_connection *evcon;
	struct bufferevent *bev;             /* owned by evcon */
	enum evhttp_request_error http_error;
	bool have_http_error;
};

static void sim_pump(struct sim_state *st);

static void sim_queue_push(struct sim_state *st, size_t idx)
{
	size_t n = st->opt->gateway_count;

	st->queue[(st->qhead + st->qcount) % n] = idx;
	st->qcount++;
}

static size_t sim_queue_pop(struct sim_state *st)
{
	size_t idx = st->queue[st->qhead];

	st->qhead = (st->qhead + 1) % st->opt->gateway_count;
	st->qcount--;
	return idx;
}

/* Read DIR/id and set up the gateway's TLS context from its files (gwa/gateway.h). */
static tw_rc sim_gateway_load(struct sim_gateway *gw, struct tw_error *err)
{
	struct tls_profile_config cfg;
	unsigned char *idtext = NULL;
	size_t idlen = 0;
	char *cert = NULL, *key = NULL, *chain = NULL, *trust = NULL, *idpath = NULL;
	tw_rc rc;

	idpath = tw_asprintf("%s/id", gw->dir);
	cert = tw_asprintf("%s/tls.crt", gw->dir);
	key = tw_asprintf("%s/tls.key", gw->dir);
	chain = tw_asprintf("%s/chain.pem", gw->dir);
	trust = tw_asprintf("%s/root-ca.crt", gw->dir);
	if (idpath == NULL || cert == NULL || key == NULL || chain == NULL || trust == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_read_file(idpath, SIM_ID_FILE_MAX, &idtext, &idlen, err)) != TW_OK)
		goto out;
	while (idlen > 0 && (idtext[idlen - 1] == '\n' || idtext[idlen - 1] == '\r' ||
	    idtext[idlen - 1] == ' '))
		idtext[--idlen] = '\0';
	if (!wan_gateway_id_valid((const char *)idtext)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s does not hold a valid gateway id", idpath);
		goto out;
	}
	memcpy(gw->id, idtext, idlen + 1);
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.chain_file = chain, .trust_file = trust };
	rc = tls_client_ctx_new(&cfg, &gw->ctx, err);
out:
	free(idtext);
	free(idpath);
	free(cert);
	free(key);
	free(chain);
	free(trust);
	return rc;
}

static void sim_gateway_report(struct sim_state *st, struct sim_gateway *gw)
{
	const char *name = gw->id[0] != '\0' ? gw->id : gw->dir;

	if (st->opt->quiet)
		return;
	if (gw->failed == 0)
		printf("%s: %u/%u sessions ok, %u resumed\n", name, gw->ok, st->rounds, gw->resumed);
	else
		printf("%s: %u/%u sessions ok, %u failed: %s\n", name, gw->ok, st->rounds,
			gw->failed, gw->first_error);
}

/* One round of gw ended (ok or not): account, and requeue or retire the gateway. */
static void sim_round_done(struct sim_state *st, struct sim_gateway *gw, bool ok,
	const char *error)
{
	gw->rounds_done++;
	if (ok) {
		gw->ok++;
		st->res->sessions_ok++;
	} else {
		gw->failed++;
		st->res->sessions_failed++;
		if (gw->first_error[0] == '\0')
			snprintf(gw->first_error, sizeof(gw->first_error), "round %u: %s",
				gw->rounds_done, error != NULL ? error : "unknown error");
	}
	if (gw->rounds_done < st->rounds) {
		sim_queue_push(st, (size_t)(gw - st->gws));
		return;
	}
	sim_gateway_report(st, gw);
	SSL_CTX_free(gw->ctx);
	gw->ctx = NULL;
	SSL_SESSION_free(gw->session);
	gw->session = NULL;
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
	struct sim_session *s = arg;

	s->http_error = e;
	s->have_http_error = true;
}

/* Why a session failed before any HTTP answer: TLS first, then the HTTP layer. */
static void sim_transport_error(struct sim_session *s, char *buf, size_t size)
{
	static const char *const names[] = { "timeout", "connection closed", "invalid header",
		"buffer error", "request cancelled", "body too large" };
	unsigned long e = bufferevent_get_openssl_error(s->bev);
	int sock_err = EVUTIL_SOCKET_ERROR();

	if (e != 0) {
		snprintf(buf, size, "TLS: %s", ERR_reason_error_string(e) != NULL ?
			ERR_reason_error_string(e) : "unknown error");
		/* Drain the rest so the next session starts clean. */
		while (bufferevent_get_openssl_error(s->bev) != 0)
			;
	} else if (s->have_http_error && (unsigned)s->http_error < 6) {
		snprintf(buf, size, "HTTP: %s%s%s", names[s->http_error],
			sock_err != 0 ? ": " : "", sock_err != 0 ? evutil_socket_error_to_string(sock_err) : "");
	} else {
		snprintf(buf, size, "connection failed");
	}
}

static void sim_done_cb(struct evhttp_request *req, void *arg)
{
	struct sim_session *s = arg;
	struct sim_state *st = s->st;
	struct sim_gateway *gw = s->gw;
	char error[SIM_ERROR_MAX] = "";
	struct timeval now = { 0, 0 };
	bool ok = false;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (req == NULL || code == 0) {
		sim_transport_error(s, error, sizeof(error));
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		const unsigned char *body = len > 0 && len <= WAN_MESSAGE_MAX_BODY ?
			evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
		struct tw_error e;

		if (len > WAN_MESSAGE_MAX_BODY) {
			snprintf(error, sizeof(error), "HTTP %d with an oversized body", code);
		} else if (code == 200) {
			struct wan_session_response res;

			if (wan_session_response_parse(body, len, &res, &e) != TW_OK)
				snprintf(error, sizeof(error), "bad session answer: %s", e.message);
			else if (res.protocol != WAN_PROTOCOL_VERSION)
				snprintf(error, sizeof(error), "server speaks protocol %ld, we speak %d",
					res.protocol, WAN_PROTOCOL_VERSION);
			else
				ok = true;
		} else {
			struct wan_error_body eb;

			if (wan_error_parse(body, len, &eb, &e) == TW_OK)
				snprintf(error, sizeof(error), "HTTP %d %s: %s", code, eb.code, eb.message);
			else
				snprintf(error, sizeof(error), "HTTP %d", code);
		}
	}
	if (ok) {
		SSL *ssl = bufferevent_openssl_get_ssl(s->bev);

		if (ssl != NULL && SSL_session_reused(ssl)) {
			gw->resumed++;
			st->res->resumed++;
		}
		if (st->opt->resume && ssl != NULL) {
			SSL_SESSION_free(gw->session);
			gw->session = SSL_get1_session(ssl);
		}
		/*
		 * Say goodbye properly (close_notify): OpenSSL marks a session that ends
		 * without it as not resumable, which would defeat --resume.
		 */
		if (ssl != NULL) {
			ERR_clear_error();
			(void)SSL_shutdown(ssl);
			ERR_clear_error();
		}
	}
	/* evhttp still uses the connection after this callback: free it from the loop. */
	if (event_base_once(st->base, -1, EV_TIMEOUT, sim_free_evcon, s->evcon, &now) != 0)
		tw_err("sim: cannot schedule a connection for release (leaks one connection)");
	free(s);
	st->in_flight--;
	sim_round_done(st, gw, ok, error);
	sim_pump(st);
}

static tw_rc sim_session_start(struct sim_state *st, struct sim_gateway *gw,
	struct tw_error *err)
{
	struct sim_session *s = NULL;
	struct evhttp_request *req = NULL;
	struct wan_session_request body;
	struct tw_buf buf;
	SSL *ssl = NULL;
	tw_rc rc;

	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	if (gw->ctx == NULL && (rc = sim_gateway_load(gw, err)) != TW_OK)
		goto fail;
	memset(&body, 0, sizeof(body));
	memcpy(body.gateway_id, gw->id, sizeof(body.gateway_id));
	snprintf(body.firmware_version, sizeof(body.firmware_version), "%s", SIM_FIRMWARE);
	tw_time_format_utc(tw_now_ms(), body.time, sizeof(body.time));
	if ((rc = wan_session_request_encode(&body, &buf, err)) != TW_OK)
		goto fail;

	s = calloc(1, sizeof(*s));
	ssl = SSL_new(gw->ctx);
	if (s == NULL || ssl == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	s->st = st;
	s->gw = gw;
	if (!st->host_is_ip)
		SSL_set_tlsext_host_name(ssl, st->host);
	SSL_set_info_callback(ssl, sim_info_cb);
	if (st->opt->resume && gw->session != NULL)
		SSL_set_session(ssl, gw->session);
	s->bev = bufferevent_openssl_socket_new(st->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create a TLS bufferevent");
		goto fail;
	}
	ssl = NULL;   /* owned by the bufferevent now */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->evcon = evhttp_connection_base_bufferevent_new(st->base, NULL, s->bev, st->host,
		st->port);
	if (s->evcon == NULL) {
		bufferevent_free(s->bev);
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP connection");
		goto fail;
	}
	evhttp_connection_set_timeout(s->evcon, SIM_TIMEOUT_S);
	req = evhttp_request_new(sim_done_cb, s);
	if (req == NULL) {
		evhttp_connection_free(s->evcon);
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP request");
		goto fail;
	}
	evhttp_request_set_error_cb(req, sim_error_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", st->host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), buf.data, buf.len);
	/* On failure evhttp_make_request frees req itself. */
	if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, "/v1/session") != 0) {
		evhttp_connection_free(s->evcon);
		rc = tw_error_set(err, TW_E_IO, "cannot send the session request");
		goto fail;
	}
	st->in_flight++;
	tw_buf_free(&buf);
	return TW_OK;
fail:
	SSL_free(ssl);
	free(s);
	tw_buf_free(&buf);
	return rc;
}

/* Start sessions while there is room and work. */
static void sim_pump(struct sim_state *st)
{
	while (st->in_flight < st->concurrency && st->qcount > 0) {
		struct sim_gateway *gw = &st->gws[sim_queue_pop(st)];
		struct tw_error e;

		if (sim_session_start(st, gw, &e) != TW_OK)
			sim_round_done(st, gw, false, e.message);
	}
}

tw_rc sim_run(const struct sim_options *opt, struct sim_result *res, struct tw_error *err)
{
	struct sim_state st;
	struct in6_addr a6;
	struct in_addr a4;
	int64_t t0;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	st.opt = opt;
	st.res = res;
	st.rounds = opt->rounds > 0 ? opt->rounds : 1;
	st.concurrency = opt->concurrency > 0 ? opt->concurrency : 64;
	if (opt->gateway_count == 0)
		return tw_error_set(err, TW_E_INVALID, "no gateways given");
	if (opt->gwa_address == NULL)
		return tw_error_set(err, TW_E_INVALID, "no wan address given; use --gwa HOST:PORT");
	if ((rc = tw_parse_hostport(opt->gwa_address, &st.host, &st.port, err)) != TW_OK)
		return rc;
	st.host_is_ip = inet_pton(AF_INET, st.host, &a4) == 1 ||
		inet_pton(AF_INET6, st.host, &a6) == 1;
	/* A closed connection must be an error code, not a process-killing signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		tw_warn("sim: cannot ignore SIGPIPE");
	st.gws = calloc(opt->gateway_count, sizeof(*st.gws));
	st.queue = calloc(opt->gateway_count, sizeof(*st.queue));
	st.base = event_base_new();
	if (st.gws == NULL || st.queue == NULL || st.base == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory for %zu gateways",
			opt->gateway_count);
		goto out;
	}
	for (size_t i = 0; i < opt->gateway_count; i++) {
		st.gws[i].dir = opt->gateway_dirs[i];
		sim_queue_push(&st, i);
	}
	t0 = tw_monotonic_ms();
	sim_pump(&st);
	if (st.in_flight > 0 && event_base_dispatch(st.base) < 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "simulator event loop failed");
		goto out;
	}
	res->seconds = (double)(tw_monotonic_ms() - t0) / 1000.0;
	rc = res->sessions_failed == 0 ? TW_OK :
		tw_error_set(err, TW_E_PROTOCOL, "%zu of %zu sessions failed", res->sessions_failed,
			res->sessions_failed + res->sessions_ok);
out:
	if (st.gws != NULL) {
		for (size_t i = 0; i < opt->gateway_count; i++) {
			SSL_CTX_free(st.gws[i].ctx);
			SSL_SESSION_free(st.gws[i].session);
		}
	}
	if (st.base != NULL)
		event_base_free(st.base);
	free(st.gws);
	free(st.queue);
	free(st.host);
	return rc;
}
