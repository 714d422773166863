/*
 * wan_message.c: parse, validate and encode the JSON bodies of WAN protocol v1
 * (docs/wan-protocol.md). Outside bytes enter here and nowhere else in wan/ and sim/.
 *
 * jansson does the JSON grammar (with JSON_REJECT_DUPLICATES, so {"a":1,"a":2} cannot
 * smuggle a second value past a validator, and without JSON_ALLOW_NUL, so no string
 * carries an embedded NUL into C code). This file checks the shape: which members,
 * which types, which lengths and character sets.
 */
#include "net/wan_message.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* ---- small validators ---- */

static bool is_id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-';
}

int wan_gateway_id_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return 0;
	for (n = 0; id[n] != '\0'; n++)
		if (n >= WAN_GATEWAY_ID_MAX || !is_id_char((unsigned char)id[n]))
			return 0;
	return n > 0;
}

static bool session_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > WAN_SESSION_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool printable_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static bool error_code_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (n >= WAN_ERROR_CODE_MAX ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n > 0;
}

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 boundary. */
static size_t utf8_prefix(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	if (n == len)
		return n;
	/* Step back over continuation bytes (10xxxxxx) so no sequence is cut in two. */
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* ---- RFC 3339 ---- */

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t yy = y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

tw_rc wan_time_parse(const char *s, int64_t *ms, struct tw_error *err)
{
	int y, mo, d, h, mi, sec, frac_ms = 0, off_h = 0, off_m = 0, sign = 0;
	size_t len, i;

	*ms = 0;
	if (s == NULL)
		return tw_error_set(err, TW_E_INVALID, "time is missing");
	len = strnlen(s, WAN_TIME_MAX + 1);
	if (len > WAN_TIME_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "time is longer than %d characters",
			WAN_TIME_MAX);
	/* Fixed part "YYYY-MM-DDTHH:MM:SS" is 19 characters. */
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':' ||
	    digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		goto bad;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60)
		goto bad;
	if (sec == 60)       /* a leap second: counted as the last second of the minute */
		sec = 59;
	i = 19;
	if (s[i] == '.') {
		size_t start = ++i;
		int scale = 100;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			frac_ms += (s[i] - '0') * scale;
			scale /= 10;
			i++;
		}
		if (i == start || i - start > 9)
			goto bad;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i] == '+' ? 1 : -1;
		if (len - i != 6 || s[i + 3] != ':' || digits(s + i + 1, 2, &off_h) ||
		    digits(s + i + 4, 2, &off_m) || off_h > 23 || off_m > 59)
			goto bad;
		i += 6;
	} else {
		goto bad;
	}
	if (i != len)
		goto bad;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
		(int64_t)sign * (off_h * 3600 + off_m * 60)) * 1000 + frac_ms;
	return TW_OK;
bad:
	return tw_error_set(err, TW_E_INVALID,
		"time is not an RFC 3339 date-time such as 2026-11-24T06:51:41Z");
}

/* ---- JSON helpers ---- */

static tw_rc load_object(const void *body, size_t len, json_t **out, struct tw_error *err)
{
	json_error_t jerr;
	json_t *root;

	*out = NULL;
	if (body == NULL && len > 0)
		return tw_error_set(err, TW_E_INTERNAL, "no body buffer");
	if (len > WAN_MESSAGE_MAX_BODY)
		return tw_error_set(err, TW_E_TOO_LARGE, "body of %zu bytes exceeds the limit of %d",
			len, WAN_MESSAGE_MAX_BODY);
	if (len == 0)
		return tw_error_set(err, TW_E_PROTOCOL, "empty body; a JSON object is required");
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "body is not valid JSON: %s at line %d",
			jerr.text, jerr.line);
	if (!json_is_object(root)) {
		json_decref(root);
		return tw_error_set(err, TW_E_PROTOCOL, "body must be a JSON object");
	}
	*out = root;
	return TW_OK;
}

/* A string member: present, a string, 1..max bytes; borrowed pointer into obj. */
static tw_rc get_string(json_t *obj, const char *key, size_t max, const char **val,
	size_t *len, struct tw_error *err)
{
	json_t *v = json_object_get(obj, key);

	*val = NULL;
	*len = 0;
	if (v == NULL)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" is missing", key);
	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be a string", key);
	*len = json_string_length(v);
	if (*len == 0)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must not be empty", key);
	if (*len > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "member \"%s\" is longer than %zu bytes",
			key, max);
	*val = json_string_value(v);
	return TW_OK;
}

