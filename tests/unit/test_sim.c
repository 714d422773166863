/*
 * test_sim.c: the simulator's TLS client set-up (src/sim/sim_tls.c): gateways share one
 * client context per trust anchor, each connection carries the gateway's own
 * certificate, chain and key (proved by a handshake in memory against the wan's server
 * context, full and resumed), the parsed identity is kept between visits, and it is
 * dropped and reloaded (with the saved session) when the files change on disk or a
 * renewal asks for it. A key that does not belong to the certificate is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "sim/sim_internal.h"
#include "pki_fixture.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *gw, const char *file)
{
	snprintf(out, n, "%s/%s%s%s", dir, gw, gw[0] != '\0' ? "/" : "", file);
}

static void put_certs(const char *gw, const char *file, X509 *const *certs, size_t n)
{
	char p[256];
	struct tw_error err;

	path_of(p, sizeof(p), gw, file);
	if (keys_write_certs_pem(p, certs, n, &err) != TW_OK)
		fail_msg("%s: %s", p, err.message);
}

static void put_key(const char *gw, const char *file, EVP_PKEY *key)
{
	char p[256], tmp[272];
	struct tw_error err;

	path_of(p, sizeof(p), gw, file);
	/* Written aside and renamed over, as a renewal installs keys (new inode). */
	snprintf(tmp, sizeof(tmp), "%s.new", p);
	(void)unlink(tmp);
	if (keys_write_private_pem(tmp, key, &err) != TW_OK)
		fail_msg("%s: %s", tmp, err.message);
	assert_int_equal(rename(tmp, p), 0);
}

/* A gateway directory with its own TLS key and certificate under fx.sub. */
static void make_gateway(const char *gw, struct party *p, const struct party *root)
{
	char d[160];
	X509 *chain[2] = { fx.sub.cert, root->cert };

	pki_fixture_make_party(p, PKI_USAGE_TLS, gw, &fx.sub);
	path_of(d, sizeof(d), gw, "");
	assert_int_equal(tw_mkdir_p(d, 0700, NULL), TW_OK);
	put_key(gw, "tls.key", p->key);
	put_certs(gw, "tls.crt", &p->cert, 1);
	put_certs(gw, "chain.pem", chain, 2);
	put_certs(gw, "root-ca.crt", &root->cert, 1);
}

