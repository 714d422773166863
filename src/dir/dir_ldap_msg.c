/*
 * dir_ldap_msg.c: dir_ldap_msg.h. A small BER reader over a bounded cursor; every read
 * checks the remaining length first, so no input can make it read outside msg.
 */
#include "dir/dir_ldap_msg.h"

#include <string.h>

struct ber {
	const unsigned char *p;
	size_t left;
};

/* One TLV header: tag byte, content length; cursor then at the content. */
static bool ber_head(struct ber *b, unsigned *tag, size_t *len)
{
	size_t n, l = 0;

	if (b->left < 2)
		return false;
	*tag = b->p[0];
	if ((*tag & 0x1f) == 0x1f)          /* high tag numbers: not in LDAP */
		return false;
	if (b->p[1] < 0x80) {
		l = b->p[1];
		b->p += 2;
		b->left -= 2;
	} else {
		n = b->p[1] & 0x7f;
		if (n == 0 || n > 4 || b->left < 2 + n)   /* indefinite or over-long */
			return false;
		for (size_t i = 0; i < n; i++)
			l = (l << 8) | b->p[2 + i];
		b->p += 2 + n;
		b->left -= 2 + n;
	}
	if (l > b->left)
		return false;
	*len = l;
	return true;
}

/* Enter a TLV with tag: sub covers its content, b moves past it. */
static bool ber_enter(struct ber *b, unsigned want, struct ber *sub)
{
	unsigned tag;
	size_t len;
	struct ber save = *b;

	if (!ber_head(b, &tag, &len) || tag != want) {
		*b = save;
		return false;
	}
	sub->p = b->p;
	sub->left = len;
	b->p += len;
	b->left -= len;
	return true;
}

static bool ber_peek(const struct ber *b, unsigned *tag)
{
	if (b->left < 1)
		return false;
	*tag = b->p[0];
	return true;
}

/* A non-negative INTEGER of at most 4 content bytes (messageID, version). */
static bool ber_int(struct ber *b, unsigned want, int64_t *v)
{
	struct ber c;

	if (!ber_enter(b, want, &c) || c.left == 0 || c.left > 5 || (c.p[0] & 0x80))
		return false;
	*v = 0;
	for (size_t i = 0; i < c.left; i++)
		*v = (*v << 8) | c.p[i];
	return *v <= INT32_MAX;
}

tw_rc dir_ldap_frame(const unsigned char *buf, size_t len, size_t max, size_t *msg_len,
	struct tw_error *err)
{
	size_t n, l = 0;

	*msg_len = 0;
	if (len == 0)
		return TW_OK;
	if (buf[0] != 0x30)
		return tw_error_set(err, TW_E_PROTOCOL, "not an LDAP message (tag 0x%02x)", buf[0]);
	if (len < 2)
		return TW_OK;
	if (buf[1] < 0x80) {
		l = buf[1];
		n = 0;
	} else {
		n = buf[1] & 0x7f;
		if (n == 0 || n > 4)
			return tw_error_set(err, TW_E_PROTOCOL, "LDAP message with an indefinite or "
				"over-long length");
		if (len < 2 + n)
			return TW_OK;
		for (size_t i = 0; i < n; i++)
			l = (l << 8) | buf[2 + i];
	}
	if (l > max || 2 + n + l > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "LDAP message of %zu bytes exceeds the "
			"limit of %zu", l, max);
	*msg_len = 2 + n + l;
	return TW_OK;
}

static tw_rc parse_bind(struct ber *op, struct dir_ldap_msg *out, struct tw_error *err)
{
	struct ber name, auth;
	int64_t version;
	unsigned tag;

	if (!ber_int(op, 0x02, &version) || !ber_enter(op, 0x04, &name) || !ber_peek(op, &tag))
		return tw_error_set(err, TW_E_PROTOCOL, "malformed BindRequest");
	if (tag == 0x80) {
		if (!ber_enter(op, 0x80, &auth))
			return tw_error_set(err, TW_E_PROTOCOL, "malformed simple bind");
		out->bind_simple = true;
		out->bind_anonymous = name.left == 0 && auth.left == 0;
	} else if (tag == 0xa3) {
		struct ber mech;

		if (!ber_enter(op, 0xa3, &auth) || !ber_enter(&auth, 0x04, &mech))
			return tw_error_set(err, TW_E_PROTOCOL, "malformed SASL bind");
		out->bind_sasl = true;
		out->bind_external = mech.left == 8 && memcmp(mech.p, "EXTERNAL", 8) == 0;
	} else {
		return tw_error_set(err, TW_E_PROTOCOL, "BindRequest with an unknown "
			"authentication choice 0x%02x", tag);
	}
	(void)version;
	return TW_OK;
}