/* An integer member in [min, max]. */
static tw_rc get_long(json_t *obj, const char *key, long min, long max, long *out,
	struct tw_error *err)
{
	json_t *v = json_object_get(obj, key);
	json_int_t n;

	*out = 0;
	if (v == NULL)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" is missing", key);
	if (!json_is_integer(v))
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be an integer", key);
	n = json_integer_value(v);
	if (n < min || n > max)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be in [%ld, %ld]", key,
			min, max);
	*out = (long)n;
	return TW_OK;
}

/* Refuse members outside allowed (NULL-terminated): requests are strict. */
static tw_rc only_members(json_t *obj, const char *const *allowed, struct tw_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool known = false;

		(void)v;
		for (size_t i = 0; allowed[i] != NULL && !known; i++)
			known = strcmp(key, allowed[i]) == 0;
		if (!known) {
			char shown[65];
			size_t n = utf8_prefix(key, strlen(key), sizeof(shown) - 1);

			memcpy(shown, key, n);
			shown[n] = '\0';
			/* Only printable ASCII goes into logs and answers. */
			if (!printable_ascii(shown, n))
				return tw_error_set(err, TW_E_INVALID, "unknown member");
			return tw_error_set(err, TW_E_INVALID, "unknown member \"%s\"", shown);
		}
	}
	return TW_OK;
}

static tw_rc dump_to(json_t *root, struct tw_buf *out, struct tw_error *err)
{
	char *text;
	tw_rc rc;

	if (root == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory encoding a WAN message");
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory encoding a WAN message");
	rc = tw_buf_append(out, text, strlen(text), err);
	free(text);
	return rc;
}

/* The optional session "status": an object of at most WAN_STATUS_MAX bytes. */
static tw_rc check_status(json_t *status, struct tw_error *err)
{
	char *text;
	size_t n;

	if (status == NULL)
		return TW_OK;
	if (!json_is_object(status))
		return tw_error_set(err, TW_E_INVALID, "member \"status\" must be an object");
	if ((text = json_dumps(status, JSON_COMPACT)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	n = strlen(text);
	free(text);
	if (n > WAN_STATUS_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "member \"status\" exceeds %d bytes",
			WAN_STATUS_MAX);
	return TW_OK;
}

/* ---- session request ---- */

tw_rc wan_session_request_parse(const void *body, size_t len,
	struct wan_session_request *out, struct tw_error *err)
{
	return wan_session_request_parse_status(body, len, out, NULL, err);
}

tw_rc wan_session_request_parse_status(const void *body, size_t len,
	struct wan_session_request *out, json_t **status, struct tw_error *err)
{
	static const char *const members[] = { "gateway_id", "firmware_version", "time",
		"status", NULL };
	struct wan_session_request r;
	json_t *root = NULL;
	const char *s;
	size_t n;
	tw_rc rc;

	if (status != NULL)
		*status = NULL;
	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	if ((rc = only_members(root, members, err)) != TW_OK)
		goto out;

	if ((rc = get_string(root, "gateway_id", WAN_GATEWAY_ID_MAX, &s, &n, err)) != TW_OK)
		goto out;
	memcpy(r.gateway_id, s, n);
	if (!wan_gateway_id_valid(r.gateway_id)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"member \"gateway_id\" must be 1..64 characters of [A-Za-z0-9._-]");
		goto out;
	}
	if ((rc = get_string(root, "firmware_version", WAN_FIRMWARE_VERSION_MAX, &s, &n,
	    err)) != TW_OK)
		goto out;
	if (!printable_ascii(s, n)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"member \"firmware_version\" must be printable ASCII");
		goto out;
	}
	memcpy(r.firmware_version, s, n);
	if ((rc = get_string(root, "time", WAN_TIME_MAX, &s, &n, err)) != TW_OK)
		goto out;
	memcpy(r.time, s, n);
	if ((rc = wan_time_parse(r.time, &r.time_ms, err)) != TW_OK) {
		tw_error_set(err, rc, "member \"time\" must be an RFC 3339 date-time such as "
			"2026-11-24T06:51:41Z");
		goto out;
	}
	if ((rc = check_status(json_object_get(root, "status"), err)) != TW_OK)
		goto out;
	*out = r;
	if (status != NULL && (*status = json_object_get(root, "status")) != NULL)
		json_incref(*status);
out:
	json_decref(root);
	return rc;
}

tw_rc wan_session_request_encode(const struct wan_session_request *req, struct tw_buf *out,
	struct tw_error *err)
{
	int64_t ms;

	if (!wan_gateway_id_valid(req->gateway_id))
		return tw_error_set(err, TW_E_INVALID, "gateway id \"%.64s\" is not valid",
			req->gateway_id);
	if (req->firmware_version[0] == '\0' ||
	    !printable_ascii(req->firmware_version, strnlen(req->firmware_version,
	    sizeof(req->firmware_version))))
		return tw_error_set(err, TW_E_INVALID, "firmware version must be printable ASCII");
	if (wan_time_parse(req->time, &ms, err) != TW_OK)
		return TW_E_INVALID;
	return dump_to(json_pack("{s:s, s:s, s:s}", "gateway_id", req->gateway_id,
		"firmware_version", req->firmware_version, "time", req->time), out, err);
}

/* ---- session response ---- */

tw_rc wan_session_response_parse(const void *body, size_t len,
	struct wan_session_response *out, struct tw_error *err)
{
	struct wan_session_response r;
	json_t *root = NULL;
	const char *s;
	size_t n;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	if ((rc = get_long(root, "protocol", 1, 65535, &r.protocol, err)) != TW_OK)
		goto out;
	if ((rc = get_string(root, "session", WAN_SESSION_ID_MAX, &s, &n, err)) != TW_OK)
		goto out;
	if (!session_id_valid(s, n)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"session\" must be [A-Za-z0-9_-]+");
		goto out;
	}
	memcpy(r.session, s, n);
	if ((rc = get_string(root, "server_time", WAN_TIME_MAX, &s, &n, err)) != TW_OK)
		goto out;
	memcpy(r.server_time, s, n);
	if ((rc = wan_time_parse(r.server_time, &r.server_time_ms, err)) != TW_OK)
		goto out;
	if ((rc = get_long(root, "pending_orders", 0, 1000000, &r.pending_orders, err)) != TW_OK)
		goto out;
	*out = r;
out:
	json_decref(root);
	return rc;
}

