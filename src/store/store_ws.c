/*
 * store_ws.c: store_ws.h. Portable SQL through the store's driver (db.h).
 */
#include "store/store_ws.h"

#include <string.h>

#include "store/db.h"

static const char SQL_GET[] = "SELECT admin FROM ws_device_admin WHERE device = ?1";
static const char SQL_INSERT[] = "INSERT INTO ws_device_admin (device, admin, changed_ms, "
	"changed_by) VALUES (?1, ?2, ?3, ?4)";
/* Compare-and-set: changes nothing when another change came first. */
static const char SQL_UPDATE[] = "UPDATE ws_device_admin SET admin = ?2, changed_ms = ?3, "
	"changed_by = ?4 WHERE device = ?1 AND admin = ?5";

tw_rc store_ws_device_admin_get(struct tw_store *store, const char *device, char *admin,
	size_t size, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	int step;
	tw_rc rc;

	if (store == NULL || store->db == NULL || device == NULL || admin == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_device_admin_get: bad argument");
	admin[0] = '\0';
	s = store->db;
	if ((rc = db_prepare(s, SQL_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, device);
	step = db_step(st);
	if (step == DB_ROW)
		rc = db_col_text(st, 0, admin, size, "device administrator", err);
	else if (step == DB_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway '%s' has no administering GWA "
			"recorded", device);
	else
		rc = db_step_fail(s, err, "reading a gateway's administrator");
	db_done(s, st);
	return rc;
}

tw_rc store_ws_device_admin_set(struct tw_store *store, const char *device,
	const char *expected, const char *admin, int64_t now_ms, const char *by,
	struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || device == NULL || admin == NULL || by == NULL ||
	    *device == '\0' || *admin == '\0')
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_device_admin_set: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, expected == NULL ? SQL_INSERT : SQL_UPDATE, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, device);
	db_bind_text(st, 2, admin);
	db_bind_int64(st, 3, now_ms);
	db_bind_text(st, 4, by);
	if (expected != NULL)
		db_bind_text(st, 5, expected);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "saving a gateway's administrator");
	else if (expected != NULL && db_changes(s) != 1)
		rc = tw_error_set(err, TW_E_EXISTS, "the administrator of gateway '%s' changed "
			"meanwhile; nothing was changed", device);
	db_done(s, st);
	return rc;
}
