/*
 * test_jobs.c: jobs and wake-ups (issue 4): the wake-up codec (round trip, every
 * single-byte alteration refused), the token buckets, the jobs store (ordering,
 * compare-and-set, due/expired selection, tags, wake-up addresses), the job workflow
 * (create/validate, hand-out, results, foreign results, hook refusal, timeouts with
 * retry, cancel, fleet orders all-or-nothing), the WAN order codec and the simulator's
 * all-or-nothing order execution.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/job.h"
#include "gwa/job_bucket.h"
#include "gwa/order.h"
#include "gwa/renewal.h"
#include "net/wakeup_codec.h"
#include "sim/sim_orders.h"
#include "store/store.h"
#include "store/store_auditlog.h"
#include "store/store_jobs.h"
#include "store/store_profiles.h"
#include "net/wan_message.h"

static char dir[64];
static struct tw_store *st;
static const struct job_actor who = { "os:test", "local-admin", "local:1" };
static const struct job_actor gw_who = { "gateway:GW-A", "smgw", "127.0.0.1:1" };

static int setup(void **state)
{
	char path[128];
	struct tw_error e;
	int64_t t1, t2;

	(void)state;
	tw_log_init("test_jobs", TW_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/test_jobs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/store.db", dir);
	if (store_open(path, &st, &e) != TW_OK || store_migrate(st, &e) != TW_OK)
		fail_msg("store: %s", e.message);
	assert_int_equal(store_tenant_ensure(st, "default", &t1, NULL), TW_OK);
	assert_int_equal(store_tenant_ensure(st, "acme", &t2, NULL), TW_OK);
	static const char *const ids[] = { "GW-A", "GW-B", "GW-C" };
	for (size_t i = 0; i < 3; i++) {
		struct store_gateway gw;

		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = i == 2 ? t2 : t1;
		snprintf(gw.gateway_id, sizeof(gw.gateway_id), "%s", ids[i]);
		snprintf(gw.state, sizeof(gw.state), "registered");
		gw.created_ms = tw_now_ms();
		assert_int_equal(store_gateway_insert(st, &gw, NULL), TW_OK);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (getenv("TORWART_KEEP_TMP") == NULL && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return 0;
}

/* ------------------------------------------------------------ wake-up codec */

static void make_wakeup(EVP_PKEY *key, unsigned char *buf, size_t *len)
{
	struct wakeup w;
	unsigned char tbs[WAKEUP_TBS_MAX];
	size_t tbs_len, sl = sizeof(w.sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memset(&w, 0, sizeof(w));
	snprintf(w.recipient, sizeof(w.recipient), "GW-A");
	snprintf(w.gwa_id, sizeof(w.gwa_id), "TEST.GWA.TORWART");
	w.timestamp_ms = (uint64_t)tw_now_ms();
	memset(w.nonce, 0x5a, sizeof(w.nonce));
	assert_int_equal(wakeup_encode_tbs(&w, tbs, &tbs_len, NULL), TW_OK);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, w.sig, &sl, tbs, tbs_len), 1);
	w.sig_len = sl;
	EVP_MD_CTX_free(ctx);
	assert_int_equal(wakeup_encode(&w, buf, len, NULL), TW_OK);
}

static void test_wakeup_codec(void **state)
{
	EVP_PKEY *key = NULL, *other = NULL;
	unsigned char buf[WAKEUP_MAX + 8], alt[WAKEUP_MAX + 8];
	struct wakeup w;
	size_t len, tbs;

	(void)state;
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &key, NULL), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &other, NULL), TW_OK);
	make_wakeup(key, buf, &len);
	assert_true(len <= WAKEUP_MAX);
	assert_int_equal(wakeup_parse(buf, len, &w, &tbs, NULL), TW_OK);
	assert_string_equal(w.recipient, "GW-A");
	assert_string_equal(w.gwa_id, "TEST.GWA.TORWART");
	assert_int_equal(wakeup_verify(buf, tbs, &w, key, NULL), TW_OK);
	/* Another key (not our GWA): refused. */
	assert_int_equal(wakeup_verify(buf, tbs, &w, other, NULL), TW_E_CRYPTO);
	/* T-WU.2: every single-bit alteration is refused by the parser or the signature. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			struct wakeup w2;
			size_t t2;

			memcpy(alt, buf, len);
			alt[i] ^= (unsigned char)(1u << bit);
			if (wakeup_parse(alt, len, &w2, &t2, NULL) == TW_OK &&
			    wakeup_verify(alt, t2, &w2, key, NULL) == TW_OK &&
			    strcmp(w2.recipient, "GW-A") == 0 && w2.timestamp_ms == w.timestamp_ms &&
			    memcmp(w2.nonce, w.nonce, 16) == 0)
				fail_msg("altered byte %zu bit %d accepted", i, bit);
		}
	}
	/* Truncated, trailing octet, oversized, empty: refused without reading past len. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(wakeup_parse(buf, cut, &w, &tbs, NULL), TW_OK);
	memcpy(alt, buf, len);
	alt[len] = 0;
	assert_int_not_equal(wakeup_parse(alt, len + 1, &w, &tbs, NULL), TW_OK);
	assert_int_equal(wakeup_parse(alt, WAKEUP_MAX + 1, &w, &tbs, NULL), TW_E_TOO_LARGE);
	assert_string_equal(w.recipient, "");
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

/* ------------------------------------------------------------ token buckets */

