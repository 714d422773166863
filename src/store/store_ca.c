/*
 * store_ca.c: the public store_ca.h API. Checks every argument once, before any SQL runs
 * (bad input changes nothing and is never truncated), then runs its SQL, written once for
 * SQLite and PostgreSQL, through db.h.
 */
#include "store/store_ca.h"

#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

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
	"decided_ms, decided_by, reason, der) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
	"RETURNING id";
#define R_COLS "id, digest, participant, kind, state, subject, received_ms, decided_ms, " \
	"decided_by, reason"
static const char SQL_R_GET[] = "SELECT " R_COLS ", der FROM ca_requests WHERE id = ?1";
static const char SQL_R_ALL[] = "SELECT " R_COLS " FROM ca_requests "
	"WHERE CAST(?1 AS TEXT) IS NULL OR state = ?1 ORDER BY id";
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
/* Every certificate of one owner (a gateway, a participant), across issuers: the index
 * certificates_owner serves it. */
static const char SQL_C_OWNER[] = "SELECT " C_COLS " FROM certificates "
	"WHERE owner_kind = ?1 AND owner_id = ?2 ORDER BY id";
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

/* A fresh copy of a blob column of at most max bytes. */
static tw_rc col_blob(struct db_stmt *st, int col, size_t max, const char *what,
	unsigned char **out, size_t *len, struct tw_error *err)
{
	const void *b = db_column_blob(st, col);
	size_t n = (size_t)db_column_bytes(st, col);

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

/* ---- participants ---- */

static tw_rc p_row(struct db_stmt *st, struct store_ca_participant *p, struct tw_error *err)
{
	tw_rc rc;

	memset(p, 0, sizeof(*p));
	if ((rc = DB_COL_TEXT(st, 0, p, name, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, p, organisation, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, p, role, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, p, market_partner_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, p, common_name, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, p, email, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, p, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, p, device_serial, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, p, created_by, err)) != TW_OK)
		return rc;
	p->created_ms = db_column_int64(st, 8);
	return TW_OK;
}

/* ---- requests ---- */

static tw_rc r_row(struct db_stmt *st, struct store_ca_request *r, struct tw_error *err)
{
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	r->id = db_column_int64(st, 0);
	if ((rc = DB_COL_TEXT(st, 1, r, digest, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, r, participant, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, r, kind, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, r, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, r, subject, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 8, r, decided_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, r, reason, err)) != TW_OK)
		return rc;
	r->received_ms = db_column_int64(st, 6);
	r->decided_ms = db_column_int64(st, 7);
	return TW_OK;
}

static tw_rc sc_request_transition(struct db *s, int64_t id, const char *from, const char *to,
	int64_t when_ms, const char *by, const char *reason, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	int64_t changed = 0;
	char state[16] = "";
	bool row;
	tw_rc rc;

	if ((rc = db_run(s, SQL_R_MOVE, &changed, "updating a request", err, "ittitt", id, from,
		to, when_ms, by, reason)) != TW_OK || changed == 1)
		return rc;
	/* Nothing changed: say whether the request is unknown or in another state. */
	if ((rc = db_fetch(s, SQL_R_STATE, &st, &row, "reading a request state", err, "i",
		id)) != TW_OK)
		return rc;
	if (!row)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request %lld", (long long)id);
	else if ((rc = db_col_text(st, 0, state, sizeof(state), "state", err)) == TW_OK)
		rc = tw_error_set(err, TW_E_DENIED, "request %lld is %s, not %s", (long long)id,
			state, from);
	db_done(s, st);
	return rc;
}

/* ---- certificates ---- */

static tw_rc c_row(struct db_stmt *st, struct store_ca_cert *c, struct tw_error *err)
{
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	if ((rc = DB_COL_TEXT(st, 0, c, serial_hex, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, c, subject, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, c, owner_kind, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, c, owner_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, c, usage, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, c, status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 8, c, fingerprint, err)) != TW_OK)
		return rc;
	c->not_before = db_column_int64(st, 5);
	c->not_after = db_column_int64(st, 6);
	c->request_id = db_column_int64(st, 9);
	c->revoked_ms = db_column_int64(st, 10);
	c->revocation_reason = db_column_int64(st, 11);
	return TW_OK;
}

/* ---- CRL metadata ---- */

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

static tw_rc ks_row(struct db_stmt *st, struct store_ca_key_state *k, struct tw_error *err)
{
	tw_rc rc;

	memset(k, 0, sizeof(*k));
	if ((rc = DB_COL_TEXT(st, 0, k, ca, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, k, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, k, changed_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, k, reason, err)) != TW_OK)
		return rc;
	k->changed_ms = db_column_int64(st, 2);
	return TW_OK;
}

#define SC_OPS_OR_RETURN(db, store, err) \
	do { \
		if (((db) = store_db((store), (err))) == NULL) \
			return (err) != NULL ? (err)->code : TW_E_INTERNAL; \
	} while (0)

static bool sc_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const sc_roles[] = { "emt", "gwa", "gwh", "smgw", NULL };
static const char *const sc_states[] = { "pending", "approved", "rejected", "issued", NULL };
static const char *const sc_kinds[] = { "initial", "renewal", NULL };

static bool sc_hex64(const char *h)
{
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return h[64] == '\0';
}

/* Serials are stored as lower-case hex without separators (certstore.c). */
static tw_rc sc_serial(const char *s, struct tw_error *err)
{
	tw_rc rc = store_check_text(s, STORE_ID_MAX, "serial", err);

	if (rc != TW_OK)
		return rc;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return tw_error_set(err, TW_E_INVALID,
				"serial '%s' is not lower-case hexadecimal", s);
	return TW_OK;
}

/* ---- participants ---- */

tw_rc store_ca_participant_insert(struct tw_store *store, const struct store_ca_participant *p,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (p == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_insert: no participant");
	if ((rc = STORE_CHECK_MEMBER(p, name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, organisation, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, role, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, market_partner_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, common_name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, email, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, gateway_id, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, device_serial, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, created_by, true, err)) != TW_OK)
		return rc;
	if (!sc_one_of(p->role, sc_roles))
		return tw_error_set(err, TW_E_INVALID, "role '%s' is not one of emt, gwa, gwh, smgw",
			p->role);
	rc = db_run(db, SQL_P_INSERT, NULL, "registering a participant", err, "ttttttttit",
		p->name, p->organisation, p->role, p->market_partner_id, p->common_name, p->email,
		p->gateway_id, p->device_serial, p->created_ms, p->created_by);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "participant '%s' is already registered", p->name);
	return rc;
}

tw_rc store_ca_participant_get(struct tw_store *store, const char *name,
	struct store_ca_participant *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_get: out is NULL");
	if ((rc = store_check_text(name, STORE_ID_MAX, "participant name", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_P_GET, &st, &row, "reading a participant", err, "t",
		name)) != TW_OK)
		return rc;
	if (row)
		rc = p_row(st, out, err);
	else
		rc = tw_error_set(err, TW_E_NOT_FOUND, "participant '%s' is not registered "
			"(register it with `torwart ca register`)", name);
	db_done(db, st);
	return rc;
}

tw_rc store_ca_participant_foreach(struct tw_store *store, store_ca_participant_cb cb,
	void *arg, struct tw_error *err)
{
	struct store_ca_participant p;
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_foreach: no callback");
	for (rc = db_fetch(db, SQL_P_ALL, &st, &row, "listing participants", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "listing participants", err)) {
		if ((rc = p_row(st, &p, err)) != TW_OK || cb(&p, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

/* ---- requests ---- */

void store_ca_request_clear(struct store_ca_request *r)
{
	if (r == NULL)
		return;
	free(r->der);
	memset(r, 0, sizeof(*r));
}

tw_rc store_ca_request_insert(struct tw_store *store, const struct store_ca_request *r,
	int64_t *id, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	SC_OPS_OR_RETURN(db, store, err);
	if (r == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_insert: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(r, participant, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, subject, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, decided_by, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, reason, false, err)) != TW_OK)
		return rc;
	if (!sc_hex64(r->digest))
		return tw_error_set(err, TW_E_INVALID, "request digest must be 64 lower-case hex");
	if (!sc_one_of(r->kind, sc_kinds) || !sc_one_of(r->state, sc_states))
		return tw_error_set(err, TW_E_INVALID, "request kind '%s' or state '%s' unknown",
			r->kind, r->state);
	if (r->der == NULL || r->der_len == 0 || r->der_len > STORE_CA_REQUEST_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "request must be 1..%d bytes",
			STORE_CA_REQUEST_MAX);
	rc = db_insert(db, SQL_R_INSERT, id, "queueing a request", err, "tttttiittb", r->digest,
		r->participant, r->kind, r->state, r->subject, r->received_ms, r->decided_ms,
		r->decided_by, r->reason, r->der, r->der_len);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "a request with digest %.16s... was received before "
			"(replay)", r->digest);
	else if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, rc, "participant '%s' is not registered", r->participant);
	return rc;
}

tw_rc store_ca_request_digest_known(struct tw_store *store, const char *digest, bool *known,
	struct tw_error *err)
{
	struct db *db;

	if (known != NULL)
		*known = false;
	SC_OPS_OR_RETURN(db, store, err);
	if (digest == NULL || known == NULL || !sc_hex64(digest))
		return tw_error_set(err, TW_E_INVALID, "request digest must be 64 lower-case hex");
	return db_exists(db, SQL_R_DIGEST, known, "looking up a request digest", err, "t",
		digest);
}

tw_rc store_ca_request_get(struct tw_store *store, int64_t id, bool with_der,
	struct store_ca_request *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_get: out is NULL");
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	if ((rc = db_fetch(db, SQL_R_GET, &st, &row, "reading a request", err, "i",
		id)) != TW_OK)
		return rc;
	if (!row) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request %lld (see `torwart ca requests`)",
			(long long)id);
	} else {
		rc = r_row(st, out, err);
		if (rc == TW_OK && with_der)
			rc = col_blob(st, 10, STORE_CA_REQUEST_MAX, "request", &out->der,
				&out->der_len, err);
		if (rc != TW_OK)
			store_ca_request_clear(out);
	}
	db_done(db, st);
	return rc;
}

