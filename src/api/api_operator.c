/*
 * api_operator.c: the operator API over HTTPS with client certificates (S-10). A thin
 * adapter: it authenticates (TLS client certificate, then session token), parses the
 * request strictly (auth/request.h) and calls the auth service layer, which checks the
 * role, tenant and four-eyes policy and writes the admin log. No SQL here.
 */
#include "api/api_operator.h"
#include "api/api_command.h"
#include "api/api_preauth.h"
#include "api/api_resource.h"
#include "api/api_throttle.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "auth/command.h"
#include "auth/opca.h"
#include "auth/policy_admin.h"
#include "auth/request.h"
#include "auth/saml_login.h"
#include "auth/service.h"
#include "auth/session.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "crypto/secretbox.h"
#include "net/conn_guard.h"

/* [api] defaults (docs/operations.md, "Connection limits"). */
#define AO_DEFAULT_MAX_CONNS       1024
#define AO_DEFAULT_PER_SOURCE      32
#define AO_DEFAULT_PREAUTH_BODY    (16 * 1024)
#define AO_DEFAULT_UPLOAD_TIMEOUT  300
#define AO_DEFAULT_THROTTLE_SIZE   4096
/* How often a new connection may look at the operator CRL file for a change. */
#define AO_CRL_CHECK_MS            1000

struct api_operator {
	const struct tw_home *home;
	struct tw_store *store;
	struct auth_settings settings;
	SSL_CTX *ssl_ctx;
	struct evhttp *http;
	struct secretbox *box;    /* the home's data key: sealed TOTP keys (auth/cred.h) */
	struct api_commands *commands;   /* POST /v1/commands (api_command.c) */
	struct timespec conf_mtime;      /* of torwart.conf when settings were loaded */
	struct conn_guard *guard;        /* connection caps and deadlines (conn_guard.h) */
	struct api_throttle *throttle;   /* failed logins per IP and per certificate */
	long preauth_max_body;           /* body limit of a request without a live session */
	long upload_ms;                  /* deadline of a request with a live session */
	/* Operator CA + CRL every handshake verifies against (reloaded when the CRL changes). */
	X509_STORE *verify_store;
	char *ca_path, *crl_path;
	struct timespec crl_mtime;
	off_t crl_size;
	bool crl_loaded;
	int64_t crl_checked_ms;
};

/* /metrics of the api ([metrics] api_listen): relaxed atomics, no lock on a request. */
static struct {
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t login_ok, login_failed, login_throttled;
} ao_metrics;

tw_rc api_operator_metrics(struct tw_buf *out, void *arg, struct tw_error *err)
{
	tw_rc rc;

	(void)arg;
	if ((rc = tw_metrics_family(out, "torwart_api_requests_total", "counter",
	    "requests to the operator API (HTTPS)", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_api_requests_total", NULL, NULL,
	    atomic_load(&ao_metrics.requests), err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_api_logins_total", "counter",
	    "operator logins, by result", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_api_logins_total", "result", "ok",
	    atomic_load(&ao_metrics.login_ok), err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_api_logins_total", "result", "failed",
	    atomic_load(&ao_metrics.login_failed), err)) != TW_OK)
		return rc;
	return tw_metrics_sample(out, "torwart_api_logins_total", "result", "throttled",
		atomic_load(&ao_metrics.login_throttled), err);
}

/*
 * `torwart policy set` rewrites [auth] in torwart.conf; the api picks the new policy up
 * with the next request instead of needing a restart. A file that no longer loads keeps
 * the policy in force (and says so).
 */
static void ao_reload_settings(struct api_operator *op)
{
	struct auth_settings fresh;
	struct tw_config *conf = NULL;
	struct tw_error err;
	struct stat st;
	char *path = tw_home_join(op->home, "torwart.conf");

	if (path == NULL || stat(path, &st) != 0 ||
	    (st.st_mtim.tv_sec == op->conf_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == op->conf_mtime.tv_nsec)) {
		free(path);
		return;
	}
	op->conf_mtime = st.st_mtim;
	if (tw_config_load(path, &conf, &err) != TW_OK ||
	    auth_settings_load(conf, &fresh, &err) != TW_OK) {
		tw_err("torwart.conf changed but its [auth] policy does not load (%s); the policy "
			"loaded before stays in force", err.message);
	} else {
		op->settings = fresh;
		tw_info("[auth] policy reloaded from %s", path);
		/* A change that did not come through `policy set` is logged and alerted. */
		if (auth_policy_record(op->store, conf, "system:api", NULL, &err) != TW_OK)
			tw_err("cannot record the loaded [auth] policy: %s", err.message);
	}
	tw_config_free(conf);
	free(path);
}

/* What one request knows about its caller. */
struct api_call {
	struct api_operator *op;
	struct evhttp_request *req;
	char fingerprint[65];     /* "" without a client certificate */
	int64_t not_after;
	char client[STORE_ID_MAX + 1];
};

static void ao_send(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	const char *reason = code == 200 ? "OK" : code == 201 ? "Created" : code == 202 ?
		"Accepted" : code == 400 ? "Bad Request" : code == 401 ? "Unauthorized" :
		code == 403 ? "Forbidden" : code == 404 ? "Not Found" : code == 405 ?
		"Method Not Allowed" : code == 409 ? "Conflict" : code == 413 ?
		"Payload Too Large" : "Internal Server Error";

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && text != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, code, reason, out);
	if (text != NULL) {
		tw_wipe(text, strlen(text));    /* may hold a token or a TOTP key */
		free(text);
	}
	if (out != NULL)
		evbuffer_free(out);
}

/* RFC 9457 problem details (api_resource.h), the old "error" member included. */
static void ao_error(struct evhttp_request *req, tw_rc rc, const struct tw_error *err)
{
	api_problem_send(req, rc, err);
}

