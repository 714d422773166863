/*
 * request.h: parsers of the operator API's outside bytes: the Authorization header and
 * the JSON request bodies. Strict: a body is one JSON object whose members are all
 * declared strings within their limits; unknown members, other types, NUL bytes and
 * oversized values are TW_E_INVALID / TW_E_TOO_LARGE. Fuzzed by
 * tests/fuzz/fuzz_auth_token.c.
 */
#ifndef TORWART_AUTH_REQUEST_H
#define TORWART_AUTH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/cred.h"
#include "base/error.h"

#define AUTH_REQUEST_BODY_MAX (64 * 1024)

struct auth_field {
	const char *key;
	char *dst;          /* receives the NUL-terminated string; caller-owned buffer */
	size_t size;        /* of dst; values of size bytes or more are TW_E_TOO_LARGE */
	bool required;
	bool present;       /* out */
	size_t len;         /* out: strlen of the value */
};

/* Parse body (len bytes, no NUL needed) into the declared fields. */
tw_rc auth_request_parse(const char *body, size_t len, struct auth_field *fields, size_t n,
	struct tw_error *err);

/* "Bearer <token>" (value of the Authorization header) -> token. */
tw_rc auth_bearer_parse(const char *header, struct auth_token *tok, struct tw_error *err);

#endif
