/*
 * audit.c: the hash-chained admin log (audit.h). Appends compute each entry's hash over
 * its predecessor's hash and a canonical, length-prefixed encoding of its fields, inside
 * a write transaction so concurrent processes on one database cannot fork the chain.
 * audit_verify recomputes the chain and names the first entry that does not fit.
 *
 * The chain detects any edit, insertion or deletion before the last entry; dropping
 * entries off the end is only caught once signed tree heads exist (issue 5).
 */
#include "audit/audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/log.h"
#include "base/util.h"

/* ---- canonical encoding and hash ---- */

/* 4-byte big-endian length, then the bytes: no field can bleed into the next. */
static int audit_hash_field(EVP_MD_CTX *ctx, const char *s, size_t len)
{
	unsigned char be[4];

	be[0] = (unsigned char)(len >> 24);
	be[1] = (unsigned char)(len >> 16);
	be[2] = (unsigned char)(len >> 8);
	be[3] = (unsigned char)len;
	if (EVP_DigestUpdate(ctx, be, sizeof(be)) != 1)
		return 0;
	return len == 0 || EVP_DigestUpdate(ctx, s, len) == 1;
}

#define AUDIT_HASH_ARRAY(ctx, row, member) \
	audit_hash_field((ctx), (row)->member, strnlen((row)->member, sizeof((row)->member)))

/* The hash of row; TW_E_CRYPTO only if OpenSSL fails (out of memory). */
static tw_rc audit_hash(const struct store_audit_row *row, unsigned char out[32],
	struct tw_error *err)
{
	EVP_MD_CTX *ctx = NULL;
	char seq[24];
	unsigned int outlen = 0;
	int n;
	tw_rc rc;

	memset(out, 0, 32);
	n = snprintf(seq, sizeof(seq), "%lld", (long long)row->seq);
	if (n < 0 || (size_t)n >= sizeof(seq)) {
		rc = tw_error_set(err, TW_E_INTERNAL, "admin log seq does not format");
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, row->prev_hash, 32) != 1 ||
	    !audit_hash_field(ctx, seq, (size_t)n) ||
	    !AUDIT_HASH_ARRAY(ctx, row, time) ||
	    !AUDIT_HASH_ARRAY(ctx, row, actor) ||
	    !AUDIT_HASH_ARRAY(ctx, row, role) ||
	    !AUDIT_HASH_ARRAY(ctx, row, client) ||
	    !AUDIT_HASH_ARRAY(ctx, row, action) ||
	    !AUDIT_HASH_ARRAY(ctx, row, object) ||
	    !AUDIT_HASH_ARRAY(ctx, row, result) ||
	    !AUDIT_HASH_ARRAY(ctx, row, detail) ||
	    EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) {
		memset(out, 0, 32);
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "hashing admin log entry %lld",
			(long long)row->seq);
		goto out;
	}
	rc = TW_OK;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

void audit_row_hash(const struct store_audit_row *row, unsigned char out[32])
{
	struct tw_error err;

	/* Only an allocation failure inside OpenSSL gets here; out is then all zeros,
	 * which never verifies, so the failure cannot pass as a valid entry. */
	if (audit_hash(row, out, &err) != TW_OK)
		tw_err("%s", err.message);
}

/* ---- append ---- */

/* Copy one optional field of entry into a row array, refusing (not truncating) overflow. */
static tw_rc audit_copy(char *dst, size_t size, const char *src, const char *what,
	struct tw_error *err)
{
	size_t len;

	if (src == NULL)
		src = "";
	len = strnlen(src, size);
	if (len == size) {
		dst[0] = '\0';
		return tw_error_set(err, TW_E_TOO_LARGE, "admin log %s is longer than %zu bytes",
			what, size - 1);
	}
	memcpy(dst, src, len + 1);
	return TW_OK;
}

