/*
 * test_dir.c: unit tests of the directory module's pure parts (issue 11 s.3): DN value
 * escaping, ldapi:// URLs, and the LDAP message reader and writer of the LDAPS front end
 * (the parts a participant's bytes reach). slapd, the publisher and the front end run
 * for real in tests/integration/directory.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir/dir.h"
#include "dir/dir_ldap_msg.h"

static void test_dn_escape(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "A.EMT.DIR", "A.EMT.DIR" },
		{ "a,b+c", "a\\,b\\+c" },
		{ "x=\"<y>;\\", "x\\=\\\"\\<y\\>\\;\\\\" },
		{ " lead", "\\ lead" },
		{ "#hash", "\\#hash" },
		{ "trail ", "trail\\ " },
		{ "in#side", "in#side" },
		{ "nl\nx", "nl\\0Ax" },
	};
	char out[64], tiny[4];
	struct tw_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(dir_dn_escape(cases[i].in, out, sizeof(out), &err), TW_OK);
		assert_string_equal(out, cases[i].out);
	}
	assert_int_equal(dir_dn_escape("", out, sizeof(out), &err), TW_E_INVALID);
	assert_int_equal(dir_dn_escape("abcd", tiny, sizeof(tiny), &err), TW_E_TOO_LARGE);
	assert_int_equal(dir_dn_escape(",,", tiny, sizeof(tiny), &err), TW_E_TOO_LARGE);
}

static void test_ldapi_url(void **state)
{
	char out[64];
	struct tw_error err;

	(void)state;
	assert_int_equal(dir_ldapi_url("/tmp/h 1/run/slapd.sock", out, sizeof(out), &err), TW_OK);
	assert_string_equal(out, "ldapi://%2Ftmp%2Fh%201%2Frun%2Fslapd.sock");
	assert_int_equal(dir_ldapi_url("/a/very/long/path/that/does/not/fit/in/the/buffer/x",
		out, 20, &err), TW_E_TOO_LARGE);
}

static void test_frame(void **state)
{
	static const unsigned char partial[] = { 0x30 };
	static const unsigned char longhdr[] = { 0x30, 0x82, 0x01 };
	static const unsigned char big[] = { 0x30, 0x84, 0x7f, 0xff, 0xff, 0xff };
	static const unsigned char indef[] = { 0x30, 0x80, 0x02, 0x01, 0x01 };
	static const unsigned char notseq[] = { 0x31, 0x03, 0x02, 0x01, 0x01 };
	static const unsigned char ok[] = { 0x30, 0x05, 0x02, 0x01, 0x05, 0x42, 0x00 };
	size_t n = 99;
	struct tw_error err;

	(void)state;
	assert_int_equal(dir_ldap_frame(partial, 0, 1024, &n, &err), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(dir_ldap_frame(partial, sizeof(partial), 1024, &n, &err), TW_OK);
	assert_int_equal(n, 0);
	assert_int_equal(dir_ldap_frame(longhdr, sizeof(longhdr), 1024, &n, &err), TW_OK);
	assert_int_equal(n, 0);                      /* the second length byte is missing */
	assert_int_equal(dir_ldap_frame(big, sizeof(big), 1024, &n, &err), TW_E_TOO_LARGE);
	assert_int_equal(dir_ldap_frame(indef, sizeof(indef), 1024, &n, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_frame(notseq, sizeof(notseq), 1024, &n, &err), TW_E_PROTOCOL);
	/* The header alone tells the whole length. */
	assert_int_equal(dir_ldap_frame(ok, 2, 1024, &n, &err), TW_OK);
	assert_int_equal(n, sizeof(ok));
}

static void test_parse_bind(void **state)
{
	/* anonymous simple bind, id 1 */
	static const unsigned char anon[] = { 0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02,
		0x01, 0x03, 0x04, 0x00, 0x80, 0x00 };
	/* simple bind with a name and a password, id 2 */
	static const unsigned char simple[] = { 0x30, 0x10, 0x02, 0x01, 0x02, 0x60, 0x0b, 0x02,
		0x01, 0x03, 0x04, 0x03, 'c', '=', 'x', 0x80, 0x01, 'p' };
	/* SASL PLAIN, id 3 */
	static const unsigned char plain[] = { 0x30, 0x13, 0x02, 0x01, 0x03, 0x60, 0x0e, 0x02,
		0x01, 0x03, 0x04, 0x00, 0xa3, 0x07, 0x04, 0x05, 'P', 'L', 'A', 'I', 'N' };
	unsigned char buf[256];
	struct dir_ldap_msg m;
	struct tw_error err;
	size_t n;

	(void)state;
	assert_int_equal(dir_ldap_parse(anon, sizeof(anon), &m, &err), TW_OK);
	assert_int_equal(m.op, DIR_OP_BIND);
	assert_int_equal(m.id, 1);
	assert_true(m.bind_simple && m.bind_anonymous && !m.bind_external);
	assert_int_equal(dir_ldap_parse(simple, sizeof(simple), &m, &err), TW_OK);
	assert_true(m.bind_simple && !m.bind_anonymous && !m.bind_external);
	assert_int_equal(dir_ldap_parse(plain, sizeof(plain), &m, &err), TW_OK);
	assert_true(m.bind_sasl && !m.bind_external);
	/* The front end's own bind, as slapd receives it, reads back as SASL EXTERNAL. */
	n = dir_ldap_encode_external_bind(buf, sizeof(buf), 7,
		"dn:cn=emt-a,ou=participants,o=SM-PKI-DE,c=DE");
	assert_true(n > 0);
	assert_int_equal(dir_ldap_parse(buf, n, &m, &err), TW_OK);
	assert_int_equal(m.id, 7);
	assert_true(m.bind_sasl && m.bind_external);
	assert_int_equal(dir_ldap_encode_external_bind(buf, 10, 7, "dn:x"), 0);
}

