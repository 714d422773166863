/*
 * test_command.c: the operator commands the api runs (src/auth/command.c) and the
 * store-free part of POST /v1/commands (api_command_parse).
 *
 * The command matrix states, independently of src/auth/command.c and src/auth/auth.c,
 * which operation every command needs and which roles docs/security.md allows for that
 * operation; then every table entry is tried as every role, in the own and in a foreign
 * tenant, through auth_check: TW_OK exactly where the documentation says so, TW_E_DENIED
 * otherwise and always for a foreign tenant, each denial an admin-log entry. A command
 * added to (or removed from) the table without updating this file fails the test.
 * Also: the checks of a forwarded argument vector, the option helpers, strict base64 and
 * the body parser (out-params NULL and nothing leaked on every refusal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "api/api_command.h"
#include "audit/audit.h"
#include "auth/approval.h"
#include "auth/auth.h"
#include "auth/command.h"
#include "crypto/secretbox.h"
#include "store/store.h"

#define ARGC(v) ((int)(sizeof(v) / sizeof((v)[0])))

/* ---- the policy as docs/security.md states it ---- */

#define B(r) AUTH_ROLE_BIT(AUTH_ROLE_##r)

/* "Roles and the policy table": the operations of commands, their roles and "writes". */
static const struct doc_op {
	const char *name;
	uint32_t roles;
	bool writes;
} doc_ops[] = {
	{ "gateway.read", B(GATEWAY_OPERATOR) | B(FIRMWARE_MANAGER) | B(AUDITOR) |
		B(TENANT_ADMIN) | B(SYSTEM_ADMIN), false },
	{ "gateway.admin", B(GATEWAY_OPERATOR) | B(TENANT_ADMIN) | B(SYSTEM_ADMIN), true },
	{ "gateway.order", B(GATEWAY_OPERATOR) | B(FIRMWARE_MANAGER), true },
	{ "profile.write", B(GATEWAY_OPERATOR), true },
	{ "firmware.read", B(FIRMWARE_MANAGER) | B(GATEWAY_OPERATOR) | B(AUDITOR) |
		B(SYSTEM_ADMIN), false },
	{ "firmware.manage", B(FIRMWARE_MANAGER), true },
	{ "ca.read", B(RA_OFFICER) | B(CA_OPERATOR) | B(AUDITOR) | B(SECURITY_OFFICER), false },
	{ "ca.ra", B(RA_OFFICER), true },
	{ "ca.operate", B(CA_OPERATOR), true },
	{ "audit.read", B(AUDITOR) | B(SECURITY_OFFICER), false },
	{ "audit.admin", B(SECURITY_OFFICER) | B(SYSTEM_ADMIN), true },
	{ "policy.read", B(SECURITY_OFFICER) | B(SYSTEM_ADMIN) | B(AUDITOR) | B(APPROVER),
		false },
	{ "policy.change", B(SECURITY_OFFICER), true },
	{ "ca.custodian", B(CUSTODIAN), true },
};

#undef B

static const struct doc_op *doc_op_find(const char *name)
{
	for (size_t i = 0; i < sizeof(doc_ops) / sizeof(doc_ops[0]); i++) {
		if (strcmp(doc_ops[i].name, name) == 0)
			return &doc_ops[i];
	}
	return NULL;
}

/*
 * Every command that runs through the api: its operation (reads to the roles that work
 * with the object, inventory and orders to the gateway operator, certificates to the RA
 * officer or CA operator, the admin log to auditor and security officer), its four-eyes
 * action ("ca activate" = ca.key.activate, "ca revoke" = ca.revoke, "firmware release" =
 * firmware.release, "job create" = fleet.order), the options naming gateways ("gw") and
 * jobs ("job"), and its files ("in:", "out:", "dir:").
 */
static const struct doc_cmd {
	const char *command, *sub, *op, *four_eyes;
	/* "gw=--id", "gw=--gateway|--id" (option|alias), "gws=--gateways", "job=--id" */
	const char *objects;
	const char *files;     /* "in:--request", "out:--out", ... */
} doc_cmds[] = {
	{ "alarm", "ack", "gateway.order", NULL, "", "" },
	{ "alarm", "list", "gateway.read", NULL, "gw=--gateway", "" },
	{ "audit", "alert", "audit.admin", NULL, "", "" },
	{ "audit", "archive", "audit.admin", NULL, "", "dir:--dir" },
	{ "audit", "export", "audit.read", NULL, "", "out:--out" },
	{ "audit", "head", "audit.admin", NULL, "", "" },
	{ "audit", "proof", "audit.read", NULL, "", "" },
	{ "audit", "verify", "audit.read", NULL, "", "in:--cert" },
	{ "ca", "activate", "ca.operate", "ca.key.activate", "", "" },
	{ "ca", "approve", "ca.ra", NULL, "", "" },
	{ "ca", "check", "ca.read", NULL, "", "in:--cert" },
	{ "ca", "crl", "ca.operate", NULL, "", "" },
	{ "ca", "custodian-share", "ca.custodian", NULL, "", "in:--share" },
	{ "ca", "deactivate", "ca.operate", "ca.key.deactivate", "", "" },
	{ "ca", "delivery-note", "ca.read", NULL, "", "out:--out" },
	{ "ca", "export", "ca.read", NULL, "", "out:--out" },
	{ "ca", "issue", "ca.ra", NULL, "", "in:--request" },
	{ "ca", "list", "ca.read", NULL, "", "" },
	{ "ca", "participants", "ca.read", NULL, "", "" },
	{ "ca", "register", "ca.ra", NULL, "", "" },
	{ "ca", "reject", "ca.ra", NULL, "", "" },
	{ "ca", "requests", "ca.read", NULL, "", "" },
	{ "ca", "revoke", "ca.ra", "ca.revoke", "", "" },
	{ "ca", "show", "ca.read", NULL, "", "" },
	{ "ca", "submit", "ca.ra", NULL, "", "in:--request" },
	{ "firmware", "add", "firmware.manage", NULL, "", "in:--file in:--signature out:--receipt" },
	{ "firmware", "certified", "firmware.read", NULL, "", "" },
	{ "firmware", "check", "firmware.manage", NULL, "", "" },
	{ "firmware", "downgrade", "firmware.manage", "firmware.downgrade", "", "" },
	{ "firmware", "import-list", "firmware.manage", NULL, "", "in:--file" },
	{ "firmware", "list", "firmware.read", NULL, "", "" },
	{ "firmware", "release", "firmware.manage", "firmware.release", "", "" },
	{ "firmware", "show", "firmware.read", NULL, "", "" },
	{ "firmware", "withdraw", "firmware.manage", NULL, "", "" },
	{ "gateway", "add", "gateway.admin", NULL, "", "dir:--out" },
	{ "gateway", "initial-config", "gateway.admin", "initial-config.batch",
	  "gw=--gateway gws=--gateways", "out:--out in:--recipient" },
	{ "gateway", "initial-config-receipt", "gateway.admin", NULL, "", "in:--receipt" },
	{ "gateway", "list", "gateway.read", NULL, "", "" },
	{ "gateway", "logs", "gateway.read", NULL, "gw=--id|--gateway", "" },
	{ "gateway", "show", "gateway.read", NULL, "gw=--id", "" },
	{ "gateway", "selftest", "gateway.order", NULL, "gw=--id|--gateway", "" },
	{ "gateway", "set", "gateway.admin", NULL, "gw=--gateway|--gateway-id gws=--gateways", "" },
	{ "gateway", "renew", "gateway.order", "fleet.order", "gw=--gateway gws=--gateways", "" },
	{ "gateway", "crl-push", "gateway.order", "fleet.order", "gw=--gateway gws=--gateways", "" },
	{ "gwa", "renew", "ca.operate", NULL, "", "" },
	{ "context", "backup", "gateway.read", NULL, "", "out:--out" },
	{ "context", "delete", "gateway.admin", NULL, "", "" },
	{ "context", "fetch", "gateway.admin", NULL, "gw=--gateway", "" },
	{ "context", "restore", "gateway.admin", NULL, "", "in:--in" },
	{ "context", "log", "gateway.read", NULL, "", "" },
	{ "context", "import", "gateway.admin", NULL, "gw=--gateway", "in:--cert" },
	{ "context", "list", "gateway.read", NULL, "gw=--gateway", "" },
	{ "context", "replace", "gateway.admin", NULL, "gw=--gateway", "in:--cert" },
	{ "context", "trust-add", "gateway.admin", NULL, "", "in:--cert" },
	{ "context", "trust-list", "gateway.read", NULL, "", "" },
	{ "context", "trust-remove", "gateway.admin", NULL, "", "" },
	{ "context", "validate", "gateway.admin", NULL, "", "" },
	{ "renewal", "list", "gateway.read", NULL, "gw=--gateway", "" },
	{ "renewal", "show", "gateway.read", NULL, "", "" },
	{ "renewal", "wait", "gateway.read", NULL, "", "" },
	{ "job", "batches", "gateway.read", NULL, "", "" },
	{ "job", "cancel", "gateway.order", NULL, "job=--id", "" },
	{ "job", "create", "gateway.order", "fleet.order", "gw=--gateway|--gateway-id gws=--gateways", "" },
	{ "job", "list", "gateway.read", NULL, "gw=--gateway|--gateway-id", "" },
	{ "job", "show", "gateway.read", NULL, "job=--id", "" },
	{ "job", "wait", "gateway.read", NULL, "job=--id", "" },
	{ "policy", "set", "policy.change", "policy.change", "", "" },
	{ "policy", "show", "policy.read", NULL, "", "" },
	{ "profile", "authorise-emt", "profile.write", NULL, "gw=--gateway|--id", "" },
	{ "profile", "check", "gateway.read", NULL, "gw=--gateway|--id", "in:--file" },
	{ "profile", "delete", "profile.write", NULL, "gw=--gateway|--id", "" },
	{ "profile", "drift", "gateway.read", NULL, "gw=--gateway|--id", "" },
	{ "profile", "emts", "gateway.read", NULL, "gw=--gateway|--id", "" },
	{ "profile", "list", "gateway.read", NULL, "gw=--gateway|--id", "" },
	{ "profile", "put", "profile.write", NULL, "gw=--gateway|--id", "in:--file" },
	{ "profile", "read", "gateway.order", NULL, "gw=--gateway|--id", "" },
	{ "profile", "reput", "profile.write", "fleet.order", "gw=--gateway gws=--gateways",
	  "in:--cert in:--key-file" },
	{ "profile", "revoke-emt", "profile.write", NULL, "gw=--gateway|--id", "" },
	{ "profile", "show", "gateway.read", NULL, "gw=--gateway|--id", "" },
	{ "rollout", "approve", "firmware.manage", "rollout.start", "", "" },
	{ "rollout", "cancel", "firmware.manage", NULL, "", "" },
	{ "rollout", "create", "firmware.manage", NULL, "", "" },
	{ "rollout", "list", "firmware.read", NULL, "", "" },
	{ "rollout", "pause", "firmware.manage", NULL, "", "" },
	{ "rollout", "resume", "firmware.manage", NULL, "", "" },
	{ "rollout", "show", "firmware.read", NULL, "", "" },
	{ "req", "authorise", "gateway.admin", NULL, "", "in:--in out:--out in:--gwa-cert" },
};

