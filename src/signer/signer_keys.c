/*
 * signer_keys.c: the signer's key backends (signer_keys.h): the PKCS#11 token, or PEM key
 * files for tests and benchmarks.
 *
 * The file backend exists so that tests and bench/bench_issue.sh can compare the token
 * with plain OpenSSL keys (issue 3). It is deliberately strict: a key file must be a
 * regular file owned by the signer's user with no group or other permission bits (0600 or
 * 0400), opened without following symlinks; anything else is refused with the fix in the
 * message. Loaded keys are kept for the life of the signer (a key file is parsed once).
 */
#include "signer/signer_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/util.h"
#include "signer/p11.h"
#include "crypto/tls_signer_key.h"
#include "crypto/shares.h"
#include "crypto/key_label.h"
#include "crypto/keys.h"
#include "crypto/signer_proto.h"

#define SIGNER_KEY_FILE_MAX (16 * 1024)   /* a PEM EC private key is < 1 KiB */
#define SIGNER_FILE_KEYS_MAX 32           /* distinct labels kept loaded */
#define SIGNER_CUSTODIANS_DEFAULT "secrets/custodians"
#define SIGNER_PIN_SECRET_LEN 32          /* user PIN (16 bytes) || SO PIN (16 bytes) */
#define SIGNER_PIN_HALF 16

enum signer_backend { BACKEND_PKCS11, BACKEND_FILE };

struct file_key {
	char *label;
	EVP_PKEY *priv;
	EVP_PKEY *pub;                     /* public components only */
};

/* PEM key files of one directory, loaded on first use. */
struct file_store {
	char *dir;
	struct file_key keys[SIGNER_FILE_KEYS_MAX];
	size_t n;
};

struct signer_keys {
	enum signer_backend backend;
	bool ceremony;
	struct p11_token *tok;             /* pkcs11 */
	struct file_store files;           /* file backend */
	struct file_store tls;             /* TLS keys, whatever the backend (see below) */
	/* custodian activation */
	bool custodians;
	struct share_set set;
	struct share held[SHARES_N_MAX];   /* secret material: wiped after every attempt */
	char *held_by[SHARES_N_MAX];
	unsigned nheld;
};

