/*
 * p11.c: the signer's access to the PKCS#11 token (libp11 + raw PKCS#11 for EC keygen).
 *
 * Only the signer process links this in at run time (DESIGN.md principle 1). The token's
 * PINs are read from the pin file, used for login (and, in a ceremony, for initialising
 * the token) and wiped at once; they are never logged or put into an error message.
 */
#include "signer/p11.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "base/log.h"
#include "base/util.h"

#define P11_PIN_MAX 128
#define P11_PIN_FILE_MAX 4096
#define P11_ID_LEN 16
#define P11_PUB_CACHE 64

/*
 * Public keys by label. libp11 0.4.12 leaks every EVP_PKEY that PKCS11_get_public_key
 * returns (fixed upstream in OpenSC/libp11#566), and the signer needs the public key on
 * every request, so we ask libp11 once per key and keep the plain OpenSSL copy. Keys are
 * never replaced or deleted, so an entry never goes stale.
 */
struct p11_pub {
	char *label;
	EVP_PKEY *pub;
};

struct p11_token {
	PKCS11_CTX *ctx;
	PKCS11_SLOT *slots;        /* owned: PKCS11_release_all_slots */
	unsigned int nslots;
	PKCS11_SLOT *slot;         /* borrowed from slots: the one with our token */
	void *dl;                  /* ceremony: second handle on the module (see keygen) */
	CK_FUNCTION_LIST_PTR fn;
	char *module;
	char *label;
	bool logged_in;
	struct p11_pub pubs[P11_PUB_CACHE];
	size_t npubs;
};

tw_rc p11_read_pins(const char *path, char *user_pin, char *so_pin, size_t size,
	struct tw_error *err)
{
	unsigned char *text = NULL;
	size_t len = 0;
	tw_rc rc;
	int have_user = 0, have_so = 0;

	user_pin[0] = '\0';
	if (so_pin != NULL)
		so_pin[0] = '\0';
	if ((rc = tw_read_file(path, P11_PIN_FILE_MAX, &text, &len, err)) != TW_OK) {
		if (rc == TW_E_NOT_FOUND)
			tw_error_set(err, rc, "pin file %s is missing; a demo home creates it with "
				"`torwart init`", path);
		goto out;
	}
	for (char *line = (char *)text, *next; line != NULL && *line != '\0'; line = next) {
		char *nl = strchr(line, '\n');
		char *dst = NULL;
		const char *val = NULL;

		next = nl != NULL ? nl + 1 : NULL;
		if (nl != NULL)
			*nl = '\0';
		if (strncmp(line, "user_pin=", 9) == 0) {
			dst = user_pin;
			val = line + 9;
			have_user = 1;
		} else if (strncmp(line, "so_pin=", 7) == 0) {
			dst = so_pin;
			val = line + 7;
			have_so = 1;
		} else if (*line != '\0' && *line != '#') {
			rc = tw_error_set(err, TW_E_CONFIG, "pin file %s: unexpected line (expected "
				"user_pin=... and so_pin=...)", path);
			goto out;
		}
		if (val != NULL && dst != NULL) {
			size_t n = strlen(val);

			if (n == 0 || n >= size) {
				rc = tw_error_set(err, TW_E_CONFIG, "pin file %s: a PIN is empty or "
					"longer than %zu characters", path, size - 1);
				goto out;
			}
			memcpy(dst, val, n + 1);
		}
	}
	if (!have_user || (so_pin != NULL && !have_so)) {
		rc = tw_error_set(err, TW_E_CONFIG, "pin file %s lacks %s", path,
			!have_user ? "user_pin=" : "so_pin=");
		goto out;
	}
	rc = TW_OK;
out:
	if (text != NULL)
		tw_wipe(text, len);
	free(text);
	if (rc != TW_OK) {
		tw_wipe(user_pin, size);
		if (so_pin != NULL)
			tw_wipe(so_pin, size);
	}
	return rc;
}

static PKCS11_SLOT *find_token(struct p11_token *tok, const char *label)
{
	for (unsigned int i = 0; i < tok->nslots; i++) {
		PKCS11_SLOT *s = &tok->slots[i];

		if (s->token != NULL && s->token->initialized && s->token->label != NULL &&
		    strcmp(s->token->label, label) == 0)
			return s;
	}
	return NULL;
}

