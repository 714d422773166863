/*
 * testpki.c: the self-contained test SM-PKI of `torwart init --test-pki`.
 *
 * Root-CA (brainpoolP384r1, 8 years) -> Sub-CA (brainpoolP256r1, 5 years) -> the GWA's
 * TLS, SIG and ENC certificates (brainpoolP256r1, 2 years, shaped like the real SM-PKI
 * certificates by profile.c). All their keys, the GWA's TLS key too (label gwa-tls, used
 * through tls_signer_key.h), are generated inside the token by the signer (ceremony
 * session); no private key is written to a file.
 *
 * Each certificate is written to pki/<label>.crt as soon as it is issued, because the
 * signer may read pki/<issuer label>.crt to check the issuer name of what it signs.
 * All certificates are recorded in the store in one transaction at the end.
 *
 * Configuration ([pki], all optional): crl_url (the Sub-CA's CRL, carried by the GWA
 * certificates; default [ca.sub-ca] crl_url, else the api's /crl/sub-ca.crl, see
 * profile.h), root_crl_url (the Root's CRL, carried by the Sub-CA certificate; default:
 * [pki] crl_url with "sub-ca.crl" replaced by "root-ca.crl", else the root-ca CA's
 * configured or derived URL), policy_oid, cps_uri, gwa_name
 * (CN "<gwa_name>.GWA.TORWART"), market_partner_id (OU of the GWA certificates).
 */
#include <string.h>

#include <openssl/obj_mac.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls_signer_key.h"
#include "pki/ca_state.h"
#include "pki/certstore.h"
#include "pki/profile.h"
#include "pki/testpki.h"

#define TESTPKI_ROOT_DAYS  (8L * 365L + 2L)
#define TESTPKI_SUBCA_DAYS (5L * 365L + 1L)
#define TESTPKI_GWA_DAYS   (2L * 365L)

#define TESTPKI_POLICY_OID "1.3.6.1.4.1.55555.1.1"   /* test arc; never a real policy */
#define TESTPKI_CPS_URI    "https://localhost/torwart/cps"
#define TESTPKI_GWA_NAME   "TEST"
#define TESTPKI_MP_ID      "9900000000003"          /* test market partner id */

enum { T_ROOT, T_SUB, T_TLS, T_SIG, T_ENC, T__COUNT };

/* One certificate of the test PKI: its key, profile and where it goes. */
struct testpki_item {
	const char *label;        /* signer key label */
	const char *file;         /* relative to the home */
	int curve;
	enum pki_usage usage;
	enum pki_role role;
	long days;
	const char *issuer_key;   /* signer label that signs it */
	int issuer;               /* index of the issuing item, -1 for the root */
};

static const struct testpki_item testpki_items[T__COUNT] = {
	[T_ROOT] = { SIGNER_KEY_ROOT_CA, TW_HOME_ROOT_CERT, NID_brainpoolP384r1,
		PKI_USAGE_ROOT_CA, PKI_ROLE_CA, TESTPKI_ROOT_DAYS, SIGNER_KEY_ROOT_CA, -1 },
	[T_SUB] = { SIGNER_KEY_SUB_CA, TW_HOME_SUBCA_CERT, NID_brainpoolP256r1,
		PKI_USAGE_SUB_CA, PKI_ROLE_CA, TESTPKI_SUBCA_DAYS, SIGNER_KEY_ROOT_CA, T_ROOT },
	[T_TLS] = { SIGNER_KEY_GWA_TLS, TW_HOME_GWA_TLS_CERT, NID_brainpoolP256r1,
		PKI_USAGE_TLS, PKI_ROLE_GWA, TESTPKI_GWA_DAYS, SIGNER_KEY_SUB_CA, T_SUB },
	[T_SIG] = { SIGNER_KEY_GWA_SIG, TW_HOME_GWA_SIG_CERT, NID_brainpoolP256r1,
		PKI_USAGE_SIG, PKI_ROLE_GWA, TESTPKI_GWA_DAYS, SIGNER_KEY_SUB_CA, T_SUB },
	[T_ENC] = { SIGNER_KEY_GWA_ENC, TW_HOME_GWA_ENC_CERT, NID_brainpoolP256r1,
		PKI_USAGE_ENC, PKI_ROLE_GWA, TESTPKI_GWA_DAYS, SIGNER_KEY_SUB_CA, T_SUB },
};

