/*
 * gwa_cert_order.c: the order type "gwa-cert-update" (issue 12): after a rotation of the
 * GWA's SIG key (`torwart gwa renew --key sig`, gwa_renew_key.c) the gateways need the new
 * GWA SIG certificate, with which they verify wake-ups (UC-3.3.4) and which the factory
 * put next to their keys at `gateway add`. The order carries it over the authenticated
 * WAN session; the gateway installs it only when it chains to its own SM-PKI root and
 * names the same GWA as the one it has (a certificate of another GWA or of another PKI is
 * refused), and answers with the installed certificate's SHA-256 fingerprint.
 *
 * Payload: {"sig": "<base64 DER of the GWA SIG certificate>"}; wire: the same plus
 * "gateway_id"; result: {"gateway_id": ..., "fingerprint": "<hex SHA-256 of the DER>"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/util.h"
#include "gwa/gwa_renew.h"
#include "gwa/order.h"
#include "gwa/wakeup.h"
#include "pki/request.h"

#define GCO_B64_MAX (8 * 1024)   /* one certificate */

/* The payload's certificate; *der_hex the hex SHA-256 of its DER (may be NULL). */
static tw_rc gco_cert(const json_t *payload, X509 **out, char fp[65], struct tw_error *err)
{
	const json_t *sig = json_object_get(payload, "sig");
	unsigned char *der = NULL, md[32];
	const unsigned char *p;
	char id[WAKEUP_ID_MAX + 1];
	size_t len = 0;
	X509 *x = NULL;
	tw_rc rc;

	*out = NULL;
	if (!json_is_object(payload) || json_object_size(payload) != 1 || !json_is_string(sig) ||
	    json_string_length(sig) == 0 || json_string_length(sig) > GCO_B64_MAX)
		return tw_error_set(err, TW_E_INVALID, "gwa-cert-update payload: {\"sig\": base64 "
			"DER of the GWA SIG certificate (at most %d characters)}", GCO_B64_MAX);
	if ((rc = request_decode((const unsigned char *)json_string_value(sig),
	    json_string_length(sig), &der, &len, err)) != TW_OK)
		return rc;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "gwa-cert-update payload: \"sig\" is not one "
			"DER certificate");
		goto out;
	}
	/* Only a certificate that names a GWA the way wake-ups need it. */
	if ((rc = wakeup_cert_gwa_id(x, id, err)) != TW_OK)
		goto out;
	if (fp != NULL) {
		EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL);
		tw_hex_encode(md, sizeof(md), fp);
	}
	*out = x;
	x = NULL;
out:
	X509_free(x);
	free(der);
	return rc;
}

static tw_rc gco_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	X509 *x = NULL;
	tw_rc rc = gco_cert(ctx->payload, &x, NULL, err);

	X509_free(x);
	return rc;
}

static tw_rc gco_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
{
	*wire = json_deep_copy(ctx->payload);
	if (*wire == NULL || json_object_set_new(*wire, "gateway_id",
	    json_string(ctx->gateway_id)) != 0) {
		json_decref(*wire);
		*wire = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

/* The gateway must name itself and the certificate sent. */
static tw_rc gco_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *gw = json_object_get(result, "gateway_id");
	const json_t *fp = json_object_get(result, "fingerprint");
	char want[65];
	X509 *x = NULL;
	tw_rc rc;

	if (!json_is_string(gw) || strcmp(json_string_value(gw), ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "gwa-cert-update result names another "
			"gateway");
	if ((rc = gco_cert(ctx->payload, &x, want, err)) != TW_OK)
		return rc;
	X509_free(x);
	if (!json_is_string(fp) || strcmp(json_string_value(fp), want) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "gwa-cert-update result: the gateway "
			"installed another certificate than the one sent");
	return TW_OK;
}

const struct order_type order_type_gwa_cert_update = {
	.name = "gwa-cert-update",
	.summary = "give the gateway the GWA's new SIG certificate after `gwa renew --key sig` "
		"(payload {\"sig\": base64 DER})",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = gco_validate,
	.to_wire = gco_wire,
	.on_result = gco_result,
	.on_error = NULL,
};
