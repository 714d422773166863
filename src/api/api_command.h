/*
 * api_command.h: POST /v1/commands, the operator commands of `torwart` run by the api
 * as the authenticated operator (auth/command.h has the policy table).
 *
 * Request  {"argv": ["ca","revoke","SERIAL","--reason","keyCompromise"],
 *           "files": {"<argv index>": "<base64>"}, "why": "text"}
 * Answer   200 {"exit": N, "stdout": "...", "stderr": "...",
 *               "files": {"<argv index>": {"data": "<base64>"} |
 *                                         {"entries": [{"path","mode","data"}]}}}
 *          202 {"approval": ID, "action": "ca.revoke", "message": "..."} for a four-eyes
 *              command: stored as a pending request, run when an approver releases it
 *          4xx {"error": {"code", "message"}} for a refusal (logged).
 *
 * The command runs as a fresh `torwart` process (exec'ed from a child of the api) with
 * the operator as principal (sealed in its environment, auth/command.h) and its store
 * handle scoped to the operator's tenant; the event loop keeps serving meanwhile. Every
 * command, its refusal or its exit status is in the admin log.
 */
#ifndef TORWART_API_API_COMMAND_H
#define TORWART_API_API_COMMAND_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "auth/approval.h"
#include "auth/auth.h"
#include "base/home.h"
#include "store/store.h"

struct api_commands;

/* Borrowed home/store/settings/base for the lifetime of the returned object. */
tw_rc api_commands_new(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, const struct auth_settings *settings,
	struct api_commands **out, struct tw_error *err);
/* Kills and reaps running commands. NULL is fine. */
void api_commands_free(struct api_commands *ac);

/* Register the four-eyes actions of commands (ca.revoke, fleet.order, ...). Idempotent. */
void api_command_register_actions(void);
/* True when action is one of those (its release runs a stored command). */
bool api_command_is_action(const char *action);

/*
 * Parse and check a /v1/commands body (the part that needs no store): a JSON object with
 * "argv" (auth_command_validate), "files" (only input-file arguments, strings) and an
 * optional "why" string. On success *body (decref), *argv (argc strings, free each and
 * the array) and *cmd (static) are the caller's; on failure all are NULL.
 */
struct auth_command;
tw_rc api_command_parse(const char *data, size_t len, json_t **body, int *argc,
	char ***argv, const struct auth_command **cmd, struct tw_error *err);

/* Answer POST /v1/commands for p (now, or when the command ends). */
void api_command_handle(struct api_commands *ac, struct evhttp_request *req,
	const struct auth_principal *p);

/*
 * Run the command of an approval that approver has just released, as its requester,
 * and answer req with {"approval": approval (stolen), "command": {exit, stdout, ...}}.
 */
void api_command_run_approved(struct api_commands *ac, struct evhttp_request *req,
	const struct auth_principal *approver, const struct store_approval *a,
	json_t *approval);

#endif
