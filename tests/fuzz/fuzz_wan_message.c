/*
 * fuzz_wan_message.c: libFuzzer target over the WAN protocol v1 codec (wan_message.c),
 * the only code in wan/ and sim/ that reads bytes from the network.
 *
 * Every parser sees the input; whatever parses must re-encode and parse back to the
 * same struct (so the encoders never emit what the parsers refuse), and the RFC 3339
 * parser gets the input as a C string.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_wan_message.c
 *        src/net/wan_message.c src/base/{error,util,log}.c -ljansson -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/wan_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wan_session_request req, req2;
	struct wan_session_response res, res2;
	struct wan_error_body eb, eb2;
	struct tw_buf buf;
	char *text;
	int64_t ms;

	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	if (wan_session_request_parse(data, size, &req, NULL) == TW_OK) {
		if (wan_session_request_encode(&req, &buf, NULL) != TW_OK ||
		    wan_session_request_parse(buf.data, buf.len, &req2, NULL) != TW_OK ||
		    memcmp(&req, &req2, sizeof(req)) != 0)
			abort();
	}
	tw_buf_reset(&buf);
	if (wan_session_response_parse(data, size, &res, NULL) == TW_OK) {
		if (wan_session_response_encode(&res, &buf, NULL) != TW_OK ||
		    wan_session_response_parse(buf.data, buf.len, &res2, NULL) != TW_OK ||
		    memcmp(&res, &res2, sizeof(res)) != 0)
			abort();
	}
	tw_buf_reset(&buf);
	if (wan_error_parse(data, size, &eb, NULL) == TW_OK) {
		if (wan_error_encode(eb.code, eb.message, &buf, NULL) != TW_OK ||
		    wan_error_parse(buf.data, buf.len, &eb2, NULL) != TW_OK ||
		    memcmp(&eb, &eb2, sizeof(eb)) != 0)
			abort();
	}
	tw_buf_reset(&buf);
	/* Orders (issue 4): GET /v1/orders answers, results, pending counts, status. */
	{
		struct wan_orders_response o, o2;
		struct wan_order_result r, r2;
		json_t *status = NULL;
		long pending;
		int64_t id;

		if (wan_orders_response_parse(data, size, &o, NULL) == TW_OK) {
			if (wan_orders_response_encode(&o, &buf, NULL) != TW_OK ||
			    wan_orders_response_parse(buf.data, buf.len, &o2, NULL) != TW_OK ||
			    o.has_order != o2.has_order || o.pending_orders != o2.pending_orders ||
			    o.order.id != o2.order.id || strcmp(o.order.type, o2.order.type) != 0 ||
			    (o.has_order && !json_equal(o.order.payload, o2.order.payload)))
				abort();
			wan_orders_response_clear(&o2);
		}
		wan_orders_response_clear(&o);
		tw_buf_reset(&buf);
		if (wan_order_result_parse(data, size, &r, NULL) == TW_OK) {
			if (wan_order_result_encode(&r, &buf, NULL) != TW_OK ||
			    wan_order_result_parse(buf.data, buf.len, &r2, NULL) != TW_OK ||
			    r.ok != r2.ok || strcmp(r.code, r2.code) != 0 ||
			    strcmp(r.message, r2.message) != 0 ||
			    (r.ok && !json_equal(r.result, r2.result)))
				abort();
			wan_order_result_clear(&r2);
		}
		wan_order_result_clear(&r);
		(void)wan_pending_parse(data, size, &pending, NULL);
		/* The one-parse variant agrees with the plain parser on every input. */
		{
			struct wan_session_request a, b;
			tw_rc ra = wan_session_request_parse(data, size, &a, NULL);
			tw_rc rb = wan_session_request_parse_status(data, size, &b, &status, NULL);

			if (ra != rb || (ra == TW_OK && memcmp(&a, &b, sizeof(a)) != 0) ||
			    (rb != TW_OK && status != NULL))
				abort();
			json_decref(status);
		}
		(void)wan_order_id_parse((const char *)data, size, &id, NULL);
	}
	tw_buf_free(&buf);

	text = malloc(size + 1);
	if (text != NULL) {
		memcpy(text, data, size);
		text[size] = '\0';
		(void)wan_time_parse(text, &ms, NULL);
		(void)wan_gateway_id_valid(text);
		free(text);
	}
	return 0;
}
