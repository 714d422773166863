/*
 * api_console.c: the web console's listener (api_console.h). A thin door in front of the
 * operator API: TLS for browsers, the static files of web/, a cookie instead of a bearer
 * token, a CSRF token on every write, security headers. Everything an operator reads or
 * writes goes through api_operator_serve, i.e. the same routes and the same policy table
 * as the CLI and the API; there is no console-only action.
 *
 * The session is the operator session of auth/session.c (bound to the client
 * certificate, expiring after [auth] session_ttl, revocable). The cookie wraps its token
 * with the time it was issued and a MAC under a key that lives in this process only, so
 * the console can also end a session earlier ([console] session_ttl) and an api restart
 * ends every console session (operators log in again). The CSRF token is a MAC of the
 * session token under the same key: stateless, and different for every session.
 */
#include "api/api_console.h"
#include "api/api_operator.h"
#include "api/api_resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "auth/command.h"
#include "auth/saml.h"
#include "auth/session.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls_signer_key.h"
#include "net/conn_guard.h"

/* [console] defaults (docs/console.md). */
#define CON_DEFAULT_SESSION_TTL  900
#define CON_DEFAULT_MAX_CONNS    256
#define CON_DEFAULT_PER_SOURCE   32
#define CON_DEFAULT_TLS_CERT     "pki/console-tls.crt"
#define CON_DEFAULT_TLS_KEY      "pki/console-tls.key"
#define CON_STATIC_MAX           (1024 * 1024)
#define CON_BODY_MAX             (16 * 1024)

/* BSI TR-03116-4 (TLS 1.2: ECDHE-ECDSA with AES-GCM or AES-CBC/SHA-2; TLS 1.3: AES-GCM,
 * AES-CCM), ECDSA server key only; groups and signatures on the NIST curves browsers
 * have. */
#define CON_TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384"
#define CON_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256"
#define CON_TLS_GROUPS   "P-256:P-384"
#define CON_TLS_SIGALGS  "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512"

/* Content-Security-Policy: scripts, styles, images and requests of this origin only; no
 * inline script or style, no framing, no forms to elsewhere, no plugins. */
#define CON_CSP \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* SAML AuthnRequests this console sent and not yet seen answered (SP-initiated login). */
#define CON_SAML_PENDING        256
#define CON_SAML_REQUEST_TTL_MS (10 * 60 * 1000)
#define CON_SAML_PER_CERT       8     /* open requests of one client certificate */

struct con_saml_request {
	char id[2 * 16 + 2];           /* "_" + 32 hex digits; "" when the slot is free */
	char context[STORE_ID_MAX + 1];
	char fingerprint[65];          /* the client certificate that started the login */
	int64_t expires_ms;
	uint64_t seq;                  /* order of creation: the oldest goes first */
};

struct con_file {
	const char *path;          /* URL path */
	const char *name;          /* file in web_dir */
	const char *type;          /* Content-Type */
	unsigned char *data;
	size_t len;
};

struct api_console {
	const struct tw_home *home;
	struct tw_store *store;
	struct api_operator *op;
	SSL_CTX *ssl_ctx;
	struct evhttp *http;
	struct conn_guard *guard;
	unsigned char key[32];     /* cookie and CSRF MACs; this process only */
	int64_t ttl_ms;            /* [console] session_ttl */
	char *acs_url;             /* [console] saml_acs_url; NULL: no SAML login here */
	bool saml_unsolicited;     /* [console] saml_unsolicited (default true) */
	/* Slots chosen by con_saml_slot. One event loop: no lock. */
	struct con_saml_request pending[CON_SAML_PENDING];
	uint64_t pending_seq;
	struct con_file files[4];
};

static const struct con_file con_files[] = {
	{ "/", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/index.html", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/console.css", "console.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/console.js", "console.js", "text/javascript; charset=utf-8", NULL, 0 },
};

/* ---------------- cookie and CSRF (pure functions, fuzzed) ---------------- */

static void con_mac(const unsigned char key[32], const char *data, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (HMAC(EVP_sha256(), key, 32, (const unsigned char *)data, n, md, &mdlen) == NULL ||
	    mdlen != 32) {
		/* Never a MAC anyone could match: all-'x' is no hex. */
		memset(out, 'x', 64);
		out[64] = '\0';
		return;
	}
	tw_hex_encode(md, 32, out);
	tw_wipe(md, sizeof(md));
}

void api_console_csrf(const char *token, const unsigned char key[32], char out[65])
{
	char buf[8 + AUTH_TOKEN_LEN + 1];
	int n = snprintf(buf, sizeof(buf), "csrf:%s", token);

	con_mac(key, buf, n > 0 ? (size_t)n : 0, out);
	tw_wipe(buf, sizeof(buf));
}

char *api_console_cookie_value(const char *token, int64_t issued_ms,
	const unsigned char key[32])
{
	char buf[AUTH_TOKEN_LEN + 32], mac[65];
	int n = snprintf(buf, sizeof(buf), "%s.%lld", token, (long long)issued_ms);
	char *out;

	if (n <= 0 || (size_t)n >= sizeof(buf))
		return NULL;
	con_mac(key, buf, (size_t)n, mac);
	out = tw_asprintf("%s.%s", buf, mac);
	tw_wipe(buf, sizeof(buf));
	return out;
}

