/*
 * profile_admin.c: the desired profile set of each gateway, the checks that need the
 * store, the reported set and drift (see profile_admin.h).
 *
 * The whole desired set of one gateway (at most PROFILE_SET_MAX profiles) is loaded for
 * every check: references between profiles are few and the set is small, and checking
 * in C against one snapshot read inside the write transaction keeps the rules in one
 * readable place instead of spreading them over SQL.
 */
#include "gwa/profile_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "audit/alert.h"
#include "base/util.h"
#include "gwa/job.h"
#include "store/store_profiles.h"

/* One desired profile: its row and (for reference checks) its parsed sealed JSON. */
struct pa_entry {
	struct store_profile row;   /* row.doc owned */
	enum profile_type type;
	json_t *json;               /* sealed document; owned */
};

struct pa_set {
	struct pa_entry *e;
	size_t n;
	tw_rc rc;
	struct tw_error *err;
};

static void pa_set_free(struct pa_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		store_profile_clear(&s->e[i].row);
		json_decref(s->e[i].json);
	}
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static int pa_collect(const struct store_profile *p, void *arg)
{
	struct pa_set *s = arg;
	struct pa_entry *e;
	json_error_t jerr;

	if (s->n >= PROFILE_SET_MAX) {
		s->rc = tw_error_set(s->err, TW_E_INTEGRITY, "gateway %s has more than %d profiles",
			p->gateway_id, PROFILE_SET_MAX);
		return 1;
	}
	e = &s->e[s->n];
	memset(e, 0, sizeof(*e));
	if (profile_type_parse(p->type, &e->type, NULL) != TW_OK ||
	    (e->json = json_loads(p->doc, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		s->rc = tw_error_set(s->err, TW_E_INTEGRITY,
			"stored profile %s of %s is unreadable (edited database?)", p->profile_id,
			p->gateway_id);
		return 1;
	}
	e->row = *p;
	if ((e->row.doc = tw_strdup(p->doc)) == NULL) {
		json_decref(e->json);
		s->rc = tw_error_set(s->err, TW_E_NOMEM, "out of memory");
		return 1;
	}
	s->n++;
	return 0;
}

static tw_rc pa_set_load(struct tw_store *store, const char *gateway_id, struct pa_set *s,
	struct tw_error *err)
{
	tw_rc rc;

	memset(s, 0, sizeof(*s));
	s->err = err;
	if ((s->e = calloc(PROFILE_SET_MAX, sizeof(*s->e))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = store_profile_foreach(store, gateway_id, pa_collect, s, err);
	if (rc == TW_OK)
		rc = s->rc;
	if (rc != TW_OK)
		pa_set_free(s);
	return rc;
}

static struct pa_entry *pa_find(struct pa_set *s, const char *profile_id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->e[i].row.profile_id, profile_id) == 0)
			return &s->e[i];
	}
	return NULL;
}

static const char *pa_str(const json_t *obj, const char *key)
{
	const char *v = json_string_value(json_object_get(obj, key));

	return v != NULL ? v : "";
}

/* The evaluation profile of s (other than skip) that names meter_id, or NULL. */
static struct pa_entry *pa_meter_user(struct pa_set *s, const char *meter_id,
	const char *skip)
{
	for (size_t i = 0; i < s->n; i++) {
		const json_t *m = json_object_get(s->e[i].json, "meters");

		if (s->e[i].type != PROFILE_EVALUATION ||
		    (skip != NULL && strcmp(s->e[i].row.profile_id, skip) == 0))
			continue;
		for (size_t j = 0; j < json_array_size(m); j++) {
			const char *v = json_string_value(json_array_get(m, j));

			if (v != NULL && strcmp(v, meter_id) == 0)
				return &s->e[i];
		}
	}
	return NULL;
}

/* The evaluation profile naming WAN profile wan_id (or, with emt, EMT emt), or NULL. */
static struct pa_entry *pa_recipient_user(struct pa_set *s, const char *wan_id,
	const char *emt)
{
	for (size_t i = 0; i < s->n; i++) {
		const json_t *r = json_object_get(s->e[i].json, "recipients");

		if (s->e[i].type != PROFILE_EVALUATION)
			continue;
		for (size_t j = 0; j < json_array_size(r); j++) {
			const json_t *x = json_array_get(r, j);

			if ((wan_id != NULL && strcmp(pa_str(x, "wan_profile"), wan_id) == 0) ||
			    (emt != NULL && strcmp(pa_str(x, "emt"), emt) == 0))
				return &s->e[i];
		}
	}
	return NULL;
}

/* The context rules of profile_admin_check against the loaded set s. */
static tw_rc pa_check_context(struct tw_store *store, const char *gw, struct pa_set *s,
	const struct profile_doc *doc, struct tw_error *err)
{
	struct pa_entry *old = pa_find(s, doc->profile_id), *user;
	const char *pid = doc->profile_id;
	bool yes;
	tw_rc rc;

	if (old != NULL && old->type != doc->type)
		return tw_error_set(err, TW_E_INVALID, "profile \"%s\" of %s is a %s profile; a %s "
			"profile needs another id (or delete the old one first)", pid, gw,
			profile_type_name(old->type), profile_type_name(doc->type));
	if (old == NULL && s->n >= PROFILE_SET_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "gateway %s already holds %d profiles", gw,
			PROFILE_SET_MAX);
	switch (doc->type) {
	case PROFILE_METER:
		for (size_t i = 0; i < s->n; i++) {
			if (s->e[i].type == PROFILE_METER && strcmp(s->e[i].row.profile_id, pid) != 0 &&
			    strcmp(pa_str(s->e[i].json, "meter_id"), profile_meter_id(doc)) == 0)
				return tw_error_set(err, TW_E_INVALID, "profile \"%s\": meter %s already "
					"has meter profile \"%s\" on %s", pid, profile_meter_id(doc),
					s->e[i].row.profile_id, gw);
		}
		if (old != NULL && strcmp(pa_str(old->json, "meter_id"), profile_meter_id(doc)) != 0 &&
		    (user = pa_meter_user(s, pa_str(old->json, "meter_id"), NULL)) != NULL)
			return tw_error_set(err, TW_E_DENIED, "profile \"%s\": meter %s is still "
				"referenced by evaluation profile \"%s\"; its meter id cannot change", pid,
				pa_str(old->json, "meter_id"), user->row.profile_id);
		break;
	case PROFILE_WAN:
		if (old != NULL && strcmp(pa_str(old->json, "recipient"),
		    profile_wan_recipient(doc)) != 0 &&
		    (user = pa_recipient_user(s, pid, NULL)) != NULL)
			return tw_error_set(err, TW_E_DENIED, "profile \"%s\": evaluation profile \"%s\" "
				"sends to EMT %s through it; its recipient cannot change", pid,
				user->row.profile_id, pa_str(old->json, "recipient"));
		break;
	case PROFILE_EVALUATION:
		for (size_t i = 0; i < profile_eval_meter_count(doc); i++) {
			const char *m = profile_eval_meter(doc, i);
			bool found = false;

			for (size_t j = 0; j < s->n && !found; j++)
				found = s->e[j].type == PROFILE_METER &&
					strcmp(pa_str(s->e[j].json, "meter_id"), m) == 0;
			if (!found)
				return tw_error_set(err, TW_E_INVALID, "profile \"%s\": meter %s has no meter "
					"profile on %s; put the meter profile first", pid, m, gw);
		}
		for (size_t i = 0; i < profile_eval_recipient_count(doc); i++) {
			const char *emt, *wan;
			struct pa_entry *w;

			profile_eval_recipient(doc, i, &emt, &wan);
			if ((rc = store_emt_is_authorised(store, gw, emt, &yes, err)) != TW_OK)
				return rc;
			if (!yes)
				return tw_error_set(err, TW_E_DENIED, "profile \"%s\": recipient %s is not an "
					"authorised EMT of gateway %s (T-PV.4); authorise it with `torwart "
					"profile authorise-emt` if that is intended", pid, emt, gw);
			w = pa_find(s, wan);
			if (w == NULL || w->type != PROFILE_WAN)
				return tw_error_set(err, TW_E_INVALID, "profile \"%s\": recipient %s names WAN "
					"profile \"%s\", which %s has not got", pid, emt, wan, gw);
			if (strcmp(pa_str(w->json, "recipient"), emt) != 0)
				return tw_error_set(err, TW_E_DENIED, "profile \"%s\": WAN profile \"%s\" "
					"sends to %s, not to recipient %s (T-PV.4)", pid, wan,
					pa_str(w->json, "recipient"), emt);
		}
		break;
	default:
		break;
	}
	return TW_OK;
}

tw_rc profile_admin_check(struct tw_store *store, const char *gateway_id, const void *data,
	size_t len, struct profile_doc **doc, struct tw_error *err)
{
	struct store_gateway gw;
	struct pa_set set;
	tw_rc rc;

	*doc = NULL;
	memset(&set, 0, sizeof(set));
	if (!profile_id_valid(gateway_id)) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway id must be 1..64 of [A-Za-z0-9._-]");
		goto out;
	}
	if ((rc = store_gateway_get(store, gateway_id, &gw, err)) != TW_OK ||
	    (rc = profile_parse(data, len, doc, err)) != TW_OK ||
	    (rc = pa_set_load(store, gateway_id, &set, err)) != TW_OK)
		goto out;
	rc = pa_check_context(store, gateway_id, &set, *doc, err);
out:
	if (rc != TW_OK) {
		profile_doc_free(*doc);
		*doc = NULL;
	}
	pa_set_free(&set);
	return rc;
}

