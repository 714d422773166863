/*
 * conn_guard.c: connection admission and hard deadlines (see conn_guard.h).
 *
 * Life of a tracked connection:
 *   bevcb        conn_guard_track: counted against the cap (shedding the oldest
 *                unauthenticated one if full), deadline armed (handshake, or the whole
 *                life of a plain-HTTP connection), admission queued on its own event
 *                because evhttp sets the socket only after the bevcb returns;
 *   admission    (next turn of the owning loop) the source address is known: over the
 *                per-source limit the socket is shut down;
 *   TLS          conn_guard_authenticated stops the handshake deadline; the first
 *                byte of each request (seen by a callback on the input buffer, before
 *                evhttp parses it) arms the request deadline; the gencb stops it;
 *   end          the SSL's ex_data free (TLS) or evhttp's close callback (plain) releases
 *                the slot.
 *
 * Locking: one mutex per guard covers the counters, the unauthenticated list, the
 * per-source table and every connection's doomed/counted flags. Connection objects are
 * otherwise touched by their owning loop only; another loop that sheds one activates its
 * event while holding the mutex, and the owner frees that event only after unlinking the
 * connection under the same mutex, so the event is never activated after its free.
 */
#include "net/conn_guard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "base/log.h"
#include "base/util.h"
#include "net/tls_async.h"

#define CG_LOG_EVERY_MS   10000
/* Longest request line or header line the scanner keeps (evhttp refuses longer blocks). */
#define CG_LINE_MAX       8192
#define CG_HEADER_MAX     16384

enum cg_phase {
	CG_HANDSHAKE = 0,   /* TLS: accept until authenticated; plain: whole life */
	CG_IDLE,            /* between requests (evhttp's idle timeout applies) */
	CG_READING,         /* a request's bytes are arriving: hard deadline armed */
};

struct cg_source {
	struct cg_source *next;
	unsigned char key[17];     /* family byte + address (IPv6: the /64) */
	long count;
};

struct conn_guard_conn {
	struct conn_guard *g;
	struct event *ev;          /* admission, deadline and doom: one event, owning loop */
	struct bufferevent *bev;   /* held (incref) until admission has run */
	struct evbuffer_cb_entry *in_cb;
	SSL *ssl;                  /* NULL for plain HTTP */
	evutil_socket_t fd;
	enum cg_phase phase;
	int64_t deadline_ms;       /* monotonic; 0 = none */
	bool admitted;
	bool authenticated;
	bool counted;              /* holds a slot of the global cap (mutex) */
	bool doomed;               /* to be shut down by the owning loop (mutex) */
	bool listed;               /* on the unauthenticated list (mutex) */
	struct cg_source *source;  /* NULL until admitted (mutex) */
	struct conn_guard_conn *prev, *next;   /* unauthenticated list, oldest first */
	/* First request's header block, for the hook (TLS only). */
	conn_guard_header_hook hook;
	void *hook_arg;
	bool scan_done;
	char *header;              /* CG_HEADER_MAX + 1 bytes once scanning starts */
	size_t header_len;
	size_t line_start;
};

struct conn_guard {
	char name[16];
	struct conn_guard_limits lim;
	pthread_mutex_t mu;
	struct conn_guard_conn *oldest, *newest;   /* unauthenticated, counted */
	struct cg_source **buckets;
	size_t nbuckets;
	struct conn_guard_stats st;
	struct conn_guard_stats logged;            /* st at the last summary line */
	int64_t last_log_ms;
	/*
	 * The owner's reference plus one per tracked connection: a connection may be
	 * released after its listener's owner freed the guard (libevent runs bufferevent
	 * finalizers when the event base is freed).
	 */
	size_t refs;
};

static int cg_ssl_idx = -1;
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

static void cg_release(struct conn_guard_conn *c);

static void cg_ssl_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	void *argp)
{
	struct conn_guard_conn *c = ptr;

	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	if (c == NULL)
		return;
	c->ssl = NULL;       /* OpenSSL is freeing the ex_data: do not write it back */
	cg_release(c);
}

static void cg_init_once(void)
{
	cg_ssl_idx = SSL_get_ex_new_index(0, (void *)"conn_guard", NULL, NULL, cg_ssl_free);
}

static struct conn_guard_conn *cg_of_ssl(const SSL *ssl)
{
	if (ssl == NULL || cg_ssl_idx < 0)
		return NULL;
	return SSL_get_ex_data(ssl, cg_ssl_idx);
}