struct testpki_ctx {
	const struct tw_home *home;
	struct signer_client *sc;
	const char *crl_url;
	char *root_crl_url;        /* owned */
	const char *policy_oid;
	const char *cps_uri;
	char *gwa_cn;              /* owned */
	const char *mp_id;
	EVP_PKEY *keys[T__COUNT];  /* public keys */
	X509 *certs[T__COUNT];
};

static tw_rc testpki_write_certs(const struct testpki_ctx *t, const char *rel,
	X509 *const *certs, size_t n, struct tw_error *err)
{
	char *path = tw_home_join(t->home, rel);
	tw_rc rc;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = keys_write_certs_pem(path, certs, n, err);
	free(path);
	return rc;
}

static tw_rc testpki_issue(struct testpki_ctx *t, int i, struct tw_error *err)
{
	const struct testpki_item *it = &testpki_items[i];
	struct pki_cert_request req;
	tw_rc rc;

	memset(&req, 0, sizeof(req));
	req.usage = it->usage;
	req.role = it->role;
	req.public_key = t->keys[i];
	req.issuer_cert = it->issuer >= 0 ? t->certs[it->issuer] : NULL;
	req.validity_days = it->days;
	req.policy_oid = t->policy_oid;
	req.cps_uri = t->cps_uri;
	req.subject.serial_number = "1";
	switch (i) {
	case T_ROOT:
		req.subject.common_name = "TORWART-TEST-ROOT.CA";
		/* A root is its own authority: no CRL distribution point. */
		break;
	case T_SUB:
		req.subject.common_name = "TORWART-TEST.CA";
		/* The GWA certificates copy these into their issuer alternative name. */
		req.subject.email = "sub-ca@localhost.localdomain";
		req.subject.uri = "https://localhost/torwart/sub-ca/";
		req.crl_url = t->root_crl_url;
		break;
	default:
		req.subject.common_name = t->gwa_cn;
		req.subject.org_unit = t->mp_id;
		req.subject.dns_name = i == T_TLS ? "localhost" : NULL;
		req.crl_url = t->crl_url;
		break;
	}
	rc = pki_issue_certificate(t->sc, it->issuer_key, &req, &t->certs[i], err);
	if (rc != TW_OK) {
		/* Name the certificate; the cause is copied first (source and target overlap). */
		char cause[TW_ERROR_MESSAGE_MAX];

		cause[0] = '\0';
		if (err != NULL)
			memcpy(cause, err->message, sizeof(cause));
		return tw_error_set(err, rc, "test PKI, %s certificate: %s",
			it->label != NULL ? it->label : "gwa-tls", cause);
	}
	/* Written at once: the signer may check the next issuer name against this file. */
	return testpki_write_certs(t, it->file, &t->certs[i], 1, err);
}

static tw_rc testpki_record(struct testpki_ctx *t, struct tw_store *store,
	struct tw_error *err)
{
	/* The ceremony, not a person, activates: the home.init entry before names the user. */
	static const struct ca_actor testpki_actor = { .actor = "system:init",
		.role = "ceremony", .client = "local" };
	int64_t tenant = 0;
	bool activated = false;
	tw_rc rc;

	if ((rc = store_tenant_ensure(store, "default", &tenant, err)) != TW_OK)
		return rc;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	for (int i = 0; i < T__COUNT; i++) {
		const struct testpki_item *it = &testpki_items[i];

		rc = pki_certificate_record(store, tenant, t->certs[i], pki_role_name(it->role),
			it->role == PKI_ROLE_CA ? it->label : t->gwa_cn, pki_usage_name(it->usage),
			err);
		/*
		 * The CA keys were just generated in this ceremony: record their activation
		 * with the certificates (ca_state.h: a CA without a record is inactive).
		 */
		if (rc == TW_OK && it->role == PKI_ROLE_CA)
			rc = ca_state_set_in_tx(store, &testpki_actor, it->label, true,
				"activated at init: test PKI created by `torwart init --test-pki`",
				&activated, err);
		if (rc != TW_OK) {
			store_rollback(store);
			return rc;
		}
	}
	return store_commit(store, err);
}

