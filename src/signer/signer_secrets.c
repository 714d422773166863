/*
 * signer_secrets.c: the signer's operations on secrets rather than keys: custodian
 * activation of the token (M-4.5.18, signer_keys.h) and the home's data key
 * (SEAL/UNSEAL, secretbox.h), which never leaves this process.
 */
#include "signer/signer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "audit/alert.h"
#include "base/log.h"
#include "signer/signer_keys.h"
#include "store/store.h"


/* Does the comma-separated role list name role (or is it break-glass)? */
static bool role_has(const char *roles, const char *role)
{
	size_t n = strlen(role);

	if (roles == NULL)
		return false;
	if (strcmp(roles, "break-glass") == 0)
		return true;
	for (const char *p = roles; *p != '\0';) {
		size_t len = strcspn(p, ", ");

		if (len == n && strncmp(p, role, n) == 0)
			return true;
		p += len;
		p += strspn(p, ", ");
	}
	return false;
}

tw_rc signer_op_custodian_share(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err)
{
	struct signer_activation st;
	struct tw_error aerr;
	char detail[STORE_TEXT_MAX + 1], answer[160];
	unsigned index = 0;
	bool activated = false;
	tw_rc rc;

	/* The api checks the custodian role; the signer checks it again (defence in depth). */
	if (!role_has(c->role, "custodian")) {
		snprintf(detail, sizeof(detail), "refused: role '%s' is not custodian",
			c->role != NULL ? c->role : "unknown");
		(void)signer_audit(srv, c, "signer.custodian.share", "token", "refused", detail, &aerr);
		return tw_error_set(err, TW_E_DENIED, "only an operator with the custodian role "
			"may enter a key share");
	}
	rc = signer_keys_add_share(srv->keys, c->actor != NULL ? c->actor : c->peer,
		data->ptr, data->len, &index, &activated, err);
	signer_keys_activation(srv->keys, &st);
	if (rc == TW_E_INTEGRITY) {
		/* The k-th share completed a set that does not open the token. */
		snprintf(detail, sizeof(detail), "share %u entered; the %u shares do not combine to "
			"the token PIN; all held shares discarded, token stays logged out", index, st.k);
		if (signer_audit(srv, c, "signer.custodian.share", "token", "ok", detail, &aerr) != TW_OK ||
		    signer_audit(srv, c, "signer.activate", "token", "failed", err->message, &aerr) != TW_OK)
			tw_err("activation failure not audited: %s", aerr.message);
		if (alert_raise(srv->store, ALERT_KEY_ACCESS, NULL, "token", "custodian "
		    "activation failed: the entered shares do not combine to the token PIN",
		    &aerr) != TW_OK)
			tw_err("key-access alert not raised: %s", aerr.message);
		tw_warn("custodian activation failed for %s: %s", c->peer, err->message);
		return rc;
	}
	if (rc != TW_OK) {
		/* The message never contains share bytes (shares.c, signer_keys.c). */
		snprintf(detail, sizeof(detail), "refused: %s", err->message);
		(void)signer_audit(srv, c, "signer.custodian.share", "token", "refused", detail, &aerr);
		return rc;
	}
	snprintf(detail, sizeof(detail), "share %u of a %u-of-%u set entered%s", index, st.k,
		st.n, activated ? "; completes the set" : "");
	if ((rc = signer_audit(srv, c, "signer.custodian.share", "token", "ok", detail, err)) != TW_OK) {
		/* Unlogged shares do not count: start over. */
		signer_keys_deactivate(srv->keys);
		return rc;
	}
	if (activated) {
		snprintf(detail, sizeof(detail), "token logged in with the shares of %u custodians "
			"(the signer.custodian.share entries before this one); active until "
			"deactivated or the signer restarts", st.k);
		if ((rc = signer_audit(srv, c, "signer.activate", "token", "ok", detail, err)) != TW_OK) {
			signer_keys_deactivate(srv->keys);
			return rc;
		}
		tw_info("signer active: %u of %u custodians entered their shares", st.k, st.n);
		snprintf(answer, sizeof(answer), "active: the token is logged in (%u of %u "
			"custodians)", st.k, st.n);
	} else {
		snprintf(answer, sizeof(answer), "waiting: share %u accepted, %u of %u shares "
			"entered; the signer stays inactive until %u are", index, st.entered, st.k,
			st.k);
	}
	return tw_buf_append(out, answer, strlen(answer), err);
}