/* The body as a NUL-terminated copy (caller wipes and frees). */
static tw_rc ao_body(struct evhttp_request *req, char **out, size_t *len,
	struct tw_error *err)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = in != NULL ? evbuffer_get_length(in) : 0;

	*out = NULL;
	*len = 0;
	if (n > AUTH_REQUEST_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "request body over %d bytes",
			AUTH_REQUEST_BODY_MAX);
	if ((*out = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (n > 0 && evbuffer_copyout(in, *out, n) != (ev_ssize_t)n) {
		free(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_IO, "cannot read the request body");
	}
	(*out)[n] = '\0';
	*len = n;
	return TW_OK;
}

static void ao_body_free(char *body, size_t len)
{
	if (body != NULL) {
		tw_wipe(body, len);
		free(body);
	}
}

/* Parse the body of req into fields (any failure answered by the caller). */
static tw_rc ao_parse(struct evhttp_request *req, struct auth_field *f, size_t n,
	struct tw_error *err)
{
	char *body = NULL;
	size_t len = 0;
	tw_rc rc;

	if ((rc = ao_body(req, &body, &len, err)) == TW_OK)
		rc = auth_request_parse(body, len, f, n, err);
	ao_body_free(body, len);
	return rc;
}

/*
 * Authenticate the request's session token: the Authorization header's, or token when
 * not NULL (the console's, from its cookie: api_console.c).
 */
static tw_rc ao_principal(struct api_call *c, const char *token, struct auth_principal *p,
	struct tw_error *err)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(c->req),
		"Authorization");

	if (token != NULL)
		return auth_session_check(c->op->store, token, strnlen(token, AUTH_TOKEN_LEN + 1),
			c->fingerprint, c->client, 0, p, err);
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return auth_session_check(c->op->store, "", 0, c->fingerprint, c->client, 0, p,
			err);
	return auth_session_check(c->op->store, h + 7, strnlen(h + 7, AUTH_TOKEN_LEN + 1),
		c->fingerprint, c->client, 0, p, err);
}

/* ---- handlers ---- */

/*
 * The in-memory login throttle in front of the store's counters, the same for every login
 * method: per client address and per client certificate, with the limits of
 * auth/session.h. Refused before the store is touched, so a locked-out client costs
 * nothing. True (and err set) if this login must be refused now.
 */
static bool ao_login_throttled(struct api_call *c, int64_t now, struct tw_error *err)
{
	char ipkey[API_THROTTLE_KEY_MAX + 1], certkey[API_THROTTLE_KEY_MAX + 1];
	int64_t window_ms = c->op->settings.failure_window_s * 1000;

	snprintf(ipkey, sizeof(ipkey), "ip:%s", c->client);
	snprintf(certkey, sizeof(certkey), "cert:%s", c->fingerprint);
	if (!api_throttle_locked(c->op->throttle, ipkey, c->op->settings.max_failures *
	    AUTH_ADDRESS_FAILURES_FACTOR, window_ms, now) &&
	    !api_throttle_locked(c->op->throttle, certkey, c->op->settings.max_failures,
	    window_ms, now))
		return false;
	tw_counter_add(&ao_metrics.login_throttled, 1);
	tw_error_set(err, TW_E_DENIED, "login refused: too many failed logins from this address "
		"or with this certificate; wait for the failure window (%ld s) to end",
		c->op->settings.failure_window_s);
	return true;
}

/* A failed login of any method: counted, and a refusal (not an outage) throttles. */
static void ao_login_failed(struct api_call *c, tw_rc rc, int64_t now)
{
	char ipkey[API_THROTTLE_KEY_MAX + 1], certkey[API_THROTTLE_KEY_MAX + 1];
	int64_t window_ms = c->op->settings.failure_window_s * 1000;

	tw_counter_add(&ao_metrics.login_failed, 1);
	if (rc != TW_E_DENIED)
		return;
	snprintf(ipkey, sizeof(ipkey), "ip:%s", c->client);
	snprintf(certkey, sizeof(certkey), "cert:%s", c->fingerprint);
	api_throttle_fail(c->op->throttle, ipkey, window_ms, now);
	api_throttle_fail(c->op->throttle, certkey, window_ms, now);
}

/*
 * The login itself (body parse, throttle, auth_login): shared by POST /v1/login and the
 * console's login (api_console.c). allow_enrol false refuses an enrolment code (the
 * console has no place to show a new TOTP key). On failure the problem is answered here.
 */
