/*
 * cli.h: what the `torwart` sub-command files share.
 *
 * Each area has one file src/cmd/cli_<area>.c with an entry point
 *     int cli_<area>(const char *sub, int argc, char **argv);
 * listed in the command table of torwart.c. sub is the word after the command
 * ("add" in `torwart gateway add`), or NULL; argc/argv start at the first option and
 * the entry point parses them itself (getopt_long). Exit status: 0 success,
 * 1 failure (one line on stderr), 2 usage; areas may define more and document them.
 */
#ifndef TORWART_CMD_CLI_H
#define TORWART_CMD_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

/* The options of the foundation commands (init, gateway, audit). */
struct cli_options {
	const char *home;
	const char *id;
	const char *out;
	const char *wan_listen;
	const char *api_listen;
	const char *api_tls_listen;   /* init: the operator API (HTTPS) */
	const char *signer_backend;   /* init: pkcs11 (default) or file (tests only) */
	const char *store;            /* init: [store] url (default store.db in the home) */
	int test_pki;
	int system;                   /* init: service users and file modes (privsep) */
};

/*
 * Parse --home --id --out --test-pki --wan-listen --api-listen --api-tls-listen
 * --signer-backend --system --store; -1 on
 * anything else.
 */
int cli_parse_options(int argc, char **argv, struct cli_options *o);

/* Print "torwart WHAT: message" and return 1. */
int cli_fail(const char *what, const struct tw_error *err);

/*
 * Free text on display (job errors and results, gateway addresses, alarm messages: text a
 * gateway or operator chose) escaped exactly like reasons (auth_text_escape): no control
 * character reaches the terminal, so no ANSI sequence hides a line and no newline forges
 * one. cli_esc returns an escaped copy owned by e (whole, never cut; "?" when out of
 * memory), valid until cli_esc_free(e). At most CLI_ESC_MAX per pool.
 */
#define CLI_ESC_MAX 16
/* (The custodian-share helpers below live in cli_ca.c.) */
struct cli_esc {
	char *s[CLI_ESC_MAX];
	size_t n;
};
const char *cli_esc(struct cli_esc *e, const char *text);
void cli_esc_free(struct cli_esc *e);

struct tw_home;
/*
 * A share file's text: when it is sealed to a custodian (crypto/shares.h), open it with
 * the custodian's private key at key_path (TW_E_INVALID without one) and replace *text;
 * a plain share is left as it is. The old buffer is wiped. key_id (or NULL) receives the
 * opening key's id (shares.h), "" for a plain share.
 */
tw_rc cli_share_open(const char *key_path, unsigned char **text, size_t *len,
	char key_id[17], struct tw_error *err);
/* The split ceremony with the custodians' public keys as a comma-separated list (or
 * NULL: plain share files, with a warning). */
tw_rc cli_custodians_split(const struct tw_home *home, unsigned k, unsigned n,
	const char *out_dir, const char *key_list, struct tw_error *err);
/* Print "torwart: msg (see torwart --help)" and return 2. */
int cli_usage_error(const char *msg);
/* The principal of a local command: "os:<user>". Static storage. */
const char *cli_actor(void);
/* "local:<pid>". Static storage. */
const char *cli_client(void);
/* Role of cli_audit entries: "local-admin", or "break-glass" for direct --home use. */
extern const char *cli_role;
/*
 * Act as an operator (a command the api runs, see cli_act_as_from_env): cli_actor(),
 * cli_client() and cli_role return these, and cli_open_home_store scopes the store to
 * tenant_id (0 = all). Strings are borrowed for the rest of the process.
 */
void cli_act_as(const char *actor, const char *role, const char *client, int64_t tenant_id);

/*
 * When the api started this process for an operator (auth/command.h AUTH_CMD_ACT_AS_ENV
 * set): open the sealed principal with the data key of the --home in argv, check it is
 * for exactly this command line, and cli_act_as it. Returns 0 when not set, 1 when
 * acting as the operator now, -1 (message printed) when the value is not valid.
 */
int cli_act_as_from_env(int argc, char **argv);
/* True when this process runs a command for the api (cli_act_as_from_env). */
bool cli_acting_for_api(void);
/* The largest fleet the api allowed this command to order (0 = no limit, local use). */
int64_t cli_fleet_max(void);
/*
 * For a command of the api's table run with --home (locally, or as the api's child):
 * the one argument parser (auth_command_parse) must accept argv (as main has it) before
 * getopt_long reads it. Returns 0, or 2 after printing why (usage error).
 */
