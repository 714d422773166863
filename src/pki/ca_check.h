/*
 * ca_check.h: validity checking of certificates for pre-personalisation phase 2
 * (DOMAIN.md S-7, docs/ca-operations.md "Validity checking (S-7)").
 *
 * A gateway manufacturer (GWH) asks the Sub-CA whether certificates it is about to install
 * are valid. Each certificate gets exactly one status with a reason:
 *
 *   1. the chain is verified against this Sub-CA's certificate (X509_verify_cert,
 *      X509_V_FLAG_X509_STRICT, the Sub-CA certificate as anchor, time not checked here):
 *      not chaining to it at all -> unknown (another CA's certificate); any other failure
 *      (signature, strictness, AKI) -> bad-signature;
 *   2. the serial is looked up in the store: absent, or present with another fingerprint
 *      -> unknown;
 *   3. revoked in the store -> revoked (reason and date);
 *   4. the certificate (or the Sub-CA certificate) at the checking time: before notBefore
 *      -> not-yet-valid, after notAfter -> expired;
 *   5. otherwise valid.
 *
 * Input files that cannot be read or hold no certificate get one "unreadable" result.
 * Every result is written to the admin log (action "ca.check", object = serial, result =
 * status) in one transaction; if that fails no result is returned (reads of certificate
 * status are traceable, or they do not happen).
 */
#ifndef TORWART_PKI_CA_CHECK_H
#define TORWART_PKI_CA_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "pki/ca.h"
#include "store/store.h"

#define CA_CHECK_FILE_MAX (1024 * 1024)   /* bytes per input file; larger is unreadable */
#define CA_CHECK_CERTS_MAX 1000           /* certificates per call (all files together) */

enum ca_check_status {
	CA_CHECK_VALID,
	CA_CHECK_EXPIRED,
	CA_CHECK_NOT_YET_VALID,
	CA_CHECK_REVOKED,
	CA_CHECK_UNKNOWN,          /* not issued by this Sub-CA, or not in its store */
	CA_CHECK_BAD_SIGNATURE,    /* names this Sub-CA but does not verify (or not strict) */
	CA_CHECK_UNREADABLE,       /* the input is no certificate (file level) */
};

/* "valid", "expired", "not-yet-valid", "revoked", "unknown", "bad-signature", "unreadable". */
const char *ca_check_status_name(enum ca_check_status s);

struct ca_check_result {
	const char *file;                     /* borrowed from the caller's list */
	size_t index;                         /* 1-based position in the file (0: file level) */
	enum ca_check_status status;
	char serial[STORE_ID_MAX + 1];        /* lower-case hex; "" when unreadable */
	char subject[STORE_TEXT_MAX + 1];     /* RFC 2253; "" when unreadable */
	char reason[STORE_TEXT_MAX + 1];
};

/*
 * Parse in (one DER certificate, or PEM with one or more CERTIFICATE blocks; other PEM
 * blocks are skipped) into *out (a new stack, the caller frees with
 * sk_X509_pop_free(*out, X509_free)). At most max certificates. TW_E_INVALID when the
 * input holds no certificate or is malformed (trailing bytes after DER, a broken PEM
 * block), TW_E_TOO_LARGE when it holds more than max; *out is then NULL. Only OpenSSL
 * parsers; safe for any bytes (fuzzed by tests/fuzz/fuzz_ca_check.c).
 */
tw_rc ca_check_parse(const unsigned char *in, size_t len, size_t max, STACK_OF(X509) **out,
	struct tw_error *err);

/*
 * Parse a checking time: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z]" (UTC),
 * "YYYYMMDDHHMMSSZ" or "@SECONDS" since the epoch. *at is seconds since the epoch.
 */
tw_rc ca_check_time_parse(const char *s, int64_t *at, struct tw_error *err);

/*
 * Check every certificate of files[0..n) against CA `ca` (NULL: CA_DEFAULT_NAME) at time
 * `at` (seconds since the epoch). *out (caller frees with free()) receives *n_out results
 * in input order. Returns TW_OK when every input was judged and audited (whatever the
 * statuses); an error (configuration, store, admin log, more than CA_CHECK_CERTS_MAX
 * certificates) leaves *out NULL.
 */
tw_rc ca_check_files(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *ca, const char *const *files, size_t n,
	int64_t at, struct ca_check_result **out, size_t *n_out, struct tw_error *err);

#endif
