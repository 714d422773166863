/*
 * torwart: the administration command line. The command table is cli_table.c; each area
 * lives in src/cmd/cli_<area>.c (see cli.h).
 *
 * Operator commands run through the api as the operator logged in with `torwart login`
 * (cli_remote.c; the api checks role, tenant and four-eyes policy). With --home they act
 * directly on the home: that is the break-glass mode, logged as its own principal,
 * alerted, and queued for an approver's review. init and the offline tools (req, audit
 * verify --export, job types) need no api.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/command.h"
#include "auth/service.h"
#include "cmd/cli.h"
#include "cmd/cli_help.h"

static const char torwart_usage[] =
	"usage: torwart COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  init --home DIR [--test-pki] [--wan-listen HOST:PORT] [--api-listen HOST:PORT]\n"
	"      [--api-tls-listen HOST:PORT]   (the operator API, default 127.0.0.1:8445)\n"
	"      [--store PATH|postgresql://USER@HOST:PORT/DB]   (default store.db in DIR)\n"
	"      create a new home: torwart.conf, store, SoftHSM2 token, operator CA; with\n"
	"      --test-pki also a\n"
	"      test SM-PKI (Root-CA, Sub-CA, GWA TLS/SIG/ENC; --second-sub-ca: a second\n"
	"      Sub-CA under the same Root). Refuses an existing DIR.\n"
	"  gateway add --home DIR --id SMGW-ID [--out DIR2]\n"
	"      register a gateway and write its keys, certificates and chain to DIR2\n"
	"      (default DIR/gateways/SMGW-ID), as a manufacturer would.\n"
	"  gateway list --home DIR\n"
	"      show id, state and last contact of every gateway.\n"	"  gateway show --home DIR --id SMGW-ID   one gateway: tenant, tags, wake-up address,\n"
	"      job queue, certificates.\n"
	"  store migrate --home DIR --to URL   copy the home's store (all tables) into an empty\n"
	"      database, compare row counts and verify the admin log there\n"
	"  audit verify --home DIR | --export FILE [--cert PEM]\n"
	"      recompute chain, Merkle tree and signed heads; names the first inconsistency.\n"
	"  audit export --home DIR --out FILE [--upto SEQ]   entries, heads, GWA SIG cert\n"
	"  audit proof --home DIR (--entry N [--tree-size M] | --from M1 --to M2)\n"
	"  audit proof --verify FILE [--cert PEM]   check an inclusion/consistency proof\n"
	"  audit head|archive|alert --home DIR ...  sign a head now, retention cut, test alert\n"
	"      (docs/audit-log.md)\n"
	"  job create --home DIR --type T [--payload JSON] (--gateway ID | --gateways all|ID,ID\n"
	"      | --tag T | --tenant T) [--timeout S] [--attempts N] [--retry-delay S]\n"
	"      [--wait [--wait-timeout S]]   an order to one gateway or a fleet (docs/jobs.md);\n"
	"      --wait shows progress until every job is final (exit 1 if any did not succeed)\n"
	"  job list --home DIR [--gateway ID] [--batch N] [--state S] [--limit N]\n"	"  job batches --home DIR [--limit N]   fleet orders with their progress\n"
	"  job show|cancel|wait --home DIR --id N    (cancel/wait also --batch N)\n"
	"  job types      the order types (ping, set-retention, ...)\n"
	"  gateway set --home DIR (--gateway ID | --gateways all|ID,ID | --tag T | --tenant T)\n"
	"      [--add-tag T] [--remove-tag T] [--wakeup HOST:PORT|none] [--move-tenant NAME]\n"
	"  profile put|check --home DIR --gateway ID --file DOC.json [--no-job]\n"
	"      validate a profile (docs/profiles.md), store it as desired (secrets sealed)\n"
	"      and create the profile-insert job; check only validates.\n"
	"  profile delete --home DIR --gateway ID --profile P [--no-job]\n"
	"      refused while an evaluation profile references it; creates profile-delete.\n"
	"  profile show --home DIR --gateway ID --profile P   (secrets masked)\n"
	"  profile list --home DIR --gateway ID   desired vs reported, per profile\n"
	"  profile drift --home DIR [--gateway ID]   exit 4 when a gateway drifts\n"
	"  profile read --home DIR --gateway ID [--profile P]   profile-read job\n"
	"  profile authorise-emt|revoke-emt --home DIR --gateway ID --emt EMT-ID\n"
	"  profile emts --home DIR [--gateway ID]\n"
	"      EMTs an evaluation profile of the gateway may name as recipients (T-PV.4).\n"
	"  gateway logs --home DIR --id ID [--kind system|calibration|messages]\n"
	"      [--fetch FROM-TO]   stored signed log entries with their verification status\n"
	"      (or alarms/notifications/self-tests); --fetch creates a log-read job.\n"
	"  gateway selftest --home DIR --id ID   create a self-test job.\n"
	"  ca register|participants|requests|submit|approve|reject|issue|list|show|export|\n"
	"     revoke|crl --home DIR ...\n"
	"      the Sub-CA: registration, RA decisions, issuance, revocation, CRLs\n"
	"      (torwart ca --help; docs/ca-operations.md). Exit 4: a request was refused.\n"
	"  ca activate|deactivate --home DIR --ca NAME [--reason W] | ca status --home DIR\n"
	"      whether a CA key may sign (issuance, CRLs are refused while inactive).\n"
	"  firmware add --home DIR --file IMG --model M --version V | list --home DIR |\n"
	"      show|release|withdraw --home DIR --id N   firmware catalogue (docs/firmware.md)\n"
	"  req initial --cn CN [--ou MPID] [--serial N] [--email E] [--uri U] [--dns D]...\n"
	"      [--role EMT|GWA|GWH|SMGW] (--key-dir DIR [--curve C] | --tls-key F --sig-key F\n"
	"      --enc-key F) [--out FILE] [--format der|base64|pem] [--authorise --home DIR]\n"
	"      write an SM-PKI initial request (CRMF in bsiCertReqMsgs); new keys go to DIR\n"
	"      (0600). --authorise adds the GWA authorisation of an SMGW request via the\n"
	"      home's signer. See docs/pki-requests.md for all options.\n"
	"  req renew ... --current-cert FILE --current-key FILE [--types TLS,SIG,ENC]\n"
	"      the same as a renewal, signed with the current SIG certificate and key.\n"
	"  req show FILE [--require-authorisation]\n"
	"      parse and verify a request as the Sub-CA does; prints its WSDL return code.\n"
	"  req authorise --in FILE [--out FILE] [--format der|base64|pem]   add the GWA\n"
	"      authorisation to an SMGW request (through the api, or --home).\n"
	"  login --api https://HOST:PORT --cert C --key K [--ca F] (--password-file F |\n"
	"      --totp-secret-file F) [--token-file F]   open an operator session (mTLS + 2nd\n"
	"      factor); the token goes to ~/.config/torwart/session.json (0600) or F.\n"
	"  logout [--token-file F]   end the session.\n"
	"  operator ca-init --home DIR [--tls-listen HOST:PORT]   create the operator CA in a\n"
	"      home made before init created it.\n"
	"  operator keygen --name N --out DIR   (the NEW operator, on its own machine) make\n"
	"      its key pair: DIR/N.key stays there, DIR/N.pub goes to the administrator.\n"
	"  operator add --name N --public-key N.pub [--totp] [--roles R --reason W]\n"
	"      [--out DIR]   add an operator through the api: no secret is set; its one-time\n"
	"      enrolment code goes to the home's enrolment/ directory, not to you; roles\n"
	"      become a four-eyes request.\n"
	"  operator enrol --api URL --cert C --key K --code-file F (--password-file NEW |\n"
	"      --totp --out DIR) [--token-file F]   first login of the new operator: code +\n"
	"      own key + own first secret.\n"
	"  operator add --home DIR --name N --out DIR (--password-file F | --totp) [--roles R]\n"
	"      [--tenant T]   break-glass bootstrap of the first operators (key+cert in DIR).\n"
	"  operator list | disable --name N | role --name N --roles R --reason W. Through the\n"
	"      api as the logged-in operator; --home = break-glass (logged, alerted, reviewed\n"
	"      by an approver; docs/security.md).\n"
	"  policy show | policy set --key K --value V --why TEXT   the [auth] security policy;\n"
	"      set is a four-eyes request (docs/security.md).\n"
	"  approval list [--state S] | show|approve|reject --id N [--reason W]\n"
	"      four-eyes requests, decided by a second operator with the approver role.\n"
	"\n"
	"\n"
	"Operator commands (gateway, job, profile, ca, audit, firmware, req authorise) run\n"
	"through the api as the operator of `torwart login` when no --home is given; the api\n"
	"checks role, tenant and four-eyes policy (docs/security.md). Options of that path:\n"
	"  --api URL, --token-file F (the session), --why TEXT (reason of a four-eyes request),\n"
	"  --request-id ID (idempotency key; default a fresh one: a retry with the same ID\n"
	"  returns the first result). Options must be written in full and given once.\n"
	"With --home DIR a command acts directly on the home: break-glass, logged, alerted and\n"
	"queued for an approver's review.\n"
	"\n"
	"torwart COMMAND --help and torwart COMMAND SUB --help print that command's own help.\n"
	"\n"
	"exit status: 0 success, 1 failure (one line on stderr says what to do),\n"
	"             2 usage error, 3 admin log broken (audit verify),\n"
	"             10 stored as a four-eyes request (runs after an approver's release)\n";

/*
 * Direct --home access outside init is the break-glass mode (issue 5): its admin-log
 * entries carry the role "break-glass", an alert goes to the security officers and an
 * approver must review it afterwards (auth_break_glass_record). The auth commands record
 * their break-glass use themselves.
 */