#define DOC_CMDS (sizeof(doc_cmds) / sizeof(doc_cmds[0]))

static const struct doc_cmd *doc_cmd_find(const char *command, const char *sub)
{
	for (size_t i = 0; i < DOC_CMDS; i++) {
		if (strcmp(doc_cmds[i].command, command) == 0 && strcmp(doc_cmds[i].sub, sub) == 0)
			return &doc_cmds[i];
	}
	return NULL;
}

/* The entry's object options and files in the notation of doc_cmds. */
static void entry_objects(const struct auth_command *c, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	if (c->gateway_option != NULL)
		n += (size_t)snprintf(buf + n, size - n, "%sgw=%s%s%s", n ? " " : "",
			c->gateway_option, c->gateway_alias ? "|" : "",
			c->gateway_alias ? c->gateway_alias : "");
	else
		assert_null(c->gateway_alias);
	if (c->gateways_option != NULL && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sgws=%s", n ? " " : "",
			c->gateways_option);
	if (c->job_option != NULL && n < size)
		n += (size_t)snprintf(buf + n, size - n, "%sjob=%s", n ? " " : "", c->job_option);
	assert_true(n < size);
}

static void entry_files(const struct auth_command *c, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < AUTH_CMD_FILES_MAX && c->files[i].option != NULL; i++) {
		const char *k = c->files[i].kind == AUTH_CMD_FILE_IN ? "in" :
			c->files[i].kind == AUTH_CMD_FILE_OUT ? "out" :
			c->files[i].kind == AUTH_CMD_DIR_OUT ? "dir" : "?";

		n += (size_t)snprintf(buf + n, size - n, "%s%s:%s", n ? " " : "", k,
			c->files[i].option);
		assert_true(n < size);
	}
}

/* ---- fixture: a store with two tenants ---- */

struct fx {
	char dir[64];
	struct tw_store *st;
	int64_t tenant_a, tenant_b;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];
	struct tw_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-command-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/store.db", f->dir);
	assert_int_equal(store_open(path, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "tenant-a", &f->tenant_a, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "tenant-b", &f->tenant_b, &err), TW_OK);
	assert_true(f->tenant_a > 0 && f->tenant_b > 0 && f->tenant_a != f->tenant_b);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Admin-log rows after seq `after`: how many, and whether each is an auth.denied. */
struct rows {
	int64_t last_seq;
	int count, denied;
	char actor[STORE_NAME_MAX + 1];
	char object[STORE_NAME_MAX + 1];
};

static int rows_cb(const struct store_audit_row *row, void *arg)
{
	struct rows *r = arg;

	r->count++;
	r->last_seq = row->seq;
	if (strcmp(row->action, "auth.denied") == 0 && strcmp(row->result, "refused") == 0)
		r->denied++;
	snprintf(r->actor, sizeof(r->actor), "%s", row->actor);
	snprintf(r->object, sizeof(r->object), "%s", row->object);
	return 0;
}

static struct rows rows_after(struct fx *f, int64_t after)
{
	struct tw_error err;
	struct rows r;

	memset(&r, 0, sizeof(r));
	r.last_seq = after;
	assert_int_equal(store_audit_foreach(f->st, after + 1, rows_cb, &r, &err), TW_OK);
	return r;
}

static void principal(struct fx *f, struct auth_principal *p, uint32_t roles,
	const char *name)
{
	memset(p, 0, sizeof(*p));
	p->operator_id = 100;
	p->tenant_id = f->tenant_a;
	p->roles = roles;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->tenant, sizeof(p->tenant), "tenant-a");
	snprintf(p->client, sizeof(p->client), "test");
}

/* ---- a. the command matrix ---- */

/* Every table entry is in doc_cmds with the same operation, action, objects and files,
 * and every doc_cmds row is in the table exactly once. */
static void test_table_complete(void **state)
{
	size_t n = 0;
	char buf[256];

	(void)state;
	for (const struct auth_command *c; (c = auth_command_at(n)) != NULL; n++) {
		const struct doc_cmd *d = doc_cmd_find(c->command, c->sub);
		char *av[] = { (char *)c->command, (char *)c->sub };

		if (d == NULL)
			fail_msg("'%s %s' is in the command table but not in test_command.c",
				c->command, c->sub);
		if (strcmp(auth_op_name(c->op), d->op) != 0 ||
		    strcmp(auth_op_name(auth_command_op(c, 2, av)), d->op) != 0)
			fail_msg("'%s %s' needs %s, documented %s", c->command, c->sub,
				auth_op_name(c->op), d->op);
		if ((c->four_eyes == NULL) != (d->four_eyes == NULL) ||
		    (c->four_eyes != NULL && strcmp(c->four_eyes, d->four_eyes) != 0))
			fail_msg("'%s %s': four-eyes action %s, expected %s", c->command, c->sub,
				c->four_eyes ? c->four_eyes : "none", d->four_eyes ? d->four_eyes : "none");
		entry_objects(c, buf, sizeof(buf));
		if (strcmp(buf, d->objects) != 0)
			fail_msg("'%s %s': objects '%s', expected '%s'", c->command, c->sub, buf,
				d->objects);
		entry_files(c, buf, sizeof(buf));
		if (strcmp(buf, d->files) != 0)
			fail_msg("'%s %s': files '%s', expected '%s'", c->command, c->sub, buf,
				d->files);
		assert_ptr_equal(auth_command_find(c->command, c->sub), c);   /* no duplicate */
		assert_non_null(doc_op_find(d->op));
	}
	assert_int_equal(n, DOC_CMDS);
	for (size_t i = 0; i < DOC_CMDS; i++) {
		if (auth_command_find(doc_cmds[i].command, doc_cmds[i].sub) == NULL)
			fail_msg("'%s %s' is documented but missing from the command table",
				doc_cmds[i].command, doc_cmds[i].sub);
	}
	/* The four-eyes actions, exactly. */
	{
		static const char *const fe[][3] = {
			{ "ca", "activate", "ca.key.activate" }, { "ca", "revoke", "ca.revoke" },
			{ "ca", "deactivate", "ca.key.deactivate" },
			{ "firmware", "release", "firmware.release" },
			{ "firmware", "downgrade", "firmware.downgrade" },
			{ "rollout", "approve", "rollout.start" },
			{ "job", "create", "fleet.order" },
			{ "gateway", "renew", "fleet.order" },
			{ "gateway", "crl-push", "fleet.order" },
			{ "gateway", "initial-config", "initial-config.batch" },
			{ "profile", "reput", "fleet.order" },
			{ "policy", "set", "policy.change" },
		};
		int with = 0;

		for (size_t i = 0; i < sizeof(fe) / sizeof(fe[0]); i++) {
			const struct auth_command *c = auth_command_find(fe[i][0], fe[i][1]);

			assert_non_null(c);
			assert_non_null(c->four_eyes);
			assert_string_equal(c->four_eyes, fe[i][2]);
		}
		for (size_t i = 0; auth_command_at(i) != NULL; i++)
			with += auth_command_at(i)->four_eyes != NULL;
		assert_int_equal(with, (int)(sizeof(fe) / sizeof(fe[0])));
	}
	/* Special options as docs/security.md names them. */
	for (size_t i = 0; auth_command_at(i) != NULL; i++) {
		const struct auth_command *c = auth_command_at(i);
		bool set = strcmp(c->command, "gateway") == 0 && strcmp(c->sub, "set") == 0;
		bool logs = strcmp(c->command, "gateway") == 0 && strcmp(c->sub, "logs") == 0;
		bool verify = strcmp(c->command, "audit") == 0 && strcmp(c->sub, "verify") == 0;
		bool proof = strcmp(c->command, "audit") == 0 && strcmp(c->sub, "proof") == 0;
		bool gwa = strcmp(c->command, "gwa") == 0 && strcmp(c->sub, "renew") == 0;

		if (set)
			assert_string_equal(c->tenant_denied_option, "--move-tenant");
		else
			assert_null(c->tenant_denied_option);
		if (logs) {
			assert_string_equal(c->upgrade_option, "--fetch");
			assert_int_equal(c->upgrade_op, AUTH_OP_GATEWAY_ORDER);
		} else {
			assert_null(c->upgrade_option);
		}
		if (verify)
			assert_string_equal(c->local_option, "--export");
		else if (proof)
			assert_string_equal(c->local_option, "--verify");
		else if (gwa)   /* a key rotation in the signer: on the signer's host only */
			assert_string_equal(c->local_option, "--key");
		else
			assert_null(c->local_option);
		assert_null(c->local_option2);
	}
	/* Local and unknown commands are not in the table. */
	assert_null(auth_command_find("init", "x"));
	assert_null(auth_command_find("login", "x"));
	assert_null(auth_command_find("job", "types"));
	assert_null(auth_command_find("req", "initial"));
	assert_null(auth_command_find("req", "renew"));
	assert_null(auth_command_find("req", "show"));
	assert_null(auth_command_find("operator", "add"));
	assert_null(auth_command_find("approval", "approve"));
	assert_null(auth_command_find("gateway", NULL));
	assert_null(auth_command_find(NULL, "list"));
	assert_null(auth_command_at(DOC_CMDS));
}