static tw_rc enumerate_slots(struct p11_token *tok, struct tw_error *err)
{
	if (tok->slots != NULL)
		PKCS11_release_all_slots(tok->ctx, tok->slots, tok->nslots);
	tok->slots = NULL;
	tok->nslots = 0;
	tok->slot = NULL;
	if (PKCS11_enumerate_slots(tok->ctx, &tok->slots, &tok->nslots) != 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot list the slots of %s",
			tok->module);
	return TW_OK;
}

/*
 * Ceremony: initialise the first uninitialised token under label, then set its user PIN.
 * SoftHSM2 always offers one free slot; a real HSM is initialised by its own tools.
 */
static tw_rc init_token(struct p11_token *tok, const char *label, const char *so_pin,
	const char *user_pin, struct tw_error *err)
{
	PKCS11_SLOT *free_slot = NULL;
	char padded[33];
	tw_rc rc;

	for (unsigned int i = 0; i < tok->nslots && free_slot == NULL; i++)
		if (tok->slots[i].token != NULL && !tok->slots[i].token->initialized)
			free_slot = &tok->slots[i];
	if (free_slot == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "module %s offers no uninitialised token "
			"to create '%s' in", tok->module, label);
	/*
	 * C_InitToken reads exactly 32 bytes of label, blank padded, but libp11 0.4.12 hands
	 * the C string through as is; pad it ourselves so the module never reads past it.
	 */
	if (strlen(label) > sizeof(padded) - 1)
		return tw_error_set(err, TW_E_CONFIG, "[signer] token_label '%s' is longer than "
			"%zu characters", label, sizeof(padded) - 1);
	memset(padded, ' ', sizeof(padded) - 1);
	padded[sizeof(padded) - 1] = '\0';
	memcpy(padded, label, strlen(label));
	if (PKCS11_init_token(free_slot->token, so_pin, padded) != 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot initialise token '%s'", label);
	/* The module renumbers slots after C_InitToken: list them again. */
	if ((rc = enumerate_slots(tok, err)) != TW_OK)
		return rc;
	if ((tok->slot = find_token(tok, label)) == NULL)
		return tw_error_set(err, TW_E_CRYPTO, "token '%s' vanished after initialisation",
			label);
	if (PKCS11_open_session(tok->slot, 1) != 0 || PKCS11_login(tok->slot, 1, so_pin) != 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot log in to token '%s' as "
			"security officer (check so_pin in the pin file)", label);
	if (PKCS11_init_pin(tok->slot->token, user_pin) != 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set the user PIN of token '%s'",
			label);
		PKCS11_logout(tok->slot);
		return rc;
	}
	PKCS11_logout(tok->slot);
	return TW_OK;
}

/*
 * Raw PKCS#11 for key generation. libp11 0.4.12 can generate only RSA keys
 * (PKCS11_generate_key, deprecated); generating in software and importing with
 * PKCS11_store_private_key would put the private key into our memory, which the design
 * forbids. So we call C_GenerateKeyPair ourselves. dlopen() of the path libp11 already
 * loaded returns the same, already C_Initialize'd module instance, and PKCS#11 login
 * state is per application, so a session we open here is logged in as user already:
 * no second initialisation, no second PIN handling.
 */
static tw_rc raw_attach(struct p11_token *tok, struct tw_error *err)
{
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);

	tok->dl = dlopen(tok->module, RTLD_NOW | RTLD_LOCAL);
	if (tok->dl == NULL)
		return tw_error_set(err, TW_E_UNAVAILABLE, "cannot load %s: %s", tok->module,
			dlerror());
	*(void **)(&get_list) = dlsym(tok->dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&tok->fn) != CKR_OK || tok->fn == NULL)
		return tw_error_set(err, TW_E_UNAVAILABLE, "%s has no usable C_GetFunctionList",
			tok->module);
	return TW_OK;
}