/*
 * Does this command line only read? True for commands of the api's command table whose
 * permission writes nothing (auth_op_writes) and that are not upgraded to a writing one
 * by an option (`gateway logs --fetch` creates a job). Commands the api does not offer
 * (store migrate, ca activate, ...) count as writes: loud by default.
 */
static bool torwart_reads_only(const char *cmd, const char *sub, int argc, char **argv)
{
	const struct auth_command *c = auth_command_find(cmd, sub);

	if (c == NULL || auth_op_writes(c->op))
		return false;
	if (c->upgrade_option != NULL && auth_command_has(argc - 2, argv + 2, c->upgrade_option))
		return auth_op_writes(c->upgrade_op) == false;
	return true;
}

static void torwart_break_glass(const char *cmd, const char *sub, int argc, char **argv)
{
	static const char *const exempt[] = { "init", "login", "logout", "operator", "approval" };
	const char *home_dir = auth_command_option(argc - 2, argv + 2, "--home", NULL);
	struct auth_principal p;
	struct auth_settings s;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct tw_error err;
	char command[128];
	bool reads;

	for (size_t i = 0; i < sizeof(exempt) / sizeof(exempt[0]); i++) {
		if (strcmp(cmd, exempt[i]) == 0)
			return;
	}
	if (!auth_command_has(argc - 2, argv + 2, "--home"))
		return;
	cli_role = "break-glass";
	reads = torwart_reads_only(cmd, sub, argc, argv);
	if (reads)
		fprintf(stderr, "torwart: break-glass read by %s (%s %s): recorded in the admin "
			"log; see docs/security.md\n", cli_actor(), cmd, sub != NULL ? sub : "");
	else
		fprintf(stderr, "torwart: ALERT role=security-officer kind=break-glass: direct "
			"--home access by %s (%s %s); see docs/security.md\n", cli_actor(), cmd,
			sub != NULL ? sub : "");
	if (home_dir == NULL || cli_open_home_store(home_dir, &home, &store, &err) != TW_OK ||
	    auth_settings_load(home->conf, &s, &err) != TW_OK)
		goto out;   /* the command itself will say what is wrong with the home */
	snprintf(command, sizeof(command), "%s %s", cmd, sub != NULL ? sub : "");
	auth_principal_break_glass(&p, cli_actor(), cli_client());
	if (reads)
		auth_break_glass_read_record(store, &p, command);
	else
		auth_break_glass_record(store, &s, &p, command);
out:
	store_close(store);
	tw_home_free(home);
}

