/*
 * renewal_crl.c: CRL distribution to gateways (issue 12, UC-3.3.3 "fetch and apply CRLs",
 * T-SZ.7-9): the order type "crl-update" carries the current CRLs of the SM-PKI CAs to a
 * gateway, which checks each against its trust (issuer in its chain, signature, not
 * older than the one it has) and applies them; its result names the CRL numbers it now
 * holds, which must be the ones sent. `torwart gateway crl-push` reads the published
 * CRLs of the home ([ca] crl_cas) and orders them to one gateway or a fleet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "gwa/profile.h"
#include "gwa/renewal.h"
#include "pki/request.h"

#define CRL_UPDATE_MAX 4                      /* CRLs per order */
#define CRL_UPDATE_B64_MAX (40 * 1024)        /* all together, base64 (payload <= 48 KiB) */

/* The CRL number of a base64 CRL, or -1 when it is none. */
static long long crl_number_of(const char *b64)
{
	unsigned char *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	X509_CRL *crl;
	ASN1_INTEGER *num;
	struct tw_error e;
	long long n = -1;

	if (request_decode((const unsigned char *)b64, strlen(b64), &der, &len, &e) != TW_OK)
		return -1;
	p = der;
	if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL && p == der + len &&
	    (num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) != NULL) {
		int64_t v;

		if (ASN1_INTEGER_get_int64(&v, num) == 1 && v >= 0)
			n = (long long)v;
		ASN1_INTEGER_free(num);
	}
	X509_CRL_free(crl);
	free(der);
	return n;
}

static tw_rc crl_validate(const struct order_ctx *ctx, struct tw_error *err)
{
	const json_t *crls = json_object_get(ctx->payload, "crls");
	size_t total = 0, i;
	json_t *v;

	if (json_object_size(ctx->payload) != 1 || !json_is_array(crls) ||
	    json_array_size(crls) == 0 || json_array_size(crls) > CRL_UPDATE_MAX)
		return tw_error_set(err, TW_E_INVALID, "crl-update payload: {\"crls\": [1..%d "
			"base64 DER CRLs]} (`torwart gateway crl-push` builds it)", CRL_UPDATE_MAX);
	json_array_foreach(crls, i, v) {
		if (!json_is_string(v) || crl_number_of(json_string_value(v)) < 0)
			return tw_error_set(err, TW_E_INVALID, "crl-update payload: entry %zu is not "
				"a CRL with a CRL number", i);
		total += json_string_length(v);
	}
	if (total > CRL_UPDATE_B64_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "crl-update payload: the CRLs exceed %d "
			"bytes (base64); a larger CRL needs a download order, not yet available",
			CRL_UPDATE_B64_MAX);
	return TW_OK;
}

static tw_rc crl_wire(const struct order_ctx *ctx, json_t **wire, struct tw_error *err)
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

/*
 * The partner-revoked alert's message (at most STORE_TEXT_MAX bytes, the alert queue's):
 * the gateway, its profiles with the revoked serials as far as they fit ("and N more"
 * after that), and the remedy, which always fits.
 */
static void crl_partners_alert_text(const char *gateway_id, const json_t *list, char *out,
	size_t size)
{
	char remedy[384];
	size_t i, used, room, shown = 0;
	json_t *v;

	snprintf(remedy, sizeof(remedy), "; the gateway keeps them until they carry the "
		"partner's new certificate: torwart profile reput --emt MPID --gateway %s --apply "
		"(MPID: the partner EMT's market partner id; docs/profiles.md)", gateway_id);
	used = (size_t)snprintf(out, size, "gateway %s holds %zu profile%s whose partner "
		"certificate the new CRLs revoke:", gateway_id, json_array_size(list),
		json_array_size(list) == 1 ? "" : "s");
	/* Room for the list: the remedy and an " and NNN more" stay free. */
	room = size > used + strlen(remedy) + 24 ? size - strlen(remedy) - 24 : used;
	json_array_foreach(list, i, v) {
		char one[160];
		int n = snprintf(one, sizeof(one), "%s %s (serial %s)", i > 0 ? "," : "",
			json_string_value(json_object_get(v, "profile_id")),
			json_string_value(json_object_get(v, "serial")));

		if (n < 0 || (size_t)n >= sizeof(one) || used + (size_t)n >= room)
			break;
		memcpy(out + used, one, (size_t)n + 1);
		used += (size_t)n;
		shown++;
	}
	if (shown < json_array_size(list) && used < size)
		used += (size_t)snprintf(out + used, size - used, " and %zu more",
			json_array_size(list) - shown);
	if (used < size)
		snprintf(out + used, size - used, "%s", remedy);
}

