-- metering migration: metering data relayed to EMTs (UC-3.5.1, UC-3.5.2, M-4.5.5), the EMTs'
-- delivery endpoints, and the legal-time service (UC-3.2.1, M-4.5.9, T-PTB.1-3).
-- Owner: src/metering (SQL in src/store/store_metering.c).

-- One message a gateway sent for an EMT, stored before the gateway gets its ack, kept
-- until the EMT acknowledged it (state 'delivered') and then for the retention period.
-- body: what is delivered, never decrypted by the GWA: the gateway's whole CMS SignedData
-- for 'tariffed', the inner EnvelopedData (outer signature verified and removed) for
-- 'grid-status'. sha256: of the CMS the gateway sent (a replay under a new message id is
-- refused). (gateway_id, message_id): the gateway's id of the message; a resend with the
-- same id is acknowledged again without a second row (idempotent receipt).
CREATE TABLE metering_messages (
	id              INTEGER PRIMARY KEY,
	gateway_id      TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	kind            TEXT NOT NULL CHECK (kind IN ('tariffed', 'grid-status')),
	emt_id          TEXT NOT NULL,
	metering_point  TEXT NOT NULL,
	clock_ok        INTEGER NOT NULL DEFAULT 1,
	sha256          TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
	body            BLOB NOT NULL,
	received_ms     INTEGER NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_ms INTEGER NOT NULL DEFAULT 0,
	delivered_ms    INTEGER NOT NULL DEFAULT 0,
	alerted         INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	UNIQUE (gateway_id, message_id)
);
CREATE INDEX metering_messages_due ON metering_messages (state, next_attempt_ms);

-- Where an EMT (market partner id) receives its messages: an https URL; the GWA
-- authenticates with its TLS certificate and requires the EMT's SM-PKI TLS certificate.
CREATE TABLE emt_endpoints (
	emt_id      TEXT PRIMARY KEY,
	url         TEXT NOT NULL,
	changed_ms  INTEGER NOT NULL,
	changed_by  TEXT NOT NULL
);

-- Checks of the GWA clock against its upstream (NTP) servers; the newest row decides
-- whether the GWA serves time to gateways.
CREATE TABLE time_checks (
	id          INTEGER PRIMARY KEY,
	checked_ms  INTEGER NOT NULL,
	upstream    TEXT NOT NULL,
	offset_ms   INTEGER NOT NULL,
	ok          INTEGER NOT NULL,
	valid_until_ms INTEGER NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT ''
);

-- Per gateway: the last time synchronisation and its outcome (T-PTB.2), for throttling
-- (T-PTB.3) and for reporting gateways whose clock is off.
CREATE TABLE gateway_time (
	gateway_id      TEXT PRIMARY KEY,
	last_sync_ms    INTEGER NOT NULL DEFAULT 0,
	last_offset_ms  INTEGER NOT NULL DEFAULT 0,
	syncs           INTEGER NOT NULL DEFAULT 0,
	failures        INTEGER NOT NULL DEFAULT 0,
	last_failure    TEXT NOT NULL DEFAULT ''
);
