/*
 * command.c: the table of operator commands the api runs (see command.h) and the checks
 * of a forwarded argument vector. Pure data and string work: no store, no I/O, so the
 * policy matrix test can walk it completely.
 */
#include "auth/command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "crypto/secretbox.h"

#define IN(o)  { o, AUTH_CMD_FILE_IN }
#define OUT(o) { o, AUTH_CMD_FILE_OUT }
#define DIR(o) { o, AUTH_CMD_DIR_OUT }

/*
 * The getopt_long tables of the command sources, as option specs (command.h): "=" takes
 * a value, "/" names a path, "*" may be given several times (the command collects every
 * occurrence: ca check --cert, ca issue --request). tests/unit/check_option_specs.py compares each with its
 * source table, so an option added there and not here is refused, never misread.
 */
#define OPTS_ALARM /* src/cmd/cli_alarm.c alarm_parse */ \
	"home= id= gateway= reason= open"
#define OPTS_AUDIT /* src/cmd/cli_audit.c audit_parse */ \
	"home= /cert= /export= /out= upto= entry= tree-size= from= to= /verify= /dir= kind= " \
	"subject= message= repeat="
#define OPTS_CA /* src/cmd/cli_ca.c ca_parse */ \
	"home= name= org= role= mp-id= cn= email= gateway-id= device-serial= state= reason= " \
	"participant= */request= /request-dir= /out= ca= id= der timing */cert= at= k= n= /share= from= " \
	"/custodian-keys= /share-key= key= label="
#define OPTS_FIRMWARE /* src/cmd/cli_firmware.c fw_parse */ \
	"home= /file= model= version= id= reason= /signature= /receipt="
#define OPTS_ROLLOUT /* src/cmd/cli_rollout.c ro_parse */ \
	"home= name= image= gateways= tag= tenant= all groups= canary= success= error= " \
	"window= id= reason= state= watch"
#define OPTS_GATEWAY /* src/cmd/cli.c cli_parse_options */ \
	"home= id= /out= test-pki wan-listen= api-listen= api-tls-listen= signer-backend= system store="
#define OPTS_CONTEXT /* src/cmd/cli_context.c ctx_parse */ \
	"home= tenant= gateway= id= /cert= label= /out= /in= after= limit= url="
#define OPTS_GWA /* src/cmd/cli_gwa.c gwa_parse */ \
	"home= key= retire now force reason="
#define OPTS_INITIAL /* src/cmd/cli_initial.c initial_parse */ \
	"home= gateway= gateways= tag= tenant= */recipient= /out= /receipt= fetch="
#define OPTS_JOB /* src/cmd/cli_job.c job_parse */ \
	"home= type= payload= gateway= gateways= tag= tenant= state= id= batch= gateway-id= " \
	"timeout= attempts= retry-delay= limit= wait wait-timeout= add-tag= remove-tag= " \
	"wakeup= move-tenant="
#define OPTS_POLICY /* src/cmd/cli_policy.c cli_policy */ \
	"home= key= value="
#define OPTS_PROFILE /* src/cmd/cli_profile.c popts_parse */ \
	"home= gateway= id= profile= /file= emt= kind= fetch= no-job"
#define OPTS_PROFILE_REPUT /* src/cmd/cli_profile_reput.c reput_parse */ \
	"home= emt= /cert= meter= /key-file= key-ref= gateway= gateways= tag= tenant= apply"
#define OPTS_METERING /* src/cmd/cli_metering.c mt_parse */ \
	"home= emt= url= limit-ms="
#define OPTS_RENEWAL /* src/cmd/cli_renewal.c renewal_parse */ \
	"home= gateway= gateways= tag= tenant= state= id= limit= wait wait-timeout="
#define OPTS_REQ /* src/cmd/cli_req.c req_parse_options */ \
	"cn= org= ou= country= serial= street= postal-code= locality= state= email= uri= " \
	"dns= role= curve= /key-dir= /tls-key= /sig-key= /enc-key= types= /current-cert= " \
	"/current-key= /out= format= home= authorise /gwa-cert= gwa-key-label= " \
	"require-authorisation /in="

/*
 * Why these permissions: reads are open to the auditor (S-8) and the roles that work
 * with the object; inventory and orders to the gateway operator; certificates to the RA
 * officer (requests, decisions, revocation) and CA operator (CRLs, key activation), who
 * are never the same person (default exclusion ra-officer+ca-operator); the admin log to
 * auditor and security officer. Four-eyes actions follow AUTH_FOUR_EYES_MANDATORY.
 */