static tw_rc pa_audit_tx(struct tw_store *store, const struct profile_who *who,
	const char *action, const char *object, const char *result, const char *detail,
	struct tw_error *err)
{
	struct audit_entry a = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail };

	return store_in_transaction(store) ? audit_append_in_tx(store, &a, err) :
		audit_append(store, &a, err);
}

tw_rc profile_admin_put_in_tx(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	struct profile_put_result *res, struct tw_error *err)
{
	struct profile_doc *doc = NULL;
	struct store_profile row;
	json_t *sealed = NULL;
	char object[2 * PROFILE_ID_MAX + 2], detail[160];
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&row, 0, sizeof(row));
	if (!store_in_transaction(store)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "profile_admin_put_in_tx outside a transaction");
		goto out;
	}
	if ((rc = profile_admin_check(store, gateway_id, data, len, &doc, err)) != TW_OK ||
	    (rc = profile_hash(doc->json, row.hash, err)) != TW_OK ||
	    (rc = profile_secrets(doc->json, doc->type, PROFILE_SEAL, sb, gateway_id, &sealed,
	        err)) != TW_OK ||
	    (rc = profile_canonical(sealed, &row.doc, err)) != TW_OK)
		goto out;
	snprintf(row.gateway_id, sizeof(row.gateway_id), "%s", gateway_id);
	snprintf(row.profile_id, sizeof(row.profile_id), "%s", doc->profile_id);
	snprintf(row.type, sizeof(row.type), "%s", profile_type_name(doc->type));
	row.updated_ms = tw_now_ms();
	if ((rc = store_profile_put(store, &row, &res->replaced, err)) != TW_OK)
		goto out;
	snprintf(object, sizeof(object), "%s/%s", gateway_id, doc->profile_id);
	snprintf(detail, sizeof(detail), "%s %s profile, sha256 %s", res->replaced ?
		"replaced" : "inserted", profile_type_name(doc->type), row.hash);
	if ((rc = pa_audit_tx(store, who, "profile.put", object, "ok", detail, err)) != TW_OK)
		goto out;
	memcpy(res->profile_id, row.profile_id, sizeof(res->profile_id));
	memcpy(res->type, row.type, sizeof(res->type));
	memcpy(res->hash, row.hash, sizeof(res->hash));
