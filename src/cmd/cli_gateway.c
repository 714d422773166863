/* cli_gateway.c: `torwart gateway add|list`: the inventory from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "cmd/cli.h"
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

int cli_gateway(const char *sub, int argc, char **argv)
{
	struct cli_options o;

	if (sub != NULL && (strcmp(sub, "logs") == 0 || strcmp(sub, "selftest") == 0))
		return cli_gateway_monitor(sub, argc, argv);   /* cli_profile.c */
	if (sub != NULL && strcmp(sub, "set") == 0)
		return cli_gateway_set(argc, argv);             /* cli_job.c */
	if (sub == NULL || cli_parse_options(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart gateway add --home DIR --id SMGW-ID "
			"[--out DIR2] | torwart gateway list --home DIR");
	if (strcmp(sub, "add") == 0)
		return cmd_gateway_add(&o);
	if (strcmp(sub, "list") == 0)
		return cmd_gateway_list(&o);
	return cli_usage_error("unknown gateway command; use add or list");
}
