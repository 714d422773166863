/*
 * store_auth.c: the public store_auth.h API. Checks every argument once, before any SQL
 * runs (so bad input changes nothing and is never truncated), then dispatches to the
 * backend's area ops chosen by the store's core backend.
 */
#include "store/store_auth.h"

#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define OP_COLUMNS "o.id, o.tenant_id, t.name, o.name, o.roles, o.status, o.factor, " \
	"o.secret, o.totp_last_step, o.cert_fingerprint, o.cert_serial, o.cert_not_after, " \
	"o.cert_status, o.created_ms, o.created_by"
#define OP_FROM " FROM operators o JOIN tenants t ON t.id = o.tenant_id "

static const char SQL_OP_INSERT[] =
	"INSERT INTO operators (tenant_id, name, roles, status, factor, secret, totp_last_step, "
	"cert_fingerprint, cert_serial, cert_not_after, cert_status, created_ms, created_by) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_OP_BY_NAME[] = "SELECT " OP_COLUMNS OP_FROM "WHERE o.name = ?1";
static const char SQL_OP_BY_FP[] = "SELECT " OP_COLUMNS OP_FROM "WHERE o.cert_fingerprint = ?1";
static const char SQL_OP_BY_ID[] = "SELECT " OP_COLUMNS OP_FROM "WHERE o.id = ?1";
static const char SQL_OP_ALL[] = "SELECT " OP_COLUMNS OP_FROM
	"WHERE ?1 = 0 OR o.tenant_id = ?1 ORDER BY o.name";
static const char SQL_OP_ROLES[] = "UPDATE operators SET roles = ?2 WHERE id = ?1";
static const char SQL_OP_STATUS[] =
	"UPDATE operators SET status = ?2, cert_status = ?3 WHERE id = ?1";
static const char SQL_OP_TOTP[] =
	"UPDATE operators SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2";
static const char SQL_OP_SECRET[] = "UPDATE operators SET secret = ?2 WHERE id = ?1";
static const char SQL_TENANT_NAME[] = "SELECT name FROM tenants WHERE id = ?1";
static const char SQL_SES_INSERT[] =
	"INSERT INTO auth_sessions (id, operator_id, secret_hash, cert_fingerprint, client, "
	"created_ms, expires_ms, revoked_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)";
static const char SQL_SES_GET[] =
	"SELECT id, operator_id, secret_hash, cert_fingerprint, client, created_ms, expires_ms, "
	"revoked_ms FROM auth_sessions WHERE id = ?1";
static const char SQL_SES_REVOKE[] =
	"UPDATE auth_sessions SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms = 0";
static const char SQL_SES_REVOKE_OP[] =
	"UPDATE auth_sessions SET revoked_ms = ?2 WHERE operator_id = ?1 AND revoked_ms = 0 "
	"AND expires_ms > ?2";
static const char SQL_FAIL_GET[] =
	"SELECT window_ms, count, alerted FROM auth_failures WHERE kind = ?1 AND subject = ?2";
static const char SQL_FAIL_PUT[] =
	"INSERT INTO auth_failures (kind, subject, window_ms, count, alerted) "
	"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, subject) DO UPDATE SET "
	"window_ms = excluded.window_ms, count = excluded.count, alerted = excluded.alerted";
static const char SQL_FAIL_CLEAR[] =
	"DELETE FROM auth_failures WHERE kind = ?1 AND subject = ?2";
#define AP_COLUMNS "id, tenant_id, action, params, reason, requester, requester_id, state, " \
	"created_ms, expires_ms, decided_by, decided_ms, decision_reason, result"
static const char SQL_AP_INSERT[] =
	"INSERT INTO approvals (tenant_id, action, params, reason, requester, requester_id, "
	"state, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_AP_GET[] = "SELECT " AP_COLUMNS " FROM approvals WHERE id = ?1";
