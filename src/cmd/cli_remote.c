/*
 * cli_remote.c: the command line's side of POST /v1/commands (api/api_command.h). An
 * operator command without --home is sent to the api as the logged-in operator; the
 * files it reads go along, the files it writes come back, and its output and exit status
 * are the api's. Options of this layer (removed before sending):
 *   --api URL        the api (default: the session's)
 *   --token-file F   the session file (default ~/.config/torwart/session.json)
 *   --why TEXT       the reason of a four-eyes request (ca revoke, fleet orders, ...)
 *   --request-id ID  the idempotency key (default: a fresh random one): the api runs a
 *                    command once per operator and key and answers a retry with the
 *                    first result (docs/security.md)
 *   --share-key KEY  ca custodian-share: the custodian's private key; a share sealed to
 *                    it is opened here and travels only in the request body (TLS)
 * Exit status: the command's; 1 when the api refused it (one line says why);
 * 10 when it was stored as a four-eyes request (it runs after an approver's release).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/rand.h>

#include "auth/client.h"
#include "auth/command.h"
#include "base/util.h"
#include "cmd/cli.h"

#define CLI_REMOTE_PENDING 10

bool cli_remote_wanted(int argc, char **argv)
{
	const struct auth_command *c;

	if (argc < 3 || argv[2][0] == '-')
		return false;
	if (auth_command_has(argc - 2, argv + 2, "--home"))
		return false;
	if ((c = auth_command_find(argv[1], argv[2])) == NULL)
		return false;
	if (c->local_option != NULL && auth_command_has(argc - 2, argv + 2, c->local_option))
		return false;
	return true;
}

/* Write the answer's output files where the operator asked for them. */
static tw_rc remote_write_outputs(const json_t *files, int argc, char **argv,
	struct tw_error *err)
{
	const char *key;
	json_t *value;

	json_object_foreach((json_t *)files, key, value) {
		const char *b64 = json_string_value(json_object_get(value, "data"));
		const json_t *entries = json_object_get(value, "entries");
		unsigned char *data = NULL;
		size_t len = 0, i;
		long idx = 0;
		json_t *e;
		tw_rc rc;

		if (tw_parse_long(key, 2, argc - 1, &idx, err, "output index") != TW_OK)
			return tw_error_set(err, TW_E_PROTOCOL, "the api sent a file for argument %s",
				key);
		if (b64 != NULL) {
			if ((rc = auth_b64_decode(b64, strlen(b64), &data, &len, err)) != TW_OK)
				return rc;
			rc = tw_write_file(argv[idx], data, len, 0600, false, err);
			free(data);
			if (rc != TW_OK)
				return rc;
			continue;
		}
		if (!json_is_array(entries))
			continue;
		if (mkdir(argv[idx], 0700) != 0)
			return tw_error_set(err, TW_E_IO, "cannot create %s: %s", argv[idx],
				strerror(errno));
		json_array_foreach(entries, i, e) {
			const char *rel = json_string_value(json_object_get(e, "path"));
			const char *d = json_string_value(json_object_get(e, "data"));
			long mode = (long)json_integer_value(json_object_get(e, "mode"));
			char *path;

			/* Flat names only: the api never needs to write outside the directory. */
			if (rel == NULL || d == NULL || rel[0] == '\0' || rel[0] == '.' ||
			    strchr(rel, '/') != NULL)
				return tw_error_set(err, TW_E_PROTOCOL, "the api sent an unsafe file "
					"name in %s", argv[idx]);
			if ((rc = auth_b64_decode(d, strlen(d), &data, &len, err)) != TW_OK)
				return rc;
			path = tw_asprintf("%s/%s", argv[idx], rel);
			rc = path == NULL ? tw_error_set(err, TW_E_NOMEM, "out of memory") :
				tw_write_file(path, data, len, (mode_t)(mode & 0755), true, err);
			free(path);
			free(data);
			if (rc != TW_OK)
				return rc;
		}
	}
	return TW_OK;
}

/* Print a base64 stream of the answer to f. */
static void remote_print(const json_t *b64, FILE *f)
{
	const char *text = json_string_value(b64);
	unsigned char *data = NULL;
	size_t len = 0;
	struct tw_error err;

	if (text == NULL || text[0] == '\0')
		return;
	if (auth_b64_decode(text, strlen(text), &data, &len, &err) == TW_OK)
		fwrite(data, 1, len, f);
	free(data);
}

/* A fresh idempotency key: 128 random bits, hex. */
static tw_rc remote_request_id(char out[33], struct tw_error *err)
{
	unsigned char rnd[16];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return tw_error_set(err, TW_E_CRYPTO, "no random bytes for the request id");
	tw_hex_encode(rnd, sizeof(rnd), out);
	return TW_OK;
}

