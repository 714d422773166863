/*
 * bench_store.c: the store's write paths on one backend, driven through the product code
 * (bench/bench_store.sh runs it on SQLite and on PostgreSQL in the same run).
 *
 *   bench_store --url URL [--n N]
 *
 *  1. admin-log append: N entries, one audit_append (one transaction) each: chain hash,
 *     Merkle tree nodes, the insert;
 *  2. job hand-out: N gateways with one open ping order each, then job_deliver per
 *     gateway (claim the head job and count the open ones in one UPDATE ... RETURNING,
 *     "job.sent" entry, one transaction each), the wan's path for GET /v1/orders
 *     without batching;
 *  3. order creation (the set-up of 2): gateway insert and job_create_in_tx (gateway read,
 *     job insert with its new id, "job.create" entry) for N gateways in ONE transaction:
 *     no commit per row, so it counts the statements' round trips, not fsyncs.
 * Prints "append_per_s=X handout_per_s=Y create_per_s=Z" on its last line. Figures only,
 * no assertions.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/gateway.h"
#include "gwa/job.h"
#include "store/store.h"

static double bench_now(void)
{
	return (double)tw_monotonic_ms() / 1000.0;
}

/*
 * BENCH_STORE_MARKS=1: a line on stderr where each phase starts, so that a system-call
 * trace of the run (bench_store.sh: strace) can count the database round trips of each
 * phase between them.
 */
static void bench_mark(const char *phase)
{
	if (getenv("BENCH_STORE_MARKS") != NULL)
		fprintf(stderr, "bench_store: phase %s\n", phase);
}

static void bench_die(const char *what, const struct tw_error *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err != NULL ? err->message : "failed");
	exit(1);
}

static double bench_append(struct tw_store *st, long n)
{
	struct tw_error err;
	struct audit_entry e;
	char detail[96];
	double t0;

	bench_mark("append");
	t0 = bench_now();

	for (long i = 0; i < n; i++) {
		snprintf(detail, sizeof(detail), "bench entry %ld", i);
		memset(&e, 0, sizeof(e));
		e.actor = "gateway:ETWA0012345678";
		e.role = "smgw";
		e.client = "192.0.2.17:51234";
		e.action = "wan.session.open";
		e.object = "ETWA0012345678";
		e.result = "ok";
		e.detail = detail;
		if (audit_append(st, &e, &err) != TW_OK)
			bench_die("audit_append", &err);
	}
	return bench_now() - t0;
}

static double bench_handout(struct tw_store *st, long n, double *create_s)
{
	struct tw_error err;
	struct job_actor op = { "os:bench", "local-admin", "local:bench" };
	struct job_actor gwa = { "gateway:bench", "smgw", "192.0.2.17:51234" };
	struct job_spec spec = { .type = "ping", .timeout_s = 600, .retry_delay_s = -1 };
	json_t *payload = json_object();
	int64_t tenant = 0, id = 0, pending = 0;
	double t0;

	spec.payload = payload;
	bench_mark("create");
	t0 = bench_now();
	if (store_begin(st, &err) != TW_OK ||
	    store_tenant_ensure(st, GATEWAY_DEFAULT_TENANT, &tenant, &err) != TW_OK)
		bench_die("tenant", &err);
	for (long i = 0; i < n; i++) {
		struct store_gateway gw;

		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = tenant;
		snprintf(gw.gateway_id, sizeof(gw.gateway_id), "EBEN%010ld", i);
		snprintf(gw.state, sizeof(gw.state), "registered");
		gw.created_ms = tw_now_ms();
		if (store_gateway_insert(st, &gw, &err) != TW_OK)
			bench_die("store_gateway_insert", &err);
		if (job_create_in_tx(st, gw.gateway_id, &spec, &op, &id, &err) != TW_OK)
			bench_die("job_create_in_tx", &err);
	}
	if (store_commit(st, &err) != TW_OK)
		bench_die("commit", &err);
	*create_s = bench_now() - t0;
	bench_mark("handout");
	t0 = bench_now();
	for (long i = 0; i < n; i++) {
		struct job_delivery d;
		char gid[32];
		bool found = false;

		snprintf(gid, sizeof(gid), "EBEN%010ld", i);
		memset(&d, 0, sizeof(d));
		if (job_deliver(st, gid, &gwa, &d, &found, &pending, &err) != TW_OK)
			bench_die("job_deliver", &err);
		if (!found) {
			fprintf(stderr, "bench_store: no order for %s\n", gid);
			exit(1);
		}
		json_decref(d.payload);
	}
	t0 = bench_now() - t0;
	bench_mark("end");
	json_decref(payload);
	return t0;
}

int main(int argc, char **argv)
{
	const char *url = NULL;
	long n = 2000;
	struct tw_store *st = NULL;
	struct tw_error err;
	double ta, th, tc = 0;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--url") == 0)
			url = argv[i + 1];
		else if (strcmp(argv[i], "--n") == 0)
			n = strtol(argv[i + 1], NULL, 10);
	}
	if (url == NULL || n < 1) {
		fprintf(stderr, "usage: bench_store --url URL [--n N]\n");
		return 2;
	}
	tw_log_init("bench_store", TW_LOG_WARN);
	if (store_open(url, &st, &err) != TW_OK || store_migrate(st, &err) != TW_OK)
		bench_die("store_open", &err);
	ta = bench_append(st, n);
	th = bench_handout(st, n, &tc);
	printf("append:  %ld entries in %.3f s\n", n, ta);
	printf("handout: %ld orders in %.3f s\n", n, th);
	printf("create:  %ld gateways + orders in one transaction in %.3f s\n", n, tc);
	printf("append_per_s=%.1f handout_per_s=%.1f create_per_s=%.1f\n", (double)n / ta,
		(double)n / th, (double)n / tc);
	store_close(st);
	return 0;
}
