/*
 * torwart: the administration command line.
 *
 *   torwart init --home DIR [--test-pki] [--wan-listen H:P] [--api-listen H:P]
 *   torwart gateway add --home DIR --id SMGW-ID [--out DIR2]
 *   torwart gateway list --home DIR
 *   torwart audit verify --home DIR
 *
 * Until operators and the api exist (issue 5) these commands act directly on the home as
 * the local operating-system user, recorded in the admin log with role "local-admin".
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/home.h"
#include "base/util.h"
#include "crypto/signer.h"
#include "gwa/gateway.h"
#include "pki/testpki.h"
#include "store/store.h"

static const char torwart_usage[] =
	"usage: torwart COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  init --home DIR [--test-pki] [--wan-listen HOST:PORT] [--api-listen HOST:PORT]\n"
	"      create a new home: torwart.conf, store, SoftHSM2 token; with --test-pki also a\n"
	"      test SM-PKI (Root-CA, Sub-CA, GWA TLS/SIG/ENC). Refuses an existing DIR.\n"
	"  gateway add --home DIR --id SMGW-ID [--out DIR2]\n"
	"      register a gateway and write its keys, certificates and chain to DIR2\n"
	"      (default DIR/gateways/SMGW-ID), as a manufacturer would.\n"
	"  gateway list --home DIR\n"
	"      show id, state and last contact of every gateway.\n"
	"  audit verify --home DIR\n"
	"      recompute the admin-log hash chain; names the first broken entry.\n"
	"\n"
	"exit status: 0 success, 1 failure (one line on stderr says what to do),\n"
	"             2 usage error, 3 admin log broken (audit verify)\n";

struct cli_options {
	const char *home;
	const char *id;
	const char *out;
	const char *wan_listen;
	const char *api_listen;
	int test_pki;
};

static int fail(const char *what, const struct tw_error *err)
{
	fprintf(stderr, "torwart %s: %s\n", what, err->message);
	return 1;
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "torwart: %s (see torwart --help)\n", msg);
	return 2;
}

/* The principal of a local command: the operating-system user. */
static const char *cli_actor(void)
{
	static char actor[96];
	struct passwd *pw = getpwuid(getuid());

	snprintf(actor, sizeof(actor), "os:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
	return actor;
}

static tw_rc cli_audit(struct tw_store *store, const char *action, const char *object,
	const char *result, const char *detail, struct tw_error *err)
{
	char client[32];
	struct audit_entry entry;

	snprintf(client, sizeof(client), "local:%ld", (long)getpid());
	entry = (struct audit_entry){ .actor = cli_actor(), .role = "local-admin",
		.client = client, .action = action, .object = object, .result = result,
		.detail = detail };
	return audit_append(store, &entry, err);
}

static tw_rc open_home_store(const char *dir, struct tw_home **home, struct tw_store **store,
	struct tw_error *err)
{
	char *url = NULL;
	tw_rc rc;

	*store = NULL;
	if ((rc = tw_home_open(dir, home, err)) != TW_OK)
		return rc;
	url = tw_home_path(*home, "store", "url", TW_DEFAULT_STORE);
	if (url == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = store_open(url, store, err);
	free(url);
	return rc;
}

/* ------------------------------------------------------------------ init */

static const char conf_template[] =
	"# torwart.conf: configuration of this Torwart home (INI format).\n"
	"# Written by `torwart init`. Relative paths are relative to this directory.\n"
	"# Keys and their meaning: docs/operations.md.\n"
	"\n"
	"[store]\n"
	"# SQLite file (default backend). The PostgreSQL backend will take postgresql://...\n"
	"url = store.db\n"
	"\n"
	"[signer]\n"
	"# The signer is the only process that opens the key token.\n"
	"socket = run/signer.sock\n"
	"module = " TW_DEFAULT_SOFTHSM_MOD "\n"
	"softhsm_conf = softhsm2.conf\n"
	"# DEMO ONLY: the token PINs are in this mode-0600 file. In production the PINs come\n"
	"# from an operator (four-eyes key activation, issue 5), never from a file.\n"
	"pin_file = secrets/pins\n"
	"token_label = torwart\n"
	"# Which token key may sign for which purpose\n"
	"# (certificate, crl, wakeup, tree-head, authorisation). CA keys: certificates and CRLs only.\n"
	"policy.root-ca = certificate,crl\n"
	"policy.sub-ca = certificate,crl\n"
	"policy.gwa-sig = wakeup,tree-head,authorisation\n"
	"policy.gwa-enc =\n"
	"\n"
	"[wan]\n"
	"# SMGW-facing TLS service (TR-03116-3 WAN profile).\n"
	"listen = %s\n"
	"# event loops; 0 = one per core\n"
	"threads = 0\n"
	"cert = pki/gwa-tls.crt\n"
	"# The wan TLS key is a file for now (see docs/architecture.md).\n"
	"key = pki/gwa-tls.key\n"
	"# intermediate certificates sent with ours\n"
	"chain = pki/sub-ca.crt\n"
	"# gateway certificates must chain to these\n"
	"trust = pki/chain.pem\n"
	"# TLS session lifetime in seconds (TR-03116-3: 48 h)\n"
	"session_lifetime = 172800\n"
	"max_connections = 20000\n"
	"\n"
	"[api]\n"
	"listen = %s\n"
	"\n"
	"[worker]\n"
	"# seconds between two verifications of the admin-log hash chain\n"
	"audit_verify_interval = 60\n"
	"\n"
	"[pki]\n"
	"# Written into issued certificates (per-CA configuration grows with issue 3).\n"
	"crl_url = http://localhost:7080/crl/sub-ca.crl\n"
	"policy_oid = 1.3.6.1.4.1.55555.1.1\n"
	"cps_uri = https://localhost/torwart/cps\n"
	"\n"
	"[log]\n"
	"# debug, info, warn or error\n"
	"level = info\n";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int cmd_init(const struct cli_options *o)
{
	static const char *const subdirs[] = { "pki", "run", "secrets", "gateways" };
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	char *conf = NULL, *path = NULL, *host = NULL;
	const char *wan = o->wan_listen ? o->wan_listen : TW_DEFAULT_WAN_LISTEN;
	const char *api = o->api_listen ? o->api_listen : TW_DEFAULT_API_LISTEN;
	uint16_t port;
	bool created = false;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return usage_error("init needs --home DIR");
	if ((rc = tw_parse_hostport(wan, &host, &port, &err)) != TW_OK)
		goto out;
	free(host);
	host = NULL;
	if ((rc = tw_parse_hostport(api, &host, &port, &err)) != TW_OK)
		goto out;
	if (mkdir(o->home, 0700) != 0) {
		rc = tw_error_set(&err, errno == EEXIST ? TW_E_EXISTS : TW_E_IO,
			"cannot create %s: %s%s", o->home, strerror(errno), errno == EEXIST ?
			" (init never touches an existing home; choose a new directory)" : "");
		goto out;
	}
	created = true;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		free(path);
		path = tw_asprintf("%s/%s", o->home, subdirs[i]);
		if (path == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = tw_mkdir_p(path, 0700, &err)) != TW_OK)
			goto out;
	}
	conf = tw_asprintf(conf_template, wan, api);
	free(path);
	path = tw_asprintf("%s/torwart.conf", o->home);
	if (conf == NULL || path == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_write_file(path, conf, strlen(conf), 0640, true, &err)) != TW_OK)
		goto out;
	if ((rc = signer_home_prepare(o->home, &err)) != TW_OK)
		goto out;
	if ((rc = open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if ((rc = store_migrate(store, &err)) != TW_OK)
		goto out;
	if ((rc = cli_audit(store, "home.init", home->dir, "ok",
		o->test_pki ? "with test SM-PKI" : "without PKI", &err)) != TW_OK)
		goto out;
	if (o->test_pki) {
		if ((rc = signer_client_open(home, true, &sc, &err)) != TW_OK)
			goto out;
		signer_client_set_actor(sc, cli_actor(), "local-admin");
		if ((rc = testpki_create(home, sc, store, &err)) != TW_OK)
			goto out;
	}
	printf("torwart: created home %s\n", home->dir);
	printf("  wan listens on %s, api on %s\n", wan, api);
	if (o->test_pki)
		printf("  test SM-PKI: pki/root-ca.crt, pki/sub-ca.crt, pki/gwa-{tls,sig,enc}.crt\n");
	fprintf(stderr, "torwart: WARNING: the token PINs are stored in %s/secrets/pins "
		"(mode 0600) for this demo home; production takes them from an operator\n",
		home->dir);
out:
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	if (rc != TW_OK && created)
		nftw(o->home, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(conf);
	free(path);
	free(host);
	return rc == TW_OK ? 0 : fail("init", &err);
}

/* ------------------------------------------------------------------ gateway */

static int cmd_gateway_add(const struct cli_options *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	char *out_dir = NULL;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL || o->id == NULL)
		return usage_error("gateway add needs --home DIR and --id SMGW-ID");
	if ((rc = open_home_store(o->home, &home, &store, &err)) != TW_OK)
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
	signer_client_set_actor(sc, cli_actor(), "local-admin");
	rc = gateway_provision(home, store, sc, o->id, out_dir, cli_actor(), &err);
	if (rc != TW_OK) {
		struct tw_error ignored;

		cli_audit(store, "gateway.add", o->id, "error", err.message, &ignored);
		goto out;
	}
	printf("torwart: gateway %s registered; keys and certificates in %s\n", o->id, out_dir);
out:
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	free(out_dir);
	return rc == TW_OK ? 0 : fail("gateway add", &err);
}

static int print_gateway(const struct store_gateway *gw, void *arg)
{
	char contact[40] = "never";

	(*(size_t *)arg)++;
	if (gw->last_contact_ms > 0)
		tw_time_format_utc(gw->last_contact_ms, contact, sizeof(contact));
	printf("%-24s %-12s %-26s %s\n", gw->gateway_id, gw->state, contact,
		gw->last_address[0] ? gw->last_address : "-");
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
		return usage_error("gateway list needs --home DIR");
	if ((rc = open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	printf("%-24s %-12s %-26s %s\n", "ID", "STATE", "LAST CONTACT (UTC)", "ADDRESS");
	rc = store_gateway_foreach(store, print_gateway, &count, &err);
	if (rc == TW_OK)
		printf("%zu gateway%s\n", count, count == 1 ? "" : "s");
out:
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : fail("gateway list", &err);
}

/* ------------------------------------------------------------------ audit */

static int cmd_audit_verify(const struct cli_options *o)
{
	struct audit_verify_result res;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	int status;
	tw_rc rc;

	tw_error_clear(&err);
	memset(&res, 0, sizeof(res));
	if (o->home == NULL)
		return usage_error("audit verify needs --home DIR");
	if ((rc = open_home_store(o->home, &home, &store, &err)) != TW_OK) {
		status = fail("audit verify", &err);
		goto out;
	}
	rc = audit_verify(store, &res, &err);
	if (rc == TW_OK) {
		printf("admin log intact: %lld entries verified\n", (long long)res.entries);
		status = 0;
	} else if (rc == TW_E_INTEGRITY) {
		fprintf(stderr, "torwart audit verify: admin log BROKEN at entry %lld: %s "
			"(%lld entries checked before it)\n", (long long)res.first_bad_seq,
			res.reason, (long long)(res.first_bad_seq > 0 ? res.first_bad_seq - 1 : 0));
		status = 3;
	} else {
		status = fail("audit verify", &err);
	}
	/* Record that the check ran (after it, so it does not verify itself). */
	if (rc != TW_E_INTEGRITY && store != NULL) {
		struct tw_error ignored;

		cli_audit(store, "audit.verify", "admin_log", rc == TW_OK ? "ok" : "error",
			rc == TW_OK ? "chain intact" : err.message, &ignored);
	}
out:
	store_close(store);
	tw_home_free(home);
	return status;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "test-pki", no_argument, NULL, 'T' },
		{ "wan-listen", required_argument, NULL, 'w' },
		{ "api-listen", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_options o = { 0 };
	const char *cmd, *sub;
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(torwart_usage, stdout);
			return 0;
		}
		return usage_error("options come after the command");
	}
	if (optind >= argc)
		return usage_error("no command given");
	cmd = argv[optind++];
	sub = (optind < argc && argv[optind][0] != '-') ? argv[optind++] : NULL;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o.home = optarg; break;
		case 'i': o.id = optarg; break;
		case 'o': o.out = optarg; break;
		case 'T': o.test_pki = 1; break;
		case 'w': o.wan_listen = optarg; break;
		case 'a': o.api_listen = optarg; break;
		case 'h': fputs(torwart_usage, stdout); return 0;
		default: return 2;
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument");
	if (strcmp(cmd, "init") == 0 && sub == NULL)
		return cmd_init(&o);
	if (strcmp(cmd, "gateway") == 0 && sub != NULL && strcmp(sub, "add") == 0)
		return cmd_gateway_add(&o);
	if (strcmp(cmd, "gateway") == 0 && sub != NULL && strcmp(sub, "list") == 0)
		return cmd_gateway_list(&o);
	if (strcmp(cmd, "audit") == 0 && sub != NULL && strcmp(sub, "verify") == 0)
		return cmd_audit_verify(&o);
	fprintf(stderr, "torwart: unknown command '%s%s%s' (see torwart --help)\n", cmd,
		sub ? " " : "", sub ? sub : "");
	return 2;
}
