/*
 * initial_config.c: the initial configuration file (initial_config.h, UC-3.3.6, T-IK.1).
 *
 * Which public source the format follows: RFC 5652 (CMS) SignedData inside EnvelopedData,
 * the layering TR-03109-1 prescribes for signed and encrypted SMGW data; the exact CMS
 * parameters of TR-03109-1 Anlage I are not public (DOMAIN.md), so these are Torwart's
 * choices: SignedData without signed attributes over eContent id-data (a plain ECDSA
 * signature over the content, which is exactly what the signer's SIGN_DATA makes, so no
 * CMS code runs near the key), SHA-256 with brainpoolP256r1; EnvelopedData with one
 * KeyAgreeRecipientInfo (ECDH, OpenSSL's default KDF) per recipient ENC certificate and
 * AES-256-CBC content encryption. `openssl cms -decrypt` and `openssl cms -verify` read it
 * (tests/integration/initial_config.sh does exactly that as the independent check).
 */
#include "gwa/initial_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>   /* before cms.h: it declares PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "store/store_renewal.h"

/* PEM text of cert (caller frees) or NULL. */
static char *ic_pem(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long n;

	if (b != NULL && PEM_write_bio_X509(b, cert) == 1 && (n = BIO_get_mem_data(b, &data)) > 0)
		out = tw_asprintf("%.*s", (int)n, data);
	BIO_free(b);
	return out;
}

static X509 *ic_der_cert(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	return d2i_X509(NULL, &p, (long)len);
}

/* The gateway's valid certificates as {"TLS": PEM, ...}; its ENC certificate in *enc. */
static tw_rc ic_gateway_certs(struct tw_store *store, const char *gateway_id, json_t *out,
	X509 **enc, struct tw_error *err)
{
	struct store_renewal_cert certs[8];
	size_t n = 0;
	tw_rc rc;

	*enc = NULL;
	if ((rc = store_renewal_gateway_certs(store, gateway_id, "valid", certs, 8, &n, err)) !=
	    TW_OK)
		return rc;
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		struct store_certificate sc;
		X509 *x;
		char *pem;

		memset(&sc, 0, sizeof(sc));
		if ((rc = store_certificate_get_by_fingerprint(store, certs[i].fingerprint, &sc,
		    err)) != TW_OK)
			break;
		x = ic_der_cert(sc.der, sc.der_len);
		store_certificate_clear(&sc);
		if (x == NULL || (pem = ic_pem(x)) == NULL) {
			X509_free(x);
			rc = tw_error_set_openssl(err, TW_E_INTEGRITY, "a stored certificate of %s "
				"does not decode", gateway_id);
			break;
		}
		json_object_set_new(out, certs[i].usage, json_string(pem));
		free(pem);
		if (strcmp(certs[i].usage, "ENC") == 0 && *enc == NULL)
			*enc = x;
		else
			X509_free(x);
	}
	if (rc == TW_OK && (json_object_size(out) != 3 || *enc == NULL))
		rc = tw_error_set(err, TW_E_NOT_FOUND, "gateway %s does not have valid TLS, SIG and "
			"ENC certificates; an initial configuration file needs all three", gateway_id);
	return rc;
}

static tw_rc ic_read_text(const struct tw_home *home, const char *rel, char **out,
	struct tw_error *err)
{
	char *path = tw_home_join(home, rel);
	unsigned char *data = NULL;
	size_t len = 0;
	tw_rc rc;

	*out = NULL;
	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = tw_read_file(path, 65536, &data, &len, err);
	free(path);
	*out = (char *)data;
	return rc;
}

