/*
 * ca_validate.c: the checks of one certificate request before anything is issued or
 * queued (ca_internal.h), in two halves:
 *
 *   ca_validate_parse   decode, parse, every proof of possession and the CMS signatures,
 *                       the signer certificates' chains to our CA. No store, no audit, no
 *                       shared mutable state: safe on any thread, so `ca issue` runs it
 *                       on worker threads ahead of the store and the signer (ca_batch.c).
 *   ca_validate_finish  what needs the store, on the store's thread: the named
 *                       participant, the status of the renewal's and the authorisation's
 *                       signer certificates, the caller binding, the registration match,
 *                       the replay check, and the audited refusal of every rejection
 *                       (also of those the first half found).
 *
 * ca_validate runs both, one after the other; a request takes the same checks either
 * way. One order differs from request_parse with the full options: a named SMGW's
 * request that lacks the authorisation layer AND carries a renewal signer certificate
 * that does not chain to the CA is refused for the chain (found by the first half), not
 * for the missing authorisation; each is a refusal with its own WSDL code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "pki/ca.h"
#include "pki/ca_internal.h"
#include "pki/request.h"
#include "store/store_ws.h"

/* The first value of attribute nid in name, as UTF-8 (caller frees), or NULL. */
static char *ca_name_attr(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	char *copy;
	int n;

	if (i < 0)
		return NULL;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		return NULL;
	copy = malloc((size_t)n + 1);
	if (copy != NULL) {
		memcpy(copy, utf8, (size_t)n);
		copy[n] = '\0';
	}
	OPENSSL_free(utf8);
	return copy;
}

static int ca_find_by_cn(const struct store_ca_participant *p, void *arg)
{
	struct ca_run *r = arg;
	const char *cn = r->want_part;

	if (strcmp(p->common_name, cn) == 0) {
		r->part = *p;
		r->have_part = true;
		return 1;
	}
	return 0;
}

/* Resolve the participant (named, or by the request's CN) into r->part. */
static tw_rc ca_resolve_participant(struct ca_run *r, const struct request *req,
	struct tw_error *err)
{
	const char *named = r->want_part;
	char *cn = NULL;
	tw_rc rc;

	if (r->have_part)
		return TW_OK;
	if (named != NULL) {
		rc = store_ca_participant_get(r->store, named, &r->part, err);
		r->have_part = rc == TW_OK;
		return rc;
	}
	if (req->n_entries == 0 ||
	    (cn = ca_name_attr(req->entries[0].subject, NID_commonName)) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "the request's subject has no common name "
			"to find its participant by");
	r->want_part = cn;
	rc = store_ca_participant_foreach(r->store, ca_find_by_cn, r, err);
	r->want_part = NULL;
	if (rc == TW_OK && !r->have_part)
		rc = tw_error_set(err, TW_E_NOT_FOUND, "no participant is registered with the "
			"common name '%s' (register it with `torwart ca register`)", cn);
	free(cn);
	return rc;
}

/* request.h's hook: renewal and authorisation signers must be ours, valid, unrevoked. */
static tw_rc ca_check_signer(void *ctx, enum request_signer_role role, X509 *cert,
	const struct request *req, struct tw_error *err)
{
	struct ca_run *r = ctx;
	struct store_certificate row;
	char fp[65], issuer[STORE_TEXT_MAX + 1];
	int64_t now = tw_now_ms() / 1000;
	const char *what = role == REQUEST_SIGNER_OUTER ? "renewal (outer) signature" :
		"authorisation signature";
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	if ((rc = keys_cert_fingerprint(cert, fp, err)) != TW_OK)
		goto out;
	rc = store_certificate_get_by_fingerprint(r->store, fp, &row, err);
	if (rc == TW_E_NOT_FOUND) {
		rc = tw_error_set(err, TW_E_DENIED, "the certificate of the %s was not issued by "
			"this CA", what);
		goto out;
	}
	if (rc != TW_OK)
		goto out;
	if ((rc = ca_name_text(X509_get_issuer_name(cert), issuer, sizeof(issuer), err)) != TW_OK)
		goto out;
	if (strcmp(issuer, r->issuer) != 0 || strcmp(row.usage, "SIG") != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "the %s was not made with a SIG certificate of "
			"this CA", what);
	} else if (strcmp(row.status, "valid") != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "the certificate of the %s (serial %s) is %s",
			what, row.serial_hex, row.status);
	} else if (row.not_after < now || row.not_before > now) {
		rc = tw_error_set(err, TW_E_DENIED, "the certificate of the %s (serial %s) is not "
			"within its validity period", what, row.serial_hex);
	} else if (role == REQUEST_SIGNER_AUTHORISATION) {
		if (strcmp(row.owner_kind, "gwa") != 0)
			rc = tw_error_set(err, TW_E_DENIED, "the authorisation signature was made by "
				"a %s certificate, not by a GWA", row.owner_kind);
		else
			snprintf(r->authoriser_owner, sizeof(r->authoriser_owner), "%s", row.owner_id);
	} else if ((rc = ca_resolve_participant(r, req, err)) == TW_OK &&
		   strcmp(row.owner_id, r->part.name) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "the renewal is signed with a certificate of "
			"'%s', not of the requesting participant '%s'", row.owner_id, r->part.name);
	}