/*
 * The body: argv without this layer's options, read by the one argument parser exactly
 * as the api will read it (refused here already when it would be refused there), input
 * files attached under the index of their value, the reason and the idempotency key.
 */
static tw_rc remote_body(int argc, char **argv, const struct auth_command *c,
	const char **api, const char **token_file, char request_id[65], json_t **out,
	struct tw_error *err)
{
	json_t *body = json_object(), *arr = json_array(), *files = json_object();
	struct auth_cmd_args *args = malloc(sizeof(*args));
	char **v = calloc((size_t)argc + 1, sizeof(*v));
	const char *why = NULL, *rid = NULL, *share_key = NULL;
	int n = 0;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (body == NULL || arr == NULL || files == NULL || args == NULL || v == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		const char **dest = strcmp(argv[i], "--api") == 0 ? api :
			strcmp(argv[i], "--token-file") == 0 ? token_file :
			strcmp(argv[i], "--why") == 0 ? &why :
			strcmp(argv[i], "--request-id") == 0 ? &rid :
			strcmp(argv[i], "--share-key") == 0 ? &share_key : NULL;

		if (dest != NULL) {
			if (i + 1 >= argc) {
				rc = tw_error_set(err, TW_E_INVALID, "%s needs a value", argv[i]);
				goto out;
			}
			if (*dest != NULL) {
				rc = tw_error_set(err, TW_E_INVALID, "give %s only once", argv[i]);
				goto out;
			}
			*dest = argv[++i];
			continue;
		}
		v[n++] = argv[i];
	}
	if ((rc = auth_command_parse(c, n, v, 0, args, err)) != TW_OK)
		goto out;
	if (why != NULL && (rc = auth_text_check(why, "--why", err)) != TW_OK)
		goto out;
	if (rid != NULL) {
		size_t len = strlen(rid);

		if (len < 8 || len > 64 || strspn(rid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789._-") != len) {
			rc = tw_error_set(err, TW_E_INVALID, "--request-id: 8 to 64 of A-Z a-z 0-9 . _ -");
			goto out;
		}
		snprintf(request_id, 65, "%s", rid);
	} else if ((rc = remote_request_id(request_id, err)) != TW_OK) {
		goto out;
	}
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	/* An input file: its content goes along under the index of its value. */
	for (int k = 0; k < args->count; k++) {
		const struct auth_cmd_opt *o = &args->opt[k];
		unsigned char *data = NULL;
		char *b64 = NULL, key[16];
		size_t len = 0;

		if (o->value_index < 0 ||
		    auth_command_file_kind(c, n, v, o->value_index) != AUTH_CMD_FILE_IN)
			continue;
		if ((rc = tw_read_file(o->value, AUTH_CMD_FILE_MAX, &data, &len, err)) != TW_OK)
			goto out;
		/* A share sealed to its custodian is opened on the custodian's side only. */
		if (strcmp(c->command, "ca") == 0 && strcmp(c->sub, "custodian-share") == 0 &&
		    (rc = cli_share_open(share_key, &data, &len, NULL, err)) != TW_OK) {
			if (data != NULL)
				tw_wipe(data, len);
			free(data);
			goto out;
		}
		rc = auth_b64_encode(data, len, &b64, err);
		tw_wipe(data, len);
		free(data);
		if (rc != TW_OK)
			goto out;
		snprintf(key, sizeof(key), "%d", o->value_index);
		json_object_set_new(files, key, json_string(b64));
		free(b64);
	}
	json_object_set(body, "argv", arr);
	json_object_set(body, "files", files);
	if (why != NULL)
		json_object_set_new(body, "why", json_string(why));
	json_object_set_new(body, "request_id", json_string(request_id));
	*out = body;
	body = NULL;
out:
	free(v);
	free(args);
	json_decref(body);
	json_decref(arr);
	json_decref(files);
	return rc;
}

int cli_remote_run(int argc, char **argv)
{
	const struct auth_command *c = auth_command_find(argv[1], argv[2]);
	struct auth_client_conf conf;
	const char *api = NULL, *token_file = NULL;
	char *session = NULL, what[80], request_id[65] = "";
	json_t *body = NULL, *resp = NULL, *sent;
	struct tw_error err;
	int status = 0, exit_code = 1;
	tw_rc rc;

	memset(&conf, 0, sizeof(conf));
	snprintf(what, sizeof(what), "%.32s %.32s", argv[1], argv[2]);
	if (c == NULL)
		return cli_usage_error("this command cannot run through the api");
	if (c->outputs_once) {
		/* Its files are handed over once: never run it to find --out taken. */
		const char *o = auth_command_option(argc - 3, argv + 3, "--out", NULL);

		if (o != NULL && tw_path_exists(o)) {
			rc = tw_error_set(&err, TW_E_EXISTS, "%s exists; the api hands these files "
				"over once and they are never overwritten: name a new --out", o);
			goto fail;
		}
	}
	if ((rc = remote_body(argc, argv, c, &api, &token_file, request_id, &body, &err)) !=
	    TW_OK)
		goto fail;
	session = token_file != NULL ? tw_strdup(token_file) :
		auth_client_default_session_path();
	if (session == NULL || !tw_path_exists(session)) {
		rc = tw_error_set(&err, TW_E_CONFIG, "not logged in: run `torwart login --api "
			"https://HOST:PORT --cert C --key K ...` first (docs/security.md), or give "
			"--home DIR for break-glass access, which is logged and alerted");
		goto fail;
	}
	if ((rc = auth_client_load(session, &conf, &err)) != TW_OK)
		goto fail;
	if (api != NULL)
		snprintf(conf.api, sizeof(conf.api), "%s", api);
	conf.timeout_s = 3700;   /* the api's own limit is [api] command_timeout (3600 s) */
	rc = auth_client_call(&conf, "POST", "/v1/commands", body, &status, &resp, &err);
	tw_wipe(&conf, sizeof(conf));
	if (rc != TW_OK) {
		/* The command may have run: the same request id returns its result, once. */
		fprintf(stderr, "torwart %s: no answer from the api; to learn whether it ran "
			"without running it twice, repeat the command with --request-id %s\n", what,
			request_id);
		goto fail;
	}
	if (status == 202 && json_is_string(json_object_get(resp, "action")) &&
	    strcmp(json_string_value(json_object_get(resp, "action")),
	    "initial-config.batch") == 0) {
		long long id = (long long)json_integer_value(json_object_get(resp, "approval"));

		printf("four-eyes request %lld (initial-config.batch) stored: once another operator "
			"with the approver role approves it (torwart approval approve --id %lld), "
			"fetch the files once with `torwart gateway initial-config --fetch %lld --out "
			"DIR`\n", id, id, id);
		exit_code = CLI_REMOTE_PENDING;
		goto out;
	}
	if (status == 202) {
		printf("four-eyes request %lld (%s) stored: it runs when another operator with the "
			"approver role approves it (torwart approval approve --id %lld)\n",
			(long long)json_integer_value(json_object_get(resp, "approval")),
			json_string_value(json_object_get(resp, "action")) ?
			json_string_value(json_object_get(resp, "action")) : "?",
			(long long)json_integer_value(json_object_get(resp, "approval")));
		exit_code = CLI_REMOTE_PENDING;
		goto out;
	}
	if (status != 200) {
		json_t *e = json_object_get(resp, "error");

		fprintf(stderr, "torwart %s: refused by the api (%d %s): %s\n", what, status,
			json_string_value(json_object_get(e, "code")) ?
			json_string_value(json_object_get(e, "code")) : "?",
			json_string_value(json_object_get(e, "message")) ?
			json_string_value(json_object_get(e, "message")) : "no message");
		goto out;
	}
	remote_print(json_object_get(resp, "stdout"), stdout);
	fflush(stdout);
	remote_print(json_object_get(resp, "stderr"), stderr);
	if (json_is_true(json_object_get(resp, "truncated")))
		fprintf(stderr, "torwart %s: the output was longer than the api returns; it was "
			"cut\n", what);
	exit_code = (int)json_integer_value(json_object_get(resp, "exit"));
	/* Output files are named by their index in the argv that was sent. */
	sent = json_object_get(body, "argv");
	{
		int sargc = (int)json_array_size(sent) + 1;
		char **sargv = calloc((size_t)sargc + 1, sizeof(*sargv));

		if (sargv == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto fail;
		}
		/* Index i of the sent argv is argument i + 1 here (argv[0] = program). */
		sargv[0] = argv[0];
		for (int i = 1; i < sargc; i++)
			sargv[i] = (char *)json_string_value(json_array_get(sent, (size_t)i - 1));
		rc = remote_write_outputs(json_object_get(resp, "files"), sargc - 1, sargv + 1,
			&err);
		free(sargv);
		if (rc != TW_OK)
			goto fail;
	}
	goto out;
fail:
	exit_code = cli_fail(what, &err);
out:
	json_decref(body);
	json_decref(resp);
	free(session);
	return exit_code;
}
