/*
 * store_ws.c: store_ws.h. Portable SQL through the store's driver (db.h).
 */
#include "store/store_ws.h"

#include <stdlib.h>
#include <stdio.h>
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
	bool found = false;
	tw_rc rc;

	if (store == NULL || store->db == NULL || device == NULL || admin == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_device_admin_get: bad argument");
	if ((rc = db_text(store->db, SQL_GET, admin, size, "device administrator", &found,
		"reading a gateway's administrator", err, "t", device)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway '%s' has no administering GWA "
			"recorded", device);
	return rc;
}

tw_rc store_ws_device_admin_set(struct tw_store *store, const char *device,
	const char *expected, const char *admin, int64_t now_ms, const char *by,
	struct tw_error *err)
{
	int64_t changed = 0;
	tw_rc rc;

	if (store == NULL || store->db == NULL || device == NULL || admin == NULL || by == NULL ||
	    *device == '\0' || *admin == '\0')
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_device_admin_set: bad argument");
	rc = db_run(store->db, expected == NULL ? SQL_INSERT : SQL_UPDATE, &changed,
		"saving a gateway's administrator", err, expected == NULL ? "ttit" : "ttitt",
		device, admin, now_ms, by, expected);
	if (rc == TW_OK && expected != NULL && changed != 1)
		rc = tw_error_set(err, TW_E_EXISTS, "the administrator of gateway '%s' changed "
			"meanwhile; nothing was changed", device);
	return rc;
}

/* ---- endpoints ---- */

static const char SQL_EP_SET[] = "INSERT INTO ws_endpoints (participant, url, changed_ms, "
	"changed_by) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (participant) DO UPDATE SET "
	"url = excluded.url, changed_ms = excluded.changed_ms, changed_by = excluded.changed_by";
static const char SQL_EP_GET[] = "SELECT url FROM ws_endpoints WHERE participant = ?1";

tw_rc store_ws_endpoint_set(struct tw_store *store, const char *participant, const char *url,
	int64_t now_ms, const char *by, struct tw_error *err)
{
	if (store == NULL || store->db == NULL || participant == NULL || url == NULL ||
	    by == NULL || strlen(url) >= STORE_WS_URL_MAX)
		return tw_error_set(err, TW_E_INVALID, "store_ws_endpoint_set: bad argument");
	return db_run(store->db, SQL_EP_SET, NULL, "saving a participant's endpoint", err, "ttit",
		participant, url, now_ms, by);
}

tw_rc store_ws_endpoint_get(struct tw_store *store, const char *participant, char *url,
	size_t size, struct tw_error *err)
{
	bool found = false;
	tw_rc rc;

	if (store == NULL || store->db == NULL || participant == NULL || url == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_endpoint_get: bad argument");
	if ((rc = db_text(store->db, SQL_EP_GET, url, size, "endpoint url", &found,
		"reading a participant's endpoint", err, "t", participant)) == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "participant '%s' registered no "
			"SendCertificates endpoint (torwart ws endpoint set)", participant);
	return rc;
}

/* ---- outbox ---- */

static const char SQL_OB_INSERT[] = "INSERT INTO ws_outbox (request_id, participant, "
	"message_id, state, next_ms, created_ms) VALUES (?1, ?2, ?3, 'waiting', ?4, ?4)";
#define OB_COLS "id, request_id, participant, message_id, state, status, attempts, next_ms, " \
	"last_error, created_ms, done_ms FROM ws_outbox"
static const char SQL_OB_ALL[] = "SELECT " OB_COLS " ORDER BY id";
static const char SQL_OB_STATE[] = "SELECT " OB_COLS " WHERE state = ?1 ORDER BY id";
static const char SQL_OB_DUE[] = "SELECT " OB_COLS " WHERE state = ?1 AND next_ms <= ?2 "
	"ORDER BY next_ms, id";
static const char SQL_OB_UPDATE[] = "UPDATE ws_outbox SET state = ?2, status = ?3, "
	"attempts = ?4, next_ms = ?5, last_error = ?6, done_ms = ?7 WHERE id = ?1";
static const char SQL_SERIALS[] = "SELECT serial_hex FROM certificates WHERE issuer = ?1 AND "
	"request_id = ?2 ORDER BY serial_hex";

tw_rc store_ws_outbox_insert(struct tw_store *store, int64_t request_id,
	const char *participant, const char *message_id, int64_t now_ms, struct tw_error *err)
{
	if (store == NULL || store->db == NULL || participant == NULL || message_id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_insert: bad argument");
	return db_run(store->db, SQL_OB_INSERT, NULL, "queueing an asynchronous answer", err,
		"itti", request_id, participant, message_id, now_ms);
}

static tw_rc ob_row(struct db_stmt *st, struct store_ws_outbox *o, struct tw_error *err)
{
	tw_rc rc;

	memset(o, 0, sizeof(*o));
	o->id = db_column_int64(st, 0);
	o->request_id = db_column_int64(st, 1);
	o->attempts = db_column_int64(st, 6);
	o->next_ms = db_column_int64(st, 7);
	o->created_ms = db_column_int64(st, 9);
	o->done_ms = db_column_int64(st, 10);
	if ((rc = DB_COL_TEXT(st, 2, o, participant, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, o, message_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, o, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, o, status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 8, o, last_error, err)) != TW_OK)
		return rc;
	return TW_OK;
}

tw_rc store_ws_outbox_foreach(struct tw_store *store, const char *state, int64_t due_ms,
	size_t limit, store_ws_outbox_cb cb, void *arg, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct store_ws_outbox o;
	size_t n = 0;
	bool row;
	tw_rc rc;

	if (store == NULL || store->db == NULL || cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_foreach: bad argument");
	for (rc = db_fetch(store->db, state == NULL ? SQL_OB_ALL : due_ms > 0 ? SQL_OB_DUE :
		SQL_OB_STATE, &st, &row, "reading the outbox", err, state == NULL ? "" :
		due_ms > 0 ? "ti" : "t", state, due_ms); rc == TW_OK && row;
	     rc = db_next(st, &row, "reading the outbox", err)) {
		if ((rc = ob_row(st, &o, err)) != TW_OK || cb(&o, arg) != 0)
			break;
		if (limit > 0 && ++n >= limit)
			break;
	}
	db_done(store->db, st);
	return rc;
}

tw_rc store_ws_outbox_update(struct tw_store *store, const struct store_ws_outbox *o,
	struct tw_error *err)
{
	int64_t changed = 0;
	tw_rc rc;

	if (store == NULL || store->db == NULL || o == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_update: bad argument");
	rc = db_run(store->db, SQL_OB_UPDATE, &changed, "updating the outbox", err, "ittiiti",
		o->id, o->state, o->status, o->attempts, o->next_ms, o->last_error, o->done_ms);
	if (rc == TW_OK && changed != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "outbox entry %lld is gone",
			(long long)o->id);
	return rc;
}

tw_rc store_ws_request_serials(struct tw_store *store, const char *issuer, int64_t request_id,
	char (*serials)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	*n = 0;
	if (store == NULL || store->db == NULL || issuer == NULL || serials == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_request_serials: bad argument");
	for (rc = db_fetch(store->db, SQL_SERIALS, &st, &row, "reading a request's certificates",
		err, "ti", issuer, request_id); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "reading a request's certificates", err)) {
		if ((rc = db_col_text(st, 0, serials[*n], STORE_ID_MAX + 1, "serial", err)) != TW_OK)
			break;
		(*n)++;
	}
	db_done(store->db, st);
	return rc;
}

/* ---- client requests ---- */

static const char SQL_CL_INSERT[] = "INSERT INTO ws_client_requests (message_id, remote, "
	"state, created_ms) VALUES (?1, ?2, 'pending', ?3)";
static const char SQL_CL_GET[] = "SELECT remote, state, status, certs, created_ms, done_ms "
	"FROM ws_client_requests WHERE message_id = ?1";
static const char SQL_CL_FINISH[] = "UPDATE ws_client_requests SET state = ?2, status = ?3, "
	"certs = ?4, done_ms = ?5 WHERE message_id = ?1 AND state = 'pending'";

void store_ws_client_request_clear(struct store_ws_client_request *r)
{
	if (r == NULL)
		return;
	free(r->certs);
	memset(r, 0, sizeof(*r));
}

tw_rc store_ws_client_insert(struct tw_store *store, const char *message_id,
	const char *remote, int64_t now_ms, struct tw_error *err)
{
	if (store == NULL || store->db == NULL || message_id == NULL || remote == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_insert: bad argument");
	return db_run(store->db, SQL_CL_INSERT, NULL, "recording a request to a remote Sub-CA",
		err, "tti", message_id, remote, now_ms);
}

tw_rc store_ws_client_get(struct tw_store *store, const char *message_id,
	struct store_ws_client_request *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (store == NULL || store->db == NULL || message_id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_get: bad argument");
	snprintf(out->message_id, sizeof(out->message_id), "%s", message_id);
	if ((rc = db_fetch(store->db, SQL_CL_GET, &st, &row, "reading a request to a remote "
		"Sub-CA", err, "t", message_id)) == TW_OK && !row)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request with messageID %s was sent",
			message_id);
	if (rc == TW_OK) {
		const void *b = db_column_blob(st, 3);
		int bl = db_column_bytes(st, 3);

		out->created_ms = db_column_int64(st, 4);
		out->done_ms = db_column_int64(st, 5);
		if ((rc = DB_COL_TEXT(st, 0, out, remote, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 1, out, state, err)) == TW_OK &&
		    (rc = DB_COL_TEXT(st, 2, out, status, err)) == TW_OK && b != NULL && bl > 0) {
			if ((out->certs = malloc((size_t)bl)) == NULL)
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			else {
				memcpy(out->certs, b, (size_t)bl);
				out->certs_len = (size_t)bl;
			}
		}
	}
	db_done(store->db, st);
	if (rc != TW_OK)
		store_ws_client_request_clear(out);
	return rc;
}

tw_rc store_ws_client_finish(struct tw_store *store, const char *message_id,
	const char *state, const char *status, const unsigned char *certs, size_t certs_len,
	int64_t now_ms, struct tw_error *err)
{
	int64_t changed = 0;
	tw_rc rc;

	if (store == NULL || store->db == NULL || message_id == NULL || state == NULL ||
	    status == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_finish: bad argument");
	rc = db_run(store->db, SQL_CL_FINISH, &changed, "recording certificates from a remote "
		"Sub-CA", err, "tttBi", message_id, state, status, certs, certs_len, now_ms);
	if (rc == TW_OK && changed != 1) {
		struct store_ws_client_request r;
		struct tw_error e2;

		rc = store_ws_client_get(store, message_id, &r, &e2) == TW_E_NOT_FOUND ?
			tw_error_set(err, TW_E_NOT_FOUND, "no request with messageID %s was sent",
			message_id) : tw_error_set(err, TW_E_EXISTS, "the answer to messageID %s "
			"was received before", message_id);
		store_ws_client_request_clear(&r);
	}
	return rc;
}
