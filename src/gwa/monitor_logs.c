/*
 * monitor_logs.c: the gateways' signed system and calibration logs (UC-3.4.2): the
 * signed form, the wire codec of a log-read result, verification on receipt against the
 * gateway's SIG certificate, storage with the signature (so every entry stays
 * verifiable later, e.g. for a calibration authority), and re-verification on display.
 */
#include "gwa/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "base/log.h"
#include "crypto/keys.h"
#include "gwa/profile.h"
#include "net/wan_message.h"

#define LOG_TBS_MAX  1024
/* base64 of a STORE_LOG_SIG_MAX signature */
#define LOG_SIG_B64_MAX (4 * ((STORE_LOG_SIG_MAX + 2) / 3))

bool monitor_log_kind_valid(const char *kind)
{
	return kind != NULL && (strcmp(kind, "system") == 0 || strcmp(kind, "calibration") == 0);
}

tw_rc monitor_log_tbs(const char *gateway_id, const char *kind,
	const struct monitor_log_entry *e, struct tw_buf *out, struct tw_error *err)
{
	return tw_buf_appendf(out, err, "torwart-log-v1\n%s\n%s\n%lld\n%s\n%s", gateway_id, kind,
		(long long)e->seq, e->time, e->message);
}

tw_rc monitor_log_sign(EVP_PKEY *key, const char *gateway_id, const char *kind,
	struct monitor_log_entry *e, struct tw_error *err)
{
	EVP_MD_CTX *md = NULL;
	struct tw_buf tbs;
	size_t siglen = sizeof(e->sig);
	tw_rc rc;

	tw_buf_init(&tbs, LOG_TBS_MAX);
	e->sig_len = 0;
	if ((rc = monitor_log_tbs(gateway_id, kind, e, &tbs, err)) != TW_OK)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, e->sig, &siglen, tbs.data, tbs.len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign log entry %lld",
			(long long)e->seq);
		goto out;
	}
	e->sig_len = siglen;
	rc = TW_OK;
out:
	EVP_MD_CTX_free(md);
	tw_buf_free(&tbs);
	return rc;
}

tw_rc monitor_log_verify(EVP_PKEY *pub, const char *gateway_id, const char *kind,
	const struct monitor_log_entry *e, bool *valid, struct tw_error *err)
{
	EVP_MD_CTX *md = NULL;
	struct tw_buf tbs;
	int v;
	tw_rc rc;

	*valid = false;
	tw_buf_init(&tbs, LOG_TBS_MAX);
	if ((rc = monitor_log_tbs(gateway_id, kind, e, &tbs, err)) != TW_OK)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot set up signature verification");
		goto out;
	}
	v = EVP_DigestVerify(md, e->sig, e->sig_len, tbs.data, tbs.len);
	/* 0 = wrong signature, <0 = malformed signature: both simply "not valid". */
	*valid = v == 1;
	ERR_clear_error();
	rc = TW_OK;
out:
	EVP_MD_CTX_free(md);
	tw_buf_free(&tbs);
	return rc;
}

/* ---- wire codec ---- */

static const char *const res_members[] = { "kind", "entries", NULL };
static const char *const entry_members[] = { "seq", "time", "message", "signature", NULL };

static bool only(const json_t *obj, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v) {
		size_t i;

		(void)v;
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
			;
		if (keys[i] == NULL)
			return false;
	}
	return true;
}

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '\0')
			return false;
	}
	return true;
}

tw_rc monitor_logs_parse(const json_t *obj, char kind[16],
	struct monitor_log_entry **entries, size_t *n, struct tw_error *err)
{
	struct monitor_log_entry *es = NULL;
	const json_t *arr, *k;
	size_t count;
	int64_t ms;
	tw_rc rc;

