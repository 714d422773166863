/*
 * profile.h: SM-PKI certificate profiles (the shape of the real certificates in
 * ../shared/reference/sm-pki) and issuance through the signer.
 *
 * Issue 2 needs the CA, GWA and SMGW profiles for the test PKI; issue 3 grows this into
 * the full Sub-CA engine (EMT/GWH, per-CA configuration, CRMF requests).
 */
#ifndef TORWART_PKI_PROFILE_H
#define TORWART_PKI_PROFILE_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "crypto/signer.h"

enum pki_usage { PKI_USAGE_ROOT_CA, PKI_USAGE_SUB_CA, PKI_USAGE_TLS, PKI_USAGE_SIG, PKI_USAGE_ENC };
enum pki_role { PKI_ROLE_CA, PKI_ROLE_GWA, PKI_ROLE_SMGW, PKI_ROLE_EMT, PKI_ROLE_GWH };

const char *pki_usage_name(enum pki_usage usage);   /* "CA", "TLS", "SIG", "ENC" */
const char *pki_role_name(enum pki_role role);      /* "ca", "gwa", "smgw", "emt", "gwh" */

struct pki_subject {
	const char *common_name;     /* required */
	const char *organization;    /* default "SM-PKI-DE" */
	const char *org_unit;        /* market partner id; optional */
	const char *country;         /* default "DE" */
	const char *serial_number;   /* optional */
	const char *email;           /* SAN rfc822Name; optional */
	const char *uri;             /* SAN URI; optional */
	const char *dns_name;        /* SAN dNSName; TLS only; optional */
};

struct pki_cert_request {
	enum pki_usage usage;
	enum pki_role role;
	struct pki_subject subject;
	EVP_PKEY *public_key;        /* borrowed; brainpool curves only (TW_E_INVALID otherwise) */
	X509 *issuer_cert;           /* borrowed; NULL for a self-signed root */
	long validity_days;          /* > 0 */
	const char *crl_url;         /* CRL distribution point; optional */
	const char *policy_oid;      /* certificate policy; optional */
	const char *cps_uri;         /* CPS qualifier; optional */
};

/*
 * Build the unsigned certificate (random positive 16-byte serial). Caller frees *out.
 * Validity now-1min .. now+validity_days (<= 36500). Extensions in the order of the real
 * certificates: AKI (issuer's SKI), SKI, keyUsage (critical), certificatePolicies (a
 * cps_uri without policy_oid goes under anyPolicy), SAN (email, URI, DNS), issuerAltName
 * (copied from the issuer's SAN, if any), basicConstraints (critical; root pathlen 1,
 * Sub-CA pathlen 0), EKU (TLS only), CRL distribution point. Subject strings are
 * PrintableString where possible, UTF8String otherwise. The signature algorithm field is
 * pre-set from the issuer key size (ecdsa-with-SHA256/384/512), as the signer will use.
 * TW_E_INVALID: non-brainpool key (the message names the curve), dns_name outside TLS,
 * missing issuer for a non-root (or an issuer for a root), bad country/OID/URI/e-mail.
 */
tw_rc pki_build_certificate(const struct pki_cert_request *req, X509 **out,
	struct tw_error *err);
/*
 * Build and sign with the signer key `issuer_key`. The result is checked (same serial and
 * key, signature verifies with the issuer's public key; TW_E_CRYPTO otherwise) before it
 * is returned. Caller frees *out.
 */
tw_rc pki_issue_certificate(struct signer_client *sc, const char *issuer_key,
	const struct pki_cert_request *req, X509 **out, struct tw_error *err);

#endif
