/*
 * fuzz_ws_signed.c: libFuzzer target over the web service's signed request payloads
 * (src/ws/ws_signed.c): the certRevReq of CertificateRevocationRequest and the
 * updDevAdminReq of UpdateDeviceAdmin after base64, i.e. a CMS SignedData and, inside,
 * TorwartRevocationRequest / TorwartDeviceAdminUpdate. The input is tried as a whole
 * CMS message and, directly, as each content type (the content decoders also see
 * bytes whose signature verified, so they must hold on any input).
 *
 * Invariants: on success the outputs are consistent (content non-empty and bounded,
 * signer set; serial non-empty lower-case hex, reason a CRLReason; names printable
 * ASCII within bounds); on failure nothing is returned.
 *
 * Build: see tests/fuzz/meson.build (clang, -Dfuzz=true).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/ws_signed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_names(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > WS_NAME_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (a[i] < 0x21 || a[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_error err;
	unsigned char *content = NULL;
	size_t clen = 0;
	X509 *signer = NULL;
	char serial[WS_SERIAL_MAX + 1], device[WS_NAME_MAX + 1], admin[WS_NAME_MAX + 1];
	int reason = -1;

	if (ws_signed_open(data, size, &content, &clen, &signer, &err) == TW_OK) {
		if (content == NULL || clen == 0 || clen > WS_SIGNED_MAX || signer == NULL)
			abort();
		/* The decoders on verified content, as the service runs them. */
		(void)ws_revreq_decode(content, clen, serial, &reason, &err);
		(void)ws_devadmin_decode(content, clen, device, admin, &err);
	} else if (content != NULL || signer != NULL || clen != 0) {
		abort();
	}
	free(content);
	X509_free(signer);
	if (ws_revreq_decode(data, size, serial, &reason, &err) == TW_OK) {
		if (serial[0] == '\0' || strspn(serial, "0123456789abcdef") != strlen(serial) ||
		    reason < 0 || reason > 10 || reason == 7)
			abort();
	} else if (serial[0] != '\0' || reason != -1) {
		abort();
	}
	if (ws_devadmin_decode(data, size, device, admin, &err) == TW_OK) {
		check_names(device);
		check_names(admin);
	} else if (device[0] != '\0' || admin[0] != '\0') {
		abort();
	}
	return 0;
}
