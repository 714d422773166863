/*
 * command.c: the table of operator commands the api runs (see command.h) and the checks
 * of a forwarded argument vector. Pure data and string work: no store, no I/O, so the
 * policy matrix test can walk it completely.
 */
#include "auth/command.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "gwa/secretbox.h"

#define IN(o)  { o, AUTH_CMD_FILE_IN }
#define OUT(o) { o, AUTH_CMD_FILE_OUT }
#define DIR(o) { o, AUTH_CMD_DIR_OUT }

/*
 * Why these permissions: reads are open to the auditor (S-8) and the roles that work
 * with the object; inventory and orders to the gateway operator; certificates to the RA
 * officer (requests, decisions, revocation) and CA operator (CRLs, key activation), who
 * are never the same person (default exclusion ra-officer+ca-operator); the admin log to
 * auditor and security officer. Four-eyes actions follow AUTH_FOUR_EYES_MANDATORY.
 */
static const struct auth_command auth_commands[] = {
	{ .command = "audit", .sub = "alert", .op = AUTH_OP_AUDIT_ADMIN },
	{ .command = "audit", .sub = "archive", .op = AUTH_OP_AUDIT_ADMIN,
	  .files = { DIR("--dir") } },
	{ .command = "audit", .sub = "export", .op = AUTH_OP_AUDIT_READ,
	  .files = { OUT("--out") } },
	{ .command = "audit", .sub = "head", .op = AUTH_OP_AUDIT_ADMIN },
	{ .command = "audit", .sub = "proof", .op = AUTH_OP_AUDIT_READ,
	  .local_option = "--verify" },
	{ .command = "audit", .sub = "verify", .op = AUTH_OP_AUDIT_READ,
	  .local_option = "--export" },
	{ .command = "ca", .sub = "activate", .op = AUTH_OP_CA_OPERATE,
	  .four_eyes = "ca.key.activate" },
	{ .command = "ca", .sub = "approve", .op = AUTH_OP_CA_RA },
	{ .command = "ca", .sub = "check", .op = AUTH_OP_CA_READ, .files = { IN("--cert") } },
	{ .command = "ca", .sub = "crl", .op = AUTH_OP_CA_OPERATE },
	/* M-4.5.18: one custodian's key share, uploaded; the signer holds it in memory only. */
	{ .command = "ca", .sub = "custodian-share", .op = AUTH_OP_CA_CUSTODIAN,
	  .files = { IN("--share") } },
	{ .command = "ca", .sub = "deactivate", .op = AUTH_OP_CA_OPERATE,
	  .four_eyes = "ca.key.deactivate" },
	{ .command = "ca", .sub = "export", .op = AUTH_OP_CA_READ, .files = { OUT("--out") } },
	{ .command = "ca", .sub = "issue", .op = AUTH_OP_CA_RA, .files = { IN("--request") } },
	{ .command = "ca", .sub = "list", .op = AUTH_OP_CA_READ },
	{ .command = "ca", .sub = "participants", .op = AUTH_OP_CA_READ },
	{ .command = "ca", .sub = "register", .op = AUTH_OP_CA_RA },
	{ .command = "ca", .sub = "reject", .op = AUTH_OP_CA_RA },
	{ .command = "ca", .sub = "requests", .op = AUTH_OP_CA_READ },
	{ .command = "ca", .sub = "revoke", .op = AUTH_OP_CA_RA, .four_eyes = "ca.revoke" },
	{ .command = "ca", .sub = "show", .op = AUTH_OP_CA_READ },
	{ .command = "ca", .sub = "submit", .op = AUTH_OP_CA_RA, .files = { IN("--request") } },
	{ .command = "firmware", .sub = "add", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .files = { IN("--file") } },
	{ .command = "firmware", .sub = "list", .op = AUTH_OP_FIRMWARE_READ },
	{ .command = "firmware", .sub = "release", .op = AUTH_OP_FIRMWARE_MANAGE,
	  .four_eyes = "firmware.release" },
	{ .command = "firmware", .sub = "show", .op = AUTH_OP_FIRMWARE_READ },
	{ .command = "firmware", .sub = "withdraw", .op = AUTH_OP_FIRMWARE_MANAGE },
	{ .command = "gateway", .sub = "add", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { DIR("--out") } },
	{ .command = "gateway", .sub = "list", .op = AUTH_OP_GATEWAY_READ },
	{ .command = "gateway", .sub = "logs", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--id", .gateway_alias = "--gateway", .upgrade_option = "--fetch",
	  .upgrade_op = AUTH_OP_GATEWAY_ORDER },
	{ .command = "gateway", .sub = "selftest", .op = AUTH_OP_GATEWAY_ORDER,
	  .gateway_option = "--id", .gateway_alias = "--gateway" },
	{ .command = "gateway", .sub = "set", .op = AUTH_OP_GATEWAY_ADMIN,
	  .gateway_option = "--gateway", .gateway_alias = "--gateway-id",
	  .gateways_option = "--gateways",
	  .tenant_denied_option = "--move-tenant" },
	{ .command = "job", .sub = "cancel", .op = AUTH_OP_GATEWAY_ORDER,
	  .job_option = "--id" },
	{ .command = "job", .sub = "create", .op = AUTH_OP_GATEWAY_ORDER,
	  .four_eyes = "fleet.order", .gateway_option = "--gateway",
	  .gateway_alias = "--gateway-id", .gateways_option = "--gateways" },
	{ .command = "job", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--gateway-id" },
	{ .command = "job", .sub = "show", .op = AUTH_OP_GATEWAY_READ, .job_option = "--id" },
	{ .command = "job", .sub = "wait", .op = AUTH_OP_GATEWAY_READ, .job_option = "--id" },
	{ .command = "policy", .sub = "set", .op = AUTH_OP_POLICY_CHANGE,
	  .four_eyes = "policy.change" },
	{ .command = "policy", .sub = "show", .op = AUTH_OP_POLICY_READ },
	{ .command = "profile", .sub = "authorise-emt", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "check", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id", .files = { IN("--file") } },
	{ .command = "profile", .sub = "delete", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "drift", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "emts", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "list", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "put", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id", .files = { IN("--file") } },
	{ .command = "profile", .sub = "read", .op = AUTH_OP_GATEWAY_ORDER,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "revoke-emt", .op = AUTH_OP_PROFILE_WRITE,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "profile", .sub = "show", .op = AUTH_OP_GATEWAY_READ,
	  .gateway_option = "--gateway", .gateway_alias = "--id" },
	{ .command = "req", .sub = "authorise", .op = AUTH_OP_GATEWAY_ADMIN,
	  .files = { IN("--in"), OUT("--out") } },
};

#undef IN
#undef OUT
#undef DIR

#define AUTH_COMMAND_COUNT (sizeof(auth_commands) / sizeof(auth_commands[0]))

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
	if (c->upgrade_option != NULL && auth_command_has(argc, argv, c->upgrade_option))
		return c->upgrade_op;
	return c->op;
}

enum auth_cmd_file_kind auth_command_file_kind(const struct auth_command *c, int argc,
	char *const *argv, int index)
{
	if (c == NULL || index < 1 || index >= argc)
		return 0;
	for (size_t i = 0; i < AUTH_CMD_FILES_MAX && c->files[i].option != NULL; i++) {
		if (strcmp(argv[index - 1], c->files[i].option) == 0)
			return c->files[i].kind;
	}
	return 0;
}

/* How often option occurs (exact name, with or without "=VALUE"). */
static int cmd_count(int argc, char *const *argv, const char *option)
{
	size_t n = option != NULL ? strlen(option) : 0;
	int count = 0;

	for (int i = 0; n > 0 && i < argc; i++) {
		if (strncmp(argv[i], option, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
			count++;
	}
	return count;
}

/*
 * The commands parse their options with getopt_long, which also takes any unambiguous
 * abbreviation ("--hom" for "--home") and keeps the last of repeated options. The api's
 * checks look for exact names, so both would let a command act on something the api
 * never checked (another home, a server path, another tenant's gateway). Refuse them:
 * every option the api looks at must be spelled out, and given once.
 */
static tw_rc auth_command_check_names(const struct auth_command *c, int argc,
	char *const *argv, struct tw_error *err)
{
	const char *checked[8 + AUTH_CMD_FILES_MAX];
	const char *once[8];
	size_t n = 0, m = 0;

	checked[n++] = "--home";
	once[m++] = checked[n++] = c->gateway_option;
	once[m++] = checked[n++] = c->gateway_alias;
	once[m++] = checked[n++] = c->gateways_option;
	once[m++] = checked[n++] = c->job_option;
	once[m++] = checked[n++] = c->tenant_denied_option;
	checked[n++] = c->local_option;
	checked[n++] = c->upgrade_option;
	for (size_t f = 0; f < AUTH_CMD_FILES_MAX; f++)
		checked[n++] = c->files[f].option;
	for (int i = 2; i < argc; i++) {
		size_t len;

		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			continue;
		len = strcspn(argv[i], "=");
		/* An exact name wins over abbreviations in getopt_long too ("--gateway"). */
		for (size_t k = 0; k < n; k++) {
			if (checked[k] != NULL && strlen(checked[k]) == len &&
			    strncmp(checked[k], argv[i], len) == 0)
				len = 0;
		}
		for (size_t k = 0; len > 0 && k < n; k++) {
			if (checked[k] != NULL && strlen(checked[k]) > len &&
			    strncmp(checked[k], argv[i], len) == 0)
				return tw_error_set(err, TW_E_INVALID, "write the option %s in full "
					"(%.*s is an abbreviation, which the api does not accept)",
					checked[k], (int)len, argv[i]);
		}
	}
	for (size_t k = 0; k < m; k++) {
		if (cmd_count(argc, argv, once[k]) > 1)
			return tw_error_set(err, TW_E_INVALID, "give %s only once", once[k]);
	}
	if (c->gateway_option != NULL && c->gateway_alias != NULL &&
	    cmd_count(argc, argv, c->gateway_option) + cmd_count(argc, argv, c->gateway_alias) > 1)
		return tw_error_set(err, TW_E_INVALID, "give either %s or %s, once",
			c->gateway_option, c->gateway_alias);
	return TW_OK;
}

tw_rc auth_command_validate(int argc, char *const *argv, const struct auth_command **out,
	struct tw_error *err)
{
	const struct auth_command *c;
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
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0 || strncmp(argv[i], "--home=", 7) == 0)
			return tw_error_set(err, TW_E_INVALID, "--home is not allowed through the "
				"api: commands act on the api's own home");
		for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++) {
			size_t n = strlen(c->files[f].option);

			if (strncmp(argv[i], c->files[f].option, n) == 0 && argv[i][n] == '=')
				return tw_error_set(err, TW_E_INVALID, "give %s and its file as two "
					"arguments", c->files[f].option);
			if (strcmp(argv[i], c->files[f].option) == 0 && i + 1 >= argc)
				return tw_error_set(err, TW_E_INVALID, "%s needs a file",
					c->files[f].option);
		}
	}
	if ((rc = auth_command_check_names(c, argc, argv, err)) != TW_OK)
		return rc;
	if (c->local_option != NULL && auth_command_has(argc, argv, c->local_option))
		return tw_error_set(err, TW_E_INVALID, "'%s %s %s' works offline: run it without "
			"the api", c->command, c->sub, c->local_option);
	*out = c;
	return TW_OK;
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
	j = json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "actor", p->actor, "role", p->role,
		"client", p->client, "tenant", (json_int_t)p->tenant_id, "argv", digest,
		"expires_ms", (json_int_t)(now_ms + AUTH_CMD_ACT_AS_TTL_MS));
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
	const char *actor, *role, *client, *hash;
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
	cmd_argv_digest(argc, argv, digest);
	if (actor == NULL || role == NULL || client == NULL || hash == NULL ||
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
	}
	json_decref(j);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
