/*
 * wan_tls_reload.c: the wan takes a new TLS server certificate and key without a restart
 * (issue 12: the GWA's own TLS certificate is renewed while gateways keep connecting).
 *
 * How: the server's SSL_CTX pointer is swapped under a mutex. Every accepted connection
 * takes the current context (wan_tls_ssl_new); an SSL holds its own reference to the
 * context it was made from, so connections and sessions already running finish with the
 * old one, which OpenSSL frees with the last of them. Nothing is dropped.
 *
 * When: SIGHUP (wan_run) forces a reload; besides, wan_run looks at the files every
 * [wan] tls_reload_check seconds (default 30, 0 = only on SIGHUP) and reloads when one of
 * them changed (inode, size or mtime), so `torwart gwa renew` or an operator who copies
 * new files needs no signal (the CLI may run as a user that cannot signal the wan).
 *
 * The new context is built by the same function as at start (wan_tls_ctx, which calls
 * tls_server_ctx_new): whatever tls.c checks (key belongs to the certificate, profile,
 * trust) is checked again. A refused pair is logged as an error once per change of the
 * files, and the previous context stays in use. A certificate outside its validity period
 * is refused here too: the wan would present a certificate no gateway accepts.
 *
 * Session resumption across a reload: the new context gets the old one's ticket keys, so
 * gateways keep resuming their sessions (a ticket carries the client's identity, not the
 * server certificate); the session-id cache starts empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "wan/wan_internal.h"

/* The files the context is built from, in wan_tls_ctx's order and with its keys. */
enum { WTR_CERT, WTR_KEY, WTR_CHAIN, WTR_TRUST, WTR__COUNT };

struct wtr_stamp {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct wan_tls_reload {
	pthread_mutex_t lock;                 /* guards srv->ctx */
	const struct tw_home *home;           /* borrowed: lives as long as the wan */
	long lifetime;                        /* [wan] session_lifetime */
	char *paths[WTR__COUNT];
	struct wtr_stamp seen[WTR__COUNT];    /* the files as last loaded or refused */
	unsigned long long reloads, refusals;
};

static void wtr_stamp_take(const char *path, struct wtr_stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (path == NULL || stat(path, &st) != 0)
		return;   /* absent: a change like any other, the reload then says why */
	s->present = true;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

static bool wtr_stamp_equal(const struct wtr_stamp *a, const struct wtr_stamp *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
		a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
		a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The certificate's serial as hex (for the log), or "?" */
static void wtr_serial(SSL_CTX *ctx, char *out, size_t n)
{
	X509 *x = ctx != NULL ? SSL_CTX_get0_certificate(ctx) : NULL;
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, n, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

tw_rc wan_tls_reload_init(struct wan_server *srv, const struct tw_home *home, long lifetime,
	struct tw_error *err)
{
	struct wan_tls_reload *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		return tw_error_set(err, TW_E_NOMEM, "cannot create the TLS reload lock");
	}
	r->home = home;
	r->lifetime = lifetime;
	r->paths[WTR_CERT] = tw_home_path(home, "wan", "cert", TW_HOME_GWA_TLS_CERT);
	r->paths[WTR_KEY] = tw_home_path(home, "wan", "key", TW_HOME_GWA_TLS_KEY);
	r->paths[WTR_CHAIN] = tw_home_path(home, "wan", "chain", TW_HOME_SUBCA_CERT);
	r->paths[WTR_TRUST] = tw_home_path(home, "wan", "trust", TW_HOME_CHAIN);
	srv->tls = r;
	for (int i = 0; i < WTR__COUNT; i++) {
		if (r->paths[i] == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		/* Taken before the first load: a change during it is seen by the next check. */
		wtr_stamp_take(r->paths[i], &r->seen[i]);
	}
	return TW_OK;
}

void wan_tls_reload_free(struct wan_server *srv)
{
	struct wan_tls_reload *r = srv != NULL ? srv->tls : NULL;

	if (r == NULL)
		return;
	for (int i = 0; i < WTR__COUNT; i++)
		free(r->paths[i]);
	pthread_mutex_destroy(&r->lock);
	free(r);
	srv->tls = NULL;
}

SSL *wan_tls_ssl_new(struct wan_server *srv)
{
	SSL *ssl;

	if (srv->tls == NULL)
		return SSL_new(srv->ctx);
	pthread_mutex_lock(&srv->tls->lock);
	ssl = SSL_new(srv->ctx);   /* takes its own reference to the context */
	pthread_mutex_unlock(&srv->tls->lock);
	return ssl;
}

/* A certificate the wan may present now: inside its validity period. */
static tw_rc wtr_check_validity(SSL_CTX *ctx, const char *path, struct tw_error *err)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);

	if (x == NULL)
		return tw_error_set(err, TW_E_TLS, "%s holds no certificate", path);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		return tw_error_set(err, TW_E_TLS, "the certificate %s has expired; install a "
			"current one", path);
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		return tw_error_set(err, TW_E_TLS, "the certificate %s is not valid yet; install "
			"it once its validity begins", path);
	return TW_OK;
}

enum wan_tls_reload_result wan_tls_reload(struct wan_server *srv, bool force)
{
	struct wan_tls_reload *r = srv->tls;
	struct wtr_stamp now[WTR__COUNT];
	unsigned char keys[80];
	char old_serial[80], new_serial[80];
	SSL_CTX *fresh = NULL, *old;
	struct tw_error e;
	bool changed = false;
	tw_rc rc;

	if (r == NULL)
		return WAN_TLS_UNCHANGED;
	for (int i = 0; i < WTR__COUNT; i++) {
		wtr_stamp_take(r->paths[i], &now[i]);
		changed = changed || !wtr_stamp_equal(&now[i], &r->seen[i]);
	}
	if (!changed && !force)
		return WAN_TLS_UNCHANGED;
	/* Remembered before loading: a refused set is not retried until it changes again. */
	memcpy(r->seen, now, sizeof(now));
	memset(&e, 0, sizeof(e));
	rc = wan_tls_ctx(r->home, r->lifetime, &fresh, &e);
	if (rc == TW_OK)
		rc = wtr_check_validity(fresh, r->paths[WTR_CERT], &e);
	if (rc != TW_OK) {
		SSL_CTX_free(fresh);
		r->refusals++;
		wtr_serial(srv->ctx, old_serial, sizeof(old_serial));
		tw_err("wan: new TLS certificate/key refused, still serving serial %s: %s",
			old_serial, e.message);
		ERR_clear_error();
		return WAN_TLS_REFUSED;
	}
	/* Keep resumption across the reload (see the top of this file). */
	if (SSL_CTX_get_tlsext_ticket_keys(srv->ctx, keys, sizeof(keys)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(fresh, keys, sizeof(keys)) != 1)
		tw_warn("wan: TLS ticket keys not carried over; gateways do one full handshake");
	OPENSSL_cleanse(keys, sizeof(keys));
	ERR_clear_error();
	wtr_serial(fresh, new_serial, sizeof(new_serial));

	pthread_mutex_lock(&r->lock);
	old = srv->ctx;
	srv->ctx = fresh;
	pthread_mutex_unlock(&r->lock);
	wtr_serial(old, old_serial, sizeof(old_serial));
	/* Connections made from the old context hold references; it goes with the last. */
	SSL_CTX_free(old);
	r->reloads++;
	tw_info("wan: TLS certificate reloaded: new connections use serial %s (was %s)",
		new_serial, old_serial);
	return WAN_TLS_RELOADED;
}
