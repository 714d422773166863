/*
 * client.c: one operator-API request over HTTPS with a client certificate, and the
 * session file (see client.h). The TLS context is the TR-03116-3 profile of
 * crypto/tls.c, the same the api serves, verifying the api against the operator CA.
 */
#include "auth/client.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/util.h"
#include "crypto/tls.h"

struct cl_result {
	int status;
	struct tw_buf body;
	bool done;
	bool failed;
};

static void cl_done(struct evhttp_request *req, void *arg)
{
	struct cl_result *r = arg;
	struct evbuffer *in;
	unsigned char chunk[4096];
	int n;

	r->done = true;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		r->failed = true;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	in = evhttp_request_get_input_buffer(req);
	while ((n = evbuffer_remove(in, chunk, sizeof(chunk))) > 0) {
		if (tw_buf_append(&r->body, chunk, (size_t)n, NULL) != TW_OK) {
			r->failed = true;
			break;
		}
	}
}

/* "https://HOST:PORT" -> host (caller frees), port. */
static tw_rc cl_parse_url(const char *url, char **host, uint16_t *port, struct tw_error *err)
{
	*host = NULL;
	if (strncmp(url, "https://", 8) != 0)
		return tw_error_set(err, TW_E_INVALID, "--api must be https://HOST:PORT (got %.80s)",
			url);
	return tw_parse_hostport(url + 8, host, port, err);
}

tw_rc auth_client_call(const struct auth_client_conf *conf, const char *method,
	const char *path, const json_t *body, int *status, json_t **resp, struct tw_error *err)
{
	struct tls_profile_config cfg;
	struct cl_result r;
	struct event_base *base = NULL;
	struct evhttp_connection *con = NULL;
	struct evhttp_request *req = NULL;
	struct bufferevent *bev = NULL;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	char *host = NULL, *text = NULL, hostport[300];
	unsigned char ip[16];
	uint16_t port = 0;
	json_error_t jerr;
	tw_rc rc;

	*status = 0;
	*resp = NULL;
	memset(&r, 0, sizeof(r));
	tw_buf_init(&r.body, AUTH_CLIENT_RESPONSE_MAX);
	if ((rc = cl_parse_url(conf->api, &host, &port, err)) != TW_OK)
		goto out;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = conf->cert;
	cfg.key_file = conf->key;
	cfg.trust_file = conf->ca;
	if ((rc = tls_client_ctx_new(&cfg, &ctx, err)) != TW_OK)
		goto out;
	if ((base = event_base_new()) == NULL || (ssl = SSL_new(ctx)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* The api's certificate must name the host we dialled (SAN DNS or IP). */
	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	else
		SSL_set1_host(ssl, host);
	SSL_set_tlsext_host_name(ssl, host);
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create a TLS connection");
		goto out;
	}
	ssl = NULL;   /* owned by bev */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	con = evhttp_connection_base_bufferevent_new(base, NULL, bev, host, port);
	if (con == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot create an HTTP connection");
		goto out;
	}
	evhttp_connection_set_timeout(con, conf->timeout_s > 0 ? conf->timeout_s : 30);
	if ((req = evhttp_request_new(cl_done, &r)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	snprintf(hostport, sizeof(hostport), "%s:%u", host, (unsigned)port);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", hostport);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (conf->token[0] != '\0') {
		char auth[AUTH_TOKEN_LEN + 16];

		snprintf(auth, sizeof(auth), "Bearer %s", conf->token);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
		tw_wipe(auth, sizeof(auth));
	}
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			"application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), text, strlen(text));
	}
	if (evhttp_make_request(con, req, strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST :
	    EVHTTP_REQ_GET, path) != 0) {
		req = NULL;   /* freed by evhttp on failure */
		rc = tw_error_set(err, TW_E_IO, "cannot send the request to %s", conf->api);
		goto out;
	}
	req = NULL;   /* owned by the connection now */
	event_base_dispatch(base);
	if (!r.done || r.failed) {
		rc = tw_error_set(err, TW_E_TLS, "no answer from %s: is the api running with "
			"[api] tls_listen, and are --cert/--key an operator certificate of this "
			"home's operator CA (--ca)?", conf->api);
		goto out;
	}
	*status = r.status;
	*resp = json_loadb(r.body.data != NULL ? (const char *)r.body.data : "", r.body.len, 0,
		&jerr);
	if (*resp == NULL)
		rc = tw_error_set(err, TW_E_PROTOCOL, "the api answered %d without JSON", r.status);
out:
	if (text != NULL) {
		tw_wipe(text, strlen(text));
		free(text);
	}
	if (con != NULL)
		evhttp_connection_free(con);
	SSL_free(ssl);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(ctx);
	tw_buf_free(&r.body);
	free(host);
	return rc;
}

char *auth_client_default_session_path(void)
{
	const char *home = getenv("HOME");

	if (home == NULL || home[0] == '\0')
		return NULL;
	return tw_asprintf("%s/.config/torwart/session.json", home);
}

tw_rc auth_client_save(const char *path, const struct auth_client_conf *conf,
	struct tw_error *err)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "api", conf->api, "cert", conf->cert,
		"key", conf->key, "ca", conf->ca, "token", conf->token);
	char *text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
	char *dir = tw_strdup(path), *slash;
	tw_rc rc;

	if (text == NULL || dir == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = tw_mkdir_p(dir, 0700, err)) != TW_OK)
			goto out;
	}
	rc = tw_write_file(path, text, strlen(text), 0600, false, err);
out:
	if (text != NULL) {
		tw_wipe(text, strlen(text));
		free(text);
	}
	json_decref(j);
	free(dir);
	return rc;
}

static tw_rc cl_member(json_t *j, const char *key, char *dst, size_t size,
	struct tw_error *err)
{
	const char *v = json_string_value(json_object_get(j, key));

	if (v == NULL || strlen(v) >= size)
		return tw_error_set(err, TW_E_INVALID, "the session file lacks a valid \"%s\"; "
			"log in again with torwart login", key);
	memcpy(dst, v, strlen(v) + 1);
	return TW_OK;
}

tw_rc auth_client_load(const char *path, struct auth_client_conf *conf, struct tw_error *err)
{
	unsigned char *data = NULL;
	size_t len = 0;
	json_t *j = NULL;
	struct stat st;
	tw_rc rc;

	memset(conf, 0, sizeof(*conf));
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		return tw_error_set(err, TW_E_DENIED, "%s is readable by others; it holds a "
			"session token: chmod 600 it or log in again", path);
	if ((rc = tw_read_file(path, 64 * 1024, &data, &len, err)) != TW_OK) {
		tw_error_set(err, rc, "no session (%s); log in first with torwart login", path);
		goto out;
	}
	if ((j = json_loadb((const char *)data, len, 0, NULL)) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is not a session file", path);
		goto out;
	}
	if ((rc = cl_member(j, "api", conf->api, sizeof(conf->api), err)) != TW_OK ||
	    (rc = cl_member(j, "cert", conf->cert, sizeof(conf->cert), err)) != TW_OK ||
	    (rc = cl_member(j, "key", conf->key, sizeof(conf->key), err)) != TW_OK ||
	    (rc = cl_member(j, "ca", conf->ca, sizeof(conf->ca), err)) != TW_OK ||
	    (rc = cl_member(j, "token", conf->token, sizeof(conf->token), err)) != TW_OK)
		goto out;
out:
	if (data != NULL) {
		tw_wipe(data, len);
		free(data);
	}
	json_decref(j);
	return rc;
}
