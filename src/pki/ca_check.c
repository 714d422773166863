/*
 * ca_check.c: validity checking of certificates for pre-personalisation phase 2
 * (ca_check.h, DOMAIN.md S-7). Parsing uses only OpenSSL (PEM_read_bio_X509, d2i_X509);
 * the chain is verified with X509_verify_cert in strict mode against this Sub-CA's
 * certificate; status, revocation reason and date come from the store. All results are
 * audited together ("ca.check", one entry per certificate) before any is returned.
 */
#include "pki/ca_check.h"
#include "pki/ca_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "audit/audit.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "pki/crl.h"
#include "pki/profile.h"
#include "store/store_ca.h"

#define CA_CHECK_TIME_MAX INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */

static const char *const ca_check_names[] = {
	"valid", "expired", "not-yet-valid", "revoked", "unknown", "bad-signature", "unreadable",
};

const char *ca_check_status_name(enum ca_check_status s)
{
	if ((size_t)s >= sizeof(ca_check_names) / sizeof(ca_check_names[0]))
		return "?";
	return ca_check_names[s];
}

/* ---- input ---- */

/* Certificates never carry encrypted PEM headers: refuse instead of prompting. */
static int ca_check_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static bool ca_check_looks_pem(const unsigned char *in, size_t len)
{
	static const char tag[] = "-----BEGIN ";
	const size_t n = sizeof(tag) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (in[i] == '-' && memcmp(in + i, tag, n) == 0)
			return true;
	return false;
}

static tw_rc ca_check_parse_pem(const unsigned char *in, size_t len, size_t max,
	STACK_OF(X509) *sk, struct tw_error *err)
{
	BIO *bio = BIO_new_mem_buf(in, (int)len);
	tw_rc rc = TW_OK;

	if (bio == NULL)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot read the input");
	for (;;) {
		X509 *x;
		unsigned long e;

		ERR_set_mark();
		x = PEM_read_bio_X509(bio, NULL, ca_check_no_password, NULL);
		if (x == NULL) {
			e = ERR_peek_last_error();
			if (sk_X509_num(sk) > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
				ERR_pop_to_mark();    /* the normal end of the input */
				break;
			}
			ERR_clear_last_mark();
			rc = tw_error_set_openssl(err, TW_E_INVALID, sk_X509_num(sk) == 0 ?
				"the input holds no readable PEM CERTIFICATE block" :
				"PEM CERTIFICATE block %d does not parse", sk_X509_num(sk) + 1);
			break;
		}
		ERR_clear_last_mark();
		if ((size_t)sk_X509_num(sk) >= max) {
			X509_free(x);
			rc = tw_error_set(err, TW_E_TOO_LARGE, "the input holds more than %zu "
				"certificates; check them in several runs", max);
			break;
		}
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
	}
	BIO_free(bio);
	return rc;
}

tw_rc ca_check_parse(const unsigned char *in, size_t len, size_t max, STACK_OF(X509) **out,
	struct tw_error *err)
{
	STACK_OF(X509) *sk = NULL;
	const unsigned char *p = in;
	X509 *x = NULL;
	tw_rc rc = TW_OK;

	*out = NULL;
	if (in == NULL || len == 0)
		return tw_error_set(err, TW_E_INVALID, "the input is empty; give a PEM or DER "
			"certificate");
	if (len > CA_CHECK_FILE_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "the input is larger than %d bytes",
			CA_CHECK_FILE_MAX);
	if (max == 0)
		return tw_error_set(err, TW_E_TOO_LARGE, "no more certificates may be checked "
			"in this run (at most %d)", CA_CHECK_CERTS_MAX);
	if ((sk = sk_X509_new_null()) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (ca_check_looks_pem(in, len)) {
		rc = ca_check_parse_pem(in, len, max, sk, err);
	} else if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "the input is neither a DER "
			"certificate nor PEM");
	} else if (p != in + len) {
		rc = tw_error_set(err, TW_E_INVALID, "%zu bytes follow the DER certificate; give "
			"one DER certificate per file or a PEM bundle", (size_t)(in + len - p));
	} else if (sk_X509_push(sk, x) <= 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	} else {
		x = NULL;
	}
	X509_free(x);
	ERR_clear_error();
	if (rc == TW_OK)
		*out = sk;
	else
		sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* ---- time ---- */

