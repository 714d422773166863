/*
 * trust.c: the trusted CAs of the SM-PKI and checks against their CRLs (trust.h).
 */
#include "pki/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/util.h"
#include "store/store_trust.h"

#define TRUST_SKEW_S 300

struct trust_set {
	STACK_OF(X509) *anchors;
	STACK_OF(X509) *cas;
};

static void ts_free_stacks(struct trust_set *ts)
{
	sk_X509_pop_free(ts->anchors, X509_free);
	sk_X509_pop_free(ts->cas, X509_free);
}

void trust_set_free(struct trust_set *ts)
{
	if (ts == NULL)
		return;
	ts_free_stacks(ts);
	free(ts);
}

/* Every certificate of the PEM files in the space-separated list, onto sk. */
static tw_rc ts_read_list(const struct tw_home *home, const char *key, const char *list,
	STACK_OF(X509) *sk, struct tw_error *err)
{
	char *copy = strdup(list), *save = NULL, *tok;
	tw_rc rc = TW_OK;

	if (copy == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL && rc == TW_OK;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *path = tok[0] == '/' ? strdup(tok) : tw_home_join(home, tok);
		FILE *f = path != NULL ? fopen(path, "r") : NULL;
		X509 *x;
		int n = 0;

		if (f == NULL) {
			rc = tw_error_set(err, TW_E_CONFIG, "[trust] %s: cannot read %s", key, tok);
			free(path);
			break;
		}
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
			if (!sk_X509_push(sk, x)) {
				X509_free(x);
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				break;
			}
			n++;
		}
		ERR_clear_error();
		fclose(f);
		if (rc == TW_OK && n == 0)
			rc = tw_error_set(err, TW_E_CONFIG, "[trust] %s: %s holds no PEM certificate",
				key, path);
		free(path);
	}
	free(copy);
	return rc;
}

