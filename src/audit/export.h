/*
 * export.h: the admin-log export file (docs/audit-log.md, "Export format"): one JSON
 * object per line (header, GWA SIG certificate, subtree hashes at a retention cut,
 * signed tree heads, entries), readable by anyone, verifiable offline.
 */
#ifndef TORWART_AUDIT_EXPORT_H
#define TORWART_AUDIT_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/error.h"
#include "store/store.h"

#define AUDIT_EXPORT_FORMAT "torwart-audit-export"
#define AUDIT_EXPORT_VERSION 1
#define AUDIT_EXPORT_LINE_MAX (64 * 1024)   /* longer lines are refused, not truncated */

struct audit_export_stats {
	int64_t entries;
	int64_t heads;
	int64_t first_seq;
	int64_t last_seq;
};

/*
 * Write entries (all, or 1..upto when upto > 0; entries below a retention cut are not in
 * the store any more), the heads up to the last entry written, the subtree hashes at the
 * cut and the certificate at cert_path (may be NULL) to path, which must not exist
 * (written to path.tmp, fsynced, renamed). Mode 0600.
 */
tw_rc audit_export_write(struct tw_store *store, const char *path, const char *cert_path,
	int64_t upto, struct audit_export_stats *stats, struct tw_error *err);

/*
 * Verify an export read from in: recompute chain and tree, check every head's root and
 * signature (with pub, or when pub is NULL with the certificate in the file; then
 * *used_embedded_cert = 1). Same result semantics as audit_verify_tree. A malformed file
 * is TW_E_INVALID naming the line; an inconsistent log is TW_E_INTEGRITY.
 */
tw_rc audit_export_verify(FILE *in, EVP_PKEY *pub, struct audit_verify_result *res,
	int *used_embedded_cert, struct tw_error *err);

#endif
