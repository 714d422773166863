/*
 * api_resource.h: the resource API of the operator HTTPS listener (issue 15, S-10):
 * JSON resources for gateways, jobs and fleet orders, alarms, certificates, CRLs,
 * participants, requests and the admin log, with filters and cursor pagination;
 * docs/openapi.yaml describes every route of the listener.
 *
 * Reads check the same operation of the policy table as the command that shows the same
 * data (auth/command.h: `job list` for jobs, `ca list` for certificates, ...) and run
 * on the store scoped to the operator's tenant, so another tenant's object is "not
 * found", exactly as through the CLI. Writes exist only where a command exists, and ARE
 * that command: the body becomes its argument vector and goes through POST /v1/commands'
 * path (api_command.h: one reading of argv, role and tenant checks, four-eyes, admin
 * log). There is no second policy.
 *
 * Errors are RFC 9457 problem details (application/problem+json) with the typed code
 * of the CLI (tw_strerror: "invalid", "denied", "not-found", ...) in "code", and the
 * former {"error": {"code", "message"}} member kept for older clients.
 */
#ifndef TORWART_API_API_RESOURCE_H
#define TORWART_API_API_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "auth/auth.h"
#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct api_commands;

struct api_resource_ctx {
	const struct tw_home *home;
	struct tw_store *store;
	struct api_commands *commands;
};

/*
 * Answer req when path/method is one of the resource routes (returns true); false
 * leaves req to the caller. p is the authenticated operator.
 */
bool api_resource_handle(const struct api_resource_ctx *ctx, struct evhttp_request *req,
	const struct auth_principal *p, const char *path);

/* ---- problem details (RFC 9457) ---- */
int api_problem_status(tw_rc rc);
/* The problem document of rc/err (caller decrefs). */
json_t *api_problem_json(tw_rc rc, const char *detail);
/* Send it with its status and Content-Type application/problem+json. */
void api_problem_send(struct evhttp_request *req, tw_rc rc, const struct tw_error *err);

/* ---- query strings (parsed strictly: outside bytes, fuzzed) ---- */
#define API_QUERY_VALUE_MAX 128
#define API_QUERY_LIMIT_MAX 500
#define API_QUERY_LIMIT_DEFAULT 100

enum api_query_key {
	APIQ_LIMIT = 0, APIQ_CURSOR, APIQ_STATE, APIQ_GATEWAY, APIQ_TAG, APIQ_KIND, APIQ_CA,
	APIQ_BATCH, APIQ_STATUS, APIQ__COUNT
};

struct api_query {
	bool has[APIQ__COUNT];
	char value[APIQ__COUNT][API_QUERY_VALUE_MAX + 1];
	long limit;                      /* 1..API_QUERY_LIMIT_MAX, default 100 */
};

/*
 * Parse q ("a=b&c=d", percent-encoded, NULL or "" for none) into out. Known keys only,
 * each at most once, values printable ASCII after decoding and at most
 * API_QUERY_VALUE_MAX bytes; limit a number in range; cursor of [A-Za-z0-9._:-]{1,64}.
 * TW_E_INVALID naming the problem; out is then cleared.
 */
tw_rc api_query_parse(const char *q, struct api_query *out, struct tw_error *err);

/*
 * The argument vectors of the resource writes (outside bytes: fuzzed). On success
 * *argv (a JSON array of strings, caller decrefs) and *why (caller frees, may be NULL).
 * POST /v1/fleet-orders: torwart job create --type T (--gateway|--gateways|--tag|
 * --tenant V | --gateways all) [--payload JSON] [--timeout N] [--attempts N].
 */
tw_rc api_resource_fleet_argv(const char *data, size_t n, json_t **argv, char **why,
	struct tw_error *err);
/* POST /v1/certificates/{serial}/revoke: torwart ca revoke SERIAL [--reason R] [--ca C]. */
tw_rc api_resource_revoke_argv(const char *serial, const char *data, size_t n,
	json_t **argv, char **why, struct tw_error *err);

/* ---- the route table (for the OpenAPI route test) ---- */
struct api_route_info {
	const char *method;              /* "GET", "POST" */
	const char *path;                /* OpenAPI form: /v1/jobs/{id} */
};
/* Every route of the operator listener (resource routes and api_operator.c's), in
 * order; NULL past the end. */
const struct api_route_info *api_route_at(size_t i);

#endif
