/*
 * test_firmware.c: the firmware catalogue (gwa/firmware.h, store_firmware.h) and the CA
 * key activation state (pki/ca_state.h), including migration 0007's carry-over of the
 * CAs of older homes. No token needed: nothing here signs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "base/config.h"
#include "base/error.h"
#include "base/home.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "gwa/order_firmware.h"
#include "gwa/rollout.h"
#include "pki/ca_state.h"
#include "store/store.h"
#include "store/store_ca.h"
#include "store/store_firmware.h"
#include "store/store_rollouts.h"
#include "wan/wan_firmware_pace.h"

struct fx {
	char dir[64];
	char db[128];
	struct tw_home *home;
	struct tw_store *st;
};

static const struct firmware_actor who = { "unit:alice", "firmware-manager", "unit" };
static const struct ca_actor ca_who = { "unit:bob", "ca-operator", "unit" };

static int fx_setup(void **state)
{
	static const char conf[] = "[store]\nurl = store.db\n[firmware]\nmax_size = 1000\n";
	struct fx *f = calloc(1, sizeof(*f));
	struct tw_error err;
	char path[160];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-test-fw-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", f->dir);
	assert_int_equal(tw_write_file(path, conf, sizeof(conf) - 1, 0600, true, &err), TW_OK);
	assert_int_equal(tw_home_open(f->dir, &f->home, &err), TW_OK);
	snprintf(f->db, sizeof(f->db), "%s/store.db", f->dir);
	assert_int_equal(store_open(f->db, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->st);
	tw_home_free(f->home);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Write n bytes of pattern c to DIR/name; returns the path (static). */
static const char *fx_file(const struct fx *f, const char *name, size_t n, int c)
{
	static char path[160];
	unsigned char *buf = malloc(n > 0 ? n : 1);
	struct tw_error err;

	assert_non_null(buf);
	memset(buf, c, n);
	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
	assert_int_equal(tw_write_file(path, buf, n, 0600, true, &err), TW_OK);
	free(buf);
	return path;
}

static long fx_count(const struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void fx_exec(const struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* Files in HOME/firmware (leftover temporary uploads count too). */
static long fx_files(const struct fx *f)
{
	char cmd[160];
	char line[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/firmware' 2>/dev/null | wc -l", f->dir);
	assert_non_null(p = popen(cmd, "r"));
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	pclose(p);
	return strtol(line, NULL, 10);
}

static void test_labels(void **state)
{
	static const char *const good[] = { "PPC/SMGW-2", "1.0.0", "v2+build.7", "a_b", "X" };
	static const char *const bad[] = { "", "/abs", ".hidden", "-opt", "a b", "ü", "a;b",
		"x\ny" };
	struct tw_error err;
	char longer[STORE_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(firmware_label_check(good[i], "model", &err), TW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(firmware_label_check(bad[i], "model", &err), TW_E_INVALID);
	assert_int_equal(firmware_label_check(NULL, "model", &err), TW_E_INVALID);
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(firmware_label_check(longer, "model", &err), TW_E_INVALID);
	longer[STORE_ID_MAX] = '\0';
	assert_int_equal(firmware_label_check(longer, "model", &err), TW_OK);
}

static void test_add_and_refusals(void **state)
{
	struct fx *f = *state;
	struct store_firmware img, got;
	struct tw_error err;
	char dirpath[160];
	long max = 0;

	assert_int_equal(firmware_max_size(f->home, &max, &err), TW_OK);
	assert_int_equal(max, 1000);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "a.img", 1000, 'a'),
		"PPC/SMGW-2", "1.0.0", &img, &err), TW_OK);
	assert_int_equal(img.id, 1);
	assert_int_equal(img.size, 1000);
	assert_string_equal(img.state, "uploaded");
	assert_string_equal(img.signature, "unverified");
	assert_int_equal(store_firmware_get(f->st, img.id, &got, &err), TW_OK);
	assert_string_equal(got.sha256, img.sha256);
	assert_string_equal(got.uploaded_by, "unit:alice");
	assert_int_equal(firmware_verify_file(f->home, &got, &err), TW_OK);

	/* Refusals: nothing stored, no file left, each logged as refused. */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "b.img", 1000, 'a'),
		"PPC/SMGW-2", "1.0.1", NULL, &err), TW_E_EXISTS);     /* same bytes */
	assert_non_null(strstr(err.message, "already firmware image 1"));
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "c.img", 10, 'c'),
		"PPC/SMGW-2", "1.0.0", NULL, &err), TW_E_EXISTS);     /* same model+version */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "d.img", 0, 'd'),
		"PPC/SMGW-2", "2", NULL, &err), TW_E_INVALID);        /* empty */
	assert_non_null(strstr(err.message, "empty"));
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "e.img", 1001, 'e'),
		"PPC/SMGW-2", "3", NULL, &err), TW_E_TOO_LARGE);      /* over max_size */
	assert_int_equal(firmware_add(f->home, f->st, &who, "/nonexistent/x.img",
		"PPC/SMGW-2", "4", NULL, &err), TW_E_NOT_FOUND);
	snprintf(dirpath, sizeof(dirpath), "%s", f->dir);
	assert_int_equal(firmware_add(f->home, f->st, &who, dirpath, "PPC/SMGW-2", "5", NULL,
		&err), TW_E_INVALID);                                 /* a directory */
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "g.img", 5, 'g'),
		"../evil", "6", NULL, &err), TW_E_INVALID);           /* bad label */
	assert_int_equal(fx_count(f, "SELECT count(*) FROM firmware_images"), 1);
	assert_int_equal(fx_files(f), 1);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.add' AND result = 'refused'"), 7);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.add' AND result = 'ok'"), 1);
}

