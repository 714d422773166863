/* fuzz_config.c: libFuzzer target for the INI parser (torwart.conf is operator input). */
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_config *conf = NULL;
	struct tw_error err;
	long n;

	if (tw_config_parse((const char *)data, size, "fuzz", &conf, &err) == TW_OK) {
		/* Exercise the lookups on whatever parsed. */
		(void)tw_config_get(conf, "wan", "listen");
		(void)tw_config_get_long(conf, "wan", "threads", 0, 0, 1024, &n, &err);
		tw_config_free(conf);
	}
	return 0;
}
