/*
 * monitor.c: alarms and notifications from gateways, the actions they trigger, and
 * self-test results (UC-3.2.3, UC-3.4.1, UC-3.4.3, T-AB.1). See monitor.h.
 *
 * Attribution (T-AB.1): a message is stored under the gateway that the TLS handshake
 * proved, never under the id in the body; a body naming another gateway is refused.
 */
#include "gwa/monitor.h"

#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "base/log.h"
#include "gwa/profile.h"
#include "net/wan_message.h"

static const char *const msg_members[] = { "gateway_id", "kind", "type", "severity", "time",
	"message", NULL };
static const char *const kinds[] = { "alarm", "notification", NULL };
static const char *const severities[] = { "critical", "major", "minor", "info", NULL };

static bool in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; s != NULL && list[i] != NULL; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

static bool type_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++) {
		if (n >= MONITOR_TYPE_MAX || !((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return false;
	}
	return n > 0;
}

/* A string member of at most max bytes, without NUL or control characters. */
static tw_rc get_str(const json_t *obj, const char *name, size_t max, char *dst, size_t size,
	struct tw_error *err)
{
	const json_t *v = json_object_get(obj, name);
	const char *s;
	size_t len;

	if (v == NULL)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" is missing", name);
	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be a string", name);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > max || len >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "member \"%s\" is longer than %zu bytes",
			name, max);
	if (strlen(s) != len)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" contains a NUL", name);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return tw_error_set(err, TW_E_INVALID,
				"member \"%s\" contains a control character", name);
	}
	memcpy(dst, s, len + 1);
	return TW_OK;
}

tw_rc monitor_message_from_json(const json_t *obj, struct monitor_message *out,
	struct tw_error *err)
{
	const char *key;
	json_t *val;
	int64_t ms;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return tw_error_set(err, TW_E_PROTOCOL, "a message must be a JSON object");
	json_object_foreach((json_t *)obj, key, val) {
		(void)val;
		if (!in_list(key, msg_members))
			return tw_error_set(err, TW_E_INVALID, "unknown member \"%.40s\"", key);
	}
	if ((rc = get_str(obj, "gateway_id", STORE_ID_MAX, out->gateway_id,
	        sizeof(out->gateway_id), err)) != TW_OK ||
	    (rc = get_str(obj, "kind", 15, out->kind, sizeof(out->kind), err)) != TW_OK ||
	    (rc = get_str(obj, "type", MONITOR_TYPE_MAX, out->type, sizeof(out->type), err)) !=
	    TW_OK ||
	    (rc = get_str(obj, "severity", 15, out->severity, sizeof(out->severity), err)) !=
	    TW_OK ||
	    (rc = get_str(obj, "time", 40, out->time, sizeof(out->time), err)) != TW_OK ||
	    (rc = get_str(obj, "message", MONITOR_TEXT_MAX, out->message, sizeof(out->message),
	        err)) != TW_OK)
		goto fail;
	if (!profile_id_valid(out->gateway_id)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"gateway_id\" must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto fail;
	}
	if (!in_list(out->kind, kinds)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"kind\" must be alarm or notification");
		goto fail;
	}
	if (!type_valid(out->type)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"type\" must be 1..32 of [a-z0-9-]");
		goto fail;
	}
	if (!in_list(out->severity, severities)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"member \"severity\" must be critical, major, minor or info");
		goto fail;
	}
	if ((rc = wan_time_parse(out->time, &ms, err)) != TW_OK)
		goto fail;
	return TW_OK;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

tw_rc monitor_message_parse(const void *body, size_t len, struct monitor_message *out,
	struct tw_error *err)
{
	json_error_t jerr;
	json_t *obj;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if (len > MONITOR_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "body exceeds %d bytes", MONITOR_BODY_MAX);
	if (body == NULL || len == 0)
		return tw_error_set(err, TW_E_PROTOCOL, "body is empty; expected a JSON object");
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "body is not JSON: %s", jerr.text);
	rc = monitor_message_from_json(obj, out, err);
	json_decref(obj);
	return rc;
}

