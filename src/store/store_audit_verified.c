/*
 * store_audit_verified.c: store_audit_verified.h. Small enough to keep argument checks
 * and the (portable) SQL in one file, run through the store's driver (db.h).
 */
#include "store/store_audit_verified.h"

#include <stdlib.h>
#include <string.h>

#include "store/db.h"

#define NAME_MAX_LEN 64

static const char SQL_GET[] = "SELECT tree_size, chain_hash, frontier, verified_ms FROM "
	"admin_log_verified WHERE name = ?1";
static const char SQL_PUT[] = "INSERT INTO admin_log_verified (name, tree_size, chain_hash, "
	"frontier, verified_ms) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
	"tree_size = excluded.tree_size, chain_hash = excluded.chain_hash, "
	"frontier = excluded.frontier, verified_ms = excluded.verified_ms";

static size_t popcount64(uint64_t x)
{
	size_t n = 0;

	for (; x != 0; x &= x - 1)
		n++;
	return n;
}

static tw_rc check_args(struct tw_store *store, const char *name, const void *p,
	struct tw_error *err)
{
	if (store == NULL || store->db == NULL || p == NULL || name == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_verified: NULL argument");
	if (*name == '\0' || strlen(name) > NAME_MAX_LEN)
		return tw_error_set(err, TW_E_INVALID, "verifier name must be 1..%d characters",
			NAME_MAX_LEN);
	return TW_OK;
}

tw_rc store_audit_verified_get(struct tw_store *store, const char *name,
	struct store_audit_verified *out, bool *found, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	const void *blob;
	size_t len;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if ((rc = check_args(store, name, out, err)) != TW_OK)
		return rc;
	if (found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_verified_get: found is NULL");
	memset(out, 0, sizeof(*out));
	s = store->db;
	if ((rc = db_fetch(s, SQL_GET, &st, found, "reading the admin-log verification position",
	    err, "t", name)) != TW_OK)
		return rc;
	if (*found) {
		out->tree_size = db_column_int64(st, 0);
		out->verified_ms = db_column_int64(st, 3);
		blob = db_column_blob(st, 2);
		len = (size_t)db_column_bytes(st, 2);
		/* Checked like outside input: an edited row must not overflow anything. */
		if (out->tree_size <= 0 || len % 32 != 0 ||
		    len / 32 != popcount64((uint64_t)out->tree_size) || blob == NULL)
			rc = tw_error_set(err, TW_E_INTEGRITY, "the admin-log verification position "
				"of %s is malformed (edited database?)", name);
		else
			rc = db_col_hash(st, 1, out->chain_hash, "verified chain hash", err);
		if (rc == TW_OK) {
			out->count = len / 32;
			memcpy(out->frontier, blob, len);
		}
	}
	db_done(s, st);
	if (rc != TW_OK) {
		memset(out, 0, sizeof(*out));
		*found = false;
	}
	return rc;
}

tw_rc store_audit_verified_put(struct tw_store *store, const char *name,
	const struct store_audit_verified *v, struct tw_error *err)
{
	struct db *s;
	tw_rc rc;

	if ((rc = check_args(store, name, v, err)) != TW_OK)
		return rc;
	if (v->tree_size <= 0 || v->count != popcount64((uint64_t)v->tree_size))
		return tw_error_set(err, TW_E_INVALID, "verification position %lld with %zu "
			"subtree hashes is inconsistent", (long long)v->tree_size, v->count);
	s = store->db;
	return db_run(s, SQL_PUT, NULL, "saving the admin-log verification position", err,
		"tibbi", name, v->tree_size, (const void *)v->chain_hash,
		(size_t)32, (const void *)v->frontier, v->count * 32, v->verified_ms);
}
