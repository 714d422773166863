/*
 * ship.c: the syslog-over-TLS shipper (ship.h). A small state machine on the worker's
 * event loop: disconnected -> connecting -> connected; while connected it sends one batch
 * at a time from the store cursor and advances the cursor once the batch has left the
 * output buffer and the connection stayed up for a grace period (ship_commit). A dropped
 * connection resends from the cursor (the receiver may see an entry twice; seq in the
 * structured data identifies it), so nothing is skipped.
 */
#include "audit/ship.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "audit/alert.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/tls_signer_key.h"
#include "store/store_auditlog.h"

#define SHIP_BACKOFF_MIN_MS 1000
#define SHIP_BACKOFF_MAX_MS 60000
#define SHIP_FRAME_MAX 8192
#define SHIP_ACK_GRACE_MS 2000

enum ship_state { SHIP_IDLE, SHIP_CONNECTING, SHIP_CONNECTED };

struct audit_shipper {
	struct event_base *base;
	struct tw_store *store;
	SSL_CTX *ctx;
	char *host;
	uint16_t port;
	char hostname[256];
	enum ship_state state;
	struct bufferevent *bev;
	int64_t next_attempt_ms;
	int64_t backoff_ms;
	int64_t sent_last;            /* highest seq queued on this connection, 0 none */
	bool in_flight;               /* a batch is in the output buffer */
	int64_t pending_seq, pending_ms;   /* drained up to pending_seq at pending_ms */
	int64_t drained_seq, drained_ms;   /* the latest drain mark (newer than pending) */
	bool warned;                  /* log the outage once, not every retry */
	int64_t down_since_ms;        /* monotonic start of the current outage, 0 when up */
	int64_t outage_alert_ms;      /* [audit] ship_outage_alert (s): alert after this long */
	bool outage_alerted;          /* one alert per outage */
};

/* ---- RFC 5424 formatting ---- */

/* PARAM-VALUE: escape '"', '\' and ']' (RFC 5424 6.3.3). */
static tw_rc ship_sd_param(struct tw_buf *b, const char *name, const char *value,
	struct tw_error *err)
{
	tw_rc rc;

	if ((rc = tw_buf_appendf(b, err, " %s=\"", name)) != TW_OK)
		return rc;
	for (const char *p = value; *p != '\0'; p++) {
		if ((*p == '"' || *p == '\\' || *p == ']') &&
		    (rc = tw_buf_append(b, "\\", 1, err)) != TW_OK)
			return rc;
		if ((rc = tw_buf_append(b, p, 1, err)) != TW_OK)
			return rc;
	}
	return tw_buf_append(b, "\"", 1, err);
}

/* MSGID and HOSTNAME are 1*N PRINTUSASCII: anything else becomes '_'. */
static void ship_token(const char *in, char *out, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size && in[i] != '\0'; i++)
		out[i] = (in[i] > 32 && in[i] < 127) ? in[i] : '_';
	if (i == 0 && size > 1)
		out[i++] = '-';
	out[i] = '\0';
}

tw_rc audit_syslog_frame(const struct store_audit_row *row, const char *hostname, char *out,
	size_t size, size_t *len, struct tw_error *err)
{
	struct tw_buf b;
	char msgid[33], host[256], seq[24], hash[65];
	int sev, n;
	tw_rc rc;

	*len = 0;
	tw_buf_init(&b, SHIP_FRAME_MAX);
	/* facility 13 (log audit); alerts critical, refusals and errors warnings */
	if (strncmp(row->action, "alert.", 6) == 0)
		sev = 2;
	else if (strcmp(row->result, "ok") == 0)
		sev = 6;
	else
		sev = 4;
	ship_token(row->action, msgid, sizeof(msgid));
	ship_token(hostname, host, sizeof(host));
	snprintf(seq, sizeof(seq), "%lld", (long long)row->seq);
	tw_hex_encode(row->hash, 32, hash);
	if ((rc = tw_buf_appendf(&b, err, "<%d>1 %s %s torwart - %s [torwart@32473", 13 * 8 + sev,
	    row->time[0] != '\0' ? row->time : "-", host, msgid)) != TW_OK ||
	    (rc = ship_sd_param(&b, "seq", seq, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "actor", row->actor, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "role", row->role, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "client", row->client, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "action", row->action, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "object", row->object, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "result", row->result, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "error", row->error_code, err)) != TW_OK ||
	    (rc = ship_sd_param(&b, "hash", hash, err)) != TW_OK ||
	    (rc = tw_buf_appendf(&b, err, "] %s", row->detail)) != TW_OK)
		goto out;
	n = snprintf(out, size, "%zu %s", b.len, (const char *)b.data);
	if (n < 0 || (size_t)n >= size) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "syslog frame of entry %lld exceeds %zu bytes",
			(long long)row->seq, size);
		goto out;
	}
	*len = (size_t)n;
	rc = TW_OK;
