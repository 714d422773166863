/*
 * ws_http.c: ws_http.h. The connection is one evhttp_connection over an OpenSSL
 * bufferevent; it is freed from a zero timeout after the callback, because evhttp must
 * not see its connection freed inside its own request callback.
 */
#include "ws/ws_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>

#include "ws/ws_soap.h"

struct ws_post {
	struct event_base *base;
	struct evhttp_connection *evcon;
	struct evhttp_uri *uri;
	SSL *ssl;
	X509 *peer;          /* taken at the handshake: evhttp may drop the SSL on close */
	ws_post_cb cb;
	void *arg;
};

static void ws_post_free(struct ws_post *p)
{
	if (p == NULL)
		return;
	if (p->evcon != NULL)
		evhttp_connection_free(p->evcon);   /* frees the bufferevent and its SSL */
	if (p->uri != NULL)
		evhttp_uri_free(p->uri);
	X509_free(p->peer);
	free(p);
}

static void ws_post_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	ws_post_free(arg);
}

/* The verified server certificate, kept for the answer's caller. */
static void ws_post_info(const SSL *ssl, int where, int ret)
{
	struct ws_post *p = SSL_get_app_data(ssl);
	X509 *peer;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE) || p == NULL ||
	    (peer = SSL_get0_peer_certificate(ssl)) == NULL || X509_up_ref(peer) != 1)
		return;
	X509_free(p->peer);
	p->peer = peer;
}

static void ws_post_done(struct evhttp_request *req, void *arg)
{
	struct ws_post *p = arg;
	struct ws_post_result r;
	struct evbuffer *in = req != NULL ? evhttp_request_get_input_buffer(req) : NULL;
	char *body = NULL;
	size_t len = in != NULL ? evbuffer_get_length(in) : 0;
	struct timeval zero = { 0, 0 };

	memset(&r, 0, sizeof(r));
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		unsigned long e = ERR_peek_last_error();

		r.rc = TW_E_UNAVAILABLE;
		snprintf(r.error, sizeof(r.error), "no answer (connection refused, TLS handshake "
			"failed or timed out)%s%s", e != 0 ? ": " : "",
			e != 0 ? ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) :
			"?" : "");
		ERR_clear_error();
	} else if (len > WS_BODY_MAX || (body = malloc(len + 1)) == NULL ||
	    (len > 0 && evbuffer_copyout(in, body, len) != (ev_ssize_t)len)) {
		r.rc = len > WS_BODY_MAX ? TW_E_TOO_LARGE : TW_E_NOMEM;
		snprintf(r.error, sizeof(r.error), "answer over %d bytes or out of memory",
			WS_BODY_MAX);
		r.status = evhttp_request_get_response_code(req);
	} else {
		body[len] = '\0';
		r.rc = TW_OK;
		r.status = evhttp_request_get_response_code(req);
		r.body = body;
		r.len = len;
		r.peer = p->peer;
	}
	p->cb(&r, p->arg);
	free(body);
	if (event_base_once(p->base, -1, EV_TIMEOUT, ws_post_free_cb, p, &zero) != 0)
		ws_post_free(p);   /* cannot defer: evhttp copes at the end of the callback */
}

