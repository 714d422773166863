/*
 * error.h: the one error vocabulary of Torwart (in the spirit of curl's CURLcode).
 *
 * Every fallible function returns a tw_rc and, when given a non-NULL struct tw_error,
 * fills it with a message an operator can act on ("what failed, why, what to do").
 * Messages never contain secrets (PINs, keys, tokens).
 */
#ifndef TORWART_BASE_ERROR_H
#define TORWART_BASE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum tw_rc {
	TW_OK = 0,
	TW_E_INVALID,      /* input from a user or peer is malformed or out of range */
	TW_E_NOMEM,        /* allocation failed */
	TW_E_IO,           /* file, socket or process operation failed */
	TW_E_NOT_FOUND,    /* the named object does not exist */
	TW_E_EXISTS,       /* the object exists already and must not be overwritten */
	TW_E_DENIED,       /* a policy refused the operation */
	TW_E_CRYPTO,       /* a cryptographic operation or check failed */
	TW_E_TLS,          /* TLS set-up or handshake failed */
	TW_E_STORE,        /* the database failed */
	TW_E_PROTOCOL,     /* a peer violated a protocol (framing, sequence, version) */
	TW_E_CONFIG,       /* configuration missing or inconsistent */
	TW_E_TOO_LARGE,    /* input exceeds a named size limit */
	TW_E_UNAVAILABLE,  /* a required service is not reachable */
	TW_E_INTEGRITY,    /* stored data failed an integrity check (tampering) */
	TW_E_INTERNAL,     /* a bug: an invariant did not hold */
	TW_E__COUNT
} tw_rc;

#define TW_ERROR_MESSAGE_MAX 512

struct tw_error {
	tw_rc code;
	char message[TW_ERROR_MESSAGE_MAX];
};

/* A short, stable, lower-case name for a code ("invalid", "not-found", ...). Static. */
const char *tw_strerror(tw_rc code);

/* Reset err to TW_OK with an empty message. err may be NULL. */
void tw_error_clear(struct tw_error *err);

/*
 * Record code and a printf-style message in err (which may be NULL) and return code,
 * so callers can write `return tw_error_set(err, TW_E_INVALID, "...")`.
 */
tw_rc tw_error_set(struct tw_error *err, tw_rc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
tw_rc tw_error_vset(struct tw_error *err, tw_rc code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/*
 * Like tw_error_set, then appends the drained OpenSSL error queue (": lib:reason; ...")
 * so the operator sees why OpenSSL refused. Empties the OpenSSL error queue.
 */
tw_rc tw_error_set_openssl(struct tw_error *err, tw_rc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Drain the OpenSSL error queue into buf (always NUL-terminated); returns buf. */
char *tw_openssl_errors(char *buf, size_t size);

#endif
