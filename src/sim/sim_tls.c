/*
 * sim_tls.c: the simulator's TLS client set-up, built for a fleet (sim_internal.h).
 *
 * A visit used to build a whole SSL_CTX for its gateway (profile, trust store read and
 * parsed, certificate, key and chain read and parsed, key checked against certificate)
 * and throw it away afterwards: 14.5 % of all CPU samples of a fleet order, in the
 * process that shares the machine's cores with wan. What a gateway sends on the wire
 * does not depend on where its objects come from, so now:
 *
 *   - one client SSL_CTX (TR-03116-3 profile + trust store) per distinct trust anchor
 *     and chain (by content: a home's gateways all share one), built on first use and
 *     kept until the simulator stops; the chain is parsed once with it;
 *   - each gateway's TLS certificate and private key are parsed and checked against
 *     each other once and kept (one X509 and one EVP_PKEY reference per gateway), and
 *     set per connection with SSL_use_cert_and_key;
 *   - a gateway drops them (and its saved session: never resume the old certificate's
 *     session) when its credentials change: a renewal order sets reload_tls, and a
 *     change of any of the four files on disk (inode, size or modification time, one
 *     stat each per visit) is noticed too, as the old per-visit reload did.
 *
 * Memory: per gateway one parsed certificate and key (a few KB; docs/performance.md has
 * the measured RSS at 10,000 and 100,000 gateways); per trust anchor one context.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "sim/sim_internal.h"

#define SIM_TLS_PEM_MAX 65536   /* root-ca.crt, chain.pem */

static const char *const sim_tls_files[SIM_TLS_FILES] = {
	"tls.crt", "tls.key", "chain.pem", "root-ca.crt"
};

/* One context per distinct trust anchor + chain. */
struct sim_tls_shared {
	unsigned char hash[2 * SHA256_DIGEST_LENGTH];   /* of root-ca.crt and of chain.pem */
	SSL_CTX *ctx;
	STACK_OF(X509) *chain;                      /* sent after the gateway's certificate */
};

static void sim_tls_shared_free(struct sim_tls_shared *s)
{
	if (s == NULL)
		return;
	SSL_CTX_free(s->ctx);
	sk_X509_pop_free(s->chain, X509_free);
	free(s);
}

void sim_tls_cache_free(struct sim_state *st)
{
	for (size_t i = 0; i < st->tls_n; i++)
		sim_tls_shared_free(st->tls[i]);
	free(st->tls);
	st->tls = NULL;
	st->tls_n = 0;
}

void sim_tls_identity_drop(struct sim_gateway *gw)
{
	X509_free(gw->tls_cert);
	gw->tls_cert = NULL;
	EVP_PKEY_free(gw->tls_key);
	gw->tls_key = NULL;
	gw->tls_shared = NULL;
	memset(gw->tls_files, 0, sizeof(gw->tls_files));
}

/* Identity of the file at DIR/name for change detection; TW_E_IO when it is missing. */
static tw_rc sim_tls_stat(const char *dir, const char *name, struct sim_file_id *id,
	struct tw_error *err)
{
	char *path = tw_asprintf("%s/%s", dir, name);
	struct stat sb;
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (stat(path, &sb) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot read %s: %s", path, strerror(errno));
	} else {
		id->dev = (uint64_t)sb.st_dev;
		id->ino = (uint64_t)sb.st_ino;
		id->size = (int64_t)sb.st_size;
		id->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
	}
	free(path);
	return rc;
}

/* The intermediates of chain.pem, in file order. */
static tw_rc sim_tls_parse_chain(const unsigned char *pem, size_t len, const char *path,
	STACK_OF(X509) **out, struct tw_error *err)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *chain = sk_X509_new_null();
	tw_rc rc = TW_OK;
	X509 *x;

	*out = NULL;
	if (bio == NULL || chain == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(chain, x) <= 0) {
			X509_free(x);
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	}
	/* The loop ends with "no start line" at the end; anything else is a damaged file. */
	if (ERR_GET_LIB(ERR_peek_last_error()) == ERR_LIB_PEM &&
	    ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
	} else {
		rc = tw_error_set_openssl(err, TW_E_TLS, "cannot parse the chain file %s", path);
		goto out;
	}
	*out = chain;
	chain = NULL;
out:
	sk_X509_pop_free(chain, X509_free);
	BIO_free(bio);
	return rc;
}

/* The shared context for the gateway's trust anchor and chain (created on first use). */
static tw_rc sim_tls_shared_get(struct sim_state *st, const char *dir,
	struct sim_tls_shared **out, struct tw_error *err)
{
	unsigned char *root = NULL, *chain = NULL, hash[2 * SHA256_DIGEST_LENGTH];
	size_t root_len = 0, chain_len = 0;
	char *root_path = NULL, *chain_path = NULL;
	struct sim_tls_shared *s = NULL, **grown;
	tw_rc rc;

