/*
 * gateway.c: the gateway inventory and test pre-personalisation.
 *
 * gateway_provision plays the manufacturer (keys generated for the device, written to its
 * directory) and the GWA (registration in the inventory) in one step, so that a demo or a
 * test can bring up gateways without a factory. Certificates are issued by the Sub-CA key
 * inside the signer; this process never sees CA key material.
 */
#include "gwa/gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/secretbox.h"
#include "pki/ca_state.h"
#include "pki/certstore.h"
#include "pki/profile.h"
#include "store/store_jobs.h"
#include "base/home.h"

#define GATEWAY_CERT_DAYS 730   /* two years, as the real SM-PKI end-entity certificates */

bool gateway_id_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return false;
	for (; id[n] != '\0'; n++) {
		char c = id[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= STORE_ID_MAX;
}

struct device_key {
	enum pki_usage usage;
	const char *name;       /* file stem: tls, sig, enc */
	const char *usage_tag;  /* certificates.usage */
	EVP_PKEY *key;
	X509 *cert;
};

static tw_rc write_in_dir(const char *dir, const char *file, struct tw_error *err,
	char **path)
{
	*path = tw_asprintf("%s/%s", dir, file);
	return *path ? TW_OK : tw_error_set(err, TW_E_NOMEM, "out of memory");
}

/* Remove what a failed provisioning wrote, so a retry starts from nothing. */
static void remove_device_dir(const char *dir)
{
	static const char *const files[] = { "id", "tls.key", "tls.crt", "sig.key", "sig.crt",
		"enc.key", "enc.crt", "chain.pem", "root-ca.crt", "gwa-sig.crt" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *p = tw_asprintf("%s/%s", dir, files[i]);

		if (p != NULL)
			unlink(p);
		free(p);
	}
	rmdir(dir);
}

static tw_rc issue_device_certificates(const struct tw_home *home, struct signer_client *sc,
	const char *gateway_id, struct device_key *keys, size_t n, X509 *sub_ca,
	struct tw_error *err)
{
	const char *policy = tw_config_get(home->conf, "pki", "policy_oid");
	const char *cps = tw_config_get(home->conf, "pki", "cps_uri");
	struct pki_ca_config *cfg = NULL;
	tw_rc rc;

	/* The Sub-CA's distribution points ([ca.sub-ca] crl_url, or where the api serves it). */
	if ((rc = pki_ca_config_load(home->conf, SIGNER_KEY_SUB_CA, &cfg, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct pki_cert_request req;

		memset(&req, 0, sizeof(req));
		req.usage = keys[i].usage;
		req.role = PKI_ROLE_SMGW;
		req.subject.common_name = gateway_id;
		req.subject.serial_number = gateway_id;
		req.issuer_cert = sub_ca;
		req.validity_days = GATEWAY_CERT_DAYS;
		req.crl_url = cfg->crl_url;
		req.policy_oid = policy;
		req.cps_uri = cps;
		if ((rc = keys_generate_ec(NID_brainpoolP256r1, &keys[i].key, err)) != TW_OK)
			break;
		req.public_key = keys[i].key;
		rc = pki_issue_certificate(sc, SIGNER_KEY_SUB_CA, &req, &keys[i].cert, err);
	}
	pki_ca_config_free(cfg);
	return rc;
}

/* Sealing of private keys in the api's spool (gateway_seal_keys); NULL = clear files. */
static const struct secretbox *gateway_sealer;

void gateway_seal_keys(const struct secretbox *seal)
{
	gateway_sealer = seal;
}

/* The private key as PEM, sealed with gateway_sealer, into path + ".sealed". */
static tw_rc write_key_sealed(const char *path, EVP_PKEY *key, struct tw_error *err)
{
	BIO *mem = BIO_new(BIO_s_secmem());
	char *data = NULL, *sealed = NULL, *spath = NULL;
	long len;
	tw_rc rc;

	if (mem == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate a key buffer");
	if (PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (len = BIO_get_mem_data(mem, &data)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the key for %s", path);
		goto out;
	}
	if ((rc = secretbox_seal(gateway_sealer, GATEWAY_SEALED_AAD, data, (size_t)len,
	    &sealed, err)) != TW_OK)
		goto out;
	if ((spath = tw_asprintf("%s%s", path, GATEWAY_SEALED_SUFFIX)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else
		rc = tw_write_file(spath, sealed, strlen(sealed), 0600, true, err);
out:
	free(sealed);
	free(spath);
	BIO_free(mem);   /* secmem: wiped */
	return rc;
}

static tw_rc write_device_files(const char *out_dir, const char *gateway_id,
	struct device_key *keys, size_t n, X509 *sub_ca, X509 *root, struct tw_error *err)
{
	X509 *chain[2] = { sub_ca, root };
	char *path = NULL, *id_line = NULL;
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		char file[32];

		snprintf(file, sizeof(file), "%s.key", keys[i].name);
		if ((rc = write_in_dir(out_dir, file, err, &path)) == TW_OK)
			rc = gateway_sealer != NULL ? write_key_sealed(path, keys[i].key, err) :
				keys_write_private_pem(path, keys[i].key, err);
		free(path);
		path = NULL;
		if (rc != TW_OK)
			break;
		snprintf(file, sizeof(file), "%s.crt", keys[i].name);
		if ((rc = write_in_dir(out_dir, file, err, &path)) == TW_OK)
			rc = keys_write_certs_pem(path, &keys[i].cert, 1, err);
		free(path);
		path = NULL;
	}
	if (rc == TW_OK && (rc = write_in_dir(out_dir, "chain.pem", err, &path)) == TW_OK)
		rc = keys_write_certs_pem(path, chain, 2, err);
	free(path);
	path = NULL;
	if (rc == TW_OK && (rc = write_in_dir(out_dir, "root-ca.crt", err, &path)) == TW_OK)
		rc = keys_write_certs_pem(path, &root, 1, err);
	free(path);
	path = NULL;
	if (rc == TW_OK && (rc = write_in_dir(out_dir, "id", err, &path)) == TW_OK) {
		id_line = tw_asprintf("%s\n", gateway_id);
		rc = id_line ? tw_write_file(path, id_line, strlen(id_line), 0644, true, err) :
			tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	free(path);
	free(id_line);
	return rc;
}

/*
 * The gateway verifies wake-ups with the GWA's SIG certificate (UC-3.3.4), so the
 * "factory" installs it next to the device keys (issue 4).
 */
static tw_rc copy_gwa_sig_cert(const struct tw_home *home, const char *out_dir,
	struct tw_error *err)
{
	char *src = tw_home_join(home, TW_HOME_GWA_SIG_CERT);
	char *dst = tw_asprintf("%s/gwa-sig.crt", out_dir);
	unsigned char *pem = NULL;
	size_t len = 0;
	tw_rc rc;

	if (src == NULL || dst == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if ((rc = tw_read_file(src, 65536, &pem, &len, err)) == TW_OK)
		rc = tw_write_file(dst, pem, len, 0644, true, err);
	free(pem);
	free(src);
	free(dst);
	return rc;
}

static tw_rc register_gateway(struct tw_store *store, const char *gateway_id,
	struct device_key *keys, size_t n, const char *actor, const char *role,
	struct tw_error *err)
{
	struct store_gateway gw;
	struct audit_entry entry;
	char client[32], detail[128];
	int64_t tenant_id = 0;
	tw_rc rc;

	memset(&gw, 0, sizeof(gw));
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	/* An operator's (tenant-scoped) store registers into the operator's own tenant. */
	tenant_id = store_scoped_tenant(store);
	if (tenant_id == 0 &&
	    (rc = store_tenant_ensure(store, GATEWAY_DEFAULT_TENANT, &tenant_id, err)) != TW_OK)
		goto out;
	gw.tenant_id = tenant_id;
	gw.created_ms = tw_now_ms();
	memcpy(gw.state, "registered", sizeof("registered"));
	if ((rc = tw_strlcpy_checked(gw.gateway_id, gateway_id, sizeof(gw.gateway_id), err,
		"gateway id")) != TW_OK)
		goto out;
	if ((rc = store_gateway_insert(store, &gw, err)) != TW_OK) {
		if (rc == TW_E_EXISTS)
			tw_error_set(err, rc, GATEWAY_TAKEN_MSG, gateway_id);
		goto out;
	}
	for (size_t i = 0; i < n && rc == TW_OK; i++)
		rc = pki_certificate_record(store, tenant_id, keys[i].cert, "smgw", gateway_id,
			keys[i].usage_tag, err);
	if (rc != TW_OK)
		goto out;
	snprintf(client, sizeof(client), "local:%ld", (long)getpid());
	snprintf(detail, sizeof(detail), "registered with TLS, SIG and ENC certificates");
	entry = (struct audit_entry){ .actor = actor, .role = role, .client = client,
		.action = "gateway.add", .object = gateway_id, .result = "ok", .detail = detail };
	if ((rc = audit_append_in_tx(store, &entry, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
out:
	if (rc != TW_OK)
		store_rollback(store);
	return rc;
}

tw_rc gateway_provision(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *gateway_id, const char *out_dir,
	const char *actor, struct tw_error *err)
{
	struct device_key keys[3] = {
		{ PKI_USAGE_TLS, "tls", "TLS", NULL, NULL },
		{ PKI_USAGE_SIG, "sig", "SIG", NULL, NULL },
		{ PKI_USAGE_ENC, "enc", "ENC", NULL, NULL },
	};
	struct store_gateway existing;
	char *sub_path = NULL, *root_path = NULL;
	X509 *sub_ca = NULL, *root = NULL;
	bool dir_created = false;
	tw_rc rc;

	if (!gateway_id_valid(gateway_id))
		return tw_error_set(err, TW_E_INVALID,
			"gateway id '%s' is invalid: use 1-%d characters of A-Z a-z 0-9 . _ -",
			gateway_id ? gateway_id : "", STORE_ID_MAX);
	/* Refuse early, before keys are generated or certificates signed for nothing, and
	 * for an id of any tenant (a scoped handle would not see another tenant's gateway
	 * and sign certificates for its id): one message for both (no tenant oracle). */
	{
		int64_t scope = store_scoped_tenant(store);

		store_scope_tenant(store, 0);
		rc = store_gateway_get(store, gateway_id, &existing, err);
		store_scope_tenant(store, scope);
	}
	if (rc == TW_OK)
		return tw_error_set(err, TW_E_EXISTS, GATEWAY_TAKEN_MSG, gateway_id);
	if (rc != TW_E_NOT_FOUND)
		return rc;
	/* Device certificates are signed with the Sub-CA key: only while it is active. */
	if ((rc = ca_state_require_active(store, CA_DEFAULT_NAME, "gateway certificate "
		"issuance", err)) != TW_OK)
		return rc;
	sub_path = tw_home_join(home, TW_HOME_SUBCA_CERT);
	root_path = tw_home_join(home, TW_HOME_ROOT_CERT);
	if (sub_path == NULL || root_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(sub_path, &sub_ca, err)) != TW_OK ||
	    (rc = keys_read_cert_pem(root_path, &root, err)) != TW_OK) {
		if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "this home has no Sub-CA certificate (%s); "
				"it was created without --test-pki", sub_path);
		goto out;
	}
	if (mkdir(out_dir, 0700) != 0) {
		rc = tw_error_set(err, errno == EEXIST ? TW_E_EXISTS : TW_E_IO,
			"cannot create %s: %s%s", out_dir, strerror(errno),
			errno == EEXIST ? " (choose a new --out directory)" : "");
		goto out;
	}
	dir_created = true;
	if ((rc = issue_device_certificates(home, sc, gateway_id, keys, 3, sub_ca, err)) != TW_OK)
		goto out;
	if ((rc = write_device_files(out_dir, gateway_id, keys, 3, sub_ca, root, err)) != TW_OK)
		goto out;
	if ((rc = copy_gwa_sig_cert(home, out_dir, err)) != TW_OK)
		goto out;
	/* The role of the caller's signer session (operator roles, break-glass). */
	rc = register_gateway(store, gateway_id, keys, 3, actor, signer_client_role(sc) != NULL ?
		signer_client_role(sc) : "local-admin", err);
out:
	if (rc != TW_OK && dir_created)
		remove_device_dir(out_dir);
	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY_free(keys[i].key);
		X509_free(keys[i].cert);
	}
	X509_free(sub_ca);
	X509_free(root);
	free(sub_path);
	free(root_path);
	return rc;
}

/* ---- gateway set (tags, tenant, wake-up address) ---- */

struct set_ctx {
	const struct gateway_change *ch;
	struct tw_store *store;
	const char *actor, *role, *client;
	int64_t tenant_id;
	size_t n;
	struct tw_error *err;
	tw_rc rc;
};

static int set_one(const struct store_gateway *gw, void *arg)
{
	struct set_ctx *c = arg;
	const struct gateway_change *o = c->ch;
	char detail[256];
	int w = 0;

	if (o->add_tag != NULL)
		c->rc = store_gateway_tag_add(c->store, gw->gateway_id, o->add_tag, c->err);
	if (c->rc == TW_OK && o->remove_tag != NULL) {
		c->rc = store_gateway_tag_remove(c->store, gw->gateway_id, o->remove_tag, c->err);
		if (c->rc == TW_E_NOT_FOUND)
			c->rc = TW_OK;   /* removing an absent tag from a selection is not an error */
	}
	if (c->rc == TW_OK && o->wakeup != NULL)
		c->rc = store_gateway_wakeup_set(c->store, gw->gateway_id,
			strcmp(o->wakeup, "none") == 0 ? "" : o->wakeup, c->err);
	if (c->rc == TW_OK && o->move_tenant != NULL)
		c->rc = store_gateway_set_tenant(c->store, gw->gateway_id, c->tenant_id, c->err);
	if (c->rc != TW_OK)
		return 1;
	w = snprintf(detail, sizeof(detail), "%s%s%s%s%s%s%s%s", o->add_tag ? " add-tag=" : "",
		o->add_tag ? o->add_tag : "", o->remove_tag ? " remove-tag=" : "",
		o->remove_tag ? o->remove_tag : "", o->wakeup ? " wakeup=" : "",
		o->wakeup ? o->wakeup : "", o->move_tenant ? " tenant=" : "",
		o->move_tenant ? o->move_tenant : "");
	(void)w;
	{
		struct audit_entry e = { .actor = c->actor, .role = c->role,
			.client = c->client, .action = "gateway.set", .object = gw->gateway_id,
			.result = "ok", .detail = detail + 1 };

		c->rc = audit_append_in_tx(c->store, &e, c->err);
	}
	c->n++;
	return c->rc != TW_OK;
}

tw_rc gateway_set(struct tw_store *store, const struct gateway_selection *sel,
	const struct gateway_change *ch, const char *actor, const char *role,
	const char *client, size_t *n, struct tw_error *err)
{
	struct set_ctx c;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	c.ch = ch;
	c.store = store;
	c.actor = actor;
	c.role = role;
	c.client = client;
	c.err = err;
	if (n != NULL)
		*n = 0;
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if (ch->move_tenant != NULL &&
	    (rc = store_tenant_ensure(store, ch->move_tenant, &c.tenant_id, err)) != TW_OK)
		goto rollback;
	if (sel->gateway != NULL) {
		struct store_gateway gw;

		if ((rc = store_gateway_get(store, sel->gateway, &gw, err)) != TW_OK)
			goto rollback;
		set_one(&gw, &c);
	} else if (sel->tag != NULL) {
		rc = store_gateway_select(store, GW_SELECT_TAG, sel->tag, set_one, &c, err);
	} else if (sel->tenant != NULL) {
		rc = store_gateway_select(store, GW_SELECT_TENANT, sel->tenant, set_one, &c, err);
	} else if (sel->gateways == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway set: no gateways selected");
	} else if (strcmp(sel->gateways, "all") == 0) {
		rc = store_gateway_select(store, GW_SELECT_ALL, NULL, set_one, &c, err);
	} else {
		const char *p = sel->gateways;

		while (rc == TW_OK && c.rc == TW_OK && *p != '\0') {
			char id[STORE_ID_MAX + 1];
			size_t len = strcspn(p, ",");
			struct store_gateway gw;

			if (len == 0 || len > STORE_ID_MAX) {
				rc = tw_error_set(err, TW_E_INVALID, "--gateways: empty or over-long id");
				break;
			}
			memcpy(id, p, len);
			id[len] = '\0';
			if ((rc = store_gateway_get(store, id, &gw, err)) == TW_OK)
				set_one(&gw, &c);
			p += len + (p[len] == ',');
		}
	}
	if (rc == TW_OK)
		rc = c.rc;
	if (rc == TW_OK && c.n == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the selection matches no gateway");
	if (rc == TW_OK && (rc = store_commit(store, err)) == TW_OK && n != NULL)
		*n = c.n;
rollback:
	if (rc != TW_OK) {
		struct tw_error ignored;
		struct audit_entry e = { .actor = actor, .role = role, .client = client,
			.action = "gateway.set",
			.object = sel->gateway != NULL ? sel->gateway : "selection",
			.result = "refused", .detail = err->message };

		store_rollback(store);
		(void)audit_append(store, &e, &ignored);
	}
	return rc;
}
