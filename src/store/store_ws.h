/*
 * store_ws.h: the web service's own table (migration 0009): the administering GWA of
 * each gateway (ws_device_admin). Owner: src/ws. Names are participant names
 * (store_ca_participant.name); checked by the callers, stored as given.
 */
#ifndef TORWART_STORE_STORE_WS_H
#define TORWART_STORE_STORE_WS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* The GWA administering device into admin (size bytes). TW_E_NOT_FOUND when none. */
tw_rc store_ws_device_admin_get(struct tw_store *store, const char *device, char *admin,
	size_t size, struct tw_error *err);
/*
 * Set device's administrator. expected: the administrator the caller read (NULL: there
 * must be none yet); TW_E_EXISTS when the row changed meanwhile, so two concurrent
 * changes cannot both win. by: the actor, for the row.
 */
tw_rc store_ws_device_admin_set(struct tw_store *store, const char *device,
	const char *expected, const char *admin, int64_t now_ms, const char *by,
	struct tw_error *err);

#endif
