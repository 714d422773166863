/*
 * profile_set.c: canonical form and hashes of profiles and profile sets, the reported-set
 * codec, and the treatment of secrets inside profiles (sealing at rest, masking), see
 * profile.h. Split from profile.c (the schemas) to keep both readable in one sitting.
 */
#include "gwa/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "base/util.h"

static bool hex64(const char *s)
{
	size_t n;

	for (n = 0; s != NULL && s[n] != '\0'; n++) {
		if (n >= 64 || !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
		    (s[n] >= 'A' && s[n] <= 'F')))
			return false;
	}
	return n == 64;
}

/* Only the listed members may appear in obj. */
static bool only_members(const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)obj, key, val) {
		size_t i;

		(void)val;
		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL)
			return false;
	}
	return true;
}

/* ---- canonical form and hashes ---- */

tw_rc profile_canonical(const json_t *obj, char **out, struct tw_error *err)
{
	*out = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (*out == NULL)
		return tw_error_set(err, TW_E_NOMEM, "cannot encode a profile document");
	return TW_OK;
}

static tw_rc sha256_hex(const void *data, size_t len, char out[65], struct tw_error *err)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
	tw_hex_encode(md, 32, out);
	return TW_OK;
}

tw_rc profile_hash(const json_t *obj, char out[65], struct tw_error *err)
{
	char *text = NULL;
	tw_rc rc;

	out[0] = '\0';
	if ((rc = profile_canonical(obj, &text, err)) != TW_OK)
		return rc;
	rc = sha256_hex(text, strlen(text), out, err);
	/* The text may hold a meter key in clear. */
	tw_wipe(text, strlen(text));
	free(text);
	return rc;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct profile_set_item *)a)->profile_id,
		((const struct profile_set_item *)b)->profile_id);
}

tw_rc profile_set_hash(struct profile_set_item *items, size_t n, char out[65],
	struct tw_error *err)
{
	struct tw_buf buf;
	tw_rc rc = TW_OK;

	out[0] = '\0';
	if (n > PROFILE_SET_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "more than %d profiles in one set",
			PROFILE_SET_MAX);
	if (n > 1)
		qsort(items, n, sizeof(*items), item_cmp);
	tw_buf_init(&buf, (size_t)PROFILE_SET_MAX * (PROFILE_ID_MAX + PROFILE_TYPE_NAME_MAX + 68));
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		if (i > 0 && strcmp(items[i].profile_id, items[i - 1].profile_id) == 0)
			rc = tw_error_set(err, TW_E_INVALID, "profile \"%s\" appears twice in a set",
				items[i].profile_id);
		else
			rc = tw_buf_appendf(&buf, err, "%s %s %s\n", items[i].profile_id, items[i].type,
				items[i].hash);
	}
	if (rc == TW_OK)
		rc = sha256_hex(buf.len > 0 ? buf.data : (const unsigned char *)"", buf.len, out, err);
	tw_buf_free(&buf);
	return rc;
}

static const char *const set_members[] = { "profile_set_hash", "profiles", NULL };
static const char *const item_members[] = { "profile_id", "type", "hash", NULL };