/* The content JSON (canonical text, caller frees). */
static tw_rc ic_content(const struct tw_home *home, struct tw_store *store,
	const char *gateway_id, X509 *gwa_sig, char **text, X509 **enc, struct tw_error *err)
{
	json_t *root = NULL, *certs = json_object();
	char *chain = NULL, *gwa_pem = NULL, now[40], cn[STORE_ID_MAX + 1] = "";
	const char *wan = tw_config_get(home->conf, "wan", "public_address");
	tw_rc rc;

	*text = NULL;
	if (wan == NULL)
		wan = tw_config_get_or(home->conf, "wan", "listen", TW_DEFAULT_WAN_LISTEN);
	if (certs == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = ic_gateway_certs(store, gateway_id, certs, enc, err)) != TW_OK ||
	    (rc = ic_read_text(home, TW_HOME_CHAIN, &chain, err)) != TW_OK)
		goto out;
	if ((gwa_pem = ic_pem(gwa_sig)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	X509_NAME_get_text_by_NID(X509_get_subject_name(gwa_sig), NID_commonName, cn,
		sizeof(cn));
	tw_time_format_utc(tw_now_ms(), now, sizeof(now));
	root = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}, s:O, s:s}",
		"format", INITIAL_CONFIG_FORMAT, "gateway_id", gateway_id, "created", now,
		"gwa", "id", cn, "wan", wan, "sig_certificate", gwa_pem,
		"certificates", certs, "chain", chain);
	if (root == NULL || (*text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	json_decref(root);
	json_decref(certs);
	free(chain);
	free(gwa_pem);
	if (rc != TW_OK) {
		X509_free(*enc);
		*enc = NULL;
	}
	return rc;
}

/* SignedData (no signed attributes, id-data) over content, signed in the signer. */
static tw_rc ic_sign(struct signer_client *sc, X509 *gwa_sig, X509 *sub_ca,
	const char *content, unsigned char **der, int *der_len, struct tw_error *err)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	EVP_PKEY *pub = X509_get0_pubkey(gwa_sig);
	ASN1_OCTET_STRING **pos;
	CMS_SignerInfo *si;
	unsigned char *sig = NULL;
	size_t sig_len = 0, len = strlen(content);
	tw_rc rc = TW_OK;

	*der = NULL;
	si = cms != NULL && pub != NULL ? CMS_add1_signer(cms, gwa_sig, pub, EVP_sha256(),
		CMS_NOATTR | CMS_PARTIAL | CMS_BINARY) : NULL;
	pos = cms != NULL ? CMS_get0_content(cms) : NULL;
	if (si == NULL || pos == NULL || CMS_add1_cert(cms, sub_ca) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot prepare the signed file");
		goto out;
	}
	ASN1_OCTET_STRING_free(*pos);
	if ((*pos = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(*pos, (const unsigned char *)content, (int)len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot embed the content");
		goto out;
	}
	if ((rc = signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_INITIAL_CONFIG,
	    (const unsigned char *)content, len, &sig, &sig_len, err)) != TW_OK)
		goto out;
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len) != 1 ||
	    (*der_len = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the signed file");
		goto out;
	}
	/* Trust but verify: the signature must verify with the GWA SIG certificate. */
	{
		const unsigned char *p = *der;
		CMS_ContentInfo *check = d2i_CMS_ContentInfo(NULL, &p, *der_len);

		if (check == NULL || CMS_verify(check, NULL, NULL, NULL, NULL,
		    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the GWA signature of the file "
				"does not verify with pki/gwa-sig.crt");
		CMS_ContentInfo_free(check);
	}
out:
	if (rc != TW_OK) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	free(sig);
	CMS_ContentInfo_free(cms);
	return rc;
}

static tw_rc ic_check_recipient(X509 *x, struct tw_error *err)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	uint32_t ku = X509_get_key_usage(x);

	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
		return tw_error_set(err, TW_E_INVALID, "a recipient needs an EC (ENC) certificate");
	if (ku != UINT32_MAX && (ku & KU_KEY_AGREEMENT) == 0)
		return tw_error_set(err, TW_E_INVALID, "a recipient certificate must allow "
			"keyAgreement (an ENC certificate)");
	return TW_OK;
}

