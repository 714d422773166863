/*
 * auth.h: principals, roles, role exclusions and the service-layer permission check
 * (S-10, M-4.5.3 least privilege, M-4.5.4 roles with separation of duties).
 *
 * A principal is whoever acts: an operator authenticated by client certificate + second
 * factor (src/auth/session.c), or the documented break-glass principal of direct --home
 * use. Every service-layer operation names an enum auth_op; auth_check() decides from
 * the principal's roles and tenant, and refuses with TW_E_DENIED plus an admin-log entry.
 *
 * Configuration ([auth] in torwart.conf, see docs/security.md):
 *   exclusions = auditor+write, ra-officer+ca-operator, security-officer+system-admin
 *       pairs of roles one operator may not hold together; "write" stands for every
 *       role that can change something (all but auditor).
 */
#ifndef TORWART_AUTH_AUTH_H
#define TORWART_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "store/store.h"

enum auth_role {
	AUTH_ROLE_SECURITY_OFFICER = 0,
	AUTH_ROLE_RA_OFFICER,
	AUTH_ROLE_CA_OPERATOR,
	AUTH_ROLE_GATEWAY_OPERATOR,
	AUTH_ROLE_FIRMWARE_MANAGER,
	AUTH_ROLE_APPROVER,
	AUTH_ROLE_AUDITOR,
	AUTH_ROLE_TENANT_ADMIN,
	AUTH_ROLE_SYSTEM_ADMIN,
	AUTH_ROLE_CUSTODIAN,       /* holds one share of the token PINs (M-4.5.18) */
	AUTH_ROLE__COUNT
};

#define AUTH_ROLE_BIT(r)   (1u << (unsigned)(r))
#define AUTH_ROLES_ALL     ((1u << AUTH_ROLE__COUNT) - 1u)
/* Roles that can change something: every role except the auditor (S-8: read only). */
#define AUTH_ROLES_WRITE   (AUTH_ROLES_ALL & ~AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR))

/*
 * Roles that act on installation-wide objects (Sub-CA and its CRL, firmware catalogue,
 * policy, admin log, operator accounts of every tenant): only an installation-level
 * security officer may ask for them, and only through four-eyes (docs/security.md,
 * "Granting roles"). The rest (gateway-operator, approver) act inside one tenant.
 */
#define AUTH_ROLES_INSTALLATION \
	(AUTH_ROLE_BIT(AUTH_ROLE_SECURITY_OFFICER) | AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER) | \
	 AUTH_ROLE_BIT(AUTH_ROLE_CA_OPERATOR) | AUTH_ROLE_BIT(AUTH_ROLE_FIRMWARE_MANAGER) | \
	 AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR) | AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN) | \
	 AUTH_ROLE_BIT(AUTH_ROLE_SYSTEM_ADMIN) | AUTH_ROLE_BIT(AUTH_ROLE_CUSTODIAN))
#define AUTH_ROLES_TENANT  (AUTH_ROLES_ALL & ~AUTH_ROLES_INSTALLATION)

/*
 * Roles p may ask for on another operator's behalf: every role for a security officer
 * (and break-glass), the tenant-scoped roles for a tenant-admin or system-admin, none
 * otherwise. Checked when the request is made and again when it is executed.
 */
struct auth_principal;
uint32_t auth_roles_grantable(const struct auth_principal *p);

/* "security-officer", ...; NULL for an out-of-range value. Static. */
const char *auth_role_name(enum auth_role role);
/* TW_E_INVALID naming the unknown role. */
tw_rc auth_role_parse(const char *name, enum auth_role *out, struct tw_error *err);
/* "a,b,c" (or "a b c") -> bit set; empty text is the empty set. */
tw_rc auth_roles_parse(const char *text, uint32_t *out, struct tw_error *err);
/* Comma-separated names into buf (always NUL-terminated; "-" for none). */
void auth_roles_format(uint32_t roles, char *buf, size_t size);

/* Maximum number of configured exclusion pairs. */
#define AUTH_EXCLUSIONS_MAX 64
#define AUTH_DEFAULT_EXCLUSIONS \
	"auditor+write, ra-officer+ca-operator, security-officer+system-admin"
