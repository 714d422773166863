/*
 * cli_renewal.c: `torwart gateway renew` (start certificate renewals, UC-3.3.3) and
 * `torwart renewal list|show|wait` (their visible workflow state). Thin adapter over
 * src/gwa/renewal.h; docs/renewal.md.
 *
 * Exit status: 0 ok, 1 failure or refusal (one line says why), 2 usage; `wait` and
 * `renew --wait`: 1 when a renewal ended failed, 5 when --wait-timeout ran out.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/crl_push.h"
#include "gwa/renewal.h"
#include "pki/profile.h"
#include "pki/reqgen.h"

#define CLI_RENEWAL_WAIT_TIMEOUT 5

struct rn_opts {
	const char *home, *gateway, *gateways, *tag, *tenant, *state, *id, *limit;
	const char *wait_timeout;
	int wait;
};

static int renewal_parse(int argc, char **argv, struct rn_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "gateways", required_argument, NULL, 'G' },
		{ "tag", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "state", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'l' },
		{ "wait", no_argument, NULL, 'w' },
		{ "wait-timeout", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'G': o->gateways = optarg; break;
		case 't': o->tag = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 's': o->state = optarg; break;
		case 'i': o->id = optarg; break;
		case 'l': o->limit = optarg; break;
		case 'w': o->wait = 1; break;
		case 'W': o->wait_timeout = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static bool rn_final(const char *state)
{
	return strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0;
}

/* Error codes and texts come from gateways and remote CAs: shown escaped (cli_esc). */
static int print_row(const struct store_renewal *r, void *arg)
{
	struct cli_esc e = { 0 };
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(r->updated_ms, when, sizeof(when));
	printf("%-6lld %-24s %-11s %-8s %-24s %s\n", (long long)r->id, cli_esc(&e, r->gateway_id),
		cli_esc(&e, r->state), cli_esc(&e, r->reason), when,
		r->error_code[0] ? cli_esc(&e, r->error_code) : "-");
	cli_esc_free(&e);
	return 0;
}

static void print_one(const struct store_renewal *r)
{
	struct cli_esc e = { 0 };
	char when[40];

	printf("renewal:      %lld\ngateway:      %s\nstate:        %s\nreason:       %s\n"
		"started by:   %s\n", (long long)r->id, cli_esc(&e, r->gateway_id),
		cli_esc(&e, r->state), cli_esc(&e, r->reason), cli_esc(&e, r->actor));
	tw_time_format_utc(r->created_ms, when, sizeof(when));
	printf("created:      %s\n", when);
	tw_time_format_utc(r->updated_ms, when, sizeof(when));
	printf("updated:      %s\n", when);
	printf("request job:  %lld\ninstall job:  %lld\nrequest:      %zu bytes\n",
		(long long)r->request_job, (long long)r->install_job, r->request_len);
	printf("old certs:    %s\nnew certs:    %s\n", r->old_certs[0] ? r->old_certs : "-",
		r->new_certs[0] ? r->new_certs : "-");
	if (r->revoke_at_ms > 0) {
		tw_time_format_utc(r->revoke_at_ms, when, sizeof(when));
		printf("revoke old:   %s\n", when);
	}
	if (r->error_code[0] != '\0')
		printf("error:        %s: %s\n", cli_esc(&e, r->error_code), cli_esc(&e, r->error));
	cli_esc_free(&e);
}

/* Wait until renewals first..first+n-1 of this start are final. */
struct rn_count {
	int64_t min_id;
	int64_t total, final, failed;
};

static int count_row(const struct store_renewal *r, void *arg)
{
	struct rn_count *c = arg;

	if (r->id < c->min_id)
		return 0;
	c->total++;
	if (rn_final(r->state))
		c->final++;
	if (strcmp(r->state, "failed") == 0)
		c->failed++;
	return 0;
}

