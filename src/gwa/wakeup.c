/*
 * wakeup.c: sign and send wake-up datagrams (wakeup.h). The signature comes from the
 * signer (key gwa-sig, purpose wakeup), which audits every signature it makes; the
 * datagram layout is wakeup_codec.c's.
 */
#include "gwa/wakeup.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "base/home.h"

struct wakeup_sender {
	const struct tw_home *home;   /* borrowed: must outlive the sender */
	struct signer_client *sc;
	char gwa_id[WAKEUP_ID_MAX + 1];
	int fd4, fd6;
};

tw_rc wakeup_cert_gwa_id(X509 *cert, char out[WAKEUP_ID_MAX + 1], struct tw_error *err)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int n;

	out[0] = '\0';
	n = name != NULL ? X509_NAME_get_text_by_NID(name, NID_commonName, out,
		WAKEUP_ID_MAX + 1) : -1;
	if (n <= 0 || n > WAKEUP_ID_MAX) {
		out[0] = '\0';
		return tw_error_set(err, TW_E_INVALID, "the GWA SIG certificate has no usable common "
			"name (1..%d characters) to serve as GWA id in wake-ups", WAKEUP_ID_MAX);
	}
	return TW_OK;
}

tw_rc wakeup_sender_open(const struct tw_home *home, struct wakeup_sender **out,
	struct tw_error *err)
{
	struct wakeup_sender *s = NULL;
	char *path = NULL;
	X509 *cert = NULL;
	tw_rc rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	s->home = home;
	s->fd4 = s->fd6 = -1;
	if ((path = tw_home_path(home, "worker", "gwa_sig_cert", TW_HOME_GWA_SIG_CERT)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(path, &cert, err)) != TW_OK) {
		tw_error_set(err, rc, "cannot read the GWA SIG certificate %s ([worker] "
			"gwa_sig_cert): wake-ups need it", path);
		goto out;
	}
	if ((rc = wakeup_cert_gwa_id(cert, s->gwa_id, err)) != TW_OK)
		goto out;
	s->fd4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	s->fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd4 < 0 && s->fd6 < 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot open a UDP socket for wake-ups: %s",
			strerror(errno));
		goto out;
	}
	*out = s;
	s = NULL;
	rc = TW_OK;
out:
	X509_free(cert);
	free(path);
	wakeup_sender_close(s);
	return rc;
}

void wakeup_sender_close(struct wakeup_sender *s)
{
	if (s == NULL)
		return;
	signer_client_close(s->sc);
	if (s->fd4 >= 0)
		close(s->fd4);
	if (s->fd6 >= 0)
		close(s->fd6);
	free(s);
}

const char *wakeup_sender_gwa_id(const struct wakeup_sender *s)
{
	return s->gwa_id;
}

static tw_rc resolve(const char *address, struct sockaddr_storage *ss, socklen_t *sl,
	struct tw_error *err)
{
	struct addrinfo hints, *ai = NULL;
	char *host = NULL, port[8];
	uint16_t p;
	tw_rc rc;
	int g;

	if ((rc = tw_parse_hostport(address, &host, &p, err)) != TW_OK)
		return rc;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", p);
	if ((g = getaddrinfo(host, port, &hints, &ai)) != 0 || ai == NULL ||
	    ai->ai_addrlen > sizeof(*ss)) {
		rc = tw_error_set(err, TW_E_IO, "cannot resolve wake-up address %s: %s", address,
			g != 0 ? gai_strerror(g) : "no address");
	} else {
		memcpy(ss, ai->ai_addr, ai->ai_addrlen);
		*sl = ai->ai_addrlen;
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	return rc;
}

tw_rc wakeup_send(struct wakeup_sender *s, const char *gateway_id, const char *address,
	struct tw_error *err)
{
	struct wakeup w;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	unsigned char tbs[WAKEUP_TBS_MAX], dgram[WAKEUP_MAX], *sig = NULL;
	size_t tbs_len, len, sig_len = 0;
	int fd;
	tw_rc rc;

	memset(&w, 0, sizeof(w));
	if ((rc = resolve(address, &ss, &sl, err)) != TW_OK)
		return rc;
	if ((rc = tw_strlcpy_checked(w.recipient, gateway_id, sizeof(w.recipient), err,
	    "gateway id")) != TW_OK)
		return rc;
	memcpy(w.gwa_id, s->gwa_id, sizeof(w.gwa_id));
	w.timestamp_ms = (uint64_t)tw_now_ms();
	if (RAND_bytes(w.nonce, sizeof(w.nonce)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for a wake-up nonce");
	if ((rc = wakeup_encode_tbs(&w, tbs, &tbs_len, err)) != TW_OK)
		return rc;
	if (s->sc == NULL) {
		if ((rc = signer_client_open(s->home, false, &s->sc, err)) != TW_OK)
			return rc;
		signer_client_set_actor(s->sc, "system:worker", "service");
	}
	rc = signer_sign_data(s->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, tbs, tbs_len,
		&sig, &sig_len, err);
	if (rc != TW_OK) {
		/* Reconnect next time: the signer may have restarted. */
		if (rc == TW_E_IO || rc == TW_E_PROTOCOL || rc == TW_E_UNAVAILABLE) {
			signer_client_close(s->sc);
			s->sc = NULL;
		}
		return rc;
	}
	if (sig_len > WAKEUP_SIG_MAX) {
		free(sig);
		return tw_error_set(err, TW_E_CRYPTO, "the signer returned a %zu-byte signature; a "
			"wake-up carries at most %d", sig_len, WAKEUP_SIG_MAX);
	}
	memcpy(w.sig, sig, sig_len);
	w.sig_len = sig_len;
	free(sig);
	if ((rc = wakeup_encode(&w, dgram, &len, err)) != TW_OK)
		return rc;
	fd = ss.ss_family == AF_INET6 ? s->fd6 : s->fd4;
	if (fd < 0 || sendto(fd, dgram, len, 0, (struct sockaddr *)&ss, sl) != (ssize_t)len)
		return tw_error_set(err, TW_E_IO, "cannot send a wake-up to %s: %s", address,
			fd < 0 ? "no socket for this address family" : strerror(errno));
	return TW_OK;
}
