/*
 * api_resource.c: the resource routes of the operator API (see api_resource.h).
 *
 * Every handler follows the same steps: the policy check of the command that shows the
 * same data (auth_command_find(...)->op, so the table in auth/command.c decides), the
 * store scoped to the operator's tenant for the duration of the request, the rows as
 * JSON with a "next" cursor when a page is full, and one admin-log entry for the read
 * (M-4.5.6.7: reads of operating data are logged). Writes build the argument vector of
 * their command and hand the request to api_command_handle.
 */
#include "api/api_resource.h"
#include "api/api_command.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "auth/command.h"
#include "base/log.h"
#include "base/util.h"
#include "pki/ca.h"
#include "audit/proof.h"
#include "audit/tree.h"
#include "store/store_alarms.h"
#include "store/store_audit_verified.h"
#include "store/store_auditlog.h"
#include "store/store_ca.h"
#include "store/store_firmware.h"
#include "store/store_jobs.h"
#include "store/store_profiles.h"

#define AR_PROBLEM_BASE "urn:torwart:problem:"
#define AR_CURSOR_MAX 64
#define AR_SEGMENTS_MAX 5
#define AR_WRITE_BODY_MAX (64 * 1024)

/* ---------------- problem details ---------------- */

int api_problem_status(tw_rc rc)
{
	switch (rc) {
	case TW_OK: return 200;
	case TW_E_INVALID: case TW_E_PROTOCOL: case TW_E_CONFIG: return 400;
	case TW_E_DENIED: return 403;
	case TW_E_NOT_FOUND: return 404;
	case TW_E_EXISTS: return 409;
	case TW_E_TOO_LARGE: return 413;
	case TW_E_UNAVAILABLE: return 503;
	default: return 500;
	}
}

static const char *ar_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

json_t *api_problem_json(tw_rc rc, const char *detail)
{
	char type[64];
	int status = api_problem_status(rc);

	snprintf(type, sizeof(type), AR_PROBLEM_BASE "%s", tw_strerror(rc));
	/* "error" keeps the shape older clients (torwart --api) read. */
	return json_pack("{s:s,s:s,s:i,s:s,s:s,s:{s:s,s:s}}", "type", type, "title",
		ar_reason(status), "status", status, "detail", detail != NULL ? detail : "",
		"code", tw_strerror(rc), "error", "code", tw_strerror(rc), "message",
		detail != NULL ? detail : "");
}

static void ar_send(struct evhttp_request *req, int status, const char *type, json_t *body)
{
	struct evbuffer *out = evbuffer_new();
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (out != NULL && text != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, status, ar_reason(status), out);
	free(text);
	if (out != NULL)
		evbuffer_free(out);
}

void api_problem_send(struct evhttp_request *req, tw_rc rc, const struct tw_error *err)
{
	json_t *body = api_problem_json(rc, err != NULL ? err->message : "");

	ar_send(req, api_problem_status(rc), "application/problem+json", body);
	json_decref(body);
}

/* ---------------- query strings ---------------- */

static const char *const apiq_names[APIQ__COUNT] = {
	"limit", "cursor", "state", "gateway", "tag", "kind", "ca", "batch", "status",
};

static int ar_hex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
		c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) into out (size API_QUERY_VALUE_MAX + 1); '+' is a space. */
static tw_rc ar_decode(const char *s, size_t n, char *out, const char *what,
	struct tw_error *err)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return tw_error_set(err, TW_E_INVALID, "query %s: a '%%' needs two hex "
					"digits", what);
			if (ar_hex((unsigned char)s[i + 1]) < 0 || ar_hex((unsigned char)s[i + 2]) < 0)
				return tw_error_set(err, TW_E_INVALID, "query %s: a '%%' needs two hex "
					"digits", what);
			c = ar_hex((unsigned char)s[i + 1]) * 16 + ar_hex((unsigned char)s[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c > 0x7e)
			return tw_error_set(err, TW_E_INVALID, "query %s: only printable ASCII", what);
		if (o >= API_QUERY_VALUE_MAX)
			return tw_error_set(err, TW_E_INVALID, "query %s: longer than %d bytes", what,
				API_QUERY_VALUE_MAX);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return TW_OK;
}

static bool ar_cursor_ok(const char *c)
{
	size_t n = strlen(c);

	if (n == 0 || n > AR_CURSOR_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)c[i]) && strchr("._:-", c[i]) == NULL)
			return false;
	return true;
}