/* The documented operations: their roles and "writes" as auth.c has them. */
static void test_doc_ops(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(doc_ops) / sizeof(doc_ops[0]); i++) {
		int op = -1;

		for (int o = 0; o < AUTH_OP__COUNT; o++) {
			if (strcmp(auth_op_name((enum auth_op)o), doc_ops[i].name) == 0)
				op = o;
		}
		if (op < 0)
			fail_msg("operation %s is documented but unknown", doc_ops[i].name);
		assert_int_equal(auth_op_writes((enum auth_op)op), doc_ops[i].writes);
		/* The auditor never holds a write permission. */
		if (doc_ops[i].writes)
			assert_false(doc_ops[i].roles & AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR));
	}
}

/* One auth_check as role `role` of tenant A against an object of A or B. */
static void matrix_one(struct fx *f, const char *what_cmd, enum auth_op op, int role,
	bool foreign, bool allowed, int *denials)
{
	struct auth_principal p;
	struct tw_error err;
	struct rows before = rows_after(f, 0), after;
	char name[64];
	tw_rc rc;

	snprintf(name, sizeof(name), "actor-%s", auth_role_name((enum auth_role)role));
	principal(f, &p, AUTH_ROLE_BIT(role), name);
	memset(&err, 0, sizeof(err));
	rc = auth_check(f->st, &p, op, foreign ? f->tenant_b : f->tenant_a, "x", &err);
	after = rows_after(f, before.last_seq);
	if (!foreign && allowed) {
		if (rc != TW_OK)
			fail_msg("%s (%s) as %s in the own tenant: expected ok, got %s: %s",
				what_cmd, auth_op_name(op), auth_role_name((enum auth_role)role),
				tw_strerror(rc), err.message);
		assert_int_equal(after.count, 0);
		return;
	}
	if (rc != TW_E_DENIED)
		fail_msg("%s (%s) as %s in the %s tenant: expected denied, got %s", what_cmd,
			auth_op_name(op), auth_role_name((enum auth_role)role),
			foreign ? "foreign" : "own", tw_strerror(rc));
	if (after.count != 1 || after.denied != 1)
		fail_msg("%s as %s (%s tenant): denial not logged (%d rows, %d auth.denied)",
			what_cmd, auth_role_name((enum auth_role)role), foreign ? "foreign" : "own",
			after.count, after.denied);
	assert_string_equal(after.actor, name);
	assert_string_equal(after.object, "x");
	(*denials)++;
}

static void test_command_matrix(void **state)
{
	struct fx *f = *state;
	int checked = 0, denials = 0, allowed_n = 0;

	for (size_t i = 0; auth_command_at(i) != NULL; i++) {
		const struct auth_command *c = auth_command_at(i);
		const struct doc_cmd *d = doc_cmd_find(c->command, c->sub);
		const struct doc_op *o;
		char *plain[] = { (char *)c->command, (char *)c->sub };
		char what[64];

		assert_non_null(d);
		assert_non_null(o = doc_op_find(d->op));
		snprintf(what, sizeof(what), "%s %s", c->command, c->sub);
		for (int role = 0; role < AUTH_ROLE__COUNT; role++) {
			bool allowed = (o->roles & AUTH_ROLE_BIT(role)) != 0;
			enum auth_op op = auth_command_op(c, 2, plain);

			/* Read only: the auditor is never allowed an operation that writes. */
			if (role == AUTH_ROLE_AUDITOR && auth_op_writes(op))
				assert_false(allowed);
			for (int foreign = 0; foreign <= 1; foreign++) {
				matrix_one(f, what, op, role, foreign, allowed, &denials);
				checked++;
				allowed_n += !foreign && allowed;
			}
		}
	}
	assert_int_equal(checked, (int)DOC_CMDS * AUTH_ROLE__COUNT * 2);
	assert_int_equal(denials + allowed_n, checked);
	assert_true(allowed_n > 0);

	/* gateway logs --fetch (and --fetch=X) is an order: gateway.order's roles. */
	{
		const struct auth_command *c = auth_command_find("gateway", "logs");
		const struct doc_op *o = doc_op_find("gateway.order");
		char *fetch[] = { "gateway", "logs", "--id", "gw1", "--fetch", "system" };
		char *fetch_eq[] = { "gateway", "logs", "--id", "gw1", "--fetch=system" };

		assert_non_null(c);
		assert_int_equal(auth_command_op(c, ARGC(fetch), fetch), AUTH_OP_GATEWAY_ORDER);
		assert_int_equal(auth_command_op(c, ARGC(fetch_eq), fetch_eq),
			AUTH_OP_GATEWAY_ORDER);
		for (int role = 0; role < AUTH_ROLE__COUNT; role++) {
			for (int foreign = 0; foreign <= 1; foreign++)
				matrix_one(f, "gateway logs --fetch", AUTH_OP_GATEWAY_ORDER, role, foreign,
					(o->roles & AUTH_ROLE_BIT(role)) != 0, &denials);
		}
	}
	/*
	 * An operator without roles gets nothing; one with several roles (allowed together
	 * by the default exclusions) gets the union of their permissions in the own tenant
	 * and nothing in a foreign one; break-glass gets everything everywhere.
	 */
	for (size_t i = 0; auth_command_at(i) != NULL; i++) {
		const struct auth_command *c = auth_command_at(i);
		const struct doc_op *o = doc_op_find(doc_cmd_find(c->command, c->sub)->op);
		uint32_t several = AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER) |
			AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR) | AUTH_ROLE_BIT(AUTH_ROLE_APPROVER);
		struct auth_principal none, multi, bg;
		struct tw_error err;
		struct rows before = rows_after(f, 0);
		int expect_denied = 3;

		principal(f, &none, 0, "nobody");
		principal(f, &multi, several, "several");
		auth_principal_break_glass(&bg, "os:test", "local:1");
		assert_int_equal(auth_check(f->st, &none, c->op, f->tenant_a, "x", &err),
			TW_E_DENIED);
		if (o->roles & several) {
			assert_int_equal(auth_check(f->st, &multi, c->op, f->tenant_a, "x", &err),
				TW_OK);
			assert_int_equal(auth_check(f->st, &multi, c->op, 0, "x", &err), TW_OK);
			expect_denied = 2;
		} else {
			assert_int_equal(auth_check(f->st, &multi, c->op, f->tenant_a, "x", &err),
				TW_E_DENIED);
		}
		assert_int_equal(auth_check(f->st, &multi, c->op, f->tenant_b, "x", &err),
			TW_E_DENIED);
		assert_int_equal(auth_check(f->st, &bg, c->op, f->tenant_b, "x", &err), TW_OK);
		assert_int_equal(auth_check(f->st, &bg, c->op, 0, "x", &err), TW_OK);
		assert_int_equal(rows_after(f, before.last_seq).denied, expect_denied);
	}
	/* The chain of all those entries still verifies. */
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 },
		&(struct tw_error){ 0 }), TW_OK);
}

/* ---- b. auth_command_validate ---- */

static tw_rc validate(int argc, char **argv, const struct auth_command **c)
{
	struct tw_error err;

	*c = (const struct auth_command *)(uintptr_t)1;   /* must be reset */
	memset(&err, 0, sizeof(err));
	return auth_command_validate(argc, argv, c, &err);
}

