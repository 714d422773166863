/*
 * test_console.c: the web console's cookie and CSRF token (api_console.h): a cookie made
 * for a token gives that token back; a changed MAC, token or issue time, an expired or
 * future cookie, a malformed or missing one are refused with a reason. The SAML assertion
 * consumer's form-field parser (api_console_form_field).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api_console.h"
#include "auth/cred.h"

static const unsigned char key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
#define TOKEN "tw1_0123456789abcdef0123456789abcdef_" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW 1800000000000LL
#define TTL 900000LL

static char *header_for(const char *value, const char *before)
{
	size_t n = strlen(value) + strlen(before) + 64;
	char *h = malloc(n);

	assert_non_null(h);
	snprintf(h, n, "%s" API_CONSOLE_COOKIE "=%s", before, value);
	return h;
}

static void test_round_trip(void **state)
{
	char token[AUTH_TOKEN_LEN + 1];
	struct tw_error err;
	char *v, *h;

	(void)state;
	assert_int_equal(strlen(TOKEN), AUTH_TOKEN_LEN);
	v = api_console_cookie_value(TOKEN, NOW - 1000, key);
	assert_non_null(v);
	h = header_for(v, "other=1; theme=dark; ");
	assert_int_equal(api_console_cookie_token(h, key, NOW, TTL, token, &err), TW_OK);
	assert_string_equal(token, TOKEN);
	free(h);
	free(v);
}

static void test_refusals(void **state)
{
	char token[AUTH_TOKEN_LEN + 1], *v, *h, *copy;
	unsigned char other[32];
	struct tw_error err;

	(void)state;
	v = api_console_cookie_value(TOKEN, NOW - 1000, key);
	assert_non_null(v);

	/* missing */
	assert_int_equal(api_console_cookie_token("a=b", key, NOW, TTL, token, &err),
		TW_E_DENIED);
	assert_string_equal(token, "");
	assert_non_null(strstr(err.message, "not logged in"));
	/* another key (the api restarted) */
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	h = header_for(v, "");
	assert_int_equal(api_console_cookie_token(h, other, NOW, TTL, token, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "not this console's"));
	/* expired and from the future */
	assert_int_equal(api_console_cookie_token(h, key, NOW + TTL, TTL, token, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "expired"));
	assert_int_equal(api_console_cookie_token(h, key, NOW - 3600000, TTL, token, &err),
		TW_E_DENIED);
	free(h);
	/* a changed issue time keeps the MAC: refused */
	copy = strdup(v);
	assert_non_null(copy);
	copy[AUTH_TOKEN_LEN + 1] = copy[AUTH_TOKEN_LEN + 1] == '1' ? '2' : '1';
	h = header_for(copy, "");
	assert_int_equal(api_console_cookie_token(h, key, NOW, TTL, token, &err), TW_E_DENIED);
	free(h);
	free(copy);
	/* a changed token */
	copy = strdup(v);
	copy[10] = copy[10] == 'a' ? 'b' : 'a';
	h = header_for(copy, "");
	assert_int_equal(api_console_cookie_token(h, key, NOW, TTL, token, &err), TW_E_DENIED);
	free(h);
	free(copy);
	/* malformed: no dots, short MAC, letters in the time */
	assert_int_equal(api_console_cookie_token(API_CONSOLE_COOKIE "=" TOKEN, key, NOW, TTL,
		token, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "malformed"));
	assert_int_equal(api_console_cookie_token(API_CONSOLE_COOKIE "=" TOKEN ".12.abcd", key,
		NOW, TTL, token, &err), TW_E_DENIED);
	copy = strdup(v);
	copy[AUTH_TOKEN_LEN + 1] = 'x';
	h = header_for(copy, "");
	assert_int_equal(api_console_cookie_token(h, key, NOW, TTL, token, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "malformed"));
	free(h);
	free(copy);
	/* a cookie whose name only ends like ours is not ours */
	h = header_for(v, "x");
	assert_int_equal(api_console_cookie_token(h, key, NOW, TTL, token, &err), TW_E_DENIED);
	free(h);
	free(v);
}

/* The assertion consumer's form parser: decoding, absent, repeated, malformed. */
static void test_form(void **state)
{
	static const char body[] = "RelayState=alpha&SAMLResponse=PD94b%2Bw%3D%3D&x=a+b%20c"
		"&empty=&bare";
	char out[64];
	size_t n = 0;
	struct tw_error err;

	(void)state;
	assert_int_equal(api_console_form_field(body, strlen(body), "RelayState", out,
		sizeof(out), &n, &err), TW_OK);
	assert_string_equal(out, "alpha");
	assert_int_equal(n, 5);
	assert_int_equal(api_console_form_field(body, strlen(body), "SAMLResponse", out,
		sizeof(out), &n, &err), TW_OK);
	assert_string_equal(out, "PD94b+w==");
	assert_int_equal(api_console_form_field(body, strlen(body), "x", out, sizeof(out), &n,
		&err), TW_OK);
	assert_string_equal(out, "a b c");
	assert_int_equal(api_console_form_field(body, strlen(body), "empty", out, sizeof(out),
		&n, &err), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(api_console_form_field(body, strlen(body), "bare", out, sizeof(out),
		&n, &err), TW_OK);
	assert_int_equal(api_console_form_field(body, strlen(body), "missing", out,
		sizeof(out), &n, &err), TW_E_NOT_FOUND);
	/* Only the bytes given count: the field cut off by len is absent. */
	assert_int_equal(api_console_form_field(body, 10, "SAMLResponse", out, sizeof(out), &n,
		&err), TW_E_NOT_FOUND);
	assert_int_equal(api_console_form_field("a=1&a=2", 7, "a", out, sizeof(out), &n, &err),
		TW_E_INVALID);
	assert_string_equal(out, "");
	/* An encoded name is the same field: a second RelayState written %52elayState. */
	assert_int_equal(api_console_form_field("RelayState=a&%52elayState=b", 27,
		"RelayState", out, sizeof(out), &n, &err), TW_E_INVALID);
	assert_int_equal(api_console_form_field("a=%4", 4, "a", out, sizeof(out), &n, &err),
		TW_E_INVALID);
	assert_int_equal(api_console_form_field("a=%zz", 5, "a", out, sizeof(out), &n, &err),
		TW_E_INVALID);
	assert_int_equal(api_console_form_field("a=x%00y", 7, "a", out, sizeof(out), &n, &err),
		TW_E_INVALID);
	assert_int_equal(api_console_form_field("a=12345678", 10, "a", out, 8, &n, &err),
		TW_E_INVALID);
	assert_int_equal(api_console_form_field("a=1234567", 9, "a", out, 8, &n, &err), TW_OK);
	assert_string_equal(out, "1234567");
	assert_int_equal(api_console_form_field("", 0, "a", out, sizeof(out), &n, &err),
		TW_E_NOT_FOUND);
}

static void test_csrf(void **state)
{
	char a[65], b[65], c[65];
	unsigned char other[32];

	(void)state;
	api_console_csrf(TOKEN, key, a);
	api_console_csrf(TOKEN, key, b);
	assert_int_equal(strlen(a), 64);
	assert_string_equal(a, b);
	memcpy(other, key, sizeof(other));
	other[31] ^= 0x80;
	api_console_csrf(TOKEN, other, c);
	assert_string_not_equal(a, c);
	api_console_csrf("tw1_another", key, c);
	assert_string_not_equal(a, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
