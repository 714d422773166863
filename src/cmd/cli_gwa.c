/*
 * cli_gwa.c: `torwart gwa renew`: the GWA's own TLS certificate renewed by this home's
 * Sub-CA (src/gwa/gwa_renew.h; docs/renewal.md "The GWA's own certificates").
 *
 * Exit status: 0 renewed, 1 failure (one line says why), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/signer.h"
#include "gwa/gwa_renew.h"

struct gwa_opts {
	const char *home;
};

static int gwa_parse(int argc, char **argv, struct gwa_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static const char gwa_usage[] = "usage: torwart gwa renew --home DIR";

int cli_gwa(const char *sub, int argc, char **argv)
{
	struct gwa_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct gwa_renew_actor who = { .actor = cli_actor(), .role = cli_role,
		.client = cli_client() };
	struct gwa_renew_result res;
	struct tw_error err;
	int status = 1;

	tw_error_clear(&err);
	if (sub == NULL || strcmp(sub, "renew") != 0 || gwa_parse(argc, argv, &o) != 0 ||
	    o.home == NULL)
		return cli_usage_error(gwa_usage);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK ||
	    signer_client_open(home, false, &sc, &err) != TW_OK)
		goto fail;
	signer_client_set_actor(sc, cli_actor(), cli_role);
	if (gwa_renew_tls(home, store, sc, &who, &res, &err) != TW_OK)
		goto fail;
	printf("gwa renew: new TLS certificate serial %s (was %s), valid until %s; the wan "
		"takes it within [wan] tls_reload_check seconds (or at once on SIGHUP)\n",
		res.new_serial, res.old_serial, res.not_after);
	status = 0;
	goto out;
fail:
	status = cli_fail("gwa renew", &err);
out:
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	return status;
}
