/*
 * audit.h: the admin log (UC-3.4.4, M-4.5.6.7): append-only, every entry hash-chained
 * to its predecessor and a leaf of an RFC 9162 Merkle tree whose heads the signer signs
 * (docs/audit-log.md).
 *
 * Canonical encoding of an entry: for seq, time, actor, role, client, action, object,
 * result, detail in this order a 4-byte big-endian length followed by the UTF-8 bytes
 * (seq as decimal text), then error_code the same way only when it is non-empty (so
 * entries written before the field existed keep their hashes).
 * Chain hash = SHA-256(prev_hash || encoding), the first prev_hash is 32 zero bytes.
 * Leaf hash  = SHA-256(0x00 || encoding), leaf index = seq - 1.
 */
#ifndef TORWART_AUDIT_AUDIT_H
#define TORWART_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/error.h"
#include "store/store.h"

struct audit_entry {
	const char *actor;   /* who: operator name, "gateway:ID", "signer", "system" */
	const char *role;    /* in which role: "local-admin", "smgw", "service", ... */
	const char *client;  /* from where: peer address or "local:PID" */
	const char *action;  /* what: "wan.session.open", "signer.sign", ... */
	const char *object;  /* on what: gateway id, key label, serial, ... */
	const char *result;  /* "ok", "refused", "error" */
	const char *detail;  /* why / free text; may be NULL. Never secrets. */
	const char *error_code; /* M-4.5.6.7 error code ("TW_E_DENIED", "http-403", ...); may be NULL */
};

/*
 * Append one entry in its own transaction. NULL fields are stored as ""; a field over its
 * STORE_*_MAX limit is TW_E_TOO_LARGE and nothing is written. Inside a transaction the
 * caller opened this is TW_E_INTERNAL: use audit_append_in_tx there.
 */
tw_rc audit_append(struct tw_store *store, const struct audit_entry *entry,
	struct tw_error *err);
/* Append n entries in one transaction (the wan batches its connection records). */
tw_rc audit_append_batch(struct tw_store *store, const struct audit_entry *entries, size_t n,
	struct tw_error *err);
/* Append inside a transaction the caller opened with store_begin (data + audit atomic). */
tw_rc audit_append_in_tx(struct tw_store *store, const struct audit_entry *entry,
	struct tw_error *err);

/*
 * Log a read of sensitive data (M-4.5.6.7 "data viewed"): action "read.<data>", e.g.
 * audit_read(st, "alice", "auditor", "192.0.2.7", "gateway-data", "ETWA01", &err).
 * Own transaction, like audit_append; inside one use audit_append_in_tx.
 */
tw_rc audit_read(struct tw_store *store, const char *actor, const char *role,
	const char *client, const char *data, const char *object, struct tw_error *err);

/* Compute a row's hash from its fields and prev_hash (row->hash is ignored). */
void audit_row_hash(const struct store_audit_row *row, unsigned char out[32]);

#define AUDIT_ENCODING_MAX 4096   /* the longest canonical encoding is ~1.9 KB */
/* The canonical encoding into buf; *len its length. */
tw_rc audit_row_encode(const struct store_audit_row *row, unsigned char *buf, size_t size,
	size_t *len, struct tw_error *err);
/* The Merkle leaf hash of a row: SHA-256(0x00 || encoding). */
tw_rc audit_row_leaf_hash(const struct store_audit_row *row, unsigned char out[32],
	struct tw_error *err);

struct audit_verify_result {
	int64_t entries;          /* entries checked */
	int64_t first_bad_seq;    /* 0 when intact */
	char reason[256];         /* why first_bad_seq is bad */
	/* Merkle part (issue 5) */
	int64_t first_seq;        /* first entry present (after a retention cut: cut + 1) */
	int64_t tree_size;        /* leaves covered, including archived ones */
	unsigned char root[32];   /* root at tree_size */
	int64_t heads_checked;    /* signed heads whose root matched */
	int64_t heads_archived;   /* heads below the retention cut (checked in the archive) */
	int64_t nodes_checked;    /* stored subtree nodes compared (live verification) */
	int64_t bad_head;         /* tree size of the first bad head, 0 if none */
	int signatures_checked;   /* 1 if head signatures were verified with a key */
	/* Incremental verification (audit_verify_incremental) */
	int64_t resumed_at;       /* verified position the pass started from; 0: full pass */
	int64_t heads_before_resume;   /* heads below it (checked by an earlier pass) */
	int64_t verified_to;      /* position remembered after this pass (0: unchanged) */
};

/*
 * Recompute the chain. TW_OK when intact, TW_E_INTEGRITY naming the first broken entry
 * (res->first_bad_seq, res->reason). Catches edits, re-linked rows, gaps and deleted
 * rows anywhere but at the tail; cutting entries off the end needs signed tree heads.
 */
tw_rc audit_verify(struct tw_store *store, struct audit_verify_result *res,
	struct tw_error *err);
/*
 * audit_verify plus the Merkle tree: recompute the tree over every entry, compare the
 * stored subtree nodes and every signed head's root, and verify head signatures with
 * pub (the GWA SIG key; NULL: roots only). A head larger than the log is truncation.
 */
tw_rc audit_verify_tree(struct tw_store *store, EVP_PKEY *pub, struct audit_verify_result *res,
	struct tw_error *err);

/*
 * Incremental verification (issue 10; the worker's scheduled pass). Continues from the
 * position remembered under name (table admin_log_verified): the last signed tree head
 * an earlier pass verified. The position is checked before it is used (the Merkle root
 * of its frontier against that signed head, its chain hash against the stored entry),
 * then only the entries and heads after it are verified. With full, or without a usable
 * position (none yet, or a retention cut beyond it), the whole log is verified as
 * audit_verify_tree does. After an intact pass the position moves to the last signed
 * head reached (res->verified_to). Tampering with entries below the position is found
 * by a full pass only (the signed heads there were already checked): run one on a
 * schedule and on demand (`torwart audit verify` always does a full pass).
 */
tw_rc audit_verify_incremental(struct tw_store *store, EVP_PKEY *pub, const char *name,
	bool full, struct audit_verify_result *res, struct tw_error *err);

#endif
