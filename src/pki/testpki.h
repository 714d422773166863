/*
 * testpki.h: a self-contained test SM-PKI for a new home (`torwart init --test-pki`):
 * Root-CA (brainpoolP384r1), Sub-CA (brainpoolP256r1), and the GWA's TLS, SIG and ENC
 * certificates. CA, SIG and ENC keys are generated inside the token by the signer;
 * the wan TLS key is a file (documented exception, docs/architecture.md).
 *
 * Files written under HOME/pki/: root-ca.crt, sub-ca.crt, chain.pem (sub-ca + root),
 * gwa-tls.crt, gwa-tls.key (0600), gwa-sig.crt, gwa-enc.crt.
 */
#ifndef TORWART_PKI_TESTPKI_H
#define TORWART_PKI_TESTPKI_H

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

#define TESTPKI_ROOT_CERT  "pki/root-ca.crt"
#define TESTPKI_SUBCA_CERT "pki/sub-ca.crt"
#define TESTPKI_CHAIN      "pki/chain.pem"
#define TESTPKI_GWA_TLS_CERT "pki/gwa-tls.crt"
#define TESTPKI_GWA_TLS_KEY  "pki/gwa-tls.key"
#define TESTPKI_GWA_SIG_CERT "pki/gwa-sig.crt"
#define TESTPKI_GWA_ENC_CERT "pki/gwa-enc.crt"

/*
 * sc must be a ceremony session. Certificates are also recorded in the store (tenant
 * "default", one transaction). Each certificate is written as soon as it is issued, so
 * the signer can check issuer names against pki/<label>.crt. TW_E_EXISTS when the home
 * already has pki/root-ca.crt (a PKI is never replaced).
 *
 * Optional [pki] keys: crl_url (Sub-CA CRL, in the GWA certificates), root_crl_url
 * (in the Sub-CA certificate; default: crl_url with sub-ca.crl -> root-ca.crl),
 * policy_oid, cps_uri, gwa_name (CN "<gwa_name>.GWA.TORWART", default TEST),
 * market_partner_id (OU of the GWA certificates).
 */
tw_rc testpki_create(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err);

#endif
