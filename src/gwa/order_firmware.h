/*
 * order_firmware.h: the "firmware-update" order type (UC-3.2.5, T-SU.1-7; docs/firmware.md
 * "Transfer to gateways", docs/wan-protocol.md "Firmware download").
 *
 * Stored payload {"image": ID}: a released image with a verified manufacturer signature
 * (anything else is refused when the job is created). On the wire the gateway gets the
 * image's model, version, size, SHA-256, its download path /v1/firmware/ID, the largest
 * range it may ask for, and the manufacturer's signed manifest (base64 DER CMS) so it
 * can check authenticity end to end itself. The result must report the ordered version
 * as running ({"gateway_id", "version", "sha256"}); another version (a rollback after a
 * failed install, a reboot loop) fails the job with that version named.
 */
#ifndef TORWART_GWA_ORDER_FIRMWARE_H
#define TORWART_GWA_ORDER_FIRMWARE_H

#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "gwa/order.h"
#include "store/store.h"

#define FIRMWARE_RANGE_MAX_DEFAULT (256 * 1024)   /* [wan] firmware_range_max */

extern const struct order_type order_type_firmware_update;

/*
 * Remember the home directory and [wan] firmware_range_max for to_wire and the wan's
 * download route (once per process, before threads start). TW_OK when called again.
 */
tw_rc firmware_orders_init(const struct tw_home *home, struct tw_error *err);
/* The home directory recorded by firmware_orders_init (NULL before). Borrowed. */
const char *firmware_orders_home(void);
/* Largest range a gateway may request, bytes. */
long firmware_orders_range_max(void);

/*
 * May gateway_id download image image_id now? Yes when its oldest open job (the order
 * it is executing, orders are handed out one at a time) is a firmware-update for that
 * image in state "sent". *job_id names that job. TW_E_DENIED (message says why) else.
 */
tw_rc firmware_download_allowed(struct tw_store *store, const char *gateway_id,
	int64_t image_id, int64_t *job_id, struct tw_error *err);

/*
 * Parse an HTTP Range header of a download request (outside bytes): exactly one range
 * "bytes=FIRST-LAST" or "bytes=FIRST-" (no suffix ranges, no lists, no spaces), within
 * an image of size bytes; the answer is cut to at most max bytes (the gateway asks for
 * the rest next). NULL header = from 0. TW_E_INVALID for a malformed header,
 * TW_E_TOO_LARGE when FIRST is at or past the end (416).
 */
tw_rc firmware_range_parse(const char *header, int64_t size, int64_t max, int64_t *first,
	int64_t *len, struct tw_error *err);

#endif
