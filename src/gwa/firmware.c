/*
 * firmware.c: the firmware catalogue (firmware.h). Images are streamed (never held in
 * memory whole) from the operator's file into a temporary file in HOME/firmware while
 * they are hashed; the temporary file becomes firmware/<sha256> inside the store
 * transaction that records the row, so a refused or failed upload leaves neither a row
 * nor a file behind.
 */
#include "gwa/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/config.h"
#include "base/util.h"
#include "gwa/firmware_cms.h"

#define FW_CHUNK (64 * 1024)

tw_rc firmware_max_size(const struct tw_home *home, long *out, struct tw_error *err)
{
	return tw_config_get_long(home->conf, "firmware", "max_size", FIRMWARE_MAX_SIZE_DEFAULT,
		1, FIRMWARE_MAX_SIZE_LIMIT, out, err);
}

tw_rc firmware_label_check(const char *s, const char *what, struct tw_error *err)
{
	size_t n;

	if (s == NULL || (n = strnlen(s, STORE_ID_MAX + 1)) == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is missing", what);
	if (n > STORE_ID_MAX)
		return tw_error_set(err, TW_E_INVALID, "%s is longer than %d characters", what,
			STORE_ID_MAX);
	if (s[0] == '.' || s[0] == '/' || s[0] == '-')
		return tw_error_set(err, TW_E_INVALID, "%s must not start with '%c'", what, s[0]);
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-' || c == '/'))
			return tw_error_set(err, TW_E_INVALID, "%s may contain only A-Z a-z 0-9 . _ "
				"+ - /", what);
	}
	return TW_OK;
}

/* One admin-log entry; inside the caller's transaction when in_tx. */
static tw_rc fw_audit(struct tw_store *store, const struct firmware_actor *who,
	const char *action, const char *object, const char *result, const char *code,
	const char *detail, bool in_tx, struct tw_error *err)
{
	struct audit_entry e = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail,
		.error_code = code };

	return in_tx ? audit_append_in_tx(store, &e, err) : audit_append(store, &e, err);
}

/*
 * Log a refusal in its own transaction and return rc with the refusal's message in err
 * (if the entry cannot be written, the message says so too).
 */
static tw_rc fw_refuse_code(struct tw_store *store, const struct firmware_actor *who,
	const char *action, const char *object, tw_rc rc, const char *code,
	const struct tw_error *why, struct tw_error *err)
{
	struct tw_error log_err;
	char msg[TW_ERROR_MESSAGE_MAX];

	snprintf(msg, sizeof(msg), "%s", why->message);
	tw_error_clear(&log_err);
	if (fw_audit(store, who, action, object, "refused", code != NULL ? code :
	    tw_strerror(rc), msg, false, &log_err) != TW_OK)
		return tw_error_set(err, rc, "%.300s (and the refusal could not be logged: %.150s)",
			msg, log_err.message);
	return tw_error_set(err, rc, "%s", msg);
}

static tw_rc fw_refuse(struct tw_store *store, const struct firmware_actor *who,
	const char *action, const char *object, tw_rc rc, const struct tw_error *why,
	struct tw_error *err)
{
	return fw_refuse_code(store, who, action, object, rc, NULL, why, err);
}

/* SHA-256 of everything read from fd (at most max bytes) into hex; *size the count. */
static tw_rc fw_hash_fd(int fd, int out_fd, long max, char hex[65], int64_t *size,
	const char *name, struct tw_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = malloc(FW_CHUNK), digest[32];
	unsigned int dlen = 0;
	int64_t total = 0;
	tw_rc rc = TW_OK;

	*size = 0;
	if (md == NULL || buf == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory hashing %s", name);
		goto out;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot start SHA-256");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, FW_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot read %s: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		/* The file may grow while we read it: the limit counts what was read. */
		if (total + n > (int64_t)max) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "%s is larger than [firmware] max_size "
				"(%ld bytes)", name, max);
			goto out;
		}
		total += n;
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
			goto out;
		}
		for (ssize_t off = 0; out_fd >= 0 && off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = tw_error_set(err, TW_E_IO, "cannot copy %s into the home: %s", name,
					w < 0 ? strerror(errno) : "short write");
				goto out;
			}
			off += w;
		}
	}
	if (EVP_DigestFinal_ex(md, digest, &dlen) != 1 || dlen != sizeof(digest)) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
		goto out;
	}
	tw_hex_encode(digest, sizeof(digest), hex);
	*size = total;
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

