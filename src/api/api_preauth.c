/*
 * api_preauth.c: the few header fields the api reads before evhttp does (see
 * api_preauth.h). Outside bytes: every index is checked against len, nothing is
 * written beyond the fixed token buffer, and anything unexpected leaves the field unset.
 */
#include "api/api_preauth.h"

#include <string.h>
#include <strings.h>

static bool pa_name_is(const char *line, size_t n, const char *name, size_t *vstart)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0)
		return false;
	*vstart = k + 1;
	return true;
}

/* The value of a header line without surrounding blanks: [*s, *e). */
static void pa_trim(const char *line, size_t *s, size_t *e)
{
	while (*s < *e && (line[*s] == ' ' || line[*s] == '\t'))
		(*s)++;
	while (*e > *s && (line[*e - 1] == ' ' || line[*e - 1] == '\t' || line[*e - 1] == '\r'))
		(*e)--;
}

static void pa_line(const char *line, size_t n, struct api_preauth *out)
{
	size_t s = 0, e = n;

	if (pa_name_is(line, n, "Content-Length", &s)) {
		uint64_t v = 0;

		pa_trim(line, &s, &e);
		if (s == e || out->has_length) {
			out->bad = true;
			return;
		}
		for (size_t i = s; i < e; i++) {
			if (line[i] < '0' || line[i] > '9' || v > (UINT64_MAX - 9) / 10) {
				out->bad = true;
				return;
			}
			v = v * 10 + (uint64_t)(line[i] - '0');
		}
		out->has_length = true;
		out->length = v;
	} else if (pa_name_is(line, n, "Transfer-Encoding", &s)) {
		pa_trim(line, &s, &e);
		if (!(e - s == 8 && strncasecmp(line + s, "identity", 8) == 0))
			out->chunked = true;
	} else if (pa_name_is(line, n, "Authorization", &s)) {
		pa_trim(line, &s, &e);
		if (out->has_token || e - s <= 7 || strncmp(line + s, "Bearer ", 7) != 0) {
			/* A second Authorization header makes the request ambiguous: no token. */
			out->has_token = false;
			out->token[0] = '\0';
			return;
		}
		s += 7;
		if (e - s > API_PREAUTH_TOKEN_MAX)
			return;
		memcpy(out->token, line + s, e - s);
		out->token[e - s] = '\0';
		out->has_token = true;
	}
}

void api_preauth_parse(const char *hdr, size_t len, struct api_preauth *out)
{
	size_t start = 0;
	bool first = true;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < len; i++) {
		size_t n;

		if (hdr[i] != '\n')
			continue;
		n = i - start;
		if (n > 0 && hdr[start + n - 1] == '\r')
			n--;
		if (n == 0 && !first)
			return;                 /* end of the header block */
		if (!first && n > 0)
			pa_line(hdr + start, n, out);
		if (n > 0)
			first = false;          /* the request line is skipped */
		start = i + 1;
	}
}

bool api_preauth_may_exceed(const struct api_preauth *p, uint64_t limit)
{
	return p->chunked || p->bad || !p->has_length || p->length > limit;
}
