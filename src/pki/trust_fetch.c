/*
 * trust_fetch.c: the worker's CRL fetcher for the trusted CAs Torwart does not run
 * (trust.h). HTTP/1.1 GET with libevent's evhttp client (no HTTP code of our own), one
 * request per due source at a time, body at most [trust] crl_max_bytes; every CRL is
 * verified against its issuer (trust_crl_check) and must not go back in number before
 * it replaces the cached one. Seeds: the distribution points in the configured Sub-CA
 * certificates name their Root's CRL (ARL).
 */
#include "pki/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "audit/alert.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_trust.h"

#define TF_MAX_ROWS 256

struct tf_stale {
	struct tf_stale *next;
	char issuer[1024];
};

struct trust_fetcher {
	const struct tw_home *home;
	struct event_base *base;
	struct tw_store *store;
	struct trust_set *ts;
	struct event *timer;
	long refetch_after_s;
	long max_bytes;
	long ldap_timeout_s;             /* [trust] ldap_timeout: ldap:// sources */
	struct tf_stale *stale;          /* CAs alerted as stale (once per outage) */
	struct tf_req *reqs;             /* in flight: freed by stop if still open */
	int inflight;
};

struct tf_req {
	struct tf_req *next;
	struct trust_fetcher *f;
	struct evhttp_connection *conn;
	struct evhttp_uri *uri;
	char issuer[STORE_TEXT_MAX + 1];
	char url[STORE_TRUST_URL_MAX + 1];
	int64_t number;                  /* of the cached CRL: never go back */
};

static void tf_req_free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tf_req *r = arg;

	(void)fd;
	(void)what;
	for (struct tf_req **pp = &r->f->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	if (r->conn != NULL)
		evhttp_connection_free(r->conn);
	evhttp_uri_free(r->uri);
	r->f->inflight--;
	free(r);
}

static void tf_failed_src(struct trust_fetcher *f, const char *issuer, const char *url,
	const char *why)
{
	struct tw_error err;

	tw_warn("trust: CRL of %s from %s not taken: %s", issuer, url, why);
	if (store_trust_crl_failed(f->store, issuer, tw_now_ms(), why, &err) != TW_OK)
		tw_err("trust: cannot record a failed fetch: %s", err.message);
}

static void tf_failed(struct tf_req *r, const char *why)
{
	tf_failed_src(r->f, r->issuer, r->url, why);
}

/*
 * Bytes fetched from the distribution point url of issuer (HTTP or LDAP): verified
 * against the issuer, never older than the cached CRL (number), then stored.
 */
static void tf_take(struct trust_fetcher *f, const char *issuer, const char *url,
	int64_t number, unsigned char *der, size_t len)
{
	struct trust_crl_info info;
	struct store_trust_crl row;
	struct tw_error err;
	char why[300];
	tw_rc crc = trust_crl_check(f->ts, der, len, tw_now_ms() / 1000, &info, &err);

	if (crc == TW_E_NOT_FOUND) {
		/*
		 * A CA the worker does not trust itself: a GWA context's own trusted CA, whose
		 * CRL the context validation fetches and checks (trust_crl_refresh). Not a
		 * failure of that source.
		 */
		tw_debug("trust: CRL from %s left to the context validation: %s", url, err.message);
	} else if (crc != TW_OK) {
		tf_failed_src(f, issuer, url, err.message);
	} else if (strcmp(info.issuer, issuer) != 0) {
		snprintf(why, sizeof(why), "the CRL is issued by %.200s, not by this CA", info.issuer);
		tf_failed_src(f, issuer, url, why);
	} else if (info.number < number) {
		snprintf(why, sizeof(why), "CRL number %lld is older than the cached %lld (replayed "
			"CRL refused)", (long long)info.number, (long long)number);
		tf_failed_src(f, issuer, url, why);
	} else {
		memset(&row, 0, sizeof(row));
		snprintf(row.issuer, sizeof(row.issuer), "%s", issuer);
		snprintf(row.url, sizeof(row.url), "%s", url);
		row.number = info.number;
		row.this_update = info.this_update;
		row.next_update = info.next_update;
		row.fetched_ms = tw_now_ms();
		row.der = der;
		row.der_len = len;
		if (store_trust_crl_put(f->store, &row, &err) != TW_OK)
			tw_err("trust: cannot store the CRL of %s: %s", issuer, err.message);
		else
			tw_info("trust: CRL %lld of %s fetched from %s (next update in %lld s)",
				(long long)info.number, issuer, url,
				(long long)(info.next_update - tw_now_ms() / 1000));
	}
}

