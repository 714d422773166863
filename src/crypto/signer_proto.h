/*
 * signer_proto.h: the frame codec of the signer protocol (docs/signer-protocol.md).
 *
 * Shared by the signer (server) and its clients so both sides agree on one layout and
 * one set of limits. Frames are length-prefixed:
 *
 *   u32 body_len (big-endian, SIGNER_HEADER_MIN..SIGNER_FRAME_MAX)
 *   body: u8 version (= 1), u8 op, u16 request id (big-endian),
 *         [u8 status: responses only, a tw_rc],
 *         fields: u8 tag, u32 length (big-endian), length bytes; each tag at most once.
 *
 * The decoder is strict: unknown versions, ops and tags, repeated tags, lengths that run
 * past the body, strings with NUL bytes and fields over their per-tag limit are all
 * TW_E_PROTOCOL (or TW_E_TOO_LARGE), so that the server can treat any surprise as a
 * reason to close the connection.
 */
#ifndef TORWART_CRYPTO_SIGNER_PROTO_H
#define TORWART_CRYPTO_SIGNER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/util.h"

#define SIGNER_PROTO_VERSION 1
/* Largest body (bytes) either side accepts; checked before any allocation. */
#define SIGNER_FRAME_MAX (1024u * 1024u)
/* Bytes of the length prefix. */
#define SIGNER_LEN_BYTES 4
/* Smallest body: version, op, request id. */
#define SIGNER_HEADER_MIN 4
/* Fields in one message (one per tag). */
#define SIGNER_MAX_FIELDS 8

/* Field limits (bytes). Labels become file names (pki/<label>.crt): see label check. */
#define SIGNER_LABEL_MAX 64
#define SIGNER_ACTOR_MAX 255
#define SIGNER_ROLE_MAX 64
#define SIGNER_MESSAGE_MAX 511
#define SIGNER_OID_MAX 64
#define SIGNER_AAD_MAX 255
/* Data to sign: what is left of a frame after header and small fields. */
#define SIGNER_DATA_MAX (SIGNER_FRAME_MAX - 1024u)

/* Requests; a response carries the request's op with SIGNER_OP_RESPONSE set. */
enum signer_op {
	SIGNER_OP_HELLO = 1,            /* [ACTOR], [ROLE] -> OK */
	SIGNER_OP_GET_PUBLIC_KEY = 2,   /* LABEL -> PAYLOAD: SubjectPublicKeyInfo DER */
	SIGNER_OP_GENERATE_KEY = 3,     /* LABEL, CURVE -> PAYLOAD: SubjectPublicKeyInfo DER */
	SIGNER_OP_SIGN_CERTIFICATE = 4, /* LABEL, DATA (TBSCertificate) -> PAYLOAD: Certificate */
	SIGNER_OP_SIGN_DATA = 5,        /* LABEL, PURPOSE, DATA -> PAYLOAD: Ecdsa-Sig-Value DER */
	/* LABEL, DATA (1..SIGNER_BATCH_MAX TBSCertificates back to back) -> PAYLOAD: the
	 * signed certificates in the same order; audited in one transaction */
	SIGNER_OP_SIGN_CERTIFICATES = 6,
	/* Streamed CRL (signer_crl.h): LABEL, DATA each. BEGIN: head, DATA: whole revoked
	 * entries (any number of these), END: tail -> PAYLOAD: Ecdsa-Sig-Value DER */
	SIGNER_OP_CRL_BEGIN = 7,
	SIGNER_OP_CRL_DATA = 8,
	SIGNER_OP_CRL_END = 9,
	/* Custodian activation (M-4.5.18, signer_keys.h): DATA = one share file's text ->
	 * PAYLOAD: "active" or "waiting I of K" (text). Wiped from the frame after use. */
	SIGNER_OP_CUSTODIAN_SHARE = 10,
	/* DATA = "status" or "deactivate" -> PAYLOAD: the activation state as text */
	SIGNER_OP_ACTIVATION = 11,
	/* The home's data key stays in the signer (secretbox.h): LABEL = context (which
	 * kind of secret, decides who may ask), AAD = the place the secret is bound to (must
	 * lie in the context's namespace), DATA = plaintext -> PAYLOAD: "twbox1:..." text */
	SIGNER_OP_SEAL = 12,
	/* LABEL = context, AAD, DATA = sealed text -> PAYLOAD: plaintext. Frames wiped. */
	SIGNER_OP_UNSEAL = 13,
	/* Key rotation (signer_keys.h): LABEL = base label, DATA = "status", "prepare",
	 * "commit <versioned label>", "retire prev" or "retire next" -> PAYLOAD: text
	 * "current=L next=L prev=L [old=L] [destroyed=L]". Root or the signer's user only. */
	SIGNER_OP_KEY_ROTATE = 14,
	/* LABEL, PURPOSE, DATA (1..SIGNER_BATCH_MAX items, each a u16 big-endian length
	 * 1..SIGNER_BATCH_ITEM_MAX and the bytes) -> PAYLOAD: the signatures in the same
	 * order, each as u16 length + Ecdsa-Sig-Value DER; all or nothing, one admin-log
	 * entry per signature, all in one transaction. Purposes whose data the signer checks
	 * or that are not audited (certificate, crl, tls-handshake) are refused. */
	SIGNER_OP_SIGN_DATA_BATCH = 15,
};
#define SIGNER_OP__LAST SIGNER_OP_SIGN_DATA_BATCH
#define SIGNER_OP_RESPONSE 0x80
#define SIGNER_BATCH_MAX 1024        /* certificates per SIGN_CERTIFICATES request, items
                                      * per SIGN_DATA_BATCH request */
