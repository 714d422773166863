/*
 * test_crypto.c: unit tests of the TR-03116-3 TLS contexts (real in-memory handshakes
 * over BIO pairs), software keys and PEM files, and the SM-PKI certificate profiles
 * (compared with the real production certificates in $TORWART_SHARED/reference/sm-pki
 * and with the expectation checked in below).
 *
 * The test PKI is built in memory with software brainpool keys and signed with X509_sign
 * directly, so these tests need no signer and no token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/home.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "pki/profile.h"
#include "sm_pki_expect.h"
#include "pki/testpki.h"
#include "signer/signer_server.h"
#include "store/store.h"

/* ------------------------------------------------------------------ fixture */

struct party {
	EVP_PKEY *key;
	X509 *cert;
};

static struct fixture {
	char dir[64];
	struct party root, sub, server, client, foreign_root, foreign_client;
	char path[16][256];
} fx;

enum { P_TRUST, P_CHAIN, P_SRV_CRT, P_SRV_KEY, P_CLI_CRT, P_CLI_KEY, P_FOR_CRT, P_FOR_KEY };

static const char *fx_path(int which)
{
	return fx.path[which];
}

static void fx_set_path(int which, const char *name)
{
	snprintf(fx.path[which], sizeof(fx.path[which]), "%s/%s", fx.dir, name);
}

/* Profile certificate signed in software (what the signer would do with a token key). */
static int make_cert(struct party *p, int curve, enum pki_usage usage, const char *cn,
	const char *dns, const struct party *issuer)
{
	struct pki_cert_request req;
	struct tw_error err;
	X509 *x = NULL;

	if (keys_generate_ec(curve, &p->key, &err) != TW_OK)
		return -1;
	memset(&req, 0, sizeof(req));
	req.usage = usage;
	req.role = usage == PKI_USAGE_ROOT_CA || usage == PKI_USAGE_SUB_CA ? PKI_ROLE_CA :
		PKI_ROLE_GWA;
	req.subject.common_name = cn;
	req.subject.org_unit = "9912345000001";
	req.subject.serial_number = "1";
	req.subject.email = "pki@torwart.example";
	req.subject.uri = "https://torwart.example/";
	req.subject.dns_name = dns;
	req.public_key = p->key;
	req.issuer_cert = issuer != NULL ? issuer->cert : NULL;
	req.validity_days = 30;
	req.crl_url = usage == PKI_USAGE_ROOT_CA ? NULL : "http://127.0.0.1:7080/crl/sub-ca.crl";
	req.policy_oid = "1.3.6.1.4.1.51695.1.2";
	req.cps_uri = "https://torwart.example/cps/";
	if (pki_build_certificate(&req, &x, &err) != TW_OK) {
		fprintf(stderr, "build %s: %s\n", cn, err.message);
		return -1;
	}
	if (X509_sign(x, issuer != NULL ? issuer->key : p->key, EVP_sha256()) <= 0) {
		X509_free(x);
		return -1;
	}
	p->cert = x;
	return 0;
}