/* s matches pattern: '9' a digit, anything else itself. Copies the digits into d. */
static bool ca_check_time_match(const char *s, const char *pattern, char *d, size_t *nd)
{
	*nd = 0;
	for (; *pattern != '\0'; pattern++, s++) {
		if (*pattern == '9') {
			if (*s < '0' || *s > '9')
				return false;
			d[(*nd)++] = *s;
		} else if (*s != *pattern) {
			return false;
		}
	}
	return *s == '\0';
}

tw_rc ca_check_time_parse(const char *s, int64_t *at, struct tw_error *err)
{
	static const char *const patterns[] = {
		"9999-99-99", "9999-99-99T99:99", "9999-99-99T99:99Z", "9999-99-99T99:99:99",
		"9999-99-99T99:99:99Z", "99999999999999Z",
	};
	char digits[16], gen[16];
	size_t nd = 0;
	bool matched = false;
	ASN1_TIME *t = NULL, *epoch = NULL;
	int days = 0, secs = 0;
	tw_rc rc = TW_OK;

	*at = 0;
	if (s == NULL)
		return tw_error_set(err, TW_E_INVALID, "no time given");
	if (s[0] == '@') {
		long v;

		if ((rc = tw_parse_long(s + 1, 0, LONG_MAX, &v, err, "time (seconds since the "
			"epoch)")) != TW_OK)
			return rc;
		if ((int64_t)v > CA_CHECK_TIME_MAX)
			return tw_error_set(err, TW_E_INVALID, "time %s is after the year 9999", s);
		*at = (int64_t)v;
		return TW_OK;
	}
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]) && !matched; i++)
		matched = strlen(s) == strlen(patterns[i]) &&
			ca_check_time_match(s, patterns[i], digits, &nd);
	if (!matched)
		return tw_error_set(err, TW_E_INVALID, "time '%s' is not YYYY-MM-DD, "
			"YYYY-MM-DDTHH:MM[:SS][Z] (UTC), YYYYMMDDHHMMSSZ or @SECONDS", s);
	memset(gen, '0', 14);
	memcpy(gen, digits, nd);
	gen[14] = 'Z';
	gen[15] = '\0';
	if ((t = ASN1_TIME_new()) == NULL || (epoch = ASN1_TIME_set(NULL, 0)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "out of memory");
	} else if (ASN1_TIME_set_string_X509(t, gen) != 1) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "time '%s' is not a valid date and "
			"time", s);
	} else if (ASN1_TIME_diff(&days, &secs, epoch, t) != 1 || days < 0 || secs < 0) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "time '%s' is before 1970", s);
	} else {
		*at = (int64_t)days * 86400 + secs;
	}
	ASN1_TIME_free(t);
	ASN1_TIME_free(epoch);
	ERR_clear_error();
	return rc;
}

/* ISO 8601 text of t, "?" when it cannot be printed. */
static void ca_check_time_text(const ASN1_TIME *t, char *out, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;

	snprintf(out, size, "?");
	if (bio != NULL && ASN1_TIME_print_ex(bio, t, ASN1_DTFLGS_ISO8601) == 1 &&
	    (len = BIO_get_mem_data(bio, &data)) > 0)
		snprintf(out, size, "%.*s", (int)len, data);
	BIO_free(bio);
	ERR_clear_error();
}

/* ---- judging ---- */

struct ca_check_ctx {
	struct tw_store *store;
	struct pki_ca_config *cfg;
	X509 *ca_cert;
	X509_STORE *trust;
	char issuer[STORE_TEXT_MAX + 1];
	int64_t at;
	time_t at_t;
};

