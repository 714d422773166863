/*
 * timesvc.c: the legal-time service (timesvc.h).
 *
 * SNTP (RFC 4330) client for the GWA's own clock check: one 48-byte request per upstream
 * whose transmit timestamp is random (it only has to be echoed back; a real clock value
 * would tell an observer nothing new, a random one cannot be guessed by an off-path
 * spoofer), an answer is accepted only with that origin timestamp, mode 4, a sane stratum
 * and leap indicator. offset = ((T2 - T1) + (T3 - T4)) / 2 with T1/T4 our send/receive
 * times. Several upstreams: the median offset decides (one falseticker cannot move it).
 */
#include "metering/timesvc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "audit/alert.h"
#include "base/log.h"
#include "base/util.h"
#include "net/wan_message.h"

#define NTP_UNIX_OFFSET 2208988800ULL   /* seconds 1900-01-01 .. 1970-01-01 */
#define TIMESVC_UPSTREAMS_MAX 8

static bool ts_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

static tw_rc ts_members(json_t *root, const char *const *members, struct tw_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach(root, k, v) {
		size_t i;

		(void)v;
		for (i = 0; members[i] != NULL && strcmp(members[i], k) != 0; i++)
			;
		if (members[i] == NULL)
			return tw_error_set(err, TW_E_INVALID, "unknown member \"%.40s\"", k);
	}
	return TW_OK;
}

static tw_rc ts_time(json_t *root, const char *name, int64_t *ms, struct tw_error *err)
{
	const json_t *v = json_object_get(root, name);

	if (!json_is_string(v) || json_string_length(v) > WAN_TIME_MAX)
		return tw_error_set(err, TW_E_INVALID, "member \"%s\" must be an RFC 3339 "
			"date-time", name);
	return wan_time_parse(json_string_value(v), ms, err);
}

static tw_rc ts_nonce(json_t *root, char out[TIMESVC_NONCE_HEX + 1], struct tw_error *err)
{
	const json_t *v = json_object_get(root, "nonce");

	if (!json_is_string(v) || json_string_length(v) != TIMESVC_NONCE_HEX ||
	    !ts_hex(json_string_value(v), TIMESVC_NONCE_HEX))
		return tw_error_set(err, TW_E_INVALID, "member \"nonce\" must be %d lower-case hex "
			"digits", TIMESVC_NONCE_HEX);
	memcpy(out, json_string_value(v), TIMESVC_NONCE_HEX + 1);
	return TW_OK;
}

static json_t *ts_load(const void *body, size_t len, struct tw_error *err, tw_rc *rc)
{
	json_t *root;

	*rc = TW_OK;
	if (len > TIMESVC_BODY_MAX) {
		*rc = tw_error_set(err, TW_E_TOO_LARGE, "body exceeds %d bytes", TIMESVC_BODY_MAX);
		return NULL;
	}
	if (body == NULL || len == 0 ||
	    (root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
		*rc = tw_error_set(err, TW_E_PROTOCOL, "body is not a JSON object");
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*rc = tw_error_set(err, TW_E_PROTOCOL, "body is not a JSON object");
		return NULL;
	}
	return root;
}

tw_rc timesvc_request_parse(const void *body, size_t len, struct timesvc_request *out,
	struct tw_error *err)
{
	static const char *const members[] = { "gateway_id", "nonce", "t1", NULL };
	const json_t *g;
	json_t *root;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((root = ts_load(body, len, err, &rc)) == NULL)
		return rc;
	if ((rc = ts_members(root, members, err)) != TW_OK)
		goto out;
	g = json_object_get(root, "gateway_id");
	if (!json_is_string(g) || json_string_length(g) > STORE_ID_MAX ||
	    !wan_gateway_id_valid(json_string_value(g))) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"gateway_id\" must be 1..64 of "
			"[A-Za-z0-9._-]");
		goto out;
	}
	snprintf(out->gateway_id, sizeof(out->gateway_id), "%s", json_string_value(g));
	if ((rc = ts_nonce(root, out->nonce, err)) == TW_OK)
		rc = ts_time(root, "t1", &out->t1_ms, err);
out:
	json_decref(root);
	return rc;
}

