/*
 * cli_job.c: `torwart job create|list|show|cancel|types|wait` (docs/jobs.md) and
 * `torwart gateway set` (tags, tenant, wake-up address: what fleet selection and
 * wake-ups need); here only its options, gateway_set in gwa/gateway.c does the work.
 *
 * Exit status: 0 success; 1 failure; 2 usage; with --wait also 1 when some job of the
 * order ended failed, timed-out or cancelled, 5 when --wait-timeout ran out first.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/progress.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/gateway.h"
#include "auth/command.h"
#include "gwa/job.h"
#include "gwa/order.h"
#include "store/store_jobs.h"

#define CLI_JOB_WAIT_EXPIRED 5

struct job_opts {
	const char *home, *type, *payload, *gateway, *gateways, *tag, *tenant, *state;
	const char *add_tag, *remove_tag, *wakeup, *move_tenant;
	long id, batch, timeout, attempts, retry_delay, limit, wait_timeout;
	int wait;
};

static int job_parse(int argc, char **argv, struct job_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "type", required_argument, NULL, 't' },
		{ "payload", required_argument, NULL, 'p' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "gateways", required_argument, NULL, 'G' }, { "tag", required_argument, NULL, 'T' },
		{ "tenant", required_argument, NULL, 'N' }, { "state", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' }, { "batch", required_argument, NULL, 'b' },
		{ "gateway-id", required_argument, NULL, 'g' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "retry-delay", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'l' }, { "wait", no_argument, NULL, 'w' },
		{ "wait-timeout", required_argument, NULL, 'W' },
		{ "add-tag", required_argument, NULL, 'A' },
		{ "remove-tag", required_argument, NULL, 'R' },
		{ "wakeup", required_argument, NULL, 'U' },
		{ "move-tenant", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 }
	};
	struct tw_error err;
	long *num, min, max;
	const char *what;
	int c;

	memset(o, 0, sizeof(*o));
	o->retry_delay = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		num = NULL;
		what = NULL;
		min = 1;
		max = 1000000000L;
		switch (c) {
		case 'H': o->home = optarg; break;
		case 't': o->type = optarg; break;
		case 'p': o->payload = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'G': o->gateways = optarg; break;
		case 'T': o->tag = optarg; break;
		case 'N': o->tenant = optarg; break;
		case 's': o->state = optarg; break;
		case 'A': o->add_tag = optarg; break;
		case 'R': o->remove_tag = optarg; break;
		case 'U': o->wakeup = optarg; break;
		case 'M': o->move_tenant = optarg; break;
		case 'w': o->wait = 1; break;
		/* Each number with its own range: a 0 that silently became a default (3
		 * attempts, 300 s) surprised operators, so 0 is refused where it is no value. */
		case 'i': num = &o->id; what = "--id"; break;
		case 'b': num = &o->batch; what = "--batch"; break;
		case 'o': num = &o->timeout; what = "--timeout (seconds)"; max = JOB_MAX_TIMEOUT_S;
			break;
		case 'a': num = &o->attempts; what = "--attempts"; max = 100; break;
		case 'r': num = &o->retry_delay; what = "--retry-delay (seconds)"; min = 0;
			max = JOB_MAX_TIMEOUT_S; break;
		case 'l': num = &o->limit; what = "--limit"; break;
		case 'W': num = &o->wait_timeout; what = "--wait-timeout (seconds)"; break;
		default: return -1;
		}
		if (num != NULL && tw_parse_long(optarg, min, max, num, &err, what) != TW_OK) {
			fprintf(stderr, "torwart: %s\n", err.message);
			return -2;   /* said what is wrong: no general usage line after it */
		}
	}
	return optind == argc ? 0 : -1;
}

