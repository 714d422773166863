/*
 * metering.c: receipt of metering messages (UC-3.5.1, UC-3.5.2; metering.h).
 *
 * Order of the checks in metering_accept, and why: identity first (the body must name
 * the TLS identity: a gateway cannot post for another one), then authorisation (an EMT
 * that is not entitled to the metering point must never receive its data, T-MB.2/3,
 * T-PV.4), then the signature with the SIG certificate of the gateway in the inventory
 * (a message not made by this gateway is refused, T-MB.1), last the store, whose
 * uniqueness rules refuse replays and make resends idempotent. Nothing is decrypted: the
 * GWA holds no EMT key, and the EnvelopedData is only checked to be one.
 */
#include "metering/metering.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/command.h"
#include "base/util.h"
#include "gwa/profile.h"
#include "net/wan_message.h"
#include "store/store_profiles.h"

void metering_msg_clear(struct metering_msg *m)
{
	if (m == NULL)
		return;
	free(m->cms);
	memset(m, 0, sizeof(*m));
}

/* A required string member of at most max bytes, copied to dst. */
static tw_rc mm_string(const json_t *root, const char *name, size_t max, char *dst,
	struct tw_error *err)
{
	const json_t *v = json_object_get(root, name);
	size_t n;

	if (v == NULL)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" is missing", name);
	if (!json_is_string(v))
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be a string", name);
	n = json_string_length(v);
	if (n > max)
		return tw_error_set(err, TW_E_TOO_LARGE, "member \"%s\" exceeds %zu bytes", name,
			max);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	if (strlen(dst) != n)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" contains a NUL", name);
	return TW_OK;
}

tw_rc metering_msg_parse(const void *body, size_t len, struct metering_msg *out,
	struct tw_error *err)
{
	static const char *const members[] = { "gateway_id", "message_id", "kind", "emt",
		"metering_point", "clock_ok", "cms", NULL };
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *v;
	const char *k;
	json_t *val;
	tw_rc rc = TW_OK;

	if (out == NULL)
		return tw_error_set(err, TW_E_INTERNAL, "metering_msg_parse: out is NULL");
	memset(out, 0, sizeof(*out));
	if (len > METERING_BODY_MAX)
		return tw_error_set(err, TW_E_TOO_LARGE, "body exceeds %d bytes", METERING_BODY_MAX);
	if (body == NULL || len == 0 ||
	    (root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(root)) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "body is not a JSON object");
		goto out;
	}
	json_object_foreach(root, k, val) {
		size_t i;

		(void)val;
		for (i = 0; members[i] != NULL && strcmp(members[i], k) != 0; i++)
			;
		if (members[i] == NULL) {
			rc = tw_error_set(err, TW_E_INVALID, "unknown member \"%.40s\"", k);
			goto out;
		}
	}
	if ((rc = mm_string(root, "gateway_id", STORE_ID_MAX, out->gateway_id, err)) != TW_OK ||
	    (rc = mm_string(root, "message_id", STORE_METERING_ID_MAX, out->message_id, err))
	        != TW_OK ||
	    (rc = mm_string(root, "kind", sizeof(out->kind) - 1, out->kind, err)) != TW_OK ||
	    (rc = mm_string(root, "emt", STORE_ID_MAX, out->emt, err)) != TW_OK ||
	    (rc = mm_string(root, "metering_point", STORE_METERING_ID_MAX, out->metering_point,
	        err)) != TW_OK)
		goto out;
	if (!wan_gateway_id_valid(out->gateway_id) || !profile_id_valid(out->message_id) ||
	    !profile_id_valid(out->emt) || !profile_id_valid(out->metering_point)) {
		rc = tw_error_set(err, TW_E_INVALID, "gateway_id, message_id, emt and "
			"metering_point must be 1..64 of [A-Za-z0-9._-]");
		goto out;
	}
	if (strcmp(out->kind, "tariffed") != 0 && strcmp(out->kind, "grid-status") != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"kind\" must be tariffed or "
			"grid-status");
		goto out;
	}
	v = json_object_get(root, "clock_ok");
	if (!json_is_boolean(v)) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"clock_ok\" must be true or false");
		goto out;
	}
	out->clock_ok = json_is_true(v);
	v = json_object_get(root, "cms");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"cms\" must be base64 of a CMS "
			"SignedData");
		goto out;
	}
	if (json_string_length(v) > 4 * ((METERING_CMS_MAX + 2) / 3)) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "member \"cms\" exceeds %d bytes decoded",
			METERING_CMS_MAX);
		goto out;
	}
	if (auth_b64_decode(json_string_value(v), json_string_length(v), &out->cms,
	    &out->cms_len, err) != TW_OK || out->cms_len == 0) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"cms\" is not strict base64");
		goto out;
	}
