/*
 * signer_peer.h: who is on the other end of a signer connection, and what it may ask.
 *
 * The caller's identity is the kernel's (SO_PEERCRED uid), never what it says: in a
 * privsep home each service runs under its own user ([privsep], `torwart init --system`),
 * so the uid names the service. The HELLO actor/role is audit information; the signer
 * checks it only where an operator's role matters (custodian shares, which only the api
 * can enter, after it authenticated the operator). docs/security.md, "The signer's
 * callers".
 */
#ifndef TORWART_SIGNER_SIGNER_PEER_H
#define TORWART_SIGNER_SIGNER_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/home.h"

enum signer_peer_kind {
	SIGNER_PEER_SELF = 0,   /* the signer's own user: a one-user home, a private signer */
	SIGNER_PEER_ROOT,       /* root: break-glass commands on the host, the supervisor */
	SIGNER_PEER_API,        /* the api and the operator commands it runs */
	SIGNER_PEER_WAN,
	SIGNER_PEER_WORKER,
	SIGNER_PEER_OTHER,      /* any other uid: HELLO only */
};

struct signer_peers {
	uid_t self;
	bool privsep;
	uid_t uid[3];           /* api, wan, worker; valid where have[i] */
	bool have[3];
};

/* Resolve the service users of home ([privsep]; none in a one-user home). */
void signer_peers_init(struct signer_peers *p, const struct tw_home *home);
enum signer_peer_kind signer_peer_classify(const struct signer_peers *p, uid_t uid);
/* "self", "root", "api", "wan", "worker", "other". Static. */
const char *signer_peer_name(enum signer_peer_kind k);

/*
 * NULL when a peer of kind k may run op; else why not (static text). purpose: the
 * SIGN_DATA purpose (enum signer_purpose), else 0. context: SEAL/UNSEAL's context, the
 * key label of a tls-handshake signature, else NULL. activation: ACTIVATION's request ("status"/"deactivate"), else NULL.
 */
const char *signer_peer_refusal(enum signer_peer_kind k, uint8_t op, int purpose,
	const char *context, const char *activation);

#endif
