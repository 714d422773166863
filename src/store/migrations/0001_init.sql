-- 0001_init.sql: the first schema of the Torwart store (SQLite dialect).
-- Owners: tenants/gateways -> gwa, certificates -> pki, admin_log -> audit.
-- Applied by store_migrate() in one transaction and recorded in schema_migrations.

CREATE TABLE tenants (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	created_ms  INTEGER NOT NULL
);

CREATE TABLE gateways (
	id               INTEGER PRIMARY KEY,
	tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
	gateway_id       TEXT NOT NULL UNIQUE,
	state            TEXT NOT NULL,
	created_ms       INTEGER NOT NULL,
	last_contact_ms  INTEGER NOT NULL DEFAULT 0,
	last_address     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX gateways_tenant ON gateways(tenant_id);

CREATE TABLE certificates (
	id           INTEGER PRIMARY KEY,
	tenant_id    INTEGER NOT NULL REFERENCES tenants(id),
	serial_hex   TEXT NOT NULL,
	issuer       TEXT NOT NULL,
	subject      TEXT NOT NULL,
	owner_kind   TEXT NOT NULL,
	owner_id     TEXT NOT NULL,
	usage        TEXT NOT NULL,
	not_before   INTEGER NOT NULL,
	not_after    INTEGER NOT NULL,
	status       TEXT NOT NULL,
	fingerprint  TEXT NOT NULL UNIQUE,
	der          BLOB NOT NULL,
	UNIQUE (issuer, serial_hex)
);
CREATE INDEX certificates_owner ON certificates(owner_kind, owner_id);
CREATE INDEX certificates_tenant ON certificates(tenant_id);

-- The admin log. seq is assigned by audit.c (last + 1 inside a write transaction), not
-- by AUTOINCREMENT, because it is part of the hashed content.
CREATE TABLE admin_log (
	seq        INTEGER PRIMARY KEY CHECK (seq > 0),
	time       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	role       TEXT NOT NULL,
	client     TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL,
	result     TEXT NOT NULL,
	detail     TEXT NOT NULL,
	prev_hash  BLOB NOT NULL CHECK (length(prev_hash) = 32),
	hash       BLOB NOT NULL CHECK (length(hash) = 32)
);

-- Append-only at the SQL level as well: the hash chain detects edits, these triggers
-- stop the honest-mistake ones (an UPDATE in a shell) before they happen.
CREATE TRIGGER admin_log_no_update BEFORE UPDATE ON admin_log
BEGIN
	SELECT RAISE(ABORT, 'admin_log is append-only');
END;

CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
BEGIN
	SELECT RAISE(ABORT, 'admin_log is append-only');
END;
