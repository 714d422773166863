/*
 * cli_init.c: `torwart init`: create a home, its store, its token, the internal operator
 * CA with the api's HTTPS certificate and the first (empty) operator CRL, and with
 * --test-pki a test SM-PKI. One ceremony signer session does all key generation.
 */
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/opca.h"
#include "base/sandbox.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/signer.h"
#include "crypto/secretbox.h"
#include "crypto/shares.h"
#include "pki/ca_state.h"
#include "pki/testpki.h"
#include "gwa/firmware_testpki.h"
#include "signer/signer_server.h"


static const char conf_template[] =
	"# torwart.conf: configuration of this Torwart home (INI format).\n"
	"# Written by `torwart init`. Relative paths are relative to this directory.\n"
	"# Keys and their meaning: docs/operations.md.\n"
	"\n"
	"[store]\n"
	"# SQLite file (relative to the home), or postgresql://USER@HOST:PORT/DB (operations.md)\n"
	"url = %s\n"
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
	"# (certificate, crl, wakeup, tree-head, authorisation, certreq...). CA keys: certificates\n"
	"# and CRLs only; certreq: the GWA's own certificate requests (docs/renewal.md).\n"
	"policy.root-ca = certificate,crl\n"
	"policy.sub-ca = certificate,crl\n"
	"policy.gwa-sig = wakeup,tree-head,authorisation,initial-config,delivery-note,certreq\n"
	"policy.gwa-enc = certreq\n"
	"# The internal operator CA (docs/security.md): operator certificates and its CRL.\n"
	"policy.operator-ca = certificate,crl\n"
	"\n"
	"[wan]\n"
	"# SMGW-facing TLS service (TR-03116-3 WAN profile).\n"
	"listen = %s\n"
	"# event loops; 0 = one per core\n"
	"threads = 0\n"
	"cert = pki/gwa-tls.crt\n"
	"# The TLS key is the signer's (key gwa-tls; docs/security.md). A key file named by\n"
	"# key = FILE (default pki/gwa-tls.key) is used instead where one exists.\n"
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

/* Added by `init --system`: the services' users (base/sandbox.h, docs/security.md). */
static const char privsep_section[] =
	"\n"
	"[privsep]\n"
	"# Written by `torwart init --system`: torwartd (started as root) runs each service\n"
	"# as its own user; only the signer's user can read tokens/, secrets/pins and the\n"
	"# signer's keys (docs/security.md, \"Privilege separation\"). All four share the\n"
	"# group " TW_PRIVSEP_GROUP " (store, signer socket). secrets/data.key is the signer's\n"
	"# too: the others seal and open secrets through it.\n"
	"signer = torwart-signer\n"
	"wan = torwart-wan\n"
	"api = torwart-api\n"
	"worker = torwart-worker\n"
	"# kill (default): a system call outside a service's allow-list kills it (SIGSYS).\n"
	"# log: the kernel only logs it; for finding a missing entry, never in production.\n"
	"seccomp = kill\n";

/* Run a system tool (useradd, groupadd, usermod) and wait for it; 0 when it succeeded. */
static int run_tool(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		char path[64];

		snprintf(path, sizeof(path), "/usr/sbin/%s", argv[0]);
		execv(path, argv);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * The service users of a privsep home: system accounts without a login shell or home,
 * primary group torwart. Existing ones are kept (the packaging may have created them with
 * the same useradd lines, docs/operations.md). No service but the signer reads the data
 * key any more, so there is no data-key group (homes made before keep theirs, unused).
 */
static tw_rc ensure_users(struct tw_error *err)
{
	char *gadd[] = { "groupadd", "--system", TW_PRIVSEP_GROUP, NULL };

	if (getgrnam(TW_PRIVSEP_GROUP) == NULL && run_tool(gadd) != 0)
		return tw_error_set(err, TW_E_IO, "groupadd --system %s failed; create the "
			"group yourself (docs/operations.md, \"Service users\")", TW_PRIVSEP_GROUP);
	for (int s = 0; s < TW_SANDBOX_SERVICE_COUNT; s++) {
		const char *user = tw_sandbox_default_user((enum tw_sandbox_service)s);
		char *add[] = { "useradd", "--system", "--no-create-home", "--home-dir",
			"/nonexistent", "--shell", "/usr/sbin/nologin", "--gid", TW_PRIVSEP_GROUP,
			(char *)user, NULL };

		if (getpwnam(user) == NULL && run_tool(add) != 0)
			return tw_error_set(err, TW_E_IO, "useradd %s failed; create it yourself "
				"(docs/operations.md, \"Service users\")", user);
	}
	return TW_OK;
}

/* chown + chmod of one path of the home; a missing path is fine (optional file). */
static tw_rc own(const char *home, const char *rel, const char *user, const char *group,
	mode_t mode, struct tw_error *err)
{
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	struct group *gr = getgrnam(group);
	char *path = rel[0] != '\0' ? tw_asprintf("%s/%s", home, rel) : tw_strdup(home);
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((user != NULL && pw == NULL) || gr == NULL)
		rc = tw_error_set(err, TW_E_CONFIG, "user %s or group %s is missing",
			user ? user : "root", group);
	else if (!tw_path_exists(path))
		rc = TW_OK;
	else if (lchown(path, pw != NULL ? pw->pw_uid : 0, gr->gr_gid) != 0 ||
	    chmod(path, mode) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot set owner and mode of %s: %s", path,
			strerror(errno));
	free(path);
	return rc;
}

/* nftw has no user pointer: the owner of the tree being walked. */
static uid_t tree_uid;
static gid_t tree_gid;

static int own_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (lchown(path, tree_uid, tree_gid) != 0)
		return -1;
	if (flag == FTW_F && chmod(path, st->st_mode & 0600) != 0)
		return -1;
	if ((flag == FTW_D || flag == FTW_DP) && chmod(path, 0700) != 0)
		return -1;
	return 0;
}

