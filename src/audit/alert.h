/*
 * alert.h: critical events signalled to a role, not a person (M-4.5.6.7): failed-login
 * bursts, log-verification failure, access attempts on keys, break-glass, service or
 * link outage, job timeouts above a threshold.
 *
 * alert_raise queues the alert in the store (it survives restarts) and writes an
 * admin-log entry "alert.<kind>" (result "alert") in the same transaction; that entry
 * reaches the remote log server as a critical syslog message (ship.h). The worker's
 * alert sender POSTs each queued alert as JSON to the webhook of its role:
 *   [alert] webhook.<role> = https://...   (else [alert] webhook = https://...)
 *   [alert] webhook_ca = PEM trust file for https webhooks (default: system store)
 * retrying with back-off (2^attempts s, at most 5 min) until it gets a 2xx answer.
 * A role with [alert] mail.<role> recipients gets each alert by e-mail through the
 * configured relay as well (alert_mail.h); the mail goes first, and an alert whose mail
 * is out but whose webhook failed retries the webhook only.
 * An alert for a role with no webhook at all is set aside instead (kept undelivered,
 * last_error "undeliverable: no webhook for role R"; due again when the worker starts).
 */
#ifndef TORWART_AUDIT_ALERT_H
#define TORWART_AUDIT_ALERT_H

#include <stdint.h>

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

enum alert_kind {
	ALERT_LOGIN_BURST = 1,   /* failed logins above the threshold (auth calls this) */
	ALERT_LOG_INTEGRITY,     /* admin-log verification failed */
	ALERT_KEY_ACCESS,        /* refused or unexpected access to a private key */
	ALERT_BREAK_GLASS,       /* break-glass access used */
	ALERT_OUTAGE,            /* a service or link is down */
	ALERT_JOB_TIMEOUT,       /* a job exceeded its time-out threshold */
	ALERT_POLICY_DRIFT,      /* the [auth] policy changed outside `torwart policy set` */
	ALERT_SANDBOX,           /* a service was killed by its seccomp filter (SIGSYS) */
	ALERT_PROFILE_DRIFT,     /* a gateway changed its profiles away from the desired set */
	ALERT_RENEWAL_REFUSED,   /* a gateway's renewal request failed the GWA's checks */
	ALERT_FIRMWARE_CHECK,    /* a stored firmware image failed its daily check (M-4.5.19) */
	ALERT_METERING_UNDELIVERED, /* metering data not acknowledged by its EMT in time */
	ALERT_TIME,              /* the GWA clock is off or unchecked (UC-3.2.1, M-4.5.9) */
	ALERT_CONTEXT_CERT,      /* a certificate of a GWA context expired or was revoked (S-8) */
	ALERT_CONFIG,            /* a configuration reload was refused; the old values stay */
	ALERT_PARTNER_REVOKED,   /* a gateway holds profiles whose partner certificate a CRL revokes */
};

/* next_ms of a queued alert set aside because its role has no webhook (metrics count it). */
#define ALERT_SET_ASIDE_MS INT64_MAX

/* "login-burst", "log-integrity", ...; NULL for an unknown kind. */
const char *alert_kind_name(enum alert_kind kind);
/* The role an alert of this kind goes to when the caller names none. */
const char *alert_default_role(enum alert_kind kind);

/*
 * Queue an alert and log it. role NULL = alert_default_role(kind). subject names the
 * object (user, key label, service, job id), message says what happened and what to do;
 * never secrets. Opens its own transaction, or joins the caller's if one is open.
 */
tw_rc alert_raise(struct tw_store *store, enum alert_kind kind, const char *role,
	const char *subject, const char *message, struct tw_error *err);

/* The deliverer of the worker (webhooks and e-mail). */
struct alert_sender;
tw_rc alert_sender_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct alert_sender **out, struct tw_error *err);
/* Start deliveries that are due (one request in flight at a time; each answer starts
 * the next; alerts without a webhook are set aside in batches). */
void alert_sender_tick(struct alert_sender *s);
void alert_sender_free(struct alert_sender *s);

#endif