static const struct auth_command auth_commands[] = {
	/* Acknowledging takes an alarm over: the gateway operator's write (its tenant only:
	 * the command checks the alarm's gateway on the operator's scoped store). */
	{ .command = "alarm", .sub = "ack", .op = AUTH_OP_GATEWAY_ORDER,
	  .options = OPTS_ALARM },
	{ .command = "alarm", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway",
	  .options = OPTS_ALARM },
	{ .command = "audit", .sub = "alert", .op = AUTH_OP_AUDIT_ADMIN,
	  .options = OPTS_AUDIT },
	{ .command = "audit", .sub = "archive", .op = AUTH_OP_AUDIT_ADMIN,
	  .files = { DIR("--dir") },
	  .options = OPTS_AUDIT },
	{ .command = "audit", .sub = "export", .op = AUTH_OP_AUDIT_READ,
	  .files = { OUT("--out") },
	  .options = OPTS_AUDIT },
	{ .command = "audit", .sub = "head", .op = AUTH_OP_AUDIT_ADMIN,
	  .options = OPTS_AUDIT },
	{ .command = "audit", .sub = "proof", .op = AUTH_OP_AUDIT_READ,
	  .local_option = "--verify",
	  .options = OPTS_AUDIT },
	{ .command = "audit", .sub = "verify", .op = AUTH_OP_AUDIT_READ,
	  .local_option = "--export", .files = { IN("--cert") },
	  .options = OPTS_AUDIT },
	{ .command = "ca", .sub = "activate", .op = AUTH_OP_CA_OPERATE,
	  .four_eyes = "ca.key.activate",
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "approve", .op = AUTH_OP_CA_RA,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "check", .op = AUTH_OP_CA_READ, .files = { IN("--cert") },
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "crl", .op = AUTH_OP_CA_OPERATE,
	  .options = OPTS_CA },
	/* M-4.5.18: one custodian's key share, uploaded; the signer holds it in memory only. */
	{ .command = "ca", .sub = "custodian-share", .op = AUTH_OP_CA_CUSTODIAN,
	  .files = { IN("--share") },
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "deactivate", .op = AUTH_OP_CA_OPERATE,
	  .four_eyes = "ca.key.deactivate",
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "delivery-note", .op = AUTH_OP_CA_READ,
	  .files = { OUT("--out") }, .options = OPTS_CA },
	{ .command = "ca", .sub = "export", .op = AUTH_OP_CA_READ, .files = { OUT("--out") },
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "issue", .op = AUTH_OP_CA_RA, .files = { IN("--request") },
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "list", .op = AUTH_OP_CA_READ,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "participants", .op = AUTH_OP_CA_READ,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "register", .op = AUTH_OP_CA_RA,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "reject", .op = AUTH_OP_CA_RA,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "requests", .op = AUTH_OP_CA_READ,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "revoke", .op = AUTH_OP_CA_RA, .four_eyes = "ca.revoke",
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "show", .op = AUTH_OP_CA_READ,
	  .options = OPTS_CA },
	{ .command = "ca", .sub = "submit", .op = AUTH_OP_CA_RA, .files = { IN("--request") },
	  .options = OPTS_CA },
	{ .command = "firmware", .sub = "add", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .files = { IN("--file"), IN("--signature"), OUT("--receipt") },
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "certified", .op = AUTH_OP_FIRMWARE_READ,
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "check", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "downgrade", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .four_eyes = "firmware.downgrade",
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "import-list", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .files = { IN("--file") },
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "list", .op = AUTH_OP_FIRMWARE_READ,
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "release", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .four_eyes = "firmware.release",
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "show", .op = AUTH_OP_FIRMWARE_READ,
	  .options = OPTS_FIRMWARE },
	{ .command = "firmware", .sub = "withdraw", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_FIRMWARE },
	{ .command = "gateway", .sub = "add", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { DIR("--out") },
	  .options = OPTS_GATEWAY },
	/* The initial configuration file (docs/initial-config.md): the gateway administrator
	 * of the gateway's tenant; more than one gateway needs a second person's release,
	 * after which the requester fetches the files once (--fetch). */
	{ .command = "gateway", .sub = "initial-config", .op = AUTH_OP_GATEWAY_ADMIN,
	  .four_eyes = "initial-config.batch", .gateway_option = "--gateway",
	  .gateways_option = "--gateways", .files = { OUT("--out"), IN("--recipient") },
	  .outputs_once = true, .options = OPTS_INITIAL },
	{ .command = "gateway", .sub = "initial-config-receipt", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { IN("--receipt") }, .options = OPTS_INITIAL },
	{ .command = "gateway", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_GATEWAY },
	{ .command = "gateway", .sub = "logs", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--id", .gateway_alias = "--gateway", .upgrade_option = "--fetch",
	  .upgrade_op = AUTH_OP_GATEWAY_ORDER,
	  .options = OPTS_PROFILE },
	{ .command = "gateway", .sub = "show", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--id",
	  .options = OPTS_GATEWAY },
	/* The certificate-management context (S-8): the tenant's gateway administrators write,
	 * readers (auditor included) list; --tenant of another tenant is "not found". */
	{ .command = "context", .sub = "backup", .op = AUTH_OP_GATEWAY_READ,
	  .files = { OUT("--out") },
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "delete", .op = AUTH_OP_GATEWAY_ADMIN,
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "fetch", .op = AUTH_OP_GATEWAY_ADMIN,
	  .gateway_option = "--gateway",
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "import", .op = AUTH_OP_GATEWAY_ADMIN,
	  .gateway_option = "--gateway", .files = { IN("--cert") },
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway",
	  .options = OPTS_CONTEXT },
	/* The context's log: its members and its auditor (a tenant-scoped read). */
	{ .command = "context", .sub = "log", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "replace", .op = AUTH_OP_GATEWAY_ADMIN,
	  .gateway_option = "--gateway", .files = { IN("--cert") },
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "restore", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { IN("--in") },
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "trust-add", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { IN("--cert") },
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "trust-list", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "trust-remove", .op = AUTH_OP_GATEWAY_ADMIN,
	  .options = OPTS_CONTEXT },
	{ .command = "context", .sub = "validate", .op = AUTH_OP_GATEWAY_ADMIN,
	  .options = OPTS_CONTEXT },
	{ .command = "gateway", .sub = "selftest", .op = AUTH_OP_GATEWAY_ORDER,
	  .gateway_option = "--id", .gateway_alias = "--gateway",
	  .options = OPTS_PROFILE },
	{ .command = "gateway", .sub = "set", .op = AUTH_OP_GATEWAY_ADMIN,
	  .gateway_option = "--gateway", .gateway_alias = "--gateway-id",
	  .gateways_option = "--gateways",
	  .tenant_denied_option = "--move-tenant",
	  .options = OPTS_JOB },
	{ .command = "gateway", .sub = "renew", .op = AUTH_OP_GATEWAY_ORDER,
	  .four_eyes = "fleet.order", .gateway_option = "--gateway",
	  .gateways_option = "--gateways",
	  .options = OPTS_RENEWAL },
	{ .command = "gateway", .sub = "crl-push", .op = AUTH_OP_GATEWAY_ORDER,
	  .four_eyes = "fleet.order", .gateway_option = "--gateway",
	  .gateways_option = "--gateways",
	  .options = OPTS_RENEWAL },
	/* The GWA's own TLS identity: the CA operator (it is issued by the Sub-CA key). */
	/* --key rotates a key in the signer: root or the signer's user on its host only. */
	{ .command = "gwa", .sub = "renew", .op = AUTH_OP_CA_OPERATE, .local_option = "--key",
	  .options = OPTS_GWA },
	{ .command = "job", .sub = "batches", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_JOB },
	{ .command = "job", .sub = "cancel", .op = AUTH_OP_GATEWAY_ORDER,
	  .job_option = "--id",
	  .options = OPTS_JOB },
	{ .command = "job", .sub = "create", .op = AUTH_OP_GATEWAY_ORDER,
	  .four_eyes = "fleet.order", .gateway_option = "--gateway",
	  .gateway_alias = "--gateway-id", .gateways_option = "--gateways",
	  .options = OPTS_JOB },
	{ .command = "job", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--gateway-id",
	  .options = OPTS_JOB },
	{ .command = "job", .sub = "show", .op = AUTH_OP_GATEWAY_READ, .job_option = "--id",
	  .options = OPTS_JOB },
	{ .command = "job", .sub = "wait", .op = AUTH_OP_GATEWAY_READ, .job_option = "--id",
	  .options = OPTS_JOB },
	{ .command = "renewal", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway",
	  .options = OPTS_RENEWAL },
	{ .command = "renewal", .sub = "show", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_RENEWAL },
	{ .command = "renewal", .sub = "wait", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_RENEWAL },
	{ .command = "policy", .sub = "set", .op = AUTH_OP_POLICY_CHANGE,
	  .four_eyes = "policy.change",
	  .options = OPTS_POLICY },
	{ .command = "policy", .sub = "show", .op = AUTH_OP_POLICY_READ,
	  .options = OPTS_POLICY },
	{ .command = "profile", .sub = "authorise-emt", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "check", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id", .files = { IN("--file") },
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "delete", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "drift", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "emts", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "put", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id", .files = { IN("--file") },
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "read", .op = AUTH_OP_GATEWAY_ORDER,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	/* EMT/meter key change (issue 12): a fleet of profile-insert orders with --apply. */
	{ .command = "profile", .sub = "reput", .op = AUTH_OP_PROFILE_WRITE,
	  .four_eyes = "fleet.order", .gateway_option = "--gateway",
	  .gateways_option = "--gateways", .files = { IN("--cert"), IN("--key-file") },
	  .options = OPTS_PROFILE_REPUT },
	{ .command = "profile", .sub = "revoke-emt", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "profile", .sub = "show", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id",
	  .options = OPTS_PROFILE },
	{ .command = "req", .sub = "authorise", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { IN("--in"), OUT("--out"), IN("--gwa-cert") },
	  .options = OPTS_REQ },
	{ .command = "rollout", .sub = "approve", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .four_eyes = "rollout.start",
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "cancel", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "create", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "list", .op = AUTH_OP_FIRMWARE_READ,
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "pause", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "resume", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .options = OPTS_ROLLOUT },
	{ .command = "rollout", .sub = "show", .op = AUTH_OP_FIRMWARE_READ,
	  .options = OPTS_ROLLOUT },
};

/*
 * Commands the api does not offer but whose options the one parser still reads before
 * getopt_long does (cli_check_args, local --home use): abbreviations and repeated options
 * are refused there as everywhere. Never found by auth_command_find, so never run by the
 * api. .op is not consulted for these.
 */
static const struct auth_command auth_local_commands[] = {
	{ .command = "metering", .sub = "endpoint", .op = AUTH_OP_GATEWAY_ORDER,
	  .options = OPTS_METERING },
	{ .command = "metering", .sub = "status", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_METERING },
	{ .command = "time", .sub = "check", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_METERING },
	{ .command = "time", .sub = "status", .op = AUTH_OP_GATEWAY_READ,
	  .options = OPTS_METERING },
};

#undef IN
#undef OUT
#undef DIR

#define AUTH_COMMAND_COUNT (sizeof(auth_commands) / sizeof(auth_commands[0]))

const struct auth_command *auth_local_command_find(const char *command, const char *sub)
{
	if (command == NULL || sub == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(auth_local_commands) / sizeof(auth_local_commands[0]);
	     i++) {
		if (strcmp(auth_local_commands[i].command, command) == 0 &&
		    strcmp(auth_local_commands[i].sub, sub) == 0)
			return &auth_local_commands[i];
	}
	return NULL;
}

const struct auth_command *auth_command_find(const char *command, const char *sub)
{
	if (command == NULL || sub == NULL)
		return NULL;
	for (size_t i = 0; i < AUTH_COMMAND_COUNT; i++) {
		if (strcmp(auth_commands[i].command, command) == 0 &&
		    strcmp(auth_commands[i].sub, sub) == 0)
			return &auth_commands[i];
	}
	return NULL;
}

const struct auth_command *auth_command_at(size_t i)
{
	return i < AUTH_COMMAND_COUNT ? &auth_commands[i] : NULL;
}

const char *auth_command_option(int argc, char *const *argv, const char *option,
	int *index)
{
	size_t n = option != NULL ? strlen(option) : 0;

	if (index != NULL)
		*index = -1;
	if (n == 0)
		return NULL;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], option, n) != 0)
			continue;
		if (argv[i][n] == '=')
			return argv[i] + n + 1;
		if (argv[i][n] == '\0' && i + 1 < argc) {
			if (index != NULL)
				*index = i + 1;
			return argv[i + 1];
		}
	}
	return NULL;
}

