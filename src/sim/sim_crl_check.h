/*
 * sim_crl_check.h: the simulated gateway's revocation check of a communication
 * partner's certificate (an EMT's) against the CRLs it holds (issue 12, UC-3.3.3,
 * TR-03109-4 freshness); see sim_crl_check.c.
 */
#ifndef TORWART_SIM_SIM_CRL_CHECK_H
#define TORWART_SIM_SIM_CRL_CHECK_H

#include <openssl/x509.h>

#include "base/error.h"
#include "sim/sim_orders.h"

/*
 * TW_OK when cert (borrowed) chains to the gateway's root, the gateway holds a CRL of
 * its issuer whose nextUpdate is in the future, and cert is not on it. Otherwise
 * TW_E_DENIED with *code (static) one of certificate_untrusted, crl_missing, crl_stale,
 * certificate_revoked and err naming who (e.g. "EMT 9900000000001") and the serial.
 */
tw_rc sim_crl_check_peer(struct sim_gw *gw, X509 *cert, const char *who, const char **code,
	struct tw_error *err);
/*
 * The profiles the gateway holds whose partner certificate (tls_cert, emt_tls_cert) a
 * held CRL revokes: a new array of {"profile_id", "serial"} (empty when none; NULL only
 * without memory). Called after a crl-update: the gateway reports them in its result, so
 * the GWA learns which profiles need the partner's new certificate (profile reput).
 */
json_t *sim_crl_revoked_partners(struct sim_gw *gw);
/* The same for a base64 DER certificate (code invalid_certificate when it is none). */
tw_rc sim_crl_check_peer_b64(struct sim_gw *gw, const char *b64, const char *who,
	const char **code, struct tw_error *err);

#endif
