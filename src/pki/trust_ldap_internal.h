/*
 * trust_ldap_internal.h: the LDAP search shared by the plain (trust_ldap.c) and the
 * OpenSSL-protected (trust_ldap_tls.c) directory reads; not for other modules.
 */
#ifndef TORWART_PKI_TRUST_LDAP_INTERNAL_H
#define TORWART_PKI_TRUST_LDAP_INTERNAL_H

#include <ldap.h>

#include "pki/trust.h"

/*
 * One base search of t on the connected ld (no bind: anonymous within the connection),
 * the single value of t->attr as in trust_ldap_fetch. ld stays the caller's.
 */
tw_rc trust_ldap_search(LDAP *ld, const struct trust_ldap_target *t, long timeout_s,
	size_t max, unsigned char **der, size_t *len, struct tw_error *err);

#endif
