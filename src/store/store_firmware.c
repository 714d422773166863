/*
 * store_firmware.c: the public store_firmware.h API. Checks every argument once, before
 * any SQL runs (bad input changes nothing and is never truncated), then runs its SQL,
 * written once for SQLite and PostgreSQL, through db.h.
 */
#include "store/store_firmware.h"

#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define F_COLS "id, model, version, sha256, size, path, signature, state, uploaded_ms, " \
	"uploaded_by, released_ms, released_by, withdrawn_ms, withdrawn_by"
static const char SQL_F_INSERT[] =
	"INSERT INTO firmware_images (model, version, sha256, size, path, signature, state, "
	"uploaded_ms, uploaded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id";
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

static tw_rc f_row(struct db_stmt *st, struct store_firmware *f, struct tw_error *err)
{
	tw_rc rc;

	memset(f, 0, sizeof(*f));
	if ((rc = DB_COL_TEXT(st, 1, f, model, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, f, version, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, f, sha256, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, f, path, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, f, signature, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, f, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, f, uploaded_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 11, f, released_by, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 13, f, withdrawn_by, err)) != TW_OK)
		return rc;
	f->id = db_column_int64(st, 0);
	f->size = db_column_int64(st, 4);
	f->uploaded_ms = db_column_int64(st, 8);
	f->released_ms = db_column_int64(st, 10);
	f->withdrawn_ms = db_column_int64(st, 12);
	return TW_OK;
}

/* The first row of a db_fetch, if any, then done; *found false when there is none. */
static tw_rc f_one(struct db *db, struct db_stmt *st, struct store_firmware *out, bool *found,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (*found && (rc = f_row(st, out, err)) != TW_OK)
		*found = false;
	db_done(db, st);
	return rc;
}

static bool sf_hex64(const char *h)
{
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return h[64] == '\0';
}

static bool sf_one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c != NULL && strcmp(s, c) == 0);
}

tw_rc store_firmware_insert(struct tw_store *store, const struct store_firmware *f,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_insert: no image or id");
	if ((rc = STORE_CHECK_MEMBER(f, model, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, version, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, path, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, signature, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, uploaded_by, true, err)) != TW_OK)
		return rc;
	if (!sf_hex64(f->sha256))
		return tw_error_set(err, TW_E_INVALID,
			"firmware digest must be 64 lower-case hex digits");
	if (f->size <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware size must be positive");
	if (strcmp(f->state, "uploaded") != 0)
		return tw_error_set(err, TW_E_INVALID, "a new firmware image starts as uploaded, "
			"not %s", f->state);
	if (!sf_one_of(f->signature, "unverified", "verified", "invalid"))
		return tw_error_set(err, TW_E_INVALID, "unknown signature status \"%s\"",
			f->signature);
	rc = db_insert(db, SQL_F_INSERT, id, "storing a firmware image", err, "tttitttit",
		f->model, f->version, f->sha256, f->size, f->path, f->signature, f->state,
		f->uploaded_ms, f->uploaded_by);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "firmware %s %s or an image with SHA-256 %s is stored "
			"already", f->model, f->version, f->sha256);
	return rc;
}

