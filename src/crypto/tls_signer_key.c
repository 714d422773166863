/*
 * tls_signer_key.c: an EVP_PKEY whose ECDSA signatures are made by the signer
 * (tls_signer_key.h).
 *
 * Why an EC_KEY_METHOD and not a provider (decided for OpenSSL 3.0, bookworm; see
 * docs/security.md "TLS keys in the signer"): a provider key needs a key manager that
 * libssl recognises as "EC" (its certificate lookup, group and security-bits checks ask
 * the key manager by that name). A second key manager registered under "EC" in the same
 * library context competes with the default provider's in every unqualified fetch:
 * libssl's ECDHE key generation, X509_get_pubkey decoding and EVP_PKEY_CTX_new_from_name
 * may then pick ours (which cannot generate or decode keys) unless every such call site
 * in libssl and in our code passes a property query. OpenSSL 3.0 keeps a supported path
 * for exactly this case: an EC_KEY with a non-default EC_KEY_METHOD is a "foreign" key,
 * which 3.0 never exports to a provider and signs through the legacy ECDSA code, calling
 * the method's sign functions with the finished digest (libp11, which the signer uses for
 * the token, works the same way). These functions are deprecated in 3.0, so this file
 * alone is compiled with the deprecation warnings suppressed; moving to a provider is the
 * path once the legacy code goes (OpenSSL 4) and the key manager can be kept out of
 * unqualified fetches.
 *
 * What crosses to the signer: only the digest OpenSSL computed over the handshake data
 * (32/48/64 bytes) and the key's label; what comes back: the DER ECDSA-Sig-Value.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "crypto/tls_signer_key.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/signer.h"

/* What a key handle remembers: where its private half lives. Freed with the EC_KEY. */
struct tsk_ref {
	char *socket;
	char *label;
};

/* A handshake waits at most this long for the signer (a hung signer, not a dead one). */
#define TSK_TIMEOUT_S 5

/* One signer connection per thread (the protocol is lock-step, the wan multi-threaded). */
struct tsk_conn {
	struct signer_client *sc;
	char *socket;              /* the socket sc is connected to */
	pid_t pid;                 /* a connection inherited over fork() is not used */
	struct tsk_conn *next;     /* tsk_all */
};

/* Every live connection, so the main thread's (whose thread-specific data is never
 * destroyed) stays reachable until exit instead of looking leaked. */
static pthread_mutex_t tsk_all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tsk_conn *tsk_all;

static pthread_once_t tsk_once = PTHREAD_ONCE_INIT;
static pthread_key_t tsk_thread_key;
static EC_KEY_METHOD *tsk_method;
static int tsk_ex_index = -1;
static char *tsk_socket;       /* process-wide default (tls_signer_key_set_socket) */
static atomic_uint_fast64_t tsk_signed, tsk_failed, tsk_rtt_us;
/* Log the first failure of an outage, then one line a minute at most (handshakes fail
 * by the thousand while the signer is away), and the end of the outage. */
static atomic_int_fast64_t tsk_last_log_ms;
static atomic_bool tsk_outage;

static void tsk_conn_free(void *p)
{
	struct tsk_conn *c = p;

	if (c == NULL)
		return;
	pthread_mutex_lock(&tsk_all_mu);
	for (struct tsk_conn **pp = &tsk_all; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&tsk_all_mu);
	if (c->pid == getpid())
		signer_client_close(c->sc);
	free(c->socket);
	free(c);
}

static void tsk_ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
	void *argp)
{
	struct tsk_ref *r = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (r == NULL)
		return;
	free(r->socket);
	free(r->label);
	free(r);
}

static int tsk_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
	unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey);
static ECDSA_SIG *tsk_sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv,
	const BIGNUM *r, EC_KEY *eckey);