static void test_validate(void **state)
{
	const struct auth_command *c;

	(void)state;
	{
		char *ok[] = { "ca", "revoke", "0A1B", "--reason", "keyCompromise" };

		assert_int_equal(validate(ARGC(ok), ok, &c), TW_OK);
		assert_ptr_equal(c, auth_command_find("ca", "revoke"));
	}
	{
		char *ok[] = { "ca", "issue", "--request", "req.der", "--ca", "sub-ca" };

		assert_int_equal(validate(ARGC(ok), ok, &c), TW_OK);
		assert_ptr_equal(c, auth_command_find("ca", "issue"));
	}
	{
		char *ok[] = { "gateway", "list" };

		assert_int_equal(validate(ARGC(ok), ok, &c), TW_OK);
		assert_non_null(c);
	}
	/* --home in both spellings. */
	{
		char *a[] = { "gateway", "list", "--home", "/srv/torwart" };
		char *b[] = { "gateway", "list", "--home=/srv/torwart" };
		char *e[] = { "gateway", "list", "--home=" };

		assert_int_equal(validate(ARGC(a), a, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(b), b, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(e), e, &c), TW_E_INVALID);
		assert_null(c);
	}
	/* Abbreviations getopt_long would take, and repeated checked options: refused,
	 * because the api's checks see exact names only (the child would act on the last or
	 * abbreviated one, unchecked). */
	{
		char *hom[] = { "gateway", "list", "--hom", "/other" };
		char *hom_eq[] = { "gateway", "list", "--ho=/other" };
		char *ou[] = { "audit", "export", "--ou", "/etc/cron.d/x" };
		char *req[] = { "ca", "submit", "--req", "/srv/secrets/data.key" };
		char *move[] = { "gateway", "set", "--gateway", "gw-a", "--move-t", "beta" };
		char *fet[] = { "gateway", "logs", "--id", "gw", "--fet", "system" };
		char *exp[] = { "audit", "verify", "--exp", "/etc/passwd" };
		char *gws[] = { "job", "create", "--type", "ping", "--gateway", "a",
			"--gateway", "b" };
		char *alias[] = { "profile", "show", "--gateway", "a", "--id", "b", "--profile",
			"p" };
		char *jobs[] = { "job", "show", "--id", "1", "--id", "2" };
		char *full[] = { "gateway", "logs", "--id", "gw", "--fetch", "system" };

		assert_int_equal(validate(ARGC(hom), hom, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(hom_eq), hom_eq, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(ou), ou, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(req), req, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(move), move, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(fet), fet, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(exp), exp, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(gws), gws, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(alias), alias, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(jobs), jobs, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(full), full, &c), TW_OK);
		{
			/* "--gateway" is a full name, though a prefix of "--gateways". */
			char *exact[] = { "job", "create", "--type", "ping", "--gateway", "a" };

			assert_int_equal(validate(ARGC(exact), exact, &c), TW_OK);
		}
	}
	/* Unknown or local commands. */
	{
		char *a[] = { "init", "--test-pki" };
		char *b[] = { "gateway", "explode" };
		char *d[] = { "job", "types" };
		char *e[] = { "req", "initial", "--role", "smgw" };

		assert_int_equal(validate(ARGC(a), a, &c), TW_E_NOT_FOUND);
		assert_null(c);
		assert_int_equal(validate(ARGC(b), b, &c), TW_E_NOT_FOUND);
		assert_null(c);
		assert_int_equal(validate(ARGC(d), d, &c), TW_E_NOT_FOUND);
		assert_int_equal(validate(ARGC(e), e, &c), TW_E_NOT_FOUND);
	}
	/* Argument count. */
	{
		char *one[] = { "gateway" };
		char *many[AUTH_CMD_ARGS_MAX + 1];

		assert_int_equal(validate(0, one, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(1, one, &c), TW_E_INVALID);
		assert_null(c);
		many[0] = "gateway";
		many[1] = "list";
		for (int i = 2; i < AUTH_CMD_ARGS_MAX + 1; i++)
			many[i] = "x";
		assert_int_equal(validate(AUTH_CMD_ARGS_MAX, many, &c), TW_OK);
		assert_int_equal(validate(AUTH_CMD_ARGS_MAX + 1, many, &c), TW_E_INVALID);
		assert_null(c);
	}
	/* Argument length: AUTH_CMD_ARG_MAX bytes is fine, one more is not. */
	{
		char *big = malloc(AUTH_CMD_ARG_MAX + 2);
		char *v[] = { "job", "create", "--payload", big };

		assert_non_null(big);
		memset(big, 'a', AUTH_CMD_ARG_MAX + 1);
		big[AUTH_CMD_ARG_MAX] = '\0';
		assert_int_equal(validate(ARGC(v), v, &c), TW_OK);
		big[AUTH_CMD_ARG_MAX] = 'a';
		big[AUTH_CMD_ARG_MAX + 1] = '\0';
		assert_int_equal(validate(ARGC(v), v, &c), TW_E_INVALID);
		assert_null(c);
		v[3] = "ok";
		v[0] = big;   /* also for the command itself */
		assert_int_equal(validate(ARGC(v), v, &c), TW_E_INVALID);
		free(big);
	}
	/* A missing (NULL) argument. */
	{
		char *v[] = { "gateway", "list", NULL };

		assert_int_equal(validate(ARGC(v), v, &c), TW_E_INVALID);
		assert_null(c);
	}
	/* File options: "--opt=FILE" and a file option without its file. */
	{
		char *eq[] = { "ca", "submit", "--request=req.der" };
		char *eq2[] = { "req", "authorise", "--in", "a", "--out=b" };
		char *last[] = { "ca", "submit", "--request" };
		char *last2[] = { "firmware", "add", "--model", "m", "--file" };
		char *ok[] = { "req", "authorise", "--in", "a", "--out", "b" };

		assert_int_equal(validate(ARGC(eq), eq, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(eq2), eq2, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(last), last, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(last2), last2, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(ok), ok, &c), TW_OK);
	}
	/* Offline variants run locally. */
	{
		char *a[] = { "audit", "verify", "--export", "x.jsonl" };
		char *b[] = { "audit", "verify", "--export=x.jsonl" };
		char *p[] = { "audit", "proof", "--verify", "proof.json" };
		char *online[] = { "audit", "verify" };

		assert_int_equal(validate(ARGC(a), a, &c), TW_E_INVALID);
		assert_null(c);
		assert_int_equal(validate(ARGC(b), b, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(p), p, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(online), online, &c), TW_OK);
	}
}

/* ---- c. option helpers ---- */

static void test_options(void **state)
{
	char *v[] = { "gateway", "set", "--gateway", "gw1", "--gateways=a,b", "--add-tag",
		"--gateway-x", "--flag" };
	const struct auth_command *c;
	int idx = 99;

	(void)state;
	assert_string_equal(auth_command_option(ARGC(v), v, "--gateway", &idx), "gw1");
	assert_int_equal(idx, 3);
	assert_string_equal(auth_command_option(ARGC(v), v, "--gateways", &idx), "a,b");
	assert_int_equal(idx, -1);
	/* A prefix is not the option; a trailing option has no value. */
	assert_null(auth_command_option(ARGC(v), v, "--gate", &idx));
	assert_int_equal(idx, -1);
	assert_null(auth_command_option(ARGC(v), v, "--flag", &idx));
	assert_null(auth_command_option(ARGC(v), v, "--add", NULL));
	assert_string_equal(auth_command_option(ARGC(v), v, "--add-tag", NULL), "--gateway-x");
	assert_null(auth_command_option(ARGC(v), v, NULL, &idx));
	assert_null(auth_command_option(ARGC(v), v, "", &idx));
	assert_null(auth_command_option(0, v, "--gateway", &idx));
	assert_true(auth_command_has(ARGC(v), v, "--gateway"));
	assert_true(auth_command_has(ARGC(v), v, "--gateways"));
	assert_true(auth_command_has(ARGC(v), v, "--flag"));
	assert_false(auth_command_has(ARGC(v), v, "--gate"));
	assert_false(auth_command_has(ARGC(v), v, "--move-tenant"));
	assert_false(auth_command_has(ARGC(v), v, NULL));
	assert_false(auth_command_has(ARGC(v), v, ""));

	/* File kinds by argv index: the argument after a file option. */
	{
		char *r[] = { "req", "authorise", "--in", "a.der", "--out", "b.der", "--format",
			"der" };
		char *twice[] = { "req", "authorise", "--in", "a.der", "--out", "b.der", "--in",
			"c.der" };
		char *shifted[] = { "req", "authorise", "--format", "--in", "a.der" };

		c = auth_command_find("req", "authorise");
		assert_non_null(c);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 3), AUTH_CMD_FILE_IN);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 5), AUTH_CMD_FILE_OUT);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 2), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 4), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 7), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, 0), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, -1), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(r), r, ARGC(r)), 0);
		assert_int_equal(auth_command_file_kind(NULL, ARGC(r), r, 3), 0);
		/* A refused vector has no files; "--in" as the value of --format is no file
		 * option, and a.der no file (THE reading, not "the word after --in"). */
		assert_int_equal(auth_command_file_kind(c, ARGC(twice), twice, 3), 0);
		assert_int_equal(auth_command_file_kind(c, ARGC(shifted), shifted, 4), 0);
	}
	{
		char *g[] = { "gateway", "add", "--id", "gw1", "--out", "dir" };
		char *a[] = { "audit", "archive", "--dir", "d", "--upto", "9" };
		char *l[] = { "gateway", "list", "--out", "x" };

		c = auth_command_find("gateway", "add");
		assert_int_equal(auth_command_file_kind(c, ARGC(g), g, 5), AUTH_CMD_DIR_OUT);
		assert_int_equal(auth_command_file_kind(c, ARGC(g), g, 3), 0);
		c = auth_command_find("audit", "archive");
		assert_int_equal(auth_command_file_kind(c, ARGC(a), a, 3), AUTH_CMD_DIR_OUT);
		assert_int_equal(auth_command_file_kind(c, ARGC(a), a, 5), 0);
		c = auth_command_find("gateway", "list");   /* no files at all */
		assert_int_equal(auth_command_file_kind(c, ARGC(l), l, 3), 0);
	}
	/* The operation: only gateway logs --fetch upgrades. */
	{
		char *plain[] = { "gateway", "logs", "--id", "gw1" };
		char *fetch[] = { "gateway", "logs", "--id", "gw1", "--fetch", "sys" };
		char *fetchx[] = { "gateway", "logs", "--id", "gw1", "--fetchy", "sys" };

		c = auth_command_find("gateway", "logs");
		assert_int_equal(auth_command_op(c, ARGC(plain), plain), AUTH_OP_GATEWAY_READ);
		assert_int_equal(auth_command_op(c, ARGC(fetch), fetch), AUTH_OP_GATEWAY_ORDER);
		assert_int_equal(auth_command_op(c, ARGC(fetchx), fetchx), AUTH_OP_GATEWAY_READ);
		c = auth_command_find("profile", "read");
		assert_int_equal(auth_command_op(c, ARGC(fetch), fetch), AUTH_OP_GATEWAY_ORDER);
		c = auth_command_find("job", "list");
		assert_int_equal(auth_command_op(c, ARGC(fetch), fetch), AUTH_OP_GATEWAY_READ);
	}
}

