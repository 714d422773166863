/*
 * ca_batch.c: `torwart ca issue` for many requests at once (ca_issue_files in ca.h).
 *
 * Why batches: with synchronous=FULL every commit is an fsync, and every signer round trip
 * costs a key lookup and an audited transaction in the signer. Requests are verified and
 * their certificates built one by one; then up to CA_BATCH_MAX requests (CA_BATCH_FIRST in
 * the first batch, which the signer idles for) are signed with
 * SIGN_CERTIFICATES (one round trip and one signer audit transaction per CA_SIGN_CHUNK
 * certificates) and stored (request row, decision, certificates, links and admin-log
 * entries) in one transaction. A request rejected during verification never enters a
 * batch; a failing sign or commit fails its whole batch and each of its requests reports
 * that (signatures already made stay in the signer's audit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "pki/ca.h"
#include "pki/ca_internal.h"

/* Requests in the first batch: small, so the signer starts early (it waits for it). */
#define CA_BATCH_FIRST 8
/* Read at most this much of a request file; request_parse refuses > 64 KiB itself. */
#define CA_FILE_MAX (4 * REQUEST_MAX_BYTES)

struct ca_pending {
	size_t index;                                  /* into out[] */
	struct request *req;
	X509 *certs[REQUEST_MAX_ENTRIES];             /* as built (unsigned) */
	unsigned char *signed_der[REQUEST_MAX_ENTRIES]; /* the signer's answer, checked */
	size_t signed_len[REQUEST_MAX_ENTRIES];
	struct store_ca_participant part;
	char digest[65];
	unsigned char *der;
	size_t der_len;
};

static void ca_pending_clear(struct ca_pending *p)
{
	for (size_t i = 0; i < REQUEST_MAX_ENTRIES; i++) {
		X509_free(p->certs[i]);
		free(p->signed_der[i]);
	}
	request_free(p->req);
	free(p->der);
	memset(p, 0, sizeof(*p));
}

/* Commit one batch; fills out[] for its requests. */
static int64_t ca_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A batch of prepared requests and the certificates sent to the signer for it. */
struct ca_flight {
	struct ca_pending *batch;       /* CA_BATCH_MAX entries */
	size_t n;
	X509 **tbs;                     /* borrowed from batch[].certs */
	size_t total;
	bool sent;
};

/* Fail every request of f with rc / err (outcomes only; memory is freed by the caller). */
static void ca_fail_flight(const struct ca_flight *f, struct ca_issue_outcome *out, tw_rc rc,
	const struct tw_error *err)
{
	for (size_t i = 0; i < f->n; i++) {
		struct ca_issue_outcome *o = &out[f->batch[i].index];

		o->rc = rc;
		o->result = PKI_FAILURE_INTERNAL_ERROR;
		o->request_id = 0;
		o->n_certs = 0;
		snprintf(o->message, sizeof(o->message), "not issued: %s", err->message);
	}
}

static void ca_flight_clear(struct ca_flight *f)
{
	for (size_t k = 0; f->batch != NULL && k < CA_BATCH_MAX; k++)
		ca_pending_clear(&f->batch[k]);
	free(f->tbs);
	f->tbs = NULL;
	f->n = f->total = 0;
}

