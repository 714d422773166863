/* test_base.c: unit tests of src/base (errors, buffers, files, config, parsing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "base/error.h"
#include "base/home.h"
#include "base/util.h"

static void test_error_names(void **state)
{
	struct tw_error err;

	(void)state;
	for (int i = 0; i < TW_E__COUNT; i++)
		assert_string_not_equal(tw_strerror((tw_rc)i), "unknown");
	assert_string_equal(tw_strerror((tw_rc)999), "unknown");
	assert_int_equal(tw_error_set(&err, TW_E_INVALID, "bad %s", "thing"), TW_E_INVALID);
	assert_int_equal(err.code, TW_E_INVALID);
	assert_string_equal(err.message, "bad thing");
	assert_int_equal(tw_error_set(NULL, TW_E_IO, "no crash"), TW_E_IO);
	/* Wrapping the message it holds (formatted from the buffer it writes). */
	assert_int_equal(tw_error_set(&err, TW_E_IO, "[wan] listen: %s", err.message),
		TW_E_IO);
	assert_string_equal(err.message, "[wan] listen: bad thing");
	tw_error_clear(&err);
	assert_int_equal(err.code, TW_OK);
	assert_string_equal(err.message, "");
}

static void test_buf_limits(void **state)
{
	struct tw_buf buf;
	struct tw_error err;

	(void)state;
	tw_buf_init(&buf, 8);
	assert_int_equal(tw_buf_append(&buf, "1234", 4, &err), TW_OK);
	assert_int_equal(tw_buf_append(&buf, "5678", 4, &err), TW_OK);
	assert_int_equal(buf.len, 8);
	assert_string_equal((char *)buf.data, "12345678");
	/* One byte over the named maximum is refused and leaves the content alone. */
	assert_int_equal(tw_buf_append(&buf, "9", 1, &err), TW_E_TOO_LARGE);
	assert_int_equal(buf.len, 8);
	tw_buf_reset(&buf);
	assert_int_equal(tw_buf_appendf(&buf, &err, "%d-%s", 42, "x"), TW_OK);
	assert_string_equal((char *)buf.data, "42-x");
	assert_int_equal(tw_buf_appendf(&buf, &err, "%s", "too long now"), TW_E_TOO_LARGE);
	tw_buf_free(&buf);
}

static void test_parse_long_and_hostport(void **state)
{
	struct tw_error err;
	uint16_t port = 0;
	char *host = NULL;
	long v = 0;

	(void)state;
	assert_int_equal(tw_parse_long("42", 0, 100, &v, &err, "n"), TW_OK);
	assert_int_equal(v, 42);
	assert_int_equal(tw_parse_long("42x", 0, 100, &v, &err, "n"), TW_E_INVALID);
	assert_int_equal(tw_parse_long("", 0, 100, &v, &err, "n"), TW_E_INVALID);
	assert_int_equal(tw_parse_long("101", 0, 100, &v, &err, "n"), TW_E_INVALID);
	assert_int_equal(tw_parse_long("99999999999999999999", 0, 100, &v, &err, "n"),
		TW_E_INVALID);

	assert_int_equal(tw_parse_hostport("127.0.0.1:7443", &host, &port, &err), TW_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7443);
	free(host);
	assert_int_equal(tw_parse_hostport("[::1]:80", &host, &port, &err), TW_OK);
	assert_string_equal(host, "::1");
	free(host);
	assert_int_equal(tw_parse_hostport("localhost", &host, &port, &err), TW_E_INVALID);
	assert_null(host);
	assert_int_equal(tw_parse_hostport("h:0", &host, &port, &err), TW_E_INVALID);
	assert_int_equal(tw_parse_hostport("h:65536", &host, &port, &err), TW_E_INVALID);
	assert_int_equal(tw_parse_hostport(":80", &host, &port, &err), TW_E_INVALID);
	assert_int_equal(tw_parse_hostport("[::1]80", &host, &port, &err), TW_E_INVALID);
}

static void test_hex_and_ct(void **state)
{
	const unsigned char in[4] = { 0x00, 0xab, 0x7f, 0xff };
	unsigned char out[4];
	struct tw_error err;
	char hex[9];

	(void)state;
	tw_hex_encode(in, 4, hex);
	assert_string_equal(hex, "00ab7fff");
	assert_int_equal(tw_hex_decode("00AB7fff", out, 4, &err), TW_OK);
	assert_memory_equal(in, out, 4);
	assert_int_equal(tw_hex_decode("00ab7f", out, 4, &err), TW_E_INVALID);
	assert_int_equal(tw_hex_decode("00ab7fzz", out, 4, &err), TW_E_INVALID);
	assert_true(tw_ct_equal(in, out, 4));
	out[3] ^= 1;
	assert_false(tw_ct_equal(in, out, 4));
}

static void test_time_format(void **state)
{
	char s[40];

	(void)state;
	tw_time_format_utc(1764000000123LL, s, sizeof(s));
	assert_string_equal(s, "2025-11-24T16:00:00.123Z");
}