tw_rc ws_post_start(struct event_base *base, SSL_CTX *ctx, const char *url,
	const char *action, const char *body, size_t len, long timeout_s, ws_post_cb cb,
	void *arg, struct tw_error *err)
{
	struct ws_post *p = calloc(1, sizeof(*p));
	struct bufferevent *bev = NULL;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *h;
	const char *host, *path, *scheme;
	char hosthdr[300], soapaction[80];
	int port;
	tw_rc rc = TW_OK;

	if (p == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	p->base = base;
	p->cb = cb;
	p->arg = arg;
	if ((p->uri = evhttp_uri_parse_with_flags(url, 0)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(p->uri)) == NULL || strcasecmp(scheme, "https") != 0 ||
	    (host = evhttp_uri_get_host(p->uri)) == NULL || *host == '\0') {
		rc = tw_error_set(err, TW_E_CONFIG, "'%.200s' is not an https://HOST[:PORT]/PATH "
			"URL", url);
		goto fail;
	}
	port = evhttp_uri_get_port(p->uri);
	if (port <= 0)
		port = 443;
	path = evhttp_uri_get_path(p->uri);
	if (path == NULL || *path == '\0')
		path = "/";
	if ((p->ssl = SSL_new(ctx)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot set up TLS");
		goto fail;
	}
	SSL_set_tlsext_host_name(p->ssl, host);
	SSL_set_app_data(p->ssl, p);
	SSL_set_info_callback(p->ssl, ws_post_info);
	if ((bev = bufferevent_openssl_socket_new(base, -1, p->ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL) {
		SSL_free(p->ssl);
		p->ssl = NULL;
		rc = tw_error_set(err, TW_E_NOMEM, "cannot set up TLS");
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if ((p->evcon = evhttp_connection_base_bufferevent_new(base, NULL, bev, host,
		(ev_uint16_t)port)) == NULL) {
		bufferevent_free(bev);
		p->ssl = NULL;
		rc = tw_error_set(err, TW_E_NOMEM, "cannot set up the HTTP connection");
		goto fail;
	}
	evhttp_connection_set_timeout(p->evcon, (int)timeout_s);
	evhttp_connection_set_retries(p->evcon, 0);
	evhttp_connection_set_max_body_size(p->evcon, WS_BODY_MAX);
	evhttp_connection_set_max_headers_size(p->evcon, 16 * 1024);
	if ((req = evhttp_request_new(ws_post_done, p)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	h = evhttp_request_get_output_headers(req);
	snprintf(hosthdr, sizeof(hosthdr), "%s:%d", host, port);
	snprintf(soapaction, sizeof(soapaction), "\"%s\"", action);
	evhttp_add_header(h, "Host", hosthdr);
	evhttp_add_header(h, "Content-Type", "text/xml; charset=utf-8");
	evhttp_add_header(h, "SOAPAction", soapaction);
	evhttp_add_header(h, "Connection", "close");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	if (evhttp_make_request(p->evcon, req, EVHTTP_REQ_POST, path) != 0) {
		/* evhttp freed req */
		rc = tw_error_set(err, TW_E_IO, "cannot send the request to %s", url);
		goto fail;
	}
	return TW_OK;
fail:
	ws_post_free(p);
	return rc;
}

struct ws_sync {
	struct event_base *base;
	tw_rc rc;
	char error[TW_ERROR_MESSAGE_MAX];
	char *body;
	size_t len;
	int status;
	X509 *peer;
	bool done;
};

static void ws_sync_cb(const struct ws_post_result *r, void *arg)
{
	struct ws_sync *s = arg;

	s->done = true;
	s->rc = r->rc;
	s->status = r->status;
	snprintf(s->error, sizeof(s->error), "%s", r->error);
	if (r->rc == TW_OK) {
		if ((s->body = malloc(r->len + 1)) == NULL) {
			s->rc = TW_E_NOMEM;
			snprintf(s->error, sizeof(s->error), "out of memory");
		} else {
			memcpy(s->body, r->body, r->len + 1);
			s->len = r->len;
		}
		if (r->peer != NULL && X509_up_ref(r->peer) == 1)
			s->peer = r->peer;
	}
}

tw_rc ws_post_sync(SSL_CTX *ctx, const char *url, const char *action, const char *body,
	size_t len, long timeout_s, char **out, size_t *out_len, int *status, X509 **peer,
	struct tw_error *err)
{
	struct ws_sync s;
	tw_rc rc;

	memset(&s, 0, sizeof(s));
	*out = NULL;
	*out_len = 0;
	*status = 0;
	if (peer != NULL)
		*peer = NULL;
	if ((s.base = event_base_new()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "cannot create an event loop");
	rc = ws_post_start(s.base, ctx, url, action, body, len, timeout_s, ws_sync_cb, &s, err);
	if (rc == TW_OK) {
		event_base_dispatch(s.base);   /* ends when the connection is freed */
		if (!s.done)
			rc = tw_error_set(err, TW_E_INTERNAL, "the HTTP client ended without an answer");
		else if (s.rc != TW_OK)
			rc = tw_error_set(err, s.rc, "%s: %s", url, s.error);
	}
	if (rc == TW_OK) {
		*out = s.body;
		*out_len = s.len;
		*status = s.status;
		if (peer != NULL) {
			*peer = s.peer;
			s.peer = NULL;
		}
		s.body = NULL;
	}
	free(s.body);
	X509_free(s.peer);
	event_base_free(s.base);
	return rc;
}
