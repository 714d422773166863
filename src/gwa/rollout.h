/*
 * rollout.h: staged firmware rollouts, as fleet operators know them from Eclipse
 * hawkBit (issue 13; docs/firmware.md "Rollouts"). A layer above the job machinery:
 * each target gets an ordinary firmware-update job (gwa/order_firmware.h), so delivery,
 * deadlines, retries and wake-up pacing are the jobs' own.
 *
 *   created --approve (four-eyes rollout.start)--> running --(last group done)--> finished
 *   running --pause / error threshold--> paused --resume--> running
 *   created|running|paused --cancel (emergency stop: open jobs cancelled)--> cancelled
 *
 * Targets (a selection: "all", "ids:A,B", "tag:T", "tenant:T", sorted by gateway id) are
 * split into ngroups groups: group 0 the canary (canary gateways), the rest evenly. The
 * worker's tick (rollout_tick) creates the jobs of the current group while the
 * maintenance window is open, follows their outcome, pauses the rollout when the group's
 * failures exceed error_pct percent of its size, and starts the next group when
 * success_pct percent of the current one are done (cascading start). On resume the
 * failed targets of the current group are tried first (new jobs).
 *
 * Every change writes its admin-log entry ("rollout.create", "rollout.start",
 * "rollout.group", "rollout.pause", "rollout.resume", "rollout.cancel",
 * "rollout.finish"; object "rollout:<id>") in the same transaction.
 */
#ifndef TORWART_GWA_ROLLOUT_H
#define TORWART_GWA_ROLLOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "gwa/job.h"
#include "store/store.h"
#include "store/store_rollouts.h"

#define ROLLOUT_MAX_TARGETS 1000000

struct rollout_spec {
	const char *name;          /* 1..64 label */
	int64_t image_id;          /* a released, verified image */
	const char *selection;     /* "all", "ids:A,B", "tag:T", "tenant:T" */
	int ngroups;               /* 1..100 */
	int canary;                /* gateways in group 0 (>= 1; 0 = an even split) */
	int success_pct;           /* 1..100, default 100 */
	int error_pct;             /* 0..100, default 10 */
	const char *window;        /* maintenance window or NULL (rollout_window_open) */
};

tw_rc rollout_create(struct tw_store *store, const struct job_actor *who,
	const struct rollout_spec *spec, int64_t *id, struct tw_error *err);
/* created -> running (the four-eyes action rollout.start approves this). */
tw_rc rollout_start(struct tw_store *store, const struct job_actor *who, int64_t id,
	struct tw_error *err);
tw_rc rollout_pause(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *reason, struct tw_error *err);
/* paused -> running; the current group's failed targets are waiting again. */
tw_rc rollout_resume(struct tw_store *store, const struct job_actor *who, int64_t id,
	struct tw_error *err);
/* Emergency stop: -> cancelled, every open job of the rollout cancelled. */
tw_rc rollout_cancel(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *reason, struct tw_error *err);

/*
 * Maintenance windows of the configuration (docs/firmware.md "Maintenance windows"):
 *
 *   [rollout]                 window = W      every gateway (global)
 *   [rollout.window.tenant]   NAME = W        the gateways of tenant NAME
 *   [rollout.window.tag]      TAG = W         the gateways carrying tag TAG
 *
 * A gateway's window is the first that applies of: the rollout's own (--window), its
 * tags' (when several of its tags have one, all of them must be open), its tenant's,
 * the global one; none at all = always open. Wake-ups of a rollout go to a gateway only
 * while its window is open.
 */
struct rollout_windows;

/* Read and check them all (TW_E_CONFIG naming the key of a malformed window). *out is
 * the caller's (rollout_windows_free); no windows configured is a valid, empty set. */
tw_rc rollout_windows_load(const struct tw_config *conf, struct rollout_windows **out,
	struct tw_error *err);
void rollout_windows_free(struct rollout_windows *w);
/* Does the configuration have tag (or tenant) windows, so that a target's tags (or
 * tenant) must be looked up? w NULL: no. */
bool rollout_windows_by_tag(const struct rollout_windows *w);
bool rollout_windows_by_tenant(const struct rollout_windows *w);
/*
 * Is the window of a gateway open at now_ms? rollout_window: the rollout's own ("" or
 * NULL: none); tags: the gateway's tags comma separated (NULL: none or not looked up);
 * tenant: its tenant's name (NULL: not looked up). *source (may be NULL) is set to the
 * level that decided: "rollout", "tag", "tenant", "global" or "none".
 */
bool rollout_windows_open(const struct rollout_windows *w, const char *rollout_window,
	const char *tags, const char *tenant, int64_t now_ms, const char **source);

/* One pass over every running rollout (worker). *changed counts jobs and transitions;
 * windows (may be NULL) are the configured maintenance windows. */
tw_rc rollout_tick(struct tw_store *store, const struct rollout_windows *windows,
	int64_t now_ms, int *changed, struct tw_error *err);

/*
 * Maintenance window "DAYS HH:MM-HH:MM [ZONE]": DAYS "daily", a day ("Mon"), a range
 * ("Mon-Fri") or a list ("Sat,Sun"); the times in local time of ZONE (an IANA name such
 * as Europe/Berlin, default UTC; daylight saving follows the zone's rules); an end before
 * the start crosses midnight (the day is that of the start). NULL or "" = always open.
 * TW_E_INVALID for a malformed window.
 */
tw_rc rollout_window_check(const char *window, struct tw_error *err);
bool rollout_window_open(const char *window, int64_t now_ms);

#endif
