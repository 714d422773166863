/*
 * rollout.c: staged firmware rollouts (rollout.h). The rollout keeps only what a fleet
 * operator steers (groups, thresholds, window, state); every transfer is an ordinary
 * firmware-update job, so a restart of the whole stack simply continues: the worker's
 * next tick reads the jobs' states and the rollout's row and goes on from there.
 */
#include "gwa/rollout.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit/audit.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "store/store_auth.h"
#include "store/store_firmware.h"
#include "store/store_jobs.h"

static tw_rc ro_audit(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *action, const char *result, const char *detail, struct tw_error *err)
{
	char object[40];
	struct audit_entry e = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail };

	snprintf(object, sizeof(object), "rollout:%lld", (long long)id);
	return audit_append_in_tx(store, &e, err);
}

/* ---------------------------------------------------------------- windows */

struct ro_window {
	unsigned days;             /* bit 0 = Sunday .. bit 6 = Saturday */
	int start, end;            /* minutes of the day */
	char zone[64];
};

static int ro_day(const char *s, size_t n)
{
	static const char *const names[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

	for (int i = 0; i < 7; i++)
		if (n == 3 && strncasecmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

static bool ro_hhmm(const char *s, int *min)
{
	if (!(s[0] >= '0' && s[0] <= '2' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' &&
	      s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9'))
		return false;
	*min = ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0');
	return *min < 24 * 60;
}

static tw_rc ro_window_parse(const char *w, struct ro_window *out, struct tw_error *err)
{
	const char *sp = strchr(w, ' '), *p;
	size_t dn;

	memset(out, 0, sizeof(*out));
	snprintf(out->zone, sizeof(out->zone), "UTC");
	if (sp == NULL || strlen(w) > ROLLOUT_WINDOW_MAX)
		goto bad;
	dn = (size_t)(sp - w);
	if (dn == 5 && strncasecmp(w, "daily", 5) == 0) {
		out->days = 0x7f;
	} else if (dn == 7 && w[3] == '-') {
		int a = ro_day(w, 3), b = ro_day(w + 4, 3);

		if (a < 0 || b < 0)
			goto bad;
		for (int d = a;; d = (d + 1) % 7) {
			out->days |= 1u << d;
			if (d == b)
				break;
		}
	} else {
		for (p = w; p < sp;) {
			int d = ro_day(p, 3);

			if (d < 0 || (p + 3 != sp && p[3] != ','))
				goto bad;
			out->days |= 1u << d;
			p += p + 3 == sp ? 3 : 4;
		}
	}
	p = sp + 1;
	if (strlen(p) < 11 || !ro_hhmm(p, &out->start) || p[5] != '-' ||
	    !ro_hhmm(p + 6, &out->end) || out->start == out->end)
		goto bad;
	p += 11;
	if (*p == ' ') {
		p++;
		if (*p == '\0' || strlen(p) >= sizeof(out->zone) || strstr(p, "..") != NULL ||
		    p[0] == '/' || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789/_+-") != strlen(p))
			goto bad;
		snprintf(out->zone, sizeof(out->zone), "%s", p);
	} else if (*p != '\0') {
		goto bad;
	}
	return TW_OK;
bad:
	return tw_error_set(err, TW_E_INVALID, "maintenance window \"%.80s\" must be DAYS "
		"HH:MM-HH:MM [ZONE], e.g. \"Mon-Fri 01:00-05:00 Europe/Berlin\" (DAYS: daily, Mon, "
		"Mon-Fri, Sat,Sun)", w);
}

tw_rc rollout_window_check(const char *window, struct tw_error *err)
{
	struct ro_window w;
	const char *dir = getenv("TZDIR");
	char path[PATH_MAX];
	tw_rc rc;

	if (window == NULL || window[0] == '\0')
		return TW_OK;
	if ((rc = ro_window_parse(window, &w, err)) != TW_OK)
		return rc;
	/* The C library takes an unknown zone for UTC without a word: a typo would move the
	 * window by hours. The zone must be one of the system's (tzdata). */
	snprintf(path, sizeof(path), "%s/%s", dir != NULL && dir[0] != '\0' ? dir :
		"/usr/share/zoneinfo", w.zone);
	if (strcmp(w.zone, "UTC") != 0 && access(path, R_OK) != 0)
		return tw_error_set(err, TW_E_INVALID, "maintenance window \"%.80s\": unknown time "
			"zone %s (an IANA name such as Europe/Berlin, see /usr/share/zoneinfo)",
			window, w.zone);
	return TW_OK;
}

bool rollout_window_open(const char *window, int64_t now_ms)
{
	struct ro_window w;
	struct tm tm;
	time_t t = (time_t)(now_ms / 1000);
	char *old = NULL;
	const char *env;
	int min, day;
	bool open;

	if (window == NULL || window[0] == '\0')
		return true;
	if (ro_window_parse(window, &w, NULL) != TW_OK)
		return false;
	/* Local time of the zone, daylight saving included: the C library's zone rules.
	 * TZ is process-wide; the worker's loop is single-threaded. */
	if ((env = getenv("TZ")) != NULL)
		old = tw_strdup(env);
	setenv("TZ", w.zone, 1);
	tzset();
	open = localtime_r(&t, &tm) != NULL;
	if (old != NULL)
		setenv("TZ", old, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old);
	if (!open)
		return false;
	min = tm.tm_hour * 60 + tm.tm_min;
	day = tm.tm_wday;
	if (w.start < w.end)
		return (w.days & (1u << day)) != 0 && min >= w.start && min < w.end;
	/* Across midnight: the evening part on a window day, the morning part the day after. */
	if (min >= w.start)
		return (w.days & (1u << day)) != 0;
	if (min < w.end)
		return (w.days & (1u << ((day + 6) % 7))) != 0;
	return false;
}

/* ------------------------------------------------- configured windows */

#define RO_SECTION_TAG    "rollout.window.tag"
#define RO_SECTION_TENANT "rollout.window.tenant"

struct ro_named_window {
	char *name;                /* tag or tenant name */
	char *window;
};

struct rollout_windows {
	char *global;              /* [rollout] window, NULL = none */
	struct ro_named_window *tags, *tenants;
	size_t ntags, ntenants;
};

struct ro_load {
	struct ro_named_window **v;
	size_t *n;
	const char *section;
	tw_rc rc;
	struct tw_error *err;
};

static int ro_load_cb(const char *key, const char *value, void *arg)
{
	struct ro_load *x = arg;
	struct ro_named_window *v;
	struct tw_error e;

	tw_error_clear(&e);
	if (rollout_window_check(value, &e) != TW_OK || value[0] == '\0') {
		x->rc = tw_error_set(x->err, TW_E_CONFIG, "[%s] %s: %s", x->section, key,
			value[0] == '\0' ? "empty maintenance window" : e.message);
		return 1;
	}
	if ((v = realloc(*x->v, (*x->n + 1) * sizeof(*v))) == NULL) {
		x->rc = tw_error_set(x->err, TW_E_NOMEM, "out of memory");
		return 1;
	}
	*x->v = v;
	v[*x->n].name = tw_strdup(key);
	v[*x->n].window = tw_strdup(value);
	if (v[*x->n].name == NULL || v[*x->n].window == NULL) {
		free(v[*x->n].name);
		free(v[*x->n].window);
		x->rc = tw_error_set(x->err, TW_E_NOMEM, "out of memory");
		return 1;
	}
	(*x->n)++;
	return 0;
}

tw_rc rollout_windows_load(const struct tw_config *conf, struct rollout_windows **out,
	struct tw_error *err)
{
	struct rollout_windows *w = calloc(1, sizeof(*w));
	const char *g = tw_config_get(conf, "rollout", "window");
	struct ro_load tags = { NULL, NULL, RO_SECTION_TAG, TW_OK, err };
	struct ro_load tenants = { NULL, NULL, RO_SECTION_TENANT, TW_OK, err };
	struct tw_error e;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (w == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	tw_error_clear(&e);
	if (g != NULL && g[0] != '\0') {
		if (rollout_window_check(g, &e) != TW_OK) {
			rc = tw_error_set(err, TW_E_CONFIG, "[rollout] window: %s", e.message);
			goto out;
		}
		if ((w->global = tw_strdup(g)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	tags.v = &w->tags;
	tags.n = &w->ntags;
	tenants.v = &w->tenants;
	tenants.n = &w->ntenants;
	if (tw_config_foreach(conf, RO_SECTION_TAG, ro_load_cb, &tags) != 0) {
		rc = tags.rc;
		goto out;
	}
	if (tw_config_foreach(conf, RO_SECTION_TENANT, ro_load_cb, &tenants) != 0) {
		rc = tenants.rc;
		goto out;
	}
	*out = w;
	w = NULL;
out:
	rollout_windows_free(w);
	return rc;
}

void rollout_windows_free(struct rollout_windows *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->ntags; i++) {
		free(w->tags[i].name);
		free(w->tags[i].window);
	}
	for (size_t i = 0; i < w->ntenants; i++) {
		free(w->tenants[i].name);
		free(w->tenants[i].window);
	}
	free(w->tags);
	free(w->tenants);
	free(w->global);
	free(w);
}

bool rollout_windows_by_tag(const struct rollout_windows *w)
{
	return w != NULL && w->ntags > 0;
}

bool rollout_windows_by_tenant(const struct rollout_windows *w)
{
	return w != NULL && w->ntenants > 0;
}

/* Is name one of the comma-separated items of list? */
static bool ro_in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t k = strcspn(p, ",");

		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

bool rollout_windows_open(const struct rollout_windows *w, const char *rollout_window,
	const char *tags, const char *tenant, int64_t now_ms, const char **source)
{
	const char *src = "none";
	bool open = true, tagged = false;

	if (rollout_window != NULL && rollout_window[0] != '\0') {
		src = "rollout";
		open = rollout_window_open(rollout_window, now_ms);
		goto out;
	}
	/* Every tag of the gateway that has a window must be open (each is a constraint). */
	for (size_t i = 0; w != NULL && tags != NULL && i < w->ntags; i++)
		if (ro_in_list(tags, w->tags[i].name)) {
			tagged = true;
			open = open && rollout_window_open(w->tags[i].window, now_ms);
		}
	if (tagged) {
		src = "tag";
		goto out;
	}
	for (size_t i = 0; w != NULL && tenant != NULL && i < w->ntenants; i++)
		if (strcmp(w->tenants[i].name, tenant) == 0) {
			src = "tenant";
			open = rollout_window_open(w->tenants[i].window, now_ms);
			goto out;
		}
	if (w != NULL && w->global != NULL) {
		src = "global";
		open = rollout_window_open(w->global, now_ms);
	}
out:
	if (source != NULL)
		*source = src;
	return open;
}

/* ---------------------------------------------------------------- create */

struct ro_ids {
	char (*ids)[STORE_ID_MAX + 1];
	int64_t *tenants;
	size_t n, cap;
	bool nomem;
};

static int ro_collect(const struct store_gateway *gw, void *arg)
{
	struct ro_ids *v = arg;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *a = realloc(v->ids, cap * sizeof(*v->ids));
		void *b = a != NULL ? realloc(v->tenants, cap * sizeof(*v->tenants)) : NULL;

		if (a != NULL)
			v->ids = a;
		if (b == NULL || cap > ROLLOUT_MAX_TARGETS) {
			v->nomem = true;
			return 1;
		}
		v->tenants = b;
		v->cap = cap;
	}
	snprintf(v->ids[v->n], sizeof(v->ids[v->n]), "%s", gw->gateway_id);
	v->tenants[v->n++] = gw->tenant_id;
	return 0;
}

static int ro_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The selection's gateways, sorted by id. */
static tw_rc ro_select(struct tw_store *store, const char *sel, struct ro_ids *v,
	struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (strcmp(sel, "all") == 0)
		rc = store_gateway_select(store, GW_SELECT_ALL, NULL, ro_collect, v, err);
	else if (strncmp(sel, "tag:", 4) == 0 && sel[4] != '\0')
		rc = store_gateway_select(store, GW_SELECT_TAG, sel + 4, ro_collect, v, err);
	else if (strncmp(sel, "tenant:", 7) == 0 && sel[7] != '\0')
		rc = store_gateway_select(store, GW_SELECT_TENANT, sel + 7, ro_collect, v, err);
	else if (strncmp(sel, "ids:", 4) == 0 && sel[4] != '\0') {
		const char *p = sel + 4;

		while (rc == TW_OK && *p != '\0') {
			size_t n = strcspn(p, ",");
			char id[STORE_ID_MAX + 1];
			struct store_gateway gw;

			if (n == 0 || n > STORE_ID_MAX)
				return tw_error_set(err, TW_E_INVALID, "bad gateway list \"%.80s\"", sel);
			memcpy(id, p, n);
			id[n] = '\0';
			if ((rc = store_gateway_get(store, id, &gw, err)) == TW_OK && ro_collect(&gw, v))
				break;
			p += n + (p[n] == ',');
		}
	} else
		return tw_error_set(err, TW_E_INVALID, "selection must be all, ids:A,B, tag:T or "
			"tenant:T");
	if (rc != TW_OK)
		return rc;
	if (v->nomem)
		return tw_error_set(err, TW_E_TOO_LARGE, "too many targets (at most %d) or out of "
			"memory", ROLLOUT_MAX_TARGETS);
	if (v->n == 0)
		return tw_error_set(err, TW_E_NOT_FOUND, "the selection %s names no gateway", sel);
	qsort(v->ids, v->n, sizeof(*v->ids), ro_cmp);
	for (size_t i = 1; i < v->n; i++)
		if (strcmp(v->ids[i], v->ids[i - 1]) == 0)
			return tw_error_set(err, TW_E_INVALID, "gateway %s is named twice", v->ids[i]);
	return TW_OK;
}

/* Group of target i of n: group 0 has canary targets, the others share the rest. */
static int ro_group_of(size_t i, size_t n, int ngroups, size_t canary)
{
	size_t rest, per, extra;

	if (ngroups == 1)
		return 0;
	if (i < canary)
		return 0;
	rest = n - canary;
	per = rest / (size_t)(ngroups - 1);
	extra = rest % (size_t)(ngroups - 1);
	i -= canary;
	/* The first `extra` groups get one more. */
	if (i < extra * (per + 1))
		return 1 + (int)(i / (per + 1));
	return 1 + (int)extra + (int)((i - extra * (per + 1)) / (per > 0 ? per : 1));
}

tw_rc rollout_create(struct tw_store *store, const struct job_actor *who,
	const struct rollout_spec *spec, int64_t *id, struct tw_error *err)
{
	struct ro_ids v = { 0 };
	struct store_firmware f;
	struct store_rollout r;
	char detail[STORE_TEXT_MAX + 1];
	size_t canary;
	bool in_tx = false;
	tw_rc rc;

	*id = 0;
	memset(&r, 0, sizeof(r));
	if ((rc = firmware_label_check(spec->name, "rollout name", err)) != TW_OK ||
	    (rc = rollout_window_check(spec->window, err)) != TW_OK)
		return rc;
	if (spec->ngroups < 1 || spec->ngroups > 100 || spec->success_pct < 1 ||
	    spec->success_pct > 100 || spec->error_pct < 0 || spec->error_pct > 100 ||
	    spec->canary < 0 || spec->selection == NULL)
		return tw_error_set(err, TW_E_INVALID, "groups 1..100, success 1..100 %%, error "
			"0..100 %%, canary >= 0 and a selection are needed");
	if ((rc = store_firmware_get(store, spec->image_id, &f, err)) != TW_OK)
		return rc;
	if (strcmp(f.state, "released") != 0 || strcmp(f.signature, "verified") != 0)
		return tw_error_set(err, TW_E_DENIED, "firmware image %lld is %s with signature "
			"%s; a rollout needs a released, verified image", (long long)f.id, f.state,
			f.signature);
	if ((rc = ro_select(store, spec->selection, &v, err)) != TW_OK)
		goto out;
	if ((size_t)spec->ngroups > v.n) {
		rc = tw_error_set(err, TW_E_INVALID, "%d groups for %zu gateways", spec->ngroups, v.n);
		goto out;
	}
	/* The canary: as asked, else an even share; never all when there are more groups. */
	canary = spec->canary > 0 ? (size_t)spec->canary : v.n / (size_t)spec->ngroups;
	if (canary == 0)
		canary = 1;
	if (spec->ngroups > 1 && canary > v.n - (size_t)(spec->ngroups - 1)) {
		rc = tw_error_set(err, TW_E_INVALID, "a canary of %zu leaves too few gateways for "
			"%d more groups", canary, spec->ngroups - 1);
		goto out;
	}
	snprintf(r.name, sizeof(r.name), "%s", spec->name);
	snprintf(r.selection, sizeof(r.selection), "%.*s", (int)sizeof(r.selection) - 1,
		spec->selection);
	snprintf(r.window, sizeof(r.window), "%s", spec->window != NULL ? spec->window : "");
	r.tenant_id = v.tenants[0];
	r.image_id = f.id;
	r.ngroups = spec->ngroups;
	r.success_pct = spec->success_pct;
	r.error_pct = spec->error_pct;
	r.created_ms = tw_now_ms();
	if ((rc = tw_strlcpy_checked(r.created_by, who->actor, sizeof(r.created_by), err,
		"actor")) != TW_OK)
		goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	in_tx = true;
	if ((rc = store_rollout_insert(store, &r, id, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < v.n; i++)
		if ((rc = store_rollout_target_add(store, *id, v.ids[i],
			ro_group_of(i, v.n, r.ngroups, canary), err)) != TW_OK)
			goto out;
	snprintf(detail, sizeof(detail), "%s: image %lld (%s %s) to %zu gateways (%s) in %d "
		"groups, canary %zu, success %d%%, error threshold %d%%, window \"%s\"; waits for "
		"approval (rollout.start)", r.name, (long long)f.id, f.model, f.version, v.n,
		r.selection, r.ngroups, canary, r.success_pct, r.error_pct, r.window[0] != '\0' ?
		r.window : "none of its own: tag, tenant or global window of the configuration");
	if ((rc = ro_audit(store, who, *id, "rollout.create", "ok", detail, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
	in_tx = false;
out:
	if (in_tx)
		store_rollback(store);
	if (rc != TW_OK)
		*id = 0;
	free(v.ids);
	free(v.tenants);
	return rc;
}

/* ---------------------------------------------------------------- steering */

/* from -> to with its entry, in one transaction; hook runs inside it (may be NULL). */
static tw_rc ro_move(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *from, const char *to, const char *action, const char *reason, bool start,
	tw_rc (*hook)(struct tw_store *, const struct store_rollout *, struct tw_error *),
	struct tw_error *err)
{
	struct store_rollout r;
	char detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_rollout_get(store, id, &r, err)) != TW_OK)
		goto fail;
	if (from != NULL && strcmp(r.state, from) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "rollout %lld is %s, not %s; nothing changed",
			(long long)id, r.state, from);
		goto fail;
	}
	if (from == NULL && (strcmp(r.state, "finished") == 0 ||
	    strcmp(r.state, "cancelled") == 0)) {
		rc = tw_error_set(err, TW_E_DENIED, "rollout %lld is %s already", (long long)id,
			r.state);
		goto fail;
	}
	if ((rc = store_rollout_update(store, id, r.state, to, r.current_grp,
		reason != NULL ? reason : "", start ? who->actor : NULL, tw_now_ms(), err)) !=
	    TW_OK ||
	    (hook != NULL && (rc = hook(store, &r, err)) != TW_OK))
		goto fail;
	snprintf(detail, sizeof(detail), "%s: %s -> %s (group %d of %d)%s%.300s", r.name,
		r.state, to, r.current_grp + 1, r.ngroups, reason != NULL ? ": " : "",
		reason != NULL ? reason : "");
	if ((rc = ro_audit(store, who, id, action, "ok", detail, err)) != TW_OK)
		goto fail;
	return store_commit(store, err);
fail:
	store_rollback(store);
	return rc;
}

tw_rc rollout_start(struct tw_store *store, const struct job_actor *who, int64_t id,
	struct tw_error *err)
{
	return ro_move(store, who, id, "created", "running", "rollout.start", NULL, true, NULL,
		err);
}

tw_rc rollout_pause(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *reason, struct tw_error *err)
{
	return ro_move(store, who, id, "running", "paused", "rollout.pause",
		reason != NULL ? reason : "paused by an operator", false, NULL, err);
}

struct ro_reset {
	struct tw_store *store;
	int64_t id;
	tw_rc rc;
	struct tw_error *err;
};

static int ro_reset_cb(const struct store_rollout_target *t, void *arg)
{
	struct ro_reset *x = arg;

	x->rc = store_rollout_target_set(x->store, x->id, t->gateway_id, t->job_id, "waiting",
		false, x->err);
	return x->rc != TW_OK;
}

/* On resume: the current group's failed targets are tried first (new jobs next tick). */
static tw_rc ro_resume_hook(struct tw_store *store, const struct store_rollout *r,
	struct tw_error *err)
{
	struct ro_reset x = { store, r->id, TW_OK, err };
	tw_rc rc = store_rollout_targets(store, r->id, r->current_grp, "failed", ro_reset_cb,
		&x, err);

	return rc != TW_OK ? rc : x.rc;
}

tw_rc rollout_resume(struct tw_store *store, const struct job_actor *who, int64_t id,
	struct tw_error *err)
{
	return ro_move(store, who, id, "paused", "running", "rollout.resume",
		"failed targets of the current group retried first", false, ro_resume_hook, err);
}

struct ro_jobs {
	int64_t *ids;
	size_t n, cap;
};

static int ro_jobs_cb(const struct store_rollout_target *t, void *arg)
{
	struct ro_jobs *j = arg;

	if (t->job_id <= 0)
		return 0;
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		int64_t *ids = realloc(j->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return 1;
		j->ids = ids;
		j->cap = cap;
	}
	j->ids[j->n++] = t->job_id;
	return 0;
}

tw_rc rollout_cancel(struct tw_store *store, const struct job_actor *who, int64_t id,
	const char *reason, struct tw_error *err)
{
	struct ro_jobs j = { 0 };
	struct tw_error e;
	tw_rc rc;

	if ((rc = ro_move(store, who, id, NULL, "cancelled", "rollout.cancel",
		reason != NULL ? reason : "emergency stop", false, NULL, err)) != TW_OK)
		return rc;
	/* Emergency stop: every outstanding transfer ends (its downloads are refused). */
	if ((rc = store_rollout_targets(store, id, -1, "running", ro_jobs_cb, &j, err)) !=
	    TW_OK)
		goto out;
	for (size_t i = 0; i < j.n; i++) {
		tw_error_clear(&e);
		if (job_cancel(store, j.ids[i], who, &e) != TW_OK && e.code != TW_E_EXISTS)
			rc = tw_error_set(err, e.code, "rollout cancelled, but job %lld: %s",
				(long long)j.ids[i], e.message);
	}
out:
	free(j.ids);
	return rc;
}

/* ---------------------------------------------------------------- tick */

static const struct job_actor ro_system = { .actor = "system:rollout", .role = "service",
	.client = "local" };

struct ro_follow {
	struct tw_store *store;
	int64_t rid, image;
	bool create;               /* waiting targets may get their job now */
	bool per_target;           /* ... each only while its own window is open */
	const struct rollout_windows *windows;
	int64_t now_ms;
	int64_t tenant_id;         /* cache of the last tenant's name */
	char tenant[STORE_ID_MAX + 1];
	size_t held;               /* waiting targets outside their window this pass */
	int changed;
	tw_rc rc;
	struct tw_error *err;
};

/* The window of a waiting target (tag, tenant, global: the rollout has none). */
static bool ro_target_open(struct ro_follow *x, const char *gateway_id)
{
	char tags[STORE_TEXT_MAX + 1] = "";
	struct store_gateway gw;
	const char *tenant = NULL;
	struct tw_error e;

	tw_error_clear(&e);
	if (rollout_windows_by_tag(x->windows) &&
	    store_gateway_tags(x->store, gateway_id, tags, sizeof(tags), &e) != TW_OK)
		tags[0] = '\0';
	if (rollout_windows_by_tenant(x->windows) &&
	    store_gateway_get(x->store, gateway_id, &gw, &e) == TW_OK) {
		if (gw.tenant_id != x->tenant_id) {
			x->tenant_id = -1;
			if (store_auth_tenant_name(x->store, gw.tenant_id, x->tenant, &e) == TW_OK)
				x->tenant_id = gw.tenant_id;
		}
		if (gw.tenant_id == x->tenant_id)
			tenant = x->tenant;
	}
	return rollout_windows_open(x->windows, NULL, tags, tenant, x->now_ms, NULL);
}

static int ro_follow_cb(const struct store_rollout_target *t, void *arg)
{
	struct ro_follow *x = arg;
	struct store_job job;
	const char *to = NULL;

	if (strcmp(t->state, "running") == 0) {
		memset(&job, 0, sizeof(job));
		if ((x->rc = store_job_get(x->store, t->job_id, &job, x->err)) != TW_OK)
			return 1;
		if (job.state == JOB_DONE)
			to = "done";
		else if (job.state == JOB_FAILED || job.state == JOB_TIMED_OUT ||
		    job.state == JOB_CANCELLED)
			to = "failed";
		store_job_clear(&job);
		if (to != NULL) {
			x->rc = store_rollout_target_set(x->store, x->rid, t->gateway_id, t->job_id,
				to, false, x->err);
			x->changed++;
		}
	} else if (strcmp(t->state, "waiting") == 0 && x->create && x->per_target &&
	    !ro_target_open(x, t->gateway_id)) {
		x->held++;     /* outside its maintenance window: later */
	} else if (strcmp(t->state, "waiting") == 0 && x->create) {
		json_t *payload = json_pack("{s:I}", "image", (json_int_t)x->image);
		struct job_spec spec = { .type = "firmware-update", .payload = payload,
			.retry_delay_s = -1 };
		struct tw_error e;
		int64_t job_id = 0;

		if (payload == NULL) {
			x->rc = tw_error_set(x->err, TW_E_NOMEM, "out of memory");
			return 1;
		}
		tw_error_clear(&e);
		/* A gateway that cannot take the order (disabled, gone) counts as failed. */
		if (job_create_in_tx(x->store, t->gateway_id, &spec, &ro_system, &job_id, &e) !=
		    TW_OK)
			x->rc = store_rollout_target_set(x->store, x->rid, t->gateway_id, 0,
				"failed", true, x->err);
		else
			x->rc = store_rollout_target_set(x->store, x->rid, t->gateway_id, job_id,
				"running", true, x->err);
		json_decref(payload);
		x->changed++;
	}
	return x->rc != TW_OK;
}

/* Advance one running rollout by what its current group's jobs did. */
static tw_rc ro_step(struct tw_store *store, const struct rollout_windows *windows,
	int64_t id, int64_t now_ms, int *changed, struct tw_error *err)
{
	struct store_rollout r;
	struct store_rollout_group g;
	struct ro_follow x;
	char detail[STORE_TEXT_MAX + 1];
	int64_t size;
	tw_rc rc;

	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_rollout_get(store, id, &r, err)) != TW_OK)
		goto fail;
	if (strcmp(r.state, "running") != 0 && strcmp(r.state, "paused") != 0)
		goto done;
	memset(&x, 0, sizeof(x));
	x.store = store;
	x.rid = id;
	x.image = r.image_id;
	x.err = err;
	x.windows = windows;
	x.now_ms = now_ms;
	x.tenant_id = -1;
	/*
	 * A paused rollout starts nothing, but its running transfers are still followed.
	 * Windows: the rollout's own decides for all its targets; else, with tag or tenant
	 * windows configured, each target's own; else the global one for all.
	 */
	x.create = strcmp(r.state, "running") == 0;
	if (x.create && (r.window[0] != '\0' || (!rollout_windows_by_tag(windows) &&
	    !rollout_windows_by_tenant(windows))))
		x.create = rollout_windows_open(windows, r.window, NULL, NULL, now_ms, NULL);
	else
		x.per_target = x.create;
	if ((rc = store_rollout_targets(store, id, r.current_grp, NULL, ro_follow_cb, &x,
		err)) != TW_OK || (rc = x.rc) != TW_OK)
		goto fail;
	*changed += x.changed;
	if (strcmp(r.state, "running") != 0)
		goto done;
	if ((rc = store_rollout_group_counts(store, id, r.current_grp, &g, err)) != TW_OK)
		goto fail;
	size = g.waiting + g.running + g.done + g.failed;
	if (size > 0 && g.failed * 100 > (int64_t)r.error_pct * size) {
		snprintf(detail, sizeof(detail), "group %d: %lld of %lld failed, above the error "
			"threshold of %d%%", r.current_grp + 1, (long long)g.failed, (long long)size,
			r.error_pct);
		if ((rc = store_rollout_update(store, id, "running", "paused", r.current_grp,
			detail, NULL, now_ms, err)) != TW_OK ||
		    (rc = ro_audit(store, &ro_system, id, "rollout.pause", "ok", detail, err)) !=
		    TW_OK)
			goto fail;
		(*changed)++;
	} else if (size > 0 && g.done * 100 >= (int64_t)r.success_pct * size &&
	    (r.current_grp + 1 < r.ngroups || g.waiting + g.running == 0)) {
		bool last = r.current_grp + 1 >= r.ngroups;

		snprintf(detail, sizeof(detail), "group %d: %lld of %lld done (success threshold "
			"%d%%)%s", r.current_grp + 1, (long long)g.done, (long long)size,
			r.success_pct, last ? "; rollout finished" : "; next group starts");
		if ((rc = store_rollout_update(store, id, "running", last ? "finished" : "running",
			last ? r.current_grp : r.current_grp + 1, "", NULL, now_ms, err)) != TW_OK ||
		    (rc = ro_audit(store, &ro_system, id, last ? "rollout.finish" : "rollout.group",
			"ok", detail, err)) != TW_OK)
			goto fail;
		(*changed)++;
	}
done:
	return store_commit(store, err);
fail:
	store_rollback(store);
	return rc;
}

struct ro_running {
	int64_t *ids;
	size_t n, cap;
};

static int ro_running_cb(const struct store_rollout *r, void *arg)
{
	struct ro_running *v = arg;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		int64_t *ids = realloc(v->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return 1;
		v->ids = ids;
		v->cap = cap;
	}
	v->ids[v->n++] = r->id;
	return 0;
}

tw_rc rollout_tick(struct tw_store *store, const struct rollout_windows *windows,
	int64_t now_ms, int *changed, struct tw_error *err)
{
	struct ro_running v = { 0 };
	tw_rc rc;

	*changed = 0;
	if ((rc = store_rollout_foreach(store, "running", ro_running_cb, &v, err)) == TW_OK &&
	    (rc = store_rollout_foreach(store, "paused", ro_running_cb, &v, err)) == TW_OK)
		for (size_t i = 0; i < v.n && rc == TW_OK; i++)
			rc = ro_step(store, windows, v.ids[i], now_ms, changed, err);
	free(v.ids);
	return rc;
}
