/*
 * ws_note.c: the electronic delivery note (ws_note.h). The content is JSON (jansson, keys
 * sorted: the same certificates give the same document); the CMS is assembled with
 * OpenSSL and only the signature value comes from the signer, as for initial
 * configuration files (gwa/initial_config.c): no private key in this process.
 */
#include "ws/ws_note.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/util.h"
#include "store/store_ca.h"

struct wn_collect {
	int64_t request_id;
	const char *serial;
	struct store_ca_cert certs[WS_NOTE_MAX_CERTS];
	size_t n;
	bool overflow;
};

static int wn_collect_cb(const struct store_ca_cert *c, void *arg)
{
	struct wn_collect *w = arg;

	if (!(w->request_id != 0 ? c->request_id == w->request_id :
	    strcmp(c->serial_hex, w->serial) == 0))
		return 0;
	if (w->n == WS_NOTE_MAX_CERTS) {
		w->overflow = true;
		return 1;
	}
	w->certs[w->n] = *c;
	w->certs[w->n].der = NULL;
	w->n++;
	return 0;
}

static json_t *wn_cert_json(const struct store_ca_cert *c)
{
	char nb[40], na[40];

	tw_time_format_utc(c->not_before * 1000, nb, sizeof(nb));
	tw_time_format_utc(c->not_after * 1000, na, sizeof(na));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "serial", c->serial_hex,
		"subject", c->subject, "usage", c->usage, "not_before", nb, "not_after", na,
		"sha256_fingerprint", c->fingerprint, "status", c->status);
}

tw_rc ws_note_content(struct tw_store *store, const char *issuer, const char *serial,
	char **json, char *owner_kind, char *owner_id, struct tw_error *err)
{
	struct wn_collect *w = calloc(1, sizeof(*w));
	struct store_ca_cert first;
	struct store_ca_request req;
	json_t *root = NULL, *certs = NULL, *reqj = NULL;
	char now[40], received[40];
	tw_rc rc;

	*json = NULL;
	memset(&first, 0, sizeof(first));
	memset(&req, 0, sizeof(req));
	if (w == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((rc = store_ca_cert_get(store, issuer, serial, false, &first, err)) != TW_OK)
		goto out;
	if (owner_kind != NULL)
		snprintf(owner_kind, 16, "%s", first.owner_kind);
	if (owner_id != NULL)
		snprintf(owner_id, STORE_ID_MAX + 1, "%s", first.owner_id);
	w->request_id = first.request_id;
	w->serial = first.serial_hex;
	if ((rc = store_ca_cert_foreach(store, issuer, wn_collect_cb, w, err)) != TW_OK)
		goto out;
	if (w->overflow) {
		rc = tw_error_set(err, TW_E_TOO_LARGE, "request %lld holds more than %d "
			"certificates", (long long)w->request_id, WS_NOTE_MAX_CERTS);
		goto out;
	}
	if ((certs = json_array()) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->n; i++)
		if (json_array_append_new(certs, wn_cert_json(&w->certs[i])) != 0) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
	if (first.request_id != 0 &&
	    store_ca_request_get(store, first.request_id, false, &req, err) == TW_OK) {
		tw_time_format_utc(req.received_ms, received, sizeof(received));
		reqj = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)req.id,
			"sha256", req.digest, "kind", req.kind, "participant", req.participant,
			"received", received);
	} else {
		reqj = json_null();     /* issued without a request row (e.g. init --test-pki) */
	}
	tw_time_format_utc(tw_now_ms(), now, sizeof(now));
	root = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:O}", "format", WS_NOTE_FORMAT,
		"issuer", issuer, "created", now, "owner", "kind", first.owner_kind, "id",
		first.owner_id, "request", reqj, "certificates", certs);
	reqj = NULL;
	if (root == NULL || (*json = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	json_decref(reqj);
	json_decref(root);
	json_decref(certs);
	store_ca_cert_clear(&first);
	store_ca_request_clear(&req);
	free(w);
	return rc;
}

static X509 *wn_read_cert(const struct tw_home *home, const char *rel)
{
	char *path = tw_home_join(home, rel);
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	free(path);
	return x;
}

tw_rc ws_note_sign(const struct tw_home *home, struct signer_client *sc, const char *content,
	unsigned char **der, size_t *len, struct tw_error *err)
{
	X509 *sig = wn_read_cert(home, TW_HOME_GWA_SIG_CERT);
	X509 *sub = wn_read_cert(home, TW_HOME_SUBCA_CERT);
	CMS_ContentInfo *cms = NULL, *check = NULL;
	CMS_SignerInfo *si = NULL;
	ASN1_OCTET_STRING **pos = NULL;
	unsigned char *s = NULL;
	size_t s_len = 0, clen = strlen(content);
	const unsigned char *p;
	int n;
	tw_rc rc = TW_OK;

	*der = NULL;
	*len = 0;
	if (sig == NULL || sub == NULL) {
		rc = tw_error_set(err, TW_E_CONFIG, "cannot read %s and %s of the home: the "
			"delivery note is signed with the GWA/CA SIG key", TW_HOME_GWA_SIG_CERT,
			TW_HOME_SUBCA_CERT);
		goto out;
	}
	/* Content embedded, no signed attributes: the signature is over the JSON itself. */
	cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	si = cms != NULL ? CMS_add1_signer(cms, sig, X509_get0_pubkey(sig), EVP_sha256(),
		CMS_NOATTR | CMS_PARTIAL | CMS_BINARY) : NULL;
	pos = cms != NULL ? CMS_get0_content(cms) : NULL;
	if (si == NULL || pos == NULL || CMS_add1_cert(cms, sub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot prepare the delivery note");
		goto out;
	}
	ASN1_OCTET_STRING_free(*pos);
	if ((*pos = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(*pos, (const unsigned char *)content, (int)clen) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot embed the content");
		goto out;
	}
	if ((rc = signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_DELIVERY_NOTE,
	    (const unsigned char *)content, clen, &s, &s_len, err)) != TW_OK)
		goto out;
	if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), s, (int)s_len) != 1 ||
	    (n = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the delivery note");
		goto out;
	}
	*len = (size_t)n;
	/* The signature must verify with the SIG certificate before anyone gets it. */
	p = *der;
	if ((check = d2i_CMS_ContentInfo(NULL, &p, n)) == NULL ||
	    CMS_verify(check, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY |
	    CMS_BINARY) != 1)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the delivery note's signature does "
			"not verify with %s", TW_HOME_GWA_SIG_CERT);
out:
	if (rc != TW_OK) {
		OPENSSL_free(*der);
		*der = NULL;
		*len = 0;
	}
	free(s);
	CMS_ContentInfo_free(check);
	CMS_ContentInfo_free(cms);
	X509_free(sig);
	X509_free(sub);
	ERR_clear_error();
	return rc;
}

char *ws_note_base64(const unsigned char *der, size_t len)
{
	char *out = len < (size_t)INT32_MAX / 2 ? malloc(4 * ((len + 2) / 3) + 1) : NULL;

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, der, (int)len);
	return out;
}
