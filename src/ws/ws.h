/*
 * ws.h: the BSI Sub-CA web service (TR-03129-4 v1.3.1), server side, for SM-PKI
 * participants (DOMAIN.md S-2, S-4): SOAP 1.1 document/literal over HTTPS with mutual
 * TLS in the TR-03116-3 profile, on its own listener ([ws] listen) inside the api process
 * (DESIGN.md puts the SOAP service there; see docs/pki-services.md for why and for the
 * operations, configuration and return codes).
 *
 * The caller is identified by its TLS client certificate alone: a TLS certificate of this
 * Sub-CA, status valid, owned by a registered participant. Every request, answered or
 * refused, is one admin-log entry "ws.<Operation>" with actor "participant:<name>".
 */
#ifndef TORWART_WS_WS_H
#define TORWART_WS_WS_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct ws_service;

/*
 * Start the listener on base when [ws] listen is set; *out stays NULL (and TW_OK) when
 * it is not. A set listen without a usable [ws] wsdl is TW_E_CONFIG (the service never
 * runs without its schema). home and store are borrowed. Free with ws_service_free.
 */
tw_rc ws_service_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct ws_service **out, struct tw_error *err);
void ws_service_free(struct ws_service *ws);

#endif
