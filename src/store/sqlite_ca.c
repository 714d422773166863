/*
 * sqlite_ca.c: the SQL of the Sub-CA engine (store_ca.h, migration 0002_ca.sql) for the
 * SQLite backend. Arguments were validated by store_ca.c; everything read back is checked
 * against the struct limits like outside input (an edited database is TW_E_INTEGRITY).
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_ca.h"

static const char SQL_P_INSERT[] =
	"INSERT INTO ca_participants (name, organisation, role, market_partner_id, common_name, "
	"email, gateway_id, device_serial, created_ms, created_by) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
#define P_COLS "name, organisation, role, market_partner_id, common_name, email, " \
	"gateway_id, device_serial, created_ms, created_by"
static const char SQL_P_GET[] = "SELECT " P_COLS " FROM ca_participants WHERE name = ?1";
static const char SQL_P_ALL[] = "SELECT " P_COLS " FROM ca_participants ORDER BY name";
static const char SQL_R_INSERT[] =
	"INSERT INTO ca_requests (digest, participant, kind, state, subject, received_ms, "
	"decided_ms, decided_by, reason, der) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
#define R_COLS "id, digest, participant, kind, state, subject, received_ms, decided_ms, " \
	"decided_by, reason"
static const char SQL_R_GET[] = "SELECT " R_COLS ", der FROM ca_requests WHERE id = ?1";
static const char SQL_R_ALL[] = "SELECT " R_COLS " FROM ca_requests "
	"WHERE ?1 IS NULL OR state = ?1 ORDER BY id";
static const char SQL_R_MOVE[] =
	"UPDATE ca_requests SET state = ?3, decided_ms = ?4, decided_by = ?5, reason = ?6 "
	"WHERE id = ?1 AND state = ?2";
static const char SQL_R_DIGEST[] = "SELECT 1 FROM ca_requests WHERE digest = ?1";
static const char SQL_R_STATE[] = "SELECT state FROM ca_requests WHERE id = ?1";
static const char SQL_C_LINK[] =
	"UPDATE certificates SET request_id = ?3 WHERE issuer = ?1 AND serial_hex = ?2";
#define C_COLS "serial_hex, subject, owner_kind, owner_id, usage, not_before, not_after, " \
	"status, fingerprint, request_id, revoked_ms, revocation_reason"
static const char SQL_C_GET[] = "SELECT " C_COLS ", der FROM certificates "
	"WHERE issuer = ?1 AND serial_hex = ?2";
static const char SQL_C_ALL[] = "SELECT " C_COLS " FROM certificates WHERE issuer = ?1 "
	"ORDER BY id";
static const char SQL_C_REVOKE[] =
	"UPDATE certificates SET status = 'revoked', revoked_ms = ?3, revocation_reason = ?4 "
	"WHERE issuer = ?1 AND serial_hex = ?2 AND status <> 'revoked'";
static const char SQL_C_EXISTS[] =
	"SELECT 1 FROM certificates WHERE issuer = ?1 AND serial_hex = ?2";
static const char SQL_C_REVOKED[] =
	"SELECT serial_hex, revoked_ms, revocation_reason FROM certificates "
	"WHERE issuer = ?1 AND status = 'revoked' ORDER BY id";
static const char SQL_CRL_GET[] =
	"SELECT ca, number, this_update, next_update, entries, sha256, path, dirty "
	"FROM ca_crls WHERE ca = ?1";
static const char SQL_CRL_PUT[] =
	"INSERT INTO ca_crls (ca, number, this_update, next_update, entries, sha256, path, dirty) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0) ON CONFLICT (ca) DO UPDATE SET "
	"number = excluded.number, this_update = excluded.this_update, "
	"next_update = excluded.next_update, entries = excluded.entries, "
	"sha256 = excluded.sha256, path = excluded.path, dirty = 0";
static const char SQL_CRL_DIRTY[] = "UPDATE ca_crls SET dirty = 1 WHERE ca = ?1";

#define BIND_TEXT(st, i, s) sqlite3_bind_text((st), (i), (s), -1, SQLITE_STATIC)

/* A fresh copy of a blob column of at most max bytes. */
static tw_rc col_blob(sqlite3_stmt *st, int col, size_t max, const char *what,
	unsigned char **out, size_t *len, struct tw_error *err)
{
	const void *b = sqlite3_column_blob(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	*out = NULL;
	*len = 0;
	if (n > max)
		return tw_error_set(err, TW_E_INTEGRITY, "stored %s is %zu bytes, over the limit "
			"of %zu (edited database?)", what, n, max);
	if ((*out = malloc(n > 0 ? n : 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading %s", what);
	if (n > 0 && b != NULL)
		memcpy(*out, b, n);
	*len = n;
	return TW_OK;
}

/* Run a statement that returns no rows; "doing" names it in errors. */
static tw_rc run_done(struct sq *s, sqlite3_stmt *st, const char *doing, struct tw_error *err)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		return sq_step_fail(s, err, doing);
	return TW_OK;
}

/* ---- participants ---- */

static tw_rc p_row(sqlite3_stmt *st, struct store_ca_participant *p, struct tw_error *err)
{
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	if ((rc = SQ_COL_TEXT(st, 0, p, name, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 1, p, organisation, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, p, role, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, p, market_partner_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, p, common_name, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, p, email, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 6, p, gateway_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, p, device_serial, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 9, p, created_by, err)) != TW_OK)
		return rc;
	p->created_ms = sqlite3_column_int64(st, 8);
	return TW_OK;
}

static tw_rc sc_participant_insert(void *be, const struct store_ca_participant *p,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_P_INSERT, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, p->name);
	BIND_TEXT(st, 2, p->organisation);
	BIND_TEXT(st, 3, p->role);
	BIND_TEXT(st, 4, p->market_partner_id);
	BIND_TEXT(st, 5, p->common_name);
	BIND_TEXT(st, 6, p->email);
	BIND_TEXT(st, 7, p->gateway_id);
	BIND_TEXT(st, 8, p->device_serial);
	sqlite3_bind_int64(st, 9, p->created_ms);
	BIND_TEXT(st, 10, p->created_by);
	rc = run_done(s, st, "registering a participant", err);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "participant '%s' is already registered", p->name);
	sq_done(s, st);
	return rc;
}

static tw_rc sc_participant_get(void *be, const char *name, struct store_ca_participant *out,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_P_GET, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, name);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = p_row(st, out, err);
	else if (step == SQLITE_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "participant '%s' is not registered "
			"(register it with `torwart ca register`)", name);
	else
		rc = sq_step_fail(s, err, "reading a participant");
	sq_done(s, st);
	return rc;
}

