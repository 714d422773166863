/*
 * gwa_context.c: the per-GWA certificate-management context (gwa_context.h).
 */
#include "gwa/gwa_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "pki/trust.h"
#include "pki/profile.h"
#include "store/store_gwa_context.h"

tw_rc gwa_ctx_open(struct gwa_ctx *ctx, const struct tw_home *home, struct tw_store *store,
	const char *name, struct tw_error *err)
{
	int64_t scoped = store_scoped_tenant(store);
	tw_rc rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->home = home;
	ctx->store = store;
	if ((rc = store_ctx_tenant_id(store, name, &ctx->tenant_id, err)) != TW_OK)
		return rc;
	/* Another tenant's context is exactly a missing one for a scoped operator. */
	if (scoped != 0 && scoped != ctx->tenant_id)
		return tw_error_set(err, TW_E_NOT_FOUND, "there is no context (tenant) '%.64s'",
			name);
	snprintf(ctx->name, sizeof(ctx->name), "%s", name);
	return TW_OK;
}

/* One admin-log entry inside the open transaction. */
static tw_rc gc_audit(struct gwa_ctx *ctx, const char *action, const char *what,
	const char *result, const char *detail, struct tw_error *err)
{
	char object[STORE_ID_MAX * 2 + 32];
	struct audit_entry e;

	snprintf(object, sizeof(object), "context:%s%s%s", ctx->name, what ? " " : "",
		what ? what : "");
	e = (struct audit_entry){ .actor = ctx->actor, .role = ctx->role, .client = ctx->client,
		.action = action, .object = object, .result = result, .detail = detail };
	return audit_append_in_tx(ctx->store, &e, err);
}

static void gc_name(const X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long len;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_get_mem_data(b, &p)) > 0)
		snprintf(out, size, "%.*s", (int)len, p);
	BIO_free(b);
	/* Outside bytes: nothing that a terminal or a log line would interpret. */
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* One certificate from PEM or DER bytes (outside input: TW_E_INVALID otherwise). */
static tw_rc gc_parse(const unsigned char *in, size_t len, X509 **out, struct tw_error *err)
{
	const unsigned char *p = in;
	BIO *b;

	*out = NULL;
	if (in == NULL || len == 0 || len > STORE_CTX_DER_MAX * 2)
		return tw_error_set(err, TW_E_INVALID, "a certificate file of 1..%d bytes is "
			"needed", STORE_CTX_DER_MAX * 2);
	if (len > 10 && memcmp(in, "-----BEGIN", 10) == 0) {
		if ((b = BIO_new_mem_buf(in, (int)len)) != NULL) {
			*out = PEM_read_bio_X509(b, NULL, NULL, NULL);
			BIO_free(b);
		}
	} else {
		*out = d2i_X509(NULL, &p, (long)len);
		if (*out != NULL && p != in + len) {
			X509_free(*out);
			*out = NULL;
		}
	}
	ERR_clear_error();
	if (*out == NULL)
		return tw_error_set(err, TW_E_INVALID, "the file is not one X.509 certificate "
			"(PEM or DER)");
	return TW_OK;
}

static tw_rc gc_time(const ASN1_TIME *t, int64_t *out, struct tw_error *err)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return tw_error_set(err, TW_E_INVALID, "the certificate's validity does not parse");
	*out = (int64_t)timegm(&tm);
	return TW_OK;
}

