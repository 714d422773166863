/*
 * ws.c: the BSI Sub-CA web service listener and its operations (ws.h). The envelope is
 * ws_soap.c's; issuance is the CA engine's (pki/ca.h, the same path as `torwart ca
 * issue`); this file authenticates, dispatches, answers and writes the admin log.
 *
 * Answers: a usable envelope always gets the operation's _Res with one of the WSDL's
 * return codes (HTTP 200); anything that is not a usable envelope of this service gets
 * a SOAP 1.1 fault (HTTP 500 per the SOAP 1.1 HTTP binding; 403 without an identified
 * caller, 405 for a method other than POST).
 *
 * The CA engine runs synchronously inside the event loop: one RequestCertificate holds
 * the api for one signer round trip (milliseconds). The asynchronous path (outbox,
 * SendCertificates callbacks) is not built yet; see docs/pki-services.md.
 */
#include "ws/ws.h"
#include "ws/ws_client.h"
#include "ws/ws_note.h"
#include "ws/ws_signed.h"
#include "ws/ws_soap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "net/conn_guard.h"
#include "pki/ca.h"
#include "pki/request.h"
#include "pki/trust.h"
#include "store/store_ca.h"
#include "store/store_ws.h"

#define WS_CERT_MAX    (64 * 1024)     /* a decoded certReq; requests are far smaller */
#define WS_CHAIN_MAX   4               /* CA certificates sent after the leaf */
/*
 * [ws] connection limits (conn_guard.h). SM-PKI participants are a few hundred
 * organisations that connect per request; 32 per source leaves room for a participant's
 * parallel clients behind one NAT address.
 */
#define WS_DEFAULT_MAX_CONNS   512
#define WS_DEFAULT_PER_SOURCE  32

struct ws_service {
	const struct tw_home *home;
	struct tw_store *store;
	SSL_CTX *ssl_ctx;
	struct evhttp *http;
	struct conn_guard *guard;             /* caps and hard deadlines of [ws] listen */
	struct ws_schema *schema;
	struct signer_client *signer;         /* connected on first use, dropped on failure */
	char *signer_path;
	char issuer[STORE_TEXT_MAX + 1];      /* this Sub-CA's subject (rows' issuer) */
	unsigned char *chain_der[WS_CHAIN_MAX];   /* [ws] chain: Sub-CA, Root (DER) */
	size_t chain_len[WS_CHAIN_MAX];
	size_t n_chain;
	bool manual;                          /* [ws] approval = manual: RA approves first */
	struct trust_set *trust;              /* [trust]: other Sub-CAs' participants */
};

/* Who is calling: filled from the TLS client certificate. */
struct ws_call {
	struct ws_service *ws;
	struct evhttp_request *req;
	bool identified;
	char fingerprint[65];
	char client[STORE_NAME_MAX + 1];
	char actor[STORE_NAME_MAX + 1];       /* "participant:<name>" or "tls:<fp>" */
	struct store_ca_participant part;
	char remote[64];                      /* a remote Sub-CA calling SendCertificates */
	bool foreign;                         /* a participant of another Sub-CA (trust.h) */
	char refused[TW_ERROR_MESSAGE_MAX];   /* why its certificate was refused, if so */
	const char *op_name;                  /* for the log: the WSDL operation or "soap" */
};

static void ws_audit(struct ws_call *c, const char *object, const char *result,
	const char *code, const char *detail)
{
	char action[64];
	struct audit_entry e;
	struct tw_error err;
	char text[STORE_TEXT_MAX + 1];

	snprintf(action, sizeof(action), "ws.%s", c->op_name != NULL ? c->op_name : "soap");
	snprintf(text, sizeof(text), "%s", detail != NULL ? detail : "");
	e = (struct audit_entry){
		.actor = c->actor, .role = c->identified ? c->part.role : c->foreign ? "sm-pki" :
			"unknown",
		.client = c->client, .action = action, .object = object, .result = result,
		.detail = text, .error_code = code,
	};
	if (audit_append(c->ws->store, &e, &err) != TW_OK)
		tw_err("ws: admin-log entry for %s not written: %s", action, err.message);
}

static void ws_send(struct evhttp_request *req, int code, const char *xml, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	const char *reason = code == 200 ? "OK" : code == 403 ? "Forbidden" : code == 405 ?
		"Method Not Allowed" : "Internal Server Error";

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"text/xml; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && xml != NULL)
		evbuffer_add(out, xml, len);
	evhttp_send_reply(req, code, reason, out);
	if (out != NULL)
		evbuffer_free(out);
}

/* A SOAP fault, logged as refused. */
static void ws_fault(struct ws_call *c, int http, bool client, const char *why)
{
	struct tw_error err;
	char *xml = NULL;
	size_t len = 0;

	tw_warn("ws: %s from %s (%s): fault: %s", c->op_name != NULL ? c->op_name : "request",
		c->actor, c->client, why);
	ws_audit(c, c->identified ? c->part.name : c->fingerprint, "refused",
		client ? "soap-client-fault" : "soap-server-fault", why);
	if (ws_fault_build(client, why, &xml, &len, &err) != TW_OK) {
		evhttp_send_error(c->req, 500, NULL);
		return;
	}
	ws_send(c->req, http, xml, len);
	free(xml);
}

/* The operation's _Res with code (and certificates), logged with detail. */
static void ws_answer_logged(struct ws_call *c, enum ws_op op, enum pki_result code,
	const char *message, const struct ws_blob *certs, size_t n, const char *object,
	const char *detail)
{
	struct tw_error err;
	char *xml = NULL;
	size_t len = 0;

	if (!ws_op_allows(op, code)) {
		/* An engine code the operation's enumeration lacks: the generic one. */
		tw_warn("ws: %s cannot answer %s; answering failure_other_error", ws_op_name(op),
			pki_result_name(code));
		code = PKI_FAILURE_OTHER_ERROR;
		n = 0;
	}
	ws_audit(c, object, pki_result_is_ok(code) ? "ok" : "refused", pki_result_name(code),
		detail);
	if (ws_response_build(op, code, message, certs, n, &xml, &len, &err) != TW_OK) {
		tw_err("ws: cannot build the %s answer: %s", ws_op_name(op), err.message);
		ws_fault(c, 500, false, "internal error");
		return;
	}
	ws_send(c->req, 200, xml, len);
	free(xml);
}

/* The same, logged with the answer's message. */
static void ws_answer(struct ws_call *c, enum ws_op op, enum pki_result code,
	const char *message, const struct ws_blob *certs, size_t n, const char *object)
{
	ws_answer_logged(c, op, code, message, certs, n, object, message);
}

/* ---- the caller ---- */

/*
 * The registered participant whose valid TLS certificate (of this Sub-CA) peer is;
 * fingerprint (65 bytes) is filled whenever peer has one. False for anyone else.
 */
