/*
 * profile.h: SM-PKI certificate profiles (the shape of the real certificates in
 * ../shared/reference/sm-pki) and issuance through the signer.
 *
 * TLS/SIG/ENC profiles for GWA, GWH, EMT and SMGW plus Root-/Sub-CA certificates share one
 * builder; what differs per CA (policy OID, CPS, CRL DP, directory base, validity periods)
 * is a struct pki_ca_config loaded from torwart.conf section [ca.<name>]
 * (docs/pki-requests.md, "Sub-CA configuration"). CRMF requests: request.h.
 */
#ifndef TORWART_PKI_PROFILE_H
#define TORWART_PKI_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/config.h"
#include "base/error.h"
#include "crypto/signer.h"

enum pki_usage { PKI_USAGE_ROOT_CA, PKI_USAGE_SUB_CA, PKI_USAGE_TLS, PKI_USAGE_SIG, PKI_USAGE_ENC };
enum pki_role { PKI_ROLE_CA, PKI_ROLE_GWA, PKI_ROLE_SMGW, PKI_ROLE_EMT, PKI_ROLE_GWH };

const char *pki_usage_name(enum pki_usage usage);   /* "CA", "TLS", "SIG", "ENC" */
const char *pki_role_name(enum pki_role role);      /* "ca", "gwa", "smgw", "emt", "gwh" */
/* Inverse of pki_role_name, case-insensitive, also "EMT"/"GWA"/...: TW_E_INVALID if unknown. */
tw_rc pki_role_parse(const char *name, enum pki_role *out, struct tw_error *err);
/* "TLS"/"SIG"/"ENC" (case-insensitive) -> usage; TW_E_INVALID otherwise. */
tw_rc pki_usage_parse(const char *name, enum pki_usage *out, struct tw_error *err);
/* True for brainpoolP256r1/P384r1/P512r1, the only curves SM-PKI certificates carry. */
bool pki_curve_allowed(int curve_nid);

struct pki_subject {
	const char *common_name;     /* required */
	const char *organization;    /* default "SM-PKI-DE" */
	const char *org_unit;        /* market partner id; optional */
	const char *country;         /* default "DE" */
	const char *serial_number;   /* optional */
	const char *email;           /* SAN rfc822Name; optional */
	const char *uri;             /* SAN URI; optional */
	const char *dns_name;        /* SAN dNSName; TLS only; optional */
	/* Postal attributes the reference request carries (after serialNumber); optional. */
	const char *street;          /* streetAddress */
	const char *postal_code;     /* postalCode */
	const char *locality;        /* localityName */
	const char *state;           /* stateOrProvinceName */
};

/*
 * The subject DN of s as the profile encodes it (CN, O, OU, C, serialNumber, then the
 * postal attributes; PrintableString where possible). *out is the caller's.
 */
tw_rc pki_subject_to_name(const struct pki_subject *s, X509_NAME **out, struct tw_error *err);

/*
 * How notAfter is derived from the issuance time and validity_days:
 *   EXACT           issuance + validity_days days, to the second.
 *   END_OF_DAY_UTC  23:59:59 UTC of the calendar day reached: validity_days a multiple of
 *                   365 counts calendar years (same day and month, 29 Feb -> 28 Feb),
 *                   anything else counts days. The real SM-PKI certificates
 *                   (../shared/reference/sm-pki: notBefore 2026-01-13 10:37:08Z, notAfter
 *                   2028-01-13 23:59:59Z) follow this rule in UTC, not German local time
 *                   (that would end at 22:59:59Z in winter).
 */
enum pki_validity_end { PKI_VALIDITY_EXACT = 0, PKI_VALIDITY_END_OF_DAY_UTC };

/* Parse "exact" / "end_of_day_utc"; TW_E_INVALID otherwise. */
tw_rc pki_validity_end_parse(const char *text, enum pki_validity_end *out,
	struct tw_error *err);
const char *pki_validity_end_name(enum pki_validity_end rule);
/*
 * notAfter for a certificate issued at `issued` (seconds since the epoch, UTC) under rule.
 * TW_E_INVALID when days is out of 1..36500 or the date cannot be represented.
 */
tw_rc pki_validity_not_after(int64_t issued, long days, enum pki_validity_end rule,
	int64_t *not_after, struct tw_error *err);

struct pki_cert_request {
	enum pki_usage usage;
	enum pki_role role;
	struct pki_subject subject;
	EVP_PKEY *public_key;        /* borrowed; brainpool curves only (TW_E_INVALID otherwise) */
	/*
	 * Optional: public_key as an X509_PUBKEY without a decoded key (request_entry.spki),
	 * copied into the certificate field by field. Saves the encode and decode round trip
	 * X509_set_pubkey makes for provider keys in OpenSSL 3.0 (~0.5 ms per certificate).
	 * Must hold the same key as public_key. Borrowed.
	 */
	const X509_PUBKEY *spki;
	X509 *issuer_cert;           /* borrowed; NULL for a self-signed root */
	long validity_days;          /* > 0 */
	enum pki_validity_end validity_end;   /* default (0): EXACT */
	const char *crl_url;         /* CRL distribution point(s), space-separated; optional */
	const char *policy_oid;      /* certificate policy; optional */
	const char *cps_uri;         /* CPS qualifier; optional */
	/*
	 * Optional: the subject DN exactly as given (e.g. from a verified CRMF request),
	 * used instead of the subject.* name strings (the SAN still comes from subject.email,
	 * .uri, .dns_name). Borrowed.
	 */
	const X509_NAME *subject_name;
	/*
	 * Optional: the complete subject alternative name (e.g. request_entry.san), used
	 * instead of subject.email/.uri/.dns_name; re-ordered e-mail, URI, DNS as in the real
	 * certificates. Only those kinds; dNSName only on TLS (TW_E_INVALID otherwise).
	 * Borrowed.
	 */
	const GENERAL_NAMES *san;
};

