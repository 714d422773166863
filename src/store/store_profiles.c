/*
 * store_profiles.c: the public store_profiles.h API. Checks every argument once, before
 * any SQL runs (so bad input changes nothing and is never truncated), then runs its SQL,
 * written once for both drivers, through the db.h helpers.
 */
#include "store/store_profiles.h"

#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

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
	"WHERE CAST(?1 AS TEXT) IS NULL OR gateway_id = ?1 ORDER BY gateway_id, emt_id";
static const char SQL_MSG_INSERT[] =
	"INSERT INTO gateway_messages (gateway_id, kind, type, severity, gateway_time, "
	"received_ms, message, actions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id";
static const char SQL_MSG_ALL[] =
	"SELECT id, gateway_id, kind, type, severity, gateway_time, received_ms, message, "
	"actions FROM gateway_messages WHERE (CAST(?1 AS TEXT) IS NULL OR gateway_id = ?1) "
	"AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) ORDER BY id";
static const char SQL_LOG_INSERT[] =
	"INSERT INTO gateway_logs (gateway_id, kind, seq, time, message, signature, verified, "
	"cert_fingerprint, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_LOG_ALL[] =
	"SELECT gateway_id, kind, seq, time, message, signature, verified, cert_fingerprint, "
	"received_ms FROM gateway_logs WHERE gateway_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR kind = ?2) "
	"ORDER BY kind, seq";
static const char SQL_SIG_CERT[] =
	"SELECT der FROM certificates WHERE owner_kind = 'smgw' AND owner_id = ?1 "
	"AND usage = 'SIG' AND status = 'valid' ORDER BY not_after DESC LIMIT 1";



/* ---- desired profiles ---- */

static tw_rc sp_profile_row(struct db_stmt *st, struct store_profile *p,
	struct tw_error *err)
{
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	if ((rc = DB_COL_TEXT(st, 0, p, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, p, profile_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, p, type, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, p, hash, err)) != TW_OK)
		return rc;
	p->updated_ms = db_column_int64(st, 4);
	return db_col_dup(st, 5, STORE_PROFILE_DOC_MAX, "profile document", &p->doc, err);
}

/* ---- reported set ---- */

/* ---- EMT authorisations ---- */

static tw_rc sp_emt_foreach(struct db *s, const char *gw, store_emt_cb cb, void *arg,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	char g[STORE_ID_MAX + 1], e[STORE_ID_MAX + 1];
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(s, SQL_EMT_ALL, &st, &row, "listing EMT authorisations", err, "t",
	     gw); rc == TW_OK && row; rc = db_next(st, &row, "listing EMT authorisations", err)) {
		if ((rc = db_col_text(st, 0, g, sizeof(g), "gateway_id", err)) != TW_OK ||
		    (rc = db_col_text(st, 1, e, sizeof(e), "emt_id", err)) != TW_OK ||
		    cb(g, e, db_column_int64(st, 2), arg) != 0)
			break;
	}
	db_done(s, st);
	return rc;
}

/* ---- gateway messages ---- */

/* ---- gateway logs ---- */

static tw_rc sp_sig_cert(struct db *s, const char *gw, unsigned char **der, size_t *der_len,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row = false;
	const void *b;
	int n;
	tw_rc rc = db_fetch(s, SQL_SIG_CERT, &st, &row, "reading a SIG certificate", err, "t",
		gw);

	if (rc != TW_OK)
		return rc;
	b = row ? db_column_blob(st, 0) : NULL;
	n = row ? db_column_bytes(st, 0) : 0;
	if (!row)
		rc = tw_error_set(err, TW_E_NOT_FOUND,
			"gateway %s has no valid SIG certificate in the inventory", gw);
	else if (b == NULL || n <= 0 || n > STORE_CERT_MAX)
		rc = tw_error_set(err, TW_E_INTEGRITY, "stored SIG certificate of %s is %d bytes",
			gw, n);
	else if ((*der = malloc((size_t)n)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else {
		memcpy(*der, b, (size_t)n);
		*der_len = (size_t)n;
	}
	db_done(s, st);
	return rc;
}

static bool sp_hex64(const char *h)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	}
	return h[64] == '\0';
}