static void tsk_init_once(void)
{
	int (*sign_setup)(EC_KEY *, BN_CTX *, BIGNUM **, BIGNUM **) = NULL;

	if (pthread_key_create(&tsk_thread_key, tsk_conn_free) != 0)
		return;
	tsk_ex_index = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, tsk_ref_free);
	/* Everything but signing (verification, key checks) stays OpenSSL's own. */
	tsk_method = EC_KEY_METHOD_new(EC_KEY_OpenSSL());
	if (tsk_method == NULL)
		return;
	EC_KEY_METHOD_get_sign(EC_KEY_OpenSSL(), NULL, &sign_setup, NULL);
	EC_KEY_METHOD_set_sign(tsk_method, tsk_sign, sign_setup, tsk_sign_sig);
}

tw_rc tls_signer_key_set_socket(const char *path, struct tw_error *err)
{
	char *copy = NULL;

	if (path != NULL && (copy = tw_strdup(path)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	free(tsk_socket);
	tsk_socket = copy;
	return TW_OK;
}

tw_rc tls_signer_key_use_home(const struct tw_home *home, struct tw_error *err)
{
	char *path;
	tw_rc rc;

	if (tsk_socket != NULL)
		return TW_OK;
	if ((path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	rc = tls_signer_key_set_socket(path, err);
	free(path);
	return rc;
}

const char *tls_signer_key_socket(void)
{
	return tsk_socket;
}

void tls_signer_key_stats(struct tls_signer_key_stats *out)
{
	out->signed_ok = atomic_load(&tsk_signed);
	out->failed = atomic_load(&tsk_failed);
	out->round_trip_us = atomic_load(&tsk_rtt_us);
}

static uint64_t tsk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* This thread's connection to socket, connected when needed (*fresh then). NULL with err
 * set. */
static struct signer_client *tsk_connection(const char *socket, bool *fresh,
	struct tw_error *err)
{
	struct tsk_conn *c = pthread_getspecific(tsk_thread_key);

	if (c != NULL && (c->pid != getpid() || strcmp(c->socket, socket) != 0)) {
		pthread_setspecific(tsk_thread_key, NULL);
		tsk_conn_free(c);
		c = NULL;
	}
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL || (c->socket = tw_strdup(socket)) == NULL) {
			free(c);
			tw_error_set(err, TW_E_NOMEM, "out of memory");
			return NULL;
		}
		c->pid = getpid();
		pthread_mutex_lock(&tsk_all_mu);
		c->next = tsk_all;
		tsk_all = c;
		pthread_mutex_unlock(&tsk_all_mu);
		pthread_setspecific(tsk_thread_key, c);
	}
	*fresh = c->sc == NULL;
	if (c->sc == NULL && signer_client_connect_timeout(socket, TSK_TIMEOUT_S, &c->sc, err) ==
	    TW_OK)
		signer_client_set_actor(c->sc, "tls-handshake", "service");
	return c->sc;
}

/* Drop this thread's connection (lost, or the signer restarted). */
static void tsk_disconnect(void)
{
	struct tsk_conn *c = pthread_getspecific(tsk_thread_key);

	if (c != NULL && c->sc != NULL) {
		signer_client_close(c->sc);
		c->sc = NULL;
	}
}

/*
 * The signer's DER signature over dgst (*der malloc'ed, caller frees). A connection lost
 * since its last use (signer restarted) is made again once; a fresh connection that fails
 * (signer gone or hung) and other errors are final.
 */
static tw_rc tsk_remote_sign(const struct tsk_ref *ref, const unsigned char *dgst,
	size_t dlen, unsigned char **der, size_t *der_len, struct tw_error *err)
{
	uint64_t t0 = tsk_now_us();
	tw_rc rc = TW_E_INTERNAL;

	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t ta = tsk_now_us();
		bool fresh = false;
		struct signer_client *sc = tsk_connection(ref->socket, &fresh, err);

		if (sc == NULL) {
			rc = err->code != TW_OK ? err->code : TW_E_UNAVAILABLE;
			break;
		}
		rc = signer_sign_data(sc, ref->label, SIGNER_PURPOSE_TLS_HANDSHAKE, dgst, dlen,
			der, der_len, err);
		if (rc != TW_E_UNAVAILABLE && rc != TW_E_PROTOCOL && rc != TW_E_IO)
			break;
		tsk_disconnect();
		/* Retried only for a connection that broke since its last use (a restart):
		 * not a fresh one, and not after waiting out the limit (the signer hangs). */
		if (fresh || tsk_now_us() - ta >= (uint64_t)TSK_TIMEOUT_S * 1000000u)
			break;
	}
	atomic_fetch_add(&tsk_rtt_us, tsk_now_us() - t0);
	if (rc == TW_OK) {
		atomic_fetch_add(&tsk_signed, 1);
		if (atomic_exchange(&tsk_outage, false))
			tw_info("TLS handshake signatures with key '%s' work again (the signer "
				"answers)", ref->label);
	} else {
		int64_t now = tw_monotonic_ms(), last = atomic_load(&tsk_last_log_ms);
		bool first = !atomic_exchange(&tsk_outage, true);

		atomic_fetch_add(&tsk_failed, 1);
		if ((first || now - last >= 60000) &&
		    atomic_compare_exchange_strong(&tsk_last_log_ms, &last, now))
			tw_err("TLS handshake signature with key '%s' failed (%s): %s; handshakes "
				"fail until the signer answers again (%llu failed so far)", ref->label,
				tw_strerror(rc), err->message,
				(unsigned long long)atomic_load(&tsk_failed));
	}
	return rc;
}

static int tsk_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
	unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *eckey)
{
	const struct tsk_ref *ref = EC_KEY_get_ex_data(eckey, tsk_ex_index);
	unsigned char *der = NULL;
	size_t der_len = 0;
	struct tw_error err;
	int ok = 0;

	(void)type;
	(void)kinv;
	(void)r;
	tw_error_clear(&err);
	if (ref == NULL || dlen <= 0) {
		ERR_raise_data(ERR_LIB_EC, ERR_R_PASSED_INVALID_ARGUMENT,
			"not a signer-held TLS key");
		return 0;
	}
	if (tsk_remote_sign(ref, dgst, (size_t)dlen, &der, &der_len, &err) != TW_OK) {
		/* OpenSSL's error queue carries the reason into the handshake's failure. */
		ERR_raise_data(ERR_LIB_EC, ERR_R_OPERATION_FAIL, "signer: %s", err.message);
		goto out;
	}
	/* sig has ECDSA_size(eckey) bytes (the DER maximum for the curve). */
	if (der_len > (size_t)ECDSA_size(eckey)) {
		ERR_raise_data(ERR_LIB_EC, ERR_R_INTERNAL_ERROR,
			"the signer's signature is longer than the curve allows");
		goto out;
	}
	memcpy(sig, der, der_len);
	*siglen = (unsigned int)der_len;
	ok = 1;
out:
	free(der);
	return ok;
}