/* Fill c from x (DER owned by c afterwards). */
static tw_rc gc_fill(X509 *x, const char *label, const char *gateway_id,
	struct store_ctx_cert *c, struct tw_error *err)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	unsigned char *der = NULL;
	int n;
	tw_rc rc = TW_OK;

	if (hex == NULL || strlen(hex) > STORE_ID_MAX)
		rc = tw_error_set(err, TW_E_INVALID, "the certificate's serial number is missing or "
			"longer than %d hex digits", STORE_ID_MAX);
	else if ((rc = keys_cert_fingerprint(x, c->fingerprint, err)) == TW_OK &&
		 (rc = gc_time(X509_get0_notBefore(x), &c->not_before, err)) == TW_OK &&
		 (rc = gc_time(X509_get0_notAfter(x), &c->not_after, err)) == TW_OK) {
		snprintf(c->serial_hex, sizeof(c->serial_hex), "%s", hex);
		snprintf(c->label, sizeof(c->label), "%s", label);
		snprintf(c->gateway_id, sizeof(c->gateway_id), "%s",
			gateway_id != NULL ? gateway_id : "");
		gc_name(X509_get_subject_name(x), c->subject, sizeof(c->subject));
		gc_name(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
		if ((n = i2d_X509(x, &der)) <= 0)
			rc = tw_error_set(err, TW_E_INVALID, "the certificate does not re-encode");
		else {
			c->der = der;
			c->der_len = (size_t)n;
		}
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* label: 1..64 printable characters without spaces; gateway: one of this tenant's. */
static tw_rc gc_check_args(struct gwa_ctx *ctx, const char *label, const char *gateway_id,
	struct tw_error *err)
{
	struct store_gateway gw;
	tw_rc rc;

	if (label != NULL) {
		size_t n = strlen(label);

		if (n == 0 || n > STORE_ID_MAX)
			return tw_error_set(err, TW_E_INVALID, "--label: 1..%d characters",
				STORE_ID_MAX);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)label[i] <= 0x20 || label[i] == 0x7f)
				return tw_error_set(err, TW_E_INVALID, "--label: no spaces or control "
					"characters");
	}
	if (gateway_id == NULL || *gateway_id == '\0')
		return TW_OK;
	if ((rc = store_gateway_get(ctx->store, gateway_id, &gw, err)) != TW_OK)
		return rc == TW_E_NOT_FOUND ? tw_error_set(err, TW_E_NOT_FOUND, "gateway %.64s is "
			"not registered in context %s", gateway_id, ctx->name) : rc;
	if (gw.tenant_id != ctx->tenant_id)
		return tw_error_set(err, TW_E_NOT_FOUND, "gateway %.64s is not registered in "
			"context %s", gateway_id, ctx->name);
	return TW_OK;
}

/* Run fn's store work and its audit in one transaction. */
#define GC_TX(ctx, err, body) do { \
	if ((rc = store_begin((ctx)->store, (err))) != TW_OK) \
		break; \
	if ((rc = (body)) == TW_OK) \
		rc = store_commit((ctx)->store, (err)); \
	if (rc != TW_OK) \
		store_rollback((ctx)->store); \
} while (0)

static tw_rc gc_import_tx(struct gwa_ctx *ctx, struct store_ctx_cert *c, int64_t *id,
	struct tw_error *err)
{
	char what[48], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = store_ctx_cert_insert(ctx->store, c, id, err)) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "cert:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "imported %s: %.200s (serial %s, fingerprint %s)%s%s",
		c->label, c->subject, c->serial_hex, c->fingerprint,
		c->gateway_id[0] ? ", gateway " : "", c->gateway_id);
	return gc_audit(ctx, "context.import", what, "ok", detail, err);
}

tw_rc gwa_ctx_import(struct gwa_ctx *ctx, const unsigned char *in, size_t len,
	const char *label, const char *gateway_id, int64_t *id, struct tw_error *err)
{
	struct store_ctx_cert c;
	X509 *x = NULL;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	*id = 0;
	if ((rc = gc_check_args(ctx, label, gateway_id, err)) != TW_OK ||
	    (rc = gc_parse(in, len, &x, err)) != TW_OK ||
	    (rc = gc_fill(x, label != NULL ? label : "imported", gateway_id, &c, err)) != TW_OK)
		goto out;
	c.tenant_id = ctx->tenant_id;
	c.created_ms = c.updated_ms = tw_now_ms();
	GC_TX(ctx, err, gc_import_tx(ctx, &c, id, err));
out:
	store_ctx_cert_clear(&c);
	X509_free(x);
	return rc;
}

/*
 * The TLS client context of an ldaps:// fetch: the GWA's TLS certificate ([context]
 * ldap_cert, default pki/gwa-tls.crt) with its key in the signer (or [context] ldap_key
 * where a file is used), the directory checked against [context] ldap_trust (default
 * pki/chain.pem). The project's TLS profile (tls.h).
 */
