/* cli_audit.c: `torwart audit verify`: recompute the admin log's hash chain. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cmd/cli.h"


static int cmd_audit_verify(const struct cli_options *o)
{
	struct audit_verify_result res;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	int status;
	tw_rc rc;

	tw_error_clear(&err);
	memset(&res, 0, sizeof(res));
	if (o->home == NULL)
		return cli_usage_error("audit verify needs --home DIR");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK) {
		status = cli_fail("audit verify", &err);
		goto out;
	}
	rc = audit_verify(store, &res, &err);
	if (rc == TW_OK) {
		printf("admin log intact: %lld entries verified\n", (long long)res.entries);
		status = 0;
	} else if (rc == TW_E_INTEGRITY) {
		fprintf(stderr, "torwart audit verify: admin log BROKEN at entry %lld: %s "
			"(%lld entries checked before it)\n", (long long)res.first_bad_seq,
			res.reason, (long long)(res.first_bad_seq > 0 ? res.first_bad_seq - 1 : 0));
		status = 3;
	} else {
		status = cli_fail("audit verify", &err);
	}
	/* Record that the check ran (after it, so it does not verify itself). */
	if (rc != TW_E_INTEGRITY && store != NULL) {
		struct tw_error ignored;

		cli_audit(store, "audit.verify", "admin_log", rc == TW_OK ? "ok" : "error",
			rc == TW_OK ? "chain intact" : err.message, &ignored);
	}
out:
	store_close(store);
	tw_home_free(home);
	return status;
}

int cli_audit_cmd(const char *sub, int argc, char **argv)
{
	struct cli_options o;

	if (sub == NULL || cli_parse_options(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart audit verify --home DIR");
	if (strcmp(sub, "verify") == 0)
		return cmd_audit_verify(&o);
	return cli_usage_error("unknown audit command; use verify");
}
