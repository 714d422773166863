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
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/obj_mac.h>
#include <openssl/pem.h>
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
};

struct bulk {
	const struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;
	X509 *sub_ca, *root;
	unsigned char *gwa_sig_pem;
	size_t gwa_sig_len;
	int64_t tenant_id;
	char *shared_dir;          /* HOME/bench-fleet-files (bulk_shared_files) */
};

/* One batch of gateways on its way through the signer (bulk_run). */
struct bulk_set {
	struct bulk_gw *g;
	size_t n;
	X509 **tbs;                /* 3 n unsigned certificates, gateway by gateway */
	unsigned char **der;       /* 3 n signed certificates (DER), filled by the answer */
	size_t *der_len;
};

/*
 * Bench only: one device file, created exclusively and written without fsync. The GWA's
 * own files go through tw_write_file (fsync each); the simulated gateways' files are
 * rebuilt by running the bench again, and their 8 fsyncs per gateway were most of the
 * provisioning's wall time (docs/performance.md, "Fleet provisioning").
 */
static tw_rc bulk_put(const char *dir, const char *file, const void *data, size_t len,
	mode_t mode, struct tw_error *err)
{
	char *path = tw_asprintf("%s/%s", dir, file);
	const unsigned char *p = data;
	tw_rc rc = TW_OK;
	int fd;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0) {
		rc = tw_error_set(err, errno == EEXIST ? TW_E_EXISTS : TW_E_IO,
			"cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	while (len > 0 && rc == TW_OK) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno != EINTR)
			rc = tw_error_set(err, TW_E_IO, "cannot write %s: %s", path, strerror(errno));
		else if (n > 0) {
			p += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) != 0 && rc == TW_OK)
		rc = tw_error_set(err, TW_E_IO, "cannot write %s: %s", path, strerror(errno));
	if (rc != TW_OK)
		(void)unlink(path);
out:
	free(path);
	return rc;
}

/* PEM of a private key (unencrypted PKCS#8, as keys_write_private_pem) into dir/file. */
static tw_rc bulk_put_key(const char *dir, const char *file, EVP_PKEY *key,
	struct tw_error *err)
{
	BIO *mem = BIO_new(BIO_s_secmem());
	char *data = NULL;
	long len;
	tw_rc rc;

	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a key buffer");
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(mem, &data)) <= 0)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the key for %s/%s", dir,
			file);
	else
		rc = bulk_put(dir, file, data, (size_t)len, 0600, err);
	BIO_free(mem);   /* a secmem BIO wipes its buffer */
	return rc;
}

/* PEM of certificates into dir/file. */
static tw_rc bulk_put_certs(const char *dir, const char *file, X509 *const *certs, size_t n,
	struct tw_error *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL;
	tw_rc rc = TW_OK;
	long len;

	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a buffer");
	for (size_t i = 0; i < n && rc == TW_OK; i++)
		if (PEM_write_bio_X509(mem, certs[i]) != 1)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a certificate "
				"for %s/%s", dir, file);
	if (rc == TW_OK && (len = BIO_get_mem_data(mem, &data)) > 0)
		rc = bulk_put(dir, file, data, (size_t)len, 0644, err);
	BIO_free(mem);
	return rc;
}

/* PEM of one DER certificate into dir/file (no X509 decoded). */
static tw_rc bulk_put_der(const char *dir, const char *file, const unsigned char *der,
	size_t der_len, struct tw_error *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL;
	tw_rc rc;
	long len;

	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a buffer");
	if (PEM_write_bio(mem, PEM_STRING_X509, "", der, (long)der_len) <= 0 ||
	    (len = BIO_get_mem_data(mem, &data)) <= 0)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a certificate for %s/%s",
			dir, file);
	else
		rc = bulk_put(dir, file, data, (size_t)len, 0644, err);
	BIO_free(mem);
	return rc;
}

/*
 * The files every gateway of the home has alike (chain, root, the GWA's SIG certificate)
 * exist once in HOME/bench-fleet-files and are hard links in each gateway directory: a
 * link is cheaper than a new file (no inode). Nothing writes them in place: a renewal
 * replaces a gateway's files by rename, which breaks only that gateway's link.
 */
static const char *const bulk_shared[3] = { "chain.pem", "root-ca.crt", "gwa-sig.crt" };

