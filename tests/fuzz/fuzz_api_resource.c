/*
 * fuzz_api_resource.c: libFuzzer target for the outside bytes the resource API parses
 * (api_resource.c): the query string (filters, limit, cursor) and the JSON bodies of the
 * writes (fleet orders, revocation). The first byte selects the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_resource.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_error err;
	json_t *argv = NULL;
	char *why = NULL, *copy;

	if (size < 1 || size > 70000)
		return 0;
	if ((copy = malloc(size)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';   /* the query is a C string, as evhttp hands it over */
	if (data[0] % 3 == 0) {
		struct api_query q;

		if (api_query_parse(copy, &q, &err) == TW_OK) {
			if (q.limit < 1 || q.limit > API_QUERY_LIMIT_MAX)
				abort();
			for (int i = 0; i < APIQ__COUNT; i++)
				if (strlen(q.value[i]) > API_QUERY_VALUE_MAX)
					abort();
		}
	} else if (data[0] % 3 == 1) {
		if (api_resource_fleet_argv(copy, size - 1, &argv, &why, &err) == TW_OK &&
		    (!json_is_array(argv) || json_array_size(argv) < 6))
			abort();
	} else {
		if (api_resource_revoke_argv("01ab", copy, size - 1, &argv, &why, &err) == TW_OK &&
		    (!json_is_array(argv) || json_array_size(argv) < 3))
			abort();
	}
	json_decref(argv);
	free(why);
	free(copy);
	return 0;
}
