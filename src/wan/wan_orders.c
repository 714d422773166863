/*
 * wan_orders.c: the order routes of WAN protocol v1 (docs/wan-protocol.md "Orders"):
 * GET /v1/orders hands the authenticated gateway its next job, POST /v1/orders/ID/result
 * records the outcome. The job workflow itself is gwa/job.h; this file maps HTTP to it.
 *
 * Only the TLS identity (conn->gateway_id) ever selects jobs: a gateway cannot name
 * another gateway's job (it gets the same 404 as for a missing one, and the attempt is
 * logged as a refusal). A refused request changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "base/log.h"
#include "base/util.h"
#include "gwa/job.h"
#include "gwa/order.h"
#include "store/store_metering.h"
#include "wan/wan_internal.h"
#include "wan/wan_metering.h"

#define WAN_ORDERS_REPLY_MAX (WAN_ORDER_PAYLOAD_MAX + 4096)

/* Map a job-layer failure to an HTTP answer. */
static void orders_fail(struct evhttp_request *req, tw_rc rc, const char *message)
{
	if (rc == TW_E_NOT_FOUND)
		wan_reply_error(req, 404, "unknown_order", message, false);
	else if (rc == TW_E_EXISTS)
		wan_reply_error(req, 409, "order_closed", message, false);
	else if (rc == TW_E_INVALID)
		wan_reply_error(req, 422, "result_refused", message, false);
	else if (rc == TW_E_UNAVAILABLE)
		wan_reply_unavailable(req);
	else
		wan_reply_error(req, HTTP_INTERNAL, "internal", "the GWA cannot process the order "
			"now; retry later", true);
}

/*
 * Batching (issue 10). Every hand-out and every result is a transaction with an admin-log
 * entry, and SQLite commits with synchronous=FULL: one fsync each, two per job, taken
 * while holding the database's write lock and blocking this thread's event loop (no
 * handshakes meanwhile). So, like the contact journal, each thread queues its order
 * requests and runs them in one transaction every WAN_ORDERS_FLUSH_MS or at
 * WAN_ORDERS_BATCH_MAX, answering each request only after the commit (a gateway never
 * sees an order or an acknowledgement that is not durable). Requests are processed in
 * arrival order, each as job_deliver / job_complete would. If any of them fails in a way
 * that may leave partial writes (an order type refusing a result, a store error), the
 * batch is rolled back and each request runs again in its own transaction, exactly as
 * without batching.
 *
 * A request whose connection closes while queued stays valid: evhttp detaches an
 * unanswered request from a failed connection and frees it when it is answered.
 *
 * Metering values (group commit, issue 14) ride in the same batch: wan_metering.c
 * verifies a message first (identity, authorisation, signature: reads and CPU, no
 * transaction), then queues its row here; the batch inserts it with the thread's other
 * queued values and order requests in one transaction, and the ack is sent only after
 * that commit ("acknowledged = durable" holds as before). Values have tighter bounds of
 * their own, [wan] metering_batch (values per transaction, default 64; 1 = one
 * transaction each) and metering_batch_ms (longest wait of a queued value, default 5).
 */
#define WAN_ORDERS_FLUSH_MS  10
#define WAN_ORDERS_BATCH_MAX 128

enum order_item_kind { ITEM_GET, ITEM_RESULT, ITEM_METERING };

struct order_item {
	enum order_item_kind kind;
	struct evhttp_request *req;
	char gateway_id[STORE_ID_MAX + 1];
	char peer[WAN_PEER_MAX];
	char actor[96];
	char id_text[WAN_ORDER_ID_MAX + 1];
	int64_t id;
	struct wan_order_result r;      /* ITEM_RESULT: owned */
	struct store_metering_msg row;  /* ITEM_METERING: owned (body) */
	size_t received_len;            /* ITEM_METERING: CMS bytes as posted */
	bool duplicate;                 /* ITEM_METERING: the same message was stored before */
	/* outcome */
	tw_rc rc;
	struct tw_error e;
	struct job_delivery d;          /* ITEM_GET: d.payload owned */
	bool found;
	bool wired;                     /* ITEM_GET: it->d.payload went through to_wire */
	bool count_due;                 /* ITEM_RESULT: read `pending` after the commit */
	int64_t pending;
};

