/*
 * api_throttle.c: fixed-size failure table (see api_throttle.h). A linear scan: the
 * table is a few thousand entries and a login costs a TLS handshake with client
 * certificate, which is orders of magnitude more than the scan.
 */
#include "api/api_throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct api_throttle_entry {
	char key[API_THROTTLE_KEY_MAX + 1];   /* "" = free */
	int64_t window_ms;                    /* start of the current window */
	long count;
};

struct api_throttle {
	struct api_throttle_entry *e;
	size_t n;
};

tw_rc api_throttle_new(size_t entries, struct api_throttle **out, struct tw_error *err)
{
	struct api_throttle *t;

	*out = NULL;
	if (entries == 0)
		return tw_error_set(err, TW_E_INVALID, "the login throttle needs at least one entry");
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->e = calloc(entries, sizeof(*t->e))) ==
	    NULL) {
		free(t);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	t->n = entries;
	*out = t;
	return TW_OK;
}

void api_throttle_free(struct api_throttle *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

static struct api_throttle_entry *at_find(const struct api_throttle *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].key[0] != '\0' && strncmp(t->e[i].key, key, API_THROTTLE_KEY_MAX) == 0)
			return &t->e[i];
	return NULL;
}

bool api_throttle_locked(const struct api_throttle *t, const char *key, long max_failures,
	int64_t window_ms, int64_t now_ms)
{
	const struct api_throttle_entry *e = at_find(t, key);

	return e != NULL && now_ms - e->window_ms < window_ms && e->count >= max_failures;
}

void api_throttle_fail(struct api_throttle *t, const char *key, int64_t window_ms,
	int64_t now_ms)
{
	struct api_throttle_entry *e = at_find(t, key), *oldest = NULL;

	if (e == NULL) {
		/* A free slot, else the entry whose window began longest ago. */
		for (size_t i = 0; i < t->n && e == NULL; i++) {
			if (t->e[i].key[0] == '\0')
				e = &t->e[i];
			else if (oldest == NULL || t->e[i].window_ms < oldest->window_ms)
				oldest = &t->e[i];
		}
		if (e == NULL)
			e = oldest;
		memset(e, 0, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->window_ms = now_ms;
	}
	if (now_ms - e->window_ms >= window_ms) {
		e->window_ms = now_ms;
		e->count = 0;
	}
	e->count++;
}

size_t api_throttle_used(const struct api_throttle *t)
{
	size_t used = 0;

	for (size_t i = 0; i < t->n; i++)
		used += t->e[i].key[0] != '\0';
	return used;
}