tw_rc api_console_cookie_token(const char *cookie_header, const unsigned char key[32],
	int64_t now_ms, int64_t ttl_ms, char *token, struct tw_error *err)
{
	static const char name[] = API_CONSOLE_COOKIE "=";
	const char *p = cookie_header, *value = NULL, *end, *dot1, *dot2;
	char mac[65], issued_text[24];
	size_t tlen, ilen;
	long long issued = 0;
	tw_rc rc = TW_E_DENIED;

	token[0] = '\0';
	/* Cookie: a=b; c=d (RFC 6265 5.4); the first of our name counts. */
	while (p != NULL && *p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (strncmp(p, name, sizeof(name) - 1) == 0) {
			value = p + sizeof(name) - 1;
			break;
		}
		p = strchr(p, ';');
	}
	if (value == NULL)
		return tw_error_set(err, TW_E_DENIED, "not logged in to the console (no session "
			"cookie)");
	end = value + strcspn(value, "; \t");
	dot1 = memchr(value, '.', (size_t)(end - value));
	dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (dot1 == NULL || dot2 == NULL || (tlen = (size_t)(dot1 - value)) != AUTH_TOKEN_LEN ||
	    (ilen = (size_t)(dot2 - dot1 - 1)) == 0 || ilen >= sizeof(issued_text) ||
	    (size_t)(end - dot2 - 1) != 64) {
		tw_error_set(err, TW_E_DENIED, "the console session cookie is malformed; log in "
			"again");
		goto out;
	}
	for (size_t i = 0; i < ilen; i++)
		if (dot1[1 + i] < '0' || dot1[1 + i] > '9') {
			tw_error_set(err, TW_E_DENIED, "the console session cookie is malformed; log "
				"in again");
			goto out;
		}
	con_mac(key, value, (size_t)(dot2 - value), mac);
	if (CRYPTO_memcmp(mac, dot2 + 1, 64) != 0) {
		tw_error_set(err, TW_E_DENIED, "the console session cookie is not this console's "
			"(or the api restarted); log in again");
		goto out;
	}
	memcpy(issued_text, dot1 + 1, ilen);
	issued_text[ilen] = '\0';
	issued = strtoll(issued_text, NULL, 10);
	if (issued > now_ms + 60000 || now_ms - issued > ttl_ms) {
		tw_error_set(err, TW_E_DENIED, "the console session has expired; log in again");
		goto out;
	}
	memcpy(token, value, tlen);
	token[tlen] = '\0';
	rc = TW_OK;
out:
	tw_wipe(mac, sizeof(mac));
	return rc;
}

/* %XX and '+' of n bytes at s into out (size bytes with the NUL); false on a malformed
 * escape, a NUL byte or overflow. */
static bool con_form_decode(const char *s, size_t n, char *out, size_t size, size_t *olen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			unsigned char v[2];

			if (n - i < 3)
				return false;
			for (int k = 0; k < 2; k++) {
				unsigned char h = (unsigned char)s[i + 1 + (size_t)k];

				if (h >= '0' && h <= '9')
					v[k] = (unsigned char)(h - '0');
				else if (h >= 'a' && h <= 'f')
					v[k] = (unsigned char)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					v[k] = (unsigned char)(h - 'A' + 10);
				else
					return false;
			}
			ch = (unsigned char)(v[0] << 4 | v[1]);
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (ch == '\0' || o + 1 >= size)
			return false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	*olen = o;
	return true;
}

tw_rc api_console_form_field(const char *body, size_t len, const char *name, char *out,
	size_t out_size, size_t *out_len, struct tw_error *err)
{
	const char *p = body, *end = body + len;
	char fname[64];
	size_t flen = 0, vlen = 0;
	bool found = false;
	tw_rc rc = TW_OK;

	*out_len = 0;
	if (out_size == 0)
		return tw_error_set(err, TW_E_INVALID, "no room for the field %s", name);
	out[0] = '\0';
	while (body != NULL && p < end && rc == TW_OK) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(seg_end - p));
		const char *name_end = eq != NULL ? eq : seg_end;

		/* A name that does not decode or is longer than any we look for is not ours. */
		if (con_form_decode(p, (size_t)(name_end - p), fname, sizeof(fname), &flen) &&
		    strcmp(fname, name) == 0) {
			if (found)
				rc = tw_error_set(err, TW_E_INVALID, "the form field %s is given twice",
					name);
			else if (!con_form_decode(eq != NULL ? eq + 1 : seg_end, eq != NULL ?
			    (size_t)(seg_end - eq - 1) : 0, out, out_size, &vlen))
				rc = tw_error_set(err, TW_E_INVALID, "the form field %s is malformed "
					"(a bad %%-escape, a NUL byte, or over %zu bytes)", name,
					out_size - 1);
			found = true;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	if (rc == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the form field %s is missing", name);
	if (rc != TW_OK) {
		tw_wipe(out, out_size);
		out[0] = '\0';
		vlen = 0;
	}
	*out_len = vlen;
	return rc;
}

/* ---------------- answers ---------------- */

static void con_headers(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Security-Policy", CON_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
	evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
	evhttp_add_header(h, "Permissions-Policy", "camera=(), microphone=(), geolocation=()");
}

static void con_json(struct evhttp_request *req, int code, const char *reason, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/json");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && text != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, code, reason, out);
	if (text != NULL) {
		tw_wipe(text, strlen(text));   /* holds the CSRF token */
		free(text);
	}
	if (out != NULL)
		evbuffer_free(out);
}

static void con_problem(struct evhttp_request *req, tw_rc rc, const char *fmt, const char *a)
{
	struct tw_error err;

	tw_error_set(&err, rc, fmt, a);
	api_problem_send(req, rc, &err);
}

static void con_set_cookie(struct evhttp_request *req, const char *value, long max_age)
{
	char *h = tw_asprintf("%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%ld",
		API_CONSOLE_COOKIE, value, max_age);

	if (h != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", h);
		tw_wipe(h, strlen(h));
		free(h);
	}
}

static void con_static(struct api_console *con, struct evhttp_request *req,
	const struct con_file *f)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", f->type);
	/* The files change with an upgrade only; revalidate rather than cache blindly. */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-cache");
	if (out != NULL)
		evbuffer_add(out, f->data, f->len);
	evhttp_send_reply(req, 200, "OK", out);
	if (out != NULL)
		evbuffer_free(out);
	(void)con;
}

