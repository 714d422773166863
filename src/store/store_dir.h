/*
 * store_dir.h: the publication state of the LDAP directory (issue 11 s.3; tables
 * dir_published and dir_crl_published of the migration dir_trust; owner: src/dir).
 *
 * The queue is derived, not filled: a certificate is pending while it has no
 * dir_published row with its current status (see the migration for why). Only
 * SM-PKI certificates are published: operator certificates (owner kind "operator",
 * issued by the internal operator CA) never are.
 */
#ifndef TORWART_STORE_STORE_DIR_H
#define TORWART_STORE_STORE_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

struct store_dir_cert {
	int64_t id;
	char serial_hex[STORE_ID_MAX + 1];
	char status[16];                 /* "valid", "revoked" */
	char owner_kind[16];
	char usage[8];
	char subject[STORE_TEXT_MAX + 1];
	char issuer[STORE_TEXT_MAX + 1];
	int64_t since_ms;                /* revoked_ms, else not_before (s) * 1000 */
	const unsigned char *der;        /* borrowed for the callback only */
	size_t der_len;
};
/* Return non-zero to stop the walk. */
typedef int (*store_dir_cert_cb)(const struct store_dir_cert *c, void *arg);

/* Pending certificates, oldest id first, at most limit. */
tw_rc store_dir_pending(struct tw_store *store, int limit, store_dir_cert_cb cb, void *arg,
	struct tw_error *err);
/* Every certificate of (issuer, subject) that is published (status valid, not expired at
 * now_s), any owner kind except operator. */
tw_rc store_dir_subject_valid(struct tw_store *store, const char *issuer,
	const char *subject, int64_t now_s, store_dir_cert_cb cb, void *arg,
	struct tw_error *err);
/* The certificate is in the directory with this status. */
tw_rc store_dir_mark(struct tw_store *store, int64_t cert_id, const char *status,
	int64_t now_ms, struct tw_error *err);
/* Number of pending certificates and the time the oldest became pending (0: none). */
tw_rc store_dir_backlog(struct tw_store *store, int64_t *pending, int64_t *oldest_ms,
	struct tw_error *err);
/* Forget everything published: the next drain publishes every certificate and CRL. */
tw_rc store_dir_reset(struct tw_store *store, struct tw_error *err);

struct store_dir_crl {
	char ca[STORE_ID_MAX + 1];
	int64_t number;
	char path[STORE_TEXT_MAX + 1];
};
typedef int (*store_dir_crl_cb)(const struct store_dir_crl *c, void *arg);
/* CRLs (ca_crls rows) whose current number is not in the directory yet. */
tw_rc store_dir_crl_pending(struct tw_store *store, store_dir_crl_cb cb, void *arg,
	struct tw_error *err);
tw_rc store_dir_crl_mark(struct tw_store *store, const char *ca, int64_t number,
	int64_t now_ms, struct tw_error *err);

#endif