static tw_rc sc_participant_foreach(void *be, store_ca_participant_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_ca_participant p;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_P_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = p_row(st, &p, err)) != TW_OK)
			goto out;
		if (cb(&p, arg) != 0)
			break;
	}
	rc = step == SQLITE_ROW || step == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "listing participants");
out:
	sq_done(s, st);
	return rc;
}

/* ---- requests ---- */

static tw_rc r_row(sqlite3_stmt *st, struct store_ca_request *r, struct tw_error *err)
{
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	if ((rc = SQ_COL_TEXT(st, 1, r, digest, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, r, participant, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, r, kind, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, r, state, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, r, subject, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 8, r, decided_by, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 9, r, reason, err)) != TW_OK)
		return rc;
	r->received_ms = sqlite3_column_int64(st, 6);
	r->decided_ms = sqlite3_column_int64(st, 7);
	return TW_OK;
}

static tw_rc sc_request_insert(void *be, const struct store_ca_request *r, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_R_INSERT, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, r->digest);
	BIND_TEXT(st, 2, r->participant);
	BIND_TEXT(st, 3, r->kind);
	BIND_TEXT(st, 4, r->state);
	BIND_TEXT(st, 5, r->subject);
	sqlite3_bind_int64(st, 6, r->received_ms);
	sqlite3_bind_int64(st, 7, r->decided_ms);
	BIND_TEXT(st, 8, r->decided_by);
	BIND_TEXT(st, 9, r->reason);
	sqlite3_bind_blob(st, 10, r->der, (int)r->der_len, SQLITE_STATIC);
	rc = run_done(s, st, "queueing a request", err);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "a request with digest %.16s... was received before "
			"(replay)", r->digest);
	else if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, rc, "participant '%s' is not registered", r->participant);
	else if (rc == TW_OK)
		*id = sqlite3_last_insert_rowid(s->db);
	sq_done(s, st);
	return rc;
}