/* The pairs every policy keeps, whatever [auth] exclusions says (a floor). */
#define AUTH_MANDATORY_EXCLUSIONS AUTH_DEFAULT_EXCLUSIONS

struct auth_exclusions {
	/* Pair i forbids holding any role of a[i] together with any role of b[i]. */
	uint32_t a[AUTH_EXCLUSIONS_MAX];
	uint32_t b[AUTH_EXCLUSIONS_MAX];
	size_t count;
};

/* Parse "x+y, x+write, ..." (TW_E_CONFIG with the offending item). */
tw_rc auth_exclusions_parse(const char *text, struct auth_exclusions *out,
	struct tw_error *err);
/* [auth] exclusions, or AUTH_DEFAULT_EXCLUSIONS when absent. */
tw_rc auth_exclusions_load(const struct tw_config *conf, struct auth_exclusions *out,
	struct tw_error *err);
/* True when the exclusion list text (parsed as given) holds every mandatory pair. */
bool auth_exclusions_keep_mandatory(const char *text);
/* TW_E_DENIED naming the first violated pair when roles break an exclusion. */
tw_rc auth_exclusions_check(const struct auth_exclusions *ex, uint32_t roles,
	struct tw_error *err);

/* Who acts. Filled by session validation or auth_principal_break_glass. */
struct auth_principal {
	int64_t operator_id;               /* 0 for break-glass */
	char name[STORE_ID_MAX + 1];       /* operator name or "break-glass:<os user>" */
	int64_t tenant_id;                 /* 0 for break-glass (all tenants) */
	char tenant[STORE_ID_MAX + 1];
	uint32_t roles;
	bool break_glass;
	char client[STORE_ID_MAX + 1];     /* peer address or "local:PID" */
	char session_id[33];               /* "" outside a session */
};

#define AUTH_BREAK_GLASS_ROLE "break-glass"

/* The principal of direct --home use (all tenants, every permission, always alerted). */
void auth_principal_break_glass(struct auth_principal *p, const char *os_actor,
	const char *client);
/* The role column of the principal's admin-log entries: its roles, or "break-glass". */
void auth_principal_role_text(const struct auth_principal *p, char *buf, size_t size);

/* The service-layer operations this module exposes (one row each in the policy). */
enum auth_op {
	AUTH_OP_OPERATOR_LIST = 0,
	AUTH_OP_OPERATOR_ADD,
	AUTH_OP_OPERATOR_DISABLE,
	AUTH_OP_OPERATOR_ROLE_REQUEST,
	AUTH_OP_APPROVAL_LIST,
	AUTH_OP_APPROVAL_SHOW,
	AUTH_OP_APPROVAL_DECIDE,
	AUTH_OP_GATEWAY_LIST,
	AUTH_OP_SESSION_LOGOUT,
	/* The operator commands the api runs (auth/command.h maps each command to one). */
	AUTH_OP_GATEWAY_READ,      /* gateway list/logs, job list/show, profile list/show */
	AUTH_OP_GATEWAY_ADMIN,     /* gateway add/set: the inventory */
	AUTH_OP_GATEWAY_ORDER,     /* job create/cancel, self-test, log and profile reads */
	AUTH_OP_PROFILE_WRITE,     /* profile put/delete, EMT authorisation */
	AUTH_OP_FIRMWARE_READ,
	AUTH_OP_FIRMWARE_MANAGE,   /* firmware add/release/withdraw */
	AUTH_OP_CA_READ,           /* certificates, participants, requests, check */
	AUTH_OP_CA_RA,             /* registration, RA decisions, issuance, revocation */
	AUTH_OP_CA_OPERATE,        /* CRL generation, CA key activation */
	AUTH_OP_AUDIT_READ,        /* verify, export, proofs */
	AUTH_OP_AUDIT_ADMIN,       /* signed head now, retention cut, test alert */
	AUTH_OP_POLICY_READ,       /* the [auth] policy in effect */
	AUTH_OP_POLICY_CHANGE,     /* torwart policy set (four-eyes policy.change) */
	AUTH_OP_CA_CUSTODIAN,      /* enter a key share (ca custodian-share), M-4.5.18 */
	AUTH_OP__COUNT
};

