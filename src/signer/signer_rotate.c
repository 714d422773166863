/*
 * signer_rotate.c: SIGNER_OP_KEY_ROTATE, the signer's side of the rotation of the GWA's
 * own keys (signer_keys.h "Key rotation"; docs/security.md "Key rotation of the GWA's own
 * keys").
 *
 * The operation moves pointers and makes or destroys key files; the keys themselves
 * never leave the signer (the caller learns a new key's public half with GET_PUBLIC_KEY
 * under its versioned label). Only root and the signer's own user may ask (signer_peer.c):
 * it is an operator's command on the signer's host, like the key ceremony. Every change
 * (a key made, a switch, a key destroyed) is an admin-log entry of the signer.
 */
#include "signer/signer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "crypto/key_label.h"
#include "signer/signer_keys.h"

#define SR_ACTION_MAX (16 + SIGNER_LABEL_MAX)

tw_rc signer_op_key_rotate(struct signer_srv *srv, struct conn *c, const struct signer_msg *m,
	struct tw_buf *out, struct tw_error *err)
{
	const struct signer_field *df = &m->f[SIGNER_TAG_DATA];
	char action[SR_ACTION_MAX + 1], extra[2 * SIGNER_LABEL_MAX + 32] = "";
	char v[SIGNER_LABEL_MAX + 1] = "", detail[4 * SIGNER_LABEL_MAX + 64];
	const char *audit_action = NULL;
	struct signer_rotation r;
	char *base = signer_field_strdup(&m->f[SIGNER_TAG_LABEL]);
	tw_rc rc;

	if (base == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (df->len > SR_ACTION_MAX || memchr(df->ptr, '\0', df->len) != NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "key-rotate: unknown action");
		goto out;
	}
	memcpy(action, df->ptr, df->len);
	action[df->len] = '\0';
	if (strcmp(action, "status") == 0) {
		rc = TW_OK;
	} else if (strcmp(action, "prepare") == 0) {
		if ((rc = signer_keys_rotate_prepare(srv->keys, base, v, sizeof(v), err)) == TW_OK)
			audit_action = "signer.key-prepare";
	} else if (strncmp(action, "commit ", 7) == 0 && signer_label_versioned(action + 7)) {
		char old[SIGNER_LABEL_MAX + 1];

		rc = signer_keys_rotate_commit(srv->keys, base, action + 7, old, sizeof(old), err);
		if (rc == TW_OK) {
			snprintf(v, sizeof(v), "%s", action + 7);
			snprintf(extra, sizeof(extra), " old=%s", old);
			audit_action = "signer.key-switch";
		}
	} else if (strcmp(action, "retire prev") == 0 || strcmp(action, "retire next") == 0) {
		rc = signer_keys_rotate_retire(srv->keys, base, action + 7, v, sizeof(v), err);
		if (rc == TW_OK && v[0] != '\0') {
			snprintf(extra, sizeof(extra), " destroyed=%s", v);
			audit_action = "signer.key-destroy";
		}
	} else {
		rc = tw_error_set(err, TW_E_INVALID, "key-rotate: unknown action (status, prepare, "
			"commit LABEL, retire prev, retire next)");
	}
	if (rc != TW_OK)
		goto out;
	if (audit_action != NULL) {
		snprintf(detail, sizeof(detail), "key=%s version=%s%s", base, v, extra);
		tw_info("%s: %s for %s", audit_action, detail, c->peer);
		if ((rc = signer_audit(srv, c, audit_action, base, "ok", detail, err)) != TW_OK)
			goto out;
	}
	if ((rc = signer_keys_rotation(srv->keys, base, &r, err)) != TW_OK)
		goto out;
	rc = tw_buf_appendf(out, err, "current=%s next=%s prev=%s%s", r.current,
		r.next[0] != '\0' ? r.next : "-", r.prev[0] != '\0' ? r.prev : "-", extra);
out:
	free(base);
	return rc;
}