tw_rc store_firmware_get(struct tw_store *store, int64_t id, struct store_firmware *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool found = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_get: out is NULL");
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware id must be positive");
	if ((rc = db_fetch(db, SQL_F_GET, &st, &found, "reading a firmware image", err, "i",
		id)) != TW_OK)
		return rc;
	if ((rc = f_one(db, st, out, &found, err)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no firmware image %lld (see `torwart "
			"firmware list`)", (long long)id);
	return rc;
}

tw_rc store_firmware_find(struct tw_store *store, const char *sha256, const char *model,
	const char *version, struct store_firmware *out, bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || sha256 == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_find: bad arguments");
	if (!sf_hex64(sha256))
		return tw_error_set(err, TW_E_INVALID,
			"firmware digest must be 64 lower-case hex digits");
	if ((rc = store_check_text(model, STORE_ID_MAX, "model", err)) != TW_OK ||
	    (rc = store_check_text(version, STORE_ID_MAX, "version", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_F_FIND, &st, found, "reading a firmware image", err, "ttt",
		sha256, model, version)) != TW_OK)
		return rc;
	return f_one(db, st, out, found, err);
}

tw_rc store_firmware_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	int64_t changed = 0;
	char now[16] = "";
	bool row = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware id must be positive");
	if ((rc = store_check_text(from, 15, "state", err)) != TW_OK ||
	    (rc = store_check_text(to, 15, "state", err)) != TW_OK ||
	    (rc = store_check_text(by, STORE_NAME_MAX, "actor", err)) != TW_OK)
		return rc;
	/* The only moves of the state machine (migration 0007); anything else is a bug. */
	if (!((strcmp(from, "uploaded") == 0 && sf_one_of(to, "released", "withdrawn", NULL)) ||
	      (strcmp(from, "released") == 0 && strcmp(to, "withdrawn") == 0)))
		return tw_error_set(err, TW_E_INTERNAL, "firmware state %s -> %s is not a move "
			"of the state machine", from, to);
	if ((rc = db_run(db, strcmp(to, "released") == 0 ? SQL_F_RELEASE : SQL_F_WITHDRAW,
		&changed, "changing a firmware image's state", err, "itit", id, from, when_ms,
		by)) != TW_OK || changed == 1)
		return rc;
	/* Nothing changed: unknown id, or the image is not in `from` (say which). */
	if ((rc = db_fetch(db, SQL_F_STATE, &st, &row, "reading a firmware image's state", err,
		"i", id)) != TW_OK)
		return rc;
	if (row)
		rc = db_col_text(st, 0, now, sizeof(now), "state", err);
	db_done(db, st);
	if (rc != TW_OK)
		return rc;
	if (!row)
		return tw_error_set(err, TW_E_NOT_FOUND, "no firmware image %lld (see `torwart "
			"firmware list`)", (long long)id);
	return tw_error_set(err, TW_E_DENIED, "firmware image %lld is %s, not %s; nothing "
		"changed", (long long)id, now, from);
}

tw_rc store_firmware_foreach(struct tw_store *store, store_firmware_cb cb, void *arg,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	struct store_firmware f;
	bool row;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_foreach: no callback");
	for (rc = db_fetch(db, SQL_F_ALL, &st, &row, "listing firmware images", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "listing firmware images", err)) {
		if ((rc = f_row(st, &f, err)) != TW_OK || cb(&f, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}

static const char SQL_F_SET_SIG[] =
	"UPDATE firmware_images SET signature = ?2 WHERE id = ?1";

tw_rc store_firmware_set_signature(struct tw_store *store, int64_t id, const char *status,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	int64_t changed = 0;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id <= 0 || status == NULL || !sf_one_of(status, "unverified", "verified", "invalid"))
		return tw_error_set(err, TW_E_INVALID, "bad firmware id or signature status");
	rc = db_run(db, SQL_F_SET_SIG, &changed, "setting a firmware signature status", err,
		"it", id, status);
	if (rc == TW_OK && changed != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no firmware image %lld", (long long)id);
	return rc;
}

/* ---- migration 0009: signatures and certified lists ---- */

#define S_COLS "image_id, cms_path, signer, signer_serial, signer_issuer, verified_ms, " \
	"checked_ms, check_result"
static const char SQL_S_INSERT[] = "INSERT INTO firmware_signatures (" S_COLS ") "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, '')";
static const char SQL_S_GET[] = "SELECT " S_COLS " FROM firmware_signatures "
	"WHERE image_id = ?1";
static const char SQL_S_CHECKED[] = "UPDATE firmware_signatures SET checked_ms = ?2, "
	"check_result = ?3 WHERE image_id = ?1";
#define L_COLS "id, sequence, issued, sha256, signer, entries, imported_ms, imported_by"
static const char SQL_L_INSERT[] = "INSERT INTO firmware_lists (sequence, issued, sha256, "
	"signer, entries, imported_ms, imported_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
	"RETURNING id";
static const char SQL_L_ENTRY[] = "INSERT INTO firmware_certified (list_id, model, version) "
	"VALUES (?1, ?2, ?3)";
static const char SQL_L_CURRENT[] = "SELECT " L_COLS " FROM firmware_lists "
	"ORDER BY sequence DESC LIMIT 1";
static const char SQL_L_CERTIFIED[] = "SELECT count(*) FROM firmware_certified "
	"WHERE model = ?1 AND version = ?2 AND list_id = "
	"(SELECT id FROM firmware_lists ORDER BY sequence DESC LIMIT 1)";
static const char SQL_L_ALL[] = "SELECT model, version FROM firmware_certified "
	"WHERE list_id = (SELECT id FROM firmware_lists ORDER BY sequence DESC LIMIT 1) "
	"ORDER BY model, version";

tw_rc store_firmware_sig_insert(struct tw_store *store, const struct store_firmware_sig *s,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (s == NULL || s->image_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware signature without an image");
	if ((rc = STORE_CHECK_MEMBER(s, cms_path, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, signer, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, signer_serial, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, signer_issuer, false, err)) != TW_OK)
		return rc;
	return db_run(db, SQL_S_INSERT, NULL, "storing a firmware signature", err, "itttti",
		s->image_id, s->cms_path, s->signer, s->signer_serial, s->signer_issuer,
		s->verified_ms);
}

tw_rc store_firmware_sig_get(struct tw_store *store, int64_t image_id,
	struct store_firmware_sig *out, bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	*found = false;
	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_fetch(db, SQL_S_GET, &st, &row, "reading a firmware signature", err, "i",
		image_id)) != TW_OK || !row) {
		db_done(db, st);
		return rc;
	}
	out->image_id = db_column_int64(st, 0);
	out->verified_ms = db_column_int64(st, 5);
	out->checked_ms = db_column_int64(st, 6);
	if ((rc = DB_COL_TEXT(st, 1, out, cms_path, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 2, out, signer, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 3, out, signer_serial, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 4, out, signer_issuer, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 7, out, check_result, err)) == TW_OK)
		*found = true;
	db_done(db, st);
	return rc;
}

tw_rc store_firmware_sig_checked(struct tw_store *store, int64_t image_id, int64_t when_ms,
	const char *result, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(result, 31, "check result", err)) != TW_OK)
		return rc;
	return db_run(db, SQL_S_CHECKED, NULL, "recording a firmware check", err, "iit",
		image_id, when_ms, result);
}

