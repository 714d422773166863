/*
 * firmware_cms.c: parsing and verification of the signed firmware containers
 * (firmware_cms.h). The CMS grammar and signature are OpenSSL's (d2i_CMS_ContentInfo,
 * CMS_verify), the JSON grammar jansson's (duplicate members refused); this file checks
 * the shape on top and maps every failure to a verdict a manufacturer can act on.
 */
#include "gwa/firmware_cms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/config.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "pki/profile.h"

const char *fw_verdict_name(enum fw_verdict v)
{
	switch (v) {
	case FW_OK: return "ok";
	case FW_FORMAT: return "format";
	case FW_SIGNATURE: return "signature";
	case FW_SIGNER: return "signer";
	case FW_CHAIN: return "chain";
	case FW_REVOKED: return "revoked";
	case FW_CRL: return "crl";
	case FW_MODEL: return "model";
	case FW_VERSION: return "version";
	case FW_INCOMPLETE: return "incomplete";
	case FW_REFUSED: return "refused";
	}
	return "refused";
}

/* ---------------------------------------------------------------- JSON */

static tw_rc fw_json_load(const unsigned char *json, size_t len, const char *what,
	json_t **out, struct tw_error *err)
{
	json_error_t jerr;

	*out = NULL;
	if (len == 0 || len > FW_CONTENT_MAX_BYTES)
		return tw_error_set(err, TW_E_INVALID, "%s: %zu bytes of JSON (1..%zu expected)",
			what, len, FW_CONTENT_MAX_BYTES);
	*out = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*out == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s is not JSON: %.120s (line %d)", what,
			jerr.text, jerr.line);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INVALID, "%s must be a JSON object", what);
	}
	return TW_OK;
}

/* Every member of obj is one of the NULL-terminated names. */
static tw_rc fw_json_members(json_t *obj, const char *const *names, const char *what,
	struct tw_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		bool known = false;

		(void)v;
		for (size_t i = 0; names[i] != NULL && !known; i++)
			known = strcmp(key, names[i]) == 0;
		if (!known)
			return tw_error_set(err, TW_E_INVALID, "%s: unknown member \"%.40s\"", what,
				key);
	}
	return TW_OK;
}

/* A required string member, copied into dst (size includes the NUL). */
static tw_rc fw_json_string(json_t *obj, const char *name, char *dst, size_t size,
	const char *what, struct tw_error *err)
{
	json_t *v = json_object_get(obj, name);
	size_t n;

	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "%s: member \"%s\" must be a string", what,
			name);
	n = json_string_length(v);
	if (n == 0 || n >= size || memchr(json_string_value(v), '\0', n) != NULL)
		return tw_error_set(err, TW_E_INVALID, "%s: member \"%s\" must be 1..%zu "
			"characters", what, name, size - 1);
	memcpy(dst, json_string_value(v), n + 1);
	return TW_OK;
}

static tw_rc fw_json_format(json_t *obj, const char *want, const char *what,
	struct tw_error *err)
{
	char got[64];
	tw_rc rc;

	if ((rc = fw_json_string(obj, "format", got, sizeof(got), what, err)) != TW_OK)
		return rc;
	if (strcmp(got, want) != 0)
		return tw_error_set(err, TW_E_INVALID, "%s: format \"%s\" is not \"%s\"", what, got,
			want);
	return TW_OK;
}

