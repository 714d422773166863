/*
 * store_jobs.c: the public store_jobs.h API. Checks every argument once, before any SQL
 * runs (so bad input changes nothing and is never truncated), then runs its SQL, written
 * once for both drivers, through the db.h helpers.
 */
#include "store/store_jobs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/db.h"
#include "store/store_check.h"

#define JOB_COLUMNS "id, batch_id, gateway_id, tenant_id, type, state, attempts, " \
	"max_attempts, timeout_ms, retry_delay_ms, next_ms, deadline_ms, created_ms, " \
	"updated_ms, actor, error, payload, result"
#define OPEN_STATES "('created', 'waking', 'awaiting-connection', 'sent')"

static const char SQL_JOB_INSERT[] =
	"INSERT INTO jobs (batch_id, gateway_id, tenant_id, type, payload, state, attempts, "
	"max_attempts, timeout_ms, retry_delay_ms, next_ms, deadline_ms, created_ms, "
	"updated_ms, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	"?14, ?15) RETURNING id";
static const char SQL_JOB_GET[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";
static const char SQL_JOB_TRANSITION[] =
	"UPDATE jobs SET state = ?3, attempts = ?4, next_ms = ?5, deadline_ms = ?6, "
	"updated_ms = ?7, error = ?8, result = coalesce(?9, result) WHERE id = ?1 AND state = ?2";
static const char SQL_JOB_HEAD[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE gateway_id = ?1 "
	"AND state IN " OPEN_STATES " ORDER BY id LIMIT 1";
/*
 * The wan's hand-out in one statement (issue 10): the gateway's head job becomes "sent"
 * unless it is sent already (then it is in flight in some session, maybe on another wan
 * instance, and comes back through its deadline), with the gateway's open jobs counted
 * in the same statement. No read-then-write round trip: the compare-and-set is the
 * UPDATE's own condition, evaluated on the row it locks, so a concurrent claimer matches
 * no row and hands out nothing rather than the same job twice. PostgreSQL locks the head
 * row in the subquery (FOR UPDATE; not SKIP LOCKED: a gateway's jobs run in order, so a
 * claimer must not skip a locked head to the gateway's second job). Writers are
 * serialised anyway (BEGIN IMMEDIATE, the advisory writer lock); the lock keeps the
 * statement exactly-once on its own. A job handed out first (from "created") uses an
 * attempt; one the worker woke uses the attempt counted at wake-up.
 */
#define SQL_JOB_CLAIM_HEAD(lock) "UPDATE jobs SET state = 'sent', attempts = attempts + " \
	"CASE WHEN state = 'created' THEN 1 ELSE 0 END, deadline_ms = ?2 + timeout_ms, " \
	"updated_ms = ?2 WHERE id = (SELECT h.id FROM jobs h WHERE h.gateway_id = ?1 AND " \
	"h.state IN " OPEN_STATES " ORDER BY h.id LIMIT 1" lock ") AND state <> 'sent' " \
	"RETURNING " JOB_COLUMNS ", (SELECT count(*) FROM jobs k WHERE k.gateway_id = ?1 AND " \
	"k.state IN " OPEN_STATES ")"
static const char SQL_JOB_CLAIM[] = SQL_JOB_CLAIM_HEAD("");
static const char SQL_JOB_CLAIM_PG[] = SQL_JOB_CLAIM_HEAD(" FOR UPDATE");
static const char SQL_JOB_COUNT_OPEN[] = "SELECT count(*) FROM jobs WHERE gateway_id = ?1 "
	"AND state IN " OPEN_STATES;
static const char SQL_JOB_LIST[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	"(CAST(?1 AS TEXT) IS NULL OR gateway_id = ?1) AND (?2 = 0 OR batch_id = ?2) AND "
	"(CAST(?3 AS TEXT) IS NULL OR state = ?3) AND id > ?4 ORDER BY id LIMIT ?5";
static const char SQL_JOB_COUNTS[] = "SELECT state, count(*) FROM jobs WHERE "
	"(?1 = 0 OR batch_id = ?1) GROUP BY state";
/* All jobs by state on a tenant scope (0: all tenants). */
static const char SQL_JOB_COUNTS_TENANT[] = "SELECT state, count(*) FROM jobs WHERE "
	"(?1 = 0 OR tenant_id = ?1) GROUP BY state";
/* Heads of their gateway's queue only: jobs of one gateway run in order. */
static const char SQL_JOB_DUE[] =
	"SELECT j.id, j.tenant_id, j.gateway_id, coalesce(w.address, ''), j.attempts, "
	"j.timeout_ms FROM jobs j LEFT JOIN gateway_wakeup w ON w.gateway_id = j.gateway_id "
	"WHERE j.state = 'created' AND j.next_ms <= ?1 "
	"AND ?2 NOT LIKE ('%,' || j.tenant_id || ',%') "
	"AND j.id = (SELECT min(k.id) FROM jobs k WHERE k.gateway_id = j.gateway_id AND "
	"k.state IN " OPEN_STATES ") ORDER BY j.next_ms, j.id LIMIT ?3";
/*
 * Walks the deadline index (jobs_deadline) in deadline order and stops at the limit.
 * "state || ''" keeps SQLite's planner (no statistics) from taking jobs_due (state, ...)
 * instead: that read every waking/awaiting/sent job and sorted them on each worker tick,
 * 10,000 rows per tick during a 10,000-gateway order. PostgreSQL plans by its statistics.
 */
static const char SQL_JOB_EXPIRED[] = "SELECT id FROM jobs WHERE deadline_ms > 0 AND "
	"deadline_ms <= ?1 AND (state || '') IN ('waking', 'awaiting-connection', 'sent') "
	"ORDER BY deadline_ms, id LIMIT ?2";
static const char SQL_BATCH_INSERT[] = "INSERT INTO job_batches (type, selection, total, "
	"actor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id";
static const char SQL_BATCH_GET[] = "SELECT id, type, selection, total, actor, created_ms "
	"FROM job_batches WHERE id = ?1";
static const char SQL_BATCH_LIST[] = "SELECT id, type, selection, total, actor, created_ms "
	"FROM job_batches WHERE (?1 = 0 OR id < ?1) ORDER BY id DESC LIMIT ?2";
static const char SQL_TAG_ADD[] =
	"INSERT INTO gateway_tags (gateway_id, tag) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
static const char SQL_TAG_REMOVE[] = "DELETE FROM gateway_tags WHERE gateway_id = ?1 AND "
	"tag = ?2";
static const char SQL_TAGS[] = "SELECT tag FROM gateway_tags WHERE gateway_id = ?1 "
	"ORDER BY tag";
static const char SQL_GW_EXISTS[] = "SELECT 1 FROM gateways WHERE gateway_id = ?1";
static const char SQL_SET_TENANT[] = "UPDATE gateways SET tenant_id = ?2 WHERE "
	"gateway_id = ?1";
static const char SQL_TENANT_FIND[] = "SELECT id FROM tenants WHERE name = ?1";
static const char SQL_WAKEUP_SET[] = "INSERT INTO gateway_wakeup (gateway_id, address, "
	"updated_ms) VALUES (?1, ?2, ?3) ON CONFLICT (gateway_id) DO UPDATE SET "
	"address = excluded.address, updated_ms = excluded.updated_ms";
static const char SQL_WAKEUP_DEL[] = "DELETE FROM gateway_wakeup WHERE gateway_id = ?1";
static const char SQL_WAKEUP_GET[] = "SELECT address FROM gateway_wakeup WHERE "
	"gateway_id = ?1";
#define GW_COLUMNS "g.tenant_id, g.gateway_id, g.state, g.created_ms, g.last_contact_ms, " \
	"g.last_address"
static const char SQL_SELECT_ALL[] = "SELECT " GW_COLUMNS " FROM gateways g "
	"ORDER BY g.gateway_id";
static const char SQL_SELECT_TAG[] = "SELECT " GW_COLUMNS " FROM gateways g JOIN "
	"gateway_tags t ON t.gateway_id = g.gateway_id WHERE t.tag = ?1 ORDER BY g.gateway_id";
static const char SQL_SELECT_TENANT[] = "SELECT " GW_COLUMNS " FROM gateways g JOIN "
	"tenants n ON n.id = g.tenant_id WHERE n.name = ?1 ORDER BY g.gateway_id";

static tw_rc job_row(struct db_stmt *st, struct store_job *j, struct tw_error *err)
{
	char state[32];
	int s;
	tw_rc rc;

	memset(j, 0, sizeof(*j));
	j->id = db_column_int64(st, 0);
	j->batch_id = db_column_int64(st, 1);
	if ((rc = DB_COL_TEXT(st, 2, j, gateway_id, err)) != TW_OK)
		return rc;
	j->tenant_id = db_column_int64(st, 3);
	if ((rc = DB_COL_TEXT(st, 4, j, type, err)) != TW_OK ||
	    (rc = db_col_text(st, 5, state, sizeof(state), "state", err)) != TW_OK)
		return rc;
	if ((s = store_job_state_parse(state)) < 0)
		return tw_error_set(err, TW_E_INTEGRITY, "job %lld has an unknown state",
			(long long)j->id);
	j->state = (enum store_job_state)s;
	j->attempts = db_column_int64(st, 6);
	j->max_attempts = db_column_int64(st, 7);
	j->timeout_ms = db_column_int64(st, 8);
	j->retry_delay_ms = db_column_int64(st, 9);
	j->next_ms = db_column_int64(st, 10);
	j->deadline_ms = db_column_int64(st, 11);
	j->created_ms = db_column_int64(st, 12);
	j->updated_ms = db_column_int64(st, 13);
	if ((rc = DB_COL_TEXT(st, 14, j, actor, err)) != TW_OK ||
	    (rc = DB_COL_TEXT(st, 15, j, error, err)) != TW_OK ||
	    (rc = db_col_dup(st, 16, STORE_JOB_PAYLOAD_MAX, "job payload", &j->payload, err)) != TW_OK ||
	    (rc = db_col_dup(st, 17, STORE_JOB_PAYLOAD_MAX, "job result", &j->result, err)) != TW_OK)
		store_job_clear(j);
	return rc;
}

/* One row of a prepared query into out; *found false when there is none. */
/* The one row of a job query (db_fetch arguments) into out; *found false when none. */
static tw_rc job_one(struct db *s, const char *sql, struct store_job *out, bool *found,
	struct tw_error *err, const char *types, ...)
{
	struct db_stmt *st = NULL;
	va_list ap;
	tw_rc rc;

	va_start(ap, types);
	rc = db_vfetch(s, sql, &st, found, "reading a job", err, types, ap);
	va_end(ap);
	if (rc == TW_OK && *found && (rc = job_row(st, out, err)) != TW_OK)
		*found = false;
	db_done(s, st);
	return rc;
}

static tw_rc sj_job_get(struct db *s, int64_t id, struct store_job *out, bool *found,
	struct tw_error *err)
{
	return job_one(s, SQL_JOB_GET, out, found, err, "i", id);
}

static tw_rc sj_job_transition(struct db *s, const struct store_job *j, const char *from,
	struct tw_error *err)
{
	int64_t changes = 0;
	tw_rc rc = db_run(s, SQL_JOB_TRANSITION, &changes, "updating a job", err, "ittiiiitt",
		j->id, from, store_job_state_name(j->state), (int64_t)j->attempts, j->next_ms,
		j->deadline_ms, j->updated_ms, j->error, j->result);   /* result NULL: keep */

	if (rc == TW_OK && changes != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "job %lld is no longer %s (changed by "
			"another process)", (long long)j->id, from);
	return rc;
}

static tw_rc sj_job_foreach(struct db *s, const struct store_job_filter *f, store_job_cb cb,
	void *arg, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct store_job j;
	bool row = false;
	int stop = 0;
	tw_rc rc;

	for (rc = db_fetch(s, SQL_JOB_LIST, &st, &row, "listing jobs", err, "titii",
	     f->gateway_id, f->batch_id, f->state >= 0 ?
	     store_job_state_name((enum store_job_state)f->state) : NULL, f->after_id,
	     f->limit > 0 ? (int64_t)f->limit : INT64_MAX); rc == TW_OK && row;
	     rc = db_next(st, &row, "listing jobs", err)) {
		if ((rc = job_row(st, &j, err)) != TW_OK)
			break;
		stop = cb(&j, arg);
		store_job_clear(&j);
		if (stop)
			break;
	}
	db_done(s, st);
	return rc;
}

static tw_rc sj_job_due(struct db *s, int64_t now_ms, const char *skip_list,
	struct store_job_due *out, size_t max, size_t *n, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(s, SQL_JOB_DUE, &st, &row, "finding due jobs", err, "iti", now_ms,
	     skip_list, (int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "finding due jobs", err)) {
		struct store_job_due *d = &out[*n];

		memset(d, 0, sizeof(*d));
		d->id = db_column_int64(st, 0);
		d->tenant_id = db_column_int64(st, 1);
		if ((rc = DB_COL_TEXT(st, 2, d, gateway_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 3, d, address, err)) != TW_OK)
			break;
		d->attempts = db_column_int64(st, 4);
		d->timeout_ms = db_column_int64(st, 5);
		(*n)++;
	}
	db_done(s, st);
	return rc;
}

/* A row of SQL_BATCH_GET / SQL_BATCH_LIST into out. */
static tw_rc sj_batch_row(struct db_stmt *st, struct store_job_batch *out, struct tw_error *err)
{
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	out->id = db_column_int64(st, 0);
	if ((rc = DB_COL_TEXT(st, 1, out, type, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 2, out, selection, err)) == TW_OK &&
	    (rc = DB_COL_TEXT(st, 4, out, actor, err)) == TW_OK) {
		out->total = db_column_int64(st, 3);
		out->created_ms = db_column_int64(st, 5);
	}
	return rc;
}

static tw_rc sj_batch_get(struct db *s, int64_t id, struct store_job_batch *out, bool *found,
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	tw_rc rc = db_fetch(s, SQL_BATCH_GET, &st, found, "reading a fleet order", err, "i", id);

	if (rc == TW_OK && *found && (rc = sj_batch_row(st, out, err)) != TW_OK)
		*found = false;
	db_done(s, st);
	return rc;
}

static tw_rc gw_exists(struct db *s, const char *gw, struct tw_error *err)
{
	bool yes = false;
	tw_rc rc = db_exists(s, SQL_GW_EXISTS, &yes, "looking up a gateway", err, "t", gw);

	if (rc == TW_OK && !yes)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway \"%s\" is not registered", gw);
	return rc;
}

static tw_rc sj_tag_remove(struct db *s, const char *gw, const char *tag, bool *removed,
	struct tw_error *err)
{
	int64_t changes = 0;
	tw_rc rc = db_run(s, SQL_TAG_REMOVE, &changes, "removing a tag", err, "tt", gw, tag);

	*removed = changes > 0;
	return rc;
}

static tw_rc sj_set_tenant(struct db *s, const char *gw, int64_t tenant_id, bool *changed,
	struct tw_error *err)
{
	int64_t changes = 0;
	tw_rc rc = db_run(s, SQL_SET_TENANT, &changes, "moving a gateway to a tenant", err, "ti",
		gw, tenant_id);

	*changed = changes == 1;
	return rc;
}

static tw_rc sj_tenant_find(struct db *s, const char *name, int64_t *id, bool *found,
	struct tw_error *err)
{
	return db_int(s, SQL_TENANT_FIND, id, found, "looking up a tenant", err, "t", name);
}

static tw_rc sj_wakeup_set(struct db *s, const char *gw, const char *address, int64_t now_ms,
	struct tw_error *err)
{
	tw_rc rc;

	if ((rc = gw_exists(s, gw, err)) != TW_OK)
		return rc;
	if (address[0] == '\0')
		return db_run(s, SQL_WAKEUP_DEL, NULL, "removing a wake-up address", err, "t", gw);
	return db_run(s, SQL_WAKEUP_SET, NULL, "storing a wake-up address", err, "tti", gw,
		address, now_ms);
}

static tw_rc sj_wakeup_get(struct db *s, const char *gw, char *address, size_t size,
	bool *found, struct tw_error *err)
{
	tw_rc rc = db_text(s, SQL_WAKEUP_GET, address, size, "wake-up address", found,
		"reading a wake-up address", err, "t", gw);

	if (rc != TW_OK)
		*found = false;
	return rc;
}

static tw_rc sj_gateway_select(struct db *s, enum store_gw_select how, const char *value,
	store_gateway_cb cb, void *arg, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	struct store_gateway gw;
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(s, how == GW_SELECT_ALL ? SQL_SELECT_ALL : how == GW_SELECT_TAG ?
	     SQL_SELECT_TAG : SQL_SELECT_TENANT, &st, &row, "selecting gateways", err,
	     how == GW_SELECT_ALL ? "" : "t", value); rc == TW_OK && row;
	     rc = db_next(st, &row, "selecting gateways", err)) {
		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = db_column_int64(st, 0);
		if ((rc = DB_COL_TEXT(st, 1, &gw, gateway_id, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 2, &gw, state, err)) != TW_OK ||
		    (rc = DB_COL_TEXT(st, 5, &gw, last_address, err)) != TW_OK)
			break;
		gw.created_ms = db_column_int64(st, 3);
		gw.last_contact_ms = db_column_int64(st, 4);
		if (cb(&gw, arg) != 0)
			break;
	}
	db_done(s, st);
	return rc;
}

static const char *const job_state_names[JOB__STATES] = {
	[JOB_CREATED] = "created",
	[JOB_WAKING] = "waking",
	[JOB_AWAITING] = "awaiting-connection",
	[JOB_SENT] = "sent",
	[JOB_DONE] = "done",
	[JOB_FAILED] = "failed",
	[JOB_TIMED_OUT] = "timed-out",
	[JOB_CANCELLED] = "cancelled",
};

const char *store_job_state_name(enum store_job_state s)
{
	return (unsigned)s < JOB__STATES ? job_state_names[s] : NULL;
}

int store_job_state_parse(const char *name)
{
	for (int i = 0; name != NULL && i < JOB__STATES; i++)
		if (strcmp(job_state_names[i], name) == 0)
			return i;
	return -1;
}

bool store_job_state_open(enum store_job_state s)
{
	return s == JOB_CREATED || s == JOB_WAKING || s == JOB_AWAITING || s == JOB_SENT;
}

void store_job_clear(struct store_job *job)
{
	if (job == NULL)
		return;
	free(job->payload);
	free(job->result);
	memset(job, 0, sizeof(*job));
}

static tw_rc sj_check_job(const struct store_job *j, bool insert, struct tw_error *err)
{
	tw_rc rc;

	if (j == NULL)
		return tw_error_set(err, TW_E_INVALID, "no job given");
	if ((rc = STORE_CHECK_MEMBER(j, error, false, err)) != TW_OK)
		return rc;
	if (store_job_state_name(j->state) == NULL)
		return tw_error_set(err, TW_E_INVALID, "job state %d is not valid", (int)j->state);
	if (j->attempts < 0 || j->attempts > 100)
		return tw_error_set(err, TW_E_INVALID, "attempts must be in [0, 100]");
	if (j->result != NULL && strnlen(j->result, STORE_JOB_PAYLOAD_MAX + 1) >
	    STORE_JOB_PAYLOAD_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "job result exceeds %d bytes",
			STORE_JOB_PAYLOAD_MAX);
	if (!insert)
		return TW_OK;
	if ((rc = STORE_CHECK_MEMBER(j, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(j, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(j, actor, true, err)) != TW_OK ||
	    (rc = store_check_text(j->payload, STORE_JOB_PAYLOAD_MAX, "job payload", err)) != TW_OK)
		return rc;
	if (j->max_attempts < 1 || j->max_attempts > 100)
		return tw_error_set(err, TW_E_INVALID, "max_attempts must be in [1, 100]");
	if (j->timeout_ms <= 0 || j->retry_delay_ms < 0)
		return tw_error_set(err, TW_E_INVALID, "timeout must be positive and the retry "
			"delay not negative");
	return TW_OK;
}

tw_rc store_job_insert(struct tw_store *store, const struct store_job *job, int64_t *id,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id == NULL)
		return tw_error_set(err, TW_E_INVALID, "no id out-parameter");
	if ((rc = sj_check_job(job, true, err)) != TW_OK)
		return rc;
	rc = db_insert(db, SQL_JOB_INSERT, id, "storing a job", err, "ititttiiiiiiiit",
		job->batch_id, job->gateway_id, job->tenant_id, job->type, job->payload,
		store_job_state_name(job->state), (int64_t)job->attempts,
		(int64_t)job->max_attempts, job->timeout_ms, job->retry_delay_ms, job->next_ms,
		job->deadline_ms, job->created_ms, job->updated_ms, job->actor);
	if (rc == TW_E_NOT_FOUND)
		return tw_error_set(err, rc, "gateway \"%s\" is not registered", job->gateway_id);
	return rc;
}

tw_rc store_job_get(struct tw_store *store, int64_t id, struct store_job *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool found = false;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = sj_job_get(db, id, out, &found, err)) != TW_OK)
		return rc;
	if (found && store->scope_tenant != 0 && out->tenant_id != store->scope_tenant) {
		/* Another tenant's job does not exist for this handle (store_scope_tenant). */
		memset(out, 0, sizeof(*out));
		found = false;
	}
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no job %lld",
		(long long)id);
}

