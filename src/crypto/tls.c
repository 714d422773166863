/*
 * tls.c: OpenSSL contexts for the TR-03116-3 SMGW WAN profile (shared/reference/tls).
 *
 * Both directions share one profile: TLS 1.2 (1.3 only when this OpenSSL has the RFC 8734
 * brainpool TLS 1.3 groups, because an SMGW key is brainpool and plain TLS 1.3 cannot
 * sign with it), exactly the three ECDHE-ECDSA suites, the five named groups, ECDSA with
 * SHA-256/384/512, no renegotiation, no compression, mutual authentication with SM-PKI
 * certificates and a session lifetime of 48 h.
 *
 * Session resumption (why both the cache and tickets stay on): a full brainpool mTLS
 * handshake costs ~6 public-key operations, a resumed one none, and gateways reconnect
 * often, so resumption is the main lever on wan throughput (DESIGN.md, performance model).
 * The server keeps an id-based cache (SSL_SESS_CACHE_SERVER) for clients that do not do
 * tickets, and RFC 5077 tickets stay enabled because they resume across wan processes
 * forked from one context (the ticket keys are inherited) without server memory. Both
 * carry the verified client certificate, so a resumed session keeps its identity. A
 * session id context is set because OpenSSL refuses to resume sessions of a context that
 * verifies peers without one.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/key_label.h"
#include "crypto/signer_proto.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"

/* TLS 1.3 suites of the profile (table 11/12), used only when TLS 1.3 is enabled. */
#define TLS_WAN_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256"
/* RFC 8734 names (OpenSSL >= 3.2); in TLS 1.3 the classic brainpool ids are not allowed. */
#define TLS_WAN_TLS13_GROUPS \
	"brainpoolP256r1tls13:brainpoolP384r1tls13:brainpoolP512r1tls13"
#define TLS_WAN_TLS13_SIGALGS \
	"ecdsa_brainpoolP256r1tls13_sha256:ecdsa_brainpoolP384r1tls13_sha384:" \
	"ecdsa_brainpoolP512r1tls13_sha512"

/* Leaf + Sub-CA + Root is the SM-PKI shape; 3 leaves room for nothing unexpected. */
#define TLS_WAN_VERIFY_DEPTH 3
/* Sessions per wan process: at ~2 KB each (they hold the peer certificate) ~128 MB max. */
#define TLS_WAN_SESSION_CACHE_SIZE 65536L
/* Binds cached sessions to this profile; a session from another context never resumes. */
static const unsigned char tls_sid_ctx[] = "torwart-wan-tr03116-3";

bool tls_brainpool_tls13_available(void)
{
	SSL_CTX *probe;
	bool ok;

	if (OpenSSL_version_num() < 0x30200000L)
		return false;
	/* The version alone is not enough: a provider build may lack the groups. */
	probe = SSL_CTX_new(TLS_method());
	if (probe == NULL) {
		ERR_clear_error();
		return false;
	}
	ok = SSL_CTX_set1_groups_list(probe, "brainpoolP256r1tls13") == 1;
	SSL_CTX_free(probe);
	ERR_clear_error();
	return ok;
}

