/*
 * store_firmware.c: the public store_firmware.h API. Checks every argument once, before
 * any SQL runs (bad input changes nothing and is never truncated), then dispatches to the
 * backend's firmware ops chosen by the store's core backend.
 */
#include "store/store_firmware.h"

#include <string.h>

#include "store/store_backend.h"
#include "store/store_check.h"

static const struct store_firmware_ops *sf_ops(struct tw_store *store, struct tw_error *err)
{
	return store_area_ops(store, &store_sqlite_firmware_ops, "firmware", err);
}

static bool sf_hex64(const char *h)
{
	for (size_t i = 0; i < 64; i++)
		if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
			return false;
	return h[64] == '\0';
}

static bool sf_one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c != NULL && strcmp(s, c) == 0);
}

tw_rc store_firmware_insert(struct tw_store *store, const struct store_firmware *f,
	int64_t *id, struct tw_error *err)
{
	const struct store_firmware_ops *ops = sf_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (f == NULL || id == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_insert: no image or id");
	if ((rc = STORE_CHECK_MEMBER(f, model, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, version, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, path, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, signature, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, state, true, err)) != TW_OK ||
	    (rc = STORE_CHECK_MEMBER(f, uploaded_by, true, err)) != TW_OK)
		return rc;
	if (!sf_hex64(f->sha256))
		return tw_error_set(err, TW_E_INVALID,
			"firmware digest must be 64 lower-case hex digits");
	if (f->size <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware size must be positive");
	if (strcmp(f->state, "uploaded") != 0)
		return tw_error_set(err, TW_E_INVALID, "a new firmware image starts as uploaded, "
			"not %s", f->state);
	if (!sf_one_of(f->signature, "unverified", "verified", "invalid"))
		return tw_error_set(err, TW_E_INVALID, "unknown signature status \"%s\"",
			f->signature);
	return ops->insert(store->be, f, id, err);
}

tw_rc store_firmware_get(struct tw_store *store, int64_t id, struct store_firmware *out,
	struct tw_error *err)
{
	const struct store_firmware_ops *ops = sf_ops(store, err);

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_get: out is NULL");
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware id must be positive");
	return ops->get(store->be, id, out, err);
}

tw_rc store_firmware_find(struct tw_store *store, const char *sha256, const char *model,
	const char *version, struct store_firmware *out, bool *found, struct tw_error *err)
{
	const struct store_firmware_ops *ops = sf_ops(store, err);
	tw_rc rc;

	if (found != NULL)
		*found = false;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (out == NULL || found == NULL || sha256 == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_find: bad arguments");
	if (!sf_hex64(sha256))
		return tw_error_set(err, TW_E_INVALID,
			"firmware digest must be 64 lower-case hex digits");
	if ((rc = store_check_text(model, STORE_ID_MAX, "model", err)) != TW_OK ||
	    (rc = store_check_text(version, STORE_ID_MAX, "version", err)) != TW_OK)
		return rc;
	return ops->find(store->be, sha256, model, version, out, found, err);
}

tw_rc store_firmware_transition(struct tw_store *store, int64_t id, const char *from,
	const char *to, int64_t when_ms, const char *by, struct tw_error *err)
{
	const struct store_firmware_ops *ops = sf_ops(store, err);
	tw_rc rc;

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (id <= 0)
		return tw_error_set(err, TW_E_INVALID, "firmware id must be positive");
	if ((rc = store_check_text(from, 15, "state", err)) != TW_OK ||
	    (rc = store_check_text(to, 15, "state", err)) != TW_OK ||
	    (rc = store_check_text(by, STORE_NAME_MAX, "actor", err)) != TW_OK)
		return rc;
	/* The only moves of the state machine (migration 0007); anything else is a bug. */
	if (!((strcmp(from, "uploaded") == 0 && sf_one_of(to, "released", "withdrawn", NULL)) ||
	      (strcmp(from, "released") == 0 && strcmp(to, "withdrawn") == 0)))
		return tw_error_set(err, TW_E_INTERNAL, "firmware state %s -> %s is not a move "
			"of the state machine", from, to);
	return ops->transition(store->be, id, from, to, when_ms, by, err);
}

tw_rc store_firmware_foreach(struct tw_store *store, store_firmware_cb cb, void *arg,
	struct tw_error *err)
{
	const struct store_firmware_ops *ops = sf_ops(store, err);

	if (ops == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (cb == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "store_firmware_foreach: no callback");
	return ops->foreach(store->be, cb, arg, err);
}
