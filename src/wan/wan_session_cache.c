/*
 * wan_session_cache.c: resumed TLS 1.2 sessions of ticket clients from memory.
 *
 * Why: the wan issues RFC 5077 tickets (crypto/tls.c says why both tickets and the id
 * cache stay on). A resumption by ticket makes OpenSSL decrypt the ticket and decode the
 * session in it, and the session carries the gateway's certificate: d2i_X509 with its
 * public key, which OpenSSL 3.0 decodes through a freshly built decoder chain. The profile
 * of the resumed path (docs/performance.md "Resumed sessions: where the time goes") put
 * that decode at about a quarter of the wan thread's time, as much as the rest of the
 * resumed handshake. A gateway resumes the same ticket over and over within its 48 h.
 *
 * How: an OpenSSL client that resumes by ticket offers, as its session id, the SHA-256 of
 * the ticket (and any client may offer an id with its ticket). After the first resumption
 * of a ticket (decoded as before) the server's session, which OpenSSL gave that id, is
 * kept here under it. The next ClientHello with the same id and a ticket is looked up in
 * the ClientHello callback; on a hit that connection turns tickets off
 * (SSL_OP_NO_TICKET), so OpenSSL resumes by session id and our get-session callback hands
 * it the kept session: no decryption, no decode. Everything else is unchanged:
 *   - resumption still proves the master secret (Finished), as with any id resumption;
 *     knowing an id (it travels in clear) is worth nothing without it;
 *   - OpenSSL still checks the session's lifetime, context and suite;
 *   - the wan re-checks the identity at every resumed handshake (wan_conn.c), and a
 *     refused principal's session is dropped here too;
 *   - a miss (an unknown id, a cache that evicted it) is the ticket path as before.
 * Memory: at most WAN_SESSION_CACHE_MAX sessions (each a decoded session with its peer
 * certificate, a few KB), oldest out first; one cache per process, shared by the wan's
 * event loops under a mutex (a hash lookup, nothing slow inside it).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <openssl/tls1.h>

#include "base/log.h"
#include "wan/wan_session_cache.h"

#define WSC_BUCKETS (2 * WAN_SESSION_CACHE_MAX)   /* a power of two */

struct wsc_entry {
	unsigned char id[32];
	SSL_SESSION *sess;      /* one reference; NULL: a free slot */
	int32_t next;           /* the bucket's chain, -1 ends it */
};

static struct {
	pthread_mutex_t lock;
	struct wsc_entry *e;    /* WAN_SESSION_CACHE_MAX slots, filled as a ring */
	int32_t *bucket;        /* WSC_BUCKETS heads */
	size_t ring;            /* next slot to fill (the oldest when full) */
	uint64_t seed;          /* the ids are the clients' choice: a keyed bucket index */
	struct wan_session_offer *(*offer_of)(const SSL *ssl);
	struct wan_session_cache_stats st;
} wsc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint32_t wsc_hash(const unsigned char id[32])
{
	uint64_t h = 1469598103934665603ULL ^ wsc.seed;

	for (int i = 0; i < 32; i++)
		h = (h ^ id[i]) * 1099511628211ULL;
	h ^= h >> 29;
	return (uint32_t)(h & (WSC_BUCKETS - 1));
}

/* Under the lock: the slot holding id, or -1; *prev gets its predecessor (-1: head). */
static int32_t wsc_find(const unsigned char id[32], int32_t *prev)
{
	int32_t p = -1;

	for (int32_t i = wsc.bucket[wsc_hash(id)]; i >= 0; p = i, i = wsc.e[i].next) {
		if (memcmp(wsc.e[i].id, id, 32) == 0) {
			if (prev != NULL)
				*prev = p;
			return i;
		}
	}
	return -1;
}

/* Under the lock: empties slot i (which holds a session). */
static void wsc_unlink(int32_t i)
{
	int32_t prev = -1;

	if (wsc_find(wsc.e[i].id, &prev) != i)
		return;
	if (prev < 0)
		wsc.bucket[wsc_hash(wsc.e[i].id)] = wsc.e[i].next;
	else
		wsc.e[prev].next = wsc.e[i].next;
	SSL_SESSION_free(wsc.e[i].sess);
	wsc.e[i].sess = NULL;
	wsc.e[i].next = -1;
	wsc.st.size--;
}

