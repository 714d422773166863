/*
 * sqlite_auth.c: the SQL of operators, sessions, failed-login counters and four-eyes
 * approvals (store_auth.h, migration 0005_auth.sql) for the SQLite backend.
 *
 * Arguments were validated by store_auth.c. Everything read back is checked against the
 * struct limits like outside input (an edited database is TW_E_INTEGRITY, never an
 * overflow).
 */
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_auth.h"
#include "store/store_backend.h"

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
	"WHERE (?1 = 0 OR tenant_id = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id";

/* ---- operators ---- */

static tw_rc op_row(sqlite3_stmt *st, struct store_operator *o, struct tw_error *err)
{
	int64_t roles;
	tw_rc rc;

	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(st, 0);
	o->tenant_id = sqlite3_column_int64(st, 1);
	if ((rc = SQ_COL_TEXT(st, 2, o, tenant, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, o, name, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, o, status, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 6, o, factor, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, o, secret, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 9, o, cert_fingerprint, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 10, o, cert_serial, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 12, o, cert_status, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 14, o, created_by, err)) != TW_OK)
		return rc;
	roles = sqlite3_column_int64(st, 4);
	if (roles < 0 || roles > (int64_t)UINT32_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "operator %s: stored roles out of range",
			o->name);
	o->roles = (uint32_t)roles;
	o->totp_last_step = sqlite3_column_int64(st, 8);
	o->cert_not_after = sqlite3_column_int64(st, 11);
	o->created_ms = sqlite3_column_int64(st, 13);
	return TW_OK;
}

static tw_rc sa_operator_insert(void *be, const struct store_operator *op, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, op->tenant_id);
	sqlite3_bind_text(st, 2, op->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)op->roles);
	sqlite3_bind_text(st, 4, op->status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, op->factor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, op->secret, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, op->totp_last_step);
	sqlite3_bind_text(st, 8, op->cert_fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, op->cert_serial, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, op->cert_not_after);
	sqlite3_bind_text(st, 11, op->cert_status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, op->created_ms);
	sqlite3_bind_text(st, 13, op->created_by, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "adding an operator");
		if (rc == TW_E_EXISTS)
			tw_error_set(err, rc, "an operator named \"%s\" or with that certificate "
				"exists already", op->name);
		goto out;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_operator_get(void *be, int by, const char *key, int64_t id,
	struct store_operator *out, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	const char *sql = by == STORE_OPERATOR_BY_NAME ? SQL_OP_BY_NAME :
		by == STORE_OPERATOR_BY_FINGERPRINT ? SQL_OP_BY_FP : SQL_OP_BY_ID;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, sql, &st, err)) != TW_OK)
		goto out;
	if (by == STORE_OPERATOR_BY_ID)
		sqlite3_bind_int64(st, 1, id);
	else
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such operator");
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading an operator");
		goto out;
	}
	rc = op_row(st, out, err);
out:
	sq_done(s, st);
	return rc;
}

/* Run an UPDATE bound by the caller; TW_E_NOT_FOUND when it changed no row. */
static tw_rc sa_update(struct sq *s, sqlite3_stmt *st, const char *doing, int *changes,
	struct tw_error *err)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return sq_step_fail(s, err, doing);
	*changes = sqlite3_changes(s->db);
	return TW_OK;
}

