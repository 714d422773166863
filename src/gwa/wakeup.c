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
#include "gwa/wakeup_key.h"

struct wakeup_sender {
	const struct tw_home *home;   /* borrowed: must outlive the sender */
	struct signer_client *sc;
	char gwa_id[WAKEUP_ID_MAX + 1];
	int fd4, fd6;
	struct wakeup_key_state keys;   /* which GWA SIG key version per gateway */
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
	if ((rc = wakeup_key_init(&s->keys, home, err)) != TW_OK)
		goto out;
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
	wakeup_key_free(&s->keys);
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

/*
 * Wake-ups per signer request. The signer is one thread that also makes the wan's TLS
 * handshake signatures: a request of 64 (about 30 ms of ECDSA with SoftHSM) keeps their
 * wait short while still sharing one admin-log transaction among 64 signatures.
 */
#define WAKEUP_SIGN_CHUNK 64

/* A prepared datagram of a batch: where it goes and what is signed. */
struct wakeup_out {
	struct wakeup w;
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned char tbs[WAKEUP_TBS_MAX];
	size_t tbs_len;
};

static tw_rc prepare(struct wakeup_sender *s, const struct wakeup_item *it,
	struct wakeup_out *o, struct tw_error *err)
{
	tw_rc rc;

	memset(&o->w, 0, sizeof(o->w));
	if ((rc = resolve(it->address, &o->ss, &o->sl, err)) != TW_OK)
		return rc;
	if ((rc = tw_strlcpy_checked(o->w.recipient, it->gateway_id, sizeof(o->w.recipient),
	    err, "gateway id")) != TW_OK)
		return rc;
	memcpy(o->w.gwa_id, s->gwa_id, sizeof(o->w.gwa_id));
	o->w.timestamp_ms = (uint64_t)tw_now_ms();
	if (RAND_bytes(o->w.nonce, sizeof(o->w.nonce)) != 1)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "no randomness for a wake-up nonce");
	return wakeup_encode_tbs(&o->w, o->tbs, &o->tbs_len, err);
}

/*
 * Sign the k prepared datagrams idx[0..k) with key label in one round trip; on failure
 * every one of them gets the error, which is also returned. The connection is opened on
 * first use and dropped after a transport failure (the signer may have restarted:
 * reconnect next time).
 */
static tw_rc sign_some(struct wakeup_sender *s, const char *label, struct wakeup_item *items,
	struct wakeup_out *outs, const size_t *idx, size_t k)
{
	const unsigned char *data[WAKEUP_SIGN_CHUNK];
	unsigned char *sig[WAKEUP_SIGN_CHUNK];
	size_t len[WAKEUP_SIGN_CHUNK], sig_len[WAKEUP_SIGN_CHUNK];
	struct tw_error e;
	tw_rc rc = TW_OK;

	for (size_t j = 0; j < k; j++) {
		data[j] = outs[idx[j]].tbs;
		len[j] = outs[idx[j]].tbs_len;
	}
	if (s->sc == NULL) {
		rc = signer_client_open(s->home, false, &s->sc, &e);
		if (rc == TW_OK)
			signer_client_set_actor(s->sc, "system:worker", "service");
	}
	if (rc == TW_OK)
		rc = signer_sign_data_batch(s->sc, label, SIGNER_PURPOSE_WAKEUP, data, len, k, sig,
			sig_len, &e);
	if (rc != TW_OK && s->sc != NULL &&
	    (rc == TW_E_IO || rc == TW_E_PROTOCOL || rc == TW_E_UNAVAILABLE)) {
		signer_client_close(s->sc);
		s->sc = NULL;
	}
	for (size_t j = 0; j < k; j++) {
		struct wakeup_item *it = &items[idx[j]];
		struct wakeup *w = &outs[idx[j]].w;

		if (rc != TW_OK) {
			it->rc = rc;
			it->e = e;
			continue;
		}
		if (sig_len[j] > WAKEUP_SIG_MAX) {
			it->rc = tw_error_set(&it->e, TW_E_CRYPTO, "the signer returned a %zu-byte "
				"signature; a wake-up carries at most %d", sig_len[j], WAKEUP_SIG_MAX);
		} else {
			memcpy(w->sig, sig[j], sig_len[j]);
			w->sig_len = sig_len[j];
		}
		free(sig[j]);
	}
	return rc;
}

/*
 * The chunk idx[0..k) of wake-ups marked previous: signed with the kept previous key
 * version. When the signer no longer has it (retired meanwhile: the ".prev" certificate
 * is removed right after), the same wake-ups go out with the current key, as they would
 * once the files say so; the version is not asked for again until the files change.
 */
