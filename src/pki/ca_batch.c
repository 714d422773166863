/*
 * ca_batch.c: `torwart ca issue` for many requests at once (ca_issue_files in ca.h).
 *
 * Three stages keep both cores busy (issue 16: one POP verification and one signature per
 * certificate are the ceiling, so neither may wait for the other):
 *   verify  CA_VERIFY_THREADS worker threads read the files and run the store-free half
 *           of the checks (ca_validate_parse: parse, every proof of possession, the CMS
 *           signatures and their chains), in file order, at most CA_FEED_AHEAD requests
 *           ahead of the store; the store thread takes a request itself when no worker
 *           has claimed it yet.
 *   store   this thread, in file order: the store half of the checks (participant,
 *           signer certificates, registration, replay), the certificates built, then a
 *           flight of them sent to the signer with SIGN_CERTIFICATES (one round trip and
 *           one signer audit transaction per flight); while the signer signs it, this
 *           thread checks the previous flight's answer, gathers it, and prepares the
 *           next. Gathered flights are stored together (request rows, decisions,
 *           certificates, links and admin-log entries) in one transaction of at most
 *           CA_BATCH_MAX requests: one fsync per transaction, not per flight.
 *   sign    the signer process.
 * A flight leaves when the signer has answered the previous one (its socket is readable)
 * and holds CA_FLIGHT_MIN requests, or when it holds CA_FLIGHT_MAX; the first leaves at
 * CA_BATCH_FIRST (the signer idles until it arrives). Small flights keep the signer from
 * idling and make the tail short, where the signer signs the last flight alone.
 * A request rejected during verification never enters a flight (its refusal is audited
 * by the store thread, in order); a failing sign or commit fails its whole flight and
 * each of its requests reports that (signatures already made stay in the signer's audit).
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "pki/ca.h"
#include "pki/ca_internal.h"

/* Requests in the first flight: small, so the signer starts early (it waits for it). */
#define CA_BATCH_FIRST 8
/* Requests per flight: at least this many when the signer is free, at most the maximum. */
#define CA_FLIGHT_MIN 8
#define CA_FLIGHT_MAX 16
/* Verifying threads (2 cores: they share them with the store thread and the signer). */
#define CA_VERIFY_THREADS 2
/* Requests verified ahead of the store thread at most (bounds the memory held). */
#define CA_FEED_AHEAD (2 * CA_BATCH_MAX)
/* A flight fits a batch array, and a gathered transaction at least one flight. */
_Static_assert(CA_BATCH_FIRST <= CA_FLIGHT_MAX && CA_FLIGHT_MIN <= CA_FLIGHT_MAX &&
	CA_FLIGHT_MAX <= CA_BATCH_MAX, "flight sizes must fit CA_BATCH_MAX");
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

/*
 * Check the signer's answer for f: every certificate is what was built, the first of each
 * chunk verifies with the CA key (ca_check_signed_der). On failure f's requests say why.
 */
