/*
 * ws_outbox.c: ws_outbox.h.
 */
#include "ws/ws_outbox.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "pki/ca.h"
#include "store/store_ca.h"
#include "store/store_ws.h"
#include "ws/ws_http.h"
#include "ws/ws_soap.h"

#define OB_CERTS_MAX 3      /* TLS, SIG, ENC of one request */

struct ws_outbox {
	const struct tw_home *home;
	struct tw_store *store;
	struct event_base *base;
	struct event *timer;
	SSL_CTX *ctx;
	struct ws_schema *schema;
	char issuer[STORE_TEXT_MAX + 1];
	long backoff_s, backoff_max_s, max_attempts, timeout_s;
	bool busy;                          /* one delivery in flight */
	struct store_ws_outbox cur;         /* the entry in flight */
};

/* Write o with one admin-log entry in one transaction. */
static void ob_record(struct ws_outbox *ob, const struct store_ws_outbox *o,
	const char *action, const char *result, const char *code, const char *detail)
{
	char object[48];
	struct audit_entry e;
	struct tw_error err;

	snprintf(object, sizeof(object), "request:%lld", (long long)o->request_id);
	e = (struct audit_entry){ .actor = "system:worker", .role = "service",
		.client = "worker", .action = action, .object = object, .result = result,
		.detail = detail, .error_code = code };
	if (store_begin(ob->store, &err) != TW_OK)
		goto fail;
	if (store_ws_outbox_update(ob->store, o, &err) != TW_OK ||
	    audit_append_in_tx(ob->store, &e, &err) != TW_OK ||
	    store_commit(ob->store, &err) != TW_OK) {
		store_rollback(ob->store);
		goto fail;
	}
	return;
fail:
	tw_err("ws outbox: entry %lld not recorded (%s): %s", (long long)o->id, action,
		err.message);
}

/* waiting -> ready once the CA request is decided. */
static int ob_promote(const struct store_ws_outbox *o, void *arg)
{
	struct ws_outbox *ob = arg;
	struct store_ca_request req;
	struct store_ws_outbox u = *o;
	struct tw_error err;
	char detail[128];

	if (store_ca_request_get(ob->store, o->request_id, false, &req, &err) != TW_OK) {
		tw_warn("ws outbox: request %lld: %s", (long long)o->request_id, err.message);
		return 0;
	}
	if (strcmp(req.state, "issued") == 0)
		snprintf(u.status, sizeof(u.status), "ok_cert_available");
	else if (strcmp(req.state, "rejected") == 0)
		snprintf(u.status, sizeof(u.status), "failure_request_not_accepted");
	else {
		store_ca_request_clear(&req);
		return 0;
	}
	store_ca_request_clear(&req);
	snprintf(u.state, sizeof(u.state), "ready");
	u.next_ms = tw_now_ms();
	snprintf(detail, sizeof(detail), "participant=%s messageID=%s statusInfo=%s",
		u.participant, u.message_id, u.status);
	ob_record(ob, &u, "ws.outbox.ready", "ok", u.status, detail);
	return 0;
}

/* The due entry, if any. */
static int ob_first(const struct store_ws_outbox *o, void *arg)
{
	*(struct store_ws_outbox *)arg = *o;
	return 1;
}

/* Is peer the participant's own valid TLS certificate of this Sub-CA? */
static bool ob_peer_is(struct ws_outbox *ob, X509 *peer, const char *participant)
{
	struct store_certificate sc;
	struct tw_error err;
	char fp[65];
	bool ok;

	memset(&sc, 0, sizeof(sc));
	if (peer == NULL || keys_cert_fingerprint(peer, fp, &err) != TW_OK ||
	    store_certificate_get_by_fingerprint(ob->store, fp, &sc, &err) != TW_OK)
		return false;
	ok = strcmp(sc.usage, "TLS") == 0 && strcmp(sc.status, "valid") == 0 &&
		strcmp(sc.issuer, ob->issuer) == 0 && strcmp(sc.owner_id, participant) == 0;
	store_certificate_clear(&sc);
	return ok;
}

