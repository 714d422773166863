/*
 * wan_conn.c: one TLS connection of `wan`: its state, and who is on the other end
 * (UC-3.1, T-VA.1).
 *
 * A gateway is identified by its TLS client certificate alone: after OpenSSL has verified
 * the chain to the SM-PKI trust anchors, the SHA-256 fingerprint of the leaf must be an
 * SMGW TLS certificate in the store with status "valid", and its gateway must exist and
 * not be disabled. This happens inside the verify callback so an unknown or revoked
 * gateway never completes a handshake. A resumed session skips the verify callback, so
 * the same check runs again at handshake completion (the session carries the peer
 * certificate); a failure there marks the connection refused and wan_http answers
 * nothing but 403.
 *
 * An EMT (UC-3.2.4) is identified the same way: its leaf must be an EMT TLS certificate
 * issued by this Sub-CA (certificates row owner_kind "emt", usage "TLS", status "valid")
 * whose owner, the RA participant, is still registered with role "emt". The EMT's id is
 * that participant's market partner id (the certificate subject's OU): the same id that
 * `torwart profile authorise-emt --emt` and profile recipients use, so authorisations and
 * certificates meet on one name. The connection is then of kind EMT and reaches only the
 * EMT routes (wan_http.c).
 *
 * Every refusal is logged once per connection with its reason, including handshakes
 * that fail before a certificate is seen (no certificate, wrong version or suite,
 * plaintext HTTP), which are caught in the info callback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/renewal.h"
#include "pki/trust.h"
#include "store/store_ca.h"
#include "wan/wan_internal.h"
#include "wan/wan_metrics.h"

static int wan_conn_idx = -1;
static pthread_once_t wan_conn_once = PTHREAD_ONCE_INIT;

static void wan_conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
	long argl, void *argp)
{
	struct wan_conn *conn = ptr;

	(void)ad; (void)idx; (void)argl; (void)argp;
	if (conn == NULL)
		return;
	/*
	 * Gateways usually drop TCP without close_notify, and SSL_free then evicts the
	 * session from the cache as "bad". A session of an identified gateway that finished
	 * its handshake is good, so it must stay resumable for its 48 h (TR-03116-3).
	 * OpenSSL frees ex_data before that eviction check, so marking it here is in time.
	 */
	if (parent != NULL && conn->connect_logged && !conn->refused)
		SSL_set_shutdown(parent, SSL_get_shutdown(parent) | SSL_SENT_SHUTDOWN);
	wan_session_offer_clear(&conn->offer);
	wan_thread_conn_closed(conn->thr);
	wan_metrics_connection_closed();
	free(conn);
}

static void wan_conn_index_init(void)
{
	wan_conn_idx = SSL_get_ex_new_index(0, (void *)"wan_conn", NULL, NULL,
		wan_conn_ex_free);
}

tw_rc wan_conn_global_init(struct tw_error *err)
{
	pthread_once(&wan_conn_once, wan_conn_index_init);
	if (wan_conn_idx < 0)
		return tw_error_set_openssl(err, TW_E_TLS, "cannot allocate SSL ex_data index");
	return TW_OK;
}

struct wan_conn *wan_conn_get(const SSL *ssl)
{
	if (ssl == NULL || wan_conn_idx < 0)
		return NULL;
	return SSL_get_ex_data(ssl, wan_conn_idx);
}

struct wan_session_offer *wan_conn_offer(const SSL *ssl)
{
	struct wan_conn *conn = wan_conn_get(ssl);

	return conn != NULL ? &conn->offer : NULL;
}

