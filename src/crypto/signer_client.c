/*
 * signer_client.c: the client side of the signer protocol, used by every process that
 * needs a signature (api, wan, worker, the CLI). It holds no key material: it sends TBS
 * bytes or data and receives signatures (docs/signer-protocol.md).
 *
 * Requests are synchronous on a blocking socket with a timeout; any transport or
 * framing failure marks the client broken, because after a lost frame we can no longer
 * trust which response belongs to which request.
 */
#include "crypto/signer.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/objects.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/signer_proto.h"

#define SIGNER_CLIENT_TIMEOUT_S 60

struct signer_client {
	int fd;                 /* -1 once broken */
	pid_t child;            /* private signer child, or 0 */
	uint16_t next_id;
	uint16_t pending_id;    /* SIGN_CERTIFICATES sent, answer not yet read; 0: none */
	char *actor, *role;     /* sent with the next request (HELLO) */
	bool hello_pending;
	char *where;            /* for messages: "signer at PATH" or "private signer child" */
	char *hint;             /* what the user can do when the signer is unreachable */
	int timeout_s;          /* per send/receive (SIGNER_CLIENT_TIMEOUT_S by default) */
};

static tw_rc client_new(int fd, const char *where, const char *hint,
	struct signer_client **out, struct tw_error *err)
{
	struct signer_client *sc = calloc(1, sizeof(*sc));
	struct timeval tv = { SIGNER_CLIENT_TIMEOUT_S, 0 };

	*out = NULL;
	if (sc == NULL || (sc->where = tw_strdup(where)) == NULL ||
	    (hint != NULL && (sc->hint = tw_strdup(hint)) == NULL)) {
		if (sc != NULL)
			free(sc->where);
		free(sc);
		close(fd);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	/* A hung signer must not hang its clients forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sc->fd = fd;
	sc->next_id = 1;
	sc->timeout_s = SIGNER_CLIENT_TIMEOUT_S;
	*out = sc;
	return TW_OK;
}

void signer_client_set_timeout(struct signer_client *sc, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (sc == NULL || sc->fd < 0 || seconds <= 0)
		return;
	sc->timeout_s = seconds;
	setsockopt(sc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void signer_client_close(struct signer_client *sc)
{
	if (sc == NULL)
		return;
	if (sc->fd >= 0)
		close(sc->fd);
	/* EOF on its socket ends the private child; reap it so no zombie is left. */
	if (sc->child > 0)
		while (waitpid(sc->child, NULL, 0) < 0 && errno == EINTR)
			;
	free(sc->actor);
	free(sc->role);
	free(sc->where);
	free(sc->hint);
	free(sc);
}

void signer_client_set_actor(struct signer_client *sc, const char *actor, const char *role)
{
	if (sc == NULL)
		return;
	free(sc->actor);
	free(sc->role);
	sc->actor = tw_strdup(actor);
	sc->role = tw_strdup(role);
	/* Errors (too long, no memory) surface with the next request, which sends HELLO. */
	sc->hello_pending = true;
}

const char *signer_client_role(const struct signer_client *sc)
{
	return sc != NULL && sc->role != NULL ? sc->role : NULL;
}

static tw_rc broken(struct signer_client *sc, tw_rc code, struct tw_error *err,
	const char *what)
{
	if (sc->fd >= 0)
		close(sc->fd);
	sc->fd = -1;
	return tw_error_set(err, code, "%s: %s%s%s", sc->where, what,
		sc->hint != NULL ? "; " : "", sc->hint != NULL ? sc->hint : "");
}

static tw_rc send_all(struct signer_client *sc, const unsigned char *p, size_t len,
	struct tw_error *err)
{
	while (len > 0) {
		ssize_t n = send(sc->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return broken(sc, TW_E_UNAVAILABLE, err, errno == EAGAIN ?
				"timed out sending a request" : "connection lost while sending");
		p += n;
		len -= (size_t)n;
	}
	return TW_OK;
}

static tw_rc recv_all(struct signer_client *sc, unsigned char *p, size_t len,
	struct tw_error *err)
{
	while (len > 0) {
		ssize_t n = recv(sc->fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return broken(sc, TW_E_UNAVAILABLE, err, "the signer closed the connection "
				"(see its log)");
		if (n < 0 && errno == EAGAIN) {
			char what[64];

			snprintf(what, sizeof(what), "no answer within %d s", sc->timeout_s);
			return broken(sc, TW_E_UNAVAILABLE, err, what);
		}
		if (n < 0)
			return broken(sc, TW_E_UNAVAILABLE, err, "connection lost while receiving");
		p += n;
		len -= (size_t)n;
	}
	return TW_OK;
}

/* Encode and send one request (assigning its id). */
static tw_rc send_req(struct signer_client *sc, struct signer_msg *req, struct tw_error *err)
{
	struct tw_buf frame;
	tw_rc rc;

	if (sc->fd < 0)
		return tw_error_set(err, TW_E_UNAVAILABLE, "%s: connection was lost earlier; "
			"close and reopen the signer client", sc->where);
	if (sc->next_id == 0)
		sc->next_id = 1;   /* 0 means "none in flight" (pending_id) */
	req->id = sc->next_id++;
	tw_buf_init(&frame, SIGNER_FRAME_MAX + SIGNER_LEN_BYTES);
	if ((rc = signer_frame_encode(req, &frame, err)) == TW_OK)
		rc = send_all(sc, frame.data, frame.len, err);
	/* A custodian share or a secret to seal must not linger in freed memory. */
	if ((req->op == SIGNER_OP_CUSTODIAN_SHARE || req->op == SIGNER_OP_SEAL) &&
	    frame.data != NULL)
		OPENSSL_cleanse(frame.data, frame.len);
	tw_buf_free(&frame);
	return rc;
}

/*
 * Receive the answer to the request (op, id). On TW_OK *body holds the response frame
 * (caller frees) and resp points into it; a non-OK status becomes the return code.
 */
static tw_rc recv_resp(struct signer_client *sc, uint8_t op, uint16_t id,
	struct signer_msg *resp, unsigned char **body, struct tw_error *err)
{
	unsigned char prefix[SIGNER_LEN_BYTES];
	uint32_t len;
	tw_rc rc;

