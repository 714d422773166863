/*
 * signer.h: the only process that opens the PKCS#11 token (DESIGN.md principle 1).
 *
 * Everything else asks it for signatures over a Unix socket with a small framed protocol
 * (docs/architecture.md, "Signer protocol"). The signer enforces a per-key policy
 * (which key may sign for which purpose; the CA keys sign only certificates and CRLs)
 * and writes an admin-log entry for every signature and every refusal.
 *
 * Key labels are the token's CKA_LABELs.
 */
#ifndef TORWART_CRYPTO_SIGNER_H
#define TORWART_CRYPTO_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"

#define SIGNER_KEY_ROOT_CA  "root-ca"   /* brainpoolP384r1, test PKI only */
#define SIGNER_KEY_SUB_CA   "sub-ca"    /* brainpoolP256r1 */
#define SIGNER_KEY_GWA_SIG  "gwa-sig"   /* brainpoolP256r1: wake-ups, tree heads, authorisations */
#define SIGNER_KEY_GWA_ENC  "gwa-enc"   /* brainpoolP256r1: key agreement (later issues) */

enum signer_purpose {
	SIGNER_PURPOSE_CERTIFICATE = 1,   /* payload: DER TBSCertificate */
	SIGNER_PURPOSE_CRL = 2,           /* payload: DER TBSCertList */
	SIGNER_PURPOSE_WAKEUP = 3,        /* payload: wake-up datagram without signature */
	SIGNER_PURPOSE_TREE_HEAD = 4,     /* payload: admin-log tree head */
	SIGNER_PURPOSE_AUTHORISATION = 5, /* payload: GWA authorisation of an SMGW request */
	SIGNER_PURPOSE_INITIAL_CONFIG = 6, /* payload: an initial configuration file (UC-3.3.6) */
	SIGNER_PURPOSE_DELIVERY_NOTE = 8, /* payload: an electronic delivery note (ws/ws_note.h) */
	/* payload: part of the GWA's own certificate request (pki/reqgen.h): a DER CertRequest
	 * for the signing key's public key (proof of possession), or, by gwa-sig only, the
	 * signed attributes of a renewal's outer signature (content type id-bsiCertReqMsgs).
	 * Only the gwa-* keys (and their versions) may have it. */
	SIGNER_PURPOSE_CERT_REQUEST = 9,
	/* payload: the DIGEST (32/48/64 bytes) of a TLS handshake signature, signed as it is
	 * (tls_signer_key.h); counted in the signer's metrics, not in the admin log. Numbered
	 * apart: the only purpose whose payload is a digest rather than the data. */
	SIGNER_PURPOSE_TLS_HANDSHAKE = 16,
};

/* "certificate", "crl", ...; NULL for unknown values. */
const char *signer_purpose_name(enum signer_purpose purpose);

/* ---------------- client side ---------------- */

struct signer_client;

/*
 * Key rotation in the signer (signer/signer_keys.h "Key rotation"): action is "status",
 * "prepare", "commit <versioned label>", "retire prev" or "retire next"; answer gets the
 * signer's text "current=L next=L|- prev=L|- ..." (truncated to size).
 */
tw_rc signer_key_rotate(struct signer_client *sc, const char *label, const char *action,
	char *answer, size_t size, struct tw_error *err);

/* Connect to a running signer (torwartd signer) at socket_path. */
tw_rc signer_client_connect(const char *socket_path, struct signer_client **out,
	struct tw_error *err);
/* The same, waiting at most timeout_s per request from the start (signer_client_set_timeout). */
tw_rc signer_client_connect_timeout(const char *socket_path, int timeout_s,
	struct signer_client **out, struct tw_error *err);
/* The same with the hint added to "not running" errors. */
tw_rc signer_client_connect_hint(const char *socket_path, const char *hint,
	struct signer_client **out, struct tw_error *err);
/*
 * A client on an fd already connected to a signer (a socketpair to a private child,
 * which signer_client_close then reaps). Probes it with HELLO. The fd is the client's
 * (closed on failure too).
 */
tw_rc signer_client_adopt(int fd, pid_t child, const char *where,
	struct signer_client **out, struct tw_error *err);