static tw_rc gc_ldap_tls_ctx(struct gwa_ctx *ctx, SSL_CTX **out, struct tw_error *err)
{
	const struct tw_home *home = ctx->home;
	char *cert = tw_home_path(home, "context", "ldap_cert", TW_HOME_GWA_TLS_CERT);
	char *key = tw_home_path(home, "context", "ldap_key", TW_HOME_GWA_TLS_KEY);
	char *trust = tw_home_path(home, "context", "ldap_trust", TW_HOME_CHAIN);
	struct tls_profile_config cfg;
	tw_rc rc;

	*out = NULL;
	if (cert == NULL || key == NULL || trust == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	else if ((rc = tls_signer_key_use_home(home, err)) == TW_OK) {
		cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
			.trust_file = trust, .signer_key = SIGNER_KEY_GWA_TLS };
		rc = tls_client_ctx_new(&cfg, out, err);
	}
	free(cert);
	free(key);
	free(trust);
	return rc;
}

tw_rc gwa_ctx_fetch(struct gwa_ctx *ctx, const char *url, const char *label,
	const char *gateway_id, long timeout_s, int64_t *id, struct tw_error *err)
{
	struct trust_ldap_target t;
	unsigned char *der = NULL;
	char base[512], detail[STORE_TEXT_MAX + 1], what[48];
	const char *q, *how = "anonymous search";
	size_t len = 0;
	tw_rc rc;

	*id = 0;
	if (url == NULL || strlen(url) >= sizeof(base))
		return tw_error_set(err, TW_E_INVALID, "--url: an ldap:// URL of at most %zu "
			"characters", sizeof(base) - 1);
	/* The attribute is ours to choose; the rest is checked like a CRL distribution point. */
	q = strchr(url, '?');
	if (q != NULL && q[1] != '\0' && strcasecmp(q + 1, "userCertificate") != 0 &&
	    strcasecmp(q + 1, "userCertificate;binary") != 0)
		return tw_error_set(err, TW_E_INVALID, "--url: a certificate is read from "
			"userCertificate; give ldap://host/<dn> or ...?userCertificate");
	snprintf(base, sizeof(base), "%.*s", (int)(q != NULL ? (size_t)(q - url) : strlen(url)),
		url);
	if ((rc = gc_check_args(ctx, label, gateway_id, err)) != TW_OK)
		return rc;
	if (strncasecmp(base, "ldaps://", 8) == 0) {
		/* With the GWA's TLS certificate, over OpenSSL (trust_ldap_tls.c). */
		SSL_CTX *tls = NULL;

		if ((rc = gc_ldap_tls_ctx(ctx, &tls, err)) == TW_OK)
			rc = trust_ldaps_fetch(tls, base, "userCertificate", timeout_s,
				STORE_CTX_DER_MAX, &der, &len, err);
		SSL_CTX_free(tls);
		if (rc != TW_OK)
			return rc;
		how = "search as the GWA over TLS with its certificate";
		snprintf(t.uri, sizeof(t.uri), "%.*s", (int)strcspn(base + 8, "/") + 8, base);
	} else {
		if ((rc = trust_ldap_target_parse(base, &t, err)) != TW_OK)
			return rc;
		snprintf(t.attr, sizeof(t.attr), "userCertificate");
		if ((rc = trust_ldap_fetch(&t, timeout_s, STORE_CTX_DER_MAX, &der, &len, err)) !=
		    TW_OK)
			return rc;
	}
	rc = gwa_ctx_import(ctx, der, len, label != NULL ? label : "ldap", gateway_id, id, err);
	free(der);
	if (rc != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "cert:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "fetched from %.200s (%s of %.200s)", base, how,
		t.uri);
	GC_TX(ctx, err, gc_audit(ctx, "context.fetch", what, "ok", detail, err));
	return rc;
}

static tw_rc gc_replace_tx(struct gwa_ctx *ctx, int64_t id, struct store_ctx_cert *c,
	const struct store_ctx_cert *old, struct tw_error *err)
{
	char what[48], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = store_ctx_cert_replace(ctx->store, ctx->tenant_id, id, c, err)) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "cert:%lld", (long long)id);
	snprintf(detail, sizeof(detail), "replaced %s: serial %s -> %s (fingerprint %.16s... -> "
		"%.16s...): %.150s", c->label, old->serial_hex, c->serial_hex, old->fingerprint,
		c->fingerprint, c->subject);
	return gc_audit(ctx, "context.replace", what, "ok", detail, err);
}

