/*
 * store_renewal.c: the SQL of the renewal area (store_renewal.h). Written once for both
 * drivers through db.h; checks every argument before any SQL runs.
 */
#include "store/store_renewal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define R_COLS "id, tenant_id, gateway_id, state, actor, reason, request_job, install_job, " \
	"old_certs, new_certs, new_tls_fp, error_code, error, created_ms, updated_ms, next_ms, " \
	"revoke_at_ms, request_der"
#define R_OPEN "('requesting', 'received', 'installing', 'installed', 'confirmed')"

static const char SQL_R_INSERT[] =
	"INSERT INTO renewals (tenant_id, gateway_id, state, actor, reason, request_job, "
	"install_job, created_ms, updated_ms, next_ms) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id";
static const char SQL_R_GET[] = "SELECT " R_COLS " FROM renewals WHERE id = ?1 "
	"AND (?2 = 0 OR tenant_id = ?2)";
static const char SQL_R_OPEN[] = "SELECT " R_COLS " FROM renewals WHERE gateway_id = ?1 "
	"AND state IN " R_OPEN;
static const char SQL_R_BY_TLS[] = "SELECT " R_COLS " FROM renewals WHERE new_tls_fp = ?1 "
	"ORDER BY id DESC LIMIT 1";
static const char SQL_R_UPDATE[] =
	"UPDATE renewals SET state = ?3, request_job = ?4, install_job = ?5, request_der = ?6, "
	"old_certs = ?7, new_certs = ?8, new_tls_fp = ?9, error_code = ?10, error = ?11, "
	"updated_ms = ?12, next_ms = ?13, revoke_at_ms = ?14 WHERE id = ?1 AND state = ?2";
static const char SQL_R_DUE[] = "SELECT id FROM renewals WHERE state IN " R_OPEN
	" AND next_ms <= ?1 ORDER BY next_ms, id LIMIT ?2";
static const char SQL_R_LIST[] = "SELECT " R_COLS " FROM renewals WHERE "
	"(?1 = '' OR state = ?1) AND (?2 = '' OR gateway_id = ?2) AND "
	"(?3 = 0 OR tenant_id = ?3) ORDER BY id DESC LIMIT ?4";
static const char SQL_C_OF[] = "SELECT usage, serial_hex, issuer, fingerprint, status, "
	"not_after FROM certificates WHERE owner_kind = 'smgw' AND owner_id = ?1 AND "
	"status = ?2 ORDER BY usage, id";
static const char SQL_C_STATUS[] = "UPDATE certificates SET status = ?3 "
	"WHERE fingerprint = ?1 AND status = ?2";
static const char SQL_C_EXPIRING[] = "SELECT DISTINCT c.owner_id FROM certificates c "
	"JOIN gateways g ON g.gateway_id = c.owner_id "
	"WHERE c.owner_kind = 'smgw' AND c.usage = 'TLS' AND c.status = 'valid' "
	"AND c.not_after < ?1 AND g.state <> 'disabled' AND (?2 = 0 OR g.tenant_id = ?2) "
	"AND NOT EXISTS (SELECT 1 FROM renewals r WHERE r.gateway_id = c.owner_id "
	"AND r.state IN " R_OPEN ") ORDER BY c.owner_id LIMIT ?3";

void store_renewal_clear(struct store_renewal *r)
{
	if (r == NULL)
		return;
	free(r->request_der);
	memset(r, 0, sizeof(*r));
}

static bool sr_state_valid(const char *s)
{
	static const char *const states[] = { "requesting", "received", "installing",
		"installed", "confirmed", "completed", "failed", NULL };

	for (size_t i = 0; s != NULL && states[i] != NULL; i++)
		if (strcmp(s, states[i]) == 0)
			return true;
	return false;
}

