/*
 * key_label.c: versioned key labels of the signer (key_label.h).
 */
#include "crypto/key_label.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/signer_proto.h"

/*
 * Versioned labels (key rotation, signer_keys.h): "<base>.k<16 hex>". Everything after
 * the last ".k" must be exactly 16 lower-case hex digits.
 */
bool signer_label_versioned(const char *label)
{
	const char *dot = label != NULL ? strrchr(label, '.') : NULL;

	if (dot == NULL || dot == label || dot[1] != 'k' || strlen(dot + 2) != 16)
		return false;
	for (const char *p = dot + 2; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void signer_label_base(const char *label, char *out, size_t size)
{
	size_t n = strlen(label);

	if (signer_label_versioned(label))
		n = (size_t)(strrchr(label, '.') - label);
	if (n >= size)
		n = size - 1;
	memcpy(out, label, n);
	out[n] = '\0';
}

tw_rc signer_label_of_key(const char *base, EVP_PKEY *pub, char *out, size_t size,
	struct tw_error *err)
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(pub, &der);
	char hex[17];

	if (len <= 0 || EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot hash the public key of '%s'",
			base);
	}
	OPENSSL_free(der);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (strlen(base) + 19 > size || strlen(base) + 18 > SIGNER_LABEL_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "label '%s' is too long for a versioned "
			"key label", base);
	snprintf(out, size, "%s.k%s", base, hex);
	return TW_OK;
}