/* ---------------- handlers ---------------- */

static json_t *con_session_json(struct api_console *con, const struct auth_principal *p,
	const char *token, int64_t expires_ms)
{
	char csrf[65], roles[256];
	json_t *o;

	api_console_csrf(token, con->key, csrf);
	auth_roles_format(p->roles, roles, sizeof(roles));
	o = json_pack("{s:s,s:s,s:s,s:s,s:I}", "operator", p->name, "tenant", p->tenant,
		"roles", roles, "csrf", csrf, "expires_ms", (json_int_t)expires_ms);
	tw_wipe(csrf, sizeof(csrf));
	return o;
}

static void con_login(struct api_console *con, struct evhttp_request *req)
{
	struct api_login_result r;
	int64_t now = tw_now_ms(), expires;
	char *cookie = NULL;
	json_t *body;

	if (!api_operator_login(con->op, req, &r))
		return;                         /* refused and answered (admin log, throttle) */
	expires = r.expires_ms < now + con->ttl_ms ? r.expires_ms : now + con->ttl_ms;
	if ((cookie = api_console_cookie_value(r.token, now, con->key)) == NULL) {
		con_problem(req, TW_E_NOMEM, "%s", "out of memory");
		goto out;
	}
	con_set_cookie(req, cookie, (long)((expires - now) / 1000));
	body = con_session_json(con, &r.p, r.token, expires);
	con_json(req, 200, "OK", body);
	json_decref(body);
	tw_info("console: %s logged in from %s", r.p.name, r.p.client);
out:
	if (cookie != NULL) {
		tw_wipe(cookie, strlen(cookie));
		free(cookie);
	}
	tw_wipe(&r, sizeof(r));
}

/* The SHA-256 fingerprint of req's verified client certificate into fp; false if none. */
static bool con_peer_fingerprint(struct evhttp_request *req, char fp[65])
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
	struct tw_error err;

	fp[0] = '\0';
	return peer != NULL && SSL_get_verify_result(ssl) == X509_V_OK &&
		keys_cert_fingerprint(peer, fp, &err) == TW_OK;
}

/* A configured URL: https, no whitespace (a header), no quote or angle bracket (an XML
 * attribute; '&' is escaped where one goes into XML: con_xml_amp). */
static bool con_url_ok(const char *u)
{
	return strncmp(u, "https://", 8) == 0 && strlen(u) <= 1000 &&
		strpbrk(u, " \t\r\n\"<>'") == NULL;
}

/* u with every '&' as "&amp;" (malloc'ed; NULL when out of memory). */
static char *con_xml_amp(const char *u)
{
	size_t n = 0;
	char *out, *o;

	for (const char *p = u; *p != '\0'; p++)
		n += *p == '&' ? 5 : 1;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	o = out;
	for (const char *p = u; *p != '\0'; p++) {
		if (*p == '&') {
			memcpy(o, "&amp;", 5);
			o += 5;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* A context (tenant) name as the SAML paths take it: 1..STORE_ID_MAX of [A-Za-z0-9._-]. */
static bool con_context_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > STORE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
		    (t[i] >= '0' && t[i] <= '9') || t[i] == '.' || t[i] == '_' || t[i] == '-'))
			return false;
	return true;
}

/* What the InResponseTo check of one assertion-consumer post knows. */
struct con_irt {
	struct api_console *con;
	const char *context;           /* RelayState */
	char fingerprint[65];          /* this connection's client certificate */
};

/*
 * auth_saml_input.in_response_to_ok: "" (unsolicited) as [console] saml_unsolicited
 * says; otherwise the ID of a pending request of this console, for this context, started
 * over this client certificate, not expired. A match is used up (one answer per request).
 */
static bool con_saml_irt_ok(void *arg, const char *in_response_to)
{
	struct con_irt *c = arg;
	int64_t now = tw_now_ms();

	if (in_response_to[0] == '\0')
		return c->con->saml_unsolicited;
	for (size_t i = 0; i < CON_SAML_PENDING; i++) {
		struct con_saml_request *q = &c->con->pending[i];

		if (q->id[0] == '\0' || strcmp(q->id, in_response_to) != 0)
			continue;
		/* Found: used up whatever the outcome, so an ID is never tried twice. */
		bool ok = q->expires_ms > now && strcmp(q->context, c->context) == 0 &&
			CRYPTO_memcmp(q->fingerprint, c->fingerprint, 64) == 0;

		memset(q, 0, sizeof(*q));
		return ok;
	}
	return false;
}

/* Raw DEFLATE (RFC 1951, no zlib header) of in, as the HTTP-Redirect binding wants. */
static tw_rc con_deflate(const char *in, size_t len, unsigned char **out, size_t *out_len,
	struct tw_error *err)
{
	z_stream zs;
	uLong cap = compressBound((uLong)len) + 16;
	tw_rc rc = TW_OK;

	*out = NULL;
	*out_len = 0;
	memset(&zs, 0, sizeof(zs));
	if ((*out = malloc(cap)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INTERNAL, "zlib: cannot start DEFLATE");
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		rc = tw_error_set(err, TW_E_INTERNAL, "zlib: DEFLATE of the AuthnRequest failed");
		free(*out);
		*out = NULL;
	} else {
		*out_len = zs.total_out;
	}
	deflateEnd(&zs);
	return rc;
}

/*
 * The slot for a new request of certificate fp: a free or expired one; when fp has
 * CON_SAML_PER_CERT open already, its own oldest (so one operator's repeated starts never
 * push out another's login in progress while room is left); else the oldest of all.
 */