out:
	json_decref(sealed);
	store_profile_clear(&row);
	profile_doc_free(doc);
	return rc;
}

/* Log a refusal outside any transaction; the original error stays in err. */
static void pa_refused(struct tw_store *store, const struct profile_who *who,
	const char *action, const char *gateway_id, const char *what, const struct tw_error *why)
{
	char object[2 * PROFILE_ID_MAX + 2];
	struct tw_error ignored;

	snprintf(object, sizeof(object), "%.64s/%.64s", gateway_id != NULL ? gateway_id : "?",
		what != NULL ? what : "?");
	(void)pa_audit_tx(store, who, action, object, "refused", why->message, &ignored);
}

/* The order job of a put or delete, in the caller's transaction; payload is consumed. */
static tw_rc pa_job_in_tx(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *type, json_t *payload, int64_t *job_id,
	struct tw_error *err)
{
	struct job_actor jwho = { .actor = who->actor, .role = who->role,
		.client = who->client };
	struct job_spec spec;
	tw_rc rc;

	if (payload == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory building the %s order", type);
	memset(&spec, 0, sizeof(spec));
	spec.type = type;
	spec.payload = payload;
	spec.retry_delay_s = -1;
	rc = job_create_in_tx(store, gateway_id, &spec, &jwho, job_id, err);
	json_decref(payload);
	return rc;
}

tw_rc profile_admin_put_job(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	bool with_job, struct profile_put_result *res, int64_t *job_id, struct tw_error *err)
{
	tw_rc rc;

	*job_id = 0;
	memset(res, 0, sizeof(*res));
	/* What needs no store is checked before the transaction is opened. */
	if (!profile_id_valid(gateway_id)) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway id must be 1..64 of [A-Za-z0-9._-]");
		goto refused;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto refused;
	rc = profile_admin_put_in_tx(store, sb, who, gateway_id, data, len, res, err);
	if (rc == TW_OK && with_job)
		rc = pa_job_in_tx(store, who, gateway_id, "profile-insert", json_pack("{s:s,s:s}",
			"profile_id", res->profile_id, "hash", res->hash), job_id, err);
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);   /* the profile, the job and their log entries alike */
refused:
	if (rc != TW_OK) {
		*job_id = 0;
		memset(res, 0, sizeof(*res));
		if (err != NULL)
			pa_refused(store, who, "profile.put", gateway_id, "(document)", err);
	}
	return rc;
}

