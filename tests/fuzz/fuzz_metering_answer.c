/*
 * fuzz_metering_answer.c: the head of an EMT's HTTP answer to a delivery
 * (metering_answer_head), the bytes an EMT endpoint sends back.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "metering/metering_deliver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metering_answer a;

	metering_answer_head((const char *)data, size, &a);
	assert(a.head_len <= size);
	assert(!a.keep_alive || (a.head_len > 0 && a.content_length >= 0));
	assert(a.status == 0 || (a.status >= 100 && a.status <= 599));
	return 0;
}