static tw_rc sc_request_digest_known(void *be, const char *digest, bool *known,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_R_DIGEST, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, digest);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*known = true;
	else if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "looking up a request digest");
	sq_done(s, st);
	return rc;
}

static tw_rc sc_request_get(void *be, int64_t id, bool with_der, struct store_ca_request *out,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_R_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		rc = r_row(st, out, err);
		if (rc == TW_OK && with_der)
			rc = col_blob(st, 10, STORE_CA_REQUEST_MAX, "request", &out->der,
				&out->der_len, err);
		if (rc != TW_OK)
			store_ca_request_clear(out);
	} else if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request %lld (see `torwart ca requests`)",
			(long long)id);
	} else {
		rc = sq_step_fail(s, err, "reading a request");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sc_request_transition(void *be, int64_t id, const char *from, const char *to,
	int64_t when_ms, const char *by, const char *reason, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	char state[16] = "";
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_R_MOVE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	BIND_TEXT(st, 2, from);
	BIND_TEXT(st, 3, to);
	sqlite3_bind_int64(st, 4, when_ms);
	BIND_TEXT(st, 5, by);
	BIND_TEXT(st, 6, reason);
	rc = run_done(s, st, "updating a request", err);
	sq_done(s, st);
	if (rc != TW_OK || sqlite3_changes(s->db) == 1)
		return rc;
	/* Nothing changed: say whether the request is unknown or in another state. */
	if ((rc = sq_prepare(s, SQL_R_STATE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && (rc = sq_col_text(st, 0, state, sizeof(state), "state",
		err)) == TW_OK)
		rc = tw_error_set(err, TW_E_DENIED, "request %lld is %s, not %s", (long long)id,
			state, from);
	else if (step == SQLITE_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request %lld", (long long)id);
	else if (step != SQLITE_ROW)
		rc = sq_step_fail(s, err, "reading a request state");
	sq_done(s, st);
	return rc;
}

static tw_rc sc_request_foreach(void *be, const char *state, store_ca_request_cb cb,
	void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_ca_request r;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_R_ALL, &st, err)) != TW_OK)
		return rc;
	if (state != NULL)
		BIND_TEXT(st, 1, state);
	else
		sqlite3_bind_null(st, 1);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = r_row(st, &r, err)) != TW_OK)
			goto out;
		if (cb(&r, arg) != 0)
			break;
	}
	rc = step == SQLITE_ROW || step == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "listing requests");
out:
	sq_done(s, st);
	return rc;
}

/* ---- certificates ---- */

static tw_rc c_row(sqlite3_stmt *st, struct store_ca_cert *c, struct tw_error *err)
{
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	if ((rc = SQ_COL_TEXT(st, 0, c, serial_hex, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 1, c, subject, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, c, owner_kind, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, c, owner_id, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, c, usage, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, c, status, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 8, c, fingerprint, err)) != TW_OK)
		return rc;
	c->not_before = sqlite3_column_int64(st, 5);
	c->not_after = sqlite3_column_int64(st, 6);
	c->request_id = sqlite3_column_int64(st, 9);
	c->revoked_ms = sqlite3_column_int64(st, 10);
	c->revocation_reason = sqlite3_column_int(st, 11);
	return TW_OK;
}

