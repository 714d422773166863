/*
 * driver_pg.c: the store's driver (db.h) on libpq, for a PostgreSQL store shared by
 * several hosts ([store] url = postgresql://...).
 *
 * The dialect lives here, not in the areas' SQL:
 *  - placeholders ?N become $N (outside string literals) when a statement is prepared;
 *  - parameters travel as text, except blobs, which travel binary as bytea; results come
 *    as text and bytea columns are decoded on demand (column_blob/column_bytes);
 *  - a write transaction takes one transaction-scoped advisory lock, the same global
 *    writer order SQLite's BEGIN IMMEDIATE gives: the admin-log hash chain, Merkle nodes
 *    and job hand-outs are read-then-written under it and stay serialised across
 *    processes and hosts; readers never wait for it;
 *  - BEGIN (and the lock) travel with the transaction's first statement, in one pipeline:
 *    a transaction costs its statements' round trips plus the COMMIT's, not one more for
 *    the BEGIN. Nothing runs between db_begin and the first statement, so the lock is
 *    held for the same work as before; a transaction that runs no statement sends
 *    nothing at all;
 *  - a failing statement inside a transaction would abort the whole transaction in
 *    PostgreSQL (SQLite only fails the statement), so a write inside a transaction runs
 *    under a savepoint and a failure (e.g. unique violation -> TW_E_EXISTS, which callers
 *    handle) leaves the transaction usable, as on SQLite;
 *  - a new row's id comes back with its insert (INSERT ... RETURNING id, db_insert), not
 *    through a second query (lastval()) after it;
 *  - SQLSTATE 23505 -> TW_E_EXISTS, 23503 -> TW_E_NOT_FOUND, a lost or refused connection
 *    (class 08, 57P01-57P03, 53300) -> TW_E_UNAVAILABLE, anything else TW_E_STORE;
 *  - outages (pg_usable): a connection found dead is opened again outside a transaction
 *    only, with exponential back-off and jitter between attempts (PG_BACKOFF_MIN_MS doubling
 *    to PG_BACKOFF_MAX_MS); meanwhile every statement fails at once with TW_E_UNAVAILABLE,
 *    so a service answers "retry later" instead of blocking its event loop on connects.
 *    The loss and the recovery are logged once each, failed attempts each with their delay.
 *    A connection lost inside a transaction is never reopened under it: every statement of
 *    that transaction fails until the caller rolls back (the server discarded it whole), so
 *    nothing runs half inside and half outside a transaction.
 * A result is read whole before the first row is returned, so a foreach callback may run
 * other statements on the same connection (as on SQLite).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "base/util.h"
#include "store/db.h"

#define PG_PARAM_MAX 32
#define PG_WRITER_LOCK "74190509"   /* advisory lock key of the global writer order */
#define PG_OID_INT8 20
#define PG_OID_BYTEA 17
#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 30000
#define PG_SQLSTATE_LOST "08006"   /* connection_failure: what a dead connection maps to */

struct pg {
	struct db base;
	PGconn *conn;
	int64_t changes;
	char sqlstate[6];
	char msg[256];
	bool tx;                        /* between BEGIN and COMMIT/ROLLBACK, as callers see it */
	bool begin_due, begin_write;    /* tx begun, BEGIN not yet sent (goes with 1st stmt) */
	bool lost;                      /* the connection is gone; reconnect with back-off */
	int64_t lost_ms, retry_ms, backoff_ms;  /* monotonic */
	unsigned attempts, seed;
	unsigned gen, names;            /* reconnects (prepared names die); names issued */
};

