/*
 * fuzz_command.c: libFuzzer target for the body of POST /v1/commands as the api parses
 * it before it touches the store (api_command_parse: JSON, argv, the command table,
 * files keyed by argv index, "why"), then, for every accepted body, the strict base64
 * decoder on each file value (and an encode/decode round trip of what it accepts),
 * the option helpers the api's tenant check uses, and the operation of the command.
 * Issue 9: an accepted body's argv has THE reading (auth_command_parse) the api decides
 * on, its "why" is one line without control characters, its "request_id" is safe to
 * name a file.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_command.h"
#include "auth/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct auth_command *cmd = NULL;
	struct tw_error err;
	json_t *body = NULL, *value;
	const char *key;
	char **argv = NULL;
	int argc = 0;

	if (size > 1024 * 1024)
		return 0;
	if (api_command_parse((const char *)data, size, &body, &argc, &argv, &cmd, &err) !=
	    TW_OK) {
		if (body != NULL || argv != NULL || cmd != NULL || argc != 0)
			abort();   /* out-params must be cleared on failure */
		return 0;
	}
	if (argc < 2 || argv == NULL || cmd == NULL ||
	    auth_command_find(argv[0], argv[1]) != cmd)
		abort();
	json_object_foreach(json_object_get(body, "files"), key, value) {
		const char *text = json_string_value(value);
		unsigned char *out = NULL;
		size_t len = 0;

		if (text == NULL)
			abort();   /* the parser accepts strings only */
		if (auth_b64_decode(text, json_string_length(value), &out, &len, &err) == TW_OK) {
			char *again = NULL;
			unsigned char *back = NULL;
			size_t back_len = 0;

			/* What decodes survives an encode/decode round trip unchanged. */
			if (auth_b64_encode(out, len, &again, &err) == TW_OK) {
				if (auth_b64_decode(again, strlen(again), &back, &back_len,
				    &err) != TW_OK || back_len != len ||
				    (len > 0 && memcmp(back, out, len) != 0))
					abort();
				free(back);
				free(again);
			}
			free(out);
		} else if (out != NULL) {
			abort();
		}
	}
	{
		static struct auth_cmd_args args;
		const char *why = json_string_value(json_object_get(body, "why"));
		const char *rid = json_string_value(json_object_get(body, "request_id"));

		if (auth_command_parse(cmd, argc, argv, 0, &args, &err) != TW_OK)
			abort();
		if (why != NULL && auth_text_check(why, "why", &err) != TW_OK)
			abort();
		if (rid != NULL && (strchr(rid, '/') != NULL || rid[0] == '.' || strlen(rid) < 8))
			abort();
	}
	(void)auth_command_op(cmd, argc, argv);
	(void)auth_command_option(argc, argv, cmd->gateway_option, NULL);
	(void)auth_command_option(argc, argv, cmd->gateways_option, NULL);
	(void)auth_command_option(argc, argv, cmd->job_option, NULL);
	(void)auth_command_has(argc, argv, cmd->tenant_denied_option);
	for (int i = 0; i < argc; i++)
		(void)auth_command_file_kind(cmd, argc, argv, i);
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	json_decref(body);
	return 0;
}
