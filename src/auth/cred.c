/*
 * cred.c: scrypt password records, TOTP (RFC 6238) and session tokens (see cred.h).
 * OpenSSL 3.0 non-deprecated APIs only: EVP_PBE_scrypt, EVP_MAC (HMAC), EVP_Digest.
 */
#include "auth/cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/util.h"
#include "crypto/secretbox.h"

#define SCRYPT_R 8
#define SCRYPT_P 1
#define SCRYPT_SALT 16
#define SCRYPT_KEY 32

static tw_rc scrypt_derive(const char *pw, size_t len, const unsigned char *salt,
	unsigned log2n, unsigned r, unsigned p, unsigned char key[SCRYPT_KEY],
	struct tw_error *err)
{
	uint64_t n = (uint64_t)1 << log2n;
	/* scrypt needs 128 * r * N bytes (plus p * 128 * r); allow twice that. */
	uint64_t maxmem = 2 * 128 * (uint64_t)r * n + 1024 * 1024;

	if (EVP_PBE_scrypt(pw, len, salt, SCRYPT_SALT, n, r, p, maxmem, key, SCRYPT_KEY) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "scrypt failed");
	return TW_OK;
}

tw_rc auth_password_hash(const char *password, size_t len, unsigned log2n, char *record,
	size_t size, struct tw_error *err)
{
	unsigned char salt[SCRYPT_SALT], key[SCRYPT_KEY];
	char salt_hex[2 * SCRYPT_SALT + 1], key_hex[2 * SCRYPT_KEY + 1];
	tw_rc rc;

	if (size > 0)
		record[0] = '\0';
	if (log2n == 0)
		log2n = AUTH_SCRYPT_LOG2N;
	if (password == NULL || len < AUTH_PASSWORD_MIN)
		return tw_error_set(err, TW_E_INVALID, "the password must have at least %d "
			"characters", AUTH_PASSWORD_MIN);
	if (len > AUTH_PASSWORD_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the password is longer than %d bytes",
			AUTH_PASSWORD_MAX);
	if (log2n < 10 || log2n > 20 || size < AUTH_SCRYPT_RECORD_MAX)
		return tw_error_set(err, TW_E_INTERNAL, "auth_password_hash: bad parameters");
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for a salt");
	if ((rc = scrypt_derive(password, len, salt, log2n, SCRYPT_R, SCRYPT_P, key, err)) !=
	    TW_OK)
		goto out;
	tw_hex_encode(salt, sizeof(salt), salt_hex);
	tw_hex_encode(key, sizeof(key), key_hex);
	snprintf(record, size, "scrypt$%u$%u$%u$%s$%s", log2n, SCRYPT_R, SCRYPT_P, salt_hex,
		key_hex);
out:
	tw_wipe(key, sizeof(key));
	tw_wipe(key_hex, sizeof(key_hex));
	return rc;
}

/* Parse a small decimal field terminated by '$'; advances *p past the '$'. */
static bool rec_uint(const char **p, unsigned max, unsigned *out)
{
	unsigned v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return false;
		s++;
	}
	if (*s != '$')
		return false;
	*p = s + 1;
	*out = v;
	return true;
}

tw_rc auth_password_verify(const char *password, size_t len, const char *record,
	struct tw_error *err)
{
	unsigned char salt[SCRYPT_SALT], want[SCRYPT_KEY], got[SCRYPT_KEY];
	unsigned log2n, r, p;
	const char *s = record;
	tw_rc rc;

