/*
 * cli_gwa.c: `torwart gwa renew`: the GWA's own certificates renewed by this home's
 * Sub-CA (src/gwa/gwa_renew.h; docs/renewal.md "The GWA's own certificates").
 *
 *   gwa renew --home DIR                   the TLS certificate; a TLS key FILE (older
 *                                          homes) is replaced by a new file, a key in
 *                                          the signer is rotated as with --key tls
 *   gwa renew --home DIR --key tls|sig|enc rotate the signer-held key and its
 *                                          certificate (rerun after a failure continues)
 *   gwa renew --home DIR --key K --retire [--now] [--force --reason TEXT]
 *                                          destroy the previous key after its grace period;
 *                                          SIG: only when every gateway has installed the
 *                                          new certificate, or --force with a reason
 *
 * Exit status: 0 renewed, 1 failure (one line says why), 2 usage.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "auth/command.h"
#include "crypto/signer.h"
#include "gwa/gwa_renew.h"

struct gwa_opts {
	const char *home, *key, *reason;
	bool retire, now, force;
};

static int gwa_parse(int argc, char **argv, struct gwa_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "retire", no_argument, NULL, 'r' },
		{ "now", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'k': o->key = optarg; break;
		case 'r': o->retire = true; break;
		case 'n': o->now = true; break;
		case 'f': o->force = true; break;
		case 'R': o->reason = optarg; break;
		default: return -1;
		}
	}
	if ((o->retire && o->key == NULL) || (o->now && !o->retire) ||
	    (o->force && !o->retire) || ((o->reason != NULL) != o->force))
		return -1;
	return optind == argc ? 0 : -1;
}

static const char gwa_usage[] = "usage: torwart gwa renew --home DIR [--key tls|sig|enc "
	"[--retire [--now] [--force --reason TEXT]]]";

/* Older homes keep the GWA TLS key as a file (gwa_renew_tls replaces it). */
static bool gwa_tls_key_is_file(const struct tw_home *home)
{
	char *path = tw_home_path(home, "wan", "key", TW_HOME_GWA_TLS_KEY);
	bool file = path != NULL && tw_path_exists(path);

	free(path);
	return file;
}

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
	if (o.retire) {
		char gone[80];

		if (o.reason != NULL && (o.reason[0] == '\0' || strlen(o.reason) > 200 ||
		    auth_text_check(o.reason, "--reason", &err) != TW_OK)) {
			if (err.code == TW_OK)
				tw_error_set(&err, TW_E_INVALID, "--reason: one line of 1..200 "
					"characters saying why");
			goto fail;
		}
		if (gwa_retire_key(home, store, sc, o.key, &who, o.now, o.force ? o.reason : NULL,
		    gone, sizeof(gone), &err) != TW_OK)
			goto fail;
		printf("gwa renew: previous %s key %s destroyed in the signer\n", o.key, gone);
		status = 0;
		goto out;
	}
	if (o.key == NULL) {
		if (gwa_renew_tls(home, store, sc, &who, &res, &err) != TW_OK)
			goto fail;
		printf("gwa renew: new TLS certificate serial %s (was %s), valid until %s; the "
			"wan takes it within [wan] tls_reload_check seconds (or at once on SIGHUP)\n",
			res.new_serial, res.old_serial, res.not_after);
		status = 0;
		goto out;
	}
	if (strcmp(o.key, "tls") == 0 && gwa_tls_key_is_file(home)) {
		tw_error_set(&err, TW_E_CONFIG, "the GWA TLS key is a file of this home, not a "
			"key of the signer: renew it without --key (or move it into the signer first "
			"with `torwart ca tls-key-import`)");
		goto fail;
	}
	if (gwa_renew_key(home, store, sc, o.key, &who, &res, &err) != TW_OK)
		goto fail;
	if (!res.sig_orders_only)
		printf("gwa renew: %s key is now %s in the signer; certificate serial %s (was %s), "
			"valid until %s; the previous key is kept until `gwa renew --key %s "
			"--retire`\n", o.key, res.key_label, res.new_serial, res.old_serial,
			res.not_after, o.key);
	if (strcmp(o.key, "sig") == 0)
		printf("gwa renew: the new GWA SIG certificate ordered to %lld gateways in %lld "
			"fleet orders (gwa-cert-update)%s; %lld gateways have not installed it yet\n",
			res.sig_gateways, res.sig_batches,
			res.sig_orders_only ? ", finishing the rotation" : "", res.sig_unconfirmed);
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