static struct con_saml_request *con_saml_slot(struct api_console *con, const char *fp,
	int64_t now)
{
	struct con_saml_request *free_slot = NULL, *own_oldest = NULL, *oldest = NULL;
	size_t own = 0;

	for (size_t i = 0; i < CON_SAML_PENDING; i++) {
		struct con_saml_request *q = &con->pending[i];

		if (q->id[0] == '\0' || q->expires_ms <= now) {
			if (free_slot == NULL)
				free_slot = q;
			continue;
		}
		if (oldest == NULL || q->seq < oldest->seq)
			oldest = q;
		if (strcmp(q->fingerprint, fp) == 0) {
			own++;
			if (own_oldest == NULL || q->seq < own_oldest->seq)
				own_oldest = q;
		}
	}
	if (own >= CON_SAML_PER_CERT)
		return own_oldest;
	return free_slot != NULL ? free_slot : oldest;
}

/*
 * The redirect to the identity provider's single sign-on URL with a new AuthnRequest
 * (SAML bindings 3.4, HTTP-Redirect, unsigned: the response's signature and the pending
 * request carry the security) for context, remembered as pending for fp. *location is
 * malloc'ed.
 */
static tw_rc con_saml_request(struct api_console *con, const char *sso, const char *context,
	const char *fp, char **location, struct tw_error *err)
{
	struct con_saml_request *q;
	const char *sp = tw_config_get(con->home->conf, "saml", "entity_id");
	unsigned char rnd[16], *raw = NULL;
	char id[sizeof(q->id)], instant[32], *xml = NULL, *b64 = NULL, *enc = NULL;
	char *dest = NULL, *acs = NULL;
	size_t raw_len = 0;
	time_t now = time(NULL);
	struct tm tm;
	tw_rc rc;

	*location = NULL;
	if (sp == NULL || strpbrk(sp, "\"<>&'") != NULL)
		return tw_error_set(err, TW_E_CONFIG, "SAML login is not configured: set [saml] "
			"entity_id (this GWA's entity id, without quotes, <, > or &)");
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for a request ID");
	/* An NCName: a letter or '_' first. */
	id[0] = '_';
	tw_hex_encode(rnd, sizeof(rnd), id + 1);
	gmtime_r(&now, &tm);
	strftime(instant, sizeof(instant), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* The values are configuration: URLs and entity id without quotes or brackets
	 * (con_url_ok, above), '&' escaped. */
	if ((dest = con_xml_amp(sso)) == NULL || (acs = con_xml_amp(con->acs_url)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	xml = tw_asprintf("<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
		"protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" "
		"Version=\"2.0\" IssueInstant=\"%s\" Destination=\"%s\" "
		"AssertionConsumerServiceURL=\"%s\" ProtocolBinding=\"urn:oasis:names:tc:SAML:"
		"2.0:bindings:HTTP-POST\"><saml:Issuer>%s</saml:Issuer></samlp:AuthnRequest>", id,
		instant, dest, acs, sp);
	if (xml == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = con_deflate(xml, strlen(xml), &raw, &raw_len, err)) != TW_OK ||
	    (rc = auth_b64_encode(raw, raw_len, &b64, err)) != TW_OK)
		goto out;
	if ((enc = evhttp_uriencode(b64, -1, 0)) == NULL ||
	    (*location = tw_asprintf("%s%sSAMLRequest=%s&RelayState=%s", sso,
	    strchr(sso, '?') != NULL ? "&" : "?", enc, context)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	q = con_saml_slot(con, fp, (int64_t)now * 1000);
	memset(q, 0, sizeof(*q));
	memcpy(q->id, id, sizeof(q->id));
	snprintf(q->context, sizeof(q->context), "%s", context);
	memcpy(q->fingerprint, fp, 65);
	q->expires_ms = (int64_t)now * 1000 + CON_SAML_REQUEST_TTL_MS;
	q->seq = ++con->pending_seq;
out:
	free(enc);
	free(b64);
	free(raw);
	free(xml);
	free(acs);
	free(dest);
	return rc;
}

/*
 * POST /console/saml/acs: the assertion consumer service of the SAML 2.0 HTTP-POST
 * binding (SAML bindings 3.5). The identity provider's page posts the form
 * SAMLResponse=base64(Response or Assertion)&RelayState=<context> from its own origin:
 * a cross-site POST, so neither the CSRF token nor the same-origin rule of the other
 * writes can apply here, and the browser sends no SameSite=Strict cookie with it. What
 * authenticates it is the assertion itself: signed by the context's identity provider,
 * Recipient = [console] saml_acs_url, answering a pending request of this context and
 * certificate (or unsolicited where allowed: con_saml_irt_ok), used once (the replay
 * cache of /v1/login/saml), and naming the operator whose client certificate this
 * connection presented (so nobody can log a victim's browser into another operator's
 * session).
 * Success: the console's cookie and 303 to the console (a same-origin navigation then
 * loads the page, whose requests carry the cookie). Refusals: the login's problem.
 */
static void con_saml_acs(struct api_console *con, struct evhttp_request *req)
{
	const size_t b64_max = (SAML_XML_MAX / 3 + 1) * 4 + 1;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req),
		"Content-Type");
	size_t n = in != NULL ? evbuffer_get_length(in) : 0, b64_len = 0, ctx_len = 0, k = 0;
	char *body = NULL, *b64 = NULL, context[STORE_ID_MAX + 1];
	unsigned char *xml = NULL;
	size_t xml_len = 0;
	struct api_login_result r;
	struct api_saml_door door;
	struct con_irt irt;
	struct tw_error err;
	int64_t now = tw_now_ms(), expires;
	char *cookie = NULL;
	tw_rc rc = TW_OK;

	memset(&r, 0, sizeof(r));
	memset(&door, 0, sizeof(door));
	memset(&irt, 0, sizeof(irt));
	if (con->acs_url == NULL) {
		rc = tw_error_set(&err, TW_E_CONFIG, "SAML login is not configured on this console: "
			"set [console] saml_acs_url (docs/console.md)");
		goto fail;
	}
	if (ctype == NULL || strncmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
		rc = tw_error_set(&err, TW_E_INVALID, "the assertion consumer takes an HTML form "
			"post (application/x-www-form-urlencoded: SAMLResponse, RelayState)");
		goto fail;
	}
	if (n == 0 || n > CON_BODY_MAX || (body = malloc(n + 1)) == NULL ||
	    (b64 = malloc(b64_max)) == NULL) {
		rc = tw_error_set(&err, n == 0 || n > CON_BODY_MAX ? TW_E_INVALID : TW_E_NOMEM,
			"%s", n == 0 || n > CON_BODY_MAX ? "the form post is empty or too large" :
			"out of memory");
		goto fail;
	}
	if (evbuffer_copyout(in, body, n) != (ev_ssize_t)n) {
		rc = tw_error_set(&err, TW_E_IO, "cannot read the form post");
		goto fail;
	}
	body[n] = '\0';
	if ((rc = api_console_form_field(body, n, "RelayState", context, sizeof(context),
	    &ctx_len, &err)) != TW_OK || !con_context_ok(context)) {
		rc = tw_error_set(&err, TW_E_INVALID, "RelayState must name the context (tenant) "
			"whose identity provider signs in: configure it as the relay state of "
			"Torwart's login at the identity provider");
		goto fail;
	}
	if ((rc = api_console_form_field(body, n, "SAMLResponse", b64, b64_max, &b64_len,
	    &err)) != TW_OK) {
		rc = rc == TW_E_NOMEM ? rc : TW_E_INVALID;    /* missing is a bad post, not 404 */
		goto fail;
	}
	/* Identity providers may wrap the base64 in lines (bindings 3.5.4 allows it). */
	for (size_t i = 0; i < b64_len; i++)
		if (b64[i] != '\r' && b64[i] != '\n' && b64[i] != ' ' && b64[i] != '\t')
			b64[k++] = b64[i];
	b64[k] = '\0';
	if (auth_b64_decode(b64, k, &xml, &xml_len, &err) != TW_OK) {
		rc = tw_error_set(&err, TW_E_INVALID, "saml_malformed: SAMLResponse must be base64 "
			"of the XML document");
		goto fail;
	}
	irt.con = con;
	irt.context = context;
	if (!con_peer_fingerprint(req, irt.fingerprint)) {
		rc = tw_error_set(&err, TW_E_DENIED, "a client certificate is required");
		goto fail;
	}
	door.recipient = con->acs_url;
	door.in_response_to_ok = con_saml_irt_ok;
	door.arg = &irt;
	if (!api_operator_login_saml(con->op, req, context, xml, xml_len, &door, &r))
		goto out;                       /* refused and answered (admin log, throttle) */
	expires = r.expires_ms < now + con->ttl_ms ? r.expires_ms : now + con->ttl_ms;
	if ((cookie = api_console_cookie_value(r.token, now, con->key)) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	con_set_cookie(req, cookie, (long)((expires - now) / 1000));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, 303, "See Other", NULL);
	tw_info("console: %s logged in with a SAML assertion (context %s) from %s", r.p.name,
		context, r.p.client);
	goto out;
fail:
	api_problem_send(req, rc, &err);
out:
	if (cookie != NULL) {
		tw_wipe(cookie, strlen(cookie));
		free(cookie);
	}
	if (xml != NULL) {
		tw_wipe(xml, xml_len);
		free(xml);
	}
	if (b64 != NULL) {
		tw_wipe(b64, b64_max);
		free(b64);
	}
	if (body != NULL) {
		tw_wipe(body, n);
		free(body);
	}
	tw_wipe(&r, sizeof(r));
}

/*
 * GET /console/saml/start?context=T: "Sign in with identity provider". With [saml]
 * idp_sso_url.T an AuthnRequest goes there (con_saml_request: pending for this context
 * and certificate); else the browser goes to the identity-provider-initiated login URL
 * [saml] idp_login_url.T. Configuration only, never a URL from the request, so this is
 * no open redirect; the identity provider posts the assertion back to the consumer.
 */
static void con_saml_start(struct api_console *con, struct evhttp_request *req)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq q;
	const char *context = NULL, *url = NULL, *sso = NULL;
	char key[32 + STORE_ID_MAX], *location = NULL;

	bool parsed = query != NULL;

	/* evhttp_parse_query_str initialises q (and empties it again on failure). */
	if (query == NULL || evhttp_parse_query_str(query, &q) != 0 ||
	    (context = evhttp_find_header(&q, "context")) == NULL || !con_context_ok(context)) {
		con_problem(req, TW_E_INVALID, "%s", "name the context: /console/saml/start?"
			"context=TENANT");
		goto out;
	}
	/* SP-initiated (an AuthnRequest to [saml] idp_sso_url.T) where configured, else the
	 * identity provider's own start ([saml] idp_login_url.T). */
	snprintf(key, sizeof(key), "idp_sso_url.%s", context);
	sso = tw_config_get(con->home->conf, "saml", key);
	snprintf(key, sizeof(key), "idp_login_url.%s", context);
	url = sso != NULL ? sso : tw_config_get(con->home->conf, "saml", key);
	if (con->acs_url == NULL || url == NULL || !con_url_ok(url)) {
		con_problem(req, TW_E_NOT_FOUND, "no identity provider login is configured for "
			"context %s on this console ([console] saml_acs_url and [saml] "
			"idp_sso_url.<context> or idp_login_url.<context>, an https URL)", context);
		goto out;
	}
	if (sso != NULL) {
		char fp[65];
		struct tw_error err;
		tw_rc rc;

		if (!con_peer_fingerprint(req, fp)) {
			con_problem(req, TW_E_DENIED, "%s", "a client certificate is required");
			goto out;
		}
		if ((rc = con_saml_request(con, sso, context, fp, &location, &err)) != TW_OK) {
			api_problem_send(req, rc, &err);
			goto out;
		}
		url = location;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", url);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evhttp_send_reply(req, 303, "See Other", NULL);
out:
	free(location);
	if (parsed)
		evhttp_clear_headers(&q);
}

/* The session token of req's cookie, or answer 401 and return false. */
static bool con_token(struct api_console *con, struct evhttp_request *req,
	char token[AUTH_TOKEN_LEN + 1])
{
	const char *cookie = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	struct tw_error err;

	if (api_console_cookie_token(cookie != NULL ? cookie : "", con->key, tw_now_ms(),
	    con->ttl_ms, token, &err) == TW_OK)
		return true;
	/* 401: the console shows its login form again. */
	con_set_cookie(req, "", 0);
	{
		json_t *body = api_problem_json(TW_E_DENIED, err.message);

		if (body != NULL) {
			json_object_set_new(body, "status", json_integer(401));
			json_object_set_new(body, "login", json_true());
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			"application/problem+json");
		evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
			"no-store");
		{
			struct evbuffer *out = evbuffer_new();
			char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

			if (out != NULL && text != NULL)
				evbuffer_add_printf(out, "%s\n", text);
			evhttp_send_reply(req, 401, "Unauthorized", out);
			free(text);
			if (out != NULL)
				evbuffer_free(out);
		}
		json_decref(body);
	}
	return false;
}

/*
 * A write must carry the session's CSRF token (X-CSRF-Token) and, when the browser says
 * where it comes from (Origin), come from this origin. Answers 403 and returns false.
 */
static bool con_csrf_ok(struct api_console *con, struct evhttp_request *req,
	const char *token)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *sent = evhttp_find_header(in, "X-CSRF-Token");
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	char want[65];
	bool ok;

	if (origin != NULL && (host == NULL || strncmp(origin, "https://", 8) != 0 ||
	    strcmp(origin + 8, host) != 0)) {
		con_problem(req, TW_E_DENIED, "%s", "a write from another origin is refused");
		return false;
	}
	api_console_csrf(token, con->key, want);
	ok = sent != NULL && strlen(sent) == 64 && CRYPTO_memcmp(sent, want, 64) == 0;
	tw_wipe(want, sizeof(want));
	if (!ok)
		con_problem(req, TW_E_DENIED, "%s", sent == NULL ? "the X-CSRF-Token header is "
			"missing (reload the console)" : "the X-CSRF-Token header is wrong (reload "
			"the console)");
	return ok;
}

