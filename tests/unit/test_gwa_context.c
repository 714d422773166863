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

#include "audit/alert_mail.h"
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

/* The alert mail: no byte of an alert can add a header, end the body or reach a terminal. */
static void test_mail_compose(void **state)
{
	struct store_alert a;
	struct tw_error err;
	char *m = NULL, *body;
	size_t len = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.id = 42;
	snprintf(a.kind, sizeof(a.kind), "context-certificate");
	snprintf(a.role, sizeof(a.role), "context.alpha");
	snprintf(a.severity, sizeof(a.severity), "error");
	snprintf(a.subject, sizeof(a.subject), "cert:1\r\nBcc: evil@x.test");
	snprintf(a.message, sizeof(a.message), "line\r\n.\r\nQUIT \x1b[2J \xc3\xa4 back\\slash");
	assert_int_equal(alert_mail_compose(&a, "gwa@t.test", "a@b.test", "Mon, 07 Dec 2026 "
		"12:00:00 +0000", &m, &len, &err), TW_OK);
	assert_int_equal(strlen(m), len);
	body = strstr(m, "\r\n\r\n");
	assert_non_null(body);
	/* Headers: exactly the ones written, the injected Bcc only as text in Subject. */
	assert_null(strstr(m, "\nBcc:"));
	assert_non_null(strstr(m, "Subject: [torwart] error context-certificate: "
		"cert:1\\x0d\\x0aBcc: evil@x.test\r\n"));
	assert_non_null(strstr(m, "Message-ID: <torwart-alert-42@t.test>\r\n"));
	/* Body: one line, every control and 8-bit byte (and the backslash) escaped. */
	assert_non_null(strstr(body, "line\\x0d\\x0a.\\x0d\\x0aQUIT \\x1b[2J \\xc3\\xa4 "
		"back\\x5cslash\r\n"));
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)m[i];

		assert_true((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n');
		if (c == '\n')
			assert_true(i > 0 && m[i - 1] == '\r');
	}
	free(m);
}

static void test_mail_rcpts(void **state)
{
	char to[ALERT_MAIL_RCPT_MAX][ALERT_MAIL_ADDR_MAX + 1];
	struct tw_error err;
	size_t n = 0;

	(void)state;
	assert_int_equal(alert_mail_parse_rcpts("a@b.test, c@d.test", to, &n, &err), TW_OK);
	assert_int_equal(n, 2);
	assert_string_equal(to[1], "c@d.test");
	assert_int_equal(alert_mail_parse_rcpts("a@b.test>\r\nRCPT TO:<x@y", to, &n, &err),
		TW_E_CONFIG);
	assert_int_equal(alert_mail_parse_rcpts("Name <a@b.test>", to, &n, &err), TW_E_CONFIG);
	assert_int_equal(alert_mail_parse_rcpts("nobody", to, &n, &err), TW_E_CONFIG);
	assert_int_equal(alert_mail_parse_rcpts(" , ", to, &n, &err), TW_E_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_mail_compose),
		cmocka_unit_test(test_mail_rcpts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
