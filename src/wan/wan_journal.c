/*
 * wan_journal.c: batched admin-log entries and last-contact updates of one wan thread.
 *
 * Why batch: the admin log commits with synchronous=FULL, i.e. one fsync per transaction.
 * One per connection would cap wan at the disk's fsync rate, far below its handshake
 * rate. So each thread queues its entries and writes them with audit_append_batch every
 * WAN_JOURNAL_FLUSH_MS or at WAN_JOURNAL_FLUSH_AT entries, and wan_server_stop flushes
 * what is left, so a clean shutdown loses nothing.
 *
 * One flush is one transaction: the last contacts and the admin-log entries commit together
 * (one fsync per flush, not one for each; the resumed-path profile in docs/performance.md
 * had the two commits at about a tenth of the wan thread's time). Either both are stored
 * or neither, and what was not stored stays queued for the next flush.
 *
 * When the store refuses a flush the entries stay queued and the thread answers every new
 * connection 503 "unavailable" (fail closed: no unaudited sessions) until a flush succeeds. Only if a
 * queue fills up entirely (WAN_JOURNAL_CAP) is an entry dropped, and that is counted and
 * logged as an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "wan/wan_internal.h"

tw_rc wan_journal_init(struct wan_journal *j, struct tw_error *err)
{
	memset(j, 0, sizeof(*j));
	j->entries = calloc(WAN_JOURNAL_CAP, sizeof(*j->entries));
	j->views = calloc(WAN_JOURNAL_CAP, sizeof(*j->views));
	j->touches = calloc(WAN_JOURNAL_CAP, sizeof(*j->touches));
	if (j->entries == NULL || j->views == NULL || j->touches == NULL) {
		wan_journal_free(j);
		return tw_error_set(err, TW_E_NOMEM, "out of memory for the wan admin-log queue");
	}
	return TW_OK;
}

void wan_journal_free(struct wan_journal *j)
{
	if (j == NULL)
		return;
	free(j->entries);
	free(j->views);
	free(j->touches);
	memset(j, 0, sizeof(*j));
}

static void flush_soon(struct wan_thread *thr, size_t queued)
{
	struct tw_error e;

	if (queued < WAN_JOURNAL_FLUSH_AT || thr->journal.failing)
		return;
	if (wan_journal_flush(thr, &e) != TW_OK)
		tw_err("wan: admin log flush failed: %s", e.message);
}

/* Queue one entry with actor "<prefix>:<id>" ("unknown" without id) and the given role. */
static void journal_add(struct wan_thread *thr, const char *prefix, const char *role,
	const char *id, const char *client, const char *action, const char *object,
	const char *result, const char *detail)
{
	struct wan_journal *j = &thr->journal;
	struct wan_journal_entry *e;

	if (j->n >= WAN_JOURNAL_CAP) {
		j->lost++;
		tw_err("wan: admin log queue full (store failing); lost %llu entries so far",
			(unsigned long long)j->lost);
		return;
	}
	e = &j->entries[j->n++];
	/* snprintf truncates safely; the slots are sized for what wan writes. */
	if (id != NULL)
		snprintf(e->actor, sizeof(e->actor), "%s:%s", prefix, id);
	else
		snprintf(e->actor, sizeof(e->actor), "unknown");
	snprintf(e->role, sizeof(e->role), "%s", role);
	snprintf(e->client, sizeof(e->client), "%s", client != NULL ? client : "");
	snprintf(e->action, sizeof(e->action), "%s", action);
	snprintf(e->object, sizeof(e->object), "%s", object != NULL ? object : "");
	snprintf(e->result, sizeof(e->result), "%s", result);
	snprintf(e->detail, sizeof(e->detail), "%s", detail != NULL ? detail : "");
	flush_soon(thr, j->n);
}

void wan_journal_add(struct wan_thread *thr, const char *actor, const char *client,
	const char *action, const char *object, const char *result, const char *detail)
{
	journal_add(thr, "gateway", "smgw", actor, client, action, object, result, detail);
}