static void ca_check_ctx_free(struct ca_check_ctx *c)
{
	X509_STORE_free(c->trust);
	X509_free(c->ca_cert);
	pki_ca_config_free(c->cfg);
	memset(c, 0, sizeof(*c));
}

static tw_rc ca_check_ctx_init(struct ca_check_ctx *c, const struct tw_home *home,
	struct tw_store *store, const char *ca, int64_t at, struct tw_error *err)
{
	char *path = NULL;
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	c->store = store;
	c->at = at;
	c->at_t = (time_t)at;
	if ((rc = pki_ca_config_load(home->conf, ca, &c->cfg, err)) != TW_OK)
		return rc;
	if ((path = crl_home_path(home, c->cfg->cert_path)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(path))
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' has no certificate at %s (create "
			"a test PKI with `torwart init --test-pki` or set [ca.%s] cert)", ca, path, ca);
	else
		rc = keys_read_cert_pem(path, &c->ca_cert, err);
	free(path);
	if (rc != TW_OK ||
	    (rc = ca_name_text(X509_get_subject_name(c->ca_cert), c->issuer, sizeof(c->issuer),
		err)) != TW_OK)
		return rc;
	/* This Sub-CA is the anchor: "issued by us" is the question, not the Root's trust. */
	if ((c->trust = X509_STORE_new()) == NULL || X509_STORE_add_cert(c->trust,
		c->ca_cert) != 1)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the trust store");
	return TW_OK;
}

static void ca_check_set(struct ca_check_result *r, enum ca_check_status s, const char *fmt,
	...) __attribute__((format(printf, 3, 4)));

