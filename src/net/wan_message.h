/*
 * wan_message.h: the codec of WAN protocol v1 (docs/wan-protocol.md): parse, validate
 * and encode the JSON bodies exchanged between an SMGW and `wan`.
 *
 * Pure functions over bytes: no sockets, no store, no global state, so the fuzz target
 * (tests/fuzz/fuzz_wan_message.c) and the unit test drive exactly what the service runs.
 * Every parser takes (bytes, length), refuses more than WAN_MESSAGE_MAX_BODY, and either
 * fills its whole output struct or reports why not (typed tw_rc + message naming the
 * field); it never returns a half-filled struct as success.
 *
 * Error classes used by the parsers (wan_error_code_for() maps them to wire codes):
 *   TW_E_TOO_LARGE  body or a field longer than its limit
 *   TW_E_PROTOCOL   not JSON, not an object, duplicate keys
 *   TW_E_INVALID    a member is missing, unknown, of the wrong type or out of range
 */
#ifndef TORWART_NET_WAN_MESSAGE_H
#define TORWART_NET_WAN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "base/util.h"

#define WAN_PROTOCOL_VERSION       1
/* Largest request or response body either side accepts (bytes). */
#define WAN_MESSAGE_MAX_BODY       (64 * 1024)
#define WAN_GATEWAY_ID_MAX         64   /* == STORE_ID_MAX; SMGW ids */
#define WAN_FIRMWARE_VERSION_MAX   64
#define WAN_SESSION_ID_MAX         64
#define WAN_TIME_MAX               40   /* RFC 3339 text */
#define WAN_ERROR_CODE_MAX         40
#define WAN_ERROR_MESSAGE_MAX      255

/* POST /v1/session request (SMGW -> GWA). */
struct wan_session_request {
	char gateway_id[WAN_GATEWAY_ID_MAX + 1];
	char firmware_version[WAN_FIRMWARE_VERSION_MAX + 1];
	char time[WAN_TIME_MAX + 1];   /* as sent */
	int64_t time_ms;               /* parsed, ms since the epoch (UTC) */
};

/* 200 answer to POST /v1/session (GWA -> SMGW). */
struct wan_session_response {
	long protocol;
	char session[WAN_SESSION_ID_MAX + 1];
	char server_time[WAN_TIME_MAX + 1];
	int64_t server_time_ms;
	long pending_orders;
};

/* Body of every non-2xx answer: {"error":{"code":...,"message":...}}. */
struct wan_error_body {
	char code[WAN_ERROR_CODE_MAX + 1];
	char message[WAN_ERROR_MESSAGE_MAX + 1];
};

/* SMGW ids: 1..64 characters of [A-Za-z0-9._-] (same rule as gateway_id_valid). */
int wan_gateway_id_valid(const char *id);

/*
 * Strict RFC 3339 date-time ("2026-11-24T06:51:41.123Z", "...+01:00"), at most
 * WAN_TIME_MAX characters; fractions beyond milliseconds are truncated. *ms is UTC.
 */
tw_rc wan_time_parse(const char *s, int64_t *ms, struct tw_error *err);

/* Requests are parsed strictly: unknown members are refused (TW_E_INVALID). */
tw_rc wan_session_request_parse(const void *body, size_t len,
	struct wan_session_request *out, struct tw_error *err);
/*
 * The same, also handing out the request's optional "status" object from the one parse
 * (the wan's session path parsed the body a second time for it): *status = NULL when
 * absent or on failure, else a new reference (json_decref). status may be NULL.
 */
tw_rc wan_session_request_parse_status(const void *body, size_t len,
	struct wan_session_request *out, json_t **status, struct tw_error *err);
/* Appends the JSON encoding to out (caller owns out). Validates req first. */
tw_rc wan_session_request_encode(const struct wan_session_request *req, struct tw_buf *out,
	struct tw_error *err);

/* Responses are parsed leniently: unknown members are ignored (forward compatible). */
tw_rc wan_session_response_parse(const void *body, size_t len,
	struct wan_session_response *out, struct tw_error *err);
tw_rc wan_session_response_encode(const struct wan_session_response *res,
	struct tw_buf *out, struct tw_error *err);

tw_rc wan_error_parse(const void *body, size_t len, struct wan_error_body *out,
	struct tw_error *err);
/* code must be [a-z_]+; message is truncated to WAN_ERROR_MESSAGE_MAX bytes. */
tw_rc wan_error_encode(const char *code, const char *message, struct tw_buf *out,
	struct tw_error *err);