static bool ws_peer_participant(struct ws_service *ws, X509 *peer, char *fingerprint,
	struct store_ca_participant *part)
{
	struct store_certificate sc;
	struct tw_error err;
	bool ok = false;
	tw_rc rc;

	memset(&sc, 0, sizeof(sc));
	fingerprint[0] = '\0';
	if (peer == NULL || keys_cert_fingerprint(peer, fingerprint, &err) != TW_OK)
		return false;
	rc = store_certificate_get_by_fingerprint(ws->store, fingerprint, &sc, &err);
	if (rc != TW_OK) {
		if (rc != TW_E_NOT_FOUND)
			tw_err("ws: certificate lookup failed: %s", err.message);
		goto out;
	}
	/* A participant's own, valid TLS certificate; SIG/ENC certificates never log in. */
	if (strcmp(sc.usage, "TLS") != 0 || strcmp(sc.status, "valid") != 0 ||
	    strcmp(sc.issuer, ws->issuer) != 0)
		goto out;
	if (store_ca_participant_get(ws->store, sc.owner_id, part, &err) != TW_OK ||
	    strcmp(part->role, sc.owner_kind) != 0)
		goto out;
	ok = true;
out:
	store_certificate_clear(&sc);
	return ok;
}

/*
 * A participant of another Sub-CA of the SM-PKI ([trust], pki/trust.h): accepted for the
 * public operations (GetServiceStatus, GetCertificateChain) while its issuer's current
 * CRL does not list it; a revoked, unknown-issuer or stale-CRL certificate is refused
 * (c->refused says why, the fault at ws_request logs it).
 */
static void ws_identify_foreign(struct ws_call *c, X509 *peer)
{
	struct trust_participant tp;
	struct tw_error err;
	tw_rc rc;

	rc = trust_check_participant(c->ws->store, c->ws->trust, peer, NULL,
		tw_now_ms() / 1000, &tp, &err);
	if (rc == TW_OK) {
		snprintf(c->actor, sizeof(c->actor), "sm-pki:%.40s/%.60s", tp.ca, tp.cn);
		c->foreign = true;
	} else if (rc != TW_E_NOT_FOUND) {
		snprintf(c->refused, sizeof(c->refused), "certificate of another Sub-CA refused: "
			"%.200s", err.message);
	}
}

/* A remote Sub-CA's pinned certificate from a CA of [trust]: its CRL must also agree. */
static void ws_identify_remote_ca(struct ws_call *c, X509 *peer)
{
	struct tw_error err;

	if (c->ws->trust == NULL || trust_set_ca(c->ws->trust, X509_get_issuer_name(peer)) ==
	    NULL || trust_check(c->ws->store, c->ws->trust, peer, tw_now_ms() / 1000, &err) ==
	    TW_OK)
		return;
	snprintf(c->refused, sizeof(c->refused), "the remote Sub-CA's certificate is refused: "
		"%.200s", err.message);
	c->remote[0] = '\0';
}

static void ws_identify(struct ws_call *c)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(c->client, sizeof(c->client), "%s:%u", addr != NULL ? addr : "?",
		(unsigned)port);
	snprintf(c->actor, sizeof(c->actor), "tls:unknown");
	if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	if (!ws_peer_participant(c->ws, peer, c->fingerprint, &c->part)) {
		if (c->fingerprint[0] != '\0')
			snprintf(c->actor, sizeof(c->actor), "tls:%.16s", c->fingerprint);
		/* A remote Sub-CA this home is a participant of (ws_client.h), pinned. */
		if (ws_remote_of_peer(c->ws->home, peer, c->remote, sizeof(c->remote)) != NULL) {
			snprintf(c->actor, sizeof(c->actor), "remote-ca:%s", c->remote);
			ws_identify_remote_ca(c, peer);
		} else {
			ws_identify_foreign(c, peer);
		}
		return;
	}
	snprintf(c->actor, sizeof(c->actor), "participant:%s", c->part.name);
	c->identified = true;
}

/* ---- operations ---- */

/*
 * A child's text, "" when absent. The schema makes every required child present before
 * an operation runs; this keeps a schema that says otherwise from becoming a crash.
 */
static const char *ws_field(const struct ws_request *r, const char *name)
{
	const char *v = ws_request_field(r, name);

	return v != NULL ? v : "";
}

static tw_rc ws_signer(struct ws_service *ws, struct tw_error *err)
{
	if (ws->signer != NULL)
		return TW_OK;
	/* Never a private signer child inside the api: the running signer or nothing. */
	return signer_client_connect(ws->signer_path, &ws->signer, err);
}

/*
 * The first gateway certificates a GWA obtains over the web service make it the
 * gateway's administrator (ws_device_admin); from then on only that GWA may request or
 * revoke the gateway's certificates until UpdateDeviceAdmin hands it over.
 */
static void ws_record_admin(struct ws_call *c, const struct store_ca_cert *cert)
{
	char admin[STORE_ID_MAX + 1];
	struct tw_error err;
	tw_rc rc;

	if (strcmp(cert->owner_kind, "smgw") != 0 || strcmp(c->part.role, "gwa") != 0)
		return;
	rc = store_ws_device_admin_get(c->ws->store, cert->owner_id, admin, sizeof(admin), &err);
	if (rc == TW_E_NOT_FOUND)
		rc = store_ws_device_admin_set(c->ws->store, cert->owner_id, NULL, c->part.name,
			tw_now_ms(), c->actor, &err);
	if (rc != TW_OK)
		tw_err("ws: administrator of %s not recorded: %s", cert->owner_id, err.message);
}

/*
 * [ws] approval = manual: the RA approves every request first (`torwart ca approve`,
 * `torwart ca issue --id`), so nothing is ready synchronously. With callback_possible
 * and a registered endpoint the request is queued (ca_submit_bound, the same checks as
 * issuance) with an outbox entry, answered ok_syntax, and the worker delivers the
 * certificates to the participant's SendCertificates endpoint once issued (ws_outbox.c).
 */
