/*
 * trust.h: trust across the SM-PKI (issue 11 s.5). The SM-PKI has one Root and several
 * Sub-CAs; participants and gateways hold certificates of any of them. Torwart trusts
 * the Root(s) configured in [trust] anchors and the Sub-CA certificates in [trust] cas
 * (each verified against the anchors when loaded), and accepts a certificate of one of
 * those CAs it did not issue itself only while a current CRL of its issuer, fetched from
 * the distribution point in the certificates and verified against the issuer, says it is
 * not revoked. No CRL, or one past its nextUpdate: refused (fail closed).
 *
 * Who does what: the edges (api: directory front end; the web service and the wan can
 * call trust_check the same way) call trust_check; an issuer seen for the first time is
 * recorded as a CRL source (its certificate's HTTP distribution point) for the worker,
 * which fetches every source on a schedule, before nextUpdate, verifies and caches the
 * CRL in the store (store_trust.h) and raises an outage alert when a CA's CRL goes stale.
 * docs/pki-services.md "Trust across the SM-PKI".
 */
#ifndef TORWART_PKI_TRUST_H
#define TORWART_PKI_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct trust_set;

/*
 * Load [trust] anchors (PEM files, default pki/root-ca.crt) and [trust] cas (PEM files of
 * other Sub-CAs; may be absent). Every CA certificate must chain to an anchor (strict
 * X.509 checks) or the load fails naming the file. *out NULL (TW_OK) when [trust] is
 * absent from the configuration: only this home's own certificates are then accepted.
 */
tw_rc trust_set_load(const struct tw_home *home, struct trust_set **out,
	struct tw_error *err);
/* The same from certificates in memory (tests, fuzzing): references are taken. */
tw_rc trust_set_new(STACK_OF(X509) *anchors, STACK_OF(X509) *cas, struct trust_set **out,
	struct tw_error *err);
void trust_set_free(struct trust_set *ts);

/*
 * Add ca (a reference is taken) to ts without the chain check of trust_set_load: for the
 * trusted CAs of a GWA certificate-management context (gwa_context.h), which the operator
 * configured as anchors of their own (HAN, CLS devices outside the SM-PKI). Only their
 * CRLs are checked against them; chains are the caller's X509_STORE's business.
 */
tw_rc trust_set_add_ca(struct trust_set *ts, X509 *ca, struct tw_error *err);

/* The trusted CA certificate (anchor or Sub-CA) whose subject is name; NULL if none. */
X509 *trust_set_ca(const struct trust_set *ts, const X509_NAME *name);

/* The one-line RFC 2253 form of a name (the store keys CRLs by it and the CA's key). */
tw_rc trust_name_text(const X509_NAME *name, char *out, size_t size, struct tw_error *err);

/*
 * A CRL as bytes from outside (a distribution point): parsed (DER), issued by a trusted
 * CA of ts (out_issuer gets its name text), signature verified with that CA's key,
 * thisUpdate not in the future (5 min skew), nextUpdate present and after thisUpdate.
 * TW_E_CRYPTO for a bad signature, TW_E_INVALID for anything malformed,
 * TW_E_NOT_FOUND for an issuer that is not trusted.
 */
struct trust_crl_info {
	char issuer[1024];           /* "<RFC 2253 name> #<8 bytes of SHA-256(SPKI)>": the key */
	int64_t number;              /* CRL number extension, 0 when absent */
	int64_t this_update;         /* s since the epoch */
	int64_t next_update;
};
tw_rc trust_crl_check(const struct trust_set *ts, const unsigned char *der, size_t len,
	int64_t now_s, struct trust_crl_info *out, struct tw_error *err);

/*
 * Is cert (already verified by TLS to a chain of ts) valid by its issuer's current CRL?
 * TW_OK: yes. TW_E_DENIED: revoked (message says so). TW_E_UNAVAILABLE: no current CRL of
 * the issuer (none fetched yet: the issuer's HTTP distribution point is recorded as a
 * source for the worker; or past nextUpdate: stale). TW_E_NOT_FOUND: issuer not trusted.
 */
tw_rc trust_check(struct tw_store *store, const struct trust_set *ts, X509 *cert,
	int64_t now_s, struct tw_error *err);

/*
 * Fetch the current CRL of cert's issuer (a CA of ts) now, from cert's distribution
 * point (http:// preferred, else ldap://; at most timeout_s per step and max bytes),
 * verify it (trust_crl_check, same issuer key, never an older CRL number than the
 * cached one) and cache it in the store like the worker's fetcher does. For callers that
 * must answer at once (context validation) instead of waiting for the worker's schedule.
 * TW_E_NOT_FOUND: issuer not in ts or no distribution point; TW_E_UNAVAILABLE: the
 * distribution point did not answer; otherwise trust_crl_check's codes. A failure is
 * recorded on the issuer's row (last_error), the cached CRL kept.
 */