static tw_rc bulk_shared_files(struct bulk *b, struct tw_error *err)
{
	X509 *chain[2] = { b->sub_ca, b->root };
	char name[64], *from = NULL, *to = NULL;
	tw_rc rc;

	if ((b->shared_dir = tw_asprintf("%s/bench-fleet-files", b->home->dir)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (mkdir(b->shared_dir, 0755) != 0 && errno != EEXIST)
		return tw_error_set(err, TW_E_IO, "cannot create %s: %s", b->shared_dir,
			strerror(errno));
	/* Two provisioning processes run at once: each writes its copies under its own
	 * names and renames them into place (the same bytes, so either copy will do). */
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "%s.%ld", bulk_shared[i], (long)getpid());
		rc = i == 0 ? bulk_put_certs(b->shared_dir, name, chain, 2, err) :
			i == 1 ? bulk_put_certs(b->shared_dir, name, &b->root, 1, err) :
			bulk_put(b->shared_dir, name, b->gwa_sig_pem, b->gwa_sig_len, 0644, err);
		from = tw_asprintf("%s/%s", b->shared_dir, name);
		to = tw_asprintf("%s/%s", b->shared_dir, bulk_shared[i]);
		if (rc == TW_OK && (from == NULL || to == NULL))
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		if (rc == TW_OK && rename(from, to) != 0)
			rc = tw_error_set(err, TW_E_IO, "cannot rename %s: %s", from, strerror(errno));
		free(from);
		free(to);
		if (rc != TW_OK)
			return rc;
	}
	return TW_OK;
}

