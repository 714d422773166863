/*
 * verify.c: recomputing the admin log (audit_verify, audit_verify_tree): the hash chain,
 * the Merkle tree, the stored subtree nodes, and every signed tree head, naming the
 * first inconsistency. The streaming core (verifier_*) also checks exports (export.c).
 */
#include "audit/verify_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/tree.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_audit_verified.h"

void verifier_init(struct audit_verifier *v, struct audit_verify_result *res, EVP_PKEY *pub,
	struct tw_error *err)
{
	memset(v, 0, sizeof(*v));
	memset(res, 0, sizeof(*res));
	v->res = res;
	v->pub = pub;
	v->err = err;
	v->expect_seq = 1;
	v->rc = TW_OK;
	res->first_seq = 1;
	res->signatures_checked = pub != NULL;
	merkle_frontier_init(&v->fr);
}

void verifier_free(struct audit_verifier *v)
{
	free(v->heads);
	v->heads = NULL;
}

/* Record the first failure; later ones do not overwrite it. */
static int verifier_fail(struct audit_verifier *v, tw_rc rc, int64_t seq, int64_t head,
	const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int verifier_fail(struct audit_verifier *v, tw_rc rc, int64_t seq, int64_t head,
	const char *fmt, ...)
{
	va_list ap;

	if (v->failed)
		return 1;
	v->failed = true;
	v->rc = rc;
	v->res->first_bad_seq = seq;
	v->res->bad_head = head;
	va_start(ap, fmt);
	vsnprintf(v->res->reason, sizeof(v->res->reason), fmt, ap);
	va_end(ap);
	return 1;
}

tw_rc verifier_set_cut(struct audit_verifier *v, int64_t cut,
	const unsigned char chain_hash[32], const unsigned char (*hashes)[32])
{
	if (cut <= 0 || cut % AUDIT_TREE_CHUNK != 0)
		return tw_error_set(v->err, TW_E_INTEGRITY, "retention cut %lld is not a multiple "
			"of %lld", (long long)cut, (long long)AUDIT_TREE_CHUNK);
	v->fr.size = (uint64_t)cut;
	for (int l = 0; l < MERKLE_PATH_MAX; l++)
		if (((uint64_t)cut >> l) & 1)
			memcpy(v->fr.hash[l], hashes[l], 32);
	v->start_size = cut;
	v->expect_seq = cut + 1;
	v->res->first_seq = cut + 1;
	memcpy(v->expect_prev, chain_hash, 32);
	return TW_OK;
}

tw_rc verifier_set_resume(struct audit_verifier *v, int64_t size,
	const unsigned char chain_hash[32], const struct merkle_frontier *fr)
{
	if (size <= 0 || fr->size != (uint64_t)size)
		return tw_error_set(v->err, TW_E_INTERNAL, "verification position %lld does not "
			"match its frontier", (long long)size);
	v->fr = *fr;
	v->start_size = size;
	v->expect_seq = size + 1;
	v->res->first_seq = size + 1;
	v->resumed = true;
	memcpy(v->expect_prev, chain_hash, 32);
	return TW_OK;
}

tw_rc verifier_add_head(struct audit_verifier *v, const struct store_auditlog_head *h)
{
	struct store_auditlog_head *n;

	if (v->nheads > 0 && h->tree_size <= v->heads[v->nheads - 1].tree_size)
		return tw_error_set(v->err, TW_E_INVALID, "tree heads are not in ascending order "
			"(size %lld after %lld)", (long long)h->tree_size,
			(long long)v->heads[v->nheads - 1].tree_size);
	if (v->nheads == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;

		if (cap > SIZE_MAX / sizeof(*n) ||
		    (n = realloc(v->heads, cap * sizeof(*n))) == NULL)
			return tw_error_set(v->err, TW_E_NOMEM, "out of memory loading tree heads");
		v->heads = n;
		v->cap = cap;
	}
	v->heads[v->nheads++] = *h;
	return TW_OK;
}

/* Check every head whose size the tree has now reached. */
static int verifier_heads(struct audit_verifier *v)
{
	unsigned char root[32];
	struct tw_error e;

	while (v->next < v->nheads && v->heads[v->next].tree_size <= (int64_t)v->fr.size) {
		const struct store_auditlog_head *h = &v->heads[v->next++];

		if (h->tree_size < v->start_size) {
			/* below the cut: the archive proves it; below a verified position: an
			 * earlier pass did (a full pass checks it again) */
			if (v->resumed)
				v->res->heads_before_resume++;
			else
				v->res->heads_archived++;
			continue;
		}
		if (h->tree_size != (int64_t)v->fr.size)
			continue;   /* cannot happen: heads are checked as the tree grows */
		if ((v->rc = merkle_frontier_root(&v->fr, root, v->err)) != TW_OK)
			return verifier_fail(v, v->rc, 0, h->tree_size, "hashing failed");
		if (!tw_ct_equal(root, h->root, 32)) {
			if (h->tree_size == v->start_size && v->resumed)
				return verifier_fail(v, TW_E_INTEGRITY, 0, h->tree_size,
					"the remembered verification position does not match the "
					"signed head at size %lld (edited position or head); run a full "
					"pass", (long long)h->tree_size);
			if (h->tree_size == v->start_size)
				return verifier_fail(v, TW_E_INTEGRITY, 0, h->tree_size,
					"the stored subtree hashes at the retention cut do not match "
					"the signed head at size %lld", (long long)h->tree_size);
			return verifier_fail(v, TW_E_INTEGRITY, v->last_good_head + 1, h->tree_size,
				"entries %lld..%lld do not match the signed tree head at size %lld "
				"(rewritten log)", (long long)(v->last_good_head + 1),
				(long long)h->tree_size, (long long)h->tree_size);
		}
		if (v->pub != NULL && audit_head_verify(h, v->pub, &e) != TW_OK)
			return verifier_fail(v, TW_E_INTEGRITY, 0, h->tree_size, "%s", e.message);
		v->last_good_head = h->tree_size;
		v->good_fr = v->fr;
		memcpy(v->good_chain, v->expect_prev, 32);
		v->res->heads_checked++;
	}
	return 0;
}

static int verifier_node_cb(int level, uint64_t idx, const unsigned char hash[32], void *arg)
{
	struct audit_verifier *v = arg;
	unsigned char stored[32];
	bool found = false;

	if (level < AUDIT_TREE_LEVEL || v->node_store == NULL)
		return 0;
	if ((v->rc = store_auditlog_node_get(v->node_store, level, (int64_t)idx, stored, &found,
	    v->err)) != TW_OK)
		return 1;
	if (!found)
		return 0;   /* not stored yet (upgraded log): proofs derive it */
	v->res->nodes_checked++;
	if (!tw_ct_equal(stored, hash, 32)) {
		v->rc = TW_E_INTEGRITY;
		verifier_fail(v, TW_E_INTEGRITY, 0, 0, "stored tree node (level %d, index %llu) "
			"covering entries %llu..%llu does not match the entries", level,
			(unsigned long long)idx, (unsigned long long)(idx << level) + 1,
			(unsigned long long)((idx + 1) << level));
		return 1;
	}
	return 0;
}

int verifier_entry(struct audit_verifier *v, const struct store_audit_row *row)
{
	struct audit_verify_result *res = v->res;
	unsigned char h[32], leaf[32];
	tw_rc rc;

	if (v->failed)
		return 1;
	if (v->expect_seq == v->start_size + 1 && v->start_size == (int64_t)v->fr.size &&
	    verifier_heads(v))
		return 1;   /* a head exactly at the cut */
	if (row->seq != v->expect_seq) {
		if (v->expect_seq == v->start_size + 1)
			return verifier_fail(v, TW_E_INTEGRITY, v->expect_seq, 0,
				"sequence gap: the log starts at %lld, not %lld", (long long)row->seq,
				(long long)v->expect_seq);
		return verifier_fail(v, TW_E_INTEGRITY, v->expect_seq, 0,
			"sequence gap after %lld (next entry is %lld)",
			(long long)(v->expect_seq - 1), (long long)row->seq);
	}
	audit_row_hash(row, h);
	if (!tw_ct_equal(h, row->hash, sizeof(h)))
		return verifier_fail(v, TW_E_INTEGRITY, row->seq, 0,
			"hash mismatch: row content changed");
	if (!tw_ct_equal(row->prev_hash, v->expect_prev, sizeof(v->expect_prev))) {
		if (row->seq == 1)
			return verifier_fail(v, TW_E_INTEGRITY, row->seq, 0,
				"prev_hash of the first entry is not the genesis value (zeros)");
		return verifier_fail(v, TW_E_INTEGRITY, row->seq, 0,
			"prev_hash does not match entry %lld", (long long)(row->seq - 1));
	}
	if ((rc = audit_row_leaf_hash(row, leaf, v->err)) != TW_OK)
		return verifier_fail(v, rc, 0, 0, "%s", v->err ? v->err->message : "hash failed");
	if ((rc = merkle_frontier_push(&v->fr, leaf, verifier_node_cb, v, v->err)) != TW_OK) {
		if (!v->failed)
			verifier_fail(v, rc, 0, 0, "%s", v->err ? v->err->message : "tree failed");
		return 1;
	}
	memcpy(v->expect_prev, row->hash, sizeof(v->expect_prev));
	v->expect_seq++;
	res->entries++;
	return verifier_heads(v);
}

tw_rc verifier_finish(struct audit_verifier *v)
{
	struct audit_verify_result *res = v->res;

	/* A head exactly at the cut with no entry after it. */
	if (!v->failed && res->entries == 0)
		verifier_heads(v);
	if (!v->failed && v->next < v->nheads) {
		const struct store_auditlog_head *h = &v->heads[v->next];

		verifier_fail(v, TW_E_INTEGRITY, (int64_t)v->fr.size + 1, h->tree_size,
			"a signed tree head covers %lld entries but the log ends at %lld: entries "
			"%lld..%lld were removed (truncation)", (long long)h->tree_size,
			(long long)v->fr.size, (long long)v->fr.size + 1, (long long)h->tree_size);
	}
	res->tree_size = (int64_t)v->fr.size;
	if (merkle_frontier_root(&v->fr, res->root, NULL) != TW_OK)
		memset(res->root, 0, sizeof(res->root));
	if (!v->failed)
		return TW_OK;
	if (v->rc == TW_E_INTEGRITY) {
		if (res->first_bad_seq != 0)
			return tw_error_set(v->err, TW_E_INTEGRITY, "admin log entry %lld: %s",
				(long long)res->first_bad_seq, res->reason);
		return tw_error_set(v->err, TW_E_INTEGRITY, "admin log: %s", res->reason);
	}
	return v->rc;
}

/* ---- live ---- */

static int verify_head_cb(const struct store_auditlog_head *h, void *arg)
{
	struct audit_verifier *v = arg;

	return verifier_add_head(v, h) != TW_OK;
}

static int verify_row_cb(const struct store_audit_row *row, void *arg)
{
	return verifier_entry(arg, row);
}

/* Frontier at a cut: the stored perfect subtrees left of it, largest first. */
static tw_rc verify_load_cut(struct tw_store *store, struct audit_verifier *v,
	struct tw_error *err)
{
	struct store_auditlog_cut cut;
	unsigned char (*hashes)[32] = NULL;
	uint64_t start = 0;
	bool found = false;
	tw_rc rc;

	if ((rc = store_auditlog_cut_latest(store, &cut, &found, err)) != TW_OK || !found)
		return rc;
	if ((hashes = calloc(MERKLE_PATH_MAX, 32)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (int l = MERKLE_PATH_MAX - 2; l >= 0; l--) {
		if (!(((uint64_t)cut.cut_seq >> l) & 1))
			continue;
		if (l < AUDIT_TREE_LEVEL) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "retention cut %lld is not a multiple "
				"of %lld", (long long)cut.cut_seq, (long long)AUDIT_TREE_CHUNK);
			goto out;
		}
		if ((rc = store_auditlog_node_get(store, l, (int64_t)(start >> l), hashes[l],
		    &found, err)) != TW_OK)
			goto out;
		if (!found) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "tree node (level %d, index %llu) at "
				"the retention cut is missing: the log after the cut cannot be "
				"verified", l, (unsigned long long)(start >> l));
			goto out;
		}
		start += UINT64_C(1) << l;
	}
	rc = verifier_set_cut(v, cut.cut_seq, cut.chain_hash, (const unsigned char (*)[32])hashes);
