/*
 * wan_metering.h: the gateway routes of metering and time (docs/wan-protocol.md
 * "Metering data" and "Time synchronisation"):
 *   POST /v1/metering/values   a CMS metering message for an EMT (UC-3.5.1, UC-3.5.2)
 *   POST /v1/time              the time exchange (UC-3.2.1, T-PTB.1-3, T-ZS.1)
 */
#ifndef TORWART_WAN_WAN_METERING_H
#define TORWART_WAN_WAN_METERING_H

#include <stdbool.h>

#include <event2/http.h>
#include <openssl/ssl.h>

#include "base/config.h"
#include "store/store_metering.h"
#include "wan/wan_internal.h"

/* Read [time] min_interval_s and max_offset_ms (wan start; before any thread runs). */
tw_rc wan_metering_configure(const struct tw_config *conf, struct tw_error *err);
/* [wan] metering_batch and metering_batch_ms (group commit bounds, wan_orders.c). */
long wan_metering_batch_max(void);
long wan_metering_batch_ms(void);
/*
 * The batch stored row (rc TW_OK: id and duplicate set) or failed to: log and answer the
 * gateway (200 ack only on TW_OK, after the commit). Called by the thread's batch.
 */
void wan_metering_stored(struct wan_thread *thr, struct evhttp_request *req,
	const char *peer, const struct store_metering_msg *row, size_t received_len, tw_rc rc,
	const struct tw_error *e, int64_t id, bool duplicate);
/* Handle req if path is a metering or time route (answering it); false: not ours. */
bool wan_metering_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path);

#endif
