/*
 * test_conn.c: unit tests of the connection layer's pure parts (issue 9): the api's
 * login throttle table, the pre-authentication header reader and the guard's limits.
 * The guard itself (shedding, deadlines) runs against real sockets in
 * tests/integration/exhaustion.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_preauth.h"
#include "api/api_throttle.h"
#include "base/config.h"
#include "net/bev_coalesce.h"
#include "net/conn_guard.h"
#include "net/loop_base.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

static void test_throttle_per_key(void **state)
{
	struct api_throttle *t = NULL;
	struct tw_error err;

	(void)state;
	assert_int_equal(api_throttle_new(8, &t, &err), TW_OK);
	for (int i = 0; i < 3; i++) {
		assert_false(api_throttle_locked(t, "ip:192.0.2.1", 3, 1000, 10 + i));
		api_throttle_fail(t, "ip:192.0.2.1", 1000, 10 + i);
	}
	assert_true(api_throttle_locked(t, "ip:192.0.2.1", 3, 1000, 20));
	/* Another address is not affected; the window ends. */
	assert_false(api_throttle_locked(t, "ip:192.0.2.2", 3, 1000, 20));
	assert_false(api_throttle_locked(t, "ip:192.0.2.1", 3, 1000, 1010));
	/* A failure after the window starts a new one. */
	api_throttle_fail(t, "ip:192.0.2.1", 1000, 1010);
	assert_false(api_throttle_locked(t, "ip:192.0.2.1", 3, 1000, 1011));
	api_throttle_free(t);
	assert_int_equal(api_throttle_new(0, &t, &err), TW_E_INVALID);
}

static void test_throttle_bounded(void **state)
{
	struct api_throttle *t = NULL;
	struct tw_error err;
	char key[64];

	(void)state;
	assert_int_equal(api_throttle_new(16, &t, &err), TW_OK);
	for (int i = 0; i < 3; i++)
		api_throttle_fail(t, "cert:locked", 100000, 5000);
	/* Thousands of addresses: the table never grows, the oldest windows go first. */
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "ip:10.0.%d.%d", i / 256, i % 256);
		api_throttle_fail(t, key, 100000, 1000 + i % 4000);
		assert_true(api_throttle_used(t) <= 16);
	}
	assert_int_equal(api_throttle_used(t), 16);
	api_throttle_free(t);
}

static void test_preauth_parse(void **state)
{
	const char *h1 = "POST /v1/commands HTTP/1.1\r\nHost: x\r\ncontent-length:  1234 \r\n"
		"Authorization: Bearer abc.DEF-1\r\n\r\nBODY Authorization: Bearer no\r\n";
	const char *h2 = "POST /v1/login HTTP/1.1\nTransfer-Encoding: chunked\n\n";
	const char *h3 = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
		"Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n";
	const char *h4 = "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n"
		"Authorization: Basic xyz\r\n\r\n";
	const char *h5 = "Authorization: Bearer first-line-is-the-request-line\r\n\r\n";
	struct api_preauth p;

	(void)state;
	api_preauth_parse(h1, strlen(h1), &p);
	assert_true(p.has_length);
	assert_int_equal(p.length, 1234);
	assert_true(p.has_token);
	assert_string_equal(p.token, "abc.DEF-1");
	assert_false(p.chunked);
	assert_false(api_preauth_may_exceed(&p, 16384));
	assert_true(api_preauth_may_exceed(&p, 1000));

	api_preauth_parse(h2, strlen(h2), &p);
	assert_true(p.chunked);
	assert_false(p.has_token);
	assert_true(api_preauth_may_exceed(&p, 16384));

	/* Duplicates: the length is unusable, the token ambiguous. */
	api_preauth_parse(h3, strlen(h3), &p);
	assert_true(p.bad);
	assert_false(p.has_token);
	assert_true(api_preauth_may_exceed(&p, 16384));

	api_preauth_parse(h4, strlen(h4), &p);
	assert_true(p.bad);
	assert_false(p.has_token);

	api_preauth_parse(h5, strlen(h5), &p);
	assert_false(p.has_token);

	/* Truncated input: nothing read beyond len. */
	api_preauth_parse(h1, 40, &p);
	assert_false(p.has_token);
	api_preauth_parse("", 0, &p);
	assert_false(p.has_length);
}

