/*
 * metering_deliver.h: the worker's deliverer of metering messages to EMTs, and its
 * periodic housekeeping (retention M-4.5.5, overdue alerts, the GWA clock check).
 *
 * It runs in a thread of its own inside the worker, with its own store connection,
 * because deliveries block on EMT endpoints (connect, TLS, answer: up to
 * [metering] timeout_ms each) and must not hold up job scheduling.
 */
#ifndef TORWART_METERING_METERING_DELIVER_H
#define TORWART_METERING_METERING_DELIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store_metering.h"

struct metering_deliverer;

tw_rc metering_deliverer_start(const struct tw_home *home, struct metering_deliverer **out,
	struct tw_error *err);
/* Stops the thread (after the delivery in flight) and frees d. NULL is fine. */
void metering_deliverer_stop(struct metering_deliverer *d);

/*
 * One delivery of m to url (https://HOST:PORT/PATH) with ctx (client certificate = the
 * GWA's TLS certificate). The server must present a valid EMT TLS certificate of this
 * Sub-CA whose participant's market partner id is m->emt_id, or (trust, [trust]) an EMT
 * TLS certificate of another Sub-CA with that market partner id as its OU, not revoked by
 * its issuer's current CRL (pki/trust.h). TW_OK only on a 2xx answer.
 */
struct ssl_ctx_st;
struct trust_set;
tw_rc metering_deliver_one(struct ssl_ctx_st *ctx, struct tw_store *store,
	const struct trust_set *trust, const char *url, const struct store_metering_msg *m,
	long timeout_ms, struct tw_error *err);

/*
 * The head of an EMT's HTTP answer in buf[0..len): its status (0: no HTTP/1.x status
 * line), head_len (the bytes up to and including the blank line; 0 while incomplete),
 * content_length (-1: none or unusable) and whether the connection can carry the next
 * request (HTTP/1.1, a usable Content-Length, no "Connection: close", no chunking).
 * Pure; the deliverer's only parser of EMT bytes (tests/fuzz/fuzz_metering_answer.c).
 */
struct metering_answer {
	int status;
	size_t head_len;
	long long content_length;
	bool keep_alive;
};
void metering_answer_head(const char *buf, size_t len, struct metering_answer *a);

#endif