/* "all", "ids:A,B", "tag:T", "tenant:T" from the options; NULL if none or several. */
static char *job_selection(const struct job_opts *o)
{
	int n = (o->gateways != NULL) + (o->tag != NULL) + (o->tenant != NULL);

	if (n != 1)
		return NULL;
	if (o->gateways != NULL)
		return strcmp(o->gateways, "all") == 0 ? tw_strdup("all") :
			tw_asprintf("ids:%s", o->gateways);
	if (o->tag != NULL)
		return tw_asprintf("tag:%s", o->tag);
	return tw_asprintf("tenant:%s", o->tenant);
}

static void job_who(struct job_actor *who)
{
	who->actor = cli_actor();
	who->role = cli_role;
	who->client = cli_client();
}


/* The progress text of a fleet order: the final count first, then what is still open. */
static void job_progress_text(char *line, size_t n, const int64_t c[JOB__STATES], int64_t total)
{
	int64_t open = c[JOB_CREATED] + c[JOB_WAKING] + c[JOB_AWAITING] + c[JOB_SENT];

	snprintf(line, n, "%lld/%lld finished: %lld done, %lld failed, %lld timed-out, "
		"%lld cancelled | open: %lld created, %lld waking, %lld awaiting-connection, "
		"%lld sent", (long long)(total - open), (long long)total,
		(long long)c[JOB_DONE], (long long)c[JOB_FAILED], (long long)c[JOB_TIMED_OUT],
		(long long)c[JOB_CANCELLED], (long long)c[JOB_CREATED], (long long)c[JOB_WAKING],
		(long long)c[JOB_AWAITING], (long long)c[JOB_SENT]);
}

static int count_state(const struct store_job *j, void *arg)
{
	((int64_t *)arg)[j->state]++;
	return 0;
}

/*
 * counts[state] of a fleet order as this store handle sees it: on a tenant-scoped handle
 * only the tenant's own jobs (store_job_counts counts all), and a fleet order with no
 * visible job is "no fleet order N" whether it is another tenant's or does not exist.
 */
static tw_rc job_batch_counts(struct tw_store *store, int64_t batch, int64_t c[JOB__STATES],
	struct tw_error *err)
{
	int64_t total = 0;
	tw_rc rc;

	memset(c, 0, sizeof(int64_t) * JOB__STATES);
	if (store_scoped_tenant(store) != 0) {
		struct store_job_filter f = { NULL, batch, -1, 0, 0 };

		rc = store_job_foreach(store, &f, count_state, c, err);
	} else {
		rc = store_job_counts(store, batch, c, err);
	}
	for (int i = 0; rc == TW_OK && i < JOB__STATES; i++)
		total += c[i];
	if (rc == TW_OK && total == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "there is no fleet order %lld",
			(long long)batch);
	return rc;
}

/*
 * Follow a batch (or one job when job_id > 0) until final or wait_timeout. The running
 * count goes to stderr through the progress display (in place on a terminal, a plain line
 * every few seconds otherwise); the final count is the command's result and goes to stdout.
 */
static int job_wait(struct tw_store *store, int64_t batch, int64_t job_id, long wait_timeout,
	struct tw_error *err)
{
	struct tw_progress prog;
	int64_t deadline = tw_monotonic_ms() + (wait_timeout > 0 ? wait_timeout * 1000 :
		INT64_MAX / 2);
	int64_t c[JOB__STATES];
	char line[PROGRESS_LINE_MAX];

	tw_progress_stderr(&prog);
	for (;;) {
		int64_t total = 0, now = tw_monotonic_ms();
		bool final;

		if (job_id > 0) {
			struct store_job j;

			if (store_job_get(store, job_id, &j, err) != TW_OK) {
				tw_progress_clear(&prog);
				return 1;
			}
			memset(c, 0, sizeof(c));
			c[j.state] = 1;
			store_job_clear(&j);
		} else if (job_batch_counts(store, batch, c, err) != TW_OK) {
			tw_progress_clear(&prog);
			return 1;
		}
		for (int i = 0; i < JOB__STATES; i++)
			total += c[i];
		final = c[JOB_CREATED] + c[JOB_WAKING] + c[JOB_AWAITING] + c[JOB_SENT] == 0;
		job_progress_text(line, sizeof(line), c, total);
		if (final || now >= deadline) {
			tw_progress_clear(&prog);
			printf("%s\n", line);
			fflush(stdout);
		} else {
			tw_progress_update_at(&prog, now, "%s", line);
		}
		if (final)
			return c[JOB_DONE] == total ? 0 : 1;
		if (now >= deadline) {
			fprintf(stderr, "torwart: still running after %ld s; follow it with torwart job "
				"list --home DIR --batch %lld\n", wait_timeout, (long long)batch);
			return CLI_JOB_WAIT_EXPIRED;
		}
		usleep(250 * 1000);
	}
}