static void test_bucket(void **state)
{
	struct job_pacer p;
	int granted = 0;

	(void)state;
	job_pacer_init(&p, 100, 10, 5, 5, 0);
	/* Burst: the tenant bucket (5) limits first. */
	for (int i = 0; i < 20; i++)
		granted += job_pacer_take(&p, 1, 0);
	assert_int_equal(granted, 5);
	/* Another tenant gets its own share of what is left globally (10 - 5). */
	granted = 0;
	for (int i = 0; i < 20; i++)
		granted += job_pacer_take(&p, 2, 0);
	assert_int_equal(granted, 5);
	assert_int_equal(job_pacer_available(&p, 0), 0);
	/* One second later: global refilled to 10, each tenant to 5. */
	granted = 0;
	for (int i = 0; i < 20; i++)
		granted += job_pacer_take(&p, 1, 1000);
	assert_int_equal(granted, 5);
	/* Sustained rate over 10 s never exceeds rate * t + burst. */
	job_pacer_init(&p, 50, 10, 1000, 1000, 0);
	granted = 0;
	for (int64_t t = 0; t <= 10000; t += 10)
		for (int i = 0; i < 10; i++)
			granted += job_pacer_take(&p, 7, t);
	assert_true(granted <= 50 * 10 + 10);
	assert_true(granted >= 50 * 10);
}

/* ------------------------------------------------------------ store */

static int64_t mk(const char *gw, const char *type, const char *payload, long timeout)
{
	json_t *p = json_loads(payload, 0, NULL);
	struct job_spec spec = { type, p, timeout, 2, 1 };
	struct tw_error e;
	int64_t id = 0;

	if (job_create(st, gw, &spec, &who, &id, &e) != TW_OK)
		fail_msg("job_create: %s", e.message);
	json_decref(p);
	return id;
}

static void test_store_jobs(void **state)
{
	struct store_job_due due[8];
	struct store_job j;
	int64_t counts[JOB__STATES], ids[8];
	size_t n;
	bool found;
	char tags[128], addr[STORE_ADDRESS_MAX + 1];

	(void)state;
	int64_t a1 = mk("GW-B", "ping", "{}", 60);
	int64_t a2 = mk("GW-B", "ping", "{\"echo\":\"2\"}", 60);
	/* Only the head of GW-B's queue is due: jobs of one gateway run in order. */
	assert_int_equal(store_job_due(st, tw_now_ms() + 1, NULL, 0, due, 8, &n, NULL), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].id, a1);
	/* A tenant with an empty bucket is skipped. */
	assert_int_equal(store_job_due(st, tw_now_ms() + 1, &due[0].tenant_id, 1, due, 8, &n,
		NULL), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_job_head(st, "GW-B", &j, &found, NULL), TW_OK);
	assert_true(found);
	assert_int_equal(j.id, a1);
	/* Compare-and-set: a transition from the wrong state changes nothing. */
	j.state = JOB_DONE;
	assert_int_equal(store_job_transition(st, &j, JOB_SENT, NULL), TW_E_NOT_FOUND);
	store_job_clear(&j);
	assert_int_equal(store_job_get(st, a1, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_CREATED);
	store_job_clear(&j);
	assert_int_equal(store_job_counts(st, 0, counts, NULL), TW_OK);
	assert_true(counts[JOB_CREATED] >= 2);
	assert_int_equal(store_job_expired(st, tw_now_ms(), ids, 8, &n, NULL), TW_OK);
	assert_int_equal(n, 0);
	(void)a2;
	/* Tags, wake-up addresses, tenants, selection. */
	assert_int_equal(store_gateway_tag_add(st, "GW-A", "north", NULL), TW_OK);
	assert_int_equal(store_gateway_tag_add(st, "GW-A", "north", NULL), TW_OK);
	assert_int_equal(store_gateway_tag_add(st, "GW-A", "bad tag", NULL), TW_E_INVALID);
	assert_int_equal(store_gateway_tag_add(st, "GW-X", "north", NULL), TW_E_NOT_FOUND);
	assert_int_equal(store_gateway_tags(st, "GW-A", tags, sizeof(tags), NULL), TW_OK);
	assert_string_equal(tags, "north");
	assert_int_equal(store_gateway_wakeup_set(st, "GW-A", "127.0.0.1:9", NULL), TW_OK);
	assert_int_equal(store_gateway_wakeup_set(st, "GW-A", "nonsense", NULL), TW_E_INVALID);
	assert_int_equal(store_gateway_wakeup_get(st, "GW-A", addr, &found, NULL), TW_OK);
	assert_true(found);
	assert_string_equal(addr, "127.0.0.1:9");
	assert_int_equal(store_tenant_find(st, "nobody", &ids[0], NULL), TW_E_NOT_FOUND);
	/* Clean up GW-B's queue for the next tests. */
	assert_int_equal(job_cancel(st, a1, &who, NULL), TW_OK);
	assert_int_equal(job_cancel(st, a2, &who, NULL), TW_OK);
	assert_int_equal(job_cancel(st, a2, &who, NULL), TW_E_EXISTS);
}

/* ------------------------------------------------------------ workflow */

