/*
 * cli_context_idp.c: `torwart context idp-set|idp-show|idp-remove`, the identity provider
 * a certificate-management context trusts for SAML login (auth/saml_login.h,
 * docs/security.md "SAML login"). Local only (--home): trusting an identity provider is
 * trust configuration of the home, like the operator CA.
 *
 * Exit status: 0 ok, 1 failure (one line says why), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/saml_login.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "store/store_gwa_context.h"
#include "store/store_saml.h"

static const char idp_usage[] =
	"usage: torwart context idp-set --home DIR --tenant T --cert FILE --entity-id ID\n"
	"       torwart context idp-show|idp-remove --home DIR --tenant T";

int cli_context_idp(const char *sub, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "cert", required_argument, NULL, 'c' },
		{ "entity-id", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_dir = NULL, *tenant = NULL, *cert = NULL, *entity = NULL;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct store_saml_idp idp;
	struct tw_error err;
	unsigned char *pem = NULL;
	size_t len = 0;
	int64_t tenant_id = 0;
	bool set, show, dup = false;
	int c, status = 1;

	memset(&idp, 0, sizeof(idp));
	tw_error_clear(&err);
	set = sub != NULL && strcmp(sub, "idp-set") == 0;
	show = sub != NULL && strcmp(sub, "idp-show") == 0;
	if (!set && !show && (sub == NULL || strcmp(sub, "idp-remove") != 0))
		return cli_usage_error(idp_usage);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char **slot = c == 'H' ? &home_dir : c == 'T' ? &tenant : c == 'c' ? &cert :
			c == 'e' ? &entity : NULL;

		if (slot == NULL)
			return cli_usage_error(idp_usage);
		dup = dup || *slot != NULL;
		*slot = optarg;
	}
	if (optind != argc || dup || home_dir == NULL || tenant == NULL ||
	    set != (cert != NULL) || set != (entity != NULL))
		return cli_usage_error(idp_usage);
	if (set && tw_read_file(cert, STORE_SAML_PEM_MAX, &pem, &len, &err) != TW_OK)
		goto fail;
	if (cli_open_home_store(home_dir, &home, &store, &err) != TW_OK)
		goto fail;
	if (store_scoped_tenant(store) != 0) {
		tw_error_set(&err, TW_E_DENIED, "the identity provider of a context is set "
			"locally (--home), not through the api");
		goto fail;
	}
	if (set) {
		if (auth_saml_idp_set(store, tenant, entity, pem, len, cli_actor(), cli_role,
		    cli_client(), &err) != TW_OK)
			goto fail;
		printf("context %s: identity provider %s set\n", tenant, entity);
	} else if (show) {
		char when[40];

		if (store_ctx_tenant_id(store, tenant, &tenant_id, &err) != TW_OK ||
		    store_saml_idp_get(store, tenant_id, &idp, &err) != TW_OK)
			goto fail;
		tw_time_format_utc(idp.not_after * 1000, when, sizeof(when));
		printf("context %s: identity provider %s, certificate %s (not after %s)\n",
			tenant, idp.entity_id, idp.fingerprint, when);
	} else {
		if (auth_saml_idp_remove(store, tenant, cli_actor(), cli_role, cli_client(),
		    &err) != TW_OK)
			goto fail;
		printf("context %s: identity provider removed\n", tenant);
	}
	status = 0;
	goto out;
fail:
	status = cli_fail("context", &err);
out:
	store_saml_idp_clear(&idp);
	free(pem);
	store_close(store);
	tw_home_free(home);
	return status;
}
