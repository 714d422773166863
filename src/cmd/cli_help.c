/*
 * cli_help.c: the per-command help texts of `torwart` (cli_help.h).
 *
 * Why a table of texts rather than each area printing its own usage: `--help` is handled
 * before a command runs (torwart.c), so it never needs a home, a session or the api, and
 * one test can walk every command and sub-command. Each text starts with its usage line
 * ("usage: torwart CMD [SUB] ..."), says what the command does and where it is documented.
 */
#include "cmd/cli_help.h"

#include <string.h>

/* Operator commands: how they reach the home (said once per command overview). */
#define HELP_REMOTE \
	"\nWithout --home the command runs through the api as the operator of `torwart login`\n" \
	"(options --api URL, --token-file F, --why TEXT); with --home DIR it acts directly on\n" \
	"the home: break-glass, logged, alerted and reviewed (docs/security.md).\n"

/* ---------------------------------------------------------------- store */
static const struct cli_help_sub help_ws[] = {
	{ "endpoint", "usage: torwart ws endpoint set --home DIR --participant P --url https://...\n"
		"Register participant P's own SendCertificates endpoint: where the CA delivers\n"
		"certificates that were not ready synchronously (docs/pki-services.md).\n" },
	{ "outbox", "usage: torwart ws outbox --home DIR\n"
		"The asynchronous answers waiting, ready, delivered or failed, with attempts and\n"
		"the next attempt or last error.\n" },
	{ "request", "usage: torwart ws request --home DIR --remote NAME --request FILE\n"
		"       [--callback] [--out DIR]\n"
		"Send a request made by `torwart req` (DER) to the remote Sub-CA [ws.remote.NAME]\n"
		"as RequestCertificate. Certificates answered at once go to DIR/cert.N.der;\n"
		"with --callback the remote may answer ok_syntax and deliver later (see poll).\n"
		"Exit 0 ok, 2 refused by the remote (code printed).\n" },
	{ "poll", "usage: torwart ws poll --home DIR --message-id ID [--out DIR]\n"
		"The state of a request sent with --callback: exit 3 while pending, 0 with the\n"
		"certificates the remote delivered to this home's SendCertificates endpoint.\n" },
	{ "status", "usage: torwart ws status --home DIR --remote NAME\n"
		"GetServiceStatus of the remote Sub-CA [ws.remote.NAME].\n" },
	{ NULL, NULL },
};

