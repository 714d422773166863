/*
 * sandbox.c: user drop, Landlock and seccomp for torwartd's services (see sandbox.h).
 *
 * The seccomp allow-lists are written as system call names and resolved by libseccomp
 * for the running architecture, so a name the architecture lacks (open on aarch64) is
 * skipped rather than an error. They cover what glibc, libevent (epoll), OpenSSL,
 * SQLite (WAL, fchown as root), libp11 with SoftHSM2 (mlock) and the threads use.
 */
#include "base/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TW_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TW_SANITIZED 1
#endif
#endif
#ifndef TW_SANITIZED
#define TW_SANITIZED 0
#endif

static const char *const service_names[TW_SANDBOX_SERVICE_COUNT] = {
	"signer", "wan", "api", "worker",
};
static const char *const default_users[TW_SANDBOX_SERVICE_COUNT] = {
	"torwart-signer", "torwart-wan", "torwart-api", "torwart-worker",
};

bool tw_sandbox_sanitized(void)
{
	return TW_SANITIZED;
}

tw_rc tw_sandbox_service_parse(const char *name, enum tw_sandbox_service *out,
	struct tw_error *err)
{
	for (int i = 0; i < TW_SANDBOX_SERVICE_COUNT; i++)
		if (name != NULL && strcmp(name, service_names[i]) == 0) {
			*out = (enum tw_sandbox_service)i;
			return TW_OK;
		}
	return tw_error_set(err, TW_E_INVALID, "unknown service '%s'; use signer, wan, api or "
		"worker", name == NULL ? "" : name);
}

const char *tw_sandbox_service_name(enum tw_sandbox_service svc)
{
	return (unsigned)svc < TW_SANDBOX_SERVICE_COUNT ? service_names[svc] : "?";
}

const char *tw_sandbox_default_user(enum tw_sandbox_service svc)
{
	return (unsigned)svc < TW_SANDBOX_SERVICE_COUNT ? default_users[svc] : NULL;
}

const char *tw_privsep_user(const struct tw_home *home, enum tw_sandbox_service svc)
{
	const char *v;

	if ((unsigned)svc >= TW_SANDBOX_SERVICE_COUNT)
		return NULL;
	v = tw_config_get(home->conf, "privsep", service_names[svc]);
	return v != NULL && *v != '\0' ? v : NULL;
}

bool tw_privsep_enabled(const struct tw_home *home)
{
	for (int i = 0; i < TW_SANDBOX_SERVICE_COUNT; i++)
		if (tw_privsep_user(home, (enum tw_sandbox_service)i) == NULL)
			return false;
	return true;
}

tw_rc tw_privsep_check_supervisor(const struct tw_home *home, struct tw_error *err)
{
	if (!tw_privsep_enabled(home))
		return TW_OK;
	if (geteuid() != 0)
		return tw_error_set(err, TW_E_DENIED, "this home runs each service as its own user "
			"([privsep] in torwart.conf): start `torwartd all` as root (the services "
			"drop to their users), or each service alone as its user");
	for (int i = 0; i < TW_SANDBOX_SERVICE_COUNT; i++) {
		const char *user = tw_privsep_user(home, (enum tw_sandbox_service)i);
		struct passwd *pw = getpwnam(user);

		if (pw == NULL)
			return tw_error_set(err, TW_E_CONFIG, "user %s ([privsep] %s) does not exist; "
				"create the service users with `torwart init --system` or `useradd "
				"--system --no-create-home --shell /usr/sbin/nologin --gid "
				TW_PRIVSEP_GROUP " %s` (docs/operations.md, \"Service users\")", user,
				service_names[i], user);
		if (pw->pw_uid == 0)
			return tw_error_set(err, TW_E_CONFIG, "[privsep] %s names %s, which is root; "
				"each service needs its own unprivileged user", service_names[i], user);
	}
	return TW_OK;
}

tw_rc tw_sandbox_harden(struct tw_error *err)
{
	struct rlimit none = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &none) != 0)
		return tw_error_set(err, TW_E_IO, "cannot set RLIMIT_CORE 0: %s", strerror(errno));
	/* LeakSanitizer ptrace()s the process's own threads at exit, which a non-dumpable
	 * process forbids; sanitizer builds are never production builds. */
	if (!TW_SANITIZED && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return tw_error_set(err, TW_E_IO, "cannot clear PR_SET_DUMPABLE: %s",
			strerror(errno));
	return TW_OK;
}

