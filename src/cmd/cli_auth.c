/*
 * cli_auth.c: `torwart login|logout|operator|approval`. These commands act as an
 * operator through the api (session from `torwart login`); with --home they act
 * directly on the home as the break-glass principal, which is logged, alerted and
 * queued for an approver's review (docs/security.md). `operator ca-init` is --home only
 * and only for homes made before `torwart init` created the operator CA.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "auth/client.h"
#include "auth/command.h"
#include "auth/saml.h"
#include "auth/opca.h"
#include "auth/service.h"
#include "base/util.h"
#include "auth/command.h"
#include "cmd/cli.h"
#include "pki/ca_state.h"
#include "crypto/keys.h"
#include "crypto/secretbox.h"

struct ca_opts {
	const char *home, *api, *cert, *key, *ca, *password_file, *totp_file, *token_file;
	const char *name, *tenant, *roles, *reason, *out, *state, *id, *tls_listen;
	const char *public_key, *code_file, *curve, *saml_file;
	int totp;
};

static int ca_parse(int argc, char **argv, struct ca_opts *o)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' }, { "api", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' }, { "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'C' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "totp-secret-file", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "name", required_argument, NULL, 'n' }, { "tenant", required_argument, NULL, 'e' },
		{ "roles", required_argument, NULL, 'r' }, { "reason", required_argument, NULL, 'w' },
		{ "out", required_argument, NULL, 'o' }, { "state", required_argument, NULL, 's' },
		{ "id", required_argument, NULL, 'i' }, { "totp", no_argument, NULL, 'O' },
		{ "tls-listen", required_argument, NULL, 'L' },
		{ "public-key", required_argument, NULL, 'P' },
		{ "code-file", required_argument, NULL, 'E' },
		{ "curve", required_argument, NULL, 'V' },
		{ "saml-file", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': o->home = optarg; break;
		case 'a': o->api = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'C': o->ca = optarg; break;
		case 'p': o->password_file = optarg; break;
		case 't': o->totp_file = optarg; break;
		case 'T': o->token_file = optarg; break;
		case 'n': o->name = optarg; break;
		case 'e': o->tenant = optarg; break;
		case 'r': o->roles = optarg; break;
		case 'w': o->reason = optarg; break;
		case 'o': o->out = optarg; break;
		case 's': o->state = optarg; break;
		case 'i': o->id = optarg; break;
		case 'O': o->totp = 1; break;
		case 'L': o->tls_listen = optarg; break;
		case 'P': o->public_key = optarg; break;
		case 'E': o->code_file = optarg; break;
		case 'V': o->curve = optarg; break;
		case 'S': o->saml_file = optarg; break;
		default: return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

/* A one-line secret file (password or base32 TOTP key), trailing newline removed. */
static tw_rc ca_read_secret(const char *path, char *buf, size_t size, size_t *len,
	struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t n = 0;
	tw_rc rc;

	if ((rc = tw_read_file(path, size - 1, &data, &n, err)) != TW_OK)
		return rc;
	while (n > 0 && (data[n - 1] == '\n' || data[n - 1] == '\r'))
		n--;
	memcpy(buf, data, n);
	buf[n] = '\0';
	*len = n;
	tw_wipe(data, n);
	free(data);
	if (strlen(buf) != n)
		return tw_error_set(err, TW_E_INVALID, "%s contains a NUL byte", path);
	return TW_OK;
}

/* Print the api's error answer; exit status 1. */
static int ca_api_fail(const char *what, int status, json_t *resp)
{
	json_t *e = json_object_get(resp, "error");

	fprintf(stderr, "torwart %s: refused (%d %s): %s\n", what, status,
		json_string_value(json_object_get(e, "code")) ? json_string_value(json_object_get(e,
		"code")) : "?", json_string_value(json_object_get(e, "message")) ?
		json_string_value(json_object_get(e, "message")) : "no message");
	return 1;
}

/* Load the session (--token-file or the default). */
static tw_rc ca_session(const struct ca_opts *o, struct auth_client_conf *conf,
	struct tw_error *err)
{
	char *path = o->token_file != NULL ? tw_strdup(o->token_file) :
		auth_client_default_session_path();
	tw_rc rc;

	if (path == NULL)
		return tw_error_set(err, TW_E_CONFIG, "no session file: give --token-file or set "
			"HOME");
	rc = auth_client_load(path, conf, err);
	free(path);
	return rc;
}

/* One API call as the logged-in operator; prints failures; returns exit status. */
static int ca_call(const char *what, const struct ca_opts *o, const char *method,
	const char *path, json_t *body, json_t **resp)
{
	struct auth_client_conf conf;
	struct tw_error err;
	int status = 0;
	tw_rc rc;

	*resp = NULL;
	if ((rc = ca_session(o, &conf, &err)) == TW_OK)
		rc = auth_client_call(&conf, method, path, body, &status, resp, &err);
	tw_wipe(&conf, sizeof(conf));
	if (rc != TW_OK)
		return cli_fail(what, &err);
	if (status < 200 || status > 299) {
		int r = ca_api_fail(what, status, *resp);

		json_decref(*resp);
		*resp = NULL;
		return r;
	}
	return 0;
}

/* ---- login / logout ---- */