tw_rc gwa_ctx_replace(struct gwa_ctx *ctx, int64_t id, const unsigned char *in, size_t len,
	const char *label, const char *gateway_id, struct tw_error *err)
{
	struct store_ctx_cert old, c;
	X509 *x = NULL;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	memset(&old, 0, sizeof(old));
	if ((rc = gc_check_args(ctx, label, gateway_id, err)) != TW_OK ||
	    (rc = store_ctx_cert_get(ctx->store, ctx->tenant_id, id, &old, err)) != TW_OK ||
	    (rc = gc_parse(in, len, &x, err)) != TW_OK ||
	    (rc = gc_fill(x, label != NULL ? label : old.label,
		gateway_id != NULL ? gateway_id : old.gateway_id, &c, err)) != TW_OK)
		goto out;
	c.tenant_id = ctx->tenant_id;
	c.updated_ms = tw_now_ms();
	GC_TX(ctx, err, gc_replace_tx(ctx, id, &c, &old, err));
out:
	store_ctx_cert_clear(&c);
	store_ctx_cert_clear(&old);
	X509_free(x);
	return rc;
}

static tw_rc gc_delete_tx(struct gwa_ctx *ctx, int64_t id, const struct store_ctx_cert *old,
	struct tw_error *err)
{
	char what[48], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = store_ctx_cert_delete(ctx->store, ctx->tenant_id, id, err)) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "cert:%lld", (long long)id);
	snprintf(detail, sizeof(detail), "deleted %s: serial %s, fingerprint %s", old->label,
		old->serial_hex, old->fingerprint);
	return gc_audit(ctx, "context.delete", what, "ok", detail, err);
}

tw_rc gwa_ctx_delete(struct gwa_ctx *ctx, int64_t id, struct tw_error *err)
{
	struct store_ctx_cert old;
	tw_rc rc;

	if ((rc = store_ctx_cert_get(ctx->store, ctx->tenant_id, id, &old, err)) != TW_OK)
		return rc;
	GC_TX(ctx, err, gc_delete_tx(ctx, id, &old, err));
	store_ctx_cert_clear(&old);
	return rc;
}

static tw_rc gc_trust_tx(struct gwa_ctx *ctx, struct store_ctx_trust *t, int64_t *id,
	struct tw_error *err)
{
	char what[48], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = store_ctx_trust_insert(ctx->store, t, id, err)) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "trust:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "trusted CA added: %.200s (fingerprint %s)", t->subject,
		t->fingerprint);
	return gc_audit(ctx, "context.trust-add", what, "ok", detail, err);
}

tw_rc gwa_ctx_trust_add(struct gwa_ctx *ctx, const unsigned char *in, size_t len,
	int64_t *id, struct tw_error *err)
{
	struct store_ctx_cert c;
	struct store_ctx_trust t;
	X509 *x = NULL;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	memset(&t, 0, sizeof(t));
	*id = 0;
	if ((rc = gc_parse(in, len, &x, err)) != TW_OK)
		goto out;
	if (X509_check_ca(x) < 1) {
		rc = tw_error_set(err, TW_E_INVALID, "not a CA certificate (basicConstraints cA): "
			"import an end-entity certificate with `context import` instead");
		goto out;
	}
	if ((rc = gc_fill(x, "ca", NULL, &c, err)) != TW_OK)
		goto out;
	t.tenant_id = ctx->tenant_id;
	memcpy(t.fingerprint, c.fingerprint, sizeof(t.fingerprint));
	memcpy(t.subject, c.subject, sizeof(t.subject));
	t.not_after = c.not_after;
	t.der = c.der;
	t.der_len = c.der_len;
	t.created_ms = tw_now_ms();
	GC_TX(ctx, err, gc_trust_tx(ctx, &t, id, err));
out:
	store_ctx_cert_clear(&c);   /* owns the DER t borrowed */
	X509_free(x);
	return rc;
}

static tw_rc gc_untrust_tx(struct gwa_ctx *ctx, int64_t id, struct tw_error *err)
{
	char what[48];
	tw_rc rc;

	if ((rc = store_ctx_trust_delete(ctx->store, ctx->tenant_id, id, err)) != TW_OK)
		return rc;
	snprintf(what, sizeof(what), "trust:%lld", (long long)id);
	return gc_audit(ctx, "context.trust-remove", what, "ok", "trusted CA removed", err);
}

