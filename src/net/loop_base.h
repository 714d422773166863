/*
 * loop_base.h: the event base of a connection-serving loop (wan threads, simulator).
 *
 * libevent's epoll backend makes one epoll_ctl per change of a descriptor's events.
 * A TLS connection served by bufferevent_openssl and evhttp switches its descriptor
 * between reading and writing several times per request (handshake steps, request, answer,
 * close), so a resumed session cost about 22 epoll_ctl calls (both ends, strace -c of
 * bench_handshake --resumed-only). With EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST the changes
 * of one turn of the loop are merged and applied once before epoll_wait: a change undone
 * in the same turn costs nothing. libevent's one caveat for the flag is descriptors cloned
 * by dup() registered in the same base; these loops register none. A closed descriptor
 * whose number comes back in the same turn is handled by libevent (MOD fails with ENOENT
 * and is retried as ADD). Other backends ignore the flag.
 */
#ifndef TORWART_NET_LOOP_BASE_H
#define TORWART_NET_LOOP_BASE_H

#include <event2/event.h>

/* A new event base with the epoll change list; falls back to event_base_new(). NULL: out
 * of memory. The caller owns it (event_base_free). */
struct event_base *loop_base_new(void);

#endif
