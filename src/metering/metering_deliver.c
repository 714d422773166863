/*
 * metering_deliver.c: deliveries of stored metering messages to their EMTs (UC-3.5.1,
 * UC-3.5.2) with retries and back-off, retention and overdue alerts (M-4.5.5), and the
 * periodic clock check (timesvc_check). docs/metering.md has the guarantees.
 *
 * A message becomes 'delivered' only after the EMT answered 2xx, and only then; the
 * state change is one UPDATE. A crash (kill -9) between the EMT's answer and the UPDATE
 * makes the message go out again later with the same X-Torwart-Message-Id, which the EMT
 * recognises: at-least-once delivery, duplicates detectable, never lost.
 *
 * The request:
 *   POST <path of the endpoint URL> HTTP/1.1
 *   Content-Type: application/cms (DER), Content-Length
 *   X-Torwart-Message-Id: <gateway id>/<message id>   (unique, stable across retries)
 *   X-Torwart-Kind, X-Torwart-Gateway, X-Torwart-Metering-Point, X-Torwart-Clock-Ok
 */
#include "metering/metering_deliver.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "metering/timesvc.h"
#include "pki/trust.h"
#include "store/store_ca.h"

#define DELIVER_BATCH       32
#define DELIVER_ANSWER_MAX  4096

/*
 * A connection to one EMT endpoint, kept open across the messages of a backlog (HTTP/1.1
 * keep-alive): a full brainpool handshake with a signer round trip costs far more than a
 * POST, and a burst of values for one EMT would otherwise pay it per message. The peer
 * check (check_emt_peer) still runs before every message, so a certificate revoked in
 * the meantime stops the next delivery. The TLS session is kept for the next connection
 * to the same endpoint (resumption, as with the gateways).
 */
struct dl_link {
	char url[STORE_EMT_URL_MAX + 1];
	SSL *ssl;                 /* NULL: not connected */
	int fd;
	SSL_SESSION *session;     /* last session with this endpoint, for resumption */
	unsigned uses;            /* messages sent on the open connection */
	int64_t last_ms;          /* least recently used is replaced first */
};

#define DL_LINKS          8
#define DL_LINK_MAX_USES  1000      /* a fresh connection now and then */
#define DL_BODY_MAX       65536     /* an answer body we read and drop to keep the link */


struct metering_deliverer {
	pthread_t tid;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	const struct tw_home *home;
	struct tw_store *store;
	SSL_CTX *ctx;
	struct trust_set *trust;             /* [trust]: other Sub-CAs' EMTs */
	long tick_ms, timeout_ms, retry_base_ms, retry_max_ms;
	long retention_s, overdue_s, housekeeping_s, time_interval_s;
	int64_t next_housekeeping_ms, next_time_ms;
	bool time_configured;
	struct dl_link links[DL_LINKS];      /* kept connections, by endpoint URL */
	/* Reported when the deliverer stops: outcomes, their shared transactions, and the
	 * outcomes that had to be recorded one by one. */
	uint64_t outcomes, record_tx, record_alone;
};

/* ---- one delivery ---- */

struct url_parts {
	char host[256];
	char port[8];
	char path[256];
};

static tw_rc url_split(const char *url, struct url_parts *u, struct tw_error *err)
{
	const char *h, *slash, *colon;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) != 0)
		return tw_error_set(err, TW_E_CONFIG, "EMT endpoint %s is not https://", url);
	h = url + 8;
	slash = strchr(h, '/');
	hl = slash != NULL ? (size_t)(slash - h) : strlen(h);
	colon = memchr(h, ':', hl);
	if (hl == 0 || hl >= sizeof(u->host) || (colon != NULL && (size_t)(h + hl - colon - 1) >=
	    sizeof(u->port)))
		return tw_error_set(err, TW_E_CONFIG, "EMT endpoint %s: bad host", url);
	if (colon != NULL) {
		memcpy(u->host, h, (size_t)(colon - h));
		memcpy(u->port, colon + 1, (size_t)(h + hl - colon - 1));
	} else {
		memcpy(u->host, h, hl);
		snprintf(u->port, sizeof(u->port), "443");
	}
	snprintf(u->path, sizeof(u->path), "%s", slash != NULL ? slash : "/");
	return TW_OK;
}

