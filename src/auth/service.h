/*
 * service.h: the service-layer operations of the auth module (DESIGN.md principle 5).
 * The api's handlers and the break-glass CLI are thin adapters over these; each one
 * checks principal, role and tenant (auth_check), validates its input, and writes its
 * data and admin-log entry in one transaction. Refusals are TW_E_DENIED and logged.
 */
#ifndef TORWART_AUTH_SERVICE_H
#define TORWART_AUTH_SERVICE_H

#include <stdint.h>

#include <openssl/x509.h>

#include "auth/approval.h"
#include "auth/auth.h"
#include "auth/cred.h"
#include "store/store_auth.h"

/*
 * Issue the client certificate of a new operator (name, tenant) for pub. *out is the
 * caller's. The api and CLI pass a function that asks the signer (opca.h); the unit
 * tests pass one that signs in software.
 */
typedef tw_rc (*auth_issue_fn)(void *arg, const char *name, const char *tenant,
	EVP_PKEY *pub, X509 **out, struct tw_error *err);

struct auth_operator_new {
	const char *name;        /* [A-Za-z0-9._-]{1,64} */
	const char *tenant;      /* break-glass only; others add into their own tenant */
	const char *factor;      /* "password" or "totp" */
	const char *password;    /* factor password: the password (borrowed, never logged) */
	size_t password_len;
	EVP_PKEY *public_key;    /* borrowed: the key the operator holds (smartcard/file) */
	uint32_t roles;          /* requested roles: granted via a four-eyes request */
	const char *reason;      /* why (required when roles != 0) */
	auth_issue_fn issue;
	void *issue_arg;
	const struct secretbox *box;   /* factor totp: seals the key at rest (required) */
	/*
	 * Enrolment (mandatory for everyone but break-glass): no password and no TOTP key
	 * are set here; the account gets a one-time enrolment code instead
	 * (out->enrol_code), which the caller delivers through a second channel, never to
	 * the creator. The operator then proves the code together with its own key (TLS)
	 * and chooses its first secret (auth_login, session.h).
	 */
	bool enrol;
};

struct auth_operator_added {
	X509 *cert;              /* caller frees */
	char fingerprint[65];
	char totp_key[33];       /* factor totp: the new base32 key (show once, then wipe) */
	int64_t approval_id;     /* the pending role request, 0 if none */
	char enrol_code[AUTH_ENROL_CODE_LEN + 1];   /* enrol: the one-time code (wipe) */
	int64_t enrol_expires_ms;
};

/*
 * Write the one-time enrolment code of operator name to DIR/name.code (DIR 0700, file
 * 0600, replaced atomically): the second channel by which it reaches the new operator
 * without passing the creator (docs/security.md, "Enrolment").
 */
tw_rc auth_enrol_code_deliver(const char *dir, const char *name, const char *code,
	int64_t expires_ms, struct tw_error *err);

/* True for a valid operator name. */
bool auth_operator_name_valid(const char *name);

/*
 * Add an operator without roles, in p's tenant. The client certificate is also recorded
 * in the certificates table (owner kind "operator"), which is what the operator CA's CRL
 * is generated from; a TOTP key is stored sealed (in->box, cred.h). Requested roles
 * become a pending operator.role request (break-glass: granted at once, and a
 * break-glass review request is stored instead). TW_E_EXISTS for a taken name.
 */
tw_rc auth_svc_operator_add(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const struct auth_operator_new *in,
	struct auth_operator_added *out, struct tw_error *err);
/* Operators of p's tenant (all for break-glass); secrets are blanked before cb. */
tw_rc auth_svc_operator_list(struct tw_store *store, const struct auth_principal *p,
	store_operator_cb cb, void *arg, struct tw_error *err);
/*
 * Disable an operator: status disabled, sessions revoked, and the certificate revoked
 * both in the operators row (what login and every request check) and in the
 * certificates table with reason privilegeWithdrawn, marking the operator CA's CRL
 * dirty; the caller then republishes it (auth_opca_crl_publish), or the worker does.
 */
tw_rc auth_svc_operator_disable(struct tw_store *store, const struct auth_principal *p,
	const char *name, const char *reason, struct tw_error *err);
/*
 * Ask for new roles of operator name (the complete new set). Refused (TW_E_DENIED): own
 * roles, a foreign tenant, a set that breaks the exclusions, roles the requester may not
 * grant (a tenant-admin grants neither system-admin, security-officer nor tenant-admin).
 * Stored as a pending operator.role request (*approval_id); break-glass executes at once
 * and stores a break-glass review request instead.
 */
tw_rc auth_svc_operator_role(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const char *name, uint32_t roles, const char *reason,
	int64_t *approval_id, struct tw_error *err);
/* Gateways of p's tenant (sensitive read: logged). */
tw_rc auth_svc_gateway_list(struct tw_store *store, const struct auth_principal *p,
	store_gateway_cb cb, void *arg, struct tw_error *err);

/*
 * Record a break-glass use (direct --home access): admin-log entry as principal
 * "break-glass", an alert to the security-officer role, and a pending "break-glass"
 * review request that an approver must release afterwards (M-4.5.6.6). Best effort:
 * never fails the command it records.
 */
void auth_break_glass_record(struct tw_store *store, const struct auth_settings *s,
	const struct auth_principal *p, const char *command);

/*
 * Record a read-only break-glass use (a list/show/verify command run with --home): the
 * admin-log entry "auth.break-glass-read" as principal "break-glass", but no alert and no
 * review request. Reads change nothing an approver could undo, and an alert per `gateway
 * list` would train the security officers to ignore break-glass alerts; the log entry
 * keeps every read traceable. Best effort like auth_break_glass_record.
 */
void auth_break_glass_read_record(struct tw_store *store, const struct auth_principal *p,
	const char *command);

#endif
