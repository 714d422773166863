/*
 * signer_custodian.c: the key ceremonies of TR-03109-6 M-4.5.18 (signer_keys.h):
 * splitting the token PINs among custodians, and backup/restore of the token.
 *
 * These run in the process of the operator who holds the ceremony, on the signer's host,
 * as the signer's user, with the signer stopped (like `torwart init`): they are the only
 * code besides the signer that opens the token, and only to change its PINs.
 */
#include "signer/signer_keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/log.h"
#include "base/util.h"
#include "signer/p11.h"
#include "crypto/shares.h"
#include "crypto/signer.h"

#define PIN_HALF 16
#define PIN_MAX 128
#define BACKUP_FILE_MAX (64u * 1024u * 1024u)
#define BACKUP_FILES_MAX 4096
#define MANIFEST_MAX (BACKUP_FILES_MAX * 200u)

/* Overwrite a file's bytes before unlinking it (best effort on journaling/flash media). */
static tw_rc wipe_file(const char *path, struct tw_error *err)
{
	struct stat st;
	unsigned char zero[512];
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	tw_rc rc = TW_OK;

	memset(zero, 0, sizeof(zero));
	if (fd >= 0 && fstat(fd, &st) == 0) {
		for (off_t done = 0; done < st.st_size;) {
			size_t n = (size_t)(st.st_size - done) < sizeof(zero) ?
				(size_t)(st.st_size - done) : sizeof(zero);
			ssize_t w = write(fd, zero, n);

			if (w <= 0)
				break;
			done += w;
		}
		(void)fsync(fd);
	}
	if (fd >= 0)
		close(fd);
	if (unlink(path) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot remove %s: %s; remove it by hand", path,
			strerror(errno));
	return rc;
}

/* True when a signer answers on the home's socket. */
static bool signer_running(const struct tw_home *home)
{
	char *path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	struct signer_client *sc = NULL;
	struct tw_error e;
	bool up = false;

	if (path != NULL && signer_client_connect(path, &sc, &e) == TW_OK)
		up = true;
	signer_client_close(sc);
	free(path);
	return up;
}

