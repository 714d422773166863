/*
 * fuzz_console_cookie.c: libFuzzer target for the web console's Cookie header parser
 * (api_console.h): any bytes as the header, the first 8 as the clock. A token comes back
 * only for a cookie whose MAC is right, and then has exactly the token's length.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_console.h"
#include "auth/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[32] = { 7 };
	char token[AUTH_TOKEN_LEN + 1], *copy;
	struct tw_error err;
	int64_t now = 0;

	if (size < 8 || size > 20000)
		return 0;
	memcpy(&now, data, 8);
	/* The header as evhttp hands it over: NUL-terminated, exactly sized. */
	if ((copy = malloc(size - 8 + 1)) == NULL)
		return 0;
	memcpy(copy, data + 8, size - 8);
	copy[size - 8] = '\0';
	if (api_console_cookie_token(copy, key, now, 900000, token, &err) == TW_OK &&
	    strlen(token) != AUTH_TOKEN_LEN)
		abort();
	free(copy);
	return 0;
}
