/*
 * worker_metrics.c: the worker's /metrics (see worker_metrics.h). Each scrape runs a few
 * small queries on the worker's own store connection, on the worker's loop: a scrape
 * every 15 s costs less than one job hand-out.
 */
#include "worker/worker_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/metrics.h"
#include "net/metrics_http.h"
#include "signer/signer_metrics.h"
#include "store/store_audit_verified.h"
#include "store/store_auditlog.h"
#include "store/store_ca.h"
#include "store/store_jobs.h"

/* The CAs whose CRLs the worker keeps (pki/crl.h). */
#define WM_DEFAULT_CRL_CAS "sub-ca"
/* The name the worker's incremental verification records its position under. */
#define WM_VERIFIER "worker"
#define WM_SIGNER_FILE_MAX (256 * 1024)

struct worker_metrics {
	const struct tw_home *home;
	struct tw_store *store;
	struct metrics_http *http;
};

static tw_rc wm_jobs(struct tw_buf *out, struct tw_store *store, struct tw_error *err)
{
	int64_t counts[JOB__STATES];
	tw_rc rc;

	if ((rc = store_job_counts(store, 0, counts, err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_jobs", "gauge",
	    "jobs in the store, by state", err)) != TW_OK)
		return rc;
	for (int s = 0; s < JOB__STATES && rc == TW_OK; s++)
		rc = tw_metrics_sample(out, "torwart_jobs", "state",
			store_job_state_name((enum store_job_state)s), (uint64_t)counts[s], err);
	return rc;
}

static tw_rc wm_crls(struct tw_buf *out, const struct tw_home *home, struct tw_store *store,
	int64_t now_s, struct tw_error *err)
{
	const char *list = tw_config_get_or(home->conf, "ca", "crl_cas", WM_DEFAULT_CRL_CAS);
	struct store_ca_crl crl;
	struct tw_buf next;
	bool found;
	tw_rc rc;

	tw_buf_init(&next, 64 * 1024);
	rc = tw_metrics_family(out, "torwart_crl_age_seconds", "gauge",
		"seconds since the thisUpdate of the CA's current CRL", err);
	if (rc == TW_OK)
		rc = tw_metrics_family(&next, "torwart_crl_next_update_seconds", "gauge",
			"seconds until the nextUpdate of the CA's current CRL (negative: overdue)",
			err);
	for (const char *p = list; *p != '\0' && rc == TW_OK;) {
		char ca[STORE_ID_MAX + 1];
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if ((n = strcspn(p, " ,")) == 0)
			break;
		if (n > STORE_ID_MAX) {
			rc = tw_error_set(err, TW_E_CONFIG, "[ca] crl_cas names a CA longer than %d "
				"bytes", STORE_ID_MAX);
			break;
		}
		memcpy(ca, p, n);
		ca[n] = '\0';
		p += n;
		if ((rc = store_ca_crl_get(store, ca, &crl, &found, err)) != TW_OK || !found)
			continue;   /* no CRL yet: no sample (an absent series, not a fake age) */
		if ((rc = tw_metrics_sample(out, "torwart_crl_age_seconds", "ca", ca,
		    now_s > crl.this_update ? (uint64_t)(now_s - crl.this_update) : 0, err)) ==
		    TW_OK)
			rc = tw_metrics_sample_double(&next, "torwart_crl_next_update_seconds", "ca",
				ca, (double)(crl.next_update - now_s), err);
	}
	if (rc == TW_OK)
		rc = tw_buf_append(out, next.data, next.len, err);
	tw_buf_free(&next);
	return rc;
}

static tw_rc wm_audit(struct tw_buf *out, struct tw_store *store, int64_t now_ms,
	struct tw_error *err)
{
	struct store_audit_row *last = calloc(1, sizeof(*last));
	struct store_audit_verified *pos = calloc(1, sizeof(*pos));
	struct store_auditlog_head head;
	bool found = false, vfound = false, hfound = false;
	int64_t pending = 0;
	tw_rc rc;

