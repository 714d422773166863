/*
 * result.h: the return codes of the BSI Sub-CA web service (TR-03129-4 v1.3.1,
 * ../shared/reference/sm-pki/WSDL_TR-03129-4_v1.3.1_Smartmeter.wsdl), as one enum.
 *
 * Every rejection of a certificate request maps to exactly one of these codes (plus a
 * human-readable message in struct tw_error), so the SOAP service, the CLI and the RA
 * answer with the same vocabulary. The names are the WSDL's enumeration values, spelled
 * exactly as there (including "failure_messageID_unknown").
 */
#ifndef TORWART_PKI_RESULT_H
#define TORWART_PKI_RESULT_H

#include <stdbool.h>

#include "base/error.h"

enum pki_result {
	PKI_OK_SYNTAX = 0,                                 /* "ok_syntax" */
	PKI_OK_CERT_AVAILABLE,                             /* "ok_cert_available" */
	PKI_OK_RECEIVED_CORRECTLY,                         /* "ok_received_correctly" */
	PKI_FAILURE_SYNTAX,                                /* "failure_syntax" */
	PKI_FAILURE_INCORRECT_REQUEST,                     /* "failure_incorrect_request" */
	PKI_FAILURE_SYNCHRONOUS_PROCESSING_NOT_POSSIBLE,   /* "failure_synchronous_processing_not_possible" */
	PKI_FAILURE_REQUEST_NOT_ACCEPTED,                  /* "failure_request_not_accepted" */
	PKI_FAILURE_UNAUTHORIZED_REQUEST,                  /* "failure_unauthorized_request" */
	PKI_FAILURE_OTHER_ERROR,                           /* "failure_other_error" */
	PKI_FAILURE_INTERNAL_ERROR,                        /* "failure_internal_error" */
	PKI_FAILURE_INNER_SIGNATURE,                       /* "failure_inner_signature" */
	PKI_FAILURE_OUTER_SIGNATURE,                       /* "failure_outer_signature" */
	PKI_FAILURE_AUTHORIZATION_SIGNATURE,               /* "failure_authorization_signature" */
	PKI_FAILURE_DOMAIN_PARAMETERS,                     /* "failure_domain_parameters" */
	PKI_FAILURE_CERT_NOT_AVAILABLE,                    /* "failure_cert_not_available" */
	PKI_FAILURE_MESSAGEID_UNKNOWN,                     /* "failure_messageID_unknown" */
	PKI_RESULT__COUNT
};

/* The WSDL spelling of r (static storage), or NULL for a value outside the enum. */
const char *pki_result_name(enum pki_result r);
/* Exact (case-sensitive) WSDL name -> code. TW_E_INVALID for an unknown name. */
tw_rc pki_result_parse(const char *name, enum pki_result *out, struct tw_error *err);
/* True for the ok_* codes. */
bool pki_result_is_ok(enum pki_result r);
/*
 * The tw_rc a failure result corresponds to, for callers that must return one:
 * ok_* -> TW_OK, internal_error -> TW_E_INTERNAL, syntax -> TW_E_INVALID, signature
 * failures -> TW_E_CRYPTO, not_accepted/unauthorized -> TW_E_DENIED, others TW_E_INVALID.
 */
tw_rc pki_result_rc(enum pki_result r);

#endif
