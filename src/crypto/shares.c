/*
 * shares.c: k-of-n custodian shares (shares.h) over libgfshare.
 *
 * libgfshare draws the random polynomial coefficients through a global callback that it
 * leaves NULL; we point it at RAND_bytes (OpenSSL's DRBG), and because the callback
 * cannot return an error, a failure is remembered in a thread-local flag and checked
 * after each call that draws randomness. gfshare_ctx_free() also scrambles the context
 * through the callback before freeing it, so no coefficient outlives its use.
 */
#include "crypto/shares.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libgfshare.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/util.h"

#define SHARE_MAGIC "torwart-custodian-share 1"
#define SET_MAGIC "torwart-custodian-set 1"
#define VERIFIER_DOMAIN "torwart custodian verifier v1"
#define CHECK_LEN 8

static _Thread_local bool shares_rand_failed;

static void shares_fill_rand(unsigned char *buf, unsigned int len)
{
	if (RAND_bytes(buf, (int)len) != 1) {
		/* Never leave predictable coefficients: zero them and refuse afterwards. */
		memset(buf, 0, len);
		shares_rand_failed = true;
	}
}

static void shares_rand_setup(void)
{
	gfshare_fill_rand = shares_fill_rand;
	shares_rand_failed = false;
}

static tw_rc verifier_of(const unsigned char *salt, const unsigned char *set_id, unsigned k,
	unsigned n, const unsigned char *secret, size_t len, unsigned char *out,
	struct tw_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char kn[2] = { (unsigned char)k, (unsigned char)n };
	unsigned int outlen = 0;
	tw_rc rc = TW_OK;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, VERIFIER_DOMAIN, sizeof(VERIFIER_DOMAIN)) != 1 ||
	    EVP_DigestUpdate(ctx, salt, SHARES_SALT_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, set_id, SHARES_SET_ID_LEN) != 1 ||
	    EVP_DigestUpdate(ctx, kn, sizeof(kn)) != 1 ||
	    EVP_DigestUpdate(ctx, secret, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != SHARES_VERIFIER_LEN)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot compute the share verifier");
	EVP_MD_CTX_free(ctx);
	return rc;
}

void share_wipe(struct share *s)
{
	if (s != NULL)
		OPENSSL_cleanse(s, sizeof(*s));
}

tw_rc shares_split(const unsigned char *secret, size_t len, unsigned k, unsigned n,
	struct share_set *set, struct share *shares, struct tw_error *err)
{
	unsigned char nrs[SHARES_N_MAX];
	unsigned char buf[SHARES_SECRET_MAX];
	gfshare_ctx *ctx = NULL;
	tw_rc rc;