	*body = NULL;
	if ((rc = recv_all(sc, prefix, sizeof(prefix), err)) != TW_OK)
		goto out;
	if ((rc = signer_frame_check_len(prefix, &len, err)) != TW_OK) {
		rc = broken(sc, TW_E_PROTOCOL, err, "the signer sent a frame of invalid length");
		goto out;
	}
	if ((*body = malloc(len)) == NULL) {
		rc = broken(sc, TW_E_NOMEM, err, "out of memory");
		goto out;
	}
	if ((rc = recv_all(sc, *body, len, err)) != TW_OK)
		goto out;
	if (signer_frame_decode(*body, len, resp, err) != TW_OK ||
	    resp->op != (op | SIGNER_OP_RESPONSE) || resp->id != id) {
		rc = broken(sc, TW_E_PROTOCOL, err, "the signer's answer does not match the request");
		goto out;
	}
	if (resp->status != TW_OK) {
		char msg[SIGNER_MESSAGE_MAX + 1] = "";

		if (resp->f[SIGNER_TAG_MESSAGE].present) {
			memcpy(msg, resp->f[SIGNER_TAG_MESSAGE].ptr, resp->f[SIGNER_TAG_MESSAGE].len);
			msg[resp->f[SIGNER_TAG_MESSAGE].len] = '\0';
		}
		rc = tw_error_set(err, (tw_rc)resp->status, "%s",
			msg[0] != '\0' ? msg : tw_strerror((tw_rc)resp->status));
		/* The signer closes after a protocol error; so do we. */
		if (rc == TW_E_PROTOCOL && sc->fd >= 0) {
			close(sc->fd);
			sc->fd = -1;
		}
		goto out;
	}
	rc = TW_OK;
out:
	if (rc != TW_OK) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

/* One round trip (send_req + recv_resp). */
static tw_rc transact1(struct signer_client *sc, struct signer_msg *req,
	struct signer_msg *resp, unsigned char **body, struct tw_error *err)
{
	tw_rc rc;

	*body = NULL;
	if ((rc = send_req(sc, req, err)) != TW_OK)
		return rc;
	return recv_resp(sc, req->op, req->id, resp, body, err);
}

/* Sends a pending HELLO first, then the request. */
static tw_rc transact(struct signer_client *sc, struct signer_msg *req,
	struct signer_msg *resp, unsigned char **body, struct tw_error *err)
{
	*body = NULL;
	if (sc == NULL)
		return tw_error_set(err, TW_E_INVALID, "no signer client");
	if (sc->hello_pending) {
		struct signer_msg h, hr;
		unsigned char *hb = NULL;
		tw_rc rc;

		signer_msg_init(&h, SIGNER_OP_HELLO, 0);
		if (sc->actor != NULL && sc->actor[0] != '\0')
			signer_msg_set_str(&h, SIGNER_TAG_ACTOR, sc->actor);
		if (sc->role != NULL && sc->role[0] != '\0')
			signer_msg_set_str(&h, SIGNER_TAG_ROLE, sc->role);
		rc = transact1(sc, &h, &hr, &hb, err);
		free(hb);
		if (rc != TW_OK)
			return rc;
		sc->hello_pending = false;
	}
	return transact1(sc, req, resp, body, err);
}

/* Borrowed payload of a successful response (points into the response frame). */
static tw_rc payload(const struct signer_msg *resp, const unsigned char **p, size_t *len,
	struct tw_error *err)
{
	*p = NULL;
	*len = 0;
	if (!resp->f[SIGNER_TAG_PAYLOAD].present)
		return tw_error_set(err, TW_E_PROTOCOL, "the signer answered without a result");
	*p = resp->f[SIGNER_TAG_PAYLOAD].ptr;
	*len = resp->f[SIGNER_TAG_PAYLOAD].len;
	return TW_OK;
}

static tw_rc probe(struct signer_client *sc, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	tw_rc rc;

	signer_msg_init(&req, SIGNER_OP_HELLO, 0);
	rc = transact(sc, &req, &resp, &body, err);
	free(body);
	return rc;
}

static tw_rc connect_path(const char *path, int *out, struct tw_error *err)
{
	struct sockaddr_un sa;
	int fd;

	*out = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return tw_error_set(err, TW_E_CONFIG, "signer socket path %s is too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return tw_error_set(err, TW_E_IO, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return tw_error_set(err, TW_E_UNAVAILABLE, "signer not running at %s", path);
		return tw_error_set(err, e == EACCES ? TW_E_DENIED : TW_E_IO, "cannot connect to "
			"the signer at %s: %s", path, strerror(e));
	}
	*out = fd;
	return TW_OK;
}

static tw_rc connect_with_hint(const char *path, const char *hint, int timeout_s,
	struct signer_client **out, struct tw_error *err)
{
	char where[160];
	int fd;
	tw_rc rc;