out:
	tw_buf_free(&b);
	return rc;
}

/* ---- connection ---- */

void audit_tls_expect_host(SSL *ssl, const char *host)
{
	unsigned char ip[16];

	/* An address is matched against iPAddress SANs, a name against dNSName (and SNI). */
	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
		return;
	}
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
}

static void ship_drop(struct audit_shipper *s, const char *why)
{
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	s->bev = NULL;
	s->state = SHIP_IDLE;
	/* Nothing unconfirmed is committed: resent from the cursor next time. */
	s->sent_last = 0;
	s->in_flight = false;
	s->pending_seq = s->drained_seq = 0;
	s->backoff_ms = s->backoff_ms == 0 ? SHIP_BACKOFF_MIN_MS :
		(s->backoff_ms * 2 > SHIP_BACKOFF_MAX_MS ? SHIP_BACKOFF_MAX_MS : s->backoff_ms * 2);
	s->next_attempt_ms = tw_monotonic_ms() + s->backoff_ms;
	if (!s->warned)
		tw_warn("admin-log shipping to %s:%u paused: %s; entries stay spooled, retrying "
			"with back-off", s->host, (unsigned)s->port, why);
	s->warned = true;
	if (s->down_since_ms == 0)
		s->down_since_ms = tw_monotonic_ms();
	/* Nothing is lost while the link is down, but the remote copy an auditor relies on
	 * falls behind: past the grace period the system administrators are told. */
	if (!s->outage_alerted && tw_monotonic_ms() - s->down_since_ms >= s->outage_alert_ms) {
		struct tw_error e;
		char subject[96], msg[400];

		snprintf(subject, sizeof(subject), "remote-log %s:%u", s->host, (unsigned)s->port);
		snprintf(msg, sizeof(msg), "admin-log shipping to %s:%u down for %lld s: %s; "
			"entries stay spooled", s->host, (unsigned)s->port,
			(long long)((tw_monotonic_ms() - s->down_since_ms) / 1000), why);
		if (alert_raise(s->store, ALERT_OUTAGE, NULL, subject, msg, &e) != TW_OK)
			tw_err("cannot raise the log-link outage alert: %s", e.message);
		s->outage_alerted = true;
	}
}

struct ship_batch {
	struct audit_shipper *s;
	struct evbuffer *out;
	int64_t last;
	int count;
	tw_rc rc;
	struct tw_error *err;
};

static int ship_row_cb(const struct store_audit_row *row, void *arg)
{
	struct ship_batch *b = arg;
	char frame[SHIP_FRAME_MAX + 32];
	size_t len;

	if ((b->rc = audit_syslog_frame(row, b->s->hostname, frame, sizeof(frame), &len,
	    b->err)) != TW_OK)
		return 1;
	if (evbuffer_add(b->out, frame, len) != 0) {
		b->rc = tw_error_set(b->err, TW_E_NOMEM, "out of memory shipping the admin log");
		return 1;
	}
	b->last = row->seq;
	return ++b->count >= AUDIT_SHIP_BATCH;
}