tw_rc timesvc_answer_parse(const void *body, size_t len, struct timesvc_answer *out,
	struct tw_error *err)
{
	const json_t *lim;
	json_t *root;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((root = ts_load(body, len, err, &rc)) == NULL)
		return rc;
	/* Answers may grow compatibly: unknown members are ignored here. */
	if ((rc = ts_nonce(root, out->nonce, err)) != TW_OK ||
	    (rc = ts_time(root, "t1", &out->t1_ms, err)) != TW_OK ||
	    (rc = ts_time(root, "t2", &out->t2_ms, err)) != TW_OK ||
	    (rc = ts_time(root, "t3", &out->t3_ms, err)) != TW_OK)
		goto out;
	lim = json_object_get(root, "max_offset_ms");
	if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
	    json_integer_value(lim) > 3600000) {
		rc = tw_error_set(err, TW_E_INVALID, "member \"max_offset_ms\" must be 1..3600000");
		goto out;
	}
	out->max_offset_ms = (long)json_integer_value(lim);
	if (out->t3_ms < out->t2_ms)
		rc = tw_error_set(err, TW_E_INVALID, "t3 before t2");
out:
	json_decref(root);
	return rc;
}

static int64_t ntp_to_ms(const unsigned char *p)
{
	uint64_t sec = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
	uint64_t frac = ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16) | ((uint64_t)p[6] << 8) | p[7];

	/* Era 0 (until 2036); a timestamp before 1970 is refused by the caller. */
	return (int64_t)(sec - NTP_UNIX_OFFSET) * 1000 + (int64_t)((frac * 1000) >> 32);
}

tw_rc timesvc_ntp_parse(const unsigned char *pkt, size_t len, const unsigned char origin[8],
	int64_t *t2_ms, int64_t *t3_ms, int *stratum, struct tw_error *err)
{
	unsigned li, vn, mode;
	static const unsigned char zero[8];

	if (pkt == NULL || len < NTP_PACKET_LEN)
		return tw_error_set(err, TW_E_PROTOCOL, "NTP answer shorter than 48 bytes");
	li = pkt[0] >> 6;
	vn = (pkt[0] >> 3) & 7;
	mode = pkt[0] & 7;
	if (mode != 4 || (vn != 3 && vn != 4))
		return tw_error_set(err, TW_E_PROTOCOL, "not an NTPv3/v4 server answer (mode %u, "
			"version %u)", mode, vn);
	if (li == 3 || pkt[1] == 0 || pkt[1] > 15)
		return tw_error_set(err, TW_E_PROTOCOL, "the server is not synchronised (leap "
			"indicator %u, stratum %u)", li, pkt[1]);
	if (memcmp(pkt + 24, origin, 8) != 0)
		return tw_error_set(err, TW_E_PROTOCOL, "the answer does not echo our request "
			"(spoofed or stale)");
	if (memcmp(pkt + 32, zero, 8) == 0 || memcmp(pkt + 40, zero, 8) == 0 ||
	    ((uint64_t)pkt[32] << 24 | (uint64_t)pkt[33] << 16 | (uint64_t)pkt[34] << 8 |
	     pkt[35]) < NTP_UNIX_OFFSET ||
	    ((uint64_t)pkt[40] << 24 | (uint64_t)pkt[41] << 16 | (uint64_t)pkt[42] << 8 |
	     pkt[43]) < NTP_UNIX_OFFSET)
		return tw_error_set(err, TW_E_PROTOCOL, "the answer lacks its timestamps");
	*t2_ms = ntp_to_ms(pkt + 32);
	*t3_ms = ntp_to_ms(pkt + 40);
	*stratum = pkt[1];
	if (*t3_ms < *t2_ms)
		return tw_error_set(err, TW_E_PROTOCOL, "the server sent before it received");
	return TW_OK;
}