static ECDSA_SIG *tsk_sign_sig(const unsigned char *dgst, int dgst_len, const BIGNUM *kinv,
	const BIGNUM *r, EC_KEY *eckey)
{
	unsigned char buf[160];
	const unsigned char *p = buf;
	unsigned int len = 0;
	ECDSA_SIG *s;

	if (ECDSA_size(eckey) > (int)sizeof(buf) ||
	    tsk_sign(0, dgst, dgst_len, buf, &len, kinv, r, eckey) != 1)
		return NULL;
	s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (s == NULL || p != buf + len) {
		ECDSA_SIG_free(s);
		ERR_raise_data(ERR_LIB_EC, ERR_R_INTERNAL_ERROR, "the signer's answer is not a "
			"DER ECDSA-Sig-Value");
		return NULL;
	}
	return s;
}

/* The signer's public key for label must be the certificate's. */
static tw_rc tsk_check_signer(const char *socket, const char *label, EVP_PKEY *cert_pub,
	struct tw_error *err)
{
	struct signer_client *sc = NULL;
	EVP_PKEY *pub = NULL;
	struct tw_error cerr;
	tw_rc rc;

	tw_error_clear(&cerr);
	if ((rc = signer_client_connect(socket, &sc, &cerr)) == TW_OK)
		rc = signer_get_public_key(sc, label, &pub, &cerr);
	if (rc == TW_E_UNAVAILABLE) {
		tw_warn("TLS key '%s' is in the signer, which does not answer now (%s): handshakes "
			"fail until it does", label, cerr.message);
		rc = TW_OK;
	} else if (rc == TW_E_NOT_FOUND) {
		rc = tw_error_set(err, rc, "the signer has no TLS key '%s' (%s); a home made "
			"before the TLS keys moved into the signer keeps its key file, or import it "
			"with `torwart ca tls-key-import`", label, cerr.message);
	} else if (rc != TW_OK) {
		rc = tw_error_set(err, rc, "TLS key '%s' in the signer: %s", label, cerr.message);
	} else if (EVP_PKEY_eq(pub, cert_pub) != 1) {
		rc = tw_error_set(err, TW_E_TLS, "the signer's key '%s' does not belong to the "
			"certificate; install the certificate issued for that key", label);
	}
	ERR_clear_error();
	EVP_PKEY_free(pub);
	signer_client_close(sc);
	return rc;
}

