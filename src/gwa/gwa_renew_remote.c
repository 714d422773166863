/*
 * gwa_renew_remote.c: the GWA's own certificates from a remote Sub-CA (gwa_renew_internal.h).
 *
 * Why the request is built here and not by the CA engine: a remote Sub-CA knows the GWA
 * only as a participant, so it gets what any participant sends, a renewal request
 * (bsiCertReqMsgsWithOuterSig) signed with the GWA's current SIG certificate, which it
 * issued. The keys stay where they are: the proof of possession is signed by the new key
 * (a signer key for `--key`, the new file key otherwise) and the outer signature by the
 * signer's current gwa-sig, both with the signer purpose certreq.
 */
#include "gwa/gwa_renew_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/renewal.h"
#include "pki/reqgen.h"
#include "pki/request.h"
#include "store/store_renewal.h"

tw_rc gwa_renew_sub_ca(const struct tw_home *home, struct tw_store *store, int64_t tenant_id,
	const char **remote, struct tw_error *err)
{
	char tenant[STORE_ID_MAX + 1], key[STORE_ID_MAX + 16];
	const char *v, *which = key;
	tw_rc rc;

	*remote = NULL;
	if ((rc = store_tenant_name(store, tenant_id, tenant, sizeof(tenant), err)) != TW_OK)
		return rc;
	/* The gateways' rule (renewal.c): the tenant's own line, else the global one. */
	snprintf(key, sizeof(key), "sub_ca.%s", tenant);
	if ((v = tw_config_get(home->conf, "renewal", key)) == NULL) {
		v = tw_config_get_or(home->conf, "renewal", "sub_ca", "local");
		which = "sub_ca";
	}
	if (strcmp(v, "local") == 0)
		return TW_OK;
	if (strncmp(v, "remote:", 7) == 0 && v[7] != '\0') {
		*remote = v + 7;
		return TW_OK;
	}
	return tw_error_set(err, TW_E_CONFIG, "[renewal] %s = \"%.64s\" (the Sub-CA of the "
		"GWA's own tenant %s): use local or remote:<name>", which, v, tenant);
}

tw_rc gwa_renew_remote_key_id(EVP_PKEY *pub, char out[17], struct tw_error *err)
{
	unsigned char *der = NULL, md[32];
	unsigned int md_len = 0;
	int len = i2d_PUBKEY(pub, &der);
	tw_rc rc = TW_OK;

	out[0] = '\0';
	if (len <= 0 || EVP_Digest(der, (size_t)len, md, &md_len, EVP_sha256(), NULL) != 1)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot identify the new public key");
	else
		tw_hex_encode(md, 8, out);
	OPENSSL_free(der);
	return rc;
}

/* The value of "name=" in text (one line), copied into out; false when absent. */
static bool grr_field(const char *text, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			const char *v = p + n + 1;
			size_t len = strcspn(v, "\n");

			if (len == 0 || len >= size)
				return false;
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return false;
}

/* The messageID of pending_path when it is remote's request for key_id, else "". */
static void grr_pending_id(const char *path, const char *remote, const char *key_id,
	char *id, size_t size)
{
	unsigned char *text = NULL;
	size_t len = 0;
	char r[80], k[32];
	struct tw_error e;

	id[0] = '\0';
	if (!tw_path_exists(path) || tw_read_file(path, 4096, &text, &len, &e) != TW_OK)
		return;
	if (!grr_field((const char *)text, "remote", r, sizeof(r)) ||
	    !grr_field((const char *)text, "key", k, sizeof(k)) ||
	    strcmp(r, remote) != 0 || strcmp(k, key_id) != 0 ||
	    !grr_field((const char *)text, "message_id", id, size))
		id[0] = '\0';
	free(text);
}

bool gwa_renew_remote_pending(const char *pending_path, const char *remote,
	const char *key_id)
{
	char id[STORE_ID_MAX + 1];

	grr_pending_id(pending_path, remote, key_id, id, sizeof(id));
	return id[0] != '\0';
}

static tw_rc grr_audit(struct tw_store *store, const struct gwa_renew_actor *who,
	const char *object, const char *action, const char *result, const char *code,
	const char *detail, struct tw_error *err)
{
	struct audit_entry e = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail,
		.error_code = code };

	return audit_append(store, &e, err);
}

