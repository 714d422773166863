/*
 * store_profiles.c: the public store_profiles.h API. Checks every argument once, before
 * any SQL runs (so bad input changes nothing and is never truncated), then dispatches to
 * the backend's area ops chosen by the store's core backend.
 */
#include "store/store_profiles.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "store/store_check.h"

/* The area ops of the store's backend; NULL for a backend without this area. */
static const struct store_profiles_ops *sp_ops(struct tw_store *store, struct tw_error *err)
{
	return store_area_ops(store, &store_sqlite_profiles_ops, "profile", err);
}

static bool sp_hex64(const char *h)
{
	size_t i;

	for (i = 0; i < 64; i++) {
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	}
	return h[64] == '\0';
}

/* ---- desired profiles ---- */

void store_profile_clear(struct store_profile *p)
{
	if (p == NULL)
		return;
	free(p->doc);
	memset(p, 0, sizeof(*p));
}

tw_rc store_profile_put(struct tw_store *store, const struct store_profile *p,
	bool *replaced, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (replaced != NULL)
		*replaced = false;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (p == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_put: no profile");
	if ((rc = STORE_CHECK_MEMBER(p, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, profile_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, type, true, err)) != TW_OK ||
	    (rc = store_check_text(p->doc, STORE_PROFILE_DOC_MAX, "profile document", err)) != TW_OK)
		return rc;
	if (!sp_hex64(p->hash))
		return tw_error_set(err, TW_E_INVALID, "profile hash must be 64 lower-case hex digits");
	return ops->profile_put(store->be, p, replaced, err);
}

tw_rc store_profile_get(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct store_profile *out, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_get: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(profile_id, STORE_ID_MAX, "profile id", err)) != TW_OK)
		return rc;
	return ops->profile_get(store->be, gateway_id, profile_id, out, err);
}

tw_rc store_profile_delete(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(profile_id, STORE_ID_MAX, "profile id", err)) != TW_OK)
		return rc;
	return ops->profile_delete(store->be, gateway_id, profile_id, err);
}

tw_rc store_profile_foreach(struct tw_store *store, const char *gateway_id,
	store_profile_cb cb, void *arg, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_foreach: no callback");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->profile_foreach(store->be, gateway_id, cb, arg, err);
}

/* ---- reported set ---- */

void store_profile_report_clear(struct store_profile_report *r)
{
	if (r == NULL)
		return;
	free(r->profiles);
	memset(r, 0, sizeof(*r));
}

