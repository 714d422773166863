/*
 * signer_certreq.c: the payload check of the signer purpose certreq (signer_certreq.h).
 *
 * Why a substring check for the key: OpenSSL 3.0 has no getter for a CRMF template's
 * public key; the template's publicKey is [6] IMPLICIT SubjectPublicKeyInfo, i.e. the
 * key's DER SPKI with the tag 0x30 replaced by 0xa6, inside a payload OpenSSL decoded as
 * a CertRequest. A key whose SPKI is not in there is not the template's.
 */
#include "signer/signer_certreq.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crmf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto/key_label.h"
#include "crypto/signer.h"
#include "crypto/signer_proto.h"

/* DER length of len (< 2^24) at *p. */
static void certreq_put_len(unsigned char **p, size_t len)
{
	unsigned char *q = *p;

	if (len < 0x80) {
		*q++ = (unsigned char)len;
	} else if (len < 0x100) {
		*q++ = 0x81;
		*q++ = (unsigned char)len;
	} else if (len < 0x10000) {
		*q++ = 0x82;
		*q++ = (unsigned char)(len >> 8);
		*q++ = (unsigned char)len;
	} else {
		*q++ = 0x83;
		*q++ = (unsigned char)(len >> 16);
		*q++ = (unsigned char)(len >> 8);
		*q++ = (unsigned char)len;
	}
	*p = q;
}

/* id-bsiCertReqMsgs (0.4.0.127.0.7.4.1.1.1), the OID's content octets. */
static const unsigned char certreq_bsi_oid[] = {
	0x04, 0x00, 0x7f, 0x00, 0x07, 0x04, 0x01, 0x01, 0x01,
};

/* True when d is exactly one DER element with tag byte `tag`. */
static bool certreq_one_element(const unsigned char *d, size_t len, unsigned char tag)
{
	const unsigned char *p = d;
	long n = 0;
	int t = 0, cls = 0, inf;

	if (len < 2 || d[0] != tag || len > SIGNER_DATA_MAX)
		return false;
	inf = ASN1_get_object(&p, &n, &t, &cls, (long)len);
	ERR_clear_error();
	return !(inf & 0x80) && (inf & V_ASN1_CONSTRUCTED) && p + n == d + len;
}

/*
 * True when d (one DER SET, checked by certreq_one_element) is a SET OF Attribute whose
 * one contentType attribute has the single value id-bsiCertReqMsgs. Every element must
 * decode as an Attribute: the bytes of the OID somewhere inside another attribute's value
 * are not enough, or the GWA SIG key would sign any SET that merely embeds them.
 */
static bool certreq_is_bsi_signed_attrs(const unsigned char *d, size_t len)
{
	const unsigned char *p = d, *end = d + len;
	long n = 0;
	int t = 0, cls = 0, inf, ctypes = 0;
	bool bsi = false;

	inf = ASN1_get_object(&p, &n, &t, &cls, (long)len);
	if ((inf & 0x80) || p + n != end) {
		ERR_clear_error();
		return false;
	}
	while (p < end) {
		X509_ATTRIBUTE *a = d2i_X509_ATTRIBUTE(NULL, &p, (long)(end - p));
		const ASN1_TYPE *v;

		if (a == NULL) {
			ERR_clear_error();
			return false;
		}
		if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) == NID_pkcs9_contentType) {
			ctypes++;
			v = X509_ATTRIBUTE_count(a) == 1 ? X509_ATTRIBUTE_get0_type(a, 0) : NULL;
			bsi = v != NULL && v->type == V_ASN1_OBJECT &&
				OBJ_length(v->value.object) == sizeof(certreq_bsi_oid) &&
				memcmp(OBJ_get0_data(v->value.object), certreq_bsi_oid,
					sizeof(certreq_bsi_oid)) == 0;
		}
		X509_ATTRIBUTE_free(a);
	}
	return ctypes == 1 && bsi;
}

static bool certreq_contains(const unsigned char *d, size_t len, const unsigned char *needle,
	size_t nlen)
{
	for (size_t i = 0; nlen <= len && i <= len - nlen; i++)
		if (memcmp(d + i, needle, nlen) == 0)
			return true;
	return false;
}

const char *signer_certreq_refusal(const char *label, EVP_PKEY *pub, const unsigned char *d,
	size_t len, const char **kind)
{
	char base[SIGNER_LABEL_MAX + 1];
	unsigned char *spki = NULL, *wrap = NULL;
	const unsigned char *wp;
	OSSL_CRMF_MSG *msg = NULL;
	const char *why = NULL;
	int spki_len;

	*kind = "?";
	signer_label_base(label, base, sizeof(base));
	if (strcmp(base, "gwa-tls") != 0 && strcmp(base, SIGNER_KEY_GWA_SIG) != 0 &&
	    strcmp(base, SIGNER_KEY_GWA_ENC) != 0)
		return "only the GWA's own keys (gwa-tls, gwa-sig, gwa-enc) sign certificate "
			"requests";
	if (len > 0 && d[0] == 0x31) {
		*kind = "outer";
		if (strcmp(base, SIGNER_KEY_GWA_SIG) != 0)
			return "only the GWA SIG key makes the outer signature of a renewal request";
		if (!certreq_one_element(d, len, 0x31) ||
		    !certreq_is_bsi_signed_attrs(d, len))
			return "not the signed attributes of a renewal request (content type "
				"id-bsiCertReqMsgs)";
		return NULL;
	}
	*kind = "pop";
	if (!certreq_one_element(d, len, 0x30))
		return "not a DER CertRequest";
	/* CertReqMsg ::= SEQUENCE { certReq CertRequest, ... }: decode it as one. */
	if ((wrap = malloc(len + 6)) == NULL)
		return "out of memory";
	{
		unsigned char *q = wrap;

		*q++ = 0x30;
		certreq_put_len(&q, len);
		memcpy(q, d, len);
		wp = wrap;
		msg = d2i_OSSL_CRMF_MSG(NULL, &wp, (long)(q - wrap + (long)len));
		if (msg == NULL || wp != q + len)
			why = "not a DER CertRequest";
	}
	/* The template's publicKey [6] IMPLICIT SubjectPublicKeyInfo must be this key. */
	spki_len = why == NULL ? i2d_PUBKEY(pub, &spki) : 0;
	if (why == NULL && spki_len <= 1)
		why = "cannot encode the key's public key";
	if (why == NULL) {
		spki[0] = 0xa6;
		if (!certreq_contains(d, len, spki, (size_t)spki_len))
			why = "the proof of possession is for another public key than this key's";
	}
	OPENSSL_free(spki);
	OSSL_CRMF_MSG_free(msg);
	free(wrap);
	ERR_clear_error();
	return why;
}
