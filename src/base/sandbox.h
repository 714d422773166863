/*
 * sandbox.h: privilege separation of torwartd's services (docs/security.md, "Privilege
 * separation"; TR-03109-6 M-4.5.3, M-4.5.12).
 *
 * Each service process, after the supervisor forked it and before the service starts:
 *   1. stops being dumpable (PR_SET_DUMPABLE 0: no core, no ptrace by its own user, no
 *      /proc/PID/mem) and sets RLIMIT_CORE 0: the signer holds PINs and key handles,
 *      wan and api hold TLS keys and the data key;
 *   2. in a privsep home ([privsep] in torwart.conf, written by `torwart init --system`)
 *      started as root: becomes its own user (torwart-signer, -wan, -api, -worker) with
 *      the shared store group; the file modes of the home (init --system) then make
 *      the token, the PINs and the signer's keys readable by the signer's user alone;
 *   3. sets no_new_privs and restricts where it may write and what it may execute with
 *      Landlock (kernel 5.13+; a logged warning where the kernel has none);
 *   4. installs its seccomp-bpf allow-list (libseccomp); any other system call kills
 *      the process with SIGSYS, which the supervisor raises as a sandbox-violation alert.
 *
 * A home without [privsep] (a developer's or a test's home, one user for everything)
 * keeps working: steps 1, 3 and 4 still apply, and a note says the services share one
 * user. A privsep home refuses to start as another non-root user, and as root when its
 * users do not exist (the message names the useradd lines).
 *
 * Sanitizer builds (ASan/LSan) need system calls the product never makes (ptrace of the
 * own threads for the leak check, execve of the symbolizer): with __SANITIZE_ADDRESS__ the
 * allow-lists include them and the process stays dumpable (documented in security.md).
 */
#ifndef TORWART_BASE_SANDBOX_H
#define TORWART_BASE_SANDBOX_H

#include <stdbool.h>

#include "base/error.h"
#include "base/home.h"

enum tw_sandbox_service {
	TW_SANDBOX_SIGNER = 0,
	TW_SANDBOX_WAN,
	TW_SANDBOX_API,
	TW_SANDBOX_WORKER,
	TW_SANDBOX_SERVICE_COUNT,
};

/* Default user names of `torwart init --system` (overridable in [privsep]). */
#define TW_PRIVSEP_GROUP       "torwart"
#define TW_PRIVSEP_DATA_GROUP  "torwart-data"

/* "signer" -> TW_SANDBOX_SIGNER; TW_E_INVALID for an unknown name. */
tw_rc tw_sandbox_service_parse(const char *name, enum tw_sandbox_service *out,
	struct tw_error *err);
const char *tw_sandbox_service_name(enum tw_sandbox_service svc);
/* "torwart-signer" ...: the default user of a service (static storage). */
const char *tw_sandbox_default_user(enum tw_sandbox_service svc);

/* True when torwart.conf has a [privsep] section with a user for each service. */
bool tw_privsep_enabled(const struct tw_home *home);
/* The user of svc in a privsep home ([privsep] <service> = USER), else NULL. Borrowed. */
const char *tw_privsep_user(const struct tw_home *home, enum tw_sandbox_service svc);

/*
 * For the supervisor of `torwartd all`, before it forks: in a privsep home it must be
 * root and every service user must exist (one clear error instead of four children
 * failing and being restarted). TW_OK for a home without [privsep].
 */
tw_rc tw_privsep_check_supervisor(const struct tw_home *home, struct tw_error *err);

/* Step 1: not dumpable, no core files. */
tw_rc tw_sandbox_harden(struct tw_error *err);

/*
 * Step 2: become user (its primary group plus supplementary groups from /etc/group)
 * and check there is no way back (setuid(0) must fail). Needs root.
 */
tw_rc tw_sandbox_drop_user(const char *user, struct tw_error *err);

/*
 * Step 3: Landlock. Writes (create, remove, rename, truncate, write) only beneath the
 * directories/files in rw (NULL-terminated), execution only of the files in exec
 * (NULL-terminated, may be NULL). Paths that do not exist are skipped. Returns TW_OK with
 * *applied false where the kernel has no Landlock (the caller logs the warning).
 */
tw_rc tw_sandbox_landlock(const char *const *rw, const char *const *exec, bool *applied,
	struct tw_error *err);
/* The Landlock ABI version of the running kernel, 0 when it has none. */
int tw_sandbox_landlock_abi(void);

/*
 * Step 4: the seccomp allow-list of svc. log_only: violations are logged by the kernel
 * (SCMP_ACT_LOG) instead of killing, for finding a missing entry; never in production.
 */
tw_rc tw_sandbox_seccomp(enum tw_sandbox_service svc, bool log_only, struct tw_error *err);

/*
 * Steps 1 to 4 for svc of home, in that order, logging what was applied. Call in the
 * service process before it opens anything it would not need afterwards.
 */
tw_rc tw_sandbox_enter(const struct tw_home *home, enum tw_sandbox_service svc,
	struct tw_error *err);

/* True when this build runs under AddressSanitizer (looser allow-lists, see above). */
bool tw_sandbox_sanitized(void);

#endif
