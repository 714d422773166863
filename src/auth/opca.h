/*
 * opca.h: the internal operator CA. Its key "operator-ca" (brainpoolP256r1) is generated
 * inside the signer's token in a ceremony session, never leaves it, and the signer's
 * default policy lets it sign certificates only. It issues operator client certificates
 * (production: smartcards with the same profile) and the api's HTTPS server certificate.
 *
 * Files (HOME/pki): operator-ca.crt (the trust anchor the api and CLI use),
 * api-tls.crt and api-tls.key (mode 0600; the api's TLS key is a file for the same
 * reason as wan's, see architecture.md).
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

/* True when HOME/pki/operator-ca.crt exists. */
bool auth_opca_exists(const struct tw_home *home);
/*
 * Create the operator CA (ceremony signer: key generation) and the api server
 * certificate for api_host (a DNS name or an IP address; "localhost" and 127.0.0.1 are
 * always included). TW_E_EXISTS when the CA exists already.
 */
tw_rc auth_opca_init(const struct tw_home *home, const char *api_host, struct tw_error *err);
/* Issue an operator client certificate (CN=name, OU=tenant, clientAuth). Caller frees. */
tw_rc auth_opca_issue_operator(struct signer_client *sc, const struct tw_home *home,
	const char *name, const char *tenant, EVP_PKEY *pub, X509 **out, struct tw_error *err);

#endif
