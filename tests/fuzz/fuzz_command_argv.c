/*
 * fuzz_command_argv.c: libFuzzer target for THE reading of an operator command's
 * argument vector (auth_command_parse, auth/command.h), which the api and the command
 * line share (issue 9). The input is an argument vector: NUL-separated arguments, the
 * first two the command and sub (a table entry is picked by the first byte when they
 * name none). Every flag combination is tried; for every accepted vector the invariants
 * the api relies on are checked:
 *   - each option is in the command's spec, spelled in full, given once (the gateway
 *     alias counts as the same option; the file lists a command collects excepted),
 *     its value the argument getopt_long would take;
 *   - options and positionals cover argv[2..] exactly once;
 *   - through the api (flags 0) no undeclared path option and no --home is accepted,
 *     and auth_command_validate agrees;
 *   - file kinds are only ever given to values of declared file options.
 * Also auth_text_escape / auth_text_check on every argument: the escaped text has no
 * control byte, and a text auth_text_check accepts is unchanged by escaping except for
 * backslashes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_cmd_args args;

static void check_parsed(const struct auth_command *c, int argc, char **argv, unsigned flags)
{
	unsigned char seen[AUTH_CMD_ARGS_MAX];

	memset(seen, 0, sizeof(seen));
	for (int k = 0; k < args.count; k++) {
		const struct auth_cmd_opt *o = &args.opt[k];
		bool value = false, path = false;

		if (!auth_command_knows(c, o->name, &value, &path) || path != o->path)
			abort();
		if (o->index < 2 || o->index >= argc || seen[o->index]++)
			abort();
		if (strncmp(argv[o->index], o->name, strlen(o->name)) != 0)
			abort();
		if (value) {
			if (o->value == NULL)
				abort();
			if (o->value_index >= 0) {
				if (o->value_index != o->index + 1 || o->value != argv[o->value_index] ||
				    seen[o->value_index]++)
					abort();
			} else if (o->value != argv[o->index] + strlen(o->name) + 1) {
				abort();
			}
		} else if (o->value != NULL || o->value_index != -1 ||
		    argv[o->index][strlen(o->name)] != '\0') {
			abort();
		}
		for (int m = 0; m < k; m++) {
			if (strcmp(args.opt[m].name, o->name) == 0 &&
			    !auth_command_repeatable(c, o->name))
				abort();   /* repeated, and not a list the command collects */
			if (c->gateway_option != NULL && c->gateway_alias != NULL &&
			    ((strcmp(args.opt[m].name, c->gateway_option) == 0 &&
			      strcmp(o->name, c->gateway_alias) == 0) ||
			     (strcmp(args.opt[m].name, c->gateway_alias) == 0 &&
			      strcmp(o->name, c->gateway_option) == 0)))
				abort();
		}
		if (!(flags & AUTH_PARSE_HOME) && strcmp(o->name, "--home") == 0)
			abort();
		if (!(flags & AUTH_PARSE_PATHS) && path) {
			bool declared = c->local_option != NULL &&
				strcmp(c->local_option, o->name) == 0;

			for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option != NULL; f++)
				declared |= strcmp(c->files[f].option, o->name) == 0;
			if (!declared)
				abort();
		}
	}
	for (int p = 0; p < args.npos; p++) {
		if (args.pos[p] < 2 || args.pos[p] >= argc || seen[args.pos[p]]++ ||
		    (argv[args.pos[p]][0] == '-' && argv[args.pos[p]][1] != '\0'))
			abort();
	}
	for (int i = 2; i < argc; i++) {
		if (seen[i] != 1)
			abort();   /* every argument read exactly once */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[AUTH_CMD_ARGS_MAX + 1];
	const struct auth_command *c, *v = NULL;
	struct tw_error err;
	int argc = 0;

	if (size > 64 * 1024)
		return 0;
	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (size_t i = 0; i <= size && argc < AUTH_CMD_ARGS_MAX; ) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	if (argc < 2) {
		free(buf);
		return 0;
	}
	/* Commands the api does not offer (metering, time): the same parser reads them
	 * locally; the api's validation must never accept one. */
	if ((c = auth_local_command_find(argv[0], argv[1])) != NULL) {
		for (unsigned flags = 0; flags < 4; flags++) {
			if (auth_command_parse(c, argc, argv, flags, &args, &err) == TW_OK)
				check_parsed(c, argc, argv, flags);
		}
		if (auth_command_validate(argc, argv, &v, &err) == TW_OK)
			abort();
	}
	c = auth_command_find(argv[0], argv[1]);
	if (c == NULL) {
		size_t n = 0;

		while (auth_command_at(n) != NULL)
			n++;
		c = auth_command_at((unsigned char)argv[0][0] % n);
		argv[0] = (char *)c->command;
		argv[1] = (char *)c->sub;
	}
	for (unsigned flags = 0; flags < 4; flags++) {
		if (auth_command_parse(c, argc, argv, flags, &args, &err) == TW_OK)
			check_parsed(c, argc, argv, flags);
	}
	/* The api's validation is the parse with flags 0 (plus the local-option rule). */
	if (auth_command_validate(argc, argv, &v, &err) == TW_OK) {
		if (v != c || auth_command_parse(c, argc, argv, 0, &args, &err) != TW_OK)
			abort();
		for (int i = 0; i < argc; i++) {
			enum auth_cmd_file_kind k = auth_command_file_kind(c, argc, argv, i);
			bool ok = k == 0;

			for (int o = 0; !ok && o < args.count; o++) {
				for (size_t f = 0; f < AUTH_CMD_FILES_MAX && c->files[f].option; f++)
					ok |= args.opt[o].value_index == i &&
						strcmp(args.opt[o].name, c->files[f].option) == 0 &&
						c->files[f].kind == k;
			}
			if (!ok)
				abort();
		}
		(void)auth_command_op(c, argc, argv);
	}
	for (int i = 0; i < argc; i++) {
		char out[256];
		const char *e = auth_text_escape(argv[i], out, sizeof(out));

		if (strlen(e) >= sizeof(out))
			abort();
		for (const unsigned char *p = (const unsigned char *)e; *p != '\0'; p++) {
			if (*p < 0x20 || *p == 0x7f)
				abort();
		}
		if (auth_text_check(argv[i], "arg", &err) == TW_OK && strlen(argv[i]) < 100 &&
		    strchr(argv[i], '\\') == NULL && strcmp(e, argv[i]) != 0)
			abort();
	}
	free(buf);
	return 0;
}
