/*
 * command.h: which `torwart` commands an operator may run through the api, with which
 * permission, on which objects, and which of them need a second person's release
 * (S-10, M-4.5.3, M-4.5.4, M-4.5.6.6).
 *
 * The command line sends a command as its argument vector (POST /v1/commands); the api
 * looks the command up here, refuses it unless the operator's roles allow the command's
 * operation (auth_check) on the tenants of the gateways and jobs it names, turns a
 * four-eyes command into a pending approval, and otherwise runs the same command code
 * as `torwart ... --home` would, in a child process, as the operator, on a store handle
 * scoped to the operator's tenant. Files the command reads are sent along; files it
 * writes are sent back (see auth_cmd_file). docs/security.md has the table in prose.
 *
 * A command missing from the table cannot be run through the api (init, login, and the
 * offline tools such as `req initial` or `audit verify --export`).
 */
#ifndef TORWART_AUTH_COMMAND_H
#define TORWART_AUTH_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/error.h"
#include "store/store.h"

/* Limits of one forwarded command (validated on both sides). */
#define AUTH_CMD_ARGS_MAX    128                 /* argv entries */
#define AUTH_CMD_ARG_MAX     4096                /* bytes per argument */
#define AUTH_CMD_BODY_MAX    (24 * 1024 * 1024)  /* request body: argv + input files */
#define AUTH_CMD_FILE_MAX    (16 * 1024 * 1024)  /* one input or output file */
#define AUTH_CMD_OUTPUT_MAX  (4 * 1024 * 1024)   /* stdout, stderr each */

enum auth_cmd_file_kind {
	AUTH_CMD_FILE_IN = 1,   /* a file the command reads: sent by the client */
	AUTH_CMD_FILE_OUT,      /* a file the command writes: sent back to the client */
	AUTH_CMD_DIR_OUT,       /* a directory the command creates: its files sent back */
};

struct auth_cmd_file {
	const char *option;     /* "--request" */
	enum auth_cmd_file_kind kind;
};

#define AUTH_CMD_FILES_MAX 3

struct auth_command {
	const char *command;          /* "gateway" */
	const char *sub;              /* "list" */
	enum auth_op op;              /* the permission it needs */
	const char *four_eyes;        /* four-eyes action (auth_four_eyes_required), or NULL */
	/* Options whose value names one gateway / a comma list of gateways ("all" too). */
	const char *gateway_option;   /* "--gateway", "--id", or NULL */
	const char *gateway_alias;    /* a second spelling ("--id" for profile), or NULL */
	const char *gateways_option;  /* "--gateways" or NULL */
	const char *job_option;       /* option whose value is a job id, or NULL */
	/* Options a tenant-bound operator may not use (cross-tenant effects), or NULL. */
	const char *tenant_denied_option;
	/* An option that makes the command offline (runs locally, needs no api), or NULL. */
	const char *local_option;
	const char *local_option2;
	/* With this option present the command needs upgrade_op instead (e.g. --fetch). */
	const char *upgrade_option;
	enum auth_op upgrade_op;
	struct auth_cmd_file files[AUTH_CMD_FILES_MAX];
	/*
	 * The output files are handed over once, in the answer, and never kept for a retry
	 * of the request id (the api's spool keeps no copy after the answer): the initial
	 * configuration files. An output path the command makes a directory of (a batch)
	 * comes back as a directory.
	 */
	bool outputs_once;
	/*
	 * Every option the command's getopt_long table knows (the table of its source
	 * file, checked against it by tests/unit/check_option_specs.py): space-separated
	 * names without "--", "=" after a name that takes a value, "/" before a name
	 * whose value is a path, "*" before a name the command collects from every
	 * occurrence (the only options that may repeat; never an object option). A path
	 * option is allowed through the api only when it is one of files[] (uploaded or
	 * sent back); the rest are refused.
	 */
	const char *options;
};

