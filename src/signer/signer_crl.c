/*
 * signer_crl.c: structure check and hashing of a streamed TBSCertList (signer_crl.h).
 * Only DER headers are walked here (tag, length); the values inside the fixed fields are
 * validated by OpenSSL on the stub at the end, the entries by their exact shape.
 */
#include "signer/signer_crl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/signer_proto.h"

#define CRL_FIXED_MAX 4096

struct signer_crl_stream {
	char label[SIGNER_LABEL_MAX + 1];
	EVP_MD_CTX *md;
	unsigned char fixed[CRL_FIXED_MAX];    /* version .. nextUpdate, for the stub */
	size_t fixed_len;
	uint64_t rev_len, rev_got, tail_len, total;
	int64_t entries;
};

/* One DER header at p (avail bytes): single-byte tag, definite length up to 2^32-1. */
static int der_hdr(const unsigned char *p, size_t avail, unsigned char *tag, size_t *hl,
	uint64_t *len)
{
	size_t n;

	if (avail < 2)
		return -1;
	*tag = p[0];
	if ((p[0] & 0x1f) == 0x1f)
		return -1;
	if (p[1] < 0x80) {
		*len = p[1];
		*hl = 2;
		return 0;
	}
	n = p[1] & 0x7f;
	if (n == 0 || n > 4 || avail < 2 + n || p[2] == 0)
		return -1;      /* indefinite, too long or not minimal */
	*len = 0;
	for (size_t i = 0; i < n; i++)
		*len = *len << 8 | p[2 + i];
	if (*len < 0x80)
		return -1;
	*hl = 2 + n;
	return 0;
}

static tw_rc bad(struct tw_error *err, const char *what)
{
	return tw_error_set(err, TW_E_INVALID, "streamed CRL refused: %s", what);
}