static tw_rc sa_operator_set_roles(void *be, int64_t id, uint32_t roles, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_ROLES, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (int64_t)roles);
	if ((rc = sa_update(s, st, "changing an operator's roles", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_operator_set_status(void *be, int64_t id, const char *status,
	const char *cert_status, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_STATUS, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cert_status, -1, SQLITE_STATIC);
	if ((rc = sa_update(s, st, "changing an operator's status", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_operator_set_secret(void *be, int64_t id, const char *secret,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_SECRET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, secret, -1, SQLITE_STATIC);
	rc = sa_update(s, st, "replacing an operator's secret", &changes, err);
	if (rc == TW_OK && changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no operator with id %lld", (long long)id);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_operator_use_totp_step(void *be, int64_t id, int64_t step,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_TOTP, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, step);
	if ((rc = sa_update(s, st, "recording a TOTP step", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_DENIED, "this TOTP code was used already; wait for the "
			"next one");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_operator_foreach(void *be, int64_t tenant_id, store_operator_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_operator o;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_OP_ALL, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, tenant_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int stop;

		if ((rc = op_row(st, &o, err)) != TW_OK)
			goto out;
		stop = cb(&o, arg);
		memset(&o, 0, sizeof(o));   /* the row held a second-factor secret */
		if (stop != 0) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? TW_OK : sq_step_fail(s, err, "listing operators");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_tenant_name(void *be, int64_t id, char *name, size_t size, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_TENANT_NAME, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no tenant with id %lld", (long long)id);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading a tenant");
		goto out;
	}
	rc = sq_col_text(st, 0, name, size, "tenant name", err);
out:
	sq_done(s, st);
	return rc;
}

/* ---- sessions ---- */

static tw_rc sa_session_insert(void *be, const struct store_session *ses, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_SES_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, ses->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ses->operator_id);
	sqlite3_bind_blob(st, 3, ses->secret_hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ses->cert_fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, ses->client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, ses->created_ms);
	sqlite3_bind_int64(st, 7, ses->expires_ms);
	rc = sqlite3_step(st) == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "storing a session");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_session_get(void *be, const char *id, struct store_session *out,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_SES_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such session");
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading a session");
		goto out;
	}
	if ((rc = SQ_COL_TEXT(st, 0, out, id, err)) != TW_OK ||
	    (rc = sq_col_hash(st, 2, out->secret_hash, "session hash", err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, out, cert_fingerprint, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, out, client, err)) != TW_OK)
		goto out;
	out->operator_id = sqlite3_column_int64(st, 1);
	out->created_ms = sqlite3_column_int64(st, 5);
	out->expires_ms = sqlite3_column_int64(st, 6);
	out->revoked_ms = sqlite3_column_int64(st, 7);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_session_revoke(void *be, const char *id, int64_t when_ms, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_SES_REVOKE, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, when_ms);
	if ((rc = sa_update(s, st, "revoking a session", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no such live session");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_session_revoke_operator(void *be, int64_t operator_id, int64_t when_ms,
	int *count, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	*count = 0;
	if ((rc = sq_prepare(s, SQL_SES_REVOKE_OP, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, operator_id);
	sqlite3_bind_int64(st, 2, when_ms);
	rc = sa_update(s, st, "revoking an operator's sessions", count, err);
out:
	sq_done(s, st);
	return rc;
}

/* ---- failures ---- */

static tw_rc sa_failure_get(void *be, const char *kind, const char *subject,
	struct store_auth_failure *out, bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_FAIL_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->window_ms = sqlite3_column_int64(st, 0);
		out->count = sqlite3_column_int64(st, 1);
		out->alerted = sqlite3_column_int64(st, 2) != 0;
		*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a failed-login counter");
	}
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_failure_put(void *be, const char *kind, const char *subject,
	const struct store_auth_failure *f, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_FAIL_PUT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, f->window_ms);
	sqlite3_bind_int64(st, 4, f->count);
	sqlite3_bind_int(st, 5, f->alerted ? 1 : 0);
	rc = sqlite3_step(st) == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "storing a failed-login counter");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_failure_clear(void *be, const char *kind, const char *subject,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_FAIL_CLEAR, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
	rc = sqlite3_step(st) == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "clearing a failed-login counter");
out:
	sq_done(s, st);
	return rc;
}

/* ---- approvals ---- */

static tw_rc ap_row(sqlite3_stmt *st, struct store_approval *a, struct tw_error *err)
{
	tw_rc rc;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->tenant_id = sqlite3_column_int64(st, 1);
	if ((rc = SQ_COL_TEXT(st, 2, a, action, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, a, params, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, a, reason, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, a, requester, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, a, state, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 10, a, decided_by, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 12, a, decision_reason, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 13, a, result, err)) != TW_OK)
		return rc;
	a->requester_id = sqlite3_column_int64(st, 6);
	a->created_ms = sqlite3_column_int64(st, 8);
	a->expires_ms = sqlite3_column_int64(st, 9);
	a->decided_ms = sqlite3_column_int64(st, 11);
	return TW_OK;
}

static tw_rc sa_approval_insert(void *be, const struct store_approval *a, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_AP_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, a->tenant_id);
	sqlite3_bind_text(st, 2, a->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a->params, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, a->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->requester, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, a->requester_id);
	sqlite3_bind_text(st, 7, a->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, a->created_ms);
	sqlite3_bind_int64(st, 9, a->expires_ms);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing an approval request");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_approval_get(void *be, int64_t id, struct store_approval *out,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_AP_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no approval request %lld", (long long)id);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading an approval request");
		goto out;
	}
	rc = ap_row(st, out, err);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_approval_finish(void *be, int64_t id, const char *state, const char *result,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_AP_FINISH, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, result, -1, SQLITE_STATIC);
	if ((rc = sa_update(s, st, "recording an approval's outcome", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0) {
		struct store_approval cur;

		sq_done(s, st);
		st = NULL;
		rc = sa_approval_get(be, id, &cur, err);
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s, not "
				"executed", (long long)id, cur.state);
	}
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_approval_decide(void *be, int64_t id, const struct store_approval *d,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int changes = 0;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_AP_DECIDE, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, d->state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->decided_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->decided_ms);
	sqlite3_bind_text(st, 5, d->decision_reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, d->result, -1, SQLITE_STATIC);
	if ((rc = sa_update(s, st, "deciding an approval request", &changes, err)) != TW_OK)
		goto out;
	if (changes == 0) {
		struct store_approval cur;

		sq_done(s, st);
		st = NULL;
		rc = sa_approval_get(be, id, &cur, err);
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_EXISTS, "approval request %lld is %s already",
				(long long)id, cur.state);
	}
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sa_approval_foreach(void *be, int64_t tenant_id, const char *state,
	store_approval_cb cb, void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_approval a;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_AP_ALL, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_int64(st, 1, tenant_id);
	if (state == NULL)
		sqlite3_bind_null(st, 2);
	else
		sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = ap_row(st, &a, err)) != TW_OK)
			goto out;
		if (cb(&a, arg) != 0) {
			step = SQLITE_DONE;
			break;
		}
	}
	rc = step == SQLITE_DONE ? TW_OK : sq_step_fail(s, err, "listing approval requests");
out:
	sq_done(s, st);
	return rc;
}

const struct store_auth_ops store_sqlite_auth_ops = {
	.operator_insert = sa_operator_insert,
	.operator_get = sa_operator_get,
	.operator_set_roles = sa_operator_set_roles,
	.operator_set_status = sa_operator_set_status,
	.operator_use_totp_step = sa_operator_use_totp_step,
	.operator_set_secret = sa_operator_set_secret,
	.operator_foreach = sa_operator_foreach,
	.tenant_name = sa_tenant_name,
	.session_insert = sa_session_insert,
	.session_get = sa_session_get,
	.session_revoke = sa_session_revoke,
	.session_revoke_operator = sa_session_revoke_operator,
	.failure_get = sa_failure_get,
	.failure_put = sa_failure_put,
	.failure_clear = sa_failure_clear,
	.approval_insert = sa_approval_insert,
	.approval_get = sa_approval_get,
	.approval_decide = sa_approval_decide,
	.approval_finish = sa_approval_finish,
	.approval_foreach = sa_approval_foreach,
};
