/*
 * fuzz_ca_check.c: libFuzzer target over the input reader of `torwart ca check`
 * (ca_check_parse in src/pki/ca_check.c, DOMAIN.md S-7): one DER certificate or a PEM
 * bundle, handed in by a gateway manufacturer. Only OpenSSL parsers are involved; this
 * checks the wrapper's invariants and that whatever is accepted re-encodes and parses
 * again as DER.
 *
 * Seeds: tests/fuzz/seeds/fuzz_ca_check (certificates exported with `torwart ca export`).
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki/ca_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	STACK_OF(X509) *sk = NULL, *again = NULL;
	struct tw_error err;
	tw_rc rc;

	rc = ca_check_parse(data, size, 8, &sk, &err);
	if ((rc == TW_OK) != (sk != NULL))
		abort();
	if (sk != NULL && (sk_X509_num(sk) < 1 || sk_X509_num(sk) > 8))
		abort();
	for (int i = 0; sk != NULL && i < sk_X509_num(sk); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(sk, i), &der);

		if (len > 0) {
			if (ca_check_parse(der, (size_t)len, 1, &again, &err) == TW_OK &&
			    sk_X509_num(again) != 1)
				abort();
			sk_X509_pop_free(again, X509_free);
			again = NULL;
		}
		OPENSSL_free(der);
	}
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return 0;
}
