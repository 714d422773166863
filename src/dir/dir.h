/*
 * dir.h: the SM-PKI directory (DOMAIN.md S-4, issue 11 s.3): issued certificates and
 * CRLs published to an OpenLDAP slapd, read by registered SM-PKI participants over LDAPS
 * with their SM-PKI TLS certificates. docs/pki-services.md "The directory" has the
 * layout, the configuration and why it is built this way; in short:
 *
 *   - slapd is the directory. Debian's slapd links GnuTLS, which has no brainpool curves,
 *     so it cannot present or verify an SM-PKI certificate. It listens on a local Unix
 *     socket only (ldapi://, [dir] ldapi) and never on the network.
 *   - The publisher (worker process) writes to it over ldapi:// with SASL EXTERNAL: the
 *     kernel tells slapd the publisher's uid, which the generated configuration maps to
 *     the directory's rootdn. What to publish comes from the store (store_dir.h): a
 *     persistent, derived queue, so an outage of slapd loses nothing.
 *   - The front end (api process, [dir] listen) terminates TLS in the TR-03116-3 profile
 *     with OpenSSL (src/crypto/tls.c) behind the connection guard, identifies the
 *     participant by its certificate like the web service does, opens its own ldapi://
 *     connection to slapd, binds with SASL EXTERNAL and the participant's authorisation
 *     identity (proxied authorisation), and then relays LDAP messages, answering binds
 *     itself and refusing every write and StartTLS (dir_ldap_msg.h parses each message).
 *
 * Entries: base ([dir] base, default o=SM-PKI-DE,c=DE), one entry per CA below it
 * (cn=<CA CN>: applicationProcess + pkiCA, cACertificate;binary and
 * certificateRevocationList;binary), one entry per certificate subject below its issuer
 * (cn=<subject CN>,cn=<CA CN>,<base>: inetOrgPerson, userCertificate;binary with every
 * valid certificate of that subject), participants' authorisation identities
 * cn=<participant>,ou=participants,<base> (no entry needed).
 */
#ifndef TORWART_DIR_DIR_H
#define TORWART_DIR_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

#define DIR_DEFAULT_BASE "o=SM-PKI-DE,c=DE"
#define DIR_DEFAULT_LDAPI "run/slapd.sock"
#define DIR_PARTICIPANTS_OU "ou=participants"

/*
 * RFC 4514 escaping of one attribute value for a DN string: out gets value with ',', '+',
 * '"', '\\', '<', '>', ';', '=', a leading '#' or space, a trailing space and control
 * bytes escaped. TW_E_TOO_LARGE when out is too small, TW_E_INVALID for an empty value.
 */
tw_rc dir_dn_escape(const char *value, char *out, size_t size, struct tw_error *err);

/*
 * The ldapi:// URL of a socket path (percent-encoded as libldap and slapd expect), into
 * out. TW_E_TOO_LARGE when out is too small.
 */
tw_rc dir_ldapi_url(const char *path, char *out, size_t size, struct tw_error *err);

/*
 * Write a slapd.conf for this home's directory into dir (created 0700; data in dir/data):
 * the suffix [dir] base on back_mdb, the core/cosine/inetorgperson schemas, anonymous
 * binds disallowed and authentication required, the publisher's uid (ldapi peer
 * credentials) mapped to the rootdn, read access for the participants' authorisation
 * identities only. publisher_uid/frontend_uid: the uids of the worker and the api
 * (the same in a home without [privsep]). *slapd_args gets the command line to start it
 * (caller frees).
 */
tw_rc dir_slapd_conf_write(const struct tw_home *home, const char *dir,
	unsigned publisher_uid, unsigned frontend_uid, char **slapd_args, struct tw_error *err);

/* ---- publisher (worker) ---- */

struct dir_publisher;
struct dir_drain_result {
	int64_t published;        /* certificates written (entries updated) */
	int64_t crls;             /* CRLs written */
	int64_t pending;          /* left over afterwards */
	int64_t oldest_ms;        /* when the oldest left-over became pending; 0: none */
};

/*
 * Open a publisher for home (borrowed; store borrowed). Needs [dir] ldapi (default
 * DIR_DEFAULT_LDAPI). Does not connect yet.
 */
tw_rc dir_publisher_new(const struct tw_home *home, struct tw_store *store,
	struct dir_publisher **out, struct tw_error *err);
void dir_publisher_free(struct dir_publisher *p);
/*
 * Publish what is pending (at most limit certificates; 0 = all) and every new CRL. On a
 * directory error the rest stays pending (TW_E_UNAVAILABLE when slapd cannot be reached);
 * res tells how far it got.
 */
tw_rc dir_publisher_drain(struct dir_publisher *p, int64_t limit,
	struct dir_drain_result *res, struct tw_error *err);

/*
 * The worker's schedule: when [dir] publish is "yes" (default: yes when [dir] ldapi or
 * [dir] listen is set), drain every [dir] publish_interval seconds (5) and raise an
 * outage alert once when the oldest pending publication is older than [dir] alert_after
 * seconds (600). *out NULL (TW_OK) when publishing is off.
 */
struct dir_worker;
tw_rc dir_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct dir_worker **out, struct tw_error *err);
void dir_worker_stop(struct dir_worker *w);

/* ---- front end (api) ---- */

struct dir_front;
/* Start the LDAPS front end on base when [dir] listen is set (*out NULL otherwise). */
tw_rc dir_front_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct dir_front **out, struct tw_error *err);
void dir_front_free(struct dir_front *f);

#endif
