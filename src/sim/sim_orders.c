/*
 * sim_orders.c: the simulator's order-handler registry, the all-or-nothing execution
 * rule (sim_orders.h), and the handlers of the jobs area: "ping" and "set-retention"
 * (UC-3.3.5; the gateway refuses a retention order that names another gateway, T-LL.1),
 * and "cls-connect" (UC-3.2.4: activate proxy communication between an EMT and a CLS).
 */
#include "sim/sim_orders.h"
#include "sim/sim_monitor.h"   /* profile and monitoring handlers */
#include "sim/sim_firmware.h"  /* firmware-update (UC-3.2.5) */

#include <string.h>

#include "base/util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Built-in handlers: each area adds one line with its extern. */
static const struct sim_order_handler *const sim_builtin[] = {
	&sim_order_ping,
	&sim_order_set_retention,
	&sim_order_profile_insert, &sim_order_profile_delete, &sim_order_profile_read,
	&sim_order_self_test, &sim_order_log_read,
	&sim_order_cls_connect,
	&sim_order_cert_request, &sim_order_cert_install, &sim_order_crl_update,
	&sim_order_firmware_update,
	&sim_order_taf_request,
	&sim_order_gwa_cert_update,
};

/* Built-in session status providers: each area adds one line. */
static const struct sim_status_provider *const sim_status_builtin[] = {
	NULL,
	&sim_status_profiles, &sim_status_alarms,
};

static const struct sim_order_handler *sim_extra[SIM_ORDER_REGISTRY_MAX];
static size_t sim_extra_n;
static const struct sim_status_provider *sim_status_extra[SIM_ORDER_REGISTRY_MAX];
static size_t sim_status_extra_n;

const struct sim_order_handler *sim_order_find(const char *type)
{
	if (type == NULL)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(sim_builtin); i++)
		if (sim_builtin[i] != NULL && strcmp(sim_builtin[i]->type, type) == 0)
			return sim_builtin[i];
	for (size_t i = 0; i < sim_extra_n; i++)
		if (strcmp(sim_extra[i]->type, type) == 0)
			return sim_extra[i];
	return NULL;
}

tw_rc sim_order_register(const struct sim_order_handler *h, struct tw_error *err)
{
	if (h == NULL || h->type == NULL || h->execute == NULL)
		return tw_error_set(err, TW_E_INVALID, "a handler needs a type and execute()");
	if (sim_order_find(h->type) != NULL)
		return tw_error_set(err, TW_E_EXISTS, "order type %s already has a handler", h->type);
	if (sim_extra_n >= SIM_ORDER_REGISTRY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "too many order handlers");
	sim_extra[sim_extra_n++] = h;
	return TW_OK;
}

tw_rc sim_status_register(const struct sim_status_provider *p, struct tw_error *err)
{
	if (p == NULL || p->member == NULL || p->report == NULL)
		return tw_error_set(err, TW_E_INVALID, "a status provider needs a member and report()");
	if (sim_status_extra_n >= SIM_ORDER_REGISTRY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "too many status providers");
	sim_status_extra[sim_status_extra_n++] = p;
	return TW_OK;
}

void sim_status_foreach(void (*cb)(const struct sim_status_provider *p, void *arg),
	void *arg)
{
	for (size_t i = 0; i < ARRAY_LEN(sim_status_builtin); i++)
		if (sim_status_builtin[i] != NULL)
			cb(sim_status_builtin[i], arg);
	for (size_t i = 0; i < sim_status_extra_n; i++)
		cb(sim_status_extra[i], arg);
}

tw_rc sim_order_execute(struct sim_gw *gw, const char *type, const json_t *payload,
	json_t **result, const char **code, struct tw_error *err)
{
	const struct sim_order_handler *h = sim_order_find(type);
	json_t *before = NULL;
	tw_rc rc;

	*result = NULL;
	*code = NULL;
	if (h == NULL) {
		*code = "unknown_order";
		return tw_error_set(err, TW_E_INVALID, "this gateway has no handler for order type "
			"'%.40s'", type != NULL ? type : "");
	}
	/* Keep a copy so a failing handler leaves no trace (nothing half-applied). */
	before = json_deep_copy(gw->state);
	if (before == NULL) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	rc = h->execute(gw, payload, result, code, err);
	if (rc == TW_OK && !json_is_object(*result)) {
		json_decref(*result);
		*result = NULL;
		rc = tw_error_set(err, TW_E_INTERNAL, "handler for %s returned no result object",
			type);
	}
	if (rc != TW_OK) {
		json_decref(gw->state);
		gw->state = before;
		before = NULL;
		if (*code == NULL)
			*code = "failed";
	}
	json_decref(before);
	return rc;
}

