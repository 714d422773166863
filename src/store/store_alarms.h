/*
 * store_alarms.h: acknowledgements of gateway alarms (table gateway_message_acks,
 * migration NNNN_alarm_acks.sql; issue 15). The messages themselves are store_profiles.h's
 * gateway_messages; an acknowledgement says an operator took the alarm over.
 */
#ifndef TORWART_STORE_STORE_ALARMS_H
#define TORWART_STORE_STORE_ALARMS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"
#include "store/store_profiles.h"

struct store_alarm_ack {
	int64_t message_id;
	char acked_by[STORE_NAME_MAX + 1];
	int64_t acked_ms;
	char note[STORE_TEXT_MAX + 1];
};

/* The message id (any kind); TW_E_NOT_FOUND when there is none. */
tw_rc store_alarm_get(struct tw_store *store, int64_t id, struct store_gateway_message *out,
	struct tw_error *err);
/* The acknowledgement of message id; *found false when it has none. */
tw_rc store_alarm_ack_get(struct tw_store *store, int64_t id, struct store_alarm_ack *out,
	bool *found, struct tw_error *err);
/* Record it; TW_E_EXISTS when the message is acknowledged already. */
tw_rc store_alarm_ack_insert(struct tw_store *store, const struct store_alarm_ack *ack,
	struct tw_error *err);

/* Unacknowledged messages of kind "alarm" of the gateways on the handle's tenant scope
 * (store_scope_tenant), counted in SQL. */
tw_rc store_alarm_count_open(struct tw_store *store, int64_t *n, struct tw_error *err);

#endif