tw_rc signer_crl_begin(const char *label, const EVP_MD *md, const unsigned char *head,
	size_t len, struct signer_crl_stream **out, struct tw_error *err)
{
	static const unsigned char tags[] = { 0x02, 0x30, 0x30, 0x17, 0x17 };
	struct signer_crl_stream *st = NULL;
	unsigned char tag;
	size_t hl, pos, start;
	uint64_t tbs_len, l;
	tw_rc rc;

	*out = NULL;
	if (der_hdr(head, len, &tag, &hl, &tbs_len) != 0 || tag != 0x30) {
		rc = bad(err, "the head does not start with a SEQUENCE");
		goto fail;
	}
	pos = start = hl;
	for (size_t i = 0; i < sizeof(tags); i++) {
		if (der_hdr(head + pos, len - pos, &tag, &hl, &l) != 0 || l > len - pos - hl ||
		    !(tag == tags[i] || (tags[i] == 0x17 && tag == 0x18))) {
			rc = bad(err, "version, signature, issuer, thisUpdate, nextUpdate expected");
			goto fail;
		}
		pos += hl + (size_t)l;
	}
	if (pos - start > CRL_FIXED_MAX) {
		rc = bad(err, "the fixed fields are too long");
		goto fail;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	st->fixed_len = pos - start;
	memcpy(st->fixed, head + start, st->fixed_len);
	/* The head ends with exactly the revokedCertificates header. */
	if (der_hdr(head + pos, len - pos, &tag, &hl, &st->rev_len) != 0 || tag != 0x30 ||
	    pos + hl != len || st->rev_len == 0) {
		rc = bad(err, "the head must end with the revokedCertificates header");
		goto fail;
	}
	if (tbs_len < (uint64_t)(st->fixed_len + hl) + st->rev_len) {
		rc = bad(err, "the outer length is shorter than its parts");
		goto fail;
	}
	st->tail_len = tbs_len - st->fixed_len - hl - st->rev_len;
	snprintf(st->label, sizeof(st->label), "%s", label);
	if ((st->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(st->md, md, NULL) != 1 ||
	    EVP_DigestUpdate(st->md, head, len) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "cannot start the CRL digest");
		goto fail;
	}
	st->total = len;
	*out = st;
	return TW_OK;
fail:
	signer_crl_free(st);
	return rc;
}

const char *signer_crl_label(const struct signer_crl_stream *st)
{
	return st->label;
}

tw_rc signer_crl_data(struct signer_crl_stream *st, const unsigned char *data, size_t len,
	struct tw_error *err)
{
	size_t pos = 0;

	if (len > st->rev_len - st->rev_got)
		return bad(err, "more entries than the revokedCertificates length announced");
	while (pos < len) {
		unsigned char tag;
		size_t hl, ip, ihl;
		uint64_t l, il;

		if (der_hdr(data + pos, len - pos, &tag, &hl, &l) != 0 || tag != 0x30 ||
		    l > len - pos - hl)
			return bad(err, "a chunk must hold whole revoked entries");
		/* SEQUENCE { INTEGER serial, Time date [, SEQUENCE extensions] }, nothing else */
		ip = pos + hl;
		for (int f = 0; f < 3 && ip < pos + hl + l; f++) {
			if (der_hdr(data + ip, pos + hl + (size_t)l - ip, &tag, &ihl, &il) != 0 ||
			    il > pos + hl + (size_t)l - ip - ihl ||
			    (f == 0 && tag != 0x02) || (f == 1 && tag != 0x17 && tag != 0x18) ||
			    (f == 2 && tag != 0x30))
				return bad(err, "a revoked entry is not { serial, date [, extensions] }");
			ip += ihl + (size_t)il;
		}
		if (ip != pos + hl + l)
			return bad(err, "a revoked entry has trailing fields");
		pos += hl + (size_t)l;
		st->entries++;
	}
	if (EVP_DigestUpdate(st->md, data, len) != 1)
		return tw_error_set(err, TW_E_CRYPTO, "CRL digest failed");
	st->rev_got += len;
	st->total += len;
	return TW_OK;
}

tw_rc signer_crl_end(struct signer_crl_stream *st, const unsigned char *tail, size_t len,
	unsigned char *digest, unsigned int *digest_len, unsigned char **stub, size_t *stub_len,
	int64_t *entries, uint64_t *total, struct tw_error *err)
{
	unsigned char *s, tag;
	size_t content, hl;
	uint64_t l;

	*stub = NULL;
	if (st->rev_got != st->rev_len)
		return bad(err, "fewer entries than the revokedCertificates length announced");
	if (len != st->tail_len || (len > 0 && (der_hdr(tail, len, &tag, &hl, &l) != 0 ||
		tag != 0xa0 || hl + l != len)))
		return bad(err, "the tail must be exactly the crlExtensions the length leaves");
	if (EVP_DigestUpdate(st->md, tail, len) != 1 ||
	    EVP_DigestFinal_ex(st->md, digest, digest_len) != 1)
		return tw_error_set(err, TW_E_CRYPTO, "CRL digest failed");
	/* Stub: SEQUENCE { fixed fields, tail } (< 64 KiB: minimal length, <= 3 bytes). */
	content = st->fixed_len + len;
	if (content > 0xffff || (s = malloc(content + 4)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "cannot build the CRL stub");
	hl = 0;
	s[hl++] = 0x30;
	if (content >= 0x100) {
		s[hl++] = 0x82;
		s[hl++] = (unsigned char)(content >> 8);
	} else if (content >= 0x80) {
		s[hl++] = 0x81;
	}
	s[hl++] = (unsigned char)content;
	memcpy(s + hl, st->fixed, st->fixed_len);
	if (len > 0)
		memcpy(s + hl + st->fixed_len, tail, len);
	*stub = s;
	*stub_len = content + hl;
	*entries = st->entries;
	*total = st->total + len;
	return TW_OK;
}

void signer_crl_free(struct signer_crl_stream *st)
{
	if (st == NULL)
		return;
	EVP_MD_CTX_free(st->md);
	free(st);
}
