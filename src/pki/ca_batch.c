/*
 * ca_batch.c: `torwart ca issue` for many requests at once (ca_issue_files in ca.h).
 *
 * Why batches: with synchronous=FULL every commit is an fsync, and every signer round trip
 * costs a key lookup and an audited transaction in the signer. Requests are verified and
 * their certificates built one by one; then up to CA_BATCH_MAX requests are signed with
 * SIGN_CERTIFICATES (one round trip and one signer audit transaction per CA_SIGN_CHUNK
 * certificates) and stored (request row, decision, certificates, links and admin-log
 * entries) in one transaction. A request rejected during verification never enters a
 * batch; a failing sign or commit fails its whole batch and each of its requests reports
 * that (signatures already made stay in the signer's audit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "pki/ca.h"
#include "pki/ca_internal.h"

/* Read at most this much of a request file; request_parse refuses > 64 KiB itself. */
#define CA_FILE_MAX (4 * REQUEST_MAX_BYTES)

struct ca_pending {
	size_t index;                                  /* into out[] */
	struct request *req;
	X509 *certs[REQUEST_MAX_ENTRIES];
	struct store_ca_participant part;
	char digest[65];
	unsigned char *der;
	size_t der_len;
};

static void ca_pending_clear(struct ca_pending *p)
{
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++)
		X509_free(p->certs[i]);
	request_free(p->req);
	free(p->der);
	memset(p, 0, sizeof(*p));
}

/* Commit one batch; fills out[] for its requests. */
static tw_rc ca_flush(struct ca_run *r, struct signer_client *sc, struct ca_pending *batch,
	size_t n, struct ca_issue_outcome *out, struct tw_error *err)
{
	char object[32], detail[STORE_TEXT_MAX + 1];
	X509 **tbs = NULL, **signed_certs = NULL;
	size_t total = 0, k = 0;
	tw_rc rc;

	if (n == 0)
		return TW_OK;
	for (size_t i = 0; i < n; i++)
		total += batch[i].req->n_entries;
	if ((tbs = calloc(total, sizeof(*tbs))) == NULL ||
	    (signed_certs = calloc(total, sizeof(*signed_certs))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < batch[i].req->n_entries; j++)
			tbs[k++] = batch[i].certs[j];
	if ((rc = ca_sign_many(r, sc, tbs, total, signed_certs, err)) != TW_OK)
		goto fail;
	/* Swap the built certificates for the signed ones (the pending entries own them). */
	k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < batch[i].req->n_entries; j++) {
			X509_free(batch[i].certs[j]);
			batch[i].certs[j] = signed_certs[k];
			signed_certs[k++] = NULL;
		}
	if ((rc = store_begin(r->store, err)) != TW_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct ca_pending *p = &batch[i];
		struct ca_issue_outcome *o = &out[p->index];
		struct store_ca_request row;
		int64_t id = 0;

		r->part = p->part;
		if ((rc = ca_request_row(r, p->req, p->digest, "issued", p->der, p->der_len, &row,
			err)) != TW_OK)
			goto rollback;
		row.decided_ms = row.received_ms;
		snprintf(row.decided_by, sizeof(row.decided_by), "%s", r->who->actor);
		snprintf(row.reason, sizeof(row.reason), "registered participant: issued directly");
		if ((rc = store_ca_request_insert(r->store, &row, &id, err)) != TW_OK)
			goto rollback;
		snprintf(object, sizeof(object), "request:%lld", (long long)id);
		snprintf(detail, sizeof(detail), "participant=%s kind=%s digest=%s subject=%s",
			row.participant, row.kind, row.digest, row.subject);
		if ((rc = ca_audit(r, "ca.request.submit", object, "ok", NULL, detail, err)) != TW_OK ||
		    (rc = ca_audit(r, "ca.request.approve", object, "ok", NULL,
			"reason=registered participant, issued directly", err)) != TW_OK ||
		    (rc = ca_record(r, id, p->req, p->certs, o->serials, err)) != TW_OK)
			goto rollback;
		o->request_id = id;
		o->n_certs = p->req->n_entries;
	}
	if ((rc = store_commit(r->store, err)) != TW_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		out[batch[i].index].rc = TW_OK;
		out[batch[i].index].result = PKI_OK_CERT_AVAILABLE;
		out[batch[i].index].message[0] = '\0';
	}
	free(tbs);
	free(signed_certs);
	return TW_OK;
rollback:
	store_rollback(r->store);
fail:
	for (size_t i = 0; i < n; i++) {
		struct ca_issue_outcome *o = &out[batch[i].index];

		o->rc = rc;
		o->result = PKI_FAILURE_INTERNAL_ERROR;
		o->request_id = 0;
		o->n_certs = 0;
		snprintf(o->message, sizeof(o->message), "not issued: %s", err->message);
	}
	free(tbs);
	free(signed_certs);
	return rc;
}

