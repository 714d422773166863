/*
 * torwartd: runs one Torwart service, or with `all` forks and supervises all four
 * (signer first, since the others ask it for signatures).
 *
 * Supervision: a child that exits unexpectedly is restarted after a back-off that doubles
 * from 1 s up to 30 s and resets once the child has stayed up for 60 s. SIGTERM/SIGINT
 * are forwarded to every child; the supervisor waits up to 10 s, then SIGKILLs.
 *
 * SIGHUP (a terminal hang-up, `kill -HUP`, a reload) must not end the stack: the
 * supervisor forwards it to the wan, which reloads its TLS certificate on it
 * (wan_tls_reload.c), and to the worker, which reloads its per-tenant [renewal] values
 * (renewal.h, renewal_worker_reload), and otherwise ignores it. signer and api have
 * nothing to reload and ignore SIGHUP; the wan keeps it blocked from the fork on, so a
 * SIGHUP that arrives while it starts waits for its signal loop instead of killing it.
 *
 * Privilege separation (base/sandbox.h): every service process, forked by `all` or
 * started alone, enters its sandbox before the service sets up: not dumpable, its own
 * user in a [privsep] home, Landlock, its seccomp allow-list. The supervisor stays root
 * only to fork, reap and raise alerts; a child killed by SIGSYS broke its allow-list
 * and is raised as a sandbox-violation alert besides the outage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "audit/alert.h"
#include "base/home.h"
#include "base/log.h"
#include "base/sandbox.h"
#include "base/util.h"
#include "crypto/signer.h"
#include "crypto/tls_signer_key.h"
#include "signer/signer_server.h"
#include "store/store.h"
#include "wan/wan.h"
#include "worker/worker.h"

typedef tw_rc (*service_main)(const struct tw_home *home, struct tw_error *err);

struct service {
	const char *name;
	service_main run;
	pid_t pid;
	int64_t started_ms;
	int64_t restart_at_ms;     /* 0 = not waiting for a restart */
	long backoff_ms;
};

static struct service services[] = {
	{ "signer", signer_run, 0, 0, 0, 1000 },
	{ "wan", wan_run, 0, 0, 0, 1000 },
	{ "api", api_run, 0, 0, 0, 1000 },
	{ "worker", worker_run, 0, 0, 0, 1000 },
};
#define SERVICE_COUNT (sizeof(services) / sizeof(services[0]))

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t child_changed;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_child(int sig)
{
	(void)sig;
	child_changed = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_requested = 1;
}

/* --log-level wins over [log] level; anything unparsable means info. */
static int cli_log_level = -1;

static enum tw_log_level log_level_for(const struct tw_home *home)
{
	int level = cli_log_level;

	if (level < 0)
		level = tw_log_level_parse(tw_config_get_or(home->conf, "log", "level", "info"));
	return level < 0 ? TW_LOG_INFO : (enum tw_log_level)level;
}

static void usage(FILE *out)
{
	fputs("usage: torwartd --home DIR {all|signer|wan|api|worker}\n"
	      "\n"
	      "Runs Torwart's services from the home created by `torwart init`.\n"
	      "  all      fork and supervise signer, wan, api and worker (restart on crash\n"
	      "           with back-off; SIGTERM/SIGINT stops them all cleanly, SIGHUP\n"
	      "           is passed to the wan, which reloads its TLS certificate, and to\n"
	      "           the worker, which reloads its per-tenant [renewal] values)\n"
	      "  signer   the only process that opens the key token (Unix socket)\n"
	      "  wan      SMGW-facing TLS service (TR-03116-3 profile)\n"
	      "  api      operator API (health/status today)\n"
	      "  worker   schedules (admin-log verification today)\n"
	      "\n"
	      "Each service runs under its seccomp allow-list, Landlock and without core\n"
	      "dumps; in a home made by `torwart init --system` ([privsep] in torwart.conf)\n"
	      "start it as root: each service becomes its own user (docs/security.md).\n"
	      "\n"
	      "options:\n"
	      "  --home DIR       the Torwart home (required)\n"
	      "  --log-level L    debug|info|warn|error (default: [log] level, else info)\n"
	      "  -h, --help       this text\n"
	      "exit status: 0 clean stop, 1 error (one line on stderr says what to do), 2 usage\n",
	      out);
}