static void party_free(struct party *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	p->key = NULL;
	p->cert = NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	struct tw_error err;
	X509 *trust[2], *chain[1];

	(void)state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/tw-test-crypto-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	if (make_cert(&fx.root, NID_brainpoolP384r1, PKI_USAGE_ROOT_CA, "TEST.ROOT.CA", NULL,
		NULL) != 0 ||
	    make_cert(&fx.sub, NID_brainpoolP256r1, PKI_USAGE_SUB_CA, "TEST.SUB.CA", NULL,
		&fx.root) != 0 ||
	    make_cert(&fx.server, NID_brainpoolP256r1, PKI_USAGE_TLS, "TEST.GWA.TORWART",
		"localhost", &fx.sub) != 0 ||
	    make_cert(&fx.client, NID_brainpoolP256r1, PKI_USAGE_TLS, "ETWA0000000001.SMGW",
		NULL, &fx.sub) != 0 ||
	    make_cert(&fx.foreign_root, NID_brainpoolP256r1, PKI_USAGE_ROOT_CA, "FOREIGN.CA",
		NULL, NULL) != 0 ||
	    make_cert(&fx.foreign_client, NID_brainpoolP256r1, PKI_USAGE_TLS,
		"ETWA0000000002.SMGW", NULL, &fx.foreign_root) != 0)
		return -1;
	fx_set_path(P_TRUST, "trust.pem");
	fx_set_path(P_CHAIN, "chain.pem");
	fx_set_path(P_SRV_CRT, "server.crt");
	fx_set_path(P_SRV_KEY, "server.key");
	fx_set_path(P_CLI_CRT, "client.crt");
	fx_set_path(P_CLI_KEY, "client.key");
	fx_set_path(P_FOR_CRT, "foreign.crt");
	fx_set_path(P_FOR_KEY, "foreign.key");
	trust[0] = fx.sub.cert;
	trust[1] = fx.root.cert;
	chain[0] = fx.sub.cert;
	if (keys_write_certs_pem(fx_path(P_TRUST), trust, 2, &err) != TW_OK ||
	    keys_write_certs_pem(fx_path(P_CHAIN), chain, 1, &err) != TW_OK ||
	    keys_write_certs_pem(fx_path(P_SRV_CRT), &fx.server.cert, 1, &err) != TW_OK ||
	    keys_write_private_pem(fx_path(P_SRV_KEY), fx.server.key, &err) != TW_OK ||
	    keys_write_certs_pem(fx_path(P_CLI_CRT), &fx.client.cert, 1, &err) != TW_OK ||
	    keys_write_private_pem(fx_path(P_CLI_KEY), fx.client.key, &err) != TW_OK ||
	    keys_write_certs_pem(fx_path(P_FOR_CRT), &fx.foreign_client.cert, 1, &err) != TW_OK ||
	    keys_write_private_pem(fx_path(P_FOR_KEY), fx.foreign_client.key, &err) != TW_OK) {
		fprintf(stderr, "fixture: %s\n", err.message);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	party_free(&fx.root);
	party_free(&fx.sub);
	party_free(&fx.server);
	party_free(&fx.client);
	party_free(&fx.foreign_root);
	party_free(&fx.foreign_client);
	nftw(fx.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* ------------------------------------------------------------------ TLS helpers */

static SSL_CTX *server_ctx(void)
{
	struct tls_profile_config cfg = {
		.cert_file = fx_path(P_SRV_CRT), .key_file = fx_path(P_SRV_KEY),
		.chain_file = fx_path(P_CHAIN), .trust_file = fx_path(P_TRUST),
	};
	struct tw_error err;
	SSL_CTX *ctx = NULL;

	if (tls_server_ctx_new(&cfg, &ctx, &err) != TW_OK)
		fail_msg("server ctx: %s", err.message);
	return ctx;
}

static SSL_CTX *client_ctx(bool foreign)
{
	struct tls_profile_config cfg = {
		.cert_file = fx_path(foreign ? P_FOR_CRT : P_CLI_CRT),
		.key_file = fx_path(foreign ? P_FOR_KEY : P_CLI_KEY),
		.chain_file = foreign ? NULL : fx_path(P_CHAIN),
		.trust_file = fx_path(P_TRUST),
	};
	struct tw_error err;
	SSL_CTX *ctx = NULL;

	if (tls_client_ctx_new(&cfg, &ctx, &err) != TW_OK)
		fail_msg("client ctx: %s", err.message);
	return ctx;
}

/*
 * Drive both ends over an in-memory BIO pair until both finish or one fails.
 * Returns 1 on success; *server_reason receives the server's first OpenSSL error reason.
 */
static int handshake(SSL *s, SSL *c, int *server_reason)
{
	BIO *bs = NULL, *bc = NULL;
	bool sdone = false, cdone = false;
	int r;

	*server_reason = 0;
	if (BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		return -1;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	ERR_clear_error();
	for (int i = 0; i < 64 && !(sdone && cdone); i++) {
		if (!cdone) {
			r = SSL_do_handshake(c);
			if (r == 1) {
				cdone = true;
			} else {
				int e = SSL_get_error(c, r);

				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					ERR_clear_error();
					/* Let the server read the alert, then report failure. */
					SSL_do_handshake(s);
					ERR_clear_error();
					return 0;
				}
			}
		}
		if (!sdone) {
			r = SSL_do_handshake(s);
			if (r == 1) {
				sdone = true;
			} else {
				int e = SSL_get_error(s, r);

				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
					*server_reason = ERR_GET_REASON(ERR_peek_error());
					ERR_clear_error();
					return 0;
				}
			}
		}
	}
	return sdone && cdone ? 1 : 0;
}

static bool profile_suite(const SSL *ssl)
{
	uint16_t id = SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl));

	return id == 0xC023 || id == 0xC02B || id == 0xC02C;
}

static int expected_version(void)
{
	return tls_brainpool_tls13_available() ? TLS1_3_VERSION : TLS1_2_VERSION;
}

/* ------------------------------------------------------------------ TLS tests */

static void test_tls_ctx_profile(void **state)
{
	SSL_CTX *ctx;
	STACK_OF(SSL_CIPHER) *ciphers;

	(void)state;
	ctx = server_ctx();
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_max_proto_version(ctx), expected_version());
	ciphers = SSL_CTX_get_ciphers(ctx);
	if (!tls_brainpool_tls13_available()) {
		/* Exactly the three suites, in server preference order. */
		assert_int_equal(sk_SSL_CIPHER_num(ciphers), 3);
		assert_int_equal(SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(ciphers, 0)), 0xC02B);
		assert_int_equal(SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(ciphers, 1)), 0xC02C);
		assert_int_equal(SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(ciphers, 2)), 0xC023);
	}
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_COMPRESSION);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);
	assert_int_equal(SSL_CTX_get_timeout(ctx), 48L * 3600L);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx),
		SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	assert_true(SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_SERVER);
	SSL_CTX_free(ctx);
}

static void test_tls_ctx_errors(void **state)
{
	struct tls_profile_config cfg = {
		/* The client's key does not belong to the server's certificate. */
		.cert_file = fx_path(P_SRV_CRT), .key_file = fx_path(P_CLI_KEY),
		.trust_file = fx_path(P_TRUST),
	};
	struct tw_error err;
	SSL_CTX *ctx = (SSL_CTX *)1;

	(void)state;
	assert_int_equal(tls_server_ctx_new(&cfg, &ctx, &err), TW_E_TLS);
	assert_null(ctx);
	assert_non_null(strstr(err.message, "does not belong"));
	cfg.key_file = fx_path(P_SRV_KEY);
	cfg.trust_file = NULL;
	assert_int_equal(tls_server_ctx_new(&cfg, &ctx, &err), TW_E_CONFIG);
	cfg.trust_file = "/nonexistent/trust.pem";
	assert_int_equal(tls_client_ctx_new(&cfg, &ctx, &err), TW_E_TLS);
	assert_non_null(strstr(err.message, "/nonexistent/trust.pem"));
	cfg.trust_file = fx_path(P_TRUST);
	cfg.cert_file = NULL;
	assert_int_equal(tls_server_ctx_new(&cfg, &ctx, &err), TW_E_CONFIG);
	assert_null(ctx);
}

