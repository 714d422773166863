/*
 * ws_note.h: the electronic delivery note (certificate information service, DOMAIN.md
 * S-6; seed sen-pki-leistungsbeschreibung 3.2/4.x): a document listing the certificates
 * the Sub-CA issued on one request (serial, subject, usage, validity, SHA-256 and SHA-1
 * fingerprints, the request reference), as JSON, signed as CMS SignedData (content
 * embedded, id-data) with the GWA/CA SIG key (pki/gwa-sig.crt) through the signer,
 * purpose "delivery-note". The SignedData carries the SIG certificate and the Sub-CA
 * certificate, so `openssl cms -verify -CAfile chain.pem` checks it against the Root.
 *
 * Delivered by the web service's GeneralMessage (subject "DeliveryNote", body the serial:
 * returnCodeMessage is the base64 DER of the note) and by `torwart ca delivery-note
 * SERIAL`. docs/pki-services.md "Electronic delivery note".
 */
#ifndef TORWART_WS_NOTE_H
#define TORWART_WS_NOTE_H

#include <stddef.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

#define WS_NOTE_FORMAT  "torwart-delivery-note-1"
#define WS_NOTE_MAX_CERTS 16     /* a request holds TLS, SIG and ENC: far fewer */
#define WS_NOTE_SUBJECT "DeliveryNote"   /* GeneralMessage subject asking for a note */

/*
 * The note's content (JSON, NUL-terminated, caller frees) for the certificate serial of
 * issuer and every other certificate of the same request. TW_E_NOT_FOUND when issuer has
 * no such serial. owner_kind/owner_id (optional, 16 and STORE_ID_MAX + 1 bytes) get the
 * certificate's owner, for the caller's authorisation check.
 */
tw_rc ws_note_content(struct tw_store *store, const char *issuer, const char *serial,
	char **json, char *owner_kind, char *owner_id, struct tw_error *err);

/*
 * content signed as CMS SignedData with SIGNER_KEY_GWA_SIG through sc (purpose
 * delivery-note); the certificates are read from the home (TW_HOME_GWA_SIG_CERT,
 * TW_HOME_SUBCA_CERT). *der is the DER (OPENSSL_free). The signature is verified with
 * the SIG certificate before it is handed out.
 */
tw_rc ws_note_sign(const struct tw_home *home, struct signer_client *sc, const char *content,
	unsigned char **der, size_t *len, struct tw_error *err);

/* der as one line of base64 (malloc'ed, NUL-terminated); NULL when out of memory. */
char *ws_note_base64(const unsigned char *der, size_t len);

#endif