tw_rc api_query_parse(const char *q, struct api_query *out, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	out->limit = API_QUERY_LIMIT_DEFAULT;
	for (const char *p = q; p != NULL && *p != '\0' && rc == TW_OK;) {
		size_t n = strcspn(p, "&"), k = strcspn(p, "=");
		char name[16];
		int key = -1;

		if (n == 0) {
			rc = tw_error_set(err, TW_E_INVALID, "query: an empty parameter ('&&')");
			break;
		}
		if (k >= n || k == 0 || k >= sizeof(name)) {
			rc = tw_error_set(err, TW_E_INVALID, "query: every parameter is NAME=VALUE");
			break;
		}
		memcpy(name, p, k);
		name[k] = '\0';
		for (int i = 0; i < APIQ__COUNT; i++)
			if (strcmp(name, apiq_names[i]) == 0)
				key = i;
		if (key < 0) {
			rc = tw_error_set(err, TW_E_INVALID, "query: unknown parameter '%s' (known: "
				"limit, cursor, state, gateway, tag, kind, ca, batch, status)", name);
			break;
		}
		if (out->has[key]) {
			rc = tw_error_set(err, TW_E_INVALID, "query: %s given twice", name);
			break;
		}
		if ((rc = ar_decode(p + k + 1, n - k - 1, out->value[key], apiq_names[key], err)) !=
		    TW_OK)
			break;
		out->has[key] = true;
		p += n;
		if (*p == '&')
			p++;
	}
	if (rc == TW_OK && out->has[APIQ_LIMIT])
		rc = tw_parse_long(out->value[APIQ_LIMIT], 1, API_QUERY_LIMIT_MAX, &out->limit, err,
			"limit");
	if (rc == TW_OK && out->has[APIQ_CURSOR] && !ar_cursor_ok(out->value[APIQ_CURSOR]))
		rc = tw_error_set(err, TW_E_INVALID, "cursor: not a cursor this api handed out "
			"(pass the 'next' value of the previous page unchanged)");
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---------------- shared steps ---------------- */

struct ar_call {
	const struct api_resource_ctx *ctx;
	struct evhttp_request *req;
	const struct auth_principal *p;
	struct api_query q;
	const char *seg[AR_SEGMENTS_MAX];    /* path captures ({id}) */
	char segbuf[AR_SEGMENTS_MAX][STORE_TEXT_MAX + 1];
};

/* The policy check of command/sub (the one table), on no particular tenant. */
static tw_rc ar_allowed(struct ar_call *c, const char *command, const char *sub,
	const char *what, struct tw_error *err)
{
	const struct auth_command *cmd = auth_command_find(command, sub);

	if (cmd == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "no command %s %s in the policy table",
			command, sub);
	return auth_check(c->ctx->store, c->p, cmd->op, 0, what, err);
}

static void ar_scope(struct ar_call *c)
{
	store_scope_tenant(c->ctx->store, c->p->break_glass ? 0 : c->p->tenant_id);
}

static void ar_unscope(struct ar_call *c)
{
	store_scope_tenant(c->ctx->store, 0);
}

static void ar_audit_read(struct ar_call *c, const char *object, size_t n)
{
	char detail[96];
	struct tw_error err;

	snprintf(detail, sizeof(detail), "%zu item(s) through the resource API", n);
	if (auth_audit_as(c->ctx->store, c->p, "api.read", object, "ok", detail, &err) != TW_OK)
		tw_warn("api: cannot log a read of %s: %s", object, err.message);
}

/* {"<name>": items, "next": cursor|null} */
static void ar_send_list(struct ar_call *c, const char *name, json_t *items,
	const char *next)
{
	json_t *body = json_pack("{s:o,s:o}", name, items, "next",
		next != NULL && next[0] != '\0' ? json_string(next) : json_null());

	ar_audit_read(c, name, json_array_size(items));
	ar_send(c->req, 200, "application/json", body);
	json_decref(body);
}

static void ar_send_one(struct ar_call *c, const char *object, json_t *item)
{
	ar_audit_read(c, object, 1);
	ar_send(c->req, 200, "application/json", item);
	json_decref(item);
}

static tw_rc ar_cursor_id(const struct ar_call *c, int64_t *after, struct tw_error *err)
{
	long v = 0;
	tw_rc rc = TW_OK;

	*after = 0;
	if (c->q.has[APIQ_CURSOR] &&
	    (rc = tw_parse_long(c->q.value[APIQ_CURSOR], 0, 0x7fffffffffffffffL, &v, err,
	    "cursor")) == TW_OK)
		*after = v;
	return rc;
}

/* Filters a resource does not know are refused, so a typo never widens a result. */
static tw_rc ar_only(const struct ar_call *c, unsigned allowed, struct tw_error *err)
{
	for (int i = 0; i < APIQ__COUNT; i++)
		if (c->q.has[i] && i != APIQ_LIMIT && i != APIQ_CURSOR && !(allowed & (1u << i)))
			return tw_error_set(err, TW_E_INVALID, "this resource has no '%s' filter",
				apiq_names[i]);
	return TW_OK;
}
#define F(k) (1u << (k))

/* ---------------- lists: one runner, a table entry per resource ---------------- */

/* What a list's "cursor" is: the last id handed out, the last text key, or an offset. */
enum ar_cursor_kind {
	AR_CURSOR_ID = 0,
	AR_CURSOR_TEXT,
	AR_CURSOR_OFFSET,
};

struct ar_list {
	struct ar_call *c;
	json_t *items;
	long limit;
	char next[AR_CURSOR_MAX + 1];
	const char *after_text;      /* AR_CURSOR_TEXT: the last key handed out */
	int64_t after_id;            /* AR_CURSOR_ID: the last id handed out */
	long skip;                   /* AR_CURSOR_OFFSET: items to pass over */
	long seen;
	const char *state, *kind, *gateway;
	bool open_only;              /* alarms: unacknowledged only */
	struct store_job_filter jobs;            /* jobs: the store's filter */
	char issuer[STORE_TEXT_MAX + 1];         /* certificates: the CA's name */
};

/*
 * One list resource: its filters, the command whose permission reads it (the one policy
 * table), its cursor, whether it is read on the operator's tenant-scoped store, the
 * resource's own query parameters (filters; may be NULL) and the store walk, whose
 * callback stops it (returns 1) at a full page: {"<name>": [...], "next": cursor|null}.
 */
struct ar_list_spec {
	const char *name;
	unsigned filters;            /* F(APIQ_...) beyond limit and cursor */
	const char *command, *sub, *what;
	enum ar_cursor_kind cursor;
	bool scoped;
	tw_rc (*filters_parse)(struct ar_call *c, struct ar_list *l, struct tw_error *err);
	tw_rc (*walk)(struct ar_call *c, struct ar_list *l, struct tw_error *err);
};

/* Whether the page is full: the walk stops and "next" stays at the last item taken. */
static bool ar_list_full(const struct ar_list *l)
{
	return (long)json_array_size(l->items) >= l->limit;
}

/* Take item (owned) onto the page; next is its cursor. */
static void ar_list_take(struct ar_list *l, json_t *item, const char *next)
{
	json_array_append_new(l->items, item);
	snprintf(l->next, sizeof(l->next), "%s", next);
}

static void ar_list_take_id(struct ar_list *l, json_t *item, int64_t id)
{
	char next[24];

	snprintf(next, sizeof(next), "%lld", (long long)id);
	ar_list_take(l, item, next);
}

/* Offset cursors: items to pass over; true when this one is passed over. */
static bool ar_list_skipped(struct ar_list *l)
{
	return l->seen++ < l->skip;
}

static void ar_list_take_seen(struct ar_list *l, json_t *item)
{
	ar_list_take_id(l, item, l->seen);
}

static tw_rc ar_list_run(struct ar_call *c, const struct ar_list_spec *s, struct tw_error *err)
{
	struct ar_list l = { .c = c, .limit = c->q.limit };
	tw_rc rc;

	if ((rc = ar_only(c, s->filters, err)) != TW_OK ||
	    (rc = ar_allowed(c, s->command, s->sub, s->what, err)) != TW_OK)
		return rc;
	/* An id cursor is read before the resource's own parameters, an offset after them
	 * (it counts over their selection), as each list did on its own before. */
	if (s->cursor == AR_CURSOR_ID && (rc = ar_cursor_id(c, &l.after_id, err)) != TW_OK)
		return rc;
	if (s->cursor == AR_CURSOR_TEXT)
		l.after_text = c->q.has[APIQ_CURSOR] ? c->q.value[APIQ_CURSOR] : NULL;
	if (s->filters_parse != NULL && (rc = s->filters_parse(c, &l, err)) != TW_OK)
		return rc;
	if (s->cursor == AR_CURSOR_OFFSET && c->q.has[APIQ_CURSOR] &&
	    (rc = tw_parse_long(c->q.value[APIQ_CURSOR], 0, 0x7fffffffL, &l.skip, err,
	    "cursor")) != TW_OK)
		return rc;
	if ((l.items = json_array()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (s->scoped)
		ar_scope(c);
	rc = s->walk(c, &l, err);
	if (s->scoped)
		ar_unscope(c);
	if (rc != TW_OK) {
		json_decref(l.items);
		return rc;
	}
	/* A short page is the last one. */
	ar_send_list(c, s->name, l.items, ar_list_full(&l) ? l.next : NULL);
	return TW_OK;
}

/* The route handler of spec. */
#define AR_LIST_HANDLER(fn, spec) \
	static tw_rc fn(struct ar_call *c, struct tw_error *err) \
	{ \
		return ar_list_run(c, &(spec), err); \
	}

/* The common filter: ?state= (or ?status=) as given, for the walk to compare. */
static tw_rc ar_filter_state(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	(void)err;
	l->state = c->q.has[APIQ_STATE] ? c->q.value[APIQ_STATE] : NULL;
	return TW_OK;
}

/* ---------------- gateways ---------------- */

static json_t *ar_gateway_json(struct tw_store *store, const struct store_gateway *gw)
{
	char tags[1024] = "", wake[STORE_ADDRESS_MAX + 1] = "";
	struct tw_error ignore;
	bool found = false;

	(void)store_gateway_tags(store, gw->gateway_id, tags, sizeof(tags), &ignore);
	if (store_gateway_wakeup_get(store, gw->gateway_id, wake, &found, &ignore) != TW_OK ||
	    !found)
		wake[0] = '\0';
	return json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:I}", "id", gw->gateway_id, "state",
		gw->state, "created_ms", (json_int_t)gw->created_ms, "last_contact_ms",
		(json_int_t)gw->last_contact_ms, "last_address", gw->last_address, "tags", tags,
		"wakeup", wake, "tenant_id", (json_int_t)gw->tenant_id);
}

static int ar_gateway_one(const struct store_gateway *gw, void *arg)
{
	struct ar_list *l = arg;

	if (l->after_text != NULL && strcmp(gw->gateway_id, l->after_text) <= 0)
		return 0;
	if (l->state != NULL && strcmp(gw->state, l->state) != 0)
		return 0;
	if (ar_list_full(l))
		return 1;   /* one more exists: the page ends at the last one taken */
	ar_list_take(l, ar_gateway_json(l->c->ctx->store, gw), gw->gateway_id);
	return 0;
}

static tw_rc ar_gateways_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return c->q.has[APIQ_TAG] ?
		store_gateway_select(c->ctx->store, GW_SELECT_TAG, c->q.value[APIQ_TAG],
			ar_gateway_one, l, err) :
		store_gateway_foreach(c->ctx->store, ar_gateway_one, l, err);
}

static const struct ar_list_spec ar_gateways_spec = {
	.name = "gateways", .filters = F(APIQ_TAG) | F(APIQ_STATE),
	.command = "gateway", .sub = "list", .what = "gateways", .cursor = AR_CURSOR_TEXT,
	.scoped = true, .filters_parse = ar_filter_state, .walk = ar_gateways_walk,
};
AR_LIST_HANDLER(ar_gateways, ar_gateways_spec)