/* Versions, suites, groups, signature algorithms and options common to both ends. */
static tw_rc tls_apply_profile(SSL_CTX *ctx, bool server, long lifetime,
	struct tw_error *err)
{
	bool tls13 = tls_brainpool_tls13_available();
	const char *groups = tls13 ? TLS_WAN_GROUPS ":" TLS_WAN_TLS13_GROUPS : TLS_WAN_GROUPS;
	const char *sigalgs = tls13 ? TLS_WAN_SIGALGS ":" TLS_WAN_TLS13_SIGALGS : TLS_WAN_SIGALGS;
	STACK_OF(SSL_CIPHER) *ciphers;
	int n;

	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot restrict TLS versions");
	if (SSL_CTX_set_cipher_list(ctx, TLS_WAN_CIPHERS) != 1)
		return tw_error_set_openssl(err, TW_E_TLS,
			"this OpenSSL lacks the TR-03116-3 cipher suites %s", TLS_WAN_CIPHERS);
	/* "" disables every TLS 1.3 suite, so the offered list is exactly the profile's. */
	if (SSL_CTX_set_ciphersuites(ctx, tls13 ? TLS_WAN_TLS13_SUITES : "") != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot set the TLS 1.3 suites");
	/* set_cipher_list succeeds when any one suite matched: insist on all three. */
	ciphers = SSL_CTX_get_ciphers(ctx);
	n = ciphers == NULL ? 0 : sk_SSL_CIPHER_num(ciphers);
	if (n != (tls13 ? 6 : 3))
		return tw_error_set(err, TW_E_TLS,
			"TLS profile: expected the 3 TR-03116-3 suites, OpenSSL enabled %d; "
			"check the OpenSSL configuration (system-wide cipher policy)", n);
	if (SSL_CTX_set1_groups_list(ctx, groups) != 1)
		return tw_error_set_openssl(err, TW_E_TLS,
			"this OpenSSL lacks the TR-03116-3 groups %s", groups);
	if (SSL_CTX_set1_sigalgs_list(ctx, sigalgs) != 1 ||
	    SSL_CTX_set1_client_sigalgs_list(ctx, sigalgs) != 1)
		return tw_error_set_openssl(err, TW_E_TLS,
			"this OpenSSL lacks the TR-03116-3 signature algorithms %s", sigalgs);

	/*
	 * Renegotiation and compression are not part of the profile (and are attack
	 * surface); server preference makes the server's suite order win. truncated_hmac
	 * (forbidden) is not implemented by OpenSSL at all; encrypt_then_mac and
	 * extended_master_secret (optional) stay on by default.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
		(server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
	SSL_CTX_set_timeout(ctx, lifetime);
	if (server) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, TLS_WAN_SESSION_CACHE_SIZE);
		if (SSL_CTX_set_session_id_context(ctx, tls_sid_ctx, sizeof(tls_sid_ctx) - 1) != 1)
			return tw_error_set_openssl(err, TW_E_TLS, "cannot set the session id context");
	} else {
		/* The client keeps sessions itself (SSL_get1_session / SSL_set_session). */
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
	}
	return TW_OK;
}

/* Trust anchors (and intermediates) the peer must chain to, verified strictly. */
static tw_rc tls_load_trust(SSL_CTX *ctx, const char *trust_file, struct tw_error *err)
{
	X509_STORE *store;

	if (trust_file == NULL)
		return tw_error_set(err, TW_E_CONFIG,
			"TLS profile: no trust file configured; set the CA chain the peers use");
	if (SSL_CTX_load_verify_locations(ctx, trust_file, NULL) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot load trusted CAs from %s",
			trust_file);
	/*
	 * Strict RFC 5280 checks (critical basicConstraints on CAs, AKI/SKI present, no
	 * explicit EC parameters): SM-PKI certificates satisfy them, so anything that does
	 * not is not an SM-PKI certificate.
	 */
	store = SSL_CTX_get_cert_store(ctx);
	if (X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT) != 1)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot enable strict verification");
	SSL_CTX_set_verify_depth(ctx, TLS_WAN_VERIFY_DEPTH);
	return TW_OK;
}

/*
 * The own private key: a key file when one exists (homes made before the TLS keys moved
 * into the signer; loudly warned about when the key could be in the signer), else a
 * handle whose signatures the signer makes (tls_signer_key.h).
 */
static tw_rc tls_load_key(const struct tls_profile_config *cfg, X509 *x, EVP_PKEY **key,
	struct tw_error *err)
{
	if (cfg->key_file != NULL && (cfg->signer_key == NULL || tw_path_exists(cfg->key_file))) {
		if (cfg->signer_key != NULL)
			tw_warn("WARNING: the TLS key %s is a file that this process can read; move it "
				"into the signer (`torwart ca tls-key-import --home DIR --key %s --label "
				"%s`, which wipes the file; docs/security.md)", cfg->key_file,
				cfg->key_file, cfg->signer_key);
		return keys_read_private_pem(cfg->key_file, key, err);
	}
	if (tls_signer_key_socket() == NULL)
		return tw_error_set(err, TW_E_CONFIG, "the TLS key '%s' is in the signer, but this "
			"process knows no signer socket (and there is no key file %s)",
			cfg->signer_key, cfg->key_file != NULL ? cfg->key_file : "configured");
	/*
	 * The version of the key that belongs to this certificate (key_label.h): a key
	 * rotation in the signer then never changes the key under this context. A signer
	 * without versioned labels answers TW_E_NOT_FOUND: the base label, as before.
	 */
	{
		char vlabel[SIGNER_LABEL_MAX + 1];
		struct tw_error verr;
		tw_rc rc;

		tw_error_clear(&verr);
		if (X509_get0_pubkey(x) != NULL && signer_label_of_key(cfg->signer_key,
		    X509_get0_pubkey(x), vlabel, sizeof(vlabel), &verr) == TW_OK) {
			rc = tls_signer_key_new(tls_signer_key_socket(), vlabel, x, key, err);
			if (rc != TW_E_NOT_FOUND)
				return rc;
			tw_error_clear(err);
		}
	}
	return tls_signer_key_new(tls_signer_key_socket(), cfg->signer_key, x, key, err);
}