static void con_session(struct api_console *con, struct evhttp_request *req,
	const char *token, bool logout)
{
	struct auth_principal p;
	struct tw_error err;
	json_t *body;
	tw_rc rc;

	/* The operator session itself: certificate binding, expiry, revocation, roles now. */
	{
		struct evhttp_connection *evcon = evhttp_request_get_connection(req);
		char fp[65] = "", *addr = NULL;
		ev_uint16_t port = 0;

		if (!con_peer_fingerprint(req, fp)) {
			con_problem(req, TW_E_DENIED, "%s", "a client certificate is required");
			return;
		}
		if (evcon != NULL)
			evhttp_connection_get_peer(evcon, &addr, &port);
		rc = auth_session_check(con->store, token, strlen(token), fp,
			addr != NULL ? addr : "?", 0, &p, &err);
	}
	if (rc != TW_OK) {
		con_set_cookie(req, "", 0);
		api_problem_send(req, rc, &err);
		return;
	}
	if (logout) {
		if ((rc = auth_session_logout(con->store, &p, &err)) != TW_OK) {
			api_problem_send(req, rc, &err);
		} else {
			con_set_cookie(req, "", 0);
			body = json_pack("{s:s}", "status", "logged out");
			con_json(req, 200, "OK", body);
			json_decref(body);
		}
	} else {
		body = con_session_json(con, &p, token, 0);
		con_json(req, 200, "OK", body);
		json_decref(body);
	}
	memset(&p, 0, sizeof(p));
}