tw_rc timesvc_ntp_query(const char *hostport, long timeout_ms, int64_t *offset_ms,
	int64_t *rtt_ms, struct tw_error *err)
{
	struct addrinfo hints, *ai = NULL;
	unsigned char req[NTP_PACKET_LEN], ans[NTP_PACKET_LEN + 64];
	char *host = NULL, port[8];
	uint16_t portn = 0;
	int64_t t1, t4, t2 = 0, t3 = 0, deadline;
	int fd = -1, stratum = 0, gai;
	ssize_t n;
	tw_rc rc;

	if ((rc = tw_parse_hostport(hostport, &host, &portn, err)) != TW_OK)
		return rc;
	snprintf(port, sizeof(port), "%u", (unsigned)portn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	if ((gai = getaddrinfo(host, port, &hints, &ai)) != 0) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "cannot resolve %s: %s", hostport,
			gai_strerror(gai));
		goto out;
	}
	if ((fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot reach %s: %s", hostport, strerror(errno));
		goto out;
	}
	memset(req, 0, sizeof(req));
	req[0] = (0 << 6) | (4 << 3) | 3;      /* LI 0, version 4, mode client */
	if (RAND_bytes(req + 40, 8) != 1) {
		rc = tw_error_set(err, TW_E_CRYPTO, "no random bytes for the NTP request");
		goto out;
	}
	t1 = tw_now_ms();
	if (send(fd, req, sizeof(req), 0) != (ssize_t)sizeof(req)) {
		rc = tw_error_set(err, TW_E_IO, "cannot send to %s: %s", hostport, strerror(errno));
		goto out;
	}
	deadline = tw_monotonic_ms() + timeout_ms;
	rc = TW_E_UNAVAILABLE;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - tw_monotonic_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			rc = tw_error_set(err, TW_E_UNAVAILABLE, "no NTP answer from %s within %ld ms",
				hostport, timeout_ms);
			break;
		}
		n = recv(fd, ans, sizeof(ans), 0);
		t4 = tw_now_ms();
		if (n < 0) {
			rc = tw_error_set(err, TW_E_UNAVAILABLE, "NTP server %s: %s", hostport,
				strerror(errno));
			break;
		}
		/* A wrong answer (spoofed, stale) is dropped; keep waiting for ours. */
		if (timesvc_ntp_parse(ans, (size_t)n, req + 40, &t2, &t3, &stratum, err) != TW_OK)
			continue;
		*offset_ms = ((t2 - t1) + (t3 - t4)) / 2;
		*rtt_ms = (t4 - t1) - (t3 - t2);
		rc = TW_OK;
		break;
	}
out:
	if (fd >= 0)
		close(fd);
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

tw_rc timesvc_check(const struct tw_config *conf, struct tw_store *store,
	struct store_time_check *out, struct tw_error *err)
{
	const char *list = tw_config_get(conf, "time", "upstream");
	struct store_time_check c;
	struct tw_error e, ae;
	int64_t offs[TIMESVC_UPSTREAMS_MAX], off = 0, rtt = 0;
	long max_offset, interval, timeout;
	char buf[512], *save = NULL, *tok, failures[200] = "";
	size_t n = 0, tried = 0;
	tw_rc rc;

	memset(&c, 0, sizeof(c));
	if (list == NULL || list[0] == '\0')
		return tw_error_set(err, TW_E_CONFIG, "no [time] upstream configured (HOST:PORT of "
			"NTP servers, comma-separated)");
	if ((rc = tw_config_get_long(conf, "time", "max_offset_ms", 1000, 1, 3600000,
	    &max_offset, err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, "time", "check_interval_s", 64, 1, 86400, &interval,
	    err)) != TW_OK ||
	    (rc = tw_config_get_long(conf, "time", "timeout_ms", 2000, 10, 60000, &timeout,
	    err)) != TW_OK)
		return rc;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL && tried < TIMESVC_UPSTREAMS_MAX;
	     tok = strtok_r(NULL, ", ", &save)) {
		tried++;
		if (timesvc_ntp_query(tok, timeout, &off, &rtt, &e) == TW_OK) {
			offs[n++] = off;
			tw_debug("time: %s offset %lld ms, round trip %lld ms", tok, (long long)off,
				(long long)rtt);
		} else {
			size_t l = strlen(failures);

			snprintf(failures + l, sizeof(failures) - l, "%s%s", l > 0 ? "; " : "",
				e.message);
		}
	}
	c.checked_ms = tw_now_ms();
	snprintf(c.upstream, sizeof(c.upstream), "%.127s", list);
	if (n == 0) {
		c.ok = false;
		snprintf(c.detail, sizeof(c.detail), "no upstream answered: %s", failures);
	} else {
		qsort(offs, n, sizeof(offs[0]), cmp_i64);
		c.offset_ms = offs[n / 2];
		c.ok = c.offset_ms <= max_offset && c.offset_ms >= -max_offset;
		snprintf(c.detail, sizeof(c.detail), "%zu of %zu upstreams answered; median "
			"offset %lld ms (bound %ld ms)%s%s", n, tried, (long long)c.offset_ms,
			max_offset, failures[0] != '\0' ? "; " : "", failures);
	}
	c.valid_until_ms = c.checked_ms + 3 * interval * 1000;
	if ((rc = store_time_check_insert(store, &c, err)) != TW_OK)
		return rc;
	if (!c.ok) {
		tw_err("ALERT GWA clock: %s", c.detail);
		if (alert_raise(store, ALERT_TIME, NULL, "gwa-clock", c.detail, &ae) != TW_OK)
			tw_err("cannot queue the time alert: %s", ae.message);
	}
	if (out != NULL)
		*out = c;
	return TW_OK;
}
