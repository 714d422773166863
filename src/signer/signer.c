/*
 * signer.c: the signer process: the only holder of the PKCS#11 token and of the home's
 * data key (DESIGN.md principle 1). This file is its connection side: the socket, the
 * poll loop, framing, and the dispatch of each request after checking that the caller's
 * service (by SO_PEERCRED uid, signer_peer.h) may ask for it. The operations themselves
 * are in signer_ops.c (keys), signer_secrets.c (activation, data key) and their
 * admin-log entries in signer_audit.c (signer_internal.h has the map).
 *
 * One poll() loop serves every connection; requests are handled inline because a token
 * signature takes well under a millisecond. Each connection is lock-step (we read its
 * next request only after its previous response is flushed), which bounds memory per
 * client to one frame in and one frame out.
 */
#include "signer/signer_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "crypto/signer.h"
#include "signer/signer_crl.h"
#include "signer/signer_keys.h"
#include "signer/signer_metrics.h"
#include "signer/signer_server.h"
#include "store/store.h"

static volatile sig_atomic_t signer_stop;

/* ---------------- dispatch ---------------- */

static tw_rc op_hello(struct conn *c, const struct signer_msg *m, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = signer_msg_require(m, 0, SIGNER_BIT(SIGNER_TAG_ACTOR) |
	    SIGNER_BIT(SIGNER_TAG_ROLE), err)) != TW_OK)
		return rc;
	if (m->f[SIGNER_TAG_ACTOR].present) {
		free(c->actor);
		if ((c->actor = signer_field_strdup(&m->f[SIGNER_TAG_ACTOR])) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	if (m->f[SIGNER_TAG_ROLE].present) {
		free(c->role);
		if ((c->role = signer_field_strdup(&m->f[SIGNER_TAG_ROLE])) == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

/* A small text field as a C string (empty when absent or too long for buf). */
static const char *field_text(const struct signer_field *f, char *buf, size_t size)
{
	buf[0] = '\0';
	if (f->present && f->len < size && memchr(f->ptr, '\0', f->len) == NULL) {
		memcpy(buf, f->ptr, f->len);
		buf[f->len] = '\0';
	}
	return buf;
}

/*
 * May this caller (its service, by uid: signer_peer.h) ask for m at all? Refusals are
 * audited and alerted. The custodian role is also checked in the share operation.
 */
static tw_rc check_caller(struct signer_srv *srv, struct conn *c, const struct signer_msg *m,
	struct tw_error *err)
{
	char context[SIGNER_LABEL_MAX + 1] = "", what[16] = "";
	const char *why;
	int purpose = 0;

	if ((m->op == SIGNER_OP_SIGN_DATA || m->op == SIGNER_OP_SIGN_DATA_BATCH) &&
	    m->f[SIGNER_TAG_PURPOSE].present && m->f[SIGNER_TAG_PURPOSE].len == 1)
		purpose = m->f[SIGNER_TAG_PURPOSE].ptr[0];
	if (m->op == SIGNER_OP_SEAL || m->op == SIGNER_OP_UNSEAL ||
	    (m->op == SIGNER_OP_SIGN_DATA && purpose == SIGNER_PURPOSE_TLS_HANDSHAKE))
		field_text(&m->f[SIGNER_TAG_LABEL], context, sizeof(context));
	if (m->op == SIGNER_OP_ACTIVATION)
		field_text(&m->f[SIGNER_TAG_DATA], what, sizeof(what));
	why = signer_peer_refusal(c->kind, m->op, purpose, context[0] != '\0' ? context : NULL,
		m->op == SIGNER_OP_ACTIVATION ? what : NULL);
	if (why == NULL)
		return TW_OK;
	if ((m->op == SIGNER_OP_SIGN_DATA || m->op == SIGNER_OP_SIGN_DATA_BATCH) &&
	    signer_purpose_name(purpose) != NULL)
		return signer_refuse_peer(srv, c, m->op, signer_purpose_name(purpose), why, err);
	return signer_refuse_peer(srv, c, m->op, context[0] != '\0' ? context : NULL, why,
		err);
}

/*
 * Handle one decoded request. TW_E_PROTOCOL means the peer broke the protocol (the
 * connection is closed after the reply); any other code is an ordinary error reply.
 */
static tw_rc handle(struct signer_srv *srv, struct conn *c, const struct signer_msg *m,
	struct tw_buf *out, struct tw_error *err)
{
	const uint32_t L = SIGNER_BIT(SIGNER_TAG_LABEL);
	char *label = NULL;
	EVP_PKEY *key = NULL, *pub = NULL;
	uint32_t need;
	tw_rc rc;

	if (m->op & SIGNER_OP_RESPONSE)
		return tw_error_set(err, TW_E_PROTOCOL, "a client sent a response frame");
	/* Who asks is the kernel's word (the caller's uid names its service), not HELLO's. */
	if ((rc = check_caller(srv, c, m, err)) != TW_OK)
		return rc;
	if (m->op == SIGNER_OP_SEAL || m->op == SIGNER_OP_UNSEAL) {
		/* The data key works whatever the token's state: operators must log in (TOTP)
		 * to enter the custodian shares that activate it. */
		if ((rc = signer_msg_require(m, L | SIGNER_BIT(SIGNER_TAG_AAD) |
		    SIGNER_BIT(SIGNER_TAG_DATA), 0, err)) != TW_OK)
			return rc;
		return signer_op_seal(srv, c, m->op, m, out, err);
	}
	if (m->op == SIGNER_OP_HELLO) {
		/* HELLO doubles as the readiness probe, so it reports a failed setup too. */
		if (srv->setup_err.code != TW_OK &&
		    signer_msg_require(m, 0, ~0u, err) == TW_OK)
			return tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		return op_hello(c, m, err);
	}
	if (m->op == SIGNER_OP_CUSTODIAN_SHARE || m->op == SIGNER_OP_ACTIVATION) {
		if ((rc = signer_msg_require(m, SIGNER_BIT(SIGNER_TAG_DATA), 0, err)) != TW_OK)
			return rc;
		if (srv->setup_err.code != TW_OK)
			return tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		return m->op == SIGNER_OP_CUSTODIAN_SHARE ?
			signer_op_custodian_share(srv, c, &m->f[SIGNER_TAG_DATA], out, err) :
			signer_op_activation(srv, c, &m->f[SIGNER_TAG_DATA], out, err);
	}
	if (m->op == SIGNER_OP_KEY_ROTATE) {
		if ((rc = signer_msg_require(m, L | SIGNER_BIT(SIGNER_TAG_DATA), 0, err)) != TW_OK)
			return rc;
		if (srv->setup_err.code != TW_OK)
			return tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		return signer_op_key_rotate(srv, c, m, out, err);
	}
	switch (m->op) {
	case SIGNER_OP_GENERATE_KEY: need = L | SIGNER_BIT(SIGNER_TAG_CURVE); break;
	case SIGNER_OP_SIGN_CERTIFICATE:
	case SIGNER_OP_SIGN_CERTIFICATES:
	case SIGNER_OP_CRL_BEGIN:
	case SIGNER_OP_CRL_DATA:
	case SIGNER_OP_CRL_END: need = L | SIGNER_BIT(SIGNER_TAG_DATA); break;
	case SIGNER_OP_SIGN_DATA:
	case SIGNER_OP_SIGN_DATA_BATCH:
		need = L | SIGNER_BIT(SIGNER_TAG_PURPOSE) | SIGNER_BIT(SIGNER_TAG_DATA);
		break;
	default: need = L; break;
	}
	if ((rc = signer_msg_require(m, need, 0, err)) != TW_OK)
		goto out;
	/* Setup failures (no token, no store) are reported per request, with their cause. */
	if (srv->setup_err.code != TW_OK) {
		rc = tw_error_set(err, srv->setup_err.code, "%s", srv->setup_err.message);
		goto out;
	}
	if ((label = signer_field_strdup(&m->f[SIGNER_TAG_LABEL])) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (m->op == SIGNER_OP_GENERATE_KEY) {
		rc = signer_op_generate(srv, c, label, m, out, err);
		goto out;
	}
	if ((rc = signer_keys_public(srv->keys, label, &pub, err)) != TW_OK)
		goto out;
	if (m->op == SIGNER_OP_GET_PUBLIC_KEY) {
		rc = signer_put_spki(pub, out, err);
		goto out;
	}
	/* Production: no private key is used before k custodians have activated the token;
	 * the TLS keys are not in the token and work throughout (signer_keys.c). */
	if (!signer_keys_is_tls(label) && !signer_keys_active(srv->keys)) {
		struct signer_activation st;

		signer_keys_activation(srv->keys, &st);
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "signer inactive: key '%s' cannot sign "
			"until %u of %u custodians enter their shares (`torwart ca custodian-share "
			"--share FILE`; %u entered since the signer started or was deactivated)",
			label, st.k, st.n, st.entered);
		goto out;
	}
	if ((rc = signer_keys_private(srv->keys, label, &key, err)) != TW_OK)
		goto out;
	if (m->op == SIGNER_OP_SIGN_CERTIFICATE)
		rc = signer_op_sign_certificate(srv, c, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else if (m->op == SIGNER_OP_SIGN_CERTIFICATES)
		rc = signer_op_sign_certificates(srv, c, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else if (m->op >= SIGNER_OP_CRL_BEGIN && m->op <= SIGNER_OP_CRL_END)
		rc = signer_op_crl_stream(srv, c, m->op, label, key, pub, &m->f[SIGNER_TAG_DATA], out, err);
	else if (m->op == SIGNER_OP_SIGN_DATA_BATCH)
		rc = signer_op_sign_data_batch(srv, c, label, key, pub, m, out, err);
	else
		rc = signer_op_sign_data(srv, c, label, key, pub, m, out, err);
out:
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	free(label);
	return rc;
}

/* ---------------- connections ---------------- */

static void conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->actor);
	free(c->role);
	free(c->body);
	signer_crl_free(c->crl);
	tw_buf_free(&c->out);
	free(c);
}

static struct conn *conn_new(const struct signer_srv *srv, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (c == NULL)
		return NULL;
	c->fd = fd;
	tw_buf_init(&c->out, SIGNER_FRAME_MAX + 64);
	/* The caller's service is fixed at accept by its uid; nothing it sends changes it.
	 * Without credentials it is nobody we know. */
	c->kind = SIGNER_PEER_OTHER;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->kind = signer_peer_classify(&srv->peers, cred.uid);
		snprintf(c->peer, sizeof(c->peer), "uid:%ld pid:%ld service:%s", (long)cred.uid,
			(long)cred.pid, signer_peer_name(c->kind));
	} else {
		snprintf(c->peer, sizeof(c->peer), "uid:? pid:? service:other");
	}
	return c;
}

/* Decode and answer the complete frame in c->body. Returns -1 to drop the connection. */
static int conn_frame(struct signer_srv *srv, struct conn *c)
{
	struct signer_msg req, resp;
	struct tw_error err;
	struct tw_buf payload;
	bool secret;
	tw_rc rc;

	tw_error_clear(&err);
	tw_buf_init(&payload, SIGNER_DATA_MAX);
	rc = signer_frame_decode(c->body, c->body_len, &req, &err);
	if (rc != TW_OK) {
		/* Undecodable: we cannot even trust the request id. Drop the peer. */
		tw_warn("closing connection from %s: malformed frame: %s", c->peer, err.message);
		return -1;
	}
	{
		int64_t t0 = tw_monotonic_ms();

		rc = handle(srv, c, &req, &payload, &err);
		signer_metrics_observe(srv->metrics, req.op, rc,
			(uint64_t)(tw_monotonic_ms() - t0) * 1000);
	}
	/* A custodian share or a secret lives no longer than its request. */
	secret = req.op == SIGNER_OP_CUSTODIAN_SHARE || req.op == SIGNER_OP_SEAL ||
		req.op == SIGNER_OP_UNSEAL;
	if (secret)
		OPENSSL_cleanse(c->body, c->body_len);
	c->wipe_out = req.op == SIGNER_OP_UNSEAL;
	signer_msg_init(&resp, req.op | SIGNER_OP_RESPONSE, req.id);
	resp.status = (uint8_t)rc;
	if (rc != TW_OK) {
		if (err.message[0] == '\0')
			snprintf(err.message, sizeof(err.message), "%s", tw_strerror(rc));
		signer_msg_set_str(&resp, SIGNER_TAG_MESSAGE, err.message);
		if (rc == TW_E_PROTOCOL) {
			tw_warn("closing connection from %s after %s: %s", c->peer,
				signer_op_name(req.op), err.message);
			c->closing = 1;
		}
	} else if (payload.len > 0) {
		signer_msg_set(&resp, SIGNER_TAG_PAYLOAD, payload.data, payload.len);
	}
	rc = signer_frame_encode(&resp, &c->out, &err);
	if (secret && payload.data != NULL)
		OPENSSL_cleanse(payload.data, payload.len);
	tw_buf_free(&payload);
	if (rc != TW_OK) {
		tw_err("cannot encode a response for %s: %s", c->peer, err.message);
		return -1;
	}
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	c->body_got = 0;
	c->prefix_got = 0;
	return 0;
}

/* Read what is available; returns -1 to drop the connection. */
static int conn_read(struct signer_srv *srv, struct conn *c)
{
	for (;;) {
		unsigned char *dst;
		size_t want;
		ssize_t n;

		/* Lock-step: the next request waits until the previous response is out. */
		if (c->closing || c->out.len > c->out_off)
			return 0;
		if (c->prefix_got < SIGNER_LEN_BYTES) {
			dst = c->prefix + c->prefix_got;
			want = SIGNER_LEN_BYTES - c->prefix_got;
		} else {
			dst = c->body + c->body_got;
			want = c->body_len - c->body_got;
		}
		n = recv(c->fd, dst, want, 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		if (c->prefix_got < SIGNER_LEN_BYTES) {
			struct tw_error err;

			c->prefix_got += (size_t)n;
			if (c->prefix_got < SIGNER_LEN_BYTES)
				continue;
			/* The length is checked before we allocate for the body. */
			if (signer_frame_check_len(c->prefix, &c->body_len, &err) != TW_OK) {
				tw_warn("closing connection from %s: %s", c->peer, err.message);
				return -1;
			}
			if ((c->body = malloc(c->body_len)) == NULL)
				return -1;
			c->body_got = 0;
			continue;
		}
		c->body_got += (size_t)n;
		if (c->body_got == c->body_len && conn_frame(srv, c) != 0)
			return -1;
	}
}

/* Write what the socket takes; returns -1 on error, 1 when the connection is done. */
static int conn_write(struct conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
			MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
	}
	/* An UNSEAL answer held a plaintext. */
	if (c->wipe_out && c->out.data != NULL)
		OPENSSL_cleanse(c->out.data, c->out.len);
	c->wipe_out = 0;
	tw_buf_reset(&c->out);
	c->out_off = 0;
	return c->closing ? 1 : 0;
}

static void srv_drop(struct signer_srv *srv, size_t i)
{
	conn_free(srv->conns[i]);
	srv->conns[i] = srv->conns[--srv->nconns];
	srv->conns[srv->nconns] = NULL;
}

/*
 * The loop. listen_fd < 0: serve the existing connections until the last one is gone
 * (private child). sigmask: signals to unblock while waiting (ppoll), or NULL.
 */
static void srv_loop(struct signer_srv *srv, int listen_fd, const sigset_t *sigmask)
{
	struct pollfd pfd[SIGNER_MAX_CONNS + 1];

	while (!signer_stop && (listen_fd >= 0 || srv->nconns > 0)) {
		nfds_t n = 0;
		size_t base = 0;

		if (listen_fd >= 0) {
			pfd[0].fd = listen_fd;
			/* At the connection limit new clients wait in the backlog. */
			pfd[0].events = srv->nconns < SIGNER_MAX_CONNS ? POLLIN : 0;
			pfd[0].revents = 0;
			n = base = 1;
		}
		for (size_t i = 0; i < srv->nconns; i++, n++) {
			struct conn *c = srv->conns[i];

			pfd[n].fd = c->fd;
			pfd[n].events = c->out.len > c->out_off ? POLLOUT : POLLIN;
			pfd[n].revents = 0;
		}
		int due = signer_metrics_flush(srv->metrics, 0);
		struct timespec wait = { due / 1000, (long)(due % 1000) * 1000000L };

		if (ppoll(pfd, n, due >= 0 ? &wait : NULL, sigmask) < 0) {
			if (errno == EINTR)
				continue;
			tw_err("poll failed: %s", strerror(errno));
			break;
		}
		/* Walk backwards so srv_drop's swap-with-last never skips a connection. */
		for (size_t i = srv->nconns; i-- > 0;) {
			struct conn *c = srv->conns[i];
			short re = pfd[base + i].revents;
			int r = 0;

			if (re == 0)
				continue;
			if (re & (POLLIN | POLLHUP | POLLERR))
				r = conn_read(srv, c);
			if (r == 0 && c->out.len > c->out_off)
				r = conn_write(c);
			else if (r == 0 && c->closing)
				r = 1;
			if (r != 0)
				srv_drop(srv, i);
		}
		if (listen_fd >= 0 && (pfd[0].revents & POLLIN)) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			struct conn *c;

			if (fd < 0)
				continue;
			if ((c = conn_new(srv, fd)) == NULL) {
				close(fd);
				continue;
			}
			srv->conns[srv->nconns++] = c;
		}
	}
}

/* Open store and key backend; failures are kept in srv->setup_err. */
static tw_rc srv_setup(struct signer_srv *srv)
{
	char *url = tw_home_store_url(srv->home);
	tw_rc rc;

	tw_error_clear(&srv->setup_err);
	tw_error_clear(&srv->box_err);
	signer_peers_init(&srv->peers, srv->home);
	/* The data key: this process alone reads the key file (secretbox.h). Its failure
	 * is answered to SEAL/UNSEAL only; signing does not need it. */
	if (secretbox_open_key(srv->home, &srv->box, &srv->box_err) != TW_OK)
		tw_warn("signer: no data key, sealing and opening secrets fail: %s",
			srv->box_err.message);
	if (url == NULL) {
		rc = tw_error_set(&srv->setup_err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* No admin log, no signatures: open the store first. */
	if ((rc = store_open(url, &srv->store, &srv->setup_err)) != TW_OK)
		goto out;
	rc = signer_keys_open(srv->home, srv->ceremony, &srv->keys, &srv->setup_err);
out:
	if (rc != TW_OK)
		tw_err("signer not ready: %s", srv->setup_err.message);
	free(url);
	return rc;
}

static void srv_teardown(struct signer_srv *srv)
{
	while (srv->nconns > 0)
		srv_drop(srv, srv->nconns - 1);
	signer_keys_close(srv->keys);
	signer_ops_free(srv);
	store_close(srv->store);
	secretbox_free(srv->box);
	srv->box = NULL;
}

tw_rc signer_serve_fd(const struct tw_home *home, int fd, bool ceremony,
	struct tw_error *err)
{
	struct signer_srv srv;
	struct conn *c;

	memset(&srv, 0, sizeof(srv));
	srv.home = home;
	srv.ceremony = ceremony;
	/* A failed setup is answered to the client (with its cause) rather than hidden. */
	srv_setup(&srv);
	if ((c = conn_new(&srv, fd)) == NULL) {
		close(fd);
		srv_teardown(&srv);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	srv.conns[srv.nconns++] = c;
	srv_loop(&srv, -1, NULL);
	srv_teardown(&srv);
	if (srv.setup_err.code != TW_OK)
		return tw_error_set(err, srv.setup_err.code, "%s", srv.setup_err.message);
	return TW_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	signer_stop = 1;
}

static tw_rc listen_socket(const char *path, int *out, struct tw_error *err)
{
	struct sockaddr_un sa;
	mode_t old_mask;
	int fd;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return tw_error_set(err, TW_E_CONFIG, "[signer] socket path %s is longer than %zu "
			"bytes; choose a shorter one", path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return tw_error_set(err, TW_E_IO, "socket: %s", strerror(errno));
	/* A socket file nobody answers on is a leftover of a crash: replace it. */
	if (tw_path_exists(path)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int alive = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (probe >= 0)
			close(probe);
		if (alive) {
			close(fd);
			return tw_error_set(err, TW_E_EXISTS, "a signer already listens at %s", path);
		}
		unlink(path);
	}
	/* umask so the socket is born 0660: clients in the service group, nobody else. */
	old_mask = umask(0117);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old_mask);
		close(fd);
		return tw_error_set(err, TW_E_IO, "cannot bind %s: %s", path, strerror(errno));
	}
	umask(old_mask);
	if (listen(fd, 128) != 0) {
		close(fd);
		unlink(path);
		return tw_error_set(err, TW_E_IO, "cannot listen on %s: %s", path, strerror(errno));
	}
	*out = fd;
	return TW_OK;
}

tw_rc signer_run(const struct tw_home *home, struct tw_error *err)
{
	struct signer_srv srv;
	struct sigaction sa, old_int, old_term;
	sigset_t block, orig;
	char *path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
	char *dir = NULL, *slash;
	int lfd = -1;
	tw_rc rc;

	memset(&srv, 0, sizeof(srv));
	srv.home = home;
	if (path == NULL || (dir = tw_strdup(path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out_nosig;
	}
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if ((rc = tw_mkdir_p(dir, 0750, err)) != TW_OK)
			goto out_nosig;
	}
	/* The socket first: a second signer stops here, before it touches the token. */
	if ((rc = listen_socket(path, &lfd, err)) != TW_OK)
		goto out_nosig;
	if (srv_setup(&srv) != TW_OK) {
		rc = tw_error_set(err, srv.setup_err.code, "%s", srv.setup_err.message);
		goto out_nosig;
	}
	/* Said by the long-running signer at every start (private signers of CLI commands
	 * stay quiet): a demo home's token PIN is in a file. */
	{
		struct signer_activation st;

		signer_keys_activation(srv.keys, &st);
		if (!st.custodians && strcmp(signer_keys_backend(srv.keys), "pkcs11") == 0)
			tw_warn("signer: DEMO MODE: the token PIN is read from the pin file; "
				"production splits it among custodians (`torwart ca custodians split`, "
				"docs/key-ceremony.md)");
	}
	/* Signals stay blocked except inside ppoll(), so a SIGTERM cannot slip between the
	 * stop check and the wait. */
	signer_stop = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	{
		sigset_t wait_mask = orig;

		sigdelset(&wait_mask, SIGTERM);
		sigdelset(&wait_mask, SIGINT);
		tw_info("signer listening on %s", path);
		/* Metrics file next to the socket, for the worker's /metrics. */
		if ((slash = strrchr(path, '/')) != NULL) {
			char *mpath = malloc((size_t)(slash - path) + sizeof(SIGNER_METRICS_FILE) + 1);

			if (mpath != NULL)
				snprintf(mpath, (size_t)(slash - path) + sizeof(SIGNER_METRICS_FILE) + 1,
					"%.*s/%s", (int)(slash - path), path, SIGNER_METRICS_FILE);
			srv.metrics = signer_metrics_new(mpath);
		}
		srv_loop(&srv, lfd, &wait_mask);
		signer_metrics_flush(srv.metrics, 1);
		signer_metrics_free(srv.metrics);
		srv.metrics = NULL;
	}
	tw_info("signer stopping");
	rc = TW_OK;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigprocmask(SIG_SETMASK, &orig, NULL);
out_nosig:
	if (lfd >= 0) {
		close(lfd);
		unlink(path);
	}
	srv_teardown(&srv);
	free(path);
	free(dir);
	return rc;
}