tw_rc gwa_ctx_trust_remove(struct gwa_ctx *ctx, int64_t id, struct tw_error *err)
{
	tw_rc rc;

	GC_TX(ctx, err, gc_untrust_tx(ctx, id, err));
	return rc;
}

/* ---- validation ---- */

#define GC_SCHEDULE_MAX 256   /* contexts per scheduled run; the rest next time */
#define GC_FAILED_MAX 64      /* issuers remembered as unreachable per validation */

struct gc_val {
	struct gwa_ctx *ctx;
	X509_STORE *trust;
	struct trust_set *ts;           /* [trust] CAs + the context's: foreign CRLs */
	long crl_timeout_s;
	long crl_max;
	/* Issuers (name hashes) whose CRL could not be fetched in this run: not tried again
	 * for their next certificate, so an unreachable distribution point costs one
	 * time-out per validation, not one per certificate. */
	unsigned long failed[GC_FAILED_MAX];
	size_t nfailed;
	STACK_OF(X509_CRL) *crls;
	struct store_ctx_cert *items;
	size_t n, cap;
	bool nomem;
	int64_t now;
	size_t issued_expired;
};

static int gc_collect(const struct store_ctx_cert *c, void *arg)
{
	struct gc_val *v = arg;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 32;
		struct store_ctx_cert *p = realloc(v->items, cap * sizeof(*p));

		if (p == NULL) {
			v->nomem = true;
			return 1;
		}
		v->items = p;
		v->cap = cap;
	}
	v->items[v->n] = *c;
	/* take the DER over: the caller clears its copy */
	((struct store_ctx_cert *)c)->der = NULL;
	v->n++;
	return 0;
}

static int gc_add_trust(const struct store_ctx_trust *t, void *arg)
{
	struct gc_val *v = arg;
	const unsigned char *p = t->der;
	X509 *x = d2i_X509(NULL, &p, (long)t->der_len);

	struct tw_error e;

	if (x != NULL) {
		X509_STORE_add_cert(v->trust, x);
		/* Its CRL (when its certificates name one) is checked against it too. */
		if (v->ts != NULL && trust_set_add_ca(v->ts, x, &e) != TW_OK)
			tw_warn("context %s: trusted CA %lld: %s", v->ctx->name, (long long)t->id,
				e.message);
	}
	X509_free(x);
	return 0;
}

static int gc_issued_count(const struct store_ctx_issued *c, void *arg)
{
	struct gc_val *v = arg;

	if (strcmp(c->status, "valid") == 0 && c->not_after < v->now)
		v->issued_expired++;
	return 0;
}

/*
 * The SM-PKI CAs this home trusts besides its own ([trust] anchors and cas: the other
 * Sub-CAs, trust.h) for chains, and as the trust set whose CRLs decide the revocation
 * of their certificates. The context's trusted CAs join the set in gc_add_trust.
 */
static void gc_load_trust(struct gc_val *v)
{
	const struct tw_home *home = v->ctx->home;
	const char *keys[] = { "anchors", "cas" };
	STACK_OF(X509) *none = sk_X509_new_null();
	struct tw_error e;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *list = tw_config_get(home->conf, "trust", keys[k]);
		char *copy = list != NULL ? strdup(list) : NULL, *save = NULL, *tok;

		for (tok = copy != NULL ? strtok_r(copy, " \t,", &save) : NULL; tok != NULL;
		     tok = strtok_r(NULL, " \t,", &save)) {
			char *path = tok[0] == '/' ? strdup(tok) : tw_home_join(home, tok);

			if (path != NULL && tw_path_exists(path))
				X509_STORE_load_file(v->trust, path);
			free(path);
		}
		free(copy);
	}
	ERR_clear_error();
	if (trust_set_load(home, &v->ts, &e) != TW_OK) {
		tw_warn("context %s: %s; certificates of other CAs are judged \"unknown\"",
			v->ctx->name, e.message);
		v->ts = NULL;
	}
	if (v->ts == NULL && none != NULL && trust_set_new(none, NULL, &v->ts, &e) != TW_OK)
		v->ts = NULL;
	sk_X509_free(none);
	if (tw_config_get_long(home->conf, "context", "crl_timeout", 10, 1, 120,
	    &v->crl_timeout_s, &e) != TW_OK) {
		tw_warn("context: %s; 10 s used", e.message);
		v->crl_timeout_s = 10;
	}
	if (tw_config_get_long(home->conf, "trust", "crl_max_bytes", 16L * 1024 * 1024, 1024,
	    1024L * 1024 * 1024, &v->crl_max, &e) != TW_OK)
		v->crl_max = 16L * 1024 * 1024;
}

