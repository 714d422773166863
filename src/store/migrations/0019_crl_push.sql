-- crl_push: the worker's automatic CRL push (owner: gwa, query SQL_CP_DUE in
-- src/store/store_crl_push.c) asks per gateway whether a crl-update job is open or was
-- created since a moment; jobs had indexes for open jobs and due times only, so that
-- question read every job of the home. Portable SQL; IF NOT EXISTS because the
-- jobs table is older than this migration and tests replay migrations over it.
CREATE INDEX IF NOT EXISTS jobs_type_gateway ON jobs(type, gateway_id, created_ms);