/* A copy of an IA5String of the SAN (7-bit text), kept in names[] for freeing. */
static const char *grr_text(const GENERAL_NAME *gn, char **names, size_t *n)
{
	const ASN1_IA5STRING *s = gn->d.ia5;
	char *copy;

	if (s == NULL || ASN1_STRING_length(s) <= 0 ||
	    memchr(ASN1_STRING_get0_data(s), '\0', (size_t)ASN1_STRING_length(s)) != NULL ||
	    (copy = strndup((const char *)ASN1_STRING_get0_data(s),
		(size_t)ASN1_STRING_length(s))) == NULL)
		return NULL;
	names[(*n)++] = copy;
	return copy;
}

/*
 * The renewal request for q's new key: subject and SAN of the current certificate, proof
 * of possession by the new key, outer signature by the signer's current gwa-sig with the
 * GWA's current SIG certificate. *der malloc'ed.
 */
static tw_rc grr_build(const struct tw_home *home, struct signer_client *sc,
	const struct gwa_remote_req *q, unsigned char **der, size_t *len, struct tw_error *err)
{
	struct reqgen_signer_key k_new = { sc, q->new_label };
	struct reqgen_signer_key k_sig = { sc, SIGNER_KEY_GWA_SIG };
	struct reqgen_params p;
	GENERAL_NAMES *san = NULL;
	X509 *sig_cert = NULL;
	EVP_PKEY *sig_pub = NULL;
	char *sig_path = NULL, *names[REQGEN_DNS_MAX + 3];
	size_t n_names = 0;
	tw_rc rc;

	memset(&p, 0, sizeof(p));
	p.subject_name = X509_get_subject_name(q->cur);
	san = X509_get_ext_d2i(q->cur, NID_subject_alt_name, NULL, NULL);
	/* The SAN as the current certificate has it: DNS names (TLS), e-mail, URI. */
	for (int i = 0; san != NULL && i < sk_GENERAL_NAME_num(san) &&
	     n_names < sizeof(names) / sizeof(names[0]); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);
		const char *v;

		if (gn->type == GEN_DNS && p.subject.dns_name == NULL) {
			p.subject.dns_name = grr_text(gn, names, &n_names);
		} else if (gn->type == GEN_DNS && p.n_extra_dns < REQGEN_DNS_MAX) {
			if ((v = grr_text(gn, names, &n_names)) != NULL)
				p.extra_dns[p.n_extra_dns++] = v;
		} else if (gn->type == GEN_EMAIL && p.subject.email == NULL) {
			p.subject.email = grr_text(gn, names, &n_names);
		} else if (gn->type == GEN_URI && p.subject.uri == NULL) {
			p.subject.uri = grr_text(gn, names, &n_names);
		}
	}
	if (q->new_key != NULL)
		p.keys[q->usage] = q->new_key;
	else
		p.held[q->usage] = (struct reqgen_signer){ q->new_pub, reqgen_sign_certreq, &k_new };
	if ((sig_path = tw_home_join(home, TW_HOME_GWA_SIG_CERT)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(sig_path, &sig_cert, err)) != TW_OK ||
	    (rc = signer_get_public_key(sc, SIGNER_KEY_GWA_SIG, &sig_pub, err)) != TW_OK)
		goto out;
	p.outer_cert = sig_cert;
	p.outer_held = (struct reqgen_signer){ sig_pub, reqgen_sign_certreq, &k_sig };
	rc = reqgen_build(&p, false, der, len, err);
out:
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	GENERAL_NAMES_free(san);
	EVP_PKEY_free(sig_pub);
	X509_free(sig_cert);
	free(sig_path);
	return rc;
}