tw_rc profile_set_parse(const json_t *obj, struct profile_set_item **items, size_t *n,
	char set_hash[65], struct tw_error *err)
{
	struct profile_set_item *it = NULL;
	const json_t *arr, *h;
	char computed[65];
	size_t count = 0;
	enum profile_type t;
	tw_rc rc;

	*items = NULL;
	*n = 0;
	set_hash[0] = '\0';
	h = json_object_get(obj, "profile_set_hash");
	if (!json_is_object(obj) || !only_members(obj, set_members) ||
	    !hex64(json_string_value(h))) {
		rc = tw_error_set(err, TW_E_INVALID, "a profile set must be {\"profile_set_hash\": "
			"64 hex digits, \"profiles\": [...]} and nothing else");
		goto out;
	}
	arr = json_object_get(obj, "profiles");
	if (!json_is_array(arr) || (count = json_array_size(arr)) > PROFILE_SET_MAX) {
		rc = tw_error_set(err, TW_E_INVALID,
			"member \"profiles\" must be an array of at most %d entries", PROFILE_SET_MAX);
		goto out;
	}
	if ((it = calloc(count > 0 ? count : 1, sizeof(*it))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_array_get(arr, i);
		const char *pid = json_string_value(json_object_get(e, "profile_id"));
		const char *hash = json_string_value(json_object_get(e, "hash"));

		if (!json_is_object(e) || !only_members(e, item_members) || !profile_id_valid(pid) ||
		    !hex64(hash) || profile_type_parse(json_string_value(json_object_get(e, "type")),
		    &t, NULL) != TW_OK) {
			rc = tw_error_set(err, TW_E_INVALID, "profiles[%zu] must be {\"profile_id\": an "
				"id, \"type\": a profile type, \"hash\": 64 hex digits}", i);
			goto out;
		}
		snprintf(it[i].profile_id, sizeof(it[i].profile_id), "%s", pid);
		snprintf(it[i].type, sizeof(it[i].type), "%s", profile_type_name(t));
		snprintf(it[i].hash, sizeof(it[i].hash), "%s", hash);
		for (char *c = it[i].hash; *c != '\0'; c++) {
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
		}
	}
	if ((rc = profile_set_hash(it, count, computed, err)) != TW_OK)
		goto out;
	if (strcasecmp(json_string_value(h), computed) != 0) {
		rc = tw_error_set(err, TW_E_INVALID,
			"profile_set_hash does not match the listed profiles (expected %s)", computed);
		goto out;
	}
	memcpy(set_hash, computed, 65);
	*items = it;
	*n = count;
	it = NULL;
out:
	free(it);
	return rc;
}

tw_rc profile_set_to_json(struct profile_set_item *items, size_t n, json_t **out,
	struct tw_error *err)
{
	json_t *obj = NULL, *arr = NULL;
	char hash[65];
	tw_rc rc;

	*out = NULL;
	if ((rc = profile_set_hash(items, n, hash, err)) != TW_OK)
		goto out;
	arr = json_array();
	obj = json_object();
	if (arr == NULL || obj == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "profile_id",
		    items[i].profile_id, "type", items[i].type, "hash", items[i].hash)) != 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if (json_object_set_new(obj, "profile_set_hash", json_string(hash)) != 0 ||
	    json_object_set(obj, "profiles", arr) != 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	*out = obj;
	obj = NULL;
out:
	json_decref(arr);
	json_decref(obj);
	return rc;
}

/* ---- secrets ---- */

struct secret_ctx {
	enum profile_secret_op op;
	const struct secretbox *sb;
	const char *gateway_id;
	const char *profile_id;
	struct tw_error *err;
};

/* Transform holder[key] (a string) in place according to ctx->op. */
static tw_rc secret_apply(struct secret_ctx *c, json_t *holder, const char *key,
	const char *path)
{
	const json_t *val = json_object_get(holder, key);
	const char *s;
	char aad[3 * PROFILE_ID_MAX + 64];
	char *res = NULL;
	size_t len = 0;
	tw_rc rc;

	if (!json_is_string(val))
		return TW_OK;   /* absent: a schema error reported elsewhere */
	s = json_string_value(val);
	snprintf(aad, sizeof(aad), "profile/%s/%s/%s", c->gateway_id != NULL ? c->gateway_id : "",
		c->profile_id, path);
	switch (c->op) {
	case PROFILE_MASK_SECRETS:
		return json_object_set_new(holder, key, json_string(PROFILE_MASK)) == 0 ? TW_OK :
			tw_error_set(c->err, TW_E_NOMEM, "out of memory");
	case PROFILE_SEAL:
		if (secretbox_is_sealed(s))
			return TW_OK;
		if (c->sb == NULL)
			return tw_error_set(c->err, TW_E_INTERNAL, "no data key to seal with");
		rc = secretbox_seal(c->sb, aad, s, strlen(s), &res, c->err);
		break;
	case PROFILE_UNSEAL:
		if (!secretbox_is_sealed(s))
			return TW_OK;
		if (c->sb == NULL)
			return tw_error_set(c->err, TW_E_INTERNAL, "no data key to unseal with");
		rc = secretbox_unseal(c->sb, aad, s, &res, &len, c->err);
		if (rc != TW_OK)
			tw_error_set(c->err, rc, "profile \"%s\" of %s: secret %s does not open; the "
				"data key or the stored row has changed", c->profile_id,
				c->gateway_id != NULL ? c->gateway_id : "?", path);
		break;
	default:
		return tw_error_set(c->err, TW_E_INTERNAL, "unknown secret operation");
	}
	if (rc == TW_OK && json_object_set_new(holder, key, json_string(res)) != 0)
		rc = tw_error_set(c->err, TW_E_NOMEM, "out of memory");
	if (res != NULL) {
		tw_wipe(res, strlen(res));
		free(res);
	}
	return rc;
}

tw_rc profile_secrets(const json_t *doc, enum profile_type type, enum profile_secret_op op,
	const struct secretbox *sb, const char *gateway_id, json_t **out, struct tw_error *err)
{
	struct secret_ctx c = { .op = op, .sb = sb, .gateway_id = gateway_id, .err = err };
	json_t *copy = NULL;
	char path[64];
	tw_rc rc = TW_OK;

	*out = NULL;
	if (!json_is_object(doc) || (copy = json_deep_copy(doc)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "profile document is not a JSON object");
		goto out;
	}
	c.profile_id = json_string_value(json_object_get(copy, "profile_id"));
	if (c.profile_id == NULL)
		c.profile_id = "";
	if (type == PROFILE_METER) {
		json_t *key = json_object_get(copy, "key");

		if (json_is_object(key))
			rc = secret_apply(&c, key, "value", "key.value");
	} else if (type == PROFILE_HAN) {
		json_t *users = json_object_get(copy, "users");

		for (size_t i = 0; rc == TW_OK && i < json_array_size(users); i++) {
			json_t *u = json_array_get(users, i);

			snprintf(path, sizeof(path), "users[%zu].password", i);
			if (json_is_object(u))
				rc = secret_apply(&c, u, "password", path);
		}
	}
	if (rc != TW_OK)
		goto out;
	*out = copy;
	copy = NULL;
out:
	json_decref(copy);
	return rc;
}
