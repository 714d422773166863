/*
 * signer_ops.c: the key operations of the signer: the per-key purpose policy, key
 * generation (ceremony), certificate, batch, data and streamed CRL signatures. Each
 * checks what it signs (issuer, structure) and writes its admin-log entry before the
 * signature leaves the process.
 */
#include "signer/signer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/log.h"
#include "crypto/key_label.h"
#include "crypto/signer.h"
#include "signer/signer_certreq.h"
#include "signer/signer_crl.h"
#include "signer/signer_keys.h"
#include "signer/signer_metrics.h"
#include "store/store.h"


static const char *default_policy(const char *label)
{
	if (strcmp(label, SIGNER_KEY_ROOT_CA) == 0 || strcmp(label, SIGNER_KEY_SUB_CA) == 0)
		return "certificate,crl";
	if (strcmp(label, SIGNER_KEY_GWA_SIG) == 0)
		return "wakeup,tree-head,authorisation,initial-config,delivery-note,certreq";
	/* The GWA's other own keys: the proof of possession of their certificate requests
	 * (signer_certreq.h), the TLS key also its handshakes. */
	if (strcmp(label, "gwa-tls") == 0)
		return "tls-handshake,certreq";
	if (strcmp(label, SIGNER_KEY_GWA_ENC) == 0)
		return "certreq";
	/* The internal operator CA (src/auth/opca.c): operator and api TLS certificates,
	 * and the CRL of revoked operator certificates. */
	if (strcmp(label, "operator-ca") == 0)
		return "certificate,crl";
	/* The other TLS keys (tls_signer_key.h): handshake signatures and nothing else. */
	if (strcmp(label, "api-tls") == 0 || strcmp(label, "console-tls") == 0)
		return "tls-handshake";
	return "";
}

/* True when [signer] policy.<label> (or the built-in default) lists purpose. */
static bool policy_allows(const struct tw_home *home, const char *label, const char *purpose)
{
	char key[16 + SIGNER_LABEL_MAX];
	const char *list, *p;
	size_t plen = strlen(purpose);

	char base[SIGNER_LABEL_MAX + 1];

	/* Every version of a key (key_label.h) has the key's policy. */
	signer_label_base(label, base, sizeof(base));
	snprintf(key, sizeof(key), "policy.%s", base);
	list = tw_config_get(home->conf, "signer", key);
	if (list == NULL)
		list = default_policy(base);
	for (p = list; *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *s = p, *e = p + n;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - s) == plen && memcmp(s, purpose, plen) == 0)
			return true;
		p = end != NULL ? end + 1 : p + n;
	}
	return false;
}


/* Digest follows the key size (TR-03116-3 pairs each brainpool curve with its SHA-2). */
static const EVP_MD *md_for_key(EVP_PKEY *pub)
{
	int bits = EVP_PKEY_get_bits(pub);

	if (bits <= 256)
		return EVP_sha256();
	if (bits <= 384)
		return EVP_sha384();
	return EVP_sha512();
}

static void hash_prefix(const unsigned char *data, size_t len, char out[17])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) == 1)
		tw_hex_encode(md, 8, out);
}

