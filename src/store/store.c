/*
 * store.c: the public store.h API. Picks a driver from the URL, checks every argument
 * once (so both drivers refuse the same bad input the same way), then runs the SQL,
 * written once, through the db.h helpers.
 *
 * Validation happens before any backend call so bad input "changes nothing"
 * (DESIGN.md principle 6): an over-long field never reaches SQL and is never truncated.
 */
#include "store/store.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "store/db.h"

#define SQ_GATEWAY_COLUMNS \
	"tenant_id, gateway_id, state, created_ms, last_contact_ms, last_address"
#define SQ_CERT_COLUMNS \
	"tenant_id, serial_hex, issuer, subject, owner_kind, owner_id, usage, not_before, " \
	"not_after, status, fingerprint, der"
#define SQ_AUDIT_COLUMNS \
	"seq, time, actor, role, client, action, object, result, detail, prev_hash, hash, " \
	"error_code"

/* Statements are cached per connection by the address of their text (db.h). */
static const char SQL_TENANT_INSERT[] = "INSERT INTO tenants (name, created_ms) "
	"VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
static const char SQL_TENANT_SELECT[] = "SELECT id FROM tenants WHERE name = ?1";
static const char SQL_GATEWAY_INSERT[] = "INSERT INTO gateways (" SQ_GATEWAY_COLUMNS ") "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_GATEWAY_GET[] = "SELECT " SQ_GATEWAY_COLUMNS " FROM gateways "
	"WHERE gateway_id = ?1";
static const char SQL_GATEWAY_TOUCH[] = "UPDATE gateways SET last_contact_ms = ?2, "
	"last_address = ?3, state = CASE state WHEN 'disabled' THEN state ELSE 'active' END "
	"WHERE gateway_id = ?1";
static const char SQL_GATEWAY_ALL[] = "SELECT " SQ_GATEWAY_COLUMNS " FROM gateways "
	"ORDER BY gateway_id";
static const char SQL_CERT_INSERT[] = "INSERT INTO certificates (" SQ_CERT_COLUMNS ") "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_CERT_BY_FINGERPRINT[] = "SELECT " SQ_CERT_COLUMNS " FROM certificates "
	"WHERE fingerprint = ?1";
static const char SQL_AUDIT_LAST[] = "SELECT " SQ_AUDIT_COLUMNS " FROM admin_log "
	"ORDER BY seq DESC LIMIT 1";
static const char SQL_AUDIT_INSERT[] = "INSERT INTO admin_log (" SQ_AUDIT_COLUMNS ") "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_AUDIT_FROM[] = "SELECT " SQ_AUDIT_COLUMNS " FROM admin_log "
	"WHERE seq >= ?1 ORDER BY seq";

/* ---- tenants ---- */

static tw_rc sq_tenant_ensure(struct db *s, const char *name, int64_t *id, struct tw_error *err)
{
	bool found = false;
	tw_rc rc = db_run(s, SQL_TENANT_INSERT, NULL, "creating tenant", err, "ti", name,
		tw_now_ms());

	if (rc == TW_OK)
		rc = db_int(s, SQL_TENANT_SELECT, id, &found, "reading tenant", err, "t", name);
	if (rc == TW_OK && !found)
		rc = tw_error_set(err, TW_E_INTERNAL, "tenant \"%s\" vanished after insert", name);
	return rc;
}

/* ---- gateways ---- */

static tw_rc sq_gateway_row(struct db_stmt *st, struct store_gateway *gw, struct tw_error *err)
{
	tw_rc rc;

	memset(gw, 0, sizeof(*gw));
	gw->tenant_id = db_column_int64(st, 0);
	if ((rc = DB_COL_TEXT(st, 1, gw, gateway_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, gw, state, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, gw, last_address, err)) != TW_OK)
		return rc;
	gw->created_ms = db_column_int64(st, 3);
	gw->last_contact_ms = db_column_int64(st, 4);
	return TW_OK;
}

static tw_rc sq_gateway_get(struct db *s, const char *gateway_id, struct store_gateway *out,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc = db_fetch(s, SQL_GATEWAY_GET, &st, &row, "reading gateway", err, "t",
		gateway_id);

	if (rc == TW_OK)
		rc = row ? sq_gateway_row(st, out, err) : tw_error_set(err, TW_E_NOT_FOUND,
			"gateway \"%s\" is not registered", gateway_id);
	db_done(s, st);
	return rc;
}

