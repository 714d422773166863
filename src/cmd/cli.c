/* cli.c: helpers shared by the `torwart` sub-command files. */
#include "cmd/cli.h"

#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/command.h"
#include "crypto/secretbox.h"
#include "base/util.h"

/* Set to "break-glass" by torwart.c for direct --home use (docs/security.md). */
const char *cli_role = "local-admin";

static const char *cli_actor_as, *cli_client_as;
static int64_t cli_tenant_as, cli_fleet_max_as;

bool cli_acting_for_api(void)
{
	return cli_actor_as != NULL;
}

int64_t cli_fleet_max(void)
{
	return cli_fleet_max_as;
}

int cli_check_args(int argc, char **argv)
{
	const struct auth_command *c;
	struct auth_cmd_args *args;
	struct tw_error err;
	tw_rc rc;

	/* argv as main has it: argv[1] command, argv[2] sub. Table commands, and the local
	 * ones whose options the parser knows (metering, time). */
	if (argc < 3 || ((c = auth_command_find(argv[1], argv[2])) == NULL &&
	    (c = auth_local_command_find(argv[1], argv[2])) == NULL))
		return 0;
	if (!auth_command_has(argc - 1, argv + 1, "--home"))
		return 0;   /* through the api: cli_remote_run parses after its own options */
	if ((args = malloc(sizeof(*args))) == NULL)
		return cli_usage_error("out of memory");
	/* Local use may name the operator's own files; the api's child may not (the api
	 * has put its spool paths in place of the declared files). */
	rc = auth_command_parse(c, argc - 1, argv + 1, AUTH_PARSE_HOME |
		(cli_actor_as != NULL ? 0 : AUTH_PARSE_PATHS), args, &err);
	free(args);
	if (rc != TW_OK) {
		fprintf(stderr, "torwart %s %s: %s\n", argv[1], argv[2], err.message);
		return 2;
	}
	return 0;
}

void cli_act_as(const char *actor, const char *role, const char *client, int64_t tenant_id)
{
	cli_actor_as = actor;
	cli_client_as = client;
	cli_role = role;
	cli_tenant_as = tenant_id;
}

int cli_fail(const char *what, const struct tw_error *err)
{
	fprintf(stderr, "torwart %s: %s\n", what, err->message);
	return 1;
}

int cli_usage_error(const char *msg)
{
	fprintf(stderr, "torwart: %s (see torwart --help)\n", msg);
	return 2;
}

const char *cli_esc(struct cli_esc *e, const char *text)
{
	size_t size = 4 * strlen(text != NULL ? text : "") + 1;   /* \xNN: 4 per byte at most */
	char *out;

	if (e->n >= CLI_ESC_MAX || (out = malloc(size)) == NULL)
		return "?";
	e->s[e->n++] = out;
	return auth_text_escape(text, out, size);
}

void cli_esc_free(struct cli_esc *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->s[i]);
	e->n = 0;
}

const char *cli_actor(void)
{
	static char actor[96];
	struct passwd *pw;

	if (cli_actor_as != NULL)
		return cli_actor_as;
	pw = getpwuid(getuid());
	snprintf(actor, sizeof(actor), "os:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
	return actor;
}

const char *cli_client(void)
{
	static char client[32];

	if (cli_client_as != NULL)
		return cli_client_as;
	snprintf(client, sizeof(client), "local:%ld", (long)getpid());
	return client;
}

tw_rc cli_audit(struct tw_store *store, const char *action, const char *object,
	const char *result, const char *detail, struct tw_error *err)
{
	struct audit_entry entry = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client(), .action = action, .object = object, .result = result,
		.detail = detail };

	return audit_append(store, &entry, err);
}

tw_rc cli_open_home_store(const char *dir, struct tw_home **home, struct tw_store **store,
	struct tw_error *err)
{
	char *url = NULL;
	tw_rc rc;

	*home = NULL;
	*store = NULL;
	if ((rc = tw_home_open(dir, home, err)) != TW_OK)
		return rc;
	url = tw_home_store_url(*home);
	if (url == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = store_open(url, store, err);
	free(url);
	if (rc == TW_OK)
		store_scope_tenant(*store, cli_tenant_as);
	return rc;
}

/* Options of init, gateway and audit; anything else is a usage error. */
int cli_parse_options(int argc, char **argv, struct cli_options *o)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "test-pki", no_argument, NULL, 'T' },
		{ "wan-listen", required_argument, NULL, 'w' },
		{ "api-listen", required_argument, NULL, 'a' },
		{ "api-tls-listen", required_argument, NULL, 'L' },
		{ "signer-backend", required_argument, NULL, 'b' },
		{ "system", no_argument, NULL, 'S' },
		{ "store", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'i': o->id = optarg; break;
		case 'o': o->out = optarg; break;
		case 'T': o->test_pki = 1; break;
		case 'w': o->wan_listen = optarg; break;
		case 'a': o->api_listen = optarg; break;
		case 'L': o->api_tls_listen = optarg; break;
		case 'b': o->signer_backend = optarg; break;
		case 'S': o->system = 1; break;
		case 's': o->store = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int cli_act_as_from_env(int argc, char **argv)
{
	static struct auth_cmd_principal as;
	const char *sealed = getenv(AUTH_CMD_ACT_AS_ENV);
	const char *home_dir = auth_command_option(argc - 1, argv + 1, "--home", NULL);
	struct secretbox *box = NULL;
	struct tw_home *home = NULL;
	struct tw_error err;
	char *copy;
	tw_rc rc;

	if (sealed == NULL)
		return 0;
	/* Never handed on to anything this command starts. */
	copy = tw_strdup(sealed);
	unsetenv(AUTH_CMD_ACT_AS_ENV);
	if (copy == NULL)
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
	else if (home_dir == NULL)
		rc = tw_error_set(&err, TW_E_DENIED, "%s needs --home", AUTH_CMD_ACT_AS_ENV);
	else if ((rc = tw_home_open(home_dir, &home, &err)) == TW_OK &&
	    (rc = secretbox_open(home, &box, &err)) == TW_OK &&
	    (rc = auth_command_open_principal(box, copy, argc, argv, tw_now_ms(), &as,
	    &err)) == TW_OK) {
		/* Single use: the api recorded the nonce; whoever unlinks it first runs. */
		char *path = tw_asprintf("%s/%s/%s", home->dir, AUTH_CMD_NONCE_DIR, as.nonce);

		if (path == NULL)
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		else if (unlink(path) != 0)
			rc = tw_error_set(&err, TW_E_DENIED, "%s was used already (or not issued "
				"by this home's api): a sealed principal runs one command once",
				AUTH_CMD_ACT_AS_ENV);
		free(path);
	}
	secretbox_free(box);
	tw_home_free(home);
	free(copy);
	if (rc != TW_OK) {
		fprintf(stderr, "torwart: refusing to act as an operator: %s\n", err.message);
		return -1;
	}
	cli_act_as(as.actor, as.role, as.client, as.tenant_id);
	cli_fleet_max_as = as.fleet_max;
	return 1;
}
