/*
 * conn_guard.h: connection admission and deadlines for the evhttp listeners of wan and
 * api (issue 9, connection exhaustion).
 *
 * What it enforces, per listener (one guard, shared by every event loop of it):
 *   - a global cap on live connections; when a new connection arrives at the cap, the
 *     oldest connection that has not authenticated is shed, and only when every live
 *     connection is authenticated is the newcomer refused instead: authenticated peers
 *     are never pushed out by unauthenticated ones;
 *   - a cap on live connections per source address (IPv4 address, IPv6 /64);
 *   - a hard handshake deadline from accept to a completed TLS handshake, and a hard
 *     deadline per request from its first byte until it is fully read. Neither is reset
 *     by incoming bytes (evhttp's own timeouts are, which is what a trickling client
 *     abuses). Plain-HTTP connections get one deadline for their whole life instead.
 *
 * How a connection ends: its owning event loop shuts the socket down (shutdown(2)), so
 * evhttp sees an ordinary end of stream and frees the connection on its own path. The
 * guard never frees a bufferevent or touches another loop's objects: shedding from
 * another thread only activates the victim's event (libevent locks the base).
 *
 * Use (per listener): conn_guard_new; evhttp_set_bevcb with a callback that makes the
 * bufferevent and calls conn_guard_track (TLS: pass the SSL); evhttp_set_gencb with a
 * callback that calls conn_guard_request_dispatched first; conn_guard_authenticated
 * when the peer has proved who it is (TLS handshake with a verified, accepted client
 * certificate). Memory: one struct per live connection plus one per source address
 * with live connections, all bounded by the global cap.
 */
#ifndef TORWART_NET_CONN_GUARD_H
#define TORWART_NET_CONN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "base/config.h"
#include "base/error.h"

struct conn_guard_limits {
	long max_conns;        /* live connections of the listener */
	long per_source;       /* live connections per source address */
	long handshake_ms;     /* accept -> TLS handshake done */
	long request_ms;       /* first byte of a request -> request fully read; plain
	                        * HTTP: accept -> connection closed */
	bool max_explicit;     /* max_connections was set in torwart.conf */
	bool async_tls;        /* TLS handshakes with a signer-held key run asynchronously
	                        * (tls_async.h) once admitted */
};

struct conn_guard_stats {
	uint64_t live;             /* counted live connections now */
	uint64_t accepted;         /* admitted since start */
	uint64_t refused_source;   /* over the per-source limit */
	uint64_t refused_full;     /* at the cap with every connection authenticated */
	uint64_t shed;             /* unauthenticated connections shed for newcomers */
	uint64_t handshake_expired;
	uint64_t request_expired;
};

struct conn_guard;
struct conn_guard_conn;

/*
 * Called (owning loop) when a TLS connection's first request has its header block
 * complete in the input buffer, before evhttp parses it further; header points at the
 * bytes (len up to and including the blank line). The hook may change the connection's
 * limits (evhttp_connection_set_max_body_size). NULL: no hook.
 */
typedef void (*conn_guard_header_hook)(struct evhttp_connection *evcon, SSL *ssl,
	const char *header, size_t len, void *arg);

/*
 * Read the limits of [section]: max_connections (default def_max),
 * max_connections_per_source (def_per_source), handshake_timeout and request_timeout in
 * seconds (10 and 30). TW_E_CONFIG with the key named when a value is out of range.
 */
tw_rc conn_guard_limits_load(const struct tw_config *conf, const char *section,
	const char *prefix, long def_max, long def_per_source, struct conn_guard_limits *lim,
	struct tw_error *err);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (a daemon started with the common
 * 1024 would run out of descriptors long before any cap) and clamp *max_conns so that
 * the connections plus reserve descriptors fit. A clamp of a configured value is a
 * warning; of the default, an info line.
 */
void conn_guard_fit_nofile(const char *name, long reserve, struct conn_guard_limits *lim);

/* name appears in log lines ("wan", "api"). Caller frees with conn_guard_free. */
tw_rc conn_guard_new(const char *name, const struct conn_guard_limits *lim,
	struct conn_guard **out, struct tw_error *err);
/* After every tracked connection is gone (the listeners' evhttp freed). NULL is fine. */
void conn_guard_free(struct conn_guard *g);

/*
 * Track a connection whose bufferevent was just made in an evhttp bevcb on base (the
 * owning loop). ssl: the connection's SSL for TLS (the guard state then lives as long as
 * it), NULL for plain HTTP. hook/hook_arg: see conn_guard_header_hook (TLS only).
 * False when out of memory: the caller must then refuse the connection (wan and api
 * hand evhttp a bufferevent without TLS, which every handler refuses).
 */
bool conn_guard_track(struct conn_guard *g, struct event_base *base,
	struct bufferevent *bev, SSL *ssl, conn_guard_header_hook hook, void *hook_arg);

/*
 * The whole evhttp bevcb of a TLS listener: a server-side bufferevent for ssl (owned from
 * here on; NULL when the caller could not make one), tracked by the guard. Never NULL:
 * when anything fails it logs "who: cannot set up TLS ..." and returns a plain
 * bufferevent, which the listener's handlers refuse (evhttp would otherwise build a
 * plaintext one itself). Dirty TLS shutdowns are allowed (peers often just drop TCP).
 */
struct bufferevent *conn_guard_tls_bev(struct conn_guard *g, struct event_base *base,
	SSL *ssl, conn_guard_header_hook hook, void *hook_arg, const char *who);

/* The TLS peer authenticated: never shed for an unauthenticated newcomer. Owning loop. */
void conn_guard_authenticated(const SSL *ssl);

/* A request of this connection was read completely: its deadline stops. Owning loop. */
void conn_guard_request_dispatched(struct evhttp_request *req);

/*
 * A request of ssl's connection was read completely (listeners that are not evhttp,
 * e.g. the LDAPS front end of src/dir): its deadline stops. Owning loop.
 */
void conn_guard_request_read(const SSL *ssl);

/*
 * The request being read on ssl's connection may take ms from now (an authenticated
 * upload); no effect between requests. Owning loop.
 */
void conn_guard_extend_request(const SSL *ssl, long ms);

/* True once ssl's peer is authenticated in the guard's sense. */
bool conn_guard_is_authenticated(const SSL *ssl);

void conn_guard_get_stats(struct conn_guard *g, struct conn_guard_stats *st);

#endif
