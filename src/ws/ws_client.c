/*
 * ws_client.c: ws_client.h. Messages are built and answers parsed by ws_soap.c (libxml2;
 * answers checked against the WSDL's schema when [ws] wsdl is set), the transport is
 * ws_http.c.
 */
#include "ws/ws_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "store/store_ws.h"
#include "ws/ws_http.h"

#define WS_CLIENT_CERT_MAX (64 * 1024)

struct ws_remote {
	char name[64];
	char *url;
	SSL_CTX *ctx;
	X509 *peer_pin;            /* peer_cert, NULL when not configured */
	struct ws_schema *schema;  /* NULL without [ws] wsdl */
	long timeout_s;
};

static X509 *ws_read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

tw_rc ws_remote_open(const struct tw_home *home, const char *name, struct ws_remote **out,
	struct tw_error *err)
{
	struct ws_remote *r = NULL;
	char section[96], *cert = NULL, *key = NULL, *trust = NULL, *pin = NULL, *wsdl = NULL;
	const char *url;
	struct tls_profile_config cfg;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (name == NULL || *name == '\0' || strlen(name) >= 64 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
	    strlen(name))
		return tw_error_set(err, TW_E_INVALID, "a remote Sub-CA name is 1..63 letters, "
			"digits, _ or -");
	snprintf(section, sizeof(section), "ws.remote.%s", name);
	if ((url = tw_config_get(home->conf, section, "url")) == NULL)
		return tw_error_set(err, TW_E_CONFIG, "no remote Sub-CA '%s': set [%s] url, cert, "
			"key and trust (docs/pki-services.md)", name, section);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	snprintf(r->name, sizeof(r->name), "%s", name);
	if ((rc = tw_config_get_long(home->conf, section, "timeout", 30, 1, 600, &r->timeout_s,
		err)) != TW_OK)
		goto out;
	r->url = tw_strdup(url);
	cert = tw_home_path(home, section, "cert", "pki/gwa-tls.crt");
	key = tw_home_path(home, section, "key", "pki/gwa-tls.key");
	trust = tw_home_path(home, section, "trust", "pki/chain.pem");
	if (r->url == NULL || cert == NULL || key == NULL || trust == NULL ||
	    tls_signer_key_use_home(home, err) != TW_OK) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS,
		.trust_file = trust };
	if ((rc = tls_client_ctx_new(&cfg, &r->ctx, err)) != TW_OK)
		goto out;
	if (tw_config_get(home->conf, section, "peer_cert") != NULL) {
		pin = tw_home_path(home, section, "peer_cert", "");
		if (pin == NULL || (r->peer_pin = ws_read_cert(pin)) == NULL) {
			rc = tw_error_set(err, TW_E_CONFIG, "[%s] peer_cert: cannot read a PEM "
				"certificate", section);
			goto out;
		}
	}
	if (tw_config_get(home->conf, "ws", "wsdl") != NULL) {
		ws_xml_init();
		wsdl = tw_home_path(home, "ws", "wsdl", "");
		if (wsdl == NULL || (rc = ws_schema_load(wsdl, &r->schema, err)) != TW_OK) {
			if (rc == TW_OK)
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = r;
	r = NULL;
out:
	ws_remote_close(r);
	free(cert);
	free(key);
	free(trust);
	free(pin);
	free(wsdl);
	return rc;
}

void ws_remote_close(struct ws_remote *r)
{
	if (r == NULL)
		return;
	free(r->url);
	SSL_CTX_free(r->ctx);
	X509_free(r->peer_pin);
	ws_schema_free(r->schema);
	free(r);
}

void ws_client_result_clear(struct ws_client_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->n_certs; i++)
		free(res->certs[i]);
	memset(res, 0, sizeof(*res));
}