/* "operator.list", ...; NULL out of range. Static. */
const char *auth_op_name(enum auth_op op);
/* Roles allowed to perform op (the policy table). */
uint32_t auth_op_roles(enum auth_op op);
/* True when op changes data (an auditor may never perform it). */
bool auth_op_writes(enum auth_op op);

/*
 * The policy decision: may p perform op on an object of tenant object_tenant_id
 * (0 = not tenant-bound)? Break-glass may do everything. Otherwise p needs one of
 * auth_op_roles(op) and, for a tenant-bound object, the same tenant.
 * On refusal: TW_E_DENIED with a message saying which role or tenant is missing, and an
 * admin-log entry (action "auth.denied", object = what) when store is not NULL.
 */
tw_rc auth_check(struct tw_store *store, const struct auth_principal *p, enum auth_op op,
	int64_t object_tenant_id, const char *what, struct tw_error *err);

/*
 * Append an admin-log entry as p (actor, its roles, client), inside the caller's
 * transaction when one is open, else on its own.
 */
tw_rc auth_audit_as(struct tw_store *store, const struct auth_principal *p,
	const char *action, const char *object, const char *result, const char *detail,
	struct tw_error *err);

/*
 * Raise a critical-event alert (M-4.5.6.7: addressed to a role, not a person): logged
 * as "ALERT role=<role> kind=<kind>: <text>" and written to the admin log as
 * action "alert.<kind>" (best effort; an alert never fails the caller).
 */
void auth_alert(struct tw_store *store, const char *kind, const char *role,
	const char *actor, const char *client, const char *text);

/*
 * Settings of the [auth] section (defaults in parentheses; docs/security.md):
 *   session_ttl (900 s), max_failures (5 per window), failure_window (300 s),
 *   approval_ttl (86400 s), fleet_order_threshold (100 gateways),
 *   creator_window (90 days; see approval.h),
 *   four_eyes (extra actions needing approval, added to AUTH_FOUR_EYES_MANDATORY),
 *   exclusions (see above).
 */
#define AUTH_FOUR_EYES_MANDATORY \
	"ca.key.activate, ca.key.deactivate, ca.revoke, firmware.release, " \
	"firmware.downgrade, rollout.start, fleet.order, initial-config.batch, " \
	"operator.role, policy.change, break-glass"
#define AUTH_FOUR_EYES_MAX 32

/*
 * Policy floors (docs/security.md, "Policy floors"): the weakest values any [auth]
 * policy may have; auth_settings_load refuses anything beyond them, so neither an
 * approved `policy set` nor an edited file can switch a control off.
 */
#define AUTH_FLOOR_SESSION_TTL_MAX      43200L          /* 12 h */
#define AUTH_FLOOR_MAX_FAILURES_MAX     20L
#define AUTH_FLOOR_FAILURE_WINDOW_MIN   60L
#define AUTH_FLOOR_APPROVAL_TTL_MAX     (7L * 86400)
#define AUTH_FLOOR_FLEET_THRESHOLD_MAX  10000L
#define AUTH_FLOOR_CREATOR_WINDOW_MIN   86400L          /* 1 day */
#define AUTH_CREATOR_WINDOW_DEFAULT     (90L * 86400)

struct auth_settings {
	long session_ttl_s;
	long max_failures;
	long failure_window_s;
	long approval_ttl_s;
	long fleet_order_threshold;
	/* An approver may not release a request of the operator that created it, or of an
	 * operator it created, while the younger account is younger than this (seconds). */
	long creator_window_s;
	struct auth_exclusions exclusions;
	char four_eyes[AUTH_FOUR_EYES_MAX][STORE_ID_MAX + 1];
	size_t four_eyes_count;
};

/* Defaults, then torwart.conf's [auth] (conf may be NULL). TW_E_CONFIG names the key. */
tw_rc auth_settings_load(const struct tw_config *conf, struct auth_settings *out,
	struct tw_error *err);
/*
 * Does action need a second person's release? fleet.order only above
 * fleet_order_threshold gateways (gateway_count); initial-config.batch for more than
 * one gateway (a single gateway's file is exported by one operator, logged); other
 * listed actions always.
 */
bool auth_four_eyes_required(const struct auth_settings *s, const char *action,
	long gateway_count);

#endif