/* Public components only, as a plain OpenSSL key (same as the token backend gives). */
static tw_rc public_of(EVP_PKEY *key, EVP_PKEY **out, struct tw_error *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_PUBKEY(key, &der);

	*out = NULL;
	if (len <= 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a public key");
	p = der;
	*out = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (*out == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot decode a public key");
	return TW_OK;
}

static char *key_path(const struct file_store *fs, const char *label)
{
	/* The protocol restricts labels to [A-Za-z0-9._-], not starting with '.'. */
	return tw_asprintf("%s/%s.key", fs->dir, label);
}

/* PEM private key to path, exclusively (a key file is never replaced), mode 0600. */
static tw_rc pem_write_key(const char *path, EVP_PKEY *key, const char *label,
	struct tw_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pem_len = 0;
	tw_rc rc;

	if (bio == NULL || PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pem_len = BIO_get_mem_data(bio, &pem)) <= 0)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode key '%s'", label);
	else
		rc = tw_write_file(path, pem, (size_t)pem_len, 0600, true, err);
	if (pem != NULL)
		OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	return rc;
}

/*
 * TLS keys (tls_signer_key.h) live in the signer's own key directory ([signer]
 * tls_key_dir, default secrets/tls-keys, the signer's user only), not in the token: they
 * sign every TLS handshake, so they must work whether or not custodians have activated
 * the token (the api's HTTPS listener is how custodians reach the signer to activate it,
 * and deactivating the CA must not take the WAN down), and a handshake signature costs
 * less than a token round trip. They never leave the signer process either way.
 */
bool signer_keys_is_tls(const char *label)
{
	char base[SIGNER_LABEL_MAX + 1];

	if (label == NULL)
		return false;
	signer_label_base(label, base, sizeof(base));
	return strcmp(base, SIGNER_KEY_GWA_TLS) == 0 || strcmp(base, SIGNER_KEY_API_TLS) == 0 ||
		strcmp(base, SIGNER_KEY_CONSOLE_TLS) == 0;
}

static struct file_store *store_of(struct signer_keys *k, const char *label)
{
	return signer_keys_is_tls(label) ? &k->tls : &k->files;
}

/* Read <key_dir>/<label>.key after checking type, owner and mode. */
static tw_rc file_load(const struct file_store *fs, const char *label, struct file_key *fk,
	struct tw_error *err)
{
	char *path = key_path(fs, label);
	unsigned char *pem = NULL;
	size_t len = 0;
	ssize_t r;
	struct stat st;
	BIO *bio = NULL;
	int fd = -1;
	tw_rc rc;

	memset(fk, 0, sizeof(*fk));
	if (path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = tw_error_set(err, errno == ENOENT ? TW_E_NOT_FOUND : TW_E_IO,
			"no key labelled '%s': cannot open %s: %s", label, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "refusing key file %s: it must be a regular "
			"file owned by uid %ld with mode 0600 (it is mode %04o, uid %ld); fix with "
			"`chmod 600 %s`", path, (long)geteuid(), (unsigned)(st.st_mode & 07777),
			(long)st.st_uid, path);
		goto out;
	}
	if (st.st_size <= 0 || st.st_size > SIGNER_KEY_FILE_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "key file %s has %lld bytes; expected a PEM "
			"private key of at most %d bytes", path, (long long)st.st_size,
			SIGNER_KEY_FILE_MAX);
		goto out;
	}
	if ((pem = malloc((size_t)st.st_size)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	while (len < (size_t)st.st_size) {
		r = read(fd, pem + len, (size_t)st.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = tw_error_set(err, TW_E_IO, "cannot read %s: %s", path,
				r < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		len += (size_t)r;
	}
	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (fk->priv = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "%s is not an unencrypted PEM "
			"private key", path);
		goto out;
	}
	if ((rc = public_of(fk->priv, &fk->pub, err)) != TW_OK)
		goto out;
	if ((fk->label = tw_strdup(label)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	rc = TW_OK;
out:
	if (rc != TW_OK) {
		EVP_PKEY_free(fk->priv);
		EVP_PKEY_free(fk->pub);
		memset(fk, 0, sizeof(*fk));
	}
	BIO_free(bio);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Borrowed entry for label, loading it on first use. */
static tw_rc file_get(struct file_store *fs, const char *label, struct file_key **out,
	struct tw_error *err)
{
	struct file_key fk;
	tw_rc rc;

	*out = NULL;
	for (size_t i = 0; i < fs->n; i++)
		if (strcmp(fs->keys[i].label, label) == 0) {
			*out = &fs->keys[i];
			return TW_OK;
		}
	if (fs->n == SIGNER_FILE_KEYS_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the file key backend holds at most %d "
			"keys; key '%s' is one too many", SIGNER_FILE_KEYS_MAX, label);
	if ((rc = file_load(fs, label, &fk, err)) != TW_OK)
		return rc;
	fs->keys[fs->n] = fk;
	*out = &fs->keys[fs->n++];
	return TW_OK;
}

static tw_rc file_generate(struct file_store *fs, const char *label, int nid, EVP_PKEY **pub,
	struct tw_error *err)
{
	char *path = key_path(fs, label);
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pem_len = 0;
	struct file_key *fk;
	tw_rc rc;

	*pub = NULL;
	if (path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_mkdir_p(fs->dir, 0700, err)) != TW_OK)
		goto out;
	ERR_clear_error();
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid))) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot generate key '%s' (%s)", label,
			OBJ_nid2sn(nid));
		goto out;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode key '%s'", label);
		goto out;
	}
	/* Exclusive: an existing key file is never replaced (TW_E_EXISTS). */
	if ((rc = tw_write_file(path, pem, (size_t)pem_len, 0600, true, err)) != TW_OK)
		goto out;
	if ((rc = file_get(fs, label, &fk, err)) != TW_OK)
		goto out;
	if (EVP_PKEY_up_ref(fk->pub) != 1) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot reference a public key");
		goto out;
	}
	*pub = fk->pub;
	if (signer_keys_is_tls(label))
		tw_info("TLS key '%s' generated in the signer's TLS key directory (%s)", label,
			path);
	else
		tw_warn("key '%s' is a FILE (%s): tests and benchmarks only, never production",
			label, path);
out:
	if (pem != NULL)
		OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	EVP_PKEY_free(key);
	free(path);
	return rc;
}

