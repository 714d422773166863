/*
 * ca_internal.h: what ca.c shares with ca_batch.c and ca_revoke.c (internal to src/pki).
 */
#ifndef TORWART_PKI_CA_INTERNAL_H
#define TORWART_PKI_CA_INTERNAL_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "pki/ca.h"
#include "pki/ca_state.h"
#include "pki/profile.h"
#include "pki/request.h"

/* Everything one CA run needs, loaded once per command (not per certificate). */
struct ca_run {
	const struct tw_home *home;
	struct tw_store *store;
	const struct ca_actor *who;
	struct pki_ca_config *cfg;
	X509 *ca_cert;
	X509_STORE *trust;
	char issuer[STORE_TEXT_MAX + 1];
	int64_t tenant_id;
	/* per request */
	struct store_ca_participant part;
	bool have_part;
	const char *want_part;           /* participant named by the caller, or NULL */
	/*
	 * The caller is want_part itself (web service: identified by its TLS certificate), so
	 * a request naming anyone else is an authorisation failure, not a wrong request.
	 */
	bool caller_bound;
	/*
	 * With caller_bound: the caller's participant name. The request's participant is
	 * resolved by its subject and must be the caller, or an SMGW whose request carries
	 * the caller's (a GWA's) authorisation signature (authoriser_owner).
	 */
	const char *caller;
	char authoriser_owner[STORE_ID_MAX + 1];
	const unsigned char *mem;        /* ca_issue_buffer: the request bytes, else NULL */
	size_t mem_len;
};

/* Load the CA configuration, certificate, issuer name, tenant and trust store once. */
tw_rc ca_run_init(struct ca_run *r, const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, struct tw_error *err);
void ca_run_free(struct ca_run *r);
/* RFC 2253 text of name into out. */
tw_rc ca_name_text(const X509_NAME *name, char *out, size_t size, struct tw_error *err);
/* One admin-log entry as r->who; inside the open transaction if there is one. */
tw_rc ca_audit(struct ca_run *r, const char *action, const char *object,
	const char *result, const char *code, const char *detail, struct tw_error *err);
/* Audit a rejection (own transaction) and return rc unchanged. */
tw_rc ca_refuse(struct ca_run *r, const char *object, enum pki_result res, tw_rc rc,
	const struct tw_error *why);
/*
 * Parse, verify, resolve the participant (r->want_part or by CN), match the registration,
 * and (check_replay) refuse a known digest. Refusals are audited. *out is the caller's.
 * ca_validate_parse + ca_validate_finish (ca_validate.c).
 */
tw_rc ca_validate(struct ca_run *r, const char *object, const unsigned char *in,
	size_t len, bool check_replay, struct request **out, char digest_hex[65],
	enum pki_result *result, struct tw_error *err);

/* What the store-free half of ca_validate found for one request. Owns req and der. */
struct ca_parsed {
	tw_rc rc;                  /* TW_OK: req is set */
	enum pki_result result;    /* PKI_OK_SYNTAX or the one WSDL code of the rejection */
	struct tw_error err;
	struct request *req;
	unsigned char *der;        /* want_der: the request as DER (what the queue keeps) */
	size_t der_len;
};

/*
 * Decode, parse, verify every proof of possession and signature, chain the signer
 * certificates to trust. Touches no store, audits nothing, changes nothing shared:
 * callable from any thread (trust is only read). Outcome in *out (ca_parsed_clear).
 */
void ca_validate_parse(X509_STORE *trust, const unsigned char *in, size_t len, bool want_der,
	struct ca_parsed *out);
/*
 * The store half, on the store's thread: participant, signer certificates' status,
 * caller binding, registration match, replay check; every rejection (also parsed's own)
 * refused and audited here. On TW_OK *out takes parsed->req.
 */
tw_rc ca_validate_finish(struct ca_run *r, const char *object, struct ca_parsed *parsed,
	bool check_replay, struct request **out, char digest_hex[65], enum pki_result *result,
	struct tw_error *err);
void ca_parsed_clear(struct ca_parsed *p);
/* Queue row for req (row->der borrows der). */
tw_rc ca_request_row(struct ca_run *r, const struct request *req, const char *digest,
	const char *state, const unsigned char *der, size_t der_len,
	struct store_ca_request *row, struct tw_error *err);
#define CA_SIGN_CHUNK 256   /* certificates per SIGN_CERTIFICATES request (< 1 MiB frame) */
/* Build (unsigned) every certificate of req; certs[i] are the caller's. */
tw_rc ca_build(struct ca_run *r, const struct request *req,
	X509 *certs[REQUEST_MAX_ENTRIES], struct tw_error *err);
/* Signed certificates are what was built (the whole TBSCertificate, byte for byte) and
 * the first of each chunk verifies with the CA certificate's key. */
tw_rc ca_check_signed(struct ca_run *r, X509 *const *tbs, X509 *const *out, size_t n,
	struct tw_error *err);
/* The same on the signer's DER answer (signer_sign_certificates_recv_der). */
tw_rc ca_check_signed_der(struct ca_run *r, X509 *const *tbs, unsigned char *const *der,
	const size_t *len, size_t n, struct tw_error *err);
/* Sign n built certificates in chunks over one connection and verify each; out[] the caller's. */
tw_rc ca_sign_many(struct ca_run *r, struct signer_client *sc, X509 *const *tbs, size_t n,
	X509 **out, struct tw_error *err);
/* Sign every certificate of req through the signer; certs[i] are the caller's. */
tw_rc ca_sign(struct ca_run *r, struct signer_client *sc, const struct request *req,
	X509 *certs[REQUEST_MAX_ENTRIES], struct tw_error *err);
/*
 * In the caller's transaction: certificate rows, request link, "ca.issue" entry. der /
 * der_len (optional, NULL: encode certs): the signed certificates as the signer returned
 * them, checked by ca_check_signed_der; certs may then be the built (unsigned) ones.
 */
tw_rc ca_record(struct ca_run *r, int64_t request_id, const struct request *req,
	X509 *const *certs, unsigned char *const *der, const size_t *der_len,
	char serials[][STORE_ID_MAX + 1], struct tw_error *err);
tw_rc ca_serial_hex(X509 *x, char out[STORE_ID_MAX + 1], struct tw_error *err);

#endif
