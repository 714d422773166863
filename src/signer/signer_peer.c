/*
 * signer_peer.c: the signer's callers by kernel identity, and the table of what each may
 * ask (signer_peer.h). The table is least privilege for the processes as they are:
 *   api     every certificate and CRL signature (operator commands, the operator CA, the
 *           web service), authorisations and tree heads of operator commands, the GWA's
 *           own certificate requests (`gwa renew`), custodian shares, and the secrets of
 *           logins and of its command spool;
 *   worker  CRLs, certificates of its jobs, wake-ups (it alone sends them) and admin-log
 *           tree heads;
 *   wan     no signature but its TLS handshakes (GWA TLS key); it opens profile secrets
 *           for the orders it sends;
 *   root / the signer's own user: everything (break-glass on the host; a home with one
 *   user has no separation to enforce).
 */
#include "signer/signer_peer.h"

#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "base/sandbox.h"
#include "crypto/signer.h"
#include "crypto/key_label.h"
#include "crypto/signer_proto.h"

void signer_peers_init(struct signer_peers *p, const struct tw_home *home)
{
	static const enum tw_sandbox_service svc[3] = {
		TW_SANDBOX_API, TW_SANDBOX_WAN, TW_SANDBOX_WORKER,
	};

	memset(p, 0, sizeof(*p));
	p->self = geteuid();
	p->privsep = home != NULL && tw_privsep_enabled(home);
	for (int i = 0; i < 3 && p->privsep; i++) {
		const char *user = tw_privsep_user(home, svc[i]);
		struct passwd *pw = user != NULL ? getpwnam(user) : NULL;

		if (pw != NULL) {
			p->uid[i] = pw->pw_uid;
			p->have[i] = true;
		}
	}
}

enum signer_peer_kind signer_peer_classify(const struct signer_peers *p, uid_t uid)
{
	static const enum signer_peer_kind kind[3] = {
		SIGNER_PEER_API, SIGNER_PEER_WAN, SIGNER_PEER_WORKER,
	};

	if (uid == p->self)
		return SIGNER_PEER_SELF;
	if (uid == 0)
		return SIGNER_PEER_ROOT;
	for (int i = 0; i < 3; i++)
		if (p->have[i] && p->uid[i] == uid)
			return kind[i];
	return SIGNER_PEER_OTHER;
}

const char *signer_peer_name(enum signer_peer_kind k)
{
	switch (k) {
	case SIGNER_PEER_SELF: return "self";
	case SIGNER_PEER_ROOT: return "root";
	case SIGNER_PEER_API: return "api";
	case SIGNER_PEER_WAN: return "wan";
	case SIGNER_PEER_WORKER: return "worker";
	case SIGNER_PEER_OTHER: break;
	}
	return "other";
}

#define B(k) (1u << (k))
#define ALL_SERVICES (B(SIGNER_PEER_API) | B(SIGNER_PEER_WAN) | B(SIGNER_PEER_WORKER))

/* Who may use the secrets of a context (secretbox.h), sealing and opening apart. */
static const struct {
	const char *context;
	unsigned seal, unseal;
} contexts[] = {
	{ "totp", B(SIGNER_PEER_API), B(SIGNER_PEER_API) },
	{ "profile", B(SIGNER_PEER_API), B(SIGNER_PEER_WAN) },
	{ "principal", B(SIGNER_PEER_API), B(SIGNER_PEER_API) },
	{ "gateway-key", B(SIGNER_PEER_API), B(SIGNER_PEER_API) },
	{ "request", B(SIGNER_PEER_API), B(SIGNER_PEER_API) },
	{ "share", B(SIGNER_PEER_API), B(SIGNER_PEER_API) },
};

static unsigned purpose_peers(int purpose)
{
	switch (purpose) {
	case SIGNER_PURPOSE_CERTIFICATE:
	case SIGNER_PURPOSE_CRL:
	case SIGNER_PURPOSE_TREE_HEAD:
		return B(SIGNER_PEER_API) | B(SIGNER_PEER_WORKER);
	case SIGNER_PURPOSE_WAKEUP:
		return B(SIGNER_PEER_WORKER);
	case SIGNER_PURPOSE_AUTHORISATION:
		/* The worker authorises gateways' renewal requests (gwa/renewal.c). */
		return B(SIGNER_PEER_API) | B(SIGNER_PEER_WORKER);
	case SIGNER_PURPOSE_INITIAL_CONFIG:
		/* Initial configuration files are made by operator commands (gwa/initial_config.c). */
		return B(SIGNER_PEER_API);
	case SIGNER_PURPOSE_DELIVERY_NOTE:
		/* Delivery notes: the web service and `ca delivery-note`, both in the api. */
		return B(SIGNER_PEER_API);
	case SIGNER_PURPOSE_CERT_REQUEST:
		/* The GWA's own certificate requests: `gwa renew` (an operator command in the
		 * api; the rotation of signer-held keys runs as root on the host). */
		return B(SIGNER_PEER_API);
	}
	return 0;
}

