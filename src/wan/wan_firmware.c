/*
 * wan_firmware.c: GET /v1/firmware/ID, the firmware download service (UC-3.2.5) inside
 * the gateway's WAN TLS session (docs/wan-protocol.md "Firmware download").
 *
 * A gateway may fetch image ID only while a firmware-update order for it is the order it
 * is executing (gwa/order_firmware.h: state "sent"); a cancelled, timed-out or never
 * given order, another image, or a range outside the image is refused and logged
 * (wan.refuse). The image is served from its one file in HOME/firmware in ranges of at
 * most [wan] firmware_range_max bytes, so a connection never holds more than one range
 * (no per-gateway copy of the image; T-SU.5 memory).
 *
 * Byte-rate limits (T-SU.5, the uplink stays usable for the gateways' other traffic):
 * [wan] firmware_rate (bytes/s per connection) and firmware_rate_total (bytes/s for all
 * downloads of this wan process, every thread), 0 = unlimited. They are kept here, at
 * the range-serving layer, not with libevent's bufferevent rate limits (those stalled
 * ranges on the OpenSSL bufferevents): a paced range goes out in chunks of at most
 * 16 KiB, each one after the previous has left the output buffer and after both token
 * buckets (wan_firmware_pace.h) allow it; while a bucket is empty the next chunk waits
 * for a timer event on the connection's loop. Nothing blocks the loop and a connection
 * holds at most one chunk in memory.
 */
#include "wan/wan_firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "base/config.h"
#include "base/log.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "gwa/order_firmware.h"
#include "store/store_firmware.h"
#include "wan/wan_firmware_pace.h"

/* Limits, read once by wan_firmware_init before the threads start; then read-only. */
static long wf_rate_conn, wf_rate_total;
/* The process-wide bucket of firmware_rate_total, shared by every wan thread. */
static pthread_mutex_t wf_total_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fw_bucket wf_total;

static int64_t wf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

tw_rc wan_firmware_init(const struct tw_home *home, unsigned threads, struct tw_error *err)
{
	tw_rc rc;

	(void)threads;
	if ((rc = firmware_orders_init(home, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "wan", "firmware_rate", 0, 0,
		1024L * 1024 * 1024, &wf_rate_conn, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "wan", "firmware_rate_total", 0, 0,
		16L * 1024 * 1024 * 1024, &wf_rate_total, err)) != TW_OK)
		return rc;
	/* A tenth of a second at once after an idle time, at least one chunk. */
	pthread_mutex_lock(&wf_total_mu);
	fw_bucket_init(&wf_total, wf_rate_total, wf_rate_total / 10 >
		fw_pace_chunk(wf_rate_conn, wf_rate_total) ? wf_rate_total / 10 :
		fw_pace_chunk(wf_rate_conn, wf_rate_total), 0, wf_now_ns());
	pthread_mutex_unlock(&wf_total_mu);
	if (wf_rate_conn > 0 || wf_rate_total > 0)
		tw_info("wan: firmware downloads limited to %ld bytes/s per connection, %ld "
			"bytes/s in total (0 = unlimited)", wf_rate_conn, wf_rate_total);
	return TW_OK;
}

/*
 * One paced range reply. Owned by the transfer from wf_paced_start until it ends: the
 * last chunk left (wf_paced_next), or the connection went away (wf_paced_closed, the
 * evhttp close callback of the connection, set for exactly that time).
 */
struct wf_paced {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;
	int fd;                 /* the image file, owned */
	int64_t off, left;      /* next byte of the file to send, bytes still to send */
	int64_t ready;          /* bytes reserved in the buckets, sent when timer fires */
	int64_t chunk;
	struct fw_bucket conn;  /* firmware_rate of this connection */
};

static void wf_paced_free(struct wf_paced *p)
{
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

/*
 * The connection is being freed (peer gone, write error, time-out, guard, shutdown).
 * evhttp detached the request from it when it failed while we still had to send
 * (then it is ours to free); when the whole server goes down the request is still
 * queued on the connection and evhttp frees it after this callback.
 */
static void wf_paced_closed(struct evhttp_connection *evcon, void *arg)
{
	struct wf_paced *p = arg;

	(void)evcon;
	if (evhttp_request_get_connection(p->req) == NULL)
		evhttp_request_free(p->req);
	wf_paced_free(p);
}

static void wf_paced_next(struct wf_paced *p);

static void wf_paced_written(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	wf_paced_next(arg);
}

/* Send n bytes (already allowed by the buckets) from the file: one chunk in flight. */
static void wf_paced_send(struct wf_paced *p, int64_t n)
{
	struct evbuffer *b = evbuffer_new();
	struct evbuffer_iovec v;
	ssize_t r = -1;

	if (b != NULL && evbuffer_reserve_space(b, (ev_ssize_t)n, &v, 1) == 1) {
		do {
			r = pread(p->fd, v.iov_base, (size_t)n, (off_t)p->off);
		} while (r < 0 && errno == EINTR);
		if (r == (ssize_t)n) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(b, &v, 1);
		}
	}
	if (r != (ssize_t)n) {
		/* The header went out already: the only honest answer is to close. */
		tw_err("wan: firmware: cannot read %lld bytes at %lld of the image (%s); "
			"closing the download", (long long)n, (long long)p->off,
			b == NULL ? "out of memory" : r < 0 ? strerror(errno) : "short read");
		if (b != NULL)
			evbuffer_free(b);
		evhttp_connection_free(p->evcon);   /* wf_paced_closed frees p */
		return;
	}
	p->off += n;
	p->left -= n;
	/* wf_paced_written runs once the chunk has left the output buffer. */
	evhttp_send_reply_chunk_with_cb(p->req, b, wf_paced_written, p);
	evbuffer_free(b);
}