static void ws_request_async(struct ws_call *c, const struct ws_request *r,
	const unsigned char *der, size_t len)
{
	const enum ws_op op = WS_OP_REQUEST_CERTIFICATE;
	struct ws_service *ws = c->ws;
	struct ca_actor who = { .actor = c->actor, .role = c->part.role, .client = c->client };
	enum pki_result result = PKI_FAILURE_INTERNAL_ERROR;
	struct tw_error err;
	const char *mid = ws_request_field(r, "messageID");
	char url[STORE_WS_URL_MAX], message_id[STORE_ID_MAX + 1], object[64], msg[256];
	int64_t id = 0;
	tw_rc rc;

	if (strcmp(ws_field(r, "callbackIndicator"), "callback_possible") != 0) {
		ws_answer(c, op, PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE, "this Sub-CA's "
			"RA approves every request first: send callback_possible (with a registered "
			"SendCertificates endpoint); nothing was stored", NULL, 0, c->part.name);
		return;
	}
	rc = store_ws_endpoint_get(ws->store, c->part.name, url, sizeof(url), &err);
	if (rc != TW_OK) {
		ws_answer(c, op, rc == TW_E_NOT_FOUND ?
			PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE : PKI_FAILURE_INTERNAL_ERROR,
			rc == TW_E_NOT_FOUND ? "no SendCertificates endpoint is registered for this "
			"participant (RA: torwart ws endpoint set); nothing was stored" :
			"internal error", NULL, 0, c->part.name);
		return;
	}
	if (mid != NULL && (strlen(mid) == 0 || strlen(mid) > STORE_ID_MAX)) {
		ws_answer(c, op, PKI_FAILURE_SYNTAX, "messageID is 1..64 characters", NULL, 0,
			c->part.name);
		return;
	}
	rc = ca_submit_bound(ws->home, ws->store, &who, c->part.name, der, len, &id, &result,
		&err);
	if (rc != TW_OK) {
		if (result == PKI_FAILURE_INTERNAL_ERROR)
			tw_err("ws: submission for %s failed: %s", c->part.name, err.message);
		ws_answer(c, op, result, result == PKI_FAILURE_INTERNAL_ERROR ? "internal error; "
			"nothing was stored" : err.message, NULL, 0, c->part.name);
		return;
	}
	if (mid != NULL)
		snprintf(message_id, sizeof(message_id), "%s", mid);
	else
		snprintf(message_id, sizeof(message_id), "torwart-request-%lld", (long long)id);
	snprintf(object, sizeof(object), "request:%lld", (long long)id);
	if (store_ws_outbox_insert(ws->store, id, c->part.name, message_id, tw_now_ms(),
		&err) != TW_OK) {
		tw_err("ws: request %lld queued but no outbox entry: %s", (long long)id,
			err.message);
		ws_answer(c, op, PKI_FAILURE_INTERNAL_ERROR, "the request is queued for the RA "
			"but no callback could be scheduled; fetch the certificates with "
			"GetCertificateChain after issuance", NULL, 0, object);
		return;
	}
	snprintf(msg, sizeof(msg), "accepted as request %lld; it waits for RA approval, the "
		"certificates follow via SendCertificates with messageID %s", (long long)id,
		message_id);
	ws_answer(c, op, PKI_OK_SYNTAX, msg, NULL, 0, object);
}

static void ws_request_certificate(struct ws_call *c, const struct ws_request *r)
{
	struct ws_service *ws = c->ws;
	struct ca_actor who = { .actor = c->actor, .role = c->part.role, .client = c->client };
	struct ca_issue_outcome o;
	struct store_ca_cert certs[3];
	struct ws_blob blobs[3];
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0, n = 0;
	char object[64];
	tw_rc rc;

	memset(certs, 0, sizeof(certs));
	memset(&o, 0, sizeof(o));
	if ((rc = ws_base64_decode(ws_field(r, "certReq"), WS_CERT_MAX, &der, &len,
		&err)) != TW_OK) {
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, PKI_FAILURE_SYNTAX, err.message, NULL, 0,
			c->part.name);
		return;
	}
	if (ws->manual) {
		ws_request_async(c, r, der, len);
		goto out;
	}
	if ((rc = ws_signer(ws, &err)) != TW_OK) {
		tw_err("ws: signer unavailable: %s", err.message);
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, PKI_FAILURE_INTERNAL_ERROR,
			"the CA's signer is not available; try again later", NULL, 0, c->part.name);
		goto out;
	}
	signer_client_set_actor(ws->signer, c->actor, c->part.role);
	rc = ca_issue_buffer(ws->home, ws->store, ws->signer, &who, c->part.name, der, len, &o,
		&err);
	if (rc != TW_OK) {
		/* The machinery failed (signer, store): reconnect next time. */
		tw_err("ws: issuance for %s failed: %s", c->part.name, err.message);
		signer_client_close(ws->signer);
		ws->signer = NULL;
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, PKI_FAILURE_INTERNAL_ERROR,
			"internal error; nothing was issued", NULL, 0, c->part.name);
		goto out;
	}
	if (o.rc != TW_OK) {
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, o.result, o.message, NULL, 0, c->part.name);
		goto out;
	}
	for (n = 0; n < o.n_certs && n < 3; n++) {
		if ((rc = store_ca_cert_get(ws->store, ws->issuer, o.serials[n], true, &certs[n],
			&err)) != TW_OK) {
			tw_err("ws: issued certificate %s not readable: %s", o.serials[n], err.message);
			break;
		}
		blobs[n] = (struct ws_blob){ certs[n].der, certs[n].der_len };
	}
	snprintf(object, sizeof(object), "request:%lld", (long long)o.request_id);
	if (rc == TW_OK && n > 0)
		ws_record_admin(c, &certs[0]);
	if (rc != TW_OK)
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, PKI_FAILURE_INTERNAL_ERROR,
			"issued, but the certificates cannot be read back; fetch them with "
			"GetCertificateChain", NULL, 0, object);
	else
		ws_answer(c, WS_OP_REQUEST_CERTIFICATE, PKI_OK_CERT_AVAILABLE, NULL, blobs, n,
			object);
out:
	for (size_t i = 0; i < 3; i++)
		store_ca_cert_clear(&certs[i]);
	free(der);
}

/*
 * certReference names a certificate of this Sub-CA by its serial number (hex, any case,
 * colons allowed). The answer is that certificate followed by the CA chain ([ws] chain:
 * Sub-CA, Root). Certificates are public in the SM-PKI, so any participant may ask.
 */
