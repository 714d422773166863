/*
 * profile_reput.h: when an EMT's or a meter's key changes, the profiles that carry the
 * old one are put again with the new one on every affected gateway (issue 12, UC-3.3.3
 * "update profiles when EMT/meter/CLS keys change"; docs/profiles.md "Re-put on a key
 * change").
 *
 *   EMT (market partner id): its new TLS certificate goes into every WAN profile whose
 *     recipient is the EMT (tls_cert_fingerprint, tls_cert) and every proxy profile whose
 *     emt is the EMT (emt_tls_cert_fingerprint, emt_tls_cert);
 *   meter (device id): its new key goes into every meter profile of that meter_id
 *     (key.value, key.algorithm by its length, key.ref when a new one is given).
 *
 * A profile is affected when the document rebuilt with the new key differs from the
 * desired one (so a second run finds nothing). Each re-put is an ordinary `profile put`
 * of the rebuilt document (profile_admin_put_job: every check, the desired set and the
 * profile-insert job in one transaction, admin-log entries profile.put and job.create),
 * plus one "profile.reput" entry per run. Documents are read through the caller's store
 * handle, so a tenant-scoped handle finds and changes only its tenant's gateways.
 */
#ifndef TORWART_GWA_PROFILE_REPUT_H
#define TORWART_GWA_PROFILE_REPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "crypto/secretbox.h"
#include "gwa/profile.h"
#include "gwa/profile_admin.h"
#include "store/store.h"

enum profile_reput_kind { PROFILE_REPUT_EMT = 1, PROFILE_REPUT_METER };

struct profile_reput_spec {
	enum profile_reput_kind kind;
	char id[PROFILE_ID_MAX + 1];      /* EMT market partner id or meter device id */
	char *cert_b64;                   /* EMT: the new TLS certificate, base64 DER; owned */
	char fingerprint[65];             /* EMT: its SHA-256, lower-case hex */
	char key_hex[65];                 /* meter: the new key (secret: wiped by _clear) */
	char key_ref[PROFILE_ID_MAX + 1]; /* meter: the new key reference, "" = keep */
};
void profile_reput_spec_clear(struct profile_reput_spec *s);

/*
 * An EMT spec: the certificate from cert (PEM or DER bytes; NULL: the newest valid TLS
 * certificate this home issued to an EMT participant with market partner id mpid). The
 * certificate's subject must name mpid as its OU (the SM-PKI's place for the market
 * partner id): TW_E_INVALID otherwise; TW_E_NOT_FOUND when cert is NULL and the store
 * has none.
 */
tw_rc profile_reput_spec_emt(struct tw_store *store, const char *mpid,
	const unsigned char *cert, size_t len, struct profile_reput_spec *out,
	struct tw_error *err);
/* A meter spec: key_hex is 32 (aes-128) or 64 (aes-256) hex digits; key_ref may be NULL. */
tw_rc profile_reput_spec_meter(const char *meter_id, const char *key_hex,
	const char *key_ref, struct profile_reput_spec *out, struct tw_error *err);

struct profile_reput_item {
	char gateway_id[STORE_ID_MAX + 1];
	char profile_id[PROFILE_ID_MAX + 1];
	char type[PROFILE_TYPE_NAME_MAX + 1];
	char before[80];                  /* EMT: the old fingerprint; meter: the old key ref */
};

/*
 * The affected profiles of the gateways selection chooses ("all", "ids:A,B", "tag:T",
 * "tenant:T", "id:GW"), in gateway order. *items is the caller's (free), *n of them on
 * *gateways distinct gateways. sb unseals meter documents to compare their keys.
 */
tw_rc profile_reput_find(struct tw_store *store, const struct secretbox *sb,
	const struct profile_reput_spec *spec, const char *selection,
	struct profile_reput_item **items, size_t *n, size_t *gateways, struct tw_error *err);

/*
 * Put every item again with the new key (each rebuilt from the desired document as it
 * is now; one that no longer needs it is skipped), with its profile-insert job; then the
 * "profile.reput" admin-log entry. job_ids (n entries, may be NULL) get each job's id (0
 * = skipped or failed). Stops at the first failure (those before it are stored and
 * ordered; the entry says how far it came); *done counts the re-puts.
 */
tw_rc profile_reput_apply(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const struct profile_reput_spec *spec,
	const struct profile_reput_item *items, size_t n, int64_t *job_ids, size_t *done,
	struct tw_error *err);

#endif
