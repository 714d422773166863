/*
 * sqlite_profiles.c: the SQL of profile management and gateway monitoring
 * (store_profiles.h, migration 0004_profiles.sql) for the SQLite backend.
 *
 * Arguments were validated by store_profiles.c. Everything read back is checked against
 * the struct limits like outside input (an edited database is TW_E_INTEGRITY, never an
 * overflow).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_profiles.h"

static const char SQL_PROFILE_EXISTS[] =
	"SELECT 1 FROM profiles WHERE gateway_id = ?1 AND profile_id = ?2";
static const char SQL_PROFILE_PUT[] =
	"INSERT INTO profiles (gateway_id, profile_id, type, doc, hash, updated_ms) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (gateway_id, profile_id) DO UPDATE SET "
	"type = excluded.type, doc = excluded.doc, hash = excluded.hash, "
	"updated_ms = excluded.updated_ms";
static const char SQL_PROFILE_GET[] =
	"SELECT gateway_id, profile_id, type, hash, updated_ms, doc FROM profiles "
	"WHERE gateway_id = ?1 AND profile_id = ?2";
static const char SQL_PROFILE_DELETE[] =
	"DELETE FROM profiles WHERE gateway_id = ?1 AND profile_id = ?2";
static const char SQL_PROFILE_ALL[] =
	"SELECT gateway_id, profile_id, type, hash, updated_ms, doc FROM profiles "
	"WHERE gateway_id = ?1 ORDER BY profile_id";
static const char SQL_REPORT_PUT[] =
	"INSERT INTO profile_reported (gateway_id, set_hash, profiles, reported_ms, source) "
	"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (gateway_id) DO UPDATE SET "
	"set_hash = excluded.set_hash, profiles = excluded.profiles, "
	"reported_ms = excluded.reported_ms, source = excluded.source";
static const char SQL_REPORT_GET[] =
	"SELECT gateway_id, set_hash, reported_ms, source, profiles FROM profile_reported "
	"WHERE gateway_id = ?1";
static const char SQL_EMT_INSERT[] =
	"INSERT INTO emt_authorisations (gateway_id, emt_id, created_ms) VALUES (?1, ?2, ?3)";
static const char SQL_EMT_DELETE[] =
	"DELETE FROM emt_authorisations WHERE gateway_id = ?1 AND emt_id = ?2";
static const char SQL_EMT_GET[] =
	"SELECT 1 FROM emt_authorisations WHERE gateway_id = ?1 AND emt_id = ?2";
static const char SQL_EMT_ALL[] =
	"SELECT gateway_id, emt_id, created_ms FROM emt_authorisations "
	"WHERE ?1 IS NULL OR gateway_id = ?1 ORDER BY gateway_id, emt_id";
static const char SQL_MSG_INSERT[] =
	"INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, "
	"received_ms, message, actions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_MSG_ALL[] =
	"SELECT id, gateway_id, kind, type, severity, gateway_time, received_ms, message, "
	"actions FROM gateway_messages WHERE (?1 IS NULL OR gateway_id = ?1) "
	"AND (?2 IS NULL OR kind = ?2) ORDER BY id";
static const char SQL_LOG_INSERT[] =
	"INSERT INTO gateway_logs (gateway_id, kind, seq, time, message, signature, verified, "
	"cert_fingerprint, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_LOG_ALL[] =
	"SELECT gateway_id, kind, seq, time, message, signature, verified, cert_fingerprint, "
	"received_ms FROM gateway_logs WHERE gateway_id = ?1 AND (?2 IS NULL OR kind = ?2) "
	"ORDER BY kind, seq";
static const char SQL_SIG_CERT[] =
	"SELECT der FROM certificates WHERE owner_kind = 'smgw' AND owner_id = ?1 "
	"AND usage = 'SIG' AND status = 'valid' ORDER BY not_after DESC LIMIT 1";

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/* A freshly allocated copy of a text column of at most max bytes. */
static tw_rc col_dup(struct sq *s, sqlite3_stmt *st, int col, size_t max, const char *what,
	char **out, struct tw_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	(void)s;
	*out = NULL;
	if (n > max)
		return tw_error_set(err, TW_E_INTEGRITY,
			"stored %s is %zu bytes, more than the limit of %zu (edited database?)", what,
			n, max);
	if ((*out = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading %s", what);
	if (n > 0 && t != NULL)
		memcpy(*out, t, n);
	(*out)[n] = '\0';
	return TW_OK;
}

/* ---- desired profiles ---- */

static tw_rc sp_profile_row(struct sq *s, sqlite3_stmt *st, struct store_profile *p,
	struct tw_error *err)
{
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	if ((rc = SQ_COL_TEXT(st, 0, p, gateway_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 1, p, profile_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, p, type, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, p, hash, err)) != TW_OK)
		return rc;
	p->updated_ms = sqlite3_column_int64(st, 4);
	return col_dup(s, st, 5, STORE_PROFILE_DOC_MAX, "profile document", &p->doc, err);
}

static tw_rc sp_profile_put(void *be, const struct store_profile *p, bool *replaced,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_PROFILE_EXISTS, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, p->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->profile_id, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "looking up a profile");
		goto out;
	}
	if (replaced != NULL)
		*replaced = step == SQLITE_ROW;
	sq_done(s, st);
	st = NULL;
	if ((rc = sq_prepare(s, SQL_PROFILE_PUT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, p->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->profile_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, p->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, p->doc, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, p->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, p->updated_ms);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing a profile");
		if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "gateway \"%s\" is not registered", p->gateway_id);
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_profile_get(void *be, const char *gw, const char *pid,
	struct store_profile *out, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_PROFILE_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pid, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no profile \"%s\"", gw, pid);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading a profile");
		goto out;
	}
	if ((rc = sp_profile_row(s, st, out, err)) != TW_OK)
		store_profile_clear(out);
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_profile_delete(void *be, const char *gw, const char *pid,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_PROFILE_DELETE, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "deleting a profile");
		goto out;
	}
	rc = sqlite3_changes(s->db) == 0 ?
		tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no profile \"%s\"", gw, pid) : TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_profile_foreach(void *be, const char *gw, store_profile_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	struct store_profile p;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	memset(&p, 0, sizeof(p));
	if ((rc = sq_prepare(s, SQL_PROFILE_ALL, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = sp_profile_row(s, st, &p, err)) != TW_OK)
			goto out;
		if (cb(&p, arg) != 0)
			break;
		store_profile_clear(&p);
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "listing profiles");
		goto out;
	}
	rc = TW_OK;
