/*
 * signer_keys.h: where the signer's keys live (inside the signer process only).
 *
 * Two backends behind one interface, chosen by `[signer] backend`:
 *   pkcs11 (default)  the PKCS#11 token (p11.h): SoftHSM2 locally, an HSM in production.
 *   file              PEM private keys in `[signer] key_dir` named <label>.key, mode 0600.
 *                     FOR TESTS AND BENCHMARKS ONLY (DESIGN.md principle 1): the key
 *                     material sits in a file any process of the signer's user can read.
 * The signer's policy and audit checks do not depend on the backend; only key lookup and
 * (ceremony) key generation do.
 */
#ifndef TORWART_CRYPTO_SIGNER_KEYS_H
#define TORWART_CRYPTO_SIGNER_KEYS_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "base/error.h"
#include "base/home.h"

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

#endif