tw_rc store_firmware_list_insert(struct tw_store *store, const struct store_firmware_list *l,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (l == NULL || id == NULL || l->sequence <= 0 || l->entries < 0 ||
	    !sf_hex64(l->sha256))
		return tw_error_set(err, TW_E_INVALID, "bad certified list row");
	if ((rc = STORE_CHECK_MEMBER(l, issued, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, signer, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, imported_by, true, err)) != TW_OK)
		return rc;
	return db_insert(db, SQL_L_INSERT, id, "storing a certified firmware list", err,
		"itttiit", l->sequence, l->issued, l->sha256, l->signer, l->entries,
		l->imported_ms, l->imported_by);
}

tw_rc store_firmware_list_entry(struct tw_store *store, int64_t list_id, const char *model,
	const char *version, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(model, STORE_ID_MAX, "model", err)) != TW_OK ||
	    (rc = store_check_text(version, STORE_ID_MAX, "version", err)) != TW_OK)
		return rc;
	return db_run(db, SQL_L_ENTRY, NULL, "storing a certified firmware version", err, "itt",
		list_id, model, version);
}

tw_rc store_firmware_list_current(struct tw_store *store, struct store_firmware_list *out,
	bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	*found = false;
	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_fetch(db, SQL_L_CURRENT, &st, &row, "reading the certified firmware list",
		err, "")) != TW_OK || !row) {
		db_done(db, st);
		return rc;
	}
	out->id = db_column_int64(st, 0);
	out->sequence = db_column_int64(st, 1);
	out->entries = db_column_int64(st, 5);
	out->imported_ms = db_column_int64(st, 6);
	if ((rc = DB_COL_TEXT(st, 2, out, issued, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 3, out, sha256, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 4, out, signer, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 7, out, imported_by, err)) == TW_OK)
		*found = true;
	db_done(db, st);
	return rc;
}

tw_rc store_firmware_certified(struct tw_store *store, const char *model,
	const char *version, bool *yes, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	*yes = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(model, STORE_ID_MAX, "model", err)) != TW_OK ||
	    (rc = store_check_text(version, STORE_ID_MAX, "version", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_L_CERTIFIED, &st, &row, "reading the certified firmware "
		"list", err, "tt", model, version)) != TW_OK)
		return rc;
	*yes = row && db_column_int64(st, 0) > 0;
	db_done(db, st);
	return rc;
}

tw_rc store_firmware_list_foreach(struct tw_store *store, store_firmware_entry_cb cb,
	void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	char model[STORE_ID_MAX + 1], version[STORE_ID_MAX + 1];
	bool row;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	for (rc = db_fetch(db, SQL_L_ALL, &st, &row, "listing the certified firmware list", err,
		""); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing the certified firmware list", err)) {
		if ((rc = db_col_text(st, 0, model, sizeof(model), "model", err)) != TW_OK ||
		    (rc = db_col_text(st, 1, version, sizeof(version), "version", err)) != TW_OK ||
		    cb(model, version, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}