/*
 * Login, or with enrol the first login of an operator added through the api: the
 * one-time code (--code-file) plus the operator's own new password (--password-file), or
 * for a TOTP operator (--totp) a new TOTP key written to OUT/NAME.totp (0600).
 */
static int cmd_login(const struct ca_opts *o, bool enrol)
{
	struct auth_client_conf conf;
	struct tw_error err;
	char secret[AUTH_PASSWORD_MAX + 2], code[16], *path = NULL;
	const char *route = "/v1/login";
	size_t len = 0;
	json_t *body = NULL, *resp = NULL;
	int status = 0, ret = 1;
	tw_rc rc;

	memset(&conf, 0, sizeof(conf));
	secret[0] = '\0';
	if (enrol && (o->api == NULL || o->cert == NULL || o->key == NULL ||
	    o->code_file == NULL || (o->password_file == NULL) == (o->totp == 0) ||
	    (o->totp && o->out == NULL)))
		return cli_usage_error("operator enrol needs --api URL --cert C --key K "
			"--code-file F and one of --password-file NEW | --totp --out DIR");
	if (!enrol && (o->api == NULL || o->cert == NULL || o->key == NULL ||
	    (o->password_file != NULL) + (o->totp_file != NULL) + (o->saml_file != NULL) != 1 ||
	    (o->saml_file != NULL) != (o->tenant != NULL)))
		return cli_usage_error("login needs --api URL --cert C --key K and one of "
			"--password-file F | --totp-secret-file F | --saml-file F --tenant T");
	snprintf(conf.api, sizeof(conf.api), "%s", o->api);
	snprintf(conf.cert, sizeof(conf.cert), "%s", o->cert);
	snprintf(conf.key, sizeof(conf.key), "%s", o->key);
	if (o->ca != NULL) {
		snprintf(conf.ca, sizeof(conf.ca), "%s", o->ca);
	} else {
		/* Default: operator-ca.crt next to the certificate (operator add puts it there). */
		const char *slash = strrchr(o->cert, '/');

		snprintf(conf.ca, sizeof(conf.ca), "%.*s%soperator-ca.crt",
			slash != NULL ? (int)(slash - o->cert) : 0, o->cert, slash != NULL ? "/" : "");
	}
	if (enrol) {
		char codebuf[256];
		size_t clen = 0;

		/* The code file's first line is the code (a comment line may follow). */
		if ((rc = ca_read_secret(o->code_file, codebuf, sizeof(codebuf), &clen, &err)) !=
		    TW_OK)
			goto fail;
		codebuf[strcspn(codebuf, "\r\n")] = '\0';
		body = json_pack("{s:s}", "enrolment_code", codebuf);
		tw_wipe(codebuf, sizeof(codebuf));
		if (body != NULL && o->password_file != NULL) {
			if ((rc = ca_read_secret(o->password_file, secret, sizeof(secret), &len,
			    &err)) != TW_OK)
				goto fail;
			json_object_set_new(body, "password", json_string(secret));
		}
	} else if (o->saml_file != NULL) {
		/* A SAML assertion of the context's identity provider (docs/security.md). */
		unsigned char *xml = NULL;
		char *b64 = NULL;
		size_t xlen = 0;

		if ((rc = tw_read_file(o->saml_file, SAML_XML_MAX, &xml, &xlen, &err)) != TW_OK)
			goto fail;
		rc = auth_b64_encode(xml, xlen, &b64, &err);
		free(xml);
		if (rc != TW_OK)
			goto fail;
		body = json_pack("{s:s,s:s}", "tenant", o->tenant, "assertion", b64);
		free(b64);
		route = "/v1/login/saml";
	} else if (o->password_file != NULL) {
		if ((rc = ca_read_secret(o->password_file, secret, sizeof(secret), &len, &err)) !=
		    TW_OK)
			goto fail;
		body = json_pack("{s:s}", "password", secret);
	} else {
		int64_t dummy = 0;
		unsigned char key[AUTH_TOTP_KEY_MAX];
		size_t klen = 0;
		uint32_t v = 0;

		(void)dummy;
		if ((rc = ca_read_secret(o->totp_file, secret, sizeof(secret), &len, &err)) !=
		    TW_OK || (rc = auth_base32_decode(secret, key, sizeof(key), &klen, &err)) !=
		    TW_OK || (rc = auth_hotp(key, klen, (uint64_t)(tw_now_ms() / 1000 /
		    AUTH_TOTP_STEP_S), AUTH_TOTP_DIGITS, &v, &err)) != TW_OK) {
			tw_wipe(key, sizeof(key));
			goto fail;
		}
		tw_wipe(key, sizeof(key));
		snprintf(code, sizeof(code), "%06u", (unsigned)v);
		body = json_pack("{s:s}", "totp", code);
	}
	tw_wipe(secret, sizeof(secret));
	if (body == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = auth_client_call(&conf, "POST", route, body, &status, &resp, &err)) !=
	    TW_OK)
		goto fail;
	if (status != 200 || json_string_value(json_object_get(resp, "token")) == NULL ||
	    strlen(json_string_value(json_object_get(resp, "token"))) != AUTH_TOKEN_LEN) {
		ret = ca_api_fail("login", status, resp);
		goto out;
	}
	snprintf(conf.token, sizeof(conf.token), "%s",
		json_string_value(json_object_get(resp, "token")));
	path = o->token_file != NULL ? tw_strdup(o->token_file) :
		auth_client_default_session_path();
	if (path == NULL) {
		rc = tw_error_set(&err, TW_E_CONFIG, "give --token-file or set HOME");
		goto fail;
	}
	if ((rc = auth_client_save(path, &conf, &err)) != TW_OK)
		goto fail;
	if (enrol && o->totp) {
		const char *k = json_string_value(json_object_get(resp, "totp_key"));
		char *tk = NULL;

		if (k == NULL) {
			rc = tw_error_set(&err, TW_E_PROTOCOL, "the api sent no TOTP key");
			goto fail;
		}
		if ((rc = tw_mkdir_p(o->out, 0700, &err)) != TW_OK)
			goto fail;
		if ((tk = tw_asprintf("%s/%s.totp", o->out,
		    json_string_value(json_object_get(resp, "operator")) != NULL ?
		    json_string_value(json_object_get(resp, "operator")) : "operator")) == NULL) {
			rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
			goto fail;
		}
		rc = tw_write_file(tk, k, strlen(k), 0600, true, &err);
		if (rc == TW_OK)
			printf("torwart: your TOTP key is in %s (load it into your authenticator)\n",
				tk);
		free(tk);
		if (rc != TW_OK)
			goto fail;
	}
	if (enrol)
		printf("torwart: enrolled; your key and secret exist only on your side\n");
	printf("torwart: logged in as %s (tenant %s, roles %s); session in %s\n",
		json_string_value(json_object_get(resp, "operator")),
		json_string_value(json_object_get(resp, "tenant")),
		json_string_value(json_object_get(resp, "roles")), path);
	ret = 0;
	goto out;