static tw_rc ar_gateway(struct ar_call *c, struct tw_error *err)
{
	struct store_gateway gw;
	tw_rc rc;

	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "gateway", "list", "gateway", err)) != TW_OK)
		return rc;
	ar_scope(c);
	rc = store_gateway_get(c->ctx->store, c->seg[0], &gw, err);
	if (rc == TW_OK) {
		json_t *o = ar_gateway_json(c->ctx->store, &gw);
		int64_t open = 0;
		struct tw_error ignore;

		if (store_job_count_open(c->ctx->store, gw.gateway_id, &open, &ignore) == TW_OK)
			json_object_set_new(o, "open_jobs", json_integer(open));
		ar_unscope(c);
		ar_send_one(c, "gateway", o);
		return TW_OK;
	}
	ar_unscope(c);
	if (rc == TW_E_NOT_FOUND)   /* another tenant's gateway reads the same */
		tw_error_set(err, TW_E_NOT_FOUND, "gateway %s is not registered", c->seg[0]);
	return rc;
}

static int ar_profile_one(const struct store_profile *pr, void *arg)
{
	/* Never the document: it holds sealed meter keys and HAN credentials. */
	json_array_append_new(arg, json_pack("{s:s,s:s,s:s,s:I}", "profile_id", pr->profile_id,
		"type", pr->type, "hash", pr->hash, "updated_ms", (json_int_t)pr->updated_ms));
	return 0;
}

/* GET /v1/gateways/{id}/profiles: desired (ids, types, hashes) and the reported set. */
static tw_rc ar_gateway_profiles(struct ar_call *c, struct tw_error *err)
{
	struct store_profile_report rep;
	struct store_gateway gw;
	json_t *desired = NULL, *o, *reported = json_null();
	bool found = false;
	tw_rc rc;

	memset(&rep, 0, sizeof(rep));
	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "profile", "list", "profiles", err)) != TW_OK)
		return rc;
	if ((desired = json_array()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ar_scope(c);
	rc = store_gateway_get(c->ctx->store, c->seg[0], &gw, err);
	if (rc == TW_OK)
		rc = store_profile_foreach(c->ctx->store, gw.gateway_id, ar_profile_one, desired,
			err);
	if (rc == TW_OK)
		rc = store_profile_report_get(c->ctx->store, gw.gateway_id, &rep, &found, err);
	ar_unscope(c);
	if (rc == TW_E_NOT_FOUND)
		tw_error_set(err, TW_E_NOT_FOUND, "gateway %s is not registered", c->seg[0]);
	if (rc != TW_OK) {
		json_decref(desired);
		store_profile_report_clear(&rep);
		return rc;
	}
	if (found) {
		json_t *arr = rep.profiles != NULL ? json_loads(rep.profiles, 0, NULL) : NULL;

		reported = json_pack("{s:s,s:I,s:s,s:I}", "set_hash", rep.set_hash, "reported_ms",
			(json_int_t)rep.reported_ms, "source", rep.source, "count",
			(json_int_t)(json_is_array(arr) ? json_array_size(arr) : 0));
		json_decref(arr);
	}
	store_profile_report_clear(&rep);
	o = json_pack("{s:s,s:o,s:o}", "gateway", gw.gateway_id, "desired", desired, "reported",
		reported);
	ar_send_one(c, "profiles", o);
	return TW_OK;
}

/* ---------------- firmware ---------------- */

static int ar_firmware_one(const struct store_firmware *f, void *arg)
{
	struct ar_list *l = arg;

	if (f->id <= l->after_id)
		return 0;
	if (l->state != NULL && strcmp(f->state, l->state) != 0)
		return 0;
	if (ar_list_full(l))
		return 1;
	ar_list_take_id(l, json_pack("{s:I,s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:s,s:I,"
		"s:s}", "id", (json_int_t)f->id, "model", f->model, "version", f->version, "sha256",
		f->sha256, "size", (json_int_t)f->size, "signature", f->signature, "state",
		f->state, "uploaded_ms", (json_int_t)f->uploaded_ms, "uploaded_by", f->uploaded_by,
		"released_ms", (json_int_t)f->released_ms, "released_by", f->released_by), f->id);
	return 0;
}

static tw_rc ar_firmware_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_firmware_foreach(c->ctx->store, ar_firmware_one, l, err);
}

static const struct ar_list_spec ar_firmware_spec = {
	.name = "firmware", .filters = F(APIQ_STATE),
	.command = "firmware", .sub = "list", .what = "firmware", .cursor = AR_CURSOR_ID,
	.filters_parse = ar_filter_state, .walk = ar_firmware_walk,
};
AR_LIST_HANDLER(ar_firmware, ar_firmware_spec)

/* ---------------- jobs and fleet orders ---------------- */

static json_t *ar_job_json(const struct store_job *j)
{
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:i,s:I,s:I,s:s,s:s}", "id",
		(json_int_t)j->id, "fleet_order", (json_int_t)j->batch_id, "gateway",
		j->gateway_id, "type", j->type, "state", store_job_state_name(j->state) != NULL ?
		store_job_state_name(j->state) : "?", "attempts", j->attempts, "max_attempts",
		j->max_attempts, "created_ms", (json_int_t)j->created_ms, "updated_ms",
		(json_int_t)j->updated_ms, "actor", j->actor, "error", j->error);
	json_t *v;

	if (o != NULL && j->payload != NULL && (v = json_loads(j->payload, 0, NULL)) != NULL)
		json_object_set_new(o, "payload", v);
	if (o != NULL && j->result != NULL && j->result[0] != '\0' &&
	    (v = json_loads(j->result, 0, NULL)) != NULL)
		json_object_set_new(o, "result", v);
	return o;
}

static int ar_job_one(const struct store_job *j, void *arg)
{
	struct ar_list *l = arg;

	if (ar_list_full(l))
		return 1;
	ar_list_take_id(l, ar_job_json(j), j->id);
	return 0;
}

static tw_rc ar_jobs_filters(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	struct store_job_filter *f = &l->jobs;
	long batch = 0;
	tw_rc rc;

	memset(f, 0, sizeof(*f));
	f->state = -1;
	f->after_id = l->after_id;
	if (c->q.has[APIQ_STATE] && (f->state = store_job_state_parse(c->q.value[APIQ_STATE])) < 0)
		return tw_error_set(err, TW_E_INVALID, "state: not a job state (created, waking, "
			"awaiting-connection, sent, done, failed, timed-out, cancelled)");
	if (c->q.has[APIQ_BATCH] && (rc = tw_parse_long(c->q.value[APIQ_BATCH], 1,
	    0x7fffffffffffffffL, &batch, err, "batch")) != TW_OK)
		return rc;
	f->batch_id = batch;
	f->gateway_id = c->q.has[APIQ_GATEWAY] ? c->q.value[APIQ_GATEWAY] : NULL;
	f->limit = (size_t)l->limit + 1;
	/* The store filters by id already: the callback must not skip again. */
	l->after_id = 0;
	return TW_OK;
}

static tw_rc ar_jobs_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_job_foreach(c->ctx->store, &l->jobs, ar_job_one, l, err);
}

static const struct ar_list_spec ar_jobs_spec = {
	.name = "jobs", .filters = F(APIQ_GATEWAY) | F(APIQ_STATE) | F(APIQ_BATCH),
	.command = "job", .sub = "list", .what = "jobs", .cursor = AR_CURSOR_ID,
	.scoped = true, .filters_parse = ar_jobs_filters, .walk = ar_jobs_walk,
};
AR_LIST_HANDLER(ar_jobs, ar_jobs_spec)

