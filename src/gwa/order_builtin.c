/*
 * order_builtin.c: the order types of the jobs area: "ping" (is the gateway there and
 * does it execute orders?) and "set-retention" (UC-3.3.5: the consumer-log retention
 * period; the GWA has no read access to that log, so it can only set the period and
 * check the gateway's confirmation).
 *
 * T-LL.1-2 (retention sent to the wrong SMGW): the order travels only over the session
 * of the TLS-authenticated target gateway; in addition the wire payload names the
 * recipient ("gateway_id", added by to_wire) so the gateway refuses an order meant for
 * another one, and on_result accepts only a confirmation that names the same gateway
 * and the same period.
 */
#include <stdio.h>
#include <string.h>

#include "gwa/order.h"

#define PING_ECHO_MAX        64
#define RETENTION_DAYS_MIN   1
#define RETENTION_DAYS_MAX   3650   /* ten years */

/* Only the listed members may appear in obj. */
static tw_rc only_keys(const json_t *obj, const char *const *keys, const char *what,
	struct tw_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; keys[i] != NULL && !ok; i++)
			ok = strcmp(k, keys[i]) == 0;
		if (!ok)
			return tw_error_set(err, TW_E_INVALID, "%s: unknown member \"%.40s\"", what, k);
	}
	return TW_OK;
}

/* ---- ping ---- */

static tw_rc ping_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const keys[] = { "echo", NULL };
	const json_t *echo = json_object_get(ctx->payload, "echo");
	tw_rc rc;

	if ((rc = only_keys(ctx->payload, keys, "ping payload", err)) != TW_OK)
		return rc;
	if (echo != NULL && (!json_is_string(echo) || json_string_length(echo) > PING_ECHO_MAX))
		return tw_error_set(err, TW_E_INVALID, "ping payload: \"echo\" must be a string of "
			"at most %d bytes", PING_ECHO_MAX);
	return TW_OK;
}

static tw_rc ping_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *want = json_object_get(ctx->payload, "echo");
	const json_t *got = json_object_get(result, "echo");

	if (want != NULL && (got == NULL || !json_equal((json_t *)want, (json_t *)got)))
		return tw_error_set(err, TW_E_PROTOCOL, "ping result does not echo the payload");
	return TW_OK;
}

const struct order_type order_type_ping = {
	.name = "ping",
	.summary = "ask the gateway to answer (payload {\"echo\":\"text\"} optional)",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = ping_validate,
	.to_wire = NULL,
	.on_result = ping_result,
	.on_error = NULL,
};

/* ---- set-retention (UC-3.3.5) ---- */

static tw_rc retention_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const keys[] = { "days", NULL };
	const json_t *days = json_object_get(ctx->payload, "days");
	tw_rc rc;

	if ((rc = only_keys(ctx->payload, keys, "set-retention payload", err)) != TW_OK)
		return rc;
	if (!json_is_integer(days) || json_integer_value(days) < RETENTION_DAYS_MIN ||
	    json_integer_value(days) > RETENTION_DAYS_MAX)
		return tw_error_set(err, TW_E_INVALID, "set-retention payload: \"days\" must be an "
			"integer in [%d, %d] (the consumer-log retention period)", RETENTION_DAYS_MIN,
			RETENTION_DAYS_MAX);
	return TW_OK;
}

static tw_rc retention_to_wire(const struct order_ctx *ctx, json_t **wire,
	struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory building a retention order");
	}
	return TW_OK;
}

static tw_rc retention_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *gw = json_object_get(result, "gateway_id");
	const json_t *days = json_object_get(result, "days");

	if (!json_is_string(gw) || strcmp(json_string_value(gw), ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "retention confirmation names another "
			"gateway (T-LL.1); the period is not recorded as set");
	if (!json_is_integer(days) || !json_equal((json_t *)days,
	    json_object_get(ctx->payload, "days")))
		return tw_error_set(err, TW_E_PROTOCOL, "retention confirmation reports another "
			"period than ordered");
	return TW_OK;
}

const struct order_type order_type_set_retention = {
	.name = "set-retention",
	.summary = "set the consumer-log retention period (payload {\"days\":N}, 1..3650)",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = retention_validate,
	.to_wire = retention_to_wire,
	.on_result = retention_result,
	.on_error = NULL,
};
