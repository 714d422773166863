/*
 * fuzz_gwa_cert_order.c: the order "gwa-cert-update" (gwa/gwa_cert_order.c): the payload
 * an operator's job carries (validate) and the result a gateway sends back (on_result),
 * both outside bytes. Input: payload JSON, a NUL byte, result JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "gwa/gwa_renew.h"
#include "gwa/order.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t plen = nul != NULL ? (size_t)(nul - data) : size;
	json_t *payload = json_loadb((const char *)data, plen, 0, NULL);
	json_t *result = nul != NULL ? json_loadb((const char *)nul + 1,
		size - plen - 1, 0, NULL) : NULL;
	struct order_ctx ctx = { .gateway_id = "GW-1", .type = "gwa-cert-update" };
	const struct order_type *t = &order_type_gwa_cert_update;
	struct tw_error err;

	if (payload != NULL) {
		ctx.payload = payload;
		if (t->validate(&ctx, &err) == TW_OK && result != NULL)
			(void)t->on_result(&ctx, result, &err);
	}
	json_decref(payload);
	json_decref(result);
	return 0;
}