tw_rc conn_guard_limits_load(const struct tw_config *conf, const char *section,
	const char *prefix, long def_max, long def_per_source, struct conn_guard_limits *lim,
	struct tw_error *err)
{
	char kmax[64], kper[64], khs[64], kreq[64];
	long hs = 0, req = 0;
	tw_rc rc;

	snprintf(kmax, sizeof(kmax), "%smax_connections", prefix);
	snprintf(kper, sizeof(kper), "%smax_connections_per_source", prefix);
	snprintf(khs, sizeof(khs), "%shandshake_timeout", prefix);
	snprintf(kreq, sizeof(kreq), "%srequest_timeout", prefix);
	memset(lim, 0, sizeof(*lim));
	if ((rc = tw_config_get_long(conf, section, kmax, def_max, 1, 10000000, &lim->max_conns,
	    err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, kper, def_per_source, 1, 10000000,
	    &lim->per_source, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, khs, 10, 1, 600, &hs, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, kreq, 30, 1, 3600, &req, err)) != TW_OK)
		return rc;
	lim->max_explicit = tw_config_get(conf, section, kmax) != NULL;
	lim->handshake_ms = hs * 1000;
	lim->request_ms = req * 1000;
	return TW_OK;
}

void conn_guard_fit_nofile(const char *name, long reserve, struct conn_guard_limits *lim)
{
	struct rlimit rl;
	long usable;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t before = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			tw_warn("%s: cannot raise the open-file limit from %llu: %s", name,
				(unsigned long long)before, strerror(errno));
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY)
		return;
	usable = (long)rl.rlim_cur - reserve;
	if (usable < 16)
		usable = 16;
	if (lim->max_conns > usable) {
		if (lim->max_explicit)
			tw_warn("%s: max_connections %ld does not fit the open-file limit %llu; using "
				"%ld (raise LimitNOFILE / ulimit -Hn)", name, lim->max_conns,
				(unsigned long long)rl.rlim_cur, usable);
		else
			tw_info("%s: at most %ld connections (open-file limit %llu)", name, usable,
				(unsigned long long)rl.rlim_cur);
		lim->max_conns = usable;
	}
}

tw_rc conn_guard_new(const char *name, const struct conn_guard_limits *lim,
	struct conn_guard **out, struct tw_error *err)
{
	struct conn_guard *g;
	size_t n = 64;

	*out = NULL;
	pthread_once(&cg_once, cg_init_once);
	if (cg_ssl_idx < 0)
		return tw_error_set(err, TW_E_TLS, "cannot allocate an SSL ex_data index");
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	/* About one bucket per two connections, within reason. */
	while (n < (size_t)lim->max_conns / 2 && n < ((size_t)1 << 20))
		n <<= 1;
	if ((g->buckets = calloc(n, sizeof(*g->buckets))) == NULL) {
		free(g);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	g->nbuckets = n;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->lim = *lim;
	g->refs = 1;
	pthread_mutex_init(&g->mu, NULL);
	*out = g;
	return TW_OK;
}

static void cg_destroy(struct conn_guard *g)
{
	for (size_t i = 0; i < g->nbuckets; i++) {
		struct cg_source *s = g->buckets[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;
			free(s);
		}
	}
	free(g->buckets);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* Drop one reference; the last one frees the guard. */
static void cg_unref(struct conn_guard *g)
{
	bool last;

	pthread_mutex_lock(&g->mu);
	last = --g->refs == 0;
	pthread_mutex_unlock(&g->mu);
	if (last)
		cg_destroy(g);
}

void conn_guard_free(struct conn_guard *g)
{
	if (g != NULL)
		cg_unref(g);
}

void conn_guard_get_stats(struct conn_guard *g, struct conn_guard_stats *st)
{
	pthread_mutex_lock(&g->mu);
	*st = g->st;
	pthread_mutex_unlock(&g->mu);
}

/* ---- unauthenticated list and per-source table (mutex held) ---- */

static void cg_unlist(struct conn_guard *g, struct conn_guard_conn *c)
{
	if (!c->listed)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->oldest = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		g->newest = c->prev;
	c->prev = c->next = NULL;
	c->listed = false;
}

static void cg_list(struct conn_guard *g, struct conn_guard_conn *c)
{
	c->prev = g->newest;
	c->next = NULL;
	if (g->newest != NULL)
		g->newest->next = c;
	else
		g->oldest = c;
	g->newest = c;
	c->listed = true;
}

static size_t cg_hash(const struct conn_guard *g, const unsigned char key[17])
{
	uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

	for (size_t i = 0; i < 17; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)(h & (g->nbuckets - 1));
}

/* The source key of a peer: IPv4 address, IPv6 /64 (one subscriber's prefix). */
static bool cg_source_key(evutil_socket_t fd, unsigned char key[17])
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(key, 0, 17);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return false;
	if (ss.ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		return true;
	}
	if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
		return true;
	}
	return false;
}

