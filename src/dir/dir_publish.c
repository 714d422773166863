/*
 * dir_publish.c: the publisher (dir.h). Writes to slapd over ldapi:// with libldap
 * (OpenLDAP's own client library; no TLS on a Unix socket, so GnuTLS never matters),
 * bound with SASL EXTERNAL: slapd learns the worker's uid from the kernel and the
 * generated configuration makes it the rootdn (dir_slapd.c).
 *
 * Publishing a certificate means publishing its subject: the entry
 * cn=<subject CN>,cn=<issuer CN>,<base> gets every valid, unexpired certificate of that
 * (issuer, subject) as userCertificate;binary, or is deleted when none is left (all
 * revoked). That makes every step idempotent: a drain interrupted anywhere (slapd killed)
 * is simply repeated, and `torwart dir resync` is "forget what was published".
 */
#include "dir/dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/util.h"
#include "store/store_dir.h"

#define DP_DN_MAX      1024
#define DP_BATCH       64
#define DP_VALUES_MAX  64        /* certificates of one subject in one entry */

struct dir_publisher {
	const struct tw_home *home;
	struct tw_store *store;
	char url[1024];
	char base[DP_DN_MAX];
	LDAP *ld;
	bool base_ok;              /* the base entry exists (this connection) */
};

/* Every certificate of a subject, collected for one entry. */
struct dp_values {
	struct berval bv[DP_VALUES_MAX];
	struct berval *ptr[DP_VALUES_MAX + 1];
	/* "serial:<hex>" per certificate: the information service's search key (S-6). */
	char serial[DP_VALUES_MAX][STORE_ID_MAX + 8];
	char *serial_ptr[DP_VALUES_MAX + 1];
	size_t n;
};

/* The subject's CN of a DER certificate or CRL issuer; "" when it has none. */
static void dp_name_cn(const X509_NAME *name, char *out, size_t size)
{
	int i = name != NULL ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	ASN1_STRING *s;
	unsigned char *utf8 = NULL;
	int n;

	out[0] = '\0';
	if (i < 0)
		return;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if ((n = ASN1_STRING_to_UTF8(&utf8, s)) <= 0)
		return;
	snprintf(out, size, "%.*s", n, (const char *)utf8);
	OPENSSL_free(utf8);
}

static tw_rc dp_ldap_rc(struct dir_publisher *p, int lrc, const char *doing,
	struct tw_error *err)
{
	if (lrc == LDAP_SERVER_DOWN || lrc == LDAP_CONNECT_ERROR || lrc == LDAP_TIMEOUT ||
	    lrc == LDAP_UNAVAILABLE || lrc == LDAP_BUSY) {
		if (p->ld != NULL)
			ldap_unbind_ext_s(p->ld, NULL, NULL);
		p->ld = NULL;
		p->base_ok = false;
		return tw_error_set(err, TW_E_UNAVAILABLE, "directory %s unreachable while %s: %s "
			"(is slapd running? see docs/operations.md \"The directory\")", p->url, doing,
			ldap_err2string(lrc));
	}
	return tw_error_set(err, TW_E_IO, "directory: %s: %s", doing, ldap_err2string(lrc));
}