tw_rc tw_sandbox_drop_user(const char *user, struct tw_error *err)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL)
		return tw_error_set(err, TW_E_CONFIG, "user %s does not exist; create the service "
			"users with `torwart init --system` or `useradd --system --no-create-home "
			"--shell /usr/sbin/nologin --gid " TW_PRIVSEP_GROUP " %s` "
			"(docs/operations.md, \"Service users\")", user, user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		return tw_error_set(err, TW_E_CONFIG, "[privsep] names %s, which is root; each "
			"service needs its own unprivileged user", user);
	if (initgroups(user, gid) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0)
		return tw_error_set(err, TW_E_IO, "cannot become user %s: %s (torwartd drops to "
			"the service users only when started as root)", user, strerror(errno));
	/* No way back: a process that could regain root has not dropped anything. */
	if (setuid(0) == 0 || geteuid() == 0)
		return tw_error_set(err, TW_E_INTERNAL, "still able to regain root after becoming "
			"%s; refusing to run", user);
	return TW_OK;
}

/* ---- Landlock ------------------------------------------------------------------ */

int tw_sandbox_landlock_abi(void)
{
	long abi = syscall(__NR_landlock_create_ruleset, NULL, 0,
		LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static tw_rc landlock_add(int ruleset, const char *path, uint64_t allowed, uint64_t handled,
	struct tw_error *err)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	tw_rc rc = TW_OK;
	int fd;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return TW_OK;   /* not there: nothing to allow */
	if (fstat(fd, &st) != 0) {
		close(fd);
		return tw_error_set(err, TW_E_IO, "landlock: cannot stat %s: %s", path,
			strerror(errno));
	}
	/* Files take only the file rights; directory-only rights make the rule invalid. */
	if (!S_ISDIR(st.st_mode))
		allowed &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = allowed & handled;
	pb.parent_fd = fd;
	if (pb.allowed_access != 0 &&
	    syscall(__NR_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) != 0)
		rc = tw_error_set(err, TW_E_IO, "landlock: cannot add a rule for %s: %s", path,
			strerror(errno));
	close(fd);
	return rc;
}

tw_rc tw_sandbox_landlock(const char *const *rw, const char *const *exec, bool *applied,
	struct tw_error *err)
{
	const uint64_t write_rights = LANDLOCK_ACCESS_FS_WRITE_FILE |
		LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_REFER |
		LANDLOCK_ACCESS_FS_TRUNCATE;
	struct landlock_ruleset_attr attr;
	int abi = tw_sandbox_landlock_abi();
	int ruleset = -1;
	uint64_t handled;
	tw_rc rc = TW_OK;

	*applied = false;
	if (abi <= 0)
		return TW_OK;
	/* Reads stay with the file modes (the service users); Landlock confines writes and
	 * execution. REFER exists from ABI 2, TRUNCATE from ABI 3. */
	handled = write_rights;
	if (abi < 2)
		handled &= ~LANDLOCK_ACCESS_FS_REFER;
	if (abi < 3)
		handled &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
	/* The sanitizers' symbolizer is exec'ed on a report: leave execution alone there. */
	if (!TW_SANITIZED)
		handled |= LANDLOCK_ACCESS_FS_EXECUTE;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = handled;
	if ((ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, sizeof(attr), 0)) < 0)
		return tw_error_set(err, TW_E_IO, "landlock: cannot create a ruleset: %s",
			strerror(errno));
	for (size_t i = 0; rw != NULL && rw[i] != NULL && rc == TW_OK; i++)
		rc = landlock_add(ruleset, rw[i], write_rights, handled, err);
	for (size_t i = 0; exec != NULL && exec[i] != NULL && rc == TW_OK; i++)
		rc = landlock_add(ruleset, exec[i], LANDLOCK_ACCESS_FS_EXECUTE, handled, err);
	if (rc != TW_OK)
		goto out;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		rc = tw_error_set(err, TW_E_IO, "cannot set no_new_privs: %s", strerror(errno));
		goto out;
	}
	if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) {
		rc = tw_error_set(err, TW_E_IO, "landlock: cannot restrict this process: %s",
			strerror(errno));
		goto out;
	}
	*applied = true;
out:
	close(ruleset);
	return rc;
}

/* ---- seccomp ------------------------------------------------------------------- */