static tw_rc own_tree(const char *home, const char *rel, const char *user,
	struct tw_error *err)
{
	struct passwd *pw = getpwnam(user);
	struct group *gr = getgrnam(TW_PRIVSEP_GROUP);
	char *path = tw_asprintf("%s/%s", home, rel);
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (pw == NULL || gr == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "user %s or group %s is missing", user,
			TW_PRIVSEP_GROUP);
	} else if (tw_path_exists(path)) {
		tree_uid = pw->pw_uid;
		tree_gid = gr->gr_gid;
		if (nftw(path, own_entry, 16, FTW_PHYS) != 0)
			rc = tw_error_set(err, TW_E_IO, "cannot give %s to %s: %s", path, user,
				strerror(errno));
	}
	free(path);
	return rc;
}

/*
 * The file modes of a privsep home (docs/operations.md, "Service users"): the token,
 * PINs and the signer's keys to the signer's user alone; the TLS keys to the service
 * that serves with them; the store and the places services write to the shared group.
 */
static tw_rc privsep_layout(const char *home, struct tw_error *err)
{
	static const struct {
		const char *rel, *user, *group;
		mode_t mode;
	} layout[] = {
		{ "", NULL, TW_PRIVSEP_GROUP, 0750 },
		{ "torwart.conf", NULL, TW_PRIVSEP_GROUP, 0640 },
		{ "store", NULL, TW_PRIVSEP_GROUP, 02770 },
		{ "store/store.db", NULL, TW_PRIVSEP_GROUP, 0660 },
		{ "store/store.db-wal", NULL, TW_PRIVSEP_GROUP, 0660 },
		{ "store/store.db-shm", NULL, TW_PRIVSEP_GROUP, 0660 },
		{ "run", "torwart-signer", TW_PRIVSEP_GROUP, 0750 },
		{ "softhsm2.conf", "torwart-signer", TW_PRIVSEP_GROUP, 0600 },
		/* secrets/: the signer's alone. The data key too: the other services seal and
		 * open secrets through the signer (SEAL/UNSEAL), never with the key itself. */
		{ "secrets", "torwart-signer", TW_PRIVSEP_GROUP, 0700 },
		{ "secrets/pins", "torwart-signer", TW_PRIVSEP_GROUP, 0600 },
		{ "secrets/custodians", "torwart-signer", TW_PRIVSEP_GROUP, 0600 },
		{ "secrets/data.key", "torwart-signer", TW_PRIVSEP_GROUP, 0600 },
		{ "pki", NULL, TW_PRIVSEP_GROUP, 0750 },
		{ "crl", NULL, TW_PRIVSEP_GROUP, 02770 },
		{ "gateways", NULL, TW_PRIVSEP_GROUP, 02770 },
		{ "firmware", NULL, TW_PRIVSEP_GROUP, 02770 },
		{ "archive", NULL, TW_PRIVSEP_GROUP, 02770 },
		{ "spool", "torwart-api", TW_PRIVSEP_GROUP, 0700 },
	};
	static const char *const made[] = { "crl", "firmware", "archive", "spool" };
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]) && rc == TW_OK; i++) {
		char *path = tw_asprintf("%s/%s", home, made[i]);

		rc = path == NULL ? tw_error_set(err, TW_E_NOMEM, "out of memory") :
			tw_mkdir_p(path, 0700, err);
		free(path);
	}
	if (rc == TW_OK)
		rc = own_tree(home, "tokens", "torwart-signer", err);
	if (rc == TW_OK)
		rc = own_tree(home, "secrets/keys", "torwart-signer", err);
	/* The TLS keys (signer_keys.h): read by the signer alone, like its other keys. */
	if (rc == TW_OK)
		rc = own_tree(home, "secrets/tls-keys", "torwart-signer", err);
	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]) && rc == TW_OK; i++)
		rc = own(home, layout[i].rel, layout[i].user, layout[i].group, layout[i].mode, err);
	return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* init's production mode (--custodians K/N): the token PINs split at init, no pin file. */