tw_rc wan_session_response_encode(const struct wan_session_response *res,
	struct tw_buf *out, struct tw_error *err)
{
	int64_t ms;

	if (!session_id_valid(res->session, strnlen(res->session, sizeof(res->session))))
		return tw_error_set(err, TW_E_INVALID, "session id is not valid");
	if (wan_time_parse(res->server_time, &ms, err) != TW_OK)
		return TW_E_INVALID;
	if (res->protocol < 1 || res->pending_orders < 0)
		return tw_error_set(err, TW_E_INVALID, "protocol or pending_orders out of range");
	return dump_to(json_pack("{s:I, s:s, s:s, s:I}", "protocol", (json_int_t)res->protocol,
		"session", res->session, "server_time", res->server_time,
		"pending_orders", (json_int_t)res->pending_orders), out, err);
}

/* ---- error body ---- */

tw_rc wan_error_parse(const void *body, size_t len, struct wan_error_body *out,
	struct tw_error *err)
{
	struct wan_error_body e;
	json_t *root = NULL, *obj;
	const char *s;
	size_t n;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&e, 0, sizeof(e));
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	obj = json_object_get(root, "error");
	if (!json_is_object(obj)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"error\" must be an object");
		goto out;
	}
	if ((rc = get_string(obj, "code", WAN_ERROR_CODE_MAX, &s, &n, err)) != TW_OK)
		goto out;
	memcpy(e.code, s, n);
	if (!error_code_valid(e.code)) {
		rc = tw_error_set(err, TW_E_INVALID, "error code must be [a-z0-9_]+");
		goto out;
	}
	/* The message is informational: long ones are cut (on a character boundary). */
	if ((rc = get_string(obj, "message", (size_t)WAN_MESSAGE_MAX_BODY, &s, &n, err)) != TW_OK)
		goto out;
	n = utf8_prefix(s, n, WAN_ERROR_MESSAGE_MAX);
	memcpy(e.message, s, n);
	*out = e;
out:
	json_decref(root);
	return rc;
}

tw_rc wan_error_encode(const char *code, const char *message, struct tw_buf *out,
	struct tw_error *err)
{
	size_t n;

