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

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
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

/*
 * Handshakes of one thread that may be at the signer at once (asynchronous mode, one
 * connection each): with the wan's loops one per core this bounds the signer's
 * connections from a wan to cores x TSK_ASYNC_MAX (its own limit is SIGNER_MAX_CONNS).
 * A handshake beyond it signs synchronously on the thread's own connection.
 */
#define TSK_ASYNC_MAX 32

/*
 * One signer connection per thread for synchronous signatures (the protocol is
 * lock-step, the wan multi-threaded), plus the thread's pool for asynchronous ones
 * (a handshake that runs in an OpenSSL ASYNC job, tls_async.h): each request in flight
 * has a connection of its own, which goes back to the pool once its answer is read.
 */
struct tsk_conn {
	struct signer_client *sc;
	struct signer_client *idle[TSK_ASYNC_MAX];   /* pool: connected, nothing in flight */
	int nidle;
	int inflight;              /* asynchronous requests at the signer now */
	char *socket;              /* the socket sc and the pool are connected to */
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
	if (c->pid == getpid()) {
		signer_client_close(c->sc);
		for (int i = 0; i < c->nidle; i++)
			signer_client_close(c->idle[i]);
	}
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

/* This thread's connection state for socket (made when needed). NULL with err set. */
static struct tsk_conn *tsk_thread_conn(const char *socket, struct tw_error *err)
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
	return c;
}

/* This thread's connection to socket, connected when needed (*fresh then). NULL with err
 * set. */
static struct signer_client *tsk_connection(const char *socket, bool *fresh,
	struct tw_error *err)
{
	struct tsk_conn *c = tsk_thread_conn(socket, err);

	if (c == NULL)
		return NULL;
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
 * The signer's DER signature over dgst on the thread's own connection, waiting for it
 * (*der malloc'ed, caller frees). A connection lost since its last use (signer
 * restarted) is made again once; a fresh connection that fails (signer gone or hung) and
 * other errors are final.
 */
static tw_rc tsk_sync_sign(const struct tsk_ref *ref, const unsigned char *dgst,
	size_t dlen, unsigned char **der, size_t *der_len, struct tw_error *err)
{
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
	return rc;
}

/* The key of the signer connection's fd in an SSL's ASYNC_WAIT_CTX (its address). */
static const char tsk_wait_key = 0;

/*
 * Called by OpenSSL when the SSL (and so its wait context) is freed while its signature
 * is still at the signer (the connection went away meanwhile): the answer will never be
 * read, so that signer connection cannot be reused. The paused job is not resumed.
 */
static void tsk_wait_cleanup(ASYNC_WAIT_CTX *ctx, const void *key, OSSL_ASYNC_FD fd,
	void *custom)
{
	struct tsk_conn *c = pthread_getspecific(tsk_thread_key);

	(void)ctx;
	(void)key;
	(void)fd;
	if (c != NULL && c->inflight > 0)
		c->inflight--;
	signer_client_close(custom);
}

/*
 * The asynchronous signature, inside the handshake's ASYNC job: send the request on a
 * pooled connection, publish its fd as the job's wait fd and pause; the loop resumes the
 * handshake when the fd is readable (the answer, or EOF from a dead signer) or its timer
 * fires (then the deadline is checked and the job pauses again). A connection from the
 * pool that fails on send (the signer restarted since) is replaced once by a fresh one.
 */
static tw_rc tsk_async_sign(const struct tsk_ref *ref, ASYNC_JOB *job,
	const unsigned char *dgst, size_t dlen, unsigned char **der, size_t *der_len,
	struct tw_error *err)
{
	ASYNC_WAIT_CTX *wctx = ASYNC_get_wait_ctx(job);
	struct signer_client *sc = NULL;
	struct tsk_conn *c;
	uint64_t deadline;
	bool timed_out = false;
	tw_rc rc = TW_E_INTERNAL;

	if (wctx == NULL)
		return tsk_sync_sign(ref, dgst, dlen, der, der_len, err);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh;

