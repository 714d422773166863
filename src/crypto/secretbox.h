/*
 * secretbox.h: encryption at rest for secrets inside stored documents (symmetric meter
 * keys and HAN credentials in profiles; TR-03109-6 4.3.2.7 and the note to T-PV:
 * "Kennung + Passwort im HAN-Kommunikationsprofil oder symmetrische Schlüssel im
 * Zählerprofil" must not be disclosed).
 *
 * AES-256-GCM (OpenSSL EVP AEAD) with a 32-byte data key kept in HOME/secrets/data.key
 * (mode 0600), created on first use. Each sealed value is
 *     "twbox1:" base64(nonce[12] || ciphertext || tag[16])
 * with a fresh random nonce, and is bound to its place by associated data (for example
 * "profile/GATEWAY/PROFILE/key.value"), so a sealed value copied into another profile or
 * gateway does not open.
 *
 * Production note: the data key file is the demo form. In production the data key is
 * itself wrapped by a key in the HSM (unwrapped by the signer at start-up) so that a copy
 * of the disk alone opens nothing; only secretbox_open changes for that.
 */
#ifndef TORWART_CRYPTO_SECRETBOX_H
#define TORWART_CRYPTO_SECRETBOX_H

#include <stddef.h>

#include "base/error.h"
#include "base/home.h"

#define SECRETBOX_KEY_FILE   "secrets/data.key"
#define SECRETBOX_PREFIX     "twbox1:"
/* Largest plaintext sealed (secrets are short: keys, passwords). */
#define SECRETBOX_PLAIN_MAX  1024

struct secretbox;

/*
 * Load the data key of home, creating HOME/secrets/data.key (32 random bytes, 0600)
 * when absent. A key file of another size or with group/other permissions is refused.
 * Caller frees with secretbox_free (which wipes the key).
 */
tw_rc secretbox_open(const struct tw_home *home, struct secretbox **out, struct tw_error *err);
/* Same from an explicit path (tests, tools). */
tw_rc secretbox_open_file(const char *path, struct secretbox **out, struct tw_error *err);
/* From 32 raw key bytes (tests, the fuzz target). */
tw_rc secretbox_from_key(const unsigned char key[32], struct secretbox **out,
	struct tw_error *err);
void secretbox_free(struct secretbox *sb);

/* True when s looks like a sealed value (prefix check only). */
int secretbox_is_sealed(const char *s);

/* Seal plaintext (len <= SECRETBOX_PLAIN_MAX) bound to aad; *out is a NUL-terminated
 * string the caller frees. */
tw_rc secretbox_seal(const struct secretbox *sb, const char *aad, const void *plain,
	size_t len, char **out, struct tw_error *err);
/*
 * Open a sealed value bound to aad. *out (NUL-terminated, *len bytes) is the caller's;
 * wipe it with tw_wipe before free. TW_E_CRYPTO when the value was altered, moved to
 * another place or sealed with another key.
 */
tw_rc secretbox_unseal(const struct secretbox *sb, const char *aad, const char *sealed,
	char **out, size_t *len, struct tw_error *err);

#endif