fail:
	ret = cli_fail(enrol ? "operator enrol" : "login", &err);
out:
	tw_wipe(secret, sizeof(secret));
	tw_wipe(&conf, sizeof(conf));
	json_decref(body);
	json_decref(resp);
	free(path);
	return ret;
}

int cli_login(const char *sub, int argc, char **argv)
{
	struct ca_opts o;

	if (sub != NULL || ca_parse(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart login --api URL --cert C --key K [--ca F] "
			"(--password-file F | --totp-secret-file F | --saml-file F --tenant T) "
			"[--token-file F]");
	return cmd_login(&o, false);
}

int cli_logout(const char *sub, int argc, char **argv)
{
	struct ca_opts o;
	json_t *resp = NULL;
	int ret;

	if (sub != NULL || ca_parse(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart logout [--token-file F]");
	ret = ca_call("logout", &o, "POST", "/v1/logout", NULL, &resp);
	if (ret == 0)
		printf("torwart: logged out\n");
	json_decref(resp);
	return ret;
}

/* ---- break-glass (--home) ---- */

struct ca_local {
	struct tw_home *home;
	struct tw_store *store;
	struct auth_settings settings;
	struct auth_principal p;
};

static tw_rc ca_local_open(const char *dir, const char *command, struct ca_local *l,
	struct tw_error *err)
{
	tw_rc rc;

	memset(l, 0, sizeof(*l));
	if ((rc = cli_open_home_store(dir, &l->home, &l->store, err)) != TW_OK)
		return rc;
	if ((rc = auth_settings_load(l->home->conf, &l->settings, err)) != TW_OK)
		return rc;
	auth_actions_register_builtin();
	auth_principal_break_glass(&l->p, cli_actor(), cli_client());
	auth_break_glass_record(l->store, &l->settings, &l->p, command);
	return TW_OK;
}

static void ca_local_close(struct ca_local *l)
{
	store_close(l->store);
	tw_home_free(l->home);
}

struct ca_issue {
	struct tw_home *home;
	const char *actor;
};

static tw_rc ca_issue_local(void *arg, const char *name, const char *tenant, EVP_PKEY *pub,
	X509 **out, struct tw_error *err)
{
	struct ca_issue *is = arg;
	struct signer_client *sc = NULL;
	tw_rc rc;

	if ((rc = signer_client_open(is->home, false, &sc, err)) != TW_OK)
		return rc;
	signer_client_set_actor(sc, is->actor, AUTH_BREAK_GLASS_ROLE);
	rc = auth_opca_issue_operator(sc, is->home, name, tenant, pub, out, err);
	signer_client_close(sc);
	return rc;
}

static int print_operator(const struct store_operator *op, void *arg)
{
	char roles[256];

	(void)arg;
	auth_roles_format(op->roles, roles, sizeof(roles));
	printf("%-20s %-12s %-9s %-8s %s\n", op->name, op->tenant, op->status, op->factor, roles);
	return 0;
}

/* ---- operator ---- */

/*
 * For homes made before `torwart init` created the operator CA. A home that has one
 * (every home of today's init) is refused with TW_E_EXISTS before any signer starts.
 */
static int cmd_ca_init(const struct ca_opts *o)
{
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	char *host = NULL;
	uint16_t port = 0;
	tw_rc rc;

	if (o->home == NULL)
		return cli_usage_error("operator ca-init needs --home DIR");
	if ((rc = cli_open_home_store(o->home, &home, &store, &err)) != TW_OK)
		goto out;
	if (o->tls_listen != NULL &&
	    (rc = tw_parse_hostport(o->tls_listen, &host, &port, &err)) != TW_OK)
		goto out;
	if ((rc = auth_opca_init(home, host != NULL ? host : "localhost", &err)) != TW_OK ||
	    (rc = ca_state_activate_created(store, cli_actor(), AUTH_OPCA_CRL_CA,
		"activated at creation: operator CA created by `torwart operator ca-init`",
		&err)) != TW_OK)
		goto out;
	printf("torwart: operator CA created (%s/%s, key \"%s\" in the token); api TLS "
		"certificate in %s/%s\n", home->dir, AUTH_OPCA_CERT, AUTH_OPCA_KEY, home->dir,
		AUTH_API_TLS_CERT);
	if (o->tls_listen != NULL &&
	    tw_config_get(home->conf, "api", "tls_listen") == NULL)
		printf("torwart: now set tls_listen = %s in the [api] section of torwart.conf\n",
			o->tls_listen);
	if (auth_opca_crl_configured(home)) {
		if ((rc = auth_opca_crl_publish(home, store, NULL, cli_actor(), &err)) != TW_OK)
			goto out;
		printf("torwart: operator CRL published (/crl/%s.crl)\n", AUTH_OPCA_CRL_CA);
	} else {
		printf("torwart: for the operator CRL add to torwart.conf: \"%s\" to [ca] crl_cas, "
			"and a section [ca.%s] with key_label = %s, cert = %s, crl_publish_path = %s; "
			"the next disable (or the worker) publishes it\n", AUTH_OPCA_CRL_CA,
			AUTH_OPCA_CRL_CA, AUTH_OPCA_KEY, AUTH_OPCA_CERT, AUTH_OPCA_CRL_PATH);
	}
out:
	free(host);
	store_close(store);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("operator ca-init", &err);
}

/*
 * --curve: brainpoolP256r1 (default, the SM-PKI curve of the CLI's certificates) or
 * P-256 for a browser (the web console: browsers have no brainpool; docs/console.md).
 */
static tw_rc ca_curve(const char *curve, int *nid, struct tw_error *err)
{
	if (curve == NULL || strcmp(curve, "brainpoolP256r1") == 0)
		*nid = NID_brainpoolP256r1;
	else if (strcmp(curve, "P-256") == 0 || strcmp(curve, "prime256v1") == 0)
		*nid = NID_X9_62_prime256v1;
	else
		return tw_error_set(err, TW_E_INVALID, "--curve %s: use brainpoolP256r1 (default) "
			"or P-256 (for the web console in a browser)", curve);
	return TW_OK;
}

/* Generate the operator's key in OUT/NAME.key; returns its public half. */
static tw_rc ca_new_key(const char *out, const char *name, const char *curve,
	EVP_PKEY **key, struct tw_error *err)
{
	char *path = NULL;
	int nid = 0;
	tw_rc rc;

	*key = NULL;
	if ((rc = ca_curve(curve, &nid, err)) != TW_OK)
		return rc;
	if (!auth_operator_name_valid(name))
		return tw_error_set(err, TW_E_INVALID, "operator names are 1-64 characters of "
			"A-Z a-z 0-9 . _ -");
	if ((rc = tw_mkdir_p(out, 0700, err)) != TW_OK)
		return rc;
	if ((path = tw_asprintf("%s/%s.key", out, name)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = keys_generate_ec(nid, key, err)) == TW_OK)
		rc = keys_write_private_pem(path, *key, err);
	free(path);
	return rc;
}

static tw_rc ca_write_out(const char *out, const char *name, const char *cert_pem,
	const char *ca_src, const char *totp, struct tw_error *err)
{
	char *crt = tw_asprintf("%s/%s.crt", out, name), *ca = tw_asprintf("%s/operator-ca.crt",
		out), *tk = tw_asprintf("%s/%s.totp", out, name);
	unsigned char *data = NULL;
	size_t len = 0;
	tw_rc rc;

	if (crt == NULL || ca == NULL || tk == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_write_file(crt, cert_pem, strlen(cert_pem), 0644, false, err)) != TW_OK)
		goto out;
	if (ca_src != NULL && (rc = tw_read_file(ca_src, 64 * 1024, &data, &len, err)) == TW_OK)
		rc = tw_write_file(ca, data, len, 0644, false, err);
	if (rc == TW_OK && totp != NULL && totp[0] != '\0')
		rc = tw_write_file(tk, totp, strlen(totp), 0600, true, err);
out:
	free(data);
	free(crt);
	free(ca);
	free(tk);
	return rc;
}

/*
 * The new operator's public key as PEM (malloc'ed into *pem): from a PEM public key
 * (`torwart operator keygen`) or a PKCS#10 request, whose self-signature is checked.
 */
static tw_rc ca_read_public_key(const char *path, char **pem, struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *in = NULL, *mem = NULL;
	EVP_PKEY *pub = NULL;
	X509_REQ *req = NULL;
	char *text = NULL;
	tw_rc rc;

	*pem = NULL;
	if ((rc = tw_read_file(path, 64 * 1024, &data, &len, err)) != TW_OK)
		return rc;
	if ((in = BIO_new_mem_buf(data, (int)len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (strstr((const char *)data, "CERTIFICATE REQUEST") != NULL) {
		if ((req = PEM_read_bio_X509_REQ(in, NULL, NULL, NULL)) == NULL ||
		    (pub = X509_REQ_get_pubkey(req)) == NULL || X509_REQ_verify(req, pub) != 1) {
			rc = tw_error_set_openssl(err, TW_E_INVALID, "%s is no valid, self-signed "
				"certificate request", path);
			goto out;
		}
	} else if ((pub = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "%s is no PEM public key or "
			"certificate request (the new operator makes it: torwart operator keygen)", path);
		goto out;
	}
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(mem, pub) != 1 ||
	    BIO_write(mem, "", 1) != 1 || BIO_get_mem_data(mem, &text) <= 0 ||
	    (*pem = tw_strdup(text)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "cannot encode the public key");
out:
	X509_REQ_free(req);
	EVP_PKEY_free(pub);
	BIO_free(in);
	BIO_free(mem);
	free(data);
	return rc;
}

/*
 * `operator keygen`: run by the NEW operator on its own machine. The private key never
 * leaves OUT (0600); OUT/NAME.pub goes to the account's creator.
 */
static int cmd_operator_keygen(const struct ca_opts *o)
{
	struct tw_error err;
	EVP_PKEY *key = NULL;
	BIO *mem = NULL;
	char *pem = NULL, *path = NULL, fp[65] = "";
	tw_rc rc;

	if (o->name == NULL || o->out == NULL || o->home != NULL)
		return cli_usage_error("operator keygen needs --name N --out DIR (on the new "
			"operator's own machine, no --home)");
	if ((rc = ca_new_key(o->out, o->name, o->curve, &key, &err)) != TW_OK)
		goto out;
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(mem, key) != 1 ||
	    BIO_write(mem, "", 1) != 1 || BIO_get_mem_data(mem, &pem) <= 0 ||
	    (path = tw_asprintf("%s/%s.pub", o->out, o->name)) == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "cannot encode the public key");
		goto out;
	}
	if ((rc = tw_write_file(path, pem, strlen(pem), 0644, false, &err)) != TW_OK)
		goto out;
	{
		unsigned char *der = NULL, md[32];
		int n = i2d_PUBKEY(key, &der);

		if (n > 0 && EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL) == 1)
			for (int i = 0; i < 32; i++)
				snprintf(fp + 2 * i, 3, "%02x", md[i]);
		OPENSSL_free(der);
	}
	printf("torwart: your key is in %s/%s.key (keep it, it never leaves this machine); "
		"give %s to the administrator who adds your account\n"
		"torwart: public key SHA-256 %s\n", o->out, o->name, path, fp);
out:
	free(path);
	BIO_free(mem);
	EVP_PKEY_free(key);
	return rc == TW_OK ? 0 : cli_fail("operator keygen", &err);
}

/*
 * `operator add` through the api: the creator sends the new operator's PUBLIC key (from
 * `operator keygen` on the operator's side) and gets back the certificate and a ticket;
 * the one-time enrolment code goes to the second channel, not to the creator, and the
 * operator chooses its own secret at `operator enrol` (docs/security.md, "Enrolment").
 */
static int cmd_operator_add_api(const struct ca_opts *o)
{
	struct tw_error err;
	struct auth_client_conf conf;
	char *pem = NULL;
	json_t *body = NULL, *resp = NULL;
	int ret = 1;
	tw_rc rc;

	memset(&conf, 0, sizeof(conf));
	if (o->name == NULL || o->public_key == NULL)
		return cli_usage_error("operator add needs --name N --public-key FILE (the new "
			"operator's public key or CSR: torwart operator keygen on its side) [--totp] "
			"[--roles R --reason W] [--out DIR]");
	if (o->password_file != NULL)
		return cli_usage_error("operator add through the api takes no password: the new "
			"operator chooses it at enrolment (torwart operator enrol)");
	if ((rc = ca_read_public_key(o->public_key, &pem, &err)) != TW_OK)
		return cli_fail("operator add", &err);
	body = json_pack("{s:s,s:s,s:s}", "name", o->name, "factor", o->totp ? "totp" :
		"password", "public_key", pem);
	if (body != NULL && o->roles != NULL)
		json_object_set_new(body, "roles", json_string(o->roles));
	if (body != NULL && o->reason != NULL)
		json_object_set_new(body, "reason", json_string(o->reason));
	if (body != NULL && o->tenant != NULL)
		json_object_set_new(body, "tenant", json_string(o->tenant));
	if ((ret = ca_call("operator add", o, "POST", "/v1/operators", body, &resp)) != 0)
		goto out;
	if (o->out != NULL) {
		const char *crt = json_string_value(json_object_get(resp, "certificate"));

		if ((rc = ca_session(o, &conf, &err)) != TW_OK ||
		    (rc = tw_mkdir_p(o->out, 0700, &err)) != TW_OK ||
		    (rc = ca_write_out(o->out, o->name, crt != NULL ? crt : "", conf.ca, NULL,
		     &err)) != TW_OK) {
			ret = cli_fail("operator add", &err);
			goto out;
		}
	}
	printf("torwart: operator %s added, enrolment pending%s%s\n", o->name,
		o->out != NULL ? "; certificate in " : "", o->out != NULL ? o->out : "");
	if (json_integer_value(json_object_get(resp, "approval")) > 0)
		printf("torwart: role request is approval %lld (pending)\n",
			(long long)json_integer_value(json_object_get(resp, "approval")));
	printf("torwart: %s\n", json_string_value(json_object_get(resp, "message")) != NULL ?
		json_string_value(json_object_get(resp, "message")) : "");
out:
	tw_wipe(&conf, sizeof(conf));
	json_decref(body);
	json_decref(resp);
	free(pem);
	return ret;
}

static int cmd_operator_add(const struct ca_opts *o)
{
	struct tw_error err;
	char password[AUTH_PASSWORD_MAX + 2] = "", *pem = NULL;
	size_t plen = 0;
	EVP_PKEY *key = NULL;
	BIO *mem = NULL;
	int ret = 1;
	tw_rc rc;

	if (o->home == NULL)
		return cmd_operator_add_api(o);
	if (o->name == NULL || o->out == NULL || (o->password_file == NULL) == (o->totp == 0))
		return cli_usage_error("operator add --home (break-glass bootstrap) needs --name N "
			"--out DIR and one of --password-file F | --totp");
	if (o->password_file != NULL &&
	    (rc = ca_read_secret(o->password_file, password, sizeof(password), &plen, &err)) !=
	    TW_OK)
		goto fail;
	if ((rc = ca_new_key(o->out, o->name, o->curve, &key, &err)) != TW_OK)
		goto fail;
	if (o->home != NULL) {
		struct ca_local l;
		struct auth_operator_new in;
		struct auth_operator_added added;
		struct ca_issue is;
		struct secretbox *box = NULL;
		char *ca_path = NULL;

		memset(&in, 0, sizeof(in));
		memset(&added, 0, sizeof(added));
		if ((rc = ca_local_open(o->home, "operator add", &l, &err)) == TW_OK &&
		    (rc = auth_roles_parse(o->roles, &in.roles, &err)) == TW_OK &&
		    (!o->totp || (rc = secretbox_open(l.home, &box, &err)) == TW_OK)) {
			is.home = l.home;
			is.actor = l.p.name;
			in.name = o->name;
			in.tenant = o->tenant;
			in.factor = o->totp ? "totp" : "password";
			in.password = o->totp ? NULL : password;
			in.password_len = plen;
			in.public_key = key;
			in.reason = o->reason != NULL ? o->reason : "break-glass bootstrap";
			in.issue = ca_issue_local;
			in.issue_arg = &is;
			in.box = box;
			rc = auth_svc_operator_add(l.store, &l.settings, &l.p, &in, &added, &err);
		}
		secretbox_free(box);
		if (rc == TW_OK && ((mem = BIO_new(BIO_s_mem())) == NULL ||
		    PEM_write_bio_X509(mem, added.cert) != 1 || BIO_write(mem, "", 1) != 1 ||
		    BIO_get_mem_data(mem, &pem) <= 0))
			rc = tw_error_set(&err, TW_E_NOMEM, "cannot encode the certificate");
		if (rc == TW_OK && (ca_path = tw_home_join(l.home, AUTH_OPCA_CERT)) != NULL)
			rc = ca_write_out(o->out, o->name, pem, ca_path, added.totp_key, &err);
		free(ca_path);
		tw_wipe(added.totp_key, sizeof(added.totp_key));
		X509_free(added.cert);
		ca_local_close(&l);
		if (rc != TW_OK)
			goto fail;
	}
	printf("torwart: operator %s added; key and certificate in %s\n", o->name, o->out);
	ret = 0;
	goto out;
fail:
	ret = cli_fail("operator add", &err);
out:
	tw_wipe(password, sizeof(password));
	BIO_free(mem);
	EVP_PKEY_free(key);
	return ret;
}

static int cmd_operator_list(const struct ca_opts *o)
{
	json_t *resp = NULL, *v;
	size_t i;
	int ret;

	if (o->home != NULL) {
		struct ca_local l;
		struct tw_error err;
		tw_rc rc = ca_local_open(o->home, "operator list", &l, &err);

		if (rc == TW_OK)
			rc = auth_svc_operator_list(l.store, &l.p, print_operator, NULL, &err);
		ca_local_close(&l);
		return rc == TW_OK ? 0 : cli_fail("operator list", &err);
	}
	if ((ret = ca_call("operator list", o, "GET", "/v1/operators", NULL, &resp)) != 0)
		return ret;
	json_array_foreach(json_object_get(resp, "operators"), i, v) {
		printf("%-20s %-12s %-9s %-8s %s\n", json_string_value(json_object_get(v, "name")),
			json_string_value(json_object_get(v, "tenant")),
			json_string_value(json_object_get(v, "status")),
			json_string_value(json_object_get(v, "factor")),
			json_string_value(json_object_get(v, "roles")));
	}
	json_decref(resp);
	return 0;
}

static int cmd_operator_change(const struct ca_opts *o, bool roles)
{
	const char *what = roles ? "operator role" : "operator disable";
	char path[STORE_ID_MAX + 32];
	json_t *body, *resp = NULL;
	int ret;

	if (o->name == NULL || (roles && (o->roles == NULL || o->reason == NULL)))
		return cli_usage_error(roles ? "operator role needs --name N --roles R --reason W" :
			"operator disable needs --name N");
	if (o->home != NULL) {
		struct ca_local l;
		struct tw_error err;
		uint32_t r = 0;
		int64_t id = 0;
		tw_rc rc = ca_local_open(o->home, what, &l, &err);

		if (rc == TW_OK && roles && (rc = auth_roles_parse(o->roles, &r, &err)) == TW_OK)
			rc = auth_svc_operator_role(l.store, &l.settings, &l.p, o->name, r, o->reason,
				&id, &err);
		else if (rc == TW_OK && !roles &&
		    (rc = auth_svc_operator_disable(l.store, &l.p, o->name, o->reason, &err)) ==
		    TW_OK) {
			struct tw_error cerr;

			/* The disable stands; a CRL that cannot be published now is the worker's
			 * next job (the CRL is marked dirty), so this only warns. */
			if (auth_opca_crl_publish(l.home, l.store, NULL, l.p.name, &cerr) != TW_OK)
				fprintf(stderr, "torwart: warning: operator CRL not republished: %s\n",
					cerr.message);
		}
		ca_local_close(&l);
		if (rc == TW_OK)
			printf("torwart: %s %s: done (break-glass)\n", what, o->name);
		return rc == TW_OK ? 0 : cli_fail(what, &err);
	}
	if (!auth_operator_name_valid(o->name))
		return cli_usage_error("not a valid operator name");
	snprintf(path, sizeof(path), "/v1/operators/%s/%s", o->name, roles ? "roles" : "disable");
	body = roles ? json_pack("{s:s,s:s}", "roles", o->roles, "reason", o->reason) :
		json_pack("{s:s}", "reason", o->reason != NULL ? o->reason : "");
	ret = ca_call(what, o, "POST", path, body, &resp);
	json_decref(body);
	if (ret == 0 && roles)
		printf("torwart: role change for %s is approval %lld (%s)\n", o->name,
			(long long)json_integer_value(json_object_get(resp, "approval")),
			json_string_value(json_object_get(resp, "status")));
	else if (ret == 0)
		printf("torwart: operator %s disabled\n", o->name);
	json_decref(resp);
	return ret;
}

/*
 * `operator p12`: the operator's certificate and key as PKCS#12 for a browser's
 * certificate store (the web console, docs/console.md). Runs on the operator's own
 * machine like keygen; the file is protected with the password of --password-file
 * (AES-256-CBC and PBKDF2, OpenSSL 3's defaults) and written 0600.
 */
static int cmd_operator_p12(const struct ca_opts *o)
{
	char password[AUTH_PASSWORD_MAX + 2] = "";
	size_t plen = 0;
	struct tw_error err;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	PKCS12 *p12 = NULL;
	BIO *bio = NULL;
	unsigned char *der = NULL;
	int n = 0;
	tw_rc rc;

	if (o->cert == NULL || o->key == NULL || o->out == NULL || o->password_file == NULL ||
	    o->home != NULL)
		return cli_usage_error("operator p12 needs --cert C --key K --out FILE.p12 "
			"--password-file F (on the operator's own machine, no --home)");
	if ((rc = ca_read_secret(o->password_file, password, sizeof(password), &plen, &err)) !=
	    TW_OK)
		goto out;
	if ((bio = BIO_new_file(o->cert, "r")) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(&err, TW_E_INVALID, "%s is no PEM certificate", o->cert);
		goto out;
	}
	BIO_free(bio);
	if ((bio = BIO_new_file(o->key, "r")) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(&err, TW_E_INVALID, "%s is no PEM private key", o->key);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		rc = tw_error_set(&err, TW_E_INVALID, "the key %s does not belong to %s", o->key,
			o->cert);
		goto out;
	}
	{
		char group[64] = "";
		size_t gl = 0;

		if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &gl) == 1 &&
		    strcmp(group, "prime256v1") != 0 && strcmp(group, "secp384r1") != 0)
			fprintf(stderr, "torwart: warning: the key is on %s; browsers need P-256 "
				"(torwart operator keygen --curve P-256)\n", group);
	}
	/* Only the operator's own certificate: browsers need no chain for client auth. */
	if ((p12 = PKCS12_create(password, o->name != NULL ? o->name : "torwart operator", key,
	    cert, NULL, 0, 0, 0, 0, 0)) == NULL || (n = i2d_PKCS12(p12, &der)) <= 0) {
		rc = tw_error_set_openssl(&err, TW_E_CRYPTO, "cannot make the PKCS#12 file");
		goto out;
	}
	if ((rc = tw_write_file(o->out, der, (size_t)n, 0600, true, &err)) != TW_OK)
		goto out;
	printf("torwart: %s written (certificate and key, password-protected); import it "
		"into the browser's certificate store (docs/console.md)\n", o->out);
out:
	tw_wipe(password, sizeof(password));
	OPENSSL_free(der);
	PKCS12_free(p12);
	BIO_free(bio);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc == TW_OK ? 0 : cli_fail("operator p12", &err);
}