static int run_one(const char *name, const struct tw_home *home)
{
	struct tw_error err;

	tw_error_clear(&err);
	tw_log_init(name, log_level_for(home));
	/* SIGHUP: the wan's reload (held blocked until wan_run waits for it, so one sent
	 * during the start-up is not fatal); the worker ignores it until its event loop
	 * takes it over (worker.c: the renewal values); signer and api have nothing to
	 * reload. */
	if (strcmp(name, "wan") == 0) {
		sigset_t hup;

		sigemptyset(&hup);
		sigaddset(&hup, SIGHUP);
		sigprocmask(SIG_BLOCK, &hup, NULL);
	} else
		signal(SIGHUP, SIG_IGN);
	for (size_t i = 0; i < SERVICE_COUNT; i++) {
		enum tw_sandbox_service sb;

		if (strcmp(services[i].name, name) != 0)
			continue;
		if (tw_sandbox_service_parse(name, &sb, &err) != TW_OK ||
		    tw_sandbox_enter(home, sb, &err) != TW_OK) {
			fprintf(stderr, "torwartd %s: cannot enter the sandbox: %s\n", name,
				err.message);
			return 1;
		}
#ifdef TORWART_TEST_HOOKS
		/* Test builds only: prove that a forbidden system call kills the service and
		 * that the supervisor raises it (tests/integration/privsep.sh). */
		{
			const char *hook = getenv("TORWART_TEST_SECCOMP_VIOLATION");

			if (hook != NULL && strcmp(hook, name) == 0) {
				tw_warn("test hook: calling mount(2), which no allow-list permits");
				syscall(SYS_mount, "none", "/", "tmpfs", 0UL, NULL);
				tw_err("test hook: mount(2) returned; the seccomp filter is missing");
				return 1;
			}
		}
#endif
		/* TLS keys are the signer's: handshake signatures go to its socket. */
		if (tls_signer_key_use_home(home, &err) != TW_OK ||
		    services[i].run(home, &err) != TW_OK) {
			fprintf(stderr, "torwartd %s: %s\n", name, err.message);
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "torwartd: unknown service '%s'; use all, signer, wan, api or worker\n",
		name);
	return 2;
}

static pid_t start_child(struct service *svc, const struct tw_home *home)
{
	pid_t pid = fork();

	if (pid < 0) {
		tw_err("cannot fork %s: %s", svc->name, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGHUP, SIG_DFL);   /* run_one decides per service */
		_exit(run_one(svc->name, home));
	}
	svc->pid = pid;
	svc->started_ms = tw_monotonic_ms();
	svc->restart_at_ms = 0;
	tw_info("started %s (pid %ld)", svc->name, (long)pid);
	return pid;
}

/* The signer must accept connections before the others start asking it. */
static void wait_for_signer_socket(const struct tw_home *home)
{
	char *path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);

	for (int i = 0; path != NULL && i < 100 && !stop_requested; i++) {
		if (tw_path_exists(path))
			break;
		usleep(50 * 1000);
	}
	free(path);
}

/*
 * A service that dies is an outage (issue 5 alerts): queue an alert for the system
 * administrators in the store, which the worker delivers (once it runs again). The
 * supervisor opens the store only for this rare moment.
 */
static void outage_alert(const struct tw_home *home, enum alert_kind kind,
	const char *service, const char *text)
{
	struct tw_store *store = NULL;
	struct tw_error err;
	char *url = tw_home_store_url(home);

	if (url == NULL || store_open(url, &store, &err) != TW_OK ||
	    alert_raise(store, kind, NULL, service, text, &err) != TW_OK)
		tw_err("cannot raise the %s alert for %s: %s", alert_kind_name(kind), service,
			url == NULL ? "out of memory" : err.message);
	store_close(store);
	free(url);
}

static void reap_children(const struct tw_home *home)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < SERVICE_COUNT; i++) {
			struct service *svc = &services[i];
			int64_t now = tw_monotonic_ms();

			if (svc->pid != pid)
				continue;
			svc->pid = 0;
			if (stop_requested)
				break;
			if (now - svc->started_ms >= 60000)
				svc->backoff_ms = 1000;
			{
				char text[320];

				if (WIFEXITED(status))
					snprintf(text, sizeof(text), "%s exited with status %d; restarting "
						"in %ld ms", svc->name, WEXITSTATUS(status), svc->backoff_ms);
				else
					snprintf(text, sizeof(text), "%s killed by signal %d; restarting "
						"in %ld ms", svc->name, WIFSIGNALED(status) ?
						WTERMSIG(status) : 0, svc->backoff_ms);
				tw_err("%s", text);
				outage_alert(home, ALERT_OUTAGE, svc->name, text);
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) {
					snprintf(text, sizeof(text), "%s made a system call outside its "
						"seccomp allow-list and was killed (SIGSYS): an attack or "
						"a missing allow-list entry; see the kernel log (audit "
						"type=SECCOMP) for the call", svc->name);
					tw_err("%s", text);
					outage_alert(home, ALERT_SANDBOX, svc->name, text);
				}
			}
			svc->restart_at_ms = now + svc->backoff_ms;
			svc->backoff_ms = svc->backoff_ms * 2 > 30000 ? 30000 : svc->backoff_ms * 2;
		}
	}
}