/* x chains to an anchor (through the other CAs), strict X.509. */
static bool ts_verifies(const struct trust_set *ts, X509 *x, char *why, size_t size)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (st != NULL && ctx != NULL) {
		for (int i = 0; i < sk_X509_num(ts->anchors); i++)
			X509_STORE_add_cert(st, sk_X509_value(ts->anchors, i));
		X509_STORE_set_flags(st, X509_V_FLAG_X509_STRICT);
		if (X509_STORE_CTX_init(ctx, st, x, ts->cas) == 1) {
			ok = X509_verify_cert(ctx) == 1;
			if (!ok)
				snprintf(why, size, "%s", X509_verify_cert_error_string(
					X509_STORE_CTX_get_error(ctx)));
		}
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

/* Anchors self-signed CAs, every other CA chains to them (trust_set_load, trust_set_new). */
static tw_rc ts_validate(struct trust_set *ts, struct tw_error *err)
{
	for (int i = 0; i < sk_X509_num(ts->anchors); i++) {
		X509 *a = sk_X509_value(ts->anchors, i);

		if (X509_check_issued(a, a) != X509_V_OK || X509_check_ca(a) == 0)
			return tw_error_set(err, TW_E_CONFIG, "[trust] anchors: certificate %d is not a "
				"self-signed CA certificate (a Root)", i + 1);
	}
	for (int i = 0; i < sk_X509_num(ts->cas); i++) {
		X509 *c = sk_X509_value(ts->cas, i);
		char why[256] = "", name[256];

		if (X509_check_ca(c) == 0 || !ts_verifies(ts, c, why, sizeof(why))) {
			X509_NAME_oneline(X509_get_subject_name(c), name, sizeof(name));
			return tw_error_set(err, TW_E_CONFIG, "[trust] cas: %s does not chain to a "
				"configured anchor or is no CA (%s)", name, why[0] ? why : "not a CA");
		}
	}
	ERR_clear_error();
	return TW_OK;
}

tw_rc trust_set_new(STACK_OF(X509) *anchors, STACK_OF(X509) *cas, struct trust_set **out,
	struct tw_error *err)
{
	struct trust_set *ts;
	tw_rc rc;

	*out = NULL;
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ts->anchors = X509_chain_up_ref(anchors);
	ts->cas = cas != NULL ? X509_chain_up_ref(cas) : sk_X509_new_null();
	if (ts->anchors == NULL || ts->cas == NULL) {
		trust_set_free(ts);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	if ((rc = ts_validate(ts, err)) != TW_OK) {
		trust_set_free(ts);
		return rc;
	}
	*out = ts;
	return TW_OK;
}

tw_rc trust_set_load(const struct tw_home *home, struct trust_set **out,
	struct tw_error *err)
{
	const char *anchors = tw_config_get(home->conf, "trust", "anchors");
	const char *cas = tw_config_get(home->conf, "trust", "cas");
	struct trust_set *ts;
	tw_rc rc;

	*out = NULL;
	if (anchors == NULL && cas == NULL)
		return TW_OK;
	if ((ts = calloc(1, sizeof(*ts))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	ts->anchors = sk_X509_new_null();
	ts->cas = sk_X509_new_null();
	if (ts->anchors == NULL || ts->cas == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	if ((rc = ts_read_list(home, "anchors", anchors != NULL ? anchors : "pki/root-ca.crt",
	    ts->anchors, err)) != TW_OK ||
	    (cas != NULL && (rc = ts_read_list(home, "cas", cas, ts->cas, err)) != TW_OK))
		goto fail;
	if ((rc = ts_validate(ts, err)) != TW_OK)
		goto fail;
	*out = ts;
	return TW_OK;
fail:
	trust_set_free(ts);
	return rc;
}

tw_rc trust_set_add_ca(struct trust_set *ts, X509 *ca, struct tw_error *err)
{
	if (ts == NULL || ca == NULL || X509_check_ca(ca) < 1)
		return tw_error_set(err, TW_E_INVALID, "not a CA certificate");
	if (X509_up_ref(ca) != 1)
		return tw_error_set(err, TW_E_INTERNAL, "cannot reference the CA certificate");
	if (sk_X509_push(ts->cas, ca) <= 0) {
		X509_free(ca);
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	return TW_OK;
}

X509 *trust_set_ca(const struct trust_set *ts, const X509_NAME *name)
{
	STACK_OF(X509) *lists[2] = { ts != NULL ? ts->cas : NULL,
		ts != NULL ? ts->anchors : NULL };

	for (int l = 0; l < 2; l++)
		for (int i = 0; lists[l] != NULL && i < sk_X509_num(lists[l]); i++)
			if (X509_NAME_cmp(X509_get_subject_name(sk_X509_value(lists[l], i)), name) == 0)
				return sk_X509_value(lists[l], i);
	return NULL;
}

tw_rc trust_name_text(const X509_NAME *name, char *out, size_t size, struct tw_error *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	tw_rc rc = TW_OK;

	if (b == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0 ||
	    (n = BIO_get_mem_data(b, &p)) < 0 || (size_t)n >= size) {
		rc = tw_error_set(err, TW_E_INVALID, "a CA name that does not print in %zu bytes",
			size);
	} else {
		memcpy(out, p, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(b);
	return rc;
}

/*
 * The store key of a CA's CRL: its name and a short hash of its public key, because two
 * CAs may carry the same name (every `init --test-pki` home has a TORWART-TEST.CA) and a
 * CRL must only ever be checked against the key that signed it.
 */
static tw_rc ts_ca_key(X509 *ca, char *out, size_t size, struct tw_error *err)
{
	unsigned char *spki = NULL, md[32];
	int n = i2d_PUBKEY(X509_get0_pubkey(ca), &spki);
	char name[900];
	tw_rc rc;

	if (n <= 0) {
		OPENSSL_free(spki);
		return tw_error_set(err, TW_E_CRYPTO, "a CA key that does not encode");
	}
	SHA256(spki, (size_t)n, md);
	OPENSSL_free(spki);
	if ((rc = trust_name_text(X509_get_subject_name(ca), name, sizeof(name), err)) != TW_OK)
		return rc;
	if ((size_t)snprintf(out, size, "%s #%02x%02x%02x%02x%02x%02x%02x%02x", name, md[0],
	    md[1], md[2], md[3], md[4], md[5], md[6], md[7]) >= size)
		return tw_error_set(err, TW_E_TOO_LARGE, "CA name too long");
	return TW_OK;
}

/* The trusted CA that signed cert (same name as its issuer and its key verifies). */
static X509 *ts_signer_of_cert(const struct trust_set *ts, X509 *cert)
{
	STACK_OF(X509) *lists[2] = { ts->cas, ts->anchors };

	for (int l = 0; l < 2; l++)
		for (int i = 0; i < sk_X509_num(lists[l]); i++) {
			X509 *ca = sk_X509_value(lists[l], i);

			if (X509_NAME_cmp(X509_get_subject_name(ca), X509_get_issuer_name(cert)) == 0 &&
			    X509_verify(cert, X509_get0_pubkey(ca)) == 1)
				return ca;
		}
	ERR_clear_error();
	return NULL;
}

static X509 *ts_signer_of_crl(const struct trust_set *ts, X509_CRL *crl)
{
	STACK_OF(X509) *lists[2] = { ts->cas, ts->anchors };

	for (int l = 0; l < 2; l++)
		for (int i = 0; i < sk_X509_num(lists[l]); i++) {
			X509 *ca = sk_X509_value(lists[l], i);

			if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0 &&
			    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
				return ca;
		}
	ERR_clear_error();
	return NULL;
}

static bool tc_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

/* Parse and verify; *crl_out (optional) gets the CRL (caller frees). */
static tw_rc tc_parse(const struct trust_set *ts, const unsigned char *der, size_t len,
	int64_t now_s, struct trust_crl_info *out, X509_CRL **crl_out, struct tw_error *err)
{
	const unsigned char *q = der;
	X509_CRL *crl = NULL;
	ASN1_INTEGER *num = NULL;
	X509 *ca;
	tw_rc rc = TW_OK;

	memset(out, 0, sizeof(*out));
	if (crl_out != NULL)
		*crl_out = NULL;
	if (der == NULL || len == 0 || len > 64L * 1024 * 1024 ||
	    (crl = d2i_X509_CRL(NULL, &q, (long)len)) == NULL || q != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "not one DER CRL");
		goto out;
	}
	if ((rc = trust_name_text(X509_CRL_get_issuer(crl), out->issuer, sizeof(out->issuer),
	    err)) != TW_OK)
		goto out;
	if (trust_set_ca(ts, X509_CRL_get_issuer(crl)) == NULL) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CRL of %s: not a trusted CA ([trust] "
			"anchors/cas)", out->issuer);
		goto out;
	}
	if ((ca = ts_signer_of_crl(ts, crl)) == NULL) {
		rc = tw_error_set(err, TW_E_CRYPTO, "CRL of %s: the signature does not verify with "
			"the key of a trusted CA of that name", out->issuer);
		goto out;
	}
	if ((rc = ts_ca_key(ca, out->issuer, sizeof(out->issuer), err)) != TW_OK)
		goto out;
	if (X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0) {
		rc = tw_error_set(err, TW_E_INVALID, "CRL of %s is a delta CRL; a full CRL is "
			"needed", out->issuer);
		goto out;
	}
	if (!tc_time(X509_CRL_get0_lastUpdate(crl), &out->this_update) ||
	    !tc_time(X509_CRL_get0_nextUpdate(crl), &out->next_update) ||
	    out->next_update <= out->this_update) {
		rc = tw_error_set(err, TW_E_INVALID, "CRL of %s without a valid thisUpdate/"
			"nextUpdate", out->issuer);
		goto out;
	}
	if (out->this_update > now_s + TRUST_SKEW_S) {
		rc = tw_error_set(err, TW_E_INVALID, "CRL of %s is issued in the future", out->issuer);
		goto out;
	}
	if ((num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL)) != NULL &&
	    ASN1_INTEGER_get_int64(&out->number, num) != 1)
		out->number = INT64_MAX;     /* larger than we count: keep, never roll back */
	if (crl_out != NULL) {
		*crl_out = crl;
		crl = NULL;
	}
out:
	ASN1_INTEGER_free(num);
	X509_CRL_free(crl);
	ERR_clear_error();
	return rc;
}

tw_rc trust_crl_check(const struct trust_set *ts, const unsigned char *der, size_t len,
	int64_t now_s, struct trust_crl_info *out, struct tw_error *err)
{
	return tc_parse(ts, der, len, now_s, out, NULL, err);
}

/*
 * The first distribution point of cert with scheme (7 characters: "http://" or
 * "ldap://"), into url; false if none.
 */
static bool tc_dp_scheme(X509 *cert, const char *scheme, char *url, size_t size)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL,
		NULL);
	bool found = false;

	for (int i = 0; !found && dps != NULL && i < sk_DIST_POINT_num(dps); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (int j = 0; !found && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname);
		     j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const unsigned char *s;
			int n;

			if (gn->type != GEN_URI)
				continue;
			s = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
			if (n > 7 && (size_t)n < size && strncasecmp((const char *)s, scheme, 7) == 0 &&
			    memchr(s, '\0', (size_t)n) == NULL) {
				memcpy(url, s, (size_t)n);
				url[n] = '\0';
				found = true;
			}
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ERR_clear_error();
	return found;
}

/* The distribution point the worker fetches from: HTTP where named, else LDAP. */
static bool tc_http_dp(X509 *cert, char *url, size_t size)
{
	return tc_dp_scheme(cert, "http://", url, size) ||
		tc_dp_scheme(cert, "ldap://", url, size);
}

tw_rc trust_check(struct tw_store *store, const struct trust_set *ts, X509 *cert,
	int64_t now_s, struct tw_error *err)
{
	char issuer[1024], url[STORE_TRUST_URL_MAX + 1];
	struct store_trust_crl row;
	struct trust_crl_info info;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL;
	tw_rc rc;

	X509 *ca;

	memset(&row, 0, sizeof(row));
	if ((rc = trust_name_text(X509_get_issuer_name(cert), issuer, sizeof(issuer), err)) !=
	    TW_OK)
		return rc;
	if ((ca = ts_signer_of_cert(ts, cert)) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "the issuer %s is not a trusted CA (or "
			"its key did not sign this certificate)", issuer);
	if ((rc = ts_ca_key(ca, issuer, sizeof(issuer), err)) != TW_OK)
		return rc;
	rc = store_trust_crl_get(store, issuer, &row, err);
	if (rc == TW_E_NOT_FOUND) {
		if (!tc_http_dp(cert, url, sizeof(url)))
			return tw_error_set(err, TW_E_UNAVAILABLE, "no CRL of %s, and the certificate "
				"names no http:// or ldap:// distribution point to fetch one from", issuer);
		if ((rc = store_trust_crl_source(store, issuer, url, err)) != TW_OK)
			return rc;
		tw_info("trust: first certificate of %s: its CRL will be fetched from %s", issuer,
			url);
		return tw_error_set(err, TW_E_UNAVAILABLE, "no CRL of %s yet (the worker fetches "
			"it from %s); try again shortly", issuer, url);
	}
	if (rc != TW_OK)
		return rc;
	if (row.der == NULL) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "no CRL of %s fetched yet%s%s", issuer,
			row.last_error[0] ? ": " : "", row.last_error);
		goto out;
	}
	if (row.next_update <= now_s) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "the CRL of %s is stale (nextUpdate "
			"passed %lld s ago): certificates of this CA are refused until a current "
			"one is fetched", issuer, (long long)(now_s - row.next_update));
		goto out;
	}
	if ((rc = tc_parse(ts, row.der, row.der_len, now_s, &info, &crl, err)) != TW_OK)
		goto out;
	if (strcmp(info.issuer, issuer) != 0) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "the cached CRL of %s was signed by another "
			"key (%s)", issuer, info.issuer);
		goto out;
	}
	if (X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(cert)) == 1)
		rc = tw_error_set(err, TW_E_DENIED, "the certificate is revoked (CRL %lld of %s)",
			(long long)info.number, issuer);
