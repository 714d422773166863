/*
 * p11.h: access to the PKCS#11 token, used only inside the signer process.
 *
 * libp11 finds the token, logs in and turns token keys into EVP_PKEYs whose private
 * operations run inside the token. Key generation goes through raw PKCS#11 (p11.c says
 * why). Private key material never leaves the token; PINs are wiped after login.
 */
#ifndef TORWART_SIGNER_P11_H
#define TORWART_SIGNER_P11_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "base/error.h"

struct p11_token;

struct p11_params {
	const char *module;        /* PKCS#11 module path (libsofthsm2.so) */
	const char *softhsm_conf;  /* exported as SOFTHSM2_CONF before loading; NULL: leave */
	const char *pin_file;      /* "user_pin=HEX\nso_pin=HEX\n" (mode 0600) */
	const char *token_label;
	bool ceremony;             /* initialise an uninitialised token; allow key generation */
	/*
	 * Custodian activation (production): read no pin file and do not log in; the signer
	 * logs in later with the PIN its custodians' shares combine to (p11_login).
	 */
	bool defer_login;
};

/*
 * Load the module, find the token labelled token_label (initialising it first in a
 * ceremony), open a session and log in as user. *out is the caller's (p11_close).
 */
tw_rc p11_open(const struct p11_params *params, struct p11_token **out, struct tw_error *err);
void p11_close(struct p11_token *tok);   /* NULL is fine */

/* New reference to the private key labelled label (operations run in the token). */
tw_rc p11_private_key(struct p11_token *tok, const char *label, EVP_PKEY **out,
	struct tw_error *err);
/* Public key (public components only) of the key labelled label. Caller frees. */
tw_rc p11_public_key(struct p11_token *tok, const char *label, EVP_PKEY **out,
	struct tw_error *err);
/*
 * Ceremony only: generate a non-extractable EC key pair on the curve whose DER OID is
 * oid (oid_len bytes) under label. TW_E_EXISTS if the label is taken. *pub is the caller's.
 */
tw_rc p11_generate_ec(struct p11_token *tok, const char *label, const unsigned char *oid,
	size_t oid_len, EVP_PKEY **pub, struct tw_error *err);

/*
 * Log in as user with pin (custodian activation). TW_E_DENIED when the token refuses the
 * PIN (CKR_PIN_INCORRECT and friends), TW_E_CRYPTO for other failures. The caller wipes
 * pin. Logging in twice is TW_OK.
 */
tw_rc p11_login(struct p11_token *tok, const char *pin, struct tw_error *err);
/* Log out (deactivation); private keys are unusable until the next p11_login. */
void p11_logout(struct p11_token *tok);
bool p11_logged_in(const struct p11_token *tok);

/*
 * Key ceremony: replace the security officer's and the user's PIN (C_SetPIN). Needs a
 * token opened with defer_login. The SO PIN is changed first; on failure the message
 * says which PINs are in effect. The caller wipes all four.
 */
tw_rc p11_change_pins(struct p11_token *tok, const char *old_so, const char *new_so,
	const char *old_user, const char *new_user, struct tw_error *err);

/*
 * Parse a pin file: copies the values into user_pin / so_pin (each size bytes, NUL
 * terminated). Wipes its own copy of the file. so_pin may be NULL.
 */
tw_rc p11_read_pins(const char *path, char *user_pin, char *so_pin, size_t size,
	struct tw_error *err);

/*
 * Key rotation (signer_keys.h): the same key generation outside the ceremony, for a key
 * that replaces another one (the signer must be logged in). The raw module handle is
 * attached on first use.
 */
tw_rc p11_generate_ec_rotation(struct p11_token *tok, const char *label,
	const unsigned char *oid, size_t oid_len, EVP_PKEY **pub, struct tw_error *err);
/* Destroy every object labelled label (C_DestroyObject) and forget its public key. */
tw_rc p11_destroy_key(struct p11_token *tok, const char *label, struct tw_error *err);

#endif
