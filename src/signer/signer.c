/*
 * signer.c: the signer process: the only holder of the PKCS#11 token (DESIGN.md
 * principle 1). It answers framed requests (docs/signer-protocol.md) on a Unix socket,
 * enforces the per-key purpose policy and writes an admin-log entry for every signature,
 * key generation and refusal before it hands a result out.
 *
 * One poll() loop serves every connection; requests are handled inline because a token
 * signature takes well under a millisecond. Each connection is lock-step (we read its
 * next request only after its previous response is flushed), which bounds memory per
 * client to one frame in and one frame out.
 */
#include "crypto/signer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "signer/signer_keys.h"
#include "signer/signer_crl.h"
#include "crypto/signer_proto.h"
#include "signer/signer_metrics.h"
#include "signer/signer_server.h"
#include "store/store.h"

#define SIGNER_MAX_CONNS 512
#define SIGNER_PIN_BYTES 16
#define SIGNER_DETAIL_MAX 600      /* bytes of subject text put into an audit detail */
#define SIGNER_KEY_CERT_MAX (64 * 1024)

struct conn {
	int fd;
	char peer[48];                 /* "uid:N pid:M" from SO_PEERCRED */
	char *actor, *role;            /* from HELLO; NULL = "unknown" */
	unsigned char prefix[SIGNER_LEN_BYTES];
	size_t prefix_got;
	unsigned char *body;           /* allocated after the length check */
	uint32_t body_len;
	size_t body_got;
	struct tw_buf out;
	size_t out_off;
	int closing;                   /* close once out is flushed */
	struct signer_crl_stream *crl; /* a streamed CRL in progress (ops 7-9) */
};

struct signer_srv {
	const struct tw_home *home;
	bool ceremony;
	struct signer_keys *keys;      /* token, or key files (tests only) */
	struct tw_store *store;
	struct tw_error setup_err;     /* set when the token or store could not be opened */
	struct conn *conns[SIGNER_MAX_CONNS];
	size_t nconns;
	struct signer_metrics *metrics;   /* long-running signer only (signer_metrics.h) */
};

static volatile sig_atomic_t signer_stop;

/* ---------------- home preparation ---------------- */

tw_rc signer_home_prepare(const char *home_dir, struct tw_error *err)
{
	char *conf = NULL, *tokens = NULL, *secrets = NULL, *pins = NULL, *conf_text = NULL;
	unsigned char raw[2][SIGNER_PIN_BYTES];
	char hex[2][2 * SIGNER_PIN_BYTES + 1];
	char pin_text[256];
	int n = 0;
	tw_rc rc;

	conf = tw_asprintf("%s/softhsm2.conf", home_dir);
	tokens = tw_asprintf("%s/tokens", home_dir);
	secrets = tw_asprintf("%s/secrets", home_dir);
	pins = tw_asprintf("%s/%s", home_dir, TW_DEFAULT_PIN_FILE);
	if (conf == NULL || tokens == NULL || secrets == NULL || pins == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* Check everything first: a half-prepared token directory is worse than none. */
	if (tw_path_exists(conf) || tw_path_exists(tokens) || tw_path_exists(pins)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s already has a token (softhsm2.conf, tokens/ "
			"or secrets/pins); refusing to overwrite it", home_dir);
		goto out;
	}
	conf_text = tw_asprintf("# softhsm2.conf: written by torwart init; the signer exports "
		"SOFTHSM2_CONF=<this file>.\ndirectories.tokendir = %s\nobjectstore.backend = file\n"
		"log.level = ERROR\n", tokens);
	if (conf_text == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(tokens, 0700) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot create %s: %s", tokens, strerror(errno));
		goto out;
	}
	if ((rc = tw_mkdir_p(secrets, 0700, err)) != TW_OK)
		goto out;
	if (RAND_bytes(raw[0], sizeof(raw[0])) != 1 || RAND_bytes(raw[1], sizeof(raw[1])) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for the token PINs");
		goto out;
	}
	tw_hex_encode(raw[0], sizeof(raw[0]), hex[0]);
	tw_hex_encode(raw[1], sizeof(raw[1]), hex[1]);
	/* DEMO MODE, said in the file itself: production splits the PINs among custodians
	 * (`torwart ca custodians split`, docs/key-ceremony.md) and deletes this file. */
	n = snprintf(pin_text, sizeof(pin_text), "# DEMO MODE: token PINs in a file. Production: "
		"torwart ca custodians split (docs/key-ceremony.md)\nuser_pin=%s\nso_pin=%s\n",
		hex[0], hex[1]);
	if (n < 0 || (size_t)n >= sizeof(pin_text)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "pin text does not fit");
		goto out;
	}
	if ((rc = tw_write_file(pins, pin_text, (size_t)n, 0600, true, err)) != TW_OK)
		goto out;
	rc = tw_write_file(conf, conf_text, strlen(conf_text), 0644, true, err);
out:
	tw_wipe(raw, sizeof(raw));
	tw_wipe(hex, sizeof(hex));
	tw_wipe(pin_text, sizeof(pin_text));
	free(conf);
	free(tokens);
	free(secrets);
	free(pins);
	free(conf_text);
	return rc;
}

