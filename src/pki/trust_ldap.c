/*
 * trust_ldap.c: CRLs from ldap:// distribution points (trust.h), the form the real
 * SM-PKI certificates carry. libldap parses the URL and speaks LDAP; this file only
 * checks what the URL asks for and picks the one attribute value.
 */
#include "pki/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "pki/trust_ldap_internal.h"
#include "store/store_trust.h"

/* The attributes a CRL distribution point may name (RFC 4523). */
static bool tl_attr_ok(const char *a)
{
	return strcasecmp(a, "certificateRevocationList") == 0 ||
		strcasecmp(a, "authorityRevocationList") == 0;
}

tw_rc trust_ldap_target_parse(const char *url, struct trust_ldap_target *out,
	struct tw_error *err)
{
	LDAPURLDesc *lud = NULL;
	const char *attr = "certificateRevocationList";
	tw_rc rc = TW_OK;
	int port;

	memset(out, 0, sizeof(*out));
	if (url == NULL || strncasecmp(url, "ldap://", 7) != 0)
		return tw_error_set(err, TW_E_INVALID, "not an ldap:// URL");
	if (strlen(url) > STORE_TRUST_URL_MAX || ldap_url_parse(url, &lud) != LDAP_URL_SUCCESS ||
	    lud == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "not an RFC 4516 LDAP URL");
		goto out;
	}
	if (lud->lud_host == NULL || lud->lud_host[0] == '\0') {
		rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL names no host");
		goto out;
	}
	if (lud->lud_dn == NULL || lud->lud_dn[0] == '\0') {
		rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL names no entry (DN)");
		goto out;
	}
	if (lud->lud_scope != LDAP_SCOPE_BASE && lud->lud_scope != LDAP_SCOPE_DEFAULT) {
		rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL asks for a search below the "
			"entry; a distribution point names the entry itself (scope base)");
		goto out;
	}
	if (lud->lud_exts != NULL && lud->lud_crit_exts != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL carries a critical extension");
		goto out;
	}
	if (lud->lud_attrs != NULL && lud->lud_attrs[0] != NULL) {
		char a[64];
		char *semi;

		if (lud->lud_attrs[1] != NULL || strlen(lud->lud_attrs[0]) >= sizeof(a)) {
			rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL names more than one "
				"attribute or an overlong one");
			goto out;
		}
		snprintf(a, sizeof(a), "%s", lud->lud_attrs[0]);
		if ((semi = strchr(a, ';')) != NULL && strcasecmp(semi, ";binary") == 0)
			*semi = '\0';
		if (!tl_attr_ok(a)) {
			rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL names attribute %.64s; a "
				"CRL is in certificateRevocationList or authorityRevocationList", a);
			goto out;
		}
		attr = lud->lud_attrs[0];
	}
	port = lud->lud_port > 0 ? lud->lud_port : LDAP_PORT;
	if (strlen(lud->lud_dn) >= sizeof(out->dn) ||
	    (size_t)snprintf(out->uri, sizeof(out->uri), strchr(lud->lud_host, ':') != NULL ?
	    "ldap://[%s]:%d" : "ldap://%s:%d", lud->lud_host, port) >= sizeof(out->uri)) {
		rc = tw_error_set(err, TW_E_INVALID, "the LDAP URL's host or DN is too long");
		goto out;
	}
	snprintf(out->dn, sizeof(out->dn), "%s", lud->lud_dn);
	snprintf(out->attr, sizeof(out->attr), "%.*s", (int)strcspn(attr, ";"), attr);
out:
	if (lud != NULL)
		ldap_free_urldesc(lud);
	return rc;
}

tw_rc trust_ldap_fetch(const struct trust_ldap_target *t, long timeout_s, size_t max,
	unsigned char **der, size_t *len, struct tw_error *err)
{
	LDAP *ld = NULL;
	struct timeval tv = { timeout_s, 0 };
	int v = LDAP_VERSION3;
	tw_rc rc;

	*der = NULL;
	*len = 0;
	if (ldap_initialize(&ld, t->uri) != LDAP_SUCCESS || ld == NULL)
		return tw_error_set(err, TW_E_INVALID, "libldap does not take %s", t->uri);
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	rc = trust_ldap_search(ld, t, timeout_s, max, der, len, err);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

tw_rc trust_ldap_search(LDAP *ld, const struct trust_ldap_target *t, long timeout_s,
	size_t max, unsigned char **der, size_t *len, struct tw_error *err)
{
	LDAPMessage *res = NULL, *e;
	BerElement *ber = NULL;
	struct berval **vals = NULL;
	struct timeval tv = { timeout_s, 0 };
	char binary[80], *attrs[3] = { binary, NULL, NULL };
	char *a;
	int v = LDAP_VERSION3, lrc;
	tw_rc rc = TW_OK;
	bool found = false;

	*der = NULL;
	*len = 0;
	snprintf(binary, sizeof(binary), "%s;binary", t->attr);
	attrs[1] = (char *)t->attr;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	/* Anonymous: the CRL is public and signed; no bind, no credentials to leak. */
	lrc = ldap_search_ext_s(ld, t->dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL,
		NULL, &tv, 2, &res);
	if (lrc == LDAP_NO_SUCH_OBJECT) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the directory has no entry %.300s", t->dn);
		goto out;
	}
	if (lrc != LDAP_SUCCESS) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "LDAP search at %s: %s", t->uri,
			ldap_err2string(lrc));
		goto out;
	}
	if ((e = ldap_first_entry(ld, res)) == NULL) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the directory has no entry %.300s", t->dn);
		goto out;
	}
	for (a = ldap_first_attribute(ld, e, &ber); a != NULL && !found;
	     a = ldap_next_attribute(ld, e, ber)) {
		size_t n = strlen(t->attr);

		if (strncasecmp(a, t->attr, n) == 0 && (a[n] == '\0' || strcasecmp(a + n,
		    ";binary") == 0)) {
			found = true;
			vals = ldap_get_values_len(ld, e, a);
		}
		ldap_memfree(a);
	}
	if (!found || vals == NULL || vals[0] == NULL) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the entry %.300s has no %s", t->dn, t->attr);
		goto out;
	}
	if (vals[1] != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the entry %.300s has several %s values",
			t->dn, t->attr);
		goto out;
	}
	if (vals[0]->bv_len == 0 || vals[0]->bv_len > max) {
		rc = tw_error_set(err, vals[0]->bv_len == 0 ? TW_E_INVALID : TW_E_TOO_LARGE,
			"the %s value is %lu bytes (limit %zu)", t->attr,
			(unsigned long)vals[0]->bv_len, max);
		goto out;
	}
	if ((*der = malloc(vals[0]->bv_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, vals[0]->bv_val, vals[0]->bv_len);
	*len = vals[0]->bv_len;
out:
	if (vals != NULL)
		ldap_value_free_len(vals);
	if (ber != NULL)
		ber_free(ber, 0);
	ldap_msgfree(res);
	return rc;
}