/*
 * An ldap:// source: one anonymous base search with libldap, synchronous (its time-outs
 * bound the worker's pause; a CRL source is fetched at most once per refetch_after).
 */
static void tf_fetch_ldap(struct trust_fetcher *f, const struct store_trust_crl *c)
{
	struct trust_ldap_target t;
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0;

	if (trust_ldap_target_parse(c->url, &t, &err) != TW_OK ||
	    trust_ldap_fetch(&t, f->ldap_timeout_s, (size_t)f->max_bytes, &der, &len, &err) !=
	    TW_OK)
		tf_failed_src(f, c->issuer, c->url, err.message);
	else
		tf_take(f, c->issuer, c->url, c->number, der, len);
	free(der);
}

static void tf_done(struct evhttp_request *req, void *arg)
{
	struct tf_req *r = arg;
	struct trust_fetcher *f = r->f;
	struct evbuffer *body = req != NULL ? evhttp_request_get_input_buffer(req) : NULL;
	size_t len = body != NULL ? evbuffer_get_length(body) : 0;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	unsigned char *der;
	char why[300];

	if (req == NULL || code != 200) {
		snprintf(why, sizeof(why), code == 0 ? "no answer (connection failed or timed out)" :
			"HTTP status %d", code);
		tf_failed(r, why);
	} else if (len == 0 || (der = evbuffer_pullup(body, (ev_ssize_t)len)) == NULL) {
		tf_failed(r, "empty answer");
	} else {
		tf_take(f, r->issuer, r->url, r->number, der, len);
	}
	/* The connection cannot be freed inside its own callback. */
	event_base_once(f->base, -1, EV_TIMEOUT, tf_req_free_cb, r, NULL);
}

static void tf_fetch(struct trust_fetcher *f, const struct store_trust_crl *c)
{
	struct tf_req *r = calloc(1, sizeof(*r));
	struct evhttp_request *req = NULL;
	const char *host, *path, *query;
	char target[STORE_TRUST_URL_MAX + 2];
	int port;

	if (r == NULL)
		return;
	r->f = f;
	snprintf(r->issuer, sizeof(r->issuer), "%s", c->issuer);
	snprintf(r->url, sizeof(r->url), "%s", c->url);
	r->number = c->number;
	if ((r->uri = evhttp_uri_parse(c->url)) == NULL ||
	    evhttp_uri_get_scheme(r->uri) == NULL ||
	    strcmp(evhttp_uri_get_scheme(r->uri), "http") != 0 ||
	    (host = evhttp_uri_get_host(r->uri)) == NULL) {
		tf_failed(r, "not an http:// URL");
		evhttp_uri_free(r->uri);
		free(r);
		return;
	}
	port = evhttp_uri_get_port(r->uri);
	path = evhttp_uri_get_path(r->uri);
	query = evhttp_uri_get_query(r->uri);
	snprintf(target, sizeof(target), "%s%s%s", path != NULL && *path ? path : "/",
		query != NULL ? "?" : "", query != NULL ? query : "");
	f->inflight++;
	r->next = f->reqs;
	f->reqs = r;
	if ((r->conn = evhttp_connection_base_new(f->base, NULL, host,
	    (ev_uint16_t)(port > 0 ? port : 80))) == NULL ||
	    (req = evhttp_request_new(tf_done, r)) == NULL) {
		tf_failed(r, "cannot create the HTTP request");
		tf_req_free_cb(-1, 0, r);
		return;
	}
	evhttp_connection_set_timeout(r->conn, 15);
	evhttp_connection_set_max_body_size(r->conn, f->max_bytes);
	evhttp_connection_set_retries(r->conn, 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Accept",
		"application/pkix-crl");
	if (evhttp_make_request(r->conn, req, EVHTTP_REQ_GET, target) != 0) {
		/* evhttp freed req; the connection is ours. */
		tf_failed(r, "cannot send the HTTP request");
		tf_req_free_cb(-1, 0, r);
	}
}

struct tf_rows {
	struct store_trust_crl row[TF_MAX_ROWS];
	size_t n;
};

static int tf_collect(const struct store_trust_crl *c, void *arg)
{
	struct tf_rows *rows = arg;

	if (rows->n == TF_MAX_ROWS)
		return 1;
	rows->row[rows->n++] = *c;
	return 0;
}

