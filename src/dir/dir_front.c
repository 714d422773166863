/*
 * dir_front.c: the LDAPS front end of the directory (dir.h), in the api process.
 *
 * Why a front end: slapd (Debian, GnuTLS) cannot speak the TR-03116-3 profile's brainpool
 * curves. Why in the api: it serves the same principals as the web service (SM-PKI
 * participants, identified by their TLS certificate against the store), needs the same
 * store connection and TLS profile, and no key or privilege the api lacks; its only extra
 * reach is the slapd Unix socket, which the api's sandbox already allows (AF_UNIX).
 *
 * Life of a connection:
 *   accept     TLS (tls_server_ctx_new: TR-03116-3, client certificate required and
 *              verified to [dir] trust), tracked by the connection guard (cap, per-source
 *              limit, handshake deadline, per-message deadline);
 *   handshake  the certificate must be a valid TLS certificate of a registered
 *              participant in the store, else the connection is closed and logged
 *              (dir.connect refused); the guard marks it authenticated;
 *   upstream   a fresh ldapi:// connection to slapd, SASL EXTERNAL bind with the
 *              authorisation identity dn:cn=<participant>,ou=participants,<base>; slapd's
 *              ACLs then apply to the participant (read only);
 *   relay      each client message is framed and inspected (dir_ldap_msg.h): binds are
 *              answered here (SASL EXTERNAL: success, the certificate is the identity;
 *              anything else: inappropriateAuthentication), writes refused
 *              (insufficientAccessRights, logged dir.write), extended operations other
 *              than Who am I? refused (StartTLS included); searches, compares, abandons
 *              and unbinds are relayed as received. slapd's answers go back unchanged.
 *   end        one admin-log entry dir.session with the operations counted.
 */
#include "dir/dir.h"
#include "dir/dir_ldap_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "net/conn_guard.h"
#include "pki/trust.h"
#include "store/store_ca.h"

#define DF_MSG_MAX        (256 * 1024)       /* a participant's request; searches are small */
#define DF_OUT_HIGH       (4 * 1024 * 1024)  /* slapd's answers queued for a slow client */
#define DF_WHOAMI_OID     "1.3.6.1.4.1.4203.1.11.3"
#define DF_STARTTLS_OID   "1.3.6.1.4.1.1466.20037"
#define DF_DEFAULT_MAX    1024
#define DF_DEFAULT_PER_SOURCE 64

struct dir_front {
	const struct tw_home *home;
	struct tw_store *store;
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct evconnlistener *listener;
	struct conn_guard *guard;
	struct sockaddr_un slapd;
	struct trust_set *trust;      /* [trust]: other Sub-CAs' participants (NULL: none) */
	struct df_conn *conns;        /* live connections, freed with the front end */
	char dn_base[512];
	long idle_s;
};

enum df_state { DF_HANDSHAKE, DF_BINDING, DF_RELAY, DF_CLOSING };

struct df_conn {
	struct df_conn *prev, *next;  /* f->conns */
	struct dir_front *f;
	struct bufferevent *cl;      /* the participant (TLS) */
	struct bufferevent *up;      /* slapd (ldapi) */
	SSL *ssl;
	enum df_state state;
	char client[80];
	char actor[STORE_NAME_MAX + 16];
	char authzid[700];
	char role[16];
	long searches, relayed, refused_writes, refused_other;
	bool identified;
};

static void df_conn_free(struct df_conn *c)
{
	if (c->identified) {
		char detail[200];
		struct audit_entry e = { .actor = c->actor, .role = c->role, .client = c->client,
			.action = "dir.session", .object = "directory", .result = "ok",
			.detail = detail };
		struct tw_error err;

		snprintf(detail, sizeof(detail), "%ld searches, %ld other operations relayed, %ld "
			"writes refused, %ld other requests refused", c->searches,
			c->relayed - c->searches, c->refused_writes, c->refused_other);
		if (audit_append(c->f->store, &e, &err) != TW_OK)
			tw_err("directory: cannot log the session of %s: %s", c->actor, err.message);
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (c->f->conns == c)
		c->f->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->up != NULL)
		bufferevent_free(c->up);
	if (c->cl != NULL) {
		if (c->ssl != NULL)
			SSL_shutdown(c->ssl);
		bufferevent_free(c->cl);       /* frees the SSL: the guard releases its slot */
	}
	free(c);
}

