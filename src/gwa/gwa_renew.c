/*
 * gwa_renew.c: the GWA's own TLS certificate renewed by this home's Sub-CA (gwa_renew.h).
 */
#include "gwa/gwa_renew.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/gwa_renew_internal.h"
#include "pki/ca.h"
#include "pki/ca_state.h"
#include "pki/certstore.h"
#include "pki/profile.h"

static void gr_serial(X509 *x, char *out, size_t n)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, n, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/*
 * tmp -> path by rename, with the owner and mode path has now (a privsep home: the key
 * belongs to torwart-wan, 0600; this command runs as root or the owner).
 */
static tw_rc gr_install(const char *tmp, const char *path, struct tw_error *err)
{
	struct stat st, now;
	int fd;

	/* fchown/fchmod on a descriptor: what the services' seccomp lists allow. */
	if (stat(path, &st) == 0) {
		bool ok = (fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0 && fstat(fd, &now) == 0 &&
			((now.st_uid == st.st_uid && now.st_gid == st.st_gid) ||
			 fchown(fd, st.st_uid, st.st_gid) == 0) &&
			fchmod(fd, st.st_mode & 07777) == 0;
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (!ok)
			return tw_error_set(err, TW_E_IO, "cannot give %s the owner and mode of %s: "
				"%s", tmp, path, strerror(e));
	}
	if (rename(tmp, path) != 0)
		return tw_error_set(err, TW_E_IO, "cannot replace %s: %s", path, strerror(errno));
	return TW_OK;
}

/*
 * The new file key's certificate from the remote Sub-CA remote (gwa_renew_internal.h).
 * The key is kept as "<key>.next" (written like the key itself) while the remote decides,
 * so that a rerun polls for the certificate of that same key; it is removed again when
 * no request for it is pending. *key is the new key (the caller's), *fresh the
 * certificate on TW_OK. *next_key gets the kept file's path (the caller's, to remove
 * after the installation).
 */
static tw_rc gr_remote(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who, const char *remote,
	X509 *cur, EVP_PKEY *cur_key, const char *cert_path, const char *key_path,
	EVP_PKEY **key, X509 **fresh, char **next_key, struct tw_error *err)
{
	char *pending = tw_asprintf("%s.next.remote", cert_path);
	char key_id[17] = "";
	struct gwa_remote_req q;
	struct tw_error e;
	tw_rc rc;

	*key = NULL;
	*next_key = tw_asprintf("%s.next", key_path);
	if (pending == NULL || *next_key == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* The key of a request the remote has not answered yet, or a new one. */
	if (!(tw_path_exists(*next_key) && keys_read_private_pem(*next_key, key, &e) == TW_OK &&
	    gwa_renew_remote_key_id(*key, key_id, &e) == TW_OK &&
	    gwa_renew_remote_pending(pending, remote, key_id))) {
		EVP_PKEY_free(*key);
		*key = NULL;
		(void)unlink(*next_key);
		if ((rc = keys_generate_ec(keys_ec_curve_nid(cur_key), key, err)) != TW_OK ||
		    (rc = gwa_renew_remote_key_id(*key, key_id, err)) != TW_OK ||
		    (rc = keys_write_private_pem(*next_key, *key, err)) != TW_OK)
			goto out;
	}
	q = (struct gwa_remote_req){ .kind = "tls", .object = "gwa-key:tls",
		.rerun = "torwart gwa renew", .usage = PKI_USAGE_TLS, .cur = cur, .new_pub = *key,
		.new_key = *key, .pending_path = pending };
	rc = gwa_renew_remote_issue(home, store, sc, who, remote, &q, fresh, err);
out:
	/* Nothing pending for this key: it is of no use any more. */
	if (rc != TW_OK && *next_key != NULL && (pending == NULL ||
	    !gwa_renew_remote_pending(pending, remote, key_id)))
		(void)unlink(*next_key);
	free(pending);
	return rc;
}

tw_rc gwa_renew_tls(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who,
	struct gwa_renew_result *out, struct tw_error *err)
{
	char *cert_path = tw_home_path(home, "wan", "cert", TW_HOME_GWA_TLS_CERT);
	char *key_path = tw_home_path(home, "wan", "key", TW_HOME_GWA_TLS_KEY);
	char *cert_tmp = NULL, *key_tmp = NULL, *ca_path = NULL, *next_key = NULL;
	char fp_old[65], detail[512], issued_by[96];
	const char *remote = NULL;
	struct pki_ca_config *cfg = NULL;
	struct store_certificate row;
	struct pki_cert_request cr;
	GENERAL_NAMES *san = NULL;
	X509 *cur = NULL, *ca = NULL, *fresh = NULL;
	EVP_PKEY *cur_key = NULL, *key = NULL;
	const char *policy = tw_config_get(home->conf, "pki", "policy_oid");
	const char *cps = tw_config_get(home->conf, "pki", "cps_uri");
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&row, 0, sizeof(row));
	if (cert_path == NULL || key_path == NULL ||
	    (cert_tmp = tw_asprintf("%s.new", cert_path)) == NULL ||
	    (key_tmp = tw_asprintf("%s.new", key_path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!tw_path_exists(key_path)) {
		rc = tw_error_set(err, TW_E_CONFIG, "the GWA TLS key is not the file %s (it is "
			"held by the signer): renew it in the signer with `torwart gwa renew --key "
			"tls`", key_path);
		goto out;
	}
	if ((rc = keys_read_cert_pem(cert_path, &cur, err)) != TW_OK ||
	    (rc = keys_read_private_pem(key_path, &cur_key, err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(cur, fp_old, err)) != TW_OK)
		goto out;
	gr_serial(cur, out->old_serial, sizeof(out->old_serial));
	/*
	 * The inventory row says whose certificate it is (owner, tenant). Through the api the
	 * store is scoped to the operator's tenant: only an operator of the tenant that holds
	 * the GWA's certificate (the home's own) may replace the GWA's identity.
	 */
	rc = store_certificate_get_by_fingerprint(store, fp_old, &row, err);
	if (store_scoped_tenant(store) != 0 && (rc == TW_E_NOT_FOUND ||
	    (rc == TW_OK && row.tenant_id != store_scoped_tenant(store)))) {
		rc = tw_error_set(err, TW_E_DENIED, "the GWA's own TLS certificate belongs to the "
			"home's own tenant, not to this operator's: it cannot be renewed from here");
		goto out;
	}
	if (rc != TW_OK) {
		if (rc == TW_E_NOT_FOUND)
			rc = tw_error_set(err, TW_E_NOT_FOUND, "the current GWA TLS certificate %s "
				"(serial %s) is not in the inventory; was it issued by this home?",
				cert_path, out->old_serial);
		goto out;
	}
	if (strcmp(row.owner_kind, "gwa") != 0 || strcmp(row.usage, "TLS") != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is a %s %s certificate, not the GWA's TLS "
			"certificate", cert_path, row.owner_kind, row.usage);
		goto out;
	}
	/* The Sub-CA of the home's own tenant: a remote one gets a request (gwa_renew_remote.c). */
	if ((rc = gwa_renew_sub_ca(home, store, row.tenant_id, &remote, err)) != TW_OK)
		goto out;
	if (remote != NULL) {
		if ((rc = gr_remote(home, store, sc, who, remote, cur, cur_key, cert_path, key_path,
		    &key, &fresh, &next_key, err)) != TW_OK)
			goto out;
		snprintf(issued_by, sizeof(issued_by), "the remote Sub-CA %.64s", remote);
		goto issued;
	}
	if ((rc = ca_state_require_active(store, CA_DEFAULT_NAME, "issuance", err)) != TW_OK ||
	    (rc = pki_ca_config_load(home->conf, CA_DEFAULT_NAME, &cfg, err)) != TW_OK)
		goto out;
	if ((ca_path = tw_home_join(home, cfg->cert_path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(ca_path, &ca, err)) != TW_OK)
		goto out;
	/* A new key on the current key's curve (brainpool: the profile allows no other). */
	if ((rc = keys_generate_ec(keys_ec_curve_nid(cur_key), &key, err)) != TW_OK)
		goto out;
	san = X509_get_ext_d2i(cur, NID_subject_alt_name, NULL, NULL);
	memset(&cr, 0, sizeof(cr));
	cr.usage = PKI_USAGE_TLS;
	cr.role = PKI_ROLE_GWA;
	cr.subject_name = X509_get_subject_name(cur);
	cr.san = san;
	cr.public_key = key;
	cr.issuer_cert = ca;
	cr.validity_days = cfg->validity_days_tls;
	cr.validity_end = cfg->validity_end_tls;
	cr.crl_url = cfg->crl_url;
	cr.policy_oid = cfg->policy_oid != NULL ? cfg->policy_oid : policy;
	cr.cps_uri = cfg->cps_uri != NULL ? cfg->cps_uri : cps;
	if ((rc = pki_issue_certificate(sc, cfg->key_label, &cr, &fresh, err)) != TW_OK)
		goto out;
	snprintf(issued_by, sizeof(issued_by), "%s", cfg->name);
issued:
	gr_serial(fresh, out->new_serial, sizeof(out->new_serial));
	if ((rc = keys_cert_fingerprint(fresh, out->new_fingerprint, err)) != TW_OK)
		goto out;
	{
		const ASN1_TIME *na = X509_get0_notAfter(fresh);
		struct tm tm;

		if (ASN1_TIME_to_tm(na, &tm) == 1)
			strftime(out->not_after, sizeof(out->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	/* Files first (as .new), so a store failure leaves the installed pair untouched. */
	(void)unlink(key_tmp);
	if ((rc = keys_write_private_pem(key_tmp, key, err)) != TW_OK ||
	    (rc = keys_write_certs_pem(cert_tmp, &fresh, 1, err)) != TW_OK)
		goto out;
	snprintf(detail, sizeof(detail), "GWA TLS certificate renewed by %s: serial %s (was %s, "
		"stays valid until its end: overlap), valid until %s, fingerprint %s", issued_by,
		out->new_serial, out->old_serial, out->not_after, out->new_fingerprint);
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	{
		char object[STORE_ID_MAX + 32];
		struct audit_entry e;

		snprintf(object, sizeof(object), "gwa:%s", row.owner_id);
		e = (struct audit_entry){ .actor = who->actor, .role = who->role,
			.client = who->client, .action = "gwa.renew", .object = object,
			.result = "ok", .detail = detail };
		if ((rc = pki_certificate_record(store, row.tenant_id, fresh, "gwa", row.owner_id,
		    "TLS", err)) != TW_OK ||
		    (rc = audit_append_in_tx(store, &e, err)) != TW_OK ||
		    (rc = store_commit(store, err)) != TW_OK) {
			store_rollback(store);
			goto out;
		}
	}
	/* Key, then certificate: a look of the wan in between refuses the mismatch once. */
	if ((rc = gr_install(key_tmp, key_path, err)) != TW_OK ||
	    (rc = gr_install(cert_tmp, cert_path, err)) != TW_OK)
		goto out;
	if (next_key != NULL)
		(void)unlink(next_key);   /* installed: the remote's request is answered */
out:
	if (rc != TW_OK && key_tmp != NULL && cert_tmp != NULL) {
		(void)unlink(key_tmp);
		(void)unlink(cert_tmp);
	}
	store_certificate_clear(&row);
	GENERAL_NAMES_free(san);
	X509_free(cur);
	X509_free(ca);
	X509_free(fresh);
	EVP_PKEY_free(cur_key);
	EVP_PKEY_free(key);
	pki_ca_config_free(cfg);
	free(ca_path);
	free(cert_tmp);
	free(key_tmp);
	free(next_key);
	free(cert_path);
	free(key_path);
	return rc;
}
