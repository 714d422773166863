/*
 * bev_coalesce.h: one TLS record (and one write) per small message of a TLS bufferevent.
 *
 * libevent 2.1's bufferevent_openssl hands OpenSSL one SSL_write per chain of its output
 * buffer, and evhttp puts an HTTP message's header block and its body into separate
 * chains. A small request or answer therefore went out as two TLS records in two writes,
 * and the peer read each record with two read calls (OpenSSL reads the record header,
 * then the record) on two turns of its loop. With this callback on the output buffer, a
 * buffer of at most BEV_COALESCE_MAX bytes in more than one chain is made one chain as
 * soon as something is added, so the message goes out as one record in one write.
 * Larger buffers (firmware downloads) are left as they are. The bytes on the wire, in
 * their order, are unchanged: only the record boundaries move.
 */
#ifndef TORWART_NET_BEV_COALESCE_H
#define TORWART_NET_BEV_COALESCE_H

#include <stdbool.h>

#include <event2/bufferevent.h>

/* One TLS record's plaintext at most (RFC 5246 6.2.1): a larger buffer is two anyway. */
#define BEV_COALESCE_MAX 16384

/* Install on bev's output buffer (before anything is written). False: not installed. */
bool bev_coalesce_writes(struct bufferevent *bev);

#endif
