/*
 * request.c: parse and verify SM-PKI certificate requests (CRMF inside the BSI wrappers,
 * with the GWA authorisation layer of SMGW requests). Formats: request.h and
 * docs/pki-requests.md.
 *
 * Layers are peeled from the outside in, each with the OpenSSL API that owns it:
 *   transport      DER / PEM / base64                 (request_decode, request_codec.c)
 *   authorisation  CMS SignedData by the GWA           (CMS_verify)
 *   wrapper        SEQUENCE { OID, [0] content }       (ASN.1 template, request_codec.c)
 *   renewal        CMS SignedData by the requester     (CMS_verify)
 *   CertReqMessages                                    (d2i_OSSL_CRMF_MSGS, verify_popo)
 * and every failure is mapped to the one WSDL code that names it. Store-dependent checks
 * (signer certificate status, replays) are the caller's, through the callback in
 * struct request_verify_opts and struct request.digest.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/x509v3.h>

#include <pthread.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "pki/request.h"
#include "pki/request_internal.h"

/*
 * SubjectPublicKeyInfo as plain fields. X509_PUBKEY would decode the key on every d2i
 * (OpenSSL 3.0 builds an OSSL_DECODER chain for that, ~0.3 ms), and the key is needed
 * once, built cheaply from these fields (request_template_key).
 */
typedef struct request_spki_st {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *public_key;
} REQUEST_SPKI;