/* SIGHUP to the supervisor: the wan reloads its TLS certificate, the worker its
 * per-tenant renewal values; nobody stops. */
static void forward_reload(void)
{
	for (size_t i = 0; i < SERVICE_COUNT; i++) {
		const char *what = strcmp(services[i].name, "wan") == 0 ? "its TLS certificate" :
			strcmp(services[i].name, "worker") == 0 ? "its [renewal] values" : NULL;

		if (what == NULL)
			continue;
		if (services[i].pid > 0 && kill(services[i].pid, SIGHUP) == 0)
			tw_info("SIGHUP: passed to %s (pid %ld) to reload %s", services[i].name,
				(long)services[i].pid, what);
		else
			tw_warn("SIGHUP: %s is not running; it loads the current %s when it "
				"restarts", services[i].name, strcmp(services[i].name, "wan") == 0 ?
				"certificate" : "configuration");
	}
}

static int supervise(const struct tw_home *home)
{
	struct sigaction sa;
	int64_t deadline;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);

	tw_info("supervisor starting services for home %s", home->dir);
	for (size_t i = 0; i < SERVICE_COUNT && !stop_requested; i++) {
		if (start_child(&services[i], home) < 0)
			stop_requested = 1;
		if (i == 0)
			wait_for_signer_socket(home);
	}
	while (!stop_requested) {
		int64_t now;

		usleep(100 * 1000);
		if (child_changed) {
			child_changed = 0;
			reap_children(home);
		}
		if (reload_requested) {
			reload_requested = 0;
			forward_reload();
		}
		now = tw_monotonic_ms();
		for (size_t i = 0; i < SERVICE_COUNT && !stop_requested; i++) {
			struct service *svc = &services[i];

			if (svc->pid == 0 && svc->restart_at_ms != 0 && now >= svc->restart_at_ms)
				start_child(svc, home);
		}
	}
	tw_info("stopping services");
	/* Stop in reverse order: signer last, so the others can finish their signatures. */
	for (size_t i = SERVICE_COUNT; i-- > 0;)
		if (services[i].pid > 0)
			kill(services[i].pid, SIGTERM);
	deadline = tw_monotonic_ms() + 10000;
	for (;;) {
		int alive = 0;
		int status;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (size_t i = 0; i < SERVICE_COUNT; i++)
				if (services[i].pid == pid)
					services[i].pid = 0;
		for (size_t i = 0; i < SERVICE_COUNT; i++)
			alive += services[i].pid > 0;
		if (alive == 0)
			break;
		if (tw_monotonic_ms() > deadline) {
			for (size_t i = 0; i < SERVICE_COUNT; i++)
				if (services[i].pid > 0) {
					tw_err("%s did not stop in 10 s; killing it", services[i].name);
					kill(services[i].pid, SIGKILL);
				}
			deadline = tw_monotonic_ms() + 2000;
		}
		usleep(50 * 1000);
	}
	tw_info("all services stopped");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tw_error err;
	struct tw_home *home = NULL;
	const char *home_dir = NULL, *level = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			home_dir = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || home_dir == NULL) {
		fprintf(stderr, "torwartd: need --home DIR and one service "
			"(all|signer|wan|api|worker); see torwartd --help\n");
		return 2;
	}
	if (level != NULL && tw_log_level_parse(level) < 0) {
		fprintf(stderr, "torwartd: unknown log level '%s'; use debug, info, warn or error\n",
			level);
		return 2;
	}
	if (tw_home_open(home_dir, &home, &err) != TW_OK) {
		fprintf(stderr, "torwartd: %s\n", err.message);
		return 1;
	}
	if (level != NULL)
		cli_log_level = tw_log_level_parse(level);
	tw_log_init("torwartd", log_level_for(home));
	if (strcmp(argv[optind], "all") == 0) {
		if (tw_privsep_check_supervisor(home, &err) != TW_OK) {
			fprintf(stderr, "torwartd: %s\n", err.message);
			tw_home_free(home);
			return 1;
		}
		rc = supervise(home);
	} else
		rc = run_one(argv[optind], home);
	tw_home_free(home);
	return rc;
}
