/*
 * ca.c: registration authority and issuance (ca.h). Requests are parsed and verified by
 * request.c; this file adds what needs the store: the registration match, the replay
 * check, the status of renewal/authorisation signer certificates, the queue and the
 * issuance itself, each mutation with its admin-log entry in the same transaction.
 */
#include "pki/ca.h"
#include "pki/ca_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "pki/certstore.h"
#include "pki/crl.h"
#include "pki/profile.h"
#include "pki/request.h"


static const char *const ca_reasons[] = {
	"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
	"cessationOfOperation", "certificateHold", NULL, "removeFromCRL", "privilegeWithdrawn",
	"aACompromise",
};

const char *ca_reason_name(int reason)
{
	if (reason < 0 || reason > 10 || ca_reasons[reason] == NULL)
		return "?";
	return ca_reasons[reason];
}

/* Compare ignoring case and '-'/'_' so "key-compromise" matches "keyCompromise". */
static bool ca_loose_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '-' || *a == '_')
			a++;
		while (*b == '-' || *b == '_')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if ((*a | 0x20) != (*b | 0x20))
			return false;
		a++;
		b++;
	}
}

tw_rc ca_reason_parse(const char *name, int *reason, struct tw_error *err)
{
	long v;

	*reason = -1;
	if (name == NULL)
		return tw_error_set(err, TW_E_INVALID, "no revocation reason given");
	if (name[0] >= '0' && name[0] <= '9') {
		if (tw_parse_long(name, 0, 10, &v, err, "revocation reason") != TW_OK || v == 7)
			return tw_error_set(err, TW_E_INVALID, "revocation reason '%s' is not an RFC "
				"5280 CRLReason (0-10 without 7)", name);
		*reason = (int)v;
		return TW_OK;
	}
	for (int i = 0; i <= 10; i++) {
		if (ca_reasons[i] != NULL && ca_loose_eq(name, ca_reasons[i])) {
			*reason = i;
			return TW_OK;
		}
	}
	return tw_error_set(err, TW_E_INVALID, "unknown revocation reason '%s'; use one of "
		"unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
		"cessationOfOperation, certificateHold, removeFromCRL, privilegeWithdrawn, "
		"aACompromise", name);
}

tw_rc ca_serial_normalise(const char *in, char *out, size_t size, struct tw_error *err)
{
	size_t n = 0;

	if (in == NULL || size == 0)
		return tw_error_set(err, TW_E_INVALID, "no serial given");
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	for (; *in != '\0'; in++) {
		char c = *in;

		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return tw_error_set(err, TW_E_INVALID, "serial must be hexadecimal "
				"(as `torwart ca list` prints it)");
		if (n + 1 >= size)
			return tw_error_set(err, TW_E_TOO_LARGE, "serial is longer than %zu digits",
				size - 1);
		out[n++] = c;
	}
	if (n == 0)
		return tw_error_set(err, TW_E_INVALID, "serial is empty");
	out[n] = '\0';
	/* certstore.c stores whole bytes (BN_bn2hex): give an odd count its leading zero. */
	if (n % 2 == 1) {
		if (n + 2 > size)
			return tw_error_set(err, TW_E_TOO_LARGE, "serial is too long");
		memmove(out + 1, out, n + 1);
		out[0] = '0';
	}
	return TW_OK;
}

tw_rc ca_name_text(const X509_NAME *name, char *out, size_t size, struct tw_error *err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	tw_rc rc = TW_OK;

	if (bio == NULL || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0 ||
	    (len = BIO_get_mem_data(bio, &data)) < 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot print a name");
	} else if ((size_t)len >= size) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "name longer than %zu bytes", size - 1);
	} else {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(bio);
	return rc;
}

static tw_rc ca_load_cert(const struct tw_home *home, const struct pki_ca_config *cfg,
	X509 **out, struct tw_error *err)
{
	char *path = crl_home_path(home, cfg->cert_path);
	tw_rc rc;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(path))
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' has no certificate at %s (create "
			"a test PKI with `torwart init --test-pki` or set [ca.%s] cert)", cfg->name,
			path, cfg->name);
	else
		rc = keys_read_cert_pem(path, out, err);
	free(path);
	return rc;
}

