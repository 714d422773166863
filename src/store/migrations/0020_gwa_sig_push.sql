-- gwa_sig_push: the orders that give every gateway the GWA's new SIG certificate after a
-- rotation of the GWA SIG key (issue 12; owner: src/store/store_gwa_sig.c, service
-- src/gwa/gwa_sig_push.c, docs/renewal.md "Gateways and the new GWA SIG certificate").
-- One row per certificate and tenant: the fleet order (job_batches.id) that carries the
-- certificate to that tenant's gateways, written in the transaction that creates the
-- order, so a rerun of the rotation (or a retirement check) after a crash finds it and
-- never orders twice.
CREATE TABLE gwa_sig_pushes (
	fingerprint   TEXT NOT NULL,
	tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
	batch_id      INTEGER NOT NULL REFERENCES job_batches(id),
	created_ms    INTEGER NOT NULL,
	PRIMARY KEY (fingerprint, tenant_id)
);