tw_rc signer_custodians_split(const struct tw_home *home, unsigned k, unsigned n,
	const char *out_dir, const char *const *keys, struct tw_error *err)
{
	EVP_PKEY *to[SHARES_N_MAX];
	char *pins = tw_home_path(home, "signer", "pin_file", TW_DEFAULT_PIN_FILE);
	char *setpath = tw_home_path(home, "signer", "custodians", "secrets/custodians");
	char *module = tw_home_path(home, "signer", "module", TW_DEFAULT_SOFTHSM_MOD);
	char *shconf = tw_home_path(home, "signer", "softhsm_conf", "softhsm2.conf");
	char *setnew = NULL;
	char *written[SHARES_N_MAX];
	char old_user[PIN_MAX], old_so[PIN_MAX];
	char new_user[2 * PIN_HALF + 1], new_so[2 * PIN_HALF + 1];
	unsigned char secret[2 * PIN_HALF];
	struct share shares[SHARES_N_MAX];
	struct share_set set;
	char text[SHARES_TEXT_MAX];
	struct p11_token *tok = NULL;
	bool pins_changed = false;
	tw_rc rc;

	memset(written, 0, sizeof(written));
	memset(shares, 0, sizeof(shares));
	memset(to, 0, sizeof(to));
	old_user[0] = old_so[0] = '\0';
	if (pins == NULL || setpath == NULL || module == NULL || shconf == NULL ||
	    (setnew = tw_asprintf("%s.new", setpath)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(tw_config_get_or(home->conf, "signer", "backend", "pkcs11"), "pkcs11") != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "custodian activation needs [signer] backend = "
			"pkcs11 (the file backend is for tests only)");
		goto out;
	}
	if (tw_path_exists(setpath)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s exists: this home is already in custodian "
			"mode", setpath);
		goto out;
	}
	if (signer_running(home)) {
		rc = tw_error_set(err, TW_E_EXISTS, "a signer is running on this home; stop it "
			"(the ceremony changes the token PINs) and run the ceremony again");
		goto out;
	}
	if (n > SHARES_N_MAX || k < 2 || k > n) {
		rc = tw_error_set(err, TW_E_INVALID, "--k K --n N need 2 <= K <= N <= %d",
			SHARES_N_MAX);
		goto out;
	}
	/* The custodians' keys first: a wrong one stops the ceremony before anything. */
	for (unsigned i = 0; keys != NULL && i < n; i++)
		if ((rc = share_key_load(keys[i], false, &to[i], err)) != TW_OK)
			goto out;
	if ((rc = p11_read_pins(pins, old_user, old_so, sizeof(old_user), err)) != TW_OK)
		goto out;
	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "no randomness for the new token PINs");
		goto out;
	}
	tw_hex_encode(secret, PIN_HALF, new_user);
	tw_hex_encode(secret + PIN_HALF, PIN_HALF, new_so);
	if ((rc = shares_split(secret, sizeof(secret), k, n, &set, shares, err)) != TW_OK)
		goto out;
	/* Everything that can fail without touching the token comes first. */
	if ((rc = tw_mkdir_p(out_dir, 0700, err)) != TW_OK)
		goto out;
	for (unsigned i = 0; i < n; i++) {
		char comment[200];

		snprintf(comment, sizeof(comment), "Torwart custodian share %u of %u (any %u "
			"recombine the token PINs). ONE custodian only; keep it offline. Enter it with "
			"`torwart ca custodian-share --share FILE`.", i + 1, n, k);
		if ((written[i] = tw_asprintf("%s/share-%u-of-%u.%s", out_dir, i + 1, n,
		    keys != NULL ? "sealed" : "txt")) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = share_encode(&shares[i], comment, text, sizeof(text), err)) != TW_OK)
			goto out;
		if (keys != NULL) {
			/* Only the sealed form is written: useless to anyone but its custodian. */
			char *sealed = NULL, note[300];

			snprintf(note, sizeof(note), "Torwart custodian share %u of %u, sealed to the "
				"custodian key %s; only its private key opens it (`torwart ca "
				"custodian-share --share FILE --share-key KEY`).", i + 1, n, keys[i]);
			for (char *q = note; *q != '\0'; q++)
				if (*q == '\n' || *q == '\r')
					*q = ' ';
			rc = share_seal(to[i], text, note, &sealed, err);
			OPENSSL_cleanse(text, sizeof(text));
			if (rc == TW_OK)
				rc = tw_write_file(written[i], sealed, strlen(sealed), 0600, true, err);
			free(sealed);
		} else {
			rc = tw_write_file(written[i], text, strlen(text), 0600, true, err);
		}
		OPENSSL_cleanse(text, sizeof(text));
		if (rc != TW_OK) {
			free(written[i]);
			written[i] = NULL;
			goto out;
		}
	}
	if ((rc = share_set_encode(&set, text, sizeof(text), err)) != TW_OK ||
	    (rc = tw_write_file(setnew, text, strlen(text), 0640, false, err)) != TW_OK)
		goto out;
	{
		struct p11_params pp = {
			.module = module,
			.softhsm_conf = shconf,
			.pin_file = pins,
			.token_label = tw_config_get_or(home->conf, "signer", "token_label",
				TW_DEFAULT_TOKEN_LABEL),
			.defer_login = true,
		};

		if ((rc = p11_open(&pp, &tok, err)) != TW_OK)
			goto out;
	}
	rc = p11_change_pins(tok, old_so, new_so, old_user, new_user, err);
	p11_close(tok);
	tok = NULL;
	if (rc != TW_OK)
		goto out;
	pins_changed = true;
	if (rename(setnew, setpath) != 0) {
		rc = tw_error_set(err, TW_E_IO, "the token PINs are now in the shares, but %s "
			"could not be renamed to %s (%s): rename it by hand", setnew, setpath,
			strerror(errno));
		goto out;
	}
	rc = wipe_file(pins, err);
	tw_info("key ceremony: token PINs split %u of %u into %s; set record %s; pin file "
		"removed", k, n, out_dir, setpath);
out:
	if (rc != TW_OK && !pins_changed) {
		/* Nothing changed on the token: take back what was written. */
		for (unsigned i = 0; i < SHARES_N_MAX; i++)
			if (written[i] != NULL)
				(void)unlink(written[i]);
		if (setnew != NULL)
			(void)unlink(setnew);
	}
	for (unsigned i = 0; i < SHARES_N_MAX; i++) {
		share_wipe(&shares[i]);
		free(written[i]);
		EVP_PKEY_free(to[i]);
	}
	p11_close(tok);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(old_user, sizeof(old_user));
	OPENSSL_cleanse(old_so, sizeof(old_so));
	OPENSSL_cleanse(new_user, sizeof(new_user));
	OPENSSL_cleanse(new_so, sizeof(new_so));
	OPENSSL_cleanse(text, sizeof(text));
	free(pins);
	free(setpath);
	free(setnew);
	free(module);
	free(shconf);
	return rc;
}

