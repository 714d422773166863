/*
 * store_audit_verified.h: the durable position of incremental admin-log verification
 * (table admin_log_verified, migration 0008). Written by the worker after a pass that
 * reached a new signed tree head; read at the start of the next pass (audit/verify.c).
 */
#ifndef TORWART_STORE_STORE_AUDIT_VERIFIED_H
#define TORWART_STORE_STORE_AUDIT_VERIFIED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_AUDIT_FRONTIER_MAX 64   /* one hash per bit of a 64-bit tree size */

struct store_audit_verified {
	int64_t tree_size;                  /* a signed head's size, > 0 */
	unsigned char chain_hash[32];       /* hash of entry tree_size */
	/* frontier[i]: the i-th perfect subtree root, smallest first (one per set bit of
	 * tree_size, so count == popcount(tree_size)) */
	unsigned char frontier[STORE_AUDIT_FRONTIER_MAX][32];
	size_t count;
	int64_t verified_ms;
};

/* The position of verifier name; *found false if it has none. */
tw_rc store_audit_verified_get(struct tw_store *store, const char *name,
	struct store_audit_verified *out, bool *found, struct tw_error *err);
/* Insert or replace the position of verifier name. */
tw_rc store_audit_verified_put(struct tw_store *store, const char *name,
	const struct store_audit_verified *v, struct tw_error *err);

#endif
