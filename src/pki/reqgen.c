/*
 * reqgen.c: build SM-PKI certificate requests (see reqgen.h, docs/pki-requests.md) with
 * OpenSSL's CRMF and CMS APIs: CertReqMessages with signature POPs, the BSI wrappers, the
 * renewal's outer SignedData and the GWA authorisation layer of SMGW requests.
 *
 * The CertReqMsgs mirror the independent reference request
 * (../shared/reference/sm-pki/initial-request.crmf.b64): order ENC, SIG, TLS; template
 * with subject, public key and the extensions SKI, SAN, keyUsage (+EKU on TLS).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "pki/reqgen.h"
#include "pki/request.h"

/* Digest by key size, the rule the signer applies (signer-protocol.md, signing rules). */
static const EVP_MD *reqgen_md(const EVP_PKEY *key)
{
	int bits = EVP_PKEY_get_bits(key);

	return bits <= 256 ? EVP_sha256() : bits <= 384 ? EVP_sha384() : EVP_sha512();
}

static tw_rc reqgen_push_ext(OSSL_CRMF_MSG *msg, int nid, void *value, struct tw_error *err)
{
	/* Not critical, as in the reference request; the CA sets criticality by profile. */
	X509_EXTENSION *ext = X509V3_EXT_i2d(nid, 0, value);

	if (ext == NULL || OSSL_CRMF_MSG_push0_extension(msg, ext) != 1) {
		X509_EXTENSION_free(ext);
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot add the %s extension",
			OBJ_nid2sn(nid));
	}
	return TW_OK;
}

static tw_rc reqgen_gn(GENERAL_NAMES *gens, int type, const char *value, struct tw_error *err)
{
	GENERAL_NAME *gn = NULL;
	ASN1_IA5STRING *ia5 = NULL;

	if (value == NULL)
		return TW_OK;
	gn = GENERAL_NAME_new();
	ia5 = ASN1_IA5STRING_new();
	if (gn == NULL || ia5 == NULL || ASN1_STRING_set(ia5, value, -1) != 1) {
		ASN1_IA5STRING_free(ia5);
		GENERAL_NAME_free(gn);
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode a subject alt name");
	}
	GENERAL_NAME_set0_value(gn, type, ia5);
	if (sk_GENERAL_NAME_push(gens, gn) <= 0) {
		GENERAL_NAME_free(gn);
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode a subject alt name");
	}
	return TW_OK;
}

/* SKI, SAN, keyUsage, EKU (TLS) in the reference request's order. */
static tw_rc reqgen_extensions(OSSL_CRMF_MSG *msg, enum pki_usage usage, EVP_PKEY *key,
	const struct reqgen_params *p, struct tw_error *err)
{
	const struct pki_subject *s = &p->subject;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	X509_PUBKEY *xpk = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	GENERAL_NAMES *san = NULL;
	ASN1_BIT_STRING *ku = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	tw_rc rc;

	/* RFC 5280 4.2.1.2 (1): SHA-1 of the subjectPublicKey BIT STRING. */
	if (X509_PUBKEY_set(&xpk, key) != 1 ||
	    (ski = ASN1_OCTET_STRING_new()) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the public key");
		goto out;
	}
	{
		const unsigned char *bits = NULL;
		int bits_len = 0;

		if (X509_PUBKEY_get0_param(NULL, &bits, &bits_len, NULL, xpk) != 1 ||
		    EVP_Digest(bits, (size_t)bits_len, md, &md_len, EVP_sha1(), NULL) != 1 ||
		    ASN1_OCTET_STRING_set(ski, md, (int)md_len) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot compute the key identifier");
			goto out;
		}
	}
	if ((rc = reqgen_push_ext(msg, NID_subject_key_identifier, ski, err)) != TW_OK)
		goto out;
	san = sk_GENERAL_NAME_new_null();
	if (san == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate the SAN");
		goto out;
	}
	if (usage == PKI_USAGE_TLS && (rc = reqgen_gn(san, GEN_DNS, s->dns_name, err)) != TW_OK)
		goto out;
	for (size_t k = 0; usage == PKI_USAGE_TLS && k < p->n_extra_dns &&
	    k < REQGEN_DNS_MAX; k++)
		if ((rc = reqgen_gn(san, GEN_DNS, p->extra_dns[k], err)) != TW_OK)
			goto out;
	if ((rc = reqgen_gn(san, GEN_EMAIL, s->email, err)) != TW_OK ||
	    (rc = reqgen_gn(san, GEN_URI, s->uri, err)) != TW_OK)
		goto out;
	if (sk_GENERAL_NAME_num(san) > 0 &&
	    (rc = reqgen_push_ext(msg, NID_subject_alt_name, san, err)) != TW_OK)
		goto out;
	ku = ASN1_BIT_STRING_new();
	if (ku == NULL || (usage == PKI_USAGE_ENC ?
	    ASN1_BIT_STRING_set_bit(ku, 2, 1) && ASN1_BIT_STRING_set_bit(ku, 4, 1) :
	    ASN1_BIT_STRING_set_bit(ku, 0, 1)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the key usage");
		goto out;
	}
	if ((rc = reqgen_push_ext(msg, NID_key_usage, ku, err)) != TW_OK)
		goto out;
	if (usage == PKI_USAGE_TLS) {
		eku = sk_ASN1_OBJECT_new_null();
		if (eku == NULL || sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) <= 0 ||
		    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) <= 0) {
			rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the EKU");
			goto out;
		}
		rc = reqgen_push_ext(msg, NID_ext_key_usage, eku, err);
	}