tw_rc store_job_transition(struct tw_store *store, const struct store_job *job,
	enum store_job_state from, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_check_job(job, false, err)) != TW_OK)
		return rc;
	if (store_job_state_name(from) == NULL)
		return tw_error_set(err, TW_E_INVALID, "invalid from-state");
	return sj_job_transition(db, job, store_job_state_name(from), err);
}

tw_rc store_job_head(struct tw_store *store, const char *gateway_id, struct store_job *out,
	bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return job_one(db, SQL_JOB_HEAD, out, found, err, "t", gateway_id);
}

tw_rc store_job_count_open(struct tw_store *store, const char *gateway_id, int64_t *n,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	/* count(*) always returns its one row. */
	return db_int(db, SQL_JOB_COUNT_OPEN, n, NULL, "counting jobs", err, "t", gateway_id);
}

tw_rc store_job_claim_head(struct tw_store *store, const char *gateway_id, int64_t now_ms,
	struct store_job *out, bool *found, int64_t *pending, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (pending != NULL)
		*pending = 0;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || pending == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = db_fetch(db, db->drv->pg ? SQL_JOB_CLAIM_PG : SQL_JOB_CLAIM, &st, found,
		"handing out a job", err, "ti", gateway_id, now_ms)) != TW_OK)
		return rc;
	if (*found) {
		*pending = db_column_int64(st, 18);
		if ((rc = job_row(st, out, err)) != TW_OK)
			*found = false;
	}
	db_done(db, st);
	/* Nothing claimed: no open job, or the head is in flight; the count still answers. */
	if (rc == TW_OK && !*found)
		rc = store_job_count_open(store, gateway_id, pending, err);
	return rc;
}