/* "http://h/crl/sub-ca.crl" -> "http://h/crl/root-ca.crl"; NULL if not of that form. */
static char *testpki_root_crl(const char *crl_url)
{
	static const char suffix[] = "sub-ca.crl";
	size_t n = strlen(crl_url), s = sizeof(suffix) - 1;

	if (n < s || strcmp(crl_url + n - s, suffix) != 0)
		return NULL;
	return tw_asprintf("%.*sroot-ca.crl", (int)(n - s), crl_url);
}

tw_rc testpki_create(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err)
{
	struct testpki_ctx t;
	X509 *chain[2];
	char *dir = NULL, *probe = NULL;
	const char *root_crl;
	struct pki_ca_config *sub_cfg = NULL, *root_cfg = NULL;
	tw_rc rc;

	memset(&t, 0, sizeof(t));
	t.home = home;
	t.sc = sc;
	/* The GWA certificates name the Sub-CA's configured (or derived) distribution points. */
	if ((rc = pki_ca_config_load(home->conf, SIGNER_KEY_SUB_CA, &sub_cfg, err)) != TW_OK)
		return rc;
	t.crl_url = sub_cfg->crl_url;
	t.policy_oid = tw_config_get_or(home->conf, "pki", "policy_oid", TESTPKI_POLICY_OID);
	t.cps_uri = tw_config_get_or(home->conf, "pki", "cps_uri", TESTPKI_CPS_URI);
	t.mp_id = tw_config_get_or(home->conf, "pki", "market_partner_id", TESTPKI_MP_ID);
	t.gwa_cn = tw_asprintf("%s.GWA.TORWART",
		tw_config_get_or(home->conf, "pki", "gwa_name", TESTPKI_GWA_NAME));
	root_crl = tw_config_get(home->conf, "pki", "root_crl_url");
	if (root_crl != NULL)
		t.root_crl_url = tw_strdup(root_crl);
	else if (tw_config_get(home->conf, "pki", "crl_url") != NULL &&
	    tw_config_get(home->conf, "ca.root-ca", "crl_url") == NULL)
		/* the foundation's [pki] form */
		t.root_crl_url = testpki_root_crl(tw_config_get(home->conf, "pki", "crl_url"));
	if (root_crl == NULL && t.root_crl_url == NULL) {
		/* The Root's CRL where the api serves it (or [ca.root-ca] crl_url). */
		if ((rc = pki_ca_config_load(home->conf, SIGNER_KEY_ROOT_CA, &root_cfg, err)) !=
		    TW_OK)
			goto out;
		t.root_crl_url = tw_strdup(root_cfg->crl_url);
	}
	dir = tw_home_join(home, "pki");
	probe = tw_home_join(home, TW_HOME_ROOT_CERT);
	if (t.gwa_cn == NULL || dir == NULL || probe == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* Never replace a PKI: relying parties may already trust this root. */
	if (tw_path_exists(probe)) {
		rc = tw_error_set(err, TW_E_EXISTS,
			"%s exists: this home has a PKI already; create the test PKI in a new home",
			probe);
		goto out;
	}
	if ((rc = tw_mkdir_p(dir, 0700, err)) != TW_OK)
		goto out;

	/* Keys first: a token that cannot generate them should fail before any file. */
	for (int i = 0; i < T__COUNT; i++) {
		if (testpki_items[i].label == NULL)
			continue;
		rc = signer_generate_key(sc, testpki_items[i].label, testpki_items[i].curve,
			&t.keys[i], err);
		if (rc != TW_OK)
			goto out;
	}
	for (int i = 0; i < T__COUNT; i++)
		if ((rc = testpki_issue(&t, i, err)) != TW_OK)
			goto out;
	chain[0] = t.certs[T_SUB];
	chain[1] = t.certs[T_ROOT];
	if ((rc = testpki_write_certs(&t, TW_HOME_CHAIN, chain, 2, err)) != TW_OK)
		goto out;
	rc = testpki_record(&t, store, err);
out:
	for (int i = 0; i < T__COUNT; i++) {
		EVP_PKEY_free(t.keys[i]);
		X509_free(t.certs[i]);
	}
	free(t.root_crl_url);
	pki_ca_config_free(sub_cfg);
	pki_ca_config_free(root_cfg);
	free(t.gwa_cn);
	free(dir);
	free(probe);
	return rc;
}

tw_rc testpki_create_second_sub_ca(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err)
{
	static const struct ca_actor testpki_actor = { .actor = "system:init",
		.role = "ceremony", .client = "local" };
	struct testpki_ctx t;
	struct pki_cert_request req;
	struct pki_ca_config *root_cfg = NULL;
	char *root_path = tw_home_join(home, TW_HOME_ROOT_CERT);
	char *probe = tw_home_join(home, TESTPKI_SUB2_CERT);
	EVP_PKEY *key = NULL;
	X509 *root = NULL, *sub = NULL, *chain[2];
	int64_t tenant = 0;
	bool activated = false;
	tw_rc rc;

	memset(&t, 0, sizeof(t));
	t.home = home;
	t.sc = sc;
	if (root_path == NULL || probe == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (tw_path_exists(probe)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s exists: this home has a second Sub-CA",
			probe);
		goto out;
	}
	if ((rc = keys_read_cert_pem(root_path, &root, err)) != TW_OK ||
	    (rc = pki_ca_config_load(home->conf, SIGNER_KEY_ROOT_CA, &root_cfg, err)) != TW_OK ||
	    (rc = signer_generate_key(sc, TESTPKI_SUB2_LABEL, NID_brainpoolP256r1, &key,
		err)) != TW_OK)
		goto out;
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_SUB_CA;
	req.role = PKI_ROLE_CA;
	req.public_key = key;
	req.issuer_cert = root;
	req.validity_days = TESTPKI_SUBCA_DAYS;
	req.policy_oid = tw_config_get_or(home->conf, "pki", "policy_oid", TESTPKI_POLICY_OID);
	req.cps_uri = tw_config_get_or(home->conf, "pki", "cps_uri", TESTPKI_CPS_URI);
	req.subject.common_name = "TORWART-TEST-2.CA";
	req.subject.serial_number = "2";
	req.subject.email = "sub-ca-2@localhost.localdomain";
	req.subject.uri = "https://localhost/torwart/sub-ca-2/";
	/* The Root's CRL, as in the first Sub-CA's certificate. */
	req.crl_url = tw_config_get(home->conf, "pki", "root_crl_url") != NULL ?
		tw_config_get(home->conf, "pki", "root_crl_url") : root_cfg->crl_url;
	if ((rc = pki_issue_certificate(sc, SIGNER_KEY_ROOT_CA, &req, &sub, err)) != TW_OK ||
	    (rc = testpki_write_certs(&t, TESTPKI_SUB2_CERT, &sub, 1, err)) != TW_OK)
		goto out;
	chain[0] = sub;
	chain[1] = root;
	if ((rc = testpki_write_certs(&t, TESTPKI_SUB2_CHAIN, chain, 2, err)) != TW_OK ||
	    (rc = store_tenant_ensure(store, "default", &tenant, err)) != TW_OK ||
	    (rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = pki_certificate_record(store, tenant, sub, pki_role_name(PKI_ROLE_CA),
		TESTPKI_SUB2_LABEL, pki_usage_name(PKI_USAGE_SUB_CA), err)) != TW_OK ||
	    (rc = ca_state_set_in_tx(store, &testpki_actor, TESTPKI_SUB2_LABEL, true,
		"activated at init: second test Sub-CA created by `torwart init --second-sub-ca`",
		&activated, err)) != TW_OK) {
		store_rollback(store);
		goto out;
	}
	rc = store_commit(store, err);
out:
	EVP_PKEY_free(key);
	X509_free(root);
	X509_free(sub);
	pki_ca_config_free(root_cfg);
	free(root_path);
	free(probe);
	return rc;
}
