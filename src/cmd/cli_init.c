/*
 * cli_init.c: `torwart init`: create a home, its store, its token, the internal operator
 * CA with the api's HTTPS certificate and the first (empty) operator CRL, and with
 * --test-pki a test SM-PKI. One ceremony signer session does all key generation.
 */
#include <ftw.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/opca.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/signer.h"
#include "pki/ca_state.h"
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
	"# The internal operator CA (docs/security.md): operator certificates and its CRL.\n"
	"policy.operator-ca = certificate,crl\n"
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
	"# plain HTTP: /health and the CRLs (/crl/<ca>.crl)\n"
	"listen = %s\n"
	"# HTTPS operator API: client certificates of the operator CA (pki/operator-ca.crt)\n"
	"# plus password or TOTP; its certificate is pki/api-tls.crt (docs/security.md)\n"
	"tls_listen = %s\n"
	"\n"
	"[worker]\n"
	"# seconds between two verifications of the admin-log hash chain\n"
	"audit_verify_interval = 60\n"
	"\n"
	"[pki]\n"
	"# Written into issued certificates. The CRL distribution points are per CA:\n"
	"# [ca.<name>] crl_url = URL [URL ...] (HTTP and/or LDAP); by default the api's own\n"
	"# http://<[api] listen>/crl/<name>.crl, or [ca] crl_base_url/<name>.crl.\n"
	"policy_oid = 1.3.6.1.4.1.55555.1.1\n"
	"cps_uri = https://localhost/torwart/cps\n"
	"\n"
	"[ca]\n"
	"# CAs whose CRLs the worker keeps fresh and the api serves at /crl/<name>.crl\n"
	"crl_cas = sub-ca%s " AUTH_OPCA_CRL_CA "\n"
	"\n"
	"[ca." AUTH_OPCA_CRL_CA "]\n"
	"# The internal operator CA: revoked (disabled) operators' certificates, signed by the\n"
	"# token key " AUTH_OPCA_KEY " through the signer.\n"
	"key_label = " AUTH_OPCA_KEY "\n"
	"cert = " AUTH_OPCA_CERT "\n"
	"crl_publish_path = " AUTH_OPCA_CRL_PATH "\n"
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

static int init_run(const struct cli_options *o, bool second_sub_ca)
{
	static const char *const subdirs[] = { "pki", "run", "secrets", "gateways" };
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	char *conf = NULL, *path = NULL, *host = NULL, *tls_host = NULL;
	const char *wan = o->wan_listen ? o->wan_listen : TW_DEFAULT_WAN_LISTEN;
	const char *api = o->api_listen ? o->api_listen : TW_DEFAULT_API_LISTEN;
	const char *api_tls = o->api_tls_listen ? o->api_tls_listen :
		TW_DEFAULT_API_TLS_LISTEN;
	uint16_t port, tls_port;
	bool created = false;
	bool file_keys = o->signer_backend != NULL && strcmp(o->signer_backend, "file") == 0;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->home == NULL)
		return cli_usage_error("init needs --home DIR");
	if (o->signer_backend != NULL && strcmp(o->signer_backend, "pkcs11") != 0 &&
	    !file_keys)
		return cli_usage_error("--signer-backend takes pkcs11 (default) or file (tests only)");
	if (second_sub_ca && !o->test_pki)
		return cli_usage_error("--second-sub-ca needs --test-pki");
	if ((rc = tw_parse_hostport(wan, &host, &port, &err)) != TW_OK)
		goto out;
	free(host);
	host = NULL;
	if ((rc = tw_parse_hostport(api, &host, &port, &err)) != TW_OK ||
	    (rc = tw_parse_hostport(api_tls, &tls_host, &tls_port, &err)) != TW_OK)
		goto out;
	if (strcmp(host, tls_host) == 0 && port == tls_port) {
		rc = tw_error_set(&err, TW_E_CONFIG, "--api-listen and --api-tls-listen are both "
			"%s; the plain and the HTTPS listener need different ports", api);
		goto out;
	}
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
	/* The test Root's CRL (ARL) is ours to publish only in a test PKI (issue 11). */
	conf = tw_asprintf(conf_template, file_keys ? file_backend : "", wan, api, api_tls,
		!o->test_pki ? "" : second_sub_ca ? " root-ca " TESTPKI_SUB2_LABEL : " root-ca");
	if (conf != NULL && second_sub_ca) {
		char *more = tw_asprintf("%s%s", conf, TESTPKI_SUB2_CONF);

		free(conf);
		conf = more;
	}
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
		o->test_pki ? "with test SM-PKI and operator CA" :
		"with operator CA, without SM-PKI", &err)) != TW_OK)
		goto out;
	/* A ceremony session: the only kind of signer session that may generate keys. */
	if ((rc = signer_client_open(home, true, &sc, &err)) != TW_OK)
		goto out;
	signer_client_set_actor(sc, cli_actor(), "local-admin");
	if (o->test_pki && (rc = testpki_create(home, sc, store, &err)) != TW_OK)
		goto out;
	if (second_sub_ca && (rc = testpki_create_second_sub_ca(home, sc, store, &err)) !=
	    TW_OK)
		goto out;
	/* The operator CA and its first (empty) CRL: later revocations only mark it dirty,
	 * which needs a CRL to exist, and relying parties can fetch it from the start. */
	if ((rc = auth_opca_create(home, sc, tls_host, &err)) != TW_OK ||
	    (rc = ca_state_activate_created(store, cli_actor(), AUTH_OPCA_CRL_CA,
		"activated at init: operator CA created by `torwart init`", &err)) != TW_OK ||
	    (rc = auth_opca_crl_publish(home, store, sc, cli_actor(), &err)) != TW_OK)
		goto out;
	printf("torwart: created home %s\n", home->dir);
	printf("  wan listens on %s, api on %s (HTTP) and %s (HTTPS, operators)\n", wan, api,
		api_tls);
	if (o->test_pki)
		printf("  test SM-PKI: pki/root-ca.crt, pki/sub-ca.crt, pki/gwa-{tls,sig,enc}.crt%s\n",
			second_sub_ca ? ", second Sub-CA pki/sub-ca-2.crt" : "");
	printf("  operator CA: %s (key \"%s\" in the token), CRL /crl/%s.crl\n",
		AUTH_OPCA_CERT, AUTH_OPCA_KEY, AUTH_OPCA_CRL_CA);
	printf("  first operator (break-glass): torwart operator add --home %s --name NAME "
		"--roles security-officer --password-file F --out DIR\n", home->dir);
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
	free(tls_host);
	return rc == TW_OK ? 0 : cli_fail("init", &err);
}

int cli_init(const char *sub, int argc, char **argv)
{
	struct cli_options o;
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	bool second_sub_ca = false;
	int n = 0, ret;

	/*
	 * --second-sub-ca (issue 11) is init's own flag: taken out here, so the shared
	 * parser (cli_parse_options, mirrored by the api's option specs) stays as it is.
	 */
	for (int i = 0; rest != NULL && i < argc; i++) {
		if (i > 0 && strcmp(argv[i], "--second-sub-ca") == 0)
			second_sub_ca = true;
		else
			rest[n++] = argv[i];
	}
	if (sub != NULL || rest == NULL || cli_parse_options(n, rest, &o) != 0)
		ret = cli_usage_error("usage: torwart init --home DIR [--test-pki [--second-sub-ca]] "
			"[--wan-listen HOST:PORT] [--api-listen HOST:PORT] [--api-tls-listen HOST:PORT] "
			"[--signer-backend pkcs11|file]");
	else
		ret = init_run(&o, second_sub_ca);
	free(rest);
	return ret;
}