tw_rc signer_keys_open(const struct tw_home *home, bool ceremony, struct signer_keys **out,
	struct tw_error *err)
{
	const char *backend = tw_config_get_or(home->conf, "signer", "backend", "pkcs11");
	struct signer_keys *k;
	char *module = NULL, *shconf = NULL, *pins = NULL, *custodians = NULL;
	tw_rc rc;

	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	k->ceremony = ceremony;
	if ((k->tls.dir = tw_home_path(home, "signer", "tls_key_dir", SIGNER_TLS_KEY_DIR)) ==
	    NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(backend, "file") == 0) {
		k->backend = BACKEND_FILE;
		if ((k->files.dir = tw_home_path(home, "signer", "key_dir", "secrets/keys")) ==
		    NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		tw_warn("signer: file key backend (%s): for tests and benchmarks only; "
			"production uses backend = pkcs11", k->files.dir);
		rc = TW_OK;
		goto out;
	}
	if (strcmp(backend, "pkcs11") != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[signer] backend = %s: expected pkcs11 "
			"(default) or file (tests only)", backend);
		goto out;
	}
	k->backend = BACKEND_PKCS11;
	module = tw_home_path(home, "signer", "module", TW_DEFAULT_SOFTHSM_MOD);
	shconf = tw_home_path(home, "signer", "softhsm_conf", "softhsm2.conf");
	pins = tw_home_path(home, "signer", "pin_file", TW_DEFAULT_PIN_FILE);
	custodians = tw_home_path(home, "signer", "custodians", SIGNER_CUSTODIANS_DEFAULT);
	if (module == NULL || shconf == NULL || pins == NULL || custodians == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (tw_path_exists(custodians)) {
		unsigned char *text = NULL;
		size_t len = 0;

		if (ceremony) {
			rc = tw_error_set(err, TW_E_CONFIG, "this home is in custodian mode (%s); a "
				"key generation ceremony needs a new home", custodians);
			goto out;
		}
		/* Fail closed: a pin file would make the custodians pointless. */
		if (tw_path_exists(pins)) {
			rc = tw_error_set(err, TW_E_CONFIG, "production mode (custodian set %s) but a "
				"pin file exists at %s: the token PIN must not be stored; remove it "
				"(`shred -u %s`) after checking the custodians hold their shares",
				custodians, pins, pins);
			goto out;
		}
		if ((rc = tw_read_file(custodians, SHARES_TEXT_MAX, &text, &len, err)) == TW_OK)
			rc = share_set_parse(text, len, &k->set, err);
		free(text);
		if (rc != TW_OK)
			goto out;
		if (k->set.len != SIGNER_PIN_SECRET_LEN) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s: the share set is not one of token "
				"PINs (%zu bytes)", custodians, k->set.len);
			goto out;
		}
		k->custodians = true;
		tw_info("signer: production mode: the token stays logged out until %u of %u "
			"custodians enter their shares (`torwart ca custodian-share`)", k->set.k,
			k->set.n);
	}
	{
		struct p11_params pp = {
			.module = module,
			.softhsm_conf = shconf,
			.pin_file = pins,
			.token_label = tw_config_get_or(home->conf, "signer", "token_label",
				TW_DEFAULT_TOKEN_LABEL),
			.ceremony = ceremony,
			.defer_login = k->custodians,
		};

		rc = p11_open(&pp, &k->tok, err);
	}
out:
	free(module);
	free(shconf);
	free(pins);
	free(custodians);
	if (rc != TW_OK)
		signer_keys_close(k);
	else
		*out = k;
	return rc;
}

static void held_wipe(struct signer_keys *k)
{
	for (unsigned i = 0; i < SHARES_N_MAX; i++) {
		share_wipe(&k->held[i]);
		free(k->held_by[i]);
		k->held_by[i] = NULL;
	}
	k->nheld = 0;
}

void signer_keys_close(struct signer_keys *k)
{
	if (k == NULL)
		return;
	held_wipe(k);
	p11_close(k->tok);
	for (int s = 0; s < 2; s++) {
		struct file_store *fs = s == 0 ? &k->files : &k->tls;

		for (size_t i = 0; i < fs->n; i++) {
			EVP_PKEY_free(fs->keys[i].priv);
			EVP_PKEY_free(fs->keys[i].pub);
			free(fs->keys[i].label);
		}
		free(fs->dir);
	}
	free(k);
}

const char *signer_keys_backend(const struct signer_keys *k)
{
	return k->backend == BACKEND_FILE ? "file" : "pkcs11";
}

void signer_keys_activation(const struct signer_keys *k, struct signer_activation *out)
{
	memset(out, 0, sizeof(*out));
	out->custodians = k->custodians;
	out->active = signer_keys_active(k);
	out->k = k->set.k;
	out->n = k->set.n;
	out->entered = k->nheld;
}

bool signer_keys_active(const struct signer_keys *k)
{
	if (k->backend == BACKEND_FILE || !k->custodians)
		return true;
	return p11_logged_in(k->tok);
}

void signer_keys_deactivate(struct signer_keys *k)
{
	if (k == NULL || !k->custodians)
		return;
	held_wipe(k);
	p11_logout(k->tok);
}

/* Combine the k held shares, check them, log in; wipes everything it touched. */
static tw_rc shares_activate(struct signer_keys *k, struct tw_error *err)
{
	unsigned char secret[SIGNER_PIN_SECRET_LEN];
	char pin[2 * SIGNER_PIN_HALF + 1];
	tw_rc rc;

	if ((rc = shares_combine(&k->set, k->held, k->nheld, secret, err)) != TW_OK)
		goto out;
	tw_hex_encode(secret, SIGNER_PIN_HALF, pin);
	rc = p11_login(k->tok, pin, err);
	if (rc == TW_E_DENIED)
		rc = tw_error_set(err, TW_E_INTEGRITY, "the shares combine and match the set "
			"record, but the token refuses the PIN: the set record does not belong to "
			"this token (restored from another home?)");
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(pin, sizeof(pin));
	/* Success or not, the shares have served: the next attempt starts from zero. */
	held_wipe(k);
	return rc;
}

tw_rc signer_keys_add_share(struct signer_keys *k, const char *actor,
	const unsigned char *text, size_t len, unsigned *index, bool *activated,
	struct tw_error *err)
{
	struct share s;
	tw_rc rc;