	memset(set, 0, sizeof(*set));
	if (len == 0 || len > SHARES_SECRET_MAX)
		return tw_error_set(err, TW_E_INVALID, "a shared secret has 1..%d bytes, not %zu",
			SHARES_SECRET_MAX, len);
	if (k < 2 || k > n || n > SHARES_N_MAX)
		return tw_error_set(err, TW_E_INVALID, "custodian shares need 2 <= k <= n <= %d "
			"(got k=%u n=%u): one custodian alone must never be enough", SHARES_N_MAX, k, n);
	for (unsigned i = 0; i < n; i++)
		memset(&shares[i], 0, sizeof(shares[i]));
	shares_rand_setup();
	if (RAND_bytes(set->set_id, sizeof(set->set_id)) != 1 ||
	    RAND_bytes(set->salt, sizeof(set->salt)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for the share set");
		goto out;
	}
	set->k = k;
	set->n = n;
	set->len = len;
	if ((rc = verifier_of(set->salt, set->set_id, k, n, secret, len, set->verifier,
	    err)) != TW_OK)
		goto out;
	for (unsigned i = 0; i < n; i++)
		nrs[i] = (unsigned char)(i + 1);
	if ((ctx = gfshare_ctx_init_enc(nrs, n, (unsigned char)k, (unsigned int)len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "libgfshare could not create a split context");
		goto out;
	}
	/* libgfshare takes a non-const secret; give it a copy we wipe. */
	memcpy(buf, secret, len);
	gfshare_ctx_enc_setsecret(ctx, buf);
	if (shares_rand_failed) {
		rc = tw_error_set(err, TW_E_CRYPTO, "no randomness for the share polynomial");
		goto out;
	}
	for (unsigned i = 0; i < n; i++) {
		memcpy(shares[i].set_id, set->set_id, SHARES_SET_ID_LEN);
		shares[i].k = k;
		shares[i].n = n;
		shares[i].index = i + 1;
		shares[i].len = len;
		gfshare_ctx_enc_getshare(ctx, (unsigned char)i, shares[i].y);
	}
	rc = TW_OK;
out:
	if (ctx != NULL)
		gfshare_ctx_free(ctx);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc != TW_OK) {
		for (unsigned i = 0; i < n && i < SHARES_N_MAX; i++)
			share_wipe(&shares[i]);
		memset(set, 0, sizeof(*set));
	}
	return rc;
}

tw_rc shares_check_member(const struct share_set *set, const struct share *s,
	struct tw_error *err)
{
	if (memcmp(s->set_id, set->set_id, SHARES_SET_ID_LEN) != 0)
		return tw_error_set(err, TW_E_INVALID, "the share belongs to another custodian "
			"set (another ceremony); use a share of the current set");
	if (s->k != set->k || s->n != set->n || s->len != set->len)
		return tw_error_set(err, TW_E_INVALID, "the share says k=%u of n=%u but the set is "
			"k=%u of n=%u", s->k, s->n, set->k, set->n);
	if (s->index < 1 || s->index > set->n)
		return tw_error_set(err, TW_E_INVALID, "share index %u is not in 1..%u", s->index,
			set->n);
	return TW_OK;
}

tw_rc shares_combine(const struct share_set *set, const struct share *shares, size_t count,
	unsigned char *secret, struct tw_error *err)
{
	unsigned char nrs[SHARES_N_MAX];
	unsigned char y[SHARES_SECRET_MAX];
	unsigned char check[SHARES_VERIFIER_LEN];
	gfshare_ctx *ctx = NULL;
	tw_rc rc;

	if (set->k < 2 || set->k > set->n || set->n > SHARES_N_MAX || set->len == 0 ||
	    set->len > SHARES_SECRET_MAX)
		return tw_error_set(err, TW_E_INVALID, "the custodian set record is not valid");
	OPENSSL_cleanse(secret, set->len);
	if (count < set->k)
		return tw_error_set(err, TW_E_INVALID, "%zu share%s of %u needed: the secret "
			"cannot be recombined yet", count, count == 1 ? "" : "s", set->k);
	for (size_t i = 0; i < set->k; i++) {
		if ((rc = shares_check_member(set, &shares[i], err)) != TW_OK)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (shares[j].index == shares[i].index)
				return tw_error_set(err, TW_E_INVALID, "share %u was given twice; k "
					"different shares are needed", shares[i].index);
		nrs[i] = (unsigned char)shares[i].index;
	}
	shares_rand_setup();
	if ((ctx = gfshare_ctx_init_dec(nrs, set->k, (unsigned int)set->len)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "libgfshare could not create a combine context");
	for (size_t i = 0; i < set->k; i++) {
		memcpy(y, shares[i].y, set->len);
		gfshare_ctx_dec_giveshare(ctx, (unsigned char)i, y);
	}
	gfshare_ctx_dec_extract(ctx, secret);
	if ((rc = verifier_of(set->salt, set->set_id, set->k, set->n, secret, set->len, check,
	    err)) != TW_OK)
		goto out;
	if (!tw_ct_equal(check, set->verifier, sizeof(check))) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "the %u shares do not combine to the "
			"secret of this set: at least one share is wrong or was altered", set->k);
		goto out;
	}
	rc = TW_OK;
out:
	gfshare_ctx_free(ctx);
	OPENSSL_cleanse(y, sizeof(y));
	if (rc != TW_OK)
		OPENSSL_cleanse(secret, set->len);
	return rc;
}

