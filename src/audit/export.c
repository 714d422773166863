/*
 * export.c: writing and offline verification of admin-log exports (export.h). The reader
 * treats the file as hostile input: bounded lines, every field type- and length-checked
 * before use; it shares the streaming verifier with live verification.
 */
#include "audit/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/tree.h"
#include "audit/verify_internal.h"
#include "base/util.h"
#include "store/store_auditlog.h"

/* ---- writing ---- */

struct export_writer {
	FILE *f;
	int64_t upto;
	struct audit_export_stats *stats;
	tw_rc rc;
	struct tw_error *err;
};

static tw_rc export_line(struct export_writer *w, json_t *obj)
{
	char *s = NULL;
	tw_rc rc = TW_OK;

	if (obj == NULL || (s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL)
		rc = tw_error_set(w->err, TW_E_NOMEM, "out of memory writing the export");
	else if (fputs(s, w->f) == EOF || fputc('\n', w->f) == EOF)
		rc = tw_error_set(w->err, TW_E_IO, "writing the export failed: %s", strerror(errno));
	free(s);
	json_decref(obj);
	return rc;
}

static json_t *export_hex(const unsigned char *b, size_t len)
{
	char hex[2 * STORE_AUDITLOG_SIG_MAX + 1];

	if (len > STORE_AUDITLOG_SIG_MAX)
		return NULL;
	tw_hex_encode(b, len, hex);
	return json_string(hex);
}

static int export_head_cb(const struct store_auditlog_head *h, void *arg)
{
	struct export_writer *w = arg;

	if (w->upto > 0 && h->tree_size > w->upto)
		return 1;
	w->stats->heads++;
	w->rc = export_line(w, json_pack("{s:s, s:I, s:I, s:o, s:s, s:o}", "type", "head",
		"tree_size", (json_int_t)h->tree_size, "time_ms", (json_int_t)h->time_ms,
		"root", export_hex(h->root, 32), "key", h->key_label,
		"signature", export_hex(h->sig, h->sig_len)));
	return w->rc != TW_OK;
}

static int export_row_cb(const struct store_audit_row *r, void *arg)
{
	struct export_writer *w = arg;

	if (w->upto > 0 && r->seq > w->upto)
		return 1;
	if (w->stats->entries == 0)
		w->stats->first_seq = r->seq;
	w->stats->last_seq = r->seq;
	w->stats->entries++;
	w->rc = export_line(w, json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		"s:s, s:o, s:o}", "type", "entry", "seq", (json_int_t)r->seq, "time", r->time,
		"actor", r->actor, "role", r->role, "client", r->client, "action", r->action,
		"object", r->object, "result", r->result, "error_code", r->error_code,
		"detail", r->detail, "prev_hash", export_hex(r->prev_hash, 32),
		"hash", export_hex(r->hash, 32)));
	return w->rc != TW_OK;
}

/* Header, certificate and (after a cut) the subtree hashes left of the first entry. */
static tw_rc export_prologue(struct tw_store *store, struct export_writer *w,
	const char *cert_path)
{
	struct store_auditlog_cut cut;
	unsigned char *pem = NULL, h[32], zero[32] = { 0 };
	size_t pem_len = 0;
	uint64_t start = 0;
	bool found = false;
	tw_rc rc;

	if ((rc = store_auditlog_cut_latest(store, &cut, &found, w->err)) != TW_OK)
		goto out;
	if ((rc = export_line(w, json_pack("{s:s, s:i, s:I, s:o}", "format", AUDIT_EXPORT_FORMAT,
	    "version", AUDIT_EXPORT_VERSION, "first_seq", (json_int_t)(found ? cut.cut_seq + 1 : 1),
	    "prev_hash", export_hex(found ? cut.chain_hash : zero, 32)))) != TW_OK)
		goto out;
	if (cert_path != NULL) {
		if ((rc = tw_read_file(cert_path, 64 * 1024, &pem, &pem_len, w->err)) != TW_OK ||
		    (rc = export_line(w, json_pack("{s:s, s:s%}", "type", "cert", "pem",
		    (const char *)pem, pem_len))) != TW_OK)
			goto out;
	}
	for (int l = 62; found && l >= 0; l--) {
		if (!(((uint64_t)cut.cut_seq >> l) & 1))
			continue;
		if ((rc = audit_tree_subtree(store, l, start >> l, h, w->err)) != TW_OK ||
		    (rc = export_line(w, json_pack("{s:s, s:i, s:I, s:o}", "type", "node",
		    "level", l, "index", (json_int_t)(start >> l), "hash", export_hex(h, 32)))) != TW_OK)
			goto out;
		start += UINT64_C(1) << l;
	}
	rc = TW_OK;
out:
	free(pem);
	return rc;
}

