/*
 * certstore.h: recording issued certificates in the store (the pki module owns the
 * certificates table; everybody else records and looks up certificates through here).
 */
#ifndef TORWART_PKI_CERTSTORE_H
#define TORWART_PKI_CERTSTORE_H

#include <stdint.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "store/store.h"

/*
 * Insert cert (serial, issuer, subject, validity, SHA-256 fingerprint, DER) with its owner
 * and usage, status "valid". Runs inside the caller's transaction if one is open.
 */
tw_rc pki_certificate_record(struct tw_store *store, int64_t tenant_id, X509 *cert,
	const char *owner_kind, const char *owner_id, const char *usage, struct tw_error *err);
/*
 * The same with the certificate's DER given (stored and fingerprinted as is); cert supplies
 * the other fields and must be that certificate or its TBSCertificate (the caller checked
 * that der's TBSCertificate is cert's, byte for byte). Spares a d2i_X509, which in
 * OpenSSL 3.0 decodes the public key.
 */
tw_rc pki_certificate_record_der(struct tw_store *store, int64_t tenant_id, X509 *cert,
	const unsigned char *der, size_t der_len, const char *owner_kind, const char *owner_id,
	const char *usage, struct tw_error *err);

#endif