/* Every service: files, memory, threads, time, signals, sockets, event loops. */
static const char *const sc_common[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"lseek", "close", "close_range", "open", "openat", "stat", "fstat", "lstat",
	"newfstatat", "statx", "access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents", "getdents64", "getcwd", "fcntl", "flock", "fsync", "fdatasync",
	"sync_file_range",
	"ftruncate", "fallocate", "fadvise64", "rename", "renameat", "renameat2", "unlink",
	"unlinkat", "mkdir", "mkdirat", "rmdir", "chmod", "fchmod", "fchmodat", "fchown",
	"umask", "utimensat", "statfs", "fstatfs", "dup", "dup2", "dup3", "pipe", "pipe2",
	"mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "mincore", "brk",
	"mlock", "mlock2", "munlock", "mlockall", "munlockall",
	"futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
	"set_tid_address", "sched_yield", "sched_getaffinity", "sched_getparam",
	"sched_getscheduler", "sched_setaffinity", "getcpu", "membarrier",
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday",
	"time", "getrandom",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigsuspend",
	"rt_sigpending", "sigaltstack", "restart_syscall", "kill", "tgkill", "tkill",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "getpgrp", "getpgid", "getsid",
	"uname", "sysinfo", "getrlimit", "prlimit64", "setrlimit", "getrusage", "times",
	"getpriority", "exit", "exit_group", "wait4", "waitid", "arch_prctl", "prctl",
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "eventfd", "eventfd2", "poll", "ppoll", "select", "pselect6",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
	"getpeername", "setsockopt", "getsockopt", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "sendmmsg", "recvmmsg", "shutdown", "sendfile",
	NULL,
};

/* The api runs each operator command as a `torwart` process (api_command.c). */
static const char *const sc_api[] = {
	"execve", "fork", "vfork", "setsid", "setpgid", NULL,
};

/* What ASan/LSan add: the leak check's ptrace of the own threads, the symbolizer. */
static const char *const sc_sanitizer[] = {
	"ptrace", "process_vm_readv", "execve", "fork", "vfork", "personality", NULL,
};

static tw_rc sc_allow_list(scmp_filter_ctx ctx, const char *const *names,
	struct tw_error *err)
{
	for (size_t i = 0; names[i] != NULL; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue;   /* not a system call on this architecture */
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0)
			return tw_error_set(err, TW_E_INTERNAL, "seccomp: cannot allow %s: %s",
				names[i], strerror(-r));
	}
	return TW_OK;
}

/*
 * One rule: nr with action, unconditionally (arg < 0) or when argument arg compares with
 * op to a (SCMP_CMP_MASKED_EQ: (argument & a) == b). The comparison is spelt out field by
 * field: libseccomp's SCMP_A0() macros leave datum_b to the compiler, which clang flags.
 */
static tw_rc sc_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *name, int arg,
	enum scmp_compare op, scmp_datum_t a, scmp_datum_t b, struct tw_error *err)
{
	struct scmp_arg_cmp cmp = { .arg = arg < 0 ? 0 : (unsigned)arg, .op = op,
		.datum_a = a, .datum_b = b };
	int r = seccomp_rule_add_array(ctx, action, nr, arg < 0 ? 0 : 1,
		arg < 0 ? NULL : &cmp);

	if (r != 0)
		return tw_error_set(err, TW_E_INTERNAL, "seccomp: cannot add a rule for %s: %s",
			name, strerror(-r));
	return TW_OK;
}

/*
 * Set by tw_sandbox_enter when the home's store is a PostgreSQL server: the signer writes
 * its audit entries to the store itself, so it then needs a network socket to reach it.
 */
static bool sc_store_over_network;