static void name_text(const X509_NAME *name, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_read(b, out, (int)size - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

static void der_put_len(unsigned char **p, size_t len)
{
	unsigned char *q = *p;

	if (len < 0x80) {
		*q++ = (unsigned char)len;
	} else if (len < 0x100) {
		*q++ = 0x81;
		*q++ = (unsigned char)len;
	} else if (len < 0x10000) {
		*q++ = 0x82;
		*q++ = (unsigned char)(len >> 8);
		*q++ = (unsigned char)len;
	} else {
		*q++ = 0x83;
		*q++ = (unsigned char)(len >> 16);
		*q++ = (unsigned char)(len >> 8);
		*q++ = (unsigned char)len;
	}
	*p = q;
}

/*
 * SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING } with a placeholder algorithm and an
 * empty signature: the shape of a Certificate or CertificateList, so OpenSSL's own
 * parser validates the TBS for us. tbs_len <= SIGNER_DATA_MAX (< 2^24).
 */
static unsigned char *wrap_tbs(const unsigned char *tbs, size_t tbs_len, size_t *out_len)
{
	static const unsigned char tail[] = {
		0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, /* ecdsa-sha256 */
		0x03, 0x01, 0x00,                                                       /* BIT STRING */
	};
	size_t content = tbs_len + sizeof(tail);
	unsigned char *der = malloc(content + 5), *p = der;

	if (der == NULL)
		return NULL;
	*p++ = 0x30;
	der_put_len(&p, content);
	memcpy(p, tbs, tbs_len);
	memcpy(p + tbs_len, tail, sizeof(tail));
	*out_len = (size_t)(p - der) + content;
	return der;
}

/* The file's first PEM certificate, read as it always was (no cache). */
static X509 *key_certificate_read(const char *path)
{
	X509 *x = NULL;
	BIO *b;

	if ((b = BIO_new_file(path, "r")) != NULL) {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		if (x == NULL)
			tw_warn("%s exists but holds no PEM certificate; issuer checks skipped", path);
	}
	ERR_clear_error();
	return x;
}

static void key_cert_clear(struct signer_key_cert *e)
{
	X509_free(e->x);
	free(e->pem);
	memset(e, 0, sizeof(*e));
}

void signer_ops_free(struct signer_srv *srv)
{
	for (size_t i = 0; i < SIGNER_KEY_CERTS; i++)
		key_cert_clear(&srv->key_certs[i]);
	srv->key_certs_next = 0;
}

/*
 * The certificate of key label (HOME/pki/<label>.crt), or NULL when it does not exist;
 * a new reference, the caller frees it. The file is read on every call; only when its
 * bytes are those decoded last time for label is that X509 handed out again
 * (signer_internal.h "A key's certificate"). Anything unusual (no file, an unreadable or
 * a large one) takes the uncached path, which is what every call did before.
 */
static X509 *key_certificate(struct signer_srv *srv, const char *label)
{
	char *path = tw_asprintf("%s/pki/%s.crt", srv->home->dir, label);
	struct signer_key_cert *e = NULL;
	unsigned char *text = NULL;
	size_t len = 0;
	struct tw_error rerr;
	X509 *x = NULL;
	BIO *b = NULL;

	if (path == NULL)
		return NULL;
	for (size_t i = 0; i < SIGNER_KEY_CERTS && e == NULL; i++)
		if (strcmp(srv->key_certs[i].label, label) == 0)
			e = &srv->key_certs[i];
	if (strlen(label) > SIGNER_LABEL_MAX ||
	    tw_read_file(path, SIGNER_KEY_CERT_MAX, &text, &len, &rerr) != TW_OK) {
		if (e != NULL)
			key_cert_clear(e);
		x = key_certificate_read(path);
		goto out;
	}
	if (e != NULL && e->pem != NULL && e->len == len && memcmp(e->pem, text, len) == 0) {
		if (e->x != NULL && X509_up_ref(e->x) == 1)
			x = e->x;
		goto out;
	}
	/* New or changed: decode these bytes (the same parser as from the file). */
	if ((b = BIO_new_mem_buf(text, (int)len)) != NULL)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ERR_clear_error();
	if (b != NULL && x == NULL)
		tw_warn("%s exists but holds no PEM certificate; issuer checks skipped", path);
	if (b == NULL) {
		/* Out of memory: nothing remembered, the uncached path decides. */
		if (e != NULL)
			key_cert_clear(e);
		x = key_certificate_read(path);
		goto out;
	}
	if (e == NULL) {
		e = &srv->key_certs[srv->key_certs_next];
		srv->key_certs_next = (srv->key_certs_next + 1) % SIGNER_KEY_CERTS;
	}
	key_cert_clear(e);
	if (x == NULL || X509_up_ref(x) == 1) {
		memcpy(e->label, label, strlen(label) + 1);
		e->pem = text;
		e->len = len;
		e->x = x;
		text = NULL;
	}
out:
	BIO_free(b);
	free(text);
	free(path);
	return x;
}

/*
 * The issuer of a to-be-signed object must be the signing key's subject when we know the
 * key's certificate; otherwise the signer would vouch for names it does not hold.
 */
static const char *issuer_mismatch(struct signer_srv *srv, const char *label,
	const X509_NAME *issuer)
{
	X509 *kc = key_certificate(srv, label);
	const char *why = NULL;

	if (kc != NULL && X509_NAME_cmp(issuer, X509_get_subject_name(kc)) != 0)
		why = "issuer name differs from the subject of the key's certificate";
	X509_free(kc);
	return why;
}

static tw_rc sign_digest(EVP_PKEY *key, const EVP_MD *md, const unsigned char *data,
	size_t len, struct tw_buf *out, struct tw_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[256];
	size_t siglen = sizeof(sig);
	tw_rc rc;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, data, len) != 1)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not sign");
	else
		rc = tw_buf_append(out, sig, siglen, err);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---------------- operations ---------------- */

tw_rc signer_put_spki(EVP_PKEY *pub, struct tw_buf *out, struct tw_error *err)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pub, &der);
	tw_rc rc;

	if (n <= 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a public key");
	rc = tw_buf_append(out, der, (size_t)n, err);
	OPENSSL_free(der);
	return rc;
}