struct pg_stmt {
	struct db_stmt base;
	char *sql;                      /* with $N placeholders */
	bool write;                     /* not a SELECT: savepoint inside a transaction */
	int nparams;
	char num[PG_PARAM_MAX][24];     /* integers in text */
	const char *val[PG_PARAM_MAX];
	int len[PG_PARAM_MAX];
	int fmt[PG_PARAM_MAX];
	unsigned int type[PG_PARAM_MAX];
	PGresult *res;
	int row;
	char name[16];                  /* server-side prepared name, "" if not (yet) */
	unsigned gen;                   /* connection generation it was prepared on */
	unsigned runs;
	unsigned int ptype[PG_PARAM_MAX];   /* parameter types it was prepared with */
	unsigned char **blob;           /* decoded bytea of the current row, per column */
	size_t *blob_len;
};

#define PG(d) ((struct pg *)(d))
#define PS(s) ((struct pg_stmt *)(s))

static void pg_note(struct pg *p, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *m = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", state != NULL ? state : "");
	if (m == NULL)
		m = PQstatus(p->conn) == CONNECTION_BAD ? "the connection to the database is lost" :
			PQerrorMessage(p->conn);
	snprintf(p->msg, sizeof(p->msg), "%s", m);
	p->msg[strcspn(p->msg, "\n")] = '\0';
}

static tw_rc pg_step_fail(struct db *d, struct tw_error *err, const char *doing)
{
	struct pg *p = PG(d);

	if (strcmp(p->sqlstate, "23505") == 0)
		return tw_error_set(err, TW_E_EXISTS, "%s: already exists (%s)", doing, p->msg);
	if (strcmp(p->sqlstate, "23503") == 0)
		return tw_error_set(err, TW_E_NOT_FOUND, "%s: a referenced row (tenant) does not "
			"exist", doing);
	if (strncmp(p->sqlstate, "08", 2) == 0 || strcmp(p->sqlstate, "57P01") == 0 ||
	    strcmp(p->sqlstate, "57P02") == 0 || strcmp(p->sqlstate, "57P03") == 0 ||
	    strcmp(p->sqlstate, "53300") == 0)
		return tw_error_set(err, TW_E_UNAVAILABLE, "store %s: %s failed: the database is "
			"unavailable (%s); retry later", d->label, doing, p->msg);
	return tw_error_set(err, TW_E_STORE, "store %s: %s failed: %s", d->label, doing, p->msg);
}