static tw_rc ar_job(struct ar_call *c, struct tw_error *err)
{
	struct store_job j;
	long id = 0;
	tw_rc rc;

	memset(&j, 0, sizeof(j));
	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "job", "show", "job", err)) != TW_OK ||
	    (rc = tw_parse_long(c->seg[0], 1, 0x7fffffffffffffffL, &id, err, "job id")) != TW_OK)
		return rc;
	ar_scope(c);
	rc = store_job_get(c->ctx->store, id, &j, err);
	ar_unscope(c);
	if (rc == TW_E_NOT_FOUND)
		return tw_error_set(err, TW_E_NOT_FOUND, "job %ld does not exist", id);
	if (rc == TW_OK)
		ar_send_one(c, "job", ar_job_json(&j));
	store_job_clear(&j);
	return rc;
}

struct ar_progress {
	int64_t counts[JOB__STATES];
	int64_t n;
};

static int ar_progress_one(const struct store_job *j, void *arg)
{
	struct ar_progress *pr = arg;

	if ((unsigned)j->state < JOB__STATES)
		pr->counts[j->state]++;
	pr->n++;
	return 0;
}

/* One fleet order with its progress over the jobs counted in pr (NULL: no memory). */
static json_t *ar_fleet_json(const struct store_job_batch *b, const struct ar_progress *pr)
{
	json_t *states = json_object();
	int64_t done = 0;

	if (states == NULL)
		return NULL;
	for (int s = 0; s < JOB__STATES; s++) {
		json_object_set_new(states, store_job_state_name((enum store_job_state)s),
			json_integer(pr->counts[s]));
		if (!store_job_state_open((enum store_job_state)s))
			done += pr->counts[s];
	}
	return json_pack("{s:I,s:s,s:s,s:I,s:s,s:I,s:o,s:I,s:I}", "id", (json_int_t)b->id,
		"type", b->type, "selection", b->selection, "total", (json_int_t)b->total, "actor",
		b->actor, "created_ms", (json_int_t)b->created_ms, "states", states, "jobs",
		(json_int_t)pr->n, "finished", (json_int_t)done);
}

static tw_rc ar_fleet_order(struct ar_call *c, struct tw_error *err)
{
	struct store_job_batch b;
	struct store_job_filter f;
	struct ar_progress pr;
	json_t *o;
	long id = 0;
	tw_rc rc;

	memset(&pr, 0, sizeof(pr));
	memset(&f, 0, sizeof(f));
	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "job", "list", "fleet order", err)) != TW_OK ||
	    (rc = tw_parse_long(c->seg[0], 1, 0x7fffffffffffffffL, &id, err, "fleet order id")) !=
	    TW_OK)
		return rc;
	f.batch_id = id;
	f.state = -1;
	ar_scope(c);
	rc = store_job_batch_get(c->ctx->store, id, &b, err);
	/* Progress over the jobs this operator may see: none visible is "not found". */
	if (rc == TW_OK)
		rc = store_job_foreach(c->ctx->store, &f, ar_progress_one, &pr, err);
	ar_unscope(c);
	if (rc == TW_OK && pr.n == 0 && !c->p->break_glass && b.total > 0)
		rc = TW_E_NOT_FOUND;
	if (rc == TW_E_NOT_FOUND)
		return tw_error_set(err, TW_E_NOT_FOUND, "fleet order %ld does not exist", id);
	if (rc != TW_OK)
		return rc;
	if ((o = ar_fleet_json(&b, &pr)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ar_send_one(c, "fleet-order", o);
	return TW_OK;
}

/*
 * GET /v1/fleet-orders: newest first, only orders with a job this operator may see (as
 * GET /v1/fleet-orders/{id}); cursor = the last id handed out, the next page is older.
 */
static tw_rc ar_fleet_orders(struct ar_call *c, struct tw_error *err)
{
	struct store_job_batch *b = NULL;
	int64_t before = 0;
	size_t n = 0;
	char next[AR_CURSOR_MAX + 1] = "";
	json_t *items = NULL;
	tw_rc rc;

	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "job", "list", "fleet orders", err)) != TW_OK ||
	    (rc = ar_cursor_id(c, &before, err)) != TW_OK)
		return rc;
	if ((items = json_array()) == NULL || (b = calloc((size_t)c->q.limit, sizeof(*b))) == NULL) {
		json_decref(items);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	/* Pages of the store's list until the page is full of visible orders or none is left. */
	do {
		if ((rc = store_job_batch_list(c->ctx->store, before, b, (size_t)c->q.limit, &n,
		    err)) != TW_OK)
			goto out;
		for (size_t i = 0; i < n && (long)json_array_size(items) < c->q.limit; i++) {
			struct store_job_filter f;
			struct ar_progress pr;
			json_t *o;

			before = b[i].id;
			memset(&pr, 0, sizeof(pr));
			memset(&f, 0, sizeof(f));
			f.batch_id = b[i].id;
			f.state = -1;
			ar_scope(c);
			rc = store_job_foreach(c->ctx->store, &f, ar_progress_one, &pr, err);
			ar_unscope(c);
			if (rc != TW_OK)
				goto out;
			if (pr.n == 0 && !c->p->break_glass && b[i].total > 0)
				continue;           /* another tenant's: not shown */
			if ((o = ar_fleet_json(&b[i], &pr)) == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
			json_array_append_new(items, o);
			snprintf(next, sizeof(next), "%lld", (long long)b[i].id);
		}
	} while (n == (size_t)c->q.limit && (long)json_array_size(items) < c->q.limit);
	ar_send_list(c, "fleet_orders", items, (long)json_array_size(items) >= c->q.limit ?
		next : NULL);
	items = NULL;
out:
	json_decref(items);
	free(b);
	return rc;
}

/* ---------------- alarms ---------------- */

static int ar_alarm_one(const struct store_gateway_message *m, void *arg)
{
	struct ar_list *l = arg;
	struct store_gateway gw;
	struct store_alarm_ack ack;
	struct tw_error ignore;
	bool acked = false;

	if (m->id <= l->after_id)
		return 0;
	/* Tenant isolation: the gateway must be visible on the scoped store. */
	if (store_gateway_get(l->c->ctx->store, m->gateway_id, &gw, &ignore) != TW_OK)
		return 0;
	if (store_alarm_ack_get(l->c->ctx->store, m->id, &ack, &acked, &ignore) != TW_OK)
		acked = false;
	if (l->open_only && acked)
		return 0;
	if (ar_list_full(l))
		return 1;
	ar_list_take_id(l, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:o}",
		"id", (json_int_t)m->id, "gateway", m->gateway_id, "kind", m->kind, "type",
		m->type, "severity", m->severity, "gateway_time", m->gateway_time, "received_ms",
		(json_int_t)m->received_ms, "message", m->message, "actions", m->actions,
		"acknowledged", acked ? json_pack("{s:s,s:I,s:s}", "by", ack.acked_by, "ms",
		(json_int_t)ack.acked_ms, "note", ack.note) : json_null()), m->id);
	return 0;
}

static tw_rc ar_alarms_filters(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	const char *kind = c->q.has[APIQ_KIND] ? c->q.value[APIQ_KIND] : "alarm";

	if (strcmp(kind, "alarm") != 0 && strcmp(kind, "notification") != 0 &&
	    strcmp(kind, "selftest") != 0 && strcmp(kind, "all") != 0)
		return tw_error_set(err, TW_E_INVALID, "kind: alarm, notification, selftest or all");
	if (c->q.has[APIQ_STATUS] && strcmp(c->q.value[APIQ_STATUS], "open") != 0 &&
	    strcmp(c->q.value[APIQ_STATUS], "all") != 0)
		return tw_error_set(err, TW_E_INVALID, "status: open (not acknowledged) or all");
	l->open_only = c->q.has[APIQ_STATUS] && strcmp(c->q.value[APIQ_STATUS], "open") == 0;
	l->kind = strcmp(kind, "all") == 0 ? NULL : kind;
	l->gateway = c->q.has[APIQ_GATEWAY] ? c->q.value[APIQ_GATEWAY] : NULL;
	return TW_OK;
}

static tw_rc ar_alarms_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_gateway_message_foreach(c->ctx->store, l->gateway, l->kind, ar_alarm_one,
		l, err);
}

static const struct ar_list_spec ar_alarms_spec = {
	.name = "alarms", .filters = F(APIQ_GATEWAY) | F(APIQ_KIND) | F(APIQ_STATUS),
	.command = "alarm", .sub = "list", .what = "alarms", .cursor = AR_CURSOR_ID,
	.scoped = true, .filters_parse = ar_alarms_filters, .walk = ar_alarms_walk,
};
AR_LIST_HANDLER(ar_alarms, ar_alarms_spec)

