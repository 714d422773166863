/*
 * bench_handshake.c: mutual-auth TLS 1.2 handshakes per second of the real wan (driven
 * by the simulator engine over TCP) next to raw OpenSSL doing the same handshakes in
 * memory (BIO pairs) with the same certificates, keys, suite and group, in the same run.
 *
 *   bench_handshake --home DIR --count N [--rounds R] [--concurrency C] [--seconds S]
 *                   [--resume-rounds RR] [--resumed-only 1] [--full-only 1]
 *                   [--gwa HOST:PORT]
 *
 * --resumed-only 1 runs nothing but the two resumed measurement runs (for a profile of
 * the resumed path: `perf record -p` on this process sees no full handshakes beyond the
 * first round). --full-only 1 runs nothing but the full round (R rounds without
 * resumption, every visit a full handshake) and prints its rate and CPU per handshake: the
 * figure `PERF=full bench/run-handshake.sh` profiles, and a quick A/B of the full path;
 * the raw in-memory full rate is measured before it (--seconds) for the ratio.
 *
 * Without --gwa, wan runs inside this process from DIR's configuration ([wan] threads
 * loops), so both figures come from the same machine at the same time. Both figures
 * include both ends of every handshake (client and server share the CPU), so the ratio
 * is what the wan's event loops, HTTP, JSON, store lookups and admin log cost on top of
 * the bare cryptography.
 *
 * What each resumed figure includes (docs/performance.md "Resumed sessions"):
 *   raw in memory   the two TLS state machines over a BIO pair, one thread: no sockets;
 *   raw by id       in memory too, but resumed by session id from the server's cache
 *                   (tickets off), so the server decodes nothing: what the wan's session
 *                   cache (wan_session_cache.c) does for a ticket it has seen;
 *   raw over TCP    the same over a loopback TCP connection made per handshake (socket,
 *                   connect, accept, close on both ends), one thread: the TCP set-up the
 *                   wan pays as well, without HTTP, store or event loops;
 *   wan resumed     the simulator's resumed visits, each a TCP connection, a resumed
 *                   handshake, POST /v1/session (identity re-check, order count, admin-log
 *                   and last-contact journal) and the close, measured directly as the
 *                   difference of two runs with the same fleet: one round (every visit a
 *                   full handshake) and 1 + --resume-rounds rounds (the extra rounds all
 *                   resumed). Set-up (loading the gateways' keys) and the full round cancel.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "crypto/tls_signer_key.h"
#include "sim/sim.h"
#include "wan/wan.h"
#if __has_include("wan/wan_session_cache.h")
#include "wan/wan_session_cache.h"
#define HAVE_WAN_SESSION_CACHE 1
#endif

struct raw {
	SSL_CTX *srv, *cli;
};

static double cpu_now_us(void);

/* One in-memory handshake; sess (may be NULL) is offered for resumption. */
static int raw_handshake(struct raw *r, SSL_SESSION *sess, SSL_SESSION **out, int *reused)
{
	SSL *s = SSL_new(r->srv), *c = SSL_new(r->cli);
	BIO *bs = NULL, *bc = NULL;
	int ok = 0, rs = 0, rc = 0;

	if (s == NULL || c == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		goto out;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (sess != NULL)
		SSL_set_session(c, sess);
	for (int i = 0; i < 32 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			goto out;
	}
	if (rs != 1 || rc != 1)
		goto out;
	*reused = SSL_session_reused(c);
	if (out != NULL)
		*out = SSL_get1_session(c);
	/* Clean close on both ends so neither side evicts the session. */
	SSL_shutdown(c);
	SSL_shutdown(s);
	ok = 1;
out:
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	return ok;
}

/*
 * One handshake over a fresh loopback TCP connection to the listening socket lfd, both
 * ends in this thread (non-blocking sockets, the state machines stepped in turn), then a
 * clean close of both: the raw cost of what a gateway's visit adds in TCP terms.
 */
static int raw_tcp_handshake(struct raw *r, int lfd, const struct sockaddr_in *sa,
	SSL_SESSION *sess, int *reused)
{
	SSL *s = NULL, *c = NULL;
	int cfd = -1, sfd = -1, ok = 0, rs = 0, rc = 0;

	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int)) != 0 ||
	    connect(cfd, (const struct sockaddr *)sa, sizeof(*sa)) != 0)
		goto out;
	if ((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0 ||
	    fcntl(cfd, F_SETFL, O_NONBLOCK) != 0)
		goto out;
	(void)setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if ((s = SSL_new(r->srv)) == NULL || (c = SSL_new(r->cli)) == NULL ||
	    SSL_set_fd(s, sfd) != 1 || SSL_set_fd(c, cfd) != 1)
		goto out;
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (sess != NULL)
		SSL_set_session(c, sess);
	/* Loopback delivers at once; the bound only stops a broken peer from spinning. */
	for (int i = 0; i < 100000 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1)
			rs = SSL_do_handshake(s);
		if ((rc <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) ||
		    (rs <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ))
			goto out;
	}
	if (rs != 1 || rc != 1)
		goto out;
	*reused = SSL_session_reused(c);
	SSL_shutdown(c);
	SSL_shutdown(s);
	ok = 1;
