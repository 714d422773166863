/*
 * api_console.h: the web console (issue 15, section 2), a listener of its own in the api
 * process ([console] listen) with a browser-capable TLS profile: an ECDSA P-256 or P-384
 * server certificate ([console] tls_cert / tls_key), TLS 1.2 and 1.3 with the suites of
 * BSI TR-03116-4 only, groups P-256 and P-384 (browsers have no brainpool; brainpool
 * stays on the SM-PKI interfaces). Operators present their operator-CA client
 * certificate (P-256 keys for browsers: `torwart operator keygen --curve P-256`) exactly
 * as on the operator listener, whose CA, CRL and revocation checks are reused.
 *
 * What it serves:
 *   GET  /, /console.css, /console.js     the static console (web/, loaded at start)
 *   POST /console/login                   operator login (api_operator_login): session
 *                                         cookie (__Host-, Secure, HttpOnly,
 *                                         SameSite=Strict, Max-Age) and a CSRF token
 *   GET  /console/session                 who is logged in, and the CSRF token again
 *   POST /console/logout                  ends the session, clears the cookie
 *   POST /console/saml/acs                the SAML 2.0 HTTP-POST binding's assertion
 *                                         consumer ([console] saml_acs_url): form fields
 *                                         SAMLResponse and RelayState (the context),
 *                                         verified by api_operator_login_saml (the same
 *                                         verifier and replay cache as /v1/login/saml),
 *                                         then the same cookie; 303 to the console
 *   GET  /console/saml/start?context=T    303 to the context's identity provider:
 *                                         an AuthnRequest (HTTP-Redirect binding) to
 *                                         [saml] idp_sso_url.T, or [saml]
 *                                         idp_login_url.T; the operator signs in there
 *                                         and is posted back to the consumer
 *   GET/POST /v1/...                      the operator API itself (api_operator_serve):
 *                                         the same routes, role, tenant and four-eyes
 *                                         checks; POSTs need the X-CSRF-Token header
 * Every answer carries a strict Content-Security-Policy (no inline script or style, no
 * other origin), nosniff, no framing, no referrer, HSTS. docs/console.md describes it.
 */
#ifndef TORWART_API_API_CONSOLE_H
#define TORWART_API_API_CONSOLE_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct api_operator;
struct api_console;

/*
 * Start the console on base when [console] listen is set (*out NULL and TW_OK when not).
 * op is the operator listener (required: the console is its second door); home, store
 * and op are borrowed for the console's lifetime. Free with api_console_free.
 */
tw_rc api_console_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct api_operator *op, struct api_console **out,
	struct tw_error *err);
void api_console_free(struct api_console *con);

/*
 * The console's cookie value: "<token>.<issued_ms>.<mac>", mac the hex HMAC-SHA256 under
 * key (32 bytes) of "<token>.<issued_ms>". Parsing outside bytes: fuzzed
 * (tests/fuzz/fuzz_console_cookie.c). api_console_cookie_token finds the console's cookie
 * in a Cookie header, checks its MAC and that it was issued at most ttl_ms before now_ms
 * (and not in the future), and copies the token into token (AUTH_TOKEN_LEN + 1 bytes).
 * TW_E_DENIED with the reason otherwise; token is then "".
 */
#define API_CONSOLE_COOKIE "__Host-torwart"
tw_rc api_console_cookie_token(const char *cookie_header, const unsigned char key[32],
	int64_t now_ms, int64_t ttl_ms, char *token, struct tw_error *err);
/* The cookie value for token issued at issued_ms (caller frees, wipes). */
char *api_console_cookie_value(const char *token, int64_t issued_ms,
	const unsigned char key[32]);
/* The CSRF token of a session: hex HMAC-SHA256 of "csrf:<token>" (65 bytes with NUL). */
void api_console_csrf(const char *token, const unsigned char key[32], char out[65]);

/*
 * One field of an application/x-www-form-urlencoded body (the HTML "urlencoded" format:
 * fields split on '&', name and value on the first '=', '+' is a space, %XX a byte).
 * Parsing outside bytes: fuzzed (tests/fuzz/fuzz_console_form.c). Copies the decoded
 * value of the field name into out (out_size bytes with the NUL; *out_len its length).
 * TW_E_NOT_FOUND: no such field; TW_E_INVALID: the field comes twice (which one would
 * count is ambiguous), a percent escape is malformed, the value holds a NUL byte, or it
 * does not fit. out is "" on every failure.
 */
tw_rc api_console_form_field(const char *body, size_t len, const char *name, char *out,
	size_t out_size, size_t *out_len, struct tw_error *err);

#endif