tw_rc gwa_renew_remote_issue(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who, const char *remote,
	const struct gwa_remote_req *q, X509 **fresh, struct tw_error *err)
{
	struct renewal_remote_result rr;
	struct request rq;
	struct tw_error e, aerr;
	unsigned char *der = NULL;
	size_t len = 0;
	char key_id[17], pending[STORE_ID_MAX + 1], note[512], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	*fresh = NULL;
	memset(&rr, 0, sizeof(rr));
	tw_error_clear(&e);
	if ((rc = gwa_renew_remote_key_id(q->new_pub, key_id, err)) != TW_OK)
		return rc;
	grr_pending_id(q->pending_path, remote, key_id, pending, sizeof(pending));
	/* Asked before for this key: poll, sign and send nothing. */
	if (pending[0] == '\0') {
		(void)unlink(q->pending_path);   /* another key's or remote's: no use now */
		if ((rc = grr_build(home, sc, q, &der, &len, err)) != TW_OK)
			goto out;
	}
	/* The certificates are matched to the request by public key: one entry here. */
	memset(&rq, 0, sizeof(rq));
	rq.kind = REQUEST_KIND_RENEWAL;
	rq.n_entries = 1;
	rq.entries[0].usage = q->usage;
	rq.entries[0].public_key = q->new_pub;
	rc = renewal_remote_issue(home, store, remote, pending[0] != '\0' ? pending : NULL, &rq,
		der, len, &rr, &e);
	if (rc == TW_E_CONFIG) {
		rc = tw_error_set(err, TW_E_CONFIG, "the Sub-CA of the GWA's own tenant is "
			"remote:%s: %s", remote, e.message);
		goto out;
	}
	if (rc == TW_E_NOT_FOUND) {
		(void)unlink(q->pending_path);
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the request %s to the remote Sub-CA %s is "
			"not known to this home's web-service client any more (removed %s); rerun `%s` "
			"to send a new request", pending, remote, q->pending_path, q->rerun);
		goto out;
	}
	if (rc != TW_OK) {
		*err = e;
		goto out;
	}
	switch (rr.state) {
	case RENEWAL_REMOTE_ISSUED:
		if (rr.n != 1 || X509_NAME_cmp(X509_get_subject_name(rr.certs[0]),
		    X509_get_subject_name(q->cur)) != 0) {
			rr.state = RENEWAL_REMOTE_REFUSED;
			rr.code = PKI_FAILURE_OTHER_ERROR;
			snprintf(rr.why, sizeof(rr.why), "the remote Sub-CA %s issued a certificate "
				"for another subject than the current GWA %s certificate's", remote,
				pki_usage_name(q->usage));
			break;
		}
		*fresh = rr.certs[0];
		rr.certs[0] = NULL;
		rr.n = 0;
		(void)unlink(q->pending_path);
		goto out;
	case RENEWAL_REMOTE_PENDING: {
		char text[STORE_ID_MAX + 160];
		int n = snprintf(text, sizeof(text), "remote=%s\nkey=%s\nmessage_id=%s\n", remote,
			key_id, rr.message_id);

		if (n <= 0 || (size_t)n >= sizeof(text)) {
			rc = tw_error_set(err, TW_E_INTERNAL, "the remote's messageID is too long");
			goto out;
		}
		if ((rc = tw_write_file(q->pending_path, text, (size_t)n, 0644, false, err)) !=
		    TW_OK)
			goto out;
		snprintf(note, sizeof(note), "%s; the messageID is kept in %s: rerun `%s` to "
			"collect the certificate (nothing is sent again)", rr.why, q->pending_path,
			q->rerun);
		if ((rc = grr_audit(store, who, q->object, "gwa.key-remote-wait", "pending",
		    "remote_pending", note, err)) != TW_OK)
			goto out;
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "%s", note);
		goto out;
	}
	case RENEWAL_REMOTE_UNREACHABLE:
		snprintf(note, sizeof(note), "%s; nothing changed: rerun `%s` when it is up",
			rr.why, q->rerun);
		if ((rc = grr_audit(store, who, q->object, "gwa.key-remote-wait", "error",
		    "remote_unreachable", note, err)) != TW_OK)
			goto out;
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "%s", note);
		goto out;
	default:
		break;
	}
	/* Refused (final for this request): the old certificate stays. */
	(void)unlink(q->pending_path);
	snprintf(detail, sizeof(detail), "%s: %s; nothing changed (the current GWA %s "
		"certificate stays)", pki_result_name(rr.code), rr.why, pki_usage_name(q->usage));
	tw_error_clear(&aerr);
	if ((rc = grr_audit(store, who, q->object, "gwa.key-remote-refused", "refused",
	    pki_result_name(rr.code), detail, &aerr)) != TW_OK) {
		*err = aerr;
		goto out;
	}
	rc = pki_result_rc(rr.code);
	if (rc == TW_OK)
		rc = TW_E_DENIED;
	rc = tw_error_set(err, rc, "%s", detail);
out:
	renewal_remote_result_clear(&rr);
	free(der);
	return rc;
}
