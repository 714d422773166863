/*
 * proof.c: writing, parsing (hostile input: bounded, strict, every line checked) and
 * checking proof documents (proof.h).
 */
#include "audit/proof.h"

#include <string.h>

#include "audit/tree.h"
#include "base/util.h"

static void proof_hex_line(FILE *out, const char *key, const unsigned char *b, size_t len)
{
	char hex[2 * STORE_AUDITLOG_SIG_MAX + 1];

	tw_hex_encode(b, len, hex);
	fprintf(out, "%s %s\n", key, hex);
}

tw_rc audit_proof_write(const struct audit_proof_doc *doc, FILE *out, struct tw_error *err)
{
	fprintf(out, "torwart-proof 1\ntype %s\ntree-size %lld\n",
		doc->consistency ? "consistency" : "inclusion", (long long)doc->tree_size);
	proof_hex_line(out, "root", doc->root, 32);
	if (doc->consistency) {
		fprintf(out, "first-size %lld\n", (long long)doc->first_size);
		proof_hex_line(out, "first-root", doc->first_root, 32);
	} else {
		fprintf(out, "leaf-index %lld\n", (long long)doc->leaf_index);
		proof_hex_line(out, "leaf-hash", doc->leaf_hash, 32);
	}
	if (doc->has_head) {
		fprintf(out, "head-time-ms %lld\n", (long long)doc->head_time_ms);
		proof_hex_line(out, "head-signature", doc->sig, doc->sig_len);
	}
	for (size_t i = 0; i < doc->path.count; i++)
		proof_hex_line(out, "path", doc->path.hash[i], 32);
	if (fflush(out) != 0 || ferror(out))
		return tw_error_set(err, TW_E_IO, "writing the proof failed");
	return TW_OK;
}

struct proof_parser {
	int line;
	unsigned seen;          /* bit per key */
	struct tw_error *err;
};

enum { P_TYPE = 1, P_SIZE = 2, P_ROOT = 4, P_INDEX = 8, P_LEAF = 16, P_FSIZE = 32,
	P_FROOT = 64, P_HTIME = 128, P_HSIG = 256 };

static tw_rc proof_bad(struct proof_parser *p, const char *what)
{
	return tw_error_set(p->err, TW_E_INVALID, "proof line %d: %s", p->line, what);
}

static tw_rc proof_num(struct proof_parser *p, const char *v, int64_t *out)
{
	long long x = 0;

	if (v[0] == '\0' || strlen(v) > 18)
		return proof_bad(p, "number missing or too long");
	for (const char *c = v; *c != '\0'; c++) {
		if (*c < '0' || *c > '9')
			return proof_bad(p, "not a decimal number");
		x = x * 10 + (*c - '0');
	}
	*out = x;
	return TW_OK;
}

static tw_rc proof_hex(struct proof_parser *p, const char *v, unsigned char *out, size_t max,
	size_t *len)
{
	size_t n = strlen(v);

	if (n == 0 || n % 2 != 0 || n / 2 > max || (len == NULL && n / 2 != max) ||
	    tw_hex_decode(v, out, n / 2, NULL) != TW_OK)
		return proof_bad(p, "bad hex value");
	if (len != NULL)
		*len = n / 2;
	return TW_OK;
}

static tw_rc proof_once(struct proof_parser *p, unsigned bit)
{
	if (p->seen & bit)
		return proof_bad(p, "repeated key");
	p->seen |= bit;
	return TW_OK;
}

static tw_rc proof_field(struct proof_parser *p, const char *key, const char *v,
	struct audit_proof_doc *doc)
{
	tw_rc rc;

