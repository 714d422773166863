/*
 * cli_ca.c: `torwart ca ...`: the Sub-CA from the command line (docs/ca-operations.md):
 * registration, the request queue and RA decisions, issuance, listing/export, revocation
 * and CRLs. Thin adapter over src/pki/ca.h and crl.h.
 *
 * Exit status: 0 ok, 1 failure, 2 usage, 4 a request was refused (its WSDL code is
 * printed), so scripts can tell a bad request from a broken installation. `ca check`:
 * 0 all valid, 5 at least one certificate is not valid, 6 an input is no certificate.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "auth/command.h"
#include "base/progress.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/keys.h"
#include "crypto/secretbox.h"
#include "crypto/shares.h"
#include "crypto/signer.h"
#include "crypto/signer_proto.h"
#include "signer/signer_keys.h"
#include "pki/ca.h"
#include "pki/ca_check.h"
#include "pki/ca_state.h"
#include "pki/crl.h"
#include "pki/request.h"
#include "store/store_ca.h"
#include "ws/ws_note.h"

#define CLI_CA_REFUSED 4
#define CLI_CA_MAX_FILES 100000
#define CLI_CA_NOT_VALID 5    /* ca check: a certificate is not valid */
#define CLI_CA_UNREADABLE 6   /* ca check: an input is no certificate */

struct ca_opts {
	const char *home, *name, *org, *role, *mp_id, *cn, *email, *gateway_id, *device_serial;
	const char *state, *reason, *participant, *out, *ca, *id, *at;
	const char *k, *n, *share, *from;   /* key ceremonies (M-4.5.18) */
	const char *custodian_keys, *share_key;   /* shares sealed to custodians */
	const char *key, *label;                  /* tls-key-import */
	const char *request_dir;                  /* ca issue --request-dir */
	const char **files;
	size_t nfiles, ncerts;    /* ncerts of the files came with --cert (ca check) */
	int der, timing;
	const char *pos;      /* the positional argument (REQUEST id or SERIAL) */
};

static const char ca_usage[] =
	"usage: torwart ca register --home DIR --name NAME --org ORG --role emt|gwa|gwh|smgw\n"
	"                  --mp-id ID --cn CN [--email E] [--gateway-id ID] [--device-serial S]\n"
	"       torwart ca participants|requests [--state S] --home DIR\n"
	"       torwart ca submit --home DIR --request FILE [--participant NAME]\n"
	"       torwart ca approve|reject REQUEST --home DIR [--reason TEXT]\n"
	"       torwart ca issue --home DIR ((--request FILE... | --request-dir DIR)\n"
	"                        [--participant NAME] [--timing] | --id REQUEST)\n"
	"                        (--request-dir: every DIR/*.der, at most 100000)\n"
	"       torwart ca list --home DIR | show|export SERIAL --home DIR [--out FILE] [--der]\n"
	"       torwart ca delivery-note SERIAL --home DIR [--out FILE]\n"
	"       torwart ca revoke SERIAL --home DIR --reason R | crl --home DIR [--ca NAME]\n"
	"       torwart ca check --home DIR --cert FILE... [--at TIME] [--ca NAME]\n"
	"       torwart ca activate|deactivate --home DIR --ca NAME [--reason TEXT]\n"
	"       torwart ca status --home DIR [--ca NAME]\n"
	"       torwart ca custodians split --home DIR --k K --n N --out DIR\n"
	"                  [--custodian-keys A.pub,B.pub,...]  (one per custodian: sealed shares)\n"
	"       torwart ca custodians status --home DIR\n"
	"       torwart ca custodian-keygen --name NAME --out DIR  (the custodian, on its machine)\n"
	"       torwart ca custodian-share --home DIR --share FILE [--share-key KEY]\n"
	"       torwart ca backup --home DIR --out DIR | restore --home DIR --from DIR\n"
	"       torwart ca tls-key-import --home DIR [--label gwa-tls|api-tls|console-tls]\n"
	"         [--key FILE]";

static int ca_parse(int argc, char **argv, struct ca_opts *o)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' }, { "name", required_argument, NULL, 'n' },
		{ "org", required_argument, NULL, 'o' }, { "role", required_argument, NULL, 'r' },
		{ "mp-id", required_argument, NULL, 'm' }, { "cn", required_argument, NULL, 'c' },
		{ "email", required_argument, NULL, 'e' },
		{ "gateway-id", required_argument, NULL, 'g' },
		{ "device-serial", required_argument, NULL, 's' },
		{ "state", required_argument, NULL, 'S' }, { "reason", required_argument, NULL, 'R' },
		{ "participant", required_argument, NULL, 'p' },
		{ "request", required_argument, NULL, 'f' }, { "out", required_argument, NULL, 'O' },
		{ "request-dir", required_argument, NULL, 'D' },
		{ "ca", required_argument, NULL, 'a' }, { "id", required_argument, NULL, 'i' },
		{ "der", no_argument, NULL, 'd' }, { "timing", no_argument, NULL, 't' },
		{ "cert", required_argument, NULL, 'C' }, { "at", required_argument, NULL, 'T' },
		{ "k", required_argument, NULL, 'K' }, { "n", required_argument, NULL, 'N' },
		{ "share", required_argument, NULL, 'X' }, { "from", required_argument, NULL, 'F' },
		{ "custodian-keys", required_argument, NULL, 'Y' },
		{ "share-key", required_argument, NULL, 'Z' },
		{ "key", required_argument, NULL, 'W' }, { "label", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->ca = CA_DEFAULT_NAME;
	if ((o->files = calloc((size_t)argc + 1, sizeof(*o->files))) == NULL)
		return -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'n': o->name = optarg; break;
		case 'o': o->org = optarg; break;
		case 'r': o->role = optarg; break;
		case 'm': o->mp_id = optarg; break;
		case 'c': o->cn = optarg; break;
		case 'e': o->email = optarg; break;
		case 'g': o->gateway_id = optarg; break;
		case 's': o->device_serial = optarg; break;
		case 'S': o->state = optarg; break;
		case 'R': o->reason = optarg; break;
		case 'p': o->participant = optarg; break;
		case 'C':
			o->ncerts++;
			/* --cert files share the list with --request */
			/* fall through */
		case 'f':
			if (o->nfiles >= CLI_CA_MAX_FILES)
				return -1;
			o->files[o->nfiles++] = optarg;
			break;
		case 'O': o->out = optarg; break;
		case 'D': o->request_dir = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'i': o->id = optarg; break;
		case 'd': o->der = 1; break;
		case 't': o->timing = 1; break;
		case 'T': o->at = optarg; break;
		case 'K': o->k = optarg; break;
		case 'W': o->key = optarg; break;
		case 'L': o->label = optarg; break;
		case 'N': o->n = optarg; break;
		case 'X': o->share = optarg; break;
		case 'F': o->from = optarg; break;
		case 'Y': o->custodian_keys = optarg; break;
		case 'Z': o->share_key = optarg; break;
		default: return -1;
		}
	}
	if (optind < argc)
		o->pos = argv[optind++];
	return optind == argc ? 0 : -1;
}