ASN1_SEQUENCE(REQUEST_SPKI) = {
	ASN1_SIMPLE(REQUEST_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(REQUEST_SPKI, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(REQUEST_SPKI)

/*
 * Mirror of RFC 4211 CertTemplate (the same template OpenSSL's crmf_asn.c uses).
 * OpenSSL 3.0 has no getter for the template's public key (3.2 adds one), so the
 * template is re-encoded and decoded through this mirror to reach it.
 */
typedef struct request_template_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signing_alg;
	X509_NAME *issuer;
	STACK_OF(ASN1_TYPE) *validity;
	X509_NAME *subject;
	REQUEST_SPKI *public_key;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} REQUEST_TEMPLATE;

ASN1_SEQUENCE(REQUEST_TEMPLATE) = {
	ASN1_IMP_OPT(REQUEST_TEMPLATE, version, ASN1_INTEGER, 0),
	ASN1_IMP_OPT(REQUEST_TEMPLATE, serial, ASN1_INTEGER, 1),
	ASN1_IMP_OPT(REQUEST_TEMPLATE, signing_alg, X509_ALGOR, 2),
	ASN1_EXP_OPT(REQUEST_TEMPLATE, issuer, X509_NAME, 3),
	ASN1_IMP_SEQUENCE_OF_OPT(REQUEST_TEMPLATE, validity, ASN1_ANY, 4),
	ASN1_EXP_OPT(REQUEST_TEMPLATE, subject, X509_NAME, 5),
	ASN1_IMP_OPT(REQUEST_TEMPLATE, public_key, REQUEST_SPKI, 6),
	ASN1_IMP_OPT(REQUEST_TEMPLATE, issuer_uid, ASN1_BIT_STRING, 7),
	ASN1_IMP_OPT(REQUEST_TEMPLATE, subject_uid, ASN1_BIT_STRING, 8),
	ASN1_IMP_SEQUENCE_OF_OPT(REQUEST_TEMPLATE, extensions, X509_EXTENSION, 9),
} static_ASN1_SEQUENCE_END(REQUEST_TEMPLATE)

/* Parsing state: the result code travels with the error so every exit names one code. */
struct request_ctx {
	const struct request_verify_opts *opts;
	struct request *req;
	enum pki_result *result;
	struct tw_error *err;
	STACK_OF(X509) *outer_chain;   /* certificates of the renewal's SignedData */
	STACK_OF(X509) *auth_chain;    /* certificates of the authorisation's SignedData */
};

static tw_rc request_fail(struct request_ctx *c, enum pki_result code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static tw_rc request_fail(struct request_ctx *c, enum pki_result code, const char *fmt, ...)
{
	va_list ap;
	tw_rc rc = pki_result_rc(code);

	*c->result = code;
	va_start(ap, fmt);
	(void)tw_error_vset(c->err, rc, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return rc;
}

/* The same, appending OpenSSL's reason (bad signatures name themselves there). */
static tw_rc request_fail_ssl(struct request_ctx *c, enum pki_result code, const char *what)
{
	char ssl[256];

	tw_openssl_errors(ssl, sizeof(ssl));
	return request_fail(c, code, "%s%s%s", what, ssl[0] != '\0' ? ": " : "", ssl);
}

const char *request_kind_name(enum request_kind kind)
{
	switch (kind) {
	case REQUEST_KIND_INITIAL: return "initial";
	case REQUEST_KIND_RENEWAL: return "renewal";
	}
	return "?";
}

/*
 * A SIG certificate: digitalSignature, no key encipherment, no EKU (TLS certificates carry
 * serverAuth/clientAuth). Outer and authorisation signatures must come from one.
 */
static bool request_is_sig_cert(X509 *cert)
{
	uint32_t ku = X509_get_key_usage(cert);

	return (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 &&
		(ku & KU_DIGITAL_SIGNATURE) != 0 &&
		(ku & (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT | KU_KEY_CERT_SIGN)) == 0;
}

/*
 * Verify a CMS SignedData with exactly one signer whose certificate is inside it and
 * whose eContentType is want_type (dotted OID; anything else is failure_syntax). On
 * success *content (malloc'ed) holds the eContent, *signer the signer's certificate
 * (new reference) and *certs the SignedData's certificates (for chain building).
 * Signature problems give `fail`; structural ones failure_syntax.
 */
static tw_rc request_cms_verify(struct request_ctx *c, const unsigned char *der, size_t len,
	const char *want_type, enum pki_result fail, const char *what, unsigned char **content,
	size_t *content_len, X509 **signer, STACK_OF(X509) **certs)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	BIO *out = NULL;
	STACK_OF(X509) *signers = NULL;
	ASN1_OCTET_STRING **pos;
	char *data = NULL;
	long dlen;
	tw_rc rc;

	*content = NULL;
	*signer = NULL;
	*certs = NULL;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		rc = request_fail_ssl(c, PKI_FAILURE_SYNTAX, what);
		goto out;
	}
	if (!request_oid_is(CMS_get0_eContentType(cms), want_type)) {
		char got[64];

		request_oid_text(CMS_get0_eContentType(cms), got, sizeof(got));
		rc = request_fail(c, PKI_FAILURE_SYNTAX,
			"%s: the signed content type is %s; expected %s", what, got, want_type);
		goto out;
	}
	pos = CMS_get0_content(cms);
	if (pos == NULL || *pos == NULL || ASN1_STRING_length(*pos) <= 0) {
		rc = request_fail(c, PKI_FAILURE_SYNTAX,
			"%s: the SignedData carries no content (detached signatures are not accepted)",
			what);
		goto out;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		rc = request_fail(c, fail, "%s: exactly one signer is expected, found %d", what,
			sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
		goto out;
	}
	out = BIO_new(BIO_s_mem());
	if (out == NULL) {
		rc = request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory verifying %s", what);
		goto out;
	}
	/* The certificate's status is checked afterwards, against the store and trust. */
	if (CMS_verify(cms, NULL, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		rc = request_fail_ssl(c, fail, what);
		goto out;
	}
	signers = CMS_get0_signers(cms);
	dlen = BIO_get_mem_data(out, &data);
	if (signers == NULL || sk_X509_num(signers) != 1 || dlen <= 0 || dlen > REQUEST_MAX_BYTES) {
		rc = request_fail(c, fail, "%s: no signer certificate or no content", what);
		goto out;
	}
	*content = malloc((size_t)dlen);
	*certs = CMS_get1_certs(cms);
	if (*content == NULL || *certs == NULL || X509_up_ref(sk_X509_value(signers, 0)) != 1) {
		rc = request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory verifying %s", what);
		goto out;
	}
	memcpy(*content, data, (size_t)dlen);
	*content_len = (size_t)dlen;
	*signer = sk_X509_value(signers, 0);
	rc = TW_OK;
out:
	if (rc != TW_OK) {
		free(*content);
		*content = NULL;
		sk_X509_pop_free(*certs, X509_free);
		*certs = NULL;
	}
	sk_X509_free(signers);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* id-data: the eContentType of the GWA authorisation layer (docs/pki-requests.md 4). */
#define REQUEST_OID_DATA "1.2.840.113549.1.7.1"

/* ---------------- CertReqMessages ---------------- */

static void request_entry_clear(struct request_entry *e)
{
	X509_NAME_free(e->subject);
	EVP_PKEY_free(e->public_key);
	X509_PUBKEY_free(e->spki);
	sk_X509_EXTENSION_pop_free(e->extensions, X509_EXTENSION_free);
	GENERAL_NAMES_free(e->san);
	free(e->email);
	free(e->uri);
	free(e->dns_name);
	memset(e, 0, sizeof(*e));
}

/*
 * Fast path for a named-curve EC key: the EVP_PKEY from the curve name and the point
 * (EVP_PKEY_fromdata checks that the point is on the curve, as decoding does), and a
 * key-less X509_PUBKEY copy of the requested fields for the certificate. Anything
 * else (other algorithms, explicit parameters, a BIT STRING with unused bits) returns
 * false and takes the general decoder, so its errors stay what they were.
 */
/*
 * One parameters-only key per curve, made once per process. A request key is then that
 * key duplicated plus its point (EVP_PKEY_dup + EVP_PKEY_set1_encoded_public_key, the
 * same point decoding and on-curve check as EVP_PKEY_fromdata), instead of fetching the
 * key manager and building the curve group from its name for every key: measured 70-90
 * us against 280 us per key here (OpenSSL 3.0, a loaded machine). The templates are only
 * read once made (so the verifying threads of `ca issue` share them) and live as long as
 * the process; a curve beyond the table takes the general path.
 */
#define REQUEST_CURVES 4
static pthread_mutex_t request_curve_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int nid;
	EVP_PKEY *params;
} request_curves[REQUEST_CURVES];

static const EVP_PKEY *request_curve_params(int nid, const char *group)
{
	const EVP_PKEY *found = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *made = NULL;
	OSSL_PARAM params[2];
	size_t i;

	pthread_mutex_lock(&request_curve_lock);
	for (i = 0; i < REQUEST_CURVES && request_curves[i].params != NULL; i++)
		if (request_curves[i].nid == nid) {
			found = request_curves[i].params;
			goto out;
		}
	if (i == REQUEST_CURVES)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group,
		0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &made, EVP_PKEY_KEY_PARAMETERS, params) == 1) {
		request_curves[i].nid = nid;
		request_curves[i].params = made;
		found = made;
	}
	ERR_clear_error();
out:
	pthread_mutex_unlock(&request_curve_lock);
	EVP_PKEY_CTX_free(ctx);
	return found;
}

static bool request_spki_fast(const REQUEST_SPKI *k, EVP_PKEY **key, X509_PUBKEY **spki)
{
	const ASN1_OBJECT *alg = NULL, *curve;
	const void *pval = NULL;
	int ptype = V_ASN1_UNDEF, nid;
	const char *group;
	const EVP_PKEY *tmpl;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM params[3];
	unsigned char *point = NULL;
	int len = ASN1_STRING_length(k->public_key);
	bool ok = false;

	*key = NULL;
	*spki = NULL;
	X509_ALGOR_get0(&alg, &ptype, &pval, k->algor);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
	    len <= 0 || ((k->public_key->flags & ASN1_STRING_FLAG_BITS_LEFT) != 0 &&
	    (k->public_key->flags & 0x07) != 0))
		return false;
	curve = pval;
	if ((nid = OBJ_obj2nid(curve)) == NID_undef || (group = OBJ_nid2sn(nid)) == NULL)
		return false;
	if ((tmpl = request_curve_params(nid, group)) != NULL) {
		if ((*key = EVP_PKEY_dup((EVP_PKEY *)tmpl)) == NULL ||
		    EVP_PKEY_set1_encoded_public_key(*key, ASN1_STRING_get0_data(k->public_key),
			(size_t)len) != 1)
			goto out;
	} else {
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
			(char *)group, 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
			(void *)ASN1_STRING_get0_data(k->public_key), (size_t)len);
		params[2] = OSSL_PARAM_construct_end();
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
		    EVP_PKEY_fromdata_init(ctx) != 1 ||
		    EVP_PKEY_fromdata(ctx, key, EVP_PKEY_PUBLIC_KEY, params) != 1)
			goto out;
	}
	if ((*spki = X509_PUBKEY_new()) == NULL ||
	    (point = OPENSSL_memdup(ASN1_STRING_get0_data(k->public_key), (size_t)len)) == NULL)
		goto out;
	if (X509_PUBKEY_set0_param(*spki, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	    OBJ_nid2obj(nid), point, len) != 1)
		goto out;
	point = NULL;   /* owned by *spki now */
	ok = true;
out:
	if (!ok) {
		EVP_PKEY_free(*key);
		X509_PUBKEY_free(*spki);
		*key = NULL;
		*spki = NULL;
		ERR_clear_error();
	}
	OPENSSL_free(point);
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* The template's public key (new reference), through the mirror template; *spki see
 * request_entry.spki (NULL when the key took the general decoder). */
static EVP_PKEY *request_template_key(const OSSL_CRMF_CERTTEMPLATE *tmpl, bool *present,
	X509_PUBKEY **spki)
{
	unsigned char *der = NULL, *kder = NULL;
	const unsigned char *p;
	REQUEST_TEMPLATE *t = NULL;
	EVP_PKEY *key = NULL;
	int len;

	*present = false;
	*spki = NULL;
	len = i2d_OSSL_CRMF_CERTTEMPLATE(tmpl, &der);
	if (len <= 0)
		goto out;
	p = der;
	t = (REQUEST_TEMPLATE *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(REQUEST_TEMPLATE));
	if (t == NULL || t->public_key == NULL)
		goto out;
	*present = true;
	if (request_spki_fast(t->public_key, &key, spki))
		goto out;
	/* The general way: the SubjectPublicKeyInfo through OpenSSL's decoders. */
	len = ASN1_item_i2d((ASN1_VALUE *)t->public_key, &kder, ASN1_ITEM_rptr(REQUEST_SPKI));
	p = kder;
	if (len > 0)
		key = d2i_PUBKEY(NULL, &p, len);
out:
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(REQUEST_TEMPLATE));
	OPENSSL_free(kder);
	OPENSSL_free(der);
	return key;
}

