/*
 * store_metering.h: the metering outbox (metering_messages), the EMTs' delivery endpoints
 * (emt_endpoints), and the time service's records (time_checks, gateway_time).
 * Owner: src/metering (docs/metering.md). Every function checks its arguments before any
 * SQL runs; bad input is TW_E_INVALID and changes nothing.
 */
#ifndef TORWART_STORE_STORE_METERING_H
#define TORWART_STORE_STORE_METERING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_METERING_ID_MAX     64      /* message ids and metering point ids */
#define STORE_METERING_BODY_MAX   (64 * 1024)
#define STORE_EMT_URL_MAX         255

struct store_metering_msg {
	int64_t id;
	char gateway_id[STORE_ID_MAX + 1];
	char message_id[STORE_METERING_ID_MAX + 1];
	char kind[16];                          /* "tariffed", "grid-status" */
	char emt_id[STORE_ID_MAX + 1];
	char metering_point[STORE_METERING_ID_MAX + 1];
	bool clock_ok;
	char sha256[65];                        /* of the CMS as received */
	unsigned char *body;                    /* owned by the struct (clear frees it) */
	size_t body_len;
	int64_t received_ms;
	char state[16];                         /* "pending", "delivered" */
	int64_t attempts;
	int64_t next_attempt_ms;
	int64_t delivered_ms;
	char last_error[256];
};

void store_metering_msg_clear(struct store_metering_msg *m);

/*
 * Store a received message (state pending, due now). Idempotent per (gateway_id,
 * message_id): when that pair exists with the same sha256, *duplicate is true and *id is
 * the stored row. TW_E_EXISTS: the same message id with other bytes, or the same bytes
 * under another message id (a replay).
 */
tw_rc store_metering_insert(struct tw_store *store, const struct store_metering_msg *m,
	int64_t *id, bool *duplicate, struct tw_error *err);
/* Up to max pending rows with next_attempt_ms <= now_ms, oldest first (bodies included).
 * *out is a malloc'ed array of *n rows: free with store_metering_msgs_free. */
tw_rc store_metering_due(struct tw_store *store, int64_t now_ms, size_t max,
	struct store_metering_msg **out, size_t *n, struct tw_error *err);
void store_metering_msgs_free(struct store_metering_msg *msgs, size_t n);
tw_rc store_metering_get(struct tw_store *store, int64_t id, struct store_metering_msg *out,
	struct tw_error *err);
/* pending -> delivered (TW_E_NOT_FOUND if no such pending row). */
tw_rc store_metering_delivered(struct tw_store *store, int64_t id, int64_t now_ms,
	struct tw_error *err);
/* A failed attempt: attempts + 1, next try at next_ms, the reason kept. */
tw_rc store_metering_retry(struct tw_store *store, int64_t id, int64_t next_ms,
	const char *error, struct tw_error *err);
/* Delete delivered rows delivered before cutoff_ms (M-4.5.5); *deleted counts them. */
tw_rc store_metering_purge(struct tw_store *store, int64_t cutoff_ms, int64_t *deleted,
	struct tw_error *err);
/* Pending rows received before cutoff_ms not alerted yet: mark them alerted; *n counts. */
tw_rc store_metering_mark_overdue(struct tw_store *store, int64_t cutoff_ms, int64_t *n,
	struct tw_error *err);

struct store_metering_counts {
	int64_t pending, delivered, overdue, bytes;
};
/* Totals, optionally for one EMT (emt_id NULL: all). */
tw_rc store_metering_count(struct tw_store *store, const char *emt_id,
	struct store_metering_counts *out, struct tw_error *err);

/* EMT delivery endpoints: url must be https://...; replaces an existing one. */
tw_rc store_emt_endpoint_set(struct tw_store *store, const char *emt_id, const char *url,
	int64_t now_ms, const char *by, struct tw_error *err);
/* TW_E_NOT_FOUND when the EMT has no endpoint. */
tw_rc store_emt_endpoint_get(struct tw_store *store, const char *emt_id, char *url,
	size_t size, struct tw_error *err);

struct store_time_check {
	int64_t checked_ms;
	char upstream[128];
	int64_t offset_ms;
	bool ok;
	int64_t valid_until_ms;                 /* the GWA serves time until then at most */
	char detail[256];
};
tw_rc store_time_check_insert(struct tw_store *store, const struct store_time_check *c,
	struct tw_error *err);
/* The newest check; TW_E_NOT_FOUND when there is none. */
tw_rc store_time_check_last(struct tw_store *store, struct store_time_check *out,
	struct tw_error *err);

struct store_gateway_time {
	char gateway_id[STORE_ID_MAX + 1];
	int64_t last_sync_ms;
	int64_t last_offset_ms;
	int64_t syncs;
	int64_t failures;
	char last_failure[256];
};
/* TW_E_NOT_FOUND when the gateway never synchronised. */
tw_rc store_gateway_time_get(struct tw_store *store, const char *gateway_id,
	struct store_gateway_time *out, struct tw_error *err);
/* A synchronisation: ok true records time and offset; false counts a failure (reason). */
tw_rc store_gateway_time_record(struct tw_store *store, const char *gateway_id, bool ok,
	int64_t now_ms, int64_t offset_ms, const char *failure, struct tw_error *err);
typedef int (*store_gateway_time_cb)(const struct store_gateway_time *t, void *arg);
/* Every gateway whose last offset exceeds limit_ms in magnitude or that has failures. */
tw_rc store_gateway_time_foreach_off(struct tw_store *store, int64_t limit_ms,
	store_gateway_time_cb cb, void *arg, struct tw_error *err);

#endif