	if (record == NULL || strncmp(s, "scrypt$", 7) != 0)
		return tw_error_set(err, TW_E_INTEGRITY, "stored password record is not scrypt");
	s += 7;
	if (!rec_uint(&s, 20, &log2n) || log2n < 10 || !rec_uint(&s, 32, &r) || r == 0 ||
	    !rec_uint(&s, 16, &p) || p == 0 || strlen(s) != 2 * SCRYPT_SALT + 1 + 2 * SCRYPT_KEY ||
	    s[2 * SCRYPT_SALT] != '$')
		return tw_error_set(err, TW_E_INTEGRITY, "stored password record is malformed");
	{
		char salt_hex[2 * SCRYPT_SALT + 1];

		memcpy(salt_hex, s, 2 * SCRYPT_SALT);
		salt_hex[2 * SCRYPT_SALT] = '\0';
		if (tw_hex_decode(salt_hex, salt, sizeof(salt), err) != TW_OK ||
		    tw_hex_decode(s + 2 * SCRYPT_SALT + 1, want, sizeof(want), err) != TW_OK)
			return tw_error_set(err, TW_E_INTEGRITY, "stored password record is "
				"malformed");
	}
	if (password == NULL || len > AUTH_PASSWORD_MAX) {
		rc = tw_error_set(err, TW_E_DENIED, "wrong password");
		goto out;
	}
	if ((rc = scrypt_derive(password, len, salt, log2n, r, p, got, err)) != TW_OK)
		goto out;
	rc = tw_ct_equal(got, want, sizeof(got)) ? TW_OK :
		tw_error_set(err, TW_E_DENIED, "wrong password");
out:
	tw_wipe(got, sizeof(got));
	tw_wipe(want, sizeof(want));
	return rc;
}

/* ---- base32 and TOTP ---- */

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

tw_rc auth_base32_decode(const char *text, unsigned char *out, size_t size, size_t *len,
	struct tw_error *err)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	*len = 0;
	for (const char *p = text; *p != '\0'; p++) {
		char c = *p;
		int v;

		if (c == '=' || c == ' ' || c == '-')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= '2' && c <= '7')
			v = c - '2' + 26;
		else
			return tw_error_set(err, TW_E_INVALID, "the TOTP key is not base32");
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			if (n >= size)
				return tw_error_set(err, TW_E_TOO_LARGE, "the TOTP key is longer than "
					"%zu bytes", size);
			out[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	if (n == 0)
		return tw_error_set(err, TW_E_INVALID, "the TOTP key is empty");
	*len = n;
	return TW_OK;
}

void auth_base32_encode(const unsigned char *in, size_t len, char *out, size_t size)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5 && n + 1 < size) {
			out[n++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && n + 1 < size)
		out[n++] = b32_alphabet[(acc << (5 - bits)) & 31];
	if (size > 0)
		out[n < size ? n : size - 1] = '\0';
}

tw_rc auth_totp_new_key(char out[33], struct tw_error *err)
{
	unsigned char key[20];

	out[0] = '\0';
	if (RAND_bytes(key, sizeof(key)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for a TOTP key");
	auth_base32_encode(key, sizeof(key), out, 33);
	tw_wipe(key, sizeof(key));
	return TW_OK;
}

tw_rc auth_hotp(const unsigned char *key, size_t key_len, uint64_t counter, int digits,
	uint32_t *code, struct tw_error *err)
{
	static const uint32_t pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
		100000000 };
	unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	EVP_MAC *hmac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	char digest[] = "SHA1";
	unsigned off;
	uint32_t bin;
	tw_rc rc = TW_OK;

	*code = 0;
	if (digits < 6 || digits > 8 || key_len == 0)
		return tw_error_set(err, TW_E_INVALID, "HOTP needs 6..8 digits and a key");
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(hmac)) == NULL ||
	    EVP_MAC_init(ctx, key, key_len, params) != 1 ||
	    EVP_MAC_update(ctx, msg, sizeof(msg)) != 1 ||
	    EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) != 1 || mac_len != 20) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "HMAC-SHA-1 for TOTP failed");
		goto out;
	}
	/* RFC 4226 5.3: dynamic truncation. */
	off = mac[19] & 0x0f;
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
		((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	*code = bin % pow10[digits];
out:
	tw_wipe(mac, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return rc;
}

tw_rc auth_totp_verify(const char *key_b32, const char *code, int64_t now_s, int64_t *step,
	struct tw_error *err)
{
	unsigned char key[AUTH_TOTP_KEY_MAX];
	size_t key_len = 0;
	uint32_t want = 0;
	int64_t base = now_s / AUTH_TOTP_STEP_S;
	bool matched = false;
	tw_rc rc;

	*step = 0;
	if (code == NULL || strlen(code) != AUTH_TOTP_DIGITS ||
	    strspn(code, "0123456789") != AUTH_TOTP_DIGITS)
		return tw_error_set(err, TW_E_INVALID, "a TOTP code is %d digits",
			AUTH_TOTP_DIGITS);
	for (int i = 0; i < AUTH_TOTP_DIGITS; i++)
		want = want * 10 + (uint32_t)(code[i] - '0');
	if ((rc = auth_base32_decode(key_b32, key, sizeof(key), &key_len, err)) != TW_OK) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "the stored TOTP key is not valid base32");
		goto out;
	}
	/* Check all three steps, always, so the time taken does not tell which matched. */
	for (int64_t d = -1; d <= 1; d++) {
		uint32_t got = 0;

		if (base + d <= 0)
			continue;
		if ((rc = auth_hotp(key, key_len, (uint64_t)(base + d), AUTH_TOTP_DIGITS, &got,
		     err)) != TW_OK)
			goto out;
		if (tw_ct_equal(&got, &want, sizeof(got)) && !matched) {
			matched = true;
			*step = base + d;
		}
	}
	rc = matched ? TW_OK : tw_error_set(err, TW_E_DENIED, "wrong TOTP code");
out:
	tw_wipe(key, sizeof(key));
	return rc;
}