static void df_refuse(struct df_conn *c, const char *why)
{
	struct audit_entry e = { .actor = c->actor, .role = c->identified ? c->role : "",
		.client = c->client, .action = "dir.connect", .object = "directory",
		.result = "refused", .detail = why, .error_code = "TW_E_DENIED" };
	struct tw_error err;

	tw_info("directory: %s from %s refused: %s", c->actor, c->client, why);
	if (audit_append(c->f->store, &e, &err) != TW_OK)
		tw_err("directory: cannot log a refusal: %s", err.message);
	c->identified = false;
	df_conn_free(c);
}

/* Answer one request here, with the response tag of its operation. */
static void df_answer(struct df_conn *c, const struct dir_ldap_msg *m, int result,
	const char *diag)
{
	unsigned char buf[1200];
	int op = dir_ldap_response_op(m->op);
	size_t n;

	if (op < 0)
		return;
	if ((n = dir_ldap_encode_result(buf, sizeof(buf), m->id, op, result, diag)) > 0)
		bufferevent_write(c->cl, buf, n);
}

static void df_log_write(struct df_conn *c, const struct dir_ldap_msg *m)
{
	char detail[96];
	struct audit_entry e = { .actor = c->actor, .role = c->role, .client = c->client,
		.action = "dir.write", .object = "directory", .result = "refused",
		.detail = detail, .error_code = "ldap-50" };
	struct tw_error err;

	snprintf(detail, sizeof(detail), "LDAP operation %d refused: the directory is read-only "
		"for participants", m->op);
	if (audit_append(c->f->store, &e, &err) != TW_OK)
		tw_err("directory: cannot log a refused write: %s", err.message);
}

/* Decide on one complete client message; false: close the connection. */
static bool df_client_msg(struct df_conn *c, const unsigned char *msg, size_t len)
{
	struct dir_ldap_msg m;
	struct tw_error err;

	if (dir_ldap_parse(msg, len, &m, &err) != TW_OK) {
		tw_info("directory: %s sent an invalid LDAP message: %s", c->actor, err.message);
		return false;
	}
	switch (m.op) {
	case DIR_OP_BIND:
		if (m.bind_external) {
			df_answer(c, &m, DIR_LDAP_SUCCESS, NULL);
		} else {
			c->refused_other++;
			df_answer(c, &m, DIR_LDAP_INAPPROPRIATE_AUTH, "anonymous and password binds are "
				"refused: your SM-PKI TLS certificate is your identity (bind with SASL "
				"EXTERNAL, or do not bind)");
		}
		return true;
	case DIR_OP_ADD: case DIR_OP_MODIFY: case DIR_OP_DEL: case DIR_OP_MODDN:
		c->refused_writes++;
		df_log_write(c, &m);
		df_answer(c, &m, DIR_LDAP_INSUFFICIENT_ACCESS, "the directory is read-only for "
			"SM-PKI participants; certificates are published by the CA");
		return true;
	case DIR_OP_EXTENDED:
		if (strcmp(m.oid, DF_WHOAMI_OID) == 0)
			break;
		c->refused_other++;
		df_answer(c, &m, strcmp(m.oid, DF_STARTTLS_OID) == 0 ? DIR_LDAP_OPERATIONS_ERROR :
			DIR_LDAP_UNWILLING, strcmp(m.oid, DF_STARTTLS_OID) == 0 ?
			"TLS is already in place" : "extended operation not offered");
		return true;
	case DIR_OP_SEARCH:
		c->searches++;
		break;
	case DIR_OP_COMPARE: case DIR_OP_ABANDON:
		break;
	case DIR_OP_UNBIND:
		bufferevent_write(c->up, msg, len);
		c->state = DF_CLOSING;
		return false;
	default:
		tw_info("directory: %s sent LDAP operation %d, not a request", c->actor, m.op);
		return false;
	}
	c->relayed++;
	bufferevent_write(c->up, msg, len);
	return true;
}

static void df_client_read(struct bufferevent *bev, void *arg)
{
	struct df_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct tw_error err;

	if (c->state != DF_RELAY)
		return;       /* read stays disabled until the upstream bind is done */
	for (;;) {
		unsigned char head[6];
		size_t have = evbuffer_get_length(in), hn = have < 6 ? have : 6, mlen = 0;
		unsigned char *msg;

		if (have == 0)
			break;
		evbuffer_copyout(in, head, hn);
		if (dir_ldap_frame(head, hn, DF_MSG_MAX, &mlen, &err) != TW_OK) {
			tw_info("directory: %s: %s; closing", c->actor, err.message);
			df_conn_free(c);
			return;
		}
		if (mlen == 0 || mlen > have)
			return;        /* the rest of the message is on its way (guard deadline) */
		if ((msg = evbuffer_pullup(in, (ev_ssize_t)mlen)) == NULL) {
			df_conn_free(c);
			return;
		}
		if (!df_client_msg(c, msg, mlen)) {
			df_conn_free(c);
			return;
		}
		evbuffer_drain(in, mlen);
	}
	conn_guard_request_read(c->ssl);
}

