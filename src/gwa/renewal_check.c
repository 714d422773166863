/*
 * renewal_check.c: the GWA's checks of a renewal request that a gateway sent over the
 * WAN (renewal.h, UC-3.3.3, T-SZ.5 "keys installed in the wrong place"). Pure: no store,
 * no signer, so it can be fuzzed (tests/fuzz/fuzz_renewal_request.c) and every refusal
 * has exactly one WSDL code. The bytes are parsed by pki/request.c (the CA's own parser);
 * this file adds what only the GWA knows: which gateway is talking and which SIG
 * certificate is its current one.
 */
#include "gwa/renewal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>

struct rc_ctx {
	X509 *current_sig;
};

/* The outer signature must be made with the gateway's *current* SIG key. */
static tw_rc rc_check_signer(void *ctx, enum request_signer_role role, X509 *cert,
	const struct request *req, struct tw_error *err)
{
	const struct rc_ctx *c = ctx;

	(void)req;
	if (role != REQUEST_SIGNER_OUTER)
		return tw_error_set(err, TW_E_DENIED, "a gateway's request must not carry an "
			"authorisation signature (the GWA adds it)");
	if (c->current_sig == NULL || X509_cmp(cert, c->current_sig) != 0)
		return tw_error_set(err, TW_E_DENIED, "the outer signature was not made with the "
			"gateway's current SIG certificate");
	return TW_OK;
}

/* The first value of nid in name equals want (UTF-8 comparison). */
static bool rc_name_is(const X509_NAME *name, int nid, const char *want)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	unsigned char *utf8 = NULL;
	bool same;
	int n;

	if (i < 0)
		return false;
	/* A second value of the same attribute would make "the" subject ambiguous. */
	if (X509_NAME_get_index_by_NID(name, nid, i) >= 0)
		return false;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
	if (n < 0)
		return false;
	same = (size_t)n == strlen(want) && memcmp(utf8, want, (size_t)n) == 0;
	OPENSSL_free(utf8);
	return same;
}

tw_rc renewal_check_request(const unsigned char *in, size_t len, const char *gateway_id,
	X509 *current_sig, struct request **out, enum pki_result *result, struct tw_error *err)
{
	struct rc_ctx ctx = { .current_sig = current_sig };
	struct request_verify_opts opts = {
		.trust = NULL, .check_signer = rc_check_signer, .check_ctx = &ctx,
		.auth = REQUEST_AUTH_FORBIDDEN,
	};
	struct request *req = NULL;
	tw_rc rc;

	*out = NULL;
	*result = PKI_FAILURE_INTERNAL_ERROR;
	if (gateway_id == NULL || current_sig == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "renewal check without gateway or SIG "
			"certificate");
	if ((rc = request_parse(in, len, &opts, &req, result, err)) != TW_OK)
		return rc;
	if (req->kind != REQUEST_KIND_RENEWAL) {
		*result = PKI_FAILURE_INCORRECT_REQUEST;
		rc = tw_error_set(err, TW_E_INVALID, "a gateway renews with a renewal request "
			"(bsiCertReqMsgsWithOuterSig), not an initial one");
		goto out;
	}
	if (req->outer_signer == NULL || !req->signers_checked) {
		*result = PKI_FAILURE_OUTER_SIGNATURE;
		rc = tw_error_set(err, TW_E_CRYPTO, "the renewal's outer signature was not checked");
		goto out;
	}
	if (req->n_entries != 3 || request_find(req, PKI_USAGE_TLS) == NULL ||
	    request_find(req, PKI_USAGE_SIG) == NULL || request_find(req, PKI_USAGE_ENC) == NULL) {
		*result = PKI_FAILURE_INCORRECT_REQUEST;
		rc = tw_error_set(err, TW_E_INVALID, "a gateway renewal must request TLS, SIG and "
			"ENC certificates together (it has %zu entries)", req->n_entries);
		goto out;
	}
	for (size_t i = 0; i < req->n_entries; i++) {
		const X509_NAME *n = req->entries[i].subject;

		if (!rc_name_is(n, NID_commonName, gateway_id) ||
		    !rc_name_is(n, NID_serialNumber, gateway_id)) {
			*result = PKI_FAILURE_UNAUTHORIZED_REQUEST;
			rc = tw_error_set(err, TW_E_DENIED, "%s entry: the subject does not name "
				"gateway %s (CN and serialNumber must be its id)",
				pki_usage_name(req->entries[i].usage), gateway_id);
			goto out;
		}
	}
	*result = PKI_OK_SYNTAX;
	*out = req;
	req = NULL;
out:
	request_free(req);
	return rc;
}
