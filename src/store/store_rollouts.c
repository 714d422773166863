/*
 * store_rollouts.c: the public store_rollouts.h API (migration the rollouts migration),
 * written once through db.h for SQLite and PostgreSQL. A tenant-scoped handle
 * (store_scope_tenant, the api's operators) sees and steers only its tenant's rollouts.
 */
#include "store/store_rollouts.h"

#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define R_COLS "id, tenant_id, name, image_id, selection, state, ngroups, current_grp, " \
	"success_pct, error_pct, maint_window, reason, created_ms, created_by, started_ms, " \
	"started_by, updated_ms"
static const char SQL_R_INSERT[] = "INSERT INTO rollouts (tenant_id, name, image_id, "
	"selection, state, ngroups, current_grp, success_pct, error_pct, maint_window, reason, "
	"created_ms, created_by, updated_ms) VALUES (?1, ?2, ?3, ?4, 'created', ?5, 0, ?6, ?7, "
	"?8, '', ?9, ?10, ?9) RETURNING id";
static const char SQL_R_GET[] = "SELECT " R_COLS " FROM rollouts WHERE id = ?1";
static const char SQL_R_ALL[] = "SELECT " R_COLS " FROM rollouts "
	"WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) ORDER BY id";
static const char SQL_R_UPDATE[] = "UPDATE rollouts SET state = ?3, current_grp = ?4, "
	"reason = ?5, updated_ms = ?6 WHERE id = ?1 AND state = ?2";
static const char SQL_R_START[] = "UPDATE rollouts SET state = ?3, current_grp = ?4, "
	"reason = ?5, updated_ms = ?6, started_ms = ?6, started_by = ?7 "
	"WHERE id = ?1 AND state = ?2";
static const char SQL_T_ADD[] = "INSERT INTO rollout_targets (rollout_id, gateway_id, grp, "
	"job_id, state, tries) VALUES (?1, ?2, ?3, 0, 'waiting', 0)";
static const char SQL_T_SET[] = "UPDATE rollout_targets SET job_id = ?3, state = ?4, "
	"tries = tries + ?5 WHERE rollout_id = ?1 AND gateway_id = ?2";
static const char SQL_T_LIST[] = "SELECT gateway_id, grp, job_id, state, tries FROM "
	"rollout_targets WHERE rollout_id = ?1 AND (?2 < 0 OR grp = ?2) AND "
	"(CAST(?3 AS TEXT) IS NULL OR state = ?3) ORDER BY gateway_id";
static const char SQL_T_COUNTS[] = "SELECT state, count(*) FROM rollout_targets "
	"WHERE rollout_id = ?1 AND grp = ?2 GROUP BY state";

static tw_rc r_row(struct db_stmt *st, struct store_rollout *r, struct tw_error *err)
{
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	if ((rc = DB_COL_TEXT(st, 2, r, name, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, r, selection, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, r, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, r, window, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 11, r, reason, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 13, r, created_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 15, r, started_by, err)) != TW_OK)
		return rc;
	r->id = db_column_int64(st, 0);
	r->tenant_id = db_column_int64(st, 1);
	r->image_id = db_column_int64(st, 3);
	r->ngroups = (int)db_column_int64(st, 6);
	r->current_grp = (int)db_column_int64(st, 7);
	r->success_pct = (int)db_column_int64(st, 8);
	r->error_pct = (int)db_column_int64(st, 9);
	r->created_ms = db_column_int64(st, 12);
	r->started_ms = db_column_int64(st, 14);
	r->updated_ms = db_column_int64(st, 16);
	return TW_OK;
}

tw_rc store_rollout_insert(struct tw_store *store, const struct store_rollout *r,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (r == NULL || id == NULL || r->ngroups < 1 || r->ngroups > 100 ||
	    r->success_pct < 1 || r->success_pct > 100 || r->error_pct < 0 ||
	    r->error_pct > 100 || r->image_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "bad rollout row");
	if ((rc = STORE_CHECK_MEMBER(r, name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, selection, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, window, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, created_by, true, err)) != TW_OK)
		return rc;
	return db_insert(db, SQL_R_INSERT, id, "storing a rollout", err, "ititiiitit",
		r->tenant_id, r->name, r->image_id, r->selection, (int64_t)r->ngroups,
		(int64_t)r->success_pct, (int64_t)r->error_pct, r->window, r->created_ms,
		r->created_by);
}