static int rn_wait(struct tw_store *store, int64_t first, int64_t n, const char *gateway,
	long timeout_s, struct tw_error *err)
{
	int64_t end = tw_monotonic_ms() + timeout_s * 1000L;
	bool tty = isatty(STDOUT_FILENO) == 1;

	for (;;) {
		struct rn_count c = { .min_id = first };

		if (store_renewal_foreach(store, NULL, gateway, n > 1000 ? n : 0, count_row, &c,
		    err) != TW_OK)
			return 1;
		printf("%s%lld/%lld renewals final, %lld failed%s", tty ? "\r" : "",
			(long long)c.final, (long long)n, (long long)c.failed, tty ? "" : "\n");
		fflush(stdout);
		if (c.final >= n) {
			if (tty)
				printf("\n");
			return c.failed > 0 ? 1 : 0;
		}
		if (tw_monotonic_ms() > end) {
			if (tty)
				printf("\n");
			return CLI_RENEWAL_WAIT_TIMEOUT;
		}
		usleep(tty ? 200000 : 2000000);
	}
}

static char *rn_selection(const struct rn_opts *o)
{
	int n = (o->gateway != NULL) + (o->gateways != NULL) + (o->tag != NULL) +
		(o->tenant != NULL);

	if (n != 1)
		return NULL;
	if (o->gateway != NULL)
		return tw_asprintf("id:%s", o->gateway);
	if (o->gateways != NULL)
		return strcmp(o->gateways, "all") == 0 ? tw_strdup("all") :
			tw_asprintf("ids:%s", o->gateways);
	if (o->tag != NULL)
		return tw_asprintf("tag:%s", o->tag);
	return tw_asprintf("tenant:%s", o->tenant);
}

int cli_gateway_renew(int argc, char **argv)
{
	struct rn_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	struct job_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	char *sel = NULL;
	long wait_timeout = 600;
	int64_t first = 0, started = 0, skipped = 0, count = 0;
	int status = 1;
	tw_rc rc;

	tw_error_clear(&err);
	if (renewal_parse(argc, argv, &o) != 0 || o.home == NULL ||
	    (sel = rn_selection(&o)) == NULL)
		return cli_usage_error("usage: torwart gateway renew --home DIR (--gateway ID | "
			"--gateways all|ID,ID | --tag T | --tenant T) [--wait [--wait-timeout S]]");
	if (o.wait_timeout != NULL && tw_parse_long(o.wait_timeout, 1, 86400 * 7, &wait_timeout,
	    &err, "--wait-timeout") != TW_OK) {
		free(sel);
		return cli_usage_error(err.message);
	}
	if ((rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK)
		goto out;
	/* Through the api: never more gateways than it counted for its four-eyes decision. */
	if (o.gateway == NULL && cli_fleet_max() > 0 &&
	    (rc = job_fleet_count(store, sel, &count, &err)) == TW_OK && count > cli_fleet_max())
		rc = tw_error_set(&err, TW_E_DENIED, "the selection now reaches %lld gateways, more "
			"than the %lld the api checked: nothing was started; run the command again",
			(long long)count, (long long)cli_fleet_max());
	if (rc == TW_OK) {
		struct renewal_orders_cfg oc;

		renewal_orders_cfg_load(home->conf, &oc);
		rc = renewal_start(store, sel, "operator", &oc, &who, &first, &started, &skipped,
			&err);
	}
	if (rc != TW_OK)
		goto out;
	printf("renewal%s started for %lld gateway%s (%s)%s", started == 1 ? "" : "s",
		(long long)started, started == 1 ? "" : "s", sel, first > 0 ? ", first id " : "");
	if (first > 0)
		printf("%lld", (long long)first);
	if (skipped > 0)
		printf("; %lld skipped (a renewal is open)", (long long)skipped);
	printf("\n");
	status = o.wait && started > 0 ? rn_wait(store, first, started, o.gateway, wait_timeout,
		&err) : 0;
	if (status == 1 && err.message[0] != '\0')
		goto out;
	goto done;
out:
	status = cli_fail("gateway renew", &err);
done:
	free(sel);
	store_close(store);
	tw_home_free(home);
	return status;
}

static const char rn_usage[] =
	"usage: torwart renewal list --home DIR [--gateway ID] [--state S] [--limit N]\n"
	"       torwart renewal show --home DIR --id N\n"
	"       torwart renewal wait --home DIR --id N [--wait-timeout S]";

int cli_renewal(const char *sub, int argc, char **argv)
{
	struct rn_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	struct store_renewal r;
	long id = 0, limit = 0, wait_timeout = 600;
	size_t count = 0;
	int status = 1;

	tw_error_clear(&err);
	memset(&r, 0, sizeof(r));
	if (sub == NULL || renewal_parse(argc, argv, &o) != 0 || o.home == NULL)
		return cli_usage_error(rn_usage);
	if ((strcmp(sub, "show") == 0 || strcmp(sub, "wait") == 0) && (o.id == NULL ||
	    tw_parse_long(o.id, 1, LONG_MAX, &id, &err, "renewal id") != TW_OK))
		return cli_usage_error(o.id == NULL ? "renewal show/wait need --id N" : err.message);
	if (o.limit != NULL && tw_parse_long(o.limit, 1, 100000, &limit, &err, "--limit") !=
	    TW_OK)
		return cli_usage_error(err.message);
	if (o.wait_timeout != NULL && tw_parse_long(o.wait_timeout, 1, 86400 * 7, &wait_timeout,
	    &err, "--wait-timeout") != TW_OK)
		return cli_usage_error(err.message);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK)
		goto fail;
	if (strcmp(sub, "list") == 0) {
		printf("%-6s %-24s %-11s %-8s %-24s %s\n", "ID", "GATEWAY", "STATE", "REASON",
			"UPDATED (UTC)", "ERROR");
		if (store_renewal_foreach(store, o.state, o.gateway, limit, print_row, &count,
		    &err) != TW_OK)
			goto fail;
		status = 0;
	} else if (strcmp(sub, "show") == 0) {
		if (store_renewal_get(store, id, &r, &err) != TW_OK)
			goto fail;
		print_one(&r);
		status = 0;
	} else if (strcmp(sub, "wait") == 0) {
		if (store_renewal_get(store, id, &r, &err) != TW_OK)
			goto fail;
		status = rn_wait(store, id, 1, r.gateway_id, wait_timeout, &err);
		if (status == 1 && err.message[0] != '\0')
			goto fail;
	} else {
		status = cli_usage_error(rn_usage);
	}
	goto out;
fail:
	status = cli_fail("renewal", &err);
out:
	store_renewal_clear(&r);
	store_close(store);
	tw_home_free(home);
	return status;
}