static void con_request(struct evhttp_request *req, void *arg)
{
	struct api_console *con = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	char token[AUTH_TOKEN_LEN + 1] = "";

	conn_guard_request_dispatched(req);
	con_headers(req);
	if (path == NULL)
		path = "";
	if (cmd == EVHTTP_REQ_GET) {
		for (size_t i = 0; i < sizeof(con_files) / sizeof(con_files[0]); i++)
			if (strcmp(path, con->files[i].path) == 0) {
				con_static(con, req, &con->files[i]);
				return;
			}
	}
	if (strcmp(path, "/console/login") == 0 && cmd == EVHTTP_REQ_POST) {
		const char *origin = evhttp_find_header(evhttp_request_get_input_headers(req),
			"Origin"), *host = evhttp_find_header(evhttp_request_get_input_headers(req),
			"Host");

		/* No session yet, so no CSRF token: the same-origin rule guards the login. */
		if (origin != NULL && (host == NULL || strncmp(origin, "https://", 8) != 0 ||
		    strcmp(origin + 8, host) != 0))
			con_problem(req, TW_E_DENIED, "%s", "a login from another origin is refused");
		else
			con_login(con, req);
		return;
	}
	/* Cross-site by design (the identity provider's form): see con_saml_acs. */
	if (strcmp(path, "/console/saml/acs") == 0 && cmd == EVHTTP_REQ_POST) {
		con_saml_acs(con, req);
		return;
	}
	if (strcmp(path, "/console/saml/start") == 0 && cmd == EVHTTP_REQ_GET) {
		con_saml_start(con, req);
		return;
	}
	if (strcmp(path, "/console/session") == 0 && cmd == EVHTTP_REQ_GET) {
		if (con_token(con, req, token))
			con_session(con, req, token, false);
		goto out;
	}
	if (strcmp(path, "/console/logout") == 0 && cmd == EVHTTP_REQ_POST) {
		if (con_token(con, req, token) && con_csrf_ok(con, req, token))
			con_session(con, req, token, true);
		goto out;
	}
	/* The operator API; its own login and logout are the console's above. */
	if (strncmp(path, "/v1/", 4) == 0 && strcmp(path, "/v1/login") != 0 &&
	    strcmp(path, "/v1/logout") != 0 &&
	    (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_POST)) {
		if (con_token(con, req, token) &&
		    (cmd == EVHTTP_REQ_GET || con_csrf_ok(con, req, token)))
			api_operator_serve(con->op, req, token);
		goto out;
	}
	con_problem(req, TW_E_NOT_FOUND, "%s", "no such page");
out:
	tw_wipe(token, sizeof(token));
}

