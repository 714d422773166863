/*
 * store_ca.h: the tables of the Sub-CA engine (migration 0002_ca.sql; owner: the pki
 * module, src/pki/ca.c and crl.c).
 *
 *   ca_participants   participants registered out of band by the RA (S-3)
 *   ca_requests       the request queue: pending / approved / rejected / issued
 *   certificates      (0001) extended by request_id, revoked_ms, revocation_reason
 *   ca_crls           metadata of the current CRL per CA (the DER is a file)
 *
 * Arguments are validated in store_ca.c before any SQL runs. None of these functions
 * opens a transaction: callers wrap data + audit entry in store_begin .. store_commit.
 */
#ifndef TORWART_STORE_STORE_CA_H
#define TORWART_STORE_STORE_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_CA_REQUEST_MAX (64 * 1024)   /* DER request; larger is refused before parsing */

/* ---- participants ---- */
struct store_ca_participant {
	char name[STORE_ID_MAX + 1];              /* RA handle, unique, e.g. "stadtwerk-emt" */
	char organisation[STORE_NAME_MAX + 1];
	char role[8];                             /* "emt", "gwa", "gwh", "smgw" */
	char market_partner_id[STORE_ID_MAX + 1]; /* the subject's OU */
	char common_name[STORE_NAME_MAX + 1];     /* the subject's CN */
	char email[STORE_NAME_MAX + 1];           /* optional */
	char gateway_id[STORE_ID_MAX + 1];        /* SMGW only: pre-registered gateway id */
	char device_serial[STORE_ID_MAX + 1];     /* SMGW only: subject serialNumber */
	int64_t created_ms;
	char created_by[STORE_NAME_MAX + 1];
};

/* TW_E_EXISTS if the name is taken. */
tw_rc store_ca_participant_insert(struct tw_store *store, const struct store_ca_participant *p,
	struct tw_error *err);
/* TW_E_NOT_FOUND if unknown. */
tw_rc store_ca_participant_get(struct tw_store *store, const char *name,
	struct store_ca_participant *out, struct tw_error *err);
typedef int (*store_ca_participant_cb)(const struct store_ca_participant *p, void *arg);
tw_rc store_ca_participant_foreach(struct tw_store *store, store_ca_participant_cb cb,
	void *arg, struct tw_error *err);

/* ---- requests ---- */
struct store_ca_request {
	int64_t id;                               /* assigned by insert */
	char digest[65];                          /* SHA-256 hex of the request bytes */
	char participant[STORE_ID_MAX + 1];
	char kind[16];                            /* "initial", "renewal" */
	char state[16];                           /* "pending", "approved", "rejected", "issued" */
	char subject[STORE_TEXT_MAX + 1];         /* for the RA's list */
	int64_t received_ms;
	int64_t decided_ms;
	char decided_by[STORE_NAME_MAX + 1];
	char reason[STORE_TEXT_MAX + 1];
	unsigned char *der;                       /* owned; see store_ca_request_clear */
	size_t der_len;
};

void store_ca_request_clear(struct store_ca_request *r);   /* frees der, zeroes; NULL ok */
/* TW_E_EXISTS when the digest is known (a replay); TW_E_NOT_FOUND for an unknown participant. */
tw_rc store_ca_request_insert(struct tw_store *store, const struct store_ca_request *r,
	int64_t *id, struct tw_error *err);
/* *known true when a request with this digest was received before (replay check). */
tw_rc store_ca_request_digest_known(struct tw_store *store, const char *digest, bool *known,
	struct tw_error *err);
/* with_der false leaves out->der NULL. TW_E_NOT_FOUND if unknown. */
tw_rc store_ca_request_get(struct tw_store *store, int64_t id, bool with_der,
	struct store_ca_request *out, struct tw_error *err);
/*
 * Move request id from state `from` to `to`, recording who decided when and why.
 * TW_E_NOT_FOUND if unknown; TW_E_DENIED if it is not in state `from` (nothing changes).
 */
tw_rc store_ca_request_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, const char *reason,
	struct tw_error *err);
/* Requests in state (NULL: all), ascending id, without DER. */
typedef int (*store_ca_request_cb)(const struct store_ca_request *r, void *arg);
tw_rc store_ca_request_foreach(struct tw_store *store, const char *state,
	store_ca_request_cb cb, void *arg, struct tw_error *err);