	*activated = false;
	*index = 0;
	memset(&s, 0, sizeof(s));
	if (!k->custodians) {
		rc = tw_error_set(err, TW_E_INVALID, "this signer is not in custodian mode (its "
			"token PIN is in the demo pin file); nothing to activate");
		goto out;
	}
	if (p11_logged_in(k->tok)) {
		rc = tw_error_set(err, TW_E_EXISTS, "the signer is already active; shares are "
			"needed again only after `torwart ca deactivate` or a signer restart");
		goto out;
	}
	if ((rc = share_parse(text, len, &s, err)) != TW_OK ||
	    (rc = shares_check_member(&k->set, &s, err)) != TW_OK)
		goto out;
	*index = s.index;
	for (unsigned i = 0; i < k->nheld; i++) {
		if (k->held[i].index == s.index) {
			rc = tw_error_set(err, TW_E_EXISTS, "share %u was already entered (by %s); "
				"another custodian's share is needed", s.index, k->held_by[i]);
			goto out;
		}
		if (strcmp(k->held_by[i], actor) == 0) {
			rc = tw_error_set(err, TW_E_EXISTS, "%s already entered a share (%u); k "
				"shares must come from k different custodians", actor, k->held[i].index);
			goto out;
		}
	}
	if (k->nheld >= SHARES_N_MAX || (k->held_by[k->nheld] = tw_strdup(actor)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	k->held[k->nheld++] = s;
	if (k->nheld < k->set.k) {
		rc = TW_OK;
		goto out;
	}
	if ((rc = shares_activate(k, err)) == TW_OK)
		*activated = true;
out:
	share_wipe(&s);
	return rc;
}

/* ---- key rotation (signer_keys.h "Key rotation") ---- */

/* Pointers live beside the key files; those of token keys in the TLS key directory (the
 * signer's own directory, which exists with either backend). */
static char *ptr_path(struct signer_keys *k, const char *base, const char *which)
{
	const struct file_store *fs = store_of(k, base);

	return tw_asprintf("%s/%s.%s", fs->dir != NULL ? fs->dir : k->tls.dir, base, which);
}

/* The label a pointer names, "" when there is no pointer. */
static tw_rc ptr_read(struct signer_keys *k, const char *base, const char *which, char *out,
	size_t size, struct tw_error *err)
{
	char *path = ptr_path(k, base, which), b[SIGNER_LABEL_MAX + 1];
	unsigned char *text = NULL;
	size_t len = 0;
	tw_rc rc;

	out[0] = '\0';
	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	/* Every use of a base label looks here: one stat when there is no pointer. */
	rc = !tw_path_exists(path) ? TW_OK :
		tw_read_file(path, SIGNER_LABEL_MAX + 2, &text, &len, err);
	if (rc != TW_OK || text == NULL)
		goto out;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	signer_label_base((const char *)text, b, sizeof(b));
	if (!signer_label_versioned((const char *)text) || strcmp(b, base) != 0 || len >= size) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "%s does not name a version of key '%s'",
			path, base);
		goto out;
	}
	memcpy(out, text, len + 1);
out:
	free(text);
	free(path);
	return rc;
}

static tw_rc ptr_write(struct signer_keys *k, const char *base, const char *which,
	const char *value, struct tw_error *err)
{
	char *path = ptr_path(k, base, which), *line = tw_asprintf("%s\n", value);
	tw_rc rc = path == NULL || line == NULL ? tw_error_set(err, TW_E_NOMEM, "out of memory") :
		tw_write_file(path, line, strlen(line), 0600, false, err);   /* atomic: rename */

	free(path);
	free(line);
	return rc;
}

static tw_rc ptr_remove(struct signer_keys *k, const char *base, const char *which,
	struct tw_error *err)
{
	char *path = ptr_path(k, base, which);
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (unlink(path) != 0 && errno != ENOENT)
		rc = tw_error_set(err, TW_E_IO, "cannot remove %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

/* The versioned label that label names now (the pointer's, or a pre-rotation key's). */
static tw_rc current_label(struct signer_keys *k, const char *base, char *out, size_t size,
	struct tw_error *err)
{
	EVP_PKEY *pub = NULL;
	struct file_key *fk;
	tw_rc rc;

	if ((rc = ptr_read(k, base, "current", out, size, err)) != TW_OK || out[0] != '\0')
		return rc;
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(base))
		rc = p11_public_key(k->tok, base, &pub, err);
	else if ((rc = file_get(store_of(k, base), base, &fk, err)) == TW_OK &&
	    EVP_PKEY_up_ref(fk->pub) == 1)
		pub = fk->pub;
	if (rc == TW_OK && pub == NULL)
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot reference key '%s'", base);
	if (rc == TW_OK)
		rc = signer_label_of_key(base, pub, out, size, err);
	EVP_PKEY_free(pub);
	return rc;
}

/*
 * A token key made by rotation is generated under a label of its own ("<base>.t<random
 * hex>": its public key, which names the version, exists only after generation) and the
 * file "<version>.p11" beside the pointers names that object. Read: "" when absent.
 */
static char *token_alias_path(struct signer_keys *k, const char *version)
{
	return tw_asprintf("%s/%s.p11", k->tls.dir, version);
}

static tw_rc token_alias_read(struct signer_keys *k, const char *version, char *out,
	size_t size, struct tw_error *err)
{
	char *path = token_alias_path(k, version), b[SIGNER_LABEL_MAX + 1];
	char vb[SIGNER_LABEL_MAX + 1];
	unsigned char *text = NULL;
	size_t len = 0;
	tw_rc rc = TW_OK;

	out[0] = '\0';
	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(path))
		goto out;
	if ((rc = tw_read_file(path, SIGNER_LABEL_MAX + 2, &text, &len, err)) != TW_OK)
		goto out;
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	/* "<base>.t<hex>" of the same base, nothing else */
	signer_label_base(version, vb, sizeof(vb));
	snprintf(b, sizeof(b), "%s.t", vb);
	if (len >= size || len <= strlen(b) || strncmp((const char *)text, b, strlen(b)) != 0 ||
	    strspn((const char *)text + strlen(b), "0123456789abcdef") != len - strlen(b)) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "%s does not name a token object of key '%s'",
			path, vb);
		goto out;
	}
	memcpy(out, text, len + 1);