tw_rc profile_admin_put(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const char *gateway_id, const void *data, size_t len,
	struct profile_put_result *res, struct tw_error *err)
{
	int64_t job_id;

	return profile_admin_put_job(store, sb, who, gateway_id, data, len, false, res, &job_id,
		err);
}

tw_rc profile_admin_delete_in_tx(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, struct tw_error *err)
{
	struct pa_set set;
	struct pa_entry *e, *user = NULL;
	char object[2 * PROFILE_ID_MAX + 2], detail[160];
	tw_rc rc;

	memset(&set, 0, sizeof(set));
	if (!store_in_transaction(store)) {
		rc = tw_error_set(err, TW_E_INTERNAL,
			"profile_admin_delete_in_tx outside a transaction");
		goto out;
	}
	if (!profile_id_valid(gateway_id) || !profile_id_valid(profile_id)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"gateway and profile ids must be 1..64 of [A-Za-z0-9._-]");
		goto out;
	}
	if ((rc = pa_set_load(store, gateway_id, &set, err)) != TW_OK)
		goto out;
	if ((e = pa_find(&set, profile_id)) == NULL) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no profile \"%s\"",
			gateway_id, profile_id);
		goto out;
	}
	/* UC-3.3.2 footnote 3: a referenced meter profile must not be deleted. */
	if (e->type == PROFILE_METER &&
	    (user = pa_meter_user(&set, pa_str(e->json, "meter_id"), NULL)) != NULL) {
		rc = tw_error_set(err, TW_E_DENIED, "meter profile \"%s\" (meter %s) is still "
			"referenced by evaluation profile \"%s\"; change or delete that first",
			profile_id, pa_str(e->json, "meter_id"), user->row.profile_id);
		goto out;
	}
	if (e->type == PROFILE_WAN && (user = pa_recipient_user(&set, profile_id, NULL)) != NULL) {
		rc = tw_error_set(err, TW_E_DENIED, "WAN profile \"%s\" is still used by evaluation "
			"profile \"%s\"; change or delete that first", profile_id, user->row.profile_id);
		goto out;
	}
	if ((rc = store_profile_delete(store, gateway_id, profile_id, err)) != TW_OK)
		goto out;
	snprintf(object, sizeof(object), "%s/%s", gateway_id, profile_id);
	snprintf(detail, sizeof(detail), "deleted %s profile, was sha256 %s",
		profile_type_name(e->type), e->row.hash);
	rc = pa_audit_tx(store, who, "profile.delete", object, "ok", detail, err);
out:
	pa_set_free(&set);
	return rc;
}

tw_rc profile_admin_delete_job(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, bool with_job, int64_t *job_id,
	struct tw_error *err)
{
	tw_rc rc;

	*job_id = 0;
	if (!profile_id_valid(gateway_id) || !profile_id_valid(profile_id)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"gateway and profile ids must be 1..64 of [A-Za-z0-9._-]");
		goto refused;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto refused;
	rc = profile_admin_delete_in_tx(store, who, gateway_id, profile_id, err);
	if (rc == TW_OK && with_job)
		rc = pa_job_in_tx(store, who, gateway_id, "profile-delete", json_pack("{s:s}",
			"profile_id", profile_id), job_id, err);
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
refused:
	if (rc != TW_OK) {
		*job_id = 0;
		if (err != NULL)
			pa_refused(store, who, "profile.delete", gateway_id, profile_id, err);
	}
	return rc;
}

