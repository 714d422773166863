/*
 * wakeup_codec.c: encode, parse and verify the signed wake-up datagram (wakeup_codec.h).
 * Every length is checked against what remains of the datagram before it is used.
 */
#include "net/wakeup_codec.h"

#include <string.h>

#include <openssl/err.h>

static int id_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '_' || c == '-';
}

/* Recipient: SMGW id alphabet. GWA id: printable ASCII (a CN). */
static int text_ok(const char *s, size_t n, int smgw)
{
	if (n == 0 || n > WAKEUP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (smgw ? !id_char(c) : (c < 0x20 || c > 0x7e))
			return 0;
	}
	return 1;
}

tw_rc wakeup_encode_tbs(const struct wakeup *w, unsigned char out[WAKEUP_TBS_MAX],
	size_t *len, struct tw_error *err)
{
	size_t rl = strnlen(w->recipient, sizeof(w->recipient));
	size_t gl = strnlen(w->gwa_id, sizeof(w->gwa_id));
	size_t p = 0;

	*len = 0;
	if (!text_ok(w->recipient, rl, 1))
		return tw_error_set(err, TW_E_INVALID, "wake-up recipient must be 1..%d characters "
			"of [A-Za-z0-9._-]", WAKEUP_ID_MAX);
	if (!text_ok(w->gwa_id, gl, 0))
		return tw_error_set(err, TW_E_INVALID, "wake-up GWA id must be 1..%d printable "
			"ASCII characters", WAKEUP_ID_MAX);
	memcpy(out, WAKEUP_MAGIC, 4);
	p = 4;
	out[p++] = WAKEUP_VERSION;
	out[p++] = 0;
	out[p++] = (unsigned char)rl;
	memcpy(out + p, w->recipient, rl);
	p += rl;
	out[p++] = (unsigned char)gl;
	memcpy(out + p, w->gwa_id, gl);
	p += gl;
	for (int i = 7; i >= 0; i--)
		out[p++] = (unsigned char)(w->timestamp_ms >> (8 * i));
	memcpy(out + p, w->nonce, WAKEUP_NONCE_LEN);
	p += WAKEUP_NONCE_LEN;
	*len = p;
	return TW_OK;
}

tw_rc wakeup_encode(const struct wakeup *w, unsigned char out[WAKEUP_MAX], size_t *len,
	struct tw_error *err)
{
	size_t p;
	tw_rc rc;

	*len = 0;
	if (w->sig_len < WAKEUP_SIG_MIN || w->sig_len > WAKEUP_SIG_MAX)
		return tw_error_set(err, TW_E_INVALID, "wake-up signature must be %d..%d bytes",
			WAKEUP_SIG_MIN, WAKEUP_SIG_MAX);
	if ((rc = wakeup_encode_tbs(w, out, &p, err)) != TW_OK)
		return rc;
	out[p++] = (unsigned char)(w->sig_len >> 8);
	out[p++] = (unsigned char)w->sig_len;
	memcpy(out + p, w->sig, w->sig_len);
	*len = p + w->sig_len;
	return TW_OK;
}

tw_rc wakeup_parse(const unsigned char *buf, size_t len, struct wakeup *out,
	size_t *tbs_len, struct tw_error *err)
{
	struct wakeup w;
	size_t p = 0, n;

	memset(out, 0, sizeof(*out));
	*tbs_len = 0;
	memset(&w, 0, sizeof(w));
	if (buf == NULL || len > WAKEUP_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "wake-up datagram of %zu bytes exceeds %d",
			len, WAKEUP_MAX);
	if (len < 7 || memcmp(buf, WAKEUP_MAGIC, 4) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "not a wake-up datagram (magic)");
	if (buf[4] != WAKEUP_VERSION || buf[5] != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up version %u flags %u not supported",
			buf[4], buf[5]);
	p = 6;
	n = buf[p++];
	if (n == 0 || n > WAKEUP_ID_MAX || len - p < n + 1)
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up recipient length out of range");
	memcpy(w.recipient, buf + p, n);
	if (!text_ok(w.recipient, n, 1))
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up recipient is not an SMGW id");
	p += n;
	n = buf[p++];
	if (n == 0 || n > WAKEUP_ID_MAX || len - p < n)
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up GWA id length out of range");
	memcpy(w.gwa_id, buf + p, n);
	if (!text_ok(w.gwa_id, n, 0))
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up GWA id is not printable ASCII");
	p += n;
	if (len - p < 8 + WAKEUP_NONCE_LEN + 2)
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up datagram truncated");
	for (int i = 0; i < 8; i++)
		w.timestamp_ms = (w.timestamp_ms << 8) | buf[p++];
	memcpy(w.nonce, buf + p, WAKEUP_NONCE_LEN);
	p += WAKEUP_NONCE_LEN;
	*tbs_len = p;
	n = ((size_t)buf[p] << 8) | buf[p + 1];
	p += 2;
	if (n < WAKEUP_SIG_MIN || n > WAKEUP_SIG_MAX || len - p != n) {
		*tbs_len = 0;
		return tw_error_set(err, TW_E_PROTOCOL, "wake-up signature length does not match "
			"the datagram");
	}
	memcpy(w.sig, buf + p, n);
	w.sig_len = n;
	*out = w;
	return TW_OK;
}

tw_rc wakeup_verify(const unsigned char *buf, size_t tbs_len, const struct wakeup *w,
	EVP_PKEY *pub, struct tw_error *err)
{
	const EVP_MD *md;
	EVP_MD_CTX *ctx = NULL;
	int bits, ok;
	tw_rc rc = TW_OK;

	if (pub == NULL || tbs_len == 0 || tbs_len > WAKEUP_TBS_MAX)
		return tw_error_set(err, TW_E_INVALID, "nothing to verify");
	bits = EVP_PKEY_get_bits(pub);
	/* Same digest rule as the signer (signer-protocol.md "Signing rules"). */
	md = bits <= 256 ? EVP_sha256() : bits <= 384 ? EVP_sha384() : EVP_sha512();
	ERR_clear_error();
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set up wake-up verification");
		goto out;
	}
	ok = EVP_DigestVerify(ctx, w->sig, w->sig_len, buf, tbs_len);
	ERR_clear_error();
	if (ok != 1)
		rc = tw_error_set(err, TW_E_CRYPTO, "wake-up signature does not verify");
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}
