/*
 * cli_profile.c: `torwart profile ...` (UC-3.3.2, T-PV.1-4): put, delete, show, list,
 * drift, read, check, and the EMT authorisations evaluation profiles are checked against;
 * and `torwart gateway logs` / `selftest` (UC-3.4.2/3.4.3), reached from cli_gateway.c.
 *
 * A put or delete changes the desired set (validated first; refusals are logged) and
 * creates the order job that brings the gateway there in the same transaction: both or
 * neither. Listings never show secrets.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/job.h"
#include "gwa/monitor.h"
#include "gwa/profile_admin.h"
#include "store/store_profiles.h"

#define CLI_PROFILE_EXIT_DRIFT 4

struct popts {
	const char *home, *gateway, *profile, *file, *emt, *kind, *fetch;
	int no_job;
};

static int popts_parse(int argc, char **argv, struct popts *o)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "id", required_argument, NULL, 'g' },
		{ "profile", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "emt", required_argument, NULL, 'e' },
		{ "kind", required_argument, NULL, 'k' },
		{ "fetch", required_argument, NULL, 'F' },
		{ "no-job", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'p': o->profile = optarg; break;
		case 'f': o->file = optarg; break;
		case 'e': o->emt = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'F': o->fetch = optarg; break;
		case 'n': o->no_job = 1; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static const struct profile_who *cli_who(void)
{
	static struct profile_who who;

	who = (struct profile_who){ .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	return &who;
}

static const struct job_actor *cli_job_who(void)
{
	static struct job_actor who;

	who = (struct job_actor){ .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	return &who;
}

static void print_job(int64_t id, const char *type, const char *gateway)
{
	if (id != 0)
		printf("torwart: job %lld (%s) created for %s; see `torwart job show`\n",
			(long long)id, type, gateway);
}

/* Create an order job for gateway; prints its id. */
static tw_rc create_job(struct tw_store *store, const char *gateway, const char *type,
	json_t *payload, struct tw_error *err)
{
	struct job_spec spec;
	int64_t id = 0;
	tw_rc rc;

	memset(&spec, 0, sizeof(spec));
	spec.type = type;
	spec.payload = payload;
	spec.retry_delay_s = -1;
	rc = job_create(store, gateway, &spec, cli_job_who(), &id, err);
	json_decref(payload);
	if (rc == TW_OK)
		print_job(id, type, gateway);
	return rc;
}

static int cmd_put(const struct popts *o, bool check_only)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct secretbox *sb = NULL;
	struct profile_put_result res;
	struct profile_doc *doc = NULL;
	unsigned char *data = NULL;
	size_t len = 0;
	int64_t job_id = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->gateway == NULL || o->file == NULL)
		return cli_usage_error("profile put/check needs --home DIR --gateway ID --file F");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if ((rc = tw_read_file(o->file, PROFILE_DOC_MAX, &data, &len, &err)) != TW_OK) {
		if (rc == TW_E_TOO_LARGE)
			tw_error_set(&err, rc, "%s is larger than %d bytes", o->file, PROFILE_DOC_MAX);
		cli_audit(store, check_only ? "profile.check" : "profile.put", o->gateway, "refused",
			err.message, &(struct tw_error){ 0 });
		goto out;
	}
	if (check_only) {
		rc = profile_admin_check(store, o->gateway, data, len, &doc, &err);
		if (rc == TW_OK)
			printf("torwart: profile %s (%s) is valid for %s\n", doc->profile_id,
				profile_type_name(doc->type), o->gateway);
		goto out;
	}
	if ((rc = secretbox_open(home, &sb, &err)) != TW_OK ||
	    (rc = profile_admin_put_job(store, sb, cli_who(), o->gateway, data, len, !o->no_job,
	        &res, &job_id, &err)) != TW_OK)
		goto out;
	printf("torwart: %s profile %s %s for %s, sha256 %s\n", res.type, res.profile_id,
		res.replaced ? "replaced" : "stored", o->gateway, res.hash);
	print_job(job_id, "profile-insert", o->gateway);
