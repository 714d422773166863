/*
 * tls_async.c: server TLS handshakes in OpenSSL's asynchronous mode beside libevent's
 * bufferevent_openssl (tls_async.h).
 */
#include "net/tls_async.h"

#include <stdlib.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/async.h>
#include <openssl/err.h>

#include "crypto/tls_signer_key.h"

/*
 * A paused handshake is resumed at least this often even when its wait fd stays quiet,
 * so the signature's own deadline (tls_signer_key.c) is checked against a hung signer.
 */
#define TA_RECHECK_S 1

struct tls_async {
	struct bufferevent *bev;   /* held (incref) until the handshake is over */
	SSL *ssl;                  /* bev's */
	evutil_socket_t fd;
	struct event *io;          /* the socket: WANT_READ / WANT_WRITE */
	struct event *wake;        /* the paused job's wait fd (or its timer alone) */
	short enabled;             /* bev's events when taken over, given back at the end */
};

static void ta_step(struct tls_async *t);

bool tls_async_wanted(SSL *ssl)
{
	return ssl != NULL && tls_signer_key_is_remote(SSL_get_privatekey(ssl));
}

/* Whether the bufferevent's owner (evhttp) still has it: bufferevent_free clears the
 * callbacks. */
static bool ta_owned(struct bufferevent *bev)
{
	bufferevent_data_cb rcb = NULL, wcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *arg = NULL;

	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	return rcb != NULL || wcb != NULL || ecb != NULL;
}

static void ta_finish(struct tls_async *t, bool ok)
{
	struct bufferevent *bev = t->bev;

	if (t->io != NULL)
		event_free(t->io);
	if (t->wake != NULL)
		event_free(t->wake);
	SSL_clear_mode(t->ssl, SSL_MODE_ASYNC);
	/*
	 * A failed handshake has sent its alert; shutting the socket down makes the
	 * bufferevent's own next step see the end at once, so its owner frees the
	 * connection on the usual path (dirty shutdown allowed: EOF; else ERROR).
	 */
	if (!ok)
		(void)shutdown(t->fd, SHUT_RDWR);
	if (ta_owned(bev)) {
		bufferevent_enable(bev, t->enabled);
		/* Bytes the handshake already read past its end would not wake the socket. */
		if (!ok || SSL_has_pending(t->ssl))
			event_active(&bev->ev_read, EV_READ, 1);
	}
	free(t);
	bufferevent_decref(bev);
}

static void ta_io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ta_step(arg);
}

/* Wait for what the handshake asked for: the socket, or the paused job's wait fd. */
static bool ta_wait(struct tls_async *t, int want)
{
	struct event_base *base = bufferevent_get_base(t->bev);
	OSSL_ASYNC_FD fds[4];
	size_t n = 0;

	if (t->io != NULL) {
		event_free(t->io);
		t->io = NULL;
	}
	if (t->wake != NULL) {
		event_free(t->wake);
		t->wake = NULL;
	}
	if (want == SSL_ERROR_WANT_READ || want == SSL_ERROR_WANT_WRITE) {
		t->io = event_new(base, t->fd, want == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE,
			ta_io_cb, t);
		return t->io != NULL && event_add(t->io, NULL) == 0;
	}
	/* WANT_ASYNC: the signer connection's fd (tls_signer_key.c sets exactly one). */
	if (SSL_get_all_async_fds(t->ssl, NULL, &n) != 1 || n > 4 ||
	    (n > 0 && SSL_get_all_async_fds(t->ssl, fds, &n) != 1))
		return false;
	t->wake = event_new(base, n > 0 ? fds[0] : -1, n > 0 ? EV_READ : 0, ta_io_cb, t);
	return t->wake != NULL &&
		event_add(t->wake, &(struct timeval){ TA_RECHECK_S, 0 }) == 0;
}

static void ta_step(struct tls_async *t)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		ta_finish(t, true);
		return;
	}
	e = SSL_get_error(t->ssl, r);
	/* A paused job is always resumed (tls_async.h); otherwise an owner that gave the
	 * connection up ends the handshake here. */
	if (e == SSL_ERROR_WANT_ASYNC ||
	    ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && ta_owned(t->bev))) {
		if (ta_wait(t, e))
			return;
	}
	/* Failed (the reason is in OpenSSL's error queue, logged by the owner's callbacks),
	 * or no event could be made. */
	ta_finish(t, false);
}

bool tls_async_handshake(struct bufferevent *bev)
{
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	struct tls_async *t;

	if (ssl == NULL || fd < 0 || !SSL_in_before(ssl) || SSL_is_server(ssl) != 1 ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return false;
	t->bev = bev;
	t->ssl = ssl;
	t->fd = fd;
	t->enabled = bufferevent_get_enabled(bev);
	bufferevent_incref(bev);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	SSL_set_mode(ssl, SSL_MODE_ASYNC);
	ta_step(t);
	return true;
}