/*
 * bev_coalesce: a small message added in two chains (evhttp: header block, then the body
 * moved in) is one chain afterwards, bytes in order; a buffer above one TLS record is
 * left in its chains; a buffer without the callback keeps its two chains (so the check
 * fails without the callback).
 */
static void test_coalesce_small_messages(void **state)
{
	struct event_base *base = loop_base_new();
	struct bufferevent *bev, *plain;
	struct evbuffer *body, *out;
	static char big[BEV_COALESCE_MAX];
	struct evbuffer_iovec vec;

	(void)state;
	assert_non_null(base);
	bev = bufferevent_socket_new(base, -1, 0);
	plain = bufferevent_socket_new(base, -1, 0);
	assert_non_null(bev);
	assert_non_null(plain);
	assert_true(bev_coalesce_writes(bev));
	for (int i = 0; i < 2; i++) {
		out = bufferevent_get_output(i == 0 ? bev : plain);
		body = evbuffer_new();
		assert_non_null(body);
		evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n");
		evbuffer_add_printf(out, "Content-Length: 7\r\n\r\n");
		evbuffer_add(body, "{\"a\":1}", 7);
		evbuffer_add_buffer(out, body);
		evbuffer_free(body);
		assert_int_equal(evbuffer_peek(out, -1, NULL, NULL, 0), i == 0 ? 1 : 2);
		assert_int_equal(evbuffer_get_length(out), 17 + 21 + 7);
		/* A bufferevent's output is frozen at its start: read it through peek. */
		if (i == 0) {
			assert_int_equal(evbuffer_peek(out, -1, NULL, &vec, 1), 1);
			assert_int_equal(vec.iov_len, 45);
			assert_memory_equal(vec.iov_base,
				"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}", 45);
		}
	}
	/* Above one record: left as it is (the bufferevent writes it in records anyway). */
	out = bufferevent_get_output(bev);
	body = evbuffer_new();
	assert_non_null(body);
	memset(big, 'x', sizeof(big));
	evbuffer_add(body, big, sizeof(big));
	evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	assert_int_equal(evbuffer_get_length(out), 45 + sizeof(big));
	assert_int_equal(evbuffer_peek(out, -1, NULL, NULL, 0), 2);
	bufferevent_free(bev);
	bufferevent_free(plain);
	event_base_free(base);
}

static void test_guard_limits(void **state)
{
	struct tw_config *conf = NULL;
	struct conn_guard_limits lim;
	struct tw_error err;
	const char *t1 = "[wan]\nmax_connections = 50\nhandshake_timeout = 3\n"
		"[api]\nhttp_request_timeout = 7\n";
	const char *t2 = "[wan]\nhandshake_timeout = 0\n";

	(void)state;
	assert_int_equal(tw_config_parse(t1, strlen(t1), "test", &conf, &err), TW_OK);
	assert_int_equal(conn_guard_limits_load(conf, "wan", "", 20000, 256, &lim, &err), TW_OK);
	assert_int_equal(lim.max_conns, 50);
	assert_int_equal(lim.per_source, 256);
	assert_int_equal(lim.handshake_ms, 3000);
	assert_int_equal(lim.request_ms, 30000);
	assert_int_equal(conn_guard_limits_load(conf, "api", "http_", 1024, 64, &lim, &err),
		TW_OK);
	assert_int_equal(lim.request_ms, 7000);
	assert_int_equal(lim.max_conns, 1024);
	tw_config_free(conf);
	assert_int_equal(tw_config_parse(t2, strlen(t2), "test", &conf, &err), TW_OK);
	assert_int_not_equal(conn_guard_limits_load(conf, "wan", "", 20000, 256, &lim, &err),
		TW_OK);
	assert_non_null(strstr(err.message, "handshake_timeout"));
	tw_config_free(conf);
	/* A cap beyond the descriptors is clamped to what fits. */
	lim.max_conns = 1L << 40;
	lim.max_explicit = true;
	conn_guard_fit_nofile("test", 64, &lim);
	assert_true(lim.max_conns < (1L << 40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_throttle_per_key),
		cmocka_unit_test(test_throttle_bounded),
		cmocka_unit_test(test_preauth_parse),
		cmocka_unit_test(test_guard_limits),
		cmocka_unit_test(test_coalesce_small_messages),
	};

	return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