static void test_tls_handshake_ok(void **state)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx(false);
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	X509 *peer;
	int reason;

	(void)state;
	assert_true(SSL_set1_host(c, "localhost"));
	assert_int_equal(handshake(s, c, &reason), 1);
	assert_true(profile_suite(s));
	/* Server preference: AES128-GCM comes first in the profile order. */
	assert_int_equal(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(c)), 0xC02B);
	assert_int_equal(SSL_version(s), expected_version());
	assert_int_equal(SSL_get_verify_result(s), X509_V_OK);
	assert_int_equal(SSL_get_verify_result(c), X509_V_OK);
	peer = SSL_get1_peer_certificate(s);
	assert_non_null(peer);
	assert_int_equal(X509_cmp(peer, fx.client.cert), 0);
	X509_free(peer);
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* Each client restriction below keeps the rest of the profile. */
static int handshake_with(void (*restrict_client)(SSL *c), bool foreign, SSL **s_out,
	SSL **c_out, SSL_CTX **sctx, SSL_CTX **cctx, int *reason)
{
	*sctx = server_ctx();
	*cctx = client_ctx(foreign);
	*s_out = SSL_new(*sctx);
	*c_out = SSL_new(*cctx);
	if (restrict_client != NULL)
		restrict_client(*c_out);
	return handshake(*s_out, *c_out, reason);
}