int cli_operator(const char *sub, int argc, char **argv)
{
	struct ca_opts o;

	if (sub == NULL || ca_parse(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart operator ca-init|keygen|add|enrol|list|"
			"disable|role|p12");
	if (strcmp(sub, "ca-init") == 0)
		return cmd_ca_init(&o);
	if (strcmp(sub, "add") == 0)
		return cmd_operator_add(&o);
	if (strcmp(sub, "keygen") == 0)
		return cmd_operator_keygen(&o);
	if (strcmp(sub, "p12") == 0)
		return cmd_operator_p12(&o);
	if (strcmp(sub, "enrol") == 0)
		return cmd_login(&o, true);
	if (strcmp(sub, "list") == 0)
		return cmd_operator_list(&o);
	if (strcmp(sub, "disable") == 0)
		return cmd_operator_change(&o, false);
	if (strcmp(sub, "role") == 0)
		return cmd_operator_change(&o, true);
	return cli_usage_error("unknown operator command; use ca-init, keygen, add, enrol, list, "
		"disable, role, p12");
}

/* ---- approval ---- */

/* A field of an approval for the terminal, whole and escaped (issue 9: a reason or a
 * parameter can neither hide nor forge a line of the approver's view); "-" if absent. */
static char *approval_field(json_t *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a, key));
	size_t size = v != NULL ? strlen(v) * 10 + 1 : 2;   /* \u{NNNN} per 3-byte char */
	char *out = malloc(size);

	if (out != NULL)
		auth_text_escape(v != NULL ? v : "-", out, size);
	return out;
}

