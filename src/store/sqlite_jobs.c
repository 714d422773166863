/*
 * sqlite_jobs.c: the SQL of jobs, fleet batches, gateway tags, tenants of gateways and
 * wake-up addresses (store_jobs.h, migration 0003_jobs.sql) for the SQLite backend.
 *
 * Arguments were validated by store_jobs.c. Everything read back is checked against the
 * struct limits like outside input (an edited database is TW_E_INTEGRITY, never an
 * overflow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_backend.h"
#include "store/store_jobs_backend.h"

#define JOB_COLUMNS "id, batch_id, gateway_id, tenant_id, type, state, attempts, " \
	"max_attempts, timeout_ms, retry_delay_ms, next_ms, deadline_ms, created_ms, " \
	"updated_ms, actor, error, payload, result"
#define OPEN_STATES "('created', 'waking', 'awaiting-connection', 'sent')"

static const char SQL_JOB_INSERT[] =
	"INSERT INTO jobs (batch_id, gateway_id, tenant_id, type, payload, state, attempts, "
	"max_attempts, timeout_ms, retry_delay_ms, next_ms, deadline_ms, created_ms, "
	"updated_ms, actor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	"?14, ?15)";
static const char SQL_JOB_GET[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";
static const char SQL_JOB_TRANSITION[] =
	"UPDATE jobs SET state = ?3, attempts = ?4, next_ms = ?5, deadline_ms = ?6, "
	"updated_ms = ?7, error = ?8, result = coalesce(?9, result) WHERE id = ?1 AND state = ?2";
static const char SQL_JOB_HEAD[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE gateway_id = ?1 "
	"AND state IN " OPEN_STATES " ORDER BY id LIMIT 1";
static const char SQL_JOB_COUNT_OPEN[] = "SELECT count(*) FROM jobs WHERE gateway_id = ?1 "
	"AND state IN " OPEN_STATES;
static const char SQL_JOB_LIST[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	"(?1 IS NULL OR gateway_id = ?1) AND (?2 = 0 OR batch_id = ?2) AND "
	"(?3 IS NULL OR state = ?3) AND id > ?4 ORDER BY id LIMIT ?5";
static const char SQL_JOB_COUNTS[] = "SELECT state, count(*) FROM jobs WHERE "
	"(?1 = 0 OR batch_id = ?1) GROUP BY state";
/* Heads of their gateway's queue only: jobs of one gateway run in order. */
static const char SQL_JOB_DUE[] =
	"SELECT j.id, j.tenant_id, j.gateway_id, coalesce(w.address, ''), j.attempts, "
	"j.timeout_ms FROM jobs j LEFT JOIN gateway_wakeup w ON w.gateway_id = j.gateway_id "
	"WHERE j.state = 'created' AND j.next_ms <= ?1 "
	"AND j.tenant_id NOT IN (SELECT value FROM json_each(?2)) "
	"AND j.id = (SELECT min(k.id) FROM jobs k WHERE k.gateway_id = j.gateway_id AND "
	"k.state IN " OPEN_STATES ") ORDER BY j.next_ms, j.id LIMIT ?3";
static const char SQL_JOB_EXPIRED[] = "SELECT id FROM jobs WHERE deadline_ms > 0 AND "
	"deadline_ms <= ?1 AND state IN ('waking', 'awaiting-connection', 'sent') "
	"ORDER BY deadline_ms, id LIMIT ?2";
static const char SQL_BATCH_INSERT[] = "INSERT INTO job_batches (type, selection, total, "
	"actor, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_BATCH_GET[] = "SELECT id, type, selection, total, actor, created_ms "
	"FROM job_batches WHERE id = ?1";
static const char SQL_TAG_ADD[] =
	"INSERT OR IGNORE INTO gateway_tags (gateway_id, tag) VALUES (?1, ?2)";
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

