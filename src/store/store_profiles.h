/*
 * store_profiles.h: the tables of profile management and gateway monitoring (migration
 * 0004_profiles.sql; owner: the gwa module, src/gwa/profile*.c and monitor*.c).
 *
 *   profiles            desired profile set per gateway (secrets sealed, see secretbox.h)
 *   profile_reported    the set the gateway last reported (hashes only)
 *   emt_authorisations  gateway <-> EMT pairs allowed as evaluation-profile recipients
 *   gateway_messages    alarms, notifications, self-test results
 *   gateway_logs        signed system/calibration log entries
 *
 * Validation of arguments happens in store_profiles.c before any SQL runs; fixed-size
 * fields must hold their NUL, free-text fields are checked against STORE_*_MAX.
 * None of these functions open a transaction: callers wrap data + audit entry in
 * store_begin .. store_commit themselves.
 */
#ifndef TORWART_STORE_STORE_PROFILES_H
#define TORWART_STORE_STORE_PROFILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Longest stored profile document (sealed JSON) and reported-set list. */
#define STORE_PROFILE_DOC_MAX    (48 * 1024)
#define STORE_PROFILE_LIST_MAX   (48 * 1024)
#define STORE_LOG_SIG_MAX        160     /* DER ECDSA signature, P-521 fits */

/* ---- desired profiles ---- */
struct store_profile {
	char gateway_id[STORE_ID_MAX + 1];
	char profile_id[STORE_ID_MAX + 1];
	char type[16];                       /* meter, wan, proxy, evaluation, han */
	char hash[65];                       /* SHA-256 hex of the canonical plaintext */
	int64_t updated_ms;
	char *doc;                           /* sealed canonical JSON; owned, see _clear */
};

/* Frees p->doc and zeroes p. NULL is fine. */
void store_profile_clear(struct store_profile *p);
/* Insert or replace (gateway_id, profile_id). *replaced tells which (may be NULL).
 * TW_E_NOT_FOUND when the gateway is not registered. */
tw_rc store_profile_put(struct tw_store *store, const struct store_profile *p,
	bool *replaced, struct tw_error *err);
/* Fills out (doc freshly allocated). TW_E_NOT_FOUND if absent. */
tw_rc store_profile_get(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct store_profile *out, struct tw_error *err);
/* TW_E_NOT_FOUND if absent. */
tw_rc store_profile_delete(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct tw_error *err);
/* Ordered by profile_id; p (and p->doc) is borrowed for the call only. cb != 0 stops. */
typedef int (*store_profile_cb)(const struct store_profile *p, void *arg);
tw_rc store_profile_foreach(struct tw_store *store, const char *gateway_id,
	store_profile_cb cb, void *arg, struct tw_error *err);

/* ---- reported set ---- */
struct store_profile_report {
	char gateway_id[STORE_ID_MAX + 1];
	char set_hash[65];
	int64_t reported_ms;
	char source[16];                     /* "session", "order" */
	char *profiles;                      /* JSON array as reported; owned, see _clear */
};

void store_profile_report_clear(struct store_profile_report *r);
tw_rc store_profile_report_put(struct tw_store *store, const struct store_profile_report *r,
	struct tw_error *err);
/* *found = false when the gateway never reported. */
tw_rc store_profile_report_get(struct tw_store *store, const char *gateway_id,
	struct store_profile_report *out, bool *found, struct tw_error *err);

/* ---- EMT authorisations (T-PV.4) ---- */
/* TW_E_EXISTS if already authorised, TW_E_NOT_FOUND if the gateway is unknown. */
tw_rc store_emt_authorise(struct tw_store *store, const char *gateway_id,
	const char *emt_id, int64_t when_ms, struct tw_error *err);
/* TW_E_NOT_FOUND if it was not authorised. */
tw_rc store_emt_revoke(struct tw_store *store, const char *gateway_id, const char *emt_id,
	struct tw_error *err);
tw_rc store_emt_is_authorised(struct tw_store *store, const char *gateway_id,
	const char *emt_id, bool *yes, struct tw_error *err);
typedef int (*store_emt_cb)(const char *gateway_id, const char *emt_id, int64_t created_ms,
	void *arg);
/* gateway_id NULL: every gateway. */
tw_rc store_emt_foreach(struct tw_store *store, const char *gateway_id, store_emt_cb cb,
	void *arg, struct tw_error *err);

/* ---- gateway messages (alarms, notifications, self-test results) ---- */
struct store_gateway_message {
	int64_t id;                          /* assigned by insert */
	char gateway_id[STORE_ID_MAX + 1];
	char kind[16];                       /* alarm, notification, selftest */
	char type[STORE_ID_MAX + 1];
	char severity[16];
	char gateway_time[41];
	int64_t received_ms;
	char message[STORE_TEXT_MAX + 1];
	char actions[STORE_NAME_MAX + 1];    /* actions taken, "" if none */
};

tw_rc store_gateway_message_insert(struct tw_store *store,
	const struct store_gateway_message *m, int64_t *id, struct tw_error *err);
typedef int (*store_gateway_message_cb)(const struct store_gateway_message *m, void *arg);
/* gateway_id NULL: all gateways; kind NULL: every kind. Ascending id. */
tw_rc store_gateway_message_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_message_cb cb, void *arg, struct tw_error *err);

/* ---- gateway log entries (UC-3.4.2) ---- */
struct store_gateway_log {
	char gateway_id[STORE_ID_MAX + 1];
	char kind[16];                       /* system, calibration */
	int64_t seq;
	char time[41];
	char message[STORE_TEXT_MAX + 1];
	unsigned char signature[STORE_LOG_SIG_MAX];
	size_t signature_len;
	bool verified;
	char cert_fingerprint[65];
	int64_t received_ms;
};

/* TW_E_EXISTS if (gateway_id, kind, seq) is stored already. */
tw_rc store_gateway_log_insert(struct tw_store *store, const struct store_gateway_log *l,
	struct tw_error *err);
typedef int (*store_gateway_log_cb)(const struct store_gateway_log *l, void *arg);
/* kind NULL: both kinds. Ordered by kind, seq. */
tw_rc store_gateway_log_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_log_cb cb, void *arg, struct tw_error *err);

/*
 * The DER of the gateway's newest valid SIG certificate (certificates table, owner
 * "smgw"), for verifying its log signatures. *der is the caller's to free.
 * TW_E_NOT_FOUND if none.
 */
tw_rc store_gateway_sig_cert(struct tw_store *store, const char *gateway_id,
	unsigned char **der, size_t *der_len, struct tw_error *err);

#endif
