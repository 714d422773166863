/*
 * service.c: the admin log's periodic work on the worker's event loop (service.h). A
 * one-second tick decides whether a tree head is due, lets the shipper and the alert
 * sender make progress, and once an hour applies retention. Failures are logged and
 * retried on a later tick; none of them stops the worker.
 */
#include "audit/service.h"

#include <stdlib.h>
#include <string.h>

#include "audit/alert.h"
#include "audit/ship.h"
#include "audit/tree.h"
#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/signer.h"

#define SERVICE_RETENTION_EVERY_MS (3600 * 1000)

struct audit_service {
	const struct tw_home *home;
	struct tw_store *store;
	struct event *timer;
	struct audit_shipper *shipper;
	struct alert_sender *sender;
	struct signer_client *sc;
	long head_every, head_interval, retention_days;
	char *archive_dir, *cert_path;
	int64_t last_retention_ms;
	bool head_warned;
};

static struct signer_client *service_signer(struct audit_service *svc, struct tw_error *err)
{
	if (svc->sc == NULL && signer_client_open(svc->home, false, &svc->sc, err) == TW_OK)
		signer_client_set_actor(svc->sc, "worker", "service");
	return svc->sc;
}

/* A head when head_every entries arrived or head_interval passed with something new. */
static void service_heads(struct audit_service *svc)
{
	struct store_auditlog_head last;
	struct tw_error err;
	int64_t size = 0;
	bool found = false;
	tw_rc rc;

	if ((rc = audit_tree_size(svc->store, &size, &err)) != TW_OK ||
	    (rc = store_auditlog_head_get(svc->store, 0, &last, &found, &err)) != TW_OK)
		goto fail;
	if (size == 0 || (found && size <= last.tree_size))
		return;
	if (found && size - last.tree_size < svc->head_every &&
	    tw_now_ms() - last.time_ms < svc->head_interval * 1000)
		return;
	if (service_signer(svc, &err) == NULL) {
		rc = TW_E_UNAVAILABLE;
		goto fail;
	}
	rc = audit_head_create(svc->store, svc->sc, size, NULL, &err);
	if (rc == TW_OK || rc == TW_E_EXISTS) {
		svc->head_warned = false;
		return;
	}
	/* A broken signer connection is reopened next time. */
	signer_client_close(svc->sc);
	svc->sc = NULL;
fail:
	if (!svc->head_warned)
		tw_warn("admin log: cannot sign a tree head: %s", err.message);
	svc->head_warned = true;
}

static void service_retention(struct audit_service *svc)
{
	struct audit_retention_result res;
	struct tw_error err;
	int64_t upto = 0;

	if (svc->retention_days <= 0 ||
	    tw_monotonic_ms() - svc->last_retention_ms < SERVICE_RETENTION_EVERY_MS)
		return;
	svc->last_retention_ms = tw_monotonic_ms();
	if (audit_retention_due(svc->store, tw_now_ms() - svc->retention_days * 86400000LL,
	    &upto, &err) != TW_OK || (upto >= AUDIT_TREE_CHUNK &&
	    (service_signer(svc, &err) == NULL ||
	    audit_retention_run(svc->store, svc->sc, svc->archive_dir, svc->cert_path, upto, &res,
	    &err) != TW_OK)))
		tw_warn("admin-log retention did not run: %s", err.message);
}

static void service_tick(evutil_socket_t fd, short events, void *arg)
{
	struct audit_service *svc = arg;

	(void)fd;
	(void)events;
	service_heads(svc);
	audit_shipper_tick(svc->shipper);
	alert_sender_tick(svc->sender);
	service_retention(svc);
}

void audit_service_stop(struct audit_service *svc)
{
	if (svc == NULL)
		return;
	if (svc->timer != NULL)
		event_free(svc->timer);
	audit_shipper_free(svc->shipper);
	alert_sender_free(svc->sender);
	signer_client_close(svc->sc);
	free(svc->archive_dir);
	free(svc->cert_path);
	free(svc);
}

tw_rc audit_service_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct audit_service **out, struct tw_error *err)
{
	struct audit_service *svc = NULL;
	struct timeval every = { 1, 0 };
	tw_rc rc;

	*out = NULL;
	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	svc->home = home;
	svc->store = store;
	if ((rc = tw_config_get_long(home->conf, "audit", "head_every", 1000, 1, 100000000,
	    &svc->head_every, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "audit", "head_interval", 300, 1, 86400,
	    &svc->head_interval, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "audit", "retention_days", 183, 0, 36500,
	    &svc->retention_days, err)) != TW_OK)
		goto out;
	if (svc->retention_days > 0 && svc->retention_days < 183)
		tw_warn("[audit] retention_days = %ld is below the 6 months M-4.5.6.7 requires",
			svc->retention_days);
	svc->archive_dir = tw_home_path(home, "audit", "archive_dir", "archive");
	svc->cert_path = tw_home_join(home, TW_HOME_GWA_SIG_CERT);
	if (svc->archive_dir == NULL || svc->cert_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = audit_shipper_new(base, home, store, &svc->shipper, err)) != TW_OK ||
	    (rc = alert_sender_new(base, home, store, &svc->sender, err)) != TW_OK)
		goto out;
	if ((svc->timer = event_new(base, -1, EV_PERSIST, service_tick, svc)) == NULL ||
	    event_add(svc->timer, &every) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "cannot start the admin-log timer");
		goto out;
	}
	/* The first retention check waits an hour: startup should not archive. */
	svc->last_retention_ms = tw_monotonic_ms();
	*out = svc;
	svc = NULL;
	rc = TW_OK;
out:
	audit_service_stop(svc);
	return rc;
}
