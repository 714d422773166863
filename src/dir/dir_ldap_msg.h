/*
 * dir_ldap_msg.h: the LDAP message framing and the few fields the directory front end
 * needs (RFC 4511), parsed from participants' bytes, and the answers it writes itself.
 *
 * This is a parser of outside bytes (fuzzed by tests/fuzz/fuzz_dir_ldap.c): BER with
 * definite lengths only, at most 4 length bytes, low tag numbers, every length checked
 * against what encloses it. It reads the envelope (messageID, the operation's tag) and,
 * for the operations the front end decides on itself, their first fields: a BindRequest's
 * authentication choice and SASL mechanism, an ExtendedRequest's OID. Everything else is
 * relayed to slapd as received, which parses it fully.
 */
#ifndef TORWART_DIR_DIR_LDAP_MSG_H
#define TORWART_DIR_DIR_LDAP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* protocolOp application tag numbers (RFC 4511 4.2 ff.) */
enum dir_ldap_op {
	DIR_OP_BIND = 0, DIR_OP_BIND_RES = 1, DIR_OP_UNBIND = 2, DIR_OP_SEARCH = 3,
	DIR_OP_SEARCH_ENTRY = 4, DIR_OP_SEARCH_DONE = 5, DIR_OP_MODIFY = 6,
	DIR_OP_MODIFY_RES = 7, DIR_OP_ADD = 8, DIR_OP_ADD_RES = 9, DIR_OP_DEL = 10,
	DIR_OP_DEL_RES = 11, DIR_OP_MODDN = 12, DIR_OP_MODDN_RES = 13, DIR_OP_COMPARE = 14,
	DIR_OP_COMPARE_RES = 15, DIR_OP_ABANDON = 16, DIR_OP_SEARCH_REF = 19,
	DIR_OP_EXTENDED = 23, DIR_OP_EXTENDED_RES = 24, DIR_OP_INTERMEDIATE = 25,
};

/* resultCode values the front end answers with */
enum {
	DIR_LDAP_SUCCESS = 0, DIR_LDAP_OPERATIONS_ERROR = 1, DIR_LDAP_PROTOCOL_ERROR = 2,
	DIR_LDAP_AUTH_METHOD_NOT_SUPPORTED = 7, DIR_LDAP_INAPPROPRIATE_AUTH = 48,
	DIR_LDAP_INSUFFICIENT_ACCESS = 50, DIR_LDAP_UNWILLING = 53,
};

#define DIR_LDAP_OID_MAX 64

struct dir_ldap_msg {
	int32_t id;               /* messageID, 0 .. 2^31-1 */
	int op;                   /* enum dir_ldap_op */
	/* BindRequest */
	bool bind_simple;         /* simple [0] */
	bool bind_sasl;           /* sasl [3] */
	bool bind_anonymous;      /* simple with empty name and password */
	bool bind_external;       /* sasl, mechanism EXTERNAL */
	/* ExtendedRequest */
	char oid[DIR_LDAP_OID_MAX + 1];
};

/*
 * How long the LDAPMessage starting at buf is (len bytes of it so far; its header is at
 * most 6 bytes): *msg_len = 0 when the header is not complete yet, else the message's
 * total length, header included (the caller waits until it has that many bytes). TW_E_PROTOCOL when buf cannot start an
 * LDAPMessage (not a SEQUENCE, indefinite or over-long length), TW_E_TOO_LARGE when the
 * message is longer than max.
 */
tw_rc dir_ldap_frame(const unsigned char *buf, size_t len, size_t max, size_t *msg_len,
	struct tw_error *err);

/* Parse one complete message (as framed by dir_ldap_frame). TW_E_PROTOCOL when invalid. */
tw_rc dir_ldap_parse(const unsigned char *msg, size_t len, struct dir_ldap_msg *out,
	struct tw_error *err);

/*
 * An LDAPResult-shaped answer with op (a response tag: DIR_OP_BIND_RES, ...), result code
 * and diagnostic message, for message id. Returns its length, 0 when size is too small.
 */
size_t dir_ldap_encode_result(unsigned char *out, size_t size, int32_t id, int op,
	int result, const char *diag);

/* BindRequest, SASL EXTERNAL with authzid (RFC 4422 "dn:..."), for message id. */
size_t dir_ldap_encode_external_bind(unsigned char *out, size_t size, int32_t id,
	const char *authzid);

/* The resultCode of a BindResponse; TW_E_PROTOCOL when msg is not one. */
tw_rc dir_ldap_bind_result(const unsigned char *msg, size_t len, int32_t *id, int *result,
	struct tw_error *err);

/* The response tag to a request op, -1 for requests without one (unbind, abandon). */
int dir_ldap_response_op(int op);

#endif