static const struct ca_actor *ca_who(void)
{
	static struct ca_actor who;

	who.actor = cli_actor();
	who.role = cli_role;
	who.client = cli_client();
	return &who;
}

static tw_rc ca_copy(char *dst, size_t size, const char *src, const char *what,
	struct tw_error *err)
{
	return tw_strlcpy_checked(dst, src != NULL ? src : "", size, err, what);
}

static int cmd_register(const struct ca_opts *o, struct tw_store *store, struct tw_error *err)
{
	struct store_ca_participant p;
	tw_rc rc;

	if (o->name == NULL || o->org == NULL || o->role == NULL || o->mp_id == NULL ||
	    o->cn == NULL)
		return cli_usage_error("ca register needs --name, --org, --role, --mp-id and --cn");
	memset(&p, 0, sizeof(p));
	if ((rc = ca_copy(p.name, sizeof(p.name), o->name, "name", err)) != TW_OK ||
	    (rc = ca_copy(p.organisation, sizeof(p.organisation), o->org, "org", err)) != TW_OK ||
	    (rc = ca_copy(p.role, sizeof(p.role), o->role, "role", err)) != TW_OK ||
	    (rc = ca_copy(p.market_partner_id, sizeof(p.market_partner_id), o->mp_id, "mp-id",
		err)) != TW_OK ||
	    (rc = ca_copy(p.common_name, sizeof(p.common_name), o->cn, "cn", err)) != TW_OK ||
	    (rc = ca_copy(p.email, sizeof(p.email), o->email, "email", err)) != TW_OK ||
	    (rc = ca_copy(p.gateway_id, sizeof(p.gateway_id), o->gateway_id, "gateway-id",
		err)) != TW_OK ||
	    (rc = ca_copy(p.device_serial, sizeof(p.device_serial), o->device_serial,
		"device-serial", err)) != TW_OK)
		return cli_fail("ca register", err);
	for (char *c = p.role; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	if ((rc = ca_register(store, ca_who(), &p, err)) != TW_OK)
		return cli_fail("ca register", err);
	printf("torwart: participant %s (%s, %s) registered\n", p.name, p.role, p.common_name);
	return 0;
}

static int print_participant(const struct store_ca_participant *p, void *arg)
{
	(void)arg;
	printf("%-20s %-5s %-14s %-30s %s%s%s\n", p->name, p->role, p->market_partner_id,
		p->common_name, p->organisation, p->gateway_id[0] ? " gateway=" : "",
		p->gateway_id);
	return 0;
}

static int print_request(const struct store_ca_request *r, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(r->received_ms, when, sizeof(when));
	printf("%-6lld %-9s %-8s %-20s %-25s %s\n", (long long)r->id, r->state, r->kind,
		r->participant, when, r->subject);
	return 0;
}

static int print_cert(const struct store_ca_cert *c, void *arg)
{
	char until[32];
	time_t t = (time_t)c->not_after;
	struct tm tm;

	(*(size_t *)arg)++;
	if (gmtime_r(&t, &tm) == NULL || strftime(until, sizeof(until), "%Y-%m-%d", &tm) == 0)
		snprintf(until, sizeof(until), "?");
	printf("%-34s %-4s %-5s %-20s %-8s %s  %s\n", c->serial_hex, c->usage, c->owner_kind,
		c->owner_id, c->status, until, c->subject);
	return 0;
}

static int report_refusal(const char *what, enum pki_result res, const struct tw_error *err)
{
	fprintf(stderr, "torwart %s: %s: %s\n", what, pki_result_name(res), err->message);
	return CLI_CA_REFUSED;
}

static int cmd_submit(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	unsigned char *in = NULL;
	size_t len = 0;
	enum pki_result res = PKI_FAILURE_INTERNAL_ERROR;
	int64_t id = 0;
	int ret;
	tw_rc rc;

	if (o->nfiles != 1)
		return cli_usage_error("ca submit needs exactly one --request FILE");
	if ((rc = tw_read_file(o->files[0], 4 * REQUEST_MAX_BYTES, &in, &len, err)) != TW_OK)
		return rc == TW_E_TOO_LARGE ? report_refusal("ca submit", PKI_FAILURE_SYNTAX, err) :
			cli_fail("ca submit", err);
	rc = ca_submit(home, store, ca_who(), o->participant, in, len, &id, &res, err);
	free(in);
	if (rc == TW_OK) {
		printf("torwart: request %lld queued (%s); an RA officer decides with `torwart ca "
			"approve|reject %lld`\n", (long long)id, pki_result_name(res), (long long)id);
		ret = 0;
	} else if (res != PKI_FAILURE_INTERNAL_ERROR) {
		ret = report_refusal("ca submit", res, err);
	} else {
		ret = cli_fail("ca submit", err);
	}
	return ret;
}

static int cmd_decide(const struct ca_opts *o, struct tw_store *store, bool approve,
	struct tw_error *err)
{
	long id;

	if (o->pos == NULL)
		return cli_usage_error(approve ? "ca approve needs a REQUEST id" :
			"ca reject needs a REQUEST id");
	if (!approve && o->reason == NULL)
		return cli_usage_error("ca reject needs --reason TEXT (the participant is told why)");
	if (tw_parse_long(o->pos, 1, LONG_MAX, &id, err, "request id") != TW_OK ||
	    ca_decide(store, ca_who(), id, approve, o->reason, err) != TW_OK)
		return cli_fail(approve ? "ca approve" : "ca reject", err);
	printf("torwart: request %ld %s\n", id, approve ? "approved" : "rejected");
	return 0;
}

/* ca_issue_files' progress: requests read, verified and built (signing follows in batches). */
struct issue_prog {
	struct tw_progress prog;
	size_t base, total;      /* --request-dir: this part starts at base of total */
};

static void issue_progress(void *arg, size_t done, size_t n)
{
	struct issue_prog *ip = arg;

	(void)n;
	done += ip->base;
	tw_progress_update(&ip->prog, "ca issue: %zu/%zu requests verified%s", done, ip->total,
		done == ip->total ? "; signing and storing the last batches" : "");
}

/*
 * --request-dir issues in parts of this many files: one ca_issue_files call each (its
 * outcomes and verification slots are per file), so memory stays bounded whatever the
 * count; the parts follow each other on one signer connection and one store handle.
 */
#define CLI_CA_DIR_PART 4096

/* Issue files[0..n) (total requests shown: total; ok/certs accumulate). */
struct issue_tally {
	size_t ok, certs, done, total;
	struct ca_issue_stats stats;
	bool print_each;
};

static tw_rc issue_part(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct signer_client *sc, const char *const *files, size_t n,
	struct ca_issue_outcome *out, struct issue_prog *ip, struct issue_tally *t,
	struct tw_error *err)
{
	struct ca_issue_stats st;
	tw_rc rc;

	ip->base = t->done;
	ip->total = t->total;
	tw_progress_stderr(&ip->prog);
	rc = ca_issue_files_progress(home, store, sc, ca_who(), o->participant, files, n, out,
		&st, t->total > 1 ? issue_progress : NULL, ip, err);
	tw_progress_clear(&ip->prog);
	t->stats.read_parse_us += st.read_parse_us;
	t->stats.build_us += st.build_us;
	t->stats.sign_us += st.sign_us;
	t->stats.store_us += st.store_us;
	t->done += n;
	for (size_t i = 0; i < n; i++) {
		if (out[i].rc == TW_OK) {
			t->ok++;
			t->certs += out[i].n_certs;
			if (t->print_each) {
				printf("%s: %s request %lld", out[i].file, pki_result_name(out[i].result),
					(long long)out[i].request_id);
				for (size_t k = 0; k < out[i].n_certs; k++)
					printf(" %s", out[i].serials[k]);
				printf("\n");
			}
		} else {
			fprintf(stderr, "torwart ca issue: %s: %s: %s\n", out[i].file,
				pki_result_name(out[i].result), out[i].message);
		}
	}
	return rc;
}

/* The entries of --request-dir that are not issued, by (escaped) name, on stderr. */
static void issue_dir_notes(const struct ca_reqdir *d)
{
	for (size_t i = 0; i < d->nnotes; i++)
		fprintf(stderr, "torwart ca issue: %s: %s: %s\n", d->notes[i].name,
			d->notes[i].kind == CA_REQDIR_REFUSED ? "refused" : "skipped", d->notes[i].why);
	if (d->skipped + d->refused > d->nnotes)
		fprintf(stderr, "torwart ca issue: ... and %zu more entries refused or skipped "
			"(the first %d are listed)\n", d->skipped + d->refused - d->nnotes,
			CA_REQDIR_NOTES_MAX);
}

static int cmd_issue(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	struct issue_prog ip;
	struct signer_client *sc = NULL;
	struct ca_issue_outcome *out = NULL;
	struct ca_reqdir dir;
	struct issue_tally t;
	const char *const *files = o->files;
	size_t nfiles = o->nfiles, part, requests;
	int ret = 0;
	tw_rc rc = TW_OK;

	memset(&dir, 0, sizeof(dir));
	memset(&t, 0, sizeof(t));
	memset(&ip, 0, sizeof(ip));
	if ((o->nfiles > 0) + (o->request_dir != NULL) + (o->id != NULL) != 1)
		return cli_usage_error("ca issue needs one of --request FILE..., --request-dir DIR "
			"or --id REQUEST (not two of them)");
	if (o->request_dir != NULL) {
		/* Listed before the signer starts: a directory that is wrong costs nothing. */
		rc = ca_reqdir_list(o->request_dir, CA_REQDIR_MAX, &dir, err);
		issue_dir_notes(&dir);
		if (rc != TW_OK) {
			ret = cli_fail("ca issue", err);
			goto out;
		}
		files = (const char *const *)dir.files;
		nfiles = dir.n;
	}
	if ((rc = signer_client_open(home, false, &sc, err)) != TW_OK) {
		ret = cli_fail("ca issue", err);
		goto out;
	}
	signer_client_set_actor(sc, cli_actor(), cli_role);
	if (o->id != NULL) {
		enum pki_result res = PKI_FAILURE_INTERNAL_ERROR;
		long id;

		if ((rc = tw_parse_long(o->id, 1, LONG_MAX, &id, err, "request id")) == TW_OK)
			rc = ca_issue_approved(home, store, sc, ca_who(), id, &res, err);
		if (rc == TW_OK)
			printf("torwart: request %ld issued (%s); see `torwart ca list`\n", id,
				pki_result_name(res));
		ret = rc == TW_OK ? 0 : res != PKI_FAILURE_INTERNAL_ERROR ?
			report_refusal("ca issue", res, err) : cli_fail("ca issue", err);
		goto out;
	}
	/* Requests: the files, and the entries named *.der that were refused unread. */
	requests = nfiles + dir.refused;
	t.total = nfiles;
	t.print_each = requests <= 20;
	part = o->request_dir != NULL ? CLI_CA_DIR_PART : nfiles;
	if (part > nfiles)
		part = nfiles;
	if (part > 0 && (out = calloc(part, sizeof(*out))) == NULL) {
		tw_error_set(err, TW_E_NOMEM, "out of memory");
		ret = cli_fail("ca issue", err);
		goto out;
	}
	while (rc == TW_OK && t.done < nfiles) {
		size_t n = nfiles - t.done < part ? nfiles - t.done : part;

		rc = issue_part(o, home, store, sc, files + t.done, n, out, &ip, &t, err);
	}
	if (t.done < nfiles)
		fprintf(stderr, "torwart ca issue: %zu more requests not processed (the run "
			"stopped: see below); issuing the directory again issues them (those issued "
			"are refused as replayed)\n", nfiles - t.done);
	printf("torwart: %zu of %zu requests issued, %zu certificates\n", t.ok, requests,
		t.certs);
	if (o->request_dir != NULL && dir.refused + dir.skipped > 0)
		printf("torwart: %zu entries of the directory refused unread, %zu skipped (listed "
			"on stderr)\n", dir.refused, dir.skipped);
	if (o->timing)
		printf("timing (ms): read+parse+verify %.1f, build %.1f, sign (signer) %.1f, "
			"store %.1f\n", t.stats.read_parse_us / 1e3, t.stats.build_us / 1e3,
			t.stats.sign_us / 1e3, t.stats.store_us / 1e3);
	if (rc != TW_OK)
		ret = cli_fail("ca issue", err);
	else if (t.ok != requests)
		ret = CLI_CA_REFUSED;
out:
	free(out);
	signer_client_close(sc);
	ca_reqdir_free(&dir);
	return ret;
}

/*
 * The electronic delivery note of a certificate (ws/ws_note.h): DER CMS to --out or
 * standard output; --json prints the signed content instead (for reading).
 */
static int cmd_delivery_note(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	struct signer_client *sc = NULL;
	char issuer[STORE_TEXT_MAX + 1], hex[STORE_ID_MAX + 1];
	char *json = NULL;
	unsigned char *der = NULL;
	size_t len = 0;
	int ret = 1;

	if (o->pos == NULL)
		return cli_usage_error("ca delivery-note needs a SERIAL");
	if (ca_serial_normalise(o->pos, hex, sizeof(hex), err) != TW_OK ||
	    ca_issuer_name(home, o->ca, issuer, sizeof(issuer), err) != TW_OK ||
	    ws_note_content(store, issuer, hex, &json, NULL, NULL, err) != TW_OK ||
	    signer_client_open(home, false, &sc, err) != TW_OK)
		goto fail;
	signer_client_set_actor(sc, cli_actor(), cli_role);
	if (ws_note_sign(home, sc, json, &der, &len, err) != TW_OK)
		goto fail;
	if (o->out != NULL) {
		if (tw_write_file(o->out, der, len, 0644, false, err) != TW_OK)
			goto fail;
		printf("torwart: delivery note for %s written to %s (CMS, DER; verify with "
			"`openssl cms -verify -inform DER -CAfile chain.pem`)\n", hex, o->out);
	} else if (fwrite(der, 1, len, stdout) != len) {
		tw_error_set(err, TW_E_IO, "cannot write to standard output");
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	ret = cli_fail("ca delivery-note", err);
out:
	signer_client_close(sc);
	OPENSSL_free(der);
	free(json);
	return ret;
}

static int cmd_show(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, bool export, struct tw_error *err)
{
	struct store_ca_cert c;
	char issuer[STORE_TEXT_MAX + 1], hex[STORE_ID_MAX + 1];
	X509 *x = NULL;
	const unsigned char *p;
	int ret = 1;

	memset(&c, 0, sizeof(c));
	if (o->pos == NULL)
		return cli_usage_error("ca show/export needs a SERIAL");
	if (ca_serial_normalise(o->pos, hex, sizeof(hex), err) != TW_OK ||
	    ca_issuer_name(home, o->ca, issuer, sizeof(issuer), err) != TW_OK ||
	    store_ca_cert_get(store, issuer, hex, true, &c, err) != TW_OK)
		goto fail;
	p = c.der;
	if ((x = d2i_X509(NULL, &p, (long)c.der_len)) == NULL) {
		tw_error_set(err, TW_E_INTEGRITY, "stored certificate %s does not parse", hex);
		goto fail;
	}
	if (!export) {
		printf("serial:      %s\nsubject:     %s\nissuer:      %s\nowner:       %s %s\n"
			"usage:       %s\nstatus:      %s\nrequest:     %lld\nfingerprint: %s\n",
			c.serial_hex, c.subject, issuer, c.owner_kind, c.owner_id, c.usage, c.status,
			(long long)c.request_id, c.fingerprint);
		if (c.revoked_ms > 0) {
			char when[40];

			tw_time_format_utc(c.revoked_ms, when, sizeof(when));
			printf("revoked:     %s (%s)\n", when, ca_reason_name(c.revocation_reason));
		}
		ret = 0;
		goto out;
	}
	if (o->der && o->out != NULL) {
		if (tw_write_file(o->out, c.der, c.der_len, 0644, false, err) != TW_OK)
			goto fail;
	} else if (o->out != NULL) {
		X509 *one[1] = { x };

		if (keys_write_certs_pem(o->out, one, 1, err) != TW_OK)
			goto fail;
	} else if (o->der) {
		if (fwrite(c.der, 1, c.der_len, stdout) != c.der_len) {
			tw_error_set(err, TW_E_IO, "cannot write to standard output");
			goto fail;
		}
	} else if (PEM_write_X509(stdout, x) != 1) {
		tw_error_set(err, TW_E_IO, "cannot write to standard output");
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	ret = cli_fail(export ? "ca export" : "ca show", err);
out:
	X509_free(x);
	store_ca_cert_clear(&c);
	return ret;
}

/* crl_generate's progress: revoked certificates read, then chunks signed (large CRLs). */
static void crl_progress(void *arg, const char *phase, int64_t done, int64_t total)
{
	if (total > 0)
		tw_progress_update((struct tw_progress *)arg, "ca crl: %s: %lld/%lld", phase,
			(long long)done, (long long)total);
	else
		tw_progress_update((struct tw_progress *)arg, "ca crl: %s: %lld", phase,
			(long long)done);
}

static int ca_crl_now(const struct tw_home *home, struct tw_store *store, const char *ca,
	struct tw_error *err)
{
	struct signer_client *sc = NULL;
	struct tw_progress prog;
	struct crl_result res;
	tw_rc rc;

	tw_progress_stderr(&prog);
	if ((rc = signer_client_open(home, false, &sc, err)) == TW_OK) {
		signer_client_set_actor(sc, cli_actor(), cli_role);
		rc = crl_generate_progress(home, store, sc, ca, cli_actor(), crl_progress, &prog,
			&res, err);
	}
	tw_progress_clear(&prog);
	signer_client_close(sc);
	if (rc == TW_OK)
		printf("torwart: CRL %lld of %s: %lld revoked, %zu bytes, %s\n",
			(long long)res.number, ca, (long long)res.entries, res.der_len, res.path);
	return rc;
}

static int cmd_revoke(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	bool changed = false;
	int reason;

	if (o->pos == NULL || o->reason == NULL)
		return cli_usage_error("ca revoke needs SERIAL and --reason R");
	if (ca_reason_parse(o->reason, &reason, err) != TW_OK ||
	    ca_revoke(home, store, ca_who(), o->ca, o->pos, reason, &changed, err) != TW_OK)
		return cli_fail("ca revoke", err);
	printf("torwart: %s %s\n", o->pos, changed ? "revoked" : "was already revoked; unchanged");
	if (!changed)
		return 0;
	/* Publish at once; if this fails the worker retries (the CRL is marked dirty). */
	if (ca_crl_now(home, store, o->ca, err) != TW_OK)
		return cli_fail("ca revoke (revoked, but the CRL is not yet regenerated; the "
			"worker will retry)", err);
	return 0;
}

static int print_key_state(const struct store_ca_key_state *k, void *arg)
{
	char when[40];

	(*(size_t *)arg)++;
	tw_time_format_utc(k->changed_ms, when, sizeof(when));
	printf("%-20s %-8s %-25s %-24s %s\n", k->ca, k->state, when, k->changed_by, k->reason);
	return 0;
}

/*
 * `ca activate|deactivate` (pki/ca_state.h): whether the CA key may sign. These are the
 * commands the four-eyes policy ("ca.key.activate") wraps; here they act directly.
 * `ca status`: the recorded states (a CA without a row is inactive).
 */
static int cmd_key_state(const char *sub, const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	struct ca_actor who = { .actor = cli_actor(), .role = cli_role, .client = cli_client() };
	struct store_ca_key_state row;
	bool active = strcmp(sub, "activate") == 0, changed = false, found = false;
	size_t n = 0;

	if (strcmp(sub, "status") == 0) {
		printf("%-20s %-8s %-25s %-24s %s\n", "CA", "STATE", "CHANGED (UTC)", "BY",
			"REASON");
		if (store_ca_key_state_foreach(store, print_key_state, &n, err) != TW_OK)
			return cli_fail("ca status", err);
		if (ca_state_get(store, o->ca, &active, &row, &found, err) != TW_OK)
			return cli_fail("ca status", err);
		if (!found)
			printf("%-20s %-8s (never activated: issuance and CRLs are refused)\n", o->ca,
				"inactive");
		/* The second layer (M-4.5.18): is the running signer's token logged in? */
		{
			struct signer_client *sc = NULL;
			char answer[200], *sock = tw_home_path(home, "signer", "socket",
				TW_DEFAULT_SIGNER_SOCK);
			struct tw_error serr;

			if (sock != NULL && signer_client_connect(sock, &sc, &serr) == TW_OK &&
			    signer_activation(sc, "status", answer, sizeof(answer), &serr) == TW_OK)
				printf("signer: %s\n", answer);
			else
				printf("signer: not running\n");
			signer_client_close(sc);
			free(sock);
		}
		return 0;
	}
	if (o->pos != NULL)
		return cli_usage_error("ca activate/deactivate take --ca NAME, no positional argument");
	if (ca_state_set(home, store, &who, o->ca, active, o->reason, &changed, err) != TW_OK)
		return cli_fail(active ? "ca activate" : "ca deactivate", err);
	printf("torwart: CA %s is %s%s\n", o->ca, active ? "active" : "inactive",
		changed ? "" : " (already; unchanged)");
	/* Production: deactivation also logs the running signer's token out, so the key
	 * needs the custodians again (M-4.5.18). No running signer: nothing is logged in. */
	if (!active) {
		struct signer_client *sc = NULL;
		char answer[200], *sock = tw_home_path(home, "signer", "socket",
			TW_DEFAULT_SIGNER_SOCK);
		struct tw_error serr;

		if (sock != NULL && signer_client_connect(sock, &sc, &serr) == TW_OK) {
			signer_client_set_actor(sc, cli_actor(), cli_role);
			if (signer_activation(sc, "deactivate", answer, sizeof(answer), &serr) != TW_OK) {
				free(sock);
				signer_client_close(sc);
				return cli_fail("ca deactivate (the state is recorded, but the signer "
					"could not be logged out)", &serr);
			}
			printf("torwart: signer: %s\n", answer);
		}
		signer_client_close(sc);
		free(sock);
	}
	return 0;
}

/* The running signer of the home (custodian activation talks to it, never a private one). */
static tw_rc running_signer(const struct tw_home *home, struct signer_client **sc,
	struct tw_error *err)
{
	char *sock = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	tw_rc rc;

	*sc = NULL;
	if (sock == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = signer_client_connect(sock, sc, err);
	if (rc != TW_OK)
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "no signer is running at %s: shares are "
			"entered into the running signer (`torwartd --home DIR signer` or `all`)",
			sock);
	free(sock);
	if (rc == TW_OK)
		signer_client_set_actor(*sc, cli_actor(), cli_role);
	return rc;
}

/*
 * The api hands an uploaded file to the command it runs as a file in its spool
 * (HOME/spool/...). A share must not stay there even until the api cleans up: when this
 * process runs for the api and the share file lies in the home's spool, overwrite it
 * and remove it right after reading. A custodian's own file (local use) is never touched.
 */
static void wipe_spooled_share(const struct tw_home *home, const char *path)
{
	char *spool = tw_home_join(home, "spool");
	char rspool[PATH_MAX], rpath[PATH_MAX];
	size_t n;

	if (spool != NULL && cli_acting_for_api() &&
	    realpath(spool, rspool) != NULL && realpath(path, rpath) != NULL &&
	    (n = strlen(rspool)) > 0 && strncmp(rpath, rspool, n) == 0 && rpath[n] == '/') {
		FILE *f = fopen(rpath, "r+");

		if (f != NULL) {
			long len;

			if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
			    fseek(f, 0, SEEK_SET) == 0)
				for (long i = 0; i < len; i++)
					fputc(0, f);
			fflush(f);
			(void)fsync(fileno(f));
			fclose(f);
		}
		(void)unlink(rpath);
	}
	free(spool);
}

tw_rc cli_share_open(const char *key_path, unsigned char **text, size_t *len,
	char key_id[17], struct tw_error *err)
{
	EVP_PKEY *key = NULL;
	char *plain = NULL;
	size_t plen = 0;
	tw_rc rc;

	if (key_id != NULL)
		key_id[0] = '\0';
	if (!share_is_sealed(*text, *len))
		return TW_OK;
	if (key_path == NULL)
		return tw_error_set(err, TW_E_INVALID, "this share is sealed to a custodian's key: "
			"give --share-key YOUR.custodian.key (made by `torwart ca custodian-keygen`)");
	if ((rc = share_key_load(key_path, true, &key, err)) == TW_OK)
		rc = share_unseal(key, *text, *len, &plain, &plen, err);
	if (rc == TW_OK && key_id != NULL)
		rc = share_key_id(key, key_id, err);
	EVP_PKEY_free(key);
	if (rc != TW_OK)
		return rc;
	tw_wipe(*text, *len);
	free(*text);
	*text = (unsigned char *)plain;
	*len = plen;
	return TW_OK;
}

/*
 * An upload of `ca custodian-share` run for the api arrives sealed with the home's data
 * key (the api seals it before it touches the spool, context "share", bound to the spool
 * file's name); open it through the signer. Anything else is left as it is.
 */
static tw_rc open_spooled_share(const struct tw_home *home, const char *path,
	unsigned char **text, size_t *len, struct tw_error *err)
{
	struct secretbox *box = NULL;
	char aad[256], *plain = NULL;
	size_t plen = 0;
	tw_rc rc;

	if (!cli_acting_for_api() || *len == 0 ||
	    !secretbox_is_sealed((const char *)*text) ||
	    memchr(*text, '\0', *len) != NULL)
		return TW_OK;
	if ((rc = auth_command_spool_share_aad(path, aad, sizeof(aad), err)) != TW_OK)
		return rc;
	{
		/* *text is not NUL-terminated by tw_read_file's contract: make it a string. */
		char *sealed = malloc(*len + 1);

		if (sealed == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		memcpy(sealed, *text, *len);
		sealed[*len] = '\0';
		if ((rc = secretbox_open(home, &box, err)) == TW_OK)
			rc = secretbox_unseal(box, aad, sealed, &plain, &plen, err);
		free(sealed);
	}
	secretbox_free(box);
	if (rc != TW_OK)
		return rc;
	tw_wipe(*text, *len);
	free(*text);
	*text = (unsigned char *)plain;
	*len = plen;
	return TW_OK;
}

tw_rc cli_custodians_split(const struct tw_home *home, unsigned k, unsigned n,
	const char *out_dir, const char *key_list, struct tw_error *err)
{
	char *list = NULL, *save = NULL;
	const char *keys[SHARES_N_MAX + 1];
	unsigned count = 0;
	tw_rc rc;

	if (key_list == NULL) {
		fprintf(stderr, "torwart: WARNING: the share files are written in clear; give "
			"--custodian-keys to seal each to its custodian's key\n");
		return signer_custodians_split(home, k, n, out_dir, NULL, err);
	}
	if ((list = tw_strdup(key_list)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (count == SHARES_N_MAX)
			break;
		keys[count++] = t;
	}
	keys[count] = NULL;
	if (count != n)
		rc = tw_error_set(err, TW_E_INVALID, "--custodian-keys names %u keys for %u "
			"custodians: give one public key per custodian, comma-separated", count, n);
	else
		rc = signer_custodians_split(home, k, n, out_dir, keys, err);
	free(list);
	return rc;
}

/* `ca custodian-share --share FILE`: one custodian's share into the running signer. */
static int cmd_custodian_share(const struct ca_opts *o, const struct tw_home *home,
	struct tw_error *err)
{
	struct signer_client *sc = NULL;
	unsigned char *text = NULL;
	size_t len = 0;
	char answer[200], key_id[17] = "";
	int ret = 0;

	if (o->share == NULL || o->pos != NULL)
		return cli_usage_error("ca custodian-share needs --share FILE (your share file)");
	if (tw_read_file(o->share, SHARES_SEALED_MAX, &text, &len, err) == TW_OK) {
#ifdef TORWART_TEST_HOOKS
		/* Test builds: keep what the api's spool held, to show it was sealed. */
		const char *copy = getenv("TORWART_TEST_SHARE_SPOOL_COPY");

		if (copy != NULL && cli_acting_for_api())
			(void)tw_write_file(copy, text, len, 0600, false, err);
#endif
		wipe_spooled_share(home, o->share);
		/* The api's spool holds the share sealed with the data key; a custodian's own
		 * sealed file is opened with its key (--share-key) right here. */
		if (open_spooled_share(home, o->share, &text, &len, err) != TW_OK ||
		    cli_share_open(o->share_key, &text, &len, key_id, err) != TW_OK) {
			if (text != NULL)
				tw_wipe(text, len);
			free(text);
			text = NULL;
		}
	}
	if (text != NULL && running_signer(home, &sc, err) == TW_OK && key_id[0] != '\0' &&
	    !cli_acting_for_api()) {
		/*
		 * On the host (break-glass, e.g. the first activation of a home made with
		 * `init --custodians`, before any operator can be enrolled): the custodians share
		 * one OS account, so the custodian is told apart by the key that opened the
		 * sealed share; the signer takes one share per actor (k keys, k people).
		 */
		char actor[160];

		snprintf(actor, sizeof(actor), "%s/custodian-key:%s", cli_actor(), key_id);
		signer_client_set_actor(sc, actor, cli_role);
	}
	if (text == NULL || sc == NULL ||
	    signer_custodian_share(sc, text, len, answer, sizeof(answer), err) != TW_OK)
		ret = cli_fail("ca custodian-share", err);
	else
		printf("torwart: signer: %s\n", answer);
	if (text != NULL)
		tw_wipe(text, len);
	free(text);
	signer_client_close(sc);
	return ret;
}

static int cmd_custodians(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	struct signer_client *sc = NULL;
	char answer[200];
	long k = 0, n = 0;
	int ret = 0;

	if (o->pos != NULL && strcmp(o->pos, "status") == 0) {
		if (running_signer(home, &sc, err) != TW_OK ||
		    signer_activation(sc, "status", answer, sizeof(answer), err) != TW_OK)
			ret = cli_fail("ca custodians status", err);
		else
			printf("signer: %s\n", answer);
		signer_client_close(sc);
		return ret;
	}
	if (o->pos == NULL || strcmp(o->pos, "split") != 0)
		return cli_usage_error("ca custodians split|status");
	if (o->k == NULL || o->n == NULL || o->out == NULL)
		return cli_usage_error("ca custodians split needs --k K --n N --out DIR");
	if (tw_parse_long(o->k, 2, SHARES_N_MAX, &k, err, "--k") != TW_OK ||
	    tw_parse_long(o->n, 2, SHARES_N_MAX, &n, err, "--n") != TW_OK ||
	    cli_custodians_split(home, (unsigned)k, (unsigned)n, o->out, o->custodian_keys,
		err) != TW_OK)
		return cli_fail("ca custodians split", err);
	{
		char detail[160];

		/* The ceremony on record: who, k and n; never a share or PIN. */
		snprintf(detail, sizeof(detail), "token PINs split %ld of %ld; %ld share files "
			"written for the custodians; pin file removed", k, n, n);
		if (cli_audit(store, "ca.custodians.split", "token", "ok", detail, err) != TW_OK)
			return cli_fail("ca custodians split (done, but not in the admin log)", err);
	}
	printf("torwart: token PINs split %ld of %ld into %s/share-*-of-%ld.txt; the pin file "
		"is removed. Hand each file to ONE custodian and delete it here. The signer now "
		"starts inactive until %ld custodians enter their shares.\n", k, n, o->out, n, k);
	return 0;
}

static int cmd_backup(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, bool restore, struct tw_error *err)
{
	size_t files = 0;
	char detail[STORE_TEXT_MAX + 1];

	if (!restore && (o->out == NULL || o->from != NULL))
		return cli_usage_error("ca backup needs --out DIR (a new directory on the backup "
			"medium)");
	if (restore && (o->from == NULL || o->out != NULL))
		return cli_usage_error("ca restore needs --from DIR (a backup made by ca backup)");
	if (!restore && signer_token_backup(home, o->out, &files, err) != TW_OK)
		return cli_fail("ca backup", err);
	if (restore && signer_token_restore(home, o->from, &files, err) != TW_OK)
		return cli_fail("ca restore", err);
	snprintf(detail, sizeof(detail), "%s %s (%zu files)", restore ? "from" : "to",
		restore ? o->from : o->out, files);
	if (cli_audit(store, restore ? "ca.token.restore" : "ca.token.backup", "token", "ok",
	    detail, err) != TW_OK)
		return cli_fail(restore ? "ca restore (done, but not in the admin log)" :
			"ca backup (done, but not in the admin log)", err);
	if (restore)
		printf("torwart: token restored from %s (%zu files checked against the manifest); "
			"start the signer and have the custodians enter their shares\n", o->from,
			files);
	else
		printf("torwart: token backed up to %s (%zu files, MANIFEST); its keys stay "
			"encrypted under the token PIN\n", o->out, files);
	return 0;
}

/* `ca check`: S-7 validity checking for pre-personalisation phase 2 (pki/ca_check.h). */
static int cmd_check(const struct ca_opts *o, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	struct ca_check_result *res = NULL;
	size_t n = 0, valid = 0, unreadable = 0;
	int64_t at = (int64_t)time(NULL);
	int ret;

	if (o->ncerts == 0 || o->ncerts != o->nfiles)
		return cli_usage_error("ca check needs --cert FILE... (PEM or DER) and no --request");
	if ((o->at != NULL && ca_check_time_parse(o->at, &at, err) != TW_OK) ||
	    ca_check_files(home, store, ca_who(), o->ca, o->files, o->nfiles, at, &res, &n,
		err) != TW_OK)
		return cli_fail("ca check", err);
	for (size_t i = 0; i < n; i++) {
		valid += res[i].status == CA_CHECK_VALID;
		unreadable += res[i].status == CA_CHECK_UNREADABLE;
		if (res[i].status == CA_CHECK_UNREADABLE)
			printf("%s: %s: %s\n", res[i].file, ca_check_status_name(res[i].status),
				res[i].reason);
		else
			printf("%s#%zu: %s: %s: %s [%s]\n", res[i].file, res[i].index,
				res[i].serial, ca_check_status_name(res[i].status), res[i].reason,
				res[i].subject);
	}
	printf("torwart: %zu of %zu certificates valid%s\n", valid, n - unreadable,
		unreadable > 0 ? "; some inputs are no certificates" : "");
	ret = unreadable > 0 ? CLI_CA_UNREADABLE : valid < n ? CLI_CA_NOT_VALID : 0;
	free(res);
	return ret;
}

/*
 * `ca custodian-keygen --name NAME --out DIR`: run by the custodian on its own machine.
 * NAME.custodian.key (PEM, 0600) stays there; NAME.custodian.pub goes to the ceremony,
 * which seals the custodian's share to it (shares.h).
 */
static int cmd_custodian_keygen(const struct ca_opts *o)
{
	struct tw_error err;
	EVP_PKEY *key = NULL;
	char *kpath = NULL, *ppath = NULL;
	BIO *b = NULL;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->name == NULL || o->out == NULL || o->home != NULL ||
	    !signer_label_valid(o->name, strlen(o->name)))
		return cli_usage_error("ca custodian-keygen needs --name NAME (letters, digits, "
			"'.', '_', '-') --out DIR and no --home (run it on the custodian's machine)");
	if ((rc = tw_mkdir_p(o->out, 0700, &err)) != TW_OK)
		goto out;
	kpath = tw_asprintf("%s/%s.custodian.key", o->out, o->name);
	ppath = tw_asprintf("%s/%s.custodian.pub", o->out, o->name);
	if (kpath == NULL || ppath == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = share_key_generate(&key, &err)) != TW_OK ||
	    (rc = keys_write_private_pem(kpath, key, &err)) != TW_OK)
		goto out;
	if ((b = BIO_new_file(ppath, "wx")) == NULL || PEM_write_bio_PUBKEY(b, key) != 1) {
		rc = tw_error_set_openssl(&err, TW_E_IO, "cannot write %s (it must not exist)",
			ppath);
		goto out;
	}
	printf("torwart: custodian key %s (keep it, mode 0600) and %s (hand it to the key "
		"ceremony)\n", kpath, ppath);
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	free(kpath);
	free(ppath);
	return rc == TW_OK ? 0 : cli_fail("ca custodian-keygen", &err);
}

/* The sub-commands whose syntax has a positional REQUEST id, SERIAL or word. */
static bool ca_takes_positional(const char *sub)
{
	static const char *const subs[] = { "approve", "reject", "show", "export",
		"delivery-note", "revoke", "activate", "deactivate", "status", "custodians",
		"custodian-share" };

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(sub, subs[i]) == 0)
			return true;   /* each checks its own positional argument */
	return false;
}

int cli_ca(const char *sub, int argc, char **argv)
{
	struct ca_opts o;
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	size_t count = 0;
	int ret;

	tw_error_clear(&err);
	if (sub == NULL || ca_parse(argc, argv, &o) != 0) {
		if (sub != NULL)
			free(o.files);
		return cli_usage_error(ca_usage);
	}
	/* A stray word (`ca issue --request a.der b.der`) is refused, not silently dropped. */
	if (o.pos != NULL && !ca_takes_positional(sub)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "torwart ca %.32s takes no positional argument; give "
			"each file with its own option (e.g. --request FILE --request FILE)", sub);
		free(o.files);
		return cli_usage_error(msg);
	}
	if (o.request_dir != NULL && strcmp(sub, "issue") != 0) {
		free(o.files);
		return cli_usage_error("--request-dir is an option of `torwart ca issue` only");
	}
	if (strcmp(sub, "custodian-keygen") == 0) {
		ret = cmd_custodian_keygen(&o);
		free(o.files);
		return ret;
	}
	if (o.home == NULL) {
		free(o.files);
		return cli_usage_error("torwart ca needs --home DIR");
	}
	if (cli_open_home_store(o.home, &home, &store, &err) != TW_OK) {
		ret = cli_fail("ca", &err);
		goto out;
	}
	if (strcmp(sub, "register") == 0) {
		ret = cmd_register(&o, store, &err);
	} else if (strcmp(sub, "participants") == 0) {
		ret = store_ca_participant_foreach(store, print_participant, NULL, &err) == TW_OK ?
			0 : cli_fail("ca participants", &err);
	} else if (strcmp(sub, "requests") == 0) {
		printf("%-6s %-9s %-8s %-20s %-25s %s\n", "ID", "STATE", "KIND", "PARTICIPANT",
			"RECEIVED (UTC)", "SUBJECT");
		ret = store_ca_request_foreach(store, o.state, print_request, &count, &err) == TW_OK ?
			0 : cli_fail("ca requests", &err);
	} else if (strcmp(sub, "submit") == 0) {
		ret = cmd_submit(&o, home, store, &err);
	} else if (strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0) {
		ret = cmd_decide(&o, store, strcmp(sub, "approve") == 0, &err);
	} else if (strcmp(sub, "issue") == 0) {
		ret = cmd_issue(&o, home, store, &err);
	} else if (strcmp(sub, "list") == 0) {
		char issuer[STORE_TEXT_MAX + 1];

		ret = ca_issuer_name(home, o.ca, issuer, sizeof(issuer), &err) == TW_OK &&
			store_ca_cert_foreach(store, issuer, print_cert, &count, &err) == TW_OK ?
			0 : cli_fail("ca list", &err);
		if (ret == 0)
			printf("%zu certificate%s\n", count, count == 1 ? "" : "s");
	} else if (strcmp(sub, "show") == 0 || strcmp(sub, "export") == 0) {
		ret = cmd_show(&o, home, store, strcmp(sub, "export") == 0, &err);
	} else if (strcmp(sub, "revoke") == 0) {
		ret = cmd_revoke(&o, home, store, &err);
	} else if (strcmp(sub, "delivery-note") == 0) {
		ret = cmd_delivery_note(&o, home, store, &err);
	} else if (strcmp(sub, "check") == 0) {
		ret = cmd_check(&o, home, store, &err);
	} else if (strcmp(sub, "activate") == 0 || strcmp(sub, "deactivate") == 0 ||
		   strcmp(sub, "status") == 0) {
		ret = cmd_key_state(sub, &o, home, store, &err);
	} else if (strcmp(sub, "custodians") == 0) {
		ret = cmd_custodians(&o, home, store, &err);
	} else if (strcmp(sub, "custodian-share") == 0) {
		ret = cmd_custodian_share(&o, home, &err);
	} else if (strcmp(sub, "backup") == 0 || strcmp(sub, "restore") == 0) {
		ret = cmd_backup(&o, home, store, strcmp(sub, "restore") == 0, &err);
	} else if (strcmp(sub, "tls-key-import") == 0) {
		ret = cli_ca_tls_key_import(home, store, o.key, o.label);
	} else if (strcmp(sub, "crl") == 0) {
		ret = ca_crl_now(home, store, o.ca, &err) == TW_OK ? 0 : cli_fail("ca crl", &err);
	} else {
		ret = cli_usage_error(ca_usage);
	}
out:
	free(o.files);
	store_close(store);
	tw_home_free(home);
	return ret;
}
