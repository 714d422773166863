/*
 * progress.c: see progress.h. One line rewritten in place on a terminal, plain rate-limited
 * lines elsewhere, so redirected output (cron mails, CI logs, journald) stays readable.
 */
#include "progress.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

void tw_progress_init(struct tw_progress *p, FILE *out, int tty, bool quiet)
{
	p->out = out;
	p->tty = out != NULL && (tty < 0 ? isatty(fileno(out)) == 1 : tty != 0);
	p->drawn = false;
	p->started = false;
	p->last_ms = 0;
	p->tty_ms = PROGRESS_TTY_MS;
	/* quiet: the rate limit never lets an update through */
	p->plain_ms = quiet ? -1 : PROGRESS_PLAIN_MS;
	if (quiet)
		p->tty_ms = -1;
	p->width = 0;
	if (p->tty && tty < 0) {
		struct winsize ws;

		if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
			p->width = ws.ws_col;
	}
}

void tw_progress_stderr(struct tw_progress *p)
{
	tw_progress_init(p, stderr, -1, false);
}

/* Formats into line with every control byte replaced: no message can move the cursor. */
static void format_line(char *line, size_t n, const char *fmt, va_list ap)
{
	int len = vsnprintf(line, n, fmt, ap);

	if (len < 0)
		line[0] = '\0';
	for (char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = '?';
}

static void draw(struct tw_progress *p, const char *line, bool final)
{
	/* A line wider than the terminal wraps, and "\r" would then rewrite only its last row. */
	if (p->tty && !final && p->width > 0 && strlen(line) >= (size_t)p->width)
		fprintf(p->out, "\r\033[K%.*s", p->width - 1, line);
	else if (p->tty)
		fprintf(p->out, "\r\033[K%s%s", line, final ? "\n" : "");
	else
		fprintf(p->out, "%s\n", line);
	fflush(p->out);
	p->drawn = p->tty && !final;
}

static void vupdate(struct tw_progress *p, int64_t now, const char *fmt, va_list ap)
{
	int limit = p->tty ? p->tty_ms : p->plain_ms;
	char line[PROGRESS_LINE_MAX];

	if (p->out == NULL || limit < 0)
		return;
	/* The first update is shown at once, later ones no more often than the limit. */
	if (p->started && now - p->last_ms < limit)
		return;
	format_line(line, sizeof(line), fmt, ap);
	draw(p, line, false);
	p->started = true;
	p->last_ms = now;
}

void tw_progress_update(struct tw_progress *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vupdate(p, tw_monotonic_ms(), fmt, ap);
	va_end(ap);
}

void tw_progress_update_at(struct tw_progress *p, int64_t now_ms, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vupdate(p, now_ms, fmt, ap);
	va_end(ap);
}

void tw_progress_done(struct tw_progress *p, const char *fmt, ...)
{
	char line[PROGRESS_LINE_MAX];
	va_list ap;

	if (p->out == NULL)
		return;
	va_start(ap, fmt);
	format_line(line, sizeof(line), fmt, ap);
	va_end(ap);
	draw(p, line, true);
}

void tw_progress_clear(struct tw_progress *p)
{
	if (p->out == NULL || !p->drawn)
		return;
	fputs("\r\033[K", p->out);
	fflush(p->out);
	p->drawn = false;
}