tw_rc ca_issuer_name(const struct tw_home *home, const char *ca, char *out, size_t size,
	struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	X509 *x = NULL;
	tw_rc rc;

	if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) == TW_OK &&
	    (rc = ca_load_cert(home, cfg, &x, err)) == TW_OK)
		rc = ca_name_text(X509_get_subject_name(x), out, size, err);
	X509_free(x);
	pki_ca_config_free(cfg);
	return rc;
}

void ca_run_free(struct ca_run *r)
{
	X509_STORE_free(r->trust);
	X509_free(r->ca_cert);
	pki_ca_config_free(r->cfg);
	memset(r, 0, sizeof(*r));
}

tw_rc ca_run_init(struct ca_run *r, const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, struct tw_error *err)
{
	tw_rc rc;

	memset(r, 0, sizeof(*r));
	r->home = home;
	r->store = store;
	r->who = who;
	if ((rc = pki_ca_config_load(home->conf, CA_DEFAULT_NAME, &r->cfg, err)) != TW_OK ||
	    (rc = ca_load_cert(home, r->cfg, &r->ca_cert, err)) != TW_OK ||
	    (rc = ca_name_text(X509_get_subject_name(r->ca_cert), r->issuer, sizeof(r->issuer),
		err)) != TW_OK ||
	    (rc = store_tenant_ensure(store, "default", &r->tenant_id, err)) != TW_OK)
		return rc;
	/* Renewal and authorisation signers must chain to our CA (it is the anchor here). */
	if ((r->trust = X509_STORE_new()) == NULL || X509_STORE_add_cert(r->trust,
		r->ca_cert) != 1 || X509_STORE_set_flags(r->trust, X509_V_FLAG_PARTIAL_CHAIN) != 1)
		return tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the trust store");
	return TW_OK;
}

/* One admin-log entry; inside a transaction when the caller opened one. */
tw_rc ca_audit(struct ca_run *r, const char *action, const char *object,
	const char *result, const char *code, const char *detail, struct tw_error *err)
{
	struct audit_entry e = {
		.actor = r->who->actor, .role = r->who->role, .client = r->who->client,
		.action = action, .object = object, .result = result, .detail = detail,
		.error_code = code,
	};

	if (store_in_transaction(r->store))
		return audit_append_in_tx(r->store, &e, err);
	return audit_append(r->store, &e, err);
}

/* A rejection: audited on its own, nothing else written. Returns the original rc. */
tw_rc ca_refuse(struct ca_run *r, const char *object, enum pki_result res, tw_rc rc,
	const struct tw_error *why)
{
	char detail[STORE_TEXT_MAX + 1];
	struct tw_error aerr;

	snprintf(detail, sizeof(detail), "%s: %s", pki_result_name(res), why->message);
	if (ca_audit(r, "ca.request.refuse", object, "refused", pki_result_name(res), detail,
		&aerr) != TW_OK)
		tw_warn("refusal of %s not audited: %s", object, aerr.message);
	return rc;
}

/* ---- registration and the queue ---- */