static int connect_timeout(const char *host, const char *port, long timeout_ms,
	struct tw_error *err)
{
	struct addrinfo hints, *ai = NULL, *a;
	int fd = -1, gai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(host, port, &hints, &ai)) != 0) {
		tw_error_set(err, TW_E_UNAVAILABLE, "cannot resolve %s: %s", host, gai_strerror(gai));
		return -1;
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		if ((fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			continue;
		/* Blocking socket with send/receive time-outs: one delivery at a time. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		tw_error_set(err, TW_E_UNAVAILABLE, "cannot connect to %s:%s: %s", host, port,
			strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

/* An EMT of another Sub-CA (pki/trust.h): its current CRL agrees, and its OU is emt_id. */
static tw_rc check_foreign_emt(struct tw_store *store, const struct trust_set *trust,
	X509 *peer, const char *emt_id, struct tw_error *err)
{
	struct trust_participant tp;
	tw_rc rc = trust_check_participant(store, trust, peer, "EMT", tw_now_ms() / 1000, &tp,
		err);

	if (rc == TW_OK && strcmp(tp.mp_id, emt_id) != 0)
		rc = tw_error_set(err, TW_E_DENIED, "the endpoint's certificate (of %s) belongs to "
			"market partner %s, not to EMT %s", tp.ca, tp.mp_id, emt_id);
	else if (rc != TW_OK) {
		char why[TW_ERROR_MESSAGE_MAX];   /* err->message is both source and target */

		snprintf(why, sizeof(why), "%s", err->message);
		rc = tw_error_set(err, rc, "the endpoint's certificate of another Sub-CA is refused: "
			"%.200s", why);
	}
	return rc;
}

/* The server's certificate is an EMT TLS certificate of this EMT (docs/metering.md). */
static tw_rc check_emt_peer(SSL *ssl, struct tw_store *store, const struct trust_set *trust,
	const char *emt_id, struct tw_error *err)
{
	struct store_certificate sc;
	struct store_ca_participant part;
	X509 *peer = SSL_get1_peer_certificate(ssl);
	char fp[65];
	tw_rc rc;

	memset(&sc, 0, sizeof(sc));
	if (peer == NULL)
		return tw_error_set(err, TW_E_TLS, "the EMT endpoint presented no certificate");
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		rc = tw_error_set(err, TW_E_TLS, "the EMT endpoint's certificate does not verify: "
			"%s", X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		goto out;
	}
	if ((rc = keys_cert_fingerprint(peer, fp, err)) != TW_OK)
		goto out;
	rc = store_certificate_get_by_fingerprint(store, fp, &sc, err);
	if (rc == TW_E_NOT_FOUND && trust != NULL &&
	    trust_set_ca(trust, X509_get_issuer_name(peer)) != NULL) {
		rc = check_foreign_emt(store, trust, peer, emt_id, err);   /* another Sub-CA's */
		goto out;
	}
	if (rc == TW_E_NOT_FOUND || (rc == TW_OK && (strcmp(sc.owner_kind, "emt") != 0 ||
	    strcmp(sc.usage, "TLS") != 0 || strcmp(sc.status, "valid") != 0))) {
		rc = tw_error_set(err, TW_E_DENIED, "the endpoint's certificate is not a valid EMT "
			"TLS certificate of this Sub-CA");
		goto out;
	}
	if (rc != TW_OK)
		goto out;
	rc = store_ca_participant_get(store, sc.owner_id, &part, err);
	if (rc == TW_OK && (strcmp(part.role, "emt") != 0 ||
	    strcmp(part.market_partner_id, emt_id) != 0))
		rc = tw_error_set(err, TW_E_DENIED, "the endpoint's certificate belongs to market "
			"partner %s, not to EMT %s", part.market_partner_id, emt_id);
out:
	store_certificate_clear(&sc);
	X509_free(peer);
	return rc;
}

/* The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK"); 0 if it is none. */
static int http_status(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9')
		return 0;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

static tw_rc ssl_write_all(SSL *ssl, const void *buf, size_t len, struct tw_error *err)
{
	size_t done = 0;

	while (done < len) {
		int n = SSL_write(ssl, (const char *)buf + done, (int)(len - done));

		if (n <= 0)
			return tw_error_set_openssl(err, TW_E_IO, "sending to the EMT failed");
		done += (size_t)n;
	}
	return TW_OK;
}

static void link_close(struct dl_link *l, bool clean)
{
	if (l->ssl != NULL) {
		if (clean)
			SSL_shutdown(l->ssl);
		SSL_free(l->ssl);
		l->ssl = NULL;
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->uses = 0;
}

static void link_forget(struct dl_link *l)
{
	link_close(l, true);
	SSL_SESSION_free(l->session);
	l->session = NULL;
	l->url[0] = '\0';
}

static tw_rc link_connect(struct dl_link *l, SSL_CTX *ctx, const struct url_parts *u,
	long timeout_ms, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if ((l->fd = connect_timeout(u->host, u->port, timeout_ms, err)) < 0)
		return TW_E_UNAVAILABLE;
	if ((l->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(l->ssl, l->fd) != 1 ||
	    SSL_set_tlsext_host_name(l->ssl, u->host) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot set up TLS");
		goto out;
	}
	if (l->session != NULL)
		SSL_set_session(l->ssl, l->session);   /* an offer; a full handshake if refused */
	ERR_clear_error();
	if (SSL_connect(l->ssl) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "TLS handshake with %s:%s failed", u->host,
			u->port);
		goto out;
	}
	SSL_SESSION_free(l->session);
	l->session = SSL_get1_session(l->ssl);
out:
	if (rc != TW_OK) {
		link_close(l, false);
		SSL_SESSION_free(l->session);   /* never offer a session that just failed */
		l->session = NULL;
	}
	return rc;
}

void metering_answer_head(const char *buf, size_t len, struct metering_answer *a)
{
	const char *end = NULL, *p, *line_end;

	memset(a, 0, sizeof(*a));
	a->content_length = -1;
	/* The status line: "HTTP/1.x NNN ..." (http_status wants a terminated string). */
	if (len >= 12) {
		char line[13];

		memcpy(line, buf, 12);
		line[12] = '\0';
		a->status = http_status(line);
	}
	for (size_t i = 0; i + 4 <= len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
			end = buf + i;
			break;
		}
	if (a->status == 0 || end == NULL)
		return;
	a->head_len = (size_t)(end + 4 - buf);
	a->keep_alive = len >= 8 && memcmp(buf, "HTTP/1.1", 8) == 0;
	/* Header names are case-insensitive (RFC 9110); values of these three are simple. */
	for (p = buf; p < end; p = line_end + 2) {
		const char *h;
		size_t hl;

		line_end = p;
		while (line_end < end && !(line_end[0] == '\r' && line_end[1] == '\n'))
			line_end++;
		if (p == buf)
			continue;       /* the status line */
		h = p;
		hl = (size_t)(line_end - p);
		if (hl > 15 && strncasecmp(h, "Content-Length:", 15) == 0) {
			unsigned long long v = 0;
			size_t i = 15, digits = 0;

			while (i < hl && (h[i] == ' ' || h[i] == '\t'))
				i++;
			for (; i < hl && h[i] >= '0' && h[i] <= '9' && v <= DL_BODY_MAX; i++, digits++)
				v = v * 10 + (unsigned)(h[i] - '0');
			while (i < hl && (h[i] == ' ' || h[i] == '\t'))
				i++;
			if (digits == 0 || i != hl || v > DL_BODY_MAX || a->content_length >= 0)
				a->keep_alive = false;  /* unreadable, too long, or given twice */
			else
				a->content_length = (long long)v;
		} else if (hl >= 11 && strncasecmp(h, "Connection:", 11) == 0) {
			for (size_t i = 11; i + 5 <= hl; i++)
				if (strncasecmp(h + i, "close", 5) == 0)
					a->keep_alive = false;
		} else if (hl >= 18 && strncasecmp(h, "Transfer-Encoding:", 18) == 0) {
			a->keep_alive = false;   /* chunked: not worth parsing for an empty answer */
		}
		if (line_end >= end)
			break;
	}
	if (a->content_length < 0)
		a->keep_alive = false;
}

/*
 * Reads one HTTP/1.x answer: the status, and whether the connection may carry the next
 * request (a Content-Length body read in full, no "Connection: close"). *got_any says
 * whether any byte arrived (a kept connection the EMT closed in between sends none).
 */
static tw_rc link_read_answer(struct dl_link *l, int *status, bool *reusable, bool *got_any,
	struct tw_error *err)
{
	char head[DELIVER_ANSWER_MAX];
	struct metering_answer a;
	size_t got = 0, have_body;
	int n;

	*status = 0;
	*reusable = false;
	*got_any = false;
	memset(&a, 0, sizeof(a));
	while (got < sizeof(head) && (n = SSL_read(l->ssl, head + got,
	    (int)(sizeof(head) - got))) > 0) {
		got += (size_t)n;
		*got_any = true;
		metering_answer_head(head, got, &a);
		if (a.head_len > 0)
			break;
	}
	if (a.head_len == 0)
		metering_answer_head(head, got, &a);   /* a status line without its end */
	if ((*status = a.status) == 0)
		return tw_error_set(err, TW_E_PROTOCOL, "no HTTP answer from the EMT");
	if (a.head_len == 0 || !a.keep_alive)
		return TW_OK;           /* use the status, drop the link */
	have_body = got - a.head_len;
	while (have_body < (size_t)a.content_length) {
		char sink[4096];
		size_t want = (size_t)a.content_length - have_body;
		size_t take = want < sizeof(sink) ? want : sizeof(sink);

		if ((n = SSL_read(l->ssl, sink, (int)take)) <= 0)
			return TW_OK;
		have_body += (size_t)n;
	}
	*reusable = have_body == (size_t)a.content_length;
	return TW_OK;
}

/* One message over l (connected first if needed). TW_OK only on a 2xx answer. */
static tw_rc link_deliver(struct dl_link *l, SSL_CTX *ctx, struct tw_store *store,
	const struct trust_set *trust, const char *url, const struct store_metering_msg *m,
	long timeout_ms, struct tw_error *err)
{
	struct url_parts u;
	char head[1024];
	int status = 0;
	bool reusable = false, got_any = false, reused;
	tw_rc rc;

	if ((rc = url_split(url, &u, err)) != TW_OK)
		return rc;
again:
	reused = l->ssl != NULL;
	if (!reused && (rc = link_connect(l, ctx, &u, timeout_ms, err)) != TW_OK)
		return rc;
	if ((rc = check_emt_peer(l->ssl, store, trust, m->emt_id, err)) != TW_OK) {
		link_close(l, true);
		return rc;
	}
	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s\r\n"
		"Content-Type: application/cms\r\nContent-Length: %zu\r\n"
		"X-Torwart-Message-Id: %s/%s\r\nX-Torwart-Kind: %s\r\nX-Torwart-Gateway: %s\r\n"
		"X-Torwart-Metering-Point: %s\r\nX-Torwart-Clock-Ok: %s\r\n\r\n", u.path, u.host,
		m->body_len, m->gateway_id, m->message_id, m->kind, m->gateway_id,
		m->metering_point, m->clock_ok ? "true" : "false");
	if ((rc = ssl_write_all(l->ssl, head, strlen(head), err)) == TW_OK &&
	    (rc = ssl_write_all(l->ssl, m->body, m->body_len, err)) == TW_OK)
		rc = link_read_answer(l, &status, &reusable, &got_any, err);
	if (rc != TW_OK && reused && !got_any) {
		/*
		 * The EMT closed the kept connection while it was idle: once more on a new
		 * one. Should the EMT have taken the first copy after all, it sees the same
		 * X-Torwart-Message-Id twice (at-least-once, docs/metering.md).
		 */
		link_close(l, false);
		goto again;
	}
	l->uses++;
	if (rc == TW_OK && (status < 200 || status > 299))
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "the EMT answered HTTP %d", status);
	if (!reusable || rc != TW_OK || l->uses >= DL_LINK_MAX_USES)
		link_close(l, rc == TW_OK);
	return rc;
}

tw_rc metering_deliver_one(struct ssl_ctx_st *ctx, struct tw_store *store,
	const struct trust_set *trust, const char *url, const struct store_metering_msg *m,
	long timeout_ms, struct tw_error *err)
{
	struct dl_link l = { .fd = -1 };
	tw_rc rc = link_deliver(&l, ctx, store, trust, url, m, timeout_ms, err);

	link_forget(&l);
	return rc;
}

/* ---- the thread ---- */

/*
 * The outcome of one delivery attempt, recorded with the round's others in one
 * transaction (dl_record): the state change and, where one is due, its admin-log entry.
 */
struct dl_outcome {
	int64_t id;
	bool delivered;              /* else a retry at next_ms */
	int64_t next_ms;
	bool log;                    /* an admin-log entry (every success, the first failure) */
	char error[256];             /* the retry's reason */
	char object[160];
	char detail[320];
	char what[200];              /* gateway/message for the log lines */
};

/*
 * How long a delivered message may wait for its record. A message the EMT acknowledged
 * but that is not yet marked delivered goes out again after a crash (same message id,
 * at-least-once, as before); this bounds how many can do so. Bounded also by the round
 * (DELIVER_BATCH messages).
 */
#define DL_RECORD_MAX_MS 1000

static tw_rc dl_apply(struct tw_store *store, const struct dl_outcome *o, bool in_tx,
	struct tw_error *err)
{
	struct audit_entry a = { .actor = "system", .role = "service", .client = "worker",
		.action = "metering.deliver", .result = o->delivered ? "ok" : "error",
		.object = o->object, .detail = o->detail };
	tw_rc rc = o->delivered ? store_metering_delivered(store, o->id, tw_now_ms(), err) :
		store_metering_retry(store, o->id, o->next_ms, o->error, err);

	if (rc == TW_E_NOT_FOUND && o->delivered) {
		/* Marked by someone else meanwhile (another deliverer, an operator): nothing of
		 * ours to change; the delivery itself is still logged. */
		tw_warn("metering: delivered %s, which was no longer pending: %s", o->what,
			err->message);
		rc = TW_OK;
	}
	if (rc == TW_OK && o->log)
		rc = in_tx ? audit_append_in_tx(store, &a, err) : audit_append(store, &a, err);
	return rc;
}

/*
 * Record n outcomes: one transaction (one commit, one fsync) for all of them. Should it
 * fail, each is recorded alone as before, so one bad row costs no other its record.
 */
static void dl_record(struct metering_deliverer *d, struct dl_outcome *o, size_t n)
{
	struct tw_error e;
	bool done = false;

	if (n == 0)
		return;
	d->outcomes += n;
	if (store_begin(d->store, &e) == TW_OK) {
		size_t i;

		for (i = 0; i < n && dl_apply(d->store, &o[i], true, &e) == TW_OK; i++)
			;
		done = i == n && store_commit(d->store, &e) == TW_OK;
		if (!done)
			store_rollback(d->store);
	}
	if (done) {
		d->record_tx++;
		return;
	}
	d->record_alone += n;
	tw_warn("metering: cannot record %zu delivery outcomes together (%s); recording them "
		"one by one", n, e.message);
	for (size_t i = 0; i < n; i++)
		if (dl_apply(d->store, &o[i], false, &e) != TW_OK)
			tw_err("metering: cannot record the delivery of %s (%s): %s", o[i].what,
				o[i].delivered ? "delivered; it will be sent again" : "failed",
				e.message);
}

/* The kept link for url: the one already used for it, else the least recently used. */
static struct dl_link *dl_link_for(struct metering_deliverer *d, const char *url)
{
	struct dl_link *pick = &d->links[0];

	for (size_t i = 0; i < DL_LINKS; i++) {
		if (strcmp(d->links[i].url, url) == 0)
			return &d->links[i];
		if (d->links[i].last_ms < pick->last_ms)
			pick = &d->links[i];
	}
	link_forget(pick);
	snprintf(pick->url, sizeof(pick->url), "%s", url);
	return pick;
}

/* Kept connections are for a backlog; an idle deliverer holds none open. */
static void dl_links_close(struct metering_deliverer *d)
{
	for (size_t i = 0; i < DL_LINKS; i++)
		link_close(&d->links[i], true);
}

/*
 * One round of due messages; true when the batch was full (more may be due at once).
 * The outcomes are recorded together (dl_record) at the end of the round, or earlier
 * when the first unrecorded one has waited DL_RECORD_MAX_MS.
 */
static bool dl_round(struct metering_deliverer *d)
{
	struct store_metering_msg *msgs = NULL;
	struct dl_outcome *out = NULL;
	struct tw_error e;
	char url[STORE_EMT_URL_MAX + 1];
	size_t n = 0, nout = 0;
	int64_t first_ms = 0;

	if (d->ctx == NULL)
		return false;
	if ((out = calloc(DELIVER_BATCH, sizeof(*out))) == NULL) {
		tw_warn("metering: out of memory for a delivery round");
		return false;
	}
	if (store_metering_due(d->store, tw_now_ms(), DELIVER_BATCH, &msgs, &n, &e) != TW_OK) {
		tw_warn("metering: cannot read due messages: %s", e.message);
		free(out);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_metering_msg *m = &msgs[i];
		struct dl_outcome *o = &out[nout];
		tw_rc rc = store_emt_endpoint_get(d->store, m->emt_id, url, sizeof(url), &e);

		if (rc == TW_OK) {
			struct dl_link *l = dl_link_for(d, url);

			l->last_ms = tw_now_ms();
			rc = link_deliver(l, d->ctx, d->store, d->trust, url, m, d->timeout_ms, &e);
		}
		memset(o, 0, sizeof(*o));
		o->id = m->id;
		o->delivered = rc == TW_OK;
		snprintf(o->object, sizeof(o->object), "msg:%s/%s", m->gateway_id, m->message_id);
		snprintf(o->what, sizeof(o->what), "%s/%s", m->gateway_id, m->message_id);
		if (rc == TW_OK) {
			o->log = true;
			snprintf(o->detail, sizeof(o->detail), "%s to EMT %s, attempt %lld", m->kind,
				m->emt_id, (long long)m->attempts + 1);
		} else {
			/* Exponential back-off: base * 2^attempts, capped. */
			int64_t delay = d->retry_base_ms;

			for (int64_t k = 0; k < m->attempts && delay < d->retry_max_ms; k++)
				delay *= 2;
			if (delay > d->retry_max_ms)
				delay = d->retry_max_ms;
			o->next_ms = tw_now_ms() + delay;
			snprintf(o->error, sizeof(o->error), "%s", e.message);
			snprintf(o->detail, sizeof(o->detail), "EMT %s, attempt %lld, next in %lld ms: "
				"%.200s", m->emt_id, (long long)m->attempts + 1, (long long)delay,
				e.message);
			tw_info("metering: delivery of %s/%s failed: %s", m->gateway_id, m->message_id,
				o->detail);
			o->log = m->attempts == 0;   /* the first failure; later ones counted */
		}
		if (nout++ == 0)
			first_ms = tw_now_ms();
		if (tw_now_ms() - first_ms >= DL_RECORD_MAX_MS) {
			dl_record(d, out, nout);
			nout = 0;
		}
		pthread_mutex_lock(&d->mu);
		bool stop = d->stop;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			break;
	}
	dl_record(d, out, nout);
	store_metering_msgs_free(msgs, DELIVER_BATCH);
	free(out);
	return n == DELIVER_BATCH;
}

static void dl_housekeeping(struct metering_deliverer *d, int64_t now)
{
	struct tw_error e;
	int64_t purged = 0, overdue = 0;
	char msg[200];

	if (store_metering_purge(d->store, now - (int64_t)d->retention_s * 1000, &purged, &e)
	    != TW_OK)
		tw_warn("metering: retention: %s", e.message);
	else if (purged > 0)
		tw_info("metering: deleted %lld delivered messages past retention",
			(long long)purged);
	if (store_metering_mark_overdue(d->store, now - (int64_t)d->overdue_s * 1000, &overdue,
	    &e) != TW_OK) {
		tw_warn("metering: overdue check: %s", e.message);
	} else if (overdue > 0) {
		snprintf(msg, sizeof(msg), "%lld metering messages are not acknowledged by their "
			"EMT after %ld s; they are kept and retried (`torwart metering status`)",
			(long long)overdue, d->overdue_s);
		if (alert_raise(d->store, ALERT_METERING_UNDELIVERED, NULL, "metering", msg, &e)
		    != TW_OK)
			tw_err("metering: cannot raise the alert: %s", e.message);
	}
}

static void *dl_main(void *arg)
{
	struct metering_deliverer *d = arg;

	for (;;) {
		int64_t now = tw_now_ms();
		struct timespec ts;
		struct tw_error e;
		bool stop;

		if (now >= d->next_housekeeping_ms) {
			dl_housekeeping(d, now);
			d->next_housekeeping_ms = now + d->housekeeping_s * 1000;
		}
		if (d->time_configured && now >= d->next_time_ms) {
			if (timesvc_check(d->home->conf, d->store, NULL, &e) != TW_OK)
				tw_warn("time: check failed: %s", e.message);
			d->next_time_ms = now + d->time_interval_s * 1000;
		}
		if (dl_round(d)) {
			/* A backlog (a burst of values): the next batch now, not after a tick. */
			pthread_mutex_lock(&d->mu);
			stop = d->stop;
			pthread_mutex_unlock(&d->mu);
			if (stop)
				break;
			continue;
		}
		dl_links_close(d);
		pthread_mutex_lock(&d->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += d->tick_ms / 1000;
		ts.tv_nsec += (d->tick_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!d->stop)
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		stop = d->stop;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			break;
	}
	return NULL;
}

static tw_rc dl_config(struct metering_deliverer *d, struct tw_error *err)
{
	const struct tw_config *c = d->home->conf;
	const char *up = tw_config_get(c, "time", "upstream");
	tw_rc rc;

	if ((rc = tw_config_get_long(c, "metering", "tick_ms", 500, 10, 60000, &d->tick_ms,
	    err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "timeout_ms", 10000, 100, 120000,
	    &d->timeout_ms, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "retry_base_ms", 1000, 10, 3600000,
	    &d->retry_base_ms, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "retry_max_ms", 300000, 10, 86400000,
	    &d->retry_max_ms, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "retention_s", 30L * 86400, 0,
	    3650L * 86400, &d->retention_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "undelivered_alert_s", 3600, 1,
	    365L * 86400, &d->overdue_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "metering", "housekeeping_s", 60, 1, 86400,
	    &d->housekeeping_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(c, "time", "check_interval_s", 64, 1, 86400,
	    &d->time_interval_s, err)) != TW_OK)
		return rc;
	d->time_configured = up != NULL && up[0] != '\0';
	return TW_OK;
}

static tw_rc dl_tls(struct metering_deliverer *d, struct tw_error *err)
{
	struct tls_profile_config cfg;
	/*
	 * The GWA's TLS certificate authenticates it to the EMT. Its key is the signer's
	 * gwa-tls (tls_signer_key.h), or the file [metering] key where a home still has one.
	 */
	char *cert = tw_home_path(d->home, "metering", "cert", TW_HOME_GWA_TLS_CERT);
	char *key = tw_home_path(d->home, "metering", "key", TW_HOME_GWA_TLS_KEY);
	char *chain = tw_home_path(d->home, "metering", "chain", TW_HOME_SUBCA_CERT);
	char *trust = tw_home_path(d->home, "metering", "trust", TW_HOME_CHAIN);
	tw_rc rc;

	if (cert == NULL || key == NULL || chain == NULL || trust == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS,
		.chain_file = chain, .trust_file = trust };
	rc = tls_client_ctx_new(&cfg, &d->ctx, err);
out:
	free(cert);
	free(key);
	free(chain);
	free(trust);
	return rc;
}

tw_rc metering_deliverer_start(const struct tw_home *home, struct metering_deliverer **out,
	struct tw_error *err)
{
	struct metering_deliverer *d = calloc(1, sizeof(*d));
	char *url = NULL;
	tw_rc rc;

	*out = NULL;
	if (d == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	d->home = home;
	for (size_t i = 0; i < DL_LINKS; i++)
		d->links[i].fd = -1;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	if ((rc = dl_config(d, err)) != TW_OK ||
	    (rc = trust_set_load(home, &d->trust, err)) != TW_OK)
		goto out;
	if (dl_tls(d, err) != TW_OK) {
		/*
		 * Without a TLS identity nothing can be delivered (e.g. a [metering] key file this
		 * user cannot read; the signer's gwa-tls needs none): say so; messages stay
		 * pending and are alerted, retention and the clock check still run.
		 */
		tw_warn("metering: no deliveries to EMTs: %s", err->message);
		d->ctx = NULL;
	}
	if ((url = tw_home_store_url(home)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = store_open(url, &d->store, err)) != TW_OK)
		goto out;
	if (pthread_create(&d->tid, NULL, dl_main, d) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot start the metering thread");
		goto out;
	}
	d->started = true;
	tw_info("metering: deliveries to EMTs %s every %ld ms%s", d->ctx != NULL ? "on" : "OFF",
		d->tick_ms,
		d->time_configured ? "; GWA clock checked against [time] upstream" : "");
out:
	free(url);
	if (!d->started) {
		metering_deliverer_stop(d);
		d = NULL;
	}
	*out = d;
	return rc;
}

void metering_deliverer_stop(struct metering_deliverer *d)
{
	if (d == NULL)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->mu);
		d->stop = true;
		pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
		pthread_join(d->tid, NULL);
	}
	if (d->outcomes > 0)
		tw_info("metering: %llu delivery outcomes recorded in %llu transactions, %llu one "
			"by one", (unsigned long long)d->outcomes, (unsigned long long)d->record_tx,
			(unsigned long long)d->record_alone);
	for (size_t i = 0; i < DL_LINKS; i++)
		link_forget(&d->links[i]);
	store_close(d->store);
	SSL_CTX_free(d->ctx);
	trust_set_free(d->trust);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}