/* The answer's returnCode, message and certificates into res. */
static tw_rc ws_client_fill(const struct ws_request *a, const char *code_field,
	const char *message_field, struct ws_client_result *res, struct tw_error *err)
{
	const char *code = ws_request_field(a, code_field);
	const char *msg = ws_request_field(a, message_field);
	tw_rc rc;

	if (!a->valid)
		return tw_error_set(err, TW_E_PROTOCOL, "the remote's answer is not valid per the "
			"WSDL: %s", a->message);
	if (code == NULL || pki_result_parse(code, &res->code, err) != TW_OK)
		return tw_error_set(err, TW_E_PROTOCOL, "the remote's answer has no known %s",
			code_field);
	snprintf(res->message, sizeof(res->message), "%s", msg != NULL ? msg : "");
	for (size_t i = 0; i < a->n_certs; i++) {
		if ((rc = ws_base64_decode(a->certs[i], WS_CLIENT_CERT_MAX, &res->certs[i],
			&res->cert_len[i], err)) != TW_OK)
			return rc;
		res->n_certs++;
	}
	return TW_OK;
}

/* POST, check the server is the pinned certificate (when pinned), parse the answer. */
static tw_rc ws_client_call(struct ws_remote *r, enum ws_op op, const char *xml, size_t len,
	struct ws_request *answer, struct tw_error *err)
{
	char *body = NULL;
	size_t blen = 0;
	int status = 0;
	X509 *peer = NULL;
	tw_rc rc;

	memset(answer, 0, sizeof(*answer));
	rc = ws_post_sync(r->ctx, r->url, ws_op_name(op), xml, len, r->timeout_s, &body, &blen,
		&status, &peer, err);
	if (rc != TW_OK)
		return rc;
	if (r->peer_pin != NULL && (peer == NULL || X509_cmp(peer, r->peer_pin) != 0)) {
		rc = tw_error_set(err, TW_E_TLS, "remote Sub-CA '%s' presented another TLS "
			"certificate than its peer_cert", r->name);
		goto out;
	}
	rc = ws_answer_parse(r->schema, body, blen, op, answer, err);
	if (rc == TW_OK && status != 200)
		rc = tw_error_set(err, TW_E_PROTOCOL, "HTTP status %d with an answer", status);
out:
	X509_free(peer);
	free(body);
	return rc;
}

