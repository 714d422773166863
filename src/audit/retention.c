/*
 * retention.c: removing entries older than the retention period without losing
 * verifiability (docs/audit-log.md, "Retention"). Cuts fall on multiples of 2^8 so the
 * subtrees left of a cut are stored nodes (kept forever, ~N/128 rows); a signed head at
 * the cut anchors them, and the first remaining entry's prev_hash is recorded.
 */
#include "audit/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "audit/export.h"
#include "audit/tree.h"
#include "base/log.h"
#include "base/util.h"
#include "store/store_auditlog.h"

struct due_ctx {
	char cutoff[32];
	int64_t upto;
};

static int due_cb(const struct store_audit_row *row, void *arg)
{
	struct due_ctx *d = arg;

	/* RFC 3339 UTC with fixed width compares like time. */
	if (strcmp(row->time, d->cutoff) >= 0)
		return 1;
	d->upto = row->seq;
	return 0;
}

tw_rc audit_retention_due(struct tw_store *store, int64_t cutoff_ms, int64_t *upto,
	struct tw_error *err)
{
	struct store_auditlog_cut cut;
	struct due_ctx d;
	bool found = false;
	tw_rc rc;

	*upto = 0;
	memset(&d, 0, sizeof(d));
	tw_time_format_utc(cutoff_ms, d.cutoff, sizeof(d.cutoff));
	if ((rc = store_auditlog_cut_latest(store, &cut, &found, err)) != TW_OK)
		return rc;
	if ((rc = store_audit_foreach(store, found ? cut.cut_seq + 1 : 1, due_cb, &d, err)) != TW_OK)
		return rc;
	*upto = d.upto;
	return TW_OK;
}

struct one_row {
	struct store_audit_row *row;
	bool found;
};

static int one_row_cb(const struct store_audit_row *row, void *arg)
{
	struct one_row *o = arg;

	*o->row = *row;
	o->found = true;
	return 1;
}

static tw_rc retention_file_sha256(const char *path, char hex[65], struct tw_error *err)
{
	unsigned char md[32], buf[65536];
	EVP_MD_CTX *ctx = NULL;
	FILE *f = NULL;
	size_t n;
	tw_rc rc;

	if ((f = fopen(path, "rb")) == NULL) {
		rc = tw_error_set(err, TW_E_IO, "cannot read %s", path);
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (EVP_DigestUpdate(ctx, buf, n) != 1) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
			goto out;
		}
	if (ferror(f) || EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		rc = tw_error_set(err, TW_E_IO, "reading %s failed", path);
		goto out;
	}
	tw_hex_encode(md, 32, hex);
	rc = TW_OK;
out:
	EVP_MD_CTX_free(ctx);
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Re-read the archive and verify it completely before anything is deleted. */
static tw_rc retention_check_archive(const char *path, const char *cert_path, int64_t cut,
	struct tw_error *err)
{
	struct audit_verify_result res;
	EVP_PKEY *pub = NULL;
	FILE *f = NULL;
	tw_rc rc;

	if (cert_path != NULL && (rc = audit_sig_key_load(cert_path, &pub, err)) != TW_OK)
		goto out;
	if ((f = fopen(path, "r")) == NULL) {
		rc = tw_error_set(err, TW_E_IO, "cannot re-read archive %s", path);
		goto out;
	}
	if ((rc = audit_export_verify(f, pub, &res, NULL, err)) != TW_OK)
		goto out;
	if (res.tree_size != cut || res.heads_checked == 0) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "archive %s ends at %lld with %lld checked "
			"heads; expected %lld and the head at the cut", path, (long long)res.tree_size,
			(long long)res.heads_checked, (long long)cut);
		goto out;
	}
	rc = TW_OK;
out:
	if (f != NULL)
		fclose(f);
	EVP_PKEY_free(pub);
	return rc;
}

tw_rc audit_retention_run(struct tw_store *store, struct signer_client *sc,
	const char *archive_dir, const char *cert_path, int64_t upto,
	struct audit_retention_result *out, struct tw_error *err)
{
	struct store_auditlog_cut *cut = NULL, prev;
	struct store_auditlog_head head;
	struct store_audit_row *row = NULL;
	struct audit_export_stats stats;
	struct one_row one;
	struct audit_entry e;
	char detail[STORE_TEXT_MAX + 1];
	bool found = false, began = false;
	int64_t c;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((cut = calloc(1, sizeof(*cut))) == NULL || (row = calloc(1, sizeof(*row))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	c = upto - upto % AUDIT_TREE_CHUNK;
	if ((rc = store_auditlog_cut_latest(store, &prev, &found, err)) != TW_OK)
		goto out;
	if (c <= 0 || (found && c <= prev.cut_seq)) {
		rc = TW_OK;   /* nothing (a whole chunk of 256) is old enough yet */
		goto out;
	}
	/* The signed head at the cut is what the remaining log is verified from. */
	rc = audit_head_create(store, sc, c, &head, err);
	if (rc != TW_OK && rc != TW_E_EXISTS)
		goto out;
	if ((rc = tw_mkdir_p(archive_dir, 0700, err)) != TW_OK)
		goto out;
	snprintf(out->archive, sizeof(out->archive), "%s/admin-log-%lld-%lld.jsonl", archive_dir,
		(long long)(found ? prev.cut_seq + 1 : 1), (long long)c);
	if ((rc = audit_export_write(store, out->archive, cert_path, c, &stats, err)) != TW_OK ||
	    (rc = retention_check_archive(out->archive, cert_path, c, err)) != TW_OK)
		goto out;
	cut->cut_seq = c;
	cut->time_ms = tw_now_ms();
	snprintf(cut->archive, sizeof(cut->archive), "%s", out->archive);
	if ((rc = retention_file_sha256(out->archive, cut->archive_sha256, err)) != TW_OK)
		goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	began = true;
	one.row = row;
	one.found = false;
	if ((rc = store_audit_foreach(store, c, one_row_cb, &one, err)) != TW_OK)
		goto out;
	if (!one.found || row->seq != c) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "entry %lld (the cut) is missing",
			(long long)c);
		goto out;
	}
	memcpy(cut->chain_hash, row->hash, 32);
	if ((rc = store_auditlog_cut_apply(store, cut, err)) != TW_OK)
		goto out;
	snprintf(detail, sizeof(detail), "entries %lld..%lld archived to %s sha256=%s",
		(long long)(found ? prev.cut_seq + 1 : 1), (long long)c, cut->archive,
		cut->archive_sha256);
	memset(&e, 0, sizeof(e));
	e.actor = "system";
	e.role = "service";
	e.client = "local";
	e.action = "audit.retention";
	e.object = "admin_log";
	e.result = "ok";
	e.detail = detail;
	if ((rc = audit_append_in_tx(store, &e, err)) != TW_OK)
		goto out;
	began = false;
	if ((rc = store_commit(store, err)) != TW_OK)
		goto out;
	out->cut_seq = c;
	out->entries = stats.entries;
	tw_info("admin log: %s", detail);
	rc = TW_OK;
out:
	if (began)
		store_rollback(store);
	free(cut);
	free(row);
	return rc;
}