static bool ao_login_run(struct api_call *c, bool allow_enrol, struct api_login_result *r,
	char totp_key[33])
{
	char password[AUTH_PASSWORD_MAX + 1], totp[16];
	char code[AUTH_ENROL_CODE_LEN + 2];
	int64_t now = tw_now_ms();
	struct auth_field f[] = {
		{ "password", password, sizeof(password), false, false, 0 },
		{ "totp", totp, sizeof(totp), false, false, 0 },
		/* Enrolment (auth/session.h): the one-time code; password is then the new one. */
		{ "enrolment_code", code, sizeof(code), false, false, 0 },
	};
	struct auth_login_input in;
	struct tw_error err;
	bool ok = false;
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	if ((rc = ao_parse(c->req, f, 3, &err)) != TW_OK) {
		ao_error(c->req, rc, &err);
		goto out;
	}
	if (f[2].present && !allow_enrol) {
		rc = tw_error_set(&err, TW_E_INVALID, "enrol first with `torwart operator enrol`; "
			"the console logs in enrolled operators only");
		ao_error(c->req, rc, &err);
		goto out;
	}
	if (ao_login_throttled(c, now, &err)) {
		rc = TW_E_DENIED;
		ao_error(c->req, rc, &err);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.cert_fingerprint = c->fingerprint[0] != '\0' ? c->fingerprint : NULL;
	in.cert_not_after = c->not_after;
	in.client = c->client;
	in.password = f[0].present ? password : NULL;
	in.password_len = f[0].len;
	in.totp = f[1].present ? totp : NULL;
	in.enrol_code = f[2].present ? code : NULL;
	in.totp_key_out = totp_key;
	in.box = c->op->box;
	if ((rc = auth_login(c->op->store, &c->op->settings, &in, &r->p, r->token,
	    &r->expires_ms, &err)) != TW_OK) {
		ao_login_failed(c, rc, now);
		ao_error(c->req, rc == TW_E_DENIED ? TW_E_DENIED : rc, &err);
		goto out;
	}
	tw_counter_add(&ao_metrics.login_ok, 1);
	ok = true;
out:
	tw_wipe(password, sizeof(password));
	tw_wipe(code, sizeof(code));
	if (!ok)
		tw_wipe(r, sizeof(*r));
	return ok;
}

static void ao_login(struct api_call *c)
{
	struct api_login_result r;
	char totp_key[33] = "", roles[256];
	json_t *body;

	if (!ao_login_run(c, true, &r, totp_key))
		return;
	auth_roles_format(r.p.roles, roles, sizeof(roles));
	body = json_pack("{s:s,s:I,s:s,s:s,s:s}", "token", r.token, "expires_ms",
		(json_int_t)r.expires_ms, "operator", r.p.name, "tenant", r.p.tenant, "roles", roles);
	/* TOTP enrolment: the new key goes to the enrolling operator, once. */
	if (body != NULL && totp_key[0] != '\0')
		json_object_set_new(body, "totp_key", json_string(totp_key));
	ao_send(c->req, 200, body);
	json_decref(body);
	tw_wipe(totp_key, sizeof(totp_key));
	tw_wipe(&r, sizeof(r));
}

/*
 * The SAML login itself (throttle, [saml] settings, auth_saml_login, failure accounting):
 * shared by POST /v1/login/saml and the console's assertion consumer (api_console.c), so
 * both verify with the same code and the same replay cache. door: the console's
 * Recipient and InResponseTo checks (NULL for the api). On failure the problem is
 * answered here.
 */
static bool ao_login_saml_run(struct api_call *c, const char *tenant,
	const unsigned char *xml, size_t xml_len, const struct api_saml_door *door,
	struct api_login_result *r)
{
	const struct tw_config *conf = c->op->home->conf;
	struct auth_saml_input in;
	enum saml_refusal why = SAML_OK;
	int64_t now = tw_now_ms();
	long skew = SAML_SKEW_DEFAULT_S;
	struct tw_error err;
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	if (ao_login_throttled(c, now, &err)) {
		rc = TW_E_DENIED;
		goto fail;
	}
	if ((rc = tw_config_get_long(conf, "saml", "skew_s", SAML_SKEW_DEFAULT_S, 0, 600, &skew,
	    &err)) != TW_OK)
		goto fail;
	memset(&in, 0, sizeof(in));
	in.xml = (const char *)xml;
	in.len = xml_len;
	in.tenant = tenant;
	in.cert_fingerprint = c->fingerprint;
	in.cert_not_after = c->not_after;
	in.client = c->client;
	in.audience = tw_config_get(conf, "saml", "entity_id");
	if (door != NULL) {
		in.recipient = door->recipient;
		in.in_response_to_ok = door->in_response_to_ok;
		in.in_response_to_arg = door->arg;
	}
	in.skew_s = skew;
	if ((rc = auth_saml_login(c->op->store, &c->op->settings, &in, &r->p, r->token,
	    &r->expires_ms, &why, &err)) != TW_OK) {
		ao_login_failed(c, rc, now);
		goto fail;
	}
	tw_counter_add(&ao_metrics.login_ok, 1);
	return true;
fail:
	tw_wipe(r, sizeof(*r));
	ao_error(c->req, rc, &err);
	return false;
}

/*
 * POST /v1/login/saml {"tenant": T, "assertion": base64(XML)}: the SAML login to a
 * certificate-management context (auth/saml_login.h, docs/security.md "SAML login").
 * Throttled like the password login; the answer is the login's, with "method": "saml",
 * and a refusal's problem detail is "login refused: saml_...: why" (typed code).
 */
static void ao_login_saml(struct api_call *c)
{
	const size_t b64_max = (SAML_XML_MAX / 3 + 1) * 4 + 1;
	char tenant[STORE_ID_MAX + 1], roles[256];
	char *b64 = malloc(b64_max);
	struct auth_field f[] = {
		{ "tenant", tenant, sizeof(tenant), true, false, 0 },
		{ "assertion", b64, b64_max, true, false, 0 },
	};
	struct api_login_result r;
	unsigned char *xml = NULL;
	size_t xml_len = 0;
	struct tw_error err;
	json_t *body;
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	if (b64 == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = ao_parse(c->req, f, 2, &err)) != TW_OK)
		goto fail;
	if ((rc = auth_b64_decode(b64, f[1].len, &xml, &xml_len, &err)) != TW_OK) {
		rc = tw_error_set(&err, TW_E_INVALID, "saml_malformed: the assertion must be "
			"base64 of the XML document");
		goto fail;
	}
	if (!ao_login_saml_run(c, tenant, xml, xml_len, NULL, &r))
		goto out;                       /* answered */
	auth_roles_format(r.p.roles, roles, sizeof(roles));
	body = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "token", r.token, "expires_ms",
		(json_int_t)r.expires_ms, "operator", r.p.name, "tenant", r.p.tenant, "roles", roles,
		"method", "saml");
	ao_send(c->req, 200, body);
	json_decref(body);
	goto out;
fail:
	ao_error(c->req, rc, &err);
out:
	tw_wipe(&r, sizeof(r));
	if (xml != NULL) {
		tw_wipe(xml, xml_len);
		free(xml);
	}
	if (b64 != NULL) {
		tw_wipe(b64, b64_max);
		free(b64);
	}
}

static void ao_logout(struct api_call *c, const struct auth_principal *p)
{
	struct tw_error err;
	tw_rc rc = auth_session_logout(c->op->store, p, &err);
	json_t *body;

	if (rc != TW_OK) {
		ao_error(c->req, rc, &err);
		return;
	}
	body = json_pack("{s:s}", "status", "logged out");
	ao_send(c->req, 200, body);
	json_decref(body);
}

