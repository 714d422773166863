/*
 * store_metering.c: the public store_metering.h API (tables of migration metering:
 * metering_messages, emt_endpoints, time_checks, gateway_time). Queries are written once
 * for SQLite and PostgreSQL through db.h; arguments are checked before any SQL runs.
 */
#include "store/store_metering.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/store_check.h"

#define M_COLS "id, gateway_id, message_id, kind, emt_id, metering_point, clock_ok, sha256, " \
	"body, received_ms, state, attempts, next_attempt_ms, delivered_ms, last_error"
static const char SQL_M_INSERT[] =
	"INSERT INTO metering_messages (gateway_id, message_id, kind, emt_id, metering_point, "
	"clock_ok, sha256, body, received_ms, state, next_attempt_ms) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?9) RETURNING id";
static const char SQL_M_BY_MSGID[] =
	"SELECT id, sha256 FROM metering_messages WHERE gateway_id = ?1 AND message_id = ?2";
static const char SQL_M_DUE[] = "SELECT " M_COLS " FROM metering_messages "
	"WHERE state = 'pending' AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, id LIMIT ?2";
static const char SQL_M_GET[] = "SELECT " M_COLS " FROM metering_messages WHERE id = ?1";
static const char SQL_M_DELIVERED[] = "UPDATE metering_messages SET state = 'delivered', "
	"delivered_ms = ?2, attempts = attempts + 1, last_error = '' "
	"WHERE id = ?1 AND state = 'pending'";
static const char SQL_M_RETRY[] = "UPDATE metering_messages SET attempts = attempts + 1, "
	"next_attempt_ms = ?2, last_error = ?3 WHERE id = ?1 AND state = 'pending'";
static const char SQL_M_PURGE[] = "DELETE FROM metering_messages "
	"WHERE state = 'delivered' AND delivered_ms < ?1";
static const char SQL_M_OVERDUE[] = "UPDATE metering_messages SET alerted = 1 "
	"WHERE state = 'pending' AND alerted = 0 AND received_ms < ?1";
static const char SQL_M_COUNT[] = "SELECT "
	"COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0), "
	"COALESCE(SUM(alerted), 0), COALESCE(SUM(length(body)), 0) "
	"FROM metering_messages WHERE (?1 = '' OR emt_id = ?1)";
static const char SQL_E_SET_DEL[] = "DELETE FROM emt_endpoints WHERE emt_id = ?1";
static const char SQL_E_SET_INS[] = "INSERT INTO emt_endpoints (emt_id, url, changed_ms, "
	"changed_by) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_E_GET[] = "SELECT url FROM emt_endpoints WHERE emt_id = ?1";
static const char SQL_T_INSERT[] = "INSERT INTO time_checks (checked_ms, upstream, offset_ms, "
	"ok, detail, valid_until_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_T_LAST[] = "SELECT checked_ms, upstream, offset_ms, ok, detail, valid_until_ms "
	"FROM time_checks ORDER BY id DESC LIMIT 1";
#define G_COLS "gateway_id, last_sync_ms, last_offset_ms, syncs, failures, last_failure"
static const char SQL_G_GET[] = "SELECT " G_COLS " FROM gateway_time WHERE gateway_id = ?1";
static const char SQL_G_NEW[] = "INSERT INTO gateway_time (gateway_id) VALUES (?1)";
static const char SQL_G_OK[] = "UPDATE gateway_time SET last_sync_ms = ?2, "
	"last_offset_ms = ?3, syncs = syncs + 1 WHERE gateway_id = ?1";
static const char SQL_G_FAIL[] = "UPDATE gateway_time SET failures = failures + 1, "
	"last_failure = ?2 WHERE gateway_id = ?1";
static const char SQL_G_OFF[] = "SELECT " G_COLS " FROM gateway_time "
	"WHERE last_offset_ms > ?1 OR last_offset_ms < -?1 OR failures > 0 ORDER BY gateway_id";

#define DB_OR_FAIL(db, store, err) \
	do { if (((db) = store_db((store), (err))) == NULL) \
		return (err) != NULL ? (err)->code : TW_E_INTERNAL; } while (0)

void store_metering_msg_clear(struct store_metering_msg *m)
{
	if (m == NULL)
		return;
	free(m->body);
	memset(m, 0, sizeof(*m));
}

void store_metering_msgs_free(struct store_metering_msg *msgs, size_t n)
{
	for (size_t i = 0; msgs != NULL && i < n; i++)
		store_metering_msg_clear(&msgs[i]);
	free(msgs);
}

static bool sm_hex64(const char *h)
{
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return h[64] == '\0';
}