	if (last == NULL || pos == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = store_audit_last(store, last, &found, err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_admin_log_entries", "gauge",
	    "entries in the admin log (sequence number of the last one)", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_admin_log_entries", NULL, NULL,
	    found ? (uint64_t)last->seq : 0, err)) != TW_OK)
		goto out;
	rc = store_audit_verified_get(store, WM_VERIFIER, pos, &vfound, err);
	if (rc == TW_E_INTEGRITY) {   /* a damaged position: the worker starts over */
		vfound = false;
		rc = TW_OK;
	}
	if (rc != TW_OK)
		goto out;
	if (vfound && (rc = store_auditlog_head_get(store, pos->tree_size, &head, &hfound, err)) !=
	    TW_OK)
		goto out;
	if ((rc = tw_metrics_family(out, "torwart_admin_log_verified_entries", "gauge",
	    "tree size of the last signed head the worker verified the log up to", err)) != TW_OK ||
	    (rc = tw_metrics_sample(out, "torwart_admin_log_verified_entries", NULL, NULL,
	    vfound ? (uint64_t)pos->tree_size : 0, err)) != TW_OK)
		goto out;
	/* No verified head yet: no sample, so an alert on absent() fires instead of a lie. */
	if ((rc = tw_metrics_family(out, "torwart_admin_log_verified_head_age_seconds", "gauge",
	    "age of the last signed tree head the worker verified", err)) != TW_OK)
		goto out;
	if (hfound && (rc = tw_metrics_sample_double(out,
	    "torwart_admin_log_verified_head_age_seconds", NULL, NULL,
	    (double)(now_ms - head.time_ms) / 1000.0, err)) != TW_OK)
		goto out;
	if ((rc = store_alert_pending(store, &pending, err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_alerts_queued", "gauge",
	    "alerts not yet delivered to their role's webhook", err)) != TW_OK)
		goto out;
	if ((rc = tw_metrics_sample(out, "torwart_alerts_queued", NULL, NULL, (uint64_t)pending,
	    err)) != TW_OK ||
	    (rc = store_alert_set_aside(store, ALERT_SET_ASIDE_MS, &pending, err)) != TW_OK ||
	    (rc = tw_metrics_family(out, "torwart_alerts_undeliverable", "gauge",
	    "queued alerts set aside: their role has no webhook", err)) != TW_OK)
		goto out;
	rc = tw_metrics_sample(out, "torwart_alerts_undeliverable", NULL, NULL, (uint64_t)pending,
		err);
out:
	free(last);
	free(pos);
	return rc;
}

/* The signer's file (signer_metrics.h), if it is there and readable. */
static tw_rc wm_signer(struct tw_buf *out, const struct tw_home *home, struct tw_error *err)
{
	char *sock = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	char *slash = sock != NULL ? strrchr(sock, '/') : NULL;
	char path[4096];
	unsigned char *data = NULL;
	size_t len = 0;
	struct tw_error ignored;
	bool have;
	tw_rc rc;

	if (slash == NULL) {
		free(sock);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - sock), sock, SIGNER_METRICS_FILE);
	free(sock);
	have = tw_read_file(path, WM_SIGNER_FILE_MAX, &data, &len, &ignored) == TW_OK;
	rc = tw_metrics_family(out, "torwart_signer_metrics_available", "gauge",
		"1 when the signer's metrics file could be read (signer on this host)", err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(out, "torwart_signer_metrics_available", NULL, NULL,
			have ? 1 : 0, err);
	if (rc == TW_OK && have && len > 0)
		rc = tw_buf_append(out, data, len, err);
	free(data);
	return rc;
}

tw_rc worker_metrics_render_store(struct tw_buf *out, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	int64_t now_ms = tw_now_ms();
	tw_rc rc;

	if ((rc = wm_jobs(out, store, err)) != TW_OK ||
	    (rc = wm_crls(out, home, store, now_ms / 1000, err)) != TW_OK ||
	    (rc = wm_audit(out, store, now_ms, err)) != TW_OK)
		return rc;
	return wm_signer(out, home, err);
}

static tw_rc wm_render(struct tw_buf *out, void *arg, struct tw_error *err)
{
	struct worker_metrics *wm = arg;

	return worker_metrics_render_store(out, wm->home, wm->store, err);
}

tw_rc worker_metrics_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct worker_metrics **out, struct tw_error *err)
{
	struct worker_metrics *wm = calloc(1, sizeof(*wm));
	tw_rc rc;

	*out = NULL;
	if (wm == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	wm->home = home;
	wm->store = store;
	if ((rc = metrics_http_start(base, home, "worker", wm_render, wm, &wm->http, err)) !=
	    TW_OK || wm->http == NULL) {
		free(wm);
		return rc;
	}
	*out = wm;
	return TW_OK;
}

void worker_metrics_stop(struct worker_metrics *wm)
{
	if (wm == NULL)
		return;
	metrics_http_stop(wm->http);
	free(wm);
}