out:
	sk_ASN1_OBJECT_free(eku);   /* static objects (OBJ_nid2obj) */
	ASN1_BIT_STRING_free(ku);
	GENERAL_NAMES_free(san);
	ASN1_OCTET_STRING_free(ski);
	X509_PUBKEY_free(xpk);
	return rc;
}

static tw_rc reqgen_msg(const struct reqgen_params *p, enum pki_usage usage, int rid,
	const X509_NAME *name, OSSL_CRMF_MSGS *msgs, struct tw_error *err)
{
	EVP_PKEY *key = p->keys[usage];
	OSSL_CRMF_MSG *msg = OSSL_CRMF_MSG_new();
	tw_rc rc;

	if (msg == NULL || OSSL_CRMF_MSG_set_certReqId(msg, rid) != 1 ||
	    OSSL_CRMF_CERTTEMPLATE_fill(OSSL_CRMF_MSG_get0_tmpl(msg), key, name, NULL, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot fill the %s template",
			pki_usage_name(usage));
		goto out;
	}
	if ((rc = reqgen_extensions(msg, usage, key, p, err)) != TW_OK)
		goto out;
	/* Signature POP over the CertRequest (RFC 4211 4.1, subject present). */
	if (OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, msg, key, reqgen_md(key),
	    NULL, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO,
			"cannot sign the proof of possession of the %s key", pki_usage_name(usage));
		goto out;
	}
	if (sk_OSSL_CRMF_MSG_push(msgs, msg) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot collect the CertReqMsgs");
		goto out;
	}
	msg = NULL;
	rc = TW_OK;
out:
	OSSL_CRMF_MSG_free(msg);
	return rc;
}

/* Renewal: CMS SignedData (eContentType id-bsiCertReqMsgs) by the current SIG key. */
static tw_rc reqgen_outer(const struct reqgen_params *p, const unsigned char *msgs_der,
	size_t msgs_len, unsigned char **out, size_t *out_len, struct tw_error *err);

tw_rc reqgen_renewal_wrap(X509 *outer_cert, EVP_PKEY *outer_key,
	const unsigned char *msgs_der, size_t msgs_len, unsigned char **out, size_t *out_len,
	struct tw_error *err)
{
	struct reqgen_params p;

	memset(&p, 0, sizeof(p));
	p.outer_cert = outer_cert;
	p.outer_key = outer_key;
	return reqgen_outer(&p, msgs_der, msgs_len, out, out_len, err);
}

static tw_rc reqgen_outer(const struct reqgen_params *p, const unsigned char *msgs_der,
	size_t msgs_len, unsigned char **out, size_t *out_len, struct tw_error *err)
{
	CMS_ContentInfo *cms = NULL;
	ASN1_OBJECT *ctype = NULL;
	BIO *in = NULL;
	unsigned char *ci = NULL;
	unsigned char *sd = NULL;
	size_t sd_len = 0;
	char oid[64];
	int ci_len;
	tw_rc rc;
	unsigned int flags = CMS_BINARY | CMS_PARTIAL;

	if (X509_check_private_key(p->outer_cert, p->outer_key) != 1) {
		rc = tw_error_set_openssl(err, TW_E_INVALID,
			"the current SIG key does not belong to the current SIG certificate");
		goto out;
	}
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags);
	ctype = OBJ_txt2obj(REQUEST_OID_INITIAL, 1);
	in = BIO_new_mem_buf(msgs_der, (int)msgs_len);
	if (cms == NULL || ctype == NULL || in == NULL ||
	    CMS_set1_eContentType(cms, ctype) != 1 ||
	    CMS_add1_signer(cms, p->outer_cert, p->outer_key, reqgen_md(p->outer_key),
		CMS_BINARY) == NULL ||
	    CMS_final(cms, in, NULL, CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign the renewal");
		goto out;
	}
	ci_len = i2d_CMS_ContentInfo(cms, &ci);
	if (ci_len <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the renewal");
		goto out;
	}
	/* ContentInfo { id-signedData, [0] SignedData } -> { id-bsiCertReqMsgsWithOuterSig, ... } */
	if ((rc = request_unwrap(ci, (size_t)ci_len, oid, sizeof(oid), &sd, &sd_len, err)) != TW_OK)
		goto out;
	rc = request_wrap(REQUEST_OID_RENEWAL, sd, sd_len, out, out_len, err);
out:
	free(sd);
	OPENSSL_free(ci);
	BIO_free(in);
	ASN1_OBJECT_free(ctype);
	CMS_ContentInfo_free(cms);
	return rc;
}

