/* request.c: strict parsers of operator API requests (see request.h). */
#include "auth/request.h"

#include <string.h>

#include <jansson.h>

#include "base/util.h"

tw_rc auth_request_parse(const char *body, size_t len, struct auth_field *fields, size_t n,
	struct tw_error *err)
{
	json_error_t jerr;
	json_t *root = NULL, *value;
	const char *key;
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < n; i++) {
		fields[i].present = false;
		fields[i].len = 0;
		if (fields[i].size > 0)
			fields[i].dst[0] = '\0';
	}
	if (body == NULL || len == 0)
		return tw_error_set(err, TW_E_INVALID, "the request needs a JSON object body");
	if (len > AUTH_REQUEST_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the request body is larger than %d bytes",
			AUTH_REQUEST_BODY_MAX);
	/* No NUL inside strings (jansson refuses \u0000 without JSON_ALLOW_NUL). */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		rc = tw_error_set(err, TW_E_INVALID, "the request body is not a JSON object%s%s",
			root == NULL ? ": " : "", root == NULL ? jerr.text : "");
		goto out;
	}
	json_object_foreach(root, key, value) {
		struct auth_field *f = NULL;
		const char *s;
		size_t slen;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(fields[i].key, key) == 0)
				f = &fields[i];
		}
		if (f == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "unknown member \"%.40s\" in the request",
				key);
			goto out;
		}
		if (!json_is_string(value)) {
			rc = tw_error_set(err, TW_E_INVALID, "\"%s\" must be a string", f->key);
			goto out;
		}
		s = json_string_value(value);
		slen = json_string_length(value);
		if (slen != strlen(s)) {
			rc = tw_error_set(err, TW_E_INVALID, "\"%s\" contains a NUL byte", f->key);
			goto out;
		}
		if (slen >= f->size) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "\"%s\" is longer than %zu bytes",
				f->key, f->size - 1);
			goto out;
		}
		memcpy(f->dst, s, slen + 1);
		f->len = slen;
		f->present = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (fields[i].required && !fields[i].present) {
			rc = tw_error_set(err, TW_E_INVALID, "the request needs \"%s\"", fields[i].key);
			goto out;
		}
	}
out:
	if (rc != TW_OK) {
		/* Values may be secrets (passwords): leave nothing half-filled behind. */
		for (size_t i = 0; i < n; i++) {
			if (fields[i].size > 0)
				tw_wipe(fields[i].dst, fields[i].size);
			fields[i].present = false;
		}
	}
	json_decref(root);
	return rc;
}

tw_rc auth_bearer_parse(const char *header, struct auth_token *tok, struct tw_error *err)
{
	memset(tok, 0, sizeof(*tok));
	if (header == NULL)
		return tw_error_set(err, TW_E_DENIED, "no session token; log in with torwart login");
	if (strncmp(header, "Bearer ", 7) != 0)
		return tw_error_set(err, TW_E_INVALID, "the Authorization header must be "
			"\"Bearer <token>\"");
	return auth_token_parse(header + 7, strnlen(header + 7, AUTH_TOKEN_LEN + 1), tok, err);
}