static tw_rc dp_connect(struct dir_publisher *p, struct tw_error *err)
{
	int v3 = LDAP_VERSION3, lrc;
	struct timeval tv = { 5, 0 };

	if (p->ld != NULL)
		return TW_OK;
	if ((lrc = ldap_initialize(&p->ld, p->url)) != LDAP_SUCCESS) {
		p->ld = NULL;
		return tw_error_set(err, TW_E_CONFIG, "[dir] ldapi: %s: %s", p->url,
			ldap_err2string(lrc));
	}
	ldap_set_option(p->ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(p->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(p->ld, LDAP_OPT_TIMEOUT, &tv);
	ldap_set_option(p->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	/* An empty initial response: without it slapd's SASL asks for one (in progress). */
	lrc = ldap_sasl_bind_s(p->ld, NULL, "EXTERNAL", &(struct berval){ 0, "" }, NULL, NULL,
		NULL);
	if (lrc != LDAP_SUCCESS) {
		tw_rc rc = dp_ldap_rc(p, lrc, "binding with SASL EXTERNAL", err);

		if (p->ld != NULL)
			ldap_unbind_ext_s(p->ld, NULL, NULL);
		p->ld = NULL;
		return rc;
	}
	return TW_OK;
}

/* Add dn with attrs; an existing entry is fine when exists_ok. */
static tw_rc dp_add(struct dir_publisher *p, const char *dn, LDAPMod **attrs, bool exists_ok,
	bool *existed, struct tw_error *err)
{
	int lrc = ldap_add_ext_s(p->ld, dn, attrs, NULL, NULL);

	if (existed != NULL)
		*existed = lrc == LDAP_ALREADY_EXISTS;
	if (lrc == LDAP_SUCCESS || (lrc == LDAP_ALREADY_EXISTS && exists_ok))
		return TW_OK;
	if (lrc == LDAP_ALREADY_EXISTS && existed != NULL)
		return TW_OK;
	{
		char doing[DP_DN_MAX + 16];

		snprintf(doing, sizeof(doing), "adding %s", dn);
		return dp_ldap_rc(p, lrc, doing, err);
	}
}

/*
 * The front end's own identity when it runs under another uid than the publisher
 * (privsep: torwart-api vs torwart-worker; dir_slapd.c maps that uid to this entry): it
 * may assume the participants' identities and nothing else (authzTo, with slapd's
 * authz-policy to). Harmless where both uids are one (the rootdn needs no rule). A
 * failure is logged, not fatal: only the separated front end depends on it.
 */
static void dp_ensure_frontend(struct dir_publisher *p)
{
	char dn[DP_DN_MAX], rule[DP_DN_MAX + 40];
	char *oc[] = { "top", "applicationProcess", NULL };
	char *cn[] = { "torwart-frontend", NULL };
	char *to[] = { rule, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
	LDAPMod m_to = { LDAP_MOD_ADD, "authzTo", { .modv_strvals = to } };
	LDAPMod *attrs[] = { &m_oc, &m_cn, &m_to, NULL };
	int lrc;

	snprintf(dn, sizeof(dn), "cn=torwart-frontend,%s", p->base);
	snprintf(rule, sizeof(rule), "dn.children:" DIR_PARTICIPANTS_OU ",%s", p->base);
	lrc = ldap_add_ext_s(p->ld, dn, attrs, NULL, NULL);
	if (lrc != LDAP_SUCCESS && lrc != LDAP_ALREADY_EXISTS)
		tw_warn("directory: cannot add %s (%s): a front end under its own uid cannot bind "
			"for participants", dn, ldap_err2string(lrc));
}

static tw_rc dp_ensure_base(struct dir_publisher *p, struct tw_error *err)
{
	char *oc[] = { "top", "organization", NULL };
	char o_val[256], *o[] = { o_val, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_o = { LDAP_MOD_ADD, "o", { .modv_strvals = o } };
	LDAPMod *attrs[] = { &m_oc, &m_o, NULL };
	const char *eq = strchr(p->base, '=');
	size_t n;

	if (p->base_ok)
		return TW_OK;
	/* The base's first RDN value (o=SM-PKI-DE -> SM-PKI-DE); an escaped ',' is not split. */
	if (eq == NULL || strncasecmp(p->base, "o=", 2) != 0)
		return tw_error_set(err, TW_E_CONFIG, "[dir] base = %s: must start with o=NAME "
			"(an organization entry)", p->base);
	for (n = 0; eq[1 + n] != '\0' && eq[1 + n] != ',' && n + 1 < sizeof(o_val); n++)
		o_val[n] = eq[1 + n];
	o_val[n] = '\0';
	if (dp_add(p, p->base, attrs, true, NULL, err) != TW_OK)
		return err->code;
	dp_ensure_frontend(p);
	p->base_ok = true;
	return TW_OK;
}

/* The CA entry cn=<ca_cn>,<base> exists (applicationProcess + pkiCA). */
static tw_rc dp_ensure_ca(struct dir_publisher *p, const char *ca_cn, char *dn, size_t size,
	struct tw_error *err)
{
	char esc[512], cn_val[512];
	char *oc[] = { "top", "applicationProcess", "pkiCA", NULL };
	char *cn[] = { cn_val, NULL };
	LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
	LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
	LDAPMod *attrs[] = { &m_oc, &m_cn, NULL };
	tw_rc rc;

	snprintf(cn_val, sizeof(cn_val), "%s", ca_cn);
	if ((rc = dp_ensure_base(p, err)) != TW_OK ||
	    (rc = dir_dn_escape(ca_cn, esc, sizeof(esc), err)) != TW_OK)
		return rc;
	if ((size_t)snprintf(dn, size, "cn=%s,%s", esc, p->base) >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "directory name of CA %s too long", ca_cn);
	return dp_add(p, dn, attrs, true, NULL, err);
}

/* Replace one binary attribute of dn with the values (none: delete the attribute). */
static tw_rc dp_replace_binary(struct dir_publisher *p, const char *dn, const char *attr,
	struct berval **vals, struct tw_error *err)
{
	LDAPMod m = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES, (char *)attr,
		{ .modv_bvals = vals } };
	LDAPMod *mods[] = { &m, NULL };
	int lrc = ldap_modify_ext_s(p->ld, dn, mods, NULL, NULL);

	if (lrc != LDAP_SUCCESS) {
		char doing[DP_DN_MAX + 64];

		snprintf(doing, sizeof(doing), "writing %s of %s", attr, dn);
		return dp_ldap_rc(p, lrc, doing, err);
	}
	return TW_OK;
}

static int dp_collect(const struct store_dir_cert *c, void *arg)
{
	struct dp_values *v = arg;
	unsigned char *copy;

	if (v->n == DP_VALUES_MAX) {
		tw_warn("directory: subject %s has more than %d valid certificates; publishing the "
			"first %d", c->subject, DP_VALUES_MAX, DP_VALUES_MAX);
		return 1;
	}
	if ((copy = malloc(c->der_len)) == NULL)
		return 1;
	memcpy(copy, c->der, c->der_len);
	v->bv[v->n].bv_val = (char *)copy;
	v->bv[v->n].bv_len = (ber_len_t)c->der_len;
	v->ptr[v->n] = &v->bv[v->n];
	snprintf(v->serial[v->n], sizeof(v->serial[v->n]), "serial:%s", c->serial_hex);
	v->serial_ptr[v->n] = v->serial[v->n];
	v->n++;
	v->ptr[v->n] = NULL;
	v->serial_ptr[v->n] = NULL;
	return 0;
}

static void dp_values_free(struct dp_values *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->bv[i].bv_val);
	v->n = 0;
}

/* Publish the entry of c's subject (see the file comment), or the CA entry of a CA. */
static tw_rc dp_publish_cert(struct dir_publisher *p, const struct store_dir_cert *c,
	struct tw_error *err)
{
	const unsigned char *der = c->der;
	X509 *x = d2i_X509(NULL, &der, (long)c->der_len);
	char ca_cn[512], cn_val[512], esc[512], ca_dn[DP_DN_MAX], dn[DP_DN_MAX];
	struct dp_values v;
	tw_rc rc = TW_OK;

	memset(&v, 0, sizeof(v));
	if (x == NULL)
		return tw_error_set(err, TW_E_INTEGRITY, "certificate %lld in the store does not "
			"parse", (long long)c->id);
	dp_name_cn(X509_get_issuer_name(x), ca_cn, sizeof(ca_cn));
	dp_name_cn(X509_get_subject_name(x), cn_val, sizeof(cn_val));
	if (ca_cn[0] == '\0' || cn_val[0] == '\0') {
		tw_warn("directory: certificate %lld has no CN in its subject or issuer: not "
			"published", (long long)c->id);
		goto out;
	}
	if (strcmp(c->usage, "CA") == 0 || strcmp(c->owner_kind, "ca") == 0) {
		/* A CA certificate: the CA's own entry, cACertificate;binary. */
		if ((rc = dp_ensure_ca(p, cn_val, dn, sizeof(dn), err)) != TW_OK)
			goto out;
		if (strcmp(c->status, "valid") == 0 && dp_collect(c, &v) != 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		rc = dp_replace_binary(p, dn, "cACertificate;binary", v.n > 0 ? v.ptr : NULL, err);
		goto out;
	}
	if ((rc = dp_ensure_ca(p, ca_cn, ca_dn, sizeof(ca_dn), err)) != TW_OK ||
	    (rc = dir_dn_escape(cn_val, esc, sizeof(esc), err)) != TW_OK)
		goto out;
	if ((size_t)snprintf(dn, sizeof(dn), "cn=%s,%s", esc, ca_dn) >= sizeof(dn)) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "directory name of %s too long", cn_val);
		goto out;
	}
	if ((rc = store_dir_subject_valid(p->store, c->issuer, c->subject, tw_now_ms() / 1000,
	    dp_collect, &v, err)) != TW_OK)
		goto out;
	if (v.n == 0) {
		int lrc = ldap_delete_ext_s(p->ld, dn, NULL, NULL);

		if (lrc != LDAP_SUCCESS && lrc != LDAP_NO_SUCH_OBJECT)
			rc = dp_ldap_rc(p, lrc, "removing an entry without valid certificates", err);
	} else {
		char *oc[] = { "top", "person", "organizationalPerson", "inetOrgPerson", NULL };
		char *cn[] = { cn_val, NULL };
		char ou_val[256], *ou[] = { ou_val, NULL };
		int ou_i = X509_NAME_get_index_by_NID(X509_get_subject_name(x),
			NID_organizationalUnitName, -1);
		LDAPMod m_oc = { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } };
		LDAPMod m_cn = { LDAP_MOD_ADD, "cn", { .modv_strvals = cn } };
		LDAPMod m_sn = { LDAP_MOD_ADD, "sn", { .modv_strvals = cn } };
		LDAPMod m_cert = { LDAP_MOD_ADD | LDAP_MOD_BVALUES, "userCertificate;binary",
			{ .modv_bvals = v.ptr } };
		LDAPMod m_ou = { LDAP_MOD_ADD, "ou", { .modv_strvals = ou } };
		LDAPMod m_desc = { LDAP_MOD_ADD, "description", { .modv_strvals = v.serial_ptr } };
		LDAPMod *attrs[] = { &m_oc, &m_cn, &m_sn, &m_cert, &m_desc, NULL, NULL };
		bool existed = false;

		/* OU = the market partner id of SM-PKI subjects: searchable. */
		{
			X509_NAME *sn = X509_get_subject_name(x);
			ASN1_STRING *s = ou_i >= 0 ?
				X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sn, ou_i)) : NULL;
			unsigned char *u = NULL;
			int n = s != NULL ? ASN1_STRING_to_UTF8(&u, s) : -1;

			if (n > 0) {
				snprintf(ou_val, sizeof(ou_val), "%.*s", n, (const char *)u);
				attrs[5] = &m_ou;
			}
			OPENSSL_free(u);
		}
		if ((rc = dp_add(p, dn, attrs, false, &existed, err)) == TW_OK && existed) {
			LDAPMod r_cert = { LDAP_MOD_REPLACE | LDAP_MOD_BVALUES,
				"userCertificate;binary", { .modv_bvals = v.ptr } };
			LDAPMod r_desc = { LDAP_MOD_REPLACE, "description",
				{ .modv_strvals = v.serial_ptr } };
			LDAPMod *mods[] = { &r_cert, &r_desc, NULL };
			int lrc = ldap_modify_ext_s(p->ld, dn, mods, NULL, NULL);

			if (lrc != LDAP_SUCCESS)
				rc = dp_ldap_rc(p, lrc, "replacing the certificates of an entry", err);
		}
	}