/*
 * Make image id releasable as a signed, certified one would be (the container checks
 * themselves are exercised by tests/integration/firmware.sh with openssl as the signer):
 * a signature row, status verified, and (model, version) on a new certified list.
 */
static void fx_certify(struct fx *f, const struct store_firmware *img, int64_t seq)
{
	struct store_firmware_sig sig;
	struct store_firmware_list l;
	struct tw_error err;
	int64_t lid = 0;
	bool found = false;

	assert_int_equal(store_firmware_sig_get(f->st, img->id, &sig, &found, &err), TW_OK);
	memset(&sig, 0, sizeof(sig));
	sig.image_id = img->id;
	snprintf(sig.cms_path, sizeof(sig.cms_path), "firmware/%s.cms", img->sha256);
	snprintf(sig.signer, sizeof(sig.signer), "CN=V.GWH.T");
	if (!found)
		assert_int_equal(store_firmware_sig_insert(f->st, &sig, &err), TW_OK);
	assert_int_equal(store_firmware_set_signature(f->st, img->id, "verified", &err), TW_OK);
	memset(&l, 0, sizeof(l));
	l.sequence = seq;
	snprintf(l.issued, sizeof(l.issued), "2026-12-01T00:00:00Z");
	memset(l.sha256, 'a', 64);
	snprintf(l.signer, sizeof(l.signer), "CN=list");
	snprintf(l.imported_by, sizeof(l.imported_by), "unit");
	assert_int_equal(store_firmware_list_insert(f->st, &l, &lid, &err), TW_OK);
	assert_int_equal(store_firmware_list_entry(f->st, lid, img->model, img->version, &err),
		TW_OK);
}

static void test_release_withdraw(void **state)
{
	struct fx *f = *state;
	struct store_firmware a, b, got;
	struct tw_error err;
	char path[200];

	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "a.img", 100, 'a'),
		"M", "1", &a, &err), TW_OK);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "b.img", 100, 'b'),
		"M", "2", &b, &err), TW_OK);
	/* Unsigned (catalogue-only) images are never released (UC-3.3.1). */
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, &got, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "no verified manufacturer signature"));
	fx_certify(f, &a, 1);
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, &got, &err), TW_OK);
	assert_string_equal(got.state, "released");
	assert_string_equal(got.released_by, "unit:alice");
	assert_true(got.released_ms > 0);
	/* Only uploaded -> released. */
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, NULL, &err), TW_E_DENIED);
	assert_int_equal(firmware_release(f->home, f->st, &who, 99, NULL, &err), TW_E_NOT_FOUND);
	/* T-SU.1: a changed file at rest is not released. */
	snprintf(path, sizeof(path), "%s/%s", f->dir, b.path);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(tw_write_file(path, "tampered", 8, 0600, false, &err), TW_OK);
	assert_int_equal(firmware_release(f->home, f->st, &who, b.id, NULL, &err),
		TW_E_INTEGRITY);
	assert_int_equal(store_firmware_get(f->st, b.id, &got, &err), TW_OK);
	assert_string_equal(got.state, "uploaded");
	/* withdraw from released and from uploaded; withdrawn is final. */
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, a.id, "CVE-1", &got, &err),
		TW_OK);
	assert_string_equal(got.state, "withdrawn");
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, b.id, NULL, &got, &err), TW_OK);
	assert_int_equal(firmware_withdraw(f->home, f->st, &who, a.id, NULL, NULL, &err),
		TW_E_DENIED);
	assert_int_equal(firmware_release(f->home, f->st, &who, a.id, NULL, &err), TW_E_DENIED);
	/* The store refuses moves outside the state machine even if a caller asks. */
	assert_int_equal(store_firmware_transition(f->st, a.id, "withdrawn", "released", 1,
		"x", &err), TW_E_INTERNAL);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action IN "
		"('firmware.release', 'firmware.withdraw') AND result = 'ok'"), 3);
}