static tw_rc sc_cert_set_request(void *be, const char *issuer, const char *serial_hex,
	int64_t request_id, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_C_LINK, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	BIND_TEXT(st, 2, serial_hex);
	sqlite3_bind_int64(st, 3, request_id);
	rc = run_done(s, st, "linking a certificate to its request", err);
	sq_done(s, st);
	if (rc == TW_OK && sqlite3_changes(s->db) != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no certificate %s", serial_hex);
	return rc;
}

static tw_rc sc_cert_get(void *be, const char *issuer, const char *serial_hex, bool with_der,
	struct store_ca_cert *out, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_C_GET, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	BIND_TEXT(st, 2, serial_hex);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		rc = c_row(st, out, err);
		if (rc == TW_OK && with_der)
			rc = col_blob(st, 12, STORE_CERT_MAX, "certificate", &out->der,
				&out->der_len, err);
		if (rc != TW_OK)
			store_ca_cert_clear(out);
	} else if (step == SQLITE_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "this CA issued no certificate with serial "
			"%s (see `torwart ca list`)", serial_hex);
	} else {
		rc = sq_step_fail(s, err, "reading a certificate");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sc_cert_foreach(void *be, const char *issuer, store_ca_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_ca_cert c;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_C_ALL, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = c_row(st, &c, err)) != TW_OK)
			goto out;
		if (cb(&c, arg) != 0)
			break;
	}
	rc = step == SQLITE_ROW || step == SQLITE_DONE ? TW_OK :
		sq_step_fail(s, err, "listing certificates");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sc_cert_revoke(void *be, const char *issuer, const char *serial_hex, int reason,
	int64_t when_ms, bool *changed, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_C_REVOKE, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	BIND_TEXT(st, 2, serial_hex);
	sqlite3_bind_int64(st, 3, when_ms);
	sqlite3_bind_int(st, 4, reason);
	rc = run_done(s, st, "revoking a certificate", err);
	sq_done(s, st);
	if (rc != TW_OK)
		return rc;
	if (sqlite3_changes(s->db) == 1) {
		*changed = true;
		return TW_OK;
	}
	if ((rc = sq_prepare(s, SQL_C_EXISTS, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	BIND_TEXT(st, 2, serial_hex);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "this CA issued no certificate with serial "
			"%s (see `torwart ca list`)", serial_hex);
	else if (step != SQLITE_ROW)
		rc = sq_step_fail(s, err, "looking up a certificate");
	sq_done(s, st);
	return rc;
}

static tw_rc sc_revoked_foreach(void *be, const char *issuer, store_ca_revoked_cb cb,
	void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc = TW_OK;

	if ((rc = sq_prepare(s, SQL_C_REVOKED, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, issuer);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		int n = sqlite3_column_bytes(st, 0);

		if (hex == NULL || n <= 0 || n > STORE_ID_MAX) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "a revoked certificate has a stored "
				"serial of %d bytes (edited database?)", n);
			goto out;
		}
		if (cb(hex, (size_t)n, sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2),
			arg) != 0)
			break;
	}
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading revoked certificates");
out:
	sq_done(s, st);
	return rc;
}

/* ---- CRL metadata ---- */

static tw_rc sc_crl_get(void *be, const char *ca, struct store_ca_crl *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_CRL_GET, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, ca);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if ((rc = SQ_COL_TEXT(st, 0, out, ca, err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 5, out, sha256, err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 6, out, path, err)) == TW_OK) {
			out->number = sqlite3_column_int64(st, 1);
			out->this_update = sqlite3_column_int64(st, 2);
			out->next_update = sqlite3_column_int64(st, 3);
			out->entries = sqlite3_column_int64(st, 4);
			out->dirty = sqlite3_column_int(st, 7) != 0;
			*found = true;
		}
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading CRL metadata");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sc_crl_put(void *be, const struct store_ca_crl *crl, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_CRL_PUT, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, crl->ca);
	sqlite3_bind_int64(st, 2, crl->number);
	sqlite3_bind_int64(st, 3, crl->this_update);
	sqlite3_bind_int64(st, 4, crl->next_update);
	sqlite3_bind_int64(st, 5, crl->entries);
	BIND_TEXT(st, 6, crl->sha256);
	BIND_TEXT(st, 7, crl->path);
	rc = run_done(s, st, "recording CRL metadata", err);
	sq_done(s, st);
	return rc;
}

