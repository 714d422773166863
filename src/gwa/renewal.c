/*
 * renewal.c: the renewal workflow (renewal.h): start, the worker's steps (check,
 * authorise, issue, watch the orders, revoke after the grace period), the proof by the
 * gateway's connection with its new TLS certificate; remote Sub-CAs in renewal_remote.c.
 *
 * Crash safety: every state change is a compare-and-set of the renewal row plus its
 * admin-log entry (and, where it belongs, the job or the certificate rows) in one
 * transaction. The only work done outside a transaction is signing (authorisation and
 * certificates, in the signer, each audited there); a crash after signing and before the
 * commit leaves the renewal "received", and the next tick signs again (the first
 * signatures are never recorded as certificates, so they cannot log in).
 */
#include "gwa/renewal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/x509.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "gwa/gwa_context.h"
#include "gwa/renewal_internal.h"
#include "pki/ca.h"
#include "pki/ca_state.h"
#include "pki/certstore.h"
#include "pki/profile.h"
#include "pki/reqgen.h"
#include "store/store_jobs.h"

#define RENEWAL_CRL_REASON_SUPERSEDED 4
#define RENEWAL_EXPIRY_SCAN_MS (60L * 1000L)
#define RENEWAL_EXPIRY_BATCH 200
#define RENEWAL_EXPIRY_TENANTS 4096   /* GWA clients of one home: far fewer */
#define RENEWAL_RETRY_MS 5000

static const struct job_actor renewal_system = {
	.actor = "system:worker", .role = "service", .client = "worker",
};

/* ---- shared helpers (renewal_internal.h) ---- */

tw_rc renewal_audit(struct tw_store *store, const struct job_actor *who, const char *action,
	const struct store_renewal *r, const char *result, const char *code, const char *detail,
	struct tw_error *err)
{
	char object[STORE_ID_MAX + 48];
	struct audit_entry e;

	snprintf(object, sizeof(object), "renewal:%lld gateway:%s", (long long)r->id,
		r->gateway_id);
	e = (struct audit_entry){ .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail,
		.error_code = code };
	return store_in_transaction(store) ? audit_append_in_tx(store, &e, err) :
		audit_append(store, &e, err);
}

tw_rc renewal_fail_in_tx(struct tw_store *store, struct store_renewal *r, const char *from,
	const char *code, const char *message, const struct job_actor *who,
	struct tw_error *err)
{
	tw_rc rc;

	snprintf(r->state, sizeof(r->state), "failed");
	snprintf(r->error_code, sizeof(r->error_code), "%s", code);
	snprintf(r->error, sizeof(r->error), "%s", message);
	r->updated_ms = tw_now_ms();
	r->next_ms = 0;
	if ((rc = store_renewal_update(store, r, from, err)) != TW_OK)
		return rc;
	return renewal_audit(store, who, "renewal.failed", r, "failed", code, message, err);
}

/* ---- start ---- */

struct rs_list {
	char (*ids)[STORE_ID_MAX + 1];
	int64_t *tenants;
	size_t n, cap;
	bool nomem;
};

static int rs_add(const struct store_gateway *gw, void *arg)
{
	struct rs_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char (*ids)[STORE_ID_MAX + 1] = realloc(l->ids, cap * sizeof(*ids));
		int64_t *t;

		if (ids == NULL) {
			l->nomem = true;
			return 1;
		}
		l->ids = ids;
		if ((t = realloc(l->tenants, cap * sizeof(*t))) == NULL) {
			l->nomem = true;
			return 1;
		}
		l->tenants = t;
		l->cap = cap;
	}
	snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", gw->gateway_id);
	l->tenants[l->n++] = gw->tenant_id;
	return 0;
}

/* One renewal + its cert-request job, inside the caller's transaction. */
static tw_rc rs_one(struct tw_store *store, const char *gateway_id, int64_t tenant_id,
	const char *reason, const struct renewal_orders_cfg *cfg, const struct job_actor *who,
	int64_t *id, struct tw_error *err)
{
	struct store_renewal r;
	struct job_spec spec;
	json_t *payload = NULL;
	int64_t job = 0;
	char detail[96];
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	r.tenant_id = tenant_id;
	snprintf(r.gateway_id, sizeof(r.gateway_id), "%s", gateway_id);
	snprintf(r.state, sizeof(r.state), "requesting");
	snprintf(r.actor, sizeof(r.actor), "%s", who->actor);
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	r.created_ms = r.updated_ms = tw_now_ms();
	r.next_ms = r.created_ms + RENEWAL_POLL_MS;
	if ((rc = store_renewal_insert(store, &r, id, err)) != TW_OK)
		return rc;
	r.id = *id;
	if ((payload = json_pack("{s:I}", "renewal", (json_int_t)r.id)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	spec = (struct job_spec){ .type = order_type_cert_request.name, .payload = payload,
		.timeout_s = cfg->timeout_s, .max_attempts = cfg->attempts,
		.retry_delay_s = cfg->retry_delay_s };
	rc = job_create_in_tx(store, gateway_id, &spec, who, &job, err);
	json_decref(payload);
	if (rc != TW_OK)
		return rc;
	r.request_job = job;
	snprintf(detail, sizeof(detail), "reason=%s cert-request job %lld", reason,
		(long long)job);
	if ((rc = store_renewal_update(store, &r, "requesting", err)) != TW_OK)
		return rc;
	return renewal_audit(store, who, "renewal.start", &r, "ok", NULL, detail, err);
}

tw_rc renewal_start(struct tw_store *store, const char *selection, const char *reason,
	const struct renewal_orders_cfg *cfg, const struct job_actor *who, int64_t *first_id,
	int64_t *started, int64_t *skipped, struct tw_error *err)
{
	struct renewal_orders_cfg defaults;
	struct rs_list l = { 0 };
	bool single = false;
	tw_rc rc = TW_OK;

	*started = *skipped = 0;
	if (first_id != NULL)
		*first_id = 0;
	if (cfg == NULL) {
		renewal_orders_cfg_load(NULL, &defaults);
		cfg = &defaults;
	}
	if (selection == NULL || reason == NULL)
		return tw_error_set(err, TW_E_INVALID, "a gateway selection is required");
	if (strncmp(selection, "id:", 3) == 0) {
		struct store_gateway gw;

		single = true;
		if ((rc = store_gateway_get(store, selection + 3, &gw, err)) != TW_OK)
			return rc == TW_E_NOT_FOUND ? tw_error_set(err, rc, "gateway %.64s is not "
				"registered", selection + 3) : rc;
		rs_add(&gw, &l);
	} else {
		rc = job_fleet_foreach(store, selection, rs_add, &l, err);
	}
	if (rc == TW_OK && l.nomem)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory selecting gateways");
	if (rc == TW_OK && l.n == 0)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "selection \"%.60s\" matches no gateway",
			selection);
	if (rc != TW_OK)
		goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < l.n && rc == TW_OK; i++) {
		struct store_renewal open;
		bool found = false;
		int64_t id = 0;

		if ((rc = store_renewal_open_for(store, l.ids[i], &open, &found, err)) != TW_OK)
			break;
		store_renewal_clear(&open);
		if (found) {
			if (single)
				rc = tw_error_set(err, TW_E_EXISTS, "gateway %s has an open renewal "
					"already (see `torwart renewal list --gateway %s`)", l.ids[i],
					l.ids[i]);
			(*skipped)++;
			continue;
		}
		if ((rc = rs_one(store, l.ids[i], l.tenants[i], reason, cfg, who, &id, err)) !=
		    TW_OK)
			break;
		if (first_id != NULL && *first_id == 0)
			*first_id = id;
		(*started)++;
	}
	if (rc == TW_OK)
		rc = store_commit(store, err);
	if (rc != TW_OK) {
		struct audit_entry e = { .actor = who->actor, .role = who->role,
			.client = who->client, .action = "renewal.start", .object = selection,
			.result = "refused", .detail = err->message };
		struct tw_error aerr;

		store_rollback(store);
		*started = *skipped = 0;
		if (first_id != NULL)
			*first_id = 0;
		if (audit_append(store, &e, &aerr) != TW_OK)
			tw_warn("renewal: refusal not logged: %s", aerr.message);
	}
out:
	free(l.ids);
	free(l.tenants);
	return rc;
}