static void ws_get_certificate_chain(struct ws_call *c, const struct ws_request *r)
{
	struct ws_service *ws = c->ws;
	struct store_ca_cert cert;
	struct ws_blob blobs[1 + WS_CHAIN_MAX];
	struct tw_error err;
	char serial[STORE_ID_MAX + 1], object[STORE_ID_MAX + 16];
	tw_rc rc;

	memset(&cert, 0, sizeof(cert));
	if (ca_serial_normalise(ws_field(r, "certReference"), serial, sizeof(serial),
		&err) != TW_OK) {
		ws_answer(c, WS_OP_GET_CERTIFICATE_CHAIN, PKI_FAILURE_SYNTAX, "certReference is "
			"the serial number (hex) of a certificate of this Sub-CA", NULL, 0,
			c->part.name);
		return;
	}
	snprintf(object, sizeof(object), "serial:%s", serial);
	rc = store_ca_cert_get(ws->store, ws->issuer, serial, true, &cert, &err);
	if (rc == TW_E_NOT_FOUND)
		ws_answer(c, WS_OP_GET_CERTIFICATE_CHAIN, PKI_FAILURE_CERT_NOT_AVAILABLE,
			"no certificate with this serial number from this Sub-CA", NULL, 0, object);
	else if (rc != TW_OK) {
		tw_err("ws: certificate lookup failed: %s", err.message);
		ws_answer(c, WS_OP_GET_CERTIFICATE_CHAIN, PKI_FAILURE_INTERNAL_ERROR,
			"internal error", NULL, 0, object);
	} else {
		blobs[0] = (struct ws_blob){ cert.der, cert.der_len };
		for (size_t i = 0; i < ws->n_chain; i++)
			blobs[1 + i] = (struct ws_blob){ ws->chain_der[i], ws->chain_len[i] };
		char msg[160], when[40];

		/* The validity check (pre-personalisation phase 2, S-7) rides on the message. */
		if (strcmp(cert.status, "valid") != 0) {
			tw_time_format_utc(cert.revoked_ms, when, sizeof(when));
			snprintf(msg, sizeof(msg), "the certificate is revoked since %s (%s)", when,
				ca_reason_name(cert.revocation_reason));
		} else if (cert.not_after * 1000 < tw_now_ms()) {
			tw_time_format_utc(cert.not_after * 1000, when, sizeof(when));
			snprintf(msg, sizeof(msg), "the certificate is expired since %s", when);
		} else {
			tw_time_format_utc(cert.not_after * 1000, when, sizeof(when));
			snprintf(msg, sizeof(msg), "valid until %s (not revoked)", when);
		}
		ws_answer(c, WS_OP_GET_CERTIFICATE_CHAIN, PKI_OK_CERT_AVAILABLE, msg,
			blobs, 1 + ws->n_chain, object);
	}
	store_ca_cert_clear(&cert);
}

static void ws_get_service_status(struct ws_call *c)
{
	struct tw_error err;
	int version = 0;

	if (store_schema_version(c->ws->store, &version, &err) != TW_OK)
		ws_answer(c, WS_OP_GET_SERVICE_STATUS, PKI_FAILURE_INTERNAL_ERROR,
			"the CA's store is not available", NULL, 0, "service");
	else
		ws_answer(c, WS_OP_GET_SERVICE_STATUS, PKI_OK_RECEIVED_CORRECTLY,
			"Torwart Sub-CA web service available", NULL, 0, "service");
}

static bool ws_may_manage(struct ws_call *c, const char *kind, const char *owner);

/*
 * The electronic delivery note (ws_note.h) of the certificate whose serial is the body,
 * for the participant that owns it (or administers its gateway): returnCodeMessage is
 * the note, base64 DER CMS. GeneralMessage_Res has only failure_syntax,
 * failure_other_error and failure_internal_error.
 */
static void ws_delivery_note(struct ws_call *c, const struct ws_request *r)
{
	const enum ws_op op = WS_OP_GENERAL_MESSAGE;
	struct ws_service *ws = c->ws;
	struct tw_error err;
	char serial[STORE_ID_MAX + 1], object[STORE_ID_MAX + 16], kind[16];
	char owner[STORE_ID_MAX + 1], detail[96];
	char *json = NULL, *b64 = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	tw_rc rc;

	if (ca_serial_normalise(ws_field(r, "body"), serial, sizeof(serial), &err) != TW_OK) {
		ws_answer(c, op, PKI_FAILURE_SYNTAX, "a DeliveryNote message's body is the serial "
			"number (hex) of a certificate of this Sub-CA", NULL, 0, c->part.name);
		return;
	}
	snprintf(object, sizeof(object), "serial:%s", serial);
	rc = ws_note_content(ws->store, ws->issuer, serial, &json, kind, owner, &err);
	if (rc == TW_OK && !ws_may_manage(c, kind, owner)) {
		ws_answer(c, op, PKI_FAILURE_OTHER_ERROR, "the certificate belongs to another "
			"participant: a delivery note goes to the certificate's owner (or its "
			"gateway's administrator)", NULL, 0, object);
		goto out;
	}
	if (rc != TW_OK) {
		if (rc != TW_E_NOT_FOUND)
			tw_err("ws: delivery note for %s: %s", serial, err.message);
		ws_answer(c, op, rc == TW_E_NOT_FOUND ? PKI_FAILURE_OTHER_ERROR :
			PKI_FAILURE_INTERNAL_ERROR, rc == TW_E_NOT_FOUND ? "no certificate with this "
			"serial number from this Sub-CA" : "internal error", NULL, 0, object);
		goto out;
	}
	if ((rc = ws_signer(ws, &err)) == TW_OK) {
		signer_client_set_actor(ws->signer, c->actor, c->part.role);
		rc = ws_note_sign(ws->home, ws->signer, json, &der, &len, &err);
	}
	if (rc != TW_OK || (b64 = ws_note_base64(der, len)) == NULL) {
		tw_err("ws: delivery note for %s not signed: %s", serial, rc != TW_OK ?
			err.message : "out of memory");
		signer_client_close(ws->signer);
		ws->signer = NULL;
		ws_answer(c, op, PKI_FAILURE_INTERNAL_ERROR, "the delivery note cannot be signed "
			"now; try again later", NULL, 0, object);
		goto out;
	}
	snprintf(detail, sizeof(detail), "delivery note, %zu bytes CMS", len);
	ws_answer_logged(c, op, PKI_OK_RECEIVED_CORRECTLY, b64, NULL, 0, object, detail);
out:
	free(json);
	free(b64);
	OPENSSL_free(der);
}

/* A message to the CA's operators: recorded in the admin log (subject and body). */
static void ws_general_message(struct ws_call *c, const struct ws_request *r)
{
	const char *caller = ws_field(r, "callerID");
	char detail[STORE_TEXT_MAX + 1];

	if (strcmp(caller, c->part.name) != 0 && strcmp(caller, c->part.market_partner_id) != 0) {
		/* GeneralMessage_Res has no authorisation code: the generic failure. */
		ws_answer(c, WS_OP_GENERAL_MESSAGE, PKI_FAILURE_OTHER_ERROR, "callerID is not the "
			"participant of the TLS certificate (its name or market partner id)", NULL, 0,
			c->part.name);
		return;
	}
	if (strcmp(ws_field(r, "subject"), WS_NOTE_SUBJECT) == 0) {
		ws_delivery_note(c, r);          /* the certificate information service (S-6) */
		return;
	}
	snprintf(detail, sizeof(detail), "messageID=%.64s subject=%.200s body=%.600s",
		ws_field(r, "messageID"), ws_field(r, "subject"),
		ws_field(r, "body"));
	ws_answer_logged(c, WS_OP_GENERAL_MESSAGE, PKI_OK_RECEIVED_CORRECTLY, NULL, NULL, 0,
		c->part.name, detail);
}

/*
 * A signed request's signer: a SIG certificate of this Sub-CA, status valid, owned by
 * the calling participant (the same participant as the TLS certificate). why says
 * what is wrong otherwise.
 */
