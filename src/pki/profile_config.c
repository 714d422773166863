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
#include <strings.h>
#include <unistd.h>

#include <openssl/objects.h>
#include <openssl/err.h>

#include "base/home.h"
#include "base/util.h"
#include "pki/profile.h"

#define PKI_CA_NAME_MAX 64
#define PKI_CA_SECTION_MAX (PKI_CA_NAME_MAX + 8)
#define PKI_CA_VALUE_MAX 1024
#define PKI_DEFAULT_VALIDITY_DAYS 730L       /* the real SM-PKI end-entity certificates */
#define PKI_DEFAULT_CA_VALIDITY_DAYS 1826L
#define PKI_DEFAULT_CRL_NEXT_UPDATE_H 168L
#define PKI_DEFAULT_CRL_INTERVAL_MIN 1440L
#define PKI_DEFAULT_DELTA_INTERVAL_MIN 60L
#define PKI_DEFAULT_DELTA_NEXT_UPDATE_H 24L
#define PKI_HOSTNAME_MAX 256

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

/*
 * A space-separated list of URIs (HTTP and/or LDAP distribution points): each one
 * checked like a single URI, and only http(s):// and ldap(s):// schemes, the ones
 * relying parties of the SM-PKI fetch CRLs from.
 */
static tw_rc pki_ca_check_uri_list(const char *section, const char *key, const char *v,
	struct tw_error *err)
{
	char one[PKI_CA_VALUE_MAX + 1];
	size_t count = 0;
	tw_rc rc;

	for (const char *p = v; p != NULL && *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if ((n = strcspn(p, " \t")) == 0)
			break;
		memcpy(one, p, n);
		one[n] = '\0';
		if ((rc = pki_ca_check_uri(section, key, one, err)) != TW_OK)
			return rc;
		if (strncasecmp(one, "http://", 7) != 0 && strncasecmp(one, "https://", 8) != 0 &&
		    strncasecmp(one, "ldap://", 7) != 0 && strncasecmp(one, "ldaps://", 8) != 0)
			return tw_error_set(err, TW_E_CONFIG, "[%s] %s: \"%s\" is neither an http(s):// "
				"nor an ldap(s):// URL", section, key, one);
		count++;
		p += n;
	}
	if (v != NULL && count == 0)
		return tw_error_set(err, TW_E_CONFIG, "[%s] %s names no URL", section, key);
	return TW_OK;
}

/*
 * The URL the api serves this CA's CRL at (api_crl.c: /crl/<name>.crl): [ca] crl_base_url
 * when set (the public name relying parties reach), else the [api] listen address, a
 * wildcard host replaced by this machine's host name. *out is the caller's.
 */
static tw_rc pki_ca_default_crl_url(const struct tw_config *conf, const char *name,
	const char *suffix, char **out, struct tw_error *err)
{
	const char *base = tw_config_get(conf, "ca", "crl_base_url");
	char *host = NULL, hostname[PKI_HOSTNAME_MAX];
	uint16_t port = 0;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (base != NULL) {
		size_t n = strlen(base);

		while (n > 0 && base[n - 1] == '/')
			n--;
		*out = tw_asprintf("%.*s/%s%s.crl", (int)n, base, name, suffix);
	} else {
		if (tw_parse_hostport(tw_config_get_or(conf, "api", "listen",
			TW_DEFAULT_API_LISTEN), &host, &port, err) != TW_OK)
			return tw_error_set(err, TW_E_CONFIG, "[ca.%s] has no crl_url and [api] listen "
				"is not HOST:PORT to derive it from; set [ca.%s] crl_url or [ca] "
				"crl_base_url", name, name);
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0') {
			if (gethostname(hostname, sizeof(hostname)) != 0)
				(void)snprintf(hostname, sizeof(hostname), "localhost");
			hostname[sizeof(hostname) - 1] = '\0';
			free(host);
			host = tw_strdup(hostname);
		}
		if (host != NULL)
			*out = tw_asprintf(strchr(host, ':') != NULL ? "http://[%s]:%u/crl/%s%s.crl" :
				"http://%s:%u/crl/%s%s.crl", host, (unsigned)port, name, suffix);
		free(host);
	}
	if (*out == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory deriving the CRL URL of %s", name);
	return rc;
}

/*
 * Delta CRL URLs derived from the full CRL's: every http(s) URL ending in ".crl" with
 * "-delta.crl" instead (the route api_crl.c serves). NULL when none qualifies.
 */
