/*
 * audit.h: the admin log (UC-3.4.4, M-4.5.6.7): append-only, every entry hash-chained
 * to its predecessor, verifiable offline.
 *
 * Entry hash = SHA-256(prev_hash || canonical encoding of the entry) where the canonical
 * encoding is, for seq, time, actor, role, client, action, object, result, detail in this
 * order: a 4-byte big-endian length followed by the UTF-8 bytes (seq as decimal text).
 * The first entry's prev_hash is 32 zero bytes. (issue 5 upgrades this to a Merkle tree.)
 */
#ifndef TORWART_AUDIT_AUDIT_H
#define TORWART_AUDIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

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

/* Compute a row's hash from its fields and prev_hash (row->hash is ignored). */
void audit_row_hash(const struct store_audit_row *row, unsigned char out[32]);

struct audit_verify_result {
	int64_t entries;          /* entries checked */
	int64_t first_bad_seq;    /* 0 when intact */
	char reason[256];         /* why first_bad_seq is bad */
};

/*
 * Recompute the chain. TW_OK when intact, TW_E_INTEGRITY naming the first broken entry
 * (res->first_bad_seq, res->reason). Catches edits, re-linked rows, gaps and deleted
 * rows anywhere but at the tail; cutting entries off the end needs signed tree heads.
 */
tw_rc audit_verify(struct tw_store *store, struct audit_verify_result *res,
	struct tw_error *err);

#endif