/* Versions never go backwards without firmware_downgrade; the list must name them. */
static void test_downgrade_and_list(void **state)
{
	struct fx *f = *state;
	struct store_firmware v2, v1, v3, got;
	struct tw_error err;

	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "2.img", 10, '2'),
		"M", "1.10", &v2, &err), TW_OK);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "1.img", 10, '1'),
		"M", "1.9", &v1, &err), TW_OK);
	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "3.img", 10, '3'),
		"M", "1.11", &v3, &err), TW_OK);
	fx_certify(f, &v2, 1);
	/* 1.9 is signed but only 1.10 is on list 1. */
	{
		struct store_firmware_sig sig;

		memset(&sig, 0, sizeof(sig));
		sig.image_id = v1.id;
		snprintf(sig.cms_path, sizeof(sig.cms_path), "firmware/x.cms");
		snprintf(sig.signer, sizeof(sig.signer), "CN=V.GWH.T");
		assert_int_equal(store_firmware_sig_insert(f->st, &sig, &err), TW_OK);
		assert_int_equal(store_firmware_set_signature(f->st, v1.id, "verified", &err),
			TW_OK);
	}
	assert_int_equal(firmware_release(f->home, f->st, &who, v1.id, NULL, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "not on the current list"));
	assert_int_equal(firmware_release(f->home, f->st, &who, v2.id, &got, &err), TW_OK);
	fx_certify(f, &v1, 2);   /* list 2 names 1.9 only */
	assert_int_equal(firmware_release(f->home, f->st, &who, v1.id, NULL, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "downgrade"));
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.release' AND result = 'refused' AND error_code = 'downgrade'"), 1);
	assert_int_equal(firmware_downgrade(f->home, f->st, &who, v1.id, &got, &err), TW_OK);
	assert_string_equal(got.state, "released");
	/* a newer version is no downgrade */
	fx_certify(f, &v3, 3);
	assert_int_equal(firmware_downgrade(f->home, f->st, &who, v3.id, NULL, &err),
		TW_E_DENIED);
	assert_int_equal(firmware_release(f->home, f->st, &who, v3.id, NULL, &err), TW_OK);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'firmware.downgrade' AND result = 'ok'"), 1);
}