static tw_rc col_dup(sqlite3_stmt *st, int col, size_t max, const char *what, char **out,
	struct tw_error *err)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	size_t n = (size_t)sqlite3_column_bytes(st, col);

	*out = NULL;
	if (n > max)
		return tw_error_set(err, TW_E_INTEGRITY, "stored %s is %zu bytes, more than the "
			"limit of %zu (edited database?)", what, n, max);
	if ((*out = malloc(n + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading %s", what);
	if (n > 0 && t != NULL)
		memcpy(*out, t, n);
	(*out)[n] = '\0';
	return TW_OK;
}

static tw_rc job_row(sqlite3_stmt *st, struct store_job *j, struct tw_error *err)
{
	char state[32];
	int s;
	tw_rc rc;

	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	j->batch_id = sqlite3_column_int64(st, 1);
	if ((rc = SQ_COL_TEXT(st, 2, j, gateway_id, err)) != TW_OK)
		return rc;
	j->tenant_id = sqlite3_column_int64(st, 3);
	if ((rc = SQ_COL_TEXT(st, 4, j, type, err)) != TW_OK ||
	    (rc = sq_col_text(st, 5, state, sizeof(state), "state", err)) != TW_OK)
		return rc;
	if ((s = store_job_state_parse(state)) < 0)
		return tw_error_set(err, TW_E_INTEGRITY, "job %lld has an unknown state",
			(long long)j->id);
	j->state = (enum store_job_state)s;
	j->attempts = sqlite3_column_int(st, 6);
	j->max_attempts = sqlite3_column_int(st, 7);
	j->timeout_ms = sqlite3_column_int64(st, 8);
	j->retry_delay_ms = sqlite3_column_int64(st, 9);
	j->next_ms = sqlite3_column_int64(st, 10);
	j->deadline_ms = sqlite3_column_int64(st, 11);
	j->created_ms = sqlite3_column_int64(st, 12);
	j->updated_ms = sqlite3_column_int64(st, 13);
	if ((rc = SQ_COL_TEXT(st, 14, j, actor, err)) != TW_OK ||
	    (rc = SQ_COL_TEXT(st, 15, j, error, err)) != TW_OK ||
	    (rc = col_dup(st, 16, STORE_JOB_PAYLOAD_MAX, "job payload", &j->payload, err)) != TW_OK ||
	    (rc = col_dup(st, 17, STORE_JOB_PAYLOAD_MAX, "job result", &j->result, err)) != TW_OK)
		store_job_clear(j);
	return rc;
}

static tw_rc sj_job_insert(void *be, const struct store_job *j, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_INSERT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, j->batch_id);
	sqlite3_bind_text(st, 2, j->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, j->tenant_id);
	sqlite3_bind_text(st, 4, j->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, j->payload, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, store_job_state_name(j->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, j->attempts);
	sqlite3_bind_int(st, 8, j->max_attempts);
	sqlite3_bind_int64(st, 9, j->timeout_ms);
	sqlite3_bind_int64(st, 10, j->retry_delay_ms);
	sqlite3_bind_int64(st, 11, j->next_ms);
	sqlite3_bind_int64(st, 12, j->deadline_ms);
	sqlite3_bind_int64(st, 13, j->created_ms);
	sqlite3_bind_int64(st, 14, j->updated_ms);
	sqlite3_bind_text(st, 15, j->actor, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "storing a job");
		if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "gateway \"%s\" is not registered", j->gateway_id);
	} else {
		*id = sqlite3_last_insert_rowid(s->db);
	}
	sq_done(s, st);
	return rc;
}

/* One row of a prepared query into out; *found false when there is none. */
static tw_rc job_one(struct sq *s, sqlite3_stmt *st, struct store_job *out, bool *found,
	struct tw_error *err)
{
	int step = sqlite3_step(st);
	tw_rc rc = TW_OK;

