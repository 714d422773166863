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

/* Bytes of a DER length field for len. */
static size_t reqgen_len_size(size_t len)
{
	return len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 4;
}

/* Tag and length at *q (len < 2^24: requests are at most REQUEST_MAX_BYTES). */
static void reqgen_put_head(unsigned char **q, unsigned char tag, size_t len)
{
	unsigned char *p = *q;
	size_t n = reqgen_len_size(len);

	*p++ = tag;
	if (n == 1) {
		*p++ = (unsigned char)len;
	} else {
		*p++ = (unsigned char)(0x80 | (n - 1));
		for (size_t k = n - 1; k > 0; k--)
			*p++ = (unsigned char)(len >> (8 * (k - 1)));
	}
	*q = p;
}

/* ecdsa-with-SHA256/384/512 for pub, DER AlgorithmIdentifier (no parameters). */
static tw_rc reqgen_sig_alg(EVP_PKEY *pub, unsigned char **der, int *len,
	struct tw_error *err)
{
	X509_ALGOR *alg = X509_ALGOR_new();
	int sig_nid = NID_undef;
	tw_rc rc = TW_OK;

	*der = NULL;
	if (alg == NULL || OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(reqgen_md(pub)),
	    NID_X9_62_id_ecPublicKey) != 1 ||
	    X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid), V_ASN1_UNDEF, NULL) != 1 ||
	    (*len = i2d_X509_ALGOR(alg, der)) <= 0)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the signature algorithm");
	X509_ALGOR_free(alg);
	return rc;
}

/*
 * The signature POP of *msg (RFC 4211 4.1: POPOSigningKey without poposkInput, the
 * signature over DER(CertRequest)) made by a key held elsewhere: what
 * OSSL_CRMF_MSG_create_popo does with a private key, built around the signature h->sign
 * returns. *msg is replaced by the message with its POP.
 */
static tw_rc reqgen_popo_held(OSSL_CRMF_MSG **msg, const struct reqgen_signer *h,
	enum pki_usage usage, struct tw_error *err)
{
	unsigned char *der = NULL, *sig = NULL, *alg = NULL, *buf = NULL, *q;
	const unsigned char *p, *req, *cp;
	OSSL_CRMF_MSG *signed_msg = NULL;
	size_t req_len, sig_len = 0, bits_len, popo_len, body_len, total;
	long n = 0;
	int der_len, alg_len = 0, tag = 0, cls = 0, inf;
	tw_rc rc;

	/* Without a POP the CertReqMsg is SEQUENCE { CertRequest }: its content is the
	 * CertRequest element the signature covers. */
	der_len = i2d_OSSL_CRMF_MSG(*msg, &der);
	p = der;
	inf = der_len > 0 ? ASN1_get_object(&p, &n, &tag, &cls, der_len) : 0x80;
	if ((inf & 0x80) || tag != V_ASN1_SEQUENCE || n <= 0 || p + n != der + der_len) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the %s CertRequest",
			pki_usage_name(usage));
		goto out;
	}
	req = p;
	req_len = (size_t)n;
	if ((rc = h->sign(h->ctx, req, req_len, &sig, &sig_len, err)) != TW_OK)
		goto out;
	if (sig_len == 0 || sig_len > 256) {
		rc = tw_error_set(err, TW_E_CRYPTO, "the %s key's signer answered a signature of "
			"%zu bytes", pki_usage_name(usage), sig_len);
		goto out;
	}
	if ((rc = reqgen_sig_alg(h->pub, &alg, &alg_len, err)) != TW_OK)
		goto out;
	/* [1] IMPLICIT POPOSigningKey { AlgorithmIdentifier, BIT STRING (no unused bits) } */
	bits_len = sig_len + 1;
	popo_len = (size_t)alg_len + 1 + reqgen_len_size(bits_len) + bits_len;
	body_len = req_len + 1 + reqgen_len_size(popo_len) + popo_len;
	total = 1 + reqgen_len_size(body_len) + body_len;
	if ((buf = malloc(total)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	q = buf;
	reqgen_put_head(&q, 0x30, body_len);
	memcpy(q, req, req_len);
	q += req_len;
	reqgen_put_head(&q, 0xa1, popo_len);
	memcpy(q, alg, (size_t)alg_len);
	q += alg_len;
	reqgen_put_head(&q, 0x03, bits_len);
	*q++ = 0x00;
	memcpy(q, sig, sig_len);
	q += sig_len;
	cp = buf;
	signed_msg = d2i_OSSL_CRMF_MSG(NULL, &cp, (long)total);
	if (signed_msg == NULL || cp != buf + total || q != buf + total) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot assemble the proof of "
			"possession of the %s key", pki_usage_name(usage));
		goto out;
	}
	OSSL_CRMF_MSG_free(*msg);
	*msg = signed_msg;
	signed_msg = NULL;
	rc = TW_OK;
