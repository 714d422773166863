/*
 * sim_metering.h: the simulated gateway's metering side (docs/metering.md):
 * `torwart-sim values ...` sends quarter-hour values as real CMS (EnvelopedData for the
 * EMT's ENC certificate, signed with the gateway's SIG key) over POST /v1/metering/values,
 * and synchronises its drifting clock with the GWA (POST /v1/time).
 */
#ifndef TORWART_SIM_SIM_METERING_H
#define TORWART_SIM_SIM_METERING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"

/* The `torwart-sim values` command (argv[0] is "values"); returns the exit status. */
int sim_metering_main(int argc, char **argv);

/*
 * Build one metering message: plaintext JSON of a day of quarter-hour values (96 per
 * metering point) encrypted for emt_enc (CMS EnvelopedData, AES-256-CBC, ECDH key
 * agreement), then signed with sig_key/sig_cert (SignedData, eContentType
 * id-envelopedData). *der (malloc'ed) is the SignedData, *inner (may be NULL) the
 * EnvelopedData alone.
 */
tw_rc sim_metering_build(const char *gateway_id, const char *message_id,
	const char *metering_point, const char *kind, bool clock_ok, int64_t day_start_ms,
	X509 *emt_enc, X509 *sig_cert, EVP_PKEY *sig_key, unsigned char **der, size_t *len,
	unsigned char **inner, size_t *inner_len, struct tw_error *err);

#endif