/* Run SQL without parameters; true when it succeeded. */
static bool pg_run(struct pg *p, const char *sql)
{
	PGresult *res = PQexec(p->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		pg_note(p, res);
	PQclear(res);
	return ok;
}

/* The connection is found dead: say so once and start reconnecting with back-off. */
static void pg_lost(struct pg *p)
{
	if (p->lost)
		return;
	p->lost = true;
	p->lost_ms = tw_monotonic_ms();
	p->retry_ms = p->lost_ms;           /* the first reconnect is tried at once */
	p->backoff_ms = 0;
	p->attempts = 0;
	tw_warn("store %s: connection to the database lost (%s); statements fail as "
		"'unavailable' until it is back, reconnecting with back-off", p->base.label, p->msg);
}

/* A failure that left the connection dead: record it as one, for pg_step_fail. */
static void pg_check_lost(struct pg *p)
{
	if (PQstatus(p->conn) != CONNECTION_BAD)
		return;
	pg_lost(p);
	snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", PG_SQLSTATE_LOST);
}

/*
 * True when the connection can run a statement now. A dead one is reopened (PQreset)
 * only outside a transaction and only when its back-off delay has passed; the delay
 * doubles from PG_BACKOFF_MIN_MS to PG_BACKOFF_MAX_MS with jitter (half fixed, half
 * random) so that many processes do not reconnect in step after a restart.
 */
static bool pg_usable(struct pg *p)
{
	int64_t now, half;

	if (PQstatus(p->conn) == CONNECTION_OK && !p->lost)
		return true;
	pg_lost(p);
	snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", PG_SQLSTATE_LOST);
	if (p->tx) {
		snprintf(p->msg, sizeof(p->msg), "the connection was lost inside a transaction, "
			"which the server discarded; roll back and retry");
		return false;
	}
	now = tw_monotonic_ms();
	if (now < p->retry_ms) {
		snprintf(p->msg, sizeof(p->msg), "connection lost %.1f s ago, next reconnect in "
			"%lld ms", (double)(now - p->lost_ms) / 1000.0, (long long)(p->retry_ms - now));
		return false;
	}
	p->attempts++;
	PQreset(p->conn);
	if (PQstatus(p->conn) == CONNECTION_OK) {
		tw_info("store %s: connection to the database restored after %.1f s (%u "
			"reconnect attempts)", p->base.label, (double)(tw_monotonic_ms() - p->lost_ms) /
			1000.0, p->attempts);
		p->lost = false;
		p->gen++;
		p->sqlstate[0] = '\0';
		return true;
	}
	snprintf(p->msg, sizeof(p->msg), "%s", PQerrorMessage(p->conn));
	p->msg[strcspn(p->msg, "\n")] = '\0';
	p->backoff_ms = p->backoff_ms == 0 ? PG_BACKOFF_MIN_MS :
		(p->backoff_ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : p->backoff_ms * 2);
	half = p->backoff_ms / 2;
	p->retry_ms = tw_monotonic_ms() + half + (int64_t)(rand_r(&p->seed) % (unsigned)(half + 1));
	tw_warn("store %s: database still unavailable (%s); reconnect attempt %u failed, next "
		"in %lld ms", p->base.label, p->msg, p->attempts,
		(long long)(p->retry_ms - tw_monotonic_ms()));
	return false;
}

static bool pg_in_transaction(struct db *d)
{
	/* Also after a loss inside one: the caller must still roll back (pg_exec). */
	return PG(d)->tx;
}

#define PG_BEGIN_READ "BEGIN ISOLATION LEVEL REPEATABLE READ"
#define PG_BEGIN_WRITE "BEGIN"
#define PG_LOCK_WRITE "SELECT pg_advisory_xact_lock(" PG_WRITER_LOCK ")"

/*
 * The BEGIN of a transaction is sent with its first statement (pg_pipeline). SQL that
 * does not go through a pipeline (pg_exec, pg_ids_follow) sends it first here; true when
 * it is sent or was not due.
 */
static bool pg_begin_now(struct pg *p)
{
	bool ok;

	if (!p->begin_due)
		return true;
	p->begin_due = false;
	ok = pg_run(p, p->begin_write ? PG_BEGIN_WRITE "; " PG_LOCK_WRITE : PG_BEGIN_READ);
	if (!ok)
		pg_check_lost(p);
	return ok;
}

static tw_rc pg_exec(struct db *d, const char *sql, const char *doing, struct tw_error *err)
{
	struct pg *p = PG(d);
	bool end = strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0;

	if (end)
		p->tx = false;
	/* The transaction ran no statement: nothing was sent, so there is nothing to end. */
	if (end && p->begin_due) {
		p->begin_due = false;
		return TW_OK;
	}
	/* Lost inside the transaction: the server has discarded it, ROLLBACK is done. */
	if (end && p->lost) {
		if (strcmp(sql, "ROLLBACK") == 0)
			return TW_OK;
		snprintf(p->msg, sizeof(p->msg), "the connection was lost before the commit; "
			"nothing of the transaction is stored");
		snprintf(p->sqlstate, sizeof(p->sqlstate), "%s", PG_SQLSTATE_LOST);
		return pg_step_fail(d, err, doing);
	}
	if (!pg_usable(p) || !pg_begin_now(p))
		return pg_step_fail(d, err, doing);
	/* COMMIT of a failed transaction "succeeds" as a rollback: say so instead. */
	if (strcmp(sql, "COMMIT") == 0 && PQtransactionStatus(p->conn) == PQTRANS_INERROR) {
		pg_run(p, "ROLLBACK");
		return tw_error_set(err, TW_E_STORE, "store %s: %s failed: the transaction had "
			"failed and was rolled back", d->label, doing);
	}
	if (!pg_run(p, sql)) {
		pg_check_lost(p);
		/* A COMMIT whose answer was lost: the server may or may not have committed. */
		if (strcmp(sql, "COMMIT") == 0 && p->lost)
			snprintf(p->msg, sizeof(p->msg), "the connection was lost during the commit; "
				"its outcome is unknown until the database is back");
		return pg_step_fail(d, err, doing);
	}
	return TW_OK;
}

static tw_rc pg_begin(struct db *d, bool write, struct tw_error *err)
{
	const char *doing = write ? "starting a write transaction" : "starting a read snapshot";
	struct pg *p = PG(d);

	if (p->tx)
		return tw_error_set(err, TW_E_INTERNAL, "store %s: transactions do not nest",
			d->label);
	/* A connection known dead is reopened (with back-off) here, outside the transaction. */
	if (!pg_usable(p))
		return pg_step_fail(d, err, doing);
	p->tx = true;
	p->begin_due = true;
	p->begin_write = write;
	return TW_OK;
}

static tw_rc pg_prepare(struct db *d, const char *sql, struct db_stmt **out,
	struct tw_error *err)
{
	struct pg_stmt *s = calloc(1, sizeof(*s));
	size_t n = strlen(sql), o = 0;
	bool quoted = false;

	*out = NULL;
	if (s == NULL || (s->sql = malloc(n + n / 2 + 1)) == NULL) {
		free(s);
		return tw_error_set(err, TW_E_NOMEM, "out of memory preparing a statement");
	}
	for (size_t i = 0; i < n; i++) {
		if (sql[i] == '\'')
			quoted = !quoted;
		if (!quoted && sql[i] == '?' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
			int k = (int)strtol(sql + i + 1, NULL, 10);

			if (k > s->nparams)
				s->nparams = k;
			s->sql[o++] = '$';
			continue;
		}
		s->sql[o++] = sql[i];
	}
	s->sql[o] = '\0';
	if (s->nparams > PG_PARAM_MAX) {
		free(s->sql);
		free(s);
		return tw_error_set(err, TW_E_INTERNAL, "statement has more than %d parameters",
			PG_PARAM_MAX);
	}
	while (*sql == ' ' || *sql == '\t' || *sql == '\n')
		sql++;
	s->write = strncmp(sql, "SELECT", 6) != 0;
	s->base.db = d;
	*out = &s->base;
	return TW_OK;
}

static void pg_row_clear(struct pg_stmt *s)
{
	if (s->blob == NULL)
		return;
	for (int c = 0; c < PQnfields(s->res); c++) {
		PQfreemem(s->blob[c]);
		s->blob[c] = NULL;
	}
}

static void pg_reset(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);

	pg_row_clear(s);
	free(s->blob);
	free(s->blob_len);
	s->blob = NULL;
	s->blob_len = NULL;
	PQclear(s->res);
	s->res = NULL;
	memset(s->val, 0, sizeof(s->val));
	memset(s->type, 0, sizeof(s->type));
}

