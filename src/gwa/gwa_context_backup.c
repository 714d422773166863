/*
 * gwa_context_backup.c: backup and restore of a certificate-management context
 * (gwa_context_backup.h).
 */
#include "gwa/gwa_context_backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit/audit.h"
#include "base/util.h"
#include "store/store_gwa_context.h"

#define GCB_FORMAT "torwart-context-backup/1"

static char *gcb_b64(const unsigned char *der, size_t len)
{
	char *s = malloc(4 * ((len + 2) / 3) + 1);

	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, der, (int)len);
	return s;
}

struct gcb_out {
	json_t *certs, *cas, *sm;
	bool fail;
};

static int gcb_cert(const struct store_ctx_cert *c, void *arg)
{
	struct gcb_out *o = arg;
	char *b64 = gcb_b64(c->der, c->der_len);

	if (b64 == NULL || json_array_append_new(o->certs, json_pack("{s:s,s:s,s:s}", "label",
	    c->label, "gateway", c->gateway_id, "der", b64)) != 0)
		o->fail = true;
	free(b64);
	return o->fail;
}

static int gcb_ca(const struct store_ctx_trust *t, void *arg)
{
	struct gcb_out *o = arg;
	char *b64 = gcb_b64(t->der, t->der_len);

	if (b64 == NULL || json_array_append_new(o->cas, json_pack("{s:s}", "der", b64)) != 0)
		o->fail = true;
	free(b64);
	return o->fail;
}

static int gcb_sm(const struct store_ctx_issued *c, void *arg)
{
	struct gcb_out *o = arg;

	if (json_array_append_new(o->sm, json_pack("{s:s,s:s,s:s,s:s}", "owner", c->owner_id,
	    "usage", c->usage, "fingerprint", c->fingerprint, "status", c->status)) != 0)
		o->fail = true;
	return o->fail;
}

tw_rc gwa_ctx_backup(struct gwa_ctx *ctx, char **out, size_t *len, struct tw_error *err)
{
	struct gcb_out o = { json_array(), json_array(), json_array(), false };
	json_t *root = NULL;
	char detail[256];
	tw_rc rc;

	*out = NULL;
	*len = 0;
	if (o.certs == NULL || o.cas == NULL || o.sm == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto done;
	}
	if ((rc = store_ctx_cert_foreach(ctx->store, ctx->tenant_id, NULL, true, gcb_cert, &o,
	    err)) != TW_OK ||
	    (rc = store_ctx_trust_foreach(ctx->store, ctx->tenant_id, gcb_ca, &o, err)) != TW_OK ||
	    (rc = store_ctx_issued_foreach(ctx->store, ctx->tenant_id, NULL, gcb_sm, &o, err)) !=
	    TW_OK)
		goto done;
	root = o.fail ? NULL : json_pack("{s:s,s:s,s:I,s:O,s:O,s:O}", "format", GCB_FORMAT,
		"context", ctx->name, "created_ms", (json_int_t)tw_now_ms(), "certificates",
		o.certs, "trusted_cas", o.cas, "sm_pki", o.sm);
	if (root == NULL || (*out = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto done;
	}
	*len = strlen(*out);
	snprintf(detail, sizeof(detail), "backup: %zu certificates, %zu trusted CAs, %zu SM-PKI "
		"certificates listed", json_array_size(o.certs), json_array_size(o.cas),
		json_array_size(o.sm));
	{
		char object[STORE_ID_MAX + 16];
		struct audit_entry e;

		snprintf(object, sizeof(object), "context:%s", ctx->name);
		e = (struct audit_entry){ .actor = ctx->actor, .role = ctx->role,
			.client = ctx->client, .action = "context.backup", .object = object,
			.result = "ok", .detail = detail };
		rc = audit_append(ctx->store, &e, err);
	}
	if (rc != TW_OK) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
done:
	json_decref(root);
	json_decref(o.certs);
	json_decref(o.cas);
	json_decref(o.sm);
	return rc;
}

void gwa_ctx_backup_free(struct gwa_ctx_backup *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->items[i].der);
	free(b->items);
	memset(b, 0, sizeof(*b));
}

/* A short printable text member (label, gateway id); "" when absent and optional. */
static tw_rc gcb_text(json_t *obj, const char *key, bool required, char *out, size_t size,
	struct tw_error *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	out[0] = '\0';
	if (v == NULL && !required)
		return TW_OK;
	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "backup: \"%s\" must be a string", key);
	s = json_string_value(v);
	if (strlen(s) >= size || strlen(s) != json_string_length(v))
		return tw_error_set(err, TW_E_INVALID, "backup: \"%s\" is too long or has a NUL",
			key);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return tw_error_set(err, TW_E_INVALID, "backup: \"%s\" has a control "
				"character", key);
	snprintf(out, size, "%s", s);
	return TW_OK;
}