static bool tf_stale_marked(struct trust_fetcher *f, const char *issuer, bool mark,
	bool unmark)
{
	struct tf_stale **pp, *s;

	for (pp = &f->stale; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->issuer, issuer) == 0) {
			if (unmark) {
				s = *pp;
				*pp = s->next;
				free(s);
			}
			return true;
		}
	if (mark && (s = calloc(1, sizeof(*s))) != NULL) {
		snprintf(s->issuer, sizeof(s->issuer), "%s", issuer);
		s->next = f->stale;
		f->stale = s;
	}
	return false;
}

static void tf_tick(evutil_socket_t fd, short what, void *arg)
{
	struct trust_fetcher *f = arg;
	struct tf_rows *rows = calloc(1, sizeof(*rows));
	struct tw_error err;
	int64_t now_ms = tw_now_ms(), now_s = now_ms / 1000;

	(void)fd;
	(void)what;
	if (rows == NULL)
		return;
	if (store_trust_crl_foreach(f->store, tf_collect, rows, &err) != TW_OK) {
		tw_warn("trust: cannot list CRL sources: %s", err.message);
		free(rows);
		return;
	}
	for (size_t i = 0; i < rows->n; i++) {
		const struct store_trust_crl *c = &rows->row[i];
		int64_t life = c->next_update - c->this_update;
		bool due = c->fetched_ms == 0 ||
			now_ms - c->fetched_ms >= (int64_t)f->refetch_after_s * 1000 ||
			c->next_update - now_s <= life / 4;

		/* Stale: certificates of this CA are refused now; tell someone, once. */
		if (c->fetched_ms != 0 && c->next_update <= now_s) {
			if (!tf_stale_marked(f, c->issuer, true, false)) {
				char msg[1400];

				snprintf(msg, sizeof(msg), "the CRL of %s is past its nextUpdate and could "
					"not be refreshed from %s (%s): its certificates are refused",
					c->issuer, c->url, c->last_error[0] ? c->last_error : "no error yet");
				if (alert_raise(f->store, ALERT_OUTAGE, NULL, "crl", msg, &err) != TW_OK)
					tw_err("trust: cannot queue the stale-CRL alert: %s", err.message);
			}
		} else {
			(void)tf_stale_marked(f, c->issuer, false, true);
		}
		if (due && strncasecmp(c->url, "ldap://", 7) == 0)
			tf_fetch_ldap(f, c);
		else if (due && f->inflight < 16)
			tf_fetch(f, c);
	}
	free(rows);
}

/* The Root's CRL: named by the distribution point in each configured Sub-CA certificate. */
static void tf_seed(struct trust_fetcher *f, const struct tw_home *home)
{
	const char *cas = tw_config_get(home->conf, "trust", "cas");
	char *copy = cas != NULL ? strdup(cas) : NULL, *save = NULL, *tok;

	for (tok = copy != NULL ? strtok_r(copy, " \t,", &save) : NULL; tok != NULL;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *path = tok[0] == '/' ? strdup(tok) : tw_home_join(home, tok);
		FILE *fp = path != NULL ? fopen(path, "r") : NULL;
		X509 *x = fp != NULL ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
		struct tw_error err;

		if (x != NULL && trust_set_ca(f->ts, X509_get_issuer_name(x)) != NULL)
			(void)trust_check(f->store, f->ts, x, tw_now_ms() / 1000, &err);
		X509_free(x);
		if (fp != NULL)
			fclose(fp);
		free(path);
	}
	free(copy);
}

tw_rc trust_fetcher_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct trust_fetcher **out, struct tw_error *err)
{
	struct trust_fetcher *f;
	long interval = 60;
	struct timeval tv;
	tw_rc rc;

	*out = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	f->home = home;
	f->base = base;
	f->store = store;
	if ((rc = trust_set_load(home, &f->ts, err)) != TW_OK || f->ts == NULL)
		goto fail;
	if ((rc = tw_config_get_long(home->conf, "trust", "refresh_interval", 60, 1, 86400,
	    &interval, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "trust", "refetch_after", 3600, 1, 7L * 86400,
	    &f->refetch_after_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "trust", "crl_max_bytes", 16L * 1024 * 1024,
	    1024, 1024L * 1024 * 1024, &f->max_bytes, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "trust", "ldap_timeout", 10, 1, 120,
	    &f->ldap_timeout_s, err)) != TW_OK)
		goto fail;
	tv.tv_sec = interval;
	tv.tv_usec = 0;
	if ((f->timer = event_new(base, -1, EV_PERSIST, tf_tick, f)) == NULL ||
	    event_add(f->timer, &tv) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot schedule CRL fetching");
		goto fail;
	}
	tf_seed(f, home);
	tw_info("trust: CRLs of the trusted CAs fetched every %ld s (refetched after %ld s)",
		interval, f->refetch_after_s);
	tf_tick(-1, 0, f);
	*out = f;
	return TW_OK;
fail:
	trust_fetcher_stop(f);
	return rc;
}

