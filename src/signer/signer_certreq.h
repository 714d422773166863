/*
 * signer_certreq.h: what the signer accepts under the purpose certreq (crypto/signer.h,
 * SIGNER_PURPOSE_CERT_REQUEST; docs/security.md "The GWA's own certificate requests").
 *
 * The GWA's own keys sign parts of their own certificate requests (pki/reqgen.h) and
 * nothing else under this purpose, whatever a policy line says:
 *   - the DER CertRequest of a proof of possession whose template carries the signing
 *     key's own public key (a key proves only its own possession; no gateway's or other
 *     key's request), by a version of gwa-tls, gwa-sig or gwa-enc;
 *   - the DER signed attributes (a SET) of a renewal's outer signature naming
 *     id-bsiCertReqMsgs as content type, by a version of gwa-sig only.
 * The payload comes from a signer client, so this is a parser of outside bytes
 * (fuzzed: tests/fuzz/fuzz_signer_certreq.c).
 */
#ifndef TORWART_SIGNER_SIGNER_CERTREQ_H
#define TORWART_SIGNER_SIGNER_CERTREQ_H

#include <stddef.h>

#include <openssl/evp.h>

/*
 * NULL when key `label` (public key pub) may sign d[0..len) under certreq, else why not
 * (static text). *kind gets "pop" or "outer" (for the admin log), "?" when neither.
 */
const char *signer_certreq_refusal(const char *label, EVP_PKEY *pub, const unsigned char *d,
	size_t len, const char **kind);

#endif