/*
 * "revoked_partners" (optional): the profiles the gateway holds whose partner certificate
 * the new CRLs revoke, [{"profile_id", "serial"}, ...]. Recorded in the admin log (and
 * the job's result), and alerted to the gateway operators (alert partner-revoked, in the
 * same transaction): until `profile reput` replaces them the gateway keeps the revoked
 * certificate in profiles it holds.
 */
static tw_rc crl_partners(const struct order_ctx *ctx, const json_t *list,
	struct tw_error *err)
{
	char detail[STORE_TEXT_MAX + 1], actor[STORE_ID_MAX + 16], msg[STORE_TEXT_MAX + 1];
	struct audit_entry e;
	size_t i, used = 0;
	json_t *v;
	tw_rc rc;

	if (list == NULL)
		return TW_OK;
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > PROFILE_SET_MAX)
		return tw_error_set(err, TW_E_PROTOCOL, "crl-update result: \"revoked_partners\" "
			"must list 1..%d profiles", PROFILE_SET_MAX);
	used = (size_t)snprintf(detail, sizeof(detail), "profiles carrying a partner "
		"certificate the new CRLs revoke (`torwart profile reput` puts the new one):");
	json_array_foreach(list, i, v) {
		const char *pid = json_string_value(json_object_get(v, "profile_id"));
		const char *serial = json_string_value(json_object_get(v, "serial"));
		size_t n = serial != NULL ? strlen(serial) : 0;

		if (json_object_size(v) != 2 || !profile_id_valid(pid) || n == 0 || n > 64 ||
		    strspn(serial, "0123456789abcdefABCDEF") != n)
			return tw_error_set(err, TW_E_PROTOCOL, "crl-update result: \"revoked_partners\""
				"[%zu] must be {\"profile_id\", \"serial\" (hex)}", i);
		if (used < sizeof(detail))
			used += (size_t)snprintf(detail + used, sizeof(detail) - used, " %s (serial %s)",
				pid, serial);
	}
	snprintf(actor, sizeof(actor), "gateway:%s", ctx->gateway_id);
	e = (struct audit_entry){ .actor = actor, .role = "smgw", .client = "wan",
		.action = "crl.partner-revoked", .object = ctx->gateway_id, .result = "ok",
		.detail = detail, .error_code = "certificate_revoked" };
	if ((rc = audit_append_in_tx(ctx->store, &e, err)) != TW_OK)
		return rc;
	crl_partners_alert_text(ctx->gateway_id, list, msg, sizeof(msg));
	return alert_raise(ctx->store, ALERT_PARTNER_REVOKED, NULL, ctx->gateway_id, msg, err);
}

/* The gateway must report every CRL number we sent (it applied all of them). */
static tw_rc crl_result(const struct order_ctx *ctx, const json_t *result,
	struct tw_error *err)
{
	const json_t *gw = json_object_get(result, "gateway_id");
	const json_t *applied = json_object_get(result, "applied");
	const json_t *crls = json_object_get(ctx->payload, "crls");
	size_t i;
	json_t *v;

	if (!json_is_string(gw) || strcmp(json_string_value(gw), ctx->gateway_id) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "crl-update result names another gateway");
	if (!json_is_array(applied) || json_array_size(applied) != json_array_size(crls))
		return tw_error_set(err, TW_E_PROTOCOL, "crl-update result: \"applied\" must list "
			"the number of every CRL sent");
	json_array_foreach(crls, i, v) {
		const json_t *a = json_array_get(applied, i);

		if (!json_is_integer(a) ||
		    json_integer_value(a) != crl_number_of(json_string_value(v)))
			return tw_error_set(err, TW_E_PROTOCOL, "crl-update result: CRL %zu was not "
				"applied (the gateway holds another number)", i);
	}
	return crl_partners(ctx, json_object_get(result, "revoked_partners"), err);
}

const struct order_type order_type_crl_update = {
	.name = "crl-update",
	.summary = "give the gateway the current CRLs of the SM-PKI CAs (`torwart gateway "
		"crl-push`)",
	.timeout_s = 0,
	.max_attempts = 0,
	.validate = crl_validate,
	.to_wire = crl_wire,
	.on_result = crl_result,
	.on_error = NULL,
};
