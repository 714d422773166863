-- 0009_ws_device_admin.sql: which GWA administers which gateway, for the SM-PKI web
-- service (issue 11; owner: ws). See docs/pki-services.md "UpdateDeviceAdmin".
--
-- device: the SMGW participant's name (torwart ca register --role smgw); admin: the
-- name of the GWA participant that administers it. Set by the first certificate
-- request of the gateway that a GWA sends over the web service with its authorisation
-- signature, changed by UpdateDeviceAdmin signed by the current administrator. While a
-- row exists only that GWA may request the gateway's certificates or revoke them.
CREATE TABLE ws_device_admin (
	device      TEXT PRIMARY KEY,
	admin       TEXT NOT NULL,
	changed_ms  INTEGER NOT NULL,
	changed_by  TEXT NOT NULL
);