static tw_rc sr_row(struct db_stmt *st, bool with_der, struct store_renewal *r,
	struct tw_error *err)
{
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	r->id = db_column_int64(st, 0);
	r->tenant_id = db_column_int64(st, 1);
	if ((rc = DB_COL_TEXT(st, 2, r, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, r, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, r, actor, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, r, reason, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 8, r, old_certs, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, r, new_certs, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, r, new_tls_fp, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 11, r, error_code, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 12, r, error, err)) != TW_OK)
		return rc;
	r->request_job = db_column_int64(st, 6);
	r->install_job = db_column_int64(st, 7);
	r->created_ms = db_column_int64(st, 13);
	r->updated_ms = db_column_int64(st, 14);
	r->next_ms = db_column_int64(st, 15);
	r->revoke_at_ms = db_column_int64(st, 16);
	if (with_der && !db_column_null(st, 17)) {
		size_t n = (size_t)db_column_bytes(st, 17);
		const void *p = db_column_blob(st, 17);

		if (n > STORE_RENEWAL_REQUEST_MAX)
			return tw_error_set(err, TW_E_INTEGRITY, "renewal %lld: stored request is "
				"larger than %d bytes", (long long)r->id, STORE_RENEWAL_REQUEST_MAX);
		if (n > 0 && p != NULL) {
			if ((r->request_der = malloc(n)) == NULL)
				return tw_error_set(err, TW_E_NOMEM, "out of memory");
			memcpy(r->request_der, p, n);
			r->request_len = n;
		}
	}
	return TW_OK;
}

/* The first row of a db_fetch, if any, with its request, then done. */
static tw_rc sr_one(struct db *d, struct db_stmt *st, struct store_renewal *out, bool *found,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (*found && (rc = sr_row(st, true, out, err)) != TW_OK) {
		*found = false;
		store_renewal_clear(out);
	}
	db_done(d, st);
	return rc;
}

/*
 * Every state move of this file (a renewal's state, a certificate's status, a receipt):
 * one guarded UPDATE whose WHERE names the state it leaves must change exactly one row;
 * otherwise nothing changed and the error is gone_rc with the message gone.
 */
static tw_rc sr_move(struct db *d, const char *sql, const char *doing, tw_rc gone_rc,
	const char *gone, struct tw_error *err, const char *types, ...)
{
	int64_t changed = 0;
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vrun(d, sql, &changed, NULL, doing, err, types, ap);
	va_end(ap);
	if (rc == TW_OK && changed != 1)
		rc = tw_error_set(err, gone_rc, "%s", gone);
	return rc;
}

tw_rc store_renewal_insert(struct tw_store *store, const struct store_renewal *r,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (r == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_insert: bad arguments");
	if ((rc = STORE_CHECK_MEMBER(r, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, actor, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, reason, true, err)) != TW_OK)
		return rc;
	if (!sr_state_valid(r->state) || r->tenant_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "a renewal needs a tenant and a known state");
	rc = db_insert(d, SQL_R_INSERT, id, "storing a renewal", err, "ittttiiiii",
		r->tenant_id, r->gateway_id, r->state, r->actor, r->reason, r->request_job,
		r->install_job, r->created_ms, r->updated_ms, r->next_ms);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "gateway %s has an open renewal already (see `torwart "
			"renewal list --gateway %s`)", r->gateway_id, r->gateway_id);
	return rc;
}

