/*
 * fuzz_auth_token.c: libFuzzer target for what the operator API parses from outside:
 * session tokens and the Authorization header, JSON request bodies (login, role change),
 * base32 TOTP keys, role lists and the [auth] exclusions syntax. The first byte picks
 * the parser so one corpus covers all of them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/cred.h"
#include "auth/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_error err;
	struct auth_token tok;
	char *text;
	const char *p;
	size_t n;

	if (size == 0 || size > 70000)
		return 0;
	p = (const char *)data + 1;
	n = size - 1;
	/* Parsers of C strings get a NUL-terminated copy. */
	if ((text = malloc(n + 1)) == NULL)
		return 0;
	memcpy(text, p, n);
	text[n] = '\0';
	switch (data[0] % 6) {
	case 0:
		(void)auth_token_parse(p, n, &tok, &err);
		break;
	case 1:
		(void)auth_bearer_parse(text, &tok, &err);
		break;
	case 2: {
		char password[AUTH_PASSWORD_MAX + 1], totp[16];
		struct auth_field f[] = {
			{ "password", password, sizeof(password), false, false, 0 },
			{ "totp", totp, sizeof(totp), false, false, 0 },
		};

		(void)auth_request_parse(p, n, f, 2, &err);
		break;
	}
	case 3: {
		char roles[512], reason[1024];
		struct auth_field f[] = {
			{ "roles", roles, sizeof(roles), true, false, 0 },
			{ "reason", reason, sizeof(reason), true, false, 0 },
		};
		uint32_t r = 0;

		if (auth_request_parse(p, n, f, 2, &err) == TW_OK)
			(void)auth_roles_parse(roles, &r, &err);
		break;
	}
	case 4: {
		unsigned char key[AUTH_TOTP_KEY_MAX];
		size_t klen = 0;
		int64_t step = 0;

		if (auth_base32_decode(text, key, sizeof(key), &klen, &err) == TW_OK)
			(void)auth_totp_verify(text, "123456", 1700000000, &step, &err);
		break;
	}
	default: {
		struct auth_exclusions ex;
		uint32_t r = 0;

		if (auth_exclusions_parse(text, &ex, &err) == TW_OK)
			(void)auth_exclusions_check(&ex, AUTH_ROLES_ALL, &err);
		(void)auth_roles_parse(text, &r, &err);
		break;
	}
	}
	free(text);
	return 0;
}
