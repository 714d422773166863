/*
 * sim_profiles.c: the simulated gateway's profile store (UC-3.3.2): insert (= replace),
 * delete and read orders, and the "profiles" member of the session status with which the
 * gateway reports its profile set on every session (T-PV.3).
 *
 * The gateway checks like a real one would: an order addressed to another gateway is
 * refused (T-PV.1), every document is validated with the same schema code as the GWA,
 * an evaluation profile may only name meters it has profiles for, and a meter profile
 * still referenced by an evaluation profile cannot be deleted (UC-3.3.2 footnote 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwa/profile.h"
#include "sim/sim_crl_check.h"
#include "sim/sim_monitor.h"

#define FAIL(c, rcode, ...) (*code = (c), tw_error_set(err, (rcode), __VA_ARGS__))

/* gw->state["profiles"], created empty when absent (NULL only without memory). */
static json_t *profiles_of(struct sim_gw *gw)
{
	json_t *p = json_object_get(gw->state, "profiles");

	if (json_is_object(p))
		return p;
	p = json_object();
	if (p == NULL || json_object_set_new(gw->state, "profiles", p) != 0)
		return NULL;
	return p;
}

/* The gateway's set {"profile_set_hash","profiles":[...]}; new reference. */
static tw_rc profile_set_of(struct sim_gw *gw, json_t **out, struct tw_error *err)
{
	struct profile_set_item *items = NULL;
	json_t *profiles = profiles_of(gw), *doc;
	const char *pid;
	size_t n = 0;
	tw_rc rc;

	*out = NULL;
	if (profiles == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (json_object_size(profiles) > PROFILE_SET_MAX)
		return tw_error_set(err, TW_E_INTEGRITY, "more than %d profiles stored",
			PROFILE_SET_MAX);
	if ((items = calloc(json_object_size(profiles) + 1, sizeof(*items))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	json_object_foreach(profiles, pid, doc) {
		struct profile_set_item *it = &items[n++];

		snprintf(it->profile_id, sizeof(it->profile_id), "%s", pid);
		snprintf(it->type, sizeof(it->type), "%s",
			json_string_value(json_object_get(doc, "type")) ?
			json_string_value(json_object_get(doc, "type")) : "?");
		if ((rc = profile_hash(doc, it->hash, err)) != TW_OK)
			goto out;
	}
	rc = profile_set_to_json(items, n, out, err);
out:
	free(items);
	return rc;
}

static bool addressed_to_me(struct sim_gw *gw, const json_t *payload)
{
	const char *to = json_string_value(json_object_get(payload, "gateway_id"));

	return to != NULL && strcmp(to, gw->id) == 0;
}

/* The evaluation profile (other than skip) naming meter_id, or NULL. */
static const char *meter_user(json_t *profiles, const char *meter_id, const char *skip)
{
	const char *pid;
	json_t *doc;

	json_object_foreach(profiles, pid, doc) {
		const json_t *m = json_object_get(doc, "meters");
		const char *t = json_string_value(json_object_get(doc, "type"));

		if (t == NULL || strcmp(t, "evaluation") != 0 || (skip && strcmp(pid, skip) == 0))
			continue;
		for (size_t i = 0; i < json_array_size(m); i++) {
			const char *v = json_string_value(json_array_get(m, i));

			if (v != NULL && strcmp(v, meter_id) == 0)
				return pid;
		}
	}
	return NULL;
}

static bool has_meter(json_t *profiles, const char *meter_id)
{
	const char *pid;
	json_t *doc;

	json_object_foreach(profiles, pid, doc) {
		const char *t = json_string_value(json_object_get(doc, "type"));
		const char *m = json_string_value(json_object_get(doc, "meter_id"));

		if (t != NULL && strcmp(t, "meter") == 0 && m != NULL && strcmp(m, meter_id) == 0)
			return true;
	}
	return false;
}

static tw_rc insert_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	struct profile_doc *doc = NULL;
	json_t *profiles, *old, *set = NULL;
	char hash[65], line[160];
	const char *user;
	tw_rc rc;

	*result = NULL;
	if (!addressed_to_me(gw, payload)) {
		rc = FAIL("wrong_gateway", TW_E_DENIED, "profile order is addressed to another gateway");
		goto out;
	}
	if ((rc = profile_from_json(json_object_get(payload, "profile"), &doc, err)) != TW_OK) {
		*code = "invalid_profile";
		goto out;
	}
	/* UC-3.3.3: a partner whose certificate a current CRL revokes is not configured. */
	if (profile_peer_cert(doc) != NULL) {
		char who[PROFILE_ID_MAX + 16];

		snprintf(who, sizeof(who), "%s %s", doc->type == PROFILE_PROXY ? "EMT" : "recipient",
			profile_peer_id(doc));
		if ((rc = sim_crl_check_peer_b64(gw, profile_peer_cert(doc), who, code, err)) !=
		    TW_OK)
			goto out;
	}
	if ((profiles = profiles_of(gw)) == NULL) {
		rc = FAIL("internal", TW_E_NOMEM, "out of memory");
		goto out;
	}
	old = json_object_get(profiles, doc->profile_id);
	if (old != NULL && strcmp(json_string_value(json_object_get(old, "type")),
	    profile_type_name(doc->type)) != 0) {
		rc = FAIL("type_conflict", TW_E_INVALID, "profile %s exists with another type",
			doc->profile_id);
		goto out;
	}
	if (doc->type == PROFILE_EVALUATION) {
		for (size_t i = 0; i < profile_eval_meter_count(doc); i++) {
			if (!has_meter(profiles, profile_eval_meter(doc, i))) {
				rc = FAIL("unknown_meter", TW_E_INVALID, "evaluation profile %s names meter "
					"%s, which has no meter profile here", doc->profile_id,
					profile_eval_meter(doc, i));
				goto out;
			}
		}
	}
	if (doc->type == PROFILE_METER && old != NULL &&
	    strcmp(json_string_value(json_object_get(old, "meter_id")), profile_meter_id(doc)) != 0 &&
	    (user = meter_user(profiles, json_string_value(json_object_get(old, "meter_id")),
	        NULL)) != NULL) {
		rc = FAIL("referenced", TW_E_DENIED, "meter of profile %s is referenced by %s",
			doc->profile_id, user);
		goto out;
	}
	if ((rc = profile_hash(doc->json, hash, err)) != TW_OK ||
	    json_object_set(profiles, doc->profile_id, doc->json) != 0) {
		*code = "internal";
		goto out;
	}
	snprintf(line, sizeof(line), "profile %s (%s) %s, sha256 %.16s", doc->profile_id,
		profile_type_name(doc->type), old != NULL ? "replaced" : "inserted", hash);
	if ((rc = sim_monitor_log(gw, "system", line, err)) != TW_OK) {
		*code = "internal";
		goto out;
	}
	if (doc->type == PROFILE_METER) {
		snprintf(line, sizeof(line), "meter %s: parameters of profile %s installed",
			profile_meter_id(doc), doc->profile_id);
		if ((rc = sim_monitor_log(gw, "calibration", line, err)) != TW_OK) {
			*code = "internal";
			goto out;
		}
	}
	if ((rc = profile_set_of(gw, &set, err)) != TW_OK) {
		*code = "internal";
		goto out;
	}
	*result = json_pack("{s:s,s:s,s:o}", "profile_id", doc->profile_id, "hash", hash,
		"profiles", set);
	if (*result == NULL)
		rc = FAIL("internal", TW_E_NOMEM, "out of memory");
out:
	profile_doc_free(doc);
	return rc;
}

const struct sim_order_handler sim_order_profile_insert = { "profile-insert",
	insert_execute };

static tw_rc delete_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const char *pid = json_string_value(json_object_get(payload, "profile_id"));
	json_t *profiles, *doc, *set = NULL;
	const char *type, *user;
	char line[160];
	tw_rc rc;

	*result = NULL;
	if (!addressed_to_me(gw, payload))
		return FAIL("wrong_gateway", TW_E_DENIED, "profile order is addressed to another "
			"gateway");
	if (!profile_id_valid(pid))
		return FAIL("invalid_payload", TW_E_INVALID, "\"profile_id\" is missing or invalid");
	if ((profiles = profiles_of(gw)) == NULL)
		return FAIL("internal", TW_E_NOMEM, "out of memory");
	if ((doc = json_object_get(profiles, pid)) == NULL)
		return FAIL("not_found", TW_E_NOT_FOUND, "no profile %s on this gateway", pid);
	type = json_string_value(json_object_get(doc, "type"));
	/* UC-3.3.2 footnote 3: the SMGW refuses to delete a referenced meter profile. */
	if (type != NULL && strcmp(type, "meter") == 0 &&
	    (user = meter_user(profiles, json_string_value(json_object_get(doc, "meter_id")),
	        NULL)) != NULL)
		return FAIL("referenced", TW_E_DENIED, "meter profile %s is referenced by evaluation "
			"profile %s", pid, user);
	snprintf(line, sizeof(line), "profile %s (%s) deleted", pid, type ? type : "?");
	if (json_object_del(profiles, pid) != 0)
		return FAIL("internal", TW_E_INTERNAL, "cannot delete profile %s", pid);
	if ((rc = sim_monitor_log(gw, "system", line, err)) != TW_OK ||
	    (rc = profile_set_of(gw, &set, err)) != TW_OK) {
		*code = "internal";
		return rc;
	}
	*result = json_pack("{s:s,s:o}", "profile_id", pid, "profiles", set);
	return *result != NULL ? TW_OK : FAIL("internal", TW_E_NOMEM, "out of memory");
}

const struct sim_order_handler sim_order_profile_delete = { "profile-delete",
	delete_execute };

static tw_rc read_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const char *want = json_string_value(json_object_get(payload, "profile_id"));
	json_t *profiles, *docs = NULL, *set = NULL, *doc;
	const char *pid;
	tw_rc rc = TW_OK;

	*result = NULL;
	if (!addressed_to_me(gw, payload))
		return FAIL("wrong_gateway", TW_E_DENIED, "profile order is addressed to another "
			"gateway");
	if ((profiles = profiles_of(gw)) == NULL || (docs = json_array()) == NULL)
		return FAIL("internal", TW_E_NOMEM, "out of memory");
	if (want != NULL && json_object_get(profiles, want) == NULL) {
		json_decref(docs);
		return FAIL("not_found", TW_E_NOT_FOUND, "no profile %s on this gateway", want);
	}
	json_object_foreach(profiles, pid, doc) {
		enum profile_type t;
		json_t *masked = NULL;

		if (want != NULL && strcmp(pid, want) != 0)
			continue;
		/* Secrets never leave the gateway in a read (T-PV, "ungesicherte Betriebsdaten"). */
		if (profile_type_parse(json_string_value(json_object_get(doc, "type")), &t,
		    err) != TW_OK ||
		    (rc = profile_secrets(doc, t, PROFILE_MASK_SECRETS, NULL, gw->id, &masked,
		        err)) != TW_OK ||
		    json_array_append_new(docs, masked) != 0) {
			json_decref(docs);
			return FAIL("internal", TW_E_INTERNAL, "cannot read profile %s", pid);
		}
	}
	if ((rc = profile_set_of(gw, &set, err)) != TW_OK) {
		json_decref(docs);
		*code = "internal";
		return rc;
	}
	*result = json_pack("{s:o,s:o}", "documents", docs, "profiles", set);
	return *result != NULL ? TW_OK : FAIL("internal", TW_E_NOMEM, "out of memory");
}

const struct sim_order_handler sim_order_profile_read = { "profile-read", read_execute };

static tw_rc status_profiles(struct sim_gw *gw, json_t **value, struct tw_error *err)
{
	return profile_set_of(gw, value, err);
}

const struct sim_status_provider sim_status_profiles = { "profiles", status_profiles };
