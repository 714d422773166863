/*
 * keys.h: software keys and PEM/DER files. Software private keys appear only where the
 * design allows them: gateway keys (the device's, written as a manufacturer would), the
 * wan TLS key (documented exception), and tests.
 */
#ifndef TORWART_CRYPTO_KEYS_H
#define TORWART_CRYPTO_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"

/* New EC key on the named curve (NID_brainpoolP256r1, ...). Caller frees. */
tw_rc keys_generate_ec(int curve_nid, EVP_PKEY **out, struct tw_error *err);
/* Write a private key as PKCS#8 PEM, mode 0600, refusing to overwrite. */
tw_rc keys_write_private_pem(const char *path, EVP_PKEY *key, struct tw_error *err);
tw_rc keys_read_private_pem(const char *path, EVP_PKEY **out, struct tw_error *err);
/* Write certificates as concatenated PEM (mode 0644, replaced atomically). */
tw_rc keys_write_certs_pem(const char *path, X509 *const *certs, size_t n,
	struct tw_error *err);
/* Read the first certificate of a PEM file. Caller frees. */
tw_rc keys_read_cert_pem(const char *path, X509 **out, struct tw_error *err);
/* SHA-256 over the DER, lower-case hex (65 bytes with NUL). */
tw_rc keys_cert_fingerprint(X509 *cert, char out[65], struct tw_error *err);
/* Curve NID of an EC key, or NID_undef. */
int keys_ec_curve_nid(const EVP_PKEY *key);

#endif