/* Take a slot of key's source; false when it is at the limit (or out of memory). */
static bool cg_source_take(struct conn_guard *g, const unsigned char key[17],
	struct cg_source **out)
{
	size_t b = cg_hash(g, key);
	struct cg_source *s;

	for (s = g->buckets[b]; s != NULL; s = s->next)
		if (memcmp(s->key, key, 17) == 0)
			break;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return false;
		memcpy(s->key, key, 17);
		s->next = g->buckets[b];
		g->buckets[b] = s;
	}
	if (s->count >= g->lim.per_source)
		return false;
	s->count++;
	*out = s;
	return true;
}

static void cg_source_put(struct conn_guard *g, struct cg_source *s)
{
	struct cg_source **pp;

	if (s == NULL || --s->count > 0)
		return;
	for (pp = &g->buckets[cg_hash(g, s->key)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			free(s);
			return;
		}
}

/* One summary line per CG_LOG_EVERY_MS while anything was refused: never one per peer. */
static void cg_maybe_log(struct conn_guard *g)
{
	struct conn_guard_stats now, was;
	int64_t t = tw_monotonic_ms();

	pthread_mutex_lock(&g->mu);
	if (t - g->last_log_ms < CG_LOG_EVERY_MS) {
		pthread_mutex_unlock(&g->mu);
		return;
	}
	now = g->st;
	was = g->logged;
	g->logged = now;
	g->last_log_ms = t;
	pthread_mutex_unlock(&g->mu);
	if (now.refused_source == was.refused_source && now.refused_full == was.refused_full &&
	    now.shed == was.shed && now.handshake_expired == was.handshake_expired &&
	    now.request_expired == was.request_expired)
		return;
	tw_warn("%s: connection guard: %llu live; since the last report %llu refused (per-"
		"source limit %ld), %llu refused (cap %ld, all authenticated), %llu "
		"unauthenticated shed, %llu handshake and %llu request deadlines expired",
		g->name, (unsigned long long)now.live,
		(unsigned long long)(now.refused_source - was.refused_source), g->lim.per_source,
		(unsigned long long)(now.refused_full - was.refused_full), g->lim.max_conns,
		(unsigned long long)(now.shed - was.shed),
		(unsigned long long)(now.handshake_expired - was.handshake_expired),
		(unsigned long long)(now.request_expired - was.request_expired));
}

/* ---- deadlines ---- */

static void cg_arm(struct conn_guard_conn *c, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	c->deadline_ms = tw_monotonic_ms() + ms;
	event_del(c->ev);
	event_add(c->ev, &tv);
}

static void cg_disarm(struct conn_guard_conn *c)
{
	c->deadline_ms = 0;
	event_del(c->ev);
}

static void cg_shutdown(struct conn_guard_conn *c)
{
	/* evhttp sees end of stream and frees the connection on its own path. */
	if (c->fd >= 0)
		(void)shutdown(c->fd, SHUT_RDWR);
}

static void cg_release(struct conn_guard_conn *c)
{
	struct conn_guard *g = c->g;

	pthread_mutex_lock(&g->mu);
	cg_unlist(g, c);
	if (c->counted && g->st.live > 0)
		g->st.live--;
	c->counted = false;
	cg_source_put(g, c->source);
	c->source = NULL;
	pthread_mutex_unlock(&g->mu);
	if (c->in_cb != NULL && c->bev != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->ssl != NULL)
		SSL_set_ex_data(c->ssl, cg_ssl_idx, NULL);
	event_free(c->ev);
	free(c->header);
	free(c);
	cg_unref(g);
}

static void cg_plain_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	cg_release(arg);
}

/*
 * Admission, run on the owning loop once evhttp has attached the socket. False when c
 * was released (the connection was already gone).
 */