out:
	dp_values_free(&v);
	X509_free(x);
	return rc;
}

struct dp_batch {
	struct store_dir_cert c[DP_BATCH];
	unsigned char *der[DP_BATCH];
	size_t n;
};

static int dp_batch_add(const struct store_dir_cert *c, void *arg)
{
	struct dp_batch *b = arg;

	if (b->n == DP_BATCH || (b->der[b->n] = malloc(c->der_len)) == NULL)
		return 1;
	memcpy(b->der[b->n], c->der, c->der_len);
	b->c[b->n] = *c;
	b->c[b->n].der = b->der[b->n];
	b->n++;
	return 0;
}

static int dp_crl_one(const struct store_dir_crl *c, void *arg)
{
	struct dir_publisher *p = ((void **)arg)[0];
	struct dir_drain_result *res = ((void **)arg)[1];
	struct tw_error *err = ((void **)arg)[2];
	size_t len = strlen(c->ca);
	char *path = NULL, ca_cn[512], dn[DP_DN_MAX];
	unsigned char *der = NULL;
	const unsigned char *q;
	size_t der_len = 0;
	X509_CRL *crl = NULL;
	struct berval bv, *vals[2] = { &bv, NULL };
	tw_rc rc = TW_OK;

	/* The operator CA is not part of the SM-PKI; delta CRLs are served over HTTP only. */
	if (strcmp(c->ca, "operator") == 0 || (len > 6 && strcmp(c->ca + len - 6, "-delta") == 0))
		goto mark;
	path = c->path[0] == '/' ? strdup(c->path) : tw_home_join(p->home, c->path);
	if (path == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = tw_read_file(path, 16 * 1024 * 1024, &der, &der_len, err)) != TW_OK) {
		tw_warn("directory: CRL of %s not published: %s", c->ca, err->message);
		rc = TW_OK;      /* the file appears with the next generation; retried then */
		goto out;
	}
	q = der;
	if ((crl = d2i_X509_CRL(NULL, &q, (long)der_len)) == NULL) {
		tw_warn("directory: %s is not a DER CRL; not published", path);
		goto out;
	}
	dp_name_cn(X509_CRL_get_issuer(crl), ca_cn, sizeof(ca_cn));
	if (ca_cn[0] == '\0' || (rc = dp_ensure_ca(p, ca_cn, dn, sizeof(dn), err)) != TW_OK)
		goto out;
	bv.bv_val = (char *)der;
	bv.bv_len = (ber_len_t)der_len;
	if ((rc = dp_replace_binary(p, dn, "certificateRevocationList;binary", vals, err)) !=
	    TW_OK)
		goto out;
	res->crls++;
