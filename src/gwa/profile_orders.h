/*
 * profile_orders.h: the order types and session hooks of profile management and
 * monitoring (registered in gwa/order.c's tables), and their process set-up.
 *
 *   profile-insert, profile-delete, profile-read   (profile_orders.c, UC-3.3.2)
 *   self-test, log-read                            (monitor_orders.c, UC-3.4.2/3.4.3)
 *   session hooks "profiles" (T-PV.3) and "alarms" (UC-3.2.3, T-AB.1)
 */
#ifndef TORWART_GWA_PROFILE_ORDERS_H
#define TORWART_GWA_PROFILE_ORDERS_H

#include "base/error.h"
#include "base/home.h"
#include "gwa/order.h"
#include "crypto/secretbox.h"

/*
 * Load what the hooks need from the home, once per process, before threads start: the
 * data key (profile-insert's to_wire unseals secrets with it) and the [monitor] actions
 * (alarms received in session status). Called by wan at start-up; idempotent.
 */
tw_rc profile_orders_init(const struct tw_home *home, struct tw_error *err);
/* Tests: use sb (ownership passes) instead of the home's key. */
void profile_orders_set_box(struct secretbox *sb);
/* Tests and monitor_orders.c: the [monitor] configuration in effect (may be NULL). */
const struct tw_config *profile_orders_monitor_conf(void);

extern const struct order_type order_type_profile_insert;
extern const struct order_type order_type_profile_delete;
extern const struct order_type order_type_profile_read;
extern const struct order_type order_type_self_test;
extern const struct order_type order_type_log_read;
extern const struct order_session_hook order_session_profiles;
extern const struct order_session_hook order_session_alarms;

#endif