static tw_rc sq_gateway_foreach(struct db *s, store_gateway_cb cb, void *arg,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct store_gateway gw;
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(s, SQL_GATEWAY_ALL, &st, &row, "listing gateways", err, "");
	     rc == TW_OK && row; rc = db_next(st, &row, "listing gateways", err)) {
		if ((rc = sq_gateway_row(st, &gw, err)) != TW_OK || cb(&gw, arg) != 0)
			break;
	}
	db_done(s, st);
	return rc;
}

/* ---- certificates ---- */

static tw_rc sq_certificate_get_by_fingerprint(struct db *s, const char *fingerprint,
	struct store_certificate *out, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	const void *der;
	bool row = false;
	int n;
	tw_rc rc;

	if ((rc = db_fetch(s, SQL_CERT_BY_FINGERPRINT, &st, &row, "reading certificate", err,
	    "t", fingerprint)) != TW_OK)
		goto out;
	if (!row) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no certificate with fingerprint %s",
			fingerprint);
		goto out;
	}
	out->tenant_id = db_column_int64(st, 0);
	if ((rc = DB_COL_TEXT(st, 1, out, serial_hex, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, out, issuer, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, out, subject, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, out, owner_kind, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, out, owner_id, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, out, usage, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 9, out, status, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 10, out, fingerprint, err)) != TW_OK)
		goto out;
	out->not_before = db_column_int64(st, 7);
	out->not_after = db_column_int64(st, 8);
	der = db_column_blob(st, 11);
	n = db_column_bytes(st, 11);
	if (der == NULL || n <= 0 || n > STORE_CERT_MAX) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "stored certificate %s has a DER of %d "
			"bytes (edited database?)", fingerprint, n);
		goto out;
	}
	if ((out->der = malloc((size_t)n)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory reading certificate");
		goto out;
	}
	memcpy(out->der, der, (size_t)n);
	out->der_len = (size_t)n;
	rc = TW_OK;
out:
	db_done(s, st);
	return rc;
}

/* ---- admin log ---- */

static tw_rc sq_audit_row(struct db_stmt *st, struct store_audit_row *row, struct tw_error *err)
{
	tw_rc rc;

	memset(row, 0, sizeof(*row));
	row->seq = db_column_int64(st, 0);
	if ((rc = DB_COL_TEXT(st, 1, row, time, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 2, row, actor, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 3, row, role, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 4, row, client, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 5, row, action, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 6, row, object, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 7, row, result, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 8, row, detail, err)) != TW_OK ||
	    (rc = db_col_hash(st, 9, row->prev_hash, "prev_hash", err)) != TW_OK ||
	    (rc = db_col_hash(st, 10, row->hash, "hash", err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 11, row, error_code, err)) != TW_OK) {
		/* Name the row, so audit_verify can point at it. */
		char why[TW_ERROR_MESSAGE_MAX];

		tw_strlcpy_checked(why, err != NULL ? err->message : "unreadable", sizeof(why),
			NULL, "reason");
		return tw_error_set(err, rc, "admin log entry %lld: %s", (long long)row->seq, why);
	}
	return TW_OK;
}

/* Longest URL we accept: a path or a PostgreSQL conninfo, never a document. */
#define STORE_URL_MAX 4096

/* ---- argument checks ---- */

/* A NUL-terminated argument of at most max bytes; required means non-empty. */
static tw_rc store_check_str(const char *s, size_t max, bool required, const char *what,
	struct tw_error *err)
{
	size_t len;