out:
	if (data != NULL) {
		tw_wipe(data, len);   /* the document may hold a meter key or a password */
		free(data);
	}
	profile_doc_free(doc);
	secretbox_free(sb);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail(check_only ? "profile check" : "profile put", &err);
}

static int cmd_delete(const struct popts *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	int64_t job_id = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->gateway == NULL || o->profile == NULL)
		return cli_usage_error("profile delete needs --home DIR --gateway ID --profile P");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK ||
	    (rc = profile_admin_delete_job(store, cli_who(), o->gateway, o->profile, !o->no_job,
	        &job_id, &err)) != TW_OK)
		goto out;
	printf("torwart: profile %s removed from the desired set of %s\n", o->profile,
		o->gateway);
	print_job(job_id, "profile-delete", o->gateway);
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("profile delete", &err);
}

static int cmd_show(const struct popts *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	json_t *doc = NULL;
	char type[16], hash[65], *text = NULL;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->gateway == NULL || o->profile == NULL)
		return cli_usage_error("profile show needs --home DIR --gateway ID --profile P");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK ||
	    (rc = profile_admin_show(store, cli_who(), o->gateway, o->profile, &doc, type, hash,
	        &err)) != TW_OK)
		goto out;
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("# %s profile %s of %s, sha256 %s (secrets masked)\n%s\n", type, o->profile,
		o->gateway, hash, text != NULL ? text : "");
out:
	free(text);
	json_decref(doc);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("profile show", &err);
}

static void print_drift(const struct profile_drift *d, bool rows)
{
	char when[40] = "never";

	if (d->reported)
		tw_time_format_utc(d->reported_ms, when, sizeof(when));
	printf("%-24s %-13s desired %.16s  reported %.16s  (%s%s%s)\n", d->gateway_id,
		!d->reported ? "not-reported" : d->in_sync ? "in-sync" : "DRIFT",
		d->desired_set_hash, d->reported ? d->reported_set_hash : "-", when,
		d->reported ? ", " : "", d->reported_source);
	for (size_t i = 0; rows && i < d->n; i++) {
		const struct profile_drift_row *r = &d->rows[i];

		printf("  %-24s %-11s desired %-16.16s reported %-16.16s %s\n", r->profile_id,
			r->type, r->desired_hash[0] ? r->desired_hash : "-",
			r->reported_hash[0] ? r->reported_hash : "-", profile_drift_state_name(r->state));
	}
}

struct drift_walk {
	struct tw_store *store;
	size_t gateways, drifting;
	tw_rc rc;
	struct tw_error *err;
};

static int drift_one(const struct store_gateway *gw, void *arg)
{
	struct drift_walk *w = arg;
	struct profile_drift d;

	if ((w->rc = profile_admin_drift(w->store, gw->gateway_id, &d, w->err)) != TW_OK)
		return 1;
	w->gateways++;
	if (d.reported && !d.in_sync)
		w->drifting++;
	print_drift(&d, d.reported && !d.in_sync);
	profile_drift_clear(&d);
	return 0;
}

/* list --gateway: one gateway with rows; drift: all (or one) gateways. */
static int cmd_drift(const struct popts *o, bool list)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct drift_walk w;
	struct profile_drift d;
	tw_rc rc;

	tw_error_clear(&err);
	memset(&w, 0, sizeof(w));
	memset(&d, 0, sizeof(d));
	if (o->home == NULL || (list && o->gateway == NULL))
		return cli_usage_error(list ? "profile list needs --home DIR --gateway ID" :
			"profile drift needs --home DIR [--gateway ID]");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if (o->gateway != NULL) {
		if ((rc = profile_admin_drift(store, o->gateway, &d, &err)) != TW_OK)
			goto out;
		print_drift(&d, true);
		w.drifting = d.reported && !d.in_sync;
	} else {
		w.store = store;
		w.err = &err;
		rc = store_gateway_foreach(store, drift_one, &w, &err);
		if (rc == TW_OK)
			rc = w.rc;
		if (rc == TW_OK)
			printf("%zu gateways, %zu with drift\n", w.gateways, w.drifting);
	}