static void finish(SSL *s, SSL *c, SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void only_bp256(SSL *c)
{
	assert_true(SSL_set1_groups_list(c, "brainpoolP256r1"));
}

static void only_cbc(SSL *c)
{
	assert_true(SSL_set_cipher_list(c, "ECDHE-ECDSA-AES128-SHA256"));
}

static void only_c024(SSL *c)
{
	/* 0xC024 ECDHE-ECDSA-AES256-SHA384: a strong suite, but not in the profile. */
	assert_true(SSL_set_cipher_list(c, "ECDHE-ECDSA-AES256-SHA384"));
}

static void only_tls11(SSL *c)
{
	/* A client that really offers TLS 1.1 (its own floor lowered on purpose). */
	SSL_set_security_level(c, 0);
	assert_true(SSL_set_min_proto_version(c, TLS1_VERSION));
	assert_true(SSL_set_max_proto_version(c, TLS1_1_VERSION));
	assert_true(SSL_set_cipher_list(c, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"));
}

static void no_client_cert(SSL *c)
{
	SSL_certs_clear(c);
}

static void test_tls_group_brainpool(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	assert_int_equal(handshake_with(only_bp256, false, &s, &c, &sctx, &cctx, &reason), 1);
	assert_int_equal(SSL_get_negotiated_group(s), NID_brainpoolP256r1);
	assert_true(profile_suite(c));
	finish(s, c, sctx, cctx);
}

static void test_tls_required_cbc_suite(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	if (tls_brainpool_tls13_available())
		skip();   /* a TLS 1.3 handshake ignores the TLS 1.2 suite list */
	assert_int_equal(handshake_with(only_cbc, false, &s, &c, &sctx, &cctx, &reason), 1);
	assert_int_equal(SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(s)), 0xC023);
	finish(s, c, sctx, cctx);
}

static void test_tls_refuses_tls11(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	assert_int_equal(handshake_with(only_tls11, false, &s, &c, &sctx, &cctx, &reason), 0);
	assert_int_equal(reason, SSL_R_UNSUPPORTED_PROTOCOL);
	finish(s, c, sctx, cctx);
}

static void test_tls_refuses_foreign_suite(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	if (tls_brainpool_tls13_available())
		skip();
	assert_int_equal(handshake_with(only_c024, false, &s, &c, &sctx, &cctx, &reason), 0);
	assert_int_equal(reason, SSL_R_NO_SHARED_CIPHER);
	finish(s, c, sctx, cctx);
}

static void test_tls_requires_client_cert(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	assert_int_equal(handshake_with(no_client_cert, false, &s, &c, &sctx, &cctx, &reason), 0);
	assert_int_equal(reason, SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);
	finish(s, c, sctx, cctx);
}

static void test_tls_refuses_foreign_ca(void **state)
{
	SSL *s, *c;
	SSL_CTX *sctx, *cctx;
	int reason;

	(void)state;
	assert_int_equal(handshake_with(NULL, true, &s, &c, &sctx, &cctx, &reason), 0);
	assert_int_equal(reason, SSL_R_CERTIFICATE_VERIFY_FAILED);
	finish(s, c, sctx, cctx);
}

/* A second connection resumes the first session (tickets, or the id cache without). */
static void resume(bool tickets)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx(false);
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	SSL_SESSION *sess;
	X509 *peer;
	int reason;

	if (!tickets)
		SSL_set_options(c, SSL_OP_NO_TICKET);
	assert_int_equal(handshake(s, c, &reason), 1);
	assert_false(SSL_session_reused(s));
	sess = SSL_get1_session(c);
	assert_non_null(sess);
	assert_true(SSL_SESSION_is_resumable(sess));
	assert_int_equal(SSL_SESSION_get_timeout(sess), 48L * 3600L);
	if (!tickets)
		assert_true(SSL_SESSION_get_ticket_lifetime_hint(sess) == 0);
	/*
	 * A connection freed without close_notify has its session removed from the cache
	 * and marked not resumable (OpenSSL's ssl_clear_bad_session): the wan must shut
	 * connections down cleanly to keep resumption working.
	 */
	SSL_shutdown(c);
	SSL_shutdown(s);
	SSL_free(s);
	SSL_free(c);

	s = SSL_new(sctx);
	c = SSL_new(cctx);
	if (!tickets)
		SSL_set_options(c, SSL_OP_NO_TICKET);
	assert_true(SSL_set_session(c, sess));
	assert_int_equal(handshake(s, c, &reason), 1);
	assert_true(SSL_session_reused(c));
	assert_true(SSL_session_reused(s));
	/* The resumed session still carries the verified client identity. */
	peer = SSL_get1_peer_certificate(s);
	assert_non_null(peer);
	assert_int_equal(X509_cmp(peer, fx.client.cert), 0);
	X509_free(peer);
	SSL_SESSION_free(sess);
	finish(s, c, sctx, cctx);
}

static void test_tls_resume_ticket(void **state)
{
	(void)state;
	resume(true);
}

static void test_tls_resume_cache(void **state)
{
	(void)state;
	resume(false);
}

/* ------------------------------------------------------------------ keys */

static void test_keys_files(void **state)
{
	char path[300], fp[65], hex[65];
	unsigned char md[32];
	unsigned int md_len = 0;
	struct tw_error err;
	struct stat st;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	(void)state;
	assert_int_equal(keys_ec_curve_nid(fx.root.key), NID_brainpoolP384r1);
	assert_int_equal(keys_ec_curve_nid(fx.server.key), NID_brainpoolP256r1);
	assert_int_equal(keys_ec_curve_nid(NULL), NID_undef);
	assert_int_equal(keys_generate_ec(NID_undef, &key, &err), TW_E_INVALID);
	assert_null(key);

	/* Private keys: 0600, never overwritten, read back identical. */
	assert_int_equal(stat(fx_path(P_SRV_KEY), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keys_write_private_pem(fx_path(P_SRV_KEY), fx.client.key, &err),
		TW_E_EXISTS);
	assert_int_equal(keys_read_private_pem(fx_path(P_SRV_KEY), &key, &err), TW_OK);
	assert_int_equal(EVP_PKEY_eq(key, fx.server.key), 1);
	EVP_PKEY_free(key);
	key = NULL;
	/* A certificate file is not a key. */
	assert_int_equal(keys_read_private_pem(fx_path(P_SRV_CRT), &key, &err), TW_E_CRYPTO);
	assert_null(key);
	assert_int_equal(keys_read_private_pem("/nonexistent.key", &key, &err), TW_E_NOT_FOUND);
	/* The reused decoder of our EC PKCS#8 keys gives each key its own object, and keys of
	 * another form (SEC1 "EC PRIVATE KEY", a non-EC PKCS#8 key) take the generic path. */
	{
		EVP_PKEY *k2 = NULL, *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *bm = NULL;

		assert_int_equal(keys_read_private_pem(fx_path(P_SRV_KEY), &key, &err), TW_OK);
		assert_int_equal(keys_read_private_pem(fx_path(P_SRV_KEY), &k2, &err), TW_OK);
		assert_true(key != k2);
		assert_int_equal(EVP_PKEY_eq(k2, fx.server.key), 1);
		EVP_PKEY_free(key);
		EVP_PKEY_free(k2);
		key = k2 = NULL;
		assert_non_null(b);
		assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, fx.client.key, NULL, NULL,
			0, NULL, NULL), 1);
		BIO_get_mem_ptr(b, &bm);
		assert_non_null(strstr(bm->data, "EC PRIVATE KEY"));
		snprintf(path, sizeof(path), "%s/sec1.key", fx.dir);
		assert_int_equal(tw_write_file(path, bm->data, bm->length, 0600, false, &err),
			TW_OK);
		assert_int_equal(keys_read_private_pem(path, &key, &err), TW_OK);
		assert_int_equal(EVP_PKEY_eq(key, fx.client.key), 1);
		EVP_PKEY_free(key);
		key = NULL;
		assert_non_null(ed);
		snprintf(path, sizeof(path), "%s/ed.key", fx.dir);
		assert_int_equal(keys_write_private_pem(path, ed, &err), TW_OK);
		assert_int_equal(keys_read_private_pem(path, &key, &err), TW_OK);
		assert_int_equal(EVP_PKEY_eq(key, ed), 1);
		EVP_PKEY_free(key);
		key = NULL;
		EVP_PKEY_free(ed);
		BIO_free(b);
	}

	/* Certificates: the first of a bundle, fingerprint = SHA-256 of the DER. */
	assert_int_equal(keys_read_cert_pem(fx_path(P_TRUST), &x, &err), TW_OK);
	assert_int_equal(X509_cmp(x, fx.sub.cert), 0);
	assert_int_equal(keys_cert_fingerprint(x, fp, &err), TW_OK);
	assert_int_equal(strlen(fp), 64);
	assert_int_equal(X509_digest(x, EVP_sha256(), md, &md_len), 1);
	tw_hex_encode(md, md_len, hex);
	assert_string_equal(fp, hex);
	X509_free(x);
	x = NULL;
	snprintf(path, sizeof(path), "%s/garbage.pem", fx.dir);
	assert_int_equal(tw_write_file(path, "not pem\n", 8, 0644, false, &err), TW_OK);
	assert_int_equal(keys_read_cert_pem(path, &x, &err), TW_E_CRYPTO);
	assert_null(x);
}

