/*
 * torwart: the administration command line. This file is the command table; each area
 * lives in src/cmd/cli_<area>.c (see cli.h).
 *
 * Until operators and the api's authentication exist (issue 5) commands act directly on
 * the home as the local operating-system user, recorded in the admin log with role
 * "local-admin".
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"

static const char torwart_usage[] =
	"usage: torwart COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  init --home DIR [--test-pki] [--wan-listen HOST:PORT] [--api-listen HOST:PORT]\n"
	"      create a new home: torwart.conf, store, SoftHSM2 token; with --test-pki also a\n"
	"      test SM-PKI (Root-CA, Sub-CA, GWA TLS/SIG/ENC). Refuses an existing DIR.\n"
	"  gateway add --home DIR --id SMGW-ID [--out DIR2]\n"
	"      register a gateway and write its keys, certificates and chain to DIR2\n"
	"      (default DIR/gateways/SMGW-ID), as a manufacturer would.\n"
	"  gateway list --home DIR\n"
	"      show id, state and last contact of every gateway.\n"
	"  audit verify --home DIR\n"
	"      recompute the admin-log hash chain; names the first broken entry.\n"
	"\n"
	"exit status: 0 success, 1 failure (one line on stderr says what to do),\n"
	"             2 usage error, 3 admin log broken (audit verify)\n";

struct cli_command {
	const char *name;
	int (*run)(const char *sub, int argc, char **argv);
};

/* Areas add one line here (keep alphabetical). */
static const struct cli_command cli_commands[] = {
	{ "audit", cli_audit_cmd },
	{ "gateway", cli_gateway },
	{ "init", cli_init },
};

int main(int argc, char **argv)
{
	const char *sub = NULL;
	int first = 2;

	if (argc < 2)
		return cli_usage_error("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(torwart_usage, stdout);
		return 0;
	}
	if (argc > 2 && argv[2][0] != '-') {
		sub = argv[2];
		first = 3;
	}
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(torwart_usage, stdout);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(cli_commands[i].name, argv[1]) == 0) {
			/* argv[first - 1] stands in for the program name getopt skips. */
			return cli_commands[i].run(sub, argc - first + 1, argv + first - 1);
		}
	}
	fprintf(stderr, "torwart: unknown command '%s' (see torwart --help)\n", argv[1]);
	return 2;
}
