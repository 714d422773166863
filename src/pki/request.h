/*
 * request.h: parse and validate SM-PKI certificate requests: CRMF CertReqMessages
 * (RFC 4211) inside the BSI wrappers, with the optional GWA authorisation layer of SMGW
 * requests. The encodings are specified in docs/pki-requests.md.
 *
 *   initial   SEQUENCE { id-bsiCertReqMsgs 0.4.0.127.0.7.4.1.1.1, [0] CertReqMessages }
 *   renewal   SEQUENCE { id-bsiCertReqMsgsWithOuterSig 0.4.0.127.0.7.4.1.1.2,
 *                        [0] SignedData (eContentType id-bsiCertReqMsgs,
 *                                        eContent CertReqMessages,
 *                                        signed with the requester's current SIG key) }
 *   SMGW      ContentInfo id-signedData: SignedData (eContentType id-data, eContent the
 *             complete initial or renewal request above, one SignerInfo of the
 *             responsible GWA's SIG certificate, made through the signer with purpose
 *             "authorisation")
 *
 * Each CertReqMsg carries a signature proof of possession; its type (TLS/SIG/ENC) is read
 * from the template's key usage / EKU, as in the independent reference request:
 *   keyEncipherment or keyAgreement               -> ENC
 *   digitalSignature + EKU (serverAuth/clientAuth) -> TLS
 *   digitalSignature without EKU                   -> SIG
 *
 * Every rejection gives exactly one WSDL code (result.h) and a message. The parser does
 * everything that needs no store; what needs the store is left to the caller:
 *   - the status of the certificates that made the renewal's outer signature and the
 *     authorisation signature (issued by this CA, valid, not revoked, right owner/role):
 *     the check_signer callback below;
 *   - replay detection: compare struct request.digest with the digests already seen and
 *     answer PKI_FAILURE_REQUEST_NOT_ACCEPTED;
 *   - whether the participant is registered and the subject matches the registration.
 */
#ifndef TORWART_PKI_REQUEST_H
#define TORWART_PKI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/error.h"
#include "pki/profile.h"
#include "pki/result.h"

#define REQUEST_MAX_BYTES (64 * 1024)     /* larger input: failure_syntax, TW_E_TOO_LARGE */
#define REQUEST_MAX_ENTRIES 3             /* one CertReqMsg per type TLS, SIG, ENC */
#define REQUEST_DIGEST_LEN 32             /* SHA-256 */
#define REQUEST_OID_INITIAL "0.4.0.127.0.7.4.1.1.1"   /* bsiCertReqMsgs */
#define REQUEST_OID_RENEWAL "0.4.0.127.0.7.4.1.1.2"   /* bsiCertReqMsgsWithOuterSig */

enum request_kind { REQUEST_KIND_INITIAL = 1, REQUEST_KIND_RENEWAL = 2 };

/* "initial" / "renewal" (static), "?" otherwise. */
const char *request_kind_name(enum request_kind kind);

/* One CertReqMsg, validated (POP verified, brainpool key). Everything is owned by it. */
struct request_entry {
	enum pki_usage usage;            /* PKI_USAGE_TLS, _SIG or _ENC */
	X509_NAME *subject;              /* as requested (string types preserved) */
	EVP_PKEY *public_key;            /* brainpoolP256r1/P384r1/P512r1 */
	/*
	 * The key exactly as requested (named-curve EC keys), NULL otherwise. It has no
	 * EVP_PKEY attached, so copying it into a certificate (pki_cert_request.spki) costs
	 * no key decoding: in OpenSSL 3.0 every decode of a SubjectPublicKeyInfo builds a
	 * decoder chain, which cost more than the ECDSA verification of the request.
	 */
	X509_PUBKEY *spki;
	int curve_nid;                   /* NID_brainpoolP256r1, ... */
	STACK_OF(X509_EXTENSION) *extensions; /* as requested; NULL when none */
	/*
	 * The complete SAN as requested (only e-mail, URI and, on TLS, DNS names; each
	 * checked to be printable 7-bit text), NULL when none. Hand it to
	 * pki_cert_request.san to certify all of them.
	 */
	GENERAL_NAMES *san;
	/* The first SAN entry of each kind, NUL-terminated 7-bit text, NULL when absent. */
	char *email;
	char *uri;
	char *dns_name;
};

struct request {
	enum request_kind kind;
	size_t n_entries;                            /* initial: 3; renewal: 1..3 */
	struct request_entry entries[REQUEST_MAX_ENTRIES];
	/*
	 * Replay key: SHA-256 over the canonical DER re-encoding of the CertReqMessages.
	 * Independent of BER/DER/base64/PEM transport and of the outer and authorisation
	 * layers, so the same key request re-wrapped is still recognised.
	 */
	unsigned char digest[REQUEST_DIGEST_LEN];
	/* SHA-256 of the complete request as received (after base64/PEM decoding). */
	unsigned char wire_digest[REQUEST_DIGEST_LEN];
	X509 *outer_signer;      /* renewal: the requester's SIG certificate; else NULL */
	X509 *authoriser;        /* GWA SIG certificate of the authorisation; NULL if none */
	/* True when check_signer (and trust, if given) accepted outer_signer/authoriser. */
	bool signers_checked;
};