/* The SM-PKI anchors of this home and the CRLs it publishes. */
static void gc_load_home(struct gc_val *v)
{
	const struct tw_home *home = v->ctx->home;
	const char *files[] = { TW_HOME_ROOT_CERT, TW_HOME_CHAIN };
	char list[256], *save = NULL, *tok;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *path = tw_home_join(home, files[i]);

		if (path != NULL && tw_path_exists(path))
			X509_STORE_load_file(v->trust, path);
		free(path);
	}
	ERR_clear_error();
	gc_load_trust(v);
	snprintf(list, sizeof(list), "%s", tw_config_get_or(home->conf, "ca", "crl_cas",
		"sub-ca"));
	for (tok = strtok_r(list, " ,", &save); tok != NULL; tok = strtok_r(NULL, " ,", &save)) {
		struct pki_ca_config *cfg = NULL;
		struct tw_error e;
		char *path = NULL;
		BIO *b = NULL;
		X509_CRL *crl = NULL;

		if (pki_ca_config_load(home->conf, tok, &cfg, &e) == TW_OK &&
		    cfg->crl_publish_path != NULL &&
		    (path = tw_home_join(home, cfg->crl_publish_path)) != NULL &&
		    (b = BIO_new_file(path, "rb")) != NULL &&
		    (crl = d2i_X509_CRL_bio(b, NULL)) != NULL &&
		    sk_X509_CRL_push(v->crls, crl) > 0)
			crl = NULL;
		X509_CRL_free(crl);
		BIO_free(b);
		free(path);
		pki_ca_config_free(cfg);
	}
	ERR_clear_error();
}

/* status and detail of one foreign certificate. */
static void gc_judge(struct gc_val *v, X509 *x, const struct store_ctx_cert *c,
	const char **status, char *detail, size_t size)
{
	X509_STORE_CTX *sc;
	X509_CRL *home_crl = NULL;
	struct tw_error e;
	int ok = 0, verr = 0;
	tw_rc rc;

	if (c->not_after < v->now) {
		*status = "expired";
		snprintf(detail, size, "expired at %lld", (long long)c->not_after);
		return;
	}
	for (int i = 0; i < sk_X509_CRL_num(v->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(v->crls, i);
		X509_REVOKED *r = NULL;

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x)) != 0)
			continue;
		home_crl = crl;
		if (X509_CRL_get0_by_cert(crl, &r, x) == 1) {
			*status = "revoked";
			snprintf(detail, size, "revoked on the CRL of %.200s", c->issuer);
			return;
		}
	}
	if ((sc = X509_STORE_CTX_new()) != NULL && X509_STORE_CTX_init(sc, v->trust, x, NULL) == 1) {
		X509_STORE_CTX_set_flags(sc, X509_V_FLAG_PARTIAL_CHAIN);
		ok = X509_verify_cert(sc) == 1;
		verr = X509_STORE_CTX_get_error(sc);
	}
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	if (!ok) {
		*status = "untrusted";
		snprintf(detail, size, "no chain to the SM-PKI or a trusted CA of the context: %s",
			X509_verify_cert_error_string(verr));
		return;
	}
	if (home_crl != NULL) {
		int64_t next = 0;

		/* This home's own CRL: TR-03109-4 freshness holds for it as for any other. */
		if (gc_time(X509_CRL_get0_nextUpdate(home_crl), &next, &e) != TW_OK ||
		    next <= v->now) {
			*status = "unknown";
			snprintf(detail, size, "the CRL of %.200s this home publishes is past its "
				"nextUpdate: revocation unknown", c->issuer);
			return;
		}
		*status = "valid";
		snprintf(detail, size, "chain, validity and revocation (CRL of this home) checked");
		return;
	}
	/*
	 * Another Sub-CA's or a trusted CA's certificate: its issuer's current CRL decides,
	 * fetched now from the certificate's distribution point when none is cached or the
	 * cached one is stale. No current CRL: "unknown", never "valid".
	 */
	rc = v->ts != NULL ? trust_check(v->ctx->store, v->ts, x, v->now, &e) :
		tw_error_set(&e, TW_E_NOT_FOUND, "no trust set");
	if (rc == TW_E_UNAVAILABLE) {
		unsigned long h = X509_issuer_name_hash(x);
		struct tw_error fe;
		bool tried = false;

		for (size_t i = 0; i < v->nfailed && !tried; i++)
			tried = v->failed[i] == h;
		if (tried)
			snprintf(e.message, sizeof(e.message), "no current CRL of %.200s (its "
				"distribution point failed for another certificate in this run)",
				c->issuer);
		else if (trust_crl_refresh(v->ctx->store, v->ts, x, v->crl_timeout_s,
		    (size_t)v->crl_max, &fe) == TW_OK)
			rc = trust_check(v->ctx->store, v->ts, x, v->now, &e);
		else {
			snprintf(e.message, sizeof(e.message), "%s", fe.message);
			/* No distribution point is a property of this certificate, not its CA. */
			if (fe.code != TW_E_NOT_FOUND && v->nfailed < GC_FAILED_MAX)
				v->failed[v->nfailed++] = h;
		}
	}
	switch (rc) {
	case TW_OK:
		*status = "valid";
		snprintf(detail, size, "chain, validity and revocation (current CRL of %.200s) "
			"checked", c->issuer);
		break;
	case TW_E_DENIED:
		*status = "revoked";
		snprintf(detail, size, "%s", e.message);
		break;
	default:
		*status = "unknown";
		snprintf(detail, size, "revocation unknown: %s", e.message);
		break;
	}
}