out:
	store_certificate_clear(&row);
	return rc;
}

/* Every entry's subject must be the registered one (S-3). */
static tw_rc ca_match(struct ca_run *r, const struct request *req, struct tw_error *err)
{
	const struct store_ca_participant *p = &r->part;
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < req->n_entries && rc == TW_OK; i++) {
		const X509_NAME *n = req->entries[i].subject;
		char *cn = ca_name_attr(n, NID_commonName);
		char *ou = ca_name_attr(n, NID_organizationalUnitName);
		char *sn = ca_name_attr(n, NID_serialNumber);

		if (cn == NULL || strcmp(cn, p->common_name) != 0)
			rc = tw_error_set(err, TW_E_DENIED, "%s request: common name '%s' is not the "
				"registered '%s' of participant '%s'",
				pki_usage_name(req->entries[i].usage), cn ? cn : "", p->common_name,
				p->name);
		else if (ou == NULL || strcmp(ou, p->market_partner_id) != 0)
			rc = tw_error_set(err, TW_E_DENIED, "%s request: organisational unit '%s' is "
				"not the registered market partner id '%s'",
				pki_usage_name(req->entries[i].usage), ou ? ou : "", p->market_partner_id);
		else if (p->device_serial[0] != '\0' && (sn == NULL ||
			 strcmp(sn, p->device_serial) != 0))
			rc = tw_error_set(err, TW_E_DENIED, "%s request: serialNumber '%s' is not the "
				"pre-registered '%s'", pki_usage_name(req->entries[i].usage),
				sn ? sn : "", p->device_serial);
		free(cn);
		free(ou);
		free(sn);
	}
	return rc;
}

void ca_parsed_clear(struct ca_parsed *p)
{
	request_free(p->req);
	free(p->der);
	memset(p, 0, sizeof(*p));
}

void ca_validate_parse(X509_STORE *trust, const unsigned char *in, size_t len, bool want_der,
	struct ca_parsed *out)
{
	/*
	 * No check_signer and no authorisation policy here: both need the participant and
	 * the store, and ca_validate_finish applies them (request_check_signers). The chains
	 * of the signer certificates are checked here, against the read-only trust store.
	 */
	struct request_verify_opts opts = { .trust = trust, .auth = REQUEST_AUTH_OPTIONAL };

	memset(out, 0, sizeof(*out));
	tw_error_clear(&out->err);
	out->rc = request_parse(in, len, &opts, &out->req, &out->result, &out->err);
	if (out->rc == TW_OK && want_der &&
	    (out->rc = request_decode(in, len, &out->der, &out->der_len, &out->err)) != TW_OK) {
		/* request_parse decoded the same bytes: only memory can fail here. */
		out->result = PKI_FAILURE_INTERNAL_ERROR;
		request_free(out->req);
		out->req = NULL;
	}
}

/*
 * The store half of the checks of one request, parsed by ca_validate_parse. On failure
 * *result is the WSDL code and the refusal is audited. *out is the caller's (taken from
 * parsed->req).
 */
tw_rc ca_validate_finish(struct ca_run *r, const char *object, struct ca_parsed *parsed,
	bool check_replay, struct request **out, char digest_hex[65], enum pki_result *result,
	struct tw_error *err)
{
	struct request_verify_opts opts = {
		.trust = r->trust, .check_signer = ca_check_signer, .check_ctx = r,
		.auth = REQUEST_AUTH_OPTIONAL,
	};
	struct request *req = NULL;
	bool known = false;
	tw_rc rc;

