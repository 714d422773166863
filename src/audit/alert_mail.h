/*
 * alert_mail.h: the e-mail channel of the alert path (alert.h; issue 12 S-8 "push
 * notifications ... webhook and e-mail"). An alert whose role has recipients
 *   [alert] mail.<role> = a@example.org, b@example.org
 * is sent as one plain-text mail through the relay
 *   [alert] mail_relay = smtp://host[:port] | smtps://host[:port]
 *   [alert] mail_from  = torwart@gwa.example          (envelope and From:)
 *   [alert] mail_tls   = starttls (default: STARTTLS required) | none (plain, a relay on
 *                        a trusted network only); smtps:// is TLS from the first byte
 *   [alert] mail_ca    = PEM trust file for the relay's certificate (default: system)
 *   [alert] mail_timeout = seconds per delivery (default 10)
 * SMTP is libcurl's (libcurl4-openssl-dev): a complete, maintained client with STARTTLS,
 * SMTPS, dot-stuffing and proper reply handling, instead of an SMTP dialogue of our own.
 * No relay authentication: the relay accepts the GWA by network (or client TLS on its
 * side); no credential is configured, so none can leak.
 */
#ifndef TORWART_AUDIT_ALERT_MAIL_H
#define TORWART_AUDIT_ALERT_MAIL_H

#include <stddef.h>

#include "base/config.h"
#include "base/error.h"
#include "base/home.h"
#include "store/store_auditlog.h"

#define ALERT_MAIL_RCPT_MAX 16          /* recipients per role */
#define ALERT_MAIL_ADDR_MAX 254         /* RFC 5321 path limit */

/* The recipients configured for role ([alert] mail.<role>); NULL when none. */
const char *alert_mail_rcpts(const struct tw_config *conf, const char *role);

/*
 * Split a recipient list (comma or space separated) into out[] (at most
 * ALERT_MAIL_RCPT_MAX): each a bare address local@domain of printable ASCII without
 * <>()[],;:"\ and spaces. TW_E_CONFIG naming the bad one otherwise.
 */
tw_rc alert_mail_parse_rcpts(const char *list, char out[][ALERT_MAIL_ADDR_MAX + 1],
	size_t *n, struct tw_error *err);

/*
 * The mail for alert a (CRLF lines, headers + text body) into *out (caller frees).
 * Every byte of the alert that is not printable ASCII (control characters, DEL, 8-bit)
 * is written as \xHH, so nothing in an alert can add a header, end the body or drive a
 * terminal; the Subject is cut to 200 characters.
 */
tw_rc alert_mail_compose(const struct store_alert *a, const char *from, const char *to,
	const char *date, char **out, size_t *len, struct tw_error *err);

/* Send a to the recipients of rcpts through the configured relay (blocking, timeout). */
tw_rc alert_mail_send(const struct tw_home *home, const struct store_alert *a,
	const char *rcpts, struct tw_error *err);

#endif
