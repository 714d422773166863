/*
 * reqgen.h: generate SM-PKI certificate requests in the encodings request.h parses
 * (docs/pki-requests.md): initial (bsiCertReqMsgs), renewal (bsiCertReqMsgsWithOuterSig,
 * CMS SignedData by the requester's current SIG key) and the GWA authorisation layer of
 * SMGW requests. Used by `torwart req`, by participants, and by tests.
 *
 * Requester keys are software keys (they belong to the participant or gateway, never to
 * the CA) or, for the GWA's own requests, keys held by the signer: then a signing
 * callback (struct reqgen_signer, reqgen_sign_certreq: purpose "certreq") makes the proof
 * of possession with the new key and the renewal's outer signature with the current
 * gwa-sig key, and no private key byte is in the calling process. The GWA authorisation
 * is made either through the signer (purpose "authorisation", key gwa-sig) or, for
 * tests, with a key file.
 */
#ifndef TORWART_PKI_REQGEN_H
#define TORWART_PKI_REQGEN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "crypto/signer.h"
#include "pki/profile.h"

#define REQGEN_DNS_MAX 16   /* extra DNS names per TLS request; more is a typo */

/*
 * Makes the raw ECDSA signature (DER Ecdsa-Sig-Value) over data, hashed with SHA-256/384/
 * 512 by the key's size (the signer's rule); *sig malloc'ed, caller frees.
 */
typedef tw_rc (*reqgen_sign_fn)(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err);

/* A requester key held elsewhere: its public key and the function that signs with it. */
struct reqgen_signer {
	EVP_PKEY *pub;        /* borrowed; NULL: not used */
	reqgen_sign_fn sign;
	void *ctx;            /* borrowed, passed to sign */
};

/* ctx of reqgen_sign_certreq: a signer session and the key's (versioned) label. */
struct reqgen_signer_key {
	struct signer_client *sc;
	const char *label;
};

/*
 * reqgen_sign_fn through the signer with purpose certreq (ctx: struct reqgen_signer_key).
 * The signer signs only the proof of possession of the key's own request and, with
 * gwa-sig, the signed attributes of a renewal's outer signature (docs/security.md).
 */
tw_rc reqgen_sign_certreq(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err);

struct reqgen_params {
	/* Subject DN and SAN (email, URI; dNSName goes into the TLS entry only). */
	struct pki_subject subject;
	/*
	 * Optional, borrowed: the subject DN exactly as given (a renewal of a certificate
	 * whose DN the profile's encoding would not reproduce); subject then gives the SAN
	 * only.
	 */
	const X509_NAME *subject_name;
	/*
	 * Private keys by usage, borrowed: keys[PKI_USAGE_TLS], [PKI_USAGE_SIG],
	 * [PKI_USAGE_ENC]. NULL entries are left out (an initial request needs all three).
	 */
	EVP_PKEY *keys[PKI_USAGE_ENC + 1];
	/* Further dNSNames of the TLS entry after subject.dns_name (borrowed), in order. */
	const char *extra_dns[REQGEN_DNS_MAX];
	size_t n_extra_dns;
	/* Renewal only: the current SIG certificate and its private key, borrowed. */
	X509 *outer_cert;
	EVP_PKEY *outer_key;
	/*
	 * Keys held elsewhere (the signer), by usage: held[u].pub and .sign instead of
	 * keys[u] (never both). The proof of possession of entry u is then made by
	 * held[u].sign over the DER CertRequest.
	 */
	struct reqgen_signer held[PKI_USAGE_ENC + 1];
	/*
	 * Renewal with the current SIG key held elsewhere: outer_cert plus outer_held (its
	 * pub must be outer_cert's key) instead of outer_key. The outer SignedData then
	 * carries signed attributes (contentType, signingTime, messageDigest; RFC 5652 5.3)
	 * and outer_held.sign signs their DER.
	 */
	struct reqgen_signer outer_held;
};

/*
 * Build an initial request (outer_cert == NULL) or a renewal (outer_cert/outer_key set).
 * Each CertReqMsg: subject, public key, extensions SKI, SAN, keyUsage (+EKU
 * serverAuth/clientAuth on TLS), certReqId 0/1/2 (order ENC, SIG, TLS as in the
 * reference request), signature POP with SHA-256/384/512 by key size. *der is malloc'ed
 * (caller frees). Non-brainpool keys are refused (TW_E_INVALID) unless allow_any_curve is
 * set (tests use it to produce requests the CA must reject). A request made with held
 * keys (held, outer_held) is parsed back with request_parse before it is returned (a
 * signer that signed with another key than its certificate's gives TW_E_CRYPTO here).
 */
tw_rc reqgen_build(const struct reqgen_params *p, bool allow_any_curve, unsigned char **der,
	size_t *der_len, struct tw_error *err);

/*
 * The renewal wrapper alone: CertReqMessages DER (as built, or altered by a test to carry
 * a broken proof of possession) signed with the current SIG certificate and key into
 * bsiCertReqMsgsWithOuterSig. *out is malloc'ed. Tests and the simulator's fault hooks.
 */
tw_rc reqgen_renewal_wrap(X509 *outer_cert, EVP_PKEY *outer_key,
	const unsigned char *msgs_der, size_t msgs_len, unsigned char **out, size_t *out_len,
	struct tw_error *err);
/*
 * Wrap a complete SMGW request (DER of an initial or renewal request) in the GWA's
 * authorisation layer, signing through the signer with key `label` (normally
 * SIGNER_KEY_GWA_SIG) and purpose "authorisation"; gwa_cert is that key's certificate
 * (checked to match the signer's public key). *out is malloc'ed, caller frees.
 */
tw_rc reqgen_authorise_signer(struct signer_client *sc, const char *label, X509 *gwa_cert,
	const unsigned char *req, size_t req_len, unsigned char **out, size_t *out_len,
	struct tw_error *err);
/* The same with a software key (tests, and GWAs without a Torwart signer). */
tw_rc reqgen_authorise_key(EVP_PKEY *gwa_key, X509 *gwa_cert, const unsigned char *req,
	size_t req_len, unsigned char **out, size_t *out_len, struct tw_error *err);

/* Base64 (64-column lines, trailing newline) of der. *out is malloc'ed, NUL-terminated. */
tw_rc reqgen_base64(const unsigned char *der, size_t len, char **out, struct tw_error *err);

#endif
