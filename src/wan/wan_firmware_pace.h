/*
 * wan_firmware_pace.h: byte-rate pacing of firmware downloads (T-SU.5: a rollout must
 * not saturate the uplink the gateways' other traffic needs; wan_firmware.c).
 *
 * A token bucket with reservations: taking n bytes always succeeds and says how long
 * the caller must wait before it may send them (0: now). The tokens may go below zero
 * (debt); later callers then wait behind the earlier ones, so concurrent connections
 * sharing one bucket are served in the order they asked, and no caller ever polls.
 * Over any interval T a bucket lets at most burst + rate * T bytes go out. No clock and
 * no locking in here: the caller passes the time and serialises a shared bucket
 * (wan_firmware.c holds one per process behind a mutex, one per transfer without).
 */
#ifndef TORWART_WAN_WAN_FIRMWARE_PACE_H
#define TORWART_WAN_WAN_FIRMWARE_PACE_H

#include <stdint.h>

struct fw_bucket {
	int64_t rate;     /* bytes per second; 0 = unlimited */
	int64_t burst;    /* most bytes allowed at once after an idle time */
	double tokens;    /* bytes that may go now; negative: reserved ahead (debt) */
	int64_t last_ns;  /* time of the last refill (monotonic) */
};

/* A bucket of rate bytes/s (0: unlimited), at most burst bytes at once, holding
 * start bytes at now_ns (clamped to burst). */
void fw_bucket_init(struct fw_bucket *b, int64_t rate, int64_t burst, int64_t start,
	int64_t now_ns);
/* Reserve n bytes at now_ns; returns the nanoseconds to wait before sending them
 * (0 when they may go now, always 0 for an unlimited bucket). A clock that goes back
 * is treated as standing still. */
int64_t fw_bucket_take(struct fw_bucket *b, int64_t n, int64_t now_ns);
/* Bytes sent per step of a paced transfer for these rates (0 = unlimited; both 0:
 * 0): a tenth of a second of the smaller rate, within [1 KiB, 16 KiB]. */
int64_t fw_pace_chunk(int64_t rate_conn, int64_t rate_total);

#endif
