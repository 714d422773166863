/*
 * bench_metering.c: metering messages accepted per second by the GWA's receipt path, with
 * and without group commit, next to peers measured in the same run on the same machine.
 *
 * The receipt path is what wan does per POST /v1/metering/values: metering_prepare
 * (authorisation lookups, the gateway's SIG certificate from the store, CMS
 * verification) and the durable INSERT (store_metering_insert) before the ack. Here W
 * receiver threads (like wan's event loops, one store connection each) take messages
 * from a shared queue of concurrent senders' messages:
 *   - "before": each message in its own transaction (one commit, i.e. one fsync, per
 *     acknowledged message: wan before group commit, or [wan] metering_batch = 1);
 *   - "after": each thread verifies, then stores up to B messages (default 64) in one
 *     transaction, committing when the batch is full or its first message waited
 *     5 ms ([wan] metering_batch / metering_batch_ms); acknowledged after the commit.
 * Peers:
 *   - "verify": raw OpenSSL CMS_verify of the same messages with the same certificate,
 *     on one thread and on W threads (no store);
 *   - "insert": the same bytes inserted into the same table with one commit per batch of
 *     100, no checks, one thread (the plain durable peer of issue 14).
 * Also: bytes stored per message. Messages are one day of quarter-hour values (96) per
 * metering point, signed and encrypted like the simulator's, from G gateways.
 *
 *   bench_metering [-n N] [-w THREADS] [-b BATCH] [-g GATEWAYS] [STORE]
 *     N messages (default 2000), W receiver threads (default 2), batch bound B (64), G
 *     gateways (default 8); STORE: a directory for SQLite (a new temporary one by
 *     default; WAL, synchronous FULL as in production) or a postgresql:// URL (the
 *     database must be empty; bench_metering.sh starts a throw-away server).
 * The last line is machine-readable: "bench_metering: key=value ...".
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/util.h"
#include "metering/metering.h"
#include "sim/sim_metering.h"
#include "store/db.h"
#include "store/store.h"
#include "store/store_metering.h"
#include "store/store_profiles.h"

#define EMT "9900000000001"
#define BATCH_WAIT_MS 5

struct bench {
	const char *store_path;        /* SQLite file or PostgreSQL URL */
	struct metering_msg *msgs;
	long n;
	long batch;                    /* 1: before (a transaction per message) */
	X509 *sig;
	atomic_long next;              /* the shared queue: next message to take */
	atomic_long acked, failed;
	atomic_long commits;
};

static X509 *mk_cert(EVP_PKEY **key)
{
	X509 *x = X509_new();

	*key = EVP_EC_gen("brainpoolP256r1");
	if (x == NULL || *key == NULL)
		exit(2);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)"bench", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, *key);
	if (X509_sign(x, *key, EVP_sha256()) <= 0)
		exit(2);
	return x;
}

static void die(const char *what, const struct tw_error *e)
{
	fprintf(stderr, "bench_metering: %s: %s\n", what, e->message);
	exit(1);
}

/* Gateway g: inventory row, its SIG certificate, EMT authorisation, evaluation profile. */
static void setup_gateway(struct tw_store *st, long g, X509 *sig)
{
	struct store_gateway gw;
	struct store_certificate c;
	struct store_profile p;
	struct tw_error e;
	unsigned char *der = NULL;
	int dlen;
	bool dup;

	memset(&gw, 0, sizeof(gw));
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "GW-BENCH%ld", g);
	snprintf(gw.state, sizeof(gw.state), "registered");
	if (store_tenant_ensure(st, "default", &gw.tenant_id, &e) != TW_OK ||
	    store_gateway_insert(st, &gw, &e) != TW_OK)
		die("gateway", &e);
	memset(&c, 0, sizeof(c));
	c.tenant_id = gw.tenant_id;
	snprintf(c.serial_hex, sizeof(c.serial_hex), "%02lX", g + 1);
	snprintf(c.issuer, sizeof(c.issuer), "CN=bench");
	snprintf(c.subject, sizeof(c.subject), "CN=bench");
	snprintf(c.owner_kind, sizeof(c.owner_kind), "smgw");
	snprintf(c.owner_id, sizeof(c.owner_id), "%s", gw.gateway_id);
	snprintf(c.usage, sizeof(c.usage), "SIG");
	snprintf(c.status, sizeof(c.status), "valid");
	memset(c.fingerprint, 'a', 64);
	snprintf(c.fingerprint + 56, 9, "%08lx", g);
	c.not_after = 4102444800LL;
	if ((dlen = i2d_X509(sig, &der)) <= 0)
		exit(2);
	c.der = der;
	c.der_len = (size_t)dlen;
	if (store_certificate_insert(st, &c, &e) != TW_OK)
		die("certificate", &e);
	free(der);
	if (store_emt_authorise(st, gw.gateway_id, EMT, 1, &e) != TW_OK)
		die("authorisation", &e);
	memset(&p, 0, sizeof(p));
	snprintf(p.gateway_id, sizeof(p.gateway_id), "%s", gw.gateway_id);
	snprintf(p.profile_id, sizeof(p.profile_id), "taf1");
	snprintf(p.type, sizeof(p.type), "evaluation");
	memset(p.hash, 'b', 64);
	p.doc = (char *)"{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\","
		"\"meters\":[\"MP1\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,"
		"\"recipients\":[{\"emt\":\"" EMT "\",\"wan_profile\":\"w\"}]}";
	if (store_profile_put(st, &p, &dup, &e) != TW_OK)
		die("profile", &e);
}