static tw_rc sc_crl_mark_dirty(void *be, const char *ca, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_CRL_DIRTY, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, ca);
	rc = run_done(s, st, "flagging the CRL for regeneration", err);
	sq_done(s, st);
	return rc;
}

/* ---- CA key activation (migration 0007) ---- */

static const char SQL_KS_GET[] =
	"SELECT ca, state, changed_ms, changed_by, reason FROM ca_key_state WHERE ca = ?1";
static const char SQL_KS_ALL[] =
	"SELECT ca, state, changed_ms, changed_by, reason FROM ca_key_state ORDER BY ca";
static const char SQL_KS_PUT[] =
	"INSERT INTO ca_key_state (ca, state, changed_ms, changed_by, reason) "
	"VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (ca) DO UPDATE SET state = excluded.state, "
	"changed_ms = excluded.changed_ms, changed_by = excluded.changed_by, "
	"reason = excluded.reason";

static tw_rc ks_row(sqlite3_stmt *st, struct store_ca_key_state *k, struct tw_error *err)
{
	tw_rc rc;

	memset(k, 0, sizeof(*k));
	if ((rc = SQ_COL_TEXT(st, 0, k, ca, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 1, k, state, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, k, changed_by, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 4, k, reason, err)) != TW_OK)
		return rc;
	k->changed_ms = sqlite3_column_int64(st, 2);
	return TW_OK;
}

static tw_rc sc_key_state_get(void *be, const char *ca, struct store_ca_key_state *out,
	bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_KS_GET, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, ca);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		if ((rc = ks_row(st, out, err)) == TW_OK)
			*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading the CA key state");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sc_key_state_put(void *be, const struct store_ca_key_state *k,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_KS_PUT, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, k->ca);
	BIND_TEXT(st, 2, k->state);
	sqlite3_bind_int64(st, 3, k->changed_ms);
	BIND_TEXT(st, 4, k->changed_by);
	BIND_TEXT(st, 5, k->reason);
	rc = run_done(s, st, "recording the CA key state", err);
	sq_done(s, st);
	return rc;
}

static tw_rc sc_key_state_foreach(void *be, store_ca_key_state_cb cb, void *arg,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_ca_key_state k;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_KS_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = ks_row(st, &k, err)) != TW_OK || cb(&k, arg) != 0)
			break;
	}
	if (rc == TW_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "listing CA key states");
	sq_done(s, st);
	return rc;
}

const struct store_ca_ops store_sqlite_ca_ops = {
	.participant_insert = sc_participant_insert,
	.participant_get = sc_participant_get,
	.participant_foreach = sc_participant_foreach,
	.request_insert = sc_request_insert,
	.request_digest_known = sc_request_digest_known,
	.request_get = sc_request_get,
	.request_transition = sc_request_transition,
	.request_foreach = sc_request_foreach,
	.cert_set_request = sc_cert_set_request,
	.cert_get = sc_cert_get,
	.cert_foreach = sc_cert_foreach,
	.cert_revoke = sc_cert_revoke,
	.revoked_foreach = sc_revoked_foreach,
	.crl_get = sc_crl_get,
	.crl_put = sc_crl_put,
	.crl_mark_dirty = sc_crl_mark_dirty,
	.key_state_get = sc_key_state_get,
	.key_state_put = sc_key_state_put,
	.key_state_foreach = sc_key_state_foreach,
};
