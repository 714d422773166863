/*
 * renewal.h: SMGW certificate renewal through the WAN (issue 12, TR-03109-6 UC-3.3.3;
 * docs/renewal.md).
 *
 * One persistent workflow per gateway (table renewals, store/store_renewal.h), carried by
 * ordinary jobs, so deadlines, retries, wake-ups and the token buckets are the jobs':
 *
 *   requesting --cert-request result--> received --worker: check, authorise, issue-->
 *   installing --cert-install result--> installed --gateway connects with the new TLS
 *   certificate (the proof)--> confirmed --grace period, old certificates revoked-->
 *   completed;   any step --failure--> failed (final; the gateway keeps its old ones)
 *
 * Certificate statuses in the inventory: the new certificates are recorded 'pending' when
 * issued (the wan accepts a pending TLS certificate as a login: only the gateway holds its
 * key, and a gateway whose install result was lost must still get in); the proof moves
 * them to 'valid' and the old ones to 'superseded' in one transaction (the atomic switch);
 * superseded ones still log in until they are revoked after [renewal] grace_period.
 *
 * Every transition is a compare-and-set plus an admin-log entry in one transaction, so
 * a crash of any process at any step leaves a state the next worker tick continues from.
 */
#ifndef TORWART_GWA_RENEWAL_H
#define TORWART_GWA_RENEWAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "gwa/job.h"
#include "gwa/order.h"
#include "pki/request.h"
#include "store/store.h"
#include "store/store_renewal.h"

/* Certificate statuses this area uses besides "valid" and "revoked". */
#define RENEWAL_CERT_PENDING    "pending"
#define RENEWAL_CERT_SUPERSEDED "superseded"

#define RENEWAL_GRACE_DEFAULT_S        (7L * 86400L)
#define RENEWAL_PROOF_TIMEOUT_DEFAULT_S (14L * 86400L)
#define RENEWAL_BEFORE_DAYS_DEFAULT    60L
#define RENEWAL_BEFORE_DAYS_MAX        3650L
#define RENEWAL_BEFORE_DAYS_KEY        "renew_before_days"
#define RENEWAL_POLL_MS                2000   /* how often open orders are looked at */

/* Order types (renewal_orders.c), registered in order.c's table. */
extern const struct order_type order_type_cert_request;
extern const struct order_type order_type_cert_install;
/* CRL distribution to gateways (renewal_crl.c). */
extern const struct order_type order_type_crl_update;

/*
 * Check a renewal request received from gateway gateway_id (outside bytes: fuzzed by
 * tests/fuzz/fuzz_renewal_request.c). No store, no signer:
 *   - it parses as a BSI renewal (bsiCertReqMsgsWithOuterSig) with exactly TLS, SIG
 *     and ENC entries, each with a valid proof of possession (failure_inner_signature),
 *     on an allowed brainpool curve (failure_domain_parameters);
 *   - no authorisation layer (the GWA adds it; failure_incorrect_request);
 *   - the outer signature verifies and its certificate is current_sig, the gateway's
 *     current SIG certificate (failure_outer_signature);
 *   - every entry's subject names this gateway: CN and serialNumber equal gateway_id
 *     (failure_unauthorized_request).
 * On success *out is the parsed request (request_free). On refusal *out is NULL and
 * *result holds the one WSDL code, err the reason.
 */
tw_rc renewal_check_request(const unsigned char *in, size_t len, const char *gateway_id,
	X509 *current_sig, struct request **out, enum pki_result *result, struct tw_error *err);

/*
 * Start renewals for the gateways of selection ("id:GW", "all", "ids:A,B", "tag:T",
 * "tenant:T"): one renewal row + one cert-request job per gateway, in one transaction.
 * Gateways with an open renewal are skipped (*skipped counts them); a single gateway
 * ("id:") with an open renewal is TW_E_EXISTS. *started counts new renewals; *first_id
 * (may be NULL) is the first new renewal's id.
 */
/*
 * Per-attempt timeout, attempts and retry back-off of the renewal's orders: [renewal]
 * order_timeout (seconds, default 300), order_attempts (5), order_retry_delay (seconds,
 * 60, doubling per attempt as for every job); conf NULL = the defaults.
 */
struct renewal_orders_cfg {
	long timeout_s;
	int attempts;
	long retry_delay_s;
};
void renewal_orders_cfg_load(const struct tw_config *conf, struct renewal_orders_cfg *out);
tw_rc renewal_start(struct tw_store *store, const char *selection, const char *reason,
	const struct renewal_orders_cfg *cfg, const struct job_actor *who, int64_t *first_id,
	int64_t *started, int64_t *skipped, struct tw_error *err);

/*
 * The gateway connected with a TLS certificate in status 'pending' (wan): if it is the
 * new TLS certificate of a renewal in state installing or installed, switch the
 * inventory (new ones valid, old ones superseded) and confirm the renewal; the worker
 * then starts its grace period ([renewal] grace_period, seconds). *confirmed says whether
 * this call did it. Own transaction.
 */