/* ---- ping ---- */

static tw_rc ping_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *echo = json_object_get(payload, "echo");
	char now[40];

	(void)gw;
	tw_time_format_utc(tw_now_ms(), now, sizeof(now));
	*result = json_pack("{s:s}", "time", now);
	if (*result == NULL) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	if (echo != NULL)
		json_object_set((json_t *)*result, "echo", (json_t *)echo);
	return TW_OK;
}

const struct sim_order_handler sim_order_ping = { "ping", ping_execute };

/* ---- set-retention (UC-3.3.5) ---- */

static tw_rc retention_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *to = json_object_get(payload, "gateway_id");
	const json_t *days = json_object_get(payload, "days");
	json_int_t d;

	if (!json_is_string(to) || strcmp(json_string_value(to), gw->id) != 0) {
		*code = "wrong_gateway";
		return tw_error_set(err, TW_E_DENIED, "retention order is addressed to another "
			"gateway");
	}
	if (!json_is_integer(days) || (d = json_integer_value(days)) < 1 || d > 3650) {
		*code = "invalid_payload";
		return tw_error_set(err, TW_E_INVALID, "\"days\" must be an integer in [1, 3650]");
	}
	if (json_object_set_new(gw->state, "retention_days", json_integer(d)) != 0) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	*result = json_pack("{s:s, s:I}", "gateway_id", gw->id, "days", d);
	if (*result == NULL) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

const struct sim_order_handler sim_order_set_retention = { "set-retention",
	retention_execute };

/* ---- cls-connect (UC-3.2.4) ---- */

/*
 * A real SMGW would open its proxy channel between the CLS and the EMT now. The
 * simulator has no CLS, so it records the activation in its persistent state
 * (gw->state["cls_proxy"]: {cls, emt, until}) and confirms it; a repeated order id is
 * answered from the stored result by the caller, so an activation is never doubled.
 */
static tw_rc cls_connect_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *to = json_object_get(payload, "gateway_id");
	const json_t *cls = json_object_get(payload, "cls");
	const json_t *emt = json_object_get(payload, "emt");
	const json_t *dur = json_object_get(payload, "duration_s");
	char until[40];
	json_int_t d;
	json_t *proxy;

	if (!json_is_string(to) || strcmp(json_string_value(to), gw->id) != 0) {
		*code = "wrong_gateway";
		return tw_error_set(err, TW_E_DENIED, "cls-connect order is addressed to another "
			"gateway");
	}
	if (!json_is_string(cls) || json_string_length(cls) == 0 || json_string_length(cls) > 64 ||
	    !json_is_string(emt) || json_string_length(emt) == 0 || json_string_length(emt) > 64 ||
	    !json_is_integer(dur) || (d = json_integer_value(dur)) < 1 || d > 86400) {
		*code = "invalid_payload";
		return tw_error_set(err, TW_E_INVALID, "cls-connect needs \"cls\", \"emt\" and "
			"\"duration_s\" in [1, 86400]");
	}
	tw_time_format_utc(tw_now_ms() + (int64_t)d * 1000, until, sizeof(until));
	proxy = json_pack("{s:O, s:O, s:s}", "cls", cls, "emt", emt, "until", until);
	if (proxy == NULL || json_object_set_new(gw->state, "cls_proxy", proxy) != 0) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	*result = json_pack("{s:s, s:O, s:O, s:s, s:s}", "proxy", "active", "cls", cls,
		"emt", emt, "gateway_id", gw->id, "until", until);
	if (*result == NULL) {
		*code = "internal";
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

const struct sim_order_handler sim_order_cls_connect = { "cls-connect",
	cls_connect_execute };
