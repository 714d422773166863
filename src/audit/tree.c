/*
 * tree.c: the admin log's Merkle tree over the store (tree.h): keeping the stored
 * subtree nodes current, computing roots and proofs from nodes + entries, and creating
 * and checking signed tree heads.
 */
#include "audit/tree.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/signer.h"

/* ---- subtrees from entries ---- */

struct tree_leaves {
	int64_t next_seq;            /* the seq we expect next */
	int64_t left;                /* leaves still wanted */
	bool first;                  /* no row seen yet */
	struct merkle_frontier *f;
	tw_rc rc;
	struct tw_error *err;
};

static int tree_leaf_cb(const struct store_audit_row *row, void *arg)
{
	struct tree_leaves *t = arg;
	unsigned char leaf[32];

	if (row->seq != t->next_seq && t->first) {
		t->rc = tw_error_set(t->err, TW_E_NOT_FOUND, "admin log entry %lld is not in the "
			"log (archived by retention? the archive file has it)", (long long)t->next_seq);
		return 1;
	}
	t->first = false;
	if (row->seq != t->next_seq) {
		t->rc = tw_error_set(t->err, TW_E_INTEGRITY, "admin log entry %lld is missing "
			"(sequence gap): the tree cannot be computed", (long long)t->next_seq);
		return 1;
	}
	if ((t->rc = audit_row_leaf_hash(row, leaf, t->err)) != TW_OK ||
	    (t->rc = merkle_frontier_push(t->f, leaf, NULL, NULL, t->err)) != TW_OK)
		return 1;
	t->next_seq++;
	return --t->left == 0;
}

/* Hash of the perfect subtree over leaves [first, first + count) from the entries. */
static tw_rc tree_from_entries(struct tw_store *store, int64_t first, int64_t count,
	unsigned char out[32], struct tw_error *err)
{
	struct merkle_frontier *f = NULL;
	struct tree_leaves t;
	tw_rc rc;

	if ((f = malloc(sizeof(*f))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory computing the admin-log tree");
		goto out;
	}
	merkle_frontier_init(f);
	memset(&t, 0, sizeof(t));
	t.next_seq = first + 1;
	t.left = count;
	t.first = true;
	t.f = f;
	t.err = err;
	if ((rc = store_audit_foreach(store, first + 1, tree_leaf_cb, &t, err)) != TW_OK)
		goto out;
	if ((rc = t.rc) != TW_OK)
		goto out;
	if (t.left != 0) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "admin log entry %lld is not in the log "
			"(archived by retention, or beyond the end)", (long long)t.next_seq);
		goto out;
	}
	rc = merkle_frontier_root(f, out, err);
out:
	free(f);
	return rc;
}

tw_rc audit_tree_subtree(void *arg, int level, uint64_t idx, unsigned char out[32],
	struct tw_error *err)
{
	struct tw_store *store = arg;
	unsigned char l[32], r[32];
	bool found = false;
	tw_rc rc;

	if (level < 0 || level > 62 || idx > (UINT64_C(1) << (62 - level)))
		return tw_error_set(err, TW_E_INVALID, "tree node (%d, %llu) is out of range",
			level, (unsigned long long)idx);
	if (level < AUDIT_TREE_LEVEL)
		return tree_from_entries(store, (int64_t)(idx << level), INT64_C(1) << level, out,
			err);
	if ((rc = store_auditlog_node_get(store, level, (int64_t)idx, out, &found, err)) != TW_OK)
		return rc;
	if (found)
		return TW_OK;
	/* Not stored (a log older than migration 0006 that was not extended yet): derive. */
	if ((rc = audit_tree_subtree(store, level - 1, idx * 2, l, err)) != TW_OK ||
	    (rc = audit_tree_subtree(store, level - 1, idx * 2 + 1, r, err)) != TW_OK)
		return rc;
	return merkle_node_hash(l, r, out, err);
}