const char *wan_conn_peer(struct wan_conn *conn, const SSL *ssl)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int fd;

	if (conn->peer[0] != '\0')
		return conn->peer;
	fd = ssl != NULL ? SSL_get_fd(ssl) : -1;
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(conn->peer, sizeof(conn->peer), "unknown");
		return conn->peer;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(conn->peer, sizeof(conn->peer), "%s:%u", host, ntohs(sin->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(conn->peer, sizeof(conn->peer), "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(conn->peer, sizeof(conn->peer), "unknown");
	}
	return conn->peer;
}

/*
 * The certificate sc (owner_kind "emt") to a registered EMT participant. On success fills
 * conn->emt_id; otherwise *detail says why (static text).
 */
static bool wan_identify_emt(struct wan_conn *conn, const struct store_certificate *sc,
	const char **detail)
{
	struct store_ca_participant part;
	struct tw_error e;
	bool ok = false;
	tw_rc rc;

	memset(&part, 0, sizeof(part));
	conn->kind = WAN_PRINCIPAL_EMT;
	snprintf(conn->participant, sizeof(conn->participant), "%s", sc->owner_id);
	rc = store_ca_participant_get(conn->thr->store, sc->owner_id, &part, &e);
	if (rc == TW_E_NOT_FOUND) {
		*detail = "unknown EMT participant";
		goto out;
	}
	if (rc != TW_OK) {
		tw_err("wan: participant lookup failed: %s", e.message);
		*detail = "store unavailable";
		goto out;
	}
	/* The id goes into logs and authorisation lookups: the profile-id rule or nothing. */
	if (strcmp(part.role, "emt") != 0 || !wan_gateway_id_valid(part.market_partner_id)) {
		*detail = "participant is not a usable EMT";
		goto out;
	}
	snprintf(conn->emt_id, sizeof(conn->emt_id), "%s", part.market_partner_id);
	if (strcmp(sc->status, "valid") != 0) {
		*detail = "certificate revoked";
		goto out;
	}
	ok = true;
out:
	return ok;
}

/*
 * An EMT of another Sub-CA of the SM-PKI ([trust], pki/trust.h): its TLS certificate is
 * accepted while its issuer's current CRL does not list it (fail closed); its EMT id is
 * the subject's OU (market partner id), what `profile authorise-emt --emt` names.
 */
static bool wan_identify_foreign_emt(struct wan_conn *conn, X509 *cert, const char **detail)
{
	struct trust_participant tp;
	struct tw_error e;
	tw_rc rc;

	rc = trust_check_participant(conn->thr->store, conn->thr->srv->trust, cert, "EMT",
		tw_now_ms() / 1000, &tp, &e);
	if (rc == TW_E_NOT_FOUND)
		return false;                   /* "unknown certificate" */
	conn->kind = WAN_PRINCIPAL_EMT;
	snprintf(conn->participant, sizeof(conn->participant), "sm-pki:%.40s/%.60s", tp.ca,
		tp.cn);
	if (rc == TW_OK && !wan_gateway_id_valid(tp.mp_id)) {
		rc = TW_E_DENIED;
		snprintf(e.message, sizeof(e.message), "the OU is not a usable market partner id");
	}
	if (rc != TW_OK) {
		snprintf(conn->why, sizeof(conn->why), "%s%.200s", rc == TW_E_DENIED &&
			strstr(e.message, "revoked") != NULL ? "certificate revoked: " : "", e.message);
		*detail = conn->why;
		return false;
	}
	snprintf(conn->emt_id, sizeof(conn->emt_id), "%s", tp.mp_id);
	return true;
}

/*
 * Map a verified leaf certificate to an enabled gateway or a registered EMT. On success
 * fills conn->kind and conn->gateway_id or conn->emt_id; otherwise *detail says why
 * (static text) and conn->gateway_id / conn->emt_id may hold the owner for the log.
 */
static bool wan_identify(struct wan_conn *conn, X509 *cert, const char **detail)
{
	struct store_certificate sc;
	struct store_gateway gw;
	struct tw_error e;
	bool ok = false;
	tw_rc rc;

	memset(&sc, 0, sizeof(sc));
	*detail = "unknown certificate";
	if (cert == NULL) {
		*detail = "no client certificate";
		return false;
	}
	if (keys_cert_fingerprint(cert, conn->fingerprint, NULL) != TW_OK) {
		*detail = "cannot fingerprint certificate";
		return false;
	}
	rc = store_certificate_get_by_fingerprint(conn->thr->store, conn->fingerprint, &sc, &e);
	if (rc == TW_E_NOT_FOUND) {
		ok = wan_identify_foreign_emt(conn, cert, detail);
		goto out;
	}
	if (rc != TW_OK) {
		tw_err("wan: certificate lookup failed: %s", e.message);
		*detail = "store unavailable";
		conn->store_down = rc == TW_E_UNAVAILABLE;
		goto out;
	}
	if (strcmp(sc.usage, "TLS") != 0)
		goto out;   /* a SIG or ENC certificate is never a login */
	if (strcmp(sc.owner_kind, "emt") == 0) {
		ok = wan_identify_emt(conn, &sc, detail);
		goto out;
	}
	if (strcmp(sc.owner_kind, "smgw") != 0)
		goto out;   /* e.g. a GWA's or GWH's certificate: not a WAN principal */
	conn->kind = WAN_PRINCIPAL_GATEWAY;
	snprintf(conn->gateway_id, sizeof(conn->gateway_id), "%s", sc.owner_id);
	/* Renewal (gwa/renewal.h): a new certificate logs in from its issuance (only the
	 * gateway has its key), and that login is the renewal's proof; a superseded one
	 * until it is revoked after the grace period. */
	if (strcmp(sc.status, "valid") != 0 && strcmp(sc.status, RENEWAL_CERT_PENDING) != 0 &&
	    strcmp(sc.status, RENEWAL_CERT_SUPERSEDED) != 0) {
		*detail = "certificate revoked";
		goto out;
	}
	conn->renewal_proof = strcmp(sc.status, RENEWAL_CERT_PENDING) == 0;
	rc = store_gateway_get(conn->thr->store, sc.owner_id, &gw, &e);
	if (rc == TW_E_NOT_FOUND) {
		*detail = "unknown gateway";
		goto out;
	}
	if (rc != TW_OK) {
		tw_err("wan: gateway lookup failed: %s", e.message);
		*detail = "store unavailable";
		conn->store_down = rc == TW_E_UNAVAILABLE;
		goto out;
	}
	if (strcmp(gw.state, "disabled") == 0) {
		*detail = "gateway disabled";
		goto out;
	}
	ok = true;
out:
	store_certificate_clear(&sc);
	return ok;
}

static void wan_conn_refuse(struct wan_conn *conn, const SSL *ssl, const char *detail)
{
	if (conn->refused)
		return;
	conn->refused = true;
	conn->identified = false;
	if (conn->kind == WAN_PRINCIPAL_EMT) {
		wan_refuse_emt(conn->thr, conn->emt_id[0] != '\0' ? conn->emt_id : NULL,
			wan_conn_peer(conn, ssl),
			conn->participant[0] != '\0' ? conn->participant : conn->fingerprint, detail);
		return;
	}
	wan_refuse(conn->thr, conn->gateway_id[0] != '\0' ? conn->gateway_id : NULL,
		wan_conn_peer(conn, ssl),
		conn->gateway_id[0] != '\0' ? conn->gateway_id : conn->fingerprint, detail);
}

static int wan_verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct wan_conn *conn = wan_conn_get(ssl);
	const char *detail;

	if (conn == NULL)
		return 0;
	if (conn->refused)
		return 0;
	if (!preverify_ok) {
		X509 *cur = X509_STORE_CTX_get_current_cert(xs);

		/* The fingerprint of the offending certificate helps find it later. */
		if (cur != NULL && X509_STORE_CTX_get_error_depth(xs) == 0)
			(void)keys_cert_fingerprint(cur, conn->fingerprint, NULL);
		wan_conn_refuse(conn, ssl,
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
		return 0;
	}
	if (X509_STORE_CTX_get_error_depth(xs) != 0)
		return 1;
	if (conn->store_down)
		return 1;   /* accepted while the admin log fails: 503 for every request */
	if (!wan_identify(conn, X509_STORE_CTX_get_current_cert(xs), &detail)) {
		/*
		 * The chain is valid but the database could not say whether this gateway is
		 * enabled: finish the handshake unidentified, so every request of the connection
		 * gets a 503 "retry later" (wan_http_request) rather than a refusal that would
		 * look like a revoked certificate. Nothing is served and nothing is logged as a
		 * refusal.
		 */
		if (conn->store_down)
			return 1;
		/* Tell OpenSSL why, so the alert is "certificate unknown"/"revoked". */
		X509_STORE_CTX_set_error(xs, strncmp(detail, "certificate revoked", 19) == 0 ?
			X509_V_ERR_CERT_REVOKED : X509_V_ERR_CERT_REJECTED);
		wan_conn_refuse(conn, ssl, detail);
		return 0;
	}
	conn->identified = true;
	return 1;
}

static void wan_handshake_done(struct wan_conn *conn, const SSL *ssl)
{
	char detail[WAN_DETAIL_MAX + 1];
	const char *why;
	bool resumed = SSL_session_reused((SSL *)ssl) == 1;

	if (conn->connect_logged || conn->refused)
		return;
	if (resumed) {
		if (conn->store_down)
			return;     /* 503 for every request */
		/* No verify callback ran: the inventory may have changed since the full one. */
		if (!wan_identify(conn, SSL_get0_peer_certificate(ssl), &why)) {
			if (conn->store_down)
				return;     /* 503 for every request (wan_verify_cb) */
			wan_conn_refuse(conn, ssl, why);
			SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), SSL_get0_session(ssl));
			wan_session_cache_forget(&conn->offer);
			return;
		}
		conn->identified = true;
		/* Its next resumption of this ticket from memory (wan_session_cache.c). */
		wan_session_cache_learn(ssl, &conn->offer);
	}
	if (!conn->identified)
		return;
	/* An identified gateway or EMT: never shed to make room for unauthenticated peers. */
	conn_guard_authenticated(ssl);
	conn->connect_logged = true;
	wan_metrics_handshake(resumed);
	snprintf(detail, sizeof(detail), "%s %s %s", resumed ? "resumed" : "full",
		SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	if (conn->kind == WAN_PRINCIPAL_EMT)
		wan_journal_add_emt(conn->thr, conn->emt_id, wan_conn_peer(conn, ssl),
			"wan.connect", conn->participant, "ok", detail);
	else
		wan_journal_add(conn->thr, conn->gateway_id, wan_conn_peer(conn, ssl),
			"wan.connect", conn->gateway_id, "ok", detail);
}