out:
	store_profile_clear(&p);
	sq_done(s, st);
	return rc;
}

/* ---- reported set ---- */

static tw_rc sp_report_put(void *be, const struct store_profile_report *r,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_REPORT_PUT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, r->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->set_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->profiles, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->reported_ms);
	sqlite3_bind_text(st, 5, r->source, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing the reported profile set");
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_report_get(void *be, const char *gw, struct store_profile_report *out,
	bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_REPORT_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = TW_OK;
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading the reported profile set");
		goto out;
	}
	if ((rc = SQ_COL_TEXT(st, 0, out, gateway_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 1, out, set_hash, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, out, source, err)) != TW_OK)
		goto out;
	out->reported_ms = sqlite3_column_int64(st, 2);
	if ((rc = col_dup(s, st, 4, STORE_PROFILE_LIST_MAX, "reported profile list",
	    &out->profiles, err)) != TW_OK)
		goto out;
	*found = true;
out:
	if (rc != TW_OK)
		store_profile_report_clear(out);
	sq_done(s, st);
	return rc;
}

/* ---- EMT authorisations ---- */

static tw_rc sp_emt_authorise(void *be, const char *gw, const char *emt, int64_t when_ms,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_EMT_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, emt, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, when_ms);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "authorising an EMT");
		if (rc == TW_E_EXISTS)
			tw_error_set(err, rc, "EMT %s is already authorised for gateway %s", emt, gw);
		else if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "gateway \"%s\" is not registered", gw);
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_emt_revoke(void *be, const char *gw, const char *emt, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_EMT_DELETE, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, emt, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "revoking an EMT authorisation");
		goto out;
	}
	rc = sqlite3_changes(s->db) == 0 ? tw_error_set(err, TW_E_NOT_FOUND,
		"EMT %s is not authorised for gateway %s", emt, gw) : TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_emt_is_authorised(void *be, const char *gw, const char *emt, bool *yes,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_EMT_GET, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, emt, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "checking an EMT authorisation");
		goto out;
	}
	*yes = step == SQLITE_ROW;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_emt_foreach(void *be, const char *gw, store_emt_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	char g[STORE_ID_MAX + 1], e[STORE_ID_MAX + 1];
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_EMT_ALL, &st, err)) != TW_OK)
		goto out;
	bind_opt_text(st, 1, gw);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = sq_col_text(st, 0, g, sizeof(g), "gateway_id", err)) != TW_OK ||
		    (rc = sq_col_text(st, 1, e, sizeof(e), "emt_id", err)) != TW_OK)
			goto out;
		if (cb(g, e, sqlite3_column_int64(st, 2), arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "listing EMT authorisations");
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

/* ---- gateway messages ---- */

static tw_rc sp_message_insert(void *be, const struct store_gateway_message *m, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_MSG_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, m->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->severity, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->gateway_time, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, m->received_ms);
	sqlite3_bind_text(st, 7, m->message, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, m->actions, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing a gateway message");
		goto out;
	}
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_message_foreach(void *be, const char *gw, const char *kind,
	store_gateway_message_cb cb, void *arg, struct tw_error *err)
{
	struct sq *s = be;
	struct store_gateway_message m;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_MSG_ALL, &st, err)) != TW_OK)
		goto out;
	bind_opt_text(st, 1, gw);
	bind_opt_text(st, 2, kind);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&m, 0, sizeof(m));
		m.id = sqlite3_column_int64(st, 0);
		if ((rc = SQ_COL_TEXT(st, 1, &m, gateway_id, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 2, &m, kind, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 3, &m, type, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 4, &m, severity, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 5, &m, gateway_time, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 7, &m, message, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 8, &m, actions, err)) != TW_OK)
			goto out;
		m.received_ms = sqlite3_column_int64(st, 6);
		if (cb(&m, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "listing gateway messages");
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

/* ---- gateway logs ---- */

static tw_rc sp_log_insert(void *be, const struct store_gateway_log *l, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_LOG_INSERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, l->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, l->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, l->seq);
	sqlite3_bind_text(st, 4, l->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, l->message, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 6, l->signature, (int)l->signature_len, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, l->verified ? 1 : 0);
	sqlite3_bind_text(st, 8, l->cert_fingerprint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, l->received_ms);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing a gateway log entry");
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_log_foreach(void *be, const char *gw, const char *kind,
	store_gateway_log_cb cb, void *arg, struct tw_error *err)
{
	struct sq *s = be;
	struct store_gateway_log l;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_LOG_ALL, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	bind_opt_text(st, 2, kind);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const void *sig = sqlite3_column_blob(st, 5);
		int n = sqlite3_column_bytes(st, 5);

		memset(&l, 0, sizeof(l));
		if ((rc = SQ_COL_TEXT(st, 0, &l, gateway_id, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 1, &l, kind, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 3, &l, time, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 4, &l, message, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 7, &l, cert_fingerprint, err)) != TW_OK)
			goto out;
		if (sig == NULL || n <= 0 || (size_t)n > sizeof(l.signature)) {
			rc = tw_error_set(err, TW_E_INTEGRITY,
				"stored log signature of %s is %d bytes (edited database?)", gw, n);
			goto out;
		}
		memcpy(l.signature, sig, (size_t)n);
		l.signature_len = (size_t)n;
		l.seq = sqlite3_column_int64(st, 2);
		l.verified = sqlite3_column_int(st, 6) == 1;
		l.received_ms = sqlite3_column_int64(st, 8);
		if (cb(&l, arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "listing gateway log entries");
		goto out;
	}
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sp_sig_cert(void *be, const char *gw, unsigned char **der, size_t *der_len,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	const void *b;
	int step, n;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_SIG_CERT, &st, err)) != TW_OK)
		goto out;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND,
			"gateway %s has no valid SIG certificate in the inventory", gw);
		goto out;
	}
	if (step != SQLITE_ROW) {
		rc = sq_step_fail(s, err, "reading a SIG certificate");
		goto out;
	}
	b = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	if (b == NULL || n <= 0 || n > STORE_CERT_MAX) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "stored SIG certificate of %s is %d bytes",
			gw, n);
		goto out;
	}
	if ((*der = malloc((size_t)n)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, b, (size_t)n);
	*der_len = (size_t)n;
	rc = TW_OK;
out:
	sq_done(s, st);
	return rc;
}

const struct store_profiles_ops store_sqlite_profiles_ops = {
	.profile_put = sp_profile_put,
	.profile_get = sp_profile_get,
	.profile_delete = sp_profile_delete,
	.profile_foreach = sp_profile_foreach,
	.report_put = sp_report_put,
	.report_get = sp_report_get,
	.emt_authorise = sp_emt_authorise,
	.emt_revoke = sp_emt_revoke,
	.emt_is_authorised = sp_emt_is_authorised,
	.emt_foreach = sp_emt_foreach,
	.message_insert = sp_message_insert,
	.message_foreach = sp_message_foreach,
	.log_insert = sp_log_insert,
	.log_foreach = sp_log_foreach,
	.sig_cert = sp_sig_cert,
};