	*out = NULL;
	root_path = tw_asprintf("%s/root-ca.crt", dir);
	chain_path = tw_asprintf("%s/chain.pem", dir);
	if (root_path == NULL || chain_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_read_file(root_path, SIM_TLS_PEM_MAX, &root, &root_len, err)) != TW_OK ||
	    (rc = tw_read_file(chain_path, SIM_TLS_PEM_MAX, &chain, &chain_len, err)) != TW_OK)
		goto out;
	SHA256(root, root_len, hash);
	SHA256(chain, chain_len, hash + SHA256_DIGEST_LENGTH);
	for (size_t i = 0; i < st->tls_n; i++) {
		if (memcmp(st->tls[i]->hash, hash, sizeof(hash)) == 0) {
			*out = st->tls[i];
			goto out;
		}
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (grown = realloc(st->tls, (st->tls_n + 1) * sizeof(*st->tls))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	st->tls = grown;
	memcpy(s->hash, hash, sizeof(hash));
	if ((rc = tls_client_trust_ctx_new(root_path, &s->ctx, err)) != TW_OK ||
	    (rc = sim_tls_parse_chain(chain, chain_len, chain_path, &s->chain, err)) != TW_OK)
		goto out;
	/*
	 * Each gateway keeps its own session (gw->session, SSL_get1_session/SSL_set_session):
	 * the shared context must not cache them, or a session of one gateway could be
	 * offered by another (and the cache would grow with the fleet).
	 */
	SSL_CTX_set_session_cache_mode(s->ctx, SSL_SESS_CACHE_OFF);
	st->tls[st->tls_n++] = s;
	*out = s;
	s = NULL;
out:
	sim_tls_shared_free(s);
	free(root);
	free(chain);
	free(root_path);
	free(chain_path);
	return rc;
}

/* Parse the gateway's certificate and key, check they belong together, keep them. */
static tw_rc sim_tls_identity_load(struct sim_state *st, struct sim_gateway *gw,
	const struct sim_file_id files[SIM_TLS_FILES], struct tw_error *err)
{
	char *cert_path = tw_asprintf("%s/tls.crt", gw->pub.dir);
	char *key_path = tw_asprintf("%s/tls.key", gw->pub.dir);
	struct sim_tls_shared *shared = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	tw_rc rc;

	if (cert_path == NULL || key_path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(cert_path, &cert, err)) != TW_OK ||
	    (rc = keys_read_private_pem(key_path, &key, err)) != TW_OK)
		goto out;
	if (X509_check_private_key(cert, key) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "the TLS key %s does not belong to the "
			"certificate %s; install the key generated with this certificate", key_path,
			cert_path);
		goto out;
	}
	if ((rc = sim_tls_shared_get(st, gw->pub.dir, &shared, err)) != TW_OK)
		goto out;
	gw->tls_cert = cert;
	gw->tls_key = key;
	gw->tls_shared = shared;
	memcpy(gw->tls_files, files, sizeof(gw->tls_files));
	cert = NULL;
	key = NULL;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	free(cert_path);
	free(key_path);
	return rc;
}

tw_rc sim_tls_ssl_new(struct sim_state *st, struct sim_gateway *gw, SSL **out,
	struct tw_error *err)
{
	struct sim_file_id files[SIM_TLS_FILES];
	SSL *ssl = NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	memset(files, 0, sizeof(files));
	for (size_t i = 0; i < SIM_TLS_FILES && rc == TW_OK; i++)
		rc = sim_tls_stat(gw->pub.dir, sim_tls_files[i], &files[i], err);
	if (rc != TW_OK)
		return rc;
	if (gw->tls_cert != NULL && memcmp(files, gw->tls_files, sizeof(files)) != 0) {
		/* Replaced on disk: the saved session belongs to the old certificate. */
		sim_tls_identity_drop(gw);
		SSL_SESSION_free(gw->session);
		gw->session = NULL;
	}
	if (gw->tls_cert == NULL && (rc = sim_tls_identity_load(st, gw, files, err)) != TW_OK)
		return rc;
	ERR_clear_error();
	if ((ssl = SSL_new(gw->tls_shared->ctx)) == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot create a TLS connection");
	/* Takes its own references; the certificate/key match was checked at load. */
	if (SSL_use_cert_and_key(ssl, gw->tls_cert, gw->tls_key, gw->tls_shared->chain, 1) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "OpenSSL refuses the TLS certificate of "
			"%s or its key (weak or unsupported?)", gw->pub.dir);
		SSL_free(ssl);
		return rc;
	}
	*out = ssl;
	return TW_OK;
}
