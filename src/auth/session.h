/*
 * session.h: operator login (client certificate + second factor, S-10), failed-login
 * throttling and alerts, and session tokens (short-lived, stored hashed, bound to the
 * client certificate, revocable).
 */
#ifndef TORWART_AUTH_SESSION_H
#define TORWART_AUTH_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/cred.h"
#include "base/error.h"
#include "store/store.h"

/*
 * A client address (IP, never IP:port) may fail this many times max_failures before it
 * is locked: more than one operator, as behind a jump host, may log in from it.
 */
#define AUTH_ADDRESS_FAILURES_FACTOR 4

/* What the api learned from the TLS handshake and the login request. */
struct auth_login_input {
	const char *cert_fingerprint;   /* SHA-256 hex of the verified client certificate */
	int64_t cert_not_after;         /* seconds; from the certificate */
	const char *client;             /* peer address */
	const char *password;           /* one of password / totp; borrowed, never logged */
	size_t password_len;
	const char *totp;
	int64_t now_ms;                 /* 0: the wall clock (tests pass a fixed time) */
	const struct secretbox *box;    /* the home's data key: opens sealed TOTP keys and
	                                 * reseals plain ones (cred.h); NULL: plain rows only */
	/*
	 * Enrolment (the first login of an operator added through the api): the one-time
	 * code delivered out of band. With it, `password` is the operator's NEW password
	 * (factor password), or a new TOTP key is generated into totp_key_out (33 bytes,
	 * factor totp; shown once to the operator, then wiped by the caller). The code
	 * works once and only with the operator's own client certificate.
	 */
	const char *enrol_code;
	char *totp_key_out;
};

/*
 * A new session of operator op (both login paths: password/TOTP and SAML): token gets the
 * token text (the only copy of the secret; the caller hands it out and wipes it), *ses
 * the row to store (only the secret's hash), expiring [auth] session_ttl_s from now.
 */
struct auth_token;
struct store_operator;
struct store_session;
tw_rc auth_session_new(const struct auth_settings *s, const struct store_operator *op,
	const char *client, int64_t now, struct auth_token *tok, struct store_session *ses,
	char token[AUTH_TOKEN_LEN + 1], struct tw_error *err);

/*
 * Authenticate and open a session. Refused logins (TW_E_DENIED) are counted per
 * operator and per client address and written to the admin log with the reason; once a
 * counter reaches max_failures within failure_window, further attempts are refused
 * without checking the factor until the window ends, and a "failed-login-burst" alert
 * goes to the security-officer role. A TOTP key still stored in the clear (a row from
 * before sealing) is sealed with in->box in the transaction of the successful login.
 * An operator whose enrolment is pending is refused unless in->enrol_code is right;
 * then its first secret is set (see enrol_code above), "operator.enrol" is logged, and
 * the login proceeds. A wrong code counts as a failed login.
 * On success: *p is the principal, token the session
 * token text (the only copy of the secret; the caller hands it out and wipes it),
 * *expires_ms its expiry.
 */
tw_rc auth_login(struct tw_store *store, const struct auth_settings *s,
	const struct auth_login_input *in, struct auth_principal *p,
	char token[AUTH_TOKEN_LEN + 1], int64_t *expires_ms, struct tw_error *err);

/*
 * The principal of a request carrying token text (len bytes) over a TLS connection with
 * client certificate cert_fingerprint. TW_E_DENIED for a forged, unknown, expired or
 * revoked token, a token presented with another certificate, or a disabled operator;
 * refusals are logged (action "auth.token"). Roles and tenant come from the operator
 * row at each call, so a role change or disabling applies at once.
 */
tw_rc auth_session_check(struct tw_store *store, const char *token, size_t len,
	const char *cert_fingerprint, const char *client, int64_t now_ms,
	struct auth_principal *p, struct tw_error *err);

/* End p's session (logout); logged. */
tw_rc auth_session_logout(struct tw_store *store, const struct auth_principal *p,
	struct tw_error *err);

#endif