/* A tenant-scoped job walk (store_scope_tenant): other tenants' jobs are skipped. */
struct sj_scope {
	int64_t tenant_id;
	store_job_cb cb;
	void *arg;
};

static int sj_scope_filter(const struct store_job *job, void *arg)
{
	const struct sj_scope *s = arg;

	return job->tenant_id == s->tenant_id ? s->cb(job, s->arg) : 0;
}

tw_rc store_job_foreach(struct tw_store *store, const struct store_job_filter *f,
	store_job_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || cb == NULL)
		return tw_error_set(err, TW_E_INVALID, "no filter or callback given");
	if (f->gateway_id != NULL &&
	    (rc = store_check_text(f->gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (f->state >= JOB__STATES)
		return tw_error_set(err, TW_E_INVALID, "invalid state filter");
	if (store->scope_tenant != 0) {
		struct sj_scope scope = { store->scope_tenant, cb, arg };

		return sj_job_foreach(db, f, sj_scope_filter, &scope, err);
	}
	return sj_job_foreach(db, f, cb, arg, err);
}

/* Rows of (state, count) into counts; unknown states are skipped. */
static tw_rc sj_counts(struct db *db, const char *sql, int64_t key, int64_t counts[JOB__STATES],
	struct tw_error *err)
{
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(db, sql, &st, &row, "counting jobs", err, "i", key); rc == TW_OK && row;
	     rc = db_next(st, &row, "counting jobs", err)) {
		int k = store_job_state_parse(db_column_text(st, 0));

		if (k >= 0)
			counts[k] = db_column_int64(st, 1);
	}
	db_done(db, st);
	return rc;
}

tw_rc store_job_counts(struct tw_store *store, int64_t batch_id, int64_t counts[JOB__STATES],
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (counts != NULL)
		memset(counts, 0, sizeof(int64_t) * JOB__STATES);
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (counts == NULL || batch_id < 0)
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_counts");
	return sj_counts(db, SQL_JOB_COUNTS, batch_id, counts, err);
}

tw_rc store_job_state_counts(struct tw_store *store, int64_t counts[JOB__STATES],
	struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (counts != NULL)
		memset(counts, 0, sizeof(int64_t) * JOB__STATES);
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (counts == NULL)
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_state_counts");
	return sj_counts(db, SQL_JOB_COUNTS_TENANT, store->scope_tenant, counts, err);
}

#define SJ_SKIP_MAX 256

tw_rc store_job_due(struct tw_store *store, int64_t now_ms, const int64_t *skip_tenants,
	size_t n_skip, struct store_job_due *out, size_t max, size_t *n, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct tw_buf skip;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL || (out == NULL && max > 0) || (skip_tenants == NULL && n_skip > 0))
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_due");
	if (n_skip > SJ_SKIP_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d tenants to skip",
			SJ_SKIP_MAX);
	if (max == 0)
		return TW_OK;
	/*
	 * The skip list travels as one text parameter ",1,2," (no SQL built from input),
	 * matched with LIKE, which both dialects have (json_each is SQLite's own).
	 */
	tw_buf_init(&skip, 32 + n_skip * 24);
	rc = tw_buf_append(&skip, ",", 1, err);
	for (size_t i = 0; rc == TW_OK && i < n_skip; i++)
		rc = tw_buf_appendf(&skip, err, "%lld,", (long long)skip_tenants[i]);
	if (rc == TW_OK)
		rc = sj_job_due(db, now_ms, (const char *)skip.data, out, max, n, err);
	tw_buf_free(&skip);
	return rc;
}

