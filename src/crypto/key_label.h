/*
 * key_label.h: versioned key labels of the signer (key rotation, docs/security.md "Key
 * rotation of the GWA's own keys").
 *
 * A key that replaces another one in the signer gets the label "<base>.k<16 hex>": the
 * first 8 bytes of the SHA-256 of its SubjectPublicKeyInfo, in lower-case hex. The name is
 * fixed by the key itself, so whoever holds the key's certificate can name the key
 * without asking anyone (the wan binds its TLS handle to the key of the certificate it
 * loaded: a rotation in the signer never changes the key under a running context). The
 * base label ("gwa-sig", "gwa-tls") names whichever version the signer's pointer makes
 * current (signer_keys.h). A key that was made before rotation existed keeps its base
 * label as its file or token name and is reachable under its versioned label too.
 */
#ifndef TORWART_CRYPTO_KEY_LABEL_H
#define TORWART_CRYPTO_KEY_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "base/error.h"

/* True for "<base>.k<16 lower-case hex>". */
bool signer_label_versioned(const char *label);
/* The base of label (label itself when it is not versioned), truncated to size. */
void signer_label_base(const char *label, char *out, size_t size);
/* "<base>.k<hex>" for the public key pub into out (size >= SIGNER_LABEL_MAX + 1). */
tw_rc signer_label_of_key(const char *base, EVP_PKEY *pub, char *out, size_t size,
	struct tw_error *err);

#endif