struct wan_order_batch {
	struct order_item items[WAN_ORDERS_BATCH_MAX];
	size_t n;
	size_t nvalues;                 /* ITEM_METERING items queued */
	struct event *timer;
	bool armed;
	uint64_t requests, commits, fallbacks;   /* reported when the thread stops */
	uint64_t values, value_commits;          /* metering values (of requests), batches
	                                          * holding some */
};

static void item_who(const struct order_item *it, struct job_actor *who)
{
	who->actor = it->actor;
	who->role = "smgw";
	who->client = it->peer;
}

static void item_reset_outcome(struct order_item *it)
{
	json_decref(it->d.payload);
	memset(&it->d, 0, sizeof(it->d));
	it->found = false;
	it->wired = false;
	it->count_due = false;
	it->pending = 0;
	it->duplicate = false;
	it->rc = TW_OK;
	tw_error_clear(&it->e);
}

static void item_outcome_of(const struct order_item *it, struct job_outcome *oc)
{
	memset(oc, 0, sizeof(*oc));
	oc->ok = it->r.ok;
	oc->result = it->r.result;
	oc->code = it->r.code;
	oc->message = it->r.message;
}

/* Inside the batch transaction; false: roll the batch back and run items alone. */
static bool item_run_in_tx(struct wan_thread *thr, struct order_item *it)
{
	struct job_outcome oc;
	struct job_actor who;

	if (it->kind == ITEM_METERING) {
		/* Any failure (a replay: PostgreSQL aborts the transaction) runs items alone. */
		it->rc = store_metering_insert(thr->store, &it->row, &it->id, &it->duplicate,
			&it->e);
		return it->rc == TW_OK;
	}
	item_who(it, &who);
	if (it->kind == ITEM_GET) {
		it->rc = job_deliver_in_tx(thr->store, it->gateway_id, &who, &it->d, &it->found,
			&it->pending, &it->e);
		return it->rc == TW_OK;
	}
	item_outcome_of(it, &oc);
	it->rc = job_complete_in_tx(thr->store, it->gateway_id, it->id, &oc, &who, &it->e);
	/* The gateway's count of open orders is read after the commit (batch_flush): a read
	 * inside would hold the writer lock for one more round trip per result. */
	it->count_due = it->rc == TW_OK;
	return it->rc == TW_OK || it->rc == TW_E_NOT_FOUND || it->rc == TW_E_EXISTS;
}

/* In its own transaction (the unbatched path). */
static void item_run_alone(struct wan_thread *thr, struct order_item *it)
{
	struct job_outcome oc;
	struct job_actor who;
	struct tw_error e;

	item_reset_outcome(it);
	if (it->kind == ITEM_METERING) {
		it->id = 0;
		it->rc = store_metering_insert(thr->store, &it->row, &it->id, &it->duplicate,
			&it->e);
		return;
	}
	item_who(it, &who);
	if (it->kind == ITEM_GET) {
		it->rc = job_deliver(thr->store, it->gateway_id, &who, &it->d, &it->found,
			&it->pending, &it->e);
		it->wired = true;   /* job_deliver ran to_wire after its own commit */
		return;
	}
	item_outcome_of(it, &oc);
	it->rc = job_complete(thr->store, it->gateway_id, it->id, &oc, &who, &it->e);
	if ((it->rc == TW_OK || it->rc == TW_E_INVALID) &&
	    store_job_count_open(thr->store, it->gateway_id, &it->pending, &e) != TW_OK)
		it->pending = 0;
}