/* ---- the proof ---- */

/* Each "USAGE:serial:fingerprint" of list: certificate status from -> to. */
static tw_rc rn_status_all(struct tw_store *store, const char *list, const char *from,
	const char *to, struct tw_error *err)
{
	char copy[STORE_TEXT_MAX + 1], *save = NULL, *item;
	tw_rc rc = TW_OK;

	snprintf(copy, sizeof(copy), "%s", list);
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == TW_OK;
	     item = strtok_r(NULL, ",", &save)) {
		char *fp = strrchr(item, ':');

		if (fp == NULL)
			return tw_error_set(err, TW_E_INTEGRITY, "renewal certificate list is damaged");
		rc = store_renewal_cert_status(store, fp + 1, from, to, err);
		/* Already moved (revoked by an operator meanwhile): nothing to switch. */
		if (rc == TW_E_NOT_FOUND)
			rc = TW_OK;
	}
	return rc;
}

static long rn_conf_long(const struct tw_config *conf, const char *key, long def, long min,
	long max)
{
	struct tw_error e;
	long v = def;

	if (conf != NULL && tw_config_get_long(conf, "renewal", key, def, min, max, &v, &e) !=
	    TW_OK) {
		tw_warn("renewal: %s; using %ld", e.message, def);
		v = def;
	}
	return v;
}

void renewal_orders_cfg_load(const struct tw_config *conf, struct renewal_orders_cfg *out)
{
	out->timeout_s = rn_conf_long(conf, "order_timeout", 300, 1, JOB_MAX_TIMEOUT_S);
	out->attempts = (int)rn_conf_long(conf, "order_attempts", 5, 1, 100);
	out->retry_delay_s = rn_conf_long(conf, "order_retry_delay", JOB_DEFAULT_RETRY_DELAY_S,
		0, 86400);
}

tw_rc renewal_proof(struct tw_store *store, const char *gateway_id, const char *fingerprint, const char *client, bool *confirmed,
	struct tw_error *err)
{
	struct store_renewal r;
	char actor[STORE_ID_MAX + 16], detail[160], from[16];
	struct job_actor who;
	bool found = false;
	tw_rc rc;