/* ---- certificates of a CA ---- */
struct store_ca_cert {
	char serial_hex[STORE_ID_MAX + 1];
	char subject[STORE_TEXT_MAX + 1];
	char owner_kind[16];
	char owner_id[STORE_ID_MAX + 1];
	char usage[8];
	int64_t not_before, not_after;            /* seconds since the epoch */
	char status[16];                          /* "valid", "revoked" */
	char fingerprint[65];
	int64_t request_id;                       /* 0 when not issued from a request */
	int64_t revoked_ms;                       /* 0 while valid */
	int revocation_reason;                    /* RFC 5280 CRLReason, -1 while valid */
	unsigned char *der;                       /* owned when requested; see _clear */
	size_t der_len;
};

void store_ca_cert_clear(struct store_ca_cert *c);
/* Link an issued certificate to its request. TW_E_NOT_FOUND if (issuer, serial) is unknown. */
tw_rc store_ca_cert_set_request(struct tw_store *store, const char *issuer,
	const char *serial_hex, int64_t request_id, struct tw_error *err);
tw_rc store_ca_cert_get(struct tw_store *store, const char *issuer, const char *serial_hex,
	bool with_der, struct store_ca_cert *out, struct tw_error *err);
/* Every certificate of issuer, ascending insertion order, without DER. */
typedef int (*store_ca_cert_cb)(const struct store_ca_cert *c, void *arg);
tw_rc store_ca_cert_foreach(struct tw_store *store, const char *issuer, store_ca_cert_cb cb,
	void *arg, struct tw_error *err);
/* Every certificate of one owner (owner_kind "smgw" and a gateway id, say), all issuers,
 * ascending insertion order, without DER. */
tw_rc store_ca_cert_foreach_owner(struct tw_store *store, const char *owner_kind,
	const char *owner_id, store_ca_cert_cb cb, void *arg, struct tw_error *err);
/*
 * Mark (issuer, serial) revoked at when_ms with reason. Idempotent: an already revoked
 * certificate keeps its first date and reason and *changed is false.
 * TW_E_NOT_FOUND if unknown.
 */
tw_rc store_ca_cert_revoke(struct tw_store *store, const char *issuer, const char *serial_hex,
	int reason, int64_t when_ms, bool *changed, struct tw_error *err);
/*
 * Stream the revoked certificates of issuer in insertion order (the CRL generator's
 * input). cb gets the serial as lower-case hex; it must not keep the pointer.
 */
typedef int (*store_ca_revoked_cb)(const char *serial_hex, size_t serial_len,
	int64_t revoked_ms, int reason, void *arg);
tw_rc store_ca_revoked_foreach(struct tw_store *store, const char *issuer,
	store_ca_revoked_cb cb, void *arg, struct tw_error *err);

/* ---- CRL metadata ---- */
struct store_ca_crl {
	char ca[STORE_ID_MAX + 1];                /* CA name, e.g. "sub-ca" */
	int64_t number;                           /* CRL number, > 0 */
	int64_t this_update, next_update;         /* seconds since the epoch */
	int64_t entries;
	char sha256[65];                          /* of the DER file: the api's ETag */
	char path[STORE_TEXT_MAX + 1];            /* absolute path of the DER file */
	bool dirty;                               /* a revocation happened since */
};

/* *found false when the CA has no CRL yet. */
tw_rc store_ca_crl_get(struct tw_store *store, const char *ca, struct store_ca_crl *out,
	bool *found, struct tw_error *err);
/* Insert or replace the CA's row; clears dirty. */
tw_rc store_ca_crl_put(struct tw_store *store, const struct store_ca_crl *crl,
	struct tw_error *err);
/* Flag the CA's CRL for regeneration (no-op when it has none yet). */
tw_rc store_ca_crl_mark_dirty(struct tw_store *store, const char *ca, struct tw_error *err);

/* ---- CA key activation (migration 0007; owner: src/pki/ca_state.c) ---- */
struct store_ca_key_state {
	char ca[STORE_ID_MAX + 1];                /* CA name, [ca.<name>] */
	char state[16];                           /* "inactive", "active" */
	int64_t changed_ms;
	char changed_by[STORE_NAME_MAX + 1];
	char reason[STORE_TEXT_MAX + 1];
};

/* *found false when the CA has no row (see ca_state.h for what that means). */
tw_rc store_ca_key_state_get(struct tw_store *store, const char *ca,
	struct store_ca_key_state *out, bool *found, struct tw_error *err);
/* Insert or replace the CA's row. */
tw_rc store_ca_key_state_put(struct tw_store *store, const struct store_ca_key_state *s,
	struct tw_error *err);
/* Every row, ordered by CA name. s is borrowed for the call; cb != 0 stops. */
typedef int (*store_ca_key_state_cb)(const struct store_ca_key_state *s, void *arg);
tw_rc store_ca_key_state_foreach(struct tw_store *store, store_ca_key_state_cb cb, void *arg,
	struct tw_error *err);

#endif