tw_rc audit_tree_extend(struct tw_store *store, int64_t size, struct tw_error *err)
{
	unsigned char h[32], sib[32];
	int64_t max_idx, chunk, idx;
	int level;
	bool found;
	tw_rc rc;

	if ((rc = store_auditlog_node_max(store, AUDIT_TREE_LEVEL, &max_idx, err)) != TW_OK)
		return rc;
	/* Normally one chunk; after an upgrade from a chain-only log, all missing ones. */
	for (chunk = max_idx + 1; (chunk + 1) * AUDIT_TREE_CHUNK <= size; chunk++) {
		if ((rc = tree_from_entries(store, chunk * AUDIT_TREE_CHUNK, AUDIT_TREE_CHUNK, h,
		    err)) != TW_OK ||
		    (rc = store_auditlog_node_put(store, AUDIT_TREE_LEVEL, chunk, h, err)) != TW_OK)
			return rc;
		/* A right child completes its parent: store the parents too. */
		for (level = AUDIT_TREE_LEVEL, idx = chunk; (idx & 1) && level < 62; level++) {
			if ((rc = store_auditlog_node_get(store, level, idx - 1, sib, &found,
			    err)) != TW_OK)
				return rc;
			if (!found && (rc = audit_tree_subtree(store, level, (uint64_t)idx - 1, sib,
			    err)) != TW_OK)
				return rc;
			if ((rc = merkle_node_hash(sib, h, h, err)) != TW_OK)
				return rc;
			idx >>= 1;
			if ((rc = store_auditlog_node_put(store, level + 1, idx, h, err)) != TW_OK &&
			    rc != TW_E_EXISTS)
				return rc;
		}
	}
	return TW_OK;
}

tw_rc audit_tree_size(struct tw_store *store, int64_t *size, struct tw_error *err)
{
	struct store_audit_row *last = malloc(sizeof(*last));
	bool found = false;
	tw_rc rc;

	*size = 0;
	if (last == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading the admin log");
	rc = store_audit_last(store, last, &found, err);
	if (rc == TW_OK && found)
		*size = last->seq;
	free(last);
	return rc;
}

tw_rc audit_tree_root(struct tw_store *store, int64_t size, unsigned char out[32],
	struct tw_error *err)
{
	struct merkle_frontier f;

	if (size < 0)
		return tw_error_set(err, TW_E_INVALID, "tree size %lld is negative", (long long)size);
	if (size == 0) {
		merkle_frontier_init(&f);
		return merkle_frontier_root(&f, out, err);
	}
	return merkle_range_hash(audit_tree_subtree, store, 0, (uint64_t)size, out, err);
}

static tw_rc tree_check_size(struct tw_store *store, int64_t size, struct tw_error *err)
{
	int64_t have;
	tw_rc rc;

	if ((rc = audit_tree_size(store, &have, err)) != TW_OK)
		return rc;
	if (size <= 0 || size > have)
		return tw_error_set(err, TW_E_INVALID, "tree size %lld is not in 1..%lld (the log's "
			"size)", (long long)size, (long long)have);
	return TW_OK;
}

tw_rc audit_tree_inclusion(struct tw_store *store, int64_t seq, int64_t size,
	unsigned char leaf[32], struct merkle_proof *proof, struct tw_error *err)
{
	tw_rc rc;

	memset(leaf, 0, 32);
	if ((rc = tree_check_size(store, size, err)) != TW_OK)
		return rc;
	if (seq <= 0 || seq > size)
		return tw_error_set(err, TW_E_INVALID, "entry %lld is not in a tree of size %lld",
			(long long)seq, (long long)size);
	if ((rc = tree_from_entries(store, seq - 1, 1, leaf, err)) != TW_OK)
		return rc;
	return merkle_inclusion_proof(audit_tree_subtree, store, (uint64_t)seq - 1,
		(uint64_t)size, proof, err);
}

tw_rc audit_tree_consistency(struct tw_store *store, int64_t first, int64_t second,
	struct merkle_proof *proof, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = tree_check_size(store, second, err)) != TW_OK)
		return rc;
	return merkle_consistency_proof(audit_tree_subtree, store, (uint64_t)first,
		(uint64_t)second, proof, err);
}

/* ---- heads ---- */

static void tree_put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