tw_rc profile_admin_delete(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, struct tw_error *err)
{
	int64_t job_id;

	return profile_admin_delete_job(store, who, gateway_id, profile_id, false, &job_id, err);
}

/* Load one stored profile: row and parsed sealed JSON. */
static tw_rc pa_load_one(struct tw_store *store, const char *gateway_id,
	const char *profile_id, struct store_profile *row, json_t **json, enum profile_type *t,
	struct tw_error *err)
{
	json_error_t jerr;
	tw_rc rc;

	*json = NULL;
	if ((rc = store_profile_get(store, gateway_id, profile_id, row, err)) != TW_OK)
		return rc;
	if (profile_type_parse(row->type, t, NULL) != TW_OK ||
	    (*json = json_loads(row->doc, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		store_profile_clear(row);
		return tw_error_set(err, TW_E_INTEGRITY,
			"stored profile %s of %s is unreadable (edited database?)", profile_id,
			gateway_id);
	}
	return TW_OK;
}

tw_rc profile_admin_show(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *profile_id, json_t **doc, char type[16],
	char hash[65], struct tw_error *err)
{
	struct store_profile row;
	enum profile_type t;
	json_t *json = NULL;
	char object[2 * PROFILE_ID_MAX + 2];
	tw_rc rc;

	*doc = NULL;
	memset(&row, 0, sizeof(row));
	if ((rc = pa_load_one(store, gateway_id, profile_id, &row, &json, &t, err)) != TW_OK ||
	    (rc = profile_secrets(json, t, PROFILE_MASK_SECRETS, NULL, gateway_id, doc, err)) !=
	    TW_OK)
		goto out;
	snprintf(type, 16, "%s", row.type);
	snprintf(hash, 65, "%s", row.hash);
	snprintf(object, sizeof(object), "%s/%s", gateway_id, profile_id);
	/* Reads of profile content are logged (sensitive data, M-4.5.6.7). */
	rc = pa_audit_tx(store, who, "profile.read", object, "ok", "secrets masked", err);
out:
	if (rc != TW_OK) {
		json_decref(*doc);
		*doc = NULL;
	}
	json_decref(json);
	store_profile_clear(&row);
	return rc;
}

tw_rc profile_admin_wire(struct tw_store *store, const struct secretbox *sb,
	const char *gateway_id, const char *profile_id, json_t **doc, char hash[65],
	struct tw_error *err)
{
	struct store_profile row;
	enum profile_type t;
	json_t *json = NULL;
	char check[65];
	tw_rc rc;

	*doc = NULL;
	memset(&row, 0, sizeof(row));
	if ((rc = pa_load_one(store, gateway_id, profile_id, &row, &json, &t, err)) != TW_OK ||
	    (rc = profile_secrets(json, t, PROFILE_UNSEAL, sb, gateway_id, doc, err)) != TW_OK ||
	    (rc = profile_hash(*doc, check, err)) != TW_OK)
		goto out;
	/* The row's hash was taken over the plaintext at put time: a mismatch is tampering. */
	if (strcmp(check, row.hash) != 0) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "profile %s of %s does not match its stored "
			"hash (edited database?); put it again", profile_id, gateway_id);
		goto out;
	}
	snprintf(hash, 65, "%s", row.hash);
out:
	if (rc != TW_OK) {
		json_decref(*doc);
		*doc = NULL;
	}
	json_decref(json);
	store_profile_clear(&row);
	return rc;
}

/* ---- reported set and drift ---- */

const char *profile_drift_state_name(enum profile_drift_state s)
{
	switch (s) {
	case PROFILE_IN_SYNC: return "in-sync";
	case PROFILE_MISSING_AT_GATEWAY: return "missing-at-gateway";
	case PROFILE_UNEXPECTED_AT_GATEWAY: return "unexpected-at-gateway";
	case PROFILE_DIFFERS: return "differs";
	case PROFILE_NOT_REPORTED: return "not-reported";
	}
	return "unknown";
}