out:
	free(hashes);
	return rc;
}

/* The entry at a verified position is only compared (its hash is already in the
 * frontier); every later one is verified. */
struct resume_feed {
	struct audit_verifier *v;
	bool anchor_seen;
};

static int verify_resume_row_cb(const struct store_audit_row *row, void *arg)
{
	struct resume_feed *f = arg;
	struct audit_verifier *v = f->v;
	unsigned char h[32];

	if (!f->anchor_seen) {
		if (row->seq != v->start_size)
			return verifier_fail(v, TW_E_INTEGRITY, v->start_size, 0, "entry %lld, the "
				"last one verified before, is missing", (long long)v->start_size);
		audit_row_hash(row, h);
		if (!tw_ct_equal(h, row->hash, 32) || !tw_ct_equal(row->hash, v->expect_prev, 32))
			return verifier_fail(v, TW_E_INTEGRITY, row->seq, 0, "entry %lld changed "
				"after it was verified", (long long)row->seq);
		f->anchor_seen = true;
		return 0;
	}
	return verifier_entry(v, row);
}

/* The frontier of a remembered position (smallest subtree first, one per set bit). */
static void position_to_frontier(const struct store_audit_verified *pos,
	struct merkle_frontier *fr)
{
	size_t i = 0;

	merkle_frontier_init(fr);
	fr->size = (uint64_t)pos->tree_size;
	for (int l = 0; l < MERKLE_PATH_MAX && i < pos->count; l++)
		if ((fr->size >> l) & 1)
			memcpy(fr->hash[l], pos->frontier[i++], 32);
}