tw_rc tw_sandbox_seccomp(enum tw_sandbox_service svc, bool log_only, struct tw_error *err)
{
	static const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
	static const unsigned long ioctls[] = { TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO,
		FIOCLEX, FIONCLEX };
	scmp_filter_ctx ctx;
	bool may_fork = svc == TW_SANDBOX_API || TW_SANITIZED;
	tw_rc rc = TW_OK;
	int r;

	if ((unsigned)svc >= TW_SANDBOX_SERVICE_COUNT)
		return tw_error_set(err, TW_E_INVALID, "seccomp: unknown service %d", (int)svc);
	ctx = seccomp_init(log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		return tw_error_set(err, TW_E_NOMEM, "seccomp: cannot create a filter");
	/* Every thread, also one a library started early; no_new_privs is set by libseccomp. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		rc = tw_error_set(err, TW_E_INTERNAL, "seccomp: no thread sync: %s", strerror(-r));
		goto out;
	}
	if ((rc = sc_allow_list(ctx, sc_common, err)) != TW_OK ||
	    (svc == TW_SANDBOX_API && (rc = sc_allow_list(ctx, sc_api, err)) != TW_OK) ||
	    (TW_SANITIZED && (rc = sc_allow_list(ctx, sc_sanitizer, err)) != TW_OK))
		goto out;
	/* Sockets of the families the services speak (netlink: getaddrinfo's address check).
	 * The signer speaks only over its Unix socket: no network socket at all, unless its
	 * store is a PostgreSQL server (then TCP to that server, as libpq opens it). */
	for (size_t i = 0; i < (svc == TW_SANDBOX_SIGNER && !sc_store_over_network ? 1 :
	     svc == TW_SANDBOX_SIGNER ? 3 : sizeof(families) /
	     sizeof(families[0])) && rc == TW_OK; i++)
		rc = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket", 0, SCMP_CMP_EQ,
			(scmp_datum_t)families[i], 0, err);
	/* Terminal queries of stdio and non-blocking flags; no TIOCSTI and friends. */
	if (TW_SANITIZED && rc == TW_OK)
		rc = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), "ioctl", -1, SCMP_CMP_EQ, 0, 0,
			err);
	for (size_t i = 0; !TW_SANITIZED && i < sizeof(ioctls) / sizeof(ioctls[0]) &&
	     rc == TW_OK; i++)
		rc = sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), "ioctl", 1, SCMP_CMP_EQ,
			(scmp_datum_t)ioctls[i], 0, err);
	/* Threads yes, new processes only for the api: clone needs CLONE_THREAD elsewhere.
	 * clone3 hides its flags from seccomp, so it answers ENOSYS and glibc falls back. */
	if (rc == TW_OK)
		rc = may_fork ?
			sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone", -1, SCMP_CMP_EQ, 0,
				0, err) :
			sc_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone", 0,
				SCMP_CMP_MASKED_EQ, (scmp_datum_t)CLONE_THREAD,
				(scmp_datum_t)CLONE_THREAD, err);
	if (rc == TW_OK)
		rc = sc_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3", -1,
			SCMP_CMP_EQ, 0, 0, err);
	if (rc != TW_OK)
		goto out;
	if ((r = seccomp_load(ctx)) != 0)
		rc = tw_error_set(err, TW_E_IO, "seccomp: cannot load the %s filter: %s",
			service_names[svc], strerror(-r));
out:
	seccomp_release(ctx);
	return rc;
}

/* ---- one service --------------------------------------------------------------- */

struct path_list {
	char *items[64];
	size_t n;
};

static void pl_add(struct path_list *pl, char *owned)
{
	if (owned == NULL)
		return;
	if (pl->n + 1 >= sizeof(pl->items) / sizeof(pl->items[0])) {
		/* Only with dozens of CRL places configured; writes there will be refused. */
		tw_warn("landlock: more than %zu writable places; %s left out",
			sizeof(pl->items) / sizeof(pl->items[0]) - 1, owned);
		free(owned);
		return;
	}
	pl->items[pl->n++] = owned;
	pl->items[pl->n] = NULL;
}

static void pl_add_dir_of(struct path_list *pl, char *owned_file)
{
	char *slash;

	if (owned_file == NULL)
		return;
	if ((slash = strrchr(owned_file, '/')) != NULL && slash != owned_file)
		*slash = '\0';
	pl_add(pl, owned_file);
}

static void pl_free(struct path_list *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		free(pl->items[i]);
	pl->n = 0;
}

/* Where the SQLite store lives (its directory takes the -wal and -shm files). */
static char *store_file(const struct tw_home *home)
{
	const char *url = tw_config_get_or(home->conf, "store", "url", TW_DEFAULT_STORE);

	if (strncmp(url, "postgres", 8) == 0)
		return NULL;
	if (strncmp(url, "sqlite://", 9) == 0)
		url += 9;
	else if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	return tw_home_join(home, url);
}

/* Writable places every layout has: the store, /dev (null), and the temp directories. */
static void common_rw(const struct tw_home *home, struct path_list *rw)
{
	pl_add_dir_of(rw, store_file(home));
	pl_add(rw, tw_strdup("/dev"));
	pl_add(rw, tw_strdup("/tmp"));
	pl_add(rw, tw_strdup("/var/tmp"));
}

/* Places the configuration sends writes to that may lie outside the home. */
static void configured_rw(const struct tw_home *home, struct path_list *rw)
{
	const char *cas = tw_config_get_or(home->conf, "ca", "crl_cas", "");
	char *list = tw_strdup(cas), *save = NULL;

	pl_add(rw, tw_home_path(home, "audit", "archive_dir", "archive"));
	pl_add_dir_of(rw, tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK));
	for (char *ca = list ? strtok_r(list, " ,", &save) : NULL; ca != NULL;
	     ca = strtok_r(NULL, " ,", &save)) {
		char section[128], def[160];

		snprintf(section, sizeof(section), "ca.%s", ca);
		snprintf(def, sizeof(def), "crl/%s.crl", ca);
		pl_add_dir_of(rw, tw_home_path(home, section, "crl_publish_path", def));
	}
	free(list);
}