/* Send the batch's certificates to the signer without waiting for the answer. */
static tw_rc ca_send(struct ca_run *r, struct signer_client *sc, struct ca_flight *f,
	struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	size_t k = 0;
	tw_rc rc;

	f->total = 0;
	for (size_t i = 0; i < f->n; i++)
		f->total += f->batch[i].req->n_entries;
	free(f->tbs);
	if ((f->tbs = calloc(f->total, sizeof(*f->tbs))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->batch[i].req->n_entries; j++)
			f->tbs[k++] = f->batch[i].certs[j];
	rc = signer_sign_certificates_send(sc, r->cfg->key_label, f->tbs, f->total, err);
	f->sent = rc == TW_OK;
	st->sign_us += ca_us() - t0;
	return rc;
}

/* Read the answer of f (DER, one buffer per certificate) into its pending entries. */
static tw_rc ca_recv(struct signer_client *sc, struct ca_flight *f, struct tw_error *err)
{
	unsigned char **der = calloc(f->total > 0 ? f->total : 1, sizeof(*der));
	size_t *len = calloc(f->total > 0 ? f->total : 1, sizeof(*len)), k = 0;
	tw_rc rc;

	if (der == NULL || len == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	f->sent = false;
	if ((rc = signer_sign_certificates_recv_der(sc, f->total, der, len, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < f->batch[i].req->n_entries; j++, k++) {
			f->batch[i].signed_der[j] = der[k];
			f->batch[i].signed_len[j] = len[k];
			der[k] = NULL;
		}
out:
	if (rc != TW_OK && der == NULL) {
		/* Not even the buffers: still read the answer, or the connection is out of step. */
		unsigned char *d1[CA_BATCH_MAX * REQUEST_MAX_ENTRIES];
		size_t l1[CA_BATCH_MAX * REQUEST_MAX_ENTRIES];

		f->sent = false;
		if (signer_sign_certificates_recv_der(sc, f->total, d1, l1, err) == TW_OK)
			for (size_t i = 0; i < f->total; i++)
				free(d1[i]);
	}
	free(der);
	free(len);
	return rc;
}

/* Check the received signatures of f, then store its requests in one transaction. */
static tw_rc ca_store(struct ca_run *r, struct ca_flight *f, struct ca_issue_outcome *out,
	struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	char object[32], detail[STORE_TEXT_MAX + 1];
	struct ca_pending *batch = f->batch;
	unsigned char **ders = NULL;
	size_t *lens = NULL;
	size_t n = f->n, k = 0;
	tw_rc rc;

	if (n == 0)
		return TW_OK;
	/* The check wants flat arrays in the order the certificates were sent (f->tbs). */
	if ((ders = calloc(f->total, sizeof(*ders))) == NULL ||
	    (lens = calloc(f->total, sizeof(*lens))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < batch[i].req->n_entries; j++, k++) {
			ders[k] = batch[i].signed_der[j];
			lens[k] = batch[i].signed_len[j];
		}
	if ((rc = ca_check_signed_der(r, f->tbs, ders, lens, f->total, err)) != TW_OK)
		goto fail;
	st->sign_us += ca_us() - t0;
	t0 = ca_us();
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
		    (rc = ca_record(r, id, p->req, p->certs, p->signed_der, p->signed_len,
			o->serials, err)) != TW_OK)
			goto rollback;
		o->request_id = id;
		o->n_certs = p->req->n_entries;
	}
	if ((rc = store_commit(r->store, err)) != TW_OK)
		goto fail;
	st->store_us += ca_us() - t0;
	for (size_t i = 0; i < n; i++) {
		out[batch[i].index].rc = TW_OK;
		out[batch[i].index].result = PKI_OK_CERT_AVAILABLE;
		out[batch[i].index].message[0] = '\0';
	}
	free(ders);
	free(lens);
	return TW_OK;
rollback:
	store_rollback(r->store);
fail:
	ca_fail_flight(f, out, rc, err);
	free(ders);
	free(lens);
	return rc;
}

/* Receive, check and store f (the last batches, when nothing else is left to send). */
static tw_rc ca_finish(struct ca_run *r, struct signer_client *sc, struct ca_flight *f,
	struct ca_issue_outcome *out, struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	tw_rc rc;

	if (f->n == 0)
		return TW_OK;
	if ((rc = ca_recv(sc, f, err)) != TW_OK) {
		ca_fail_flight(f, out, rc, err);
		return rc;
	}
	st->sign_us += ca_us() - t0;
	return ca_store(r, f, out, st, err);
}

/*
 * One turn of the pipeline, cur being full: wait for the answer of *flying, send *cur at
 * once (so the signer starts on it while this process checks and stores *flying, instead
 * of idling through that transaction), store *flying, then swap the two. On failure the
 * affected requests say why; a sent batch stays in *flying for the caller to drain.
 */
static tw_rc ca_turn(struct ca_run *r, struct signer_client *sc, struct ca_flight **cur,
	struct ca_flight **flying, struct ca_issue_outcome *out, struct ca_issue_stats *st,
	struct tw_error *err)
{
	struct ca_flight *c = *cur, *f = *flying;
	struct tw_error store_err;
	int64_t t0 = ca_us();
	tw_rc rc = TW_OK, stored;

	if (f->n > 0 && (rc = ca_recv(sc, f, err)) != TW_OK) {
		ca_fail_flight(f, out, rc, err);
		ca_flight_clear(f);
		return rc;
	}
	st->sign_us += ca_us() - t0;
	if ((rc = ca_send(r, sc, c, st, err)) != TW_OK)
		ca_fail_flight(c, out, rc, err);
	/* f's certificates are signed and audited by the signer: store them regardless. */
	tw_error_clear(&store_err);
	stored = ca_store(r, f, out, st, &store_err);
	ca_flight_clear(f);
	if (rc == TW_OK && stored != TW_OK) {
		rc = stored;
		*err = store_err;
	}
	*cur = f;
	*flying = c;
	return rc;
}

/* Verify one file and build its certificates into p; on rejection o says why, TW_OK. */
static tw_rc ca_prepare(struct ca_run *r, const char *participant,
	const struct ca_flight *cur, const struct ca_flight *flying, struct ca_pending *p,
	struct ca_issue_outcome *o, struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	unsigned char *in = NULL;
	size_t len = 0;
	struct tw_error e;
	tw_rc rc;

	tw_error_clear(&e);
	r->want_part = participant;
	if (r->mem != NULL) {
		/* ca_issue_buffer: the caller's bytes, copied so the path below stays one. */
		if (r->mem_len > CA_FILE_MAX)
			rc = TW_E_TOO_LARGE;
		else if ((in = malloc(r->mem_len > 0 ? r->mem_len : 1)) == NULL)
			rc = tw_error_set(&e, TW_E_NOMEM, "out of memory");
		else {
			memcpy(in, r->mem, r->mem_len);
			len = r->mem_len;
			rc = TW_OK;
		}
	} else
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
	/* Not yet in the store: the batch being prepared and the one being signed. */
	for (size_t i = 0; i < cur->n + flying->n; i++) {
		const struct ca_pending *q = i < cur->n ? &cur->batch[i] :
			&flying->batch[i - cur->n];

		if (strcmp(q->digest, p->digest) == 0) {
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
	st->read_parse_us += ca_us() - t0;
	t0 = ca_us();
	rc = ca_build(r, p->req, p->certs, &e);
	st->build_us += ca_us() - t0;
	if (rc != TW_OK) {
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

static tw_rc ca_issue_run(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	bool caller_bound, const unsigned char *mem, size_t mem_len,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, ca_issue_progress_fn fn, void *arg, struct tw_error *err);

tw_rc ca_issue_files(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, struct tw_error *err)
{
	return ca_issue_run(home, store, sc, who, participant, false, NULL, 0, files, n, out,
		stats, NULL, NULL, err);
}

tw_rc ca_issue_files_progress(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, ca_issue_progress_fn fn, void *arg, struct tw_error *err)
{
	return ca_issue_run(home, store, sc, who, participant, false, NULL, 0, files, n, out,
		stats, fn, arg, err);
}

tw_rc ca_issue_buffer(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	const unsigned char *in, size_t len, struct ca_issue_outcome *out, struct tw_error *err)
{
	static const char *const name[] = { "web-service-request" };

	return ca_issue_run(home, store, sc, who, participant, true, in, len, name, 1, out,
		NULL, NULL, NULL, err);
}

static tw_rc ca_issue_run(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const struct ca_actor *who, const char *participant,
	bool caller_bound, const unsigned char *mem, size_t mem_len,
	const char *const *files, size_t n, struct ca_issue_outcome *out,
	struct ca_issue_stats *stats, ca_issue_progress_fn fn, void *arg, struct tw_error *err)
{
	struct ca_issue_stats dummy, *st = stats != NULL ? stats : &dummy;
	struct ca_flight fa = { 0 }, fb = { 0 }, *cur = &fa, *flying = &fb;
	struct ca_run r;
	size_t i = 0, turns = 0;
	tw_rc rc;

	memset(st, 0, sizeof(*st));
	for (size_t k = 0; k < n; k++) {
		memset(&out[k], 0, sizeof(out[k]));
		out[k].file = files[k];
		out[k].rc = TW_E_INTERNAL;
		out[k].result = PKI_FAILURE_INTERNAL_ERROR;
		snprintf(out[k].message, sizeof(out[k].message), "not processed");
	}
	if ((rc = ca_run_init(&r, home, store, who, err)) != TW_OK ||
	    (rc = ca_state_require_active(store, CA_DEFAULT_NAME, "issuance", err)) != TW_OK)
		goto out;
	r.caller_bound = caller_bound;
	r.mem = mem;
	r.mem_len = mem_len;
	if (caller_bound) {
		/* The request's own subject names its participant; ca_validate checks the caller. */
		r.caller = participant;
		participant = NULL;
	}
	if ((fa.batch = calloc(CA_BATCH_MAX, sizeof(*fa.batch))) == NULL ||
	    (fb.batch = calloc(CA_BATCH_MAX, sizeof(*fb.batch))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	/*
	 * Pipeline of two batches: while the signer signs one (flying), this process reads,
	 * verifies and builds the next (cur); the two processes work on different cores.
	 */
	for (i = 0; i < n; i++) {
		struct ca_pending *p = &cur->batch[cur->n];

		p->index = i;
		if ((rc = ca_prepare(&r, participant, cur, flying, p, &out[i], st, err)) != TW_OK)
			break;
		if (fn != NULL)
			fn(arg, i + 1, n);
		if (p->req == NULL)
			continue;   /* rejected; out[i] says why */
		/* A small first batch: the signer idles until it arrives. */
		if (++cur->n < (turns == 0 ? CA_BATCH_FIRST : CA_BATCH_MAX))
			continue;
		turns++;
		if ((rc = ca_turn(&r, sc, &cur, &flying, out, st, err)) != TW_OK)
			break;
	}
	if (rc == TW_OK && cur->n > 0)
		rc = ca_turn(&r, sc, &cur, &flying, out, st, err);
	if (rc == TW_OK)
		rc = ca_finish(&r, sc, flying, out, st, err);
out:
	/* An answer still in flight after a failure: drain it so sc stays usable. */
	if (flying->sent) {
		struct tw_error ignored;

		(void)ca_recv(sc, flying, &ignored);   /* the entries own the DER; freed below */
		ca_fail_flight(flying, out, rc, err);
	}
	ca_flight_clear(&fa);
	ca_flight_clear(&fb);
	free(fa.batch);
	free(fb.batch);
	if (rc != TW_OK)
		for (size_t k = 0; k < n; k++)
			if (out[k].rc == TW_E_INTERNAL && strcmp(out[k].message, "not processed") == 0)
				snprintf(out[k].message, sizeof(out[k].message), "not processed: %s",
					err->message);
	ca_run_free(&r);
	return rc;
}