out:
	X509_CRL_free(crl);
	store_trust_crl_clear(&row);
	return rc;
}

/*
 * The CRL of cert's issuer, now (trust.h). The checks are tf_take's in the fetcher: the
 * bytes must be a CRL of the very key that signed cert, and never an older one than the
 * cached CRL (a replayed CRL must not undo a revocation).
 */
tw_rc trust_crl_refresh(struct tw_store *store, const struct trust_set *ts, X509 *cert,
	long timeout_s, size_t max, struct tw_error *err)
{
	char issuer[1024], url[STORE_TRUST_URL_MAX + 1];
	struct store_trust_crl row, put;
	struct trust_crl_info info;
	struct trust_ldap_target t;
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *ca;
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	if ((ca = ts_signer_of_cert(ts, cert)) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "the issuer of the certificate is not a "
			"trusted CA (or its key did not sign it)");
	if ((rc = ts_ca_key(ca, issuer, sizeof(issuer), err)) != TW_OK)
		return rc;
	if (!tc_http_dp(cert, url, sizeof(url)))
		return tw_error_set(err, TW_E_NOT_FOUND, "the certificate names no http:// or "
			"ldap:// CRL distribution point: its revocation cannot be checked");
	if ((rc = store_trust_crl_source(store, issuer, url, err)) != TW_OK)
		return rc;
	rc = store_trust_crl_get(store, issuer, &row, err);
	if (rc != TW_OK)
		goto out;
	if (strncasecmp(url, "ldap://", 7) == 0) {
		if ((rc = trust_ldap_target_parse(url, &t, err)) == TW_OK)
			rc = trust_ldap_fetch(&t, timeout_s, max, &der, &len, err);
	} else {
		rc = trust_http_fetch(url, timeout_s, max, &der, &len, err);
	}
	if (rc == TW_OK && (rc = trust_crl_check(ts, der, len, (int64_t)time(NULL), &info,
	    err)) == TW_OK) {
		if (strcmp(info.issuer, issuer) != 0)
			rc = tw_error_set(err, TW_E_INTEGRITY, "the CRL from %s is issued by %.200s, "
				"not by the certificate's issuer", url, info.issuer);
		else if (row.der != NULL && info.number < row.number)
			rc = tw_error_set(err, TW_E_INTEGRITY, "CRL number %lld from %s is older than "
				"the cached %lld (replayed CRL refused)", (long long)info.number, url,
				(long long)row.number);
	}
	if (rc == TW_OK) {
		memset(&put, 0, sizeof(put));
		snprintf(put.issuer, sizeof(put.issuer), "%s", issuer);
		snprintf(put.url, sizeof(put.url), "%s", url);
		put.number = info.number;
		put.this_update = info.this_update;
		put.next_update = info.next_update;
		put.fetched_ms = tw_now_ms();
		put.der = der;
		put.der_len = len;
		rc = store_trust_crl_put(store, &put, err);
	} else {
		struct tw_error e2;

		if (store_trust_crl_failed(store, issuer, tw_now_ms(), err->message, &e2) != TW_OK)
			tw_warn("trust: cannot record a failed fetch: %s", e2.message);
	}
out:
	free(der);
	store_trust_crl_clear(&row);
	return rc;
}