static void pg_finalize(struct db_stmt *st)
{
	struct pg *p;

	if (st == NULL)
		return;
	p = PG(st->db);
	/* A temporary copy (db.c) that was prepared: free its name on the server, unless the
	 * whole connection is closing anyway. */
	if (PS(st)->name[0] != '\0' && PS(st)->gen == p->gen && !st->db->closing &&
	    PQstatus(p->conn) == CONNECTION_OK && !p->lost) {
		char sql[32];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", PS(st)->name);
		pg_run(p, sql);
	}
	pg_reset(st);
	free(PS(st)->sql);
	free(st);
}

static struct pg_stmt *pg_param(struct db_stmt *st, int i, unsigned int type, int fmt)
{
	struct pg_stmt *s = PS(st);

	if (i < 1 || i > PG_PARAM_MAX)
		return NULL;
	s->type[i - 1] = type;
	s->fmt[i - 1] = fmt;
	s->len[i - 1] = 0;
	return s;
}

static void pg_bind_int64(struct db_stmt *st, int i, int64_t v)
{
	struct pg_stmt *s = pg_param(st, i, PG_OID_INT8, 0);

	if (s == NULL)
		return;
	snprintf(s->num[i - 1], sizeof(s->num[i - 1]), "%lld", (long long)v);
	s->val[i - 1] = s->num[i - 1];
}

