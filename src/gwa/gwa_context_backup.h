/*
 * gwa_context_backup.h: backup and restore of a certificate-management context (DOMAIN.md
 * S-8 "Back-up und Restore des Kontexts (Zertifikatsbestand)"; docs/renewal.md).
 *
 * The file is JSON (no secrets: certificates only):
 *   {"format": "torwart-context-backup/1", "context": NAME, "created_ms": N,
 *    "certificates": [{"label": L, "gateway": ID or "", "der": BASE64}, ...],
 *    "trusted_cas": [{"der": BASE64}, ...],
 *    "sm_pki": [{"owner": ID, "usage": U, "fingerprint": HEX, "status": S}, ...]}
 * "sm_pki" lists the SM-PKI certificates of the context for the record (they live in the
 * home's inventory, restored with the home's store); restore takes the foreign
 * certificates and the trusted CAs.
 */
#ifndef TORWART_GWA_GWA_CONTEXT_BACKUP_H
#define TORWART_GWA_GWA_CONTEXT_BACKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "gwa/gwa_context.h"

#define GWA_CTX_BACKUP_MAX (8 * 1024 * 1024)   /* bytes of a backup file */
#define GWA_CTX_BACKUP_ITEMS 10000             /* entries of a backup file */

/* The context as JSON (*out malloc'ed, caller frees); one context.backup log entry. */
tw_rc gwa_ctx_backup(struct gwa_ctx *ctx, char **out, size_t *len, struct tw_error *err);

struct gwa_ctx_backup_item {
	bool trusted_ca;
	char label[STORE_ID_MAX + 1];
	char gateway_id[STORE_ID_MAX + 1];
	unsigned char *der;                  /* owned */
	size_t der_len;
};
struct gwa_ctx_backup {
	char context[STORE_ID_MAX + 1];
	size_t n;
	struct gwa_ctx_backup_item *items;   /* owned */
};

/*
 * Parse a backup file (outside bytes: tests/fuzz/fuzz_context_backup.c). TW_E_INVALID
 * with the reason for anything that is not exactly this format; nothing half-filled.
 */
tw_rc gwa_ctx_backup_parse(const unsigned char *in, size_t len, struct gwa_ctx_backup *out,
	struct tw_error *err);
void gwa_ctx_backup_free(struct gwa_ctx_backup *b);

/*
 * Restore b into ctx: each certificate through gwa_ctx_import (logged), a gateway that is
 * not in ctx leaves the certificate unassigned; certificates and CAs the context holds
 * already are skipped. One context.restore entry with the counts.
 */
tw_rc gwa_ctx_restore(struct gwa_ctx *ctx, const struct gwa_ctx_backup *b, size_t *restored,
	size_t *skipped, struct tw_error *err);

#endif