static char *pki_ca_delta_urls(const char *full)
{
	struct tw_buf b;
	struct tw_error e;
	char *out = NULL;

	tw_buf_init(&b, PKI_CA_VALUE_MAX * 2);
	for (const char *p = full; p != NULL && *p != '\0';) {
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if ((n = strcspn(p, " \t")) == 0)
			break;
		if (n > 4 && strncasecmp(p, "http", 4) == 0 && strncmp(p + n - 4, ".crl", 4) == 0 &&
		    ((b.len > 0 && tw_buf_append(&b, " ", 1, &e) != TW_OK) ||
		     tw_buf_append(&b, p, n - 4, &e) != TW_OK ||
		     tw_buf_append(&b, "-delta.crl", 10, &e) != TW_OK)) {
			tw_buf_free(&b);
			return NULL;
		}
		p += n;
	}
	if (b.len > 0 && tw_buf_append(&b, "", 1, &e) == TW_OK)
		out = tw_strdup((const char *)b.data);
	tw_buf_free(&b);
	return out;
}

/* yes/no/true/false/1/0 (default no). */
static tw_rc pki_ca_yes_no(const struct tw_config *conf, const char *section,
	const char *key, bool *out, struct tw_error *err)
{
	const char *v = tw_config_get(conf, section, key);

	*out = false;
	if (v == NULL || strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		return TW_OK;
	if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*out = true;
		return TW_OK;
	}
	return tw_error_set(err, TW_E_CONFIG, "[%s] %s = \"%.40s\": use yes or no", section,
		key, v);
}

static const struct { const char *name; enum pki_validity_end rule; } pki_validity_ends[] = {
	{ "exact", PKI_VALIDITY_EXACT },
	{ "end_of_day_utc", PKI_VALIDITY_END_OF_DAY_UTC },
};

tw_rc pki_validity_end_parse(const char *text, enum pki_validity_end *out,
	struct tw_error *err)
{
	for (size_t i = 0; text != NULL && i < sizeof(pki_validity_ends) /
	    sizeof(pki_validity_ends[0]); i++) {
		if (strcmp(text, pki_validity_ends[i].name) == 0) {
			*out = pki_validity_ends[i].rule;
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID, "unknown validity end rule \"%.40s\"; use "
		"end_of_day_utc (the real SM-PKI certificates) or exact", text != NULL ? text : "");
}

const char *pki_validity_end_name(enum pki_validity_end rule)
{
	for (size_t i = 0; i < sizeof(pki_validity_ends) / sizeof(pki_validity_ends[0]); i++)
		if (pki_validity_ends[i].rule == rule)
			return pki_validity_ends[i].name;
	return "?";
}

/* [section] key, else [section] validity_end, else def. */
static tw_rc pki_ca_validity_end(const struct tw_config *conf, const char *section,
	const char *key, enum pki_validity_end def, enum pki_validity_end *out,
	struct tw_error *err)
{
	const char *v = tw_config_get(conf, section, key);
	tw_rc rc;

