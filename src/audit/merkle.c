/*
 * merkle.c: RFC 9162 tree hashing, proofs and proof verification (merkle.h). Pure
 * computation: the hashes of complete subtrees come from a callback, so the same code
 * serves the store (nodes + entries), exports and tests.
 */
#include "audit/merkle.h"

#include <string.h>

#include <openssl/evp.h>

#include "base/util.h"

static tw_rc merkle_hash2(unsigned char prefix, const unsigned char *a, size_t alen,
	const unsigned char *b, size_t blen, unsigned char out[32], struct tw_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outlen = 0;
	tw_rc rc = TW_OK;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) {
		memset(out, 0, 32);
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 of a Merkle tree node failed");
	}
	EVP_MD_CTX_free(ctx);
	return rc;
}

tw_rc merkle_leaf_hash(const unsigned char *data, size_t len, unsigned char out[32],
	struct tw_error *err)
{
	return merkle_hash2(0x00, data, len, NULL, 0, out, err);
}

tw_rc merkle_node_hash(const unsigned char left[32], const unsigned char right[32],
	unsigned char out[32], struct tw_error *err)
{
	unsigned char tmp[32];
	tw_rc rc;

	/* out may alias left or right (fold loops do that). */
	rc = merkle_hash2(0x01, left, 32, right, 32, tmp, err);
	memcpy(out, tmp, 32);
	return rc;
}

uint64_t merkle_split(uint64_t n)
{
	uint64_t k = 1;

	while ((k << 1) < n)
		k <<= 1;
	return k;
}

void merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

tw_rc merkle_frontier_push(struct merkle_frontier *f, const unsigned char leaf[32],
	merkle_node_cb cb, void *arg, struct tw_error *err)
{
	unsigned char h[32];
	int level = 0;
	tw_rc rc;

	if (f->size >= (UINT64_C(1) << 62))
		return tw_error_set(err, TW_E_TOO_LARGE, "Merkle tree is full");
	memcpy(h, leaf, 32);
	/* Each set low bit is a perfect subtree of the same size to our left: merge. */
	while ((f->size >> level) & 1) {
		if ((rc = merkle_node_hash(f->hash[level], h, h, err)) != TW_OK)
			return rc;
		level++;
		if (cb != NULL && cb(level, (f->size + 1) / (UINT64_C(1) << level) - 1, h, arg))
			return tw_error_set(err, TW_E_INTEGRITY, "stored tree node (%d, %llu) does "
				"not match the entries", level,
				(unsigned long long)((f->size + 1) / (UINT64_C(1) << level) - 1));
	}
	memcpy(f->hash[level], h, 32);
	f->size++;
	return TW_OK;
}

tw_rc merkle_frontier_root(const struct merkle_frontier *f, unsigned char out[32],
	struct tw_error *err)
{
	bool have = false;
	tw_rc rc;

	if (f->size == 0) {
		/* RFC 9162: MTH({}) = SHA-256() */
		if (EVP_Digest("", 0, out, NULL, EVP_sha256(), NULL) != 1)
			return tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
		return TW_OK;
	}
	/* Right fold from the smallest subtree: MTH = H(big || H(next || ... small)). */
	for (int level = 0; level < MERKLE_PATH_MAX; level++) {
		if (!((f->size >> level) & 1))
			continue;
		if (!have) {
			memcpy(out, f->hash[level], 32);
			have = true;
		} else if ((rc = merkle_node_hash(f->hash[level], out, out, err)) != TW_OK) {
			return rc;
		}
	}
	return TW_OK;
}

static bool merkle_is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

static int merkle_log2(uint64_t n)
{
	int l = 0;

	while ((UINT64_C(1) << l) < n)
		l++;
	return l;
}

