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
 * Where the key lives (issue 9, docs/security.md "The data key"): only the signer reads
 * the key file (in a privsep home it is torwart-signer's, mode 0600). Every other process
 * seals and opens through the signer (ops SEAL/UNSEAL, one round trip per secret), which
 * checks per caller which kinds of secret (contexts, below) it may seal or open. A
 * process that can read the key file itself (the single user of a developer or demo home,
 * root for break-glass) uses it directly when no signer is running (embedded mode).
 *
 * Production note: the data key file is the demo form. In production the data key is
 * itself wrapped by a key in the HSM (unwrapped by the signer at start-up) so that a copy
 * of the disk alone opens nothing; only secretbox_open_key changes for that.
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
 * The data key of home as a client uses it: sealing and opening go to the home's running
 * signer ([signer] socket), connected on first use (so a service may start before the
 * signer) and reconnected once when the signer restarted. When no signer answers, the
 * key file is used directly if this process can read it (embedded mode), else the
 * operation fails with TW_E_UNAVAILABLE saying to start the signer. Thread-safe (one
 * connection, one request at a time). Caller frees with secretbox_free.
 */
tw_rc secretbox_open(const struct tw_home *home, struct secretbox **out, struct tw_error *err);
/*
 * Load the key file itself, creating HOME/secrets/data.key (32 random bytes, 0600) when
 * absent: the signer, `torwart init`, and the embedded fallback above. A key file of
 * another size or with group/other permissions is refused. Wiped by secretbox_free.
 */
tw_rc secretbox_open_key(const struct tw_home *home, struct secretbox **out,
	struct tw_error *err);
/* Same from an explicit path (tests, tools). */
tw_rc secretbox_open_file(const char *path, struct secretbox **out, struct tw_error *err);
/* From 32 raw key bytes (tests, the fuzz target). */
tw_rc secretbox_from_key(const unsigned char key[32], struct secretbox **out,
	struct tw_error *err);
void secretbox_free(struct secretbox *sb);

/*
 * Contexts: the kinds of sealed secret, each owning a namespace of associated data, so
 * the signer can tell from (context, aad) whose secret it is asked to open and refuse a
 * caller that has no business with it (a TOTP key is never opened for the wan):
 *   totp         "operator/NAME/totp"              TOTP keys of operators (api)
 *   profile      "profile/GATEWAY/PROFILE/PATH"    meter keys, HAN credentials (wan opens)
 *   principal    "torwart-api-command-principal"   TORWART_ACT_AS (api -> its commands)
 *   gateway-key  "torwart-api-spool-key"           gateway keys in the api's spool
 *   request      "torwart-api-request/HEX"         the api's idempotency records
 *   share        "torwart-api-share/cmd.X/in-N"    a custodian share in the api's spool
 *   other        anything else                     only the signer's own user and root
 * Since AES-GCM binds every value to its exact aad, a value opens only in its context.
 */
#define SECRETBOX_CONTEXT_MAX 16
/* The context whose namespace aad lies in ("other" when none). Static string. */
const char *secretbox_context_of(const char *aad);
/* True when context is known and aad lies in its namespace. */
int secretbox_context_matches(const char *context, const char *aad);

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
