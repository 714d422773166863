/*
 * fuzz_audit_export.c: libFuzzer target for the admin-log parsers of outside bytes: the
 * export reader + offline verifier (audit verify --export) and the proof document parser
 * + checker (audit proof --verify). The first byte picks the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit/export.h"
#include "audit/proof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_verify_result res;
	static struct audit_proof_doc doc;
	struct tw_error err;
	FILE *f;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		if (audit_proof_parse((const char *)data + 1, size - 1, &doc, &err) == TW_OK)
			(void)audit_proof_check(&doc, NULL, &err);
		return 0;
	}
	if ((f = fmemopen((void *)(data + 1), size - 1 > 0 ? size - 1 : 1, "r")) == NULL)
		return 0;
	(void)audit_export_verify(f, NULL, &res, NULL, &err);
	fclose(f);
	return 0;
}