/* ---------------- text encodings ---------------- */

/* The lines a checksum covers, canonical form. Returns bytes written or 0. */
static size_t share_body(const struct share *s, char *out, size_t size)
{
	char id[2 * SHARES_SET_ID_LEN + 1], y[2 * SHARES_SECRET_MAX + 1];
	int n;

	tw_hex_encode(s->set_id, SHARES_SET_ID_LEN, id);
	tw_hex_encode(s->y, s->len, y);
	n = snprintf(out, size, "%s\nset %s\nk %u\nn %u\nindex %u\nshare %s\n", SHARE_MAGIC, id,
		s->k, s->n, s->index, y);
	OPENSSL_cleanse(y, sizeof(y));
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static void checksum(const char *body, size_t len, char hex[2 * CHECK_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	hex[0] = '\0';
	if (EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) == 1)
		tw_hex_encode(md, CHECK_LEN, hex);
}

tw_rc share_encode(const struct share *s, const char *comment, char *out, size_t size,
	struct tw_error *err)
{
	char body[SHARES_TEXT_MAX], check[2 * CHECK_LEN + 1];
	size_t blen = share_body(s, body, sizeof(body));
	int n;
	tw_rc rc = TW_OK;

	if (s->len == 0 || s->len > SHARES_SECRET_MAX || blen == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "share cannot be encoded");
		goto out;
	}
	if (comment != NULL && strpbrk(comment, "\r\n") != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "a share comment is one line");
		goto out;
	}
	checksum(body, blen, check);
	n = snprintf(out, size, "%s%s%s%scheck %s\n", comment != NULL ? "# " : "",
		comment != NULL ? comment : "", comment != NULL ? "\n" : "", body, check);
	if (n < 0 || (size_t)n >= size)
		rc = tw_error_set(err, TW_E_TOO_LARGE, "share text does not fit %zu bytes", size);
out:
	OPENSSL_cleanse(body, sizeof(body));
	return rc;
}

/*
 * Split text into its non-comment lines (at most max, NUL-terminated in buf, which must
 * hold len + 1 bytes). Comments ('#') and empty lines are skipped; a trailing '\r' is
 * dropped. NUL bytes in the input are refused.
 */
static tw_rc text_lines_max(const unsigned char *text, size_t len, size_t len_max, char *buf,
	char **lines, size_t max, size_t *count, const char *what, struct tw_error *err)
{
	char *p, *next;

	*count = 0;
	if (len == 0 || len > len_max)
		return tw_error_set(err, TW_E_INVALID, "%s: expected 1..%zu bytes, got %zu", what,
			len_max, len);
	if (memchr(text, '\0', len) != NULL)
		return tw_error_set(err, TW_E_INVALID, "%s: contains a NUL byte", what);
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (p = buf; p != NULL && *p != '\0'; p = next) {
		char *nl = strchr(p, '\n');
		size_t l;

		next = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		l = strlen(p);
		if (l > 0 && p[l - 1] == '\r')
			p[--l] = '\0';
		if (l == 0 || p[0] == '#')
			continue;
		if (*count == max)
			return tw_error_set(err, TW_E_INVALID, "%s: more lines than expected", what);
		lines[(*count)++] = p;
	}
	return TW_OK;
}

static tw_rc text_lines(const unsigned char *text, size_t len, char *buf, char **lines,
	size_t max, size_t *count, const char *what, struct tw_error *err)
{
	return text_lines_max(text, len, SHARES_TEXT_MAX, buf, lines, max, count, what, err);
}

