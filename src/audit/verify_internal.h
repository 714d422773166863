/*
 * verify_internal.h: the streaming verifier shared by live verification (verify.c) and
 * offline verification of exports (export.c). Internal to src/audit.
 *
 * Feed it: optionally the state at a retention cut, then every signed head (ascending
 * tree size), then every entry in seq order; it recomputes chain and tree as it goes
 * and checks each head when the tree reaches that head's size.
 */
#ifndef TORWART_AUDIT_VERIFY_INTERNAL_H
#define TORWART_AUDIT_VERIFY_INTERNAL_H

#include <stdbool.h>

#include "audit/audit.h"
#include "audit/merkle.h"
#include "store/store_auditlog.h"

struct audit_verifier {
	struct audit_verify_result *res;
	struct merkle_frontier fr;
	int64_t start_size;                  /* leaves before the first entry (cut) */
	int64_t expect_seq;
	unsigned char expect_prev[32];
	struct store_auditlog_head *heads;   /* owned, ascending tree_size */
	size_t nheads, cap, next;
	int64_t last_good_head;              /* size of the last head that matched */
	EVP_PKEY *pub;                       /* borrowed; NULL: roots only */
	struct tw_store *node_store;         /* borrowed; non-NULL: compare stored nodes */
	bool failed;
	tw_rc rc;                            /* the first failure */
	struct tw_error *err;
	/* Incremental verification (issue 10): started from a verified position instead of
	 * a retention cut; the state at the last matching head, to remember as the next
	 * position. */
	bool resumed;
	struct merkle_frontier good_fr;
	unsigned char good_chain[32];
};

void verifier_init(struct audit_verifier *v, struct audit_verify_result *res, EVP_PKEY *pub,
	struct tw_error *err);
void verifier_free(struct audit_verifier *v);
/* Start after a cut: the perfect-subtree hashes of the first cut leaves (by level). */
tw_rc verifier_set_cut(struct audit_verifier *v, int64_t cut,
	const unsigned char chain_hash[32], const unsigned char (*hashes)[32]);
/* Start after a verified position: tree size, hash of that entry, frontier there. The
 * signed head at that size is checked against the frontier before anything else. */
tw_rc verifier_set_resume(struct audit_verifier *v, int64_t size,
	const unsigned char chain_hash[32], const struct merkle_frontier *fr);
/* Heads must come in ascending tree size, before the entries. */
tw_rc verifier_add_head(struct audit_verifier *v, const struct store_auditlog_head *h);
/* Returns non-zero when verification has stopped (failure). */
int verifier_entry(struct audit_verifier *v, const struct store_audit_row *row);
/* Check what is left (heads beyond the end) and produce the final rc. */
tw_rc verifier_finish(struct audit_verifier *v);

#endif
