/*
 * secretbox.c: AES-256-GCM sealing of secrets at rest (see secretbox.h for the format
 * and why the data key lives where it does).
 */
#include "crypto/secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/util.h"

#define SB_KEY_LEN    32
#define SB_NONCE_LEN  12
#define SB_TAG_LEN    16
#define SB_RAW_MAX    (SB_NONCE_LEN + SECRETBOX_PLAIN_MAX + SB_TAG_LEN)
/* base64 of SB_RAW_MAX bytes plus the prefix and a NUL. */
#define SB_TEXT_MAX   (sizeof(SECRETBOX_PREFIX) + 4 * ((SB_RAW_MAX + 2) / 3) + 1)

struct secretbox {
	unsigned char key[SB_KEY_LEN];
};

tw_rc secretbox_from_key(const unsigned char key[32], struct secretbox **out,
	struct tw_error *err)
{
	struct secretbox *sb;

	*out = NULL;
	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory for the data key");
	memcpy(sb->key, key, SB_KEY_LEN);
	*out = sb;
	return TW_OK;
}

void secretbox_free(struct secretbox *sb)
{
	if (sb == NULL)
		return;
	tw_wipe(sb->key, sizeof(sb->key));
	free(sb);
}

/* Create the key file exclusively; losing a race to another process is fine. */
static tw_rc sb_create_key(const char *path, struct tw_error *err)
{
	unsigned char key[SB_KEY_LEN];
	char *tmp;
	tw_rc rc;

	char *dir = tw_strdup(path), *slash;

	if (dir == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	/* Homes made before this key existed have no secrets/ yet: create it (0700). */
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		rc = tw_mkdir_p(dir, 0700, err);
		if (rc != TW_OK) {
			free(dir);
			return rc;
		}
	}
	free(dir);
	if (RAND_priv_bytes(key, sizeof(key)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot generate a data key");
	/*
	 * Several services may start at once on a new home: the key appears under its name
	 * only whole (written to a file of this process, then renamed with RENAME_NOREPLACE,
	 * which fails if another process was first), so nobody ever reads a half-written key.
	 */
	tmp = tw_asprintf("%s.new.%ld", path, (long)getpid());
	if (tmp == NULL) {
		tw_wipe(key, sizeof(key));
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	unlink(tmp);
	rc = tw_write_file(tmp, key, sizeof(key), 0600, true, err);
	tw_wipe(key, sizeof(key));
	if (rc == TW_OK && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) != 0 &&
	    errno != EEXIST)
		rc = tw_error_set(err, TW_E_IO, "cannot create data key %s: %s", path,
			strerror(errno));
	unlink(tmp);
	free(tmp);
	return rc;
}

tw_rc secretbox_open_file(const char *path, struct secretbox **out, struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct stat stt;
	tw_rc rc;

	*out = NULL;
	if (!tw_path_exists(path) && (rc = sb_create_key(path, err)) != TW_OK)
		goto out;
	if (stat(path, &stt) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot stat data key %s: %s", path,
			strerror(errno));
		goto out;
	}
	/* Group read is the privsep layout (group torwart-data: wan and api, docs/security.md);
	 * others, or a group that may write, never. */
	if ((stt.st_mode & 027) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG,
			"data key %s is readable by others or writable by its group; run chmod 600 %s",
			path, path);
		goto out;
	}
	if ((rc = tw_read_file(path, SB_KEY_LEN + 1, &data, &len, err)) != TW_OK)
		goto out;
	if (len != SB_KEY_LEN) {
		rc = tw_error_set(err, TW_E_CONFIG,
			"data key %s holds %zu bytes, not %d; restore it from the backup", path, len,
			SB_KEY_LEN);
		goto out;
	}
	rc = secretbox_from_key(data, out, err);
out:
	if (data != NULL) {
		tw_wipe(data, len);
		free(data);
	}
	return rc;
}

