/*
 * signer_server.h: the signer process itself (src/signer): home preparation, the socket
 * daemon and the private child. Its protocol client is crypto/signer.h.
 */
#ifndef TORWART_SIGNER_SIGNER_SERVER_H
#define TORWART_SIGNER_SIGNER_SERVER_H

#include <stdbool.h>

#include "base/error.h"
#include "base/home.h"

/*
 * Write the token configuration of a new home: softhsm2.conf, tokens/, secrets/pins
 * (fresh random PINs, mode 0600). Called by `torwart init` before the ceremony.
 */
tw_rc signer_home_prepare(const char *home_dir, struct tw_error *err);

/* `torwartd signer`: serve the configured socket until SIGTERM/SIGINT. */
tw_rc signer_run(const struct tw_home *home, struct tw_error *err);
/* Serve exactly one connected fd until EOF (private child of signer_client_open). */
tw_rc signer_serve_fd(const struct tw_home *home, int fd, bool ceremony,
	struct tw_error *err);

#endif
