/*
 * gwa_renew_internal.h: the remote Sub-CA path of the GWA's own certificate renewals
 * (gwa_renew.c, gwa_renew_key.c; docs/renewal.md "The GWA's own certificates").
 *
 * The home's own tenant (the tenant of the GWA's current certificate) may have a remote
 * Sub-CA ([renewal] sub_ca.<tenant> / sub_ca = remote:NAME, the gateways' setting). Then
 * the GWA asks it like any SM-PKI participant: a renewal request (pki/reqgen.h) whose
 * proof of possession the new key makes (in the signer, or the new file key) and whose
 * outer signature the current gwa-sig key makes in the signer (purpose certreq), sent by
 * the web-service client (renewal_remote_issue, ws/ws_client.h).
 *
 * A remote that accepted the request but decides later (ok_syntax) leaves its messageID
 * beside the staged certificate, in "<cert>.next.remote" (lines remote=, key=,
 * message_id=): a rerun for the same new key polls (ws_client_poll) and sends nothing.
 */
#ifndef TORWART_GWA_GWA_RENEW_INTERNAL_H
#define TORWART_GWA_GWA_RENEW_INTERNAL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gwa/gwa_renew.h"
#include "pki/profile.h"

/*
 * The Sub-CA of the tenant tenant_id: *remote = NULL for "local" (this home's CA
 * engine), else the NAME of "remote:NAME" (borrowed from home's configuration).
 * TW_E_CONFIG for any other value, naming the key.
 */
tw_rc gwa_renew_sub_ca(const struct tw_home *home, struct tw_store *store, int64_t tenant_id,
	const char **remote, struct tw_error *err);

struct gwa_remote_req {
	const char *kind;          /* "tls", "sig", "enc": for messages (`--key KIND`) */
	const char *object;        /* admin-log object, e.g. "gwa-key:sig" */
	const char *rerun;         /* the command that continues, for messages */
	enum pki_usage usage;
	X509 *cur;                 /* the current certificate: subject and SAN, borrowed */
	EVP_PKEY *new_pub;         /* the new key's public half, borrowed */
	EVP_PKEY *new_key;         /* the new private key when it is a file key, else NULL */
	const char *new_label;     /* the signer's label of the new key (new_key == NULL) */
	const char *pending_path;  /* "<cert>.next.remote" */
};

/*
 * The certificate for q's new key from the remote Sub-CA remote: a new request, or a poll
 * when pending_path holds the messageID of an earlier request for the same key and
 * remote. On TW_OK *fresh is the issued certificate (the caller's) and pending_path is
 * gone. Otherwise nothing changed but pending_path, and each outcome is one admin-log
 * entry as who:
 *   TW_E_UNAVAILABLE  the remote cannot be reached ("gwa.key-remote-wait", error code
 *                     remote_unreachable), or it accepted the request and decides later
 *                     (error code remote_pending; messageID kept in pending_path);
 *   the WSDL code's rc (pki_result_rc) with a message starting with the code: the remote
 *                     refused ("gwa.key-remote-refused"), or delivered a certificate that
 *                     does not fit the request (failure_other_error);
 *   TW_E_CONFIG       [ws.remote.NAME] is missing or wrong.
 */
tw_rc gwa_renew_remote_issue(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct gwa_renew_actor *who, const char *remote,
	const struct gwa_remote_req *q, X509 **fresh, struct tw_error *err);

/* The key identity gwa_renew_remote_issue writes into pending_path (16 hex + NUL). */
tw_rc gwa_renew_remote_key_id(EVP_PKEY *pub, char out[17], struct tw_error *err);

/*
 * Whether pending_path records a request of remote for the key key_id (a rerun must use
 * that key: file-key renewals keep it as "<key>.next").
 */
bool gwa_renew_remote_pending(const char *pending_path, const char *remote,
	const char *key_id);

#endif