/*
 * Connect to the home's running signer, or when none answers, fork a private signer
 * child over a socketpair (for command-line tools). ceremony = true additionally allows
 * key generation and initialises an uninitialised token (used by `torwart init` only).
 * Implemented by the signer module (src/signer/signer_local.c, embedded mode), since it
 * runs the server; the protocol client itself never starts one.
 */
tw_rc signer_client_open(const struct tw_home *home, bool ceremony,
	struct signer_client **out, struct tw_error *err);
/* Seconds a request may wait for the signer before the connection counts as lost
 * (default 60; TLS handshakes use less: a hung signer must not hold a wan loop long). */
void signer_client_set_timeout(struct signer_client *sc, int seconds);
/* Closes the connection; reaps a private child. NULL is fine. */
void signer_client_close(struct signer_client *sc);

/*
 * Name the principal on whose behalf the following requests are made; the signer puts
 * it (with the peer's uid/pid from SO_PEERCRED) into the admin log. Strings are copied.
 */
void signer_client_set_actor(struct signer_client *sc, const char *actor, const char *role);
/* The role last set with signer_client_set_actor, or NULL. Borrowed from sc. */
const char *signer_client_role(const struct signer_client *sc);

/* Ceremony only: generate an EC key pair (curve by NID) in the token; *pub is the caller's. */
tw_rc signer_generate_key(struct signer_client *sc, const char *label, int curve_nid,
	EVP_PKEY **pub, struct tw_error *err);
/* Public key of a token key; *pub is the caller's. TW_E_NOT_FOUND for an unknown label. */
tw_rc signer_get_public_key(struct signer_client *sc, const char *label, EVP_PKEY **pub,
	struct tw_error *err);
/*
 * Sign a fully populated, unsigned certificate with the key `label`. The signature
 * algorithm follows the key (P-256 class: ecdsa-with-SHA256, P-384: SHA384, P-512:
 * SHA512). *signed_cert is a new X509 owned by the caller.
 */
tw_rc signer_sign_certificate(struct signer_client *sc, const char *label, X509 *cert,
	X509 **signed_cert, struct tw_error *err);
/*
 * Sign n unsigned certificates in one request (SIGN_CERTIFICATES: one round trip, one
 * audit transaction in the signer). All or nothing. signed_certs[i] are new X509s owned
 * by the caller (all NULL on failure). The encoded TBSs plus signatures must fit one
 * frame: about 1000 typical end-entity certificates; TW_E_TOO_LARGE otherwise.
 */
tw_rc signer_sign_certificates(struct signer_client *sc, const char *label,
	X509 *const *certs, size_t n, X509 **signed_certs, struct tw_error *err);
/*
 * The same in two halves, so the caller can prepare the next batch while the signer works
 * (pipelining; at most one batch in flight, and no other request on sc in between).
 */
tw_rc signer_sign_certificates_send(struct signer_client *sc, const char *label,
	X509 *const *certs, size_t n, struct tw_error *err);
tw_rc signer_sign_certificates_recv(struct signer_client *sc, size_t n, X509 **signed_certs,
	struct tw_error *err);
/*
 * The answer of the batch in flight as DER, one malloc'd buffer per certificate (der[i],
 * len[i], the caller's). No X509 is decoded here: in OpenSSL 3.0 every d2i_X509 runs the
 * key decoders (~0.3 ms); callers that compare the bytes with what they sent need none.
 */
tw_rc signer_sign_certificates_recv_der(struct signer_client *sc, size_t n,
	unsigned char **der, size_t *len, struct tw_error *err);
/*
 * ECDSA signature (DER Ecdsa-Sig-Value) over data, hashed as above, for purpose.
 * *sig is malloc'ed, caller frees.
 */
tw_rc signer_sign_data(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err);

/*
 * n data items signed in one request (SIGN_DATA_BATCH: one round trip, one admin-log
 * transaction in the signer), each exactly as signer_sign_data would sign it. All or
 * nothing: on success sig[i] (malloc'ed, the caller frees each) and sig_len[i] for every
 * i; on failure all NULL/0. 1..SIGNER_BATCH_MAX items of 1..SIGNER_BATCH_ITEM_MAX bytes
 * (signer_proto.h); purposes certificate, crl and tls-handshake are refused.
 */