bool auth_command_has(int argc, char *const *argv, const char *option)
{
	size_t n = option != NULL ? strlen(option) : 0;

	for (int i = 0; n > 0 && i < argc; i++) {
		if (strncmp(argv[i], option, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
			return true;
	}
	return false;
}

enum auth_op auth_command_op(const struct auth_command *c, int argc, char *const *argv)
{
	struct auth_cmd_args *args = malloc(sizeof(*args));
	struct tw_error ignore;
	bool upgrade = false;

	if (c->upgrade_option == NULL) {
		free(args);
		return c->op;
	}
	/* Unparsable vectors are refused anyway; read them the stricter way. */
	if (args != NULL && auth_command_parse(c, argc, argv, AUTH_PARSE_HOME |
	    AUTH_PARSE_PATHS, args, &ignore) == TW_OK)
		upgrade = auth_cmd_args_get(args, c->upgrade_option) != NULL;
	else
		upgrade = auth_command_has(argc, argv, c->upgrade_option);
	free(args);
	return upgrade ? c->upgrade_op : c->op;
}

enum auth_cmd_file_kind auth_command_file_kind(const struct auth_command *c, int argc,
	char *const *argv, int index)
{
	struct auth_cmd_args *args;
	struct tw_error ignore;
	enum auth_cmd_file_kind kind = 0;

	if (c == NULL || index < 1 || index >= argc || (args = malloc(sizeof(*args))) == NULL)
		return 0;
	/* A file is the value of a file option in THE reading of argv, nothing else. */
	if (auth_command_parse(c, argc, argv, AUTH_PARSE_HOME, args, &ignore) == TW_OK) {
		for (int k = 0; k < args->count; k++) {
			if (args->opt[k].value_index != index)
				continue;
			for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++) {
				if (strcmp(args->opt[k].name, c->files[f].option) == 0)
					kind = c->files[f].kind;
			}
		}
	}
	free(args);
	return kind;
}

/* ---- the one reading of an argument vector ---- */

/*
 * Find option name (without "--", len bytes) in spec. *value / *path say how it is
 * declared. *prefix_of (may be NULL) receives a spec name that name abbreviates.
 */
static bool spec_find(const char *spec, const char *name, size_t len, bool *value,
	bool *path, bool *repeat, const char **prefix_of, size_t *prefix_len)
{
	const char *p = spec;

	if (prefix_of != NULL)
		*prefix_of = NULL;
	while (p != NULL && *p != '\0') {
		size_t n;
		bool is_path = false, takes = false, many = false;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (; *p == '/' || *p == '*'; p++) {
			is_path |= *p == '/';
			many |= *p == '*';
		}
		n = strcspn(p, "= ");
		takes = p[n] == '=';
		if (n == len && strncmp(p, name, len) == 0) {
			if (value != NULL)
				*value = takes;
			if (path != NULL)
				*path = is_path;
			if (repeat != NULL)
				*repeat = many;
			return true;
		}
		if (prefix_of != NULL && *prefix_of == NULL && n > len &&
		    strncmp(p, name, len) == 0) {
			*prefix_of = p;
			*prefix_len = n;
		}
		p += n + (takes ? 1 : 0);
	}
	return false;
}

bool auth_command_knows(const struct auth_command *c, const char *option, bool *value,
	bool *path)
{
	if (c == NULL || c->options == NULL || option == NULL || strncmp(option, "--", 2) != 0)
		return false;
	return spec_find(c->options, option + 2, strlen(option + 2), value, path, NULL, NULL,
		NULL);
}

bool auth_command_repeatable(const struct auth_command *c, const char *option)
{
	bool repeat = false;

	if (c == NULL || c->options == NULL || option == NULL || strncmp(option, "--", 2) != 0)
		return false;
	return spec_find(c->options, option + 2, strlen(option + 2), NULL, NULL, &repeat,
		NULL, NULL) && repeat;
}

/* Whether option is one of c's declared files (uploaded or sent back). */
static bool cmd_is_file(const struct auth_command *c, const char *option)
{
	for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++) {
		if (strcmp(c->files[f].option, option) == 0)
			return true;
	}
	return false;
}