/* Copy an IA5 general name if it is printable 7-bit text without NUL. */
static tw_rc request_gn_text(struct request_ctx *c, size_t i, const ASN1_IA5STRING *s,
	const char *what, char **dst)
{
	int len = ASN1_STRING_length(s);
	const unsigned char *d = ASN1_STRING_get0_data(s);

	if (len <= 0 || len > 1024)
		return request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"CertReqMsg %zu: the %s in the subject alternative name is empty or too long",
			i, what);
	for (int k = 0; k < len; k++)
		if (d[k] < 0x21 || d[k] > 0x7e)
			return request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
				"CertReqMsg %zu: the %s in the subject alternative name is not printable "
				"ASCII", i, what);
	*dst = malloc((size_t)len + 1);
	if (*dst == NULL)
		return request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory");
	memcpy(*dst, d, (size_t)len);
	(*dst)[len] = '\0';
	return TW_OK;
}

/* Type of the requested certificate from the template's key usage and EKU. */
static tw_rc request_entry_usage(struct request_ctx *c, size_t i, struct request_entry *e)
{
	ASN1_BIT_STRING *ku = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	int crit = -1;
	int eku_crit = -1;
	tw_rc rc = TW_OK;

	ku = X509V3_get_d2i(e->extensions, NID_key_usage, &crit, NULL);
	eku = X509V3_get_d2i(e->extensions, NID_ext_key_usage, &eku_crit, NULL);
	if ((ku == NULL && crit != -1) || (eku == NULL && eku_crit != -1)) {
		rc = request_fail(c, PKI_FAILURE_SYNTAX,
			"CertReqMsg %zu: the key usage or extended key usage extension does not decode "
			"or occurs twice", i);
		goto out;
	}
	if (ku == NULL) {
		rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"CertReqMsg %zu has no key usage, so its certificate type (TLS, SIG, ENC) is "
			"unknown", i);
		goto out;
	}
	if (ASN1_BIT_STRING_get_bit(ku, 2) || ASN1_BIT_STRING_get_bit(ku, 4)) {
		/* keyEncipherment / keyAgreement: ENC, and nothing else may be asked for. */
		if (ASN1_BIT_STRING_get_bit(ku, 0) || eku != NULL) {
			rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
				"CertReqMsg %zu mixes encryption and signature key usages", i);
			goto out;
		}
		e->usage = PKI_USAGE_ENC;
	} else if (ASN1_BIT_STRING_get_bit(ku, 0)) {
		e->usage = eku != NULL ? PKI_USAGE_TLS : PKI_USAGE_SIG;
	} else {
		rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"CertReqMsg %zu asks for neither digitalSignature nor keyEncipherment/"
			"keyAgreement", i);
	}
