/*
 * profile_reput.c: profiles put again after an EMT's or meter's key change
 * (profile_reput.h).
 */
#include "gwa/profile_reput.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/util.h"
#include "gwa/job.h"
#include "pki/request.h"
#include "store/store_profile_reput.h"
#include "store/store_profiles.h"

#define RP_CERT_MAX (16 * 1024)   /* an EMT TLS certificate is far smaller */

void profile_reput_spec_clear(struct profile_reput_spec *s)
{
	if (s == NULL)
		return;
	free(s->cert_b64);
	tw_wipe(s, sizeof(*s));
}

/* The OU of x's subject is mpid. */
static bool rp_ou_is(X509 *x, const char *mpid)
{
	const X509_NAME *n = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
	const ASN1_STRING *s;

	if (i < 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	return s != NULL && (size_t)ASN1_STRING_length(s) == strlen(mpid) &&
		memcmp(ASN1_STRING_get0_data(s), mpid, strlen(mpid)) == 0;
}

tw_rc profile_reput_spec_emt(struct tw_store *store, const char *mpid,
	const unsigned char *cert, size_t len, struct profile_reput_spec *out,
	struct tw_error *err)
{
	struct store_certificate row;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	const unsigned char *p;
	unsigned int mdlen = 0;
	size_t der_len = 0;
	X509 *x = NULL;
	bool found = false;
	char fp[65];
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&row, 0, sizeof(row));
	if (!profile_id_valid(mpid))
		return tw_error_set(err, TW_E_INVALID, "--emt: an EMT's market partner id (1..64 "
			"of letters, digits, '.', '_', '-')");
	if (cert == NULL) {
		if ((rc = store_emt_tls_current(store, mpid, fp, &found, err)) != TW_OK)
			goto out;
		if (!found) {
			rc = tw_error_set(err, TW_E_NOT_FOUND, "this home issued no valid TLS "
				"certificate to an EMT with market partner id %s: give its new certificate "
				"with --cert FILE", mpid);
			goto out;
		}
		if ((rc = store_certificate_get_by_fingerprint(store, fp, &row, err)) != TW_OK)
			goto out;
		if ((der = malloc(row.der_len)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(der, row.der, row.der_len);
		der_len = row.der_len;
	} else if ((rc = request_decode(cert, len, &der, &der_len, err)) != TW_OK) {
		goto out;
	}
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)der_len)) == NULL || p != der + der_len) {
		rc = tw_error_set(err, TW_E_INVALID, "the EMT's certificate is not one X.509 "
			"certificate (PEM or DER)");
		goto out;
	}
	if (!rp_ou_is(x, mpid)) {
		rc = tw_error_set(err, TW_E_INVALID, "the certificate's subject does not name EMT "
			"%s as its OU (market partner id): not this EMT's certificate", mpid);
		goto out;
	}
	if (EVP_Digest(der, der_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32 ||
	    (out->cert_b64 = calloc(1, (der_len + 2) / 3 * 4 + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot encode the certificate");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)out->cert_b64, der, (int)der_len);
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out->fingerprint + 2 * i, 3, "%02x", md[i]);
	out->kind = PROFILE_REPUT_EMT;
	snprintf(out->id, sizeof(out->id), "%s", mpid);
	rc = TW_OK;
out:
	if (rc != TW_OK)
		profile_reput_spec_clear(out);
	X509_free(x);
	free(der);
	store_certificate_clear(&row);
	return rc;
}

tw_rc profile_reput_spec_meter(const char *meter_id, const char *key_hex,
	const char *key_ref, struct profile_reput_spec *out, struct tw_error *err)
{
	size_t len = key_hex != NULL ? strlen(key_hex) : 0;

	memset(out, 0, sizeof(*out));
	if (!profile_id_valid(meter_id))
		return tw_error_set(err, TW_E_INVALID, "--meter: a meter id (1..64 of letters, "
			"digits, '.', '_', '-')");
	if (len != 32 && len != 64)
		return tw_error_set(err, TW_E_INVALID, "the new meter key must be 32 (aes-128) or "
			"64 (aes-256) hexadecimal digits");
	for (size_t i = 0; i < len; i++)
		if (!((key_hex[i] >= '0' && key_hex[i] <= '9') ||
		      (key_hex[i] >= 'a' && key_hex[i] <= 'f') ||
		      (key_hex[i] >= 'A' && key_hex[i] <= 'F')))
			return tw_error_set(err, TW_E_INVALID, "the new meter key must be hexadecimal");
	if (key_ref != NULL && !profile_id_valid(key_ref))
		return tw_error_set(err, TW_E_INVALID, "--key-ref: 1..64 of letters, digits, '.', "
			"'_', '-'");
	out->kind = PROFILE_REPUT_METER;
	snprintf(out->id, sizeof(out->id), "%s", meter_id);
	snprintf(out->key_hex, sizeof(out->key_hex), "%s", key_hex);
	snprintf(out->key_ref, sizeof(out->key_ref), "%s", key_ref != NULL ? key_ref : "");
	return TW_OK;
}

/* The member of doc (a profile of type) that names spec->id, or NULL: not concerned. */
static const char *rp_member(const struct profile_reput_spec *spec, const char *type)
{
	if (type == NULL)
		return NULL;
	if (spec->kind == PROFILE_REPUT_EMT && strcmp(type, "wan") == 0)
		return "recipient";
	if (spec->kind == PROFILE_REPUT_EMT && strcmp(type, "proxy") == 0)
		return "emt";
	if (spec->kind == PROFILE_REPUT_METER && strcmp(type, "meter") == 0)
		return "meter_id";
	return NULL;
}

/*
 * The desired document of (gateway, profile) rebuilt with the new key: *out (caller's)
 * NULL when the profile is not concerned or already carries it. before: what it carried.
 */
static tw_rc rp_rebuild(struct tw_store *store, const struct secretbox *sb,
	const struct profile_reput_spec *spec, const char *gateway, const char *pid,
	json_t **out, char before[80], struct tw_error *err)
{
	json_t *doc = NULL, *copy = NULL, *key;
	const char *type, *member;
	char hash[65], now[65];
	tw_rc rc;

	*out = NULL;
	before[0] = '\0';
	if ((rc = profile_admin_wire(store, sb, gateway, pid, &doc, hash, err)) != TW_OK)
		return rc;
	type = json_string_value(json_object_get(doc, "type"));
	member = rp_member(spec, type);
	if (member == NULL || json_string_value(json_object_get(doc, member)) == NULL ||
	    strcmp(json_string_value(json_object_get(doc, member)), spec->id) != 0)
		goto out;
	if ((copy = json_deep_copy(doc)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (spec->kind == PROFILE_REPUT_EMT) {
		bool wan = strcmp(type, "wan") == 0;
		const char *fpk = wan ? "tls_cert_fingerprint" : "emt_tls_cert_fingerprint";

		snprintf(before, 80, "%s", json_string_value(json_object_get(doc, fpk)) ?
			json_string_value(json_object_get(doc, fpk)) : "");
		if (json_object_set_new(copy, fpk, json_string(spec->fingerprint)) != 0 ||
		    json_object_set_new(copy, wan ? "tls_cert" : "emt_tls_cert",
		        json_string(spec->cert_b64)) != 0)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	} else {
		key = json_object_get(copy, "key");
		snprintf(before, 80, "key ref %s", json_string_value(json_object_get(key, "ref")) ?
			json_string_value(json_object_get(key, "ref")) : "?");
		if (!json_is_object(key) ||
		    json_object_set_new(key, "value", json_string(spec->key_hex)) != 0 ||
		    json_object_set_new(key, "algorithm", json_string(strlen(spec->key_hex) == 32 ?
		        "aes-128" : "aes-256")) != 0 ||
		    (spec->key_ref[0] != '\0' &&
		     json_object_set_new(key, "ref", json_string(spec->key_ref)) != 0))
			rc = tw_error_set(err, TW_E_NOMEM, "cannot rebuild meter profile %s", pid);
	}
	if (rc == TW_OK && (rc = profile_hash(copy, now, err)) == TW_OK &&
	    strcmp(now, hash) != 0) {
		*out = copy;
		copy = NULL;
	}
out:
	json_decref(copy);
	json_decref(doc);
	return rc;
}

struct rp_ids {
	char (*ids)[STORE_ID_MAX + 1];
	size_t n, cap;
	bool nomem;
};

static int rp_add(struct rp_ids *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *more = realloc(l->ids, cap * sizeof(*l->ids));

		if (more == NULL) {
			l->nomem = true;
			return 1;
		}
		l->ids = more;
		l->cap = cap;
	}
	snprintf(l->ids[l->n++], STORE_ID_MAX + 1, "%s", id);
	return 0;
}

static int rp_gateway(const struct store_gateway *gw, void *arg)
{
	return rp_add(arg, gw->gateway_id);
}

struct rp_scan {
	const struct profile_reput_spec *spec;
	struct rp_ids pids;
};

/* Candidates from the stored row: the member naming the id is never a secret. */
static int rp_profile(const struct store_profile *p, void *arg)
{
	struct rp_scan *s = arg;
	const char *member = rp_member(s->spec, p->type);
	json_t *doc;
	int stop = 0;

	if (member == NULL || p->doc == NULL)
		return 0;
	doc = json_loads(p->doc, 0, NULL);
	if (doc != NULL && json_string_value(json_object_get(doc, member)) != NULL &&
	    strcmp(json_string_value(json_object_get(doc, member)), s->spec->id) == 0)
		stop = rp_add(&s->pids, p->profile_id);
	json_decref(doc);
	return stop;
}

tw_rc profile_reput_find(struct tw_store *store, const struct secretbox *sb,
	const struct profile_reput_spec *spec, const char *selection,
	struct profile_reput_item **items, size_t *n, size_t *gateways, struct tw_error *err)
{
	struct rp_ids gws = { 0 };
	struct profile_reput_item *list = NULL;
	size_t cap = 0;
	tw_rc rc;

	*items = NULL;
	*n = 0;
	*gateways = 0;
	if (strncmp(selection, "id:", 3) == 0) {
		struct store_gateway gw;

		if ((rc = store_gateway_get(store, selection + 3, &gw, err)) == TW_OK)
			rp_add(&gws, gw.gateway_id);
	} else {
		rc = job_fleet_foreach(store, selection, rp_gateway, &gws, err);
	}
	if (rc == TW_OK && gws.nomem)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t g = 0; rc == TW_OK && g < gws.n; g++) {
		struct rp_scan s = { .spec = spec };
		bool counted = false;

		rc = store_profile_foreach(store, gws.ids[g], rp_profile, &s, err);
		if (rc == TW_OK && s.pids.nomem)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		for (size_t i = 0; rc == TW_OK && i < s.pids.n; i++) {
			json_t *doc = NULL;
			char before[80];

			if ((rc = rp_rebuild(store, sb, spec, gws.ids[g], s.pids.ids[i], &doc, before,
			    err)) != TW_OK || doc == NULL)
				continue;
			if (*n == cap) {
				void *more = realloc(list, (cap = cap ? cap * 2 : 16) * sizeof(*list));

				if (more == NULL) {
					json_decref(doc);
					rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
					break;
				}
				list = more;
			}
			memset(&list[*n], 0, sizeof(list[*n]));
			snprintf(list[*n].gateway_id, sizeof(list[*n].gateway_id), "%s", gws.ids[g]);
			snprintf(list[*n].profile_id, sizeof(list[*n].profile_id), "%s", s.pids.ids[i]);
			snprintf(list[*n].type, sizeof(list[*n].type), "%s",
				json_string_value(json_object_get(doc, "type")));
			snprintf(list[*n].before, sizeof(list[*n].before), "%s", before);
			(*n)++;
			if (!counted)
				(*gateways)++;
			counted = true;
			json_decref(doc);
		}
		free(s.pids.ids);
	}
	free(gws.ids);
	if (rc != TW_OK) {
		free(list);
		*n = 0;
		*gateways = 0;
		return rc;
	}
	*items = list;
	return TW_OK;
}

tw_rc profile_reput_apply(struct tw_store *store, const struct secretbox *sb,
	const struct profile_who *who, const struct profile_reput_spec *spec,
	const struct profile_reput_item *items, size_t n, int64_t *job_ids, size_t *done,
	struct tw_error *err)
{
	char object[PROFILE_ID_MAX + 8], detail[STORE_TEXT_MAX + 1];
	struct audit_entry e;
	struct tw_error aerr;
	size_t i;
	tw_rc rc = TW_OK;

	*done = 0;
	for (i = 0; i < n && rc == TW_OK; i++) {
		struct profile_put_result res;
		json_t *doc = NULL;
		char before[80], *text = NULL;
		int64_t job = 0;

		if (job_ids != NULL)
			job_ids[i] = 0;
		if ((rc = rp_rebuild(store, sb, spec, items[i].gateway_id, items[i].profile_id, &doc,
		    before, err)) != TW_OK || doc == NULL)
			continue;   /* changed meanwhile: it carries the new key already */
		if ((text = json_dumps(doc, JSON_COMPACT)) == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else if ((rc = profile_admin_put_job(store, sb, who, items[i].gateway_id, text,
		    strlen(text), true, &res, &job, err)) == TW_OK) {
			(*done)++;
			if (job_ids != NULL)
				job_ids[i] = job;
		}
		if (text != NULL) {
			tw_wipe(text, strlen(text));   /* a meter document holds the key in clear */
			free(text);
		}
		json_decref(doc);
	}
	snprintf(object, sizeof(object), "%s:%s", spec->kind == PROFILE_REPUT_EMT ? "emt" :
		"meter", spec->id);
	if (rc == TW_OK)
		snprintf(detail, sizeof(detail), "%zu of %zu affected profiles put again with the "
			"new %s%s%.16s", *done, n, spec->kind == PROFILE_REPUT_EMT ?
			"TLS certificate" : "key", spec->kind == PROFILE_REPUT_EMT ? ", sha256 " : "",
			spec->kind == PROFILE_REPUT_EMT ? spec->fingerprint : "");
	else
		snprintf(detail, sizeof(detail), "stopped after %zu of %zu profiles at %s %s: %s",
			*done, n, items[i - 1].gateway_id, items[i - 1].profile_id, err->message);
	e = (struct audit_entry){ .actor = who->actor, .role = who->role, .client = who->client,
		.action = "profile.reput", .object = object, .result = rc == TW_OK ? "ok" : "error",
		.detail = detail };
	if (audit_append(store, &e, &aerr) != TW_OK && rc == TW_OK)
		rc = tw_error_set(err, aerr.code, "%s", aerr.message);
	return rc;
}
