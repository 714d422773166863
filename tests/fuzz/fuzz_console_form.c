/*
 * fuzz_console_form.c: libFuzzer target for the web console's form-field parser
 * (api_console_form_field, the SAML assertion consumer's SAMLResponse and RelayState):
 * any bytes as the body, not NUL-terminated. A value that comes back fits its buffer, has
 * the length reported and holds no NUL byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "SAMLResponse", "RelayState", "a" };
	char small[16], *copy;
	struct tw_error err;
	size_t n = 0;

	if (size > 70000)
		return 0;
	/* Exactly sized, no terminator: a read past the end is caught by ASan. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (api_console_form_field(copy, size, names[i], small, sizeof(small), &n, &err) ==
		    TW_OK && (n >= sizeof(small) || strlen(small) != n))
			abort();
	}
	free(copy);
	return 0;
}
