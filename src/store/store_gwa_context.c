/*
 * store_gwa_context.c: the certificate-management context's tables (store_gwa_context.h).
 * Every statement names the tenant: a row of another context is never read or changed.
 */
#include "store/store_gwa_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define CC_COLUMNS "id, tenant_id, label, gateway_id, fingerprint, subject, issuer, " \
	"serial_hex, not_before, not_after, status, check_detail, checked_ms, created_ms, " \
	"updated_ms"

static const char SQL_CC_INSERT[] = "INSERT INTO gwa_context_certs (tenant_id, label, "
	"gateway_id, fingerprint, subject, issuer, serial_hex, not_before, not_after, der, "
	"created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) "
	"RETURNING id";
static const char SQL_CC_GET[] = "SELECT " CC_COLUMNS ", der FROM gwa_context_certs "
	"WHERE tenant_id = ?1 AND id = ?2";
static const char SQL_CC_REPLACE[] = "UPDATE gwa_context_certs SET label = ?3, "
	"gateway_id = ?4, fingerprint = ?5, subject = ?6, issuer = ?7, serial_hex = ?8, "
	"not_before = ?9, not_after = ?10, der = ?11, status = 'unchecked', check_detail = '', "
	"checked_ms = 0, updated_ms = ?12 WHERE tenant_id = ?1 AND id = ?2";
static const char SQL_CC_DELETE[] = "DELETE FROM gwa_context_certs WHERE tenant_id = ?1 "
	"AND id = ?2";
static const char SQL_CC_STATUS[] = "UPDATE gwa_context_certs SET status = ?3, "
	"check_detail = ?4, checked_ms = ?5 WHERE tenant_id = ?1 AND id = ?2";
static const char SQL_CC_LIST[] = "SELECT " CC_COLUMNS ", der FROM gwa_context_certs "
	"WHERE tenant_id = ?1 AND (?2 = '' OR gateway_id = ?2) ORDER BY id";
/* A gateway's certificates follow the gateway's tenant (gateway set --move-tenant moves
 * the gateway, not its certificate rows); the GWA's own by the row's tenant. */
static const char SQL_CI_LIST[] = "SELECT c.owner_kind, c.owner_id, c.usage, c.serial_hex, "
	"c.fingerprint, c.subject, c.status, c.not_after FROM certificates c WHERE "
	"((c.owner_kind = 'smgw' AND c.owner_id IN (SELECT g.gateway_id FROM gateways g "
	"WHERE g.tenant_id = ?1)) OR (c.owner_kind = 'gwa' AND c.tenant_id = ?1)) "
	"AND (?2 = '' OR c.owner_id = ?2) ORDER BY c.id";
static const char SQL_CT_INSERT[] = "INSERT INTO gwa_context_trust (tenant_id, fingerprint, "
	"subject, not_after, der, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id";
static const char SQL_CT_DELETE[] = "DELETE FROM gwa_context_trust WHERE tenant_id = ?1 "
	"AND id = ?2";
static const char SQL_CT_LIST[] = "SELECT id, tenant_id, fingerprint, subject, not_after, "
	"created_ms, der FROM gwa_context_trust WHERE tenant_id = ?1 ORDER BY id";

static const char SQL_TENANT[] = "SELECT id FROM tenants WHERE name = ?1";

tw_rc store_ctx_tenant_id(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	bool found = false;
	tw_rc rc;

	*id = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(name, STORE_ID_MAX, "context (tenant) name", err)) != TW_OK)
		return rc;
	rc = db_int(d, SQL_TENANT, id, &found, "looking up a tenant", err, "t", name);
	if (rc == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "there is no context (tenant) '%.64s'", name);
	return rc;
}

static const char SQL_TENANTS[] = "SELECT t.name FROM tenants t WHERE t.id IN "
	"(SELECT DISTINCT tenant_id FROM gwa_context_certs) ORDER BY t.id";

