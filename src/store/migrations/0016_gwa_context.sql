-- The per-GWA certificate-management context (issue 12, DOMAIN.md S-8; owner:
-- src/store/store_gwa_context.c, service src/gwa/gwa_context.c, docs/renewal.md
-- "The certificate-management context"). A context is a tenant (a GWA client): besides the
-- SM-PKI certificates this home issued to the tenant's gateways (table certificates), it
-- holds foreign certificates imported by the GWA (EMTs, HAN/CLS devices, participants of
-- other Sub-CAs), optionally assigned to one of its gateways, and the CAs it trusts for
-- certificates outside the SM-PKI.

-- status: unchecked (imported, not validated yet), valid, expired, revoked, untrusted
-- (no chain to an SM-PKI root or a trusted CA of the context); set by the validation.
CREATE TABLE gwa_context_certs (
	id            INTEGER PRIMARY KEY,
	tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
	label         TEXT NOT NULL,
	gateway_id    TEXT NOT NULL DEFAULT '',
	fingerprint   TEXT NOT NULL,
	subject       TEXT NOT NULL,
	issuer        TEXT NOT NULL,
	serial_hex    TEXT NOT NULL,
	not_before    INTEGER NOT NULL,
	not_after     INTEGER NOT NULL,
	der           BLOB NOT NULL,
	status        TEXT NOT NULL DEFAULT 'unchecked',
	check_detail  TEXT NOT NULL DEFAULT '',
	checked_ms    INTEGER NOT NULL DEFAULT 0,
	created_ms    INTEGER NOT NULL,
	updated_ms    INTEGER NOT NULL,
	UNIQUE (tenant_id, fingerprint)
);
CREATE INDEX gwa_context_certs_gateway ON gwa_context_certs(tenant_id, gateway_id);

-- CAs a context trusts for non-SM-PKI certificates (HAN, CLS devices).
CREATE TABLE gwa_context_trust (
	id            INTEGER PRIMARY KEY,
	tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
	fingerprint   TEXT NOT NULL,
	subject       TEXT NOT NULL,
	not_after     INTEGER NOT NULL,
	der           BLOB NOT NULL,
	created_ms    INTEGER NOT NULL,
	UNIQUE (tenant_id, fingerprint)
);
