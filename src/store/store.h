/*
 * store.h: the source of truth (DESIGN.md principle 3).
 *
 * Callers see only these functions; the driver is chosen by store_open() from the URL
 * ("sqlite:PATH" or a plain path: SQLite; "postgresql://...": PostgreSQL through libpq).
 * The SQL of each area is written once over the driver interface (db.h); nothing outside
 * src/store sees SQL.
 *
 * Ownership of tables: gateways/tenants -> gwa module, certificates -> pki module,
 * admin_log -> audit module. Those modules call the functions below; nobody else does.
 *
 * Threads: a struct tw_store is one connection; use one per thread.
 * Transactions: store_begin() starts a write transaction (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: one global advisory lock) so a data change and its audit entry commit
 * together or not at all, in one writer order across processes and hosts.
 */
#ifndef TORWART_STORE_STORE_H
#define TORWART_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

struct tw_store;

/* Field limits (bytes, excluding NUL). Inputs longer than these are TW_E_TOO_LARGE. */
#define STORE_ID_MAX        64    /* gateway ids, tenant names, key labels */
#define STORE_NAME_MAX      255   /* actors, objects, subjects */
#define STORE_TEXT_MAX      1023  /* details, distinguished names */
#define STORE_CERT_MAX      16384 /* DER certificate */

tw_rc store_open(const char *url, struct tw_store **out, struct tw_error *err);
/*
 * store_open for a service (wan, api, worker) starting: while the database is unavailable
 * (TW_E_UNAVAILABLE) retry with exponential back-off and jitter, logging each attempt,
 * for up to [store] start_wait seconds of home's configuration (default 60, 0: once).
 */
struct tw_home;
tw_rc store_open_wait(const struct tw_home *home, const char *url, struct tw_store **out,
	struct tw_error *err);
/* A home's [store] url is resolved by tw_home_store_url (base/home.h), for every process. */
void store_close(struct tw_store *store);          /* NULL is fine */
/* Apply every pending migration in src/store/migrations, each in its own transaction. */
tw_rc store_migrate(struct tw_store *store, struct tw_error *err);
/* Highest applied migration number (0 for a fresh database). */
tw_rc store_schema_version(struct tw_store *store, int *version, struct tw_error *err);

/*
 * Copy every table of src into dst (`torwart store migrate --to URL`): both get the
 * schema first; dst must hold no rows (TW_E_EXISTS names the table otherwise). One write
 * transaction on dst, from one read snapshot of src, so an interrupted copy leaves dst
 * empty and can be rerun; then the row counts of every table are compared
 * (TW_E_INTEGRITY on a difference). *rows: rows copied.
 */
tw_rc store_copy(struct tw_store *src, struct tw_store *dst, int64_t *rows,
	struct tw_error *err);
/*
 * store_copy reporting its progress: fn (may be NULL) is called at the start of every
 * table and every STORE_COPY_PROGRESS_ROWS rows with the table's name, its number
 * (1..tables), the rows copied of it and the rows copied in all. fn only displays.
 */
#define STORE_COPY_PROGRESS_ROWS 500
typedef void (*store_copy_progress_fn)(void *arg, const char *table, size_t table_no,
	size_t tables, int64_t table_rows, int64_t rows);
tw_rc store_copy_progress(struct tw_store *src, struct tw_store *dst, int64_t *rows,
	store_copy_progress_fn fn, void *arg, struct tw_error *err);
/* How many tables store_copy copies (tests compare it with the schema). */
size_t store_copy_table_count(void);

/* Transactions do not nest: store_begin inside one is TW_E_INTERNAL (a bug in the caller). */
tw_rc store_begin(struct tw_store *store, struct tw_error *err);
/* If COMMIT fails the transaction is rolled back, so nothing of it is stored. */
tw_rc store_commit(struct tw_store *store, struct tw_error *err);
void store_rollback(struct tw_store *store);       /* no-op outside a transaction */
/* True while a transaction opened with store_begin is open (audit_append_in_tx checks it). */
bool store_in_transaction(struct tw_store *store);

/*
 * Restrict this handle to one tenant (0 = all, the default). The operator commands the
 * api runs for an operator open their store with the operator's tenant, so that a
 * gateway or job of another tenant is "not found" and never listed, whatever the
 * command does (defence in depth behind the api's own tenant check). Applied by
 * store_gateway_get/foreach/select and store_job_get/foreach.
 */
void store_scope_tenant(struct tw_store *store, int64_t tenant_id);
int64_t store_scoped_tenant(const struct tw_store *store);

/* ---- tenants (owner: gwa) ---- */
/* Id of the tenant called name, creating it if needed. */
tw_rc store_tenant_ensure(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err);
/* The ids of all tenants, ascending, at most max. */
tw_rc store_tenant_ids(struct tw_store *store, int64_t *ids, size_t max, size_t *n,
	struct tw_error *err);