tw_rc p11_open(const struct p11_params *params, struct p11_token **out, struct tw_error *err)
{
	struct p11_token *tok = NULL;
	char user_pin[P11_PIN_MAX], so_pin[P11_PIN_MAX];
	tw_rc rc;

	*out = NULL;
	user_pin[0] = so_pin[0] = '\0';
	if ((tok = calloc(1, sizeof(*tok))) == NULL ||
	    (tok->module = tw_strdup(params->module)) == NULL ||
	    (tok->label = tw_strdup(params->token_label)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (params->defer_login && params->ceremony) {
		rc = tw_error_set(err, TW_E_INTERNAL, "a ceremony needs the pin file");
		goto out;
	}
	if (!params->defer_login &&
	    (rc = p11_read_pins(params->pin_file, user_pin, params->ceremony ? so_pin : NULL,
		sizeof(user_pin), err)) != TW_OK)
		goto out;
	/* SoftHSM2 reads its configuration (token directory) when the module initialises. */
	if (params->softhsm_conf != NULL && setenv("SOFTHSM2_CONF", params->softhsm_conf, 1) != 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot set SOFTHSM2_CONF");
		goto out;
	}
	if ((tok->ctx = PKCS11_CTX_new()) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot create a libp11 context");
		goto out;
	}
	if (PKCS11_CTX_load(tok->ctx, params->module) != 0) {
		rc = tw_error_set_openssl(err, TW_E_UNAVAILABLE, "cannot load PKCS#11 module %s "
			"(installed? SOFTHSM2_CONF=%s readable?)", params->module,
			params->softhsm_conf != NULL ? params->softhsm_conf : "(unset)");
		PKCS11_CTX_free(tok->ctx);
		tok->ctx = NULL;
		goto out;
	}
	if ((rc = enumerate_slots(tok, err)) != TW_OK)
		goto out;
	tok->slot = find_token(tok, params->token_label);
	if (tok->slot == NULL && !params->ceremony) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "token '%s' not found in %s; create it "
			"with `torwart init`", params->token_label, params->module);
		goto out;
	}
	if (tok->slot == NULL &&
	    (rc = init_token(tok, params->token_label, so_pin, user_pin, err)) != TW_OK)
		goto out;
	if (PKCS11_open_session(tok->slot, 1) != 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot open a session on token '%s'",
			params->token_label);
		goto out;
	}
	if (!params->defer_login) {
		if (PKCS11_login(tok->slot, 0, user_pin) != 0) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot log in to token '%s' "
				"(check user_pin in %s)", params->token_label, params->pin_file);
			goto out;
		}
		tok->logged_in = true;
	}
	if (params->ceremony && (rc = raw_attach(tok, err)) != TW_OK)
		goto out;
	*out = tok;
	tok = NULL;
	rc = TW_OK;
out:
	tw_wipe(user_pin, sizeof(user_pin));
	tw_wipe(so_pin, sizeof(so_pin));
	p11_close(tok);
	return rc;
}

tw_rc p11_login(struct p11_token *tok, const char *pin, struct tw_error *err)
{
	unsigned long e;

	if (tok->logged_in)
		return TW_OK;
	ERR_clear_error();
	if (PKCS11_login(tok->slot, 0, pin) != 0) {
		/* libp11 puts the CKR into the error queue's reason (CKR_PIN_INCORRECT 0xa0). */
		e = ERR_peek_last_error();
		ERR_clear_error();
		if (ERR_GET_REASON(e) == CKR_PIN_INCORRECT || ERR_GET_REASON(e) == CKR_PIN_INVALID ||
		    ERR_GET_REASON(e) == CKR_PIN_LEN_RANGE)
			return tw_error_set(err, TW_E_DENIED, "token '%s' refused the PIN", tok->label);
		return tw_error_set(err, TW_E_CRYPTO, "cannot log in to token '%s' (libp11 "
			"reason %lu)", tok->label, (unsigned long)ERR_GET_REASON(e));
	}
	tok->logged_in = true;
	return TW_OK;
}

void p11_logout(struct p11_token *tok)
{
	if (tok == NULL || !tok->logged_in)
		return;
	PKCS11_logout(tok->slot);
	ERR_clear_error();
	tok->logged_in = false;
}

bool p11_logged_in(const struct p11_token *tok)
{
	return tok != NULL && tok->logged_in;
}

tw_rc p11_change_pins(struct p11_token *tok, const char *old_so, const char *new_so,
	const char *old_user, const char *new_user, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	ERR_clear_error();
	if (PKCS11_login(tok->slot, 1, old_so) != 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot log in to token '%s' as "
			"security officer (so_pin of the pin file); nothing was changed", tok->label);
		goto out;
	}
	/* C_SetPIN in an SO session changes the SO PIN. */
	if (PKCS11_change_pin(tok->slot, old_so, new_so) != 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot change the SO PIN of token "
			"'%s'; nothing was changed", tok->label);
		PKCS11_logout(tok->slot);
		goto out;
	}
	PKCS11_logout(tok->slot);
	if (PKCS11_login(tok->slot, 0, old_user) != 0 ||
	    PKCS11_change_pin(tok->slot, old_user, new_user) != 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the SO PIN of token '%s' was changed "
			"(it is now in the custodian shares) but the user PIN could not be; the "
			"custodians can reset it with their SO PIN", tok->label);
		goto out;
	}
	PKCS11_logout(tok->slot);
