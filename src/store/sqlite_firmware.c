/*
 * sqlite_firmware.c: the SQL of the firmware catalogue (store_firmware.h, migration
 * 0007_firmware.sql) for the SQLite backend. Arguments were validated by
 * store_firmware.c; everything read back is checked against the struct limits like
 * outside input (an edited database is TW_E_INTEGRITY, never an overflow).
 */
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_firmware.h"

#define F_COLS "id, model, version, sha256, size, path, signature, state, uploaded_ms, " \
	"uploaded_by, released_ms, released_by, withdrawn_ms, withdrawn_by"
static const char SQL_F_INSERT[] =
	"INSERT INTO firmware_images (model, version, sha256, size, path, signature, state, "
	"uploaded_ms, uploaded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_F_GET[] = "SELECT " F_COLS " FROM firmware_images WHERE id = ?1";
/* Digest first: when both match different rows, the identical bytes are the better answer. */
static const char SQL_F_FIND[] = "SELECT " F_COLS " FROM firmware_images "
	"WHERE sha256 = ?1 OR (model = ?2 AND version = ?3) ORDER BY sha256 = ?1 DESC LIMIT 1";
static const char SQL_F_ALL[] = "SELECT " F_COLS " FROM firmware_images ORDER BY id";
static const char SQL_F_RELEASE[] =
	"UPDATE firmware_images SET state = 'released', released_ms = ?3, released_by = ?4 "
	"WHERE id = ?1 AND state = ?2";
static const char SQL_F_WITHDRAW[] =
	"UPDATE firmware_images SET state = 'withdrawn', withdrawn_ms = ?3, withdrawn_by = ?4 "
	"WHERE id = ?1 AND state = ?2";
static const char SQL_F_STATE[] = "SELECT state FROM firmware_images WHERE id = ?1";

#define BIND_TEXT(st, i, s) sqlite3_bind_text((st), (i), (s), -1, SQLITE_STATIC)

static tw_rc f_row(sqlite3_stmt *st, struct store_firmware *f, struct tw_error *err)
{
	tw_rc rc;

	memset(f, 0, sizeof(*f));
	if ((rc = SQ_COL_TEXT(st, 1, f, model, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 2, f, version, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 3, f, sha256, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 5, f, path, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 6, f, signature, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 7, f, state, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 9, f, uploaded_by, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 11, f, released_by, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 13, f, withdrawn_by, err)) != TW_OK)
		return rc;
	f->id = sqlite3_column_int64(st, 0);
	f->size = sqlite3_column_int64(st, 4);
	f->uploaded_ms = sqlite3_column_int64(st, 8);
	f->released_ms = sqlite3_column_int64(st, 10);
	f->withdrawn_ms = sqlite3_column_int64(st, 12);
	return TW_OK;
}

static tw_rc sf_insert(void *be, const struct store_firmware *f, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_F_INSERT, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, f->model);
	BIND_TEXT(st, 2, f->version);
	BIND_TEXT(st, 3, f->sha256);
	sqlite3_bind_int64(st, 4, f->size);
	BIND_TEXT(st, 5, f->path);
	BIND_TEXT(st, 6, f->signature);
	BIND_TEXT(st, 7, f->state);
	sqlite3_bind_int64(st, 8, f->uploaded_ms);
	BIND_TEXT(st, 9, f->uploaded_by);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing a firmware image");
		if (rc == TW_E_EXISTS)
			tw_error_set(err, rc, "firmware %s %s or an image with SHA-256 %s is stored "
				"already", f->model, f->version, f->sha256);
	} else {
		*id = sqlite3_last_insert_rowid(s->db);
	}
	sq_done(s, st);
	return rc;
}

/* One row of a prepared query; *found false when there is none. */
static tw_rc f_one(struct sq *s, sqlite3_stmt *st, struct store_firmware *out, bool *found,
	struct tw_error *err)
{
	int step = sqlite3_step(st);
	tw_rc rc = TW_OK;

	*found = false;
	if (step == SQLITE_ROW) {
		rc = f_row(st, out, err);
		*found = rc == TW_OK;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a firmware image");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sf_get(void *be, int64_t id, struct store_firmware *out, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	bool found = false;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_F_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if ((rc = f_one(s, st, out, &found, err)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no firmware image %lld (see `torwart "
			"firmware list`)", (long long)id);
	return rc;
}

static tw_rc sf_find(void *be, const char *sha256, const char *model, const char *version,
	struct store_firmware *out, bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_F_FIND, &st, err)) != TW_OK)
		return rc;
	BIND_TEXT(st, 1, sha256);
	BIND_TEXT(st, 2, model);
	BIND_TEXT(st, 3, version);
	return f_one(s, st, out, found, err);
}

static tw_rc sf_transition(void *be, int64_t id, const char *from, const char *to,
	int64_t when_ms, const char *by, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	char now[16] = "";
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, strcmp(to, "released") == 0 ? SQL_F_RELEASE : SQL_F_WITHDRAW,
		&st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	BIND_TEXT(st, 2, from);
	sqlite3_bind_int64(st, 3, when_ms);
	BIND_TEXT(st, 4, by);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, "changing a firmware image's state");
	sq_done(s, st);
	if (rc != TW_OK || sqlite3_changes(s->db) == 1)
		return rc;
	/* Nothing changed: unknown id, or the image is not in `from` (say which). */
	if ((rc = sq_prepare(s, SQL_F_STATE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = sq_col_text(st, 0, now, sizeof(now), "state", err);
	else if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading a firmware image's state");
	sq_done(s, st);
	if (rc != TW_OK)
		return rc;
	if (step != SQLITE_ROW)
		return tw_error_set(err, TW_E_NOT_FOUND, "no firmware image %lld (see `torwart "
			"firmware list`)", (long long)id);
	return tw_error_set(err, TW_E_DENIED, "firmware image %lld is %s, not %s; nothing "
		"changed", (long long)id, now, from);
}

static tw_rc sf_foreach(void *be, store_firmware_cb cb, void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_firmware f;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_F_ALL, &st, err)) != TW_OK)
		return rc;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = f_row(st, &f, err)) != TW_OK || cb(&f, arg) != 0)
			break;
	}
	if (rc == TW_OK && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "listing firmware images");
	sq_done(s, st);
	return rc;
}

const struct store_firmware_ops store_sqlite_firmware_ops = {
	.insert = sf_insert,
	.get = sf_get,
	.find = sf_find,
	.transition = sf_transition,
	.foreach = sf_foreach,
};