static void test_config_parse(void **state)
{
	static const char text[] =
		"# comment\n"
		"top = 1\n"
		"[wan]\n"
		"  listen =  127.0.0.1:7443  \n"
		"; other comment\n"
		"threads = 4\n"
		"empty =\n"
		"[signer]\n"
		"policy.sub-ca = certificate,crl\n";
	struct tw_config *conf = NULL;
	struct tw_error err;
	long n = 0;

	(void)state;
	assert_int_equal(tw_config_parse(text, strlen(text), "t", &conf, &err), TW_OK);
	assert_string_equal(tw_config_get(conf, "", "top"), "1");
	assert_string_equal(tw_config_get(conf, "wan", "listen"), "127.0.0.1:7443");
	assert_string_equal(tw_config_get(conf, "wan", "empty"), "");
	assert_null(tw_config_get(conf, "wan", "missing"));
	assert_null(tw_config_get(conf, "api", "listen"));
	assert_string_equal(tw_config_get(conf, "signer", "policy.sub-ca"), "certificate,crl");
	assert_int_equal(tw_config_get_long(conf, "wan", "threads", 0, 0, 64, &n, &err), TW_OK);
	assert_int_equal(n, 4);
	assert_int_equal(tw_config_get_long(conf, "wan", "nothing", 7, 0, 64, &n, &err), TW_OK);
	assert_int_equal(n, 7);
	assert_int_equal(tw_config_get_long(conf, "wan", "listen", 0, 0, 64, &n, &err),
		TW_E_CONFIG);
	assert_int_equal(err.code, TW_E_CONFIG);
	tw_config_free(conf);
}

static void test_config_rejects(void **state)
{
	static const char *const bad[] = {
		"[wan\nx=1\n",           /* unterminated section */
		"[wan]\nx\n",            /* no '=' */
		"[wan]\nx=1\nx=2\n",     /* duplicate */
		"[w a n]\n",             /* bad section name */
		"[wan]\nk y=1\n",        /* bad key */
		"[wan]\n=1\n",           /* empty key */
	};
	struct tw_config *conf = NULL;
	struct tw_error err;
	char longline[TW_CONFIG_MAX_LINE + 10];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tw_config_parse(bad[i], strlen(bad[i]), "t", &conf, &err),
			TW_E_CONFIG);
		assert_null(conf);
		assert_non_null(strstr(err.message, "t:"));
	}
	memset(longline, 'a', sizeof(longline) - 1);
	longline[0] = 'k';
	longline[1] = '=';
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(tw_config_parse(longline, strlen(longline), "t", &conf, &err),
		TW_E_CONFIG);
	assert_int_equal(tw_config_parse("a=1\0b=2", 7, "t", &conf, &err), TW_E_CONFIG);
}