/* ---- desired profiles ---- */

void store_profile_clear(struct store_profile *p)
{
	if (p == NULL)
		return;
	free(p->doc);
	memset(p, 0, sizeof(*p));
}

tw_rc store_profile_put(struct tw_store *store, const struct store_profile *p,
	bool *replaced, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool exists = false;
	tw_rc rc;

	if (replaced != NULL)
		*replaced = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (p == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_put: no profile");
	if ((rc = STORE_CHECK_MEMBER(p, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, profile_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, type, true, err)) != TW_OK ||
	    (rc = store_check_text(p->doc, STORE_PROFILE_DOC_MAX, "profile document", err)) != TW_OK)
		return rc;
	if (!sp_hex64(p->hash))
		return tw_error_set(err, TW_E_INVALID, "profile hash must be 64 lower-case hex digits");
	if ((rc = db_exists(db, SQL_PROFILE_EXISTS, &exists, "looking up a profile", err, "tt",
	    p->gateway_id, p->profile_id)) != TW_OK)
		return rc;
	if (replaced != NULL)
		*replaced = exists;
	rc = db_run(db, SQL_PROFILE_PUT, NULL, "storing a profile", err, "ttttti",
		p->gateway_id, p->profile_id, p->type, p->doc, p->hash, p->updated_ms);
	if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, rc, "gateway \"%s\" is not registered", p->gateway_id);
	return rc;
}

tw_rc store_profile_get(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct store_profile *out, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_get: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(profile_id, STORE_ID_MAX, "profile id", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	bool row = false;

	if ((rc = db_fetch(db, SQL_PROFILE_GET, &st, &row, "reading a profile", err, "tt",
	    gateway_id, profile_id)) != TW_OK)
		return rc;
	if (!row)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no profile \"%s\"",
			gateway_id, profile_id);
	else if ((rc = sp_profile_row(st, out, err)) != TW_OK)
		store_profile_clear(out);
	db_done(db, st);
	return rc;
}

tw_rc store_profile_delete(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(profile_id, STORE_ID_MAX, "profile id", err)) != TW_OK)
		return rc;
	int64_t changes = 0;

	if ((rc = db_run(db, SQL_PROFILE_DELETE, &changes, "deleting a profile", err, "tt",
	    gateway_id, profile_id)) != TW_OK)
		return rc;
	return changes == 0 ? tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no profile "
		"\"%s\"", gateway_id, profile_id) : TW_OK;
}

tw_rc store_profile_foreach(struct tw_store *store, const char *gateway_id,
	store_profile_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_foreach: no callback");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	struct store_profile p;
	struct db_stmt *st = NULL;
	bool row = false, stop = false;

	memset(&p, 0, sizeof(p));
	for (rc = db_fetch(db, SQL_PROFILE_ALL, &st, &row, "listing profiles", err, "t",
	     gateway_id); rc == TW_OK && row; rc = db_next(st, &row, "listing profiles", err)) {
		if ((rc = sp_profile_row(st, &p, err)) == TW_OK)
			stop = cb(&p, arg) != 0;
		store_profile_clear(&p);   /* the callback borrowed the document */
		if (rc != TW_OK || stop)
			break;
	}
	db_done(db, st);
	return rc;
}

/* ---- reported set ---- */

void store_profile_report_clear(struct store_profile_report *r)
{
	if (r == NULL)
		return;
	free(r->profiles);
	memset(r, 0, sizeof(*r));
}

