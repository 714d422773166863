/*
 * wakeup.h: the GWA side of wake-ups (UC-3.3.4): build a datagram for a gateway, have
 * the signer sign it with the GWA SIG key (purpose wakeup; this process never holds the
 * key) and send it over UDP to the gateway's wake-up address. Pacing (token buckets) is
 * the caller's (worker) business; see gwa/job_bucket.h.
 */
#ifndef TORWART_GWA_WAKEUP_H
#define TORWART_GWA_WAKEUP_H

#include <stdbool.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "net/wakeup_codec.h"
#include "store/store.h"

struct wakeup_sender;

/*
 * Open a sender for home: GWA id from the CN of [worker] gwa_sig_cert (default
 * pki/gwa-sig.crt), a UDP socket, and a signer connection (opened on first use, reopened
 * after a failure). *out is the caller's (wakeup_sender_close).
 */
tw_rc wakeup_sender_open(const struct tw_home *home, struct wakeup_sender **out,
	struct tw_error *err);
void wakeup_sender_close(struct wakeup_sender *s);
/* The GWA id this sender puts into datagrams (borrowed). */
const char *wakeup_sender_gwa_id(const struct wakeup_sender *s);

/* Sign and send one wake-up for gateway_id to address ("HOST:PORT"). */
tw_rc wakeup_send(struct wakeup_sender *s, const char *gateway_id, const char *address,
	struct tw_error *err);

/* One wake-up of a batch: gateway_id and address are the caller's (borrowed). */
struct wakeup_item {
	const char *gateway_id;
	const char *address;       /* "HOST:PORT" */
	/* in: sign with the kept previous GWA SIG key version (wakeup_sender_choose_keys);
	 * out: false when it went out with the current key after all (version retired). */
	bool previous;
	tw_rc rc;                  /* out: TW_OK when the datagram went out */
	struct tw_error e;         /* out: why not */
};

/*
 * After a rotation of the GWA SIG key: set items[i].previous for the gateways that
 * have not installed the new GWA SIG certificate yet, while the signer keeps the
 * previous version (gwa/wakeup_key.h says how it is decided: the rotation's files, one
 * store statement per 31 items, nothing outside a rotation). On failure no item is
 * marked (all with the current key) and the error is for the caller's log.
 */
tw_rc wakeup_sender_choose_keys(struct wakeup_sender *s, struct tw_store *store,
	struct wakeup_item *items, size_t n, struct tw_error *err);

/*
 * Sign and send n wake-ups with one signer round trip per 64 datagrams of one key
 * version (SIGN_DATA_BATCH; items marked previous with the kept previous version, the
 * others with the current key): each datagram carries its own time, nonce and
 * signature as with wakeup_send, only the round trip and the signer's admin-log
 * transaction are shared.
 * Every item gets its own outcome (an unresolvable address fails that item only; a
 * signer failure fails the items of that round trip). Returns TW_OK when every item
 * went out, else the first item's failure code (details in the items).
 */
tw_rc wakeup_send_batch(struct wakeup_sender *s, struct wakeup_item *items, size_t n);

/* The GWA id carried in wake-ups: the CN of the GWA SIG certificate. */
tw_rc wakeup_cert_gwa_id(X509 *cert, char out[WAKEUP_ID_MAX + 1], struct tw_error *err);

#endif