tw_rc audit_export_write(struct tw_store *store, const char *path, const char *cert_path,
	int64_t upto, struct audit_export_stats *stats, struct tw_error *err)
{
	struct export_writer w;
	bool snap = false;
	char *tmp = NULL;
	int fd = -1;
	tw_rc rc;

	memset(stats, 0, sizeof(*stats));
	memset(&w, 0, sizeof(w));
	w.upto = upto;
	w.stats = stats;
	w.err = err;
	if (tw_path_exists(path)) {
		rc = tw_error_set(err, TW_E_EXISTS, "%s exists; choose a new export file", path);
		goto out;
	}
	if ((tmp = tw_asprintf("%s.tmp", path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    (w.f = fdopen(fd, "w")) == NULL) {
		rc = tw_error_set(err, TW_E_IO, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	/* One consistent state of cut, heads and entries (retention may run meanwhile). */
	if (!store_in_transaction(store)) {
		if ((rc = store_auditlog_snapshot_begin(store, err)) != TW_OK)
			goto out;
		snap = true;
	}
	/* Heads before entries let a reader check each head in one pass. */
	if ((rc = export_prologue(store, &w, cert_path)) != TW_OK)
		goto out;
	if ((rc = store_auditlog_head_foreach(store, export_head_cb, &w, err)) != TW_OK ||
	    (rc = w.rc) != TW_OK)
		goto out;
	if ((rc = store_audit_foreach(store, 1, export_row_cb, &w, err)) != TW_OK ||
	    (rc = w.rc) != TW_OK)
		goto out;
	if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0) {
		rc = tw_error_set(err, TW_E_IO, "writing %s failed: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(w.f) != 0) {
		w.f = NULL;
		rc = tw_error_set(err, TW_E_IO, "writing %s failed: %s", tmp, strerror(errno));
		goto out;
	}
	w.f = NULL;
	if (rename(tmp, path) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot rename %s to %s: %s", tmp, path,
			strerror(errno));
		goto out;
	}
	rc = TW_OK;
out:
	if (snap)
		store_auditlog_snapshot_end(store);
	if (w.f != NULL)
		fclose(w.f);
	if (fd >= 0)
		close(fd);
	if (rc != TW_OK && tmp != NULL)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* ---- reading ---- */

struct export_reader {
	struct audit_verifier v;
	long line;
	int stage;                    /* 0 header, 1 cert/nodes/heads, 2 entries */
	int64_t first_seq;
	unsigned char prev[32];
	unsigned char nodes[MERKLE_PATH_MAX][32];
	uint64_t nodes_start;         /* leaves covered by the node lines so far */
	EVP_PKEY *embedded;
	struct tw_error *err;
};

static tw_rc rd_fail(struct export_reader *r, const char *what)
{
	return tw_error_set(r->err, TW_E_INVALID, "export line %ld: %s", r->line, what);
}

static tw_rc rd_int(struct export_reader *r, json_t *o, const char *key, int64_t min,
	int64_t max, int64_t *out)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max)
		return tw_error_set(r->err, TW_E_INVALID, "export line %ld: \"%s\" is missing or "
			"not an integer in %lld..%lld", r->line, key, (long long)min, (long long)max);
	*out = json_integer_value(j);
	return TW_OK;
}

static tw_rc rd_hex(struct export_reader *r, json_t *o, const char *key, unsigned char *out,
	size_t max, size_t *len)
{
	json_t *j = json_object_get(o, key);
	size_t n;

	if (!json_is_string(j) || (n = json_string_length(j)) == 0 || n % 2 != 0 || n / 2 > max ||
	    (len == NULL && n / 2 != max) ||
	    tw_hex_decode(json_string_value(j), out, n / 2, NULL) != TW_OK)
		return tw_error_set(r->err, TW_E_INVALID, "export line %ld: \"%s\" is not %s hex",
			r->line, key, len == NULL ? "32-byte" : "valid");
	if (len != NULL)
		*len = n / 2;
	return TW_OK;
}

static tw_rc rd_text(struct export_reader *r, json_t *o, const char *key, char *dst,
	size_t size)
{
	json_t *j = json_object_get(o, key);
	size_t n;

	if (!json_is_string(j) || (n = json_string_length(j)) >= size ||
	    strlen(json_string_value(j)) != n)
		return tw_error_set(r->err, TW_E_INVALID, "export line %ld: \"%s\" is missing, too "
			"long or contains NUL", r->line, key);
	memcpy(dst, json_string_value(j), n + 1);
	return TW_OK;
}

#define RD_TEXT(r, o, row, member) rd_text((r), (o), #member, (row)->member, sizeof((row)->member))

static tw_rc rd_header(struct export_reader *r, json_t *o)
{
	json_t *fmt = json_object_get(o, "format");
	int64_t version;
	tw_rc rc;

	if (!json_is_string(fmt) || strcmp(json_string_value(fmt), AUDIT_EXPORT_FORMAT) != 0)
		return rd_fail(r, "not a Torwart admin-log export (format)");
	if ((rc = rd_int(r, o, "version", 1, 1000, &version)) != TW_OK)
		return rc;
	if (version != AUDIT_EXPORT_VERSION)
		return rd_fail(r, "unsupported export version");
	if ((rc = rd_int(r, o, "first_seq", 1, INT64_MAX / 2, &r->first_seq)) != TW_OK ||
	    (rc = rd_hex(r, o, "prev_hash", r->prev, 32, NULL)) != TW_OK)
		return rc;
	if (r->first_seq > 1 && (r->first_seq - 1) % AUDIT_TREE_CHUNK != 0)
		return rd_fail(r, "first_seq does not follow a retention cut");
	r->stage = 1;
	return TW_OK;
}

static tw_rc rd_cert(struct export_reader *r, json_t *o)
{
	json_t *pem = json_object_get(o, "pem");
	BIO *bio = NULL;
	X509 *cert = NULL;
	tw_rc rc = TW_OK;

	if (r->embedded != NULL || !json_is_string(pem) || json_string_length(pem) > 65536)
		return rd_fail(r, "bad or repeated certificate");
	if ((bio = BIO_new_mem_buf(json_string_value(pem), (int)json_string_length(pem))) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    (r->embedded = X509_get_pubkey(cert)) == NULL)
		rc = rd_fail(r, "the certificate does not parse");
	X509_free(cert);
	BIO_free(bio);
	return rc;
}

static tw_rc rd_node(struct export_reader *r, json_t *o)
{
	int64_t level, idx;
	tw_rc rc;

	if ((rc = rd_int(r, o, "level", AUDIT_TREE_LEVEL, 62, &level)) != TW_OK ||
	    (rc = rd_int(r, o, "index", 0, INT64_MAX / 2, &idx)) != TW_OK)
		return rc;
	/* Largest first, exactly the decomposition of first_seq - 1. */
	if ((uint64_t)idx << level != r->nodes_start || idx > (INT64_MAX >> level) ||
	    !((((uint64_t)r->first_seq - 1) >> level) & 1) ||
	    r->nodes_start + (UINT64_C(1) << level) > (uint64_t)r->first_seq - 1)
		return rd_fail(r, "subtree hash does not fit the cut");
	r->nodes_start += UINT64_C(1) << level;
	return rd_hex(r, o, "hash", r->nodes[level], 32, NULL);
}

static tw_rc rd_head(struct export_reader *r, json_t *o)
{
	struct store_auditlog_head h;
	tw_rc rc;

	memset(&h, 0, sizeof(h));
	if ((rc = rd_int(r, o, "tree_size", 1, INT64_MAX / 2, &h.tree_size)) != TW_OK ||
	    (rc = rd_int(r, o, "time_ms", 0, INT64_MAX, &h.time_ms)) != TW_OK ||
	    (rc = rd_hex(r, o, "root", h.root, 32, NULL)) != TW_OK ||
	    (rc = rd_hex(r, o, "signature", h.sig, sizeof(h.sig), &h.sig_len)) != TW_OK ||
	    (rc = rd_text(r, o, "key", h.key_label, sizeof(h.key_label))) != TW_OK)
		return rc;
	if ((rc = verifier_add_head(&r->v, &h)) != TW_OK)
		return rd_fail(r, r->err != NULL ? r->err->message : "bad head");
	return TW_OK;
}

static tw_rc rd_entry(struct export_reader *r, json_t *o, struct store_audit_row *row)
{
	tw_rc rc;

	memset(row, 0, sizeof(*row));
	if ((rc = rd_int(r, o, "seq", 1, INT64_MAX / 2, &row->seq)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, time)) != TW_OK || (rc = RD_TEXT(r, o, row, actor)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, role)) != TW_OK || (rc = RD_TEXT(r, o, row, client)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, action)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, object)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, result)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, error_code)) != TW_OK ||
	    (rc = RD_TEXT(r, o, row, detail)) != TW_OK ||
	    (rc = rd_hex(r, o, "prev_hash", row->prev_hash, 32, NULL)) != TW_OK ||
	    (rc = rd_hex(r, o, "hash", row->hash, 32, NULL)) != TW_OK)
		return rc;
	return TW_OK;
}