/* A failed attempt: back off, or give up. */
static void ob_failed(struct ws_outbox *ob, struct store_ws_outbox *o, const char *why)
{
	char detail[STORE_TEXT_MAX + 1];
	int64_t delay = ob->backoff_s * 1000;

	o->attempts++;
	for (int64_t i = 1; i < o->attempts && delay < ob->backoff_max_s * 1000; i++)
		delay *= 2;
	if (delay > ob->backoff_max_s * 1000)
		delay = ob->backoff_max_s * 1000;
	snprintf(o->last_error, sizeof(o->last_error), "%.400s", why);
	if (o->attempts >= ob->max_attempts) {
		snprintf(o->state, sizeof(o->state), "failed");
		o->done_ms = tw_now_ms();
		snprintf(detail, sizeof(detail), "attempt %lld to %s failed: %.300s; giving up "
			"(fetch with GetCertificateChain; retry with torwart ws outbox retry)",
			(long long)o->attempts, o->participant, why);
		tw_err("ws outbox: %s", detail);
	} else {
		o->next_ms = tw_now_ms() + delay;
		snprintf(detail, sizeof(detail), "attempt %lld to %s failed: %.300s; next in "
			"%lld s", (long long)o->attempts, o->participant, why,
			(long long)(delay / 1000));
		tw_warn("ws outbox: %s", detail);
	}
	ob_record(ob, o, "ws.outbox.deliver", "refused", "delivery-failed", detail);
}

static void ob_answer(const struct ws_post_result *r, void *arg)
{
	struct ws_outbox *ob = arg;
	struct store_ws_outbox o = ob->cur;
	struct ws_request a;
	struct tw_error err;
	char why[TW_ERROR_MESSAGE_MAX + 64], detail[STORE_TEXT_MAX + 1];
	const char *code;

	memset(&a, 0, sizeof(a));
	ob->busy = false;
	if (r->rc != TW_OK) {
		ob_failed(ob, &o, r->error);
		return;
	}
	if (!ob_peer_is(ob, r->peer, o.participant)) {
		ob_failed(ob, &o, "the endpoint did not present the participant's own valid TLS "
			"certificate of this Sub-CA");
		return;
	}
	if (ws_answer_parse(ob->schema, r->body, r->len, WS_OP_SEND_CERTIFICATES, &a,
		&err) != TW_OK) {
		snprintf(why, sizeof(why), "HTTP %d, no usable answer: %s", r->status, err.message);
		ob_failed(ob, &o, why);
		goto out;
	}
	code = ws_request_field(&a, "returnCode");
	if (!a.valid || code == NULL || strcmp(code, "ok_received_correctly") != 0) {
		snprintf(why, sizeof(why), "the endpoint answered %.64s%s%.200s",
			code != NULL ? code : "an invalid answer", a.valid ? "" : ": ",
			a.valid ? "" : a.message);
		ob_failed(ob, &o, why);
		goto out;
	}
	o.attempts++;
	snprintf(o.state, sizeof(o.state), "delivered");
	o.done_ms = tw_now_ms();
	o.last_error[0] = '\0';
	snprintf(detail, sizeof(detail), "delivered to %s (messageID=%s statusInfo=%s) at "
		"attempt %lld", o.participant, o.message_id, o.status, (long long)o.attempts);
	tw_info("ws outbox: %s", detail);
	ob_record(ob, &o, "ws.outbox.deliver", "ok", o.status, detail);
out:
	ws_request_clear(&a);
}

/* Build and send the SendCertificates_Req of o. */
static void ob_send(struct ws_outbox *ob, struct store_ws_outbox *o)
{
	char url[STORE_WS_URL_MAX], serials[OB_CERTS_MAX][STORE_ID_MAX + 1];
	struct store_ca_cert certs[OB_CERTS_MAX];
	struct ws_blob blobs[OB_CERTS_MAX];
	struct tw_error err;
	char *xml = NULL;
	size_t n = 0, xlen = 0, got = 0;
	tw_rc rc;

	memset(certs, 0, sizeof(certs));
	if ((rc = store_ws_endpoint_get(ob->store, o->participant, url, sizeof(url), &err)) !=
	    TW_OK) {
		ob_failed(ob, o, err.message);
		return;
	}
	if (strcmp(o->status, "ok_cert_available") == 0 &&
	    (rc = store_ws_request_serials(ob->store, ob->issuer, o->request_id, serials,
	    OB_CERTS_MAX, &n, &err)) != TW_OK) {
		ob_failed(ob, o, err.message);
		return;
	}
	for (got = 0; got < n; got++) {
		if ((rc = store_ca_cert_get(ob->store, ob->issuer, serials[got], true, &certs[got],
			&err)) != TW_OK)
			break;
		blobs[got] = (struct ws_blob){ certs[got].der, certs[got].der_len };
	}
	if (rc == TW_OK) {
		const struct ws_out_field f[] = {
			{ "messageID", o->message_id, NULL, 0 },
			{ "statusInfo", o->status, NULL, 0 },
			{ "statusInfoMessage", NULL, NULL, 0 },
			{ "certificateSeq", NULL, blobs, got },
		};

		rc = ws_message_build("SendCertificates_Req", f, 4, &xml, &xlen, &err);
	}
	if (rc == TW_OK) {
		ob->cur = *o;
		ob->busy = true;
		rc = ws_post_start(ob->base, ob->ctx, url, "SendCertificates", xml, xlen,
			ob->timeout_s, ob_answer, ob, &err);
		if (rc != TW_OK)
			ob->busy = false;
	}
	if (rc != TW_OK)
		ob_failed(ob, o, err.message);
	for (size_t i = 0; i < OB_CERTS_MAX; i++)
		store_ca_cert_clear(&certs[i]);
	free(xml);
}