#define AUDIT_COPY(row, member, entry, err) \
	audit_copy((row)->member, sizeof((row)->member), (entry)->member, #member, (err))

/* Fill row's entry fields from entry (no seq, time or hashes). */
static tw_rc audit_fill(struct store_audit_row *row, const struct audit_entry *entry,
	struct tw_error *err)
{
	tw_rc rc;

	if (entry == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "admin log entry is NULL");
	if ((rc = AUDIT_COPY(row, actor, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, role, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, client, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, action, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, object, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, result, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, detail, entry, err)) != TW_OK)
		return rc;
	return TW_OK;
}

tw_rc audit_append_in_tx(struct tw_store *store, const struct audit_entry *entry,
	struct tw_error *err)
{
	struct store_audit_row *row = NULL, *last = NULL;
	bool found = false;
	tw_rc rc;

	if (!store_in_transaction(store)) {
		rc = tw_error_set(err, TW_E_INTERNAL,
			"audit_append_in_tx called without a transaction (use store_begin)");
		goto out;
	}
	/* Two rows of ~2.8 KB each: heap, not the stack of a worker thread. */
	if ((row = calloc(1, sizeof(*row))) == NULL || (last = calloc(1, sizeof(*last))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory appending to the admin log");
		goto out;
	}
	if ((rc = audit_fill(row, entry, err)) != TW_OK)
		goto out;
	/* Under the write lock the last entry cannot change until we commit. */
	if ((rc = store_audit_last(store, last, &found, err)) != TW_OK)
		goto out;
	if (found) {
		row->seq = last->seq + 1;
		memcpy(row->prev_hash, last->hash, sizeof(row->prev_hash));
	} else {
		row->seq = 1;
		memset(row->prev_hash, 0, sizeof(row->prev_hash));   /* genesis */
	}
	tw_time_format_utc(tw_now_ms(), row->time, sizeof(row->time));
	if ((rc = audit_hash(row, row->hash, err)) != TW_OK)
		goto out;
	rc = store_audit_insert(store, row, err);
out:
	free(row);
	free(last);
	return rc;
}

tw_rc audit_append_batch(struct tw_store *store, const struct audit_entry *entries, size_t n,
	struct tw_error *err)
{
	struct store_audit_row *probe = NULL;
	bool began = false;
	size_t i;
	tw_rc rc;

	if (n == 0) {
		rc = TW_OK;
		goto out;
	}
	if (entries == NULL) {
		rc = tw_error_set(err, TW_E_INTERNAL, "audit_append_batch: entries is NULL");
		goto out;
	}
	/* Check every entry before taking the write lock: a bad one changes nothing and
	 * does not make other processes wait. */
	if ((probe = calloc(1, sizeof(*probe))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory appending to the admin log");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((rc = audit_fill(probe, &entries[i], err)) != TW_OK)
			goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	began = true;
	for (i = 0; i < n; i++)
		if ((rc = audit_append_in_tx(store, &entries[i], err)) != TW_OK)
			goto out;
	rc = store_commit(store, err);
	began = false;   /* store_commit rolls back by itself when it fails */
out:
	if (began)
		store_rollback(store);
	free(probe);
	return rc;
}

tw_rc audit_append(struct tw_store *store, const struct audit_entry *entry,
	struct tw_error *err)
{
	if (entry == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "audit_append: entry is NULL");
	return audit_append_batch(store, entry, 1, err);
}

/* ---- verify ---- */

struct audit_verify_ctx {
	struct audit_verify_result *res;
	int64_t expect_seq;
	unsigned char expect_prev[32];
	tw_rc rc;                 /* TW_E_CRYPTO if hashing itself failed */
	struct tw_error *err;
};

static int audit_verify_row(const struct store_audit_row *row, void *arg)
{
	struct audit_verify_ctx *v = arg;
	struct audit_verify_result *res = v->res;
	unsigned char h[32];

	if (row->seq != v->expect_seq) {
		res->first_bad_seq = v->expect_seq;
		if (v->expect_seq == 1)
			snprintf(res->reason, sizeof(res->reason),
				"sequence gap: the log starts at %lld, not 1", (long long)row->seq);
		else
			snprintf(res->reason, sizeof(res->reason),
				"sequence gap after %lld (next entry is %lld)",
				(long long)(v->expect_seq - 1), (long long)row->seq);
		return 1;
	}
	if ((v->rc = audit_hash(row, h, v->err)) != TW_OK)
		return 1;
	if (!tw_ct_equal(h, row->hash, sizeof(h))) {
		res->first_bad_seq = row->seq;
		snprintf(res->reason, sizeof(res->reason), "hash mismatch: row content changed");
		return 1;
	}
	if (!tw_ct_equal(row->prev_hash, v->expect_prev, sizeof(v->expect_prev))) {
		res->first_bad_seq = row->seq;
		if (row->seq == 1)
			snprintf(res->reason, sizeof(res->reason),
				"prev_hash of the first entry is not the genesis value (zeros)");
		else
			snprintf(res->reason, sizeof(res->reason),
				"prev_hash does not match entry %lld", (long long)(row->seq - 1));
		return 1;
	}
	memcpy(v->expect_prev, row->hash, sizeof(v->expect_prev));
	v->expect_seq++;
	res->entries++;
	return 0;
}

tw_rc audit_verify(struct tw_store *store, struct audit_verify_result *res,
	struct tw_error *err)
{
	struct audit_verify_ctx v;
	tw_rc rc;

	if (res == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "audit_verify: res is NULL");
	memset(res, 0, sizeof(*res));
	memset(&v, 0, sizeof(v));
	v.res = res;
	v.expect_seq = 1;
	v.err = err;
	v.rc = TW_OK;

	rc = store_audit_foreach(store, 1, audit_verify_row, &v, err);
	if (rc == TW_E_INTEGRITY && res->first_bad_seq == 0) {
		/* A row the store could not even read (wrong hash length, over-long field):
		 * it is the one after the last good entry. */
		res->first_bad_seq = v.expect_seq;
		snprintf(res->reason, sizeof(res->reason), "%s",
			err != NULL ? err->message : "unreadable entry");
		return rc;
	}
	if (rc != TW_OK)
		return rc;
	if (v.rc != TW_OK)
		return v.rc;
	if (res->first_bad_seq != 0)
		return tw_error_set(err, TW_E_INTEGRITY, "admin log entry %lld: %s",
			(long long)res->first_bad_seq, res->reason);
	return TW_OK;
}
