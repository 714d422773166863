/*
 * bench_auditlog.c: the Merkle admin log next to plain SQLite, in the same run.
 *
 *   bench_auditlog [--dir DIR] [--single N] [--batched N] [--batch B] [--big N]
 *
 *  1. append, one entry per transaction (audit_append) vs a plain INSERT of the same
 *     row per transaction into a table of the same shape, same pragmas (WAL, FULL);
 *  2. append, B entries per transaction (audit_append_batch) vs plain INSERTs in the
 *     same transactions;
 *  3. verification (audit_verify: chain + tree + stored nodes) vs a plain SELECT scan
 *     of the same rows;
 *  4. a log of --big entries (default 10 000 000) built through audit_append_batch, then
 *     inclusion and consistency proofs: time per proof and size.
 * Figures only, no assertions (timings depend on the machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audit/audit.h"
#include "audit/merkle.h"
#include "audit/tree.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store.h"

#define BENCH_BATCH_MAX 100000

static double bench_now(void)
{
	return (double)tw_monotonic_ms() / 1000.0;
}

static void bench_die(const char *what, const struct tw_error *err)
{
	fprintf(stderr, "bench_auditlog: %s: %s\n", what, err != NULL ? err->message : "failed");
	exit(1);
}

static void bench_entry(struct audit_entry *e, char *detail, size_t size, int64_t i)
{
	snprintf(detail, size, "purpose=certificate subject=CN=ETWA%010lld,O=bench",
		(long long)i);
	memset(e, 0, sizeof(*e));
	e->actor = "gateway:ETWA0012345678";
	e->role = "smgw";
	e->client = "192.0.2.17:51234";
	e->action = "wan.session.open";
	e->object = "ETWA0012345678";
	e->result = "ok";
	e->detail = detail;
}

/* ---- plain SQLite peer: same columns, same pragmas, no hashing ---- */

static sqlite3 *plain_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
	    "CREATE TABLE IF NOT EXISTS plain (seq INTEGER PRIMARY KEY, time TEXT, actor TEXT, "
	    "role TEXT, client TEXT, action TEXT, object TEXT, result TEXT, detail TEXT, "
	    "prev_hash BLOB, hash BLOB, error_code TEXT)", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_auditlog: plain sqlite: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	return db;
}

static void plain_insert(sqlite3 *db, sqlite3_stmt *st, int64_t seq, const struct audit_entry *e)
{
	static const unsigned char h[32];
	char time[32];

	tw_time_format_utc(tw_now_ms(), time, sizeof(time));
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_text(st, 2, time, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, e->result, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, e->detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, h, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 11, h, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 12, "", -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "bench_auditlog: plain insert: %s\n", sqlite3_errmsg(db));
		exit(1);
	}
	sqlite3_reset(st);
}

static double plain_run(sqlite3 *db, int64_t first, int64_t n, int64_t batch)
{
	sqlite3_stmt *st = NULL;
	struct audit_entry e;
	char detail[128];
	double t0 = bench_now();

	sqlite3_prepare_v2(db, "INSERT INTO plain VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
		"?10, ?11, ?12)", -1, &st, NULL);
	for (int64_t i = 0; i < n; i += batch) {
		sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (int64_t k = i; k < i + batch && k < n; k++) {
			bench_entry(&e, detail, sizeof(detail), first + k);
			plain_insert(db, st, first + k, &e);
		}
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_finalize(st);
	return bench_now() - t0;
}

static double plain_scan(sqlite3 *db, int64_t *rows)
{
	sqlite3_stmt *st = NULL;
	double t0 = bench_now();
	size_t bytes = 0;

	*rows = 0;
	sqlite3_prepare_v2(db, "SELECT * FROM plain ORDER BY seq", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 1; c < 12; c++)
			bytes += (size_t)sqlite3_column_bytes(st, c);
		(*rows)++;
	}
	sqlite3_finalize(st);
	(void)bytes;
	return bench_now() - t0;
}

/* ---- ours ---- */

static double ours_run(struct tw_store *st, int64_t first, int64_t n, int64_t batch,
	struct audit_entry *es, char (*details)[128])
{
	struct tw_error err;
	double t0 = bench_now();

	for (int64_t i = 0; i < n; i += batch) {
		int64_t k = n - i < batch ? n - i : batch;

		for (int64_t j = 0; j < k; j++)
			bench_entry(&es[j], details[j], 128, first + i + j);
		if (k == 1 ? audit_append(st, &es[0], &err) != TW_OK :
		    audit_append_batch(st, es, (size_t)k, &err) != TW_OK)
			bench_die("append", &err);
	}
	return bench_now() - t0;
}

static void report(const char *what, int64_t n, double ours, double plain)
{
	printf("%-34s torwart %10.0f entries/s   plain sqlite %10.0f rows/s   torwart/plain %.2f\n",
		what, (double)n / ours, (double)n / plain, plain / ours);
}