tw_rc reqgen_build(const struct reqgen_params *p, bool allow_any_curve, unsigned char **der,
	size_t *der_len, struct tw_error *err)
{
	/* The reference request's order; certReqId counts from 0. */
	static const enum pki_usage order[] = { PKI_USAGE_ENC, PKI_USAGE_SIG, PKI_USAGE_TLS };
	OSSL_CRMF_MSGS *msgs = NULL;
	X509_NAME *name = NULL;
	unsigned char *msgs_der = NULL;
	int msgs_len;
	int rid = 0;
	tw_rc rc;

	*der = NULL;
	*der_len = 0;
	if ((rc = pki_subject_to_name(&p->subject, &name, err)) != TW_OK)
		goto out;
	if ((p->outer_cert == NULL) != (p->outer_key == NULL)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"a renewal needs both the current SIG certificate and its key");
		goto out;
	}
	msgs = sk_OSSL_CRMF_MSG_new_null();
	if (msgs == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate CertReqMessages");
		goto out;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		EVP_PKEY *key = p->keys[order[i]];
		int nid;

		if (key == NULL)
			continue;
		nid = keys_ec_curve_nid(key);
		if (!allow_any_curve && !pki_curve_allowed(nid)) {
			rc = tw_error_set(err, TW_E_INVALID,
				"the %s key is on %s; SM-PKI requests need brainpoolP256r1/P384r1/P512r1",
				pki_usage_name(order[i]), nid != NID_undef ? OBJ_nid2sn(nid) : "no EC curve");
			goto out;
		}
		if ((rc = reqgen_msg(p, order[i], rid++, name, msgs, err)) != TW_OK)
			goto out;
	}
	if (rid == 0 || (p->outer_cert == NULL && rid != 3)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"an initial request needs TLS, SIG and ENC keys; a renewal at least one");
		goto out;
	}
	msgs_len = i2d_OSSL_CRMF_MSGS(msgs, &msgs_der);
	if (msgs_len <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the CertReqMessages");
		goto out;
	}
	if (p->outer_cert == NULL)
		rc = request_wrap(REQUEST_OID_INITIAL, msgs_der, (size_t)msgs_len, der, der_len, err);
	else
		rc = reqgen_outer(p, msgs_der, (size_t)msgs_len, der, der_len, err);
out:
	OPENSSL_free(msgs_der);
	sk_OSSL_CRMF_MSG_pop_free(msgs, OSSL_CRMF_MSG_free);
	X509_NAME_free(name);
	return rc;
}

/* ---------------- GWA authorisation ---------------- */

/* Makes the raw ECDSA signature (DER Ecdsa-Sig-Value) over data; *sig malloc'ed. */
typedef tw_rc (*reqgen_sign_fn)(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err);

struct reqgen_signer_ctx {
	struct signer_client *sc;
	const char *label;
};

static tw_rc reqgen_sign_signer(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	struct reqgen_signer_ctx *s = ctx;

	return signer_sign_data(s->sc, s->label, SIGNER_PURPOSE_AUTHORISATION, data, len, sig,
		sig_len, err);
}

static tw_rc reqgen_sign_key(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	EVP_PKEY *key = ctx;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = 0;
	tw_rc rc = TW_OK;

	*sig = NULL;
	if (md == NULL || EVP_DigestSignInit(md, NULL, reqgen_md(key), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &n, data, len) != 1 || (*sig = malloc(n)) == NULL ||
	    EVP_DigestSign(md, *sig, &n, data, len) != 1) {
		free(*sig);
		*sig = NULL;
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign the authorisation");
	} else {
		*sig_len = n;
	}
	EVP_MD_CTX_free(md);
	return rc;
}