out:
	profile_drift_clear(&d);
	store_close(store);
	tw_home_free(home);
	if (rc != TW_OK)
		return cli_fail(list ? "profile list" : "profile drift", &err);
	return !list && w.drifting > 0 ? CLI_PROFILE_EXIT_DRIFT : 0;
}

static int cmd_read(const struct popts *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->gateway == NULL)
		return cli_usage_error("profile read needs --home DIR --gateway ID [--profile P]");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	rc = create_job(store, o->gateway, "profile-read", o->profile != NULL ?
		json_pack("{s:s}", "profile_id", o->profile) : json_object(), &err);
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("profile read", &err);
}

static int print_emt(const char *gw, const char *emt, int64_t created_ms, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(created_ms, when, sizeof(when));
	printf("%-24s %-24s %s\n", gw, emt, when);
	return 0;
}

static int cmd_emt(const struct popts *o, int what)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	size_t n = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || (what != 0 && (o->gateway == NULL || o->emt == NULL)))
		return cli_usage_error("profile authorise-emt/revoke-emt needs --home DIR --gateway "
			"ID --emt EMT-ID");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if (what == 0) {
		printf("%-24s %-24s %s\n", "GATEWAY", "EMT", "AUTHORISED (UTC)");
		rc = store_emt_foreach(store, o->gateway, print_emt, &n, &err);
		if (rc == TW_OK)
			printf("%zu authorisation%s\n", n, n == 1 ? "" : "s");
		goto out;
	}
	if ((rc = profile_admin_emt(store, cli_who(), o->gateway, o->emt, what < 0, &err)) ==
	    TW_OK)
		printf("torwart: EMT %s %s for gateway %s\n", o->emt,
			what < 0 ? "no longer authorised" : "authorised", o->gateway);
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("profile emt", &err);
}