static void proofs(struct tw_store *st, int64_t size)
{
	struct merkle_proof p;
	unsigned char leaf[32], root[32], r1[32];
	struct tw_error err;
	double t0, t_incl = 0, t_cons = 0, t_root;
	size_t hashes_i = 0, hashes_c = 0;
	const int rounds = 200;

	srand(42);
	t0 = bench_now();
	if (audit_tree_root(st, size, root, &err) != TW_OK)
		bench_die("root", &err);
	t_root = bench_now() - t0;
	for (int r = 0; r < rounds; r++) {
		int64_t seq = 1 + (int64_t)(((uint64_t)rand() << 20 ^ (uint64_t)rand()) % (uint64_t)size);
		int64_t m = 1 + (int64_t)(((uint64_t)rand() << 20 ^ (uint64_t)rand()) % (uint64_t)size);

		t0 = bench_now();
		if (audit_tree_inclusion(st, seq, size, leaf, &p, &err) != TW_OK)
			bench_die("inclusion proof", &err);
		t_incl += bench_now() - t0;
		hashes_i += p.count;
		if (merkle_verify_inclusion((uint64_t)seq - 1, (uint64_t)size, leaf, &p, root,
		    &err) != TW_OK)
			bench_die("inclusion proof check", &err);
		t0 = bench_now();
		if (audit_tree_consistency(st, m, size, &p, &err) != TW_OK ||
		    audit_tree_root(st, m, r1, &err) != TW_OK)
			bench_die("consistency proof", &err);
		t_cons += bench_now() - t0;
		hashes_c += p.count;
		if (merkle_verify_consistency((uint64_t)m, (uint64_t)size, r1, root, &p, &err) != TW_OK)
			bench_die("consistency proof check", &err);
	}
	printf("log of %lld entries: root %.1f ms\n", (long long)size, t_root * 1000);
	printf("  inclusion proof:   %.2f ms each (avg of %d), %.1f hashes = %.0f bytes\n",
		t_incl * 1000 / rounds, rounds, (double)hashes_i / rounds,
		32.0 * (double)hashes_i / rounds);
	printf("  consistency proof: %.2f ms each incl. the old root (avg of %d), %.1f hashes = "
		"%.0f bytes\n", t_cons * 1000 / rounds, rounds, (double)hashes_c / rounds,
		32.0 * (double)hashes_c / rounds);
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp";
	int64_t single = 1000, batched = 100000, batch = 1000, big = 10000000;
	struct audit_verify_result res;
	struct audit_entry *es = NULL;
	char (*details)[128] = NULL;
	char path[512], ppath[512];
	struct tw_store *st = NULL;
	struct tw_error err;
	sqlite3 *plain;
	double ours, peer;
	int64_t rows;

	tw_log_init("bench", TW_LOG_WARN);
	/* Options come in pairs; a lone word (--help, a typo) gets the usage line. */
	if (argc % 2 == 0)
		bench_die("usage: bench_auditlog [--dir D] [--single N] [--batched N] "
			"[--batch B] [--big N]", NULL);
	for (int i = 1; i + 1 < argc; i += 2) {
		long v = 0;

		if (strcmp(argv[i], "--dir") == 0) {
			dir = argv[i + 1];
			continue;
		}
		if (tw_parse_long(argv[i + 1], 0, 1000000000L, &v, &err, argv[i]) != TW_OK)
			bench_die("options", &err);
		if (strcmp(argv[i], "--single") == 0)
			single = v;
		else if (strcmp(argv[i], "--batched") == 0)
			batched = v;
		else if (strcmp(argv[i], "--batch") == 0 && v > 0 && v <= BENCH_BATCH_MAX)
			batch = v;
		else if (strcmp(argv[i], "--big") == 0)
			big = v;
		else
			bench_die("usage: bench_auditlog [--dir D] [--single N] [--batched N] "
				"[--batch B] [--big N]", NULL);
	}
	es = calloc(BENCH_BATCH_MAX, sizeof(*es));
	details = calloc(BENCH_BATCH_MAX, sizeof(*details));
	if (es == NULL || details == NULL)
		bench_die("out of memory", NULL);

	snprintf(path, sizeof(path), "%s/bench-auditlog-%d.db", dir, (int)getpid());
	snprintf(ppath, sizeof(ppath), "%s/bench-plain-%d.db", dir, (int)getpid());
	if (store_open(path, &st, &err) != TW_OK || store_migrate(st, &err) != TW_OK)
		bench_die("store", &err);
	plain = plain_open(ppath);

	ours = ours_run(st, 0, single, 1, es, details);
	peer = plain_run(plain, 0, single, 1);
	report("append, 1 per transaction", single, ours, peer);
	ours = ours_run(st, single, batched, batch, es, details);
	peer = plain_run(plain, single, batched, batch);
	printf("(batch of %lld)\n", (long long)batch);
	report("append, batched", batched, ours, peer);

	{
		double t0 = bench_now();

		if (audit_verify(st, &res, &err) != TW_OK)
			bench_die("verify", &err);
		ours = bench_now() - t0;
		peer = plain_scan(plain, &rows);
		report("verify (chain+tree+nodes) vs scan", res.entries, ours, peer);
	}
	sqlite3_close(plain);
	store_close(st);
	st = NULL;
	unlink(path);
	unlink(ppath);

	if (big > 0) {
		double t0 = bench_now();

		snprintf(path, sizeof(path), "%s/bench-auditlog-big-%d.db", dir, (int)getpid());
		if (store_open(path, &st, &err) != TW_OK || store_migrate(st, &err) != TW_OK)
			bench_die("store", &err);
		ours_run(st, 0, big, BENCH_BATCH_MAX, es, details);
		printf("built a log of %lld entries in %.1f s (%.0f entries/s, batches of %d)\n",
			(long long)big, bench_now() - t0, (double)big / (bench_now() - t0),
			BENCH_BATCH_MAX);
		proofs(st, big);
		store_close(st);
		unlink(path);
	}
	snprintf(ppath, sizeof(ppath), "%s-wal", path);
	unlink(ppath);
	snprintf(ppath, sizeof(ppath), "%s-shm", path);
	unlink(ppath);
	free(es);
	free(details);
	return 0;
}