	*out = NULL;
	r->have_part = false;
	r->authoriser_owner[0] = '\0';
	/* A named SMGW participant must bring its GWA's authorisation (WSDL code exists). */
	if (r->want_part != NULL) {
		rc = store_ca_participant_get(r->store, r->want_part, &r->part, err);
		if (rc != TW_OK) {
			*result = rc == TW_E_NOT_FOUND ? PKI_FAILURE_UNAUTHORIZED_REQUEST :
				PKI_FAILURE_INTERNAL_ERROR;
			return ca_refuse(r, object, *result, rc == TW_E_NOT_FOUND ? TW_E_DENIED : rc,
				err);
		}
		r->have_part = true;
		if (strcmp(r->part.role, "smgw") == 0)
			opts.auth = REQUEST_AUTH_REQUIRED;
	}
	if (parsed->rc != TW_OK) {
		*result = parsed->result;
		*err = parsed->err;
		return ca_refuse(r, object, *result, parsed->rc, err);
	}
	req = parsed->req;
	parsed->req = NULL;
	if ((rc = request_check_signers(req, &opts, result, err)) != TW_OK) {
		rc = ca_refuse(r, object, *result, rc, err);
		goto out;
	}
	if ((rc = ca_resolve_participant(r, req, err)) != TW_OK) {
		*result = rc == TW_E_NOT_FOUND ? PKI_FAILURE_UNAUTHORIZED_REQUEST :
			PKI_FAILURE_INTERNAL_ERROR;
		rc = ca_refuse(r, object, *result, rc == TW_E_NOT_FOUND ? TW_E_DENIED : rc, err);
		goto out;
	}
	if (r->caller != NULL && strcmp(r->part.name, r->caller) != 0 &&
	    (strcmp(r->part.role, "smgw") != 0 || strcmp(r->authoriser_owner, r->caller) != 0)) {
		*result = PKI_FAILURE_UNAUTHORIZED_REQUEST;
		rc = tw_error_set(err, TW_E_DENIED, "the request is for participant '%s': '%s' may "
			"request its own certificates and those of the gateways it authorises, "
			"nothing else", r->part.name, r->caller);
		rc = ca_refuse(r, object, *result, rc, err);
		goto out;
	}
	/*
	 * Web service: a gateway with a recorded administering GWA (store_ws.h, set by the
	 * first such request and by UpdateDeviceAdmin) gets certificates through that GWA
	 * only; a GWA it was handed away from may no longer authorise its requests.
	 */
	if (r->caller != NULL && strcmp(r->part.role, "smgw") == 0) {
		char admin[STORE_ID_MAX + 1];
		struct tw_error aerr;
		tw_rc a = store_ws_device_admin_get(r->store, r->part.name, admin, sizeof(admin),
			&aerr);

		if (a != TW_E_NOT_FOUND && (a != TW_OK || strcmp(admin, r->caller) != 0)) {
			*result = a == TW_OK ? PKI_FAILURE_UNAUTHORIZED_REQUEST :
				PKI_FAILURE_INTERNAL_ERROR;
			rc = a == TW_OK ? tw_error_set(err, TW_E_DENIED, "gateway '%s' is "
				"administered by another GWA (UpdateDeviceAdmin)", r->part.name) :
				tw_error_set(err, a, "%s", aerr.message);
			rc = ca_refuse(r, object, *result, rc, err);
			goto out;
		}
	}
	if (strcmp(r->part.role, "smgw") == 0 && req->authoriser == NULL) {
		*result = PKI_FAILURE_AUTHORIZATION_SIGNATURE;
		rc = tw_error_set(err, TW_E_CRYPTO, "participant '%s' is an SMGW: its requests need "
			"the authorisation signature of its GWA", r->part.name);
		rc = ca_refuse(r, object, *result, rc, err);
		goto out;
	}
	if ((rc = ca_match(r, req, err)) != TW_OK) {
		*result = r->caller_bound ? PKI_FAILURE_UNAUTHORIZED_REQUEST :
			PKI_FAILURE_INCORRECT_REQUEST;
		rc = ca_refuse(r, object, *result, rc, err);
		goto out;
	}
	tw_hex_encode(req->digest, sizeof(req->digest), digest_hex);
	if (check_replay &&
	    (rc = store_ca_request_digest_known(r->store, digest_hex, &known, err)) != TW_OK) {
		*result = PKI_FAILURE_INTERNAL_ERROR;
		goto out;
	}
	if (known) {
		*result = PKI_FAILURE_REQUEST_NOT_ACCEPTED;
		rc = tw_error_set(err, TW_E_DENIED, "this request (digest %.16s...) was received "
			"before; a replayed request is never processed twice", digest_hex);
		rc = ca_refuse(r, object, *result, rc, err);
		goto out;
	}
	*result = PKI_OK_SYNTAX;
	*out = req;
	req = NULL;
out:
	request_free(req);
	return rc;
}

tw_rc ca_validate(struct ca_run *r, const char *object, const unsigned char *in,
	size_t len, bool check_replay, struct request **out, char digest_hex[65],
	enum pki_result *result, struct tw_error *err)
{
	struct ca_parsed parsed;
	tw_rc rc;

	ca_validate_parse(r->trust, in, len, false, &parsed);
	rc = ca_validate_finish(r, object, &parsed, check_replay, out, digest_hex, result, err);
	ca_parsed_clear(&parsed);
	return rc;
}
