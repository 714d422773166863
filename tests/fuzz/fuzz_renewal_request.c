/*
 * fuzz_renewal_request.c: libFuzzer target over the GWA's check of a renewal request a
 * gateway sent over the WAN (gwa/renewal_check.c, renewal_check_request): the bytes of a
 * cert-request result, decoded and parsed by the CA's request parser, then the GWA's own
 * rules (renewal kind, TLS+SIG+ENC, no authorisation layer, outer signature by the
 * gateway's current SIG certificate, subject = the gateway).
 *
 * The current SIG certificate is fixed below (a test gateway FUZZ-GW made with
 * `torwart gateway add`; a public certificate, no key), so the seed
 * tests/fuzz/seeds/fuzz_renewal_request/renewal-fuzz-gw.der (made with `torwart req renew
 * --cn FUZZ-GW --serial FUZZ-GW --current-cert sig.crt --current-key sig.key`) is
 * accepted and mutations explore the paths behind every check.
 *
 * Invariants: accepted <=> TW_OK <=> a request out <=> result ok_syntax; every refusal
 * names one WSDL code; the same bytes give the same answer twice.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "gwa/renewal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char current_sig_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIICtzCCAl6gAwIBAgIQLukIcoWMuTFSVbLSnLXi4DAKBggqhkjOPQQDAjBHMRgw\n"
	"FgYDVQQDEw9UT1JXQVJULVRFU1QuQ0ExEjAQBgNVBAoTCVNNLVBLSS1ERTELMAkG\n"
	"A1UEBhMCREUxCjAIBgNVBAUTATEwHhcNMjYxMjA3MDYxMDU0WhcNMjgxMjA2MDYx\n"
	"MTU0WjBFMRAwDgYDVQQDEwdGVVpaLUdXMRIwEAYDVQQKEwlTTS1QS0ktREUxCzAJ\n"
	"BgNVBAYTAkRFMRAwDgYDVQQFEwdGVVpaLUdXMFowFAYHKoZIzj0CAQYJKyQDAwII\n"
	"AQEHA0IABINdexIV2HHgHuo0W3HefHZrY4aRtQ/tpTs5tfMiOlc5fZQyqAuLzmKz\n"
	"uD31emkHQNgn2il8R/8QzTax0DsikzWjggErMIIBJzAfBgNVHSMEGDAWgBRXQkhU\n"
	"kcOl48jaNHmKQ62KxqJH6TAdBgNVHQ4EFgQU4WoG6M0oR5DhjlZ4icnnnjDyytYw\n"
	"DgYDVR0PAQH/BAQDAgeAMEQGA1UdIAQ9MDswOQYKKwYBBAGDsgMBATArMCkGCCsG\n"
	"AQUFBwIBFh1odHRwczovL2xvY2FsaG9zdC90b3J3YXJ0L2NwczBKBgNVHRIEQzBB\n"
	"gRxzdWItY2FAbG9jYWxob3N0LmxvY2FsZG9tYWluhiFodHRwczovL2xvY2FsaG9z\n"
	"dC90b3J3YXJ0L3N1Yi1jYS8wDAYDVR0TAQH/BAIwADA1BgNVHR8ELjAsMCqgKKAm\n"
	"hiRodHRwOi8vMTI3LjAuMC4xOjcwODAvY3JsL3N1Yi1jYS5jcmwwCgYIKoZIzj0E\n"
	"AwIDRwAwRAIgbUzaRTfonaBC8G8KUb3jN0Tv0CTHwkK59DoktM7PXjgCIG7nelbK\n"
	"Lhx7goV3BLETptEXKEsgHJAoG1kJr/BYH1Um\n"
	"-----END CERTIFICATE-----\n";

static X509 *current_sig;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request *req = NULL, *again = NULL;
	enum pki_result result, result2;
	struct tw_error err;
	tw_rc rc, rc2;

	if (current_sig == NULL) {
		BIO *b = BIO_new_mem_buf(current_sig_pem, -1);

		current_sig = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		if (current_sig == NULL)
			abort();
	}
	rc = renewal_check_request(data, size, "FUZZ-GW", current_sig, &req, &result, &err);
	if ((rc == TW_OK) != (req != NULL) || (rc == TW_OK) != (result == PKI_OK_SYNTAX) ||
	    pki_result_name(result) == NULL)
		abort();
	rc2 = renewal_check_request(data, size, "FUZZ-GW", current_sig, &again, &result2, &err);
	if (rc2 != rc || result2 != result)
		abort();
	if (req != NULL && (req->n_entries != 3 || req->kind != REQUEST_KIND_RENEWAL ||
	    memcmp(req->digest, again->digest, sizeof(req->digest)) != 0))
		abort();
	request_free(req);
	request_free(again);
	/* Another gateway's id: never accepted. */
	req = NULL;
	if (renewal_check_request(data, size, "OTHER-GW", current_sig, &req, &result, &err) ==
	    TW_OK)
		abort();
	return 0;
}