tw_rc store_ctx_tenants(struct tw_store *store, char (*names)[STORE_ID_MAX + 1], size_t max,
	size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	bool row;

	*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(d, SQL_TENANTS, &st, &row, "listing the contexts", err, "");
	     rc == TW_OK && row && *n < max; rc = db_next(st, &row, "listing the contexts", err)) {
		if ((rc = db_col_text(st, 0, names[*n], sizeof(names[0]), "tenant name", err)) !=
		    TW_OK)
			break;
		(*n)++;
	}
	db_done(d, st);
	return rc;
}

void store_ctx_cert_clear(struct store_ctx_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

void store_ctx_trust_clear(struct store_ctx_trust *t)
{
	if (t == NULL)
		return;
	free(t->der);
	memset(t, 0, sizeof(*t));
}

static tw_rc cc_check(const struct store_ctx_cert *c, struct tw_error *err)
{
	tw_rc rc;

	if (c->der == NULL || c->der_len == 0 || c->der_len > STORE_CTX_DER_MAX)
		return tw_error_set(err, TW_E_INVALID, "a certificate of 1..%d bytes is needed",
			STORE_CTX_DER_MAX);
	if ((rc = STORE_CHECK_MEMBER(c, label, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, gateway_id, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, subject, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, issuer, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, serial_hex, true, err)) != TW_OK)
		return rc;
	return TW_OK;
}

/* A blob column into a fresh buffer (*out, *len), at most max bytes. */
static tw_rc cc_blob(struct db_stmt *st, int col, size_t max, unsigned char **out,
	size_t *len, struct tw_error *err)
{
	size_t n = (size_t)db_column_bytes(st, col);
	const void *p = db_column_blob(st, col);

	*out = NULL;
	*len = 0;
	if (n > max)
		return tw_error_set(err, TW_E_INTEGRITY, "a stored certificate is larger than %zu "
			"bytes", max);
	if (n == 0 || p == NULL)
		return TW_OK;
	if ((*out = malloc(n)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	memcpy(*out, p, n);
	*len = n;
	return TW_OK;
}

static tw_rc cc_row(struct db_stmt *st, bool with_der, struct store_ctx_cert *c,
	struct tw_error *err)
{
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	c->id = db_column_int64(st, 0);
	c->tenant_id = db_column_int64(st, 1);
	if ((rc = DB_COL_TEXT(st, 2, c, label, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, c, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, c, fingerprint, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, c, subject, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, c, issuer, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, c, serial_hex, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, c, status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 11, c, check_detail, err)) != TW_OK)
		return rc;
	c->not_before = db_column_int64(st, 8);
	c->not_after = db_column_int64(st, 9);
	c->checked_ms = db_column_int64(st, 12);
	c->created_ms = db_column_int64(st, 13);
	c->updated_ms = db_column_int64(st, 14);
	return with_der ? cc_blob(st, 15, STORE_CTX_DER_MAX, &c->der, &c->der_len, err) : TW_OK;
}

tw_rc store_ctx_cert_insert(struct tw_store *store, const struct store_ctx_cert *c,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (c == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ctx_cert_insert: bad arguments");
	if ((rc = cc_check(c, err)) != TW_OK)
		return rc;
	rc = db_insert(d, SQL_CC_INSERT, id, "storing a certificate in the context", err,
		"ittttttiibi", c->tenant_id, c->label, c->gateway_id, c->fingerprint, c->subject,
		c->issuer, c->serial_hex, c->not_before, c->not_after, (const void *)c->der,
		c->der_len, c->created_ms);
	if (rc == TW_E_EXISTS)
		rc = tw_error_set(err, TW_E_EXISTS, "the context holds the certificate %.16s... "
			"already (replace it, or delete it first)", c->fingerprint);
	return rc;
}

tw_rc store_ctx_cert_get(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct store_ctx_cert *out, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ctx_cert_get: no output");
	if ((rc = db_fetch(d, SQL_CC_GET, &st, &row, "reading a certificate of the context",
	    err, "ii", tenant_id, id)) == TW_OK)
		rc = row ? cc_row(st, true, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"the context has no certificate %lld", (long long)id);
	db_done(d, st);
	if (rc != TW_OK)
		store_ctx_cert_clear(out);
	return rc;
}

/* Run one UPDATE/DELETE of the context's row id; TW_E_NOT_FOUND when no row changed. */
static tw_rc cc_changed(struct db *d, int64_t changes, int64_t id, tw_rc rc,
	struct tw_error *err)
{
	(void)d;
	if (rc == TW_OK && changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the context has no entry %lld",
			(long long)id);
	return rc;
}

tw_rc store_ctx_cert_replace(struct tw_store *store, int64_t tenant_id, int64_t id,
	const struct store_ctx_cert *c, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	int64_t changes = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (c == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ctx_cert_replace: bad arguments");
	if ((rc = cc_check(c, err)) != TW_OK)
		return rc;
	rc = db_run(d, SQL_CC_REPLACE, &changes, "replacing a certificate of the context", err,
		"iittttttiibi", tenant_id, id, c->label, c->gateway_id, c->fingerprint,
		c->subject, c->issuer, c->serial_hex, c->not_before, c->not_after, c->der,
		c->der_len, c->updated_ms);
	if (rc == TW_E_EXISTS)
		return tw_error_set(err, TW_E_EXISTS, "the context holds the new certificate "
			"%.16s... already, as another entry", c->fingerprint);
	return cc_changed(d, changes, id, rc, err);
}

tw_rc store_ctx_cert_delete(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	int64_t changes = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	rc = db_run(d, SQL_CC_DELETE, &changes, "deleting a certificate of the context", err,
		"ii", tenant_id, id);
	return cc_changed(d, changes, id, rc, err);
}

tw_rc store_ctx_cert_set_status(struct tw_store *store, int64_t tenant_id, int64_t id,
	const char *status, const char *detail, int64_t checked_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	int64_t changes = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(status, 15, "status", err)) != TW_OK ||
	    (rc = store_check_text(detail, STORE_TEXT_MAX, "check detail", err)) != TW_OK)
		return rc;
	rc = db_run(d, SQL_CC_STATUS, &changes, "marking a certificate of the context", err,
		"iitti", tenant_id, id, status, detail, checked_ms);
	return cc_changed(d, changes, id, rc, err);
}

tw_rc store_ctx_cert_foreach(struct tw_store *store, int64_t tenant_id,
	const char *gateway_id, bool with_der, store_ctx_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_ctx_cert c;
	tw_rc rc;
	bool row;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (gateway_id != NULL && (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id",
	    err)) != TW_OK)
		return rc;
	for (rc = db_fetch(d, SQL_CC_LIST, &st, &row, "listing the context's certificates", err,
		"it", tenant_id, gateway_id != NULL ? gateway_id : ""); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing the context's certificates", err)) {
		int stop;

		if ((rc = cc_row(st, with_der, &c, err)) != TW_OK)
			break;
		stop = cb(&c, arg);
		store_ctx_cert_clear(&c);
		if (stop)
			break;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_ctx_issued_foreach(struct tw_store *store, int64_t tenant_id,
	const char *gateway_id, store_ctx_issued_cb cb, void *arg, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_ctx_issued c;
	tw_rc rc;
	bool row;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (gateway_id != NULL && (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id",
	    err)) != TW_OK)
		return rc;
	for (rc = db_fetch(d, SQL_CI_LIST, &st, &row, "listing the context's SM-PKI certificates",
		err, "it", tenant_id, gateway_id != NULL ? gateway_id : ""); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing the context's SM-PKI certificates", err)) {
		memset(&c, 0, sizeof(c));
		if ((rc = DB_COL_TEXT(st, 0, &c, owner_kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 1, &c, owner_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &c, usage, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &c, serial_hex, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, &c, fingerprint, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, &c, subject, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 6, &c, status, err)) != TW_OK)
			break;
		c.not_after = db_column_int64(st, 7);
		if (cb(&c, arg))
			break;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_ctx_trust_insert(struct tw_store *store, const struct store_ctx_trust *t,
	int64_t *id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (t == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ctx_trust_insert: bad arguments");
	if (t->der == NULL || t->der_len == 0 || t->der_len > STORE_CTX_DER_MAX)
		return tw_error_set(err, TW_E_INVALID, "a CA certificate of 1..%d bytes is needed",
			STORE_CTX_DER_MAX);
	if ((rc = STORE_CHECK_MEMBER(t, fingerprint, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(t, subject, false, err)) != TW_OK)
		return rc;
	rc = db_insert(d, SQL_CT_INSERT, id, "storing a trusted CA of the context", err,
		"ittibi", t->tenant_id, t->fingerprint, t->subject, t->not_after,
		(const void *)t->der, t->der_len, t->created_ms);
	if (rc == TW_E_EXISTS)
		rc = tw_error_set(err, TW_E_EXISTS, "the context trusts that CA already");
	return rc;
}

tw_rc store_ctx_trust_delete(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	int64_t changes = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	rc = db_run(d, SQL_CT_DELETE, &changes, "removing a trusted CA of the context", err,
		"ii", tenant_id, id);
	if (rc == TW_OK && changes == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the context has no trusted CA %lld",
			(long long)id);
	return rc;
}

tw_rc store_ctx_trust_foreach(struct tw_store *store, int64_t tenant_id,
	store_ctx_trust_cb cb, void *arg, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_ctx_trust t;
	tw_rc rc = TW_OK;
	bool row;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(d, SQL_CT_LIST, &st, &row, "listing the context's trusted CAs", err,
		"i", tenant_id); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing the context's trusted CAs", err)) {
		int stop;

		memset(&t, 0, sizeof(t));
		t.id = db_column_int64(st, 0);
		t.tenant_id = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 2, &t, fingerprint, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &t, subject, err)) != TW_OK)
			break;
		t.not_after = db_column_int64(st, 4);
		t.created_ms = db_column_int64(st, 5);
		if ((rc = cc_blob(st, 6, STORE_CTX_DER_MAX, &t.der, &t.der_len, err)) != TW_OK)
			break;
		stop = cb(&t, arg);
		store_ctx_trust_clear(&t);
		if (stop)
			break;
	}
	db_done(d, st);
	return rc;
}

static const char SQL_LOG[] = "SELECT seq, time, actor, action, object, result, detail "
	"FROM admin_log WHERE (object = ?1 OR object LIKE ?2 ESCAPE '!') AND seq > ?3 ORDER BY seq "
	"LIMIT ?4";

/* Copy a text column, cutting what does not fit (a log line is for reading). */
static void cl_text(struct db_stmt *st, int col, char *out, size_t size)
{
	const char *s = (const char *)db_column_text(st, col);

	snprintf(out, size, "%s", s != NULL ? s : "");
}

tw_rc store_ctx_log_foreach(struct tw_store *store, const char *name, int64_t after,
	int64_t limit, store_ctx_log_cb cb, void *arg, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_ctx_log e;
	char object[STORE_ID_MAX + 16], like[2 * STORE_ID_MAX + 24];
	tw_rc rc;
	bool row;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(name, STORE_ID_MAX, "context (tenant) name", err)) != TW_OK)
		return rc;
	/* LIKE wildcards in a tenant name are escaped: only this context's entries match. */
	snprintf(object, sizeof(object), "context:%s", name);
	{
		size_t o = 0;

		o += (size_t)snprintf(like, sizeof(like), "context:");
		for (const char *p = name; *p && o + 3 < sizeof(like); p++) {
			if (*p == '%' || *p == '_' || *p == '!')
				like[o++] = '!';
			like[o++] = *p;
		}
		snprintf(like + o, sizeof(like) - o, " %%");
	}
	for (rc = db_fetch(d, SQL_LOG, &st, &row, "reading the context's log", err, "ttii",
		object, like, after, limit > 0 ? limit : (int64_t)1000); rc == TW_OK && row;
	     rc = db_next(st, &row, "reading the context's log", err)) {
		memset(&e, 0, sizeof(e));
		e.seq = db_column_int64(st, 0);
		cl_text(st, 1, e.time, sizeof(e.time));
		cl_text(st, 2, e.actor, sizeof(e.actor));
		cl_text(st, 3, e.action, sizeof(e.action));
		cl_text(st, 4, e.object, sizeof(e.object));
		cl_text(st, 5, e.result, sizeof(e.result));
		cl_text(st, 6, e.detail, sizeof(e.detail));
		if (cb(&e, arg))
			break;
	}
	db_done(d, st);
	return rc;
}