out:
	free(text);
	free(path);
	return rc;
}

/* Token keys: the base label through its pointer; a versioned label names its rotation
 * object, itself, or the pre-rotation object of its base. */
static tw_rc token_resolve(struct signer_keys *k, const char *label, char *out, size_t size,
	struct tw_error *err)
{
	char base[SIGNER_LABEL_MAX + 1], legacy[SIGNER_LABEL_MAX + 1], v[SIGNER_LABEL_MAX + 1];
	EVP_PKEY *pub = NULL;
	tw_rc rc;

	if (!signer_label_versioned(label)) {
		if ((rc = ptr_read(k, label, "current", v, sizeof(v), err)) != TW_OK)
			return rc;
		if (v[0] == '\0') {
			snprintf(out, size, "%s", label);
			return TW_OK;
		}
		label = v;
	}
	if ((rc = token_alias_read(k, label, out, size, err)) != TW_OK || out[0] != '\0')
		return rc;
	snprintf(out, size, "%s", label);
	if ((rc = p11_public_key(k->tok, label, &pub, err)) != TW_E_NOT_FOUND) {
		EVP_PKEY_free(pub);
		return rc;
	}
	signer_label_base(label, base, sizeof(base));
	tw_error_clear(err);
	if ((rc = p11_public_key(k->tok, base, &pub, err)) == TW_OK &&
	    (rc = signer_label_of_key(base, pub, legacy, sizeof(legacy), err)) == TW_OK) {
		if (strcmp(legacy, label) == 0)
			snprintf(out, size, "%s", base);
		else
			rc = tw_error_set(err, TW_E_NOT_FOUND, "no key labelled '%s'", label);
	}
	EVP_PKEY_free(pub);
	return rc;
}

/* A loaded key under a second label (shares the references). */
static tw_rc file_alias(struct file_store *fs, const struct file_key *of, const char *label,
	struct file_key **out, struct tw_error *err)
{
	struct file_key *fk;