/*
 * The session kept under id, with a reference for the caller; NULL on a miss. A session
 * OpenSSL has marked not resumable meanwhile (a connection that offered it failed: a
 * network drop, or somebody who knew the id but not the master secret) is dropped here,
 * so its owner resumes from the ticket instead of falling back to a full handshake. So is
 * one past its lifetime (OpenSSL would refuse it; it only took a slot).
 */
static SSL_SESSION *wsc_get(const unsigned char id[32])
{
	SSL_SESSION *s = NULL;
	int32_t i;

	pthread_mutex_lock(&wsc.lock);
	if (wsc.e != NULL && (i = wsc_find(id, NULL)) >= 0) {
		SSL_SESSION *k = wsc.e[i].sess;

		if (SSL_SESSION_is_resumable(k) != 1 ||
		    (time_t)SSL_SESSION_get_time(k) + (time_t)SSL_SESSION_get_timeout(k) <=
		    time(NULL))
			wsc_unlink(i);
		else if (SSL_SESSION_up_ref(wsc.e[i].sess) == 1)
			s = wsc.e[i].sess;
	}
	pthread_mutex_unlock(&wsc.lock);
	return s;
}

/*
 * ClientHello, before OpenSSL looks at the ticket: a ticket whose session we hold turns
 * tickets off for this connection, so the id lookup (wsc_get_cb) resumes it.
 */
static int wsc_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct wan_session_offer *o = wsc.offer_of != NULL ? wsc.offer_of(ssl) : NULL;
	const unsigned char *id = NULL, *tick = NULL;
	size_t idlen, ticklen = 0;
	SSL_SESSION *s;

	(void)al; (void)arg;
	if (o == NULL || o->ticket)
		return SSL_CLIENT_HELLO_SUCCESS;    /* not a wan connection, or seen already */
	idlen = SSL_client_hello_get0_session_id(ssl, &id);
	if (idlen != sizeof(o->id) || SSL_client_hello_get0_ext(ssl,
	    TLSEXT_TYPE_session_ticket, &tick, &ticklen) != 1 || ticklen == 0)
		return SSL_CLIENT_HELLO_SUCCESS;    /* no ticket: OpenSSL's own id cache */
	memcpy(o->id, id, sizeof(o->id));
	o->ticket = true;
	if ((s = wsc_get(o->id)) == NULL)
		return SSL_CLIENT_HELLO_SUCCESS;    /* decoded from the ticket as before */
	o->cached = s;
	o->hit = true;
	SSL_set_options(ssl, SSL_OP_NO_TICKET);
	pthread_mutex_lock(&wsc.lock);
	wsc.st.hits++;
	pthread_mutex_unlock(&wsc.lock);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* OpenSSL's id lookup missed its own cache: the session the ClientHello callback found. */
static SSL_SESSION *wsc_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
	struct wan_session_offer *o = wsc.offer_of != NULL ? wsc.offer_of(ssl) : NULL;
	SSL_SESSION *s;

	*copy = 0;   /* the reference moves to OpenSSL */
	if (o == NULL || o->cached == NULL || len != (int)sizeof(o->id) ||
	    memcmp(id, o->id, sizeof(o->id)) != 0)
		return NULL;
	s = o->cached;
	o->cached = NULL;
	return s;
}

tw_rc wan_session_cache_install(SSL_CTX *ctx,
	struct wan_session_offer *(*offer_of)(const SSL *ssl), struct tw_error *err)
{
	tw_rc rc = TW_OK;

