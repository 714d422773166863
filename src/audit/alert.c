/*
 * alert.c: raising alerts (queue row + admin-log entry, one transaction) and delivering
 * them to the role's webhook with libevent's HTTP client over TLS (bufferevent_openssl),
 * so no second HTTP stack is needed. One request at a time keeps the worker simple and
 * the order of alerts intact.
 *
 * Queue drain: a tick reads the due alerts in batches; each answered request starts the
 * next at once, and so does a failed one (it waits for its back-off, the others do not
 * wait for it). An alert for a role without a webhook cannot be delivered by retrying:
 * it is set aside (next_ms = ALERT_SET_ASIDE_MS (alert.h), last_error "undeliverable: no webhook
 * for role R", one warning) instead of coming back every back-off and holding up the
 * alerts that can go out. It stays in the queue, undelivered, never deleted: when the
 * worker starts again (after a webhook was configured) the set-aside alerts are due
 * again and go out, or are set aside once more.
 */
#include "audit/alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include <curl/curl.h>

#include "audit/alert_mail.h"
#include "audit/audit.h"
#include "audit/ship.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_auditlog.h"

#define ALERT_TIMEOUT_S 10
#define ALERT_BACKOFF_MAX_S 300
#define ALERT_BATCH 32                 /* rows read per look at the queue */
#define ALERT_BATCH_ROUNDS 16          /* looks per tick: the event loop must go on */
#define ALERT_MAILS_PER_TICK 16        /* mails sent (blocking) per tick at most */
/*
 * last_error of an alert whose mail went out but whose webhook did not: the retry posts
 * the webhook only, so the recipients do not get the mail twice.
 */
#define ALERT_MAILED "mailed; "

static const struct {
	const char *name;
	const char *role;
	const char *severity;
} alert_kinds[] = {
	[ALERT_LOGIN_BURST] = { "login-burst", "security-officer", "critical" },
	[ALERT_LOG_INTEGRITY] = { "log-integrity", "security-officer", "critical" },
	[ALERT_KEY_ACCESS] = { "key-access", "security-officer", "critical" },
	[ALERT_BREAK_GLASS] = { "break-glass", "security-officer", "critical" },
	[ALERT_OUTAGE] = { "outage", "system-administrator", "error" },
	[ALERT_JOB_TIMEOUT] = { "job-timeout", "gateway-operator", "warning" },
	[ALERT_POLICY_DRIFT] = { "policy-drift", "security-officer", "critical" },
	[ALERT_SANDBOX] = { "sandbox-violation", "security-officer", "critical" },
	[ALERT_PROFILE_DRIFT] = { "profile-drift", "gateway-operator", "error" },
	[ALERT_RENEWAL_REFUSED] = { "renewal-refused", "security-officer", "critical" },
	[ALERT_FIRMWARE_CHECK] = { "firmware-check", "firmware-manager", "critical" },
	[ALERT_METERING_UNDELIVERED] = { "metering-undelivered", "gateway-operator", "error" },
	[ALERT_TIME] = { "time-offset", "system-administrator", "critical" },
	[ALERT_CONTEXT_CERT] = { "context-certificate", "gateway-operator", "error" },
	[ALERT_CONFIG] = { "config", "system-administrator", "error" },
	[ALERT_PARTNER_REVOKED] = { "partner-revoked", "gateway-operator", "error" },
};

#define ALERT_KIND_VALID(k) \
	((int)(k) > 0 && (size_t)(k) < sizeof(alert_kinds) / sizeof(alert_kinds[0]))

const char *alert_kind_name(enum alert_kind kind)
{
	return ALERT_KIND_VALID(kind) ? alert_kinds[kind].name : NULL;
}

const char *alert_default_role(enum alert_kind kind)
{
	return ALERT_KIND_VALID(kind) ? alert_kinds[kind].role : NULL;
}