static const struct cli_help_sub help_store[] = {
	{ "migrate", "usage: torwart store migrate --home DIR --to URL\n"
		"Copy every table of the home's store (admin log with its chain, tree nodes and\n"
		"signed heads included) into an empty store at URL (postgresql://... or a SQLite\n"
		"path), then compare row counts and verify the admin log there before saying done.\n"
		"A target that holds rows is refused; an interrupted copy can be rerun\n"
		"(docs/operations.md).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- approval */
/* ---------------------------------------------------------------- dir */
static const struct cli_help_sub help_dir[] = {
	{ "slapd-conf", "usage: torwart dir slapd-conf --home DIR --out DIR [--publisher-uid N]\n"
		"       [--frontend-uid N]\n"
		"Write a slapd.conf for the home's directory into DIR (data in DIR/data) and print\n"
		"the slapd command line: ldapi:// only, the publisher's uid is the rootdn, SM-PKI\n"
		"participants read (docs/operations.md \"The directory\").\n" },
	{ "status", "usage: torwart dir status --home DIR\n"
		"How many certificates wait for publication, and the oldest's age in seconds.\n" },
	{ "publish", "usage: torwart dir publish --home DIR [--limit N]\n"
		"Publish what is pending now (the worker does it every [dir] publish_interval).\n" },
	{ "resync", "usage: torwart dir resync --home DIR\n"
		"Forget what was published: every certificate and CRL is published again.\n" },
	{ NULL, NULL },
};

static const struct cli_help_sub help_approval[] = {
	{ "list", "usage: torwart approval list [--state pending|executed|rejected|expired|failed]\n"
		"List four-eyes requests (docs/security.md).\n" },
	{ "show", "usage: torwart approval show --id N\n"
		"Show one four-eyes request: what it runs, who asked, why, and its outcome.\n" },
	{ "approve", "usage: torwart approval approve --id N [--reason W]\n"
		"Release a request as a second operator with the approver role; the command then\n"
		"runs and its answer is shown.\n" },
	{ "reject", "usage: torwart approval reject --id N --reason W\n"
		"Refuse a four-eyes request; the requester sees the reason.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- audit */
static const struct cli_help_sub help_audit[] = {
	{ "verify", "usage: torwart audit verify --home DIR [--cert PEM]\n"
		"       torwart audit verify --export FILE [--cert PEM]\n"
		"Recompute the admin log's hash chain, Merkle tree and signed heads; names the first\n"
		"inconsistency. Exit 3 when the log is broken (docs/audit-log.md).\n" },
	{ "export", "usage: torwart audit export --home DIR --out FILE [--upto SEQ]\n"
		"Write the entries, the signed heads and the GWA SIG certificate for an auditor.\n" },
	{ "proof", "usage: torwart audit proof --home DIR --entry N [--tree-size M]\n"
		"       torwart audit proof --home DIR --from M1 --to M2\n"
		"       torwart audit proof --verify FILE [--cert PEM]\n"
		"Make or check an inclusion or consistency proof of the admin log.\n" },
	{ "head", "usage: torwart audit head --home DIR\n"
		"Sign a tree head of the admin log now (GWA SIG key, through the signer).\n" },
	{ "archive", "usage: torwart audit archive --home DIR --upto SEQ [--dir DIR2]\n"
		"Move entries up to SEQ out of the store (retention), keeping proofs possible.\n" },
	{ "alert", "usage: torwart audit alert --home DIR --kind KIND --subject S --message M "
		"[--repeat N]\n"
		"Raise a test alert (login-burst, log-integrity, key-access, ...).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- ca */
static const struct cli_help_sub help_ca[] = {
	{ "register", "usage: torwart ca register --home DIR --name NAME --org ORG "
		"--role emt|gwa|gwh|smgw\n"
		"                  --mp-id ID --cn CN [--email E] [--gateway-id ID] "
		"[--device-serial S]\n"
		"Register an SM-PKI participant; only registered participants get certificates\n"
		"(docs/ca-operations.md).\n" },
	{ "participants", "usage: torwart ca participants --home DIR\n"
		"List the registered participants.\n" },
	{ "requests", "usage: torwart ca requests --home DIR [--state pending|approved|issued|"
		"rejected]\n"
		"List certificate requests in the RA queue.\n" },
	{ "submit", "usage: torwart ca submit --home DIR --request FILE [--participant NAME]\n"
		"Parse and verify a request (CRMF) and queue it for the RA's decision.\n"
		"Exit 4: refused (the WSDL return code is printed).\n" },
	{ "approve", "usage: torwart ca approve REQUEST --home DIR [--reason TEXT]\n"
		"Approve a queued request (RA decision); `ca issue --id` then issues it.\n" },
	{ "reject", "usage: torwart ca reject REQUEST --home DIR --reason TEXT\n"
		"Reject a queued request; the participant is told the reason.\n" },
	{ "issue", "usage: torwart ca issue --home DIR ((--request FILE... | --request-dir DIR)\n"
		"         [--participant NAME] [--timing] | --id REQUEST)\n"
		"Issue the certificates of requests (all requested names, validity and CRL\n"
		"distribution points from [ca.<name>], docs/ca-operations.md). Exit 4: refused.\n"
		"--request-dir DIR: every regular file DIR/*.der (not below DIR) in byte order of\n"
		"the names, at most 100000; names starting with '.' are ignored, other entries are\n"
		"listed as skipped, *.der symlinks and special files refused unread. Local only\n"
		"(not through the api).\n" },
	{ "list", "usage: torwart ca list --home DIR\n"
		"List the certificates this CA issued (serial, usage, owner, status).\n" },
	{ "show", "usage: torwart ca show SERIAL --home DIR\n"
		"Show one issued certificate: subject, issuer, owner, usage, status, request.\n" },
	{ "export", "usage: torwart ca export SERIAL --home DIR [--out FILE] [--der]\n"
		"Write an issued certificate (PEM, or DER with --der).\n" },
	{ "delivery-note", "usage: torwart ca delivery-note SERIAL --home DIR [--out FILE]\n"
		"The signed electronic delivery note of a certificate and the others of its request\n"
		"(CMS, DER; docs/pki-services.md). Verify: openssl cms -verify -inform DER\n"
		"-CAfile pki/chain.pem -in FILE.\n" },
	{ "revoke", "usage: torwart ca revoke SERIAL --home DIR --reason R\n"
		"Revoke a certificate (RFC 5280 reason, e.g. keyCompromise); the CRL is regenerated\n"
		"at once, the delta CRL (if configured) by the worker.\n" },
	{ "crl", "usage: torwart ca crl --home DIR [--ca NAME]\n"
		"Generate, sign and publish the full CRL of a CA now (the worker also does it on\n"
		"its schedule, with the Root's ARL and delta CRLs; docs/ca-operations.md).\n" },
	{ "check", "usage: torwart ca check --home DIR --cert FILE... [--at TIME] [--ca NAME]\n"
		"Validity check of certificates (pre-personalisation phase 2).\n" },
	{ "activate", "usage: torwart ca activate --home DIR --ca NAME [--reason TEXT]\n"
		"Allow a CA key to sign again (issuance and CRLs).\n" },
	{ "deactivate", "usage: torwart ca deactivate --home DIR --ca NAME [--reason TEXT]\n"
		"Stop a CA key from signing: issuance and CRLs are refused while inactive.\n" },
	{ "status", "usage: torwart ca status --home DIR [--ca NAME]\n"
		"Show whether each CA key may sign, and since when.\n" },
	{ "custodians", "usage: torwart ca custodians split --home DIR --k K --n N --out DIR\n"
		"                  [--custodian-keys A.pub,B.pub,...]\n"
		"       torwart ca custodians status --home DIR\n"
		"Split the token PIN into N custodian shares of which K activate the signer, or show\n"
		"how many shares the running signer has (M-4.5.18, docs/key-ceremony.md).\n" },
	{ "custodian-share", "usage: torwart ca custodian-share --home DIR --share FILE "
		"[--share-key KEY]\n"
		"Enter one custodian's share into the running signer; a sealed share file is opened\n"
		"here with the custodian's key (--share-key, also through the api).\n" },
	{ "custodian-keygen", "usage: torwart ca custodian-keygen --name NAME --out DIR\n"
		"Make a custodian's key pair on its own machine: NAME.custodian.key stays there,\n"
		"NAME.custodian.pub goes to the ceremony, which seals the share to it.\n" },
	{ "backup", "usage: torwart ca backup --home DIR --out DIR\n"
		"Back up the token (wrapped keys and a manifest) to a new directory.\n" },
	{ "restore", "usage: torwart ca restore --home DIR --from DIR\n"
		"Restore the token from a backup made by `ca backup`, checked against its manifest.\n" },
	{ "tls-key-import", "usage: torwart ca tls-key-import --home DIR [--label gwa-tls|api-tls|console-tls] "
		"[--key FILE]\n"
		"Move a TLS key file of an older home into the signer and wipe the file (run as the\n"
		"signer's user; restart torwartd afterwards).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- alarm */
static const struct cli_help_sub help_alarm[] = {
	{ "list", "usage: torwart alarm list --home DIR [--gateway ID] [--open]\n"
		"List gateway alarms across the fleet (--open: not yet acknowledged).\n" },
	{ "ack", "usage: torwart alarm ack --home DIR --id N [--reason TEXT]\n"
		"Acknowledge an alarm: you take it over (once; in the admin log).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- firmware */
static const struct cli_help_sub help_firmware[] = {
	{ "add", "usage: torwart firmware add --home DIR --file IMG --signature CMS [--model M]\n"
		"           [--version V] [--receipt FILE]\n"
		"Receive a manufacturer's image with its signed manifest (CMS, GWH SIG certificate):\n"
		"signature, chain, revocation, model, version and completeness are verified; the\n"
		"receipt (JSON) says accepted or the refusal's error (docs/firmware.md).\n" },
	{ "certified", "usage: torwart firmware certified --home DIR\n"
		"Show the current list of certified firmware versions.\n" },
	{ "check", "usage: torwart firmware check --home DIR\n"
		"Re-verify every stored image now (the worker does it daily); exit 3 and an alert\n"
		"when one fails.\n" },
	{ "downgrade", "usage: torwart firmware downgrade --home DIR --id N\n"
		"Release an image older than a released version (four-eyes firmware.downgrade).\n" },
	{ "import-list", "usage: torwart firmware import-list --home DIR --file LIST.cms\n"
		"Import a signed list of certified versions ([firmware] list_anchor).\n" },
	{ "list", "usage: torwart firmware list --home DIR\n"
		"List the catalogue.\n" },
	{ "show", "usage: torwart firmware show --home DIR --id N\n"
		"Show one image: model, version, digest, state.\n" },
	{ "release", "usage: torwart firmware release --home DIR --id N\n"
		"Release an image for update jobs.\n" },
	{ "withdraw", "usage: torwart firmware withdraw --home DIR --id N [--reason TEXT]\n"
		"Withdraw a released image.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- rollout */
static const struct cli_help_sub help_rollout[] = {
	{ "create", "usage: torwart rollout create --home DIR --name N --image ID (--gateways A,B |\n"
		"           --tag T | --tenant T | --all) --groups G [--canary K] [--success PCT]\n"
		"           [--error PCT] [--window \"Mon-Fri 01:00-05:00 Europe/Berlin\"]\n"
		"Plan a staged rollout of a released image (docs/firmware.md \"Rollouts\").\n"
		"Without --window each gateway's maintenance window of torwart.conf applies:\n"
		"its tags' ([rollout.window.tag]), its tenant's ([rollout.window.tenant]),\n"
		"else [rollout] window.\n" },
	{ "list", "usage: torwart rollout list --home DIR [--state S]\n"
		"List rollouts.\n" },
	{ "show", "usage: torwart rollout show --home DIR --id N [--watch]\n"
		"Per-group progress (done/failed/in progress/waiting); --watch updates in place.\n" },
	{ "approve", "usage: torwart rollout approve --home DIR --id N\n"
		"Start a created rollout (four-eyes rollout.start).\n" },
	{ "pause", "usage: torwart rollout pause --home DIR --id N [--reason TEXT]\n"
		"Pause: no new transfers start.\n" },
	{ "resume", "usage: torwart rollout resume --home DIR --id N\n"
		"Resume; the failed gateways of the current group are retried first.\n" },
	{ "cancel", "usage: torwart rollout cancel --home DIR --id N [--reason TEXT]\n"
		"Emergency stop: cancel the rollout and every outstanding transfer.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- metering, time */
static const struct cli_help_sub help_metering[] = {
	{ "endpoint", "usage: torwart metering endpoint --home DIR --emt MPID --url https://H:P/PATH\n"
		"Set where an EMT receives its metering data (mutual TLS; docs/metering.md).\n" },
	{ "status", "usage: torwart metering status --home DIR [--emt MPID]\n"
		"Count pending, delivered and overdue metering messages.\n" },
	{ NULL, NULL },
};
static const struct cli_help_sub help_time[] = {
	{ "check", "usage: torwart time check --home DIR\n"
		"Check the GWA clock against [time] upstream now (exit 3: not synchronised).\n" },
	{ "status", "usage: torwart time status --home DIR [--limit-ms N]\n"
		"The last clock check and the gateways whose clock is off (docs/metering.md).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- gateway */
static const struct cli_help_sub help_gateway[] = {
	{ "add", "usage: torwart gateway add --home DIR --id SMGW-ID [--out DIR2]\n"
		"Register a gateway and write its keys, certificates and chain to DIR2 (default\n"
		"DIR/gateways/SMGW-ID), as a manufacturer would.\n" },
	{ "list", "usage: torwart gateway list --home DIR\n"
		"Show id, state and last contact of every gateway.\n" },
	{ "show", "usage: torwart gateway show --home DIR --id SMGW-ID\n"
		"One gateway: tenant, state, last contact, tags, wake-up address, its job queue\n"
		"and its certificates.\n" },
	{ "set", "usage: torwart gateway set --home DIR (--gateway ID | --gateways all|ID,ID | "
		"--tag T | --tenant T)\n"
		"       [--add-tag T] [--remove-tag T] [--wakeup HOST:PORT|none] "
		"[--move-tenant NAME]\n"
		"Change tags, wake-up address or tenant of one gateway or a fleet.\n" },
	{ "logs", "usage: torwart gateway logs --home DIR --id ID [--kind system|calibration|"
		"messages] [--fetch FROM-TO]\n"
		"Stored signed log entries with their verification status; --fetch creates a\n"
		"log-read job.\n" },
	{ "selftest", "usage: torwart gateway selftest --home DIR --id ID\n"
		"Create a self-test job for the gateway.\n" },
	{ "renew", "usage: torwart gateway renew --home DIR (--gateway ID | --gateways all|ID,ID "
		"| --tag T | --tenant T)\n"
		"       [--wait [--wait-timeout S]]\n"
		"Renew the gateways' TLS/SIG/ENC certificates through the WAN (UC-3.3.3,\n"
		"docs/renewal.md); gateways with an open renewal are skipped. Through the api a\n"
		"fleet renewal needs four eyes above the fleet threshold.\n" },
	{ "crl-push", "usage: torwart gateway crl-push --home DIR (--gateway ID | --gateways "
		"all|ID,ID | --tag T | --tenant T)\n"
		"Order the home's published SM-PKI CRLs ([ca] crl_cas) to gateways (crl-update);\n"
		"each gateway verifies and applies them (docs/renewal.md).\n" },
	{ "initial-config", "usage: torwart gateway initial-config [--home DIR] (--gateway ID --out FILE |\n"
		"       (--gateways all|ID,ID | --tag T | --tenant T) --out DIR) [--recipient ENC-CERT]...\n"
		"       torwart gateway initial-config --fetch REQUEST-ID --out DIR\n"
		"The initial configuration file of pre-personalisation phase 2 (UC-3.3.6): GWA WAN\n"
		"address, the gateway's certificates and the chain, signed by the GWA (signer) and\n"
		"encrypted for the gateway's ENC certificate and each --recipient; never written\n"
		"in clear. Through the api the file comes back in the answer; a batch (more than one\n"
		"gateway) is a four-eyes request (--why): after an approver's release its requester\n"
		"fetches the files once with --fetch (docs/initial-config.md).\n" },
	{ "initial-config-receipt", "usage: torwart gateway initial-config-receipt [--home DIR] "
		"--receipt FILE\n"
		"Record the integrator's signed receipt (CMS SignedData of \"torwart-initial-config-\n"
		"receipt/1 GATEWAY-ID SHA256\").\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- renewal */
static const struct cli_help_sub help_renewal[] = {
	{ "list", "usage: torwart renewal list --home DIR [--gateway ID] [--state S] [--limit N]\n"
		"Certificate renewals, newest first, with their workflow state (requesting,\n"
		"received, installing, installed, confirmed, completed, failed).\n" },
	{ "show", "usage: torwart renewal show --home DIR --id N\n"
		"One renewal: its orders, old and new certificates, grace period, error.\n" },
	{ "wait", "usage: torwart renewal wait --home DIR --id N [--wait-timeout S]\n"
		"Wait until the renewal is completed (0) or failed (1); 5 on timeout.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- context */
static const struct cli_help_sub help_context[] = {
	{ "list", "usage: torwart context list --home DIR [--tenant T] [--gateway ID]\n"
		"Every certificate of the context: the SM-PKI certificates of its gateways (and\n"
		"GWA) and the imported foreign ones, with the gateway each belongs to.\n" },
	{ "import", "usage: torwart context import --home DIR [--tenant T] --cert FILE "
		"[--label L] [--gateway ID]\n"
		"Keep a foreign certificate (PEM or DER) in the context, optionally assigned to\n"
		"one of its gateways.\n" },
	{ "fetch", "usage: torwart context fetch --home DIR [--tenant T] --url ldap[s]://HOST/DN "
		"[--label L] [--gateway ID]\n"
		"Read a foreign certificate (userCertificate of the entry) from an LDAP directory\n"
		"and import it into the context: ldap:// anonymously, ldaps:// over TLS with the\n"
		"GWA's TLS certificate (key in the signer; [context] ldap_trust checks the directory).\n" },
	{ "replace", "usage: torwart context replace --home DIR [--tenant T] --id N --cert FILE "
		"[--label L] [--gateway ID]\n"
		"Replace an imported certificate (status back to unchecked).\n" },
	{ "delete", "usage: torwart context delete --home DIR [--tenant T] --id N\n"
		"Delete an imported certificate from the context.\n" },
	{ "trust-add", "usage: torwart context trust-add --home DIR [--tenant T] --cert FILE\n"
		"Trust a CA for non-SM-PKI certificates (HAN, CLS devices) in this context.\n" },
	{ "trust-list", "usage: torwart context trust-list --home DIR [--tenant T]\n"
		"The context's trusted CAs.\n" },
	{ "trust-remove", "usage: torwart context trust-remove --home DIR [--tenant T] --id N\n"
		"Stop trusting a CA in this context.\n" },
	{ "log", "usage: torwart context log --home DIR [--tenant T] [--after SEQ] [--limit N]\n"
		"Every action in the context (admin-log entries of context:T), oldest first;\n"
		"readable by the context's members and its auditor.\n" },
	{ "backup", "usage: torwart context backup --home DIR [--tenant T] --out FILE\n"
		"Write the context's certificate inventory (foreign certificates, trusted CAs,\n"
		"the SM-PKI certificates listed) as JSON.\n" },
	{ "restore", "usage: torwart context restore --home DIR [--tenant T] --in FILE\n"
		"Restore a backup into the context (created locally when the home lacks it);\n"
		"entries it holds already are skipped.\n" },
	{ "validate", "usage: torwart context validate --home DIR [--tenant T]\n"
		"Check every imported certificate now (validity, chain, revocation); expired or\n"
		"revoked ones raise an alert. Exit 3 when one is not valid.\n" },
	{ "idp-set", "usage: torwart context idp-set --home DIR --tenant T --cert FILE "
		"--entity-id ID\n"
		"Trust an identity provider for SAML login to the context: its entity id (the\n"
		"assertions' Issuer) and signing certificate (PEM). Replaces an earlier one.\n" },
	{ "idp-show", "usage: torwart context idp-show --home DIR --tenant T\n"
		"The context's identity provider and its certificate's fingerprint.\n" },
	{ "idp-remove", "usage: torwart context idp-remove --home DIR --tenant T\n"
		"Stop trusting the context's identity provider (SAML login refused).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- gwa */
static const struct cli_help_sub help_gwa[] = {
	{ "renew", "usage: torwart gwa renew --home DIR [--key tls|sig|enc [--retire [--now]\n"
		"       [--force --reason TEXT]]]\n"
		"Renew the GWA's own certificates, certified by this home's Sub-CA with the current\n"
		"subject, or by the remote Sub-CA that [renewal] sub_ca names for the home's own\n"
		"tenant (a request signed in the signer, purpose certreq; not reachable or not yet\n"
		"decided: rerun to continue); the old certificate stays valid until its end\n"
		"(docs/renewal.md). A TLS\n"
		"key FILE (older homes, no --key): [wan] key and cert replaced. A key in the\n"
		"signer (--key): a new key pair generated in the signer, certified, installed and\n"
		"switched to; a rerun continues an interrupted rotation. The wan takes a new TLS\n"
		"certificate without a restart. --retire destroys the previous key once [gwa]\n"
		"key_grace_days (default 7) have passed since the switch (--now: at once).\n"
		"--key sig orders the new SIG certificate to every gateway (gwa-cert-update, one\n"
		"fleet order per tenant); retiring the old SIG key is refused while gateways have\n"
		"not installed it, unless --force --reason TEXT (logged).\n"
		"Run as root or the signer's user.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- job */
static const struct cli_help_sub help_job[] = {
	{ "create", "usage: torwart job create --home DIR --type T [--payload JSON]\n"
		"       (--gateway ID | --gateways all|ID,ID | --tag T | --tenant T) [--timeout S]\n"
		"       [--attempts N] [--retry-delay S] [--wait [--wait-timeout S]]\n"
		"Create an order for one gateway or a fleet (docs/jobs.md); --wait shows progress\n"
		"until every job is final (exit 1 if any did not succeed).\n" },
	{ "list", "usage: torwart job list --home DIR [--gateway ID] [--batch N] [--state S] "
		"[--limit N]\n"
		"List jobs.\n" },
	{ "batches", "usage: torwart job batches --home DIR [--limit N]\n"
		"Fleet orders, newest first (default 50), with their progress: total, done,\n"
		"failed, ended otherwise (timed out, cancelled) and still open.\n" },
	{ "show", "usage: torwart job show --home DIR --id N\n"
		"Show one job with its attempts and result.\n" },
	{ "cancel", "usage: torwart job cancel --home DIR (--id N | --batch N)\n"
		"Cancel a job or a whole batch that is not final yet.\n" },
	{ "wait", "usage: torwart job wait --home DIR (--id N | --batch N)\n"
		"Wait until the job(s) are final.\n" },
	{ "types", "usage: torwart job types\n"
		"List the order types (ping, set-retention, ...).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- operator */
static const struct cli_help_sub help_operator[] = {
	{ "ca-init", "usage: torwart operator ca-init --home DIR [--tls-listen HOST:PORT]\n"
		"Create the operator CA in a home made before init created it.\n" },
	{ "keygen", "usage: torwart operator keygen --name N --out DIR [--curve P-256]\n"
		"On the new operator's own machine: make its key pair. DIR/N.key stays there,\n"
		"DIR/N.pub goes to the administrator. --curve P-256 for a browser (web console).\n" },
	{ "p12", "usage: torwart operator p12 --cert C --key K --out FILE.p12 --password-file F\n"
		"Certificate and key as PKCS#12 for a browser's certificate store (docs/console.md).\n" },
	{ "add", "usage: torwart operator add --name N --public-key N.pub [--totp] "
		"[--roles R --reason W] [--out DIR]\n"
		"       torwart operator add --home DIR --name N --out DIR (--password-file F | "
		"--totp) [--roles R] [--tenant T] [--curve P-256]\n"
		"Add an operator through the api (no secret is set; the enrolment code goes to the\n"
		"home's enrolment/ directory), or bootstrap the first operators with --home.\n" },
	{ "enrol", "usage: torwart operator enrol --api URL --cert C --key K --code-file F\n"
		"       (--password-file NEW | --totp --out DIR) [--token-file F]\n"
		"First login of a new operator: enrolment code, own key and own first secret.\n" },
	{ "list", "usage: torwart operator list\n"
		"List operators, their roles, tenants and state.\n" },
	{ "disable", "usage: torwart operator disable --name N\n"
		"Disable an operator and revoke its certificate (operator CRL).\n" },
	{ "role", "usage: torwart operator role --name N --roles R --reason W\n"
		"Change an operator's roles (a four-eyes request).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- policy */
static const struct cli_help_sub help_policy[] = {
	{ "show", "usage: torwart policy show\n"
		"Show the effective [auth] security policy.\n" },
	{ "set", "usage: torwart policy set --key K --value V --why TEXT\n"
		"Change a policy setting (a four-eyes request; docs/security.md).\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- profile */
static const struct cli_help_sub help_profile[] = {
	{ "put", "usage: torwart profile put --home DIR --gateway ID --file DOC.json [--no-job]\n"
		"Validate a profile (docs/profiles.md), store it as desired (secrets sealed) and\n"
		"create the profile-insert job.\n" },
	{ "check", "usage: torwart profile check --home DIR --gateway ID --file DOC.json\n"
		"Only validate a profile document.\n" },
	{ "delete", "usage: torwart profile delete --home DIR --gateway ID --profile P "
		"[--no-job]\n"
		"Delete a profile (refused while an evaluation profile references it).\n" },
	{ "show", "usage: torwart profile show --home DIR --gateway ID --profile P\n"
		"Show a stored profile (secrets masked).\n" },
	{ "list", "usage: torwart profile list --home DIR --gateway ID\n"
		"Desired versus reported, per profile.\n" },
	{ "drift", "usage: torwart profile drift --home DIR [--gateway ID]\n"
		"Exit 4 when a gateway's profiles drift from the desired ones.\n" },
	{ "read", "usage: torwart profile read --home DIR --gateway ID [--profile P]\n"
		"Create a profile-read job.\n" },
	{ "authorise-emt", "usage: torwart profile authorise-emt --home DIR --gateway ID "
		"--emt EMT-ID\n"
		"Allow an EMT as recipient of the gateway's evaluation profiles (T-PV.4).\n" },
	{ "revoke-emt", "usage: torwart profile revoke-emt --home DIR --gateway ID --emt EMT-ID\n"
		"Withdraw that authorisation.\n" },
	{ "emts", "usage: torwart profile emts --home DIR [--gateway ID]\n"
		"EMTs an evaluation profile of the gateway may name as recipients.\n" },
	{ "reput", "usage: torwart profile reput --home DIR (--emt MPID [--cert FILE] | --meter ID "
		"--key-file FILE [--key-ref REF])\n"
		"       (--gateway ID | --gateways all|ID,ID | --tag T | --tenant T) [--apply]\n"
		"After an EMT's or a meter's key change: list the gateways whose profiles carry the\n"
		"old TLS certificate (WAN and proxy profiles of the EMT; default: the newest valid\n"
		"one this home issued to it) or key (meter profiles); --apply puts them again with\n"
		"the new one (profile-insert jobs). See docs/profiles.md.\n" },
	{ NULL, NULL },
};

/* ---------------------------------------------------------------- req */
static const struct cli_help_sub help_req[] = {
	{ "initial", "usage: torwart req initial --cn CN [--ou MPID] [--org O] [--country C] "
		"[--serial N]\n"
		"       [--street S] [--postal-code P] [--locality L] [--state S] [--email E] "
		"[--uri U]\n"
		"       [--dns D]... [--role EMT|GWA|GWH|SMGW]\n"
		"       (--key-dir DIR [--curve C] | --tls-key F --sig-key F --enc-key F)\n"
		"       [--out FILE] [--format der|base64|pem] [--authorise --home DIR "
		"[--gwa-cert F] [--gwa-key-label L]]\n"
		"Write an SM-PKI initial request (CRMF in bsiCertReqMsgs); new keys go to DIR (0600).\n"
		"--dns may be given several times: every name goes into the TLS request.\n"
		"--authorise adds the GWA authorisation of an SMGW request via the home's signer.\n"
		"See docs/pki-requests.md.\n" },
	{ "renew", "usage: torwart req renew --cn CN ... --current-cert FILE --current-key FILE "
		"[--types TLS,SIG,ENC]\n"
		"The same as initial, as a renewal signed with the current SIG certificate and key.\n" },
	{ "show", "usage: torwart req show FILE [--require-authorisation]\n"
		"Parse and verify a request as the Sub-CA does; prints its WSDL return code.\n" },
	{ "authorise", "usage: torwart req authorise --in FILE [--out FILE] "
		"[--format der|base64|pem] [--home DIR]\n"
		"Add the GWA authorisation to an SMGW request (through the api, or --home).\n" },
	{ NULL, NULL },
};

static const struct cli_help_sub help_console[] = {
	{ "tls", "usage: torwart console tls --home DIR [--host NAME] [--days N] [--force]\n"
		"Make the console's P-256 key in the signer (label console-tls), HOME/pki/\n"
		"console-tls.crt and HOME/pki/console-ca.crt, whose key is discarded after signing;\n"
		"the console serves them on [console] listen. --force: a new certificate (for the\n"
		"signer's key when it holds one; keys in the signer are never replaced).\n" },
	{ NULL, NULL },
};

static const struct cli_help cli_helps[] = {
	{ "alarm", "usage: torwart alarm list|ack ...\n"
		"Gateway alarms across the fleet and their acknowledgement (docs/monitoring.md).\n"
		"torwart alarm SUB --help for each.\n" HELP_REMOTE, help_alarm },
	{ "approval", "usage: torwart approval list [--state S] | show|approve|reject --id N "
		"[--reason W]\n"
		"Four-eyes requests, decided by a second operator with the approver role.\n"
		"torwart approval SUB --help for each.\n", help_approval },
	{ "audit", "usage: torwart audit verify|export|proof|head|archive|alert ...\n"
		"The admin log: verification, export, proofs, signed heads, retention, alerts\n"
		"(docs/audit-log.md). torwart audit SUB --help for each.\n" HELP_REMOTE, help_audit },
	{ "ca", "usage: torwart ca register|participants|requests|submit|approve|reject|issue|\n"
		"                  list|show|export|delivery-note|revoke|crl|check|activate|\n"
		"                  deactivate|status|\n"
		"                  custodians|custodian-share|custodian-keygen|backup|restore|\n"
		"                  tls-key-import ...\n"
		"The Sub-CA: registration, RA decisions, issuance, revocation, CRLs (full, delta,\n"
		"the Root's ARL in a test PKI), CA key state (docs/ca-operations.md).\n"
		"torwart ca SUB --help for each. Exit 4: a request was refused.\n" HELP_REMOTE,
		help_ca },
	{ "console", "usage: torwart console tls --home DIR [--host NAME] [--days N] [--force]\n"
		"The web console's ECDSA P-256 server certificate and the one-time CA to import\n"
		"into the operators' browsers (docs/console.md).\n", help_console },
	{ "dir", "usage: torwart dir slapd-conf|status|publish|resync --home DIR ...\n"
		"The SM-PKI directory (LDAPS, docs/pki-services.md). torwart dir SUB --help for each.\n",
		help_dir },
	{ "firmware", "usage: torwart firmware add|list|show|release|downgrade|withdraw|\n"
		"       import-list|certified|check ...\n"
		"The firmware catalogue (docs/firmware.md). torwart firmware SUB --help for each.\n"
		HELP_REMOTE, help_firmware },
	{ "rollout", "usage: torwart rollout create|list|show|approve|pause|resume|cancel ...\n"
		"Staged firmware rollouts (docs/firmware.md). torwart rollout SUB --help for each.\n"
		HELP_REMOTE, help_rollout },
	{ "metering", "usage: torwart metering endpoint|status ...\n"
		"Metering data for EMTs (docs/metering.md). torwart metering SUB --help for each.\n",
		help_metering },
	{ "time", "usage: torwart time check|status ...\n"
		"The legal-time service (docs/metering.md). torwart time SUB --help for each.\n",
		help_time },
	{ "gateway", "usage: torwart gateway add|list|show|set|logs|selftest|renew|crl-push|initial-config ...\n"
		"Gateways: registration, listing, fleet settings, logs and self-tests.\n"
		"torwart gateway SUB --help for each.\n" HELP_REMOTE, help_gateway },
	{ "context", "usage: torwart context list|import|replace|delete|trust-add|trust-list|"
		"trust-remove|validate|backup|restore|log|fetch ...\n"
		"The GWA's certificate-management context per tenant (docs/renewal.md).\n"
		"torwart context SUB --help for each.\n" HELP_REMOTE, help_context },
	{ "gwa", "usage: torwart gwa renew --home DIR [--key tls|sig|enc [--retire [--now]\n"
		"       [--force --reason TEXT]]]\n"
		"The GWA's own certificates (docs/renewal.md). torwart gwa SUB --help for each.\n"
		HELP_REMOTE, help_gwa },
	{ "init", "usage: torwart init --home DIR [--test-pki [--second-sub-ca]] "
		"[--wan-listen HOST:PORT]\n"
		"       [--api-listen HOST:PORT] [--api-tls-listen HOST:PORT] "
		"[--signer-backend pkcs11|file]\n"
		"       [--system] [--custodians K/N --custodians-out DIR "
		"[--custodian-keys A.pub,...]]\n"
		"Create a new home: torwart.conf, store, SoftHSM2 token, operator CA; with --test-pki\n"
		"also a test SM-PKI (Root-CA, Sub-CA, GWA TLS/SIG/ENC) whose certificates name the\n"
		"api's CRL URLs; --second-sub-ca adds a second test Sub-CA under the same Root\n"
		"(pki/sub-ca-2.crt, chain-2.pem). --system (as root): per-service users, seccomp\n"
		"and Landlock (docs/operations.md). --custodians K/N: production mode at init, the\n"
		"token PIN split among N custodians (K activate), each share sealed to its custodian's\n"
		"key with --custodian-keys; no pin file (docs/key-ceremony.md). Refuses an existing\n"
		"DIR. --signer-backend file: tests only.\n",
		NULL },
	{ "job", "usage: torwart job create|list|batches|show|cancel|wait|types ...\n"
		"Orders to gateways (docs/jobs.md). torwart job SUB --help for each.\n" HELP_REMOTE,
		help_job },
	{ "login", "usage: torwart login --api https://HOST:PORT --cert C --key K [--ca F]\n"
		"       (--password-file F | --totp-secret-file F | --saml-file F --tenant T)\n"
		"       [--token-file F]\n"
		"Open an operator session (mTLS + second factor, or a signed SAML assertion of\n"
		"the context T's identity provider instead of the factor); the token goes to\n"
		"~/.config/torwart/session.json (0600) or F.\n", NULL },
	{ "logout", "usage: torwart logout [--token-file F]\n"
		"End the operator session.\n", NULL },
	{ "operator", "usage: torwart operator ca-init|keygen|add|enrol|list|disable|role|p12 ...\n"
		"Operators of the api and their enrolment (docs/security.md).\n"
		"torwart operator SUB --help for each.\n", help_operator },
	{ "policy", "usage: torwart policy show | policy set --key K --value V --why TEXT\n"
		"The [auth] security policy; set is a four-eyes request (docs/security.md).\n",
		help_policy },
	{ "profile", "usage: torwart profile put|check|delete|show|list|drift|read|"
		"authorise-emt|revoke-emt|emts|reput ...\n"
		"Gateway profiles (docs/profiles.md). torwart profile SUB --help for each.\n"
		HELP_REMOTE, help_profile },
	{ "renewal", "usage: torwart renewal list|show|wait ...\n"
		"Certificate renewals of gateways (docs/renewal.md); start them with\n"
		"`torwart gateway renew`. torwart renewal SUB --help for each.\n" HELP_REMOTE,
		help_renewal },
	{ "store", "usage: torwart store migrate --home DIR --to URL\n"
		"The home's database (docs/operations.md). torwart store SUB --help for each.\n",
		help_store },
	{ "ws", "usage: torwart ws endpoint|outbox|request|poll|status ...\n"
		"The SM-PKI web service: participants' callback endpoints and the outbox (CA\n"
		"side), requests to a remote Sub-CA (participant side). docs/pki-services.md.\n"
		"torwart ws SUB --help for each.\n", help_ws },
	{ "req", "usage: torwart req initial|renew|show|authorise ...\n"
		"SM-PKI certificate requests, made and checked as a participant does\n"
		"(docs/pki-requests.md). torwart req SUB --help for each.\n", help_req },
};

const struct cli_help *cli_help_find(const char *command)
{
	for (size_t i = 0; command != NULL && i < sizeof(cli_helps) / sizeof(cli_helps[0]); i++)
		if (strcmp(cli_helps[i].command, command) == 0)
			return &cli_helps[i];
	return NULL;
}

bool cli_help_print(const char *command, const char *sub, FILE *out)
{
	const struct cli_help *h = cli_help_find(command);

	if (h == NULL)
		return false;
	for (const struct cli_help_sub *s = h->subs; sub != NULL && s != NULL && s->name != NULL;
	     s++) {
		if (strcmp(s->name, sub) == 0) {
			fputs(s->text, out);
			return true;
		}
	}
	fputs(h->text, out);
	return true;
}

void cli_help_list_commands(FILE *out)
{
	const char *name;

	for (size_t i = 0; (name = cli_command_name_at(i)) != NULL; i++) {
		const struct cli_help *h = cli_help_find(name);

		fprintf(out, "%s\n", name);
		for (const struct cli_help_sub *s = h != NULL ? h->subs : NULL;
		     s != NULL && s->name != NULL; s++)
			fprintf(out, "%s %s\n", name, s->name);
	}
}
