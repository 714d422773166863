/*
 * cli_rollout.c: `torwart rollout ...`: staged firmware rollouts (gwa/rollout.h,
 * docs/firmware.md "Rollouts"). Thin adapter; every change is in the admin log.
 * `approve` starts a created rollout and is the four-eyes action rollout.start through
 * the api (with --home it acts directly: break-glass).
 *
 * Exit status: 0 ok, 1 failure or refusal, 2 usage; `show --watch` 3 when the rollout
 * ended paused or cancelled.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/rollout.h"

struct ro_opts {
	const char *home, *name, *image, *gateways, *tag, *tenant, *groups, *canary,
		*success, *error, *window, *id, *reason, *state;
	bool all, watch;
};

static const char ro_usage[] =
	"usage: torwart rollout create --home DIR --name N --image ID (--gateways A,B | --tag T |\n"
	"           --tenant T | --all) --groups G [--canary K] [--success PCT] [--error PCT]\n"
	"           [--window \"Mon-Fri 01:00-05:00 Europe/Berlin\"]\n"
	"       torwart rollout list --home DIR [--state S]\n"
	"       torwart rollout show --home DIR --id N [--watch]\n"
	"       torwart rollout approve|resume --home DIR --id N\n"
	"       torwart rollout pause|cancel --home DIR --id N [--reason TEXT]";

static int ro_parse(int argc, char **argv, struct ro_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "name", required_argument, NULL, 'n' },
		{ "image", required_argument, NULL, 'i' },
		{ "gateways", required_argument, NULL, 'g' }, { "tag", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' }, { "all", no_argument, NULL, 'a' },
		{ "groups", required_argument, NULL, 'G' },
		{ "canary", required_argument, NULL, 'c' },
		{ "success", required_argument, NULL, 's' },
		{ "error", required_argument, NULL, 'e' },
		{ "window", required_argument, NULL, 'w' }, { "id", required_argument, NULL, 'I' },
		{ "reason", required_argument, NULL, 'R' }, { "state", required_argument, NULL, 'S' },
		{ "watch", no_argument, NULL, 'W' }, { NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'n': o->name = optarg; break;
		case 'i': o->image = optarg; break;
		case 'g': o->gateways = optarg; break;
		case 't': o->tag = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 'a': o->all = true; break;
		case 'G': o->groups = optarg; break;
		case 'c': o->canary = optarg; break;
		case 's': o->success = optarg; break;
		case 'e': o->error = optarg; break;
		case 'w': o->window = optarg; break;
		case 'I': o->id = optarg; break;
		case 'R': o->reason = optarg; break;
		case 'S': o->state = optarg; break;
		case 'W': o->watch = true; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static int print_row(const struct store_rollout *r, void *arg)
{
	struct cli_esc e = { 0 };

	(*(size_t *)arg)++;
	/* Operator-chosen text (rows stored before the parser refused control characters
	 * included) is shown escaped. */
	printf("%-5lld %-10s %-24s %-6lld %3d/%-3d %-28s %s\n", (long long)r->id, r->state,
		cli_esc(&e, r->name), (long long)r->image_id, r->current_grp + 1, r->ngroups,
		cli_esc(&e, r->selection), cli_esc(&e, r->reason));
	cli_esc_free(&e);
	return 0;
}

/* One line per group: done/failed/in progress/waiting. */
static tw_rc print_groups(struct tw_store *store, const struct store_rollout *r,
	bool compact, struct tw_error *err)
{
	for (int g = 0; g < r->ngroups; g++) {
		struct store_rollout_group c;
		tw_rc rc = store_rollout_group_counts(store, r->id, g, &c, err);

		if (rc != TW_OK)
			return rc;
		if (compact)
			printf(" g%d:%lld/%lld/%lld/%lld", g + 1, (long long)c.done,
				(long long)c.failed, (long long)c.running, (long long)c.waiting);
		else
			printf("group %-3d%s %5lld done %5lld failed %5lld in progress %5lld waiting\n",
				g + 1, g == r->current_grp ? "*" : " ", (long long)c.done,
				(long long)c.failed, (long long)c.running, (long long)c.waiting);
	}
	return TW_OK;
}

static void print_one(const struct store_rollout *r)
{
	struct cli_esc e = { 0 };
	char when[40];

	printf("id:         %lld\nname:       %s\nstate:      %s%s%s\nimage:      %lld\n"
		"targets:    %s\ngroups:     %d (current %d)\nthresholds: success %d%%, error "
		"%d%%\nwindow:     %s\n", (long long)r->id, cli_esc(&e, r->name), r->state,
		r->reason[0] != '\0' ? " - " : "", cli_esc(&e, r->reason), (long long)r->image_id,
		cli_esc(&e, r->selection), r->ngroups, r->current_grp + 1, r->success_pct, r->error_pct,
		r->window[0] != '\0' ? r->window : "(none of its own: each gateway's tag, "
		"tenant or global window of torwart.conf, else always)");
	tw_time_format_utc(r->created_ms, when, sizeof(when));
	printf("created:    %s by %s\n", when, cli_esc(&e, r->created_by));
	if (r->started_ms > 0) {
		tw_time_format_utc(r->started_ms, when, sizeof(when));
		printf("approved:   %s by %s\n", when, cli_esc(&e, r->started_by));
	}
	cli_esc_free(&e);
}

static int parse_int(const char *s, long lo, long hi, long def, long *out, const char *what,
	struct tw_error *err)
{
	*out = def;
	return s == NULL ? 0 : tw_parse_long(s, lo, hi, out, err, what) == TW_OK ? 0 : -1;
}

