-- crl_scan: the CRL generator's scan reads only the index (owner: ca, query
-- SQL_C_REVOKED in src/store/store_ca.c). The index of 0002 held (issuer, id) only, so
-- every revoked entry cost a lookup of its certificates row, which holds the whole
-- certificate DER (about 700 bytes): for 1,000,000 revoked certificates, every page of
-- the table read in id order through the index. With every column the query names in
-- the index (the same partial index, the same order; status too, or SQLite does not
-- call it covering), the scan is one pass over the index: SQLite's plan says "USING
-- COVERING INDEX certificates_revoked", PostgreSQL can use an index-only scan.
-- Portable SQL.
DROP INDEX certificates_revoked;
CREATE INDEX certificates_revoked ON certificates(issuer, id, serial_hex, revoked_ms,
	revocation_reason, status) WHERE status = 'revoked';
