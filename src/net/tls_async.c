/*
 * tls_async.c: server TLS handshakes in OpenSSL's asynchronous mode beside libevent's
 * bufferevent_openssl (tls_async.h).
 */
#include "net/tls_async.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <openssl/async.h>
#include <openssl/err.h>

#include "crypto/tls_signer_key.h"

/*
 * A paused handshake is resumed at least this often even when its wait fd stays quiet,
 * so the signature's own deadline (tls_signer_key.c) is checked against a hung signer.
 */
#define TA_RECHECK_S 1

/* A callback of the owner the paused job asks the loop to run (ta_on_loop). */
enum ta_call { TA_CALL_NONE = 0, TA_CALL_VERIFY, TA_CALL_INFO };

struct tls_async {
	struct bufferevent *bev;   /* held (incref) until the handshake is over */
	SSL *ssl;                  /* bev's */
	evutil_socket_t fd;
	/*
	 * The socket, persistent, one per direction, each added only while the handshake
	 * waits for it: a handshake that asks for the same direction again (a resumed one:
	 * ClientHello, then the client's Finished) costs no epoll_ctl. Released only after
	 * the bufferevent has its own events back, so the fd never leaves epoll in between.
	 */
	struct event *rd, *wr;
	struct event *wake;        /* the paused job's wait fd (or its timer alone) */
	short enabled;             /* bev's events when taken over, given back at the end */
	/* The owner's SSL callbacks, replaced by the trampolines below while we drive. */
	SSL_verify_cb verify;
	void (*info)(const SSL *, int, int);
	enum ta_call call;         /* set by a trampoline in the job, run by ta_step */
	int call_ok, call_where, call_ret, call_result;
	bool done_pending;         /* the owner's HANDSHAKE_DONE notice, run after the job */
	int done_ret;
	X509_STORE_CTX *call_xs;
};

/*
 * The handshake this thread is driving now (around SSL_do_handshake). The job runs on
 * this thread and only inside that call, so its trampolines find their handshake here.
 */
static _Thread_local struct tls_async *ta_current;

static void ta_step(struct tls_async *t);

/* Process-wide counts (tls_async_stats). */
static atomic_ullong ta_ok, ta_failed, ta_left_paused;

/*
 * Why trampolines: the job runs on OpenSSL's own stack of 32 KiB (OpenSSL 3.0, malloc'ed,
 * no guard page). OpenSSL's handshake code is written for it; the owner's callbacks are
 * not (the wan's verify callback looks the gateway up in the store: SQLite or libpq, and
 * logs). So a callback pauses the job, the loop runs it on its own stack, and the job
 * continues with the result at once.
 */
static bool ta_on_loop(struct tls_async *t)
{
	if (t == NULL || ASYNC_get_current_job() == NULL)
		return false;
	return ASYNC_pause_job() == 1;
}

static int ta_verify_tramp(int ok, X509_STORE_CTX *xs)
{
	struct tls_async *t = ta_current;

	if (t == NULL)
		return 0;    /* installed only while driven: cannot happen */
	t->call = TA_CALL_VERIFY;
	t->call_ok = ok;
	t->call_xs = xs;
	if (ta_on_loop(t))
		return t->call_result;
	t->call = TA_CALL_NONE;
	return t->verify != NULL ? t->verify(ok, xs) : ok;
}

