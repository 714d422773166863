/*
 * wan.c: the SMGW-facing service: N event loops (one per core), each with its own
 * SO_REUSEPORT listener, evhttp server and store connection, sharing one TR-03116-3
 * server SSL_CTX (and so one session cache: a gateway resumes on any loop).
 *
 * Why this shape (DESIGN.md, performance model): a brainpool mTLS handshake is CPU bound,
 * so the kernel spreads accepted connections across independent loops and no state is
 * shared on the hot path except the SSL_CTX, which OpenSSL locks itself.
 *
 * Lifecycle: wan_server_start binds every listener on the calling thread (so a bad
 * address fails before anything runs) and starts the loops; wan_server_stop breaks them,
 * joins, frees connections, flushes each thread's admin-log queue and closes the stores.
 * wan_run wraps both around sigtimedwait(SIGTERM, SIGINT, SIGHUP): SIGHUP and a periodic
 * look at the files reload the TLS certificate (wan_tls_reload.c).
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/thread.h>
#include <openssl/err.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "gwa/profile_orders.h"
#include "wan/wan.h"
#include "wan/wan_firmware.h"
#include "net/bev_coalesce.h"
#include "net/loop_base.h"
#include "net/metrics_http.h"
#include "net/tls_async.h"
#include "pki/trust.h"
#include "wan/wan_internal.h"
#include "wan/wan_metrics.h"
#include "wan/wan_metering.h"

#define WAN_MAX_THREADS       256
#define WAN_LISTEN_BACKLOG    1024
#define WAN_MAX_HEADERS_SIZE  8192
/* [wan] max_connections and max_connections_per_source defaults (docs/operations.md). */
#define WAN_DEFAULT_MAX_CONNS  20000
#define WAN_DEFAULT_PER_SOURCE 256
/*
 * evhttp's own body limit; beyond it evhttp closes with a bare 413. Between
 * WAN_MESSAGE_MAX_BODY and this the handlers answer 413 with a JSON error body.
 */
#define WAN_TRANSPORT_MAX_BODY (4 * WAN_MESSAGE_MAX_BODY)

static pthread_once_t wan_evthread_once = PTHREAD_ONCE_INIT;
static int wan_evthread_rc = -1;

static void wan_evthread_init(void)
{
	/* Locks and cross-thread wake-ups, so wan_server_stop can break loops safely. */
	wan_evthread_rc = evthread_use_pthreads();
}

void wan_thread_update_listener(struct wan_thread *thr)
{
	/*
	 * A failing admin log (the database down or locked) must not lead to unaudited
	 * sessions. The listener stays open, though: a disabled one leaves gateways hanging in
	 * the kernel's accept queue until their own timeout. Instead every connection
	 * accepted meanwhile is answered 503 "unavailable" with Retry-After and served
	 * nothing (wan_conn_ssl_new marks it, wan_http_request answers). The connection cap
	 * is the guard's: it sheds unauthenticated connections instead of locking everybody out.
	 */
	thr->paused = thr->journal.failing;
}

void wan_thread_conn_closed(struct wan_thread *thr)
{
	if (thr->conns > 0)
		thr->conns--;
	wan_thread_update_listener(thr);
}

/*
 * evhttp asks for each accepted connection's bufferevent here. It must never get NULL:
 * evhttp would then build a plaintext bufferevent itself. If no SSL can be made we hand
 * it a plain one, and wan_http_request refuses every request that has no TLS state.
 */
static struct bufferevent *wan_bevcb(struct event_base *base, void *arg)
{
	struct wan_thread *thr = arg;
	struct bufferevent *bev;

	bev = conn_guard_tls_bev(thr->srv->guard, base, wan_conn_ssl_new(thr), NULL, NULL,
		"wan");
	/* An answer's header block and body in one TLS record and one write (a resumed
	 * session's POST /v1/session answer was two of each). */
	if (bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL &&
	    !bev_coalesce_writes(bev))
		tw_warn("wan: small answers of a connection go out in two TLS records");
	wan_thread_update_listener(thr);
	return bev;
}

/* Every request: its hard deadline ends once it is read, then the router. */
static void wan_gencb(struct evhttp_request *req, void *arg)
{
	conn_guard_request_dispatched(req);
	wan_http_request(req, arg);
}

static void wan_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wan_thread *thr = arg;
	struct tw_error e;

	(void)fd; (void)what;
	if ((thr->journal.n > 0 || thr->journal.nt > 0) && wan_journal_flush(thr, &e) != TW_OK &&
	    !thr->journal.failing)
		tw_err("wan: admin log flush failed: %s", e.message);
}

