/*
 * renewal_orders.c: the two order types of certificate renewal (renewal.h, UC-3.3.3).
 *
 *   cert-request  the gateway makes new TLS/SIG/ENC key pairs and answers with a renewal
 *                 request (BSI bsiCertReqMsgsWithOuterSig, outer signature by its current
 *                 SIG key). on_result only stores the bytes (renewal -> received): the
 *                 checks, the GWA's authorisation signature and the issuance are the
 *                 worker's (renewal.c), so wan does no CA work and a refusal is recorded
 *                 on the renewal, with its WSDL code, not lost in a rolled-back job.
 *   cert-install  carries the issued certificates; the gateway installs them and names
 *                 the fingerprint of its new TLS certificate (renewal -> installed). The
 *                 inventory switches only when the gateway proves it by connecting with
 *                 the new certificate (renewal_proof).
 *
 * Both wire payloads name the gateway (T-SZ.5, like every recipient-bearing order) and
 * the renewal, so a gateway refuses an order meant for another one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "audit/audit.h"
#include "base/util.h"
#include "gwa/renewal_internal.h"

#define RENEWAL_RESULT_B64_MAX (REQUEST_MAX_BYTES * 4 / 3 + 4096)

int64_t renewal_payload_id(const json_t *payload)
{
	const json_t *id = json_object_get(payload, "renewal");

	return json_is_integer(id) && json_integer_value(id) > 0 ? json_integer_value(id) : 0;
}

static tw_rc ro_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	if (json_object_size(ctx->payload) != 1 || renewal_payload_id(ctx->payload) == 0)
		return tw_error_set(err, TW_E_INVALID, "%s payload: exactly {\"renewal\": ID}; "
			"start renewals with `torwart gateway renew`, not `job create`", ctx->type);
	return TW_OK;
}

/* The renewal of this job, which must belong to the job's gateway. */
static tw_rc ro_renewal(const struct order_ctx *ctx, struct store_renewal *r,
	struct tw_error *err)
{
	tw_rc rc = store_renewal_get(ctx->store, renewal_payload_id(ctx->payload), r, err);

	if (rc == TW_OK && strcmp(r->gateway_id, ctx->gateway_id) != 0) {
		store_renewal_clear(r);
		rc = tw_error_set(err, TW_E_PROTOCOL, "renewal of another gateway");
	}
	return rc;
}

static tw_rc ro_wire_base(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	*wire = json_pack("{s:s, s:I}", "gateway_id", ctx->gateway_id, "renewal",
		(json_int_t)renewal_payload_id(ctx->payload));
	return *wire != NULL ? TW_OK : tw_error_set(err, TW_E_NOMEM, "out of memory");
}

static const struct job_actor *ro_gateway_actor(const struct order_ctx *ctx, char *buf,
	size_t size, struct job_actor *who)
{
	snprintf(buf, size, "gateway:%s", ctx->gateway_id);
	*who = (struct job_actor){ .actor = buf, .role = "smgw", .client = "wan" };
	return who;
}

/* Only the listed members, each a string. */
static tw_rc ro_strings(const json_t *obj, const char *const *keys, const char *what,
	struct tw_error *err)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach((json_t *)obj, k, v) {
		bool known = false;

		for (size_t i = 0; keys[i] != NULL && !known; i++)
			known = strcmp(k, keys[i]) == 0;
		if (!known || !json_is_string(v))
			return tw_error_set(err, TW_E_PROTOCOL, "%s: unknown or non-string member "
				"\"%.40s\"", what, k);
		n++;
	}
	for (size_t i = 0; keys[i] != NULL; i++)
		if (json_object_get(obj, keys[i]) == NULL)
			return tw_error_set(err, TW_E_PROTOCOL, "%s: member \"%s\" is missing", what,
				keys[i]);
	(void)n;
	return TW_OK;
}

/* ---- cert-request ---- */

