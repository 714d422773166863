/*
 * store_gwa_sig.c: the fleet orders of new GWA SIG certificates (store_gwa_sig.h). Every
 * statement through db.h, the same text on SQLite and PostgreSQL.
 */
#include "store/store_gwa_sig.h"

#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

static const char SQL_PUSH_ADD[] = "INSERT INTO gwa_sig_pushes (fingerprint, tenant_id, "
	"batch_id, created_ms) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_PUSH_LIST[] = "SELECT fingerprint, tenant_id, batch_id, created_ms "
	"FROM gwa_sig_pushes WHERE fingerprint = ?1 ORDER BY tenant_id";

tw_rc store_gwa_sig_push_add(struct tw_store *store, const struct store_gwa_sig_push *p,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(p->fingerprint, 64, "fingerprint", err)) != TW_OK)
		return rc;
	rc = db_run(d, SQL_PUSH_ADD, NULL, "recording the order of a GWA SIG certificate", err,
		"tiii", p->fingerprint, p->tenant_id, p->batch_id, p->created_ms);
	if (rc == TW_E_EXISTS)
		rc = tw_error_set(err, rc, "the GWA SIG certificate %.16s... was ordered to tenant "
			"%lld's gateways already", p->fingerprint, (long long)p->tenant_id);
	return rc;
}

tw_rc store_gwa_sig_push_list(struct tw_store *store, const char *fingerprint,
	struct store_gwa_sig_push *out, size_t max, size_t *n, struct tw_error *err)
{
	static const char doing[] = "reading the orders of a GWA SIG certificate";
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(d, SQL_PUSH_LIST, &st, &row, doing, err, "t", fingerprint);
	     rc == TW_OK && row; rc = db_next(st, &row, doing, err)) {
		struct store_gwa_sig_push *p;

		if (*n == max) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "more than %zu tenants have orders of "
				"the GWA SIG certificate %.16s...", max, fingerprint);
			break;
		}
		p = &out[*n];
		memset(p, 0, sizeof(*p));
		if ((rc = DB_COL_TEXT(st, 0, p, fingerprint, err)) != TW_OK)
			break;
		p->tenant_id = db_column_int64(st, 1);
		p->batch_id = db_column_int64(st, 2);
		p->created_ms = db_column_int64(st, 3);
		(*n)++;
	}
	db_done(d, st);
	return rc;
}
