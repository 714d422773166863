/*
 * store_trust.c: store_trust.h. Portable SQL through the store's driver (db.h).
 */
#include "store/store_trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

#define TRUST_COLS "issuer, url, number, this_update, next_update, fetched_ms, attempt_ms, " \
	"last_error"

static const char SQL_GET[] = "SELECT " TRUST_COLS ", der FROM trust_crls WHERE issuer = ?1";
static const char SQL_ALL[] = "SELECT " TRUST_COLS " FROM trust_crls ORDER BY issuer";
static const char SQL_SOURCE[] = "INSERT INTO trust_crls (issuer, url) VALUES (?1, ?2) "
	"ON CONFLICT (issuer) DO NOTHING";
static const char SQL_PUT[] = "INSERT INTO trust_crls (issuer, url, number, this_update, "
	"next_update, fetched_ms, attempt_ms, der, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	"?6, ?7, '') ON CONFLICT (issuer) DO UPDATE SET url = excluded.url, number = "
	"excluded.number, this_update = excluded.this_update, next_update = "
	"excluded.next_update, fetched_ms = excluded.fetched_ms, attempt_ms = "
	"excluded.attempt_ms, der = excluded.der, last_error = ''";
static const char SQL_FAILED[] = "UPDATE trust_crls SET attempt_ms = ?2, last_error = ?3 "
	"WHERE issuer = ?1";

void store_trust_crl_clear(struct store_trust_crl *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

static tw_rc st_row(struct db_stmt *st, struct store_trust_crl *c, struct tw_error *err)
{
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	if ((rc = DB_COL_TEXT(st, 0, c, issuer, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 1, c, url, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, c, last_error, err)) != TW_OK)
		return rc;
	c->number = db_column_int64(st, 2);
	c->this_update = db_column_int64(st, 3);
	c->next_update = db_column_int64(st, 4);
	c->fetched_ms = db_column_int64(st, 5);
	c->attempt_ms = db_column_int64(st, 6);
	return TW_OK;
}

tw_rc store_trust_crl_get(struct tw_store *store, const char *issuer,
	struct store_trust_crl *out, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;
	int step;

	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err->code;
	if (issuer == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_trust_crl_get: NULL issuer");
	if ((rc = db_prepare(d, SQL_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, issuer);
	step = db_step(st);
	if (step == DB_ROW) {
		if ((rc = st_row(st, out, err)) == TW_OK && !db_column_null(st, 8)) {
			const void *b = db_column_blob(st, 8);
			size_t n = (size_t)db_column_bytes(st, 8);

			if (b != NULL && n > 0) {
				if ((out->der = malloc(n)) == NULL) {
					rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				} else {
					memcpy(out->der, b, n);
					out->der_len = n;
				}
			}
		}
	} else if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no CRL of %s", issuer);
	} else {
		rc = db_step_fail(d, err, "reading a trusted CA's CRL");
	}
	db_done(d, st);
	if (rc != TW_OK)
		store_trust_crl_clear(out);
	return rc;
}

tw_rc store_trust_crl_source(struct tw_store *store, const char *issuer, const char *url,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (issuer == NULL || url == NULL || strlen(issuer) > STORE_TEXT_MAX ||
	    strlen(url) > STORE_TRUST_URL_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL source: issuer or URL missing or too "
			"long");
	if ((rc = db_prepare(d, SQL_SOURCE, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, issuer);
	db_bind_text(st, 2, url);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a CRL source");
	db_done(d, st);
	return rc;
}

tw_rc store_trust_crl_put(struct tw_store *store, const struct store_trust_crl *c,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (c == NULL || c->der == NULL || c->der_len == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_trust_crl_put: no CRL");
	if ((rc = db_prepare(d, SQL_PUT, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, c->issuer);
	db_bind_text(st, 2, c->url);
	db_bind_int64(st, 3, c->number);
	db_bind_int64(st, 4, c->this_update);
	db_bind_int64(st, 5, c->next_update);
	db_bind_int64(st, 6, c->fetched_ms);
	db_bind_blob(st, 7, c->der, c->der_len);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "storing a trusted CA's CRL");
	db_done(d, st);
	return rc;
}

tw_rc store_trust_crl_failed(struct tw_store *store, const char *issuer, int64_t attempt_ms,
	const char *error, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	char msg[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if (d == NULL)
		return err->code;
	snprintf(msg, sizeof(msg), "%s", error != NULL ? error : "");
	if ((rc = db_prepare(d, SQL_FAILED, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, issuer);
	db_bind_int64(st, 2, attempt_ms);
	db_bind_text(st, 3, msg);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a failed CRL fetch");
	db_done(d, st);
	return rc;
}

tw_rc store_trust_crl_foreach(struct tw_store *store, store_trust_crl_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_trust_crl c;
	tw_rc rc;
	int step;

	if (d == NULL)
		return err->code;
	if ((rc = db_prepare(d, SQL_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = db_step(st)) == DB_ROW) {
		if ((rc = st_row(st, &c, err)) != TW_OK || cb(&c, arg) != 0)
			break;
	}
	if (rc == TW_OK && step != DB_DONE && step != DB_ROW)
		rc = db_step_fail(d, err, "listing trusted CAs' CRLs");
	db_done(d, st);
	return rc;
}