tw_rc signer_op_activation(struct signer_srv *srv, struct conn *c,
	const struct signer_field *data, struct tw_buf *out, struct tw_error *err)
{
	struct signer_activation st;
	char answer[200];
	tw_rc rc;

	if (data->len == 10 && memcmp(data->ptr, "deactivate", 10) == 0) {
		signer_keys_activation(srv->keys, &st);
		if (st.custodians) {
			signer_keys_deactivate(srv->keys);
			if ((rc = signer_audit(srv, c, "signer.deactivate", "token", "ok", st.active ?
			    "token logged out; custodian shares are needed again" :
			    "token was not active; held shares discarded", err)) != TW_OK)
				return rc;
		}
	} else if (!(data->len == 6 && memcmp(data->ptr, "status", 6) == 0)) {
		return tw_error_set(err, TW_E_INVALID, "activation request must be \"status\" or "
			"\"deactivate\"");
	}
	signer_keys_activation(srv->keys, &st);
	if (!st.custodians)
		snprintf(answer, sizeof(answer), "mode=demo active=yes (token PIN from the pin "
			"file, or file keys: not for production)");
	else
		snprintf(answer, sizeof(answer), "mode=custodians k=%u n=%u active=%s entered=%u",
			st.k, st.n, st.active ? "yes" : "no", st.entered);
	return tw_buf_append(out, answer, strlen(answer), err);
}

/* ---------------- the data key ---------------- */

tw_rc signer_op_seal(struct signer_srv *srv, struct conn *c, uint8_t op,
	const struct signer_msg *m, struct tw_buf *out, struct tw_error *err)
{
	char context[SIGNER_LABEL_MAX + 1], aad[SIGNER_AAD_MAX + 1], *res = NULL;
	const struct signer_field *cf = &m->f[SIGNER_TAG_LABEL], *af = &m->f[SIGNER_TAG_AAD];
	const struct signer_field *df = &m->f[SIGNER_TAG_DATA];
	size_t len = 0;
	tw_rc rc;

	if (srv->box == NULL)
		return tw_error_set(err, srv->box_err.code != TW_OK ? srv->box_err.code :
			TW_E_UNAVAILABLE, "the signer has no data key: %s", srv->box_err.message);
	memcpy(context, cf->ptr, cf->len);
	context[cf->len] = '\0';
	memcpy(aad, af->ptr, af->len);
	aad[af->len] = '\0';
	/* The context decides who may ask (checked before); the aad must be one of its
	 * places, so a context cannot be used to open another context's secret. */
	if (!secretbox_context_matches(context, aad))
		return signer_refuse_peer(srv, c, op, context, "the associated data lies "
			"outside the context's namespace", err);
	if (op == SIGNER_OP_SEAL) {
		rc = secretbox_seal(srv->box, aad, df->ptr, df->len, &res, err);
		if (rc == TW_OK)
			len = strlen(res);
	} else {
		char *sealed = signer_field_strdup(df);

		if (sealed == NULL)
			return tw_error_set(err, TW_E_NOMEM, "out of memory");
		/* Text with a NUL inside is not a sealed value (secretbox_unseal stops there). */
		rc = memchr(df->ptr, '\0', df->len) != NULL ?
			tw_error_set(err, TW_E_INVALID, "value is not a sealed secret") :
			secretbox_unseal(srv->box, aad, sealed, &res, &len, err);
		free(sealed);
	}
	if (rc == TW_OK && len == 0) {
		/* An empty plaintext cannot travel as a PAYLOAD field (1.. bytes). */
		rc = tw_error_set(err, TW_E_INVALID, "an empty secret is not sealed");
	}
	if (rc == TW_OK)
		rc = tw_buf_append(out, res, len, err);
	if (res != NULL) {
		OPENSSL_cleanse(res, len);
		free(res);
	}
	return rc;
}
