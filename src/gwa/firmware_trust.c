/*
 * firmware_trust.c: the certified-version list and the daily re-verification of stored
 * images (firmware.h; DOMAIN.md M-4.5.19, UC-3.3.1). The list's container is verified
 * against one configured anchor ([firmware] list_anchor, in reality the BSI's), never
 * against the SM-PKI roots: who may certify firmware is a separate trust decision.
 */
#include "gwa/firmware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit/alert.h"
#include "audit/audit.h"
#include "base/util.h"

static tw_rc ft_audit(struct tw_store *store, const struct firmware_actor *who,
	const char *action, const char *object, const char *result, const char *code,
	const char *detail, bool in_tx, struct tw_error *err)
{
	struct audit_entry e = { .actor = who->actor, .role = who->role, .client = who->client,
		.action = action, .object = object, .result = result, .detail = detail,
		.error_code = code };

	return in_tx ? audit_append_in_tx(store, &e, err) : audit_append(store, &e, err);
}

/* Log the refusal (own transaction) and return rc with why's message. */
static tw_rc ft_refuse(struct tw_store *store, const struct firmware_actor *who,
	const char *action, const char *object, tw_rc rc, const char *code,
	const struct tw_error *why, struct tw_error *err)
{
	struct tw_error log_err;
	char msg[TW_ERROR_MESSAGE_MAX];

	snprintf(msg, sizeof(msg), "%s", why->message);
	tw_error_clear(&log_err);
	if (ft_audit(store, who, action, object, "refused", code, msg, false, &log_err) !=
	    TW_OK)
		return tw_error_set(err, rc, "%.300s (and the refusal could not be logged: %.150s)",
			msg, log_err.message);
	return tw_error_set(err, rc, "%s", msg);
}

static tw_rc ft_sha256(const unsigned char *data, size_t len, char hex[65],
	struct tw_error *err)
{
	unsigned char d[32];
	unsigned int n = 0;

	if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1 || n != sizeof(d))
		return tw_error_set_openssl(err, TW_E_CRYPTO, "SHA-256 failed");
	tw_hex_encode(d, sizeof(d), hex);
	return TW_OK;
}

tw_rc firmware_import_list(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, const char *file, struct store_firmware_list *out,
	struct tw_error *err)
{
	static const char action[] = "firmware.list.import";
	struct fw_signed sd;
	struct fw_list list;
	struct store_firmware_list row, cur;
	struct tw_error why;
	enum fw_verdict verdict = FW_FORMAT;
	unsigned char *cms = NULL;
	size_t cms_len = 0;
	char *anchor = NULL, object[48], detail[STORE_TEXT_MAX + 1];
	const char *code = "format";
	bool found = false, in_tx = false;
	tw_rc rc;