/* ---------------- certificates, CRLs, participants, requests ---------------- */

static json_t *ar_cert_json(const struct store_ca_cert *x)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:i}", "serial",
		x->serial_hex, "subject", x->subject, "owner_kind", x->owner_kind, "owner",
		x->owner_id, "usage", x->usage, "not_before", (json_int_t)x->not_before,
		"not_after", (json_int_t)x->not_after, "status", x->status, "fingerprint",
		x->fingerprint, "request", (json_int_t)x->request_id, "revoked_ms",
		(json_int_t)x->revoked_ms, "revocation_reason", x->revocation_reason);
}

static int ar_cert_one(const struct store_ca_cert *x, void *arg)
{
	struct ar_list *l = arg;

	if (l->state != NULL && strcmp(x->status, l->state) != 0)
		return 0;
	if (ar_list_skipped(l))
		return 0;
	if (ar_list_full(l))
		return 1;
	ar_list_take_seen(l, ar_cert_json(x));
	return 0;
}

static tw_rc ar_issuer(struct ar_call *c, char *issuer, size_t size, struct tw_error *err)
{
	return ca_issuer_name(c->ctx->home, c->q.has[APIQ_CA] ? c->q.value[APIQ_CA] :
		CA_DEFAULT_NAME,
		issuer, size, err);
}

static tw_rc ar_certificates_filters(struct ar_call *c, struct ar_list *l,
	struct tw_error *err)
{
	l->state = c->q.has[APIQ_STATUS] ? c->q.value[APIQ_STATUS] : NULL;
	return ar_issuer(c, l->issuer, sizeof(l->issuer), err);
}

static tw_rc ar_certificates_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_ca_cert_foreach(c->ctx->store, l->issuer, ar_cert_one, l, err);
}

static const struct ar_list_spec ar_certificates_spec = {
	.name = "certificates", .filters = F(APIQ_CA) | F(APIQ_STATUS),
	.command = "ca", .sub = "list", .what = "certificates", .cursor = AR_CURSOR_OFFSET,
	.filters_parse = ar_certificates_filters, .walk = ar_certificates_walk,
};
AR_LIST_HANDLER(ar_certificates, ar_certificates_spec)

static tw_rc ar_certificate(struct ar_call *c, struct tw_error *err)
{
	char issuer[STORE_TEXT_MAX + 1], hex[STORE_ID_MAX + 1];
	struct store_ca_cert x;
	tw_rc rc;

	memset(&x, 0, sizeof(x));
	if ((rc = ar_only(c, F(APIQ_CA), err)) != TW_OK ||
	    (rc = ar_allowed(c, "ca", "show", "certificate", err)) != TW_OK ||
	    (rc = ca_serial_normalise(c->seg[0], hex, sizeof(hex), err)) != TW_OK ||
	    (rc = ar_issuer(c, issuer, sizeof(issuer), err)) != TW_OK)
		return rc;
	rc = store_ca_cert_get(c->ctx->store, issuer, hex, false, &x, err);
	if (rc == TW_E_NOT_FOUND)
		return tw_error_set(err, TW_E_NOT_FOUND, "no certificate %s of this CA", hex);
	if (rc == TW_OK)
		ar_send_one(c, "certificate", ar_cert_json(&x));
	store_ca_cert_clear(&x);
	return rc;
}

static tw_rc ar_crls(struct ar_call *c, struct tw_error *err)
{
	const char *list = tw_config_get_or(c->ctx->home->conf, "ca", "crl_cas", CA_DEFAULT_NAME);
	json_t *items;
	tw_rc rc;

	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "ca", "list", "crls", err)) != TW_OK)
		return rc;
	if ((items = json_array()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (const char *p = list; *p != '\0' && rc == TW_OK;) {
		char ca[STORE_ID_MAX + 1];
		struct store_ca_crl crl;
		bool found = false;
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if ((n = strcspn(p, " ,")) == 0 || n > STORE_ID_MAX)
			break;
		memcpy(ca, p, n);
		ca[n] = '\0';
		p += n;
		if ((rc = store_ca_crl_get(c->ctx->store, ca, &crl, &found, err)) != TW_OK)
			break;
		json_array_append_new(items, found ?
			json_pack("{s:s,s:I,s:I,s:I,s:I,s:s,s:b,s:s}", "ca", ca, "number",
			(json_int_t)crl.number, "this_update", (json_int_t)crl.this_update,
			"next_update", (json_int_t)crl.next_update, "entries", (json_int_t)crl.entries,
			"sha256", crl.sha256, "dirty", crl.dirty, "url_path", "") :
			json_pack("{s:s,s:n}", "ca", ca, "number"));
		if (found) {
			char url[STORE_ID_MAX + 16];

			snprintf(url, sizeof(url), "/crl/%s.crl", ca);
			json_object_set_new(json_array_get(items, json_array_size(items) - 1),
				"url_path", json_string(url));
		}
	}
	if (rc != TW_OK) {
		json_decref(items);
		return rc;
	}
	ar_send_list(c, "crls", items, NULL);
	return TW_OK;
}

static int ar_participant_one(const struct store_ca_participant *pa, void *arg)
{
	struct ar_list *l = arg;

	if (ar_list_skipped(l))
		return 0;
	if (ar_list_full(l))
		return 1;
	ar_list_take_seen(l, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s}",
		"name", pa->name, "organisation", pa->organisation, "role", pa->role,
		"market_partner_id", pa->market_partner_id, "common_name", pa->common_name,
		"email", pa->email, "gateway", pa->gateway_id, "created_ms",
		(json_int_t)pa->created_ms, "created_by", pa->created_by));
	return 0;
}

static tw_rc ar_participants_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_ca_participant_foreach(c->ctx->store, ar_participant_one, l, err);
}

static const struct ar_list_spec ar_participants_spec = {
	.name = "participants", .command = "ca", .sub = "participants",
	.what = "participants", .cursor = AR_CURSOR_OFFSET, .walk = ar_participants_walk,
};
AR_LIST_HANDLER(ar_participants, ar_participants_spec)

static int ar_request_one(const struct store_ca_request *r, void *arg)
{
	struct ar_list *l = arg;

	if (r->id <= l->after_id)
		return 0;
	if (ar_list_full(l))
		return 1;
	ar_list_take_id(l, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s}",
		"id", (json_int_t)r->id, "participant", r->participant, "kind", r->kind, "state",
		r->state, "subject", r->subject, "received_ms", (json_int_t)r->received_ms,
		"decided_ms", (json_int_t)r->decided_ms, "decided_by", r->decided_by, "reason",
		r->reason), r->id);
	return 0;
}

/* The store filters by state itself (l->state is the filter, not compared again). */
static tw_rc ar_requests_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_ca_request_foreach(c->ctx->store, l->state, ar_request_one, l, err);
}

static const struct ar_list_spec ar_requests_spec = {
	.name = "requests", .filters = F(APIQ_STATE),
	.command = "ca", .sub = "requests", .what = "requests", .cursor = AR_CURSOR_ID,
	.filters_parse = ar_filter_state, .walk = ar_requests_walk,
};
AR_LIST_HANDLER(ar_requests, ar_requests_spec)

/* ---------------- the admin log ---------------- */

static int ar_entry_one(const struct store_audit_row *r, void *arg)
{
	struct ar_list *l = arg;
	char hash[65];

	if (ar_list_full(l))
		return 1;
	tw_hex_encode(r->hash, sizeof(r->hash), hash);
	ar_list_take_id(l, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,"
		"s:s}", "seq", (json_int_t)r->seq, "time", r->time, "actor", r->actor, "role",
		r->role, "client", r->client, "action", r->action, "object", r->object, "result",
		r->result, "detail", r->detail, "error_code", r->error_code, "hash", hash), r->seq);
	return 0;
}

/* The store starts after the cursor itself. */
static tw_rc ar_admin_log_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_audit_foreach(c->ctx->store, l->after_id + 1, ar_entry_one, l, err);
}

