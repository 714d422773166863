/*
 * cli_profile_reput.c: `torwart profile reput` (issue 12, UC-3.3.3): after an EMT's or a
 * meter's key changed, find every gateway whose desired profiles carry the old one and,
 * with --apply, put them again with the new one (profile-insert jobs). Without --apply
 * it only lists them (a dry run changes nothing and is not logged as a change).
 *
 * Through the api, --apply on a selection above the fleet threshold is a four-eyes
 * "fleet.order" (api_command.c counts the selection); the run then refuses to order more
 * gateways than the approver saw.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/profile_reput.h"

struct reput_opts {
	const char *home, *emt, *cert, *meter, *key_file, *key_ref;
	const char *gateway, *gateways, *tag, *tenant;
	int apply;
};

static const char reput_usage[] = "usage: torwart profile reput --home DIR "
	"(--emt MPID [--cert FILE] | --meter ID --key-file FILE [--key-ref REF]) "
	"(--gateway ID | --gateways all|ID,ID | --tag T | --tenant T) [--apply]";

static int reput_parse(int argc, char **argv, struct reput_opts *o)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "emt", required_argument, NULL, 'e' },
		{ "cert", required_argument, NULL, 'c' },
		{ "meter", required_argument, NULL, 'm' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "key-ref", required_argument, NULL, 'r' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "gateways", required_argument, NULL, 'G' },
		{ "tag", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "apply", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'e': o->emt = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'm': o->meter = optarg; break;
		case 'k': o->key_file = optarg; break;
		case 'r': o->key_ref = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'G': o->gateways = optarg; break;
		case 't': o->tag = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 'a': o->apply = 1; break;
		default: return -1;
		}
	}
	if (optind != argc || o->home == NULL ||
	    (o->emt != NULL) + (o->meter != NULL) != 1 ||
	    (o->emt != NULL && (o->key_file != NULL || o->key_ref != NULL)) ||
	    (o->meter != NULL && (o->key_file == NULL || o->cert != NULL)) ||
	    (o->gateway != NULL) + (o->gateways != NULL) + (o->tag != NULL) +
	    (o->tenant != NULL) != 1)
		return -1;
	return 0;
}

static char *reput_selection(const struct reput_opts *o)
{
	if (o->gateway != NULL)
		return tw_asprintf("id:%s", o->gateway);
	if (o->gateways != NULL)
		return strcmp(o->gateways, "all") == 0 ? tw_strdup("all") :
			tw_asprintf("ids:%s", o->gateways);
	if (o->tag != NULL)
		return tw_asprintf("tag:%s", o->tag);
	return tw_asprintf("tenant:%s", o->tenant);
}

/* The new meter key from its file: hex digits, surrounding white space ignored. */
static tw_rc reput_key(const char *path, char out[65], struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0, a = 0, b;
	tw_rc rc;

	out[0] = '\0';
	if ((rc = tw_read_file(path, 256, &data, &len, err)) != TW_OK)
		return rc;
	while (a < len && (data[a] == ' ' || data[a] == '\n' || data[a] == '\r' || data[a] == '\t'))
		a++;
	b = len;
	while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\n' || data[b - 1] == '\r' ||
	       data[b - 1] == '\t'))
		b--;
	if (b - a > 64)
		rc = tw_error_set(err, TW_E_INVALID, "%s: the key must be 32 or 64 hexadecimal "
			"digits", path);
	else
		snprintf(out, 65, "%.*s", (int)(b - a), (const char *)data + a);
	tw_wipe(data, len);
	free(data);
	return rc;
}

int cli_profile_reput(int argc, char **argv)
{
	struct reput_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct secretbox *sb = NULL;
	struct profile_reput_spec spec;
	struct profile_reput_item *items = NULL;
	struct profile_who who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	struct tw_error err;
	unsigned char *cert = NULL;
	size_t cert_len = 0, n = 0, gateways = 0, done = 0;
	int64_t *jobs = NULL;
	char *sel = NULL, key[65] = "";
	tw_rc rc;

	tw_error_clear(&err);
	memset(&spec, 0, sizeof(spec));
	if (reput_parse(argc, argv, &o) != 0 || (sel = reput_selection(&o)) == NULL)
		return cli_usage_error(reput_usage);
	if ((rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK ||
	    (rc = secretbox_open(home, &sb, &err)) != TW_OK)
		goto out;
	if (o.emt != NULL) {
		if (o.cert != NULL &&
		    (rc = tw_read_file(o.cert, 16 * 1024, &cert, &cert_len, &err)) != TW_OK)
			goto out;
		rc = profile_reput_spec_emt(store, o.emt, cert, cert_len, &spec, &err);
	} else if ((rc = reput_key(o.key_file, key, &err)) == TW_OK) {
		rc = profile_reput_spec_meter(o.meter, key, o.key_ref, &spec, &err);
	}
	tw_wipe(key, sizeof(key));
	if (rc != TW_OK ||
	    (rc = profile_reput_find(store, sb, &spec, sel, &items, &n, &gateways, &err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < n && !o.apply; i++)
		printf("%s %s (%s): carries %s\n", items[i].gateway_id, items[i].profile_id,
			items[i].type, items[i].before);
	if (!o.apply) {
		printf("%zu profiles on %zu gateways carry the old %s of %s %s%s\n", n, gateways,
			o.emt != NULL ? "certificate" : "key", o.emt != NULL ? "EMT" : "meter", spec.id,
			n > 0 ? "; --apply puts them again with the new one (profile-insert jobs)" : "");
		goto out;
	}
	/* Through the api: never more gateways than it counted for its four-eyes decision. */
	if (cli_fleet_max() > 0 && (int64_t)gateways > cli_fleet_max()) {
		rc = tw_error_set(&err, TW_E_DENIED, "the re-put now reaches %zu gateways, more "
			"than the %lld the api checked: nothing was ordered; run the command again",
			gateways, (long long)cli_fleet_max());
		goto out;
	}
	if (n > 0 && (jobs = calloc(n, sizeof(*jobs))) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = profile_reput_apply(store, sb, &who, &spec, items, n, jobs, &done, &err);
	for (size_t i = 0; i < n; i++)
		if (jobs[i] != 0)
			printf("torwart: job %lld (profile-insert) created for %s: %s\n",
				(long long)jobs[i], items[i].gateway_id, items[i].profile_id);
	if (rc == TW_OK)
		printf("%zu profiles on %zu gateways put again with the new %s of %s %s\n", done,
			gateways, o.emt != NULL ? "certificate" : "key", o.emt != NULL ? "EMT" : "meter",
			spec.id);
out:
	free(jobs);
	free(items);
	free(cert);
	free(sel);
	profile_reput_spec_clear(&spec);
	secretbox_free(sb);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("profile reput", &err);
}
