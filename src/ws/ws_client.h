/*
 * ws_client.h: Torwart as an SM-PKI participant of a remote Sub-CA (TR-03129-4 web
 * service, client side). A GWA obtains its own and its gateways' certificates from
 * whichever Sub-CA it contracts (issue 11 section 2; issue 12's gateway renewal calls
 * this for tenants that use a remote Sub-CA).
 *
 * A remote Sub-CA is configured in torwart.conf as [ws.remote.NAME] (docs/pki-services.md):
 *   url = https://subca.example:8446/       its web service
 *   cert = pki/remote-NAME-tls.crt           our TLS certificate issued by that Sub-CA
 *   key = pki/remote-NAME-tls.key            its key (a file: docs/security.md exception)
 *   trust = pki/remote-NAME-chain.pem        anchors the Sub-CA's server certificate
 *                                            must chain to
 *   peer_cert = pki/remote-NAME-server.crt   optional: the Sub-CA's exact TLS
 *                                            certificate; required for it to call our
 *                                            SendCertificates endpoint
 *   timeout = 30                             seconds per call
 * and listed in [ws] remotes = NAME,... so this home's own listener accepts the Sub-CA's
 * SendCertificates callbacks (identified by peer_cert).
 *
 * Synchronous answers carry the certificates at once; an ok_syntax answer (the remote
 * RA approves first) leaves a pending handle, the messageID, recorded in the store
 * (ws_client_requests): the certificates arrive later at this home's SendCertificates
 * endpoint ([ws] listen) and ws_client_poll returns them.
 */
#ifndef TORWART_WS_WS_CLIENT_H
#define TORWART_WS_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "pki/result.h"
#include "store/store.h"
#include "ws/ws_soap.h"

struct ws_remote;

/* Open [ws.remote.NAME] of home (TLS context loaded). TW_E_CONFIG says what is missing. */
tw_rc ws_remote_open(const struct tw_home *home, const char *name, struct ws_remote **out,
	struct tw_error *err);
void ws_remote_close(struct ws_remote *r);

struct ws_client_result {
	enum pki_result code;                /* the remote's returnCode */
	char message[TW_ERROR_MESSAGE_MAX];  /* its returnCodeMessage ("" when none) */
	bool pending;                        /* ok_syntax: the certificates come later */
	char message_id[STORE_ID_MAX + 1];   /* the handle of a pending request */
	size_t n_certs;
	unsigned char *certs[WS_CERTS_MAX];  /* DER, owned */
	size_t cert_len[WS_CERTS_MAX];
};

void ws_client_result_clear(struct ws_client_result *res);

/*
 * RequestCertificate: send der (a request made by `torwart req`, BSI-wrapped CRMF, DER)
 * to the remote. callback_possible: the remote may answer ok_syntax and deliver later
 * (then res->pending, and the messageID is recorded in store). TW_OK whenever the
 * remote answered (res->code says what); errors are transport, TLS or protocol failures.
 */
tw_rc ws_client_request(struct ws_remote *r, struct tw_store *store, const unsigned char *der,
	size_t len, bool callback_possible, struct ws_client_result *res, struct tw_error *err);

/*
 * The state of a pending request: res->pending while nothing arrived, else the
 * statusInfo and certificates the remote delivered to our SendCertificates endpoint.
 * TW_E_NOT_FOUND for an unknown messageID.
 */
tw_rc ws_client_poll(struct tw_store *store, const char *message_id,
	struct ws_client_result *res, struct tw_error *err);

/*
 * GetServiceStatus of the remote: TW_OK with res->code (ok_received_correctly when it
 * is up).
 */
tw_rc ws_client_status(struct ws_remote *r, struct ws_client_result *res,
	struct tw_error *err);

/* The remote's name from [ws] remotes whose peer_cert is exactly peer; NULL if none. */
const char *ws_remote_of_peer(const struct tw_home *home, X509 *peer, char *name,
	size_t size);

#endif
