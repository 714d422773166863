/*
 * secretbox.c: AES-256-GCM sealing of secrets at rest (see secretbox.h for the format
 * and why the data key lives where it does).
 */
#include "crypto/secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/signer.h"

#define SB_KEY_LEN    32
#define SB_NONCE_LEN  12
#define SB_TAG_LEN    16
#define SB_RAW_MAX    (SB_NONCE_LEN + SECRETBOX_PLAIN_MAX + SB_TAG_LEN)
/* base64 of SB_RAW_MAX bytes plus the prefix and a NUL. */
#define SB_TEXT_MAX   (sizeof(SECRETBOX_PREFIX) + 4 * ((SB_RAW_MAX + 2) / 3) + 1)

/* A client's way to the key (secretbox_open): the signer, or the file as a fallback. */
struct sb_remote {
	pthread_mutex_t lock;          /* one request at a time on sc */
	char *socket;                  /* the home's signer socket */
	char *key_path;                /* the key file, for the embedded fallback */
	struct signer_client *sc;      /* NULL until first use or after a failure */
	struct secretbox *local;       /* the key file, once the fallback was taken */
};

struct secretbox {
	unsigned char key[SB_KEY_LEN]; /* unused (zero) when remote is set */
	struct sb_remote *remote;
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
	if (sb->remote != NULL) {
		signer_client_close(sb->remote->sc);
		secretbox_free(sb->remote->local);
		pthread_mutex_destroy(&sb->remote->lock);
		free(sb->remote->socket);
		free(sb->remote->key_path);
		free(sb->remote);
	}
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
	struct secretbox *sb = calloc(1, sizeof(*sb));
	struct sb_remote *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (sb == NULL || r == NULL ||
	    (r->socket = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK)) == NULL ||
	    (r->key_path = tw_home_join(home, SECRETBOX_KEY_FILE)) == NULL) {
		if (r != NULL) {
			free(r->socket);
			free(r->key_path);
		}
		free(r);
		free(sb);
		return tw_error_set(err, TW_E_NOMEM, "out of memory for the data key");
	}
	pthread_mutex_init(&r->lock, NULL);
	sb->remote = r;
	*out = sb;
	return TW_OK;
}

tw_rc secretbox_open_key(const struct tw_home *home, struct secretbox **out,
	struct tw_error *err)
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

/* ---------------- contexts ---------------- */

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* "operator/NAME/totp" with a NAME that has no '/'. */
static int aad_totp(const char *aad)
{
	const char *name = aad + strlen("operator/"), *slash;

	return has_prefix(aad, "operator/") && (slash = strchr(name, '/')) != NULL &&
	       slash != name && strcmp(slash, "/totp") == 0;
}

const char *secretbox_context_of(const char *aad)
{
	if (aad == NULL)
		return "other";
	if (aad_totp(aad))
		return "totp";
	if (has_prefix(aad, "profile/"))
		return "profile";
	if (strcmp(aad, "torwart-api-command-principal") == 0)
		return "principal";
	if (strcmp(aad, "torwart-api-spool-key") == 0)
		return "gateway-key";
	if (has_prefix(aad, "torwart-api-request/") && aad[strlen("torwart-api-request/")] != '\0')
		return "request";
	if (has_prefix(aad, "torwart-api-share/") && aad[strlen("torwart-api-share/")] != '\0')
		return "share";
	return "other";
}

int secretbox_context_matches(const char *context, const char *aad)
{
	return context != NULL && aad != NULL && strcmp(secretbox_context_of(aad), context) == 0;
}

/* ---------------- sealing ---------------- */

int secretbox_is_sealed(const char *s)
{
	return s != NULL && strncmp(s, SECRETBOX_PREFIX, strlen(SECRETBOX_PREFIX)) == 0;
}

static tw_rc sb_remote_seal(struct sb_remote *r, const char *aad, const void *plain,
	size_t len, char **out, struct tw_error *err);
