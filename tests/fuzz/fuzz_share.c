/* fuzz_share.c: libFuzzer target for custodian share and set files (src/crypto/shares.c):
 * a share file is carried by a person and uploaded through the api; a sealed share file
 * (share_unseal, opened by the custodian's CLI) too. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/shares.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct share s;
	struct share_set set;
	struct tw_error err;
	char text[SHARES_TEXT_MAX];

	if (share_parse(data, size, &s, &err) == TW_OK) {
		/* What parses must re-encode to something that parses to the same share. */
		struct share back;

		if (share_encode(&s, NULL, text, sizeof(text), &err) != TW_OK ||
		    share_parse((const uint8_t *)text, __builtin_strlen(text), &back, &err) != TW_OK)
			__builtin_trap();
		share_wipe(&back);
	}
	share_wipe(&s);
	(void)share_set_parse(data, size, &set, &err);
	{
		static EVP_PKEY *key;
		char *plain = NULL;
		size_t len = 0;

		if (key == NULL && share_key_generate(&key, &err) != TW_OK)
			return 0;
		if (share_unseal(key, data, size, &plain, &len, &err) == TW_OK &&
		    __builtin_strlen(plain) != len)
			__builtin_trap();
		free(plain);
	}
	return 0;
}
