/*
 * fuzz_firmware.c: libFuzzer target over the parsers of outside bytes in firmware
 * provisioning (gwa/firmware_cms.h): the manufacturer's CMS container, the manifest
 * JSON inside it, and the certified-list JSON. The first byte picks the parser; the
 * rest is its input.
 *
 * Invariants beyond "no crash": a parsed manifest has a positive size, a valid label
 * model/version and 64 lower-case hex digits; a parsed list has no more entries than
 * FW_LIST_MAX_ENTRIES and no duplicate pair; an opened container has content within
 * its bound and a signer, and the verdict of a failure is never FW_OK.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gwa/firmware.h"
#include "gwa/firmware_cms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_manifest(const uint8_t *data, size_t size)
{
	struct fw_manifest m;

	if (fw_manifest_parse(data, size, &m, NULL) != TW_OK)
		return;
	if (m.size <= 0 || strlen(m.sha256) != 64 ||
	    firmware_label_check(m.model, "m", NULL) != TW_OK ||
	    firmware_label_check(m.version, "v", NULL) != TW_OK)
		abort();
	for (size_t i = 0; i < 64; i++)
		if (!((m.sha256[i] >= '0' && m.sha256[i] <= '9') ||
		      (m.sha256[i] >= 'a' && m.sha256[i] <= 'f')))
			abort();
}

static void check_list(const uint8_t *data, size_t size)
{
	struct fw_list l;

	if (fw_list_parse(data, size, &l, NULL) != TW_OK) {
		if (l.entries != NULL || l.count != 0)
			abort();
		return;
	}
	if (l.sequence <= 0 || l.count > FW_LIST_MAX_ENTRIES)
		abort();
	for (size_t i = 0; i < l.count; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(l.entries[i].model, l.entries[j].model) == 0 &&
			    strcmp(l.entries[i].version, l.entries[j].version) == 0)
				abort();
	fw_list_clear(&l);
}

static void check_cms(const uint8_t *data, size_t size)
{
	struct fw_signed s;
	enum fw_verdict v = FW_OK;

	if (fw_cms_open(data, size, &s, &v, NULL) != TW_OK) {
		if (v == FW_OK || s.content != NULL || s.signer != NULL)
			abort();
		return;
	}
	if (v != FW_OK || s.signer == NULL || s.content_len == 0 ||
	    s.content_len > FW_CONTENT_MAX_BYTES)
		abort();
	(void)fw_signer_is_gwh_sig(s.signer);
	check_manifest(s.content, s.content_len);
	check_list(s.content, s.content_len);
	fw_signed_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: check_manifest(data + 1, size - 1); break;
	case 1: check_list(data + 1, size - 1); break;
	default: check_cms(data + 1, size - 1); break;
	}
	return 0;
}
