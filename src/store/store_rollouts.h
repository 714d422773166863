/*
 * store_rollouts.h: staged firmware rollouts (migration the rollouts migration; owner: the
 * gwa module, src/gwa/rollout.c).
 *
 *   rollouts          one row per rollout (image, selection, groups, thresholds, state)
 *   rollout_targets   one row per target gateway: group, current job, state
 *
 * None of these functions opens a transaction: callers wrap data + audit entry in
 * store_begin .. store_commit themselves.
 */
#ifndef TORWART_STORE_STORE_ROLLOUTS_H
#define TORWART_STORE_STORE_ROLLOUTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define ROLLOUT_WINDOW_MAX 80

struct store_rollout {
	int64_t id;
	int64_t tenant_id;
	char name[STORE_ID_MAX + 1];
	int64_t image_id;
	char selection[STORE_NAME_MAX + 1];
	char state[16];                 /* created running paused finished cancelled */
	int ngroups;
	int current_grp;
	int success_pct;
	int error_pct;
	char window[ROLLOUT_WINDOW_MAX + 1];
	char reason[STORE_NAME_MAX + 1];
	int64_t created_ms;
	char created_by[STORE_NAME_MAX + 1];
	int64_t started_ms;
	char started_by[STORE_NAME_MAX + 1];
	int64_t updated_ms;
};

/* Per-group counts of target states. */
struct store_rollout_group {
	int64_t waiting, running, done, failed;
};

tw_rc store_rollout_insert(struct tw_store *store, const struct store_rollout *r,
	int64_t *id, struct tw_error *err);
tw_rc store_rollout_get(struct tw_store *store, int64_t id, struct store_rollout *out,
	struct tw_error *err);
/*
 * Compare-and-set the state (from -> to) with current_grp, reason and (when started_by
 * is not NULL) started_ms/started_by. TW_E_DENIED when the rollout is not in from.
 */
tw_rc store_rollout_update(struct tw_store *store, int64_t id, const char *from,
	const char *to, int current_grp, const char *reason, const char *started_by,
	int64_t now_ms, struct tw_error *err);
typedef int (*store_rollout_cb)(const struct store_rollout *r, void *arg);
/* state NULL = every rollout; ascending id. */
tw_rc store_rollout_foreach(struct tw_store *store, const char *state, store_rollout_cb cb,
	void *arg, struct tw_error *err);

tw_rc store_rollout_target_add(struct tw_store *store, int64_t rollout_id,
	const char *gateway_id, int grp, struct tw_error *err);
/* Set a target's job and state (tries counts the jobs created for it). */
tw_rc store_rollout_target_set(struct tw_store *store, int64_t rollout_id,
	const char *gateway_id, int64_t job_id, const char *state, bool new_try,
	struct tw_error *err);
struct store_rollout_target {
	char gateway_id[STORE_ID_MAX + 1];
	int grp;
	int64_t job_id;
	char state[16];
	int tries;
};
typedef int (*store_rollout_target_cb)(const struct store_rollout_target *t, void *arg);
/* Targets of one group (grp < 0: all), state NULL = any; ordered by gateway id. */
tw_rc store_rollout_targets(struct tw_store *store, int64_t rollout_id, int grp,
	const char *state, store_rollout_target_cb cb, void *arg, struct tw_error *err);
tw_rc store_rollout_group_counts(struct tw_store *store, int64_t rollout_id, int grp,
	struct store_rollout_group *out, struct tw_error *err);

#endif