tw_rc initial_config_export(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *gateway_id, X509 *const *extra, size_t n_extra,
	const char *out_path, const char *delivered, const struct job_actor *who,
	char sha256[65], struct tw_error *err)
{
	STACK_OF(X509) *recips = sk_X509_new_null();
	X509 *gwa_sig = NULL, *sub_ca = NULL, *enc = NULL;
	char *content = NULL, *gpath = NULL, *spath = NULL;
	unsigned char *signed_der = NULL, *file = NULL, digest[SHA256_DIGEST_LENGTH];
	int signed_len = 0, file_len = 0;
	CMS_ContentInfo *env = NULL;
	BIO *in = NULL;
	struct store_gateway gw;
	struct store_initial_config row;
	char detail[STORE_TEXT_MAX + 1];
	size_t off = 0;
	int64_t id = 0;
	tw_rc rc;

	sha256[0] = '\0';
	memset(&row, 0, sizeof(row));
	if (recips == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (n_extra + 1 > INITIAL_CONFIG_RECIPIENTS_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "at most %d recipients",
			INITIAL_CONFIG_RECIPIENTS_MAX);
		goto out;
	}
	if ((rc = store_gateway_get(store, gateway_id, &gw, err)) != TW_OK)
		goto out;
	if (tw_path_exists(out_path)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s exists; an initial configuration file is "
			"never overwritten", out_path);
		goto out;
	}
	if ((gpath = tw_home_join(home, TW_HOME_GWA_SIG_CERT)) == NULL ||
	    (spath = tw_home_join(home, TW_HOME_SUBCA_CERT)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(gpath, &gwa_sig, err)) != TW_OK ||
	    (rc = keys_read_cert_pem(spath, &sub_ca, err)) != TW_OK ||
	    (rc = ic_content(home, store, gateway_id, gwa_sig, &content, &enc, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < n_extra && rc == TW_OK; i++)
		rc = ic_check_recipient(extra[i], err);
	if (rc != TW_OK)
		goto out;
	off = (size_t)snprintf(row.recipients, sizeof(row.recipients), "gateway-enc:");
	if ((rc = keys_cert_fingerprint(enc, row.recipients + off, err)) != TW_OK)
		goto out;
	sk_X509_push(recips, enc);
	for (size_t i = 0; i < n_extra; i++) {
		char fp[65];

		if ((rc = keys_cert_fingerprint(extra[i], fp, err)) != TW_OK)
			goto out;
		off = strlen(row.recipients);
		snprintf(row.recipients + off, sizeof(row.recipients) - off, ",%s", fp);
		sk_X509_push(recips, extra[i]);
	}
	if ((rc = ic_sign(sc, gwa_sig, sub_ca, content, &signed_der, &signed_len, err)) != TW_OK)
		goto out;
	if ((in = BIO_new_mem_buf(signed_der, signed_len)) == NULL ||
	    (env = CMS_encrypt(recips, in, EVP_aes_256_cbc(), CMS_BINARY)) == NULL ||
	    (file_len = i2d_CMS_ContentInfo(env, &file)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encrypt the file for its "
			"recipients");
		goto out;
	}
	SHA256(file, (size_t)file_len, digest);
	tw_hex_encode(digest, sizeof(digest), sha256);
	/* Record first (a recorded export without a file is harmless; a file nobody knows
	 * of is not), then write exclusively: never overwrite another file. */
	row.tenant_id = gw.tenant_id;
	snprintf(row.gateway_id, sizeof(row.gateway_id), "%s", gateway_id);
	snprintf(row.sha256, sizeof(row.sha256), "%s", sha256);
	snprintf(row.actor, sizeof(row.actor), "%s", who->actor);
	row.created_ms = tw_now_ms();
	snprintf(detail, sizeof(detail), "initial configuration file sha256=%s for %s, "
		"encrypted for %s; %s%s", sha256, gateway_id, row.recipients,
		delivered != NULL ? delivered : "written to ", delivered != NULL ? "" : out_path);
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	{
		struct audit_entry e = { .actor = who->actor, .role = who->role,
			.client = who->client, .action = "gateway.initial-config",
			.object = gateway_id, .result = "ok", .detail = detail };

		if ((rc = store_initial_config_insert(store, &row, &id, err)) != TW_OK ||
		    (rc = audit_append_in_tx(store, &e, err)) != TW_OK ||
		    (rc = store_commit(store, err)) != TW_OK) {
			store_rollback(store);
			goto out;
		}
	}
	if ((rc = tw_write_file(out_path, file, (size_t)file_len, 0600, true, err)) != TW_OK) {
		struct audit_entry e = { .actor = who->actor, .role = who->role,
			.client = who->client, .action = "gateway.initial-config",
			.object = gateway_id, .result = "error", .detail = err->message };
		struct tw_error aerr;

		/* The recorded export never reached the disk: say so next to it. */
		if (audit_append(store, &e, &aerr) != TW_OK)
			tw_warn("initial-config: write failure not logged: %s", aerr.message);
	}
out:
	if (rc != TW_OK)
		sha256[0] = '\0';
	sk_X509_free(recips);   /* borrowed entries; enc freed below */
	CMS_ContentInfo_free(env);
	BIO_free(in);
	OPENSSL_free(file);
	OPENSSL_free(signed_der);
	if (content != NULL)
		OPENSSL_cleanse(content, strlen(content));
	free(content);
	X509_free(enc);
	X509_free(gwa_sig);
	X509_free(sub_ca);
	free(gpath);
	free(spath);
	return rc;
}

/* DER or PEM CMS ContentInfo. */
static CMS_ContentInfo *ic_cms_parse(const unsigned char *in, size_t len)
{
	const unsigned char *p = in;
	CMS_ContentInfo *cms;
	BIO *b;

	if (len == 0 || len > INITIAL_CONFIG_MAX)
		return NULL;
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) != NULL) {
		if (p != in + len) {
			CMS_ContentInfo_free(cms);
			return NULL;
		}
		return cms;
	}
	if ((b = BIO_new_mem_buf(in, (int)len)) == NULL)
		return NULL;
	cms = PEM_read_bio_CMS(b, NULL, NULL, NULL);
	BIO_free(b);
	return cms;
}