/* ------------------------------------------------------------------ profiles */


/* Subject attribute order and string types (CN, O, OU, C, serialNumber; Printable). */
static void assert_subject_shape(X509 *x, const char *what)
{
	static const int order[] = { NID_commonName, NID_organizationName,
		NID_organizationalUnitName, NID_countryName, NID_serialNumber };
	const X509_NAME *name = X509_get_subject_name(x);

	if (X509_NAME_entry_count(name) != 5)
		fail_msg("%s: %d subject attributes", what, X509_NAME_entry_count(name));
	for (int i = 0; i < 5; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);

		assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), order[i]);
		assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(e)),
			V_ASN1_PRINTABLESTRING);
	}
}

static X509 *issue(enum pki_usage usage, const char *dns, EVP_PKEY *key, tw_rc want)
{
	struct pki_cert_request req;
	struct tw_error err;
	X509 *x = NULL;

	memset(&req, 0, sizeof(req));
	req.usage = usage;
	req.role = PKI_ROLE_GWA;
	req.subject.common_name = "TEST.GWA.TORWART";
	req.subject.org_unit = "9912345000001";
	req.subject.serial_number = "2";
	req.subject.email = "gwa@torwart.example";
	req.subject.uri = "https://gwa.torwart.example:443";
	req.subject.dns_name = dns;
	req.public_key = key != NULL ? key : fx.client.key;
	req.issuer_cert = fx.sub.cert;
	req.validity_days = 730;
	req.crl_url = "http://127.0.0.1:7080/crl/sub-ca.crl";
	req.policy_oid = "1.3.6.1.4.1.51695.1.2";
	req.cps_uri = "https://torwart.example/cps/";
	assert_int_equal(pki_build_certificate(&req, &x, &err), want);
	if (want == TW_OK && X509_sign(x, fx.sub.key, EVP_sha256()) <= 0)
		fail_msg("X509_sign");
	return x;
}

static X509 *load_real(const char *name)
{
	const char *shared = getenv("TORWART_SHARED");
	char path[512];
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	struct tw_error err;
	X509 *x;

	if (shared == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/reference/sm-pki/%s", shared, name);
	if (tw_read_file(path, 65536, &der, &len, &err) != TW_OK)
		return NULL;
	p = der;
	x = d2i_X509(NULL, &p, (long)len);
	free(der);
	return x;
}

static void test_profile_matches_reference(void **state)
{
	static const struct {
		const char *file;
		enum pki_usage usage;
		const char *dns;
	} cases[] = {
		{ "real-emt-tls.cer", PKI_USAGE_TLS, "localhost" },
		{ "real-emt-sig.cer", PKI_USAGE_SIG, NULL },
		{ "real-emt-enc.cer", PKI_USAGE_ENC, NULL },
	};
	int compared = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *ours = issue(cases[i].usage, cases[i].dns, NULL, TW_OK);
		X509 *real = load_real(cases[i].file);

		sm_pki_assert_extensions(ours, cases[i].usage, pki_usage_name(cases[i].usage));
		assert_subject_shape(ours, pki_usage_name(cases[i].usage));
		if (real != NULL) {
			sm_pki_assert_extensions(real, cases[i].usage, cases[i].file);
			assert_subject_shape(real, cases[i].file);
			assert_int_equal(X509_get_key_usage(ours), X509_get_key_usage(real));
			assert_int_equal(X509_get_extended_key_usage(ours),
				X509_get_extended_key_usage(real));
			assert_int_equal(X509_get_version(ours), X509_get_version(real));
			compared++;
		}
		X509_free(real);
		X509_free(ours);
	}
	if (compared == 0)
		print_message("[  NOTE    ] $TORWART_SHARED/reference/sm-pki absent: compared with "
			"the checked-in expectation only\n");
}

static void test_profile_usages(void **state)
{
	X509 *x;
	GENERAL_NAMES *gens;
	const ASN1_OCTET_STRING *akid;

	(void)state;
	x = issue(PKI_USAGE_TLS, "localhost", NULL, TW_OK);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT | XKU_SSL_SERVER);
	assert_false(X509_get_extension_flags(x) & EXFLAG_CA);
	/* SAN: e-mail, URI, DNS in this order (as in the real certificate). */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 3);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_EMAIL);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_URI);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_DNS);
	GENERAL_NAMES_free(gens);
	/* IAN is the issuer's SAN; AKI is the issuer's SKI. */
	gens = X509_get_ext_d2i(x, NID_issuer_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	GENERAL_NAMES_free(gens);
	akid = X509_get0_authority_key_id(x);
	assert_non_null(akid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(fx.sub.cert)), 0);
	assert_int_equal(ASN1_STRING_length(X509_get0_subject_key_id(x)), 20);
	assert_int_equal(X509_check_issued(fx.sub.cert, x), X509_V_OK);
	X509_free(x);

	x = issue(PKI_USAGE_SIG, NULL, NULL, TW_OK);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extension_flags(x) & EXFLAG_XKUSAGE, 0);
	X509_free(x);

	x = issue(PKI_USAGE_ENC, NULL, NULL, TW_OK);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT);
	X509_free(x);

	/* CAs: keyCertSign + cRLSign, CA:TRUE; path length 1 for the root, 0 below. */
	assert_int_equal(X509_get_key_usage(fx.root.cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_true(X509_get_extension_flags(fx.root.cert) & EXFLAG_CA);
	assert_int_equal(X509_get_pathlen(fx.root.cert), 1);
	assert_true(X509_get_extension_flags(fx.sub.cert) & EXFLAG_CA);
	assert_int_equal(X509_get_pathlen(fx.sub.cert), 0);
	assert_true(X509_get_extension_flags(fx.root.cert) & EXFLAG_SS);
	assert_int_equal(X509_verify(fx.root.cert, fx.root.key), 1);
}

static void test_profile_strict_chain(void **state)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();

	(void)state;
	assert_true(X509_STORE_add_cert(store, fx.root.cert));
	assert_true(sk_X509_push(untrusted, fx.sub.cert) > 0);
	X509_STORE_set_flags(store, X509_V_FLAG_X509_STRICT);
	assert_true(X509_STORE_CTX_init(ctx, store, fx.server.cert, untrusted));
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) != 1)
		fail_msg("strict verification: %s",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted);
	X509_STORE_free(store);
}

