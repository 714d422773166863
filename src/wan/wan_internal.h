/*
 * wan_internal.h: the pieces of `wan` shared between its files (not a public interface).
 *
 *   wan.c          threads, event bases, SO_REUSEPORT listeners, start/stop
 *   wan_conn.c     per-connection state, TLS verify/info callbacks, gateway identification
 *   wan_journal.c  batched admin-log entries and last-contact updates per thread
 *   wan_http.c     HTTP routing and the /v1/session handler (codec in wan_message.c)
 *   wan_orders.c   the order routes (jobs: gwa/job.h)
 *   wan_emt.c      the EMT routes (/v1/emt/..., UC-3.2.4)
 *   wan_tls_reload.c  a new TLS server certificate/key without a restart
 *
 * Threading: everything hanging off a struct wan_thread is touched only by that thread's
 * event loop, so none of it is locked. The SSL_CTX (and so its session cache) is shared;
 * OpenSSL locks it internally.
 */
#ifndef TORWART_WAN_WAN_INTERNAL_H
#define TORWART_WAN_WAN_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "audit/audit.h"
#include "base/home.h"
#include "net/conn_guard.h"
#include "store/store.h"
#include "net/wan_message.h"
#include "wan/wan_session_cache.h"

struct trust_set;                       /* pki/trust.h */

/* Admin-log batching: flush every WAN_JOURNAL_FLUSH_MS or at WAN_JOURNAL_FLUSH_AT entries. */
#define WAN_JOURNAL_FLUSH_MS  100
#define WAN_JOURNAL_FLUSH_AT  256
/* Hard cap per thread while the store is failing; beyond it entries are counted as lost. */
#define WAN_JOURNAL_CAP       4096
#define WAN_PEER_MAX          64
#define WAN_DETAIL_MAX        255

struct wan_journal_entry {
	char actor[80];
	char role[16];
	char client[WAN_PEER_MAX];
	char action[24];
	char object[80];
	char result[16];
	char detail[WAN_DETAIL_MAX + 1];
};

struct wan_touch {
	char gateway_id[STORE_ID_MAX + 1];
	int64_t when_ms;
	char address[WAN_PEER_MAX];
};

struct wan_journal {
	struct wan_journal_entry *entries;  /* WAN_JOURNAL_CAP slots */
	struct audit_entry *views;          /* scratch for audit_append_batch */
	size_t n;
	struct wan_touch *touches;          /* WAN_JOURNAL_CAP slots */
	size_t nt;
	uint64_t lost;                      /* entries dropped because the cap was hit */
	bool failing;                       /* last flush failed: accept no new connections */
};

struct wan_server;

struct wan_thread {
	struct wan_server *srv;
	unsigned index;
	pthread_t tid;
	bool started;
	struct event_base *base;
	struct evhttp *http;
	struct evconnlistener *listener;    /* owned by http after evhttp_bind_listener */
	struct event *flush_ev;
	struct tw_store *store;
	struct wan_journal journal;
	size_t conns;                       /* live connections of this thread */
	bool paused;                        /* journal failing: new connections get 503 */
	struct wan_order_batch *orders;     /* queued order requests (wan_orders.c), lazy */
};

struct wan_tls_reload;

struct wan_server {
	SSL_CTX *ctx;                       /* current; swapped by wan_tls_reload.c under its lock */
	struct wan_tls_reload *tls;         /* reload state (wan_tls_reload.c) */
	struct conn_guard *guard;           /* caps and deadlines of all loops (conn_guard.h) */
	struct wan_thread *threads;
	unsigned nthreads;
	uint16_t port;
	long timeout_s;
	struct trust_set *trust;            /* [trust]: other Sub-CAs' EMTs (NULL: none) */
};

/*
 * Who is on the other end of a connection. Each kind has its own routes and never
 * reaches the other's (wan_http.c): gateways /v1/session, /v1/orders..., /v1/alarms;
 * EMTs /v1/emt/....
 */
enum wan_principal {
	WAN_PRINCIPAL_NONE = 0,             /* not (yet) identified */
	WAN_PRINCIPAL_GATEWAY,              /* SMGW TLS certificate of an enabled gateway */
	WAN_PRINCIPAL_EMT,                  /* EMT TLS certificate of a registered participant */
};

/* Per-connection state, hung on the SSL as ex_data and freed with it. */
struct wan_conn {
	struct wan_thread *thr;
	char peer[WAN_PEER_MAX];            /* "ip:port", filled on first use */
	enum wan_principal kind;            /* set with the certificate's owner kind */
	char gateway_id[STORE_ID_MAX + 1];  /* gateway: set once identified */
	char emt_id[STORE_ID_MAX + 1];      /* EMT: market partner id of its participant */
	char participant[STORE_ID_MAX + 1]; /* EMT: RA participant name (certificate owner) */
	char fingerprint[65];
	char why[WAN_DETAIL_MAX + 1];       /* a refusal's reason that is not static text */
	bool identified;                    /* certificate -> enabled gateway */
	bool refused;                       /* a refusal was logged; never serve it */
	bool store_down;                    /* identification hit an unavailable database */
	bool connect_logged;
	bool renewal_proof;                 /* logged in with a renewal's pending TLS cert */
	char session[33];                   /* WAN session id, "" before POST /v1/session */
	struct wan_session_offer offer;     /* the ClientHello's ticket (wan_session_cache.c) */
};