static bool ws_signed_by_caller(struct ws_call *c, X509 *signer, const char **why)
{
	struct store_certificate sc;
	struct tw_error err;
	char fp[65];
	bool ok = false;

	memset(&sc, 0, sizeof(sc));
	*why = "the request is not signed with a SIG certificate of this Sub-CA";
	if (keys_cert_fingerprint(signer, fp, &err) != TW_OK ||
	    store_certificate_get_by_fingerprint(c->ws->store, fp, &sc, &err) != TW_OK)
		goto out;
	if (strcmp(sc.usage, "SIG") != 0 || strcmp(sc.issuer, c->ws->issuer) != 0)
		goto out;
	*why = "the request's SIG certificate is revoked";
	if (strcmp(sc.status, "valid") != 0)
		goto out;
	*why = "the request is signed by another participant than the TLS client";
	if (strcmp(sc.owner_id, c->part.name) != 0 || strcmp(sc.owner_kind, c->part.role) != 0)
		goto out;
	ok = true;
out:
	store_certificate_clear(&sc);
	return ok;
}

/*
 * Decode field (base64), open its CMS SignedData and check the signer is the caller.
 * On false the answer has been sent (op's codes: failure_syntax for bytes that are not
 * a signed request, failure_incorrect_request for a signature that does not verify,
 * failure_request_not_accepted for a signer that is not the caller).
 */
static bool ws_open_signed(struct ws_call *c, enum ws_op op, const char *field,
	unsigned char **content, size_t *clen)
{
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *signer = NULL;
	const char *why;
	tw_rc rc;
	bool ok = false;

	if (ws_base64_decode(field, WS_SIGNED_MAX, &der, &len, &err) != TW_OK) {
		ws_answer(c, op, PKI_FAILURE_SYNTAX, err.message, NULL, 0, c->part.name);
		goto out;
	}
	if ((rc = ws_signed_open(der, len, content, clen, &signer, &err)) != TW_OK) {
		ws_answer(c, op, rc == TW_E_CRYPTO ? PKI_FAILURE_INCORRECT_REQUEST :
			rc == TW_E_NOMEM ? PKI_FAILURE_INTERNAL_ERROR : PKI_FAILURE_SYNTAX,
			err.message, NULL, 0, c->part.name);
		goto out;
	}
	if (!ws_signed_by_caller(c, signer, &why)) {
		ws_answer(c, op, PKI_FAILURE_REQUEST_NOT_ACCEPTED, why, NULL, 0, c->part.name);
		free(*content);
		*content = NULL;
		goto out;
	}
	ok = true;
out:
	X509_free(signer);
	free(der);
	return ok;
}

/* May the caller act on a certificate owned by (kind, owner)? Its own, or its gateway's. */
static bool ws_may_manage(struct ws_call *c, const char *kind, const char *owner)
{
	char admin[STORE_ID_MAX + 1];
	struct tw_error err;

	if (strcmp(owner, c->part.name) == 0 && strcmp(kind, c->part.role) == 0)
		return true;
	return strcmp(kind, "smgw") == 0 && strcmp(c->part.role, "gwa") == 0 &&
		store_ws_device_admin_get(c->ws->store, owner, admin, sizeof(admin), &err) ==
		TW_OK && strcmp(admin, c->part.name) == 0;
}

/*
 * CertificateRevocationRequest: a signed TorwartRevocationRequest (ws_signed.h) of the
 * caller, for one of its own certificates or one of a gateway it administers, through
 * ca_revoke (the path of `torwart ca revoke`). The WSDL gives this operation no
 * authorisation code: a certificate of another participant is
 * failure_request_not_accepted. The CRL is marked dirty in the same transaction; the
 * worker regenerates it (docs/pki-services.md).
 */
static void ws_revocation(struct ws_call *c, const struct ws_request *r)
{
	const enum ws_op op = WS_OP_CERTIFICATE_REVOCATION_REQUEST;
	struct ws_service *ws = c->ws;
	struct ca_actor who = { .actor = c->actor, .role = c->part.role, .client = c->client };
	struct store_ca_cert cert;
	struct tw_error err;
	unsigned char *content = NULL;
	size_t clen = 0;
	char raw[WS_SERIAL_MAX + 1], serial[STORE_ID_MAX + 1], object[STORE_ID_MAX + 16];
	int reason = -1;
	bool changed = false;
	tw_rc rc;

	memset(&cert, 0, sizeof(cert));
	if (!ws_open_signed(c, op, ws_field(r, "certRevReq"), &content, &clen))
		return;
	if (ws_revreq_decode(content, clen, raw, &reason, &err) != TW_OK ||
	    ca_serial_normalise(raw, serial, sizeof(serial), &err) != TW_OK) {
		ws_answer(c, op, PKI_FAILURE_SYNTAX, err.message, NULL, 0, c->part.name);
		goto out;
	}
	snprintf(object, sizeof(object), "serial:%s", serial);
	rc = store_ca_cert_get(ws->store, ws->issuer, serial, false, &cert, &err);
	if (rc != TW_OK) {
		ws_answer(c, op, rc == TW_E_NOT_FOUND ? PKI_FAILURE_INCORRECT_REQUEST :
			PKI_FAILURE_INTERNAL_ERROR, rc == TW_E_NOT_FOUND ? "this Sub-CA issued no "
			"certificate with this serial number" : "internal error", NULL, 0, object);
		goto out;
	}
	if (!ws_may_manage(c, cert.owner_kind, cert.owner_id)) {
		ws_answer(c, op, PKI_FAILURE_REQUEST_NOT_ACCEPTED, "the certificate belongs to "
			"another participant: a participant revokes its own certificates and those "
			"of the gateways it administers", NULL, 0, object);
		goto out;
	}
	if (ca_revoke(ws->home, ws->store, &who, CA_DEFAULT_NAME, serial, reason, &changed,
		&err) != TW_OK) {
		tw_err("ws: revocation of %s failed: %s", serial, err.message);
		ws_answer(c, op, PKI_FAILURE_INTERNAL_ERROR, "internal error; nothing was revoked",
			NULL, 0, object);
		goto out;
	}
	ws_answer(c, op, PKI_OK_RECEIVED_CORRECTLY, changed ? "revoked; the CRL is "
		"regenerated by the CA's worker" : "the certificate was already revoked; "
		"unchanged", NULL, 0, object);
out:
	store_ca_cert_clear(&cert);
	free(content);
}

/* A GWA participant by name or market partner id. */
struct ws_find_gwa {
	const char *key;
	struct store_ca_participant found;
	int n;
};

static int ws_find_gwa_cb(const struct store_ca_participant *p, void *arg)
{
	struct ws_find_gwa *f = arg;

	if (strcmp(p->role, "gwa") == 0 && (strcmp(p->name, f->key) == 0 ||
	    strcmp(p->market_partner_id, f->key) == 0)) {
		f->found = *p;
		f->n++;
	}
	return 0;
}

