/*
 * request_codec.c: the transport and wrapper layers of SM-PKI certificate requests:
 * DER / PEM / base64 input (request_decode), the BSI wrapper SEQUENCE { OID, [0] ... }
 * as an OpenSSL ASN.1 template, and building / taking apart wrappers (request_wrap,
 * request_unwrap, used by reqgen.c). Verification lives in request.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "pki/request.h"
#include "pki/request_internal.h"

ASN1_SEQUENCE(REQUEST_WRAPPER) = {
	ASN1_SIMPLE(REQUEST_WRAPPER, type, ASN1_OBJECT),
	ASN1_EXP(REQUEST_WRAPPER, content, ASN1_ANY, 0),
} static_ASN1_SEQUENCE_END(REQUEST_WRAPPER)

/* ---------------- transport ---------------- */

static bool request_is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

tw_rc request_decode(const unsigned char *in, size_t len, unsigned char **der,
	size_t *der_len, struct tw_error *err)
{
	static const char pem_begin[] = "-----BEGIN ";
	unsigned char *buf = NULL;
	size_t skip = 0;
	tw_rc rc = TW_OK;

	*der = NULL;
	*der_len = 0;
	if (len > REQUEST_MAX_BYTES)
		return tw_error_set(err, TW_E_TOO_LARGE,
			"the request has %zu bytes; at most %d are accepted", len, REQUEST_MAX_BYTES);
	while (skip < len && request_is_space(in[skip]))
		skip++;
	if (skip == len)
		return tw_error_set(err, TW_E_INVALID, "the request is empty");
	if (in[skip] == 0x30) {
		/* DER or BER: both start with a SEQUENCE tag; whitespace before it is not DER. */
		if (skip != 0)
			return tw_error_set(err, TW_E_INVALID, "binary request preceded by whitespace");
		buf = malloc(len);
		if (buf == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory copying the request");
		memcpy(buf, in, len);
		*der = buf;
		*der_len = len;
		return TW_OK;
	}
	if (len - skip >= sizeof(pem_begin) - 1 &&
	    memcmp(in + skip, pem_begin, sizeof(pem_begin) - 1) == 0) {
		BIO *bio = BIO_new_mem_buf(in, (int)len);
		char *name = NULL;
		char *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;

		if (bio == NULL || PEM_read_bio(bio, &name, &header, &data, &dlen) != 1 || dlen <= 0) {
			rc = tw_error_set_openssl(err, TW_E_INVALID,
				"the request looks like PEM but does not decode");
		} else if ((buf = malloc((size_t)dlen)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory decoding the request");
		} else {
			memcpy(buf, data, (size_t)dlen);
			*der = buf;
			*der_len = (size_t)dlen;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		BIO_free(bio);
		return rc;
	}
	/* Bare base64, as in the WSDL's certReq element; EVP_Decode skips line breaks. */
	{
		EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
		int outl = 0;
		int finl = 0;

		buf = malloc(len / 4 * 3 + 3);
		if (ctx == NULL || buf == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory decoding the request");
			goto b64_out;
		}
		EVP_DecodeInit(ctx);
		if (EVP_DecodeUpdate(ctx, buf, &outl, in, (int)len) < 0 ||
		    EVP_DecodeFinal(ctx, buf + outl, &finl) != 1 || outl + finl <= 0 ||
		    buf[0] != 0x30) {
			ERR_clear_error();
			rc = tw_error_set(err, TW_E_INVALID,
				"the request is neither DER, PEM nor base64 of a DER SEQUENCE");
			goto b64_out;
		}
		*der = buf;
		*der_len = (size_t)(outl + finl);
		buf = NULL;
b64_out:
		free(buf);
		EVP_ENCODE_CTX_free(ctx);
		return rc;
	}
}

/* ---------------- wrappers ---------------- */

/*
 * The independent reference request ends with one more end-of-contents pair (00 00) than
 * its indefinite-length encoding closes. Such stray EOC pairs carry nothing, so up to
 * REQUEST_MAX_TRAILING_EOC of them are tolerated; any other trailing byte is an error.
 */
#define REQUEST_MAX_TRAILING_EOC 4

static bool request_only_eoc(const unsigned char *p, size_t n)
{
	if (n % 2 != 0 || n > 2 * REQUEST_MAX_TRAILING_EOC)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0x00)
			return false;
	return true;
}

/* Decode a wrapper that must span [der, der + len) (but for stray EOCs). NULL on error. */
REQUEST_WRAPPER *request_wrapper_d2i(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	REQUEST_WRAPPER *w;

	if (len > REQUEST_MAX_BYTES)
		return NULL;
	w = (REQUEST_WRAPPER *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(REQUEST_WRAPPER));
	if (w != NULL && !request_only_eoc(p, (size_t)(der + len - p))) {
		ASN1_item_free((ASN1_VALUE *)w, ASN1_ITEM_rptr(REQUEST_WRAPPER));
		w = NULL;
	}
	return w;
}

int request_wrapper_i2d(const REQUEST_WRAPPER *w, unsigned char **out)
{
	*out = NULL;
	return ASN1_item_i2d((const ASN1_VALUE *)w, out, ASN1_ITEM_rptr(REQUEST_WRAPPER));
}

void request_wrapper_free(REQUEST_WRAPPER *w)
{
	ASN1_item_free((ASN1_VALUE *)w, ASN1_ITEM_rptr(REQUEST_WRAPPER));
}

/* The wrapper's [0] content when it is a SEQUENCE (its complete encoding), else NULL. */
const ASN1_STRING *request_wrapper_seq(const REQUEST_WRAPPER *w)
{
	if (w->content == NULL || w->content->type != V_ASN1_SEQUENCE)
		return NULL;
	return w->content->value.sequence;
}

bool request_oid_is(const ASN1_OBJECT *obj, const char *dotted)
{
	char buf[64];

	return obj != NULL && OBJ_obj2txt(buf, sizeof(buf), obj, 1) > 0 &&
		strcmp(buf, dotted) == 0;
}

void request_oid_text(const ASN1_OBJECT *obj, char *buf, size_t size)
{
	if (obj == NULL || OBJ_obj2txt(buf, (int)size, obj, 1) <= 0)
		(void)snprintf(buf, size, "(none)");
}

tw_rc request_wrap(const char *oid, const unsigned char *content, size_t len,
	unsigned char **out, size_t *out_len, struct tw_error *err)
{
	REQUEST_WRAPPER *w = NULL;
	ASN1_STRING *seq = NULL;
	unsigned char *der = NULL;
	int der_len;
	tw_rc rc = TW_OK;

	*out = NULL;
	*out_len = 0;
	if (len == 0 || len > REQUEST_MAX_BYTES || content[0] != 0x30)
		return tw_error_set(err, TW_E_INVALID,
			"wrapper content must be one DER SEQUENCE of 1..%d bytes", REQUEST_MAX_BYTES);
	w = (REQUEST_WRAPPER *)ASN1_item_new(ASN1_ITEM_rptr(REQUEST_WRAPPER));
	seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	/* ASN1_item_new may already have allocated the (non-optional) ANY. */
	if (w != NULL && w->content == NULL)
		w->content = ASN1_TYPE_new();
	if (w == NULL || seq == NULL || ASN1_STRING_set(seq, content, (int)len) != 1 ||
	    w->content == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the request wrapper");
		goto out;
	}
	ASN1_TYPE_set(w->content, V_ASN1_SEQUENCE, seq);
	seq = NULL;
	ASN1_OBJECT_free(w->type);
	w->type = OBJ_txt2obj(oid, 1);
	if (w->type == NULL) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "\"%s\" is not a dotted OID", oid);
		goto out;
	}
	der_len = ASN1_item_i2d((ASN1_VALUE *)w, &der, ASN1_ITEM_rptr(REQUEST_WRAPPER));
	if (der_len <= 0 || (*out = malloc((size_t)der_len)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot encode the request wrapper");
		goto out;
	}
	memcpy(*out, der, (size_t)der_len);
	*out_len = (size_t)der_len;
out:
	OPENSSL_free(der);
	ASN1_STRING_free(seq);
	request_wrapper_free(w);
	return rc;
}

tw_rc request_unwrap(const unsigned char *der, size_t len, char *oid, size_t oid_size,
	unsigned char **content, size_t *content_len, struct tw_error *err)
{
	REQUEST_WRAPPER *w = request_wrapper_d2i(der, len);
	const ASN1_STRING *seq = w != NULL ? request_wrapper_seq(w) : NULL;
	tw_rc rc = TW_OK;

	*content = NULL;
	*content_len = 0;
	if (seq == NULL || ASN1_STRING_length(seq) <= 0) {
		ERR_clear_error();
		rc = tw_error_set(err, TW_E_INVALID,
			"not a SEQUENCE { OID, [0] SEQUENCE } wrapper");
		goto out;
	}
	request_oid_text(w->type, oid, oid_size);
	*content = malloc((size_t)ASN1_STRING_length(seq));
	if (*content == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory unwrapping a request");
		goto out;
	}
	memcpy(*content, ASN1_STRING_get0_data(seq), (size_t)ASN1_STRING_length(seq));
	*content_len = (size_t)ASN1_STRING_length(seq);
out:
	request_wrapper_free(w);
	return rc;
}