/* ---- gateways (owner: gwa) ---- */
struct store_gateway {
	int64_t tenant_id;
	char gateway_id[STORE_ID_MAX + 1];   /* e.g. "ETWA0012345678" (SMGW id) */
	char state[32];                      /* "registered", "active", "disabled", ... */
	int64_t created_ms;
	int64_t last_contact_ms;             /* 0 = never */
	char last_address[64];               /* peer address of the last session, "" if none */
};

/* TW_E_EXISTS if gateway_id is taken; TW_E_NOT_FOUND if tenant_id does not exist. */
tw_rc store_gateway_insert(struct tw_store *store, const struct store_gateway *gw,
	struct tw_error *err);
/* TW_E_NOT_FOUND if unknown. */
tw_rc store_gateway_get(struct tw_store *store, const char *gateway_id,
	struct store_gateway *out, struct tw_error *err);
/*
 * Record a contact: last_contact_ms, last_address, and state "active" unless the gateway
 * is "disabled" (a contact never re-enables a gateway). TW_E_NOT_FOUND if unknown.
 */
tw_rc store_gateway_touch(struct tw_store *store, const char *gateway_id, int64_t when_ms,
	const char *address, struct tw_error *err);
/*
 * Calls cb for each gateway ordered by gateway_id; cb returns non-zero to stop early.
 * cb may call other store functions on the same connection (the running query keeps
 * its own statement), but must not commit or roll back a transaction it did not open.
 */
typedef int (*store_gateway_cb)(const struct store_gateway *gw, void *arg);
tw_rc store_gateway_foreach(struct tw_store *store, store_gateway_cb cb, void *arg,
	struct tw_error *err);

/*
 * The gateways on the handle's tenant scope (store_scope_tenant): *total, and *contacted
 * of them with a last contact after since_ms. Counted in SQL, so no page limit applies.
 */
tw_rc store_gateway_count(struct tw_store *store, int64_t since_ms, int64_t *total,
	int64_t *contacted, struct tw_error *err);

/* ---- certificates (owner: pki) ---- */
struct store_certificate {
	int64_t tenant_id;
	char serial_hex[STORE_ID_MAX + 1];       /* lower-case hex, no leading 00 */
	char issuer[STORE_TEXT_MAX + 1];         /* RFC 2253 one-line DN */
	char subject[STORE_TEXT_MAX + 1];
	char owner_kind[16];                     /* "ca", "gwa", "smgw", "emt", "gwh" */
	char owner_id[STORE_ID_MAX + 1];         /* gateway id, CA name, ... */
	char usage[8];                           /* "CA", "TLS", "SIG", "ENC" */
	int64_t not_before;                      /* seconds since the epoch */
	int64_t not_after;
	char status[16];                         /* "valid", "revoked" */
	char fingerprint[65];                    /* SHA-256 of the DER, hex */
	unsigned char *der;                      /* owned by the struct; see store_certificate_clear */
	size_t der_len;
};

/* TW_E_EXISTS if (issuer, serial) or fingerprint is taken. */
tw_rc store_certificate_insert(struct tw_store *store, const struct store_certificate *cert,
	struct tw_error *err);
/* Fills out (including a freshly allocated der). TW_E_NOT_FOUND if absent. */
tw_rc store_certificate_get_by_fingerprint(struct tw_store *store, const char *fingerprint,
	struct store_certificate *out, struct tw_error *err);
/* Frees out->der and zeroes the struct. */
void store_certificate_clear(struct store_certificate *cert);

/* ---- admin log rows (owner: audit; other modules use audit.h) ---- */
struct store_audit_row {
	int64_t seq;                             /* 1, 2, 3, ... gap-free */
	char time[32];                           /* RFC 3339 UTC with ms */
	char actor[STORE_NAME_MAX + 1];
	/* All of an operator's roles, plus the release of a four-eyes run: can exceed 64. */
	char role[STORE_NAME_MAX + 1];
	char client[STORE_ID_MAX + 1];           /* client system: address or "local:PID" */
	char action[STORE_ID_MAX + 1];
	char object[STORE_NAME_MAX + 1];
	char result[32];                         /* "ok", "refused", "error", ... */
	char detail[STORE_TEXT_MAX + 1];
	char error_code[STORE_ID_MAX + 1];       /* M-4.5.6.7 error code, "" if none (0006) */
	unsigned char prev_hash[32];
	unsigned char hash[32];
};

/* *found = false on an empty log. */
tw_rc store_audit_last(struct tw_store *store, struct store_audit_row *out, bool *found,
	struct tw_error *err);
/* Insert with row->seq as given; TW_E_EXISTS if seq is taken. Call inside store_begin. */
tw_rc store_audit_insert(struct tw_store *store, const struct store_audit_row *row,
	struct tw_error *err);
/*
 * Ascending seq from from_seq; cb returns non-zero to stop early. A stored row that does
 * not fit the struct (over-long field, hash not 32 bytes) stops the walk with
 * TW_E_INTEGRITY naming its seq.
 */
typedef int (*store_audit_cb)(const struct store_audit_row *row, void *arg);
tw_rc store_audit_foreach(struct tw_store *store, int64_t from_seq, store_audit_cb cb,
	void *arg, struct tw_error *err);

#endif