tw_rc store_profile_report_put(struct tw_store *store, const struct store_profile_report *r,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (r == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_report_put: no report");
	if ((rc = STORE_CHECK_MEMBER(r, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, source, true, err)) != TW_OK ||
	    (rc = store_check_text(r->profiles, STORE_PROFILE_LIST_MAX, "reported profile list", err)) !=
	    TW_OK)
		return rc;
	if (!sp_hex64(r->set_hash))
		return tw_error_set(err, TW_E_INVALID,
			"reported profile-set hash must be 64 lower-case hex digits");
	return db_run(db, SQL_REPORT_PUT, NULL, "storing the reported profile set", err, "tttit",
		r->gateway_id, r->set_hash, r->profiles, r->reported_ms, r->source);
}

tw_rc store_profile_report_get(struct tw_store *store, const char *gateway_id,
	struct store_profile_report *out, bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_report_get: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	bool row = false;

	if ((rc = db_fetch(db, SQL_REPORT_GET, &st, &row, "reading the reported profile set",
	    err, "t", gateway_id)) != TW_OK || !row)
		goto out;
	if ((rc = DB_COL_TEXT(st, 0, out, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, out, set_hash, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, out, source, err)) != TW_OK)
		goto out;
	out->reported_ms = db_column_int64(st, 2);
	if ((rc = db_col_dup(st, 4, STORE_PROFILE_LIST_MAX, "reported profile list",
	    &out->profiles, err)) != TW_OK)
		goto out;
	*found = true;
out:
	if (rc != TW_OK)
		store_profile_report_clear(out);
	db_done(db, st);
	return rc;
}

/* ---- EMT authorisations ---- */

tw_rc store_emt_authorise(struct tw_store *store, const char *gateway_id,
	const char *emt_id, int64_t when_ms, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	rc = db_run(db, SQL_EMT_INSERT, NULL, "authorising an EMT", err, "tti", gateway_id,
		emt_id, when_ms);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "EMT %s is already authorised for gateway %s", emt_id,
			gateway_id);
	else if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, rc, "gateway \"%s\" is not registered", gateway_id);
	return rc;
}

tw_rc store_emt_revoke(struct tw_store *store, const char *gateway_id, const char *emt_id,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	int64_t changes = 0;

	if ((rc = db_run(db, SQL_EMT_DELETE, &changes, "revoking an EMT authorisation", err,
	    "tt", gateway_id, emt_id)) != TW_OK)
		return rc;
	return changes == 0 ? tw_error_set(err, TW_E_NOT_FOUND,
		"EMT %s is not authorised for gateway %s", emt_id, gateway_id) : TW_OK;
}