static tw_rc req_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	static const char *const keys[] = { "gateway_id", "request", NULL };
	struct store_renewal r;
	struct job_actor who;
	unsigned char *der = NULL;
	size_t der_len = 0;
	char actor[STORE_ID_MAX + 16], detail[96];
	const char *b64;
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	if ((rc = ro_strings(result, keys, "cert-request result", err)) != TW_OK)
		return rc;
	if (strcmp(json_string_value(json_object_get(result, "gateway_id")),
	    ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "cert-request result names another gateway");
	b64 = json_string_value(json_object_get(result, "request"));
	if (strlen(b64) > RENEWAL_RESULT_B64_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "cert-request result: the request is "
			"larger than %d bytes", REQUEST_MAX_BYTES);
	if ((rc = request_decode((const unsigned char *)b64, strlen(b64), &der, &der_len,
	    err)) != TW_OK)
		return rc;
	if ((rc = ro_renewal(ctx, &r, err)) != TW_OK)
		goto out;
	if (strcmp(r.state, "requesting") != 0) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "renewal %lld is %s, not waiting for a "
			"request", (long long)r.id, r.state);
		goto out;
	}
	free(r.request_der);
	r.request_der = der;
	r.request_len = der_len;
	der = NULL;
	snprintf(r.state, sizeof(r.state), "received");
	r.updated_ms = tw_now_ms();
	r.next_ms = 0;   /* the worker's next tick checks it */
	snprintf(detail, sizeof(detail), "renewal request of %zu bytes (job %lld)",
		r.request_len, (long long)ctx->job_id);
	if ((rc = store_renewal_update(ctx->store, &r, "requesting", err)) == TW_OK)
		rc = renewal_audit(ctx->store, ro_gateway_actor(ctx, actor, sizeof(actor), &who),
			"renewal.received", &r, "ok", NULL, detail, err);
out:
	free(der);
	store_renewal_clear(&r);
	return rc;
}

/* A gateway error ends the renewal: it keeps its old certificates. */
static tw_rc ro_error(const struct order_ctx *ctx, const char *code, const char *message,
	const char *from, struct tw_error *err)
{
	struct store_renewal r;
	struct job_actor who;
	char actor[STORE_ID_MAX + 16], msg[STORE_TEXT_MAX + 1];
	tw_rc rc;

	if ((rc = ro_renewal(ctx, &r, err)) != TW_OK)
		return rc == TW_E_NOT_FOUND ? TW_OK : rc;
	snprintf(msg, sizeof(msg), "%s order failed on the gateway: %s", ctx->type,
		message != NULL ? message : "");
	if (strcmp(r.state, from) == 0)
		rc = renewal_fail_in_tx(ctx->store, &r, from, code != NULL ? code : "failed", msg,
			ro_gateway_actor(ctx, actor, sizeof(actor), &who), err);
	store_renewal_clear(&r);
	return rc == TW_E_NOT_FOUND ? TW_OK : rc;
}

static tw_rc req_error(const struct order_ctx *ctx, const char *code, const char *message,
	struct tw_error *err)
{
	return ro_error(ctx, code, message, "requesting", err);
}

const struct order_type order_type_cert_request = {
	.name = "cert-request",
	.summary = "renewal: the gateway makes new TLS/SIG/ENC keys and a renewal request "
		"(started by `torwart gateway renew`)",
	.timeout_s = 300,
	.max_attempts = 5,
	.validate = ro_validate,
	.to_wire = ro_wire_base,
	.on_result = req_result,
	.on_error = req_error,
};

/* ---- cert-install ---- */

/* "USAGE:serial:fingerprint,..." -> PEM of each certificate into certs[usage]. */
static tw_rc inst_add_certs(struct tw_store *store, const char *list, json_t *certs,
	struct tw_error *err)
{
	char copy[STORE_TEXT_MAX + 1], *save = NULL, *item;
	tw_rc rc = TW_OK;