static void ta_info_tramp(const SSL *ssl, int where, int ret)
{
	struct tls_async *t = ta_current;

	if (t == NULL || t->info == NULL)
		return;
	/*
	 * HANDSHAKE_DONE must not pause: libssl marks the handshake finished before it
	 * sends this notice, so the next SSL_do_handshake returns 1 at once instead of
	 * resuming a job paused here, and that job (its 32 KiB stack) was never returned to
	 * OpenSSL's pool: 33 KB lost per full handshake, 223 MiB of wan RSS over a
	 * 10,000-gateway first contact. It is run by ta_step after the job has finished,
	 * on the loop's stack, before the bufferevent sees the connection.
	 */
	if ((where & SSL_CB_HANDSHAKE_DONE) != 0) {
		t->done_pending = true;
		t->done_ret = ret;
		return;
	}
	/*
	 * State-loop notices are many and cheap; the rest may do real work. Not the exit
	 * notice either: it is the job's last act, and libssl forgets on resuming a job what
	 * the handshake was waiting for (it sets SSL_NOTHING before it resumes), which a
	 * pause after the last read would lose. The owner's exit notice runs on the job's
	 * stack (the wan's records a refusal: a log line and a journal entry).
	 */
	if ((where & (SSL_CB_LOOP | SSL_CB_EXIT)) == 0) {
		t->call = TA_CALL_INFO;
		t->call_where = where;
		t->call_ret = ret;
		if (ta_on_loop(t))
			return;
		t->call = TA_CALL_NONE;
	}
	t->info(ssl, where, ret);
}

/* Run the callback the job paused for (on the loop's stack). */
static void ta_run_call(struct tls_async *t)
{
	enum ta_call call = t->call;

	t->call = TA_CALL_NONE;
	if (call == TA_CALL_VERIFY)
		t->call_result = t->verify != NULL ? t->verify(t->call_ok, t->call_xs) :
			t->call_ok;
	else if (call == TA_CALL_INFO)
		t->info(t->ssl, t->call_where, t->call_ret);
}

bool tls_async_wanted(SSL *ssl)
{
	return ssl != NULL && tls_signer_key_is_remote(SSL_get_privatekey(ssl));
}

/* Whether the bufferevent's owner (evhttp) still has it: bufferevent_free clears the
 * callbacks. */
static bool ta_owned(struct bufferevent *bev)
{
	bufferevent_data_cb rcb = NULL, wcb = NULL;
	bufferevent_event_cb ecb = NULL;
	void *arg = NULL;

	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	return rcb != NULL || wcb != NULL || ecb != NULL;
}

static void ta_finish(struct tls_async *t, bool ok)
{
	struct bufferevent *bev = t->bev;

	if (t->wake != NULL)
		event_free(t->wake);
	/* A job still paused now would never be resumed (its stack lost): counted, so a
	 * test sees it. */
	if (SSL_waiting_for_async(t->ssl))
		atomic_fetch_add(&ta_left_paused, 1);
	atomic_fetch_add(ok ? &ta_ok : &ta_failed, 1);
	SSL_clear_mode(t->ssl, SSL_MODE_ASYNC);
	SSL_set_verify(t->ssl, SSL_get_verify_mode(t->ssl), t->verify);
	SSL_set_info_callback(t->ssl, t->info);
	/*
	 * A failed handshake has sent its alert; shutting the socket down makes the
	 * bufferevent's own next step see the end at once, so its owner frees the
	 * connection on the usual path (dirty shutdown allowed: EOF; else ERROR).
	 */
	if (!ok)
		(void)shutdown(t->fd, SHUT_RDWR);
	if (ta_owned(bev)) {
		bufferevent_enable(bev, t->enabled);
		/* Bytes the handshake already read past its end would not wake the socket. */
		if (!ok || SSL_has_pending(t->ssl))
			event_active(&bev->ev_read, EV_READ, 1);
	}
	/* After bufferevent_enable: the fd stays registered, no epoll_ctl either way. */
	if (t->rd != NULL)
		event_free(t->rd);
	if (t->wr != NULL)
		event_free(t->wr);
	free(t);
	bufferevent_decref(bev);
}

static void ta_io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ta_step(arg);
}

/* One of the socket's events (made on first use) added, the other one not. */
static bool ta_want_socket(struct tls_async *t, struct event **want, struct event **other,
	short what)
{
	if (*other != NULL && event_del(*other) != 0)
		return false;
	if (*want == NULL && (*want = event_new(bufferevent_get_base(t->bev), t->fd,
	    what | EV_PERSIST, ta_io_cb, t)) == NULL)
		return false;
	return event_pending(*want, what, NULL) != 0 || event_add(*want, NULL) == 0;
}