static bool cg_admit(struct conn_guard_conn *c)
{
	struct conn_guard *g = c->g;
	struct bufferevent *bev = c->bev;
	bufferevent_data_cb rcb = NULL, wcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *evcon = NULL;
	unsigned char key[17];
	bool keyed, refused = false;

	c->admitted = true;
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &evcon);
	if (evcon == NULL) {
		/* evhttp already gave the connection up (bufferevent_free clears callbacks). */
		if (c->ssl == NULL)
			cg_release(c);
		else
			c->bev = NULL;      /* the SSL's free releases c */
		bufferevent_decref(bev);
		return false;
	}
	c->fd = bufferevent_getfd(bev);
	if (c->ssl == NULL)
		evhttp_connection_set_closecb(evcon, cg_plain_closed, c);
	keyed = cg_source_key(c->fd, key);
	pthread_mutex_lock(&g->mu);
	if (keyed && !cg_source_take(g, key, &c->source)) {
		g->st.refused_source++;
		refused = true;
	}
	if (!refused)
		g->st.accepted++;
	if (refused || c->doomed) {
		/* Going away: its slot is free for the next newcomer at once. */
		c->doomed = true;
		cg_unlist(g, c);
		if (c->counted && g->st.live > 0)
			g->st.live--;
		c->counted = false;
	}
	refused = c->doomed;
	pthread_mutex_unlock(&g->mu);
	if (refused)
		cg_shutdown(c);
	else if (c->ssl != NULL && g->lim.async_tls && tls_async_wanted(c->ssl))
		(void)tls_async_handshake(bev);    /* false: the bufferevent does it itself */
	/* The connection holds its own reference; c->bev stays valid until c is released. */
	bufferevent_decref(bev);
	return true;
}

static void cg_event(evutil_socket_t fd, short what, void *arg)
{
	struct conn_guard_conn *c = arg;
	struct conn_guard *g = c->g;
	bool doomed, expired;

	(void)fd;
	if (!c->admitted && !cg_admit(c))
		return;             /* c (and maybe g) released: touch neither */
	expired = (what & EV_TIMEOUT) && c->deadline_ms != 0 &&
		tw_monotonic_ms() >= c->deadline_ms;
	pthread_mutex_lock(&g->mu);
	doomed = c->doomed;
	if (expired) {
		if (c->phase == CG_READING)
			g->st.request_expired++;
		else
			g->st.handshake_expired++;
	}
	pthread_mutex_unlock(&g->mu);
	if (doomed || expired) {
		cg_shutdown(c);
	} else if (c->deadline_ms != 0) {
		/* Running a non-persistent event from event_active deleted its timeout. */
		int64_t left = c->deadline_ms - tw_monotonic_ms();
		struct timeval tv;

		if (left < 1)
			left = 1;
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)((left % 1000) * 1000);
		event_add(c->ev, &tv);
	}
	cg_maybe_log(g);
}

/* ---- first request's header block (TLS, hook set) ---- */

static void cg_scan(struct conn_guard_conn *c, struct evbuffer *buf, size_t from, size_t n)
{
	struct evbuffer_ptr pos;
	size_t room;

	if (c->header == NULL && (c->header = malloc(CG_HEADER_MAX + 1)) == NULL) {
		c->scan_done = true;
		return;
	}
	room = CG_HEADER_MAX - c->header_len;
	if (n > room)
		n = room;
	if (n > 0 && (evbuffer_ptr_set(buf, &pos, from, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(buf, &pos, c->header + c->header_len, n) != (ev_ssize_t)n)) {
		c->scan_done = true;
		return;
	}
	/* Walk the new bytes line by line; a blank line ends the header block. */
	for (size_t i = c->header_len; i < c->header_len + n; i++) {
		size_t len;

		if (c->header[i] != '\n')
			continue;
		len = i + 1 - c->line_start;
		if (len > CG_LINE_MAX) {
			c->scan_done = true;
			return;
		}
		if (c->line_start > 0 && (len == 1 || (len == 2 && c->header[i - 1] == '\r'))) {
			struct bufferevent *bev = c->bev;
			bufferevent_data_cb rcb = NULL, wcb = NULL;
			bufferevent_event_cb ecb = NULL;
			void *evcon = NULL;

			c->scan_done = true;
			c->header[i + 1] = '\0';
			if (bev != NULL)
				bufferevent_getcb(bev, &rcb, &wcb, &ecb, &evcon);
			if (evcon != NULL)
				c->hook(evcon, c->ssl, c->header, i + 1, c->hook_arg);
			free(c->header);
			c->header = NULL;
			return;
		}
		c->line_start = i + 1;
	}
	c->header_len += n;
	if (c->header_len >= CG_HEADER_MAX) {
		/* Longer than any header block evhttp accepts: it refuses the request itself. */
		c->scan_done = true;
		free(c->header);
		c->header = NULL;
	}
}

/* Bytes added to the input buffer: they are seen here before evhttp parses them. */
static void cg_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn_guard_conn *c = arg;

	if (info->n_added == 0)
		return;
	if (c->phase == CG_IDLE) {
		c->phase = CG_READING;
		cg_arm(c, c->g->lim.request_ms);
	}
	if (c->hook != NULL && !c->scan_done)
		cg_scan(c, buf, info->orig_size, info->n_added);
}