tw_rc ca_register(struct tw_store *store, const struct ca_actor *who,
	struct store_ca_participant *p, struct tw_error *err)
{
	struct ca_run r = { .store = store, .who = who };
	char detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	p->created_ms = tw_now_ms();
	if ((rc = tw_strlcpy_checked(p->created_by, who->actor, sizeof(p->created_by), err,
		"actor")) != TW_OK)
		return rc;
	if (strcmp(p->role, "smgw") == 0 && p->gateway_id[0] == '\0')
		return tw_error_set(err, TW_E_INVALID, "an SMGW participant needs its pre-registered "
			"gateway id (--gateway-id)");
	if (strcmp(p->role, "smgw") != 0 && p->gateway_id[0] != '\0')
		return tw_error_set(err, TW_E_INVALID, "only SMGW participants have a gateway id");
	snprintf(detail, sizeof(detail), "role=%s org=%s mp-id=%s cn=%s gateway=%s serial=%s",
		p->role, p->organisation, p->market_partner_id, p->common_name, p->gateway_id,
		p->device_serial);
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_ca_participant_insert(store, p, err)) != TW_OK ||
	    (rc = ca_audit(&r, "ca.register", p->name, "ok", NULL, detail, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		store_rollback(store);
	return rc;
}

/* Fill a queue row from a verified request. */
tw_rc ca_request_row(struct ca_run *r, const struct request *req, const char *digest,
	const char *state, const unsigned char *der, size_t der_len,
	struct store_ca_request *row, struct tw_error *err)
{
	tw_rc rc;

	memset(row, 0, sizeof(*row));
	memcpy(row->digest, digest, 65);
	memcpy(row->participant, r->part.name, sizeof(row->participant));
	snprintf(row->kind, sizeof(row->kind), "%s", request_kind_name(req->kind));
	snprintf(row->state, sizeof(row->state), "%s", state);
	row->received_ms = tw_now_ms();
	if ((rc = ca_name_text(req->entries[0].subject, row->subject, sizeof(row->subject),
		err)) != TW_OK)
		return rc;
	row->der = (unsigned char *)der;
	row->der_len = der_len;
	return TW_OK;
}

static tw_rc ca_submit_run(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *participant, const char *caller,
	const unsigned char *in, size_t len, int64_t *id, enum pki_result *result,
	struct tw_error *err);

tw_rc ca_submit(const struct tw_home *home, struct tw_store *store, const struct ca_actor *who,
	const char *participant, const unsigned char *in, size_t len, int64_t *id,
	enum pki_result *result, struct tw_error *err)
{
	return ca_submit_run(home, store, who, participant, NULL, in, len, id, result, err);
}

tw_rc ca_submit_bound(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *caller, const unsigned char *in, size_t len,
	int64_t *id, enum pki_result *result, struct tw_error *err)
{
	return ca_submit_run(home, store, who, NULL, caller, in, len, id, result, err);
}

static tw_rc ca_submit_run(const struct tw_home *home, struct tw_store *store,
	const struct ca_actor *who, const char *participant, const char *caller,
	const unsigned char *in, size_t len, int64_t *id, enum pki_result *result,
	struct tw_error *err)
{
	struct ca_run r;
	struct request *req = NULL;
	struct store_ca_request row;
	unsigned char *der = NULL;
	size_t der_len = 0;
	char digest[65], object[32], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	*id = 0;
	*result = PKI_FAILURE_INTERNAL_ERROR;
	if ((rc = ca_run_init(&r, home, store, who, err)) != TW_OK)
		goto out;
	r.want_part = participant;
	/* The web service: the request's subject names its participant, bound to the caller
	 * exactly as for ca_issue_buffer. */
	r.caller = caller;
	r.caller_bound = caller != NULL;
	if ((rc = ca_validate(&r, "request", in, len, true, &req, digest, result, err)) != TW_OK)
		goto out;
	/* The queue keeps the request as DER, whatever its transport encoding was. */
	if ((rc = request_decode(in, len, &der, &der_len, err)) != TW_OK ||
	    (rc = ca_request_row(&r, req, digest, "pending", der, der_len, &row, err)) != TW_OK)
		goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_ca_request_insert(store, &row, id, err)) != TW_OK)
		goto rollback;
	snprintf(object, sizeof(object), "request:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "participant=%s kind=%s digest=%s subject=%s",
		row.participant, row.kind, row.digest, row.subject);
	if ((rc = ca_audit(&r, "ca.request.submit", object, "ok", NULL, detail, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		goto rollback;
	*result = PKI_OK_RECEIVED_CORRECTLY;
	goto out;
rollback:
	store_rollback(store);
	*id = 0;
	if (rc == TW_E_EXISTS)   /* a concurrent submission of the same request won */
		*result = PKI_FAILURE_REQUEST_NOT_ACCEPTED;
out:
	free(der);
	request_free(req);
	ca_run_free(&r);
	return rc;
}

tw_rc ca_decide(struct tw_store *store, const struct ca_actor *who, int64_t id, bool approve,
	const char *reason, struct tw_error *err)
{
	struct ca_run r = { .store = store, .who = who };
	char object[32], detail[STORE_TEXT_MAX + 1];
	tw_rc rc;

	snprintf(object, sizeof(object), "request:%lld", (long long)id);
	snprintf(detail, sizeof(detail), "reason=%s", reason != NULL ? reason : "");
	if ((rc = store_begin(store, err)) != TW_OK)
		return rc;
	if ((rc = store_ca_request_transition(store, id, "pending",
		approve ? "approved" : "rejected", tw_now_ms(), who->actor, reason, err)) != TW_OK ||
	    (rc = ca_audit(&r, approve ? "ca.request.approve" : "ca.request.reject", object,
		"ok", NULL, detail, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK)
		store_rollback(store);
	return rc;
}

/* ---- issuance ---- */

/* Build (unsigned) every certificate of req from the registration and the CA config. */
tw_rc ca_build(struct ca_run *r, const struct request *req,
	X509 *certs[REQUEST_MAX_ENTRIES], struct tw_error *err)
{
	enum pki_role role;
	tw_rc rc;

	if ((rc = pki_role_parse(r->part.role, &role, err)) != TW_OK)
		return rc;
	for (size_t i = 0; i < req->n_entries; i++) {
		const struct request_entry *e = &req->entries[i];
		struct pki_cert_request cr = {
			.usage = e->usage,
			.role = role,
			.subject = {
				.common_name = r->part.common_name,
				.org_unit = r->part.market_partner_id,
				.email = e->email != NULL ? e->email :
					(r->part.email[0] != '\0' ? r->part.email : NULL),
				.uri = e->uri,
				.dns_name = e->usage == PKI_USAGE_TLS ? e->dns_name : NULL,
			},
			.public_key = e->public_key,
			.spki = e->spki,
			.issuer_cert = r->ca_cert,
			.subject_name = e->subject,
			/* Every name the request asks for (several DNS names on TLS, issue 11). */
			.san = e->san,
		};

		pki_ca_config_apply(r->cfg, &cr);
		if ((rc = pki_build_certificate(&cr, &certs[i], err)) != TW_OK)
			return rc;
	}
	return TW_OK;
}

/*
 * der (one signed certificate) must be SEQUENCE { tbs, tbs's own signature algorithm,
 * BIT STRING }: the TBSCertificate byte for byte what was built and sent, so serial, key,
 * names, validity and extensions are all what this process checked.
 */
static bool ca_signed_matches(const unsigned char *der, size_t len, const unsigned char *tbs,
	size_t tbs_len, const unsigned char *alg, size_t alg_len)
{
	const unsigned char *p = der, *end = der + len, *q;
	long clen = 0;
	int tag, cls, inf;

	inf = ASN1_get_object(&p, &clen, &tag, &cls, (long)len);
	if ((inf & 0x80) || inf != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    p + clen != end)
		return false;
	if ((size_t)(end - p) < tbs_len + alg_len || memcmp(p, tbs, tbs_len) != 0 ||
	    memcmp(p + tbs_len, alg, alg_len) != 0)
		return false;
	q = p + tbs_len + alg_len;
	inf = ASN1_get_object(&q, &clen, &tag, &cls, (long)(end - q));
	return !(inf & 0x80) && inf == 0 && tag == V_ASN1_BIT_STRING && cls == V_ASN1_UNIVERSAL &&
		q + clen == end;
}

/* The TBSCertificate and signature AlgorithmIdentifier encodings of a built certificate. */
static tw_rc ca_tbs_encode(X509 *tbs, unsigned char **enc, int *enc_len, unsigned char **alg,
	int *alg_len, struct tw_error *err)
{
	*enc = NULL;
	*alg = NULL;
	if ((*enc_len = i2d_re_X509_tbs(tbs, enc)) <= 0 ||
	    (*alg_len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(tbs), alg)) <= 0) {
		OPENSSL_free(*enc);
		*enc = NULL;
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a built certificate");
	}
	return TW_OK;
}

tw_rc ca_check_signed_der(struct ca_run *r, X509 *const *tbs, unsigned char *const *der,
	const size_t *len, size_t n, struct tw_error *err)
{
	EVP_PKEY *ca_pub = X509_get0_pubkey(r->ca_cert);
	tw_rc rc = TW_OK;

	/*
	 * Trust but verify: every certificate is exactly what we built (its TBSCertificate
	 * compared byte for byte), and the first of each signer request verifies with our
	 * CA's public key. One signature per request suffices to prove the key (the signer
	 * uses one key per request); verifying all would double the CPU cost of issuance.
	 */
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		unsigned char *enc = NULL, *alg = NULL;
		int enc_len = 0, alg_len = 0;
		bool ok;

		if ((rc = ca_tbs_encode(tbs[i], &enc, &enc_len, &alg, &alg_len, err)) != TW_OK)
			break;
		ok = ca_pub != NULL && ca_signed_matches(der[i], len[i], enc, (size_t)enc_len, alg,
			(size_t)alg_len);
		if (ok && i % CA_SIGN_CHUNK == 0) {
			/* Decoded only here: d2i_X509 decodes the key, which costs ~0.3 ms. */
			const unsigned char *p = der[i];
			X509 *x = d2i_X509(NULL, &p, (long)len[i]);

			ok = x != NULL && p == der[i] + len[i] && X509_verify(x, ca_pub) == 1;
			X509_free(x);
		}
		OPENSSL_free(enc);
		OPENSSL_free(alg);
		if (!ok)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the signer's certificate %zu "
				"does not match what was sent or does not verify with %s (wrong key "
				"'%s'?)", i + 1, r->cfg->cert_path, r->cfg->key_label);
	}
	return rc;
}

tw_rc ca_check_signed(struct ca_run *r, X509 *const *tbs, X509 *const *out, size_t n,
	struct tw_error *err)
{
	unsigned char **der = calloc(n > 0 ? n : 1, sizeof(*der));
	size_t *len = calloc(n > 0 ? n : 1, sizeof(*len));
	tw_rc rc = TW_OK;

	/* The same check on the certificates' encodings (built ones may hold no EVP_PKEY). */
	if (der == NULL || len == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		int l = i2d_X509(out[i], &der[i]);

		if (l <= 0)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode a signed "
				"certificate");
		else
			len[i] = (size_t)l;
	}
	if (rc == TW_OK)
		rc = ca_check_signed_der(r, tbs, der, len, n, err);
out:
	for (size_t i = 0; der != NULL && i < n; i++)
		OPENSSL_free(der[i]);
	free(der);
	free(len);
	return rc;
}