/* ---- gateway crl-push: the home's published SM-PKI CRLs to gateways ---- */

int cli_gateway_crl_push(int argc, char **argv)
{
	struct rn_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	struct job_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	struct job_spec spec;
	json_t *payload = NULL;
	char *sel = NULL;
	int64_t id = 0, batch = 0, count = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (renewal_parse(argc, argv, &o) != 0 || o.home == NULL ||
	    (sel = rn_selection(&o)) == NULL)
		return cli_usage_error("usage: torwart gateway crl-push --home DIR (--gateway ID | "
			"--gateways all|ID,ID | --tag T | --tenant T)");
	if ((rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK ||
	    (rc = crl_push_payload(home, &payload, NULL, &err)) != TW_OK)
		goto out;
	spec = (struct job_spec){ .type = order_type_crl_update.name, .payload = payload,
		.retry_delay_s = -1 };
	/* Through the api: never more gateways than it counted for its four-eyes decision. */
	if (o.gateway == NULL && cli_fleet_max() > 0 &&
	    (rc = job_fleet_count(store, sel, &count, &err)) == TW_OK && count > cli_fleet_max())
		rc = tw_error_set(&err, TW_E_DENIED, "the selection now reaches %lld gateways, more "
			"than the %lld the api checked: nothing was ordered; run the command again",
			(long long)count, (long long)cli_fleet_max());
	if (rc != TW_OK)
		goto out;
	if (o.gateway != NULL) {
		if ((rc = job_create(store, o.gateway, &spec, &who, &id, &err)) == TW_OK)
			printf("job %lld created: crl-update for %s\n", (long long)id, o.gateway);
	} else if ((rc = job_create_fleet(store, sel, &spec, &who, &batch, &count, &err)) ==
		   TW_OK) {
		printf("fleet order %lld created: crl-update for %lld gateways (%s)\n",
			(long long)batch, (long long)count, sel);
	}
out:
	json_decref(payload);
	free(sel);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("gateway crl-push", &err);
}