static int cmd_job_create(const struct job_opts *o)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	struct job_spec spec;
	struct job_actor who;
	json_t *payload = NULL;
	json_error_t je;
	char *sel = NULL;
	int64_t id = 0, batch = 0, count = 0;
	int status = 1;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->type == NULL || ((o->gateway != NULL) ==
	    (o->gateways != NULL || o->tag != NULL || o->tenant != NULL)))
		return cli_usage_error("job create needs --home DIR --type T and one of --gateway "
			"ID, --gateways all|ID,ID, --tag T, --tenant T");
	payload = json_loads(o->payload != NULL ? o->payload : "{}", JSON_REJECT_DUPLICATES, &je);
	if (payload == NULL) {
		rc = tw_error_set(&err, TW_E_INVALID, "--payload is not JSON: %s", je.text);
		goto out;
	}
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.type = o->type;
	spec.payload = payload;
	spec.timeout_s = o->timeout;
	spec.max_attempts = (int)o->attempts;
	spec.retry_delay_s = o->retry_delay;
	job_who(&who);
	if (o->gateway != NULL) {
		rc = job_create(store, o->gateway, &spec, &who, &id, &err);
		if (rc == TW_OK) {
			char address[STORE_ADDRESS_MAX + 1];
			struct tw_error ignored;
			bool found = true;

			printf("job %lld created: %s for %s\n", (long long)id, o->type, o->gateway);
			/* Without a wake-up address nobody can call the gateway: the job (and the
			 * gateway's later jobs behind it) waits for its next own contact. Say so
			 * rather than leave the operator watching a job that does not move. */
			if (store_gateway_wakeup_get(store, o->gateway, address, &found, &ignored) ==
			    TW_OK && !found)
				fprintf(stderr, "torwart: note: gateway %s has no wake-up address "
					"(torwart gateway set --wakeup HOST:PORT): the job runs at the "
					"gateway's next own contact and times out otherwise\n", o->gateway);
		}
	} else {
		if ((sel = job_selection(o)) == NULL) {
			status = cli_usage_error("give exactly one of --gateways, --tag, --tenant");
			goto done;
		}
		/* Through the api: never more gateways than the api counted for its four-eyes
		 * decision (or the approver saw); a selection that grew since is refused. */
		if (cli_fleet_max() > 0 && (rc = job_fleet_count(store, sel, &count, &err)) ==
		    TW_OK && count > cli_fleet_max())
			rc = tw_error_set(&err, TW_E_DENIED, "the selection now reaches %lld gateways, "
				"more than the %lld the api checked: nothing was ordered; run the "
				"command again", (long long)count, (long long)cli_fleet_max());
		if (rc == TW_OK)
			rc = job_create_fleet(store, sel, &spec, &who, &batch, &count, &err);
		if (rc == TW_OK)
			printf("fleet order %lld created: %s for %lld gateways (%s)\n",
				(long long)batch, o->type, (long long)count, sel);
	}
	if (rc != TW_OK) {
		struct tw_error ignored;

		/* Bad input changes nothing, but the attempt is logged. */
		cli_audit(store, "job.create", o->gateway != NULL ? o->gateway : "fleet", "refused",
			err.message, &ignored);
		goto out;
	}
	status = o->wait ? job_wait(store, batch, id, o->wait_timeout, &err) : 0;
	if (status == 1 && err.message[0] != '\0')
		goto out;
	goto done;