/* Wait for what the handshake asked for: the socket, or the paused job's wait fd. */
static bool ta_wait(struct tls_async *t, int want)
{
	struct event_base *base = bufferevent_get_base(t->bev);
	OSSL_ASYNC_FD fds[4];
	size_t n = 0;

	if (t->wake != NULL) {
		event_free(t->wake);
		t->wake = NULL;
	}
	if (want == SSL_ERROR_WANT_READ)
		return ta_want_socket(t, &t->rd, &t->wr, EV_READ);
	if (want == SSL_ERROR_WANT_WRITE)
		return ta_want_socket(t, &t->wr, &t->rd, EV_WRITE);
	/* WANT_ASYNC: the socket must not wake the paused job (a persistent event on
	 * unread bytes would fire on every turn of the loop). */
	if ((t->rd != NULL && event_del(t->rd) != 0) || (t->wr != NULL && event_del(t->wr) != 0))
		return false;
	/* The signer connection's fd (tls_signer_key.c sets exactly one). */
	if (SSL_get_all_async_fds(t->ssl, NULL, &n) != 1 || n > 4 ||
	    (n > 0 && SSL_get_all_async_fds(t->ssl, fds, &n) != 1))
		return false;
	t->wake = event_new(base, n > 0 ? fds[0] : -1, n > 0 ? EV_READ : 0, ta_io_cb, t);
	return t->wake != NULL &&
		event_add(t->wake, &(struct timeval){ TA_RECHECK_S, 0 }) == 0;
}

static void ta_step(struct tls_async *t)
{
	int r, e;

	ERR_clear_error();
	for (;;) {
		ta_current = t;
		r = SSL_do_handshake(t->ssl);
		ta_current = NULL;
		if (r == 1 || t->call == TA_CALL_NONE)
			break;
		ta_run_call(t);    /* the job paused for a callback: run it, resume at once */
	}
	if (r == 1) {
		if (t->done_pending && t->info != NULL) {
			t->done_pending = false;
			t->info(t->ssl, SSL_CB_HANDSHAKE_DONE, t->done_ret);
		}
		ta_finish(t, true);
		return;
	}
	e = SSL_get_error(t->ssl, r);
	/* A paused job is always resumed (tls_async.h); otherwise an owner that gave the
	 * connection up ends the handshake here. */
	if (e == SSL_ERROR_WANT_ASYNC ||
	    ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && ta_owned(t->bev))) {
		if (ta_wait(t, e))
			return;
	}
	/* Failed (the reason is in OpenSSL's error queue, logged by the owner's callbacks),
	 * or no event could be made. */
	ta_finish(t, false);
}

bool tls_async_handshake(struct bufferevent *bev)
{
	SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	struct tls_async *t;

	if (ssl == NULL || fd < 0 || !SSL_in_before(ssl) || SSL_is_server(ssl) != 1 ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return false;
	t->bev = bev;
	t->ssl = ssl;
	t->fd = fd;
	t->enabled = bufferevent_get_enabled(bev);
	t->verify = SSL_get_verify_callback(ssl);
	t->info = SSL_get_info_callback(ssl);
	SSL_set_verify(ssl, SSL_get_verify_mode(ssl), ta_verify_tramp);
	SSL_set_info_callback(ssl, ta_info_tramp);
	bufferevent_incref(bev);
	/*
	 * Our read event first, then the bufferevent's off: the fd stays in epoll (no
	 * epoll_ctl DEL and ADD); the ClientHello is usually there already.
	 */
	(void)ta_want_socket(t, &t->rd, &t->wr, EV_READ);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	SSL_set_mode(ssl, SSL_MODE_ASYNC);
	ta_step(t);
	return true;
}

void tls_async_stats(struct tls_async_stats *out)
{
	out->handshakes_ok = atomic_load(&ta_ok);
	out->handshakes_failed = atomic_load(&ta_failed);
	out->jobs_left_paused = atomic_load(&ta_left_paused);
}