static int ao_operator_json(const struct store_operator *o, void *arg)
{
	char roles[256];

	auth_roles_format(o->roles, roles, sizeof(roles));
	json_array_append_new(arg, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "name", o->name,
		"tenant", o->tenant, "roles", roles, "status", o->status, "factor", o->factor,
		"certificate", o->cert_status, "cert_not_after", (json_int_t)o->cert_not_after));
	return 0;
}

static void ao_operator_list(struct api_call *c, const struct auth_principal *p)
{
	json_t *list = json_array(), *body;
	struct tw_error err;
	tw_rc rc = list == NULL ? tw_error_set(&err, TW_E_NOMEM, "out of memory") :
		auth_svc_operator_list(c->op->store, p, ao_operator_json, list, &err);

	if (rc != TW_OK) {
		ao_error(c->req, rc, &err);
		json_decref(list);
		return;
	}
	body = json_pack("{s:o}", "operators", list);
	ao_send(c->req, 200, body);
	json_decref(body);
}

struct ao_issue {
	struct api_operator *op;
	const struct auth_principal *p;
};

static tw_rc ao_issue_cert(void *arg, const char *name, const char *tenant, EVP_PKEY *pub,
	X509 **out, struct tw_error *err)
{
	struct ao_issue *is = arg;
	struct signer_client *sc = NULL;
	tw_rc rc;

	if ((rc = signer_client_open(is->op->home, false, &sc, err)) != TW_OK)
		return rc;
	signer_client_set_actor(sc, is->p->name, "operator-api");
	rc = auth_opca_issue_operator(sc, is->op->home, name, tenant, pub, out, err);
	signer_client_close(sc);
	return rc;
}

static void ao_operator_add(struct api_call *c, const struct auth_principal *p)
{
	char name[STORE_ID_MAX + 1], factor[16], password[AUTH_PASSWORD_MAX + 1];
	char pubkey[4096], roles_text[512], reason[STORE_TEXT_MAX + 1], *pem = NULL;
	struct auth_field f[] = {
		{ "name", name, sizeof(name), true, false, 0 },
		{ "factor", factor, sizeof(factor), true, false, 0 },
		{ "password", password, sizeof(password), false, false, 0 },
		{ "public_key", pubkey, sizeof(pubkey), true, false, 0 },
		{ "roles", roles_text, sizeof(roles_text), false, false, 0 },
		{ "reason", reason, sizeof(reason), false, false, 0 },
	};
	struct auth_operator_added added;
	struct auth_operator_new in;
	struct ao_issue is = { c->op, p };
	struct tw_error err;
	EVP_PKEY *pub = NULL;
	BIO *bio = NULL, *mem = NULL;
	json_t *body;
	tw_rc rc;

	memset(&added, 0, sizeof(added));
	memset(&in, 0, sizeof(in));
	if ((rc = ao_parse(c->req, f, 6, &err)) != TW_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pubkey, (int)f[3].len)) == NULL ||
	    (pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(&err, TW_E_INVALID, "public_key is not a PEM public key");
		goto out;
	}
	in.name = name;
	in.factor = factor;
	in.password = f[2].present ? password : NULL;
	in.password_len = f[2].len;
	in.public_key = pub;
	in.reason = f[5].present ? reason : NULL;
	in.issue = ao_issue_cert;
	in.issue_arg = &is;
	in.box = c->op->box;
	/* The creator never learns the new account's secrets: the operator enrols itself
	 * with a one-time code that goes out of band (docs/security.md, "Enrolment"). */
	in.enrol = true;
	if ((rc = auth_roles_parse(roles_text, &in.roles, &err)) != TW_OK)
		goto out;
	if ((rc = auth_svc_operator_add(c->op->store, &c->op->settings, p, &in, &added, &err)) !=
	    TW_OK)
		goto out;
	{
		char *dir = tw_home_join(c->op->home, AUTH_ENROL_DIR);

		rc = dir == NULL ? tw_error_set(&err, TW_E_NOMEM, "out of memory") :
			auth_enrol_code_deliver(dir, name, added.enrol_code, added.enrol_expires_ms,
			&err);
		free(dir);
		if (rc != TW_OK) {
			/* Without its code nobody can enrol: the account is useless, say so. */
			tw_error_set(&err, rc, "operator %s added, but its enrolment code could not be "
				"delivered (%s); disable it and add it again", name, err.message);
			goto out;
		}
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(mem, added.cert) != 1 ||
	    BIO_write(mem, "", 1) != 1 || BIO_get_mem_data(mem, &pem) <= 0) {
		rc = tw_error_set_openssl(&err, TW_E_NOMEM, "cannot encode the certificate");
		goto out;
	}
	body = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "name", name, "certificate", pem,
		"fingerprint", added.fingerprint, "approval", (json_int_t)added.approval_id,
		"enrolment", "pending", "message", "the one-time enrolment code went to the "
		"installation's second channel (" AUTH_ENROL_DIR "/NAME.code on the api host), "
		"not to you; the new operator enrols with it: torwart operator enrol");
	ao_send(c->req, 201, body);
	json_decref(body);
out:
	if (rc != TW_OK)
		ao_error(c->req, rc, &err);
	tw_wipe(password, sizeof(password));
	tw_wipe(added.totp_key, sizeof(added.totp_key));
	tw_wipe(added.enrol_code, sizeof(added.enrol_code));
	X509_free(added.cert);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	BIO_free(mem);
}

static void ao_operator_disable(struct api_call *c, const struct auth_principal *p,
	const char *name)
{
	char reason[STORE_TEXT_MAX + 1];
	struct auth_field f[] = { { "reason", reason, sizeof(reason), false, false, 0 } };
	struct tw_error err;
	json_t *body;
	tw_rc rc;

	if ((rc = ao_parse(c->req, f, 1, &err)) == TW_OK)
		rc = auth_svc_operator_disable(c->op->store, p, name, reason, &err);
	if (rc != TW_OK) {
		ao_error(c->req, rc, &err);
		return;
	}
	/* Republish the operator CRL now; on failure it stays dirty for the worker. */
	if (auth_opca_crl_publish(c->op->home, c->op->store, NULL, p->name, &err) != TW_OK)
		tw_warn("operator CRL not republished after disabling %s: %s", name, err.message);
	body = json_pack("{s:s,s:s}", "name", name, "status", "disabled");
	ao_send(c->req, 200, body);
	json_decref(body);
}