static void *wan_thread_main(void *arg)
{
	struct wan_thread *thr = arg;

	if (event_base_dispatch(thr->base) < 0)
		tw_err("wan: event loop %u failed", thr->index);
	return NULL;
}

static tw_rc wan_listener_new(struct wan_thread *thr, const struct sockaddr *sa,
	socklen_t sl, struct tw_error *err)
{
	unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
		LEV_OPT_CLOSE_ON_EXEC;

	thr->listener = evconnlistener_new_bind(thr->base, NULL, NULL, flags,
		WAN_LISTEN_BACKLOG, sa, (int)sl);
	if (thr->listener == NULL)
		return tw_error_set(err, TW_E_IO, "cannot listen on port %u: %s; is another wan "
			"running or the address wrong ([wan] listen)?", thr->srv->port, strerror(errno));
	/*
	 * Accepted sockets inherit TCP_NODELAY from the listener (Linux). Without it Nagle
	 * holds back the second small TLS record of an answer until the peer's delayed ACK
	 * (~40 ms), which dominates a resumed session.
	 */
	if (setsockopt(evconnlistener_get_fd(thr->listener), IPPROTO_TCP, TCP_NODELAY,
	    &(int){ 1 }, sizeof(int)) != 0)
		tw_warn("wan: cannot set TCP_NODELAY: %s", strerror(errno));
	if (evhttp_bind_listener(thr->http, thr->listener) == NULL) {
		evconnlistener_free(thr->listener);
		thr->listener = NULL;
		return tw_error_set(err, TW_E_NOMEM, "cannot attach the wan listener");
	}
	return TW_OK;
}