static tw_rc gcb_der(json_t *obj, struct gwa_ctx_backup_item *it, struct tw_error *err)
{
	json_t *v = json_object_get(obj, "der");
	const char *s;
	size_t n;
	int got;

	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "backup: an entry without \"der\"");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n % 4 != 0 || n > (size_t)STORE_CTX_DER_MAX * 4 / 3 + 4 ||
	    strlen(s) != n)
		return tw_error_set(err, TW_E_INVALID, "backup: \"der\" is not base64 of a "
			"certificate of at most %d bytes", STORE_CTX_DER_MAX);
	if ((it->der = malloc(n / 4 * 3 + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((got = EVP_DecodeBlock(it->der, (const unsigned char *)s, (int)n)) < 0)
		return tw_error_set(err, TW_E_INVALID, "backup: \"der\" is not base64");
	/* EVP_DecodeBlock counts the padding bytes as data: take them off again. */
	it->der_len = (size_t)got - (s[n - 1] == '=') - (s[n - 2] == '=');
	if (it->der_len == 0 || it->der_len > STORE_CTX_DER_MAX)
		return tw_error_set(err, TW_E_INVALID, "backup: a certificate of 1..%d bytes is "
			"needed", STORE_CTX_DER_MAX);
	return TW_OK;
}

tw_rc gwa_ctx_backup_parse(const unsigned char *in, size_t len, struct gwa_ctx_backup *out,
	struct tw_error *err)
{
	json_error_t je;
	json_t *root = NULL, *certs, *cas, *fmt;
	size_t nc, na;
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	if (in == NULL || len == 0 || len > GWA_CTX_BACKUP_MAX)
		return tw_error_set(err, TW_E_INVALID, "a backup file of 1..%d bytes is needed",
			GWA_CTX_BACKUP_MAX);
	if ((root = json_loadb((const char *)in, len, JSON_REJECT_DUPLICATES, &je)) == NULL)
		return tw_error_set(err, TW_E_INVALID, "backup: not JSON (line %d: %.80s)", je.line,
			je.text);
	fmt = json_object_get(root, "format");
	certs = json_object_get(root, "certificates");
	cas = json_object_get(root, "trusted_cas");
	if (!json_is_object(root) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), GCB_FORMAT) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "backup: not a %s file", GCB_FORMAT);
		goto out;
	}
	if (!json_is_array(certs) || !json_is_array(cas)) {
		rc = tw_error_set(err, TW_E_INVALID, "backup: \"certificates\" and \"trusted_cas\" "
			"must be arrays");
		goto out;
	}
	nc = json_array_size(certs);
	na = json_array_size(cas);
	if (nc + na > GWA_CTX_BACKUP_ITEMS) {
		rc = tw_error_set(err, TW_E_INVALID, "backup: more than %d entries",
			GWA_CTX_BACKUP_ITEMS);
		goto out;
	}
	if ((rc = gcb_text(root, "context", true, out->context, sizeof(out->context), err)) !=
	    TW_OK)
		goto out;
	if (nc + na > 0 && (out->items = calloc(nc + na, sizeof(*out->items))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nc + na && rc == TW_OK; i++) {
		struct gwa_ctx_backup_item *it = &out->items[i];
		json_t *e = i < nc ? json_array_get(certs, i) : json_array_get(cas, i - nc);

		out->n++;
		it->trusted_ca = i >= nc;
		if (!json_is_object(e))
			rc = tw_error_set(err, TW_E_INVALID, "backup: entry %zu is not an object", i);
		else if (!it->trusted_ca &&
			 ((rc = gcb_text(e, "label", true, it->label, sizeof(it->label), err)) !=
			  TW_OK ||
			  (rc = gcb_text(e, "gateway", false, it->gateway_id, sizeof(it->gateway_id),
			  err)) != TW_OK))
			;
		else
			rc = gcb_der(e, it, err);
	}
out:
	json_decref(root);
	if (rc != TW_OK)
		gwa_ctx_backup_free(out);
	return rc;
}

tw_rc gwa_ctx_restore(struct gwa_ctx *ctx, const struct gwa_ctx_backup *b, size_t *restored,
	size_t *skipped, struct tw_error *err)
{
	char detail[256], object[STORE_ID_MAX + 16];
	struct audit_entry e;
	tw_rc rc = TW_OK;

	*restored = *skipped = 0;
	for (size_t i = 0; i < b->n && rc == TW_OK; i++) {
		const struct gwa_ctx_backup_item *it = &b->items[i];
		struct store_gateway gw;
		const char *gateway = it->gateway_id[0] ? it->gateway_id : NULL;
		struct tw_error e2;
		int64_t id = 0;

		/* A gateway that is not (or not in this context) here: keep it unassigned. */
		if (gateway != NULL && (store_gateway_get(ctx->store, gateway, &gw, &e2) != TW_OK ||
		    gw.tenant_id != ctx->tenant_id))
			gateway = NULL;
		rc = it->trusted_ca ? gwa_ctx_trust_add(ctx, it->der, it->der_len, &id, err) :
			gwa_ctx_import(ctx, it->der, it->der_len, it->label, gateway, &id, err);
		if (rc == TW_E_EXISTS) {
			(*skipped)++;
			rc = TW_OK;
		} else if (rc == TW_OK) {
			(*restored)++;
		}
	}
	if (rc != TW_OK)
		return rc;
	snprintf(detail, sizeof(detail), "restore from a backup of context %.64s: %zu restored, "
		"%zu held already", b->context, *restored, *skipped);
	snprintf(object, sizeof(object), "context:%s", ctx->name);
	e = (struct audit_entry){ .actor = ctx->actor, .role = ctx->role, .client = ctx->client,
		.action = "context.restore", .object = object, .result = "ok", .detail = detail };
	return audit_append(ctx->store, &e, err);
}
