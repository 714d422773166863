/*
 * store_auditlog.h: the tables behind the Merkle admin log (owner: audit module):
 * subtree nodes, signed tree heads, retention cuts, shipping cursors and the alert queue
 * (migration 0006). Entries themselves stay in store.h (store_audit_*).
 *
 * Callers: src/audit only. Every function validates its arguments before the backend
 * runs (bad input changes nothing) and fills struct tw_error on failure.
 */
#ifndef TORWART_STORE_STORE_AUDITLOG_H
#define TORWART_STORE_STORE_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_AUDITLOG_NODE_MIN_LEVEL 8      /* nodes below 2^8 leaves are not stored */
#define STORE_AUDITLOG_SIG_MAX 1024          /* DER ECDSA signature, generous */

/*
 * A read snapshot: everything read until store_auditlog_snapshot_end sees one state of
 * the database (SQLite: a deferred transaction in WAL mode), without taking the write
 * lock, so a verification racing a retention cut or an append sees a consistent log.
 * TW_E_INTERNAL inside another transaction.
 */
tw_rc store_auditlog_snapshot_begin(struct tw_store *store, struct tw_error *err);
void store_auditlog_snapshot_end(struct tw_store *store);

/* ---- subtree nodes: node (level, idx) covers leaves [idx << level, (idx + 1) << level) */
/* TW_E_EXISTS if present; level must be in [8, 63]. */
tw_rc store_auditlog_node_put(struct tw_store *store, int level, int64_t idx,
	const unsigned char hash[32], struct tw_error *err);
/* *found = false when absent (hash zeroed). */
tw_rc store_auditlog_node_get(struct tw_store *store, int level, int64_t idx,
	unsigned char hash[32], bool *found, struct tw_error *err);
/* Highest stored idx at level, -1 when none. */
tw_rc store_auditlog_node_max(struct tw_store *store, int level, int64_t *max_idx,
	struct tw_error *err);

/* ---- signed tree heads ---- */
struct store_auditlog_head {
	int64_t tree_size;
	int64_t time_ms;
	unsigned char root[32];
	char key_label[STORE_ID_MAX + 1];
	unsigned char sig[STORE_AUDITLOG_SIG_MAX];
	size_t sig_len;
};
/* TW_E_EXISTS if a head of that size exists. */
tw_rc store_auditlog_head_insert(struct tw_store *store, const struct store_auditlog_head *h,
	struct tw_error *err);
/* The head of tree_size, or the latest when tree_size is 0; *found = false if none. */
tw_rc store_auditlog_head_get(struct tw_store *store, int64_t tree_size,
	struct store_auditlog_head *out, bool *found, struct tw_error *err);
/* Ascending tree size; cb returns non-zero to stop. */
typedef int (*store_auditlog_head_cb)(const struct store_auditlog_head *h, void *arg);
tw_rc store_auditlog_head_foreach(struct tw_store *store, store_auditlog_head_cb cb, void *arg,
	struct tw_error *err);

/* ---- retention cuts ---- */
struct store_auditlog_cut {
	int64_t cut_seq;                       /* entries 1..cut_seq are archived and gone */
	int64_t time_ms;
	unsigned char chain_hash[32];          /* hash of entry cut_seq */
	char archive[STORE_TEXT_MAX + 1];      /* archive file name */
	char archive_sha256[65];               /* hex SHA-256 of the archive file */
};
tw_rc store_auditlog_cut_latest(struct tw_store *store, struct store_auditlog_cut *out,
	bool *found, struct tw_error *err);
/*
 * Record the cut and delete entries 1..cut_seq (the delete trigger lets exactly those
 * through). Call inside store_begin; cut_seq must be above the previous cut.
 */
tw_rc store_auditlog_cut_apply(struct tw_store *store, const struct store_auditlog_cut *cut,
	struct tw_error *err);

/* ---- shipping cursors (last seq handed to a receiver) ---- */
/* 0 when the cursor was never set. */
tw_rc store_auditlog_cursor_get(struct tw_store *store, const char *name, int64_t *seq,
	struct tw_error *err);
tw_rc store_auditlog_cursor_set(struct tw_store *store, const char *name, int64_t seq,
	struct tw_error *err);

/* ---- alert queue ---- */
struct store_alert {
	int64_t id;
	int64_t created_ms;
	char kind[STORE_ID_MAX + 1];
	char role[STORE_ID_MAX + 1];
	char severity[16];
	char subject[STORE_NAME_MAX + 1];
	char message[STORE_TEXT_MAX + 1];
	int64_t attempts;
	int64_t next_ms;
	int64_t delivered_ms;                  /* 0 = not yet delivered */
	char last_error[STORE_TEXT_MAX + 1];
};
/*
 * Insert (id, attempts, delivered_ms, last_error ignored); id not NULL: *id gets the new
 * id, which reads the queue (on PostgreSQL the role needs SELECT on alert_queue: the
 * wan's role has INSERT only, so services pass NULL).
 */
tw_rc store_alert_insert(struct tw_store *store, const struct store_alert *a, int64_t *id,
	struct tw_error *err);
/* Up to max undelivered alerts with next_ms <= now_ms, oldest first, into out[]. */
tw_rc store_alert_due(struct tw_store *store, int64_t now_ms, struct store_alert *out,
	size_t max, size_t *n, struct tw_error *err);
/* Record a delivery attempt: attempts, next try, delivered (0 = not yet), last error. */
tw_rc store_alert_update(struct tw_store *store, int64_t id, int64_t attempts,
	int64_t next_ms, int64_t delivered_ms, const char *last_error, struct tw_error *err);
/* Undelivered alerts whose next_ms is parked_ms (set aside: no webhook for their role)
 * are due again at now_ms; *n (may be NULL) gets their number. */
tw_rc store_alert_requeue(struct tw_store *store, int64_t parked_ms, int64_t now_ms,
	int64_t *n, struct tw_error *err);
/* Number of undelivered alerts whose next_ms is parked_ms (set aside). */
tw_rc store_alert_set_aside(struct tw_store *store, int64_t parked_ms, int64_t *n,
	struct tw_error *err);
/* Number of undelivered alerts. */
tw_rc store_alert_pending(struct tw_store *store, int64_t *n, struct tw_error *err);

#endif
