/*
 * sim_wakeup.c: the gateway side of wake-ups (UC-3.3.4, T-WU.2/3): a datagram makes a
 * simulated gateway connect only if every check of docs/wan-protocol.md ("Wake-up
 * datagram") holds; otherwise the gateway stays silent (no answer, no connection).
 *
 * Order of the checks: cheap syntax and recipient first, then the clock window, then
 * the signature, and only then the replay guard is updated, so unsigned junk can never
 * poison the guard of a real gateway.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "net/wakeup_codec.h"
#include "sim/sim_internal.h"

static void reject(struct sim_state *st, const char *who, const char *why)
{
	st->res->wakeups_rejected++;
	tw_debug("sim: wake-up for %s dropped: %s", who, why);
}

void sim_wakeup_datagram(struct sim_state *st, const unsigned char *buf, size_t len)
{
	struct sim_gateway *gw;
	struct wakeup w;
	struct tw_error e;
	EVP_PKEY *pub;
	const char *gwa_id;
	json_t *last;
	size_t tbs_len, idx;
	int64_t now = tw_now_ms(), ts, window = (int64_t)(st->opt->wakeup_window_s > 0 ?
		st->opt->wakeup_window_s : 60) * 1000;

	if (wakeup_parse(buf, len, &w, &tbs_len, &e) != TW_OK) {
		reject(st, "?", e.message);
		return;
	}
	if ((idx = sim_lookup(st, w.recipient)) == (size_t)-1) {
		reject(st, w.recipient, "recipient is not a gateway of this simulator");
		return;
	}
	gw = &st->gws[idx];
	if (sim_gw_load(gw, &e) != TW_OK || sim_gwa_key(gw, &pub, &gwa_id, &e) != TW_OK) {
		reject(st, w.recipient, e.message);
		return;
	}
	if (strcmp(w.gwa_id, gwa_id) != 0) {
		reject(st, w.recipient, "not from our GWA");
		return;
	}
	ts = (int64_t)w.timestamp_ms;
	if (ts < now - window || ts > now + window) {
		reject(st, w.recipient, "timestamp outside the window (delayed or replayed)");
		return;
	}
	last = json_object_get(gw->pub.state, "last_wakeup_ms");
	if (json_is_integer(last) && ts <= json_integer_value(last)) {
		reject(st, w.recipient, "not newer than the last accepted wake-up (replay)");
		return;
	}
	for (unsigned i = 0; i < SIM_NONCES; i++) {
		if (memcmp(gw->nonces[i], w.nonce, WAKEUP_NONCE_LEN) == 0) {
			reject(st, w.recipient, "nonce seen before (replay)");
			return;
		}
	}
	if (wakeup_verify(buf, tbs_len, &w, pub, &e) != TW_OK) {
		reject(st, w.recipient, e.message);
		return;
	}
	/* Valid: remember it (also across restarts) before anything else can happen. */
	memcpy(gw->nonces[gw->nonce_next], w.nonce, WAKEUP_NONCE_LEN);
	gw->nonce_next = (gw->nonce_next + 1) % SIM_NONCES;
	if (json_object_set_new(gw->pub.state, "last_wakeup_ms", json_integer(ts)) != 0 ||
	    sim_gw_save(gw, &e) != TW_OK)
		tw_warn("sim: %s: replay guard not saved: %s", gw->id, e.message);
	if (sim_roll(st->opt->faults.ignore_wakeup)) {
		st->res->wakeups_ignored++;
		return;
	}
	st->res->wakeups_accepted++;
	sim_enqueue(st, idx);
	sim_pump(st);
}