static void pg_bind_text(struct db_stmt *st, int i, const char *v)
{
	/* Type left to the server (unknown), so it follows the column it is compared with. */
	struct pg_stmt *s = pg_param(st, i, 0, 0);

	if (s != NULL)
		s->val[i - 1] = v;
}

static void pg_bind_blob(struct db_stmt *st, int i, const void *v, size_t n)
{
	struct pg_stmt *s = pg_param(st, i, PG_OID_BYTEA, 1);

	if (s == NULL)
		return;
	s->val[i - 1] = v != NULL ? v : "";
	s->len[i - 1] = (int)n;
}

static void pg_bind_null(struct db_stmt *st, int i)
{
	struct pg_stmt *s = pg_param(st, i, 0, 0);

	if (s != NULL)
		s->val[i - 1] = NULL;
}

/* Named server-side statements may be used with this execution's parameter types. */
static bool pg_types_match(const struct pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++) {
		/* A NULL carries no type; anything else must be bound as at PREPARE time. */
		if (s->val[i] != NULL && s->type[i] != s->ptype[i])
			return false;
	}
	return true;
}

/*
 * Send BEGIN and the writer lock (the transaction's first statement), SAVEPOINT (sp),
 * PREPARE (first reuse), the statement and RELEASE (sp) as one pipeline and read their
 * results: one round trip where there were up to five. The
 * statement's result lands in s->res (NULL on failure, p->sqlstate/msg say why); a
 * failure aborts the rest of the pipeline (PGRES_PIPELINE_ABORTED), as a failure would
 * abort the transaction, and the caller rolls back to the savepoint.
 */
static bool pg_pipeline(struct pg *p, struct pg_stmt *s, bool begin, bool sp, bool prepare,
	bool named, bool *prepared)
{
	enum { CMD_BEGIN, CMD_LOCK, CMD_SP, CMD_PREPARE, CMD_STMT, CMD_RELEASE };
	int cmds[6], n = 0;
	bool ok = true, sent = PQenterPipelineMode(p->conn) == 1;

	if (begin)
		cmds[n++] = CMD_BEGIN;
	if (begin && p->begin_write)
		cmds[n++] = CMD_LOCK;
	if (sp)
		cmds[n++] = CMD_SP;
	if (prepare)
		cmds[n++] = CMD_PREPARE;
	cmds[n++] = CMD_STMT;
	if (sp)
		cmds[n++] = CMD_RELEASE;
	for (int i = 0; sent && i < n; i++) {
		switch (cmds[i]) {
		case CMD_BEGIN:
			sent = PQsendQueryParams(p->conn, p->begin_write ? PG_BEGIN_WRITE :
				PG_BEGIN_READ, 0, NULL, NULL, NULL, NULL, 0) == 1;
			break;
		case CMD_LOCK:
			sent = PQsendQueryParams(p->conn, PG_LOCK_WRITE, 0, NULL, NULL, NULL, NULL,
				0) == 1;
			break;
		case CMD_SP:
			sent = PQsendQueryParams(p->conn, "SAVEPOINT tw_stmt", 0, NULL, NULL, NULL,
				NULL, 0) == 1;
			break;
		case CMD_PREPARE:
			sent = PQsendPrepare(p->conn, s->name, s->sql, s->nparams, s->ptype) == 1;
			break;
		case CMD_STMT:
			sent = named ? PQsendQueryPrepared(p->conn, s->name, s->nparams, s->val,
				s->len, s->fmt, 0) == 1 : PQsendQueryParams(p->conn, s->sql, s->nparams,
				s->type, s->val, s->len, s->fmt, 0) == 1;
			break;
		default:
			sent = PQsendQueryParams(p->conn, "RELEASE SAVEPOINT tw_stmt", 0, NULL, NULL,
				NULL, NULL, 0) == 1;
			break;
		}
	}
	if (sent)
		sent = PQpipelineSync(p->conn) == 1;
	if (!sent) {
		pg_note(p, NULL);
		ok = false;
	}
	/* Each command: one result, then NULL; then the sync's result. */
	for (int i = 0; sent && i < n; i++) {
		PGresult *r = PQgetResult(p->conn);
		ExecStatusType st = PQresultStatus(r);

		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			if (ok)
				pg_note(p, r);   /* the first failure says why; the rest were aborted */
			ok = false;
		}
		if (cmds[i] == CMD_PREPARE)
			*prepared = st == PGRES_COMMAND_OK;
		if (cmds[i] == CMD_STMT && st != PGRES_PIPELINE_ABORTED && ok)
			s->res = r;
		else
			PQclear(r);
		if (r != NULL)
			PQclear(PQgetResult(p->conn));   /* the NULL that ends this command */
		if (PQstatus(p->conn) == CONNECTION_BAD)
			sent = false;
	}
	if (sent) {
		PGresult *r;

		while ((r = PQgetResult(p->conn)) != NULL) {
			bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;

			PQclear(r);
			if (sync)
				break;
		}
	}
	if (PQexitPipelineMode(p->conn) != 1 && ok) {
		pg_note(p, NULL);
		ok = false;
	}
	if (!ok) {
		PQclear(s->res);
		s->res = NULL;
	}
	return ok;
}

