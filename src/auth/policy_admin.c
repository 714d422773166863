/* policy_admin.c: `torwart policy show|set` (see policy_admin.h). */
#include "auth/policy_admin.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "audit/alert.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_auditlog.h"

static tw_rc policy_digest(const struct tw_config *conf, char hex[65], struct tw_error *err);
static tw_rc policy_append(struct tw_store *store, const struct audit_entry *e,
	struct tw_error *err);

static const char *const auth_policy_keys[] = {
	"session_ttl", "max_failures", "failure_window", "approval_ttl",
	"fleet_order_threshold", "four_eyes", "exclusions", "creator_window",
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
			"fleet_order_threshold, four_eyes, exclusions, creator_window)",
			key != NULL ? key : "");
	/* A floor: the mandatory exclusion pairs are never dropped (the loader would keep
	 * them anyway; refusing says so instead of storing a list that does not apply). */
	if (strcmp(key, "exclusions") == 0 && !auth_exclusions_keep_mandatory(value))
		return tw_error_set(err, TW_E_INVALID, "refused: [auth] exclusions must keep the "
			"mandatory pairs %s (policy floor, docs/security.md)",
			AUTH_MANDATORY_EXCLUSIONS);
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
	{
		char digest[65];

		if ((rc = policy_digest(after, digest, err)) != TW_OK)
			goto out;
		snprintf(detail, sizeof(detail), "%s -> %s; digest=%s", old, value, digest);
	}
	e = *who;
	e.action = "policy.change";
	e.object = object;
	e.result = "ok";
	e.detail = detail;
	/* The entry is also the reference the api compares loaded policies with. */
	if ((rc = policy_append(store, &e, err)) != TW_OK) {
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

/* The effective policy of conf as text, one "key = value" per line. */
static tw_rc policy_print(const struct tw_config *conf, FILE *f, struct tw_error *err)
{
	struct auth_settings s;
	const char *ex;
	tw_rc rc;

	if ((rc = auth_settings_load(conf, &s, err)) != TW_OK)
		return rc;
	ex = tw_config_get(conf, "auth", "exclusions");
	fprintf(f, "session_ttl = %ld\nmax_failures = %ld\nfailure_window = %ld\n"
		"approval_ttl = %ld\nfleet_order_threshold = %ld\ncreator_window = %ld\n"
		"four_eyes = ", s.session_ttl_s, s.max_failures, s.failure_window_s,
		s.approval_ttl_s, s.fleet_order_threshold, s.creator_window_s);
	for (size_t i = 0; i < s.four_eyes_count; i++)
		fprintf(f, "%s%s", i > 0 ? ", " : "", s.four_eyes[i]);
	/* The effective list: an edited file that dropped mandatory pairs still has them
	 * (auth_exclusions_load adds them), so show them rather than mislead. */
	if (ex == NULL)
		fprintf(f, "\nexclusions = %s\n", AUTH_DEFAULT_EXCLUSIONS);
	else if (auth_exclusions_keep_mandatory(ex))
		fprintf(f, "\nexclusions = %s\n", ex);
	else
		fprintf(f, "\nexclusions = %s%s%s\n", ex, ex[0] != '\0' ? ", " : "",
			AUTH_MANDATORY_EXCLUSIONS);
	return TW_OK;
}

tw_rc auth_policy_show(const char *conf_path, FILE *f, struct tw_error *err)
{
	struct tw_config *conf = NULL;
	tw_rc rc;

	if ((rc = tw_config_load(conf_path, &conf, err)) == TW_OK)
		rc = policy_print(conf, f, err);
	tw_config_free(conf);
	return rc;
}

/* SHA-256 (hex) of the effective policy text of conf. */
static tw_rc policy_digest(const struct tw_config *conf, char hex[65], struct tw_error *err)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	tw_rc rc;

	if (f == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = policy_print(conf, f, err);
	fclose(f);
	if (rc == TW_OK) {
		SHA256((const unsigned char *)text, len, md);
		tw_hex_encode(md, sizeof(md), hex);
	}
	free(text);
	return rc;
}

#define POLICY_CURSOR "policy"

/* The digest recorded in the admin-log entry at seq ("... digest=HEX"), or "". */
struct policy_find {
	int64_t seq;
	char digest[65];
};

static int policy_find_cb(const struct store_audit_row *row, void *arg)
{
	struct policy_find *f = arg;
	const char *d = strstr(row->detail, "digest=");

	if (row->seq == f->seq && d != NULL && strlen(d + 7) >= 64) {
		memcpy(f->digest, d + 7, 64);
		f->digest[64] = '\0';
	}
	return 1;   /* only the first row (seq) matters */
}

/* Append e and point the policy cursor at it, in one transaction. */
static tw_rc policy_append(struct tw_store *store, const struct audit_entry *e,
	struct tw_error *err)
{
	struct store_audit_row last;
	bool found = false;
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = audit_append_in_tx(store, e, err)) == TW_OK &&
	    (rc = store_audit_last(store, &last, &found, err)) == TW_OK &&
	    (rc = store_auditlog_cursor_set(store, POLICY_CURSOR, found ? last.seq : 0, err)) ==
	    TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}

tw_rc auth_policy_record(struct tw_store *store, const struct tw_config *conf,
	const char *actor, bool *drift, struct tw_error *err)
{
	struct policy_find f;
	struct audit_entry e;
	char digest[65], detail[200];
	tw_rc rc;

	if (drift != NULL)
		*drift = false;
	memset(&f, 0, sizeof(f));
	if ((rc = policy_digest(conf, digest, err)) != TW_OK ||
	    (rc = store_auditlog_cursor_get(store, POLICY_CURSOR, &f.seq, err)) != TW_OK)
		return rc;
	if (f.seq > 0 && (rc = store_audit_foreach(store, f.seq, policy_find_cb, &f, err)) !=
	    TW_OK)
		return rc;
	if (f.digest[0] != '\0' && strcmp(f.digest, digest) == 0)
		return TW_OK;
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.role = "service";
	e.client = "local";
	e.action = "policy.loaded";
	e.object = "auth";
	if (f.digest[0] == '\0') {
		e.result = "ok";
		snprintf(detail, sizeof(detail), "first recorded policy: digest=%s", digest);
	} else {
		e.result = "changed-outside-api";
		snprintf(detail, sizeof(detail), "the [auth] policy differs from the last recorded "
			"one (digest %.16s...), without a policy.change: digest=%s", f.digest, digest);
	}
	e.detail = detail;
	if ((rc = policy_append(store, &e, err)) != TW_OK)
		return rc;
	if (f.digest[0] != '\0') {
		struct tw_error aerr;

		if (drift != NULL)
			*drift = true;
		if (alert_raise(store, ALERT_POLICY_DRIFT, NULL, "auth", "the [auth] policy in "
		    "torwart.conf was changed without `torwart policy set` (four-eyes); compare "
		    "with `torwart policy show` and the admin log", &aerr) != TW_OK)
			tw_err("cannot raise the policy-drift alert: %s", aerr.message);
	}
	return TW_OK;
}
