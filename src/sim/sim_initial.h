/*
 * sim_initial.h: a simulated gateway bootstraps from an initial configuration file
 * (UC-3.3.6, gwa/initial_config.h): `torwart-sim --bootstrap FILE --gateways DIR`.
 */
#ifndef TORWART_SIM_SIM_INITIAL_H
#define TORWART_SIM_SIM_INITIAL_H

#include "base/error.h"

/*
 * DIR holds what the manufacturer left: id, tls.key, sig.key, enc.key, enc.crt (the ENC
 * certificate the file is encrypted for) and root-ca.crt (the SM-PKI root it trusts).
 * Decrypt FILE with enc.key, verify the GWA's signature against root-ca.crt, check that it
 * is for this gateway and that every certificate matches the key of its usage, then write
 * tls.crt, sig.crt, enc.crt, chain.pem, gwa-sig.crt and gwa-address (the WAN HOST:PORT).
 * Nothing is written unless everything checks. *wan receives the WAN address (caller
 * frees).
 */
tw_rc sim_initial_bootstrap(const char *dir, const char *file, char **wan,
	struct tw_error *err);

#endif
