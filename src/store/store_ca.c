/*
 * store_ca.c: the public store_ca.h API. Checks every argument once, before any SQL runs
 * (bad input changes nothing and is never truncated), then dispatches to the backend's
 * CA ops chosen by the store's core backend.
 */
#include "store/store_ca.h"

#include <stdlib.h>
#include <string.h>

#include "store/store_backend.h"
#include "store/store_check.h"

static const struct store_ca_ops *sc_ops(struct tw_store *store, struct tw_error *err)
{
	return store_area_ops(store, &store_sqlite_ca_ops, "CA", err);
}

#define SC_OPS_OR_RETURN(ops, store, err) \
	do { \
		if (((ops) = sc_ops((store), (err))) == NULL) \
			return (err) != NULL ? (err)->code : TW_E_INTERNAL; \
	} while (0)

static bool sc_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static const char *const sc_roles[] = { "emt", "gwa", "gwh", "smgw", NULL };
static const char *const sc_states[] = { "pending", "approved", "rejected", "issued", NULL };
static const char *const sc_kinds[] = { "initial", "renewal", NULL };

static bool sc_hex64(const char *h)
{
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return h[64] == '\0';
}

/* Serials are stored as lower-case hex without separators (certstore.c). */
static tw_rc sc_serial(const char *s, struct tw_error *err)
{
	tw_rc rc = store_check_text(s, STORE_ID_MAX, "serial", err);

	if (rc != TW_OK)
		return rc;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return tw_error_set(err, TW_E_INVALID,
				"serial '%s' is not lower-case hexadecimal", s);
	return TW_OK;
}

/* ---- participants ---- */