out:
	OSSL_CRMF_MSG_free(signed_msg);
	free(buf);
	free(sig);
	OPENSSL_free(alg);
	OPENSSL_free(der);
	return rc;
}

static tw_rc reqgen_msg(const struct reqgen_params *p, enum pki_usage usage, int rid,
	const X509_NAME *name, OSSL_CRMF_MSGS *msgs, struct tw_error *err)
{
	/* The public half suffices for the template; the POP needs the private key or the
	 * held key's signer. */
	EVP_PKEY *key = p->keys[usage] != NULL ? p->keys[usage] : p->held[usage].pub;
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
	if (p->keys[usage] == NULL) {
		if ((rc = reqgen_popo_held(&msg, &p->held[usage], usage, err)) != TW_OK)
			goto out;
	} else if (OSSL_CRMF_MSG_create_popo(OSSL_CRMF_POPO_SIGNATURE, msg, key, reqgen_md(key),
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

/* One DER attribute of the signed attributes, for sorting them as DER sorts a SET OF. */
struct reqgen_attr {
	unsigned char *der;
	int len;
};

static int reqgen_attr_cmp(const void *a, const void *b)
{
	const struct reqgen_attr *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->der, y->der, (size_t)n);

	return c != 0 ? c : x->len - y->len;
}

/*
 * The renewal's outer SignedData with the current SIG key held elsewhere: signed
 * attributes (required for an eContentType other than id-data, RFC 5652 5.3) whose DER
 * SET the held key signs. OpenSSL cannot sign with a key it does not hold, so the
 * attributes are added here, encoded in DER order (as OpenSSL encodes them in the
 * SignerInfo), signed, and the result verified before it leaves.
 */
static tw_rc reqgen_outer_held(const struct reqgen_params *p, const unsigned char *msgs_der,
	size_t msgs_len, unsigned char **out, size_t *out_len, struct tw_error *err)
{
	const struct reqgen_signer *h = &p->outer_held;
	EVP_PKEY *pub = X509_get0_pubkey(p->outer_cert);
	CMS_ContentInfo *cms = NULL, *check = NULL;
	CMS_SignerInfo *si = NULL;
	ASN1_OCTET_STRING **pos = NULL;
	ASN1_OBJECT *ctype = NULL;
	ASN1_TIME *now = NULL;
	struct reqgen_attr attrs[8];
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned char *set = NULL, *sig = NULL, *ci = NULL, *sd = NULL, *q;
	const unsigned char *cp;
	unsigned int dlen = 0;
	size_t set_body = 0, set_len, sig_len = 0, sd_len = 0;
	int nattr = 0, ci_len;
	char oid[64];
	tw_rc rc;

	memset(attrs, 0, sizeof(attrs));
	if (pub == NULL || h->pub == NULL || EVP_PKEY_eq(pub, h->pub) != 1) {
		rc = tw_error_set(err, TW_E_INVALID, "the current SIG key held by the signer does "
			"not belong to the current SIG certificate");
		goto out;
	}
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	ctype = OBJ_txt2obj(REQUEST_OID_INITIAL, 1);
	now = X509_gmtime_adj(NULL, 0);
	if (cms != NULL && ctype != NULL && now != NULL && CMS_set1_eContentType(cms, ctype) == 1)
		si = CMS_add1_signer(cms, p->outer_cert, pub, reqgen_md(pub),
			CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP);
	if (si != NULL)
		pos = CMS_get0_content(cms);
	if (si == NULL || pos == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot prepare the renewal's outer "
			"signature");
		goto out;
	}
	ASN1_OCTET_STRING_free(*pos);
	*pos = ASN1_OCTET_STRING_new();
	if (*pos == NULL || ASN1_OCTET_STRING_set(*pos, msgs_der, (int)msgs_len) != 1 ||
	    EVP_Digest(msgs_der, msgs_len, digest, &dlen, reqgen_md(pub), NULL) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, ctype,
		-1) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
		ASN1_STRING_type(now), now, -1) != 1 ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
		digest, (int)dlen) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot add the signed attributes");
		goto out;
	}
	nattr = CMS_signed_get_attr_count(si);
	if (nattr <= 0 || nattr > (int)(sizeof(attrs) / sizeof(attrs[0]))) {
		rc = tw_error_set(err, TW_E_CRYPTO, "unexpected signed attributes (%d)", nattr);
		nattr = 0;
		goto out;
	}
	for (int i = 0; i < nattr; i++) {
		attrs[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &attrs[i].der);
		if (attrs[i].len <= 0) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a signed attribute");
			goto out;
		}
		set_body += (size_t)attrs[i].len;
	}
	qsort(attrs, (size_t)nattr, sizeof(attrs[0]), reqgen_attr_cmp);
	set_len = 1 + reqgen_len_size(set_body) + set_body;
	if ((set = malloc(set_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	q = set;
	reqgen_put_head(&q, 0x31, set_body);
	for (int i = 0; i < nattr; i++) {
		memcpy(q, attrs[i].der, (size_t)attrs[i].len);
		q += attrs[i].len;
	}
	if ((rc = h->sign(h->ctx, set, set_len, &sig, &sig_len, err)) != TW_OK)
		goto out;
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len) != 1 ||
	    (ci_len = i2d_CMS_ContentInfo(cms, &ci)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the renewal");
		goto out;
	}
	/* Trust but verify: signature, message digest and the certificate's key. */
	cp = ci;
	check = d2i_CMS_ContentInfo(NULL, &cp, ci_len);
	if (check == NULL || CMS_verify(check, NULL, NULL, NULL, NULL,
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the renewal's outer signature made "
			"by the signer does not verify with the current SIG certificate");
		goto out;
	}
	if ((rc = request_unwrap(ci, (size_t)ci_len, oid, sizeof(oid), &sd, &sd_len, err)) !=
	    TW_OK)
		goto out;
	rc = request_wrap(REQUEST_OID_RENEWAL, sd, sd_len, out, out_len, err);
out:
	for (int i = 0; i < nattr; i++)
		OPENSSL_free(attrs[i].der);
	free(sd);
	free(sig);
	free(set);
	OPENSSL_free(ci);
	CMS_ContentInfo_free(check);
	ASN1_TIME_free(now);
	ASN1_OBJECT_free(ctype);
	CMS_ContentInfo_free(cms);
	return rc;
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

	if (p->outer_key == NULL && p->outer_held.sign != NULL)
		return reqgen_outer_held(p, msgs_der, msgs_len, out, out_len, err);
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
	bool held = false;
	tw_rc rc;

	*der = NULL;
	*der_len = 0;
	if (p->subject_name != NULL) {
		if ((name = X509_NAME_dup(p->subject_name)) == NULL) {
			rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot copy the subject");
			goto out;
		}
	} else if ((rc = pki_subject_to_name(&p->subject, &name, err)) != TW_OK) {
		goto out;
	}
	if ((p->outer_cert == NULL) != (p->outer_key == NULL && p->outer_held.sign == NULL) ||
	    (p->outer_key != NULL && p->outer_held.sign != NULL)) {
		rc = tw_error_set(err, TW_E_INVALID,
			"a renewal needs both the current SIG certificate and its key (one key)");
		goto out;
	}
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC; u++) {
		if (p->held[u].pub != NULL && (p->keys[u] != NULL || p->held[u].sign == NULL)) {
			rc = tw_error_set(err, TW_E_INVALID, "the %s key is given twice, or held "
				"without a signing function", pki_usage_name((enum pki_usage)u));
			goto out;
		}
		if (p->held[u].pub != NULL)
			held = true;
	}
	if (p->outer_held.sign != NULL)
		held = true;
	msgs = sk_OSSL_CRMF_MSG_new_null();
	if (msgs == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot allocate CertReqMessages");
		goto out;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		EVP_PKEY *key = p->keys[order[i]] != NULL ? p->keys[order[i]] :
			p->held[order[i]].pub;
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
	/* Signatures made elsewhere: the CA's own parser must accept what we hand out. */
	if (rc == TW_OK && held) {
		struct request *parsed = NULL;
		enum pki_result res;
		struct tw_error perr;

		if (request_parse(*der, *der_len, NULL, &parsed, &res, &perr) != TW_OK) {
			rc = tw_error_set(err, TW_E_CRYPTO, "the request made with the signer's keys "
				"does not verify (%s): %s", pki_result_name(res), perr.message);
			free(*der);
			*der = NULL;
			*der_len = 0;
		}
		request_free(parsed);
	}
out:
	OPENSSL_free(msgs_der);
	sk_OSSL_CRMF_MSG_pop_free(msgs, OSSL_CRMF_MSG_free);
	X509_NAME_free(name);
	return rc;
}

/* ---------------- GWA authorisation ---------------- */

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

tw_rc reqgen_sign_certreq(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	const struct reqgen_signer_key *k = ctx;

	return signer_sign_data(k->sc, k->label, SIGNER_PURPOSE_CERT_REQUEST, data, len, sig,
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
