/*
 * fuzz_saml.c: libFuzzer target over a SAML 2.0 assertion from outside (auth/saml.c,
 * saml_parse and saml_verify against a fixed identity provider certificate).
 *
 * Invariants: no crash or leak; a refusal always names its reason (why != SAML_OK) and
 * leaves no field filled by saml_verify; TW_OK only with an issuer and a NameID.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/saml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char idp_cert[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBfjCCASOgAwIBAgIUOQ7PB4KSJysgq+3OoZF3o3/pEdMwCgYIKoZIzj0EAwIw\n"
	"EzERMA8GA1UEAwwIZnV6eiBpZHAwIBcNMjYxMjA3MTI0NzU2WhgPMjEyNjExMTMx\n"
	"MjQ3NTZaMBMxETAPBgNVBAMMCGZ1enogaWRwMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAEuhtw9m4QLjJ+BdZ/of2BWjgPPqpjON1nATmN7kgzwDfP6GlE0FJ7fHcq\n"
	"RQrSYQzl/PIj02vHbmVPcqvldvsgoqNTMFEwHQYDVR0OBBYEFAfNSgRWaDRefGCx\n"
	"vk4avo6dsWKzMB8GA1UdIwQYMBaAFAfNSgRWaDRefGCxvk4avo6dsWKzMA8GA1Ud\n"
	"EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAIW1v/uWmA5orSkYENUFNIpG\n"
	"CAAD+LspXgdKKgB1HsQsAiEAxcKFNEBTT1Q1SUoxsVx2MEA/5oDqgWibdvXuWG+v\n"
	"g6I=\n"
	"-----END CERTIFICATE-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct saml_expect x = { idp_cert, sizeof(idp_cert) - 1, "https://idp.test/u",
		"https://sp.test/", 1893456300000LL, 60, NULL };
	struct saml_assertion a;
	enum saml_refusal why = SAML_OK;
	struct tw_error err;

	/* Half the inputs as the console's consumer sees them (a Recipient expected). */
	if (size % 2 == 1)
		x.recipient = "https://sp.test/console/saml/acs";

	if (saml_parse((const char *)data, size, &a, &why, &err) != TW_OK && why == SAML_OK &&
	    err.code == TW_E_DENIED)
		abort();
	why = SAML_OK;
	if (saml_verify((const char *)data, size, &x, &a, &why, &err) == TW_OK) {
		if (a.issuer[0] == '\0' || a.name_id[0] == '\0' || why != SAML_OK)
			abort();
	} else if (a.name_id[0] != '\0' || a.id[0] != '\0') {
		abort();
	}
	return 0;
}
