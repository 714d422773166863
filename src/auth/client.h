/*
 * client.h: the command line's side of the operator API: one HTTPS request with the
 * operator's client certificate (libevent evhttp over bufferevent_openssl, so we write
 * no HTTP parser), and the session file that `torwart login` writes.
 */
#ifndef TORWART_AUTH_CLIENT_H
#define TORWART_AUTH_CLIENT_H

#include <jansson.h>

#include "auth/cred.h"
#include "base/error.h"

/* Forwarded commands return their output and files (auth/command.h limits). */
#define AUTH_CLIENT_RESPONSE_MAX (64 * 1024 * 1024)

struct auth_client_conf {
	char api[256];          /* https://HOST:PORT */
	char cert[1024];        /* operator certificate (PEM) */
	char key[1024];         /* its private key (PEM) */
	char ca[1024];          /* operator CA certificate: the server must chain to it */
	char token[AUTH_TOKEN_LEN + 1];   /* "" before login; wipe after use */
	int timeout_s;          /* seconds without progress before giving up; 0 = 30 */
};

/*
 * method "GET"/"POST", path "/v1/...", body NULL or a JSON object (sent compact),
 * token used as Bearer when conf->token is set. *status is the HTTP status, *resp the
 * parsed JSON answer (caller decrefs). A TLS or network failure is TW_E_TLS/TW_E_IO
 * with what to check; an answer that is not JSON is TW_E_PROTOCOL.
 */
tw_rc auth_client_call(const struct auth_client_conf *conf, const char *method,
	const char *path, const json_t *body, int *status, json_t **resp, struct tw_error *err);

/* ~/.config/torwart/session.json (caller frees), or NULL without $HOME. */
char *auth_client_default_session_path(void);
/* Write conf as the session file (mode 0600, directory 0700). */
tw_rc auth_client_save(const char *path, const struct auth_client_conf *conf,
	struct tw_error *err);
/* Read a session file written by auth_client_save. */
tw_rc auth_client_load(const char *path, struct auth_client_conf *conf, struct tw_error *err);

#endif