static void reply_get(struct order_item *it)
{
	struct wan_orders_response res;
	struct tw_buf body;
	struct tw_error e;

	memset(&res, 0, sizeof(res));
	tw_buf_init(&body, WAN_ORDERS_REPLY_MAX);
	if (it->rc != TW_OK) {
		tw_err("wan: cannot hand out an order to %s: %s", it->gateway_id, it->e.message);
		orders_fail(it->req, it->rc == TW_E_UNAVAILABLE ? it->rc : TW_E_STORE,
			it->e.message);
		goto out;
	}
	res.pending_orders = (long)it->pending;
	if (it->found) {
		res.has_order = true;
		res.order.id = it->d.id;
		memcpy(res.order.type, it->d.type, sizeof(res.order.type));
		res.order.payload = it->d.payload;     /* ownership moves to res */
		it->d.payload = NULL;
		res.order.attempt = it->d.attempt > 0 ? it->d.attempt : 1;
		tw_time_format_utc(it->d.deadline_ms, res.order.deadline,
			sizeof(res.order.deadline));
	}
	if (wan_orders_response_encode(&res, &body, &e) != TW_OK) {
		tw_err("wan: cannot encode an order for %s: %s", it->gateway_id, e.message);
		wan_reply_error(it->req, HTTP_INTERNAL, "internal", "cannot encode the order", true);
		goto out;
	}
	wan_reply_json(it->req, HTTP_OK, &body, false);
out:
	wan_orders_response_clear(&res);
	tw_buf_free(&body);
}

static void reply_result(struct wan_thread *thr, struct order_item *it)
{
	char detail[WAN_DETAIL_MAX + 1];
	struct tw_buf body;
	struct tw_error e;
	tw_rc rc = it->rc;

	tw_buf_init(&body, 256);
	if (rc == TW_E_NOT_FOUND) {
		/* T-AB.1-like: results only for the authenticated gateway's own jobs. */
		snprintf(detail, sizeof(detail), "result for order %lld, which is not an order of "
			"this gateway", (long long)it->id);
		wan_refuse(thr, it->gateway_id, it->peer, it->id_text, detail);
	} else if (rc == TW_E_EXISTS) {
		snprintf(detail, sizeof(detail), "result for order %lld refused: %s",
			(long long)it->id, it->e.message);
		wan_refuse(thr, it->gateway_id, it->peer, it->id_text, detail);
	}
	if (rc != TW_OK) {
		/* TW_E_INVALID: the order type refused the result; the job is failed and logged. */
		if (rc != TW_E_NOT_FOUND && rc != TW_E_EXISTS && rc != TW_E_INVALID)
			tw_err("wan: cannot record the result of order %lld: %s", (long long)it->id,
				it->e.message);
		orders_fail(it->req, rc, it->e.message);
		goto out;
	}
	if (wan_pending_encode((long)it->pending, &body, &e) != TW_OK) {
		wan_reply_error(it->req, HTTP_INTERNAL, "internal", "cannot encode the answer", true);
		goto out;
	}
	wan_reply_json(it->req, HTTP_OK, &body, false);
out:
	tw_buf_free(&body);
}

