/*
 * shares.h: k-of-n custodian shares of the token PINs (TR-03109-6 M-4.5.18).
 *
 * A thin wrapper over libgfshare (Shamir's secret sharing in GF(2^8); we do none of the
 * field arithmetic ourselves) that adds what libgfshare leaves to its caller:
 *   - a share set id, k, n and the share's index travel with every share, so shares of
 *     different ceremonies or a repeated share are refused before combining;
 *   - a verifier (SHA-256 over a domain string, a random salt, the set id, k, n and the
 *     secret) is kept with the home, so a combination of wrong or tampered shares is
 *     detected (TW_E_INTEGRITY) instead of yielding a wrong PIN; libgfshare itself
 *     happily interpolates any bytes, and fewer than k shares give garbage, not an error;
 *   - a line-based text encoding of one share (a file handed to one custodian) and of
 *     the verifier, with a checksum line that catches typing and transfer errors early.
 *     The checksum is no protection against deliberate tampering (anyone can recompute
 *     it); the verifier is.
 * Secrets and shares are wiped (OPENSSL_cleanse) wherever this module held them.
 */
#ifndef TORWART_CRYPTO_SHARES_H
#define TORWART_CRYPTO_SHARES_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "base/error.h"

#define SHARES_SECRET_MAX 64        /* bytes of secret (the signer uses 32: two PINs) */
#define SHARES_N_MAX 16             /* custodians per set */
#define SHARES_SET_ID_LEN 8
#define SHARES_SALT_LEN 16
#define SHARES_VERIFIER_LEN 32
#define SHARES_TEXT_MAX 1024        /* an encoded share or verifier is well below this */

/* One custodian's share. Holds secret material: share_wipe() when done. */
struct share {
	unsigned char set_id[SHARES_SET_ID_LEN];
	unsigned k, n;
	unsigned index;                     /* 1..n: the x coordinate */
	size_t len;                         /* bytes of y (= the secret's length) */
	unsigned char y[SHARES_SECRET_MAX];
};

/* What the home keeps about a set: no secret, only what checks a combination. */
struct share_set {
	unsigned char set_id[SHARES_SET_ID_LEN];
	unsigned k, n;
	size_t len;
	unsigned char salt[SHARES_SALT_LEN];
	unsigned char verifier[SHARES_VERIFIER_LEN];
};

/*
 * Split secret (len 1..SHARES_SECRET_MAX bytes) into n shares (2 <= k <= n <= SHARES_N_MAX)
 * of which any k recombine it. shares must hold n entries; set receives the public record.
 * On failure nothing is left in shares.
 */
tw_rc shares_split(const unsigned char *secret, size_t len, unsigned k, unsigned n,
	struct share_set *set, struct share *shares, struct tw_error *err);

/*
 * Recombine count shares of set into secret (set->len bytes). Refused before any
 * arithmetic: fewer than k shares (TW_E_INVALID), a share of another set or with other
 * k/n/length (TW_E_INVALID), an index out of range or given twice (TW_E_INVALID).
 * Shares that combine to something else than the secret of the set: TW_E_INTEGRITY.
 * Uses exactly the first k shares. secret is wiped on every failure.
 */
tw_rc shares_combine(const struct share_set *set, const struct share *shares, size_t count,
	unsigned char *secret, struct tw_error *err);

/* Does the share belong to set (id, k, n, length, index in range)? TW_E_INVALID if not. */
tw_rc shares_check_member(const struct share_set *set, const struct share *s,
	struct tw_error *err);

void share_wipe(struct share *s);

/*
 * Text of one share file:
 *   # comment lines (free text; the ceremony says who the share is for)
 *   torwart-custodian-share 1
 *   set HEX16
 *   k K
 *   n N
 *   index I
 *   share HEX
 *   check HEX16      (first 8 bytes of SHA-256 over the lines above, without comments)
 * out (size bytes) receives a NUL-terminated text; comment may be NULL (one line, no
 * newline). The caller wipes out after use.
 */
tw_rc share_encode(const struct share *s, const char *comment, char *out, size_t size,
	struct tw_error *err);
/*
 * Parse a share file (at most SHARES_TEXT_MAX bytes of outside input; strict: every
 * line once, in order, lower-case hex, decimal without leading zeros). *out is wiped on
 * failure. Never puts share bytes into the error message.
 */
tw_rc share_parse(const unsigned char *text, size_t len, struct share *out,
	struct tw_error *err);

/* The verifier file: "torwart-custodian-set 1", set, k, n, len, salt, verifier lines. */
tw_rc share_set_encode(const struct share_set *set, char *out, size_t size,
	struct tw_error *err);
tw_rc share_set_parse(const unsigned char *text, size_t len, struct share_set *out,
	struct tw_error *err);

/*
 * Shares sealed to their custodian (issue 9): the ceremony encrypts each share file to
 * one custodian's own brainpoolP256r1 key pair (`torwart ca custodian-keygen`, made on
 * the custodian's machine; not the operator TLS key, whose key usage forbids key
 * agreement), so the file handed out is useless to anyone else. ECDH with an ephemeral
 * key, HKDF-SHA256, AES-256-GCM; the header lines are the associated data:
 *   # comment lines
 *   torwart-sealed-share 1
 *   to HEX16        first 8 bytes of SHA-256 over the custodian's SubjectPublicKeyInfo
 *   epk BASE64      the ephemeral public key (SubjectPublicKeyInfo DER)
 *   box BASE64      nonce (12) || ciphertext of the share file's text || tag (16)
 * docs/key-ceremony.md has the format and the procedure.
 */
#define SHARES_SEALED_MAX 4096
bool share_is_sealed(const unsigned char *text, size_t len);
/* A new custodian key pair (brainpoolP256r1); *out is the caller's. */
tw_rc share_key_generate(EVP_PKEY **out, struct tw_error *err);
/* A PEM custodian key: the public one (ceremony) or the private one (the custodian). */
tw_rc share_key_load(const char *path, bool private_key, EVP_PKEY **out,
	struct tw_error *err);
/* The id of a custodian key in sealed files (first 8 bytes of SHA-256 over its SPKI). */
tw_rc share_key_id(EVP_PKEY *key, char hex[17], struct tw_error *err);
/* Seal a share file's text to recipient; *out (caller frees) is the sealed file's text. */
tw_rc share_seal(EVP_PKEY *recipient, const char *share_text, const char *comment,
	char **out, struct tw_error *err);
/*
 * Open a sealed share (outside input, at most SHARES_SEALED_MAX bytes, strict) with the
 * custodian's private key. *text (NUL-terminated, *text_len bytes) is the share file's
 * text: the caller wipes and frees it. TW_E_DENIED: sealed to another key;
 * TW_E_INTEGRITY: altered.
 */
tw_rc share_unseal(EVP_PKEY *key, const unsigned char *sealed, size_t len, char **text,
	size_t *text_len, struct tw_error *err);

#endif
