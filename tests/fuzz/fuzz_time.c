/*
 * fuzz_time.c: libFuzzer target over the time service's parsers of outside bytes
 * (src/metering/timesvc.c): the gateway's POST /v1/time body (timesvc_request_parse),
 * the GWA's answer as a gateway reads it (timesvc_answer_parse) and an upstream NTP
 * server's packet (timesvc_ntp_parse). The first byte picks the parser.
 *
 * Invariants: an accepted request has a 32-digit hex nonce and a valid gateway id; an
 * accepted answer has t3 >= t2; an accepted NTP packet echoes the origin and has
 * t3 >= t2.
 *
 * Build: see tests/fuzz/meson.build (clang, -Dfuzz=true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metering/timesvc.h"
#include "net/wan_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timesvc_request rq;
	struct timesvc_answer an;
	int64_t t2 = 0, t3 = 0;
	int stratum = 0;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (timesvc_request_parse(data + 1, size - 1, &rq, NULL) == TW_OK &&
		    (strlen(rq.nonce) != TIMESVC_NONCE_HEX || !wan_gateway_id_valid(rq.gateway_id)))
			abort();
		break;
	case 1:
		if (timesvc_answer_parse(data + 1, size - 1, &an, NULL) == TW_OK &&
		    an.t3_ms < an.t2_ms)
			abort();
		break;
	default:
		/* The origin is taken from the packet's own bytes 24..31 half of the time. */
		if (size >= 1 + NTP_PACKET_LEN &&
		    timesvc_ntp_parse(data + 1, size - 1, data + 1 + 24, &t2, &t3, &stratum,
		    NULL) == TW_OK && (t3 < t2 || stratum < 1 || stratum > 15))
			abort();
		break;
	}
	return 0;
}