/* Wire error code for a parser failure: "too_large", "bad_json", "invalid_request". */
const char *wan_error_code_for(tw_rc rc);

/* ---- orders (issue 4; docs/wan-protocol.md "Orders") ---- */

#define WAN_ORDER_ID_MAX        20          /* decimal digits of a job id */
#define WAN_ORDER_TYPE_MAX      32
#define WAN_ORDER_PAYLOAD_MAX   (48 * 1024) /* == ORDER_PAYLOAD_MAX */
#define WAN_STATUS_MAX          (16 * 1024) /* session "status" object */

/* One order handed to a gateway. payload is owned (see wan_orders_response_clear). */
struct wan_order {
	int64_t id;
	char type[WAN_ORDER_TYPE_MAX + 1];
	json_t *payload;
	long attempt;
	char deadline[WAN_TIME_MAX + 1];
	int64_t deadline_ms;
};

/* 200 answer to GET /v1/orders: zero or one order in v1. */
struct wan_orders_response {
	bool has_order;
	struct wan_order order;
	long pending_orders;
};

/* POST /v1/orders/ID/result request. result is owned (wan_order_result_clear). */
struct wan_order_result {
	bool ok;
	json_t *result;                          /* ok: an object */
	char code[WAN_ERROR_CODE_MAX + 1];       /* !ok */
	char message[WAN_ERROR_MESSAGE_MAX + 1]; /* !ok, may be "" */
};

/* "42" -> 42: 1..20 decimal digits, no sign, value in [1, INT64_MAX]. */
tw_rc wan_order_id_parse(const char *s, size_t len, int64_t *id, struct tw_error *err);

void wan_orders_response_clear(struct wan_orders_response *r);
tw_rc wan_orders_response_encode(const struct wan_orders_response *r, struct tw_buf *out,
	struct tw_error *err);
/* Lenient (unknown members ignored); at most one order is read. */
tw_rc wan_orders_response_parse(const void *body, size_t len, struct wan_orders_response *out,
	struct tw_error *err);

void wan_order_result_clear(struct wan_order_result *r);
/* Strict, like every request. */
tw_rc wan_order_result_parse(const void *body, size_t len, struct wan_order_result *out,
	struct tw_error *err);
tw_rc wan_order_result_encode(const struct wan_order_result *r, struct tw_buf *out,
	struct tw_error *err);

/* {"pending_orders":N}: the answer to a result. */
tw_rc wan_pending_encode(long pending, struct tw_buf *out, struct tw_error *err);
tw_rc wan_pending_parse(const void *body, size_t len, long *pending, struct tw_error *err);

/* Like wan_session_request_encode, with an optional status object (borrowed, may be NULL). */
tw_rc wan_session_request_encode_status(const struct wan_session_request *req,
	const json_t *status, struct tw_buf *out, struct tw_error *err);

/* ---- EMT requests (UC-3.2.4; docs/wan-protocol.md "EMT requests") ---- */

/* An EMT request body is small; anything above this is refused with 413 before parsing. */
#define WAN_EMT_BODY_MAX          1024
#define WAN_EMT_CLS_ID_MAX        64      /* == PROFILE_ID_MAX: CLS ids of proxy profiles */
#define WAN_EMT_DURATION_MIN      1
#define WAN_EMT_DURATION_MAX      86400   /* == a proxy profile's max_session_s */

/* POST /v1/emt/cls-requests: {"gateway": ID, "cls": CLS-ID, "duration_s": N}. */
struct wan_emt_cls_request {
	char gateway[WAN_GATEWAY_ID_MAX + 1];  /* SMGW id rule */
	char cls[WAN_EMT_CLS_ID_MAX + 1];      /* [A-Za-z0-9._-], 1..64 */
	long duration_s;                       /* WAN_EMT_DURATION_MIN..MAX */
};

/*
 * Strict, like every request: exactly the three members, no duplicates, limits as above
 * (TW_E_TOO_LARGE for a body over WAN_EMT_BODY_MAX or a too long member, TW_E_PROTOCOL
 * for bad JSON, TW_E_INVALID otherwise). out is zeroed unless the whole body is valid.
 */
tw_rc wan_emt_cls_request_parse(const void *body, size_t len,
	struct wan_emt_cls_request *out, struct tw_error *err);
/* Appends the JSON encoding to out (caller owns out); validates req first. */
tw_rc wan_emt_cls_request_encode(const struct wan_emt_cls_request *req, struct tw_buf *out,
	struct tw_error *err);

#endif
