/*
 * merkle.h: the RFC 9162 (Certificate Transparency v2) Merkle tree hash, independent of
 * where the hashes live: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r),
 * MTH of n leaves splits at the largest power of two below n. Inclusion paths and
 * consistency proofs are generated over a caller's "complete subtree" source and
 * verified with the algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2.
 */
#ifndef TORWART_AUDIT_MERKLE_H
#define TORWART_AUDIT_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define MERKLE_HASH_LEN 32
#define MERKLE_PATH_MAX 64      /* a proof of a tree of < 2^63 leaves has <= 63 hashes */

tw_rc merkle_leaf_hash(const unsigned char *data, size_t len, unsigned char out[32],
	struct tw_error *err);
tw_rc merkle_node_hash(const unsigned char left[32], const unsigned char right[32],
	unsigned char out[32], struct tw_error *err);

/* Largest power of two strictly below n (n >= 2). */
uint64_t merkle_split(uint64_t n);

/*
 * The compact form of a growing tree: the roots of the perfect subtrees its size
 * decomposes into (hash[L] valid when bit L of size is set). Enough to append leaves and
 * to compute the root, in O(log n) memory.
 */
struct merkle_frontier {
	uint64_t size;
	unsigned char hash[MERKLE_PATH_MAX][MERKLE_HASH_LEN];
};

/*
 * Called for each subtree the push completes at level >= 1: (level, idx) covers leaves
 * [idx << level, (idx + 1) << level). Return non-zero to report a mismatch.
 */
typedef int (*merkle_node_cb)(int level, uint64_t idx, const unsigned char hash[32], void *arg);

void merkle_frontier_init(struct merkle_frontier *f);
/* Append one leaf hash; cb may be NULL. TW_E_INTEGRITY if cb reported a mismatch. */
tw_rc merkle_frontier_push(struct merkle_frontier *f, const unsigned char leaf[32],
	merkle_node_cb cb, void *arg, struct tw_error *err);
/* Root of the current size (the empty tree's root is SHA-256 of nothing). */
tw_rc merkle_frontier_root(const struct merkle_frontier *f, unsigned char out[32],
	struct tw_error *err);

/* Hash of the complete subtree (level, idx), supplied by the caller. */
typedef tw_rc (*merkle_subtree_fn)(void *arg, int level, uint64_t idx, unsigned char out[32],
	struct tw_error *err);

/* MTH of the leaves [begin, end), built from complete subtrees. */
tw_rc merkle_range_hash(merkle_subtree_fn fn, void *arg, uint64_t begin, uint64_t end,
	unsigned char out[32], struct tw_error *err);

struct merkle_proof {
	size_t count;
	unsigned char hash[MERKLE_PATH_MAX][MERKLE_HASH_LEN];
};

/* RFC 9162 2.1.3.1 PATH(index, D[size]); 0 <= index < size. */
tw_rc merkle_inclusion_proof(merkle_subtree_fn fn, void *arg, uint64_t index, uint64_t size,
	struct merkle_proof *out, struct tw_error *err);
/* RFC 9162 2.1.4.1 PROOF(first, D[second]); 0 < first <= second. */
tw_rc merkle_consistency_proof(merkle_subtree_fn fn, void *arg, uint64_t first,
	uint64_t second, struct merkle_proof *out, struct tw_error *err);

/* RFC 9162 2.1.3.2. TW_OK if valid, TW_E_INTEGRITY naming why not. */
tw_rc merkle_verify_inclusion(uint64_t index, uint64_t size, const unsigned char leaf[32],
	const struct merkle_proof *proof, const unsigned char root[32], struct tw_error *err);
/* RFC 9162 2.1.4.2. TW_OK if valid, TW_E_INTEGRITY naming why not. */
tw_rc merkle_verify_consistency(uint64_t first, uint64_t second,
	const unsigned char first_root[32], const unsigned char second_root[32],
	const struct merkle_proof *proof, struct tw_error *err);

#endif
