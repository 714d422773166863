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

/* ---- endpoints ---- */

static const char SQL_EP_SET[] = "INSERT INTO ws_endpoints (participant, url, changed_ms, "
	"changed_by) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (participant) DO UPDATE SET "
	"url = excluded.url, changed_ms = excluded.changed_ms, changed_by = excluded.changed_by";
static const char SQL_EP_GET[] = "SELECT url FROM ws_endpoints WHERE participant = ?1";

tw_rc store_ws_endpoint_set(struct tw_store *store, const char *participant, const char *url,
	int64_t now_ms, const char *by, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || participant == NULL || url == NULL ||
	    by == NULL || strlen(url) >= STORE_WS_URL_MAX)
		return tw_error_set(err, TW_E_INVALID, "store_ws_endpoint_set: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_EP_SET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, participant);
	db_bind_text(st, 2, url);
	db_bind_int64(st, 3, now_ms);
	db_bind_text(st, 4, by);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "saving a participant's endpoint");
	db_done(s, st);
	return rc;
}

tw_rc store_ws_endpoint_get(struct tw_store *store, const char *participant, char *url,
	size_t size, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	int step;
	tw_rc rc;

	if (store == NULL || store->db == NULL || participant == NULL || url == NULL || size == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_endpoint_get: bad argument");
	url[0] = '\0';
	s = store->db;
	if ((rc = db_prepare(s, SQL_EP_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, participant);
	step = db_step(st);
	if (step == DB_ROW)
		rc = db_col_text(st, 0, url, size, "endpoint url", err);
	else if (step == DB_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "participant '%s' registered no "
			"SendCertificates endpoint (torwart ws endpoint set)", participant);
	else
		rc = db_step_fail(s, err, "reading a participant's endpoint");
	db_done(s, st);
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
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || participant == NULL || message_id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_insert: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_OB_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, request_id);
	db_bind_text(st, 2, participant);
	db_bind_text(st, 3, message_id);
	db_bind_int64(st, 4, now_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "queueing an asynchronous answer");
	db_done(s, st);
	return rc;
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
	struct db *s;
	struct db_stmt *st = NULL;
	struct store_ws_outbox o;
	size_t n = 0;
	int step;
	tw_rc rc;

	if (store == NULL || store->db == NULL || cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_foreach: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, state == NULL ? SQL_OB_ALL : due_ms > 0 ? SQL_OB_DUE :
		SQL_OB_STATE, &st, err)) != TW_OK)
		return rc;
	if (state != NULL)
		db_bind_text(st, 1, state);
	if (state != NULL && due_ms > 0)
		db_bind_int64(st, 2, due_ms);
	while ((step = db_step(st)) == DB_ROW) {
		if ((rc = ob_row(st, &o, err)) != TW_OK || cb(&o, arg) != 0)
			break;
		if (limit > 0 && ++n >= limit)
			break;
	}
	if (rc == TW_OK && step != DB_ROW && step != DB_DONE)
		rc = db_step_fail(s, err, "reading the outbox");
	db_done(s, st);
	return rc;
}

tw_rc store_ws_outbox_update(struct tw_store *store, const struct store_ws_outbox *o,
	struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || o == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_outbox_update: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_OB_UPDATE, &st, err)) != TW_OK)
		return rc;
	db_bind_int64(st, 1, o->id);
	db_bind_text(st, 2, o->state);
	db_bind_text(st, 3, o->status);
	db_bind_int64(st, 4, o->attempts);
	db_bind_int64(st, 5, o->next_ms);
	db_bind_text(st, 6, o->last_error);
	db_bind_int64(st, 7, o->done_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "updating the outbox");
	else if (db_changes(s) != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "outbox entry %lld is gone",
			(long long)o->id);
	db_done(s, st);
	return rc;
}

tw_rc store_ws_request_serials(struct tw_store *store, const char *issuer, int64_t request_id,
	char (*serials)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	int step = DB_DONE;
	tw_rc rc;

	*n = 0;
	if (store == NULL || store->db == NULL || issuer == NULL || serials == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_request_serials: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_SERIALS, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, issuer);
	db_bind_int64(st, 2, request_id);
	while (*n < max && (step = db_step(st)) == DB_ROW) {
		if ((rc = db_col_text(st, 0, serials[*n], STORE_ID_MAX + 1, "serial", err)) != TW_OK)
			break;
		(*n)++;
	}
	if (rc == TW_OK && *n < max && step != DB_DONE)
		rc = db_step_fail(s, err, "reading a request's certificates");
	db_done(s, st);
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
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || message_id == NULL || remote == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_insert: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_CL_INSERT, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, message_id);
	db_bind_text(st, 2, remote);
	db_bind_int64(st, 3, now_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "recording a request to a remote Sub-CA");
	db_done(s, st);
	return rc;
}

tw_rc store_ws_client_get(struct tw_store *store, const char *message_id,
	struct store_ws_client_request *out, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	int step;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (store == NULL || store->db == NULL || message_id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_get: bad argument");
	snprintf(out->message_id, sizeof(out->message_id), "%s", message_id);
	s = store->db;
	if ((rc = db_prepare(s, SQL_CL_GET, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, message_id);
	step = db_step(st);
	if (step == DB_ROW) {
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
	} else if (step == DB_DONE) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no request with messageID %s was sent",
			message_id);
	} else {
		rc = db_step_fail(s, err, "reading a request to a remote Sub-CA");
	}
	db_done(s, st);
	if (rc != TW_OK)
		store_ws_client_request_clear(out);
	return rc;
}

tw_rc store_ws_client_finish(struct tw_store *store, const char *message_id,
	const char *state, const char *status, const unsigned char *certs, size_t certs_len,
	int64_t now_ms, struct tw_error *err)
{
	struct db *s;
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (store == NULL || store->db == NULL || message_id == NULL || state == NULL ||
	    status == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ws_client_finish: bad argument");
	s = store->db;
	if ((rc = db_prepare(s, SQL_CL_FINISH, &st, err)) != TW_OK)
		return rc;
	db_bind_text(st, 1, message_id);
	db_bind_text(st, 2, state);
	db_bind_text(st, 3, status);
	if (certs != NULL && certs_len > 0)
		db_bind_blob(st, 4, certs, certs_len);
	else
		db_bind_null(st, 4);
	db_bind_int64(st, 5, now_ms);
	if (db_step(st) != DB_DONE)
		rc = db_step_fail(s, err, "recording certificates from a remote Sub-CA");
	else if (db_changes(s) != 1) {
		struct store_ws_client_request r;
		struct tw_error e2;

		rc = store_ws_client_get(store, message_id, &r, &e2) == TW_E_NOT_FOUND ?
			tw_error_set(err, TW_E_NOT_FOUND, "no request with messageID %s was sent",
			message_id) : tw_error_set(err, TW_E_EXISTS, "the answer to messageID %s "
			"was received before", message_id);
		store_ws_client_request_clear(&r);
	}
	db_done(s, st);
	return rc;
}