out:
	ASN1_BIT_STRING_free(ku);
	EXTENDED_KEY_USAGE_free(eku);
	return rc;
}

static tw_rc request_entry_san(struct request_ctx *c, size_t i, struct request_entry *e)
{
	GENERAL_NAMES *san;
	int crit = -1;
	tw_rc rc = TW_OK;

	san = X509V3_get_d2i(e->extensions, NID_subject_alt_name, &crit, NULL);
	if (san == NULL)
		return crit == -1 ? TW_OK : request_fail(c, PKI_FAILURE_SYNTAX,
			"CertReqMsg %zu: the subject alternative name does not decode or occurs twice",
			i);
	for (int k = 0; k < sk_GENERAL_NAME_num(san) && rc == TW_OK; k++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, k);
		char *first = NULL;

		/* Every name is checked; the first of each kind is also kept as text. */
		if (gn->type == GEN_EMAIL) {
			rc = request_gn_text(c, i, gn->d.rfc822Name, "e-mail address",
				e->email == NULL ? &e->email : &first);
		} else if (gn->type == GEN_URI) {
			rc = request_gn_text(c, i, gn->d.uniformResourceIdentifier, "URI",
				e->uri == NULL ? &e->uri : &first);
		} else if (gn->type == GEN_DNS && e->usage == PKI_USAGE_TLS) {
			rc = request_gn_text(c, i, gn->d.dNSName, "DNS name",
				e->dns_name == NULL ? &e->dns_name : &first);
		} else {
			rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
				"CertReqMsg %zu (%s) asks for a subject alternative name the SM-PKI "
				"profile does not certify (only e-mail and URI, and DNS names on TLS)", i,
				pki_usage_name(e->usage));
		}
		free(first);
	}
	if (rc == TW_OK)
		e->san = san;
	else
		GENERAL_NAMES_free(san);
	return rc;
}

/*
 * A library context with only the "null" provider. CertReqMessages decoded in it keep
 * their template keys undecoded: OpenSSL 3.0 decodes every SubjectPublicKeyInfo it parses
 * through a freshly built decoder chain (~0.3 ms each, a third of a request's cost), and
 * the keys are taken from the mirror template instead (request_template_key). The
 * encoding, and so the replay digest, does not depend on the decoded key.
 */
static OSSL_LIB_CTX *request_nokey_libctx;
static pthread_once_t request_nokey_once = PTHREAD_ONCE_INIT;

static void request_nokey_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	/* Loading "null" explicitly keeps the default provider from being loaded as fallback. */
	if (ctx != NULL && OSSL_PROVIDER_load(ctx, "null") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
	}
	ERR_clear_error();
	request_nokey_libctx = ctx;
}

/* Outcome of request_pop_fast. */
enum request_pop { REQUEST_POP_BAD, REQUEST_POP_OK, REQUEST_POP_GENERAL };

/*
 * The proof of possession of CertReqMsg idx as OSSL_CRMF_MSGS_verify_popo(msgs, idx, 0)
 * checks it, read from the canonical DER of the CertReqMessages (OpenSSL's own encoding
 * of the decoded request) and verified with key, the template's key. Covers the SM-PKI
 * case, a signature over the CertRequest without POPOSigningKeyInput; RA-verified and
 * encryption/agreement POPs fail as there. Anything else (POPOSigningKeyInput, a non-EC
 * or unknown algorithm, a BIT STRING with unused bits) answers REQUEST_POP_GENERAL: the
 * caller then asks OpenSSL itself.
 */
