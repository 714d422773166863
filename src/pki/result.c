/*
 * result.c: names of the TR-03129-4 web-service return codes (see result.h), spelled
 * exactly as in the WSDL so that SOAP answers, logs and the CLI agree.
 */
#include <string.h>

#include "pki/result.h"

/* Indexed by enum pki_result; the WSDL's enumeration values. */
static const char *const pki_result_names[PKI_RESULT__COUNT] = {
	[PKI_OK_SYNTAX] = "ok_syntax",
	[PKI_OK_CERT_AVAILABLE] = "ok_cert_available",
	[PKI_OK_RECEIVED_CORRECTLY] = "ok_received_correctly",
	[PKI_FAILURE_SYNTAX] = "failure_syntax",
	[PKI_FAILURE_INCORRECT_REQUEST] = "failure_incorrect_request",
	[PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE] =
		"failure_synchronous_processing_not_possible",
	[PKI_FAILURE_REQUEST_NOT_ACCEPTED] = "failure_request_not_accepted",
	[PKI_FAILURE_UNAUTHORIZED_REQUEST] = "failure_unauthorized_request",
	[PKI_FAILURE_OTHER_ERROR] = "failure_other_error",
	[PKI_FAILURE_INTERNAL_ERROR] = "failure_internal_error",
	[PKI_FAILURE_INNER_SIGNATURE] = "failure_inner_signature",
	[PKI_FAILURE_OUTER_SIGNATURE] = "failure_outer_signature",
	[PKI_FAILURE_AUTHORIZATION_SIGNATURE] = "failure_authorization_signature",
	[PKI_FAILURE_DOMAIN_PARAMETERS] = "failure_domain_parameters",
	[PKI_FAILURE_CERT_NOT_AVAILABLE] = "failure_cert_not_available",
	[PKI_FAILURE_MESSAGEID_UNKNOWN] = "failure_messageID_unknown",
};

const char *pki_result_name(enum pki_result r)
{
	if ((unsigned)r >= PKI_RESULT__COUNT)
		return NULL;
	return pki_result_names[r];
}

tw_rc pki_result_parse(const char *name, enum pki_result *out, struct tw_error *err)
{
	*out = PKI_FAILURE_OTHER_ERROR;
	if (name == NULL)
		return tw_error_set(err, TW_E_INVALID, "no return code given");
	for (int i = 0; i < PKI_RESULT__COUNT; i++) {
		if (strcmp(pki_result_names[i], name) == 0) {
			*out = (enum pki_result)i;
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID,
		"\"%.64s\" is not a TR-03129-4 return code (e.g. ok_cert_available, failure_syntax)",
		name);
}

bool pki_result_is_ok(enum pki_result r)
{
	return r == PKI_OK_SYNTAX || r == PKI_OK_CERT_AVAILABLE || r == PKI_OK_RECEIVED_CORRECTLY;
}

tw_rc pki_result_rc(enum pki_result r)
{
	switch (r) {
	case PKI_OK_SYNTAX:
	case PKI_OK_CERT_AVAILABLE:
	case PKI_OK_RECEIVED_CORRECTLY:
		return TW_OK;
	case PKI_FAILURE_INTERNAL_ERROR:
		return TW_E_INTERNAL;
	case PKI_FAILURE_INNER_SIGNATURE:
	case PKI_FAILURE_OUTER_SIGNATURE:
	case PKI_FAILURE_AUTHORIZATION_SIGNATURE:
		return TW_E_CRYPTO;
	case PKI_FAILURE_REQUEST_NOT_ACCEPTED:
	case PKI_FAILURE_UNAUTHORIZED_REQUEST:
		return TW_E_DENIED;
	case PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE:
		return TW_E_UNAVAILABLE;
	case PKI_FAILURE_CERT_NOT_AVAILABLE:
	case PKI_FAILURE_MESSAGEID_UNKNOWN:
		return TW_E_NOT_FOUND;
	default:
		return TW_E_INVALID;
	}
}