static tw_rc wan_thread_setup(struct wan_server *srv, struct wan_thread *thr,
	const char *store_url, struct tw_error *err)
{
	struct timeval tick = { 0, WAN_JOURNAL_FLUSH_MS * 1000 };
	tw_rc rc;

	thr->srv = srv;
	if ((rc = wan_journal_init(&thr->journal, err)) != TW_OK)
		return rc;
	if ((rc = store_open(store_url, &thr->store, err)) != TW_OK)
		return rc;
	thr->base = loop_base_new();
	thr->http = thr->base != NULL ? evhttp_new(thr->base) : NULL;
	thr->flush_ev = thr->base != NULL ?
		event_new(thr->base, -1, EV_PERSIST, wan_flush_cb, thr) : NULL;
	if (thr->http == NULL || thr->flush_ev == NULL || event_add(thr->flush_ev, &tick) != 0)
		return tw_error_set(err, TW_E_NOMEM, "cannot create the wan event loop");
	evhttp_set_bevcb(thr->http, wan_bevcb, thr);
	evhttp_set_gencb(thr->http, wan_gencb, thr);
	evhttp_set_max_body_size(thr->http, WAN_TRANSPORT_MAX_BODY);
	evhttp_set_max_headers_size(thr->http, WAN_MAX_HEADERS_SIZE);
	evhttp_set_timeout(thr->http, (int)srv->timeout_s);
	/* Every method reaches our router, which answers 405 itself (evhttp would say 501). */
	evhttp_set_allowed_methods(thr->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
		EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	return TW_OK;
}

static void wan_thread_teardown(struct wan_thread *thr)
{
	struct tw_error e;

	wan_orders_stop(thr);   /* answer queued order requests while their connections live */
	if (thr->http != NULL) {
		/* Connections close now; their ex_data hooks must not touch the listener. */
		evhttp_free(thr->http);
		thr->http = NULL;
		thr->listener = NULL;
	}
	if (thr->base != NULL)
		event_base_loop(thr->base, EVLOOP_NONBLOCK);
	if (thr->store != NULL && (thr->journal.n > 0 || thr->journal.nt > 0) &&
	    wan_journal_flush(thr, &e) != TW_OK)
		tw_err("wan: final admin log flush of thread %u failed, %zu entries lost: %s",
			thr->index, thr->journal.n, e.message);
	if (thr->journal.lost > 0)
		tw_err("wan: thread %u lost %llu admin log entries while the store failed",
			thr->index, (unsigned long long)thr->journal.lost);
	if (thr->flush_ev != NULL)
		event_free(thr->flush_ev);
	thr->flush_ev = NULL;
	if (thr->base != NULL)
		event_base_free(thr->base);
	thr->base = NULL;
	store_close(thr->store);
	thr->store = NULL;
	wan_journal_free(&thr->journal);
}

void wan_server_stop(struct wan_server *srv)
{
	struct wan_session_cache_stats scs;
	struct tls_async_stats tas;

	if (srv == NULL)
		return;
	/*
	 * loopexit, not loopbreak: event_base_loop clears a pending break when it starts, so a
	 * loopbreak sent to a thread that has not reached event_base_dispatch yet (a stop right
	 * after wan_server_start, SIGTERM during start-up on a loaded machine) was lost and
	 * pthread_join below waited for ever with SIGTERM blocked. loopexit queues an event
	 * the loop runs whenever it starts.
	 */
	for (unsigned i = 0; i < srv->nthreads; i++)
		if (srv->threads[i].started &&
		    event_base_loopexit(srv->threads[i].base, NULL) != 0)
			tw_err("wan: cannot stop event loop %u", i);
	for (unsigned i = 0; i < srv->nthreads; i++) {
		if (srv->threads[i].started)
			pthread_join(srv->threads[i].tid, NULL);
		srv->threads[i].started = false;
	}
	for (unsigned i = 0; i < srv->nthreads; i++)
		wan_thread_teardown(&srv->threads[i]);
	wan_session_cache_stats(&scs);
	if (scs.learned > 0)
		tw_info("wan: session cache: %llu resumptions from memory, %llu tickets decoded "
			"and kept, %llu evicted", (unsigned long long)scs.hits,
			(unsigned long long)scs.learned, (unsigned long long)scs.evicted);
	wan_session_cache_clear();
	tls_async_stats(&tas);
	if (tas.handshakes_ok + tas.handshakes_failed > 0)
		tw_info("wan: asynchronous handshakes: %llu completed, %llu failed, %llu left "
			"paused", tas.handshakes_ok, tas.handshakes_failed, tas.jobs_left_paused);
	free(srv->threads);
	SSL_CTX_free(srv->ctx);
	wan_tls_reload_free(srv);
	conn_guard_free(srv->guard);
	trust_set_free(srv->trust);
	free(srv);
}

uint16_t wan_server_port(const struct wan_server *srv)
{
	return srv->port;
}

tw_rc wan_tls_ctx(const struct tw_home *home, long lifetime, SSL_CTX **ctx,
	struct tw_error *err)
{
	struct tls_profile_config cfg;
	char *cert = tw_home_path(home, "wan", "cert", TW_HOME_GWA_TLS_CERT);
	char *key = tw_home_path(home, "wan", "key", TW_HOME_GWA_TLS_KEY);
	char *chain = tw_home_path(home, "wan", "chain", TW_HOME_SUBCA_CERT);
	char *trust = tw_home_path(home, "wan", "trust", TW_HOME_CHAIN);
	tw_rc rc;

	if (cert == NULL || key == NULL || chain == NULL || trust == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS, .chain_file = chain, .trust_file = trust, .session_lifetime_s = lifetime };
	rc = tls_server_ctx_new(&cfg, ctx, err);
	/* Resumed ticket sessions from memory, not decoded per connection (wan_session_cache.c). */
	if (rc == TW_OK && (rc = wan_session_cache_install(*ctx, wan_conn_offer, err)) != TW_OK) {
		SSL_CTX_free(*ctx);
		*ctx = NULL;
	}
out:
	free(cert);
	free(key);
	free(chain);
	free(trust);
	return rc;
}

tw_rc wan_server_start(const struct tw_home *home, struct wan_server **out,
	struct tw_error *err)
{
	struct wan_server *srv = NULL;
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	char *host = NULL, *store_url = NULL, portstr[8];
	uint16_t port;
	long threads, lifetime, async_hs;
	struct conn_guard_limits lim;
	sigset_t block, old;
	tw_rc rc;
	int gai;

	*out = NULL;
	pthread_once(&wan_evthread_once, wan_evthread_init);
	if (wan_evthread_rc != 0)
		return tw_error_set(err, TW_E_INTERNAL, "libevent has no pthread support");
	if ((rc = wan_conn_global_init(err)) != TW_OK ||
	    (rc = wan_metering_configure(home->conf, err)) != TW_OK)
		return rc;
	if ((rc = profile_orders_init(home, err)) != TW_OK)   /* data key, [monitor] actions */
		return rc;
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = tw_config_get_long(home->conf, "wan", "threads", 0, 0, WAN_MAX_THREADS,
	    &threads, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "wan", "session_lifetime",
	    TW_SESSION_LIFETIME_S, 1, TW_SESSION_LIFETIME_S, &lifetime, err)) != TW_OK ||
	    (rc = conn_guard_limits_load(home->conf, "wan", "", WAN_DEFAULT_MAX_CONNS,
	    WAN_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "wan", "timeout", 30, 1, 3600,
	    &srv->timeout_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "wan", "async_handshakes", 1, 0, 1,
	    &async_hs, err)) != TW_OK)
		goto fail;
	/* A signer-held TLS key: the loop serves others while the signer signs. */
	lim.async_tls = async_hs != 0;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n < 1 ? 1 : n > WAN_MAX_THREADS ? WAN_MAX_THREADS : n;
	}
	if ((rc = wan_firmware_init(home, (unsigned)threads, err)) != TW_OK)   /* UC-3.2.5 */
		goto fail;
	/* Descriptors: the connections plus listeners, stores and logs of every loop. */
	conn_guard_fit_nofile("wan", 64 + 8 * threads, &lim);
	if ((rc = conn_guard_new("wan", &lim, &srv->guard, err)) != TW_OK)
		goto fail;
	if ((rc = tw_parse_hostport(tw_config_get_or(home->conf, "wan", "listen",
	    TW_DEFAULT_WAN_LISTEN), &host, &port, err)) != TW_OK) {
		tw_error_set(err, rc, "[wan] listen: %s", err != NULL ? err->message : "invalid");
		goto fail;
	}
	if ((store_url = tw_home_store_url(home)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	{
		/* Wait (with back-off) for a database that is not up yet; the loops open theirs. */
		struct tw_store *probe = NULL;

		rc = store_open_wait(home, store_url, &probe, err);
		store_close(probe);
		if (rc != TW_OK)
			goto fail;
	}
	if ((rc = wan_tls_reload_init(srv, home, lifetime, err)) != TW_OK ||
	    (rc = wan_tls_ctx(home, lifetime, &srv->ctx, err)) != TW_OK ||
	    (rc = trust_set_load(home, &srv->trust, err)) != TW_OK)   /* other CAs' EMTs */
		goto fail;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &ai)) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[wan] listen: cannot resolve %s: %s", host,
			gai_strerror(gai));
		goto fail;
	}
	if (ai->ai_addrlen > sizeof(ss)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "address too long");
		goto fail;
	}
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	sl = ai->ai_addrlen;

	srv->threads = calloc((size_t)threads, sizeof(*srv->threads));
	if (srv->threads == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	srv->nthreads = (unsigned)threads;
	srv->port = port;
	for (unsigned i = 0; i < srv->nthreads; i++) {
		struct wan_thread *thr = &srv->threads[i];

		thr->index = i;
		if ((rc = wan_thread_setup(srv, thr, store_url, err)) != TW_OK)
			goto fail;
		if ((rc = wan_listener_new(thr, (struct sockaddr *)&ss, sl, err)) != TW_OK)
			goto fail;
	}

	/* Loops never take process signals: wan_run's sigwait does, SIGPIPE becomes EPIPE. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < srv->nthreads; i++) {
		struct wan_thread *thr = &srv->threads[i];
		int e = pthread_create(&thr->tid, NULL, wan_thread_main, thr);

		if (e != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			rc = tw_error_set(err, TW_E_IO, "cannot start wan thread: %s", strerror(e));
			goto fail;
		}
		thr->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	tw_info("wan: listening on %s:%u with %u event loops", host, srv->port, srv->nthreads);
	*out = srv;
	srv = NULL;
	rc = TW_OK;
fail:
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	free(store_url);
	wan_server_stop(srv);
	return rc;
}

tw_rc wan_run(const struct tw_home *home, struct tw_error *err)
{
	struct wan_server *srv = NULL;
	struct metrics_http *metrics = NULL;   /* [metrics] wan_listen */
	sigset_t set, old;
	int sig = 0;
	long check_s = 30;
	tw_rc rc;

	/* [wan] tls_reload_check: seconds between looks at the TLS files (wan_tls_reload.c). */
	if ((rc = tw_config_get_long(home->conf, "wan", "tls_reload_check", 30, 0, 86400,
	    &check_s, err)) != TW_OK)
		return rc;
	/* Block before starting threads so only the sigtimedwait below ever sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	/* Metrics first: a wrong [metrics] address stops us before the loops run. */
	rc = metrics_http_start(NULL, home, "wan", wan_metrics_render, NULL, &metrics, err);
	if (rc == TW_OK && (rc = wan_server_start(home, &srv, err)) != TW_OK)
		metrics_http_stop(metrics);
	if (rc == TW_OK) {
		/* SIGHUP reloads the TLS certificate now; the timeout looks for changed files. */
		struct timespec ts = { check_s > 0 ? check_s : 3600, 0 };

		for (;;) {
			sig = sigtimedwait(&set, NULL, &ts);
			if (sig == SIGTERM || sig == SIGINT)
				break;
			if (sig == SIGHUP)
				wan_tls_reload(srv, true);
			else if (sig < 0 && errno == EAGAIN && check_s > 0)
				wan_tls_reload(srv, false);
		}
		tw_info("wan: %s received, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		metrics_http_stop(metrics);
		wan_server_stop(srv);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