void trust_fetcher_stop(struct trust_fetcher *f)
{
	if (f == NULL)
		return;
	if (f->timer != NULL)
		event_free(f->timer);
	/* Requests still open at shutdown: their connections go (callbacks never run). */
	while (f->reqs != NULL)
		tf_req_free_cb(-1, 0, f->reqs);
	while (f->stale != NULL) {
		struct tf_stale *s = f->stale;

		f->stale = s->next;
		free(s);
	}
	trust_set_free(f->ts);
	free(f);
}

/* ---- one synchronous GET for callers outside the worker's loop (trust_crl_refresh) ---- */

struct th_get {
	struct event_base *base;
	int code;
	size_t max;
	unsigned char *der;
	size_t len;
	bool too_large;
};

static void th_done(struct evhttp_request *req, void *arg)
{
	struct th_get *g = arg;
	struct evbuffer *body = req != NULL ? evhttp_request_get_input_buffer(req) : NULL;
	size_t len = body != NULL ? evbuffer_get_length(body) : 0;

	g->code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (g->code == 200 && len > g->max)
		g->too_large = true;
	else if (g->code == 200 && len > 0 && (g->der = malloc(len)) != NULL &&
	    evbuffer_remove(body, g->der, len) == (int)len)
		g->len = len;
	event_base_loopexit(g->base, NULL);
}

tw_rc trust_http_fetch(const char *url, long timeout_s, size_t max, unsigned char **der,
	size_t *len, struct tw_error *err)
{
	struct evhttp_uri *uri = evhttp_uri_parse(url);
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req = NULL;
	struct th_get g;
	const char *host, *path, *query;
	char target[STORE_TRUST_URL_MAX + 2];
	int port;
	tw_rc rc;

	*der = NULL;
	*len = 0;
	memset(&g, 0, sizeof(g));
	g.max = max;
	if (uri == NULL || evhttp_uri_get_scheme(uri) == NULL ||
	    strcmp(evhttp_uri_get_scheme(uri), "http") != 0 ||
	    (host = evhttp_uri_get_host(uri)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "not an http:// URL");
		goto out;
	}
	port = evhttp_uri_get_port(uri);
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	snprintf(target, sizeof(target), "%s%s%s", path != NULL && *path ? path : "/",
		query != NULL ? "?" : "", query != NULL ? query : "");
	if ((g.base = event_base_new()) == NULL ||
	    (conn = evhttp_connection_base_new(g.base, NULL, host,
	    (ev_uint16_t)(port > 0 ? port : 80))) == NULL ||
	    (req = evhttp_request_new(th_done, &g)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the HTTP request");
		goto out;
	}
	evhttp_connection_set_timeout(conn, (int)timeout_s);
	evhttp_connection_set_max_body_size(conn, (ev_ssize_t)max);
	evhttp_connection_set_retries(conn, 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Accept",
		"application/pkix-crl");
	if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, target) != 0) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "cannot send the HTTP request to %s", url);
		goto out;
	}
	event_base_dispatch(g.base);
	if (g.too_large)
		rc = tw_error_set(err, TW_E_TOO_LARGE, "the answer of %s is larger than %zu bytes",
			url, max);
	else if (g.code == 0)
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "%s: no answer (connection failed or "
			"timed out)", url);
	else if (g.code != 200)
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "%s: HTTP status %d", url, g.code);
	else if (g.der == NULL)
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "%s: empty answer", url);
	else {
		*der = g.der;
		*len = g.len;
		g.der = NULL;
		rc = TW_OK;
	}
out:
	free(g.der);
	if (conn != NULL)
		evhttp_connection_free(conn);
	if (g.base != NULL)
		event_base_free(g.base);
	if (uri != NULL)
		evhttp_uri_free(uri);
	return rc;
}