tw_rc signer_sign_data_batch(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *const *data, const size_t *len,
	size_t n, unsigned char **sig, size_t *sig_len, struct tw_error *err);

/*
 * The same in two halves: send the request now, read the answer later (when
 * signer_client_fd is readable; the read itself still blocks up to the client's
 * timeout for a partial frame). One request in flight per client and no other request
 * in between. For callers that must not block while the signer works (tls_signer_key.c).
 */
tw_rc signer_sign_data_send(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *data, size_t len,
	struct tw_error *err);
tw_rc signer_sign_data_recv(struct signer_client *sc, unsigned char **sig, size_t *sig_len,
	struct tw_error *err);
/* The client's socket (to wait on for an answer), or -1 once the connection broke. */
int signer_client_fd(const struct signer_client *sc);
/*
 * Sign a TBSCertList of any size with purpose crl by streaming it (ops CRL_BEGIN/DATA/END;
 * for one that fits a frame, signer_sign_data is simpler). tbs[0..head_len) is the head
 * (up to and including the revokedCertificates header), the next list_len bytes are the
 * revoked entries (sent in chunks at entry boundaries), the rest is the crlExtensions
 * tail. *sig (DER Ecdsa-Sig-Value) is malloc'ed, caller frees.
 */
tw_rc signer_sign_crl_stream(struct signer_client *sc, const char *label,
	const unsigned char *tbs, size_t tbs_len, size_t head_len, size_t list_len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err);

/*
 * The three steps of signer_sign_crl_stream, for a caller that never holds the whole
 * list (src/pki/crl.c reads it back from a spill file): the head (at most SIGNER_DATA_MAX
 * bytes, up to and including the revokedCertificates header), then whole revoked entries
 * in any number of calls of at most SIGNER_DATA_MAX bytes each, then the tail, which
 * returns the signature (*sig malloc'ed, caller frees).
 */
tw_rc signer_client_crl_begin(struct signer_client *sc, const char *label,
	const unsigned char *head, size_t len, struct tw_error *err);
tw_rc signer_client_crl_data(struct signer_client *sc, const char *label,
	const unsigned char *entries, size_t len, struct tw_error *err);
tw_rc signer_client_crl_end(struct signer_client *sc, const char *label,
	const unsigned char *tail, size_t len, unsigned char **sig, size_t *sig_len,
	struct tw_error *err);

/*
 * Custodian activation (signer_keys.h). Enter one share (the text of its file) as the
 * actor set with signer_client_set_actor; answer (NUL-terminated, at most size bytes):
 * "active ..." when this share completed the activation, else "waiting ...".
 * TW_E_INTEGRITY: the k shares do not combine (all held shares were discarded).
 */
tw_rc signer_custodian_share(struct signer_client *sc, const unsigned char *text,
	size_t len, char *answer, size_t size, struct tw_error *err);
/* what = "status" or "deactivate" (log the token out, wipe held shares). */
tw_rc signer_activation(struct signer_client *sc, const char *what, char *answer,
	size_t size, struct tw_error *err);

/*
 * The home's data key (secretbox.h), used inside the signer. context names the kind of
 * secret (secretbox_context_of(aad)); the signer refuses a context this caller may not
 * use and an aad outside the context's namespace (TW_E_DENIED). Seal: *sealed is a
 * "twbox1:..." string the caller frees. Unseal: *plain (NUL-terminated, *len bytes) is
 * the caller's; wipe it before free. The frames carrying plaintext are wiped here.
 */
tw_rc signer_seal(struct signer_client *sc, const char *context, const char *aad,
	const void *plain, size_t len, char **sealed, struct tw_error *err);
tw_rc signer_unseal(struct signer_client *sc, const char *context, const char *aad,
	const char *sealed, char **plain, size_t *len, struct tw_error *err);

/* The server side (signer_run, signer_serve_fd, signer_home_prepare): signer/signer_server.h. */

#endif
