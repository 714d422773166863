/*
 * crl_push.c: the home's published SM-PKI CRLs to the gateways, by hand (`torwart
 * gateway crl-push`, cli_renewal.c) and automatically by the worker (crl_push.h).
 *
 * Which gateways are due is decided from the jobs table alone (store_crl_push_due): no
 * gateway has an open crl-update job, and its last one is older than both the newest
 * published CRL file and crl_push_interval. So a restart of the worker neither forgets a
 * push nor repeats one, and an operator's `gateway crl-push` counts as a push.
 */
#include "gwa/crl_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/job.h"
#include "gwa/order.h"
#include "gwa/renewal.h"
#include "pki/profile.h"
#include "pki/reqgen.h"
#include "store/store_crl_push.h"
#include "store/store_renewal.h"

#define CRL_PUSH_FILE_MAX (64 * 1024)   /* a CRL that fits one order (renewal_crl.c) */
#define CRL_PUSH_TENANTS  4096          /* GWA clients of one home: far fewer */

static const struct job_actor crl_push_system = {
	.actor = "system:worker", .role = "service", .client = "worker",
};

/* The CRL number of DER bytes, or -1. */
static long long cp_number(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	ASN1_INTEGER *num = crl != NULL ?
		X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL) : NULL;
	int64_t v = -1;

	if (num == NULL || ASN1_INTEGER_get_int64(&v, num) != 1)
		v = -1;
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	return (long long)v;
}

tw_rc crl_push_payload(const struct tw_home *home, json_t **payload,
	struct crl_push_info *info, struct tw_error *err)
{
	const char *list = tw_config_get_or(home->conf, "ca", "crl_cas", "sub-ca");
	char *copy = tw_strdup(list), *save = NULL, *ca;
	json_t *crls = json_array();
	struct crl_push_info local;
	size_t used = 0;
	tw_rc rc = TW_OK;