/* ---------------- backup and restore ---------------- */

struct manifest {
	struct tw_buf text;
	size_t files;
};

static tw_rc sha256_hex(const unsigned char *data, size_t len, char out[65],
	struct tw_error *err)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
	tw_hex_encode(md, 32, out);
	return TW_OK;
}

/* Copy src to dst (exclusive, mode 0600) and record "HASH  rel" in m (when m != NULL). */
static tw_rc copy_file(const char *src, const char *dst, const char *rel, struct manifest *m,
	struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char hex[65], line[PATH_MAX + 80];
	tw_rc rc;

	if ((rc = tw_read_file(src, BACKUP_FILE_MAX, &data, &len, err)) != TW_OK)
		return rc;
	if ((rc = tw_write_file(dst, data, len, 0600, true, err)) == TW_OK && m != NULL &&
	    (rc = sha256_hex(data, len, hex, err)) == TW_OK) {
		int n = snprintf(line, sizeof(line), "%s  %s\n", hex, rel);

		if (n < 0 || (size_t)n >= sizeof(line))
			rc = tw_error_set(err, TW_E_TOO_LARGE, "path too long: %s", rel);
		else
			rc = tw_buf_append(&m->text, line, (size_t)n, err);
		m->files++;
	}
	free(data);
	return rc;
}

/* Copy the directory tree src (regular files and directories only) into dst. */
static tw_rc copy_tree(const char *src, const char *dst, const char *rel, struct manifest *m,
	struct tw_error *err)
{
	DIR *d = opendir(src);
	struct dirent *e;
	tw_rc rc = TW_OK;

	if (d == NULL)
		return tw_error_set(err, errno == ENOENT ? TW_E_NOT_FOUND : TW_E_IO,
			"cannot open %s: %s", src, strerror(errno));
	if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
		closedir(d);
		return tw_error_set(err, TW_E_IO, "cannot create %s: %s", dst, strerror(errno));
	}
	while (rc == TW_OK && (e = readdir(d)) != NULL) {
		char *s, *t, *r;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		s = tw_asprintf("%s/%s", src, e->d_name);
		t = tw_asprintf("%s/%s", dst, e->d_name);
		r = tw_asprintf("%s/%s", rel, e->d_name);
		if (s == NULL || t == NULL || r == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else if (lstat(s, &st) != 0)
			rc = tw_error_set(err, TW_E_IO, "cannot stat %s: %s", s, strerror(errno));
		else if (S_ISDIR(st.st_mode))
			rc = copy_tree(s, t, r, m, err);
		else if (S_ISREG(st.st_mode))
			rc = m != NULL && m->files >= BACKUP_FILES_MAX ?
				tw_error_set(err, TW_E_TOO_LARGE, "more than %d files", BACKUP_FILES_MAX) :
				copy_file(s, t, r, m, err);
		else
			rc = tw_error_set(err, TW_E_INVALID, "%s is neither a file nor a directory; "
				"refusing to copy it", s);
		free(s);
		free(t);
		free(r);
	}
	closedir(d);
	return rc;
}

tw_rc signer_token_backup(const struct tw_home *home, const char *out_dir, size_t *files,
	struct tw_error *err)
{
	char *tokens = tw_home_join(home, "tokens");
	char *setpath = tw_home_path(home, "signer", "custodians", "secrets/custodians");
	char *dst = NULL, *conf = NULL, *conf_text = NULL, *mpath = NULL, *setdst = NULL;
	struct manifest m;
	tw_rc rc;