tw_rc ca_sign_many(struct ca_run *r, struct signer_client *sc, X509 *const *tbs, size_t n,
	X509 **out, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	for (size_t off = 0; off < n && rc == TW_OK; off += CA_SIGN_CHUNK) {
		size_t k = n - off < CA_SIGN_CHUNK ? n - off : CA_SIGN_CHUNK;

		rc = signer_sign_certificates(sc, r->cfg->key_label, tbs + off, k, out + off, err);
	}
	if (rc == TW_OK)
		rc = ca_check_signed(r, tbs, out, n, err);
	if (rc != TW_OK)
		for (size_t i = 0; i < n; i++) {
			X509_free(out[i]);
			out[i] = NULL;
		}
	return rc;
}

tw_rc ca_sign(struct ca_run *r, struct signer_client *sc, const struct request *req,
	X509 *certs[REQUEST_MAX_ENTRIES], struct tw_error *err)
{
	X509 *tbs[REQUEST_MAX_ENTRIES] = { NULL };
	tw_rc rc;

	if ((rc = ca_build(r, req, tbs, err)) == TW_OK)
		rc = ca_sign_many(r, sc, tbs, req->n_entries, certs, err);
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++)
		X509_free(tbs[i]);
	return rc;
}

tw_rc ca_serial_hex(X509 *x, char out[STORE_ID_MAX + 1], struct tw_error *err)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	tw_rc rc;

	if (hex == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read a serial");
	} else {
		for (char *p = hex; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
		rc = tw_strlcpy_checked(out, hex, STORE_ID_MAX + 1, err, "serial");
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* Inside the caller's transaction: certificates, link to the request, "ca.issue" entry. */
tw_rc ca_record(struct ca_run *r, int64_t request_id, const struct request *req,
	X509 *const *certs, unsigned char *const *der, const size_t *der_len,
	char serials[][STORE_ID_MAX + 1], struct tw_error *err)
{
	char object[32], detail[STORE_TEXT_MAX + 1];
	size_t off;
	tw_rc rc;

	off = (size_t)snprintf(detail, sizeof(detail), "participant=%s serials=", r->part.name);
	for (size_t i = 0; i < req->n_entries; i++) {
		/* The profile built certs[i] for exactly this usage (request.c derived it). */
		const char *usage = pki_usage_name(req->entries[i].usage);

		if ((rc = ca_serial_hex(certs[i], serials[i], err)) != TW_OK)
			return rc;
		if ((rc = der != NULL ?
			pki_certificate_record_der(r->store, r->tenant_id, certs[i], der[i],
				der_len[i], r->part.role, r->part.name, usage, err) :
			pki_certificate_record(r->store, r->tenant_id, certs[i], r->part.role,
				r->part.name, usage, err)) != TW_OK ||
		    (rc = store_ca_cert_set_request(r->store, r->issuer, serials[i], request_id,
			err)) != TW_OK)
			return rc;
		if (off < sizeof(detail))
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, "%s%s:%s",
				i ? "," : "", usage, serials[i]);
	}
	snprintf(object, sizeof(object), "request:%lld", (long long)request_id);
	return ca_audit(r, "ca.issue", object, "ok", NULL, detail, err);
}

tw_rc ca_issue_approved(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, int64_t id, enum pki_result *result,
	struct tw_error *err)
{
	struct ca_run r;
	struct store_ca_request row;
	struct request *req = NULL;
	X509 *certs[REQUEST_MAX_ENTRIES] = { NULL };
	char digest[65], object[32], serials[REQUEST_MAX_ENTRIES][STORE_ID_MAX + 1];
	tw_rc rc;

	*result = PKI_FAILURE_INTERNAL_ERROR;
	memset(&row, 0, sizeof(row));
	if ((rc = ca_run_init(&r, home, store, who, err)) != TW_OK ||
	    (rc = ca_state_require_active(store, CA_DEFAULT_NAME, "issuance", err)) != TW_OK ||
	    (rc = store_ca_request_get(store, id, true, &row, err)) != TW_OK)
		goto out;
	if (strcmp(row.state, "approved") != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "request %lld is %s; only approved requests "
			"are issued (`torwart ca approve %lld`)", (long long)id, row.state,
			(long long)id);
		goto out;
	}
	snprintf(object, sizeof(object), "request:%lld", (long long)id);
	r.want_part = row.participant;
	if ((rc = ca_validate(&r, object, row.der, row.der_len, false, &req, digest, result,
		err)) != TW_OK ||
	    (rc = ca_sign(&r, sc, req, certs, err)) != TW_OK)
		goto out;
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	if ((rc = store_ca_request_transition(store, id, "approved", "issued", tw_now_ms(),
		who->actor, "issued", err)) != TW_OK ||
	    (rc = ca_record(&r, id, req, certs, NULL, NULL, serials, err)) != TW_OK ||
	    (rc = store_commit(store, err)) != TW_OK) {
		store_rollback(store);
		goto out;
	}
	*result = PKI_OK_CERT_AVAILABLE;
out:
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++)
		X509_free(certs[i]);
	request_free(req);
	store_ca_request_clear(&row);
	ca_run_free(&r);
	return rc;
}
