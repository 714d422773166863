/*
 * api_throttle.h: the api's in-memory gate in front of login (issue 9, item 7).
 *
 * Failed logins are counted per client IP address (never IP:port: every connection has
 * a new port, which is why counting per address never triggered before) and per client
 * certificate (one operator's), in a table of a fixed number of entries allocated at
 * start. When the table is full the entry whose window started longest ago is evicted,
 * so an attacker with many addresses costs constant memory and, once a key is locked,
 * no store write at all. The store keeps its own per-operator and per-address counters
 * (auth/session.c) for the admin log and alerts; this gate only refuses early.
 */
#ifndef TORWART_API_API_THROTTLE_H
#define TORWART_API_API_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define API_THROTTLE_KEY_MAX 80

struct api_throttle;

/* entries: table size (fixed for the process). Caller frees with api_throttle_free. */
tw_rc api_throttle_new(size_t entries, struct api_throttle **out, struct tw_error *err);
void api_throttle_free(struct api_throttle *t);

/*
 * True when key (e.g. "ip:192.0.2.1", "cert:<fingerprint>") has max_failures failures
 * in the window of window_ms that began with its first failure.
 */
bool api_throttle_locked(const struct api_throttle *t, const char *key, long max_failures,
	int64_t window_ms, int64_t now_ms);

/* Count one failure of key at now_ms (a new window if the old one ended). */
void api_throttle_fail(struct api_throttle *t, const char *key, int64_t window_ms,
	int64_t now_ms);

/* Entries in use (at most the table size; for tests). */
size_t api_throttle_used(const struct api_throttle *t);

#endif
