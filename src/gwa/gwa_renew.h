/*
 * gwa_renew.h: renewal of the GWA's own TLS certificate (issue 12, UC-3.3.3 "the GWA's own
 * TLS/SIG/ENC certificates are renewed the same way"; docs/renewal.md "The GWA's own
 * certificates").
 *
 * A new brainpool key (same curve as the current one) is generated, the Sub-CA of this
 * home (its key in the signer; it must be active) certifies it with the subject and
 * subject alternative names of the current certificate and the GWA TLS profile of
 * [ca.sub-ca], the certificate is recorded (owner and tenant of the current one) with an
 * admin-log entry, and the files [wan] key and cert are replaced: the key first, then
 * the certificate, each by rename, keeping the owner and mode of the file they replace.
 * The wan takes the pair without a restart (wan_tls_reload.c).
 *
 * Overlap: the previous certificate is not revoked; it stays valid until its own end, so
 * sessions and partners that still hold it keep working while the new one spreads.
 *
 * Keys in the signer (new homes' TLS keys, the SIG and ENC keys): gwa_renew_key below.
 * Both ask a remote Sub-CA instead when the home's own tenant has one ([renewal] sub_ca =
 * remote:NAME; gwa_renew_internal.h, docs/renewal.md "A remote Sub-CA for the GWA's own
 * certificates"): TW_E_UNAVAILABLE while it cannot be reached or has not decided, its
 * WSDL code's rc when it refuses; nothing is replaced then.
 */
#ifndef TORWART_GWA_GWA_RENEW_H
#define TORWART_GWA_GWA_RENEW_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

struct gwa_renew_actor {
	const char *actor, *role, *client;
};

struct gwa_renew_result {
	char old_serial[80], new_serial[80];
	char new_fingerprint[65];
	char not_after[32];                  /* "YYYY-MM-DDTHH:MM:SSZ" */
	char key_label[65];                  /* gwa_renew_key: the signer's new key version */
	/* --key sig: the gwa-cert-update orders of the new certificate (gwa_sig_push.h) */
	long long sig_batches, sig_gateways; /* created by this run */
	long long sig_unconfirmed;           /* gateways that have not installed it yet */
	bool sig_orders_only;                /* the rotation was done; this run ordered */
};

/*
 * sc: a signer session (its actor set by the caller). TW_E_DENIED when the Sub-CA is
 * inactive or store is scoped to a tenant other than the one holding the certificate; TW_E_CONFIG / TW_E_IO when the current certificate or key cannot be read.
 * Nothing is replaced unless the certificate was issued and recorded.
 */
tw_rc gwa_renew_tls(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who,
	struct gwa_renew_result *out, struct tw_error *err);

/*
 * The GWA's signer-held key key ("tls", "sig" or "enc") renewed in the signer
 * (gwa_rotation.h; docs/security.md "Key rotation of the GWA's own keys"): a new key pair
 * generated in the signer, a certificate for it by this home's Sub-CA (the subject and
 * SAN of the current one, recorded in the inventory), installed, and the signer switched
 * to the new key. Resumable: a rerun after a failure or crash continues where it
 * stopped. The previous key stays in the signer until gwa_retire_key; while it is kept a
 * new rotation is refused (TW_E_EXISTS). Every step is an admin-log entry ("gwa.key-*").
 * sc must be a connection of root or the signer's user (the signer refuses rotation to
 * the services).
 *
 * SIG: after the switch every gateway is given the new certificate by the order
 * "gwa-cert-update", one fleet order per tenant (gwa_sig_push.h), created by this call
 * and, when a crash came between the switch and the orders, by the rerun (which then
 * only orders: out->sig_orders_only).
 */
tw_rc gwa_renew_key(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *key, const struct gwa_renew_actor *who,
	struct gwa_renew_result *out, struct tw_error *err);

/*
 * Destroy the previous version of key in the signer once [gwa] key_grace_days (default 7)
 * have passed since the switch (now: at once); gone gets its label. TW_E_DENIED inside
 * the grace period, TW_E_NOT_FOUND when none is kept. Logged ("gwa.key-destroy"; the
 * signer logs "signer.key-destroy").
 *
 * SIG: gateways still verify wake-ups with the old key's certificate until they have
 * installed the new one, so the retirement is refused (TW_E_DENIED, naming how many)
 * while any gateway's gwa-cert-update order of the current certificate is not done
 * (missing orders are created first), unless force_reason (one line, why) is given: then
 * it is logged with the count ("gwa.key-retire-forced").
 */
tw_rc gwa_retire_key(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *key, const struct gwa_renew_actor *who,
	bool now, const char *force_reason, char *gone, size_t size, struct tw_error *err);

/* The order type "gwa-cert-update" (gwa_cert_order.c): the new GWA SIG certificate to a
 * gateway after a SIG rotation. */
struct order_type;
extern const struct order_type order_type_gwa_cert_update;

#endif
