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
 * Not here (docs/renewal.md): the SIG and ENC certificates (their keys live in the
 * signer, whose key generation is a ceremony of `torwart init`, and every GWA signature
 * names the fixed label gwa-sig), and a remote Sub-CA for them.
 */
#ifndef TORWART_GWA_GWA_RENEW_H
#define TORWART_GWA_GWA_RENEW_H

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
};

/*
 * sc: a signer session (its actor set by the caller). TW_E_DENIED when the Sub-CA is
 * inactive or store is scoped to a tenant other than the one holding the certificate; TW_E_CONFIG / TW_E_IO when the current certificate or key cannot be read.
 * Nothing is replaced unless the certificate was issued and recorded.
 */
tw_rc gwa_renew_tls(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who,
	struct gwa_renew_result *out, struct tw_error *err);

#endif
