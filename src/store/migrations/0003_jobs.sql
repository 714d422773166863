-- 0003_jobs.sql: jobs (orders to gateways), fleet batches, gateway tags and wake-up
-- addresses (issue 4, UC-3.3.4, UC-3.6). Owner: gwa (job*.c). See docs/jobs.md.

-- A fleet order: one row per `torwart job create`, its jobs point at it.
CREATE TABLE job_batches (
	id          INTEGER PRIMARY KEY,
	type        TEXT NOT NULL,
	selection   TEXT NOT NULL,
	total       INTEGER NOT NULL CHECK (total >= 0),
	actor       TEXT NOT NULL,
	created_ms  INTEGER NOT NULL
);

-- One order to one gateway and its workflow state ("Fachlicher Ablaufzustand").
-- next_ms: when the worker may act next (first wake-up, or retry after back-off).
-- deadline_ms: when the current attempt times out (0 = no attempt running).
CREATE TABLE jobs (
	id              INTEGER PRIMARY KEY,
	batch_id        INTEGER NOT NULL DEFAULT 0,
	gateway_id      TEXT NOT NULL REFERENCES gateways(gateway_id),
	tenant_id       INTEGER NOT NULL,
	type            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('created', 'waking',
		'awaiting-connection', 'sent', 'done', 'failed', 'timed-out', 'cancelled')),
	attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	max_attempts    INTEGER NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
	timeout_ms      INTEGER NOT NULL CHECK (timeout_ms > 0),
	retry_delay_ms  INTEGER NOT NULL CHECK (retry_delay_ms >= 0),
	next_ms         INTEGER NOT NULL,
	deadline_ms     INTEGER NOT NULL DEFAULT 0,
	created_ms      INTEGER NOT NULL,
	updated_ms      INTEGER NOT NULL,
	actor           TEXT NOT NULL,
	result          TEXT NOT NULL DEFAULT '',
	error           TEXT NOT NULL DEFAULT ''
);
-- The open jobs of a gateway in order: its head is the one being worked on.
CREATE INDEX jobs_open ON jobs(gateway_id, id)
	WHERE state IN ('created', 'waking', 'awaiting-connection', 'sent');
CREATE INDEX jobs_due ON jobs(state, next_ms);
CREATE INDEX jobs_deadline ON jobs(deadline_ms) WHERE deadline_ms > 0;
CREATE INDEX jobs_batch ON jobs(batch_id, state);
CREATE INDEX jobs_gateway ON jobs(gateway_id, id);

-- Free-form labels for fleet selection (`--tag T`).
CREATE TABLE gateway_tags (
	gateway_id  TEXT NOT NULL REFERENCES gateways(gateway_id),
	tag         TEXT NOT NULL,
	PRIMARY KEY (gateway_id, tag)
) WITHOUT ROWID;
CREATE INDEX gateway_tags_tag ON gateway_tags(tag);

-- Where a gateway listens for wake-up datagrams (its WAN profile's address).
CREATE TABLE gateway_wakeup (
	gateway_id  TEXT PRIMARY KEY REFERENCES gateways(gateway_id),
	address     TEXT NOT NULL,
	updated_ms  INTEGER NOT NULL
);