out:
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
	return ok;
}

/*
 * lfd < 0: in memory; otherwise over loopback TCP to lfd (bound to sa). Handshakes per
 * second of wall time; *cpu_us (may be NULL) gets this process's CPU per handshake.
 */
static double raw_rate(struct raw *r, double seconds, SSL_SESSION *sess, int lfd,
	const struct sockaddr_in *sa, int *failures, double *cpu_us)
{
	int64_t t0 = tw_monotonic_ms(), t;
	double c0 = cpu_now_us();
	long n = 0;
	int reused = 0, ok;

	do {
		ok = lfd < 0 ? raw_handshake(r, sess, NULL, &reused) :
			raw_tcp_handshake(r, lfd, sa, sess, &reused);
		if (!ok || (sess != NULL && !reused))
			(*failures)++;
		n++;
		t = tw_monotonic_ms();
	} while ((double)(t - t0) < seconds * 1000.0);
	if (cpu_us != NULL)
		*cpu_us = (cpu_now_us() - c0) / (double)n;
	return (double)n * 1000.0 / (double)(t - t0);
}

/*
 * The same in-memory full handshakes on two threads at once (one SSL_CTX pair shared, as
 * the wan shares its context between loops): what two cores actually give for the bare
 * cryptography in this process, against the ceiling of twice one thread. Two
 * threads need not do twice the work of one: OpenSSL 3.0 reads its shared provider and
 * decoder stores under process-wide locks on every key decode and fetch, and two vCPUs
 * may share caches (or the host's SMT siblings). This measures it instead of assuming.
 */
struct raw_thread_arg {
	struct raw *r;
	double seconds;
	long n;
	int failures;
};

static void *raw_thread_main(void *p)
{
	struct raw_thread_arg *a = p;
	int64_t t0 = tw_monotonic_ms();
	int reused = 0;

	do {
		if (!raw_handshake(a->r, NULL, NULL, &reused))
			a->failures++;
		a->n++;
	} while ((double)(tw_monotonic_ms() - t0) < a->seconds * 1000.0);
	return NULL;
}

/*
 * Full handshakes/s of two threads together (wall time: the later of the two ends);
 * *cpu_us: this process's CPU per handshake meanwhile (only these two threads run then),
 * to set against one thread's: more CPU per handshake means the threads slow each other.
 */
static double raw_rate_2threads(struct raw *r, double seconds, int *failures, double *cpu_us)
{
	struct raw_thread_arg a[2] = { { r, seconds, 0, 0 }, { r, seconds, 0, 0 } };
	pthread_t t[2];
	int64_t t0 = tw_monotonic_ms(), t1;
	double c0 = cpu_now_us();
	int started = 0;

	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, raw_thread_main, &a[i]) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	t1 = tw_monotonic_ms();
	if (started != 2 || t1 <= t0)
		return 0.0;
	*failures += a[0].failures + a[1].failures;
	if (a[0].n + a[1].n > 0)
		*cpu_us = (cpu_now_us() - c0) / (double)(a[0].n + a[1].n);
	return (double)(a[0].n + a[1].n) * 1000.0 / (double)(t1 - t0);
}

