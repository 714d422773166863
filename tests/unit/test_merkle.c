/*
 * test_merkle.c: the Merkle admin log (issue 5): RFC 9162 tree hashes against known
 * answers and a naive reference, every inclusion/consistency proof of small trees,
 * store-backed nodes and proofs, signed heads (truncation, rewriting, bad signatures),
 * exports verified offline, retention cuts, error codes, reads, syslog frames, proof
 * documents and alerts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "audit/export.h"
#include "audit/merkle.h"
#include "audit/proof.h"
#include "audit/service.h"
#include "audit/ship.h"
#include "audit/tree.h"
#include "base/util.h"
#include "store/store.h"
#include "store/store_auditlog.h"

/* ---- pure tree ---- */

static void leaf_of(uint64_t i, unsigned char out[32])
{
	unsigned char b[8];

	for (int k = 0; k < 8; k++)
		b[k] = (unsigned char)(i >> (8 * k));
	assert_int_equal(merkle_leaf_hash(b, sizeof(b), out, NULL), TW_OK);
}

/* RFC 9162 2.1.1 literally, recursive, as the reference. */
static void naive_mth(uint64_t begin, uint64_t end, unsigned char out[32])
{
	unsigned char l[32], r[32];
	uint64_t k;

	if (end - begin == 1) {
		leaf_of(begin, out);
		return;
	}
	k = merkle_split(end - begin);
	naive_mth(begin, begin + k, l);
	naive_mth(begin + k, end, r);
	assert_int_equal(merkle_node_hash(l, r, out, NULL), TW_OK);
}

static tw_rc naive_subtree(void *arg, int level, uint64_t idx, unsigned char out[32],
	struct tw_error *err)
{
	(void)arg;
	(void)err;
	naive_mth(idx << level, (idx + 1) << level, out);
	return TW_OK;
}

static void hex32(const char *hex, unsigned char out[32])
{
	assert_int_equal(tw_hex_decode(hex, out, 32, NULL), TW_OK);
}

