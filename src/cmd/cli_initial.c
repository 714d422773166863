/*
 * cli_initial.c: `torwart gateway initial-config` (the initial configuration file of
 * pre-personalisation phase 2, UC-3.3.6) and `torwart gateway initial-config-receipt`
 * (the integrator's signed receipt). Thin adapter over src/gwa/initial_config.h;
 * docs/initial-config.md.
 *
 * A batch (--gateways/--tag/--tenant) writes one file per gateway into --out DIR as
 * ID.cms. Through the api (no --home) the command runs as the logged-in operator and the
 * api returns the encrypted file(s) in its answer; a batch there is a four-eyes request
 * (initial-config.batch) whose files its requester fetches once after the release with
 * --fetch REQUEST-ID --out DIR (src/api/api_command.c; --fetch exists only there).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "gwa/initial_config.h"

struct ic_opts {
	const char *home, *gateway, *gateways, *tag, *tenant, *out, *receipt, *fetch;
	const char *recipients[INITIAL_CONFIG_RECIPIENTS_MAX];
	size_t n_recipients;
};

static int initial_parse(int argc, char **argv, struct ic_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "gateways", required_argument, NULL, 'G' },
		{ "tag", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "receipt", required_argument, NULL, 'R' },
		{ "fetch", required_argument, NULL, 'F' },
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
		case 'r':
			if (o->n_recipients + 1 >= INITIAL_CONFIG_RECIPIENTS_MAX)
				return -1;
			o->recipients[o->n_recipients++] = optarg;
			break;
		case 'o': o->out = optarg; break;
		case 'R': o->receipt = optarg; break;
		case 'F': o->fetch = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

struct ic_batch {
	char (*ids)[STORE_ID_MAX + 1];
	size_t n, cap;
};

static int ic_add(const struct store_gateway *gw, void *arg)
{
	struct ic_batch *b = arg;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		char (*ids)[STORE_ID_MAX + 1] = realloc(b->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return 1;
		b->ids = ids;
		b->cap = cap;
	}
	snprintf(b->ids[b->n++], STORE_ID_MAX + 1, "%s", gw->gateway_id);
	return 0;
}

static const char ic_usage[] =
	"usage: torwart gateway initial-config --home DIR (--gateway ID --out FILE | "
	"(--gateways all|ID,ID | --tag T | --tenant T) --out DIR) [--recipient ENC-CERT]...\n"
	"       torwart gateway initial-config --fetch REQUEST-ID --out DIR   (through the api)\n"
	"       torwart gateway initial-config-receipt --home DIR --receipt FILE";

int cli_gateway_initial(const char *sub, int argc, char **argv)
{
	struct ic_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct tw_error err;
	struct job_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	struct ic_batch b = { 0 };
	X509 *extra[INITIAL_CONFIG_RECIPIENTS_MAX] = { NULL };
	char sha[65], gw[STORE_ID_MAX + 1], *sel = NULL;
	int sels, status = 1;
	tw_rc rc = TW_OK;

	tw_error_clear(&err);
	if (initial_parse(argc, argv, &o) != 0 || o.home == NULL)
		return cli_usage_error(ic_usage);
	/* A released batch request lives in the api: fetched through it, never locally. */
	if (o.fetch != NULL)
		return cli_usage_error("--fetch REQUEST-ID runs through the api (log in, no "
			"--home)");
	if (strcmp(sub, "initial-config-receipt") == 0) {
		unsigned char *data = NULL;
		size_t len = 0;

		if (o.receipt == NULL)
			return cli_usage_error(ic_usage);
		if ((rc = cli_open_home_store(o.home, &home, &store, &err)) == TW_OK &&
		    (rc = tw_read_file(o.receipt, INITIAL_CONFIG_MAX, &data, &len, &err)) == TW_OK &&
		    (rc = initial_config_receipt(home, store, data, len, &who, gw, &err)) == TW_OK)
			printf("receipt recorded for the initial configuration file of %s\n", gw);
		free(data);
		status = rc == TW_OK ? 0 : cli_fail("gateway initial-config-receipt", &err);
		goto out;
	}
	sels = (o.gateway != NULL) + (o.gateways != NULL) + (o.tag != NULL) + (o.tenant != NULL);
	if (sels != 1 || o.out == NULL)
		return cli_usage_error(ic_usage);
	for (size_t i = 0; i < o.n_recipients && rc == TW_OK; i++)
		rc = keys_read_cert_pem(o.recipients[i], &extra[i], &err);
	if (rc != TW_OK ||
	    (rc = cli_open_home_store(o.home, &home, &store, &err)) != TW_OK)
		goto fail;
	if (o.gateway != NULL) {
		ic_add(&(struct store_gateway){ .tenant_id = 0 }, &b);
		snprintf(b.ids[0], STORE_ID_MAX + 1, "%s", o.gateway);
	} else {
		sel = o.gateways != NULL ? (strcmp(o.gateways, "all") == 0 ? tw_strdup("all") :
			tw_asprintf("ids:%s", o.gateways)) : o.tag != NULL ?
			tw_asprintf("tag:%s", o.tag) : tw_asprintf("tenant:%s", o.tenant);
		if (sel == NULL || (rc = job_fleet_foreach(store, sel, ic_add, &b, &err)) != TW_OK)
			goto fail;
		if (mkdir(o.out, 0700) != 0 && !tw_path_exists(o.out)) {
			rc = tw_error_set(&err, TW_E_IO, "cannot create %s", o.out);
			goto fail;
		}
	}
	if ((rc = signer_client_open(home, false, &sc, &err)) != TW_OK)
		goto fail;
	signer_client_set_actor(sc, who.actor, who.role);
	for (size_t i = 0; i < b.n && rc == TW_OK; i++) {
		char *path = o.gateway != NULL ? tw_strdup(o.out) :
			tw_asprintf("%s/%s.cms", o.out, b.ids[i]);

		if (path == NULL)
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		else if ((rc = initial_config_export(home, store, sc, b.ids[i], extra,
			 o.n_recipients, path, cli_acting_for_api() ? "handed to the operator in the "
			 "api's answer (no copy kept)" : NULL, &who, sha, &err)) == TW_OK) {
			/* Through the api the path is the api's private spool: not worth showing. */
			if (cli_acting_for_api())
				printf("%s: SHA-256 %s (the file comes with the api's answer)\n",
					b.ids[i], sha);
			else
				printf("%s: %s (SHA-256 %s)\n", b.ids[i], path, sha);
		}
		free(path);
	}
	if (rc == TW_OK) {
		status = 0;
		goto out;
	}
fail:
	{
		struct tw_error ignored;

		if (store != NULL)
			cli_audit(store, "gateway.initial-config", o.gateway != NULL ? o.gateway :
				"batch", "refused", err.message, &ignored);
	}
	status = cli_fail("gateway initial-config", &err);
out:
	for (size_t i = 0; i < INITIAL_CONFIG_RECIPIENTS_MAX; i++)
		X509_free(extra[i]);
	free(b.ids);
	free(sel);
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	return status;
}
