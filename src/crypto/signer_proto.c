/*
 * signer_proto.c: encoder and strict decoder of signer frames (signer_proto.h).
 *
 * This is the one parser of bytes that cross the signer's trust boundary, so it never
 * reads a length it has not checked against what is left of the body, and it rejects
 * everything it does not expect instead of skipping it (OpenBSD imsg habit).
 */
#include "crypto/signer_proto.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/signer.h"

static const struct {
	uint32_t min;
	uint32_t max;
	int text;      /* must not contain NUL (it becomes a C string) */
} tag_limits[SIGNER_TAG__MAX + 1] = {
	[SIGNER_TAG_ACTOR] = { 1, SIGNER_ACTOR_MAX, 1 },
	[SIGNER_TAG_ROLE] = { 1, SIGNER_ROLE_MAX, 1 },
	[SIGNER_TAG_LABEL] = { 1, SIGNER_LABEL_MAX, 1 },
	[SIGNER_TAG_CURVE] = { 3, SIGNER_OID_MAX, 0 },
	[SIGNER_TAG_PURPOSE] = { 1, 1, 0 },
	[SIGNER_TAG_DATA] = { 1, SIGNER_DATA_MAX, 0 },
	[SIGNER_TAG_MESSAGE] = { 1, SIGNER_MESSAGE_MAX, 1 },
	[SIGNER_TAG_PAYLOAD] = { 1, SIGNER_DATA_MAX, 0 },
	[SIGNER_TAG_AAD] = { 1, SIGNER_AAD_MAX, 1 },
};

const char *signer_purpose_name(enum signer_purpose purpose)
{
	switch (purpose) {
	case SIGNER_PURPOSE_CERTIFICATE: return "certificate";
	case SIGNER_PURPOSE_CRL: return "crl";
	case SIGNER_PURPOSE_WAKEUP: return "wakeup";
	case SIGNER_PURPOSE_TREE_HEAD: return "tree-head";
	case SIGNER_PURPOSE_AUTHORISATION: return "authorisation";
	case SIGNER_PURPOSE_INITIAL_CONFIG: return "initial-config";
	case SIGNER_PURPOSE_DELIVERY_NOTE: return "delivery-note";
	case SIGNER_PURPOSE_CERT_REQUEST: return "certreq";
	case SIGNER_PURPOSE_TLS_HANDSHAKE: return "tls-handshake";
	}
	return NULL;
}

const char *signer_op_name(uint8_t op)
{
	switch (op & ~SIGNER_OP_RESPONSE) {
	case SIGNER_OP_HELLO: return "hello";
	case SIGNER_OP_GET_PUBLIC_KEY: return "get-public-key";
	case SIGNER_OP_GENERATE_KEY: return "generate-key";
	case SIGNER_OP_SIGN_CERTIFICATE: return "sign-certificate";
	case SIGNER_OP_SIGN_DATA: return "sign-data";
	case SIGNER_OP_SIGN_CERTIFICATES: return "sign-certificates";
	case SIGNER_OP_CRL_BEGIN: return "crl-begin";
	case SIGNER_OP_CRL_DATA: return "crl-data";
	case SIGNER_OP_CRL_END: return "crl-end";
	case SIGNER_OP_CUSTODIAN_SHARE: return "custodian-share";
	case SIGNER_OP_ACTIVATION: return "activation";
	case SIGNER_OP_SEAL: return "seal";
	case SIGNER_OP_UNSEAL: return "unseal";
	case SIGNER_OP_KEY_ROTATE: return "key-rotate";
	case SIGNER_OP_SIGN_DATA_BATCH: return "sign-data-batch";
	}
	return "unknown";
}

static int op_known(uint8_t op)
{
	uint8_t base = op & (uint8_t)~SIGNER_OP_RESPONSE;

	return base >= SIGNER_OP_HELLO && base <= SIGNER_OP__LAST;
}

static uint32_t get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

void signer_msg_init(struct signer_msg *msg, uint8_t op, uint16_t id)
{
	memset(msg, 0, sizeof(*msg));
	msg->op = op;
	msg->id = id;
}

void signer_msg_set(struct signer_msg *msg, enum signer_tag tag, const void *ptr, size_t len)
{
	if ((int)tag < 1 || tag > SIGNER_TAG__MAX)
		return;
	msg->f[tag].ptr = ptr;
	/* Lengths over UINT32_MAX cannot be represented; the encoder rejects them by limit. */
	msg->f[tag].len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	msg->f[tag].present = 1;
}