static void frontier_to_position(const struct merkle_frontier *fr,
	const unsigned char chain[32], struct store_audit_verified *pos)
{
	memset(pos, 0, sizeof(*pos));
	pos->tree_size = (int64_t)fr->size;
	memcpy(pos->chain_hash, chain, 32);
	for (int l = 0; l < MERKLE_PATH_MAX && pos->count < STORE_AUDIT_FRONTIER_MAX; l++)
		if ((fr->size >> l) & 1)
			memcpy(pos->frontier[pos->count++], fr->hash[l], 32);
	pos->verified_ms = tw_now_ms();
}

/*
 * One pass: from the retention cut (or the start) when pos is NULL, else from pos. A
 * position below the latest retention cut cannot be continued: *pos_used tells the
 * caller whether it was.
 */
static tw_rc verify_run(struct tw_store *store, struct audit_verifier *v,
	const struct store_audit_verified *pos, bool *pos_used, struct tw_error *err)
{
	struct store_auditlog_cut cut;
	struct merkle_frontier fr;
	struct resume_feed feed = { v, false };
	bool snap = false, found = false;
	tw_rc rc;

	*pos_used = false;
	/* One snapshot for cut, heads, nodes and entries: a concurrent retention cut or
	 * append must not look like a gap. Inside a caller's transaction we already have one. */
	if (!store_in_transaction(store)) {
		if ((rc = store_auditlog_snapshot_begin(store, err)) != TW_OK)
			goto out;
		snap = true;
	}
	if (pos != NULL) {
		if ((rc = store_auditlog_cut_latest(store, &cut, &found, err)) != TW_OK)
			goto out;
		/* Entries up to and including the cut were archived and removed: a position
		 * at or below it (its own entry is gone) cannot be continued. */
		if (found && cut.cut_seq >= pos->tree_size)
			pos = NULL;
	}
	if (pos != NULL) {
		position_to_frontier(pos, &fr);
		if ((rc = verifier_set_resume(v, pos->tree_size, pos->chain_hash, &fr)) != TW_OK)
			goto out;
		*pos_used = true;
	} else if ((rc = verify_load_cut(store, v, err)) != TW_OK) {
		if (rc == TW_E_INTEGRITY)
			verifier_fail(v, rc, 0, 0, "%s", err != NULL ? err->message : "bad cut");
		goto out;
	}
	if ((rc = store_auditlog_head_foreach(store, verify_head_cb, v, err)) != TW_OK)
		goto out;
	if (v->nheads > 0 && v->heads[v->nheads - 1].tree_size > 0 && v->rc != TW_OK) {
		rc = v->rc;
		goto out;
	}
	if (v->resumed) {
		/* The signed head at the position first: it anchors the remembered frontier. */
		if (verifier_heads(v)) {
			rc = v->rc;
			goto out;
		}
		if (v->last_good_head != v->start_size) {
			verifier_fail(v, TW_E_INTEGRITY, 0, v->start_size, "the signed tree head at "
				"size %lld, where the last pass stopped, is gone (heads are never "
				"removed)", (long long)v->start_size);
			rc = v->rc;
			goto out;
		}
		rc = store_audit_foreach(store, v->start_size, verify_resume_row_cb, &feed, err);
		if (rc == TW_OK && !feed.anchor_seen && !v->failed)
			verifier_fail(v, TW_E_INTEGRITY, v->start_size, 0, "entry %lld, the last one "
				"verified before, is missing", (long long)v->start_size);
	} else {
		rc = store_audit_foreach(store, v->expect_seq, verify_row_cb, v, err);
	}
	if (rc == TW_E_INTEGRITY && !v->failed) {
		/* A row the store could not even read (wrong hash length, over-long field):
		 * it is the one after the last good entry. */
		verifier_fail(v, rc, v->expect_seq, 0, "%s",
			err != NULL ? err->message : "unreadable entry");
		goto out;
	}
	if (rc != TW_OK)
		goto out;
	rc = verifier_finish(v);
out:
	if (snap)
		store_auditlog_snapshot_end(store);
	if (rc == TW_OK && v->failed)
		rc = v->rc;
	return rc;
}

