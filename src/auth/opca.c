/*
 * opca.c: the internal operator CA (see opca.h). Certificates are built here and signed
 * by the signer with the token key "operator-ca"; strict RFC 5280 shape (critical
 * basicConstraints and keyUsage, SKI/AKI) because the api verifies with
 * X509_V_FLAG_X509_STRICT.
 */
#include "auth/opca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls_signer_key.h"
#include "pki/crl.h"
#include "pki/profile.h"

bool auth_opca_exists(const struct tw_home *home)
{
	char *path = tw_home_join(home, AUTH_OPCA_CERT);
	bool yes = path != NULL && tw_path_exists(path);

	free(path);
	return yes;
}

static tw_rc opca_ext(X509 *x, X509 *issuer, int nid, const char *value,
	struct tw_error *err)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1) {
		X509_EXTENSION_free(ext);
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot add extension %s = %s",
			OBJ_nid2sn(nid), value);
	}
	X509_EXTENSION_free(ext);
	return TW_OK;
}

/* An unsigned certificate with subject and validity; issuer NULL for the root. */
static tw_rc opca_build(EVP_PKEY *pub, X509 *issuer, const char *cn, const char *ou,
	long days, X509 **out, struct tw_error *err)
{
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509_NAME *name = NULL;
	X509 *x = NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random serial");
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
	    (bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"DE", -1,
	     -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	     (const unsigned char *)"Torwart operators", -1, -1, 0) != 1 ||
	    (ou != NULL && X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_UTF8,
	     (const unsigned char *)ou, -1, -1, 0) != 1) ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
	     -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, pub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot build a certificate for %s", cn);
		goto out;
	}
	if ((rc = opca_ext(x, issuer, NID_subject_key_identifier, "hash", err)) != TW_OK ||
	    (rc = opca_ext(x, issuer, NID_authority_key_identifier, "keyid:always", err)) !=
	    TW_OK)
		goto out;
	*out = x;
	x = NULL;
out:
	X509_free(x);
	X509_NAME_free(name);
	BN_free(bn);
	return rc;
}

static bool inet_pton_ok(const char *host, unsigned char buf[16])
{
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static tw_rc opca_read_ca(const struct tw_home *home, X509 **ca, struct tw_error *err)
{
	char *path = tw_home_join(home, AUTH_OPCA_CERT);
	tw_rc rc;

	*ca = NULL;
	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(path))
		rc = tw_error_set(err, TW_E_CONFIG, "there is no operator CA yet (homes made "
			"before torwart init created it): `torwart operator ca-init --home %s`",
			home->dir);
	else
		rc = keys_read_cert_pem(path, ca, err);
	free(path);
	return rc;
}