/*
 * Per-CA configuration, torwart.conf section [ca.<name>] (all keys optional):
 *   key_label = <name>               signer key of this CA
 *   cert = pki/<name>.crt            CA certificate (PEM), relative to the home
 *   policy_oid = 1.3.6.1.4.1....     certificatePolicies OID in issued certificates
 *   cps_uri = https://...            CPS qualifier
 *   crl_publish_path = crl/<name>.crl  where the CRL is written (relative to the home)
 *   directory_base = ou=...,o=SM-PKI-DE   LDAP base DN for publication
 *   validity_days.tls|sig|enc = 730  end-entity validity per type (1..36500)
 *   validity_days.ca = 1826          validity of CA certificates this CA signs
 *   validity_end = end_of_day_utc    notAfter rule for end-entity certificates (or exact);
 *   validity_end.tls|sig|enc|ca      per certificate profile (ca default: exact)
 *   crl_url = URL [URL ...]          CRL distribution point(s), HTTP and/or LDAP, one
 *                                    distributionPoint with every URL as a fullName
 *   delta_crl = yes|no               also publish a delta CRL (RFC 5280 5.2.4), default no
 *   delta_crl_url = URL [URL ...]    freshestCRL of the full CRL (default: the full CRL's
 *                                    HTTP URL with .crl -> -delta.crl, when derived)
 *   delta_crl_publish_path = crl/<name>-delta.crl
 *   delta_crl_interval_minutes = 60  delta regeneration interval (1..525600)
 *   delta_crl_next_update_hours = 24 thisUpdate..nextUpdate of delta CRLs (1..8784)
 *   crl_next_update_hours = 168      thisUpdate..nextUpdate of its CRLs (1..8784)
 *   crl_interval_minutes = 1440      worker regeneration interval (1..525600)
 * Defaults: the values of [pki] crl_url/policy_oid/cps_uri when [ca.<name>] lacks them;
 * crl_url then defaults to http://<[api] crl_host or listen>/crl/<name>.crl, the route the
 * api serves; key_label defaults to <name> and cert to pki/<name>.crt; validity 730 days
 * ending at 23:59:59 UTC (the real SM-PKI certificates: 2 years, end of day).
 */
struct pki_ca_config {
	char *name;
	char *key_label;
	char *cert_path;           /* absolute, or relative to the home as configured */
	char *policy_oid;          /* NULL: none */
	char *cps_uri;
	char *crl_url;
	char *crl_publish_path;
	char *directory_base;
	long validity_days_tls;
	long validity_days_sig;
	long validity_days_enc;
	long validity_days_ca;
	enum pki_validity_end validity_end_tls, validity_end_sig, validity_end_enc,
		validity_end_ca;
	bool delta_crl;
	char *delta_crl_url;       /* NULL: no freshestCRL */
	char *delta_crl_publish_path;
	long delta_crl_interval_minutes;
	long delta_crl_next_update_hours;
	long crl_next_update_hours;
	long crl_interval_minutes;
};

/*
 * Load [ca.<name>] (name: [A-Za-z0-9._-]{1,64}). A missing section gives the defaults
 * (so a home of the foundation works unchanged). Invalid values: TW_E_CONFIG naming the
 * key. *out is the caller's (pki_ca_config_free).
 */
tw_rc pki_ca_config_load(const struct tw_config *conf, const char *name,
	struct pki_ca_config **out, struct tw_error *err);
void pki_ca_config_free(struct pki_ca_config *cfg);
/* notAfter rule the CA configuration gives certificates of this usage. */
enum pki_validity_end pki_ca_config_validity_end(const struct pki_ca_config *cfg,
	enum pki_usage usage);
/* Validity in days the CA configuration gives certificates of this usage. */
long pki_ca_config_validity(const struct pki_ca_config *cfg, enum pki_usage usage);
/*
 * Fill policy_oid, cps_uri, crl_url, validity_days and validity_end of req from cfg (the strings are
 * borrowed from cfg, which must outlive req).
 */
void pki_ca_config_apply(const struct pki_ca_config *cfg, struct pki_cert_request *req);

/*
 * Build the unsigned certificate (random positive 16-byte serial). Caller frees *out.
 * Validity now-1min .. pki_validity_not_after(now-1min, validity_days (<= 36500), validity_end): the
 * end is reckoned from notBefore's day. Extensions in the order of the real
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