/* First entry line: the cut state (if any) and the key are now complete. */
static tw_rc rd_begin_entries(struct export_reader *r, EVP_PKEY *pub)
{
	tw_rc rc;

	if (r->first_seq > 1) {
		if (r->nodes_start != (uint64_t)r->first_seq - 1)
			return rd_fail(r, "the subtree hashes do not cover the cut");
		if ((rc = verifier_set_cut(&r->v, r->first_seq - 1, r->prev,
		    (const unsigned char (*)[32])r->nodes)) != TW_OK)
			return rc;
	}
	if (pub == NULL && r->embedded != NULL) {
		r->v.pub = r->embedded;
		r->v.res->signatures_checked = 1;
	}
	r->stage = 2;
	return TW_OK;
}

static tw_rc rd_line(struct export_reader *r, const char *line, size_t len, EVP_PKEY *pub,
	struct store_audit_row *row)
{
	json_error_t jerr;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *type;
	const char *t;
	tw_rc rc;

	if (!json_is_object(o)) {
		rc = rd_fail(r, "not a JSON object");
		goto out;
	}
	if (r->stage == 0) {
		rc = rd_header(r, o);
		goto out;
	}
	type = json_object_get(o, "type");
	t = json_is_string(type) ? json_string_value(type) : "";
	if (strcmp(t, "entry") == 0) {
		if (r->stage == 1 && (rc = rd_begin_entries(r, pub)) != TW_OK)
			goto out;
		if ((rc = rd_entry(r, o, row)) != TW_OK)
			goto out;
		verifier_entry(&r->v, row);
		rc = TW_OK;
	} else if (r->stage != 1) {
		rc = rd_fail(r, "certificate, subtree hashes and heads must precede the entries");
	} else if (strcmp(t, "cert") == 0) {
		rc = rd_cert(r, o);
	} else if (strcmp(t, "node") == 0) {
		rc = rd_node(r, o);
	} else if (strcmp(t, "head") == 0) {
		rc = rd_head(r, o);
	} else {
		rc = rd_fail(r, "unknown line type");
	}
out:
	json_decref(o);
	return rc;
}

