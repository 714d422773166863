/*
 * cli_console.c: `torwart console tls`, the web console's server certificate for homes
 * without a web PKI of their own (docs/console.md). Browsers have no brainpool curves,
 * so the console cannot use the operator CA's certificate chain for its server side:
 * this makes an ECDSA P-256 key pair for the console, written straight into the signer's
 * TLS key directory as 'console-tls' (docs/security.md "TLS keys in the signer": the
 * console listener in the api signs its handshakes through the signer), a one-time P-256 CA (HOME/pki/console-ca.crt, the anchor operators import into their
 * browsers) and the server certificate it signs (HOME/pki/console-tls.crt). The CA's key
 * is used once and discarded, so nothing else can ever be issued under that anchor.
 * An installation with its own web PKI sets [console] tls_cert / tls_key instead.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/home.h"
#include "base/util.h"
#include "cmd/cli.h"
#include "base/sandbox.h"
#include "crypto/keys.h"
#include "crypto/tls_signer_key.h"
#include "signer/signer_keys.h"

#define CC_DEFAULT_DAYS 825     /* the longest validity browsers accept for a server */

static tw_rc cc_ext(X509 *cert, X509 *issuer, int nid, const char *value,
	struct tw_error *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot add extension %s",
			OBJ_nid2sn(nid));
	}
	X509_EXTENSION_free(ext);
	return TW_OK;
}

/* A certificate for pub with subject CN=cn, signed by sign_key (issuer NULL: itself). */
static tw_rc cc_cert(EVP_PKEY *pub, const char *cn, X509 *issuer, EVP_PKEY *sign_key,
	long days, bool ca, const char *san, X509 **out, struct tw_error *err)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (x == NULL || name == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot create a certificate");
		goto out;
	}
	serial[0] &= 0x7f;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	    -1, 0) != 1 || X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) == NULL ||
	    X509_set_pubkey(x, pub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot fill in a certificate");
		goto out;
	}
	if ((rc = cc_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints, ca ?
	    "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE", err)) != TW_OK ||
	    (rc = cc_ext(x, issuer != NULL ? issuer : x, NID_key_usage, ca ?
	    "critical,keyCertSign,cRLSign" : "critical,digitalSignature", err)) != TW_OK ||
	    (rc = cc_ext(x, issuer != NULL ? issuer : x, NID_subject_key_identifier, "hash",
	    err)) != TW_OK ||
	    (!ca && (rc = cc_ext(x, issuer, NID_authority_key_identifier, "keyid:always",
	    err)) != TW_OK) ||
	    (!ca && (rc = cc_ext(x, issuer, NID_ext_key_usage, "serverAuth", err)) != TW_OK) ||
	    (san != NULL && (rc = cc_ext(x, issuer, NID_subject_alt_name, san, err)) != TW_OK))
		goto out;
	if (X509_sign(x, sign_key, EVP_sha256()) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign the certificate");
		goto out;
	}
	*out = x;
	x = NULL;
out:
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return rc;
}

static tw_rc cc_write_cert(const char *path, X509 *x, struct tw_error *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n;
	tw_rc rc;

	if (mem == NULL || PEM_write_bio_X509(mem, x) != 1 ||
	    (n = BIO_get_mem_data(mem, &pem)) <= 0) {
		BIO_free(mem);
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode a certificate");
	}
	rc = tw_write_file(path, pem, (size_t)n, 0644, false, err);
	BIO_free(mem);
	return rc;
}

/* "IP:a.b.c.d" for an address, "DNS:name" otherwise; plus localhost and 127.0.0.1. */
static char *cc_san(const char *host)
{
	bool ip = host[strspn(host, "0123456789.")] == '\0' || strchr(host, ':') != NULL;

	if (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0)
		return tw_strdup("DNS:localhost,IP:127.0.0.1");
	return tw_asprintf("%s:%s,DNS:localhost,IP:127.0.0.1", ip ? "IP" : "DNS", host);
}

/*
 * The console's key pair in the signer: a new one written into its TLS key directory (in
 * a privsep home owned by the signer's user, who alone reads it), or, when the signer
 * holds one already (keys are never replaced), that key again: *key is then the public
 * key of the current certificate crt_path. *key is the caller's.
 */
static tw_rc cc_signer_key(const struct tw_home *home, const char *crt_path, EVP_PKEY **key,
	struct tw_error *err)
{
	char *dir = tw_home_path(home, "signer", "tls_key_dir", SIGNER_TLS_KEY_DIR);
	char *path = dir != NULL ? tw_asprintf("%s/%s.key", dir, SIGNER_KEY_CONSOLE_TLS) : NULL;
	X509 *old = NULL;
	tw_rc rc;