static void wf_paced_timer(evutil_socket_t fd, short what, void *arg)
{
	struct wf_paced *p = arg;
	int64_t n = p->ready;

	(void)fd; (void)what;
	p->ready = 0;
	wf_paced_send(p, n);
}

/* The next chunk: now when both buckets allow it, else after a timer. */
static void wf_paced_next(struct wf_paced *p)
{
	struct evhttp_request *req = p->req;
	int64_t n, now, wait, wait_total;
	struct timeval tv;

	if (p->left <= 0) {
		evhttp_connection_set_closecb(p->evcon, NULL, NULL);
		wf_paced_free(p);
		evhttp_send_reply_end(req);
		return;
	}
	n = p->left < p->chunk ? p->left : p->chunk;
	now = wf_now_ns();
	wait = fw_bucket_take(&p->conn, n, now);
	pthread_mutex_lock(&wf_total_mu);
	wait_total = fw_bucket_take(&wf_total, n, now);
	pthread_mutex_unlock(&wf_total_mu);
	if (wait_total > wait)
		wait = wait_total;
	if (wait <= 0) {
		wf_paced_send(p, n);
		return;
	}
	p->ready = n;
	tv.tv_sec = (time_t)(wait / 1000000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000000 / 1000);
	evtimer_add(p->timer, &tv);
}

/*
 * Answer the range [first, first+len) of the file fd (taken over, also on failure)
 * paced; the headers of req are set. false: nothing sent, the caller answers.
 */
