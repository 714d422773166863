/*
 * signer_keys.h: where the signer's keys live (inside the signer process only).
 *
 * Two backends behind one interface, chosen by `[signer] backend`:
 *   pkcs11 (default)  the PKCS#11 token (p11.h): SoftHSM2 locally, an HSM in production.
 *   file              PEM private keys in `[signer] key_dir` named <label>.key, mode 0600.
 *                     FOR TESTS AND BENCHMARKS ONLY (DESIGN.md principle 1): the key
 *                     material sits in a file any process of the signer's user can read.
 * The TLS keys (gwa-tls, api-tls) are PEM files of `[signer] tls_key_dir` with either
 * backend, read by the signer alone (signer_keys.c says why).
 * The signer's policy and audit checks do not depend on the backend; only key lookup and
 * (ceremony) key generation do.
 */
#ifndef TORWART_SIGNER_SIGNER_KEYS_H
#define TORWART_SIGNER_SIGNER_KEYS_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer_proto.h"

struct signer_keys;

/* Open the configured backend; *out is the caller's (signer_keys_close). */
tw_rc signer_keys_open(const struct tw_home *home, bool ceremony, struct signer_keys **out,
	struct tw_error *err);
void signer_keys_close(struct signer_keys *k);   /* NULL is fine */

/* "pkcs11" or "file" (static storage). */
const char *signer_keys_backend(const struct signer_keys *k);

/* New reference to the private key labelled label. TW_E_NOT_FOUND if there is none. */
tw_rc signer_keys_private(struct signer_keys *k, const char *label, EVP_PKEY **out,
	struct tw_error *err);
/* Public key (public components only) of the key labelled label. Caller frees. */
tw_rc signer_keys_public(struct signer_keys *k, const char *label, EVP_PKEY **out,
	struct tw_error *err);
/*
 * Ceremony only: generate an EC key on the named curve (DER OID oid, oid_len bytes; nid is
 * its NID, already checked by the caller). TW_E_EXISTS if label is taken. *pub: caller's.
 */
tw_rc signer_keys_generate(struct signer_keys *k, const char *label, int nid,
	const unsigned char *oid, size_t oid_len, EVP_PKEY **pub, struct tw_error *err);

/* Where the signer keeps the TLS keys (signer_keys.c says why not in the token). */
#define SIGNER_TLS_KEY_DIR "secrets/tls-keys"
/* True for the labels of TLS keys (gwa-tls, api-tls): usable without activation. */
bool signer_keys_is_tls(const char *label);
/*
 * `torwart ca tls-key-import`: write the EC private key priv (from a legacy key file)
 * as the signer's TLS key label ([signer] tls_key_dir, mode 0600, never replacing one:
 * TW_E_EXISTS). Run as the signer's user; needs no token (works in custodian mode).
 */
tw_rc signer_keys_import_tls(const struct tw_home *home, const char *label, EVP_PKEY *priv,
	struct tw_error *err);

/*
 * Key rotation (issue 12: the GWA's own TLS/SIG/ENC keys renewed; docs/security.md "Key
 * rotation of the GWA's own keys"). A base label (gwa-tls, gwa-sig, ...) names the
 * version its pointer makes current; versions are named by their public key
 * (crypto/key_label.h: "<base>.k<16 hex>"). Three pointer files per base label, each
 * holding one versioned label and replaced by rename, in the directory of the base's key
 * files ([signer] tls_key_dir for the TLS keys and the token's keys, [signer] key_dir for
 * file keys):
 *   <base>.next     a key generated for rotation, not yet in use (prepare)
 *   <base>.current  the version the base label signs with (absent: the base label's own
 *                   pre-rotation key)
 *   <base>.prev     the version replaced by the last switch, kept for the old
 *                   certificate's grace period (retire destroys it)
 * Every state between two renames is a consistent key set and a rerun of the same step
 * completes it. A versioned label always names its own key while it exists, whatever
 * the pointers say (a running wan keeps the key of the certificate it loaded).
 * Token keys (pkcs11 backend, not TLS): a rotation key is generated in the token under
 * "<base>.t<random hex>" and the file "<version>.p11" (in the TLS key directory) names
 * it; retirement destroys the token objects. Needs the active token (TW_E_UNAVAILABLE).
 */
struct signer_rotation {
	char current[SIGNER_LABEL_MAX + 1];   /* never empty */
	char next[SIGNER_LABEL_MAX + 1];      /* "" when none is prepared */
	char prev[SIGNER_LABEL_MAX + 1];      /* "" when none is kept */
};
tw_rc signer_keys_rotation(struct signer_keys *k, const char *base,
	struct signer_rotation *out, struct tw_error *err);