tw_rc dir_ldap_parse(const unsigned char *msg, size_t len, struct dir_ldap_msg *out,
	struct tw_error *err)
{
	struct ber b = { msg, len }, seq, op;
	int64_t id;
	unsigned tag;

	memset(out, 0, sizeof(*out));
	out->op = -1;
	if (!ber_enter(&b, 0x30, &seq) || b.left != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "not one LDAP message");
	if (!ber_int(&seq, 0x02, &id))
		return tw_error_set(err, TW_E_PROTOCOL, "LDAP message without a valid messageID");
	out->id = (int32_t)id;
	if (!ber_peek(&seq, &tag) || (tag & 0xc0) != 0x40)
		return tw_error_set(err, TW_E_PROTOCOL, "LDAP message without an operation");
	if (!ber_enter(&seq, tag, &op))
		return tw_error_set(err, TW_E_PROTOCOL, "LDAP operation length exceeds the message");
	out->op = (int)(tag & 0x1f);
	/* What may follow: controls [0] only. */
	if (seq.left > 0) {
		struct ber ctl;

		if (!ber_enter(&seq, 0xa0, &ctl) || seq.left != 0)
			return tw_error_set(err, TW_E_PROTOCOL, "unexpected data after the operation");
	}
	switch (out->op) {
	case DIR_OP_BIND:
		if (tag != 0x60)
			return tw_error_set(err, TW_E_PROTOCOL, "BindRequest is not constructed");
		return parse_bind(&op, out, err);
	case DIR_OP_EXTENDED: {
		struct ber name;

		if (tag != 0x77 || !ber_enter(&op, 0x80, &name) || name.left == 0 ||
		    name.left > DIR_LDAP_OID_MAX)
			return tw_error_set(err, TW_E_PROTOCOL, "malformed ExtendedRequest");
		for (size_t i = 0; i < name.left; i++)
			if (!((name.p[i] >= '0' && name.p[i] <= '9') || name.p[i] == '.'))
				return tw_error_set(err, TW_E_PROTOCOL, "ExtendedRequest name is not "
					"an OID");
		memcpy(out->oid, name.p, name.left);
		out->oid[name.left] = '\0';
		return TW_OK;
	}
	case DIR_OP_UNBIND:
		return tag == 0x42 ? TW_OK : tw_error_set(err, TW_E_PROTOCOL, "malformed "
			"UnbindRequest");
	case DIR_OP_ABANDON:
		return tag == 0x50 ? TW_OK : tw_error_set(err, TW_E_PROTOCOL, "malformed "
			"AbandonRequest");
	case DIR_OP_DEL:
		return tag == 0x4a ? TW_OK : tw_error_set(err, TW_E_PROTOCOL, "malformed DelRequest");
	default:
		if (!(tag & 0x20))
			return tw_error_set(err, TW_E_PROTOCOL, "LDAP operation %d is not constructed",
				out->op);
		return TW_OK;
	}
}

int dir_ldap_response_op(int op)
{
	switch (op) {
	case DIR_OP_BIND: return DIR_OP_BIND_RES;
	case DIR_OP_SEARCH: return DIR_OP_SEARCH_DONE;
	case DIR_OP_MODIFY: return DIR_OP_MODIFY_RES;
	case DIR_OP_ADD: return DIR_OP_ADD_RES;
	case DIR_OP_DEL: return DIR_OP_DEL_RES;
	case DIR_OP_MODDN: return DIR_OP_MODDN_RES;
	case DIR_OP_COMPARE: return DIR_OP_COMPARE_RES;
	case DIR_OP_EXTENDED: return DIR_OP_EXTENDED_RES;
	default: return -1;
	}
}

/* ---- writer ---- */

struct bw {
	unsigned char *out;
	size_t size, len;
	bool full;
};

static size_t len_bytes(size_t l)
{
	return l < 0x80 ? 1 : l < 0x100 ? 2 : l < 0x10000 ? 3 : 4;
}

static void bw_put(struct bw *w, const void *p, size_t n)
{
	if (w->full || w->len + n > w->size) {
		w->full = true;
		return;
	}
	if (n > 0)   /* an empty string may come as NULL: memcpy's arguments must not be */
		memcpy(w->out + w->len, p, n);
	w->len += n;
}

