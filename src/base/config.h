/*
 * config.h: the INI configuration (torwart.conf).
 *
 * Format: "[section]" lines, "key = value" lines, '#' or ';' comments on their own line.
 * Keys are looked up as (section, key); the empty section holds keys before the first
 * header. Duplicate keys, unknown syntax and over-long lines are errors, with the line
 * number, so a typo never silently falls back to a default.
 */
#ifndef TORWART_BASE_CONFIG_H
#define TORWART_BASE_CONFIG_H

#include <stddef.h>

#include "base/error.h"

#define TW_CONFIG_MAX_BYTES (256 * 1024)
#define TW_CONFIG_MAX_LINE 1024

struct tw_config;

/* Parse text of len bytes. *out is owned by the caller (tw_config_free). */
tw_rc tw_config_parse(const char *text, size_t len, const char *origin,
	struct tw_config **out, struct tw_error *err);
tw_rc tw_config_load(const char *path, struct tw_config **out, struct tw_error *err);
void tw_config_free(struct tw_config *conf);

/* Borrowed pointer into conf, or NULL when absent. */
const char *tw_config_get(const struct tw_config *conf, const char *section, const char *key);
/* Value or def when absent. */
const char *tw_config_get_or(const struct tw_config *conf, const char *section,
	const char *key, const char *def);
/*
 * Call cb(key, value, arg) for every key of section, in file order (for sections whose
 * keys are names chosen by the operator, e.g. [rollout.window.tag]). A non-zero return
 * of cb stops the walk and is returned; 0 when every key was visited.
 */
int tw_config_foreach(const struct tw_config *conf, const char *section,
	int (*cb)(const char *key, const char *value, void *arg), void *arg);
/* Integer in [min, max]; def when absent; TW_E_CONFIG when present but invalid. */
tw_rc tw_config_get_long(const struct tw_config *conf, const char *section, const char *key,
	long def, long min, long max, long *out, struct tw_error *err);

/*
 * Set section.key = value in the configuration text (*text of *len bytes, malloc'ed;
 * replaced by the new text, caller frees): the key's line is replaced where it is, or
 * added after the section's last header, or a new section is appended. Comments and the
 * rest stay as they were. The result must parse (TW_E_CONFIG otherwise, *text unchanged).
 * value: one line, no NUL, at most TW_CONFIG_MAX_LINE - 64 bytes.
 */
tw_rc tw_config_text_set(char **text, size_t *len, const char *section, const char *key,
	const char *value, struct tw_error *err);

#endif