tw_rc profile_admin_desired_set(struct tw_store *store, const char *gateway_id,
	json_t **set, struct tw_error *err)
{
	struct profile_set_item *items = NULL;
	struct pa_set s;
	tw_rc rc;

	*set = NULL;
	if ((rc = pa_set_load(store, gateway_id, &s, err)) != TW_OK)
		return rc;
	if ((items = calloc(s.n > 0 ? s.n : 1, sizeof(*items))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		snprintf(items[i].profile_id, sizeof(items[i].profile_id), "%s", s.e[i].row.profile_id);
		snprintf(items[i].type, sizeof(items[i].type), "%s", s.e[i].row.type);
		snprintf(items[i].hash, sizeof(items[i].hash), "%s", s.e[i].row.hash);
	}
	rc = profile_set_to_json(items, s.n, set, err);
out:
	free(items);
	pa_set_free(&s);
	return rc;
}

void profile_drift_clear(struct profile_drift *d)
{
	if (d == NULL)
		return;
	free(d->rows);
	memset(d, 0, sizeof(*d));
}

static tw_rc pa_drift_compute(struct tw_store *store, const char *gateway_id,
	struct profile_drift *out, struct tw_error *err)
{
	struct store_profile_report rep;
	struct profile_set_item *rep_items = NULL;
	json_t *desired = NULL, *reported = NULL;
	const json_t *darr;
	json_error_t jerr;
	char dummy[65];
	size_t nrep = 0, nd;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&rep, 0, sizeof(rep));
	snprintf(out->gateway_id, sizeof(out->gateway_id), "%s", gateway_id);
	if ((rc = profile_admin_desired_set(store, gateway_id, &desired, err)) != TW_OK ||
	    (rc = store_profile_report_get(store, gateway_id, &rep, &out->reported, err)) != TW_OK)
		goto out;
	snprintf(out->desired_set_hash, sizeof(out->desired_set_hash), "%s",
		json_string_value(json_object_get(desired, "profile_set_hash")));
	if (out->reported) {
		snprintf(out->reported_set_hash, sizeof(out->reported_set_hash), "%s", rep.set_hash);
		snprintf(out->reported_source, sizeof(out->reported_source), "%s", rep.source);
		out->reported_ms = rep.reported_ms;
		reported = json_loads(rep.profiles, JSON_REJECT_DUPLICATES, &jerr);
		if (reported == NULL || (rc = profile_set_parse(reported, &rep_items, &nrep, dummy,
		    err)) != TW_OK) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "stored reported profile set of %s is "
				"unreadable (edited database?)", gateway_id);
			goto out;
		}
	}
	darr = json_object_get(desired, "profiles");
	nd = json_array_size(darr);
	if ((out->rows = calloc(nd + nrep + 1, sizeof(*out->rows))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nd; i++) {
		const json_t *d = json_array_get(darr, i);
		struct profile_drift_row *r = &out->rows[out->n++];

		snprintf(r->profile_id, sizeof(r->profile_id), "%s", pa_str(d, "profile_id"));
		snprintf(r->type, sizeof(r->type), "%s", pa_str(d, "type"));
		snprintf(r->desired_hash, sizeof(r->desired_hash), "%s", pa_str(d, "hash"));
		r->state = out->reported ? PROFILE_MISSING_AT_GATEWAY : PROFILE_NOT_REPORTED;
		for (size_t j = 0; j < nrep; j++) {
			if (strcmp(rep_items[j].profile_id, r->profile_id) != 0)
				continue;
			snprintf(r->reported_hash, sizeof(r->reported_hash), "%s", rep_items[j].hash);
			r->state = strcmp(rep_items[j].hash, r->desired_hash) == 0 &&
				strcmp(rep_items[j].type, r->type) == 0 ? PROFILE_IN_SYNC : PROFILE_DIFFERS;
		}
	}
	for (size_t j = 0; j < nrep; j++) {
		bool desired_too = false;

		for (size_t i = 0; i < nd && !desired_too; i++)
			desired_too = strcmp(out->rows[i].profile_id, rep_items[j].profile_id) == 0;
		if (!desired_too) {
			struct profile_drift_row *r = &out->rows[out->n++];

			snprintf(r->profile_id, sizeof(r->profile_id), "%s", rep_items[j].profile_id);
			snprintf(r->type, sizeof(r->type), "%s", rep_items[j].type);
			snprintf(r->reported_hash, sizeof(r->reported_hash), "%s", rep_items[j].hash);
			r->state = PROFILE_UNEXPECTED_AT_GATEWAY;
		}
	}
	out->in_sync = out->reported && strcmp(out->desired_set_hash, out->reported_set_hash) == 0;
out:
	if (rc != TW_OK)
		profile_drift_clear(out);
	free(rep_items);
	json_decref(desired);
	json_decref(reported);
	store_profile_report_clear(&rep);
	return rc;
}

