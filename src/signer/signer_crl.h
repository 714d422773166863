/*
 * signer_crl.h: the signer's side of a streamed CRL signature (ops CRL_BEGIN, CRL_DATA,
 * CRL_END; docs/signer-protocol.md). Internal to src/crypto.
 *
 * A CRL with a million entries is tens of megabytes, far over one frame, and the signer
 * must neither hold it nor build OpenSSL objects for it. So the client streams the
 * TBSCertList in three parts and the signer checks its structure while hashing:
 *   head: SEQUENCE header, version, signature, issuer, thisUpdate, nextUpdate and the
 *         header of revokedCertificates (its content follows in the chunks)
 *   data: whole revoked entries, each SEQUENCE { INTEGER, Time [, SEQUENCE] }
 *   tail: the crlExtensions [0], exactly the bytes the outer length leaves
 * At the end the fixed fields plus the tail form a "stub" TBSCertList without entries,
 * which signer.c parses with OpenSSL to apply the usual issuer check.
 */
#ifndef TORWART_SIGNER_SIGNER_CRL_H
#define TORWART_SIGNER_SIGNER_CRL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/error.h"

struct signer_crl_stream;

/* Start a stream for key label with digest md; head as above. *out is the caller's. */
tw_rc signer_crl_begin(const char *label, const EVP_MD *md, const unsigned char *head,
	size_t len, struct signer_crl_stream **out, struct tw_error *err);
/* The key label the stream was started for (borrowed). */
const char *signer_crl_label(const struct signer_crl_stream *st);
/* Whole revoked entries. */
tw_rc signer_crl_data(struct signer_crl_stream *st, const unsigned char *data, size_t len,
	struct tw_error *err);
/*
 * Finish: checks the totals, hashes the tail, returns the digest and the stub TBS
 * (malloc'ed, caller frees) for the issuer check. *entries / *total: counts for the audit.
 */
tw_rc signer_crl_end(struct signer_crl_stream *st, const unsigned char *tail, size_t len,
	unsigned char *digest, unsigned int *digest_len, unsigned char **stub, size_t *stub_len,
	int64_t *entries, uint64_t *total, struct tw_error *err);
void signer_crl_free(struct signer_crl_stream *st);   /* NULL is fine */

#endif
