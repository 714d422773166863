-- 0004_profiles.sql: profile management and monitoring of gateways (issue 4, UC-3.3.2,
-- UC-3.2.3, UC-3.4.1-3.4.3). Owners: all tables below -> gwa (profile*.c, monitor*.c).

-- Desired profile set: what the GWA wants each gateway to hold. doc is the canonical
-- JSON with every secret (meter keys, HAN passwords) sealed with AES-256-GCM
-- (crypto/secretbox.h); hash is SHA-256 of the canonical plaintext, the value the gateway
-- reports back, so drift can be detected without decrypting anything.
CREATE TABLE profiles (
	id          INTEGER PRIMARY KEY,
	gateway_id  TEXT NOT NULL REFERENCES gateways(gateway_id),
	profile_id  TEXT NOT NULL,
	type        TEXT NOT NULL CHECK (type IN ('meter', 'wan', 'proxy', 'evaluation', 'han')),
	doc         TEXT NOT NULL,
	hash        TEXT NOT NULL CHECK (length(hash) = 64),
	updated_ms  INTEGER NOT NULL,
	UNIQUE (gateway_id, profile_id)
);

-- The set last reported by the gateway (session status or an order result).
CREATE TABLE profile_reported (
	gateway_id   TEXT PRIMARY KEY REFERENCES gateways(gateway_id),
	set_hash     TEXT NOT NULL CHECK (length(set_hash) = 64),
	profiles     TEXT NOT NULL,
	reported_ms  INTEGER NOT NULL,
	source       TEXT NOT NULL
);

-- Which EMT may receive data of which gateway (T-PV.4): evaluation profiles may only
-- name these as recipients.
CREATE TABLE emt_authorisations (
	gateway_id  TEXT NOT NULL REFERENCES gateways(gateway_id),
	emt_id      TEXT NOT NULL,
	created_ms  INTEGER NOT NULL,
	PRIMARY KEY (gateway_id, emt_id)
);

-- Alarms, notifications and self-test results received from gateways (UC-3.2.3, 3.4.1,
-- 3.4.3), attributed to the TLS-authenticated gateway only (T-AB.1).
CREATE TABLE gateway_messages (
	id            INTEGER PRIMARY KEY,
	gateway_id    TEXT NOT NULL REFERENCES gateways(gateway_id),
	kind          TEXT NOT NULL CHECK (kind IN ('alarm', 'notification', 'selftest')),
	type          TEXT NOT NULL,
	severity      TEXT NOT NULL,
	gateway_time  TEXT NOT NULL,
	received_ms   INTEGER NOT NULL,
	message       TEXT NOT NULL,
	actions       TEXT NOT NULL
);
CREATE INDEX gateway_messages_gw ON gateway_messages(gateway_id, id);

-- System and calibration log entries (UC-3.4.2) with the gateway's signature, kept so
-- they stay verifiable: verified is the result at receipt against the SIG certificate
-- named by cert_fingerprint.
CREATE TABLE gateway_logs (
	id                INTEGER PRIMARY KEY,
	gateway_id        TEXT NOT NULL REFERENCES gateways(gateway_id),
	kind              TEXT NOT NULL CHECK (kind IN ('system', 'calibration')),
	seq               INTEGER NOT NULL CHECK (seq > 0),
	time              TEXT NOT NULL,
	message           TEXT NOT NULL,
	signature         BLOB NOT NULL,
	verified          INTEGER NOT NULL CHECK (verified IN (0, 1)),
	cert_fingerprint  TEXT NOT NULL,
	received_ms       INTEGER NOT NULL,
	UNIQUE (gateway_id, kind, seq)
);
