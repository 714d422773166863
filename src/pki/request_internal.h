/*
 * request_internal.h: what request.c and request_codec.c share (not for other modules):
 * the ContentInfo-shaped BSI wrapper SEQUENCE { type OID, [0] EXPLICIT ANY } and small
 * OID helpers. The public API is request.h.
 */
#ifndef TORWART_PKI_REQUEST_INTERNAL_H
#define TORWART_PKI_REQUEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/asn1.h>

/*
 * The BSI wrappers have exactly the shape of CMS ContentInfo (see the reference request),
 * which lets a renewal's SignedData be handed to the CMS API by swapping the OID.
 */
typedef struct request_wrapper_st {
	ASN1_OBJECT *type;
	ASN1_TYPE *content;
} REQUEST_WRAPPER;

/*
 * Decode a wrapper spanning [der, der + len), tolerating up to 4 stray end-of-contents
 * pairs (00 00) at the end as the reference request has. NULL on any error. Caller frees.
 */
REQUEST_WRAPPER *request_wrapper_d2i(const unsigned char *der, size_t len);
/* DER of w into a new OPENSSL_malloc'ed *out; length or <= 0 on error. */
int request_wrapper_i2d(const REQUEST_WRAPPER *w, unsigned char **out);
void request_wrapper_free(REQUEST_WRAPPER *w);
/* The [0] content's complete encoding when it is a SEQUENCE, else NULL. Borrowed. */
const ASN1_STRING *request_wrapper_seq(const REQUEST_WRAPPER *w);
/* obj equals the dotted OID text. */
bool request_oid_is(const ASN1_OBJECT *obj, const char *dotted);
/* Dotted text of obj into buf ("(none)" if absent). */
void request_oid_text(const ASN1_OBJECT *obj, char *buf, size_t size);

#endif
