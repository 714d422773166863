/* util.c: bounded buffers, files, time, hex, addresses, constant-time compare. */
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

void tw_buf_init(struct tw_buf *buf, size_t max)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->max = max;
}

tw_rc tw_buf_append(struct tw_buf *buf, const void *data, size_t len, struct tw_error *err)
{
	size_t need;

	if (len > buf->max || buf->len > buf->max - len)
		return tw_error_set(err, TW_E_TOO_LARGE,
			"data exceeds the limit of %zu bytes", buf->max);
	need = buf->len + len + 1;
	if (need > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 256;
		unsigned char *p;

		while (cap < need)
			cap *= 2;
		if (cap > buf->max + 1)
			cap = buf->max + 1;
		p = realloc(buf->data, cap);
		if (p == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory growing a buffer");
		buf->data = p;
		buf->cap = cap;
	}
	if (len > 0)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return TW_OK;
}

tw_rc tw_buf_appendf(struct tw_buf *buf, struct tw_error *err, const char *fmt, ...)
{
	char small[512];
	char *big = NULL;
	va_list ap;
	int n;
	tw_rc rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return tw_error_set(err, TW_E_INTERNAL, "format error");
	if ((size_t)n < sizeof(small))
		return tw_buf_append(buf, small, (size_t)n, err);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory formatting");
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = tw_buf_append(buf, big, (size_t)n, err);
	free(big);
	return rc;
}

void tw_buf_reset(struct tw_buf *buf)
{
	buf->len = 0;
	if (buf->data != NULL)
		buf->data[0] = '\0';
}

void tw_buf_free(struct tw_buf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

unsigned char *tw_buf_detach(struct tw_buf *buf, size_t *len)
{
	unsigned char *p = buf->data;

	if (len != NULL)
		*len = buf->len;
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	return p;
}

char *tw_strdup(const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	p = malloc(n);
	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

char *tw_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = malloc((size_t)n + 1);
	if (p == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

tw_rc tw_strlcpy_checked(char *dst, const char *src, size_t size, struct tw_error *err,
	const char *what)
{
	size_t n = strlen(src);

	if (size == 0 || n >= size) {
		if (size > 0)
			dst[0] = '\0';
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is too long (%zu bytes, at most %zu)",
			what, n, size ? size - 1 : 0);
	}
	memcpy(dst, src, n + 1);
	return TW_OK;
}

tw_rc tw_parse_long(const char *s, long min, long max, long *out, struct tw_error *err,
	const char *what)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return tw_error_set(err, TW_E_INVALID, "%s is empty; expected a number", what);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return tw_error_set(err, TW_E_INVALID, "%s '%s' is not a whole number", what, s);
	if (v < min || v > max)
		return tw_error_set(err, TW_E_INVALID, "%s %ld is out of range [%ld, %ld]", what,
			v, min, max);
	*out = v;
	return TW_OK;
}

tw_rc tw_read_file(const char *path, size_t max, unsigned char **out, size_t *len,
	struct tw_error *err)
{
	struct tw_buf buf;
	unsigned char chunk[8192];
	tw_rc rc = TW_OK;
	int fd;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tw_error_set(err, errno == ENOENT ? TW_E_NOT_FOUND : TW_E_IO,
			"cannot open %s: %s", path, strerror(errno));
	tw_buf_init(&buf, max);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = tw_error_set(err, TW_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = tw_buf_append(&buf, chunk, (size_t)n, err)) != TW_OK) {
			tw_error_set(err, rc, "%s is larger than %zu bytes", path, max);
			goto out;
		}
	}
	if (buf.data == NULL && (rc = tw_buf_append(&buf, "", 0, err)) != TW_OK)
		goto out;
	*out = tw_buf_detach(&buf, len);
out:
	close(fd);
	tw_buf_free(&buf);
	return rc;
}

static tw_rc write_all(int fd, const void *data, size_t len, const char *path,
	struct tw_error *err)
{
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return tw_error_set(err, TW_E_IO, "cannot write %s: %s", path, strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) != 0)
		return tw_error_set(err, TW_E_IO, "cannot sync %s: %s", path, strerror(errno));
	return TW_OK;
}

tw_rc tw_write_file(const char *path, const void *data, size_t len, mode_t mode,
	bool exclusive, struct tw_error *err)
{
	char *tmp = NULL;
	tw_rc rc;
	int fd;

	if (exclusive) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			return tw_error_set(err, errno == EEXIST ? TW_E_EXISTS : TW_E_IO,
				"cannot create %s: %s", path, strerror(errno));
		rc = write_all(fd, data, len, path, err);
		close(fd);
		if (rc != TW_OK)
			unlink(path);
		return rc;
	}
	tmp = tw_asprintf("%s.tmp.%ld", path, (long)getpid());
	if (tmp == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = write_all(fd, data, len, tmp, err);
	close(fd);
	if (rc == TW_OK && rename(tmp, path) != 0)
		rc = tw_error_set(err, TW_E_IO, "cannot rename %s to %s: %s", tmp, path,
			strerror(errno));
	if (rc != TW_OK)
		unlink(tmp);
out:
	free(tmp);
	return rc;
}

tw_rc tw_mkdir_p(const char *path, mode_t mode, struct tw_error *err)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return tw_error_set(err, TW_E_INVALID, "directory path is empty or too long");
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) != 0 && errno != EEXIST)
			return tw_error_set(err, TW_E_IO, "cannot create directory %s: %s", tmp,
				strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return tw_error_set(err, TW_E_IO, "cannot create directory %s: %s", tmp,
			strerror(errno));
	return TW_OK;
}

bool tw_path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int64_t tw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tw_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tw_time_format_utc(int64_t ms, char *out, size_t size)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void tw_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

tw_rc tw_hex_decode(const char *hex, unsigned char *out, size_t out_len, struct tw_error *err)
{
	if (strlen(hex) != 2 * out_len)
		return tw_error_set(err, TW_E_INVALID, "expected %zu hex digits", 2 * out_len);
	for (size_t i = 0; i < out_len; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return tw_error_set(err, TW_E_INVALID, "not a hex digit at position %zu",
				2 * i);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return TW_OK;
}

tw_rc tw_parse_hostport(const char *s, char **host, uint16_t *port, struct tw_error *err)
{
	const char *colon, *hstart, *hend;
	long p;
	tw_rc rc;

	*host = NULL;
	if (s == NULL || *s == '\0')
		return tw_error_set(err, TW_E_INVALID, "address is empty; expected HOST:PORT");
	if (*s == '[') {
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':')
			return tw_error_set(err, TW_E_INVALID,
				"address '%s' is not [IPv6]:PORT", s);
		hstart = s + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return tw_error_set(err, TW_E_INVALID, "address '%s' has no :PORT", s);
		hstart = s;
		hend = colon;
	}
	if (hend == hstart)
		return tw_error_set(err, TW_E_INVALID, "address '%s' has no host", s);
	if ((rc = tw_parse_long(colon + 1, 1, 65535, &p, err, "port")) != TW_OK)
		return rc;
	*host = strndup(hstart, (size_t)(hend - hstart));
	if (*host == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	*port = (uint16_t)p;
	return TW_OK;
}

bool tw_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void tw_wipe(void *p, size_t len)
{
	if (p != NULL)
		OPENSSL_cleanse(p, len);
}