/* Verify a SignedData against trust; *content (NUL-terminated, caller frees). */
static tw_rc ic_verify(CMS_ContentInfo *cms, X509_STORE *trust, char **content, size_t *len,
	X509 **signer, struct tw_error *err)
{
	BIO *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *signers = NULL;
	char *data;
	long n;
	tw_rc rc = TW_OK;

	*content = NULL;
	if (signer != NULL)
		*signer = NULL;
	if (out == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    CMS_verify(cms, NULL, trust, NULL, out, CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the signature does not verify against "
			"the trusted root");
		goto out;
	}
	if ((signers = CMS_get0_signers(cms)) == NULL || sk_X509_num(signers) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "exactly one signer expected");
		goto out;
	}
	if ((n = BIO_get_mem_data(out, &data)) <= 0 || n > INITIAL_CONFIG_MAX ||
	    memchr(data, '\0', (size_t)n) != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "empty or binary content");
		goto out;
	}
	if ((*content = malloc((size_t)n + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*content, data, (size_t)n);
	(*content)[n] = '\0';
	*len = (size_t)n;
	if (signer != NULL && (*signer = sk_X509_value(signers, 0)) != NULL)
		X509_up_ref(*signer);
out:
	sk_X509_free(signers);
	BIO_free(out);
	return rc;
}

tw_rc initial_config_open(const unsigned char *in, size_t len, EVP_PKEY *enc_key,
	X509 *enc_cert, X509_STORE *trust, json_t **content, struct tw_error *err)
{
	CMS_ContentInfo *env = NULL, *sd = NULL;
	BIO *plain = BIO_new(BIO_s_mem());
	X509 *signer = NULL, *named = NULL;
	char *text = NULL, *data;
	const char *pem;
	json_error_t je;
	size_t tlen = 0;
	long n;
	tw_rc rc = TW_OK;

	*content = NULL;
	if (plain == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((env = ic_cms_parse(in, len)) == NULL ||
	    OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
		rc = tw_error_set(err, TW_E_INVALID, "not a CMS EnvelopedData");
		goto out;
	}
	if (CMS_decrypt(env, enc_key, enc_cert, NULL, plain, CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot decrypt: not encrypted for "
			"this ENC key");
		goto out;
	}
	if ((n = BIO_get_mem_data(plain, &data)) <= 0 ||
	    (sd = ic_cms_parse((const unsigned char *)data, (size_t)n)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the decrypted content is no CMS SignedData");
		goto out;
	}
	if ((rc = ic_verify(sd, trust, &text, &tlen, &signer, err)) != TW_OK)
		goto out;
	*content = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*content) || !json_is_string(json_object_get(*content, "format")) ||
	    strcmp(json_string_value(json_object_get(*content, "format")),
		INITIAL_CONFIG_FORMAT) != 0 ||
	    !json_is_string(json_object_get(*content, "gateway_id")) ||
	    !json_is_object(json_object_get(*content, "certificates")) ||
	    !json_is_string(json_object_get(*content, "chain"))) {
		rc = tw_error_set(err, TW_E_INVALID, "the content is not a %s document",
			INITIAL_CONFIG_FORMAT);
		goto out;
	}
	/* The signer must be the GWA the file names (its wake-up key, UC-3.3.4). */
	pem = json_string_value(json_object_get(json_object_get(*content, "gwa"),
		"sig_certificate"));
	{
		BIO *b = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;

		named = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	if (named == NULL || X509_cmp(named, signer) != 0)
		rc = tw_error_set(err, TW_E_CRYPTO, "the file is not signed by the GWA it names");
out:
	if (rc != TW_OK) {
		json_decref(*content);
		*content = NULL;
	}
	if (text != NULL)
		OPENSSL_cleanse(text, tlen);
	free(text);
	X509_free(signer);
	X509_free(named);
	CMS_ContentInfo_free(sd);
	CMS_ContentInfo_free(env);
	BIO_free(plain);
	return rc;
}

/* The three space-separated words of a receipt line (a trailing newline allowed). */
static tw_rc ic_receipt_fields(const char *text, char *magic, size_t msize, char *gw,
	size_t gsize, char *sha, size_t ssize)
{
	char *const outs[3] = { magic, gw, sha };
	const size_t sizes[3] = { msize, gsize, ssize };
	const char *p = text;

	for (int i = 0; i < 3; i++) {
		size_t n = strcspn(p, " \n");

		if (n == 0 || n >= sizes[i])
			return TW_E_INVALID;
		memcpy(outs[i], p, n);
		outs[i][n] = '\0';
		p += n;
		if (i < 2 && *p++ != ' ')
			return TW_E_INVALID;
	}
	return (*p == '\0' || (p[0] == '\n' && p[1] == '\0')) ? TW_OK : TW_E_INVALID;
}

tw_rc initial_config_receipt(const struct tw_home *home, struct tw_store *store,
	const unsigned char *in, size_t len, const struct job_actor *who,
	char gateway[STORE_ID_MAX + 1], struct tw_error *err)
{
	CMS_ContentInfo *cms = NULL;
	X509_STORE *trust = X509_STORE_new();
	X509 *signer = NULL;
	char *text = NULL, *root = NULL, *chain = NULL, gw[STORE_ID_MAX + 1], sha[65],
		by[STORE_TEXT_MAX + 1] = "", detail[STORE_TEXT_MAX + 1], magic[40];
	struct store_initial_config row;
	size_t tlen = 0;
	tw_rc rc;

	gateway[0] = '\0';
	if (trust == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((root = tw_home_join(home, TW_HOME_ROOT_CERT)) == NULL ||
	    (chain = tw_home_join(home, TW_HOME_CHAIN)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (X509_STORE_load_file(trust, root) != 1 || X509_STORE_load_file(trust, chain) != 1 ||
	    X509_STORE_set_purpose(trust, X509_PURPOSE_ANY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CONFIG, "cannot load the SM-PKI root and chain");
		goto out;
	}
	if ((cms = ic_cms_parse(in, len)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the receipt is not a CMS SignedData (DER or "
			"PEM)");
		goto out;
	}
	if ((rc = ic_verify(cms, trust, &text, &tlen, &signer, err)) != TW_OK)
		goto out;
	if (ic_receipt_fields(text, magic, sizeof(magic), gw, sizeof(gw), sha, sizeof(sha)) !=
	    TW_OK || strcmp(magic, INITIAL_CONFIG_RECEIPT) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the receipt must say \"%s GATEWAY-ID SHA256\"",
			INITIAL_CONFIG_RECEIPT);
		goto out;
	}
	if ((rc = store_initial_config_get(store, sha, &row, err)) != TW_OK)
		goto out;
	{
		/* Through the api the store is scoped to the operator's tenant (the receipt
		 * names its gateway only inside the file): an export of another tenant's
		 * gateway is answered exactly like one that never happened. */
		struct store_gateway g;
		struct tw_error ignore;

		if (store_gateway_get(store, row.gateway_id, &g, &ignore) != TW_OK) {
			rc = tw_error_set(err, TW_E_NOT_FOUND, "no initial configuration file with "
				"SHA-256 %.64s was exported here", sha);
			goto out;
		}
	}
	if (strcmp(row.gateway_id, gw) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the receipt names gateway %s, the file was "
			"made for %s", gw, row.gateway_id);
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(signer), by, sizeof(by));
	snprintf(detail, sizeof(detail), "receipt of sha256=%s signed by %s", sha, by);
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	{
		struct audit_entry e = { .actor = who->actor, .role = who->role,
			.client = who->client, .action = "gateway.initial-config.receipt",
			.object = gw, .result = "ok", .detail = detail };

		if ((rc = store_initial_config_receipt(store, sha, tw_now_ms(), by, err)) != TW_OK ||
		    (rc = audit_append_in_tx(store, &e, err)) != TW_OK ||
		    (rc = store_commit(store, err)) != TW_OK)
			store_rollback(store);
	}
	if (rc == TW_OK)
		snprintf(gateway, STORE_ID_MAX + 1, "%s", gw);
out:
	free(text);
	free(root);
	free(chain);
	X509_free(signer);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(trust);
	return rc;
}
