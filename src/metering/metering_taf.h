/*
 * metering_taf.h: EMT requests for tariff changes and readouts (UC-3.5.3 TAF5 tariff
 * stage change, UC-3.5.4 TAF6 on-demand readout, UC-3.5.5 TAF9 actual feed-in readout;
 * docs/metering.md "EMT requests").
 *
 * An EMT posts {"gateway","metering_point","taf","tariff_stage"?} to
 * /v1/emt/taf-requests (src/wan/wan_emt.c). The GWA checks that the EMT is authorised for
 * the gateway and that an evaluation profile of that TAF names the metering point and the
 * EMT, then creates a job of order type "taf-request" that wakes the gateway. TAF5 is
 * confirmed by the gateway ({"tariff_stage"}); for TAF6/TAF9 the gateway answers with a
 * metering message (the same CMS as POST /v1/metering/values) that goes through the same
 * checks and outbox as every other message (metering_accept) and so reaches the EMT.
 */
#ifndef TORWART_METERING_METERING_TAF_H
#define TORWART_METERING_METERING_TAF_H

#include <stddef.h>

#include "base/error.h"
#include "gwa/order.h"
#include "store/store.h"
#include "store/store_metering.h"

#define METERING_TAF_BODY_MAX  1024
#define METERING_TAF_STAGE_MAX 16

struct metering_taf_request {
	char gateway[STORE_ID_MAX + 1];
	char metering_point[STORE_METERING_ID_MAX + 1];
	char taf[8];                  /* "TAF5", "TAF6", "TAF9" */
	long tariff_stage;            /* TAF5 only: 1..16; 0 otherwise */
};

/* Strict parse of an EMT's body (outside bytes); refused: *out zeroed. */
tw_rc metering_taf_request_parse(const void *body, size_t len,
	struct metering_taf_request *out, struct tw_error *err);

/* The message kind a readout of taf travels as ("tariffed" TAF6, "grid-status" TAF9). */
const char *metering_taf_kind(const char *taf);

/*
 * metering_check_authorised, and the evaluation profile must be of this taf. TW_E_DENIED
 * otherwise.
 */
tw_rc metering_check_authorised_taf(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, const char *taf, struct tw_error *err);

extern const struct order_type order_type_taf_request;

#endif