int cli_check_args(int argc, char **argv);

/* The command table (cli_table.c). */
struct cli_command {
	const char *name;
	int (*run)(const char *sub, int argc, char **argv);
};
/* NULL for an unknown command. */
const struct cli_command *cli_command_find(const char *name);
/*
 * cli_remote.c: run `torwart COMMAND SUB ...` through the api as the logged-in operator
 * (argv as main received it, without --home). Returns the exit status.
 */
int cli_remote_run(int argc, char **argv);
/* True when this invocation goes through the api (no --home, a forwardable command). */
bool cli_remote_wanted(int argc, char **argv);
/* Append an admin-log entry as cli_actor() in role cli_role. */
tw_rc cli_audit(struct tw_store *store, const char *action, const char *object,
	const char *result, const char *detail, struct tw_error *err);
/* Open the home and its store; on failure both out-pointers are NULL or to be freed. */
tw_rc cli_open_home_store(const char *dir, struct tw_home **home, struct tw_store **store,
	struct tw_error *err);

int cli_init(const char *sub, int argc, char **argv);
int cli_gateway(const char *sub, int argc, char **argv);
int cli_audit_cmd(const char *sub, int argc, char **argv);
/* `torwart job ...` and `torwart gateway set` (cli_job.c). */
int cli_job(const char *sub, int argc, char **argv);
int cli_gateway_set(int argc, char **argv);
int cli_profile(const char *sub, int argc, char **argv);
/* `torwart profile reput` (cli_profile_reput.c; own options). */
int cli_profile_reput(int argc, char **argv);
/* `torwart gateway logs|selftest` (in cli_profile.c, called by cli_gateway). */
int cli_gateway_monitor(const char *sub, int argc, char **argv);
int cli_ca(const char *sub, int argc, char **argv);
/* cli_tlskey.c: `ca tls-key-import` (a legacy TLS key file into the signer). */
int cli_ca_tls_key_import(const struct tw_home *home, struct tw_store *store,
	const char *key_file, const char *label);
int cli_req(const char *sub, int argc, char **argv);
/* cli_auth.c: operator sessions, operators, four-eyes approvals. */
int cli_login(const char *sub, int argc, char **argv);
int cli_logout(const char *sub, int argc, char **argv);
int cli_operator(const char *sub, int argc, char **argv);
int cli_approval(const char *sub, int argc, char **argv);
/* cli_context.c: the per-GWA certificate-management context (gwa/gwa_context.h). */
int cli_context(const char *sub, int argc, char **argv);
/* cli_context_idp.c: context idp-set|idp-show|idp-remove (SAML login, auth/saml_login.h). */
int cli_context_idp(const char *sub, int argc, char **argv);
/* cli_gwa.c: `gwa renew`, the GWA's own TLS certificate (gwa/gwa_renew.h). */
int cli_gwa(const char *sub, int argc, char **argv);
/* cli_renewal.c: certificate renewal (`gateway renew`, `renewal list|show|wait`). */
int cli_renewal(const char *sub, int argc, char **argv);
int cli_gateway_renew(int argc, char **argv);
int cli_gateway_crl_push(int argc, char **argv);
/* cli_initial.c: `gateway initial-config` and `gateway initial-config-receipt`. */
int cli_gateway_initial(const char *sub, int argc, char **argv);
/* cli_console.c: the web console's server certificate (docs/console.md). */
int cli_console(const char *sub, int argc, char **argv);

/* cli_alarm.c: gateway alarms across the fleet and their acknowledgement. */
int cli_alarm(const char *sub, int argc, char **argv);
/* cli_firmware.c: the firmware catalogue. */
int cli_firmware(const char *sub, int argc, char **argv);
/* cli_rollout.c: staged firmware rollouts. */
int cli_rollout(const char *sub, int argc, char **argv);
/* cli_metering.c: EMT endpoints, the metering outbox, the time service. */
int cli_metering(const char *sub, int argc, char **argv);
int cli_time(const char *sub, int argc, char **argv);
/* cli_policy.c: the security policy ([auth]). */
int cli_policy(const char *sub, int argc, char **argv);
/* cli_dir.c: dir slapd-conf|status|publish|resync (the SM-PKI directory). */
int cli_dir(const char *sub, int argc, char **argv);
/* cli_store.c: store migrate --to URL. */
int cli_store(const char *sub, int argc, char **argv);
/* cli_ws.c: the SM-PKI web service (endpoints, outbox, client of a remote Sub-CA). */
int cli_ws(const char *sub, int argc, char **argv);

#endif