	*entries = NULL;
	*n = 0;
	kind[0] = '\0';
	if (!json_is_object(obj) || !only(obj, res_members)) {
		rc = tw_error_set(err, TW_E_PROTOCOL,
			"log result must be an object {\"kind\", \"entries\"} and nothing else");
		goto out;
	}
	k = json_object_get(obj, "kind");
	if (!json_is_string(k) || !monitor_log_kind_valid(json_string_value(k))) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "log result: \"kind\" must be system or "
			"calibration");
		goto out;
	}
	arr = json_object_get(obj, "entries");
	if (!json_is_array(arr) || (count = json_array_size(arr)) > MONITOR_LOG_BATCH_MAX) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "log result: \"entries\" must be an array of "
			"at most %d entries", MONITOR_LOG_BATCH_MAX);
		goto out;
	}
	if ((es = calloc(count > 0 ? count : 1, sizeof(*es))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_array_get(arr, i);
		const json_t *seq = json_object_get(e, "seq"), *t = json_object_get(e, "time");
		const json_t *m = json_object_get(e, "message"), *s = json_object_get(e, "signature");
		unsigned char raw[LOG_SIG_B64_MAX];
		size_t slen;
		int dl;

		if (!json_is_object(e) || !only(e, entry_members) || !json_is_integer(seq) ||
		    json_integer_value(seq) < 1 || !json_is_string(t) ||
		    json_string_length(t) > 40 || !json_is_string(m) ||
		    json_string_length(m) > MONITOR_TEXT_MAX ||
		    !printable(json_string_value(m), json_string_length(m)) || !json_is_string(s)) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "log entry %zu must be {\"seq\" >= 1, "
				"\"time\" (RFC 3339), \"message\" (<= %d printable bytes), \"signature\" "
				"(base64)}", i, MONITOR_TEXT_MAX);
			goto out;
		}
		if ((rc = wan_time_parse(json_string_value(t), &ms, err)) != TW_OK)
			goto out;
		slen = json_string_length(s);
		if (slen == 0 || slen % 4 != 0 || slen > LOG_SIG_B64_MAX) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "log entry %zu: signature must be base64 "
				"of at most %d bytes", i, STORE_LOG_SIG_MAX);
			goto out;
		}
		dl = EVP_DecodeBlock(raw, (const unsigned char *)json_string_value(s), (int)slen);
		if (dl < 0) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "log entry %zu: signature is not base64", i);
			goto out;
		}
		/* EVP_DecodeBlock counts padding bytes as data; take them off again. */
		if (json_string_value(s)[slen - 1] == '=')
			dl--;
		if (json_string_value(s)[slen - 2] == '=')
			dl--;
		if (dl <= 0 || (size_t)dl > sizeof(es[i].sig)) {
			rc = tw_error_set(err, TW_E_PROTOCOL, "log entry %zu: signature length %d is "
				"out of range", i, dl);
			goto out;
		}
		memcpy(es[i].sig, raw, (size_t)dl);
		es[i].sig_len = (size_t)dl;
		es[i].seq = json_integer_value(seq);
		memcpy(es[i].time, json_string_value(t), json_string_length(t) + 1);
		memcpy(es[i].message, json_string_value(m), json_string_length(m) + 1);
	}
	snprintf(kind, 16, "%s", json_string_value(k));
	*entries = es;
	*n = count;
	es = NULL;
	rc = TW_OK;
out:
	free(es);
	return rc;
}

tw_rc monitor_logs_to_json(const char *kind, const struct monitor_log_entry *entries,
	size_t n, json_t **out, struct tw_error *err)
{
	json_t *arr = json_array(), *obj = NULL;
	char b64[LOG_SIG_B64_MAX + 1];
	tw_rc rc = TW_OK;

	*out = NULL;
	if (arr == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == TW_OK; i++) {
		if (entries[i].sig_len == 0 || entries[i].sig_len > sizeof(entries[i].sig)) {
			rc = tw_error_set(err, TW_E_INVALID, "log entry %lld has no signature",
				(long long)entries[i].seq);
			break;
		}
		EVP_EncodeBlock((unsigned char *)b64, entries[i].sig, (int)entries[i].sig_len);
		if (json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s}", "seq",
		    (json_int_t)entries[i].seq, "time", entries[i].time, "message",
		    entries[i].message, "signature", b64)) != 0)
			rc = tw_error_set(err, TW_E_NOMEM, "cannot encode log entry %zu", i);
	}
	if (rc == TW_OK && (obj = json_pack("{s:s,s:O}", "kind", kind, "entries", arr)) == NULL)
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
	json_decref(arr);
	*out = obj;
	return rc;
}

/* ---- ingest and display ---- */

/* The gateway's SIG public key and certificate fingerprint from the inventory. */
static tw_rc sig_pub(struct tw_store *store, const char *gateway_id, EVP_PKEY **pub,
	char fp[65], struct tw_error *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	X509 *cert = NULL;
	tw_rc rc;

	*pub = NULL;
	if ((rc = store_gateway_sig_cert(store, gateway_id, &der, &len, err)) != TW_OK)
		goto out;
	p = der;
	if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL ||
	    (*pub = X509_get_pubkey(cert)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_INTEGRITY, "stored SIG certificate of %s does "
			"not parse", gateway_id);
		goto out;
	}
	rc = keys_cert_fingerprint(cert, fp, err);
out:
	X509_free(cert);
	free(der);
	return rc;
}

tw_rc monitor_logs_ingest(struct tw_store *store, const char *gateway_id,
	const json_t *result, const char *client, struct monitor_ingest_stats *stats,
	struct tw_error *err)
{
	struct monitor_log_entry *es = NULL;
	struct store_gateway_log row;
	struct audit_entry a;
	EVP_PKEY *pub = NULL;
	char kind[16], fp[65] = "", actor[STORE_ID_MAX + 16], detail[256];
	bool own_tx = !store_in_transaction(store), began = false;
	size_t n = 0;
	tw_rc rc;