/* Store rows[0..n) in one transaction; false: it failed (counted, not acknowledged). */
static bool commit_batch(struct bench *b, struct tw_store *st, struct store_metering_msg *rows,
	size_t n)
{
	struct tw_error e;
	int64_t id;
	bool dup, ok = store_begin(st, &e) == TW_OK;

	for (size_t i = 0; ok && i < n; i++)
		ok = store_metering_insert(st, &rows[i], &id, &dup, &e) == TW_OK;
	if (ok)
		ok = store_commit(st, &e) == TW_OK;
	if (!ok) {
		store_rollback(st);
		fprintf(stderr, "bench_metering: batch of %zu failed: %s\n", n, e.message);
		atomic_fetch_add(&b->failed, (long)n);
	} else {
		atomic_fetch_add(&b->acked, (long)n);   /* acknowledged only now */
		atomic_fetch_add(&b->commits, 1);
	}
	for (size_t i = 0; i < n; i++)
		store_metering_msg_clear(&rows[i]);
	return ok;
}

/* One receiver thread: take, verify, queue; commit at the batch bound or its wait. */
static void *receiver(void *arg)
{
	struct bench *b = arg;
	struct tw_store *st = NULL;
	struct store_metering_msg *rows = calloc((size_t)b->batch, sizeof(*rows));
	struct tw_error e;
	size_t n = 0;
	int64_t first_ms = 0;
	long i;

	if (rows == NULL || store_open(b->store_path, &st, &e) != TW_OK)
		die("receiver store", &e);
	while ((i = atomic_fetch_add(&b->next, 1)) < b->n) {
		const struct metering_msg *m = &b->msgs[i];

		if (metering_prepare(st, m->gateway_id, m, tw_now_ms(), &rows[n], &e) != TW_OK)
			die("prepare", &e);
		if (n++ == 0)
			first_ms = tw_monotonic_ms();
		if ((long)n == b->batch || tw_monotonic_ms() - first_ms >= BATCH_WAIT_MS) {
			commit_batch(b, st, rows, n);
			n = 0;
		}
	}
	if (n > 0)
		commit_batch(b, st, rows, n);
	store_close(st);
	free(rows);
	return NULL;
}

/* W receivers over all messages; seconds taken. */
static double run_receivers(struct bench *b, long threads, long batch)
{
	pthread_t tid[64];
	int64_t t0;

	b->batch = batch;
	atomic_store(&b->next, 0);
	atomic_store(&b->acked, 0);
	atomic_store(&b->failed, 0);
	atomic_store(&b->commits, 0);
	t0 = tw_monotonic_ms();
	for (long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, receiver, b) != 0)
			exit(2);
	for (long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return (double)(tw_monotonic_ms() - t0) / 1000.0;
}

struct verify_arg {
	struct bench *b;
	atomic_long *next;
};

