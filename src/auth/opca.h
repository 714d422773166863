/*
 * opca.h: the internal operator CA. Its key "operator-ca" (brainpoolP256r1) is generated
 * inside the signer's token in a ceremony session, never leaves it, and the signer's
 * default policy lets it sign certificates only. It issues operator client certificates
 * (production: smartcards with the same profile) and the api's HTTPS server certificate.
 *
 * Files (HOME/pki): operator-ca.crt (the trust anchor the api and CLI use),
 * api-tls.crt and api-tls.key (mode 0600; the api's TLS key is a file for the same
 * reason as wan's, see architecture.md).
 *
 * `torwart init` creates it; `torwart operator ca-init` does the same for homes made
 * before init did. Its CRL is an ordinary CA CRL of src/pki/crl.c under the CA name
 * "operator" ([ca] crl_cas, [ca.operator] written by init): it lists the operator
 * certificates revoked in the certificates table (operator disable), is signed by the
 * token key through the signer (purpose crl) and served by the api at
 * /crl/operator.crl. Relying parties outside Torwart use it; the api itself refuses a
 * revoked operator from the store at login and on every request.
 */
#ifndef TORWART_AUTH_OPCA_H
#define TORWART_AUTH_OPCA_H

#include <stdbool.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"

#define AUTH_OPCA_KEY "operator-ca"
#define AUTH_OPCA_CERT "pki/operator-ca.crt"
#define AUTH_API_TLS_CERT "pki/api-tls.crt"
#define AUTH_API_TLS_KEY "pki/api-tls.key"
#define AUTH_OPERATOR_CERT_DAYS 365
/* The CA name of the operator CRL (crl.h: [ca.operator], /crl/operator.crl). */
#define AUTH_OPCA_CRL_CA "operator"
#define AUTH_OPCA_CRL_PATH "crl/operator.crl"
/* certificates.owner_kind of operator client certificates. */
#define AUTH_OPCA_OWNER_KIND "operator"
/* RFC 5280 CRLReason of a disabled operator: privilegeWithdrawn. */
#define AUTH_OPCA_REVOKE_REASON 9

struct tw_store;

/* True when HOME/pki/operator-ca.crt exists. */
bool auth_opca_exists(const struct tw_home *home);
/*
 * Create the operator CA (ceremony signer: key generation) and the api server
 * certificate for api_host (a DNS name or an IP address; "localhost" and 127.0.0.1 are
 * always included). TW_E_EXISTS when the CA exists already.
 */
tw_rc auth_opca_init(const struct tw_home *home, const char *api_host, struct tw_error *err);
/* The same inside a ceremony signer session the caller holds (torwart init). */
tw_rc auth_opca_create(const struct tw_home *home, struct signer_client *sc,
	const char *api_host, struct tw_error *err);
/*
 * True when torwart.conf configures the operator CRL: [ca.operator] key_label is
 * operator-ca (homes of `operator ca-init` may lack it; see docs/security.md).
 */
bool auth_opca_crl_configured(const struct tw_home *home);
/*
 * Generate, sign (signer, key operator-ca, purpose crl) and publish the operator CA's
 * CRL now (crl_generate; admin log "ca.crl.generate" as actor). sc NULL: connect to the
 * running signer (or a private one). TW_E_CONFIG when not configured (see above).
 */
tw_rc auth_opca_crl_publish(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *actor, struct tw_error *err);
/* Issue an operator client certificate (CN=name, OU=tenant, clientAuth). Caller frees. */
tw_rc auth_opca_issue_operator(struct signer_client *sc, const struct tw_home *home,
	const char *name, const char *tenant, EVP_PKEY *pub, X509 **out, struct tw_error *err);

#endif
