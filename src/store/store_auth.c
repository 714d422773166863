/*
 * store_auth.c: the public store_auth.h API. Checks every argument once, before any SQL
 * runs (so bad input changes nothing and is never truncated), then runs its SQL, written
 * once for both drivers, through the db.h helpers.
 */
#include "store/store_auth.h"

#include <stdarg.h>
#include <stdio.h>
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
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id";
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
	"state, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id";
static const char SQL_AP_GET[] = "SELECT " AP_COLUMNS " FROM approvals WHERE id = ?1";
static const char SQL_AP_DECIDE[] =
	"UPDATE approvals SET state = ?2, decided_by = ?3, decided_ms = ?4, "
	"decision_reason = ?5, result = ?6 WHERE id = ?1 AND state = 'pending'";
static const char SQL_AP_FINISH[] =
	"UPDATE approvals SET state = ?2, result = ?3 WHERE id = ?1 AND state = 'executed' "
	"AND (CAST(?4 AS TEXT) IS NULL OR result = ?4)";
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
	bool row = false;
	tw_rc rc;

	if (by == STORE_OPERATOR_BY_ID)
		rc = db_fetch(s, SQL_OP_BY_ID, &st, &row, "reading an operator", err, "i", id);
	else
		rc = db_fetch(s, by == STORE_OPERATOR_BY_NAME ? SQL_OP_BY_NAME : SQL_OP_BY_FP, &st,
			&row, "reading an operator", err, "t", key);
	if (rc == TW_OK)
		rc = row ? op_row(st, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"no such operator");
	db_done(s, st);
	return rc;
}

/* Run an UPDATE bound by the caller; TW_E_NOT_FOUND when it changed no row. */
/*
 * Run an UPDATE (db_run arguments); when it changed no row: none_rc with the message
 * none (none NULL: TW_OK, *changes 0). changes may be NULL.
 */
static tw_rc sa_change(struct db *s, const char *sql, const char *doing, tw_rc none_rc,
	const char *none, int *changes, struct tw_error *err, const char *types, ...)
{
	int64_t n = 0;
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vrun(s, sql, &n, NULL, doing, err, types, ap);
	va_end(ap);
	if (changes != NULL)
		*changes = (int)n;
	if (rc == TW_OK && n == 0 && none != NULL)
		rc = tw_error_set(err, none_rc, "%s", none);
	return rc;
}