static const struct ar_list_spec ar_admin_log_spec = {
	.name = "entries", .command = "audit", .sub = "export", .what = "admin_log",
	.cursor = AR_CURSOR_ID, .walk = ar_admin_log_walk,
};
AR_LIST_HANDLER(ar_admin_log, ar_admin_log_spec)

static int ar_head_one(const struct store_auditlog_head *h, void *arg)
{
	struct ar_list *l = arg;
	char root[65], ts[40];

	if (h->tree_size <= l->after_id)
		return 0;
	if (ar_list_full(l))
		return 1;
	tw_hex_encode(h->root, sizeof(h->root), root);
	tw_time_format_utc(h->time_ms, ts, sizeof(ts));
	ar_list_take_id(l, json_pack("{s:I,s:s,s:I,s:s,s:s}", "tree_size",
		(json_int_t)h->tree_size, "root", root, "time_ms", (json_int_t)h->time_ms, "time",
		ts, "key", h->key_label), h->tree_size);
	return 0;
}

static tw_rc ar_heads_walk(struct ar_call *c, struct ar_list *l, struct tw_error *err)
{
	return store_auditlog_head_foreach(c->ctx->store, ar_head_one, l, err);
}

static const struct ar_list_spec ar_heads_spec = {
	.name = "heads", .command = "audit", .sub = "export", .what = "signed heads",
	.cursor = AR_CURSOR_ID, .walk = ar_heads_walk,
};
AR_LIST_HANDLER(ar_heads, ar_heads_spec)

/*
 * GET /v1/admin-log/{seq}/proof: the inclusion proof of entry seq in the latest signed
 * head that covers it (else the current tree), as JSON and as the proof document that
 * `torwart audit proof --verify FILE` checks offline (audit/proof.h).
 */
static tw_rc ar_proof(struct ar_call *c, struct tw_error *err)
{
	struct audit_proof_doc *doc = calloc(1, sizeof(*doc));
	struct store_auditlog_head head;
	char hex[2 * STORE_AUDITLOG_SIG_MAX + 1], *text = NULL;
	size_t text_len = 0;
	json_t *o = NULL, *path = NULL;
	FILE *mem = NULL;
	bool found = false;
	long seq = 0;
	tw_rc rc;

	if (doc == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "audit", "proof", "admin_log proof", err)) != TW_OK ||
	    (rc = tw_parse_long(c->seg[0], 1, 0x7fffffffffffffffL, &seq, err, "entry")) != TW_OK)
		goto out;
	if ((rc = store_auditlog_head_get(c->ctx->store, 0, &head, &found, err)) != TW_OK)
		goto out;
	if (found && head.tree_size >= seq)
		doc->tree_size = head.tree_size;
	else if ((rc = audit_tree_size(c->ctx->store, &doc->tree_size, err)) != TW_OK)
		goto out;
	if (seq > doc->tree_size) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "entry %ld is not in the admin log", seq);
		goto out;
	}
	doc->leaf_index = seq - 1;
	if ((rc = audit_tree_inclusion(c->ctx->store, seq, doc->tree_size, doc->leaf_hash,
	    &doc->path, err)) != TW_OK ||
	    (rc = audit_tree_root(c->ctx->store, doc->tree_size, doc->root, err)) != TW_OK ||
	    (rc = store_auditlog_head_get(c->ctx->store, doc->tree_size, &head, &found, err)) !=
	    TW_OK)
		goto out;
	if (found && !tw_ct_equal(head.root, doc->root, 32)) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "the signed head at size %lld does not match "
			"the log (run torwart audit verify)", (long long)head.tree_size);
		goto out;
	}
	if (found) {
		doc->has_head = true;
		doc->head_time_ms = head.time_ms;
		memcpy(doc->sig, head.sig, head.sig_len);
		doc->sig_len = head.sig_len;
	}
	if ((mem = open_memstream(&text, &text_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = audit_proof_write(doc, mem, err);
	fclose(mem);
	if (rc != TW_OK || (path = json_array()) == NULL) {
		if (rc == TW_OK)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < doc->path.count; i++) {
		tw_hex_encode(doc->path.hash[i], 32, hex);
		json_array_append_new(path, json_string(hex));
	}
	tw_hex_encode(doc->root, 32, hex);
	o = json_pack("{s:I,s:I,s:I,s:s,s:o}", "entry", (json_int_t)seq, "leaf_index",
		(json_int_t)doc->leaf_index, "tree_size", (json_int_t)doc->tree_size, "root", hex,
		"path", path);
	path = NULL;
	tw_hex_encode(doc->leaf_hash, 32, hex);
	json_object_set_new(o, "leaf_hash", json_string(hex));
	if (doc->has_head) {
		tw_hex_encode(doc->sig, doc->sig_len, hex);
		json_object_set_new(o, "signed_head", json_pack("{s:I,s:s}", "time_ms",
			(json_int_t)doc->head_time_ms, "signature", hex));
	} else {
		json_object_set_new(o, "signed_head", json_null());
	}
	json_object_set_new(o, "document", json_stringn(text, text_len));
	ar_send_one(c, "admin_log proof", o);
	o = NULL;
out:
	json_decref(path);
	json_decref(o);
	free(text);
	free(doc);
	return rc;
}

/*
 * GET /v1/admin-log/verified: how far the worker's incremental verification of the admin
 * log has come (audit/verify.c, table admin_log_verified): the signed head it last
 * verified and when. The web console's dashboard shows it.
 */
static tw_rc ar_log_verified(struct ar_call *c, struct tw_error *err)
{
	struct store_audit_verified v;
	bool found = false;
	json_t *o;
	tw_rc rc;

	if ((rc = ar_only(c, 0, err)) != TW_OK ||
	    (rc = ar_allowed(c, "audit", "export", "admin-log verification", err)) != TW_OK ||
	    (rc = store_audit_verified_get(c->ctx->store, "worker", &v, &found, err)) != TW_OK)
		return rc;
	o = found ? json_pack("{s:s,s:b,s:I,s:I}", "verifier", "worker", "verified", 1,
		"tree_size", (json_int_t)v.tree_size, "verified_ms", (json_int_t)v.verified_ms) :
		json_pack("{s:s,s:b,s:n,s:n}", "verifier", "worker", "verified", 0, "tree_size",
		"verified_ms");
	if (o == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ar_send_one(c, "admin-log verification", o);
	return TW_OK;
}

/* ---------------- writes: the command of the same name ---------------- */

/* Replace the request body by {"argv": argv, "why": why} and run it as /v1/commands. */
static void ar_run_command(struct ar_call *c, json_t *argv, const char *why)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	json_t *body = json_pack("{s:o}", "argv", argv);
	char *text;

	if (body != NULL && why != NULL)
		json_object_set_new(body, "why", json_string(why));
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL || in == NULL) {
		struct tw_error err;

		tw_error_set(&err, TW_E_NOMEM, "out of memory");
		api_problem_send(c->req, TW_E_NOMEM, &err);
		free(text);
		return;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, text, strlen(text));
	free(text);
	api_command_handle(c->ctx->commands, c->req, c->p);
}

/* data[0..n) as a JSON object (caller decrefs). */
static tw_rc ar_body_parse(const char *data, size_t n, json_t **out, struct tw_error *err)
{
	json_error_t je;

	*out = NULL;
	if (n > AR_WRITE_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "body over %d bytes", AR_WRITE_BODY_MAX);
	if (data == NULL || n == 0)
		return tw_error_set(err, TW_E_INVALID, "a JSON object body is required");
	*out = json_loadb(data, n, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INVALID, "body: not a JSON object (%s)", je.text);
	}
	return TW_OK;
}

/* The request's body, pulled up (borrowed from the request). */
static const char *ar_body_bytes(struct ar_call *c, size_t *n)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);

	*n = in != NULL ? evbuffer_get_length(in) : 0;
	return *n > 0 ? (const char *)evbuffer_pullup(in, (ev_ssize_t)*n) : NULL;
}

