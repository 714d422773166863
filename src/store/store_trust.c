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
	bool row;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (d == NULL)
		return err->code;
	if (issuer == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_trust_crl_get: NULL issuer");
	if ((rc = db_fetch(d, SQL_GET, &st, &row, "reading a trusted CA's CRL", err, "t",
		issuer)) == TW_OK && !row)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no CRL of %s", issuer);
	if (rc == TW_OK && (rc = st_row(st, out, err)) == TW_OK && !db_column_null(st, 8)) {
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
	db_done(d, st);
	if (rc != TW_OK)
		store_trust_crl_clear(out);
	return rc;
}

tw_rc store_trust_crl_source(struct tw_store *store, const char *issuer, const char *url,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (d == NULL)
		return err->code;
	if (issuer == NULL || url == NULL || strlen(issuer) > STORE_TEXT_MAX ||
	    strlen(url) > STORE_TRUST_URL_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL source: issuer or URL missing or too "
			"long");
	return db_run(d, SQL_SOURCE, NULL, "recording a CRL source", err, "tt", issuer, url);
}

tw_rc store_trust_crl_put(struct tw_store *store, const struct store_trust_crl *c,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (d == NULL)
		return err->code;
	if (c == NULL || c->der == NULL || c->der_len == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_trust_crl_put: no CRL");
	return db_run(d, SQL_PUT, NULL, "storing a trusted CA's CRL", err, "ttiiiib", c->issuer,
		c->url, c->number, c->this_update, c->next_update, c->fetched_ms, c->der,
		c->der_len);
}

tw_rc store_trust_crl_failed(struct tw_store *store, const char *issuer, int64_t attempt_ms,
	const char *error, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	char msg[STORE_TEXT_MAX + 1];

	if (d == NULL)
		return err->code;
	snprintf(msg, sizeof(msg), "%s", error != NULL ? error : "");
	return db_run(d, SQL_FAILED, NULL, "recording a failed CRL fetch", err, "tit", issuer,
		attempt_ms, msg);
}

tw_rc store_trust_crl_foreach(struct tw_store *store, store_trust_crl_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_trust_crl c;
	bool row;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	for (rc = db_fetch(d, SQL_ALL, &st, &row, "listing trusted CAs' CRLs", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "listing trusted CAs' CRLs", err)) {
		if ((rc = st_row(st, &c, err)) != TW_OK || cb(&c, arg) != 0)
			break;
	}
	db_done(d, st);
	return rc;
}