	if (fs->n == SIGNER_FILE_KEYS_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the file key backend holds at most %d "
			"keys; key '%s' is one too many", SIGNER_FILE_KEYS_MAX, label);
	fk = &fs->keys[fs->n];
	if ((fk->label = tw_strdup(label)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	EVP_PKEY_up_ref(of->priv);
	EVP_PKEY_up_ref(of->pub);
	fk->priv = of->priv;
	fk->pub = of->pub;
	fs->n++;
	*out = fk;
	return TW_OK;
}

/*
 * File keys by label: the base label through its pointer; a versioned label is its own
 * file, or the pre-rotation file of its base when that key has this version's name
 * (remembered as an alias, so a running wan's handshakes cost no second look).
 */
static tw_rc file_get_resolved(struct signer_keys *k, const char *label,
	struct file_key **out, struct tw_error *err)
{
	struct file_store *fs = store_of(k, label);
	char phys[SIGNER_LABEL_MAX + 1], base[SIGNER_LABEL_MAX + 1], legacy[SIGNER_LABEL_MAX + 1];
	struct file_key *fk;
	tw_rc rc;

	*out = NULL;
	if (signer_label_versioned(label))
		snprintf(phys, sizeof(phys), "%s", label);
	else if ((rc = ptr_read(k, label, "current", phys, sizeof(phys), err)) != TW_OK)
		return rc;
	if (phys[0] == '\0')
		return file_get(fs, label, out, err);
	if ((rc = file_get(fs, phys, out, err)) != TW_E_NOT_FOUND)
		return rc;
	signer_label_base(phys, base, sizeof(base));
	tw_error_clear(err);
	if ((rc = file_get(fs, base, &fk, err)) != TW_OK)
		return rc == TW_E_NOT_FOUND ? tw_error_set(err, rc, "no key labelled '%s'", phys) :
			rc;
	if ((rc = signer_label_of_key(base, fk->pub, legacy, sizeof(legacy), err)) != TW_OK)
		return rc;
	if (strcmp(legacy, phys) != 0)
		return tw_error_set(err, TW_E_NOT_FOUND, "no key labelled '%s'", phys);
	return file_alias(fs, fk, phys, out, err);
}

/* Forget every cached entry of the key priv (its label and its aliases). */
static void file_forget(struct file_store *fs, EVP_PKEY *priv)
{
	for (size_t i = 0; i < fs->n;) {
		if (fs->keys[i].priv != priv) {
			i++;
			continue;
		}
		EVP_PKEY_free(fs->keys[i].priv);
		EVP_PKEY_free(fs->keys[i].pub);
		free(fs->keys[i].label);
		fs->keys[i] = fs->keys[--fs->n];
		memset(&fs->keys[fs->n], 0, sizeof(fs->keys[fs->n]));
	}
}

/* Overwrite a key file before unlinking it (best effort on journalling file systems;
 * the token backend destroys objects instead). ENOENT: gone already. */
static tw_rc file_destroy(const char *path, struct tw_error *err)
{
	static const unsigned char zero[512];
	struct stat st;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? TW_OK : tw_error_set(err, TW_E_IO, "cannot open %s: %s",
			path, strerror(errno));
	if (fstat(fd, &st) == 0)
		for (off_t done = 0; done < st.st_size; done += (off_t)sizeof(zero))
			if (write(fd, zero, sizeof(zero)) < 0)
				break;
	(void)fsync(fd);
	close(fd);
	if (unlink(path) != 0 && errno != ENOENT)
		return tw_error_set(err, TW_E_IO, "cannot remove %s: %s", path, strerror(errno));
	return TW_OK;
}

/* Destroy the key file of versioned label v (its own file, or its base's pre-rotation
 * file when that key is v) and forget it. */
static tw_rc file_destroy_version(struct signer_keys *k, const char *v, struct tw_error *err)
{
	struct file_store *fs = store_of(k, v);
	char base[SIGNER_LABEL_MAX + 1], legacy[SIGNER_LABEL_MAX + 1];
	struct file_key *fk = NULL;
	char *path = key_path(fs, v);
	tw_rc rc;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	signer_label_base(v, base, sizeof(base));
	if (!tw_path_exists(path)) {
		free(path);
		if ((path = key_path(fs, base)) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		rc = file_get(fs, base, &fk, err);
		if (rc == TW_E_NOT_FOUND) {   /* destroyed before a crash: nothing left */
			tw_error_clear(err);
			free(path);
			return TW_OK;
		}
		if (rc == TW_OK)
			rc = signer_label_of_key(base, fk->pub, legacy, sizeof(legacy), err);
		if (rc == TW_OK && strcmp(legacy, v) != 0)
			rc = tw_error_set(err, TW_E_INTEGRITY, "key '%s' is not the version '%s' "
				"that is to be destroyed; nothing destroyed", base, v);
		if (rc != TW_OK) {
			free(path);
			return rc;
		}
	} else if (file_get(fs, v, &fk, err) != TW_OK) {
		fk = NULL;   /* unreadable: destroyed all the same */
		tw_error_clear(err);
	}
	if ((rc = file_destroy(path, err)) == TW_OK && fk != NULL)
		file_forget(fs, fk->priv);
	free(path);
	return rc;
}

static tw_rc rotate_check(struct signer_keys *k, const char *base, struct tw_error *err)
{
	if (signer_label_versioned(base) || base[0] == '\0')
		return tw_error_set(err, TW_E_INVALID, "'%s' is not a base key label", base);
	/* Token keys: generation and destruction need the logged-in token. */
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(base) && !signer_keys_active(k))
		return tw_error_set(err, TW_E_UNAVAILABLE, "the token is not active: key '%s' can "
			"be rotated once the custodians have activated the signer", base);
	return TW_OK;
}

tw_rc signer_keys_rotation(struct signer_keys *k, const char *base,
	struct signer_rotation *out, struct tw_error *err)
{
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = current_label(k, base, out->current, sizeof(out->current), err)) == TW_OK &&
	    (rc = ptr_read(k, base, "next", out->next, sizeof(out->next), err)) == TW_OK)
		rc = ptr_read(k, base, "prev", out->prev, sizeof(out->prev), err);
	return rc;
}

/* Prepare for a token key: generated in the token (non-extractable, like the ceremony's),
 * then the alias file, then the pointer; a crash in between leaves an unnamed object. */