static tw_rc bulk_files(const struct bulk *b, const struct bulk_gw *g,
	unsigned char *const der[3], const size_t der_len[3], struct tw_error *err)
{
	char name[16], *from = NULL, *to = NULL, *line = NULL;
	tw_rc rc = TW_OK;

	if (mkdir(g->dir, 0700) != 0)
		return tw_error_set(err, TW_E_IO, "cannot create %s: %s", g->dir, strerror(errno));
	for (int u = 0; u < 3 && rc == TW_OK; u++) {
		snprintf(name, sizeof(name), "%s.key", bulk_uses[u].name);
		if ((rc = bulk_put_key(g->dir, name, g->key[u], err)) != TW_OK)
			break;
		snprintf(name, sizeof(name), "%s.crt", bulk_uses[u].name);
		rc = bulk_put_der(g->dir, name, der[u], der_len[u], err);
	}
	for (int i = 0; i < 3 && rc == TW_OK; i++) {
		from = tw_asprintf("%s/%s", b->shared_dir, bulk_shared[i]);
		to = tw_asprintf("%s/%s", g->dir, bulk_shared[i]);
		if (from == NULL || to == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		/* ext4 allows 65,000 hard links per file: a larger fleet gets symbolic ones. */
		else if (link(from, to) != 0 && (errno != EMLINK || symlink(from, to) != 0))
			rc = tw_error_set(err, TW_E_IO, "cannot link %s to %s: %s", to, from,
				strerror(errno));
		free(from);
		free(to);
	}
	if (rc == TW_OK && (line = tw_asprintf("%s\n", g->id)) != NULL) {
		rc = bulk_put(g->dir, "id", line, strlen(line), 0644, err);
		free(line);
	}
	return rc;
}

/* Inventory rows, certificate rows and audit entries of a batch: one transaction. */
static tw_rc bulk_register(struct bulk *b, const struct bulk_set *set, struct tw_error *err)
{
	const struct bulk_gw *g = set->g;
	size_t n = set->n;
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
			rc = pki_certificate_record_der(b->store, b->tenant_id, set->tbs[3 * i +
				(size_t)u], set->der[3 * i + (size_t)u], set->der_len[3 * i + (size_t)u],
				"smgw", g[i].id, bulk_uses[u].tag, err);
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

static void bulk_set_free(struct bulk_set *set)
{
	for (size_t i = 0; set->g != NULL && i < set->n; i++) {
		for (int u = 0; u < 3; u++)
			EVP_PKEY_free(set->g[i].key[u]);
		free(set->g[i].dir);
	}
	for (size_t i = 0; i < 3 * set->n; i++) {
		if (set->tbs != NULL)
			X509_free(set->tbs[i]);
		if (set->der != NULL)
			free(set->der[i]);
	}
	free(set->g);
	free(set->tbs);
	free(set->der);
	free(set->der_len);
	memset(set, 0, sizeof(*set));
}

/* Keys and unsigned certificates of gateways from..to-1. */
static tw_rc bulk_prepare(struct bulk *b, const char *prefix, long from, long to,
	struct bulk_set *set, struct tw_error *err)
{
	const char *crl_url = tw_config_get(b->home->conf, "pki", "crl_url");
	const char *policy = tw_config_get(b->home->conf, "pki", "policy_oid");
	const char *cps = tw_config_get(b->home->conf, "pki", "cps_uri");
	size_t n = (size_t)(to - from), k = 0;
	tw_rc rc = TW_OK;

	set->n = n;
	set->g = calloc(n, sizeof(*set->g));
	set->tbs = calloc(3 * n, sizeof(*set->tbs));
	set->der = calloc(3 * n, sizeof(*set->der));
	set->der_len = calloc(3 * n, sizeof(*set->der_len));
	if (set->g == NULL || set->tbs == NULL || set->der == NULL || set->der_len == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct bulk_gw *g = &set->g[i];

		snprintf(g->id, sizeof(g->id), "%s%06ld", prefix, from + (long)i);
		if ((g->dir = tw_asprintf("%s/gateways/%s", b->home->dir, g->id)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
		for (int u = 0; u < 3 && rc == TW_OK; u++, k++) {
			struct pki_cert_request req;

			if ((rc = keys_generate_ec(NID_brainpoolP256r1, &g->key[u], err)) != TW_OK)
				break;
			memset(&req, 0, sizeof(req));
			req.usage = bulk_uses[u].usage;
			req.role = PKI_ROLE_SMGW;
			req.subject.common_name = g->id;
			req.subject.serial_number = g->id;
			req.issuer_cert = b->sub_ca;
			req.validity_days = BULK_CERT_DAYS;
			req.crl_url = crl_url;
			req.policy_oid = policy;
			req.cps_uri = cps;
			req.public_key = g->key[u];
			rc = pki_build_certificate(&req, &set->tbs[k], err);
		}
	}
	return rc;
}

/*
 * Files and rows of a signed batch. The signed certificates stay DER: decoding them
 * again (d2i_X509 runs OpenSSL 3.0's key decoders) was 15 % of the process; the rows
 * take serial, names and validity from the unsigned certificate, which the signer
 * signed as it was, and the fingerprint from the DER.
 */
static tw_rc bulk_finish(struct bulk *b, struct bulk_set *set, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < set->n && rc == TW_OK; i++)
		rc = bulk_files(b, &set->g[i], set->der + 3 * i, set->der_len + 3 * i, err);
	if (rc == TW_OK)
		rc = bulk_register(b, set, err);
	return rc;
}

static tw_rc bulk_run(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *prefix, long from, long to, long batch,
	struct tw_error *err)
{
	struct bulk b = { .home = home, .store = store, .sc = sc };
	struct bulk_set cur, next;
	char *sub = tw_home_join(home, TW_HOME_SUBCA_CERT), *root = tw_home_join(home,
		TW_HOME_ROOT_CERT), *gwa = tw_home_join(home, TW_HOME_GWA_SIG_CERT);
	tw_rc rc;

	memset(&cur, 0, sizeof(cur));
	memset(&next, 0, sizeof(next));
	if (sub == NULL || root == NULL || gwa == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if ((rc = keys_read_cert_pem(sub, &b.sub_ca, err)) == TW_OK &&
	    (rc = keys_read_cert_pem(root, &b.root, err)) == TW_OK)
		rc = tw_read_file(gwa, 65536, &b.gwa_sig_pem, &b.gwa_sig_len, err);
	if (rc == TW_OK)
		rc = bulk_shared_files(&b, err);
	/*
	 * Pipelined, one batch in flight: while the signer signs batch k, this process makes
	 * the keys of batch k+1; while it signs k+1, this process writes the files and rows
	 * of batch k.
	 */
	if (rc == TW_OK && (rc = bulk_prepare(&b, prefix, from, from + batch < to ? from + batch :
	    to, &cur, err)) == TW_OK)
		rc = signer_sign_certificates_send(sc, SIGNER_KEY_SUB_CA, cur.tbs, 3 * cur.n, err);
	for (long i = from; rc == TW_OK && i < to; i += batch) {
		long nf = i + batch, nt = nf + batch < to ? nf + batch : to;

		if (nf < to)
			rc = bulk_prepare(&b, prefix, nf, nt, &next, err);
		if (rc == TW_OK)
			rc = signer_sign_certificates_recv_der(sc, 3 * cur.n, cur.der, cur.der_len, err);
		if (rc == TW_OK && nf < to)
			rc = signer_sign_certificates_send(sc, SIGNER_KEY_SUB_CA, next.tbs, 3 * next.n,
				err);
		if (rc == TW_OK)
			rc = bulk_finish(&b, &cur, err);
		bulk_set_free(&cur);
		cur = next;
		memset(&next, 0, sizeof(next));
	}
	bulk_set_free(&cur);
	bulk_set_free(&next);
	X509_free(b.sub_ca);
	X509_free(b.root);
	free(b.gwa_sig_pem);
	free(b.shared_dir);
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