tw_rc store_ca_participant_insert(struct tw_store *store, const struct store_ca_participant *p,
	struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (p == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_insert: no participant");
	if ((rc = STORE_CHECK_MEMBER(p, name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, organisation, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, role, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, market_partner_id, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, common_name, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, email, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, gateway_id, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, device_serial, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(p, created_by, true, err)) != TW_OK)
		return rc;
	if (!sc_one_of(p->role, sc_roles))
		return tw_error_set(err, TW_E_INVALID, "role '%s' is not one of emt, gwa, gwh, smgw",
			p->role);
	return ops->participant_insert(store->be, p, err);
}

tw_rc store_ca_participant_get(struct tw_store *store, const char *name,
	struct store_ca_participant *out, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(ops, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_get: out is NULL");
	if ((rc = store_check_text(name, STORE_ID_MAX, "participant name", err)) != TW_OK)
		return rc;
	return ops->participant_get(store->be, name, out, err);
}

tw_rc store_ca_participant_foreach(struct tw_store *store, store_ca_participant_cb cb,
	void *arg, struct tw_error *err)
{
	const struct store_ca_ops *ops;

	SC_OPS_OR_RETURN(ops, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_participant_foreach: no callback");
	return ops->participant_foreach(store->be, cb, arg, err);
}

/* ---- requests ---- */

void store_ca_request_clear(struct store_ca_request *r)
{
	if (r == NULL)
		return;
	free(r->der);
	memset(r, 0, sizeof(*r));
}

tw_rc store_ca_request_insert(struct tw_store *store, const struct store_ca_request *r,
	int64_t *id, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (id != NULL)
		*id = 0;
	SC_OPS_OR_RETURN(ops, store, err);
	if (r == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_insert: NULL argument");
	if ((rc = STORE_CHECK_MEMBER(r, participant, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, kind, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, subject, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, decided_by, false, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(r, reason, false, err)) != TW_OK)
		return rc;
	if (!sc_hex64(r->digest))
		return tw_error_set(err, TW_E_INVALID, "request digest must be 64 lower-case hex");
	if (!sc_one_of(r->kind, sc_kinds) || !sc_one_of(r->state, sc_states))
		return tw_error_set(err, TW_E_INVALID, "request kind '%s' or state '%s' unknown",
			r->kind, r->state);
	if (r->der == NULL || r->der_len == 0 || r->der_len > STORE_CA_REQUEST_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "request must be 1..%d bytes",
			STORE_CA_REQUEST_MAX);
	return ops->request_insert(store->be, r, id, err);
}

tw_rc store_ca_request_digest_known(struct tw_store *store, const char *digest, bool *known,
	struct tw_error *err)
{
	const struct store_ca_ops *ops;

	if (known != NULL)
		*known = false;
	SC_OPS_OR_RETURN(ops, store, err);
	if (digest == NULL || known == NULL || !sc_hex64(digest))
		return tw_error_set(err, TW_E_INVALID, "request digest must be 64 lower-case hex");
	return ops->request_digest_known(store->be, digest, known, err);
}

tw_rc store_ca_request_get(struct tw_store *store, int64_t id, bool with_der,
	struct store_ca_request *out, struct tw_error *err)
{
	const struct store_ca_ops *ops;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(ops, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_get: out is NULL");
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	return ops->request_get(store->be, id, with_der, out, err);
}

tw_rc store_ca_request_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, const char *reason,
	struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	if (from == NULL || to == NULL || !sc_one_of(from, sc_states) || !sc_one_of(to, sc_states))
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_transition: bad state");
	if ((rc = store_check_text(by, STORE_NAME_MAX, "decider", err)) != TW_OK)
		return rc;
	if (reason != NULL && strnlen(reason, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "reason is longer than %d bytes",
			STORE_TEXT_MAX);
	return ops->request_transition(store->be, id, from, to, when_ms, by,
		reason != NULL ? reason : "", err);
}

tw_rc store_ca_request_foreach(struct tw_store *store, const char *state,
	store_ca_request_cb cb, void *arg, struct tw_error *err)
{
	const struct store_ca_ops *ops;

	SC_OPS_OR_RETURN(ops, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_request_foreach: no callback");
	if (state != NULL && !sc_one_of(state, sc_states))
		return tw_error_set(err, TW_E_INVALID,
			"state '%s' is not one of pending, approved, rejected, issued", state);
	return ops->request_foreach(store->be, state, cb, arg, err);
}

/* ---- certificates ---- */

void store_ca_cert_clear(struct store_ca_cert *c)
{
	if (c == NULL)
		return;
	free(c->der);
	memset(c, 0, sizeof(*c));
}

tw_rc store_ca_cert_set_request(struct tw_store *store, const char *issuer,
	const char *serial_hex, int64_t request_id, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	if (request_id <= 0)
		return tw_error_set(err, TW_E_INVALID, "request id must be positive");
	return ops->cert_set_request(store->be, issuer, serial_hex, request_id, err);
}

tw_rc store_ca_cert_get(struct tw_store *store, const char *issuer, const char *serial_hex,
	bool with_der, struct store_ca_cert *out, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	SC_OPS_OR_RETURN(ops, store, err);
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_get: out is NULL");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	return ops->cert_get(store->be, issuer, serial_hex, with_der, out, err);
}

tw_rc store_ca_cert_foreach(struct tw_store *store, const char *issuer, store_ca_cert_cb cb,
	void *arg, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_foreach: no callback");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK)
		return rc;
	return ops->cert_foreach(store->be, issuer, cb, arg, err);
}

tw_rc store_ca_cert_revoke(struct tw_store *store, const char *issuer, const char *serial_hex,
	int reason, int64_t when_ms, bool *changed, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (changed != NULL)
		*changed = false;
	SC_OPS_OR_RETURN(ops, store, err);
	if (changed == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_cert_revoke: changed is NULL");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK ||
	    (rc = sc_serial(serial_hex, err)) != TW_OK)
		return rc;
	/* RFC 5280 5.3.1: 0..10, value 7 is not used. */
	if (reason < 0 || reason > 10 || reason == 7)
		return tw_error_set(err, TW_E_INVALID, "revocation reason %d is not an RFC 5280 "
			"CRLReason", reason);
	if (when_ms <= 0)
		return tw_error_set(err, TW_E_INVALID, "revocation time must be positive");
	return ops->cert_revoke(store->be, issuer, serial_hex, reason, when_ms, changed, err);
}

tw_rc store_ca_revoked_foreach(struct tw_store *store, const char *issuer,
	store_ca_revoked_cb cb, void *arg, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_revoked_foreach: no callback");
	if ((rc = store_check_text(issuer, STORE_TEXT_MAX, "issuer", err)) != TW_OK)
		return rc;
	return ops->revoked_foreach(store->be, issuer, cb, arg, err);
}

/* ---- CRL metadata ---- */

tw_rc store_ca_crl_get(struct tw_store *store, const char *ca, struct store_ca_crl *out,
	bool *found, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	SC_OPS_OR_RETURN(ops, store, err);
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_crl_get: out is NULL");
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	return ops->crl_get(store->be, ca, out, found, err);
}

tw_rc store_ca_crl_put(struct tw_store *store, const struct store_ca_crl *crl,
	struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (crl == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_crl_put: no CRL");
	if ((rc = STORE_CHECK_MEMBER(crl, ca, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(crl, path, true, err)) != TW_OK)
		return rc;
	if (crl->number <= 0 || crl->entries < 0 || crl->next_update < crl->this_update)
		return tw_error_set(err, TW_E_INVALID, "CRL number, entries or update times invalid");
	if (!sc_hex64(crl->sha256))
		return tw_error_set(err, TW_E_INVALID, "CRL sha256 must be 64 lower-case hex");
	return ops->crl_put(store->be, crl, err);
}

tw_rc store_ca_crl_mark_dirty(struct tw_store *store, const char *ca, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	return ops->crl_mark_dirty(store->be, ca, err);
}

/* ---- CA key activation ---- */

tw_rc store_ca_key_state_get(struct tw_store *store, const char *ca,
	struct store_ca_key_state *out, bool *found, struct tw_error *err)
{
	const struct store_ca_ops *ops;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (found != NULL)
		*found = false;
	SC_OPS_OR_RETURN(ops, store, err);
	if (out == NULL || found == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_get: out is NULL");
	if ((rc = store_check_text(ca, STORE_ID_MAX, "CA name", err)) != TW_OK)
		return rc;
	return ops->key_state_get(store->be, ca, out, found, err);
}

tw_rc store_ca_key_state_put(struct tw_store *store, const struct store_ca_key_state *s,
	struct tw_error *err)
{
	static const char *const states[] = { "inactive", "active", NULL };
	const struct store_ca_ops *ops;
	tw_rc rc;

	SC_OPS_OR_RETURN(ops, store, err);
	if (s == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_put: no state");
	if ((rc = STORE_CHECK_MEMBER(s, ca, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, changed_by, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(s, reason, false, err)) != TW_OK)
		return rc;
	if (!sc_one_of(s->state, states))
		return tw_error_set(err, TW_E_INVALID, "CA key state \"%s\" is not inactive or "
			"active", s->state);
	return ops->key_state_put(store->be, s, err);
}

tw_rc store_ca_key_state_foreach(struct tw_store *store, store_ca_key_state_cb cb, void *arg,
	struct tw_error *err)
{
	const struct store_ca_ops *ops;

	SC_OPS_OR_RETURN(ops, store, err);
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_ca_key_state_foreach: no callback");
	return ops->key_state_foreach(store->be, cb, arg, err);
}
