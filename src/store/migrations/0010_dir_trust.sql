-- 0010_dir_trust.sql: the LDAP directory's publication state (issue 11 s.3; owner: dir) and
-- the CRLs of other SM-PKI CAs (issue 11 s.5; owner: pki trust).
-- See docs/pki-services.md "The directory".
--
-- The publication queue is the difference between certificates and dir_published: a
-- certificate recorded by any path (ca issue, the web service, gateway add, init) has no
-- row here and is pending; a revocation changes certificates.status and makes it pending
-- again. Nothing has to remember to enqueue, and a directory outage loses nothing.
-- `torwart dir resync` empties both tables, so everything is published again.
CREATE TABLE dir_published (
	cert_id      INTEGER NOT NULL UNIQUE REFERENCES certificates(id),
	status       TEXT NOT NULL,
	published_ms INTEGER NOT NULL
);
-- The CRL number of each CA last written to the CA's entry.
CREATE TABLE dir_crl_published (
	ca           TEXT NOT NULL UNIQUE,
	number       INTEGER NOT NULL,
	published_ms INTEGER NOT NULL
);
-- CRLs of the CAs Torwart trusts but does not run (other Sub-CAs, the Root), fetched by
-- the worker from the distribution points named in certificates, verified against the
-- issuing CA before they are stored. A row without der is a source still to be fetched
-- (an edge saw a certificate of that issuer). issuer is the CA's subject in RFC 2253 form.
-- See docs/pki-services.md "Trust across the SM-PKI".
CREATE TABLE trust_crls (
	issuer          TEXT NOT NULL UNIQUE,
	url             TEXT NOT NULL,
	number          INTEGER NOT NULL DEFAULT 0,
	this_update     INTEGER NOT NULL DEFAULT 0,
	next_update     INTEGER NOT NULL DEFAULT 0,
	fetched_ms      INTEGER NOT NULL DEFAULT 0,
	attempt_ms      INTEGER NOT NULL DEFAULT 0,
	der             BLOB,
	last_error      TEXT NOT NULL DEFAULT ''
);
