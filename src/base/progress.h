/*
 * progress.h: the progress display of long operations (fleet order waits, store migration,
 * batch issuance).
 *
 * On a terminal one line is rewritten in place ("\r" + erase to end of line) at most
 * PROGRESS_TTY_MS apart; anywhere else (a file, a pipe, a log collector) a plain line at
 * most PROGRESS_PLAIN_MS apart, and never any control character: the message's own control
 * bytes are replaced by '?' in both modes. tw_progress_done always writes the final state
 * as a plain line (on a terminal it replaces the in-place line).
 *
 * The display is a courtesy: write errors are ignored and nothing is allocated. A
 * struct tw_progress is owned by the caller (usually on the stack); `out` is borrowed.
 */
#ifndef TW_PROGRESS_H
#define TW_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROGRESS_TTY_MS   100  /* at most ~10 redraws per second on a terminal */
#define PROGRESS_PLAIN_MS 5000 /* at most one plain line every 5 s elsewhere */
#define PROGRESS_LINE_MAX 240

struct tw_progress {
	FILE *out;       /* borrowed; NULL: the display is off */
	bool tty;        /* in-place mode */
	bool drawn;      /* a line is on the terminal that the next draw replaces */
	bool started;    /* at least one update was written */
	int64_t last_ms; /* monotonic time of the last write */
	int tty_ms, plain_ms; /* the rate limits, settable for tests */
	int width;       /* terminal columns (0: unknown); in-place lines are cut to fit */
};

/*
 * Starts a display on `out`. tty < 0: decide with isatty(fileno(out)); 0 or 1: force the
 * mode (tests). quiet: no updates at all, only tw_progress_done's final line.
 */
void tw_progress_init(struct tw_progress *p, FILE *out, int tty, bool quiet);

/* The display on stderr, in-place when stderr is a terminal (the usual call). */
void tw_progress_stderr(struct tw_progress *p);

/* A new state; written only when the rate limit allows it. */
void tw_progress_update(struct tw_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Same with an explicit monotonic time in milliseconds (tests, callers that have it). */
void tw_progress_update_at(struct tw_progress *p, int64_t now_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The final state: always written, as a plain line ending in '\n'. */
void tw_progress_done(struct tw_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Removes the in-place line without printing anything (before the caller writes an
 * error or a result to the same terminal). No effect when not a terminal.
 */
void tw_progress_clear(struct tw_progress *p);

#endif
