/*
 * policy_admin.h: changing the security policy ([auth] in torwart.conf) as an operator
 * (`torwart policy set`, four-eyes action "policy.change", M-4.5.6.6). The change is
 * validated as a whole (the new file must parse and its [auth] section must load with
 * auth_settings_load, which keeps the mandatory four-eyes actions), written atomically,
 * and logged with the old and the new value. The api reloads [auth] when the file
 * changes (api_operator.c).
 */
#ifndef TORWART_AUTH_POLICY_ADMIN_H
#define TORWART_AUTH_POLICY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "base/config.h"
#include "base/error.h"
#include "store/store.h"

/* True for the [auth] keys `policy set` may change. */
bool auth_policy_key_known(const char *key);

/*
 * Set [auth] key = value in the configuration file conf_path and append a
 * "policy.change" admin-log entry as who (actor/role/client of who; action, object,
 * result and detail are filled here). TW_E_INVALID for an unknown key or a value the
 * policy refuses (nothing changed); TW_E_IO if the file cannot be written. old receives
 * the previous value ("(default)" when the key was absent).
 */
tw_rc auth_policy_set(const char *conf_path, struct tw_store *store,
	const struct audit_entry *who, const char *key, const char *value, char *old,
	size_t old_size, struct tw_error *err);

/* Print the effective [auth] settings of conf_path to f, one "key = value" per line. */
tw_rc auth_policy_show(const char *conf_path, FILE *f, struct tw_error *err);

/*
 * Detect policy changes that bypassed `policy set` (someone edited torwart.conf): the
 * SHA-256 of the effective [auth] policy of conf is compared with the digest the admin
 * log last recorded (admin-log cursor "policy": the last policy.change or policy.loaded
 * entry). Same: nothing. None recorded yet: a "policy.loaded" entry (result ok).
 * Different: a "policy.loaded" entry with result "changed-outside-api" and a
 * policy-drift alert to the security officers; *drift (may be NULL) says which.
 * actor names the service that loads the policy ("system:api").
 */
tw_rc auth_policy_record(struct tw_store *store, const struct tw_config *conf,
	const char *actor, bool *drift, struct tw_error *err);

#endif