tw_rc alert_raise(struct tw_store *store, enum alert_kind kind, const char *role,
	const char *subject, const char *message, struct tw_error *err)
{
	struct store_alert *a = NULL;
	struct audit_entry e;
	char action[STORE_ID_MAX + 8];   /* kinds are short; audit_fill refuses overflow */
	bool own_tx = false;
	tw_rc rc;

	if (!ALERT_KIND_VALID(kind)) {
		rc = tw_error_set(err, TW_E_INVALID, "unknown alert kind %d", (int)kind);
		goto out;
	}
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory raising an alert");
		goto out;
	}
	if (role == NULL)
		role = alert_kinds[kind].role;
	if ((rc = tw_strlcpy_checked(a->kind, alert_kinds[kind].name, sizeof(a->kind), err,
	    "alert kind")) != TW_OK ||
	    (rc = tw_strlcpy_checked(a->role, role, sizeof(a->role), err, "alert role")) != TW_OK ||
	    (rc = tw_strlcpy_checked(a->severity, alert_kinds[kind].severity, sizeof(a->severity),
	    err, "alert severity")) != TW_OK ||
	    (rc = tw_strlcpy_checked(a->subject, subject != NULL ? subject : "", sizeof(a->subject),
	    err, "alert subject")) != TW_OK ||
	    (rc = tw_strlcpy_checked(a->message, message != NULL ? message : "",
	    sizeof(a->message), err, "alert message")) != TW_OK)
		goto out;
	a->created_ms = tw_now_ms();
	a->next_ms = a->created_ms;
	snprintf(action, sizeof(action), "alert.%s", a->kind);
	memset(&e, 0, sizeof(e));
	e.actor = "system";
	e.role = "service";
	e.client = "local";
	e.action = action;
	e.object = a->subject;
	e.result = "alert";
	e.detail = a->message;
	e.error_code = a->role;   /* who was told; keeps the entry self-describing */
	if (!store_in_transaction(store)) {
		if ((rc = store_begin(store, err)) != TW_OK)
			goto out;
		own_tx = true;
	}
	/* No id back: the wan's database role may queue alerts but not read the queue. */
	if ((rc = store_alert_insert(store, a, NULL, err)) != TW_OK ||
	    (rc = audit_append_in_tx(store, &e, err)) != TW_OK)
		goto out;
	if (own_tx) {
		own_tx = false;
		if ((rc = store_commit(store, err)) != TW_OK)
			goto out;
	}
	tw_err("ALERT %s to role %s: %s: %s", a->kind, a->role, a->subject, a->message);
	rc = TW_OK;
out:
	if (own_tx)
		store_rollback(store);
	free(a);
	return rc;
}

/* ---- webhook delivery ---- */

struct alert_sender {
	struct event_base *base;
	struct tw_store *store;
	const struct tw_home *home;
	const struct tw_config *conf;
	bool mailed;                  /* cur's mail is out (this or an earlier attempt) */
	SSL_CTX *ctx;
	struct evhttp_connection *evcon;
	struct store_alert cur;       /* the alert in flight */
	struct store_alert *batch;    /* ALERT_BATCH rows of the queue, owned */
	bool busy;
};

static void alert_done(struct alert_sender *s, bool ok, const char *why)
{
	struct tw_error err;
	int64_t now = tw_now_ms(), attempts = s->cur.attempts + 1, delay_s;
	char marked[STORE_TEXT_MAX + 1];

	if (!ok && s->mailed) {
		snprintf(marked, sizeof(marked), "%s%s", ALERT_MAILED, why);
		why = marked;
	}
	delay_s = attempts >= 9 ? ALERT_BACKOFF_MAX_S : (INT64_C(1) << attempts);
	if (delay_s > ALERT_BACKOFF_MAX_S)
		delay_s = ALERT_BACKOFF_MAX_S;
	if (store_alert_update(s->store, s->cur.id, attempts, now + delay_s * 1000,
	    ok ? now : 0, ok ? "" : why, &err) != TW_OK)
		tw_warn("alert %lld: %s", (long long)s->cur.id, err.message);
	if (!ok)
		tw_warn("alert %lld (%s to %s) not delivered: %s; retry in %lld s",
			(long long)s->cur.id, s->cur.kind, s->cur.role, why, (long long)delay_s);
	s->busy = false;
}

static void alert_response_cb(struct evhttp_request *req, void *arg)
{
	struct alert_sender *s = arg;
	char why[64];
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (code >= 200 && code < 300) {
		alert_done(s, true, NULL);
		/* Drain a burst now instead of one alert per worker tick. */
		alert_sender_tick(s);
		return;
	}
	snprintf(why, sizeof(why), code == 0 ? "no answer (connection failed)" : "HTTP %d", code);
	alert_done(s, false, why);
	/* This one waits for its back-off; the next due alert need not. */
	alert_sender_tick(s);
}

