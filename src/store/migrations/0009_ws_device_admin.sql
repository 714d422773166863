-- 0009_ws_device_admin.sql: the SM-PKI web service's own tables (issue 11; owner: ws,
-- src/store/store_ws.c). See docs/pki-services.md.
--
-- ws_device_admin: which GWA administers which gateway. device: the SMGW participant's
-- name (torwart ca register --role smgw); admin: the name of the GWA participant. Set
-- by the first certificate request of the gateway that a GWA sends over the web
-- service with its authorisation signature, changed by UpdateDeviceAdmin signed by the
-- current administrator. While a row exists only that GWA may request the gateway's
-- certificates or revoke them.
CREATE TABLE ws_device_admin (
	device      TEXT PRIMARY KEY,
	admin       TEXT NOT NULL,
	changed_ms  INTEGER NOT NULL,
	changed_by  TEXT NOT NULL
);

-- ws_endpoints: a participant's own SendCertificates endpoint (https://HOST:PORT/PATH),
-- where the CA delivers certificates that were not ready synchronously.
CREATE TABLE ws_endpoints (
	participant TEXT PRIMARY KEY,
	url         TEXT NOT NULL,
	changed_ms  INTEGER NOT NULL,
	changed_by  TEXT NOT NULL
);

-- ws_outbox: one asynchronous answer per RequestCertificate that was accepted with
-- ok_syntax (callback_possible, RA approval pending). state: 'waiting' until the
-- request is issued or rejected, then 'ready' (status = the statusInfo to send),
-- 'delivered' once the participant answered ok_received_correctly, 'failed' after
-- max attempts. next_ms: earliest next delivery attempt (exponential back-off).
CREATE TABLE ws_outbox (
	id           INTEGER PRIMARY KEY,
	request_id   INTEGER NOT NULL UNIQUE,
	participant  TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('waiting', 'ready', 'delivered', 'failed')),
	status       TEXT NOT NULL DEFAULT '',
	attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_ms      INTEGER NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	created_ms   INTEGER NOT NULL,
	done_ms      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ws_outbox_due ON ws_outbox (state, next_ms);

-- ws_client_requests: requests this home sent to a remote Sub-CA as a participant
-- (ws_client.h) that were answered ok_syntax: the certificates come later through
-- this home's own SendCertificates endpoint (or a GetCertificateChain poll).
-- state: 'pending', 'received', 'failed'; certs: the DER certificates received,
-- concatenated.
CREATE TABLE ws_client_requests (
	message_id   TEXT PRIMARY KEY,
	remote       TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('pending', 'received', 'failed')),
	status       TEXT NOT NULL DEFAULT '',
	certs        BLOB,
	created_ms   INTEGER NOT NULL,
	done_ms      INTEGER NOT NULL DEFAULT 0
);
