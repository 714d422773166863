/*
 * ws_signed.h: the signed request payloads of the web service's CertificateRevocationRequest
 * (certRevReq) and UpdateDeviceAdmin (updDevAdminReq). The WSDL types both as
 * xs:base64Binary and the content layout of TR-03129-4 is not in the public WSDL, so
 * Torwart defines it (docs/pki-services.md): a CMS SignedData (RFC 5652, DER, content
 * attached, eContentType id-data, exactly one SignerInfo, the signer's certificate
 * included) whose content is one of
 *
 *   TorwartRevocationRequest ::= SEQUENCE {
 *       serialNumber  INTEGER,      -- of a certificate of this Sub-CA
 *       reason        ENUMERATED }  -- RFC 5280 CRLReason
 *
 *   TorwartDeviceAdminUpdate ::= SEQUENCE {
 *       device        UTF8String,   -- the SMGW participant's name
 *       newAdmin      UTF8String }  -- the new GWA: participant name or market partner id
 *
 * ws_signed_open verifies the CMS signature with the included certificate only; who
 * that certificate belongs to (a SIG certificate of this Sub-CA owned by the caller) is
 * the caller's check against the store. All functions take outside bytes: bounded,
 * no trailing data, typed errors (TW_E_INVALID for malformed, TW_E_CRYPTO for a bad
 * signature), nothing allocated on failure.
 */
#ifndef TORWART_WS_WS_SIGNED_H
#define TORWART_WS_WS_SIGNED_H

#include <stddef.h>

#include <openssl/x509.h>

#include "base/error.h"

#define WS_SIGNED_MAX   (32 * 1024)   /* a signed request with its certificate: ~1.5 KiB */
#define WS_NAME_MAX     128           /* device and admin names */
#define WS_SERIAL_MAX   64            /* hex digits of a serial (RFC 5280: 20 octets) */

/*
 * Verify the CMS SignedData der. On TW_OK *content (caller frees) holds the signed
 * content of *clen bytes and *signer (caller X509_free) the signing certificate.
 */
tw_rc ws_signed_open(const unsigned char *der, size_t len, unsigned char **content,
	size_t *clen, X509 **signer, struct tw_error *err);

/* TorwartRevocationRequest: serial as lower-case hex (no leading zeros), reason code. */
tw_rc ws_revreq_decode(const unsigned char *der, size_t len, char serial[WS_SERIAL_MAX + 1],
	int *reason, struct tw_error *err);

/* TorwartDeviceAdminUpdate: both names NUL-terminated, printable ASCII only. */
tw_rc ws_devadmin_decode(const unsigned char *der, size_t len, char device[WS_NAME_MAX + 1],
	char admin[WS_NAME_MAX + 1], struct tw_error *err);

#endif