tw_rc secretbox_open(const struct tw_home *home, struct secretbox **out, struct tw_error *err)
{
	char *path = tw_home_join(home, SECRETBOX_KEY_FILE);
	tw_rc rc;

	*out = NULL;
	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = secretbox_open_file(path, out, err);
	free(path);
	return rc;
}

int secretbox_is_sealed(const char *s)
{
	return s != NULL && strncmp(s, SECRETBOX_PREFIX, strlen(SECRETBOX_PREFIX)) == 0;
}

tw_rc secretbox_seal(const struct secretbox *sb, const char *aad, const void *plain,
	size_t len, char **out, struct tw_error *err)
{
	unsigned char raw[SB_RAW_MAX];
	EVP_CIPHER_CTX *ctx = NULL;
	char *text = NULL;
	size_t plen = strlen(SECRETBOX_PREFIX);
	int n = 0, fin = 0;
	tw_rc rc;

	*out = NULL;
	if (len > SECRETBOX_PLAIN_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "secret is longer than %d bytes",
			SECRETBOX_PLAIN_MAX);
		goto out;
	}
	if (RAND_bytes(raw, SB_NONCE_LEN) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for a nonce");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), sb->key, raw, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, raw + SB_NONCE_LEN, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, raw + SB_NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SB_TAG_LEN,
	        raw + SB_NONCE_LEN + n + fin) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "AES-256-GCM sealing failed");
		goto out;
	}
	n = SB_NONCE_LEN + n + fin + SB_TAG_LEN;
	if ((text = malloc(SB_TEXT_MAX)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(text, SECRETBOX_PREFIX, plen);
	EVP_EncodeBlock((unsigned char *)text + plen, raw, n);
	*out = text;
	rc = TW_OK;
out:
	tw_wipe(raw, sizeof(raw));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

tw_rc secretbox_unseal(const struct secretbox *sb, const char *aad, const char *sealed,
	char **out, size_t *len, struct tw_error *err)
{
	unsigned char raw[SB_RAW_MAX + 3];
	unsigned char *plain = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	size_t plen = strlen(SECRETBOX_PREFIX), blen, pad = 0;
	int n = 0, fin = 0, rawlen, ctlen = 0;
	tw_rc rc;

	*out = NULL;
	*len = 0;
	if (!secretbox_is_sealed(sealed)) {
		rc = tw_error_set(err, TW_E_INVALID, "value is not a sealed secret");
		goto out;
	}
	blen = strnlen(sealed + plen, SB_TEXT_MAX);
	if (blen == 0 || blen % 4 != 0 || blen > 4 * ((SB_RAW_MAX + 2) / 3)) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "sealed secret has a bad length");
		goto out;
	}
	if (sealed[plen + blen - 1] == '=')
		pad = sealed[plen + blen - 2] == '=' ? 2 : 1;
	rawlen = EVP_DecodeBlock(raw, (const unsigned char *)sealed + plen, (int)blen);
	if (rawlen < 0 || (size_t)rawlen < pad ||
	    (rawlen -= (int)pad) < SB_NONCE_LEN + SB_TAG_LEN) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "sealed secret is not valid base64");
		goto out;
	}
	ctlen = rawlen - SB_NONCE_LEN - SB_TAG_LEN;
	if ((plain = malloc((size_t)ctlen + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), sb->key, raw, NULL) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, plain, &n, raw + SB_NONCE_LEN, ctlen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SB_TAG_LEN,
	        raw + SB_NONCE_LEN + ctlen) != 1 ||
	    EVP_DecryptFinal_ex(ctx, plain + n, &fin) != 1) {
		/* Drain OpenSSL's queue; the reason is always the same for the operator. */
		rc = tw_error_set_openssl(err, TW_E_CRYPTO,
			"sealed secret does not open (altered, moved, or another data key)");
		goto out;
	}
	plain[n + fin] = '\0';
	*len = (size_t)(n + fin);
	*out = (char *)plain;
	plain = NULL;
	rc = TW_OK;
out:
	if (plain != NULL) {
		tw_wipe(plain, (size_t)ctlen + 1);
		free(plain);
	}
	tw_wipe(raw, sizeof(raw));
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}