/* ---------------- listener ---------------- */

static void con_info_cb(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (where & SSL_CB_HANDSHAKE_DONE)
		conn_guard_authenticated(ssl);
}

static struct bufferevent *con_bevcb(struct event_base *base, void *arg)
{
	struct api_console *con = arg;
	SSL *ssl = SSL_new(con->ssl_ctx);
	X509_STORE *vs = api_operator_verify_store(con->op);

	if (ssl != NULL && (vs == NULL || SSL_set1_verify_cert_store(ssl, vs) != 1)) {
		SSL_free(ssl);
		ssl = NULL;
	}
	if (ssl != NULL)
		SSL_set_info_callback(ssl, con_info_cb);
	/* A plain bufferevent on failure: every handler then refuses. */
	return conn_guard_tls_bev(con->guard, base, ssl, NULL, NULL, "console");
}

/* The server key must be ECDSA on P-256 or P-384: what browsers and TR-03116-4 share. */
static tw_rc con_check_key(SSL_CTX *ctx, const char *cert, struct tw_error *err)
{
	EVP_PKEY *pk = SSL_CTX_get0_privatekey(ctx);
	char group[64] = "";
	size_t n = 0;

	if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), &n) != 1 ||
	    (strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0))
		return tw_error_set(err, TW_E_CONFIG, "the console certificate %s has a %s key; "
			"browsers need ECDSA on P-256 or P-384 (brainpool is for the SM-PKI "
			"interfaces; docs/console.md shows how to make one)", cert,
			group[0] != '\0' ? group : "non-EC");
	return TW_OK;
}

static tw_rc con_tls(struct api_console *con, const char *cert, const char *key,
	const char *chain, const char *ca, struct tw_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509_NAME) *names = NULL;
	/* A key file (homes made before the key moved into the signer, or a web PKI's key
	 * configured as [console] tls_key), else the signer's console-tls key. */
	bool key_file = tw_path_exists(key);
	EVP_PKEY *pk = NULL;
	tw_rc rc;

	if (ctx == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot create the console TLS context");
	con->ssl_ctx = ctx;
	if (!tw_path_exists(cert) || (!key_file && tls_signer_key_socket() == NULL))
		return tw_error_set(err, TW_E_CONFIG, "[console] listen is set but the console "
			"certificate %s or its key (the signer's '%s', or a file %s) is missing (an "
			"ECDSA P-256 certificate your browsers trust: torwart console tls; "
			"docs/console.md)", cert, SIGNER_KEY_CONSOLE_TLS, key);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, CON_TLS12_CIPHERS) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, CON_TLS13_SUITES) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, CON_TLS_GROUPS) != 1 ||
	    SSL_CTX_set1_sigalgs_list(ctx, CON_TLS_SIGALGS) != 1 ||
	    SSL_CTX_set1_client_sigalgs_list(ctx, CON_TLS_SIGALGS) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot set the console TLS profile");
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot use the console certificate %s",
			cert);
	if (key_file) {
		tw_warn("WARNING: the console's TLS key %s is a file that this process can read; "
			"move it into the signer (`torwart ca tls-key-import --home DIR --key %s "
			"--label %s`, which wipes the file; docs/security.md)", key, key,
			SIGNER_KEY_CONSOLE_TLS);
		if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
			return tw_error_set_openssl(err, TW_E_TLS, "cannot use the console key %s", key);
	} else {
		/* Handshake signatures are the signer's (tls_signer_key.h); only the public key
		 * and the label are here. */
		if ((rc = tls_signer_key_new(tls_signer_key_socket(), SIGNER_KEY_CONSOLE_TLS,
		    SSL_CTX_get0_certificate(ctx), &pk, err)) != TW_OK)
			return rc;
		if (SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
			EVP_PKEY_free(pk);
			return tw_error_set_openssl(err, TW_E_TLS, "cannot use the signer's key '%s' "
				"for the console", SIGNER_KEY_CONSOLE_TLS);
		}
		EVP_PKEY_free(pk);
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "the console certificate %s and its key "
			"(%s) do not belong together", cert, key_file ? key : SIGNER_KEY_CONSOLE_TLS);
	if (chain != NULL) {
		X509 *x = NULL;
		BIO *bio = BIO_new_file(chain, "r");

		while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
			if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1)
				X509_free(x);
		BIO_free(bio);
		ERR_clear_error();
	}
	if ((rc = con_check_key(ctx, cert, err)) != TW_OK)
		return rc;
	/* The browser offers only certificates of the operator CA. */
	if ((names = SSL_load_client_CA_file(ca)) == NULL)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot read the operator CA %s", ca);
	SSL_CTX_set_client_CA_list(ctx, names);
	/* As on the operator listener: no resumption (a revoked certificate would resume). */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		api_operator_verify_cb);
	SSL_CTX_set_verify_depth(ctx, 3);
	return TW_OK;
}

