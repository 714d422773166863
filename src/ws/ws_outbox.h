/*
 * ws_outbox.h: the CA's asynchronous answers (TR-03129-4 SendCertificates callbacks),
 * delivered by the worker process from the persistent outbox (ws_outbox table,
 * store_ws.h). See docs/pki-services.md "Asynchronous path" and docs/architecture.md
 * for why the worker sends.
 *
 * Every [ws] outbox_interval seconds (default 2): entries 'waiting' whose CA request was
 * issued become 'ready' with ok_cert_available, rejected ones with
 * failure_request_not_accepted; then the oldest due 'ready' entry is POSTed (one at a
 * time) to the participant's registered endpoint over mutual TLS ([ws] client_cert /
 * client_key, default the GWA TLS certificate). Delivered = the endpoint presented the
 * participant's own valid TLS certificate of this Sub-CA and answered
 * ok_received_correctly; anything else is a failed attempt, retried after
 * outbox_backoff * 2^(attempts-1) seconds (capped at outbox_backoff_max), 'failed' after
 * outbox_max_attempts. Every attempt and state change is one admin-log entry
 * ws.outbox.deliver / ws.outbox.ready, committed with the row. A crash or kill between
 * sending and recording leaves the entry 'ready': it is sent again (at least once; the
 * participant recognises the messageID).
 */
#ifndef TORWART_WS_WS_OUTBOX_H
#define TORWART_WS_WS_OUTBOX_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct ws_outbox;

/* Start on base when [ws] listen is set (the CA side is on); *out NULL otherwise. */
tw_rc ws_outbox_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct ws_outbox **out, struct tw_error *err);
void ws_outbox_stop(struct ws_outbox *ob);

#endif