/* The Certificate Transparency reference vectors (RFC 6962 = RFC 9162 hashing). */
static void test_known_roots(void **state)
{
	static const char *const leaves[] = { "", "00", "10", "2021", "3031", "40414243",
		"5051525354555657", "606162636465666768696a6b6c6d6e6f" };
	static const char *const roots[] = {
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	};
	struct merkle_frontier f;
	unsigned char data[16], leaf[32], root[32], want[32];

	(void)state;
	merkle_frontier_init(&f);
	assert_int_equal(merkle_frontier_root(&f, root, NULL), TW_OK);
	hex32("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
	assert_memory_equal(root, want, 32);
	for (size_t i = 0; i < 8; i++) {
		size_t n = strlen(leaves[i]) / 2;

		if (n > 0)
			assert_int_equal(tw_hex_decode(leaves[i], data, n, NULL), TW_OK);
		assert_int_equal(merkle_leaf_hash(data, n, leaf, NULL), TW_OK);
		assert_int_equal(merkle_frontier_push(&f, leaf, NULL, NULL, NULL), TW_OK);
		assert_int_equal(merkle_frontier_root(&f, root, NULL), TW_OK);
		hex32(roots[i], want);
		assert_memory_equal(root, want, 32);
	}
}

static void test_all_small_proofs(void **state)
{
	struct merkle_proof p;
	struct merkle_frontier f;
	unsigned char roots[80][32], leaf[32];
	struct tw_error err;
	uint64_t n, m;

	(void)state;
	merkle_frontier_init(&f);
	for (n = 1; n < 80; n++) {
		leaf_of(n - 1, leaf);
		assert_int_equal(merkle_frontier_push(&f, leaf, NULL, NULL, &err), TW_OK);
		assert_int_equal(merkle_frontier_root(&f, roots[n], &err), TW_OK);
		naive_mth(0, n, leaf);
		assert_memory_equal(leaf, roots[n], 32);
	}
	for (n = 1; n < 80; n++) {
		for (m = 0; m < n; m++) {
			leaf_of(m, leaf);
			assert_int_equal(merkle_inclusion_proof(naive_subtree, NULL, m, n, &p, &err),
				TW_OK);
			assert_int_equal(merkle_verify_inclusion(m, n, leaf, &p, roots[n], &err), TW_OK);
			/* wrong index, wrong root, a flipped path byte: all refused */
			if (n > 1) {
				assert_int_equal(merkle_verify_inclusion((m + 1) % n, n, leaf, &p, roots[n],
					&err), TW_E_INTEGRITY);
				p.hash[0][5] ^= 1;
				assert_int_equal(merkle_verify_inclusion(m, n, leaf, &p, roots[n], &err),
					TW_E_INTEGRITY);
			}
			assert_int_equal(merkle_verify_inclusion(m, n, leaf, &p, roots[n == 1 ? 2 : 1],
				&err), TW_E_INTEGRITY);
		}
		for (m = 1; m <= n; m++) {
			assert_int_equal(merkle_consistency_proof(naive_subtree, NULL, m, n, &p, &err),
				TW_OK);
			assert_int_equal(merkle_verify_consistency(m, n, roots[m], roots[n], &p, &err),
				TW_OK);
			if (m < n) {
				assert_int_equal(merkle_verify_consistency(m, n, roots[m], roots[n - 1], &p,
					&err), TW_E_INTEGRITY);
				p.hash[p.count - 1][0] ^= 0x80;
				assert_int_equal(merkle_verify_consistency(m, n, roots[m], roots[n], &p,
					&err), TW_E_INTEGRITY);
			}
		}
	}
}

/* ---- store-backed ---- */

struct fixture {
	char dir[64];
	char path[128];
	struct tw_store *st;
	EVP_PKEY *key;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tw_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tw-merkle-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	assert_int_equal(store_open(f->path, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	f->key = EVP_EC_gen("brainpoolP256r1");
	assert_non_null(f->key);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	store_close(f->st);
	EVP_PKEY_free(f->key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int raw_exec(const struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void append_n(struct tw_store *st, int n)
{
	struct audit_entry e[64];
	char detail[64][32];
	struct tw_error err;
	int done = 0;

	while (done < n) {
		int k = n - done > 64 ? 64 : n - done;

		for (int i = 0; i < k; i++) {
			snprintf(detail[i], sizeof(detail[i]), "entry %d", done + i);
			memset(&e[i], 0, sizeof(e[i]));
			e[i].actor = "alice";
			e[i].role = "ca-operator";
			e[i].client = "192.0.2.1";
			e[i].action = "test.append";
			e[i].object = "obj";
			e[i].result = (done + i) % 7 ? "ok" : "error";
			e[i].error_code = (done + i) % 7 ? NULL : "TW_E_DENIED";
			e[i].detail = detail[i];
		}
		if (audit_append_batch(st, e, (size_t)k, &err) != TW_OK)
			fail_msg("append: %s", err.message);
		done += k;
	}
}

/* A head signed with the fixture's key, the way the signer would sign it. */
static void put_head(struct fixture *f, int64_t size)
{
	struct store_auditlog_head h;
	unsigned char tbs[AUDIT_HEAD_TBS_LEN];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct tw_error err;

	memset(&h, 0, sizeof(h));
	h.tree_size = size;
	h.time_ms = tw_now_ms();
	snprintf(h.key_label, sizeof(h.key_label), "gwa-sig");
	assert_int_equal(audit_tree_root(f->st, size, h.root, &err), TW_OK);
	audit_head_tbs(h.tree_size, h.time_ms, h.root, tbs);
	h.sig_len = sizeof(h.sig);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, f->key), 1);
	assert_int_equal(EVP_DigestSign(ctx, h.sig, &h.sig_len, tbs, sizeof(tbs)), 1);
	EVP_MD_CTX_free(ctx);
	assert_int_equal(store_auditlog_head_insert(f->st, &h, &err), TW_OK);
}

static void test_store_tree(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct merkle_proof p;
	unsigned char root[32], r2[32], leaf[32];
	struct tw_error err;
	int64_t max_idx;

	append_n(f->st, 1000);
	assert_int_equal(store_auditlog_node_max(f->st, 8, &max_idx, &err), TW_OK);
	assert_int_equal(max_idx, 2);   /* chunks 0, 1, 2 complete at 768 */
	assert_int_equal(store_auditlog_node_max(f->st, 9, &max_idx, &err), TW_OK);
	assert_int_equal(max_idx, 0);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_OK);
	assert_int_equal(res.entries, 1000);
	assert_int_equal(res.nodes_checked, 4);
	assert_int_equal(audit_tree_root(f->st, 1000, root, &err), TW_OK);
	assert_memory_equal(root, res.root, 32);
	for (int64_t seq = 1; seq <= 1000; seq += 111) {
		assert_int_equal(audit_tree_inclusion(f->st, seq, 1000, leaf, &p, &err), TW_OK);
		assert_int_equal(merkle_verify_inclusion((uint64_t)seq - 1, 1000, leaf, &p, root,
			&err), TW_OK);
	}
	assert_int_equal(audit_tree_root(f->st, 300, r2, &err), TW_OK);
	assert_int_equal(audit_tree_consistency(f->st, 300, 1000, &p, &err), TW_OK);
	assert_int_equal(merkle_verify_consistency(300, 1000, r2, root, &p, &err), TW_OK);
	assert_int_equal(audit_tree_inclusion(f->st, 1001, 1000, leaf, &p, &err), TW_E_INVALID);
	assert_int_equal(audit_tree_inclusion(f->st, 5, 1001, leaf, &p, &err), TW_E_INVALID);

	/* A forged stored node is named. */
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_node_no_change; UPDATE "
		"admin_log_node SET hash = zeroblob(32) WHERE level = 8 AND idx = 1"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_non_null(strstr(res.reason, "level 8, index 1"));
}

static void test_heads(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	EVP_PKEY *other = EVP_EC_gen("brainpoolP256r1");

	append_n(f->st, 300);
	put_head(f, 100);
	put_head(f, 300);
	assert_int_equal(audit_verify_tree(f->st, f->key, &res, &err), TW_OK);
	assert_int_equal(res.heads_checked, 2);
	assert_int_equal(res.signatures_checked, 1);
	/* a different key: the first head's signature fails */
	assert_int_equal(audit_verify_tree(f->st, other, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.bad_head, 100);
	EVP_PKEY_free(other);

	/* Truncation: the chain alone cannot see it, the head at 300 does. */
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_delete; "
		"DELETE FROM admin_log WHERE seq > 250"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 251);
	assert_non_null(strstr(res.reason, "truncation"));
}

/* Rewrite entry 150 and recompute every later chain hash: the signed head catches it. */
static void test_rewrite(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;
	sqlite3 *db = NULL;
	sqlite3_stmt *sel = NULL, *upd = NULL;
	struct store_audit_row row;
	unsigned char prev[32];

	append_n(f->st, 200);
	put_head(f, 100);
	put_head(f, 200);
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; UPDATE admin_log SET "
		"detail = 'forged' WHERE seq = 150"), SQLITE_OK);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, time, actor, role, client, action, "
		"object, result, detail, error_code, prev_hash FROM admin_log WHERE seq >= 150 "
		"ORDER BY seq", -1, &sel, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "UPDATE admin_log SET prev_hash = ?1, hash = ?2 "
		"WHERE seq = ?3", -1, &upd, NULL), SQLITE_OK);
	memset(prev, 0, 32);
	while (sqlite3_step(sel) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		row.seq = sqlite3_column_int64(sel, 0);
#define COPY(i, m) snprintf(row.m, sizeof(row.m), "%s", (const char *)sqlite3_column_text(sel, i))
		COPY(1, time); COPY(2, actor); COPY(3, role); COPY(4, client); COPY(5, action);
		COPY(6, object); COPY(7, result); COPY(8, detail); COPY(9, error_code);
#undef COPY
		if (row.seq == 150)
			memcpy(prev, sqlite3_column_blob(sel, 10), 32);
		memcpy(row.prev_hash, prev, 32);
		audit_row_hash(&row, row.hash);
		sqlite3_bind_blob(upd, 1, row.prev_hash, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(upd, 2, row.hash, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 3, row.seq);
		assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
		sqlite3_reset(upd);
		memcpy(prev, row.hash, 32);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_close(db);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 101);
	assert_int_equal(res.bad_head, 200);
	assert_non_null(strstr(res.reason, "101..200"));
}