mark:
	rc = store_dir_crl_mark(p->store, c->ca, c->number, tw_now_ms(), err);
out:
	X509_CRL_free(crl);
	free(der);
	free(path);
	return rc != TW_OK;
}

tw_rc dir_publisher_drain(struct dir_publisher *p, int64_t limit,
	struct dir_drain_result *res, struct tw_error *err)
{
	struct dp_batch *b = NULL;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	tw_error_clear(err);
	if ((rc = dp_connect(p, err)) != TW_OK)
		goto backlog;
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto backlog;
	}
	while (limit == 0 || res->published < limit) {
		b->n = 0;
		if ((rc = store_dir_pending(p->store, DP_BATCH, dp_batch_add, b, err)) != TW_OK)
			break;
		if (b->n == 0)
			break;
		/*
		 * One directory write per subject of the batch (an entry holds all of its
		 * certificates, so its TLS, SIG and ENC certificate are one write), then one
		 * store transaction (one fsync) for all the batch's marks.
		 */
		for (size_t i = 0; i < b->n && rc == TW_OK; i++) {
			bool done = false;

			for (size_t j = 0; j < i && !done; j++)
				done = strcmp(b->c[j].subject, b->c[i].subject) == 0 &&
					strcmp(b->c[j].issuer, b->c[i].issuer) == 0 &&
					strcmp(b->c[i].owner_kind, "ca") != 0 && strcmp(b->c[i].usage, "CA") != 0;
			if (!done)
				rc = dp_publish_cert(p, &b->c[i], err);
		}
		if (rc == TW_OK && (rc = store_begin(p->store, err)) == TW_OK) {
			for (size_t i = 0; i < b->n && rc == TW_OK; i++)
				rc = store_dir_mark(p->store, b->c[i].id, b->c[i].status, tw_now_ms(), err);
			if (rc == TW_OK)
				rc = store_commit(p->store, err);
			else
				store_rollback(p->store);
			if (rc == TW_OK)
				res->published += (int64_t)b->n;
		}
		for (size_t i = 0; i < b->n; i++)
			free(b->der[i]);
		if (rc != TW_OK)
			break;
	}
	if (rc == TW_OK) {
		void *args[3] = { p, res, err };

		rc = store_dir_crl_pending(p->store, dp_crl_one, args, err);
		if (rc == TW_OK && err->code != TW_OK)
			rc = err->code;
	}
