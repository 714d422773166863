/*
 * proof.h: inclusion and consistency proofs as a small text document that can be
 * handed to an auditor and checked offline (`torwart audit proof --verify FILE`):
 *
 *   torwart-proof 1
 *   type inclusion | consistency
 *   tree-size N             (inclusion: the tree; consistency: the second tree)
 *   root HEX                (root of tree-size)
 *   leaf-index I            (inclusion) / first-size M + first-root HEX (consistency)
 *   leaf-hash HEX           (inclusion)
 *   head-time-ms T          (optional: tree-size is a signed head ...)
 *   head-signature HEX      (... and this is its signature)
 *   path HEX                (0..63 lines, in RFC 9162 order)
 */
#ifndef TORWART_AUDIT_PROOF_H
#define TORWART_AUDIT_PROOF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "audit/merkle.h"
#include "base/error.h"
#include "store/store_auditlog.h"

#define AUDIT_PROOF_MAX 16384   /* a proof document is at most this long */

struct audit_proof_doc {
	bool consistency;
	int64_t tree_size;
	unsigned char root[32];
	int64_t leaf_index;             /* inclusion */
	unsigned char leaf_hash[32];
	int64_t first_size;             /* consistency */
	unsigned char first_root[32];
	bool has_head;
	int64_t head_time_ms;
	unsigned char sig[STORE_AUDITLOG_SIG_MAX];
	size_t sig_len;
	struct merkle_proof path;
};

tw_rc audit_proof_write(const struct audit_proof_doc *doc, FILE *out, struct tw_error *err);
/* Parse len bytes (hostile input). TW_E_INVALID naming the line on any deviation. */
tw_rc audit_proof_parse(const char *text, size_t len, struct audit_proof_doc *doc,
	struct tw_error *err);
/*
 * Check the proof's hashes; with pub and a head signature also the signature over
 * (tree-size, head-time-ms, root). TW_E_INTEGRITY if anything does not hold.
 */
tw_rc audit_proof_check(const struct audit_proof_doc *doc, EVP_PKEY *pub,
	struct tw_error *err);

#endif
