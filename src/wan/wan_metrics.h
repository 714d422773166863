/*
 * wan_metrics.h: the wan service's counters for /metrics (docs/monitoring.md). One set
 * per process, shared by every event loop: relaxed atomics, no locks on the hot path.
 */
#ifndef TORWART_WAN_WAN_METRICS_H
#define TORWART_WAN_WAN_METRICS_H

#include <stdint.h>

#include "base/error.h"
#include "base/metrics.h"

/* Refusal reasons: a fixed, small label set (the detail text stays in the admin log). */
enum wan_refusal {
	WAN_REFUSAL_HANDSHAKE = 0,     /* TLS handshake failed before a certificate was seen */
	WAN_REFUSAL_CERTIFICATE,       /* chain verification failed (expired, untrusted, ...) */
	WAN_REFUSAL_UNKNOWN,           /* verified, but no known gateway/EMT, or no certificate */
	WAN_REFUSAL_REVOKED,
	WAN_REFUSAL_DISABLED,          /* gateway disabled */
	WAN_REFUSAL_IDENTITY,          /* body names another identity than the certificate */
	WAN_REFUSAL_STORE,             /* the store could not answer */
	WAN_REFUSAL_REQUEST,           /* anything refused after the handshake */
	WAN_REFUSAL__COUNT
};

/* The reason label of a refusal's detail text (wan_refuse's detail). */
enum wan_refusal wan_metrics_classify(const char *detail);
const char *wan_refusal_name(enum wan_refusal r);

void wan_metrics_connection_opened(void);
void wan_metrics_connection_closed(void);
void wan_metrics_handshake(int resumed);
void wan_metrics_refusal(const char *detail);
/* One POST /v1/session handled in us microseconds. */
void wan_metrics_session(uint64_t us);

/* metrics_render_fn of the wan (atomics only: runs on the metrics thread). */
tw_rc wan_metrics_render(struct tw_buf *out, void *arg, struct tw_error *err);

#endif