/* Whether options a and b are one option spelled twice (the gateway alias). */
static bool cmd_same_option(const struct auth_command *c, const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return true;
	return c->gateway_option != NULL && c->gateway_alias != NULL &&
		((strcmp(a, c->gateway_option) == 0 && strcmp(b, c->gateway_alias) == 0) ||
		 (strcmp(b, c->gateway_option) == 0 && strcmp(a, c->gateway_alias) == 0));
}

tw_rc auth_command_parse(const struct auth_command *c, int argc, char *const *argv,
	unsigned flags, struct auth_cmd_args *out, struct tw_error *err)
{
	memset(out, 0, sizeof(*out));
	out->cmd = c;
	if (c == NULL || c->options == NULL)
		return tw_error_set(err, TW_E_INVALID, "no option table for this command");
	if (argc < 2 || argc > AUTH_CMD_ARGS_MAX)
		return tw_error_set(err, TW_E_INVALID, "a command needs 2 to %d arguments, got %d",
			AUTH_CMD_ARGS_MAX, argc);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *eq, *prefix = NULL;
		struct auth_cmd_opt *o;
		size_t len, plen = 0;
		bool value = false, path = false, repeat = false;

		if (a == NULL)
			return tw_error_set(err, TW_E_INVALID, "argument %d is missing", i);
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			out->pos[out->npos++] = i;
			continue;
		}
		if (strcmp(a, "--") == 0)
			return tw_error_set(err, TW_E_INVALID, "\"--\" is not accepted: give values "
				"that start with '-' as --option=VALUE");
		if (a[1] != '-')
			return tw_error_set(err, TW_E_INVALID, "%.64s: there are no short options; "
				"write the option in full", a);
		eq = strchr(a + 2, '=');
		len = eq != NULL ? (size_t)(eq - (a + 2)) : strlen(a + 2);
		if (len == 0 || len > AUTH_CMD_OPT_NAME_MAX ||
		    !spec_find(c->options, a + 2, len, &value, &path, &repeat, &prefix, &plen)) {
			if (len > 0 && prefix != NULL)
				return tw_error_set(err, TW_E_INVALID, "write the option --%.*s in full "
					"(--%.*s is an abbreviation, which is not accepted)", (int)plen,
					prefix, (int)len, a + 2);
			return tw_error_set(err, TW_E_INVALID, "'%s %s' has no option %.64s",
				c->command, c->sub, a);
		}
		o = &out->opt[out->count];
		snprintf(o->name, sizeof(o->name), "--%.*s", (int)len, a + 2);
		for (int k = 0; !repeat && k < out->count; k++) {
			if (cmd_same_option(c, out->opt[k].name, o->name))
				return tw_error_set(err, TW_E_INVALID, "%s is given more than once "
					"(as %s and %s): give it once", o->name, out->opt[k].name, o->name);
		}
		if (strcmp(o->name, "--home") == 0 && !(flags & AUTH_PARSE_HOME))
			return tw_error_set(err, TW_E_INVALID, "--home is not allowed through the "
				"api: commands act on the api's own home");
		if (path && !(flags & AUTH_PARSE_PATHS) && !cmd_is_file(c, o->name) &&
		    (c->local_option == NULL || strcmp(c->local_option, o->name) != 0))
			return tw_error_set(err, TW_E_INVALID, "%s names a file on the api's host, "
				"which '%s %s' cannot use through the api (run it locally with "
				"--home)", o->name, c->command, c->sub);
		o->index = i;
		o->path = path;
		o->value_index = -1;
		if (!value) {
			if (eq != NULL)
				return tw_error_set(err, TW_E_INVALID, "%s takes no value", o->name);
		} else if (eq != NULL) {
			if (path && cmd_is_file(c, o->name))
				return tw_error_set(err, TW_E_INVALID, "give %s and its file as two "
					"arguments", o->name);
			o->value = eq + 1;
		} else {
			if (i + 1 >= argc || argv[i + 1] == NULL)
				return tw_error_set(err, TW_E_INVALID, "%s needs a %s", o->name,
					path ? "file" : "value");
			o->value_index = ++i;
			o->value = argv[i];
		}
		/* Free text that ends up in the admin log, alerts and listings (a rollout's or an
		 * acknowledgement's reason, an alert's message): one line without control
		 * characters, like --why; the listings printed some of it raw. */
		if (o->value != NULL && (strcmp(o->name, "--reason") == 0 ||
		    strcmp(o->name, "--message") == 0)) {
			tw_rc rc = auth_text_check(o->value, o->name, err);

			if (rc != TW_OK)
				return rc;
		}
		out->count++;
	}
	return TW_OK;
}

