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
/*
 * The gateways among ?2..?32 (unused slots NULL; 32 is the PostgreSQL driver's parameter
 * limit) that still wait for the certificate ?1: a job of its fleet orders that is not
 * done, and no gwa-cert-update done after it (an order by hand after a failed one).
 * Driven from the given gateways (jobs_gateway, a few rows each): "k.batch_id + 0"
 * keeps SQLite's planner, which has no statistics, from walking jobs_batch instead,
 * every job of a fleet order per wake-up chunk.
 */
static const char SQL_WAITING_AMONG[] = "SELECT DISTINCT k.gateway_id FROM jobs k "
	"JOIN gwa_sig_pushes p ON p.batch_id = k.batch_id + 0 "
	"WHERE p.fingerprint = ?1 AND k.state <> 'done' AND k.gateway_id IN ("
	"?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
	"?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32) "
	"AND NOT EXISTS (SELECT 1 FROM jobs d WHERE d.gateway_id = k.gateway_id AND "
	"d.id > k.id AND d.type = 'gwa-cert-update' AND d.state = 'done')";

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

/* One statement of SQL_WAITING_AMONG for ids[0..n), n <= STORE_GWA_SIG_AMONG_MAX. */
static tw_rc sgs_waiting_chunk(struct db *d, const char *fingerprint,
	const char *const *ids, size_t n, bool *waiting, struct tw_error *err)
{
	static const char doing[] = "looking up which gateways wait for a GWA SIG certificate";
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if ((rc = db_prepare(d, SQL_WAITING_AMONG, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, fingerprint);
	for (size_t i = 0; i < STORE_GWA_SIG_AMONG_MAX; i++) {
		if (i < n)
			db_bind_text(st, (int)i + 2, ids[i]);
		else
			db_bind_null(st, (int)i + 2);
	}
	for (rc = db_next(st, &row, doing, err); rc == TW_OK && row;
	     rc = db_next(st, &row, doing, err)) {
		const char *gw = db_column_text(st, 0);

		/* Every slot of that gateway (a tick may hold it once; be exact anyway). */
		for (size_t i = 0; gw != NULL && i < n; i++)
			if (strcmp(ids[i], gw) == 0)
				waiting[i] = true;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_gwa_sig_waiting_among(struct tw_store *store, const char *fingerprint,
	const char *const *gateway_ids, size_t n, bool *waiting, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < n; i++)
		waiting[i] = false;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(fingerprint, 64, "fingerprint", err)) != TW_OK)
		return rc;
	for (size_t i = 0; rc == TW_OK && i < n; i += STORE_GWA_SIG_AMONG_MAX) {
		size_t k = n - i < STORE_GWA_SIG_AMONG_MAX ? n - i : STORE_GWA_SIG_AMONG_MAX;

		rc = sgs_waiting_chunk(d, fingerprint, gateway_ids + i, k, waiting + i, err);
	}
	if (rc != TW_OK)
		for (size_t i = 0; i < n; i++)
			waiting[i] = false;
	return rc;
}