	*payload = NULL;
	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (copy == NULL || crls == NULL) {
		free(copy);
		json_decref(crls);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	for (ca = strtok_r(copy, " ,", &save); ca != NULL && rc == TW_OK;
	     ca = strtok_r(NULL, " ,", &save)) {
		struct pki_ca_config *cfg = NULL;
		unsigned char *der = NULL;
		size_t len = 0;
		char *path = NULL, *b64 = NULL;
		struct stat sb;

		if (strcmp(ca, "operator") == 0)
			continue;   /* the operator CA is not part of the SM-PKI */
		if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) == TW_OK &&
		    (path = tw_home_join(home, cfg->crl_publish_path)) != NULL &&
		    tw_path_exists(path) && stat(path, &sb) == 0 &&
		    (rc = tw_read_file(path, CRL_PUSH_FILE_MAX, &der, &len, err)) == TW_OK &&
		    (rc = reqgen_base64(der, len, &b64, err)) == TW_OK) {
			int64_t ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
			int w;

			json_array_append_new(crls, json_string(b64));
			if (ms > info->newest_ms)
				info->newest_ms = ms;
			w = snprintf(info->numbers + used, sizeof(info->numbers) - used, "%s%s #%lld",
				used > 0 ? ", " : "", ca, cp_number(der, len));
			if (w > 0 && (size_t)w < sizeof(info->numbers) - used)
				used += (size_t)w;
		}
		free(b64);
		free(der);
		free(path);
		pki_ca_config_free(cfg);
	}
	free(copy);
	if (rc == TW_OK && json_array_size(crls) == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no published CRL in this home ([ca] "
			"crl_cas); the worker publishes them");
	if (rc == TW_OK && (*payload = json_pack("{s:O}", "crls", crls)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	json_decref(crls);
	return rc;
}

/* The due gateways of one tenant get their job; one "crl.push" entry when any did. */
static tw_rc cp_tenant(struct tw_store *store, int64_t tenant, int64_t since_ms, long batch,
	const json_t *payload, const struct crl_push_info *info, int64_t *ordered, bool *more,
	struct tw_error *err)
{
	char (*ids)[STORE_ID_MAX + 1] = calloc((size_t)batch, sizeof(*ids));
	struct job_spec spec = { .type = order_type_crl_update.name, .payload = payload,
		.retry_delay_s = -1 };
	char name[STORE_ID_MAX + 1] = "?", object[STORE_ID_MAX + 8], detail[400];
	size_t n = 0, made = 0, failed = 0;
	struct tw_error one;
	tw_rc rc;

	if (ids == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = store_crl_push_due(store, tenant, since_ms, ids, (size_t)batch, &n, err)) !=
	    TW_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t id;

		if (job_create(store, ids[i], &spec, &crl_push_system, &id, &one) == TW_OK) {
			made++;
		} else if (failed++ == 0) {
			/* One line per tenant and scan: the same cause usually holds for all. */
			tw_warn("crl push: %s: %s", ids[i], one.message);
		}
	}
	if (made > 0 || failed > 0) {
		struct audit_entry e;

		(void)store_tenant_name(store, tenant, name, sizeof(name), &one);
		snprintf(object, sizeof(object), "tenant:%s", name);
		if (failed == 0)
			snprintf(detail, sizeof(detail), "crl-update to %zu gateways (%s)", made,
				info->numbers);
		else
			snprintf(detail, sizeof(detail), "crl-update to %zu gateways (%s); %zu not "
				"ordered (the worker's log says why)", made, info->numbers, failed);
		e = (struct audit_entry){ .actor = crl_push_system.actor,
			.role = crl_push_system.role, .client = crl_push_system.client,
			.action = "crl.push", .object = object, .result = failed > 0 ? "error" : "ok",
			.detail = detail };
		rc = audit_append(store, &e, err);
	}
	*ordered += (int64_t)made;
	/* Maybe more due: the next step comes soon (not when this one ordered nothing). */
	if (n == (size_t)batch && made > 0)
		*more = true;
out:
	free(ids);
	return rc;
}

tw_rc crl_push_scan(const struct tw_home *home, struct tw_store *store, int64_t now_ms,
	long interval_s, long batch, int64_t *ordered, bool *more, struct tw_error *err)
{
	bool local_more = false;
	int64_t *tenants = calloc(CRL_PUSH_TENANTS, sizeof(*tenants)), since_ms, local = 0;
	struct crl_push_info info;
	json_t *payload = NULL;
	size_t nt = 0;
	tw_rc rc;

	if (ordered == NULL)
		ordered = &local;
	if (more == NULL)
		more = &local_more;
	*ordered = 0;
	*more = false;
	if (tenants == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (interval_s <= 0 || batch <= 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "crl_push_scan: bad arguments");
		goto out;
	}
	if ((rc = crl_push_payload(home, &payload, &info, err)) == TW_E_NOT_FOUND) {
		rc = TW_OK;          /* nothing published yet: nothing to push */
		goto out;
	}
	/*
	 * The payload does not depend on the gateway: a CRL that no order can carry (too
	 * large) is one error for the scan, not a failed job per gateway and scan.
	 */
	if (rc != TW_OK ||
	    (rc = order_validate(store, order_type_crl_update.name, "", payload, err)) != TW_OK)
		goto out;
	/* A job created before the newest file was written carries an older CRL. */
	since_ms = now_ms - (int64_t)interval_s * 1000;
	if (info.newest_ms + 1 > since_ms)
		since_ms = info.newest_ms + 1;
	if ((rc = store_tenant_ids(store, tenants, CRL_PUSH_TENANTS, &nt, err)) != TW_OK)
		goto out;
	/* One tenant's failure (said in its crl.push entry) does not hold up the others. */
	for (size_t t = 0; t < nt; t++) {
		struct tw_error one;

		if (cp_tenant(store, tenants[t], since_ms, batch, payload, &info, ordered, more,
		    &one) != TW_OK && rc == TW_OK)
			rc = tw_error_set(err, one.code, "tenant %lld: %s", (long long)tenants[t],
				one.message);
	}
out:
	json_decref(payload);
	free(tenants);
	return rc;
}

struct crl_push {
	const struct tw_home *home;
	struct tw_store *store;
	struct event *timer;
	long interval_s, batch, scan_s, pace_s;
	char last_warning[TW_ERROR_MESSAGE_MAX];
};

static void cp_tick(evutil_socket_t fd, short what, void *arg)
{
	struct crl_push *p = arg;
	struct tw_error e;
	struct timeval next = { 0, 0 };
	int64_t ordered = 0;
	bool more = false;

	(void)fd;
	(void)what;
	if (crl_push_scan(p->home, p->store, tw_now_ms(), p->interval_s, p->batch, &ordered,
	    &more, &e) != TW_OK) {
		/* A lasting cause (a CRL too large for one order) is said once, not per scan. */
		if (strcmp(e.message, p->last_warning) != 0)
			tw_warn("crl push: %s", e.message);
		snprintf(p->last_warning, sizeof(p->last_warning), "%s", e.message);
		more = false;
	} else {
		p->last_warning[0] = '\0';
		if (ordered > 0)
			tw_info("crl push: crl-update ordered to %lld gateways", (long long)ordered);
	}
	/* A full batch: the rest of a large fleet follows at the pace, not a scan later. */
	next.tv_sec = more ? p->pace_s : p->scan_s;
	if (event_add(p->timer, &next) != 0)
		tw_warn("crl push: cannot schedule the next scan; no automatic push until the "
			"worker restarts");
}

tw_rc crl_push_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct crl_push **out, struct tw_error *err)
{
	struct timeval every;
	long interval, scan, batch, pace;
	tw_rc rc;

	*out = NULL;
	if ((rc = tw_config_get_long(home->conf, "renewal", "crl_push_interval",
	    CRL_PUSH_INTERVAL_DEFAULT_S, 0, 366L * 86400L, &interval, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "renewal", "crl_push_scan",
	    CRL_PUSH_SCAN_DEFAULT_S, 1, 86400, &scan, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "renewal", "crl_push_batch",
	    CRL_PUSH_BATCH_DEFAULT, 1, 100000, &batch, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "renewal", "crl_push_pace",
	    CRL_PUSH_PACE_DEFAULT_S, 1, 3600, &pace, err)) != TW_OK)
		return rc;
	if (interval == 0)
		return TW_OK;
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	**out = (struct crl_push){ .home = home, .store = store, .interval_s = interval,
		.batch = batch, .scan_s = scan, .pace_s = pace };
	every.tv_sec = scan;
	every.tv_usec = 0;
	if (((*out)->timer = event_new(base, -1, 0, cp_tick, *out)) == NULL ||
	    event_add((*out)->timer, &every) != 0) {
		crl_push_stop(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INTERNAL, "cannot start the CRL push timer");
	}
	return TW_OK;
}

void crl_push_stop(struct crl_push *p)
{
	if (p == NULL)
		return;
	if (p->timer != NULL)
		event_free(p->timer);
	free(p);
}