static void test_create_refuses_bad_input(void **state)
{
	struct job_spec spec;
	json_t *p;
	struct tw_error e;
	int64_t id = 7, before[JOB__STATES], after[JOB__STATES], batch, count;

	(void)state;
	assert_int_equal(store_job_counts(st, 0, before, NULL), TW_OK);
	p = json_loads("{\"days\":0}", 0, NULL);
	spec = (struct job_spec){ "set-retention", p, 0, 0, -1 };
	assert_int_equal(job_create(st, "GW-A", &spec, &who, &id, &e), TW_E_INVALID);
	assert_int_equal(id, 0);
	assert_non_null(strstr(e.message, "days"));
	spec.type = "no-such-order";
	assert_int_equal(job_create(st, "GW-A", &spec, &who, &id, &e), TW_E_INVALID);
	json_decref(p);
	p = json_loads("{\"days\":30}", 0, NULL);
	spec = (struct job_spec){ "set-retention", p, 0, 0, -1 };
	assert_int_equal(job_create(st, "GW-NOPE", &spec, &who, &id, &e), TW_E_NOT_FOUND);
	/* A fleet naming one unknown gateway orders nothing at all. */
	assert_int_equal(job_create_fleet(st, "ids:GW-A,GW-NOPE", &spec, &who, &batch, &count,
		&e), TW_E_NOT_FOUND);
	assert_int_equal(job_create_fleet(st, "tag:nobody-has-it", &spec, &who, &batch, &count,
		&e), TW_E_NOT_FOUND);
	assert_int_equal(job_create_fleet(st, "bogus", &spec, &who, &batch, &count, &e),
		TW_E_INVALID);
	json_decref(p);
	assert_int_equal(store_job_counts(st, 0, after, NULL), TW_OK);
	assert_memory_equal(before, after, sizeof(before));
}

/* The one-statement claim (store_job_claim_head): order, attempts, deadline, count. */
static void test_claim_head(void **state)
{
	struct store_job j;
	bool found = true;
	int64_t pending = -1;

	(void)state;
	int64_t a = mk("GW-C", "ping", "{}", 60);
	int64_t b = mk("GW-C", "ping", "{}", 60);
	/* A woken job: its attempt was counted at wake-up, the claim adds none. */
	assert_int_equal(store_job_get(st, a, &j, NULL), TW_OK);
	j.state = JOB_AWAITING;
	j.attempts = 1;
	assert_int_equal(store_job_transition(st, &j, JOB_CREATED, NULL), TW_OK);
	store_job_clear(&j);
	assert_int_equal(store_begin(st, NULL), TW_OK);
	assert_int_equal(store_job_claim_head(st, "GW-C", 1000, &j, &found, &pending, NULL),
		TW_OK);
	assert_true(found);
	assert_int_equal(j.id, a);
	assert_int_equal(j.state, JOB_SENT);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(j.deadline_ms, 1000 + 60000);
	assert_int_equal(pending, 2);
	store_job_clear(&j);
	/* The head is in flight: the second job waits behind it, nothing is claimed. */
	assert_int_equal(store_job_claim_head(st, "GW-C", 2000, &j, &found, &pending, NULL),
		TW_OK);
	assert_false(found);
	assert_int_equal(pending, 2);
	assert_int_equal(store_commit(st, NULL), TW_OK);
	assert_int_equal(store_job_get(st, b, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_CREATED);
	assert_int_equal(j.attempts, 0);
	store_job_clear(&j);
	assert_int_equal(job_cancel(st, a, &who, NULL), TW_OK);
	/* Now b is the head; from "created" the claim uses an attempt. */
	assert_int_equal(store_job_claim_head(st, "GW-C", 3000, &j, &found, &pending, NULL),
		TW_OK);
	assert_true(found);
	assert_int_equal(j.id, b);
	assert_int_equal(j.attempts, 1);
	assert_int_equal(pending, 1);
	store_job_clear(&j);
	assert_int_equal(job_cancel(st, b, &who, NULL), TW_OK);
}

/*
 * The claim's memory on SQLite (docs/performance.md, "Job hand-out on SQLite"): its IN
 * lists (OPEN_STATES, the CHECK on state) open ephemeral tables, whose page caches took
 * a bulk of 20 page slots (~88 KB each) at first use by default; glibc trimmed that off
 * the heap at every reset, ~1 ms per hand-out. The driver turns the bulk off, so the
 * claim's peak allocation stays small: 212 KB with it off, 687 KB with the bulk (SQLite
 * 3.40); the bound is between. SQLite's memory statistics (on unless the library was
 * built with SQLITE_DEFAULT_MEMSTATUS=0) give the peak.
 */
static void test_claim_heap_peak(void **state)
{
	struct store_job j;
	bool found = false;
	int64_t pending = 0;
	sqlite3_int64 cur = 0, hi = 0, base = 0;

	(void)state;
	int64_t a = mk("GW-C", "ping", "{}", 60);
	assert_int_equal(store_begin(st, NULL), TW_OK);
	/* Once, so that the statement is prepared and cached before the measurement. */
	assert_int_equal(store_job_claim_head(st, "GW-C", 1000, &j, &found, &pending, NULL),
		TW_OK);
	assert_true(found);
	store_job_clear(&j);
	store_rollback(st);
	assert_int_equal(store_begin(st, NULL), TW_OK);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &base, &hi, 1), SQLITE_OK);
	if (base == 0) {
		store_rollback(st);
		assert_int_equal(job_cancel(st, a, &who, NULL), TW_OK);
		skip();   /* memory statistics off in this SQLite build */
	}
	assert_int_equal(store_job_claim_head(st, "GW-C", 2000, &j, &found, &pending, NULL),
		TW_OK);
	assert_true(found);
	assert_int_equal(j.id, a);
	store_job_clear(&j);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &hi, 0), SQLITE_OK);
	store_rollback(st);
	assert_int_equal(job_cancel(st, a, &who, NULL), TW_OK);
	if (hi - base >= 400 * 1024)
		fail_msg("the claim's peak SQLite allocation is %lld bytes (page-cache bulk "
			"of an ephemeral table?)", (long long)(hi - base));
}