/* ---- d. base64 ---- */

static void b64_roundtrip(const unsigned char *data, size_t len)
{
	struct tw_error err;
	char *text = NULL;
	unsigned char *back = NULL;
	size_t n = 99;

	assert_int_equal(auth_b64_encode(data, len, &text, &err), TW_OK);
	assert_non_null(text);
	assert_int_equal(strlen(text), 4 * ((len + 2) / 3));
	/* Same as OpenSSL's encoder (no line breaks). */
	{
		unsigned char ref[256];

		assert_true(4 * ((len + 2) / 3) < sizeof(ref));
		assert_int_equal(EVP_EncodeBlock(ref, data, (int)len), (int)strlen(text));
		assert_memory_equal(ref, text, strlen(text));
	}
	assert_int_equal(auth_b64_decode(text, strlen(text), &back, &n, &err), TW_OK);
	assert_non_null(back);
	assert_int_equal(n, len);
	if (len > 0)
		assert_memory_equal(back, data, len);
	free(back);
	free(text);
}

static tw_rc b64_bad(const char *text)
{
	struct tw_error err;
	unsigned char *out = (unsigned char *)(uintptr_t)1;
	size_t n = 99;
	tw_rc rc = auth_b64_decode(text, strlen(text), &out, &n, &err);

	if (rc != TW_OK) {
		assert_null(out);
		assert_int_equal(n, 0);
	} else {
		free(out);
	}
	return rc;
}

static void test_base64(void **state)
{
	unsigned char data[64];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= 64; len++)
		b64_roundtrip(data, len);
	srand(4711);
	for (int round = 0; round < 200; round++) {
		size_t len = (size_t)(rand() % 65);

		for (size_t i = 0; i < len; i++)
			data[i] = (unsigned char)rand();
		b64_roundtrip(data, len);
	}
	/* Known values (RFC 4648 section 10). */
	{
		static const char *const vec[][2] = {
			{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
			{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		};
		struct tw_error err;

		for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
			unsigned char *out = NULL;
			size_t n = 0;

			assert_int_equal(auth_b64_decode(vec[i][1], strlen(vec[i][1]), &out, &n, &err),
				TW_OK);
			assert_int_equal(n, strlen(vec[i][0]));
			assert_memory_equal(out, vec[i][0], n);
			free(out);
		}
	}
	/* Bad length, bad characters, '=' in the middle, too much padding. */
	assert_int_equal(b64_bad("Zm9"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9vY"), TW_E_INVALID);
	assert_int_equal(b64_bad("Z"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9v\nYmFy"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9 "), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm-v"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm_v"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9\x80"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zg==Zm9v"), TW_E_INVALID);
	assert_int_equal(b64_bad("Z=9v"), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm=v"), TW_E_INVALID);
	assert_int_equal(b64_bad("=m9v"), TW_E_INVALID);
	assert_int_equal(b64_bad("A==="), TW_E_INVALID);
	assert_int_equal(b64_bad("===="), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9vA==="), TW_E_INVALID);
	assert_int_equal(b64_bad("Zm9vYg=A"), TW_E_INVALID);
	/* An embedded NUL within the given length. */
	{
		struct tw_error err;
		unsigned char *out = NULL;
		size_t n = 0;

		assert_int_equal(auth_b64_decode("Zm\0v", 4, &out, &n, &err), TW_E_INVALID);
		assert_null(out);
	}
	/* Empty input decodes to nothing (a valid empty file). */
	assert_int_equal(b64_bad(""), TW_OK);
}

/* ---- e. api_command_parse ---- */

static tw_rc parse(const char *body, int *argc_out)
{
	struct tw_error err;
	json_t *j = (json_t *)(uintptr_t)1;
	char **argv = (char **)(uintptr_t)1;
	const struct auth_command *c = (const struct auth_command *)(uintptr_t)1;
	int argc = 99;
	tw_rc rc;

	memset(&err, 0, sizeof(err));
	rc = api_command_parse(body, strlen(body), &j, &argc, &argv, &c, &err);
	if (rc != TW_OK) {
		assert_null(j);
		assert_null(argv);
		assert_null(c);
		assert_int_equal(argc, 0);
		assert_true(err.message[0] != '\0');
		return rc;
	}
	assert_non_null(j);
	assert_non_null(argv);
	assert_non_null(c);
	assert_true(argc >= 2);
	assert_ptr_equal(c, auth_command_find(argv[0], argv[1]));
	if (argc_out != NULL)
		*argc_out = argc;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	json_decref(j);
	return rc;
}

static void test_parse(void **state)
{
	struct tw_error err;
	int argc = 0;

	(void)state;
	/* Valid bodies. */
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"]}", &argc), TW_OK);
	assert_int_equal(argc, 2);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"submit\",\"--request\",\"r.der\"],"
		"\"files\":{\"3\":\"Zm9vYmFy\"},\"why\":\"because\"}", &argc), TW_OK);
	assert_int_equal(argc, 4);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"files\":{},"
		"\"why\":\"\"}", NULL), TW_OK);
	/* The full body, with its values. */
	{
		static const char body[] = "{\"argv\":[\"req\",\"authorise\",\"--in\",\"a\","
			"\"--out\",\"b\"],\"files\":{\"3\":\"\"},\"why\":\"w\"}";
		json_t *j = NULL;
		char **argv = NULL;
		const struct auth_command *c = NULL;

		assert_int_equal(api_command_parse(body, strlen(body), &j, &argc, &argv, &c, &err),
			TW_OK);
		assert_int_equal(argc, 6);
		assert_string_equal(argv[0], "req");
		assert_string_equal(argv[5], "b");
		assert_ptr_equal(c, auth_command_find("req", "authorise"));
		assert_string_equal(json_string_value(json_object_get(j, "why")), "w");
		for (int i = 0; i < argc; i++)
			free(argv[i]);
		free(argv);
		json_decref(j);
	}
	/* Not JSON, not an object, empty, too long. */
	assert_int_equal(parse("not json", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"]", NULL), TW_E_INVALID);
	assert_int_equal(parse("[\"gateway\",\"list\"]", NULL), TW_E_INVALID);
	assert_int_equal(parse("\"gateway list\"", NULL), TW_E_INVALID);
	assert_int_equal(parse("null", NULL), TW_E_INVALID);
	assert_int_equal(parse("", NULL), TW_E_INVALID);
	{
		json_t *j = (json_t *)(uintptr_t)1;
		char **argv = (char **)(uintptr_t)1;
		const struct auth_command *c = (const struct auth_command *)(uintptr_t)1;

		assert_int_equal(api_command_parse(NULL, 0, &j, &argc, &argv, &c, &err),
			TW_E_INVALID);
		assert_null(j);
		assert_null(argv);
		assert_null(c);
		assert_int_equal(api_command_parse("{}", (size_t)AUTH_CMD_BODY_MAX + 1, &j, &argc,
			&argv, &c, &err), TW_E_TOO_LARGE);
		assert_null(j);
		assert_null(argv);
	}
	/* argv missing, not an array, too short, not strings, NUL inside, too many. */
	assert_int_equal(parse("{}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":\"gateway list\"}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\"]}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[]}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",1]}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\",null]}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\",[\"x\"]]}", NULL),
		TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\",\"--tag\",\"a\\u0000b\"]}",
		NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"li\\u0000st\"]}", NULL), TW_E_INVALID);
	{
		/* 129 arguments, and one argument of AUTH_CMD_ARG_MAX + 1 bytes. */
		size_t size = 64 + (AUTH_CMD_ARGS_MAX + 1) * 6 + AUTH_CMD_ARG_MAX + 64;
		char *b = malloc(size);
		size_t n;

		assert_non_null(b);
		n = (size_t)snprintf(b, size, "{\"argv\":[\"gateway\",\"list\"");
		for (int i = 2; i < AUTH_CMD_ARGS_MAX + 1; i++)
			n += (size_t)snprintf(b + n, size - n, ",\"x\"");
		snprintf(b + n, size - n, "]}");
		assert_int_equal(parse(b, NULL), TW_E_INVALID);
		n = (size_t)snprintf(b, size, "{\"argv\":[\"gateway\",\"list\",\"");
		memset(b + n, 'a', AUTH_CMD_ARG_MAX + 1);
		n += AUTH_CMD_ARG_MAX + 1;
		snprintf(b + n, size - n, "\"]}");
		assert_int_equal(parse(b, NULL), TW_E_INVALID);
		free(b);
	}
	/* argv refused by auth_command_validate. */
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\",\"--home\",\"/x\"]}", NULL),
		TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"init\",\"--test-pki\"]}", NULL), TW_E_NOT_FOUND);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"submit\",\"--request=r\"]}", NULL),
		TW_E_INVALID);
	/* files: not an object, a value not a string, keys not an input-file argument. */
	static const char sub[] = "{\"argv\":[\"ca\",\"submit\",\"--request\",\"r.der\","
		"\"--note\",\"n\"],\"files\":";
	static const char *const bad_files[] = {
		"[\"Zm9v\"]}", "\"Zm9v\"}", "null}", "1}",
		"{\"3\":1}}", "{\"3\":null}}", "{\"3\":{}}}",
		"{\"2\":\"Zm9v\"}}",   /* the option itself */
		"{\"5\":\"Zm9v\"}}",   /* a non-file argument */
		"{\"4\":\"Zm9v\"}}",   /* another option */
		"{\"0\":\"Zm9v\"}}", "{\"1\":\"Zm9v\"}}",
		"{\"6\":\"Zm9v\"}}", "{\"7\":\"Zm9v\"}}", "{\"-1\":\"Zm9v\"}}",
		"{\"99999999999999999999\":\"Zm9v\"}}",
		"{\"x\":\"Zm9v\"}}", "{\"\":\"Zm9v\"}}", "{\"3x\":\"Zm9v\"}}",
		"{\"3.0\":\"Zm9v\"}}",
		"{\"3\":\"Zm9v\",\"5\":\"Zm9v\"}}",
	};
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char body[512];

		snprintf(body, sizeof(body), "%s%s", sub, bad_files[i]);
		if (parse(body, NULL) != TW_E_INVALID)
			fail_msg("accepted: %s", body);
	}
	/* An output file is never sent by the client. */
	assert_int_equal(parse("{\"argv\":[\"audit\",\"export\",\"--out\",\"x\"],"
		"\"files\":{\"3\":\"Zm9v\"}}", NULL), TW_E_INVALID);
	/* A command without file options takes no files. */
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\",\"x\",\"y\"],"
		"\"files\":{\"3\":\"Zm9v\"}}", NULL), TW_E_INVALID);
	/* why: a string or absent. */
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":1}", NULL),
		TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":null}", NULL),
		TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":[\"x\"]}", NULL),
		TW_E_INVALID);
	/* Duplicate keys, at the top and inside files. */
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"],\"argv\":[\"ca\",\"list\"]}",
		NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":\"a\","
		"\"why\":\"b\"}", NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"submit\",\"--request\",\"r\"],"
		"\"files\":{\"3\":\"Zm9v\",\"3\":\"YmFy\"}}", NULL), TW_E_INVALID);
}

