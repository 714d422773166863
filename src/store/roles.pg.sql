-- roles.pg.sql: restricted PostgreSQL roles for the Torwart services (TR-03109-6
-- M-4.5.6.4 database security, M-4.5.12 service segmentation; docs/security.md
-- "Database roles", docs/operations.md "Several wan hosts on one database").
--
-- The schema owner (the role of `torwart init --store`, here "torwart") keeps DDL and
-- everything else; the signer and the CLI on the internal host log in as the owner.
-- Each service that may live elsewhere gets only the table privileges its code paths use:
--   torwart_wan     the gateway front end (DMZ hosts): [store] url_wan
--   torwart_api     the operator front end; the commands it runs for remote operators
--                   run with its role too: [store] url_api
--   torwart_worker  jobs, wake-ups, CRLs, admin-log heads/verification/shipping/retention
--                   and alert delivery: [store] url_worker
-- What no service role has: DDL (so none can disable the admin log's append-only
-- triggers), UPDATE/DELETE/TRUNCATE on admin_log and admin_log_node, and TRUNCATE on any
-- table. Signed tree heads, archive cuts and verification positions are the worker's.
--
-- Run as the owner after the schema exists, and again after an upgrade that adds
-- tables (it is idempotent: every role's table privileges are revoked, then granted):
--   psql -v ON_ERROR_STOP=1 "postgresql://torwart@db.example/torwart" -f roles.pg.sql
-- then give each role a password or certificate (ALTER ROLE torwart_wan PASSWORD ...)
-- and the database's CONNECT privilege if PUBLIC does not have it.
-- A table added by a later migration is unreachable for these roles until it is listed
-- here (fail closed): the migration's author adds its grants in the same change.

DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'torwart_wan') THEN
		CREATE ROLE torwart_wan LOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'torwart_api') THEN
		CREATE ROLE torwart_api LOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'torwart_worker') THEN
		CREATE ROLE torwart_worker LOGIN;
	END IF;
END
$roles$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM torwart_wan, torwart_api, torwart_worker;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM torwart_wan, torwart_api, torwart_worker;
GRANT USAGE ON SCHEMA public TO torwart_wan, torwart_api, torwart_worker;
-- Identity columns of the tables each role inserts into (nextval only).
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO torwart_wan, torwart_api, torwart_worker;

-- ---- every service: read the schema version, append to the admin log and its Merkle
-- tree (audit_append: chain hash of the last entry, a tree node per completed chunk),
-- queue an alert
GRANT SELECT ON schema_migrations TO torwart_wan, torwart_api, torwart_worker;
GRANT SELECT, INSERT ON admin_log, admin_log_node TO torwart_wan, torwart_api, torwart_worker;
-- (INSERT alone: alerts are queued without RETURNING, which would need SELECT on id)
GRANT INSERT ON alert_queue TO torwart_wan, torwart_api, torwart_worker;

-- ---- wan: identify a gateway or EMT by its TLS certificate, record contacts, hand out
-- orders and take their results, store what gateways report (logs, messages, profiles)
GRANT SELECT ON certificates, tenants, gateway_tags, job_batches, profiles,
	ca_participants, emt_authorisations, firmware_images TO torwart_wan;
GRANT SELECT, UPDATE ON gateways TO torwart_wan;
-- INSERT: orders an EMT's request or a gateway's reported profile set leads to
GRANT SELECT, INSERT, UPDATE ON jobs TO torwart_wan;
GRANT SELECT, INSERT, UPDATE, DELETE ON profile_reported, gateway_logs, gateway_messages
	TO torwart_wan;