static bool wf_paced_start(struct evhttp_request *req, int fd, int64_t first, int64_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct event_base *base = evcon != NULL ? evhttp_connection_get_base(evcon) : NULL;
	struct wf_paced *p = base != NULL ? calloc(1, sizeof(*p)) : NULL;
	char cl[24];

	if (p == NULL) {
		close(fd);
		return false;
	}
	p->fd = fd;
	if ((p->timer = evtimer_new(base, wf_paced_timer, p)) == NULL) {
		wf_paced_free(p);
		return false;
	}
	p->req = req;
	p->evcon = evcon;
	p->off = first;
	p->left = len;
	p->chunk = fw_pace_chunk(wf_rate_conn, wf_rate_total);
	/* No head start per range: a gateway's ranges in a row keep to firmware_rate. */
	fw_bucket_init(&p->conn, wf_rate_conn, p->chunk, 0, wf_now_ns());
	/* A Content-Length makes evhttp send the chunks as they are (not chunked coding). */
	snprintf(cl, sizeof(cl), "%lld", (long long)len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", cl);
	evhttp_send_reply_start(req, 206, "Partial Content");
	evhttp_connection_set_closecb(evcon, wf_paced_closed, p);
	wf_paced_next(p);
	return true;
}

static void wf_get(struct evhttp_request *req, struct wan_conn *conn, const char *peer,
	int64_t image_id)
{
	const char *range = evhttp_find_header(evhttp_request_get_input_headers(req), "Range");
	const char *home = firmware_orders_home();
	struct store_firmware f;
	struct tw_error e;
	struct evbuffer *out = NULL;
	struct stat st;
	char object[40], detail[200], hdr[96], *path = NULL;
	int64_t job = 0, first = 0, len = 0;
	int fd = -1;
	tw_rc rc;

	snprintf(object, sizeof(object), "firmware:%lld", (long long)image_id);
	tw_error_clear(&e);
	if (home == NULL) {
		wan_reply_error(req, 500, "internal", "firmware service not initialised", false);
		goto out;
	}
	/* Ordered, current, not cancelled: otherwise refused and logged (T-SU.2). */
	if ((rc = firmware_download_allowed(conn->thr->store, conn->gateway_id, image_id, &job,
		&e)) != TW_OK) {
		if (rc == TW_E_DENIED) {
			wan_refuse(conn->thr, conn->gateway_id, peer, object, e.message);
			wan_reply_error(req, 403, "not_ordered", e.message, false);
		} else {
			wan_reply_error(req, 500, "internal", "the order could not be read", false);
		}
		goto out;
	}
	/* An image withdrawn, or failing the daily check since (signer revoked), stops. */
	if ((rc = store_firmware_get(conn->thr->store, image_id, &f, &e)) != TW_OK ||
	    strcmp(f.state, "released") != 0 || strcmp(f.signature, "verified") != 0) {
		snprintf(detail, sizeof(detail), "image %lld is not released with a verified "
			"signature (withdrawn, or failed the firmware check)", (long long)image_id);
		wan_refuse(conn->thr, conn->gateway_id, peer, object, detail);
		wan_reply_error(req, 403, "not_ordered", detail, false);
		goto out;
	}
	if ((rc = firmware_range_parse(range, f.size, firmware_orders_range_max(), &first, &len,
		&e)) != TW_OK) {
		snprintf(detail, sizeof(detail), "job %lld: bad range \"%.60s\": %.100s",
			(long long)job, range != NULL ? range : "", e.message);
		wan_refuse(conn->thr, conn->gateway_id, peer, object, detail);
		if (rc == TW_E_TOO_LARGE) {
			snprintf(hdr, sizeof(hdr), "bytes */%lld", (long long)f.size);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Range", hdr);
		}
		wan_reply_error(req, rc == TW_E_TOO_LARGE ? 416 : 400, rc == TW_E_TOO_LARGE ?
			"range_not_satisfiable" : "invalid_request", e.message, false);
		goto out;
	}
	if (strncmp(f.path, FIRMWARE_DIR "/", sizeof(FIRMWARE_DIR)) != 0 ||
	    strstr(f.path, "..") != NULL ||
	    (path = tw_asprintf("%s/%s", home, f.path)) == NULL ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0 ||
	    st.st_size != f.size) {
		tw_err("wan: firmware image %lld: file %s missing or changed", (long long)f.id,
			path != NULL ? path : f.path);
		wan_reply_error(req, 500, "internal", "the image is not available", false);
		goto out;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/octet-stream");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	snprintf(hdr, sizeof(hdr), "bytes %lld-%lld/%lld", (long long)first,
		(long long)(first + len - 1), (long long)f.size);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Range", hdr);
	if (wf_rate_conn > 0 || wf_rate_total > 0) {
		/* Paced: chunk by chunk under the byte-rate limits. */
		int pfd = fd;

		fd = -1;   /* taken over by wf_paced_start */
		if (!wf_paced_start(req, pfd, first, len)) {
			evhttp_clear_headers(evhttp_request_get_output_headers(req));
			wan_reply_error(req, 500, "internal", "out of memory", false);
			goto out;
		}
	} else {
		/* One range from the one file: libevent reads it when the socket can take it. */
		if ((out = evbuffer_new()) == NULL || evbuffer_add_file(out, fd, first, len) != 0) {
			wan_reply_error(req, 500, "internal", "out of memory", false);
			goto out;
		}
		fd = -1;   /* owned by out now */
		evhttp_send_reply(req, 206, "Partial Content", out);
	}
	/* Log the start and the end of a transfer, not every range (volume). */
	if (first == 0 || first + len == f.size) {
		snprintf(detail, sizeof(detail), "job %lld: %s %s bytes %lld-%lld of %lld",
			(long long)job, f.model, f.version, (long long)first,
			(long long)(first + len - 1), (long long)f.size);
		wan_journal_add(conn->thr, conn->gateway_id, peer, first == 0 ?
			"firmware.transfer" : "firmware.transferred", object, "ok", detail);
	}
out:
	if (fd >= 0)
		close(fd);
	if (out != NULL)   /* evbuffer_free does not take NULL */
		evbuffer_free(out);
	free(path);
}

bool wan_firmware_route(struct evhttp_request *req, struct wan_conn *conn, const SSL *ssl,
	const char *path)
{
	static const char prefix[] = "/v1/firmware/";
	const char *p;
	int64_t id = 0;
	int n = 0;

	if (path == NULL || strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return false;
	for (p = path + sizeof(prefix) - 1; *p >= '0' && *p <= '9' && n < 18; p++, n++)
		id = id * 10 + (*p - '0');
	if (n == 0 || *p != '\0' || id <= 0) {
		wan_reply_error(req, 404, "not_found", "no such resource", false);
		return true;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		wan_reply_error(req, 405, "method_not_allowed", "use GET", false);
	} else if (conn->session[0] == '\0') {
		wan_reply_error(req, 409, "no_session", "open a session first (POST /v1/session)",
			false);
	} else {
		wf_get(req, conn, wan_conn_peer(conn, ssl), id);
	}
	return true;
}