tw_rc store_profile_report_put(struct tw_store *store, const struct store_profile_report *r,
	struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (r == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_report_put: no report");
	if ((rc = STORE_CHECK_MEMBER(r, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, source, true, err)) != TW_OK ||
	    (rc = store_check_text(r->profiles, STORE_PROFILE_LIST_MAX, "reported profile list", err)) !=
	    TW_OK)
		return rc;
	if (!sp_hex64(r->set_hash))
		return tw_error_set(err, TW_E_INVALID,
			"reported profile-set hash must be 64 lower-case hex digits");
	return ops->report_put(store->be, r, err);
}

tw_rc store_profile_report_get(struct tw_store *store, const char *gateway_id,
	struct store_profile_report *out, bool *found, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_profile_report_get: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->report_get(store->be, gateway_id, out, found, err);
}

/* ---- EMT authorisations ---- */

tw_rc store_emt_authorise(struct tw_store *store, const char *gateway_id,
	const char *emt_id, int64_t when_ms, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	return ops->emt_authorise(store->be, gateway_id, emt_id, when_ms, err);
}

tw_rc store_emt_revoke(struct tw_store *store, const char *gateway_id, const char *emt_id,
	struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	return ops->emt_revoke(store->be, gateway_id, emt_id, err);
}

tw_rc store_emt_is_authorised(struct tw_store *store, const char *gateway_id,
	const char *emt_id, bool *yes, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (yes != NULL)
		*yes = false;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (yes == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_emt_is_authorised: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (rc = store_check_text(emt_id, STORE_ID_MAX, "EMT id", err)) != TW_OK)
		return rc;
	return ops->emt_is_authorised(store->be, gateway_id, emt_id, yes, err);
}

/* A tenant-scoped handle (store_scope_tenant) sees only its own gateways' EMTs. */
struct sp_emt_scope {
	struct tw_store *store;
	store_emt_cb cb;
	void *arg;
};

static int sp_emt_scope_filter(const char *gateway_id, const char *emt_id, int64_t created_ms,
	void *arg)
{
	const struct sp_emt_scope *s = arg;
	struct store_gateway gw;
	struct tw_error ignore;

	if (store_gateway_get(s->store, gateway_id, &gw, &ignore) != TW_OK)
		return 0;   /* another tenant's gateway (or gone): not listed */
	return s->cb(gateway_id, emt_id, created_ms, s->arg);
}

tw_rc store_emt_foreach(struct tw_store *store, const char *gateway_id, store_emt_cb cb,
	void *arg, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_emt_foreach: no callback");
	if (gateway_id != NULL &&
	    (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	if (store->scope_tenant != 0) {
		struct sp_emt_scope scope = { store, cb, arg };

		return ops->emt_foreach(store->be, gateway_id, sp_emt_scope_filter, &scope, err);
	}
	return ops->emt_foreach(store->be, gateway_id, cb, arg, err);
}

/* ---- gateway messages ---- */

tw_rc store_gateway_message_insert(struct tw_store *store,
	const struct store_gateway_message *m, int64_t *id, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (m == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_message_insert: no message");
	if ((rc = STORE_CHECK_MEMBER(m, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, type, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, severity, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, gateway_time, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, message, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(m, actions, false, err)) != TW_OK)
		return rc;
	return ops->message_insert(store->be, m, id, err);
}

tw_rc store_gateway_message_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_message_cb cb, void *arg, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_message_foreach: no callback");
	if ((gateway_id != NULL &&
	     (rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK) ||
	    (kind != NULL && (rc = store_check_text(kind, 15, "message kind", err)) != TW_OK))
		return rc;
	return ops->message_foreach(store->be, gateway_id, kind, cb, arg, err);
}

/* ---- gateway logs ---- */

tw_rc store_gateway_log_insert(struct tw_store *store, const struct store_gateway_log *l,
	struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (l == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_log_insert: no entry");
	if ((rc = STORE_CHECK_MEMBER(l, gateway_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, time, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, message, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(l, cert_fingerprint, false, err)) != TW_OK)
		return rc;
	if (l->seq <= 0)
		return tw_error_set(err, TW_E_INVALID, "log entry sequence number must be positive");
	if (l->signature_len == 0 || l->signature_len > sizeof(l->signature))
		return tw_error_set(err, TW_E_INVALID, "log entry signature is empty or too long");
	return ops->log_insert(store->be, l, err);
}

tw_rc store_gateway_log_foreach(struct tw_store *store, const char *gateway_id,
	const char *kind, store_gateway_log_cb cb, void *arg, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_log_foreach: no callback");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK ||
	    (kind != NULL && (rc = store_check_text(kind, 15, "log kind", err)) != TW_OK))
		return rc;
	return ops->log_foreach(store->be, gateway_id, kind, cb, arg, err);
}

tw_rc store_gateway_sig_cert(struct tw_store *store, const char *gateway_id,
	unsigned char **der, size_t *der_len, struct tw_error *err)
{
	const struct store_profiles_ops *ops = sp_ops(store, err);
	tw_rc rc;

	if (der != NULL)
		*der = NULL;
	if (der_len != NULL)
		*der_len = 0;
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (der == NULL || der_len == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_gateway_sig_cert: out is NULL");
	if ((rc = store_check_text(gateway_id, STORE_ID_MAX, "gateway id", err)) != TW_OK)
		return rc;
	return ops->sig_cert(store->be, gateway_id, der, der_len, err);
}