tw_rc signer_op_generate(struct signer_srv *srv, struct conn *c, const char *label,
	const struct signer_msg *m, struct tw_buf *out, struct tw_error *err)
{
	const struct signer_field *cf = &m->f[SIGNER_TAG_CURVE];
	const unsigned char *p = cf->ptr;
	ASN1_OBJECT *obj = NULL;
	EVP_PKEY *pub = NULL;
	char detail[128], fp[17] = "";
	int nid;
	tw_rc rc;

	if (!srv->ceremony) {
		rc = signer_refuse(srv, c, label, "keygen", "key generation is allowed only in the "
			"ceremony (`torwart init`)", err);
		goto out;
	}
	obj = d2i_ASN1_OBJECT(NULL, &p, cf->len);
	nid = obj != NULL && p == cf->ptr + cf->len ? OBJ_obj2nid(obj) : NID_undef;
	if (nid != NID_brainpoolP256r1 && nid != NID_brainpoolP384r1 &&
	    nid != NID_brainpoolP512r1 && nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
		ERR_clear_error();
		rc = tw_error_set(err, TW_E_INVALID, "curve is not one of brainpoolP256r1/384r1/"
			"512r1, P-256, P-384");
		goto out;
	}
	if ((rc = signer_keys_generate(srv->keys, label, nid, cf->ptr, cf->len, &pub,
	    err)) != TW_OK)
		goto out;
	if ((rc = signer_put_spki(pub, out, err)) != TW_OK)
		goto out;
	hash_prefix(out->data, out->len, fp);
	snprintf(detail, sizeof(detail), "curve=%s spki-sha256=%s", OBJ_nid2sn(nid), fp);
	tw_info("generated key '%s' (%s) for %s", label, OBJ_nid2sn(nid), c->peer);
	rc = signer_audit(srv, c, "signer.keygen", label, "ok", detail, err);
out:
	ASN1_OBJECT_free(obj);
	EVP_PKEY_free(pub);
	return rc;
}

/*
 * RFC 5280 TBSCertificate with the SubjectPublicKeyInfo as plain fields. X509's own
 * template decodes the subject key on every d2i, and in OpenSSL 3.0 that builds a
 * decoder chain (~0.3 ms, as much as the signature itself); the policy checks need only
 * the names, so the common case parses this instead (sign_tbs_direct).
 */
typedef struct signer_spki_st {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *public_key;
} SIGNER_SPKI;

ASN1_SEQUENCE(SIGNER_SPKI) = {
	ASN1_SIMPLE(SIGNER_SPKI, algor, X509_ALGOR),
	ASN1_SIMPLE(SIGNER_SPKI, public_key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SIGNER_SPKI)

typedef struct signer_tbs_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signature;
	X509_NAME *issuer;
	X509_VAL *validity;
	X509_NAME *subject;
	SIGNER_SPKI *key;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	STACK_OF(X509_EXTENSION) *extensions;
} SIGNER_TBS;

