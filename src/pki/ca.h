/*
 * ca.h: the Sub-CA's registration authority and issuance service (DOMAIN.md S-1, S-3, S-5).
 *
 * Flow: the RA registers a participant out of band (ca_register); a request from it is
 * parsed and verified (request.h), matched against the registration and queued
 * (ca_submit: state "pending"); an RA officer approves or rejects it (ca_decide); the
 * approved request is issued (ca_issue_approved: every certificate of the request,
 * signed by the signer, stored with owner/type/validity/status, state "issued").
 * ca_issue_files runs the whole path at once for registered participants, in batches:
 * one signer connection, one store transaction per batch of requests.
 *
 * Every mutation writes its admin-log entry in the same transaction as the data; every
 * rejection is audited ("refused", with its WSDL code) and changes nothing else.
 * Rejections carry exactly one WSDL code (result.h) in *result.
 */
#ifndef TORWART_PKI_CA_H
#define TORWART_PKI_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "pki/result.h"
#include "store/store.h"
#include "store/store_ca.h"

#define CA_DEFAULT_NAME "sub-ca"
#define CA_BATCH_MAX 64             /* requests per signer request and store transaction */

/* Who acts: recorded in every admin-log entry. Strings are borrowed. */
struct ca_actor {
	const char *actor;    /* "os:alice" */
	const char *role;     /* "local-admin", "ra-officer", ... */
	const char *client;   /* "local:PID" */
};

/*
 * Register a participant (S-3). p->created_ms/created_by are filled here. An SMGW needs
 * gateway_id; other roles must not have one. TW_E_EXISTS if the name is taken.
 */
tw_rc ca_register(struct tw_store *store, const struct ca_actor *who,
	struct store_ca_participant *p, struct tw_error *err);

/*
 * Parse, verify and match a request (any encoding request_decode accepts) and queue it as
 * "pending". participant may be NULL: then the participant whose common name equals the
 * request's subject CN is used. *id is the new request's id. On rejection *result says
 * why (failure_request_not_accepted for a replay) and nothing but a "refused" audit entry
 * is written.
 */
tw_rc ca_submit(const struct tw_home *home, struct tw_store *store, const struct ca_actor *who,
	const char *participant, const unsigned char *in, size_t len, int64_t *id,
	enum pki_result *result, struct tw_error *err);

/*
 * The request files of `torwart ca issue --request-dir DIR` (docs/ca-operations.md): the
 * entries directly in DIR, never below it, read with lstat (nothing is followed):
 *   - names starting with '.' are ignored (hidden files, editors' and copy tools' temps);
 *   - a regular file whose name ends in ".der" (exactly, in lower case) and holds no
 *     control character and no invalid UTF-8 is a request: files[], sorted by byte
 *     order of the name (strcmp), so a run is repeatable;
 *   - a name ending in ".der" that is a symbolic link, a directory, a fifo, a socket or a
 *     device, or whose name holds control characters or invalid UTF-8, is refused: not
 *     opened, noted (kind CA_REQDIR_REFUSED) and counted in `refused`;
 *   - anything else (another suffix, ".DER" included; a subdirectory) is skipped: noted
 *     (CA_REQDIR_SKIPPED) and counted in `skipped`.
 * Notes carry the name escaped for a terminal (auth_text_escape) and why; at most
 * CA_REQDIR_NOTES_MAX are kept (the counts are complete).
 * Errors: TW_E_NOT_FOUND / TW_E_INVALID / TW_E_IO the directory cannot be read (missing,
 * not a directory, unreadable); TW_E_TOO_LARGE more than max entries named *.der
 * (nothing is issued: checked before any request is read); TW_E_NOT_FOUND no request and
 * no refused entry (an empty directory). On every return *out holds what was listed;
 * release it with ca_reqdir_free. Only names are held (a path per request), never the
 * files' bytes: ca_issue_files reads each file when its turn comes.
 */
#define CA_REQDIR_MAX 100000         /* request files per --request-dir run */
#define CA_REQDIR_NOTES_MAX 1000     /* skipped/refused entries listed by name */
enum ca_reqdir_kind { CA_REQDIR_SKIPPED = 1, CA_REQDIR_REFUSED };
struct ca_reqdir_note {
	enum ca_reqdir_kind kind;
	char *name;                      /* escaped for display; owned */
	const char *why;                 /* static text */
};
struct ca_reqdir {
	char **files;                    /* "DIR/name", byte order; owned */
	size_t n;
	struct ca_reqdir_note *notes;    /* owned */
	size_t nnotes;
	size_t skipped, refused;         /* all of them, listed in notes or not */
};
tw_rc ca_reqdir_list(const char *dir, size_t max, struct ca_reqdir *out,
	struct tw_error *err);
