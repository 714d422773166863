/*
 * cli_req.c: `torwart req initial|renew|show`: produce SM-PKI certificate requests in the
 * BSI wrappers (for participants and for our own tests) and check one the way the Sub-CA
 * will. Formats: docs/pki-requests.md.
 *
 * Requester keys are the participant's software keys: new ones are written 0600 and never
 * overwritten. Only the optional GWA authorisation of an SMGW request (--authorise) needs
 * a home: it goes through that home's signer (purpose "authorisation"), which audits it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pem.h>

#include "base/util.h"
#include "cmd/cli.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "pki/reqgen.h"
#include "pki/request.h"
#include "base/home.h"

#define CLI_REQ_PEM_LABEL "CERTIFICATE REQUEST MESSAGES"

struct req_options {
	struct reqgen_params p;
	const char *role;
	const char *curve;
	const char *key_dir;
	const char *key_file[PKI_USAGE_ENC + 1];
	const char *types;
	const char *current_cert;
	const char *current_key;
	const char *out;
	const char *format;
	const char *home;
	const char *gwa_cert;
	const char *gwa_label;
	int authorise;
	const char *in;       /* req authorise: the request to authorise */
	int require_auth;
};

enum {
	O_CN = 256, O_ORG, O_OU, O_COUNTRY, O_SERIAL, O_STREET, O_POSTAL, O_LOCALITY, O_STATE,
	O_EMAIL, O_URI, O_DNS, O_ROLE, O_CURVE, O_KEY_DIR, O_TLS_KEY, O_SIG_KEY, O_ENC_KEY,
	O_TYPES, O_CUR_CERT, O_CUR_KEY, O_OUT, O_FORMAT, O_HOME, O_AUTHORISE, O_GWA_CERT,
	O_GWA_LABEL, O_REQUIRE_AUTH, O_IN
};

static int req_parse_options(int argc, char **argv, struct req_options *o)
{
	static const struct option opts[] = {
		{ "cn", required_argument, NULL, O_CN },
		{ "org", required_argument, NULL, O_ORG },
		{ "ou", required_argument, NULL, O_OU },
		{ "country", required_argument, NULL, O_COUNTRY },
		{ "serial", required_argument, NULL, O_SERIAL },
		{ "street", required_argument, NULL, O_STREET },
		{ "postal-code", required_argument, NULL, O_POSTAL },
		{ "locality", required_argument, NULL, O_LOCALITY },
		{ "state", required_argument, NULL, O_STATE },
		{ "email", required_argument, NULL, O_EMAIL },
		{ "uri", required_argument, NULL, O_URI },
		{ "dns", required_argument, NULL, O_DNS },
		{ "role", required_argument, NULL, O_ROLE },
		{ "curve", required_argument, NULL, O_CURVE },
		{ "key-dir", required_argument, NULL, O_KEY_DIR },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "sig-key", required_argument, NULL, O_SIG_KEY },
		{ "enc-key", required_argument, NULL, O_ENC_KEY },
		{ "types", required_argument, NULL, O_TYPES },
		{ "current-cert", required_argument, NULL, O_CUR_CERT },
		{ "current-key", required_argument, NULL, O_CUR_KEY },
		{ "out", required_argument, NULL, O_OUT },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "home", required_argument, NULL, O_HOME },
		{ "authorise", no_argument, NULL, O_AUTHORISE },
		{ "gwa-cert", required_argument, NULL, O_GWA_CERT },
		{ "gwa-key-label", required_argument, NULL, O_GWA_LABEL },
		{ "require-authorisation", no_argument, NULL, O_REQUIRE_AUTH },
		{ "in", required_argument, NULL, O_IN },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case O_CN: o->p.subject.common_name = optarg; break;
		case O_ORG: o->p.subject.organization = optarg; break;
		case O_OU: o->p.subject.org_unit = optarg; break;
		case O_COUNTRY: o->p.subject.country = optarg; break;
		case O_SERIAL: o->p.subject.serial_number = optarg; break;
		case O_STREET: o->p.subject.street = optarg; break;
		case O_POSTAL: o->p.subject.postal_code = optarg; break;
		case O_LOCALITY: o->p.subject.locality = optarg; break;
		case O_STATE: o->p.subject.state = optarg; break;
		case O_EMAIL: o->p.subject.email = optarg; break;
		case O_URI: o->p.subject.uri = optarg; break;
		case O_DNS:
			/* Repeatable: the first is the subject's, the rest follow in order. */
			if (o->p.subject.dns_name == NULL) {
				o->p.subject.dns_name = optarg;
			} else if (o->p.n_extra_dns < REQGEN_DNS_MAX) {
				o->p.extra_dns[o->p.n_extra_dns++] = optarg;
			} else {
				fprintf(stderr, "torwart req: at most %d --dns names\n",
					REQGEN_DNS_MAX + 1);
				return -1;
			}
			break;
		case O_ROLE: o->role = optarg; break;
		case O_CURVE: o->curve = optarg; break;
		case O_KEY_DIR: o->key_dir = optarg; break;
		case O_TLS_KEY: o->key_file[PKI_USAGE_TLS] = optarg; break;
		case O_SIG_KEY: o->key_file[PKI_USAGE_SIG] = optarg; break;
		case O_ENC_KEY: o->key_file[PKI_USAGE_ENC] = optarg; break;
		case O_TYPES: o->types = optarg; break;
		case O_CUR_CERT: o->current_cert = optarg; break;
		case O_CUR_KEY: o->current_key = optarg; break;
		case O_OUT: o->out = optarg; break;
		case O_FORMAT: o->format = optarg; break;
		case O_HOME: o->home = optarg; break;
		case O_AUTHORISE: o->authorise = 1; break;
		case O_GWA_CERT: o->gwa_cert = optarg; break;
		case O_GWA_LABEL: o->gwa_label = optarg; break;
		case O_REQUIRE_AUTH: o->require_auth = 1; break;
		case O_IN: o->in = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* Which types to request: "TLS,SIG,ENC" (default all). */
