/*
 * fuzz_trust_ldap_url.c: libFuzzer target over the check of an ldap:// CRL distribution
 * point (pki/trust_ldap.c trust_ldap_target_parse): the URL comes from a certificate of
 * another CA. Whatever it is, the answer is a refusal with a message or a target whose
 * parts are the ones the fetcher may use (plain ldap://, a DN, a CRL attribute).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pki/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trust_ldap_target t;
	struct tw_error err;
	char *url = malloc(size + 1);

	if (url == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	memset(&err, 0, sizeof(err));
	if (trust_ldap_target_parse(url, &t, &err) == TW_OK) {
		if (strncmp(t.uri, "ldap://", 7) != 0 || t.dn[0] == '\0' ||
		    (strcasecmp(t.attr, "certificateRevocationList") != 0 &&
		    strcasecmp(t.attr, "authorityRevocationList") != 0))
			abort();
	} else if (err.message[0] == '\0') {
		abort();
	}
	free(url);
	return 0;
}