/* A new key on the current key's curve, or the one prepared before (idempotent); its
 * versioned label into next. */
tw_rc signer_keys_rotate_prepare(struct signer_keys *k, const char *base, char *next,
	size_t size, struct tw_error *err);
/* Make expect (the prepared key) current; old gets the replaced version. Refused while a
 * previous version is still kept (TW_E_EXISTS). Done already: TW_OK. */
tw_rc signer_keys_rotate_commit(struct signer_keys *k, const char *base, const char *expect,
	char *old, size_t size, struct tw_error *err);
/* Destroy the kept version which ("prev": after the grace period; "next": a prepared key
 * that will not be used) and its pointer; gone gets its label ("" if none was kept). */
tw_rc signer_keys_rotate_retire(struct signer_keys *k, const char *base, const char *which,
	char *gone, size_t size, struct tw_error *err);

/*
 * Key activation (TR-03109-6 M-4.5.18). A pkcs11 home is in one of two modes:
 *   demo         the token PINs are in the pin file (`torwart init`); the signer logs in
 *                at start. Marked DEMO in the file and in the signer's start-up warning.
 *   custodians   `[signer] custodians` (default secrets/custodians) holds a share set
 *                record (shares.h; no secret). The token PINs exist nowhere at rest: the
 *                signer starts logged out and logs in when k distinct custodians have
 *                entered their shares (signer_keys_add_share), until deactivated or
 *                restarted. A pin file next to the set record is refused (TW_E_CONFIG).
 * The file backend (tests only) is always active.
 */
struct signer_activation {
	bool custodians;        /* production mode */
	bool active;            /* private keys usable */
	unsigned k, n;
	unsigned entered;       /* shares held since the last activation attempt */
};
void signer_keys_activation(const struct signer_keys *k, struct signer_activation *out);
bool signer_keys_active(const struct signer_keys *k);

/*
 * One custodian share (its file's text) from actor. Refused: not in custodian mode,
 * already active, a share of another set, a share index or an actor that already gave
 * one (k shares must come from k people). When this is the k-th share the signer
 * combines them, checks the set's verifier and logs in; *activated says so. A wrong
 * combination is TW_E_INTEGRITY and discards every held share (the custodians start
 * over; the CA stays inactive). Shares are held only in this process's memory and wiped
 * (OPENSSL_cleanse) after the attempt. *index gets the share's index.
 */
tw_rc signer_keys_add_share(struct signer_keys *k, const char *actor,
	const unsigned char *text, size_t len, unsigned *index, bool *activated,
	struct tw_error *err);
/* Log out and wipe held shares (custodian mode; no-op otherwise). */
void signer_keys_deactivate(struct signer_keys *k);

/*
 * The key ceremony of custodian activation (`torwart ca custodians split`), run on the
 * signer's host with the signer stopped: new random token PINs replace those of the pin
 * file (C_SetPIN), are split k of n, share i is written to out_dir/share-<i>-of-<n>.txt
 * (mode 0600, exclusive; one file per custodian), the set record to the home, and the
 * pin file is wiped and removed. The PINs are never written anywhere else.
 */
tw_rc signer_custodians_split(const struct tw_home *home, unsigned k, unsigned n,
	const char *out_dir, const char *const *keys, struct tw_error *err);
/* keys: NULL (plain share files, the custodians guard them) or n paths of the custodians'
 * public keys (`torwart ca custodian-keygen`): share i is then sealed to keys[i-1]
 * (shares.h, share_seal) and written as share-<i>-of-<n>.sealed; no plain share is
 * written anywhere. All keys are loaded and checked before the token is touched. */

/*
 * Key backup ceremony (docs/key-ceremony.md). The CA keys are CKA_EXTRACTABLE false, so
 * SoftHSM2 refuses C_WrapKey on them (by design: not even a wrapped copy leaves the
 * token through PKCS#11). The redundant copy is SoftHSM2's own: the token directory,
 * whose private objects SoftHSM2 keeps encrypted under a key protected by the token's
 * user/SO PIN, i.e. by the custodians' shares. signer_token_backup copies HOME/tokens to
 * out_dir/tokens (out_dir must not exist; created 0700), writes out_dir/softhsm2.conf
 * (so the copy is a loadable backup token), a copy of the custodian set record when
 * there is one, and out_dir/MANIFEST (SHA-256 of every file). Run once per backup medium
 * (n times for n copies). signer_token_restore checks the manifest and copies the token
 * back into a home whose token directory is empty or missing (never over a live token).
 */
tw_rc signer_token_backup(const struct tw_home *home, const char *out_dir,
	size_t *files, struct tw_error *err);
tw_rc signer_token_restore(const struct tw_home *home, const char *from_dir,
	size_t *files, struct tw_error *err);

#endif