/* ---- public ---- */

bool conn_guard_track(struct conn_guard *g, struct event_base *base,
	struct bufferevent *bev, SSL *ssl, conn_guard_header_hook hook, void *hook_arg)
{
	struct conn_guard_conn *c = calloc(1, sizeof(*c)), *victim = NULL;
	bool full_refused = false;

	if (c == NULL)
		return false;
	c->g = g;
	c->fd = -1;
	c->ssl = ssl;
	c->hook = hook;
	c->hook_arg = hook_arg;
	c->bev = bev;
	if ((c->ev = event_new(base, -1, 0, cg_event, c)) == NULL) {
		free(c);
		return false;
	}
	if (ssl != NULL && SSL_set_ex_data(ssl, cg_ssl_idx, c) != 1) {
		event_free(c->ev);
		free(c);
		return false;
	}
	if (ssl != NULL)
		c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), cg_input, c);
	pthread_mutex_lock(&g->mu);
	g->refs++;
	if (g->st.live >= (uint64_t)g->lim.max_conns) {
		victim = g->oldest;
		if (victim != NULL) {
			/* The oldest that has not authenticated makes room for the newcomer. */
			cg_unlist(g, victim);
			victim->counted = false;
			victim->doomed = true;
			g->st.live--;
			g->st.shed++;
			event_active(victim->ev, EV_READ, 0);
		} else {
			full_refused = true;
			g->st.refused_full++;
		}
	}
	if (full_refused) {
		c->doomed = true;
	} else {
		c->counted = true;
		g->st.live++;
		cg_list(g, c);
	}
	pthread_mutex_unlock(&g->mu);
	bufferevent_incref(bev);
	cg_arm(c, ssl != NULL ? g->lim.handshake_ms : g->lim.request_ms);
	event_active(c->ev, EV_READ, 0);     /* admission on the next turn of the loop */
	return true;
}

struct bufferevent *conn_guard_tls_bev(struct conn_guard *g, struct event_base *base,
	SSL *ssl, conn_guard_header_hook hook, void *hook_arg, const char *who)
{
	struct bufferevent *bev = NULL;

	if (ssl != NULL) {
		bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			SSL_free(ssl);
	}
	/* Caps and hard deadlines (handshake, request): an untracked connection is refused. */
	if (bev != NULL && !conn_guard_track(g, base, bev, ssl, hook, hook_arg)) {
		bufferevent_free(bev);
		bev = NULL;
	}
	if (bev == NULL) {
		tw_err("%s: cannot set up TLS for a connection; refusing it", who);
		return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void conn_guard_authenticated(const SSL *ssl)
{
	struct conn_guard_conn *c = cg_of_ssl(ssl);

	if (c == NULL || c->authenticated)
		return;
	c->authenticated = true;
	pthread_mutex_lock(&c->g->mu);
	cg_unlist(c->g, c);
	pthread_mutex_unlock(&c->g->mu);
	c->phase = CG_IDLE;
	cg_disarm(c);
}

void conn_guard_extend_request(const SSL *ssl, long ms)
{
	struct conn_guard_conn *c = cg_of_ssl(ssl);

	if (c != NULL && c->phase == CG_READING && ms > 0)
		cg_arm(c, ms);
}

bool conn_guard_is_authenticated(const SSL *ssl)
{
	struct conn_guard_conn *c = cg_of_ssl(ssl);

	return c != NULL && c->authenticated;
}

void conn_guard_request_dispatched(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) :
		NULL;
	struct conn_guard_conn *c = cg_of_ssl(bev != NULL ? bufferevent_openssl_get_ssl(bev) :
		NULL);

	if (c == NULL || c->phase != CG_READING)
		return;
	c->phase = CG_IDLE;
	cg_disarm(c);
}

void conn_guard_request_read(const SSL *ssl)
{
	struct conn_guard_conn *c = cg_of_ssl(ssl);

	if (c == NULL || c->phase != CG_READING)
		return;
	c->phase = CG_IDLE;
	cg_disarm(c);
}
