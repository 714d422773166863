/*
 * metering_taf.c: EMT requests TAF5/TAF6/TAF9 and the order type "taf-request"
 * (metering_taf.h).
 *
 * Why the authorisation is checked in validate again (wan checked it before creating the
 * job): operators can create the job too (`torwart job create --type taf-request`), and
 * "only an EMT with an evaluation profile for that metering point and TAF gets the
 * readout or changes the tariff" must hold whoever creates it (T-PV.4, T-MB.4). The
 * readout's message is checked again on arrival by metering_accept (signature, EMT,
 * metering point), exactly like a message posted on its own.
 */
#include "metering/metering_taf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/util.h"
#include "gwa/profile.h"
#include "metering/metering.h"
#include "net/wan_message.h"

static bool taf_known(const char *t)
{
	return strcmp(t, "TAF5") == 0 || strcmp(t, "TAF6") == 0 || strcmp(t, "TAF9") == 0;
}

const char *metering_taf_kind(const char *taf)
{
	return strcmp(taf, "TAF9") == 0 ? "grid-status" : "tariffed";
}

tw_rc metering_check_authorised_taf(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, const char *taf, struct tw_error *err)
{
	return metering_check_authorised_for(store, gateway_id, emt, metering_point, taf, err);
}

static tw_rc taf_only(const json_t *o, const char *const *members, const char *what,
	struct tw_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		size_t i;

		(void)v;
		for (i = 0; members[i] != NULL && strcmp(members[i], k) != 0; i++)
			;
		if (members[i] == NULL)
			return tw_error_set(err, TW_E_INVALID, "%s: unknown member \"%.40s\"", what, k);
	}
	return TW_OK;
}

/* Shared rules of the EMT body and the job payload: taf, metering point, stage. */
static tw_rc taf_fields(const json_t *o, char *mp, size_t mp_size, char *taf,
	size_t taf_size, long *stage, struct tw_error *err)
{
	const json_t *m = json_object_get(o, "metering_point");
	const json_t *t = json_object_get(o, "taf");
	const json_t *s = json_object_get(o, "tariff_stage");

	if (!json_is_string(t) || !taf_known(json_string_value(t)))
		return tw_error_set(err, TW_E_INVALID, "member \"taf\" must be TAF5, TAF6 or TAF9");
	if (!json_is_string(m) || json_string_length(m) > STORE_METERING_ID_MAX ||
	    !profile_id_valid(json_string_value(m)))
		return tw_error_set(err, TW_E_INVALID, "member \"metering_point\" must be 1..64 of "
			"[A-Za-z0-9._-] (a meter id of the gateway's evaluation profile)");
	if (strcmp(json_string_value(t), "TAF5") == 0) {
		if (!json_is_integer(s) || json_integer_value(s) < 1 ||
		    json_integer_value(s) > METERING_TAF_STAGE_MAX)
			return tw_error_set(err, TW_E_INVALID, "TAF5 needs \"tariff_stage\", an "
				"integer 1..%d", METERING_TAF_STAGE_MAX);
		*stage = (long)json_integer_value(s);
	} else if (s != NULL) {
		return tw_error_set(err, TW_E_INVALID, "\"tariff_stage\" belongs to TAF5 only");
	} else {
		*stage = 0;
	}
	snprintf(mp, mp_size, "%s", json_string_value(m));
	snprintf(taf, taf_size, "%s", json_string_value(t));
	return TW_OK;
}

tw_rc metering_taf_request_parse(const void *body, size_t len,
	struct metering_taf_request *out, struct tw_error *err)
{
	static const char *const members[] = { "gateway", "metering_point", "taf",
		"tariff_stage", NULL };
	json_t *root = NULL;
	const json_t *g;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (len > METERING_TAF_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "body exceeds %d bytes",
			METERING_TAF_BODY_MAX);
	if (body == NULL || len == 0 ||
	    (root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(root)) {
		json_decref(root);
		return tw_error_set(err, TW_E_PROTOCOL, "body is not a JSON object");
	}
	if ((rc = taf_only(root, members, "request", err)) != TW_OK)
		goto out;
	g = json_object_get(root, "gateway");
	if (!json_is_string(g) || json_string_length(g) > STORE_ID_MAX ||
	    !wan_gateway_id_valid(json_string_value(g))) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"gateway\" must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto out;
	}
	snprintf(out->gateway, sizeof(out->gateway), "%s", json_string_value(g));
	rc = taf_fields(root, out->metering_point, sizeof(out->metering_point), out->taf,
		sizeof(out->taf), &out->tariff_stage, err);
out:
	json_decref(root);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- the order type ---- */

static tw_rc taf_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const members[] = { "emt", "metering_point", "taf", "tariff_stage",
		NULL };
	const json_t *emt = json_object_get(ctx->payload, "emt");
	char mp[STORE_METERING_ID_MAX + 1], taf[8];
	long stage = 0;
	tw_rc rc;