/* The role's webhook URL: webhook.<role>, else webhook; NULL when neither is set. */
static const char *alert_url(const struct tw_config *conf, const char *role)
{
	char key[STORE_ID_MAX + 16];
	const char *url;

	snprintf(key, sizeof(key), "webhook.%s", role);
	url = tw_config_get(conf, "alert", key);
	return url != NULL ? url : tw_config_get(conf, "alert", "webhook");
}

static tw_rc alert_post(struct alert_sender *s, const char *url, struct tw_error *err)
{
	struct evhttp_uri *uri = evhttp_uri_parse(url);
	struct evhttp_request *req = NULL;
	struct bufferevent *bev = NULL;
	const char *scheme, *host, *path;
	char *body = NULL, hostport[300], time[32];
	bool tls;
	int port;
	SSL *ssl = NULL;
	tw_rc rc;

	if (uri == NULL || (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] webhook \"%.80s\" is not a URL", url);
		goto out;
	}
	tls = strcmp(scheme, "https") == 0;
	if (!tls && strcmp(scheme, "http") != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[alert] webhook must be https:// (or http:// "
			"on a trusted network)");
		goto out;
	}
	port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : (tls ? 443 : 80);
	path = evhttp_uri_get_path(uri) != NULL && evhttp_uri_get_path(uri)[0] != '\0' ?
		evhttp_uri_get_path(uri) : "/";
	tw_time_format_utc(s->cur.created_ms, time, sizeof(time));
	body = json_dumps(json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
		"source", "torwart", "id", (json_int_t)s->cur.id, "time", time,
		"kind", s->cur.kind, "role", s->cur.role, "severity", s->cur.severity,
		"subject", s->cur.subject, "message", s->cur.message), JSON_COMPACT);
	if (body == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (s->evcon != NULL)
		evhttp_connection_free(s->evcon);
	s->evcon = NULL;
	if (tls) {
		if ((ssl = SSL_new(s->ctx)) == NULL) {
			rc = tw_error_set_openssl(err, TW_E_TLS, "cannot create a TLS session");
			goto out;
		}
		audit_tls_expect_host(ssl, host);
		bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
			BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (bev == NULL) {
			SSL_free(ssl);
			rc = tw_error_set(err, TW_E_NOMEM, "cannot create a TLS connection");
			goto out;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	s->evcon = evhttp_connection_base_bufferevent_new(s->base, NULL, bev, host,
		(unsigned short)port);
	if (s->evcon == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP connection");
		goto out;
	}
	evhttp_connection_set_timeout(s->evcon, ALERT_TIMEOUT_S);
	if ((req = evhttp_request_new(alert_response_cb, s)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP request");
		goto out;
	}
	snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", hostport);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	if (evhttp_make_request(s->evcon, req, EVHTTP_REQ_POST, path) != 0) {
		/* make_request frees req on failure */
		rc = tw_error_set(err, TW_E_IO, "cannot send the webhook request");
		goto out;
	}
	s->busy = true;
	rc = TW_OK;
out:
	free(body);
	if (uri != NULL)
		evhttp_uri_free(uri);
	return rc;
}

/* No webhook for the role: retrying cannot help; set the alert aside (kept, undelivered). */
static void alert_set_aside(struct alert_sender *s, const struct store_alert *a)
{
	struct tw_error err;
	char why[STORE_ID_MAX + 48];

	snprintf(why, sizeof(why), "undeliverable: no webhook for role %s", a->role);
	if (store_alert_update(s->store, a->id, a->attempts, ALERT_SET_ASIDE_MS, 0, why,
	    &err) != TW_OK) {
		tw_warn("alert %lld: %s", (long long)a->id, err.message);
		return;
	}
	/* Once per alert, not at every worker start again. */
	if (strcmp(a->last_error, why) != 0)
		tw_warn("alert %lld (%s to %s) %s; kept in the queue: set [alert] webhook.%s "
			"(or webhook, or mail.%s) and restart the worker to deliver it",
			(long long)a->id, a->kind, a->role, why, a->role, a->role);
}

/*
 * The e-mail of s->cur when its role has recipients and it is not out yet. false when
 * it failed (the alert is then rescheduled with its back-off, the webhook not tried).
 */
static bool alert_mail_cur(struct alert_sender *s, const char *rcpts)
{
	struct tw_error err;
	char why[STORE_TEXT_MAX + 1];

	s->mailed = strncmp(s->cur.last_error, ALERT_MAILED, strlen(ALERT_MAILED)) == 0;
	if (rcpts == NULL || s->mailed)
		return true;
	if (alert_mail_send(s->home, &s->cur, rcpts, &err) != TW_OK) {
		snprintf(why, sizeof(why), "mail: %s", err.message);
		alert_done(s, false, why);
		return false;
	}
	s->mailed = true;
	tw_info("alert %lld (%s to %s) mailed", (long long)s->cur.id, s->cur.kind, s->cur.role);
	return true;
}

void alert_sender_tick(struct alert_sender *s)
{
	struct tw_error err;
	const char *url = NULL, *rcpts = NULL;
	size_t n = 0, i = 0;
	int mails = 0;

	if (s == NULL || s->busy)
		return;
next:
	url = rcpts = NULL;
	/* Set aside what has no channel until one alert can be sent (or nothing is due). */
	for (int round = 0; round < ALERT_BATCH_ROUNDS && url == NULL && rcpts == NULL;
	     round++) {
		if (store_alert_due(s->store, tw_now_ms(), s->batch, ALERT_BATCH, &n,
		    &err) != TW_OK) {
			tw_warn("alert queue: %s", err.message);
			return;
		}
		for (i = 0; i < n; i++) {
			url = alert_url(s->conf, s->batch[i].role);
			rcpts = alert_mail_rcpts(s->conf, s->batch[i].role);
			if (url != NULL || rcpts != NULL)
				break;
			alert_set_aside(s, &s->batch[i]);
		}
		if (n < ALERT_BATCH)
			break;
	}
	if (url == NULL && rcpts == NULL)
		return;
	s->cur = s->batch[i];
	/* The mail first (blocking, bounded by [alert] mail_timeout); then the webhook. */
	if (!alert_mail_cur(s, rcpts))
		return;   /* the relay is down or refuses: the rest waits for the next tick */
	if (url == NULL) {
		alert_done(s, true, NULL);
		if (++mails < ALERT_MAILS_PER_TICK)
			goto next;
		return;
	}
	if (alert_post(s, url, &err) != TW_OK)
		alert_done(s, false, err.message);
}

void alert_sender_free(struct alert_sender *s)
{
	if (s == NULL)
		return;
	if (s->evcon != NULL)
		evhttp_connection_free(s->evcon);
	SSL_CTX_free(s->ctx);
	free(s->batch);
	free(s);
}

tw_rc alert_sender_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct alert_sender **out, struct tw_error *err)
{
	struct alert_sender *s = NULL;
	char *ca = NULL;
	tw_rc rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	s->base = base;
	s->store = store;
	s->home = home;
	s->conf = home->conf;
	/* Once per process, before any other thread exists (libcurl's global state). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot initialise libcurl (alert mail)");
		goto out;
	}
	if ((s->batch = calloc(ALERT_BATCH, sizeof(*s->batch))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((s->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot create the webhook TLS context");
		goto out;
	}
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	if (tw_config_get(home->conf, "alert", "webhook_ca") != NULL) {
		ca = tw_home_path(home, "alert", "webhook_ca", "");
		if (ca == NULL || SSL_CTX_load_verify_locations(s->ctx, ca, NULL) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CONFIG, "[alert] webhook_ca %s cannot be "
				"loaded", ca != NULL ? ca : "?");
			goto out;
		}
	} else if (SSL_CTX_set_default_verify_paths(s->ctx) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot load the system trust store");
		goto out;
	}
	/* Alerts set aside by an earlier run: a webhook may have been configured since. */
	{
		int64_t again = 0;

		if ((rc = store_alert_requeue(store, ALERT_SET_ASIDE_MS, tw_now_ms(), &again,
		    err)) != TW_OK)
			goto out;
		if (again > 0)
			tw_info("alert queue: %lld alert(s) without a webhook before are due again",
				(long long)again);
	}
	*out = s;
	s = NULL;
	rc = TW_OK;
out:
	alert_sender_free(s);
	free(ca);
	return rc;
}