tw_rc profile_admin_drift(struct tw_store *store, const char *gateway_id,
	struct profile_drift *out, struct tw_error *err)
{
	struct store_gateway gw;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (!profile_id_valid(gateway_id))
		return tw_error_set(err, TW_E_INVALID, "gateway id must be 1..64 of [A-Za-z0-9._-]");
	if ((rc = store_gateway_get(store, gateway_id, &gw, err)) != TW_OK)
		return rc;
	return pa_drift_compute(store, gateway_id, out, err);
}

/* True when the stored report already has set_hash and the desired set hashes the same. */
/*
 * Is the reported set the one reported last time, and in sync? (*same.) *old receives the
 * previous report (found: old->set_hash[0] != '\0'); the caller clears it.
 */
static tw_rc pa_unchanged_in_sync(struct tw_store *store, const char *gateway_id,
	const char *set_hash, bool *same, struct store_profile_report *old, struct tw_error *err)
{
	json_t *desired = NULL;
	bool found = false;
	tw_rc rc;

	*same = false;
	memset(old, 0, sizeof(*old));
	if ((rc = store_profile_report_get(store, gateway_id, old, &found, err)) != TW_OK)
		return rc;
	if (!found)
		old->set_hash[0] = '\0';
	if (found && strcmp(old->set_hash, set_hash) == 0 &&
	    (rc = profile_admin_desired_set(store, gateway_id, &desired, err)) == TW_OK)
		*same = strcmp(pa_str(desired, "profile_set_hash"), set_hash) == 0;
	json_decref(desired);
	return rc;
}

/*
 * The hash the previous report (profile_set_to_json's object, as stored) gave profile_id,
 * copied into hash; "" when that report did not list it.
 */
static void pa_report_hash(const char *profiles, const char *profile_id, char hash[65])
{
	json_t *doc = profiles != NULL ? json_loads(profiles, 0, NULL) : NULL;
	size_t i;
	json_t *e;

	hash[0] = '\0';
	json_array_foreach(json_object_get(doc, "profiles"), i, e) {
		if (strcmp(pa_str(e, "profile_id"), profile_id) == 0)
			snprintf(hash, 65, "%s", pa_str(e, "hash"));
	}
	json_decref(doc);
}

/*
 * The drift alert (T-PV.3): raised for the profiles the GATEWAY changed since its previous
 * report (gained, lost or altered) that now depart from the desired set. Drift the
 * operators made (a desired profile put or deleted, not yet ordered) raises nothing, and
 * a drifting set reported again raises nothing again: one alert per change by the gateway.
 */
static tw_rc pa_drift_alert(struct tw_store *store, const char *gateway_id,
	const struct store_profile_report *old, const char *new_hash,
	const struct profile_drift *d, struct tw_error *err)
{
	char msg[512], ids[256] = "";
	size_t off = 0, count = 0;

	if (old->set_hash[0] == '\0' || strcmp(old->set_hash, new_hash) == 0)
		return TW_OK;
	for (size_t i = 0; i < d->n; i++) {
		const struct profile_drift_row *r = &d->rows[i];
		char before[65];
		int w;

		if (r->state == PROFILE_IN_SYNC || r->state == PROFILE_NOT_REPORTED)
			continue;
		pa_report_hash(old->profiles, r->profile_id, before);
		if (strcmp(before, r->reported_hash) == 0)
			continue;   /* the gateway still holds what it held: not its change */
		count++;
		w = snprintf(ids + off, sizeof(ids) - off, "%s%s (%s)", off > 0 ? ", " : "",
			r->profile_id, profile_drift_state_name(r->state));
		if (w < 0 || (size_t)w >= sizeof(ids) - off)
			break;
		off += (size_t)w;
	}
	if (count == 0)
		return TW_OK;
	snprintf(msg, sizeof(msg), "gateway %s changed its profiles away from the desired set: "
		"%s; see torwart profile list --gateway %s", gateway_id, ids, gateway_id);
	return alert_raise(store, ALERT_PROFILE_DRIFT, NULL, gateway_id, msg, err);
}

tw_rc profile_admin_report(struct tw_store *store, const char *gateway_id,
	const json_t *set, const char *source, const char *client, bool *drift,
	struct tw_error *err)
{
	struct store_profile_report rep, old;
	struct profile_set_item *items = NULL;
	struct profile_drift d;
	char actor[STORE_ID_MAX + 16], detail[256];
	bool own_tx = !store_in_transaction(store), same = false;
	json_t *canon = NULL;
	size_t n = 0;
	tw_rc rc;

