/*
 * tls.h: OpenSSL contexts configured exactly per the TR-03116-3 SMGW WAN profile
 * (../shared/reference/tls): TLS 1.2 (1.3 only where OpenSSL offers the brainpool TLS 1.3
 * groups, i.e. >= 3.2), suites 0xC023/0xC02B/0xC02C, groups secp256r1, brainpoolP256r1,
 * brainpoolP384r1, secp384r1, brainpoolP512r1, ECDSA with SHA-256/384/512, mutual
 * authentication, session lifetime 48 h.
 */
#ifndef TORWART_CRYPTO_TLS_H
#define TORWART_CRYPTO_TLS_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "base/error.h"

#define TLS_WAN_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256"
#define TLS_WAN_GROUPS "brainpoolP256r1:P-256:brainpoolP384r1:P-384:brainpoolP512r1"
#define TLS_WAN_SIGALGS "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512"

struct tls_profile_config {
	const char *cert_file;      /* own certificate (PEM) */
	const char *key_file;       /* own private key (PEM); a legacy file, see signer_key */
	const char *chain_file;     /* intermediates sent with the own certificate; may be NULL */
	const char *trust_file;     /* PEM roots (+ intermediates) the peer must chain to */
	long session_lifetime_s;    /* 0 = TW_SESSION_LIFETIME_S */
	/* Label of the own key in the signer (tls_signer_key.h), used when key_file is NULL
	 * or does not exist; handshakes are then signed by the signer at
	 * tls_signer_key_socket(). May be NULL (a file key only: simulator, tests). */
	const char *signer_key;
};

/*
 * Both contexts: strict X.509 verification (X509_V_FLAG_X509_STRICT), depth 3, the chain
 * must end at a self-signed root in trust_file; the own key must match the certificate
 * (TW_E_TLS otherwise); missing cert/key/trust is TW_E_CONFIG. Sessions live
 * session_lifetime_s; the server keeps an id cache and issues tickets (see tls.c).
 *
 * Callers, per connection: call SSL_shutdown() before SSL_free() even when the peer has
 * gone. OpenSSL drops a session from the cache and marks it not resumable when a
 * connection is freed without close_notify, and resumption is what keeps brainpool
 * handshakes affordable. A client checks the server's name with SSL_set1_host()
 * (the context is shared; the name is per connection).
 */

/* Server context: requires and verifies a client certificate. Caller frees (SSL_CTX_free). */
tw_rc tls_server_ctx_new(const struct tls_profile_config *cfg, SSL_CTX **out,
	struct tw_error *err);
/* Client context (simulator): verifies the server against trust_file. Caller frees. */
tw_rc tls_client_ctx_new(const struct tls_profile_config *cfg, SSL_CTX **out,
	struct tw_error *err);
/*
 * Client context with the profile and trust_file only, no own identity: one context
 * shared by many clients (the simulator's gateways), each connection setting its own
 * certificate, key and chain (SSL_use_cert_and_key). Caller frees.
 */
tw_rc tls_client_trust_ctx_new(const char *trust_file, SSL_CTX **out, struct tw_error *err);
/* True when this OpenSSL offers the brainpool TLS 1.3 groups (RFC 8734). */
bool tls_brainpool_tls13_available(void);

#endif