static void df_up_read(struct bufferevent *bev, void *arg)
{
	struct df_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == DF_BINDING) {
		unsigned char head[6], *msg;
		size_t have = evbuffer_get_length(in), mlen = 0;
		int32_t id = 0;
		int result = -1;
		struct tw_error err;

		evbuffer_copyout(in, head, have < 6 ? have : 6);
		if (dir_ldap_frame(head, have < 6 ? have : 6, 64 * 1024, &mlen, &err) != TW_OK) {
			tw_err("directory: slapd answered the bind with something else: %s",
				err.message);
			df_conn_free(c);
			return;
		}
		if (mlen == 0 || mlen > have)
			return;
		msg = evbuffer_pullup(in, (ev_ssize_t)mlen);
		if (msg == NULL || dir_ldap_bind_result(msg, mlen, &id, &result, &err) != TW_OK ||
		    result != 0) {
			tw_err("directory: slapd refused the proxied bind for %s (result %d); check "
				"the generated slapd.conf (authz-regexp for this process's uid)",
				c->authzid, result);
			df_conn_free(c);
			return;
		}
		evbuffer_drain(in, mlen);
		c->state = DF_RELAY;
		bufferevent_enable(c->cl, EV_READ);
		df_client_read(c->cl, c);
		return;
	}
	bufferevent_write_buffer(c->cl, in);
	if (evbuffer_get_length(bufferevent_get_output(c->cl)) > DF_OUT_HIGH)
		bufferevent_disable(c->up, EV_READ);      /* until the client has read it */
}

static void df_client_write(struct bufferevent *bev, void *arg)
{
	struct df_conn *c = arg;

	(void)bev;
	if (c->up != NULL && c->state == DF_RELAY)
		bufferevent_enable(c->up, EV_READ);
}

static void df_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct df_conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		unsigned char buf[900];
		size_t n = dir_ldap_encode_external_bind(buf, sizeof(buf), 1, c->authzid);

		if (n == 0) {
			df_conn_free(c);
			return;
		}
		bufferevent_write(c->up, buf, n);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (c->state == DF_BINDING)
			tw_err("directory: slapd at %s unreachable (%s): participant %s disconnected",
				c->f->slapd.sun_path, strerror(EVUTIL_SOCKET_ERROR()), c->actor);
		df_conn_free(c);
	}
}

/*
 * A participant of another Sub-CA of the SM-PKI ([trust]): the TLS handshake verified the
 * chain to [dir] trust; the issuer must be a trusted CA whose current CRL does not list
 * the certificate (trust_check: fail closed without a current CRL). Its identity in slapd
 * is cn=<CN>,ou=<issuer CN>,ou=participants,<base>: a participant's, read only.
 */
static bool df_identify_foreign(struct df_conn *c, X509 *peer)
{
	char cn[256] = "", ca[256] = "", esc_cn[300], esc_ca[300], why[1200];
	struct tw_error err;
	tw_rc rc;

	X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
	X509_NAME_get_text_by_NID(X509_get_issuer_name(peer), NID_commonName, ca, sizeof(ca));
	rc = trust_check(c->f->store, c->f->trust, peer, tw_now_ms() / 1000, &err);
	if (rc != TW_OK) {
		snprintf(why, sizeof(why), "certificate of another Sub-CA (%s) refused: %s", ca,
			err.message);
		df_refuse(c, why);
		return false;
	}
	if (dir_dn_escape(cn, esc_cn, sizeof(esc_cn), &err) != TW_OK ||
	    dir_dn_escape(ca, esc_ca, sizeof(esc_ca), &err) != TW_OK) {
		df_refuse(c, "certificate of another Sub-CA without a usable commonName");
		return false;
	}
	snprintf(c->actor, sizeof(c->actor), "sm-pki:%s/%s", ca, cn);
	snprintf(c->role, sizeof(c->role), "sm-pki");
	snprintf(c->authzid, sizeof(c->authzid), "dn:cn=%s,ou=%s," DIR_PARTICIPANTS_OU ",%s",
		esc_cn, esc_ca, c->f->dn_base);
	c->identified = true;
	return true;
}

