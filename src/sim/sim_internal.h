/*
 * sim_internal.h: what the simulator's files share (not a public interface).
 *
 *   sim.c         engine: gateways, the visit state machine (session, orders, results)
 *   sim_state.c   per-gateway state on disk (state.json), GWA certificate cache, keys
 *   sim_wakeup.c  UDP wake-ups: parse, verify, replay guard; the daemon loop
 *   sim_orders.c  order handlers (sim_orders.h)
 */
#ifndef TORWART_SIM_SIM_INTERNAL_H
#define TORWART_SIM_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "sim/sim.h"
#include "sim/sim_orders.h"
#include "net/wan_message.h"

#define SIM_ERROR_MAX        200
#define SIM_NONCES           8
#define SIM_DONE_ORDERS      16     /* executed order ids remembered per gateway */

struct sim_gateway {
	struct sim_gw pub;                   /* what order handlers see */
	char id[WAN_GATEWAY_ID_MAX + 1];
	unsigned rounds_done;
	unsigned ok, failed, resumed;
	SSL_CTX *ctx;                        /* while a visit runs (or rounds remain) */
	SSL_SESSION *session;                /* last session, for resume */
	char first_error[SIM_ERROR_MAX];
	bool queued;                         /* in the visit queue or in flight */
	bool revisit;                        /* woken again during a visit */
	bool loaded;                         /* id read; state loaded */
	bool proof_pending;                  /* new TLS credentials not yet used in a session */
	int64_t next_contact_ms;             /* daemon: periodic contact */
	unsigned char nonces[SIM_NONCES][16];/* replay guard (with state's last wake-up) */
	unsigned nonce_next;
};

struct sim_state {
	const struct sim_options *opt;
	struct event_base *base;
	char *host;
	uint16_t port;
	bool host_is_ip;
	bool daemon;
	unsigned rounds;
	unsigned concurrency;
	unsigned max_orders;
	struct sim_gateway *gws;
	size_t n;
	size_t *queue;                       /* ring of gateway indices, capacity n */
	size_t qhead, qcount;
	unsigned in_flight;
	struct sim_result *res;
	/* id -> index (open addressing), for wake-up demultiplexing */
	size_t *index;
	size_t index_cap;
};

/* sim.c */
void sim_enqueue(struct sim_state *st, size_t idx);
void sim_pump(struct sim_state *st);
tw_rc sim_state_setup(struct sim_state *st, const struct sim_options *opt,
	struct sim_result *res, bool daemon, struct tw_error *err);
void sim_state_teardown(struct sim_state *st);
/* Gateway index for id, or (size_t)-1. */
size_t sim_lookup(struct sim_state *st, const char *id);
bool sim_roll(unsigned percent);

/* sim_state.c */
/* Read DIR/id and DIR/state.json (created empty if absent). */
tw_rc sim_gw_load(struct sim_gateway *gw, struct tw_error *err);
/* Write DIR/state.json atomically (temporary file + rename). */
tw_rc sim_gw_save(struct sim_gateway *gw, struct tw_error *err);
void sim_gw_free(struct sim_gateway *gw);
/* The public key of DIR/gwa-sig.crt and its CN (cached across gateways); borrowed. */
tw_rc sim_gwa_key(struct sim_gateway *gw, EVP_PKEY **pub, const char **gwa_id,
	struct tw_error *err);
void sim_gwa_cache_free(void);
/* Cached result of an executed order (new reference) or NULL. */
json_t *sim_done_get(struct sim_gateway *gw, int64_t id);
tw_rc sim_done_put(struct sim_gateway *gw, int64_t id, bool ok, json_t *answer,
	struct tw_error *err);

/* sim_wakeup.c */
/* Check one datagram; on acceptance the gateway is queued for a visit. */
void sim_wakeup_datagram(struct sim_state *st, const unsigned char *buf, size_t len);

#endif