static void ao_operator_roles(struct api_call *c, const struct auth_principal *p,
	const char *name)
{
	char roles_text[512], reason[STORE_TEXT_MAX + 1];
	struct auth_field f[] = {
		{ "roles", roles_text, sizeof(roles_text), true, false, 0 },
		{ "reason", reason, sizeof(reason), true, false, 0 },
	};
	struct tw_error err;
	uint32_t roles = 0;
	int64_t id = 0;
	json_t *body;
	tw_rc rc;

	if ((rc = ao_parse(c->req, f, 2, &err)) == TW_OK &&
	    (rc = auth_roles_parse(roles_text, &roles, &err)) == TW_OK)
		rc = auth_svc_operator_role(c->op->store, &c->op->settings, p, name, roles, reason,
			&id, &err);
	if (rc != TW_OK) {
		ao_error(c->req, rc, &err);
		return;
	}
	body = json_pack("{s:s,s:I,s:s}", "status", id > 0 ? "pending" : "executed", "approval",
		(json_int_t)id, "message", id > 0 ? "the role change waits for a second person "
		"with the approver role (torwart approval approve)" : "roles changed");
	ao_send(c->req, id > 0 ? 202 : 200, body);
	json_decref(body);
}

static json_t *ao_approval_json(const struct store_approval *a)
{
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s}", "id",
		(json_int_t)a->id, "action", a->action, "params", a->params, "reason", a->reason,
		"requester", a->requester, "state", a->state, "created_ms",
		(json_int_t)a->created_ms, "expires_ms", (json_int_t)a->expires_ms, "decided_by",
		a->decided_by, "decision_reason", a->decision_reason, "result", a->result);
}

static int ao_approval_one(const struct store_approval *a, void *arg)
{
	json_array_append_new(arg, ao_approval_json(a));
	return 0;
}

static void ao_approvals(struct api_call *c, const struct auth_principal *p,
	const char *rest)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(c->req);
	struct store_approval a;
	struct tw_error err;
	json_t *body = NULL;
	long id = 0;
	char idtext[24] = "", verb[16] = "";
	tw_rc rc;

	if (rest[0] == '\0') {
		json_t *list = json_array();
		const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(c->req));
		const char *state = q != NULL && strncmp(q, "state=", 6) == 0 ? q + 6 : NULL;

		rc = list == NULL ? tw_error_set(&err, TW_E_NOMEM, "out of memory") :
			auth_approval_list(c->op->store, p, state, ao_approval_one, list, &err);
		if (rc != TW_OK) {
			json_decref(list);
			ao_error(c->req, rc, &err);
			return;
		}
		body = json_pack("{s:o}", "approvals", list);
		ao_send(c->req, 200, body);
		json_decref(body);
		return;
	}
	{
		size_t n = strcspn(rest, "/");

		if (n == 0 || n >= sizeof(idtext) || (rest[n] == '/' && strlen(rest + n + 1) >=
		    sizeof(verb))) {
			rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource");
			ao_error(c->req, rc, &err);
			return;
		}
		memcpy(idtext, rest, n);
		idtext[n] = '\0';
		if (rest[n] == '/')
			snprintf(verb, sizeof(verb), "%s", rest + n + 1);
	}
	if ((rc = tw_parse_long(idtext, 1, 0x7fffffffL, &id, &err, "approval id")) != TW_OK) {
		ao_error(c->req, rc, &err);
		return;
	}
	if (verb[0] == '\0' && cmd == EVHTTP_REQ_GET) {
		if ((rc = auth_approval_show(c->op->store, p, id, &a, &err)) == TW_OK) {
			body = ao_approval_json(&a);
			ao_send(c->req, 200, body);
			json_decref(body);
			return;
		}
	} else if ((strcmp(verb, "approve") == 0 || strcmp(verb, "reject") == 0) &&
	    cmd == EVHTTP_REQ_POST) {
		char reason[STORE_TEXT_MAX + 1];
		struct auth_field f[] = { { "reason", reason, sizeof(reason), false, false, 0 } };

		if ((rc = ao_parse(c->req, f, 1, &err)) == TW_OK &&
		    (rc = auth_approval_decide(c->op->store, &c->op->settings, p, id,
		     strcmp(verb, "approve") == 0, reason, &a, &err)) == TW_OK) {
			body = ao_approval_json(&a);
			if (strcmp(verb, "approve") == 0 && strcmp(a.state, "executed") == 0 &&
			    api_command_is_action(a.action)) {
				/* A released command: run it now and answer with its output. */
				api_command_run_approved(c->op->commands, c->req, p, &a, body);
				return;
			}
			ao_send(c->req, 200, body);
			json_decref(body);
			return;
		}
	} else {
		rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource or method");
	}
	ao_error(c->req, rc, &err);
}

/* ---- dispatch ---- */

static void ao_identify(struct api_call *c)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(c->req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	char *addr = NULL;
	ev_uint16_t port = 0;
	struct tw_error err;

	c->fingerprint[0] = '\0';
	if (peer != NULL && SSL_get_verify_result(ssl) == X509_V_OK &&
	    keys_cert_fingerprint(peer, c->fingerprint, &err) != TW_OK)
		c->fingerprint[0] = '\0';
	if (peer != NULL) {
		ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
		int days = 0, secs = 0;

		if (epoch != NULL && ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notAfter(peer)))
			c->not_after = (int64_t)days * 86400 + secs;
		ASN1_TIME_free(epoch);
	}
	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	/*
	 * The address without the port: failed logins are counted per client (auth/session.c
	 * and the throttle below), and every connection has a new source port.
	 */
	(void)port;
	snprintf(c->client, sizeof(c->client), "%s", addr != NULL ? addr : "?");
}

