/*
 * sim_firmware.h: the gateway side of firmware updates in the simulator (UC-3.2.5;
 * docs/wan-protocol.md "Firmware download"): the image is fetched in ranges into
 * DIR/firmware-<sha256>.part (resumable: the next range starts at the file's size, also
 * after a dropped connection or a restart), its SHA-256 checked, the manufacturer's
 * signed manifest verified against the gateway's root-ca.crt, then "installed": the
 * state's "firmware" member names the running version, which the next session reports.
 */
#ifndef TORWART_SIM_SIM_FIRMWARE_H
#define TORWART_SIM_SIM_FIRMWARE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "net/wan_message.h"
#include "sim/sim_orders.h"

/* struct sim_gw.faults bits for the firmware handler (set by the engine per order). */
#define SIM_FAULT_FW_REFUSE 0x1u   /* refuse the image (answer image_refused) */
#define SIM_FAULT_FW_REBOOT 0x2u   /* reboot loop: roll back, report the old version */

#define SIM_FW_PATH_MAX 600

/* What is still to fetch for a firmware-update order. */
struct sim_fw_need {
	char path[SIM_FW_PATH_MAX];    /* the .part file */
	char url[64];                  /* /v1/firmware/ID */
	int64_t have;                  /* bytes already on disk */
	int64_t size;                  /* image size */
	long range_max;
};

/*
 * True when o is a firmware-update order whose image is not complete on disk yet (need
 * says from where). False when complete, or when the payload is unusable (the handler
 * then refuses the order with a code).
 */
bool sim_fw_download_needed(struct sim_gw *gw, const struct wan_order *o,
	struct sim_fw_need *need);
/* Append one received range, which must start at need->have. */
tw_rc sim_fw_append(struct sim_fw_need *need, int64_t first, const void *data, size_t len,
	struct tw_error *err);
/*
 * The download is complete: check size and SHA-256 against the order (corrupt: flip a
 * byte first, the "corrupt download" fault). On a mismatch the part file is removed
 * (TW_E_INTEGRITY): the caller fetches it again.
 */
tw_rc sim_fw_check(struct sim_gw *gw, const json_t *payload, bool corrupt,
	struct tw_error *err);
/* The running firmware version from the state, or NULL (the simulator's default). */
const char *sim_fw_running(struct sim_gw *gw);

extern const struct sim_order_handler sim_order_firmware_update;

#endif
