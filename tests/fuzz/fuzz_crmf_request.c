/*
 * fuzz_crmf_request.c: libFuzzer target over the SM-PKI request parser (request.c,
 * request_codec.c): transport decoding (DER/PEM/base64), the BSI wrappers, the CMS
 * layers (renewal outer signature, GWA authorisation) and CRMF CertReqMessages with
 * their proofs of possession. These are the bytes a Sub-CA receives from outside.
 *
 * Whatever is accepted must be accepted again with the same replay digest (the parser
 * keeps no hidden state), and every rejection must name exactly one WSDL code.
 *
 * Seeds: tests/fuzz/seeds/fuzz_crmf_request (generated with `torwart req`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request_verify_opts smgw = { .auth = REQUEST_AUTH_REQUIRED };
	struct request *req = NULL;
	struct request *again = NULL;
	enum pki_result result;
	struct tw_error err;
	tw_rc rc;

	rc = request_parse(data, size, NULL, &req, &result, &err);
	if ((rc == TW_OK) != (req != NULL) || (rc == TW_OK) != (result == PKI_OK_SYNTAX) ||
	    pki_result_name(result) == NULL)
		abort();
	if (req != NULL) {
		if (request_parse(data, size, NULL, &again, &result, &err) != TW_OK ||
		    memcmp(again->digest, req->digest, sizeof(req->digest)) != 0 ||
		    again->n_entries != req->n_entries)
			abort();
		request_free(again);
	}
	request_free(req);
	req = NULL;
	rc = request_parse(data, size, &smgw, &req, &result, &err);
	if ((rc == TW_OK) != (req != NULL))
		abort();
	request_free(req);
	return 0;
}