/* Queue the next batch after the cursor, if there is one and nothing is in flight. */
static void ship_send(struct audit_shipper *s)
{
	struct ship_batch b;
	struct tw_error err;
	int64_t cursor = 0;
	tw_rc rc;

	if (s->state != SHIP_CONNECTED || s->in_flight)
		return;
	memset(&b, 0, sizeof(b));
	b.s = s;
	b.err = &err;
	b.out = bufferevent_get_output(s->bev);
	if ((rc = store_auditlog_cursor_get(s->store, AUDIT_SHIP_CURSOR, &cursor, &err)) != TW_OK ||
	    (rc = store_audit_foreach(s->store, (s->sent_last > cursor ? s->sent_last : cursor) + 1,
	    ship_row_cb, &b, &err)) != TW_OK ||
	    (rc = b.rc) != TW_OK) {
		tw_warn("admin-log shipping: %s", err.message);
		return;
	}
	if (b.count > 0) {
		s->sent_last = b.last;
		s->in_flight = true;
	}
}

static void ship_write_cb(struct bufferevent *bev, void *arg)
{
	struct audit_shipper *s = arg;

	(void)bev;
	if (!s->in_flight)
		return;
	/* Handed to the kernel, not yet known to be received: mark it, keep sending. */
	s->in_flight = false;
	s->drained_seq = s->sent_last;
	s->drained_ms = tw_monotonic_ms();
	if (s->pending_seq == 0) {
		s->pending_seq = s->drained_seq;
		s->pending_ms = s->drained_ms;
	}
	ship_send(s);
}

/*
 * RFC 5425 has no acknowledgement, and bytes written just after the server died still
 * "drain" into the kernel. So the cursor only moves past data that drained at least
 * SHIP_ACK_GRACE_MS ago on a connection that is still up: a dead server shows as EOF or
 * reset well within that time, and then everything unconfirmed is sent again.
 */
static void ship_commit(struct audit_shipper *s)
{
	struct tw_error err;

	if (s->state != SHIP_CONNECTED || s->pending_seq == 0 ||
	    tw_monotonic_ms() - s->pending_ms < SHIP_ACK_GRACE_MS)
		return;
	if (store_auditlog_cursor_set(s->store, AUDIT_SHIP_CURSOR, s->pending_seq, &err) !=
	    TW_OK) {
		tw_warn("admin-log shipping: %s", err.message);
		ship_drop(s, "cannot save the cursor");
		return;
	}
	if (s->drained_seq > s->pending_seq) {
		s->pending_seq = s->drained_seq;
		s->pending_ms = s->drained_ms;
	} else {
		s->pending_seq = 0;
	}
}

static void ship_read_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	/* RFC 5425 receivers do not answer; discard anything they send. */
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void ship_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct audit_shipper *s = arg;
	char why[256];
	unsigned long e;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		s->state = SHIP_CONNECTED;
		s->backoff_ms = 0;
		s->down_since_ms = 0;
		s->outage_alerted = false;
		if (s->warned)
			tw_info("admin-log shipping to %s:%u resumed", s->host, (unsigned)s->port);
		s->warned = false;
		ship_send(s);
		return;
	}
	e = bufferevent_get_openssl_error(s->bev);
	if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", (what & BEV_EVENT_EOF) ? "connection closed" :
			"connection failed");
	ship_drop(s, why);
}

