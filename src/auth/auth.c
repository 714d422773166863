/*
 * auth.c: roles, role exclusions, principals and the service-layer policy table
 * (M-4.5.3, M-4.5.4). The table is the single place that says which role may do what;
 * tests/unit/test_auth.c tries every operation as every role and as a foreign tenant.
 */
#include "auth/auth.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"

static const char *const auth_role_names[AUTH_ROLE__COUNT] = {
	[AUTH_ROLE_SECURITY_OFFICER] = "security-officer",
	[AUTH_ROLE_RA_OFFICER] = "ra-officer",
	[AUTH_ROLE_CA_OPERATOR] = "ca-operator",
	[AUTH_ROLE_GATEWAY_OPERATOR] = "gateway-operator",
	[AUTH_ROLE_FIRMWARE_MANAGER] = "firmware-manager",
	[AUTH_ROLE_APPROVER] = "approver",
	[AUTH_ROLE_AUDITOR] = "auditor",
	[AUTH_ROLE_TENANT_ADMIN] = "tenant-admin",
	[AUTH_ROLE_SYSTEM_ADMIN] = "system-admin",
	[AUTH_ROLE_CUSTODIAN] = "custodian",
};

const char *auth_role_name(enum auth_role role)
{
	if ((int)role < 0 || role >= AUTH_ROLE__COUNT)
		return NULL;
	return auth_role_names[role];
}

tw_rc auth_role_parse(const char *name, enum auth_role *out, struct tw_error *err)
{
	for (int i = 0; i < AUTH_ROLE__COUNT; i++) {
		if (name != NULL && strcmp(name, auth_role_names[i]) == 0) {
			*out = (enum auth_role)i;
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID, "unknown role \"%.64s\"; roles are "
		"security-officer, ra-officer, ca-operator, gateway-operator, firmware-manager, "
		"approver, auditor, tenant-admin, system-admin", name != NULL ? name : "");
}

/*
 * Walk the items of a list separated by commas and/or blanks; calls fn for each
 * non-empty item (copied, NUL-terminated). Items longer than 63 bytes are invalid.
 */
typedef tw_rc (*item_fn)(const char *item, void *arg, struct tw_error *err);

static tw_rc auth_each_item(const char *text, item_fn fn, void *arg, struct tw_error *err)
{
	const char *p = text;
	char item[64];
	tw_rc rc = TW_OK;

	while (p != NULL && *p != '\0' && rc == TW_OK) {
		size_t n;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, ", \t");
		if (n == 0)
			break;
		if (n >= sizeof(item))
			return tw_error_set(err, TW_E_INVALID, "list item \"%.40s...\" is too long", p);
		memcpy(item, p, n);
		item[n] = '\0';
		rc = fn(item, arg, err);
		p += n;
	}
	return rc;
}

static tw_rc role_item(const char *item, void *arg, struct tw_error *err)
{
	enum auth_role r;
	tw_rc rc;

	if ((rc = auth_role_parse(item, &r, err)) == TW_OK)
		*(uint32_t *)arg |= AUTH_ROLE_BIT(r);
	return rc;
}

tw_rc auth_roles_parse(const char *text, uint32_t *out, struct tw_error *err)
{
	uint32_t roles = 0;
	tw_rc rc;

	*out = 0;
	if (text != NULL && strnlen(text, 1024) >= 1024)
		return tw_error_set(err, TW_E_TOO_LARGE, "role list is too long");
	if ((rc = auth_each_item(text, role_item, &roles, err)) == TW_OK)
		*out = roles;
	return rc;
}

void auth_roles_format(uint32_t roles, char *buf, size_t size)
{
	size_t used = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < AUTH_ROLE__COUNT; i++) {
		int n;

		if ((roles & AUTH_ROLE_BIT(i)) == 0)
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used > 0 ? "," : "",
			auth_role_names[i]);
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	if (used == 0)
		snprintf(buf, size, "-");
}

uint32_t auth_roles_grantable(const struct auth_principal *p)
{
	if (p == NULL)
		return 0;
	/* The security officer is installation-level by construction: nobody but another
	 * security officer (or break-glass) can grant the role. */
	if (p->break_glass || (p->roles & AUTH_ROLE_BIT(AUTH_ROLE_SECURITY_OFFICER)) != 0)
		return AUTH_ROLES_ALL;
	if ((p->roles & (AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN) |
	    AUTH_ROLE_BIT(AUTH_ROLE_SYSTEM_ADMIN))) != 0)
		return AUTH_ROLES_TENANT;
	return 0;
}

