/*
 * store_renewal.c: the SQL of the renewal area (store_renewal.h). Written once for both
 * drivers through db.h; checks every argument before any SQL runs.
 */
#include "store/store_renewal.h"

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
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
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

static tw_rc sr_one(struct db *d, struct db_stmt *st, struct store_renewal *out, bool *found,
	struct tw_error *err)
{
	int step = db_step(st);
	tw_rc rc = TW_OK;

	*found = false;
	if (step == DB_ROW) {
		rc = sr_row(st, true, out, err);
		*found = rc == TW_OK;
		if (rc != TW_OK)
			store_renewal_clear(out);
	} else if (step != DB_DONE) {
		rc = db_step_fail(d, err, "reading a renewal");
	}
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_insert(struct tw_store *store, const struct store_renewal *r,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
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
	if ((rc = db_prepare(d, SQL_R_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, r->tenant_id);
	db_bind_text(st, 2, r->gateway_id);
	db_bind_text(st, 3, r->state);
	db_bind_text(st, 4, r->actor);
	db_bind_text(st, 5, r->reason);
	db_bind_int64(st, 6, r->request_job);
	db_bind_int64(st, 7, r->install_job);
	db_bind_int64(st, 8, r->created_ms);
	db_bind_int64(st, 9, r->updated_ms);
	db_bind_int64(st, 10, r->next_ms);
	if (db_step(st) != DB_DONE) {
		rc = db_step_fail(d, err, "storing a renewal");
		if (rc == TW_E_EXISTS)
			tw_error_set(err, rc, "gateway %s has an open renewal already (see `torwart "
				"renewal list --gateway %s`)", r->gateway_id, r->gateway_id);
	} else {
		rc = db_last_id(d, id, err);
	}
	db_done(d, st);
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
	if ((rc = db_prepare(d, SQL_R_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, id);
	db_bind_int64(st, 2, store_scoped_tenant(store));
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
	if ((rc = db_prepare(d, sql, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, key);
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
	struct db_stmt *st = NULL;
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
	if ((rc = db_prepare(d, SQL_R_UPDATE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, r->id);
	db_bind_text(st, 2, from);
	db_bind_text(st, 3, r->state);
	db_bind_int64(st, 4, r->request_job);
	db_bind_int64(st, 5, r->install_job);
	if (r->request_der != NULL && r->request_len > 0)
		db_bind_blob(st, 6, r->request_der, r->request_len);
	else
		db_bind_null(st, 6);
	db_bind_text(st, 7, r->old_certs);
	db_bind_text(st, 8, r->new_certs);
	db_bind_text(st, 9, r->new_tls_fp);
	db_bind_text(st, 10, r->error_code);
	db_bind_text(st, 11, r->error);
	db_bind_int64(st, 12, r->updated_ms);
	db_bind_int64(st, 13, r->next_ms);
	db_bind_int64(st, 14, r->revoke_at_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "updating a renewal");
	else if (db_changes(d) != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "renewal %lld is no longer %s",
			(long long)r->id, from);
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_due(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_due: bad arguments");
	if ((rc = db_prepare(d, SQL_R_DUE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, now_ms);
	db_bind_int64(st, 2, (int64_t)max);
	while ((step = db_step(st)) == DB_ROW && *n < max)
		ids[(*n)++] = db_column_int64(st, 0);
	if (step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(d, err, "reading due renewals");
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
	tw_rc rc;
	int step;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || limit < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_foreach: bad arguments");
	if (state != NULL && !sr_state_valid(state))
		return tw_error_set(err, TW_E_INVALID, "unknown renewal state \"%.32s\" (requesting, "
			"received, installing, installed, confirmed, completed, failed)", state);
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(d, SQL_R_LIST, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, state != NULL ? state : "");
	db_bind_text(st, 2, gateway_id != NULL ? gateway_id : "");
	db_bind_int64(st, 3, store_scoped_tenant(store));
	db_bind_int64(st, 4, limit == 0 ? 1000 : limit);
	while ((step = db_step(st)) == DB_ROW) {
		if ((rc = sr_row(st, false, &r, err)) != TW_OK)
			break;
		if (cb(&r, arg) != 0)
			break;
	}
	if (rc == TW_OK && step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(d, err, "listing renewals");
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_gateway_certs(struct tw_store *store, const char *gateway_id,
	const char *status, struct store_renewal_cert *out, size_t max, size_t *n,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || n == NULL || status == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_gateway_certs: bad arguments");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(d, SQL_C_OF, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, gateway_id);
	db_bind_text(st, 2, status);
	while ((step = db_step(st)) == DB_ROW && *n < max) {
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
	if (rc == TW_OK && step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(d, err, "reading a gateway's certificates");
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_cert_status(struct tw_store *store, const char *fingerprint,
	const char *from, const char *to, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (from == NULL || to == NULL ||
	    !((strcmp(from, "pending") == 0 && strcmp(to, "valid") == 0) ||
	      (strcmp(from, "valid") == 0 && strcmp(to, "pending") == 0) ||
	      (strcmp(from, "valid") == 0 && strcmp(to, "superseded") == 0)))
		return tw_error_set(err, TW_E_INVALID, "the renewal area moves certificates only "
			"valid -> pending (just issued), pending -> valid and valid -> superseded");
	if ((rc = store_check_text(fingerprint, 64, "fingerprint", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(d, SQL_C_STATUS, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, fingerprint);
	db_bind_text(st, 2, from);
	db_bind_text(st, 3, to);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "changing a certificate's status");
	else if (db_changes(d) != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "certificate %.16s... is not %s",
			fingerprint, from);
	db_done(d, st);
	return rc;
}

tw_rc store_renewal_expiring(struct tw_store *store, int64_t tenant_id, int64_t before_s,
	char (*ids)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_renewal_expiring: bad arguments");
	if ((rc = db_prepare(d, SQL_C_EXPIRING, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, before_s);
	db_bind_int64(st, 2, tenant_id);
	db_bind_int64(st, 3, (int64_t)max);
	while ((step = db_step(st)) == DB_ROW && *n < max) {
		if ((rc = db_col_text(st, 0, ids[*n], STORE_ID_MAX + 1, "gateway id", err)) != TW_OK)
			break;
		(*n)++;
	}
	if (rc == TW_OK && step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(d, err, "reading expiring gateways");
	db_done(d, st);
	return rc;
}

static const char SQL_T_NAME[] = "SELECT name FROM tenants WHERE id = ?1";

tw_rc store_tenant_name(struct tw_store *store, int64_t id, char *out, size_t size,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_tenant_name: no buffer");
	out[0] = '\0';
	if ((rc = db_prepare(d, SQL_T_NAME, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, id);
	if ((step = db_step(st)) == DB_ROW)
		rc = db_col_text(st, 0, out, size, "tenant name", err);
	else if (step == DB_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no tenant %lld", (long long)id);
	else
		rc = db_step_fail(d, err, "reading a tenant");
	db_done(d, st);
	return rc;
}

static const char SQL_IC_INSERT[] = "INSERT INTO initial_configs (tenant_id, gateway_id, "
	"sha256, recipients, actor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_IC_GET[] = "SELECT id, tenant_id, gateway_id, sha256, recipients, actor, "
	"created_ms, receipt_ms, receipt_by FROM initial_configs WHERE sha256 = ?1";
static const char SQL_IC_RECEIPT[] = "UPDATE initial_configs SET receipt_ms = ?2, "
	"receipt_by = ?3 WHERE sha256 = ?1 AND receipt_ms = 0";

tw_rc store_initial_config_insert(struct tw_store *store, const struct store_initial_config *c,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
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
	if ((rc = db_prepare(d, SQL_IC_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, c->tenant_id);
	db_bind_text(st, 2, c->gateway_id);
	db_bind_text(st, 3, c->sha256);
	db_bind_text(st, 4, c->recipients);
	db_bind_text(st, 5, c->actor);
	db_bind_int64(st, 6, c->created_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording an initial configuration file");
	else
		rc = db_last_id(d, id, err);
	db_done(d, st);
	return rc;
}

tw_rc store_initial_config_get(struct tw_store *store, const char *sha256,
	struct store_initial_config *out, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_initial_config_get: no output");
	if ((rc = store_check_text(sha256, 64, "file digest", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(d, SQL_IC_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, sha256);
	if ((step = db_step(st)) == DB_ROW) {
		out->id = db_column_int64(st, 0);
		out->tenant_id = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 2, out, gateway_id, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 3, out, sha256, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 4, out, recipients, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 5, out, actor, err)) == TW_OK)
			rc = DB_COL_TEXT(st, 8, out, receipt_by, err);
		out->created_ms = db_column_int64(st, 6);
		out->receipt_ms = db_column_int64(st, 7);
	} else if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no initial configuration file with SHA-256 "
			"%.64s was exported here", sha256);
	} else {
		rc = db_step_fail(d, err, "reading an initial configuration file");
	}
	db_done(d, st);
	return rc;
}

tw_rc store_initial_config_receipt(struct tw_store *store, const char *sha256, int64_t when_ms,
	const char *by, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(sha256, 64, "file digest", err)) != TW_OK ||
	    (rc = store_check_text(by, STORE_TEXT_MAX, "receipt signer", err)) != TW_OK)
		return rc;
	if ((rc = db_prepare(d, SQL_IC_RECEIPT, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, sha256);
	db_bind_int64(st, 2, when_ms);
	db_bind_text(st, 3, by);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a receipt");
	else if (db_changes(d) != 1)
		rc = tw_error_set(err, TW_E_EXISTS, "the receipt of this file is recorded already");
	db_done(d, st);
	return rc;
}