tw_rc auth_opca_issue_operator(struct signer_client *sc, const struct tw_home *home,
	const char *name, const char *tenant, EVP_PKEY *pub, X509 **out, struct tw_error *err)
{
	X509 *ca = NULL, *x = NULL;
	tw_rc rc;

	*out = NULL;
	if ((rc = opca_read_ca(home, &ca, err)) != TW_OK)
		goto out;
	if ((rc = opca_build(pub, ca, name, tenant, AUTH_OPERATOR_CERT_DAYS, &x, err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE", err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_key_usage, "critical,digitalSignature", err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_ext_key_usage, "clientAuth", err)) != TW_OK)
		goto out;
	rc = signer_sign_certificate(sc, AUTH_OPCA_KEY, x, out, err);
out:
	X509_free(x);
	X509_free(ca);
	return rc;
}

/* The api's server key (in the signer, label api-tls: tls_signer_key.h) and its
 * certificate signed by the operator CA. */
static tw_rc opca_api_cert(const struct tw_home *home, struct signer_client *sc, X509 *ca,
	const char *api_host, struct tw_error *err)
{
	char *crt_path = tw_home_join(home, AUTH_API_TLS_CERT);
	char san[512];
	unsigned char ip[16];
	EVP_PKEY *key = NULL;
	X509 *x = NULL, *signed_x = NULL;
	bool is_ip;
	tw_rc rc;

	if (crt_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	is_ip = api_host != NULL && (inet_pton_ok(api_host, ip));
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1%s%s", api_host != NULL &&
		strcmp(api_host, "localhost") != 0 && strcmp(api_host, "127.0.0.1") != 0 ?
		(is_ip ? ",IP:" : ",DNS:") : "", api_host != NULL &&
		strcmp(api_host, "localhost") != 0 && strcmp(api_host, "127.0.0.1") != 0 ?
		api_host : "");
	if ((rc = signer_generate_key(sc, SIGNER_KEY_API_TLS, NID_brainpoolP256r1, &key, err)) !=
	    TW_OK ||
	    (rc = opca_build(key, ca, "torwart-api", NULL, 825, &x, err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE", err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_key_usage, "critical,digitalSignature", err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_ext_key_usage, "serverAuth", err)) != TW_OK ||
	    (rc = opca_ext(x, ca, NID_subject_alt_name, san, err)) != TW_OK ||
	    (rc = signer_sign_certificate(sc, AUTH_OPCA_KEY, x, &signed_x, err)) != TW_OK)
		goto out;
	rc = keys_write_certs_pem(crt_path, &signed_x, 1, err);
out:
	EVP_PKEY_free(key);
	X509_free(x);
	X509_free(signed_x);
	free(crt_path);
	return rc;
}

tw_rc auth_opca_create(const struct tw_home *home, struct signer_client *sc,
	const char *api_host, struct tw_error *err)
{
	EVP_PKEY *pub = NULL;
	X509 *x = NULL, *root = NULL;
	char *path = NULL;
	tw_rc rc;

	if (auth_opca_exists(home))
		return tw_error_set(err, TW_E_EXISTS, "the operator CA exists already (%s/%s; "
			"torwart init creates it)", home->dir, AUTH_OPCA_CERT);
	if ((path = tw_home_join(home, AUTH_OPCA_CERT)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = signer_generate_key(sc, AUTH_OPCA_KEY, NID_brainpoolP256r1, &pub, err)) !=
	    TW_OK)
		goto out;
	if ((rc = opca_build(pub, NULL, "Torwart Operator CA", NULL, 3650, &x, err)) != TW_OK ||
	    (rc = opca_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE,pathlen:0", err)) !=
	    TW_OK ||
	    (rc = opca_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign", err)) != TW_OK ||
	    (rc = signer_sign_certificate(sc, AUTH_OPCA_KEY, x, &root, err)) != TW_OK ||
	    (rc = keys_write_certs_pem(path, &root, 1, err)) != TW_OK)
		goto out;
	rc = opca_api_cert(home, sc, root, api_host, err);
out:
	EVP_PKEY_free(pub);
	X509_free(x);
	X509_free(root);
	free(path);
	return rc;
}

tw_rc auth_opca_init(const struct tw_home *home, const char *api_host, struct tw_error *err)
{
	struct signer_client *sc = NULL;
	tw_rc rc;

	/* Checked before the ceremony so that a second ca-init starts no signer. */
	if (auth_opca_exists(home))
		return tw_error_set(err, TW_E_EXISTS, "the operator CA exists already (%s/%s; "
			"torwart init creates it)", home->dir, AUTH_OPCA_CERT);
	/* A ceremony session: the only kind of signer session that may generate keys. */
	if ((rc = signer_client_open(home, true, &sc, err)) != TW_OK)
		goto out;
	signer_client_set_actor(sc, "break-glass:operator-ca-init", "break-glass");
	rc = auth_opca_create(home, sc, api_host, err);
out:
	signer_client_close(sc);
	return rc;
}

bool auth_opca_crl_configured(const struct tw_home *home)
{
	struct pki_ca_config *cfg = NULL;
	struct tw_error err;
	bool yes;

	/* Without [ca.operator] the defaults are the Sub-CA's key and certificate: never
	 * publish that under the operator CA's name. */
	yes = pki_ca_config_load(home->conf, AUTH_OPCA_CRL_CA, &cfg, &err) == TW_OK &&
		strcmp(cfg->key_label, AUTH_OPCA_KEY) == 0;
	pki_ca_config_free(cfg);
	return yes;
}

tw_rc auth_opca_crl_publish(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *actor, struct tw_error *err)
{
	struct signer_client *own = NULL;
	struct crl_result res;
	tw_rc rc;

	if (!auth_opca_crl_configured(home))
		return tw_error_set(err, TW_E_CONFIG, "the operator CRL is not configured: add "
			"[ca.operator] key_label = %s, cert = %s, crl_publish_path = %s to %s/torwart.conf "
			"and \"%s\" to [ca] crl_cas (docs/security.md)", AUTH_OPCA_KEY, AUTH_OPCA_CERT,
			AUTH_OPCA_CRL_PATH, home->dir, AUTH_OPCA_CRL_CA);
	if (sc == NULL) {
		if ((rc = signer_client_open(home, false, &own, err)) != TW_OK)
			goto out;
		signer_client_set_actor(own, actor, "service");
		sc = own;
	}
	rc = crl_generate(home, store, sc, AUTH_OPCA_CRL_CA, actor, &res, err);
out:
	signer_client_close(own);
	return rc;
}