tw_rc store_renewal_get(struct tw_store *store, int64_t id, struct store_renewal *out,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool found = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || id <= 0)
		return tw_error_set(err, TW_E_INVALID, "a renewal id is a positive number");
	if ((rc = db_fetch(d, SQL_R_GET, &st, &found, "reading a renewal", err, "ii", id,
		store_scoped_tenant(store))) != TW_OK)
		return rc;
	if ((rc = sr_one(d, st, out, &found, err)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no renewal %lld (see `torwart renewal "
			"list`)", (long long)id);
	return rc;
}

static tw_rc sr_find(struct tw_store *store, const char *sql, const char *key,
	size_t key_max, struct store_renewal *out, bool *found, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal: bad arguments");
	if ((rc = store_check_text(key, key_max, "renewal key", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(d, sql, &st, found, "reading a renewal", err, "t", key)) != TW_OK)
		return rc;
	return sr_one(d, st, out, found, err);
}

tw_rc store_renewal_open_for(struct tw_store *store, const char *gateway_id,
	struct store_renewal *out, bool *found, struct tw_error *err)
{
	return sr_find(store, SQL_R_OPEN, gateway_id, STORE_ID_MAX, out, found, err);
}

tw_rc store_renewal_by_new_tls(struct tw_store *store, const char *fp,
	struct store_renewal *out, bool *found, struct tw_error *err)
{
	return sr_find(store, SQL_R_BY_TLS, fp, 64, out, found, err);
}

tw_rc store_renewal_update(struct tw_store *store, const struct store_renewal *r,
	const char *from, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	char gone[96];
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (r == NULL || r->id <= 0 || !sr_state_valid(from) || !sr_state_valid(r->state))
		return tw_error_set(err, TW_E_INVALID, "store_renewal_update: bad id or state");
	if ((rc = STORE_CHECK_MEMBER(r, old_certs, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, new_certs, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, new_tls_fp, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, error_code, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, error, false, err)) != TW_OK)
		return rc;
	if (r->request_len > STORE_RENEWAL_REQUEST_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "a renewal request is at most %d bytes",
			STORE_RENEWAL_REQUEST_MAX);
	snprintf(gone, sizeof(gone), "renewal %lld is no longer %s", (long long)r->id, from);
	return sr_move(d, SQL_R_UPDATE, "updating a renewal", TW_E_NOT_FOUND, gone, err,
		"ittiiBtttttiii", r->id, from, r->state, r->request_job, r->install_job,
		r->request_der, r->request_len, r->old_certs, r->new_certs, r->new_tls_fp,
		r->error_code, r->error, r->updated_ms, r->next_ms, r->revoke_at_ms);
}

tw_rc store_renewal_due(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_due: bad arguments");
	for (rc = db_fetch(d, SQL_R_DUE, &st, &row, "reading due renewals", err, "ii", now_ms,
		(int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "reading due renewals", err))
		ids[(*n)++] = db_column_int64(st, 0);
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_foreach(struct tw_store *store, const char *state,
	const char *gateway_id, int64_t limit, store_renewal_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_renewal r;
	bool row;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || limit < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_foreach: bad arguments");
	if (state != NULL && !sr_state_valid(state))
		return tw_error_set(err, TW_E_INVALID, "unknown renewal state \"%.32s\" (requesting, "
			"received, installing, installed, confirmed, completed, failed)", state);
	/* The gateway filter is optional: only a given one is checked. */
	if (gateway_id != NULL &&
	    (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	for (rc = db_fetch(d, SQL_R_LIST, &st, &row, "listing renewals", err, "ttii",
		state != NULL ? state : "", gateway_id != NULL ? gateway_id : "",
		store_scoped_tenant(store), limit == 0 ? (int64_t)1000 : limit);
	     rc == TW_OK && row; rc = db_next(st, &row, "listing renewals", err)) {
		if ((rc = sr_row(st, false, &r, err)) != TW_OK || cb(&r, arg) != 0)
			break;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_gateway_certs(struct tw_store *store, const char *gateway_id,
	const char *status, struct store_renewal_cert *out, size_t max, size_t *n,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || n == NULL || status == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_gateway_certs: bad arguments");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	for (rc = db_fetch(d, SQL_C_OF, &st, &row, "reading a gateway's certificates", err,
		"tt", gateway_id, status); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "reading a gateway's certificates", err)) {
		struct store_renewal_cert *c = &out[*n];

		memset(c, 0, sizeof(*c));
		if ((rc = DB_COL_TEXT(st, 0, c, usage, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 1, c, serial_hex, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, c, issuer, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, c, fingerprint, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, c, status, err)) != TW_OK)
			break;
		c->not_after = db_column_int64(st, 5);
		(*n)++;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_cert_status(struct tw_store *store, const char *fingerprint,
	const char *from, const char *to, struct tw_error *err)
{
	/* The only moves of a certificate the renewal area makes. */
	static const char *const moves[][2] = { { "pending", "valid" }, { "valid", "pending" },
		{ "valid", "superseded" } };
	struct db *d = store_db(store, err);
	char gone[96];
	size_t i = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	while (from != NULL && to != NULL && i < sizeof(moves) / sizeof(moves[0]) &&
	       !(strcmp(from, moves[i][0]) == 0 && strcmp(to, moves[i][1]) == 0))
		i++;
	if (from == NULL || to == NULL || i == sizeof(moves) / sizeof(moves[0]))
		return tw_error_set(err, TW_E_INVALID, "the renewal area moves certificates only "
			"valid -> pending (just issued), pending -> valid and valid -> superseded");
	if ((rc = store_check_text(fingerprint, 64, "fingerprint", err)) != TW_OK)
		return rc;
	snprintf(gone, sizeof(gone), "certificate %.16s... is not %s", fingerprint, from);
	return sr_move(d, SQL_C_STATUS, "changing a certificate's status", TW_E_NOT_FOUND, gone,
		err, "ttt", fingerprint, from, to);
}

tw_rc store_renewal_expiring(struct tw_store *store, int64_t tenant_id, int64_t before_s,
	char (*ids)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_expiring: bad arguments");
	return db_text_list(d, SQL_C_EXPIRING, ids[0], sizeof(ids[0]), max, n, "gateway id",
		"reading expiring gateways", err, "iii", before_s, tenant_id, (int64_t)max);
}

static const char SQL_T_NAME[] = "SELECT name FROM tenants WHERE id = ?1";

tw_rc store_tenant_name(struct tw_store *store, int64_t id, char *out, size_t size,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	bool found = false;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_tenant_name: no buffer");
	if ((rc = db_text(d, SQL_T_NAME, out, size, "tenant name", &found, "reading a tenant",
		err, "i", id)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no tenant %lld", (long long)id);
	return rc;
}

static const char SQL_IC_INSERT[] = "INSERT INTO initial_configs (tenant_id, gateway_id, "
	"sha256, recipients, actor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
static const char SQL_IC_GET[] = "SELECT id, tenant_id, gateway_id, sha256, recipients, actor, "
	"created_ms, receipt_ms, receipt_by FROM initial_configs WHERE sha256 = ?1";
static const char SQL_IC_RECEIPT[] = "UPDATE initial_configs SET receipt_ms = ?2, "
	"receipt_by = ?3 WHERE sha256 = ?1 AND receipt_ms = 0";

tw_rc store_initial_config_insert(struct tw_store *store, const struct store_initial_config *c,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (c == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_initial_config_insert: bad arguments");
	if ((rc = STORE_CHECK_MEMBER(c, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, sha256, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, recipients, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, actor, true, err)) != TW_OK)
		return rc;
	return db_insert(d, SQL_IC_INSERT, id, "recording an initial configuration file", err,
		"itttti", c->tenant_id, c->gateway_id, c->sha256, c->recipients, c->actor,
		c->created_ms);
}

tw_rc store_initial_config_get(struct tw_store *store, const char *sha256,
	struct store_initial_config *out, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_initial_config_get: no output");
	if ((rc = store_check_text(sha256, 64, "file digest", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(d, SQL_IC_GET, &st, &row, "reading an initial configuration file",
		err, "t", sha256)) != TW_OK)
		return rc;
	if (row) {
		out->id = db_column_int64(st, 0);
		out->tenant_id = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 2, out, gateway_id, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 3, out, sha256, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 4, out, recipients, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 5, out, actor, err)) == TW_OK)
			rc = DB_COL_TEXT(st, 8, out, receipt_by, err);
		out->created_ms = db_column_int64(st, 6);
		out->receipt_ms = db_column_int64(st, 7);
	} else {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no initial configuration file with SHA-256 "
			"%.64s was exported here", sha256);
	}
	db_done(d, st);
	return rc;
}

tw_rc store_initial_config_receipt(struct tw_store *store, const char *sha256, int64_t when_ms,
	const char *by, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(sha256, 64, "file digest", err)) != TW_OK ||
	    (rc = store_check_text(by, STORE_TEXT_MAX, "receipt signer", err)) != TW_OK)
		return rc;
	return sr_move(d, SQL_IC_RECEIPT, "recording a receipt", TW_E_EXISTS,
		"the receipt of this file is recorded already", err, "tit", sha256, when_ms, by);
}