int main(int argc, char **argv)
{
	const struct cli_command *c;
	const char *sub = NULL;
	int first = 2;

	if (argc < 2)
		return cli_usage_error("no command given");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(torwart_usage, stdout);
		return 0;
	}
	if (argc > 2 && argv[2][0] != '-') {
		sub = argv[2];
		first = 3;
	}
	if (strcmp(argv[1], "--commands") == 0) {   /* the command table, for tests */
		cli_help_list_commands(stdout);
		return 0;
	}
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			/* The command's own help (cli_help.c); the general one for the unknown. */
			if (!cli_help_print(argv[1], sub, stdout))
				fputs(torwart_usage, stdout);
			return 0;
		}
	}
	if ((c = cli_command_find(argv[1])) != NULL) {
		int as = cli_act_as_from_env(argc, argv);   /* started by the api for an operator */

		if (as < 0)
			return 1;
		if (cli_check_args(argc, argv) != 0)   /* abbreviations, repeats: refused */
			return 2;
		/* Operator commands go through the api as the logged-in operator (issue 5). */
		if (as == 0 && cli_remote_wanted(argc, argv))
			return cli_remote_run(argc, argv);
		if (as == 0)
			torwart_break_glass(argv[1], sub, argc, argv);
		/* argv[first - 1] stands in for the program name getopt skips. */
		return c->run(sub, argc - first + 1, argv + first - 1);
	}
	fprintf(stderr, "torwart: unknown command '%s' (see torwart --help)\n", argv[1]);
	return 2;
}