/* Which signature a certificate handed to check_signer made. */
enum request_signer_role { REQUEST_SIGNER_OUTER = 1, REQUEST_SIGNER_AUTHORISATION = 2 };

/*
 * Caller-supplied check of a signer certificate against the store: issued by this CA,
 * currently valid, not revoked, and (OUTER) belonging to the requesting participant /
 * (AUTHORISATION) a GWA responsible for the gateway. req is the request parsed so far
 * (entries filled and verified). Return TW_OK to accept; any other code rejects with
 * failure_outer_signature / failure_authorization_signature and err's message, except
 * TW_E_STORE / TW_E_INTERNAL / TW_E_NOMEM, which give failure_internal_error.
 */
typedef tw_rc (*request_signer_check_fn)(void *ctx, enum request_signer_role role,
	X509 *cert, const struct request *req, struct tw_error *err);

enum request_auth_policy {
	REQUEST_AUTH_OPTIONAL = 0,   /* accept with or without (report it in authoriser) */
	REQUEST_AUTH_REQUIRED,       /* SMGW requests: missing -> failure_authorization_signature */
	REQUEST_AUTH_FORBIDDEN,      /* present -> failure_incorrect_request */
};

struct request_verify_opts {
	/*
	 * Optional: outer and authorisation signer certificates must chain to this store
	 * (X509_verify_cert at the current time; borrowed). Without it only the signatures
	 * are checked and the chain is the callback's business.
	 */
	X509_STORE *trust;
	request_signer_check_fn check_signer;   /* optional; see above */
	void *check_ctx;
	enum request_auth_policy auth;
	/* Initial requests must contain exactly TLS, SIG and ENC; renewals 1..3 of them. */
};

/*
 * Undo the transport encoding: DER as is, PEM (any "-----BEGIN x-----" label), or bare
 * base64 (whitespace ignored). *der is malloc'ed, caller frees. Input over
 * REQUEST_MAX_BYTES: TW_E_TOO_LARGE; undecodable: TW_E_INVALID.
 */
tw_rc request_decode(const unsigned char *in, size_t len, unsigned char **der,
	size_t *der_len, struct tw_error *err);

/*
 * Decode (request_decode), parse and verify a request. opts may be NULL (all defaults:
 * authorisation optional, no trust store, no callback; then signers_checked is false and
 * the caller MUST check outer_signer/authoriser itself before issuing).
 *
 * Always sets *result. On success *result is PKI_OK_SYNTAX, *out is the caller's
 * (request_free) and TW_OK is returned. On rejection *out is NULL, *result is the one
 * WSDL code and the tw_rc is the matching pki_result_rc() (TW_E_TOO_LARGE for oversized
 * input), with err saying what is wrong in words an operator can act on.
 */
tw_rc request_parse(const unsigned char *in, size_t len, const struct request_verify_opts *opts,
	struct request **out, enum pki_result *result, struct tw_error *err);

/*
 * request_parse in two halves, for callers that verify on worker threads and keep the
 * store on one: parse with opts' trust only (no check_signer, auth OPTIONAL; safe on any
 * thread, the trust store is only read), then call this with the full opts on the parsed
 * request. It applies opts->auth and runs opts->check_signer on the outer signer, then
 * on the authoriser, as request_parse would have (the chains were checked by the first
 * half). Sets *result like request_parse; on TW_OK req->signers_checked is set.
 */
tw_rc request_check_signers(struct request *req, const struct request_verify_opts *opts,
	enum pki_result *result, struct tw_error *err);

/*
 * Encode SEQUENCE { oid, [0] EXPLICIT content } (content: one complete DER element,
 * e.g. CertReqMessages or SignedData). Used by reqgen.c. *out is malloc'ed.
 */
tw_rc request_wrap(const char *oid, const unsigned char *content, size_t len,
	unsigned char **out, size_t *out_len, struct tw_error *err);
/*
 * The inverse: the wrapper's OID (dotted, into oid[oid_size]) and a malloc'ed copy of its
 * [0] content element. TW_E_INVALID if der is not exactly one such wrapper.
 */
tw_rc request_unwrap(const unsigned char *der, size_t len, char *oid, size_t oid_size,
	unsigned char **content, size_t *content_len, struct tw_error *err);

/* Frees req and everything it owns. NULL is fine. */
void request_free(struct request *req);

/* The entry of the given usage, or NULL. Borrowed from req. */
const struct request_entry *request_find(const struct request *req, enum pki_usage usage);

#endif
