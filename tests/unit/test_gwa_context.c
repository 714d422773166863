/*
 * test_gwa_context.c: the backup file parser of the certificate-management context
 * (gwa/gwa_context_backup.c, gwa_ctx_backup_parse): exact DER lengths after base64
 * padding, and every malformed form refused with nothing left allocated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gwa/gwa_context_backup.h"
#include "store/store_gwa_context.h"

#define HEAD "{\"format\":\"torwart-context-backup/1\",\"context\":\"alpha\","

static tw_rc parse(const char *json, struct gwa_ctx_backup *b)
{
	struct tw_error err;
	tw_rc rc = gwa_ctx_backup_parse((const unsigned char *)json, strlen(json), b, &err);

	if (rc != TW_OK) {
		/* a refusal leaves nothing behind */
		assert_int_equal(b->n, 0);
		assert_null(b->items);
	}
	return rc;
}

static void test_valid(void **state)
{
	struct gwa_ctx_backup b;
	static const unsigned char three[] = { 1, 2, 3 };

	(void)state;
	assert_int_equal(parse(HEAD "\"certificates\":[{\"label\":\"han-1\",\"gateway\":\"GW-A\","
		"\"der\":\"AQID\"},{\"label\":\"x\",\"der\":\"AQI=\"}],"
		"\"trusted_cas\":[{\"der\":\"AQ==\"}],\"sm_pki\":[]}", &b), TW_OK);
	assert_string_equal(b.context, "alpha");
	assert_int_equal(b.n, 3);
	assert_false(b.items[0].trusted_ca);
	assert_string_equal(b.items[0].label, "han-1");
	assert_string_equal(b.items[0].gateway_id, "GW-A");
	assert_int_equal(b.items[0].der_len, 3);
	assert_memory_equal(b.items[0].der, three, 3);
	assert_int_equal(b.items[1].der_len, 2);          /* one '=' of padding */
	assert_string_equal(b.items[1].gateway_id, "");   /* optional */
	assert_true(b.items[2].trusted_ca);
	assert_int_equal(b.items[2].der_len, 1);          /* two '=' of padding */
	gwa_ctx_backup_free(&b);
	assert_int_equal(b.n, 0);

	assert_int_equal(parse(HEAD "\"certificates\":[],\"trusted_cas\":[]}", &b), TW_OK);
	assert_int_equal(b.n, 0);
	gwa_ctx_backup_free(&b);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",                                                        /* empty */
		"not json",
		"[]",
		"{\"format\":\"other/1\",\"context\":\"a\",\"certificates\":[],\"trusted_cas\":[]}",
		HEAD "\"certificates\":{},\"trusted_cas\":[]}",            /* not an array */
		HEAD "\"certificates\":[]}",                               /* no trusted_cas */
		HEAD "\"certificates\":[],\"trusted_cas\":[],\"format\":\"x\"}",   /* duplicate key */
		HEAD "\"certificates\":[{\"label\":\"a\",\"der\":\"AQI\"}],\"trusted_cas\":[]}",
		HEAD "\"certificates\":[{\"label\":\"a\",\"der\":\"A*I=\"}],\"trusted_cas\":[]}",
		HEAD "\"certificates\":[{\"label\":\"a\",\"der\":\"\"}],\"trusted_cas\":[]}",
		HEAD "\"certificates\":[{\"label\":\"a\"}],\"trusted_cas\":[]}",    /* no der */
		HEAD "\"certificates\":[{\"der\":\"AQID\"}],\"trusted_cas\":[]}",   /* no label */
		HEAD "\"certificates\":[{\"label\":\"a\\u0007b\",\"der\":\"AQID\"}],"
			"\"trusted_cas\":[]}",                             /* control character */
		HEAD "\"certificates\":[{\"label\":\"a\\u0000b\",\"der\":\"AQID\"}],"
			"\"trusted_cas\":[]}",                             /* NUL inside */
		HEAD "\"certificates\":[{\"label\":\"a\",\"der\":\"AQID\"},7],\"trusted_cas\":[]}",
		"{\"format\":\"torwart-context-backup/1\",\"certificates\":[],\"trusted_cas\":[]}",
	};
	struct gwa_ctx_backup b;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu: %s\n", i, bad[i]);
		assert_int_equal(parse(bad[i], &b), TW_E_INVALID);
	}
}

static void test_too_large(void **state)
{
	/* A certificate over STORE_CTX_DER_MAX bytes after decoding is refused. */
	size_t n = (STORE_CTX_DER_MAX / 3 + 2) * 4;
	char *json = malloc(n + 200);
	struct gwa_ctx_backup b;
	int off;

	(void)state;
	assert_non_null(json);
	off = snprintf(json, 200, HEAD "\"certificates\":[{\"label\":\"a\",\"der\":\"");
	memset(json + off, 'A', n);
	snprintf(json + off + n, 200, "\"}],\"trusted_cas\":[]}");
	assert_int_equal(parse(json, &b), TW_E_INVALID);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
