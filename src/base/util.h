/*
 * util.h: small helpers every module needs: bounded buffers, files, time, hex,
 * host:port parsing, constant-time comparison.
 */
#ifndef TORWART_BASE_UTIL_H
#define TORWART_BASE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* ---- growable byte buffer with a hard maximum (curl's dynbuf) ---- */
struct tw_buf {
	unsigned char *data; /* owned; always NUL-terminated after a successful append */
	size_t len;
	size_t cap;
	size_t max;          /* appends that would exceed this fail with TW_E_TOO_LARGE */
};

void tw_buf_init(struct tw_buf *buf, size_t max);
tw_rc tw_buf_append(struct tw_buf *buf, const void *data, size_t len, struct tw_error *err);
tw_rc tw_buf_appendf(struct tw_buf *buf, struct tw_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tw_buf_reset(struct tw_buf *buf);   /* len = 0, memory kept */
void tw_buf_free(struct tw_buf *buf);    /* frees data; buf may be reused after init */
/* Hand the data to the caller (who frees it) and re-initialise buf. */
unsigned char *tw_buf_detach(struct tw_buf *buf, size_t *len);

/* ---- strings ---- */
/* strdup that aborts never: returns NULL on allocation failure. NULL in, NULL out. */
char *tw_strdup(const char *s);
/* snprintf into a fresh allocation; caller frees. NULL on failure. */
char *tw_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Copy with truncation check: TW_E_TOO_LARGE if src does not fit (dst then holds ""). */
tw_rc tw_strlcpy_checked(char *dst, const char *src, size_t size, struct tw_error *err,
	const char *what);
/* Parse a base-10 integer in [min, max]; whole string must be consumed. */
tw_rc tw_parse_long(const char *s, long min, long max, long *out, struct tw_error *err,
	const char *what);

/* ---- files ---- */
/* Read a whole file of at most max bytes; *out is NUL-terminated, caller frees. */
tw_rc tw_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err);
/*
 * Write a file with the given mode. exclusive: fail with TW_E_EXISTS if it exists;
 * otherwise replace atomically (temporary file, fsync, rename).
 */
tw_rc tw_write_file(const char *path, const void *data, size_t len, mode_t mode,
	bool exclusive, struct tw_error *err);
/* mkdir -p with mode for created directories. */
tw_rc tw_mkdir_p(const char *path, mode_t mode, struct tw_error *err);
bool tw_path_exists(const char *path);

/* ---- time ---- */
int64_t tw_now_ms(void);         /* wall clock, ms since the epoch, UTC */
int64_t tw_monotonic_ms(void);
/* "2026-11-24T06:51:41.123Z" (RFC 3339, UTC, millisecond precision). */
void tw_time_format_utc(int64_t ms, char *out, size_t size);

/* ---- encodings ---- */
/* out must hold 2*len+1 bytes; lower-case. */
void tw_hex_encode(const unsigned char *in, size_t len, char *out);
/* Decode exactly out_len bytes from 2*out_len hex digits. */
tw_rc tw_hex_decode(const char *hex, unsigned char *out, size_t out_len, struct tw_error *err);

/* ---- network ---- */
/* "HOST:PORT" or "[V6]:PORT" -> host (caller frees) and port (1..65535). */
tw_rc tw_parse_hostport(const char *s, char **host, uint16_t *port, struct tw_error *err);

/* ---- secrets ---- */
/* Constant-time equality (CRYPTO_memcmp); use for every secret or MAC comparison. */
bool tw_ct_equal(const void *a, const void *b, size_t len);
/* Wipe memory that held a secret (OPENSSL_cleanse). */
void tw_wipe(void *p, size_t len);

#endif
