/*
 * gwa_sig_push.c: fleet orders of a new GWA SIG certificate (gwa_sig_push.h).
 *
 * Why one order per tenant and not one for "all": a fleet batch is what a tenant's
 * operators see and steer (`job batches`, cancel); one per tenant keeps each tenant's
 * progress its own, and the token buckets pace each tenant's wake-ups as for its own
 * fleet orders.
 */
#include "gwa/gwa_sig_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "store/store_gwa_sig.h"
#include "store/store_jobs.h"
#include "store/store_renewal.h"

/* The certificate's payload {"sig": base64 DER} and its fingerprint (hex SHA-256). */
static tw_rc gsp_payload(const char *cert_path, json_t **payload, char fp[65],
	struct tw_error *err)
{
	unsigned char *der = NULL, md[32];
	char *b64 = NULL;
	X509 *x = NULL;
	int len;
	tw_rc rc;

	*payload = NULL;
	if ((rc = keys_read_cert_pem(cert_path, &x, err)) != TW_OK)
		return rc;
	if ((len = i2d_X509(x, &der)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode %s", cert_path);
		goto out;
	}
	EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL);
	tw_hex_encode(md, sizeof(md), fp);
	if ((b64 = malloc(4 * (((size_t)len + 2) / 3) + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	if ((*payload = json_pack("{s:s}", "sig", b64)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	free(b64);
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

static bool gsp_has(const struct store_gwa_sig_push *p, size_t n, int64_t tenant_id)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].tenant_id == tenant_id)
			return true;
	return false;
}

/* One tenant's order, its record and its entry in one transaction; *jobs 0 when the
 * tenant has no gateway. */
static tw_rc gsp_order_tenant(struct tw_store *store, int64_t tenant_id, const char *fp,
	const json_t *payload, long timeout_s, int attempts, const struct job_actor *who,
	int64_t *jobs, struct tw_error *err)
{
	char name[STORE_ID_MAX + 1], sel[STORE_ID_MAX + 8], object[40], detail[512];
	struct job_spec spec = { .type = "gwa-cert-update", .payload = payload,
		.timeout_s = timeout_s, .max_attempts = attempts, .retry_delay_s = -1 };
	struct store_gwa_sig_push p;
	struct audit_entry e;
	int64_t batch = 0;
	tw_rc rc;

	*jobs = 0;
	if ((rc = store_tenant_name(store, tenant_id, name, sizeof(name), err)) != TW_OK)
		return rc;
	snprintf(sel, sizeof(sel), "tenant:%s", name);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	rc = job_create_fleet_in_tx(store, sel, &spec, who, &batch, jobs, err);
	if (rc == TW_E_NOT_FOUND) {   /* no gateway in this tenant: nothing to order */
		store_rollback(store);
		tw_error_clear(err);
		*jobs = 0;
		return TW_OK;
	}
	memset(&p, 0, sizeof(p));
	snprintf(p.fingerprint, sizeof(p.fingerprint), "%s", fp);
	p.tenant_id = tenant_id;
	p.batch_id = batch;
	p.created_ms = tw_now_ms();
	snprintf(object, sizeof(object), "batch:%lld", (long long)batch);
	snprintf(detail, sizeof(detail), "the new GWA SIG certificate %s ordered to the %lld "
		"gateways of tenant %s (gwa-cert-update, fleet order %lld)", fp,
		(long long)*jobs, name, (long long)batch);
	e = (struct audit_entry){ .actor = who->actor, .role = who->role, .client = who->client,
		.action = "gwa.sig-orders", .object = object, .result = "ok", .detail = detail };
	if (rc == TW_OK && (rc = store_gwa_sig_push_add(store, &p, err)) == TW_OK &&
	    (rc = audit_append_in_tx(store, &e, err)) == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK) {
		store_rollback(store);
		*jobs = 0;
	}
	return rc;
}

static tw_rc gsp_unconfirmed(struct tw_store *store, const struct store_gwa_sig_push *p,
	size_t n, int64_t *count, struct tw_error *err)
{
	int64_t counts[JOB__STATES];
	tw_rc rc = TW_OK;

	*count = 0;
	for (size_t i = 0; rc == TW_OK && i < n; i++) {
		if ((rc = store_job_counts(store, p[i].batch_id, counts, err)) != TW_OK)
			break;
		for (int s = 0; s < JOB__STATES; s++)
			if (s != JOB_DONE)
				*count += counts[s];
	}
	return rc;
}

tw_rc gwa_sig_push_ensure(struct tw_store *store, const char *cert_path, long timeout_s,
	int attempts, const struct job_actor *who, struct gwa_sig_push_result *out,
	struct tw_error *err)
{
	struct store_gwa_sig_push *have = NULL;
	int64_t tenants[GWA_SIG_PUSH_TENANTS_MAX + 1];
	size_t nhave = 0, nt = 0;
	json_t *payload = NULL;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((have = calloc(GWA_SIG_PUSH_TENANTS_MAX, sizeof(*have))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = gsp_payload(cert_path, &payload, out->fingerprint, err)) != TW_OK ||
	    (rc = store_gwa_sig_push_list(store, out->fingerprint, have,
	    GWA_SIG_PUSH_TENANTS_MAX, &nhave, err)) != TW_OK ||
	    (rc = store_tenant_ids(store, tenants, GWA_SIG_PUSH_TENANTS_MAX + 1, &nt, err)) !=
	    TW_OK)
		goto out;
	/* Never a silent partial order: more tenants than one pass takes is an error. */
	if (nt > GWA_SIG_PUSH_TENANTS_MAX) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "more than %d tenants: the orders of the new "
			"GWA SIG certificate were not created; give them by hand with `torwart job "
			"create --type gwa-cert-update --tenant T ...`", GWA_SIG_PUSH_TENANTS_MAX);
		goto out;
	}
	for (size_t i = 0; i < nt; i++) {
		int64_t jobs = 0;

		if (gsp_has(have, nhave, tenants[i]))
			continue;
		if ((rc = gsp_order_tenant(store, tenants[i], out->fingerprint, payload, timeout_s,
		    attempts, who, &jobs, err)) != TW_OK)
			goto out;
		if (jobs > 0) {
			out->batches++;
			out->gateways += jobs;
		}
	}
	if ((rc = store_gwa_sig_push_list(store, out->fingerprint, have,
	    GWA_SIG_PUSH_TENANTS_MAX, &nhave, err)) == TW_OK)
		rc = gsp_unconfirmed(store, have, nhave, &out->unconfirmed, err);
out:
	json_decref(payload);
	free(have);
	return rc;
}

tw_rc gwa_sig_push_unconfirmed(struct tw_store *store, const char *cert_path,
	int64_t *count, char fingerprint[65], struct tw_error *err)
{
	struct store_gwa_sig_push *have = NULL;
	json_t *payload = NULL;
	size_t nhave = 0;
	tw_rc rc;

	*count = 0;
	if ((have = calloc(GWA_SIG_PUSH_TENANTS_MAX, sizeof(*have))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = gsp_payload(cert_path, &payload, fingerprint, err)) == TW_OK &&
	    (rc = store_gwa_sig_push_list(store, fingerprint, have, GWA_SIG_PUSH_TENANTS_MAX,
	    &nhave, err)) == TW_OK)
		rc = gsp_unconfirmed(store, have, nhave, count, err);
	json_decref(payload);
	free(have);
	return rc;
}
