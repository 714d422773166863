/*
 * fuzz_wakeup.c: libFuzzer target over the wake-up datagram codec (net/wakeup_codec.c),
 * the parser every gateway (the simulator) runs on unauthenticated UDP input.
 *
 * Whatever parses must re-encode to exactly the same bytes (the layout is canonical:
 * one encoding per datagram) and verification of a random signature must fail cleanly.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "crypto/keys.h"
#include "net/wakeup_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_key;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[WAKEUP_MAX];
	struct wakeup w;
	size_t tbs_len, len;

	if (fuzz_key == NULL && keys_generate_ec(NID_brainpoolP256r1, &fuzz_key, NULL) != TW_OK)
		abort();
	if (wakeup_parse(data, size, &w, &tbs_len, NULL) != TW_OK)
		return 0;
	if (tbs_len == 0 || tbs_len > size ||
	    wakeup_encode(&w, out, &len, NULL) != TW_OK || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	/* A fuzzer cannot forge our key's signature; verification must just say no. */
	if (wakeup_verify(data, tbs_len, &w, fuzz_key, NULL) == TW_OK)
		abort();
	return 0;
}
