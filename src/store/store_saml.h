/*
 * store_saml.h: the SAML login's tables (migration "saml"): the identity provider of
 * each context (tenant) and the replay cache of assertion IDs (auth/saml_login.h).
 */
#ifndef TORWART_STORE_STORE_SAML_H
#define TORWART_STORE_STORE_SAML_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_SAML_TEXT_MAX 256          /* entity ids, assertion IDs */
#define STORE_SAML_PEM_MAX  (16 * 1024)  /* one certificate in PEM */

struct store_saml_idp {
	int64_t tenant_id;
	char entity_id[STORE_SAML_TEXT_MAX + 1];
	char *cert_pem;                      /* owned; store_saml_idp_clear frees it */
	char fingerprint[65];
	int64_t not_after;                   /* seconds */
	int64_t updated_ms;
};

void store_saml_idp_clear(struct store_saml_idp *idp);

/* Set (insert or replace) the identity provider of idp->tenant_id. */
tw_rc store_saml_idp_put(struct tw_store *store, const struct store_saml_idp *idp,
	struct tw_error *err);
/* TW_E_NOT_FOUND when the context has none. */
tw_rc store_saml_idp_get(struct tw_store *store, int64_t tenant_id, struct store_saml_idp *out,
	struct tw_error *err);
/* TW_E_NOT_FOUND when the context has none. */
tw_rc store_saml_idp_delete(struct tw_store *store, int64_t tenant_id, struct tw_error *err);

/*
 * Remember assertion_id of entity_id until expires_ms, after dropping every expired
 * entry (now_ms). TW_E_EXISTS when it is remembered already: a replay.
 */
tw_rc store_saml_replay_use(struct tw_store *store, const char *entity_id,
	const char *assertion_id, int64_t expires_ms, int64_t now_ms, struct tw_error *err);

#endif
