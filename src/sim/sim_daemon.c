/*
 * sim_daemon.c: set-up of the simulator's state, the batch runner (sim_run) and the
 * daemon (sim_daemon): one UDP socket for wake-ups of all hosted gateways
 * (demultiplexed by recipient id), periodic self-initiated contact, counters in a
 * stats file, and a clean stop on SIGTERM/SIGINT.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <openssl/sha.h>

#include "base/log.h"
#include "base/util.h"
#include "net/loop_base.h"
#include "sim/sim_internal.h"

static size_t id_hash(const char *id, size_t cap)
{
	size_t h = 1469598103934665603ULL & (size_t)-1;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h % cap;
}

size_t sim_lookup(struct sim_state *st, const char *id)
{
	size_t i;

	if (st->index == NULL)
		return (size_t)-1;
	for (i = id_hash(id, st->index_cap); st->index[i] != (size_t)-1;
	    i = (i + 1) % st->index_cap)
		if (strcmp(st->gws[st->index[i]].id, id) == 0)
			return st->index[i];
	return (size_t)-1;
}

tw_rc sim_state_setup(struct sim_state *st, const struct sim_options *opt,
	struct sim_result *res, bool daemon, struct tw_error *err)
{
	struct in6_addr a6;
	struct in_addr a4;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(st, 0, sizeof(*st));
	st->opt = opt;
	st->res = res;
	st->daemon = daemon;
	st->n = opt->gateway_count;
	st->rounds = opt->rounds > 0 ? opt->rounds : 1;
	st->concurrency = opt->concurrency > 0 ? opt->concurrency : 64;
	st->max_orders = opt->max_orders > 0 ? opt->max_orders : 64;
	if (opt->gateway_count == 0)
		return tw_error_set(err, TW_E_INVALID, "no gateways given");
	if (opt->gwa_address == NULL)
		return tw_error_set(err, TW_E_INVALID, "no wan address given; use --gwa HOST:PORT");
	if ((rc = tw_parse_hostport(opt->gwa_address, &st->host, &st->port, err)) != TW_OK)
		return rc;
	st->host_is_ip = inet_pton(AF_INET, st->host, &a4) == 1 ||
		inet_pton(AF_INET6, st->host, &a6) == 1;
	/* A closed connection must be an error code, not a process-killing signal. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		tw_warn("sim: cannot ignore SIGPIPE");
	st->gws = calloc(st->n, sizeof(*st->gws));
	st->queue = calloc(st->n, sizeof(*st->queue));
	st->base = loop_base_new();
	if (st->gws == NULL || st->queue == NULL || st->base == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory for %zu gateways", st->n);
	for (size_t i = 0; i < st->n; i++)
		st->gws[i].pub.dir = opt->gateway_dirs[i];
	return TW_OK;
}

void sim_state_teardown(struct sim_state *st)
{
	if (st->gws != NULL)
		for (size_t i = 0; i < st->n; i++)
			sim_gw_free(&st->gws[i]);
	if (st->base != NULL)
		event_base_free(st->base);
	free(st->gws);
	free(st->queue);
	free(st->index);
	free(st->host);
	sim_tls_cache_free(st);
	sim_gwa_cache_free();
	memset(st, 0, sizeof(*st));
}

tw_rc sim_run(const struct sim_options *opt, struct sim_result *res, struct tw_error *err)
{
	struct sim_state st;
	int64_t t0;
	tw_rc rc;

	if ((rc = sim_state_setup(&st, opt, res, false, err)) != TW_OK)
		goto out;
	for (size_t i = 0; i < st.n; i++)
		sim_enqueue(&st, i);
	t0 = tw_monotonic_ms();
	sim_pump(&st);
	if (st.in_flight > 0 && event_base_dispatch(st.base) < 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "simulator event loop failed");
		goto out;
	}
	res->seconds = (double)(tw_monotonic_ms() - t0) / 1000.0;
	rc = res->sessions_failed == 0 ? TW_OK :
		tw_error_set(err, TW_E_PROTOCOL, "%zu of %zu sessions failed", res->sessions_failed,
			res->sessions_failed + res->sessions_ok);
out:
	sim_state_teardown(&st);
	return rc;
}

/* ---- daemon ---- */

struct sim_daemon_ctx {
	struct sim_state *st;
	int fd;
	int64_t t0;
};

static void sim_udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_daemon_ctx *d = arg;
	unsigned char buf[1024];

	(void)what;
	/* Drain what is there; a datagram longer than buf is truncated and so invalid. */
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);

		if (n < 0)
			break;
		sim_wakeup_datagram(d->st, buf, (size_t)n > sizeof(buf) ? sizeof(buf) + 1 :
			(size_t)n);
	}
}

static void sim_write_stats(struct sim_daemon_ctx *d)
{
	const struct sim_result *r = d->st->res;
	char text[1024];
	int n;

	if (d->st->opt->stats_file == NULL)
		return;
	n = snprintf(text, sizeof(text), "{\"sessions_ok\":%zu,\"sessions_failed\":%zu,"
		"\"resumed\":%zu,"
		"\"orders_ok\":%zu,\"orders_failed\":%zu,\"orders_repeated\":%zu,"
		"\"wakeups_accepted\":%zu,\"wakeups_rejected\":%zu,\"wakeups_ignored\":%zu,"
		"\"in_flight\":%u,\"peak_in_flight\":%zu,\"queued\":%zu}\n", r->sessions_ok,
		r->sessions_failed, r->resumed, r->orders_ok, r->orders_failed, r->orders_repeated,
		r->wakeups_accepted, r->wakeups_rejected, r->wakeups_ignored, d->st->in_flight,
		r->peak_in_flight, d->st->qcount);
	if (n > 0 && (size_t)n < sizeof(text))
		(void)tw_write_file(d->st->opt->stats_file, text, (size_t)n, 0644, false, NULL);
}

