/*
 * api_operator.h: the operator API, HTTPS with mandatory client certificates issued by
 * the operator CA ([api] tls_listen), next to api.c's plain-HTTP listener (/health,
 * /crl/...). Endpoints and their JSON are documented in docs/security.md.
 */
#ifndef TORWART_API_API_OPERATOR_H
#define TORWART_API_API_OPERATOR_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/x509_vfy.h>

#include "auth/auth.h"
#include "auth/cred.h"

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct api_operator;

/*
 * Start the HTTPS listener on base when [api] tls_listen is set; *out stays NULL (and
 * TW_OK) when it is not, so a home without an operator CA still serves /health.
 * home and store are borrowed for the listener's lifetime. Free with api_operator_free.
 */
tw_rc api_operator_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct api_operator **out, struct tw_error *err);
void api_operator_free(struct api_operator *op);

/*
 * ---- shared with the web console (api_console.c): one login, one dispatch, one policy ----
 */
struct api_login_result {
	char token[AUTH_TOKEN_LEN + 1];  /* the session token (secret: caller wipes) */
	int64_t expires_ms;
	struct auth_principal p;
};
/*
 * The login of POST /v1/login (client certificate of req's connection plus password or
 * TOTP in req's JSON body, failed-login throttle, admin log) without the answer: true
 * with *out filled; false when req was answered with the refusal (problem details).
 * Enrolment codes are refused (enrolment is `torwart operator enrol`).
 */
bool api_operator_login(struct api_operator *op, struct evhttp_request *req,
	struct api_login_result *out);
/* What a browser door adds to the SAML login (auth_saml_input, the same names). */
struct api_saml_door {
	const char *recipient;          /* the URL the assertion must name (the ACS) */
	bool (*in_response_to_ok)(void *arg, const char *in_response_to);
	void *arg;
};
/*
 * The SAML login of POST /v1/login/saml (auth/saml_login.h: the client certificate of
 * req's connection must be the NameID operator's; throttle, replay cache, admin log) for
 * an assertion the caller has already taken out of its request (xml, len bytes), for
 * context tenant; door: the console's checks, NULL for none (no Recipient checked, no
 * InResponseTo accepted). True with *out filled; false when req was answered with the
 * refusal ("login refused: saml_...: why").
 */
bool api_operator_login_saml(struct api_operator *op, struct evhttp_request *req,
	const char *tenant, const unsigned char *xml, size_t len,
	const struct api_saml_door *door, struct api_login_result *out);
/*
 * Serve req (a /v1 route) exactly as the operator listener does, the session being
 * token (checked against req's client certificate) instead of an Authorization header.
 */
void api_operator_serve(struct api_operator *op, struct evhttp_request *req,
	const char *token);
/* The operator CA and CRL every handshake verifies against (borrowed; refreshed). */
X509_STORE *api_operator_verify_store(struct api_operator *op);
/* The handshake's verify callback (a CRL past nextUpdate is still used, logged). */
int api_operator_verify_cb(int ok, X509_STORE_CTX *xs);

/* metrics_render_fn of the api (net/metrics_http.h): request and login counters. */
struct tw_buf;
tw_rc api_operator_metrics(struct tw_buf *out, void *arg, struct tw_error *err);

#endif