/* ---------------- policy ---------------- */

static const char *default_policy(const char *label)
{
	if (strcmp(label, SIGNER_KEY_ROOT_CA) == 0 || strcmp(label, SIGNER_KEY_SUB_CA) == 0)
		return "certificate,crl";
	if (strcmp(label, SIGNER_KEY_GWA_SIG) == 0)
		return "wakeup,tree-head,authorisation";
	/* The internal operator CA (src/auth/opca.c): operator and api TLS certificates,
	 * and the CRL of revoked operator certificates. */
	if (strcmp(label, "operator-ca") == 0)
		return "certificate,crl";
	return "";
}

/* True when [signer] policy.<label> (or the built-in default) lists purpose. */
static bool policy_allows(const struct tw_home *home, const char *label, const char *purpose)
{
	char key[16 + SIGNER_LABEL_MAX];
	const char *list, *p;
	size_t plen = strlen(purpose);

	snprintf(key, sizeof(key), "policy.%s", label);
	list = tw_config_get(home->conf, "signer", key);
	if (list == NULL)
		list = default_policy(label);
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

/* ---------------- audit ---------------- */

static tw_rc audit(struct signer_srv *srv, const struct conn *c, const char *action,
	const char *label, const char *result, const char *detail, struct tw_error *err)
{
	struct audit_entry e = {
		.actor = c->actor != NULL ? c->actor : "unknown",
		.role = c->role != NULL ? c->role : "unknown",
		.client = c->peer,
		.action = action,
		.object = label,
		.result = result,
		.detail = detail,
	};
	struct tw_error aerr;
	tw_rc rc = audit_append(srv->store, &e, &aerr);

	if (rc != TW_OK) {
		tw_err("cannot write the admin log (%s %s): %s", action, label, aerr.message);
		return tw_error_set(err, rc, "the signer cannot write the admin log, so it hands "
			"out nothing: %s", aerr.message);
	}
	return TW_OK;
}

/* Refuse with TW_E_DENIED and an audit entry naming key and purpose. */
static tw_rc refuse(struct signer_srv *srv, const struct conn *c, const char *label,
	const char *purpose, const char *why, struct tw_error *err)
{
	char detail[STORE_TEXT_MAX + 1];
	struct tw_error aerr;

	snprintf(detail, sizeof(detail), "purpose=%s: %s", purpose, why);
	tw_warn("refused %s: key '%s', purpose %s: %s", c->peer, label, purpose, why);
	if (audit(srv, c, "signer.refuse", label, "refused", detail, &aerr) != TW_OK)
		tw_err("refusal not audited: %s", aerr.message);
	/* A use of a key outside its policy is an attempt on the key: the security officers
	 * hear of it (issue 5 alerts), not only the log. */
	{
		char msg[STORE_TEXT_MAX + 1];

		snprintf(msg, sizeof(msg), "refused use of key '%s' by %s: %s", label, c->peer,
			detail);
		if (alert_raise(srv->store, ALERT_KEY_ACCESS, NULL, label, msg, &aerr) != TW_OK)
			tw_err("key-access alert not raised: %s", aerr.message);
	}
	return tw_error_set(err, TW_E_DENIED, "signer refused: key '%s' may not sign for "
		"purpose '%s' (%s)", label, purpose, why);
}

/* ---------------- crypto helpers ---------------- */

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

/* The certificate of key label (HOME/pki/<label>.crt), or NULL when it does not exist. */
static X509 *key_certificate(const struct tw_home *home, const char *label)
{
	char *path = tw_asprintf("%s/pki/%s.crt", home->dir, label);
	X509 *x = NULL;
	BIO *b;

	if (path == NULL)
		return NULL;
	if ((b = BIO_new_file(path, "r")) != NULL) {
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		BIO_free(b);
		if (x == NULL)
			tw_warn("%s exists but holds no PEM certificate; issuer checks skipped", path);
	}
	ERR_clear_error();
	free(path);
	return x;
}

/*
 * The issuer of a to-be-signed object must be the signing key's subject when we know the
 * key's certificate; otherwise the signer would vouch for names it does not hold.
 */
static const char *issuer_mismatch(const struct tw_home *home, const char *label,
	const X509_NAME *issuer)
{
	X509 *kc = key_certificate(home, label);
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

static tw_rc op_hello(struct conn *c, const struct signer_msg *m, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = signer_msg_require(m, 0, SIGNER_BIT(SIGNER_TAG_ACTOR) |
	    SIGNER_BIT(SIGNER_TAG_ROLE), err)) != TW_OK)
		return rc;
	if (m->f[SIGNER_TAG_ACTOR].present) {
		free(c->actor);
		if ((c->actor = signer_field_strdup(&m->f[SIGNER_TAG_ACTOR])) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	if (m->f[SIGNER_TAG_ROLE].present) {
		free(c->role);
		if ((c->role = signer_field_strdup(&m->f[SIGNER_TAG_ROLE])) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

static tw_rc put_spki(EVP_PKEY *pub, struct tw_buf *out, struct tw_error *err)
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

static tw_rc op_generate(struct signer_srv *srv, struct conn *c, const char *label,
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
		rc = refuse(srv, c, label, "keygen", "key generation is allowed only in the "
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
	if ((rc = put_spki(pub, out, err)) != TW_OK)
		goto out;
	hash_prefix(out->data, out->len, fp);
	snprintf(detail, sizeof(detail), "curve=%s spki-sha256=%s", OBJ_nid2sn(nid), fp);
	tw_info("generated key '%s' (%s) for %s", label, OBJ_nid2sn(nid), c->peer);
	rc = audit(srv, c, "signer.keygen", label, "ok", detail, err);
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
 * The common case of sign_tbs without an X509 object: the TBS is DER (it re-encodes to
 * the same bytes), is not self-signed (that check needs the subject key), and already
 * names the algorithm X509_sign would write (ECDSA with md_for_key's digest, no
 * parameters). Then the signature over exactly these bytes, wrapped as a Certificate,
 * is byte for byte what X509_sign + i2d_X509 produce. Returns false, with nothing
 * signed, when the TBS is not such a case; sign_tbs then takes the general path.
 */
static bool sign_tbs_direct(X509 *kc, const char *label, EVP_PKEY *key, EVP_PKEY *pub,
	const unsigned char *tbs, size_t tbs_len, unsigned char **der, size_t *der_len,
	char *detail, size_t dsize, const char **why, tw_rc *rc, struct tw_error *err)
{
	const EVP_MD *md = md_for_key(pub);
	int want = EVP_MD_get_type(md) == NID_sha256 ? NID_ecdsa_with_SHA256 :
		EVP_MD_get_type(md) == NID_sha384 ? NID_ecdsa_with_SHA384 :
		EVP_MD_get_type(md) == NID_sha512 ? NID_ecdsa_with_SHA512 : NID_undef;
	const unsigned char *p = tbs;
	SIGNER_TBS *t = NULL;
	const ASN1_OBJECT *aobj = NULL;
	const void *aval = NULL;
	unsigned char *re = NULL, *alg = NULL, *sig = NULL, *out = NULL, *q;
	int re_len, alg_len = 0, ptype = V_ASN1_UNDEF;
	size_t sig_len = 0, bits_len, content;
	EVP_MD_CTX *mctx = NULL;
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
	    (sig = OPENSSL_malloc((size_t)EVP_PKEY_get_size(key) + 1)) == NULL ||
	    (mctx = EVP_MD_CTX_new()) == NULL) {
		*rc = tw_error_set_openssl(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	sig_len = (size_t)EVP_PKEY_get_size(key);
	/* As X509_sign does it: the digest by name, default library context. */
	if (EVP_DigestSignInit_ex(mctx, NULL, EVP_MD_get0_name(md), NULL, NULL, key,
	    NULL) != 1 || EVP_DigestSign(mctx, sig, &sig_len, tbs, tbs_len) != 1) {
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
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(out);
	OPENSSL_free(sig);
	OPENSSL_free(alg);
	OPENSSL_free(re);
	ASN1_item_free((ASN1_VALUE *)t, ASN1_ITEM_rptr(SIGNER_TBS));
	return taken;
}

/*
 * Parse one TBSCertificate, apply the policy checks and sign it (kc: the key's
 * certificate, loaded once per request, NULL when there is none): *der (OPENSSL_free) is
 * the certificate, detail its audit text. A policy refusal sets *why and returns
 * TW_E_DENIED without auditing (the caller refuses the whole request).
 */
static tw_rc sign_tbs(X509 *kc, const char *label, EVP_PKEY *key,
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
	if (sign_tbs_direct(kc, label, key, pub, tbs, tbs_len, der, der_len, detail, dsize, why,
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
	if (X509_sign(x, key, md_for_key(pub)) <= 0) {
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

static tw_rc op_sign_certificate(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *tbs, struct tw_buf *out,
	struct tw_error *err)
{
	unsigned char *der = NULL;
	size_t der_len = 0;
	const char *why = NULL;
	char detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	X509 *kc;

	if (!policy_allows(srv->home, label, "certificate"))
		return refuse(srv, c, label, "certificate", "not in the key's policy", err);
	kc = key_certificate(srv->home, label);
	rc = sign_tbs(kc, label, key, pub, tbs->ptr, tbs->len, &der, &der_len, detail,
		sizeof(detail), &why, err);
	X509_free(kc);
	if (rc == TW_E_DENIED && why != NULL)
		return refuse(srv, c, label, "certificate", why, err);
	/* Audit first: a signature that is not in the admin log is never handed out. */
	if (rc == TW_OK && (rc = audit(srv, c, "signer.sign", label, "ok", detail, err)) == TW_OK)
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
static tw_rc op_sign_certificates(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data, struct tw_buf *out,
	struct tw_error *err)
{
	struct audit_entry *entries = NULL;
	char (*details)[STORE_TEXT_MAX + 1] = NULL;
	const unsigned char *p = data->ptr, *end = data->ptr + data->len;
	size_t n = 0;
	X509 *kc = NULL;
	tw_rc rc;

	if (!policy_allows(srv->home, label, "certificate"))
		return refuse(srv, c, label, "certificate", "not in the key's policy", err);
	kc = key_certificate(srv->home, label);   /* once per batch, not per certificate */
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
		rc = sign_tbs(kc, label, key, pub, p, one, &der, &der_len, details[n],
			sizeof(details[n]), &why, err);
		if (rc == TW_E_DENIED && why != NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg), "certificate %zu of the batch: %s", n + 1, why);
			rc = refuse(srv, c, label, "certificate", msg, err);
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
	X509_free(kc);
	free(entries);
	free(details);
	return rc;
}

static tw_rc op_sign_data(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_msg *m, struct tw_buf *out,
	struct tw_error *err)
{
	const struct signer_field *data = &m->f[SIGNER_TAG_DATA];
	uint8_t pv = m->f[SIGNER_TAG_PURPOSE].ptr[0];
	const char *purpose = signer_purpose_name((enum signer_purpose)pv);
	char detail[128], hp[17];
	tw_rc rc;

	if (purpose == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown signing purpose %u", pv);
	if (pv == SIGNER_PURPOSE_CERTIFICATE)
		return refuse(srv, c, label, purpose, "certificates are signed with "
			"SIGN_CERTIFICATE so the signer can check them", err);
	if (!policy_allows(srv->home, label, purpose))
		return refuse(srv, c, label, purpose, "not in the key's policy", err);
	if (pv == SIGNER_PURPOSE_CRL) {
		/* A CRL is accepted only as a well-formed TBSCertList from the key's own name. */
		size_t wlen = 0;
		unsigned char *w = wrap_tbs(data->ptr, data->len, &wlen);
		const unsigned char *p = w;
		X509_CRL *crl = w != NULL ? d2i_X509_CRL(NULL, &p, (long)wlen) : NULL;
		const char *why = NULL;
		int ok = crl != NULL && p == w + wlen;

		if (ok)
			why = issuer_mismatch(srv->home, label, X509_CRL_get_issuer(crl));
		X509_CRL_free(crl);
		free(w);
		ERR_clear_error();
		if (!ok)
			return tw_error_set(err, TW_E_INVALID, "purpose crl needs a DER TBSCertList");
		if (why != NULL)
			return refuse(srv, c, label, purpose, why, err);
	}
	if ((rc = sign_digest(key, md_for_key(pub), data->ptr, data->len, out, err)) != TW_OK)
		return rc;
	hash_prefix(data->ptr, data->len, hp);
	snprintf(detail, sizeof(detail), "purpose=%s len=%u sha256=%s", purpose, data->len, hp);
	rc = audit(srv, c, "signer.sign", label, "ok", detail, err);
	if (rc != TW_OK)
		tw_buf_reset(out);
	return rc;
}

/*
 * Streamed CRL (ops CRL_BEGIN, CRL_DATA, CRL_END; signer_crl.h): for CRLs over one frame.
 * The structure is checked while hashing; at the end the fixed fields and extensions are
 * parsed by OpenSSL as a stub TBSCertList for the issuer check, the digest is signed and
 * the signature audited (entries, total length and the digest prefix) before the answer.
 * Any error ends the stream; the client starts again with CRL_BEGIN.
 */
static tw_rc op_crl_stream(struct signer_srv *srv, struct conn *c, uint8_t op,
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
			return refuse(srv, c, label, "crl", "not in the key's policy", err);
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
	if ((why = issuer_mismatch(srv->home, label, X509_CRL_get_issuer(crl))) != NULL) {
		rc = refuse(srv, c, label, "crl", why, err);
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
	if ((rc = audit(srv, c, "signer.sign", label, "ok", detail, err)) == TW_OK)
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

/* ---------------- custodian activation (signer_keys.h) ---------------- */

/* Does the comma-separated role list name role (or is it break-glass)? */
static bool role_has(const char *roles, const char *role)
{
	size_t n = strlen(role);

	if (roles == NULL)
		return false;
	if (strcmp(roles, "break-glass") == 0)
		return true;
	for (const char *p = roles; *p != '\0';) {
		size_t len = strcspn(p, ", ");

		if (len == n && strncmp(p, role, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}

static tw_rc op_custodian_share(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err)
{
	struct signer_activation st;
	struct tw_error aerr;
	char detail[STORE_TEXT_MAX + 1], answer[160];
	unsigned index = 0;
	bool activated = false;
	tw_rc rc;

	/* The api checks the custodian role; the signer checks it again (defence in depth). */
	if (!role_has(c->role, "custodian")) {
		snprintf(detail, sizeof(detail), "refused: role '%s' is not custodian",
			c->role != NULL ? c->role : "unknown");
		(void)audit(srv, c, "signer.custodian.share", "token", "refused", detail, &aerr);
		return tw_error_set(err, TW_E_DENIED, "only an operator with the custodian role "
			"may enter a key share");
	}
	rc = signer_keys_add_share(srv->keys, c->actor != NULL ? c->actor : c->peer,
		data->ptr, data->len, &index, &activated, err);
	signer_keys_activation(srv->keys, &st);
	if (rc == TW_E_INTEGRITY) {
		/* The k-th share completed a set that does not open the token. */
		snprintf(detail, sizeof(detail), "share %u entered; the %u shares do not combine to "
			"the token PIN; all held shares discarded, token stays logged out", index, st.k);
		if (audit(srv, c, "signer.custodian.share", "token", "ok", detail, &aerr) != TW_OK ||
		    audit(srv, c, "signer.activate", "token", "failed", err->message, &aerr) != TW_OK)
			tw_err("activation failure not audited: %s", aerr.message);
		if (alert_raise(srv->store, ALERT_KEY_ACCESS, NULL, "token", "custodian "
		    "activation failed: the entered shares do not combine to the token PIN",
		    &aerr) != TW_OK)
			tw_err("key-access alert not raised: %s", aerr.message);
		tw_warn("custodian activation failed for %s: %s", c->peer, err->message);
		return rc;
	}
	if (rc != TW_OK) {
		/* The message never contains share bytes (shares.c, signer_keys.c). */
		snprintf(detail, sizeof(detail), "refused: %s", err->message);
		(void)audit(srv, c, "signer.custodian.share", "token", "refused", detail, &aerr);
		return rc;
	}
	snprintf(detail, sizeof(detail), "share %u of a %u-of-%u set entered%s", index, st.k,
		st.n, activated ? "; completes the set" : "");
	if ((rc = audit(srv, c, "signer.custodian.share", "token", "ok", detail, err)) != TW_OK) {
		/* Unlogged shares do not count: start over. */
		signer_keys_deactivate(srv->keys);
		return rc;
	}
	if (activated) {
		snprintf(detail, sizeof(detail), "token logged in with the shares of %u custodians "
			"(the signer.custodian.share entries before this one); active until "
			"deactivated or the signer restarts", st.k);
		if ((rc = audit(srv, c, "signer.activate", "token", "ok", detail, err)) != TW_OK) {
			signer_keys_deactivate(srv->keys);
			return rc;
		}
		tw_info("signer active: %u of %u custodians entered their shares", st.k, st.n);
		snprintf(answer, sizeof(answer), "active: the token is logged in (%u of %u "
			"custodians)", st.k, st.n);
	} else {
		snprintf(answer, sizeof(answer), "waiting: share %u accepted, %u of %u shares "
			"entered; the signer stays inactive until %u are", index, st.entered, st.k,
			st.k);
	}
	return tw_buf_append(out, answer, strlen(answer), err);
}

static tw_rc op_activation(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err)
{
	struct signer_activation st;
	char answer[200];
	tw_rc rc;

	if (data->len == 10 && memcmp(data->ptr, "deactivate", 10) == 0) {
		signer_keys_activation(srv->keys, &st);
		if (st.custodians) {
			signer_keys_deactivate(srv->keys);
			if ((rc = audit(srv, c, "signer.deactivate", "token", "ok", st.active ?
			    "token logged out; custodian shares are needed again" :
			    "token was not active; held shares discarded", err)) != TW_OK)
				return rc;
		}
	} else if (!(data->len == 6 && memcmp(data->ptr, "status", 6) == 0)) {
		return tw_error_set(err, TW_E_INVALID, "activation request must be \"status\" or "
			"\"deactivate\"");
	}
	signer_keys_activation(srv->keys, &st);
	if (!st.custodians)
		snprintf(answer, sizeof(answer), "mode=demo active=yes (token PIN from the pin "
			"file, or file keys: not for production)");
	else
		snprintf(answer, sizeof(answer), "mode=custodians k=%u n=%u active=%s entered=%u",
			st.k, st.n, st.active ? "yes" : "no", st.entered);
	return tw_buf_append(out, answer, strlen(answer), err);
}

/*
 * Handle one decoded request. TW_E_PROTOCOL means the peer broke the protocol (the
 * connection is closed after the reply); any other code is an ordinary error reply.
 */
static tw_rc handle(struct signer_srv *srv, struct conn *c, const struct signer_msg *m,
	struct tw_buf *out, struct tw_error *err)
{
	const uint32_t L = SIGNER_BIT(SIGNER_TAG_LABEL);
	char *label = NULL;
	EVP_PKEY *key = NULL, *pub = NULL;
	uint32_t need;
	tw_rc rc;

	if (m->op & SIGNER_OP_RESPONSE)
		return tw_error_set(err, TW_E_PROTOCOL, "a client sent a response frame");
	if (m->op == SIGNER_OP_HELLO) {
		/* HELLO doubles as the readiness probe, so it reports a failed setup too. */
		if (srv->setup_err.code != TW_OK &&
		    signer_msg_require(m, 0, ~0u, err) == TW_OK)
			return tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		return op_hello(c, m, err);
	}
	if (m->op == SIGNER_OP_CUSTODIAN_SHARE || m->op == SIGNER_OP_ACTIVATION) {
		if ((rc = signer_msg_require(m, SIGNER_BIT(SIGNER_TAG_DATA), 0, err)) != TW_OK)
			return rc;
		if (srv->setup_err.code != TW_OK)
			return tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		return m->op == SIGNER_OP_CUSTODIAN_SHARE ?
			op_custodian_share(srv, c, &m->f[SIGNER_TAG_DATA], out, err) :
			op_activation(srv, c, &m->f[SIGNER_TAG_DATA], out, err);
	}
	switch (m->op) {
	case SIGNER_OP_GENERATE_KEY: need = L | SIGNER_BIT(SIGNER_TAG_CURVE); break;
	case SIGNER_OP_SIGN_CERTIFICATE:
	case SIGNER_OP_SIGN_CERTIFICATES:
	case SIGNER_OP_CRL_BEGIN:
	case SIGNER_OP_CRL_DATA:
	case SIGNER_OP_CRL_END: need = L | SIGNER_BIT(SIGNER_TAG_DATA); break;
	case SIGNER_OP_SIGN_DATA:
		need = L | SIGNER_BIT(SIGNER_TAG_PURPOSE) | SIGNER_BIT(SIGNER_TAG_DATA);
		break;
	default: need = L; break;
	}
	if ((rc = signer_msg_require(m, need, 0, err)) != TW_OK)
		goto out;
	/* Setup failures (no token, no store) are reported per request, with their cause. */
	if (srv->setup_err.code != TW_OK) {
		rc = tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		goto out;
	}
	if ((label = signer_field_strdup(&m->f[SIGNER_TAG_LABEL])) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (m->op == SIGNER_OP_GENERATE_KEY) {
		rc = op_generate(srv, c, label, m, out, err);
		goto out;
	}
	if ((rc = signer_keys_public(srv->keys, label, &pub, err)) != TW_OK)
		goto out;
	if (m->op == SIGNER_OP_GET_PUBLIC_KEY) {
		rc = put_spki(pub, out, err);
		goto out;
	}
	/* Production: no private key is used before k custodians have activated the token. */
	if (!signer_keys_active(srv->keys)) {
		struct signer_activation st;

		signer_keys_activation(srv->keys, &st);
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "signer inactive: key '%s' cannot sign "
			"until %u of %u custodians enter their shares (`torwart ca custodian-share "
			"--share FILE`; %u entered since the signer started or was deactivated)",
			label, st.k, st.n, st.entered);
		goto out;
	}
	if ((rc = signer_keys_private(srv->keys, label, &key, err)) != TW_OK)
		goto out;
	if (m->op == SIGNER_OP_SIGN_CERTIFICATE)
		rc = op_sign_certificate(srv, c, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else if (m->op == SIGNER_OP_SIGN_CERTIFICATES)
		rc = op_sign_certificates(srv, c, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else if (m->op >= SIGNER_OP_CRL_BEGIN && m->op <= SIGNER_OP_CRL_END)
		rc = op_crl_stream(srv, c, m->op, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else
		rc = op_sign_data(srv, c, label, key, pub, m, out, err);
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	free(label);
	return rc;
}

/* ---------------- connections ---------------- */

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->actor);
	free(c->role);
	free(c->body);
	signer_crl_free(c->crl);
	tw_buf_free(&c->out);
	free(c);
}

static struct conn *conn_new(int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c == NULL)
		return NULL;
	c->fd = fd;
	tw_buf_init(&c->out, SIGNER_FRAME_MAX + 64);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		snprintf(c->peer, sizeof(c->peer), "uid:%ld pid:%ld", (long)cred.uid,
			(long)cred.pid);
	else
		snprintf(c->peer, sizeof(c->peer), "uid:? pid:?");
	return c;
}

/* Decode and answer the complete frame in c->body. Returns -1 to drop the connection. */
static int conn_frame(struct signer_srv *srv, struct conn *c)
{
	struct signer_msg req, resp;
	struct tw_error err;
	struct tw_buf payload;
	tw_rc rc;

	tw_error_clear(&err);
	tw_buf_init(&payload, SIGNER_DATA_MAX);
	rc = signer_frame_decode(c->body, c->body_len, &req, &err);
	if (rc != TW_OK) {
		/* Undecodable: we cannot even trust the request id. Drop the peer. */
		tw_warn("closing connection from %s: malformed frame: %s", c->peer, err.message);
		return -1;
	}
	{
		int64_t t0 = tw_monotonic_ms();

		rc = handle(srv, c, &req, &payload, &err);
		signer_metrics_observe(srv->metrics, req.op, rc,
			(uint64_t)(tw_monotonic_ms() - t0) * 1000);
	}
	/* A custodian share lives no longer than its request. */
	if (req.op == SIGNER_OP_CUSTODIAN_SHARE)
		OPENSSL_cleanse(c->body, c->body_len);
	signer_msg_init(&resp, req.op | SIGNER_OP_RESPONSE, req.id);
	resp.status = (uint8_t)rc;
	if (rc != TW_OK) {
		if (err.message[0] == '\0')
			snprintf(err.message, sizeof(err.message), "%s", tw_strerror(rc));
		signer_msg_set_str(&resp, SIGNER_TAG_MESSAGE, err.message);
		if (rc == TW_E_PROTOCOL) {
			tw_warn("closing connection from %s after %s: %s", c->peer,
				signer_op_name(req.op), err.message);
			c->closing = 1;
		}
	} else if (payload.len > 0) {
		signer_msg_set(&resp, SIGNER_TAG_PAYLOAD, payload.data, payload.len);
	}
	rc = signer_frame_encode(&resp, &c->out, &err);
	tw_buf_free(&payload);
	if (rc != TW_OK) {
		tw_err("cannot encode a response for %s: %s", c->peer, err.message);
		return -1;
	}
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->body_got = 0;
	c->prefix_got = 0;
	return 0;
}

/* Read what is available; returns -1 to drop the connection. */
static int conn_read(struct signer_srv *srv, struct conn *c)
{
	for (;;) {
		unsigned char *dst;
		size_t want;
		ssize_t n;

		/* Lock-step: the next request waits until the previous response is out. */
		if (c->closing || c->out.len > c->out_off)
			return 0;
		if (c->prefix_got < SIGNER_LEN_BYTES) {
			dst = c->prefix + c->prefix_got;
			want = SIGNER_LEN_BYTES - c->prefix_got;
		} else {
			dst = c->body + c->body_got;
			want = c->body_len - c->body_got;
		}
		n = recv(c->fd, dst, want, 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		if (c->prefix_got < SIGNER_LEN_BYTES) {
			struct tw_error err;

			c->prefix_got += (size_t)n;
			if (c->prefix_got < SIGNER_LEN_BYTES)
				continue;
			/* The length is checked before we allocate for the body. */
			if (signer_frame_check_len(c->prefix, &c->body_len, &err) != TW_OK) {
				tw_warn("closing connection from %s: %s", c->peer, err.message);
				return -1;
			}
			if ((c->body = malloc(c->body_len)) == NULL)
				return -1;
			c->body_got = 0;
			continue;
		}
		c->body_got += (size_t)n;
		if (c->body_got == c->body_len && conn_frame(srv, c) != 0)
			return -1;
	}
}

/* Write what the socket takes; returns -1 on error, 1 when the connection is done. */
static int conn_write(struct conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
	}
	tw_buf_reset(&c->out);
	c->out_off = 0;
	return c->closing ? 1 : 0;
}

static void srv_drop(struct signer_srv *srv, size_t i)
{
	conn_free(srv->conns[i]);
	srv->conns[i] = srv->conns[--srv->nconns];
	srv->conns[srv->nconns] = NULL;
}

/*
 * The loop. listen_fd < 0: serve the existing connections until the last one is gone
 * (private child). sigmask: signals to unblock while waiting (ppoll), or NULL.
 */
static void srv_loop(struct signer_srv *srv, int listen_fd, const sigset_t *sigmask)
{
	struct pollfd pfd[SIGNER_MAX_CONNS + 1];

	while (!signer_stop && (listen_fd >= 0 || srv->nconns > 0)) {
		nfds_t n = 0;
		size_t base = 0;

		if (listen_fd >= 0) {
			pfd[0].fd = listen_fd;
			/* At the connection limit new clients wait in the backlog. */
			pfd[0].events = srv->nconns < SIGNER_MAX_CONNS ? POLLIN : 0;
			pfd[0].revents = 0;
			n = base = 1;
		}
		for (size_t i = 0; i < srv->nconns; i++, n++) {
			struct conn *c = srv->conns[i];

			pfd[n].fd = c->fd;
			pfd[n].events = c->out.len > c->out_off ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
		}
		int due = signer_metrics_flush(srv->metrics, 0);
		struct timespec wait = { due / 1000, (long)(due % 1000) * 1000000L };

		if (ppoll(pfd, n, due >= 0 ? &wait : NULL, sigmask) < 0) {
			if (errno == EINTR)
				continue;
			tw_err("poll failed: %s", strerror(errno));
			break;
		}
		/* Walk backwards so srv_drop's swap-with-last never skips a connection. */
		for (size_t i = srv->nconns; i-- > 0;) {
			struct conn *c = srv->conns[i];
			short re = pfd[base + i].revents;
			int r = 0;

			if (re == 0)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR))
				r = conn_read(srv, c);
			if (r == 0 && c->out.len > c->out_off)
				r = conn_write(c);
			else if (r == 0 && c->closing)
				r = 1;
			if (r != 0)
				srv_drop(srv, i);
		}
		if (listen_fd >= 0 && (pfd[0].revents & POLLIN)) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			struct conn *c;

			if (fd < 0)
				continue;
			if ((c = conn_new(fd)) == NULL) {
				close(fd);
				continue;
			}
			srv->conns[srv->nconns++] = c;
		}
	}
}

/* Open store and key backend; failures are kept in srv->setup_err. */
static tw_rc srv_setup(struct signer_srv *srv)
{
	char *url = tw_home_store_url(srv->home);
	tw_rc rc;

	tw_error_clear(&srv->setup_err);
	if (url == NULL) {
		rc = tw_error_set(&srv->setup_err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* No admin log, no signatures: open the store first. */
	if ((rc = store_open(url, &srv->store, &srv->setup_err)) != TW_OK)
		goto out;
	rc = signer_keys_open(srv->home, srv->ceremony, &srv->keys, &srv->setup_err);
out:
	if (rc != TW_OK)
		tw_err("signer not ready: %s", srv->setup_err.message);
	free(url);
	return rc;
}

static void srv_teardown(struct signer_srv *srv)
{
	while (srv->nconns > 0)
		srv_drop(srv, srv->nconns - 1);
	signer_keys_close(srv->keys);
	store_close(srv->store);
}

tw_rc signer_serve_fd(const struct tw_home *home, int fd, bool ceremony,
	struct tw_error *err)
{
	struct signer_srv srv;
	struct conn *c;

	memset(&srv, 0, sizeof(srv));
	srv.home = home;
	srv.ceremony = ceremony;
	/* A failed setup is answered to the client (with its cause) rather than hidden. */
	srv_setup(&srv);
	if ((c = conn_new(fd)) == NULL) {
		close(fd);
		srv_teardown(&srv);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	srv.conns[srv.nconns++] = c;
	srv_loop(&srv, -1, NULL);
	srv_teardown(&srv);
	if (srv.setup_err.code != TW_OK)
		return tw_error_set(err, srv.setup_err.code, "%s", srv.setup_err.message);
	return TW_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	signer_stop = 1;
}

static tw_rc listen_socket(const char *path, int *out, struct tw_error *err)
{
	struct sockaddr_un sa;
	mode_t old_mask;
	int fd;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return tw_error_set(err, TW_E_CONFIG, "[signer] socket path %s is longer than %zu "
			"bytes; choose a shorter one", path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return tw_error_set(err, TW_E_IO, "socket: %s", strerror(errno));
	/* A socket file nobody answers on is a leftover of a crash: replace it. */
	if (tw_path_exists(path)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (alive) {
			close(fd);
			return tw_error_set(err, TW_E_EXISTS, "a signer already listens at %s", path);
		}
		unlink(path);
	}
	/* umask so the socket is born 0660: clients in the service group, nobody else. */
	old_mask = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old_mask);
		close(fd);
		return tw_error_set(err, TW_E_IO, "cannot bind %s: %s", path, strerror(errno));
	}
	umask(old_mask);
	if (listen(fd, 128) != 0) {
		close(fd);
		unlink(path);
		return tw_error_set(err, TW_E_IO, "cannot listen on %s: %s", path, strerror(errno));
	}
	*out = fd;
	return TW_OK;
}

tw_rc signer_run(const struct tw_home *home, struct tw_error *err)
{
	struct signer_srv srv;
	struct sigaction sa, old_int, old_term;
	sigset_t block, orig;
	char *path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	char *dir = NULL, *slash;
	int lfd = -1;
	tw_rc rc;

	memset(&srv, 0, sizeof(srv));
	srv.home = home;
	if (path == NULL || (dir = tw_strdup(path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out_nosig;
	}
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = tw_mkdir_p(dir, 0750, err)) != TW_OK)
			goto out_nosig;
	}
	/* The socket first: a second signer stops here, before it touches the token. */
	if ((rc = listen_socket(path, &lfd, err)) != TW_OK)
		goto out_nosig;
	if (srv_setup(&srv) != TW_OK) {
		rc = tw_error_set(err, srv.setup_err.code, "%s", srv.setup_err.message);
		goto out_nosig;
	}
	/* Said by the long-running signer at every start (private signers of CLI commands
	 * stay quiet): a demo home's token PIN is in a file. */
	{
		struct signer_activation st;

		signer_keys_activation(srv.keys, &st);
		if (!st.custodians && strcmp(signer_keys_backend(srv.keys), "pkcs11") == 0)
			tw_warn("signer: DEMO MODE: the token PIN is read from the pin file; "
				"production splits it among custodians (`torwart ca custodians split`, "
				"docs/key-ceremony.md)");
	}
	/* Signals stay blocked except inside ppoll(), so a SIGTERM cannot slip between the
	 * stop check and the wait. */
	signer_stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	{
		sigset_t wait_mask = orig;

		sigdelset(&wait_mask, SIGTERM);
		sigdelset(&wait_mask, SIGINT);
		tw_info("signer listening on %s", path);
		/* Metrics file next to the socket, for the worker's /metrics. */
		if ((slash = strrchr(path, '/')) != NULL) {
			char *mpath = malloc((size_t)(slash - path) + sizeof(SIGNER_METRICS_FILE) + 1);

			if (mpath != NULL)
				snprintf(mpath, (size_t)(slash - path) + sizeof(SIGNER_METRICS_FILE) + 1,
					"%.*s/%s", (int)(slash - path), path, SIGNER_METRICS_FILE);
			srv.metrics = signer_metrics_new(mpath);
		}
		srv_loop(&srv, lfd, &wait_mask);
		signer_metrics_flush(srv.metrics, 1);
		signer_metrics_free(srv.metrics);
		srv.metrics = NULL;
	}
	tw_info("signer stopping");
	rc = TW_OK;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigprocmask(SIG_SETMASK, &orig, NULL);
out_nosig:
	if (lfd >= 0) {
		close(lfd);
		unlink(path);
	}
	srv_teardown(&srv);
	free(path);
	free(dir);
	return rc;
}
