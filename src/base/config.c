/* config.c: a strict INI parser; every rejection names the line. */
#include "base/config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

struct config_item {
	char *section;
	char *key;
	char *value;
};

struct tw_config {
	struct config_item *items;
	size_t count;
	size_t cap;
};

void tw_config_free(struct tw_config *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->count; i++) {
		free(conf->items[i].section);
		free(conf->items[i].key);
		free(conf->items[i].value);
	}
	free(conf->items);
	free(conf);
}

static char *trim(char *s)
{
	char *end;

	while (*s && isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static tw_rc config_add(struct tw_config *conf, const char *section, const char *key,
	const char *value, struct tw_error *err)
{
	struct config_item *it;

	if (conf->count == conf->cap) {
		size_t cap = conf->cap ? conf->cap * 2 : 32;
		struct config_item *p = realloc(conf->items, cap * sizeof(*p));

		if (p == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory reading configuration");
		conf->items = p;
		conf->cap = cap;
	}
	it = &conf->items[conf->count];
	it->section = tw_strdup(section);
	it->key = tw_strdup(key);
	it->value = tw_strdup(value);
	if (it->section == NULL || it->key == NULL || it->value == NULL) {
		free(it->section);
		free(it->key);
		free(it->value);
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading configuration");
	}
	conf->count++;
	return TW_OK;
}

tw_rc tw_config_parse(const char *text, size_t len, const char *origin,
	struct tw_config **out, struct tw_error *err)
{
	struct tw_config *conf;
	char section[TW_CONFIG_MAX_LINE] = "";
	char line[TW_CONFIG_MAX_LINE + 2];
	size_t pos = 0, lineno = 0;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (len > TW_CONFIG_MAX_BYTES)
		return tw_error_set(err, TW_E_TOO_LARGE, "%s: larger than %d bytes", origin,
			TW_CONFIG_MAX_BYTES);
	conf = calloc(1, sizeof(*conf));
	if (conf == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading configuration");
	while (pos < len) {
		size_t start = pos, n;
		char *s, *eq, *key, *value;

		while (pos < len && text[pos] != '\n')
			pos++;
		n = pos - start;
		if (pos < len)
			pos++;
		lineno++;
		if (n > TW_CONFIG_MAX_LINE) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s:%zu: line longer than %d bytes",
				origin, lineno, TW_CONFIG_MAX_LINE);
			goto out;
		}
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s:%zu: NUL byte in line", origin, lineno);
			goto out;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL || close[1] != '\0') {
				rc = tw_error_set(err, TW_E_CONFIG,
					"%s:%zu: section header must look like [name]", origin, lineno);
				goto out;
			}
			*close = '\0';
			s = trim(s + 1);
			if (!valid_name(s)) {
				rc = tw_error_set(err, TW_E_CONFIG,
					"%s:%zu: section name '%s' may use only letters, digits, _ - .",
					origin, lineno, s);
				goto out;
			}
			memcpy(section, s, strlen(s) + 1);
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s:%zu: expected 'key = value'", origin,
				lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (!valid_name(key)) {
			rc = tw_error_set(err, TW_E_CONFIG,
				"%s:%zu: key '%s' may use only letters, digits, _ - .", origin, lineno, key);
			goto out;
		}
		if (tw_config_get(conf, section, key) != NULL) {
			rc = tw_error_set(err, TW_E_CONFIG, "%s:%zu: duplicate key '%s' in [%s]",
				origin, lineno, key, section);
			goto out;
		}
		if ((rc = config_add(conf, section, key, value, err)) != TW_OK)
			goto out;
	}
	*out = conf;
	conf = NULL;
out:
	tw_config_free(conf);
	return rc;
}

tw_rc tw_config_load(const char *path, struct tw_config **out, struct tw_error *err)
{
	unsigned char *text = NULL;
	size_t len = 0;
	tw_rc rc;

	*out = NULL;
	rc = tw_read_file(path, TW_CONFIG_MAX_BYTES, &text, &len, err);
	if (rc == TW_OK)
		rc = tw_config_parse((const char *)text, len, path, out, err);
	free(text);
	return rc;
}

const char *tw_config_get(const struct tw_config *conf, const char *section, const char *key)
{
	if (conf == NULL)
		return NULL;
	for (size_t i = 0; i < conf->count; i++)
		if (strcmp(conf->items[i].section, section) == 0 &&
		    strcmp(conf->items[i].key, key) == 0)
			return conf->items[i].value;
	return NULL;
}

int tw_config_foreach(const struct tw_config *conf, const char *section,
	int (*cb)(const char *key, const char *value, void *arg), void *arg)
{
	int r = 0;

	for (size_t i = 0; conf != NULL && i < conf->count && r == 0; i++)
		if (strcmp(conf->items[i].section, section) == 0)
			r = cb(conf->items[i].key, conf->items[i].value, arg);
	return r;
}

const char *tw_config_get_or(const struct tw_config *conf, const char *section,
	const char *key, const char *def)
{
	const char *v = tw_config_get(conf, section, key);

	return v != NULL ? v : def;
}

tw_rc tw_config_get_long(const struct tw_config *conf, const char *section, const char *key,
	long def, long min, long max, long *out, struct tw_error *err)
{
	const char *v = tw_config_get(conf, section, key);
	char what[160];
	tw_rc rc;

	if (v == NULL) {
		*out = def;
		return TW_OK;
	}
	snprintf(what, sizeof(what), "[%s] %s", section, key);
	rc = tw_parse_long(v, min, max, out, err, what);
	if (rc != TW_OK && err != NULL)
		err->code = TW_E_CONFIG;
	return rc == TW_OK ? TW_OK : TW_E_CONFIG;
}

/* The section name of a header line ("[ name ]" -> "name"), or NULL. */
static bool cfg_header(const char *line, size_t n, char *name, size_t size)
{
	char buf[TW_CONFIG_MAX_LINE + 1], *s, *close;

	if (n > TW_CONFIG_MAX_LINE)
		return false;
	memcpy(buf, line, n);
	buf[n] = '\0';
	s = trim(buf);
	if (*s != '[' || (close = strchr(s, ']')) == NULL || close[1] != '\0')
		return false;
	*close = '\0';
	s = trim(s + 1);
	snprintf(name, size, "%s", s);
	return true;
}

/* True when the line sets key ("key = ..."). */
static bool cfg_sets(const char *line, size_t n, const char *key)
{
	char buf[TW_CONFIG_MAX_LINE + 1], *s, *eq;

	if (n > TW_CONFIG_MAX_LINE)
		return false;
	memcpy(buf, line, n);
	buf[n] = '\0';
	s = trim(buf);
	if (*s == '#' || *s == ';' || (eq = strchr(s, '=')) == NULL)
		return false;
	*eq = '\0';
	return strcmp(trim(s), key) == 0;
}

tw_rc tw_config_text_set(char **text, size_t *len, const char *section, const char *key,
	const char *value, struct tw_error *err)
{
	struct tw_buf out;
	struct tw_config *check = NULL;
	char current[TW_CONFIG_MAX_LINE + 1] = "", name[TW_CONFIG_MAX_LINE + 1];
	size_t pos = 0, key_at = 0, key_end = 0, header_end = 0;
	bool key_found = false, header_found = false;
	char *line = NULL;
	tw_rc rc;

	if (section == NULL || key == NULL || value == NULL || !valid_name(section) ||
	    !valid_name(key))
		return tw_error_set(err, TW_E_INVALID, "a configuration setting needs a valid "
			"section and key name");
	if (strlen(value) > TW_CONFIG_MAX_LINE - 64 || strpbrk(value, "\r\n") != NULL)
		return tw_error_set(err, TW_E_INVALID, "the value of %s.%s must be one line of at "
			"most %d bytes", section, key, TW_CONFIG_MAX_LINE - 64);
	/* Find the key's line in (the last occurrence of) its section, or the header. */
	while (pos < *len) {
		size_t start = pos, n;

		while (pos < *len && (*text)[pos] != '\n')
			pos++;
		n = pos - start;
		if (pos < *len)
			pos++;
		if (cfg_header(*text + start, n, name, sizeof(name))) {
			snprintf(current, sizeof(current), "%s", name);
			if (strcmp(current, section) == 0) {
				header_found = true;
				header_end = pos;
			}
			continue;
		}
		if (strcmp(current, section) == 0 && cfg_sets(*text + start, n, key)) {
			key_found = true;
			key_at = start;
			key_end = pos;
		}
	}
	if ((line = tw_asprintf("%s = %s\n", key, value)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	tw_buf_init(&out, TW_CONFIG_MAX_BYTES);
	if (key_found) {
		rc = tw_buf_append(&out, *text, key_at, err);
		if (rc == TW_OK)
			rc = tw_buf_append(&out, line, strlen(line), err);
		if (rc == TW_OK)
			rc = tw_buf_append(&out, *text + key_end, *len - key_end, err);
	} else if (header_found) {
		rc = tw_buf_append(&out, *text, header_end, err);
		if (rc == TW_OK && header_end > 0 && (*text)[header_end - 1] != '\n')
			rc = tw_buf_append(&out, "\n", 1, err);
		if (rc == TW_OK)
			rc = tw_buf_append(&out, line, strlen(line), err);
		if (rc == TW_OK)
			rc = tw_buf_append(&out, *text + header_end, *len - header_end, err);
	} else {
		char *tail = tw_asprintf("%s[%s]\n%s", *len > 0 && (*text)[*len - 1] != '\n' ?
			"\n\n" : "\n", section, line);

		rc = tail == NULL ? tw_error_set(err, TW_E_NOMEM, "out of memory") :
			tw_buf_append(&out, *text, *len, err);
		if (rc == TW_OK)
			rc = tw_buf_append(&out, tail, strlen(tail), err);
		free(tail);
	}
	if (rc == TW_OK)
		rc = tw_config_parse((const char *)out.data, out.len, "new configuration", &check,
			err);
	tw_config_free(check);
	if (rc != TW_OK) {
		tw_buf_free(&out);
		goto done;
	}
	free(*text);
	*text = (char *)out.data;
	*len = out.len;
done:
	free(line);
	return rc;
}