static tw_rc con_load_files(struct api_console *con, const char *dir, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < sizeof(con_files) / sizeof(con_files[0]) && rc == TW_OK; i++) {
		char *path = tw_asprintf("%s/%s", dir, con_files[i].name);

		con->files[i] = con_files[i];
		if (path == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		rc = tw_read_file(path, CON_STATIC_MAX, &con->files[i].data, &con->files[i].len,
			err);
		if (rc != TW_OK)
			rc = tw_error_set(err, TW_E_CONFIG, "the console's file %s cannot be read "
				"(%s); set [console] web_dir to the installed web/ directory", path,
				err->message);
		free(path);
	}
	return rc;
}

/* Without [console] web_dir: next to the installed programs (PREFIX/share/torwart/web). */
static char *con_default_web_dir(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return tw_strdup("/usr/share/torwart/web");
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	return tw_asprintf("%s/share/torwart/web", self);
}

tw_rc api_console_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct api_operator *op, struct api_console **out,
	struct tw_error *err)
{
	const char *listen = tw_config_get(home->conf, "console", "listen");
	const char *web = tw_config_get(home->conf, "console", "web_dir");
	struct conn_guard_limits lim;
	struct api_console *con = NULL;
	char *cert = NULL, *key = NULL, *chain = NULL, *ca = NULL, *host = NULL, *dir = NULL;
	uint16_t port = 0;
	long ttl = 0;
	tw_rc rc;

	*out = NULL;
	if (listen == NULL)
		return TW_OK;
	if (op == NULL)
		return tw_error_set(err, TW_E_CONFIG, "[console] listen needs the operator API: "
			"set [api] tls_listen too (the console uses its login and routes)");
	if ((con = calloc(1, sizeof(*con))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	con->home = home;
	con->store = store;
	con->op = op;
	if ((rc = tw_parse_hostport(listen, &host, &port, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "console", "session_ttl",
	    CON_DEFAULT_SESSION_TTL, 5, 86400, &ttl, err)) != TW_OK ||
	    (rc = conn_guard_limits_load(home->conf, "console", "", CON_DEFAULT_MAX_CONNS,
	    CON_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK)
		goto out;
	con->ttl_ms = ttl * 1000;
	{
		const char *acs = tw_config_get(home->conf, "console", "saml_acs_url");

		/* The URL the identity provider posts to: the Recipient assertions must name. */
		const char *uns = tw_config_get(home->conf, "console", "saml_unsolicited");

		if (acs != NULL && !con_url_ok(acs)) {
			rc = tw_error_set(err, TW_E_CONFIG, "[console] saml_acs_url must be the "
				"console's https URL of /console/saml/acs as the identity provider "
				"posts to it (at most 1000 characters, no spaces, quotes, <, > or &)");
			goto out;
		}
		if (acs != NULL && (con->acs_url = tw_strdup(acs)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if (uns != NULL && strcmp(uns, "true") != 0 && strcmp(uns, "false") != 0) {
			rc = tw_error_set(err, TW_E_CONFIG, "[console] saml_unsolicited must be true "
				"or false");
			goto out;
		}
		con->saml_unsolicited = uns == NULL || strcmp(uns, "true") == 0;
	}
	if (RAND_bytes(con->key, sizeof(con->key)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for the console key");
		goto out;
	}
	cert = tw_home_path(home, "console", "tls_cert", CON_DEFAULT_TLS_CERT);
	key = tw_home_path(home, "console", "tls_key", CON_DEFAULT_TLS_KEY);
	chain = tw_config_get(home->conf, "console", "tls_chain") != NULL ?
		tw_home_path(home, "console", "tls_chain", "") : NULL;
	ca = tw_home_join(home, "pki/operator-ca.crt");
	dir = web != NULL ? tw_home_path(home, "console", "web_dir", "") : con_default_web_dir();
	if (cert == NULL || key == NULL || ca == NULL || dir == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = con_tls(con, cert, key, chain, ca, err)) != TW_OK ||
	    (rc = con_load_files(con, dir, err)) != TW_OK ||
	    (rc = conn_guard_new("console", &lim, &con->guard, err)) != TW_OK)
		goto out;
	if ((con->http = evhttp_new(base)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create the console's HTTPS server");
		goto out;
	}
	evhttp_set_max_headers_size(con->http, 16 * 1024);
	evhttp_set_max_body_size(con->http, CON_BODY_MAX);
	evhttp_set_timeout(con->http, 30);
	evhttp_set_allowed_methods(con->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_bevcb(con->http, con_bevcb, con);
	evhttp_set_gencb(con->http, con_request, con);
	if (evhttp_bind_socket(con->http, host, port) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s:%u (in use? see [console] "
			"listen)", host, port);
		goto out;
	}
	tw_info("web console (HTTPS, ECDSA, client certificates) listening on %s:%u", host,
		port);
	*out = con;
	con = NULL;
out:
	api_console_free(con);
	free(cert);
	free(key);
	free(chain);
	free(ca);
	free(dir);
	free(host);
	return rc;
}

void api_console_free(struct api_console *con)
{
	if (con == NULL)
		return;
	if (con->http != NULL)
		evhttp_free(con->http);
	SSL_CTX_free(con->ssl_ctx);
	conn_guard_free(con->guard);
	for (size_t i = 0; i < sizeof(con->files) / sizeof(con->files[0]); i++)
		free(con->files[i].data);
	tw_wipe(con->key, sizeof(con->key));
	free(con->acs_url);
	free(con);
}