/* The role label of an SM-PKI CN "<name>.<ROLE>[.<...>]" into role; false if none. */
static bool tp_role(const char *cn, char *role, size_t size)
{
	const char *a = strchr(cn, '.'), *b;
	size_t n;

	if (a == NULL)
		return false;
	a++;
	b = strchr(a, '.');
	n = b != NULL ? (size_t)(b - a) : strlen(a);
	if (n == 0 || n >= size)
		return false;
	memcpy(role, a, n);
	role[n] = '\0';
	return strcmp(role, "EMT") == 0 || strcmp(role, "GWA") == 0 || strcmp(role, "GWH") == 0;
}

tw_rc trust_check_participant(struct tw_store *store, const struct trust_set *ts,
	X509 *cert, const char *role, int64_t now_s, struct trust_participant *out,
	struct tw_error *err)
{
	const X509_NAME *subj;
	uint32_t xku;

	memset(out, 0, sizeof(*out));
	if (ts == NULL || cert == NULL || trust_set_ca(ts, X509_get_issuer_name(cert)) == NULL)
		return tw_error_set(err, TW_E_NOT_FOUND, "not a certificate of a trusted CA of the "
			"SM-PKI ([trust] anchors/cas)");
	subj = X509_get_subject_name(cert);
	X509_NAME_get_text_by_NID(X509_get_issuer_name(cert), NID_commonName, out->ca,
		sizeof(out->ca));
	if (X509_NAME_get_text_by_NID((X509_NAME *)subj, NID_commonName, out->cn,
	    sizeof(out->cn)) <= 0 ||
	    X509_NAME_get_text_by_NID((X509_NAME *)subj, NID_organizationalUnitName, out->mp_id,
	    sizeof(out->mp_id)) <= 0 || !tp_role(out->cn, out->role, sizeof(out->role))) {
		ERR_clear_error();
		return tw_error_set(err, TW_E_DENIED, "certificate of %s: the subject does not "
			"name an SM-PKI participant (CN <name>.<EMT|GWA|GWH>..., OU market partner "
			"id)", out->ca);
	}
	if (role != NULL && strcmp(out->role, role) != 0)
		return tw_error_set(err, TW_E_DENIED, "certificate of %s (%s): role %s, %s needed",
			out->ca, out->cn, out->role, role);
	xku = X509_get_extended_key_usage(cert);
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
	    (xku & (XKU_SSL_CLIENT | XKU_SSL_SERVER)) == 0)
		return tw_error_set(err, TW_E_DENIED, "certificate of %s (%s) is not a TLS "
			"certificate", out->ca, out->cn);
	return trust_check(store, ts, cert, now_s, err);
}
