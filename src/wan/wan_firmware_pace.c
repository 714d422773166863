/*
 * wan_firmware_pace.c: the token bucket of firmware download pacing
 * (wan_firmware_pace.h).
 */
#include "wan/wan_firmware_pace.h"

#define FW_PACE_CHUNK_MIN 1024
#define FW_PACE_CHUNK_MAX (16 * 1024)   /* one TLS record */

void fw_bucket_init(struct fw_bucket *b, int64_t rate, int64_t burst, int64_t start,
	int64_t now_ns)
{
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst > 0 ? burst : 0;
	b->tokens = (double)(start < b->burst ? start : b->burst);
	b->last_ns = now_ns;
}

int64_t fw_bucket_take(struct fw_bucket *b, int64_t n, int64_t now_ns)
{
	double wait;

	if (b->rate <= 0)
		return 0;
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * (double)b->rate / 1e9;
		if (b->tokens > (double)b->burst)
			b->tokens = (double)b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= (double)n;
	if (b->tokens >= 0)
		return 0;
	/* The debt is paid back at rate bytes/s: until then these bytes must wait. */
	wait = -b->tokens * 1e9 / (double)b->rate;
	return wait < 1 ? 1 : (int64_t)wait;
}

int64_t fw_pace_chunk(int64_t rate_conn, int64_t rate_total)
{
	int64_t r = rate_conn > 0 && (rate_total <= 0 || rate_conn < rate_total) ? rate_conn :
		rate_total;
	int64_t c = r / 10;

	if (r <= 0)
		return 0;
	return c < FW_PACE_CHUNK_MIN ? FW_PACE_CHUNK_MIN : c > FW_PACE_CHUNK_MAX ?
		FW_PACE_CHUNK_MAX : c;
}