tw_rc monitor_message_to_json(const struct monitor_message *m, json_t **out,
	struct tw_error *err)
{
	*out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "gateway_id", m->gateway_id, "kind",
		m->kind, "type", m->type, "severity", m->severity, "time", m->time, "message",
		m->message);
	return *out != NULL ? TW_OK : tw_error_set(err, TW_E_INVALID,
		"cannot encode the message (not UTF-8?)");
}

/* ---- actions (UC-3.4.1) ---- */

/* Parse "alert,selftest" / "none" into a; TW_E_CONFIG names key. */
static tw_rc parse_actions(const char *value, const char *key, struct monitor_actions *a,
	struct tw_error *err)
{
	const char *p = value;

	memset(a, 0, sizeof(*a));
	while (*p != '\0') {
		size_t n;

		while (*p == ',' || *p == ' ')
			p++;
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (n == 5 && strncmp(p, "alert", n) == 0)
			a->alert = true;
		else if (n == 8 && strncmp(p, "selftest", n) == 0)
			a->selftest = true;
		else if (!(n == 4 && strncmp(p, "none", n) == 0))
			return tw_error_set(err, TW_E_CONFIG, "[monitor] %s: unknown action \"%.*s\"; "
				"use alert, selftest or none (comma-separated)", key,
				(int)(n > 32 ? 32 : n), p);
		p += n;
	}
	return TW_OK;
}

tw_rc monitor_actions_for(const struct tw_config *conf, const struct monitor_message *m,
	struct monitor_actions *out, struct tw_error *err)
{
	char key[MONITOR_TYPE_MAX + 16];
	const char *v = NULL;
	bool alarm = strcmp(m->kind, "alarm") == 0;

	snprintf(key, sizeof(key), "action.%s", m->type);
	if (conf != NULL)
		v = tw_config_get(conf, "monitor", key);
	if (v == NULL) {
		snprintf(key, sizeof(key), "%s", alarm ? "alarm_actions" : "notification_actions");
		v = conf != NULL ? tw_config_get_or(conf, "monitor", key, alarm ? "alert" : "none") :
			(alarm ? "alert" : "none");
	}
	return parse_actions(v, key, out, err);
}

void monitor_actions_format(const struct monitor_actions *a, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", a->alert ? "alert" : "",
		a->alert && a->selftest ? "," : "", a->selftest ? "selftest" : "");
}

tw_rc monitor_receive(struct tw_store *store, const struct tw_config *conf,
	const char *tls_gateway_id, const char *peer, const struct monitor_message *m,
	int64_t *ack_id, struct tw_error *err)
{
	struct store_gateway_message row;
	struct monitor_actions act;
	struct audit_entry a;
	char actor[STORE_ID_MAX + 16], action[32], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	*ack_id = 0;
	if (tls_gateway_id == NULL || strcmp(m->gateway_id, tls_gateway_id) != 0)
		return tw_error_set(err, TW_E_DENIED, "message names gateway %s, but the TLS "
			"identity is %s (T-AB.1)", m->gateway_id, tls_gateway_id ? tls_gateway_id : "none");
	if ((rc = monitor_actions_for(conf, m, &act, err)) != TW_OK)
		return rc;
	memset(&row, 0, sizeof(row));
	snprintf(row.gateway_id, sizeof(row.gateway_id), "%s", tls_gateway_id);
	snprintf(row.kind, sizeof(row.kind), "%s", m->kind);
	snprintf(row.type, sizeof(row.type), "%s", m->type);
	snprintf(row.severity, sizeof(row.severity), "%s", m->severity);
	snprintf(row.gateway_time, sizeof(row.gateway_time), "%s", m->time);
	snprintf(row.message, sizeof(row.message), "%s", m->message);
	monitor_actions_format(&act, row.actions, sizeof(row.actions));
	row.received_ms = tw_now_ms();

	snprintf(actor, sizeof(actor), "gateway:%s", tls_gateway_id);
	snprintf(action, sizeof(action), "gateway.%s", m->kind);
	snprintf(detail, sizeof(detail), "%s %s at %s: %s (actions: %s)", m->severity, m->type,
		m->time, m->message, row.actions[0] != '\0' ? row.actions : "none");
	a = (struct audit_entry){ .actor = actor, .role = "smgw", .client = peer,
		.action = action, .object = tls_gateway_id, .result = "ok", .detail = detail };
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_gateway_message_insert(store, &row, ack_id, err)) != TW_OK ||
	    (rc = audit_append_in_tx(store, &a, err)) != TW_OK) {
		store_rollback(store);
		*ack_id = 0;
		return rc;
	}
	if ((rc = store_commit(store, err)) != TW_OK) {
		*ack_id = 0;
		return rc;
	}
	/* Actions run after the commit: the message is safe even if an action fails. */
	if (act.alert)
		tw_err("ALERT: gateway %s %s %s (%s): %s", tls_gateway_id, m->severity, m->kind,
			m->type, m->message);
	if (act.selftest) {
		struct tw_error e;

		if (monitor_schedule_selftest(store, tls_gateway_id, m->type, &e) != TW_OK)
			tw_err("monitor: cannot schedule a self-test for %s after %s: %s",
				tls_gateway_id, m->type, e.message);
	}
	return TW_OK;
}

