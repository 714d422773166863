/*
 * fuzz_api_preauth.c: libFuzzer target for the header block the operator API reads
 * before evhttp (api_preauth.c: Content-Length, Transfer-Encoding, Bearer token).
 * The input is handed over without a terminating NUL, as the api does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_preauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_preauth p;
	char *copy;

	if (size > 20000)
		return 0;
	/* An exact-size heap copy, so reading one byte too far is caught by ASan. */
	if ((copy = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	memcpy(copy, data, size);
	api_preauth_parse(copy, size, &p);
	if (p.has_token && strlen(p.token) > API_PREAUTH_TOKEN_MAX)
		abort();
	(void)api_preauth_may_exceed(&p, 16384);
	free(copy);
	return 0;
}
