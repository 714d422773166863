/*
 * signer_local.c: embedded mode. A command-line tool on a home whose signer is not
 * running (a developer's or demo home, `torwart init`'s ceremony, break-glass on the host)
 * forks a private signer over a socketpair and talks the same protocol to it. This lives
 * with the server because it runs the server (signer_serve_fd); the protocol client
 * (crypto/signer_client.c) never links it.
 */
#include "crypto/signer.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "signer/signer_server.h"

/*
 * The private child: a whole signer serving one socketpair. Forked rather than
 * exec'ed so a command-line tool needs no daemon; the child opens token and store
 * itself (neither is ever shared across fork). Call before starting threads.
 */
static tw_rc spawn_child(const struct tw_home *home, bool ceremony,
	struct signer_client **out, struct tw_error *err)
{
	int sv[2];
	pid_t pid;
	tw_rc rc;

	*out = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return tw_error_set(err, TW_E_IO, "socketpair: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return tw_error_set(err, TW_E_IO, "cannot start a private signer: fork: %s",
			strerror(errno));
	}
	if (pid == 0) {
		struct tw_error cerr;
		int lvl = tw_log_level_parse(tw_config_get_or(home->conf, "log", "level", "info"));

		close(sv[0]);
		/* Ctrl-C goes to the parent, which then closes the socket; we follow at EOF. */
		signal(SIGINT, SIG_IGN);
		tw_log_init("signer", lvl < 0 ? TW_LOG_INFO : (enum tw_log_level)lvl);
		rc = signer_serve_fd(home, sv[1], ceremony, &cerr);
		_exit(rc == TW_OK ? 0 : 1);
	}
	close(sv[1]);
	/* On failure the client closed the socket; the child ends at EOF (reaped here if
	 * the client did not get as far as owning it). */
	if ((rc = signer_client_adopt(sv[0], pid, ceremony ? "signer (ceremony)" :
	    "private signer", out, err)) != TW_OK)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return rc;
}

tw_rc signer_client_open(const struct tw_home *home, bool ceremony,
	struct signer_client **out, struct tw_error *err)
{
	char *path = NULL, *hint = NULL;
	tw_rc rc;

	*out = NULL;
	if (!ceremony) {
		path = tw_home_path(home, "signer", "socket", TW_DEFAULT_SIGNER_SOCK);
		hint = tw_asprintf("start it with `torwartd --home %s signer`", home->dir);
		if (path == NULL || hint == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		rc = signer_client_connect_hint(path, hint, out, err);
		/* Nobody listening: a command-line tool starts its own signer instead. */
		if (rc != TW_E_UNAVAILABLE)
			goto out;
	}
	rc = spawn_child(home, ceremony, out, err);
out:
	free(path);
	free(hint);
	return rc;
}