static tw_rc req_types(const char *list, bool want[PKI_USAGE_ENC + 1], struct tw_error *err)
{
	char buf[32];
	size_t start = 0;
	size_t len;

	memset(want, 0, sizeof(bool) * (PKI_USAGE_ENC + 1));
	if (list == NULL) {
		want[PKI_USAGE_TLS] = want[PKI_USAGE_SIG] = want[PKI_USAGE_ENC] = true;
		return TW_OK;
	}
	len = strlen(list);
	if (len == 0 || len >= sizeof(buf))
		return tw_error_set(err, TW_E_INVALID, "--types must be a list such as TLS,SIG,ENC");
	memcpy(buf, list, len + 1);
	for (size_t i = 0; i <= len; i++) {
		if (buf[i] == ',' || buf[i] == '\0') {
			enum pki_usage u;
			tw_rc rc;

			buf[i] = '\0';
			if ((rc = pki_usage_parse(buf + start, &u, err)) != TW_OK)
				return rc;
			want[u] = true;
			start = i + 1;
		}
	}
	return TW_OK;
}

static const char *req_key_name(enum pki_usage u)
{
	return u == PKI_USAGE_TLS ? "tls" : u == PKI_USAGE_SIG ? "sig" : "enc";
}

/* Load the given key files, or generate new keys into --key-dir (0600, never replaced). */
static tw_rc req_keys(const struct req_options *o, const bool want[PKI_USAGE_ENC + 1],
	EVP_PKEY *keys[PKI_USAGE_ENC + 1], struct tw_error *err)
{
	int nid = NID_brainpoolP256r1;
	tw_rc rc = TW_OK;

	if (o->curve != NULL) {
		nid = OBJ_sn2nid(o->curve);
		if (!pki_curve_allowed(nid))
			return tw_error_set(err, TW_E_INVALID,
				"--curve must be brainpoolP256r1, brainpoolP384r1 or brainpoolP512r1");
	}
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC && rc == TW_OK; u++) {
		if (!want[u])
			continue;
		if (o->key_file[u] != NULL) {
			rc = keys_read_private_pem(o->key_file[u], &keys[u], err);
		} else if (o->key_dir != NULL) {
			char *path = tw_asprintf("%s/%s.key", o->key_dir, req_key_name(u));

			if (path == NULL)
				return tw_error_set(err, TW_E_NOMEM, "out of memory");
			if ((rc = tw_mkdir_p(o->key_dir, 0700, err)) == TW_OK &&
			    (rc = keys_generate_ec(nid, &keys[u], err)) == TW_OK)
				rc = keys_write_private_pem(path, keys[u], err);
			free(path);
		} else {
			rc = tw_error_set(err, TW_E_INVALID,
				"no %s key: give --%s-key FILE or --key-dir DIR for new keys",
				pki_usage_name(u), req_key_name(u));
		}
	}
	return rc;
}