/* ---- exclusions ---- */

static tw_rc exclusion_side(const char *name, uint32_t *out, struct tw_error *err)
{
	enum auth_role r;

	if (strcmp(name, "write") == 0) {
		*out = AUTH_ROLES_WRITE;
		return TW_OK;
	}
	if (auth_role_parse(name, &r, err) != TW_OK)
		return tw_error_set(err, TW_E_CONFIG, "[auth] exclusions: \"%s\" is not a role "
			"(or \"write\")", name);
	*out = AUTH_ROLE_BIT(r);
	return TW_OK;
}

static tw_rc exclusion_item(const char *item, void *arg, struct tw_error *err)
{
	struct auth_exclusions *ex = arg;
	char left[64];
	const char *plus = strchr(item, '+');
	size_t n;
	tw_rc rc;

	if (plus == NULL || plus == item || plus[1] == '\0')
		return tw_error_set(err, TW_E_CONFIG, "[auth] exclusions: \"%s\" is not ROLE+ROLE",
			item);
	if (ex->count >= AUTH_EXCLUSIONS_MAX)
		return tw_error_set(err, TW_E_CONFIG, "[auth] exclusions: more than %d pairs",
			AUTH_EXCLUSIONS_MAX);
	n = (size_t)(plus - item);
	memcpy(left, item, n);
	left[n] = '\0';
	if ((rc = exclusion_side(left, &ex->a[ex->count], err)) != TW_OK ||
	    (rc = exclusion_side(plus + 1, &ex->b[ex->count], err)) != TW_OK)
		return rc;
	ex->count++;
	return TW_OK;
}