	*out = NULL;
	if ((rc = connect_path(path, &fd, err)) != TW_OK) {
		if (rc == TW_E_UNAVAILABLE && hint != NULL && err != NULL) {
			char msg[TW_ERROR_MESSAGE_MAX];

			memcpy(msg, err->message, sizeof(msg));
			tw_error_set(err, rc, "%s: %s", msg, hint);
		}
		return rc;
	}
	snprintf(where, sizeof(where), "signer at %s", path);
	if ((rc = client_new(fd, where, hint, out, err)) != TW_OK)
		return rc;
	/* Before the probe: a hung signer must not hold the caller longer than asked. */
	if (timeout_s > 0)
		signer_client_set_timeout(*out, timeout_s);
	if ((rc = probe(*out, err)) != TW_OK) {
		signer_client_close(*out);
		*out = NULL;
	}
	return rc;
}

tw_rc signer_client_connect(const char *socket_path, struct signer_client **out,
	struct tw_error *err)
{
	return connect_with_hint(socket_path, "start it with `torwartd --home HOME signer`", 0,
		out, err);
}

tw_rc signer_client_connect_timeout(const char *socket_path, int timeout_s,
	struct signer_client **out, struct tw_error *err)
{
	return connect_with_hint(socket_path, "start it with `torwartd --home HOME signer`",
		timeout_s, out, err);
}

tw_rc signer_client_adopt(int fd, pid_t child, const char *where,
	struct signer_client **out, struct tw_error *err)
{
	tw_rc rc;