static tw_rc token_prepare(struct signer_keys *k, const char *base, int nid, char *next,
	size_t size, struct tw_error *err)
{
	unsigned char rnd[8], *oid = NULL;
	char tmp[SIGNER_LABEL_MAX + 1], *path = NULL, *line = NULL;
	EVP_PKEY *pub = NULL;
	int oid_len;
	tw_rc rc;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for a key label");
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.t", base);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp), "%02x", rnd[i]);
	if ((oid_len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &oid)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the curve of '%s'", base);
		goto out;
	}
	if ((rc = p11_generate_ec_rotation(k->tok, tmp, oid, (size_t)oid_len, &pub, err)) !=
	    TW_OK || (rc = signer_label_of_key(base, pub, next, size, err)) != TW_OK)
		goto out;
	if ((path = token_alias_path(k, next)) == NULL ||
	    (line = tw_asprintf("%s\n", tmp)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_mkdir_p(k->tls.dir, 0700, err)) != TW_OK ||
	    (rc = tw_write_file(path, line, strlen(line), 0600, false, err)) != TW_OK ||
	    (rc = ptr_write(k, base, "next", next, err)) != TW_OK)
		goto out;
out:
	OPENSSL_free(oid);
	EVP_PKEY_free(pub);
	free(path);
	free(line);
	return rc;
}

/* Destroy token version v: its rotation object (and alias file), or the base's own
 * pre-rotation object when that key is v. */
static tw_rc token_destroy_version(struct signer_keys *k, const char *v, struct tw_error *err)
{
	char obj[SIGNER_LABEL_MAX + 1], *path = token_alias_path(k, v);
	tw_rc rc;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = token_resolve(k, v, obj, sizeof(obj), err);
	if (rc == TW_E_NOT_FOUND) {   /* destroyed before a crash */
		tw_error_clear(err);
		rc = TW_OK;
	} else if (rc == TW_OK) {
		rc = p11_destroy_key(k->tok, obj, err);
	}
	if (rc == TW_OK && unlink(path) != 0 && errno != ENOENT)
		rc = tw_error_set(err, TW_E_IO, "cannot remove %s: %s", path, strerror(errno));
	free(path);
	return rc;
}

tw_rc signer_keys_rotate_prepare(struct signer_keys *k, const char *base, char *next,
	size_t size, struct tw_error *err)
{
	struct file_store *fs = store_of(k, base);
	struct file_key *fk;
	EVP_PKEY *cur = NULL, *key = NULL;
	char *path = NULL;
	int nid;
	tw_rc rc;

	if ((rc = rotate_check(k, base, err)) != TW_OK ||
	    (rc = ptr_read(k, base, "next", next, size, err)) != TW_OK)
		goto out;
	/* Rerun after a crash or a failed issuance: the prepared key again. */
	if (next[0] != '\0' && (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(base) ?
	    signer_keys_public(k, next, &cur, err) : file_get_resolved(k, next, &fk, err)) == TW_OK)
		goto out;
	EVP_PKEY_free(cur);
	cur = NULL;
	tw_error_clear(err);
	if ((rc = signer_keys_public(k, base, &cur, err)) != TW_OK)
		goto out;
	if ((nid = keys_ec_curve_nid(cur)) == NID_undef) {
		rc = tw_error_set(err, TW_E_CRYPTO, "key '%s' is not an EC key on a named curve",
			base);
		goto out;
	}
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(base)) {
		rc = token_prepare(k, base, nid, next, size, err);
		goto out;
	}
	ERR_clear_error();
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(nid))) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot generate a new key for '%s' "
			"(%s)", base, OBJ_nid2sn(nid));
		goto out;
	}
	if ((rc = signer_label_of_key(base, key, next, size, err)) != TW_OK)
		goto out;
	if ((path = key_path(fs, next)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* The key file first, then the pointer: a crash in between leaves an unnamed file
	 * that no pointer names (harmless; the rerun makes another key). */
	if ((rc = tw_mkdir_p(fs->dir, 0700, err)) != TW_OK ||
	    (rc = pem_write_key(path, key, next, err)) != TW_OK ||
	    (rc = ptr_write(k, base, "next", next, err)) != TW_OK)
		goto out;
out:
	if (rc != TW_OK && size > 0)
		next[0] = '\0';
	EVP_PKEY_free(cur);
	EVP_PKEY_free(key);
	free(path);
	return rc;
}

tw_rc signer_keys_rotate_commit(struct signer_keys *k, const char *base, const char *expect,
	char *old, size_t size, struct tw_error *err)
{
	struct signer_rotation r;
	tw_rc rc;

	old[0] = '\0';
	if ((rc = rotate_check(k, base, err)) != TW_OK ||
	    (rc = signer_keys_rotation(k, base, &r, err)) != TW_OK)
		return rc;
	if (strcmp(r.current, expect) == 0) {
		/* Done before (a rerun after a crash): finish the last step. */
		snprintf(old, size, "%s", r.prev);
		return strcmp(r.next, expect) == 0 ? ptr_remove(k, base, "next", err) : TW_OK;
	}
	if (strcmp(r.next, expect) != 0)
		return tw_error_set(err, TW_E_INVALID, "the prepared key of '%s' is '%s', not '%s'; "
			"nothing switched", base, r.next[0] != '\0' ? r.next : "(none)", expect);
	if (r.prev[0] != '\0' && strcmp(r.prev, r.current) != 0)
		return tw_error_set(err, TW_E_EXISTS, "key '%s' still keeps its previous version "
			"'%s' for its grace period: retire it first (`torwart gwa renew --retire`)",
			base, r.prev);
	/* Three atomic renames; each state between them is a working key set (the pointer
	 * "current" is the switch) and a rerun completes it. */
	if ((rc = ptr_write(k, base, "prev", r.current, err)) != TW_OK ||
	    (rc = ptr_write(k, base, "current", expect, err)) != TW_OK ||
	    (rc = ptr_remove(k, base, "next", err)) != TW_OK)
		return rc;
	snprintf(old, size, "%s", r.current);
	return TW_OK;
}

tw_rc signer_keys_rotate_retire(struct signer_keys *k, const char *base, const char *which,
	char *gone, size_t size, struct tw_error *err)
{
	struct signer_rotation r;
	const char *v;
	tw_rc rc;

	gone[0] = '\0';
	if ((rc = rotate_check(k, base, err)) != TW_OK ||
	    (rc = signer_keys_rotation(k, base, &r, err)) != TW_OK)
		return rc;
	v = strcmp(which, "next") == 0 ? r.next : r.prev;
	if (v[0] == '\0')
		return TW_OK;   /* nothing kept (or a rerun after the pointer went) */
	if (strcmp(v, r.current) == 0)
		return tw_error_set(err, TW_E_INTERNAL, "key '%s' of '%s' is the current one; not "
			"destroyed", v, base);
	if ((rc = k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(base) ?
	    token_destroy_version(k, v, err) : file_destroy_version(k, v, err)) != TW_OK ||
	    (rc = ptr_remove(k, base, which, err)) != TW_OK)
		return rc;
	snprintf(gone, size, "%s", v);
	return TW_OK;
}

tw_rc signer_keys_private(struct signer_keys *k, const char *label, EVP_PKEY **out,
	struct tw_error *err)
{
	struct file_key *fk;
	char phys[SIGNER_LABEL_MAX + 1];
	tw_rc rc;

	*out = NULL;
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(label)) {
		if ((rc = token_resolve(k, label, phys, sizeof(phys), err)) != TW_OK)
			return rc;
		return p11_private_key(k->tok, phys, out, err);
	}
	if ((rc = file_get_resolved(k, label, &fk, err)) != TW_OK)
		return rc;
	if (EVP_PKEY_up_ref(fk->priv) != 1)
		return tw_error_set(err, TW_E_INTERNAL, "cannot reference key '%s'", label);
	*out = fk->priv;
	return TW_OK;
}