tw_rc merkle_range_hash(merkle_subtree_fn fn, void *arg, uint64_t begin, uint64_t end,
	unsigned char out[32], struct tw_error *err)
{
	unsigned char l[32], r[32];
	uint64_t n = end - begin, k;
	tw_rc rc;

	if (end <= begin)
		return tw_error_set(err, TW_E_INTERNAL, "empty Merkle range [%llu, %llu)",
			(unsigned long long)begin, (unsigned long long)end);
	if (merkle_is_pow2(n) && (begin & (n - 1)) == 0)
		return fn(arg, merkle_log2(n), begin >> merkle_log2(n), out, err);
	k = merkle_split(n);
	if ((rc = merkle_range_hash(fn, arg, begin, begin + k, l, err)) != TW_OK ||
	    (rc = merkle_range_hash(fn, arg, begin + k, end, r, err)) != TW_OK)
		return rc;
	return merkle_node_hash(l, r, out, err);
}

static tw_rc merkle_proof_add(merkle_subtree_fn fn, void *arg, uint64_t begin, uint64_t end,
	struct merkle_proof *out, struct tw_error *err)
{
	if (out->count >= MERKLE_PATH_MAX)
		return tw_error_set(err, TW_E_INTERNAL, "Merkle proof longer than %d hashes",
			MERKLE_PATH_MAX);
	return merkle_range_hash(fn, arg, begin, end, out->hash[out->count++], err);
}

/* PATH(m, D[off, off + n)): deeper siblings first, as RFC 9162 lists them. */
static tw_rc merkle_path(merkle_subtree_fn fn, void *arg, uint64_t off, uint64_t m, uint64_t n,
	struct merkle_proof *out, struct tw_error *err)
{
	uint64_t k;
	tw_rc rc;

	if (n <= 1)
		return TW_OK;
	k = merkle_split(n);
	if (m < k) {
		if ((rc = merkle_path(fn, arg, off, m, k, out, err)) != TW_OK)
			return rc;
		return merkle_proof_add(fn, arg, off + k, off + n, out, err);
	}
	if ((rc = merkle_path(fn, arg, off + k, m - k, n - k, out, err)) != TW_OK)
		return rc;
	return merkle_proof_add(fn, arg, off, off + k, out, err);
}

tw_rc merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index, uint64_t size,
	struct merkle_proof *out, struct tw_error *err)
{
	memset(out, 0, sizeof(*out));
	if (index >= size)
		return tw_error_set(err, TW_E_INVALID, "leaf index %llu is not below tree size %llu",
			(unsigned long long)index, (unsigned long long)size);
	return merkle_path(fn, arg, 0, index, size, out, err);
}

/* SUBPROOF(m, D[off, off + n), b) of RFC 9162 2.1.4.1. */
static tw_rc merkle_subproof(merkle_subtree_fn fn, void *arg, uint64_t off, uint64_t m,
	uint64_t n, bool b, struct merkle_proof *out, struct tw_error *err)
{
	uint64_t k;
	tw_rc rc;

	if (m == n)
		return b ? TW_OK : merkle_proof_add(fn, arg, off, off + m, out, err);
	k = merkle_split(n);
	if (m <= k) {
		if ((rc = merkle_subproof(fn, arg, off, m, k, b, out, err)) != TW_OK)
			return rc;
		return merkle_proof_add(fn, arg, off + k, off + n, out, err);
	}
	if ((rc = merkle_subproof(fn, arg, off + k, m - k, n - k, false, out, err)) != TW_OK)
		return rc;
	return merkle_proof_add(fn, arg, off, off + k, out, err);
}

tw_rc merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t first,
	uint64_t second, struct merkle_proof *out, struct tw_error *err)
{
	memset(out, 0, sizeof(*out));
	if (first == 0 || first > second)
		return tw_error_set(err, TW_E_INVALID, "consistency needs 0 < first <= second "
			"(got %llu, %llu)", (unsigned long long)first, (unsigned long long)second);
	if (first == second)
		return TW_OK;
	return merkle_subproof(fn, arg, 0, first, second, true, out, err);
}

