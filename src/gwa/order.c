/*
 * order.c: the order-type registry of the GWA (see order.h for the contract).
 *
 * Why a registry and not a switch in job.c: the job machinery (state, deadlines,
 * retries, wake-ups, delivery over wan) is the same for every order; what differs is
 * how a payload is checked, encoded and how a result lands in the area's tables. Each
 * area owns its types in its own file and adds one line to the tables below.
 */
#include "gwa/order.h"
#include "gwa/profile_orders.h"   /* profile and monitoring order types */
#include "gwa/renewal.h"          /* certificate renewal order types */
#include "gwa/order_firmware.h"   /* firmware-update (UC-3.2.5) */
#include "gwa/gwa_renew.h"        /* gwa-cert-update */
#include "metering/metering_taf.h"

#include <stdlib.h>
#include <string.h>

/* Built-in order types: each area adds its extern's address here (one line each). */
static const struct order_type *const order_builtin[] = {
	&order_type_ping,
	&order_type_set_retention,
	&order_type_profile_insert, &order_type_profile_delete, &order_type_profile_read,
	&order_type_self_test, &order_type_log_read,
	&order_type_cls_connect,
	&order_type_cert_request, &order_type_cert_install, &order_type_crl_update,
	&order_type_firmware_update,
	&order_type_taf_request,   /* UC-3.5.3-3.5.5 (metering/metering_taf.c) */
	&order_type_gwa_cert_update,   /* issue 12 (gwa/gwa_cert_order.c) */
};

/* Built-in session hooks (order.h): each area adds one line. */
static const struct order_session_hook *const order_session_builtin[] = {
	NULL,
	&order_session_profiles, &order_session_alarms,
};

static const struct order_type *order_extra[ORDER_REGISTRY_MAX];
static size_t order_extra_n;
static const struct order_session_hook *session_extra[ORDER_REGISTRY_MAX];
static size_t session_extra_n;

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

bool order_type_name_valid(const char *name)
{
	size_t n;

	if (name == NULL)
		return false;
	for (n = 0; name[n] != '\0'; n++) {
		char c = name[n];

		if (n >= ORDER_TYPE_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return false;
	}
	return n > 0;
}

const struct order_type *order_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(order_builtin); i++)
		if (order_builtin[i] != NULL && strcmp(order_builtin[i]->name, name) == 0)
			return order_builtin[i];
	for (size_t i = 0; i < order_extra_n; i++)
		if (strcmp(order_extra[i]->name, name) == 0)
			return order_extra[i];
	return NULL;
}

tw_rc order_register(const struct order_type *type, struct tw_error *err)
{
	if (type == NULL || !order_type_name_valid(type->name))
		return tw_error_set(err, TW_E_INVALID,
			"order type names are 1..%d characters of [a-z0-9-]", ORDER_TYPE_MAX);
	if (order_find(type->name) != NULL)
		return tw_error_set(err, TW_E_EXISTS, "order type %s is already registered",
			type->name);
	if (order_extra_n >= ORDER_REGISTRY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d extra order types",
			ORDER_REGISTRY_MAX);
	order_extra[order_extra_n++] = type;
	return TW_OK;
}

void order_foreach(void (*cb)(const struct order_type *type, void *arg), void *arg)
{
	for (size_t i = 0; i < ARRAY_LEN(order_builtin); i++)
		if (order_builtin[i] != NULL)
			cb(order_builtin[i], arg);
	for (size_t i = 0; i < order_extra_n; i++)
		cb(order_extra[i], arg);
}

const struct order_session_hook *order_session_hook_find(const char *member)
{
	if (member == NULL)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(order_session_builtin); i++)
		if (order_session_builtin[i] != NULL &&
		    strcmp(order_session_builtin[i]->member, member) == 0)
			return order_session_builtin[i];
	for (size_t i = 0; i < session_extra_n; i++)
		if (strcmp(session_extra[i]->member, member) == 0)
			return session_extra[i];
	return NULL;
}

tw_rc order_session_hook_register(const struct order_session_hook *hook,
	struct tw_error *err)
{
	if (hook == NULL || hook->member == NULL || hook->on_session == NULL)
		return tw_error_set(err, TW_E_INVALID, "a session hook needs a member and a function");
	if (order_session_hook_find(hook->member) != NULL)
		return tw_error_set(err, TW_E_EXISTS, "session member %s already has a hook",
			hook->member);
	if (session_extra_n >= ORDER_REGISTRY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d session hooks",
			ORDER_REGISTRY_MAX);
	session_extra[session_extra_n++] = hook;
	return TW_OK;
}

tw_rc order_validate(struct tw_store *store, const char *type, const char *gateway_id,
	const json_t *payload, struct tw_error *err)
{
	const struct order_type *t = order_find(type);
	struct order_ctx ctx;
	char *text;
	size_t len;

	if (t == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown order type '%.40s' (see torwart "
			"job types)", type != NULL ? type : "");
	if (!json_is_object(payload))
		return tw_error_set(err, TW_E_INVALID, "the payload of a %s order must be a JSON "
			"object", t->name);
	text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory encoding a payload");
	len = strlen(text);
	free(text);
	if (len > ORDER_PAYLOAD_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the payload has %zu bytes; at most %d "
			"are allowed", len, ORDER_PAYLOAD_MAX);
	if (t->validate == NULL)
		return TW_OK;
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = store;
	ctx.gateway_id = gateway_id;
	ctx.type = t->name;
	ctx.payload = payload;
	return t->validate(&ctx, err);
}