static int setup(void **state)
{
	X509 *chain[2];

	pki_fixture_setup(state);
	chain[0] = fx.sub.cert;
	chain[1] = fx.root.cert;
	snprintf(dir, sizeof(dir), "/tmp/test_sim.XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* The wan's side: its TLS certificate, the chain, the root as trust anchor. */
	put_key("", "wan.key", fx.gwa_tls.key);
	put_certs("", "wan.crt", &fx.gwa_tls.cert, 1);
	put_certs("", "wan-chain.pem", chain, 2);
	put_certs("", "root.pem", &fx.root.cert, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return pki_fixture_teardown(state);
}

static SSL_CTX *server_ctx(void)
{
	char cert[160], key[160], chain[160], trust[160];
	struct tls_profile_config cfg;
	struct tw_error err;
	SSL_CTX *ctx = NULL;

	path_of(cert, sizeof(cert), "", "wan.crt");
	path_of(key, sizeof(key), "", "wan.key");
	path_of(chain, sizeof(chain), "", "wan-chain.pem");
	path_of(trust, sizeof(trust), "", "root.pem");
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.chain_file = chain, .trust_file = trust };
	if (tls_server_ctx_new(&cfg, &ctx, &err) != TW_OK)
		fail_msg("server context: %s", err.message);
	return ctx;
}

/* A handshake in memory; true when both ends completed it. Consumes c. */
static bool handshake(SSL *c, SSL_CTX *sctx, X509 **peer, SSL_SESSION **session,
	bool *reused)
{
	SSL *s = SSL_new(sctx);
	BIO *bc = NULL, *bs = NULL;
	bool ok = false;

	assert_non_null(s);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (int i = 0; i < 64 && !ok; i++) {
		int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);

		if (rc == 1 && rs == 1)
			ok = true;
		else if ((rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(c, rc) != SSL_ERROR_WANT_WRITE) ||
		    (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(s, rs) != SSL_ERROR_WANT_WRITE))
			break;
	}
	if (ok) {
		if (peer != NULL)
			*peer = SSL_get1_peer_certificate(s);
		if (session != NULL)
			*session = SSL_get1_session(c);
		if (reused != NULL)
			*reused = SSL_session_reused(c) == 1;
		(void)SSL_shutdown(c);
		(void)SSL_shutdown(s);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	return ok;
}

static void gateway_init(struct sim_gateway *gw, char *path, size_t n, const char *id)
{
	memset(gw, 0, sizeof(*gw));
	path_of(path, n, id, "");
	path[strlen(path) - 1] = '\0';   /* no trailing slash */
	gw->pub.dir = path;
}

static void test_shared_context_own_identity(void **state)
{
	struct party a, b;
	struct sim_state st;
	struct sim_gateway ga, gb;
	char pa[160], pb[160];
	SSL_CTX *sctx = server_ctx();
	SSL *ca = NULL, *cb = NULL;
	X509 *peer = NULL, *kept;
	SSL_SESSION *sess = NULL;
	struct tw_error err;
	bool reused = true;

	(void)state;
	make_gateway("GW-A", &a, &fx.root);
	make_gateway("GW-B", &b, &fx.root);
	memset(&st, 0, sizeof(st));
	gateway_init(&ga, pa, sizeof(pa), "GW-A");
	gateway_init(&gb, pb, sizeof(pb), "GW-B");

	assert_int_equal(sim_tls_ssl_new(&st, &ga, &ca, &err), TW_OK);
	assert_int_equal(sim_tls_ssl_new(&st, &gb, &cb, &err), TW_OK);
	/* One context for both gateways (same root and chain), each its own certificate. */
	assert_int_equal(st.tls_n, 1);
	assert_ptr_equal(SSL_get_SSL_CTX(ca), SSL_get_SSL_CTX(cb));
	assert_int_equal(X509_cmp(SSL_get_certificate(ca), a.cert), 0);
	assert_int_equal(X509_cmp(SSL_get_certificate(cb), b.cert), 0);

	/* What the wan sees: the gateway's certificate, verified through the chain. */
	assert_true(handshake(ca, sctx, &peer, &sess, &reused));
	assert_false(reused);
	assert_non_null(peer);
	assert_int_equal(X509_cmp(peer, a.cert), 0);
	X509_free(peer);
	peer = NULL;
	assert_true(handshake(cb, sctx, &peer, NULL, NULL));
	assert_int_equal(X509_cmp(peer, b.cert), 0);
	X509_free(peer);
	peer = NULL;

	/* The next visit: the same parsed objects, and the saved session resumes. */
	kept = ga.tls_cert;
	assert_int_equal(sim_tls_ssl_new(&st, &ga, &ca, &err), TW_OK);
	assert_ptr_equal(ga.tls_cert, kept);
	assert_int_equal(SSL_set_session(ca, sess), 1);
	assert_true(handshake(ca, sctx, &peer, NULL, &reused));
	assert_true(reused);
	assert_int_equal(X509_cmp(peer, a.cert), 0);
	X509_free(peer);
	SSL_SESSION_free(sess);

	sim_gw_free(&ga);
	sim_gw_free(&gb);
	sim_tls_cache_free(&st);
	pki_fixture_party_free(&a);
	pki_fixture_party_free(&b);
	SSL_CTX_free(sctx);
}

static void test_reload_on_change(void **state)
{
	struct party a, renewed;
	struct sim_state st;
	struct sim_gateway ga;
	char pa[160];
	SSL_CTX *sctx = server_ctx();
	SSL *c = NULL;
	X509 *peer = NULL;
	struct tw_error err;

	(void)state;
	make_gateway("GW-R", &a, &fx.root);
	memset(&st, 0, sizeof(st));
	gateway_init(&ga, pa, sizeof(pa), "GW-R");
	assert_int_equal(sim_tls_ssl_new(&st, &ga, &c, &err), TW_OK);
	assert_true(handshake(c, sctx, NULL, &ga.session, NULL));
	assert_non_null(ga.session);

	/* Renewed on disk (new files, renamed over the old): the next visit uses them and
	 * does not offer the old certificate's session. */
	pki_fixture_make_party(&renewed, PKI_USAGE_TLS, "GW-R", &fx.sub);
	put_key("GW-R", "tls.key", renewed.key);
	put_certs("GW-R", "tls.crt.new", &renewed.cert, 1);
	{
		char from[192], to[192];

		path_of(from, sizeof(from), "GW-R", "tls.crt.new");
		path_of(to, sizeof(to), "GW-R", "tls.crt");
		assert_int_equal(rename(from, to), 0);
	}
	assert_int_equal(sim_tls_ssl_new(&st, &ga, &c, &err), TW_OK);
	assert_null(ga.session);
	assert_int_equal(X509_cmp(SSL_get_certificate(c), renewed.cert), 0);
	assert_true(handshake(c, sctx, &peer, NULL, NULL));
	assert_int_equal(X509_cmp(peer, renewed.cert), 0);
	X509_free(peer);

	/* A renewal order's reload_tls path: drop, then the next visit parses again. */
	sim_tls_identity_drop(&ga);
	assert_null(ga.tls_cert);
	assert_int_equal(sim_tls_ssl_new(&st, &ga, &c, &err), TW_OK);
	assert_int_equal(X509_cmp(SSL_get_certificate(c), renewed.cert), 0);
	SSL_free(c);
	assert_int_equal(st.tls_n, 1);

	sim_gw_free(&ga);
	sim_tls_cache_free(&st);
	pki_fixture_party_free(&a);
	pki_fixture_party_free(&renewed);
	SSL_CTX_free(sctx);
}

static void test_other_anchor_and_bad_key(void **state)
{
	struct party a, b;
	struct sim_state st;
	struct sim_gateway ga, gb;
	char pa[160], pb[160];
	SSL *c = NULL;
	struct tw_error err;

	(void)state;
	make_gateway("GW-F", &a, &fx.foreign_root);
	make_gateway("GW-K", &b, &fx.root);
	memset(&st, 0, sizeof(st));
	gateway_init(&ga, pa, sizeof(pa), "GW-F");
	gateway_init(&gb, pb, sizeof(pb), "GW-K");
	assert_int_equal(sim_tls_ssl_new(&st, &ga, &c, &err), TW_OK);
	SSL_free(c);
	c = NULL;
	/* The key of another party: refused with a clear error, nothing kept. */
	put_key("GW-K", "tls.key", fx.k_tls);
	assert_int_equal(sim_tls_ssl_new(&st, &gb, &c, &err), TW_E_TLS);
	assert_null(c);
	assert_non_null(strstr(err.message, "does not belong"));
	assert_null(gb.tls_cert);
	assert_null(gb.tls_key);
	/* Its own key back: accepted, with a second context (another trust anchor). */
	put_key("GW-K", "tls.key", b.key);
	assert_int_equal(sim_tls_ssl_new(&st, &gb, &c, &err), TW_OK);
	SSL_free(c);
	assert_int_equal(st.tls_n, 2);

	sim_gw_free(&ga);
	sim_gw_free(&gb);
	sim_tls_cache_free(&st);
	pki_fixture_party_free(&a);
	pki_fixture_party_free(&b);
}

/*
 * state.json saves: each save is complete and read back as written; the file is swapped
 * in (RENAME_EXCHANGE), so after the first two saves state.json alternates between the
 * same two files instead of a new file per save (the old create + rename allocated an
 * inode and freed the replaced one each time, most of a save's cost on ext4): a
 * descriptor opened on state.json stays on a linked file that is state.json again two
 * saves later (with rename, the replaced file was unlinked).
 */
static void test_state_save(void **state)
{
	char gwdir[128], p[192];
	struct sim_gateway gw;
	struct tw_error err;
	struct stat sb, now;
	int fd = -1;
	FILE *f;

	(void)state;
	snprintf(gwdir, sizeof(gwdir), "%s/state-gw", dir);
	assert_int_equal(mkdir(gwdir, 0700), 0);
	snprintf(p, sizeof(p), "%s/id", gwdir);
	assert_non_null(f = fopen(p, "w"));
	fputs("ETWASTATE0001\n", f);
	fclose(f);
	memset(&gw, 0, sizeof(gw));
	gw.pub.dir = gwdir;
	assert_int_equal(sim_gw_load(&gw, &err), TW_OK);
	snprintf(p, sizeof(p), "%s/state.json", gwdir);
	for (int i = 0; i < 5; i++) {
		unsigned char *text = NULL;
		size_t len = 0;
		json_t *back;

		/* A shorter state after a longer one: no stale tail may remain. */
		json_object_set_new(gw.pub.state, "n", json_integer(i));
		if (i == 1)
			json_object_set_new(gw.pub.state, "pad", json_string("xxxxxxxxxxxxxxxxxxxx"));
		if (i == 2)
			json_object_del(gw.pub.state, "pad");
		assert_int_equal(sim_gw_save(&gw, &err), TW_OK);
		assert_int_equal(tw_read_file(p, 4096, &text, &len, &err), TW_OK);
		back = json_loadb((const char *)text, len, 0, NULL);
		assert_non_null(back);
		assert_true(json_equal(back, gw.pub.state));
		json_decref(back);
		free(text);
		if (i == 2)
			assert_true((fd = open(p, O_RDONLY | O_CLOEXEC)) >= 0);
	}
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(stat(p, &now), 0);
	assert_int_equal((int)sb.st_nlink, 1);
	assert_true(sb.st_ino == now.st_ino && sb.st_dev == now.st_dev);
	close(fd);
	/* What a restarted simulator reads is the last save. */
	sim_gw_free(&gw);
	memset(&gw, 0, sizeof(gw));
	gw.pub.dir = gwdir;
	assert_int_equal(sim_gw_load(&gw, &err), TW_OK);
	assert_int_equal(json_integer_value(json_object_get(gw.pub.state, "n")), 4);
	sim_gw_free(&gw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_context_own_identity),
		cmocka_unit_test(test_reload_on_change),
		cmocka_unit_test(test_other_anchor_and_bad_key),
		cmocka_unit_test(test_state_save),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