/* The Range header of a download request (outside bytes). */
static void test_range_parse(void **state)
{
	static const char *const bad[] = { "bytes=-5", "bytes=5", "bytes=a-b", "items=0-1",
		"bytes=0-1,3-4", "bytes= 0-1", "bytes=10-5", "bytes=0-1x", "bytes=",
		"bytes=99999999999999999999-" };
	int64_t first = 0, len = 0;
	struct tw_error err;

	(void)state;
	assert_int_equal(firmware_range_parse(NULL, 1000, 256, &first, &len, &err), TW_OK);
	assert_true(first == 0 && len == 256);
	assert_int_equal(firmware_range_parse("bytes=900-", 1000, 256, &first, &len, &err),
		TW_OK);
	assert_true(first == 900 && len == 100);
	assert_int_equal(firmware_range_parse("bytes=10-19", 1000, 256, &first, &len, &err),
		TW_OK);
	assert_true(first == 10 && len == 10);
	assert_int_equal(firmware_range_parse("bytes=10-5000", 1000, 256, &first, &len, &err),
		TW_OK);
	assert_true(first == 10 && len == 256);
	assert_int_equal(firmware_range_parse("bytes=1000-", 1000, 256, &first, &len, &err),
		TW_E_TOO_LARGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(firmware_range_parse(bad[i], 1000, 256, &first, &len, &err),
			TW_E_INVALID);
}

static int fx_count_rollout(const struct store_rollout *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* A tenant's operators see and steer only their own rollouts (store_scope_tenant). */
static void test_rollout_tenants(void **state)
{
	struct fx *f = *state;
	struct store_firmware img;
	struct store_rollout r, got;
	struct tw_error err;
	int64_t a = 0, b = 0;
	int n = 0;

	assert_int_equal(firmware_add(f->home, f->st, &who, fx_file(f, "t.img", 10, 't'), "M",
		"1", &img, &err), TW_OK);
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "ra");
	snprintf(r.selection, sizeof(r.selection), "tenant:a");
	snprintf(r.created_by, sizeof(r.created_by), "unit");
	r.image_id = img.id;
	r.ngroups = 1;
	r.success_pct = 100;
	r.error_pct = 10;
	r.tenant_id = 7;
	assert_int_equal(store_rollout_insert(f->st, &r, &a, &err), TW_OK);
	r.tenant_id = 8;
	assert_int_equal(store_rollout_insert(f->st, &r, &b, &err), TW_OK);
	store_scope_tenant(f->st, 7);
	assert_int_equal(store_rollout_get(f->st, a, &got, &err), TW_OK);
	assert_int_equal(store_rollout_get(f->st, b, &got, &err), TW_E_NOT_FOUND);
	assert_int_equal(store_rollout_foreach(f->st, NULL, fx_count_rollout, &n, &err), TW_OK);
	assert_int_equal(n, 1);
	{
		struct job_actor ja = { "unit:t7", "firmware-manager", "unit" };

		/* steering another tenant's rollout: as if it did not exist, nothing changes */
		assert_int_equal(rollout_start(f->st, &ja, b, &err), TW_E_NOT_FOUND);
		assert_int_equal(rollout_start(f->st, &ja, a, &err), TW_OK);
	}
	store_scope_tenant(f->st, 0);
	assert_int_equal(store_rollout_get(f->st, b, &got, &err), TW_OK);
	assert_string_equal(got.state, "created");
	n = 0;
	assert_int_equal(store_rollout_foreach(f->st, NULL, fx_count_rollout, &n, &err), TW_OK);
	assert_int_equal(n, 2);
}

/* Maintenance windows in local time, daylight saving by the zone's rules. */
static void test_rollout_window(void **state)
{
	/* 2026-07-06 (Monday) 23:30 UTC = 01:30 CEST on Tuesday in Berlin (UTC+2). */
	const int64_t summer = 1783380600000LL;
	/* 2026-01-12 (Monday) 23:30 UTC = 00:30 CET on Tuesday in Berlin (UTC+1). */
	const int64_t winter = 1768260600000LL;
	struct tw_error err;

	(void)state;
	assert_true(rollout_window_open(NULL, summer));
	assert_true(rollout_window_open("", summer));
	assert_true(rollout_window_open("Mon-Fri 01:00-05:00 Europe/Berlin", summer));
	assert_false(rollout_window_open("Mon-Fri 01:00-05:00 Europe/Berlin", winter));
	assert_true(rollout_window_open("Tue 00:00-01:00 Europe/Berlin", winter));
	assert_false(rollout_window_open("Mon-Fri 01:00-05:00 UTC", summer));
	assert_true(rollout_window_open("daily 23:00-01:00", summer));    /* across midnight */
	assert_true(rollout_window_open("Mon 23:00-01:00 UTC", summer));
	assert_false(rollout_window_open("Sat,Sun 00:00-23:59 Europe/Berlin", summer));
	assert_true(rollout_window_open("Sat,Tue 00:00-23:59 Europe/Berlin", summer));
	assert_int_equal(rollout_window_check("someday 1-2", &err), TW_E_INVALID);
	assert_int_equal(rollout_window_check("Mon 01:00-01:00", &err), TW_E_INVALID);
	assert_int_equal(rollout_window_check("Mon 25:00-01:00", &err), TW_E_INVALID);
	assert_int_equal(rollout_window_check("Mon 01:00-02:00 ../etc", &err), TW_E_INVALID);
	assert_int_equal(rollout_window_check("Fri-Mon 22:00-06:00 Europe/Berlin", &err), TW_OK);
	/* An unknown zone would silently be UTC in the C library: refused instead. */
	assert_int_equal(rollout_window_check("Mon 01:00-02:00 Europe/Berlni", &err),
		TW_E_INVALID);
	assert_non_null(strstr(err.message, "unknown time zone Europe/Berlni"));
	assert_int_equal(rollout_window_check("daily 01:00-02:00 America/New_York", &err), TW_OK);
}

/*
 * Download pacing (wan_firmware_pace.h): the bucket's clock is passed in, so this is
 * exact arithmetic, not timing. 256 KiB/s: 1 MiB from an empty bucket in 16 KiB chunks
 * may finish no earlier than 4 s; a shared bucket makes concurrent takers wait behind
 * each other; rate 0 never waits.
 */
static void test_pace_bucket(void **state)
{
	const int64_t s = 1000000000, rate = 256 * 1024, chunk = 16 * 1024;
	struct fw_bucket b, shared;
	int64_t now = 5 * s, sent = 0, w, t[3] = { 0, 0, 0 };
	int i;

	(void)state;
	fw_bucket_init(&b, 0, 0, 0, now);
	for (i = 0; i < 1000; i++)
		assert_int_equal(fw_bucket_take(&b, 1 << 20, now), 0);   /* unlimited */
	/* One connection: send each chunk when allowed, the clock jumps to that moment. */
	fw_bucket_init(&b, rate, chunk, 0, now);
	while (sent < 1024 * 1024) {
		w = fw_bucket_take(&b, chunk, now);
		assert_true(w >= 0);
		now += w;
		sent += chunk;
	}
	assert_true(now - 5 * s >= 4 * s - s / 1000);   /* 1 MiB at 256 KiB/s: 4 s */
	assert_true(now - 5 * s <= 4 * s + s / 1000);
	/* After an idle time at most the burst goes out at once. */
	now += 10 * s;
	assert_int_equal(fw_bucket_take(&b, chunk, now), 0);
	assert_true(fw_bucket_take(&b, chunk, now) > 0);
	/* Three takers sharing one bucket: each chunk is later than the one before. */
	fw_bucket_init(&shared, rate, chunk, 0, now);
	for (i = 0; i < 48; i++) {
		w = fw_bucket_take(&shared, chunk, now);
		assert_true(w >= t[(i + 2) % 3]);   /* not before the previous reservation */
		t[i % 3] = w;
	}
	/* 48 chunks = 768 KiB at 256 KiB/s: the last may go 3 s from now, not earlier. */
	assert_true(t[47 % 3] >= 3 * s - s / 1000);
	/* A clock that goes back is a clock that stands still. */
	assert_true(fw_bucket_take(&shared, chunk, now - s) > t[47 % 3]);
	/* Chunks: a tenth of a second of the smaller rate within 1..16 KiB. */
	assert_int_equal(fw_pace_chunk(0, 0), 0);
	assert_int_equal(fw_pace_chunk(rate, 0), chunk);
	assert_int_equal(fw_pace_chunk(0, 100 * 1024), 10 * 1024);
	assert_int_equal(fw_pace_chunk(100 * 1024, 5000), 1024);
}

static struct rollout_windows *fx_windows(const char *text)
{
	struct tw_config *conf = NULL;
	struct rollout_windows *w = NULL;
	struct tw_error err;

	assert_int_equal(tw_config_parse(text, strlen(text), "t", &conf, &err), TW_OK);
	assert_int_equal(rollout_windows_load(conf, &w, &err), TW_OK);
	tw_config_free(conf);
	return w;
}

/*
 * Windows of the configuration: rollout > tag > tenant > global, in local time of IANA
 * zones across both daylight-saving changes of 2026 in Berlin (29 March: 02:00 CET ->
 * 03:00 CEST, the hour 02:00-03:00 does not exist; 25 October: 03:00 CEST -> 02:00
 * CET, the hour 02:00-03:00 happens twice).
 */
static void test_rollout_windows(void **state)
{
	const int64_t sat_0130 = 1774661400000LL;  /* 28 Mar 01:30 UTC = 02:30 CET, Sat */
	const int64_t sat_0330 = 1774668600000LL;  /* 28 Mar 03:30 UTC = 04:30 CET */
	const int64_t sat_0430 = 1774672200000LL;  /* 28 Mar 04:30 UTC = 05:30 CET */
	const int64_t spr_0030 = 1774744200000LL;  /* 29 Mar 00:30 UTC = 01:30 CET, Sun */
	const int64_t spr_0130 = 1774747800000LL;  /* 29 Mar 01:30 UTC = 03:30 CEST */
	const int64_t spr_0300 = 1774753200000LL;  /* 29 Mar 03:00 UTC = 05:00 CEST */
	const int64_t fall_0030 = 1792888200000LL; /* 25 Oct 00:30 UTC = 02:30 CEST, Sun */
	const int64_t fall_0130 = 1792891800000LL; /* 25 Oct 01:30 UTC = 02:30 CET */
	const int64_t fall_0230 = 1792895400000LL; /* 25 Oct 02:30 UTC = 03:30 CET */
	const int64_t fall_0330 = 1792899000000LL; /* 25 Oct 03:30 UTC = 04:30 CET, Sun */
	const int64_t mon_0330 = 1792985400000LL;  /* 26 Oct 03:30 UTC = 04:30 CET, Mon */
	const char *conf_text =
		"[rollout]\nwindow = daily 01:00-05:00 Europe/Berlin\n"
		"[rollout.window.tenant]\nnorth = Sun 02:00-03:00 Europe/Berlin\n"
		"[rollout.window.tag]\nnight = daily 03:00-04:00 UTC\n"
		"weekend = Sat,Sun 00:00-23:59 Europe/Berlin\n";
	struct rollout_windows *w;
	struct tw_config *conf = NULL;
	const char *src = NULL;
	struct tw_error err;

	(void)state;
	/* Nothing configured: always open. */
	w = fx_windows("[rollout]\ntick_ms = 100\n");
	assert_false(rollout_windows_by_tag(w));
	assert_false(rollout_windows_by_tenant(w));
	assert_true(rollout_windows_open(w, "", "night", "north", spr_0300, &src));
	assert_string_equal(src, "none");
	rollout_windows_free(w);
	assert_true(rollout_windows_open(NULL, NULL, NULL, NULL, spr_0300, NULL));

	w = fx_windows(conf_text);
	assert_true(rollout_windows_by_tag(w));
	assert_true(rollout_windows_by_tenant(w));
	/* Global 01:00-05:00 Berlin: 04:00 UTC long on Saturday, 03:00 on the spring day. */
	assert_true(rollout_windows_open(w, NULL, NULL, "south", sat_0330, &src));
	assert_string_equal(src, "global");
	assert_false(rollout_windows_open(w, NULL, NULL, "south", sat_0430, NULL));
	assert_true(rollout_windows_open(w, NULL, "other", "south", spr_0030, NULL));
	assert_true(rollout_windows_open(w, NULL, "", NULL, spr_0130, NULL));
	assert_false(rollout_windows_open(w, NULL, NULL, NULL, spr_0300, NULL));
	/* Tenant north, Sun 02:00-03:00 Berlin: never on the spring day, twice in autumn;
	 * it replaces the global window (open at 01:30 CET, but not for north). */
	assert_false(rollout_windows_open(w, NULL, NULL, "north", spr_0030, &src));
	assert_string_equal(src, "tenant");
	assert_false(rollout_windows_open(w, NULL, NULL, "north", spr_0130, NULL));
	assert_true(rollout_windows_open(w, NULL, "other", "north", fall_0030, NULL));
	assert_true(rollout_windows_open(w, NULL, NULL, "north", fall_0130, NULL));
	assert_false(rollout_windows_open(w, NULL, NULL, "north", fall_0230, NULL));
	assert_false(rollout_windows_open(w, NULL, NULL, "north", sat_0130, NULL));
	/* A tag window replaces the tenant's: night 03:00-04:00 UTC. */
	assert_false(rollout_windows_open(w, NULL, "a,night", "north", fall_0030, &src));
	assert_string_equal(src, "tag");
	assert_true(rollout_windows_open(w, NULL, "a,night", "north", fall_0330, NULL));
	/* Two tags with windows: both must be open. */
	assert_true(rollout_windows_open(w, NULL, "night,weekend", "north", fall_0330, NULL));
	assert_false(rollout_windows_open(w, NULL, "night,weekend", "north", mon_0330, NULL));
	assert_true(rollout_windows_open(w, NULL, "night", "north", mon_0330, NULL));
	/* A tag name is matched whole ("nightly" is not "night"). */
	assert_false(rollout_windows_open(w, NULL, "nightly", "north", fall_0330, &src));
	assert_string_equal(src, "tenant");
	/* The rollout's own window decides over everything. */
	assert_false(rollout_windows_open(w, "Mon 00:00-01:00 UTC", "night", "north",
		fall_0330, &src));
	assert_string_equal(src, "rollout");
	assert_true(rollout_windows_open(w, "Mon 03:00-04:00 UTC", "weekend", "north",
		mon_0330, NULL));
	rollout_windows_free(w);

	/* A malformed window anywhere is a configuration error naming its key. */
	assert_int_equal(tw_config_parse("[rollout.window.tag]\nnight = nightly\n", 37, "t",
		&conf, &err), TW_OK);
	assert_int_equal(rollout_windows_load(conf, &w, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "[rollout.window.tag] night"));
	assert_null(w);
	tw_config_free(conf);
	assert_int_equal(tw_config_parse("[rollout]\nwindow = Mon 01:00\n", 29, "t", &conf,
		&err), TW_OK);
	assert_int_equal(rollout_windows_load(conf, &w, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "[rollout] window"));
	tw_config_free(conf);
}

static void test_version_cmp(void **state)
{
	(void)state;
	assert_true(fw_version_cmp("1.9", "1.10") < 0);
	assert_true(fw_version_cmp("1.10", "1.10.1") < 0);
	assert_true(fw_version_cmp("1.10.1", "1.10") > 0);
	assert_int_equal(fw_version_cmp("1.010", "1.10"), 0);
	assert_true(fw_version_cmp("2.0-rc1", "2.0-rc2") < 0);
	assert_true(fw_version_cmp("2.0", "2.0-rc1") < 0);
	assert_true(fw_version_cmp("10", "9") > 0);
	assert_true(fw_version_cmp("1.a", "1.0") < 0);
	assert_int_equal(fw_version_cmp("PPC_7.1", "PPC_7.1"), 0);
}

static void test_manifest_parse(void **state)
{
	static const char good[] = "{\"format\":\"torwart-firmware-manifest/1\",\"model\":"
		"\"PPC/SMGW-2\",\"version\":\"1.0\",\"size\":5,\"sha256\":\"ABCDEF0123456789"
		"abcdef0123456789abcdef0123456789abcdef0123456789\"}";
	static const char *const bad[] = {
		"[]", "{}", "not json",
		"{\"format\":\"torwart-firmware-manifest/2\",\"model\":\"M\",\"version\":\"1\","
		"\"size\":5,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		"{\"format\":\"torwart-firmware-manifest/1\",\"model\":\"../M\",\"version\":\"1\","
		"\"size\":5,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		"{\"format\":\"torwart-firmware-manifest/1\",\"model\":\"M\",\"version\":\"1\","
		"\"size\":-5,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\"}",
		"{\"format\":\"torwart-firmware-manifest/1\",\"model\":\"M\",\"version\":\"1\","
		"\"size\":5,\"sha256\":\"00\"}",
		"{\"format\":\"torwart-firmware-manifest/1\",\"model\":\"M\",\"version\":\"1\","
		"\"size\":5,\"sha256\":\"0000000000000000000000000000000000000000000000000000000000000000\","
		"\"extra\":1}",
		"{\"format\":\"torwart-firmware-manifest/1\",\"model\":\"M\",\"model\":\"N\","
		"\"version\":\"1\",\"size\":5,\"sha256\":"
		"\"0000000000000000000000000000000000000000000000000000000000000000\"}",
	};
	struct fw_manifest m;
	struct tw_error err;

	(void)state;
	assert_int_equal(fw_manifest_parse((const unsigned char *)good, sizeof(good) - 1, &m,
		&err), TW_OK);
	assert_string_equal(m.model, "PPC/SMGW-2");
	assert_int_equal(m.size, 5);
	assert_string_equal(m.sha256,
		"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fw_manifest_parse((const unsigned char *)bad[i], strlen(bad[i]),
			&m, &err), TW_E_INVALID);
}

static void test_list_parse(void **state)
{
	static const char good[] = "{\"format\":\"torwart-certified-firmware/1\",\"sequence\":"
		"3,\"issued\":\"2026-12-01T00:00:00Z\",\"firmware\":[{\"model\":\"M\",\"version\":"
		"\"1\"},{\"model\":\"M\",\"version\":\"2\"}]}";
	static const char *const bad[] = {
		"{\"format\":\"torwart-certified-firmware/1\",\"sequence\":0,\"issued\":"
		"\"2026-12-01T00:00:00Z\",\"firmware\":[]}",
		"{\"format\":\"torwart-certified-firmware/1\",\"sequence\":1,\"issued\":"
		"\"2026-12-01\",\"firmware\":[]}",
		"{\"format\":\"torwart-certified-firmware/1\",\"sequence\":1,\"issued\":"
		"\"2026-12-01T00:00:00Z\",\"firmware\":[{\"model\":\"M\",\"version\":\"1\"},"
		"{\"model\":\"M\",\"version\":\"1\"}]}",
		"{\"format\":\"torwart-certified-firmware/1\",\"sequence\":1,\"issued\":"
		"\"2026-12-01T00:00:00Z\",\"firmware\":[{\"model\":\"M\"}]}",
		"{\"format\":\"torwart-certified-firmware/1\",\"sequence\":1,\"issued\":"
		"\"2026-12-01T00:00:00Z\",\"firmware\":[7]}",
	};
	struct fw_list l;
	struct tw_error err;

	(void)state;
	assert_int_equal(fw_list_parse((const unsigned char *)good, sizeof(good) - 1, &l, &err),
		TW_OK);
	assert_int_equal(l.sequence, 3);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.entries[1].version, "2");
	fw_list_clear(&l);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fw_list_parse((const unsigned char *)bad[i], strlen(bad[i]), &l,
			&err), TW_E_INVALID);
		assert_null(l.entries);
	}
}

