/*
 * sim_monitor.c: the simulated gateway's monitoring side: its signed system and
 * calibration logs (UC-3.4.2; every entry signed with the gateway's SIG key when it is
 * written, as a real SMGW's log would be), the self-test order (UC-3.4.3), the log-read
 * order, and alarms on demand in the session status (UC-3.2.3, `torwart-sim --alarm`).
 */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "gwa/monitor.h"
#include "gwa/profile.h"
#include "sim/sim_monitor.h"

#define FAIL(c, rcode, ...) (*code = (c), tw_error_set(err, (rcode), __VA_ARGS__))

static const char *alarm_type;
static const char *alarm_severity;

void sim_monitor_set_alarm(const char *type, const char *severity)
{
	alarm_type = type;
	alarm_severity = severity != NULL ? severity : "major";
}

/* gw->state["logs"][kind], created as {"next":1,"entries":[]} when absent. */
static json_t *log_of(struct sim_gw *gw, const char *kind)
{
	json_t *logs = json_object_get(gw->state, "logs"), *l;

	if (!json_is_object(logs)) {
		logs = json_object();
		if (logs == NULL || json_object_set_new(gw->state, "logs", logs) != 0)
			return NULL;
	}
	l = json_object_get(logs, kind);
	if (json_is_object(l) && json_is_array(json_object_get(l, "entries")) &&
	    json_is_integer(json_object_get(l, "next")))
		return l;
	l = json_pack("{s:I,s:[]}", "next", (json_int_t)1, "entries");
	if (l == NULL || json_object_set_new(logs, kind, l) != 0)
		return NULL;
	return l;
}

tw_rc sim_monitor_log(struct sim_gw *gw, const char *kind, const char *message,
	struct tw_error *err)
{
	struct monitor_log_entry e;
	json_t *l, *entries, *one = NULL;
	EVP_PKEY *key;
	tw_rc rc;

