/*
 * api_crl.c: GET/HEAD /crl/<ca>.crl (and /crl/<ca>-delta.crl for CAs with delta CRLs):
 * the current CRL as DER (application/pkix-crl) with
 * ETag (SHA-256 of the file), Last-Modified (thisUpdate), Cache-Control up to nextUpdate,
 * and 304 Not Modified on a matching If-None-Match. The body is sent from the file with
 * evbuffer_add_file (sendfile where available): a CRL of a million entries is tens of
 * megabytes and is never copied through user space.
 */
#include "api/api_crl.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "base/log.h"
#include "base/util.h"
#include "pki/crl.h"
#include "pki/profile.h"
#include "store/store_ca.h"

struct api_crl_route {
	char ca[STORE_ID_MAX + 1];
	char path[STORE_ID_MAX + 16];
	struct tw_store *store;
};

/* Static: the routes live as long as the process (no free path needed in api.c). */
static struct api_crl_route api_crl_routes[API_CRL_MAX_CAS];
static size_t api_crl_count;

static void api_crl_plain(struct evhttp_request *req, int code, const char *reason,
	const char *text)
{
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"text/plain; charset=utf-8");
	if (out != NULL)
		evbuffer_add_printf(out, "%s\n", text);
	evhttp_send_reply(req, code, reason, out);
	if (out != NULL)
		evbuffer_free(out);
}

/* True if the If-None-Match header lists etag (or is "*"). */
static bool api_crl_etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);

	if (inm == NULL)
		return false;
	if (strcmp(inm, "*") == 0)
		return true;
	for (const char *p = strstr(inm, etag); p != NULL; p = strstr(p + 1, etag))
		if ((p == inm || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/' ) &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	return false;
}

static void api_crl_serve(struct evhttp_request *req, void *arg)
{
	struct api_crl_route *r = arg;
	struct evkeyvalq *out_h = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct store_ca_crl meta;
	struct tw_error err;
	struct evbuffer *body = NULL;
	struct stat st;
	char etag[72], date[64], cache[64], len[32];
	bool found = false;
	time_t t;
	struct tm tm;
	int64_t now = tw_now_ms() / 1000, max_age;
	int fd = -1;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(out_h, "Allow", "GET, HEAD");
		api_crl_plain(req, 405, "Method Not Allowed", "use GET");
		return;
	}
	if (store_ca_crl_get(r->store, r->ca, &meta, &found, &err) != TW_OK) {
		tw_warn("CRL %s: %s", r->ca, err.message);
		api_crl_plain(req, 503, "Service Unavailable", "the CRL store is unavailable");
		return;
	}
	if (!found) {
		api_crl_plain(req, 404, "Not Found", "this CA has not published a CRL yet");
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", meta.sha256);
	t = (time_t)meta.this_update;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	/* Caches may keep it until nextUpdate, but at most an hour: revocations are urgent. */
	max_age = meta.next_update - now;
	max_age = max_age < 0 ? 0 : max_age > 3600 ? 3600 : max_age;
	snprintf(cache, sizeof(cache), "public, max-age=%lld", (long long)max_age);
	evhttp_add_header(out_h, "ETag", etag);
	if (date[0] != '\0')
		evhttp_add_header(out_h, "Last-Modified", date);
	evhttp_add_header(out_h, "Cache-Control", cache);
	if (api_crl_etag_matches(evhttp_find_header(evhttp_request_get_input_headers(req),
		"If-None-Match"), etag)) {
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		return;
	}
	if ((fd = open(meta.path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
	    (body = evbuffer_new()) == NULL) {
		tw_warn("CRL %s: cannot open %s", r->ca, meta.path);
		if (fd >= 0)
			close(fd);
		api_crl_plain(req, 503, "Service Unavailable", "the CRL file is unavailable");
		if (body != NULL)
			evbuffer_free(body);
		return;
	}
	evhttp_add_header(out_h, "Content-Type", "application/pkix-crl");
	if (cmd == EVHTTP_REQ_HEAD) {
		snprintf(len, sizeof(len), "%lld", (long long)st.st_size);
		evhttp_add_header(out_h, "Content-Length", len);
		close(fd);
	} else if (evbuffer_add_file(body, fd, 0, st.st_size) != 0) {   /* takes fd */
		evbuffer_free(body);
		api_crl_plain(req, 500, "Internal Server Error", "cannot send the CRL");
		return;
	}
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

/* /crl/<ca>-delta.crl serving the store row "<ca>-delta" (crl.h), if ca has delta CRLs. */
static tw_rc api_crl_delta_routes_add(struct evhttp *http, const struct tw_home *home,
	const char *ca, struct tw_store *store, struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	struct api_crl_route *r;
	char name[STORE_ID_MAX + 1];
	bool delta;
	tw_rc rc;

	if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) != TW_OK)
		return rc;
	delta = cfg->delta_crl;
	pki_ca_config_free(cfg);
	if (!delta)
		return TW_OK;
	if (api_crl_count == API_CRL_MAX_CAS ||
	    strlen(ca) + sizeof(CRL_DELTA_SUFFIX) - 1 > STORE_ID_MAX)
		return tw_error_set(err, TW_E_CONFIG, "[ca] crl_cas: more than %d CRLs with the "
			"delta CRLs, or the name '%s' is too long for a delta CRL", API_CRL_MAX_CAS, ca);
	/* ca points into the routes array: copy it before formatting into a route. */
	snprintf(name, sizeof(name), "%s%s", ca, CRL_DELTA_SUFFIX);
	r = &api_crl_routes[api_crl_count++];
	memcpy(r->ca, name, sizeof(r->ca));
	r->store = store;
	snprintf(r->path, sizeof(r->path), "/crl/%s.crl", name);
	if (evhttp_set_cb(http, r->path, api_crl_serve, r) != 0)
		return tw_error_set(err, TW_E_CONFIG, "CRL route %s is registered twice", r->path);
	return TW_OK;
}

tw_rc api_crl_register(struct evhttp *http, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err)
{
	const char *list = tw_config_get_or(home->conf, "ca", "crl_cas", CRL_DEFAULT_CA);
	tw_rc rc;

	api_crl_count = 0;
	for (const char *p = list; *p != '\0';) {
		struct api_crl_route *r;
		size_t n;

		while (*p == ' ' || *p == ',')
			p++;
		if ((n = strcspn(p, " ,")) == 0)
			break;
		if (api_crl_count == API_CRL_MAX_CAS || n > STORE_ID_MAX)
			return tw_error_set(err, TW_E_CONFIG, "[ca] crl_cas lists more than %d CAs or "
				"a name longer than %d bytes", API_CRL_MAX_CAS, STORE_ID_MAX);
		for (size_t i = 0; i < n; i++)
			if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
			      (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_' || p[i] == '.'))
				return tw_error_set(err, TW_E_CONFIG, "[ca] crl_cas: '%.*s' is not a CA "
					"name ([A-Za-z0-9._-])", (int)n, p);
		r = &api_crl_routes[api_crl_count++];
		memcpy(r->ca, p, n);
		r->ca[n] = '\0';
		r->store = store;
		snprintf(r->path, sizeof(r->path), "/crl/%.*s.crl", (int)n, p);
		if (evhttp_set_cb(http, r->path, api_crl_serve, r) != 0)
			return tw_error_set(err, TW_E_CONFIG, "CRL route %s is registered twice",
				r->path);
		/* Its delta CRL next to it (issue 11), when [ca.<name>] delta_crl = yes. */
		if ((rc = api_crl_delta_routes_add(http, home, r->ca, store, err)) != TW_OK)
			return rc;
		p += n;
	}
	return TW_OK;
}
