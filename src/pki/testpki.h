/*
 * testpki.h: a self-contained test SM-PKI for a new home (`torwart init --test-pki`):
 * Root-CA (brainpoolP384r1), Sub-CA (brainpoolP256r1), and the GWA's TLS, SIG and ENC
 * certificates. CA, SIG and ENC keys are generated inside the token by the signer;
 * the wan TLS key is a file (documented exception, docs/architecture.md).
 *
 * Files written under HOME/pki/: root-ca.crt, sub-ca.crt, chain.pem (sub-ca + root),
 * gwa-tls.crt, gwa-tls.key (0600), gwa-sig.crt, gwa-enc.crt (and, on request, a second
 * Sub-CA: sub-ca-2.crt, chain-2.pem).
 */
#ifndef TORWART_PKI_TESTPKI_H
#define TORWART_PKI_TESTPKI_H

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

/* The files it writes are the home's PKI layout, TW_HOME_* in base/home.h. */

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

/*
 * A second test Sub-CA under the same test Root (`torwart init --test-pki
 * --second-sub-ca`, issue 11): key TESTPKI_SUB2_LABEL (brainpoolP256r1) generated in the
 * token, certificate pki/sub-ca-2.crt (CN TORWART-TEST-2.CA, signed by root-ca, naming
 * the Root's CRL like the first Sub-CA), pki/chain-2.pem (sub-ca-2 + root), recorded and
 * activated in the store. Run after testpki_create; the configuration must already hold
 * TESTPKI_SUB2_CONF (its signer key policy and [ca.sub-ca-2]). Lets tests exercise
 * certificates from another Sub-CA of the same SM-PKI.
 */
#define TESTPKI_SUB2_LABEL "sub-ca-2"
#define TESTPKI_SUB2_CERT  "pki/sub-ca-2.crt"
#define TESTPKI_SUB2_CHAIN "pki/chain-2.pem"
#define TESTPKI_SUB2_CONF \
	"\n[signer]\n" \
	"# the second test Sub-CA (init --second-sub-ca): certificates and its CRL\n" \
	"policy." TESTPKI_SUB2_LABEL " = certificate,crl\n" \
	"\n[ca." TESTPKI_SUB2_LABEL "]\n" \
	"key_label = " TESTPKI_SUB2_LABEL "\n" \
	"cert = " TESTPKI_SUB2_CERT "\n"
tw_rc testpki_create_second_sub_ca(const struct tw_home *home, struct signer_client *sc,
	struct tw_store *store, struct tw_error *err);

#endif