static int pg_execute(struct pg_stmt *s, bool retry)
{
	struct pg *p = PG(s->base.db);
	bool begin, sp, prepare = false, named = false, prepared = false;
	const char *tuples;

	if (!pg_usable(p))
		return DB_ERROR;
	begin = p->begin_due;
	p->begin_due = false;
	sp = s->write && (begin || PQtransactionStatus(p->conn) == PQTRANS_INTRANS);
	/*
	 * Prepared statements per connection: a statement object run a second time (the
	 * cached ones, db.c) is prepared on the server under its own name, so later runs
	 * skip parsing and planning. Names die with the connection: a reconnect (gen)
	 * prepares again.
	 */
	if (s->gen == p->gen && s->name[0] != '\0') {
		named = pg_types_match(s);
	} else if (++s->runs >= 2) {
		snprintf(s->name, sizeof(s->name), "tw%u", ++p->names);
		memcpy(s->ptype, s->type, sizeof(s->ptype));
		s->gen = p->gen;
		prepare = named = true;
	}
	if (!pg_pipeline(p, s, begin, sp, prepare, named, &prepared)) {
		if (prepare && !prepared)
			s->name[0] = '\0';   /* not prepared after all: try again next run */
		pg_check_lost(p);
		/*
		 * The transaction's first statement found the connection dead (a server restart
		 * while idle): nothing of the transaction ran, so the connection is opened again
		 * at once and BEGIN and statement are sent again; the back-off applies from then
		 * on. Once only: a second loss is an outage.
		 */
		if (begin && p->lost && p->attempts == 0 && !retry) {
			p->tx = false;
			if (pg_usable(p)) {
				p->begin_due = true;
				p->tx = true;
				return pg_execute(s, true);
			}
			p->tx = true;
			return DB_ERROR;
		}
		if (sp && !p->lost) {
			char state[6], msg[256];

			memcpy(state, p->sqlstate, sizeof(state));
			memcpy(msg, p->msg, sizeof(msg));
			pg_run(p, "ROLLBACK TO SAVEPOINT tw_stmt; RELEASE SAVEPOINT tw_stmt");
			memcpy(p->sqlstate, state, sizeof(state));
			memcpy(p->msg, msg, sizeof(msg));
		}
		return DB_ERROR;
	}
	tuples = PQcmdTuples(s->res);
	p->changes = tuples != NULL && *tuples != '\0' ? strtoll(tuples, NULL, 10) : 0;
	s->row = -1;
	if (PQnfields(s->res) > 0) {
		s->blob = calloc((size_t)PQnfields(s->res), sizeof(*s->blob));
		s->blob_len = calloc((size_t)PQnfields(s->res), sizeof(*s->blob_len));
		if (s->blob == NULL || s->blob_len == NULL) {
			snprintf(p->msg, sizeof(p->msg), "out of memory");
			return DB_ERROR;
		}
	}
	return DB_DONE;
}