static void ship_connect(struct audit_shipper *s)
{
	SSL *ssl = SSL_new(s->ctx);

	if (ssl == NULL) {
		ship_drop(s, "out of memory");
		return;
	}
	/* RFC 5425 5.2: the server's certificate must name the host we asked for. */
	audit_tls_expect_host(ssl, s->host);
	s->bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (s->bev == NULL) {
		SSL_free(ssl);
		ship_drop(s, "cannot create a TLS connection");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, ship_read_cb, ship_write_cb, ship_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->state = SHIP_CONNECTING;
	if (bufferevent_socket_connect_hostname(s->bev, NULL, AF_UNSPEC, s->host, s->port) != 0)
		ship_drop(s, "cannot resolve or connect");
}

void audit_shipper_tick(struct audit_shipper *s)
{
	if (s == NULL)
		return;
	if (s->state == SHIP_IDLE && tw_monotonic_ms() >= s->next_attempt_ms)
		ship_connect(s);
	else if (s->state == SHIP_CONNECTED) {
		ship_commit(s);
		ship_send(s);
	}
}

void audit_shipper_free(struct audit_shipper *s)
{
	if (s == NULL)
		return;
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	SSL_CTX_free(s->ctx);
	free(s->host);
	free(s);
}

tw_rc audit_shipper_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct audit_shipper **out, struct tw_error *err)
{
	struct audit_shipper *s = NULL;
	const char *target = tw_config_get(home->conf, "audit", "syslog_host");
	char *ca = NULL, *cert = NULL, *key = NULL;
	tw_rc rc;

	*out = NULL;
	if (target == NULL || target[0] == '\0')
		return TW_OK;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	s->base = base;
	s->store = store;
	{
		long secs = 300;

		if ((rc = tw_config_get_long(home->conf, "audit", "ship_outage_alert", 300, 1, 86400,
		    &secs, err)) != TW_OK)
			goto out;
		s->outage_alert_ms = (int64_t)secs * 1000;
	}
	if ((rc = tw_parse_hostport(target, &s->host, &s->port, err)) != TW_OK)
		goto out;
	if (tw_config_get(home->conf, "audit", "syslog_ca") == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "[audit] syslog_host is set but syslog_ca is "
			"not: name the PEM file that signs the log server's certificate");
		goto out;
	}
	ca = tw_home_path(home, "audit", "syslog_ca", "");
	if (tw_config_get(home->conf, "audit", "syslog_cert") != NULL) {
		cert = tw_home_path(home, "audit", "syslog_cert", "");
		/* Without syslog_key the key is the signer's (tls_signer_key.h): the worker may
		 * use gwa-tls, so syslog_cert is then a certificate for that key. */
		if (tw_config_get(home->conf, "audit", "syslog_key") != NULL)
			key = tw_home_path(home, "audit", "syslog_key", "");
	}
	snprintf(s->hostname, sizeof(s->hostname), "%s",
		tw_config_get_or(home->conf, "audit", "syslog_hostname", ""));
	if (s->hostname[0] == '\0' && gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
		snprintf(s->hostname, sizeof(s->hostname), "torwart");
	if ((s->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot create the syslog TLS context");
		goto out;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	/* The SM-PKI keys (the GWA's TLS key as client certificate) are brainpool, and a TLS
	 * 1.2 server refuses a client certificate on a curve the client did not offer. */
	if (SSL_CTX_set1_groups_list(s->ctx, "X25519:P-256:P-384:P-521:brainpoolP256r1:"
	    "brainpoolP384r1:brainpoolP512r1") != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot set the syslog TLS groups");
		goto out;
	}
	if (ca == NULL || SSL_CTX_load_verify_locations(s->ctx, ca, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CONFIG, "[audit] syslog_ca %s cannot be loaded",
			ca != NULL ? ca : "?");
		goto out;
	}
	if (cert != NULL && (SSL_CTX_use_certificate_chain_file(s->ctx, cert) != 1 ||
	    (key != NULL && SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1))) {
		rc = tw_error_set_openssl(err, TW_E_CONFIG, "[audit] syslog_cert/syslog_key "
			"cannot be loaded");
		goto out;
	}
	if (cert != NULL && key == NULL) {
		EVP_PKEY *pk = NULL;

		if ((rc = tls_signer_key_new(tls_signer_key_socket(), tw_config_get_or(home->conf,
		    "audit", "syslog_signer_key", SIGNER_KEY_GWA_TLS),
		    SSL_CTX_get0_certificate(s->ctx), &pk, err)) != TW_OK)
			goto out;
		if (SSL_CTX_use_PrivateKey(s->ctx, pk) != 1) {
			EVP_PKEY_free(pk);
			rc = tw_error_set_openssl(err, TW_E_CONFIG, "[audit] syslog_cert does not "
				"belong to the signer's key");
			goto out;
		}
		EVP_PKEY_free(pk);
	}
	*out = s;
	s = NULL;
	rc = TW_OK;
out:
	audit_shipper_free(s);
	free(ca);
	free(cert);
	free(key);
	return rc;
}