/*
 * UpdateDeviceAdmin: the gateway's current administering GWA hands it over to another
 * registered GWA, with a signed TorwartDeviceAdminUpdate (ws_signed.h). From then on
 * the new GWA alone requests and revokes the gateway's certificates over the web service.
 */
static void ws_update_device_admin(struct ws_call *c, const struct ws_request *r)
{
	const enum ws_op op = WS_OP_UPDATE_DEVICE_ADMIN;
	struct ws_service *ws = c->ws;
	struct store_ca_participant dev;
	struct ws_find_gwa f;
	struct tw_error err;
	unsigned char *content = NULL;
	size_t clen = 0;
	char device[WS_NAME_MAX + 1], admin[WS_NAME_MAX + 1], cur[STORE_ID_MAX + 1];
	char object[WS_NAME_MAX + 16], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	memset(&f, 0, sizeof(f));
	if (!ws_open_signed(c, op, ws_field(r, "updDevAdminReq"), &content, &clen))
		return;
	if (ws_devadmin_decode(content, clen, device, admin, &err) != TW_OK) {
		ws_answer(c, op, PKI_FAILURE_SYNTAX, err.message, NULL, 0, c->part.name);
		goto out;
	}
	snprintf(object, sizeof(object), "device:%s", device);
	if (strcmp(c->part.role, "gwa") != 0) {
		ws_answer(c, op, PKI_FAILURE_REQUEST_NOT_ACCEPTED, "only a GWA administers "
			"gateways", NULL, 0, object);
		goto out;
	}
	rc = store_ca_participant_get(ws->store, device, &dev, &err);
	if (rc != TW_OK || strcmp(dev.role, "smgw") != 0) {
		ws_answer(c, op, rc == TW_OK || rc == TW_E_NOT_FOUND ?
			PKI_FAILURE_INCORRECT_REQUEST : PKI_FAILURE_INTERNAL_ERROR,
			"device is not a gateway registered with this Sub-CA", NULL, 0, object);
		goto out;
	}
	f.key = admin;
	if ((rc = store_ca_participant_foreach(ws->store, ws_find_gwa_cb, &f, &err)) != TW_OK ||
	    f.n != 1) {
		ws_answer(c, op, rc != TW_OK ? PKI_FAILURE_INTERNAL_ERROR :
			PKI_FAILURE_INCORRECT_REQUEST, "newAdmin is not exactly one GWA registered "
			"with this Sub-CA (participant name or market partner id)", NULL, 0, object);
		goto out;
	}
	rc = store_ws_device_admin_get(ws->store, device, cur, sizeof(cur), &err);
	if (rc != TW_OK || strcmp(cur, c->part.name) != 0) {
		ws_answer(c, op, rc == TW_OK || rc == TW_E_NOT_FOUND ?
			PKI_FAILURE_REQUEST_NOT_ACCEPTED : PKI_FAILURE_INTERNAL_ERROR,
			"the caller is not the gateway's administering GWA", NULL, 0, object);
		goto out;
	}
	if (strcmp(f.found.name, cur) == 0) {
		ws_answer(c, op, PKI_OK_RECEIVED_CORRECTLY, "the GWA already administers the "
			"gateway; unchanged", NULL, 0, object);
		goto out;
	}
	rc = store_ws_device_admin_set(ws->store, device, cur, f.found.name, tw_now_ms(),
		c->actor, &err);
	if (rc != TW_OK) {
		ws_answer(c, op, rc == TW_E_EXISTS ? PKI_FAILURE_REQUEST_NOT_ACCEPTED :
			PKI_FAILURE_INTERNAL_ERROR, rc == TW_E_EXISTS ? err.message :
			"internal error; nothing was changed", NULL, 0, object);
		goto out;
	}
	snprintf(detail, sizeof(detail), "administrator %s -> %s", cur, f.found.name);
	ws_answer_logged(c, op, PKI_OK_RECEIVED_CORRECTLY, NULL, NULL, 0, object, detail);
out:
	free(content);
}

/*
 * SendCertificates from a remote Sub-CA this home is a participant of (ws_client.h):
 * the asynchronous answer to a request sent with callback_possible. The messageID must
 * be one of ours sent to that remote and still pending; the certificates are stored
 * for ws_client_poll (`torwart ws poll`). A duplicate delivery (the CA retried after a
 * lost answer) is acknowledged again without change.
 */
static void ws_send_certificates(struct ws_call *c, const struct ws_request *r)
{
	const enum ws_op op = WS_OP_SEND_CERTIFICATES;
	struct ws_service *ws = c->ws;
	struct store_ws_client_request row;
	struct tw_error err;
	const char *mid = ws_request_field(r, "messageID");
	const char *status = ws_field(r, "statusInfo");
	unsigned char *all = NULL;
	size_t all_len = 0;
	char object[STORE_ID_MAX + 16];
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	if (c->remote[0] == '\0') {
		/* A participant of this Sub-CA: the CA's callback never goes this way. */
		ws_answer(c, op, PKI_FAILURE_MESSAGEID_UNKNOWN, "this Sub-CA has no outstanding "
			"asynchronous request of yours; SendCertificates is the participant's "
			"endpoint", NULL, 0, c->part.name);
		return;
	}
	if (mid == NULL || strlen(mid) > STORE_ID_MAX) {
		ws_answer(c, op, PKI_FAILURE_MESSAGEID_UNKNOWN, "no or an overlong messageID",
			NULL, 0, c->remote);
		return;
	}
	snprintf(object, sizeof(object), "message:%s", mid);
	rc = store_ws_client_get(ws->store, mid, &row, &err);
	if (rc != TW_OK || strcmp(row.remote, c->remote) != 0) {
		/* Another remote's messageID is as unknown as one never sent. */
		ws_answer(c, op, rc == TW_OK || rc == TW_E_NOT_FOUND ?
			PKI_FAILURE_MESSAGEID_UNKNOWN : PKI_FAILURE_INTERNAL_ERROR,
			"no request with this messageID was sent to this Sub-CA", NULL, 0, object);
		goto out;
	}
	if (strcmp(row.state, "pending") != 0) {
		ws_answer(c, op, PKI_OK_RECEIVED_CORRECTLY, "received before; unchanged", NULL, 0,
			object);
		goto out;
	}
	for (size_t i = 0; i < r->n_certs; i++) {
		unsigned char *der = NULL, *grown;
		size_t len = 0;
		const unsigned char *p;
		X509 *x;

		if (ws_base64_decode(r->certs[i], WS_CERT_MAX, &der, &len, &err) != TW_OK) {
			ws_answer(c, op, PKI_FAILURE_SYNTAX, err.message, NULL, 0, object);
			goto out;
		}
		p = der;
		x = d2i_X509(NULL, &p, (long)len);
		X509_free(x);
		if (x == NULL || p != der + len) {
			free(der);
			ERR_clear_error();
			ws_answer(c, op, PKI_FAILURE_SYNTAX, "a certificate is not one DER X.509 "
				"certificate", NULL, 0, object);
			goto out;
		}
		if ((grown = realloc(all, all_len + len)) == NULL) {
			free(der);
			ws_answer(c, op, PKI_FAILURE_INTERNAL_ERROR, "out of memory", NULL, 0, object);
			goto out;
		}
		all = grown;
		memcpy(all + all_len, der, len);
		all_len += len;
		free(der);
	}
	rc = store_ws_client_finish(ws->store, mid, strcmp(status, "ok_cert_available") == 0 ?
		"received" : "failed", status, all, all_len, tw_now_ms(), &err);
	if (rc == TW_E_EXISTS)
		ws_answer(c, op, PKI_OK_RECEIVED_CORRECTLY, "received before; unchanged", NULL, 0,
			object);
	else if (rc != TW_OK)
		ws_answer(c, op, PKI_FAILURE_INTERNAL_ERROR, "internal error", NULL, 0, object);
	else {
		char detail[128];

		snprintf(detail, sizeof(detail), "statusInfo=%.48s certificates=%zu", status,
			r->n_certs);
		ws_answer_logged(c, op, PKI_OK_RECEIVED_CORRECTLY, NULL, NULL, 0, object, detail);
	}
out:
	store_ws_client_request_clear(&row);
	free(all);
}