	pthread_mutex_lock(&wsc.lock);
	if (wsc.e == NULL) {
		wsc.e = calloc(WAN_SESSION_CACHE_MAX, sizeof(*wsc.e));
		wsc.bucket = malloc(WSC_BUCKETS * sizeof(*wsc.bucket));
		if (wsc.e == NULL || wsc.bucket == NULL ||
		    RAND_bytes((unsigned char *)&wsc.seed, sizeof(wsc.seed)) != 1) {
			free(wsc.e);
			free(wsc.bucket);
			wsc.e = NULL;
			wsc.bucket = NULL;
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory (or randomness) for the "
				"wan's session cache");
		} else {
			for (size_t i = 0; i < WSC_BUCKETS; i++)
				wsc.bucket[i] = -1;
			for (size_t i = 0; i < WAN_SESSION_CACHE_MAX; i++)
				wsc.e[i].next = -1;
			wsc.ring = 0;
		}
	}
	wsc.offer_of = offer_of;
	pthread_mutex_unlock(&wsc.lock);
	if (rc != TW_OK)
		return rc;
	SSL_CTX_set_client_hello_cb(ctx, wsc_hello_cb, NULL);
	SSL_CTX_sess_set_get_cb(ctx, wsc_get_cb);
	return TW_OK;
}

void wan_session_cache_learn(const SSL *ssl, const struct wan_session_offer *offer)
{
	SSL_SESSION *s;
	const unsigned char *sid;
	unsigned int sidlen = 0;
	int32_t i;

	if (offer == NULL || !offer->ticket || offer->hit || SSL_session_reused((SSL *)ssl) != 1)
		return;   /* no ticket, kept already, or a full handshake */
	s = SSL_get1_session((SSL *)ssl);
	sid = s != NULL ? SSL_SESSION_get_id(s, &sidlen) : NULL;
	/* OpenSSL gives a ticket's session the id the client offered (it echoes it). */
	if (s == NULL || sidlen != sizeof(offer->id) || memcmp(sid, offer->id, sidlen) != 0 ||
	    SSL_SESSION_is_resumable(s) != 1) {
		SSL_SESSION_free(s);
		return;
	}
	pthread_mutex_lock(&wsc.lock);
	if (wsc.e == NULL) {
		pthread_mutex_unlock(&wsc.lock);
		SSL_SESSION_free(s);
		return;
	}
	if ((i = wsc_find(offer->id, NULL)) >= 0) {
		/* Resumed from memory again, or the same ticket decoded twice: keep one. */
		SSL_SESSION_free(wsc.e[i].sess);
		wsc.e[i].sess = s;
	} else {
		uint32_t b = wsc_hash(offer->id);

		i = (int32_t)wsc.ring;
		wsc.ring = (wsc.ring + 1) % WAN_SESSION_CACHE_MAX;
		if (wsc.e[i].sess != NULL) {
			wsc_unlink(i);
			wsc.st.evicted++;
		}
		memcpy(wsc.e[i].id, offer->id, sizeof(wsc.e[i].id));
		wsc.e[i].sess = s;
		wsc.e[i].next = wsc.bucket[b];
		wsc.bucket[b] = i;
		wsc.st.size++;
		wsc.st.learned++;
	}
	pthread_mutex_unlock(&wsc.lock);
}

void wan_session_cache_forget(const struct wan_session_offer *offer)
{
	int32_t i;

	if (offer == NULL || !offer->ticket)
		return;
	pthread_mutex_lock(&wsc.lock);
	if (wsc.e != NULL && (i = wsc_find(offer->id, NULL)) >= 0)
		wsc_unlink(i);
	pthread_mutex_unlock(&wsc.lock);
}

void wan_session_offer_clear(struct wan_session_offer *offer)
{
	if (offer == NULL)
		return;
	SSL_SESSION_free(offer->cached);
	offer->cached = NULL;
}

void wan_session_cache_stats(struct wan_session_cache_stats *out)
{
	pthread_mutex_lock(&wsc.lock);
	*out = wsc.st;
	pthread_mutex_unlock(&wsc.lock);
}

void wan_session_cache_clear(void)
{
	pthread_mutex_lock(&wsc.lock);
	for (size_t i = 0; wsc.e != NULL && i < WAN_SESSION_CACHE_MAX; i++)
		if (wsc.e[i].sess != NULL)
			wsc_unlink((int32_t)i);
	wsc.ring = 0;
	pthread_mutex_unlock(&wsc.lock);
}