static void test_ca_state(void **state)
{
	struct fx *f = *state;
	struct store_ca_key_state row;
	struct tw_error err;
	bool active = true, found = true, changed = false;
	char path[160];

	/* Fail closed: a CA without a record is inactive. */
	assert_int_equal(ca_state_get(f->st, "sub-ca", &active, &row, &found, &err), TW_OK);
	assert_false(found);
	assert_false(active);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "issuance", &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "torwart ca activate"));
	assert_non_null(strstr(err.message, "never been activated"));
	/* Activation needs a configured CA with its certificate. */
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, NULL, &changed,
		&err), TW_E_NOT_FOUND);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "other", true, NULL, &changed,
		&err), TW_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "[ca.other]"));
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "bad name", true, NULL, &changed,
		&err), TW_E_CONFIG);
	snprintf(path, sizeof(path), "%s/pki", f->dir);
	assert_int_equal(tw_mkdir_p(path, 0700, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/pki/sub-ca.crt", f->dir);
	assert_int_equal(tw_write_file(path, "x", 1, 0600, true, &err), TW_OK);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, "ceremony 7",
		&changed, &err), TW_OK);
	assert_true(changed);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "issuance", &err), TW_OK);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", true, NULL, &changed,
		&err), TW_OK);
	assert_false(changed);
	assert_int_equal(ca_state_set(f->home, f->st, &ca_who, "sub-ca", false, "end of shift",
		&changed, &err), TW_OK);
	assert_true(changed);
	assert_int_equal(ca_state_require_active(f->st, "sub-ca", "CRL signing", &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "CRL signing refused"));
	assert_non_null(strstr(err.message, "end of shift"));
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'ca.key.activate' AND object = 'ca:sub-ca'"), 3);   /* refused, ok, unchanged */
	assert_int_equal(fx_count(f, "SELECT count(*) FROM admin_log WHERE action = "
		"'ca.key.deactivate' AND result = 'ok'"), 1);
	assert_int_equal(ca_state_activate_created(f->st, "unit:carol", "operator", "new",
		&err), TW_OK);
	assert_int_equal(ca_state_require_active(f->st, "operator", "CRL signing", &err), TW_OK);
}