	*found = false;
	if (step == SQLITE_ROW) {
		rc = job_row(st, out, err);
		*found = rc == TW_OK;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a job");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_get(void *be, int64_t id, struct store_job *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	return job_one(s, st, out, found, err);
}

static tw_rc sj_job_head(void *be, const char *gw, struct store_job *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_HEAD, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	return job_one(s, st, out, found, err);
}

static tw_rc sj_job_transition(void *be, const struct store_job *j, const char *from,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_TRANSITION, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, store_job_state_name(j->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, j->attempts);
	sqlite3_bind_int64(st, 5, j->next_ms);
	sqlite3_bind_int64(st, 6, j->deadline_ms);
	sqlite3_bind_int64(st, 7, j->updated_ms);
	sqlite3_bind_text(st, 8, j->error, -1, SQLITE_STATIC);
	if (j->result != NULL)
		sqlite3_bind_text(st, 9, j->result, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 9);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, "updating a job");
	else if (sqlite3_changes(s->db) != 1)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "job %lld is no longer %s (changed by "
			"another process)", (long long)j->id, from);
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_count_open(void *be, const char *gw, int64_t *n, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_COUNT_OPEN, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = sq_step_fail(s, err, "counting jobs");
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_foreach(void *be, const struct store_job_filter *f, store_job_cb cb,
	void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_job j;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_LIST, &st, err)) != TW_OK)
		return rc;
	if (f->gateway_id != NULL)
		sqlite3_bind_text(st, 1, f->gateway_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, f->batch_id);
	if (f->state >= 0)
		sqlite3_bind_text(st, 3, store_job_state_name((enum store_job_state)f->state), -1,
			SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->after_id);
	sqlite3_bind_int64(st, 5, f->limit > 0 ? (sqlite3_int64)f->limit : -1);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int stop;

		if ((rc = job_row(st, &j, err)) != TW_OK)
			goto out;
		stop = cb(&j, arg);
		store_job_clear(&j);
		if (stop)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "listing jobs");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_counts(void *be, int64_t batch_id, int64_t counts[JOB__STATES],
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_COUNTS, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, batch_id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int k = store_job_state_parse((const char *)sqlite3_column_text(st, 0));

		if (k >= 0)
			counts[k] = sqlite3_column_int64(st, 1);
	}
	if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "counting jobs");
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_due(void *be, int64_t now_ms, const char *skip_json,
	struct store_job_due *out, size_t max, size_t *n, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_DUE, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_text(st, 2, skip_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_job_due *d = &out[*n];

		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(st, 0);
		d->tenant_id = sqlite3_column_int64(st, 1);
		if ((rc = SQ_COL_TEXT(st, 2, d, gateway_id, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 3, d, address, err)) != TW_OK)
			goto out;
		d->attempts = sqlite3_column_int(st, 4);
		d->timeout_ms = sqlite3_column_int64(st, 5);
		(*n)++;
	}
	if (*n < max && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "finding due jobs");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sj_job_expired(void *be, int64_t now_ms, int64_t *ids, size_t max, size_t *n,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step = SQLITE_DONE;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_JOB_EXPIRED, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	while (*n < max && (step = sqlite3_step(st)) == SQLITE_ROW)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	if (*n < max && step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "finding expired jobs");
	sq_done(s, st);
	return rc;
}

static tw_rc sj_batch_insert(void *be, const struct store_job_batch *b, int64_t *id,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_BATCH_INSERT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, b->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b->selection, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, b->total);
	sqlite3_bind_text(st, 4, b->actor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, b->created_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, "storing a fleet order");
	else
		*id = sqlite3_last_insert_rowid(s->db);
	sq_done(s, st);
	return rc;
}

static tw_rc sj_batch_get(void *be, int64_t id, struct store_job_batch *out, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	*found = false;
	if ((rc = sq_prepare(s, SQL_BATCH_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(st, 0);
		if ((rc = SQ_COL_TEXT(st, 1, out, type, err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 2, out, selection, err)) == TW_OK &&
		    (rc = SQ_COL_TEXT(st, 4, out, actor, err)) == TW_OK) {
			out->total = sqlite3_column_int64(st, 3);
			out->created_ms = sqlite3_column_int64(st, 5);
			*found = true;
		}
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a fleet order");
	}
	sq_done(s, st);
	return rc;
}

/* Run a statement binding (text1, text2) to completion; *changes = rows changed. */
static tw_rc run2(struct sq *s, const char *sql, const char *a, const char *b, int *changes,
	const char *doing, struct tw_error *err)
{
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, sql, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (b != NULL)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, doing);
	else if (changes != NULL)
		*changes = sqlite3_changes(s->db);
	sq_done(s, st);
	return rc;
}

static tw_rc gw_exists(struct sq *s, const char *gw, struct tw_error *err)
{
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_GW_EXISTS, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway \"%s\" is not registered", gw);
	else if (step != SQLITE_ROW)
		rc = sq_step_fail(s, err, "looking up a gateway");
	sq_done(s, st);
	return rc;
}

static tw_rc sj_tag_add(void *be, const char *gw, const char *tag, struct tw_error *err)
{
	tw_rc rc = gw_exists(be, gw, err);

	return rc != TW_OK ? rc : run2(be, SQL_TAG_ADD, gw, tag, NULL, "adding a tag", err);
}

static tw_rc sj_tag_remove(void *be, const char *gw, const char *tag, bool *removed,
	struct tw_error *err)
{
	int changes = 0;
	tw_rc rc = run2(be, SQL_TAG_REMOVE, gw, tag, &changes, "removing a tag", err);

	*removed = changes > 0;
	return rc;
}