/* "KEY VALUE" with exactly one space; *value points into line. */
static tw_rc line_value(const char *line, const char *key, const char **value,
	const char *what, struct tw_error *err)
{
	size_t n = strlen(key);

	if (strncmp(line, key, n) != 0 || line[n] != ' ' || line[n + 1] == '\0')
		return tw_error_set(err, TW_E_INVALID, "%s: expected a line \"%s ...\"", what, key);
	*value = line + n + 1;
	return TW_OK;
}

static tw_rc line_uint(const char *line, const char *key, unsigned max, unsigned *out,
	const char *what, struct tw_error *err)
{
	const char *v;
	unsigned long x = 0;
	tw_rc rc;

	if ((rc = line_value(line, key, &v, what, err)) != TW_OK)
		return rc;
	/* Plain decimal, no sign, no leading zero: one spelling per number. */
	if (strlen(v) > 3 || v[0] == '0' || strspn(v, "0123456789") != strlen(v))
		return tw_error_set(err, TW_E_INVALID, "%s: %s is not a number 1..%u", what, key,
			max);
	x = strtoul(v, NULL, 10);
	if (x < 1 || x > max)
		return tw_error_set(err, TW_E_INVALID, "%s: %s is not a number 1..%u", what, key,
			max);
	*out = (unsigned)x;
	return TW_OK;
}

static tw_rc line_hex(const char *line, const char *key, unsigned char *out, size_t min,
	size_t max, size_t *len, const char *what, struct tw_error *err)
{
	const char *v;
	size_t n;
	tw_rc rc;

	if ((rc = line_value(line, key, &v, what, err)) != TW_OK)
		return rc;
	n = strlen(v);
	if (n % 2 != 0 || n / 2 < min || n / 2 > max ||
	    strspn(v, "0123456789abcdef") != n)
		return tw_error_set(err, TW_E_INVALID, "%s: %s must be %zu..%zu bytes of "
			"lower-case hex", what, key, min, max);
	if (tw_hex_decode(v, out, n / 2, err) != TW_OK)
		return tw_error_set(err, TW_E_INVALID, "%s: %s is not hex", what, key);
	if (len != NULL)
		*len = n / 2;
	return TW_OK;
}

tw_rc share_parse(const unsigned char *text, size_t len, struct share *out,
	struct tw_error *err)
{
	static const char what[] = "custodian share";
	char buf[SHARES_TEXT_MAX + 1], body[SHARES_TEXT_MAX], check[2 * CHECK_LEN + 1];
	char *lines[8];
	size_t count = 0, blen;
	const char *v;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = text_lines(text, len, buf, lines, 8, &count, what, err)) != TW_OK)
		goto out;
	if (count != 7 || strcmp(lines[0], SHARE_MAGIC) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: not a share file (expected the line "
			"\"%s\" and 6 more)", what, SHARE_MAGIC);
		goto out;
	}
	if ((rc = line_hex(lines[1], "set", out->set_id, SHARES_SET_ID_LEN, SHARES_SET_ID_LEN,
	    NULL, what, err)) != TW_OK ||
	    (rc = line_uint(lines[2], "k", SHARES_N_MAX, &out->k, what, err)) != TW_OK ||
	    (rc = line_uint(lines[3], "n", SHARES_N_MAX, &out->n, what, err)) != TW_OK ||
	    (rc = line_uint(lines[4], "index", SHARES_N_MAX, &out->index, what, err)) != TW_OK ||
	    (rc = line_hex(lines[5], "share", out->y, 1, SHARES_SECRET_MAX, &out->len, what,
		err)) != TW_OK ||
	    (rc = line_value(lines[6], "check", &v, what, err)) != TW_OK)
		goto out;
	if (out->k < 2 || out->k > out->n || out->index > out->n) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: needs 2 <= k <= n and index <= n", what);
		goto out;
	}
	if ((blen = share_body(out, body, sizeof(body))) == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: does not fit", what);
		goto out;
	}
	checksum(body, blen, check);
	if (strlen(v) != 2 * CHECK_LEN || !tw_ct_equal(v, check, 2 * CHECK_LEN)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s: the check line does not match (the file "
			"was damaged or mistyped)", what);
		goto out;
	}
	rc = TW_OK;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(body, sizeof(body));
	if (rc != TW_OK)
		share_wipe(out);
	return rc;
}