void ca_reqdir_free(struct ca_reqdir *d);

/*
 * The web service's RequestCertificate when the RA approves first ([ws] approval =
 * manual): ca_submit with the participant found by the request's subject and bound to
 * the caller exactly as in ca_issue_buffer (failure_unauthorized_request otherwise).
 */
tw_rc ca_submit_bound(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *caller, const unsigned char *in, size_t len,
	int64_t *id, enum pki_result *result, struct tw_error *err);

/* pending -> approved / rejected, with the officer and reason in the admin log. */
tw_rc ca_decide(struct tw_store *store, const struct ca_actor *who, int64_t id, bool approve,
	const char *reason, struct tw_error *err);

/*
 * Issue an approved request: all its certificates, then state "issued". The request is
 * re-verified (a signer certificate may have been revoked since submission).
 * serials (may be NULL) receives up to 3 lower-case hex serials of STORE_ID_MAX+1 bytes.
 */
tw_rc ca_issue_approved(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, int64_t id, enum pki_result *result,
	struct tw_error *err);

/* Outcome of one file of ca_issue_files. */
struct ca_issue_outcome {
	const char *file;                       /* borrowed from the caller's list */
	tw_rc rc;
	enum pki_result result;                 /* ok_cert_available or the failure code */
	int64_t request_id;                     /* 0 when rejected */
	size_t n_certs;
	char serials[3][STORE_ID_MAX + 1];
	char message[TW_ERROR_MESSAGE_MAX];
};

/*
 * `torwart ca issue`: for each file, the whole path (parse/verify, registration match,
 * replay check, sign every certificate, store request "issued" + certificates + audit).
 * Requests are committed in batches of up to CA_BATCH_MAX (no fsync per certificate).
 * Per-file failures are reported in out[i] and do not stop the others; the return value
 * is TW_OK when the batch machinery worked (even if files were rejected), otherwise the
 * store/signer failure (requests of the failing batch are then reported with it).
 * stats (may be NULL) receives the time per phase.
 */
/* Where the time of ca_issue_files went (monotonic microseconds), for --timing. */
struct ca_issue_stats {
	int64_t read_parse_us;    /* read file, parse, verify POPs/signatures, match, replay */
	int64_t build_us;         /* build the certificates (profile.c) */
	int64_t sign_us;          /* signer round trips incl. its audit, and our checks */
	int64_t store_us;         /* store transaction: rows, links, admin-log entries, commit */
};

tw_rc ca_issue_files(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, struct tw_error *err);
/*
 * ca_issue_files reporting its progress: fn (may be NULL) is called after each file is
 * read, verified and built (done of n; certificates are signed and stored in batches
 * behind it). fn only displays.
 */
typedef void (*ca_issue_progress_fn)(void *arg, size_t done, size_t n);
tw_rc ca_issue_files_progress(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, ca_issue_progress_fn fn, void *arg, struct tw_error *err);

/*
 * The web service's RequestCertificate: one request given as bytes by the participant
 * `participant` (identified by its TLS certificate). The same path as ca_issue_files,
 * except that the request's participant is found by its subject and must be the caller
 * itself, or an SMGW whose request carries the caller's (a GWA's) authorisation
 * signature; anything else, including a subject that does not match the registration,
 * is failure_unauthorized_request. out->file is a static placeholder name.
 */
tw_rc ca_issue_buffer(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const unsigned char *in, size_t len, struct ca_issue_outcome *out, struct tw_error *err);

/* RFC 5280 CRLReason by name ("keyCompromise", "key-compromise", "1", ...). */
tw_rc ca_reason_parse(const char *name, int *reason, struct tw_error *err);
/* The RFC 5280 name of a reason code ("keyCompromise"); "?" for others. Static. */
const char *ca_reason_name(int reason);

/*
 * Revoke serial (hex, any case, optional colons) of CA `ca` with reason. Idempotent: a
 * revoked certificate stays as first revoked, *changed false, still audited. The CA's
 * CRL is marked dirty in the same transaction; the caller regenerates it (crl.h).
 */
tw_rc ca_revoke(const struct tw_home *home, struct tw_store *store, const struct ca_actor *who,
	const char *ca, const char *serial, int reason, bool *changed, struct tw_error *err);

/* RFC 2253 subject of CA `ca`'s certificate (its rows' issuer column). */
tw_rc ca_issuer_name(const struct tw_home *home, const char *ca, char *out, size_t size,
	struct tw_error *err);
/* Normalise a serial given by a user to store form (lower-case hex, no colons/leading 0x). */
tw_rc ca_serial_normalise(const char *in, char *out, size_t size, struct tw_error *err);

#endif