/*
 * The same on two processes at once (fork after the set-up, each with its own copy of
 * the contexts): what two cores give the bare cryptography when nothing is shared, like
 * `openssl speed -multi 2`. Set against two threads, it tells the cost of OpenSSL's
 * process-wide locks (the wan's loops are threads of one process) from that of the
 * cores themselves (shared caches, SMT siblings). *cpu_us: the children's CPU per
 * handshake. 0.0 when a child could not be started or reported nothing.
 */
static double raw_rate_2procs(struct raw *r, double seconds, int *failures, double *cpu_us)
{
	struct rusage ru0, ru1;
	struct { long n; int failures; } got[2];
	int fds[2][2] = { { -1, -1 }, { -1, -1 } }, started = 0;
	pid_t pid[2] = { -1, -1 };
	int64_t t0, t1;
	long n = 0;

	memset(got, 0, sizeof(got));
	getrusage(RUSAGE_CHILDREN, &ru0);
	t0 = tw_monotonic_ms();
	for (int i = 0; i < 2; i++) {
		if (pipe(fds[i]) != 0)
			break;
		fflush(NULL);
		if ((pid[i] = fork()) == 0) {
			struct raw_thread_arg a = { r, seconds, 0, 0 };

			close(fds[i][0]);
			(void)raw_thread_main(&a);
			got[i].n = a.n;
			got[i].failures = a.failures;
			_exit(write(fds[i][1], &got[i], sizeof(got[i])) == (ssize_t)sizeof(got[i]) ?
				0 : 1);
		}
		close(fds[i][1]);
		fds[i][1] = -1;
		if (pid[i] < 0)
			break;
		started++;
	}
	for (int i = 0; i < 2; i++) {
		if (i < started && read(fds[i][0], &got[i], sizeof(got[i])) !=
		    (ssize_t)sizeof(got[i]))
			got[i].n = -1;
		if (fds[i][0] >= 0)
			close(fds[i][0]);
		if (pid[i] > 0)
			waitpid(pid[i], NULL, 0);
	}
	t1 = tw_monotonic_ms();
	getrusage(RUSAGE_CHILDREN, &ru1);
	if (started != 2 || got[0].n < 0 || got[1].n < 0 || t1 <= t0)
		return 0.0;
	n = got[0].n + got[1].n;
	*failures += got[0].failures + got[1].failures;
	if (n > 0)
		*cpu_us = ((double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
			ru0.ru_stime.tv_sec) * 1e6 + (double)(ru1.ru_utime.tv_usec -
			ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)) /
			(double)n;
	return (double)n * 1000.0 / (double)(t1 - t0);
}

