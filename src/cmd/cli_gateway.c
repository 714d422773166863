/* cli_gateway.c: `torwart gateway add|list|show`: the inventory from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/command.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "store/store_auth.h"
#include "store/store_ca.h"
#include "store/store_jobs.h"
#include "crypto/signer.h"
#include "gwa/gateway.h"
#include "crypto/secretbox.h"


static int cmd_gateway_add(const struct cli_options *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct secretbox *box = NULL;
	char *out_dir = NULL;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->id == NULL)
		return cli_usage_error("gateway add needs --home DIR and --id SMGW-ID");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if (o->out != NULL)
		out_dir = tw_strdup(o->out);
	else if (gateway_id_valid(o->id))
		out_dir = tw_asprintf("%s/gateways/%s", home->dir, o->id);
	else
		out_dir = tw_strdup("(invalid)");
	if (out_dir == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = signer_client_open(home, false, &sc, &err)) != TW_OK)
		goto out;
	signer_client_set_actor(sc, cli_actor(), cli_role);
	/* For the api, the output directory is in its spool: keys only sealed there. */
	if (cli_acting_for_api()) {
		if ((rc = secretbox_open(home, &box, &err)) != TW_OK)
			goto out;
		gateway_seal_keys(box);
	}
	rc = gateway_provision(home, store, sc, o->id, out_dir, cli_actor(), &err);
	if (rc != TW_OK) {
		struct tw_error ignored;

		cli_audit(store, "gateway.add", o->id, "error", err.message, &ignored);
		goto out;
	}
	printf("torwart: gateway %s registered; keys and certificates in %s\n", o->id, out_dir);
out:
	gateway_seal_keys(NULL);
	secretbox_free(box);
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	free(out_dir);
	return rc == TW_OK ? 0 : cli_fail("gateway add", &err);
}

static int print_gateway(const struct store_gateway *gw, void *arg)
{
	struct cli_esc e = { .n = 0 };
	char contact[40] = "never";

	(*(size_t *)arg)++;
	if (gw->last_contact_ms > 0)
		tw_time_format_utc(gw->last_contact_ms, contact, sizeof(contact));
	printf("%-24s %-12s %-26s %s\n", cli_esc(&e, gw->gateway_id), cli_esc(&e, gw->state),
		contact, gw->last_address[0] ? cli_esc(&e, gw->last_address) : "-");
	cli_esc_free(&e);
	return 0;
}

static int cmd_gateway_list(const struct cli_options *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	size_t count = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return cli_usage_error("gateway list needs --home DIR");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	printf("%-24s %-12s %-26s %s\n", "ID", "STATE", "LAST CONTACT (UTC)", "ADDRESS");
	rc = store_gateway_foreach(store, print_gateway, &count, &err);
	if (rc == TW_OK)
		printf("%zu gateway%s\n", count, count == 1 ? "" : "s");
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("gateway list", &err);
}

static int print_gateway_cert(const struct store_ca_cert *c, void *arg)
{
	char until[40], subject[2 * STORE_TEXT_MAX];

	(void)arg;
	tw_time_format_utc(c->not_after * 1000, until, sizeof(until));
	printf("  %-34s %-5s %-8s %-26s %s\n", c->serial_hex, c->usage, c->status, until,
		auth_text_escape(c->subject, subject, sizeof(subject)));
	return 0;
}

struct gateway_jobs {
	int64_t open[JOB__STATES];
	size_t total;
	struct store_job last;   /* the newest job; payload/result not kept */
};

static int count_gateway_job(const struct store_job *j, void *arg)
{
	struct gateway_jobs *g = arg;

	g->total++;
	if (store_job_state_open(j->state))
		g->open[j->state]++;
	g->last = *j;
	g->last.payload = NULL;
	g->last.result = NULL;
	return 0;
}

/*
 * One gateway on one screen: what an operator needs before ordering anything (tenant,
 * tags, wake-up address, certificates, the job queue). Another tenant's gateway through
 * the api reads like a missing one (store scope).
 */