tw_rc audit_export_verify(FILE *in, EVP_PKEY *pub, struct audit_verify_result *res,
	int *used_embedded_cert, struct tw_error *err)
{
	struct export_reader *r = NULL;
	struct store_audit_row *row = NULL;
	char *line = NULL;
	size_t len;
	tw_rc rc;

	if (used_embedded_cert != NULL)
		*used_embedded_cert = 0;
	if ((r = calloc(1, sizeof(*r))) == NULL || (row = malloc(sizeof(*row))) == NULL ||
	    (line = malloc(AUDIT_EXPORT_LINE_MAX + 2)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory reading the export");
		goto out;
	}
	verifier_init(&r->v, res, pub, err);
	r->err = err;
	while (fgets(line, AUDIT_EXPORT_LINE_MAX + 2, in) != NULL) {
		r->line++;
		len = strlen(line);
		if (len > 0 && line[len - 1] == '\n')
			len--;
		else if (!feof(in)) {
			rc = rd_fail(r, "line longer than 64 KiB");
			goto out;
		}
		if ((rc = rd_line(r, line, len, pub, row)) != TW_OK)
			goto out;
		if (r->v.failed)
			break;   /* the first inconsistency is what we report */
	}
	if (ferror(in)) {
		rc = tw_error_set(err, TW_E_IO, "reading the export failed");
		goto out;
	}
	if (r->stage == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the export is empty (no header line)");
		goto out;
	}
	if (r->stage == 1 && (rc = rd_begin_entries(r, pub)) != TW_OK)
		goto out;
	if (used_embedded_cert != NULL)
		*used_embedded_cert = pub == NULL && r->embedded != NULL;
	rc = verifier_finish(&r->v);
out:
	if (r != NULL) {
		verifier_free(&r->v);
		EVP_PKEY_free(r->embedded);
	}
	free(r);
	free(row);
	free(line);
	return rc;
}
