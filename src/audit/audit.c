/*
 * audit.c: appending to the admin log (audit.h). Appends compute each entry's chain hash
 * over its predecessor's hash and a canonical, length-prefixed encoding of its fields,
 * inside a write transaction so concurrent processes on one database cannot fork the
 * chain, and keep the Merkle tree's stored nodes current (tree.c). Verification is in
 * verify.c; dropping entries off the end is caught there by the signed tree heads.
 */
#include "audit/audit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/merkle.h"
#include "audit/tree.h"
#include "base/log.h"
#include "base/util.h"

/* ---- canonical encoding and hash ---- */

/* 4-byte big-endian length, then the bytes: no field can bleed into the next. */
static tw_rc audit_put_field(unsigned char *buf, size_t size, size_t *len, const char *s,
	size_t n, struct tw_error *err)
{
	if (n > size || *len > size - n || size - *len - n < 4)
		return tw_error_set(err, TW_E_TOO_LARGE, "admin log entry encoding exceeds %zu bytes",
			size);
	buf[(*len)++] = (unsigned char)(n >> 24);
	buf[(*len)++] = (unsigned char)(n >> 16);
	buf[(*len)++] = (unsigned char)(n >> 8);
	buf[(*len)++] = (unsigned char)n;
	if (n > 0)
		memcpy(buf + *len, s, n);
	*len += n;
	return TW_OK;
}

#define AUDIT_PUT(row, member) \
	audit_put_field(buf, size, len, (row)->member, \
		strnlen((row)->member, sizeof((row)->member)), err)

tw_rc audit_row_encode(const struct store_audit_row *row, unsigned char *buf, size_t size,
	size_t *len, struct tw_error *err)
{
	char seq[24];
	int n;
	tw_rc rc;

	*len = 0;
	n = snprintf(seq, sizeof(seq), "%lld", (long long)row->seq);
	if (n < 0 || (size_t)n >= sizeof(seq))
		return tw_error_set(err, TW_E_INTERNAL, "admin log seq does not format");
	if ((rc = audit_put_field(buf, size, len, seq, (size_t)n, err)) != TW_OK ||
	    (rc = AUDIT_PUT(row, time)) != TW_OK || (rc = AUDIT_PUT(row, actor)) != TW_OK ||
	    (rc = AUDIT_PUT(row, role)) != TW_OK || (rc = AUDIT_PUT(row, client)) != TW_OK ||
	    (rc = AUDIT_PUT(row, action)) != TW_OK || (rc = AUDIT_PUT(row, object)) != TW_OK ||
	    (rc = AUDIT_PUT(row, result)) != TW_OK || (rc = AUDIT_PUT(row, detail)) != TW_OK)
		return rc;
	/* Only when set: entries from before migration 0006 keep their encoding. */
	if (row->error_code[0] != '\0' && (rc = AUDIT_PUT(row, error_code)) != TW_OK)
		return rc;
	return TW_OK;
}

/* The chain hash of row; TW_E_CRYPTO only if OpenSSL fails (out of memory). */
static tw_rc audit_hash(const struct store_audit_row *row, unsigned char out[32],
	struct tw_error *err)
{
	unsigned char buf[32 + AUDIT_ENCODING_MAX];
	unsigned int outlen = 0;
	size_t len = 0;
	tw_rc rc;

	memset(out, 0, 32);
	memcpy(buf, row->prev_hash, 32);
	if ((rc = audit_row_encode(row, buf + 32, AUDIT_ENCODING_MAX, &len, err)) != TW_OK)
		return rc;
	if (EVP_Digest(buf, 32 + len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != 32) {
		memset(out, 0, 32);
		return tw_error_set_openssl(err, TW_E_CRYPTO, "hashing admin log entry %lld",
			(long long)row->seq);
	}
	return TW_OK;
}

tw_rc audit_row_leaf_hash(const struct store_audit_row *row, unsigned char out[32],
	struct tw_error *err)
{
	unsigned char buf[AUDIT_ENCODING_MAX];
	size_t len = 0;
	tw_rc rc;

	if ((rc = audit_row_encode(row, buf, sizeof(buf), &len, err)) != TW_OK) {
		memset(out, 0, 32);
		return rc;
	}
	return merkle_leaf_hash(buf, len, out, err);
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
	    (rc = AUDIT_COPY(row, detail, entry, err)) != TW_OK ||
	    (rc = AUDIT_COPY(row, error_code, entry, err)) != TW_OK)
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
	if ((rc = store_audit_insert(store, row, err)) != TW_OK)
		goto out;
	/* Every 2^8 entries a stored subtree completes; keep the tree's nodes current in the
	 * same transaction, so nodes and entries cannot disagree after a crash. */
	if (row->seq % AUDIT_TREE_CHUNK == 0)
		rc = audit_tree_extend(store, row->seq, err);
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

/* ---- reads of sensitive data ---- */

tw_rc audit_read(struct tw_store *store, const char *actor, const char *role,
	const char *client, const char *data, const char *object, struct tw_error *err)
{
	struct audit_entry e = { .actor = actor, .role = role, .client = client,
		.object = object, .result = "ok" };
	char action[STORE_ID_MAX + 1];
	int n;

	if (data == NULL || data[0] == '\0')
		return tw_error_set(err, TW_E_INVALID, "audit_read: name the data that was read");
	n = snprintf(action, sizeof(action), "read.%s", data);
	if (n < 0 || (size_t)n >= sizeof(action))
		return tw_error_set(err, TW_E_TOO_LARGE, "audit_read: data name \"%.32s...\" is "
			"too long", data);
	e.action = action;
	return audit_append(store, &e, err);
}