void wan_journal_add_emt(struct wan_thread *thr, const char *emt_id, const char *client,
	const char *action, const char *object, const char *result, const char *detail)
{
	journal_add(thr, "emt", "emt", emt_id, client, action, object, result, detail);
}

void wan_journal_touch(struct wan_thread *thr, const char *gateway_id, int64_t when_ms,
	const char *address)
{
	struct wan_journal *j = &thr->journal;
	struct wan_touch *t;

	/* A gateway reconnecting within one batch needs only its latest contact. */
	for (size_t i = 0; i < j->nt; i++) {
		if (strcmp(j->touches[i].gateway_id, gateway_id) == 0) {
			j->touches[i].when_ms = when_ms;
			snprintf(j->touches[i].address, sizeof(j->touches[i].address), "%s", address);
			return;
		}
	}
	if (j->nt >= WAN_JOURNAL_CAP) {
		tw_warn("wan: last-contact queue full; contact of %s not recorded", gateway_id);
		return;
	}
	t = &j->touches[j->nt++];
	snprintf(t->gateway_id, sizeof(t->gateway_id), "%s", gateway_id);
	t->when_ms = when_ms;
	snprintf(t->address, sizeof(t->address), "%s", address);
	flush_soon(thr, j->nt);
}

/* Inside the flush's transaction. */
static tw_rc flush_touches(struct wan_thread *thr, struct tw_error *err)
{
	struct wan_journal *j = &thr->journal;
	struct tw_error e;
	tw_rc rc;

	for (size_t i = 0; i < j->nt; i++) {
		rc = store_gateway_touch(thr->store, j->touches[i].gateway_id,
			j->touches[i].when_ms, j->touches[i].address, &e);
		/* A gateway deleted since its handshake is not a reason to lose the others. */
		if (rc == TW_E_NOT_FOUND) {
			tw_warn("wan: gateway %s vanished before its contact was recorded",
				j->touches[i].gateway_id);
			continue;
		}
		if (rc != TW_OK)
			return tw_error_set(err, rc, "recording last contacts: %s", e.message);
	}
	return TW_OK;
}

/* Inside the flush's transaction: audit_append_batch's work without its own commit. */
static tw_rc flush_entries(struct wan_thread *thr, struct tw_error *err)
{
	struct wan_journal *j = &thr->journal;
	tw_rc rc = TW_OK;

	for (size_t i = 0; i < j->n && rc == TW_OK; i++) {
		struct wan_journal_entry *e = &j->entries[i];

		j->views[i] = (struct audit_entry){ .actor = e->actor, .role = e->role,
			.client = e->client, .action = e->action, .object = e->object,
			.result = e->result, .detail = e->detail };
		rc = audit_append_in_tx(thr->store, &j->views[i], err);
	}
	return rc;
}

tw_rc wan_journal_flush(struct wan_thread *thr, struct tw_error *err)
{
	struct wan_journal *j = &thr->journal;
	bool was_failing = j->failing;
	tw_rc rc = TW_OK;

	if (j->n > 0 || j->nt > 0) {
		rc = store_begin(thr->store, err);
		if (rc == TW_OK && (rc = flush_touches(thr, err)) == TW_OK &&
		    (rc = flush_entries(thr, err)) == TW_OK) {
			rc = store_commit(thr->store, err);   /* rolls back by itself on failure */
			if (rc == TW_OK) {
				j->n = 0;
				j->nt = 0;
			}
		} else if (rc != TW_OK && store_in_transaction(thr->store)) {
			store_rollback(thr->store);
		}
	}
	j->failing = rc != TW_OK;
	if (j->failing != was_failing) {
		if (j->failing)
			tw_err("wan: thread %u answers new connections 503 (retry later) until the "
				"admin log is writable again", thr->index);
		else
			tw_info("wan: admin log writable again; thread %u serves connections",
				thr->index);
		wan_thread_update_listener(thr);
	}
	return rc;
}