static void batch_flush(struct wan_thread *thr)
{
	struct wan_order_batch *b = thr->orders;
	struct tw_error e;
	bool batched = false;
	size_t n;
	tw_rc rc;

	if (b == NULL || b->n == 0)
		return;
	if (b->armed) {
		evtimer_del(b->timer);
		b->armed = false;
	}
	n = b->n;
	if ((rc = store_begin(thr->store, &e)) == TW_OK) {
		batched = true;
		for (size_t i = 0; i < n && batched; i++) {
			batched = item_run_in_tx(thr, &b->items[i]);
			if (!batched && b->items[i].rc == TW_E_UNAVAILABLE) {
				rc = TW_E_UNAVAILABLE;
				e = b->items[i].e;
			}
		}
		if (batched && (rc = store_commit(thr->store, &e)) != TW_OK)
			batched = false;
		if (!batched)
			store_rollback(thr->store);
	}
	b->requests += n;
	if (rc == TW_E_UNAVAILABLE) {
		/*
		 * The database is down or locked beyond its busy timeout: running each request
		 * alone would only wait again (and block this loop). Every request of the batch
		 * gets 503 "retry later"; nothing of the batch was committed.
		 */
		b->fallbacks++;
		for (size_t i = 0; i < n; i++) {
			item_reset_outcome(&b->items[i]);
			b->items[i].rc = TW_E_UNAVAILABLE;
			b->items[i].e = e;
		}
	} else if (batched) {
		if (n > b->nvalues)
			b->commits++;           /* batches holding order requests */
		if (b->nvalues > 0)
			b->value_commits++;
	} else {
		b->fallbacks++;
		for (size_t i = 0; i < n; i++)
			item_run_alone(thr, &b->items[i]);
	}
	b->values += b->nvalues;
	for (size_t i = 0; i < n; i++) {
		struct order_item *it = &b->items[i];

		/* Outside the transaction (job.h: to_wire may ask the signer). */
		if (it->kind == ITEM_GET && it->rc == TW_OK && it->found && !it->wired &&
		    (it->rc = job_delivery_to_wire(thr->store, it->gateway_id, &it->d,
			&it->e)) != TW_OK)
			it->found = false;
		/* As in item_run_alone: a failed count only makes the gateway ask later. */
		if (it->kind == ITEM_RESULT && it->count_due && it->rc == TW_OK &&
		    store_job_count_open(thr->store, it->gateway_id, &it->pending, &e) != TW_OK)
			it->pending = 0;
		if (it->kind == ITEM_GET)
			reply_get(it);
		else if (it->kind == ITEM_METERING)
			wan_metering_stored(thr, it->req, it->peer, &it->row, it->received_len, it->rc,
				&it->e, it->id, it->duplicate);
		else
			reply_result(thr, it);
		item_reset_outcome(it);
		wan_order_result_clear(&it->r);
		store_metering_msg_clear(&it->row);
	}
	b->n = 0;
	b->nvalues = 0;
}

static void batch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wan_thread *thr = arg;

	(void)fd;
	(void)what;
	thr->orders->armed = false;
	batch_flush(thr);
}

/* A free slot of this thread's batch (flushing a full one first); NULL: no memory. */
static struct order_item *batch_slot(struct wan_thread *thr)
{
	struct wan_order_batch *b = thr->orders;
	struct order_item *it;

	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return NULL;
		if ((b->timer = evtimer_new(thr->base, batch_timer_cb, thr)) == NULL) {
			free(b);
			return NULL;
		}
		thr->orders = b;
	}
	if (b->n == WAN_ORDERS_BATCH_MAX || b->nvalues >= (size_t)wan_metering_batch_max())
		batch_flush(thr);
	it = &b->items[b->n];
	memset(it, 0, sizeof(*it));
	return it;
}

/* The slot filled: take it, and flush now when full, else within WAN_ORDERS_FLUSH_MS. */
static void batch_commit_slot(struct wan_thread *thr)
{
	struct wan_order_batch *b = thr->orders;
	struct timeval tv = { 0, WAN_ORDERS_FLUSH_MS * 1000 };
	bool value = b->items[b->n].kind == ITEM_METERING;

	b->n++;
	if (value)
		b->nvalues++;
	if (b->n == WAN_ORDERS_BATCH_MAX || b->nvalues >= (size_t)wan_metering_batch_max()) {
		batch_flush(thr);
		return;
	}
	if (value && b->nvalues == 1) {
		/* The first value of the batch: its wait bounds the batch (a shorter timer). */
		struct timeval now, due, vtv = { 0, wan_metering_batch_ms() * 1000 }, vdue;

		evutil_gettimeofday(&now, NULL);
		evutil_timeradd(&now, &vtv, &vdue);
		if (!b->armed || (event_pending(b->timer, EV_TIMEOUT, &due) &&
		    evutil_timercmp(&vdue, &due, <))) {
			if (evtimer_add(b->timer, &vtv) == 0)
				b->armed = true;
		}
	}
	if (!b->armed && evtimer_add(b->timer, &tv) == 0)
		b->armed = true;
	if (!b->armed)
		batch_flush(thr);   /* no timer: do not leave the request waiting */
}

static void item_fill(struct order_item *it, enum order_item_kind kind,
	struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	it->kind = kind;
	it->req = req;
	/* Copies: the connection (and conn) may go away before the batch runs. */
	snprintf(it->gateway_id, sizeof(it->gateway_id), "%s", conn->gateway_id);
	snprintf(it->peer, sizeof(it->peer), "%s", peer != NULL ? peer : "");
	snprintf(it->actor, sizeof(it->actor), "gateway:%s", conn->gateway_id);
}

