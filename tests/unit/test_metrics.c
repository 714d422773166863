/* test_metrics.c: the Prometheus text helpers (base/metrics.h), the wan's refusal
 * reasons and the metrics listener's loopback rule (issue 15). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"
#include "net/metrics_http.h"
#include "wan/wan_metrics.h"
#include "api/api_resource.h"

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

/* The resource API's query parser (issue 15): strict, known keys once, bounded. */
static void test_api_query(void **state)
{
	struct api_query q;
	struct tw_error err;

	(void)state;
	assert_int_equal(api_query_parse(NULL, &q, &err), TW_OK);
	assert_int_equal(q.limit, API_QUERY_LIMIT_DEFAULT);
	assert_int_equal(api_query_parse("limit=5&cursor=GW-A1&tag=a%20b+c", &q, &err), TW_OK);
	assert_int_equal(q.limit, 5);
	assert_string_equal(q.value[APIQ_CURSOR], "GW-A1");
	assert_string_equal(q.value[APIQ_TAG], "a b c");
	assert_true(q.has[APIQ_TAG] && !q.has[APIQ_STATE]);
	assert_int_equal(api_query_parse("colour=red", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("tag=a&tag=b", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("limit=0", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("limit=501", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("cursor=..%2f", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("tag=%0a", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("tag=%4", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("tag=%", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("tag", &q, &err), TW_E_INVALID);
	assert_int_equal(api_query_parse("&tag=a", &q, &err), TW_E_INVALID);
	assert_false(q.has[APIQ_TAG]);   /* cleared on failure */
}

/* Problem details carry the CLI's typed code and the old error member. */
static void test_problem_details(void **state)
{
	json_t *p = api_problem_json(TW_E_NOT_FOUND, "gateway X is not registered");

	(void)state;
	assert_non_null(p);
	assert_string_equal(json_string_value(json_object_get(p, "type")),
		"urn:torwart:problem:not-found");
	assert_int_equal(json_integer_value(json_object_get(p, "status")), 404);
	assert_string_equal(json_string_value(json_object_get(p, "code")), "not-found");
	assert_string_equal(json_string_value(json_object_get(p, "detail")),
		"gateway X is not registered");
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "error"),
		"code")), "not-found");
	json_decref(p);
	assert_int_equal(api_problem_status(TW_E_DENIED), 403);
	assert_int_equal(api_problem_status(TW_E_INVALID), 400);
	assert_int_equal(api_problem_status(TW_E_EXISTS), 409);
	assert_int_equal(api_problem_status(TW_E_STORE), 500);
}

/* A fleet-order body becomes exactly one `job create` vector, or a clear refusal. */
static void test_fleet_argv(void **state)
{
	const char *ok = "{\"type\":\"ping\",\"tag\":\"shared\",\"why\":\"w\",\"timeout\":60}";
	const char *bad[] = {
		"{\"type\":\"ping\"}",                                   /* no selection */
		"{\"type\":\"ping\",\"tag\":\"a\",\"gateway\":\"b\"}",      /* two */
		"{\"type\":\"ping\",\"tag\":\"a\",\"colour\":1}",          /* unknown member */
		"{\"type\":\"ping\",\"tag\":\"a\",\"tag\":\"b\"}",          /* duplicate key */
		"{\"type\":\"ping\",\"tag\":1}",                           /* not a string */
		"{\"type\":\"ping\",\"tag\":\"a\",\"payload\":[1]}",       /* not an object */
		"[1]", "",
	};
	struct tw_error err;
	json_t *argv = NULL;
	char *why = NULL, *text;

	(void)state;
	assert_int_equal(api_resource_fleet_argv(ok, strlen(ok), &argv, &why, &err), TW_OK);
	text = json_dumps(argv, JSON_COMPACT);
	assert_string_equal(text, "[\"job\",\"create\",\"--type\",\"ping\",\"--tag\",\"shared\","
		"\"--timeout\",\"60\"]");
	assert_string_equal(why, "w");
	free(text);
	free(why);
	json_decref(argv);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(api_resource_fleet_argv(bad[i], strlen(bad[i]), &argv, &why,
			&err), TW_E_INVALID);
		assert_null(argv);
		assert_null(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_refusal_reasons),
		cmocka_unit_test(test_loopback_only),
		cmocka_unit_test(test_api_query),
		cmocka_unit_test(test_problem_details),
		cmocka_unit_test(test_fleet_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