static enum request_pop request_pop_fast(const unsigned char *canon, size_t canon_len,
	size_t idx, EVP_PKEY *key)
{
	const unsigned char *p = canon, *end = canon + canon_len, *req, *alg_p;
	const unsigned char *sig_p, *popo_end;
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	EVP_MD_CTX *mctx = NULL;
	const EVP_MD *md;
	long len = 0;
	int tag, cls, inf, mdnid = NID_undef, pknid = NID_undef, ok;
	size_t req_len;
	enum request_pop res = REQUEST_POP_GENERAL;

#define REQUEST_TLV(want_tag, want_cls) \
	(inf = ASN1_get_object(&p, &len, &tag, &cls, (long)(end - p)), \
	 !(inf & 0x80) && inf == V_ASN1_CONSTRUCTED && tag == (want_tag) && cls == (want_cls))
	if (!REQUEST_TLV(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL))          /* CertReqMessages */
		goto out;
	end = p + len;
	for (size_t k = 0; k <= idx; k++) {
		if (p >= end || !REQUEST_TLV(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL))  /* CertReqMsg */
			goto out;
		if (k < idx)
			p += len;
		else
			end = p + len;
	}
	req = p;                                                       /* CertRequest */
	if (!REQUEST_TLV(V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL))
		goto out;
	p += len;
	req_len = (size_t)(p - req);
	if (p >= end) {                                                /* no POP at all */
		res = REQUEST_POP_BAD;
		goto out;
	}
	inf = ASN1_get_object(&p, &len, &tag, &cls, (long)(end - p));
	if ((inf & 0x80) || cls != V_ASN1_CONTEXT_SPECIFIC)
		goto out;
	if (tag == 0 || tag == 2 || tag == 3) {   /* raVerified, keyEncipherment, keyAgreement */
		res = REQUEST_POP_BAD;
		goto out;
	}
	if (tag != 1 || inf != V_ASN1_CONSTRUCTED)
		goto out;
	popo_end = p + len;                       /* [1] IMPLICIT POPOSigningKey */
	if (p < popo_end && (*p & 0xc0) == 0x80)  /* poposkInput [0]: the general path */
		goto out;
	alg_p = p;
	if ((alg = d2i_X509_ALGOR(NULL, &alg_p, (long)(popo_end - p))) == NULL)
		goto out;
	sig_p = alg_p;
	if ((sig = d2i_ASN1_BIT_STRING(NULL, &sig_p, (long)(popo_end - alg_p))) == NULL ||
	    sig_p != popo_end || (sig->flags & 0x07) != 0)
		goto out;
	if (!OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &mdnid, &pknid) ||
	    pknid != NID_X9_62_id_ecPublicKey || mdnid == NID_undef ||
	    (md = EVP_get_digestbynid(mdnid)) == NULL || !EVP_PKEY_is_a(key, "EC"))
		goto out;
	/* As ASN1_item_verify_ex: the digest by name, the signature over DER(CertRequest). */
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(mctx, NULL, EVP_MD_get0_name(md), NULL, NULL, key,
		NULL) != 1)
		goto out;
	ok = EVP_DigestVerify(mctx, ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(sig),
		req, req_len);
	res = ok == 1 ? REQUEST_POP_OK : ok == 0 ? REQUEST_POP_BAD : REQUEST_POP_GENERAL;
#undef REQUEST_TLV
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	ASN1_BIT_STRING_free(sig);
	X509_ALGOR_free(alg);
	return res;
}

/* The CertReqMessages of one request: as received, re-encoded, decoded (keys or not). */
struct request_msgs {
	const unsigned char *der;
	size_t len;
	const unsigned char *canon;
	size_t canon_len;
	const OSSL_CRMF_MSGS *msgs;   /* template keys possibly undecoded */
	OSSL_CRMF_MSGS *full;         /* with decoded keys, made when first needed */
};

/* The proof of possession of CertReqMsg i: 1 when it verifies. */
static int request_verify_pop(struct request_msgs *m, size_t i, EVP_PKEY *key)
{
	enum request_pop res = request_pop_fast(m->canon, m->canon_len, i, key);
	const unsigned char *p = m->der;

	if (res == REQUEST_POP_GENERAL) {
		/* OpenSSL's own check needs the keys decoded: decode again, the usual way. */
		if (m->full == NULL)
			m->full = d2i_OSSL_CRMF_MSGS(NULL, &p, (long)m->len);
		/* Index-based in OpenSSL 3.0; RA-verified and non-signature POPs are refused. */
		res = m->full != NULL && OSSL_CRMF_MSGS_verify_popo(m->full, (int)i, 0, NULL,
			NULL) == 1 ? REQUEST_POP_OK : REQUEST_POP_BAD;
	}
	return res == REQUEST_POP_OK;
}

static tw_rc request_parse_entry(struct request_ctx *c, struct request_msgs *m, size_t i,
	struct request_entry *e)
{
	const OSSL_CRMF_MSGS *msgs = m->msgs;
	const OSSL_CRMF_MSG *msg = sk_OSSL_CRMF_MSG_value(msgs, (int)i);
	const OSSL_CRMF_CERTTEMPLATE *tmpl = msg != NULL ? OSSL_CRMF_MSG_get0_tmpl(msg) : NULL;
	const X509_NAME *subject;
	X509_EXTENSIONS *exts;
	bool key_present = false;
	tw_rc rc;

	if (tmpl == NULL)
		return request_fail(c, PKI_FAILURE_SYNTAX, "CertReqMsg %zu has no template", i);
	subject = OSSL_CRMF_CERTTEMPLATE_get0_subject(tmpl);
	if (subject == NULL || X509_NAME_entry_count(subject) == 0)
		return request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"CertReqMsg %zu names no subject", i);
	if ((e->subject = X509_NAME_dup(subject)) == NULL)
		return request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory");
	exts = OSSL_CRMF_CERTTEMPLATE_get0_extensions(tmpl);
	if (exts != NULL && (e->extensions = sk_X509_EXTENSION_deep_copy(exts,
	    X509_EXTENSION_dup, X509_EXTENSION_free)) == NULL)
		return request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory");
	if ((rc = request_entry_usage(c, i, e)) != TW_OK ||
	    (rc = request_entry_san(c, i, e)) != TW_OK)
		return rc;
	e->public_key = request_template_key(tmpl, &key_present, &e->spki);
	if (e->public_key == NULL)
		return key_present ?
			request_fail_ssl(c, PKI_FAILURE_DOMAIN_PARAMETERS,
				"the public key of a CertReqMsg uses unsupported domain parameters") :
			request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
				"CertReqMsg %zu (%s) carries no public key", i, pki_usage_name(e->usage));
	e->curve_nid = keys_ec_curve_nid(e->public_key);
	if (!pki_curve_allowed(e->curve_nid))
		return request_fail(c, PKI_FAILURE_DOMAIN_PARAMETERS,
			"CertReqMsg %zu (%s) has a %s key; SM-PKI certificates need "
			"brainpoolP256r1, brainpoolP384r1 or brainpoolP512r1", i,
			pki_usage_name(e->usage),
			e->curve_nid != NID_undef ? OBJ_nid2sn(e->curve_nid) :
			EVP_PKEY_get0_type_name(e->public_key) != NULL ?
			EVP_PKEY_get0_type_name(e->public_key) : "non-EC");
	if (request_verify_pop(m, i, e->public_key) != 1) {
		char what[128];

		(void)snprintf(what, sizeof(what),
			"the proof of possession of CertReqMsg %zu (%s) does not verify", i,
			pki_usage_name(e->usage));
		return request_fail_ssl(c, PKI_FAILURE_INNER_SIGNATURE, what);
	}
	return TW_OK;
}