/*
 * Incremental verification (issue 10): the worker continues from the last signed head
 * it verified. Tampering after that position is found by the incremental pass, tampering
 * before it by the full pass (which the incremental pass by design does not repeat).
 */
static void test_incremental(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 300);
	put_head(f, 100);
	put_head(f, 200);
	/* No position yet: a full pass, remembering the last head. */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 0);
	assert_int_equal(res.entries, 300);
	assert_int_equal(res.verified_to, 200);
	/* Next pass: only what came after entry 200. */
	append_n(f->st, 100);
	put_head(f, 384);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 200);
	assert_int_equal(res.entries, 200);
	assert_int_equal(res.heads_checked, 2);        /* 200 (the anchor) and 384 */
	assert_int_equal(res.heads_before_resume, 1);  /* 100 */
	assert_int_equal(res.tree_size, 400);
	assert_int_equal(res.verified_to, 384);
	/* Nothing new: same position. */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 384);
	assert_int_equal(res.entries, 16);
	assert_int_equal(res.verified_to, 0);

	/* Tampering after the position: the incremental pass finds it. */
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; UPDATE admin_log SET "
		"detail = 'forged' WHERE seq = 390"), SQLITE_OK);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err),
		TW_E_INTEGRITY);
	assert_int_equal(res.resumed_at, 0);   /* set only for an intact pass */
	assert_int_equal(res.first_bad_seq, 390);

	/* Tampering before the position: not re-read by the incremental pass, found by the
	 * full pass (the worker's scheduled one, `torwart audit verify`). */
	assert_int_equal(raw_exec(f, "UPDATE admin_log SET detail = (SELECT detail FROM "
		"admin_log WHERE seq = 389) WHERE seq = 390"), SQLITE_OK);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);   /* 390 differs */
	assert_int_equal(res.first_bad_seq, 390);
}

