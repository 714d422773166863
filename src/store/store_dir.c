/*
 * store_dir.c: store_dir.h. Portable SQL through the store's driver (db.h).
 */
#include "store/store_dir.h"

#include <string.h>

#include "store/db.h"

#define DIR_COLS "c.id, c.status, c.owner_kind, c.usage, c.subject, c.issuer, " \
	"CASE WHEN c.revoked_ms > 0 THEN c.revoked_ms ELSE c.not_before * 1000 END, c.der, " \
	"c.serial_hex"

static const char SQL_PENDING[] = "SELECT " DIR_COLS " FROM certificates c LEFT JOIN "
	"dir_published p ON p.cert_id = c.id WHERE c.owner_kind <> 'operator' AND "
	"(p.cert_id IS NULL OR p.status <> c.status) ORDER BY c.id LIMIT ?1";
static const char SQL_SUBJECT[] = "SELECT " DIR_COLS " FROM certificates c WHERE "
	"c.issuer = ?1 AND c.subject = ?2 AND c.status = 'valid' AND c.not_after > ?3 AND "
	"c.owner_kind <> 'operator' ORDER BY c.id";
static const char SQL_MARK[] = "INSERT INTO dir_published (cert_id, status, published_ms) "
	"VALUES (?1, ?2, ?3) ON CONFLICT (cert_id) DO UPDATE SET status = excluded.status, "
	"published_ms = excluded.published_ms";
static const char SQL_BACKLOG[] = "SELECT count(*), min(CASE WHEN c.revoked_ms > 0 THEN "
	"c.revoked_ms ELSE c.not_before * 1000 END) FROM certificates c LEFT JOIN "
	"dir_published p ON p.cert_id = c.id WHERE c.owner_kind <> 'operator' AND "
	"(p.cert_id IS NULL OR p.status <> c.status)";
static const char SQL_RESET1[] = "DELETE FROM dir_published";
static const char SQL_RESET2[] = "DELETE FROM dir_crl_published";
static const char SQL_CRL_PENDING[] = "SELECT c.ca, c.number, c.path FROM ca_crls c LEFT "
	"JOIN dir_crl_published p ON p.ca = c.ca WHERE p.ca IS NULL OR p.number <> c.number "
	"ORDER BY c.ca";
static const char SQL_CRL_MARK[] = "INSERT INTO dir_crl_published (ca, number, "
	"published_ms) VALUES (?1, ?2, ?3) ON CONFLICT (ca) DO UPDATE SET number = "
	"excluded.number, published_ms = excluded.published_ms";

static tw_rc sd_walk(struct db *d, struct db_stmt *st, store_dir_cert_cb cb, void *arg,
	const char *doing, struct tw_error *err)
{
	struct store_dir_cert c;
	tw_rc rc = TW_OK;
	int step;

	while ((step = db_step(st)) == DB_ROW) {
		memset(&c, 0, sizeof(c));
		c.id = db_column_int64(st, 0);
		if ((rc = DB_COL_TEXT(st, 1, &c, status, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &c, owner_kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &c, usage, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, &c, subject, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, &c, issuer, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 8, &c, serial_hex, err)) != TW_OK)
			return rc;
		c.since_ms = db_column_int64(st, 6);
		c.der = db_column_blob(st, 7);
		c.der_len = (size_t)db_column_bytes(st, 7);
		if (c.der == NULL || c.der_len == 0)
			return tw_error_set(err, TW_E_INTEGRITY, "certificate %lld has no DER",
				(long long)c.id);
		if (cb(&c, arg) != 0)
			return TW_OK;
	}
	if (step != DB_DONE)
		rc = db_step_fail(d, err, doing);
	return rc;
}

tw_rc store_dir_pending(struct tw_store *store, int limit, store_dir_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (cb == NULL || limit <= 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_pending: bad argument");
	if ((rc = db_prepare(d, SQL_PENDING, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, limit);
	rc = sd_walk(d, st, cb, arg, "reading the directory's pending certificates", err);
	db_done(d, st);
	return rc;
}

tw_rc store_dir_subject_valid(struct tw_store *store, const char *issuer,
	const char *subject, int64_t now_s, store_dir_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (cb == NULL || issuer == NULL || subject == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_subject_valid: NULL argument");
	if ((rc = db_prepare(d, SQL_SUBJECT, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, issuer);
	db_bind_text(st, 2, subject);
	db_bind_int64(st, 3, now_s);
	rc = sd_walk(d, st, cb, arg, "reading a subject's certificates", err);
	db_done(d, st);
	return rc;
}

tw_rc store_dir_mark(struct tw_store *store, int64_t cert_id, const char *status,
	int64_t now_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (status == NULL || cert_id <= 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_mark: bad argument");
	if ((rc = db_prepare(d, SQL_MARK, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, cert_id);
	db_bind_text(st, 2, status);
	db_bind_int64(st, 3, now_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a published certificate");
	db_done(d, st);
	return rc;
}

tw_rc store_dir_backlog(struct tw_store *store, int64_t *pending, int64_t *oldest_ms,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	*pending = 0;
	*oldest_ms = 0;
	if (d == NULL)
		return err->code;
	if ((rc = db_prepare(d, SQL_BACKLOG, &st, err)) != TW_OK)
		return rc;
	if (db_step(st) == DB_ROW) {
		*pending = db_column_int64(st, 0);
		*oldest_ms = db_column_null(st, 1) ? 0 : db_column_int64(st, 1);
	} else {
		rc = db_step_fail(d, err, "counting the directory's backlog");
	}
	db_done(d, st);
	return rc;
}

static tw_rc sd_exec(struct db *d, const char *sql, const char *doing, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	tw_rc rc;

	if ((rc = db_prepare(d, sql, &st, err)) != TW_OK)
		return rc;
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, doing);
	db_done(d, st);
	return rc;
}

tw_rc store_dir_reset(struct tw_store *store, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = sd_exec(d, SQL_RESET1, "forgetting published certificates", err)) != TW_OK ||
	    (rc = sd_exec(d, SQL_RESET2, "forgetting published CRLs", err)) != TW_OK) {
		store_rollback(store);
		return rc;
	}
	return store_commit(store, err);
}

tw_rc store_dir_crl_pending(struct tw_store *store, store_dir_crl_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_dir_crl c;
	tw_rc rc;
	int step;

	if (d == NULL)
		return err->code;
	if ((rc = db_prepare(d, SQL_CRL_PENDING, &st, err)) != TW_OK)
		return rc;
	while ((step = db_step(st)) == DB_ROW) {
		memset(&c, 0, sizeof(c));
		c.number = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 0, &c, ca, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &c, path, err)) != TW_OK)
			break;
		if (cb(&c, arg) != 0)
			break;
	}
	if (rc == TW_OK && step != DB_DONE && step != DB_ROW)
		rc = db_step_fail(d, err, "reading the directory's pending CRLs");
	db_done(d, st);
	return rc;
}

tw_rc store_dir_crl_mark(struct tw_store *store, const char *ca, int64_t number,
	int64_t now_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (ca == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_crl_mark: NULL argument");
	if ((rc = db_prepare(d, SQL_CRL_MARK, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, ca);
	db_bind_int64(st, 2, number);
	db_bind_int64(st, 3, now_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(d, err, "recording a published CRL");
	db_done(d, st);
	return rc;
}
