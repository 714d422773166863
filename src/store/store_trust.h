/*
 * store_trust.h: the CRLs of other SM-PKI CAs (table trust_crls of the migration
 * dir_trust; owner: src/pki/trust*.c). See docs/pki-services.md "Trust across the
 * SM-PKI".
 */
#ifndef TORWART_STORE_STORE_TRUST_H
#define TORWART_STORE_STORE_TRUST_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

#define STORE_TRUST_URL_MAX 1024

struct store_trust_crl {
	char issuer[STORE_TEXT_MAX + 1];
	char url[STORE_TRUST_URL_MAX + 1];
	int64_t number;
	int64_t this_update;          /* s since the epoch */
	int64_t next_update;
	int64_t fetched_ms;           /* 0: never fetched */
	int64_t attempt_ms;
	char last_error[STORE_TEXT_MAX + 1];
	unsigned char *der;           /* owned (NULL: not fetched yet); store_trust_crl_clear */
	size_t der_len;
};

void store_trust_crl_clear(struct store_trust_crl *c);
/* The row of issuer. TW_E_NOT_FOUND when there is none. */
tw_rc store_trust_crl_get(struct tw_store *store, const char *issuer,
	struct store_trust_crl *out, struct tw_error *err);
/* A source to fetch: a row for issuer with url, unless one exists (then unchanged). */
tw_rc store_trust_crl_source(struct tw_store *store, const char *issuer, const char *url,
	struct tw_error *err);
/* A verified CRL fetched: der and its fields replace the row's, last_error cleared. */
tw_rc store_trust_crl_put(struct tw_store *store, const struct store_trust_crl *c,
	struct tw_error *err);
/* A failed fetch: attempt time and error recorded, the cached CRL kept. */
tw_rc store_trust_crl_failed(struct tw_store *store, const char *issuer, int64_t attempt_ms,
	const char *error, struct tw_error *err);
/* Every row, without der (the fetcher's worklist). Return non-zero to stop. */
typedef int (*store_trust_crl_cb)(const struct store_trust_crl *c, void *arg);
tw_rc store_trust_crl_foreach(struct tw_store *store, store_trust_crl_cb cb, void *arg,
	struct tw_error *err);

#endif
