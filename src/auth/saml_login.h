/*
 * saml_login.h: SAML 2.0 login to the certificate-management context (issue 12, DOMAIN.md
 * S-8; docs/security.md "SAML login"): a signed assertion of the context's identity
 * provider, presented over the api's mutually authenticated TLS, opens the same session
 * the password/TOTP login opens.
 *
 * The mapping: NameID = the name of an operator of the context's tenant; the roles are
 * the operator's configured roles (an attribute of the identity provider never widens
 * them). The TLS client certificate of the connection must be that operator's own: the
 * assertion replaces the second factor (password/TOTP), not the certificate, so a stolen
 * assertion alone opens nothing and the session is bound to the certificate as any other.
 */
#ifndef TORWART_AUTH_SAML_LOGIN_H
#define TORWART_AUTH_SAML_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "auth/cred.h"
#include "auth/saml.h"
#include "base/error.h"
#include "store/store.h"

struct auth_saml_input {
	const char *xml;                /* the assertion or Response (XML), len bytes */
	size_t len;
	const char *tenant;             /* the context whose identity provider issued it */
	const char *cert_fingerprint;   /* SHA-256 hex of the verified TLS client certificate */
	int64_t cert_not_after;         /* seconds; 0: unknown */
	const char *client;             /* peer address */
	const char *audience;           /* this GWA's entity id ([saml] entity_id) */
	const char *recipient;          /* the console's ACS URL (saml_expect.recipient);
	                                 * NULL for the api's POST /v1/login/saml */
	/*
	 * The assertion's InResponseTo (verified; "" when unsolicited). NULL: this door sent
	 * no AuthnRequest, so a non-empty one is refused and "" accepted. Else called once the
	 * operator and certificate checks passed; false refuses (saml_in_response_to). The
	 * console consumes its pending request there (api_console.c).
	 */
	bool (*in_response_to_ok)(void *arg, const char *in_response_to);
	void *in_response_to_arg;
	long skew_s;                    /* allowed clock difference ([saml] skew_s) */
	int64_t now_ms;                 /* 0: the wall clock */
};

/*
 * Verify (auth/saml.h), check InResponseTo (in_response_to_ok; without it an answer to
 * an AuthnRequest is refused: saml_in_response_to), use the assertion ID once (store_saml_replay_use, until its
 * NotOnOrAfter plus skew), map NameID to the operator and open a session. Every accepted
 * and refused login is one "auth.login" admin-log entry with actor
 * saml:<issuer>:<NameID> (the NameID only once the signature is good) and the typed code
 * in the detail. TW_E_DENIED: refused, *why the typed reason (saml_refusal_code) and err
 * "saml_...: why". TW_E_CONFIG: SAML login not configured (no audience). On success as
 * auth_login: *p, token (the only copy; caller hands it out and wipes it), *expires_ms.
 */
tw_rc auth_saml_login(struct tw_store *store, const struct auth_settings *s,
	const struct auth_saml_input *in, struct auth_principal *p,
	char token[AUTH_TOKEN_LEN + 1], int64_t *expires_ms, enum saml_refusal *why,
	struct tw_error *err);

/*
 * Configure the identity provider of context tenant: its entity id and certificate (one
 * PEM certificate, currently valid). Replaces an earlier one. One transaction with the
 * admin-log entry "context.idp-set" (object "context:<tenant>") as actor/role/client.
 */
tw_rc auth_saml_idp_set(struct tw_store *store, const char *tenant, const char *entity_id,
	const unsigned char *pem, size_t len, const char *actor, const char *role,
	const char *client, struct tw_error *err);
/* Remove it ("context.idp-remove"); TW_E_NOT_FOUND when there is none. */
tw_rc auth_saml_idp_remove(struct tw_store *store, const char *tenant, const char *actor,
	const char *role, const char *client, struct tw_error *err);

#endif
