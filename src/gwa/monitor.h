/*
 * monitor.h: monitoring of gateways (UC-3.2.3, UC-3.4.1-3.4.3, T-AB.1): alarms and
 * notifications sent by gateways, the actions they trigger, self-test results, and the
 * gateways' signed system and calibration logs.
 *
 * Message and log codecs are pure (bytes/JSON in, struct out) so the fuzz target
 * tests/fuzz/fuzz_profile.c drives them; the functions taking a store write data and
 * admin-log entry in one transaction.
 *
 * Log entry signature (UC-3.4.2: stored logs stay verifiable by the gateway's signature):
 * ECDSA with SHA-256 by the gateway's SIG key over
 *     "torwart-log-v1\n" GATEWAY_ID "\n" KIND "\n" SEQ "\n" TIME "\n" MESSAGE
 * (SEQ in decimal, no trailing newline), DER-encoded and base64 on the wire.
 */
#ifndef TORWART_GWA_MONITOR_H
#define TORWART_GWA_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base/config.h"
#include "base/error.h"
#include "base/util.h"
#include "store/store.h"
#include "store/store_profiles.h"

#define MONITOR_BODY_MAX        (64 * 1024)
#define MONITOR_TYPE_MAX        32      /* alarm types: 1..32 of [a-z0-9-] */
#define MONITOR_TEXT_MAX        255     /* message text */
#define MONITOR_LOG_BATCH_MAX   1000    /* log entries per answer */
#define MONITOR_ALARMS_MAX      32      /* alarms per session status */

/* ---- alarms and notifications ---- */

struct monitor_message {
	char gateway_id[STORE_ID_MAX + 1];
	char kind[16];                  /* "alarm" or "notification" */
	char type[MONITOR_TYPE_MAX + 1];
	char severity[16];              /* "critical", "major", "minor", "info" */
	char time[41];                  /* gateway clock, RFC 3339, as sent */
	char message[MONITOR_TEXT_MAX + 1];
};

/*
 * Strict parse of {"gateway_id","kind","type","severity","time","message"} (see
 * docs/monitoring.md). TW_E_TOO_LARGE above MONITOR_BODY_MAX or a member over its limit,
 * TW_E_PROTOCOL for bad JSON, TW_E_INVALID for a bad member.
 */
tw_rc monitor_message_parse(const void *body, size_t len, struct monitor_message *out,
	struct tw_error *err);
tw_rc monitor_message_from_json(const json_t *obj, struct monitor_message *out,
	struct tw_error *err);
/* New JSON object for m (caller owns). */
tw_rc monitor_message_to_json(const struct monitor_message *m, json_t **out,
	struct tw_error *err);

/* Actions taken on a message, from torwart.conf [monitor] (docs/monitoring.md). */
struct monitor_actions {
	bool alert;       /* an ALERT line in the service log (signalled to the operator role) */
	bool selftest;    /* schedule a self-test order for the gateway */
};
/* TW_E_CONFIG names the bad key. conf may be NULL (defaults: alarms alert). */
tw_rc monitor_actions_for(const struct tw_config *conf, const struct monitor_message *m,
	struct monitor_actions *out, struct tw_error *err);
/* "alert,selftest", "alert", "" ... into buf. */
void monitor_actions_format(const struct monitor_actions *a, char *buf, size_t size);

/*
 * Receive m from the TLS-authenticated gateway tls_gateway_id (T-AB.1: m->gateway_id
 * must equal it, otherwise TW_E_DENIED and nothing is stored; the caller logs the
 * refusal). Stores the message and its admin-log entry ("gateway.alarm" or
 * "gateway.notification", actor gateway:ID) in one transaction, then runs the actions:
 * alert -> tw_err line; selftest -> monitor_schedule_selftest. *ack_id is the stored id.
 */
tw_rc monitor_receive(struct tw_store *store, const struct tw_config *conf,
	const char *tls_gateway_id, const char *peer, const struct monitor_message *m,
	int64_t *ack_id, struct tw_error *err);