static void ws_dispatch(struct ws_call *c, const struct ws_request *r)
{
	switch (r->op) {
	case WS_OP_GET_SERVICE_STATUS:
		ws_get_service_status(c);
		break;
	case WS_OP_REQUEST_CERTIFICATE:
		ws_request_certificate(c, r);
		break;
	case WS_OP_GET_CERTIFICATE_CHAIN:
		ws_get_certificate_chain(c, r);
		break;
	case WS_OP_GENERAL_MESSAGE:
		ws_general_message(c, r);
		break;
	case WS_OP_SEND_CERTIFICATES:
		ws_send_certificates(c, r);
		break;
	case WS_OP_CERTIFICATE_REVOCATION_REQUEST:
		ws_revocation(c, r);
		break;
	case WS_OP_UPDATE_DEVICE_ADMIN:
		ws_update_device_admin(c, r);
		break;
	default:
		ws_answer(c, r->op, PKI_FAILURE_OTHER_ERROR, "operation not supported by this "
			"Sub-CA yet (see docs/pki-services.md); nothing was changed", NULL, 0,
			c->part.name);
		break;
	}
}

/* SOAPAction, when given and not empty, must name the operation ("X" or X). */
static bool ws_action_matches(const char *h, enum ws_op op)
{
	const char *name = ws_op_name(op);
	size_t n;

	if (h == NULL)
		return true;
	n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	return n == 0 || (n == strlen(name) && strncmp(h, name, n) == 0);
}

static void ws_request(struct evhttp_request *req, void *arg)
{
	struct ws_call c = { .ws = arg, .req = req };
	struct evkeyvalq *hdr = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ctype = evhttp_find_header(hdr, "Content-Type");
	size_t len = in != NULL ? evbuffer_get_length(in) : 0;
	struct ws_request r;
	struct tw_error err;
	char *body = NULL, why[TW_ERROR_MESSAGE_MAX + 32];
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	conn_guard_request_dispatched(req);     /* read completely: its hard deadline ends */
	ws_identify(&c);
	if (!c.identified && c.remote[0] == '\0' && !c.foreign) {
		ws_fault(&c, 403, true, c.refused[0] != '\0' ? c.refused : "the TLS client "
			"certificate is not a valid TLS certificate of a registered participant of "
			"this Sub-CA");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		ws_fault(&c, 405, true, "SOAP requests are HTTP POST");
		return;
	}
	if (len > WS_BODY_MAX) {
		snprintf(why, sizeof(why), "SOAP message over %d bytes", WS_BODY_MAX);
		ws_fault(&c, 500, true, why);
		return;
	}
	if (ctype == NULL || strncasecmp(ctype, "text/xml", 8) != 0) {
		ws_fault(&c, 500, true, "SOAP 1.1 requests are Content-Type text/xml");
		return;
	}
	if ((body = malloc(len + 1)) == NULL ||
	    (len > 0 && evbuffer_copyout(in, body, len) != (ev_ssize_t)len)) {
		free(body);
		ws_fault(&c, 500, false, "cannot read the request");
		return;
	}
	body[len] = '\0';
	rc = ws_envelope_parse(c.ws->schema, body, len, &r, &err);
	free(body);
	if (rc != TW_OK) {
		ws_fault(&c, 500, rc != TW_E_NOMEM, err.message);
		goto out;
	}
	c.op_name = ws_op_name(r.op);
	if (c.foreign && r.op != WS_OP_GET_SERVICE_STATUS &&
	    r.op != WS_OP_GET_CERTIFICATE_CHAIN) {
		/* Other operations act for a participant registered with this Sub-CA. */
		ws_fault(&c, 403, true, "a participant of another Sub-CA may call GetServiceStatus "
			"and GetCertificateChain here; register with this Sub-CA for the others");
		goto out;
	}
	if (!c.identified && !c.foreign && r.op != WS_OP_SEND_CERTIFICATES) {
		/* A remote Sub-CA calls this home's endpoint for its callbacks only. */
		ws_fault(&c, 403, true, "a remote Sub-CA may only call SendCertificates here");
		goto out;
	}
	if (!ws_action_matches(evhttp_find_header(hdr, "SOAPAction"), r.op)) {
		ws_fault(&c, 500, true, "SOAPAction does not name the operation of the Body");
		goto out;
	}
	if (!r.valid) {
		ws_answer(&c, r.op, PKI_FAILURE_SYNTAX, r.message, NULL, 0, c.part.name);
		goto out;
	}
	ws_dispatch(&c, &r);
out:
	ws_request_clear(&r);
}

/*
 * A completed handshake with a verified certificate that is a registered participant's
 * valid TLS certificate: that connection is never shed for an unauthenticated newcomer.
 * A verified certificate of anyone else (a gateway's, a revoked one) stays sheddable
 * and is refused with a fault at its first request.
 */
static void ws_info_cb(const SSL *ssl, int where, int ret)
{
	struct ws_service *ws = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct store_ca_participant part;
	char fingerprint[65];

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE) || ws == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return;
	if (ws_peer_participant(ws, SSL_get0_peer_certificate(ssl), fingerprint, &part))
		conn_guard_authenticated(ssl);
}

static struct bufferevent *ws_bevcb(struct event_base *base, void *arg)
{
	struct ws_service *ws = arg;
	SSL *ssl = SSL_new(ws->ssl_ctx);