tw_rc tls_signer_key_new(const char *socket_path, const char *label, X509 *cert,
	EVP_PKEY **out, struct tw_error *err)
{
	EVP_PKEY *cert_pub, *pkey = NULL;
	const EC_KEY *src;
	EC_KEY *ec = NULL;
	struct tsk_ref *ref = NULL;
	tw_rc rc;

	*out = NULL;
	pthread_once(&tsk_once, tsk_init_once);
	if (tsk_method == NULL || tsk_ex_index < 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set up signer-held TLS keys");
	if (socket_path == NULL || label == NULL)
		return tw_error_set(err, TW_E_CONFIG, "a TLS key in the signer needs the signer's "
			"socket and the key's label");
	if ((cert_pub = X509_get0_pubkey(cert)) == NULL || EVP_PKEY_get_base_id(cert_pub) !=
	    EVP_PKEY_EC)
		return tw_error_set(err, TW_E_TLS, "the TLS certificate for signer key '%s' has no "
			"EC public key", label);
	if ((rc = tsk_check_signer(socket_path, label, cert_pub, err)) != TW_OK)
		return rc;
	/*
	 * The handle: a new EC_KEY of our method with the certificate's group and public
	 * point (not the certificate key's own legacy copy, which stays as it is), plus the
	 * label.
	 */
	if ((src = EVP_PKEY_get0_EC_KEY(cert_pub)) == NULL || (ec = EC_KEY_new()) == NULL ||
	    EC_KEY_set_method(ec, tsk_method) != 1 ||
	    EC_KEY_set_group(ec, EC_KEY_get0_group(src)) != 1 ||
	    EC_KEY_set_public_key(ec, EC_KEY_get0_public_key(src)) != 1 ||
	    (ref = calloc(1, sizeof(*ref))) == NULL ||
	    (ref->socket = tw_strdup(socket_path)) == NULL ||
	    (ref->label = tw_strdup(label)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot make the TLS key handle");
		goto out;
	}
	if (EC_KEY_set_ex_data(ec, tsk_ex_index, ref) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot make the TLS key handle");
		goto out;
	}
	ref = NULL;   /* the EC_KEY's now (tsk_ref_free) */
	if ((pkey = EVP_PKEY_new()) == NULL || EVP_PKEY_assign_EC_KEY(pkey, ec) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot make the TLS key handle");
		goto out;
	}
	ec = NULL;    /* pkey's now */
	*out = pkey;
	pkey = NULL;
	rc = TW_OK;
out:
	if (ref != NULL) {
		free(ref->socket);
		free(ref->label);
		free(ref);
	}
	EC_KEY_free(ec);
	EVP_PKEY_free(pkey);
	return rc;
}