/* The entry of command/sub (sub may be NULL for commands without one), or NULL. */
const struct auth_command *auth_command_find(const char *command, const char *sub);
/*
 * The option entry of a command the api does not offer (metering, time), for the local
 * check of its options by auth_command_parse; NULL for every other command.
 */
const struct auth_command *auth_local_command_find(const char *command, const char *sub);
/* Entries in table order, for tests and documentation; NULL past the end. */
const struct auth_command *auth_command_at(size_t i);

/*
 * Value of option in argv[0..argc) (forms "--opt VALUE" and "--opt=VALUE"), or NULL.
 * *index (may be NULL) receives the argv index of the value in the "--opt VALUE" form,
 * -1 for the "--opt=VALUE" form.
 */
const char *auth_command_option(int argc, char *const *argv, const char *option,
	int *index);
/* True when argv holds option (with or without a value). */
bool auth_command_has(int argc, char *const *argv, const char *option);

/*
 * Check a forwarded argument vector (argv[0] command, argv[1] sub or first option):
 * count and lengths within the limits, no NUL-free violations, no --home (the api adds
 * its own), no "--opt=VALUE" form for file options (the client splits them). *out is
 * the table entry. TW_E_INVALID / TW_E_NOT_FOUND (command not available through the
 * api) with a message naming the problem.
 */
tw_rc auth_command_validate(int argc, char *const *argv, const struct auth_command **out,
	struct tw_error *err);

/*
 * THE reading of an argument vector (argv[0] command, argv[1] sub, options from
 * argv[2]), shared by the api (authorisation, fleet size, files) and the command line
 * (before getopt_long sees it, locally and through the api), so that both always agree
 * on what a command line means. getopt_long would take abbreviations ("--ta" for
 * "--tag"), keep the last of repeated options and read "--x=V" and "--x V" alike; this
 * parser accepts only options of c->options spelled out in full, each at most once
 * (the two spellings of one gateway option count as one; "*" options, which the
 * command collects, excepted), no short options and no "--". With every option exact and single, getopt_long's reading is this one.
 */
#define AUTH_PARSE_HOME  0x1u   /* --home allowed (local use, or the api's own child) */
#define AUTH_PARSE_PATHS 0x2u   /* any path option allowed (local use by the owner) */

#define AUTH_CMD_OPT_NAME_MAX 32

struct auth_cmd_opt {
	char name[AUTH_CMD_OPT_NAME_MAX + 3];  /* "--tag" */
	int index;            /* argv index of the option */
	int value_index;      /* argv index of its value: index + 1, -1 for "--x=V" or a flag */
	const char *value;    /* borrowed from argv; NULL for a flag */
	bool path;            /* the option names a file or directory */
};

struct auth_cmd_args {
	const struct auth_command *cmd;
	int count;                                /* options */
	struct auth_cmd_opt opt[AUTH_CMD_ARGS_MAX];
	int npos;                                 /* positional arguments after argv[1] */
	int pos[AUTH_CMD_ARGS_MAX];               /* their argv indexes */
};

/*
 * Parse argv (argc entries) for entry c with flags AUTH_PARSE_*. TW_E_INVALID naming the
 * argument on an unknown, abbreviated, repeated or malformed option, a value where none
 * is taken, a missing value, or a path option that may not be used this way. *out holds
 * borrowed pointers into argv.
 */
tw_rc auth_command_parse(const struct auth_command *c, int argc, char *const *argv,
	unsigned flags, struct auth_cmd_args *out, struct tw_error *err);
/* The option of a parsed vector ("--tag"), or NULL. */
const struct auth_cmd_opt *auth_cmd_args_get(const struct auth_cmd_args *a,
	const char *option);
/* Its value (NULL when absent or a flag). */
const char *auth_cmd_args_value(const struct auth_cmd_args *a, const char *option);
/* Whether option ("--tag") is in c->options; *value: takes a value, *path: names a path. */
bool auth_command_knows(const struct auth_command *c, const char *option, bool *value,
	bool *path);

/* Whether option ("--cert") may be given more than once (c->options "*"). */
bool auth_command_repeatable(const struct auth_command *c, const char *option);