static tw_rc sj_tags(void *be, const char *gw, char *buf, size_t size, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	size_t used = 0;
	int step;
	tw_rc rc;

	buf[0] = '\0';
	if ((rc = sq_prepare(s, SQL_TAGS, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		int w = snprintf(buf + used, size - used, "%s%s", used > 0 ? "," : "",
			t != NULL ? t : "");

		if (w < 0 || (size_t)w >= size - used) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "the tags of %s exceed %zu bytes", gw,
				size - 1);
			goto out;
		}
		used += (size_t)w;
	}
	if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "reading tags");
out:
	sq_done(s, st);
	return rc;
}

static tw_rc sj_set_tenant(void *be, const char *gw, int64_t tenant_id, bool *changed,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = sq_prepare(s, SQL_SET_TENANT, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, tenant_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, "moving a gateway to a tenant");
	else
		*changed = sqlite3_changes(s->db) == 1;
	sq_done(s, st);
	return rc;
}

static tw_rc sj_tenant_find(void *be, const char *name, int64_t *id, bool *found,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	*found = false;
	if ((rc = sq_prepare(s, SQL_TENANT_FIND, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*found = true;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "looking up a tenant");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sj_wakeup_set(void *be, const char *gw, const char *address, int64_t now_ms,
	struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	tw_rc rc;

	if ((rc = gw_exists(s, gw, err)) != TW_OK)
		return rc;
	if (address[0] == '\0')
		return run2(s, SQL_WAKEUP_DEL, gw, NULL, NULL, "removing a wake-up address", err);
	if ((rc = sq_prepare(s, SQL_WAKEUP_SET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sq_step_fail(s, err, "storing a wake-up address");
	sq_done(s, st);
	return rc;
}

static tw_rc sj_wakeup_get(void *be, const char *gw, char *address, size_t size,
	bool *found, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	int step;
	tw_rc rc;

	*found = false;
	address[0] = '\0';
	if ((rc = sq_prepare(s, SQL_WAKEUP_GET, &st, err)) != TW_OK)
		return rc;
	sqlite3_bind_text(st, 1, gw, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		rc = sq_col_text(st, 0, address, size, "wake-up address", err);
		*found = rc == TW_OK;
	} else if (step != SQLITE_DONE) {
		rc = sq_step_fail(s, err, "reading a wake-up address");
	}
	sq_done(s, st);
	return rc;
}

static tw_rc sj_gateway_select(void *be, enum store_gw_select how, const char *value,
	store_gateway_cb cb, void *arg, struct tw_error *err)
{
	struct sq *s = be;
	sqlite3_stmt *st = NULL;
	struct store_gateway gw;
	int step;
	tw_rc rc;

	rc = sq_prepare(s, how == GW_SELECT_ALL ? SQL_SELECT_ALL : how == GW_SELECT_TAG ?
		SQL_SELECT_TAG : SQL_SELECT_TENANT, &st, err);
	if (rc != TW_OK)
		return rc;
	if (how != GW_SELECT_ALL)
		sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = sqlite3_column_int64(st, 0);
		if ((rc = SQ_COL_TEXT(st, 1, &gw, gateway_id, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 2, &gw, state, err)) != TW_OK ||
		    (rc = SQ_COL_TEXT(st, 5, &gw, last_address, err)) != TW_OK)
			goto out;
		gw.created_ms = sqlite3_column_int64(st, 3);
		gw.last_contact_ms = sqlite3_column_int64(st, 4);
		if (cb(&gw, arg) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = sq_step_fail(s, err, "selecting gateways");
out:
	sq_done(s, st);
	return rc;
}

const struct store_jobs_ops store_sqlite_jobs_ops = {
	.job_insert = sj_job_insert,
	.job_get = sj_job_get,
	.job_transition = sj_job_transition,
	.job_head = sj_job_head,
	.job_count_open = sj_job_count_open,
	.job_foreach = sj_job_foreach,
	.job_counts = sj_job_counts,
	.job_due = sj_job_due,
	.job_expired = sj_job_expired,
	.batch_insert = sj_batch_insert,
	.batch_get = sj_batch_get,
	.tag_add = sj_tag_add,
	.tag_remove = sj_tag_remove,
	.tags = sj_tags,
	.set_tenant = sj_set_tenant,
	.tenant_find = sj_tenant_find,
	.wakeup_set = sj_wakeup_set,
	.wakeup_get = sj_wakeup_get,
	.gateway_select = sj_gateway_select,
};