tw_rc store_job_expired(struct tw_store *store, int64_t now_ms, int64_t *ids, size_t max,
	size_t *n, struct tw_error *err)
{
	struct db *db = store_db(store, err);

	if (n != NULL)
		*n = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (n == NULL || (ids == NULL && max > 0))
		return tw_error_set(err, TW_E_INVALID, "invalid arguments to store_job_expired");
	if (max == 0)
		return TW_OK;
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	for (rc = db_fetch(db, SQL_JOB_EXPIRED, &st, &row, "finding expired jobs", err, "ii",
	     now_ms, (int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "finding expired jobs", err))
		ids[(*n)++] = db_column_int64(st, 0);
	db_done(db, st);
	return rc;
}

tw_rc store_job_batch_insert(struct tw_store *store, const struct store_job_batch *b,
	int64_t *id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (b == NULL || id == NULL || b->total < 0)
		return tw_error_set(err, TW_E_INVALID, "invalid fleet order");
	if ((rc = STORE_CHECK_MEMBER(b, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(b, selection, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(b, actor, true, err)) != TW_OK)
		return rc;
	return db_insert(db, SQL_BATCH_INSERT, id, "storing a fleet order", err, "ttiti",
		b->type, b->selection, b->total, b->actor, b->created_ms);
}

tw_rc store_job_batch_get(struct tw_store *store, int64_t id, struct store_job_batch *out,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool found = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = sj_batch_get(db, id, out, &found, err)) != TW_OK)
		return rc;
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no fleet order %lld",
		(long long)id);
}