static int pg_step(struct db_stmt *st)
{
	struct pg_stmt *s = PS(st);

	if (s->res == NULL && pg_execute(s, false) != DB_DONE)
		return DB_ERROR;
	pg_row_clear(s);
	if (++s->row < PQntuples(s->res))
		return DB_ROW;
	s->row = PQntuples(s->res);
	return DB_DONE;
}

static bool pg_column_null(struct db_stmt *st, int c)
{
	return PQgetisnull(PS(st)->res, PS(st)->row, c) != 0;
}

static int64_t pg_column_int64(struct db_stmt *st, int c)
{
	const char *v = PQgetvalue(PS(st)->res, PS(st)->row, c);

	if (v == NULL || pg_column_null(st, c))
		return 0;
	if (v[0] == 't' || v[0] == 'f')     /* a boolean expression */
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static const char *pg_column_text(struct db_stmt *st, int c)
{
	if (pg_column_null(st, c))
		return NULL;
	return PQgetvalue(PS(st)->res, PS(st)->row, c);
}

static const void *pg_column_blob(struct db_stmt *st, int c)
{
	struct pg_stmt *s = PS(st);

	if (pg_column_null(st, c))
		return NULL;
	if (PQftype(s->res, c) != PG_OID_BYTEA)
		return PQgetvalue(s->res, s->row, c);
	if (s->blob[c] == NULL)
		s->blob[c] = PQunescapeBytea((const unsigned char *)PQgetvalue(s->res, s->row, c),
			&s->blob_len[c]);
	return s->blob[c];
}

static int pg_column_bytes(struct db_stmt *st, int c)
{
	struct pg_stmt *s = PS(st);

	if (pg_column_null(st, c))
		return 0;
	if (PQftype(s->res, c) != PG_OID_BYTEA)
		return PQgetlength(s->res, s->row, c);
	return pg_column_blob(st, c) != NULL ? (int)s->blob_len[c] : 0;
}

static int pg_column_count(struct db_stmt *st)
{
	return PQnfields(PS(st)->res);
}

static const char *pg_column_name(struct db_stmt *st, int c)
{
	return PQfname(PS(st)->res, c);
}

static enum db_type pg_column_type(struct db_stmt *st, int c)
{
	if (pg_column_null(st, c))
		return DB_NULL;
	switch (PQftype(PS(st)->res, c)) {
	case PG_OID_BYTEA: return DB_BLOB;
	case PG_OID_INT8: case 23: case 21: return DB_INT;   /* int8, int4, int2 */
	default: return DB_TEXT;
	}
}

/* Move each identity sequence of table past the largest id copied in. */
static tw_rc pg_ids_follow(struct db *d, const char *table, struct tw_error *err)
{
	struct pg *p = PG(d);
	const char *params[1] = { table };
	PGresult *cols = NULL;
	tw_rc rc = TW_OK;

	if (!pg_begin_now(p))
		return pg_step_fail(d, err, "starting the transaction");
	cols = PQexecParams(p->conn, "SELECT column_name FROM information_schema.columns "
		"WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(cols) != PGRES_TUPLES_OK) {
		pg_note(p, cols);
		rc = pg_step_fail(d, err, "reading identity columns");
	}
	for (int i = 0; rc == TW_OK && i < PQntuples(cols); i++) {
		char *col = PQescapeIdentifier(p->conn, PQgetvalue(cols, i, 0), strlen(
			PQgetvalue(cols, i, 0)));
		char *tab = PQescapeIdentifier(p->conn, table, strlen(table));
		char *sql = col != NULL && tab != NULL ? tw_asprintf("SELECT setval("
			"pg_get_serial_sequence('%s', '%s'), max(%s)) FROM %s", table,
			PQgetvalue(cols, i, 0), col, tab) : NULL;

		if (sql == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else if (!pg_run(p, sql))
			rc = pg_step_fail(d, err, "moving an identity sequence");
		free(sql);
		PQfreemem(col);
		PQfreemem(tab);
	}
	PQclear(cols);
	return rc;
}

static int64_t pg_changes(struct db *d)
{
	return PG(d)->changes;
}

static void pg_close(struct db *d)
{
	if (d == NULL)
		return;
	PQfinish(PG(d)->conn);
	free(d->label);
	free(d);
}

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;   /* NOTICEs ("relation exists, skipping") are not for operators */
}

static tw_rc pg_open(const char *target, struct db **out, struct tw_error *err)
{
	struct pg *p = calloc(1, sizeof(*p));
	tw_rc rc;

	*out = NULL;
	if (p == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
	p->base.drv = &db_driver_pg;
	p->seed = (unsigned)tw_monotonic_ms() ^ (unsigned)(uintptr_t)p;
	/*
	 * Defaults the URL may override (later keywords win; the URL is expanded last): a
	 * bounded connect, so a reconnect during an outage cannot hang a service's event
	 * loop for the kernel's SYN timeout, and TCP keepalives that notice a dead server or
	 * a failed-over address within about a minute instead of two hours.
	 */
	static const char *const keys[] = { "connect_timeout", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "application_name", "dbname", NULL };
	char app[48];

	/* pg_stat_activity and the server log name the service ("torwart-wan"). */
	snprintf(app, sizeof(app), "torwart%s%s", strcmp(tw_log_ident(), "torwart") == 0 ? "" :
		"-", strcmp(tw_log_ident(), "torwart") == 0 ? "" : tw_log_ident());
	const char *vals[] = { "10", "30", "10", "3", app, target, NULL };
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (p->conn == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
		goto out;
	}
	if (PQstatus(p->conn) != CONNECTION_OK) {
		char msg[256];

		/* libpq's message names host and port; the URL (with its password) is not shown. */
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(p->conn));
		msg[strcspn(msg, "\n")] = '\0';
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "store postgresql: cannot connect to the "
			"database: %s (is the server running, and [store] url right?)", msg);
		goto out;
	}
	PQsetNoticeProcessor(p->conn, pg_quiet, NULL);
	p->base.label = tw_asprintf("postgresql://%s@%s:%s/%s", PQuser(p->conn),
		PQhost(p->conn), PQport(p->conn), PQdb(p->conn));
	if (p->base.label == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory opening the store");
		goto out;
	}
	*out = &p->base;
	p = NULL;
	rc = TW_OK;
out:
	if (p != NULL)
		pg_close(&p->base);
	return rc;
}

const struct db_driver db_driver_pg = {
	.name = "postgresql",
	.pg = true,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.begin = pg_begin,
	.in_transaction = pg_in_transaction,
	.prepare = pg_prepare,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.bind_int64 = pg_bind_int64,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.column_null = pg_column_null,
	.column_int64 = pg_column_int64,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.column_bytes = pg_column_bytes,
	.column_count = pg_column_count,
	.column_name = pg_column_name,
	.column_type = pg_column_type,
	.ids_follow = pg_ids_follow,
	.changes = pg_changes,
	.step_fail = pg_step_fail,
	.sql_has_migrations = "SELECT count(*) FROM information_schema.tables WHERE "
		"table_schema = current_schema() AND table_name = 'schema_migrations'",
};
