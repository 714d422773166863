/*
 * fuzz_context_backup.c: libFuzzer target over the backup file of a certificate-
 * management context (gwa/gwa_context_backup.c, gwa_ctx_backup_parse): JSON from outside
 * with base64 certificates.
 *
 * Invariants: TW_OK <=> a filled backup whose every entry has 1..STORE_CTX_DER_MAX bytes
 * of DER; on failure nothing is left allocated (out zeroed).
 */
#include <stdint.h>
#include <stdlib.h>

#include "gwa/gwa_context_backup.h"
#include "store/store_gwa_context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gwa_ctx_backup b;
	struct tw_error err;

	if (gwa_ctx_backup_parse(data, size, &b, &err) == TW_OK) {
		for (size_t i = 0; i < b.n; i++)
			if (b.items[i].der == NULL || b.items[i].der_len == 0 ||
			    b.items[i].der_len > STORE_CTX_DER_MAX)
				abort();
		gwa_ctx_backup_free(&b);
	} else if (b.n != 0 || b.items != NULL) {
		abort();
	}
	return 0;
}
