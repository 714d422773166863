/*
 * cli_store.c: `torwart store migrate --home DIR --to URL`: move a home's store into
 * another database (typically SQLite -> PostgreSQL). Copies every table (store_copy:
 * one transaction on the target, row counts compared), then verifies the admin log on
 * the target (hash chain, Merkle tree nodes, signed head roots) before saying done. The
 * home keeps using its old store until the operator changes [store] url.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/progress.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "store/store.h"

/* store_copy's progress: the running row count on stderr (progress.h). */
static void migrate_progress(void *arg, const char *table, size_t table_no, size_t tables,
	int64_t table_rows, int64_t rows)
{
	tw_progress_update((struct tw_progress *)arg, "store migrate: table %zu/%zu %s: %lld rows "
		"(%lld in all)", table_no, tables, table, (long long)table_rows, (long long)rows);
}

static int store_migrate_run(const char *home_dir, const char *to)
{
	struct audit_verify_result res;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *src = NULL, *dst = NULL;
	struct tw_progress prog;
	int64_t rows = 0;
	int status = 1;
	tw_rc rc;

	tw_error_clear(&err);
	memset(&res, 0, sizeof(res));
	tw_progress_stderr(&prog);
	/* The detail names the driver only: a URL may carry a password. */
	if ((rc = cli_open_home_store(home_dir, &home, &src, &err)) != TW_OK ||
	    (rc = cli_audit(src, "store.migrate", home_dir, "ok", strncmp(to, "postgres", 8) == 0 ?
	     "copy to a PostgreSQL store" : "copy to a SQLite store", &err)) != TW_OK ||
	    (rc = store_open(to, &dst, &err)) != TW_OK ||
	    (rc = store_copy_progress(src, dst, &rows, migrate_progress, &prog, &err)) != TW_OK) {
		tw_progress_clear(&prog);
		status = cli_fail("store migrate", &err);
		goto out;
	}
	tw_progress_done(&prog, "store migrate: %lld rows copied in %zu tables; verifying the "
		"admin log on the target", (long long)rows, store_copy_table_count());
	rc = audit_verify_tree(dst, NULL, &res, &err);
	if (rc == TW_E_INTEGRITY) {
		fprintf(stderr, "torwart store migrate: the admin log does NOT verify on the target "
			"(entry %lld: %s); keep using the old store\n", (long long)res.first_bad_seq,
			res.reason);
		status = 3;
		goto out;
	}
	if (rc != TW_OK) {
		status = cli_fail("store migrate", &err);
		goto out;
	}
	printf("store migrate: %lld rows copied, row counts equal; admin log verified on the "
		"target (%lld entries, tree size %lld, %lld signed head roots)\n"
		"  now stop the services, set [store] url in %s/torwart.conf, start them again\n",
		(long long)rows, (long long)res.entries, (long long)res.tree_size,
		(long long)res.heads_checked, home_dir);
	status = 0;
out:
	store_close(dst);
	store_close(src);
	tw_home_free(home);
	return status;
}

int cli_store(const char *sub, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *to = NULL;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': home = optarg; break;
		case 't': to = optarg; break;
		default: home = NULL; optind = argc + 1; break;
		}
	}
	if (sub == NULL || strcmp(sub, "migrate") != 0 || home == NULL || to == NULL ||
	    optind != argc)
		return cli_usage_error("usage: torwart store migrate --home DIR --to URL");
	return store_migrate_run(home, to);
}
