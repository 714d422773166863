/*
 * gateway.h: the gateway inventory (owner of the gateways and tenants tables) and
 * pre-personalisation of test gateways (`torwart gateway add`).
 */
#ifndef TORWART_GWA_GATEWAY_H
#define TORWART_GWA_GATEWAY_H

#include <stdbool.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

#define GATEWAY_DEFAULT_TENANT "default"

/* SMGW ids: 1..64 characters of [A-Za-z0-9._-]. */
bool gateway_id_valid(const char *id);

/*
 * Register gateway_id in the inventory and write its TLS/SIG/ENC keys and certificates
 * (issued by the Sub-CA through the signer, SMGW profile) plus chain.pem, root-ca.crt
 * and id into out_dir (created; must not exist), as a manufacturer would. Inventory rows,
 * certificates and the audit entry commit together; on failure nothing is registered.
 */
tw_rc gateway_provision(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *gateway_id, const char *out_dir,
	const char *actor, struct tw_error *err);

#endif
