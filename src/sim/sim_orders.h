/*
 * sim_orders.h: the order-handler registry of the SMGW simulator (issue 4).
 *
 * When a simulated gateway fetches an order (GET /v1/orders, docs/wan-protocol.md) the
 * engine looks up the handler for its "type" and calls execute(). A handler works on
 * the gateway's persistent state, a JSON object that the engine keeps in
 * DIR/state.json (so it survives restarts of the simulator):
 *
 *   - each area owns one member of gw->state ("profiles", "retention", "logs", ...)
 *     and may create it; it must not touch other members;
 *   - on TW_OK the engine saves the state (atomically: temporary file + rename) and
 *     answers {"status":"ok","result": *result};
 *   - on failure the engine restores the state as it was before execute (nothing
 *     half-applied) and answers {"status":"error","error":{"code": code,
 *     "message": err->message}} where code is the [a-z_]+ code the handler put in
 *     *code (static string; NULL = "failed").
 *
 * An order type without a handler is answered with code "unknown_order".
 *
 * Gateway-initiated messages (alarms, notifications) and the session "status" object
 * use the status providers below: before POST /v1/session the engine asks every
 * provider for its member of "status".
 *
 * Registration: built-in handlers in sim_orders.c's table (each area adds one line
 * there with its extern); sim_order_register() adds more before sim_run/sim_daemon.
 */
#ifndef TORWART_SIM_SIM_ORDERS_H
#define TORWART_SIM_SIM_ORDERS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"

#define SIM_ORDER_REGISTRY_MAX 64

/* One simulated gateway, as the handlers see it. */
struct sim_gw {
	const char *dir;           /* gateway directory (gwa/gateway.h layout); borrowed */
	const char *id;            /* SMGW id */
	json_t *state;             /* persistent state object (DIR/state.json); engine-owned */
	EVP_PKEY *sig_key;         /* lazily loaded by sim_gw_sig_key; engine-owned */
	unsigned faults;           /* enum sim_fault bits active for this gateway */
	/* A handler installed new TLS credentials (sim_renewal.c): the engine drops its TLS
	 * context and saved session after this visit, so the next one uses them. */
	bool reload_tls;
};

/*
 * The gateway's SIG private key (DIR/sig.key), for signing log entries and reports.
 * Borrowed; loaded on first use, freed by the engine. NULL with err set on failure.
 */
EVP_PKEY *sim_gw_sig_key(struct sim_gw *gw, struct tw_error *err);

struct sim_order_handler {
	const char *type;          /* order type name, as on the GWA side (gwa/order.h) */
	/* *result: a new JSON object owned by the caller (the engine). */
	tw_rc (*execute)(struct sim_gw *gw, const json_t *payload, json_t **result,
		const char **code, struct tw_error *err);
};

struct sim_status_provider {
	const char *member;        /* member of the session "status" object */
	/* *value: new reference owned by the caller; *value = NULL means "leave it out". */
	tw_rc (*report)(struct sim_gw *gw, json_t **value, struct tw_error *err);
};

const struct sim_order_handler *sim_order_find(const char *type);
tw_rc sim_order_register(const struct sim_order_handler *h, struct tw_error *err);
tw_rc sim_status_register(const struct sim_status_provider *p, struct tw_error *err);
/* Calls cb for every status provider (built-ins first). */
void sim_status_foreach(void (*cb)(const struct sim_status_provider *p, void *arg),
	void *arg);

/*
 * Run the handler for type on gw with the all-or-nothing state rule above. On success
 * *result is set (caller owns); on failure *code and err say why.
 */
tw_rc sim_order_execute(struct sim_gw *gw, const char *type, const json_t *payload,
	json_t **result, const char **code, struct tw_error *err);

/* Built-in handlers of the jobs area. */
extern const struct sim_order_handler sim_order_ping;
extern const struct sim_order_handler sim_order_set_retention;
extern const struct sim_order_handler sim_order_cls_connect;   /* UC-3.2.4 */
/* UC-3.3.3 certificate renewal (sim_renewal.c). */
extern const struct sim_order_handler sim_order_cert_request;
extern const struct sim_order_handler sim_order_cert_install;
/* CRL distribution (sim_renewal.c): the gateway applies CRLs of its SM-PKI. */
extern const struct sim_order_handler sim_order_crl_update;
/* cert chains to the gateway's root (DIR/root-ca.crt, DIR/chain.pem); sim_renewal.c. */
tw_rc sim_verify_chain(struct sim_gw *gw, X509 *cert, struct tw_error *err);
/* The GWA's new SIG certificate after a SIG rotation (sim_gwa_cert.c). */
extern const struct sim_order_handler sim_order_gwa_cert_update;
/* True when cert is revoked by a CRL the gateway holds (state "crls"). */
bool sim_crl_revoked(struct sim_gw *gw, X509 *cert);
extern const struct sim_order_handler sim_order_taf_request;   /* UC-3.5.3-5 (sim_metering.c) */

#endif