void audit_head_tbs(int64_t tree_size, int64_t time_ms, const unsigned char root[32],
	unsigned char out[AUDIT_HEAD_TBS_LEN])
{
	memcpy(out, AUDIT_HEAD_MAGIC, 20);
	tree_put_u64(out + 20, (uint64_t)tree_size);
	tree_put_u64(out + 28, (uint64_t)time_ms);
	memcpy(out + 36, root, 32);
}

/* The digest the signer uses for this key (docs/signer-protocol.md, "Signing rules"). */
static const EVP_MD *tree_md_for(EVP_PKEY *pub)
{
	int bits = EVP_PKEY_get_bits(pub);

	if (bits <= 256)
		return EVP_sha256();
	if (bits <= 384)
		return EVP_sha384();
	return EVP_sha512();
}

/*
 * Heads signed before a rotation of the GWA SIG key (gwa/gwa_renew_key.c) verify with the
 * key of the certificate that was current then. The replaced certificates are kept in
 * "<cert>.history" (PEM, appended at each switch); audit_sig_key_load hangs their keys on
 * the key it returns (ex_data), so every caller of audit_head_verify (verify, export,
 * retention, proofs) accepts them without a change of interface. A head that no key of
 * the GWA verifies is still refused.
 */
#define SIG_HISTORY_MAX 32

struct sig_history {
	size_t n;
	EVP_PKEY *keys[SIG_HISTORY_MAX];
};

static pthread_once_t sig_history_once = PTHREAD_ONCE_INIT;
static int sig_history_index = -1;

static void sig_history_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
	long argl, void *argp)
{
	struct sig_history *hist = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (hist == NULL)
		return;
	for (size_t i = 0; i < hist->n; i++)
		EVP_PKEY_free(hist->keys[i]);
	free(hist);
}

static void sig_history_init(void)
{
	sig_history_index = EVP_PKEY_get_ex_new_index(0, NULL, NULL, NULL, sig_history_free);
}

static bool head_verifies(const struct store_auditlog_head *h, EVP_PKEY *pub,
	const unsigned char *tbs, size_t tbs_len, tw_rc *rc, struct tw_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = false;

	*rc = TW_OK;
	if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, NULL, EVP_MD_get0_name(tree_md_for(pub)),
	    NULL, NULL, pub, NULL) != 1)
		*rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set up head verification");
	else
		ok = EVP_DigestVerify(ctx, h->sig, h->sig_len, tbs, tbs_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

tw_rc audit_head_verify(const struct store_auditlog_head *h, EVP_PKEY *pub,
	struct tw_error *err)
{
	unsigned char tbs[AUDIT_HEAD_TBS_LEN];
	struct sig_history *hist = NULL;
	tw_rc rc;

	if (pub == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "audit_head_verify: no key");
	audit_head_tbs(h->tree_size, h->time_ms, h->root, tbs);
	if (head_verifies(h, pub, tbs, sizeof(tbs), &rc, err))
		return TW_OK;
	if (rc != TW_OK)
		return rc;
	if (sig_history_index >= 0)
		hist = EVP_PKEY_get_ex_data(pub, sig_history_index);
	for (size_t i = 0; hist != NULL && i < hist->n; i++) {
		if (head_verifies(h, hist->keys[i], tbs, sizeof(tbs), &rc, err)) {
			ERR_clear_error();
			return TW_OK;
		}
		if (rc != TW_OK)
			return rc;
	}
	return tw_error_set_openssl(err, TW_E_INTEGRITY, "signature of the tree head at size "
		"%lld does not verify with the GWA SIG key", (long long)h->tree_size);
}

tw_rc audit_head_create(struct tw_store *store, struct signer_client *sc, int64_t size,
	struct store_auditlog_head *out, struct tw_error *err)
{
	struct store_auditlog_head *h = calloc(1, sizeof(*h));
	unsigned char tbs[AUDIT_HEAD_TBS_LEN];
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	bool found = false;
	tw_rc rc;

	if (h == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory creating a tree head");
		goto out;
	}
	if (size <= 0 && (rc = audit_tree_size(store, &size, err)) != TW_OK)
		goto out;
	if (size <= 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the admin log is empty: nothing to sign");
		goto out;
	}
	if ((rc = store_auditlog_head_get(store, size, h, &found, err)) != TW_OK)
		goto out;
	if (found)
		goto exists;
	h->tree_size = size;
	h->time_ms = tw_now_ms();
	if ((rc = audit_tree_root(store, size, h->root, err)) != TW_OK)
		goto out;
	audit_head_tbs(h->tree_size, h->time_ms, h->root, tbs);
	if ((rc = signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, tbs,
	    sizeof(tbs), &sig, &sig_len, err)) != TW_OK)
		goto out;
	if (sig_len < 8 || sig_len > sizeof(h->sig)) {
		rc = tw_error_set(err, TW_E_CRYPTO, "the signer returned a %zu-byte signature",
			sig_len);
		goto out;
	}
	memcpy(h->sig, sig, sig_len);
	h->sig_len = sig_len;
	snprintf(h->key_label, sizeof(h->key_label), "%s", SIGNER_KEY_GWA_SIG);
	rc = store_auditlog_head_insert(store, h, err);
	if (rc == TW_E_EXISTS) {
		/*
		 * Another creator (the worker's audit service, `torwart audit head`, retention)
		 * signed the same size between our look-up and our insert: one row per size is
		 * the table's primary key, so theirs stands and is what we report.
		 */
		if ((rc = store_auditlog_head_get(store, size, h, &found, err)) != TW_OK)
			goto out;
		if (!found) {
			rc = tw_error_set(err, TW_E_INTERNAL, "storing the head of size %lld failed "
				"as a duplicate, but no head of that size is stored", (long long)size);
			goto out;
		}
		goto exists;
	}
	if (rc != TW_OK)
		goto out;
	if (out != NULL)
		*out = *h;
	goto out;
exists:
	/* The existing head is returned too: whoever asked gets a signed head of size. */
	if (out != NULL)
		*out = *h;
	rc = tw_error_set(err, TW_E_EXISTS, "a head of size %lld is signed already",
		(long long)size);
out:
	free(sig);
	free(h);
	return rc;
}

