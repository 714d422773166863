/* error.c: error codes, their names, and the one helper that drains OpenSSL errors. */
#include "base/error.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static const char *const tw_error_names[TW_E__COUNT] = {
	[TW_OK] = "ok",
	[TW_E_INVALID] = "invalid",
	[TW_E_NOMEM] = "no-memory",
	[TW_E_IO] = "io",
	[TW_E_NOT_FOUND] = "not-found",
	[TW_E_EXISTS] = "exists",
	[TW_E_DENIED] = "denied",
	[TW_E_CRYPTO] = "crypto",
	[TW_E_TLS] = "tls",
	[TW_E_STORE] = "store",
	[TW_E_PROTOCOL] = "protocol",
	[TW_E_CONFIG] = "config",
	[TW_E_TOO_LARGE] = "too-large",
	[TW_E_UNAVAILABLE] = "unavailable",
	[TW_E_INTEGRITY] = "integrity",
	[TW_E_INTERNAL] = "internal",
};

const char *tw_strerror(tw_rc code)
{
	if ((int)code < 0 || code >= TW_E__COUNT)
		return "unknown";
	return tw_error_names[code];
}

void tw_error_clear(struct tw_error *err)
{
	if (err == NULL)
		return;
	err->code = TW_OK;
	err->message[0] = '\0';
}

tw_rc tw_error_vset(struct tw_error *err, tw_rc code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return code;
	/* Through a buffer of its own: callers wrap the message they got
	 * (tw_error_set(err, rc, "context: %s", err->message)), and vsnprintf into the
	 * buffer it reads from is undefined behaviour. */
	char msg[sizeof(err->message)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(err->message, msg, sizeof(msg));
	err->code = code;
	return code;
}

tw_rc tw_error_set(struct tw_error *err, tw_rc code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tw_error_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

char *tw_openssl_errors(char *buf, size_t size)
{
	unsigned long e;
	size_t used = 0;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		int n;

		ERR_error_string_n(e, one, sizeof(one));
		n = snprintf(buf + used, size - used, "%s%s", used ? "; " : "", one);
		if (n < 0 || (size_t)n >= size - used) {
			/* Keep draining so the queue is empty, but stop writing. */
			used = size - 1;
			continue;
		}
		used += (size_t)n;
	}
	return buf;
}

tw_rc tw_error_set_openssl(struct tw_error *err, tw_rc code, const char *fmt, ...)
{
	char ossl[TW_ERROR_MESSAGE_MAX];
	va_list ap;
	size_t len;

	tw_openssl_errors(ossl, sizeof(ossl));
	if (err == NULL)
		return code;
	va_start(ap, fmt);
	tw_error_vset(err, code, fmt, ap);
	va_end(ap);
	len = strlen(err->message);
	if (ossl[0] != '\0' && len + 3 < sizeof(err->message))
		snprintf(err->message + len, sizeof(err->message) - len, " (%s)", ossl);
	return code;
}
