/*
 * store_crl_push.h: the queries of the automatic CRL push to gateways (issue 12,
 * UC-3.3.3; gwa/crl_push.h). No table of its own: it reads gateways and jobs (index
 * jobs_type_gateway, migration crl_push).
 */
#ifndef TORWART_STORE_STORE_CRL_PUSH_H
#define TORWART_STORE_STORE_CRL_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/*
 * The gateways of tenant_id (not disabled) that have no crl-update job open and none
 * created at or after since_ms: the ones a push is due for. At most max ids, in id order,
 * into ids; *n says how many.
 */
tw_rc store_crl_push_due(struct tw_store *store, int64_t tenant_id, int64_t since_ms,
	char (*ids)[STORE_ID_MAX + 1], size_t max, size_t *n, struct tw_error *err);

#endif