	*out = NULL;
	if ((rc = client_new(fd, where, NULL, out, err)) != TW_OK)
		return rc;
	(*out)->child = child;
	if ((rc = probe(*out, err)) != TW_OK) {
		signer_client_close(*out);
		*out = NULL;
	}
	return rc;
}

tw_rc signer_client_connect_hint(const char *socket_path, const char *hint,
	struct signer_client **out, struct tw_error *err)
{
	return connect_with_hint(socket_path, hint, 0, out, err);
}

/* ---------------- operations ---------------- */

static tw_rc get_pub(const struct signer_msg *resp, EVP_PKEY **pub, struct tw_error *err)
{
	const unsigned char *p;
	size_t len;
	tw_rc rc;

	if ((rc = payload(resp, &p, &len, err)) != TW_OK)
		return rc;
	if ((*pub = d2i_PUBKEY(NULL, &p, (long)len)) == NULL)
		return tw_error_set_openssl(err, TW_E_PROTOCOL, "the signer sent an invalid "
			"public key");
	return TW_OK;
}

static tw_rc check_label(const char *label, struct tw_error *err)
{
	if (label == NULL || !signer_label_valid(label, strlen(label)))
		return tw_error_set(err, TW_E_INVALID, "key label '%s' is invalid: 1..%d of "
			"letters, digits, '.', '_', '-'", label != NULL ? label : "",
			SIGNER_LABEL_MAX);
	return TW_OK;
}

tw_rc signer_generate_key(struct signer_client *sc, const char *label, int curve_nid,
	EVP_PKEY **pub, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL, *oid = NULL;
	const ASN1_OBJECT *obj;
	int n;
	tw_rc rc;

	*pub = NULL;
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if ((obj = OBJ_nid2obj(curve_nid)) == NULL || (n = i2d_ASN1_OBJECT(obj, &oid)) <= 0)
		return tw_error_set_openssl(err, TW_E_INVALID, "curve %d has no OID", curve_nid);
	signer_msg_init(&req, SIGNER_OP_GENERATE_KEY, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_CURVE, oid, (size_t)n);
	if ((rc = transact(sc, &req, &resp, &body, err)) == TW_OK)
		rc = get_pub(&resp, pub, err);
	OPENSSL_free(oid);
	free(body);
	return rc;
}

tw_rc signer_get_public_key(struct signer_client *sc, const char *label, EVP_PKEY **pub,
	struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	tw_rc rc;

	*pub = NULL;
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	signer_msg_init(&req, SIGNER_OP_GET_PUBLIC_KEY, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	if ((rc = transact(sc, &req, &resp, &body, err)) == TW_OK)
		rc = get_pub(&resp, pub, err);
	free(body);
	return rc;
}

tw_rc signer_sign_certificate(struct signer_client *sc, const char *label, X509 *cert,
	X509 **signed_cert, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL, *tbs = NULL;
	const unsigned char *p;
	X509_ALGOR *alg;
	int placeholder;
	size_t len;
	int n;
	tw_rc rc;

	*signed_cert = NULL;
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (cert == NULL)
		return tw_error_set(err, TW_E_INVALID, "no certificate to sign");
	/*
	 * A freshly built certificate has an empty TBS signature algorithm, which DER cannot
	 * encode (and X509_dup cannot copy). Put a placeholder in for the encoding and take
	 * it out again; the signer's X509_sign replaces it with the algorithm of the key.
	 */
	alg = (X509_ALGOR *)X509_get0_tbs_sigalg(cert);
	placeholder = OBJ_obj2nid(alg->algorithm) == NID_undef;
	if (placeholder &&
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) != 1)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot set a signature algorithm");
	/* i2d_re_X509_tbs re-encodes, so fields changed since parsing are included. */
	n = i2d_re_X509_tbs(cert, &tbs);
	if (placeholder)
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_undef), V_ASN1_UNDEF, NULL);
	if (n <= 0)
		return tw_error_set_openssl(err, TW_E_INVALID, "cannot encode the certificate "
			"to be signed (is it fully populated?)");
	signer_msg_init(&req, SIGNER_OP_SIGN_CERTIFICATE, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_DATA, tbs, (size_t)n);
	if ((rc = transact(sc, &req, &resp, &body, err)) != TW_OK)
		goto out;
	if ((rc = payload(&resp, &p, &len, err)) != TW_OK)
		goto out;
	if ((*signed_cert = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    p != resp.f[SIGNER_TAG_PAYLOAD].ptr + len) {
		X509_free(*signed_cert);
		*signed_cert = NULL;
		rc = tw_error_set_openssl(err, TW_E_PROTOCOL, "the signer sent an invalid "
			"certificate");
	}
out:
	OPENSSL_free(tbs);
	free(body);
	return rc;
}

/*
 * The HELLO (actor, role) of a fresh connection as a blocking round trip of its own, once
 * per connection, for the requests that are sent now and answered later (a batch, a split
 * sign): they cannot wait for a HELLO answer queued in front of theirs.
 */
static tw_rc signer_hello_if_pending(struct signer_client *sc, struct tw_error *err)
{
	struct signer_msg hello, answer;
	unsigned char *body = NULL;
	tw_rc rc;

	if (!sc->hello_pending)
		return TW_OK;
	signer_msg_init(&hello, SIGNER_OP_HELLO, 0);
	if (sc->actor != NULL && sc->actor[0] != '\0')
		signer_msg_set_str(&hello, SIGNER_TAG_ACTOR, sc->actor);
	if (sc->role != NULL && sc->role[0] != '\0')
		signer_msg_set_str(&hello, SIGNER_TAG_ROLE, sc->role);
	rc = transact1(sc, &hello, &answer, &body, err);
	free(body);
	if (rc == TW_OK)
		sc->hello_pending = false;
	return rc;
}

/* i2d of cert's TBS with the placeholder trick of signer_sign_certificate, appended to buf. */
static tw_rc append_tbs(X509 *cert, struct tw_buf *buf, struct tw_error *err)
{
	X509_ALGOR *alg = (X509_ALGOR *)X509_get0_tbs_sigalg(cert);
	int placeholder = OBJ_obj2nid(alg->algorithm) == NID_undef;
	unsigned char *tbs = NULL;
	int n;
	tw_rc rc;

	if (placeholder &&
	    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) != 1)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot set a signature algorithm");
	n = i2d_re_X509_tbs(cert, &tbs);
	if (placeholder)
		X509_ALGOR_set0(alg, OBJ_nid2obj(NID_undef), V_ASN1_UNDEF, NULL);
	if (n <= 0)
		return tw_error_set_openssl(err, TW_E_INVALID, "cannot encode a certificate to be "
			"signed (is it fully populated?)");
	rc = tw_buf_append(buf, tbs, (size_t)n, err);
	OPENSSL_free(tbs);
	return rc;
}

tw_rc signer_sign_certificates_send(struct signer_client *sc, const char *label,
	X509 *const *certs, size_t n, struct tw_error *err)
{
	struct signer_msg req;
	struct tw_buf data;
	size_t i;
	tw_rc rc;

	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (sc == NULL || certs == NULL || n == 0 || n > SIGNER_BATCH_MAX)
		return tw_error_set(err, TW_E_INVALID, "a batch has 1..%d certificates",
			SIGNER_BATCH_MAX);
	if (sc->pending_id != 0)
		return tw_error_set(err, TW_E_INTERNAL, "a signing batch is already in flight");
	/* HELLO first if needed (a request that is sent now and answered later cannot carry it). */
	if ((rc = signer_hello_if_pending(sc, err)) != TW_OK)
		return rc;
	tw_buf_init(&data, SIGNER_DATA_MAX);
	for (i = 0; i < n; i++)
		if ((rc = append_tbs(certs[i], &data, err)) != TW_OK)
			goto out;
	signer_msg_init(&req, SIGNER_OP_SIGN_CERTIFICATES, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_DATA, data.data, data.len);
	if ((rc = send_req(sc, &req, err)) == TW_OK)
		sc->pending_id = req.id;
out:
	tw_buf_free(&data);
	return rc;
}

tw_rc signer_sign_certificates_recv_der(struct signer_client *sc, size_t n,
	unsigned char **der, size_t *len, struct tw_error *err)
{
	struct signer_msg resp;
	unsigned char *body = NULL;
	const unsigned char *p, *end;
	size_t plen, i;
	uint16_t id;
	tw_rc rc;

	for (i = 0; i < n && der != NULL && len != NULL; i++) {
		der[i] = NULL;
		len[i] = 0;
	}
	if (sc == NULL || sc->pending_id == 0 || der == NULL || len == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "no signing batch in flight");
	id = sc->pending_id;
	sc->pending_id = 0;
	if ((rc = recv_resp(sc, SIGNER_OP_SIGN_CERTIFICATES, id, &resp, &body, err)) != TW_OK ||
	    (rc = payload(&resp, &p, &plen, err)) != TW_OK)
		goto out;
	end = p + plen;
	for (i = 0; i < n && p < end; i++) {
		const unsigned char *q = p;
		long clen = 0;
		int tag, cls, inf = ASN1_get_object(&q, &clen, &tag, &cls, (long)(end - p));
		size_t one;

		/* Each certificate's own DER header says where it ends. */
		if ((inf & 0x80) || inf != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
		    cls != V_ASN1_UNIVERSAL)
			break;
		one = (size_t)(q - p) + (size_t)clen;
		if ((der[i] = malloc(one)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(der[i], p, one);
		len[i] = one;
		p += one;
	}
	if (i != n || p != end)
		rc = tw_error_set_openssl(err, TW_E_PROTOCOL, "the signer's batch answer does not "
			"hold exactly %zu certificates", n);
out:
	if (rc != TW_OK)
		for (i = 0; i < n; i++) {
			free(der[i]);
			der[i] = NULL;
			len[i] = 0;
		}
	free(body);
	return rc;
}

tw_rc signer_sign_certificates_recv(struct signer_client *sc, size_t n, X509 **signed_certs,
	struct tw_error *err)
{
	unsigned char **der = NULL;
	size_t *len = NULL, i;
	tw_rc rc;

	for (i = 0; i < n && signed_certs != NULL; i++)
		signed_certs[i] = NULL;
	if (sc == NULL || sc->pending_id == 0 || signed_certs == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "no signing batch in flight");
	if ((der = calloc(n > 0 ? n : 1, sizeof(*der))) == NULL ||
	    (len = calloc(n > 0 ? n : 1, sizeof(*len))) == NULL) {
		/* Still in flight: a later recv can read (drain) it. */
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = signer_sign_certificates_recv_der(sc, n, der, len, err)) != TW_OK)
		goto out;
	for (i = 0; i < n; i++) {
		const unsigned char *p = der[i];

		if ((signed_certs[i] = d2i_X509(NULL, &p, (long)len[i])) == NULL ||
		    p != der[i] + len[i]) {
			rc = tw_error_set_openssl(err, TW_E_PROTOCOL, "certificate %zu of the "
				"signer's batch answer does not decode", i + 1);
			break;
		}
	}
	if (rc != TW_OK)
		for (i = 0; i < n; i++) {
			X509_free(signed_certs[i]);
			signed_certs[i] = NULL;
		}
out:
	for (i = 0; der != NULL && i < n; i++)
		free(der[i]);
	free(der);
	free(len);
	return rc;
}

tw_rc signer_sign_certificates(struct signer_client *sc, const char *label,
	X509 *const *certs, size_t n, X509 **signed_certs, struct tw_error *err)
{
	tw_rc rc;

	for (size_t i = 0; i < n && signed_certs != NULL; i++)
		signed_certs[i] = NULL;
	if ((rc = signer_sign_certificates_send(sc, label, certs, n, err)) != TW_OK)
		return rc;
	return signer_sign_certificates_recv(sc, n, signed_certs, err);
}

/* One CRL stream step; the answer of CRL_END is copied to *sig. */
static tw_rc crl_step(struct signer_client *sc, uint8_t op, const char *label,
	const unsigned char *data, size_t len, unsigned char **sig, size_t *sig_len,
	struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	const unsigned char *p;
	size_t plen;
	tw_rc rc;

	signer_msg_init(&req, op, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_DATA, data, len);
	if ((rc = transact(sc, &req, &resp, &body, err)) == TW_OK && sig != NULL &&
	    (rc = payload(&resp, &p, &plen, err)) == TW_OK) {
		if ((*sig = malloc(plen)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		} else {
			memcpy(*sig, p, plen);
			*sig_len = plen;
		}
	}
	free(body);
	return rc;
}

tw_rc signer_client_crl_begin(struct signer_client *sc, const char *label,
	const unsigned char *head, size_t len, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (len == 0 || len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL head of %zu bytes out of range", len);
	return crl_step(sc, SIGNER_OP_CRL_BEGIN, label, head, len, NULL, NULL, err);
}

tw_rc signer_client_crl_data(struct signer_client *sc, const char *label,
	const unsigned char *entries, size_t len, struct tw_error *err)
{
	if (len == 0 || len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL chunk of %zu bytes out of range", len);
	return crl_step(sc, SIGNER_OP_CRL_DATA, label, entries, len, NULL, NULL, err);
}

tw_rc signer_client_crl_end(struct signer_client *sc, const char *label,
	const unsigned char *tail, size_t len, unsigned char **sig, size_t *sig_len,
	struct tw_error *err)
{
	*sig = NULL;
	*sig_len = 0;
	if (len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL tail of %zu bytes out of range", len);
	return crl_step(sc, SIGNER_OP_CRL_END, label, tail, len, sig, sig_len, err);
}

tw_rc signer_sign_crl_stream(struct signer_client *sc, const char *label,
	const unsigned char *tbs, size_t tbs_len, size_t head_len, size_t list_len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	const unsigned char *list = tbs + head_len, *end;
	size_t off = 0;
	tw_rc rc;

	*sig = NULL;
	*sig_len = 0;
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (head_len == 0 || head_len > SIGNER_DATA_MAX || list_len == 0 ||
	    head_len + list_len >= tbs_len || tbs_len - head_len - list_len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "CRL stream parts out of range");
	if ((rc = crl_step(sc, SIGNER_OP_CRL_BEGIN, label, tbs, head_len, NULL, NULL, err)) !=
	    TW_OK)
		return rc;
	end = list + list_len;
	while (off < list_len) {
		/* Cut at the last whole entry that fits one frame. */
		size_t n = 0;

		while (off + n < list_len) {
			const unsigned char *q = list + off + n;
			long len = 0;
			int tag, cls, inf;
			size_t one;

			inf = ASN1_get_object(&q, &len, &tag, &cls, (long)(end - q));

			if (inf & 0x80)
				return tw_error_set_openssl(err, TW_E_INVALID, "a revoked entry at offset "
					"%zu does not parse", off + n);
			one = (size_t)(q - (list + off + n)) + (size_t)len;
			if (n + one > SIGNER_DATA_MAX)
				break;
			n += one;
		}
		if (n == 0)
			return tw_error_set(err, TW_E_TOO_LARGE, "a revoked entry exceeds a frame");
		if ((rc = crl_step(sc, SIGNER_OP_CRL_DATA, label, list + off, n, NULL, NULL, err)) !=
		    TW_OK)
			return rc;
		off += n;
	}
	return crl_step(sc, SIGNER_OP_CRL_END, label, tbs + head_len + list_len,
		tbs_len - head_len - list_len, sig, sig_len, err);
}

tw_rc signer_sign_data(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	unsigned char pv = (unsigned char)purpose;
	const unsigned char *p;
	size_t plen;
	tw_rc rc;

	*sig = NULL;
	*sig_len = 0;
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (signer_purpose_name(purpose) == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown signing purpose %d", (int)purpose);
	if (data == NULL || len == 0)
		return tw_error_set(err, TW_E_INVALID, "nothing to sign (empty data)");
	if (len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "%zu bytes exceed the signer's limit of "
			"%u per request", len, SIGNER_DATA_MAX);
	signer_msg_init(&req, SIGNER_OP_SIGN_DATA, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_PURPOSE, &pv, 1);
	signer_msg_set(&req, SIGNER_TAG_DATA, data, len);
	if ((rc = transact(sc, &req, &resp, &body, err)) != TW_OK)
		goto out;
	if ((rc = payload(&resp, &p, &plen, err)) != TW_OK)
		goto out;
	if ((*sig = malloc(plen)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*sig, p, plen);
	*sig_len = plen;
out:
	free(body);
	return rc;
}

tw_rc signer_sign_data_batch(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *const *data, const size_t *len,
	size_t n, unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	unsigned char pv = (unsigned char)purpose;
	const unsigned char *p, *end;
	struct tw_buf items;
	size_t plen, i;
	tw_rc rc;

	tw_buf_init(&items, SIGNER_DATA_MAX);
	for (i = 0; i < n && sig != NULL && sig_len != NULL; i++) {
		sig[i] = NULL;
		sig_len[i] = 0;
	}
	if (sc == NULL || data == NULL || len == NULL || sig == NULL || sig_len == NULL ||
	    n == 0 || n > SIGNER_BATCH_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "a signing batch has 1..%d items",
			SIGNER_BATCH_MAX);
		goto out;
	}
	if ((rc = check_label(label, err)) != TW_OK)
		goto out;
	if (signer_purpose_name(purpose) == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "unknown signing purpose %d", (int)purpose);
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char lp[2] = { (unsigned char)(len[i] >> 8), (unsigned char)len[i] };

		if (data[i] == NULL || len[i] == 0 || len[i] > SIGNER_BATCH_ITEM_MAX) {
			rc = tw_error_set(err, TW_E_INVALID, "item %zu of a signing batch has %zu "
				"bytes (1..%d)", i + 1, len[i], SIGNER_BATCH_ITEM_MAX);
			goto out;
		}
		if ((rc = tw_buf_append(&items, lp, 2, err)) != TW_OK ||
		    (rc = tw_buf_append(&items, data[i], len[i], err)) != TW_OK) {
			if (rc == TW_E_TOO_LARGE)
				tw_error_set(err, rc, "the signing batch exceeds %u bytes; send fewer "
					"items", SIGNER_DATA_MAX);
			goto out;
		}
	}
	signer_msg_init(&req, SIGNER_OP_SIGN_DATA_BATCH, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_PURPOSE, &pv, 1);
	signer_msg_set(&req, SIGNER_TAG_DATA, items.data, items.len);
	if ((rc = transact(sc, &req, &resp, &body, err)) != TW_OK ||
	    (rc = payload(&resp, &p, &plen, err)) != TW_OK)
		goto out;
	end = p + plen;
	for (i = 0; i < n; i++) {
		const unsigned char *one;
		size_t one_len;

		if (signer_batch_next(&p, end, SIGNER_BATCH_ITEM_MAX, &one, &one_len, err) != TW_OK) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "the signer's batch answer holds "
				"fewer signatures than requested (%zu of %zu)", i, n);
			goto out;
		}
		if ((sig[i] = malloc(one_len)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		memcpy(sig[i], one, one_len);
		sig_len[i] = one_len;
	}
	if (p != end)
		rc = tw_error_set(err, TW_E_PROTOCOL, "the signer's batch answer holds more than "
			"%zu signatures", n);
out:
	if (rc != TW_OK && sig != NULL && sig_len != NULL)
		for (i = 0; i < n; i++) {
			free(sig[i]);
			sig[i] = NULL;
			sig_len[i] = 0;
		}
	tw_buf_free(&items);
	free(body);
	return rc;
}

/*
 * SIGN_DATA in two halves for callers that wait elsewhere (the wan's asynchronous TLS
 * handshakes, tls_signer_key.c): the request goes out here, the answer is read by
 * signer_sign_data_recv once the client's fd is readable. One request in flight per
 * client (pending_id), as for certificate batches.
 */
tw_rc signer_sign_data_send(struct signer_client *sc, const char *label,
	enum signer_purpose purpose, const unsigned char *data, size_t len,
	struct tw_error *err)
{
	struct signer_msg req;
	unsigned char pv = (unsigned char)purpose;
	tw_rc rc;

	if (sc == NULL)
		return tw_error_set(err, TW_E_INVALID, "no signer client");
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (signer_purpose_name(purpose) == NULL)
		return tw_error_set(err, TW_E_INVALID, "unknown signing purpose %d", (int)purpose);
	if (data == NULL || len == 0)
		return tw_error_set(err, TW_E_INVALID, "nothing to sign (empty data)");
	if (len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "%zu bytes exceed the signer's limit of "
			"%u per request", len, SIGNER_DATA_MAX);
	if (sc->pending_id != 0)
		return tw_error_set(err, TW_E_INTERNAL, "a request is already in flight");
	/* HELLO first if needed (a request that is sent now and answered later cannot carry it). */
	if ((rc = signer_hello_if_pending(sc, err)) != TW_OK)
		return rc;
	signer_msg_init(&req, SIGNER_OP_SIGN_DATA, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_PURPOSE, &pv, 1);
	signer_msg_set(&req, SIGNER_TAG_DATA, data, len);
	if ((rc = send_req(sc, &req, err)) == TW_OK)
		sc->pending_id = req.id;
	return rc;
}

tw_rc signer_sign_data_recv(struct signer_client *sc, unsigned char **sig, size_t *sig_len,
	struct tw_error *err)
{
	struct signer_msg resp;
	unsigned char *body = NULL;
	const unsigned char *p;
	size_t plen;
	uint16_t id;
	tw_rc rc;

	*sig = NULL;
	*sig_len = 0;
	if (sc == NULL || sc->pending_id == 0)
		return tw_error_set(err, TW_E_INTERNAL, "no signing request in flight");
	id = sc->pending_id;
	sc->pending_id = 0;
	if ((rc = recv_resp(sc, SIGNER_OP_SIGN_DATA, id, &resp, &body, err)) != TW_OK)
		goto out;
	if ((rc = payload(&resp, &p, &plen, err)) != TW_OK)
		goto out;
	if ((*sig = malloc(plen)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*sig, p, plen);
	*sig_len = plen;
out:
	free(body);
	return rc;
}

int signer_client_fd(const struct signer_client *sc)
{
	return sc != NULL ? sc->fd : -1;
}

/* A text payload into answer (NUL-terminated, truncated to size). */
static tw_rc text_request(struct signer_client *sc, uint8_t op, const unsigned char *data,
	size_t len, char *answer, size_t size, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	const unsigned char *p;
	size_t plen;
	tw_rc rc;

	if (size > 0)
		answer[0] = '\0';
	if (data == NULL || len == 0 || len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "empty or oversized request");
	signer_msg_init(&req, op, 0);
	signer_msg_set(&req, SIGNER_TAG_DATA, data, len);
	if ((rc = transact(sc, &req, &resp, &body, err)) == TW_OK &&
	    (rc = payload(&resp, &p, &plen, err)) == TW_OK && size > 0) {
		size_t n = plen < size - 1 ? plen : size - 1;

		memcpy(answer, p, n);
		answer[n] = '\0';
	}
	if (body != NULL) {
		/* The request frame is gone; the answer frame holds no secret, but be tidy. */
		free(body);
	}
	return rc;
}

tw_rc signer_custodian_share(struct signer_client *sc, const unsigned char *text,
	size_t len, char *answer, size_t size, struct tw_error *err)
{
	return text_request(sc, SIGNER_OP_CUSTODIAN_SHARE, text, len, answer, size, err);
}

tw_rc signer_activation(struct signer_client *sc, const char *what, char *answer,
	size_t size, struct tw_error *err)
{
	return text_request(sc, SIGNER_OP_ACTIVATION, (const unsigned char *)what,
		what != NULL ? strlen(what) : 0, answer, size, err);
}

tw_rc signer_key_rotate(struct signer_client *sc, const char *label, const char *action,
	char *answer, size_t size, struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	const unsigned char *p;
	size_t plen;
	tw_rc rc;

	if (size > 0)
		answer[0] = '\0';
	if ((rc = check_label(label, err)) != TW_OK)
		return rc;
	if (action == NULL || action[0] == '\0' || strlen(action) > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "key-rotate: no action");
	signer_msg_init(&req, SIGNER_OP_KEY_ROTATE, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, label);
	signer_msg_set(&req, SIGNER_TAG_DATA, action, strlen(action));
	if ((rc = transact(sc, &req, &resp, &body, err)) == TW_OK &&
	    (rc = payload(&resp, &p, &plen, err)) == TW_OK && size > 0) {
		size_t n = plen < size - 1 ? plen : size - 1;

		memcpy(answer, p, n);
		answer[n] = '\0';
	}
	free(body);
	return rc;
}

/* SEAL and UNSEAL: one round trip; the answer copied out NUL-terminated. */
static tw_rc seal_op(struct signer_client *sc, uint8_t op, const char *context,
	const char *aad, const void *in, size_t in_len, char **out, size_t *out_len,
	struct tw_error *err)
{
	struct signer_msg req, resp;
	unsigned char *body = NULL;
	const unsigned char *p = NULL;
	size_t plen = 0;
	tw_rc rc;

	*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (context == NULL || !signer_label_valid(context, strlen(context)) || aad == NULL ||
	    aad[0] == '\0' || strlen(aad) > SIGNER_AAD_MAX)
		return tw_error_set(err, TW_E_INVALID, "a sealed secret needs a context and "
			"associated data of 1..%d bytes", SIGNER_AAD_MAX);
	if (in == NULL || in_len == 0 || in_len > SIGNER_DATA_MAX)
		return tw_error_set(err, TW_E_INVALID, "nothing to %s", op == SIGNER_OP_SEAL ?
			"seal" : "open");
	signer_msg_init(&req, op, 0);
	signer_msg_set_str(&req, SIGNER_TAG_LABEL, context);
	signer_msg_set_str(&req, SIGNER_TAG_AAD, aad);
	signer_msg_set(&req, SIGNER_TAG_DATA, in, in_len);
	if ((rc = transact(sc, &req, &resp, &body, err)) != TW_OK ||
	    (rc = payload(&resp, &p, &plen, err)) != TW_OK)
		goto out;
	if ((*out = malloc(plen + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*out, p, plen);
	(*out)[plen] = '\0';
	if (out_len != NULL)
		*out_len = plen;
out:
	/* An UNSEAL answer holds the plaintext. */
	if (body != NULL && op == SIGNER_OP_UNSEAL && p != NULL)
		OPENSSL_cleanse(body, (size_t)(p - body) + plen);
	free(body);
	return rc;
}

tw_rc signer_seal(struct signer_client *sc, const char *context, const char *aad,
	const void *plain, size_t len, char **sealed, struct tw_error *err)
{
	return seal_op(sc, SIGNER_OP_SEAL, context, aad, plain, len, sealed, NULL, err);
}

tw_rc signer_unseal(struct signer_client *sc, const char *context, const char *aad,
	const char *sealed, char **plain, size_t *len, struct tw_error *err)
{
	return seal_op(sc, SIGNER_OP_UNSEAL, context, aad, sealed,
		sealed != NULL ? strlen(sealed) : 0, plain, len, err);
}
