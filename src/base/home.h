/*
 * home.h: a Torwart home directory (created by `torwart init`) and its configuration.
 *
 * Layout (relative to the home):
 *   torwart.conf            INI configuration (see docs/operations.md)
 *   store.db                SQLite store (WAL)
 *   softhsm2.conf, tokens/  SoftHSM2 token: opened only by the signer
 *   secrets/pins            demo token PINs (mode 0600); production: from an operator
 *   pki/                    certificates (public) and the wan TLS key (see architecture.md)
 *   run/                    sockets and pid files
 *   gateways/ID/            gateway material written by `torwart gateway add` (demo)
 * A home made by `torwart init --system` keeps the store in store/store.db and gives each
 * path to the service users that need it (docs/operations.md, "Service users").
 */
#ifndef TORWART_BASE_HOME_H
#define TORWART_BASE_HOME_H

#include "base/config.h"
#include "base/error.h"

struct tw_home {
	char *dir;               /* absolute path, owned */
	struct tw_config *conf;  /* owned */
};

/* Open an existing home: resolves dir, loads torwart.conf. Caller frees with tw_home_free. */
tw_rc tw_home_open(const char *dir, struct tw_home **out, struct tw_error *err);
void tw_home_free(struct tw_home *home);

/*
 * Absolute path for a configured file: value of [section] key (default def), taken
 * relative to the home unless absolute. Caller frees. NULL only on allocation failure.
 */
char *tw_home_path(const struct tw_home *home, const char *section, const char *key,
	const char *def);
/* Absolute path of rel inside the home. Caller frees. */
char *tw_home_join(const struct tw_home *home, const char *rel);

/*
 * ---- store URL (issue 10: the one resolver every process uses) ----
 * [store] url (default TW_DEFAULT_STORE) as store_open expects it: a URL with a scheme
 * ("postgresql://...") passes through unchanged; a plain path or "sqlite:PATH" becomes
 * "sqlite:" + the absolute path, PATH taken relative to the home unless absolute, so
 * that "store.db", "sqlite:store.db" and "sqlite:/home/store.db" name the same file in
 * every process. "sqlite:" with no path is passed through for store_open to refuse.
 * Caller frees. NULL only on allocation failure.
 */
char *tw_home_store_url(const struct tw_home *home);

/* Defaults shared by init and the services (one place, so they cannot drift). */
#define TW_DEFAULT_WAN_LISTEN   "127.0.0.1:7443"
#define TW_DEFAULT_API_LISTEN   "127.0.0.1:7080"
/* The api's HTTPS operator listener (client certificates of the operator CA). */
#define TW_DEFAULT_API_TLS_LISTEN "127.0.0.1:8445"
#define TW_DEFAULT_STORE        "store.db"
#define TW_DEFAULT_SIGNER_SOCK  "run/signer.sock"
#define TW_DEFAULT_SOFTHSM_MOD  "/usr/lib/softhsm/libsofthsm2.so"
#define TW_DEFAULT_PIN_FILE     "secrets/pins"
#define TW_DEFAULT_TOKEN_LABEL  "torwart"
#define TW_SESSION_LIFETIME_S   (48L * 3600L)   /* TR-03116-3: 48 h */

/*
 * The home's PKI layout (relative to the home): the SM-PKI Root and Sub-CA
 * certificates, the trust chain, and the GWA's own TLS, SIG and ENC certificates.
 * Production code (wan, gwa, audit, req) reads them; `init --test-pki` (pki/testpki.h)
 * is one writer of them, a real SM-PKI enrolment the other.
 */
#define TW_HOME_ROOT_CERT     "pki/root-ca.crt"
#define TW_HOME_SUBCA_CERT    "pki/sub-ca.crt"
#define TW_HOME_CHAIN         "pki/chain.pem"
#define TW_HOME_GWA_TLS_CERT  "pki/gwa-tls.crt"
#define TW_HOME_GWA_TLS_KEY   "pki/gwa-tls.key"
#define TW_HOME_GWA_SIG_CERT  "pki/gwa-sig.crt"
#define TW_HOME_GWA_ENC_CERT  "pki/gwa-enc.crt"

#endif