	*confirmed = false;
	memset(&r, 0, sizeof(r));
	snprintf(actor, sizeof(actor), "gateway:%s", gateway_id);
	who = (struct job_actor){ .actor = actor, .role = "smgw",
		.client = client != NULL ? client : "wan" };
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_renewal_by_new_tls(store, fingerprint, &r, &found, err)) != TW_OK ||
	    !found)
		goto out;
	/* failed too: an install order that timed out after the gateway had installed (its
	 * result lost every time) is still proven by this connection. */
	if (strcmp(r.gateway_id, gateway_id) != 0 ||
	    (strcmp(r.state, "installing") != 0 && strcmp(r.state, "installed") != 0 &&
	     strcmp(r.state, "failed") != 0))
		goto out;   /* not (or no longer) waiting for a proof */
	snprintf(from, sizeof(from), "%s", r.state);
	/* The atomic switch: the new certificates become the gateway's, the old ones stay
	 * a login only until they are revoked after the grace period. */
	if ((rc = rn_status_all(store, r.new_certs, RENEWAL_CERT_PENDING, "valid", err)) !=
	    TW_OK ||
	    (rc = rn_status_all(store, r.old_certs, "valid", RENEWAL_CERT_SUPERSEDED, err)) !=
	    TW_OK)
		goto out;
	snprintf(r.state, sizeof(r.state), "confirmed");
	r.updated_ms = tw_now_ms();
	r.revoke_at_ms = 0;   /* the worker sets it from [renewal] grace_period */
	r.next_ms = 0;
	snprintf(detail, sizeof(detail), "connected with the new TLS certificate %.16s... "
		"(was %s); new certificates valid, old ones superseded until the grace period "
		"ends", fingerprint, from);
	if ((rc = store_renewal_update(store, &r, from, err)) != TW_OK ||
	    (rc = renewal_audit(store, &who, "renewal.confirmed", &r, "ok", NULL, detail,
		err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
	*confirmed = rc == TW_OK;
out:
	if (!*confirmed)
		store_rollback(store);
	store_renewal_clear(&r);
	return rc;
}

/* ---- the worker ---- */

struct renewal_worker {
	const struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;
	long before_days;            /* [renewal] renew_before_days (tenants without their own) */
	struct rw_window *windows;   /* renew_before_days.<tenant>, owned */
	size_t n_windows;
	/* The [renewal] values in force: home->conf at start, a re-read torwart.conf after
	 * a good reload (renewal_worker_reload; conf_own then owns it). */
	const struct tw_config *conf;
	struct tw_config *conf_own;
	int64_t next_scan_ms;
	int64_t next_context_ms;     /* the contexts' scheduled validation (gwa_context.h) */
	struct event *timer;         /* renewal_worker_start only */
};

tw_rc renewal_before_days(const struct tw_config *conf, const char *tenant, long *days,
	struct tw_error *err)
{
	char key[STORE_ID_MAX + sizeof(RENEWAL_BEFORE_DAYS_KEY) + 2];
	long v = RENEWAL_BEFORE_DAYS_DEFAULT;
	tw_rc rc = TW_OK;

	if (conf == NULL || days == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "renewal_before_days: bad arguments");
	if (tenant != NULL && strlen(tenant) <= STORE_ID_MAX) {
		snprintf(key, sizeof(key), "%s.%s", RENEWAL_BEFORE_DAYS_KEY, tenant);
		if (tw_config_get(conf, "renewal", key) == NULL)
			tenant = NULL;
	} else {
		tenant = NULL;
	}
	if (tenant == NULL)
		snprintf(key, sizeof(key), "%s", RENEWAL_BEFORE_DAYS_KEY);
	rc = tw_config_get_long(conf, "renewal", key, RENEWAL_BEFORE_DAYS_DEFAULT, 0,
		RENEWAL_BEFORE_DAYS_MAX, &v, err);
	if (rc == TW_OK)
		*days = v;
	return rc;
}

/* A tenant's own window ([renewal] renew_before_days.<tenant>), resolved at start and
 * on each reload. */
struct rw_window {
	int64_t tenant_id;
	long days;
};

/* The windows of one configuration, checked against the store. */
struct rw_windows_walk {
	const struct tw_config *conf;
	struct tw_store *store;
	struct rw_window *windows;   /* owned until handed to the worker */
	size_t n;
	struct tw_error *err;
	tw_rc rc;
};

static int rw_window_key(const char *key, const char *value, void *arg)
{
	struct rw_windows_walk *k = arg;
	const size_t plen = strlen(RENEWAL_BEFORE_DAYS_KEY);
	const char *tenant = key + plen + 1;
	struct rw_window *more;
	int64_t id = 0;
	long days = 0;

	(void)value;
	if (strncmp(key, RENEWAL_BEFORE_DAYS_KEY, plen) != 0 || key[plen] != '.')
		return 0;
	if (*tenant == '\0' || strlen(tenant) > STORE_ID_MAX) {
		k->rc = tw_error_set(k->err, TW_E_CONFIG, "[renewal] %.80s: a tenant name of 1 to "
			"%d characters must follow renew_before_days.", key, STORE_ID_MAX);
		return 1;
	}
	if ((k->rc = renewal_before_days(k->conf, tenant, &days, k->err)) != TW_OK)
		return 1;
	if ((k->rc = store_tenant_find(k->store, tenant, &id, k->err)) != TW_OK) {
		if (k->rc == TW_E_NOT_FOUND)
			k->rc = tw_error_set(k->err, TW_E_CONFIG, "[renewal] %s: there is no tenant "
				"\"%s\" (a typo? `torwart gateway show` names each gateway's tenant); "
				"remove the line or correct the name", key, tenant);
		return 1;
	}
	if ((more = realloc(k->windows, (k->n + 1) * sizeof(*more))) == NULL) {
		k->rc = tw_error_set(k->err, TW_E_NOMEM, "out of memory");
		return 1;
	}
	k->windows = more;
	more[k->n++] = (struct rw_window){ .tenant_id = id, .days = days };
	return 0;
}

/* [renewal] sub_ca and sub_ca.<tenant>: local or remote:NAME of a [ws.remote.NAME] of the
 * running configuration (remotes are read at the worker's start). Checked on reload. */
struct rw_subca_walk {
	const struct tw_config *running;
	struct tw_error *err;
	tw_rc rc;
};

static int rw_subca_key(const char *key, const char *value, void *arg)
{
	struct rw_subca_walk *k = arg;
	char section[STORE_ID_MAX + 16];

	if (strcmp(key, "sub_ca") != 0 && strncmp(key, "sub_ca.", 7) != 0)
		return 0;
	if (strcmp(value, "local") == 0)
		return 0;
	if (strncmp(value, "remote:", 7) != 0 || value[7] == '\0' ||
	    strlen(value + 7) > STORE_ID_MAX) {
		k->rc = tw_error_set(k->err, TW_E_CONFIG, "[renewal] %.80s = \"%.80s\": use local "
			"or remote:<name>", key, value);
		return 1;
	}
	snprintf(section, sizeof(section), "ws.remote.%s", value + 7);
	if (tw_config_get(k->running, section, "url") == NULL) {
		k->rc = tw_error_set(k->err, TW_E_CONFIG, "[renewal] %.80s = %.80s: the running "
			"worker has no [%s] (a new remote Sub-CA needs a restart of the worker)", key,
			value, section);
		return 1;
	}
	return 0;
}

/* The global window and the tenants' windows of conf; nothing changes on failure. */
static tw_rc rw_windows_load(const struct tw_config *conf, struct tw_store *store,
	long *before_days, struct rw_window **windows, size_t *n, struct tw_error *err)
{
	struct rw_windows_walk walk = { .conf = conf, .store = store, .err = err,
		.rc = TW_OK };
	long before = RENEWAL_BEFORE_DAYS_DEFAULT;
	tw_rc rc;

	if ((rc = renewal_before_days(conf, NULL, &before, err)) != TW_OK ||
	    (tw_config_foreach(conf, "renewal", rw_window_key, &walk) != 0 &&
	     (rc = walk.rc) != TW_OK)) {
		free(walk.windows);
		return rc;
	}
	*before_days = before;
	*windows = walk.windows;
	*n = walk.n;
	return TW_OK;
}

tw_rc renewal_worker_new(const struct tw_home *home, struct tw_store *store,
	struct renewal_worker **out, struct tw_error *err)
{
	tw_rc rc;

	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	(*out)->home = home;
	(*out)->store = store;
	(*out)->conf = home->conf;
	(*out)->before_days = RENEWAL_BEFORE_DAYS_DEFAULT;
	if (home->conf != NULL &&
	    (rc = rw_windows_load(home->conf, store, &(*out)->before_days, &(*out)->windows,
	    &(*out)->n_windows, err)) != TW_OK) {
		renewal_worker_free(*out);
		*out = NULL;
		return rc;
	}
	return TW_OK;
}

tw_rc renewal_worker_reload(struct renewal_worker *w, const char *conf_path,
	struct tw_error *err)
{
	struct rw_subca_walk sub = { .running = w->home->conf, .err = err, .rc = TW_OK };
	struct tw_config *conf = NULL;
	struct rw_window *windows = NULL;
	size_t n = 0;
	long before = 0;
	tw_rc rc;

	if ((rc = tw_config_load(conf_path, &conf, err)) != TW_OK ||
	    (rc = rw_windows_load(conf, w->store, &before, &windows, &n, err)) != TW_OK)
		goto out;
	if (tw_config_foreach(conf, "renewal", rw_subca_key, &sub) != 0 &&
	    (rc = sub.rc) != TW_OK)
		goto out;
	/* All good: the new values in force from the next tick. */
	free(w->windows);
	w->windows = windows;
	w->n_windows = n;
	windows = NULL;
	w->before_days = before;
	tw_config_free(w->conf_own);
	w->conf_own = conf;
	w->conf = conf;
	conf = NULL;
	w->next_scan_ms = 0;   /* a changed window applies at once */
	tw_info("renewal: configuration reloaded from %s: renew_before_days %ld, %zu tenant "
		"windows, sub_ca %s", conf_path, before, n,
		tw_config_get_or(w->conf, "renewal", "sub_ca", "local"));
out:
	free(windows);
	tw_config_free(conf);
	return rc;
}

void renewal_worker_on_reload(struct renewal_worker *w)
{
	struct tw_error e, ae;
	char *path, msg[TW_ERROR_MESSAGE_MAX + 128];

	if (w == NULL)
		return;
	tw_error_clear(&e);
	tw_error_clear(&ae);
	if ((path = tw_home_join(w->home, "torwart.conf")) == NULL) {
		tw_err("renewal: SIGHUP: out of memory");
		return;
	}
	if (renewal_worker_reload(w, path, &e) != TW_OK) {
		snprintf(msg, sizeof(msg), "the [renewal] values of %s were not reloaded, the "
			"previous ones stay in force: %s", path, e.message);
		tw_err("renewal: %s", msg);
		if (alert_raise(w->store, ALERT_CONFIG, NULL, "renewal", msg, &ae) != TW_OK)
			tw_warn("renewal: cannot raise the alert: %s", ae.message);
	}
	free(path);
}

/* The window of tenant_id: its own if configured, else the global one. */
static long rw_window_days(const struct renewal_worker *w, int64_t tenant_id)
{
	for (size_t i = 0; i < w->n_windows; i++)
		if (w->windows[i].tenant_id == tenant_id)
			return w->windows[i].days;
	return w->before_days;
}

void renewal_worker_free(struct renewal_worker *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	signer_client_close(w->sc);
	free(w->windows);
	tw_config_free(w->conf_own);
	free(w);
}

/* Move r's next look to now + delay (nothing else changes). */
static tw_rc rw_later(struct renewal_worker *w, struct store_renewal *r, int64_t now_ms,
	int64_t delay_ms, struct tw_error *err)
{
	char from[16];
	tw_rc rc;

	snprintf(from, sizeof(from), "%s", r->state);
	r->next_ms = now_ms + delay_ms;
	if ((rc = store_begin(w->store, err)) != TW_OK)
		return rc;
	if ((rc = store_renewal_update(w->store, r, from, err)) == TW_OK)
		rc = store_commit(w->store, err);
	if (rc != TW_OK)
		store_rollback(w->store);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

static tw_rc rw_fail(struct renewal_worker *w, struct store_renewal *r, const char *code,
	const char *message, struct tw_error *err)
{
	char from[16];
	tw_rc rc;

	snprintf(from, sizeof(from), "%s", r->state);
	if ((rc = store_begin(w->store, err)) != TW_OK)
		return rc;
	if ((rc = renewal_fail_in_tx(w->store, r, from, code, message, &renewal_system,
	    err)) == TW_OK)
		rc = store_commit(w->store, err);
	if (rc != TW_OK)
		store_rollback(w->store);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

/*
 * A remote Sub-CA's request that waits (renewal_remote.c): the renewal stays "received"
 * with code remote_pending (its messageID kept in new_certs as "remote:NAME:ID" until
 * the certificates come) or remote_unreachable, and is looked at again after [renewal]
 * remote_retry seconds. The admin log gets one renewal.remote-wait per change of code.
 */
static tw_rc rw_remote_wait(struct renewal_worker *w, struct store_renewal *r,
	int64_t now_ms, const char *code, const char *why, const char *marker,
	struct tw_error *err)
{
	bool changed = strcmp(r->error_code, code) != 0;
	long retry = rn_conf_long(w->home->conf, "remote_retry", 60, 1, 86400);
	tw_rc rc;

	snprintf(r->error_code, sizeof(r->error_code), "%s", code);
	snprintf(r->error, sizeof(r->error), "%s; retrying every %ld s", why, retry);
	if (marker != NULL)
		snprintf(r->new_certs, sizeof(r->new_certs), "%s", marker);
	r->updated_ms = now_ms;
	r->next_ms = now_ms + (int64_t)retry * 1000;
	if ((rc = store_begin(w->store, err)) != TW_OK)
		return rc;
	if ((rc = store_renewal_update(w->store, r, "received", err)) == TW_OK && changed)
		rc = renewal_audit(w->store, &renewal_system, "renewal.remote-wait", r, "waiting",
			code, why, err);
	if (rc == TW_OK)
		rc = store_commit(w->store, err);
	if (rc != TW_OK)
		store_rollback(w->store);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

/* requesting / installing: the order's job ended without a result -> failed. */
static tw_rc rw_watch_job(struct renewal_worker *w, struct store_renewal *r, int64_t job_id,
	int64_t now_ms, struct tw_error *err)
{
	struct store_job j;
	char msg[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if (job_id == 0)
		return rw_later(w, r, now_ms, RENEWAL_POLL_MS, err);
	if ((rc = store_job_get(w->store, job_id, &j, err)) != TW_OK)
		return rc;
	if (store_job_state_open(j.state) || j.state == JOB_DONE) {
		store_job_clear(&j);
		return rw_later(w, r, now_ms, RENEWAL_POLL_MS, err);
	}
	snprintf(msg, sizeof(msg), "job %lld (%s) ended %s: %s", (long long)job_id, j.type,
		store_job_state_name(j.state), j.error);
	rc = rw_fail(w, r, store_job_state_name(j.state), msg, err);
	store_job_clear(&j);
	return rc;
}

/* The gateway's current SIG certificate (status valid), decoded. */
static tw_rc rw_current_sig(struct tw_store *store, const char *gateway_id, X509 **out,
	char *old_list, size_t old_size, struct tw_error *err)
{
	struct store_renewal_cert certs[8];
	struct store_certificate sc;
	const unsigned char *p;
	size_t n = 0, off = 0;
	tw_rc rc;

	*out = NULL;
	old_list[0] = '\0';
	if ((rc = store_renewal_gateway_certs(store, gateway_id, "valid", certs, 8, &n, err)) !=
	    TW_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (off < old_size)
			off += (size_t)snprintf(old_list + off, old_size - off, "%s%s:%s:%s",
				off ? "," : "", certs[i].usage, certs[i].serial_hex,
				certs[i].fingerprint);
		if (strcmp(certs[i].usage, "SIG") != 0 || *out != NULL)
			continue;
		memset(&sc, 0, sizeof(sc));
		if ((rc = store_certificate_get_by_fingerprint(store, certs[i].fingerprint, &sc,
		    err)) != TW_OK)
			return rc;
		p = sc.der;
		*out = d2i_X509(NULL, &p, (long)sc.der_len);
		store_certificate_clear(&sc);
		if (*out == NULL)
			return tw_error_set_openssl(err, TW_E_INTEGRITY, "stored SIG certificate of %s "
				"does not decode", gateway_id);
	}
	if (off >= old_size)
		return tw_error_set(err, TW_E_TOO_LARGE, "gateway %s has too many valid "
			"certificates to renew them together", gateway_id);
	if (*out == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "gateway %s has no valid SIG certificate "
			"(its current key signs the renewal)", gateway_id);
	return TW_OK;
}

/* The refusal of a gateway's request: failed + security event + alert, one transaction. */
static tw_rc rw_refuse(struct renewal_worker *w, struct store_renewal *r,
	enum pki_result result, const char *why, struct tw_error *err)
{
	char msg[STORE_TEXT_MAX + 1], subject[STORE_ID_MAX + 32];
	tw_rc rc;

	snprintf(msg, sizeof(msg), "request refused: %s", why);
	snprintf(subject, sizeof(subject), "gateway:%s", r->gateway_id);
	if ((rc = store_begin(w->store, err)) != TW_OK)
		return rc;
	if ((rc = renewal_audit(w->store, &renewal_system, "renewal.refuse", r, "refused",
		pki_result_name(result), msg, err)) != TW_OK ||
	    (rc = renewal_fail_in_tx(w->store, r, "received", pki_result_name(result), msg,
		&renewal_system, err)) != TW_OK ||
	    (rc = alert_raise(w->store, ALERT_RENEWAL_REFUSED, NULL, subject, msg, err)) !=
	    TW_OK ||
	    (rc = store_commit(w->store, err)) != TW_OK)
		store_rollback(w->store);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

/* "local" or "remote:<name>" for the gateway's tenant: [renewal] sub_ca.<tenant>. */
static const char *rw_sub_ca(const struct tw_config *conf, const char *tenant)
{
	char key[STORE_ID_MAX + 16];
	const char *v;

	snprintf(key, sizeof(key), "sub_ca.%s", tenant);
	if ((v = tw_config_get(conf, "renewal", key)) == NULL)
		v = tw_config_get_or(conf, "renewal", "sub_ca", "local");
	return v;
}

static tw_rc rw_signer(struct renewal_worker *w, struct tw_error *err)
{
	tw_rc rc;

	if (w->sc != NULL)
		return TW_OK;
	if ((rc = signer_client_open(w->home, false, &w->sc, err)) == TW_OK)
		signer_client_set_actor(w->sc, renewal_system.actor, renewal_system.role);
	return rc;
}

static long rw_validity(const struct pki_ca_config *cfg, enum pki_usage u,
	enum pki_validity_end *end)
{
	*end = u == PKI_USAGE_TLS ? cfg->validity_end_tls : u == PKI_USAGE_SIG ?
		cfg->validity_end_sig : cfg->validity_end_enc;
	return u == PKI_USAGE_TLS ? cfg->validity_days_tls : u == PKI_USAGE_SIG ?
		cfg->validity_days_sig : cfg->validity_days_enc;
}

/*
 * Torwart's own CA engine: the CA's parser verifies the authorised request again (POPs,
 * outer signature, the GWA's authorisation signature against the GWA SIG certificate,
 * both chaining to this Sub-CA), then the Sub-CA key in the signer certifies each entry
 * with the SMGW profile. certs[i] in the request's entry order.
 */
static tw_rc rw_issue_local(struct renewal_worker *w, const unsigned char *auth, size_t len,
	X509 **certs, enum pki_usage *usages, size_t *n, enum pki_result *result,
	struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	struct request_verify_opts opts = { .auth = REQUEST_AUTH_REQUIRED };
	struct request *req = NULL;
	X509 *ca_cert = NULL;
	char *ca_path = NULL;
	const char *policy = tw_config_get(w->home->conf, "pki", "policy_oid");
	const char *cps = tw_config_get(w->home->conf, "pki", "cps_uri");
	tw_rc rc;

	*n = 0;
	*result = PKI_FAILURE_INTERNAL_ERROR;
	if ((rc = ca_state_require_active(w->store, CA_DEFAULT_NAME, "issuance", err)) != TW_OK ||
	    (rc = pki_ca_config_load(w->home->conf, CA_DEFAULT_NAME, &cfg, err)) != TW_OK)
		goto out;
	if ((ca_path = tw_home_join(w->home, cfg->cert_path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(ca_path, &ca_cert, err)) != TW_OK)
		goto out;
	if ((opts.trust = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(opts.trust, ca_cert) != 1 ||
	    X509_STORE_set_flags(opts.trust, X509_V_FLAG_PARTIAL_CHAIN) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the trust store");
		goto out;
	}
	if ((rc = request_parse(auth, len, &opts, &req, result, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < req->n_entries && rc == TW_OK; i++) {
		const struct request_entry *e = &req->entries[i];
		struct pki_cert_request cr;

		memset(&cr, 0, sizeof(cr));
		cr.usage = e->usage;
		cr.role = PKI_ROLE_SMGW;
		cr.subject_name = e->subject;
		cr.san = e->san;
		cr.public_key = e->public_key;
		cr.spki = e->spki;
		cr.issuer_cert = ca_cert;
		cr.validity_days = rw_validity(cfg, e->usage, &cr.validity_end);
		cr.crl_url = cfg->crl_url;
		cr.policy_oid = cfg->policy_oid != NULL ? cfg->policy_oid : policy;
		cr.cps_uri = cfg->cps_uri != NULL ? cfg->cps_uri : cps;
		if ((rc = pki_issue_certificate(w->sc, cfg->key_label, &cr, &certs[i], err)) ==
		    TW_OK) {
			usages[i] = e->usage;
			(*n)++;
		}
	}
	if (rc == TW_OK)
		*result = PKI_OK_CERT_AVAILABLE;
out:
	request_free(req);
	X509_STORE_free(opts.trust);
	X509_free(ca_cert);
	free(ca_path);
	pki_ca_config_free(cfg);
	return rc;
}

/* received -> installing (or failed): check, authorise, issue, record, order install. */
static tw_rc rw_process(struct renewal_worker *w, struct store_renewal *r, int64_t now_ms,
	struct tw_error *err)
{
	struct store_gateway gw;
	struct request *req = NULL;
	X509 *sig = NULL, *gwa = NULL, *certs[REQUEST_MAX_ENTRIES] = { NULL };
	enum pki_usage usages[REQUEST_MAX_ENTRIES];
	enum pki_result result;
	unsigned char *auth = NULL;
	size_t auth_len = 0, n = 0, off = 0;
	char *gwa_path = NULL, detail[STORE_TEXT_MAX + 1], tenant[STORE_ID_MAX + 1];
	const char *sub_ca, *pending_id = NULL;
	char issued_by[96] = "the local Sub-CA";
	struct tw_error why;
	json_t *payload = NULL;
	tw_rc rc;

	if ((rc = store_gateway_get(w->store, r->gateway_id, &gw, err)) != TW_OK) {
		if (rc == TW_E_NOT_FOUND)
			rc = rw_fail(w, r, "unknown_gateway", "the gateway is no longer registered",
				err);
		goto out;
	}
	if ((rc = rw_current_sig(w->store, r->gateway_id, &sig, r->old_certs,
	    sizeof(r->old_certs), &why)) != TW_OK) {
		rc = rc == TW_E_STORE ? (*err = why, rc) :
			rw_fail(w, r, "no_current_certificate", why.message, err);
		goto out;
	}
	/* 1. the GWA's checks of the gateway's request (typed refusal, security event) */
	if ((rc = renewal_check_request(r->request_der, r->request_len, r->gateway_id, sig,
	    &req, &result, &why)) != TW_OK) {
		rc = rw_refuse(w, r, result, why.message, err);
		goto out;
	}
	/* A remote Sub-CA has this request already: ask for its answer, sign nothing. */
	if (strncmp(r->new_certs, "remote:", 7) == 0 &&
	    (pending_id = strchr(r->new_certs + 7, ':')) != NULL)
		pending_id++;
	/* 2. the GWA's authorisation signature, made by the signer (key gwa-sig) */
	if (pending_id != NULL) {
		/* nothing to sign: the remote holds the authorised request */
	} else if ((rc = rw_signer(w, err)) != TW_OK) {
		tw_warn("renewal %lld: signer not reachable: %s; retrying", (long long)r->id,
			err->message);
		rc = rw_later(w, r, now_ms, RENEWAL_RETRY_MS, err);
		goto out;
	} else if ((gwa_path = tw_home_join(w->home, TW_HOME_GWA_SIG_CERT)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	} else if ((rc = keys_read_cert_pem(gwa_path, &gwa, err)) != TW_OK ||
	    (rc = reqgen_authorise_signer(w->sc, SIGNER_KEY_GWA_SIG, gwa, r->request_der,
		r->request_len, &auth, &auth_len, err)) != TW_OK) {
		signer_client_close(w->sc);
		w->sc = NULL;
		tw_warn("renewal %lld: authorisation failed: %s; retrying", (long long)r->id,
			err->message);
		rc = rw_later(w, r, now_ms, RENEWAL_RETRY_MS, err);
		goto out;
	}
	/* 3. the Sub-CA configured for the gateway's tenant */
	if ((rc = store_tenant_name(w->store, gw.tenant_id, tenant, sizeof(tenant), err)) !=
	    TW_OK)
		goto out;
	sub_ca = rw_sub_ca(w->conf, tenant);
	if (strncmp(sub_ca, "remote:", 7) == 0) {
		struct renewal_remote_result rr;
		char marker[STORE_TEXT_MAX + 1];

		rc = renewal_remote_issue(w->home, w->store, sub_ca + 7, pending_id, req, auth,
			auth_len, &rr, &why);
		if (rc == TW_E_CONFIG || rc == TW_E_NOT_FOUND) {
			/* not configured, or a messageID the client no longer knows: final */
			rc = rw_fail(w, r, rc == TW_E_CONFIG ? "config" : "failure_other_error",
				why.message, err);
			goto out;
		}
		if (rc != TW_OK) {
			*err = why;
			goto out;
		}
		switch (rr.state) {
		case RENEWAL_REMOTE_ISSUED:
			for (size_t i = 0; i < rr.n; i++) {
				certs[i] = rr.certs[i];
				usages[i] = rr.usages[i];
			}
			n = rr.n;
			rr.n = 0;   /* certs[] owns them now */
			snprintf(issued_by, sizeof(issued_by), "the remote Sub-CA %.64s", sub_ca + 7);
			break;
		case RENEWAL_REMOTE_PENDING:
			snprintf(marker, sizeof(marker), "remote:%.64s:%s", sub_ca + 7, rr.message_id);
			rc = rw_remote_wait(w, r, now_ms, "remote_pending", rr.why, marker, err);
			break;
		case RENEWAL_REMOTE_UNREACHABLE:
			rc = rw_remote_wait(w, r, now_ms, "remote_unreachable", rr.why, NULL, err);
			break;
		default:
			rc = rw_fail(w, r, pki_result_name(rr.code), rr.why, err);
			break;
		}
		renewal_remote_result_clear(&rr);
		if (n == 0)
			goto out;
	} else if (strcmp(sub_ca, "local") != 0) {
		snprintf(detail, sizeof(detail), "[renewal] sub_ca for tenant %s is \"%.64s\"; "
			"use local or remote:<name>", tenant, sub_ca);
		rc = rw_fail(w, r, "config", detail, err);
		goto out;
	} else if ((rc = rw_issue_local(w, auth, auth_len, certs, usages, &n, &result, &why)) !=
		   TW_OK) {
		if (rc == TW_E_UNAVAILABLE || rc == TW_E_IO) {
			signer_client_close(w->sc);
			w->sc = NULL;
			*err = why;
			rc = rw_later(w, r, now_ms, RENEWAL_RETRY_MS, err);
		} else {
			snprintf(detail, sizeof(detail), "the Sub-CA refused: %s", why.message);
			rc = rw_fail(w, r, pki_result_name(result), detail, err);
		}
		goto out;
	}
	/* 4. record the new certificates (pending) and order their installation */
	if ((rc = store_begin(w->store, err)) != TW_OK)
		goto out;
	r->new_certs[0] = r->new_tls_fp[0] = '\0';
	r->error_code[0] = r->error[0] = '\0';   /* a remote's waiting note is over */
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		char fp[65], serial[STORE_ID_MAX + 1];
		ASN1_INTEGER *sn = X509_get_serialNumber(certs[i]);
		BIGNUM *bn = ASN1_INTEGER_to_BN(sn, NULL);
		char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

		BN_free(bn);
		if (hex == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
		for (char *p = hex; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
		snprintf(serial, sizeof(serial), "%s", hex);
		OPENSSL_free(hex);
		if ((rc = keys_cert_fingerprint(certs[i], fp, err)) != TW_OK ||
		    (rc = pki_certificate_record(w->store, gw.tenant_id, certs[i], "smgw",
			r->gateway_id, pki_usage_name(usages[i]), err)) != TW_OK ||
		    (rc = store_renewal_cert_status(w->store, fp, "valid", RENEWAL_CERT_PENDING,
			err)) != TW_OK)
			break;
		if (usages[i] == PKI_USAGE_TLS)
			snprintf(r->new_tls_fp, sizeof(r->new_tls_fp), "%s", fp);
		if (off < sizeof(r->new_certs))
			off += (size_t)snprintf(r->new_certs + off, sizeof(r->new_certs) - off,
				"%s%s:%s:%s", off ? "," : "", pki_usage_name(usages[i]), serial, fp);
	}
	if (rc == TW_OK) {
		struct job_spec spec;
		int64_t job = 0;

		struct renewal_orders_cfg oc;

		renewal_orders_cfg_load(w->home->conf, &oc);
		payload = json_pack("{s:I}", "renewal", (json_int_t)r->id);
		spec = (struct job_spec){ .type = order_type_cert_install.name, .payload = payload,
			.timeout_s = oc.timeout_s, .max_attempts = oc.attempts,
			.retry_delay_s = oc.retry_delay_s };
		if (payload == NULL)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		else if ((rc = job_create_in_tx(w->store, r->gateway_id, &spec, &renewal_system,
			 &job, err)) == TW_OK) {
			r->install_job = job;
			snprintf(r->state, sizeof(r->state), "installing");
			r->updated_ms = now_ms;
			r->next_ms = now_ms + RENEWAL_POLL_MS;
			snprintf(detail, sizeof(detail), "checked (POP, subject, curve, outer "
				"signature), authorised by the GWA, issued by %s: %s; "
				"cert-install job %lld", issued_by, r->new_certs, (long long)job);
			if ((rc = store_renewal_update(w->store, r, "received", err)) == TW_OK)
				rc = renewal_audit(w->store, &renewal_system, "renewal.issued", r, "ok",
					NULL, detail, err);
		}
	}
	if (rc == TW_OK)
		rc = store_commit(w->store, err);
	if (rc != TW_OK)
		store_rollback(w->store);
out:
	json_decref(payload);
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++)
		X509_free(certs[i]);
	request_free(req);
	X509_free(sig);
	X509_free(gwa);
	free(gwa_path);
	free(auth);
	return rc;
}

/* confirmed, grace over: revoke every old certificate, then completed. */
static tw_rc rw_revoke_old(struct renewal_worker *w, struct store_renewal *r,
	int64_t now_ms, struct tw_error *err)
{
	struct ca_actor who = { .actor = renewal_system.actor, .role = renewal_system.role,
		.client = renewal_system.client };
	char copy[STORE_TEXT_MAX + 1], *save = NULL, *item;
	tw_rc rc = TW_OK;

	if (r->revoke_at_ms == 0) {
		long grace = rn_conf_long(w->home->conf, "grace_period", RENEWAL_GRACE_DEFAULT_S,
			0, 366L * 86400L);

		r->revoke_at_ms = r->updated_ms + (int64_t)grace * 1000;
	}
	if (now_ms < r->revoke_at_ms)
		return rw_later(w, r, now_ms, r->revoke_at_ms - now_ms, err);
	snprintf(copy, sizeof(copy), "%s", r->old_certs);
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == TW_OK;
	     item = strtok_r(NULL, ",", &save)) {
		char *serial = strchr(item, ':'), *end;
		bool changed = false;

		if (serial == NULL || (end = strchr(serial + 1, ':')) == NULL)
			return tw_error_set(err, TW_E_INTEGRITY, "renewal %lld: certificate list is "
				"damaged", (long long)r->id);
		*end = '\0';
		/* Idempotent: a crash between two revocations repeats only the missing ones. */
		rc = ca_revoke(w->home, w->store, &who, CA_DEFAULT_NAME, serial + 1,
			RENEWAL_CRL_REASON_SUPERSEDED, &changed, err);
	}
	if (rc != TW_OK)
		return rc;
	if ((rc = store_begin(w->store, err)) != TW_OK)
		return rc;
	snprintf(r->state, sizeof(r->state), "completed");
	r->updated_ms = now_ms;
	r->next_ms = 0;
	if ((rc = store_renewal_update(w->store, r, "confirmed", err)) != TW_OK ||
	    (rc = renewal_audit(w->store, &renewal_system, "renewal.completed", r, "ok", NULL,
		"grace period over: old certificates revoked (superseded)", err)) != TW_OK ||
	    (rc = store_commit(w->store, err)) != TW_OK)
		store_rollback(w->store);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

static tw_rc rw_one(struct renewal_worker *w, int64_t id, int64_t now_ms,
	struct tw_error *err)
{
	struct store_renewal r;
	long proof_s;
	tw_rc rc;

	if ((rc = store_renewal_get(w->store, id, &r, err)) != TW_OK)
		return rc == TW_E_NOT_FOUND ? TW_OK : rc;
	if (strcmp(r.state, "requesting") == 0) {
		rc = rw_watch_job(w, &r, r.request_job, now_ms, err);
	} else if (strcmp(r.state, "received") == 0) {
		rc = rw_process(w, &r, now_ms, err);
	} else if (strcmp(r.state, "installing") == 0) {
		rc = rw_watch_job(w, &r, r.install_job, now_ms, err);
	} else if (strcmp(r.state, "installed") == 0) {
		proof_s = rn_conf_long(w->home->conf, "proof_timeout",
			RENEWAL_PROOF_TIMEOUT_DEFAULT_S, 1, 366L * 86400L);
		if (now_ms - r.updated_ms > proof_s * 1000L)
			rc = rw_fail(w, &r, "proof_timeout", "the gateway did not connect with its "
				"new TLS certificate in time; it keeps its old certificates", err);
		else
			rc = rw_later(w, &r, now_ms, RENEWAL_POLL_MS * 5, err);
	} else if (strcmp(r.state, "confirmed") == 0) {
		rc = rw_revoke_old(w, &r, now_ms, err);
	}
	store_renewal_clear(&r);
	return rc;
}

/*
 * Gateways whose TLS certificate expires within their tenant's renew_before_days get a
 * renewal: one scan per tenant with its own window (a window of 0 skips the tenant).
 */
static void rw_expiry_scan(struct renewal_worker *w, int64_t now_ms)
{
	char (*ids)[STORE_ID_MAX + 1] = calloc(RENEWAL_EXPIRY_BATCH, sizeof(*ids));
	int64_t *tenants = calloc(RENEWAL_EXPIRY_TENANTS, sizeof(*tenants));
	struct renewal_orders_cfg oc;
	struct tw_error e;
	size_t nt = 0;

	w->next_scan_ms = now_ms + RENEWAL_EXPIRY_SCAN_MS;
	if (ids == NULL || tenants == NULL)
		goto out;
	if (store_tenant_ids(w->store, tenants, RENEWAL_EXPIRY_TENANTS, &nt, &e) != TW_OK) {
		tw_warn("renewal: expiry scan failed: %s", e.message);
		goto out;
	}
	if (nt == RENEWAL_EXPIRY_TENANTS)
		tw_warn("renewal: expiry scan covers only the first %d tenants",
			RENEWAL_EXPIRY_TENANTS);
	renewal_orders_cfg_load(w->home->conf, &oc);
	for (size_t t = 0; t < nt; t++) {
		long days = rw_window_days(w, tenants[t]);
		size_t n = 0;

		if (days == 0)
			continue;
		if (store_renewal_expiring(w->store, tenants[t], now_ms / 1000 +
		    (int64_t)days * 86400, ids, RENEWAL_EXPIRY_BATCH, &n, &e) != TW_OK) {
			tw_warn("renewal: expiry scan of tenant %lld failed: %s",
				(long long)tenants[t], e.message);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			char sel[STORE_ID_MAX + 4];
			int64_t started, skipped;

			snprintf(sel, sizeof(sel), "id:%s", ids[i]);
			if (renewal_start(w->store, sel, "expiry", &oc, &renewal_system, NULL,
			    &started, &skipped, &e) != TW_OK)
				tw_warn("renewal: %s: %s", ids[i], e.message);
		}
	}
out:
	free(tenants);
	free(ids);
}

tw_rc renewal_worker_step(struct renewal_worker *w, int64_t now_ms, size_t max, size_t *n,
	struct tw_error *err)
{
	int64_t ids[64];
	size_t got = 0, done = 0;
	tw_rc rc;

	if (n != NULL)
		*n = 0;
	if (now_ms >= w->next_scan_ms)
		rw_expiry_scan(w, now_ms);
	/* S-8: the certificate-management contexts are validated on the same timer. */
	gwa_ctx_validate_scheduled(w->home, w->store, now_ms, &w->next_context_ms);
	if (max > sizeof(ids) / sizeof(ids[0]))
		max = sizeof(ids) / sizeof(ids[0]);
	if ((rc = store_renewal_due(w->store, now_ms, ids, max, &got, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < got; i++) {
		struct tw_error one;

		if (rw_one(w, ids[i], now_ms, &one) != TW_OK) {
			struct store_renewal r;
			struct tw_error ignore;

			tw_warn("renewal %lld: %s; retrying in %d s", (long long)ids[i], one.message,
				RENEWAL_RETRY_MS / 1000);
			/* Back off: a persistent failure must not spin (and sign) every tick. */
			if (store_renewal_get(w->store, ids[i], &r, &ignore) == TW_OK)
				(void)rw_later(w, &r, now_ms, RENEWAL_RETRY_MS, &ignore);
			store_renewal_clear(&r);
		}
		done++;
	}
	if (n != NULL)
		*n = done;
	return TW_OK;
}

static void rw_tick(evutil_socket_t fd, short what, void *arg)
{
	struct renewal_worker *w = arg;
	struct tw_error e;

	(void)fd;
	(void)what;
	if (renewal_worker_step(w, tw_now_ms(), 64, NULL, &e) != TW_OK)
		tw_warn("renewal: %s", e.message);
}

tw_rc renewal_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct renewal_worker **out, struct tw_error *err)
{
	const char *enabled = tw_config_get_or(home->conf, "renewal", "enabled", "yes");
	struct timeval every;
	long tick;
	tw_rc rc;

	*out = NULL;
	if (strcmp(enabled, "no") == 0)
		return TW_OK;
	if ((rc = tw_config_get_long(home->conf, "renewal", "tick_ms", 500, 10, 60000, &tick,
	    err)) != TW_OK ||
	    (rc = renewal_worker_new(home, store, out, err)) != TW_OK)
		return rc;
	every.tv_sec = tick / 1000;
	every.tv_usec = (tick % 1000) * 1000;
	if (((*out)->timer = event_new(base, -1, EV_PERSIST, rw_tick, *out)) == NULL ||
	    event_add((*out)->timer, &every) != 0) {
		renewal_worker_free(*out);
		*out = NULL;
		return tw_error_set(err, TW_E_INTERNAL, "cannot start the renewal timer");
	}
	return TW_OK;
}

void renewal_worker_stop(struct renewal_worker *w)
{
	renewal_worker_free(w);
}
