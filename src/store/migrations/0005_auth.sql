-- 0005_auth.sql: operators, sessions, login throttling and four-eyes approvals (issue 5,
-- S-10, M-4.5.4, M-4.5.6.6). Owner: the auth module (src/auth); SQL in sqlite_auth.c.

-- An operator account. roles is a bit set of enum auth_role (src/auth/auth.h); the client
-- certificate is identified by its SHA-256 fingerprint. Exactly one second factor:
-- factor = 'password' (secret = scrypt record "scrypt$..."), or 'totp' (secret = the
-- base32 TOTP key, which the server needs in the clear to compute codes; see security.md).
CREATE TABLE operators (
	id                INTEGER PRIMARY KEY,
	tenant_id         INTEGER NOT NULL REFERENCES tenants(id),
	name              TEXT NOT NULL UNIQUE,
	roles             INTEGER NOT NULL DEFAULT 0 CHECK (roles >= 0),
	status            TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
	factor            TEXT NOT NULL CHECK (factor IN ('password', 'totp')),
	secret            TEXT NOT NULL,
	totp_last_step    INTEGER NOT NULL DEFAULT 0,
	cert_fingerprint  TEXT NOT NULL UNIQUE CHECK (length(cert_fingerprint) = 64),
	cert_serial       TEXT NOT NULL,
	cert_not_after    INTEGER NOT NULL,
	cert_status       TEXT NOT NULL CHECK (cert_status IN ('valid', 'revoked')),
	created_ms        INTEGER NOT NULL,
	created_by        TEXT NOT NULL
);
CREATE INDEX operators_tenant ON operators(tenant_id);

-- Session tokens: only SHA-256(secret) is stored, so a copy of the database yields no
-- usable token. A session is bound to the client certificate it was issued on.
CREATE TABLE auth_sessions (
	id                TEXT PRIMARY KEY CHECK (length(id) = 32),
	operator_id       INTEGER NOT NULL REFERENCES operators(id),
	secret_hash       BLOB NOT NULL CHECK (length(secret_hash) = 32),
	cert_fingerprint  TEXT NOT NULL,
	client            TEXT NOT NULL,
	created_ms        INTEGER NOT NULL,
	expires_ms        INTEGER NOT NULL,
	revoked_ms        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX auth_sessions_operator ON auth_sessions(operator_id);

-- Failed-login counters per subject (kind 'operator' or 'address'), one window each.
CREATE TABLE auth_failures (
	kind          TEXT NOT NULL CHECK (kind IN ('operator', 'address')),
	subject       TEXT NOT NULL,
	window_ms     INTEGER NOT NULL,
	count         INTEGER NOT NULL CHECK (count >= 0),
	alerted       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, subject)
);

-- Four-eyes requests (M-4.5.6.6): who asked for what and why; who released or refused.
CREATE TABLE approvals (
	id               INTEGER PRIMARY KEY,
	tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
	action           TEXT NOT NULL,
	params           TEXT NOT NULL,
	reason           TEXT NOT NULL,
	requester        TEXT NOT NULL,
	requester_id     INTEGER NOT NULL,
	state            TEXT NOT NULL CHECK (state IN ('pending', 'executed', 'rejected',
	                                                'expired', 'failed')),
	created_ms       INTEGER NOT NULL,
	expires_ms       INTEGER NOT NULL,
	decided_by       TEXT NOT NULL DEFAULT '',
	decided_ms       INTEGER NOT NULL DEFAULT 0,
	decision_reason  TEXT NOT NULL DEFAULT '',
	result           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approvals_tenant_state ON approvals(tenant_id, state);
