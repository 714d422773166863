/*
 * wan_monitor.h: the monitoring routes of wan (wan_monitor.c): POST /v1/alarms, through
 * which a gateway delivers an alarm or notification and gets it acknowledged
 * (UC-3.2.3, T-AB.1; docs/wan-protocol.md "Alarms and notifications").
 */
#ifndef TORWART_WAN_WAN_MONITOR_H
#define TORWART_WAN_WAN_MONITOR_H

#include <stdbool.h>

#include <event2/http.h>
#include <openssl/ssl.h>

#include "wan/wan_internal.h"

/* Handle req if path is a monitoring route (answering it); false: not ours. */
bool wan_monitor_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path);

#endif