/* Parse the CertReqMessages (BER accepted), compute the replay digest, check entries. */
static tw_rc request_parse_msgs(struct request_ctx *c, const unsigned char *der, size_t len)
{
	struct request *r = c->req;
	const unsigned char *p = der;
	OSSL_CRMF_MSGS *msgs = NULL;
	unsigned char *canon = NULL;
	unsigned int dlen = 0;
	int canon_len;
	int n;
	struct request_msgs m = { .der = der, .len = len };
	tw_rc rc;

	if (pthread_once(&request_nokey_once, request_nokey_init) == 0 &&
	    request_nokey_libctx != NULL)
		msgs = (OSSL_CRMF_MSGS *)ASN1_item_d2i_ex(NULL, &p, (long)len,
			ASN1_ITEM_rptr(OSSL_CRMF_MSGS), request_nokey_libctx, NULL);
	else
		msgs = d2i_OSSL_CRMF_MSGS(NULL, &p, (long)len);
	if (msgs == NULL || p != der + len) {
		rc = request_fail_ssl(c, PKI_FAILURE_SYNTAX,
			"the CertReqMessages (RFC 4211) inside the wrapper do not decode");
		goto out;
	}
	canon_len = i2d_OSSL_CRMF_MSGS(msgs, &canon);
	if (canon_len <= 0 || EVP_Digest(canon, (size_t)canon_len, r->digest, &dlen,
	    EVP_sha256(), NULL) != 1) {
		rc = request_fail_ssl(c, PKI_FAILURE_INTERNAL_ERROR, "cannot hash the request");
		goto out;
	}
	n = sk_OSSL_CRMF_MSG_num(msgs);
	if (n < 1 || n > REQUEST_MAX_ENTRIES ||
	    (r->kind == REQUEST_KIND_INITIAL && n != REQUEST_MAX_ENTRIES)) {
		rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"%s request with %d CertReqMsg; expected %s", request_kind_name(r->kind), n,
			r->kind == REQUEST_KIND_INITIAL ? "exactly 3 (TLS, ENC, SIG)" : "1 to 3");
		goto out;
	}
	m.canon = canon;
	m.canon_len = (size_t)canon_len;
	m.msgs = msgs;
	for (int i = 0; i < n; i++) {
		r->n_entries = (size_t)i + 1;
		if ((rc = request_parse_entry(c, &m, (size_t)i, &r->entries[i])) != TW_OK)
			goto out;
		for (int k = 0; k < i; k++) {
			if (r->entries[k].usage == r->entries[i].usage) {
				rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
					"the request asks twice for a %s certificate",
					pki_usage_name(r->entries[i].usage));
				goto out;
			}
			if (X509_NAME_cmp(r->entries[k].subject, r->entries[i].subject) != 0) {
				rc = request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
					"the CertReqMsgs of one request name different subjects");
				goto out;
			}
		}
	}
	rc = TW_OK;
out:
	OPENSSL_free(canon);
	OSSL_CRMF_MSGS_free(m.full);
	OSSL_CRMF_MSGS_free(msgs);
	return rc;
}

/* ---------------- signer certificates ---------------- */

/* The caller's check (opts->check_signer) of a signer certificate, if there is one. */
static tw_rc request_signer_callback(struct request_ctx *c, enum request_signer_role role,
	X509 *cert)
{
	enum pki_result fail = role == REQUEST_SIGNER_OUTER ? PKI_FAILURE_OUTER_SIGNATURE :
		PKI_FAILURE_AUTHORIZATION_SIGNATURE;
	const char *what = role == REQUEST_SIGNER_OUTER ? "outer signature" :
		"authorisation signature";
	struct tw_error cb;
	char dn[256];
	tw_rc rc;

	if (c->opts->check_signer == NULL)
		return TW_OK;
	tw_error_clear(&cb);
	rc = c->opts->check_signer(c->opts->check_ctx, role, cert, c->req, &cb);
	if (rc != TW_OK) {
		bool internal = rc == TW_E_STORE || rc == TW_E_UNAVAILABLE ||
			rc == TW_E_INTERNAL || rc == TW_E_NOMEM;

		X509_NAME_oneline(X509_get_subject_name(cert), dn, sizeof(dn));
		rc = request_fail(c, internal ? PKI_FAILURE_INTERNAL_ERROR : fail,
			"%s (\"%s\") refused: %s", what, dn,
			cb.message[0] != '\0' ? cb.message : tw_strerror(rc));
	}
	return rc;
}