const struct auth_cmd_opt *auth_cmd_args_get(const struct auth_cmd_args *a,
	const char *option)
{
	for (int i = 0; option != NULL && i < a->count; i++) {
		if (strcmp(a->opt[i].name, option) == 0)
			return &a->opt[i];
	}
	return NULL;
}

const char *auth_cmd_args_value(const struct auth_cmd_args *a, const char *option)
{
	const struct auth_cmd_opt *o = auth_cmd_args_get(a, option);

	return o != NULL ? o->value : NULL;
}

/* ---- free text ---- */

/* Length of the valid UTF-8 sequence at s (1..4), its code point in *cp; 0 if invalid. */
static size_t utf8_one(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
	    (n == 4 && (v < 0x10000 || v > 0x10ffff)))
		return 0;
	*cp = v;
	return n;
}

/* Code points that change how a terminal shows the text around them. */
static bool cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
		cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
		(cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f ||
		cp == 0x061c;
}

/* The escaped form of the character at s (piece, NUL-terminated); its length in bytes. */
static size_t escape_one(const unsigned char *s, char piece[16])
{
	uint32_t cp = 0;
	size_t n = utf8_one(s, &cp);

	if (n == 0) {
		snprintf(piece, 16, "\\x%02x", s[0]);
		n = 1;
	} else if (cp == '\\') {
		snprintf(piece, 16, "\\\\");
	} else if (cp_unsafe(cp)) {
		if (cp < 0x100)
			snprintf(piece, 16, "\\x%02x", (unsigned)cp);
		else
			snprintf(piece, 16, "\\u{%04x}", (unsigned)cp);
	} else {
		memcpy(piece, s, n);
		piece[n] = '\0';
	}
	return n;
}