static void test_parse_other(void **state)
{
	/* ExtendedRequest StartTLS, id 4 */
	static const char starttls_oid[] = "1.3.6.1.4.1.1466.20037";
	unsigned char ext[64];
	size_t ol = strlen(starttls_oid);
	/* AddRequest, id 5: cn=x with one attribute */
	static const unsigned char add[] = { 0x30, 0x17, 0x02, 0x01, 0x05, 0x68, 0x12, 0x04,
		0x04, 'c', 'n', '=', 'x', 0x30, 0x0a, 0x30, 0x08, 0x04, 0x02, 'c', 'n', 0x31, 0x02,
		0x04, 0x00 };
	static const unsigned char unbind[] = { 0x30, 0x05, 0x02, 0x01, 0x06, 0x42, 0x00 };
	static const unsigned char trailing[] = { 0x30, 0x05, 0x02, 0x01, 0x06, 0x42, 0x00,
		0x00 };
	static const unsigned char overlong[] = { 0x30, 0x05, 0x02, 0x01, 0x06, 0x42, 0x05 };
	static const unsigned char negid[] = { 0x30, 0x05, 0x02, 0x01, 0xff, 0x42, 0x00 };
	static const unsigned char hightag[] = { 0x30, 0x06, 0x02, 0x01, 0x01, 0x7f, 0x01, 0x00 };
	static const unsigned char junk_after[] = { 0x30, 0x08, 0x02, 0x01, 0x06, 0x42, 0x00,
		0x04, 0x01, 'x' };
	struct dir_ldap_msg m;
	struct tw_error err;

	(void)state;
	ext[0] = 0x30; ext[1] = (unsigned char)(3 + 2 + 2 + ol);
	ext[2] = 0x02; ext[3] = 0x01; ext[4] = 0x04;
	ext[5] = 0x77; ext[6] = (unsigned char)(2 + ol);
	ext[7] = 0x80; ext[8] = (unsigned char)ol;
	memcpy(ext + 9, starttls_oid, ol);
	assert_int_equal(dir_ldap_parse(ext, 9 + ol, &m, &err), TW_OK);
	assert_int_equal(m.op, DIR_OP_EXTENDED);
	assert_string_equal(m.oid, starttls_oid);
	ext[9] = 'x';                        /* not an OID */
	assert_int_equal(dir_ldap_parse(ext, 9 + ol, &m, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_parse(add, sizeof(add), &m, &err), TW_OK);
	assert_int_equal(m.op, DIR_OP_ADD);
	assert_int_equal(dir_ldap_response_op(m.op), DIR_OP_ADD_RES);
	assert_int_equal(dir_ldap_parse(unbind, sizeof(unbind), &m, &err), TW_OK);
	assert_int_equal(m.op, DIR_OP_UNBIND);
	assert_int_equal(dir_ldap_response_op(m.op), -1);
	assert_int_equal(dir_ldap_parse(trailing, sizeof(trailing), &m, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_parse(overlong, sizeof(overlong), &m, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_parse(negid, sizeof(negid), &m, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_parse(hightag, sizeof(hightag), &m, &err), TW_E_PROTOCOL);
	assert_int_equal(dir_ldap_parse(junk_after, sizeof(junk_after), &m, &err),
		TW_E_PROTOCOL);
}

static void test_encode_result(void **state)
{
	unsigned char buf[2048];
	char diag[1500];
	int32_t id = 0;
	int result = -1;
	struct tw_error err;
	size_t n;

	(void)state;
	n = dir_ldap_encode_result(buf, sizeof(buf), 300, DIR_OP_BIND_RES, 48, "refused");
	assert_true(n > 0);
	assert_int_equal(dir_ldap_bind_result(buf, n, &id, &result, &err), TW_OK);
	assert_int_equal(id, 300);
	assert_int_equal(result, 48);
	/* A long diagnostic is cut, never overflows; an answer must frame as one message. */
	memset(diag, 'd', sizeof(diag) - 1);
	diag[sizeof(diag) - 1] = '\0';
	n = dir_ldap_encode_result(buf, sizeof(buf), 1, DIR_OP_ADD_RES, 50, diag);
	assert_true(n > 1024 && n < 1100);
	{
		size_t mlen = 0;

		assert_int_equal(dir_ldap_frame(buf, n, 4096, &mlen, &err), TW_OK);
		assert_int_equal(mlen, n);
	}
	assert_int_equal(dir_ldap_encode_result(buf, 8, 1, DIR_OP_ADD_RES, 50, "x"), 0);
	/* A SearchResultDone is not a BindResponse. */
	n = dir_ldap_encode_result(buf, sizeof(buf), 2, DIR_OP_SEARCH_DONE, 0, NULL);
	assert_int_equal(dir_ldap_bind_result(buf, n, &id, &result, &err), TW_E_PROTOCOL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dn_escape),
		cmocka_unit_test(test_ldapi_url),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_parse_bind),
		cmocka_unit_test(test_parse_other),
		cmocka_unit_test(test_encode_result),
	};

	return cmocka_run_group_tests_name("dir", tests, NULL, NULL);
}