/*
 * ContentInfo(SignedData): eContentType id-data, eContent = the SMGW request, one
 * SignerInfo of gwa_cert without signed attributes, so that its signature is a plain
 * ECDSA signature over the request (RFC 5652 5.4, allowed for id-data): exactly what the
 * signer's SIGN_DATA produces, and no CMS code has to run near the key.
 */
static tw_rc reqgen_authorise(reqgen_sign_fn sign, void *ctx, X509 *gwa_cert,
	const unsigned char *req, size_t req_len, unsigned char **out, size_t *out_len,
	struct tw_error *err)
{
	CMS_ContentInfo *cms = NULL;
	CMS_ContentInfo *check = NULL;
	CMS_SignerInfo *si;
	ASN1_OCTET_STRING **pos;
	EVP_PKEY *pub = X509_get0_pubkey(gwa_cert);
	unsigned char *sig = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t sig_len = 0;
	int der_len;
	tw_rc rc;

	*out = NULL;
	*out_len = 0;
	if (pub == NULL || req_len == 0 || req_len > REQUEST_MAX_BYTES) {
		rc = tw_error_set(err, TW_E_INVALID,
			"nothing to authorise, or no public key in the GWA certificate");
		goto out;
	}
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	/* A public key suffices: with CMS_NOATTR nothing is signed until we set the value. */
	si = cms != NULL ? CMS_add1_signer(cms, gwa_cert, pub, reqgen_md(pub),
		CMS_NOATTR | CMS_PARTIAL | CMS_BINARY) : NULL;
	pos = cms != NULL ? CMS_get0_content(cms) : NULL;
	if (si == NULL || pos == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot prepare the authorisation");
		goto out;
	}
	ASN1_OCTET_STRING_free(*pos);
	*pos = ASN1_OCTET_STRING_new();
	if (*pos == NULL || ASN1_OCTET_STRING_set(*pos, req, (int)req_len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot embed the request");
		goto out;
	}
	if ((rc = sign(ctx, req, req_len, &sig, &sig_len, err)) != TW_OK)
		goto out;
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot store the signature");
		goto out;
	}
	der_len = i2d_CMS_ContentInfo(cms, &der);
	if (der_len <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the authorisation");
		goto out;
	}
	/* Trust but verify: a wrong key label must not leave here as an authorisation. */
	p = der;
	check = d2i_CMS_ContentInfo(NULL, &p, der_len);
	if (check == NULL || CMS_verify(check, NULL, NULL, NULL, NULL,
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO,
			"the authorisation signature does not verify with the GWA certificate; check "
			"that the key and the certificate belong together");
		goto out;
	}
	if ((*out = malloc((size_t)der_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, der, (size_t)der_len);
	*out_len = (size_t)der_len;
out:
	free(sig);
	OPENSSL_free(der);
	CMS_ContentInfo_free(check);
	CMS_ContentInfo_free(cms);
	return rc;
}

tw_rc reqgen_authorise_signer(struct signer_client *sc, const char *label, X509 *gwa_cert,
	const unsigned char *req, size_t req_len, unsigned char **out, size_t *out_len,
	struct tw_error *err)
{
	struct reqgen_signer_ctx ctx = { sc, label };

	return reqgen_authorise(reqgen_sign_signer, &ctx, gwa_cert, req, req_len, out, out_len,
		err);
}

tw_rc reqgen_authorise_key(EVP_PKEY *gwa_key, X509 *gwa_cert, const unsigned char *req,
	size_t req_len, unsigned char **out, size_t *out_len, struct tw_error *err)
{
	*out = NULL;
	if (X509_check_private_key(gwa_cert, gwa_key) != 1)
		return tw_error_set_openssl(err, TW_E_INVALID,
			"the GWA key does not belong to the GWA certificate");
	return reqgen_authorise(reqgen_sign_key, gwa_key, gwa_cert, req, req_len, out, out_len,
		err);
}

tw_rc reqgen_base64(const unsigned char *der, size_t len, char **out, struct tw_error *err)
{
	BIO *b64 = BIO_new(BIO_f_base64());
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (b64 == NULL || mem == NULL || len > REQUEST_MAX_BYTES) {
		BIO_free(b64);
		BIO_free(mem);
		return tw_error_set(err, TW_E_NOMEM, "cannot base64-encode the request");
	}
	b64 = BIO_push(b64, mem);
	if (BIO_write(b64, der, (int)len) != (int)len || BIO_flush(b64) != 1 ||
	    (n = BIO_get_mem_data(mem, &data)) <= 0 || (*out = malloc((size_t)n + 1)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot base64-encode the request");
	} else {
		memcpy(*out, data, (size_t)n);
		(*out)[n] = '\0';
	}
	BIO_free_all(b64);
	return rc;
}
