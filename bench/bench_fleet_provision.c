/*
 * bench_fleet_provision.c: register N gateways for bench/bench_fleet.sh in one process
 * (one store and one signer connection instead of N `torwart gateway add` processes).
 *
 * Default (bulk, issue 10): the same artefacts as `torwart gateway add` (device keys,
 * TLS/SIG/ENC certificates built by the certificate engine and signed by the Sub-CA key
 * inside the signer, inventory rows, certificate rows, one gateway.add entry each, the
 * device files the simulator reads), but in batches: one SIGN_CERTIFICATES round trip
 * (one signer audit transaction) and one store transaction per --batch gateways, instead
 * of three signer round trips and four commits per gateway. Bench only: `gateway add`
 * stays the production path. --single runs gateway_provision per gateway (the old way).
 *
 *   bench_fleet_provision --home DIR [--prefix P] --from I --to J [--batch B | --single 1]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "gwa/gateway.h"
#include "pki/certstore.h"
#include "pki/profile.h"
#include "pki/testpki.h"
#include "store/store.h"

#define BULK_BATCH_MAX 300   /* 900 certificates: within one signer frame (~1000) */
#define BULK_CERT_DAYS 730   /* as gateway add */

static const struct {
	enum pki_usage usage;
	const char *name;          /* file prefix */
	const char *tag;           /* certificate row usage */
} bulk_uses[3] = {
	{ PKI_USAGE_TLS, "tls", "TLS" },
	{ PKI_USAGE_SIG, "sig", "SIG" },
	{ PKI_USAGE_ENC, "enc", "ENC" },
};

struct bulk_gw {
	char id[64];
	char *dir;
	EVP_PKEY *key[3];
	X509 *cert[3];             /* signed */
};

struct bulk {
	const struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;
	X509 *sub_ca, *root;
	unsigned char *gwa_sig_pem;
	size_t gwa_sig_len;
	int64_t tenant_id;
};

static tw_rc bulk_write(const char *dir, const char *file, const void *data, size_t len,
	mode_t mode, struct tw_error *err)
{
	char *path = tw_asprintf("%s/%s", dir, file);
	tw_rc rc = path != NULL ? tw_write_file(path, data, len, mode, true, err) :
		tw_error_set(err, TW_E_NOMEM, "out of memory");

	free(path);
	return rc;
}