-- not: operators, auth_sessions, auth_failures, approvals (operator secrets and
-- sessions), ca_key_state, ca_requests, ca_crls (the CA's state), gateway_wakeup,
-- admin_log_head, admin_log_cut, admin_log_cursor, admin_log_verified, and no INSERT
-- or DELETE on gateways, certificates, or DELETE on jobs.

-- ---- worker: deadlines, retries and paced wake-ups of jobs; CRL issuing; signed tree
-- heads, incremental verification, shipping cursor, retention (the admin_log DELETE
-- trigger allows removing entries only below a recorded cut); alert delivery
GRANT SELECT ON certificates, tenants, gateways, gateway_tags, gateway_wakeup,
	job_batches, ca_key_state, ca_participants TO torwart_worker;
GRANT SELECT, UPDATE ON jobs TO torwart_worker;
GRANT SELECT, INSERT, UPDATE ON ca_crls, alert_queue, admin_log_cursor, admin_log_verified
	TO torwart_worker;
GRANT SELECT, INSERT ON admin_log_head, admin_log_cut TO torwart_worker;
GRANT DELETE ON admin_log TO torwart_worker;
-- not: operators, auth_*, approvals, ca_requests, profiles and what gateways report.

-- ---- api: operator logins, sessions and approvals, and the operator commands it runs
-- (gateways, jobs, certificates, CA requests and key state through the signer, profiles,
-- firmware, EMT authorisations, tenants): data manipulation on the operational tables;
-- on the admin log only appends, signed heads, cuts and verification positions read-only,
-- alerts queued but delivered by the worker
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, gateways, gateway_tags, gateway_wakeup,
	gateway_logs, gateway_messages, certificates, jobs, job_batches, profiles,
	profile_reported, emt_authorisations, firmware_images, ca_requests, ca_participants,
	ca_crls, ca_key_state, operators, auth_sessions, auth_failures, approvals
	TO torwart_api;
GRANT SELECT, INSERT, UPDATE ON admin_log_cursor TO torwart_api;
GRANT SELECT ON admin_log_head, admin_log_cut, admin_log_verified TO torwart_api;
GRANT SELECT ON alert_queue TO torwart_api;

-- ---- the areas added after the roles were first drawn (web service, directory and trust,
-- renewal, firmware verification and rollouts, alarm acknowledgement, metering and time).
-- Derived from which process runs each area's code (docs/architecture.md); the grants of
-- these areas have not yet been narrowed from the statements each service really runs as
-- the first ones were (docs/security.md "Database roles"): renewal issuance through the
-- worker's role (it records a CA request) is not covered and needs the owner's URL.
GRANT SELECT ON ws_device_admin, ws_endpoints, trust_crls, renewals, rollouts,
	rollout_targets, firmware_signatures, firmware_lists, firmware_certified, emt_endpoints,
	time_checks TO torwart_wan;
GRANT SELECT, INSERT, UPDATE ON metering_messages, gateway_time TO torwart_wan;
GRANT UPDATE ON renewals, certificates TO torwart_wan;   -- the proof: pending -> valid
GRANT INSERT ON trust_crls TO torwart_wan;   -- trust_check: a new issuer's CRL source
GRANT SELECT, INSERT, UPDATE, DELETE ON ws_outbox, ws_client_requests, dir_published,
	dir_crl_published, trust_crls, renewals, rollouts, rollout_targets, metering_messages,
	time_checks TO torwart_worker;
GRANT SELECT ON ws_device_admin, ws_endpoints, initial_configs, firmware_images,
	firmware_signatures, firmware_lists, firmware_certified, emt_endpoints, gateway_time,
	gateway_message_acks, profiles, emt_authorisations TO torwart_worker;
GRANT UPDATE ON firmware_images TO torwart_worker;         -- the daily check marks invalid
GRANT INSERT ON jobs, job_batches TO torwart_worker;       -- rollout groups, renewal orders
GRANT INSERT, UPDATE ON certificates TO torwart_worker;    -- renewal, revocation after grace
GRANT SELECT, INSERT, UPDATE, DELETE ON ws_device_admin, ws_endpoints, ws_outbox,
	ws_client_requests, dir_published, dir_crl_published, trust_crls, renewals,
	initial_configs, firmware_signatures, firmware_lists, firmware_certified, rollouts,
	rollout_targets, gateway_message_acks, metering_messages, emt_endpoints, time_checks,
	gateway_time TO torwart_api;
-- the certificate-management context (S-8): its commands run in the api; the worker's
-- scheduled validation reads and marks.
GRANT SELECT, INSERT, UPDATE, DELETE ON gwa_context_certs, gwa_context_trust TO torwart_api;
GRANT SELECT, UPDATE ON gwa_context_certs TO torwart_worker;
GRANT SELECT ON gwa_context_trust TO torwart_worker;
-- SAML login to the context (S-8): the api checks assertions and remembers their IDs;
-- `torwart context idp-set` runs locally or through the api.
GRANT SELECT, INSERT, UPDATE, DELETE ON saml_idps, saml_replay TO torwart_api;
-- gwa_sig_pushes (the orders of a new GWA SIG certificate): only `torwart gwa renew --key
-- sig`, run on the signer's host as the owner, writes it; the worker reads it to sign the
-- wake-ups of gateways still waiting for the certificate with the previous key.
GRANT SELECT ON gwa_sig_pushes TO torwart_worker;
