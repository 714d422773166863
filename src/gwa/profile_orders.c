/*
 * profile_orders.c: the order types of profile management (gwa/order.h):
 * "profile-insert" (insert = replace), "profile-delete", "profile-read" (UC-3.3.2), and
 * the session hook "profiles" through which a gateway reports its profile set on every
 * session, so drift is detected without an order (T-PV.3).
 *
 * Payloads hold references, never secrets: profile-insert stores {"profile_id","hash"}
 * and to_wire resolves it to the plaintext document from the profiles table (unsealed
 * with the data key of the home, see profile_orders_init). Every wire payload names the
 * recipient gateway, so a gateway refuses an order meant for another one (T-PV.1); the
 * result must carry the gateway's new profile set, which is recorded as reported.
 */
#include "gwa/profile_orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwa/order.h"
#include "gwa/profile_admin.h"

/* The data key of this process's home; set once by profile_orders_init before threads
 * start, read-only afterwards. */
static struct secretbox *po_box;
static struct tw_config *po_conf;

tw_rc profile_orders_init(const struct tw_home *home, struct tw_error *err)
{
	struct secretbox *sb = NULL;
	struct tw_config *conf = NULL;
	char *path = NULL;
	tw_rc rc;

	if (po_box != NULL)
		return TW_OK;
	/* A copy of the configuration: home need not outlive this call. */
	if ((path = tw_home_join(home, "torwart.conf")) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_config_load(path, &conf, err)) != TW_OK ||
	    (rc = secretbox_open(home, &sb, err)) != TW_OK)
		goto out;
	po_box = sb;
	po_conf = conf;
	sb = NULL;
	conf = NULL;
out:
	secretbox_free(sb);
	tw_config_free(conf);
	free(path);
	return rc;
}

const struct tw_config *profile_orders_monitor_conf(void)
{
	return po_conf;
}

void profile_orders_set_box(struct secretbox *sb)
{
	secretbox_free(po_box);
	po_box = sb;
}

static tw_rc only_keys(const json_t *obj, const char *const *keys, const char *what,
	struct tw_error *err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return tw_error_set(err, TW_E_INVALID, "%s must be a JSON object", what);
	json_object_foreach((json_t *)obj, k, v) {
		size_t i;

		(void)v;
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
			;
		if (keys[i] == NULL)
			return tw_error_set(err, TW_E_INVALID, "%s: unknown member \"%.40s\"", what, k);
	}
	return TW_OK;
}

static const char *pid_of(const json_t *payload)
{
	return json_string_value(json_object_get(payload, "profile_id"));
}

/* A wire payload: {"gateway_id": target, ...payload}. */
static tw_rc wire_with_gateway(const struct order_ctx *ctx, json_t **wire,
	struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

/* Every profile result carries the gateway's set afterwards: record it (in the job's
 * transaction). */
static tw_rc record_set(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *set = json_object_get(result, "profiles");

	if (set == NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "result lacks the gateway's profile set "
			"(member \"profiles\")");
	return profile_admin_report(ctx->store, ctx->gateway_id, set, "order", NULL, NULL, err);
}

/* ---- profile-insert ---- */

static tw_rc insert_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const keys[] = { "profile_id", "hash", NULL };
	struct profile_drift d;
	const char *pid = pid_of(ctx->payload);
	const char *hash = json_string_value(json_object_get(ctx->payload, "hash"));
	bool found = false;
	tw_rc rc;

	if ((rc = only_keys(ctx->payload, keys, "profile-insert payload", err)) != TW_OK)
		return rc;
	if (!profile_id_valid(pid) || hash == NULL || strlen(hash) != 64)
		return tw_error_set(err, TW_E_INVALID, "profile-insert payload needs \"profile_id\" "
			"and \"hash\" (64 hex digits); use `torwart profile put` to create it");
	/* T-PV.2: only a profile that passed validation into the desired set may be sent. */
	if ((rc = profile_admin_drift(ctx->store, ctx->gateway_id, &d, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < d.n && !found; i++)
		found = strcmp(d.rows[i].profile_id, pid) == 0 &&
			strcmp(d.rows[i].desired_hash, hash) == 0;
	profile_drift_clear(&d);
	if (!found)
		return tw_error_set(err, TW_E_INVALID, "gateway %s has no validated profile \"%s\" "
			"with hash %.16s...; put it with `torwart profile put` first", ctx->gateway_id,
			pid, hash);
	return TW_OK;
}

static tw_rc insert_to_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	const char *want = json_string_value(json_object_get(ctx->payload, "hash"));
	json_t *doc = NULL;
	char hash[65];
	tw_rc rc;

	*wire = NULL;
	if (po_box == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "profile orders: the data key is not loaded "
			"(profile_orders_init was not called in this process)");
	if ((rc = profile_admin_wire(ctx->store, po_box, ctx->gateway_id, pid_of(ctx->payload),
	    &doc, hash, err)) != TW_OK)
		return rc;
	if (want == NULL || strcmp(hash, want) != 0) {
		json_decref(doc);
		return tw_error_set(err, TW_E_EXISTS, "profile \"%s\" was replaced after this job "
			"was created; the newer job carries it", pid_of(ctx->payload));
	}
	*wire = json_pack("{s:s,s:o}", "gateway_id", ctx->gateway_id, "profile", doc);
	return *wire != NULL ? TW_OK : tw_error_set(err, TW_E_NOMEM, "out of memory");
}

static tw_rc insert_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const char *want = json_string_value(json_object_get(ctx->payload, "hash"));
	const char *got = json_string_value(json_object_get(result, "hash"));

	if (got == NULL || want == NULL || strcmp(got, want) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "gateway applied profile \"%s\" with hash "
			"%.16s..., expected %.16s...", pid_of(ctx->payload), got ? got : "(none)",
			want ? want : "?");
	return record_set(ctx, result, err);
}