tw_rc gwa_ctx_validate(struct gwa_ctx *ctx, struct gwa_ctx_summary *out,
	struct tw_error *err)
{
	struct gc_val v;
	struct { const char *status; char detail[STORE_TEXT_MAX + 1]; } *verdict = NULL;
	char summary[STORE_TEXT_MAX + 1];
	int64_t now_ms = tw_now_ms();
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	v.ctx = ctx;
	v.now = now_ms / 1000;
	if ((v.trust = X509_STORE_new()) == NULL || (v.crls = sk_X509_CRL_new_null()) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	gc_load_home(&v);
	if ((rc = store_ctx_trust_foreach(ctx->store, ctx->tenant_id, gc_add_trust, &v, err)) !=
	    TW_OK ||
	    (rc = store_ctx_cert_foreach(ctx->store, ctx->tenant_id, NULL, true, gc_collect, &v,
		err)) != TW_OK ||
	    (rc = store_ctx_issued_foreach(ctx->store, ctx->tenant_id, NULL, gc_issued_count, &v,
		err)) != TW_OK)
		goto out;
	if (v.nomem) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * Judge first, outside the transaction: a CRL may have to be fetched over the network
	 * (gc_judge), and no store transaction is held open across that.
	 */
	if ((verdict = calloc(v.n ? v.n : 1, sizeof(*verdict))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < v.n; i++) {
		struct store_ctx_cert *c = &v.items[i];
		const unsigned char *p = c->der;
		X509 *x = d2i_X509(NULL, &p, (long)c->der_len);

		verdict[i].status = "untrusted";
		snprintf(verdict[i].detail, sizeof(verdict[i].detail), "the stored certificate "
			"does not decode");
		if (x != NULL)
			gc_judge(&v, x, c, &verdict[i].status, verdict[i].detail,
				sizeof(verdict[i].detail));
		X509_free(x);
	}
	if ((rc = store_begin(ctx->store, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < v.n && rc == TW_OK; i++) {
		struct store_ctx_cert *c = &v.items[i];
		const char *status = verdict[i].status;
		const char *detail = verdict[i].detail;

		out->checked++;
		out->valid += strcmp(status, "valid") == 0;
		out->expired += strcmp(status, "expired") == 0;
		out->revoked += strcmp(status, "revoked") == 0;
		out->untrusted += strcmp(status, "untrusted") == 0;
		out->unknown += strcmp(status, "unknown") == 0;
		rc = store_ctx_cert_set_status(ctx->store, ctx->tenant_id, c->id, status, detail,
			now_ms, err);
		/*
		 * Push: once, when a certificate turns expired or revoked, or its revocation
		 * turns unknown (no current CRL of its issuer: TR-03109-4 freshness).
		 */
		if (rc == TW_OK && strcmp(status, c->status) != 0 &&
		    (strcmp(status, "expired") == 0 || strcmp(status, "revoked") == 0 ||
		    strcmp(status, "unknown") == 0)) {
			char subject[STORE_ID_MAX * 2 + 32], msg[STORE_TEXT_MAX + 1];

			snprintf(subject, sizeof(subject), "context:%s cert:%lld", ctx->name,
				(long long)c->id);
			snprintf(msg, sizeof(msg), "certificate %s (%.120s%s%s) of context %s is %s: %s; "
				"replace it (torwart context replace)", c->label, c->subject,
				c->gateway_id[0] ? ", gateway " : "", c->gateway_id, ctx->name, status,
				detail);
			rc = alert_raise(ctx->store, ALERT_CONTEXT_CERT, NULL, subject, msg, err);
			out->alerts++;
			/*
			 * The context's own push addresses: [alert] webhook.context.<tenant> and
			 * mail.context.<tenant> get the alert as role "context.<tenant>" (the
			 * deliverer sends each role to its webhook and its mail recipients), so a
			 * GWA client hears about its own certificates only.
			 */
			if (rc == TW_OK && ctx->home != NULL) {
				char key[STORE_ID_MAX + 24], role[STORE_ID_MAX + 16];
				bool push;

				snprintf(key, sizeof(key), "webhook.context.%s", ctx->name);
				snprintf(role, sizeof(role), "context.%s", ctx->name);
				push = tw_config_get(ctx->home->conf, "alert", key) != NULL;
				snprintf(key, sizeof(key), "mail.context.%s", ctx->name);
				push = push || tw_config_get(ctx->home->conf, "alert", key) != NULL;
				if (push)
					rc = alert_raise(ctx->store, ALERT_CONTEXT_CERT, role, subject, msg,
						err);
			}
		}
	}
	if (rc == TW_OK) {
		snprintf(summary, sizeof(summary), "%zu foreign certificates checked: %zu valid, %zu "
			"expired, %zu revoked, %zu untrusted, %zu unknown, %zu alerts; SM-PKI certificates "
			"of the context past their end: %zu", out->checked, out->valid, out->expired,
			out->revoked, out->untrusted, out->unknown, out->alerts, v.issued_expired);
		rc = gc_audit(ctx, "context.validate", NULL, "ok", summary, err);
	}
	if (rc == TW_OK)
		rc = store_commit(ctx->store, err);
	if (rc != TW_OK)
		store_rollback(ctx->store);
out:
	for (size_t i = 0; i < v.n; i++)
		store_ctx_cert_clear(&v.items[i]);
	free(v.items);
	free(verdict);
	trust_set_free(v.ts);
	X509_STORE_free(v.trust);
	sk_X509_CRL_pop_free(v.crls, X509_CRL_free);
	return rc;
}

void gwa_ctx_validate_scheduled(const struct tw_home *home, struct tw_store *store,
	int64_t now_ms, int64_t *next_ms)
{
	char (*names)[STORE_ID_MAX + 1] = NULL;
	long every = 86400;
	struct tw_error e;
	size_t n = 0;

	if (now_ms < *next_ms)
		return;
	if (tw_config_get_long(home->conf, "context", "validate_interval", 86400, 0,
	    366L * 86400L, &every, &e) != TW_OK) {
		tw_warn("context: %s; scheduled validation off", e.message);
		every = 0;
	}
	if (every == 0) {
		*next_ms = INT64_MAX;
		return;
	}
	*next_ms = now_ms + (int64_t)every * 1000;
	if ((names = calloc(GC_SCHEDULE_MAX, sizeof(*names))) == NULL)
		return;
	if (store_ctx_tenants(store, names, GC_SCHEDULE_MAX, &n, &e) != TW_OK)
		tw_warn("context: scheduled validation: %s", e.message);
	for (size_t i = 0; i < n; i++) {
		struct gwa_ctx ctx;
		struct gwa_ctx_summary s;

		if (gwa_ctx_open(&ctx, home, store, names[i], &e) != TW_OK) {
			tw_warn("context %s: %s", names[i], e.message);
			continue;
		}
		ctx.actor = "system:worker";
		ctx.role = "service";
		ctx.client = "worker";
		if (gwa_ctx_validate(&ctx, &s, &e) != TW_OK)
			tw_warn("context %s: scheduled validation failed: %s", names[i], e.message);
	}
	free(names);
}