	*files = 0;
	memset(&m, 0, sizeof(m));
	tw_buf_init(&m.text, MANIFEST_MAX);
	if (tokens == NULL || setpath == NULL ||
	    (dst = tw_asprintf("%s/tokens", out_dir)) == NULL ||
	    (conf = tw_asprintf("%s/softhsm2.conf", out_dir)) == NULL ||
	    (mpath = tw_asprintf("%s/MANIFEST", out_dir)) == NULL ||
	    (setdst = tw_asprintf("%s/custodians", out_dir)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(out_dir, 0700) != 0) {
		rc = tw_error_set(err, errno == EEXIST ? TW_E_EXISTS : TW_E_IO, "cannot create %s: "
			"%s (a backup goes into a new directory)", out_dir, strerror(errno));
		goto out;
	}
	if ((rc = copy_tree(tokens, dst, "tokens", &m, err)) != TW_OK)
		goto out;
	if (m.files == 0) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "%s holds no token to back up", tokens);
		goto out;
	}
	if (tw_path_exists(setpath) &&
	    (rc = copy_file(setpath, setdst, "custodians", &m, err)) != TW_OK)
		goto out;
	if ((conf_text = tw_asprintf("# softhsm2.conf of a Torwart backup token (load it with "
	    "SOFTHSM2_CONF=<this file>)\ndirectories.tokendir = %s\nobjectstore.backend = "
	    "file\nlog.level = ERROR\n", dst)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_write_file(conf, conf_text, strlen(conf_text), 0600, true, err)) != TW_OK ||
	    (rc = tw_write_file(mpath, m.text.data, m.text.len, 0600, true, err)) != TW_OK)
		goto out;
	*files = m.files;
out:
	tw_buf_free(&m.text);
	free(tokens);
	free(setpath);
	free(dst);
	free(conf);
	free(conf_text);
	free(mpath);
	free(setdst);
	return rc;
}

/* Is dir missing or empty? */
static bool dir_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return errno == ENOENT;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

/* Check every manifest line against the file in dir. */
static tw_rc manifest_check(const char *dir, size_t *files, struct tw_error *err)
{
	char *mpath = tw_asprintf("%s/MANIFEST", dir);
	unsigned char *text = NULL;
	size_t len = 0;
	tw_rc rc;

	*files = 0;
	if (mpath == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = tw_read_file(mpath, MANIFEST_MAX, &text, &len, err)) != TW_OK)
		goto out;
	for (char *line = (char *)text, *next; line != NULL && *line != '\0'; line = next) {
		char *nl = strchr(line, '\n'), *rel, *path;
		unsigned char *data = NULL;
		size_t dlen = 0;
		char hex[65];

		next = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		if (strlen(line) < 67 || line[64] != ' ' || line[65] != ' ' ||
		    strstr(line + 66, "..") != NULL || line[66] == '/') {
			rc = tw_error_set(err, TW_E_INTEGRITY, "%s: malformed line", mpath);
			goto out;
		}
		rel = line + 66;
		if ((path = tw_asprintf("%s/%s", dir, rel)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		rc = tw_read_file(path, BACKUP_FILE_MAX, &data, &dlen, err);
		free(path);
		if (rc == TW_OK)
			rc = sha256_hex(data, dlen, hex, err);
		free(data);
		if (rc != TW_OK)
			goto out;
		if (memcmp(hex, line, 64) != 0) {
			rc = tw_error_set(err, TW_E_INTEGRITY, "backup file %s/%s does not match its "
				"manifest: the backup is damaged; use another copy", dir, rel);
			goto out;
		}
		(*files)++;
	}
	if (*files == 0)
		rc = tw_error_set(err, TW_E_INTEGRITY, "%s lists no files", mpath);
out:
	free(text);
	free(mpath);
	return rc;
}

tw_rc signer_token_restore(const struct tw_home *home, const char *from_dir, size_t *files,
	struct tw_error *err)
{
	char *tokens = tw_home_join(home, "tokens");
	char *src = tw_asprintf("%s/tokens", from_dir);
	char *setsrc = tw_asprintf("%s/custodians", from_dir);
	char *setpath = tw_home_path(home, "signer", "custodians", "secrets/custodians");
	tw_rc rc;

	*files = 0;
	if (tokens == NULL || src == NULL || setsrc == NULL || setpath == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (signer_running(home)) {
		rc = tw_error_set(err, TW_E_EXISTS, "a signer is running on this home; stop it "
			"before restoring its token");
		goto out;
	}
	if (!dir_empty(tokens)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s is not empty: a restore never overwrites a "
			"token; move the damaged token away first", tokens);
		goto out;
	}
	if ((rc = manifest_check(from_dir, files, err)) != TW_OK)
		goto out;
	if ((rc = copy_tree(src, tokens, "tokens", NULL, err)) != TW_OK)
		goto out;
	/* The set record belongs to the token: restore it when the home lost it too. */
	if (tw_path_exists(setsrc) && !tw_path_exists(setpath))
		rc = copy_file(setsrc, setpath, "custodians", NULL, err);
out:
	free(tokens);
	free(src);
	free(setsrc);
	free(setpath);
	return rc;
}
