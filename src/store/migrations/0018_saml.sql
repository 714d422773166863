-- SAML 2.0 login to the certificate-management context (issue 12, DOMAIN.md S-8; owner:
-- src/store/store_saml.c, service src/auth/saml_login.c, docs/security.md "SAML login").

-- The identity provider a context (tenant) trusts: its entity id (the assertions' Issuer)
-- and its signing certificate (PEM). One per context.
CREATE TABLE saml_idps (
	tenant_id     INTEGER NOT NULL UNIQUE REFERENCES tenants(id),
	entity_id     TEXT NOT NULL,
	cert_pem      TEXT NOT NULL,
	fingerprint   TEXT NOT NULL,
	not_after     INTEGER NOT NULL,
	updated_ms    INTEGER NOT NULL
);

-- One-time use of an assertion: its ID per identity provider, kept until it expires
-- (expires_ms: its NotOnOrAfter plus the allowed skew); older rows are purged on login.
CREATE TABLE saml_replay (
	entity_id     TEXT NOT NULL,
	assertion_id  TEXT NOT NULL,
	expires_ms    INTEGER NOT NULL,
	PRIMARY KEY (entity_id, assertion_id)
);
CREATE INDEX saml_replay_expires ON saml_replay(expires_ms);