	if (strcmp(key, "path") == 0) {
		if (doc->path.count >= MERKLE_PATH_MAX)
			return proof_bad(p, "too many path hashes");
		return proof_hex(p, v, doc->path.hash[doc->path.count++], 32, NULL);
	}
	if (strcmp(key, "type") == 0) {
		if ((rc = proof_once(p, P_TYPE)) != TW_OK)
			return rc;
		if (strcmp(v, "consistency") == 0)
			doc->consistency = true;
		else if (strcmp(v, "inclusion") != 0)
			return proof_bad(p, "type must be inclusion or consistency");
		return TW_OK;
	}
	if (strcmp(key, "tree-size") == 0)
		return (rc = proof_once(p, P_SIZE)) != TW_OK ? rc : proof_num(p, v, &doc->tree_size);
	if (strcmp(key, "root") == 0)
		return (rc = proof_once(p, P_ROOT)) != TW_OK ? rc : proof_hex(p, v, doc->root, 32, NULL);
	if (strcmp(key, "leaf-index") == 0)
		return (rc = proof_once(p, P_INDEX)) != TW_OK ? rc : proof_num(p, v, &doc->leaf_index);
	if (strcmp(key, "leaf-hash") == 0)
		return (rc = proof_once(p, P_LEAF)) != TW_OK ? rc :
			proof_hex(p, v, doc->leaf_hash, 32, NULL);
	if (strcmp(key, "first-size") == 0)
		return (rc = proof_once(p, P_FSIZE)) != TW_OK ? rc : proof_num(p, v, &doc->first_size);
	if (strcmp(key, "first-root") == 0)
		return (rc = proof_once(p, P_FROOT)) != TW_OK ? rc :
			proof_hex(p, v, doc->first_root, 32, NULL);
	if (strcmp(key, "head-time-ms") == 0)
		return (rc = proof_once(p, P_HTIME)) != TW_OK ? rc :
			proof_num(p, v, &doc->head_time_ms);
	if (strcmp(key, "head-signature") == 0)
		return (rc = proof_once(p, P_HSIG)) != TW_OK ? rc :
			proof_hex(p, v, doc->sig, sizeof(doc->sig), &doc->sig_len);
	return proof_bad(p, "unknown key");
}

tw_rc audit_proof_parse(const char *text, size_t len, struct audit_proof_doc *doc,
	struct tw_error *err)
{
	struct proof_parser p = { .line = 0, .seen = 0, .err = err };
	char line[2 * STORE_AUDITLOG_SIG_MAX + 64];
	size_t pos = 0, n;
	unsigned need;
	char *sp;
	tw_rc rc;

	memset(doc, 0, sizeof(*doc));
	if (len > AUDIT_PROOF_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "proof is longer than %d bytes",
			AUDIT_PROOF_MAX);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		p.line++;
		if (n >= sizeof(line))
			return proof_bad(&p, "line too long");
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (strlen(line) != n)
			return proof_bad(&p, "NUL byte");
		if (p.line == 1) {
			if (strcmp(line, "torwart-proof 1") != 0)
				return proof_bad(&p, "not a Torwart proof (torwart-proof 1)");
			continue;
		}
		if (n == 0)
			continue;
		if ((sp = strchr(line, ' ')) == NULL)
			return proof_bad(&p, "expected KEY VALUE");
		*sp = '\0';
		if ((rc = proof_field(&p, line, sp + 1, doc)) != TW_OK)
			return rc;
	}
	need = P_TYPE | P_SIZE | P_ROOT |
		(doc->consistency ? (P_FSIZE | P_FROOT) : (P_INDEX | P_LEAF));
	if (p.line == 0 || (p.seen & need) != need)
		return tw_error_set(err, TW_E_INVALID, "proof is missing required lines");
	if (((p.seen & P_HTIME) != 0) != ((p.seen & P_HSIG) != 0))
		return tw_error_set(err, TW_E_INVALID, "head-time-ms and head-signature go together");
	doc->has_head = (p.seen & P_HSIG) != 0;
	return TW_OK;
}

tw_rc audit_proof_check(const struct audit_proof_doc *doc, EVP_PKEY *pub,
	struct tw_error *err)
{
	struct store_auditlog_head h;
	tw_rc rc;

	if (doc->tree_size <= 0)
		return tw_error_set(err, TW_E_INTEGRITY, "proof names tree size 0");
	if (doc->consistency)
		rc = merkle_verify_consistency((uint64_t)doc->first_size, (uint64_t)doc->tree_size,
			doc->first_root, doc->root, &doc->path, err);
	else
		rc = merkle_verify_inclusion((uint64_t)doc->leaf_index, (uint64_t)doc->tree_size,
			doc->leaf_hash, &doc->path, doc->root, err);
	if (rc != TW_OK || pub == NULL || !doc->has_head)
		return rc;
	memset(&h, 0, sizeof(h));
	h.tree_size = doc->tree_size;
	h.time_ms = doc->head_time_ms;
	memcpy(h.root, doc->root, 32);
	memcpy(h.sig, doc->sig, doc->sig_len);
	h.sig_len = doc->sig_len;
	return audit_head_verify(&h, pub, err);
}
