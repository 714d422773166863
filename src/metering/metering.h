/*
 * metering.h: metering data relayed from gateways to EMTs (UC-3.5.1 tariffed values,
 * UC-3.5.2 grid-status data; docs/metering.md).
 *
 * A gateway posts a message (docs/wan-protocol.md "Metering data"):
 *   {"gateway_id","message_id","kind","emt","metering_point","clock_ok","cms"}
 * cms is base64 of a CMS SignedData made with the gateway's SIG key whose content is a
 * CMS EnvelopedData for the EMT's ENC certificate. The GWA verifies the signature with the
 * gateway's SIG certificate from its inventory, checks that the EMT is authorised for the
 * gateway and named for that metering point by an evaluation profile of the gateway,
 * and stores the message for delivery; it never decrypts. For tariffed values the whole
 * SignedData is delivered (the EMT verifies the gateway's signature itself); for
 * grid-status data the outer signature is removed and the EnvelopedData delivered as is.
 */
#ifndef TORWART_METERING_METERING_H
#define TORWART_METERING_METERING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "base/error.h"
#include "store/store.h"
#include "store/store_metering.h"

#define METERING_BODY_MAX   (64 * 1024)   /* the WAN body limit */
#define METERING_CMS_MAX    (46 * 1024)   /* decoded CMS; its base64 fits the body */

struct metering_msg {
	char gateway_id[STORE_ID_MAX + 1];
	char message_id[STORE_METERING_ID_MAX + 1];  /* 1..64 of [A-Za-z0-9._-] */
	char kind[16];                                /* "tariffed" or "grid-status" */
	char emt[STORE_ID_MAX + 1];                   /* EMT market partner id */
	char metering_point[STORE_METERING_ID_MAX + 1];
	bool clock_ok;                                /* the gateway's clock was in bounds */
	unsigned char *cms;                           /* DER; owned (metering_msg_clear) */
	size_t cms_len;
};

void metering_msg_clear(struct metering_msg *m);

/* Strict parse of a posted body (outside bytes): TW_E_INVALID / TW_E_TOO_LARGE. */
tw_rc metering_msg_parse(const void *body, size_t len, struct metering_msg *out,
	struct tw_error *err);

/*
 * Verify cms (outside bytes) as a SignedData with exactly one signer, signed by the key
 * of signer (no other certificate is used to find it), whose content is a CMS
 * EnvelopedData. *inner (malloc'ed, caller frees) gets the EnvelopedData's DER.
 * TW_E_INVALID: not such a structure; TW_E_CRYPTO: the signature does not verify.
 */
tw_rc metering_cms_verify(const unsigned char *cms, size_t len, X509 *signer,
	unsigned char **inner, size_t *inner_len, struct tw_error *err);

/*
 * Is emt allowed to receive data of metering_point from gateway_id? Yes when the EMT is
 * in emt_authorisations for the gateway and a desired evaluation profile of the gateway
 * names the metering point among its meters and the EMT among its recipients.
 * TW_E_DENIED otherwise (message says which).
 */
tw_rc metering_check_authorised(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, struct tw_error *err);
/* The same, with an evaluation profile of this TAF ("TAF6"); taf NULL: any. */
tw_rc metering_check_authorised_for(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, const char *taf, struct tw_error *err);

/*
 * Everything of metering_accept but the store: identity, authorisation, signature (the
 * CPU-bound part), then *row is the row to store (its body owned: clear it with
 * store_metering_msg_clear; cleared on failure). Reads only: runs outside a transaction,
 * so that wan can verify first and store many messages in one commit (group commit).
 */
tw_rc metering_prepare(struct tw_store *store, const char *gateway_id,
	const struct metering_msg *m, int64_t now_ms, struct store_metering_msg *row,
	struct tw_error *err);

/*
 * Accept a parsed message of the gateway identified by TLS as gateway_id: identity,
 * authorisation, signature, then store it (outside any transaction it opens none; inside
 * one it runs in the caller's). *duplicate: the same message id and bytes were stored
 * before (acknowledge again, nothing new stored). TW_E_DENIED identity/authorisation,
 * TW_E_CRYPTO signature, TW_E_EXISTS replay, TW_E_INVALID structure.
 */
tw_rc metering_accept(struct tw_store *store, const char *gateway_id,
	const struct metering_msg *m, int64_t now_ms, int64_t *row_id, bool *duplicate,
	struct tw_error *err);

#endif