static tw_rc bulk_files(const struct bulk *b, const struct bulk_gw *g, struct tw_error *err)
{
	X509 *chain[2] = { b->sub_ca, b->root };
	char *path = NULL, *line = NULL;
	tw_rc rc = TW_OK;

	if (mkdir(g->dir, 0700) != 0)
		return tw_error_set(err, TW_E_IO, "cannot create %s: %s", g->dir, strerror(errno));
	for (int u = 0; u < 3 && rc == TW_OK; u++) {
		if ((path = tw_asprintf("%s/%s.key", g->dir, bulk_uses[u].name)) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		rc = keys_write_private_pem(path, g->key[u], err);
		free(path);
		if (rc != TW_OK)
			break;
		if ((path = tw_asprintf("%s/%s.crt", g->dir, bulk_uses[u].name)) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		rc = keys_write_certs_pem(path, &g->cert[u], 1, err);
		free(path);
	}
	if (rc == TW_OK && (path = tw_asprintf("%s/chain.pem", g->dir)) != NULL) {
		rc = keys_write_certs_pem(path, chain, 2, err);
		free(path);
	}
	if (rc == TW_OK && (path = tw_asprintf("%s/root-ca.crt", g->dir)) != NULL) {
		rc = keys_write_certs_pem(path, &b->root, 1, err);
		free(path);
	}
	if (rc == TW_OK && (line = tw_asprintf("%s\n", g->id)) != NULL) {
		rc = bulk_write(g->dir, "id", line, strlen(line), 0644, err);
		free(line);
	}
	if (rc == TW_OK)
		rc = bulk_write(g->dir, "gwa-sig.crt", b->gwa_sig_pem, b->gwa_sig_len, 0644, err);
	return rc;
}

/* Inventory rows, certificate rows and audit entries of a batch: one transaction. */
static tw_rc bulk_register(struct bulk *b, struct bulk_gw *g, size_t n, struct tw_error *err)
{
	char client[32];
	tw_rc rc;

	snprintf(client, sizeof(client), "local:%ld", (long)getpid());
	if ((rc = store_begin(b->store, err)) != TW_OK)
		return rc;
	if (b->tenant_id == 0 && (rc = store_tenant_ensure(b->store, GATEWAY_DEFAULT_TENANT,
	    &b->tenant_id, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct store_gateway gw;
		struct audit_entry e;

		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = b->tenant_id;
		gw.created_ms = tw_now_ms();
		snprintf(gw.state, sizeof(gw.state), "registered");
		snprintf(gw.gateway_id, sizeof(gw.gateway_id), "%s", g[i].id);
		if ((rc = store_gateway_insert(b->store, &gw, err)) != TW_OK)
			break;
		for (int u = 0; u < 3 && rc == TW_OK; u++)
			rc = pki_certificate_record(b->store, b->tenant_id, g[i].cert[u], "smgw",
				g[i].id, bulk_uses[u].tag, err);
		e = (struct audit_entry){ .actor = "bench", .role = "local-admin",
			.client = client, .action = "gateway.add", .object = g[i].id,
			.result = "ok", .detail = "registered with TLS, SIG and ENC certificates "
			"(bulk)" };
		if (rc == TW_OK)
			rc = audit_append_in_tx(b->store, &e, err);
	}
	if (rc == TW_OK)
		rc = store_commit(b->store, err);
out:
	if (rc != TW_OK)
		store_rollback(b->store);
	return rc;
}

static tw_rc bulk_batch(struct bulk *b, const char *prefix, long from, long to,
	struct tw_error *err)
{
	const char *crl_url = tw_config_get(b->home->conf, "pki", "crl_url");
	const char *policy = tw_config_get(b->home->conf, "pki", "policy_oid");
	const char *cps = tw_config_get(b->home->conf, "pki", "cps_uri");
	size_t n = (size_t)(to - from), k = 0;
	struct bulk_gw *g = calloc(n, sizeof(*g));
	X509 **tbs = calloc(3 * n, sizeof(*tbs)), **sig = calloc(3 * n, sizeof(*sig));
	tw_rc rc = TW_OK;

	if (g == NULL || tbs == NULL || sig == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		snprintf(g[i].id, sizeof(g[i].id), "%s%06ld", prefix, from + (long)i);
		if ((g[i].dir = tw_asprintf("%s/gateways/%s", b->home->dir, g[i].id)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
		for (int u = 0; u < 3 && rc == TW_OK; u++, k++) {
			struct pki_cert_request req;

			if ((rc = keys_generate_ec(NID_brainpoolP256r1, &g[i].key[u], err)) != TW_OK)
				break;
			memset(&req, 0, sizeof(req));
			req.usage = bulk_uses[u].usage;
			req.role = PKI_ROLE_SMGW;
			req.subject.common_name = g[i].id;
			req.subject.serial_number = g[i].id;
			req.issuer_cert = b->sub_ca;
			req.validity_days = BULK_CERT_DAYS;
			req.crl_url = crl_url;
			req.policy_oid = policy;
			req.cps_uri = cps;
			req.public_key = g[i].key[u];
			rc = pki_build_certificate(&req, &tbs[k], err);
		}
	}
	/* One round trip and one audit transaction in the signer for the whole batch. */
	if (rc == TW_OK)
		rc = signer_sign_certificates(b->sc, SIGNER_KEY_SUB_CA, tbs, 3 * n, sig, err);
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		for (int u = 0; u < 3; u++) {
			g[i].cert[u] = sig[3 * i + (size_t)u];
			sig[3 * i + (size_t)u] = NULL;
		}
		rc = bulk_files(b, &g[i], err);
	}
	if (rc == TW_OK)
		rc = bulk_register(b, g, n, err);
out:
	for (size_t i = 0; g != NULL && i < n; i++) {
		for (int u = 0; u < 3; u++) {
			EVP_PKEY_free(g[i].key[u]);
			X509_free(g[i].cert[u]);
		}
		free(g[i].dir);
	}
	for (size_t i = 0; tbs != NULL && sig != NULL && i < 3 * n; i++) {
		X509_free(tbs[i]);
		X509_free(sig[i]);
	}
	free(g);
	free(tbs);
	free(sig);
	return rc;
}

static tw_rc bulk_run(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *prefix, long from, long to, long batch,
	struct tw_error *err)
{
	struct bulk b = { .home = home, .store = store, .sc = sc };
	char *sub = tw_home_join(home, TW_HOME_SUBCA_CERT), *root = tw_home_join(home,
		TW_HOME_ROOT_CERT), *gwa = tw_home_join(home, TW_HOME_GWA_SIG_CERT);
	tw_rc rc;

	if (sub == NULL || root == NULL || gwa == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if ((rc = keys_read_cert_pem(sub, &b.sub_ca, err)) == TW_OK &&
	    (rc = keys_read_cert_pem(root, &b.root, err)) == TW_OK)
		rc = tw_read_file(gwa, 65536, &b.gwa_sig_pem, &b.gwa_sig_len, err);
	for (long i = from; rc == TW_OK && i < to; i += batch)
		rc = bulk_batch(&b, prefix, i, i + batch < to ? i + batch : to, err);
	X509_free(b.sub_ca);
	X509_free(b.root);
	free(b.gwa_sig_pem);
	free(sub);
	free(root);
	free(gwa);
	return rc;
}

int main(int argc, char **argv)
{
	const char *home_dir = NULL, *prefix = "ETWAFLEET";
	long from = 0, to = 0, batch = 200, single = 0;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct tw_error err;
	char *url = NULL;
	int status = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--home") == 0)
			home_dir = argv[i + 1];
		else if (strcmp(argv[i], "--prefix") == 0)
			prefix = argv[i + 1];
		else if (strcmp(argv[i], "--from") == 0 &&
		    tw_parse_long(argv[i + 1], 0, 9999999, &from, &err, "from") == TW_OK)
			continue;
		else if (strcmp(argv[i], "--to") == 0 &&
		    tw_parse_long(argv[i + 1], 0, 9999999, &to, &err, "to") == TW_OK)
			continue;
		else if (strcmp(argv[i], "--batch") == 0 &&
		    tw_parse_long(argv[i + 1], 1, BULK_BATCH_MAX, &batch, &err, "batch") == TW_OK)
			continue;
		else if (strcmp(argv[i], "--single") == 0 &&
		    tw_parse_long(argv[i + 1], 0, 1, &single, &err, "single") == TW_OK)
			continue;
		else
			home_dir = NULL;
	}
	if (home_dir == NULL || to <= from) {
		fputs("usage: bench_fleet_provision --home DIR [--prefix P] --from I --to J "
			"[--batch 1..300 | --single 1]\n", stderr);
		return 2;
	}
	tw_log_init("provision", TW_LOG_ERROR);
	if (tw_home_open(home_dir, &home, &err) != TW_OK ||
	    (url = tw_home_store_url(home)) == NULL ||
	    store_open(url, &store, &err) != TW_OK ||
	    signer_client_open(home, false, &sc, &err) != TW_OK) {
		fprintf(stderr, "bench_fleet_provision: %s\n", err.message);
		goto out;
	}
	signer_client_set_actor(sc, "bench", "local-admin");
	if (!single) {
		if (bulk_run(home, store, sc, prefix, from, to, batch, &err) != TW_OK) {
			fprintf(stderr, "bench_fleet_provision: %s\n", err.message);
			goto out;
		}
		status = 0;
		goto out;
	}
	for (long i = from; i < to; i++) {
		char id[64], *dir;

		snprintf(id, sizeof(id), "%s%06ld", prefix, i);
		if ((dir = tw_asprintf("%s/gateways/%s", home->dir, id)) == NULL ||
		    gateway_provision(home, store, sc, id, dir, "bench", &err) != TW_OK) {
			fprintf(stderr, "bench_fleet_provision: %s: %s\n", id, err.message);
			free(dir);
			goto out;
		}
		free(dir);
	}
	status = 0;
out:
	signer_client_close(sc);
	store_close(store);
	free(url);
	tw_home_free(home);
	return status;
}
