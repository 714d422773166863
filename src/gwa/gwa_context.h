/*
 * gwa_context.h: the per-GWA certificate-management context (issue 12, DOMAIN.md S-8,
 * seed sen-pki-leistungsbeschreibung section 4.6; docs/renewal.md "The certificate-
 * management context"). A context is a tenant: the SM-PKI certificates this home issued
 * to its gateways (and, for the home's own tenant, to the GWA) plus the foreign
 * certificates and trusted non-SM-PKI CAs kept in store_gwa_context.h.
 *
 * Every action is one transaction with its admin-log entry "context.<what>", object
 * "context:<tenant> ...". The caller resolves the tenant (gwa_ctx_open) on its (possibly
 * tenant-scoped) store: a context of another tenant is "not found", like a missing one.
 */
#ifndef TORWART_GWA_GWA_CONTEXT_H
#define TORWART_GWA_GWA_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct gwa_ctx {
	struct tw_store *store;               /* borrowed */
	const struct tw_home *home;           /* borrowed */
	int64_t tenant_id;
	char name[STORE_ID_MAX + 1];
	const char *actor, *role, *client;    /* borrowed: who acts (admin log) */
};

/* Resolve context name on store; TW_E_NOT_FOUND for an unknown or another tenant's. */
tw_rc gwa_ctx_open(struct gwa_ctx *ctx, const struct tw_home *home, struct tw_store *store,
	const char *name, struct tw_error *err);

/*
 * Import a certificate (PEM or DER, one) under label, optionally assigned to gateway_id
 * (a gateway of this tenant: TW_E_NOT_FOUND otherwise). TW_E_INVALID for bytes that are
 * no certificate; TW_E_EXISTS when the context holds it already. Status "unchecked".
 */
tw_rc gwa_ctx_import(struct gwa_ctx *ctx, const unsigned char *in, size_t len,
	const char *label, const char *gateway_id, int64_t *id, struct tw_error *err);
/*
 * Fetch a foreign certificate from an LDAP directory (DOMAIN.md S-8) and import it like
 * gwa_ctx_import: url is ldap://host[:port]/<dn>[?userCertificate[;binary]] (RFC 4516,
 * base scope, checked by trust_ldap_target_parse), the entry's single userCertificate
 * value is read with an anonymous search (timeout_s per step). TW_E_UNAVAILABLE when the
 * directory cannot be reached, TW_E_NOT_FOUND when the entry or attribute is absent. One
 * more admin-log entry context.fetch names the URL. An ldaps://host[:port]/<dn> URL is
 * read over TLS with the GWA's TLS certificate as client authentication (the seed's "bind
 * with the GWA's TLS certificate"; trust_ldaps_fetch): [context] ldap_cert (default
 * pki/gwa-tls.crt), its key in the signer (or [context] ldap_key), the directory's
 * certificate checked against [context] ldap_trust (default pki/chain.pem) and the host.
 */
tw_rc gwa_ctx_fetch(struct gwa_ctx *ctx, const char *url, const char *label,
	const char *gateway_id, long timeout_s, int64_t *id, struct tw_error *err);
/* Replace entry id's certificate (label and gateway kept unless given). */
tw_rc gwa_ctx_replace(struct gwa_ctx *ctx, int64_t id, const unsigned char *in, size_t len,
	const char *label, const char *gateway_id, struct tw_error *err);
tw_rc gwa_ctx_delete(struct gwa_ctx *ctx, int64_t id, struct tw_error *err);

/* A trusted CA for non-SM-PKI certificates: must be a CA certificate (basicConstraints). */
tw_rc gwa_ctx_trust_add(struct gwa_ctx *ctx, const unsigned char *in, size_t len,
	int64_t *id, struct tw_error *err);
tw_rc gwa_ctx_trust_remove(struct gwa_ctx *ctx, int64_t id, struct tw_error *err);

/*
 * Validate every foreign certificate of the context: validity period (expired), chain to
 * the SM-PKI (pki/root-ca.crt, pki/chain.pem) or to a trusted CA of the context
 * (untrusted otherwise), revocation against the CRLs this home publishes ([ca] crl_cas,
 * crl/<ca>.crl) when one is from the certificate's issuer, else against the current CRL
 * of its issuer when that is another SM-PKI CA ([trust] anchors/cas) or a trusted CA of
 * the context: the cached one (store_trust.h), fetched at once from the certificate's
 * http:// or ldap:// distribution point when none is cached or it is past nextUpdate
 * (trust_crl_refresh, [context] crl_timeout s). No current CRL (missing, stale, no
 * distribution point, issuer unknown to the trust set): "unknown", never "valid"
 * (TR-03109-4 freshness). And the SM-PKI certificates of the context by their inventory
 * status and end. A certificate that turned expired, revoked or unknown raises a
 * context-certificate alert (the alert path: webhook / e-mail of its role).
 * Counts in out; one context.validate admin-log entry.
 */
struct gwa_ctx_summary {
	size_t checked, valid, expired, revoked, untrusted, unknown, alerts;
};
tw_rc gwa_ctx_validate(struct gwa_ctx *ctx, struct gwa_ctx_summary *out,
	struct tw_error *err);

/*
 * The scheduled validation (DOMAIN.md S-8 "scheduled validation"): when now_ms has
 * reached *next_ms, validate every context that holds foreign certificates (actor
 * system:worker) and set *next_ms to now + [context] validate_interval seconds (default
 * 86400; 0 = never). Called by the worker's renewal timer. Failures are logged.
 */
void gwa_ctx_validate_scheduled(const struct tw_home *home, struct tw_store *store,
	int64_t now_ms, int64_t *next_ms);

#endif
