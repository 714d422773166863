/*
 * store_renewal.h: SMGW certificate renewals (migration 0009_renewal.sql; owner: the gwa
 * module, src/gwa/renewal.c; docs/renewal.md).
 *
 * None of these functions opens a transaction: the renewal service wraps every state
 * change, its jobs and its admin-log entries in one store_begin .. store_commit.
 * Arguments are checked before any SQL runs (bad input changes nothing).
 *
 * Two helpers touch the pki module's certificates table (read a gateway's certificates by
 * status, compare-and-set one certificate's status). They live here rather than in
 * store.c so that the renewal area keeps its SQL in one file; the only statuses they
 * write are 'valid' -> 'pending' (a certificate the renewal just recorded),
 * 'pending' -> 'valid' and 'valid' -> 'superseded' (revocation stays with ca_revoke).
 */
#ifndef TORWART_STORE_STORE_RENEWAL_H
#define TORWART_STORE_STORE_RENEWAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_RENEWAL_REQUEST_MAX (64 * 1024)   /* = REQUEST_MAX_BYTES */

struct store_renewal {
	int64_t id;                              /* assigned by insert */
	int64_t tenant_id;
	char gateway_id[STORE_ID_MAX + 1];
	char state[16];                          /* see 0009_renewal.sql */
	char actor[STORE_NAME_MAX + 1];          /* who started it ("os:alice", "system:worker") */
	char reason[STORE_ID_MAX + 1];           /* "operator", "expiry" */
	int64_t request_job;                     /* 0 = none yet */
	int64_t install_job;
	unsigned char *request_der;              /* owned (store_renewal_clear); NULL = none */
	size_t request_len;
	char old_certs[STORE_TEXT_MAX + 1];      /* "USAGE:serial:fingerprint,..." */
	char new_certs[STORE_TEXT_MAX + 1];
	char new_tls_fp[65];                     /* "" until issued */
	char error_code[STORE_ID_MAX + 1];       /* WSDL code or job outcome, "" if none */
	char error[STORE_TEXT_MAX + 1];
	int64_t created_ms;
	int64_t updated_ms;
	int64_t next_ms;                         /* when the worker looks at it next */
	int64_t revoke_at_ms;                    /* confirmed: when the old certificates go */
};

/* Frees r->request_der and zeroes r. */
void store_renewal_clear(struct store_renewal *r);

/* Insert r (request_der ignored); *id receives the new id. TW_E_EXISTS: the gateway has
 * an open renewal already (unique index renewals_open). */
tw_rc store_renewal_insert(struct tw_store *store, const struct store_renewal *r,
	int64_t *id, struct tw_error *err);
/* TW_E_NOT_FOUND if absent (or of another tenant on a tenant-scoped handle). */
tw_rc store_renewal_get(struct tw_store *store, int64_t id, struct store_renewal *out,
	struct tw_error *err);
/* The open renewal of gateway_id; *found false when there is none. */
tw_rc store_renewal_open_for(struct tw_store *store, const char *gateway_id,
	struct store_renewal *out, bool *found, struct tw_error *err);
/* The renewal whose new TLS certificate has fingerprint fp; *found false otherwise. */
tw_rc store_renewal_by_new_tls(struct tw_store *store, const char *fp,
	struct store_renewal *out, bool *found, struct tw_error *err);
/*
 * Compare-and-set: write every mutable member of r (state, jobs, request, certificate
 * lists, error, times) WHERE id = r->id AND state = from. TW_E_NOT_FOUND when the row was
 * not in state from (someone else moved it: nothing written).
 */
tw_rc store_renewal_update(struct tw_store *store, const struct store_renewal *r,
	const char *from, struct tw_error *err);
/*
 * Ids of open renewals with next_ms <= now_ms, oldest first, at most max into ids;
 * *n receives the count.
 */
tw_rc store_renewal_due(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err);
/*
 * Renewals newest first, filtered by state and gateway when not NULL, at most limit
 * (0 = 1000); request_der is not read. cb returns non-zero to stop.
 */
typedef int (*store_renewal_cb)(const struct store_renewal *r, void *arg);
tw_rc store_renewal_foreach(struct tw_store *store, const char *state,
	const char *gateway_id, int64_t limit, store_renewal_cb cb, void *arg,
	struct tw_error *err);

/* ---- the gateway's certificates (table of the pki module, see above) ---- */
struct store_renewal_cert {
	char usage[8];
	char serial_hex[STORE_ID_MAX + 1];
	char issuer[STORE_TEXT_MAX + 1];
	char fingerprint[65];
	char status[16];
	int64_t not_after;
};
/* SMGW certificates of gateway_id with status (e.g. "valid"), at most max, by usage. */
tw_rc store_renewal_gateway_certs(struct tw_store *store, const char *gateway_id,
	const char *status, struct store_renewal_cert *out, size_t max, size_t *n,
	struct tw_error *err);
/* certificates.status from -> to for fingerprint; TW_E_NOT_FOUND if it was not from. */
tw_rc store_renewal_cert_status(struct tw_store *store, const char *fingerprint,
	const char *from, const char *to, struct tw_error *err);
/*
 * Gateways of tenant (0 = all) whose valid SMGW TLS certificate ends before before_s
 * (seconds since the epoch) and that have no open renewal; at most max ids.
 */
tw_rc store_renewal_expiring(struct tw_store *store, int64_t tenant_id, int64_t before_s,
	char (*ids)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err);

/* ---- initial configuration files (table initial_configs) ---- */
struct store_initial_config {
	int64_t id;
	int64_t tenant_id;
	char gateway_id[STORE_ID_MAX + 1];
	char sha256[65];
	char recipients[STORE_TEXT_MAX + 1];
	char actor[STORE_NAME_MAX + 1];
	int64_t created_ms;
	int64_t receipt_ms;                      /* 0 = no receipt yet */
	char receipt_by[STORE_TEXT_MAX + 1];
};
tw_rc store_initial_config_insert(struct tw_store *store, const struct store_initial_config *c,
	int64_t *id, struct tw_error *err);
/* By file digest; TW_E_NOT_FOUND if no such export. */
tw_rc store_initial_config_get(struct tw_store *store, const char *sha256,
	struct store_initial_config *out, struct tw_error *err);
/* Record the receipt once: TW_E_EXISTS when the file has one already. */
tw_rc store_initial_config_receipt(struct tw_store *store, const char *sha256, int64_t when_ms,
	const char *by, struct tw_error *err);

/* The name of tenant id (the renewal's Sub-CA is configured per tenant name). */
tw_rc store_tenant_name(struct tw_store *store, int64_t id, char *out, size_t size,
	struct tw_error *err);

#endif
