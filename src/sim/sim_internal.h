/*
 * sim_internal.h: what the simulator's files share (not a public interface).
 *
 *   sim.c         engine: gateways, the visit state machine (session, orders, results)
 *   sim_state.c   per-gateway state on disk (state.json), GWA certificate cache, keys
 *   sim_wakeup.c  UDP wake-ups: parse, verify, replay guard; the daemon loop
 *   sim_orders.c  order handlers (sim_orders.h)
 *   sim_tls.c     TLS client set-up: shared contexts, per-gateway certificate and key
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
#define SIM_TLS_FILES        4      /* tls.crt, tls.key, chain.pem, root-ca.crt */

struct sim_tls_shared;

/* What tells a file replaced on disk from the one loaded (sim_tls.c). */
struct sim_file_id {
	uint64_t dev, ino;
	int64_t size, mtime_ns;
};

struct sim_gateway {
	struct sim_gw pub;                   /* what order handlers see */
	char id[WAN_GATEWAY_ID_MAX + 1];
	unsigned rounds_done;
	unsigned ok, failed, resumed;
	/* TLS identity, parsed once and kept until the files change (sim_tls.c) */
	X509 *tls_cert;
	EVP_PKEY *tls_key;
	struct sim_tls_shared *tls_shared;   /* context + chain; owned by sim_state */
	struct sim_file_id tls_files[SIM_TLS_FILES];
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
	/* shared client contexts, one per distinct trust anchor + chain (sim_tls.c) */
	struct sim_tls_shared **tls;
	size_t tls_n;
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

/* sim_tls.c */
/*
 * A new client connection for gw: the shared context of its trust anchor, its own
 * certificate, key and chain. Parses the gateway's files on first use and again after
 * they changed on disk (then its saved session is dropped too). Caller frees the SSL.
 */
tw_rc sim_tls_ssl_new(struct sim_state *st, struct sim_gateway *gw, SSL **out,
	struct tw_error *err);
/* Forget gw's parsed certificate and key (new credentials: reload on the next visit). */
void sim_tls_identity_drop(struct sim_gateway *gw);
/* Free the shared contexts (at teardown, after every connection is gone). */
void sim_tls_cache_free(struct sim_state *st);

/* sim_wakeup.c */
/* Check one datagram; on acceptance the gateway is queued for a visit. */
void sim_wakeup_datagram(struct sim_state *st, const unsigned char *buf, size_t len);

#endif
