/*
 * ws_signed.c: ws_signed.h. CMS and the two content types with OpenSSL's DER codecs
 * (ASN.1 templates, no hand-written DER parser).
 */
#include "ws/ws_signed.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

typedef struct {
	ASN1_INTEGER *serial;
	ASN1_ENUMERATED *reason;
} TW_WS_REVREQ;

DECLARE_ASN1_FUNCTIONS(TW_WS_REVREQ)

ASN1_SEQUENCE(TW_WS_REVREQ) = {
	ASN1_SIMPLE(TW_WS_REVREQ, serial, ASN1_INTEGER),
	ASN1_SIMPLE(TW_WS_REVREQ, reason, ASN1_ENUMERATED),
} ASN1_SEQUENCE_END(TW_WS_REVREQ)

typedef struct {
	ASN1_UTF8STRING *device;
	ASN1_UTF8STRING *admin;
} TW_WS_DEVADMIN;

DECLARE_ASN1_FUNCTIONS(TW_WS_DEVADMIN)

ASN1_SEQUENCE(TW_WS_DEVADMIN) = {
	ASN1_SIMPLE(TW_WS_DEVADMIN, device, ASN1_UTF8STRING),
	ASN1_SIMPLE(TW_WS_DEVADMIN, admin, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(TW_WS_DEVADMIN)

IMPLEMENT_ASN1_FUNCTIONS(TW_WS_REVREQ)
IMPLEMENT_ASN1_FUNCTIONS(TW_WS_DEVADMIN)

tw_rc ws_signed_open(const unsigned char *der, size_t len, unsigned char **content,
	size_t *clen, X509 **signer, struct tw_error *err)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *signers = NULL;
	BIO *out = NULL;
	BUF_MEM *mem = NULL;
	tw_rc rc = TW_OK;

	*content = NULL;
	*clen = 0;
	*signer = NULL;
	if (len == 0 || len > WS_SIGNED_MAX)
		return tw_error_set(err, TW_E_INVALID, "the signed request is empty or over %d "
			"bytes", WS_SIGNED_MAX);
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "not one DER CMS ContentInfo");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		rc = tw_error_set(err, TW_E_INVALID, "not a CMS SignedData with id-data content");
		goto out;
	}
	sis = CMS_get0_SignerInfos(cms);
	if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1) {
		rc = tw_error_set(err, TW_E_INVALID, "the SignedData must have exactly one signer");
		goto out;
	}
	{
		ASN1_OCTET_STRING **pos = CMS_get0_content(cms);

		if (pos == NULL || *pos == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "the SignedData carries no content "
				"(detached signatures are not accepted)");
			goto out;
		}
	}
	if ((out = BIO_new(BIO_s_mem())) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * The signature over the content with the certificate the message carries; the
	 * certificate's own standing (ours, SIG, valid, the caller's) is checked against
	 * the store by the caller, which is stronger than any chain check here.
	 */
	if (CMS_verify(cms, NULL, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "the signature of the signed request does not "
			"verify (or its signer certificate is not included)");
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (signers == NULL || sk_X509_num(signers) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "the signed request's signer certificate is "
			"not included");
		goto out;
	}
	BIO_get_mem_ptr(out, &mem);
	if (mem == NULL || mem->length == 0 || mem->length > WS_SIGNED_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "the signed content is empty or too large");
		goto out;
	}
	if ((*content = malloc(mem->length)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*content, mem->data, mem->length);
	*clen = mem->length;
	*signer = sk_X509_value(signers, 0);
	X509_up_ref(*signer);
out:
	sk_X509_free(signers);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}

tw_rc ws_revreq_decode(const unsigned char *der, size_t len, char serial[WS_SERIAL_MAX + 1],
	int *reason, struct tw_error *err)
{
	const unsigned char *p = der;
	TW_WS_REVREQ *r = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	long code;
	tw_rc rc = TW_OK;

	serial[0] = '\0';
	*reason = -1;
	if (len > WS_SIGNED_MAX || (r = d2i_TW_WS_REVREQ(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "the signed content is not a "
			"TorwartRevocationRequest (SEQUENCE { INTEGER, ENUMERATED })");
		goto out;
	}
	if (ASN1_STRING_type(r->serial) == V_ASN1_NEG_INTEGER ||
	    (bn = ASN1_INTEGER_to_BN(r->serial, NULL)) == NULL || BN_is_zero(bn) ||
	    (hex = BN_bn2hex(bn)) == NULL || strlen(hex) > WS_SERIAL_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "serialNumber must be a positive integer of "
			"at most 32 octets");
		goto out;
	}
	for (size_t i = 0; hex[i] != '\0'; i++)
		serial[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
	serial[strlen(hex)] = '\0';
	code = ASN1_ENUMERATED_get(r->reason);
	if (code < 0 || code > 10 || code == 7) {
		serial[0] = '\0';
		rc = tw_error_set(err, TW_E_INVALID, "reason %ld is not an RFC 5280 CRLReason", code);
		goto out;
	}
	*reason = (int)code;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	TW_WS_REVREQ_free(r);
	ERR_clear_error();
	return rc;
}

/* A UTF8String that is 1..WS_NAME_MAX printable ASCII characters, copied. */
static bool ws_name_copy(const ASN1_UTF8STRING *s, char out[WS_NAME_MAX + 1])
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);

	if (d == NULL || n <= 0 || n > WS_NAME_MAX)
		return false;
	for (int i = 0; i < n; i++)
		if (d[i] < 0x21 || d[i] > 0x7e)
			return false;
	memcpy(out, d, (size_t)n);
	out[n] = '\0';
	return true;
}

tw_rc ws_devadmin_decode(const unsigned char *der, size_t len, char device[WS_NAME_MAX + 1],
	char admin[WS_NAME_MAX + 1], struct tw_error *err)
{
	const unsigned char *p = der;
	TW_WS_DEVADMIN *d = NULL;
	tw_rc rc = TW_OK;

	device[0] = admin[0] = '\0';
	if (len > WS_SIGNED_MAX || (d = d2i_TW_WS_DEVADMIN(NULL, &p, (long)len)) == NULL ||
	    p != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "the signed content is not a "
			"TorwartDeviceAdminUpdate (SEQUENCE { UTF8String, UTF8String })");
		goto out;
	}
	if (!ws_name_copy(d->device, device) || !ws_name_copy(d->admin, admin)) {
		device[0] = admin[0] = '\0';
		rc = tw_error_set(err, TW_E_INVALID, "device and newAdmin must be 1..%d printable "
			"ASCII characters without spaces", WS_NAME_MAX);
	}
out:
	TW_WS_DEVADMIN_free(d);
	ERR_clear_error();
	return rc;
}