tw_rc renewal_proof(struct tw_store *store, const char *gateway_id, const char *fingerprint, const char *client, bool *confirmed,
	struct tw_error *err);

/*
 * The automatic renewal window of tenant in days (0 = no automatic renewal): [renewal]
 * renew_before_days.<tenant>, else [renewal] renew_before_days, else
 * RENEWAL_BEFORE_DAYS_DEFAULT. tenant NULL: the global value. TW_E_CONFIG naming the key
 * when the value that applies is not an integer in 0..RENEWAL_BEFORE_DAYS_MAX (*days is
 * then unchanged). Configuration only: whether the tenant exists is renewal_worker_new's
 * check.
 */
tw_rc renewal_before_days(const struct tw_config *conf, const char *tenant, long *days,
	struct tw_error *err);

/* The worker's part: advance due renewals and start renewals of expiring gateways. */
struct renewal_worker;
/*
 * TW_E_CONFIG (nothing started) when a [renewal] renew_before_days value is invalid or a
 * renew_before_days.<tenant> names a tenant that does not exist in store: the windows are
 * resolved here, once, so that a typo is an error at start, not a tenant silently renewed
 * with the global window.
 */
tw_rc renewal_worker_new(const struct tw_home *home, struct tw_store *store,
	struct renewal_worker **out, struct tw_error *err);
/*
 * SIGHUP of the worker: read the [renewal] values of conf_path (torwart.conf) again:
 * renew_before_days, renew_before_days.<tenant> (checked as at start) and sub_ca,
 * sub_ca.<tenant> (local, or remote:NAME of a [ws.remote.NAME] the worker started with).
 * All or nothing: on any error (TW_E_CONFIG naming the key, TW_E_IO for the file) the
 * values in force stay as they were. The other [renewal] keys (tick_ms, grace_period,
 * order policy, remote_retry) keep their values from the start.
 */
tw_rc renewal_worker_reload(struct renewal_worker *w, const char *conf_path,
	struct tw_error *err);
/*
 * renewal_worker_reload of the home's torwart.conf, for the worker's SIGHUP: a refused
 * reload is logged and alerted (kind "config", system administrator) with the reason;
 * w NULL ([renewal] enabled = no): nothing.
 */
void renewal_worker_on_reload(struct renewal_worker *w);
/* Advance at most max due renewals; returns the number handled in *n (may be NULL). */
tw_rc renewal_worker_step(struct renewal_worker *w, int64_t now_ms, size_t max, size_t *n,
	struct tw_error *err);
void renewal_worker_free(struct renewal_worker *w);
/*
 * The worker process's timer: renewal_worker_step every [renewal] tick_ms (500) on base.
 * *out = NULL and TW_OK when [renewal] enabled = no. Stop with renewal_worker_stop.
 */
struct event_base;
tw_rc renewal_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct renewal_worker **out, struct tw_error *err);
void renewal_worker_stop(struct renewal_worker *w);

/*
 * Sub-CAs outside this home (renewal_remote.c): a tenant configured with [renewal]
 * sub_ca.<tenant> = remote:<name> sends its authorised requests to [ws.remote.<name>]
 * through the web-service client (ws_client.h): RequestCertificate (callback_possible when
 * this home has a [ws] listen), or, with pending_id (the messageID of an earlier
 * ok_syntax answer), ws_client_poll for what SendCertificates delivered since.
 * req is the gateway's checked request: the certificates are matched to its entries by
 * public key. TW_OK whenever res->state says the outcome; TW_E_CONFIG when the remote is
 * not configured; other errors are internal (store). res is the caller's
 * (renewal_remote_result_clear).
 */
enum renewal_remote_state {
	RENEWAL_REMOTE_ISSUED = 1,       /* res->certs/usages, n */
	RENEWAL_REMOTE_PENDING,          /* res->message_id: ask again later */
	RENEWAL_REMOTE_REFUSED,          /* res->code: the remote's (or our) WSDL code; final */
	RENEWAL_REMOTE_UNREACHABLE,      /* res->why: transport/TLS/timeout; retry later */
};
struct renewal_remote_result {
	enum renewal_remote_state state;
	enum pki_result code;
	char message_id[STORE_ID_MAX + 1];
	X509 *certs[REQUEST_MAX_ENTRIES];        /* owned */
	enum pki_usage usages[REQUEST_MAX_ENTRIES];
	size_t n;
	char why[TW_ERROR_MESSAGE_MAX];
};
tw_rc renewal_remote_issue(const struct tw_home *home, struct tw_store *store,
	const char *remote, const char *pending_id, const struct request *req,
	const unsigned char *authorised, size_t len, struct renewal_remote_result *res,
	struct tw_error *err);
void renewal_remote_result_clear(struct renewal_remote_result *res);

#endif
