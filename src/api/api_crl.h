/*
 * api_crl.h: CRL distribution over plain HTTP (DOMAIN.md S-5: CRLs are public, no OCSP in
 * the SM-PKI). One GET/HEAD route /crl/<ca>.crl per CA of [ca] crl_cas.
 */
#ifndef TORWART_API_API_CRL_H
#define TORWART_API_API_CRL_H

#include <event2/http.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

/*
 * Register the routes on http. store is borrowed and must outlive http (api.c's own
 * connection). At most API_CRL_MAX_CAS CAs; more is TW_E_CONFIG.
 */
#define API_CRL_MAX_CAS 16
tw_rc api_crl_register(struct evhttp *http, const struct tw_home *home,
	struct tw_store *store, struct tw_error *err);

#endif