tw_rc fw_manifest_parse(const unsigned char *json, size_t len, struct fw_manifest *out,
	struct tw_error *err)
{
	static const char *const names[] = { "format", "model", "version", "size", "sha256",
		NULL };
	static const char what[] = "firmware manifest";
	json_t *root = NULL, *size;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = fw_json_load(json, len, what, &root, err)) != TW_OK)
		return rc;
	if ((rc = fw_json_members(root, names, what, err)) != TW_OK ||
	    (rc = fw_json_format(root, FW_MANIFEST_FORMAT, what, err)) != TW_OK ||
	    (rc = fw_json_string(root, "model", out->model, sizeof(out->model), what, err)) !=
	    TW_OK ||
	    (rc = fw_json_string(root, "version", out->version, sizeof(out->version), what,
		err)) != TW_OK ||
	    (rc = fw_json_string(root, "sha256", out->sha256, sizeof(out->sha256), what,
		err)) != TW_OK)
		goto out;
	if ((rc = firmware_label_check(out->model, "manifest model", err)) != TW_OK ||
	    (rc = firmware_label_check(out->version, "manifest version", err)) != TW_OK)
		goto out;
	if (strlen(out->sha256) != 64) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: sha256 must be 64 hex digits", what);
		goto out;
	}
	for (size_t i = 0; i < 64; i++) {
		char c = out->sha256[i];

		if (c >= 'A' && c <= 'F')
			out->sha256[i] = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			rc = tw_error_set(err, TW_E_INVALID, "%s: sha256 must be 64 hex digits", what);
			goto out;
		}
	}
	size = json_object_get(root, "size");
	if (!json_is_integer(size) || json_integer_value(size) <= 0 ||
	    json_integer_value(size) > ((json_int_t)1 << 53)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: size must be a positive integer", what);
		goto out;
	}
	out->size = (int64_t)json_integer_value(size);
out:
	json_decref(root);
	if (rc != TW_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

void fw_list_clear(struct fw_list *l)
{
	if (l == NULL)
		return;
	free(l->entries);
	memset(l, 0, sizeof(*l));
}

/* "YYYY-MM-DDTHH:MM:SSZ", digits where digits belong. */
static bool fw_rfc3339_utc(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i] != '\0'; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	return true;
}