		if ((c = tsk_thread_conn(ref->socket, err)) == NULL)
			return err->code;
		fresh = c->nidle == 0;
		if (!fresh) {
			sc = c->idle[--c->nidle];
		} else if ((rc = signer_client_connect_timeout(ref->socket, TSK_TIMEOUT_S, &sc,
		    err)) != TW_OK) {
			return rc;
		} else {
			signer_client_set_actor(sc, "tls-handshake", "service");
		}
		if ((rc = signer_sign_data_send(sc, ref->label, SIGNER_PURPOSE_TLS_HANDSHAKE, dgst,
		    dlen, err)) == TW_OK)
			break;
		signer_client_close(sc);
		sc = NULL;
		if (fresh || (rc != TW_E_UNAVAILABLE && rc != TW_E_PROTOCOL && rc != TW_E_IO))
			return rc;
	}
	if (sc == NULL)
		return rc;
	if (ASYNC_WAIT_CTX_set_wait_fd(wctx, &tsk_wait_key, signer_client_fd(sc), sc,
	    tsk_wait_cleanup) != 1) {
		signer_client_close(sc);
		return tw_error_set(err, TW_E_INTERNAL, "cannot wait for the signer's answer");
	}
	c->inflight++;
	deadline = tsk_now_us() + (uint64_t)TSK_TIMEOUT_S * 1000000u;
	for (;;) {
		struct pollfd pfd = { .fd = signer_client_fd(sc), .events = POLLIN };

		if (ASYNC_pause_job() != 1) {
			rc = tw_error_set(err, TW_E_INTERNAL, "cannot pause the handshake");
			break;
		}
		if (poll(&pfd, 1, 0) > 0) {
			rc = TW_OK;
			break;
		}
		if (tsk_now_us() >= deadline) {
			timed_out = true;
			rc = tw_error_set(err, TW_E_UNAVAILABLE, "signer at %s: no answer within %d "
				"s", ref->socket, TSK_TIMEOUT_S);
			break;
		}
	}
	ASYNC_WAIT_CTX_clear_fd(wctx, &tsk_wait_key);
	/* Resumed on the loop that paused it: the same thread, the same tsk_conn. */
	c = pthread_getspecific(tsk_thread_key);
	if (c != NULL && c->inflight > 0)
		c->inflight--;
	if (rc == TW_OK)
		rc = signer_sign_data_recv(sc, der, der_len, err);
	if (rc == TW_OK && !timed_out && c != NULL && c->pid == getpid() &&
	    c->nidle < TSK_ASYNC_MAX && strcmp(c->socket, ref->socket) == 0)
		c->idle[c->nidle++] = sc;
	else
		signer_client_close(sc);
	return rc;
}

/* Whether this signature may wait asynchronously: inside an ASYNC job (a handshake the
 * loop drives, tls_async.h) and below the thread's limit of requests in flight. */
static ASYNC_JOB *tsk_async_job(void)
{
	ASYNC_JOB *job = ASYNC_get_current_job();
	struct tsk_conn *c;

	if (job == NULL)
		return NULL;
	c = pthread_getspecific(tsk_thread_key);
	return c == NULL || c->inflight < TSK_ASYNC_MAX ? job : NULL;
}

/*
 * The signer's DER signature over dgst (*der malloc'ed, caller frees), asynchronously
 * when the handshake runs in an ASYNC job, else synchronously; counted and logged.
 */
static tw_rc tsk_remote_sign(const struct tsk_ref *ref, const unsigned char *dgst,
	size_t dlen, unsigned char **der, size_t *der_len, struct tw_error *err)
{
	uint64_t t0 = tsk_now_us();
	ASYNC_JOB *job = tsk_async_job();
	tw_rc rc;

	if (job != NULL)
		rc = tsk_async_sign(ref, job, dgst, dlen, der, der_len, err);
	else
		rc = tsk_sync_sign(ref, dgst, dlen, der, der_len, err);
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

bool tls_signer_key_is_remote(const EVP_PKEY *pkey)
{
	const EC_KEY *ec;

	if (pkey == NULL || tsk_method == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
		return false;
	ec = EVP_PKEY_get0_EC_KEY(pkey);
	return ec != NULL && EC_KEY_get_method(ec) == tsk_method;
}
