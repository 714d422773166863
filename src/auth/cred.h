/*
 * cred.h: the secrets of operator authentication: scrypt password records, TOTP
 * (RFC 6238 over RFC 4226, HMAC-SHA-1, 6 digits, 30 s steps) with base32 keys, and
 * session tokens.
 *
 * Session token text: "tw1_" + 32 hex digits (session id, public, the lookup key) + "_" +
 * 64 hex digits (32-byte random secret). The store keeps only SHA-256(secret); checks use
 * tw_ct_equal. Every buffer that held a secret is wiped with tw_wipe.
 */
#ifndef TORWART_AUTH_CRED_H
#define TORWART_AUTH_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define AUTH_PASSWORD_MIN        12
#define AUTH_PASSWORD_MAX        1024
#define AUTH_SCRYPT_LOG2N        15      /* N = 32768, r = 8, p = 1: 32 MiB, ~0.1 s */
#define AUTH_SCRYPT_RECORD_MAX   160

/*
 * Hash a password into "scrypt$LOG2N$R$P$SALTHEX$HASHHEX" (fresh 16-byte salt, 32-byte
 * key) in record (>= AUTH_SCRYPT_RECORD_MAX bytes). log2n 0 means AUTH_SCRYPT_LOG2N.
 * TW_E_INVALID for a password shorter than AUTH_PASSWORD_MIN or longer than the maximum.
 */
tw_rc auth_password_hash(const char *password, size_t len, unsigned log2n, char *record,
	size_t size, struct tw_error *err);
/*
 * TW_OK when password matches record; TW_E_DENIED when it does not; TW_E_INTEGRITY when
 * the stored record is malformed. Constant-time comparison of the derived keys.
 */
tw_rc auth_password_verify(const char *password, size_t len, const char *record,
	struct tw_error *err);

#define AUTH_TOTP_KEY_MAX   64       /* bytes of a decoded TOTP key */
#define AUTH_TOTP_STEP_S    30
#define AUTH_TOTP_DIGITS    6

/* RFC 4648 base32 (A-Z2-7, case-insensitive, '=' padding and blanks ignored). */
tw_rc auth_base32_decode(const char *text, unsigned char *out, size_t size, size_t *len,
	struct tw_error *err);
/* Unpadded upper-case base32 of in into out (>= 8*ceil(len/5)+1 bytes). */
void auth_base32_encode(const unsigned char *in, size_t len, char *out, size_t size);
/* A new random 20-byte TOTP key as base32 (33 bytes with NUL). */
tw_rc auth_totp_new_key(char out[33], struct tw_error *err);

/* HOTP value of counter with `digits` digits (6..8), RFC 4226 section 5.3. */
tw_rc auth_hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits,
	uint32_t *code, struct tw_error *err);
/*
 * Check a 6-digit code against the base32 key for the time steps now-1 .. now+1 (clock
 * skew). On success *step is the matched step (the caller refuses steps already used).
 * TW_E_DENIED on mismatch, TW_E_INVALID for a code that is not 6 digits.
 */
tw_rc auth_totp_verify(const char *key_b32, const char *code, int64_t now_s, int64_t *step,
	struct tw_error *err);

/*
 * TOTP keys at rest. The server must be able to compute codes, so the key cannot be
 * hashed like a password; it is sealed with the home's data key (AES-256-GCM secretbox,
 * src/crypto/secretbox.h) and bound to the operator by the associated data
 * "operator/<name>/totp", so a sealed key copied into another operator's row does not
 * open. Rows written before sealing existed hold the plain base32 key: they still
 * verify, and auth_login reseals them on their first successful use.
 */
struct secretbox;
#define AUTH_TOTP_AAD_PREFIX "operator/"

/* Seal key_b32 for operator name into out (size >= STORE_AUTH_SECRET_MAX + 1). */
tw_rc auth_totp_seal(const struct secretbox *sb, const char *name, const char *key_b32,
	char *out, size_t size, struct tw_error *err);
/*
 * auth_totp_verify against the stored form: a sealed key is opened with sb only for the
 * check and wiped at once; a plain (pre-sealing) key is used as it is and *plain_row is
 * set so that the caller can reseal it. TW_E_CONFIG for a sealed key without sb,
 * TW_E_INTEGRITY for a sealed key that does not open (altered, moved, other data key).
 */
tw_rc auth_totp_verify_stored(const struct secretbox *sb, const char *name,
	const char *stored, const char *code, int64_t now_s, int64_t *step, bool *plain_row,
	struct tw_error *err);

/*
 * One-time enrolment codes (docs/security.md, "Enrolment"): 20 random bytes as base32
 * (32 characters). The operators row keeps "enrol$<expiry ms>$<scrypt record of the
 * code>" in place of a second-factor secret until the operator enrols; the first
 * successful enrolment replaces it with the operator's own secret, so the code works
 * once.
 */
#define AUTH_ENROL_CODE_LEN   32
#define AUTH_ENROL_PREFIX     "enrol$"
#define AUTH_ENROL_TTL_MS     (7LL * 86400 * 1000)
#define AUTH_ENROL_DIR        "enrolment"

/* A new code (out: AUTH_ENROL_CODE_LEN + 1 bytes) and its stored form for expires_ms. */
tw_rc auth_enrol_code_new(int64_t expires_ms, char *out, char *record, size_t size,
	struct tw_error *err);
/* True when a stored secret is a pending enrolment. */
bool auth_enrol_pending(const char *stored);
/*
 * Check code against the stored form at now_ms: TW_OK, TW_E_DENIED for a wrong code,
 * TW_E_EXPIRED-like refusal as TW_E_DENIED with "expired" in the message,
 * TW_E_INTEGRITY for a malformed record.
 */
tw_rc auth_enrol_code_verify(const char *stored, const char *code, int64_t now_ms,
	struct tw_error *err);

#define AUTH_TOKEN_LEN 101   /* strlen of a token */

struct auth_token {
	char id[33];                   /* hex session id */
	unsigned char secret[32];      /* wipe after use */
};

/* A fresh random token; text gets the token string (AUTH_TOKEN_LEN + 1 bytes). */
tw_rc auth_token_new(struct auth_token *tok, char text[AUTH_TOKEN_LEN + 1],
	struct tw_error *err);
/* Parse token text of len bytes (exactly the format above; TW_E_INVALID otherwise). */
tw_rc auth_token_parse(const char *text, size_t len, struct auth_token *tok,
	struct tw_error *err);
/* SHA-256 of the secret: what the store keeps. */
tw_rc auth_token_hash(const struct auth_token *tok, unsigned char out[32],
	struct tw_error *err);

#endif
