/*
 * store.c: the public store.h API. Picks a backend from the URL, checks every argument
 * once (so all backends refuse the same bad input the same way), then dispatches
 * through struct store_backend_ops.
 *
 * Validation happens before any backend call so bad input "changes nothing"
 * (DESIGN.md principle 6): an over-long field never reaches SQL and is never truncated.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"

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
	if (store == NULL || store->ops == NULL || store->be == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store handle is not open");
	return TW_OK;
}

/* ---- open / close / schema ---- */

tw_rc store_open(const char *url, struct tw_store **out, struct tw_error *err)
{
	struct tw_store *store = NULL;
	const struct store_backend_ops *ops = NULL;
	const char *target = NULL;
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
		rc = tw_error_set(err, TW_E_CONFIG,
			"store URL uses PostgreSQL, but the PostgreSQL backend is not built yet; "
			"use \"sqlite:PATH\" (or a plain path) for now");
		goto out;
	}
	if (strncmp(url, "sqlite:", 7) == 0) {
		ops = &store_sqlite_ops;
		target = url + 7;
	} else if (strstr(url, "://") != NULL) {
		rc = tw_error_set(err, TW_E_CONFIG,
			"store URL \"%.64s\" has an unknown scheme; use \"sqlite:PATH\" or a plain path",
			url);
		goto out;
	} else {
		ops = &store_sqlite_ops;
		target = url;
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
	store->ops = ops;
	if ((rc = ops->open(target, &store->be, err)) != TW_OK)
		goto out;
	*out = store;
	store = NULL;
	rc = TW_OK;
out:
	store_close(store);
	return rc;
}

void store_close(struct tw_store *store)
{
	if (store == NULL)
		return;
	if (store->ops != NULL && store->be != NULL)
		store->ops->close(store->be);
	free(store);
}

tw_rc store_migrate(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	return store->ops->migrate(store->be, err);
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
	return store->ops->schema_version(store->be, version, err);
}

/* ---- transactions ---- */

tw_rc store_begin(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (store->ops->in_transaction(store->be))
		return tw_error_set(err, TW_E_INTERNAL,
			"store_begin: a transaction is already open on this connection");
	return store->ops->begin(store->be, err);
}

tw_rc store_commit(struct tw_store *store, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (!store->ops->in_transaction(store->be))
		return tw_error_set(err, TW_E_INTERNAL, "store_commit: no transaction is open");
	return store->ops->commit(store->be, err);
}

void store_rollback(struct tw_store *store)
{
	if (store_check_handle(store, NULL) != TW_OK)
		return;
	if (store->ops->in_transaction(store->be))
		store->ops->rollback(store->be);
}

bool store_in_transaction(struct tw_store *store)
{
	if (store_check_handle(store, NULL) != TW_OK)
		return false;
	return store->ops->in_transaction(store->be);
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
	return store->ops->tenant_ensure(store->be, name, id, err);
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
	return store->ops->gateway_insert(store->be, gw, err);
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
	if ((rc = store->ops->gateway_get(store->be, gateway_id, out, err)) != TW_OK)
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
	return store->ops->gateway_touch(store->be, gateway_id, when_ms, address, err);
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
		return store->ops->gateway_foreach(store->be, cb, arg, err);
	f.tenant_id = store->scope_tenant;
	return store->ops->gateway_foreach(store->be, store_scope_gateway_filter, &f, err);
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
	return store->ops->certificate_insert(store->be, cert, err);
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
	rc = store->ops->certificate_get_by_fingerprint(store->be, fingerprint, out, err);
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
	return store->ops->audit_last(store->be, out, found, err);
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
	return store->ops->audit_insert(store->be, row, err);
}

tw_rc store_audit_foreach(struct tw_store *store, int64_t from_seq, store_audit_cb cb,
	void *arg, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = store_check_handle(store, err)) != TW_OK)
		return rc;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_audit_foreach: cb is NULL");
	return store->ops->audit_foreach(store->be, from_seq, cb, arg, err);
}