/* A loopback listener on a free port for the raw TCP figure; -1 when none can be made. */
static int raw_listener(struct sockaddr_in *sa)
{
	socklen_t sl = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &sl) != 0) {
		fprintf(stderr, "bench: no loopback listener for the raw TCP figure: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static tw_rc raw_setup(const struct tw_home *home, const char *gwdir, struct raw *r,
	struct tw_error *err)
{
	char *scert = tw_home_path(home, "wan", "cert", "pki/gwa-tls.crt");
	char *skey = tw_home_path(home, "wan", "key", "pki/gwa-tls.key");
	char *schain = tw_home_path(home, "wan", "chain", "pki/sub-ca.crt");
	char *strust = tw_home_path(home, "wan", "trust", "pki/chain.pem");
	char *ccert = tw_asprintf("%s/tls.crt", gwdir), *ckey = tw_asprintf("%s/tls.key", gwdir);
	char *cchain = tw_asprintf("%s/chain.pem", gwdir);
	char *ctrust = tw_asprintf("%s/root-ca.crt", gwdir);
	struct tls_profile_config sc = { scert, skey, schain, strust, 0, NULL };
	struct tls_profile_config cc = { ccert, ckey, cchain, ctrust, 0, NULL };
	tw_rc rc;

	/*
	 * The ceiling is the bare cryptography in this process: when the GWA's TLS key is in
	 * the signer (no key file), the server end uses the first gateway's certificate and
	 * key instead (the same curve, chain depth and suite, so the same work).
	 */
	if (skey != NULL && !tw_path_exists(skey)) {
		sc.cert_file = ccert;
		sc.key_file = ckey;
		sc.chain_file = cchain;
	}

	rc = tls_server_ctx_new(&sc, &r->srv, err);
	if (rc == TW_OK)
		rc = tls_client_ctx_new(&cc, &r->cli, err);
	free(scert); free(skey); free(schain); free(strust);
	free(ccert); free(ckey); free(cchain); free(ctrust);
	return rc;
}

static double cpu_now_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
		(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/*
 * n sequential ECDSA signatures over a SHA-256 digest with key, one thread: wall time and
 * this process's CPU per signature. With the signer's key handle this is the round trip
 * a handshake waits for (the signer's own CPU is measured from outside, run-handshake.sh).
 */
static bool sign_rate(EVP_PKEY *key, int n, double *wall_us, double *cpu_us)
{
	unsigned char dgst[32], sig[160];
	int64_t t0 = tw_monotonic_ms();
	double c0 = cpu_now_us();

	memset(dgst, 0x5a, sizeof(dgst));
	for (int i = 0; i < n; i++) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
		size_t len = sizeof(sig);
		int ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
			EVP_PKEY_sign(ctx, sig, &len, dgst, sizeof(dgst)) == 1;

		EVP_PKEY_CTX_free(ctx);
		if (!ok)
			return false;
	}
	*wall_us = (double)(tw_monotonic_ms() - t0) * 1000.0 / n;
	*cpu_us = (cpu_now_us() - c0) / n;
	return true;
}

/* In-process signing (the gateway's file key) next to signing through the signer (the
 * wan's key, when the signer holds it). Figures are 0 where a side is not available. */
static void sign_compare(const struct tw_home *home, const char *gwdir, double out[4])
{
	char *gkey = tw_asprintf("%s/tls.key", gwdir);
	char *wcert = tw_home_path(home, "wan", "cert", "pki/gwa-tls.crt");
	char *wkey = tw_home_path(home, "wan", "key", "pki/gwa-tls.key");
	EVP_PKEY *local = NULL, *remote = NULL;
	X509 *x = NULL;
	struct tw_error err;

	memset(out, 0, 4 * sizeof(*out));
	if (gkey != NULL && keys_read_private_pem(gkey, &local, &err) == TW_OK)
		(void)sign_rate(local, 1000, &out[0], &out[1]);
	if (wkey != NULL && !tw_path_exists(wkey) && tls_signer_key_socket() != NULL &&
	    keys_read_cert_pem(wcert, &x, &err) == TW_OK &&
	    tls_signer_key_new(tls_signer_key_socket(), SIGNER_KEY_GWA_TLS, x, &remote, &err) ==
	    TW_OK)
		(void)sign_rate(remote, 1000, &out[2], &out[3]);
	EVP_PKEY_free(local);
	EVP_PKEY_free(remote);
	X509_free(x);
	free(gkey);
	free(wcert);
	free(wkey);
}

static char **list_gateways(const char *home, long count)
{
	char **dirs = calloc((size_t)count, sizeof(*dirs));
	char *cmd = tw_asprintf("ls -1 '%s/gateways' | sort | head -n %ld", home, count);
	FILE *p = cmd != NULL ? popen(cmd, "r") : NULL;
	char line[512];
	long n = 0;

	while (p != NULL && dirs != NULL && n < count && fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		dirs[n++] = tw_asprintf("%s/gateways/%s", home, line);
	}
	if (p != NULL)
		pclose(p);
	free(cmd);
	if (n < count) {
		fprintf(stderr, "bench: %s/gateways has %ld gateways, %ld requested\n", home, n,
			count);
		for (long i = 0; dirs != NULL && i < n; i++)
			free(dirs[i]);
		free(dirs);
		return NULL;
	}
	return dirs;
}

int main(int argc, char **argv)
{
	const char *home_dir = NULL, *gwa_arg = NULL;
	long count = 50, rounds = 4, conc = 64, secs = 5, rrounds = 20, only_res = 0;
	long only_full = 0;
	struct tw_home *home = NULL;
	struct wan_server *srv = NULL;
	struct raw raw = { NULL, NULL };
	struct sim_options opt;
	struct sim_result full, resumed, one, many;
	struct tls_signer_key_stats sk0, sk1;
	struct rusage ru0, ru1;
	double cpu_us = 0.0, rtt_us = 0.0, sc[4];
	unsigned long long sigs;
	struct tw_error err;
	SSL_SESSION *sess = NULL;
	char **dirs = NULL, gwa[128];
	double raw_full = 0.0, raw_full_cpu = 0.0, raw_2t_full = 0.0, raw_2t_cpu = 0.0;
	double raw_2p_full = 0.0, raw_2p_cpu = 0.0;
	double raw_res = 0.0, raw_tcp_full = 0.0, raw_tcp_res = 0.0;
	double raw_res_cpu = 0.0, raw_tcp_res_cpu = 0.0, raw_id = 0.0, raw_id_cpu = 0.0;
	SSL_SESSION *sess_id = NULL;
	double res_direct = 0.0, res_cpu_us = 0.0, c1, c2, c3;
#ifdef HAVE_WAN_SESSION_CACHE
	struct wan_session_cache_stats wsc;
#endif
	struct sockaddr_in lsa;
	int lfd = -1;
	int failures = 0, reused, status = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		long *dst = NULL;

		if (strcmp(argv[i], "--home") == 0)
			home_dir = argv[i + 1];
		else if (strcmp(argv[i], "--gwa") == 0)
			gwa_arg = argv[i + 1];
		else if (strcmp(argv[i], "--count") == 0)
			dst = &count;
		else if (strcmp(argv[i], "--rounds") == 0)
			dst = &rounds;
		else if (strcmp(argv[i], "--concurrency") == 0)
			dst = &conc;
		else if (strcmp(argv[i], "--seconds") == 0)
			dst = &secs;
		else if (strcmp(argv[i], "--resume-rounds") == 0)
			dst = &rrounds;
		else if (strcmp(argv[i], "--resumed-only") == 0)
			dst = &only_res;
		else if (strcmp(argv[i], "--full-only") == 0)
			dst = &only_full;
		else
			break;
		if (dst != NULL && tw_parse_long(argv[i + 1], 1, 1000000, dst, &err,
		    argv[i] + 2) != TW_OK) {
			fprintf(stderr, "bench: %s\n", err.message);
			return 2;
		}
	}
	if (home_dir == NULL) {
		fputs("usage: bench_handshake --home DIR --count N [--rounds R] "
		      "[--concurrency C] [--seconds S] [--resume-rounds RR] [--resumed-only 1] "
		      "[--full-only 1] [--gwa HOST:PORT]\n", stderr);
		return 2;
	}
	tw_log_init("bench", TW_LOG_ERROR);
	if (tw_home_open(home_dir, &home, &err) != TW_OK ||
	    (dirs = list_gateways(home->dir, count)) == NULL) {
		fprintf(stderr, "bench: %s\n", home == NULL ? err.message : "not enough gateways");
		goto out;
	}

	/* 1. Raw OpenSSL, in memory, one thread, both ends. */
	if (raw_setup(home, dirs[0], &raw, &err) != TW_OK) {
		fprintf(stderr, "bench: %s\n", err.message);
		goto out;
	}
	if (!raw_handshake(&raw, NULL, &sess, &reused)) {
		fprintf(stderr, "bench: in-memory handshake failed (certificates?)\n");
		goto out;
	}
	if (!only_res) {
		raw_full = raw_rate(&raw, (double)secs, NULL, -1, NULL, &failures,
			&raw_full_cpu);
		raw_2t_full = raw_rate_2threads(&raw, (double)secs, &failures, &raw_2t_cpu);
		raw_2p_full = raw_rate_2procs(&raw, (double)secs, &failures, &raw_2p_cpu);
	}
	if (!only_res && !only_full) {
		raw_res = raw_rate(&raw, (double)secs / 2.0, sess, -1, NULL, &failures,
			&raw_res_cpu);
		if ((lfd = raw_listener(&lsa)) >= 0) {
			raw_tcp_full = raw_rate(&raw, (double)secs / 2.0, NULL, lfd, &lsa,
				&failures, NULL);
			raw_tcp_res = raw_rate(&raw, (double)secs / 2.0, sess, lfd, &lsa,
				&failures, &raw_tcp_res_cpu);
		}
		/* By session id: tickets off on the server from here on (the last raw figure). */
		SSL_CTX_set_options(raw.srv, SSL_OP_NO_TICKET);
		if (raw_handshake(&raw, NULL, &sess_id, &reused) && sess_id != NULL)
			raw_id = raw_rate(&raw, (double)secs / 2.0, sess_id, -1, NULL, &failures,
				&raw_id_cpu);
		else
			failures++;
	}

	/* 2. The real wan over TCP, driven by the simulator engine. */
	if (gwa_arg == NULL) {
		/* The wan signs its handshakes through the home's signer when its key is there
		 * (bench/run-handshake.sh starts one). */
		if (tls_signer_key_use_home(home, &err) != TW_OK ||
		    wan_server_start(home, &srv, &err) != TW_OK) {
			fprintf(stderr, "bench: wan: %s\n", err.message);
			goto out;
		}
		snprintf(gwa, sizeof(gwa), "127.0.0.1:%u", wan_server_port(srv));
	} else {
		snprintf(gwa, sizeof(gwa), "%s", gwa_arg);
	}
	memset(&opt, 0, sizeof(opt));
	opt.gwa_address = gwa;
	opt.gateway_dirs = dirs;
	opt.gateway_count = (size_t)count;
	opt.concurrency = (unsigned)conc;
	opt.rounds = (unsigned)rounds;
	opt.quiet = 1;
	memset(&full, 0, sizeof(full));
	memset(&resumed, 0, sizeof(resumed));
	memset(&one, 0, sizeof(one));
	memset(&many, 0, sizeof(many));
	if (only_full)
		goto full_round;
	/* Resumed only, directly: 1 + rrounds rounds minus 1 round, both with resumption on. */
	/*
	 * The CPU of this process (wan and simulator, both ends) per resumed session, the
	 * same difference: on a shared machine wall time swings with the load, CPU time much
	 * less (without --gwa only; with it the wan's CPU is elsewhere).
	 */
	opt.resume = 1;
	opt.rounds = 1;
	c1 = cpu_now_us();
	(void)sim_run(&opt, &one, &err);
	c2 = cpu_now_us();
	opt.rounds = 1 + (unsigned)rrounds;
	(void)sim_run(&opt, &many, &err);
	c3 = cpu_now_us();
	if (many.seconds > one.seconds && many.resumed > 0)
		res_direct = (double)many.resumed / (many.seconds - one.seconds);
	if (many.resumed > 0 && (c3 - c2) > (c2 - c1))
		res_cpu_us = ((c3 - c2) - (c2 - c1)) / (double)many.resumed;
	printf("wan resumed only (measured): %zu resumed sessions in %.3f s (%u rounds %.3f s "
		"minus 1 round %.3f s): %.1f/s; CPU (wan + sim) %.0f us per resumed session; "
		"failed sessions %zu\n", many.resumed,
		many.seconds - one.seconds, 1 + (unsigned)rrounds, many.seconds, one.seconds,
		res_direct, res_cpu_us, one.sessions_failed + many.sessions_failed);
#ifdef HAVE_WAN_SESSION_CACHE
	wan_session_cache_stats(&wsc);
	printf("wan session cache: %llu resumptions from memory, %llu tickets decoded and "
		"kept\n", (unsigned long long)wsc.hits, (unsigned long long)wsc.learned);
#endif
	if (only_res) {
		printf("bench_handshake: resumed_direct_per_s=%.1f resumed_cpu_us=%.0f failed=%zu\n",
			res_direct, res_cpu_us, one.sessions_failed + many.sessions_failed);
		status = one.sessions_failed + many.sessions_failed == 0 ? 0 : 1;
		goto out;
	}
full_round:
	opt.rounds = (unsigned)rounds;
	opt.resume = 0;
	/* CPU of this process (wan and simulator: both ends) and the signer's round trips
	 * (the wan's handshake signatures, when its key is in the signer) for the full round. */
	tls_signer_key_stats(&sk0);
	getrusage(RUSAGE_SELF, &ru0);
	(void)sim_run(&opt, &full, &err);
	getrusage(RUSAGE_SELF, &ru1);
	tls_signer_key_stats(&sk1);
	if (only_full) {
		double s = full.seconds > 0 ? (double)full.sessions_ok / full.seconds : 0.0;
		double c = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
			ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
			(double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
			ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);

		printf("bench_handshake: full_per_s=%.1f raw_full_per_s=%.1f raw_2t_full_per_s=%.1f "
			"ratio_to_ceiling=%.2f ratio_to_raw_2t=%.2f cpu_us_per_full=%.0f "
			"raw_cpu_us_per_full=%.0f raw_2t_cpu_us_per_full=%.0f failed=%zu "
			"raw_2p_full_per_s=%.1f raw_2p_cpu_us_per_full=%.0f ratio_to_raw_2p=%.2f\n", s,
			raw_full, raw_2t_full,
			raw_full > 0 ? s / (2.0 * raw_full) : 0.0,
			raw_2t_full > 0 ? s / raw_2t_full : 0.0,
			full.sessions_ok > 0 ? c / (double)full.sessions_ok : 0.0, raw_full_cpu,
			raw_2t_cpu, full.sessions_failed, raw_2p_full, raw_2p_cpu,
			raw_2p_full > 0 ? s / raw_2p_full : 0.0);
		status = full.sessions_failed == 0 && failures == 0 ? 0 : 1;
		goto out;
	}
	opt.resume = 1;
	(void)sim_run(&opt, &resumed, &err);

	printf("handshake bench: TLS 1.2 mutual auth, brainpoolP256r1, %s; %ld gateways, "
		"%ld rounds, concurrency %ld, %ld cores\n",
		"ECDHE-ECDSA-AES128-GCM-SHA256", count, rounds, conc, sysconf(_SC_NPROCESSORS_ONLN));
	printf("raw OpenSSL in memory (1 thread, both ends):  full %8.1f/s   resumed %8.1f/s%s\n",
		raw_full, raw_res, failures ? "  (SOME FAILED)" : "");
	printf("two threads of raw OpenSSL in memory at once: full %8.1f/s (%.2f x one thread); "
		"CPU per full handshake: one thread %.0f us, two threads %.0f us\n", raw_2t_full,
		raw_full > 0 ? raw_2t_full / raw_full : 0.0, raw_full_cpu, raw_2t_cpu);
	printf("two processes of raw OpenSSL in memory at once: full %8.1f/s (%.2f x one "
		"thread); CPU per full handshake %.0f us\n", raw_2p_full,
		raw_full > 0 ? raw_2p_full / raw_full : 0.0, raw_2p_cpu);
	printf("raw OpenSSL over loopback TCP (1 thread, both ends, connect+accept+close): "
		"full %8.1f/s   resumed %8.1f/s\n", raw_tcp_full, raw_tcp_res);
	printf("raw OpenSSL in memory resumed by session id (server cache, no ticket decode): "
		"%8.1f/s\n", raw_id);
	printf("CPU per resumed session (both ends): raw in memory %.0f us (by id %.0f us), raw "
		"over TCP %.0f us, wan + sim %.0f us\n", raw_res_cpu, raw_id_cpu, raw_tcp_res_cpu,
		res_cpu_us);
	printf("wan + sim over TCP (HTTP, store, admin log): full %8.1f/s   resumed-mix %8.1f/s "
		"(%zu of %zu resumed)\n",
		full.seconds > 0 ? (double)full.sessions_ok / full.seconds : 0.0,
		resumed.seconds > 0 ? (double)resumed.sessions_ok / resumed.seconds : 0.0,
		resumed.resumed, resumed.sessions_ok);
	/* The resumed rounds alone: the mix minus the first (full) round at the full rate. */
	if (full.seconds > 0 && resumed.resumed > 0 && full.sessions_ok > 0) {
		double full_part = (double)count / ((double)full.sessions_ok / full.seconds);
		double rest = resumed.seconds - full_part;

		if (rest > 0)
			printf("wan resumed only (estimated):               %8.1f/s, ratio to raw "
				"%.2f\n", (double)resumed.resumed / rest,
				(double)resumed.resumed / rest / raw_res);
	}
	cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
		ru0.ru_stime.tv_sec) * 1e6 + (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
		ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
	cpu_us = full.sessions_ok > 0 ? cpu_us / (double)full.sessions_ok : 0.0;
	sigs = (unsigned long long)(sk1.signed_ok - sk0.signed_ok);
	rtt_us = sigs > 0 ? (double)(sk1.round_trip_us - sk0.round_trip_us) / (double)sigs : 0.0;
	printf("full round: CPU of this process (wan + simulator) %.0f us per handshake; "
		"signer round trips %llu, mean %.1f us (0: the wan's key is a file)\n", cpu_us,
		sigs, rtt_us);
	sign_compare(home, dirs[0], sc);
	printf("ECDSA brainpoolP256r1 signature, sequential: in-process %.1f us (CPU %.1f us); "
		"through the signer %.1f us round trip (client CPU %.1f us)\n", sc[0], sc[1], sc[2],
		sc[3]);
	printf("ratio wan/raw: full %.2f, resumed-mix %.2f; failed sessions: %zu\n",
		full.seconds > 0 ? (double)full.sessions_ok / full.seconds / raw_full : 0.0,
		resumed.seconds > 0 ? (double)resumed.sessions_ok / resumed.seconds / raw_res : 0.0,
		full.sessions_failed + resumed.sessions_failed);
	/* The closing line is for bench/run-all: key=value, nothing else on it. */
	{
		double full_rate = full.seconds > 0 ? (double)full.sessions_ok / full.seconds : 0.0;
		double mix_rate = resumed.seconds > 0 ? (double)resumed.sessions_ok /
			resumed.seconds : 0.0;
		double res_only = 0.0;

		if (full_rate > 0 && resumed.resumed > 0 &&
		    resumed.seconds > (double)count / full_rate)
			res_only = (double)resumed.resumed / (resumed.seconds - (double)count /
				full_rate);
		printf("bench_handshake: full_per_s=%.1f resumed_mix_per_s=%.1f "
			"resumed_per_s=%.1f raw_full_per_s=%.1f raw_resumed_per_s=%.1f failed=%zu "
			"cpu_us_per_full=%.0f signer_sigs=%llu signer_rtt_us=%.1f "
			"local_sign_us=%.1f signer_sign_us=%.1f signer_client_cpu_us=%.1f "
			"resumed_direct_per_s=%.1f resumed_cpu_us=%.0f raw_tcp_full_per_s=%.1f "
			"raw_tcp_resumed_per_s=%.1f raw_resumed_cpu_us=%.0f "
			"raw_tcp_resumed_cpu_us=%.0f raw_id_resumed_per_s=%.1f "
			"raw_id_resumed_cpu_us=%.0f raw_2t_full_per_s=%.1f raw_cpu_us_per_full=%.0f "
			"raw_2t_cpu_us_per_full=%.0f raw_2p_full_per_s=%.1f "
			"raw_2p_cpu_us_per_full=%.0f\n",
			full_rate, mix_rate, res_only, raw_full, raw_res,
			full.sessions_failed + resumed.sessions_failed, cpu_us, sigs, rtt_us,
			sc[0], sc[2], sc[3], res_direct, res_cpu_us, raw_tcp_full, raw_tcp_res,
			raw_res_cpu, raw_tcp_res_cpu, raw_id, raw_id_cpu, raw_2t_full, raw_full_cpu,
			raw_2t_cpu, raw_2p_full, raw_2p_cpu);
	}
	status = full.sessions_failed + resumed.sessions_failed + one.sessions_failed +
		many.sessions_failed == 0 && failures == 0 ? 0 : 1;
out:
	if (lfd >= 0)
		close(lfd);
	wan_server_stop(srv);
	SSL_SESSION_free(sess);
	SSL_SESSION_free(sess_id);
	SSL_CTX_free(raw.srv);
	SSL_CTX_free(raw.cli);
	for (long i = 0; dirs != NULL && i < count; i++)
		free(dirs[i]);
	free(dirs);
	tw_home_free(home);
	return status;
}