/* The GWA authorisation through the home's signer. *out replaces *der. */
static tw_rc req_authorise(const struct req_options *o, unsigned char **der, size_t *len,
	struct tw_error *err)
{
	struct tw_home *home = NULL;
	struct signer_client *sc = NULL;
	X509 *gwa = NULL;
	char *cert_path = NULL;
	unsigned char *auth = NULL;
	size_t auth_len = 0;
	tw_rc rc;

	if ((rc = tw_home_open(o->home, &home, err)) != TW_OK)
		goto out;
	cert_path = o->gwa_cert != NULL ? tw_strdup(o->gwa_cert) :
		tw_home_join(home, TW_HOME_GWA_SIG_CERT);
	if (cert_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(cert_path, &gwa, err)) != TW_OK ||
	    (rc = signer_client_open(home, false, &sc, err)) != TW_OK)
		goto out;
	signer_client_set_actor(sc, cli_actor(), cli_role);
	rc = reqgen_authorise_signer(sc, o->gwa_label != NULL ? o->gwa_label : SIGNER_KEY_GWA_SIG,
		gwa, *der, *len, &auth, &auth_len, err);
	if (rc != TW_OK)
		goto out;
	free(*der);
	*der = auth;
	*len = auth_len;
out:
	signer_client_close(sc);
	X509_free(gwa);
	free(cert_path);
	tw_home_free(home);
	return rc;
}

/* Write der as der|base64|pem to --out (0644, refusing to overwrite) or stdout. */
static tw_rc req_write(const struct req_options *o, const unsigned char *der, size_t len,
	struct tw_error *err)
{
	const char *fmt = o->format != NULL ? o->format : "base64";
	unsigned char *text = NULL;
	size_t text_len = 0;
	tw_rc rc = TW_OK;