out:
	status = cli_fail("job create", &err);
done:
	json_decref(payload);
	free(sel);
	store_close(store);
	tw_home_free(home);
	return status;
}

static int print_job(const struct store_job *j, void *arg)
{
	struct cli_esc e = { .n = 0 };
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(j->updated_ms, when, sizeof(when));
	printf("%-8lld %-6lld %-20s %-14s %-20s %d/%-3d %s %s\n", (long long)j->id,
		(long long)j->batch_id, cli_esc(&e, j->gateway_id), cli_esc(&e, j->type),
		store_job_state_name(j->state), j->attempts, j->max_attempts, when,
		cli_esc(&e, j->error));
	cli_esc_free(&e);
	return 0;
}

static int cmd_job_list(const struct job_opts *o)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_job_filter f;
	struct tw_error err;
	size_t n = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return cli_usage_error("job list needs --home DIR");
	memset(&f, 0, sizeof(f));
	f.gateway_id = o->gateway;
	f.batch_id = o->batch;
	f.limit = o->limit > 0 ? (size_t)o->limit : 0;
	f.state = o->state != NULL ? store_job_state_parse(o->state) : -1;
	if (o->state != NULL && f.state < 0)
		return cli_usage_error("--state: created, waking, awaiting-connection, sent, done, "
			"failed, timed-out or cancelled");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	/* An unknown gateway (or another tenant's) is an error, not an empty list: a typo
	 * must not read as "this gateway has no jobs". */
	if (o->gateway != NULL) {
		struct store_gateway gw;

		if ((rc = store_gateway_get(store, o->gateway, &gw, &err)) != TW_OK)
			goto out;
	}
	printf("%-8s %-6s %-20s %-14s %-20s %-5s %-24s %s\n", "JOB", "BATCH", "GATEWAY", "TYPE",
		"STATE", "TRY", "UPDATED (UTC)", "ERROR");
	if ((rc = store_job_foreach(store, &f, print_job, &n, &err)) == TW_OK)
		printf("%zu job%s\n", n, n == 1 ? "" : "s");
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("job list", &err);
}

static int cmd_job_show(const struct job_opts *o)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_job j;
	struct tw_error err;
	struct cli_esc e = { .n = 0 };
	char c[40], u[40], n[40], d[40];
	tw_rc rc;

	tw_error_clear(&err);
	memset(&j, 0, sizeof(j));
	if (o->home == NULL || o->id <= 0)
		return cli_usage_error("job show needs --home DIR --id N");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK ||
	    (rc = store_job_get(store, o->id, &j, &err)) != TW_OK)
		goto out;
	tw_time_format_utc(j.created_ms, c, sizeof(c));
	tw_time_format_utc(j.updated_ms, u, sizeof(u));
	tw_time_format_utc(j.next_ms, n, sizeof(n));
	if (j.deadline_ms > 0)
		tw_time_format_utc(j.deadline_ms, d, sizeof(d));
	else
		snprintf(d, sizeof(d), "-");
	printf("job:       %lld\nbatch:     %lld\ngateway:   %s\ntype:      %s\nstate:     %s\n"
		"attempts:  %d of %d (timeout %lld s, retry delay %lld s doubling)\n"
		"created:   %s by %s\nupdated:   %s\nnext:      %s\ndeadline:  %s\n"
		"payload:   %s\nresult:    %s\nerror:     %s\n", (long long)j.id,
		(long long)j.batch_id, cli_esc(&e, j.gateway_id), cli_esc(&e, j.type),
		store_job_state_name(j.state), j.attempts, j.max_attempts,
		(long long)(j.timeout_ms / 1000), (long long)(j.retry_delay_ms / 1000), c,
		cli_esc(&e, j.actor), u, n, d, cli_esc(&e, j.payload),
		j.result != NULL && j.result[0] != '\0' ? cli_esc(&e, j.result) : "-",
		j.error[0] != '\0' ? cli_esc(&e, j.error) : "-");
	cli_esc_free(&e);
