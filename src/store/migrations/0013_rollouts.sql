-- 0013_rollouts.sql: staged firmware rollouts (issue 13, hawkBit-like). Owner: gwa
-- (src/gwa/rollout.c); queries in src/store/store_rollouts.c.
--
-- A rollout sends one released image to a target selection split into groups (group 0
-- the canary). state: created -> running (after the four-eyes approval rollout.start)
-- -> paused (error threshold passed, or an operator) -> running (resume) ... ->
-- finished; created|running|paused -> cancelled (emergency stop: outstanding jobs
-- cancelled). current_grp: the group being rolled out; the next one starts when this one
-- reached success_pct percent done. A group whose failures pass error_pct percent of its
-- size pauses the rollout. maint_window: maintenance window ("" = always), wake-ups (jobs) for
-- the rollout are created only inside it.
CREATE TABLE rollouts (
	id            INTEGER PRIMARY KEY,
	tenant_id     INTEGER NOT NULL,
	name          TEXT NOT NULL,
	image_id      INTEGER NOT NULL REFERENCES firmware_images (id),
	selection     TEXT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('created', 'running', 'paused',
	              'finished', 'cancelled')),
	ngroups       INTEGER NOT NULL CHECK (ngroups BETWEEN 1 AND 100),
	current_grp   INTEGER NOT NULL DEFAULT 0,
	success_pct   INTEGER NOT NULL CHECK (success_pct BETWEEN 1 AND 100),
	error_pct     INTEGER NOT NULL CHECK (error_pct BETWEEN 0 AND 100),
	maint_window  TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	created_ms    INTEGER NOT NULL,
	created_by    TEXT NOT NULL,
	started_ms    INTEGER NOT NULL DEFAULT 0,
	started_by    TEXT NOT NULL DEFAULT '',
	updated_ms    INTEGER NOT NULL
);
-- One row per target gateway: its group, its current job (0 before one exists) and
-- where it stands: waiting (no job yet), running (job open), done, failed.
CREATE TABLE rollout_targets (
	rollout_id  INTEGER NOT NULL REFERENCES rollouts (id),
	gateway_id  TEXT NOT NULL,
	grp         INTEGER NOT NULL,
	job_id      INTEGER NOT NULL DEFAULT 0,
	state       TEXT NOT NULL CHECK (state IN ('waiting', 'running', 'done', 'failed')),
	tries       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (rollout_id, gateway_id)
);
CREATE INDEX rollout_targets_grp ON rollout_targets (rollout_id, grp, state);