/* The participant of the certificate, or a refusal. */
static bool df_identify(struct df_conn *c)
{
	X509 *peer = SSL_get0_peer_certificate(c->ssl);
	struct store_certificate sc;
	struct store_ca_participant part;
	char fp[65], esc[300];
	struct tw_error err;
	bool ok = false;
	tw_rc rc;

	memset(&sc, 0, sizeof(sc));
	if (peer == NULL || SSL_get_verify_result(c->ssl) != X509_V_OK ||
	    keys_cert_fingerprint(peer, fp, &err) != TW_OK) {
		df_refuse(c, "no verified client certificate");
		return false;
	}
	snprintf(c->actor, sizeof(c->actor), "tls:%.16s", fp);
	rc = store_certificate_get_by_fingerprint(c->f->store, fp, &sc, &err);
	if (rc == TW_E_NOT_FOUND && c->f->trust != NULL &&
	    trust_set_ca(c->f->trust, X509_get_issuer_name(peer)) != NULL) {
		ok = df_identify_foreign(c, peer);
		goto out;
	}
	if (rc != TW_OK) {
		df_refuse(c, "the certificate was not issued to a registered participant");
		goto out;
	}
	if (strcmp(sc.usage, "TLS") != 0 || strcmp(sc.status, "valid") != 0) {
		df_refuse(c, strcmp(sc.status, "valid") != 0 ? "the certificate is revoked" :
			"not a TLS certificate");
		goto out;
	}
	if (store_ca_participant_get(c->f->store, sc.owner_id, &part, &err) != TW_OK ||
	    strcmp(part.role, sc.owner_kind) != 0) {
		df_refuse(c, "the certificate's owner is not a registered participant");
		goto out;
	}
	if (dir_dn_escape(part.name, esc, sizeof(esc), &err) != TW_OK) {
		df_refuse(c, err.message);
		goto out;
	}
	snprintf(c->actor, sizeof(c->actor), "participant:%s", part.name);
	snprintf(c->role, sizeof(c->role), "%s", part.role);
	snprintf(c->authzid, sizeof(c->authzid), "dn:cn=%s," DIR_PARTICIPANTS_OU ",%s", esc,
		c->f->dn_base);
	c->identified = true;
	ok = true;
out:
	store_certificate_clear(&sc);
	return ok;
}

static void df_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct df_conn *c = arg;
	int fd;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->state != DF_HANDSHAKE)
			return;
		if (!df_identify(c))
			return;          /* freed */
		conn_guard_authenticated(c->ssl);
		c->state = DF_BINDING;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || (c->up = bufferevent_socket_new(c->f->base, fd,
		    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
			if (fd >= 0)
				close(fd);
			df_conn_free(c);
			return;
		}
		bufferevent_setcb(c->up, df_up_read, NULL, df_up_event, c);
		bufferevent_enable(c->up, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->up, (struct sockaddr *)&c->f->slapd,
		    sizeof(c->f->slapd)) != 0) {
			tw_err("directory: cannot connect to slapd at %s: %s", c->f->slapd.sun_path,
				strerror(errno));
			df_conn_free(c);
		}
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)) {
		if (c->state == DF_HANDSHAKE) {
			unsigned long e = bufferevent_get_openssl_error(c->cl);

			tw_debug("directory: TLS handshake with %s failed: %s", c->client,
				e != 0 ? ERR_reason_error_string(e) : "connection closed");
		}
		df_conn_free(c);
	}
}

