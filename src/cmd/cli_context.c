/*
 * cli_context.c: `torwart context list|import|replace|delete|trust-add|trust-list|
 * trust-remove|validate`, the per-GWA certificate-management context (DOMAIN.md S-8;
 * src/gwa/gwa_context.h; docs/renewal.md "The certificate-management context").
 *
 * --tenant names the context; without it: the operator's own tenant through the api,
 * "default" locally. Exit status: 0 ok, 1 failure (one line says why), 2 usage; validate:
 * 3 when a certificate is expired, revoked, untrusted or of unknown revocation.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "gwa/gwa_context.h"
#include "gwa/gwa_context_backup.h"
#include "store/store_gwa_context.h"
#include "store/store_renewal.h"   /* store_tenant_name */

struct ctx_opts {
	const char *home, *tenant, *gateway, *id, *cert, *label, *out, *in, *after, *limit, *url;
};

static int ctx_parse(int argc, char **argv, struct ctx_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "id", required_argument, NULL, 'i' },
		{ "cert", required_argument, NULL, 'c' },
		{ "label", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "in", required_argument, NULL, 'I' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'L' },
		{ "url", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'T': o->tenant = optarg; break;
		case 'g': o->gateway = optarg; break;
		case 'i': o->id = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'l': o->label = optarg; break;
		case 'o': o->out = optarg; break;
		case 'I': o->in = optarg; break;
		case 'a': o->after = optarg; break;
		case 'L': o->limit = optarg; break;
		case 'u': o->url = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

static const char ctx_usage[] =
	"usage: torwart context list --home DIR [--tenant T] [--gateway ID]\n"
	"       torwart context import --home DIR [--tenant T] --cert FILE [--label L] "
	"[--gateway ID]\n"
	"       torwart context replace --home DIR [--tenant T] --id N --cert FILE [--label L] "
	"[--gateway ID]\n"
	"       torwart context delete --home DIR [--tenant T] --id N\n"
	"       torwart context trust-add --home DIR [--tenant T] --cert FILE\n"
	"       torwart context trust-list|validate --home DIR [--tenant T]\n"
	"       torwart context trust-remove --home DIR [--tenant T] --id N\n"
	"       torwart context backup --home DIR [--tenant T] --out FILE\n"
	"       torwart context restore --home DIR [--tenant T] --in FILE\n"
	"       torwart context log --home DIR [--tenant T] [--after SEQ] [--limit N]\n"
	"       torwart context fetch --home DIR [--tenant T] --url ldap[s]://HOST/DN [--label L] "
	"[--gateway ID]";

static void ctx_time(int64_t s, char *out, size_t n)
{
	tw_time_format_utc(s * 1000, out, n);
}

static int print_issued(const struct store_ctx_issued *c, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	ctx_time(c->not_after, when, sizeof(when));
	printf("%-8s %-6s %-24s %-4s %-10s %-24s %.16s %s\n", "sm-pki", "-", c->owner_id,
		c->usage, c->status, when, c->fingerprint, c->subject);
	return 0;
}

static int print_foreign(const struct store_ctx_cert *c, void *arg)
{
	char when[40], id[24];

	(*(size_t *)arg)++;
	ctx_time(c->not_after, when, sizeof(when));
	snprintf(id, sizeof(id), "%lld", (long long)c->id);
	printf("%-8s %-6s %-24s %-4s %-10s %-24s %.16s %s [%s]\n", "foreign", id,
		c->gateway_id[0] ? c->gateway_id : "-", "-", c->status, when, c->fingerprint,
		c->subject, c->label);
	return 0;
}

static int print_trust(const struct store_ctx_trust *t, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	ctx_time(t->not_after, when, sizeof(when));
	printf("%-6lld %-24s %.16s %s\n", (long long)t->id, when, t->fingerprint, t->subject);
	return 0;
}

static int print_log(const struct store_ctx_log *e, void *arg)
{
	(*(size_t *)arg)++;
	printf("%-8lld %-24s %-28s %-22s %-8s %s: %s\n", (long long)e->seq, e->time, e->actor,
		e->action, e->result, e->object, e->detail);
	return 0;
}

static tw_rc ctx_read(const char *path, unsigned char **buf, size_t *len, struct tw_error *err)
{
	return tw_read_file(path, STORE_CTX_DER_MAX * 2, buf, len, err);
}

int cli_context(const char *sub, int argc, char **argv)
{
	struct ctx_opts o;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct gwa_ctx ctx;
	struct tw_error err;
	unsigned char *buf = NULL;
	size_t len = 0, count = 0;
	char tenant[STORE_ID_MAX + 1];
	long id = 0, after = 0, limit = 0;
	int64_t nid = 0;
	bool needs_id, needs_cert;
	int status = 1;
	tw_rc rc;

	tw_error_clear(&err);
	if (sub != NULL && strncmp(sub, "idp-", 4) == 0)
		return cli_context_idp(sub, argc, argv);    /* SAML identity provider */
	if (sub == NULL || ctx_parse(argc, argv, &o) != 0 || o.home == NULL)
		return cli_usage_error(ctx_usage);
	needs_id = strcmp(sub, "replace") == 0 || strcmp(sub, "delete") == 0 ||
		strcmp(sub, "trust-remove") == 0;
	needs_cert = strcmp(sub, "import") == 0 || strcmp(sub, "replace") == 0 ||
		strcmp(sub, "trust-add") == 0;
	if (strcmp(sub, "list") != 0 && strcmp(sub, "trust-list") != 0 &&
	    strcmp(sub, "validate") != 0 && strcmp(sub, "backup") != 0 &&
	    strcmp(sub, "restore") != 0 && strcmp(sub, "log") != 0 &&
	    strcmp(sub, "fetch") != 0 && !needs_id && !needs_cert)
		return cli_usage_error(ctx_usage);
	if ((strcmp(sub, "backup") == 0) != (o.out != NULL) ||
	    (strcmp(sub, "restore") == 0) != (o.in != NULL))
		return cli_usage_error("context: backup needs --out FILE, restore --in FILE; "
			"no other subcommand takes them");
	if (needs_id != (o.id != NULL) || needs_cert != (o.cert != NULL))
		return cli_usage_error(needs_id && o.id == NULL ? "context: --id N is needed" :
			needs_cert && o.cert == NULL ? "context: --cert FILE is needed" :
			"context: that option does not belong to this subcommand");
	if ((o.label != NULL || o.gateway != NULL) && strcmp(sub, "import") != 0 &&
	    strcmp(sub, "replace") != 0 && strcmp(sub, "fetch") != 0 &&
	    !(o.gateway != NULL && strcmp(sub, "list") == 0))
		return cli_usage_error("context: --label and --gateway belong to import, replace "
			"and fetch (--gateway also to list)");
	if ((strcmp(sub, "fetch") == 0) != (o.url != NULL))
		return cli_usage_error("context: fetch needs --url ldap[s]://HOST/DN; no other "
			"subcommand takes it");
	if (o.id != NULL && tw_parse_long(o.id, 1, LONG_MAX, &id, &err, "--id") != TW_OK)
		return cli_usage_error(err.message);
	if ((o.after != NULL || o.limit != NULL) && strcmp(sub, "log") != 0)
		return cli_usage_error("context: --after and --limit belong to log");
	if (o.after != NULL && tw_parse_long(o.after, 0, LONG_MAX, &after, &err, "--after") !=
	    TW_OK)
		return cli_usage_error(err.message);
	if (o.limit != NULL && tw_parse_long(o.limit, 1, 100000, &limit, &err, "--limit") !=
	    TW_OK)
		return cli_usage_error(err.message);
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK)
		goto fail;
	/* The context: --tenant, else the operator's tenant (api), else "default". */
	if (o.tenant != NULL)
		snprintf(tenant, sizeof(tenant), "%s", o.tenant);
	else if (store_scoped_tenant(store) != 0) {
		if (store_tenant_name(store, store_scoped_tenant(store), tenant, sizeof(tenant),
		    &err) != TW_OK)
			goto fail;
	} else
		snprintf(tenant, sizeof(tenant), "default");
	rc = gwa_ctx_open(&ctx, home, store, tenant, &err);
	/* A restore (locally, not for a scoped operator) may bring a context to a new home. */
	if (rc == TW_E_NOT_FOUND && strcmp(sub, "restore") == 0 &&
	    store_scoped_tenant(store) == 0) {
		int64_t tid;

		if (store_tenant_ensure(store, tenant, &tid, &err) != TW_OK)
			goto fail;
		rc = gwa_ctx_open(&ctx, home, store, tenant, &err);
	}
	if (rc != TW_OK)
		goto fail;
	ctx.actor = cli_actor();
	ctx.role = cli_role;
	ctx.client = cli_client();
	if (needs_cert && ctx_read(o.cert, &buf, &len, &err) != TW_OK)
		goto fail;
	if (strcmp(sub, "list") == 0) {
		printf("%-8s %-6s %-24s %-4s %-10s %-24s %-16s %s\n", "SOURCE", "ID", "GATEWAY",
			"USE", "STATUS", "NOT AFTER (UTC)", "FINGERPRINT", "SUBJECT");
		if (store_ctx_issued_foreach(store, ctx.tenant_id, o.gateway, print_issued, &count,
		    &err) != TW_OK ||
		    store_ctx_cert_foreach(store, ctx.tenant_id, o.gateway, false, print_foreign,
		    &count, &err) != TW_OK)
			goto fail;
		printf("%zu certificate%s in context %s\n", count, count == 1 ? "" : "s", tenant);
	} else if (strcmp(sub, "log") == 0) {
		printf("%-8s %-24s %-28s %-22s %-8s %s\n", "SEQ", "TIME", "ACTOR", "ACTION",
			"RESULT", "OBJECT: DETAIL");
		if (store_ctx_log_foreach(store, tenant, after, limit, print_log, &count, &err) !=
		    TW_OK)
			goto fail;
		printf("%zu entr%s of context %s\n", count, count == 1 ? "y" : "ies", tenant);
	} else if (strcmp(sub, "trust-list") == 0) {
		printf("%-6s %-24s %-16s %s\n", "ID", "NOT AFTER (UTC)", "FINGERPRINT", "SUBJECT");
		if (store_ctx_trust_foreach(store, ctx.tenant_id, print_trust, &count, &err) !=
		    TW_OK)
			goto fail;
		printf("%zu trusted CA%s in context %s\n", count, count == 1 ? "" : "s", tenant);
	} else if (strcmp(sub, "import") == 0) {
		if (gwa_ctx_import(&ctx, buf, len, o.label, o.gateway, &nid, &err) != TW_OK)
			goto fail;
		printf("context %s: certificate %lld imported\n", tenant, (long long)nid);
	} else if (strcmp(sub, "fetch") == 0) {
		if (gwa_ctx_fetch(&ctx, o.url, o.label, o.gateway, 10, &nid, &err) != TW_OK)
			goto fail;
		printf("context %s: certificate %lld fetched and imported\n", tenant,
			(long long)nid);
	} else if (strcmp(sub, "replace") == 0) {
		if (gwa_ctx_replace(&ctx, id, buf, len, o.label, o.gateway, &err) != TW_OK)
			goto fail;
		printf("context %s: certificate %ld replaced\n", tenant, id);
	} else if (strcmp(sub, "delete") == 0) {
		if (gwa_ctx_delete(&ctx, id, &err) != TW_OK)
			goto fail;
		printf("context %s: certificate %ld deleted\n", tenant, id);
	} else if (strcmp(sub, "trust-add") == 0) {
		if (gwa_ctx_trust_add(&ctx, buf, len, &nid, &err) != TW_OK)
			goto fail;
		printf("context %s: trusted CA %lld added\n", tenant, (long long)nid);
	} else if (strcmp(sub, "backup") == 0) {
		char *json = NULL;
		size_t jlen = 0;

		if (gwa_ctx_backup(&ctx, &json, &jlen, &err) != TW_OK)
			goto fail;
		rc = tw_write_file(o.out, json, jlen, 0600, false, &err);
		free(json);
		if (rc != TW_OK)
			goto fail;
		printf("context %s: backup written to %s\n", tenant, o.out);
	} else if (strcmp(sub, "restore") == 0) {
		struct gwa_ctx_backup b;
		size_t restored = 0, skipped = 0;

		if (tw_read_file(o.in, GWA_CTX_BACKUP_MAX, &buf, &len, &err) != TW_OK ||
		    gwa_ctx_backup_parse(buf, len, &b, &err) != TW_OK)
			goto fail;
		rc = gwa_ctx_restore(&ctx, &b, &restored, &skipped, &err);
		gwa_ctx_backup_free(&b);
		if (rc != TW_OK)
			goto fail;
		printf("context %s: %zu entries restored, %zu held already\n", tenant, restored,
			skipped);
	} else if (strcmp(sub, "trust-remove") == 0) {
		if (gwa_ctx_trust_remove(&ctx, id, &err) != TW_OK)
			goto fail;
		printf("context %s: trusted CA %ld removed\n", tenant, id);
	} else {
		struct gwa_ctx_summary s;

		if ((rc = gwa_ctx_validate(&ctx, &s, &err)) != TW_OK)
			goto fail;
		printf("context %s: %zu checked, %zu valid, %zu expired, %zu revoked, %zu "
			"untrusted, %zu unknown, %zu alerts raised\n", tenant, s.checked, s.valid,
			s.expired, s.revoked, s.untrusted, s.unknown, s.alerts);
		status = s.expired + s.revoked + s.untrusted + s.unknown > 0 ? 3 : 0;
		goto out;
	}
	status = 0;
	goto out;
fail:
	status = cli_fail("context", &err);
out:
	free(buf);
	store_close(store);
	tw_home_free(home);
	return status;
}
