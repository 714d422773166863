/*
 * store_check.h: argument checks shared by the store_<area>.c files (internal to
 * src/store). Every area validates strings before SQL runs, so bad input changes nothing
 * and is never truncated; one implementation keeps the messages and limits identical.
 */
#ifndef TORWART_STORE_CHECK_H
#define TORWART_STORE_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "store/store.h"

/* A string argument: present, non-empty, at most max bytes. */
tw_rc store_check_text(const char *s, size_t max, const char *what, struct tw_error *err);
/* A fixed-size struct member must hold its NUL; required means non-empty. */
tw_rc store_check_member(const char *f, size_t size, bool required, const char *what,
	struct tw_error *err);

#define STORE_CHECK_MEMBER(obj, m, req, err) \
	store_check_member((obj)->m, sizeof((obj)->m), (req), #m, (err))

#endif