int cli_profile(const char *sub, int argc, char **argv)
{
	struct popts o;

	if (sub != NULL && strcmp(sub, "reput") == 0)
		return cli_profile_reput(argc, argv);   /* options of its own */
	if (sub == NULL || popts_parse(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart profile put|check|delete|show|list|drift|"
			"read|authorise-emt|revoke-emt|emts|reput --home DIR ...");
	if (strcmp(sub, "put") == 0)
		return cmd_put(&o, false);
	if (strcmp(sub, "check") == 0)
		return cmd_put(&o, true);
	if (strcmp(sub, "delete") == 0)
		return cmd_delete(&o);
	if (strcmp(sub, "show") == 0)
		return cmd_show(&o);
	if (strcmp(sub, "list") == 0)
		return cmd_drift(&o, true);
	if (strcmp(sub, "drift") == 0)
		return cmd_drift(&o, false);
	if (strcmp(sub, "read") == 0)
		return cmd_read(&o);
	if (strcmp(sub, "authorise-emt") == 0)
		return cmd_emt(&o, 1);
	if (strcmp(sub, "revoke-emt") == 0)
		return cmd_emt(&o, -1);
	if (strcmp(sub, "emts") == 0)
		return cmd_emt(&o, 0);
	return cli_usage_error("unknown profile command; use put, check, delete, show, list, "
		"drift, read, authorise-emt, revoke-emt or emts");
}

/* ---- torwart gateway logs | selftest (UC-3.4.2, UC-3.4.3) ---- */

static int print_log(const struct store_gateway_log *l, enum monitor_log_status st, void *arg)
{
	struct cli_esc e = { .n = 0 };

	(*(size_t *)arg)++;
	/* Gateway-chosen text: escaped (cli_esc). */
	printf("%-11s %6lld %-26s %-14s %s\n", cli_esc(&e, l->kind), (long long)l->seq,
		cli_esc(&e, l->time), monitor_log_status_name(st), cli_esc(&e, l->message));
	cli_esc_free(&e);
	return 0;
}

static int print_message(const struct store_gateway_message *m, void *arg)
{
	struct cli_esc e = { .n = 0 };
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(m->received_ms, when, sizeof(when));
	/* Alarms and events carry the gateway's own text: escaped (cli_esc). */
	printf("%6lld %-26s %-12s %-16s %-8s %s%s%s%s\n", (long long)m->id, when,
		cli_esc(&e, m->kind), cli_esc(&e, m->type), cli_esc(&e, m->severity),
		cli_esc(&e, m->message), m->actions[0] ? " [actions: " : "",
		cli_esc(&e, m->actions), m->actions[0] ? "]" : "");
	cli_esc_free(&e);
	return 0;
}

int cli_gateway_monitor(const char *sub, int argc, char **argv)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct popts o;
	size_t n = 0;
	long from = 0, to = 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (popts_parse(argc, argv, &o) != 0 || o.home == NULL || o.gateway == NULL)
		return cli_usage_error("usage: torwart gateway logs --home DIR --id ID [--kind "
			"system|calibration|messages] [--fetch FROM-TO] | torwart gateway selftest "
			"--home DIR --id ID");
	if (strcmp(sub, "logs") == 0 && o.fetch != NULL) {
		const char *dash = strchr(o.fetch, '-');
		char first[24];

		if (o.kind == NULL || !monitor_log_kind_valid(o.kind) || dash == NULL ||
		    (size_t)(dash - o.fetch) >= sizeof(first))
			return cli_usage_error("--fetch FROM-TO needs --kind system|calibration");
		memcpy(first, o.fetch, (size_t)(dash - o.fetch));
		first[dash - o.fetch] = '\0';
		if (tw_parse_long(first, 1, 1000000000L, &from, &err, "FROM") != TW_OK ||
		    tw_parse_long(dash + 1, from, 1000000000L, &to, &err, "TO") != TW_OK)
			return cli_fail("gateway logs", &err);
	}
	if ((rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK)
		goto out;
	/* An unknown gateway is an error, not "0 entries" (same answer for another tenant's). */
	{
		struct store_gateway gw;

		if ((rc = store_gateway_get(store, o.gateway, &gw, &err)) != TW_OK)
			goto out;
	}
	if (strcmp(sub, "selftest") == 0) {
		rc = create_job(store, o.gateway, "self-test", json_object(), &err);
	} else if (o.fetch != NULL) {
		rc = create_job(store, o.gateway, "log-read", json_pack("{s:s,s:I,s:I}", "kind",
			o.kind, "from", (json_int_t)from, "to", (json_int_t)to), &err);
	} else if (o.kind != NULL && strcmp(o.kind, "messages") == 0) {
		printf("%6s %-26s %-12s %-16s %-8s %s\n", "ID", "RECEIVED (UTC)", "KIND", "TYPE",
			"SEVERITY", "MESSAGE");
		if ((rc = cli_audit(store, "gateway.messages.read", o.gateway, "ok", NULL, &err)) ==
		    TW_OK)
			rc = store_gateway_message_foreach(store, o.gateway, NULL, print_message, &n,
				&err);
		if (rc == TW_OK)
			printf("%zu message%s\n", n, n == 1 ? "" : "s");
	} else {
		printf("%-11s %6s %-26s %-14s %s\n", "KIND", "SEQ", "TIME (GATEWAY)", "SIGNATURE",
			"MESSAGE");
		rc = monitor_logs_show(store, cli_actor(), cli_role, cli_client(), o.gateway,
			o.kind, print_log, &n, &err);
		if (rc == TW_OK)
			printf("%zu entr%s\n", n, n == 1 ? "y" : "ies");
	}
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail(strcmp(sub, "selftest") == 0 ? "gateway selftest" :
		"gateway logs", &err);
}
