/*
 * signer_internal.h: what the parts of the signer process share (src/signer only):
 *   signer.c          connections, the frame loop, dispatch and caller checks
 *   signer_ops.c      key operations: key policy, generation, certificate, data and CRL
 *                     signatures
 *   signer_secrets.c  custodian activation and the data key (SEAL/UNSEAL)
 *   signer_audit.c    the admin-log entries and refusals of signer operations
 *   signer_home.c     the token files of a new home
 *   signer_local.c    the private signer of command-line tools (embedded mode)
 */
#ifndef TORWART_SIGNER_SIGNER_INTERNAL_H
#define TORWART_SIGNER_SIGNER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "base/util.h"
#include "crypto/secretbox.h"
#include "crypto/signer_proto.h"
#include "signer/signer_peer.h"

#define SIGNER_MAX_CONNS 512
#define SIGNER_DETAIL_MAX 600      /* bytes of subject text put into an audit detail */
#define SIGNER_KEY_CERT_MAX (64 * 1024)

struct signer_crl_stream;

struct conn {
	int fd;
	char peer[64];                 /* "uid:N pid:M service:S" from SO_PEERCRED */
	enum signer_peer_kind kind;    /* the caller's service, by its uid */
	char *actor, *role;            /* from HELLO (audit information); NULL = "unknown" */
	unsigned char prefix[SIGNER_LEN_BYTES];
	size_t prefix_got;
	unsigned char *body;           /* allocated after the length check */
	uint32_t body_len;
	size_t body_got;
	struct tw_buf out;
	size_t out_off;
	int closing;                   /* close once out is flushed */
	int wipe_out;                  /* out holds a secret: wipe it once sent */
	struct signer_crl_stream *crl; /* a streamed CRL in progress (ops 7-9) */
};

struct signer_metrics;   /* signer_metrics.h */

/*
 * A key's certificate (HOME/pki/<label>.crt) as last read: the issuer checks need only
 * its subject, and decoding it (PEM, then the X509 with its public key: OpenSSL 3.0's
 * decoder chain) cost more per SIGN_CERTIFICATES request than the signature of one
 * certificate. The file is read on every request and decoded again whenever its bytes
 * differ from pem (signer_ops.c key_certificate), so a rotated, renewed or restored
 * certificate is used by the very next request, whatever the file's times say.
 */
#define SIGNER_KEY_CERTS 8
struct signer_key_cert {
	char label[SIGNER_LABEL_MAX + 1];   /* "" = unused slot */
	unsigned char *pem;                 /* the file's bytes when x was decoded */
	size_t len;
	X509 *x;                            /* NULL: the file holds no PEM certificate */
};

struct signer_srv {
	const struct tw_home *home;
	bool ceremony;
	struct signer_keys *keys;      /* token, or key files (tests only) */
	struct tw_store *store;
	struct tw_error setup_err;     /* set when the token or store could not be opened */
	struct secretbox *box;         /* the data key (the key file itself); NULL: box_err */
	struct tw_error box_err;
	struct signer_peers peers;     /* uid -> service */
	struct conn *conns[SIGNER_MAX_CONNS];
	size_t nconns;
	struct signer_metrics *metrics; /* long-running signer only (signer_metrics.h) */
	struct signer_key_cert key_certs[SIGNER_KEY_CERTS];
	size_t key_certs_next;          /* the slot a new label takes when all are used */
};

/* ---- signer_audit.c ---- */
/* One admin-log entry for c; TW_E_STORE-like error when it cannot be written (then the
 * signer hands out nothing). */
tw_rc signer_audit(struct signer_srv *srv, const struct conn *c, const char *action,
	const char *label, const char *result, const char *detail, struct tw_error *err);
/* Refuse a key use outside its policy: audit entry, key-access alert, TW_E_DENIED. */
tw_rc signer_refuse(struct signer_srv *srv, const struct conn *c, const char *label,
	const char *purpose, const char *why, struct tw_error *err);
/* Refuse an operation this caller's service may not ask for (signer_peer.h): audit
 * entry, key-access alert, TW_E_DENIED naming the service. */
tw_rc signer_refuse_peer(struct signer_srv *srv, const struct conn *c, uint8_t op,
	const char *what, const char *why, struct tw_error *err);

/* ---- signer_rotate.c ---- */
/* SIGNER_OP_KEY_ROTATE (signer_keys.h "Key rotation"); every change audited. */
tw_rc signer_op_key_rotate(struct signer_srv *srv, struct conn *c, const struct signer_msg *m,
	struct tw_buf *out, struct tw_error *err);

/* ---- signer_ops.c ---- */
/* Free what the key operations keep for the process (the key certificates). */
void signer_ops_free(struct signer_srv *srv);
tw_rc signer_put_spki(EVP_PKEY *pub, struct tw_buf *out, struct tw_error *err);
tw_rc signer_op_generate(struct signer_srv *srv, struct conn *c, const char *label,
	const struct signer_msg *m, struct tw_buf *out, struct tw_error *err);
tw_rc signer_op_sign_certificate(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data, struct tw_buf *out,
	struct tw_error *err);
tw_rc signer_op_sign_certificates(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data, struct tw_buf *out,
	struct tw_error *err);
tw_rc signer_op_sign_data(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_msg *m, struct tw_buf *out,
	struct tw_error *err);
/*
 * SIGN_DATA_BATCH (signer_proto.h): the items of DATA signed one by one as SIGN_DATA
 * would, all or nothing, their signer.sign entries in one admin-log transaction before
 * the answer. Only purposes whose data the signer does not check (wakeup, tree-head,
 * authorisation, ...).
 */
tw_rc signer_op_sign_data_batch(struct signer_srv *srv, struct conn *c, const char *label,
	EVP_PKEY *key, EVP_PKEY *pub, const struct signer_msg *m, struct tw_buf *out,
	struct tw_error *err);
tw_rc signer_op_crl_stream(struct signer_srv *srv, struct conn *c, uint8_t op,
	const char *label, EVP_PKEY *key, EVP_PKEY *pub, const struct signer_field *data,
	struct tw_buf *out, struct tw_error *err);

/* ---- signer_secrets.c ---- */
tw_rc signer_op_custodian_share(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err);
tw_rc signer_op_activation(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err);
/* SEAL / UNSEAL (op) with the data key; the caller's right to the context is checked
 * before (signer_peer_refusal), the aad's namespace here. */
tw_rc signer_op_seal(struct signer_srv *srv, struct conn *c, uint8_t op,
	const struct signer_msg *m, struct tw_buf *out, struct tw_error *err);

#endif