/* `policy set` edits torwart.conf in place: replace, insert, append; keep the rest. */
static void text_set_expect(const char *in, const char *section, const char *key,
	const char *value, const char *want)
{
	struct tw_error err;
	char *text = strdup(in);
	size_t len = strlen(in);

	assert_non_null(text);
	assert_int_equal(tw_config_text_set(&text, &len, section, key, value, &err), TW_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(text, want, len);
	free(text);
}

static void test_config_text_set(void **state)
{
	struct tw_error err;
	char *text;
	size_t len;

	(void)state;
	text_set_expect("# c\n[auth]\nsession_ttl = 900\n[api]\nlisten = x\n", "auth",
		"session_ttl", "600", "# c\n[auth]\nsession_ttl = 600\n[api]\nlisten = x\n");
	text_set_expect("[auth]\n# keep\n[api]\nlisten = x\n", "auth", "max_failures", "3",
		"[auth]\nmax_failures = 3\n# keep\n[api]\nlisten = x\n");
	text_set_expect("[api]\nlisten = x", "auth", "approval_ttl", "60",
		"[api]\nlisten = x\n\n[auth]\napproval_ttl = 60\n");
	text_set_expect("", "auth", "four_eyes", "a.b", "\n[auth]\nfour_eyes = a.b\n");
	/* The key in another section is not touched. */
	text_set_expect("[api]\nsession_ttl = 1\n[auth]\n", "auth", "session_ttl", "2",
		"[api]\nsession_ttl = 1\n[auth]\nsession_ttl = 2\n");
	/* Refused, text unchanged: a second line, bad names, a file that no longer parses. */
	text = strdup("[auth]\nx = 1\n");
	len = strlen(text);
	assert_int_equal(tw_config_text_set(&text, &len, "auth", "x", "1\n[evil]", &err),
		TW_E_INVALID);
	assert_int_equal(tw_config_text_set(&text, &len, "au th", "x", "1", &err), TW_E_INVALID);
	assert_int_equal(tw_config_text_set(&text, &len, "auth", "x=y", "1", &err),
		TW_E_INVALID);
	assert_string_equal(text, "[auth]\nx = 1\n");
	free(text);
	text = strdup("[auth]\nbroken line\n");
	len = strlen(text);
	assert_int_equal(tw_config_text_set(&text, &len, "auth", "x", "1", &err), TW_E_CONFIG);
	assert_string_equal(text, "[auth]\nbroken line\n");
	free(text);
}

static void test_files_and_home(void **state)
{
	char dir[] = "/tmp/torwart-test-base-XXXXXX";
	struct tw_error err;
	struct tw_home *home = NULL;
	unsigned char *data = NULL;
	char *path, *sub, *p;
	size_t len = 0;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = tw_asprintf("%s/a/b/c", dir);
	assert_int_equal(tw_mkdir_p(path, 0700, &err), TW_OK);
	assert_true(tw_path_exists(path));
	free(path);
	path = tw_asprintf("%s/f", dir);
	assert_int_equal(tw_write_file(path, "hello", 5, 0600, true, &err), TW_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tw_write_file(path, "again", 5, 0600, true, &err), TW_E_EXISTS);
	assert_int_equal(tw_read_file(path, 100, &data, &len, &err), TW_OK);
	assert_int_equal(len, 5);
	assert_string_equal((char *)data, "hello");
	free(data);
	assert_int_equal(tw_read_file(path, 4, &data, &len, &err), TW_E_TOO_LARGE);
	assert_null(data);
	assert_int_equal(tw_write_file(path, "bye", 3, 0600, false, &err), TW_OK);
	assert_int_equal(tw_read_file(path, 100, &data, &len, &err), TW_OK);
	assert_string_equal((char *)data, "bye");
	free(data);
	free(path);

	/* A directory without torwart.conf is not a home, and the message says how to make one. */
	assert_int_equal(tw_home_open(dir, &home, &err), TW_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "torwart init"));
	path = tw_asprintf("%s/torwart.conf", dir);
	assert_int_equal(tw_write_file(path, "[store]\nurl = db.sqlite\n", 24, 0600, true, &err),
		TW_OK);
	assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
	sub = tw_home_path(home, "store", "url", "x");
	p = tw_asprintf("%s/db.sqlite", home->dir);
	assert_string_equal(sub, p);
	free(sub);
	free(p);
	sub = tw_home_path(home, "wan", "key", "/abs/key.pem");
	assert_string_equal(sub, "/abs/key.pem");
	free(sub);
	tw_home_free(home);
	unlink(path);

	/* One store URL for every process (issue 10): a plain path, "sqlite:REL" and
	 * "sqlite:/ABS" of the same file resolve to the same URL; URLs pass through. */
	{
		static const char *const same[] = { "store.db", "sqlite:store.db", NULL };
		char *want = NULL, *abs_conf;

		for (int i = 0; same[i] != NULL; i++) {
			char *conf = tw_asprintf("[store]\nurl = %s\n", same[i]);

			assert_int_equal(tw_write_file(path, conf, strlen(conf), 0600, false, &err),
				TW_OK);
			free(conf);
			assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
			if (want == NULL)
				want = tw_asprintf("sqlite:%s/store.db", home->dir);
			sub = tw_home_store_url(home);
			assert_string_equal(sub, want);
			free(sub);
			tw_home_free(home);
		}
		abs_conf = tw_asprintf("[store]\nurl = %s\n", want);
		assert_int_equal(tw_write_file(path, abs_conf, strlen(abs_conf), 0600, false, &err),
			TW_OK);
		free(abs_conf);
		assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
		sub = tw_home_store_url(home);
		assert_string_equal(sub, want);
		free(sub);
		tw_home_free(home);
		free(want);
		/* No [store] url: the default file in the home. */
		assert_int_equal(tw_write_file(path, "[wan]\n", 6, 0600, false, &err), TW_OK);
		assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
		sub = tw_home_store_url(home);
		want = tw_asprintf("sqlite:%s/" TW_DEFAULT_STORE, home->dir);
		assert_string_equal(sub, want);
		free(sub);
		free(want);
		tw_home_free(home);
		assert_int_equal(tw_write_file(path, "[store]\nurl = postgresql://db/tw\n", 33, 0600,
			false, &err), TW_OK);
		assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
		sub = tw_home_store_url(home);
		assert_string_equal(sub, "postgresql://db/tw");
		free(sub);
		tw_home_free(home);
		unlink(path);
	}
	free(path);
	path = tw_asprintf("rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
	free(path);
}

/* The source check of DESIGN.md: banned string functions never enter src/. */
static void test_source_has_no_banned_calls(void **state)
{
	const char *src = getenv("TORWART_SOURCE");
	char *cmd;
	int rc;

	(void)state;
	if (src == NULL)
		skip();
	/* Calls only: the bare words may appear in comments. */
	cmd = tw_asprintf("grep -rnE '(^|[^A-Za-z0-9_])"
		"(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|sscanf|gets)[[:space:]]*\\('"
		" --include='*.c' --include='*.h' '%s/src' '%s/bench' '%s/tests' >&2", src, src, src);
	rc = system(cmd);
	free(cmd);
	/* grep exits 1 when nothing matched: that is the pass. */
	assert_int_equal(WEXITSTATUS(rc), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_buf_limits),
		cmocka_unit_test(test_parse_long_and_hostport),
		cmocka_unit_test(test_hex_and_ct),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_config_rejects),
		cmocka_unit_test(test_config_text_set),
		cmocka_unit_test(test_files_and_home),
		cmocka_unit_test(test_source_has_no_banned_calls),
	};

	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
