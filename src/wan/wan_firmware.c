/*
 * wan_firmware.c: GET /v1/firmware/ID, the firmware download service (UC-3.2.5) inside
 * the gateway's WAN TLS session (docs/wan-protocol.md "Firmware download").
 *
 * A gateway may fetch image ID only while a firmware-update order for it is the order it
 * is executing (gwa/order_firmware.h: state "sent"); a cancelled, timed-out or never
 * given order, another image, or a range outside the image is refused and logged
 * (wan.refuse). The image is served from its one file in HOME/firmware in ranges of at
 * most [wan] firmware_range_max bytes, so a connection never holds more than one range
 * (no per-gateway copy of the image; T-SU.5 memory). Bandwidth is paced by how many
 * gateways download at once (wake-up token buckets, rollout groups), not per byte:
 * libevent's rate limits on OpenSSL bufferevents stalled transfers here (a range never
 * completed), so they are not used (docs/firmware.md "Not done yet").
 */
#include "wan/wan_firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "base/log.h"
#include "base/util.h"
#include "gwa/firmware.h"
#include "gwa/order_firmware.h"
#include "store/store_firmware.h"

tw_rc wan_firmware_init(const struct tw_home *home, unsigned threads, struct tw_error *err)
{
	(void)threads;
	return firmware_orders_init(home, err);
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
	/* One range from the one file: libevent reads it when the socket can take it. */
	if ((out = evbuffer_new()) == NULL || evbuffer_add_file(out, fd, first, len) != 0) {
		wan_reply_error(req, 500, "internal", "out of memory", false);
		goto out;
	}
	fd = -1;   /* owned by out now */
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		"application/octet-stream");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	snprintf(hdr, sizeof(hdr), "bytes %lld-%lld/%lld", (long long)first,
		(long long)(first + len - 1), (long long)f.size);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Range", hdr);
	evhttp_send_reply(req, 206, "Partial Content", out);
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
