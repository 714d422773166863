/*
 * tree.h: the admin log's Merkle tree on top of the store, and its signed tree heads.
 *
 * Stored: the hash of every complete subtree of 2^8 or more leaves (admin_log_node).
 * Smaller subtrees are recomputed from the entries, at most 255 per proof level, so an
 * inclusion or consistency proof over 10 million entries reads a few dozen node rows
 * and at most ~500 entries. Retention cuts are multiples of AUDIT_TREE_CHUNK, so every
 * subtree left of a cut is a stored node: the remaining log keeps its proofs.
 *
 * Tree head (the bytes the signer signs, purpose tree-head, key gwa-sig):
 *   "torwart-tree-head-v1" (20 bytes) || u64 tree_size || u64 time_ms || root (32)
 * big-endian; signature = DER ECDSA-Sig-Value with SHA-256 (brainpoolP256r1 key).
 */
#ifndef TORWART_AUDIT_TREE_H
#define TORWART_AUDIT_TREE_H

#include <stdint.h>

#include <openssl/evp.h>

#include "audit/merkle.h"
#include "base/error.h"
#include "base/home.h"
#include "store/store.h"
#include "store/store_auditlog.h"

struct signer_client;

#define AUDIT_TREE_LEVEL 8
#define AUDIT_TREE_CHUNK (INT64_C(1) << AUDIT_TREE_LEVEL)
#define AUDIT_HEAD_MAGIC "torwart-tree-head-v1"
#define AUDIT_HEAD_TBS_LEN (20 + 8 + 8 + 32)

/* Store the nodes completed by leaves up to size (a multiple of the chunk); in a tx. */
tw_rc audit_tree_extend(struct tw_store *store, int64_t size, struct tw_error *err);
/* Complete subtree hash from stored nodes or entries (merkle_subtree_fn; arg = store). */
tw_rc audit_tree_subtree(void *store, int level, uint64_t idx, unsigned char out[32],
	struct tw_error *err);
/* Root of the first size leaves. */
tw_rc audit_tree_root(struct tw_store *store, int64_t size, unsigned char out[32],
	struct tw_error *err);
/* Current tree size: the last seq (0 for an empty log). */
tw_rc audit_tree_size(struct tw_store *store, int64_t *size, struct tw_error *err);
/* Inclusion proof of entry seq in the tree of size; leaf gets the entry's leaf hash. */
tw_rc audit_tree_inclusion(struct tw_store *store, int64_t seq, int64_t size,
	unsigned char leaf[32], struct merkle_proof *proof, struct tw_error *err);
tw_rc audit_tree_consistency(struct tw_store *store, int64_t first, int64_t second,
	struct merkle_proof *proof, struct tw_error *err);

/* The signed bytes of a head. */
void audit_head_tbs(int64_t tree_size, int64_t time_ms, const unsigned char root[32],
	unsigned char out[AUDIT_HEAD_TBS_LEN]);
/* Verify a head's signature with pub. TW_E_INTEGRITY if it does not verify. */
tw_rc audit_head_verify(const struct store_auditlog_head *h, EVP_PKEY *pub,
	struct tw_error *err);
/*
 * Sign and store a head over the current log (or over size when size > 0) through the
 * signer. *out (may be NULL) receives it. TW_E_EXISTS when that size is already signed,
 * also when a concurrent creator stored it first: *out then receives the stored head.
 */
tw_rc audit_head_create(struct tw_store *store, struct signer_client *sc, int64_t size,
	struct store_auditlog_head *out, struct tw_error *err);
/* Public key of the GWA SIG certificate (HOME/pki/gwa-sig.crt). Caller frees. The keys of
 * the certificates it replaced ("<cert_path>.history", kept by `gwa renew --key sig`) come
 * with it: audit_head_verify accepts a head any of them verifies. */
tw_rc audit_sig_key_load(const char *cert_path, EVP_PKEY **pub, struct tw_error *err);

#endif