static void test_profile_refusals(void **state)
{
	struct pki_cert_request req;
	struct tw_error err;
	EVP_PKEY *p256 = NULL;
	X509 *x = (X509 *)1;

	(void)state;
	assert_int_equal(keys_generate_ec(NID_X9_62_prime256v1, &p256, &err), TW_OK);
	memset(&req, 0, sizeof(req));
	req.usage = PKI_USAGE_SIG;
	req.subject.common_name = "X.GWA.TORWART";
	req.public_key = p256;
	req.issuer_cert = fx.sub.cert;
	req.validity_days = 10;
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	assert_null(x);
	assert_non_null(strstr(err.message, "prime256v1"));
	EVP_PKEY_free(p256);

	req.public_key = fx.client.key;
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_OK);
	X509_free(x);
	/* dNSName outside TLS, bad validity, missing issuer, bad country, bad OID. */
	req.subject.dns_name = "localhost";
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	req.subject.dns_name = NULL;
	req.validity_days = 0;
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	req.validity_days = 10;
	req.issuer_cert = NULL;
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	req.issuer_cert = fx.sub.cert;
	req.subject.country = "DEU";
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	req.subject.country = NULL;
	req.policy_oid = "not an oid";
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	req.policy_oid = NULL;
	req.subject.common_name = NULL;
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	/* Non-printable characters fall back to UTF8String rather than being mangled. */
	req.subject.common_name = "Stra\xc3\x9f" "e.GWA";
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_OK);
	assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(
		X509_NAME_get_entry(X509_get_subject_name(x), 0))), V_ASN1_UTF8STRING);
	X509_free(x);
	req.subject.common_name = "bad\xff utf8";
	assert_int_equal(pki_build_certificate(&req, &x, &err), TW_E_INVALID);
	assert_null(x);
}

static void test_profile_serial(void **state)
{
	const ASN1_INTEGER *prev = NULL;
	X509 *last = NULL;

	(void)state;
	/* 200 serials: each positive with exactly 16 content bytes, and no repeats. */
	for (int i = 0; i < 200; i++) {
		X509 *x = issue(PKI_USAGE_SIG, NULL, NULL, TW_OK);
		const ASN1_INTEGER *sn = X509_get0_serialNumber(x);

		assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);   /* not V_ASN1_NEG_INTEGER */
		assert_int_equal(ASN1_STRING_length(sn), 16);
		assert_true(ASN1_STRING_get0_data(sn)[0] != 0);
		assert_true(ASN1_STRING_get0_data(sn)[0] < 0x80);
		if (prev != NULL)
			assert_int_not_equal(ASN1_INTEGER_cmp(prev, sn), 0);
		X509_free(last);
		last = x;
		prev = sn;
	}
	X509_free(last);
}

/* ------------------------------------------------------------------ test PKI */

static X509 *read_home_cert(const char *home, const char *rel)
{
	char path[512];
	struct tw_error err;
	X509 *x = NULL;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	if (keys_read_cert_pem(path, &x, &err) != TW_OK)
		fail_msg("%s", err.message);
	return x;
}

/*
 * The whole ceremony against a real private signer (SoftHSM2 token): files, strict chain,
 * store rows, the written CRL URL from [pki], and a wan TLS context built from the result.
 */
/* One in-memory TLS 1.2 handshake between two contexts; true when both ends finish. */
static bool mem_handshake(SSL_CTX *sctx, SSL_CTX *cctx)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *bs = NULL, *bc = NULL;
	int rs = 0, rc = 0;
	bool ok = false;

	assert_non_null(s);
	assert_non_null(c);
	assert_int_equal(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 32 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			break;
	}
	ok = rs == 1 && rc == 1;
	SSL_free(s);
	SSL_free(c);
	ERR_clear_error();
	return ok;
}

static pid_t start_signer(const struct tw_home *home, const char *sock)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct tw_error cerr;

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		_exit(signer_run(home, &cerr) == TW_OK ? 0 : 1);
	}
	for (int i = 0; i < 200 && !tw_path_exists(sock); i++)
		usleep(25 * 1000);
	assert_true(tw_path_exists(sock));
	return pid;
}

/*
 * TLS keys in the signer (tls_signer_key.h): both ends of a mutual handshake sign with
 * the GWA's TLS key inside a running signer (ServerKeyExchange and CertificateVerify),
 * the handshake fails with the signer gone (no crash, the counter says why) and works
 * again once a signer is back on the socket.
 */