static void sim_second_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim_daemon_ctx *d = arg;
	struct sim_state *st = d->st;
	int64_t now = tw_now_ms();

	(void)fd;
	(void)what;
	if (st->opt->contact_interval_s > 0) {
		for (size_t i = 0; i < st->n; i++) {
			struct sim_gateway *gw = &st->gws[i];

			if (gw->next_contact_ms > now)
				continue;
			gw->next_contact_ms = now + (int64_t)st->opt->contact_interval_s * 1000;
			if (!gw->queued)
				sim_enqueue(st, i);
		}
		sim_pump(st);
	}
	/* A gateway that installed new TLS credentials retries every second until a session
	 * with them succeeded (the wan may have been down: that session is the GWA's proof). */
	for (size_t i = 0; i < st->n; i++)
		if (st->gws[i].proof_pending && !st->gws[i].queued)
			sim_enqueue(st, i);
	sim_pump(st);
	sim_write_stats(d);
}

static void sim_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim_daemon_ctx *d = arg;

	(void)sig;
	(void)what;
	event_base_loopbreak(d->st->base);
}

static tw_rc sim_udp_open(const char *address, int *fd, struct tw_error *err)
{
	struct addrinfo hints, *ai = NULL;
	char *host = NULL, port[8];
	uint16_t p;
	int g, rcvbuf = 4 * 1024 * 1024;
	tw_rc rc;

	*fd = -1;
	if ((rc = tw_parse_hostport(address, &host, &p, err)) != TW_OK)
		return tw_error_set(err, rc, "--listen-wakeup %s: use HOST:PORT", address);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", p);
	if ((g = getaddrinfo(host, port, &hints, &ai)) != 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "--listen-wakeup: cannot resolve %s: %s", host,
			gai_strerror(g));
		goto out;
	}
	*fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0 || bind(*fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot listen for wake-ups on %s: %s", address,
			strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		goto out;
	}
	/* A fleet wave arrives in bursts; the kernel queue absorbs them. */
	(void)setsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	return rc;
}

tw_rc sim_daemon(const struct sim_options *opt, struct sim_result *res, struct tw_error *err)
{
	struct sim_state st;
	struct sim_daemon_ctx d;
	struct event *udp = NULL, *sec = NULL, *sterm = NULL, *sint = NULL;
	struct timeval one = { 1, 0 };
	tw_rc rc;

	memset(&d, 0, sizeof(d));
	d.fd = -1;
	if ((rc = sim_state_setup(&st, opt, res, true, err)) != TW_OK)
		goto out;
	d.st = &st;
	/* Every gateway is loaded up front: the id index is the wake-up demultiplexer. */
	st.index_cap = st.n * 2 + 1;
	if ((st.index = malloc(st.index_cap * sizeof(*st.index))) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	memset(st.index, 0xff, st.index_cap * sizeof(*st.index));
	for (size_t i = 0; i < st.n; i++) {
		size_t h;

		if ((rc = sim_gw_load(&st.gws[i], err)) != TW_OK)
			goto out;
		if (sim_lookup(&st, st.gws[i].id) != (size_t)-1) {
			rc = tw_error_set(err, TW_E_EXISTS, "gateway %s is given twice", st.gws[i].id);
			goto out;
		}
		for (h = id_hash(st.gws[i].id, st.index_cap); st.index[h] != (size_t)-1;
		    h = (h + 1) % st.index_cap)
			;
		st.index[h] = i;
		/* Spread periodic contacts over the interval. */
		if (opt->contact_interval_s > 0)
			st.gws[i].next_contact_ms = tw_now_ms() + (int64_t)((i * 1000ULL *
				opt->contact_interval_s) / st.n);
	}
	if (opt->listen_wakeup != NULL && (rc = sim_udp_open(opt->listen_wakeup, &d.fd, err)) !=
	    TW_OK)
		goto out;
	if (d.fd >= 0)
		udp = event_new(st.base, d.fd, EV_READ | EV_PERSIST, sim_udp_cb, &d);
	sec = event_new(st.base, -1, EV_PERSIST, sim_second_cb, &d);
	sterm = evsignal_new(st.base, SIGTERM, sim_signal_cb, &d);
	sint = evsignal_new(st.base, SIGINT, sim_signal_cb, &d);
	if ((d.fd >= 0 && (udp == NULL || event_add(udp, NULL) != 0)) || sec == NULL ||
	    event_add(sec, &one) != 0 || sterm == NULL || sint == NULL ||
	    evsignal_add(sterm, NULL) != 0 || evsignal_add(sint, NULL) != 0) {
		rc = tw_error_set(err, TW_E_NOMEM, "cannot set up the simulator's events");
		goto out;
	}
	tw_info("sim: %zu gateways waiting for wake-ups on %s", st.n,
		opt->listen_wakeup != NULL ? opt->listen_wakeup : "(none)");
	sim_write_stats(&d);
	d.t0 = tw_monotonic_ms();
	if (event_base_dispatch(st.base) < 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "simulator event loop failed");
		goto out;
	}
	res->seconds = (double)(tw_monotonic_ms() - d.t0) / 1000.0;
	sim_write_stats(&d);
	rc = TW_OK;
out:
	if (udp != NULL)
		event_free(udp);
	if (sec != NULL)
		event_free(sec);
	if (sterm != NULL)
		event_free(sterm);
	if (sint != NULL)
		event_free(sint);
	if (d.fd >= 0)
		close(d.fd);
	sim_state_teardown(&st);
	return rc;
}