const struct order_type order_type_profile_insert = {
	.name = "profile-insert",
	.summary = "insert or replace a profile on the gateway (created by `torwart profile put`)",
	.validate = insert_validate,
	.to_wire = insert_to_wire,
	.on_result = insert_result,
};

/* ---- profile-delete ---- */

static tw_rc delete_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const keys[] = { "profile_id", NULL };
	tw_rc rc;

	if ((rc = only_keys(ctx->payload, keys, "profile-delete payload", err)) != TW_OK)
		return rc;
	if (!profile_id_valid(pid_of(ctx->payload)))
		return tw_error_set(err, TW_E_INVALID, "profile-delete payload needs \"profile_id\"");
	return TW_OK;
}

const struct order_type order_type_profile_delete = {
	.name = "profile-delete",
	.summary = "delete a profile on the gateway (created by `torwart profile delete`)",
	.validate = delete_validate,
	.to_wire = wire_with_gateway,
	.on_result = record_set,
};

/* ---- profile-read ---- */

static tw_rc read_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	static const char *const keys[] = { "profile_id", NULL };
	const json_t *pid = json_object_get(ctx->payload, "profile_id");
	tw_rc rc;

	if ((rc = only_keys(ctx->payload, keys, "profile-read payload", err)) != TW_OK)
		return rc;
	if (pid != NULL && !profile_id_valid(json_string_value(pid)))
		return tw_error_set(err, TW_E_INVALID, "profile-read payload: \"profile_id\" must be "
			"an id (or absent for all profiles)");
	return TW_OK;
}

/*
 * The read documents end up in the job row: a gateway that returns a secret in clear has
 * its result refused (nothing stored), so no meter key or password reaches the store.
 */
static tw_rc read_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *docs = json_object_get(result, "documents");
	tw_rc rc;

	if (!json_is_array(docs) || json_array_size(docs) > PROFILE_SET_MAX)
		return tw_error_set(err, TW_E_PROTOCOL, "profile-read result lacks \"documents\"");
	for (size_t i = 0; i < json_array_size(docs); i++) {
		const json_t *d = json_array_get(docs, i);
		enum profile_type t;
		json_t *masked = NULL;
		bool clean;

		if (profile_type_parse(json_string_value(json_object_get(d, "type")), &t, err) !=
		    TW_OK)
			return tw_error_set(err, TW_E_PROTOCOL, "profile-read document %zu has no type",
				i);
		if ((rc = profile_secrets(d, t, PROFILE_MASK_SECRETS, NULL, ctx->gateway_id, &masked,
		    err)) != TW_OK)
			return rc;
		clean = json_equal((json_t *)d, masked);
		json_decref(masked);
		if (!clean)
			return tw_error_set(err, TW_E_PROTOCOL, "gateway %s returned a secret in clear in "
				"profile-read document %zu; result refused", ctx->gateway_id, i);
	}
	return record_set(ctx, result, err);
}

const struct order_type order_type_profile_read = {
	.name = "profile-read",
	.summary = "read profiles from the gateway (secrets masked) and its profile set",
	.validate = read_validate,
	.to_wire = wire_with_gateway,
	.on_result = read_result,
};

/* ---- session hook ---- */

static tw_rc session_profiles(struct tw_store *store, const char *gateway_id,
	const json_t *value, struct tw_error *err)
{
	return profile_admin_report(store, gateway_id, value, "session", NULL, NULL, err);
}

const struct order_session_hook order_session_profiles = {
	.member = "profiles",
	.on_session = session_profiles,
};
