-- 0007_firmware.sql: the firmware catalogue (UC-3.2.5, UC-3.3.1, T-SU) and the activation
-- state of CA keys (M-4.5.18, issue 5). Owners: gwa (src/gwa/firmware.c) for
-- firmware_images, pki (src/pki/ca_state.c) for ca_key_state. SQL in sqlite_firmware.c
-- and sqlite_ca.c.

-- A firmware image received from a gateway manufacturer. The bytes are a file under the
-- home (path, relative: firmware/<sha256>), named by their SHA-256 so that a file can be
-- re-checked against its row at any time (T-SU.1 at rest). One image per digest and one
-- per (model, version): a second upload of either is refused, so "version V of model M"
-- always means the same bytes (T-SU.3).
-- signature: the vendor signature check (UC-3.3.1); nothing verifies vendor signatures yet,
-- so every image is 'unverified' until that exists ('verified'/'invalid' are reserved).
-- state: uploaded -> released (may be ordered to gateways) -> withdrawn; uploaded ->
-- withdrawn. withdrawn is final.
CREATE TABLE firmware_images (
	id            INTEGER PRIMARY KEY,
	model         TEXT NOT NULL,
	version       TEXT NOT NULL,
	sha256        TEXT NOT NULL UNIQUE CHECK (length(sha256) = 64),
	size          INTEGER NOT NULL CHECK (size > 0),
	path          TEXT NOT NULL,
	signature     TEXT NOT NULL DEFAULT 'unverified'
	              CHECK (signature IN ('unverified', 'verified', 'invalid')),
	state         TEXT NOT NULL CHECK (state IN ('uploaded', 'released', 'withdrawn')),
	uploaded_ms   INTEGER NOT NULL,
	uploaded_by   TEXT NOT NULL,
	released_ms   INTEGER NOT NULL DEFAULT 0,
	released_by   TEXT NOT NULL DEFAULT '',
	withdrawn_ms  INTEGER NOT NULL DEFAULT 0,
	withdrawn_by  TEXT NOT NULL DEFAULT '',
	UNIQUE (model, version)
);

-- Whether a CA key ([ca.<name>] in torwart.conf; the key itself lives in the token) may
-- be used for issuance and CRL signing. A CA without a row is INACTIVE: no key is used
-- unless its activation is on record (who, when, why), which is what an auditor checks.
-- Homes made before this migration used their CA keys without such a record; the CA
-- certificates they hold (certificates rows with owner_kind 'ca', owner_id = CA name, as
-- `torwart init --test-pki` records them) are carried over as active below, marked
-- 'migration:0007' so that the carry-over is visible in `torwart ca status`. A CA
-- configured by hand without a certificate row has to be activated explicitly.
CREATE TABLE ca_key_state (
	ca          TEXT PRIMARY KEY,
	state       TEXT NOT NULL CHECK (state IN ('inactive', 'active')),
	changed_ms  INTEGER NOT NULL,
	changed_by  TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT ''
);
INSERT INTO ca_key_state (ca, state, changed_ms, changed_by, reason)
	SELECT DISTINCT owner_id, 'active',
		CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'migration:0007',
		'CA key in use before migration 0007 (activation was not recorded then)'
	FROM certificates WHERE owner_kind = 'ca' AND owner_id <> '';
