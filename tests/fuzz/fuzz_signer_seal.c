/*
 * fuzz_signer_seal.c: libFuzzer target for what the signer reads of a SEAL/UNSEAL
 * request (signer_secrets.c): the context and associated data (namespace check,
 * secretbox_context_matches) and the sealed text an UNSEAL hands to secretbox_unseal
 * (prefix, base64, lengths, AES-GCM).
 *
 * Input: CONTEXT NUL AAD NUL SEALED (missing parts are empty). Properties: no crash or
 * out-of-bounds read for any input; a value sealed under (context, aad) opens again only
 * with that aad, and a context matches only its own namespace.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/secretbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *next_part(const char **p, const char *end)
{
	const char *start = *p;
	const char *nul = memchr(start, '\0', (size_t)(end - start));

	*p = nul != NULL ? nul + 1 : end;
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[32] = { 9, 8, 7 };
	struct secretbox *sb = NULL;
	struct tw_error err;
	char *buf, *plain = NULL, *sealed = NULL;
	const char *p, *end, *context, *aad, *text;
	size_t len = 0;

	if (size > 8192)
		return 0;
	/* Three NUL-terminated strings out of the input (the frame fields are NUL-free). */
	if ((buf = malloc(size + 3)) == NULL)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0, 3);
	p = buf;
	end = buf + size + 3;
	context = next_part(&p, end);
	aad = next_part(&p, end);
	text = p < end ? next_part(&p, end) : "";
	if (secretbox_from_key(key, &sb, &err) != TW_OK)
		goto out;
	if (secretbox_context_matches(context, aad) &&
	    strcmp(secretbox_context_of(aad), context) != 0)
		abort();
	if (secretbox_unseal(sb, aad, text, &plain, &len, &err) == TW_OK &&
	    strlen(plain) > len)
		abort();
	free(plain);
	plain = NULL;
	/* Round trip: what is sealed under aad opens with aad. */
	if (aad[0] != '\0' && strlen(text) <= SECRETBOX_PLAIN_MAX &&
	    secretbox_seal(sb, aad, text, strlen(text), &sealed, &err) == TW_OK) {
		if (secretbox_unseal(sb, aad, sealed, &plain, &len, &err) != TW_OK ||
		    len != strlen(text) || memcmp(plain, text, len) != 0)
			abort();
	}
out:
	free(plain);
	free(sealed);
	secretbox_free(sb);
	free(buf);
	return 0;
}
