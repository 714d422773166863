/*
 * wan_session_cache.h: resumed TLS 1.2 sessions of ticket clients from memory instead of
 * decrypting and decoding their ticket on every connection (wan_session_cache.c).
 */
#ifndef TORWART_WAN_SESSION_CACHE_H
#define TORWART_WAN_SESSION_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "base/error.h"

/* Most sessions held; a full cache evicts its oldest entry (the ticket still works). */
#define WAN_SESSION_CACHE_MAX 65536

/* What the ClientHello offered, kept per connection (struct wan_conn). */
struct wan_session_offer {
	unsigned char id[32];   /* the session id the client offered with its ticket */
	bool ticket;            /* a non-empty ticket and a 32-byte session id were offered */
	bool hit;               /* the session was found here (the ticket stays undecoded) */
	SSL_SESSION *cached;    /* owned until OpenSSL takes it (get callback) or the SSL goes */
};

struct wan_session_cache_stats {
	uint64_t hits;          /* ClientHellos answered from memory (no ticket decode) */
	uint64_t learned;       /* sessions kept after a ticket resumption */
	uint64_t evicted;       /* pushed out by newer ones (the cap) */
	uint64_t size;
};

/*
 * Installs the ClientHello and session-lookup callbacks on a wan server context. The
 * callbacks find the connection's struct wan_session_offer through offer_of (the wan's
 * ex_data); the cache itself is one per process. Call for every context the wan makes
 * (start and TLS reload).
 */
tw_rc wan_session_cache_install(SSL_CTX *ctx,
	struct wan_session_offer *(*offer_of)(const SSL *ssl), struct tw_error *err);

/*
 * After a resumed handshake that decoded a ticket: keep the server's session under the
 * session id the client offered, so its next resumption skips the ticket decode. Only for
 * identified principals (the caller checks).
 */
void wan_session_cache_learn(const SSL *ssl, const struct wan_session_offer *offer);

/* A refused principal: its session is no longer served from memory. */
void wan_session_cache_forget(const struct wan_session_offer *offer);

/* The connection's offer goes away: drops a reference OpenSSL did not take. */
void wan_session_offer_clear(struct wan_session_offer *offer);

void wan_session_cache_stats(struct wan_session_cache_stats *out);

/* Drops every session (wan_server_stop of the last server; tests). */
void wan_session_cache_clear(void);

#endif