/* ---- self-test results (UC-3.4.3) ---- */

tw_rc monitor_selftest_record(struct tw_store *store, const char *gateway_id,
	const json_t *result, struct tw_error *err)
{
	struct store_gateway_message row;
	struct audit_entry a;
	const char *verdict = json_string_value(json_object_get(result, "result"));
	const json_t *checks = json_object_get(result, "checks");
	char actor[STORE_ID_MAX + 16], text[STORE_TEXT_MAX + 1] = "";
	size_t used = 0, failed = 0;
	bool own_tx = !store_in_transaction(store);
	tw_rc rc;

	if (!json_is_object(result) || verdict == NULL ||
	    (strcmp(verdict, "passed") != 0 && strcmp(verdict, "failed") != 0))
		return tw_error_set(err, TW_E_PROTOCOL,
			"self-test result needs \"result\": \"passed\" or \"failed\"");
	if (!json_is_array(checks) || json_array_size(checks) > 64)
		return tw_error_set(err, TW_E_PROTOCOL,
			"self-test result needs \"checks\": an array of at most 64 {name, ok}");
	for (size_t i = 0; i < json_array_size(checks); i++) {
		const json_t *c = json_array_get(checks, i);
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *ok = json_object_get(c, "ok");

		if (name == NULL || !profile_id_valid(name) || !json_is_boolean(ok))
			return tw_error_set(err, TW_E_PROTOCOL,
				"self-test check %zu needs \"name\" (an id) and \"ok\" (a boolean)", i);
		if (!json_is_true(ok))
			failed++;
		if (used + strlen(name) + 8 < sizeof(text))
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s=%s",
				i > 0 ? " " : "", name, json_is_true(ok) ? "ok" : "FAILED");
	}
	if ((strcmp(verdict, "passed") == 0) != (failed == 0))
		return tw_error_set(err, TW_E_PROTOCOL,
			"self-test result says %s but %zu checks failed", verdict, failed);
	memset(&row, 0, sizeof(row));
	snprintf(row.gateway_id, sizeof(row.gateway_id), "%s", gateway_id);
	snprintf(row.kind, sizeof(row.kind), "selftest");
	snprintf(row.type, sizeof(row.type), "self-test");
	snprintf(row.severity, sizeof(row.severity), "%s", failed == 0 ? "info" : "major");
	tw_time_format_utc(tw_now_ms(), row.gateway_time, sizeof(row.gateway_time));
	snprintf(row.message, sizeof(row.message), "%s: %s", verdict, text);
	row.received_ms = tw_now_ms();
	snprintf(actor, sizeof(actor), "gateway:%s", gateway_id);
	a = (struct audit_entry){ .actor = actor, .role = "smgw", .client = "",
		.action = "gateway.selftest", .object = gateway_id, .result = verdict,
		.detail = row.message };
	if (own_tx && (rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_gateway_message_insert(store, &row, NULL, err)) != TW_OK ||
	    (rc = audit_append_in_tx(store, &a, err)) != TW_OK) {
		if (own_tx)
			store_rollback(store);
		return rc;
	}
	if (failed > 0)
		tw_err("ALERT: gateway %s self-test failed: %s", gateway_id, text);
	return own_tx ? store_commit(store, err) : TW_OK;
}
