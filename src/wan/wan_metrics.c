/*
 * wan_metrics.c: counters of the wan service (see wan_metrics.h).
 */
#include "wan/wan_metrics.h"

#include <stdatomic.h>
#include <string.h>

static struct {
	atomic_uint_fast64_t connections;
	atomic_int_fast64_t open;
	atomic_uint_fast64_t full, resumed;
	atomic_uint_fast64_t refusals[WAN_REFUSAL__COUNT];
	struct tw_histogram session;
} wm;

static const char *const wan_refusal_names[WAN_REFUSAL__COUNT] = {
	"handshake", "certificate", "unknown_peer", "revoked", "disabled",
	"identity_mismatch", "store", "request",
};

const char *wan_refusal_name(enum wan_refusal r)
{
	return (unsigned)r < WAN_REFUSAL__COUNT ? wan_refusal_names[r] : "request";
}

enum wan_refusal wan_metrics_classify(const char *detail)
{
	static const struct { const char *prefix; enum wan_refusal r; } map[] = {
		{ "handshake failed", WAN_REFUSAL_HANDSHAKE },
		{ "certificate revoked", WAN_REFUSAL_REVOKED },
		{ "unknown certificate", WAN_REFUSAL_UNKNOWN },
		{ "unknown gateway", WAN_REFUSAL_UNKNOWN },
		{ "unknown EMT", WAN_REFUSAL_UNKNOWN },
		{ "no client certificate", WAN_REFUSAL_UNKNOWN },
		{ "participant is not", WAN_REFUSAL_UNKNOWN },
		{ "cannot fingerprint", WAN_REFUSAL_UNKNOWN },
		{ "gateway disabled", WAN_REFUSAL_DISABLED },
		{ "identity mismatch", WAN_REFUSAL_IDENTITY },
		{ "store unavailable", WAN_REFUSAL_STORE },
		/* X509_verify_cert_error_string texts of the chain check */
		{ "certificate ", WAN_REFUSAL_CERTIFICATE },
		{ "unable to ", WAN_REFUSAL_CERTIFICATE },
		{ "self-signed", WAN_REFUSAL_CERTIFICATE },
		{ "self signed", WAN_REFUSAL_CERTIFICATE },
		{ "CRL ", WAN_REFUSAL_CERTIFICATE },
		{ "invalid ", WAN_REFUSAL_CERTIFICATE },
		{ "unsupported ", WAN_REFUSAL_CERTIFICATE },
		{ "path length", WAN_REFUSAL_CERTIFICATE },
	};

	if (detail == NULL)
		return WAN_REFUSAL_REQUEST;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strncmp(detail, map[i].prefix, strlen(map[i].prefix)) == 0)
			return map[i].r;
	return WAN_REFUSAL_REQUEST;
}

void wan_metrics_connection_opened(void)
{
	tw_counter_add(&wm.connections, 1);
	atomic_fetch_add_explicit(&wm.open, 1, memory_order_relaxed);
}

void wan_metrics_connection_closed(void)
{
	atomic_fetch_sub_explicit(&wm.open, 1, memory_order_relaxed);
}

void wan_metrics_handshake(int resumed)
{
	tw_counter_add(resumed ? &wm.resumed : &wm.full, 1);
}

void wan_metrics_refusal(const char *detail)
{
	tw_counter_add(&wm.refusals[wan_metrics_classify(detail)], 1);
}

void wan_metrics_session(uint64_t us)
{
	tw_histogram_observe(&wm.session, us);
}

tw_rc wan_metrics_render(struct tw_buf *out, void *arg, struct tw_error *err)
{
	int64_t open = atomic_load_explicit(&wm.open, memory_order_relaxed);
	tw_rc rc;

	(void)arg;
	if ((rc = tw_metrics_family(out, "torwart_wan_connections_total", "counter",
	    "TLS connections accepted by wan", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_wan_connections_total", NULL, NULL,
	    atomic_load(&wm.connections), err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_wan_connections_open", "gauge",
	    "TLS connections open now", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_wan_connections_open", NULL, NULL,
	    open < 0 ? 0 : (uint64_t)open, err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_wan_handshakes_total", "counter",
	    "completed handshakes of identified gateways and EMTs, by kind", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_wan_handshakes_total", "kind", "full",
	    atomic_load(&wm.full), err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_wan_handshakes_total", "kind", "resumed",
	    atomic_load(&wm.resumed), err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_wan_refusals_total", "counter",
	    "connections and requests refused by wan, by reason (details in the admin log)",
	    err)) != TW_OK)
		return rc;
	for (int i = 0; i < WAN_REFUSAL__COUNT; i++)
		if ((rc = tw_metrics_sample(out, "torwart_wan_refusals_total", "reason",
		    wan_refusal_names[i], atomic_load(&wm.refusals[i]), err)) != TW_OK)
			return rc;
	return tw_metrics_histogram(out, "torwart_wan_session_seconds",
		"time to answer POST /v1/session (session opening)", &wm.session, err);
}