/* wan.c: the wan's server context from the home's files ([wan] cert, key, chain, trust). */
tw_rc wan_tls_ctx(const struct tw_home *home, long lifetime, SSL_CTX **ctx,
	struct tw_error *err);

/* wan_tls_reload.c: a new TLS certificate/key without a restart (see there). */
enum wan_tls_reload_result { WAN_TLS_UNCHANGED, WAN_TLS_RELOADED, WAN_TLS_REFUSED };
tw_rc wan_tls_reload_init(struct wan_server *srv, const struct tw_home *home, long lifetime,
	struct tw_error *err);
void wan_tls_reload_free(struct wan_server *srv);
/* An SSL from the current context (new connections). NULL on failure. */
SSL *wan_tls_ssl_new(struct wan_server *srv);
/* Main thread only: rebuild when the files changed (or force); the old context stays on refusal. */
enum wan_tls_reload_result wan_tls_reload(struct wan_server *srv, bool force);

/* wan_conn.c */
tw_rc wan_conn_global_init(struct tw_error *err);
/* New SSL for an accepted connection, state attached, callbacks set. NULL on failure. */
SSL *wan_conn_ssl_new(struct wan_thread *thr);
struct wan_conn *wan_conn_get(const SSL *ssl);
/* The connection's ClientHello ticket offer (wan_session_cache.c); NULL: not a wan SSL. */
struct wan_session_offer *wan_conn_offer(const SSL *ssl);
const char *wan_conn_peer(struct wan_conn *conn, const SSL *ssl);
/* Hook for the thread: a connection went away (called from the SSL's ex_data free). */
void wan_thread_conn_closed(struct wan_thread *thr);

/* wan_renewal.c: the connection is the proof of a certificate renewal (gwa/renewal.h). */
void wan_renewal_proof(struct wan_conn *conn, const char *peer);

/* wan_journal.c */
tw_rc wan_journal_init(struct wan_journal *j, struct tw_error *err);
void wan_journal_free(struct wan_journal *j);
/* Queue an admin-log entry (copied, fields truncated to their slots). */
void wan_journal_add(struct wan_thread *thr, const char *actor, const char *client,
	const char *action, const char *object, const char *result, const char *detail);
/* The same for an EMT principal: actor "emt:<emt_id>" ("unknown" if NULL), role "emt". */
void wan_journal_add_emt(struct wan_thread *thr, const char *emt_id, const char *client,
	const char *action, const char *object, const char *result, const char *detail);
void wan_journal_touch(struct wan_thread *thr, const char *gateway_id, int64_t when_ms,
	const char *address);
/* Write everything queued; on failure the entries stay queued for the next try. */
tw_rc wan_journal_flush(struct wan_thread *thr, struct tw_error *err);

/* wan.c: re-evaluate whether the listener should accept (journal health). */
void wan_thread_update_listener(struct wan_thread *thr);

/* wan_http.c */
void wan_http_request(struct evhttp_request *req, void *arg);
/* JSON answer (body may be NULL) and {"error":{...}} answer; close adds Connection: close. */
void wan_reply_json(struct evhttp_request *req, int code, const struct tw_buf *body,
	bool close);
void wan_reply_error(struct evhttp_request *req, int code, const char *ecode,
	const char *message, bool close);
/* 503 "unavailable" with Retry-After, closing: the database is down (try again soon). */
void wan_reply_unavailable(struct evhttp_request *req);
/* Content-Type is "application/json", optionally with parameters (";charset=utf-8"). */
bool wan_content_type_json(struct evhttp_request *req);

/* wan_orders.c: GET /v1/orders, POST /v1/orders/ID/result, session status hooks. */
void wan_orders_get(struct evhttp_request *req, struct wan_conn *conn, const char *peer);
void wan_orders_result(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	const char *id_text);
/* The session request's "status" object (borrowed; NULL: none) to its hooks. */
void wan_orders_session_status(struct wan_conn *conn, json_t *status);
/* Answer every queued order request now and free the batch (thread teardown, before
 * the connections are freed). */
void wan_orders_stop(struct wan_thread *thr);
/*
 * Queue a verified metering row (wan_metering.c) into this thread's batch transaction;
 * wan_metering_stored answers req after the commit. *row's body moves to the batch
 * (row is cleared). received_len: the CMS bytes as posted (for the admin log).
 */
struct store_metering_msg;
void wan_batch_metering(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	struct store_metering_msg *row, size_t received_len);

/* Refusal helper used by wan_conn.c and wan_http.c: tw_warn + admin log "wan.refuse". */
void wan_refuse(struct wan_thread *thr, const char *gateway_id, const char *client,
	const char *object, const char *detail);

/* The same for EMTs: admin log "wan.refuse" with actor "emt:<id>" and role "emt". */
void wan_refuse_emt(struct wan_thread *thr, const char *emt_id, const char *client,
	const char *object, const char *detail);

/*
 * wan_emt.c: every request of an EMT connection goes here (wan_http.c routes by kind).
 * Answers /v1/emt/... and refuses (403, logged) every other path.
 */
void wan_emt_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path);

#endif
