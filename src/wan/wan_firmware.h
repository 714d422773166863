/*
 * wan_firmware.h: the firmware download route of `wan` (UC-3.2.5; wan_firmware.c).
 */
#ifndef TORWART_WAN_WAN_FIRMWARE_H
#define TORWART_WAN_WAN_FIRMWARE_H

#include <stdbool.h>

#include "base/home.h"
#include "wan/wan_internal.h"

/* Read [wan] firmware_range_max, firmware_rate and firmware_rate_total (byte-rate
 * limits per connection and in total, 0 = unlimited) before the threads start. */
tw_rc wan_firmware_init(const struct tw_home *home, unsigned threads, struct tw_error *err);
/* GET /v1/firmware/ID; false when path is not a firmware path (then nothing answered). */
bool wan_firmware_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path);

#endif