out:
	store_job_clear(&j);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("job show", &err);
}

struct cancel_ctx {
	int64_t *ids;
	size_t n, cap;
};

static int collect_open(const struct store_job *j, void *arg)
{
	struct cancel_ctx *c = arg;

	if (!store_job_state_open(j->state))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		int64_t *ids = realloc(c->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return 1;
		c->ids = ids;
		c->cap = cap;
	}
	c->ids[c->n++] = j->id;
	return 0;
}

static int cmd_job_cancel(const struct job_opts *o)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct cancel_ctx c = { NULL, 0, 0 };
	struct job_actor who;
	struct tw_error err;
	size_t done = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || (o->id > 0) == (o->batch > 0))
		return cli_usage_error("job cancel needs --home DIR and --id N or --batch N");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	job_who(&who);
	if (o->id > 0) {
		if ((rc = job_cancel(store, o->id, &who, &err)) == TW_OK)
			printf("job %ld cancelled\n", o->id);
		goto out;
	}
	{
		struct store_job_filter f = { NULL, o->batch, -1, 0, 0 };
		int64_t counts[JOB__STATES];

		/* Another tenant's fleet order is "no fleet order N", like a missing one. */
		if ((rc = job_batch_counts(store, o->batch, counts, &err)) != TW_OK ||
		    (rc = store_job_foreach(store, &f, collect_open, &c, &err)) != TW_OK)
			goto out;
	}
	for (size_t i = 0; i < c.n; i++) {
		tw_rc r = job_cancel(store, c.ids[i], &who, &err);

		if (r == TW_OK)
			done++;
		else if (r != TW_E_EXISTS) {
			rc = r;
			goto out;
		}
	}
	printf("fleet order %ld: %zu open jobs cancelled\n", o->batch, done);
out:
	free(c.ids);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("job cancel", &err);
}

static void print_type(const struct order_type *t, void *arg)
{
	(void)arg;
	printf("%-22s %s\n", t->name, t->summary != NULL ? t->summary : "");
}

/* ---- torwart gateway set ---- */

/* `torwart gateway set`: parses the options; gateway_set (gwa/gateway.h) does the work. */
int cli_gateway_set(int argc, char **argv)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct gateway_selection sel;
	struct gateway_change ch;
	struct job_opts o;
	struct tw_error err;
	size_t n = 0;
	tw_rc rc;

	tw_error_clear(&err);
	int parsed = job_parse(argc, argv, &o);

	if (parsed == -2)
		return 2;
	if (parsed != 0 || o.home == NULL ||
	    (o.add_tag == NULL && o.remove_tag == NULL && o.wakeup == NULL &&
	     o.move_tenant == NULL))
		return cli_usage_error("usage: torwart gateway set --home DIR (--gateway ID | "
			"--gateways all|ID,ID | --tag T | --tenant T) [--add-tag T] [--remove-tag T] "
			"[--wakeup HOST:PORT|none] [--move-tenant NAME]");
	if (o.gateway == NULL && o.gateways == NULL && o.tag == NULL && o.tenant == NULL)
		return cli_usage_error("gateway set: select gateways with --gateway ID, --gateways, "
			"--tag or --tenant");
	if ((rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK)
		goto out;
	sel = (struct gateway_selection){ .gateway = o.gateway, .gateways = o.gateways,
		.tag = o.tag, .tenant = o.tenant };
	ch = (struct gateway_change){ .add_tag = o.add_tag, .remove_tag = o.remove_tag,
		.wakeup = o.wakeup, .move_tenant = o.move_tenant };
	rc = gateway_set(store, &sel, &ch, cli_actor(), cli_role, cli_client(), &n, &err);
	if (rc == TW_OK)
		printf("torwart: %zu gateway%s updated\n", n, n == 1 ? "" : "s");
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("gateway set", &err);
}