tw_rc signer_keys_public(struct signer_keys *k, const char *label, EVP_PKEY **out,
	struct tw_error *err)
{
	struct file_key *fk;
	char phys[SIGNER_LABEL_MAX + 1];
	tw_rc rc;

	*out = NULL;
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(label)) {
		if ((rc = token_resolve(k, label, phys, sizeof(phys), err)) != TW_OK)
			return rc;
		return p11_public_key(k->tok, phys, out, err);
	}
	if ((rc = file_get_resolved(k, label, &fk, err)) != TW_OK)
		return rc;
	if (EVP_PKEY_up_ref(fk->pub) != 1)
		return tw_error_set(err, TW_E_INTERNAL, "cannot reference key '%s'", label);
	*out = fk->pub;
	return TW_OK;
}

tw_rc signer_keys_generate(struct signer_keys *k, const char *label, int nid,
	const unsigned char *oid, size_t oid_len, EVP_PKEY **pub, struct tw_error *err)
{
	*pub = NULL;
	if (!k->ceremony)
		return tw_error_set(err, TW_E_DENIED, "key generation is allowed only in a ceremony "
			"(`torwart init`)");
	if (k->backend == BACKEND_PKCS11 && !signer_keys_is_tls(label))
		return p11_generate_ec(k->tok, label, oid, oid_len, pub, err);
	return file_generate(store_of(k, label), label, nid, pub, err);
}

tw_rc signer_keys_import_tls(const struct tw_home *home, const char *label, EVP_PKEY *priv,
	struct tw_error *err)
{
	struct file_store fs;
	char *path = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pem_len = 0;
	tw_rc rc;

	memset(&fs, 0, sizeof(fs));
	if (!signer_keys_is_tls(label))
		return tw_error_set(err, TW_E_INVALID, "'%s' is not a TLS key label (gwa-tls, "
			"api-tls, console-tls)", label);
	if ((fs.dir = tw_home_path(home, "signer", "tls_key_dir", SIGNER_TLS_KEY_DIR)) == NULL ||
	    (path = key_path(&fs, label)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_mkdir_p(fs.dir, 0700, err)) != TW_OK)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, priv, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode key '%s'", label);
		goto out;
	}
	/* Exclusive: a key of the signer is never replaced (TW_E_EXISTS). */
	rc = tw_write_file(path, pem, (size_t)pem_len, 0600, true, err);
	if (rc == TW_E_EXISTS)
		rc = tw_error_set(err, rc, "the signer already holds a TLS key '%s' (%s); keys are "
			"never replaced", label, path);
out:
	if (pem != NULL)
		OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	free(path);
	free(fs.dir);
	return rc;
}
