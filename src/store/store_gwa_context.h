/*
 * store_gwa_context.h: the per-GWA certificate-management context (migration
 * 0016_gwa_context.sql; owner: src/gwa/gwa_context.c; DOMAIN.md S-8).
 *
 * Every function takes the context's tenant id and touches only that tenant's rows: an id
 * of another context is TW_E_NOT_FOUND, exactly like a missing one. None opens a
 * transaction (the service wraps each action with its admin-log entry). Arguments are
 * checked before any SQL runs.
 */
#ifndef TORWART_STORE_STORE_GWA_CONTEXT_H
#define TORWART_STORE_STORE_GWA_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_CTX_DER_MAX (16 * 1024)

/* The id of the tenant (context) called name; TW_E_NOT_FOUND when there is none. */
tw_rc store_ctx_tenant_id(struct tw_store *store, const char *name, int64_t *id,
	struct tw_error *err);

/* Names of the tenants whose context holds foreign certificates, at most max. */
tw_rc store_ctx_tenants(struct tw_store *store, char (*names)[STORE_ID_MAX + 1], size_t max,
	size_t *n, struct tw_error *err);

struct store_ctx_cert {
	int64_t id;                              /* assigned by insert */
	int64_t tenant_id;
	char label[STORE_ID_MAX + 1];
	char gateway_id[STORE_ID_MAX + 1];       /* "" = assigned to no gateway */
	char fingerprint[65];
	char subject[STORE_TEXT_MAX + 1];
	char issuer[STORE_TEXT_MAX + 1];
	char serial_hex[STORE_ID_MAX + 1];
	int64_t not_before, not_after;           /* seconds since the epoch */
	unsigned char *der;                      /* owned (store_ctx_cert_clear); NULL in lists */
	size_t der_len;
	char status[16];             /* unchecked, valid, expired, revoked, untrusted, unknown */
	char check_detail[STORE_TEXT_MAX + 1];
	int64_t checked_ms, created_ms, updated_ms;
};
void store_ctx_cert_clear(struct store_ctx_cert *c);

/* TW_E_EXISTS when the context holds that certificate already. */
tw_rc store_ctx_cert_insert(struct tw_store *store, const struct store_ctx_cert *c,
	int64_t *id, struct tw_error *err);
/* With der. */
tw_rc store_ctx_cert_get(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct store_ctx_cert *out, struct tw_error *err);
/* Replace entry id's certificate (and label, gateway) by c's; status back to unchecked. */
tw_rc store_ctx_cert_replace(struct tw_store *store, int64_t tenant_id, int64_t id,
	const struct store_ctx_cert *c, struct tw_error *err);
tw_rc store_ctx_cert_delete(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct tw_error *err);
tw_rc store_ctx_cert_set_status(struct tw_store *store, int64_t tenant_id, int64_t id,
	const char *status, const char *detail, int64_t checked_ms, struct tw_error *err);
/* The context's certificates by id, filtered by gateway when not NULL; with der when
 * with_der. cb returns non-zero to stop. */
typedef int (*store_ctx_cert_cb)(const struct store_ctx_cert *c, void *arg);
tw_rc store_ctx_cert_foreach(struct tw_store *store, int64_t tenant_id,
	const char *gateway_id, bool with_der, store_ctx_cert_cb cb, void *arg,
	struct tw_error *err);

/* The SM-PKI certificates this home holds for the tenant (table certificates). */
struct store_ctx_issued {
	char owner_kind[16];
	char owner_id[STORE_ID_MAX + 1];
	char usage[8];
	char serial_hex[STORE_ID_MAX + 1];
	char fingerprint[65];
	char subject[STORE_TEXT_MAX + 1];
	char status[16];
	int64_t not_after;
};
typedef int (*store_ctx_issued_cb)(const struct store_ctx_issued *c, void *arg);
tw_rc store_ctx_issued_foreach(struct tw_store *store, int64_t tenant_id,
	const char *gateway_id, store_ctx_issued_cb cb, void *arg, struct tw_error *err);

/*
 * The admin-log entries of context name (object "context:NAME" or "context:NAME ..."),
 * oldest first, after seq `after`, at most limit (0 = 1000). Read only.
 */
struct store_ctx_log {
	int64_t seq;
	char time[40];
	char actor[STORE_NAME_MAX + 1];
	char action[STORE_ID_MAX + 1];
	char object[STORE_TEXT_MAX + 1];
	char result[16];
	char detail[STORE_TEXT_MAX + 1];
};
typedef int (*store_ctx_log_cb)(const struct store_ctx_log *e, void *arg);
tw_rc store_ctx_log_foreach(struct tw_store *store, const char *name, int64_t after,
	int64_t limit, store_ctx_log_cb cb, void *arg, struct tw_error *err);

/* Trusted CAs of the context (non-SM-PKI). */
struct store_ctx_trust {
	int64_t id;
	int64_t tenant_id;
	char fingerprint[65];
	char subject[STORE_TEXT_MAX + 1];
	int64_t not_after;
	unsigned char *der;                      /* owned */
	size_t der_len;
	int64_t created_ms;
};
void store_ctx_trust_clear(struct store_ctx_trust *t);
tw_rc store_ctx_trust_insert(struct tw_store *store, const struct store_ctx_trust *t,
	int64_t *id, struct tw_error *err);
tw_rc store_ctx_trust_delete(struct tw_store *store, int64_t tenant_id, int64_t id,
	struct tw_error *err);
typedef int (*store_ctx_trust_cb)(const struct store_ctx_trust *t, void *arg);
tw_rc store_ctx_trust_foreach(struct tw_store *store, int64_t tenant_id,
	store_ctx_trust_cb cb, void *arg, struct tw_error *err);

#endif