	if (strcmp(fmt, "der") == 0) {
		if (o->out == NULL)
			return tw_error_set(err, TW_E_INVALID, "--format der needs --out FILE");
		return tw_write_file(o->out, der, len, 0644, true, err);
	}
	if (strcmp(fmt, "base64") == 0) {
		char *b64 = NULL;

		if ((rc = reqgen_base64(der, len, &b64, err)) != TW_OK)
			return rc;
		text = (unsigned char *)b64;
		text_len = strlen(b64);
	} else if (strcmp(fmt, "pem") == 0) {
		BIO *bio = BIO_new(BIO_s_mem());
		char *data = NULL;
		long n;

		if (bio == NULL || PEM_write_bio(bio, CLI_REQ_PEM_LABEL, "", der, (long)len) <= 0 ||
		    (n = BIO_get_mem_data(bio, &data)) <= 0 || (text = malloc((size_t)n)) == NULL) {
			BIO_free(bio);
			return tw_error_set_openssl(err, TW_E_NOMEM, "cannot write PEM");
		}
		memcpy(text, data, (size_t)n);
		text_len = (size_t)n;
		BIO_free(bio);
	} else {
		return tw_error_set(err, TW_E_INVALID, "--format must be der, base64 or pem");
	}
	if (o->out != NULL)
		rc = tw_write_file(o->out, text, text_len, 0644, true, err);
	else if (fwrite(text, 1, text_len, stdout) != text_len || fflush(stdout) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot write the request to stdout");
	free(text);
	return rc;
}

static int req_generate(const struct req_options *o, bool renewal)
{
	EVP_PKEY *keys[PKI_USAGE_ENC + 1] = { NULL };
	EVP_PKEY *cur_key = NULL;
	X509 *cur_cert = NULL;
	bool want[PKI_USAGE_ENC + 1];
	struct reqgen_params p = o->p;
	enum pki_role role = PKI_ROLE_EMT;
	unsigned char *der = NULL;
	size_t len = 0;
	struct tw_error err;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->p.subject.common_name == NULL)
		return cli_usage_error("req needs --cn NAME (e.g. Company.EMT.MAK)");
	if (renewal && (o->current_cert == NULL || o->current_key == NULL))
		return cli_usage_error("req renew needs --current-cert FILE and --current-key FILE");
	if (o->authorise && o->home == NULL)
		return cli_usage_error("--authorise needs --home DIR (its signer signs)");
	if (!renewal && o->types != NULL)
		return cli_usage_error("--types is for renewals; an initial request has TLS, SIG, ENC");
	if ((rc = req_types(o->types, want, &err)) != TW_OK)
		goto out;
	if (o->role != NULL && (rc = pki_role_parse(o->role, &role, &err)) != TW_OK)
		goto out;
	if (role == PKI_ROLE_CA) {
		rc = tw_error_set(&err, TW_E_INVALID, "--role must be EMT, GWA, GWH or SMGW");
		goto out;
	}
	if (o->authorise && role != PKI_ROLE_SMGW) {
		rc = tw_error_set(&err, TW_E_INVALID,
			"only SMGW requests carry a GWA authorisation (--role SMGW)");
		goto out;
	}
	if ((rc = req_keys(o, want, keys, &err)) != TW_OK)
		goto out;
	memcpy(p.keys, keys, sizeof(p.keys));
	if (renewal) {
		if ((rc = keys_read_cert_pem(o->current_cert, &cur_cert, &err)) != TW_OK ||
		    (rc = keys_read_private_pem(o->current_key, &cur_key, &err)) != TW_OK)
			goto out;
		p.outer_cert = cur_cert;
		p.outer_key = cur_key;
	}
	if ((rc = reqgen_build(&p, false, &der, &len, &err)) != TW_OK)
		goto out;
	if (o->authorise && (rc = req_authorise(o, &der, &len, &err)) != TW_OK)
		goto out;
	rc = req_write(o, der, len, &err);
	if (rc == TW_OK && o->out != NULL)
		fprintf(stderr, "torwart: %s %s request for \"%s\" written to %s\n",
			pki_role_name(role), renewal ? "renewal" : "initial",
			o->p.subject.common_name, o->out);
out:
	for (int u = 0; u <= PKI_USAGE_ENC; u++)
		EVP_PKEY_free(keys[u]);
	EVP_PKEY_free(cur_key);
	X509_free(cur_cert);
	free(der);
	return rc == TW_OK ? 0 : cli_fail(renewal ? "req renew" : "req initial", &err);
}