tw_rc store_job_batch_list(struct tw_store *store, int64_t before_id,
	struct store_job_batch *out, size_t max, size_t *n, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	struct db_stmt *st = NULL;
	bool row = false;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || n == NULL || max == 0 || max > 100000 || before_id < 0)
		return tw_error_set(err, TW_E_INVALID, "store_job_batch_list: bad arguments");
	for (rc = db_fetch(db, SQL_BATCH_LIST, &st, &row, "listing fleet orders", err, "ii",
	     before_id, (int64_t)max); rc == TW_OK && row && *n < max;
	     rc = db_next(st, &row, "listing fleet orders", err)) {
		if ((rc = sj_batch_row(st, &out[*n], err)) != TW_OK)
			break;
		(*n)++;
	}
	db_done(db, st);
	return rc;
}

static bool tag_valid(const char *t)
{
	size_t n;

	for (n = 0; t[n] != '\0'; n++) {
		char c = t[n];

		if (n >= STORE_TAG_MAX || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return n > 0;
}

static tw_rc sj_gw_tag(const char *gateway_id, const char *tag, struct tw_error *err)
{
	tw_rc rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err);

	if (rc != TW_OK)
		return rc;
	if (tag == NULL || !tag_valid(tag))
		return tw_error_set(err, TW_E_INVALID, "tags are 1..%d characters of "
			"[A-Za-z0-9._:-]", STORE_TAG_MAX);
	return TW_OK;
}

tw_rc store_gateway_tag_add(struct tw_store *store, const char *gateway_id, const char *tag,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_gw_tag(gateway_id, tag, err)) != TW_OK)
		return rc;
	rc = gw_exists(db, gateway_id, err);

	return rc != TW_OK ? rc : db_run(db, SQL_TAG_ADD, NULL, "adding a tag", err, "tt",
		gateway_id, tag);
}