/* Chain to opts->trust (if any), be a SIG certificate, and pass the caller's check. */
static tw_rc request_check_signer(struct request_ctx *c, enum request_signer_role role,
	X509 *cert, STACK_OF(X509) *untrusted)
{
	enum pki_result fail = role == REQUEST_SIGNER_OUTER ? PKI_FAILURE_OUTER_SIGNATURE :
		PKI_FAILURE_AUTHORIZATION_SIGNATURE;
	const char *what = role == REQUEST_SIGNER_OUTER ? "outer signature" :
		"authorisation signature";
	X509_STORE_CTX *xs = NULL;
	char dn[256];
	tw_rc rc = TW_OK;

	X509_NAME_oneline(X509_get_subject_name(cert), dn, sizeof(dn));
	if (!request_is_sig_cert(cert))
		return request_fail(c, fail, "the %s was made with \"%s\", which is not a SIG "
			"certificate (digitalSignature without EKU)", what, dn);
	if (c->opts->trust != NULL) {
		xs = X509_STORE_CTX_new();
		if (xs == NULL || X509_STORE_CTX_init(xs, c->opts->trust, cert, untrusted) != 1) {
			rc = request_fail(c, PKI_FAILURE_INTERNAL_ERROR, "out of memory checking %s",
				what);
			goto out;
		}
		if (X509_verify_cert(xs) != 1) {
			rc = request_fail(c, fail, "the certificate of the %s (\"%s\") does not chain "
				"to a trusted CA: %s", what, dn,
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
			goto out;
		}
	}
	rc = request_signer_callback(c, role, cert);
out:
	X509_STORE_CTX_free(xs);
	return rc;
}

/* opts->auth: an authorisation layer where it is required, none where it is forbidden. */
static tw_rc request_auth_policy(struct request_ctx *c)
{
	if (c->req->authoriser == NULL && c->opts->auth == REQUEST_AUTH_REQUIRED)
		return request_fail(c, PKI_FAILURE_AUTHORIZATION_SIGNATURE,
			"this request needs the authorisation signature of the gateway's responsible "
			"GWA (torwart req ... --authorise)");
	if (c->req->authoriser != NULL && c->opts->auth == REQUEST_AUTH_FORBIDDEN)
		return request_fail(c, PKI_FAILURE_INCORRECT_REQUEST,
			"only SMGW requests carry a GWA authorisation signature");
	return TW_OK;
}

tw_rc request_check_signers(struct request *req, const struct request_verify_opts *opts,
	enum pki_result *result, struct tw_error *err)
{
	struct request_ctx c;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	c.req = req;
	c.result = result;
	c.err = err;
	*result = PKI_OK_SYNTAX;
	/* The order of request_parse: the policy, the outer signer, the authoriser. */
	if ((rc = request_auth_policy(&c)) != TW_OK)
		return rc;
	if (req->kind == REQUEST_KIND_RENEWAL && req->outer_signer != NULL &&
	    (rc = request_signer_callback(&c, REQUEST_SIGNER_OUTER, req->outer_signer)) != TW_OK)
		return rc;
	if (req->authoriser != NULL && (rc = request_signer_callback(&c,
	    REQUEST_SIGNER_AUTHORISATION, req->authoriser)) != TW_OK)
		return rc;
	req->signers_checked = opts->check_signer != NULL;
	return TW_OK;
}

/* ---------------- layers ---------------- */

/* Renewal: [0] holds a SignedData (or, tolerated, a whole ContentInfo) over the msgs. */
static tw_rc request_parse_renewal(struct request_ctx *c, REQUEST_WRAPPER *w)
{
	const ASN1_STRING *seq = request_wrapper_seq(w);
	REQUEST_WRAPPER *inner_w = NULL;
	unsigned char *ci = NULL;
	unsigned char *content = NULL;
	size_t content_len = 0;
	int ci_len;
	tw_rc rc;

	if (seq == NULL)
		return request_fail(c, PKI_FAILURE_SYNTAX,
			"the renewal wrapper's [0] content is not a SignedData SEQUENCE");
	/* The wrapper is ContentInfo-shaped: naming it id-signedData makes it one. */
	ASN1_OBJECT_free(w->type);
	w->type = OBJ_nid2obj(NID_pkcs7_signed);
	ci_len = request_wrapper_i2d(w, &ci);
	if (ci_len <= 0)
		return request_fail_ssl(c, PKI_FAILURE_SYNTAX, "the renewal does not re-encode");
	rc = request_cms_verify(c, ci, (size_t)ci_len, REQUEST_OID_INITIAL,
		PKI_FAILURE_OUTER_SIGNATURE,
		"outer signature of the renewal", &content, &content_len, &c->req->outer_signer,
		&c->outer_chain);
	if (rc != TW_OK)
		goto out;
	/* eContent: the CertReqMessages, or (tolerated) a complete bsiCertReqMsgs wrapper. */
	inner_w = request_wrapper_d2i(content, content_len);
	if (inner_w != NULL) {
		const ASN1_STRING *s = request_wrapper_seq(inner_w);

		if (!request_oid_is(inner_w->type, REQUEST_OID_INITIAL) || s == NULL) {
			rc = request_fail(c, PKI_FAILURE_SYNTAX,
				"the renewal's signed content is neither CertReqMessages nor "
				"bsiCertReqMsgs");
			goto out;
		}
		rc = request_parse_msgs(c, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	} else {
		rc = request_parse_msgs(c, content, content_len);
	}
out:
	request_wrapper_free(inner_w);
	free(content);
	OPENSSL_free(ci);
	return rc;
}

/* A decoded BSI wrapper (initial or renewal); w is borrowed (the renewal edits it). */
static tw_rc request_handle_wrapper(struct request_ctx *c, REQUEST_WRAPPER *w)
{
	const ASN1_STRING *seq;
	char oid[64];
	tw_rc rc;

	if (w == NULL)
		return request_fail_ssl(c, PKI_FAILURE_SYNTAX,
			"the request is not a BSI wrapper SEQUENCE { OID, [0] ... } (truncated, "
			"trailing bytes or not DER/BER)");
	if (request_oid_is(w->type, REQUEST_OID_INITIAL)) {
		c->req->kind = REQUEST_KIND_INITIAL;
		seq = request_wrapper_seq(w);
		rc = seq == NULL ? request_fail(c, PKI_FAILURE_SYNTAX,
				"the bsiCertReqMsgs wrapper's [0] content is not a SEQUENCE") :
			request_parse_msgs(c, ASN1_STRING_get0_data(seq),
				(size_t)ASN1_STRING_length(seq));
	} else if (request_oid_is(w->type, REQUEST_OID_RENEWAL)) {
		c->req->kind = REQUEST_KIND_RENEWAL;
		rc = request_parse_renewal(c, w);
	} else {
		request_oid_text(w->type, oid, sizeof(oid));
		rc = request_fail(c, PKI_FAILURE_SYNTAX,
			"unknown request wrapper %s; expected %s (initial), %s (renewal) or a GWA "
			"authorisation (id-signedData)", oid, REQUEST_OID_INITIAL, REQUEST_OID_RENEWAL);
	}
	return rc;
}

/* A BSI wrapper (initial or renewal) from its encoding, fully consumed. */
static tw_rc request_parse_wrapper(struct request_ctx *c, const unsigned char *der, size_t len)
{
	REQUEST_WRAPPER *w = request_wrapper_d2i(der, len);
	tw_rc rc = request_handle_wrapper(c, w);

	request_wrapper_free(w);
	return rc;
}

/* Renewal-only checks that need both layers: the outer signer is the requester. */
static tw_rc request_check_outer(struct request_ctx *c)
{
	struct request *r = c->req;
	char dn[256];

	if (r->kind != REQUEST_KIND_RENEWAL)
		return TW_OK;
	for (size_t i = 0; i < r->n_entries; i++) {
		if (X509_NAME_cmp(r->entries[i].subject, X509_get_subject_name(r->outer_signer)) != 0) {
			X509_NAME_oneline(r->entries[i].subject, dn, sizeof(dn));
			return request_fail(c, PKI_FAILURE_OUTER_SIGNATURE,
				"the renewal for \"%s\" is signed with another subject's certificate; "
				"sign it with the requester's current SIG certificate", dn);
		}
	}
	return request_check_signer(c, REQUEST_SIGNER_OUTER, r->outer_signer, c->outer_chain);
}

tw_rc request_parse(const unsigned char *in, size_t len, const struct request_verify_opts *opts,
	struct request **out, enum pki_result *result, struct tw_error *err)
{
	static const struct request_verify_opts defaults;
	struct request_ctx c;
	REQUEST_WRAPPER *w = NULL;
	unsigned char *der = NULL;
	unsigned char *inner = NULL;
	size_t der_len = 0;
	size_t inner_len = 0;
	unsigned int dlen = 0;
	tw_rc rc;

	*out = NULL;
	*result = PKI_FAILURE_SYNTAX;
	memset(&c, 0, sizeof(c));
	c.opts = opts != NULL ? opts : &defaults;
	c.result = result;
	c.err = err;
	if ((rc = request_decode(in, len, &der, &der_len, err)) != TW_OK) {
		*result = rc == TW_E_NOMEM ? PKI_FAILURE_INTERNAL_ERROR : PKI_FAILURE_SYNTAX;
		goto out;
	}
	c.req = calloc(1, sizeof(*c.req));
	if (c.req == NULL) {
		rc = request_fail(&c, PKI_FAILURE_INTERNAL_ERROR, "out of memory parsing a request");
		goto out;
	}
	if (EVP_Digest(der, der_len, c.req->wire_digest, &dlen, EVP_sha256(), NULL) != 1) {
		rc = request_fail_ssl(&c, PKI_FAILURE_INTERNAL_ERROR, "cannot hash the request");
		goto out;
	}
	w = request_wrapper_d2i(der, der_len);
	if (w != NULL && OBJ_obj2nid(w->type) == NID_pkcs7_signed) {
		/* The GWA's authorisation layer around an SMGW request. */
		rc = request_cms_verify(&c, der, der_len, REQUEST_OID_DATA,
			PKI_FAILURE_AUTHORIZATION_SIGNATURE,
			"authorisation signature", &inner, &inner_len, &c.req->authoriser,
			&c.auth_chain);
		if (rc == TW_OK)
			rc = request_parse_wrapper(&c, inner, inner_len);
	} else {
		rc = request_handle_wrapper(&c, w);   /* decoded once, above */
	}
	if (rc != TW_OK)
		goto out;
	if ((rc = request_auth_policy(&c)) != TW_OK)
		goto out;
	if ((rc = request_check_outer(&c)) != TW_OK)
		goto out;
	if (c.req->authoriser != NULL && (rc = request_check_signer(&c,
	    REQUEST_SIGNER_AUTHORISATION, c.req->authoriser, c.auth_chain)) != TW_OK)
		goto out;
	c.req->signers_checked = c.opts->check_signer != NULL;
	*result = PKI_OK_SYNTAX;
	*out = c.req;
	c.req = NULL;
	rc = TW_OK;
out:
	request_free(c.req);
	sk_X509_pop_free(c.outer_chain, X509_free);
	sk_X509_pop_free(c.auth_chain, X509_free);
	request_wrapper_free(w);
	free(inner);
	free(der);
	return rc;
}

void request_free(struct request *req)
{
	if (req == NULL)
		return;
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++)
		request_entry_clear(&req->entries[i]);
	X509_free(req->outer_signer);
	X509_free(req->authoriser);
	free(req);
}

const struct request_entry *request_find(const struct request *req, enum pki_usage usage)
{
	for (size_t i = 0; req != NULL && i < req->n_entries; i++)
		if (req->entries[i].usage == usage)
			return &req->entries[i];
	return NULL;
}