char *auth_text_escape(const char *text, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)(text != NULL ? text : "");
	size_t used = 0, full = 0, limit;
	char piece[16];

	if (size == 0)
		return out;
	for (const unsigned char *p = s; *p != '\0'; ) {
		p += escape_one(p, piece);
		full += strlen(piece);
	}
	/* Too long: cut on a character boundary and mark the cut with "...". */
	limit = full < size ? full : (size > 4 ? size - 4 : 0);
	while (*s != '\0') {
		size_t n = escape_one(s, piece), plen = strlen(piece);

		if (used + plen > limit)
			break;
		memcpy(out + used, piece, plen);
		used += plen;
		s += n;
	}
	if (full >= size && size > 4) {
		memcpy(out + used, "...", 3);
		used += 3;
	}
	out[used] = '\0';
	return out;
}

tw_rc auth_command_spool_share_aad(const char *path, char *aad, size_t size,
	struct tw_error *err)
{
	const char *file = strrchr(path, '/'), *dir = NULL;
	int n;

	/* The last two components: the working directory's name and the file's. */
	for (const char *p = path; file != NULL && p < file; p++)
		if (*p == '/')
			dir = p;
	if (file == NULL || dir == NULL || file[1] == '\0')
		return tw_error_set(err, TW_E_INVALID, "%s is not a file of the api's spool", path);
	n = snprintf(aad, size, AUTH_CMD_SHARE_AAD "%s", dir + 1);
	if (n < 0 || (size_t)n >= size)
		return tw_error_set(err, TW_E_INVALID, "spool path %s is too long", path);
	return TW_OK;
}