static tw_rc sa_tenant_name(struct db *s, int64_t id, char *name, size_t size, struct tw_error *err)
{
	bool found = false;
	tw_rc rc = db_text(s, SQL_TENANT_NAME, name, size, "tenant name", &found,
		"reading a tenant", err, "i", id);

	if (rc == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no tenant with id %lld", (long long)id);
	return rc;
}

/* ---- sessions ---- */

static tw_rc sa_session_revoke_operator(struct db *s, int64_t operator_id, int64_t when_ms,
	int *count, struct tw_error *err)
{
	return sa_change(s, SQL_SES_REVOKE_OP, "revoking an operator's sessions", TW_OK, NULL,
		count, err, "ii", operator_id, when_ms);
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
	bool row = false;
	tw_rc rc = db_fetch(s, SQL_AP_GET, &st, &row, "reading an approval request", err, "i",
		id);

	if (rc == TW_OK)
		rc = row ? ap_row(st, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"no approval request %lld", (long long)id);
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
	rc = db_insert(db, SQL_OP_INSERT, id, "adding an operator", err, "ititttittitit",
		op->tenant_id, op->name, (int64_t)op->roles, op->status, op->factor, op->secret,
		op->totp_last_step, op->cert_fingerprint, op->cert_serial, op->cert_not_after,
		op->cert_status, op->created_ms, op->created_by);
	if (rc == TW_E_EXISTS)
		return tw_error_set(err, rc, "an operator named \"%s\" or with that certificate "
			"exists already", op->name);
	return rc;
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
	char none[64];

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	snprintf(none, sizeof(none), "no operator with id %lld", (long long)id);
	return sa_change(db, SQL_OP_ROLES, "changing an operator's roles", TW_E_NOT_FOUND, none,
		NULL, err, "ii", id, (int64_t)roles);
}

tw_rc store_operator_set_status(struct tw_store *store, int64_t id, const char *status,
	const char *cert_status, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	char none[64];

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (!sa_one_of(status, "enabled", "disabled") ||
	    !sa_one_of(cert_status, "valid", "revoked"))
		return tw_error_set(err, TW_E_INVALID, "operator status must be enabled/disabled "
			"and certificate status valid/revoked");
	snprintf(none, sizeof(none), "no operator with id %lld", (long long)id);
	return sa_change(db, SQL_OP_STATUS, "changing an operator's status", TW_E_NOT_FOUND,
		none, NULL, err, "itt", id, status, cert_status);
}

tw_rc store_operator_set_secret(struct tw_store *store, int64_t id, const char *secret,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	char none[64];

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (secret == NULL || secret[0] == '\0' || strlen(secret) > STORE_AUTH_SECRET_MAX)
		return tw_error_set(err, TW_E_INVALID, "an operator secret is 1..%d bytes",
			STORE_AUTH_SECRET_MAX);
	snprintf(none, sizeof(none), "no operator with id %lld", (long long)id);
	return sa_change(db, SQL_OP_SECRET, "replacing an operator's secret", TW_E_NOT_FOUND,
		none, NULL, err, "it", id, secret);
}

tw_rc store_operator_use_totp_step(struct tw_store *store, int64_t id, int64_t step,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (step <= 0)
		return tw_error_set(err, TW_E_INVALID, "TOTP time step must be positive");
	return sa_change(db, SQL_OP_TOTP, "recording a TOTP step", TW_E_DENIED, "this TOTP code "
		"was used already; wait for the next one", NULL, err, "ii", id, step);
}

tw_rc store_operator_foreach(struct tw_store *store, int64_t tenant_id, store_operator_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_operator o;
	bool row = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_operator_foreach: bad argument");
	for (rc = db_fetch(db, SQL_OP_ALL, &st, &row, "listing operators", err, "i", tenant_id);
	     rc == TW_OK && row; rc = db_next(st, &row, "listing operators", err)) {
		int stop;

		if ((rc = op_row(st, &o, err)) != TW_OK)
			break;
		stop = cb(&o, arg);
		memset(&o, 0, sizeof(o));   /* the row held a second-factor secret */
		if (stop != 0)
			break;
	}
	memset(&o, 0, sizeof(o));
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
	return db_run(db, SQL_SES_INSERT, NULL, "storing a session", err, "tibttii", s->id,
		s->operator_id, (const void *)s->secret_hash, (size_t)32, s->cert_fingerprint,
		s->client, s->created_ms, s->expires_ms);
}

tw_rc store_session_get(struct tw_store *store, const char *id, struct store_session *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_session_get: NULL argument");
	if ((rc = store_check_text(id, 32, "session id", err)) != TW_OK ||
	    (rc = db_fetch(db, SQL_SES_GET, &st, &row, "reading a session", err, "t",
	    id)) != TW_OK)
		return rc;
	if (!row)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such session");
	else if ((rc = DB_COL_TEXT(st, 0, out, id, err)) == TW_OK &&
	    (rc = db_col_hash(st, 2, out->secret_hash, "session hash", err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 3, out, cert_fingerprint, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 4, out, client, err)) == TW_OK) {
		out->operator_id = db_column_int64(st, 1);
		out->created_ms = db_column_int64(st, 5);
		out->expires_ms = db_column_int64(st, 6);
		out->revoked_ms = db_column_int64(st, 7);
	}
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
	return sa_change(db, SQL_SES_REVOKE, "revoking a session", TW_E_NOT_FOUND,
		"no such live session", NULL, err, "ti", id, when_ms);
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
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || !sa_kind_ok(kind))
		return tw_error_set(err, TW_E_INTERNAL, "store_auth_failure_get: bad argument");
	if ((rc = store_check_text(subject, STORE_NAME_MAX, "failure subject", err)) != TW_OK ||
	    (rc = db_fetch(db, SQL_FAIL_GET, &st, found, "reading a failed-login counter", err,
	    "tt", kind, subject)) != TW_OK)
		return rc;
	if (*found) {
		out->window_ms = db_column_int64(st, 0);
		out->count = db_column_int64(st, 1);
		out->alerted = db_column_int64(st, 2) != 0;
	}
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
	return db_run(db, SQL_FAIL_PUT, NULL, "storing a failed-login counter", err, "ttiii",
		kind, subject, f->window_ms, f->count, (int64_t)(f->alerted ? 1 : 0));
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
	return db_run(db, SQL_FAIL_CLEAR, NULL, "clearing a failed-login counter", err, "tt",
		kind, subject);
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
	return db_insert(db, SQL_AP_INSERT, id, "storing an approval request", err, "ittttitii",
		a->tenant_id, a->action, a->params, a->reason, a->requester, a->requester_id,
		a->state, a->created_ms, a->expires_ms);
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
	struct store_approval cur;
	int changes = 0;
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
	rc = sa_change(db, SQL_AP_DECIDE, "deciding an approval request", TW_OK, NULL, &changes,
		err, "ittitt", id, d->state, d->decided_by, d->decided_ms, d->decision_reason,
		d->result);
	/* Nothing changed: say why (decided already, or no such request). */
	if (rc == TW_OK && changes == 0 && (rc = sa_approval_get(db, id, &cur, err)) == TW_OK)
		rc = tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s already",
			(long long)id, cur.state);
	return rc;
}

tw_rc store_approval_finish(struct tw_store *store, int64_t id, const char *state,
	const char *result, const char *expect_result, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct store_approval cur;
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
	rc = sa_change(db, SQL_AP_FINISH, "recording an approval's outcome", TW_OK, NULL,
		&changes, err, expect_result != NULL ? "ittt" : "ittn", id, state, result,
		expect_result);
	if (rc == TW_OK && changes == 0 && (rc = sa_approval_get(db, id, &cur, err)) == TW_OK)
		rc = expect_result != NULL && strcmp(cur.state, "executed") == 0 ?
			tw_error_set(err, TW_E_EXISTS, "approval request %lld changed meanwhile "
			"(%.200s)", (long long)id, cur.result) :
			tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s, not executed",
			(long long)id, cur.state);
	return rc;
}

tw_rc store_approval_foreach(struct tw_store *store, int64_t tenant_id, const char *state,
	store_approval_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_approval a;
	bool row = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || tenant_id < 0 || (state != NULL && !sa_state_ok(state)))
		return tw_error_set(err, TW_E_INVALID, "store_approval_foreach: bad argument");
	for (rc = db_fetch(db, SQL_AP_ALL, &st, &row, "listing approval requests", err, "it",
	     tenant_id, state); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing approval requests", err)) {
		if ((rc = ap_row(st, &a, err)) != TW_OK || cb(&a, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}