static int cmd_gateway_show(const struct cli_options *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_gateway gw;
	struct store_job_filter f;
	struct gateway_jobs jobs;
	char tenant[STORE_ID_MAX + 1] = "?", tags[1024] = "", address[STORE_ADDRESS_MAX + 1];
	char when[40] = "never", created[40];
	bool has_wakeup = false;
	tw_rc rc;

	tw_error_clear(&err);
	memset(&jobs, 0, sizeof(jobs));
	if (o->home == NULL || o->id == NULL)
		return cli_usage_error("gateway show needs --home DIR and --id SMGW-ID");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK ||
	    (rc = store_gateway_get(store, o->id, &gw, &err)) != TW_OK ||
	    (rc = store_auth_tenant_name(store, gw.tenant_id, tenant, &err)) != TW_OK ||
	    (rc = store_gateway_tags(store, o->id, tags, sizeof(tags), &err)) != TW_OK ||
	    (rc = store_gateway_wakeup_get(store, o->id, address, &has_wakeup, &err)) != TW_OK)
		goto out;
	memset(&f, 0, sizeof(f));
	f.gateway_id = o->id;
	f.state = -1;
	if ((rc = store_job_foreach(store, &f, count_gateway_job, &jobs, &err)) != TW_OK)
		goto out;
	if (gw.last_contact_ms > 0)
		tw_time_format_utc(gw.last_contact_ms, when, sizeof(when));
	tw_time_format_utc(gw.created_ms, created, sizeof(created));
	printf("gateway:       %s\n", gw.gateway_id);
	printf("tenant:        %s\n", tenant);
	printf("state:         %s\n", gw.state);
	printf("registered:    %s\n", created);
	printf("last contact:  %s%s%s\n", when, gw.last_address[0] ? " from " : "",
		gw.last_address);
	printf("tags:          %s\n", tags[0] ? tags : "-");
	if (has_wakeup)
		printf("wake-up:       %s\n", address);
	else
		printf("wake-up:       none (jobs wait for the gateway's own contact; torwart gateway "
			"set --wakeup HOST:PORT)\n");
	printf("jobs:          %zu in all; open: %lld created, %lld waking, %lld "
		"awaiting-connection, %lld sent\n", jobs.total, (long long)jobs.open[JOB_CREATED],
		(long long)jobs.open[JOB_WAKING], (long long)jobs.open[JOB_AWAITING],
		(long long)jobs.open[JOB_SENT]);
	if (jobs.total > 0)
		printf("last job:      %lld %s %s\n", (long long)jobs.last.id, jobs.last.type,
			store_job_state_name(jobs.last.state));
	printf("certificates:\n  %-34s %-5s %-8s %-26s %s\n", "SERIAL", "USAGE", "STATUS",
		"NOT AFTER (UTC)", "SUBJECT");
	rc = store_ca_cert_foreach_owner(store, "smgw", o->id, print_gateway_cert, NULL, &err);
	if (rc == TW_OK)
		(void)cli_audit(store, "gateway.show", o->id, "ok", NULL, &err);
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("gateway show", &err);
}

int cli_gateway(const char *sub, int argc, char **argv)
{
	struct cli_options o;

	if (sub != NULL && (strcmp(sub, "logs") == 0 || strcmp(sub, "selftest") == 0))
		return cli_gateway_monitor(sub, argc, argv);   /* cli_profile.c */
	if (sub != NULL && strcmp(sub, "set") == 0)
		return cli_gateway_set(argc, argv);             /* cli_job.c */
	if (sub == NULL || cli_parse_options(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart gateway add --home DIR --id SMGW-ID "
			"[--out DIR2] | torwart gateway list|show --home DIR [--id SMGW-ID]");
	if (strcmp(sub, "add") == 0)
		return cmd_gateway_add(&o);
	if (strcmp(sub, "list") == 0)
		return cmd_gateway_list(&o);
	if (strcmp(sub, "show") == 0)
		return cmd_gateway_show(&o);
	return cli_usage_error("unknown gateway command; use add, list, show, set, logs or "
		"selftest");
}