	if (!monitor_log_kind_valid(kind))
		return tw_error_set(err, TW_E_INTERNAL, "unknown log kind");
	if ((key = sim_gw_sig_key(gw, err)) == NULL)
		return err != NULL ? err->code : TW_E_CRYPTO;
	if ((l = log_of(gw, kind)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	memset(&e, 0, sizeof(e));
	e.seq = json_integer_value(json_object_get(l, "next"));
	tw_time_format_utc(tw_now_ms(), e.time, sizeof(e.time));
	snprintf(e.message, sizeof(e.message), "%s", message);
	if ((rc = monitor_log_sign(key, gw->id, kind, &e, err)) != TW_OK ||
	    (rc = monitor_logs_to_json(kind, &e, 1, &one, err)) != TW_OK)
		goto out;
	entries = json_object_get(l, "entries");
	if (json_array_append(entries, json_array_get(json_object_get(one, "entries"), 0)) != 0 ||
	    json_object_set_new(l, "next", json_integer(e.seq + 1)) != 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	while (json_array_size(entries) > SIM_LOG_KEEP)
		json_array_remove(entries, 0);
	rc = TW_OK;
out:
	json_decref(one);
	return rc;
}

static bool addressed_to_me(struct sim_gw *gw, const json_t *payload)
{
	const char *to = json_string_value(json_object_get(payload, "gateway_id"));

	return to != NULL && strcmp(to, gw->id) == 0;
}

/* ---- self-test (UC-3.4.3) ---- */

static tw_rc selftest_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	json_t *profiles = json_object_get(gw->state, "profiles"), *doc, *checks;
	struct tw_error e;
	struct profile_doc *pd = NULL;
	bool key_ok, profiles_ok = true, all;
	const char *pid;
	char line[128];
	tw_rc rc;

	*result = NULL;
	if (!addressed_to_me(gw, payload))
		return FAIL("wrong_gateway", TW_E_DENIED, "self-test order is addressed to another "
			"gateway");
	key_ok = sim_gw_sig_key(gw, &e) != NULL;
	/* Every stored profile must still pass the schema. */
	json_object_foreach(profiles, pid, doc) {
		if (profile_from_json(doc, &pd, &e) != TW_OK)
			profiles_ok = false;
		profile_doc_free(pd);
		pd = NULL;
	}
	all = key_ok && profiles_ok;
	checks = json_pack("[{s:s,s:b},{s:s,s:b},{s:s,s:b}]", "name", "sig-key", "ok", key_ok,
		"name", "profiles", "ok", profiles_ok, "name", "clock", "ok", 1);
	if (checks == NULL)
		return FAIL("internal", TW_E_NOMEM, "out of memory");
	snprintf(line, sizeof(line), "self-test %s", all ? "passed" : "failed");
	if (key_ok && (rc = sim_monitor_log(gw, "system", line, err)) != TW_OK) {
		json_decref(checks);
		*code = "internal";
		return rc;
	}
	*result = json_pack("{s:s,s:o}", "result", all ? "passed" : "failed", "checks", checks);
	return *result != NULL ? TW_OK : FAIL("internal", TW_E_NOMEM, "out of memory");
}

const struct sim_order_handler sim_order_self_test = { "self-test", selftest_execute };

/* ---- log-read (UC-3.4.2) ---- */

static tw_rc logread_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const char *kind = json_string_value(json_object_get(payload, "kind"));
	json_int_t from = json_integer_value(json_object_get(payload, "from"));
	json_int_t to = json_integer_value(json_object_get(payload, "to"));
	json_t *l, *entries, *out;
	tw_rc rc;

	*result = NULL;
	if (!addressed_to_me(gw, payload))
		return FAIL("wrong_gateway", TW_E_DENIED, "log order is addressed to another gateway");
	if (!monitor_log_kind_valid(kind) || from < 1 || to < from ||
	    to - from >= MONITOR_LOG_BATCH_MAX)
		return FAIL("invalid_payload", TW_E_INVALID, "log-read needs kind, from, to");
	if ((l = log_of(gw, kind)) == NULL)
		return FAIL("internal", TW_E_NOMEM, "out of memory");
	/* A gateway's system log is never empty: it records its own start. */
	if (strcmp(kind, "system") == 0 && json_integer_value(json_object_get(l, "next")) == 1) {
		if ((rc = sim_monitor_log(gw, "system", "gateway started", err)) != TW_OK) {
			*code = "internal";
			return rc;
		}
		l = log_of(gw, kind);
	}
	entries = json_object_get(l, "entries");
	if ((out = json_array()) == NULL)
		return FAIL("internal", TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(entries); i++) {
		json_t *e = json_array_get(entries, i);
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));

		if (seq >= from && seq <= to)
			json_array_append(out, e);
	}
	*result = json_pack("{s:s,s:o}", "kind", kind, "entries", out);
	return *result != NULL ? TW_OK : FAIL("internal", TW_E_NOMEM, "out of memory");
}

const struct sim_order_handler sim_order_log_read = { "log-read", logread_execute };

/* ---- alarms in the session status ---- */

static tw_rc status_alarms(struct sim_gw *gw, json_t **value, struct tw_error *err)
{
	struct monitor_message m;
	json_t *one = NULL;
	tw_rc rc;

	*value = NULL;
	if (alarm_type == NULL)
		return TW_OK;
	memset(&m, 0, sizeof(m));
	snprintf(m.gateway_id, sizeof(m.gateway_id), "%s", gw->id);
	snprintf(m.kind, sizeof(m.kind), "alarm");
	snprintf(m.type, sizeof(m.type), "%s", alarm_type);
	snprintf(m.severity, sizeof(m.severity), "%s", alarm_severity);
	tw_time_format_utc(tw_now_ms(), m.time, sizeof(m.time));
	snprintf(m.message, sizeof(m.message), "simulated %s alarm", alarm_type);
	if ((rc = monitor_message_to_json(&m, &one, err)) != TW_OK)
		return rc;
	*value = json_pack("[o]", one);
	return *value != NULL ? TW_OK : tw_error_set(err, TW_E_NOMEM, "out of memory");
}

const struct sim_status_provider sim_status_alarms = { "alarms", status_alarms };