static void *verifier(void *arg)
{
	struct verify_arg *va = arg;
	long i;

	while ((i = atomic_fetch_add(va->next, 1)) < va->b->n) {
		const unsigned char *q = va->b->msgs[i].cms;
		CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &q, (long)va->b->msgs[i].cms_len);
		STACK_OF(X509) *certs = sk_X509_new_null();
		BIO *out = BIO_new(BIO_s_mem());

		sk_X509_push(certs, va->b->sig);
		if (ci == NULL || CMS_verify(ci, certs, NULL, NULL, out, CMS_NOINTERN |
		    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
			exit(1);
		BIO_free(out);
		sk_X509_free(certs);
		CMS_ContentInfo_free(ci);
	}
	return NULL;
}

static double run_verify(struct bench *b, long threads)
{
	pthread_t tid[64];
	atomic_long next = 0;
	struct verify_arg va = { b, &next };
	int64_t t0 = tw_monotonic_ms();

	for (long t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, verifier, &va) != 0)
			exit(2);
	for (long t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	return (double)(tw_monotonic_ms() - t0) / 1000.0;
}

static void clear_outbox(struct tw_store *st)
{
	struct tw_error e;
	struct db *d = store_db(st, &e);

	if (d == NULL || db_exec(d, "DELETE FROM metering_messages", "clearing the outbox", &e)
	    != TW_OK)
		die("clear", &e);
}

int main(int argc, char **argv)
{
	long n = 2000, threads = 2, batch = 64, ngw = 8;
	char tmpl[] = "/tmp/torwart-bench-metering-XXXXXX", db[256];
	const char *where = NULL, *dir = NULL;
	bool pg;
	EVP_PKEY *sig_key, *enc_key;
	X509 *enc;
	struct bench b;
	struct tw_store *st = NULL;
	struct tw_error e;
	struct store_metering_counts cnt;
	double t_before, t_after, t_verify1, t_verifyw, t_insert;
	long acked_before, commits_before, acked_after, commits_after, failed;
	int64_t t0, id;
	bool dup;
	int c;

	while ((c = getopt(argc, argv, "n:w:b:g:")) != -1) {
		switch (c) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'w': threads = strtol(optarg, NULL, 10); break;
		case 'b': batch = strtol(optarg, NULL, 10); break;
		case 'g': ngw = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: bench_metering [-n N] [-w THREADS] [-b BATCH] "
				"[-g GATEWAYS] [DIR | postgresql://...]\n");
			return 2;
		}
	}
	if (optind < argc)
		where = argv[optind];
	if (n < 1 || threads < 1 || threads > 64 || batch < 1 || ngw < 1 || ngw > 4096)
		return 2;
	pg = where != NULL && strncmp(where, "postgres", 8) == 0;
	if (!pg) {
		dir = where != NULL ? where : mkdtemp(tmpl);
		if (dir == NULL)
			return 2;
		snprintf(db, sizeof(db), "%s/store.db", dir);
	} else {
		snprintf(db, sizeof(db), "%s", where);
	}
	memset(&b, 0, sizeof(b));
	b.store_path = db;
	b.n = n;
	b.sig = mk_cert(&sig_key);
	enc = mk_cert(&enc_key);
	if (store_open(db, &st, &e) != TW_OK || store_migrate(st, &e) != TW_OK)
		die("store", &e);
	for (long g = 0; g < ngw; g++)
		setup_gateway(st, g, b.sig);

	/* The messages of G gateways (sending concurrently), made before any clock runs. */
	if ((b.msgs = calloc((size_t)n, sizeof(*b.msgs))) == NULL)
		return 2;
	for (long i = 0; i < n; i++) {
		struct metering_msg *m = &b.msgs[i];

		snprintf(m->gateway_id, sizeof(m->gateway_id), "GW-BENCH%ld", i % ngw);
		snprintf(m->message_id, sizeof(m->message_id), "m%ld", i);
		snprintf(m->kind, sizeof(m->kind), "tariffed");
		snprintf(m->emt, sizeof(m->emt), EMT);
		snprintf(m->metering_point, sizeof(m->metering_point), "MP1");
		m->clock_ok = true;
		if (sim_metering_build(m->gateway_id, m->message_id, "MP1", "tariffed", true,
		    1700000000000LL, enc, b.sig, sig_key, &m->cms, &m->cms_len, NULL, NULL, &e)
		    != TW_OK)
			die("building messages", &e);
	}

	/* before: a transaction (commit, fsync) per acknowledged message */
	t_before = run_receivers(&b, threads, 1);
	acked_before = atomic_load(&b.acked);
	commits_before = atomic_load(&b.commits);
	failed = atomic_load(&b.failed);
	clear_outbox(st);
	/* after: group commit */
	t_after = run_receivers(&b, threads, batch);
	acked_after = atomic_load(&b.acked);
	commits_after = atomic_load(&b.commits);
	failed += atomic_load(&b.failed);
	if (store_metering_count(st, NULL, &cnt, &e) != TW_OK)
		die("count", &e);

	/* peer: raw CMS_verify, one thread and W threads */
	t_verify1 = run_verify(&b, 1);
	t_verifyw = run_verify(&b, threads);

	/* peer: plain inserts, one commit per 100, into the same table (cleared first) */
	clear_outbox(st);
	t0 = tw_monotonic_ms();
	for (long i = 0; i < n; i++) {
		struct store_metering_msg r;
		unsigned char h[32];

		if (i % 100 == 0 && store_begin(st, &e) != TW_OK)
			die("peer begin", &e);
		memset(&r, 0, sizeof(r));
		snprintf(r.gateway_id, sizeof(r.gateway_id), "%s", b.msgs[i].gateway_id);
		snprintf(r.message_id, sizeof(r.message_id), "%s", b.msgs[i].message_id);
		snprintf(r.kind, sizeof(r.kind), "tariffed");
		snprintf(r.emt_id, sizeof(r.emt_id), EMT);
		snprintf(r.metering_point, sizeof(r.metering_point), "MP1");
		EVP_Digest(b.msgs[i].cms, b.msgs[i].cms_len, h, NULL, EVP_sha256(), NULL);
		tw_hex_encode(h, 32, r.sha256);
		r.body = b.msgs[i].cms;
		r.body_len = b.msgs[i].cms_len;
		r.received_ms = tw_now_ms();
		if (store_metering_insert(st, &r, &id, &dup, &e) != TW_OK)
			die("peer insert", &e);
		if ((i % 100 == 99 || i == n - 1) && store_commit(st, &e) != TW_OK)
			die("peer commit", &e);
	}
	t_insert = (double)(tw_monotonic_ms() - t0) / 1000.0;

	printf("store: %s; %ld messages from %ld gateways, %zu bytes CMS each (96 quarter-hour "
		"values), %.0f bytes stored per message; %ld receiver threads\n",
		pg ? "PostgreSQL" : "SQLite (WAL, synchronous FULL)", n, ngw, b.msgs[0].cms_len,
		(double)cnt.bytes / (double)n, threads);
	printf("before: a transaction per message:      %8.1f msg/s acknowledged (%ld commits)\n",
		(double)acked_before / t_before, commits_before);
	printf("after:  group commit (<= %ld, <= %d ms): %8.1f msg/s acknowledged (%ld commits, "
		"%.1f per commit)\n", batch, BATCH_WAIT_MS, (double)acked_after / t_after,
		commits_after, commits_after > 0 ? (double)acked_after / (double)commits_after : 0.0);
	printf("peer  raw OpenSSL CMS_verify, 1 thread:  %8.1f msg/s\n", (double)n / t_verify1);
	printf("peer  raw OpenSSL CMS_verify, %ld threads: %8.1f msg/s\n", threads,
		(double)n / t_verifyw);
	printf("peer  plain inserts, one commit per 100: %8.1f msg/s\n", (double)n / t_insert);
	printf("bench_metering: store=%s n=%ld threads=%ld batch=%ld before_per_s=%.1f "
		"after_per_s=%.1f verify1_per_s=%.1f verifyw_per_s=%.1f insert_per_s=%.1f "
		"ratio_after_before=%.2f ratio_after_verifyw=%.2f per_commit=%.1f "
		"bytes_per_msg=%.0f failed=%ld\n", pg ? "pg" : "sqlite", n, threads, batch,
		(double)acked_before / t_before, (double)acked_after / t_after,
		(double)n / t_verify1, (double)n / t_verifyw, (double)n / t_insert,
		t_before / t_after, t_verifyw / t_after,
		commits_after > 0 ? (double)acked_after / (double)commits_after : 0.0,
		(double)cnt.bytes / (double)n, failed);
	for (long i = 0; i < n; i++)
		metering_msg_clear(&b.msgs[i]);
	free(b.msgs);
	store_close(st);
	X509_free(b.sig);
	X509_free(enc);
	EVP_PKEY_free(sig_key);
	EVP_PKEY_free(enc_key);
	if (!pg && where == NULL) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_metering: could not remove %s\n", dir);
	}
	return failed == 0 ? 0 : 1;
}