tw_rc auth_text_check(const char *text, const char *what, struct tw_error *err)
{
	const unsigned char *s = (const unsigned char *)(text != NULL ? text : "");
	size_t at = 0;

	while (s[at] != '\0') {
		uint32_t cp = 0;
		size_t n = utf8_one(s + at, &cp);

		if (n == 0)
			return tw_error_set(err, TW_E_INVALID, "%s is not valid UTF-8 (byte %zu)",
				what, at);
		if (cp_unsafe(cp))
			return tw_error_set(err, TW_E_INVALID, "%s holds a control character "
				"(U+%04X at byte %zu): write it on one line, without escape sequences",
				what, (unsigned)cp, at);
		at += n;
	}
	return TW_OK;
}

tw_rc auth_command_validate(int argc, char *const *argv, const struct auth_command **out,
	struct tw_error *err)
{
	const struct auth_command *c;
	struct auth_cmd_args *args = NULL;
	tw_rc rc;

	*out = NULL;
	if (argc < 2 || argc > AUTH_CMD_ARGS_MAX)
		return tw_error_set(err, TW_E_INVALID, "a command needs 2 to %d arguments, got %d",
			AUTH_CMD_ARGS_MAX, argc);
	for (int i = 0; i < argc; i++) {
		if (argv[i] == NULL || strnlen(argv[i], AUTH_CMD_ARG_MAX + 1) > AUTH_CMD_ARG_MAX)
			return tw_error_set(err, TW_E_INVALID, "argument %d is missing or over %d "
				"bytes", i, AUTH_CMD_ARG_MAX);
	}
	if ((c = auth_command_find(argv[0], argv[1])) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "'%.64s %.64s' cannot be run through the "
			"api (see docs/security.md for the commands that can)", argv[0], argv[1]);
	if ((args = malloc(sizeof(*args))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = auth_command_parse(c, argc, argv, 0, args, err)) == TW_OK &&
	    c->local_option != NULL && auth_cmd_args_get(args, c->local_option) != NULL)
		rc = tw_error_set(err, TW_E_INVALID, "'%s %s %s' works offline: run it without "
			"the api", c->command, c->sub, c->local_option);
	free(args);
	if (rc == TW_OK)
		*out = c;
	return rc;
}

tw_rc auth_b64_encode(const unsigned char *data, size_t len, char **out,
	struct tw_error *err)
{
	size_t n;