/* The principal the api hands to the exec'ed command: opens only with the same data
 * key, for the same command line, before it expires, unaltered. */
static void test_sealed_principal(void **state)
{
	unsigned char k1[32], k2[32];
	struct secretbox *a = NULL, *b = NULL;
	struct auth_cmd_principal p, out;
	struct tw_error err;
	char *argv[] = { "/usr/bin/torwart", "gateway", "list", "--home", "/srv/h" };
	char *other[] = { "/usr/bin/torwart", "gateway", "list", "--home", "/srv/x" };
	char *sealed = NULL;
	int64_t now = 1700000000000;

	(void)state;
	memset(k1, 1, sizeof(k1));
	memset(k2, 2, sizeof(k2));
	assert_int_equal(secretbox_from_key(k1, &a, &err), TW_OK);
	assert_int_equal(secretbox_from_key(k2, &b, &err), TW_OK);
	memset(&p, 0, sizeof(p));
	snprintf(p.actor, sizeof(p.actor), "alice");
	snprintf(p.role, sizeof(p.role), "gateway-operator,approver");
	snprintf(p.client, sizeof(p.client), "127.0.0.1:4242");
	p.tenant_id = 7;
	p.fleet_max = 12;
	/* Without a nonce the sealed value is malformed (never single-use otherwise). */
	assert_int_equal(auth_command_seal_principal(a, &p, ARGC(argv), argv, now, &sealed, &err),
		TW_OK);
	assert_int_equal(auth_command_open_principal(a, sealed, ARGC(argv), argv, now, &out,
		&err), TW_E_DENIED);
	free(sealed);
	snprintf(p.nonce, sizeof(p.nonce), "00112233445566778899aabbccddeeff");
	assert_int_equal(auth_command_seal_principal(a, &p, ARGC(argv), argv, now, &sealed, &err),
		TW_OK);
	assert_int_equal(auth_command_open_principal(a, sealed, ARGC(argv), argv, now + 1000,
		&out, &err), TW_OK);
	assert_string_equal(out.actor, "alice");
	assert_string_equal(out.role, "gateway-operator,approver");
	assert_string_equal(out.client, "127.0.0.1:4242");
	assert_int_equal(out.tenant_id, 7);
	assert_int_equal(out.fleet_max, 12);
	assert_string_equal(out.nonce, "00112233445566778899aabbccddeeff");
	/* Another command line, too late, another key, one byte changed: all refused. */
	assert_int_equal(auth_command_open_principal(a, sealed, ARGC(other), other, now, &out,
		&err), TW_E_DENIED);
	assert_string_equal(out.actor, "");
	assert_int_equal(auth_command_open_principal(a, sealed, ARGC(argv), argv,
		now + AUTH_CMD_ACT_AS_TTL_MS + 1, &out, &err), TW_E_DENIED);
	assert_int_equal(auth_command_open_principal(b, sealed, ARGC(argv), argv, now, &out,
		&err), TW_E_DENIED);
	sealed[strlen(sealed) - 3] = sealed[strlen(sealed) - 3] == 'A' ? 'B' : 'A';
	assert_int_equal(auth_command_open_principal(a, sealed, ARGC(argv), argv, now, &out,
		&err), TW_E_DENIED);
	assert_int_equal(auth_command_open_principal(a, "not sealed", ARGC(argv), argv, now,
		&out, &err), TW_E_DENIED);
	free(sealed);
	secretbox_free(a);
	secretbox_free(b);
}

/* ---- f. THE argument parser (issue 9, defect 3) ---- */

/* Calls cb for every option of c's spec: name ("--x"), takes a value, names a path. */
static void spec_each(const struct auth_command *c,
	void (*cb)(const struct auth_command *, const char *, bool, bool))
{
	const char *p = c->options;

	assert_non_null(p);
	while (*p != '\0') {
		char name[64];
		bool path = false, value;
		size_t n;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (; *p == '/' || *p == '*'; p++)
			path |= *p == '/';
		n = strcspn(p, "= ");
		value = p[n] == '=';
		assert_true(n > 0 && n < 40);
		snprintf(name, sizeof(name), "--%.*s", (int)n, p);
		cb(c, name, value, path);
		p += n + (value ? 1 : 0);
	}
}

static bool spec_has(const struct auth_command *c, const char *name)
{
	return auth_command_knows(c, name, NULL, NULL);
}

static tw_rc parse_local(const struct auth_command *c, int argc, char **argv,
	struct auth_cmd_args *a)
{
	struct tw_error err;

	return auth_command_parse(c, argc, argv, AUTH_PARSE_HOME | AUTH_PARSE_PATHS, a, &err);
}

/* Every option of every command: exact once accepted, repeated and abbreviated refused,
 * locally and through the api alike. */
static void strict_one(const struct auth_command *c, const char *name, bool value, bool path)
{
	static struct auth_cmd_args a;
	char abbrev[64], eq[80];
	char *once[] = { (char *)c->command, (char *)c->sub, (char *)name, "v" };
	char *twice[] = { (char *)c->command, (char *)c->sub, (char *)name, "v", (char *)name,
		"w" };
	char *ab[] = { (char *)c->command, (char *)c->sub, abbrev, "v" };
	char *mixed[] = { (char *)c->command, (char *)c->sub, eq, (char *)name, "w" };
	int n = value ? 4 : 3;

	(void)path;
	assert_int_equal(parse_local(c, n, once, &a), TW_OK);
	assert_int_equal(a.count, 1);
	assert_string_equal(a.opt[0].name, name);
	if (value) {
		assert_string_equal(a.opt[0].value, "v");
		assert_int_equal(a.opt[0].value_index, 3);
	} else {
		assert_null(a.opt[0].value);
		assert_int_equal(a.opt[0].value_index, -1);
		assert_int_equal(a.npos, 0);
	}
	if (value && auth_command_repeatable(c, name)) {
		/* Collected by the command: every occurrence is read (and, for a file,
		 * uploaded), none is lost to "the last one wins". */
		assert_int_equal(parse_local(c, 6, twice, &a), TW_OK);
		assert_int_equal(a.count, 2);
		assert_int_equal(a.opt[1].value_index, 5);
	} else if (value) {
		assert_int_equal(parse_local(c, 6, twice, &a), TW_E_INVALID);
		snprintf(eq, sizeof(eq), "%s=v", name);
		assert_int_equal(parse_local(c, 5, mixed, &a), TW_E_INVALID);
	} else {
		char *t2[] = { (char *)c->command, (char *)c->sub, (char *)name, (char *)name };

		assert_int_equal(parse_local(c, 4, t2, &a), TW_E_INVALID);
		snprintf(eq, sizeof(eq), "%s=1", name);
		assert_int_equal(parse_local(c, 3, mixed, &a), TW_E_INVALID);   /* flag=value */
	}
	/* Every proper prefix of at least "--x" that is not itself an option is refused. */
	for (size_t len = 3; len < strlen(name); len++) {
		snprintf(abbrev, sizeof(abbrev), "%.*s", (int)len, name);
		if (spec_has(c, abbrev))
			continue;
		assert_int_equal(parse_local(c, 4, ab, &a), TW_E_INVALID);
	}
}

