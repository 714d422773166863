/* test_metrics.c: the Prometheus text helpers (base/metrics.h), the wan's refusal
 * reasons and the metrics listener's loopback rule (issue 15). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/metrics.h"
#include "net/metrics_http.h"
#include "wan/wan_metrics.h"

static void test_label_escaping(void **state)
{
	struct tw_buf b;
	struct tw_error err;

	(void)state;
	tw_buf_init(&b, 4096);
	assert_int_equal(tw_metrics_family(&b, "x_total", "counter", "help text", &err), TW_OK);
	assert_int_equal(tw_metrics_sample(&b, "x_total", "ca", "a\"b\\c\nd", 7, &err), TW_OK);
	assert_int_equal(tw_metrics_sample(&b, "x_total", NULL, NULL, 0, &err), TW_OK);
	assert_int_equal(tw_buf_append(&b, "", 1, &err), TW_OK);
	assert_string_equal((char *)b.data, "# HELP x_total help text\n# TYPE x_total counter\n"
		"x_total{ca=\"a\\\"b\\\\c\\nd\"} 7\nx_total 0\n");
	tw_buf_free(&b);
}

static void test_histogram_cumulative(void **state)
{
	static struct tw_histogram h;
	struct tw_buf b;
	struct tw_error err;

	(void)state;
	tw_histogram_observe(&h, 500);          /* 0.0005 s: first bucket */
	tw_histogram_observe(&h, 20000);        /* 0.02 s: le 0.025 */
	tw_histogram_observe(&h, 60000000);     /* 60 s: +Inf only */
	tw_buf_init(&b, 8192);
	assert_int_equal(tw_metrics_histogram(&b, "h_seconds", "h", &h, &err), TW_OK);
	assert_int_equal(tw_buf_append(&b, "", 1, &err), TW_OK);
	assert_non_null(strstr((char *)b.data, "h_seconds_bucket{le=\"0.001\"} 1\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_bucket{le=\"0.01\"} 1\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_bucket{le=\"0.025\"} 2\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_bucket{le=\"30\"} 2\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_count 3\n"));
	assert_non_null(strstr((char *)b.data, "h_seconds_sum 60.020500\n"));
	tw_buf_free(&b);
}

static void test_refusal_reasons(void **state)
{
	(void)state;
	assert_string_equal(wan_refusal_name(wan_metrics_classify(
		"handshake failed: no shared cipher")), "handshake");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("certificate revoked")),
		"revoked");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("certificate has expired")),
		"certificate");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("unknown gateway")),
		"unknown_peer");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("gateway disabled")),
		"disabled");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("identity mismatch (alarm)")),
		"identity_mismatch");
	assert_string_equal(wan_refusal_name(wan_metrics_classify("order result too large")),
		"request");
	assert_string_equal(wan_refusal_name(wan_metrics_classify(NULL)), "request");
}

static void test_loopback_only(void **state)
{
	(void)state;
	assert_true(metrics_http_loopback("127.0.0.1"));
	assert_true(metrics_http_loopback("127.9.8.7"));
	assert_true(metrics_http_loopback("::1"));
	assert_true(metrics_http_loopback("localhost"));
	assert_false(metrics_http_loopback("0.0.0.0"));
	assert_false(metrics_http_loopback("::"));
	assert_false(metrics_http_loopback("10.0.0.1"));
	assert_false(metrics_http_loopback("128.0.0.1"));
	assert_false(metrics_http_loopback("example.org"));
	assert_false(metrics_http_loopback(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_refusal_reasons),
		cmocka_unit_test(test_loopback_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
