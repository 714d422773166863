/*
 * fuzz_alert_mail.c: libFuzzer target over the alert mail's composition
 * (audit/alert_mail.c alert_mail_compose): an alert's subject and message may carry
 * bytes from outside (a peer's name, a certificate field). Whatever they are, the mail
 * is printable ASCII in CRLF lines, its headers are exactly the ones composed, and the
 * header block ends once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/alert_mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fill(char *dst, size_t cap, const uint8_t **p, size_t *left)
{
	size_t n = *left < cap - 1 ? *left : cap - 1;
	const uint8_t *nul = memchr(*p, 0, n);

	if (nul != NULL)
		n = (size_t)(nul - *p);
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += n + (n < *left);
	*left -= n + (n < *left);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const headers[] = { "Date: ", "From: ", "To: ", "Subject: ",
		"Message-ID: ", "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: ",
		"Auto-Submitted: " };
	struct store_alert *a = calloc(1, sizeof(*a));
	const uint8_t *p = data;
	size_t left = size, len = 0, lines = 0;
	struct tw_error err;
	char *m = NULL, *end, *line;

	if (a == NULL)
		return 0;
	fill(a->subject, sizeof(a->subject), &p, &left);
	fill(a->message, sizeof(a->message), &p, &left);
	fill(a->role, sizeof(a->role), &p, &left);
	snprintf(a->kind, sizeof(a->kind), "outage");
	snprintf(a->severity, sizeof(a->severity), "error");
	if (alert_mail_compose(a, "gwa@t.test", "a@b.test", "Mon, 07 Dec 2026 12:00:00 +0000",
	    &m, &len, &err) != TW_OK) {
		free(a);
		return 0;
	}
	if (strlen(m) != len)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)m[i];

		if (!((c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n'))
			abort();
		if ((c == '\n') != (i > 0 && m[i - 1] == '\r' && c == '\n'))
			abort();
		if (c == '\r' && (i + 1 >= len || m[i + 1] != '\n'))
			abort();
	}
	if ((end = strstr(m, "\r\n\r\n")) == NULL)
		abort();
	*end = '\0';
	for (line = m; line != NULL; lines++) {
		char *next = strstr(line, "\r\n");
		size_t h;

		for (h = 0; h < sizeof(headers) / sizeof(headers[0]); h++)
			if (strncmp(line, headers[h], strlen(headers[h])) == 0)
				break;
		if (h == sizeof(headers) / sizeof(headers[0]))
			abort();
		line = next != NULL ? next + 2 : NULL;
	}
	if (lines != sizeof(headers) / sizeof(headers[0]))
		abort();
	free(m);
	free(a);
	return 0;
}
