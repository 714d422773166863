-- 0011_renewal.sql: SMGW certificate renewal through the WAN (issue 12, UC-3.3.3; owner:
-- the gwa module, src/gwa/renewal.c; SQL in src/store/store_renewal.c).
--
-- One row per renewal of one gateway's TLS/SIG/ENC certificates. The row is the
-- workflow state ("Fachlicher Ablaufzustand", UC-3.6); the orders that carry it to the
-- gateway are ordinary jobs (request_job: cert-request, install_job: cert-install), so
-- their deadlines, retries and wake-ups are the jobs' (docs/jobs.md). States:
--   requesting  cert-request job open: the gateway makes new keys and a renewal request
--   received    the request is stored (request_der); the worker checks, authorises, issues
--   installing  new certificates issued and recorded (status 'pending'); cert-install open
--   installed   the gateway confirmed the installation; waiting for its first connection
--               with the new TLS certificate (the proof)
--   confirmed   proof seen: new certificates 'valid', old 'superseded'; old ones are
--               revoked at revoke_at_ms (the grace period)
--   completed   old certificates revoked (final)
--   failed      a check or an order failed (final; error_code/error say why); the gateway
--               keeps its old certificates; start a new renewal to retry
-- Portable SQL (PostgreSQL: INTEGER -> BIGINT, BLOB -> BYTEA).
CREATE TABLE renewals (
	id            INTEGER PRIMARY KEY,
	tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
	gateway_id    TEXT NOT NULL,
	state         TEXT NOT NULL,
	actor         TEXT NOT NULL,
	reason        TEXT NOT NULL,
	request_job   INTEGER NOT NULL DEFAULT 0,
	install_job   INTEGER NOT NULL DEFAULT 0,
	request_der   BLOB,
	old_certs     TEXT NOT NULL DEFAULT '',
	new_certs     TEXT NOT NULL DEFAULT '',
	new_tls_fp    TEXT NOT NULL DEFAULT '',
	error_code    TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	created_ms    INTEGER NOT NULL,
	updated_ms    INTEGER NOT NULL,
	next_ms       INTEGER NOT NULL DEFAULT 0,
	revoke_at_ms  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX renewals_gateway ON renewals(gateway_id);
CREATE INDEX renewals_due ON renewals(state, next_ms);
CREATE INDEX renewals_new_tls ON renewals(new_tls_fp);
-- At most one open renewal per gateway.
CREATE UNIQUE INDEX renewals_open ON renewals(gateway_id)
	WHERE state IN ('requesting', 'received', 'installing', 'installed', 'confirmed');

-- Initial configuration files (UC-3.3.6, T-IK.1; owner: gwa, src/gwa/initial_config.c):
-- one row per exported file. The file itself is never stored (it is encrypted for its
-- recipients and handed out); sha256 identifies it, recipients names the ENC certificates
-- it was encrypted for (fingerprints), receipt_* the integrator's signed receipt.
CREATE TABLE initial_configs (
	id            INTEGER PRIMARY KEY,
	tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
	gateway_id    TEXT NOT NULL,
	sha256        TEXT NOT NULL UNIQUE,
	recipients    TEXT NOT NULL,
	actor         TEXT NOT NULL,
	created_ms    INTEGER NOT NULL,
	receipt_ms    INTEGER NOT NULL DEFAULT 0,
	receipt_by    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX initial_configs_gateway ON initial_configs(gateway_id);