	if (code == NULL || !error_code_valid(code))
		return tw_error_set(err, TW_E_INTERNAL, "invalid error code");
	if (message == NULL)
		message = "";
	n = utf8_prefix(message, strlen(message), WAN_ERROR_MESSAGE_MAX);
	/* json_stringn refuses invalid UTF-8; then fall back to a generic text. */
	json_t *msg = json_stringn(message, n);
	if (msg == NULL)
		msg = json_string("invalid request");
	return dump_to(json_pack("{s:{s:s, s:o}}", "error", "code", code, "message", msg),
		out, err);
}

const char *wan_error_code_for(tw_rc rc)
{
	switch (rc) {
	case TW_E_TOO_LARGE:
		return "too_large";
	case TW_E_PROTOCOL:
		return "bad_json";
	case TW_E_INVALID:
		return "invalid_request";
	default:
		return "internal";
	}
}

/* ---- orders (issue 4) ---- */

tw_rc wan_order_id_parse(const char *s, size_t len, int64_t *id, struct tw_error *err)
{
	uint64_t v = 0;

	*id = 0;
	if (s == NULL || len == 0 || len > WAN_ORDER_ID_MAX)
		return tw_error_set(err, TW_E_INVALID, "an order id is 1..%d decimal digits",
			WAN_ORDER_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return tw_error_set(err, TW_E_INVALID, "an order id is decimal digits only");
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return tw_error_set(err, TW_E_INVALID, "order id out of range");
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0)
		return tw_error_set(err, TW_E_INVALID, "order id 0 does not exist");
	*id = (int64_t)v;
	return TW_OK;
}

