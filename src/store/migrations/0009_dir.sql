-- 0009_dir.sql: what has been published to the LDAP directory (issue 11 s.3; owner: dir).
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