/* A request of either listener; token: see ao_principal. */
static void ao_serve(struct api_operator *op, struct evhttp_request *req, const char *token)
{
	struct api_call c = { .op = op, .req = req };
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct auth_principal p;
	struct tw_error err;
	tw_rc rc;

	tw_counter_add(&ao_metrics.requests, 1);
	ao_reload_settings(c.op);
	ao_identify(&c);
	if (path == NULL)
		path = "";
	if (c.fingerprint[0] == '\0') {
		/* The handshake demands a certificate; this is a belt for the braces. */
		rc = tw_error_set(&err, TW_E_DENIED, "a client certificate is required");
		ao_error(req, rc, &err);
		return;
	}
	if (token == NULL && strcmp(path, "/v1/login") == 0 && cmd == EVHTTP_REQ_POST) {
		ao_login(&c);
		return;
	}
	if (token == NULL && strcmp(path, "/v1/login/saml") == 0 && cmd == EVHTTP_REQ_POST) {
		ao_login_saml(&c);
		return;
	}
	if (strncmp(path, "/v1/", 4) != 0) {
		rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource");
		ao_error(req, rc, &err);
		return;
	}
	if ((rc = ao_principal(&c, token, &p, &err)) != TW_OK) {
		ao_error(req, rc, &err);
		return;
	}
	{
		/* The resource routes (api_resource.c) first: they answer the paths they own. */
		struct api_resource_ctx rctx = { c.op->home, c.op->store, c.op->commands };

		if (api_resource_handle(&rctx, req, &p, path)) {
			memset(&p, 0, sizeof(p));
			return;
		}
	}
	if (strcmp(path, "/v1/logout") == 0 && cmd == EVHTTP_REQ_POST)
		ao_logout(&c, &p);
	else if (strcmp(path, "/v1/operators") == 0 && cmd == EVHTTP_REQ_GET)
		ao_operator_list(&c, &p);
	else if (strcmp(path, "/v1/operators") == 0 && cmd == EVHTTP_REQ_POST)
		ao_operator_add(&c, &p);
	else if (strncmp(path, "/v1/operators/", 14) == 0 && cmd == EVHTTP_REQ_POST) {
		char name[STORE_ID_MAX + 2];
		const char *rest = path + 14, *slash = strchr(rest, '/');
		size_t n = slash != NULL ? (size_t)(slash - rest) : 0;

		if (slash == NULL || n == 0 || n > STORE_ID_MAX) {
			rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource");
			ao_error(req, rc, &err);
			return;
		}
		memcpy(name, rest, n);
		name[n] = '\0';
		if (strcmp(slash, "/disable") == 0)
			ao_operator_disable(&c, &p, name);
		else if (strcmp(slash, "/roles") == 0)
			ao_operator_roles(&c, &p, name);
		else {
			rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource");
			ao_error(req, rc, &err);
		}
	} else if (strcmp(path, "/v1/approvals") == 0 && cmd == EVHTTP_REQ_GET)
		ao_approvals(&c, &p, "");
	else if (strncmp(path, "/v1/approvals/", 14) == 0)
		ao_approvals(&c, &p, path + 14);
	else if (strcmp(path, "/v1/commands") == 0 && cmd == EVHTTP_REQ_POST)
		api_command_handle(c.op->commands, req, &p);
	else {
		rc = tw_error_set(&err, TW_E_NOT_FOUND, "no such resource or method");
		ao_error(req, rc, &err);
	}
	memset(&p, 0, sizeof(p));
}

static void ao_request(struct evhttp_request *req, void *arg)
{
	conn_guard_request_dispatched(req);     /* read completely: its deadline ends */
	ao_serve(arg, req, NULL);
}

void api_operator_serve(struct api_operator *op, struct evhttp_request *req,
	const char *token)
{
	ao_serve(op, req, token);
}

/*
 * The start of every login (password/TOTP and SAML): counted, settings current, the
 * client certificate identified. False (answered 403, *out zeroed) without one.
 */
static bool ao_login_begin(struct api_operator *op, struct evhttp_request *req,
	struct api_call *c, struct api_login_result *out)
{
	struct tw_error err;

	*c = (struct api_call){ .op = op, .req = req };
	tw_counter_add(&ao_metrics.requests, 1);
	ao_reload_settings(op);
	ao_identify(c);
	if (c->fingerprint[0] == '\0') {
		tw_rc rc = tw_error_set(&err, TW_E_DENIED, "a client certificate is required");

		memset(out, 0, sizeof(*out));
		ao_error(req, rc, &err);
		return false;
	}
	return true;
}

bool api_operator_login(struct api_operator *op, struct evhttp_request *req,
	struct api_login_result *out)
{
	struct api_call c;
	char totp_key[33] = "";
	bool ok;

	if (!ao_login_begin(op, req, &c, out))
		return false;
	ok = ao_login_run(&c, false, out, totp_key);
	tw_wipe(totp_key, sizeof(totp_key));
	return ok;
}

bool api_operator_login_saml(struct api_operator *op, struct evhttp_request *req,
	const char *tenant, const unsigned char *xml, size_t len,
	const struct api_saml_door *door, struct api_login_result *out)
{
	struct api_call c;

	if (!ao_login_begin(op, req, &c, out))
		return false;
	return ao_login_saml_run(&c, tenant, xml, len, door, out);
}

/* ---- connections: operator CRL in the handshake, caps, deadlines, body limits ---- */