	*out = NULL;
	if (len > AUTH_CMD_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "over %d bytes to encode",
			AUTH_CMD_BODY_MAX);
	n = 4 * ((len + 2) / 3);
	if ((*out = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (len > 0)
		EVP_EncodeBlock((unsigned char *)*out, data, (int)len);
	(*out)[n] = '\0';
	return TW_OK;
}

tw_rc auth_b64_decode(const char *text, size_t text_len, unsigned char **out, size_t *len,
	struct tw_error *err)
{
	size_t pad = 0;
	int n;

	*out = NULL;
	*len = 0;
	if (text_len % 4 != 0 || text_len > (size_t)AUTH_CMD_BODY_MAX)
		return tw_error_set(err, TW_E_INVALID, "not base64 (length %zu)", text_len);
	for (size_t i = 0; i < text_len; i++) {
		unsigned char ch = (unsigned char)text[i];
		bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			(ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
			(ch == '=' && i >= text_len - 2);

		if (!ok)
			return tw_error_set(err, TW_E_INVALID, "not base64 (byte %zu)", i);
	}
	if (text_len >= 1 && text[text_len - 1] == '=')
		pad++;
	if (text_len >= 2 && text[text_len - 2] == '=')
		pad++;
	if (text_len >= 2 && text[text_len - 2] == '=' && text[text_len - 1] != '=')
		return tw_error_set(err, TW_E_INVALID, "not base64 (padding)");
	if ((*out = malloc(text_len / 4 * 3 + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (text_len == 0)
		return TW_OK;
	if ((n = EVP_DecodeBlock(*out, (const unsigned char *)text, (int)text_len)) < 0 ||
	    (size_t)n < pad) {
		free(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INVALID, "not base64");
	}
	*len = (size_t)n - pad;
	return TW_OK;
}

/* SHA-256 over the argument vector (each argument with its terminating NUL), hex. */
static void cmd_argv_digest(int argc, char *const *argv, char hex[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(md, 0, sizeof(md));
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		for (int i = 0; i < argc; i++)
			EVP_DigestUpdate(ctx, argv[i], strlen(argv[i]) + 1);
		EVP_DigestFinal_ex(ctx, md, &n);
	}
	EVP_MD_CTX_free(ctx);
	tw_hex_encode(md, sizeof(md), hex);
}

#define CMD_ACT_AS_AAD "torwart-api-command-principal"

tw_rc auth_command_seal_principal(const struct secretbox *sb,
	const struct auth_cmd_principal *p, int argc, char *const *argv, int64_t now_ms,
	char **out, struct tw_error *err)
{
	char digest[65];
	char *text;
	json_t *j;
	tw_rc rc;

	*out = NULL;
	cmd_argv_digest(argc, argv, digest);
	j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:I,s:s}", "actor", p->actor, "role", p->role,
		"client", p->client, "tenant", (json_int_t)p->tenant_id, "argv", digest,
		"expires_ms", (json_int_t)(now_ms + AUTH_CMD_ACT_AS_TTL_MS), "fleet_max",
		(json_int_t)p->fleet_max, "nonce", p->nonce);
	text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = secretbox_seal(sb, CMD_ACT_AS_AAD, text, strlen(text), out, err);
	free(text);
	return rc;
}

tw_rc auth_command_open_principal(const struct secretbox *sb, const char *sealed, int argc,
	char *const *argv, int64_t now_ms, struct auth_cmd_principal *out,
	struct tw_error *err)
{
	char digest[65], *plain = NULL;
	const char *actor, *role, *client, *hash, *nonce;
	size_t len = 0;
	json_t *j = NULL;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = secretbox_unseal(sb, CMD_ACT_AS_AAD, sealed, &plain, &len, err)) != TW_OK)
		return tw_error_set(err, TW_E_DENIED, "%s does not open with this home's data key",
			AUTH_CMD_ACT_AS_ENV);
	j = json_loadb(plain, len, JSON_REJECT_DUPLICATES, NULL);
	tw_wipe(plain, len);
	free(plain);
	actor = json_string_value(json_object_get(j, "actor"));
	role = json_string_value(json_object_get(j, "role"));
	client = json_string_value(json_object_get(j, "client"));
	hash = json_string_value(json_object_get(j, "argv"));
	nonce = json_string_value(json_object_get(j, "nonce"));
	cmd_argv_digest(argc, argv, digest);
	if (actor == NULL || role == NULL || client == NULL || hash == NULL || nonce == NULL ||
	    strlen(nonce) != 32 || strspn(nonce, "0123456789abcdef") != 32 ||
	    !json_is_integer(json_object_get(j, "fleet_max")) ||
	    !json_is_integer(json_object_get(j, "tenant")) ||
	    !json_is_integer(json_object_get(j, "expires_ms"))) {
		rc = tw_error_set(err, TW_E_DENIED, "%s is malformed", AUTH_CMD_ACT_AS_ENV);
	} else if (strcmp(hash, digest) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "%s was sealed for another command line",
			AUTH_CMD_ACT_AS_ENV);
	} else if (json_integer_value(json_object_get(j, "expires_ms")) < now_ms) {
		rc = tw_error_set(err, TW_E_DENIED, "%s has expired", AUTH_CMD_ACT_AS_ENV);
	} else if ((rc = tw_strlcpy_checked(out->actor, actor, sizeof(out->actor), err,
		"actor")) == TW_OK && (rc = tw_strlcpy_checked(out->role, role, sizeof(out->role),
		err, "role")) == TW_OK && (rc = tw_strlcpy_checked(out->client, client,
		sizeof(out->client), err, "client")) == TW_OK) {
		out->tenant_id = (int64_t)json_integer_value(json_object_get(j, "tenant"));
		out->fleet_max = (int64_t)json_integer_value(json_object_get(j, "fleet_max"));
		memcpy(out->nonce, nonce, 33);
	}
	json_decref(j);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