tw_rc auth_exclusions_parse(const char *text, struct auth_exclusions *out,
	struct tw_error *err)
{
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (text != NULL && strnlen(text, 4096) >= 4096)
		return tw_error_set(err, TW_E_CONFIG, "[auth] exclusions is too long");
	if ((rc = auth_each_item(text, exclusion_item, out, err)) != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

tw_rc auth_exclusions_load(const struct tw_config *conf, struct auth_exclusions *out,
	struct tw_error *err)
{
	tw_rc rc = auth_exclusions_parse(conf != NULL ? tw_config_get_or(conf, "auth",
		"exclusions", AUTH_DEFAULT_EXCLUSIONS) : AUTH_DEFAULT_EXCLUSIONS, out, err);

	/* The floor: configuration can add pairs, never remove the mandatory ones (an
	 * emptied `exclusions` still keeps them; docs/security.md, "Policy floors"). */
	if (rc == TW_OK && (rc = auth_each_item(AUTH_MANDATORY_EXCLUSIONS, exclusion_item, out,
	    err)) != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

bool auth_exclusions_keep_mandatory(const char *text)
{
	struct auth_exclusions given, mandatory;
	struct tw_error err;

	if (auth_exclusions_parse(text, &given, &err) != TW_OK ||
	    auth_exclusions_parse(AUTH_MANDATORY_EXCLUSIONS, &mandatory, &err) != TW_OK)
		return false;
	for (size_t i = 0; i < mandatory.count; i++) {
		bool found = false;

		for (size_t j = 0; j < given.count && !found; j++)
			found = (given.a[j] == mandatory.a[i] && given.b[j] == mandatory.b[i]) ||
				(given.a[j] == mandatory.b[i] && given.b[j] == mandatory.a[i]);
		if (!found)
			return false;
	}
	return true;
}

tw_rc auth_exclusions_check(const struct auth_exclusions *ex, uint32_t roles,
	struct tw_error *err)
{
	for (size_t i = 0; i < ex->count; i++) {
		uint32_t in_a = roles & ex->a[i], in_b = roles & ex->b[i];

		/* Violated when two distinct held roles fall on the two sides. A single role
		 * on both sides (x+write where x is itself a write role) is no conflict. */
		if (in_a == 0 || in_b == 0 || (in_a == in_b && (in_a & (in_a - 1)) == 0))
			continue;
		{
			char a[256], b[256];

			auth_roles_format(in_a, a, sizeof(a));
			auth_roles_format(in_b, b, sizeof(b));
			return tw_error_set(err, TW_E_DENIED, "role exclusion: %s may not be held "
				"together with %s (see [auth] exclusions)", a, b);
		}
	}
	return TW_OK;
}

/* ---- principals ---- */

void auth_principal_break_glass(struct auth_principal *p, const char *os_actor,
	const char *client)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "break-glass:%s", os_actor != NULL ? os_actor : "?");
	snprintf(p->tenant, sizeof(p->tenant), "*");
	snprintf(p->client, sizeof(p->client), "%s", client != NULL ? client : "local");
	p->roles = AUTH_ROLES_ALL;
	p->break_glass = true;
}

void auth_principal_role_text(const struct auth_principal *p, char *buf, size_t size)
{
	if (p->break_glass)
		snprintf(buf, size, "%s", AUTH_BREAK_GLASS_ROLE);
	else
		auth_roles_format(p->roles, buf, size);
}

/* ---- the policy table ---- */

#define R(x) AUTH_ROLE_BIT(AUTH_ROLE_##x)

static const struct {
	const char *name;
	uint32_t roles;
	bool writes;
} auth_policy[AUTH_OP__COUNT] = {
	[AUTH_OP_OPERATOR_LIST] = { "operator.list",
		R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN) | R(AUDITOR), false },
	[AUTH_OP_OPERATOR_ADD] = { "operator.add",
		R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN), true },
	[AUTH_OP_OPERATOR_DISABLE] = { "operator.disable",
		R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN), true },
	[AUTH_OP_OPERATOR_ROLE_REQUEST] = { "operator.role",
		R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN), true },
	[AUTH_OP_APPROVAL_LIST] = { "approval.list",
		R(APPROVER) | R(AUDITOR) | R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN),
		false },
	[AUTH_OP_APPROVAL_SHOW] = { "approval.show",
		R(APPROVER) | R(AUDITOR) | R(SECURITY_OFFICER) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN),
		false },
	[AUTH_OP_APPROVAL_DECIDE] = { "approval.decide", R(APPROVER), true },
	[AUTH_OP_GATEWAY_LIST] = { "gateway.list",
		R(GATEWAY_OPERATOR) | R(FIRMWARE_MANAGER) | R(AUDITOR) | R(TENANT_ADMIN) |
		R(SYSTEM_ADMIN), false },
	/* Ending one's own session needs no role: an operator without roles may log out. */
	[AUTH_OP_SESSION_LOGOUT] = { "session.logout", 0, false },
	[AUTH_OP_GATEWAY_READ] = { "gateway.read",
		R(GATEWAY_OPERATOR) | R(FIRMWARE_MANAGER) | R(AUDITOR) | R(TENANT_ADMIN) |
		R(SYSTEM_ADMIN), false },
	[AUTH_OP_GATEWAY_ADMIN] = { "gateway.admin",
		R(GATEWAY_OPERATOR) | R(TENANT_ADMIN) | R(SYSTEM_ADMIN), true },
	[AUTH_OP_GATEWAY_ORDER] = { "gateway.order",
		R(GATEWAY_OPERATOR) | R(FIRMWARE_MANAGER), true },
	[AUTH_OP_PROFILE_WRITE] = { "profile.write", R(GATEWAY_OPERATOR), true },
	[AUTH_OP_FIRMWARE_READ] = { "firmware.read",
		R(FIRMWARE_MANAGER) | R(GATEWAY_OPERATOR) | R(AUDITOR) | R(SYSTEM_ADMIN), false },
	[AUTH_OP_FIRMWARE_MANAGE] = { "firmware.manage", R(FIRMWARE_MANAGER), true },
	[AUTH_OP_CA_READ] = { "ca.read",
		R(RA_OFFICER) | R(CA_OPERATOR) | R(AUDITOR) | R(SECURITY_OFFICER), false },
	[AUTH_OP_CA_RA] = { "ca.ra", R(RA_OFFICER), true },
	[AUTH_OP_CA_OPERATE] = { "ca.operate", R(CA_OPERATOR), true },
	[AUTH_OP_AUDIT_READ] = { "audit.read", R(AUDITOR) | R(SECURITY_OFFICER), false },
	[AUTH_OP_AUDIT_ADMIN] = { "audit.admin", R(SECURITY_OFFICER) | R(SYSTEM_ADMIN), true },
	[AUTH_OP_POLICY_READ] = { "policy.read",
		R(SECURITY_OFFICER) | R(SYSTEM_ADMIN) | R(AUDITOR) | R(APPROVER), false },
	[AUTH_OP_POLICY_CHANGE] = { "policy.change", R(SECURITY_OFFICER), true },
	/* Key activation by custodians: each share entry is one custodian's act (the k-of-n
	 * quorum is the signer's); the token is installation-wide, like the Sub-CA. */
	[AUTH_OP_CA_CUSTODIAN] = { "ca.custodian", R(CUSTODIAN), true },
};