	snprintf(copy, sizeof(copy), "%s", list);
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == TW_OK;
	     item = strtok_r(NULL, ",", &save)) {
		char *usage = item, *c1 = strchr(item, ':'), *fp = c1 ? strchr(c1 + 1, ':') : NULL;
		struct store_certificate sc;
		const unsigned char *p;
		X509 *x = NULL;
		BIO *mem = NULL;
		char *pem;
		long n;

		if (fp == NULL)
			return tw_error_set(err, TW_E_INTEGRITY, "renewal certificate list is damaged");
		*c1 = '\0';
		fp++;
		memset(&sc, 0, sizeof(sc));
		if ((rc = store_certificate_get_by_fingerprint(store, fp, &sc, err)) != TW_OK)
			break;
		p = sc.der;
		if ((x = d2i_X509(NULL, &p, (long)sc.der_len)) == NULL ||
		    (mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(mem, x) != 1 ||
		    (n = BIO_get_mem_data(mem, &pem)) <= 0 ||
		    json_object_set_new(certs, usage, json_stringn(pem, (size_t)n)) != 0)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode certificate %.16s...",
				fp);
		BIO_free(mem);
		X509_free(x);
		store_certificate_clear(&sc);
	}
	return rc;
}

static tw_rc inst_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	struct store_renewal r;
	json_t *certs = json_object();
	tw_rc rc;

	*wire = NULL;
	if (certs == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = ro_renewal(ctx, &r, err)) != TW_OK) {
		json_decref(certs);
		return rc;
	}
	if ((rc = inst_add_certs(ctx->store, r.new_certs, certs, err)) == TW_OK &&
	    (rc = ro_wire_base(ctx, wire, err)) == TW_OK) {
		/* json_object_set_new takes the reference even when it fails. */
		if (json_object_set_new(*wire, "certificates", certs) != 0)
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		certs = NULL;
	}
	json_decref(certs);
	if (rc != TW_OK) {
		json_decref(*wire);
		*wire = NULL;
	}
	store_renewal_clear(&r);
	return rc;
}

static tw_rc inst_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	static const char *const keys[] = { "gateway_id", "tls_fingerprint", NULL };
	struct store_renewal r;
	struct job_actor who;
	char actor[STORE_ID_MAX + 16];
	tw_rc rc;

	if ((rc = ro_strings(result, keys, "cert-install result", err)) != TW_OK)
		return rc;
	if (strcmp(json_string_value(json_object_get(result, "gateway_id")),
	    ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "cert-install result names another gateway");
	if ((rc = ro_renewal(ctx, &r, err)) != TW_OK)
		return rc;
	if (strcmp(json_string_value(json_object_get(result, "tls_fingerprint")),
	    r.new_tls_fp) != 0) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "the gateway reports another TLS certificate "
			"than the one issued for renewal %lld", (long long)r.id);
	} else if (strcmp(r.state, "installing") == 0) {
		snprintf(r.state, sizeof(r.state), "installed");
		r.updated_ms = tw_now_ms();
		r.next_ms = r.updated_ms + RENEWAL_POLL_MS;
		if ((rc = store_renewal_update(ctx->store, &r, "installing", err)) == TW_OK)
			rc = renewal_audit(ctx->store, ro_gateway_actor(ctx, actor, sizeof(actor),
				&who), "renewal.installed", &r, "ok", NULL, "the gateway installed the "
				"new certificates; waiting for its connection with the new TLS "
				"certificate", err);
	}
	/* confirmed/completed already: the proof came first (a lost result re-delivered). */
	store_renewal_clear(&r);
	return rc;
}

static tw_rc inst_error(const struct order_ctx *ctx, const char *code, const char *message,
	struct tw_error *err)
{
	return ro_error(ctx, code, message, "installing", err);
}

const struct order_type order_type_cert_install = {
	.name = "cert-install",
	.summary = "renewal: install the issued certificates on the gateway (created by the "
		"renewal workflow)",
	.timeout_s = 300,
	.max_attempts = 5,
	.validate = ro_validate,
	.to_wire = inst_wire,
	.on_result = inst_result,
	.on_error = inst_error,
};