/* Parse and verify like the Sub-CA (without the store); print the WSDL code. */
static int req_show(const char *path, const struct req_options *o)
{
	struct request_verify_opts vo = { .auth = o->require_auth ? REQUEST_AUTH_REQUIRED :
		REQUEST_AUTH_OPTIONAL };
	unsigned char *in = NULL;
	size_t len = 0;
	struct request *req = NULL;
	enum pki_result result = PKI_FAILURE_SYNTAX;
	struct tw_error err;
	char hex[2 * REQUEST_DIGEST_LEN + 1];
	tw_rc rc;

	tw_error_clear(&err);
	/* One byte over the limit is enough for the parser to say "too large". */
	if ((rc = tw_read_file(path, REQUEST_MAX_BYTES + 1, &in, &len, &err)) != TW_OK) {
		if (rc == TW_E_TOO_LARGE)
			printf("result: %s\n", pki_result_name(PKI_FAILURE_SYNTAX));
		return cli_fail("req show", &err);
	}
	rc = request_parse(in, len, &vo, &req, &result, &err);
	printf("result: %s\n", pki_result_name(result));
	if (rc != TW_OK) {
		free(in);
		return cli_fail("req show", &err);
	}
	tw_hex_encode(req->digest, REQUEST_DIGEST_LEN, hex);
	printf("kind: %s\ndigest: %s\n", request_kind_name(req->kind), hex);
	for (size_t i = 0; i < req->n_entries; i++) {
		const struct request_entry *e = &req->entries[i];
		char dn[256];

		X509_NAME_oneline(e->subject, dn, sizeof(dn));
		printf("entry %zu: %s %s subject=%s", i, pki_usage_name(e->usage),
			OBJ_nid2sn(e->curve_nid), dn);
		/* Every SAN name (request.c checked each is printable 7-bit text). */
		for (int k = 0; e->san != NULL && k < sk_GENERAL_NAME_num(e->san); k++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(e->san, k);
			const ASN1_IA5STRING *v = gn->type == GEN_EMAIL ? gn->d.rfc822Name :
				gn->type == GEN_URI ? gn->d.uniformResourceIdentifier :
				gn->type == GEN_DNS ? gn->d.dNSName : NULL;

			if (v != NULL)
				printf(" %s=%.*s", gn->type == GEN_EMAIL ? "email" : gn->type == GEN_URI ?
					"uri" : "dns", ASN1_STRING_length(v),
					(const char *)ASN1_STRING_get0_data(v));
		}
		printf("\n");
	}
	if (req->outer_signer != NULL) {
		char dn[256];

		X509_NAME_oneline(X509_get_subject_name(req->outer_signer), dn, sizeof(dn));
		printf("outer signature: %s (certificate status not checked here)\n", dn);
	}
	if (req->authoriser != NULL) {
		char dn[256];

		X509_NAME_oneline(X509_get_subject_name(req->authoriser), dn, sizeof(dn));
		printf("authorisation: %s (certificate status not checked here)\n", dn);
	}
	request_free(req);
	free(in);
	return 0;
}

/*
 * `torwart req authorise --in FILE [--out FILE] [--format F] [--gwa-cert C]
 * [--gwa-key-label L]`: add the GWA authorisation to an SMGW request made elsewhere (for
 * example `req initial --role SMGW` at the manufacturer). Through the api it runs as the
 * operator; with --home it is break-glass.
 */
static int req_authorise_file(const struct req_options *o)
{
	unsigned char *in = NULL, *der = NULL;
	size_t in_len = 0, len = 0;
	struct tw_error err;
	tw_rc rc;

	tw_error_clear(&err);
	if (o->in == NULL || o->home == NULL)
		return cli_usage_error("req authorise needs --in FILE and a home (through the api, "
			"or --home DIR)");
	if ((rc = tw_read_file(o->in, REQUEST_MAX_BYTES * 2 + 1024, &in, &in_len, &err)) != TW_OK ||
	    (rc = request_decode(in, in_len, &der, &len, &err)) != TW_OK)
		goto out;
	if ((rc = req_authorise(o, &der, &len, &err)) != TW_OK ||
	    (rc = req_write(o, der, len, &err)) != TW_OK)
		goto out;
	if (o->out != NULL)
		fprintf(stderr, "torwart: authorised request written to %s\n", o->out);
out:
	free(in);
	free(der);
	return rc == TW_OK ? 0 : cli_fail("req authorise", &err);
}

int cli_req(const char *sub, int argc, char **argv)
{
	struct req_options o;

	memset(&o, 0, sizeof(o));
	if (sub == NULL)
		return cli_usage_error("req needs initial, renew or show");
	if (strcmp(sub, "show") == 0) {
		/* `torwart req show FILE [--require-authorisation]` */
		const char *file = NULL;

		if (argc >= 2 && argv[1][0] != '-') {
			file = argv[1];
			argv[1] = argv[0];
			argc--;
			argv++;
		}
		if (file == NULL || req_parse_options(argc, argv, &o) != 0)
			return cli_usage_error("req show FILE [--require-authorisation]");
		return req_show(file, &o);
	}
	if (req_parse_options(argc, argv, &o) != 0)
		return cli_usage_error("unknown or misplaced option for req");
	if (strcmp(sub, "initial") == 0)
		return req_generate(&o, false);
	if (strcmp(sub, "renew") == 0)
		return req_generate(&o, true);
	if (strcmp(sub, "authorise") == 0)
		return req_authorise_file(&o);
	return cli_usage_error("req needs initial, renew, authorise or show");
}
