/*
 * ship.h: shipping admin-log entries to a remote log server (M-4.5.13): RFC 5424
 * messages over TLS with RFC 5425 octet-counting framing, from a cursor kept in the
 * store ("syslog": last seq handed over), so nothing is lost while the server is down
 * and the service never waits for it (libevent, non-blocking; retried with back-off).
 *
 * [audit] syslog_host = HOST:PORT (absent: shipping off), syslog_ca = PEM trust file
 * (required), syslog_cert / syslog_key = optional client certificate (RFC 5425 mutual
 * authentication), syslog_hostname = HOSTNAME field (default: gethostname).
 */
#ifndef TORWART_AUDIT_SHIP_H
#define TORWART_AUDIT_SHIP_H

#include <stddef.h>

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

#define AUDIT_SHIP_CURSOR "syslog"
#define AUDIT_SHIP_BATCH 256

struct audit_shipper;
typedef struct ssl_st SSL;

/* Make ssl check that the peer's certificate names host (a DNS name or an IP literal). */
void audit_tls_expect_host(SSL *ssl, const char *host);

/* *out = NULL (and TW_OK) when [audit] syslog_host is not configured. */
tw_rc audit_shipper_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct audit_shipper **out, struct tw_error *err);
/* Connect if due, send what is new. Call periodically (the worker: every second). */
void audit_shipper_tick(struct audit_shipper *s);
void audit_shipper_free(struct audit_shipper *s);

/*
 * One entry as an RFC 5425 frame ("LEN SP SYSLOG-MSG") into out (NUL-terminated);
 * *len its length. TW_E_TOO_LARGE if it does not fit size.
 */
tw_rc audit_syslog_frame(const struct store_audit_row *row, const char *hostname, char *out,
	size_t size, size_t *len, struct tw_error *err);

#endif