/* Verify one file and build its certificates into p; on rejection o says why, TW_OK. */
static tw_rc ca_prepare(struct ca_run *r, const char *participant,
	const struct ca_pending *batch, size_t n, struct ca_pending *p,
	struct ca_issue_outcome *o, struct tw_error *err)
{
	unsigned char *in = NULL;
	size_t len = 0;
	struct tw_error e;
	tw_rc rc;

	tw_error_clear(&e);
	r->want_part = participant;
	rc = tw_read_file(o->file, CA_FILE_MAX, &in, &len, &e);
	if (rc == TW_E_TOO_LARGE) {
		o->result = PKI_FAILURE_SYNTAX;
		tw_error_set(&e, rc, "%s is larger than %d bytes; requests are at most %d bytes",
			o->file, CA_FILE_MAX, REQUEST_MAX_BYTES);
		ca_refuse(r, "request", o->result, rc, &e);
		goto reject;
	}
	if (rc != TW_OK) {
		o->result = PKI_FAILURE_OTHER_ERROR;
		goto reject;
	}
	if ((rc = ca_validate(r, "request", in, len, true, &p->req, p->digest, &o->result,
		&e)) != TW_OK)
		goto reject;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(batch[i].digest, p->digest) == 0) {
			o->result = PKI_FAILURE_REQUEST_NOT_ACCEPTED;
			rc = tw_error_set(&e, TW_E_DENIED, "the same request appears twice in this "
				"run (%s); a replayed request is never processed twice", o->file);
			ca_refuse(r, "request", o->result, rc, &e);
			goto reject;
		}
	}
	p->part = r->part;
	if ((rc = request_decode(in, len, &p->der, &p->der_len, &e)) != TW_OK)
		goto reject;
	/* Built now, signed with the whole batch at flush time (one signer round trip). */
	if ((rc = ca_build(r, p->req, p->certs, &e)) != TW_OK) {
		if (rc == TW_E_INVALID) {   /* e.g. an e-mail the profile refuses */
			o->result = PKI_FAILURE_INCORRECT_REQUEST;
			ca_refuse(r, "request", o->result, rc, &e);
			goto reject;
		}
		o->rc = rc;
		o->result = PKI_FAILURE_INTERNAL_ERROR;
		snprintf(o->message, sizeof(o->message), "%s", e.message);
		tw_error_set(err, rc, "%s", e.message);
		ca_pending_clear(p);
		free(in);
		return rc;
	}
	free(in);
	return TW_OK;
reject:
	o->rc = rc != TW_OK ? rc : TW_E_INVALID;
	snprintf(o->message, sizeof(o->message), "%s", e.message);
	ca_pending_clear(p);
	free(in);
	return TW_OK;
}

tw_rc ca_issue_files(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const char *const *files, size_t n, struct ca_issue_outcome *out, struct tw_error *err)
{
	struct ca_run r;
	struct ca_pending *batch = NULL;
	size_t nb = 0, i = 0;
	tw_rc rc;

	for (size_t k = 0; k < n; k++) {
		memset(&out[k], 0, sizeof(out[k]));
		out[k].file = files[k];
		out[k].rc = TW_E_INTERNAL;
		out[k].result = PKI_FAILURE_INTERNAL_ERROR;
		snprintf(out[k].message, sizeof(out[k].message), "not processed");
	}
	if ((rc = ca_run_init(&r, home, store, who, err)) != TW_OK)
		goto out;
	if ((batch = calloc(CA_BATCH_MAX, sizeof(*batch))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct ca_pending *p = &batch[nb];

		p->index = i;
		if ((rc = ca_prepare(&r, participant, batch, nb, p, &out[i], err)) != TW_OK)
			break;
		if (p->req == NULL)
			continue;   /* rejected; out[i] says why */
		if (++nb == CA_BATCH_MAX) {
			rc = ca_flush(&r, sc, batch, nb, out, err);
			for (size_t k = 0; k < nb; k++)
				ca_pending_clear(&batch[k]);
			nb = 0;
			if (rc != TW_OK)
				break;
		}
	}
	if (rc == TW_OK)
		rc = ca_flush(&r, sc, batch, nb, out, err);
out:
	for (size_t k = 0; batch != NULL && k < CA_BATCH_MAX; k++)
		ca_pending_clear(&batch[k]);
	free(batch);
	if (rc != TW_OK)
		for (size_t k = i; k < n; k++)
			if (out[k].rc == TW_E_INTERNAL)
				snprintf(out[k].message, sizeof(out[k].message), "not processed: %s",
					err->message);
	ca_run_free(&r);
	return rc;
}