/* The progress display: one line rewritten in place until the rollout stops moving. */
static int watch(struct tw_store *store, int64_t id, struct tw_error *err)
{
	struct store_rollout r;

	for (;;) {
		if (store_rollout_get(store, id, &r, err) != TW_OK)
			return cli_fail("rollout show", err);
		printf("\r\033[Krollout %lld %s group %d/%d:", (long long)r.id, r.state,
			r.current_grp + 1, r.ngroups);
		if (print_groups(store, &r, true, err) != TW_OK)
			return cli_fail("rollout show", err);
		fflush(stdout);
		if (strcmp(r.state, "running") != 0 && strcmp(r.state, "created") != 0)
			break;
		sleep(1);
	}
	printf("\n");
	return strcmp(r.state, "finished") == 0 ? 0 : 3;
}

int cli_rollout(const char *sub, int argc, char **argv)
{
	struct ro_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_rollout r;
	struct job_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	size_t count = 0;
	long id = 0;
	int ret = 1;

	tw_error_clear(&err);
	if (sub == NULL || ro_parse(argc, argv, &o) != 0)
		return cli_usage_error(ro_usage);
	if (o.home == NULL)
		return cli_usage_error("torwart rollout needs --home DIR");
	if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 &&
	    (o.id == NULL || tw_parse_long(o.id, 1, LONG_MAX, &id, &err, "rollout id") != TW_OK))
		return cli_usage_error(o.id == NULL ? "this rollout command needs --id N" :
			err.message);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("rollout", &err);
		goto out;
	}
	if (strcmp(sub, "create") == 0) {
		struct rollout_spec spec;
		char sel[1200];
		long image = 0, groups = 0, canary = 0, success = 100, error = 10;
		int64_t rid = 0;
		int nsel = (o.gateways != NULL) + (o.tag != NULL) + (o.tenant != NULL) + o.all;

		if (o.name == NULL || o.image == NULL || o.groups == NULL || nsel != 1) {
			ret = cli_usage_error("rollout create needs --name, --image, --groups and one "
				"of --gateways, --tag, --tenant, --all");
			goto out;
		}
		if (parse_int(o.image, 1, LONG_MAX, 0, &image, "image", &err) != 0 ||
		    parse_int(o.groups, 1, 100, 0, &groups, "groups", &err) != 0 ||
		    parse_int(o.canary, 1, ROLLOUT_MAX_TARGETS, 0, &canary, "canary", &err) != 0 ||
		    parse_int(o.success, 1, 100, 100, &success, "success", &err) != 0 ||
		    parse_int(o.error, 0, 100, 10, &error, "error", &err) != 0) {
			ret = cli_usage_error(err.message);
			goto out;
		}
		snprintf(sel, sizeof(sel), "%s%s", o.gateways != NULL ? "ids:" : o.tag != NULL ?
			"tag:" : o.tenant != NULL ? "tenant:" : "all", o.gateways != NULL ? o.gateways :
			o.tag != NULL ? o.tag : o.tenant != NULL ? o.tenant : "");
		memset(&spec, 0, sizeof(spec));
		spec.name = o.name;
		spec.image_id = image;
		spec.selection = sel;
		spec.ngroups = (int)groups;
		spec.canary = (int)canary;
		spec.success_pct = (int)success;
		spec.error_pct = (int)error;
		spec.window = o.window;
		if (rollout_create(store, &who, &spec, &rid, &err) != TW_OK)
			ret = cli_fail("rollout create", &err);
		else {
			printf("rollout %lld created; it starts after approval (torwart rollout approve "
				"--id %lld, four-eyes rollout.start)\n", (long long)rid, (long long)rid);
			ret = 0;
		}
	} else if (strcmp(sub, "list") == 0) {
		printf("%-5s %-10s %-24s %-6s %-7s %-28s %s\n", "ID", "STATE", "NAME", "IMAGE",
			"GROUP", "TARGETS", "REASON");
		if (store_rollout_foreach(store, o.state, print_row, &count, &err) != TW_OK)
			ret = cli_fail("rollout list", &err);
		else {
			printf("%zu rollout%s\n", count, count == 1 ? "" : "s");
			ret = 0;
		}
	} else if (strcmp(sub, "show") == 0) {
		if (o.watch) {
			ret = watch(store, id, &err);
			goto out;
		}
		if (store_rollout_get(store, id, &r, &err) != TW_OK) {
			ret = cli_fail("rollout show", &err);
			goto out;
		}
		print_one(&r);
		ret = print_groups(store, &r, false, &err) == TW_OK ? 0 :
			cli_fail("rollout show", &err);
	} else if (strcmp(sub, "approve") == 0 || strcmp(sub, "pause") == 0 ||
	    strcmp(sub, "resume") == 0 || strcmp(sub, "cancel") == 0) {
		tw_rc rc = strcmp(sub, "approve") == 0 ? rollout_start(store, &who, id, &err) :
			strcmp(sub, "pause") == 0 ? rollout_pause(store, &who, id, o.reason, &err) :
			strcmp(sub, "resume") == 0 ? rollout_resume(store, &who, id, &err) :
			rollout_cancel(store, &who, id, o.reason, &err);

		if (rc != TW_OK)
			ret = cli_fail("rollout", &err);
		else {
			printf("rollout %ld: %s done\n", id, sub);
			ret = 0;
		}
	} else {
		ret = cli_usage_error(ro_usage);
	}
out:
	store_close(store);
	tw_home_free(home);
	return ret;
}