static const char SQL_AP_DECIDE[] =
	"UPDATE approvals SET state = ?2, decided_by = ?3, decided_ms = ?4, "
	"decision_reason = ?5, result = ?6 WHERE id = ?1 AND state = 'pending'";
static const char SQL_AP_FINISH[] =
	"UPDATE approvals SET state = ?2, result = ?3 WHERE id = ?1 AND state = 'executed'";
static const char SQL_AP_ALL[] = "SELECT " AP_COLUMNS " FROM approvals "
	"WHERE (?1 = 0 OR tenant_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR state = ?2) ORDER BY id";

/* ---- operators ---- */

static tw_rc op_row(struct db_stmt *st, struct store_operator *o, struct tw_error *err)
{
	int64_t roles;
	tw_rc rc;

	memset(o, 0, sizeof(*o));
	o->id = db_column_int64(st, 0);
	o->tenant_id = db_column_int64(st, 1);
	if ((rc = DB_COL_TEXT(st, 2, o, tenant, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, o, name, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, o, status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, o, factor, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, o, secret, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, o, cert_fingerprint, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, o, cert_serial, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 12, o, cert_status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 14, o, created_by, err)) != TW_OK)
		return rc;
	roles = db_column_int64(st, 4);
	if (roles < 0 || roles > (int64_t)UINT32_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "operator %s: stored roles out of range",
			o->name);
	o->roles = (uint32_t)roles;
	o->totp_last_step = db_column_int64(st, 8);
	o->cert_not_after = db_column_int64(st, 11);
	o->created_ms = db_column_int64(st, 13);
	return TW_OK;
}

static tw_rc sa_operator_get(struct db *s, int by, const char *key, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	const char *sql = by == STORE_OPERATOR_BY_NAME ? SQL_OP_BY_NAME :
		by == STORE_OPERATOR_BY_FINGERPRINT ? SQL_OP_BY_FP : SQL_OP_BY_ID;
	int step;
	tw_rc rc;

	if ((rc = db_prepare(s, sql, &st, err)) != TW_OK)
		goto out;
	if (by == STORE_OPERATOR_BY_ID)
		db_bind_int64(st, 1, id);
	else
		db_bind_text(st, 1, key);
	step = db_step(st);
	if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such operator");
		goto out;
	}
	if (step != DB_ROW) {
		rc = db_step_fail(s, err, "reading an operator");
		goto out;
	}
	rc = op_row(st, out, err);
out:
	db_done(s, st);
	return rc;
}

/* Run an UPDATE bound by the caller; TW_E_NOT_FOUND when it changed no row. */
static tw_rc sa_update(struct db *s, struct db_stmt *st, const char *doing, int *changes,
	struct tw_error *err)
{
	if (db_step(st) != DB_DONE)
		return db_step_fail(s, err, doing);
	*changes = db_changes(s);
	return TW_OK;
}

static tw_rc sa_tenant_name(struct db *s, int64_t id, char *name, size_t size, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = db_prepare(s, SQL_TENANT_NAME, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	step = db_step(st);
	if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no tenant with id %lld", (long long)id);
		goto out;
	}
	if (step != DB_ROW) {
		rc = db_step_fail(s, err, "reading a tenant");
		goto out;
	}
	rc = db_col_text(st, 0, name, size, "tenant name", err);
out:
	db_done(s, st);
	return rc;
}

/* ---- sessions ---- */

