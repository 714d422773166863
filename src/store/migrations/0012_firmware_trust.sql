-- 0012_firmware_trust.sql: verified manufacturer signatures and the list of certified
-- firmware versions (UC-3.3.1, M-4.5.19, T-SU.1-3; issue 13). Owner: gwa
-- (src/gwa/firmware.c, firmware_trust.c); queries in src/store/store_firmware.c.

-- The manufacturer's signed manifest of an image (docs/firmware.md "Containers"): the
-- CMS file is kept beside the image (cms_path, relative to the home) so that the daily
-- check can verify signature, chain and revocation again (M-4.5.19). signer, serial and
-- issuer are the GWH SIG certificate's, for the log and for finding images by a revoked
-- certificate. checked_ms/check_result: the last re-verification ('ok' or the verdict).
CREATE TABLE firmware_signatures (
	image_id      INTEGER PRIMARY KEY REFERENCES firmware_images (id),
	cms_path      TEXT NOT NULL,
	signer        TEXT NOT NULL,
	signer_serial TEXT NOT NULL,
	signer_issuer TEXT NOT NULL,
	verified_ms   INTEGER NOT NULL,
	checked_ms    INTEGER NOT NULL DEFAULT 0,
	check_result  TEXT NOT NULL DEFAULT ''
);

-- An imported list of certified firmware versions (in reality published by the BSI),
-- verified against [firmware] list_anchor. The current list is the one with the highest
-- sequence; a list whose sequence is not higher than the current one is refused (no
-- rollback to an older list).
CREATE TABLE firmware_lists (
	id           INTEGER PRIMARY KEY,
	sequence     INTEGER NOT NULL UNIQUE CHECK (sequence > 0),
	issued       TEXT NOT NULL,
	sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
	signer       TEXT NOT NULL,
	entries      INTEGER NOT NULL CHECK (entries >= 0),
	imported_ms  INTEGER NOT NULL,
	imported_by  TEXT NOT NULL
);
CREATE TABLE firmware_certified (
	list_id  INTEGER NOT NULL REFERENCES firmware_lists (id),
	model    TEXT NOT NULL,
	version  TEXT NOT NULL,
	PRIMARY KEY (list_id, model, version)
);
