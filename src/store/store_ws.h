/*
 * store_ws.h: the web service's own table (migration 0009): the administering GWA of
 * each gateway (ws_device_admin). Owner: src/ws. Names are participant names
 * (store_ca_participant.name); checked by the callers, stored as given.
 */
#ifndef TORWART_STORE_STORE_WS_H
#define TORWART_STORE_STORE_WS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* The GWA administering device into admin (size bytes). TW_E_NOT_FOUND when none. */
tw_rc store_ws_device_admin_get(struct tw_store *store, const char *device, char *admin,
	size_t size, struct tw_error *err);
/*
 * Set device's administrator. expected: the administrator the caller read (NULL: there
 * must be none yet); TW_E_EXISTS when the row changed meanwhile, so two concurrent
 * changes cannot both win. by: the actor, for the row.
 */
tw_rc store_ws_device_admin_set(struct tw_store *store, const char *device,
	const char *expected, const char *admin, int64_t now_ms, const char *by,
	struct tw_error *err);

/* ---- participants' SendCertificates endpoints (ws_endpoints) ---- */

#define STORE_WS_URL_MAX 256

/* Insert or replace participant's endpoint. */
tw_rc store_ws_endpoint_set(struct tw_store *store, const char *participant, const char *url,
	int64_t now_ms, const char *by, struct tw_error *err);
/* TW_E_NOT_FOUND when participant registered none. */
tw_rc store_ws_endpoint_get(struct tw_store *store, const char *participant, char *url,
	size_t size, struct tw_error *err);

/* ---- the outbox of asynchronous answers (ws_outbox) ---- */

struct store_ws_outbox {
	int64_t id;
	int64_t request_id;                  /* ca_requests.id */
	char participant[STORE_ID_MAX + 1];
	char message_id[STORE_ID_MAX + 1];
	char state[16];                      /* waiting, ready, delivered, failed */
	char status[48];                     /* the statusInfo to send (WSDL code) */
	int64_t attempts;
	int64_t next_ms;
	char last_error[STORE_TEXT_MAX + 1];
	int64_t created_ms;
	int64_t done_ms;
};

/* A new 'waiting' entry. TW_E_EXISTS when request_id has one. */
tw_rc store_ws_outbox_insert(struct tw_store *store, int64_t request_id,
	const char *participant, const char *message_id, int64_t now_ms, struct tw_error *err);
typedef int (*store_ws_outbox_cb)(const struct store_ws_outbox *o, void *arg);
/*
 * Entries in state (NULL: all) with next_ms <= due_ms (0: any), oldest first, at most
 * limit (0: no limit). A non-zero return of cb stops the walk.
 */
tw_rc store_ws_outbox_foreach(struct tw_store *store, const char *state, int64_t due_ms,
	size_t limit, store_ws_outbox_cb cb, void *arg, struct tw_error *err);
/* Write o's state, status, attempts, next_ms, last_error, done_ms (by o->id). */
tw_rc store_ws_outbox_update(struct tw_store *store, const struct store_ws_outbox *o,
	struct tw_error *err);
/* Up to max serials (lower-case hex, STORE_ID_MAX + 1 bytes each) issued for request_id. */
tw_rc store_ws_request_serials(struct tw_store *store, const char *issuer, int64_t request_id,
	char (*serials)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err);

/* ---- requests this home sent to a remote Sub-CA (ws_client_requests) ---- */

struct store_ws_client_request {
	char message_id[STORE_ID_MAX + 1];
	char remote[STORE_ID_MAX + 1];       /* [ws.remote.NAME] */
	char state[16];                      /* pending, received, failed */
	char status[48];
	unsigned char *certs;                /* owned: concatenated DER certificates */
	size_t certs_len;
	int64_t created_ms;
	int64_t done_ms;
};

void store_ws_client_request_clear(struct store_ws_client_request *r);
tw_rc store_ws_client_insert(struct tw_store *store, const char *message_id,
	const char *remote, int64_t now_ms, struct tw_error *err);
/* TW_E_NOT_FOUND when unknown. */
tw_rc store_ws_client_get(struct tw_store *store, const char *message_id,
	struct store_ws_client_request *out, struct tw_error *err);
/*
 * pending -> state ('received' or 'failed') with status and certificates. TW_E_NOT_FOUND
 * when message_id is unknown, TW_E_EXISTS when it is no longer pending.
 */
tw_rc store_ws_client_finish(struct tw_store *store, const char *message_id,
	const char *state, const char *status, const unsigned char *certs, size_t certs_len,
	int64_t now_ms, struct tw_error *err);

#endif