static tw_rc sa_session_revoke_operator(struct db *s, int64_t operator_id, int64_t when_ms,
	int *count, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	tw_rc rc;

	*count = 0;
	if ((rc = db_prepare(s, SQL_SES_REVOKE_OP, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, operator_id);
	db_bind_int64(st, 2, when_ms);
	rc = sa_update(s, st, "revoking an operator's sessions", count, err);
out:
	db_done(s, st);
	return rc;
}

/* ---- failures ---- */

/* ---- approvals ---- */

static tw_rc ap_row(struct db_stmt *st, struct store_approval *a, struct tw_error *err)
{
	tw_rc rc;

	memset(a, 0, sizeof(*a));
	a->id = db_column_int64(st, 0);
	a->tenant_id = db_column_int64(st, 1);
	if ((rc = DB_COL_TEXT(st, 2, a, action, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, a, params, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, a, reason, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, a, requester, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, a, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, a, decided_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 12, a, decision_reason, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 13, a, result, err)) != TW_OK)
		return rc;
	a->requester_id = db_column_int64(st, 6);
	a->created_ms = db_column_int64(st, 8);
	a->expires_ms = db_column_int64(st, 9);
	a->decided_ms = db_column_int64(st, 11);
	return TW_OK;
}

static tw_rc sa_approval_get(struct db *s, int64_t id, struct store_approval *out,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = db_prepare(s, SQL_AP_GET, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	step = db_step(st);
	if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no approval request %lld", (long long)id);
		goto out;
	}
	if (step != DB_ROW) {
		rc = db_step_fail(s, err, "reading an approval request");
		goto out;
	}
	rc = ap_row(st, out, err);
out:
	db_done(s, st);
	return rc;
}

static bool sa_one_of(const char *s, const char *a, const char *b)
{
	return s != NULL && (strcmp(s, a) == 0 || strcmp(s, b) == 0);
}

static bool sa_hex(const char *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	}
	return h[n] == '\0';
}

static bool sa_kind_ok(const char *kind)
{
	return sa_one_of(kind, "operator", "address");
}

/* ---- operators ---- */

tw_rc store_operator_insert(struct tw_store *store, const struct store_operator *op,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (op == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_insert: NULL argument");
	*id = 0;
	if ((rc = STORE_CHECK_MEMBER(op, name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, status, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, factor, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, secret, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_serial, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, cert_status, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(op, created_by, true, err)) != TW_OK)
		return rc;
	if (!sa_one_of(op->status, "enabled", "disabled") ||
	    !sa_one_of(op->factor, "password", "totp") ||
	    !sa_one_of(op->cert_status, "valid", "revoked") ||
	    !sa_hex(op->cert_fingerprint, 64) || op->tenant_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "operator %s: status, factor, certificate "
			"status, fingerprint or tenant is not valid", op->name);
	rc = db_run(db, SQL_OP_INSERT, NULL, "adding an operator", err, "ititttittitit",
		op->tenant_id, op->name, (int64_t)op->roles, op->status, op->factor, op->secret,
		op->totp_last_step, op->cert_fingerprint, op->cert_serial, op->cert_not_after,
		op->cert_status, op->created_ms, op->created_by);
	if (rc == TW_E_EXISTS)
		return tw_error_set(err, rc, "an operator named \"%s\" or with that certificate "
			"exists already", op->name);
	return rc != TW_OK ? rc : db_last_id(db, id, err);
}

static tw_rc sa_operator_lookup(struct tw_store *store, int by, const char *key, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_get: NULL argument");
	if (by != STORE_OPERATOR_BY_ID &&
	    (rc = store_check_text(key, by == STORE_OPERATOR_BY_NAME ? STORE_ID_MAX : 64,
	     by == STORE_OPERATOR_BY_NAME ? "operator name" : "certificate fingerprint",
	     err)) != TW_OK)
		return rc;
	return sa_operator_get(db, by, key, id, out, err);
}

tw_rc store_operator_get_by_name(struct tw_store *store, const char *name,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_lookup(store, STORE_OPERATOR_BY_NAME, name, 0, out, err);
}

tw_rc store_operator_get_by_fingerprint(struct tw_store *store, const char *fingerprint,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_lookup(store, STORE_OPERATOR_BY_FINGERPRINT, fingerprint, 0, out, err);
}

tw_rc store_operator_get_by_id(struct tw_store *store, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	return sa_operator_lookup(store, STORE_OPERATOR_BY_ID, NULL, id, out, err);
}

tw_rc store_operator_set_roles(struct tw_store *store, int64_t id, uint32_t roles,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	struct db_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_OP_ROLES, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, (int64_t)roles);
	if ((rc = sa_update(db, st, "changing an operator's roles", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	db_done(db, st);
	return rc;
}

tw_rc store_operator_set_status(struct tw_store *store, int64_t id, const char *status,
	const char *cert_status, struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (!sa_one_of(status, "enabled", "disabled") ||
	    !sa_one_of(cert_status, "valid", "revoked"))
		return tw_error_set(err, TW_E_INVALID, "operator status must be enabled/disabled "
			"and certificate status valid/revoked");
	struct db_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_OP_STATUS, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, status);
	db_bind_text(st, 3, cert_status);
	if ((rc = sa_update(db, st, "changing an operator's status", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	db_done(db, st);
	return rc;
}

tw_rc store_operator_set_secret(struct tw_store *store, int64_t id, const char *secret,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (secret == NULL || secret[0] == '\0' || strlen(secret) > STORE_AUTH_SECRET_MAX)
		return tw_error_set(err, TW_E_INVALID, "an operator secret is 1..%d bytes",
			STORE_AUTH_SECRET_MAX);
	struct db_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_OP_SECRET, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, secret);
	rc = sa_update(db, st, "replacing an operator's secret", &changes, err);
	if (rc == TW_OK && changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	db_done(db, st);
	return rc;
}

tw_rc store_operator_use_totp_step(struct tw_store *store, int64_t id, int64_t step,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (step <= 0)
		return tw_error_set(err, TW_E_INVALID, "TOTP time step must be positive");
	struct db_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_OP_TOTP, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, step);
	if ((rc = sa_update(db, st, "recording a TOTP step", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_DENIED, "this TOTP code was used already; wait for the "
			"next one");
out:
	db_done(db, st);
	return rc;
}

tw_rc store_operator_foreach(struct tw_store *store, int64_t tenant_id, store_operator_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_foreach: bad argument");
	struct db_stmt *st = NULL;
	struct store_operator o;
	int step;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_OP_ALL, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, tenant_id);
	while ((step = db_step(st)) == DB_ROW) {
		int stop;

		if ((rc = op_row(st, &o, err)) != TW_OK)
			goto out;
		stop = cb(&o, arg);
		memset(&o, 0, sizeof(o));   /* the row held a second-factor secret */
		if (stop != 0) {
			step = DB_DONE;
			break;
		}
	}
	rc = step == DB_DONE ? TW_OK : db_step_fail(db, err, "listing operators");
out:
	db_done(db, st);
	return rc;
}

tw_rc store_auth_tenant_name(struct tw_store *store, int64_t id,
	char name[STORE_ID_MAX + 1], struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (name != NULL)
		name[0] = '\0';
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (name == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_tenant_name: NULL argument");
	return sa_tenant_name(db, id, name, STORE_ID_MAX + 1, err);
}

/* ---- sessions ---- */

tw_rc store_session_insert(struct tw_store *store, const struct store_session *s,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (s == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_session_insert: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(s, id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, cert_fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, client, false, err)) != TW_OK)
		return rc;
	if (!sa_hex(s->id, 32) || s->expires_ms <= s->created_ms)
		return tw_error_set(err, TW_E_INVALID, "session id or lifetime is not valid");
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SQL_SES_INSERT, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, s->id);
	db_bind_int64(st, 2, s->operator_id);
	db_bind_blob(st, 3, s->secret_hash, 32);
	db_bind_text(st, 4, s->cert_fingerprint);
	db_bind_text(st, 5, s->client);
	db_bind_int64(st, 6, s->created_ms);
	db_bind_int64(st, 7, s->expires_ms);
	rc = db_step(st) == DB_DONE ? TW_OK :
		db_step_fail(db, err, "storing a session");
out:
	db_done(db, st);
	return rc;
}

tw_rc store_session_get(struct tw_store *store, const char *id, struct store_session *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_session_get: NULL argument");
	if ((rc = store_check_text(id, 32, "session id", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	int step;

	if ((rc = db_prepare(db, SQL_SES_GET, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, id);
	step = db_step(st);
	if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such session");
		goto out;
	}
	if (step != DB_ROW) {
		rc = db_step_fail(db, err, "reading a session");
		goto out;
	}
	if ((rc = DB_COL_TEXT(st, 0, out, id, err)) != TW_OK ||
	    (rc = db_col_hash(st, 2, out->secret_hash, "session hash", err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, out, cert_fingerprint, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, out, client, err)) != TW_OK)
		goto out;
	out->operator_id = db_column_int64(st, 1);
	out->created_ms = db_column_int64(st, 5);
	out->expires_ms = db_column_int64(st, 6);
	out->revoked_ms = db_column_int64(st, 7);
out:
	db_done(db, st);
	return rc;
}

tw_rc store_session_revoke(struct tw_store *store, const char *id, int64_t when_ms,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(id, 32, "session id", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	int changes = 0;

	if ((rc = db_prepare(db, SQL_SES_REVOKE, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, id);
	db_bind_int64(st, 2, when_ms);
	if ((rc = sa_update(db, st, "revoking a session", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such live session");
out:
	db_done(db, st);
	return rc;
}

tw_rc store_session_revoke_operator(struct tw_store *store, int64_t operator_id,
	int64_t when_ms, int *count, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	int ignored;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	return sa_session_revoke_operator(db, operator_id, when_ms,
		count != NULL ? count : &ignored, err);
}

/* ---- failures ---- */

tw_rc store_auth_failure_get(struct tw_store *store, const char *kind, const char *subject,
	struct store_auth_failure *out, bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || !sa_kind_ok(kind))
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_get: bad argument");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	int step;

	if ((rc = db_prepare(db, SQL_FAIL_GET, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, subject);
	step = db_step(st);
	if (step == DB_ROW) {
		out->window_ms = db_column_int64(st, 0);
		out->count = db_column_int64(st, 1);
		out->alerted = db_column_int64(st, 2) != 0;
		*found = true;
	} else if (step != DB_DONE) {
		rc = db_step_fail(db, err, "reading a failed-login counter");
	}
out:
	db_done(db, st);
	return rc;
}

tw_rc store_auth_failure_put(struct tw_store *store, const char *kind, const char *subject,
	const struct store_auth_failure *f, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || !sa_kind_ok(kind) || f->count < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_put: bad argument");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SQL_FAIL_PUT, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, subject);
	db_bind_int64(st, 3, f->window_ms);
	db_bind_int64(st, 4, f->count);
	db_bind_int64(st, 5, f->alerted ? 1 : 0);
	rc = db_step(st) == DB_DONE ? TW_OK :
		db_step_fail(db, err, "storing a failed-login counter");
out:
	db_done(db, st);
	return rc;
}

tw_rc store_auth_failure_clear(struct tw_store *store, const char *kind, const char *subject,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (!sa_kind_ok(kind))
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_clear: bad kind");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;

	if ((rc = db_prepare(db, SQL_FAIL_CLEAR, &st, err)) != TW_OK)
		goto out;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, subject);
	rc = db_step(st) == DB_DONE ? TW_OK :
		db_step_fail(db, err, "clearing a failed-login counter");
out:
	db_done(db, st);
	return rc;
}

/* ---- approvals ---- */

static bool sa_state_ok(const char *s)
{
	return sa_one_of(s, "pending", "executed") || sa_one_of(s, "rejected", "expired") ||
		sa_one_of(s, "failed", "failed");
}

tw_rc store_approval_insert(struct tw_store *store, const struct store_approval *a,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (a == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_insert: NULL argument");
	*id = 0;
	if ((rc = STORE_CHECK_MEMBER(a, action, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, params, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, reason, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, requester, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(a, state, true, err)) != TW_OK)
		return rc;
	if (strcmp(a->state, "pending") != 0 || a->expires_ms <= a->created_ms ||
	    a->tenant_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "a new approval request must be pending, "
			"belong to a tenant and expire after it was created");
	if ((rc = db_run(db, SQL_AP_INSERT, NULL, "storing an approval request", err,
	    "ittttitii", a->tenant_id, a->action, a->params, a->reason, a->requester,
	    a->requester_id, a->state, a->created_ms, a->expires_ms)) != TW_OK)
		return rc;
	return db_last_id(db, id, err);
}

tw_rc store_approval_get(struct tw_store *store, int64_t id, struct store_approval *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_get: NULL argument");
	return sa_approval_get(db, id, out, err);
}

tw_rc store_approval_decide(struct tw_store *store, int64_t id, const struct store_approval *d,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (d == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_approval_decide: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(d, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, decided_by, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, decision_reason, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(d, result, false, err)) != TW_OK)
		return rc;
	if (!sa_state_ok(d->state) || strcmp(d->state, "pending") == 0)
		return tw_error_set(err, TW_E_INVALID, "decision state \"%s\" is not final",
			d->state);
	struct db_stmt *st = NULL;
	int changes = 0;

	if ((rc = db_prepare(db, SQL_AP_DECIDE, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, d->state);
	db_bind_text(st, 3, d->decided_by);
	db_bind_int64(st, 4, d->decided_ms);
	db_bind_text(st, 5, d->decision_reason);
	db_bind_text(st, 6, d->result);
	if ((rc = sa_update(db, st, "deciding an approval request", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0) {
		struct store_approval cur;

		db_done(db, st);
		st = NULL;
		rc = sa_approval_get(db, id, &cur, err);
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s already",
				(long long)id, cur.state);
	}
out:
	db_done(db, st);
	return rc;
}

tw_rc store_approval_finish(struct tw_store *store, int64_t id, const char *state,
	const char *result, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(state, 15, "approval state", err)) != TW_OK ||
	    (rc = store_check_text(result, STORE_TEXT_MAX, "approval result", err)) != TW_OK)
		return rc;
	if (!sa_one_of(state, "executed", "failed"))
		return tw_error_set(err, TW_E_INVALID, "an outcome is executed or failed, not "
			"\"%s\"", state);
	if ((rc = db_prepare(db, SQL_AP_FINISH, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, id);
	db_bind_text(st, 2, state);
	db_bind_text(st, 3, result);
	if ((rc = sa_update(db, st, "recording an approval's outcome", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0) {
		struct store_approval cur;

		db_done(db, st);
		st = NULL;
		rc = sa_approval_get(db, id, &cur, err);
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s, not "
				"executed", (long long)id, cur.state);
	}
out:
	db_done(db, st);
	return rc;
}

tw_rc store_approval_foreach(struct tw_store *store, int64_t tenant_id, const char *state,
	store_approval_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0 || (state != NULL && !sa_state_ok(state)))
		return tw_error_set(err, TW_E_INVALID, "store_approval_foreach: bad argument");
	struct db_stmt *st = NULL;
	struct store_approval a;
	int step;
	tw_rc rc;

	if ((rc = db_prepare(db, SQL_AP_ALL, &st, err)) != TW_OK)
		goto out;
	db_bind_int64(st, 1, tenant_id);
	if (state == NULL)
		db_bind_null(st, 2);
	else
		db_bind_text(st, 2, state);
	while ((step = db_step(st)) == DB_ROW) {
		if ((rc = ap_row(st, &a, err)) != TW_OK)
			goto out;
		if (cb(&a, arg) != 0) {
			step = DB_DONE;
			break;
		}
	}
	rc = step == DB_DONE ? TW_OK : db_step_fail(db, err, "listing approval requests");
out:
	db_done(db, st);
	return rc;
}
