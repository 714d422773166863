/*
 * fuzz_firmware.c: libFuzzer target over the parsers of outside bytes in firmware
 * provisioning and transfer: the manufacturer's CMS container, the manifest JSON inside
 * it, the certified-list JSON (gwa/firmware_cms.h) and the Range header of a download
 * request (gwa/order_firmware.h). The first byte picks the parser; the rest is its input.
 *
 * Invariants beyond "no crash": a parsed manifest has a positive size, a valid label
 * model/version and 64 lower-case hex digits; a parsed list has no more entries than
 * FW_LIST_MAX_ENTRIES and no duplicate pair; an opened container has content within
 * its bound and a signer, and the verdict of a failure is never FW_OK; a parsed range
 * lies inside the image and is at most the maximum long.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gwa/firmware.h"
#include "gwa/firmware_cms.h"
#include "gwa/order_firmware.h"

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

/* Range header (NUL-terminated copy) against a few image sizes and maxima. */
static void check_range(const uint8_t *data, size_t size)
{
	static const int64_t sizes[] = { 1, 300000, (int64_t)1 << 40 };
	char *hdr = malloc(size + 1);

	if (hdr == NULL)
		return;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t first = -1, len = -1;

		if (firmware_range_parse(hdr, sizes[i], 65536, &first, &len, NULL) != TW_OK)
			continue;
		if (first < 0 || len <= 0 || len > 65536 || first + len > sizes[i])
			abort();
	}
	free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: check_manifest(data + 1, size - 1); break;
	case 1: check_list(data + 1, size - 1); break;
	case 2: check_cms(data + 1, size - 1); break;
	default: check_range(data + 1, size - 1); break;
	}
	return 0;
}