	memset(&rep, 0, sizeof(rep));
	memset(&old, 0, sizeof(old));
	memset(&d, 0, sizeof(d));
	if (drift != NULL)
		*drift = false;
	if (!profile_id_valid(gateway_id)) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway id must be 1..64 of [A-Za-z0-9._-]");
		goto out;
	}
	if ((rc = profile_set_parse(set, &items, &n, rep.set_hash, err)) != TW_OK)
		goto out;
	/*
	 * The common case on every session: nothing changed and nothing drifts. Then there is
	 * nothing to store or log, and the session costs reads only (no write transaction in
	 * wan's event loop per session of a large fleet).
	 */
	if ((rc = pa_unchanged_in_sync(store, gateway_id, rep.set_hash, &same, &old, err)) !=
	    TW_OK)
		goto out;
	if (same)
		goto out;
	snprintf(rep.gateway_id, sizeof(rep.gateway_id), "%s", gateway_id);
	snprintf(rep.source, sizeof(rep.source), "%s", source);
	rep.reported_ms = tw_now_ms();
	if ((rc = profile_set_to_json(items, n, &canon, err)) != TW_OK)
		goto out;
	rep.profiles = json_dumps(canon, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(canon);
	if (rep.profiles == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (own_tx && (rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_profile_report_put(store, &rep, err)) != TW_OK ||
	    (rc = pa_drift_compute(store, gateway_id, &d, err)) != TW_OK ||
	    (rc = pa_drift_alert(store, gateway_id, &old, rep.set_hash, &d, err)) != TW_OK)
		goto rollback;
	snprintf(actor, sizeof(actor), "gateway:%s", gateway_id);
	snprintf(detail, sizeof(detail), "%zu profiles reported (%s), set %.16s..., desired "
		"%.16s...", n, source, rep.set_hash, d.desired_set_hash);
	{
		struct profile_who who = { .actor = actor, .role = "smgw",
			.client = client != NULL ? client : "" };

		if ((rc = pa_audit_tx(store, &who, "profile.report", gateway_id,
		    d.in_sync ? "in-sync" : "drift", detail, err)) != TW_OK)
			goto rollback;
	}
	if (own_tx && (rc = store_commit(store, err)) != TW_OK)
		goto out;
	if (drift != NULL)
		*drift = !d.in_sync;
	goto out;
rollback:
	if (own_tx)
		store_rollback(store);
out:
	profile_drift_clear(&d);
	free(items);
	store_profile_report_clear(&rep);
	store_profile_report_clear(&old);
	return rc;
}

/* ---- EMT authorisations ---- */

tw_rc profile_admin_emt(struct tw_store *store, const struct profile_who *who,
	const char *gateway_id, const char *emt_id, bool revoke, struct tw_error *err)
{
	struct pa_set set;
	struct pa_entry *user;
	const char *action = revoke ? "profile.emt.revoke" : "profile.emt.authorise";
	char object[2 * PROFILE_ID_MAX + 2];
	tw_rc rc;

	memset(&set, 0, sizeof(set));
	if (!profile_id_valid(gateway_id) || !profile_id_valid(emt_id)) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway and EMT ids must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto refused;
	}
	if ((rc = store_begin(store, err)) != TW_OK)
		goto refused;
	if (revoke) {
		if ((rc = pa_set_load(store, gateway_id, &set, err)) != TW_OK)
			goto rollback;
		if ((user = pa_recipient_user(&set, NULL, emt_id)) != NULL) {
			rc = tw_error_set(err, TW_E_DENIED, "EMT %s is a recipient in evaluation profile "
				"\"%s\" of %s; change that profile first", emt_id, user->row.profile_id,
				gateway_id);
			goto rollback;
		}
		rc = store_emt_revoke(store, gateway_id, emt_id, err);
	} else {
		rc = store_emt_authorise(store, gateway_id, emt_id, tw_now_ms(), err);
	}
	if (rc != TW_OK)
		goto rollback;
	snprintf(object, sizeof(object), "%s/%s", gateway_id, emt_id);
	if ((rc = pa_audit_tx(store, who, action, object, "ok", NULL, err)) != TW_OK)
		goto rollback;
	if ((rc = store_commit(store, err)) != TW_OK)
		goto refused;
	goto out;
rollback:
	store_rollback(store);
refused:
	if (rc != TW_OK && err != NULL)
		pa_refused(store, who, action, gateway_id, emt_id, err);
out:
	pa_set_free(&set);
	return rc;
}