/* ---- TOTP keys at rest ---- */

/* The associated data that binds a sealed key to its operator. */
static tw_rc totp_aad(const char *name, char *aad, size_t size, struct tw_error *err)
{
	int n;

	if (name == NULL || name[0] == '\0')
		return tw_error_set(err, TW_E_INTERNAL, "a TOTP key is sealed for a named operator");
	n = snprintf(aad, size, AUTH_TOTP_AAD_PREFIX "%s/totp", name);
	if (n < 0 || (size_t)n >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "operator name too long for a sealed key");
	return TW_OK;
}

tw_rc auth_totp_seal(const struct secretbox *sb, const char *name, const char *key_b32,
	char *out, size_t size, struct tw_error *err)
{
	char aad[128], *sealed = NULL;
	tw_rc rc;

	if (size > 0)
		out[0] = '\0';
	if (sb == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "no data key to seal the TOTP key with "
			"(secrets/data.key of the home)");
		goto out;
	}
	if ((rc = totp_aad(name, aad, sizeof(aad), err)) != TW_OK ||
	    (rc = secretbox_seal(sb, aad, key_b32, strlen(key_b32), &sealed, err)) != TW_OK)
		goto out;
	if (strlen(sealed) >= size) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "the sealed TOTP key does not fit the store");
		goto out;
	}
	memcpy(out, sealed, strlen(sealed) + 1);
out:
	free(sealed);   /* ciphertext only: no wipe needed */
	return rc;
}

tw_rc auth_totp_verify_stored(const struct secretbox *sb, const char *name,
	const char *stored, const char *code, int64_t now_s, int64_t *step, bool *plain_row,
	struct tw_error *err)
{
	char aad[128], *key = NULL;
	size_t len = 0;
	struct tw_error oerr;
	tw_rc rc;

	*step = 0;
	*plain_row = false;
	if (stored == NULL || !secretbox_is_sealed(stored)) {
		/* Written before TOTP keys were sealed: still valid, resealed by the caller. */
		*plain_row = true;
		return auth_totp_verify(stored != NULL ? stored : "", code, now_s, step, err);
	}
	if (sb == NULL)
		return tw_error_set(err, TW_E_CONFIG, "the TOTP key is sealed but the data key "
			"(secrets/data.key) is not loaded");
	if ((rc = totp_aad(name, aad, sizeof(aad), err)) != TW_OK)
		return rc;
	if (secretbox_unseal(sb, aad, stored, &key, &len, &oerr) != TW_OK)
		return tw_error_set(err, TW_E_INTEGRITY, "the stored TOTP key of %s does not open "
			"(altered, copied from another operator, or another data key)", name);
	rc = auth_totp_verify(key, code, now_s, step, err);
	tw_wipe(key, len);
	free(key);
	return rc;
}

/* ---- session tokens ---- */

tw_rc auth_token_new(struct auth_token *tok, char text[AUTH_TOKEN_LEN + 1],
	struct tw_error *err)
{
	unsigned char id[16];
	char secret_hex[65];