out:
	ERR_clear_error();
	return rc;
}

void p11_close(struct p11_token *tok)
{
	if (tok == NULL)
		return;
	if (tok->ctx != NULL) {
		if (tok->slots != NULL)
			PKCS11_release_all_slots(tok->ctx, tok->slots, tok->nslots);
		PKCS11_CTX_unload(tok->ctx);
		PKCS11_CTX_free(tok->ctx);
	}
	if (tok->dl != NULL)
		dlclose(tok->dl);
	for (size_t i = 0; i < tok->npubs; i++) {
		free(tok->pubs[i].label);
		EVP_PKEY_free(tok->pubs[i].pub);
	}
	free(tok->module);
	free(tok->label);
	free(tok);
}

/* Borrowed libp11 key object labelled label: private keys if priv, else public. */
static PKCS11_KEY *find_key(struct p11_token *tok, const char *label, int priv)
{
	PKCS11_KEY *keys = NULL;
	unsigned int n = 0;
	int r;

	r = priv ? PKCS11_enumerate_keys(tok->slot->token, &keys, &n)
		 : PKCS11_enumerate_public_keys(tok->slot->token, &keys, &n);
	if (r != 0)
		return NULL;
	for (unsigned int i = 0; i < n; i++)
		if (keys[i].label != NULL && strcmp(keys[i].label, label) == 0)
			return &keys[i];
	return NULL;
}

tw_rc p11_private_key(struct p11_token *tok, const char *label, EVP_PKEY **out,
	struct tw_error *err)
{
	PKCS11_KEY *key;

