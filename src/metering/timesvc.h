/*
 * timesvc.h: the legal-time service (UC-3.2.1, M-4.5.9, T-PTB.1-3, T-ZS.1;
 * docs/metering.md "Time service").
 *
 * The GWA checks its own clock against the upstream NTP servers of [time] upstream (in
 * production synchronised with the PTB) with a small SNTP client, records every check
 * (time_checks) and raises an alert when the offset passes [time] max_offset_ms or no
 * upstream answers. wan serves the time exchange (POST /v1/time) only while the newest
 * check is good and fresh. The gateway side of the exchange (the simulator) uses
 * timesvc_answer_parse and timesvc_offset.
 */
#ifndef TORWART_METERING_TIMESVC_H
#define TORWART_METERING_TIMESVC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "store/store.h"
#include "store/store_metering.h"

#define TIMESVC_BODY_MAX   512
#define TIMESVC_NONCE_HEX  32     /* 128-bit nonce in lower-case hex */
#define NTP_PACKET_LEN     48

/* POST /v1/time {"gateway_id","nonce","t1"} (strict; outside bytes). */
struct timesvc_request {
	char gateway_id[STORE_ID_MAX + 1];
	char nonce[TIMESVC_NONCE_HEX + 1];
	int64_t t1_ms;
};
tw_rc timesvc_request_parse(const void *body, size_t len, struct timesvc_request *out,
	struct tw_error *err);

/* Its answer {"nonce","t1","t2","t3","max_offset_ms"} (the gateway parses it). */
struct timesvc_answer {
	char nonce[TIMESVC_NONCE_HEX + 1];
	int64_t t1_ms, t2_ms, t3_ms;
	long max_offset_ms;
};
tw_rc timesvc_answer_parse(const void *body, size_t len, struct timesvc_answer *out,
	struct tw_error *err);

/*
 * The NTP answer (outside bytes) to our request whose transmit timestamp was origin:
 * mode server, version 3/4, stratum 1..15, not "unsynchronised", origin echoed (a
 * spoofed or stale answer is refused), receive/transmit timestamps present.
 * t2_ms and t3_ms: the server's receive and transmit times (Unix ms).
 */
tw_rc timesvc_ntp_parse(const unsigned char *pkt, size_t len, const unsigned char origin[8],
	int64_t *t2_ms, int64_t *t3_ms, int *stratum, struct tw_error *err);

/* One SNTP exchange with HOST:PORT; *offset_ms = server - local clock, *rtt_ms. */
tw_rc timesvc_ntp_query(const char *hostport, long timeout_ms, int64_t *offset_ms,
	int64_t *rtt_ms, struct tw_error *err);

/*
 * Check the clock against every [time] upstream (comma-separated HOST:PORT), record the
 * result in time_checks (valid for 3 * [time] check_interval_s) and raise ALERT_TIME when
 * no upstream answered or the median offset exceeds [time] max_offset_ms. TW_E_CONFIG when
 * no upstream is configured. *out (may be NULL) gets the recorded check.
 */
tw_rc timesvc_check(const struct tw_config *conf, struct tw_store *store,
	struct store_time_check *out, struct tw_error *err);

#endif