tw_rc fw_list_parse(const unsigned char *json, size_t len, struct fw_list *out,
	struct tw_error *err)
{
	static const char *const names[] = { "format", "sequence", "issued", "firmware", NULL };
	static const char *const entry_names[] = { "model", "version", NULL };
	static const char what[] = "certified firmware list";
	json_t *root = NULL, *seq, *arr, *e;
	size_t i;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = fw_json_load(json, len, what, &root, err)) != TW_OK)
		return rc;
	if ((rc = fw_json_members(root, names, what, err)) != TW_OK ||
	    (rc = fw_json_format(root, FW_LIST_FORMAT, what, err)) != TW_OK ||
	    (rc = fw_json_string(root, "issued", out->issued, sizeof(out->issued), what,
		err)) != TW_OK)
		goto out;
	if (!fw_rfc3339_utc(out->issued)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: issued must be YYYY-MM-DDTHH:MM:SSZ",
			what);
		goto out;
	}
	seq = json_object_get(root, "sequence");
	if (!json_is_integer(seq) || json_integer_value(seq) <= 0 ||
	    json_integer_value(seq) > ((json_int_t)1 << 53)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: sequence must be a positive integer",
			what);
		goto out;
	}
	out->sequence = (int64_t)json_integer_value(seq);
	arr = json_object_get(root, "firmware");
	if (!json_is_array(arr) || json_array_size(arr) > FW_LIST_MAX_ENTRIES) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: firmware must be an array of at most %d "
			"entries", what, FW_LIST_MAX_ENTRIES);
		goto out;
	}
	if (json_array_size(arr) > 0 &&
	    (out->entries = calloc(json_array_size(arr), sizeof(*out->entries))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	json_array_foreach(arr, i, e) {
		struct fw_list_entry *x = &out->entries[i];

		if (!json_is_object(e)) {
			rc = tw_error_set(err, TW_E_INVALID, "%s: entry %zu is not an object", what, i);
			goto out;
		}
		if ((rc = fw_json_members(e, entry_names, what, err)) != TW_OK ||
		    (rc = fw_json_string(e, "model", x->model, sizeof(x->model), what, err)) !=
		    TW_OK ||
		    (rc = fw_json_string(e, "version", x->version, sizeof(x->version), what,
			err)) != TW_OK ||
		    (rc = firmware_label_check(x->model, "list model", err)) != TW_OK ||
		    (rc = firmware_label_check(x->version, "list version", err)) != TW_OK)
			goto out;
		/* Quadratic, but bounded by FW_LIST_MAX_ENTRIES and run once per import. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(out->entries[j].model, x->model) == 0 &&
			    strcmp(out->entries[j].version, x->version) == 0) {
				rc = tw_error_set(err, TW_E_INVALID, "%s: %s %s is listed twice", what,
					x->model, x->version);
				goto out;
			}
		}
		out->count = i + 1;
	}
out:
	json_decref(root);
	if (rc != TW_OK)
		fw_list_clear(out);
	return rc;
}

/* ---------------------------------------------------------------- CMS */

void fw_signed_clear(struct fw_signed *s)
{
	if (s == NULL)
		return;
	free(s->content);
	X509_free(s->signer);
	sk_X509_pop_free(s->certs, X509_free);
	memset(s, 0, sizeof(*s));
}

/* The first queued OpenSSL error as text (then the queue is cleared). */
static const char *fw_ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, size, "no detail");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
	return buf;
}

static void fw_name_line(const X509_NAME *name, char *dst, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;

	dst[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) > 0)
		snprintf(dst, size, "%.*s", (int)n, p);
	BIO_free(b);
	/* One printable line: the subject goes into the admin log and the receipt. */
	for (char *c = dst; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

tw_rc fw_cms_open(const unsigned char *der, size_t len, struct fw_signed *out,
	enum fw_verdict *verdict, struct tw_error *err)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *signers = NULL;
	ASN1_OCTET_STRING **pos;
	BIO *bio = NULL;
	char *data = NULL, why[200];
	long dlen;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	*verdict = FW_FORMAT;
	if (len == 0 || len > FW_CMS_MAX_BYTES)
		return tw_error_set(err, TW_E_INVALID, "the signed container is %zu bytes "
			"(1..%zu expected)", len, FW_CMS_MAX_BYTES);
	ERR_clear_error();
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (cms == NULL || p != der + len ||
	    OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		rc = tw_error_set(err, TW_E_INVALID, "not a DER CMS SignedData (%s)",
			fw_ssl_reason(why, sizeof(why)));
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		rc = tw_error_set(err, TW_E_INVALID, "the signed content type must be id-data");
		goto out;
	}
	pos = CMS_get0_content(cms);
	if (pos == NULL || *pos == NULL || ASN1_STRING_length(*pos) <= 0 ||
	    (size_t)ASN1_STRING_length(*pos) > FW_CONTENT_MAX_BYTES) {
		rc = tw_error_set(err, TW_E_INVALID, "the SignedData must carry its content "
			"(1..%zu bytes; detached signatures are not accepted)", FW_CONTENT_MAX_BYTES);
		goto out;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1) {
		rc = tw_error_set(err, TW_E_INVALID, "exactly one signer is expected, found %d",
			sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* The chain is checked separately (fw_chain_check), with our roots and CRLs. */
	*verdict = FW_SIGNATURE;
	if (CMS_verify(cms, NULL, NULL, NULL, bio, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) !=
	    1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "the signature does not verify (%s)",
			fw_ssl_reason(why, sizeof(why)));
		goto out;
	}
	signers = CMS_get0_signers(cms);
	dlen = BIO_get_mem_data(bio, &data);
	if (signers == NULL || sk_X509_num(signers) != 1 || dlen <= 0 ||
	    (size_t)dlen > FW_CONTENT_MAX_BYTES) {
		rc = tw_error_set(err, TW_E_CRYPTO, "no signer certificate or no content");
		goto out;
	}
	out->content = malloc((size_t)dlen);
	out->certs = CMS_get1_certs(cms);
	if (out->content == NULL || out->certs == NULL ||
	    X509_up_ref(sk_X509_value(signers, 0)) != 1) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	out->signer = sk_X509_value(signers, 0);
	memcpy(out->content, data, (size_t)dlen);
	out->content_len = (size_t)dlen;
	fw_name_line(X509_get_subject_name(out->signer), out->subject, sizeof(out->subject));
	fw_name_line(X509_get_issuer_name(out->signer), out->issuer, sizeof(out->issuer));
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(out->signer), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL)
		snprintf(out->serial, sizeof(out->serial), "%s", hex);
	*verdict = FW_OK;
out:
	if (rc != TW_OK)
		fw_signed_clear(out);
	OPENSSL_free(hex);
	BN_free(bn);
	sk_X509_free(signers);
	BIO_free(bio);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}

bool fw_signer_is_gwh_sig(X509 *cert)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	uint32_t ku = X509_get_key_usage(cert);
	const unsigned char *cn;
	int n;

	if (i < 0 || X509_check_ca(cert) != 0)
		return false;
	/* SIG profile: digitalSignature only (pki/profile.c), never encipherment or CA use. */
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) == 0 ||
	    (ku & KU_DIGITAL_SIGNATURE) == 0 ||
	    (ku & (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT | KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0)
		return false;
	cn = ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	n = ASN1_STRING_length(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	/* "GWH" as a whole dot-separated component: "<name>.GWH.<...>" or "<name>.GWH". */
	for (int s = 0; s < n;) {
		int e = s;

		while (e < n && cn[e] != '.')
			e++;
		if (e - s == 3 && memcmp(cn + s, "GWH", 3) == 0 && s > 0)
			return true;
		s = e + 1;
	}
	return false;
}

tw_rc fw_chain_check(X509 *cert, const char *roots_pem, STACK_OF(X509) *untrusted,
	STACK_OF(X509_CRL) *crls, enum fw_verdict *verdict, struct tw_error *err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int code;
	tw_rc rc = TW_OK;

	*verdict = FW_CHAIN;
	ERR_clear_error();
	if (store == NULL || ctx == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (X509_STORE_load_file(store, roots_pem) != 1) {
		rc = tw_error_set(err, TW_E_CONFIG, "cannot load the trusted roots %s", roots_pem);
		ERR_clear_error();
		goto out;
	}
	if (crls != NULL)
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	if (X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (crls != NULL)
		X509_STORE_CTX_set0_crls(ctx, crls);
	if (X509_verify_cert(ctx) == 1) {
		*verdict = FW_OK;
		goto out;
	}
	code = X509_STORE_CTX_get_error(ctx);
	switch (code) {
	case X509_V_ERR_CERT_REVOKED:
		*verdict = FW_REVOKED;
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
		*verdict = FW_CRL;
		break;
	default:
		*verdict = FW_CHAIN;
		break;
	}
	rc = tw_error_set(err, TW_E_CRYPTO, "%s (certificate at depth %d: %s)",
		*verdict == FW_REVOKED ? "a certificate of the signer's chain is revoked" :
		*verdict == FW_CRL ? "no current CRL for the signer's chain" :
		"no valid chain to a trusted Root", X509_STORE_CTX_get_error_depth(ctx),
		X509_verify_cert_error_string(code));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

tw_rc fw_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd;
	tw_rc rc = TW_OK;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return tw_error_set(err, errno == ENOENT ? TW_E_NOT_FOUND : TW_E_IO,
			"cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > max) {
		rc = tw_error_set(err, st.st_size <= 0 ? TW_E_INVALID : TW_E_TOO_LARGE,
			"%s is %lld bytes (1..%zu expected)", path, (long long)st.st_size, max);
		goto out;
	}
	/* One byte more than announced, so a file growing meanwhile is caught. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			rc = tw_error_set(err, TW_E_INVALID, "%s changed while it was read", path);
			goto out;
		}
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Certificates of a PEM bundle appended to sk; a missing file is fine when optional. */
static tw_rc fw_load_certs(const char *path, bool optional, STACK_OF(X509) *sk,
	struct tw_error *err)
{
	FILE *f = fopen(path, "re");
	X509 *x;
	int n = 0;

	if (f == NULL)
		return optional && errno == ENOENT ? TW_OK : tw_error_set(err, TW_E_CONFIG,
			"cannot open %s: %s", path, strerror(errno));
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			fclose(f);
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		}
		n++;
	}
	fclose(f);
	ERR_clear_error();
	return n > 0 || optional ? TW_OK : tw_error_set(err, TW_E_CONFIG,
		"%s holds no PEM certificate", path);
}

/* Append the CRL (DER or PEM) at path; a missing file is simply not there (no CRL). */
static tw_rc fw_load_crl(const char *path, STACK_OF(X509_CRL) *sk, struct tw_error *err)
{
	BIO *b = BIO_new_file(path, "rb");
	X509_CRL *crl = NULL;

	if (b == NULL) {
		ERR_clear_error();
		return TW_OK;
	}
	crl = d2i_X509_CRL_bio(b, NULL);
	if (crl == NULL) {
		(void)BIO_reset(b);
		crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	ERR_clear_error();
	if (crl == NULL)
		return TW_OK;   /* unreadable: as if missing, the chain check says "crl" */
	if (sk_X509_CRL_push(sk, crl) <= 0) {
		X509_CRL_free(crl);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

/* The CRL files: [firmware] crls, else crl_publish_path of each CA in [ca] crl_cas. */
static tw_rc fw_load_crls(const struct tw_home *home, STACK_OF(X509_CRL) *sk,
	struct tw_error *err)
{
	const char *list = tw_config_get(home->conf, "firmware", "crls");
	bool configured = list != NULL;
	char *copy, *save = NULL, *tok;
	tw_rc rc = TW_OK;

	if (!configured)
		list = tw_config_get_or(home->conf, "ca", "crl_cas", "sub-ca");
	if ((copy = tw_strdup(list)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (tok = strtok_r(copy, " ,\t", &save); tok != NULL && rc == TW_OK;
	     tok = strtok_r(NULL, " ,\t", &save)) {
		struct pki_ca_config *cfg = NULL;
		char *path;

		if (!configured) {
			if ((rc = pki_ca_config_load(home->conf, tok, &cfg, err)) != TW_OK)
				break;
			path = tw_home_join(home, cfg->crl_publish_path);
			pki_ca_config_free(cfg);
		} else {
			path = tw_home_join(home, tok);
		}
		if (path == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else
			rc = fw_load_crl(path, sk, err);
		free(path);
	}
	free(copy);
	return rc;
}

tw_rc fw_check_manufacturer(const struct tw_home *home, const struct fw_signed *s,
	enum fw_verdict *verdict, struct tw_error *err)
{
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
	char *roots = tw_home_join(home, tw_config_get_or(home->conf, "firmware", "roots",
		FW_DEFAULT_ROOTS));
	char *inter = tw_home_join(home, tw_config_get_or(home->conf, "firmware",
		"intermediates", FW_DEFAULT_INTERMEDIATE));
	tw_rc rc;

	*verdict = FW_REFUSED;
	if (untrusted == NULL || crls == NULL || roots == NULL || inter == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!fw_signer_is_gwh_sig(s->signer)) {
		*verdict = FW_SIGNER;
		rc = tw_error_set(err, TW_E_CRYPTO, "the signer %s is not an SM-PKI GWH SIG "
			"certificate (a manufacturer's: CN with a GWH component, digitalSignature "
			"only, not a CA)", s->subject);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(s->certs); i++) {
		X509 *x = sk_X509_value(s->certs, i);

		if (X509_up_ref(x) != 1 || sk_X509_push(untrusted, x) <= 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = fw_load_certs(inter, true, untrusted, err)) != TW_OK ||
	    (rc = fw_load_crls(home, crls, err)) != TW_OK)
		goto out;
	rc = fw_chain_check(s->signer, roots, untrusted, crls, verdict, err);
out:
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	free(roots);
	free(inter);
	return rc;
}

char *fw_list_anchor_path(const struct tw_home *home)
{
	return tw_home_join(home, tw_config_get_or(home->conf, "firmware", "list_anchor",
		FW_DEFAULT_LIST_ANCHOR));
}

/* ---------------------------------------------------------------- versions */

static bool fw_digit(char c)
{
	return c >= '0' && c <= '9';
}

int fw_version_cmp(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (fw_digit(*a) && fw_digit(*b)) {
			const char *ea, *eb;
			size_t la, lb;
			int c;

			while (*a == '0' && fw_digit(a[1]))
				a++;
			while (*b == '0' && fw_digit(b[1]))
				b++;
			for (ea = a; fw_digit(*ea); ea++)
				;
			for (eb = b; fw_digit(*eb); eb++)
				;
			la = (size_t)(ea - a);
			lb = (size_t)(eb - b);
			if (la != lb)
				return la < lb ? -1 : 1;
			if ((c = memcmp(a, b, la)) != 0)
				return c < 0 ? -1 : 1;
			a = ea;
			b = eb;
		} else {
			if (*a != *b) {
				/* A digit run sorts after a separator or letter at the same place. */
				if (fw_digit(*a) != fw_digit(*b))
					return fw_digit(*a) ? 1 : -1;
				return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
			}
			a++;
			b++;
		}
	}
	if (*a == *b)
		return 0;
	return *a == '\0' ? -1 : 1;
}
