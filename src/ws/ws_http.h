/*
 * ws_http.h: one SOAP POST over mutually authenticated TLS, with libevent's HTTP client
 * (evhttp: we write no HTTP parser), for the web service's outgoing calls: the CA's
 * SendCertificates deliveries (ws_outbox.c, in the worker) and Torwart as a participant
 * calling a remote Sub-CA (ws_client.c).
 */
#ifndef TORWART_WS_WS_HTTP_H
#define TORWART_WS_WS_HTTP_H

#include <stddef.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/error.h"

struct ws_post_result {
	tw_rc rc;                       /* TW_OK: an HTTP answer arrived (any status) */
	char error[TW_ERROR_MESSAGE_MAX];
	int status;                     /* HTTP status */
	const char *body;               /* NUL-terminated, borrowed for the callback */
	size_t len;
	X509 *peer;                     /* the server's verified certificate (borrowed) */
};

typedef void (*ws_post_cb)(const struct ws_post_result *r, void *arg);

/*
 * POST body (SOAP 1.1, SOAPAction action) to url ("https://HOST[:PORT][/PATH]") with
 * ctx (a TLS client context: own certificate and key, trust anchors, verification on),
 * on base. cb runs exactly once on base (also for connection and TLS failures and the
 * timeout), unless this returns an error. Answers over WS_BODY_MAX bytes fail.
 */
tw_rc ws_post_start(struct event_base *base, SSL_CTX *ctx, const char *url,
	const char *action, const char *body, size_t len, long timeout_s, ws_post_cb cb,
	void *arg, struct tw_error *err);

/*
 * The same, blocking, on a private event loop: *out (caller frees) the answer body,
 * *status the HTTP status; *peer (caller X509_free, may be NULL) the server certificate.
 */
tw_rc ws_post_sync(SSL_CTX *ctx, const char *url, const char *action, const char *body,
	size_t len, long timeout_s, char **out, size_t *out_len, int *status, X509 **peer,
	struct tw_error *err);

#endif