static tw_rc sb_remote_unseal(struct sb_remote *r, const char *aad, const char *sealed,
	char **out, size_t *len, struct tw_error *err);

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
	if (sb->remote != NULL)
		return sb_remote_seal(sb->remote, aad, plain, len, out, err);
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
	if (sb->remote != NULL)
		return sb_remote_unseal(sb->remote, aad, sealed, out, len, err);
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

/* ---------------- through the signer ---------------- */

/*
 * Called with r->lock held. Make sure there is a way to the key: the signer when one
 * answers, else the key file when this process may read it. *local is set when the
 * file is to be used.
 */
static tw_rc sb_remote_ready(struct sb_remote *r, const struct secretbox **local,
	struct tw_error *err)
{
	struct tw_error cerr, ferr;
	tw_rc rc;

	*local = NULL;
	if (r->local != NULL) {
		*local = r->local;
		return TW_OK;
	}
	if (r->sc != NULL)
		return TW_OK;
	tw_error_clear(&cerr);
	if ((rc = signer_client_connect(r->socket, &r->sc, &cerr)) == TW_OK) {
		signer_client_set_actor(r->sc, "data-key", "service");
		return TW_OK;
	}
	if (rc != TW_E_UNAVAILABLE && rc != TW_E_DENIED)
		return tw_error_set(err, rc, "%s", cerr.message);
	/* No signer: embedded mode, if the key file is ours to read (demo home, root). The
	 * key is created only where none exists and secrets/ is ours (secretbox_open_file). */
	tw_error_clear(&ferr);
	if (access(r->key_path, F_OK) == 0 && access(r->key_path, R_OK) != 0)
		return tw_error_set(err, TW_E_UNAVAILABLE, "the data key is kept by the signer, "
			"which does not answer (%s), and this process may not read %s: start the "
			"signer", cerr.message, r->key_path);
	if ((rc = secretbox_open_file(r->key_path, &r->local, &ferr)) != TW_OK)
		return tw_error_set(err, rc, "no signer to seal or open secrets with (%s), and "
			"the data key file cannot be used: %s", cerr.message, ferr.message);
	*local = r->local;
	return TW_OK;
}

/*
 * Run op once; when the connection was lost (the signer restarted), reconnect and run it
 * again (sealing and opening have no side effects). Called with r->lock held.
 */
static tw_rc sb_remote_run(struct sb_remote *r, const char *aad, const void *in,
	size_t in_len, char **out, size_t *out_len, int seal, struct tw_error *err)
{
	const char *context = secretbox_context_of(aad);
	tw_rc rc = TW_E_INTERNAL;

	for (int attempt = 0; attempt < 2; attempt++) {
		const struct secretbox *local = NULL;

		if ((rc = sb_remote_ready(r, &local, err)) != TW_OK)
			return rc;
		if (local != NULL)
			return seal ? secretbox_seal(local, aad, in, in_len, out, err) :
				secretbox_unseal(local, aad, in, out, out_len, err);
		rc = seal ? signer_seal(r->sc, context, aad, in, in_len, out, err) :
			signer_unseal(r->sc, context, aad, in, out, out_len, err);
		if (rc != TW_E_UNAVAILABLE && rc != TW_E_PROTOCOL)
			return rc;
		/* Lost connection: drop it; the next attempt connects afresh. */
		signer_client_close(r->sc);
		r->sc = NULL;
	}
	return rc;
}

static tw_rc sb_remote_seal(struct sb_remote *r, const char *aad, const void *plain,
	size_t len, char **out, struct tw_error *err)
{
	tw_rc rc;

	pthread_mutex_lock(&r->lock);
	rc = sb_remote_run(r, aad, plain, len, out, NULL, 1, err);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

static tw_rc sb_remote_unseal(struct sb_remote *r, const char *aad, const char *sealed,
	char **out, size_t *len, struct tw_error *err)
{
	tw_rc rc;

	if (sealed == NULL)
		return tw_error_set(err, TW_E_INVALID, "value is not a sealed secret");
	pthread_mutex_lock(&r->lock);
	rc = sb_remote_run(r, aad, sealed, strlen(sealed), out, len, 0, err);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