	if ((rc = taf_only(ctx->payload, members, "taf-request payload", err)) != TW_OK ||
	    (rc = taf_fields(ctx->payload, mp, sizeof(mp), taf, sizeof(taf), &stage, err))
	        != TW_OK)
		return rc;
	if (!json_is_string(emt) || !profile_id_valid(json_string_value(emt)))
		return tw_error_set(err, TW_E_INVALID, "taf-request payload: \"emt\" must be an "
			"EMT id (its market partner id)");
	return metering_check_authorised_taf(ctx->store, ctx->gateway_id,
		json_string_value(emt), mp, taf, err);
}

static tw_rc taf_to_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory building a taf-request order");
	}
	return TW_OK;
}

static tw_rc taf_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *p = ctx->payload;
	const char *taf = json_string_value(json_object_get(p, "taf"));
	const char *mp = json_string_value(json_object_get(p, "metering_point"));
	const char *emt = json_string_value(json_object_get(p, "emt"));
	const json_t *msg;
	struct metering_msg m;
	char *text = NULL;
	int64_t id = 0;
	bool dup = false;
	tw_rc rc;

	if (taf == NULL || mp == NULL || emt == NULL)
		return tw_error_set(err, TW_E_INTEGRITY, "stored taf-request payload is incomplete");
	if (!json_is_string(json_object_get(result, "gateway_id")) ||
	    strcmp(json_string_value(json_object_get(result, "gateway_id")),
	    ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "taf-request answer names another gateway");
	if (!json_equal(json_object_get(result, "taf"), json_object_get(p, "taf")) ||
	    !json_equal(json_object_get(result, "metering_point"),
	    json_object_get(p, "metering_point")))
		return tw_error_set(err, TW_E_PROTOCOL, "taf-request answer names another TAF or "
			"metering point than ordered");
	if (strcmp(taf, "TAF5") == 0) {
		if (!json_equal(json_object_get(result, "tariff_stage"),
		    json_object_get(p, "tariff_stage")))
			return tw_error_set(err, TW_E_PROTOCOL, "TAF5 confirmation reports another "
				"tariff stage than ordered (T-MB.4)");
		return TW_OK;
	}
	/* TAF6/TAF9: the readout is a metering message; path 1's checks and outbox. */
	msg = json_object_get(result, "message");
	if (!json_is_object(msg) || (text = json_dumps(msg, JSON_COMPACT)) == NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "%s answer carries no \"message\"", taf);
	rc = metering_msg_parse(text, strlen(text), &m, err);
	free(text);
	if (rc != TW_OK)
		return tw_error_set(err, TW_E_PROTOCOL, "%s readout: %s", taf, err->message);
	if (strcmp(m.emt, emt) != 0 || strcmp(m.metering_point, mp) != 0 ||
	    strcmp(m.kind, metering_taf_kind(taf)) != 0) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "%s readout is for another EMT, metering "
			"point or kind than ordered", taf);
	} else if ((rc = metering_accept(ctx->store, ctx->gateway_id, &m, tw_now_ms(), &id,
	    &dup, err)) != TW_OK) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "%s readout refused: %s", taf, err->message);
	}
	metering_msg_clear(&m);
	return rc;
}

const struct order_type order_type_taf_request = {
	.name = "taf-request",
	.summary = "TAF5 tariff stage change / TAF6 readout / TAF9 feed-in readout for an EMT "
		"(payload {\"emt\",\"metering_point\",\"taf\",\"tariff_stage\"?}; an evaluation "
		"profile of that TAF must name the EMT and metering point)",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = taf_validate,
	.to_wire = taf_to_wire,
	.on_result = taf_result,
	.on_error = NULL,
};