#undef R

const char *auth_op_name(enum auth_op op)
{
	if ((int)op < 0 || op >= AUTH_OP__COUNT)
		return NULL;
	return auth_policy[op].name;
}

uint32_t auth_op_roles(enum auth_op op)
{
	if ((int)op < 0 || op >= AUTH_OP__COUNT)
		return 0;
	return auth_policy[op].roles;
}

bool auth_op_writes(enum auth_op op)
{
	return (int)op >= 0 && op < AUTH_OP__COUNT && auth_policy[op].writes;
}

tw_rc auth_audit_as(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, const char *result, const char *detail,
	struct tw_error *err)
{
	char roles[256];
	struct audit_entry e;

	auth_principal_role_text(p, roles, sizeof(roles));
	memset(&e, 0, sizeof(e));
	e.actor = p->name;
	e.role = roles;
	e.client = p->client;
	e.action = action;
	e.object = object;
	e.result = result;
	e.detail = detail;
	return store_in_transaction(store) ? audit_append_in_tx(store, &e, err) :
		audit_append(store, &e, err);
}

/* Best-effort admin-log entry that works inside and outside a caller's transaction. */
static void auth_audit_best_effort(struct tw_store *store, const struct audit_entry *e)
{
	struct tw_error aerr;
	tw_rc rc;

	if (store == NULL)
		return;
	rc = store_in_transaction(store) ? audit_append_in_tx(store, e, &aerr) :
		audit_append(store, e, &aerr);
	if (rc != TW_OK)
		tw_err("cannot write the admin log (%s %s): %s", e->action, e->object,
			aerr.message);
}

tw_rc auth_check(struct tw_store *store, const struct auth_principal *p, enum auth_op op,
	int64_t object_tenant_id, const char *what, struct tw_error *err)
{
	char roles[256], detail[STORE_TEXT_MAX + 1];
	const char *name = auth_op_name(op);
	tw_rc rc;

	if (p == NULL || name == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "auth_check: no principal or operation");
	if (p->break_glass)
		return TW_OK;
	if (p->operator_id <= 0 || p->tenant_id <= 0) {
		rc = tw_error_set(err, TW_E_DENIED, "%s: not authenticated", name);
	} else if (auth_op_writes(op) && (p->roles & AUTH_ROLES_WRITE) == 0) {
		rc = tw_error_set(err, TW_E_DENIED, "%s changes data; the auditor role is read "
			"only", name);
	} else if (auth_policy[op].roles != 0 && (p->roles & auth_policy[op].roles) == 0) {
		auth_roles_format(auth_policy[op].roles, roles, sizeof(roles));
		rc = tw_error_set(err, TW_E_DENIED, "%s needs one of the roles %s; ask a "
			"tenant-admin for a role change", name, roles);
	} else if (object_tenant_id != 0 && object_tenant_id != p->tenant_id) {
		rc = tw_error_set(err, TW_E_DENIED, "%s: the object belongs to another tenant",
			name);
	} else {
		return TW_OK;
	}
	auth_principal_role_text(p, roles, sizeof(roles));
	snprintf(detail, sizeof(detail), "%s: %s", name, err != NULL ? err->message : "denied");
	{
		struct audit_entry e = { .actor = p->name, .role = roles, .client = p->client,
			.action = "auth.denied", .object = what != NULL ? what : name,
			.result = "refused", .detail = detail };

		auth_audit_best_effort(store, &e);
	}
	tw_warn("denied %s to %s: %s", name, p->name, err != NULL ? err->message : "");
	return rc;
}