tw_rc share_set_encode(const struct share_set *set, char *out, size_t size,
	struct tw_error *err)
{
	char id[2 * SHARES_SET_ID_LEN + 1], salt[2 * SHARES_SALT_LEN + 1];
	char ver[2 * SHARES_VERIFIER_LEN + 1];
	int n;

	tw_hex_encode(set->set_id, SHARES_SET_ID_LEN, id);
	tw_hex_encode(set->salt, SHARES_SALT_LEN, salt);
	tw_hex_encode(set->verifier, SHARES_VERIFIER_LEN, ver);
	n = snprintf(out, size, "# Custodian share set of the token PINs (written by the key "
		"ceremony; no secret).\n%s\nset %s\nk %u\nn %u\nlen %zu\nsalt %s\nverifier %s\n",
		SET_MAGIC, id, set->k, set->n, set->len, salt, ver);
	if (n < 0 || (size_t)n >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "set text does not fit %zu bytes", size);
	return TW_OK;
}

tw_rc share_set_parse(const unsigned char *text, size_t len, struct share_set *out,
	struct tw_error *err)
{
	static const char what[] = "custodian set file";
	char buf[SHARES_TEXT_MAX + 1];
	char *lines[8];
	size_t count = 0;
	unsigned slen = 0;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = text_lines(text, len, buf, lines, 8, &count, what, err)) != TW_OK)
		return rc;
	if (count != 7 || strcmp(lines[0], SET_MAGIC) != 0)
		return tw_error_set(err, TW_E_INVALID, "%s: expected the line \"%s\" and 6 more",
			what, SET_MAGIC);
	if ((rc = line_hex(lines[1], "set", out->set_id, SHARES_SET_ID_LEN, SHARES_SET_ID_LEN,
	    NULL, what, err)) != TW_OK ||
	    (rc = line_uint(lines[2], "k", SHARES_N_MAX, &out->k, what, err)) != TW_OK ||
	    (rc = line_uint(lines[3], "n", SHARES_N_MAX, &out->n, what, err)) != TW_OK ||
	    (rc = line_uint(lines[4], "len", SHARES_SECRET_MAX, &slen, what, err)) != TW_OK ||
	    (rc = line_hex(lines[5], "salt", out->salt, SHARES_SALT_LEN, SHARES_SALT_LEN, NULL,
		what, err)) != TW_OK ||
	    (rc = line_hex(lines[6], "verifier", out->verifier, SHARES_VERIFIER_LEN,
		SHARES_VERIFIER_LEN, NULL, what, err)) != TW_OK) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	out->len = slen;
	if (out->k < 2 || out->k > out->n) {
		memset(out, 0, sizeof(*out));
		return tw_error_set(err, TW_E_INVALID, "%s: needs 2 <= k <= n", what);
	}
	return TW_OK;
}

/* ---------------- shares sealed to a custodian's key ---------------- */

#define SEAL_MAGIC "torwart-sealed-share 1"
#define SEAL_INFO "torwart custodian share v1"
#define SEAL_NONCE 12
#define SEAL_TAG 16

bool share_is_sealed(const unsigned char *text, size_t len)
{
	/* The magic line may follow comment lines. */
	for (size_t i = 0; i + sizeof(SEAL_MAGIC) - 1 <= len; i++)
		if ((i == 0 || text[i - 1] == '\n') &&
		    memcmp(text + i, SEAL_MAGIC, sizeof(SEAL_MAGIC) - 1) == 0)
			return true;
	return false;
}

tw_rc share_key_generate(EVP_PKEY **out, struct tw_error *err)
{
	*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");
	if (*out == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot generate a brainpoolP256r1 "
			"key pair");
	return TW_OK;
}

