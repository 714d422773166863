/*
 * profile_admin.h: the service layer of profile management (UC-3.3.2, T-PV.1-4): the
 * desired profile set per gateway, checks that need the store (authorised EMTs,
 * references between profiles), the set last reported by the gateway, and drift.
 *
 * Every change writes its admin-log entry in the same transaction as the data; every
 * refusal is logged with its reason and changes nothing; every read of profile content
 * is logged (profiles are sensitive, TR-03109-6 4.3.2.7). Secrets never leave this layer
 * in clear except through profile_admin_wire (the order to the gateway itself).
 */
#ifndef TORWART_GWA_PROFILE_ADMIN_H
#define TORWART_GWA_PROFILE_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "gwa/profile.h"
#include "crypto/secretbox.h"
#include "store/store.h"

/* Who acts, for the admin log. All borrowed. */
struct profile_who {
	const char *actor;      /* "os:alice", "gateway:ID", "system" */
	const char *role;       /* "local-admin", "smgw", "service" */
	const char *client;     /* "local:PID", peer address */
};

/*
 * Parse and validate data as a profile for gateway_id, including the checks against the
 * gateway's desired set: the gateway exists; a profile id keeps its type; a meter id
 * belongs to one meter profile; an evaluation profile names only meters of the set and
 * recipients that are authorised EMTs of the gateway (T-PV.4) with a WAN profile of the
 * set whose recipient is that EMT; a replacement never breaks such a reference.
 * Changes nothing. *doc is the caller's (profile_doc_free).
 */
tw_rc profile_admin_check(struct tw_store *store, const char *gateway_id, const void *data,
	size_t len, struct profile_doc **doc, struct tw_error *err);

struct profile_put_result {
	char profile_id[PROFILE_ID_MAX + 1];
	char type[PROFILE_TYPE_NAME_MAX + 1];
	char hash[65];
	bool replaced;
};

/*
 * Check, seal the secrets and store data as the desired profile of gateway_id, with the
 * admin-log entry "profile.put". _in_tx runs inside the caller's transaction (so a job
 * can be created in the same one) and logs nothing on failure; profile_admin_put opens
 * its own transaction and logs a refusal ("profile.put", result "refused").
 */
tw_rc profile_admin_put_in_tx(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	struct profile_put_result *res, struct tw_error *err);
tw_rc profile_admin_put(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	struct profile_put_result *res, struct tw_error *err);

/*
 * profile_admin_put plus, with with_job, the "profile-insert" order job that carries the
 * profile to the gateway (job_create_in_tx, same actor), all in ONE transaction: the
 * desired profile, the job and both admin-log entries are stored together or not at all.
 * Any failure (the profile's checks or the job's) rolls everything back and is logged as
 * a refusal "profile.put". *job_id is the job created (0 without with_job or on failure).
 */
tw_rc profile_admin_put_job(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	bool with_job, struct profile_put_result *res, int64_t *job_id, struct tw_error *err);

/*
 * Remove profile_id from the desired set ("profile.delete"). Refused with TW_E_DENIED
 * while it is referenced: a meter profile by an evaluation profile's meters (UC-3.3.2
 * footnote 3), a WAN profile by an evaluation profile's recipients. Same _in_tx rule.
 */
tw_rc profile_admin_delete_in_tx(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, struct tw_error *err);
tw_rc profile_admin_delete(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, struct tw_error *err);

/* profile_admin_delete plus, with with_job, the "profile-delete" order job, in one
 * transaction (the same all-or-nothing rule as profile_admin_put_job). */
tw_rc profile_admin_delete_job(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, bool with_job, int64_t *job_id,
	struct tw_error *err);

/*
 * The desired profile profile_id of gateway_id with its secrets masked; logged as
 * "profile.read". *doc is a new reference (caller owns).
 */
tw_rc profile_admin_show(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, json_t **doc, char type[16],
	char hash[65], struct tw_error *err);

/*
 * The plaintext document for the order to the gateway (secrets unsealed). Only the
 * order's to_wire hook calls this; *doc is a new reference the caller sends and drops.
 */
tw_rc profile_admin_wire(struct tw_store *store, const struct secretbox *sb,
	const char *gateway_id, const char *profile_id, json_t **doc, char hash[65],
	struct tw_error *err);

/* ---- reported set and drift (T-PV.3) ---- */

/*
 * Record the set a gateway reported (source "session" or "order") with an admin-log
 * entry "profile.report" whose result is "in-sync" or "drift". Opens its own
 * transaction unless one is open (order result hooks run inside the job's).
 * *drift (may be NULL) tells whether desired and reported differ.
 */
tw_rc profile_admin_report(struct tw_store *store, const char *gateway_id,
	const json_t *set, const char *source, const char *client, bool *drift,
	struct tw_error *err);

enum profile_drift_state {
	PROFILE_IN_SYNC,
	PROFILE_MISSING_AT_GATEWAY,     /* desired, not reported */
	PROFILE_UNEXPECTED_AT_GATEWAY,  /* reported, not desired */
	PROFILE_DIFFERS,                /* both, other hash (or type) */
	PROFILE_NOT_REPORTED            /* the gateway never reported a set */
};
const char *profile_drift_state_name(enum profile_drift_state s);

struct profile_drift_row {
	char profile_id[PROFILE_ID_MAX + 1];
	char type[PROFILE_TYPE_NAME_MAX + 1];
	char desired_hash[65];          /* "" when not desired */
	char reported_hash[65];         /* "" when not reported */
	enum profile_drift_state state;
};

struct profile_drift {
	char gateway_id[PROFILE_ID_MAX + 1];
	char desired_set_hash[65];
	char reported_set_hash[65];     /* "" when never reported */
	int64_t reported_ms;
	char reported_source[16];
	bool reported;
	bool in_sync;
	struct profile_drift_row *rows; /* owned; profile_drift_clear */
	size_t n;
};

/* Desired vs reported for gateway_id (a read of hashes only: not logged). */
tw_rc profile_admin_drift(struct tw_store *store, const char *gateway_id,
	struct profile_drift *out, struct tw_error *err);
void profile_drift_clear(struct profile_drift *d);

/* The desired set as {"profile_set_hash","profiles":[...]}; new reference. */
tw_rc profile_admin_desired_set(struct tw_store *store, const char *gateway_id,
	json_t **set, struct tw_error *err);

/* ---- EMT authorisations (T-PV.4) ---- */
/* Authorise (revoke = false) or revoke emt_id for gateway_id; "profile.emt.authorise" /
 * "profile.emt.revoke". A revocation is refused while an evaluation profile of the
 * desired set names the EMT. */
tw_rc profile_admin_emt(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *emt_id, bool revoke, struct tw_error *err);

#endif