ASN1_SEQUENCE(SIGNER_TBS) = {
	ASN1_EXP_OPT(SIGNER_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(SIGNER_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(SIGNER_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(SIGNER_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(SIGNER_TBS, validity, X509_VAL),
	ASN1_SIMPLE(SIGNER_TBS, subject, X509_NAME),
	ASN1_SIMPLE(SIGNER_TBS, key, SIGNER_SPKI),
	ASN1_IMP_OPT(SIGNER_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(SIGNER_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_SEQUENCE_OF_OPT(SIGNER_TBS, extensions, X509_EXTENSION, 3),
} static_ASN1_SEQUENCE_END(SIGNER_TBS)

/*
 * What the certificate signatures of one request share (sign_tbs): the private key, and
 * made at the first signature that needs them, the key's digest fetched once and one
 * signing context (EVP_DigestSignInit fetched the digest and built a context for every
 * certificate). tbs_signer_free frees them; key is the caller's.
 */
struct tbs_signer {
	EVP_PKEY *key;
	EVP_MD *md;
	EVP_PKEY_CTX *pctx;
};

static tw_rc tbs_signer_ready(struct tbs_signer *ts, const EVP_MD *want, const char *label,
	struct tw_error *err)
{
	if (ts->pctx != NULL)
		return TW_OK;
	if ((ts->md = EVP_MD_fetch(NULL, EVP_MD_get0_name(want), NULL)) == NULL ||
	    (ts->pctx = EVP_PKEY_CTX_new(ts->key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ts->pctx) != 1) {
		EVP_PKEY_CTX_free(ts->pctx);
		ts->pctx = NULL;
		EVP_MD_free(ts->md);
		ts->md = NULL;
		return tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not start signing "
			"with '%s'", label);
	}
	return TW_OK;
}

static void tbs_signer_free(struct tbs_signer *ts)
{
	EVP_PKEY_CTX_free(ts->pctx);
	EVP_MD_free(ts->md);
	ts->pctx = NULL;
	ts->md = NULL;
}

/*
 * The common case of sign_tbs without an X509 object: the TBS is DER (it re-encodes to
 * the same bytes), is not self-signed (that check needs the subject key), and already
 * names the algorithm X509_sign would write (ECDSA with md_for_key's digest, no
 * parameters). Then the signature over exactly these bytes, wrapped as a Certificate,
 * is byte for byte what X509_sign + i2d_X509 produce. Returns false, with nothing
 * signed, when the TBS is not such a case; sign_tbs then takes the general path.
 */
static bool sign_tbs_direct(struct tbs_signer *ts, X509 *kc, const char *label,
	EVP_PKEY *pub, const unsigned char *tbs, size_t tbs_len, unsigned char **der,
	size_t *der_len, char *detail, size_t dsize, const char **why, tw_rc *rc,
	struct tw_error *err)
{
	const EVP_MD *md = md_for_key(pub);
	int want = EVP_MD_get_type(md) == NID_sha256 ? NID_ecdsa_with_SHA256 :
		EVP_MD_get_type(md) == NID_sha384 ? NID_ecdsa_with_SHA384 :
		EVP_MD_get_type(md) == NID_sha512 ? NID_ecdsa_with_SHA512 : NID_undef;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	const unsigned char *p = tbs;
	SIGNER_TBS *t = NULL;
	const ASN1_OBJECT *aobj = NULL;
	const void *aval = NULL;
	unsigned char *re = NULL, *alg = NULL, *sig = NULL, *out = NULL, *q;
	int re_len, alg_len = 0, ptype = V_ASN1_UNDEF;
	size_t sig_len = 0, bits_len, content;
	char subject[SIGNER_DETAIL_MAX];
	bool taken = false;

	if (!EVP_PKEY_is_a(pub, "EC") || want == NID_undef)
		goto out;
	t = (SIGNER_TBS *)ASN1_item_d2i(NULL, &p, (long)tbs_len, ASN1_ITEM_rptr(SIGNER_TBS));
	if (t == NULL || p != tbs + tbs_len)
		goto out;
	re_len = ASN1_item_i2d((ASN1_VALUE *)t, &re, ASN1_ITEM_rptr(SIGNER_TBS));
	if (re_len <= 0 || (size_t)re_len != tbs_len || memcmp(re, tbs, tbs_len) != 0)
		goto out;
	X509_ALGOR_get0(&aobj, &ptype, &aval, t->signature);
	if (OBJ_obj2nid(aobj) != want || ptype != V_ASN1_UNDEF ||
	    X509_NAME_cmp(t->issuer, t->subject) == 0)
		goto out;
	/* From here on this path decides: a refusal or an error is final. */
	taken = true;
	if (kc != NULL && X509_NAME_cmp(t->issuer, X509_get_subject_name(kc)) != 0) {
		*why = "issuer name differs from the subject of the key's certificate";
		ERR_clear_error();
		*rc = TW_E_DENIED;
		goto out;
	}
	if ((alg_len = i2d_X509_ALGOR(t->signature, &alg)) <= 0 ||
	    (sig = OPENSSL_malloc((size_t)EVP_PKEY_get_size(ts->key) + 1)) == NULL) {
		*rc = tw_error_set_openssl(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	sig_len = (size_t)EVP_PKEY_get_size(ts->key);
	/* What EVP_DigestSign does (X509_sign's way), with the digest fetched and the
	 * signing context made once per request: the key's digest of exactly these bytes,
	 * signed by the key (the token's C_Sign for token keys). */
	if ((*rc = tbs_signer_ready(ts, md, label, err)) != TW_OK)
		goto out;
	if (EVP_Digest(tbs, tbs_len, digest, &dlen, ts->md, NULL) != 1 ||
	    EVP_PKEY_sign(ts->pctx, sig, &sig_len, digest, dlen) != 1) {
		*rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not sign with '%s'",
			label);
		goto out;
	}
	/* Certificate ::= SEQUENCE { tbs, algorithm, BIT STRING (0 unused bits) sig }. */
	bits_len = sig_len + 1;
	content = tbs_len + (size_t)alg_len + 1 + (bits_len < 0x80 ? 1 : bits_len < 0x100 ?
		2 : 3) + bits_len;
	if ((out = OPENSSL_malloc(content + 5)) == NULL) {
		*rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	q = out;
	*q++ = 0x30;
	der_put_len(&q, content);
	memcpy(q, tbs, tbs_len);
	q += tbs_len;
	memcpy(q, alg, (size_t)alg_len);
	q += alg_len;
	*q++ = V_ASN1_BIT_STRING;
	der_put_len(&q, bits_len);
	*q++ = 0x00;
	memcpy(q, sig, sig_len);
	q += sig_len;
	*der = out;
	*der_len = (size_t)(q - out);
	out = NULL;
	name_text(t->subject, subject, sizeof(subject));
	snprintf(detail, dsize, "purpose=certificate subject=%s", subject);
	*rc = TW_OK;
out:
	if (!taken)
		ERR_clear_error();
	OPENSSL_free(out);
	OPENSSL_free(sig);
	OPENSSL_free(alg);
	OPENSSL_free(re);
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SIGNER_TBS));
	return taken;
}

/*
 * Parse one TBSCertificate, apply the policy checks and sign it with ts->key (kc: the
 * key's certificate, loaded once per request, NULL when there is none): *der
 * (OPENSSL_free) is the certificate, detail its audit text. A policy refusal sets *why and returns
 * TW_E_DENIED without auditing (the caller refuses the whole request).
 */
static tw_rc sign_tbs(struct tbs_signer *ts, X509 *kc, const char *label,
	EVP_PKEY *pub, const unsigned char *tbs, size_t tbs_len, unsigned char **der,
	size_t *der_len, char *detail, size_t dsize, const char **why, struct tw_error *err)
{
	unsigned char *wrapped = NULL;
	const unsigned char *p;
	size_t wlen = 0;
	X509 *x = NULL;
	char subject[SIGNER_DETAIL_MAX];
	int n;
	tw_rc rc;

	*der = NULL;
	*why = NULL;
	if (sign_tbs_direct(ts, kc, label, pub, tbs, tbs_len, der, der_len, detail, dsize, why,
	    &rc, err))
		return rc;
	if ((wrapped = wrap_tbs(tbs, tbs_len, &wlen)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	p = wrapped;
	if ((x = d2i_X509(NULL, &p, (long)wlen)) == NULL || p != wrapped + wlen) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "the data is not a DER "
			"TBSCertificate");
		goto out;
	}
	if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) == 0) {
		/* Self-signed: only the key's own certificate (a root), never another key's. */
		if (X509_get0_pubkey(x) == NULL || EVP_PKEY_eq(X509_get0_pubkey(x), pub) != 1)
			*why = "self-signed certificate carries a different public key";
	} else if (kc != NULL && X509_NAME_cmp(X509_get_issuer_name(x),
		X509_get_subject_name(kc)) != 0) {
		*why = "issuer name differs from the subject of the key's certificate";
	}
	if (*why != NULL) {
		ERR_clear_error();
		rc = TW_E_DENIED;
		goto out;
	}
	if (X509_sign(x, ts->key, md_for_key(pub)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not sign with '%s'",
			label);
		goto out;
	}
	if ((n = i2d_X509(x, der)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the signed certificate");
		goto out;
	}
	*der_len = (size_t)n;
	name_text(X509_get_subject_name(x), subject, sizeof(subject));
	snprintf(detail, dsize, "purpose=certificate subject=%s", subject);
	rc = TW_OK;
out:
	free(wrapped);
	X509_free(x);
	return rc;
}

tw_rc signer_op_sign_certificate(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *tbs, struct tw_buf *out,
	struct tw_error *err)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	const char *why = NULL;
	char detail[STORE_TEXT_MAX + 1];
	struct tbs_signer ts = { .key = key };
	tw_rc rc;

	X509 *kc;

	if (!policy_allows(srv->home, label, "certificate"))
		return signer_refuse(srv, c, label, "certificate", "not in the key's policy", err);
	kc = key_certificate(srv, label);
	rc = sign_tbs(&ts, kc, label, pub, tbs->ptr, tbs->len, &der, &der_len, detail,
		sizeof(detail), &why, err);
	tbs_signer_free(&ts);
	X509_free(kc);
	if (rc == TW_E_DENIED && why != NULL)
		return signer_refuse(srv, c, label, "certificate", why, err);
	/* Audit first: a signature that is not in the admin log is never handed out. */
	if (rc == TW_OK && (rc = signer_audit(srv, c, "signer.sign", label, "ok", detail, err)) == TW_OK)
		rc = tw_buf_append(out, der, der_len, err);
	OPENSSL_free(der);
	return rc;
}

/*
 * SIGN_CERTIFICATES: DATA is 1..SIGNER_BATCH_MAX DER TBSCertificates back to back; the
 * answer is the signed certificates in the same order. All or nothing: one refused TBS
 * refuses the batch. The batch's audit entries (one per certificate, as for
 * SIGN_CERTIFICATE) are written in ONE transaction before anything is answered: that
 * is the point of the op, one fsync per batch instead of one per certificate.
 */
tw_rc signer_op_sign_certificates(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data, struct tw_buf *out,
	struct tw_error *err)
{
	struct audit_entry *entries = NULL;
	char (*details)[STORE_TEXT_MAX + 1] = NULL;
	const unsigned char *p = data->ptr, *end = data->ptr + data->len;
	size_t n = 0;
	X509 *kc = NULL;
	struct tbs_signer ts = { .key = key };
	tw_rc rc;

	if (!policy_allows(srv->home, label, "certificate"))
		return signer_refuse(srv, c, label, "certificate", "not in the key's policy", err);
	kc = key_certificate(srv, label);   /* once per batch, not per certificate */
	if ((entries = calloc(SIGNER_BATCH_MAX, sizeof(*entries))) == NULL ||
	    (details = calloc(SIGNER_BATCH_MAX, sizeof(*details))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	while (p < end) {
		const unsigned char *q = p;
		long len = 0;
		int tag, cls, inf;
		unsigned char *der = NULL;
		size_t der_len = 0, one;
		const char *why = NULL;

		/* Each element's own DER header says where it ends; check it against the data. */
		inf = ASN1_get_object(&q, &len, &tag, &cls, (long)(end - p));
		if ((inf & 0x80) || inf != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
		    cls != V_ASN1_UNIVERSAL) {
			ERR_clear_error();
			rc = tw_error_set(err, TW_E_INVALID, "element %zu of the batch is not a DER "
				"SEQUENCE", n + 1);
			goto out;
		}
		one = (size_t)(q - p) + (size_t)len;
		if (n == SIGNER_BATCH_MAX) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "more than %d certificates in one "
				"batch", SIGNER_BATCH_MAX);
			goto out;
		}
		rc = sign_tbs(&ts, kc, label, pub, p, one, &der, &der_len, details[n],
			sizeof(details[n]), &why, err);
		if (rc == TW_E_DENIED && why != NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg), "certificate %zu of the batch: %s", n + 1, why);
			rc = signer_refuse(srv, c, label, "certificate", msg, err);
			goto out;
		}
		if (rc == TW_OK && der_len > SIGNER_DATA_MAX - out->len)
			rc = tw_error_set(err, TW_E_TOO_LARGE, "the signed batch exceeds %u bytes; "
				"send fewer certificates per batch", SIGNER_DATA_MAX);
		if (rc == TW_OK)
			rc = tw_buf_append(out, der, der_len, err);
		OPENSSL_free(der);
		if (rc != TW_OK)
			goto out;
		entries[n] = (struct audit_entry){
			.actor = c->actor != NULL ? c->actor : "unknown",
			.role = c->role != NULL ? c->role : "unknown",
			.client = c->peer, .action = "signer.sign", .object = label, .result = "ok",
			.detail = details[n],
		};
		n++;
		p += one;
	}
	/* Audit first: a signature that is not in the admin log is never handed out. */
	if ((rc = audit_append_batch(srv->store, entries, n, err)) != TW_OK) {
		tw_err("cannot write the admin log (signer.sign batch of %zu %s): %s", n, label,
			err->message);
		rc = tw_error_set(err, rc, "the signer cannot write the admin log, so it hands out "
			"nothing: %s", err->message);
	}
out:
	if (rc != TW_OK)
		tw_buf_reset(out);
	tbs_signer_free(&ts);
	X509_free(kc);
	free(entries);
	free(details);
	return rc;
}

/*
 * A TLS handshake signature (tls_signer_key.h): the payload is the digest libssl made over
 * the handshake data, signed as it is. Only keys whose policy lists tls-handshake (the TLS
 * keys, nothing that signs certificates, CRLs or GWA messages) get here, so a caller can
 * have nothing but TLS signatures made with them. Counted in the metrics instead of one
 * admin-log entry per handshake; refusals are still audited (signer_refuse).
 */
static tw_rc sign_tls_handshake(struct signer_srv *srv, EVP_PKEY *key,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err)
{
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char sig[256];
	size_t siglen = sizeof(sig);
	tw_rc rc;

	/* SHA-256/384/512 digests: the profile's signature algorithms (tls.h). */
	if (data->len != 32 && data->len != 48 && data->len != 64) {
		rc = tw_error_set(err, TW_E_INVALID, "purpose tls-handshake needs a SHA-256, "
			"SHA-384 or SHA-512 digest (32, 48 or 64 bytes), not %u bytes", data->len);
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &siglen, data->ptr, data->len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the key backend could not make the "
			"TLS handshake signature");
		goto out;
	}
	rc = tw_buf_append(out, sig, siglen, err);
out:
	EVP_PKEY_CTX_free(ctx);
	signer_metrics_tls_handshake(srv->metrics, rc);
	return rc;
}

tw_rc signer_op_sign_data(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_msg *m, struct tw_buf *out,
	struct tw_error *err)
{
	const struct signer_field *data = &m->f[SIGNER_TAG_DATA];
	uint8_t pv = m->f[SIGNER_TAG_PURPOSE].ptr[0];
	const char *purpose = signer_purpose_name((enum signer_purpose)pv);
	const char *kind = NULL;
	char detail[160], hp[17];
	tw_rc rc;

	if (purpose == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown signing purpose %u", pv);
	if (pv == SIGNER_PURPOSE_CERTIFICATE)
		return signer_refuse(srv, c, label, purpose, "certificates are signed with "
			"SIGN_CERTIFICATE so the signer can check them", err);
	if (!policy_allows(srv->home, label, purpose))
		return signer_refuse(srv, c, label, purpose, "not in the key's policy", err);
	if (pv == SIGNER_PURPOSE_TLS_HANDSHAKE)
		return sign_tls_handshake(srv, key, data, out, err);
	if (pv == SIGNER_PURPOSE_CERT_REQUEST) {
		const char *why = signer_certreq_refusal(label, pub, data->ptr, data->len, &kind);

		if (why != NULL)
			return signer_refuse(srv, c, label, purpose, why, err);
	}
	if (pv == SIGNER_PURPOSE_CRL) {
		/* A CRL is accepted only as a well-formed TBSCertList from the key's own name. */
		size_t wlen = 0;
		unsigned char *w = wrap_tbs(data->ptr, data->len, &wlen);
		const unsigned char *p = w;
		X509_CRL *crl = w != NULL ? d2i_X509_CRL(NULL, &p, (long)wlen) : NULL;
		const char *why = NULL;
		int ok = crl != NULL && p == w + wlen;

		if (ok)
			why = issuer_mismatch(srv, label, X509_CRL_get_issuer(crl));
		X509_CRL_free(crl);
		free(w);
		ERR_clear_error();
		if (!ok)
			return tw_error_set(err, TW_E_INVALID, "purpose crl needs a DER TBSCertList");
		if (why != NULL)
			return signer_refuse(srv, c, label, purpose, why, err);
	}
	if ((rc = sign_digest(key, md_for_key(pub), data->ptr, data->len, out, err)) != TW_OK)
		return rc;
	hash_prefix(data->ptr, data->len, hp);
	if (kind != NULL)
		snprintf(detail, sizeof(detail), "purpose=%s kind=%s len=%u sha256=%s", purpose,
			kind, data->len, hp);
	else
		snprintf(detail, sizeof(detail), "purpose=%s len=%u sha256=%s", purpose, data->len,
			hp);
	rc = signer_audit(srv, c, "signer.sign", label, "ok", detail, err);
	if (rc != TW_OK)
		tw_buf_reset(out);
	return rc;
}

/*
 * SIGN_DATA_BATCH: what one SIGN_DATA per item would do (policy, signature, one
 * signer.sign entry each with the same detail), with the per-request work done once per
 * batch: the key lookup (handle()), the policy, one EVP_PKEY_CTX for all signatures and
 * one admin-log transaction (one fsync) for all entries. The worker signs the wake-ups
 * of a tick with it (TR-03109-1: every datagram still carries its own signature).
 */
tw_rc signer_op_sign_data_batch(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_msg *m, struct tw_buf *out,
	struct tw_error *err)
{
	const struct signer_field *data = &m->f[SIGNER_TAG_DATA];
	uint8_t pv = m->f[SIGNER_TAG_PURPOSE].ptr[0];
	const char *purpose = signer_purpose_name((enum signer_purpose)pv);
	const unsigned char *p = data->ptr, *end = data->ptr + data->len;
	EVP_MD *md = EVP_MD_fetch(NULL, EVP_MD_get0_name(md_for_key(pub)), NULL);
	bool sha256 = md != NULL && EVP_MD_get_type(md) == NID_sha256;
	struct audit_entry *entries = NULL;
	char (*details)[128] = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	struct tw_error ae;
	size_t n = 0;
	tw_rc rc = TW_OK;

	if (purpose == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "unknown signing purpose %u", pv);
		goto out;
	}
	/* These purposes have their own checks (certificate, crl) or no audit entry per
	 * signature (tls-handshake): one at a time through their own operations. */
	if (pv == SIGNER_PURPOSE_CERTIFICATE || pv == SIGNER_PURPOSE_CRL ||
	    pv == SIGNER_PURPOSE_TLS_HANDSHAKE || pv == SIGNER_PURPOSE_CERT_REQUEST) {
		rc = signer_refuse(srv, c, label, purpose, "this purpose is not signed in "
			"batches (SIGN_CERTIFICATES, the CRL stream or SIGN_DATA)", err);
		goto out;
	}
	if (!policy_allows(srv->home, label, purpose)) {
		rc = signer_refuse(srv, c, label, purpose, "not in the key's policy", err);
		goto out;
	}
	/* The digest fetched once per batch (EVP_sha256() would be fetched per call). */
	if (md == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot fetch the key's digest");
		goto out;
	}
	if ((entries = calloc(SIGNER_BATCH_MAX, sizeof(*entries))) == NULL ||
	    (details = calloc(SIGNER_BATCH_MAX, sizeof(*details))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL || EVP_PKEY_sign_init(ctx) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not start signing");
		goto out;
	}
	while (p < end) {
		unsigned char digest[EVP_MAX_MD_SIZE], sig[256], lp[2];
		unsigned int dlen = 0;
		size_t len, siglen = sizeof(sig);
		const unsigned char *item;
		struct tw_error ie;
		char hp[17];

		if (n == SIGNER_BATCH_MAX) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "more than %d items in one batch",
				SIGNER_BATCH_MAX);
			goto out;
		}
		if (signer_batch_next(&p, end, SIGNER_BATCH_ITEM_MAX, &item, &len, &ie) != TW_OK) {
			rc = tw_error_set(err, TW_E_INVALID, "item %zu of the batch: %s", n + 1,
				ie.message);
			goto out;
		}
		if (EVP_Digest(item, len, digest, &dlen, md, NULL) != 1 ||
		    EVP_PKEY_sign(ctx, sig, &siglen, digest, dlen) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not sign");
			goto out;
		}
		lp[0] = (unsigned char)(siglen >> 8);
		lp[1] = (unsigned char)siglen;
		if ((rc = tw_buf_append(out, lp, 2, err)) != TW_OK ||
		    (rc = tw_buf_append(out, sig, siglen, err)) != TW_OK)
			goto out;
		/* The audit detail's SHA-256 prefix: the signed digest itself for 256-bit keys. */
		if (sha256)
			tw_hex_encode(digest, 8, hp);
		else
			hash_prefix(item, len, hp);
		snprintf(details[n], sizeof(details[n]), "purpose=%s len=%zu sha256=%s", purpose,
			len, hp);
		entries[n] = (struct audit_entry){
			.actor = c->actor != NULL ? c->actor : "unknown",
			.role = c->role != NULL ? c->role : "unknown",
			.client = c->peer, .action = "signer.sign", .object = label, .result = "ok",
			.detail = details[n],
		};
		n++;
	}
	/* Audit first: a signature that is not in the admin log is never handed out. */
	if (srv->store == NULL) {
		rc = tw_error_set(err, TW_E_STORE, "the signer has no store, so it cannot write "
			"the admin log: %s", srv->setup_err.message);
	} else if ((rc = audit_append_batch(srv->store, entries, n, &ae)) != TW_OK) {
		tw_err("cannot write the admin log (signer.sign batch of %zu %s): %s", n, label,
			ae.message);
		/* Its own buffer: formatting err's message into err itself would overlap. */
		rc = tw_error_set(err, rc, "the signer cannot write the admin log, so it hands out "
			"nothing: %s", ae.message);
	}
out:
	if (rc != TW_OK)
		tw_buf_reset(out);
	EVP_PKEY_CTX_free(ctx);
	EVP_MD_free(md);
	free(entries);
	free(details);
	return rc;
}