tw_rc merkle_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf[32],
	const struct merkle_proof *proof, const unsigned char root[32], struct tw_error *err)
{
	unsigned char r[32];
	uint64_t fn = index, sn;
	tw_rc rc;

	if (index >= size)
		return tw_error_set(err, TW_E_INTEGRITY, "inclusion proof: leaf index %llu is not "
			"below tree size %llu", (unsigned long long)index, (unsigned long long)size);
	if (proof->count > MERKLE_PATH_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "inclusion proof is too long");
	sn = size - 1;
	memcpy(r, leaf, 32);
	for (size_t i = 0; i < proof->count; i++) {
		if (sn == 0)
			return tw_error_set(err, TW_E_INTEGRITY, "inclusion proof has %zu hashes, "
				"more than the tree needs", proof->count);
		if ((fn & 1) || fn == sn) {
			if ((rc = merkle_node_hash(proof->hash[i], r, r, err)) != TW_OK)
				return rc;
			if (!(fn & 1))
				do {
					fn >>= 1;
					sn >>= 1;
				} while (!(fn & 1) && fn != 0);
		} else if ((rc = merkle_node_hash(r, proof->hash[i], r, err)) != TW_OK) {
			return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return tw_error_set(err, TW_E_INTEGRITY, "inclusion proof is too short for tree "
			"size %llu", (unsigned long long)size);
	if (!tw_ct_equal(r, root, 32))
		return tw_error_set(err, TW_E_INTEGRITY, "inclusion proof does not lead to the root");
	return TW_OK;
}

tw_rc merkle_verify_consistency(uint64_t first, uint64_t second,
	const unsigned char first_root[32], const unsigned char second_root[32],
	const struct merkle_proof *proof, struct tw_error *err)
{
	unsigned char fr[32], sr[32];
	uint64_t fn, sn;
	size_t i = 0;
	tw_rc rc;

	if (first == 0 || first > second)
		return tw_error_set(err, TW_E_INTEGRITY, "consistency proof: sizes %llu, %llu are "
			"not 0 < first <= second", (unsigned long long)first,
			(unsigned long long)second);
	if (first == second) {
		if (proof->count != 0)
			return tw_error_set(err, TW_E_INTEGRITY, "consistency proof between equal "
				"sizes must be empty");
		if (!tw_ct_equal(first_root, second_root, 32))
			return tw_error_set(err, TW_E_INTEGRITY, "two heads of size %llu have "
				"different roots", (unsigned long long)first);
		return TW_OK;
	}
	if (proof->count == 0 || proof->count > MERKLE_PATH_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "consistency proof has %zu hashes",
			proof->count);
	/* A power-of-two first tree is itself a node of the second: it starts the proof. */
	if (merkle_is_pow2(first)) {
		memcpy(fr, first_root, 32);
	} else {
		memcpy(fr, proof->hash[0], 32);
		i = 1;
	}
	memcpy(sr, fr, 32);
	fn = first - 1;
	sn = second - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < proof->count; i++) {
		const unsigned char *c = proof->hash[i];

		if (sn == 0)
			return tw_error_set(err, TW_E_INTEGRITY, "consistency proof is too long");
		if ((fn & 1) || fn == sn) {
			if ((rc = merkle_node_hash(c, fr, fr, err)) != TW_OK ||
			    (rc = merkle_node_hash(c, sr, sr, err)) != TW_OK)
				return rc;
			if (!(fn & 1))
				do {
					fn >>= 1;
					sn >>= 1;
				} while (!(fn & 1) && fn != 0);
		} else if ((rc = merkle_node_hash(sr, c, sr, err)) != TW_OK) {
			return rc;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0)
		return tw_error_set(err, TW_E_INTEGRITY, "consistency proof is too short");
	if (!tw_ct_equal(fr, first_root, 32))
		return tw_error_set(err, TW_E_INTEGRITY, "consistency proof does not reproduce the "
			"first root (size %llu)", (unsigned long long)first);
	if (!tw_ct_equal(sr, second_root, 32))
		return tw_error_set(err, TW_E_INTEGRITY, "consistency proof does not reproduce the "
			"second root (size %llu): the log was rewritten", (unsigned long long)second);
	return TW_OK;
}