/* Second half: a clean log, position at 200, then tamper below it / at it / the position. */
static void test_incremental_before_position(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 300);
	put_head(f, 100);
	put_head(f, 200);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", true, &res, &err), TW_OK);
	assert_int_equal(res.verified_to, 200);
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; UPDATE admin_log SET "
		"detail = 'forged' WHERE seq = 150"), SQLITE_OK);
	/* The incremental pass starts after 200 and does not see it (documented) ... */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 200);
	/* ... the full pass does, on demand or on its schedule. */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", true, &res, &err),
		TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 150);
	assert_int_equal(audit_verify(f->st, &res, &err), TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 150);
}

/* The position itself is checked before it is used. */
static void test_incremental_position_checked(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct tw_error err;

	append_n(f->st, 300);
	put_head(f, 200);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.verified_to, 200);
	/* A forged frontier (200 = 128 + 64 + 8: three subtrees) does not match the head. */
	assert_int_equal(raw_exec(f, "UPDATE admin_log_verified SET frontier = zeroblob(96)"),
		SQLITE_OK);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err),
		TW_E_INTEGRITY);
	assert_non_null(strstr(res.reason, "verification position"));
	/* A malformed one is ignored: full pass, which finds the log intact and repairs it. */
	assert_int_equal(raw_exec(f, "UPDATE admin_log_verified SET frontier = zeroblob(32)"),
		SQLITE_OK);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 0);
	assert_int_equal(res.verified_to, 200);
	/* The entry at the position changed. */
	assert_int_equal(raw_exec(f, "DROP TRIGGER admin_log_no_update; UPDATE admin_log SET "
		"detail = 'forged' WHERE seq = 200"), SQLITE_OK);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err),
		TW_E_INTEGRITY);
	assert_int_equal(res.first_bad_seq, 200);
}

