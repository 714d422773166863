/*
 * cli_dir.c: `torwart dir ...`, the SM-PKI directory (docs/pki-services.md "The
 * directory", docs/operations.md "The directory"). Local commands (--home):
 *   slapd-conf --out DIR [--publisher-uid N] [--frontend-uid N]
 *                        write slapd.conf for this home, print the slapd command line
 *   status               what waits for publication and since when
 *   publish [--limit N]  drain the queue now (the worker does it on its schedule)
 *   resync               forget what was published: everything is published again
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "dir/dir.h"
#include "store/store_dir.h"

static int dir_slapd_conf(const char *home_dir, const char *out, long pub_uid, long fe_uid)
{
	struct tw_home *home = NULL;
	struct tw_error err;
	char *args = NULL;
	int status = 1;

	tw_error_clear(&err);
	if (tw_home_open(home_dir, &home, &err) != TW_OK ||
	    dir_slapd_conf_write(home, out, (unsigned)(pub_uid >= 0 ? pub_uid : (long)getuid()),
	    (unsigned)(fe_uid >= 0 ? fe_uid : (pub_uid >= 0 ? pub_uid : (long)getuid())), &args,
	    &err) != TW_OK) {
		status = cli_fail("dir slapd-conf", &err);
		goto out;
	}
	printf("%s\n", args);
	status = 0;
out:
	free(args);
	tw_home_free(home);
	return status;
}

static int dir_run(const char *sub, const char *home_dir, long limit)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct dir_publisher *pub = NULL;
	struct dir_drain_result res;
	struct tw_error err;
	int64_t pending = 0, oldest = 0;
	int status = 1;
	char what[64];

	tw_error_clear(&err);
	snprintf(what, sizeof(what), "dir %s", sub);
	if (cli_open_home_store(home_dir, &home, &store, &err) != TW_OK) {
		status = cli_fail(what, &err);
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		if (store_dir_backlog(store, &pending, &oldest, &err) != TW_OK) {
			status = cli_fail(what, &err);
			goto out;
		}
		printf("pending %lld\n", (long long)pending);
		if (pending > 0)
			printf("oldest_pending_s %lld\n", (long long)((tw_now_ms() - oldest) / 1000));
		status = 0;
	} else if (strcmp(sub, "resync") == 0) {
		if (store_dir_reset(store, &err) != TW_OK ||
		    cli_audit(store, "dir.resync", "directory", "ok", "every certificate and CRL "
		    "will be published again", &err) != TW_OK) {
			status = cli_fail(what, &err);
			goto out;
		}
		(void)store_dir_backlog(store, &pending, &oldest, &err);
		printf("resync: %lld certificates queued for publication (the worker publishes "
			"them, or run `torwart dir publish`)\n", (long long)pending);
		status = 0;
	} else {
		tw_rc rc;

		if ((rc = dir_publisher_new(home, store, &pub, &err)) != TW_OK) {
			status = cli_fail(what, &err);
			goto out;
		}
		rc = dir_publisher_drain(pub, limit, &res, &err);
		printf("published %lld certificates and %lld CRLs; pending %lld\n",
			(long long)res.published, (long long)res.crls, (long long)res.pending);
		status = rc == TW_OK ? 0 : cli_fail(what, &err);
	}
out:
	dir_publisher_free(pub);
	store_close(store);
	tw_home_free(home);
	return status;
}

int cli_dir(const char *sub, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		{ "publisher-uid", required_argument, NULL, 'p' },
		{ "frontend-uid", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *out = NULL;
	long pub_uid = -1, fe_uid = -1, limit = 0;
	bool bad = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end = NULL;

		switch (c) {
		case 'H': home = optarg; break;
		case 'o': out = optarg; break;
		case 'p': pub_uid = strtol(optarg, &end, 10); bad |= *end != '\0' || pub_uid < 0; break;
		case 'f': fe_uid = strtol(optarg, &end, 10); bad |= *end != '\0' || fe_uid < 0; break;
		case 'l': limit = strtol(optarg, &end, 10); bad |= *end != '\0' || limit < 0; break;
		default: bad = true; break;
		}
	}
	if (bad || sub == NULL || home == NULL || optind != argc)
		return cli_usage_error("usage: torwart dir slapd-conf|status|publish|resync --home "
			"DIR ... (torwart dir --help)");
	if (strcmp(sub, "slapd-conf") == 0) {
		if (out == NULL)
			return cli_usage_error("usage: torwart dir slapd-conf --home DIR --out DIR "
				"[--publisher-uid N] [--frontend-uid N]");
		return dir_slapd_conf(home, out, pub_uid, fe_uid);
	}
	if (strcmp(sub, "status") != 0 && strcmp(sub, "publish") != 0 &&
	    strcmp(sub, "resync") != 0)
		return cli_usage_error("usage: torwart dir slapd-conf|status|publish|resync --home "
			"DIR ...");
	return dir_run(sub, home, limit);
}
