/*
 * tls_async.h: a server TLS handshake driven in OpenSSL's asynchronous mode, so that a
 * loop keeps serving its other connections while a handshake signature is at the signer
 * (tls_signer_key.h; docs/architecture.md "Asynchronous handshakes").
 *
 * Why not bufferevent_openssl itself: libevent 2.1's bufferevent_openssl knows no
 * SSL_ERROR_WANT_ASYNC; its do_handshake treats every error other than WANT_READ and
 * WANT_WRITE as fatal ("BUG: Unexpected OpenSSL error code 9" and BEV_EVENT_ERROR). So
 * the handshake is run here, beside it: the bufferevent's events are disabled, this
 * module calls SSL_do_handshake with SSL_MODE_ASYNC on the socket and on the paused
 * job's wait fd (the signer connection; tls_signer_key.c publishes it), and when the
 * handshake is over it clears SSL_MODE_ASYNC and gives the events back. The
 * bufferevent's next own SSL_do_handshake then returns 1 at once (success: it becomes
 * OPEN and reports BEV_EVENT_CONNECTED as usual) or fails again (failure: the socket was
 * shut down, so the owner sees EOF/ERROR and frees the connection on its usual path).
 *
 * The handshake runs to its end even when the owner gives the connection up meanwhile
 * (a paused ASYNC job must be resumed, or its stack and the signer connection would be
 * lost); the bufferevent is held (incref) until then.
 */
#ifndef TORWART_NET_TLS_ASYNC_H
#define TORWART_NET_TLS_ASYNC_H

#include <stdbool.h>

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

/*
 * Whether ssl's handshake gains from the asynchronous mode: its private key is held by
 * the signer (a key file signs in-process and gains nothing).
 */
bool tls_async_wanted(SSL *ssl);

/*
 * Take over the server handshake of bev (a bufferevent_openssl in the accepting state
 * whose socket is attached and whose handshake has not started). True when taken over;
 * false (nothing changed, the bufferevent runs the handshake itself) otherwise.
 * Runs on bev's loop.
 */
bool tls_async_handshake(struct bufferevent *bev);

struct tls_async_stats {
	unsigned long long handshakes_ok;
	unsigned long long handshakes_failed;
	/* Handshakes that ended with their ASYNC job still paused: each one a lost job
	 * (stack and all). Always 0; the wan logs it at stop and tls_async.sh checks it. */
	unsigned long long jobs_left_paused;
};

/* The process's counts so far. */
void tls_async_stats(struct tls_async_stats *out);

#endif