void signer_msg_set_str(struct signer_msg *msg, enum signer_tag tag, const char *s)
{
	signer_msg_set(msg, tag, s, strlen(s));
}

int signer_label_valid(const char *label, size_t len)
{
	if (len == 0 || len > SIGNER_LABEL_MAX || label[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static tw_rc field_check(unsigned tag, const unsigned char *p, uint32_t len,
	struct tw_error *err)
{
	if (len < tag_limits[tag].min)
		return tw_error_set(err, TW_E_PROTOCOL, "field %u is shorter than %u bytes", tag,
			tag_limits[tag].min);
	if (len > tag_limits[tag].max)
		return tw_error_set(err, TW_E_TOO_LARGE, "field %u is longer than %u bytes", tag,
			tag_limits[tag].max);
	if (tag_limits[tag].text && memchr(p, '\0', len) != NULL)
		return tw_error_set(err, TW_E_PROTOCOL, "text field %u contains a NUL byte", tag);
	if (tag == SIGNER_TAG_LABEL && !signer_label_valid((const char *)p, len))
		return tw_error_set(err, TW_E_PROTOCOL,
			"key label may use only letters, digits, '.', '_', '-' (not first '.')");
	return TW_OK;
}

tw_rc signer_frame_check_len(const unsigned char prefix[SIGNER_LEN_BYTES],
	uint32_t *body_len, struct tw_error *err)
{
	uint32_t n = get_u32(prefix);

	*body_len = 0;
	if (n > SIGNER_FRAME_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "frame of %u bytes exceeds the limit of %u",
			n, SIGNER_FRAME_MAX);
	if (n < SIGNER_HEADER_MIN)
		return tw_error_set(err, TW_E_PROTOCOL, "frame of %u bytes is shorter than a header",
			n);
	*body_len = n;
	return TW_OK;
}

tw_rc signer_frame_decode(const unsigned char *body, size_t len, struct signer_msg *msg,
	struct tw_error *err)
{
	size_t off;
	unsigned nfields = 0;

	memset(msg, 0, sizeof(*msg));
	if (len < SIGNER_HEADER_MIN)
		return tw_error_set(err, TW_E_PROTOCOL, "frame of %zu bytes is shorter than a header",
			len);
	if (len > SIGNER_FRAME_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "frame exceeds %u bytes", SIGNER_FRAME_MAX);
	if (body[0] != SIGNER_PROTO_VERSION)
		return tw_error_set(err, TW_E_PROTOCOL,
			"protocol version %u is not supported (this side speaks %u)", body[0],
			SIGNER_PROTO_VERSION);
	if (!op_known(body[1]))
		return tw_error_set(err, TW_E_PROTOCOL, "unknown operation 0x%02x", body[1]);
	msg->op = body[1];
	msg->id = (uint16_t)((body[2] << 8) | body[3]);
	off = SIGNER_HEADER_MIN;
	if (msg->op & SIGNER_OP_RESPONSE) {
		if (len - off < 1)
			return tw_error_set(err, TW_E_PROTOCOL, "response without a status byte");
		if (body[off] >= TW_E__COUNT)
			return tw_error_set(err, TW_E_PROTOCOL, "unknown status %u", body[off]);
		msg->status = body[off];
		off++;
	}
	while (off < len) {
		unsigned tag;
		uint32_t flen;
		tw_rc rc;

		/* 5 = tag byte + length; checked before the length is read. */
		if (len - off < 5)
			return tw_error_set(err, TW_E_PROTOCOL, "truncated field header at offset %zu",
				off);
		tag = body[off];
		flen = get_u32(body + off + 1);
		off += 5;
		if (tag < 1 || tag > SIGNER_TAG__MAX)
			return tw_error_set(err, TW_E_PROTOCOL, "unknown field tag %u", tag);
		if (msg->f[tag].present)
			return tw_error_set(err, TW_E_PROTOCOL, "field %u appears twice", tag);
		if (++nfields > SIGNER_MAX_FIELDS)
			return tw_error_set(err, TW_E_PROTOCOL, "more than %d fields",
				SIGNER_MAX_FIELDS);
		if (flen > len - off)
			return tw_error_set(err, TW_E_PROTOCOL,
				"field %u claims %u bytes but only %zu remain", tag, flen, len - off);
		if ((rc = field_check(tag, body + off, flen, err)) != TW_OK)
			return rc;
		msg->f[tag].ptr = body + off;
		msg->f[tag].len = flen;
		msg->f[tag].present = 1;
		off += flen;
	}
	return TW_OK;
}

tw_rc signer_msg_require(const struct signer_msg *msg, uint32_t required, uint32_t optional,
	struct tw_error *err)
{
	for (unsigned tag = 1; tag <= SIGNER_TAG__MAX; tag++) {
		int want = (required & SIGNER_BIT(tag)) != 0;
		int may = want || (optional & SIGNER_BIT(tag)) != 0;

		if (want && !msg->f[tag].present)
			return tw_error_set(err, TW_E_PROTOCOL, "%s lacks required field %u",
				signer_op_name(msg->op), tag);
		if (!may && msg->f[tag].present)
			return tw_error_set(err, TW_E_PROTOCOL, "%s carries unexpected field %u",
				signer_op_name(msg->op), tag);
	}
	return TW_OK;
}

char *signer_field_strdup(const struct signer_field *f)
{
	char *s = malloc((size_t)f->len + 1);

	if (s == NULL)
		return NULL;
	if (f->len > 0)
		memcpy(s, f->ptr, f->len);
	s[f->len] = '\0';
	return s;
}

tw_rc signer_frame_encode(const struct signer_msg *msg, struct tw_buf *out,
	struct tw_error *err)
{
	unsigned char hdr[SIGNER_LEN_BYTES + SIGNER_HEADER_MIN + 1];
	size_t body = SIGNER_HEADER_MIN, start = out->len, hlen;
	tw_rc rc;

	if (!op_known(msg->op))
		return tw_error_set(err, TW_E_INTERNAL, "encoding unknown operation 0x%02x",
			msg->op);
	if (msg->op & SIGNER_OP_RESPONSE)
		body++;
	/* Validate and size everything first, so that out is untouched on failure. */
	for (unsigned tag = 1; tag <= SIGNER_TAG__MAX; tag++) {
		const struct signer_field *f = &msg->f[tag];

		if (!f->present)
			continue;
		if ((rc = field_check(tag, f->ptr, f->len, err)) != TW_OK)
			return rc;
		body += 5 + (size_t)f->len;
		if (body > SIGNER_FRAME_MAX)
			return tw_error_set(err, TW_E_TOO_LARGE, "request exceeds the %u-byte frame limit",
				SIGNER_FRAME_MAX);
	}
	put_u32(hdr, (uint32_t)body);
	hdr[4] = SIGNER_PROTO_VERSION;
	hdr[5] = msg->op;
	hdr[6] = (unsigned char)(msg->id >> 8);
	hdr[7] = (unsigned char)msg->id;
	hdr[8] = msg->status;
	hlen = (msg->op & SIGNER_OP_RESPONSE) ? 9 : 8;
	if ((rc = tw_buf_append(out, hdr, hlen, err)) != TW_OK)
		goto fail;
	for (unsigned tag = 1; tag <= SIGNER_TAG__MAX; tag++) {
		const struct signer_field *f = &msg->f[tag];
		unsigned char th[5];

		if (!f->present)
			continue;
		th[0] = (unsigned char)tag;
		put_u32(th + 1, f->len);
		if ((rc = tw_buf_append(out, th, sizeof(th), err)) != TW_OK ||
		    (rc = tw_buf_append(out, f->ptr, f->len, err)) != TW_OK)
			goto fail;
	}
	return TW_OK;
fail:
	out->len = start;
	return rc;
}

tw_rc signer_batch_next(const unsigned char **p, const unsigned char *end, size_t max,
	const unsigned char **item, size_t *len, struct tw_error *err)
{
	const unsigned char *q = *p;
	size_t n;

	*item = NULL;
	*len = 0;
	if (q == NULL || end == NULL || end < q || end - q < 2)
		return tw_error_set(err, TW_E_INVALID, "a batch element needs a 2-byte length");
	n = ((size_t)q[0] << 8) | q[1];
	if (n == 0 || n > max || (size_t)(end - q - 2) < n)
		return tw_error_set(err, TW_E_INVALID, "a batch element of %zu bytes (1..%zu, %zu "
			"left)", n, max, (size_t)(end - q - 2));
	*item = q + 2;
	*len = n;
	*p = q + 2 + n;
	return TW_OK;
}
