/*
 * cli_table.c: the `torwart` command table (torwart.c dispatches through it).
 */
#include <string.h>

#include "cmd/cli.h"
#include "cmd/cli_help.h"

/* Areas add one line here (keep alphabetical). */
static const struct cli_command cli_commands[] = {
	{ "alarm", cli_alarm },
	{ "approval", cli_approval },
	{ "audit", cli_audit_cmd },
	{ "ca", cli_ca },
	{ "console", cli_console },
	{ "context", cli_context },
	{ "dir", cli_dir },
	{ "firmware", cli_firmware },
	{ "gateway", cli_gateway },
	{ "gwa", cli_gwa },
	{ "init", cli_init },
	{ "job", cli_job },
	{ "login", cli_login },
	{ "metering", cli_metering },
	{ "logout", cli_logout },
	{ "operator", cli_operator },
	{ "policy", cli_policy },
	{ "profile", cli_profile },
	{ "renewal", cli_renewal },
	{ "req", cli_req },
	{ "rollout", cli_rollout },
	{ "store", cli_store },
	{ "time", cli_time },
	{ "ws", cli_ws },
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

const char *cli_command_name_at(size_t i)
{
	return i < sizeof(cli_commands) / sizeof(cli_commands[0]) ? cli_commands[i].name : NULL;
}