static bool order_type_ok(const char *s, size_t n)
{
	if (n == 0 || n > WAN_ORDER_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* An object member of at most max bytes of compact JSON; borrowed. */
static tw_rc get_object(json_t *obj, const char *key, size_t max, json_t **val,
	struct tw_error *err)
{
	json_t *v = json_object_get(obj, key);
	char *text;
	size_t n;

	*val = NULL;
	if (v == NULL)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" is missing", key);
	if (!json_is_object(v))
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be an object", key);
	if ((text = json_dumps(v, JSON_COMPACT)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	n = strlen(text);
	free(text);
	if (n > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "member \"%s\" exceeds %zu bytes", key, max);
	*val = v;
	return TW_OK;
}

void wan_orders_response_clear(struct wan_orders_response *r)
{
	if (r == NULL)
		return;
	json_decref(r->order.payload);
	memset(r, 0, sizeof(*r));
}

tw_rc wan_orders_response_encode(const struct wan_orders_response *r, struct tw_buf *out,
	struct tw_error *err)
{
	const struct wan_order *o = &r->order;
	json_t *orders = json_array();
	int64_t ms;
	char id[24];

	if (orders == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (r->pending_orders < 0) {
		json_decref(orders);
		return tw_error_set(err, TW_E_INVALID, "pending_orders out of range");
	}
	if (r->has_order) {
		if (o->id <= 0 || !order_type_ok(o->type, strnlen(o->type, sizeof(o->type))) ||
		    !json_is_object(o->payload) || o->attempt < 1 ||
		    wan_time_parse(o->deadline, &ms, err) != TW_OK) {
			json_decref(orders);
			return tw_error_set(err, TW_E_INVALID, "order to encode is not valid");
		}
		snprintf(id, sizeof(id), "%lld", (long long)o->id);
		if (json_array_append_new(orders, json_pack("{s:s, s:s, s:O, s:I, s:s}", "id", id,
		    "type", o->type, "payload", o->payload, "attempt", (json_int_t)o->attempt,
		    "deadline", o->deadline)) != 0) {
			json_decref(orders);
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
	}
	return dump_to(json_pack("{s:o, s:I}", "orders", orders, "pending_orders",
		(json_int_t)r->pending_orders), out, err);
}

tw_rc wan_orders_response_parse(const void *body, size_t len, struct wan_orders_response *out,
	struct tw_error *err)
{
	struct wan_orders_response r;
	json_t *root = NULL, *orders, *o, *payload;
	const char *s;
	size_t n;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	if ((rc = get_long(root, "pending_orders", 0, 1000000, &r.pending_orders, err)) != TW_OK)
		goto out;
	orders = json_object_get(root, "orders");
	if (!json_is_array(orders)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"orders\" must be an array");
		goto out;
	}
	if (json_array_size(orders) > 0) {
		o = json_array_get(orders, 0);
		if (!json_is_object(o)) {
			rc = tw_error_set(err, TW_E_INVALID, "an order must be an object");
			goto out;
		}
		if ((rc = get_string(o, "id", WAN_ORDER_ID_MAX, &s, &n, err)) != TW_OK ||
		    (rc = wan_order_id_parse(s, n, &r.order.id, err)) != TW_OK)
			goto out;
		if ((rc = get_string(o, "type", WAN_ORDER_TYPE_MAX, &s, &n, err)) != TW_OK)
			goto out;
		if (!order_type_ok(s, n)) {
			rc = tw_error_set(err, TW_E_INVALID, "order type must be [a-z0-9-]+");
			goto out;
		}
		memcpy(r.order.type, s, n);
		if ((rc = get_object(o, "payload", WAN_ORDER_PAYLOAD_MAX, &payload, err)) != TW_OK ||
		    (rc = get_long(o, "attempt", 1, 100, &r.order.attempt, err)) != TW_OK ||
		    (rc = get_string(o, "deadline", WAN_TIME_MAX, &s, &n, err)) != TW_OK)
			goto out;
		memcpy(r.order.deadline, s, n);
		if ((rc = wan_time_parse(r.order.deadline, &r.order.deadline_ms, err)) != TW_OK)
			goto out;
		r.order.payload = json_incref(payload);
		r.has_order = true;
	}
	*out = r;
out:
	json_decref(root);
	return rc;
}

void wan_order_result_clear(struct wan_order_result *r)
{
	if (r == NULL)
		return;
	json_decref(r->result);
	memset(r, 0, sizeof(*r));
}

tw_rc wan_order_result_parse(const void *body, size_t len, struct wan_order_result *out,
	struct tw_error *err)
{
	static const char *const ok_members[] = { "status", "result", NULL };
	static const char *const err_members[] = { "status", "error", NULL };
	static const char *const e_members[] = { "code", "message", NULL };
	struct wan_order_result r;
	json_t *root = NULL, *obj, *m;
	const char *s;
	size_t n;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	if ((rc = get_string(root, "status", 8, &s, &n, err)) != TW_OK)
		goto out;
	if (strcmp(s, "ok") == 0) {
		r.ok = true;
		if ((rc = only_members(root, ok_members, err)) != TW_OK ||
		    (rc = get_object(root, "result", WAN_ORDER_PAYLOAD_MAX, &obj, err)) != TW_OK)
			goto out;
		r.result = json_incref(obj);
	} else if (strcmp(s, "error") == 0) {
		if ((rc = only_members(root, err_members, err)) != TW_OK ||
		    (rc = get_object(root, "error", 1024, &obj, err)) != TW_OK ||
		    (rc = only_members(obj, e_members, err)) != TW_OK ||
		    (rc = get_string(obj, "code", WAN_ERROR_CODE_MAX, &s, &n, err)) != TW_OK)
			goto out;
		memcpy(r.code, s, n);
		if (!error_code_valid(r.code)) {
			rc = tw_error_set(err, TW_E_INVALID, "error code must be [a-z0-9_]+");
			goto out;
		}
		m = json_object_get(obj, "message");
		if (m != NULL) {
			if (!json_is_string(m) || json_string_length(m) > WAN_ERROR_MESSAGE_MAX) {
				rc = tw_error_set(err, TW_E_INVALID, "error message must be a string of at "
					"most %d bytes", WAN_ERROR_MESSAGE_MAX);
				goto out;
			}
			memcpy(r.message, json_string_value(m), json_string_length(m));
			if (strlen(r.message) != json_string_length(m) ||
			    !printable_ascii(r.message, strlen(r.message))) {
				rc = tw_error_set(err, TW_E_INVALID, "error message must be printable ASCII");
				goto out;
			}
		}
	} else {
		rc = tw_error_set(err, TW_E_INVALID, "member \"status\" must be \"ok\" or \"error\"");
		goto out;
	}
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	json_decref(r.result);
	json_decref(root);
	return rc;
}

tw_rc wan_order_result_encode(const struct wan_order_result *r, struct tw_buf *out,
	struct tw_error *err)
{
	if (r->ok) {
		if (!json_is_object(r->result))
			return tw_error_set(err, TW_E_INVALID, "an ok result needs a result object");
		return dump_to(json_pack("{s:s, s:O}", "status", "ok", "result", r->result), out,
			err);
	}
	if (!error_code_valid(r->code))
		return tw_error_set(err, TW_E_INVALID, "invalid error code");
	return dump_to(json_pack("{s:s, s:{s:s, s:s}}", "status", "error", "error", "code",
		r->code, "message", r->message), out, err);
}

tw_rc wan_pending_encode(long pending, struct tw_buf *out, struct tw_error *err)
{
	if (pending < 0)
		return tw_error_set(err, TW_E_INVALID, "pending_orders out of range");
	return dump_to(json_pack("{s:I}", "pending_orders", (json_int_t)pending), out, err);
}

tw_rc wan_pending_parse(const void *body, size_t len, long *pending, struct tw_error *err)
{
	json_t *root = NULL;
	tw_rc rc;

	*pending = 0;
	if ((rc = load_object(body, len, &root, err)) == TW_OK)
		rc = get_long(root, "pending_orders", 0, 1000000, pending, err);
	json_decref(root);
	return rc;
}

tw_rc wan_session_request_encode_status(const struct wan_session_request *req,
	const json_t *status, struct tw_buf *out, struct tw_error *err)
{
	int64_t ms;

	if (status == NULL)
		return wan_session_request_encode(req, out, err);
	if (!wan_gateway_id_valid(req->gateway_id) || req->firmware_version[0] == '\0' ||
	    wan_time_parse(req->time, &ms, err) != TW_OK)
		return tw_error_set(err, TW_E_INVALID, "session request to encode is not valid");
	if (check_status((json_t *)status, err) != TW_OK)
		return TW_E_INVALID;
	return dump_to(json_pack("{s:s, s:s, s:s, s:O}", "gateway_id", req->gateway_id,
		"firmware_version", req->firmware_version, "time", req->time, "status", status),
		out, err);
}

/* ---- EMT requests (UC-3.2.4) ---- */

/* CLS ids: 1..WAN_EMT_CLS_ID_MAX of [A-Za-z0-9._-], the profile-id rule of proxy profiles. */
static bool cls_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > WAN_EMT_CLS_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_id_char((unsigned char)s[i]))
			return false;
	return true;
}

tw_rc wan_emt_cls_request_parse(const void *body, size_t len,
	struct wan_emt_cls_request *out, struct tw_error *err)
{
	static const char *const members[] = { "gateway", "cls", "duration_s", NULL };
	struct wan_emt_cls_request r;
	json_t *root = NULL;
	const char *s;
	size_t n;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	/* The EMT limit is far below the gateway body limit: refuse before jansson runs. */
	if (len > WAN_EMT_BODY_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "body of %zu bytes exceeds the limit of %d",
			len, WAN_EMT_BODY_MAX);
		goto out;
	}
	if ((rc = load_object(body, len, &root, err)) != TW_OK)
		goto out;
	if ((rc = only_members(root, members, err)) != TW_OK)
		goto out;
	if ((rc = get_string(root, "gateway", WAN_GATEWAY_ID_MAX, &s, &n, err)) != TW_OK)
		goto out;
	memcpy(r.gateway, s, n);
	if (!wan_gateway_id_valid(r.gateway)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"gateway\" must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto out;
	}
	if ((rc = get_string(root, "cls", WAN_EMT_CLS_ID_MAX, &s, &n, err)) != TW_OK)
		goto out;
	if (!cls_id_valid(s, n)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"cls\" must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto out;
	}
	memcpy(r.cls, s, n);
	if ((rc = get_long(root, "duration_s", WAN_EMT_DURATION_MIN, WAN_EMT_DURATION_MAX,
	    &r.duration_s, err)) != TW_OK)
		goto out;
	*out = r;
out:
	json_decref(root);
	return rc;
}

tw_rc wan_emt_cls_request_encode(const struct wan_emt_cls_request *req, struct tw_buf *out,
	struct tw_error *err)
{
	if (!wan_gateway_id_valid(req->gateway))
		return tw_error_set(err, TW_E_INVALID, "gateway id \"%.64s\" is not valid",
			req->gateway);
	if (!cls_id_valid(req->cls, strnlen(req->cls, sizeof(req->cls))))
		return tw_error_set(err, TW_E_INVALID, "CLS id \"%.64s\" is not valid", req->cls);
	if (req->duration_s < WAN_EMT_DURATION_MIN || req->duration_s > WAN_EMT_DURATION_MAX)
		return tw_error_set(err, TW_E_INVALID, "duration_s must be in [%d, %d]",
			WAN_EMT_DURATION_MIN, WAN_EMT_DURATION_MAX);
	return dump_to(json_pack("{s:s, s:s, s:I}", "gateway", req->gateway, "cls", req->cls,
		"duration_s", (json_int_t)req->duration_s), out, err);
}