	memset(&sd, 0, sizeof(sd));
	memset(&list, 0, sizeof(list));
	memset(&row, 0, sizeof(row));
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	tw_error_clear(&why);
	snprintf(object, sizeof(object), "firmware-list");
	if (file == NULL)
		return tw_error_set(err, TW_E_INVALID, "no list file given");
	if ((anchor = fw_list_anchor_path(home)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (!tw_path_exists(anchor)) {
		rc = tw_error_set(err, TW_E_CONFIG, "no certified-list anchor at %s ([firmware] "
			"list_anchor; `torwart init --test-pki` creates a test one)", anchor);
		goto out;
	}
	if ((rc = fw_read_file(file, FW_CMS_MAX_BYTES, &cms, &cms_len, &why)) != TW_OK ||
	    (rc = fw_cms_open(cms, cms_len, &sd, &verdict, &why)) != TW_OK) {
		code = fw_verdict_name(verdict);
		goto refuse;
	}
	/* The anchor is the only trusted certificate: no CRL (the list is short-lived). */
	if ((rc = fw_chain_check(sd.signer, anchor, sd.certs, NULL, &verdict, &why)) != TW_OK) {
		code = "signer";
		rc = tw_error_set(&why, TW_E_CRYPTO, "the list is not signed by the configured "
			"anchor %s (signer %s): %s", anchor, sd.subject, why.message);
		goto refuse;
	}
	if ((rc = fw_list_parse(sd.content, sd.content_len, &list, &why)) != TW_OK) {
		code = "format";
		goto refuse;
	}
	snprintf(object, sizeof(object), "firmware-list:%lld", (long long)list.sequence);
	row.sequence = list.sequence;
	row.entries = (int64_t)list.count;
	row.imported_ms = tw_now_ms();
	snprintf(row.issued, sizeof(row.issued), "%s", list.issued);
	snprintf(row.signer, sizeof(row.signer), "%.*s", (int)sizeof(row.signer) - 1,
		sd.subject);
	if ((rc = tw_strlcpy_checked(row.imported_by, who->actor, sizeof(row.imported_by), err,
		"actor")) != TW_OK ||
	    (rc = ft_sha256(cms, cms_len, row.sha256, err)) != TW_OK)
		goto out;
	/* Sequence check and insert under the write lock: no older list slips in between. */
	if ((rc = store_begin(store, err)) != TW_OK)
		goto out;
	in_tx = true;
	if ((rc = store_firmware_list_current(store, &cur, &found, err)) != TW_OK)
		goto out;
	if (found && cur.sequence >= list.sequence) {
		store_rollback(store);
		in_tx = false;
		code = "sequence";
		rc = tw_error_set(&why, TW_E_DENIED, "list sequence %lld is not newer than the "
			"current list's %lld (issued %s); an older or repeated list is never imported",
			(long long)list.sequence, (long long)cur.sequence, cur.issued);
		goto refuse;
	}
	if ((rc = store_firmware_list_insert(store, &row, &row.id, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < list.count; i++)
		if ((rc = store_firmware_list_entry(store, row.id, list.entries[i].model,
			list.entries[i].version, err)) != TW_OK)
			goto out;
	snprintf(detail, sizeof(detail), "sequence=%lld issued=%s entries=%zu sha256=%s "
		"signer=\"%.200s\"", (long long)list.sequence, list.issued, list.count, row.sha256,
		sd.subject);
	if ((rc = ft_audit(store, who, action, object, "ok", NULL, detail, true, err)) != TW_OK)
		goto out;
	rc = store_commit(store, err);
	in_tx = false;
	if (rc == TW_OK && out != NULL)
		*out = row;
	goto out;
refuse:
	rc = rc == TW_E_NOMEM ? tw_error_set(err, rc, "%s", why.message) :
		ft_refuse(store, who, action, object, rc, code, &why, err);
out:
	if (in_tx)
		store_rollback(store);
	fw_list_clear(&list);
	fw_signed_clear(&sd);
	free(cms);
	free(anchor);
	return rc;
}

/* ---------------------------------------------------------------- daily check */

struct ft_ids {
	int64_t *ids;
	size_t n, cap;
	bool nomem;
};

static int ft_collect(const struct store_firmware *f, void *arg)
{
	struct ft_ids *v = arg;

	if (strcmp(f->state, "withdrawn") == 0)
		return 0;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		int64_t *ids = realloc(v->ids, cap * sizeof(*ids));

		if (ids == NULL) {
			v->nomem = true;
			return 1;
		}
		v->ids = ids;
		v->cap = cap;
	}
	v->ids[v->n++] = f->id;
	return 0;
}

/* Verify one image again; *verdict FW_OK or what failed, why->message says it. */
static tw_rc ft_check_one(const struct tw_home *home, struct tw_store *store,
	const struct store_firmware *f, enum fw_verdict *verdict, char *signer, size_t ssize,
	struct tw_error *why, struct tw_error *err)
{
	struct store_firmware_sig sig;
	struct fw_signed sd;
	struct fw_manifest m;
	unsigned char *cms = NULL;
	size_t cms_len = 0;
	char *path = NULL;
	bool found = false;
	tw_rc rc;

	memset(&sd, 0, sizeof(sd));
	*verdict = FW_OK;
	signer[0] = '\0';
	if ((rc = store_firmware_sig_get(store, f->id, &sig, &found, err)) != TW_OK)
		return rc;
	/* T-SU.1 at rest: the bytes first. */
	if (firmware_verify_file(home, f, why) != TW_OK) {
		*verdict = FW_INCOMPLETE;
		return TW_OK;
	}
	if (!found) {
		*verdict = FW_SIGNATURE;
		tw_error_set(why, TW_E_DENIED, "image %lld has no manufacturer signature on "
			"record (uploaded without one)", (long long)f->id);
		return TW_OK;
	}
	snprintf(signer, ssize, "%s", sig.signer);
	if (strncmp(sig.cms_path, FIRMWARE_DIR "/", sizeof(FIRMWARE_DIR)) != 0 ||
	    strstr(sig.cms_path, "..") != NULL) {
		*verdict = FW_FORMAT;
		tw_error_set(why, TW_E_INTEGRITY, "stored container path \"%s\" is not under %s/",
			sig.cms_path, FIRMWARE_DIR);
		return TW_OK;
	}
	if ((path = tw_home_join(home, sig.cms_path)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (fw_read_file(path, FW_CMS_MAX_BYTES, &cms, &cms_len, why) != TW_OK ||
	    fw_cms_open(cms, cms_len, &sd, verdict, why) != TW_OK) {
		if (*verdict == FW_OK)
			*verdict = FW_FORMAT;
		goto out;
	}
	if (fw_manifest_parse(sd.content, sd.content_len, &m, why) != TW_OK) {
		*verdict = FW_FORMAT;
		goto out;
	}
	if (strcmp(m.sha256, f->sha256) != 0 || m.size != f->size ||
	    strcmp(m.model, f->model) != 0 || strcmp(m.version, f->version) != 0) {
		*verdict = FW_INCOMPLETE;
		tw_error_set(why, TW_E_INTEGRITY, "the stored manifest (%s %s, %s) does not name "
			"this image (%s %s, %s)", m.model, m.version, m.sha256, f->model, f->version,
			f->sha256);
		goto out;
	}
	/* Revocation of the signer since the upload: with the CRLs current now. */
	if (fw_check_manufacturer(home, &sd, verdict, why) != TW_OK && *verdict == FW_OK)
		*verdict = FW_CHAIN;
out:
	fw_signed_clear(&sd);
	free(cms);
	free(path);
	return TW_OK;
}

tw_rc firmware_check_all(const struct tw_home *home, struct tw_store *store,
	const struct firmware_actor *who, int *checked, int *failed, struct tw_error *err)
{
	struct ft_ids v = { 0 };
	int nc = 0, nf = 0;
	tw_rc rc;

	if (checked != NULL)
		*checked = 0;
	if (failed != NULL)
		*failed = 0;
	if ((rc = store_firmware_foreach(store, ft_collect, &v, err)) != TW_OK)
		goto out;
	if (v.nomem) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory listing firmware images");
		goto out;
	}
	for (size_t i = 0; i < v.n; i++) {
		struct store_firmware f;
		struct tw_error why;
		enum fw_verdict verdict = FW_OK;
		char object[32], detail[STORE_TEXT_MAX + 1], signer[STORE_NAME_MAX + 1];
		int64_t now = tw_now_ms();
		bool ok;

		tw_error_clear(&why);
		if ((rc = store_firmware_get(store, v.ids[i], &f, err)) != TW_OK ||
		    (rc = ft_check_one(home, store, &f, &verdict, signer, sizeof(signer), &why,
			err)) != TW_OK)
			goto out;
		ok = verdict == FW_OK;
		nc++;
		snprintf(object, sizeof(object), "firmware:%lld", (long long)f.id);
		if (ok)
			snprintf(detail, sizeof(detail), "model=%s version=%s sha256=%s: bytes, "
				"signature, chain and revocation of %.200s ok", f.model, f.version,
				f.sha256, signer);
		else
			snprintf(detail, sizeof(detail), "model=%s version=%s sha256=%s: %s: %.600s",
				f.model, f.version, f.sha256, fw_verdict_name(verdict), why.message);
		/* Result, signature status, log entry and alert together, or none of them. */
		if ((rc = store_begin(store, err)) != TW_OK)
			goto out;
		if ((rc = store_firmware_sig_checked(store, f.id, now, fw_verdict_name(verdict),
			err)) != TW_OK ||
		    (!ok && strcmp(f.signature, "invalid") != 0 &&
		     (rc = store_firmware_set_signature(store, f.id, "invalid", err)) != TW_OK) ||
		    /* A passing check restores an image that failed only for a while (stale CRL). */
		    (ok && strcmp(f.signature, "verified") != 0 &&
		     (rc = store_firmware_set_signature(store, f.id, "verified", err)) != TW_OK) ||
		    (rc = ft_audit(store, who, "firmware.check", object, ok ? "ok" : "failed",
			ok ? NULL : fw_verdict_name(verdict), detail, true, err)) != TW_OK ||
		    (!ok && (rc = alert_raise(store, ALERT_FIRMWARE_CHECK, NULL, object, detail,
			err)) != TW_OK)) {
			store_rollback(store);
			goto out;
		}
		if ((rc = store_commit(store, err)) != TW_OK)
			goto out;
		if (!ok)
			nf++;
	}
	if (checked != NULL)
		*checked = nc;
	if (failed != NULL)
		*failed = nf;
out:
	free(v.ids);
	return rc;
}
