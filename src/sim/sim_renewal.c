/*
 * sim_renewal.c: the simulated gateway's side of certificate renewal (UC-3.3.3,
 * docs/renewal.md). Real keys, real requests:
 *
 *   cert-request  new brainpoolP256r1 TLS, SIG and ENC key pairs, kept in
 *                 DIR/renew-<renewal>/ (mode 0600) until installed; the answer is a CRMF
 *                 request in the BSI renewal wrapper (bsiCertReqMsgsWithOuterSig) signed
 *                 with the gateway's current SIG key (pki/reqgen.c), with the subject of
 *                 its current certificates.
 *   cert-install  checks each certificate against the pending key of its usage and its
 *                 chain against the gateway's root (a gateway never installs a
 *                 certificate it cannot use), then replaces key and certificate of each
 *                 usage (TLS last), keeps the old ones in DIR/old-<renewal>/, and makes
 *                 the engine open its next connection with the new TLS certificate.
 *
 * Test hook (never in a real gateway): a file DIR/renewal-fault holding one of
 * foreign-subject (another gateway's id in the subject), old-sig-key (outer signature with
 * the SIG key and certificate the last renewal replaced), wrong-curve (NIST P-256 keys),
 * bad-pop (one proof of possession altered before the outer signature) makes the next
 * request faulty in that way, so tests can watch the GWA refuse it
 * (tests/integration/renewal.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "pki/reqgen.h"
#include "pki/request.h"
#include "sim/sim_crl_check.h"
#include "sim/sim_orders.h"

#define FAIL(c, rcode, ...) (*code = (c), tw_error_set(err, (rcode), __VA_ARGS__))

static const char *const sr_names[3] = { "tls", "sig", "enc" };
static const enum pki_usage sr_usages[3] = { PKI_USAGE_TLS, PKI_USAGE_SIG, PKI_USAGE_ENC };

static tw_rc sr_check_gateway(struct sim_gw *gw, const json_t *payload, int64_t *renewal,
	const char **code, struct tw_error *err)
{
	const json_t *id = json_object_get(payload, "gateway_id");
	const json_t *r = json_object_get(payload, "renewal");

	if (!json_is_string(id) || strcmp(json_string_value(id), gw->id) != 0)
		return FAIL("wrong_gateway", TW_E_DENIED, "order for another gateway");
	if (!json_is_integer(r) || json_integer_value(r) <= 0)
		return FAIL("invalid_order", TW_E_INVALID, "no renewal id");
	*renewal = json_integer_value(r);
	return TW_OK;
}

static char *sr_path(const char *dir, const char *sub, int64_t id, const char *file)
{
	return file != NULL ? tw_asprintf("%s/%s-%lld/%s", dir, sub, (long long)id, file) :
		tw_asprintf("%s/%s-%lld", dir, sub, (long long)id);
}

/* A copy of the first value of nid in name (caller frees), or NULL. */
static char *sr_name_text(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *s;
	int n;

	if (i < 0 || (n = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) < 0)
		return NULL;
	s = tw_asprintf("%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
	return s;
}

static char *sr_fault(struct sim_gw *gw)
{
	char *p = tw_asprintf("%s/renewal-fault", gw->dir);
	unsigned char *data = NULL;
	size_t len = 0;
	struct tw_error e;

	if (p == NULL || !tw_path_exists(p)) {
		free(p);
		return NULL;
	}
	if (tw_read_file(p, 64, &data, &len, &e) != TW_OK)
		data = NULL;
	unlink(p);   /* one faulty request per file */
	free(p);
	if (data != NULL)
		data[strcspn((char *)data, "\r\n")] = '\0';
	return (char *)data;
}

/* The SIG certificate and key the last installed renewal replaced (DIR/old-N/). */
static tw_rc sr_old_sig(struct sim_gw *gw, X509 **cert, EVP_PKEY **key, struct tw_error *err)
{
	const json_t *st = json_object_get(gw->state, "renewal");
	int64_t id = json_integer_value(json_object_get(st, "id"));
	char *c = sr_path(gw->dir, "old", id, "sig.crt"), *k = sr_path(gw->dir, "old", id,
		"sig.key");
	tw_rc rc;

	if (c == NULL || k == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if ((rc = keys_read_cert_pem(c, cert, err)) == TW_OK)
		rc = keys_read_private_pem(k, key, err);
	free(c);
	free(k);
	return rc;
}

/*
 * An initial request's CertReqMessages with the last octet of the first CertReqMsg (the
 * end of its POP signature's s value) flipped, then wrapped and signed as a renewal: the
 * outer signature is valid, the proof of possession is not.
 */
static tw_rc sr_bad_pop(const struct reqgen_params *p, unsigned char **der, size_t *len,
	struct tw_error *err)
{
	struct reqgen_params initial = *p;
	unsigned char *req = NULL, *msgs = NULL;
	size_t req_len = 0, msgs_len = 0;
	const unsigned char *q;
	char oid[64];
	long body, first;
	int tag, cls;
	tw_rc rc;

	initial.outer_cert = NULL;
	initial.outer_key = NULL;
	if ((rc = reqgen_build(&initial, false, &req, &req_len, err)) != TW_OK ||
	    (rc = request_unwrap(req, req_len, oid, sizeof(oid), &msgs, &msgs_len, err)) !=
	    TW_OK)
		goto out;
	q = msgs;
	if ((ASN1_get_object(&q, &body, &tag, &cls, (long)msgs_len) & 0x80) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot walk the CertReqMessages");
		goto out;
	}
	if ((ASN1_get_object(&q, &first, &tag, &cls, body) & 0x80) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot walk the first CertReqMsg");
		goto out;
	}
	msgs[(size_t)(q - msgs) + (size_t)first - 1] ^= 0x01;
	rc = reqgen_renewal_wrap(p->outer_cert, p->outer_key, msgs, msgs_len, der, len, err);
out:
	free(req);
	free(msgs);
	return rc;
}

static tw_rc sr_request(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	struct reqgen_params p;
	EVP_PKEY *keys[3] = { NULL }, *outer_key = NULL, *old_key = NULL;
	X509 *tls = NULL, *sig = NULL, *old_sig = NULL;
	char *dir = NULL, *path = NULL, *cn = NULL, *o = NULL, *ou = NULL, *c = NULL,
		*sn = NULL, *b64 = NULL, *fault = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	int64_t renewal = 0;
	tw_rc rc;

	memset(&p, 0, sizeof(p));
	if ((rc = sr_check_gateway(gw, payload, &renewal, code, err)) != TW_OK)
		return rc;
	fault = sr_fault(gw);
	if ((path = tw_asprintf("%s/tls.crt", gw->dir)) == NULL ||
	    (rc = keys_read_cert_pem(path, &tls, err)) != TW_OK)
		goto fail;
	free(path);
	if ((path = tw_asprintf("%s/sig.crt", gw->dir)) == NULL ||
	    (rc = keys_read_cert_pem(path, &sig, err)) != TW_OK)
		goto fail;
	if ((outer_key = sim_gw_sig_key(gw, err)) == NULL) {
		rc = TW_E_CRYPTO;
		goto fail;
	}
	cn = sr_name_text(X509_get_subject_name(tls), NID_commonName);
	o = sr_name_text(X509_get_subject_name(tls), NID_organizationName);
	ou = sr_name_text(X509_get_subject_name(tls), NID_organizationalUnitName);
	c = sr_name_text(X509_get_subject_name(tls), NID_countryName);
	sn = sr_name_text(X509_get_subject_name(tls), NID_serialNumber);
	if (fault != NULL && strcmp(fault, "foreign-subject") == 0) {
		free(cn);
		free(sn);
		cn = tw_strdup("SOMEBODY-ELSE");
		sn = tw_strdup("SOMEBODY-ELSE");
	}
	p.subject = (struct pki_subject){ .common_name = cn, .organization = o, .org_unit = ou,
		.country = c, .serial_number = sn };
	for (size_t i = 0; i < 3; i++) {
		int nid = fault != NULL && strcmp(fault, "wrong-curve") == 0 ?
			NID_X9_62_prime256v1 : NID_brainpoolP256r1;

		if ((rc = keys_generate_ec(nid, &keys[i], err)) != TW_OK)
			goto fail;
		p.keys[sr_usages[i]] = keys[i];
	}
	p.outer_cert = sig;
	p.outer_key = outer_key;
	if (fault != NULL && strcmp(fault, "old-sig-key") == 0 &&
	    (rc = sr_old_sig(gw, &old_sig, &old_key, err)) != TW_OK)
		goto fail;
	if (old_sig != NULL) {
		p.outer_cert = old_sig;
		p.outer_key = old_key;
	}
	if (fault != NULL && strcmp(fault, "bad-pop") == 0) {
		rc = sr_bad_pop(&p, &der, &der_len, err);
		if (rc != TW_OK)
			goto fail;
	} else if ((rc = reqgen_build(&p, fault != NULL, &der, &der_len, err)) != TW_OK) {
		goto fail;
	}
	/* Keep the new keys until the installation (never sent anywhere). */
	if ((dir = sr_path(gw->dir, "renew", renewal, NULL)) == NULL ||
	    (rc = tw_mkdir_p(dir, 0700, err)) != TW_OK)
		goto fail;
	for (size_t i = 0; i < 3; i++) {
		char file[16];

		free(path);
		snprintf(file, sizeof(file), "%s.key", sr_names[i]);
		if ((path = sr_path(gw->dir, "renew", renewal, file)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto fail;
		}
		unlink(path);
		if ((rc = keys_write_private_pem(path, keys[i], err)) != TW_OK)
			goto fail;
	}
	if ((rc = reqgen_base64(der, der_len, &b64, err)) != TW_OK)
		goto fail;
	*result = json_pack("{s:s, s:s}", "gateway_id", gw->id, "request", b64);
	if (*result == NULL || json_object_set_new(gw->state, "renewal",
	    json_pack("{s:I, s:s}", "id", (json_int_t)renewal, "state", "requested")) != 0)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
fail:
	if (rc != TW_OK && *code == NULL)
		*code = "renewal_failed";
	for (size_t i = 0; i < 3; i++)
		EVP_PKEY_free(keys[i]);
	EVP_PKEY_free(old_key);
	X509_free(old_sig);
	X509_free(tls);
	X509_free(sig);
	free(dir);
	free(path);
	free(cn);
	free(o);
	free(ou);
	free(c);
	free(sn);
	free(b64);
	free(der);
	free(fault);
	return rc;
}

/* The certificate must chain to the gateway's root (DIR/root-ca.crt, DIR/chain.pem). */
tw_rc sim_verify_chain(struct sim_gw *gw, X509 *cert, struct tw_error *err)
{
	char *root = tw_asprintf("%s/root-ca.crt", gw->dir);
	char *chain = tw_asprintf("%s/chain.pem", gw->dir);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	BIO *b = NULL;
	X509 *x;
	tw_rc rc = TW_OK;

	if (root == NULL || chain == NULL || st == NULL || ctx == NULL || untrusted == NULL ||
	    X509_STORE_load_file(st, root) != 1 || (b = BIO_new_file(chain, "r")) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot load the gateway's trust");
		goto out;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(untrusted, x) <= 0) {
			X509_free(x);
			break;
		}
	ERR_clear_error();
	if (X509_STORE_CTX_init(ctx, st, cert, untrusted) != 1 || X509_verify_cert(ctx) != 1)
		rc = tw_error_set(err, TW_E_CRYPTO, "certificate does not chain to the gateway's "
			"root: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	BIO_free(b);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	free(root);
	free(chain);
	return rc;
}

static X509 *sr_pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

/* Move DIR/name to DIR/old-N/name (the old key material stays on the device's disk). */
static tw_rc sr_keep_old(struct sim_gw *gw, int64_t renewal, const char *name,
	struct tw_error *err)
{
	char *from = tw_asprintf("%s/%s", gw->dir, name);
	char *to = sr_path(gw->dir, "old", renewal, name);
	tw_rc rc = TW_OK;

	if (from == NULL || to == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if (tw_path_exists(from) && rename(from, to) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot keep %s: %s", from, strerror(errno));
	free(from);
	free(to);
	return rc;
}

static tw_rc sr_install(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *certs = json_object_get(payload, "certificates");
	const json_t *st = json_object_get(gw->state, "renewal");
	X509 *x[3] = { NULL };
	EVP_PKEY *k[3] = { NULL };
	char *path = NULL, *old = NULL, fp[65];
	int64_t renewal = 0;
	tw_rc rc;

	if ((rc = sr_check_gateway(gw, payload, &renewal, code, err)) != TW_OK)
		return rc;
	if (!json_is_object(st) || json_integer_value(json_object_get(st, "id")) != renewal)
		return FAIL("unknown_renewal", TW_E_NOT_FOUND, "no pending keys for renewal %lld",
			(long long)renewal);
	if (!json_is_object(certs))
		return FAIL("invalid_order", TW_E_INVALID, "no certificates");
	for (size_t i = 0; i < 3; i++) {
		const json_t *pem = json_object_get(certs, pki_usage_name(sr_usages[i]));
		char file[16];

		snprintf(file, sizeof(file), "%s.key", sr_names[i]);
		free(path);
		if ((path = sr_path(gw->dir, "renew", renewal, file)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if (!json_is_string(pem) || (x[i] = sr_pem_cert(json_string_value(pem))) == NULL) {
			rc = FAIL("invalid_certificate", TW_E_INVALID, "no readable %s certificate",
				pki_usage_name(sr_usages[i]));
			goto out;
		}
		if ((rc = keys_read_private_pem(path, &k[i], err)) != TW_OK) {
			*code = "unknown_renewal";
			goto out;
		}
		if (X509_check_private_key(x[i], k[i]) != 1) {
			rc = FAIL("key_mismatch", TW_E_CRYPTO, "the %s certificate is not for the key "
				"this gateway generated", pki_usage_name(sr_usages[i]));
			goto out;
		}
		if ((rc = sim_verify_chain(gw, x[i], err)) != TW_OK) {
			*code = "untrusted_certificate";
			goto out;
		}
		if (sim_crl_revoked(gw, x[i])) {   /* T-SZ.9: the gateway enforces its CRLs */
			rc = FAIL("certificate_revoked", TW_E_DENIED, "the %s certificate is revoked "
				"by a CRL this gateway holds", pki_usage_name(sr_usages[i]));
			goto out;
		}
	}
	/* Install: SIG and ENC first, TLS last (the next connection uses the new TLS key). */
	if ((old = sr_path(gw->dir, "old", renewal, NULL)) == NULL ||
	    (rc = tw_mkdir_p(old, 0700, err)) != TW_OK)
		goto out;
	for (size_t j = 0; j < 3; j++) {
		size_t i = 2 - j;   /* enc, sig, tls */
		char name[16], *dst = NULL;

		snprintf(name, sizeof(name), "%s.key", sr_names[i]);
		if ((rc = sr_keep_old(gw, renewal, name, err)) != TW_OK)
			goto out;
		if ((dst = tw_asprintf("%s/%s", gw->dir, name)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		rc = keys_write_private_pem(dst, k[i], err);
		free(dst);
		if (rc != TW_OK)
			goto out;
		snprintf(name, sizeof(name), "%s.crt", sr_names[i]);
		if ((rc = sr_keep_old(gw, renewal, name, err)) != TW_OK)
			goto out;
		if ((dst = tw_asprintf("%s/%s", gw->dir, name)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		rc = keys_write_certs_pem(dst, &x[i], 1, err);
		free(dst);
		if (rc != TW_OK)
			goto out;
	}
	/* The cached SIG key is the old one now. */
	EVP_PKEY_free(gw->sig_key);
	gw->sig_key = NULL;
	gw->reload_tls = true;
	if ((rc = keys_cert_fingerprint(x[0], fp, err)) != TW_OK)
		goto out;
	*result = json_pack("{s:s, s:s}", "gateway_id", gw->id, "tls_fingerprint", fp);
	if (*result == NULL || json_object_set_new(gw->state, "renewal",
	    json_pack("{s:I, s:s, s:s}", "id", (json_int_t)renewal, "state", "installed",
		"tls_fingerprint", fp)) != 0)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	if (rc != TW_OK && *code == NULL)
		*code = "install_failed";
	for (size_t i = 0; i < 3; i++) {
		X509_free(x[i]);
		EVP_PKEY_free(k[i]);
	}
	free(path);
	free(old);
	return rc;
}

const struct sim_order_handler sim_order_cert_request = {
	.type = "cert-request",
	.execute = sr_request,
};

const struct sim_order_handler sim_order_cert_install = {
	.type = "cert-install",
	.execute = sr_install,
};

/* ---- crl-update: the gateway applies CRLs of its SM-PKI (renewal_crl.c) ---- */

/* The certificate in DIR/chain.pem or DIR/root-ca.crt whose subject is name, or NULL. */
static X509 *sr_issuer_of(struct sim_gw *gw, const X509_NAME *name)
{
	static const char *const files[] = { "chain.pem", "root-ca.crt" };
	X509 *found = NULL;

	for (size_t i = 0; i < 2 && found == NULL; i++) {
		char *p = tw_asprintf("%s/%s", gw->dir, files[i]);
		BIO *b = p != NULL ? BIO_new_file(p, "r") : NULL;
		X509 *x;

		while (b != NULL && found == NULL &&
		       (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			if (X509_NAME_cmp(X509_get_subject_name(x), name) == 0)
				found = x;
			else
				X509_free(x);
		}
		ERR_clear_error();
		BIO_free(b);
		free(p);
	}
	return found;
}

static tw_rc sr_crl(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *id = json_object_get(payload, "gateway_id");
	const json_t *crls = json_object_get(payload, "crls");
	json_t *held = json_object_get(gw->state, "crls"), *applied = json_array(), *v;
	tw_rc rc = TW_OK;
	size_t i;

	if (!json_is_string(id) || strcmp(json_string_value(id), gw->id) != 0) {
		json_decref(applied);
		return FAIL("wrong_gateway", TW_E_DENIED, "order for another gateway");
	}
	if (!json_is_object(held)) {
		held = json_object();
		if (held == NULL || json_object_set_new(gw->state, "crls", held) != 0) {
			json_decref(applied);
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
	}
	json_array_foreach(crls, i, v) {
		unsigned char *der = NULL;
		size_t len = 0;
		const unsigned char *p;
		X509_CRL *crl = NULL;
		X509 *issuer = NULL;
		ASN1_INTEGER *num = NULL;
		int64_t n = -1;
		char name[512];
		const json_t *old;

		if (!json_is_string(v) || request_decode((const unsigned char *)json_string_value(v),
		    json_string_length(v), &der, &len, err) != TW_OK) {
			rc = FAIL("invalid_crl", TW_E_INVALID, "CRL %zu is not base64 DER", i);
			break;
		}
		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL ||
		    (num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) == NULL ||
		    ASN1_INTEGER_get_int64(&n, num) != 1) {
			rc = FAIL("invalid_crl", TW_E_INVALID, "CRL %zu has no CRL number", i);
		} else if ((issuer = sr_issuer_of(gw, X509_CRL_get_issuer(crl))) == NULL) {
			rc = FAIL("unknown_issuer", TW_E_DENIED, "CRL %zu is from a CA this gateway "
				"does not trust", i);
		} else if (X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1) {
			rc = FAIL("crl_bad_signature", TW_E_CRYPTO, "CRL %zu does not verify with its "
				"issuer's key", i);
		} else {
			X509_NAME_oneline(X509_CRL_get_issuer(crl), name, sizeof(name));
			old = json_object_get(held, name);
			if (json_is_object(old) &&
			    json_integer_value(json_object_get(old, "number")) > n)
				rc = FAIL("crl_outdated", TW_E_DENIED, "CRL %zu (number %lld) is older "
					"than the one held", i, (long long)n);
			else if (json_object_set_new(held, name, json_pack("{s:I, s:s}", "number",
				 (json_int_t)n, "der", json_string_value(v))) != 0 ||
				 json_array_append_new(applied, json_integer(n)) != 0)
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
		ASN1_INTEGER_free(num);
		X509_CRL_free(crl);
		X509_free(issuer);
		free(der);
		if (rc != TW_OK)
			break;
	}
	if (rc == TW_OK && (*result = json_pack("{s:s, s:O}", "gateway_id", gw->id, "applied",
	    applied)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	/* Held profiles whose partner the new CRLs revoke (sim_crl_check.c). */
	if (rc == TW_OK) {
		json_t *revoked = sim_crl_revoked_partners(gw);

		if (json_array_size(revoked) > 0)
			json_object_set(*result, "revoked_partners", revoked);
		json_decref(revoked);
	}
	json_decref(applied);
	return rc;
}

bool sim_crl_revoked(struct sim_gw *gw, X509 *cert)
{
	const json_t *held = json_object_get(gw->state, "crls");
	const char *k;
	json_t *v;
	bool revoked = false;

	json_object_foreach((json_t *)held, k, v) {
		const char *b64 = json_string_value(json_object_get(v, "der"));
		unsigned char *der = NULL;
		size_t len = 0;
		const unsigned char *p;
		X509_CRL *crl;
		X509_REVOKED *r = NULL;
		struct tw_error e;

		if (b64 == NULL || request_decode((const unsigned char *)b64, strlen(b64), &der,
		    &len, &e) != TW_OK)
			continue;
		p = der;
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL &&
		    X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) == 0 &&
		    X509_CRL_get0_by_serial(crl, &r, X509_get0_serialNumber(cert)) == 1)
			revoked = true;
		X509_CRL_free(crl);
		free(der);
		(void)k;
		if (revoked)
			break;
	}
	return revoked;
}

const struct sim_order_handler sim_order_crl_update = {
	.type = "crl-update",
	.execute = sr_crl,
};
