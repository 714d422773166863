/*
 * fuzz_signer_frame.c: libFuzzer target for the signer's frame decoder, the parser of
 * every byte a signer client can send (signer_proto.h), and for the SIGN_DATA_BATCH
 * element list inside a frame (signer_batch_next).
 *
 * Input = what arrives on the socket: a length prefix and a body. Properties checked:
 * no crash or out-of-bounds read for any input; a decoded message re-encodes, and the
 * re-encoding decodes to the same message (so encoder and decoder agree on the layout).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/signer_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signer_msg m, m2;
	struct tw_error err;
	struct tw_buf out;
	uint32_t len;

	/* The same bytes as a SIGN_DATA_BATCH item list (request DATA or answer PAYLOAD):
	 * every element taken stays inside the input and moves the cursor forward. */
	{
		const unsigned char *p = data, *end = data + size, *item;
		size_t n;

		while (p < end && signer_batch_next(&p, end, SIGNER_BATCH_ITEM_MAX, &item, &n,
		    &err) == TW_OK)
			if (item < data || n == 0 || n > SIGNER_BATCH_ITEM_MAX || item + n > end ||
			    p != item + n)
				abort();
	}
	if (size < SIGNER_LEN_BYTES)
		return 0;
	if (signer_frame_check_len(data, &len, &err) != TW_OK)
		return 0;
	/* Use the advertised length only as far as the input reaches, as a reader would wait. */
	if (len > size - SIGNER_LEN_BYTES)
		len = (uint32_t)(size - SIGNER_LEN_BYTES);
	if (signer_frame_decode(data + SIGNER_LEN_BYTES, len, &m, &err) != TW_OK)
		return 0;
	(void)signer_msg_require(&m, SIGNER_BIT(SIGNER_TAG_LABEL), SIGNER_BIT(SIGNER_TAG_DATA),
		&err);
	tw_buf_init(&out, SIGNER_FRAME_MAX + SIGNER_LEN_BYTES);
	if (signer_frame_encode(&m, &out, &err) != TW_OK)
		abort();   /* everything the decoder accepts must be encodable */
	if (signer_frame_decode(out.data + SIGNER_LEN_BYTES, out.len - SIGNER_LEN_BYTES, &m2,
	    &err) != TW_OK || m2.op != m.op || m2.id != m.id || m2.status != m.status)
		abort();
	for (unsigned t = 1; t <= SIGNER_TAG__MAX; t++) {
		if (m.f[t].present != m2.f[t].present || m.f[t].len != m2.f[t].len ||
		    (m.f[t].present && memcmp(m.f[t].ptr, m2.f[t].ptr, m.f[t].len) != 0))
			abort();
	}
	tw_buf_free(&out);
	return 0;
}
