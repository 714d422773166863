/*
 * cli_policy.c: `torwart policy show|set`: the security policy ([auth] in torwart.conf)
 * as an operator sees and changes it (auth/policy_admin.h). Through the api, `set` is
 * the four-eyes action policy.change; with --home it is break-glass.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy_admin.h"
#include "base/util.h"
#include "cmd/cli.h"

int cli_policy(const char *sub, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' }, { "key", required_argument, NULL, 'k' },
		{ "value", required_argument, NULL, 'v' }, { NULL, 0, NULL, 0 },
	};
	const char *home_dir = NULL, *key = NULL, *value = NULL;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	char *conf = NULL, old[TW_CONFIG_MAX_LINE + 1];
	int c;
	tw_rc rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': home_dir = optarg; break;
		case 'k': key = optarg; break;
		case 'v': value = optarg; break;
		default: return cli_usage_error("policy show|set: unknown option");
		}
	}
	if (optind != argc || sub == NULL || home_dir == NULL ||
	    (strcmp(sub, "show") != 0 && strcmp(sub, "set") != 0) ||
	    (strcmp(sub, "set") == 0 && (key == NULL || value == NULL)))
		return cli_usage_error("policy show | policy set --key K --value V (through the "
			"api, or --home DIR)");
	if ((rc = cli_open_home_store(home_dir, &home, &store, &err)) != TW_OK)
		goto out;
	if ((conf = tw_home_join(home, "torwart.conf")) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(sub, "show") == 0) {
		rc = auth_policy_show(conf, stdout, &err);
	} else {
		struct audit_entry who = { .actor = cli_actor(), .role = cli_role,
			.client = cli_client() };

		rc = auth_policy_set(conf, store, &who, key, value, old, sizeof(old), &err);
		if (rc == TW_OK)
			printf("torwart: [auth] %s = %s (was %s); the services reload it\n", key, value,
				old);
	}
out:
	free(conf);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("policy", &err);
}