static void signer_handshakes(const struct tw_home *home, struct tls_profile_config *cfg)
{
	struct tls_signer_key_stats st0, st1;
	struct tw_error err;
	SSL_CTX *sctx = NULL, *cctx = NULL;
	char sock[512];
	pid_t pid;
	int status;

	snprintf(sock, sizeof(sock), "%s/run/signer.sock", home->dir);
	pid = start_signer(home, sock);
	assert_int_equal(tls_signer_key_set_socket(sock, &err), TW_OK);
	if (tls_server_ctx_new(cfg, &sctx, &err) != TW_OK)
		fail_msg("wan context with the signer's key: %s", err.message);
	if (tls_client_ctx_new(cfg, &cctx, &err) != TW_OK)
		fail_msg("client context with the signer's key: %s", err.message);
	tls_signer_key_stats(&st0);
	assert_true(mem_handshake(sctx, cctx));
	tls_signer_key_stats(&st1);
	/* ServerKeyExchange + CertificateVerify: two signatures, both by the signer. */
	assert_int_equal(st1.signed_ok - st0.signed_ok, 2);
	/* A label the signer does not have is refused when the context is made. */
	cfg->signer_key = "no-such-tls-key";
	{
		SSL_CTX *none = NULL;

		assert_int_equal(tls_server_ctx_new(cfg, &none, &err), TW_E_NOT_FOUND);
		assert_null(none);
	}
	cfg->signer_key = SIGNER_KEY_GWA_TLS;

	/* Signer gone: the handshake fails cleanly, counted as a failed signature. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	tls_signer_key_stats(&st0);
	assert_false(mem_handshake(sctx, cctx));
	tls_signer_key_stats(&st1);
	assert_true(st1.failed > st0.failed);
	/* Back: the same contexts work again (the connection is made afresh). */
	pid = start_signer(home, sock);
	assert_true(mem_handshake(sctx, cctx));
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(tls_signer_key_set_socket(NULL, &err), TW_OK);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

static void test_testpki_create(void **state)
{
	static const char conf[] =
		"[store]\nurl = store.db\n"
		"[pki]\ncrl_url = http://crl.example:7080/crl/sub-ca.crl\ngwa_name = UNIT\n";
	char dir[] = "/tmp/tw-test-testpki-XXXXXX";
	char path[512], fp[65];
	struct tw_error err;
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	struct store_certificate row;
	struct stat st;
	X509 *root, *sub, *tls, *sig, *enc;
	X509_STORE *xs;
	X509_STORE_CTX *xctx;
	STACK_OF(X509) *untrusted;
	STACK_OF(DIST_POINT) *cdp;
	SSL_CTX *ctx = NULL;
	struct tls_profile_config cfg;

	(void)state;
	if (!tw_path_exists(TW_DEFAULT_SOFTHSM_MOD)) {
		print_message("[  SKIP    ] %s absent: no token for the test PKI\n",
			TW_DEFAULT_SOFTHSM_MOD);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", dir);
	assert_int_equal(tw_write_file(path, conf, sizeof(conf) - 1, 0600, true, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/pki", dir);
	assert_int_equal(tw_mkdir_p(path, 0700, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/run", dir);
	assert_int_equal(tw_mkdir_p(path, 0700, &err), TW_OK);
	if (signer_home_prepare(dir, &err) != TW_OK)
		fail_msg("signer_home_prepare: %s", err.message);
	assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_int_equal(store_open(path, &store, &err), TW_OK);
	assert_int_equal(store_migrate(store, &err), TW_OK);
	if (signer_client_open(home, true, &sc, &err) != TW_OK)
		fail_msg("signer_client_open: %s", err.message);
	signer_client_set_actor(sc, "unit-test", "local-admin");
	if (testpki_create(home, sc, store, &err) != TW_OK)
		fail_msg("testpki_create: %s", err.message);
	/* A second run must refuse rather than replace the PKI. */
	assert_int_equal(testpki_create(home, sc, store, &err), TW_E_EXISTS);

	/* The GWA's TLS key is the signer's: no key file (tls_signer_key.h). */
	snprintf(path, sizeof(path), "%s/%s", dir, TW_HOME_GWA_TLS_KEY);
	assert_int_not_equal(stat(path, &st), 0);
	root = read_home_cert(dir, TW_HOME_ROOT_CERT);
	sub = read_home_cert(dir, TW_HOME_SUBCA_CERT);
	tls = read_home_cert(dir, TW_HOME_GWA_TLS_CERT);
	sig = read_home_cert(dir, TW_HOME_GWA_SIG_CERT);
	enc = read_home_cert(dir, TW_HOME_GWA_ENC_CERT);
	assert_int_equal(keys_ec_curve_nid(X509_get0_pubkey(root)), NID_brainpoolP384r1);
	assert_int_equal(keys_ec_curve_nid(X509_get0_pubkey(sub)), NID_brainpoolP256r1);
	assert_int_equal(X509_get_signature_nid(root), NID_ecdsa_with_SHA384);
	assert_int_equal(X509_get_key_usage(tls), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_key_usage(enc), KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT);
	assert_true(X509_check_host(tls, "localhost", 0, 0, NULL) == 1);
	assert_non_null(strstr(X509_NAME_oneline(X509_get_subject_name(sig), path, sizeof(path)),
		"CN=UNIT.GWA.TORWART"));
	cdp = X509_get_ext_d2i(tls, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	assert_string_equal(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(
		sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname, 0)->d.uniformResourceIdentifier),
		"http://crl.example:7080/crl/sub-ca.crl");
	CRL_DIST_POINTS_free(cdp);
	cdp = X509_get_ext_d2i(sub, NID_crl_distribution_points, NULL, NULL);
	assert_non_null(cdp);
	assert_string_equal(ASN1_STRING_get0_data(sk_GENERAL_NAME_value(
		sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname, 0)->d.uniformResourceIdentifier),
		"http://crl.example:7080/crl/root-ca.crl");
	CRL_DIST_POINTS_free(cdp);

	/* Strict chain verification of every end-entity certificate. */
	xs = X509_STORE_new();
	untrusted = sk_X509_new_null();
	assert_true(X509_STORE_add_cert(xs, root));
	assert_true(sk_X509_push(untrusted, sub) > 0);
	X509_STORE_set_flags(xs, X509_V_FLAG_X509_STRICT);
	for (int i = 0; i < 3; i++) {
		X509 *leaf = i == 0 ? tls : i == 1 ? sig : enc;

		xctx = X509_STORE_CTX_new();
		assert_true(X509_STORE_CTX_init(xctx, xs, leaf, untrusted));
		if (X509_verify_cert(xctx) != 1)
			fail_msg("test PKI chain: %s",
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(xctx)));
		X509_STORE_CTX_free(xctx);
	}
	sk_X509_free(untrusted);
	X509_STORE_free(xs);

	/* Recorded in the store. */
	assert_int_equal(keys_cert_fingerprint(tls, fp, &err), TW_OK);
	memset(&row, 0, sizeof(row));
	assert_int_equal(store_certificate_get_by_fingerprint(store, fp, &row, &err), TW_OK);
	assert_string_equal(row.usage, "TLS");
	assert_string_equal(row.owner_kind, "gwa");
	assert_string_equal(row.status, "valid");
	store_certificate_clear(&row);
	assert_int_equal(keys_cert_fingerprint(root, fp, &err), TW_OK);
	assert_int_equal(store_certificate_get_by_fingerprint(store, fp, &row, &err), TW_OK);
	assert_string_equal(row.usage, "CA");
	assert_string_equal(row.owner_kind, "ca");
	store_certificate_clear(&row);

	/* The files are exactly what the wan loads; the key is used through the signer. */
	memset(&cfg, 0, sizeof(cfg));
	snprintf(fx.path[10], sizeof(fx.path[10]), "%s/%s", dir, TW_HOME_GWA_TLS_CERT);
	snprintf(fx.path[11], sizeof(fx.path[11]), "%s/%s", dir, TW_HOME_GWA_TLS_KEY);
	snprintf(fx.path[12], sizeof(fx.path[12]), "%s/%s", dir, TW_HOME_SUBCA_CERT);
	snprintf(fx.path[13], sizeof(fx.path[13]), "%s/%s", dir, TW_HOME_CHAIN);
	cfg.cert_file = fx.path[10];
	cfg.key_file = fx.path[11];
	cfg.chain_file = fx.path[12];
	cfg.trust_file = fx.path[13];
	/* No key file and no signer socket known: a configuration error, not a crash. */
	assert_int_not_equal(tls_server_ctx_new(&cfg, &ctx, &err), TW_OK);
	cfg.signer_key = SIGNER_KEY_GWA_TLS;
	assert_int_equal(tls_server_ctx_new(&cfg, &ctx, &err), TW_E_CONFIG);
	signer_handshakes(home, &cfg);

	X509_free(root);
	X509_free(sub);
	X509_free(tls);
	X509_free(sig);
	X509_free(enc);
	signer_client_close(sc);
	store_close(store);
	tw_home_free(home);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_profile_names(void **state)
{
	(void)state;
	assert_string_equal(pki_usage_name(PKI_USAGE_ROOT_CA), "CA");
	assert_string_equal(pki_usage_name(PKI_USAGE_SUB_CA), "CA");
	assert_string_equal(pki_usage_name(PKI_USAGE_TLS), "TLS");
	assert_string_equal(pki_usage_name(PKI_USAGE_SIG), "SIG");
	assert_string_equal(pki_usage_name(PKI_USAGE_ENC), "ENC");
	assert_string_equal(pki_role_name(PKI_ROLE_GWA), "gwa");
	assert_string_equal(pki_role_name(PKI_ROLE_SMGW), "smgw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_ctx_profile),
		cmocka_unit_test(test_tls_ctx_errors),
		cmocka_unit_test(test_tls_handshake_ok),
		cmocka_unit_test(test_tls_group_brainpool),
		cmocka_unit_test(test_tls_required_cbc_suite),
		cmocka_unit_test(test_tls_refuses_tls11),
		cmocka_unit_test(test_tls_refuses_foreign_suite),
		cmocka_unit_test(test_tls_requires_client_cert),
		cmocka_unit_test(test_tls_refuses_foreign_ca),
		cmocka_unit_test(test_tls_resume_ticket),
		cmocka_unit_test(test_tls_resume_cache),
		cmocka_unit_test(test_keys_files),
		cmocka_unit_test(test_profile_matches_reference),
		cmocka_unit_test(test_profile_usages),
		cmocka_unit_test(test_profile_strict_chain),
		cmocka_unit_test(test_profile_refusals),
		cmocka_unit_test(test_profile_serial),
		cmocka_unit_test(test_profile_names),
		cmocka_unit_test(test_testpki_create),
	};

	return cmocka_run_group_tests_name("crypto", tests, group_setup, group_teardown);
}
