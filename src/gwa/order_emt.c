/*
 * order_emt.c: the order type "cls-connect" (UC-3.2.4, EMT <-> CLS communication).
 *
 * An EMT asks the GWA (POST /v1/emt/cls-requests, src/wan/wan_emt.c) to let it talk to a
 * controllable local system (CLS) behind a gateway. The GWA checks the EMT's authorisation
 * for that gateway, and this order wakes the gateway and tells it to activate its proxy
 * communication for the CLS for duration_s seconds; the gateway confirms with
 * {"proxy":"active","cls":CLS,...}.
 *
 * Why the authorisation is checked again in validate (wan checked it already): jobs can
 * also be created by operators (`torwart job create --type cls-connect`), and the rule
 * "only an EMT authorised for the gateway gets a proxy to its CLS" must hold whoever
 * creates the job. Like every recipient-bearing order, the wire payload names the gateway
 * (to_wire) so a gateway refuses an order meant for another one (T-PV.1), and on_result
 * accepts only a confirmation for the same gateway and CLS.
 *
 * Not done here: the GWA does not relay any CLS traffic and does not require a proxy
 * profile for (CLS, EMT) in the gateway's desired set; the gateway's confirmation is
 * the end of the GWA's part.
 */
#include <stdio.h>
#include <string.h>

#include "gwa/order.h"
#include "gwa/profile.h"
#include "store/store_profiles.h"

#define CLS_DURATION_MIN  1
#define CLS_DURATION_MAX  86400   /* a proxy profile's max_session_s limit */

static tw_rc cls_only_keys(const json_t *obj, struct tw_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		if (strcmp(k, "emt") != 0 && strcmp(k, "cls") != 0 && strcmp(k, "duration_s") != 0)
			return tw_error_set(err, TW_E_INVALID, "cls-connect payload: unknown member "
				"\"%.40s\"", k);
	}
	return TW_OK;
}

static tw_rc cls_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	const json_t *emt = json_object_get(ctx->payload, "emt");
	const json_t *cls = json_object_get(ctx->payload, "cls");
	const json_t *dur = json_object_get(ctx->payload, "duration_s");
	bool yes = false;
	tw_rc rc;

	if ((rc = cls_only_keys(ctx->payload, err)) != TW_OK)
		return rc;
	if (!json_is_string(emt) || !profile_id_valid(json_string_value(emt)))
		return tw_error_set(err, TW_E_INVALID, "cls-connect payload: \"emt\" must be an "
			"EMT id (1..64 of [A-Za-z0-9._-], its market partner id)");
	if (!json_is_string(cls) || !profile_id_valid(json_string_value(cls)))
		return tw_error_set(err, TW_E_INVALID, "cls-connect payload: \"cls\" must be a "
			"CLS id (1..64 of [A-Za-z0-9._-])");
	if (!json_is_integer(dur) || json_integer_value(dur) < CLS_DURATION_MIN ||
	    json_integer_value(dur) > CLS_DURATION_MAX)
		return tw_error_set(err, TW_E_INVALID, "cls-connect payload: \"duration_s\" must "
			"be an integer in [%d, %d]", CLS_DURATION_MIN, CLS_DURATION_MAX);
	rc = store_emt_is_authorised(ctx->store, ctx->gateway_id, json_string_value(emt), &yes,
		err);
	if (rc != TW_OK)
		return rc;
	if (!yes)
		return tw_error_set(err, TW_E_DENIED, "EMT %s is not authorised for gateway %s "
			"(`torwart profile authorise-emt`)", json_string_value(emt), ctx->gateway_id);
	return TW_OK;
}

static tw_rc cls_to_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory building a cls-connect order");
	}
	return TW_OK;
}

static tw_rc cls_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *proxy = json_object_get(result, "proxy");
	const json_t *gw = json_object_get(result, "gateway_id");
	const json_t *cls = json_object_get(result, "cls");

	if (!json_is_string(gw) || strcmp(json_string_value(gw), ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "cls-connect confirmation names another "
			"gateway");
	if (!json_is_string(cls) || !json_equal((json_t *)cls,
	    json_object_get(ctx->payload, "cls")))
		return tw_error_set(err, TW_E_PROTOCOL, "cls-connect confirmation names another "
			"CLS than ordered");
	if (!json_is_string(proxy) || strcmp(json_string_value(proxy), "active") != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "cls-connect confirmation does not report "
			"the proxy as active");
	return TW_OK;
}

const struct order_type order_type_cls_connect = {
	.name = "cls-connect",
	.summary = "activate proxy communication EMT <-> CLS (payload {\"emt\",\"cls\","
		"\"duration_s\"}; the EMT must be authorised for the gateway)",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = cls_validate,
	.to_wire = cls_to_wire,
	.on_result = cls_result,
	.on_error = NULL,
};
