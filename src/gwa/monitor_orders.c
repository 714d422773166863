/*
 * monitor_orders.c: the order types of monitoring (gwa/order.h): "self-test" (UC-3.4.3)
 * and "log-read" (UC-3.4.2: a range of the system or calibration log, every entry signed
 * by the gateway), the session hook "alarms" (UC-3.2.3: alarms and notifications a
 * gateway delivers when it opens a session), and the "selftest" action of monitor.h.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "gwa/job.h"
#include "gwa/monitor.h"
#include "gwa/profile_orders.h"

#define LOG_RANGE_MAX MONITOR_LOG_BATCH_MAX

static tw_rc wire_with_gateway(const struct order_ctx *ctx, json_t **wire,
	struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

/* ---- self-test ---- */

static tw_rc selftest_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	if (!json_is_object(ctx->payload) || json_object_size(ctx->payload) != 0)
		return tw_error_set(err, TW_E_INVALID, "self-test takes an empty payload {}");
	return TW_OK;
}

static tw_rc selftest_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	return monitor_selftest_record(ctx->store, ctx->gateway_id, result, err);
}

const struct order_type order_type_self_test = {
	.name = "self-test",
	.summary = "trigger the gateway's self-test and record its result",
	.validate = selftest_validate,
	.to_wire = wire_with_gateway,
	.on_result = selftest_result,
};

tw_rc monitor_schedule_selftest(struct tw_store *store, const char *gateway_id,
	const char *reason, struct tw_error *err)
{
	struct job_spec spec;
	struct job_actor who = { .actor = "system:monitor", .role = "service",
		.client = reason != NULL ? reason : "" };
	json_t *payload = json_object();
	int64_t id = 0;
	tw_rc rc;

	if (payload == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	memset(&spec, 0, sizeof(spec));
	spec.type = "self-test";
	spec.payload = payload;
	spec.retry_delay_s = -1;
	rc = job_create(store, gateway_id, &spec, &who, &id, err);
	json_decref(payload);
	if (rc == TW_OK)
		tw_info("monitor: self-test job %lld scheduled for %s after %s", (long long)id,
			gateway_id, reason != NULL ? reason : "a message");
	return rc;
}

/* ---- log-read ---- */

static tw_rc logread_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	const json_t *kind = json_object_get(ctx->payload, "kind");
	const json_t *from = json_object_get(ctx->payload, "from");
	const json_t *to = json_object_get(ctx->payload, "to");

	if (!json_is_object(ctx->payload) || json_object_size(ctx->payload) != 3 ||
	    !json_is_string(kind) || !monitor_log_kind_valid(json_string_value(kind)) ||
	    !json_is_integer(from) || !json_is_integer(to) || json_integer_value(from) < 1 ||
	    json_integer_value(to) < json_integer_value(from) ||
	    json_integer_value(to) - json_integer_value(from) >= LOG_RANGE_MAX)
		return tw_error_set(err, TW_E_INVALID, "log-read payload must be {\"kind\": \"system\" "
			"or \"calibration\", \"from\": N >= 1, \"to\": M >= N} with at most %d entries",
			LOG_RANGE_MAX);
	return TW_OK;
}

static tw_rc logread_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	struct monitor_ingest_stats st;
	const char *want = json_string_value(json_object_get(ctx->payload, "kind"));
	const char *got = json_string_value(json_object_get(result, "kind"));
	json_int_t from = json_integer_value(json_object_get(ctx->payload, "from"));
	json_int_t to = json_integer_value(json_object_get(ctx->payload, "to"));
	const json_t *entries = json_object_get(result, "entries");

	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "log-read result is for the %s log, the "
			"order asked for %s", got ? got : "(no)", want ? want : "?");
	for (size_t i = 0; i < json_array_size(entries); i++) {
		json_int_t seq = json_integer_value(json_object_get(json_array_get(entries, i),
			"seq"));

		if (seq < from || seq > to)
			return tw_error_set(err, TW_E_PROTOCOL, "log-read result holds entry %lld "
				"outside the requested range %lld..%lld", (long long)seq, (long long)from,
				(long long)to);
	}
	return monitor_logs_ingest(ctx->store, ctx->gateway_id, result, "", &st, err);
}

const struct order_type order_type_log_read = {
	.name = "log-read",
	.summary = "read a range of the gateway's signed system or calibration log",
	.validate = logread_validate,
	.to_wire = wire_with_gateway,
	.on_result = logread_result,
};

/* ---- session hook "alarms" ---- */

static tw_rc session_alarms(struct tw_store *store, const char *gateway_id,
	const json_t *value, struct tw_error *err)
{
	struct monitor_message m;
	int64_t ack;
	tw_rc rc = TW_OK;

	if (!json_is_array(value) || json_array_size(value) > MONITOR_ALARMS_MAX)
		return tw_error_set(err, TW_E_PROTOCOL, "status member \"alarms\" must be an array "
			"of at most %d messages", MONITOR_ALARMS_MAX);
	/* Each message on its own: one bad message does not lose the others. */
	for (size_t i = 0; i < json_array_size(value); i++) {
		struct tw_error e;
		tw_rc r = monitor_message_from_json(json_array_get(value, i), &m, &e);

		if (r == TW_OK)
			r = monitor_receive(store, profile_orders_monitor_conf(), gateway_id, "session",
				&m, &ack, &e);
		if (r == TW_E_DENIED) {
			/* T-AB.1: an alarm naming another gateway is refused and logged. */
			char actor[STORE_ID_MAX + 16];
			struct audit_entry a = { .actor = actor, .role = "smgw", .client = "session",
				.action = "gateway.alarm", .object = gateway_id, .result = "refused",
				.detail = e.message };
			struct tw_error ignored;

			snprintf(actor, sizeof(actor), "gateway:%s", gateway_id);
			(void)audit_append(store, &a, &ignored);
		}
		if (r != TW_OK && rc == TW_OK) {
			rc = r;
			tw_error_set(err, r, "alarm %zu of %s refused: %s", i, gateway_id, e.message);
		}
	}
	return rc;
}

const struct order_session_hook order_session_alarms = {
	.member = "alarms",
	.on_session = session_alarms,
};