	*out = NULL;
	ERR_clear_error();
	if ((key = find_key(tok, label, 1)) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "no private key labelled '%s' in token "
			"'%s'", label, tok->label);
	if ((*out = PKCS11_get_private_key(key)) == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot use key '%s'", label);
	return TW_OK;
}

/* Re-encode as SubjectPublicKeyInfo so the caller holds a plain OpenSSL key. */
static tw_rc detach_public(EVP_PKEY *p11key, EVP_PKEY **out, struct tw_error *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_PUBKEY(p11key, &der);

	if (len <= 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a token public key");
	p = der;
	*out = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	if (*out == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot decode a token public key");
	return TW_OK;
}

tw_rc p11_public_key(struct p11_token *tok, const char *label, EVP_PKEY **out,
	struct tw_error *err)
{
	PKCS11_KEY *key;
	EVP_PKEY *pk = NULL;
	tw_rc rc;

	*out = NULL;
	for (size_t i = 0; i < tok->npubs; i++) {
		if (strcmp(tok->pubs[i].label, label) == 0) {
			if (EVP_PKEY_up_ref(tok->pubs[i].pub) != 1)
				return tw_error_set(err, TW_E_INTERNAL, "cannot reference a public key");
			*out = tok->pubs[i].pub;
			return TW_OK;
		}
	}
	ERR_clear_error();
	/* Prefer the public object; fall back to the private one (some tokens keep only it). */
	key = find_key(tok, label, 0);
	if (key == NULL)
		key = find_key(tok, label, 1);
	if (key == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "no key labelled '%s' in token '%s'",
			label, tok->label);
	if ((pk = PKCS11_get_public_key(key)) == NULL)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read the public key '%s'",
			label);
	rc = detach_public(pk, out, err);
	EVP_PKEY_free(pk);
	if (rc == TW_OK && tok->npubs < P11_PUB_CACHE &&
	    (tok->pubs[tok->npubs].label = tw_strdup(label)) != NULL) {
		/* The cache holds its own reference; a full cache only costs speed. */
		if (EVP_PKEY_up_ref(*out) == 1)
			tok->pubs[tok->npubs++].pub = *out;
		else
			free(tok->pubs[tok->npubs].label);
	}
	return rc;
}

tw_rc p11_generate_ec(struct p11_token *tok, const char *label, const unsigned char *oid,
	size_t oid_len, EVP_PKEY **pub, struct tw_error *err)
{
	CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
	CK_KEY_TYPE key_type = CKK_EC;
	unsigned char id[P11_ID_LEN];
	CK_RV rv;
	tw_rc rc;

	*pub = NULL;
	if (tok->fn == NULL)
		return tw_error_set(err, TW_E_DENIED, "key generation is allowed only in a ceremony "
			"(`torwart init`)");
	if (find_key(tok, label, 1) != NULL || find_key(tok, label, 0) != NULL)
		return tw_error_set(err, TW_E_EXISTS, "token '%s' already holds a key labelled "
			"'%s'; keys are never replaced", tok->label, label);
	/* CKA_ID pairs the public with the private object (libp11 looks keys up by it). */
	if (RAND_bytes(id, sizeof(id)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for a key id");
	{
		CK_ATTRIBUTE pub_tmpl[] = {
			{ CKA_CLASS, &pub_class, sizeof(pub_class) },
			{ CKA_KEY_TYPE, &key_type, sizeof(key_type) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &no, sizeof(no) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_EC_PARAMS, (void *)oid, oid_len },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, id, sizeof(id) },
		};
		/* Sensitive and non-extractable: the private value can never be read out. */
		CK_ATTRIBUTE priv_tmpl[] = {
			{ CKA_CLASS, &priv_class, sizeof(priv_class) },
			{ CKA_KEY_TYPE, &key_type, sizeof(key_type) },
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)label, strlen(label) },
			{ CKA_ID, id, sizeof(id) },
		};

		rv = tok->fn->C_OpenSession(PKCS11_get_slotid_from_slot(tok->slot),
			CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
		if (rv != CKR_OK)
			return tw_error_set(err, TW_E_CRYPTO, "cannot open a session on token '%s' "
				"(CKR 0x%lx)", tok->label, (unsigned long)rv);
		rv = tok->fn->C_GenerateKeyPair(session, &mech,
			pub_tmpl, sizeof(pub_tmpl) / sizeof(pub_tmpl[0]),
			priv_tmpl, sizeof(priv_tmpl) / sizeof(priv_tmpl[0]), &hpub, &hpriv);
		tok->fn->C_CloseSession(session);
	}
	if (rv != CKR_OK)
		return tw_error_set(err, rv == CKR_CURVE_NOT_SUPPORTED || rv ==
			CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_DOMAIN_PARAMS_INVALID ? TW_E_INVALID :
			TW_E_CRYPTO, "token '%s' could not generate key '%s' (CKR 0x%lx)", tok->label,
			label, (unsigned long)rv);
	rc = p11_public_key(tok, label, pub, err);
	if (rc != TW_OK && err != NULL) {
		char why[TW_ERROR_MESSAGE_MAX];

		memcpy(why, err->message, sizeof(why));
		tw_error_set(err, rc, "key '%s' was generated but cannot be read back: %s", label,
			why);
	}
	return rc;
}

tw_rc p11_generate_ec_rotation(struct p11_token *tok, const char *label,
	const unsigned char *oid, size_t oid_len, EVP_PKEY **pub, struct tw_error *err)
{
	tw_rc rc;

	*pub = NULL;
	if (tok->fn == NULL && (rc = raw_attach(tok, err)) != TW_OK)
		return rc;
	return p11_generate_ec(tok, label, oid, oid_len, pub, err);
}

tw_rc p11_destroy_key(struct p11_token *tok, const char *label, struct tw_error *err)
{
	CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;
	CK_ATTRIBUTE tmpl[] = { { CKA_LABEL, (void *)label, strlen(label) } };
	CK_RV rv;
	tw_rc rc;

	if (tok->fn == NULL && (rc = raw_attach(tok, err)) != TW_OK)
		return rc;
	rv = tok->fn->C_OpenSession(PKCS11_get_slotid_from_slot(tok->slot),
		CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
	if (rv != CKR_OK)
		return tw_error_set(err, TW_E_CRYPTO, "cannot open a session on token '%s' "
			"(CKR 0x%lx)", tok->label, (unsigned long)rv);
	if ((rv = tok->fn->C_FindObjectsInit(session, tmpl, 1)) == CKR_OK) {
		rv = tok->fn->C_FindObjects(session, found, sizeof(found) / sizeof(found[0]), &n);
		tok->fn->C_FindObjectsFinal(session);
	}
	for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++)
		rv = tok->fn->C_DestroyObject(session, found[i]);
	tok->fn->C_CloseSession(session);
	if (rv != CKR_OK)
		return tw_error_set(err, TW_E_CRYPTO, "token '%s' could not destroy key '%s' "
			"(CKR 0x%lx)", tok->label, label, (unsigned long)rv);
	for (size_t i = 0; i < tok->npubs; i++)
		if (strcmp(tok->pubs[i].label, label) == 0) {
			free(tok->pubs[i].label);
			EVP_PKEY_free(tok->pubs[i].pub);
			tok->pubs[i] = tok->pubs[--tok->npubs];
			break;
		}
	tw_info("token '%s': key '%s' destroyed (%lu objects)", tok->label, label,
		(unsigned long)n);
	return TW_OK;
}
