/*
 * fuzz_emt_request.c: libFuzzer target over the EMT request codec (UC-3.2.4), the bytes
 * an external market participant sends to POST /v1/emt/cls-requests
 * (wan_emt_cls_request_parse in src/net/wan_message.c).
 *
 * Whatever parses must re-encode and parse back to the same struct, so the encoder never
 * emits what the parser refuses and no accepted body carries more than the struct holds.
 * A refused body must leave the output zeroed (no half-filled struct as success).
 *
 * Build: see tests/fuzz/meson.build (clang, -Dfuzz=true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "net/wan_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct wan_emt_cls_request zero;
	struct wan_emt_cls_request req, back;
	struct tw_buf buf;

	tw_buf_init(&buf, WAN_EMT_BODY_MAX);
	if (wan_emt_cls_request_parse(data, size, &req, NULL) == TW_OK) {
		if (size > WAN_EMT_BODY_MAX ||
		    wan_emt_cls_request_encode(&req, &buf, NULL) != TW_OK ||
		    wan_emt_cls_request_parse(buf.data, buf.len, &back, NULL) != TW_OK ||
		    memcmp(&req, &back, sizeof(req)) != 0)
			abort();
	} else if (memcmp(&req, &zero, sizeof(req)) != 0) {
		abort();
	}
	tw_buf_free(&buf);
	return 0;
}