/* A CRL file in PEM or DER (crl.c writes one of them; both are accepted). */
static X509_CRL *ao_read_crl(const char *path)
{
	X509_CRL *crl = NULL;
	BIO *bio = BIO_new_file(path, "rb");

	if (bio == NULL)
		return NULL;
	crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
	if (crl == NULL && BIO_reset(bio) == 0)
		crl = d2i_X509_CRL_bio(bio, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return crl;
}

/*
 * Make sure op->verify_store reflects the operator CRL on disk. Called for each new
 * connection, looking at the file at most every AO_CRL_CHECK_MS. A CRL that appears or
 * changes is loaded into a fresh store (connections in progress keep theirs); one that
 * does not parse or verify keeps the store in force and says so. No CRL file at all:
 * the chain alone is checked, with a warning (a home before its first operator CRL).
 */
static void ao_crl_refresh(struct api_operator *op, bool force)
{
	int64_t now = tw_monotonic_ms();
	X509_STORE *store = NULL;
	X509_CRL *crl = NULL;
	struct stat st;
	bool exists;

	if (!force && now - op->crl_checked_ms < AO_CRL_CHECK_MS)
		return;
	op->crl_checked_ms = now;
	exists = stat(op->crl_path, &st) == 0;
	if (!force && exists == op->crl_loaded && (!exists ||
	    (st.st_mtim.tv_sec == op->crl_mtime.tv_sec &&
	     st.st_mtim.tv_nsec == op->crl_mtime.tv_nsec && st.st_size == op->crl_size)))
		return;
	if (exists) {
		op->crl_mtime = st.st_mtim;
		op->crl_size = st.st_size;
	}
	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_load_file(store, op->ca_path) != 1 ||
	    X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT) != 1) {
		tw_err("api: cannot load the operator CA %s; the previous trust stays in force",
			op->ca_path);
		goto out;
	}
	if (exists) {
		if ((crl = ao_read_crl(op->crl_path)) == NULL) {
			tw_err("api: the operator CRL %s does not parse; the previous one stays in "
				"force", op->crl_path);
			goto out;
		}
		if (X509_STORE_add_crl(store, crl) != 1 ||
		    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK) != 1) {
			tw_err("api: cannot use the operator CRL %s; the previous one stays in force",
				op->crl_path);
			goto out;
		}
		tw_info("api: operator CRL %s loaded; revoked operator certificates fail the "
			"TLS handshake", op->crl_path);
	} else {
		tw_warn("api: no operator CRL at %s yet; handshakes check the chain only until "
			"it is published (torwart operator ca-init / worker)", op->crl_path);
	}
	X509_STORE_free(op->verify_store);
	op->verify_store = store;
	op->crl_loaded = exists;
	store = NULL;
out:
	X509_CRL_free(crl);
	X509_STORE_free(store);
	ERR_clear_error();
}

/*
 * Verification of an operator certificate: the chain to the operator CA and, when a
 * CRL is loaded, its revocation status. A CRL past its nextUpdate still lists every
 * revocation up to its issue, so it is used rather than locking every operator out
 * while the worker has not republished it (logged).
 */
int api_operator_verify_cb(int ok, X509_STORE_CTX *xs)
{
	int e = X509_STORE_CTX_get_error(xs);

	if (!ok && (e == X509_V_ERR_CRL_HAS_EXPIRED || e == X509_V_ERR_CRL_NOT_YET_VALID)) {
		tw_warn("api: the operator CRL is outside its validity period; it is still used "
			"(republish it: torwart worker or operator disable)");
		return 1;
	}
	if (!ok && e == X509_V_ERR_CERT_REVOKED)
		tw_warn("api: TLS handshake refused: the operator certificate is revoked");
	return ok;
}

X509_STORE *api_operator_verify_store(struct api_operator *op)
{
	ao_crl_refresh(op, false);
	return op->verify_store;
}

static void ao_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;
	/* The handshake completes only with a verified, unrevoked operator certificate. */
	if (where & SSL_CB_HANDSHAKE_DONE)
		conn_guard_authenticated(ssl);
}

/* The operator API's singleton, for the header hook (whose arg is the api_operator). */
static void ao_header_hook(struct evhttp_connection *evcon, SSL *ssl, const char *header,
	size_t len, void *arg)
{
	struct api_operator *op = arg;
	struct api_preauth pa;
	struct auth_principal p;
	struct tw_error err;
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char fingerprint[65], *addr = NULL;
	ev_uint16_t port = 0;

	api_preauth_parse(header, len, &pa);
	/* Within the pre-authentication limit there is nothing to decide here. */
	if (!api_preauth_may_exceed(&pa, (uint64_t)op->preauth_max_body) || !pa.has_token ||
	    peer == NULL || keys_cert_fingerprint(peer, fingerprint, &err) != TW_OK)
		goto out;
	evhttp_connection_get_peer(evcon, &addr, &port);
	if (auth_session_check(op->store, pa.token, strlen(pa.token), fingerprint,
	    addr != NULL ? addr : "?", 0, &p, &err) == TW_OK) {
		/* A live session of this certificate: the full command body, more time. */
		evhttp_connection_set_max_body_size(evcon, AUTH_CMD_BODY_MAX);
		conn_guard_extend_request(ssl, op->upload_ms);
	}
	memset(&p, 0, sizeof(p));
out:
	tw_wipe(&pa, sizeof(pa));
}

static struct bufferevent *ao_bevcb(struct event_base *base, void *arg)
{
	struct api_operator *op = arg;
	SSL *ssl = SSL_new(op->ssl_ctx);

	ao_crl_refresh(op, false);
	if (ssl != NULL && (op->verify_store == NULL ||
	    SSL_set1_verify_cert_store(ssl, op->verify_store) != 1)) {
		SSL_free(ssl);
		ssl = NULL;
	}
	if (ssl != NULL)
		SSL_set_info_callback(ssl, ao_info_cb);
	/* A plain bufferevent on failure: ao_request refuses non-TLS. */
	return conn_guard_tls_bev(op->guard, base, ssl, ao_header_hook, op, "api");
}

/* [api] connection limits, pre-authentication body limit, login throttle. */
static tw_rc ao_limits(struct api_operator *op, const struct tw_home *home,
	struct tw_error *err)
{
	struct conn_guard_limits lim;
	long upload_s, throttle_n;
	tw_rc rc;

