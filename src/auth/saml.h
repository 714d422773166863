/*
 * saml.h: verification of a signed SAML 2.0 assertion (issue 12, DOMAIN.md S-8: "the
 * management service authenticates a GWA by a SAML token of a trusted identity
 * provider"; docs/security.md "SAML login"). Outside bytes in, a checked assertion out.
 *
 * What is accepted: a <saml:Assertion> or a <samlp:Response> (status Success) holding
 * exactly one, with one enveloped XML signature (libxmlsec1, OpenSSL backend) over the
 * Assertion or over the Response that holds it, or one over each (both verified), by
 * the identity provider's certificate. The defences, each tied to a known SAML attack:
 *   - signature wrapping: IDs are registered only on the Assertion and the Response
 *     (xmlAddID, duplicates refused), the one Reference must point to "#<ID>" of the
 *     signature's own parent, and every field is read from that very node;
 *   - XXE / entity expansion: a document with a DTD or an entity is refused before and
 *     after parsing; the parser runs without network, entity substitution or DTD loading;
 *     SAML_XML_MAX bytes at most; nesting and node counts bounded;
 *   - comment truncation of NameID: NameID, Issuer and Audience must be one text node;
 *   - algorithms: RSA or ECDSA with SHA-256/384/512 and exclusive (or inclusive 1.0)
 *     canonicalisation only: SHA-1, HMAC, XPath and XSLT transforms are refused; the key is
 *     the configured certificate's, never a KeyInfo of the document;
 *   - Issuer = the configured entity id, Audience = this GWA's entity id, NotBefore /
 *     NotOnOrAfter (Conditions and the bearer SubjectConfirmationData) with skew_s.
 * One-time use (the replay cache) is the caller's (auth/saml_login.h): out->id and
 * out->expires_ms say what to remember until when.
 */
#ifndef TORWART_AUTH_SAML_H
#define TORWART_AUTH_SAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SAML_XML_MAX        (32 * 1024)   /* an assertion of a few KiB; room for a chain */
#define SAML_TEXT_MAX       256           /* NameID, Issuer, Audience, IDs */
#define SAML_SKEW_DEFAULT_S 60

/* Why an assertion was refused: the typed code of the api's problem and the admin log. */
enum saml_refusal {
	SAML_OK = 0,
	SAML_MALFORMED,        /* saml_malformed: not a SAML 2.0 assertion we accept */
	SAML_ENTITY,           /* saml_entity: a DTD or entity (XXE, entity expansion) */
	SAML_UNSIGNED,         /* saml_unsigned: no signature */
	SAML_WRAPPING,         /* saml_wrapping: the signature does not cover the assertion */
	SAML_SIGNATURE,        /* saml_signature: bad signature, key or algorithm */
	SAML_ISSUER,           /* saml_issuer: another identity provider */
	SAML_AUDIENCE,         /* saml_audience: meant for another service provider */
	SAML_EXPIRED,          /* saml_expired */
	SAML_NOT_YET_VALID,    /* saml_not_yet_valid */
	SAML_SUBJECT,          /* saml_subject: no bearer subject confirmation / NameID */
	SAML_REPLAYED,         /* saml_replayed: the assertion ID was used already */
	SAML_IDP,              /* saml_idp: no identity provider configured for the context */
	SAML_OPERATOR,         /* saml_operator: NameID is no usable operator of the context */
	SAML_CERTIFICATE,      /* saml_certificate: the TLS client certificate is not the
	                        * operator's */
	SAML_RECIPIENT,        /* saml_recipient: the bearer confirmation's Recipient (or the
	                        * Response's Destination) is not this endpoint */
	SAML_IN_RESPONSE_TO,   /* saml_in_response_to: an answer to an AuthnRequest Torwart
	                        * did not send (Torwart sends none) */
};

/*
 * Initialise libxml2 and libxmlsec1 (OpenSSL backend) once per process; idempotent. A
 * service calls it at start, before its sandbox closes (the libraries may read their
 * configuration); saml_parse/saml_verify call it too.
 */
tw_rc saml_library_init(struct tw_error *err);

/* "saml_signature" etc.; never NULL. */
const char *saml_refusal_code(enum saml_refusal r);

struct saml_assertion {
	char id[SAML_TEXT_MAX + 1];        /* the Assertion's ID */
	char issuer[SAML_TEXT_MAX + 1];
	char name_id[SAML_TEXT_MAX + 1];
	int64_t not_before_ms;             /* 0: none */
	int64_t expires_ms;                /* earliest NotOnOrAfter (required) */
	/* InResponseTo of the Response or the bearer confirmation ("" when unsolicited);
	 * filled by saml_verify only (saml_refusal SAML_MALFORMED when the two differ). */
	char in_response_to[SAML_TEXT_MAX + 1];
};

/* What the assertion must satisfy. */
struct saml_expect {
	const char *idp_cert_pem;          /* the identity provider's certificate (PEM) */
	size_t idp_cert_len;
	const char *issuer;                /* its entity id */
	const char *audience;              /* this GWA's entity id */
	int64_t now_ms;
	long skew_s;
	/*
	 * The URL the assertion was posted to (the web console's assertion consumer service,
	 * SAML profiles 4.1.4.2 / bindings 3.5.5.2), or NULL. When set, the bearer
	 * SubjectConfirmationData must carry Recipient = recipient and a Response's
	 * Destination, when present, must equal it too (saml_recipient). NULL (the api's
	 * POST /v1/login/saml, which is no browser binding) checks neither.
	 */
	const char *recipient;
};

/*
 * Parse and check the structure only (no cryptography, no time): the attacks above that
 * need no key (DTD, entities, several assertions or signatures, wrapping shapes, comments
 * in NameID) are refused here; out is filled from the assertion node. The fuzz target's
 * entry. TW_E_DENIED with *why set for refused input, TW_E_NOMEM.
 */
tw_rc saml_parse(const char *xml, size_t len, struct saml_assertion *out,
	enum saml_refusal *why, struct tw_error *err);

/*
 * saml_parse plus the signature by x->idp_cert_pem and the issuer, audience, time and
 * subject checks. TW_OK: out is the verified assertion. TW_E_DENIED: *why says which
 * check failed, err the detail (no secret in it). TW_E_CONFIG: the certificate cannot be
 * loaded.
 */
tw_rc saml_verify(const char *xml, size_t len, const struct saml_expect *x,
	struct saml_assertion *out, enum saml_refusal *why, struct tw_error *err);

/* xs:dateTime in UTC ("2026-12-07T12:00:00Z", optional fraction) to ms; false if not. */
bool saml_time_parse(const char *s, int64_t *ms);

#endif