static tw_rc sm_row(struct db_stmt *st, struct store_metering_msg *m, struct tw_error *err)
{
	const void *b;
	int n;
	tw_rc rc;

	memset(m, 0, sizeof(*m));
	if ((rc = DB_COL_TEXT(st, 1, m, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, m, message_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, m, kind, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, m, emt_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, m, metering_point, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, m, sha256, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, m, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 14, m, last_error, err)) != TW_OK)
		return rc;
	m->id = db_column_int64(st, 0);
	m->clock_ok = db_column_int64(st, 6) != 0;
	b = db_column_blob(st, 8);
	n = db_column_bytes(st, 8);
	if (b == NULL || n <= 0 || (size_t)n > STORE_METERING_BODY_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "stored metering message %lld has no or "
			"an oversized body", (long long)m->id);
	if ((m->body = malloc((size_t)n)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	memcpy(m->body, b, (size_t)n);
	m->body_len = (size_t)n;
	m->received_ms = db_column_int64(st, 9);
	m->attempts = db_column_int64(st, 11);
	m->next_attempt_ms = db_column_int64(st, 12);
	m->delivered_ms = db_column_int64(st, 13);
	return TW_OK;
}

static bool sm_kind_ok(const char *k)
{
	return strcmp(k, "tariffed") == 0 || strcmp(k, "grid-status") == 0;
}

tw_rc store_metering_insert(struct tw_store *store, const struct store_metering_msg *m,
	int64_t *id, bool *duplicate, struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	char sha[65] = "";
	bool row = false;
	tw_rc rc = TW_OK;

	DB_OR_FAIL(db, store, err);
	if (m == NULL || id == NULL || duplicate == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_metering_insert: bad arguments");
	*duplicate = false;
	*id = 0;
	if ((rc = STORE_CHECK_MEMBER(m, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, message_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, emt_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, metering_point, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, kind, true, err)) != TW_OK)
		return rc;
	if (!sm_kind_ok(m->kind))
		return tw_error_set(err, TW_E_INVALID, "unknown metering message kind \"%s\"",
			m->kind);
	if (!sm_hex64(m->sha256))
		return tw_error_set(err, TW_E_INVALID, "message digest must be 64 hex digits");
	if (m->body == NULL || m->body_len == 0 || m->body_len > STORE_METERING_BODY_MAX)
		return tw_error_set(err, TW_E_INVALID, "metering message body must hold 1..%d "
			"bytes", STORE_METERING_BODY_MAX);
	/* The same (gateway, message id) again: a resend after a lost ack, or a forgery. */
	if ((rc = db_fetch(db, SQL_M_BY_MSGID, &st, &row, "looking up a metering message", err,
	    "tt", m->gateway_id, m->message_id)) == TW_OK && row) {
		*id = db_column_int64(st, 0);
		rc = db_col_text(st, 1, sha, sizeof(sha), "sha256", err);
	}
	db_done(db, st);
	if (rc != TW_OK)
		return rc;
	if (*id != 0) {
		if (strcmp(sha, m->sha256) == 0) {
			*duplicate = true;
			return TW_OK;
		}
		*id = 0;
		return tw_error_set(err, TW_E_EXISTS, "message id %s of gateway %s was stored "
			"with other content", m->message_id, m->gateway_id);
	}
	rc = db_insert(db, SQL_M_INSERT, id, "storing a metering message", err, "tttttitbi",
		m->gateway_id, m->message_id, m->kind, m->emt_id, m->metering_point,
		(int64_t)(m->clock_ok ? 1 : 0), m->sha256, (const void *)m->body, m->body_len,
		m->received_ms);
	if (rc == TW_E_EXISTS)
		tw_error_set(err, rc, "this message was stored already under another message id "
			"(replay)");
	return rc;
}

tw_rc store_metering_due(struct tw_store *store, int64_t now_ms, size_t max,
	struct store_metering_msg **out, size_t *n, struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	struct store_metering_msg *msgs = NULL;
	size_t k = 0;
	bool row = false;
	tw_rc rc = TW_OK;

	DB_OR_FAIL(db, store, err);
	if (out == NULL || n == NULL || max == 0 || max > 10000)
		return tw_error_set(err, TW_E_INTERNAL, "store_metering_due: bad arguments");
	*out = NULL;
	*n = 0;
	if ((msgs = calloc(max, sizeof(*msgs))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (rc = db_fetch(db, SQL_M_DUE, &st, &row, "reading due metering messages", err, "ii",
	     now_ms, (int64_t)max); rc == TW_OK && row && k < max;
	     rc = db_next(st, &row, "reading due metering messages", err)) {
		if ((rc = sm_row(st, &msgs[k], err)) != TW_OK)
			break;
		k++;
	}
	db_done(db, st);
	if (rc != TW_OK) {
		store_metering_msgs_free(msgs, max);
		return rc;
	}
	*out = msgs;
	*n = k;
	return TW_OK;
}

tw_rc store_metering_get(struct tw_store *store, int64_t id, struct store_metering_msg *out,
	struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_metering_get: out is NULL");
	memset(out, 0, sizeof(*out));
	if ((rc = db_fetch(db, SQL_M_GET, &st, &row, "reading a metering message", err, "i",
	    id)) == TW_OK)
		rc = row ? sm_row(st, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"no metering message %lld", (long long)id);
	db_done(db, st);
	return rc;
}

/* Run an UPDATE/DELETE with up to three bindings; *changed gets the row count. */
/* Run an UPDATE/DELETE (db_run arguments); *changed gets the row count. */
static tw_rc sm_change(struct tw_store *store, const char *sql, int64_t *changed,
	const char *doing, struct tw_error *err, const char *types, ...)
{
	struct db *db;
	va_list ap;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	va_start(ap, types);
	rc = db_vrun(db, sql, changed, NULL, doing, err, types, ap);
	va_end(ap);
	return rc;
}

tw_rc store_metering_delivered(struct tw_store *store, int64_t id, int64_t now_ms,
	struct tw_error *err)
{
	int64_t n = 0;
	tw_rc rc = sm_change(store, SQL_M_DELIVERED, &n, "marking a metering message delivered",
		err, "ii", id, now_ms);

	if (rc == TW_OK && n != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no pending metering message %lld",
			(long long)id);
	return rc;
}

tw_rc store_metering_retry(struct tw_store *store, int64_t id, int64_t next_ms,
	const char *error, struct tw_error *err)
{
	char reason[256];

	/* The reason is diagnostic text from a peer or OpenSSL: cut, never refused. */
	snprintf(reason, sizeof(reason), "%s", error != NULL ? error : "");
	return sm_change(store, SQL_M_RETRY, NULL, "recording a failed delivery", err, "iit", id,
		next_ms, reason);
}

tw_rc store_metering_purge(struct tw_store *store, int64_t cutoff_ms, int64_t *deleted,
	struct tw_error *err)
{
	int64_t n = 0;
	tw_rc rc = sm_change(store, SQL_M_PURGE, &n, "deleting delivered metering messages", err,
		"i", cutoff_ms);

	if (deleted != NULL)
		*deleted = rc == TW_OK ? n : 0;
	return rc;
}

tw_rc store_metering_mark_overdue(struct tw_store *store, int64_t cutoff_ms, int64_t *n,
	struct tw_error *err)
{
	int64_t k = 0;
	tw_rc rc = sm_change(store, SQL_M_OVERDUE, &k, "marking overdue metering messages", err,
		"i", cutoff_ms);

	if (n != NULL)
		*n = rc == TW_OK ? k : 0;
	return rc;
}

tw_rc store_metering_count(struct tw_store *store, const char *emt_id,
	struct store_metering_counts *out, struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_metering_count: out is NULL");
	memset(out, 0, sizeof(*out));
	if (emt_id != NULL && (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	/* An aggregate without GROUP BY always returns its one row. */
	if ((rc = db_fetch(db, SQL_M_COUNT, &st, &row, "counting metering messages", err, "t",
	    emt_id != NULL ? emt_id : "")) == TW_OK && row) {
		out->pending = db_column_int64(st, 0);
		out->delivered = db_column_int64(st, 1);
		out->overdue = db_column_int64(st, 2);
		out->bytes = db_column_int64(st, 3);
	}
	db_done(db, st);
	return rc;
}

tw_rc store_emt_endpoint_set(struct tw_store *store, const char *emt_id, const char *url,
	int64_t now_ms, const char *by, struct tw_error *err)
{
	struct db *db;
	bool own = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if ((rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK ||
	    (rc = store_check_text(url, STORE_EMT_URL_MAX, "endpoint URL", err)) != TW_OK ||
	    (rc = store_check_text(by, 128, "actor", err)) != TW_OK)
		return rc;
	if (strncmp(url, "https://", 8) != 0 || url[8] == '\0')
		return tw_error_set(err, TW_E_INVALID, "an EMT endpoint must be an https:// URL "
			"(mutual TLS with the EMT's SM-PKI TLS certificate)");
	if (!store_in_transaction(store)) {
		if ((rc = store_begin(store, err)) != TW_OK)
			return rc;
		own = true;
	}
	if ((rc = db_run(db, SQL_E_SET_DEL, NULL, "replacing an EMT endpoint", err, "t",
	    emt_id)) == TW_OK)
		rc = db_run(db, SQL_E_SET_INS, NULL, "storing an EMT endpoint", err, "ttit", emt_id,
			url, now_ms, by);
	if (rc == TW_OK && own)
		rc = store_commit(store, err);
	if (rc != TW_OK && own)
		store_rollback(store);
	return rc;
}

tw_rc store_emt_endpoint_get(struct tw_store *store, const char *emt_id, char *url,
	size_t size, struct tw_error *err)
{
	struct db *db;
	bool found = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if ((rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	rc = db_text(db, SQL_E_GET, url, size, "url", &found, "reading an EMT endpoint", err,
		"t", emt_id);
	if (rc == TW_OK && !found)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "EMT %s has no delivery endpoint "
			"(`torwart metering endpoint --emt ID --url https://...`)", emt_id);
	return rc;
}

tw_rc store_time_check_insert(struct tw_store *store, const struct store_time_check *c,
	struct tw_error *err)
{
	struct db *db;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if (c == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_time_check_insert: no check");
	if ((rc = STORE_CHECK_MEMBER(c, upstream, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(c, detail, false, err)) != TW_OK)
		return rc;
	return db_run(db, SQL_T_INSERT, NULL, "storing a time check", err, "itiiti",
		c->checked_ms, c->upstream, c->offset_ms, (int64_t)(c->ok ? 1 : 0), c->detail,
		c->valid_until_ms);
}

tw_rc store_time_check_last(struct tw_store *store, struct store_time_check *out,
	struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc = TW_OK;

	DB_OR_FAIL(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_time_check_last: out is NULL");
	memset(out, 0, sizeof(*out));
	if ((rc = db_fetch(db, SQL_T_LAST, &st, &row, "reading the last time check", err,
	    "")) != TW_OK)
		return rc;
	if (row) {
		out->checked_ms = db_column_int64(st, 0);
		out->offset_ms = db_column_int64(st, 2);
		out->ok = db_column_int64(st, 3) != 0;
		out->valid_until_ms = db_column_int64(st, 5);
		if ((rc = DB_COL_TEXT(st, 1, out, upstream, err)) == TW_OK)
			rc = DB_COL_TEXT(st, 4, out, detail, err);
	} else {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the GWA clock was never checked against "
			"an upstream time server (`torwart time check`)");
	}
	db_done(db, st);
	return rc;
}

static tw_rc sg_row(struct db_stmt *st, struct store_gateway_time *t, struct tw_error *err)
{
	tw_rc rc;

	memset(t, 0, sizeof(*t));
	if ((rc = DB_COL_TEXT(st, 0, t, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, t, last_failure, err)) != TW_OK)
		return rc;
	t->last_sync_ms = db_column_int64(st, 1);
	t->last_offset_ms = db_column_int64(st, 2);
	t->syncs = db_column_int64(st, 3);
	t->failures = db_column_int64(st, 4);
	return TW_OK;
}

tw_rc store_gateway_time_get(struct tw_store *store, const char *gateway_id,
	struct store_gateway_time *out, struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_time_get: out is NULL");
	memset(out, 0, sizeof(*out));
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, SQL_G_GET, &st, &row, "reading a gateway's time record", err,
	    "t", gateway_id)) == TW_OK)
		rc = row ? sg_row(st, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"gateway %s never synchronised its time", gateway_id);
	db_done(db, st);
	return rc;
}

tw_rc store_gateway_time_record(struct tw_store *store, const char *gateway_id, bool ok,
	int64_t now_ms, int64_t offset_ms, const char *failure, struct tw_error *err)
{
	struct db *db;
	char reason[256];
	int64_t n = 0;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	snprintf(reason, sizeof(reason), "%s", failure != NULL ? failure : "");
	for (int pass = 0; pass < 2; pass++) {
		if (ok)
			rc = db_run(db, SQL_G_OK, &n, "recording a time synchronisation", err, "tii",
				gateway_id, now_ms, offset_ms);
		else
			rc = db_run(db, SQL_G_FAIL, &n, "recording a time synchronisation", err, "tt",
				gateway_id, reason);
		if (rc != TW_OK || n == 1 || pass == 1)
			break;
		/* First synchronisation of this gateway: create its row, then update it. */
		rc = db_run(db, SQL_G_NEW, NULL, "creating a gateway's time record", err, "t",
			gateway_id);
		if (rc == TW_E_EXISTS)   /* created meanwhile by another wan thread */
			rc = TW_OK;
		if (rc != TW_OK)
			break;
	}
	return rc;
}

tw_rc store_gateway_time_foreach_off(struct tw_store *store, int64_t limit_ms,
	store_gateway_time_cb cb, void *arg, struct tw_error *err)
{
	struct db *db;
	struct db_stmt *st = NULL;
	struct store_gateway_time t;
	bool row = false;
	tw_rc rc;

	DB_OR_FAIL(db, store, err);
	if (cb == NULL || limit_ms < 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_time_foreach_off: bad "
			"arguments");
	for (rc = db_fetch(db, SQL_G_OFF, &st, &row, "listing gateways' time records", err, "i",
	     limit_ms); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing gateways' time records", err)) {
		if ((rc = sg_row(st, &t, err)) != TW_OK || cb(&t, arg) != 0)
			break;
	}
	db_done(db, st);
	return rc;
}