	memset(stats, 0, sizeof(*stats));
	if ((rc = monitor_logs_parse(result, kind, &es, &n, err)) != TW_OK ||
	    (rc = sig_pub(store, gateway_id, &pub, fp, err)) != TW_OK)
		goto out;
	if (own_tx) {
		if ((rc = store_begin(store, err)) != TW_OK)
			goto out;
		began = true;
	}
	stats->received = n;
	for (size_t i = 0; i < n; i++) {
		struct monitor_log_entry *e = &es[i];

		memset(&row, 0, sizeof(row));
		if ((rc = monitor_log_verify(pub, gateway_id, kind, e, &row.verified, err)) != TW_OK)
			goto out;
		snprintf(row.gateway_id, sizeof(row.gateway_id), "%s", gateway_id);
		snprintf(row.kind, sizeof(row.kind), "%s", kind);
		row.seq = e->seq;
		snprintf(row.time, sizeof(row.time), "%s", e->time);
		snprintf(row.message, sizeof(row.message), "%s", e->message);
		memcpy(row.signature, e->sig, e->sig_len);
		row.signature_len = e->sig_len;
		snprintf(row.cert_fingerprint, sizeof(row.cert_fingerprint), "%s", fp);
		row.received_ms = tw_now_ms();
		rc = store_gateway_log_insert(store, &row, err);
		if (rc == TW_E_EXISTS) {
			stats->duplicates++;
			continue;
		}
		if (rc != TW_OK)
			goto out;
		stats->stored++;
		if (!row.verified)
			stats->invalid++;
	}
	snprintf(actor, sizeof(actor), "gateway:%s", gateway_id);
	snprintf(detail, sizeof(detail), "%s log: %zu received, %zu stored, %zu duplicates, %zu "
		"with an invalid signature (SIG certificate %.16s...)", kind, stats->received,
		stats->stored, stats->duplicates, stats->invalid, fp);
	a = (struct audit_entry){ .actor = actor, .role = "smgw", .client = client,
		.action = "gateway.log.receive", .object = gateway_id,
		.result = stats->invalid > 0 ? "invalid-signature" : "ok", .detail = detail };
	if ((rc = audit_append_in_tx(store, &a, err)) != TW_OK)
		goto out;
	if (stats->invalid > 0)
		tw_err("ALERT: %zu %s log entries of gateway %s have an invalid signature",
			stats->invalid, kind, gateway_id);
	if (began) {
		began = false;
		rc = store_commit(store, err);
	}
out:
	if (began)
		store_rollback(store);
	EVP_PKEY_free(pub);
	free(es);
	return rc;
}

const char *monitor_log_status_name(enum monitor_log_status s)
{
	switch (s) {
	case MONITOR_LOG_VALID: return "valid";
	case MONITOR_LOG_INVALID: return "INVALID";
	case MONITOR_LOG_NO_CERT: return "no-certificate";
	}
	return "unknown";
}

struct show_ctx {
	struct tw_store *store;
	monitor_log_cb cb;
	void *arg;
	char fp[65];
	EVP_PKEY *pub;                 /* of fp, cached across entries */
};

static int show_one(const struct store_gateway_log *l, void *arg)
{
	struct show_ctx *c = arg;
	struct monitor_log_entry e;
	enum monitor_log_status st = MONITOR_LOG_NO_CERT;
	struct tw_error err;
	bool valid = false;

	if (strcmp(c->fp, l->cert_fingerprint) != 0) {
		struct store_certificate cert;

		EVP_PKEY_free(c->pub);
		c->pub = NULL;
		snprintf(c->fp, sizeof(c->fp), "%s", l->cert_fingerprint);
		memset(&cert, 0, sizeof(cert));
		if (store_certificate_get_by_fingerprint(c->store, l->cert_fingerprint, &cert,
		    &err) == TW_OK) {
			const unsigned char *p = cert.der;
			X509 *x = d2i_X509(NULL, &p, (long)cert.der_len);

			if (x != NULL)
				c->pub = X509_get_pubkey(x);
			X509_free(x);
		}
		store_certificate_clear(&cert);
	}
	if (c->pub != NULL) {
		memset(&e, 0, sizeof(e));
		e.seq = l->seq;
		snprintf(e.time, sizeof(e.time), "%s", l->time);
		snprintf(e.message, sizeof(e.message), "%s", l->message);
		memcpy(e.sig, l->signature, l->signature_len);
		e.sig_len = l->signature_len;
		if (monitor_log_verify(c->pub, l->gateway_id, l->kind, &e, &valid, &err) == TW_OK)
			st = valid ? MONITOR_LOG_VALID : MONITOR_LOG_INVALID;
	}
	return c->cb(l, st, c->arg);
}

tw_rc monitor_logs_show(struct tw_store *store, const char *actor, const char *role,
	const char *client, const char *gateway_id, const char *kind, monitor_log_cb cb,
	void *arg, struct tw_error *err)
{
	struct show_ctx c = { .store = store, .cb = cb, .arg = arg };
	struct audit_entry a = { .actor = actor, .role = role, .client = client,
		.action = "gateway.log.read", .object = gateway_id, .result = "ok",
		.detail = kind != NULL ? kind : "system,calibration" };
	tw_rc rc;

	if (kind != NULL && !monitor_log_kind_valid(kind))
		return tw_error_set(err, TW_E_INVALID, "log kind must be system or calibration");
	if ((rc = audit_append(store, &a, err)) != TW_OK)
		return rc;
	rc = store_gateway_log_foreach(store, gateway_id, kind, show_one, &c, err);
	EVP_PKEY_free(c.pub);
	return rc;
}
