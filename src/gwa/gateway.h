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
/*
 * An id taken by any gateway (of this or another tenant) is refused with the one message
 * GATEWAY_TAKEN_MSG, before anything is signed, so that a tenant-scoped caller learns no
 * more about another tenant's inventory than "this id cannot be used".
 * When seal is not NULL (a command the api runs: its output directory lies in the api's
 * spool), each private key is written sealed (crypto/secretbox.h, associated data
 * GATEWAY_SEALED_AAD) as NAME.key.sealed instead of NAME.key: no key material is ever
 * in the spool in clear; the api opens it only to send it to the operator.
 */
#define GATEWAY_TAKEN_MSG "gateway %s cannot be registered: the id is already in use"
#define GATEWAY_SEALED_SUFFIX ".sealed"
#define GATEWAY_SEALED_AAD "torwart-api-spool-key"
struct secretbox;
void gateway_seal_keys(const struct secretbox *seal);
tw_rc gateway_provision(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *gateway_id, const char *out_dir,
	const char *actor, struct tw_error *err);

/*
 * `gateway set` (tags, tenant, wake-up address: what fleet selection and wake-ups need).
 * The selection names exactly one of: gateway (one id), gateways ("all" or "ID,ID,..."),
 * tag, tenant; the first non-NULL in that order is used. A change field NULL is left
 * unchanged; wakeup "none" clears the address; move_tenant names a tenant, created when
 * absent.
 */
struct gateway_selection {
	const char *gateway, *gateways, *tag, *tenant;
};
struct gateway_change {
	const char *add_tag, *remove_tag, *wakeup, *move_tenant;
};

/*
 * Applies ch to every selected gateway in one store transaction: all change together
 * or none does. Each changed gateway gets a "gateway.set" admin-log entry by
 * (actor, role, client); a refusal after the transaction began is rolled back and logged
 * as "refused" (object: the gateway id or "selection"). Removing an absent tag is not an
 * error. TW_E_NOT_FOUND when the selection matches no gateway. *n (may be NULL) is the
 * number of gateways changed.
 */
tw_rc gateway_set(struct tw_store *store, const struct gateway_selection *sel,
	const struct gateway_change *ch, const char *actor, const char *role,
	const char *client, size_t *n, struct tw_error *err);

#endif