	*key = NULL;
	if (path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (tw_path_exists(path)) {
		if ((rc = keys_read_cert_pem(crt_path, &old, err)) != TW_OK) {
			rc = tw_error_set(err, rc, "the signer holds the console key '%s' (%s) but its "
				"certificate %s cannot be read; keys in the signer are never replaced",
				SIGNER_KEY_CONSOLE_TLS, path, crt_path);
			goto out;
		}
		if ((*key = X509_get_pubkey(old)) == NULL)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no public key in %s", crt_path);
		goto out;
	}
	if ((rc = keys_generate_ec(NID_X9_62_prime256v1, key, err)) != TW_OK ||
	    (rc = signer_keys_import_tls(home, SIGNER_KEY_CONSOLE_TLS, *key, err)) != TW_OK)
		goto out;
	if (geteuid() == 0 && tw_privsep_enabled(home)) {
		const char *user = tw_privsep_user(home, TW_SANDBOX_SIGNER);
		struct passwd *pw = user != NULL ? getpwnam(user) : NULL;

		if (pw == NULL || chown(dir, pw->pw_uid, pw->pw_gid) != 0 ||
		    chown(path, pw->pw_uid, pw->pw_gid) != 0)
			rc = tw_error_set(err, TW_E_IO, "cannot give %s to the signer's user %s",
				path, user != NULL ? user : "(none)");
	}
out:
	X509_free(old);
	free(path);
	free(dir);
	return rc;
}

static int cmd_console_tls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' }, { "host", required_argument, NULL, 'h' },
		{ "days", required_argument, NULL, 'd' }, { "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_dir = NULL, *host = "localhost";
	long days = CC_DEFAULT_DAYS;
	bool force = false;
	struct tw_home *home = NULL;
	struct tw_error err;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *leaf = NULL;
	char *ca_path = NULL, *crt_path = NULL, *key_path = NULL, *san = NULL, fp[65] = "";
	int c;
	tw_rc rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'H': home_dir = optarg; break;
		case 'h': host = optarg; break;
		case 'd':
			if (tw_parse_long(optarg, 1, CC_DEFAULT_DAYS, &days, &err, "--days") != TW_OK)
				return cli_fail("console tls", &err);
			break;
		case 'f': force = true; break;
		default: return cli_usage_error("usage: torwart console tls --home DIR "
			"[--host NAME] [--days N] [--force]");
		}
	}
	if (home_dir == NULL || optind != argc)
		return cli_usage_error("usage: torwart console tls --home DIR [--host NAME] "
			"[--days N] [--force]");
	if (host[0] == '\0' || strlen(host) > 253 || host[strspn(host,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")] != '\0')
		return cli_usage_error("--host: a DNS name or an IP address");
	if ((rc = tw_home_open(home_dir, &home, &err)) != TW_OK)
		goto out;
	ca_path = tw_home_join(home, "pki/console-ca.crt");
	crt_path = tw_home_join(home, "pki/console-tls.crt");
	key_path = tw_home_join(home, "pki/console-tls.key");
	san = cc_san(host);
	if (ca_path == NULL || crt_path == NULL || key_path == NULL || san == NULL) {
		rc = tw_error_set(&err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!force && (tw_path_exists(crt_path) || tw_path_exists(key_path))) {
		rc = tw_error_set(&err, TW_E_EXISTS, "%s exists; --force replaces it (browsers "
			"then need the new %s)", crt_path, ca_path);
		goto out;
	}
	if ((rc = keys_generate_ec(NID_X9_62_prime256v1, &ca_key, &err)) != TW_OK ||
	    (rc = cc_signer_key(home, crt_path, &key, &err)) != TW_OK ||
	    (rc = cc_cert(ca_key, "Torwart console CA (one-time)", NULL, ca_key, days + 1, true,
	    NULL, &ca, &err)) != TW_OK ||
	    (rc = cc_cert(key, host, ca, ca_key, days, false, san, &leaf, &err)) != TW_OK)
		goto out;
	/* The CA key is not kept: this anchor certifies this one server certificate only. */
	EVP_PKEY_free(ca_key);
	ca_key = NULL;
	/* A key file of an older home is replaced by the signer's key. */
	if (tw_path_exists(key_path) && unlink(key_path) != 0) {
		rc = tw_error_set(&err, TW_E_IO, "cannot remove the old key file %s", key_path);
		goto out;
	}
	if ((rc = cc_write_cert(crt_path, leaf, &err)) != TW_OK ||
	    (rc = cc_write_cert(ca_path, ca, &err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(ca, fp, &err)) != TW_OK)
		goto out;
	printf("torwart: console certificate for %s (ECDSA P-256, %ld days) in %s\n"
		"torwart: import %s into the operators' browsers as a trusted authority\n"
		"torwart: (SHA-256 %s; its key is discarded); then set [console] listen\n"
		"torwart: the console's key is the signer's '%s'\n",
		host, days, crt_path, ca_path, fp, SIGNER_KEY_CONSOLE_TLS);
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(leaf);
	free(ca_path);
	free(crt_path);
	free(key_path);
	free(san);
	tw_home_free(home);
	return rc == TW_OK ? 0 : cli_fail("console tls", &err);
}

int cli_console(const char *sub, int argc, char **argv)
{
	if (sub != NULL && strcmp(sub, "tls") == 0)
		return cmd_console_tls(argc, argv);
	return cli_usage_error("usage: torwart console tls --home DIR [--host NAME] [--days N] "
		"[--force]");
}