/* Migration 0007 on an older home: its CA certificates' CAs come out active. */
static void test_migration_carry_over(void **state)
{
	struct fx *f = *state;
	struct store_ca_key_state row;
	struct tw_error err;
	bool active = false, found = false;

	/* Back to schema 6 (later migrations undone too) with a CA certificate recorded, as
	 * init --test-pki left it. */
	fx_exec(f, "DROP TABLE gateway_message_acks; DROP TABLE rollout_targets; DROP TABLE rollouts; "
		"DROP TABLE firmware_certified; DROP TABLE firmware_lists; "
		"DROP TABLE firmware_signatures; "
		"DROP TABLE firmware_images; DROP TABLE ca_key_state; "
		"DROP TABLE admin_log_verified; DROP TABLE ws_device_admin; DROP TABLE ws_endpoints; "
		"DROP TABLE ws_outbox; DROP TABLE ws_client_requests; "
		"DROP TABLE dir_published; "
		"DROP TABLE dir_crl_published; DROP TABLE trust_crls; DROP TABLE renewals; "
		"DROP TABLE initial_configs; "
		"DROP TABLE metering_messages; "
		"DROP TABLE emt_endpoints; DROP TABLE time_checks; DROP TABLE gateway_time; "
		"DROP TABLE gwa_context_certs; DROP TABLE gwa_context_trust; "
		"DROP TABLE saml_replay; DROP TABLE saml_idps; DROP TABLE gwa_sig_pushes; "
		"DELETE FROM schema_migrations WHERE version >= 7; "
		"INSERT INTO tenants (name, created_ms) VALUES ('default', 0); "
		"INSERT INTO certificates (tenant_id, serial_hex, issuer, subject, owner_kind, "
		"owner_id, usage, not_before, not_after, status, fingerprint, der) VALUES "
		"(1, '01', 'CN=R', 'CN=S', 'ca', 'sub-ca', 'CA', 0, 1, 'valid', 'f1', x'30'), "
		"(1, '02', 'CN=R', 'CN=G', 'gwa', 'GWA', 'SIG', 0, 1, 'valid', 'f2', x'30')");
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(ca_state_get(f->st, "sub-ca", &active, &row, &found, &err), TW_OK);
	assert_true(found);
	assert_true(active);
	assert_string_equal(row.changed_by, "migration:0007");
	assert_true(row.changed_ms > 1700000000000LL);
	assert_int_equal(fx_count(f, "SELECT count(*) FROM ca_key_state"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test_setup_teardown(test_add_and_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_release_withdraw, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_downgrade_and_list, fx_setup, fx_teardown),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_range_parse),
		cmocka_unit_test(test_pace_bucket),
		cmocka_unit_test(test_rollout_window),
		cmocka_unit_test(test_rollout_windows),
		cmocka_unit_test_setup_teardown(test_rollout_tenants, fx_setup, fx_teardown),
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test_setup_teardown(test_ca_state, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_migration_carry_over, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