out:
	json_decref(root);
	if (rc != TW_OK)
		metering_msg_clear(out);
	return rc;
}

tw_rc metering_cms_verify(const unsigned char *cms, size_t len, X509 *signer,
	unsigned char **inner, size_t *inner_len, struct tw_error *err)
{
	CMS_ContentInfo *ci = NULL, *env = NULL;
	STACK_OF(X509) *certs = NULL;
	BIO *in = NULL, *out = NULL;
	const unsigned char *p;
	char *data;
	long n;
	tw_rc rc = TW_OK;

	*inner = NULL;
	*inner_len = 0;
	if (cms == NULL || len == 0 || len > METERING_CMS_MAX)
		return tw_error_set(err, TW_E_INVALID, "CMS message of 1..%d bytes expected",
			METERING_CMS_MAX);
	p = cms;
	if ((ci = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL || p != cms + len) {
		rc = tw_error_set_openssl(err, TW_E_INVALID, "the message is not one DER CMS "
			"ContentInfo");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(ci)) != NID_pkcs7_signed) {
		rc = tw_error_set(err, TW_E_INVALID, "the message is not a CMS SignedData");
		goto out;
	}
	if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(ci)) != 1) {
		rc = tw_error_set(err, TW_E_INVALID, "the SignedData must have exactly one signer "
			"(the gateway)");
		goto out;
	}
	if ((certs = sk_X509_new_null()) == NULL || !sk_X509_push(certs, signer) ||
	    (out = BIO_new(BIO_s_mem())) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * CMS_NOINTERN: the signer is found only among certs, i.e. it is the inventory's SIG
	 * certificate of this gateway, whatever certificates the message carries. That
	 * certificate was checked when it was issued or imported, so its chain is not
	 * re-verified per message (CMS_NO_SIGNER_CERT_VERIFY); revocation removes it from
	 * the inventory's valid certificates.
	 */
	ERR_clear_error();
	if (CMS_verify(ci, certs, NULL, NULL, out, CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY |
	    CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the gateway's signature does not "
			"verify with its SIG certificate");
		goto out;
	}
	n = BIO_get_mem_data(out, &data);
	p = (const unsigned char *)data;
	if (n <= 0 || (env = d2i_CMS_ContentInfo(NULL, &p, n)) == NULL ||
	    p != (const unsigned char *)data + n ||
	    OBJ_obj2nid(CMS_get0_type(env)) != NID_pkcs7_enveloped) {
		rc = tw_error_set(err, TW_E_INVALID, "the signed content is not a CMS "
			"EnvelopedData (values must be encrypted for the EMT)");
		goto out;
	}
	if ((*inner = malloc((size_t)n)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*inner, data, (size_t)n);
	*inner_len = (size_t)n;
out:
	sk_X509_free(certs);   /* the certificate itself is the caller's */
	BIO_free(in);
	BIO_free(out);
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(ci);
	return rc;
}

struct mp_search {
	const char *emt, *metering_point;
	const char *taf;              /* NULL: any evaluation profile */
	bool found;
};

static int mp_profile_cb(const struct store_profile *p, void *arg)
{
	struct mp_search *s = arg;
	json_t *doc, *meters, *recips, *v;
	bool meter = false, recip = false;
	size_t i;

	if (strcmp(p->type, "evaluation") != 0 || p->doc == NULL)
		return 0;
	/* Evaluation profiles hold no secrets, so the stored document is plain JSON. */
	if ((doc = json_loads(p->doc, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return 0;
	if (s->taf != NULL && (!json_is_string(json_object_get(doc, "taf")) ||
	    strcmp(json_string_value(json_object_get(doc, "taf")), s->taf) != 0)) {
		json_decref(doc);
		return 0;
	}
	meters = json_object_get(doc, "meters");
	recips = json_object_get(doc, "recipients");
	json_array_foreach(meters, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s->metering_point) == 0)
			meter = true;
	json_array_foreach(recips, i, v) {
		const json_t *e = json_object_get(v, "emt");

		if (json_is_string(e) && strcmp(json_string_value(e), s->emt) == 0)
			recip = true;
	}
	json_decref(doc);
	s->found = meter && recip;
	return s->found ? 1 : 0;
}

tw_rc metering_check_authorised_for(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, const char *taf, struct tw_error *err)
{
	struct mp_search s = { .emt = emt, .metering_point = metering_point, .taf = taf };
	bool yes = false;
	tw_rc rc;

	if ((rc = store_emt_is_authorised(store, gateway_id, emt, &yes, err)) != TW_OK)
		return rc;
	if (!yes)
		return tw_error_set(err, TW_E_DENIED, "EMT %s is not authorised for gateway %s",
			emt, gateway_id);
	if ((rc = store_profile_foreach(store, gateway_id, mp_profile_cb, &s, err)) != TW_OK)
		return rc;
	if (!s.found)
		return tw_error_set(err, TW_E_DENIED, "no %s%sevaluation profile of gateway %s "
			"sends metering point %s to EMT %s", taf != NULL ? taf : "",
			taf != NULL ? " " : "", gateway_id, metering_point, emt);
	return TW_OK;
}

tw_rc metering_check_authorised(struct tw_store *store, const char *gateway_id,
	const char *emt, const char *metering_point, struct tw_error *err)
{
	return metering_check_authorised_for(store, gateway_id, emt, metering_point, NULL, err);
}

/* The gateway's SIG certificate from the inventory (caller frees). */
static tw_rc mm_sig_cert(struct tw_store *store, const char *gateway_id, X509 **cert,
	struct tw_error *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	tw_rc rc;

	*cert = NULL;
	if ((rc = store_gateway_sig_cert(store, gateway_id, &der, &len, err)) != TW_OK)
		return rc;
	p = der;
	if ((*cert = d2i_X509(NULL, &p, (long)len)) == NULL)
		rc = tw_error_set_openssl(err, TW_E_INTEGRITY, "stored SIG certificate of %s does "
			"not parse", gateway_id);
	free(der);
	return rc;
}

tw_rc metering_prepare(struct tw_store *store, const char *gateway_id,
	const struct metering_msg *m, int64_t now_ms, struct store_metering_msg *row,
	struct tw_error *err)
{
	unsigned char digest[32], *inner = NULL;
	size_t inner_len = 0;
	X509 *sig = NULL;
	tw_rc rc;

	memset(row, 0, sizeof(*row));
	if (strcmp(m->gateway_id, gateway_id) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "the message names gateway %s, the connection "
			"is gateway %s", m->gateway_id, gateway_id);
		goto out;
	}
	if ((rc = metering_check_authorised(store, gateway_id, m->emt, m->metering_point,
	    err)) != TW_OK)
		goto out;
	if ((rc = mm_sig_cert(store, gateway_id, &sig, err)) != TW_OK)
		goto out;
	if ((rc = metering_cms_verify(m->cms, m->cms_len, sig, &inner, &inner_len, err))
	    != TW_OK)
		goto out;
	if (EVP_Digest(m->cms, m->cms_len, digest, NULL, EVP_sha256(), NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
		goto out;
	}
	tw_hex_encode(digest, sizeof(digest), row->sha256);
	snprintf(row->gateway_id, sizeof(row->gateway_id), "%s", gateway_id);
	snprintf(row->message_id, sizeof(row->message_id), "%s", m->message_id);
	snprintf(row->kind, sizeof(row->kind), "%s", m->kind);
	snprintf(row->emt_id, sizeof(row->emt_id), "%s", m->emt);
	snprintf(row->metering_point, sizeof(row->metering_point), "%s", m->metering_point);
	row->clock_ok = m->clock_ok;
	row->received_ms = now_ms;
	/* UC-3.5.2: grid-status data loses the outer signature; tariffed values keep it. */
	if (strcmp(m->kind, "grid-status") == 0) {
		row->body = inner;          /* ownership moves to row */
		row->body_len = inner_len;
		inner = NULL;
	} else if ((row->body = malloc(m->cms_len)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	} else {
		memcpy(row->body, m->cms, m->cms_len);
		row->body_len = m->cms_len;
	}
out:
	if (rc != TW_OK)
		store_metering_msg_clear(row);
	free(inner);
	X509_free(sig);
	return rc;
}

tw_rc metering_accept(struct tw_store *store, const char *gateway_id,
	const struct metering_msg *m, int64_t now_ms, int64_t *row_id, bool *duplicate,
	struct tw_error *err)
{
	struct store_metering_msg row;
	tw_rc rc;

	*row_id = 0;
	*duplicate = false;
	if ((rc = metering_prepare(store, gateway_id, m, now_ms, &row, err)) == TW_OK)
		rc = store_metering_insert(store, &row, row_id, duplicate, err);
	store_metering_msg_clear(&row);
	return rc;
}