/*
 * Schedule a self-test order for gateway_id (action "selftest"). Creates a job of the
 * order type "self-test" when the job machinery is linked in; see monitor_orders.c.
 */
tw_rc monitor_schedule_selftest(struct tw_store *store, const char *gateway_id,
	const char *reason, struct tw_error *err);

/*
 * Record a self-test result {"result":"passed"|"failed","checks":[{"name","ok"}...]}
 * as a gateway message of kind "selftest" with admin-log entry "gateway.selftest".
 * Runs in the caller's transaction if one is open.
 */
tw_rc monitor_selftest_record(struct tw_store *store, const char *gateway_id,
	const json_t *result, struct tw_error *err);

/* ---- signed system and calibration logs (UC-3.4.2) ---- */

struct monitor_log_entry {
	int64_t seq;                    /* 1, 2, 3, ... per gateway and kind */
	char time[41];
	char message[MONITOR_TEXT_MAX + 1];
	unsigned char sig[STORE_LOG_SIG_MAX];
	size_t sig_len;
};

/* kind must be "system" or "calibration". */
bool monitor_log_kind_valid(const char *kind);
/* The bytes that are signed (see above) into out. */
tw_rc monitor_log_tbs(const char *gateway_id, const char *kind,
	const struct monitor_log_entry *e, struct tw_buf *out, struct tw_error *err);
/* Sign e in place with key (the gateway's SIG key: the simulator). */
tw_rc monitor_log_sign(EVP_PKEY *key, const char *gateway_id, const char *kind,
	struct monitor_log_entry *e, struct tw_error *err);
/* *valid tells whether e's signature verifies with pub. TW_OK unless verification
 * could not run at all. */
tw_rc monitor_log_verify(EVP_PKEY *pub, const char *gateway_id, const char *kind,
	const struct monitor_log_entry *e, bool *valid, struct tw_error *err);

/*
 * Strict parse of a log-read result {"kind":"system","entries":[{"seq","time",
 * "message","signature"}...]}. *entries (caller frees) has *n <= MONITOR_LOG_BATCH_MAX.
 */
tw_rc monitor_logs_parse(const json_t *obj, char kind[16],
	struct monitor_log_entry **entries, size_t *n, struct tw_error *err);
tw_rc monitor_logs_to_json(const char *kind, const struct monitor_log_entry *entries,
	size_t n, json_t **out, struct tw_error *err);

struct monitor_ingest_stats {
	size_t received, stored, invalid, duplicates;
};

/*
 * Verify every entry of result against the gateway's SIG certificate from the
 * inventory and store it with its signature and the verdict (entries with a bad
 * signature are kept as evidence, marked invalid, and logged). An entry already stored
 * with the same seq is a duplicate and skipped. One admin-log entry "gateway.log.receive"
 * (result "ok" or "invalid-signature"). Runs in the caller's transaction if one is open.
 */
tw_rc monitor_logs_ingest(struct tw_store *store, const char *gateway_id,
	const json_t *result, const char *client, struct monitor_ingest_stats *stats,
	struct tw_error *err);

/* Verification status of a stored entry, re-checked now against the certificate it was
 * verified with at receipt. */
enum monitor_log_status { MONITOR_LOG_VALID, MONITOR_LOG_INVALID, MONITOR_LOG_NO_CERT };
const char *monitor_log_status_name(enum monitor_log_status s);
typedef int (*monitor_log_cb)(const struct store_gateway_log *l, enum monitor_log_status st,
	void *arg);
/* Walk the stored entries (kind NULL: both), re-verifying each; logged as
 * "gateway.log.read" by actor. */
tw_rc monitor_logs_show(struct tw_store *store, const char *actor, const char *role,
	const char *client, const char *gateway_id, const char *kind, monitor_log_cb cb,
	void *arg, struct tw_error *err);

#endif
