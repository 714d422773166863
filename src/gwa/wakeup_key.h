/*
 * wakeup_key.h: which version of the GWA SIG key signs a gateway's wake-up (issue 12,
 * docs/renewal.md "Gateways and the new GWA SIG certificate").
 *
 * After `torwart gwa renew --key sig` the signer's base label gwa-sig names the new key,
 * but a gateway verifies wake-ups with the GWA SIG certificate it holds until its
 * gwa-cert-update order is done. Such a gateway's wake-up is signed with the kept
 * previous version (its versioned label, crypto/key_label.h), which the signer holds
 * until `gwa renew --key sig --retire`; every other wake-up with the current key.
 *
 * What the worker knows of the rotation comes from the certificate files the rotation
 * writes (gwa_renew_key.c): HOME/pki/gwa-sig.crt (its fingerprint names the fleet
 * orders, gwa_sig_push.h) and HOME/pki/gwa-sig.crt.prev (the replaced certificate: it
 * names the previous version; retirement removes it after destroying the key). The
 * files are read again only when they change (one stat each per tick), and the store
 * is asked only while a previous version is kept: one statement per 31 wake-ups
 * (store_gwa_sig_waiting_among), none outside a rotation.
 */
#ifndef TORWART_GWA_WAKEUP_KEY_H
#define TORWART_GWA_WAKEUP_KEY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer_proto.h"
#include "gwa/wakeup.h"
#include "store/store.h"

/* A file as last seen: a change of any field means "read it again". */
struct wakeup_key_file {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	int64_t mtime_ns;
};

struct wakeup_key_state {
	char *cert_path, *prev_path;             /* owned */
	struct wakeup_key_file cert_seen, prev_seen;
	bool loaded;                             /* the fields below describe *_seen */
	char fingerprint[65];                    /* current certificate, hex SHA-256 of DER */
	char prev_label[SIGNER_LABEL_MAX + 1];   /* "" when no previous version is kept */
	bool prev_gone;                          /* the signer no longer has prev_label */
};

/* Paths of home's GWA SIG certificate and its ".prev"; nothing is read yet. */
tw_rc wakeup_key_init(struct wakeup_key_state *k, const struct tw_home *home,
	struct tw_error *err);
void wakeup_key_free(struct wakeup_key_state *k);

/*
 * Read the files again if they changed since the last call. A failure (unreadable
 * certificate) leaves no previous version (every wake-up with the current key, as
 * before a rotation) and is returned for the caller's log.
 */
tw_rc wakeup_key_refresh(struct wakeup_key_state *k, struct tw_error *err);

/*
 * Set items[i].previous for the gateways that still wait for the current certificate
 * (store_gwa_sig_waiting_among) while a previous version is kept; clear it for every
 * other item. On a store failure no item is marked (the current key, as before) and
 * the error is returned for the caller's log.
 */
tw_rc wakeup_key_choose(struct wakeup_key_state *k, struct tw_store *store,
	struct wakeup_item *items, size_t n, struct tw_error *err);

/* The label that signs the items marked previous ("" when none is kept). */
const char *wakeup_key_prev_label(const struct wakeup_key_state *k);
/* The signer said it no longer has that version: until the files change, use none. */
void wakeup_key_prev_gone(struct wakeup_key_state *k);

#endif