struct init_custodians {
	const char *spec;        /* "K/N", or NULL: demo mode */
	const char *out;         /* --custodians-out DIR: the share files */
	const char *keys;        /* --custodian-keys A.pub,B.pub,...: seal share i to key i */
	unsigned k, n;
};

static int init_custodians_check(struct init_custodians *c, bool file_keys)
{
	char *end = NULL;
	unsigned long k, n;

	if (c->spec == NULL)
		return c->out != NULL || c->keys != NULL ? cli_usage_error("--custodians-out and "
			"--custodian-keys need --custodians K/N") : 0;
	k = strtoul(c->spec, &end, 10);
	if (end == c->spec || *end != '/' ||
	    (n = strtoul(end + 1, &end, 10), *end != '\0') || k < 2 || k > n ||
	    n > SHARES_N_MAX)
		return cli_usage_error("--custodians K/N: 2 <= K <= N <= 16, e.g. 2/3");
	if (c->out == NULL)
		return cli_usage_error("--custodians needs --custodians-out DIR (the share files, "
			"one per custodian)");
	if (file_keys)
		return cli_usage_error("--custodians needs the token (--signer-backend pkcs11)");
	c->k = (unsigned)k;
	c->n = (unsigned)n;
	return 0;
}

static int init_run(const struct cli_options *o, bool second_sub_ca,
	const struct init_custodians *cust)
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
	/* A privsep home's SQLite store is HOME/store/store.db (its modes are set for
	 * that file); another path would be dropped, so it is refused up front. */
	if (o->system && o->store != NULL && strncmp(o->store, "postgresql://", 13) != 0 &&
	    strncmp(o->store, "postgres://", 11) != 0)
		return cli_usage_error("init --system keeps a SQLite store in HOME/store/store.db; "
			"--store takes only a postgresql:// URL here");
	if (o->system && geteuid() != 0)
		return cli_usage_error("init --system must run as root: it creates the service "
			"users and gives them the home's files (docs/operations.md)");
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
	/* Users first: a failure here leaves nothing behind. */
	if (o->system && (rc = ensure_users(&err)) != TW_OK)
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
	/* --store goes into torwart.conf verbatim: one line, no control characters. */
	if (o->store != NULL && (o->store[0] == '\0' || strpbrk(o->store, "\n\r\t") != NULL)) {
		rc = tw_error_set(&err, TW_E_INVALID, "--store must be one line (a path or URL)");
		goto out;
	}
	/* The test Root's CRL (ARL) is ours to publish only in a test PKI (issue 11). */
	conf = tw_asprintf(conf_template, o->store != NULL ? o->store : TW_DEFAULT_STORE,
		file_keys ? file_backend : "", wan, api, api_tls,
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
	if (o->system) {
		/* The store gets a directory of its own: SQLite creates its -wal and -shm
		 * files next to it, and the services may write there but not in the home.
		 * A PostgreSQL --store is kept as given (it was silently replaced by the
		 * SQLite file before); the directory stays, empty, for a later migration. */
		char *more = tw_asprintf("%s%s", conf, privsep_section);
		bool pg_store = o->store != NULL &&
			(strncmp(o->store, "postgresql://", 13) == 0 ||
			 strncmp(o->store, "postgres://", 11) == 0);
		size_t len;

		free(conf);
		conf = more;
		len = conf != NULL ? strlen(conf) : 0;
		free(path);
		path = tw_asprintf("%s/store", o->home);
		if (conf == NULL || path == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if (!pg_store && (rc = tw_config_text_set(&conf, &len, "store", "url",
		    "store/store.db", &err)) != TW_OK)
			goto out;
		if ((rc = tw_mkdir_p(path, 0700, &err)) != TW_OK)
			goto out;
		free(path);
		if ((path = tw_asprintf("%s/torwart.conf", o->home)) == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto out;
		}
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
	/* The test manufacturer and certified-list anchor (docs/firmware.md, issue 13). */
	if (o->test_pki && (rc = firmware_testpki_create(home, sc, store, &err)) != TW_OK)
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
	if (cust->spec != NULL) {
		char detail[160];

		/* Production mode from the start: the ceremony signer is closed (the split
		 * changes the PINs), then the PINs go to the custodians and the pin file away. */
		signer_client_close(sc);
		sc = NULL;
		if ((rc = cli_custodians_split(home, cust->k, cust->n, cust->out, cust->keys,
		    &err)) != TW_OK)
			goto out;
		snprintf(detail, sizeof(detail), "at init: token PINs split %u of %u, %u share "
			"files%s, pin file removed", cust->k, cust->n, cust->n,
			cust->keys != NULL ? " sealed to the custodians' keys" : "");
		if ((rc = cli_audit(store, "ca.custodians.split", "token", "ok", detail, &err)) !=
		    TW_OK)
			goto out;
	}
	if (o->system) {
		struct secretbox *box = NULL;

		/* Closed first, so no -wal or -shm of ours stays behind with root's modes;
		 * the data key now (the ceremony signer made it already; this only checks),
		 * handed to the signer's user below. */
		signer_client_close(sc);
		sc = NULL;
		store_close(store);
		store = NULL;
		if ((rc = secretbox_open_key(home, &box, &err)) != TW_OK)
			goto out;
		secretbox_free(box);
		if ((rc = privsep_layout(home->dir, &err)) != TW_OK)
			goto out;
	}
	printf("torwart: created home %s\n", home->dir);
	if (o->system)
		printf("  services run as torwart-signer, -wan, -api, -worker (group %s); start "
			"torwartd as root\n", TW_PRIVSEP_GROUP);
	printf("  wan listens on %s, api on %s (HTTP) and %s (HTTPS, operators)\n", wan, api,
		api_tls);
	if (o->test_pki)
		printf("  test SM-PKI: pki/root-ca.crt, pki/sub-ca.crt, pki/gwa-{tls,sig,enc}.crt%s\n"
			"  test manufacturer %s, certified-list anchor %s (docs/firmware.md)\n",
			second_sub_ca ? ", second Sub-CA pki/sub-ca-2.crt" : "", FW_TEST_VENDOR_CERT,
			FW_DEFAULT_LIST_ANCHOR);
	printf("  operator CA: %s (key \"%s\" in the token), CRL /crl/%s.crl\n",
		AUTH_OPCA_CERT, AUTH_OPCA_KEY, AUTH_OPCA_CRL_CA);
	printf("  first operator (break-glass): torwart operator add --home %s --name NAME "
		"--roles security-officer --password-file F --out DIR\n", home->dir);
	if (cust->spec != NULL)
		printf("  custodians: token PINs split %u of %u into %s (one file per custodian%s); "
			"no pin file: the signer starts inactive until %u custodians enter their "
			"shares (docs/key-ceremony.md)\n", cust->k, cust->n, cust->out,
			cust->keys != NULL ? ", each sealed to its custodian's key" : "", cust->k);
	else
		fprintf(stderr, "torwart: WARNING: the token PINs are stored in %s/secrets/pins "
			"(mode 0600) for this demo home; production: torwart init --custodians K/N "
			"(docs/key-ceremony.md)\n", home->dir);
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
	struct init_custodians cust = { .spec = NULL };
	bool bad = false;
	int n = 0, ret;

	/*
	 * --second-sub-ca (issue 11) is init's own flag: taken out here, so the shared
	 * parser (cli_parse_options, mirrored by the api's option specs) stays as it is.
	 */
	for (int i = 0; rest != NULL && i < argc; i++) {
		const char **dest = i == 0 ? NULL : strcmp(argv[i], "--custodians") == 0 ?
			&cust.spec : strcmp(argv[i], "--custodians-out") == 0 ? &cust.out :
			strcmp(argv[i], "--custodian-keys") == 0 ? &cust.keys : NULL;

		if (dest != NULL) {
			if (i + 1 >= argc || *dest != NULL) {
				bad = true;
				break;
			}
			*dest = argv[++i];
		} else if (i > 0 && strcmp(argv[i], "--second-sub-ca") == 0) {
			second_sub_ca = true;
		} else {
			rest[n++] = argv[i];
		}
	}
	if (sub != NULL || rest == NULL || bad || cli_parse_options(n, rest, &o) != 0)
		ret = cli_usage_error("usage: torwart init --home DIR [--test-pki [--second-sub-ca]] "
			"[--wan-listen HOST:PORT] [--api-listen HOST:PORT] [--api-tls-listen HOST:PORT] "
			"[--signer-backend pkcs11|file] [--system]\n"
			"       [--store PATH|postgresql://...] [--custodians K/N --custodians-out DIR "
			"[--custodian-keys A.pub,B.pub,...]]");
	else if ((ret = init_custodians_check(&cust, o.signer_backend != NULL &&
	    strcmp(o.signer_backend, "file") == 0)) == 0)
		ret = init_run(&o, second_sub_ca, &cust);
	free(rest);
	return ret;
}
