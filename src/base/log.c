/* log.c: one line per event, UTC timestamp, process ident, level; written atomically. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

static char log_ident[32] = "torwart";
static enum tw_log_level log_min = TW_LOG_INFO;

const char *tw_log_ident(void)
{
	return log_ident;
}

void tw_log_init(const char *ident, enum tw_log_level min_level)
{
	if (ident != NULL)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	log_min = min_level;
}

int tw_log_level_parse(const char *name)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (name != NULL && strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

void tw_log(enum tw_log_level level, const char *fmt, ...)
{
	static const char *const tags[] = { "debug", "info", "warn", "error" };
	char line[2048], stamp[40];
	va_list ap;
	int n, m;

	if (level < log_min)
		return;
	tw_time_format_utc(tw_now_ms(), stamp, sizeof(stamp));
	n = snprintf(line, sizeof(line), "%s %s[%ld] %s: ", stamp, log_ident, (long)getpid(),
		tags[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write() per line so lines of concurrent processes do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