tw_rc firmware_verify_file(const struct tw_home *home, const struct store_firmware *f,
	struct tw_error *err)
{
	struct tw_error why;
	char *path = NULL, hex[65];
	int64_t size = 0;
	int fd = -1;
	tw_rc rc = TW_OK;

	tw_error_clear(&why);
	/* The stored path is ours, but an edited database must not point outside the home. */
	if (strncmp(f->path, FIRMWARE_DIR "/", sizeof(FIRMWARE_DIR)) != 0 ||
	    strstr(f->path, "..") != NULL)
		return tw_error_set(err, TW_E_INTEGRITY, "firmware image %lld: stored path \"%s\" "
			"is not under %s/ (edited database?)", (long long)f->id, f->path,
			FIRMWARE_DIR);
	if ((path = tw_home_join(home, f->path)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "firmware image %lld: cannot open %s: %s",
			(long long)f->id, path, strerror(errno));
		goto out;
	}
	/* Read one byte more than recorded, so an appended file is caught as too large. */
	if ((rc = fw_hash_fd(fd, -1, (long)f->size + 1, hex, &size, path, &why)) != TW_OK) {
		rc = tw_error_set(err, rc == TW_E_TOO_LARGE || rc == TW_E_IO ? TW_E_INTEGRITY : rc,
			"firmware image %lld: %s", (long long)f->id, why.message);
		goto out;
	}
	if (size != f->size || strcmp(hex, f->sha256) != 0)
		rc = tw_error_set(err, TW_E_INTEGRITY, "firmware image %lld: %s is %lld bytes with "
			"SHA-256 %s, but %lld bytes with %s were recorded: the file was changed",
			(long long)f->id, path, (long long)size, hex, (long long)f->size, f->sha256);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* fsync a directory so a rename in it survives a crash. */
static tw_rc fw_sync_dir(const char *dir, struct tw_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	tw_rc rc = TW_OK;

	if (fd < 0 || fsync(fd) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot sync %s: %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Copy file into a fresh temporary file in dir, hashing it (the upload's outside bytes). */
static tw_rc fw_receive(const char *file, const char *dir, long max, char **tmp_path,
	char hex[65], int64_t *size, struct tw_error *err)
{
	struct stat st;
	int in = -1, out = -1;
	tw_rc rc;

	*tmp_path = NULL;
	if ((in = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return tw_error_set(err, errno == ENOENT ? TW_E_NOT_FOUND : TW_E_IO,
			"cannot open %s: %s", file, strerror(errno));
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is not a regular file", file);
		goto out;
	}
	/* Refuse early by the announced size; fw_hash_fd enforces it on the bytes read. */
	if (st.st_size > (off_t)max) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "%s is %lld bytes, larger than [firmware] "
			"max_size (%ld bytes)", file, (long long)st.st_size, max);
		goto out;
	}
	if ((*tmp_path = tw_asprintf("%s/.upload-XXXXXX", dir)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((out = mkstemp(*tmp_path)) < 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot create a file in %s: %s", dir,
			strerror(errno));
		free(*tmp_path);
		*tmp_path = NULL;
		goto out;
	}
	if (fchmod(out, 0640) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot set the mode of %s: %s", *tmp_path,
			strerror(errno));
		goto out;
	}
	if ((rc = fw_hash_fd(in, out, max, hex, size, file, err)) != TW_OK)
		goto out;
	if (*size == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is empty", file);
		goto out;
	}
	if (fsync(out) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot sync %s: %s", *tmp_path, strerror(errno));
out:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (rc != TW_OK && *tmp_path != NULL) {
		unlink(*tmp_path);
		free(*tmp_path);
		*tmp_path = NULL;
	}
	return rc;
}

/*
 * A verified manufacturer container for fw_add: the manifest's size and digest must
 * match the bytes received, the container is stored beside the image and its signer
 * recorded. *verdict says which check refused (FW_INCOMPLETE, FW_REFUSED).
 */
struct fw_add_sig {
	const struct fw_manifest *m;
	const struct fw_signed *s;
	const unsigned char *cms;
	size_t cms_len;
	enum fw_verdict *verdict;
};

/* Write the container to a fresh temporary file in dir (synced, 0640). */
static tw_rc fw_write_tmp(const char *dir, const unsigned char *data, size_t len,
	char **tmp_path, struct tw_error *err)
{
	size_t off = 0;
	int fd;
	tw_rc rc = TW_OK;

	if ((*tmp_path = tw_asprintf("%s/.upload-XXXXXX", dir)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((fd = mkstemp(*tmp_path)) < 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot create a file in %s: %s", dir,
			strerror(errno));
		free(*tmp_path);
		*tmp_path = NULL;
		return rc;
	}
	if (fchmod(fd, 0640) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot set the mode of %s: %s", *tmp_path,
			strerror(errno));
	while (rc == TW_OK && off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = tw_error_set(err, TW_E_IO, "cannot write %s: %s", *tmp_path,
				w < 0 ? strerror(errno) : "short write");
		else
			off += (size_t)w;
	}
	if (rc == TW_OK && fsync(fd) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot sync %s: %s", *tmp_path, strerror(errno));
	close(fd);
	if (rc != TW_OK) {
		unlink(*tmp_path);
		free(*tmp_path);
		*tmp_path = NULL;
	}
	return rc;
}

static tw_rc fw_add(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, const char *model,
	const char *version, const struct fw_add_sig *sig, struct store_firmware *out,
	struct tw_error *err)
{
	char *cms_tmp = NULL, *cms_final = NULL;
	bool cms_renamed = false;
	struct store_firmware_sig srow;
	struct store_firmware f, dup;
	struct tw_error why;
	char object[2 * STORE_ID_MAX + 16], detail[STORE_TEXT_MAX + 1];
	char *dir = NULL, *tmp = NULL, *final = NULL;
	bool found = false, in_tx = false, renamed = false;
	long max = 0;
	tw_rc rc;

	memset(&f, 0, sizeof(f));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (file == NULL)
		return tw_error_set(err, TW_E_INVALID, "no firmware file given");
	snprintf(object, sizeof(object), "firmware:%.64s/%.64s", model != NULL ? model : "",
		version != NULL ? version : "");
	tw_error_clear(&why);
	if ((rc = firmware_label_check(model, "model", &why)) != TW_OK ||
	    (rc = firmware_label_check(version, "version", &why)) != TW_OK)
		return fw_refuse(store, who, "firmware.add", object, rc, &why, err);
	if ((rc = firmware_max_size(home, &max, err)) != TW_OK)
		return rc;
	if ((dir = tw_home_join(home, FIRMWARE_DIR)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = tw_mkdir_p(dir, 0750, err)) != TW_OK)
		goto out;
	if ((rc = fw_receive(file, dir, max, &tmp, f.sha256, &f.size, &why)) != TW_OK) {
		rc = rc == TW_E_NOMEM ? tw_error_set(err, rc, "%s", why.message) :
			fw_refuse(store, who, "firmware.add", object, rc, &why, err);
		goto out;
	}
	/* Completeness (UC-3.3.1): exactly the bytes the manufacturer signed. */
	if (sig != NULL && (f.size != sig->m->size || strcmp(f.sha256, sig->m->sha256) != 0)) {
		*sig->verdict = FW_INCOMPLETE;
		tw_error_set(&why, TW_E_INTEGRITY, "%s is %lld bytes with SHA-256 %s, but the "
			"signed manifest names %lld bytes with %s (incomplete or other image)", file,
			(long long)f.size, f.sha256, (long long)sig->m->size, sig->m->sha256);
		rc = fw_refuse_code(store, who, "firmware.add", object, TW_E_INTEGRITY,
			"incomplete", &why, err);
		goto out;
	}
	if (sig != NULL && (rc = fw_write_tmp(dir, sig->cms, sig->cms_len, &cms_tmp, err)) !=
	    TW_OK)
		goto out;
	snprintf(f.model, sizeof(f.model), "%s", model);
	snprintf(f.version, sizeof(f.version), "%s", version);
	snprintf(f.path, sizeof(f.path), "%s/%s", FIRMWARE_DIR, f.sha256);
	snprintf(f.signature, sizeof(f.signature), "%s", sig != NULL ? "verified" :
		"unverified");
	snprintf(f.state, sizeof(f.state), "uploaded");
	f.uploaded_ms = tw_now_ms();
	if ((rc = tw_strlcpy_checked(f.uploaded_by, who->actor, sizeof(f.uploaded_by), err,
		"actor")) != TW_OK)
		goto out;
	if ((final = tw_asprintf("%s/%s", dir, f.sha256)) == NULL ||
	    (sig != NULL && (cms_final = tw_asprintf("%s/%s.cms", dir, f.sha256)) == NULL)) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * The duplicate check, the rename and the insert happen under the store's write lock,
	 * so no concurrent upload of the same bytes can commit in between and have its file
	 * removed by our clean-up.
	 */
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	in_tx = true;
	if ((rc = store_firmware_find(store, f.sha256, f.model, f.version, &dup, &found,
		err)) != TW_OK)
		goto out;
	if (found) {
		store_rollback(store);
		in_tx = false;
		if (strcmp(dup.sha256, f.sha256) == 0)
			tw_error_set(&why, TW_E_EXISTS, "these bytes (SHA-256 %s) are already firmware "
				"image %lld (%s %s, %s)", f.sha256, (long long)dup.id, dup.model,
				dup.version, dup.state);
		else
			tw_error_set(&why, TW_E_EXISTS, "%s %s is already firmware image %lld with "
				"other bytes (SHA-256 %s); a version names one image", dup.model,
				dup.version, (long long)dup.id, dup.sha256);
		if (sig != NULL)
			*sig->verdict = FW_REFUSED;
		rc = fw_refuse(store, who, "firmware.add", object, TW_E_EXISTS, &why, err);
		goto out;
	}
	if (rename(tmp, final) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot move the upload to %s: %s", final,
			strerror(errno));
		goto out;
	}
	renamed = true;
	if (sig != NULL) {
		if (rename(cms_tmp, cms_final) != 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot move the container to %s: %s",
				cms_final, strerror(errno));
			goto out;
		}
		cms_renamed = true;
	}
	if ((rc = fw_sync_dir(dir, err)) != TW_OK ||
	    (rc = store_firmware_insert(store, &f, &f.id, err)) != TW_OK)
		goto out;
	if (sig != NULL) {
		memset(&srow, 0, sizeof(srow));
		srow.image_id = f.id;
		srow.verified_ms = f.uploaded_ms;
		snprintf(srow.cms_path, sizeof(srow.cms_path), "%s/%s.cms", FIRMWARE_DIR,
			f.sha256);
		snprintf(srow.signer, sizeof(srow.signer), "%.*s", (int)sizeof(srow.signer) - 1,
			sig->s->subject);
		snprintf(srow.signer_serial, sizeof(srow.signer_serial), "%s", sig->s->serial);
		snprintf(srow.signer_issuer, sizeof(srow.signer_issuer), "%.*s",
			(int)sizeof(srow.signer_issuer) - 1, sig->s->issuer);
		if ((rc = store_firmware_sig_insert(store, &srow, err)) != TW_OK)
			goto out;
	}
	snprintf(object, sizeof(object), "firmware:%lld", (long long)f.id);
	snprintf(detail, sizeof(detail), "model=%s version=%s size=%lld sha256=%s "
		"signature=%s%s%.200s%s%.40s file=%.200s", f.model, f.version, (long long)f.size,
		f.sha256, f.signature, sig != NULL ? " signer=\"" : "",
		sig != NULL ? sig->s->subject : "", sig != NULL ? "\" serial=" : "",
		sig != NULL ? sig->s->serial : "", file);
	if ((rc = fw_audit(store, who, "firmware.add", object, "ok", NULL, detail, true,
		err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
	in_tx = false;
	if (rc == TW_OK && out != NULL)
		*out = f;
out:
	if (in_tx)
		store_rollback(store);
	if (rc != TW_OK && renamed)
		unlink(final);
	if (rc != TW_OK && cms_renamed)
		unlink(cms_final);
	if (tmp != NULL && !renamed)
		unlink(tmp);
	if (cms_tmp != NULL && !cms_renamed)
		unlink(cms_tmp);
	free(cms_tmp);
	free(cms_final);
	free(final);
	free(tmp);
	free(dir);
	return rc;
}

tw_rc firmware_add(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, const char *model,
	const char *version, struct store_firmware *out, struct tw_error *err)
{
	return fw_add(home, store, who, file, model, version, NULL, out, err);
}

tw_rc firmware_add_signed(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, const char *cms_file,
	const char *model, const char *version, struct store_firmware *out,
	enum fw_verdict *verdict, struct tw_error *err)
{
	struct fw_signed sd;
	struct fw_manifest m;
	struct fw_add_sig sig;
	struct tw_error why;
	unsigned char *cms = NULL;
	size_t cms_len = 0;
	char object[2 * STORE_ID_MAX + 16];
	tw_rc rc;

	memset(&sd, 0, sizeof(sd));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	*verdict = FW_FORMAT;
	tw_error_clear(&why);
	snprintf(object, sizeof(object), "firmware:%.64s/%.64s", model != NULL ? model : "",
		version != NULL ? version : "");
	if (file == NULL || cms_file == NULL) {
		*verdict = FW_REFUSED;
		return tw_error_set(err, TW_E_INVALID, "an image and its signed manifest are needed");
	}
	/* The container: read whole (small, bounded), parsed, signature checked. */
	if ((rc = fw_read_file(cms_file, FW_CMS_MAX_BYTES, &cms, &cms_len, &why)) != TW_OK ||
	    (rc = fw_cms_open(cms, cms_len, &sd, verdict, &why)) != TW_OK)
		goto refuse;
	*verdict = FW_FORMAT;
	if ((rc = fw_manifest_parse(sd.content, sd.content_len, &m, &why)) != TW_OK)
		goto refuse;
	snprintf(object, sizeof(object), "firmware:%s/%s", m.model, m.version);
	if (model != NULL && strcmp(model, m.model) != 0) {
		*verdict = FW_MODEL;
		rc = tw_error_set(&why, TW_E_INVALID, "the signed manifest is for model %s, not %.64s",
			m.model, model);
		goto refuse;
	}
	if (version != NULL && strcmp(version, m.version) != 0) {
		*verdict = FW_VERSION;
		rc = tw_error_set(&why, TW_E_INVALID, "the signed manifest is for version %s, not "
			"%.64s", m.version, version);
		goto refuse;
	}
	/* Authenticity: a GWH SIG certificate chaining to our Root, not revoked (T-SU.1/2). */
	if ((rc = fw_check_manufacturer(home, &sd, verdict, &why)) != TW_OK)
		goto refuse;
	*verdict = FW_OK;
	sig.m = &m;
	sig.s = &sd;
	sig.cms = cms;
	sig.cms_len = cms_len;
	sig.verdict = verdict;
	rc = fw_add(home, store, who, file, m.model, m.version, &sig, out, err);
	if (rc != TW_OK && *verdict == FW_OK)
		*verdict = FW_REFUSED;
	goto out;
refuse:
	if (rc == TW_E_NOMEM || rc == TW_E_CONFIG) {
		*verdict = FW_REFUSED;
		rc = tw_error_set(err, rc, "%s", why.message);
	} else {
		rc = fw_refuse_code(store, who, "firmware.add", object, rc, fw_verdict_name(*verdict),
			&why, err);
	}
out:
	fw_signed_clear(&sd);
	free(cms);
	return rc;
}

/* Move image id to `to` with its admin-log entry, in one transaction. */
static tw_rc fw_move(struct tw_store *store, const struct firmware_actor *who, int64_t id,
	const char *from, const char *to, const char *action, const char *detail,
	struct tw_error *err)
{
	char object[32];
	tw_rc rc;

	snprintf(object, sizeof(object), "firmware:%lld", (long long)id);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_firmware_transition(store, id, from, to, tw_now_ms(), who->actor,
		err)) != TW_OK ||
	    (rc = fw_audit(store, who, action, object, "ok", NULL, detail, true, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		store_rollback(store);
	return rc;
}

/* The highest version of `model` ever released (released, or withdrawn after release). */
struct fw_newest {
	const char *model;
	int64_t skip;
	char version[STORE_ID_MAX + 1];
	int64_t id;
};

static int fw_newest_cb(const struct store_firmware *f, void *arg)
{
	struct fw_newest *n = arg;

	if (f->id != n->skip && f->released_ms > 0 && strcmp(f->model, n->model) == 0 &&
	    (n->id == 0 || fw_version_cmp(f->version, n->version) > 0)) {
		snprintf(n->version, sizeof(n->version), "%s", f->version);
		n->id = f->id;
	}
	return 0;
}

/*
 * Release (or, with downgrade, release as an approved downgrade) after the checks of
 * firmware.h: state, bytes at rest, verified signature, certified list, version order.
 */
static tw_rc fw_release(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, bool downgrade, struct store_firmware *out,
	struct tw_error *err)
{
	const char *action = downgrade ? "firmware.downgrade" : "firmware.release";
	struct store_firmware f;
	struct store_firmware_sig sig;
	struct fw_newest newest;
	struct tw_error why;
	char object[32], detail[STORE_TEXT_MAX + 1];
	bool found = false, certified = false, older;
	tw_rc rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	snprintf(object, sizeof(object), "firmware:%lld", (long long)id);
	tw_error_clear(&why);
	if ((rc = store_firmware_get(store, id, &f, &why)) != TW_OK)
		return rc == TW_E_NOT_FOUND || rc == TW_E_INVALID ?
			fw_refuse(store, who, action, object, rc, &why, err) :
			tw_error_set(err, rc, "%s", why.message);
	if (strcmp(f.state, "uploaded") != 0) {
		tw_error_set(&why, TW_E_DENIED, "firmware image %lld is %s; only an uploaded image "
			"is released", (long long)id, f.state);
		return fw_refuse(store, who, action, object, TW_E_DENIED, &why, err);
	}
	/* T-SU.1: release exactly the bytes that were uploaded, or nothing. */
	if ((rc = firmware_verify_file(home, &f, &why)) != TW_OK)
		return fw_refuse(store, who, action, object, rc, &why, err);
	/* UC-3.3.1: only images whose manufacturer signature was verified. */
	if ((rc = store_firmware_sig_get(store, id, &sig, &found, err)) != TW_OK)
		return rc;
	if (strcmp(f.signature, "verified") != 0 || !found) {
		tw_error_set(&why, TW_E_DENIED, "firmware image %lld has no verified manufacturer "
			"signature (signature %s); add it with --signature", (long long)id,
			f.signature);
		return fw_refuse_code(store, who, action, object, TW_E_DENIED, "signature", &why,
			err);
	}
	/* M-4.5.19: only versions on the current certified (BSI) list. */
	if ((rc = store_firmware_certified(store, f.model, f.version, &certified, err)) != TW_OK)
		return rc;
	if (!certified) {
		tw_error_set(&why, TW_E_DENIED, "%s %s is not on the current list of certified "
			"firmware (torwart firmware certified; import a newer list with torwart "
			"firmware import-list)", f.model, f.version);
		return fw_refuse_code(store, who, action, object, TW_E_DENIED, "not-certified", &why,
			err);
	}
	/* Versions never go backwards unless approved as a downgrade (T-SU.3). */
	memset(&newest, 0, sizeof(newest));
	newest.model = f.model;
	newest.skip = id;
	if ((rc = store_firmware_foreach(store, fw_newest_cb, &newest, err)) != TW_OK)
		return rc;
	older = newest.id != 0 && fw_version_cmp(f.version, newest.version) < 0;
	if (older && !downgrade) {
		tw_error_set(&why, TW_E_DENIED, "%s %s is older than %s (image %lld, released "
			"before): a downgrade needs its own approval, torwart firmware downgrade --id "
			"%lld (four-eyes firmware.downgrade)", f.model, f.version, newest.version,
			(long long)newest.id, (long long)id);
		return fw_refuse_code(store, who, action, object, TW_E_DENIED, "downgrade", &why,
			err);
	}
	if (!older && downgrade) {
		tw_error_set(&why, TW_E_DENIED, "%s %s is not older than any released version of "
			"its model; release it with torwart firmware release", f.model, f.version);
		return fw_refuse(store, who, action, object, TW_E_DENIED, &why, err);
	}
	snprintf(detail, sizeof(detail), "model=%s version=%s sha256=%s signature=verified "
		"signer=\"%.200s\" certified=yes%s%s (file re-hashed: matches)", f.model,
		f.version, f.sha256, sig.signer, older ? " downgrade-from=" : "",
		older ? newest.version : "");
	if ((rc = fw_move(store, who, id, "uploaded", "released", action, detail, err)) !=
	    TW_OK)
		return rc;
	return out != NULL ? store_firmware_get(store, id, out, err) : TW_OK;
}

tw_rc firmware_release(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, struct store_firmware *out,
	struct tw_error *err)
{
	return fw_release(home, store, who, id, false, out, err);
}

tw_rc firmware_downgrade(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, struct store_firmware *out,
	struct tw_error *err)
{
	return fw_release(home, store, who, id, true, out, err);
}

tw_rc firmware_withdraw(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int64_t id, const char *reason,
	struct store_firmware *out, struct tw_error *err)
{
	struct store_firmware f;
	struct tw_error why;
	char object[32], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	(void)home;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (reason != NULL && strlen(reason) > 512)
		return tw_error_set(err, TW_E_TOO_LARGE, "reason is longer than 512 bytes");
	snprintf(object, sizeof(object), "firmware:%lld", (long long)id);
	tw_error_clear(&why);
	if ((rc = store_firmware_get(store, id, &f, &why)) != TW_OK)
		return rc == TW_E_NOT_FOUND || rc == TW_E_INVALID ?
			fw_refuse(store, who, "firmware.withdraw", object, rc, &why, err) :
			tw_error_set(err, rc, "%s", why.message);
	if (strcmp(f.state, "withdrawn") == 0) {
		tw_error_set(&why, TW_E_DENIED, "firmware image %lld is already withdrawn",
			(long long)id);
		return fw_refuse(store, who, "firmware.withdraw", object, TW_E_DENIED, &why, err);
	}
	snprintf(detail, sizeof(detail), "model=%s version=%s sha256=%s was %s%s%s", f.model,
		f.version, f.sha256, f.state, reason != NULL ? ": " : "",
		reason != NULL ? reason : "");
	if ((rc = fw_move(store, who, id, f.state, "withdrawn", "firmware.withdraw", detail,
		err)) != TW_OK)
		return rc;
	return out != NULL ? store_firmware_get(store, id, out, err) : TW_OK;
}