void wan_orders_stop(struct wan_thread *thr)
{
	struct wan_order_batch *b = thr->orders;

	if (b == NULL)
		return;
	batch_flush(thr);
	if (b->requests > b->values)
		tw_info("wan: thread %u: %llu order requests in %llu batch transactions, %llu "
			"batches run request by request", thr->index,
			(unsigned long long)(b->requests - b->values), (unsigned long long)b->commits,
			(unsigned long long)b->fallbacks);
	if (b->values > 0)
		tw_info("wan: thread %u: %llu metering values in %llu batch transactions (group "
			"commit)", thr->index, (unsigned long long)b->values,
			(unsigned long long)b->value_commits);
	if (b->timer != NULL)
		event_free(b->timer);
	free(b);
	thr->orders = NULL;
}

void wan_orders_get(struct evhttp_request *req, struct wan_conn *conn, const char *peer)
{
	struct order_item *it = batch_slot(conn->thr);

	if (it == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		return;
	}
	item_fill(it, ITEM_GET, req, conn, peer);
	batch_commit_slot(conn->thr);
}

void wan_orders_result(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	const char *id_text)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct wan_order_result r;
	struct order_item *it;
	struct tw_error e;
	const unsigned char *data;
	char detail[WAN_DETAIL_MAX + 1];
	int64_t id = 0;
	tw_rc rc;

	memset(&r, 0, sizeof(r));
	if (wan_order_id_parse(id_text, strlen(id_text), &id, &e) != TW_OK) {
		wan_reply_error(req, HTTP_NOTFOUND, "not_found", e.message, false);
		goto out;
	}
	if (len > WAN_MESSAGE_MAX_BODY) {
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, "order result too large");
		wan_reply_error(req, 413, "too_large", "body exceeds 65536 bytes", true);
		goto out;
	}
	data = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (len > 0 && data == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		goto out;
	}
	if ((rc = wan_order_result_parse(data, len, &r, &e)) != TW_OK) {
		snprintf(detail, sizeof(detail), "malformed result of order %lld: %s",
			(long long)id, e.message);
		wan_refuse(conn->thr, conn->gateway_id, peer, id_text, detail);
		wan_reply_error(req, rc == TW_E_TOO_LARGE ? 413 : HTTP_BADREQUEST,
			wan_error_code_for(rc), e.message, false);
		goto out;
	}
	if ((it = batch_slot(conn->thr)) == NULL) {
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		goto out;
	}
	item_fill(it, ITEM_RESULT, req, conn, peer);
	it->id = id;
	snprintf(it->id_text, sizeof(it->id_text), "%s", id_text);
	it->r = r;                  /* ownership moves to the batch */
	memset(&r, 0, sizeof(r));
	batch_commit_slot(conn->thr);
out:
	wan_order_result_clear(&r);
}

void wan_batch_metering(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	struct store_metering_msg *row, size_t received_len)
{
	struct order_item *it = batch_slot(conn->thr);

	if (it == NULL) {
		store_metering_msg_clear(row);
		wan_reply_error(req, HTTP_INTERNAL, "internal", "out of memory", true);
		return;
	}
	item_fill(it, ITEM_METERING, req, conn, peer);
	it->row = *row;             /* ownership of the body moves to the batch */
	memset(row, 0, sizeof(*row));
	it->received_len = received_len;
	batch_commit_slot(conn->thr);
}

/* Pass each member of the session "status" to its registered hook (order.h). */
void wan_orders_session_status(struct wan_conn *conn, json_t *status)
{
	json_t *v;
	const char *k;
	struct tw_error e;

	if (status == NULL)
		return;
	json_object_foreach(status, k, v) {
		const struct order_session_hook *h = order_session_hook_find(k);

		if (h != NULL && h->on_session(conn->thr->store, conn->gateway_id, v, &e) != TW_OK)
			tw_warn("wan: session status \"%s\" of %s not processed: %s", k,
				conn->gateway_id, e.message);
	}
}
