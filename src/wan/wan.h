/*
 * wan.h: the SMGW-facing service (`torwartd wan`).
 *
 * libevent, one event loop per core (SO_REUSEPORT listeners), TLS per crypto/tls.h,
 * gateways identified by their client certificate and looked up in the inventory,
 * HTTP/1.1 + JSON protocol of docs/wan-protocol.md. Refusals are logged with a reason.
 *
 * Configuration ([wan] in torwart.conf): listen, threads (0 = one per core), cert, key,
 * chain, trust (paths relative to the home), session_lifetime (s, <= 48 h),
 * max_connections, timeout (s, idle/read timeout per connection, default 30).
 */
#ifndef TORWART_WAN_WAN_H
#define TORWART_WAN_WAN_H

#include <stdint.h>

#include "base/error.h"
#include "base/home.h"

struct wan_server;

/*
 * Bind the listeners, open one store connection per loop, start the loops and return.
 * The caller stops the server with wan_server_stop. home need only outlive this call.
 */
tw_rc wan_server_start(const struct tw_home *home, struct wan_server **out,
	struct tw_error *err);
/* The port actually listened on. */
uint16_t wan_server_port(const struct wan_server *srv);
/*
 * Stop every loop, close connections, flush queued admin-log entries and last-contact
 * updates, close the stores and free srv. Call from one thread; NULL is fine.
 */
void wan_server_stop(struct wan_server *srv);

/* Serve until SIGTERM/SIGINT (start, sigwait, stop). */
tw_rc wan_run(const struct tw_home *home, struct tw_error *err);

#endif
