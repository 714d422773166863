/*
 * cli_metering.c: `torwart metering endpoint|status` (EMT delivery endpoints and the
 * outbox, docs/metering.md) and `torwart time check|status` (the legal-time service).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "metering/timesvc.h"
#include "store/store_metering.h"

struct mt_opts {
	const char *home, *emt, *url;
	long limit_ms;
};

static const char mt_usage[] =
	"usage: torwart metering endpoint --home DIR --emt MPID --url https://HOST:PORT/PATH\n"
	"       torwart metering status --home DIR [--emt MPID]\n"
	"       torwart time check --home DIR\n"
	"       torwart time status --home DIR [--limit-ms N]";

static int mt_parse(int argc, char **argv, struct mt_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "emt", required_argument, NULL, 'e' },
		{ "url", required_argument, NULL, 'u' }, { "limit-ms", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct tw_error e;
	int c;

	memset(o, 0, sizeof(*o));
	o->limit_ms = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'e': o->emt = optarg; break;
		case 'u': o->url = optarg; break;
		case 'l':
			if (tw_parse_long(optarg, 0, 3600000, &o->limit_ms, &e, "--limit-ms") != TW_OK)
				return -1;
			break;
		default: return -1;
		}
	}
	return optind == argc && o->home != NULL ? 0 : -1;
}

int cli_metering(const char *sub, int argc, char **argv)
{
	struct mt_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_metering_counts c;
	int ret = 1;

	tw_error_clear(&err);
	if (sub == NULL || mt_parse(argc, argv, &o) != 0)
		return cli_usage_error(mt_usage);
	if (strcmp(sub, "endpoint") == 0 && (o.emt == NULL || o.url == NULL))
		return cli_usage_error("metering endpoint needs --emt MPID and --url https://...");
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("metering", &err);
		goto out;
	}
	if (strcmp(sub, "endpoint") == 0) {
		if (store_emt_endpoint_set(store, o.emt, o.url, tw_now_ms(), cli_actor(), &err)
		    != TW_OK ||
		    cli_audit(store, "metering.endpoint", o.emt, "ok", o.url, &err) != TW_OK) {
			ret = cli_fail("metering endpoint", &err);
		} else {
			printf("torwart: EMT %s receives its metering data at %s\n", o.emt, o.url);
			ret = 0;
		}
	} else if (strcmp(sub, "status") == 0) {
		if (store_metering_count(store, o.emt, &c, &err) != TW_OK) {
			ret = cli_fail("metering status", &err);
		} else {
			printf("pending: %lld\ndelivered: %lld\noverdue: %lld\nbytes: %lld\n",
				(long long)c.pending, (long long)c.delivered, (long long)c.overdue,
				(long long)c.bytes);
			ret = 0;
		}
	} else {
		ret = cli_usage_error(mt_usage);
	}
out:
	store_close(store);
	tw_home_free(home);
	return ret;
}

/* A gateway's failure text and an upstream's detail are shown escaped (cli_esc). */
static int print_off(const struct store_gateway_time *t, void *arg)
{
	struct cli_esc e = { 0 };
	char when[40] = "never";

	(*(size_t *)arg)++;
	if (t->last_sync_ms > 0)
		tw_time_format_utc(t->last_sync_ms, when, sizeof(when));
	printf("%-24s %-24s %10lld %6lld %6lld  %s\n", cli_esc(&e, t->gateway_id), when,
		(long long)-t->last_offset_ms, (long long)t->syncs, (long long)t->failures,
		cli_esc(&e, t->last_failure));
	cli_esc_free(&e);
	return 0;
}

int cli_time(const char *sub, int argc, char **argv)
{
	struct mt_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_time_check tc;
	struct cli_esc esc = { 0 };
	char when[40], until[40];
	size_t count = 0;
	long limit = 0;
	int ret = 1;

	tw_error_clear(&err);
	if (sub == NULL || mt_parse(argc, argv, &o) != 0)
		return cli_usage_error(mt_usage);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("time", &err);
		goto out;
	}
	if (strcmp(sub, "check") == 0) {
		if (timesvc_check(home->conf, store, &tc, &err) != TW_OK) {
			ret = cli_fail("time check", &err);
			goto out;
		}
		printf("%s: offset %lld ms: %s\n", tc.ok ? "synchronised" : "NOT SYNCHRONISED",
			(long long)tc.offset_ms, cli_esc(&esc, tc.detail));
		ret = tc.ok ? 0 : 3;
	} else if (strcmp(sub, "status") == 0) {
		if (store_time_check_last(store, &tc, &err) != TW_OK) {
			ret = cli_fail("time status", &err);
			goto out;
		}
		tw_time_format_utc(tc.checked_ms, when, sizeof(when));
		tw_time_format_utc(tc.valid_until_ms, until, sizeof(until));
		printf("gwa clock: %s (checked %s, offset %lld ms, serves time until %s)\n%s\n",
			tc.ok && tw_now_ms() <= tc.valid_until_ms ? "synchronised" : "NOT SYNCHRONISED",
			when, (long long)tc.offset_ms, until, cli_esc(&esc, tc.detail));
		if (tw_config_get_long(home->conf, "time", "max_offset_ms", 1000, 1, 3600000, &limit,
		    &err) != TW_OK) {
			ret = cli_fail("time status", &err);
			goto out;
		}
		if (o.limit_ms >= 0)
			limit = o.limit_ms;
		printf("gateways off by more than %ld ms or with failed synchronisations:\n"
			"%-24s %-24s %10s %6s %6s  %s\n", limit, "GATEWAY", "LAST SYNC (UTC)",
			"OFFSET_MS", "SYNCS", "FAILS", "LAST FAILURE");
		if (store_gateway_time_foreach_off(store, limit, print_off, &count, &err) != TW_OK) {
			ret = cli_fail("time status", &err);
			goto out;
		}
		printf("%zu gateway%s\n", count, count == 1 ? "" : "s");
		ret = tc.ok ? 0 : 3;
	} else {
		ret = cli_usage_error(mt_usage);
	}
out:
	cli_esc_free(&esc);
	store_close(store);
	tw_home_free(home);
	return ret;
}