tw_rc store_emt_is_authorised(struct tw_store *store, const char *gateway_id,
	const char *emt_id, bool *yes, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (yes != NULL)
		*yes = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (yes == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_emt_is_authorised: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	return db_exists(db, SQL_EMT_GET, yes, "checking an EMT authorisation", err, "tt",
		gateway_id, emt_id);
}

/* A tenant-scoped handle (store_scope_tenant) sees only its own gateways' EMTs. */
struct sp_emt_scope {
	struct tw_store *store;
	store_emt_cb cb;
	void *arg;
};

static int sp_emt_scope_filter(const char *gateway_id, const char *emt_id, int64_t created_ms,
	void *arg)
{
	const struct sp_emt_scope *s = arg;
	struct store_gateway gw;
	struct tw_error ignore;

	if (store_gateway_get(s->store, gateway_id, &gw, &ignore) != TW_OK)
		return 0;   /* another tenant's gateway (or gone): not listed */
	return s->cb(gateway_id, emt_id, created_ms, s->arg);
}

tw_rc store_emt_foreach(struct tw_store *store, const char *gateway_id, store_emt_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_emt_foreach: no callback");
	if (gateway_id != NULL &&
	    (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (store->scope_tenant != 0) {
		struct sp_emt_scope scope = { store, cb, arg };

		return sp_emt_foreach(db, gateway_id, sp_emt_scope_filter, &scope, err);
	}
	return sp_emt_foreach(db, gateway_id, cb, arg, err);
}

/* ---- gateway messages ---- */

tw_rc store_gateway_message_insert(struct tw_store *store,
	const struct store_gateway_message *m, int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (m == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_message_insert: no message");
	if ((rc = STORE_CHECK_MEMBER(m, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, severity, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, gateway_time, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, message, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, actions, false, err)) != TW_OK)
		return rc;
	/* id may be NULL: the new id is then read and dropped. */
	return db_insert(db, SQL_MSG_INSERT, id, "storing a gateway message", err, "tttttitt",
		m->gateway_id, m->kind, m->type, m->severity, m->gateway_time, m->received_ms,
		m->message, m->actions);
}

tw_rc store_gateway_message_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_message_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_message_foreach: no callback");
	if ((gateway_id != NULL &&
	     (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK) ||
	    (kind != NULL && (rc = store_check_text(kind, 15, "message kind", err)) != TW_OK))
		return rc;
	struct store_gateway_message m;
	struct db_stmt *st = NULL;
	bool row = false;

	for (rc = db_fetch(db, SQL_MSG_ALL, &st, &row, "listing gateway messages", err, "tt",
	     gateway_id, kind); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing gateway messages", err)) {
		memset(&m, 0, sizeof(m));
		m.id = db_column_int64(st, 0);
		if ((rc = DB_COL_TEXT(st, 1, &m, gateway_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &m, kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &m, type, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, &m, severity, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, &m, gateway_time, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 7, &m, message, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 8, &m, actions, err)) != TW_OK)
			break;
		m.received_ms = db_column_int64(st, 6);
		if (cb(&m, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

/* ---- gateway logs ---- */

tw_rc store_gateway_log_insert(struct tw_store *store, const struct store_gateway_log *l,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (l == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_log_insert: no entry");
	if ((rc = STORE_CHECK_MEMBER(l, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, time, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, message, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, cert_fingerprint, false, err)) != TW_OK)
		return rc;
	if (l->seq <= 0)
		return tw_error_set(err, TW_E_INVALID, "log entry sequence number must be positive");
	if (l->signature_len == 0 || l->signature_len > sizeof(l->signature))
		return tw_error_set(err, TW_E_INVALID, "log entry signature is empty or too long");
	return db_run(db, SQL_LOG_INSERT, NULL, "storing a gateway log entry", err, "ttittbiti",
		l->gateway_id, l->kind, l->seq, l->time, l->message, (const void *)l->signature,
		(size_t)l->signature_len, (int64_t)(l->verified ? 1 : 0), l->cert_fingerprint,
		l->received_ms);
}

tw_rc store_gateway_log_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_log_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_log_foreach: no callback");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (kind != NULL && (rc = store_check_text(kind, 15, "log kind", err)) != TW_OK))
		return rc;
	struct store_gateway_log l;
	struct db_stmt *st = NULL;
	bool row = false;

	for (rc = db_fetch(db, SQL_LOG_ALL, &st, &row, "listing gateway log entries", err, "tt",
	     gateway_id, kind); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing gateway log entries", err)) {
		const void *sig = db_column_blob(st, 5);
		int n = db_column_bytes(st, 5);

		memset(&l, 0, sizeof(l));
		if ((rc = DB_COL_TEXT(st, 0, &l, gateway_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 1, &l, kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &l, time, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, &l, message, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 7, &l, cert_fingerprint, err)) != TW_OK)
			break;
		if (sig == NULL || n <= 0 || (size_t)n > sizeof(l.signature)) {
			rc = tw_error_set(err, TW_E_INTEGRITY,
				"stored log signature of %s is %d bytes (edited database?)", gateway_id, n);
			break;
		}
		memcpy(l.signature, sig, (size_t)n);
		l.signature_len = (size_t)n;
		l.seq = db_column_int64(st, 2);
		l.verified = db_column_int64(st, 6) == 1;
		l.received_ms = db_column_int64(st, 8);
		if (cb(&l, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_gateway_sig_cert(struct tw_store *store, const char *gateway_id,
	unsigned char **der, size_t *der_len, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (der == NULL || der_len == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_sig_cert: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return sp_sig_cert(db, gateway_id, der, der_len, err);
}
