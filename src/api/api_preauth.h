/*
 * api_preauth.h: what the operator API needs to know from a request's header block
 * before evhttp reads its body (issue 9): how large the body says it is and which
 * session token it carries. The api lets a body grow beyond the pre-authentication
 * limit ([api] preauth_max_body) only when the token is a live session of the
 * connection's certificate (api_operator.c), so a certificate holder without a session
 * (or a stolen certificate) cannot make the api buffer 24 MiB.
 */
#ifndef TORWART_API_API_PREAUTH_H
#define TORWART_API_API_PREAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_PREAUTH_TOKEN_MAX 128

struct api_preauth {
	bool has_length;                     /* a valid Content-Length was given */
	uint64_t length;
	bool chunked;                        /* Transfer-Encoding other than identity */
	bool bad;                            /* duplicate or malformed Content-Length */
	bool has_token;                      /* Authorization: Bearer <token> */
	char token[API_PREAUTH_TOKEN_MAX + 1];
};

/*
 * Read the header block hdr (len bytes: request line, header lines, blank line; CRLF or
 * LF; need not be NUL-terminated). Never fails: what it cannot read it leaves unset,
 * which the caller treats as "no token" (the pre-authentication limit applies). Header
 * names are case-insensitive; a token longer than API_PREAUTH_TOKEN_MAX is ignored.
 */
void api_preauth_parse(const char *hdr, size_t len, struct api_preauth *out);

/* True when the body may be larger than limit (announced so, or chunked). */
bool api_preauth_may_exceed(const struct api_preauth *p, uint64_t limit);

#endif