tw_rc tw_sandbox_enter(const struct tw_home *home, enum tw_sandbox_service svc,
	struct tw_error *err)
{
	struct path_list rw = { .n = 0 }, ex = { .n = 0 };
	const char *user = tw_privsep_user(home, svc);
	const char *mode = tw_config_get_or(home->conf, "privsep", "seccomp", "kill");
	bool privsep = tw_privsep_enabled(home), landlocked = false;
	tw_rc rc;

	rw.items[0] = ex.items[0] = NULL;
	if (strcmp(mode, "kill") != 0 && strcmp(mode, "log") != 0)
		return tw_error_set(err, TW_E_CONFIG, "[privsep] seccomp = %s: use kill (default) "
			"or log (only to find a missing system call)", mode);
	if ((rc = tw_sandbox_harden(err)) != TW_OK)
		return rc;
	if (privsep) {
		struct passwd *pw = getpwnam(user);

		if (geteuid() == 0) {
			if ((rc = tw_sandbox_drop_user(user, err)) != TW_OK)
				return rc;
		} else if (pw == NULL || pw->pw_uid != geteuid()) {
			return tw_error_set(err, TW_E_DENIED, "this home runs each service as "
				"its own user ([privsep] in torwart.conf): start torwartd as root (it "
				"becomes %s for the %s) or as %s", user, service_names[svc], user);
		}
		tw_info("%s runs as user %s (uid %ld)", service_names[svc], user, (long)getuid());
	} else if (geteuid() == 0) {
		tw_warn("%s runs as root: this home has no [privsep] users (create a production "
			"home with `torwart init --system`); seccomp and Landlock still apply",
			service_names[svc]);
	} else {
		tw_info("%s runs as the invoking user %ld (no [privsep] users in this home: "
			"one user for every service); seccomp and Landlock still apply",
			service_names[svc], (long)getuid());
	}

	/* Landlock: where each service may write, and that only the api may execute. */
	common_rw(home, &rw);
	if (!privsep || svc == TW_SANDBOX_API || svc == TW_SANDBOX_WORKER) {
		/* One-user homes keep the store next to everything else; the api runs every
		 * operator command and the worker keeps CRLs, archives and jobs. */
		pl_add(&rw, tw_strdup(home->dir));
		configured_rw(home, &rw);
	} else if (svc == TW_SANDBOX_SIGNER) {
		pl_add(&rw, tw_home_join(home, "tokens"));
		pl_add(&rw, tw_home_join(home, "secrets"));
		pl_add_dir_of(&rw, tw_home_path(home, "signer", "socket",
			TW_DEFAULT_SIGNER_SOCK));
	}
	if (svc == TW_SANDBOX_API) {
		char self[PATH_MAX], interp[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			char *slash;

			self[n] = '\0';
			if ((slash = strrchr(self, '/')) != NULL)
				*slash = '\0';
			pl_add(&ex, tw_asprintf("%s/torwart", self));
		}
		/* The kernel opens the ELF interpreter with exec rights too. */
		if (realpath("/lib64/ld-linux-x86-64.so.2", interp) != NULL ||
		    realpath("/lib/ld-linux-aarch64.so.1", interp) != NULL)
			pl_add(&ex, tw_strdup(interp));
	}
	if ((rc = tw_sandbox_landlock((const char *const *)rw.items,
	    (const char *const *)ex.items, &landlocked, err)) != TW_OK)
		goto out;
	if (!landlocked)
		tw_warn("%s: this kernel has no Landlock (needs Linux 5.13 with landlock in "
			"lsm=); file writes are limited by the file modes only",
			service_names[svc]);
	else
		tw_info("%s: Landlock ABI %d applied (writes beneath %zu places)",
			service_names[svc], tw_sandbox_landlock_abi(), rw.n);
	sc_store_over_network = strncmp(tw_config_get_or(home->conf, "store", "url", ""),
		"postgresql:", 11) == 0 || strncmp(tw_config_get_or(home->conf, "store", "url", ""),
		"postgres:", 9) == 0;
	if ((rc = tw_sandbox_seccomp(svc, strcmp(mode, "log") == 0, err)) != TW_OK)
		goto out;
	if (strcmp(mode, "log") == 0)
		tw_warn("%s: seccomp in LOG mode ([privsep] seccomp = log): violations are only "
			"logged by the kernel; never run production like this", service_names[svc]);
	else
		tw_info("%s: seccomp allow-list applied%s", service_names[svc], TW_SANITIZED ?
			" (sanitizer build: ptrace/execve allowed, process stays dumpable)" : "");
out:
	pl_free(&rw);
	pl_free(&ex);
	return rc;
}
