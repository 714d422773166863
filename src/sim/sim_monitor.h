/*
 * sim_monitor.h: the simulator's side of profile management and monitoring: order
 * handlers (sim_profiles.c: profile-insert/-delete/-read; sim_monitor.c: self-test,
 * log-read), session status providers ("profiles", "alarms"), and the gateway's own
 * signed system and calibration logs, all kept in the gateway's persistent state
 * (sim_orders.h) so they survive restarts of the simulator.
 *
 * State members owned here: "profiles" {profile_id: document}, "logs" {"system":
 * {"next": N, "entries": [...]}, "calibration": {...}}.
 */
#ifndef TORWART_SIM_SIM_MONITOR_H
#define TORWART_SIM_SIM_MONITOR_H

#include "base/error.h"
#include "sim/sim_orders.h"

/* Most entries kept per log; older ones are dropped (a real gateway rotates too). */
#define SIM_LOG_KEEP 1000

/*
 * Append a signed entry (gateway SIG key) to gw's kind ("system" or "calibration") log.
 * Mutates gw->state; on failure state is unchanged.
 */
tw_rc sim_monitor_log(struct sim_gw *gw, const char *kind, const char *message,
	struct tw_error *err);

/*
 * Report an alarm of type (e.g. "tamper", "power-failure") with severity in the status
 * of every session of this process (`torwart-sim --alarm TYPE`). type NULL: none.
 * Call before the simulator starts; the strings must stay valid.
 */
void sim_monitor_set_alarm(const char *type, const char *severity);

extern const struct sim_order_handler sim_order_profile_insert;
extern const struct sim_order_handler sim_order_profile_delete;
extern const struct sim_order_handler sim_order_profile_read;
extern const struct sim_order_handler sim_order_self_test;
extern const struct sim_order_handler sim_order_log_read;
extern const struct sim_status_provider sim_status_profiles;
extern const struct sim_status_provider sim_status_alarms;

#endif