	if (v == NULL)
		v = tw_config_get(conf, section, "validity_end");
	*out = def;
	if (v == NULL)
		return TW_OK;
	if ((rc = pki_validity_end_parse(v, out, err)) != TW_OK)
		return tw_error_set(err, TW_E_CONFIG, "[%s] %s = \"%.40s\": use end_of_day_utc or "
			"exact", section, tw_config_get(conf, section, key) != NULL ? key :
			"validity_end", v);
	return TW_OK;
}

tw_rc pki_ca_config_load(const struct tw_config *conf, const char *name,
	struct pki_ca_config **out, struct tw_error *err)
{
	struct pki_ca_config *c = NULL;
	char section[PKI_CA_SECTION_MAX];
	char *crl_default = NULL, *label_default = NULL, *cert_default = NULL;
	char *delta_default = NULL;
	const char *delta;
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
	delta_default = tw_asprintf("crl/%s-delta.crl", name);
	/* Own key and certificate by name: never a silent fallback to another CA's key. */
	label_default = tw_strdup(name);
	cert_default = tw_asprintf("pki/%s.crt", name);
	if (c == NULL || crl_default == NULL || delta_default == NULL || label_default == NULL ||
	    cert_default == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory loading [%s]", section);
		goto out;
	}
	if ((c->name = tw_strdup(name)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory loading [%s]", section);
		goto out;
	}
	if ((rc = pki_ca_string(conf, section, "key_label", NULL, label_default, &c->key_label,
		err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "cert", NULL, cert_default, &c->cert_path,
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
		&c->directory_base, err)) != TW_OK ||
	    (rc = pki_ca_string(conf, section, "delta_crl_publish_path", NULL, delta_default,
		&c->delta_crl_publish_path, err)) != TW_OK)
		goto out;
	/* No URL configured: the one the api really serves (issue 11: never a fixed host). */
	if (c->crl_url == NULL &&
	    (rc = pki_ca_default_crl_url(conf, name, "", &c->crl_url, err)) != TW_OK)
		goto out;
	if ((rc = pki_ca_check_uri(section, "cps_uri", c->cps_uri, err)) != TW_OK ||
	    (rc = pki_ca_check_uri_list(section, "crl_url", c->crl_url, err)) != TW_OK)
		goto out;
	if ((rc = pki_ca_yes_no(conf, section, "delta_crl", &c->delta_crl, err)) != TW_OK)
		goto out;
	delta = tw_config_get(conf, section, "delta_crl_url");
	if (delta != NULL) {
		if ((c->delta_crl_url = tw_strdup(delta)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory loading [%s]", section);
			goto out;
		}
	} else if (c->delta_crl) {
		c->delta_crl_url = pki_ca_delta_urls(c->crl_url);
	}
	if (c->delta_crl_url != NULL &&
	    (rc = pki_ca_check_uri_list(section, "delta_crl_url", c->delta_crl_url, err)) != TW_OK)
		goto out;
	if ((rc = pki_ca_validity_end(conf, section, "validity_end.tls",
		PKI_VALIDITY_END_OF_DAY_UTC, &c->validity_end_tls, err)) != TW_OK ||
	    (rc = pki_ca_validity_end(conf, section, "validity_end.sig",
		PKI_VALIDITY_END_OF_DAY_UTC, &c->validity_end_sig, err)) != TW_OK ||
	    (rc = pki_ca_validity_end(conf, section, "validity_end.enc",
		PKI_VALIDITY_END_OF_DAY_UTC, &c->validity_end_enc, err)) != TW_OK)
		goto out;
	/* CA certificates: exact unless validity_end.ca itself says otherwise. */
	c->validity_end_ca = PKI_VALIDITY_EXACT;
	if (tw_config_get(conf, section, "validity_end.ca") != NULL &&
	    (rc = pki_ca_validity_end(conf, section, "validity_end.ca", PKI_VALIDITY_EXACT,
		&c->validity_end_ca, err)) != TW_OK)
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
		PKI_DEFAULT_CRL_INTERVAL_MIN, 1, 525600, &c->crl_interval_minutes, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "delta_crl_interval_minutes",
		PKI_DEFAULT_DELTA_INTERVAL_MIN, 1, 525600, &c->delta_crl_interval_minutes,
		err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, section, "delta_crl_next_update_hours",
		PKI_DEFAULT_DELTA_NEXT_UPDATE_H, 1, 8784, &c->delta_crl_next_update_hours,
		err)) != TW_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	ASN1_OBJECT_free(oid);
	free(crl_default);
	free(delta_default);
	free(label_default);
	free(cert_default);
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
	free(cfg->delta_crl_url);
	free(cfg->delta_crl_publish_path);
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

enum pki_validity_end pki_ca_config_validity_end(const struct pki_ca_config *cfg,
	enum pki_usage usage)
{
	switch (usage) {
	case PKI_USAGE_TLS: return cfg->validity_end_tls;
	case PKI_USAGE_SIG: return cfg->validity_end_sig;
	case PKI_USAGE_ENC: return cfg->validity_end_enc;
	case PKI_USAGE_ROOT_CA:
	case PKI_USAGE_SUB_CA: return cfg->validity_end_ca;
	}
	return cfg->validity_end_sig;
}

void pki_ca_config_apply(const struct pki_ca_config *cfg, struct pki_cert_request *req)
{
	req->policy_oid = cfg->policy_oid;
	req->cps_uri = cfg->cps_uri;
	req->crl_url = cfg->crl_url;
	req->validity_days = pki_ca_config_validity(cfg, req->usage);
	req->validity_end = pki_ca_config_validity_end(cfg, req->usage);
}
