/* policy_admin.c: `torwart policy show|set` (see policy_admin.h). */
#include "auth/policy_admin.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/config.h"
#include "base/util.h"

static const char *const auth_policy_keys[] = {
	"session_ttl", "max_failures", "failure_window", "approval_ttl",
	"fleet_order_threshold", "four_eyes", "exclusions",
};

bool auth_policy_key_known(const char *key)
{
	for (size_t i = 0; key != NULL && i < sizeof(auth_policy_keys) /
	     sizeof(auth_policy_keys[0]); i++) {
		if (strcmp(key, auth_policy_keys[i]) == 0)
			return true;
	}
	return false;
}

tw_rc auth_policy_set(const char *conf_path, struct tw_store *store,
	const struct audit_entry *who, const char *key, const char *value, char *old,
	size_t old_size, struct tw_error *err)
{
	struct tw_config *before = NULL, *after = NULL;
	struct auth_settings settings;
	struct audit_entry e;
	unsigned char *data = NULL;
	char *text = NULL, object[80], detail[STORE_TEXT_MAX + 1];
	size_t len = 0, old_len = 0;
	struct stat st;
	tw_rc rc;

	snprintf(old, old_size, "(default)");
	if (!auth_policy_key_known(key))
		return tw_error_set(err, TW_E_INVALID, "'%s' is no [auth] setting `policy set` may "
			"change (session_ttl, max_failures, failure_window, approval_ttl, "
			"fleet_order_threshold, four_eyes, exclusions)", key != NULL ? key : "");
	if ((rc = tw_read_file(conf_path, TW_CONFIG_MAX_BYTES, &data, &len, err)) != TW_OK)
		return rc;
	old_len = len;
	if ((text = malloc(len + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(text, data, len);
	text[len] = '\0';
	if ((rc = tw_config_parse(text, len, conf_path, &before, err)) != TW_OK)
		goto out;
	if (tw_config_get(before, "auth", key) != NULL)
		snprintf(old, old_size, "%s", tw_config_get(before, "auth", key));
	if ((rc = tw_config_text_set(&text, &len, "auth", key, value, err)) != TW_OK ||
	    (rc = tw_config_parse(text, len, conf_path, &after, err)) != TW_OK)
		goto out;
	/* The policy as the services will load it: refuses e.g. dropping a mandatory
	 * four-eyes action or an unknown role in an exclusion. */
	if ((rc = auth_settings_load(after, &settings, err)) != TW_OK) {
		rc = tw_error_set(err, TW_E_INVALID, "refused: %s", err->message);
		goto out;
	}
	if (stat(conf_path, &st) != 0)
		st.st_mode = 0600;
	if ((rc = tw_write_file(conf_path, text, len, st.st_mode & 0777, false, err)) != TW_OK)
		goto out;
	snprintf(object, sizeof(object), "auth.%s", key);
	snprintf(detail, sizeof(detail), "%s -> %s", old, value);
	e = *who;
	e.action = "policy.change";
	e.object = object;
	e.result = "ok";
	e.detail = detail;
	if ((rc = audit_append(store, &e, err)) != TW_OK) {
		/* Unlogged, the change must not stand: put the old file back. */
		struct tw_error undo;

		if (tw_write_file(conf_path, data, old_len, st.st_mode & 0777, false, &undo) !=
		    TW_OK)
			tw_error_set(err, TW_E_IO, "the policy change could not be logged AND the "
				"old %s could not be restored: %s", conf_path, undo.message);
	}
out:
	tw_config_free(before);
	tw_config_free(after);
	free(data);
	free(text);
	return rc;
}

tw_rc auth_policy_show(const char *conf_path, FILE *f, struct tw_error *err)
{
	struct tw_config *conf = NULL;
	struct auth_settings s;
	const char *ex;
	tw_rc rc;

	if ((rc = tw_config_load(conf_path, &conf, err)) != TW_OK ||
	    (rc = auth_settings_load(conf, &s, err)) != TW_OK)
		goto out;
	ex = tw_config_get(conf, "auth", "exclusions");
	fprintf(f, "session_ttl = %ld\nmax_failures = %ld\nfailure_window = %ld\n"
		"approval_ttl = %ld\nfleet_order_threshold = %ld\nfour_eyes = ", s.session_ttl_s,
		s.max_failures, s.failure_window_s, s.approval_ttl_s, s.fleet_order_threshold);
	for (size_t i = 0; i < s.four_eyes_count; i++)
		fprintf(f, "%s%s", i > 0 ? ", " : "", s.four_eyes[i]);
	fprintf(f, "\nexclusions = %s\n", ex != NULL ? ex : AUTH_DEFAULT_EXCLUSIONS);
out:
	tw_config_free(conf);
	return rc;
}