#define SIGNER_BATCH_ITEM_MAX 1024   /* bytes of one SIGN_DATA_BATCH item */

enum signer_tag {
	SIGNER_TAG_ACTOR = 1,    /* UTF-8, 1..SIGNER_ACTOR_MAX, no NUL */
	SIGNER_TAG_ROLE = 2,     /* UTF-8, 1..SIGNER_ROLE_MAX, no NUL */
	SIGNER_TAG_LABEL = 3,    /* 1..SIGNER_LABEL_MAX of [A-Za-z0-9._-], not starting '.' */
	SIGNER_TAG_CURVE = 4,    /* DER OBJECT IDENTIFIER of the named curve */
	SIGNER_TAG_PURPOSE = 5,  /* exactly 1 byte: enum signer_purpose */
	SIGNER_TAG_DATA = 6,     /* 1..SIGNER_DATA_MAX bytes */
	SIGNER_TAG_MESSAGE = 7,  /* response: UTF-8 error text, 1..SIGNER_MESSAGE_MAX */
	SIGNER_TAG_PAYLOAD = 8,  /* response: result bytes, 1..SIGNER_DATA_MAX */
	SIGNER_TAG_AAD = 9,      /* SEAL/UNSEAL: associated data, 1..SIGNER_AAD_MAX, no NUL */
	SIGNER_TAG__MAX = 9
};

struct signer_field {
	const unsigned char *ptr;  /* borrowed from the frame (or the caller when encoding) */
	uint32_t len;
	int present;
};

struct signer_msg {
	uint8_t op;          /* enum signer_op, | SIGNER_OP_RESPONSE for responses */
	uint16_t id;         /* request id, echoed in the response */
	uint8_t status;      /* responses only: a tw_rc */
	struct signer_field f[SIGNER_TAG__MAX + 1];   /* indexed by tag; [0] unused */
};

/* "hello", "sign-certificate", ...; "unknown" for anything else. Static. */
const char *signer_op_name(uint8_t op);

/* Zero msg and set op and id. */
void signer_msg_init(struct signer_msg *msg, uint8_t op, uint16_t id);
/* Attach a field (borrowed; must outlive the encode call). */
void signer_msg_set(struct signer_msg *msg, enum signer_tag tag, const void *ptr, size_t len);
void signer_msg_set_str(struct signer_msg *msg, enum signer_tag tag, const char *s);

/*
 * Check a 4-byte length prefix: TW_OK and *body_len when it is within
 * SIGNER_HEADER_MIN..SIGNER_FRAME_MAX, else TW_E_TOO_LARGE / TW_E_PROTOCOL.
 * Readers call this before they allocate for the body.
 */
tw_rc signer_frame_check_len(const unsigned char prefix[SIGNER_LEN_BYTES],
	uint32_t *body_len, struct tw_error *err);

/*
 * Decode one body of len bytes into msg; fields point into body (which must outlive msg).
 * Validates every length and per-tag limit. Does not check which fields an op needs:
 * that is the caller's job (signer_msg_require).
 */
tw_rc signer_frame_decode(const unsigned char *body, size_t len, struct signer_msg *msg,
	struct tw_error *err);

/*
 * TW_E_PROTOCOL unless exactly the tags in `required` (bit 1 << tag) are present, plus
 * any of `optional`. Unexpected fields are errors, not ignored.
 */
tw_rc signer_msg_require(const struct signer_msg *msg, uint32_t required, uint32_t optional,
	struct tw_error *err);
#define SIGNER_BIT(tag) (1u << (tag))

/* Copy a string field (validated as NUL-free by the decoder) into a fresh C string. */
char *signer_field_strdup(const struct signer_field *f);

/*
 * Append one complete frame (prefix + body) to out. TW_E_TOO_LARGE if the body would
 * exceed SIGNER_FRAME_MAX or a field its limit; out is unchanged on failure.
 */
tw_rc signer_frame_encode(const struct signer_msg *msg, struct tw_buf *out,
	struct tw_error *err);

/* True for a label the signer accepts (also used as a file name component). */
int signer_label_valid(const char *label, size_t len);

/*
 * SIGN_DATA_BATCH items (request DATA) and signatures (response PAYLOAD): each a u16
 * big-endian length of 1..max and that many bytes. Takes the next one from *p (before
 * end): *item points into the buffer, *p moves past it. TW_E_INVALID for a truncated or
 * empty element or one longer than max (nothing moved); the caller stops at *p == end.
 */
tw_rc signer_batch_next(const unsigned char **p, const unsigned char *end, size_t max,
	const unsigned char **item, size_t *len, struct tw_error *err);

#endif