static void ca_check_set(struct ca_check_result *r, enum ca_check_status s, const char *fmt,
	...)
{
	va_list ap;

	r->status = s;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Step 1: chain and signature against this Sub-CA, strict, time not checked. *done when judged. */
static tw_rc ca_check_chain(struct ca_check_ctx *c, X509 *x, struct ca_check_result *r,
	bool *done, struct tw_error *err)
{
	X509_STORE_CTX *v = X509_STORE_CTX_new();
	char issuer[STORE_TEXT_MAX + 1];
	int ok, e;
	tw_rc rc = TW_OK;

	*done = false;
	if (v == NULL || X509_STORE_CTX_init(v, c->trust, x, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot set up chain verification");
		goto out;
	}
	X509_STORE_CTX_set_flags(v, X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN |
		X509_V_FLAG_NO_CHECK_TIME);
	ok = X509_verify_cert(v);
	if (ok < 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "chain verification failed internally");
		goto out;
	}
	if (ok == 1)
		goto out;
	*done = true;
	e = X509_STORE_CTX_get_error(v);
	if (ca_name_text(X509_get_issuer_name(x), issuer, sizeof(issuer), err) != TW_OK)
		snprintf(issuer, sizeof(issuer), "?");
	if (strcmp(issuer, c->issuer) != 0 &&
	    (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	     e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	     e == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE ||
	     e == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	     e == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN))
		ca_check_set(r, CA_CHECK_UNKNOWN, "not issued by this Sub-CA: issuer is '%s', "
			"this Sub-CA is '%s'", issuer, c->issuer);
	else
		ca_check_set(r, CA_CHECK_BAD_SIGNATURE, "does not verify against this Sub-CA "
			"('%s'; wrong issuer key, tampered or not X.509-strict): %s", c->issuer,
			X509_verify_cert_error_string(e));
out:
	X509_STORE_CTX_free(v);
	ERR_clear_error();
	return rc;
}

/* Step 4: at the checking time, is the certificate (and the Sub-CA certificate) in force? */
static void ca_check_times(struct ca_check_ctx *c, X509 *x, struct ca_check_result *r)
{
	X509 *who[2] = { x, c->ca_cert };
	char when[64];

	for (int i = 0; i < 2; i++) {
		const ASN1_TIME *nb = X509_get0_notBefore(who[i]);
		const ASN1_TIME *na = X509_get0_notAfter(who[i]);
		const char *what = i == 0 ? "the certificate" : "the Sub-CA certificate";
		/* -1 before, 0 equal, 1 after at; -2 unreadable. notAfter itself is still valid. */
		int b = ASN1_TIME_cmp_time_t(nb, c->at_t), a = ASN1_TIME_cmp_time_t(na, c->at_t);

		if (b == -2 || a == -2) {
			ca_check_set(r, CA_CHECK_BAD_SIGNATURE, "%s has unreadable validity times",
				what);
			return;
		}
		if (b > 0) {
			ca_check_time_text(nb, when, sizeof(when));
			ca_check_set(r, CA_CHECK_NOT_YET_VALID, "%s is valid only from %s", what,
				when);
			return;
		}
		if (a == -1) {
			ca_check_time_text(na, when, sizeof(when));
			ca_check_set(r, CA_CHECK_EXPIRED, "%s expired at %s", what, when);
			return;
		}
	}
	ca_check_time_text(X509_get0_notAfter(x), when, sizeof(when));
	ca_check_set(r, CA_CHECK_VALID, "issued by this Sub-CA, not revoked, valid until %s",
		when);
}

static tw_rc ca_check_cert(struct ca_check_ctx *c, X509 *x, struct ca_check_result *r,
	struct tw_error *err)
{
	struct store_ca_cert row;
	char fp[65], when[40];
	bool done = false;
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	if ((rc = ca_serial_hex(x, r->serial, err)) != TW_OK ||
	    (rc = ca_name_text(X509_get_subject_name(x), r->subject, sizeof(r->subject),
		err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(x, fp, err)) != TW_OK) {
		/* A certificate we cannot even describe is judged, not a failure of the run. */
		ca_check_set(r, CA_CHECK_BAD_SIGNATURE, "cannot read its serial, subject or "
			"encoding: %s", err->message);
		return TW_OK;
	}
	if ((rc = ca_check_chain(c, x, r, &done, err)) != TW_OK || done)
		return rc;
	rc = store_ca_cert_get(c->store, c->issuer, r->serial, false, &row, err);
	if (rc == TW_E_NOT_FOUND) {
		ca_check_set(r, CA_CHECK_UNKNOWN, "signed with this Sub-CA's key but serial %s "
			"is not in its store; tell the CA operator", r->serial);
		rc = TW_OK;
	} else if (rc != TW_OK) {
		/* the store failed: the whole run fails */
	} else if (strcmp(row.fingerprint, fp) != 0) {
		ca_check_set(r, CA_CHECK_UNKNOWN, "the store's certificate with serial %s is a "
			"different one (SHA-256 %s, given %s)", r->serial, row.fingerprint, fp);
	} else if (strcmp(row.status, "revoked") == 0 || row.revoked_ms > 0) {
		tw_time_format_utc(row.revoked_ms, when, sizeof(when));
		ca_check_set(r, CA_CHECK_REVOKED, "revoked at %s, reason %s", when,
			ca_reason_name(row.revocation_reason));
	} else {
		ca_check_times(c, x, r);
	}
	store_ca_cert_clear(&row);
	return rc;
}

/* ---- the run ---- */

struct ca_check_list {
	struct ca_check_result *v;
	size_t n, cap;
};

static struct ca_check_result *ca_check_add(struct ca_check_list *l, const char *file,
	size_t index, struct tw_error *err)
{
	struct ca_check_result *r;

	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 16 : l->cap * 2;
		struct ca_check_result *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL) {
			tw_error_set(err, TW_E_NOMEM, "out of memory");
			return NULL;
		}
		l->v = v;
		l->cap = cap;
	}
	r = &l->v[l->n++];
	memset(r, 0, sizeof(*r));
	r->file = file;
	r->index = index;
	return r;
}

