/*
 * initial_config.h: the initial configuration file for pre-personalisation phase 2
 * (TR-03109-6 UC-3.3.6, threat T-IK.1; docs/initial-config.md).
 *
 * Per gateway, the GWA hands the integrator a file with the GWA's communication
 * parameters (WAN address), the gateway's certificates and the chain. Integrity and
 * authenticity: a CMS SignedData (RFC 5652) over the content, signed with the GWA's SIG
 * key inside the signer (purpose initial-config). Confidentiality: that SignedData inside
 * a CMS EnvelopedData (ECDH key agreement with each recipient's ENC certificate,
 * AES-256-CBC). The file is built in memory and only the EnvelopedData is written: there
 * is never a clear copy on disk. No private key is ever in the file; the gateway brings
 * its own (as its manufacturer left them).
 *
 * The content (eContentType id-data) is one JSON object:
 *   {"format": "torwart-initial-config/1", "gateway_id", "created" (RFC 3339),
 *    "gwa": {"id": CN of the GWA SIG certificate, "wan": "HOST:PORT",
 *            "sig_certificate": PEM},
 *    "certificates": {"TLS": PEM, "SIG": PEM, "ENC": PEM}, "chain": PEM (Sub-CA, Root)}
 */
#ifndef TORWART_GWA_INITIAL_CONFIG_H
#define TORWART_GWA_INITIAL_CONFIG_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "gwa/job.h"
#include "store/store.h"

#define INITIAL_CONFIG_FORMAT  "torwart-initial-config/1"
#define INITIAL_CONFIG_RECEIPT "torwart-initial-config-receipt/1"
#define INITIAL_CONFIG_MAX     (256 * 1024)
#define INITIAL_CONFIG_RECIPIENTS_MAX 8

/*
 * Build, sign, encrypt and write the file of gateway_id to out_path (created exclusively,
 * mode 0600). Recipients: the gateway's own ENC certificate from the inventory, plus
 * extra[0..n_extra) (e.g. the integrator's ENC certificate), each checked to be an EC
 * certificate with keyAgreement. The export is recorded (table initial_configs, SHA-256 of
 * the file, recipients' fingerprints) with the admin-log entry "gateway.initial-config"
 * in one transaction; sha256 receives the file's digest (hex). delivered (may be NULL:
 * "written to OUT_PATH") says in the log entry where the file went (through the api: its
 * answer, not the spool path the api removes).
 */
tw_rc initial_config_export(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *gateway_id, X509 *const *extra, size_t n_extra,
	const char *out_path, const char *delivered, const struct job_actor *who,
	char sha256[65], struct tw_error *err);

/*
 * The integrator's signed receipt: a CMS SignedData (DER or PEM) whose content is the
 * text "torwart-initial-config-receipt/1 GATEWAY-ID SHA256\n", signed by a certificate
 * that chains to this home's SM-PKI root. Verified, matched against the recorded export
 * and recorded once ("gateway.initial-config.receipt"). gateway receives the gateway id.
 */
tw_rc initial_config_receipt(const struct tw_home *home, struct tw_store *store,
	const unsigned char *in, size_t len, const struct job_actor *who,
	char gateway[STORE_ID_MAX + 1], struct tw_error *err);

/*
 * The gateway side (the simulator): decrypt in with the gateway's ENC key and
 * certificate, verify the GWA's signature (its certificate must chain to trust, the
 * manufacturer's root) and parse the content. *content is the caller's (json_decref).
 * Parser of outside bytes (fuzzed by tests/fuzz/fuzz_initial_config.c).
 */
tw_rc initial_config_open(const unsigned char *in, size_t len, EVP_PKEY *enc_key,
	X509 *enc_cert, X509_STORE *trust, json_t **content, struct tw_error *err);

#endif