static void write_pem_cert(struct fixture *f, char *path, size_t size);

static void test_export_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct audit_verify_result res;
	struct audit_export_stats st;
	struct tw_error err;
	char out[192], cert[192], cmd[512];
	FILE *in;
	int embedded = 0;

	append_n(f->st, 600);
	put_head(f, 256);
	put_head(f, 600);
	write_pem_cert(f, cert, sizeof(cert));
	snprintf(out, sizeof(out), "%s/export.jsonl", f->dir);
	assert_int_equal(audit_export_write(f->st, out, cert, 0, &st, &err), TW_OK);
	assert_int_equal(st.entries, 600);
	assert_int_equal(st.heads, 2);
	assert_int_equal(audit_export_write(f->st, out, cert, 0, &st, &err), TW_E_EXISTS);
	assert_non_null(in = fopen(out, "r"));
	assert_int_equal(audit_export_verify(in, NULL, &res, &embedded, &err), TW_OK);
	fclose(in);
	assert_int_equal(embedded, 1);
	assert_int_equal(res.heads_checked, 2);
	assert_int_equal(res.entries, 600);

	/* Edit one entry in the file: named. Drop the tail: truncation named. */
	snprintf(cmd, sizeof(cmd), "sed -i 's/\"entry 417\"/\"entry 4l7\"/' '%s'", out);
	assert_int_equal(system(cmd), 0);
	assert_non_null(in = fopen(out, "r"));
	assert_int_equal(audit_export_verify(in, f->key, &res, NULL, &err), TW_E_INTEGRITY);
	fclose(in);
	assert_int_equal(res.first_bad_seq, 418);
	snprintf(cmd, sizeof(cmd), "sed -i 's/\"entry 4l7\"/\"entry 417\"/; /\"seq\":59[0-9]/d; "
		"/\"seq\":600/d' '%s'", out);
	assert_int_equal(system(cmd), 0);
	assert_non_null(in = fopen(out, "r"));
	assert_int_equal(audit_export_verify(in, f->key, &res, NULL, &err), TW_E_INTEGRITY);
	fclose(in);
	assert_int_equal(res.first_bad_seq, 590);
	assert_non_null(strstr(res.reason, "truncation"));
	/* Garbage is a format error naming the line. */
	snprintf(cmd, sizeof(cmd), "echo '{\"type\":\"entry\",\"seq\":\"x\"}' >> '%s'", out);
	assert_int_equal(system(cmd), 0);
	assert_non_null(in = fopen(out, "r"));
	assert_int_equal(audit_export_verify(in, f->key, &res, NULL, &err), TW_E_INVALID);
	fclose(in);
	assert_non_null(strstr(err.message, "line"));
}

static void write_pem_cert(struct fixture *f, char *path, size_t size)
{
	X509 *x = X509_new();
	FILE *o;

	snprintf(path, size, "%s/gwa-sig.crt", f->dir);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)"test gwa-sig", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, f->key);
	assert_true(X509_sign(x, f->key, EVP_sha256()) > 0);
	assert_non_null(o = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(o, x), 1);
	fclose(o);
	X509_free(x);
}