static void test_parser_strict(void **state)
{
	static struct auth_cmd_args a;
	const struct auth_command *c, *jc = auth_command_find("job", "create");
	struct tw_error err;

	(void)state;
	for (size_t i = 0; (c = auth_command_at(i)) != NULL; i++)
		spec_each(c, strict_one);
	/* Only collected file options repeat; never an option naming an object. */
	for (size_t i = 0; (c = auth_command_at(i)) != NULL; i++) {
		const char *objs[] = { c->gateway_option, c->gateway_alias, c->gateways_option,
			c->job_option, c->tenant_denied_option, c->upgrade_option, "--tag",
			"--tenant", "--home" };

		for (size_t k = 0; k < sizeof(objs) / sizeof(objs[0]); k++)
			assert_false(auth_command_repeatable(c, objs[k]));
	}
	assert_true(auth_command_repeatable(auth_command_find("ca", "check"), "--cert"));
	assert_true(auth_command_repeatable(auth_command_find("ca", "issue"), "--request"));
	/* The attacks of issue 9: each refused through the api. */
	{
		char *ta[] = { "job", "create", "--type", "ping", "--ta", "shared" };
		char *tenan[] = { "job", "create", "--type", "ping", "--tenan", "alpha" };
		char *tags[] = { "job", "create", "--type", "ping", "--tag", "nomatch", "--tag",
			"shared" };
		char *tags_eq[] = { "job", "create", "--type", "ping", "--tag=nomatch", "--tag",
			"shared" };
		char *alias[] = { "job", "create", "--type", "ping", "--gateway", "a",
			"--gateway-id", "b" };
		char *dashdash[] = { "job", "create", "--type", "ping", "--", "--tag", "x" };
		char *shortopt[] = { "job", "create", "--type", "ping", "-t", "x" };
		char *unknown[] = { "job", "create", "--type", "ping", "--bogus", "x" };
		char *flag_eq[] = { "job", "create", "--type", "ping", "--gateway", "a",
			"--wait=yes" };
		char *lastval[] = { "job", "create", "--type" };

		assert_int_equal(validate(ARGC(ta), ta, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(tenan), tenan, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(tags), tags, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(tags_eq), tags_eq, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(alias), alias, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(dashdash), dashdash, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(shortopt), shortopt, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(unknown), unknown, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(flag_eq), flag_eq, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(lastval), lastval, &c), TW_E_INVALID);
	}
	/* THE reading: a value that looks like an option is a value (as getopt_long takes
	 * it), positionals are positionals, "--x=V" has no value index. */
	{
		char *v[] = { "job", "create", "--payload", "--tag", "--type=ping", "extra",
			"--tenant", "alpha" };

		assert_int_equal(auth_command_parse(jc, ARGC(v), v, 0, &a, &err), TW_OK);
		assert_int_equal(a.count, 3);
		assert_string_equal(auth_cmd_args_value(&a, "--payload"), "--tag");
		assert_null(auth_cmd_args_get(&a, "--tag"));
		assert_string_equal(auth_cmd_args_value(&a, "--type"), "ping");
		assert_int_equal(auth_cmd_args_get(&a, "--type")->value_index, -1);
		assert_string_equal(auth_cmd_args_value(&a, "--tenant"), "alpha");
		assert_int_equal(auth_cmd_args_get(&a, "--tenant")->value_index, 7);
		assert_int_equal(a.npos, 1);
		assert_int_equal(a.pos[0], 5);
	}
	/* Free-text reasons and messages: one line, no control characters (as --why). */
	{
		char *esc[] = { "rollout", "cancel", "--id", "1", "--reason", "x\033[2K" };
		char *nl[] = { "alarm", "ack", "--id", "1", "--reason=on site\nstate: done" };
		char *msg[] = { "audit", "alert", "--kind", "job-timeout", "--message", "a\rb" };
		char *fine[] = { "alarm", "ack", "--id", "1", "--reason", "Techniker vor Ort" };

		c = auth_command_find("rollout", "cancel");
		assert_int_equal(auth_command_parse(c, ARGC(esc), esc, 0, &a, &err), TW_E_INVALID);
		c = auth_command_find("alarm", "ack");
		assert_int_equal(auth_command_parse(c, ARGC(nl), nl, 0, &a, &err), TW_E_INVALID);
		assert_int_equal(auth_command_parse(c, ARGC(fine), fine, 0, &a, &err), TW_OK);
		c = auth_command_find("audit", "alert");
		assert_int_equal(auth_command_parse(c, ARGC(msg), msg, 0, &a, &err), TW_E_INVALID);
	}
	/* --home: only locally (or in the api's own child). */
	{
		char *h[] = { "gateway", "list", "--home", "/srv/h" };

		c = auth_command_find("gateway", "list");
		assert_int_equal(auth_command_parse(c, ARGC(h), h, 0, &a, &err), TW_E_INVALID);
		assert_int_equal(auth_command_parse(c, ARGC(h), h, AUTH_PARSE_HOME, &a, &err),
			TW_OK);
	}
}

/* ---- g. files through the api (issue 9, defect 6) ---- */

/* Options of the command sources whose value names a file or directory. */
static const char *const path_options[] = {
	"--cert", "--export", "--out", "--verify", "--dir", "--request", "--request-dir",
	"--file", "--in",
	"--key-dir", "--tls-key", "--sig-key", "--enc-key", "--current-cert", "--current-key",
	"--gwa-cert", "--home", "--share", "--custodian-keys", "--share-key",
	"--signature", "--receipt", "--key-file", "--recipient",
};

static bool names_path(const char *name)
{
	for (size_t i = 0; i < sizeof(path_options) / sizeof(path_options[0]); i++) {
		if (strcmp(path_options[i], name) == 0)
			return true;
	}
	return false;
}

static void files_one(const struct auth_command *c, const char *name, bool value, bool path)
{
	const struct auth_command *out;
	char *v[] = { (char *)c->command, (char *)c->sub, (char *)name, "/etc/passwd" };
	bool declared = false;

	for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++)
		declared |= strcmp(c->files[f].option, name) == 0;
	if (strcmp(name, "--home") == 0)
		return;   /* refused on its own (test_validate) */
	/* The spec marks every path option as one (a new one must be classified). */
	if (names_path(name) != path)
		fail_msg("'%s %s' %s: names a path = %d in the spec, %d in the test", c->command,
			c->sub, name, path, names_path(name));
	if (!path || !value)
		return;
	/* Through the api a path option is uploaded/sent back (declared) or refused. */
	if (declared) {
		assert_int_equal(validate(ARGC(v), v, &out), TW_OK);
		assert_int_not_equal(auth_command_file_kind(c, ARGC(v), v, 3), 0);
	} else {
		if (validate(ARGC(v), v, &out) != TW_E_INVALID)
			fail_msg("'%s %s %s PATH' would make the api read or write a file of its own "
				"host", c->command, c->sub, name);
	}
}

/*
 * gateway initial-config through the api (issue 12, UC-3.3.6): --out comes back (a
 * file, or a directory for a batch), each --recipient is uploaded, --fetch takes a
 * request id, --receipt (a file of the api's host) is refused there, and its outputs are
 * handed over once (never kept for a retry).
 */
static void test_initial_config_options(void **state)
{
	const struct auth_command *c = auth_command_find("gateway", "initial-config"), *out;
	const struct auth_command *rc = auth_command_find("gateway", "initial-config-receipt");
	struct auth_cmd_args *a = malloc(sizeof(*a));
	struct tw_error err;
	char *one[] = { "gateway", "initial-config", "--gateway", "gw1", "--out", "gw1.cms",
		"--recipient", "integ.crt", "--recipient", "other.crt" };
	char *fetch[] = { "gateway", "initial-config", "--fetch", "7", "--out", "dir" };
	char *nofetch[] = { "gateway", "initial-config", "--fetch" };
	char *twice[] = { "gateway", "initial-config", "--fetch", "7", "--fetch", "8" };
	char *abbrev[] = { "gateway", "initial-config", "--fet", "7", "--out", "dir" };
	char *receipt[] = { "gateway", "initial-config", "--gateway", "gw1", "--receipt",
		"/etc/passwd" };
	char *rec_ok[] = { "gateway", "initial-config-receipt", "--receipt", "r.der" };

	(void)state;
	assert_non_null(a);
	assert_non_null(c);
	assert_non_null(rc);
	assert_true(c->outputs_once);
	assert_false(rc->outputs_once);
	assert_string_equal(c->four_eyes, "initial-config.batch");
	assert_int_equal(auth_command_parse(c, ARGC(one), one, 0, a, &err), TW_OK);
	assert_int_equal(validate(ARGC(one), one, &out), TW_OK);
	assert_ptr_equal(out, c);
	assert_int_equal(auth_command_file_kind(c, ARGC(one), one, 5), AUTH_CMD_FILE_OUT);
	assert_int_equal(auth_command_file_kind(c, ARGC(one), one, 7), AUTH_CMD_FILE_IN);
	assert_int_equal(auth_command_file_kind(c, ARGC(one), one, 9), AUTH_CMD_FILE_IN);
	assert_int_equal(auth_command_file_kind(c, ARGC(one), one, 3), 0);
	/* --fetch ID --out DIR: the value is a request id, no file. */
	assert_int_equal(auth_command_parse(c, ARGC(fetch), fetch, 0, a, &err), TW_OK);
	assert_string_equal(auth_cmd_args_value(a, "--fetch"), "7");
	assert_int_equal(auth_command_file_kind(c, ARGC(fetch), fetch, 3), 0);
	assert_int_equal(auth_command_file_kind(c, ARGC(fetch), fetch, 5), AUTH_CMD_FILE_OUT);
	assert_int_equal(auth_command_parse(c, ARGC(nofetch), nofetch, 0, a, &err),
		TW_E_INVALID);
	assert_int_equal(auth_command_parse(c, ARGC(twice), twice, 0, a, &err), TW_E_INVALID);
	assert_int_equal(auth_command_parse(c, ARGC(abbrev), abbrev, 0, a, &err),
		TW_E_INVALID);
	/* --receipt belongs to the receipt command: a path of the api's host here. */
	assert_int_equal(validate(ARGC(receipt), receipt, &out), TW_E_INVALID);
	assert_int_equal(validate(ARGC(rec_ok), rec_ok, &out), TW_OK);
	assert_int_equal(auth_command_file_kind(rc, ARGC(rec_ok), rec_ok, 3), AUTH_CMD_FILE_IN);
	free(a);
}