/* The keys of "<cert_path>.history" onto pub (see above); no file: none. */
static tw_rc sig_history_load(const char *cert_path, EVP_PKEY *pub, struct tw_error *err)
{
	char *path = tw_asprintf("%s.history", cert_path);
	unsigned char *pem = NULL;
	size_t len = 0;
	struct sig_history *hist = NULL;
	BIO *bio = NULL;
	X509 *x;
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(path))
		goto out;
	pthread_once(&sig_history_once, sig_history_init);
	if (sig_history_index < 0 || (hist = calloc(1, sizeof(*hist))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_read_file(path, SIG_HISTORY_MAX * 8 * 1024, &pem, &len, err)) != TW_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	while (hist->n < SIG_HISTORY_MAX &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if ((hist->keys[hist->n] = X509_get_pubkey(x)) != NULL)
			hist->n++;
		X509_free(x);
	}
	ERR_clear_error();   /* the end of the bundle */
	if (EVP_PKEY_set_ex_data(pub, sig_history_index, hist) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot keep the earlier GWA SIG keys");
		goto out;
	}
	hist = NULL;
out:
	if (hist != NULL)
		sig_history_free(NULL, hist, NULL, 0, 0, NULL);
	BIO_free(bio);
	free(pem);
	free(path);
	return rc;
}

tw_rc audit_sig_key_load(const char *cert_path, EVP_PKEY **pub, struct tw_error *err)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	X509 *cert = NULL;
	tw_rc rc;

	*pub = NULL;
	if ((rc = tw_read_file(cert_path, 64 * 1024, &pem, &len, err)) != TW_OK)
		goto out;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "%s is not a PEM certificate",
			cert_path);
		goto out;
	}
	if ((*pub = X509_get_pubkey(cert)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "%s has no usable public key",
			cert_path);
		goto out;
	}
	rc = sig_history_load(cert_path, *pub, err);
out:
	if (rc != TW_OK) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	X509_free(cert);
	BIO_free(bio);
	free(pem);
	return rc;
}
