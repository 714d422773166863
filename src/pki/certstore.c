/* certstore.c: turn an X509 into a certificates row; one place for the field mapping. */
#include "pki/certstore.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include "base/util.h"
#include "crypto/keys.h"

static tw_rc name_oneline(const X509_NAME *name, char *out, size_t size, struct tw_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	tw_rc rc = TW_OK;

	if (bio == NULL || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot print a certificate name");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	if (len < 0 || (size_t)len >= size) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "certificate name longer than %zu bytes",
			size - 1);
		goto out;
	}
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
out:
	BIO_free(bio);
	return rc;
}

static tw_rc asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out, struct tw_error *err)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read a certificate time");
	*out = (int64_t)timegm(&tm);
	return TW_OK;
}

static tw_rc certificate_record(struct tw_store *store, int64_t tenant_id, X509 *cert,
	const unsigned char *given, size_t given_len, const char *owner_kind,
	const char *owner_id, const char *usage, struct tw_error *err)
{
	struct store_certificate row;
	BIGNUM *serial = NULL;
	char *serial_hex = NULL;
	unsigned char *der = NULL;
	int der_len;
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	row.tenant_id = tenant_id;
	if ((rc = tw_strlcpy_checked(row.owner_kind, owner_kind, sizeof(row.owner_kind), err,
		"owner kind")) != TW_OK ||
	    (rc = tw_strlcpy_checked(row.owner_id, owner_id, sizeof(row.owner_id), err,
		"owner id")) != TW_OK ||
	    (rc = tw_strlcpy_checked(row.usage, usage, sizeof(row.usage), err, "usage")) != TW_OK)
		goto out;
	memcpy(row.status, "valid", sizeof("valid"));
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	serial_hex = serial ? BN_bn2hex(serial) : NULL;
	if (serial_hex == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read the certificate serial");
		goto out;
	}
	for (char *p = serial_hex; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	if ((rc = tw_strlcpy_checked(row.serial_hex, serial_hex, sizeof(row.serial_hex), err,
		"serial")) != TW_OK ||
	    (rc = name_oneline(X509_get_issuer_name(cert), row.issuer, sizeof(row.issuer),
		err)) != TW_OK ||
	    (rc = name_oneline(X509_get_subject_name(cert), row.subject, sizeof(row.subject),
		err)) != TW_OK ||
	    (rc = asn1_time_to_epoch(X509_get0_notBefore(cert), &row.not_before, err)) != TW_OK ||
	    (rc = asn1_time_to_epoch(X509_get0_notAfter(cert), &row.not_after, err)) != TW_OK)
		goto out;
	if (given != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int md_len = 0;

		/* The same SHA-256 over the same bytes as keys_cert_fingerprint. */
		if (EVP_Digest(given, given_len, md, &md_len, EVP_sha256(), NULL) != 1 ||
		    md_len != 32) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot hash the certificate");
			goto out;
		}
		tw_hex_encode(md, md_len, row.fingerprint);
		row.der = (unsigned char *)given;   /* only read by the insert; not freed here */
		row.der_len = given_len;
	} else {
		der_len = i2d_X509(cert, &der);
		if (der_len <= 0) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the certificate");
			goto out;
		}
		if ((rc = keys_cert_fingerprint(cert, row.fingerprint, err)) != TW_OK)
			goto out;
		row.der = der;
		row.der_len = (size_t)der_len;
	}
	rc = store_certificate_insert(store, &row, err);
out:
	OPENSSL_free(der);
	OPENSSL_free(serial_hex);
	BN_free(serial);
	return rc;
}

tw_rc pki_certificate_record(struct tw_store *store, int64_t tenant_id, X509 *cert,
	const char *owner_kind, const char *owner_id, const char *usage, struct tw_error *err)
{
	return certificate_record(store, tenant_id, cert, NULL, 0, owner_kind, owner_id, usage,
		err);
}

tw_rc pki_certificate_record_der(struct tw_store *store, int64_t tenant_id, X509 *cert,
	const unsigned char *der, size_t der_len, const char *owner_kind, const char *owner_id,
	const char *usage, struct tw_error *err)
{
	if (der == NULL || der_len == 0)
		return tw_error_set(err, TW_E_INVALID, "no certificate DER to record");
	return certificate_record(store, tenant_id, cert, der, der_len, owner_kind, owner_id,
		usage, err);
}