static void df_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
	int socklen, void *arg)
{
	struct dir_front *f = arg;
	struct df_conn *c = calloc(1, sizeof(*c));
	char host[64] = "?";
	struct timeval idle = { f->idle_s, 0 };

	(void)l;
	(void)socklen;
	if (c == NULL || (c->ssl = SSL_new(f->ssl_ctx)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->f = f;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof(host));
	snprintf(c->client, sizeof(c->client), "%s", host);
	snprintf(c->actor, sizeof(c->actor), "tls:unknown");
	c->cl = bufferevent_openssl_socket_new(f->base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (c->cl == NULL) {
		SSL_free(c->ssl);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->cl, 1);
	bufferevent_setcb(c->cl, df_client_read, df_client_write, df_client_event, c);
	bufferevent_setwatermark(c->cl, EV_WRITE, DF_OUT_HIGH / 2, 0);
	/* At most one largest message buffered from the client: reading pauses above it. */
	bufferevent_setwatermark(c->cl, EV_READ, 0, DF_MSG_MAX + 16);
	bufferevent_set_timeouts(c->cl, &idle, NULL);
	if (!conn_guard_track(f->guard, f->base, c->cl, c->ssl, NULL, NULL)) {
		c->ssl = NULL;
		df_conn_free(c);
		return;
	}
	c->next = f->conns;
	if (f->conns != NULL)
		f->conns->prev = c;
	f->conns = c;
	/* Reading drives the handshake; requests wait until slapd has accepted the bind. */
	bufferevent_enable(c->cl, EV_READ | EV_WRITE);
}

tw_rc dir_front_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct dir_front **out, struct tw_error *err)
{
	const char *listen = tw_config_get(home->conf, "dir", "listen");
	struct tls_profile_config cfg;
	struct conn_guard_limits lim;
	struct dir_front *f = NULL;
	char *cert = NULL, *key = NULL, *chain = NULL, *trust = NULL, *sock = NULL;
	char *host = NULL;
	uint16_t port = 0;
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	char spec[300];
	tw_rc rc;

	*out = NULL;
	if (listen == NULL)
		return TW_OK;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	f->home = home;
	f->store = store;
	f->base = base;
	snprintf(f->dn_base, sizeof(f->dn_base), "%s",
		tw_config_get_or(home->conf, "dir", "base", DIR_DEFAULT_BASE));
	cert = tw_home_path(home, "dir", "cert", "pki/gwa-tls.crt");
	key = tw_home_path(home, "dir", "key", "pki/gwa-tls.key");
	chain = tw_home_path(home, "dir", "tls_chain", "pki/sub-ca.crt");
	trust = tw_home_path(home, "dir", "trust", "pki/chain.pem");
	sock = tw_home_path(home, "dir", "ldapi", DIR_DEFAULT_LDAPI);
	if (cert == NULL || key == NULL || chain == NULL || trust == NULL || sock == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (strlen(sock) >= sizeof(f->slapd.sun_path)) {
		rc = tw_error_set(err, TW_E_CONFIG, "[dir] ldapi = %s: a Unix socket path must be "
			"shorter than %zu bytes", sock, sizeof(f->slapd.sun_path));
		goto out;
	}
	f->slapd.sun_family = AF_UNIX;
	memcpy(f->slapd.sun_path, sock, strlen(sock) + 1);
	if ((rc = tw_config_get_long(home->conf, "dir", "idle_timeout", 120, 1, 86400,
	    &f->idle_s, err)) != TW_OK ||
	    (rc = conn_guard_limits_load(home->conf, "dir", "", DF_DEFAULT_MAX,
	    DF_DEFAULT_PER_SOURCE, &lim, err)) != TW_OK ||
	    (rc = tw_parse_hostport(listen, &host, &port, err)) != TW_OK)
		goto out;
	conn_guard_fit_nofile("dir", 2 * lim.max_conns + 256, &lim);
	if ((rc = conn_guard_new("dir", &lim, &f->guard, err)) != TW_OK)
		goto out;
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.signer_key = SIGNER_KEY_GWA_TLS,
		.chain_file = chain, .trust_file = trust };
	if ((rc = tls_server_ctx_new(&cfg, &f->ssl_ctx, err)) != TW_OK)
		goto out;
	/* Every handshake verifies the certificate afresh (revocation is checked per
	 * connection against the store), so no session resumption. */
	SSL_CTX_set_session_cache_mode(f->ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(f->ssl_ctx, SSL_OP_NO_TICKET);
	if ((rc = trust_set_load(home, &f->trust, err)) != TW_OK)
		goto out;
	snprintf(spec, sizeof(spec), strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u", host,
		(unsigned)port);
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sl) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[dir] listen = %s: not an address", listen);
		goto out;
	}
	f->listener = evconnlistener_new_bind(base, df_accept, f, LEV_OPT_REUSEABLE |
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, (struct sockaddr *)&ss, sl);
	if (f->listener == NULL) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen on %s (in use? see [dir] listen): %s",
			listen, strerror(errno));
		goto out;
	}
	tw_info("directory front end (LDAPS, TR-03116-3) listening on %s, slapd at %s", listen,
		sock);
	*out = f;
	f = NULL;
out:
	dir_front_free(f);
	free(cert);
	free(key);
	free(chain);
	free(trust);
	free(sock);
	free(host);
	return rc;
}

void dir_front_free(struct dir_front *f)
{
	if (f == NULL)
		return;
	if (f->listener != NULL)
		evconnlistener_free(f->listener);
	while (f->conns != NULL)            /* connections still open at shutdown */
		df_conn_free(f->conns);
	SSL_CTX_free(f->ssl_ctx);
	conn_guard_free(f->guard);
	trust_set_free(f->trust);
	free(f);
}
