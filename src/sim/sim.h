/*
 * sim.h: the SMGW simulator (`torwart-sim`): many virtual gateways in one event-driven
 * process, each opening a mutually authenticated TR-03116-3 TLS session to `wan` and
 * speaking the gateway side of docs/wan-protocol.md.
 *
 * A gateway directory (written by `torwart gateway add`) holds: id, tls.key, tls.crt,
 * sig.key, sig.crt, enc.key, enc.crt, chain.pem (Sub-CA + Root), root-ca.crt.
 */
#ifndef TORWART_SIM_SIM_H
#define TORWART_SIM_SIM_H

#include <stddef.h>

#include "base/error.h"

struct sim_options {
	const char *gwa_address;     /* HOST:PORT of wan */
	char **gateway_dirs;         /* borrowed */
	size_t gateway_count;
	unsigned concurrency;        /* simultaneous handshakes in flight; 0 = 64 */
	unsigned rounds;             /* sessions per gateway; 0 = 1 */
	int resume;                  /* reuse TLS sessions on later rounds */
	int quiet;                   /* only the summary line */
};

struct sim_result {
	size_t sessions_ok;
	size_t sessions_failed;
	size_t resumed;
	double seconds;
};

/* Run all gateways to completion; TW_OK only when every session succeeded. */
tw_rc sim_run(const struct sim_options *opt, struct sim_result *res, struct tw_error *err);

#endif