static void print_approval_json(json_t *a, bool full)
{
	static const char *const keys[] = { "action", "state", "requester", "reason",
		"params", "decided_by", "decision_reason", "result" };
	json_t *cmd = json_object_get(a, "command");
	char *f[8];

	/* A released command answers {"approval": {...}, "command": {exit, stdout, ...}}. */
	if (json_is_object(json_object_get(a, "approval")))
		a = json_object_get(a, "approval");
	for (size_t i = 0; i < 8; i++)
		f[i] = approval_field(a, keys[i]);
	printf("%-6lld %-16s %-10s %-16s %s\n", (long long)json_integer_value(json_object_get(a,
		"id")), f[0] ? f[0] : "?", f[1] ? f[1] : "?", f[2] ? f[2] : "?", f[3] ? f[3] : "?");
	if (full)
		printf("  params: %s\n  decided by: %s\n  decision: %s\n  result: %s\n",
			f[4] ? f[4] : "?", f[5] ? f[5] : "?", f[6] ? f[6] : "?", f[7] ? f[7] : "?");
	for (size_t i = 0; i < 8; i++)
		free(f[i]);
	if (full && json_is_object(cmd)) {
		static const char *const streams[] = { "stdout", "stderr" };

		printf("  command exit: %lld\n", (long long)json_integer_value(json_object_get(cmd,
			"exit")));
		for (size_t i = 0; i < 2; i++) {
			const char *b64 = json_string_value(json_object_get(cmd, streams[i]));
			unsigned char *data = NULL;
			size_t len = 0;
			struct tw_error err;

			if (b64 != NULL && b64[0] != '\0' &&
			    auth_b64_decode(b64, strlen(b64), &data, &len, &err) == TW_OK && len > 0)
				fwrite(data, 1, len, i == 0 ? stdout : stderr);
			free(data);
		}
	}
}