/* The recipient's id in a sealed file: first 8 bytes of SHA-256 over its SPKI, hex. */
static tw_rc key_id(EVP_PKEY *key, unsigned char **spki, int *spki_len, char hex[17],
	struct tw_error *err)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	*spki = NULL;
	if ((*spki_len = i2d_PUBKEY(key, spki)) <= 0 ||
	    EVP_Digest(*spki, (size_t)*spki_len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a custodian's key");
	tw_hex_encode(md, 8, hex);
	return TW_OK;
}

tw_rc share_key_id(EVP_PKEY *key, char hex[17], struct tw_error *err)
{
	unsigned char *spki = NULL;
	int len = 0;
	tw_rc rc = key_id(key, &spki, &len, hex, err);

	OPENSSL_free(spki);
	return rc;
}

/*
 * ECDH between priv and peer, then HKDF-SHA256 (salt SEAL_INFO, info = ephemeral SPKI ||
 * recipient SPKI) to the AES-256-GCM key.
 */
static tw_rc seal_key(EVP_PKEY *priv, EVP_PKEY *peer, const unsigned char *epk, int epk_len,
	const unsigned char *rpk, int rpk_len, unsigned char key[32], struct tw_error *err)
{
	EVP_PKEY_CTX *dh = EVP_PKEY_CTX_new(priv, NULL), *kdf = NULL;
	unsigned char z[128], info[1024];
	size_t zlen = sizeof(z), klen = 32;
	tw_rc rc = TW_OK;

	if (epk_len + rpk_len > (int)sizeof(info)) {
		rc = tw_error_set(err, TW_E_INVALID, "a custodian key is too large");
		goto out;
	}
	memcpy(info, epk, (size_t)epk_len);
	memcpy(info + epk_len, rpk, (size_t)rpk_len);
	if (dh == NULL || EVP_PKEY_derive_init(dh) != 1 || EVP_PKEY_derive_set_peer(dh, peer) != 1 ||
	    EVP_PKEY_derive(dh, z, &zlen) != 1 ||
	    (kdf = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL)) == NULL ||
	    EVP_PKEY_derive_init(kdf) != 1 ||
	    EVP_PKEY_CTX_set_hkdf_md(kdf, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_salt(kdf, (const unsigned char *)SEAL_INFO,
	        (int)strlen(SEAL_INFO)) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_key(kdf, z, (int)zlen) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(kdf, info, epk_len + rpk_len) != 1 ||
	    EVP_PKEY_derive(kdf, key, &klen) != 1 || klen != 32)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "key agreement with the custodian's "
			"key failed (is it a brainpoolP256r1 custodian key?)");
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dh);
	EVP_PKEY_CTX_free(kdf);
	return rc;
}

