/*
 * torwart: the administration command line. This file is the command table; each area
 * lives in src/cmd/cli_<area>.c (see cli.h).
 *
 * Until operators and the api's authentication exist (issue 5) commands act directly on
 * the home as the local operating-system user, recorded in the admin log with role
 * "local-admin".
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cli.h"

static const char torwart_usage[] =
	"usage: torwart COMMAND [options]\n"
	"\n"
	"commands:\n"
	"  init --home DIR [--test-pki] [--wan-listen HOST:PORT] [--api-listen HOST:PORT]\n"
	"      create a new home: torwart.conf, store, SoftHSM2 token; with --test-pki also a\n"
	"      test SM-PKI (Root-CA, Sub-CA, GWA TLS/SIG/ENC). Refuses an existing DIR.\n"
	"  gateway add --home DIR --id SMGW-ID [--out DIR2]\n"
	"      register a gateway and write its keys, certificates and chain to DIR2\n"
	"      (default DIR/gateways/SMGW-ID), as a manufacturer would.\n"
	"  gateway list --home DIR\n"
	"      show id, state and last contact of every gateway.\n"
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
	"  job list --home DIR [--gateway ID] [--batch N] [--state S] [--limit N]\n"
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
	"  req initial --cn CN [--ou MPID] [--serial N] [--email E] [--uri U] [--dns D]\n"
	"      [--role EMT|GWA|GWH|SMGW] (--key-dir DIR [--curve C] | --tls-key F --sig-key F\n"
	"      --enc-key F) [--out FILE] [--format der|base64|pem] [--authorise --home DIR]\n"
	"      write an SM-PKI initial request (CRMF in bsiCertReqMsgs); new keys go to DIR\n"
	"      (0600). --authorise adds the GWA authorisation of an SMGW request via the\n"
	"      home's signer. See docs/pki-requests.md for all options.\n"
	"  req renew ... --current-cert FILE --current-key FILE [--types TLS,SIG,ENC]\n"
	"      the same as a renewal, signed with the current SIG certificate and key.\n"
	"  req show FILE [--require-authorisation]\n"
	"      parse and verify a request as the Sub-CA does; prints its WSDL return code.\n"
	"  login --api https://HOST:PORT --cert C --key K [--ca F] (--password-file F |\n"
	"      --totp-secret-file F) [--token-file F]   open an operator session (mTLS + 2nd\n"
	"      factor); the token goes to ~/.config/torwart/session.json (0600) or F.\n"
	"  logout [--token-file F]   end the session.\n"
	"  operator ca-init --home DIR [--tls-listen HOST:PORT]   create the operator CA.\n"
	"  operator add --name N --out DIR (--password-file F | --totp) [--roles R --reason W]\n"
	"      [--tenant T] [--home DIR]   add an operator (key+cert in DIR); roles become a\n"
	"      four-eyes request. operator list | disable --name N | role --name N --roles R\n"
	"      --reason W. Through the api as the logged-in operator; --home = break-glass\n"
	"      (logged, alerted, reviewed by an approver; docs/security.md).\n"
	"  approval list [--state S] | show|approve|reject --id N [--reason W]\n"
	"      four-eyes requests, decided by a second operator with the approver role.\n"
	"\n"
	"exit status: 0 success, 1 failure (one line on stderr says what to do),\n"
	"             2 usage error, 3 admin log broken (audit verify)\n";

struct cli_command {
	const char *name;
	int (*run)(const char *sub, int argc, char **argv);
};

/* Areas add one line here (keep alphabetical). */
static const struct cli_command cli_commands[] = {
	{ "approval", cli_approval },
	{ "audit", cli_audit_cmd },
	{ "ca", cli_ca },
	{ "gateway", cli_gateway },
	{ "init", cli_init },
	{ "job", cli_job },
	{ "login", cli_login },
	{ "logout", cli_logout },
	{ "operator", cli_operator },
	{ "profile", cli_profile },
	{ "req", cli_req },
};

/*
 * Direct --home access outside init is the break-glass mode (issue 5): its admin-log
 * entries carry the role "break-glass" and an alert goes to the security officers. The
 * auth commands record their break-glass use themselves (with a review request).
 */
static void torwart_break_glass(const char *cmd, const char *sub, int argc, char **argv)
{
	static const char *const exempt[] = { "init", "login", "logout", "operator", "approval" };
	bool home = false;

	for (size_t i = 0; i < sizeof(exempt) / sizeof(exempt[0]); i++) {
		if (strcmp(cmd, exempt[i]) == 0)
			return;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--home") == 0 || strncmp(argv[i], "--home=", 7) == 0)
			home = true;
	}
	if (!home)
		return;
	cli_role = "break-glass";
	fprintf(stderr, "torwart: ALERT role=security-officer kind=break-glass: direct --home "
		"access by %s (%s %s); see docs/security.md\n", cli_actor(), cmd,
		sub != NULL ? sub : "");
}

int main(int argc, char **argv)
{
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
	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(torwart_usage, stdout);
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(cli_commands) / sizeof(cli_commands[0]); i++) {
		if (strcmp(cli_commands[i].name, argv[1]) == 0) {
			torwart_break_glass(argv[1], sub, argc, argv);
			/* argv[first - 1] stands in for the program name getopt skips. */
			return cli_commands[i].run(sub, argc - first + 1, argv + first - 1);
		}
	}
	fprintf(stderr, "torwart: unknown command '%s' (see torwart --help)\n", argv[1]);
	return 2;
}
