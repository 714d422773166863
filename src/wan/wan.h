/*
 * wan.h: the SMGW-facing service (`torwartd wan`).
 *
 * libevent, one event loop per core (SO_REUSEPORT listeners), TLS per crypto/tls.h,
 * gateways identified by their client certificate and looked up in the inventory,
 * HTTP/1.1 + JSON protocol of docs/wan-protocol.md. Refusals are logged with a reason.
 */
#ifndef TORWART_WAN_WAN_H
#define TORWART_WAN_WAN_H

#include "base/error.h"
#include "base/home.h"

/* Serve until SIGTERM/SIGINT. */
tw_rc wan_run(const struct tw_home *home, struct tw_error *err);

#endif