/* Own certificate, key and intermediates; key and certificate must belong together. */
static tw_rc tls_load_identity(SSL_CTX *ctx, const struct tls_profile_config *cfg,
	struct tw_error *err)
{
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	tw_rc rc = TW_OK;

	if (cfg->cert_file == NULL || (cfg->key_file == NULL && cfg->signer_key == NULL))
		return tw_error_set(err, TW_E_CONFIG,
			"TLS profile: certificate and key files are required for mutual authentication");
	/* Read both first, so a mismatch has its own message rather than "key values". */
	if ((rc = keys_read_cert_pem(cfg->cert_file, &x, err)) != TW_OK ||
	    (rc = tls_load_key(cfg, x, &key, err)) != TW_OK)
		goto out;
	if (X509_check_private_key(x, key) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS,
			"the TLS key %s does not belong to the certificate %s; install the key "
			"generated with this certificate", cfg->key_file != NULL ? cfg->key_file :
			cfg->signer_key, cfg->cert_file);
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS,
			"OpenSSL refuses the TLS certificate %s or its key (weak or unsupported?)",
			cfg->cert_file);
		goto out;
	}
	X509_free(x);
	x = NULL;
	if (cfg->chain_file == NULL)
		goto out;

	bio = BIO_new_file(cfg->chain_file, "r");
	if (bio == NULL) {
		rc = tw_error_set_openssl(err, TW_E_IO, "cannot open the chain file %s",
			cfg->chain_file);
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		/* add0 takes the reference on success only; on failure `out` frees x. */
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			rc = tw_error_set_openssl(err, TW_E_TLS, "cannot add a chain certificate of %s",
				cfg->chain_file);
			goto out;
		}
	}
	/* The loop ends with "no start line" at end of file; anything else is corrupt. */
	if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_PEM &&
	    ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
	} else {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot parse the chain file %s",
			cfg->chain_file);
	}
out:
	EVP_PKEY_free(key);
	X509_free(x);
	BIO_free(bio);
	return rc;
}

static tw_rc tls_ctx_new(const struct tls_profile_config *cfg, bool server, SSL_CTX **out,
	struct tw_error *err)
{
	SSL_CTX *ctx = NULL;
	long lifetime;
	tw_rc rc;

	*out = NULL;
	if (cfg == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "TLS profile: no configuration");
	lifetime = cfg->session_lifetime_s > 0 ? cfg->session_lifetime_s : TW_SESSION_LIFETIME_S;
	ERR_clear_error();
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot create a TLS context");
	if ((rc = tls_apply_profile(ctx, server, lifetime, err)) != TW_OK)
		goto out;
	if ((rc = tls_load_trust(ctx, cfg->trust_file, err)) != TW_OK)
		goto out;
	if ((rc = tls_load_identity(ctx, cfg, err)) != TW_OK)
		goto out;
	/* Both ends authenticate: the server demands a client certificate, the client
	 * verifies the server; verification failure aborts the handshake. */
	SSL_CTX_set_verify(ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT :
		SSL_VERIFY_PEER, NULL);
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return rc;
}

tw_rc tls_server_ctx_new(const struct tls_profile_config *cfg, SSL_CTX **out,
	struct tw_error *err)
{
	return tls_ctx_new(cfg, true, out, err);
}

tw_rc tls_client_ctx_new(const struct tls_profile_config *cfg, SSL_CTX **out,
	struct tw_error *err)
{
	return tls_ctx_new(cfg, false, out, err);
}

tw_rc tls_client_trust_ctx_new(const char *trust_file, SSL_CTX **out, struct tw_error *err)
{
	SSL_CTX *ctx;
	tw_rc rc;

	*out = NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot create a TLS context");
	if ((rc = tls_apply_profile(ctx, false, TW_SESSION_LIFETIME_S, err)) == TW_OK &&
	    (rc = tls_load_trust(ctx, trust_file, err)) == TW_OK) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		*out = ctx;
		ctx = NULL;
	}
	SSL_CTX_free(ctx);
	return rc;
}