static void test_retention(void **state)
{
	struct fixture *f = *state;
	struct audit_retention_result rr;
	struct audit_verify_result res;
	struct merkle_proof p;
	unsigned char leaf[32], root[32];
	struct tw_error err;
	char dir[160], cert[192];
	FILE *in;

	append_n(f->st, 700);
	put_head(f, 300);
	put_head(f, 512);   /* the head at the cut (the signer would be asked otherwise) */
	/* The worker's incremental verification stands at 512, where the cut will be. */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.verified_to, 512);
	write_pem_cert(f, cert, sizeof(cert));
	snprintf(dir, sizeof(dir), "%s/archive", f->dir);
	assert_int_equal(audit_retention_run(f->st, NULL, dir, cert, 600, &rr, &err), TW_OK);
	assert_int_equal(rr.cut_seq, 512);
	assert_int_equal(rr.entries, 512);
	put_head(f, 701);   /* 700 + the retention entry */
	/* Entry 512 was archived with the cut: the next pass starts from the cut instead. */
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 0);
	assert_int_equal(res.verified_to, 701);
	assert_int_equal(audit_verify_incremental(f->st, NULL, "t", false, &res, &err), TW_OK);
	assert_int_equal(res.resumed_at, 701);
	assert_int_equal(audit_verify_tree(f->st, f->key, &res, &err), TW_OK);
	assert_int_equal(res.first_seq, 513);
	assert_int_equal(res.entries, 189);
	assert_int_equal(res.heads_archived, 1);
	assert_int_equal(res.heads_checked, 2);
	/* Proofs for what remains still work; archived entries are gone. */
	assert_int_equal(audit_tree_root(f->st, 701, root, &err), TW_OK);
	assert_int_equal(audit_tree_inclusion(f->st, 600, 701, leaf, &p, &err), TW_OK);
	assert_int_equal(merkle_verify_inclusion(599, 701, leaf, &p, root, &err), TW_OK);
	assert_int_equal(audit_tree_inclusion(f->st, 5, 701, leaf, &p, &err), TW_E_NOT_FOUND);
	/* The archive verifies on its own, with the signature. */
	assert_non_null(in = fopen(rr.archive, "r"));
	assert_int_equal(audit_export_verify(in, f->key, &res, NULL, &err), TW_OK);
	fclose(in);
	assert_int_equal(res.tree_size, 512);
	/* Deleting above the cut is still refused; a second run with nothing due is a no-op. */
	assert_int_not_equal(raw_exec(f, "DELETE FROM admin_log WHERE seq = 600"), SQLITE_OK);
	assert_int_equal(audit_retention_run(f->st, NULL, dir, cert, 600, &rr, &err), TW_OK);
	assert_int_equal(rr.cut_seq, 0);
	/* An export of the remaining log verifies offline from the cut. */
	snprintf(dir, sizeof(dir), "%s/rest.jsonl", f->dir);
	{
		struct audit_export_stats st;

		assert_int_equal(audit_export_write(f->st, dir, cert, 0, &st, &err), TW_OK);
		assert_non_null(in = fopen(dir, "r"));
		assert_int_equal(audit_export_verify(in, f->key, &res, NULL, &err), TW_OK);
		fclose(in);
		assert_int_equal(res.first_seq, 513);
	}
}