backlog:
	free(b);
	{
		struct tw_error e2;

		(void)store_dir_backlog(p->store, &res->pending, &res->oldest_ms, &e2);
	}
	return rc;
}

tw_rc dir_publisher_new(const struct tw_home *home, struct tw_store *store,
	struct dir_publisher **out, struct tw_error *err)
{
	struct dir_publisher *p;
	char *sock;
	tw_rc rc;

	*out = NULL;
	/* libldap must not read ldap.conf / ~/.ldaprc: the configuration is torwart.conf. */
	setenv("LDAPNOINIT", "1", 1);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	p->home = home;
	p->store = store;
	snprintf(p->base, sizeof(p->base), "%s",
		tw_config_get_or(home->conf, "dir", "base", DIR_DEFAULT_BASE));
	if ((sock = tw_home_path(home, "dir", "ldapi", DIR_DEFAULT_LDAPI)) == NULL) {
		free(p);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	rc = dir_ldapi_url(sock, p->url, sizeof(p->url), err);
	free(sock);
	if (rc != TW_OK) {
		free(p);
		return rc;
	}
	*out = p;
	return TW_OK;
}

void dir_publisher_free(struct dir_publisher *p)
{
	if (p == NULL)
		return;
	if (p->ld != NULL)
		ldap_unbind_ext_s(p->ld, NULL, NULL);
	free(p);
}