static void test_deliver_and_complete(void **state)
{
	struct job_delivery d;
	struct job_outcome oc;
	struct store_job j;
	json_t *res;
	bool found;
	int64_t pending, other;

	(void)state;
	int64_t id = mk("GW-A", "set-retention", "{\"days\":90}", 60);
	other = mk("GW-C", "ping", "{}", 60);
	assert_int_equal(job_deliver(st, "GW-A", &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_true(found);
	assert_int_equal(d.id, id);
	assert_int_equal(pending, 1);
	/* T-LL.1: the wire payload names the recipient. */
	assert_string_equal(json_string_value(json_object_get(d.payload, "gateway_id")), "GW-A");
	json_decref(d.payload);
	/* Exactly once (issue 10): a sent job is not handed out again, not even to a second
	 * session of the same gateway (another wan instance); it stays pending and comes
	 * back after its deadline. Nothing is logged and no transaction is left open. */
	assert_int_equal(job_deliver(st, "GW-A", &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_false(found);
	assert_int_equal(pending, 1);
	assert_null(d.payload);
	assert_false(store_in_transaction(st));
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_SENT);
	assert_int_equal(j.attempts, 1);
	store_job_clear(&j);
	/* A gateway with no open job at all: nothing, and no transaction left open. */
	assert_int_equal(job_deliver(st, "GW-B", &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_false(found);
	assert_int_equal(pending, 0);
	assert_false(store_in_transaction(st));
	/* A result for another gateway's job looks like a missing one and changes nothing. */
	res = json_pack("{s:s}", "echo", "x");
	oc = (struct job_outcome){ true, res, NULL, NULL };
	assert_int_equal(job_complete(st, "GW-A", other, &oc, &gw_who, NULL), TW_E_NOT_FOUND);
	assert_int_equal(store_job_get(st, other, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_CREATED);
	store_job_clear(&j);
	/* A result for a job never handed out: closed. */
	assert_int_equal(job_complete(st, "GW-C", other, &oc, &gw_who, NULL), TW_E_EXISTS);
	json_decref(res);
	/* A confirmation naming another gateway is refused by the order type (T-LL.1). */
	res = json_pack("{s:s, s:i}", "gateway_id", "GW-B", "days", 90);
	oc = (struct job_outcome){ true, res, NULL, NULL };
	assert_int_equal(job_complete(st, "GW-A", id, &oc, &gw_who, NULL), TW_E_INVALID);
	json_decref(res);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_FAILED);
	assert_non_null(strstr(j.error, "another gateway"));
	store_job_clear(&j);
	/* A good round trip. */
	id = mk("GW-A", "set-retention", "{\"days\":30}", 60);
	assert_int_equal(job_deliver(st, "GW-A", &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_int_equal(d.id, id);
	json_decref(d.payload);
	res = json_pack("{s:s, s:i}", "gateway_id", "GW-A", "days", 30);
	oc = (struct job_outcome){ true, res, NULL, NULL };
	assert_int_equal(job_complete(st, "GW-A", id, &oc, &gw_who, NULL), TW_OK);
	assert_int_equal(job_complete(st, "GW-A", id, &oc, &gw_who, NULL), TW_E_EXISTS);
	json_decref(res);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_DONE);
	assert_non_null(strstr(j.result, "\"days\":30"));
	store_job_clear(&j);
	/* A gateway error: failed, final. */
	id = mk("GW-A", "ping", "{}", 60);
	assert_int_equal(job_deliver(st, "GW-A", &gw_who, &d, &found, &pending, NULL), TW_OK);
	json_decref(d.payload);
	oc = (struct job_outcome){ false, NULL, "unknown_order", "no handler" };
	assert_int_equal(job_complete(st, "GW-A", id, &oc, &gw_who, NULL), TW_OK);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_FAILED);
	store_job_clear(&j);
	assert_int_equal(job_cancel(st, other, &who, NULL), TW_OK);
}

static void test_timeout_and_retry(void **state)
{
	struct store_job_due due[4];
	struct store_job j;
	bool ok[4];
	const char *detail[4] = { "wake-up sent to 127.0.0.1:9 for gateway GW-B" };
	int64_t now = tw_now_ms(), ids[8];
	size_t n;

	(void)state;
	int64_t id = mk("GW-B", "ping", "{}", 1);   /* 1 s per attempt, 2 attempts, 1 s delay */
	assert_int_equal(store_job_due(st, now + 1, NULL, 0, due, 4, &n, NULL), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(job_mark_waking(st, due, n, now, &who, ok, NULL), TW_OK);
	assert_true(ok[0]);
	assert_int_equal(job_mark_awaiting(st, due, ok, detail, n, now, &who, NULL), TW_OK);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_AWAITING);
	assert_int_equal(j.attempts, 1);
	store_job_clear(&j);
	/* Deadline missed: logged timeout, back to created after the back-off. */
	assert_int_equal(store_job_expired(st, now + 1500, ids, 8, &n, NULL), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(job_expire(st, id, now + 1500, &who, NULL), TW_OK);
	assert_int_equal(job_expire(st, id, now + 1500, &who, NULL), TW_E_NOT_FOUND);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_CREATED);
	assert_int_equal(j.next_ms, now + 1500 + 1000);
	assert_non_null(strstr(j.error, "timeout in state awaiting-connection"));
	store_job_clear(&j);
	/* Not due before the back-off ends. */
	assert_int_equal(store_job_due(st, now + 2000, NULL, 0, due, 4, &n, NULL), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_job_due(st, now + 2600, NULL, 0, due, 4, &n, NULL), TW_OK);
	assert_int_equal(n, 1);
	/* Second (last) attempt, missed again: timed-out, final. */
	assert_int_equal(job_mark_waking(st, due, n, now + 2600, &who, ok, NULL), TW_OK);
	assert_int_equal(job_expire(st, id, now + 4000, &who, NULL), TW_OK);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_TIMED_OUT);
	assert_int_equal(j.attempts, 2);
	store_job_clear(&j);
	assert_int_equal(job_backoff_ms(1000, 1), 1000);
	assert_int_equal(job_backoff_ms(1000, 3), 4000);
	assert_int_equal(job_backoff_ms(1000000, 30), JOB_BACKOFF_MAX_MS);
}

struct count_ctx { const char *action, *result; int n; };

static int count_cb(const struct store_audit_row *row, void *arg)
{
	struct count_ctx *c = arg;

	if (strcmp(row->action, c->action) == 0 &&
	    (c->result == NULL || strcmp(row->result, c->result) == 0))
		c->n++;
	return 0;
}

static void test_audit_trail(void **state)
{
	struct count_ctx c = { "job.timeout", "retry", 0 };

	(void)state;
	assert_int_equal(store_audit_foreach(st, 1, count_cb, &c, NULL), TW_OK);
	assert_true(c.n >= 1);
	c = (struct count_ctx){ "job.timeout", "timed-out", 0 };
	assert_int_equal(store_audit_foreach(st, 1, count_cb, &c, NULL), TW_OK);
	assert_true(c.n >= 1);
	c = (struct count_ctx){ "job.failed", NULL, 0 };
	assert_int_equal(store_audit_foreach(st, 1, count_cb, &c, NULL), TW_OK);
	assert_true(c.n >= 2);
}

static void test_fleet(void **state)
{
	json_t *p = json_loads("{}", 0, NULL);
	struct job_spec spec = { "ping", p, 0, 0, -1 };
	struct store_job_batch b;
	int64_t batch, count, c[JOB__STATES];

	(void)state;
	assert_int_equal(job_create_fleet(st, "tenant:acme", &spec, &who, &batch, &count, NULL),
		TW_OK);
	assert_int_equal(count, 1);
	assert_int_equal(job_create_fleet(st, "all", &spec, &who, &batch, &count, NULL), TW_OK);
	assert_int_equal(count, 3);
	assert_int_equal(store_job_batch_get(st, batch, &b, NULL), TW_OK);
	assert_int_equal(b.total, 3);
	assert_int_equal(store_job_counts(st, batch, c, NULL), TW_OK);
	assert_int_equal(c[JOB_CREATED], 3);
	json_decref(p);
}

/* ------------------------------------------------------------ WAN order codec */

static void test_wan_orders_codec(void **state)
{
	struct wan_orders_response r, back;
	struct wan_order_result res;
	struct tw_buf buf;
	int64_t id;
	static const char *const bad[] = {
		"{\"status\":\"ok\"}",
		"{\"status\":\"ok\",\"result\":[]}",
		"{\"status\":\"ok\",\"result\":{},\"extra\":1}",
		"{\"status\":\"maybe\",\"result\":{}}",
		"{\"status\":\"error\",\"error\":{\"code\":\"Bad Code\"}}",
		"{\"status\":\"error\",\"error\":{\"code\":\"x\",\"message\":7}}",
		"{\"status\":\"error\",\"error\":{\"code\":\"x\",\"more\":1}}",
		"{\"status\":\"ok\",\"status\":\"ok\",\"result\":{}}",
		NULL
	};

	(void)state;
	memset(&r, 0, sizeof(r));
	r.has_order = true;
	r.order.id = 42;
	snprintf(r.order.type, sizeof(r.order.type), "set-retention");
	r.order.payload = json_pack("{s:i}", "days", 9);
	r.order.attempt = 2;
	tw_time_format_utc(tw_now_ms(), r.order.deadline, sizeof(r.order.deadline));
	r.pending_orders = 3;
	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	assert_int_equal(wan_orders_response_encode(&r, &buf, NULL), TW_OK);
	assert_int_equal(wan_orders_response_parse(buf.data, buf.len, &back, NULL), TW_OK);
	assert_true(back.has_order);
	assert_int_equal(back.order.id, 42);
	assert_int_equal(back.order.attempt, 2);
	assert_int_equal(back.pending_orders, 3);
	assert_true(json_equal(back.order.payload, r.order.payload));
	wan_orders_response_clear(&back);
	wan_orders_response_clear(&r);
	tw_buf_free(&buf);
	{
		static const char good[] = "{\"status\":\"ok\",\"result\":{\"a\":1}}";

		assert_int_equal(wan_order_result_parse(good, strlen(good), &res, NULL), TW_OK);
	}
	assert_true(res.ok);
	wan_order_result_clear(&res);
	for (size_t i = 0; bad[i] != NULL; i++)
		if (wan_order_result_parse(bad[i], strlen(bad[i]), &res, NULL) == TW_OK)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(wan_order_id_parse("42", 2, &id, NULL), TW_OK);
	assert_int_equal(id, 42);
	assert_int_not_equal(wan_order_id_parse("0", 1, &id, NULL), TW_OK);
	assert_int_not_equal(wan_order_id_parse("-1", 2, &id, NULL), TW_OK);
	assert_int_not_equal(wan_order_id_parse("99999999999999999999", 20, &id, NULL), TW_OK);
	assert_int_not_equal(wan_order_id_parse("1a", 2, &id, NULL), TW_OK);
}

/* ------------------------------------------------------------ simulator orders */

static void test_sim_orders(void **state)
{
	struct sim_gw gw = { .dir = "/nonexistent", .id = "GW-A" };
	json_t *payload, *result = NULL, *before;
	const char *code = NULL;

	(void)state;
	gw.state = json_pack("{s:i}", "retention_days", 7);
	before = json_deep_copy(gw.state);
	/* T-LL.1: an order for another gateway is refused and changes nothing. */
	payload = json_pack("{s:s, s:i}", "gateway_id", "GW-B", "days", 90);
	assert_int_not_equal(sim_order_execute(&gw, "set-retention", payload, &result, &code,
		NULL), TW_OK);
	assert_string_equal(code, "wrong_gateway");
	assert_true(json_equal(gw.state, before));
	json_decref(payload);
	assert_int_not_equal(sim_order_execute(&gw, "warp-drive", before, &result, &code, NULL),
		TW_OK);
	assert_string_equal(code, "unknown_order");
	payload = json_pack("{s:s, s:i}", "gateway_id", "GW-A", "days", 90);
	assert_int_equal(sim_order_execute(&gw, "set-retention", payload, &result, &code, NULL),
		TW_OK);
	assert_int_equal(json_integer_value(json_object_get(gw.state, "retention_days")), 90);
	json_decref(payload);
	json_decref(result);
	json_decref(before);
	json_decref(gw.state);
}

/* ------------------------------------------------------------ cls-connect (UC-3.2.4) */

static void test_cls_connect(void **state)
{
	static const struct job_actor emt_who = { "emt:9900000000001", "emt", "127.0.0.1:2" };
	static const struct job_actor gwe_who = { "gateway:GW-E", "smgw", "127.0.0.1:3" };
	struct store_gateway gw;
	struct sim_gw sgw = { .dir = "/nonexistent", .id = "GW-E" };
	struct job_delivery d;
	struct job_outcome oc;
	struct job_spec spec;
	struct store_job j;
	struct tw_error e;
	const char *code = NULL;
	json_t *p, *res = NULL, *wrong;
	int64_t id = 0, pending, tenant;
	bool found;

	(void)state;
	assert_non_null(order_find("cls-connect"));
	assert_int_equal(store_tenant_find(st, "default", &tenant, NULL), TW_OK);
	memset(&gw, 0, sizeof(gw));
	gw.tenant_id = tenant;
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "GW-E");
	snprintf(gw.state, sizeof(gw.state), "registered");
	gw.created_ms = tw_now_ms();
	assert_int_equal(store_gateway_insert(st, &gw, NULL), TW_OK);

	/* Not authorised: refused whoever asks, nothing stored. */
	p = json_pack("{s:s, s:s, s:i}", "emt", "9900000000001", "cls", "cls-1", "duration_s", 600);
	spec = (struct job_spec){ "cls-connect", p, 0, 0, -1 };
	assert_int_equal(job_create(st, "GW-E", &spec, &emt_who, &id, &e), TW_E_DENIED);
	assert_non_null(strstr(e.message, "not authorised"));
	assert_int_equal(job_create(st, "GW-E", &spec, &who, &id, &e), TW_E_DENIED);
	assert_int_equal(store_job_count_open(st, "GW-E", &pending, NULL), TW_OK);
	assert_int_equal(pending, 0);

	/* Bad payloads are refused before the authorisation matters. */
	assert_int_equal(store_emt_authorise(st, "GW-E", "9900000000001", tw_now_ms(), NULL),
		TW_OK);
	static const char *const bad[] = {
		"{\"emt\":\"9900000000001\",\"cls\":\"c\",\"duration_s\":0}",
		"{\"emt\":\"9900000000001\",\"cls\":\"c\",\"duration_s\":86401}",
		"{\"emt\":\"9900000000001\",\"cls\":\"a/b\",\"duration_s\":1}",
		"{\"emt\":\"\",\"cls\":\"c\",\"duration_s\":1}",
		"{\"cls\":\"c\",\"duration_s\":1}",
		"{\"emt\":\"9900000000001\",\"cls\":\"c\",\"duration_s\":1,\"x\":1}",
		"{\"emt\":\"9900000000001\",\"cls\":\"c\",\"duration_s\":\"1\"}",
		NULL
	};
	for (size_t i = 0; bad[i] != NULL; i++) {
		json_t *b = json_loads(bad[i], 0, NULL);
		struct job_spec bs = { "cls-connect", b, 0, 0, -1 };

		assert_non_null(b);
		if (job_create(st, "GW-E", &bs, &emt_who, &id, &e) != TW_E_INVALID)
			fail_msg("payload %s was not refused as invalid", bad[i]);
		json_decref(b);
	}

	/* Authorised: created, delivered with the recipient named (T-PV.1). */
	assert_int_equal(job_create(st, "GW-E", &spec, &emt_who, &id, &e), TW_OK);
	assert_int_equal(job_deliver(st, "GW-E", &gwe_who, &d, &found, &pending, NULL), TW_OK);
	assert_true(found);
	assert_int_equal(d.id, id);
	assert_string_equal(d.type, "cls-connect");
	assert_string_equal(json_string_value(json_object_get(d.payload, "gateway_id")), "GW-E");

	/* The simulator: refuses another gateway's order, activates the proxy for its own. */
	sgw.state = json_object();
	wrong = json_deep_copy(d.payload);
	json_object_set_new(wrong, "gateway_id", json_string("GW-A"));
	assert_int_not_equal(sim_order_execute(&sgw, "cls-connect", wrong, &res, &code, NULL),
		TW_OK);
	assert_string_equal(code, "wrong_gateway");
	assert_null(json_object_get(sgw.state, "cls_proxy"));
	json_decref(wrong);
	assert_int_equal(sim_order_execute(&sgw, "cls-connect", d.payload, &res, &code, NULL),
		TW_OK);
	assert_string_equal(json_string_value(json_object_get(res, "proxy")), "active");
	assert_string_equal(json_string_value(json_object_get(json_object_get(sgw.state,
		"cls_proxy"), "cls")), "cls-1");
	json_decref(d.payload);

	/* A confirmation for another CLS is refused by the order type; the job fails. */
	wrong = json_deep_copy(res);
	json_object_set_new(wrong, "cls", json_string("cls-2"));
	oc = (struct job_outcome){ true, wrong, NULL, NULL };
	assert_int_equal(job_complete(st, "GW-E", id, &oc, &gwe_who, NULL), TW_E_INVALID);
	json_decref(wrong);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_FAILED);
	assert_string_equal(j.actor, "emt:9900000000001");
	store_job_clear(&j);

	/* A good round trip: done, the result kept for the EMT to read. */
	assert_int_equal(job_create(st, "GW-E", &spec, &emt_who, &id, &e), TW_OK);
	assert_int_equal(job_deliver(st, "GW-E", &gwe_who, &d, &found, &pending, NULL), TW_OK);
	json_decref(d.payload);
	oc = (struct job_outcome){ true, res, NULL, NULL };
	assert_int_equal(job_complete(st, "GW-E", id, &oc, &gwe_who, NULL), TW_OK);
	assert_int_equal(store_job_get(st, id, &j, NULL), TW_OK);
	assert_int_equal(j.state, JOB_DONE);
	assert_non_null(strstr(j.result, "\"proxy\":\"active\""));
	store_job_clear(&j);
	json_decref(res);
	json_decref(sgw.state);
	json_decref(p);
}

/*
 * to_wire never runs inside a transaction (job.h): it may ask the signer, and the signer
 * (one thread) may itself wait for the lock such a transaction holds. A probe order type
 * records whether a transaction was open when its to_wire ran, on both hand-out paths
 * (job_deliver, and job_deliver_in_tx + commit + job_delivery_to_wire as the wan batches).
 */
static int wire_probe_calls, wire_probe_in_tx;

static tw_rc wire_probe_to_wire(const struct order_ctx *ctx, json_t **wire,
	struct tw_error *err)
{
	(void)err;
	wire_probe_calls++;
	if (store_in_transaction(ctx->store))
		wire_probe_in_tx++;
	*wire = json_pack("{s:s,s:b}", "gateway_id", ctx->gateway_id, "wired", 1);
	return TW_OK;
}

static void test_to_wire_outside_transaction(void **state)
{
	static const struct order_type probe = { .name = "wire-probe", .summary = "test",
		.to_wire = wire_probe_to_wire };
	struct job_delivery d;
	struct tw_error e;
	bool found;
	int64_t pending, tenant;

	(void)state;
	if (order_find("wire-probe") == NULL)
		assert_int_equal(order_register(&probe, &e), TW_OK);
	assert_int_equal(store_tenant_find(st, "default", &tenant, NULL), TW_OK);
	for (int i = 1; i <= 2; i++) {
		struct store_gateway gw;

		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = tenant;
		snprintf(gw.gateway_id, sizeof(gw.gateway_id), "GW-W%d", i);
		snprintf(gw.state, sizeof(gw.state), "registered");
		gw.created_ms = tw_now_ms();
		assert_int_equal(store_gateway_insert(st, &gw, NULL), TW_OK);
	}
	wire_probe_calls = wire_probe_in_tx = 0;
	mk("GW-W1", "wire-probe", "{}", 60);
	assert_int_equal(job_deliver(st, "GW-W1", &gw_who, &d, &found, &pending, NULL), TW_OK);
	assert_true(found);
	assert_true(json_is_true(json_object_get(d.payload, "wired")));
	json_decref(d.payload);

	mk("GW-W2", "wire-probe", "{}", 60);
	assert_int_equal(store_begin(st, &e), TW_OK);
	assert_int_equal(job_deliver_in_tx(st, "GW-W2", &gw_who, &d, &found, &pending, &e),
		TW_OK);
	assert_true(found);
	assert_null(json_object_get(d.payload, "wired"));   /* the stored payload still */
	assert_int_equal(store_commit(st, &e), TW_OK);
	assert_int_equal(job_delivery_to_wire(st, "GW-W2", &d, &e), TW_OK);
	assert_true(json_is_true(json_object_get(d.payload, "wired")));
	json_decref(d.payload);

	assert_int_equal(wire_probe_calls, 2);
	assert_int_equal(wire_probe_in_tx, 0);
}

/*
 * A crl-update result naming held profiles whose partner certificate the new CRL revokes:
 * the partner-revoked alert is queued with the admin-log entry, naming the gateway, the
 * profiles and the remedy. With the most profiles a result may name (256, the longest
 * ids and serials) the list is cut to what the alert's message holds ("and N more"),
 * and the remedy still ends it.
 */
static void test_crl_partner_alert(void **state)
{
	struct order_ctx ctx;
	struct store_alert *due = calloc(64, sizeof(*due));
	struct tw_error e;
	EVP_PKEY *key = NULL;
	X509_CRL *crl = X509_CRL_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ASN1_TIME *now = ASN1_TIME_set(NULL, time(NULL));
	unsigned char *der = NULL;
	int der_len;
	char *b64 = NULL, id[80], serial[80];
	json_t *payload, *result, *list = json_array();
	size_t n = 0, len, at = 0, found = 0;
	const char *m;

	(void)state;
	assert_non_null(due);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &key, &e), TW_OK);
	assert_true(crl != NULL && num != NULL && now != NULL);
	assert_int_equal(ASN1_INTEGER_set(num, 7), 1);
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, now), 1);
	assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	assert_true((der_len = i2d_X509_CRL(crl, &der)) > 0);
	assert_non_null(b64 = malloc(4 * ((size_t)der_len + 2) / 3 + 1));
	EVP_EncodeBlock((unsigned char *)b64, der, der_len);
	payload = json_pack("{s:[s]}", "crls", b64);
	for (int i = 0; i < 256; i++) {
		snprintf(id, sizeof(id), "wan-%060d", i);
		snprintf(serial, sizeof(serial), "%064x", i + 1);
		json_array_append_new(list, json_pack("{s:s, s:s}", "profile_id", id, "serial",
			serial));
	}
	result = json_pack("{s:s, s:[i], s:o}", "gateway_id", "GW-A", "applied", 7,
		"revoked_partners", list);
	assert_true(payload != NULL && result != NULL);
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = st;
	ctx.job_id = 1;
	ctx.gateway_id = "GW-A";
	ctx.type = "crl-update";
	ctx.payload = payload;
	ctx.actor = "system:worker";
	assert_int_equal(store_begin(st, &e), TW_OK);
	if (order_type_crl_update.on_result(&ctx, result, &e) != TW_OK)
		fail_msg("on_result: %s", e.message);
	assert_int_equal(store_commit(st, &e), TW_OK);

	/* The queue's other alerts (earlier tests) are not this one's. */
	assert_int_equal(store_alert_due(st, tw_now_ms() + 1000, due, 64, &n, &e), TW_OK);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(due[i].kind, "partner-revoked") == 0) {
			at = i;
			found++;
		}
	}
	assert_int_equal(found, 1);
	assert_string_equal(due[at].role, "gateway-operator");
	assert_string_equal(due[at].subject, "GW-A");
	m = due[at].message;
	len = strlen(m);
	assert_true(len <= STORE_TEXT_MAX);
	assert_non_null(strstr(m, "gateway GW-A holds 256 profiles whose partner certificate"));
	assert_non_null(strstr(m, " wan-000000000000000000000000000000000000000000000000000000000000 "
		"(serial 0000000000000000000000000000000000000000000000000000000000000001)"));
	assert_non_null(strstr(m, " more; the gateway keeps them"));
	assert_non_null(strstr(m, "torwart profile reput --emt MPID --gateway GW-A --apply"));
	assert_string_equal(m + len - strlen("docs/profiles.md)"), "docs/profiles.md)");

	json_decref(payload);
	json_decref(result);
	OPENSSL_free(der);
	free(b64);
	free(due);
	ASN1_TIME_free(now);
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wakeup_codec),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_store_jobs),
		cmocka_unit_test(test_create_refuses_bad_input),
		cmocka_unit_test(test_claim_head),
		cmocka_unit_test(test_claim_heap_peak),
		cmocka_unit_test(test_deliver_and_complete),
		cmocka_unit_test(test_timeout_and_retry),
		cmocka_unit_test(test_audit_trail),
		cmocka_unit_test(test_fleet),
		cmocka_unit_test(test_wan_orders_codec),
		cmocka_unit_test(test_sim_orders),
		cmocka_unit_test(test_cls_connect),
		/* Last: it registers gateways of its own (test_fleet counts the tenant's). */
		cmocka_unit_test(test_to_wire_outside_transaction),
		cmocka_unit_test(test_crl_partner_alert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
