/* cli_init.c: `torwart init`: create a home, its store, its token and a test SM-PKI. */
#include <ftw.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/signer.h"
#include "pki/testpki.h"


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
	"%s"
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

/* Inserted into [signer] by `init --signer-backend file` (bench/bench_issue.sh). */
static const char file_backend[] =
	"# TESTS AND BENCHMARKS ONLY: the keys are PEM files (mode 0600) in key_dir, not in\n"
	"# the token (docs/signer-protocol.md, \"Key backends\"). Never use this in production.\n"
	"backend = file\n"
	"key_dir = secrets/keys\n";

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int init_run(const struct cli_options *o)
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
	bool file_keys = o->signer_backend != NULL && strcmp(o->signer_backend, "file") == 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return cli_usage_error("init needs --home DIR");
	if ((rc = tw_parse_hostport(wan, &host, &port, &err)) != TW_OK)
		goto out;
	free(host);
	host = NULL;
	if ((rc = tw_parse_hostport(api, &host, &port, &err)) != TW_OK)
		goto out;
	if (o->signer_backend != NULL && strcmp(o->signer_backend, "pkcs11") != 0 &&
	    !file_keys)
		return cli_usage_error("--signer-backend takes pkcs11 (default) or file (tests only)");
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
	conf = tw_asprintf(conf_template, file_keys ? file_backend : "", wan, api);
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
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
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
	return rc == TW_OK ? 0 : cli_fail("init", &err);
}

int cli_init(const char *sub, int argc, char **argv)
{
	struct cli_options o;

	if (sub != NULL || cli_parse_options(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart init --home DIR [--test-pki] "
			"[--wan-listen HOST:PORT] [--api-listen HOST:PORT] [--signer-backend pkcs11|file]");
	return init_run(&o);
}