	memset(tok, 0, sizeof(*tok));
	text[0] = '\0';
	if (RAND_bytes(id, sizeof(id)) != 1 || RAND_bytes(tok->secret, sizeof(tok->secret)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for a session");
	tw_hex_encode(id, sizeof(id), tok->id);
	tw_hex_encode(tok->secret, sizeof(tok->secret), secret_hex);
	snprintf(text, AUTH_TOKEN_LEN + 1, "tw1_%s_%s", tok->id, secret_hex);
	tw_wipe(secret_hex, sizeof(secret_hex));
	return TW_OK;
}

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

tw_rc auth_token_parse(const char *text, size_t len, struct auth_token *tok,
	struct tw_error *err)
{
	char secret_hex[65];
	tw_rc rc;

	memset(tok, 0, sizeof(*tok));
	if (text == NULL || len != AUTH_TOKEN_LEN || memcmp(text, "tw1_", 4) != 0 ||
	    text[36] != '_' || !lower_hex(text + 4, 32) || !lower_hex(text + 37, 64))
		return tw_error_set(err, TW_E_INVALID, "the session token is malformed; log in "
			"again with torwart login");
	memcpy(tok->id, text + 4, 32);
	tok->id[32] = '\0';
	memcpy(secret_hex, text + 37, 64);
	secret_hex[64] = '\0';
	rc = tw_hex_decode(secret_hex, tok->secret, sizeof(tok->secret), err);
	tw_wipe(secret_hex, sizeof(secret_hex));
	if (rc != TW_OK)
		memset(tok, 0, sizeof(*tok));
	return rc;
}

tw_rc auth_token_hash(const struct auth_token *tok, unsigned char out[32],
	struct tw_error *err)
{
	unsigned int n = 0;

	if (EVP_Digest(tok->secret, sizeof(tok->secret), out, &n, EVP_sha256(), NULL) != 1 ||
	    n != 32)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
	return TW_OK;
}

/* ---- one-time enrolment codes ---- */

tw_rc auth_enrol_code_new(int64_t expires_ms, char *out, char *record, size_t size,
	struct tw_error *err)
{
	unsigned char raw[20];
	char hashed[AUTH_SCRYPT_RECORD_MAX];
	int n;
	tw_rc rc;

	out[0] = '\0';
	record[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no random bytes for an enrolment "
			"code");
	auth_base32_encode(raw, sizeof(raw), out, AUTH_ENROL_CODE_LEN + 1);
	tw_wipe(raw, sizeof(raw));
	/* scrypt like a password: a copy of the database does not yield a usable code. */
	if ((rc = auth_password_hash(out, strlen(out), 0, hashed, sizeof(hashed), err)) != TW_OK)
		goto fail;
	n = snprintf(record, size, "%s%lld$%s", AUTH_ENROL_PREFIX, (long long)expires_ms,
		hashed);
	if (n < 0 || (size_t)n >= size) {
		rc = tw_error_set(err, TW_E_INTERNAL, "enrolment record does not fit");
		goto fail;
	}
	return TW_OK;
fail:
	tw_wipe(out, AUTH_ENROL_CODE_LEN + 1);
	record[0] = '\0';
	return rc;
}

bool auth_enrol_pending(const char *stored)
{
	return stored != NULL && strncmp(stored, AUTH_ENROL_PREFIX,
		strlen(AUTH_ENROL_PREFIX)) == 0;
}

tw_rc auth_enrol_code_verify(const char *stored, const char *code, int64_t now_ms,
	struct tw_error *err)
{
	const char *p, *dollar;
	long long expires = 0;
	char *end = NULL;

	if (!auth_enrol_pending(stored))
		return tw_error_set(err, TW_E_DENIED, "no enrolment is pending for this operator");
	p = stored + strlen(AUTH_ENROL_PREFIX);
	if ((dollar = strchr(p, '$')) == NULL)
		return tw_error_set(err, TW_E_INTEGRITY, "malformed enrolment record");
	expires = strtoll(p, &end, 10);
	if (end != dollar || expires <= 0)
		return tw_error_set(err, TW_E_INTEGRITY, "malformed enrolment record");
	if (code == NULL || strlen(code) != AUTH_ENROL_CODE_LEN)
		return tw_error_set(err, TW_E_DENIED, "the enrolment code is wrong");
	if (expires <= now_ms)
		return tw_error_set(err, TW_E_DENIED, "the enrolment code has expired; the account "
			"must be disabled and added again");
	if (auth_password_verify(code, strlen(code), dollar + 1, err) != TW_OK)
		return tw_error_set(err, err->code == TW_E_INTEGRITY ? TW_E_INTEGRITY :
			TW_E_DENIED, "the enrolment code is wrong");
	return TW_OK;
}
