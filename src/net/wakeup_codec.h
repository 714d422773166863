/*
 * wakeup_codec.h: the signed wake-up datagram (UC-3.3.4, T-WU.1-4), layout in
 * docs/wan-protocol.md ("Wake-up datagram"). Used by the worker (encode, signature by
 * the signer) and by the gateway side (parse, verify; the simulator).
 *
 * Pure functions over bytes: the fuzz target (tests/fuzz/fuzz_wakeup.c) drives exactly
 * the parser the simulator runs. wakeup_parse never returns a half-filled struct.
 */
#ifndef TORWART_NET_WAKEUP_CODEC_H
#define TORWART_NET_WAKEUP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/error.h"

#define WAKEUP_MAGIC        "TWWU"
#define WAKEUP_VERSION      1
#define WAKEUP_ID_MAX       64
#define WAKEUP_NONCE_LEN    16
#define WAKEUP_SIG_MIN      8
#define WAKEUP_SIG_MAX      139     /* DER ECDSA-Sig-Value of a 521-bit key */
/* magic, version, flags, rlen, recipient, glen, gwa_id, timestamp, nonce, slen, sig */
#define WAKEUP_TBS_MAX      (4 + 1 + 1 + 1 + WAKEUP_ID_MAX + 1 + WAKEUP_ID_MAX + 8 + \
	WAKEUP_NONCE_LEN)
#define WAKEUP_MAX          (WAKEUP_TBS_MAX + 2 + WAKEUP_SIG_MAX)   /* 301 */

struct wakeup {
	char recipient[WAKEUP_ID_MAX + 1];   /* SMGW id */
	char gwa_id[WAKEUP_ID_MAX + 1];      /* CN of the GWA SIG certificate */
	uint64_t timestamp_ms;
	unsigned char nonce[WAKEUP_NONCE_LEN];
	unsigned char sig[WAKEUP_SIG_MAX];
	size_t sig_len;
};

/* The octets the signature covers (everything before slen); *len set. */
tw_rc wakeup_encode_tbs(const struct wakeup *w, unsigned char out[WAKEUP_TBS_MAX],
	size_t *len, struct tw_error *err);
/* The whole datagram (w->sig must be set). */
tw_rc wakeup_encode(const struct wakeup *w, unsigned char out[WAKEUP_MAX], size_t *len,
	struct tw_error *err);
/*
 * Parse a datagram strictly (magic, version 1, flags 0, lengths, alphabets, no trailing
 * octets). *tbs_len = length of the signed prefix of buf.
 */
tw_rc wakeup_parse(const unsigned char *buf, size_t len, struct wakeup *out,
	size_t *tbs_len, struct tw_error *err);
/*
 * Verify w->sig over buf[0..tbs_len) with pub (SHA-256/384/512 by key size, as the
 * signer signs). TW_E_CRYPTO when it does not verify.
 */
tw_rc wakeup_verify(const unsigned char *buf, size_t tbs_len, const struct wakeup *w,
	EVP_PKEY *pub, struct tw_error *err);

#endif