	if (s == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s is missing", what);
	len = strnlen(s, max + 1);
	if (len > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is longer than %zu bytes", what, max);
	if (required && len == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is empty", what);
	return TW_OK;
}

/* A fixed-size char array field: it must hold its NUL (never read past the array). */
static tw_rc store_check_field(const char *field, size_t size, bool required,
	const char *what, struct tw_error *err)
{
	size_t len = strnlen(field, size);

	if (len == size)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is longer than %zu bytes", what,
			size - 1);
	if (required && len == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is empty", what);
	return TW_OK;
}

#define STORE_CHECK_FIELD(obj, member, required, err) \
	store_check_field((obj)->member, sizeof((obj)->member), (required), #member, (err))

static tw_rc store_check_handle(struct tw_store *store, struct tw_error *err)
{
	if (store == NULL || store->db == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store handle is not open");
	return TW_OK;
}

struct db *store_db(struct tw_store *store, struct tw_error *err)
{
	return store_check_handle(store, err) == TW_OK ? store->db : NULL;
}

/* ---- open / close / schema ---- */

/*
 * The one place a store URL picks its driver: "postgresql://" or "postgres://" (a libpq
 * connection URI, passed on whole), "sqlite:PATH" or a plain path. Relative sqlite paths
 * are resolved against the home by tw_home_store_url (base/home.h), not here.
 */
tw_rc store_open(const char *url, struct tw_store **out, struct tw_error *err)
{
	struct tw_store *store = NULL;
	const struct db_driver *drv = &db_driver_sqlite;
	const char *target = url;
	tw_rc rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL) {
		rc = tw_error_set(err, TW_E_INTERNAL, "store_open: out is NULL");
		goto out;
	}
	if ((rc = store_check_str(url, STORE_URL_MAX, true, "store URL", err)) != TW_OK)
		goto out;
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		drv = &db_driver_pg;
	} else if (strncmp(url, "sqlite:", 7) == 0) {
		target = url + 7;
	} else if (strstr(url, "://") != NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "store URL \"%.64s\" has an unknown scheme; "
			"use \"sqlite:PATH\", a plain path or \"postgresql://...\"", url);
		goto out;
	}
	if (*target == '\0') {
		rc = tw_error_set(err, TW_E_CONFIG, "store URL \"%s\" names no database file", url);
		goto out;
	}
	store = calloc(1, sizeof(*store));
	if (store == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
		goto out;
	}
	if ((rc = drv->open(target, &store->db, err)) != TW_OK)
		goto out;
	*out = store;
	store = NULL;
	rc = TW_OK;
out:
	store_close(store);
	return rc;
}

/*
 * A service starting while the database is not up yet (a PostgreSQL server restarting, a
 * failover in progress) waits for it instead of exiting: attempts with exponential
 * back-off and jitter (STORE_WAIT_MIN_MS doubling to STORE_WAIT_MAX_MS) for up to
 * [store] start_wait seconds, each failure logged with the delay. A stop signal that is
 * pending (the wan blocks them while it starts) ends the wait at once.
 */
#define STORE_WAIT_MIN_MS 200
#define STORE_WAIT_MAX_MS 10000

static bool store_stop_pending(void)
{
	sigset_t set;

	return sigpending(&set) == 0 && (sigismember(&set, SIGTERM) == 1 ||
		sigismember(&set, SIGINT) == 1);
}

tw_rc store_open_wait(const struct tw_home *home, const char *url, struct tw_store **out,
	struct tw_error *err)
{
	int64_t start = tw_monotonic_ms(), delay = 0;
	unsigned seed = (unsigned)start ^ (unsigned)getpid(), attempt = 0;
	long wait_s;
	tw_rc rc;

	if ((rc = tw_config_get_long(home->conf, "store", "start_wait", 60, 0, 86400, &wait_s,
	    err)) != TW_OK)
		return rc;
	for (;;) {
		struct timespec ts;
		int64_t sleep_ms;

		attempt++;
		if ((rc = store_open(url, out, err)) != TW_E_UNAVAILABLE)
			break;
		if (tw_monotonic_ms() - start >= (int64_t)wait_s * 1000 || store_stop_pending()) {
			tw_err("store: database still unavailable after %.1f s and %u attempts; giving "
				"up ([store] start_wait = %ld)", (double)(tw_monotonic_ms() - start) /
				1000.0, attempt, wait_s);
			break;
		}
		delay = delay == 0 ? STORE_WAIT_MIN_MS :
			(delay * 2 > STORE_WAIT_MAX_MS ? STORE_WAIT_MAX_MS : delay * 2);
		sleep_ms = delay / 2 + (int64_t)(rand_r(&seed) % (unsigned)(delay / 2 + 1));
		tw_warn("%s; start attempt %u, retrying in %lld ms", err != NULL ? err->message :
			"store: database unavailable", attempt, (long long)sleep_ms);
		ts.tv_sec = (time_t)(sleep_ms / 1000);
		ts.tv_nsec = (long)(sleep_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && !store_stop_pending())
			;
	}
	if (rc == TW_OK && attempt > 1)
		tw_info("store: database reachable after %u attempts", attempt);
	return rc;
}

void store_close(struct tw_store *store)
{
	if (store == NULL)
		return;
	db_close(store->db);
	free(store->audit_last);
	free(store);
}

tw_rc store_migrate(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	return db_migrate(store->db, err);
}

tw_rc store_schema_version(struct tw_store *store, int *version, struct tw_error *err)
{
	tw_rc rc;

	if (version != NULL)
		*version = 0;
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (version == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_schema_version: version is NULL");
	return db_schema_version(store->db, version, err);
}

/* ---- transactions ---- */

tw_rc store_begin(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (db_in_transaction(store->db))
		return tw_error_set(err, TW_E_INTERNAL,
			"store_begin: a transaction is already open on this connection");
	store_audit_last_forget(store);
	rc = db_begin(store->db, true, err);
	store->audit_write_tx = rc == TW_OK;
	return rc;
}

tw_rc store_commit(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (!db_in_transaction(store->db))
		return tw_error_set(err, TW_E_INTERNAL, "store_commit: no transaction is open");
	store_audit_last_forget(store);
	store->audit_write_tx = false;
	return db_commit(store->db, err);
}

void store_rollback(struct tw_store *store)
{
	if (store_check_handle(store, NULL) == TW_OK) {
		store_audit_last_forget(store);
		store->audit_write_tx = false;
		db_rollback(store->db);
	}
}

bool store_in_transaction(struct tw_store *store)
{
	return store_check_handle(store, NULL) == TW_OK && db_in_transaction(store->db);
}

/* ---- tenants ---- */

tw_rc store_tenant_ensure(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err)
{
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_tenant_ensure: id is NULL");
	if ((rc = store_check_str(name, STORE_ID_MAX, true, "tenant name", err)) != TW_OK)
		return rc;
	return sq_tenant_ensure(store->db, name, id, err);
}

static const char SQL_TENANT_IDS[] = "SELECT id FROM tenants ORDER BY id LIMIT ?1";

tw_rc store_tenant_ids(struct tw_store *store, int64_t *ids, size_t max, size_t *n,
	struct tw_error *err)
{
	struct db *d = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_tenant_ids: bad arguments");
	for (rc = db_fetch(d, SQL_TENANT_IDS, &st, &row, "reading the tenants", err, "i",
		(int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "reading the tenants", err))
		ids[(*n)++] = db_column_int64(st, 0);
	db_done(d, st);
	return rc;
}

/* ---- gateways ---- */

static tw_rc store_check_gateway(const struct store_gateway *gw, struct tw_error *err)
{
	tw_rc rc;

	if (gw == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "gateway is NULL");
	if ((rc = STORE_CHECK_FIELD(gw, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(gw, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(gw, last_address, false, err)) != TW_OK)
		return rc;
	return TW_OK;
}

tw_rc store_gateway_insert(struct tw_store *store, const struct store_gateway *gw,
	struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK ||
	    (rc = store_check_gateway(gw, err)) != TW_OK)
		return rc;
	return db_run(store->db, SQL_GATEWAY_INSERT, NULL, "inserting gateway", err,
		"ittiit", gw->tenant_id, gw->gateway_id, gw->state, gw->created_ms,
		gw->last_contact_ms, gw->last_address);
}

tw_rc store_gateway_get(struct tw_store *store, const char *gateway_id,
	struct store_gateway *out, struct tw_error *err)
{
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_get: out is NULL");
	if ((rc = store_check_str(gateway_id, STORE_ID_MAX, true, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = sq_gateway_get(store->db, gateway_id, out, err)) != TW_OK)
		return rc;
	if (store->scope_tenant != 0 && out->tenant_id != store->scope_tenant) {
		memset(out, 0, sizeof(*out));
		return tw_error_set(err, TW_E_NOT_FOUND, "there is no gateway %s in your tenant",
			gateway_id);
	}
	return TW_OK;
}

tw_rc store_gateway_touch(struct tw_store *store, const char *gateway_id, int64_t when_ms,
	const char *address, struct tw_error *err)
{
	struct store_gateway probe;
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if ((rc = store_check_str(gateway_id, STORE_ID_MAX, true, "gateway id", err)) != TW_OK)
		return rc;
	if (address == NULL)
		address = "";
	if ((rc = store_check_str(address, sizeof(probe.last_address) - 1, false,
	    "gateway address", err)) != TW_OK)
		return rc;
	int64_t changes = 0;

	if ((rc = db_run(store->db, SQL_GATEWAY_TOUCH, &changes, "recording gateway "
	    "contact", err, "tit", gateway_id, when_ms, address)) != TW_OK)
		return rc;
	return changes == 0 ? tw_error_set(err, TW_E_NOT_FOUND, "gateway \"%s\" is not "
		"registered", gateway_id) : TW_OK;
}

void store_scope_tenant(struct tw_store *store, int64_t tenant_id)
{
	if (store != NULL)
		store->scope_tenant = tenant_id;
}

int64_t store_scoped_tenant(const struct tw_store *store)
{
	return store != NULL ? store->scope_tenant : 0;
}

int store_scope_gateway_filter(const struct store_gateway *gw, void *arg)
{
	const struct store_scope_filter *f = arg;

	if (gw->tenant_id != f->tenant_id)
		return 0;
	return f->cb(gw, f->arg);
}

tw_rc store_gateway_foreach(struct tw_store *store, store_gateway_cb cb, void *arg,
	struct tw_error *err)
{
	struct store_scope_filter f = { .cb = cb, .arg = arg };
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_foreach: cb is NULL");
	if (store->scope_tenant == 0)
		return sq_gateway_foreach(store->db, cb, arg, err);
	f.tenant_id = store->scope_tenant;
	return sq_gateway_foreach(store->db, store_scope_gateway_filter, &f, err);
}

/* One count over the whole table (issue 15: the console's dashboard must not stop at a
 * page), on the handle's tenant scope. */
static const char SQL_GATEWAY_COUNT[] =
	"SELECT count(*), coalesce(sum(CASE WHEN last_contact_ms > ?2 THEN 1 ELSE 0 END), 0) "
	"FROM gateways WHERE (?1 = 0 OR tenant_id = ?1)";

tw_rc store_gateway_count(struct tw_store *store, int64_t since_ms, int64_t *total,
	int64_t *contacted, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if (total != NULL)
		*total = 0;
	if (contacted != NULL)
		*contacted = 0;
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (total == NULL || contacted == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_count: NULL output");
	/* count(*) always returns its one row. */
	if ((rc = db_fetch(store->db, SQL_GATEWAY_COUNT, &st, &row, "counting gateways", err,
	    "ii", store->scope_tenant, since_ms)) == TW_OK && row) {
		*total = db_column_int64(st, 0);
		*contacted = db_column_int64(st, 1);
	}
	db_done(store->db, st);
	return rc;
}

/* ---- certificates ---- */

static tw_rc store_check_certificate(const struct store_certificate *c, struct tw_error *err)
{
	tw_rc rc;

	if (c == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "certificate is NULL");
	if ((rc = STORE_CHECK_FIELD(c, serial_hex, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, issuer, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, subject, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, owner_kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, owner_id, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, usage, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, status, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(c, fingerprint, true, err)) != TW_OK)
		return rc;
	if (c->der == NULL || c->der_len == 0)
		return tw_error_set(err, TW_E_INVALID, "certificate DER is empty");
	if (c->der_len > STORE_CERT_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE,
			"certificate DER is %zu bytes, more than the limit of %d", c->der_len,
			STORE_CERT_MAX);
	return TW_OK;
}

tw_rc store_certificate_insert(struct tw_store *store, const struct store_certificate *cert,
	struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK ||
	    (rc = store_check_certificate(cert, err)) != TW_OK)
		return rc;
	return db_run(store->db, SQL_CERT_INSERT, NULL, "inserting certificate", err,
		"ittttttiittb", cert->tenant_id, cert->serial_hex, cert->issuer, cert->subject,
		cert->owner_kind, cert->owner_id, cert->usage, cert->not_before, cert->not_after,
		cert->status, cert->fingerprint, (const void *)cert->der, (size_t)cert->der_len);
}

tw_rc store_certificate_get_by_fingerprint(struct tw_store *store, const char *fingerprint,
	struct store_certificate *out, struct tw_error *err)
{
	tw_rc rc;

	/* Out-parameters are reset on entry: the caller passes a cleared struct. */
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL,
			"store_certificate_get_by_fingerprint: out is NULL");
	if ((rc = store_check_str(fingerprint, sizeof(out->fingerprint) - 1, true,
	    "certificate fingerprint", err)) != TW_OK)
		return rc;
	rc = sq_certificate_get_by_fingerprint(store->db, fingerprint, out, err);
	if (rc != TW_OK)
		store_certificate_clear(out);
	return rc;
}

void store_certificate_clear(struct store_certificate *cert)
{
	if (cert == NULL)
		return;
	free(cert->der);
	memset(cert, 0, sizeof(*cert));
}

/* ---- admin log rows ---- */

tw_rc store_audit_last(struct tw_store *store, struct store_audit_row *out, bool *found,
	struct tw_error *err)
{
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_last: out or found is NULL");
	struct db_stmt *st = NULL;

	/* This transaction appended the tail itself (store_audit_insert): it is still the tail
	 * (the writer lock, see struct tw_store), so no round trip to read it back. */
	if (store->audit_last_valid && store->audit_write_tx && db_in_transaction(store->db)) {
		memcpy(out, store->audit_last, sizeof(*out));
		*found = true;
		return TW_OK;
	}
	if ((rc = db_fetch(store->db, SQL_AUDIT_LAST, &st, found,
	    "reading the last admin log entry", err, "")) == TW_OK && *found &&
	    (rc = sq_audit_row(st, out, err)) != TW_OK)
		*found = false;
	db_done(store->db, st);
	return rc;
}

tw_rc store_audit_insert(struct tw_store *store, const struct store_audit_row *row,
	struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (row == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_insert: row is NULL");
	if (row->seq <= 0)
		return tw_error_set(err, TW_E_INVALID, "admin log seq %lld is not positive",
			(long long)row->seq);
	if ((rc = STORE_CHECK_FIELD(row, time, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, actor, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, role, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, client, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, action, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, object, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, result, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, detail, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_FIELD(row, error_code, false, err)) != TW_OK)
		return rc;
	store_audit_last_forget(store);
	rc = db_run(store->db, SQL_AUDIT_INSERT, NULL, "appending to the admin log",
		err, "ittttttttbbt", row->seq, row->time, row->actor, row->role, row->client,
		row->action, row->object, row->result, row->detail, (const void *)row->prev_hash,
		(size_t)32, (const void *)row->hash, (size_t)32, row->error_code);
	/* Only inside a write transaction: outside one, another process may append next. A
	 * failed cache allocation only costs the read back. */
	if (rc == TW_OK && store->audit_write_tx && db_in_transaction(store->db)) {
		if (store->audit_last == NULL)
			store->audit_last = malloc(sizeof(*store->audit_last));
		if (store->audit_last != NULL) {
			memcpy(store->audit_last, row, sizeof(*row));
			store->audit_last_valid = true;
		}
	}
	return rc;
}

void store_audit_last_forget(struct tw_store *store)
{
	if (store != NULL)
		store->audit_last_valid = false;
}

tw_rc store_audit_foreach(struct tw_store *store, int64_t from_seq, store_audit_cb cb,
	void *arg, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_foreach: cb is NULL");
	struct db_stmt *st = NULL;
	struct store_audit_row *row = NULL;
	bool more = false;

	/* ~2.8 KB per row: keep it off the stack of small worker threads. */
	if ((row = malloc(sizeof(*row))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading the admin log");
	for (rc = db_fetch(store->db, SQL_AUDIT_FROM, &st, &more, "reading the admin log", err,
	     "i", from_seq); rc == TW_OK && more;
	     rc = db_next(st, &more, "reading the admin log", err)) {
		if ((rc = sq_audit_row(st, row, err)) != TW_OK || cb(row, arg) != 0)
			break;
	}
	db_done(store->db, st);
	free(row);
	return rc;
}
