/*
 * test_progress.c: unit tests of src/base/progress.c, rendered into memory streams: the
 * terminal mode rewrites one line, the plain mode writes whole lines without any control
 * character and no more often than its rate limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"

struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

static void mem_close(struct mem *m)
{
	fclose(m->f);
	free(m->buf);
}

static size_t count_char(const char *s, size_t n, char c)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

static bool has_control_but_newline(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || (unsigned char)s[i] == 0x7f)
			return true;
	return false;
}

static void test_plain_has_no_control_characters(void **state)
{
	struct tw_progress p;
	struct mem m;

	(void)state;
	mem_open(&m);
	tw_progress_init(&p, m.f, 0, false);
	/* The message itself tries to move the cursor: replaced, not passed through. */
	tw_progress_update_at(&p, 1000, "copying \r\033[2Jtable %s", "audit\x1b[K");
	tw_progress_update_at(&p, 1000 + 100, "hidden: inside the rate limit");
	tw_progress_update_at(&p, 1000 + PROGRESS_PLAIN_MS, "table jobs %d rows", 5);
	tw_progress_done(&p, "done: %d rows", 7);
	fflush(m.f);
	assert_false(has_control_but_newline(m.buf, m.len));
	assert_int_equal(count_char(m.buf, m.len, '\r'), 0);
	assert_int_equal(count_char(m.buf, m.len, '\033'), 0);
	assert_null(strstr(m.buf, "hidden"));
	assert_string_equal(m.buf, "copying ??[2Jtable audit?[K\ntable jobs 5 rows\ndone: 7 rows\n");
	tw_progress_clear(&p); /* no effect on a plain stream */
	fflush(m.f);
	assert_int_equal(m.len, strlen("copying ??[2Jtable audit?[K\ntable jobs 5 rows\n"
		"done: 7 rows\n"));
	mem_close(&m);
}

static void test_tty_rewrites_one_line(void **state)
{
	struct tw_progress p;
	struct mem m;

	(void)state;
	mem_open(&m);
	tw_progress_init(&p, m.f, 1, false);
	tw_progress_update_at(&p, 0, "1/3");
	tw_progress_update_at(&p, 10, "skipped: 10 ms after the last draw");
	tw_progress_update_at(&p, PROGRESS_TTY_MS, "2/3");
	tw_progress_done(&p, "3/3 done");
	fflush(m.f);
	assert_string_equal(m.buf, "\r\033[K1/3\r\033[K2/3\r\033[K3/3 done\n");
	assert_int_equal(count_char(m.buf, m.len, '\n'), 1);
	mem_close(&m);

	/* clear removes the in-place line before an error message, once. */
	mem_open(&m);
	tw_progress_init(&p, m.f, 1, false);
	tw_progress_update_at(&p, 0, "x");
	tw_progress_clear(&p);
	tw_progress_clear(&p);
	fflush(m.f);
	assert_string_equal(m.buf, "\r\033[Kx\r\033[K");
	mem_close(&m);
}

static void test_quiet_and_off(void **state)
{
	struct tw_progress p;
	struct mem m;

	(void)state;
	mem_open(&m);
	tw_progress_init(&p, m.f, 0, true);
	tw_progress_update_at(&p, 0, "not shown");
	tw_progress_update_at(&p, 100000, "not shown");
	tw_progress_done(&p, "final");
	fflush(m.f);
	assert_string_equal(m.buf, "final\n");
	mem_close(&m);

	tw_progress_init(&p, NULL, -1, false); /* off: nothing happens, nothing crashes */
	tw_progress_update(&p, "x");
	tw_progress_done(&p, "y");
	tw_progress_clear(&p);

	/* A memory stream is no terminal: auto mode picks plain lines. */
	mem_open(&m);
	tw_progress_init(&p, m.f, -1, false);
	assert_false(p.tty);
	mem_close(&m);
}

static void test_long_message_is_cut(void **state)
{
	struct tw_progress p;
	struct mem m;
	char big[PROGRESS_LINE_MAX * 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mem_open(&m);
	tw_progress_init(&p, m.f, 0, false);
	tw_progress_done(&p, "%s", big);
	fflush(m.f);
	assert_int_equal(m.len, PROGRESS_LINE_MAX); /* LINE_MAX - 1 bytes and the newline */
	mem_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_has_no_control_characters),
		cmocka_unit_test(test_tty_rewrites_one_line),
		cmocka_unit_test(test_quiet_and_off),
		cmocka_unit_test(test_long_message_is_cut),
	};

	return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}