static void ob_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ws_outbox *ob = arg;
	struct store_ws_outbox due;
	struct tw_error err;

	(void)fd; (void)what;
	if (ob->busy)
		return;
	if (store_ws_outbox_foreach(ob->store, "waiting", 0, 256, ob_promote, ob, &err) != TW_OK)
		tw_warn("ws outbox: %s", err.message);
	memset(&due, 0, sizeof(due));
	if (store_ws_outbox_foreach(ob->store, "ready", tw_now_ms(), 1, ob_first, &due,
		&err) != TW_OK) {
		tw_warn("ws outbox: %s", err.message);
		return;
	}
	if (due.id != 0)
		ob_send(ob, &due);
}

tw_rc ws_outbox_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct ws_outbox **out, struct tw_error *err)
{
	struct ws_outbox *ob = NULL;
	struct tls_profile_config cfg;
	struct timeval every = { 0, 0 };
	char *cert = NULL, *key = NULL, *chain = NULL, *trust = NULL, *wsdl = NULL;
	long interval;
	tw_rc rc;

	*out = NULL;
	if (tw_config_get(home->conf, "ws", "listen") == NULL)
		return TW_OK;
	if ((ob = calloc(1, sizeof(*ob))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ob->home = home;
	ob->store = store;
	ob->base = base;
	if ((rc = tw_config_get_long(home->conf, "ws", "outbox_interval", 2, 1, 3600, &interval,
	    err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "ws", "outbox_backoff", 5, 1, 86400,
	    &ob->backoff_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "ws", "outbox_backoff_max", 3600, 1, 7 * 86400,
	    &ob->backoff_max_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "ws", "outbox_max_attempts", 48, 1, 10000,
	    &ob->max_attempts, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "ws", "outbox_timeout", 30, 1, 600,
	    &ob->timeout_s, err)) != TW_OK ||
	    (rc = ca_issuer_name(home, CA_DEFAULT_NAME, ob->issuer, sizeof(ob->issuer), err)) !=
	    TW_OK)
		goto out;
	cert = tw_home_path(home, "ws", "client_cert", "pki/gwa-tls.crt");
	key = tw_home_path(home, "ws", "client_key", "pki/gwa-tls.key");
	chain = tw_home_path(home, "ws", "tls_chain", "pki/sub-ca.crt");
	trust = tw_home_path(home, "ws", "trust", "pki/chain.pem");
	wsdl = tw_home_path(home, "ws", "wsdl", "");
	if (cert == NULL || key == NULL || chain == NULL || trust == NULL || wsdl == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS,
		.chain_file = chain, .trust_file = trust };
	if ((rc = tls_client_ctx_new(&cfg, &ob->ctx, err)) != TW_OK)
		goto out;
	ws_xml_init();
	if (tw_config_get(home->conf, "ws", "wsdl") != NULL &&
	    (rc = ws_schema_load(wsdl, &ob->schema, err)) != TW_OK)
		goto out;
	every.tv_sec = interval;
	if ((ob->timer = event_new(base, -1, EV_PERSIST, ob_tick, ob)) == NULL ||
	    event_add(ob->timer, &every) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot set up the outbox timer");
		goto out;
	}
	tw_info("ws outbox: delivering SendCertificates callbacks every %ld s", interval);
	*out = ob;
	ob = NULL;
out:
	ws_outbox_stop(ob);
	free(cert);
	free(key);
	free(chain);
	free(trust);
	free(wsdl);
	return rc;
}

void ws_outbox_stop(struct ws_outbox *ob)
{
	if (ob == NULL)
		return;
	if (ob->timer != NULL)
		event_free(ob->timer);
	SSL_CTX_free(ob->ctx);
	ws_schema_free(ob->schema);
	free(ob);
}
