/*
 * store_crl_push.c: queries of the automatic CRL push (store_crl_push.h).
 */
#include "store/store_crl_push.h"

#include "store/db.h"

static const char SQL_CP_DUE[] = "SELECT g.gateway_id FROM gateways g "
	"WHERE g.tenant_id = ?1 AND g.state <> 'disabled' AND NOT EXISTS (SELECT 1 FROM jobs j "
	"WHERE j.type = 'crl-update' AND j.gateway_id = g.gateway_id AND (j.created_ms >= ?2 "
	"OR j.state IN ('created', 'waking', 'awaiting-connection', 'sent'))) "
	"ORDER BY g.gateway_id LIMIT ?3";

tw_rc store_crl_push_due(struct tw_store *store, int64_t tenant_id, int64_t since_ms,
	char (*ids)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err)
{
	struct db *d = store_db(store, err);

	if (n != NULL)
		*n = 0;
	if (d == NULL)
		return err != NULL ? err->code : TW_E_INTERNAL;
	if (ids == NULL || n == NULL || max == 0)
		return tw_error_set(err, TW_E_INTERNAL, "store_crl_push_due: bad arguments");
	return db_text_list(d, SQL_CP_DUE, ids[0], sizeof(ids[0]), max, n, "gateway id",
		"reading gateways due for a CRL push", err, "iii", tenant_id, since_ms,
		(int64_t)max);
}