tw_rc store_ca_request_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, const char *reason,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	if (from == NULL || to == NULL || !sc_one_of(from, sc_states) || !sc_one_of(to, sc_states))
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_transition: bad state");
	if ((rc = store_check_text(by, STORE_NAME_MAX, "decider", err)) != TW_OK)
		return rc;
	if (reason != NULL && strnlen(reason, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "reason is longer than %d bytes",
			STORE_TEXT_MAX);
	return sc_request_transition(db, id, from, to, when_ms, by,
		reason != NULL ? reason : "", err);
}

tw_rc store_ca_request_foreach(struct tw_store *store, const char *state,
	store_ca_request_cb cb, void *arg, struct tw_error *err)
{
	struct store_ca_request r;
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_foreach: no callback");
	if (state != NULL && !sc_one_of(state, sc_states))
		return tw_error_set(err, TW_E_INVALID,
			"state '%s' is not one of pending, approved, rejected, issued", state);
	for (rc = db_fetch(db, SQL_R_ALL, &st, &row, "listing requests", err, "t", state);
	     rc == TW_OK && row; rc = db_next(st, &row, "listing requests", err)) {
		if ((rc = r_row(st, &r, err)) != TW_OK || cb(&r, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

/* ---- certificates ---- */

void store_ca_cert_clear(struct store_ca_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

tw_rc store_ca_cert_set_request(struct tw_store *store, const char *issuer,
	const char *serial_hex, int64_t request_id, struct tw_error *err)
{
	int64_t changed = 0;
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	if (request_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	rc = db_run(db, SQL_C_LINK, &changed, "linking a certificate to its request", err, "tti",
		issuer, serial_hex, request_id);
	if (rc == TW_OK && changed != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no certificate %s", serial_hex);
	return rc;
}

tw_rc store_ca_cert_get(struct tw_store *store, const char *issuer, const char *serial_hex,
	bool with_der, struct store_ca_cert *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_get: out is NULL");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_C_GET, &st, &row, "reading a certificate", err, "tt", issuer,
		serial_hex)) != TW_OK)
		return rc;
	if (!row) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "this CA issued no certificate with serial "
			"%s (see `torwart ca list`)", serial_hex);
	} else {
		rc = c_row(st, out, err);
		if (rc == TW_OK && with_der)
			rc = col_blob(st, 12, STORE_CERT_MAX, "certificate", &out->der,
				&out->der_len, err);
		if (rc != TW_OK)
			store_ca_cert_clear(out);
	}
	db_done(db, st);
	return rc;
}

/* The certificate rows of a query with two text parameters, each to cb. */
static tw_rc sc_certs(struct db *db, const char *sql, const char *a, const char *b,
	store_ca_cert_cb cb, void *arg, const char *doing, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct store_ca_cert c;
	bool row;
	tw_rc rc;

	for (rc = db_fetch(db, sql, &st, &row, doing, err, b != NULL ? "tt" : "t", a, b);
	     rc == TW_OK && row; rc = db_next(st, &row, doing, err)) {
		if ((rc = c_row(st, &c, err)) != TW_OK || cb(&c, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_ca_cert_foreach(struct tw_store *store, const char *issuer, store_ca_cert_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_foreach: no callback");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK)
		return rc;
	return sc_certs(db, SQL_C_ALL, issuer, NULL, cb, arg, "listing certificates", err);
}

tw_rc store_ca_cert_foreach_owner(struct tw_store *store, const char *owner_kind,
	const char *owner_id, store_ca_cert_cb cb, void *arg, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_foreach_owner: no callback");
	if ((rc = store_check_text(owner_kind, 15, "owner kind", err)) != TW_OK ||
	    (rc = store_check_text(owner_id, STORE_ID_MAX, "owner id", err)) != TW_OK)
		return rc;
	return sc_certs(db, SQL_C_OWNER, owner_kind, owner_id, cb, arg,
		"listing an owner's certificates", err);
}

tw_rc store_ca_cert_revoke(struct tw_store *store, const char *issuer, const char *serial_hex,
	int reason, int64_t when_ms, bool *changed, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	if (changed != NULL)
		*changed = false;
	SC_OPS_OR_RETURN(db, store, err);
	if (changed == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_revoke: changed is NULL");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	/* RFC 5280 5.3.1: 0..10, value 7 is not used. */
	if (reason < 0 || reason > 10 || reason == 7)
		return tw_error_set(err, TW_E_INVALID, "revocation reason %d is not an RFC 5280 "
			"CRLReason", reason);
	if (when_ms <= 0)
		return tw_error_set(err, TW_E_INVALID, "revocation time must be positive");
	int64_t n = 0;
	bool known = false;

	if ((rc = db_run(db, SQL_C_REVOKE, &n, "revoking a certificate", err, "ttii", issuer,
		serial_hex, when_ms, (int64_t)reason)) != TW_OK)
		return rc;
	if (n == 1) {
		*changed = true;
		return TW_OK;
	}
	/* Nothing changed: revoked before (fine), or unknown. */
	if ((rc = db_exists(db, SQL_C_EXISTS, &known, "looking up a certificate", err, "tt",
		issuer, serial_hex)) == TW_OK && !known)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "this CA issued no certificate with serial "
			"%s (see `torwart ca list`)", serial_hex);
	return rc;
}

tw_rc store_ca_revoked_foreach(struct tw_store *store, const char *issuer,
	store_ca_revoked_cb cb, void *arg, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_revoked_foreach: no callback");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK)
		return rc;
	for (rc = db_fetch(db, SQL_C_REVOKED, &st, &row, "reading revoked certificates", err,
		"t", issuer); rc == TW_OK && row;
	     rc = db_next(st, &row, "reading revoked certificates", err)) {
		const char *hex = db_column_text(st, 0);
		int n = db_column_bytes(st, 0);

		if (hex == NULL || n <= 0 || n > STORE_ID_MAX) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "a revoked certificate has a stored "
				"serial of %d bytes (edited database?)", n);
			break;
		}
		if (cb(hex, (size_t)n, db_column_int64(st, 1), db_column_int64(st, 2),
			arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

/* ---- CRL metadata ---- */

tw_rc store_ca_crl_get(struct tw_store *store, const char *ca, struct store_ca_crl *out,
	bool *found, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	SC_OPS_OR_RETURN(db, store, err);
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_crl_get: out is NULL");
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_CRL_GET, &st, &row, "reading CRL metadata", err, "t",
		ca)) != TW_OK)
		return rc;
	if (row && (rc = DB_COL_TEXT(st, 0, out, ca, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 5, out, sha256, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 6, out, path, err)) == TW_OK) {
		out->number = db_column_int64(st, 1);
		out->this_update = db_column_int64(st, 2);
		out->next_update = db_column_int64(st, 3);
		out->entries = db_column_int64(st, 4);
		out->dirty = db_column_int64(st, 7) != 0;
		*found = true;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_ca_crl_put(struct tw_store *store, const struct store_ca_crl *crl,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (crl == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_crl_put: no CRL");
	if ((rc = STORE_CHECK_MEMBER(crl, ca, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(crl, path, true, err)) != TW_OK)
		return rc;
	if (crl->number <= 0 || crl->entries < 0 || crl->next_update < crl->this_update)
		return tw_error_set(err, TW_E_INVALID, "CRL number, entries or update times invalid");
	if (!sc_hex64(crl->sha256))
		return tw_error_set(err, TW_E_INVALID, "CRL sha256 must be 64 lower-case hex");
	return db_run(db, SQL_CRL_PUT, NULL, "recording CRL metadata", err, "tiiiitt", crl->ca,
		crl->number, crl->this_update, crl->next_update, crl->entries, crl->sha256,
		crl->path);
}

tw_rc store_ca_crl_mark_dirty(struct tw_store *store, const char *ca, struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	return db_run(db, SQL_CRL_DIRTY, NULL, "flagging the CRL for regeneration", err, "t",
		ca);
}

/* ---- CA key activation ---- */

tw_rc store_ca_key_state_get(struct tw_store *store, const char *ca,
	struct store_ca_key_state *out, bool *found, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	SC_OPS_OR_RETURN(db, store, err);
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_get: out is NULL");
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_KS_GET, &st, &row, "reading the CA key state", err, "t",
		ca)) != TW_OK)
		return rc;
	if (row && (rc = ks_row(st, out, err)) == TW_OK)
		*found = true;
	db_done(db, st);
	return rc;
}

tw_rc store_ca_key_state_put(struct tw_store *store, const struct store_ca_key_state *s,
	struct tw_error *err)
{
	static const char *const states[] = { "inactive", "active", NULL };
	struct db *db;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (s == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_put: no state");
	if ((rc = STORE_CHECK_MEMBER(s, ca, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, changed_by, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, reason, false, err)) != TW_OK)
		return rc;
	if (!sc_one_of(s->state, states))
		return tw_error_set(err, TW_E_INVALID, "CA key state \"%s\" is not inactive or "
			"active", s->state);
	return db_run(db, SQL_KS_PUT, NULL, "recording the CA key state", err, "ttitt", s->ca,
		s->state, s->changed_ms, s->changed_by, s->reason);
}

tw_rc store_ca_key_state_foreach(struct tw_store *store, store_ca_key_state_cb cb, void *arg,
	struct tw_error *err)
{
	struct store_ca_key_state k;
	struct db_stmt *st = NULL;
	struct db *db;
	bool row;
	tw_rc rc;

	SC_OPS_OR_RETURN(db, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_foreach: no callback");
	for (rc = db_fetch(db, SQL_KS_ALL, &st, &row, "listing CA key states", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "listing CA key states", err)) {
		if ((rc = ks_row(st, &k, err)) != TW_OK || cb(&k, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}