tw_rc store_gateway_tag_remove(struct tw_store *store, const char *gateway_id,
	const char *tag, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool removed = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = sj_gw_tag(gateway_id, tag, err)) != TW_OK)
		return rc;
	if ((rc = sj_tag_remove(db, gateway_id, tag, &removed, err)) != TW_OK)
		return rc;
	return removed ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND,
		"gateway %s has no tag %s", gateway_id, tag);
}

tw_rc store_gateway_tags(struct tw_store *store, const char *gateway_id, char *buf,
	size_t size, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (buf == NULL || size == 0)
		return tw_error_set(err, TW_E_INVALID, "no buffer given");
	buf[0] = '\0';
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	struct db_stmt *st = NULL;
	size_t used = 0;
	bool row = false;

	for (rc = db_fetch(db, SQL_TAGS, &st, &row, "reading tags", err, "t", gateway_id);
	     rc == TW_OK && row; rc = db_next(st, &row, "reading tags", err)) {
		const char *t = db_column_text(st, 0);
		int w = snprintf(buf + used, size - used, "%s%s", used > 0 ? "," : "",
			t != NULL ? t : "");

		if (w < 0 || (size_t)w >= size - used) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "the tags of %s exceed %zu bytes", gateway_id,
				size - 1);
			break;
		}
		used += (size_t)w;
	}
	db_done(db, st);
	return rc;
}

