/*
 * cli_table.c: the `torwart` command table, shared by the command line (torwart.c) and
 * the api's command runner (torwartd links it and hands cli_run_as to the api).
 */
#include <string.h>

#include "api/api_command.h"
#include "cmd/cli.h"

/* Areas add one line here (keep alphabetical). */
static const struct cli_command cli_commands[] = {
	{ "approval", cli_approval },
	{ "audit", cli_audit_cmd },
	{ "ca", cli_ca },
	{ "firmware", cli_firmware },
	{ "gateway", cli_gateway },
	{ "init", cli_init },
	{ "job", cli_job },
	{ "login", cli_login },
	{ "logout", cli_logout },
	{ "operator", cli_operator },
	{ "policy", cli_policy },
	{ "profile", cli_profile },
	{ "req", cli_req },
};

const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(cli_commands) / sizeof(cli_commands[0]);
	     i++) {
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	}
	return NULL;
}

int cli_run_as(const struct api_command_principal *who, const char *command,
	const char *sub, int argc, char **argv)
{
	const struct cli_command *c = cli_command_find(command);

	if (c == NULL)
		return 2;
	cli_act_as(who->actor, who->role, who->client, who->tenant_id);
	return c->run(sub, argc, argv);
}