/*
 * Free text (reasons, names, argument vectors) for a terminal or a log line: control
 * characters (C0, DEL, C1), invalid UTF-8, bidirectional overrides, line and paragraph
 * separators and the backslash become \xNN / \u{NNNN} / \\, so a reason can neither
 * hide lines (ANSI escapes) nor forge them (newlines). Always NUL-terminates out
 * (size > 0); a cut is marked with "...". Returns out.
 */
char *auth_text_escape(const char *text, char *out, size_t size);
/*
 * The data-key associated data of a custodian share the api spooled at path (".../cmd.X/
 * in-N": the api seals it before it touches the disk, and the command it runs opens it
 * through the signer): "torwart-api-share/cmd.X/in-N" (secretbox context "share").
 */
#define AUTH_CMD_SHARE_AAD "torwart-api-share/"
tw_rc auth_command_spool_share_aad(const char *path, char *aad, size_t size,
	struct tw_error *err);

/* TW_E_INVALID when text holds a control character or invalid UTF-8 (what names it). */
tw_rc auth_text_check(const char *text, const char *what, struct tw_error *err);

/* The operation argv needs: c->op, or c->upgrade_op when c->upgrade_option is given. */
enum auth_op auth_command_op(const struct auth_command *c, int argc, char *const *argv);

/* What kind of file argv[index] is for entry c (0 when it is no file argument). */
enum auth_cmd_file_kind auth_command_file_kind(const struct auth_command *c, int argc,
	char *const *argv, int index);

/*
 * The principal a command runs as. The api execs a fresh `torwart` for each command
 * (no SQLite, OpenSSL or libevent state inherited from the api process) and hands it the
 * principal in the environment variable AUTH_CMD_ACT_AS_ENV, sealed with the home's data
 * key (AES-256-GCM, crypto/secretbox.h) and bound to the exact argument vector and a short
 * expiry. Without the data key nobody can make `torwart` act as an operator; a sealed
 * value does not open for another command line or after AUTH_CMD_ACT_AS_TTL_MS.
 */
#define AUTH_CMD_ACT_AS_ENV    "TORWART_ACT_AS"
#define AUTH_CMD_ACT_AS_TTL_MS 60000

struct auth_cmd_principal {
	char actor[STORE_NAME_MAX + 1];
	char role[STORE_NAME_MAX + 1];
	char client[STORE_ID_MAX + 1];
	int64_t tenant_id;      /* 0 = all (break-glass only) */
	/* The largest fleet a `job create` may order with this principal (0 = no limit):
	 * the size the api counted (and an approver saw), or the four-eyes threshold. */
	int64_t fleet_max;
	/* Single use: the api records the nonce (a file in AUTH_CMD_NONCE_DIR), the command
	 * consumes it (unlink, atomic), so one sealed value runs one command once. */
	char nonce[33];
};

/* <home>/spool/nonces: one empty file per sealed principal not yet used. */
#define AUTH_CMD_NONCE_DIR "spool/nonces"

struct secretbox;
/* Seal p for argv (argc entries, argv[0] included). *out is the caller's. */
tw_rc auth_command_seal_principal(const struct secretbox *sb,
	const struct auth_cmd_principal *p, int argc, char *const *argv, int64_t now_ms,
	char **out, struct tw_error *err);
/* Open a sealed principal for argv; TW_E_DENIED when altered, expired or for other argv. */
tw_rc auth_command_open_principal(const struct secretbox *sb, const char *sealed, int argc,
	char *const *argv, int64_t now_ms, struct auth_cmd_principal *out,
	struct tw_error *err);

/* Base64 without line breaks. *out is malloc'ed and NUL-terminated; caller frees. */
tw_rc auth_b64_encode(const unsigned char *data, size_t len, char **out,
	struct tw_error *err);
/* Strict base64 decode (no whitespace). *out malloc'ed (caller frees), *len its size. */
tw_rc auth_b64_decode(const char *text, size_t text_len, unsigned char **out, size_t *len,
	struct tw_error *err);

#endif