tw_rc ws_client_request(struct ws_remote *r, struct tw_store *store, const unsigned char *der,
	size_t len, bool callback_possible, struct ws_client_result *res, struct tw_error *err)
{
	unsigned char rnd[12];
	char *b64 = NULL, *xml = NULL;
	size_t xlen = 0;
	struct ws_request a;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&a, 0, sizeof(a));
	if (len == 0 || len > WS_CLIENT_CERT_MAX)
		return tw_error_set(err, TW_E_INVALID, "the request is empty or over %d bytes",
			WS_CLIENT_CERT_MAX);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return tw_error_set(err, TW_E_CRYPTO, "no random bytes for a messageID");
	snprintf(res->message_id, sizeof(res->message_id), "tw-");
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(res->message_id + 3 + 2 * i, 3, "%02x", rnd[i]);
	if ((b64 = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	{
		const struct ws_out_field f[] = {
			{ "callbackIndicator", callback_possible ? "callback_possible" :
				"callback_not_possible", NULL, 0 },
			{ "messageID", res->message_id, NULL, 0 },
			{ "certReq", b64, NULL, 0 },
		};

		rc = ws_message_build("RequestCertificate_Req", f, 3, &xml, &xlen, err);
	}
	free(b64);
	if (rc != TW_OK)
		return rc;
	/* Recorded before sending: a callback may arrive before the answer is read. */
	if (callback_possible && (rc = store_ws_client_insert(store, res->message_id, r->name,
		tw_now_ms(), err)) != TW_OK)
		goto out;
	if ((rc = ws_client_call(r, WS_OP_REQUEST_CERTIFICATE, xml, xlen, &a, err)) != TW_OK ||
	    (rc = ws_client_fill(&a, "returnCode", "returnCodeMessage", res, err)) != TW_OK)
		goto out;
	res->pending = res->code == PKI_OK_SYNTAX;
	if (callback_possible && !res->pending) {
		struct tw_error e2;

		/* Answered at once: the handle is closed (nothing more will come). */
		if (store_ws_client_finish(store, res->message_id, pki_result_is_ok(res->code) ?
			"received" : "failed", pki_result_name(res->code), NULL, 0, tw_now_ms(),
			&e2) != TW_OK)
			tw_warn("ws client: %s", e2.message);
	}
out:
	if (rc != TW_OK) {
		char keep[STORE_ID_MAX + 1];

		snprintf(keep, sizeof(keep), "%s", res->message_id);
		ws_client_result_clear(res);
		snprintf(res->message_id, sizeof(res->message_id), "%s", keep);
	}
	ws_request_clear(&a);
	free(xml);
	return rc;
}

tw_rc ws_client_poll(struct tw_store *store, const char *message_id,
	struct ws_client_result *res, struct tw_error *err)
{
	struct store_ws_client_request row;
	const unsigned char *p, *end;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	if ((rc = store_ws_client_get(store, message_id, &row, err)) != TW_OK)
		return rc;
	snprintf(res->message_id, sizeof(res->message_id), "%s", message_id);
	if (strcmp(row.state, "pending") == 0) {
		res->pending = true;
		res->code = PKI_OK_SYNTAX;
		goto out;
	}
	struct tw_error e2;

	if (pki_result_parse(row.status, &res->code, &e2) != TW_OK)
		res->code = PKI_FAILURE_OTHER_ERROR;
	p = row.certs;
	end = row.certs + row.certs_len;
	while (p != NULL && p < end && res->n_certs < WS_CERTS_MAX) {
		const unsigned char *start = p;
		X509 *x = d2i_X509(NULL, &p, (long)(end - p));

		if (x == NULL) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "stored certificates of %s do not "
				"decode", message_id);
			break;
		}
		X509_free(x);
		if ((res->certs[res->n_certs] = malloc((size_t)(p - start))) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
		memcpy(res->certs[res->n_certs], start, (size_t)(p - start));
		res->cert_len[res->n_certs++] = (size_t)(p - start);
	}
out:
	store_ws_client_request_clear(&row);
	if (rc != TW_OK)
		ws_client_result_clear(res);
	return rc;
}

tw_rc ws_client_status(struct ws_remote *r, struct ws_client_result *res,
	struct tw_error *err)
{
	const struct ws_out_field f[] = { { "messageID", "tw-status", NULL, 0 } };
	struct ws_request a;
	char *xml = NULL;
	size_t xlen = 0;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&a, 0, sizeof(a));
	if ((rc = ws_message_build("GetServiceStatus_Req", f, 1, &xml, &xlen, err)) == TW_OK &&
	    (rc = ws_client_call(r, WS_OP_GET_SERVICE_STATUS, xml, xlen, &a, err)) == TW_OK)
		rc = ws_client_fill(&a, "returnCode", "returnCodeMessage", res, err);
	ws_request_clear(&a);
	free(xml);
	return rc;
}

const char *ws_remote_of_peer(const struct tw_home *home, X509 *peer, char *name,
	size_t size)
{
	const char *list = tw_config_get(home->conf, "ws", "remotes");
	char buf[512], *save = NULL, *tok;

	if (list == NULL || peer == NULL || strlen(list) >= sizeof(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
		char section[96], *path;
		X509 *pin;
		bool same;

		snprintf(section, sizeof(section), "ws.remote.%.60s", tok);
		if (tw_config_get(home->conf, section, "peer_cert") == NULL ||
		    (path = tw_home_path(home, section, "peer_cert", "")) == NULL)
			continue;
		pin = ws_read_cert(path);
		free(path);
		same = pin != NULL && X509_cmp(pin, peer) == 0;
		X509_free(pin);
		if (same) {
			snprintf(name, size, "%s", tok);
			return name;
		}
	}
	return NULL;
}