	if (ssl != NULL)
		SSL_set_info_callback(ssl, ws_info_cb);
	/* A plain bufferevent on failure: ws_request refuses non-TLS. */
	return conn_guard_tls_bev(ws->guard, base, ssl, NULL, NULL, "ws");
}

/* [ws] chain: the CA certificates sent after a leaf, as DER. */
static tw_rc ws_load_chain(struct ws_service *ws, const char *path, struct tw_error *err)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	tw_rc rc = TW_OK;

	if (f == NULL)
		return tw_error_set(err, TW_E_CONFIG, "[ws] chain = %s: cannot open (%s)", path,
			strerror(errno));
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		unsigned char *der = NULL;
		int n = i2d_X509(x, &der);

		X509_free(x);
		if (n <= 0 || ws->n_chain == WS_CHAIN_MAX) {
			OPENSSL_free(der);
			rc = tw_error_set(err, TW_E_CONFIG, "[ws] chain = %s: more than %d "
				"certificates or one that does not encode", path, WS_CHAIN_MAX);
			break;
		}
		ws->chain_der[ws->n_chain] = der;
		ws->chain_len[ws->n_chain++] = (size_t)n;
	}
	ERR_clear_error();   /* PEM_read_X509's end-of-file */
	fclose(f);
	if (rc == TW_OK && ws->n_chain == 0)
		rc = tw_error_set(err, TW_E_CONFIG, "[ws] chain = %s holds no certificate", path);
	return rc;
}

tw_rc ws_service_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct ws_service **out, struct tw_error *err)
{
	const char *listen = tw_config_get(home->conf, "ws", "listen");
	const char *wsdl = tw_config_get(home->conf, "ws", "wsdl");
	struct tls_profile_config cfg;
	struct conn_guard_limits lim;
	struct ws_service *ws = NULL;
	char *cert = NULL, *key = NULL, *tls_chain = NULL, *trust = NULL, *chain = NULL;
	char *wsdl_path = NULL, *host = NULL;
	uint16_t port = 0;
	tw_rc rc;

	*out = NULL;
	if (listen == NULL) {
		tw_info("SM-PKI web service off: set [ws] listen and [ws] wsdl (see "
			"docs/pki-services.md)");
		return TW_OK;
	}
	if (wsdl == NULL)
		return tw_error_set(err, TW_E_CONFIG, "[ws] listen is set but [ws] wsdl is not: "
			"the service validates every message against the TR-03129-4 WSDL's schema "
			"and does not run without it (see docs/pki-services.md)");
	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ws->home = home;
	ws->store = store;
	ws_xml_init();
	wsdl_path = tw_home_path(home, "ws", "wsdl", wsdl);
	cert = tw_home_path(home, "ws", "cert", "pki/gwa-tls.crt");
	key = tw_home_path(home, "ws", "key", "pki/gwa-tls.key");
	tls_chain = tw_home_path(home, "ws", "tls_chain", "pki/sub-ca.crt");
	trust = tw_home_path(home, "ws", "trust", "pki/chain.pem");
	chain = tw_home_path(home, "ws", "chain", "pki/chain.pem");
	ws->signer_path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	if (wsdl_path == NULL || cert == NULL || key == NULL || tls_chain == NULL ||
	    trust == NULL || chain == NULL || ws->signer_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	{
		const char *approval = tw_config_get_or(home->conf, "ws", "approval", "auto");

		if (strcmp(approval, "auto") != 0 && strcmp(approval, "manual") != 0) {
			rc = tw_error_set(err, TW_E_CONFIG, "[ws] approval = %s: use auto (issue "
				"at once) or manual (the RA approves first; answers come via the "
				"outbox)", approval);
			goto out;
		}
		ws->manual = strcmp(approval, "manual") == 0;
	}
	if ((rc = ws_schema_load(wsdl_path, &ws->schema, err)) != TW_OK ||
	    (rc = tw_parse_hostport(listen, &host, &port, err)) != TW_OK ||
	    (rc = ca_issuer_name(home, CA_DEFAULT_NAME, ws->issuer, sizeof(ws->issuer), err)) !=
	    TW_OK || (rc = ws_load_chain(ws, chain, err)) != TW_OK ||
	    (rc = trust_set_load(home, &ws->trust, err)) != TW_OK)
		goto out;
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS,
		.chain_file = tls_chain, .trust_file = trust };
	if ((rc = tls_server_ctx_new(&cfg, &ws->ssl_ctx, err)) != TW_OK)
		goto out;
	SSL_CTX_set_app_data(ws->ssl_ctx, ws);     /* for ws_info_cb */
	/*
	 * [ws] max_connections, max_connections_per_source, handshake_timeout,
	 * request_timeout: the same guard as the wan and the operator api (issue 9). The
	 * reserve covers the api's other two listeners and its store and signer sockets.
	 */
	if ((rc = conn_guard_limits_load(home->conf, "ws", "", WS_DEFAULT_MAX_CONNS,
	    WS_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK)
		goto out;
	conn_guard_fit_nofile("ws", 1024, &lim);
	if ((rc = conn_guard_new("ws", &lim, &ws->guard, err)) != TW_OK)
		goto out;
	if ((ws->http = evhttp_new(base)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the HTTPS server");
		goto out;
	}
	evhttp_set_max_headers_size(ws->http, 16 * 1024);
	/* Twice the limit: up to there the answer is a logged fault, beyond it evhttp's 413. */
	evhttp_set_max_body_size(ws->http, 2 * WS_BODY_MAX);
	/* Idle time between requests; the guard's deadlines bound handshakes and requests. */
	evhttp_set_timeout(ws->http, 30);
	evhttp_set_allowed_methods(ws->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_bevcb(ws->http, ws_bevcb, ws);
	evhttp_set_gencb(ws->http, ws_request, ws);
	if (evhttp_bind_socket(ws->http, host, port) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s:%u (in use? see [ws] listen)",
			host, port);
		goto out;
	}
	tw_info("SM-PKI web service (TR-03129-4, SOAP over mutual TLS) listening on %s:%u",
		host, port);
	*out = ws;
	ws = NULL;
out:
	ws_service_free(ws);
	free(wsdl_path);
	free(cert);
	free(key);
	free(tls_chain);
	free(trust);
	free(chain);
	free(host);
	return rc;
}

void ws_service_free(struct ws_service *ws)
{
	if (ws == NULL)
		return;
	if (ws->http != NULL)
		evhttp_free(ws->http);
	conn_guard_free(ws->guard);   /* connections still alive hold their own reference */
	SSL_CTX_free(ws->ssl_ctx);
	ws_schema_free(ws->schema);
	signer_client_close(ws->signer);
	for (size_t i = 0; i < ws->n_chain; i++)
		OPENSSL_free(ws->chain_der[i]);
	free(ws->signer_path);
	trust_set_free(ws->trust);
	free(ws);
}
