/*
 * dir_dn.c: DN value escaping (RFC 4514 2.4) and ldapi:// URLs (dir.h).
 */
#include "dir/dir.h"

#include <string.h>

tw_rc dir_dn_escape(const char *value, char *out, size_t size, struct tw_error *err)
{
	size_t n, o = 0, len;

	if (value == NULL || *value == '\0')
		return tw_error_set(err, TW_E_INVALID, "an empty value cannot name a directory "
			"entry");
	len = strlen(value);
	for (n = 0; n < len; n++) {
		unsigned char ch = (unsigned char)value[n];
		char tmp[4];
		size_t k = 0;

		if (ch < 0x20 || ch == 0x7f) {
			static const char hex[] = "0123456789ABCDEF";

			tmp[k++] = '\\';
			tmp[k++] = hex[ch >> 4];
			tmp[k++] = hex[ch & 15];
		} else if (strchr(",+\"\\<>;=", ch) != NULL ||
		    (n == 0 && (ch == '#' || ch == ' ')) || (n == len - 1 && ch == ' ')) {
			tmp[k++] = '\\';
			tmp[k++] = (char)ch;
		} else {
			tmp[k++] = (char)ch;
		}
		if (o + k >= size)
			return tw_error_set(err, TW_E_TOO_LARGE, "a directory name is longer than %zu "
				"bytes", size - 1);
		memcpy(out + o, tmp, k);
		o += k;
	}
	out[o] = '\0';
	return TW_OK;
}

tw_rc dir_ldapi_url(const char *path, char *out, size_t size, struct tw_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;

	if (size < 9)
		return tw_error_set(err, TW_E_TOO_LARGE, "ldapi URL buffer too small");
	memcpy(out, "ldapi://", 8);
	o = 8;
	for (const char *p = path; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';

		if (o + (plain ? 1 : 3) >= size)
			return tw_error_set(err, TW_E_TOO_LARGE, "the ldapi socket path %s is too "
				"long", path);
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return TW_OK;
}