tw_rc store_gateway_set_tenant(struct tw_store *store, const char *gateway_id,
	int64_t tenant_id, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool changed = false;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if ((rc = sj_set_tenant(db, gateway_id, tenant_id, &changed, err)) != TW_OK)
		return rc;
	return changed ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND,
		"gateway \"%s\" is not registered", gateway_id);
}

tw_rc store_tenant_find(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err)
{
	struct db *db = store_db(store, err);
	bool found = false;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(name, STORE_ID_MAX, "tenant name", err)) != TW_OK)
		return rc;
	if ((rc = sj_tenant_find(db, name, id, &found, err)) != TW_OK)
		return rc;
	return found ? TW_OK : tw_error_set(err, TW_E_NOT_FOUND, "there is no tenant \"%s\"",
		name);
}

tw_rc store_gateway_wakeup_set(struct tw_store *store, const char *gateway_id,
	const char *address, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	char *host = NULL;
	uint16_t port;
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (address == NULL)
		return tw_error_set(err, TW_E_INVALID, "no wake-up address given");
	if (address[0] != '\0') {
		if (strnlen(address, STORE_ADDRESS_MAX + 1) > STORE_ADDRESS_MAX)
			return tw_error_set(err, TW_E_TOO_LARGE, "wake-up address is longer than %d "
				"bytes", STORE_ADDRESS_MAX);
		if ((rc = tw_parse_hostport(address, &host, &port, err)) != TW_OK)
			return tw_error_set(err, rc, "wake-up address \"%s\": use HOST:PORT", address);
		free(host);
	}
	return sj_wakeup_set(db, gateway_id, address, tw_now_ms(), err);
}

