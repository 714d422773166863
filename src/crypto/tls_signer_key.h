/*
 * tls_signer_key.h: TLS private keys that stay in the signer (docs/security.md, "TLS keys
 * in the signer").
 *
 * The wan, the api and the worker authenticate their TLS connections with ECDSA keys the
 * signer holds (labels SIGNER_KEY_GWA_TLS, SIGNER_KEY_API_TLS). A process gets an EVP_PKEY
 * that carries only the public key (from its certificate) and the key's label; OpenSSL
 * hands the handshake digest (ServerKeyExchange, CertificateVerify) to it and the digest
 * goes to the signer (SIGN_DATA, purpose tls-handshake), which signs it with the key and
 * answers the DER ECDSA-Sig-Value. No private key byte exists in the calling process.
 *
 * Connections: one per thread per process (the wan signs on several threads at once and
 * the signer protocol is lock-step), made on first use and made again after a signer
 * restart, so a process keeps running while the signer is away: handshakes fail with a
 * typed error in the log (TW_E_UNAVAILABLE) and succeed again once it is back.
 */
#ifndef TORWART_CRYPTO_TLS_SIGNER_KEY_H
#define TORWART_CRYPTO_TLS_SIGNER_KEY_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"

#define SIGNER_KEY_GWA_TLS "gwa-tls"   /* the GWA's SM-PKI TLS key (wan, ws, directory) */
#define SIGNER_KEY_API_TLS "api-tls"   /* the api's operator HTTPS key (operator CA) */
#define SIGNER_KEY_CONSOLE_TLS "console-tls" /* the web console's P-256 key (api) */

/*
 * The signer socket of this process's home, used by tls.c for a key that is not a file.
 * Services set it once at start (torwartd); the string is copied. NULL: none (then only
 * key files work).
 */
tw_rc tls_signer_key_set_socket(const char *path, struct tw_error *err);
/* The same from home's [signer] socket, unless a socket is set already (services at
 * start, command-line tools that open TLS connections as the GWA). */
tw_rc tls_signer_key_use_home(const struct tw_home *home, struct tw_error *err);
/* The socket set above, or NULL. Borrowed. */
const char *tls_signer_key_socket(void);

/*
 * A private-key handle for the signer's key label whose public key is cert's. When the
 * signer answers now, its public key for label must equal the certificate's (TW_E_TLS
 * otherwise; TW_E_NOT_FOUND when it has no such key). When it does not answer
 * (TW_E_UNAVAILABLE), a warning is logged and the handle is still made: the first
 * handshake after the signer came back works. *out is the caller's (EVP_PKEY_free).
 */
tw_rc tls_signer_key_new(const char *socket_path, const char *label, X509 *cert,
	EVP_PKEY **out, struct tw_error *err);

/*
 * Whether pkey is such a handle. A server whose handshakes run as OpenSSL ASYNC jobs
 * (tls_async.h) then waits for the signer without blocking its loop: the signature
 * request is sent, the job pauses with the signer connection's fd as its wait fd, and the
 * loop resumes it when the answer is there. Outside a job the signature is synchronous.
 */
bool tls_signer_key_is_remote(const EVP_PKEY *pkey);

/* Handshake signatures of this process: made, failed, and the total round-trip time. */
struct tls_signer_key_stats {
	uint64_t signed_ok, failed, round_trip_us;
};
void tls_signer_key_stats(struct tls_signer_key_stats *out);

#endif