/*
 * Handshake failures that do not pass through the verify callback (no certificate, no
 * common version/suite/group, not TLS at all, a peer alert) end the accept state machine
 * with an error on the queue; ret <= 0 with SSL_want() == SSL_NOTHING tells that apart
 * from "would block".
 */
static void wan_info_cb(const SSL *ssl, int where, int ret)
{
	struct wan_conn *conn = wan_conn_get(ssl);

	if (conn == NULL)
		return;
	if (where & SSL_CB_HANDSHAKE_DONE) {
		wan_handshake_done(conn, ssl);
		return;
	}
	if ((where & SSL_CB_ACCEPT_EXIT) == SSL_CB_ACCEPT_EXIT && ret <= 0 &&
	    SSL_want(ssl) == SSL_NOTHING && !conn->refused && !conn->connect_logged) {
		unsigned long e = ERR_peek_last_error();
		char detail[WAN_DETAIL_MAX + 1];

		if (e == 0)
			return;
		snprintf(detail, sizeof(detail), "handshake failed: %s",
			ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "unknown");
		wan_conn_refuse(conn, ssl, detail);
	}
}

SSL *wan_conn_ssl_new(struct wan_thread *thr)
{
	struct wan_conn *conn;
	SSL *ssl;

	ssl = wan_tls_ssl_new(thr->srv);
	if (ssl == NULL)
		return NULL;
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL || SSL_set_ex_data(ssl, wan_conn_idx, conn) != 1) {
		free(conn);
		SSL_free(ssl);
		return NULL;
	}
	conn->thr = thr;
	conn->store_down = thr->paused;    /* the admin log is failing: 503 only */
	thr->conns++;
	wan_metrics_connection_opened();
	/* Same mode as the context (mutual auth), plus our identification step. */
	SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, wan_verify_cb);
	SSL_set_info_callback(ssl, wan_info_cb);
	return ssl;
}
