/*
 * sim.h: the SMGW simulator (`torwart-sim`): many virtual gateways in one event-driven
 * process, each opening a mutually authenticated TR-03116-3 TLS session to `wan` and
 * speaking the gateway side of docs/wan-protocol.md: open a session, fetch pending
 * orders one by one, execute them (sim_orders.h) and post the results.
 *
 * A gateway directory (written by `torwart gateway add`) holds: id, tls.key, tls.crt,
 * sig.key, sig.crt, enc.key, enc.crt, chain.pem (Sub-CA + Root), root-ca.crt and
 * gwa-sig.crt (the GWA's SIG certificate, to verify wake-ups). The simulator adds
 * state.json: the gateway's persistent state (executed orders, retention, profiles,
 * last accepted wake-up), so a restarted simulator continues where it stopped.
 *
 * Two modes: sim_run visits every gateway `rounds` times and returns (batch);
 * sim_daemon listens for signed wake-ups on one UDP port (demultiplexed by recipient
 * id), visits a gateway when a valid wake-up for it arrives, and optionally contacts
 * the GWA on its own every contact_interval_s, until SIGTERM/SIGINT.
 */
#ifndef TORWART_SIM_SIM_H
#define TORWART_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Fault injection (percent of occasions, 0..100). */
struct sim_faults {
	unsigned drop;           /* execute an order, then drop the connection (no result) */
	unsigned error;          /* answer an order with {"status":"error"} without executing */
	unsigned ignore_wakeup;  /* ignore a valid wake-up */
	unsigned malformed;      /* post a malformed result body */
	/* firmware updates (sim_firmware.h), once per order each */
	unsigned fw_corrupt;     /* damage a downloaded image (detected, fetched again) */
	unsigned fw_refuse;      /* refuse a verified image (answer image_refused) */
	unsigned fw_reboot;      /* reboot loop: roll back, report the old version */
	unsigned fw_drop;        /* drop the connection in the middle of a download */
};

struct sim_options {
	const char *gwa_address;     /* HOST:PORT of wan */
	char **gateway_dirs;         /* borrowed */
	size_t gateway_count;
	unsigned concurrency;        /* simultaneous visits in flight; 0 = 64 */
	unsigned rounds;             /* batch: visits per gateway; 0 = 1 */
	int resume;                  /* reuse TLS sessions on later visits */
	int quiet;                   /* only the summary line */
	unsigned max_orders;         /* orders per visit at most; 0 = 64 */
	struct sim_faults faults;
	/* daemon mode */
	const char *listen_wakeup;   /* HOST:PORT (UDP) */
	unsigned contact_interval_s; /* 0 = only when woken */
	unsigned wakeup_window_s;    /* accepted clock difference; 0 = 60 */
	const char *stats_file;      /* rewritten every second with counters (JSON); NULL */
};

struct sim_result {
	size_t sessions_ok;
	size_t sessions_failed;
	size_t resumed;
	size_t orders_ok;            /* executed and acknowledged */
	size_t orders_failed;        /* answered with an error (handler or fault) */
	size_t orders_repeated;      /* re-delivered ids answered from state */
	size_t wakeups_accepted;
	size_t wakeups_rejected;     /* invalid: silently dropped */
	size_t wakeups_ignored;      /* valid but ignored (fault injection) */
	size_t peak_in_flight;
	double seconds;
};

/* Batch: run all gateways to completion; TW_OK only when every session succeeded. */
tw_rc sim_run(const struct sim_options *opt, struct sim_result *res, struct tw_error *err);
/* Daemon: serve wake-ups until SIGTERM/SIGINT; TW_OK on a clean stop. */
tw_rc sim_daemon(const struct sim_options *opt, struct sim_result *res, struct tw_error *err);

#endif