/*
 * Fleet orders, newest first, each with its progress: what an operator looks at after
 * ordering (job wait follows one, this shows all). Through the api a tenant's operator
 * sees the fleet orders that reached its gateways, counted over its own jobs only.
 */
static int cmd_job_batches(const struct job_opts *o)
{
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_job_batch *b = NULL;
	struct tw_error err;
	size_t n = 0, shown = 0, max = o->limit > 0 ? (size_t)o->limit : 50;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return cli_usage_error("job batches needs --home DIR");
	if (max > 10000)
		max = 10000;
	if ((b = calloc(max, sizeof(*b))) == NULL)
		return cli_usage_error("out of memory");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK ||
	    (rc = store_job_batch_list(store, 0, b, max, &n, &err)) != TW_OK)
		goto out;
	printf("%-6s %-24s %-14s %6s %6s %6s %6s %6s  %s\n", "BATCH", "CREATED (UTC)", "TYPE",
		"TOTAL", "DONE", "FAILED", "ENDED", "OPEN", "SELECTION");
	for (size_t i = 0; i < n; i++) {
		int64_t c[JOB__STATES], open = 0, total = 0;
		char when[40], sel[2 * STORE_TEXT_MAX];

		if ((rc = job_batch_counts(store, b[i].id, c, &err)) == TW_E_NOT_FOUND) {
			rc = TW_OK;   /* none of this operator's gateways: not shown */
			continue;
		}
		if (rc != TW_OK)
			goto out;
		for (int st = 0; st < JOB__STATES; st++) {
			total += c[st];
			if (store_job_state_open((enum store_job_state)st))
				open += c[st];
		}
		tw_time_format_utc(b[i].created_ms, when, sizeof(when));
		printf("%-6lld %-24s %-14s %6lld %6lld %6lld %6lld %6lld  %s\n",
			(long long)b[i].id, when, b[i].type, (long long)total,
			(long long)c[JOB_DONE], (long long)c[JOB_FAILED],
			(long long)(c[JOB_TIMED_OUT] + c[JOB_CANCELLED]), (long long)open,
			auth_text_escape(b[i].selection, sel, sizeof(sel)));
		shown++;
	}
	printf("%zu fleet order%s\n", shown, shown == 1 ? "" : "s");
out:
	free(b);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("job batches", &err);
}

int cli_job(const char *sub, int argc, char **argv)
{
	struct job_opts o;
	int parsed = sub != NULL ? job_parse(argc, argv, &o) : -1;

	if (parsed == -2)
		return 2;
	if (parsed != 0)
		return cli_usage_error("usage: torwart job create|list|batches|show|cancel|types|wait ...");
	if (strcmp(sub, "create") == 0)
		return cmd_job_create(&o);
	if (strcmp(sub, "list") == 0)
		return cmd_job_list(&o);
	if (strcmp(sub, "batches") == 0)
		return cmd_job_batches(&o);
	if (strcmp(sub, "show") == 0)
		return cmd_job_show(&o);
	if (strcmp(sub, "cancel") == 0)
		return cmd_job_cancel(&o);
	if (strcmp(sub, "types") == 0) {
		order_foreach(print_type, NULL);
		return 0;
	}
	if (strcmp(sub, "wait") == 0) {
		struct tw_home *home = NULL;
		struct tw_store *store = NULL;
		struct tw_error err;
		int status;

		tw_error_clear(&err);
		if (o.home == NULL || (o.id > 0) == (o.batch > 0))
			return cli_usage_error("job wait needs --home DIR and --id N or --batch N");
		if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK)
			return cli_fail("job wait", &err);
		status = job_wait(store, o.batch, o.id, o.wait_timeout, &err);
		if (status == 1 && err.message[0] != '\0')
			status = cli_fail("job wait", &err);
		store_close(store);
		tw_home_free(home);
		return status;
	}
	return cli_usage_error("unknown job command; use create, list, batches, show, cancel, types, "
		"wait");
}