tw_rc audit_verify_tree(struct tw_store *store, EVP_PKEY *pub, struct audit_verify_result *res,
	struct tw_error *err)
{
	struct audit_verifier v;
	bool used;
	tw_rc rc;

	if (res == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "audit_verify: res is NULL");
	verifier_init(&v, res, pub, err);
	v.node_store = store;
	rc = verify_run(store, &v, NULL, &used, err);
	verifier_free(&v);
	return rc;
}

tw_rc audit_verify_incremental(struct tw_store *store, EVP_PKEY *pub, const char *name,
	bool full, struct audit_verify_result *res, struct tw_error *err)
{
	struct store_audit_verified *pos = NULL, *next = NULL;
	struct audit_verifier v;
	struct tw_error e;
	bool found = false, used = false;
	tw_rc rc;

	if (res == NULL || name == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "audit_verify_incremental: NULL argument");
	verifier_init(&v, res, pub, err);
	v.node_store = store;
	/* ~2 KB each: not on the worker's stack. */
	if ((pos = calloc(1, sizeof(*pos))) == NULL || (next = calloc(1, sizeof(*next))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!full) {
		rc = store_audit_verified_get(store, name, pos, &found, err);
		if (rc == TW_E_INTEGRITY) {
			tw_warn("%s; verifying the whole admin log", err->message);
			found = false;
		} else if (rc != TW_OK) {
			goto out;
		}
	}
	rc = verify_run(store, &v, found ? pos : NULL, &used, err);
	if (rc != TW_OK)
		goto out;
	res->resumed_at = used ? pos->tree_size : 0;
	/* Move the position to the last signed head reached (never backwards). */
	if (v.last_good_head > (used ? pos->tree_size : 0) &&
	    (!found || v.last_good_head > pos->tree_size)) {
		frontier_to_position(&v.good_fr, v.good_chain, next);
		if (store_audit_verified_put(store, name, next, &e) == TW_OK)
			res->verified_to = next->tree_size;
		else
			tw_warn("admin log verified, but its position could not be saved: %s",
				e.message);
	}
out:
	verifier_free(&v);
	free(pos);
	free(next);
	return rc;
}

tw_rc audit_verify(struct tw_store *store, struct audit_verify_result *res,
	struct tw_error *err)
{
	return audit_verify_tree(store, NULL, res, err);
}