/*
 * Streamed CRL (ops CRL_BEGIN, CRL_DATA, CRL_END; signer_crl.h): for CRLs over one frame.
 * The structure is checked while hashing; at the end the fixed fields and extensions are
 * parsed by OpenSSL as a stub TBSCertList for the issuer check, the digest is signed and
 * the signature audited (entries, total length and the digest prefix) before the answer.
 * Any error ends the stream; the client starts again with CRL_BEGIN.
 */
tw_rc signer_op_crl_stream(struct signer_srv *srv, struct conn *c, uint8_t op,
	const char *label, EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data,
	struct tw_buf *out, struct tw_error *err)
{
	unsigned char digest[EVP_MAX_MD_SIZE], sig[256], *stub = NULL, *w = NULL;
	unsigned int dlen = 0;
	size_t stub_len = 0, wlen = 0, siglen = sizeof(sig);
	int64_t entries = 0;
	uint64_t total = 0;
	char detail[160], hp[17];
	EVP_PKEY_CTX *pctx = NULL;
	X509_CRL *crl = NULL;
	const unsigned char *p;
	const char *why = NULL;
	tw_rc rc;

	if (op == SIGNER_OP_CRL_BEGIN) {
		signer_crl_free(c->crl);
		c->crl = NULL;
		if (!policy_allows(srv->home, label, "crl"))
			return signer_refuse(srv, c, label, "crl", "not in the key's policy", err);
		return signer_crl_begin(label, md_for_key(pub), data->ptr, data->len, &c->crl, err);
	}
	if (c->crl == NULL || strcmp(signer_crl_label(c->crl), label) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "no streamed CRL for key '%s' in progress "
			"(send CRL_BEGIN first)", label);
		goto out;
	}
	if (op == SIGNER_OP_CRL_DATA) {
		if ((rc = signer_crl_data(c->crl, data->ptr, data->len, err)) != TW_OK)
			goto out;
		return TW_OK;
	}
	if ((rc = signer_crl_end(c->crl, data->ptr, data->len, digest, &dlen, &stub, &stub_len,
		&entries, &total, err)) != TW_OK)
		goto out;
	if ((w = wrap_tbs(stub, stub_len, &wlen)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	p = w;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)wlen)) == NULL || p != w + wlen) {
		ERR_clear_error();
		rc = tw_error_set(err, TW_E_INVALID, "purpose crl needs a DER TBSCertList (its "
			"fixed fields or extensions do not parse)");
		goto out;
	}
	if ((why = issuer_mismatch(srv, label, X509_CRL_get_issuer(crl))) != NULL) {
		rc = signer_refuse(srv, c, label, "crl", why, err);
		goto out;
	}
	if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_sign(pctx, sig, &siglen, digest, dlen) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the token could not sign");
		goto out;
	}
	tw_hex_encode(digest, 8, hp);
	snprintf(detail, sizeof(detail), "purpose=crl streamed len=%llu entries=%lld digest=%s",
		(unsigned long long)total, (long long)entries, hp);
	/* Audit first: a signature that is not in the admin log is never handed out. */
	if ((rc = signer_audit(srv, c, "signer.sign", label, "ok", detail, err)) == TW_OK)
		rc = tw_buf_append(out, sig, siglen, err);
out:
	signer_crl_free(c->crl);
	c->crl = NULL;
	EVP_PKEY_CTX_free(pctx);
	X509_CRL_free(crl);
	free(w);
	free(stub);
	return rc;
}