/* Member name of body as a string, or NULL; a non-string is an error. */
static tw_rc ar_str(json_t *body, const char *name, const char **out, struct tw_error *err)
{
	json_t *v = json_object_get(body, name);

	*out = NULL;
	if (v == NULL)
		return TW_OK;
	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "body: %s must be a string", name);
	*out = json_string_value(v);
	return TW_OK;
}

/* Only the listed members; a typo must not be ignored silently. */
static tw_rc ar_members(json_t *body, const char *const *known, struct tw_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; known[i] != NULL && !ok; i++)
			ok = strcmp(key, known[i]) == 0;
		if (!ok)
			return tw_error_set(err, TW_E_INVALID, "body: unknown member '%.40s'", key);
	}
	return TW_OK;
}

tw_rc api_resource_fleet_argv(const char *data, size_t n, json_t **argv_out,
	char **why_out, struct tw_error *err)
{
	static const char *const known[] = { "type", "gateway", "gateways", "tag", "tenant",
		"all", "payload", "timeout", "attempts", "why", NULL };
	static const char *const sel[] = { "gateway", "gateways", "tag", "tenant" };
	json_t *body = NULL, *argv = NULL;
	const char *type = NULL, *why = NULL, *s = NULL;
	int selections = 0;
	tw_rc rc;

	*argv_out = NULL;
	*why_out = NULL;
	if ((rc = ar_body_parse(data, n, &body, err)) != TW_OK ||
	    (rc = ar_members(body, known, err)) != TW_OK ||
	    (rc = ar_str(body, "type", &type, err)) != TW_OK ||
	    (rc = ar_str(body, "why", &why, err)) != TW_OK)
		goto out;
	if (type == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "body: type is required");
		goto out;
	}
	if ((argv = json_pack("[s,s,s,s]", "job", "create", "--type", type)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		char opt[16];

		if ((rc = ar_str(body, sel[i], &s, err)) != TW_OK)
			goto out;
		if (s == NULL)
			continue;
		selections++;
		snprintf(opt, sizeof(opt), "--%s", sel[i]);
		json_array_append_new(argv, json_string(opt));
		json_array_append_new(argv, json_string(s));
	}
	if (json_object_get(body, "all") != NULL && !json_is_boolean(json_object_get(body, "all"))) {
		rc = tw_error_set(err, TW_E_INVALID, "body: all must be true or false");
		goto out;
	}
	if (json_is_true(json_object_get(body, "all"))) {
		selections++;
		json_array_append_new(argv, json_string("--gateways"));
		json_array_append_new(argv, json_string("all"));
	}
	if (selections != 1) {
		rc = tw_error_set(err, TW_E_INVALID, "body: name the gateways once: gateway, "
			"gateways (comma list), tag, tenant or \"all\": true");
		goto out;
	}
	if (json_object_get(body, "payload") != NULL) {
		char *p = json_is_object(json_object_get(body, "payload")) ?
			json_dumps(json_object_get(body, "payload"), JSON_COMPACT | JSON_SORT_KEYS) :
			NULL;

		if (p == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "body: payload must be an object");
			goto out;
		}
		json_array_append_new(argv, json_string("--payload"));
		json_array_append_new(argv, json_string(p));
		free(p);
	}
	for (int i = 0; i < 2; i++) {
		const char *name = i == 0 ? "timeout" : "attempts";
		json_t *v = json_object_get(body, name);
		char num[24], opt[16];

		if (v == NULL)
			continue;
		if (!json_is_integer(v)) {
			rc = tw_error_set(err, TW_E_INVALID, "body: %s must be an integer", name);
			goto out;
		}
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		snprintf(opt, sizeof(opt), "--%s", name);
		json_array_append_new(argv, json_string(opt));
		json_array_append_new(argv, json_string(num));
	}
	if (why != NULL && (*why_out = tw_strdup(why)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	*argv_out = argv;
	argv = NULL;
out:
	json_decref(argv);
	json_decref(body);
	return rc;
}

/* POST /v1/fleet-orders -> torwart job create ... (api_resource_fleet_argv) */
static tw_rc ar_fleet_order_create(struct ar_call *c, struct tw_error *err)
{
	json_t *argv = NULL;
	char *why = NULL;
	size_t n = 0;
	const char *data = ar_body_bytes(c, &n);
	tw_rc rc = api_resource_fleet_argv(data, n, &argv, &why, err);

	if (rc == TW_OK)
		ar_run_command(c, argv, why);   /* steals argv */
	free(why);
	return rc;
}

tw_rc api_resource_revoke_argv(const char *serial, const char *data, size_t n,
	json_t **argv_out, char **why_out, struct tw_error *err)
{
	static const char *const known[] = { "reason", "why", "ca", NULL };
	json_t *body = NULL, *argv = NULL;
	const char *reason = NULL, *why = NULL, *ca = NULL;
	tw_rc rc;

	*argv_out = NULL;
	*why_out = NULL;
	if ((rc = ar_body_parse(data, n, &body, err)) != TW_OK ||
	    (rc = ar_members(body, known, err)) != TW_OK ||
	    (rc = ar_str(body, "reason", &reason, err)) != TW_OK ||
	    (rc = ar_str(body, "why", &why, err)) != TW_OK ||
	    (rc = ar_str(body, "ca", &ca, err)) != TW_OK)
		goto out;
	if ((argv = json_pack("[s,s,s]", "ca", "revoke", serial)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (reason != NULL) {
		json_array_append_new(argv, json_string("--reason"));
		json_array_append_new(argv, json_string(reason));
	}
	if (ca != NULL) {
		json_array_append_new(argv, json_string("--ca"));
		json_array_append_new(argv, json_string(ca));
	}
	if (why != NULL && (*why_out = tw_strdup(why)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	*argv_out = argv;
	argv = NULL;
out:
	json_decref(argv);
	json_decref(body);
	return rc;
}

/* POST /v1/certificates/{serial}/revoke -> torwart ca revoke SERIAL ... */
static tw_rc ar_certificate_revoke(struct ar_call *c, struct tw_error *err)
{
	json_t *argv = NULL;
	char *why = NULL;
	size_t n = 0;
	const char *data = ar_body_bytes(c, &n);
	tw_rc rc = api_resource_revoke_argv(c->seg[0], data, n, &argv, &why, err);

	if (rc == TW_OK)
		ar_run_command(c, argv, why);   /* steals argv */
	free(why);
	return rc;
}

/* POST /v1/alarms/{id}/ack {"reason"} -> torwart alarm ack --id N [--reason R] */
static tw_rc ar_alarm_ack(struct ar_call *c, struct tw_error *err)
{
	static const char *const known[] = { "reason", NULL };
	json_t *body = NULL, *argv = NULL;
	const char *reason = NULL;
	size_t n = 0;
	const char *data = ar_body_bytes(c, &n);
	tw_rc rc;

	if ((rc = ar_body_parse(data, n, &body, err)) != TW_OK ||
	    (rc = ar_members(body, known, err)) != TW_OK ||
	    (rc = ar_str(body, "reason", &reason, err)) != TW_OK)
		goto out;
	if ((argv = json_pack("[s,s,s,s]", "alarm", "ack", "--id", c->seg[0])) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (reason != NULL) {
		json_array_append_new(argv, json_string("--reason"));
		json_array_append_new(argv, json_string(reason));
	}
	ar_run_command(c, argv, NULL);
	argv = NULL;
out:
	json_decref(argv);
	json_decref(body);
	return rc;
}

/* ---------------- summary (the console's dashboard) ---------------- */

/* A gateway counts as online with a contact in this window (the dashboard's wording). */
#define AR_ONLINE_WINDOW_MS (24LL * 3600 * 1000)

/*
 * Counts over whole tables in SQL (a page of a list stops at its limit), on the operator's
 * tenant. Each part needs the permission of the list it counts (the one policy table); a
 * part the operator may not read is null and its reason is in "denied".
 */
static tw_rc ar_summary(struct ar_call *c, struct tw_error *err)
{
	json_t *body = NULL, *denied = NULL, *by = NULL;
	int64_t total = 0, online = 0, open = 0, counts[JOB__STATES];
	struct tw_error why;
	tw_rc rc;

	if ((rc = ar_only(c, 0, err)) != TW_OK)
		return rc;
	if ((body = json_object()) == NULL || (denied = json_object()) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (ar_allowed(c, "gateway", "list", "gateways", &why) != TW_OK) {
		json_object_set_new(body, "gateways", json_null());
		json_object_set_new(denied, "gateways", json_string(why.message));
	} else {
		ar_scope(c);
		rc = store_gateway_count(c->ctx->store, tw_now_ms() - AR_ONLINE_WINDOW_MS, &total,
			&online, err);
		ar_unscope(c);
		if (rc != TW_OK)
			goto out;
		json_object_set_new(body, "gateways", json_pack("{s:I,s:I,s:I,s:I}", "total",
			(json_int_t)total, "online", (json_int_t)online, "offline",
			(json_int_t)(total - online), "online_window_s",
			(json_int_t)(AR_ONLINE_WINDOW_MS / 1000)));
	}
	if (ar_allowed(c, "job", "list", "jobs", &why) != TW_OK) {
		json_object_set_new(body, "jobs", json_null());
		json_object_set_new(denied, "jobs", json_string(why.message));
	} else {
		ar_scope(c);
		rc = store_job_state_counts(c->ctx->store, counts, err);
		ar_unscope(c);
		if (rc != TW_OK)
			goto out;
		total = 0;
		by = json_object();
		for (int k = 0; k < JOB__STATES; k++) {
			total += counts[k];
			json_object_set_new(by, store_job_state_name((enum store_job_state)k),
				json_integer((json_int_t)counts[k]));
		}
		json_object_set_new(body, "jobs", json_pack("{s:I,s:o}", "total",
			(json_int_t)total, "by_state", by));
	}
	if (ar_allowed(c, "alarm", "list", "alarms", &why) != TW_OK) {
		json_object_set_new(body, "alarms", json_null());
		json_object_set_new(denied, "alarms", json_string(why.message));
	} else {
		ar_scope(c);
		rc = store_alarm_count_open(c->ctx->store, &open, err);
		ar_unscope(c);
		if (rc != TW_OK)
			goto out;
		json_object_set_new(body, "alarms", json_pack("{s:I}", "open", (json_int_t)open));
	}
	json_object_set(body, "denied", denied);
	ar_audit_read(c, "summary", 1);
	ar_send(c->req, 200, "application/json", body);
out:
	json_decref(denied);
	json_decref(body);
	return rc;
}

/* ---------------- routing ---------------- */

typedef tw_rc (*ar_handler)(struct ar_call *c, struct tw_error *err);

struct ar_route {
	struct api_route_info info;
	ar_handler handler;      /* NULL: served by api_operator.c */
};

static const struct ar_route ar_routes[] = {
	/* api_operator.c */
	{ { "POST", "/v1/login" }, NULL },
	{ { "POST", "/v1/login/saml" }, NULL },
	{ { "POST", "/v1/logout" }, NULL },
	{ { "GET", "/v1/operators" }, NULL },
	{ { "POST", "/v1/operators" }, NULL },
	{ { "POST", "/v1/operators/{name}/disable" }, NULL },
	{ { "POST", "/v1/operators/{name}/roles" }, NULL },
	{ { "GET", "/v1/approvals" }, NULL },
	{ { "GET", "/v1/approvals/{id}" }, NULL },
	{ { "POST", "/v1/approvals/{id}/approve" }, NULL },
	{ { "POST", "/v1/approvals/{id}/reject" }, NULL },
	{ { "POST", "/v1/commands" }, NULL },
	/* resources */
	{ { "GET", "/v1/gateways" }, ar_gateways },
	{ { "GET", "/v1/gateways/{id}" }, ar_gateway },
	{ { "GET", "/v1/gateways/{id}/profiles" }, ar_gateway_profiles },
	{ { "GET", "/v1/firmware" }, ar_firmware },
	{ { "GET", "/v1/jobs" }, ar_jobs },
	{ { "GET", "/v1/jobs/{id}" }, ar_job },
	{ { "POST", "/v1/fleet-orders" }, ar_fleet_order_create },
	{ { "GET", "/v1/fleet-orders" }, ar_fleet_orders },
	{ { "GET", "/v1/fleet-orders/{id}" }, ar_fleet_order },
	{ { "GET", "/v1/alarms" }, ar_alarms },
	{ { "POST", "/v1/alarms/{id}/ack" }, ar_alarm_ack },
	{ { "GET", "/v1/certificates" }, ar_certificates },
	{ { "GET", "/v1/certificates/{serial}" }, ar_certificate },
	{ { "POST", "/v1/certificates/{serial}/revoke" }, ar_certificate_revoke },
	{ { "GET", "/v1/crls" }, ar_crls },
	{ { "GET", "/v1/participants" }, ar_participants },
	{ { "GET", "/v1/requests" }, ar_requests },
	{ { "GET", "/v1/admin-log" }, ar_admin_log },
	{ { "GET", "/v1/admin-log/heads" }, ar_heads },
	{ { "GET", "/v1/admin-log/verified" }, ar_log_verified },
	{ { "GET", "/v1/admin-log/{id}/proof" }, ar_proof },
	{ { "GET", "/v1/summary" }, ar_summary },
};

#define AR_ROUTES (sizeof(ar_routes) / sizeof(ar_routes[0]))

const struct api_route_info *api_route_at(size_t i)
{
	return i < AR_ROUTES ? &ar_routes[i].info : NULL;
}

/* path against pattern; captures into c->seg. Segments of [A-Za-z0-9._:-] only. */
static bool ar_match(const char *pattern, const char *path, struct ar_call *c)
{
	int k = 0;

	while (*pattern != '\0' || *path != '\0') {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		size_t pn = strcspn(pattern, "/"), n = strcspn(path, "/");

		if (pattern[0] == '{') {
			if (n == 0 || n > STORE_TEXT_MAX || k >= AR_SEGMENTS_MAX)
				return false;
			for (size_t i = 0; i < n; i++)
				if (!isalnum((unsigned char)path[i]) && strchr("._:-", path[i]) == NULL)
					return false;
			memcpy(c->segbuf[k], path, n);
			c->segbuf[k][n] = '\0';
			c->seg[k] = c->segbuf[k];
			k++;
		} else if (pn != n || strncmp(pattern, path, n) != 0) {
			return false;
		}
		pattern += pn;
		path += n;
	}
	return true;
}

bool api_resource_handle(const struct api_resource_ctx *ctx, struct evhttp_request *req,
	const struct auth_principal *p, const char *path)
{
	const char *method = evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" :
		evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "";
	struct ar_call *c = calloc(1, sizeof(*c));
	const struct ar_route *route = NULL;
	bool path_known = false;
	struct tw_error err;
	tw_rc rc;

	if (c == NULL)
		return false;
	c->ctx = ctx;
	c->req = req;
	c->p = p;
	for (size_t i = 0; i < AR_ROUTES && route == NULL; i++) {
		if (!ar_match(ar_routes[i].info.path, path, c))
			continue;
		path_known = true;
		if (strcmp(ar_routes[i].info.method, method) == 0)
			route = &ar_routes[i];
	}
	if (route == NULL || route->handler == NULL) {
		free(c);
		/* A resource path with another method: 405 here; the rest is the caller's. */
		if (route == NULL && path_known && strncmp(path, "/v1/", 4) == 0) {
			bool ours = false;

			for (size_t i = 0; i < AR_ROUTES; i++) {
				struct ar_call probe;

				memset(&probe, 0, sizeof(probe));
				if (ar_routes[i].handler != NULL && ar_match(ar_routes[i].info.path, path,
				    &probe))
					ours = true;
			}
			if (ours) {
				json_t *body = api_problem_json(TW_E_INVALID, "method not allowed here");

				json_object_set_new(body, "status", json_integer(405));
				json_object_set_new(body, "title", json_string("Method Not Allowed"));
				ar_send(req, 405, "application/problem+json", body);
				json_decref(body);
				return true;
			}
		}
		return false;
	}
	rc = api_query_parse(evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)), &c->q,
		&err);
	if (rc == TW_OK)
		rc = route->handler(c, &err);
	if (rc != TW_OK)
		api_problem_send(req, rc, &err);
	free(c);
	return true;
}
