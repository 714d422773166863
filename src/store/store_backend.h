/*
 * store_backend.h: the seam between store.c (the public store.h API) and one database
 * backend (sqlite.c today, postgres.c later). Internal to src/store: nothing outside
 * this directory includes it.
 *
 * store.c validates every argument (NULLs, string lengths against the STORE_*_MAX
 * limits, out-parameter reset) before it calls a backend, so each backend can trust
 * its inputs and only has to speak its database's dialect. Backends map their errors
 * onto the store.h vocabulary: duplicate -> TW_E_EXISTS, absent -> TW_E_NOT_FOUND,
 * anything else from the database -> TW_E_STORE with the database's message.
 */
#ifndef TORWART_STORE_BACKEND_H
#define TORWART_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

struct store_backend_ops {
	const char *name;    /* "sqlite", "postgresql" */

	/* target is the URL with the scheme removed as the backend expects it. */
	tw_rc (*open)(const char *target, void **be, struct tw_error *err);
	void (*close)(void *be);
	tw_rc (*migrate)(void *be, struct tw_error *err);
	tw_rc (*schema_version)(void *be, int *version, struct tw_error *err);

	tw_rc (*begin)(void *be, struct tw_error *err);
	tw_rc (*commit)(void *be, struct tw_error *err);
	void (*rollback)(void *be);
	bool (*in_transaction)(void *be);

	tw_rc (*tenant_ensure)(void *be, const char *name, int64_t *id, struct tw_error *err);

	tw_rc (*gateway_insert)(void *be, const struct store_gateway *gw, struct tw_error *err);
	tw_rc (*gateway_get)(void *be, const char *gateway_id, struct store_gateway *out,
		struct tw_error *err);
	tw_rc (*gateway_touch)(void *be, const char *gateway_id, int64_t when_ms,
		const char *address, struct tw_error *err);
	tw_rc (*gateway_foreach)(void *be, store_gateway_cb cb, void *arg,
		struct tw_error *err);

	tw_rc (*certificate_insert)(void *be, const struct store_certificate *cert,
		struct tw_error *err);
	tw_rc (*certificate_get_by_fingerprint)(void *be, const char *fingerprint,
		struct store_certificate *out, struct tw_error *err);

	tw_rc (*audit_last)(void *be, struct store_audit_row *out, bool *found,
		struct tw_error *err);
	tw_rc (*audit_insert)(void *be, const struct store_audit_row *row, struct tw_error *err);
	tw_rc (*audit_foreach)(void *be, int64_t from_seq, store_audit_cb cb, void *arg,
		struct tw_error *err);
};

struct tw_store {
	const struct store_backend_ops *ops;
	void *be;            /* backend state, owned; released by ops->close */
	int64_t scope_tenant;   /* 0: all tenants; else gateways/jobs of others are hidden */
};

extern const struct store_backend_ops store_sqlite_ops;

/* The callback wrapper of a tenant-scoped gateway walk (store.c, store_jobs.c). */
struct store_scope_filter {
	int64_t tenant_id;
	store_gateway_cb cb;
	void *arg;
};
int store_scope_gateway_filter(const struct store_gateway *gw, void *arg);

/*
 * Areas beyond the core tables (see sqlite_internal.h) keep their own ops struct, e.g.
 *   struct store_jobs_backend_ops { tw_rc (*job_insert)(void *be, ...); ... };
 *   extern const struct store_jobs_backend_ops store_sqlite_jobs_ops;   (sqlite_jobs.c)
 * and store_jobs.c chooses it with `store->ops == &store_sqlite_ops`, calling it with
 * store->be. Validation of arguments stays in store_<area>.c, as in store.c.
 */

/*
 * Migrations embedded at build time by gen_migrations.py from migrations/NNNN_name.sql
 * (generated migrations.c). Sorted by version; versions are 1, 2, 3, ... without gaps.
 */
struct store_migration {
	int version;
	const char *name;    /* file name without .sql, e.g. "0001_init" */
	const char *sql;     /* NUL-terminated script */
};

extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

#endif