static void bw_head(struct bw *w, unsigned tag, size_t l)
{
	unsigned char h[5];
	size_t n = 0;

	h[n++] = (unsigned char)tag;
	if (l < 0x80) {
		h[n++] = (unsigned char)l;
	} else if (l < 0x100) {
		h[n++] = 0x81;
		h[n++] = (unsigned char)l;
	} else if (l < 0x10000) {
		h[n++] = 0x82;
		h[n++] = (unsigned char)(l >> 8);
		h[n++] = (unsigned char)l;
	} else {
		h[n++] = 0x83;
		h[n++] = (unsigned char)(l >> 16);
		h[n++] = (unsigned char)(l >> 8);
		h[n++] = (unsigned char)l;
	}
	bw_put(w, h, n);
}

/* Minimal two's-complement content of a non-negative value. */
static size_t int_bytes(int64_t v, unsigned char b[5])
{
	size_t n = 0;
	unsigned char tmp[5];

	do {
		tmp[n++] = (unsigned char)(v & 0xff);
		v >>= 8;
	} while (v > 0 && n < 5);
	if (tmp[n - 1] & 0x80)
		tmp[n++] = 0;
	for (size_t i = 0; i < n; i++)
		b[i] = tmp[n - 1 - i];
	return n;
}

size_t dir_ldap_encode_result(unsigned char *out, size_t size, int32_t id, int op,
	int result, const char *diag)
{
	struct bw w = { out, size, 0, false };
	unsigned char idb[5], rcb[5];
	size_t idn = int_bytes(id, idb), rcn = int_bytes(result, rcb);
	size_t dl = diag != NULL ? strlen(diag) : 0;
	size_t res_len, msg_len;

	if (dl > 1024)
		dl = 1024;
	res_len = 1 + 1 + rcn + 2 + 1 + len_bytes(dl) + dl;
	msg_len = 1 + 1 + idn + 1 + len_bytes(res_len) + res_len;
	bw_head(&w, 0x30, msg_len);
	bw_head(&w, 0x02, idn);
	bw_put(&w, idb, idn);
	bw_head(&w, 0x60 | (unsigned)op, res_len);
	bw_head(&w, 0x0a, rcn);
	bw_put(&w, rcb, rcn);
	bw_head(&w, 0x04, 0);
	bw_head(&w, 0x04, dl);
	bw_put(&w, diag, dl);
	return w.full ? 0 : w.len;
}

size_t dir_ldap_encode_external_bind(unsigned char *out, size_t size, int32_t id,
	const char *authzid)
{
	struct bw w = { out, size, 0, false };
	unsigned char idb[5];
	size_t idn = int_bytes(id, idb), al = strlen(authzid);
	size_t sasl_len = 2 + 8 + 1 + len_bytes(al) + al;
	size_t bind_len = 3 + 2 + 1 + len_bytes(sasl_len) + sasl_len;
	size_t msg_len = 2 + idn + 1 + len_bytes(bind_len) + bind_len;

	if (al > 4096)
		return 0;
	bw_head(&w, 0x30, msg_len);
	bw_head(&w, 0x02, idn);
	bw_put(&w, idb, idn);
	bw_head(&w, 0x60, bind_len);
	bw_put(&w, "\x02\x01\x03", 3);       /* version 3 */
	bw_put(&w, "\x04\x00", 2);           /* name: empty */
	bw_head(&w, 0xa3, sasl_len);
	bw_put(&w, "\x04\x08" "EXTERNAL", 10);
	bw_head(&w, 0x04, al);
	bw_put(&w, authzid, al);
	return w.full ? 0 : w.len;
}

tw_rc dir_ldap_bind_result(const unsigned char *msg, size_t len, int32_t *id, int *result,
	struct tw_error *err)
{
	struct ber b = { msg, len }, seq, op, rc;
	int64_t v;

	if (!ber_enter(&b, 0x30, &seq) || !ber_int(&seq, 0x02, &v) ||
	    !ber_enter(&seq, 0x61, &op) || !ber_enter(&op, 0x0a, &rc) || rc.left == 0 ||
	    rc.left > 4)
		return tw_error_set(err, TW_E_PROTOCOL, "the directory did not answer the bind "
			"with a BindResponse");
	*id = (int32_t)v;
	*result = 0;
	for (size_t i = 0; i < rc.left; i++)
		*result = (*result << 8) | rc.p[i];
	return TW_OK;
}