static tw_rc ca_check_one_file(struct ca_check_ctx *c, const char *file,
	struct ca_check_list *l, size_t *n_certs, struct tw_error *err)
{
	unsigned char *in = NULL;
	size_t len = 0;
	STACK_OF(X509) *sk = NULL;
	struct ca_check_result *r;
	struct tw_error why;
	tw_rc rc = TW_OK, prc;

	tw_error_clear(&why);
	prc = tw_read_file(file, CA_CHECK_FILE_MAX, &in, &len, &why);
	if (prc == TW_OK) {
		prc = ca_check_parse(in, len, CA_CHECK_CERTS_MAX - *n_certs, &sk, &why);
		/* The file size is bounded before parsing: TOO_LARGE here is the count limit. */
		if (prc == TW_E_TOO_LARGE) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "more than %d certificates in one "
				"run (%s); check them in several runs", CA_CHECK_CERTS_MAX, file);
			goto out;
		}
	}
	if (prc != TW_OK) {
		if ((r = ca_check_add(l, file, 0, err)) == NULL) {
			rc = TW_E_NOMEM;
			goto out;
		}
		ca_check_set(r, CA_CHECK_UNREADABLE, "%s", why.message);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(sk); i++) {
		if ((r = ca_check_add(l, file, (size_t)i + 1, err)) == NULL) {
			rc = TW_E_NOMEM;
			goto out;
		}
		if ((rc = ca_check_cert(c, sk_X509_value(sk, i), r, err)) != TW_OK)
			goto out;
		(*n_certs)++;
	}
out:
	sk_X509_pop_free(sk, X509_free);
	free(in);
	return rc;
}

static tw_rc ca_check_audit(struct tw_store *store, const struct ca_actor *who,
	const struct ca_check_result *r, int64_t at, struct tw_error *err)
{
	char object[STORE_NAME_MAX + 1], detail[STORE_TEXT_MAX + 1], when[40];
	struct audit_entry e = {
		.actor = who->actor, .role = who->role, .client = who->client,
		.action = "ca.check", .object = object, .result = ca_check_status_name(r->status),
		.detail = detail,
	};

	if (r->status == CA_CHECK_UNREADABLE)
		snprintf(object, sizeof(object), "file:%.*s", STORE_NAME_MAX - 5, r->file);
	else
		snprintf(object, sizeof(object), "%s", r->serial);
	tw_time_format_utc(at * 1000, when, sizeof(when));
	snprintf(detail, sizeof(detail), "at=%s file=%.200s#%zu subject=%.300s: %s", when,
		r->file, r->index, r->subject, r->reason);
	return audit_append_in_tx(store, &e, err);
}

tw_rc ca_check_files(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *ca, const char *const *files, size_t n,
	int64_t at, struct ca_check_result **out, size_t *n_out, struct tw_error *err)
{
	struct ca_check_ctx c;
	struct ca_check_list l = { NULL, 0, 0 };
	size_t n_certs = 0;
	tw_rc rc;

	*out = NULL;
	*n_out = 0;
	memset(&c, 0, sizeof(c));
	if (n == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "no certificate file to check");
		goto out;
	}
	if (at < 0 || at > CA_CHECK_TIME_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "checking time %lld is out of range",
			(long long)at);
		goto out;
	}
	if ((rc = ca_check_ctx_init(&c, home, store, ca != NULL ? ca : CA_DEFAULT_NAME, at,
		err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = ca_check_one_file(&c, files[i], &l, &n_certs, err)) != TW_OK)
			goto out;
	/* Judged: now every result is audited, all or none, before anyone sees one. */
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		if ((rc = ca_check_audit(store, who, &l.v[i], at, err)) != TW_OK)
			goto rollback;
	if ((rc = store_commit(store, err)) != TW_OK)
		goto rollback;
	*out = l.v;
	*n_out = l.n;
	l.v = NULL;
	goto out;     /* the common exit: frees the context; l.v is handed over */
rollback:
	store_rollback(store);
out:
	ca_check_ctx_free(&c);
	free(l.v);
	return rc;
}
