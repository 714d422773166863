-- 0006_auditlog.sql: the Merkle admin log (issue 5; owner: audit). See docs/audit-log.md.

-- M-4.5.6.7 error code of an entry. Hashed only when non-empty, so every entry written
-- before this column existed (error_code = '') keeps its original hash.
ALTER TABLE admin_log ADD COLUMN error_code TEXT NOT NULL DEFAULT '';

-- Hashes of complete Merkle subtrees of at least 2^8 leaves: node (level, idx) covers
-- leaves [idx * 2^level, (idx + 1) * 2^level). Smaller subtrees are recomputed from the
-- entries (at most 255 per proof level), so proofs stay in milliseconds with ~N/128 rows.
CREATE TABLE admin_log_node (
	level  INTEGER NOT NULL CHECK (level BETWEEN 8 AND 63),
	idx    INTEGER NOT NULL CHECK (idx >= 0),
	hash   BLOB NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed tree heads: tree size, root, time, ECDSA signature by the signer (tree-head).
CREATE TABLE admin_log_head (
	tree_size  INTEGER PRIMARY KEY CHECK (tree_size > 0),
	time_ms    INTEGER NOT NULL,
	root       BLOB NOT NULL CHECK (length(root) = 32),
	key_label  TEXT NOT NULL,
	signature  BLOB NOT NULL CHECK (length(signature) BETWEEN 8 AND 1024)
);

-- Retention cuts: entries 1..cut_seq were archived to archive (sha256 of the file) and
-- removed. chain_hash is the hash of entry cut_seq (the next entry's prev_hash).
CREATE TABLE admin_log_cut (
	cut_seq         INTEGER PRIMARY KEY CHECK (cut_seq > 0),
	time_ms         INTEGER NOT NULL,
	chain_hash      BLOB NOT NULL CHECK (length(chain_hash) = 32),
	archive         TEXT NOT NULL,
	archive_sha256  TEXT NOT NULL
);

-- Shipping cursors: last seq handed to a remote receiver ("syslog").
CREATE TABLE admin_log_cursor (
	name     TEXT PRIMARY KEY,
	seq      INTEGER NOT NULL CHECK (seq >= 0),
	updated_ms INTEGER NOT NULL
);

-- Alerts waiting for (or done with) delivery to the role's webhook.
CREATE TABLE alert_queue (
	id            INTEGER PRIMARY KEY,
	created_ms    INTEGER NOT NULL,
	kind          TEXT NOT NULL,
	role          TEXT NOT NULL,
	severity      TEXT NOT NULL,
	subject       TEXT NOT NULL,
	message       TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_ms       INTEGER NOT NULL,
	delivered_ms  INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alert_queue_due ON alert_queue(delivered_ms, next_ms);

-- Heads, nodes and cuts are append-only like the entries.
CREATE TRIGGER admin_log_head_no_change BEFORE UPDATE ON admin_log_head
BEGIN SELECT RAISE(ABORT, 'admin_log_head is append-only'); END;
CREATE TRIGGER admin_log_head_no_delete BEFORE DELETE ON admin_log_head
BEGIN SELECT RAISE(ABORT, 'admin_log_head is append-only'); END;
CREATE TRIGGER admin_log_node_no_change BEFORE UPDATE ON admin_log_node
BEGIN SELECT RAISE(ABORT, 'admin_log_node is append-only'); END;
CREATE TRIGGER admin_log_node_no_delete BEFORE DELETE ON admin_log_node
BEGIN SELECT RAISE(ABORT, 'admin_log_node is append-only'); END;
CREATE TRIGGER admin_log_cut_no_change BEFORE UPDATE ON admin_log_cut
BEGIN SELECT RAISE(ABORT, 'admin_log_cut is append-only'); END;
CREATE TRIGGER admin_log_cut_no_delete BEFORE DELETE ON admin_log_cut
BEGIN SELECT RAISE(ABORT, 'admin_log_cut is append-only'); END;

-- Retention is the one controlled way to remove entries: a DELETE passes only for
-- entries at or below a recorded cut (whose row the retention code writes in the same
-- transaction, after exporting them). Everything else is still refused.
DROP TRIGGER admin_log_no_delete;
CREATE TRIGGER admin_log_no_delete BEFORE DELETE ON admin_log
WHEN OLD.seq > coalesce((SELECT max(cut_seq) FROM admin_log_cut), 0)
BEGIN
	SELECT RAISE(ABORT, 'admin_log is append-only (only retention below a cut may remove entries)');
END;
