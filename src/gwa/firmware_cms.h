/*
 * firmware_cms.h: the signed containers around firmware (docs/firmware.md, "Containers";
 * DOMAIN.md UC-3.3.1, M-4.5.19, T-SU.1/2/3), parsed and verified with OpenSSL's CMS and
 * X509_STORE APIs (no hand-written ASN.1):
 *
 *   manufacturer manifest  CMS SignedData (DER, one signer, attached content of type
 *                          id-data) by the manufacturer's SM-PKI GWH SIG certificate over
 *                          a JSON manifest naming model, version, size and SHA-256 of the
 *                          image; the image itself travels beside it, so it is hashed as
 *                          a stream and never held in memory;
 *   certified list         CMS SignedData (DER, id-data) by the list anchor over a JSON
 *                          list of certified (model, version) pairs (in reality published
 *                          by the BSI).
 *
 * Every check returns a typed verdict (enum fw_verdict) besides the tw_rc, so that the
 * manufacturer's receipt and the admin log can name exactly what failed.
 */
#ifndef TORWART_GWA_FIRMWARE_CMS_H
#define TORWART_GWA_FIRMWARE_CMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"

#define FW_CMS_MAX_BYTES     ((size_t)1024 * 1024)   /* a manifest or list container */
#define FW_CONTENT_MAX_BYTES ((size_t)512 * 1024)    /* its signed JSON */
#define FW_LIST_MAX_ENTRIES  10000
#define FW_MANIFEST_FORMAT   "torwart-firmware-manifest/1"
#define FW_LIST_FORMAT       "torwart-certified-firmware/1"
/* Default trust settings ([firmware] roots / intermediates / list_anchor). */
#define FW_DEFAULT_ROOTS        "pki/root-ca.crt"
#define FW_DEFAULT_INTERMEDIATE "pki/chain.pem"
#define FW_DEFAULT_LIST_ANCHOR  "pki/firmware-list.crt"

/* What failed; the names are the manufacturer receipt's "error" values. */
enum fw_verdict {
	FW_OK = 0,
	FW_FORMAT,       /* "format": not a CMS SignedData as documented, or bad JSON */
	FW_SIGNATURE,    /* "signature": the signature does not verify */
	FW_SIGNER,       /* "signer": the signer certificate is not an SM-PKI GWH SIG one */
	FW_CHAIN,        /* "chain": no valid chain to a trusted Root (or expired) */
	FW_REVOKED,      /* "revoked": a certificate of the chain is revoked */
	FW_CRL,          /* "crl": no current CRL for a certificate of the chain */
	FW_MODEL,        /* "model": the manifest names another model */
	FW_VERSION,      /* "version": the manifest names another version */
	FW_INCOMPLETE,   /* "incomplete": size or SHA-256 of the image differ */
	FW_REFUSED,      /* "refused": other refusal (duplicate, too large, ...) */
};
const char *fw_verdict_name(enum fw_verdict v);

struct fw_manifest {
	char model[65];
	char version[65];
	int64_t size;
	char sha256[65];   /* lower-case hex */
};

/*
 * Parse the manifest JSON: exactly the members format (FW_MANIFEST_FORMAT), model,
 * version (firmware_label_check rules), size (1 .. 2^53), sha256 (64 hex digits, any
 * case; stored lower-case). TW_E_INVALID (verdict format) for anything else.
 */
tw_rc fw_manifest_parse(const unsigned char *json, size_t len, struct fw_manifest *out,
	struct tw_error *err);

struct fw_list_entry {
	char model[65];
	char version[65];
};
struct fw_list {
	int64_t sequence;              /* > 0; a newer list has a higher one */
	char issued[40];               /* as given: RFC 3339 UTC, "YYYY-MM-DDTHH:MM:SSZ" */
	size_t count;
	struct fw_list_entry *entries; /* owned, count entries */
};
/*
 * Parse the certified list JSON: {"format": FW_LIST_FORMAT, "sequence": N, "issued":
 * "...Z", "firmware": [{"model": M, "version": V}, ...]} (no other members; at most
 * FW_LIST_MAX_ENTRIES, no duplicate pair). TW_E_INVALID otherwise. fw_list_clear frees.
 */
tw_rc fw_list_parse(const unsigned char *json, size_t len, struct fw_list *out,
	struct tw_error *err);
void fw_list_clear(struct fw_list *l);

/* An opened and signature-checked SignedData. */
struct fw_signed {
	unsigned char *content;      /* owned; the eContent, content_len bytes */
	size_t content_len;
	X509 *signer;                /* owned reference */
	STACK_OF(X509) *certs;       /* owned; the SignedData's certificates */
	char subject[256];           /* signer subject, one line */
	char issuer[256];
	char serial[80];             /* hex */
};
/*
 * Parse a DER CMS SignedData with exactly one signer whose certificate is inside, an
 * attached eContent of type id-data (1 .. FW_CONTENT_MAX_BYTES), and check the signature
 * (not yet the chain). *verdict: FW_FORMAT or FW_SIGNATURE on failure (with rc
 * TW_E_INVALID / TW_E_CRYPTO). fw_signed_clear frees.
 */
tw_rc fw_cms_open(const unsigned char *der, size_t len, struct fw_signed *out,
	enum fw_verdict *verdict, struct tw_error *err);
void fw_signed_clear(struct fw_signed *s);

/*
 * The signer is an SM-PKI GWH SIG certificate: not a CA, keyUsage digitalSignature and
 * nothing for encipherment or certificate signing, and "GWH" as a dot-separated
 * component of its common name (as EMT/GWA/SMGW in the real certificates).
 */
bool fw_signer_is_gwh_sig(X509 *cert);

/*
 * Check cert's chain to a certificate of roots_pem (a PEM bundle, trusted), with
 * untrusted intermediates (may be NULL), and, when crls is not NULL, every certificate
 * of the chain against a current CRL of its issuer (X509_V_FLAG_CRL_CHECK_ALL: a missing
 * or expired CRL fails). *verdict FW_CHAIN / FW_REVOKED / FW_CRL on failure
 * (all TW_E_CRYPTO).
 */
tw_rc fw_chain_check(X509 *cert, const char *roots_pem, STACK_OF(X509) *untrusted,
	STACK_OF(X509_CRL) *crls, enum fw_verdict *verdict, struct tw_error *err);

/* Read a whole file of at most max bytes (outside bytes: size checked). free() *out. */
tw_rc fw_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err);

/*
 * The trust of the manufacturer check, from [firmware] (paths relative to the home):
 * roots (FW_DEFAULT_ROOTS), intermediates (FW_DEFAULT_INTERMEDIATE, may be absent) and
 * crls (default: crl_publish_path of every CA in [ca] crl_cas). Verify the opened
 * manifest container s: signer profile, chain, revocation.
 */
tw_rc fw_check_manufacturer(const struct tw_home *home, const struct fw_signed *s,
	enum fw_verdict *verdict, struct tw_error *err);

/* The certified-list anchor path ([firmware] list_anchor), malloc'ed; NULL on no memory. */
char *fw_list_anchor_path(const struct tw_home *home);

/*
 * Compare two versions: runs of digits numerically, other runs byte-wise, a shorter
 * prefix first ("1.9" < "1.10" < "1.10.1"; "2.0-rc1" < "2.0-rc2"). <0, 0, >0.
 */
int fw_version_cmp(const char *a, const char *b);

#endif
