/*
 * test_sandbox.c: unit tests of src/base/sandbox.c. Every sandbox step is irreversible,
 * so each case runs in a forked child and reports through its exit status (or dies by
 * SIGSYS, which is what the parent checks for forbidden system calls).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/home.h"
#include "base/sandbox.h"
#include "base/util.h"
#include "store/store.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tw-sandbox-XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int rm_rf(const char *path)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf(tmpdir) == 0 ? 0 : -1;
}

/* Run fn in a child; its wait status. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Functions, not macros: the status expression (a child run) must be evaluated once. */
static bool EXITED_OK(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool KILLED_BY_SIGSYS(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static void test_service_names(void **state)
{
	enum tw_sandbox_service s;
	struct tw_error err;

	(void)state;
	assert_int_equal(tw_sandbox_service_parse("wan", &s, &err), TW_OK);
	assert_int_equal(s, TW_SANDBOX_WAN);
	assert_string_equal(tw_sandbox_service_name(TW_SANDBOX_SIGNER), "signer");
	assert_string_equal(tw_sandbox_default_user(TW_SANDBOX_API), "torwart-api");
	assert_int_equal(tw_sandbox_service_parse("supervisor", &s, &err), TW_E_INVALID);
	assert_non_null(strstr(err.message, "signer, wan, api or worker"));
	assert_int_equal(tw_sandbox_service_parse(NULL, &s, &err), TW_E_INVALID);
}

static int child_harden(void *arg)
{
	struct rlimit rl;
	struct tw_error err;

	(void)arg;
	if (tw_sandbox_harden(&err) != TW_OK)
		return 10;
	if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
		return 11;
	if (!tw_sandbox_sanitized() && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 12;
	return 0;
}

static void test_harden(void **state)
{
	(void)state;
	assert_true(EXITED_OK(in_child(child_harden, NULL)));
}

/* A system call no allow-list has: mount(2). */
static int child_forbidden(void *arg)
{
	struct tw_error err;

	if (tw_sandbox_seccomp(*(enum tw_sandbox_service *)arg, false, &err) != TW_OK)
		return 10;
	syscall(SYS_mount, "none", tmpdir, "tmpfs", 0UL, NULL);
	return 0;   /* still alive: the filter let it through */
}

static void test_seccomp_kills_forbidden(void **state)
{
	(void)state;
	for (int s = 0; s < TW_SANDBOX_SERVICE_COUNT; s++) {
		enum tw_sandbox_service svc = (enum tw_sandbox_service)s;
		int st = in_child(child_forbidden, &svc);

		if (!KILLED_BY_SIGSYS(st))
			fail_msg("%s: mount(2) did not kill the process (status 0x%x)",
				tw_sandbox_service_name(svc), st);
	}
}

static void *thread_main(void *arg)
{
	return arg;
}

/*
 * What every service does after its filter: files, a thread, sockets, and the SQLite
 * store in WAL mode with its migrations (the real library code, not a stand-in).
 */
static int child_allowed(void *arg)
{
	enum tw_sandbox_service svc = *(enum tw_sandbox_service *)arg;
	struct tw_store *store = NULL;
	struct tw_error err;
	pthread_t th;
	void *ret = NULL;
	char path[128], *url;
	int fd, sk, rc = 0;

	if (tw_sandbox_seccomp(svc, false, &err) != TW_OK)
		return 10;
	snprintf(path, sizeof(path), "%s/allowed-%d", tmpdir, (int)svc);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
	    write(fd, "x", 1) != 1 || close(fd) != 0 || unlink(path) != 0)
		return 11;
	if (pthread_create(&th, NULL, thread_main, &rc) != 0 || pthread_join(th, &ret) != 0 ||
	    ret != &rc)
		return 12;
	if ((sk = socket(svc == TW_SANDBOX_SIGNER ? AF_UNIX : AF_INET6,
	    SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 || close(sk) != 0)
		return 13;
	if ((url = tw_asprintf("%s/store-%d.db", tmpdir, (int)svc)) == NULL ||
	    store_open(url, &store, &err) != TW_OK || store_migrate(store, &err) != TW_OK)
		return 14;
	store_close(store);
	free(url);
	return 0;
}

static void test_seccomp_allows_service_work(void **state)
{
	(void)state;
	for (int s = 0; s < TW_SANDBOX_SERVICE_COUNT; s++) {
		enum tw_sandbox_service svc = (enum tw_sandbox_service)s;
		int st = in_child(child_allowed, &svc);

		if (!EXITED_OK(st))
			fail_msg("%s: ordinary work under the filter failed (status 0x%x)",
				tw_sandbox_service_name(svc), st);
	}
}

/* The wan may start threads but no processes: fork() and execve() kill it. */
static int child_fork(void *arg)
{
	struct tw_error err;
	pid_t pid;

	if (tw_sandbox_seccomp(*(enum tw_sandbox_service *)arg, false, &err) != TW_OK)
		return 10;
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return 0;
}

static int child_exec(void *arg)
{
	struct tw_error err;
	char *argv[] = { "true", NULL };

	if (tw_sandbox_seccomp(*(enum tw_sandbox_service *)arg, false, &err) != TW_OK)
		return 10;
	execv("/bin/true", argv);
	return 11;
}

/* clone3 hides its flags from seccomp: it answers ENOSYS so glibc uses clone. */
static int child_clone3(void *arg)
{
	struct tw_error err;

	if (tw_sandbox_seccomp(*(enum tw_sandbox_service *)arg, false, &err) != TW_OK)
		return 10;
	return syscall(SYS_clone3, NULL, 0) == -1 && errno == ENOSYS ? 0 : 11;
}

/* The signer has no business with the network: an AF_INET socket kills it. */
static int child_inet(void *arg)
{
	struct tw_error err;
	int fd;

	if (tw_sandbox_seccomp(*(enum tw_sandbox_service *)arg, false, &err) != TW_OK)
		return 10;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 11;
	close(fd);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0)
		close(fd);
	return 0;
}

static void test_seccomp_signer_no_network(void **state)
{
	enum tw_sandbox_service signer = TW_SANDBOX_SIGNER, wan = TW_SANDBOX_WAN;

	(void)state;
	assert_true(KILLED_BY_SIGSYS(in_child(child_inet, &signer)));
	assert_true(EXITED_OK(in_child(child_inet, &wan)));
}

static void test_seccomp_processes(void **state)
{
	enum tw_sandbox_service wan = TW_SANDBOX_WAN, api = TW_SANDBOX_API;

	(void)state;
	assert_true(EXITED_OK(in_child(child_clone3, &wan)));
	/* The api runs each operator command as a `torwart` process. */
	assert_true(EXITED_OK(in_child(child_fork, &api)));
	assert_true(EXITED_OK(in_child(child_exec, &api)));
	if (tw_sandbox_sanitized()) {
		print_message("sanitizer build: fork/execve are allowed everywhere (LSan, "
			"symbolizer); the wan checks are skipped\n");
		return;
	}
	assert_true(KILLED_BY_SIGSYS(in_child(child_fork, &wan)));
	assert_true(KILLED_BY_SIGSYS(in_child(child_exec, &wan)));
}

/* Only under allowed/ may the process write; nothing may be executed. */
static int child_landlock(void *arg)
{
	char allowed[96], other[96], file[128];
	const char *rw[] = { allowed, NULL };
	char *argv[] = { "true", NULL };
	struct tw_error err;
	bool applied = false;
	int fd;

	(void)arg;
	snprintf(allowed, sizeof(allowed), "%s/ll-allowed", tmpdir);
	snprintf(other, sizeof(other), "%s/ll-other", tmpdir);
	if (mkdir(allowed, 0700) != 0 || mkdir(other, 0700) != 0)
		return 10;
	if (tw_sandbox_landlock(rw, NULL, &applied, &err) != TW_OK || !applied)
		return 11;
	snprintf(file, sizeof(file), "%s/f", allowed);
	if ((fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return 12;
	close(fd);
	snprintf(file, sizeof(file), "%s/f", other);
	if (open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EACCES)
		return 13;
	if (mkdir(file, 0700) == 0 || errno != EACCES)
		return 14;
	if (!tw_sandbox_sanitized()) {
		execv("/bin/true", argv);
		if (errno != EACCES)
			return 15;
	}
	return 0;
}

static void test_landlock(void **state)
{
	int st;

	(void)state;
	if (tw_sandbox_landlock_abi() == 0) {
		print_message("this kernel has no Landlock: skipped\n");
		skip();
	}
	st = in_child(child_landlock, NULL);
	if (!EXITED_OK(st))
		fail_msg("landlock child failed with status 0x%x", st);
}

/* After the drop, a root-only file is out of reach and root cannot come back. */
static int child_drop(void *arg)
{
	const char *secret = arg;
	struct tw_error err;

	if (tw_sandbox_drop_user("nobody", &err) != TW_OK)
		return 10;
	if (open(secret, O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 11;
	if (setuid(0) == 0 || getuid() == 0)
		return 12;
	return 0;
}

static void test_drop_user(void **state)
{
	struct tw_error err;
	char *secret;

	(void)state;
	assert_int_equal(tw_sandbox_drop_user("torwart-no-such-user", &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "useradd"));
	assert_int_equal(tw_sandbox_drop_user("root", &err), TW_E_CONFIG);
	if (geteuid() != 0 || getpwnam("nobody") == NULL) {
		print_message("not root or no user nobody: the drop itself is skipped\n");
		return;
	}
	secret = tw_asprintf("%s/pins", tmpdir);
	assert_non_null(secret);
	assert_int_equal(tw_write_file(secret, "1234\n", 5, 0600, true, &err), TW_OK);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	assert_true(EXITED_OK(in_child(child_drop, secret)));
	free(secret);
}

static struct tw_home *make_home(const char *name, const char *conf)
{
	struct tw_home *home = NULL;
	struct tw_error err;
	char *dir = tw_asprintf("%s/%s", tmpdir, name), *path;

	assert_non_null(dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	path = tw_asprintf("%s/torwart.conf", dir);
	assert_int_equal(tw_write_file(path, conf, strlen(conf), 0600, true, &err), TW_OK);
	assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
	free(path);
	free(dir);
	return home;
}

static void test_privsep_config(void **state)
{
	struct tw_home *partial, *full, *none;

	(void)state;
	none = make_home("h-none", "[store]\nurl = store.db\n");
	partial = make_home("h-partial", "[privsep]\nsigner = a\nwan = b\n");
	full = make_home("h-full", "[privsep]\nsigner = a\nwan = b\napi = c\nworker = d\n");
	assert_false(tw_privsep_enabled(none));
	assert_null(tw_privsep_user(none, TW_SANDBOX_WAN));
	/* A half-written section is not privsep: every service needs its user. */
	assert_false(tw_privsep_enabled(partial));
	assert_true(tw_privsep_enabled(full));
	assert_string_equal(tw_privsep_user(full, TW_SANDBOX_API), "c");
	tw_home_free(none);
	tw_home_free(partial);
	tw_home_free(full);
}

/* The whole entry in a one-user home: it works, and /proc says Seccomp 2. */
static int child_enter(void *arg)
{
	struct tw_home *home = arg;
	struct tw_error err;
	char *status = NULL;
	size_t len = 0;

	if (tw_sandbox_enter(home, TW_SANDBOX_WORKER, &err) != TW_OK) {
		fprintf(stderr, "enter: %s\n", err.message);
		return 10;
	}
	if (tw_read_file("/proc/self/status", 1 << 16, (unsigned char **)&status, &len,
	    &err) != TW_OK)
		return 11;
	if (strstr(status, "Seccomp:\t2") == NULL || strstr(status, "NoNewPrivs:\t1") == NULL)
		return 12;
	free(status);
	return 0;
}

/* A privsep home whose users do not exist refuses to start (root: names useradd). */
static int child_enter_missing_users(void *arg)
{
	struct tw_error err;
	tw_rc rc = tw_sandbox_enter(arg, TW_SANDBOX_WAN, &err);

	if (geteuid() == 0)
		return rc == TW_E_CONFIG && strstr(err.message, "useradd") != NULL ? 0 : 1;
	return rc == TW_E_DENIED && strstr(err.message, "start torwartd as root") ? 0 : 1;
}

static int child_enter_bad_mode(void *arg)
{
	struct tw_error err;

	return tw_sandbox_enter(arg, TW_SANDBOX_WAN, &err) == TW_E_CONFIG &&
		strstr(err.message, "seccomp") != NULL ? 0 : 1;
}

static void test_enter(void **state)
{
	struct tw_home *dev, *ghost, *bad;
	struct tw_error err;

	(void)state;
	dev = make_home("h-dev", "[log]\nlevel = warn\n");
	ghost = make_home("h-ghost", "[privsep]\nsigner = tw-ghost-s\nwan = tw-ghost-w\n"
		"api = tw-ghost-a\nworker = tw-ghost-k\n");
	bad = make_home("h-bad", "[privsep]\nseccomp = off\n");
	/* The supervisor checks the same before it forks anything. */
	assert_int_equal(tw_privsep_check_supervisor(dev, &err), TW_OK);
	assert_int_not_equal(tw_privsep_check_supervisor(ghost, &err), TW_OK);
	if (geteuid() == 0)
		assert_non_null(strstr(err.message, "tw-ghost-s ([privsep] signer) does not exist"));
	else
		assert_non_null(strstr(err.message, "as root"));
	assert_true(EXITED_OK(in_child(child_enter, dev)));
	assert_true(EXITED_OK(in_child(child_enter_missing_users, ghost)));
	assert_true(EXITED_OK(in_child(child_enter_bad_mode, bad)));
	tw_home_free(dev);
	tw_home_free(ghost);
	tw_home_free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_names),
		cmocka_unit_test(test_harden),
		cmocka_unit_test(test_seccomp_kills_forbidden),
		cmocka_unit_test(test_seccomp_allows_service_work),
		cmocka_unit_test(test_seccomp_processes),
		cmocka_unit_test(test_seccomp_signer_no_network),
		cmocka_unit_test(test_landlock),
		cmocka_unit_test(test_drop_user),
		cmocka_unit_test(test_privsep_config),
		cmocka_unit_test(test_enter),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
