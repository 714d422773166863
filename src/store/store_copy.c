/*
 * store_copy.c: `torwart store migrate --to URL`: copy every table of one store into
 * another (SQLite -> PostgreSQL, or any pair of drivers), then compare row counts.
 *
 * The copy is one write transaction on the target, so an interrupted copy (kill -9,
 * lost connection) leaves its tables empty and the command can simply be rerun; a
 * target that already holds rows in any table is refused. Rows keep their ids, seq and
 * hashes bit for bit (blobs as blobs), so the admin log's chain, tree nodes and signed
 * heads verify on the target exactly as on the source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "store/db.h"

/* Every table of the migrations, parents before children (foreign keys). */
static const char *const copy_tables[] = {
	"tenants", "gateways", "certificates", "admin_log", "ca_participants", "ca_requests",
	"ca_crls", "job_batches", "jobs", "gateway_tags", "gateway_wakeup", "profiles",
	"profile_reported", "emt_authorisations", "gateway_messages", "gateway_logs",
	"operators", "auth_sessions", "auth_failures", "approvals", "admin_log_node",
	"admin_log_head", "admin_log_cut", "admin_log_cursor", "alert_queue", "firmware_images",
	"ca_key_state", "admin_log_verified", "ws_device_admin", "ws_endpoints", "ws_outbox",
	"ws_client_requests", "dir_published", "dir_crl_published", "trust_crls",
	"renewals", "initial_configs",
	"firmware_signatures", "firmware_lists", "firmware_certified", "rollouts",
	"rollout_targets",
	"gateway_message_acks",
	/* migration metering (issue 14) */
	"metering_messages", "emt_endpoints", "time_checks", "gateway_time",
	/* migration gwa_context (issue 12, S-8) */
	"gwa_context_certs", "gwa_context_trust",
	/* migration saml (issue 12, S-8): the replay cache too, so a copied store still
	 * refuses an assertion used before the copy */
	"saml_idps", "saml_replay",
	/* migration gwa_sig_push (issue 12): after job_batches */
	"gwa_sig_pushes",
};
#define COPY_TABLES (sizeof(copy_tables) / sizeof(copy_tables[0]))

size_t store_copy_table_count(void)
{
	return COPY_TABLES;
}

/* Rows of table; SQL built from the fixed list above only. */
static tw_rc copy_count(struct db *d, const char *table, int64_t *n, struct tw_error *err)
{
	struct db_stmt *st = NULL;
	char sql[96];
	tw_rc rc;

	*n = 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if ((rc = d->drv->prepare(d, sql, &st, err)) != TW_OK)
		return rc;
	if (db_step(st) == DB_ROW)
		*n = db_column_int64(st, 0);
	else
		rc = db_step_fail(d, err, "counting rows");
	d->drv->finalize(st);
	return rc;
}

/* INSERT INTO table (columns of st) VALUES (?1, ...), prepared on dst. */
static tw_rc copy_insert(struct db *dst, const char *table, struct db_stmt *src,
	struct db_stmt **out, struct tw_error *err)
{
	struct tw_buf sql;
	int n = src->db->drv->column_count(src);
	tw_rc rc;

	tw_buf_init(&sql, 65536);
	rc = tw_buf_appendf(&sql, err, "INSERT INTO %s (", table);
	for (int c = 0; rc == TW_OK && c < n; c++)
		rc = tw_buf_appendf(&sql, err, "%s%s", c > 0 ? ", " : "",
			src->db->drv->column_name(src, c));
	rc = rc == TW_OK ? tw_buf_append(&sql, ") VALUES (", 10, err) : rc;
	for (int c = 0; rc == TW_OK && c < n; c++)
		rc = tw_buf_appendf(&sql, err, "%s?%d", c > 0 ? ", " : "", c + 1);
	rc = rc == TW_OK ? tw_buf_append(&sql, ")", 1, err) : rc;
	if (rc == TW_OK)
		rc = dst->drv->prepare(dst, (const char *)sql.data, out, err);
	tw_buf_free(&sql);
	return rc;
}

struct copy_progress {
	store_copy_progress_fn fn;
	void *arg;
	size_t table_no;
};