/*
 * TLS handshake signatures (label = the key): the wan with the GWA's TLS key only, the api
 * with its own operator HTTPS key and the GWA's (its ws service and LDAPS front end present
 * the GWA's SM-PKI certificate), the worker with the GWA's (its outbound ws callbacks and
 * metering deliveries authenticate as the GWA). The web console's key (console-tls) is the
 * api's only: the console listener runs in the api.
 */
static const char *tls_key_refusal(enum signer_peer_kind k, const char *label)
{
	char base[SIGNER_LABEL_MAX + 1] = "";
	bool gwa, api;

	/* A version of a key (key_label.h) is that key's. */
	if (label != NULL)
		signer_label_base(label, base, sizeof(base));
	gwa = strcmp(base, "gwa-tls") == 0;
	api = strcmp(base, "api-tls") == 0 || strcmp(base, "console-tls") == 0;

	if (gwa ? (k == SIGNER_PEER_WAN || k == SIGNER_PEER_API || k == SIGNER_PEER_WORKER) :
	    api && k == SIGNER_PEER_API)
		return NULL;
	return "this service may not sign TLS handshakes with this key";
}

const char *signer_peer_refusal(enum signer_peer_kind k, uint8_t op, int purpose,
	const char *context, const char *activation)
{
	unsigned allowed = 0;

	/* Break-glass on the host and the one-user home: no separation to enforce. */
	if (k == SIGNER_PEER_SELF || k == SIGNER_PEER_ROOT)
		return NULL;
	switch (op) {
	case SIGNER_OP_HELLO:
		return NULL;
	case SIGNER_OP_GET_PUBLIC_KEY:
		allowed = ALL_SERVICES;
		break;
	case SIGNER_OP_GENERATE_KEY:
		return "key generation is a ceremony of root or the signer's user";
	case SIGNER_OP_KEY_ROTATE:
		return "key rotation is an operation of root or the signer's user (`torwart gwa "
			"renew`)";
	case SIGNER_OP_SIGN_CERTIFICATE:
	case SIGNER_OP_SIGN_CERTIFICATES:
	case SIGNER_OP_CRL_BEGIN:
	case SIGNER_OP_CRL_DATA:
	case SIGNER_OP_CRL_END:
		allowed = B(SIGNER_PEER_API) | B(SIGNER_PEER_WORKER);
		break;
	case SIGNER_OP_SIGN_DATA:
		if (purpose == SIGNER_PURPOSE_TLS_HANDSHAKE)
			return tls_key_refusal(k, context);
		allowed = purpose_peers(purpose);
		break;
	case SIGNER_OP_SIGN_DATA_BATCH:
		/* The same callers as SIGN_DATA; TLS handshake digests are never batched. */
		if (purpose == SIGNER_PURPOSE_TLS_HANDSHAKE)
			return "TLS handshake signatures are not batched";
		allowed = purpose_peers(purpose);
		break;
	case SIGNER_OP_CUSTODIAN_SHARE:
		/* Only the api authenticates operators; only it can vouch for a custodian. */
		if (k != SIGNER_PEER_API)
			return "custodian shares are entered only through the api";
		return NULL;
	case SIGNER_OP_ACTIVATION:
		if (activation != NULL && strcmp(activation, "status") == 0)
			allowed = ALL_SERVICES;
		else
			allowed = B(SIGNER_PEER_API);
		break;
	case SIGNER_OP_SEAL:
	case SIGNER_OP_UNSEAL:
		for (size_t i = 0; context != NULL && i < sizeof(contexts) / sizeof(contexts[0]);
		     i++)
			if (strcmp(contexts[i].context, context) == 0)
				allowed = op == SIGNER_OP_SEAL ? contexts[i].seal : contexts[i].unseal;
		if ((allowed & B(k)) == 0)
			return op == SIGNER_OP_SEAL ? "this service may not seal secrets of this "
				"context" : "this service may not open secrets of this context";
		return NULL;
	default:
		return "unknown operation";
	}
	if ((allowed & B(k)) == 0)
		return "this service may not use this operation";
	return NULL;
}