	if ((rc = conn_guard_limits_load(home->conf, "api", "", AO_DEFAULT_MAX_CONNS,
	    AO_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "api", "upload_timeout",
	    AO_DEFAULT_UPLOAD_TIMEOUT, 1, 86400, &upload_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "api", "preauth_max_body",
	    AO_DEFAULT_PREAUTH_BODY, 1024, AUTH_CMD_BODY_MAX, &op->preauth_max_body, err)) !=
	    TW_OK ||
	    (rc = tw_config_get_long(home->conf, "api", "login_throttle_entries",
	    AO_DEFAULT_THROTTLE_SIZE, 16, 1000000, &throttle_n, err)) != TW_OK)
		return rc;
	op->upload_ms = upload_s * 1000;
	/* The plain listener (api.c) has its own cap: both share the descriptors. */
	conn_guard_fit_nofile("api", 256 + lim.max_conns / 2, &lim);
	if ((rc = conn_guard_new("api", &lim, &op->guard, err)) != TW_OK ||
	    (rc = api_throttle_new((size_t)throttle_n, &op->throttle, err)) != TW_OK)
		return rc;
	return TW_OK;
}

tw_rc api_operator_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct api_operator **out, struct tw_error *err)
{
	const char *listen = tw_config_get(home->conf, "api", "tls_listen");
	struct tls_profile_config cfg;
	struct api_operator *op = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL, *host = NULL;
	uint16_t port = 0;
	tw_rc rc;

	*out = NULL;
	if (listen == NULL) {
		tw_info("operator API off: set [api] tls_listen (see docs/security.md)");
		return TW_OK;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	op->home = home;
	op->store = store;
	auth_actions_register_builtin();
	{
		char *conf_path = tw_home_join(home, "torwart.conf");
		struct stat st;

		if (conf_path != NULL && stat(conf_path, &st) == 0)
			op->conf_mtime = st.st_mtim;
		free(conf_path);
	}
	{
		struct tw_error perr;

		/* The policy in force at start is recorded (and compared with the last one). */
		if (auth_policy_record(store, home->conf, "system:api", NULL, &perr) != TW_OK)
			tw_err("cannot record the loaded [auth] policy: %s", perr.message);
	}
	if ((rc = auth_settings_load(home->conf, &op->settings, err)) != TW_OK ||
	    (rc = tw_parse_hostport(listen, &host, &port, err)) != TW_OK)
		goto out;
	cert = tw_home_join(home, AUTH_API_TLS_CERT);
	key = tw_home_join(home, AUTH_API_TLS_KEY);
	ca = tw_home_join(home, AUTH_OPCA_CERT);
	if (cert == NULL || key == NULL || ca == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!tw_path_exists(ca)) {
		rc = tw_error_set(err, TW_E_CONFIG, "[api] tls_listen is set but there is no "
			"operator CA (a home made before torwart init created it); run `torwart "
			"operator ca-init --home %s`", home->dir);
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = cert;
	cfg.key_file = key;
	cfg.signer_key = SIGNER_KEY_API_TLS;
	cfg.trust_file = ca;
	if ((rc = tls_server_ctx_new(&cfg, &op->ssl_ctx, err)) != TW_OK ||
	    (rc = secretbox_open(home, &op->box, err)) != TW_OK ||
	    (rc = ao_limits(op, home, err)) != TW_OK ||
	    (rc = saml_library_init(err)) != TW_OK)   /* before the sandbox closes */
		goto out;
	/*
	 * No session resumption: a resumed handshake skips certificate verification, so a
	 * certificate revoked after its first handshake would keep coming in. Operators
	 * connect per command; a full handshake each time is cheap at that rate.
	 */
	SSL_CTX_set_session_cache_mode(op->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(op->ssl_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(op->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		api_operator_verify_cb);
	op->ca_path = tw_strdup(ca);
	op->crl_path = tw_home_join(home, AUTH_OPCA_CRL_PATH);
	if (op->ca_path == NULL || op->crl_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	ao_crl_refresh(op, true);
	if (op->verify_store == NULL) {
		rc = tw_error_set(err, TW_E_TLS, "cannot load the operator CA %s", ca);
		goto out;
	}
	if ((op->http = evhttp_new(base)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the HTTPS server");
		goto out;
	}
	evhttp_set_max_headers_size(op->http, 16 * 1024);
	/*
	 * Every request starts with the pre-authentication body limit; ao_header_hook raises
	 * it to AUTH_CMD_BODY_MAX (commands carry their input files) for a request whose
	 * token is a live session of the connection's certificate.
	 */
	evhttp_set_max_body_size(op->http, op->preauth_max_body);
	/* Idle time between requests; the guard's deadlines bound handshakes and requests. */
	evhttp_set_timeout(op->http, 30);
	evhttp_set_allowed_methods(op->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_bevcb(op->http, ao_bevcb, op);
	evhttp_set_gencb(op->http, ao_request, op);
	if (evhttp_bind_socket(op->http, host, port) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s:%u (in use? see [api] "
			"tls_listen)", host, port);
		goto out;
	}
	if ((rc = api_commands_new(base, home, store, &op->settings, &op->commands, err)) !=
	    TW_OK)
		goto out;
	tw_info("operator API (HTTPS, client certificates) listening on %s:%u", host, port);
	*out = op;
	op = NULL;
out:
	api_operator_free(op);
	free(cert);
	free(key);
	free(ca);
	free(host);
	return rc;
}

void api_operator_free(struct api_operator *op)
{
	if (op == NULL)
		return;
	api_commands_free(op->commands);
	if (op->http != NULL)
		evhttp_free(op->http);
	SSL_CTX_free(op->ssl_ctx);
	secretbox_free(op->box);
	conn_guard_free(op->guard);
	api_throttle_free(op->throttle);
	X509_STORE_free(op->verify_store);
	free(op->ca_path);
	free(op->crl_path);
	free(op);
}