static tw_rc copy_table(struct db *src, struct db *dst, const char *table, int64_t *rows,
	const struct copy_progress *pr, struct tw_error *err)
{
	int64_t table_rows = 0;
	struct db_stmt *st = NULL, *ins = NULL;
	char sql[96];
	int step = DB_DONE;
	tw_rc rc;

	snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
	if ((rc = src->drv->prepare(src, sql, &st, err)) != TW_OK)
		return rc;
	while (rc == TW_OK && (step = db_step(st)) == DB_ROW) {
		if (ins == NULL && (rc = copy_insert(dst, table, st, &ins, err)) != TW_OK)
			break;
		dst->drv->reset(ins);
		for (int c = 0; c < src->drv->column_count(st); c++) {
			switch (src->drv->column_type(st, c)) {
			case DB_NULL: db_bind_null(ins, c + 1); break;
			case DB_INT: db_bind_int64(ins, c + 1, db_column_int64(st, c)); break;
			case DB_BLOB: {
				const void *b = db_column_blob(st, c);

				db_bind_blob(ins, c + 1, b, (size_t)db_column_bytes(st, c));
				break;
			}
			default: db_bind_text(ins, c + 1, db_column_text(st, c)); break;
			}
		}
		if (db_step(ins) != DB_DONE) {
			rc = db_step_fail(dst, err, table);
		} else {
			(*rows)++;
			if (pr->fn != NULL && ++table_rows % STORE_COPY_PROGRESS_ROWS == 0)
				pr->fn(pr->arg, table, pr->table_no, COPY_TABLES, table_rows, *rows);
		}
	}
	if (rc == TW_OK && step != DB_DONE)
		rc = db_step_fail(src, err, table);
	if (ins != NULL)
		dst->drv->finalize(ins);
	src->drv->finalize(st);
	return rc == TW_OK ? dst->drv->ids_follow(dst, table, err) : rc;
}

tw_rc store_copy(struct tw_store *src, struct tw_store *dst, int64_t *rows,
	struct tw_error *err)
{
	return store_copy_progress(src, dst, rows, NULL, NULL, err);
}

tw_rc store_copy_progress(struct tw_store *src, struct tw_store *dst, int64_t *rows,
	store_copy_progress_fn fn, void *arg, struct tw_error *err)
{
	struct copy_progress pr = { fn, arg, 0 };
	struct db *s = store_db(src, err), *d = s != NULL ? store_db(dst, err) : NULL;
	int64_t a, b;
	size_t i;
	tw_rc rc;

	*rows = 0;
	if (s == NULL || d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = db_migrate(s, err)) != TW_OK || (rc = db_migrate(d, err)) != TW_OK)
		return rc;
	for (i = 0; i < COPY_TABLES; i++) {
		if ((rc = copy_count(d, copy_tables[i], &b, err)) != TW_OK)
			return rc;
		if (b != 0)
			return tw_error_set(err, TW_E_EXISTS, "the target store %s is not empty "
				"(%lld rows in %s); store migrate copies only into an empty database",
				d->label, (long long)b, copy_tables[i]);
	}
	/* A read snapshot of the source, so services still writing cannot tear the copy. */
	if ((rc = db_begin(s, false, err)) != TW_OK)
		return rc;
	if ((rc = db_begin(d, true, err)) == TW_OK) {
		for (i = 0; rc == TW_OK && i < COPY_TABLES; i++) {
			pr.table_no = i + 1;
			if (fn != NULL)
				fn(arg, copy_tables[i], i + 1, COPY_TABLES, 0, *rows);
			rc = copy_table(s, d, copy_tables[i], rows, &pr, err);
		}
		if (rc == TW_OK)
			rc = db_commit(d, err);
		else
			db_rollback(d);
	}
	for (i = 0; rc == TW_OK && i < COPY_TABLES; i++) {
		if ((rc = copy_count(s, copy_tables[i], &a, err)) != TW_OK ||
		    (rc = copy_count(d, copy_tables[i], &b, err)) != TW_OK)
			break;
		if (a != b)
			rc = tw_error_set(err, TW_E_INTEGRITY, "store migrate: %s has %lld rows in "
				"the source but %lld in the target", copy_tables[i], (long long)a,
				(long long)b);
	}
	db_rollback(s);
	return rc;
}