tw_rc store_rollout_get(struct tw_store *store, int64_t id, struct store_rollout *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_fetch(db, SQL_R_GET, &st, &row, "reading a rollout", err, "i",
		id)) != TW_OK)
		return rc;
	if (row)
		rc = r_row(st, out, err);
	db_done(db, st);
	/* Another tenant's rollout does not exist for a tenant-scoped handle (api). */
	if (rc == TW_OK && (!row || (store->scope_tenant != 0 &&
	    out->tenant_id != store->scope_tenant)))
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no rollout %lld (see torwart rollout list)",
			(long long)id);
	return rc;
}

tw_rc store_rollout_update(struct tw_store *store, int64_t id, const char *from,
	const char *to, int current_grp, const char *reason, const char *started_by,
	int64_t now_ms, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	int64_t changed = 0;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (reason == NULL || strlen(reason) > STORE_NAME_MAX || from == NULL || to == NULL)
		return tw_error_set(err, TW_E_INVALID, "rollout reason longer than %d bytes",
			STORE_NAME_MAX);
	/* ?7 is unused by SQL_R_UPDATE: a start records who started it. */
	rc = db_run(db, started_by != NULL ? SQL_R_START : SQL_R_UPDATE, &changed,
		"changing a rollout", err, started_by != NULL ? "ittitit" : "ittiti", id, from,
		to, (int64_t)current_grp, reason, now_ms, started_by);
	if (rc == TW_OK && changed != 1)
		rc = tw_error_set(err, TW_E_DENIED, "rollout %lld is not %s; nothing changed",
			(long long)id, from);
	return rc;
}

tw_rc store_rollout_foreach(struct tw_store *store, const char *state, store_rollout_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_rollout r;
	bool row;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(db, SQL_R_ALL, &st, &row, "listing rollouts", err, "t", state);
	     rc == TW_OK && row; rc = db_next(st, &row, "listing rollouts", err)) {
		if ((rc = r_row(st, &r, err)) != TW_OK)
			break;
		if (store->scope_tenant != 0 && r.tenant_id != store->scope_tenant)
			continue;   /* a tenant's operators see only their own rollouts */
		if (cb(&r, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_rollout_target_add(struct tw_store *store, int64_t rollout_id,
	const char *gateway_id, int grp, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return db_run(db, SQL_T_ADD, NULL, "storing a rollout target", err, "iti", rollout_id,
		gateway_id, (int64_t)grp);
}

tw_rc store_rollout_target_set(struct tw_store *store, int64_t rollout_id,
	const char *gateway_id, int64_t job_id, const char *state, bool new_try,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	return db_run(db, SQL_T_SET, NULL, "changing a rollout target", err, "ititi",
		rollout_id, gateway_id, job_id, state, (int64_t)(new_try ? 1 : 0));
}

tw_rc store_rollout_targets(struct tw_store *store, int64_t rollout_id, int grp,
	const char *state, store_rollout_target_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_rollout_target t;
	bool row;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(db, SQL_T_LIST, &st, &row, "listing rollout targets", err, "iit",
		rollout_id, (int64_t)grp, state); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing rollout targets", err)) {
		memset(&t, 0, sizeof(t));
		if ((rc = DB_COL_TEXT(st, 0, &t, gateway_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &t, state, err)) != TW_OK)
			break;
		t.grp = (int)db_column_int64(st, 1);
		t.job_id = db_column_int64(st, 2);
		t.tries = (int)db_column_int64(st, 4);
		if (cb(&t, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_rollout_group_counts(struct tw_store *store, int64_t rollout_id, int grp,
	struct store_rollout_group *out, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	char state[16];
	bool row;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(db, SQL_T_COUNTS, &st, &row, "counting rollout targets", err, "ii",
		rollout_id, (int64_t)grp); rc == TW_OK && row;
	     rc = db_next(st, &row, "counting rollout targets", err)) {
		int64_t n = db_column_int64(st, 1);

		if ((rc = db_col_text(st, 0, state, sizeof(state), "state", err)) != TW_OK)
			break;
		if (strcmp(state, "waiting") == 0)
			out->waiting = n;
		else if (strcmp(state, "running") == 0)
			out->running = n;
		else if (strcmp(state, "done") == 0)
			out->done = n;
		else
			out->failed = n;
	}
	db_done(db, st);
	return rc;
}