void auth_alert(struct tw_store *store, const char *kind, const char *role,
	const char *actor, const char *client, const char *text)
{
	char message[STORE_TEXT_MAX + 1];
	struct tw_error aerr;
	enum alert_kind k = strcmp(kind, "break-glass") == 0 ? ALERT_BREAK_GLASS :
		ALERT_LOGIN_BURST;

	/* The diagnostic log line, for operators watching the service. */
	tw_err("ALERT role=%s kind=%s actor=%s client=%s: %s", role, kind, actor,
		client != NULL ? client : "-", text);
	/* The alert channel of src/audit: queued for the role's webhook, logged as
	 * "alert.<kind>" and shipped to the remote log server. */
	snprintf(message, sizeof(message), "%s (client %s)", text, client != NULL ? client : "-");
	if (store != NULL && alert_raise(store, k, role, actor, message, &aerr) != TW_OK)
		tw_err("cannot raise the %s alert: %s", kind, aerr.message);
}

/* ---- settings ---- */

static tw_rc four_eyes_item(const char *item, void *arg, struct tw_error *err)
{
	struct auth_settings *s = arg;

	for (size_t i = 0; i < s->four_eyes_count; i++) {
		if (strcmp(s->four_eyes[i], item) == 0)
			return TW_OK;
	}
	if (s->four_eyes_count >= AUTH_FOUR_EYES_MAX)
		return tw_error_set(err, TW_E_CONFIG, "[auth] four_eyes: more than %d actions",
			AUTH_FOUR_EYES_MAX);
	if (strlen(item) > STORE_ID_MAX)
		return tw_error_set(err, TW_E_CONFIG, "[auth] four_eyes: action name too long");
	snprintf(s->four_eyes[s->four_eyes_count++], STORE_ID_MAX + 1, "%s", item);
	return TW_OK;
}

tw_rc auth_settings_load(const struct tw_config *conf, struct auth_settings *out,
	struct tw_error *err)
{
	static const struct {
		const char *key;
		long def, min, max;
		size_t off;
	} longs[] = {
		/* The bounds are the policy floors: no configuration (policy set or an edited
		 * file) loads beyond them (docs/security.md, "Policy floors"). */
		{ "session_ttl", 900, 30, AUTH_FLOOR_SESSION_TTL_MAX,
			offsetof(struct auth_settings, session_ttl_s) },
		{ "max_failures", 5, 1, AUTH_FLOOR_MAX_FAILURES_MAX,
			offsetof(struct auth_settings, max_failures) },
		{ "failure_window", 300, AUTH_FLOOR_FAILURE_WINDOW_MIN, 86400,
			offsetof(struct auth_settings, failure_window_s) },
		{ "approval_ttl", 86400, 60, AUTH_FLOOR_APPROVAL_TTL_MAX,
			offsetof(struct auth_settings, approval_ttl_s) },
		{ "fleet_order_threshold", 100, 0, AUTH_FLOOR_FLEET_THRESHOLD_MAX,
			offsetof(struct auth_settings, fleet_order_threshold) },
		{ "creator_window", AUTH_CREATOR_WINDOW_DEFAULT, AUTH_FLOOR_CREATOR_WINDOW_MIN,
			366L * 86400, offsetof(struct auth_settings, creator_window_s) },
	};
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
		long *dst = (long *)(void *)((char *)out + longs[i].off);

		if (conf == NULL)
			*dst = longs[i].def;
		else if ((rc = tw_config_get_long(conf, "auth", longs[i].key, longs[i].def,
			longs[i].min, longs[i].max, dst, err)) != TW_OK)
			goto out;
	}
	if ((rc = auth_exclusions_load(conf, &out->exclusions, err)) != TW_OK)
		goto out;
	/* The mandatory list first: configuration can add actions, never remove these. */
	if ((rc = auth_each_item(AUTH_FOUR_EYES_MANDATORY, four_eyes_item, out, err)) != TW_OK)
		goto out;
	if (conf != NULL && (rc = auth_each_item(tw_config_get_or(conf, "auth", "four_eyes", ""),
	    four_eyes_item, out, err)) != TW_OK)
		goto out;
out:
	return rc;
}

bool auth_four_eyes_required(const struct auth_settings *s, const char *action,
	long gateway_count)
{
	if (action == NULL)
		return true;
	for (size_t i = 0; i < s->four_eyes_count; i++) {
		if (strcmp(s->four_eyes[i], action) != 0)
			continue;
		if (strcmp(action, "fleet.order") == 0)
			return gateway_count > s->fleet_order_threshold;
		if (strcmp(action, "initial-config.batch") == 0)
			return gateway_count > 1;
		return true;
	}
	return false;
}
