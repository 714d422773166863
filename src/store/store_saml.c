/*
 * store_saml.c: identity providers per context and the assertion replay cache
 * (store_saml.h). Every statement through db.h, the same text on SQLite and PostgreSQL.
 */
#include "store/store_saml.h"

#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

static const char SQL_IDP_PUT[] = "INSERT INTO saml_idps (tenant_id, entity_id, cert_pem, "
	"fingerprint, not_after, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
	"ON CONFLICT (tenant_id) DO UPDATE SET entity_id = excluded.entity_id, "
	"cert_pem = excluded.cert_pem, fingerprint = excluded.fingerprint, "
	"not_after = excluded.not_after, updated_ms = excluded.updated_ms";
static const char SQL_IDP_GET[] = "SELECT tenant_id, entity_id, cert_pem, fingerprint, "
	"not_after, updated_ms FROM saml_idps WHERE tenant_id = ?1";
static const char SQL_IDP_DELETE[] = "DELETE FROM saml_idps WHERE tenant_id = ?1";
static const char SQL_REPLAY_PURGE[] = "DELETE FROM saml_replay WHERE expires_ms <= ?1";
static const char SQL_REPLAY_INSERT[] = "INSERT INTO saml_replay (entity_id, assertion_id, "
	"expires_ms) VALUES (?1, ?2, ?3)";

void store_saml_idp_clear(struct store_saml_idp *idp)
{
	if (idp == NULL)
		return;
	free(idp->cert_pem);
	memset(idp, 0, sizeof(*idp));
}

tw_rc store_saml_idp_put(struct tw_store *store, const struct store_saml_idp *idp,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(idp->entity_id, STORE_SAML_TEXT_MAX, "entity id", err)) !=
	    TW_OK ||
	    (rc = store_check_text(idp->fingerprint, 64, "fingerprint", err)) != TW_OK)
		return rc;
	if (idp->cert_pem == NULL || idp->cert_pem[0] == '\0' ||
	    strlen(idp->cert_pem) > STORE_SAML_PEM_MAX)
		return tw_error_set(err, TW_E_INVALID, "an identity provider certificate of "
			"1..%d bytes of PEM is needed", STORE_SAML_PEM_MAX);
	return db_run(d, SQL_IDP_PUT, NULL, "setting a context's identity provider", err,
		"ittiii", idp->tenant_id, idp->entity_id, idp->cert_pem, idp->fingerprint,
		idp->not_after, idp->updated_ms);
}

tw_rc store_saml_idp_get(struct tw_store *store, int64_t tenant_id, struct store_saml_idp *out,
	struct tw_error *err)
{
	static const char doing[] = "reading a context's identity provider";
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_fetch(d, SQL_IDP_GET, &st, &row, doing, err, "i", tenant_id)) != TW_OK)
		return rc;
	if (!row) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the context has no identity provider; "
			"set one with `torwart context idp-set`");
	} else {
		out->tenant_id = db_column_int64(st, 0);
		out->not_after = db_column_int64(st, 4);
		out->updated_ms = db_column_int64(st, 5);
		if ((rc = DB_COL_TEXT(st, 1, out, entity_id, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 3, out, fingerprint, err)) == TW_OK)
			rc = db_col_dup(st, 2, STORE_SAML_PEM_MAX, "identity provider certificate",
				&out->cert_pem, err);
	}
	db_done(d, st);
	if (rc != TW_OK)
		store_saml_idp_clear(out);
	return rc;
}

tw_rc store_saml_idp_delete(struct tw_store *store, int64_t tenant_id, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	int64_t n = 0;
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_run(d, SQL_IDP_DELETE, &n, "removing a context's identity provider", err,
	    "i", tenant_id)) != TW_OK)
		return rc;
	return n == 0 ? tw_error_set(err, TW_E_NOT_FOUND, "the context has no identity "
		"provider") : TW_OK;
}

tw_rc store_saml_replay_use(struct tw_store *store, const char *entity_id,
	const char *assertion_id, int64_t expires_ms, int64_t now_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(entity_id, STORE_SAML_TEXT_MAX, "entity id", err)) != TW_OK ||
	    (rc = store_check_text(assertion_id, STORE_SAML_TEXT_MAX, "assertion id", err)) !=
	    TW_OK)
		return rc;
	if ((rc = db_run(d, SQL_REPLAY_PURGE, NULL, "purging expired assertion ids", err, "i",
	    now_ms)) != TW_OK)
		return rc;
	rc = db_run(d, SQL_REPLAY_INSERT, NULL, "remembering an assertion id", err, "tti",
		entity_id, assertion_id, expires_ms);
	if (rc == TW_E_EXISTS)
		rc = tw_error_set(err, TW_E_EXISTS, "the assertion %.64s was used already",
			assertion_id);
	return rc;
}