static void test_error_code_read_alert(void **state)
{
	struct fixture *f = *state;
	struct store_audit_row last;
	struct store_alert a[4];
	struct tw_error err;
	unsigned char h1[32], h2[32];
	size_t n;
	bool found;

	/* The error code is part of the hash, but only when set. */
	memset(&last, 0, sizeof(last));
	last.seq = 7;
	audit_row_hash(&last, h1);
	snprintf(last.error_code, sizeof(last.error_code), "TW_E_DENIED");
	audit_row_hash(&last, h2);
	assert_memory_not_equal(h1, h2, 32);

	assert_int_equal(audit_read(f->st, "eve", "auditor", "192.0.2.9", "gateway-data",
		"ETWA01", &err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_string_equal(last.action, "read.gateway-data");
	assert_string_equal(last.role, "auditor");
	assert_int_equal(audit_read(f->st, "eve", "auditor", "x", "", "o", &err), TW_E_INVALID);

	assert_int_equal(alert_raise(f->st, ALERT_BREAK_GLASS, NULL, "root", "break-glass used",
		&err), TW_OK);
	assert_int_equal(store_audit_last(f->st, &last, &found, &err), TW_OK);
	assert_string_equal(last.action, "alert.break-glass");
	assert_int_equal(store_alert_due(f->st, tw_now_ms() + 1, a, 4, &n, &err), TW_OK);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].role, "security-officer");
	assert_int_equal(store_alert_update(f->st, a[0].id, 1, 0, tw_now_ms(), "", &err), TW_OK);
	assert_int_equal(store_alert_due(f->st, tw_now_ms() + 1, a, 4, &n, &err), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(alert_raise(f->st, (enum alert_kind)99, NULL, "x", "y", &err), TW_E_INVALID);
}

static void test_syslog_frame(void **state)
{
	struct store_audit_row row;
	char out[4096];
	size_t len;
	const char *sp;
	struct tw_error err;

	(void)state;
	memset(&row, 0, sizeof(row));
	row.seq = 42;
	snprintf(row.time, sizeof(row.time), "2026-11-24T06:51:41.123Z");
	snprintf(row.actor, sizeof(row.actor), "mal\"lory]\\");
	snprintf(row.action, sizeof(row.action), "gateway add");
	snprintf(row.result, sizeof(row.result), "refused");
	snprintf(row.detail, sizeof(row.detail), "why");
	assert_int_equal(audit_syslog_frame(&row, "gwa.example", out, sizeof(out), &len, &err),
		TW_OK);
	sp = strchr(out, ' ');
	assert_non_null(sp);
	assert_int_equal(strtol(out, NULL, 10), (long)(len - (size_t)(sp + 1 - out)));
	assert_non_null(strstr(out, "<108>1 2026-11-24T06:51:41.123Z gwa.example torwart - "
		"gateway_add [torwart@32473 seq=\"42\" actor=\"mal\\\"lory\\]\\\\\""));
	assert_non_null(strstr(out, "] why"));
	assert_int_equal(audit_syslog_frame(&row, "h", out, 64, &len, &err), TW_E_TOO_LARGE);
}

static void test_proof_doc(void **state)
{
	struct audit_proof_doc d, d2;
	char buf[AUDIT_PROOF_MAX];
	struct tw_error err;
	FILE *m;
	size_t len;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.tree_size = 5;
	d.leaf_index = 2;
	leaf_of(2, d.leaf_hash);
	assert_int_equal(merkle_inclusion_proof(naive_subtree, NULL, 2, 5, &d.path, &err), TW_OK);
	naive_mth(0, 5, d.root);
	assert_non_null(m = fmemopen(buf, sizeof(buf), "w"));
	assert_int_equal(audit_proof_write(&d, m, &err), TW_OK);
	len = (size_t)ftell(m);
	fclose(m);
	assert_int_equal(audit_proof_parse(buf, len, &d2, &err), TW_OK);
	assert_int_equal(audit_proof_check(&d2, NULL, &err), TW_OK);
	buf[len - 3] = buf[len - 3] == '0' ? '1' : '0';   /* flip the last path hash */
	assert_int_equal(audit_proof_parse(buf, len, &d2, &err), TW_OK);
	assert_int_equal(audit_proof_check(&d2, NULL, &err), TW_E_INTEGRITY);
	assert_int_equal(audit_proof_parse("torwart-proof 1\ntype inclusion\n", 31, &d2, &err),
		TW_E_INVALID);
	assert_int_equal(audit_proof_parse("torwart-proof 1\nroot 00\n", 24, &d2, &err),
		TW_E_INVALID);
	assert_int_equal(audit_proof_parse("nonsense", 8, &d2, &err), TW_E_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_roots),
		cmocka_unit_test(test_all_small_proofs),
		cmocka_unit_test(test_syslog_frame),
		cmocka_unit_test(test_proof_doc),
		cmocka_unit_test_setup_teardown(test_store_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental_before_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incremental_position_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_code_read_alert, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