tw_rc store_gateway_wakeup_get(struct tw_store *store, const char *gateway_id,
	char address[STORE_ADDRESS_MAX + 1], bool *found, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (address == NULL || found == NULL)
		return tw_error_set(err, TW_E_INVALID, "no output given");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return sj_wakeup_get(db, gateway_id, address, STORE_ADDRESS_MAX + 1, found,
		err);
}

tw_rc store_gateway_select(struct tw_store *store, enum store_gw_select how,
	const char *value, store_gateway_cb cb, void *arg, struct tw_error *err)
{
	struct db *db = store_db(store, err);
	tw_rc rc;

	if (db == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL || (how != GW_SELECT_ALL && how != GW_SELECT_TAG &&
	    how != GW_SELECT_TENANT))
		return tw_error_set(err, TW_E_INVALID, "invalid gateway selection");
	if (how != GW_SELECT_ALL &&
	    (rc = store_check_text(value, STORE_ID_MAX, "selection value", err)) != TW_OK)
		return rc;
	if (store->scope_tenant != 0) {
		struct store_scope_filter scope = { store->scope_tenant, cb, arg };

		return sj_gateway_select(db, how, value, store_scope_gateway_filter,
			&scope, err);
	}
	return sj_gateway_select(db, how, value, cb, arg, err);
}
