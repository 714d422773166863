/* store_check.c: the argument checks of store_check.h. */
#include "store/store_check.h"

#include <string.h>


tw_rc store_check_text(const char *s, size_t max, const char *what, struct tw_error *err)
{
	size_t len;

	if (s == NULL)
		return tw_error_set(err, TW_E_INVALID, "%s is missing", what);
	len = strnlen(s, max + 1);
	if (len > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is longer than %zu bytes", what, max);
	if (len == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is empty", what);
	return TW_OK;
}

tw_rc store_check_member(const char *f, size_t size, bool required, const char *what,
	struct tw_error *err)
{
	size_t len = strnlen(f, size);

	if (len == size)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s is longer than %zu bytes", what,
			size - 1);
	if (required && len == 0)
		return tw_error_set(err, TW_E_INVALID, "%s is empty", what);
	return TW_OK;
}