static char *b64(const unsigned char *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Strict base64 of one line; *out (malloc'd) holds *len bytes. */
static tw_rc unb64(const char *text, unsigned char **out, size_t *len, const char *what,
	struct tw_error *err)
{
	size_t tlen = strlen(text), pad = 0;
	int n;

	*out = NULL;
	*len = 0;
	if (tlen == 0 || tlen % 4 != 0 || strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789+/=") != tlen)
		return tw_error_set(err, TW_E_INVALID, "sealed share: %s is not base64", what);
	if (text[tlen - 1] == '=')
		pad = text[tlen - 2] == '=' ? 2 : 1;
	if ((*out = malloc(tlen / 4 * 3 + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	n = EVP_DecodeBlock(*out, (const unsigned char *)text, (int)tlen);
	if (n < 0 || (size_t)n < pad) {
		free(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INVALID, "sealed share: %s is not base64", what);
	}
	*len = (size_t)n - pad;
	return TW_OK;
}

tw_rc share_seal(EVP_PKEY *recipient, const char *share_text, const char *comment,
	char **out, struct tw_error *err)
{
	EVP_PKEY *eph = NULL;
	EVP_CIPHER_CTX *c = NULL;
	unsigned char *rpk = NULL, *epk = NULL, key[32], raw[SEAL_NONCE + SHARES_TEXT_MAX + SEAL_TAG];
	char id[17], group[64], head[512], *epk64 = NULL, *box64 = NULL;
	int rpk_len = 0, epk_len = 0, n = 0, fin = 0, hlen;
	size_t len = share_text != NULL ? strlen(share_text) : 0, glen = 0;
	tw_rc rc;

	*out = NULL;
	if (len == 0 || len > SHARES_TEXT_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "a share text of 1..%d bytes", SHARES_TEXT_MAX);
		goto out;
	}
	if (EVP_PKEY_get_base_id(recipient) != EVP_PKEY_EC ||
	    EVP_PKEY_get_utf8_string_param(recipient, OSSL_PKEY_PARAM_GROUP_NAME, group,
	        sizeof(group), &glen) != 1 || strcmp(group, "brainpoolP256r1") != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "a custodian key must be a brainpoolP256r1 "
			"public key (torwart ca custodian-keygen)");
		goto out;
	}
	if ((rc = key_id(recipient, &rpk, &rpk_len, id, err)) != TW_OK ||
	    (rc = share_key_generate(&eph, err)) != TW_OK)
		goto out;
	if ((epk_len = i2d_PUBKEY(eph, &epk)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the ephemeral key");
		goto out;
	}
	if ((rc = seal_key(eph, recipient, epk, epk_len, rpk, rpk_len, key, err)) != TW_OK)
		goto out;
	if ((epk64 = b64(epk, (size_t)epk_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	hlen = snprintf(head, sizeof(head), SEAL_MAGIC "\nto %s\nepk %s\n", id, epk64);
	if (hlen < 0 || (size_t)hlen >= sizeof(head)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "sealed share header does not fit");
		goto out;
	}
	/* The header is the associated data: recipient and ephemeral key cannot be swapped. */
	if (RAND_bytes(raw, SEAL_NONCE) != 1 || (c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), key, raw, NULL) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, (const unsigned char *)head, hlen) != 1 ||
	    EVP_EncryptUpdate(c, raw + SEAL_NONCE, &n, (const unsigned char *)share_text,
	        (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, raw + SEAL_NONCE + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG, raw + SEAL_NONCE + n + fin) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "AES-256-GCM sealing failed");
		goto out;
	}
	if ((box64 = b64(raw, SEAL_NONCE + (size_t)n + (size_t)fin + SEAL_TAG)) == NULL ||
	    (*out = tw_asprintf("%s%s%s%sbox %s\n", comment != NULL ? "# " : "",
	        comment != NULL ? comment : "", comment != NULL ? "\n" : "", head, box64)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(raw, sizeof(raw));
	EVP_CIPHER_CTX_free(c);
	EVP_PKEY_free(eph);
	OPENSSL_free(rpk);
	OPENSSL_free(epk);
	free(epk64);
	free(box64);
	return rc;
}

tw_rc share_unseal(EVP_PKEY *key, const unsigned char *sealed, size_t len, char **text,
	size_t *text_len, struct tw_error *err)
{
	char buf[SHARES_SEALED_MAX + 1], *lines[4], id[17], head[512];
	const char *to = NULL, *epk64 = NULL, *box64 = NULL;
	unsigned char *rpk = NULL, *epk = NULL, *box = NULL, k[32], *plain = NULL;
	const unsigned char *p;
	EVP_PKEY *peer = NULL;
	EVP_CIPHER_CTX *c = NULL;
	size_t count = 0, epk_len = 0, box_len = 0, ct = 0;
	int rpk_len = 0, n = 0, fin = 0, hlen;
	tw_rc rc;

	*text = NULL;
	*text_len = 0;
	if ((rc = text_lines_max(sealed, len, SHARES_SEALED_MAX, buf, lines, 4, &count,
	    "sealed share", err)) != TW_OK)
		goto out;
	if (count != 4 || strcmp(lines[0], SEAL_MAGIC) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "sealed share: expected the lines \""
			SEAL_MAGIC "\", to, epk and box");
		goto out;
	}
	if ((rc = line_value(lines[1], "to", &to, "sealed share", err)) != TW_OK ||
	    (rc = line_value(lines[2], "epk", &epk64, "sealed share", err)) != TW_OK ||
	    (rc = line_value(lines[3], "box", &box64, "sealed share", err)) != TW_OK ||
	    (rc = key_id(key, &rpk, &rpk_len, id, err)) != TW_OK)
		goto out;
	if (strcmp(to, id) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "this share is sealed to another custodian's key "
			"(%.16s), not to this one (%s)", to, id);
		goto out;
	}
	if ((rc = unb64(epk64, &epk, &epk_len, "epk", err)) != TW_OK ||
	    (rc = unb64(box64, &box, &box_len, "box", err)) != TW_OK)
		goto out;
	p = epk;
	if ((peer = d2i_PUBKEY(NULL, &p, (long)epk_len)) == NULL || p != epk + epk_len) {
		ERR_clear_error();
		rc = tw_error_set(err, TW_E_INVALID, "sealed share: epk is not a public key");
		goto out;
	}
	if (box_len < SEAL_NONCE + SEAL_TAG + 1 || box_len > SEAL_NONCE + SHARES_TEXT_MAX + SEAL_TAG) {
		rc = tw_error_set(err, TW_E_INVALID, "sealed share: box has a bad length");
		goto out;
	}
	if ((rc = seal_key(key, peer, epk, (int)epk_len, rpk, rpk_len, k, err)) != TW_OK)
		goto out;
	hlen = snprintf(head, sizeof(head), SEAL_MAGIC "\nto %s\nepk %s\n", to, epk64);
	ct = box_len - SEAL_NONCE - SEAL_TAG;
	if (hlen < 0 || (size_t)hlen >= sizeof(head) || (plain = malloc(ct + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(c, EVP_aes_256_gcm(), k, box, NULL) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, (const unsigned char *)head, hlen) != 1 ||
	    EVP_DecryptUpdate(c, plain, &n, box + SEAL_NONCE, (int)ct) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG, box + SEAL_NONCE + ct) != 1 ||
	    EVP_DecryptFinal_ex(c, plain + n, &fin) != 1) {
		ERR_clear_error();
		rc = tw_error_set(err, TW_E_INTEGRITY, "sealed share does not open with this key "
			"(altered, or sealed to another key)");
		goto out;
	}
	plain[n + fin] = '\0';
	if (memchr(plain, '\0', (size_t)(n + fin)) != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "sealed share: the content is not text");
		goto out;
	}
	*text = (char *)plain;
	*text_len = (size_t)(n + fin);
	plain = NULL;
out:
	if (plain != NULL) {
		OPENSSL_cleanse(plain, ct + 1);
		free(plain);
	}
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_CIPHER_CTX_free(c);
	EVP_PKEY_free(peer);
	OPENSSL_free(rpk);
	free(epk);
	free(box);
	return rc;
}

tw_rc share_key_load(const char *path, bool private_key, EVP_PKEY **out,
	struct tw_error *err)
{
	BIO *b = BIO_new_file(path, "r");

	*out = NULL;
	if (b == NULL) {
		ERR_clear_error();
		return tw_error_set(err, TW_E_IO, "cannot read the custodian key %s", path);
	}
	*out = private_key ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) :
		PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (*out == NULL) {
		ERR_clear_error();
		return tw_error_set(err, TW_E_INVALID, "%s holds no PEM %s key (torwart ca "
			"custodian-keygen writes NAME.custodian.%s)", path,
			private_key ? "private" : "public", private_key ? "key" : "pub");
	}
	return TW_OK;
}
