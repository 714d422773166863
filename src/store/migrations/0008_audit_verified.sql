-- 0008_audit_verified.sql: where the worker's admin-log verification got to (issue 10;
-- owner: audit). See docs/audit-log.md "Incremental verification".
--
-- One row per verifier (name, e.g. "worker"): the log was verified intact up to the
-- signed tree head at tree_size. chain_hash is the hash of entry tree_size, frontier the
-- Merkle frontier at tree_size (32 bytes per set bit of tree_size, smallest subtree
-- first). Not trusted on its own: the next pass recomputes the root from the frontier
-- and compares it with the signed head at tree_size, and entry tree_size with chain_hash.
-- Portable SQL (PostgreSQL: BLOB -> BYTEA).
CREATE TABLE admin_log_verified (
	name         TEXT PRIMARY KEY,
	tree_size    INTEGER NOT NULL CHECK (tree_size > 0),
	chain_hash   BLOB NOT NULL CHECK (length(chain_hash) = 32),
	frontier     BLOB NOT NULL CHECK (length(frontier) BETWEEN 32 AND 2048),
	verified_ms  INTEGER NOT NULL
);