/*
 * ca issue --request-dir (issue 16): a directory of the host the command runs on, so
 * locally only; through the api (the client's check and the api's) it is refused like
 * any path option that is not uploaded, never read on the api's host. --request (the
 * files uploaded) is unchanged; the abbreviation --request-d is refused like any other.
 */
static void test_request_dir(void **state)
{
	const struct auth_command *c = auth_command_find("ca", "issue"), *out;
	struct auth_cmd_args *a = calloc(1, sizeof(*a));
	struct tw_error err;
	char *dir[] = { "ca", "issue", "--request-dir", "/var/lib/requests" };
	char *dir_eq[] = { "ca", "issue", "--request-dir=/var/lib/requests" };
	char *req[] = { "ca", "issue", "--request", "a.der" };
	char *abbrev[] = { "ca", "issue", "--request-d", "/var/lib/requests" };
	char *twice[] = { "ca", "issue", "--request-dir", "a", "--request-dir", "b" };

	(void)state;
	assert_non_null(a);
	assert_non_null(c);
	assert_int_equal(auth_command_parse(c, ARGC(dir), dir, 0, a, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "api's host"));
	assert_int_equal(auth_command_parse(c, ARGC(dir_eq), dir_eq, 0, a, &err), TW_E_INVALID);
	assert_int_equal(validate(ARGC(dir), dir, &out), TW_E_INVALID);
	assert_int_equal(auth_command_file_kind(c, ARGC(dir), dir, 3), 0);
	assert_int_equal(validate(ARGC(req), req, &out), TW_OK);
	/* Locally (the owner's own paths) it is an option like --request. */
	assert_int_equal(auth_command_parse(c, ARGC(dir), dir,
		AUTH_PARSE_HOME | AUTH_PARSE_PATHS, a, &err), TW_OK);
	assert_string_equal(auth_cmd_args_value(a, "--request-dir"), "/var/lib/requests");
	assert_int_equal(auth_command_parse(c, ARGC(abbrev), abbrev,
		AUTH_PARSE_HOME | AUTH_PARSE_PATHS, a, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "abbreviation"));
	assert_int_equal(auth_command_parse(c, ARGC(twice), twice,
		AUTH_PARSE_HOME | AUTH_PARSE_PATHS, a, &err), TW_E_INVALID);
	free(a);
}

static void test_files_complete(void **state)
{
	const struct auth_command *c;

	(void)state;
	for (size_t i = 0; (c = auth_command_at(i)) != NULL; i++) {
		spec_each(c, files_one);
		/* Every declared file is a path option of the command's table. */
		for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++) {
			bool value = false, path = false;

			if (!auth_command_knows(c, c->files[f].option, &value, &path) || !value ||
			    !path)
				fail_msg("'%s %s': file %s is no path option of its table", c->command,
					c->sub, c->files[f].option);
		}
	}
	/* The two reads of issue 9, now uploads. */
	c = auth_command_find("audit", "verify");
	assert_int_equal(c->files[0].kind, AUTH_CMD_FILE_IN);
	assert_string_equal(c->files[0].option, "--cert");
	{
		char *v[] = { "req", "authorise", "--in", "a", "--gwa-cert", "/etc/shadow" };

		c = auth_command_find("req", "authorise");
		assert_int_equal(auth_command_file_kind(c, ARGC(v), v, 5), AUTH_CMD_FILE_IN);
	}
	{
		char *crl[] = { "ca", "crl", "--out", "/etc/cron.d/x" };
		char *kd[] = { "req", "authorise", "--in", "a", "--key-dir", "/root" };

		assert_int_equal(validate(ARGC(crl), crl, &c), TW_E_INVALID);
		assert_int_equal(validate(ARGC(kd), kd, &c), TW_E_INVALID);
	}
}

/* ---- h. free text (issue 9, defect 4) ---- */

static void test_escape(void **state)
{
	char out[256], tiny[8];
	struct tw_error err;

	(void)state;
	auth_text_escape("ok\x1b[2K\r\nparams: [\"forged\"]", out, sizeof(out));
	assert_string_equal(out, "ok\\x1b[2K\\x0d\\x0aparams: [\"forged\"]");
	for (const char *p = out; *p != '\0'; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	assert_string_equal(auth_text_escape("a\\b", out, sizeof(out)), "a\\\\b");
	assert_string_equal(auth_text_escape("Zählerwechsel", out, sizeof(out)),
		"Zählerwechsel");
	assert_string_equal(auth_text_escape("x\xe2\x80\xaey", out, sizeof(out)), "x\\u{202e}y");
	assert_string_equal(auth_text_escape("\xc2\x9b" "31m", out, sizeof(out)), "\\x9b31m");
	assert_string_equal(auth_text_escape("\xff\xfe", out, sizeof(out)), "\\xff\\xfe");
	assert_string_equal(auth_text_escape(NULL, out, sizeof(out)), "");
	assert_string_equal(auth_text_escape("abcdefghij", tiny, sizeof(tiny)), "abcd...");
	assert_string_equal(auth_text_escape("\n\n\n", tiny, sizeof(tiny)), "\\x0a...");
	assert_int_equal(auth_text_check("replace meter 4711 (ticket #12)", "why", &err), TW_OK);
	assert_int_equal(auth_text_check("Zählerwechsel", "why", &err), TW_OK);
	assert_int_equal(auth_text_check("a\nparams: x", "why", &err), TW_E_INVALID);
	assert_int_equal(auth_text_check("\x1b[8mhidden", "why", &err), TW_E_INVALID);
	assert_int_equal(auth_text_check("tab\there", "why", &err), TW_E_INVALID);
	assert_int_equal(auth_text_check("bad \xff", "why", &err), TW_E_INVALID);
	assert_int_equal(auth_text_check("rtl \xe2\x80\xae", "why", &err), TW_E_INVALID);
	/* The api refuses such a reason in the body. */
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":\"a\\nb\"}", NULL),
		TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":\"\\u001b[2K\"}",
		NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"ca\",\"revoke\",\"0A\"],\"why\":\"ok\"}", NULL),
		TW_OK);
	/* Request ids: 8..64 of a safe alphabet. */
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"],\"request_id\":\"abcdef0123\"}",
		NULL), TW_OK);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"],\"request_id\":\"short\"}",
		NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"],\"request_id\":\"../../etc/x\"}",
		NULL), TW_E_INVALID);
	assert_int_equal(parse("{\"argv\":[\"gateway\",\"list\"],\"request_id\":7}", NULL),
		TW_E_INVALID);
}


/* A four-eyes request with a reason that would forge the approver's view: refused by
 * auth_approval_request itself (every path that stores one), nothing stored. */
static void test_reason_refused(void **state)
{
	struct fx *f = *state;
	struct auth_settings s;
	struct auth_principal p;
	struct tw_error err;
	json_t *params = json_pack("{s:[s,s,s]}", "argv", "ca", "revoke", "0A");
	int64_t id = 0;

	api_command_register_actions();
	assert_int_equal(auth_settings_load(NULL, &s, &err), TW_OK);
	principal(f, &p, AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER), "ra");
	assert_int_equal(auth_approval_request(f->st, &s, &p, f->tenant_a, "ca.revoke", params,
		"ok\n  params: {\"argv\":[\"ca\",\"list\"]}", &id, &err), TW_E_INVALID);
	assert_int_equal(id, 0);
	assert_int_equal(auth_approval_request(f->st, &s, &p, f->tenant_a, "ca.revoke", params,
		"\x1b[8mhidden", &id, &err), TW_E_INVALID);
	assert_int_equal(auth_approval_request(f->st, &s, &p, f->tenant_a, "ca.revoke", params,
		"key compromised on site", &id, &err), TW_OK);
	assert_true(id > 0);
	json_decref(params);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_doc_ops),
		cmocka_unit_test_setup_teardown(test_command_matrix, fx_setup, fx_teardown),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_sealed_principal),
		cmocka_unit_test(test_parser_strict),
		cmocka_unit_test(test_files_complete),
		cmocka_unit_test(test_request_dir),
		cmocka_unit_test(test_initial_config_options),
		cmocka_unit_test(test_escape),
		cmocka_unit_test_setup_teardown(test_reason_refused, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