static tw_rc ca_check_flight(struct ca_run *r, struct ca_flight *f,
	struct ca_issue_outcome *out, struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	struct ca_pending *batch = f->batch;
	unsigned char **ders = NULL;
	size_t *lens = NULL;
	size_t k = 0;
	tw_rc rc;

	if (f->n == 0)
		return TW_OK;
	/* The check wants flat arrays in the order the certificates were sent (f->tbs). */
	if ((ders = calloc(f->total, sizeof(*ders))) == NULL ||
	    (lens = calloc(f->total, sizeof(*lens))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f->n; i++)
		for (size_t j = 0; j < batch[i].req->n_entries; j++, k++) {
			ders[k] = batch[i].signed_der[j];
			lens[k] = batch[i].signed_len[j];
		}
	rc = ca_check_signed_der(r, f->tbs, ders, lens, f->total, err);
out:
	if (rc != TW_OK)
		ca_fail_flight(f, out, rc, err);
	st->sign_us += ca_us() - t0;
	free(ders);
	free(lens);
	return rc;
}

/*
 * Store the signed and checked requests of acc in one transaction (request rows,
 * decisions, certificates, links, admin-log entries, one commit: one fsync), then empty
 * acc. Flights are small (the signer must not idle), commits are not: a commit is an
 * fsync, so acc gathers several flights, up to CA_BATCH_MAX requests.
 */
static tw_rc ca_store(struct ca_run *r, struct ca_flight *acc, struct ca_issue_outcome *out,
	struct ca_issue_stats *st, struct tw_error *err)
{
	int64_t t0 = ca_us();
	char object[32], detail[STORE_TEXT_MAX + 1];
	struct ca_pending *batch = acc->batch;
	size_t n = acc->n;
	tw_rc rc;

	if (n == 0)
		return TW_OK;
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
	for (size_t i = 0; i < n; i++) {
		out[batch[i].index].rc = TW_OK;
		out[batch[i].index].result = PKI_OK_CERT_AVAILABLE;
		out[batch[i].index].message[0] = '\0';
	}
	goto out;
rollback:
	store_rollback(r->store);
fail:
	ca_fail_flight(acc, out, rc, err);
out:
	st->store_us += ca_us() - t0;
	ca_flight_clear(acc);
	return rc;
}

/*
 * Move the checked requests of f into acc (f is left empty); store acc when one more
 * flight might not fit, or (last) now.
 */
static tw_rc ca_gather(struct ca_run *r, struct ca_flight *f, struct ca_flight *acc,
	bool last, struct ca_issue_outcome *out, struct ca_issue_stats *st, struct tw_error *err)
{
	for (size_t i = 0; i < f->n; i++) {
		acc->batch[acc->n++] = f->batch[i];
		memset(&f->batch[i], 0, sizeof(f->batch[i]));
	}
	ca_flight_clear(f);
	if (!last && acc->n + CA_FLIGHT_MAX <= CA_BATCH_MAX)
		return TW_OK;
	return ca_store(r, acc, out, st, err);
}

/* Receive, check and store f and acc (the end, when nothing else is left to send). */
static tw_rc ca_finish(struct ca_run *r, struct signer_client *sc, struct ca_flight *f,
	struct ca_flight *acc, struct ca_issue_outcome *out, struct ca_issue_stats *st,
	struct tw_error *err)
{
	int64_t t0 = ca_us();
	tw_rc rc = TW_OK;

	if (f->n > 0) {
		if ((rc = ca_recv(sc, f, err)) != TW_OK)
			ca_fail_flight(f, out, rc, err);
		st->sign_us += ca_us() - t0;
		if (rc == TW_OK)
			rc = ca_check_flight(r, f, out, st, err);
		if (rc != TW_OK)
			ca_flight_clear(f);
	}
	/* acc holds signed, checked requests: stored even when f failed. */
	{
		struct tw_error store_err;
		tw_rc stored;

		tw_error_clear(&store_err);
		stored = ca_gather(r, f, acc, true, out, st, &store_err);
		if (rc == TW_OK && stored != TW_OK) {
			rc = stored;
			*err = store_err;
		}
	}
	return rc;
}

/*
 * One turn of the pipeline, cur being due: wait for the answer of *flying, send *cur at
 * once (so the signer starts on it while this thread checks and stores *flying), check
 * *flying and gather it for the store, then swap the two. On failure the affected
 * requests say why; a sent flight stays in *flying for the caller to drain.
 */
static tw_rc ca_turn(struct ca_run *r, struct signer_client *sc, struct ca_flight **cur,
	struct ca_flight **flying, struct ca_flight *acc, struct ca_issue_outcome *out,
	struct ca_issue_stats *st, struct tw_error *err)
{
	struct ca_flight *c = *cur, *f = *flying;
	struct tw_error store_err;
	int64_t t0 = ca_us();
	tw_rc rc = TW_OK, stored = TW_OK;

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
	if (f->n > 0 && (stored = ca_check_flight(r, f, out, st, &store_err)) != TW_OK)
		ca_flight_clear(f);
	else
		stored = ca_gather(r, f, acc, false, out, st, &store_err);
	if (rc == TW_OK && stored != TW_OK) {
		rc = stored;
		*err = store_err;
	}
	*cur = f;
	*flying = c;
	return rc;
}


/* One request as the verifying threads left it for the store thread. */
struct ca_slot {
	bool done;
	tw_rc read_rc;                 /* reading the file: TW_OK or why not */
	struct tw_error read_err;
	struct ca_parsed parsed;       /* when read_rc is TW_OK */
};

/*
 * The verify stage. Slots are claimed in file order (next); the store thread takes them
 * in the same order (taken). Everything below is guarded by mu; a slot's contents belong
 * to the thread that claimed it until done is set, then to the store thread.
 */
struct ca_feed {
	X509_STORE *trust;                   /* only read: the chains of signer certificates */
	const unsigned char *mem;            /* ca_issue_buffer's bytes, or NULL: files[] */
	size_t mem_len;
	const char *const *files;
	size_t n;
	struct ca_slot *slot;
	size_t next;                         /* the first slot nobody has claimed */
	size_t taken;                        /* the store thread is at this slot */
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th[CA_VERIFY_THREADS];
	size_t nth;
};

/* Read request i and run the store-free checks on it (any thread, no lock held). */
static void ca_slot_fill(struct ca_feed *f, size_t i)
{
	struct ca_slot *s = &f->slot[i];
	unsigned char *in = NULL;
	size_t len = 0;

	tw_error_clear(&s->read_err);
	if (f->mem != NULL) {
		s->read_rc = f->mem_len > CA_FILE_MAX ? TW_E_TOO_LARGE : TW_OK;
		if (s->read_rc == TW_OK)
			ca_validate_parse(f->trust, f->mem, f->mem_len, true, &s->parsed);
		return;
	}
	s->read_rc = tw_read_file(f->files[i], CA_FILE_MAX, &in, &len, &s->read_err);
	if (s->read_rc == TW_OK)
		ca_validate_parse(f->trust, in, len, true, &s->parsed);
	free(in);
}

static void *ca_feed_worker(void *arg)
{
	struct ca_feed *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		size_t i;

		while (!f->stop && f->next < f->n && f->next >= f->taken + CA_FEED_AHEAD)
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop || f->next >= f->n)
			break;
		i = f->next++;
		pthread_mutex_unlock(&f->mu);
		ca_slot_fill(f, i);
		pthread_mutex_lock(&f->mu);
		f->slot[i].done = true;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/*
 * Start the verify stage over n requests. Without threads (one request, or none could
 * be started) the store thread verifies each request itself when it takes it.
 */
static tw_rc ca_feed_start(struct ca_feed *f, const struct ca_run *r, const char *const *files,
	size_t n, struct tw_error *err)
{
	memset(f, 0, sizeof(*f));
	f->trust = r->trust;
	f->mem = r->mem;
	f->mem_len = r->mem_len;
	f->files = files;
	f->n = n;
	if ((f->slot = calloc(n > 0 ? n : 1, sizeof(*f->slot))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (pthread_mutex_init(&f->mu, NULL) != 0 || pthread_cond_init(&f->cv, NULL) != 0) {
		free(f->slot);
		f->slot = NULL;
		return tw_error_set(err, TW_E_NOMEM, "cannot create the verification lock");
	}
	for (size_t k = 0; n > 1 && k < CA_VERIFY_THREADS; k++) {
		if (pthread_create(&f->th[f->nth], NULL, ca_feed_worker, f) != 0) {
			/* Fewer threads only cost time: the store thread verifies what is left. */
			tw_warn("ca issue: could not start verification thread %zu; continuing with "
				"%zu", k + 1, f->nth);
			break;
		}
		f->nth++;
	}
	return TW_OK;
}

/* Slot i, verified (by a worker, or now by this thread if none claimed it yet). */
static struct ca_slot *ca_feed_take(struct ca_feed *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	f->taken = i;
	pthread_cond_broadcast(&f->cv);   /* the workers may run further ahead now */
	if (f->next == i) {
		f->next++;
		pthread_mutex_unlock(&f->mu);
		ca_slot_fill(f, i);
		pthread_mutex_lock(&f->mu);
		f->slot[i].done = true;
	}
	while (!f->slot[i].done)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
	return &f->slot[i];
}

/* Stop the workers (a request being verified is finished first) and free every slot. */
static void ca_feed_stop(struct ca_feed *f)
{
	if (f->slot == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	for (size_t k = 0; k < f->nth; k++)
		pthread_join(f->th[k], NULL);
	for (size_t i = 0; i < f->n; i++)
		ca_parsed_clear(&f->slot[i].parsed);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f->slot);
	f->slot = NULL;
}

/*
 * Finish the checks of one verified request (slot s) and build its certificates into p;
 * on rejection o says why (audited) and TW_OK is returned.
 */
static tw_rc ca_prepare(struct ca_run *r, const char *participant,
	const struct ca_flight *const held[3], struct ca_pending *p,
	struct ca_issue_outcome *o, struct ca_slot *s, struct ca_issue_stats *st,
	struct tw_error *err)
{
	int64_t t0 = ca_us();
	struct tw_error e;
	tw_rc rc;

	r->want_part = participant;
	e = s->read_err;
	rc = s->read_rc;
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
	if ((rc = ca_validate_finish(r, "request", &s->parsed, true, &p->req, p->digest,
		&o->result, &e)) != TW_OK)
		goto reject;
	/* Not yet in the store: the flight being prepared, the one being signed, the signed. */
	for (size_t h = 0; h < 3; h++)
		for (size_t i = 0; i < held[h]->n; i++) {
			if (strcmp(held[h]->batch[i].digest, p->digest) != 0)
				continue;
			o->result = PKI_FAILURE_REQUEST_NOT_ACCEPTED;
			rc = tw_error_set(&e, TW_E_DENIED, "the same request appears twice in this "
				"run (%s); a replayed request is never processed twice", o->file);
			ca_refuse(r, "request", o->result, rc, &e);
			goto reject;
		}
	p->part = r->part;
	/* The queue keeps the request as DER (decoded by the verifying thread). */
	p->der = s->parsed.der;
	p->der_len = s->parsed.der_len;
	s->parsed.der = NULL;
	/* Built now, signed with the whole flight (one signer round trip). */
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
		return rc;
	}
	return TW_OK;
reject:
	st->read_parse_us += ca_us() - t0;
	o->rc = rc != TW_OK ? rc : TW_E_INVALID;
	snprintf(o->message, sizeof(o->message), "%s", e.message);
	ca_pending_clear(p);
	return TW_OK;
}

/*
 * Whether cur leaves now: it is full, or (the first flight) it has CA_BATCH_FIRST, or the
 * signer has answered the flight in the air (its socket is readable) and cur has
 * CA_FLIGHT_MIN, so the signer does not idle while this thread fills a large flight.
 */
static bool ca_flight_due(struct signer_client *sc, const struct ca_flight *cur,
	const struct ca_flight *flying, size_t turns)
{
	struct pollfd pfd = { .fd = signer_client_fd(sc), .events = POLLIN };

	if (cur->n >= CA_FLIGHT_MAX)
		return true;
	if (turns == 0)
		return cur->n >= CA_BATCH_FIRST;
	if (cur->n < CA_FLIGHT_MIN || flying->n == 0)
		return false;
	return pfd.fd >= 0 && poll(&pfd, 1, 0) > 0;
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
	struct ca_flight fa = { 0 }, fb = { 0 }, acc = { 0 }, *cur = &fa, *flying = &fb;
	struct ca_feed feed = { 0 };
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
	    (fb.batch = calloc(CA_BATCH_MAX, sizeof(*fb.batch))) == NULL ||
	    (acc.batch = calloc(CA_BATCH_MAX, sizeof(*acc.batch))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = ca_feed_start(&feed, &r, files, n, err)) != TW_OK)
		goto out;
	/*
	 * Pipeline of two flights: while the signer signs one (flying), this thread takes the
	 * verified requests, finishes their checks and builds the next (cur); the verifying
	 * threads work ahead of it.
	 */
	for (i = 0; i < n; i++) {
		const struct ca_flight *const held[3] = { cur, flying, &acc };
		struct ca_pending *p = &cur->batch[cur->n];
		int64_t t0 = ca_us();
		struct ca_slot *s = ca_feed_take(&feed, i);

		st->read_parse_us += ca_us() - t0;   /* waiting for the verifying threads */
		p->index = i;
		rc = ca_prepare(&r, participant, held, p, &out[i], s, st, err);
		ca_parsed_clear(&s->parsed);
		if (rc != TW_OK)
			break;
		if (fn != NULL)
			fn(arg, i + 1, n);
		if (p->req == NULL)
			continue;   /* rejected; out[i] says why */
		cur->n++;
		if (!ca_flight_due(sc, cur, flying, turns))
			continue;
		turns++;
		if ((rc = ca_turn(&r, sc, &cur, &flying, &acc, out, st, err)) != TW_OK)
			break;
	}
	ca_feed_stop(&feed);
	if (rc == TW_OK && cur->n > 0)
		rc = ca_turn(&r, sc, &cur, &flying, &acc, out, st, err);
	if (rc == TW_OK)
		rc = ca_finish(&r, sc, flying, &acc, out, st, err);
out:
	/* An answer still in flight after a failure: drain it so sc stays usable. */
	if (flying->sent) {
		struct tw_error ignored;

		(void)ca_recv(sc, flying, &ignored);   /* the entries own the DER; freed below */
		ca_fail_flight(flying, out, rc, err);
	}
	ca_feed_stop(&feed);
	/* Signed and checked requests gathered before a failure are still stored. */
	if (acc.n > 0) {
		struct tw_error ignored;

		(void)ca_store(&r, &acc, out, st, &ignored);   /* failures: in their outcomes */
	}
	ca_flight_clear(&fa);
	ca_flight_clear(&fb);
	ca_flight_clear(&acc);
	free(fa.batch);
	free(fb.batch);
	free(acc.batch);
	if (rc != TW_OK)
		for (size_t k = 0; k < n; k++)
			if (out[k].rc == TW_E_INTERNAL && strcmp(out[k].message, "not processed") == 0)
				snprintf(out[k].message, sizeof(out[k].message), "not processed: %s",
					err->message);
	ca_run_free(&r);
	return rc;
}
