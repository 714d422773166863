/*
 * profile_config.c: per-CA configuration of the certificate profiles, torwart.conf
 * section [ca.<name>] (keys documented in profile.h and docs/pki-requests.md).
 *
 * Policy OID, CPS, CRL distribution point, directory base and validity periods differ
 * between Sub-CAs (and between the test and the production SM-PKI), so they are data,
 * not code. A missing section falls back to the foundation's [pki] keys, so existing
 * homes keep working.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/err.h>

#include "base/util.h"
#include "pki/profile.h"

#define PKI_CA_NAME_MAX 64
#define PKI_CA_SECTION_MAX (PKI_CA_NAME_MAX + 8)
#define PKI_CA_VALUE_MAX 1024
#define PKI_DEFAULT_VALIDITY_DAYS 730L       /* the real SM-PKI end-entity certificates */
#define PKI_DEFAULT_CA_VALIDITY_DAYS 1826L
#define PKI_DEFAULT_CRL_NEXT_UPDATE_H 168L
#define PKI_DEFAULT_CRL_INTERVAL_MIN 1440L

static bool pki_ca_name_ok(const char *name)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len == 0 || len > PKI_CA_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Copy [section] key (or [pki] key as fallback, when given) into *dst; NULL if absent. */
static tw_rc pki_ca_string(const struct tw_config *conf, const char *section, const char *key,
	const char *fallback_key, const char *def, char **dst, struct tw_error *err)
{
	const char *v = tw_config_get(conf, section, key);

	if (v == NULL && fallback_key != NULL)
		v = tw_config_get(conf, "pki", fallback_key);
	if (v == NULL)
		v = def;
	*dst = NULL;
	if (v == NULL)
		return TW_OK;
	if (strlen(v) == 0 || strlen(v) > PKI_CA_VALUE_MAX)
		return tw_error_set(err, TW_E_CONFIG, "[%s] %s must be 1..%d characters", section,
			key, PKI_CA_VALUE_MAX);
	*dst = tw_strdup(v);
	if (*dst == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory reading [%s] %s", section, key);
	return TW_OK;
}

/* URIs go into certificates as IA5 strings: absolute, printable, no spaces. */
static tw_rc pki_ca_check_uri(const char *section, const char *key, const char *v,
	struct tw_error *err)
{
	if (v == NULL)
		return TW_OK;
	if (strstr(v, "://") == NULL)
		return tw_error_set(err, TW_E_CONFIG,
			"[%s] %s = \"%s\" is not an absolute URI (http://..., ldap://...)", section, key, v);
	for (const char *p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return tw_error_set(err, TW_E_CONFIG,
				"[%s] %s must be printable ASCII without spaces", section, key);
	return TW_OK;
}

tw_rc pki_ca_config_load(const struct tw_config *conf, const char *name,
	struct pki_ca_config **out, struct tw_error *err)
{
	struct pki_ca_config *c = NULL;
	char section[PKI_CA_SECTION_MAX];
	char *crl_default = NULL;
	ASN1_OBJECT *oid = NULL;
	tw_rc rc;

	*out = NULL;
	if (!pki_ca_name_ok(name))
		return tw_error_set(err, TW_E_CONFIG,
			"CA name \"%.70s\" must be 1..%d characters of [A-Za-z0-9._-]",
			name != NULL ? name : "", PKI_CA_NAME_MAX);
	(void)snprintf(section, sizeof(section), "ca.%s", name);
	c = calloc(1, sizeof(*c));
	crl_default = tw_asprintf("crl/%s.crl", name);
	if (c == NULL || crl_default == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory loading [%s]", section);
		goto out;
	}
	if ((c->name = tw_strdup(name)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory loading [%s]", section);
		goto out;
	}
	if ((rc = pki_ca_string(conf, section, "key_label", NULL, "sub-ca", &c->key_label,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "cert", NULL, "pki/sub-ca.crt", &c->cert_path,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "policy_oid", "policy_oid", NULL, &c->policy_oid,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "cps_uri", "cps_uri", NULL, &c->cps_uri,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "crl_url", "crl_url", NULL, &c->crl_url,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "crl_publish_path", NULL, crl_default,
		&c->crl_publish_path, err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "directory_base", NULL, NULL,
		&c->directory_base, err)) != TW_OK)
		goto out;
	if ((rc = pki_ca_check_uri(section, "cps_uri", c->cps_uri, err)) != TW_OK ||
	    (rc = pki_ca_check_uri(section, "crl_url", c->crl_url, err)) != TW_OK)
		goto out;
	if (c->policy_oid != NULL) {
		/* no_name = 1: only dotted numbers, so a typo is not read as a short name. */
		oid = OBJ_txt2obj(c->policy_oid, 1);
		ERR_clear_error();
		if (oid == NULL) {
			rc = tw_error_set(err, TW_E_CONFIG,
				"[%s] policy_oid = \"%s\" is not a dotted OID", section, c->policy_oid);
			goto out;
		}
	}
	if ((rc = tw_config_get_long(conf, section, "validity_days.tls", PKI_DEFAULT_VALIDITY_DAYS,
		1, 36500, &c->validity_days_tls, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "validity_days.sig", PKI_DEFAULT_VALIDITY_DAYS,
		1, 36500, &c->validity_days_sig, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "validity_days.enc", PKI_DEFAULT_VALIDITY_DAYS,
		1, 36500, &c->validity_days_enc, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "validity_days.ca",
		PKI_DEFAULT_CA_VALIDITY_DAYS, 1, 36500, &c->validity_days_ca, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "crl_next_update_hours",
		PKI_DEFAULT_CRL_NEXT_UPDATE_H, 1, 8784, &c->crl_next_update_hours, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "crl_interval_minutes",
		PKI_DEFAULT_CRL_INTERVAL_MIN, 1, 525600, &c->crl_interval_minutes, err)) != TW_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	ASN1_OBJECT_free(oid);
	free(crl_default);
	pki_ca_config_free(c);
	return rc;
}

void pki_ca_config_free(struct pki_ca_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->name);
	free(cfg->key_label);
	free(cfg->cert_path);
	free(cfg->policy_oid);
	free(cfg->cps_uri);
	free(cfg->crl_url);
	free(cfg->crl_publish_path);
	free(cfg->directory_base);
	free(cfg);
}

long pki_ca_config_validity(const struct pki_ca_config *cfg, enum pki_usage usage)
{
	switch (usage) {
	case PKI_USAGE_TLS: return cfg->validity_days_tls;
	case PKI_USAGE_SIG: return cfg->validity_days_sig;
	case PKI_USAGE_ENC: return cfg->validity_days_enc;
	case PKI_USAGE_ROOT_CA:
	case PKI_USAGE_SUB_CA: return cfg->validity_days_ca;
	}
	return cfg->validity_days_sig;
}

void pki_ca_config_apply(const struct pki_ca_config *cfg, struct pki_cert_request *req)
{
	req->policy_oid = cfg->policy_oid;
	req->cps_uri = cfg->cps_uri;
	req->crl_url = cfg->crl_url;
	req->validity_days = pki_ca_config_validity(cfg, req->usage);
}