static void sign_previous(struct wakeup_sender *s, struct wakeup_item *items,
	struct wakeup_out *outs, const size_t *idx, size_t k)
{
	const char *label = wakeup_key_prev_label(&s->keys);

	if (label[0] != '\0' &&
	    sign_some(s, label, items, outs, idx, k) != TW_E_NOT_FOUND)
		return;
	if (label[0] != '\0')
		tw_warn("worker: the signer has no GWA SIG key %s any more (retired); wake-ups are "
			"signed with the current key", label);
	wakeup_key_prev_gone(&s->keys);
	for (size_t j = 0; j < k; j++) {
		items[idx[j]].previous = false;
		items[idx[j]].rc = TW_OK;
		tw_error_clear(&items[idx[j]].e);
	}
	(void)sign_some(s, SIGNER_KEY_GWA_SIG, items, outs, idx, k);
}

tw_rc wakeup_sender_choose_keys(struct wakeup_sender *s, struct tw_store *store,
	struct wakeup_item *items, size_t n, struct tw_error *err)
{
	tw_rc rc = wakeup_key_refresh(&s->keys, err);

	if (rc == TW_OK)
		return wakeup_key_choose(&s->keys, store, items, n, err);
	for (size_t i = 0; i < n; i++)
		items[i].previous = false;
	return rc;
}

tw_rc wakeup_send_batch(struct wakeup_sender *s, struct wakeup_item *items, size_t n)
{
	struct wakeup_out *outs = NULL;
	size_t *idx = NULL, *pidx = NULL, k = 0, pk = 0;
	tw_rc first = TW_OK;

	for (size_t i = 0; i < n; i++) {
		items[i].rc = TW_OK;
		tw_error_clear(&items[i].e);
	}
	if (n == 0)
		return TW_OK;
	if ((outs = calloc(n, sizeof(*outs))) == NULL || (idx = calloc(n, sizeof(*idx))) == NULL ||
	    (pidx = calloc(n, sizeof(*pidx))) == NULL) {
		for (size_t i = 0; i < n; i++)
			items[i].rc = tw_error_set(&items[i].e, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/* Time and nonce per datagram, then the signatures in round trips of at most
	 * WAKEUP_SIGN_CHUNK per key version, then the datagrams. */
	for (size_t i = 0; i < n; i++) {
		items[i].rc = prepare(s, &items[i], &outs[i], &items[i].e);
		if (items[i].rc != TW_OK)
			continue;
		if (items[i].previous) {
			pidx[pk++] = i;
			if (pk == WAKEUP_SIGN_CHUNK) {
				sign_previous(s, items, outs, pidx, pk);
				pk = 0;
			}
			continue;
		}
		idx[k++] = i;
		if (k == WAKEUP_SIGN_CHUNK) {
			(void)sign_some(s, SIGNER_KEY_GWA_SIG, items, outs, idx, k);
			k = 0;
		}
	}
	if (k > 0)
		(void)sign_some(s, SIGNER_KEY_GWA_SIG, items, outs, idx, k);
	if (pk > 0)
		sign_previous(s, items, outs, pidx, pk);
	for (size_t i = 0; i < n; i++) {
		struct wakeup_out *o = &outs[i];
		unsigned char dgram[WAKEUP_MAX];
		size_t len;
		int fd;

		if (items[i].rc != TW_OK ||
		    (items[i].rc = wakeup_encode(&o->w, dgram, &len, &items[i].e)) != TW_OK)
			continue;
		fd = o->ss.ss_family == AF_INET6 ? s->fd6 : s->fd4;
		if (fd < 0 || sendto(fd, dgram, len, 0, (struct sockaddr *)&o->ss, o->sl) !=
		    (ssize_t)len)
			items[i].rc = tw_error_set(&items[i].e, TW_E_IO, "cannot send a wake-up to "
				"%s: %s", items[i].address, fd < 0 ? "no socket for this address "
				"family" : strerror(errno));
	}
out:
	for (size_t i = 0; i < n && first == TW_OK; i++)
		first = items[i].rc;
	free(outs);
	free(idx);
	free(pidx);
	return first;
}

tw_rc wakeup_send(struct wakeup_sender *s, const char *gateway_id, const char *address,
	struct tw_error *err)
{
	struct wakeup_item it = { .gateway_id = gateway_id, .address = address };
	tw_rc rc = wakeup_send_batch(s, &it, 1);

	if (rc != TW_OK && err != NULL)
		*err = it.e;
	return rc;
}