int cli_approval(const char *sub, int argc, char **argv)
{
	struct ca_opts o;
	char path[128];
	json_t *resp = NULL, *body = NULL, *v;
	long id = 0;
	size_t i;
	int ret;

	if (sub == NULL || ca_parse(argc, argv, &o) != 0)
		return cli_usage_error("usage: torwart approval list [--state S] | show|approve|"
			"reject --id N [--reason W]");
	if (o.home != NULL)
		return cli_usage_error("approvals are decided by a logged-in approver through the "
			"api, never with --home (break-glass cannot release four-eyes requests)");
	if (strcmp(sub, "list") == 0) {
		if (o.state != NULL && strspn(o.state, "abcdefghijklmnopqrstuvwxyz") !=
		    strlen(o.state))
			return cli_usage_error("--state is pending, executed, rejected, expired or failed");
		snprintf(path, sizeof(path), "/v1/approvals%s%.20s", o.state != NULL ? "?state=" :
			"", o.state != NULL ? o.state : "");
		if ((ret = ca_call("approval list", &o, "GET", path, NULL, &resp)) != 0)
			return ret;
		json_array_foreach(json_object_get(resp, "approvals"), i, v)
			print_approval_json(v, false);
		json_decref(resp);
		return 0;
	}
	if (o.id == NULL || tw_parse_long(o.id, 1, 0x7fffffffL, &id, NULL, "id") != TW_OK)
		return cli_usage_error("approval show|approve|reject needs --id N");
	if (strcmp(sub, "show") == 0) {
		snprintf(path, sizeof(path), "/v1/approvals/%ld", id);
		ret = ca_call("approval show", &o, "GET", path, NULL, &resp);
	} else if (strcmp(sub, "approve") == 0 || strcmp(sub, "reject") == 0) {
		if (strcmp(sub, "reject") == 0 && o.reason == NULL)
			return cli_usage_error("approval reject needs --reason W");
		snprintf(path, sizeof(path), "/v1/approvals/%ld/%s", id, sub);
		body = json_pack("{s:s}", "reason", o.reason != NULL ? o.reason : "");
		ret = ca_call(strcmp(sub, "approve") == 0 ? "approval approve" : "approval reject",
			&o, "POST", path, body, &resp);
	} else {
		return cli_usage_error("unknown approval command; use list, show, approve, reject");
	}
	if (ret == 0) {
		json_t *cmd = json_object_get(resp, "command");
		json_int_t code = json_integer_value(json_object_get(cmd, "exit"));

		print_approval_json(resp, true);
		/* A released command that failed or was refused fails this command too. */
		if (json_is_object(cmd) && code != 0)
			ret = code > 0 && code < 256 ? (int)code : 1;
	}
	json_decref(body);
	json_decref(resp);
	return ret;
}
