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

#define SD_PENDING "reading the directory's pending certificates"
#define SD_SUBJECT "reading a subject's certificates"

/* The certificate rows (DIR_COLS) of a db_fetch standing on its first row, each to cb;
 * ends the statement. */
static tw_rc sd_walk(struct db *d, struct db_stmt *st, bool row, store_dir_cert_cb cb,
	void *arg, const char *doing, struct tw_error *err)
{
	struct store_dir_cert c;
	tw_rc rc;

	for (rc = TW_OK; rc == TW_OK && row; rc = db_next(st, &row, doing, err)) {
		memset(&c, 0, sizeof(c));
		c.id = db_column_int64(st, 0);
		if ((rc = DB_COL_TEXT(st, 1, &c, status, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &c, owner_kind, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, &c, usage, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 4, &c, subject, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, &c, issuer, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 8, &c, serial_hex, err)) != TW_OK)
			break;
		c.since_ms = db_column_int64(st, 6);
		c.der = db_column_blob(st, 7);
		c.der_len = (size_t)db_column_bytes(st, 7);
		if (c.der == NULL || c.der_len == 0) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "certificate %lld has no DER",
				(long long)c.id);
			break;
		}
		if (cb(&c, arg) != 0)
			break;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_dir_pending(struct tw_store *store, int limit, store_dir_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (cb == NULL || limit <= 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_pending: bad argument");
	if ((rc = db_fetch(d, SQL_PENDING, &st, &row, SD_PENDING, err, "i",
		(int64_t)limit)) != TW_OK)
		return rc;
	return sd_walk(d, st, row, cb, arg, SD_PENDING, err);
}

tw_rc store_dir_subject_valid(struct tw_store *store, const char *issuer,
	const char *subject, int64_t now_s, store_dir_cert_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	if (cb == NULL || issuer == NULL || subject == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_subject_valid: NULL argument");
	if ((rc = db_fetch(d, SQL_SUBJECT, &st, &row, SD_SUBJECT, err, "tti", issuer, subject,
		now_s)) != TW_OK)
		return rc;
	return sd_walk(d, st, row, cb, arg, SD_SUBJECT, err);
}

tw_rc store_dir_mark(struct tw_store *store, int64_t cert_id, const char *status,
	int64_t now_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (d == NULL)
		return err->code;
	if (status == NULL || cert_id <= 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_mark: bad argument");
	return db_run(d, SQL_MARK, NULL, "recording a published certificate", err, "iti",
		cert_id, status, now_ms);
}

tw_rc store_dir_backlog(struct tw_store *store, int64_t *pending, int64_t *oldest_ms,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	*pending = 0;
	*oldest_ms = 0;
	if (d == NULL)
		return err->code;
	if ((rc = db_fetch(d, SQL_BACKLOG, &st, &row, "counting the directory's backlog", err,
		"")) != TW_OK)
		return rc;
	if (row) {
		*pending = db_column_int64(st, 0);
		*oldest_ms = db_column_null(st, 1) ? 0 : db_column_int64(st, 1);
	}
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
	if ((rc = db_run(d, SQL_RESET1, NULL, "forgetting published certificates", err,
		"")) != TW_OK ||
	    (rc = db_run(d, SQL_RESET2, NULL, "forgetting published CRLs", err, "")) != TW_OK) {
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
	bool row;
	tw_rc rc;

	if (d == NULL)
		return err->code;
	for (rc = db_fetch(d, SQL_CRL_PENDING, &st, &row, "reading the directory's pending "
		"CRLs", err, ""); rc == TW_OK && row;
	     rc = db_next(st, &row, "reading the directory's pending CRLs", err)) {
		memset(&c, 0, sizeof(c));
		c.number = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 0, &c, ca, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &c, path, err)) != TW_OK || cb(&c, arg) != 0)
			break;
	}
	db_done(d, st);
	return rc;
}

tw_rc store_dir_crl_mark(struct tw_store *store, const char *ca, int64_t number,
	int64_t now_ms, struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (d == NULL)
		return err->code;
	if (ca == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_dir_crl_mark: NULL argument");
	return db_run(d, SQL_CRL_MARK, NULL, "recording a published CRL", err, "tii", ca, number,
		now_ms);
}
