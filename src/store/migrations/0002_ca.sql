-- 0002_ca.sql: the Sub-CA engine (issue 3, DOMAIN.md S-1, S-3, S-5). Owner: pki (ca.c, crl.c).

-- Participants registered out of band by the RA before their first request is accepted
-- (S-3). The subject data here is what a request must match: common name and market
-- partner id (OU); for an SMGW also the pre-registered gateway id and device serial.
CREATE TABLE ca_participants (
	id                 INTEGER PRIMARY KEY,
	name               TEXT NOT NULL UNIQUE,
	organisation       TEXT NOT NULL,
	role               TEXT NOT NULL CHECK (role IN ('emt', 'gwa', 'gwh', 'smgw')),
	market_partner_id  TEXT NOT NULL,
	common_name        TEXT NOT NULL,
	email              TEXT NOT NULL DEFAULT '',
	gateway_id         TEXT NOT NULL DEFAULT '',
	device_serial      TEXT NOT NULL DEFAULT '',
	created_ms         INTEGER NOT NULL,
	created_by         TEXT NOT NULL
);

-- The request queue. digest is SHA-256 of the request as received (the requests module's
-- replay digest); UNIQUE makes a replay fail in the database itself, whatever the caller.
CREATE TABLE ca_requests (
	id           INTEGER PRIMARY KEY,
	digest       TEXT NOT NULL UNIQUE CHECK (length(digest) = 64),
	participant  TEXT NOT NULL REFERENCES ca_participants(name),
	kind         TEXT NOT NULL CHECK (kind IN ('initial', 'renewal')),
	state        TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'issued')),
	subject      TEXT NOT NULL,
	received_ms  INTEGER NOT NULL,
	decided_ms   INTEGER NOT NULL DEFAULT 0,
	decided_by   TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	der          BLOB NOT NULL
);
CREATE INDEX ca_requests_state ON ca_requests(state, id);

-- Revocation data of issued certificates (S-5). reason is the RFC 5280 CRLReason
-- (0..10 without 7), -1 while the certificate is valid.
ALTER TABLE certificates ADD COLUMN request_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN revoked_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER NOT NULL DEFAULT -1;
-- The CRL generator streams exactly these rows, in insertion order.
CREATE INDEX certificates_revoked ON certificates(issuer, id) WHERE status = 'revoked';
CREATE INDEX certificates_serial ON certificates(serial_hex);

-- The current CRL per CA. The DER itself is a file under HOME/crl/ (it can be tens of
-- megabytes); this row is what api needs for ETag/Last-Modified and what the worker needs
-- to decide when to regenerate.
CREATE TABLE ca_crls (
	ca           TEXT PRIMARY KEY,
	number       INTEGER NOT NULL CHECK (number > 0),
	this_update  INTEGER NOT NULL,
	next_update  INTEGER NOT NULL,
	entries      INTEGER NOT NULL,
	sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
	path         TEXT NOT NULL,
	dirty        INTEGER NOT NULL DEFAULT 0
);