tw_rc trust_crl_refresh(struct tw_store *store, const struct trust_set *ts, X509 *cert,
	long timeout_s, size_t max, struct tw_error *err);
/*
 * One HTTP/1.1 GET of an http:// URL on a private event base (libevent's evhttp, the
 * fetcher's client), body (at most max bytes, status 200) into *der (caller frees).
 * TW_E_UNAVAILABLE when there is no answer or another status, TW_E_INVALID for a URL
 * that is not http://.
 */
tw_rc trust_http_fetch(const char *url, long timeout_s, size_t max, unsigned char **der,
	size_t *len, struct tw_error *err);

/*
 * A participant certificate of another Sub-CA presented at an edge (ws caller, wan EMT,
 * an EMT's delivery endpoint): the one call each edge makes for a certificate that is not
 * in its own store. ts NULL or an issuer that is no trusted CA: TW_E_NOT_FOUND (the edge
 * keeps its own "unknown certificate" refusal). Otherwise the certificate must be a TLS
 * certificate (EKU clientAuth or serverAuth) whose subject follows the SM-PKI naming
 * (CN "<name>.<ROLE>.<...>", OU the market partner id), of role (e.g. "EMT"; NULL: any
 * of EMT, GWA, GWH), and trust_check must pass: TW_E_DENIED (revoked, wrong role or
 * usage), TW_E_UNAVAILABLE (no or a stale CRL), as trust_check. out is filled on TW_OK
 * and, as far as known, on refusals (for the log).
 */
struct trust_participant {
	char role[8];                /* "EMT", "GWA", "GWH" (from the CN) */
	char cn[128];                /* subject CN */
	char mp_id[32];              /* subject OU: the market partner id */
	char ca[128];                /* issuer CN */
};
tw_rc trust_check_participant(struct tw_store *store, const struct trust_set *ts,
	X509 *cert, const char *role, int64_t now_s, struct trust_participant *out,
	struct tw_error *err);

/*
 * An ldap:// CRL distribution point (RFC 4516 URL, as the real SM-PKI certificates name:
 * ldap://host/<dn>?certificateRevocationList): parsed with libldap's URL parser and
 * checked: plain ldap:// (Debian's libldap speaks TLS through GnuTLS, which has no
 * brainpool curves; the CRL is signed, so the transport needs no protection), a host, a
 * DN, base scope, one attribute that is certificateRevocationList or
 * authorityRevocationList (default certificateRevocationList), no extensions that are
 * critical. TW_E_INVALID with a message otherwise.
 */
struct trust_ldap_target {
	char uri[300];               /* "ldap://host:port" */
	char dn[512];
	char attr[64];               /* without ";binary" */
};
tw_rc trust_ldap_target_parse(const char *url, struct trust_ldap_target *out,
	struct tw_error *err);
/*
 * One anonymous base search of t (network and operation time-out timeout_s each): the
 * single value of t->attr (or its ;binary form) into *der (caller frees), at most max
 * bytes. TW_E_UNAVAILABLE when the directory cannot be reached, TW_E_NOT_FOUND when the
 * entry or attribute is absent, TW_E_TOO_LARGE, TW_E_INVALID for several values. Blocks
 * the caller (the worker's fetcher) for at most about 2 * timeout_s.
 */
tw_rc trust_ldap_fetch(const struct trust_ldap_target *t, long timeout_s, size_t max,
	unsigned char **der, size_t *len, struct tw_error *err);

/*
 * The same read from an ldaps://host[:port]/<dn> URL (port 636 by default) over a TLS
 * connection made by OpenSSL with ctx (the caller's client context: its certificate is
 * the client authentication, e.g. the GWA's with the key in the signer; its trust file
 * checks the directory), the directory's certificate checked against the URL's host;
 * libldap runs on that connection through an OpenSSL Sockbuf layer (trust_ldap_tls.c),
 * because its own TLS (GnuTLS) has no brainpool curves. attr is the attribute to read
 * (e.g. "userCertificate"). TW_E_TLS when the handshake fails (refused certificate,
 * untrusted directory), otherwise as trust_ldap_fetch.
 */
tw_rc trust_ldaps_fetch(SSL_CTX *ctx, const char *url, const char *attr, long timeout_s,
	size_t max, unsigned char **der, size_t *len, struct tw_error *err);

/*
 * The worker's schedule ([trust] present): every [trust] refresh_interval seconds (60)
 * fetch each source whose CRL is missing, older than [trust] refetch_after
 * seconds (3600), or within a quarter of its validity of nextUpdate (http:// with
 * libevent, ldap:// with libldap: trust_ldap_fetch); verify
 * (trust_crl_check) and store it; one outage alert per CA whose CRL is stale.
 */
struct trust_fetcher;
tw_rc trust_fetcher_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct trust_fetcher **out, struct tw_error *err);
void trust_fetcher_stop(struct trust_fetcher *f);

#endif
