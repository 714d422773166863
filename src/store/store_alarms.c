/*
 * store_alarms.c: store_alarms.h, portable SQL through the driver (db.h).
 */
#include "store/store_alarms.h"

#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

static const char SQL_MSG_GET[] =
	"SELECT id, gateway_id, kind, type, severity, gateway_time, received_ms, message, "
	"actions FROM gateway_messages WHERE id = ?1";
static const char SQL_ACK_GET[] =
	"SELECT message_id, acked_by, acked_ms, note FROM gateway_message_acks "
	"WHERE message_id = ?1";
static const char SQL_ACK_INSERT[] =
	"INSERT INTO gateway_message_acks (message_id, acked_by, acked_ms, note) "
	"VALUES (?1, ?2, ?3, ?4)";
static const char SQL_OPEN_COUNT[] =
	"SELECT count(*) FROM gateway_messages m JOIN gateways g ON g.gateway_id = m.gateway_id "
	"WHERE m.kind = 'alarm' AND (?1 = 0 OR g.tenant_id = ?1) AND NOT EXISTS "
	"(SELECT 1 FROM gateway_message_acks a WHERE a.message_id = m.id)";

static void copy_col(struct db_stmt *st, int col, char *out, size_t size)
{
	const char *t = db_column_text(st, col);

	snprintf(out, size, "%s", t != NULL ? t : "");
}

tw_rc store_alarm_get(struct tw_store *store, int64_t id, struct store_gateway_message *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || id <= 0)
		return tw_error_set(err, TW_E_INVALID, "alarm id must be a positive number");
	memset(out, 0, sizeof(*out));
	if ((rc = db_fetch(db, SQL_MSG_GET, &st, &row, "reading an alarm", err, "i", id)) != TW_OK)
		return rc;
	if (row) {
		out->id = db_column_int64(st, 0);
		copy_col(st, 1, out->gateway_id, sizeof(out->gateway_id));
		copy_col(st, 2, out->kind, sizeof(out->kind));
		copy_col(st, 3, out->type, sizeof(out->type));
		copy_col(st, 4, out->severity, sizeof(out->severity));
		copy_col(st, 5, out->gateway_time, sizeof(out->gateway_time));
		out->received_ms = db_column_int64(st, 6);
		copy_col(st, 7, out->message, sizeof(out->message));
		copy_col(st, 8, out->actions, sizeof(out->actions));
	} else {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "alarm %lld does not exist", (long long)id);
	}
	db_done(db, st);
	return rc;
}

tw_rc store_alarm_ack_get(struct tw_store *store, int64_t id, struct store_alarm_ack *out,
	bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alarm_ack_get: NULL argument");
	memset(out, 0, sizeof(*out));
	if ((rc = db_fetch(db, SQL_ACK_GET, &st, found, "reading an alarm acknowledgement", err,
	    "i", id)) != TW_OK)
		return rc;
	if (*found) {
		out->message_id = db_column_int64(st, 0);
		copy_col(st, 1, out->acked_by, sizeof(out->acked_by));
		out->acked_ms = db_column_int64(st, 2);
		copy_col(st, 3, out->note, sizeof(out->note));
	}
	db_done(db, st);
	return rc;
}

tw_rc store_alarm_ack_insert(struct tw_store *store, const struct store_alarm_ack *ack,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ack == NULL || ack->message_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "alarm id must be a positive number");
	if ((rc = store_check_text(ack->acked_by, STORE_NAME_MAX, "acknowledging actor", err)) !=
	    TW_OK)
		return rc;
	if (strlen(ack->note) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_INVALID, "note over %d bytes", STORE_TEXT_MAX);
	rc = db_run(db, SQL_ACK_INSERT, NULL, "acknowledging an alarm", err, "itit",
		ack->message_id, ack->acked_by, ack->acked_ms, ack->note);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, TW_E_EXISTS, "alarm %lld is acknowledged already",
			(long long)ack->message_id);
	return rc;
}

tw_rc store_alarm_count_open(struct tw_store *store, int64_t *n, struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (n != NULL)
		*n = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_alarm_count_open: NULL output");
	/* count(*) always returns its one row. */
	return db_int(db, SQL_OPEN_COUNT, n, NULL, "counting open alarms", err, "i",
		store_scoped_tenant(store));
}
