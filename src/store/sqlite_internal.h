/*
 * sqlite_internal.h: what the SQLite backend's files share. Internal to src/store.
 *
 * sqlite.c holds the core tables (tenants, gateways, certificates, admin_log). Each later
 * area (pki registration, jobs, profiles, operators, ...) adds:
 *   - store_<area>.h      public declarations (callers include only this and store.h)
 *   - store_<area>.c      argument validation + dispatch to the backend's area ops
 *   - sqlite_<area>.c     the SQL, using the helpers below on `struct sq` (store->be)
 *   - migrations/NNNN_<area>.sql
 * so areas do not all edit one vtable, and a PostgreSQL backend adds postgres_<area>.c.
 * Dispatch: store_<area>.c picks the area ops by store->ops (see store_backend.h).
 */
#ifndef TORWART_STORE_SQLITE_INTERNAL_H
#define TORWART_STORE_SQLITE_INTERNAL_H

#include <stddef.h>

#include <sqlite3.h>

#include "base/error.h"

#define SQ_CORE_STMT_MAX 32   /* statements of sqlite.c (enum sq_id) */
#define SQ_EXTRA_MAX 256      /* cached statements of the area files */

struct sq {
	sqlite3 *db;
	char *path;                              /* for error messages */
	sqlite3_stmt *stmts[SQ_CORE_STMT_MAX];   /* sqlite.c's, prepared on first use */
	struct {
		const char *sql;                     /* static text; the address is the key */
		sqlite3_stmt *st;
	} extra[SQ_EXTRA_MAX];
	size_t extra_count;
};

/* "store PATH: DOING failed: sqlite message" with code. */
tw_rc sq_fail(struct sq *s, tw_rc code, struct tw_error *err, const char *doing);
/* Map a failed sqlite3_step (before reset): unique -> TW_E_EXISTS, FK -> TW_E_NOT_FOUND. */
tw_rc sq_step_fail(struct sq *s, struct tw_error *err, const char *doing);
/* Run SQL without arguments or rows. */
tw_rc sq_exec(struct sq *s, const char *sql, const char *doing, struct tw_error *err);
/*
 * A prepared statement for the static SQL text sql (cached by its address). Give it back
 * with sq_done (reset + clear bindings, or finalize if it was a temporary copy).
 */
tw_rc sq_prepare(struct sq *s, const char *sql, sqlite3_stmt **out, struct tw_error *err);
void sq_done(struct sq *s, sqlite3_stmt *st);
/* Copy a text column into dst; TW_E_INTEGRITY if the stored text is longer than size-1. */
tw_rc sq_col_text(sqlite3_stmt *st, int col, char *dst, size_t size, const char *what,
	struct tw_error *err);
/* Copy a 32-byte blob column; TW_E_INTEGRITY otherwise. */
tw_rc sq_col_hash(sqlite3_stmt *st, int col, unsigned char dst[32], const char *what,
	struct tw_error *err);

#define SQ_COL_TEXT(st, col, obj, member, err) \
	sq_col_text((st), (col), (obj)->member, sizeof((obj)->member), #member, (err))

#endif
