/*
 * api_operator.h: the operator API, HTTPS with mandatory client certificates issued by
 * the operator CA ([api] tls_listen), next to api.c's plain-HTTP listener (/health,
 * /crl/...). Endpoints and their JSON are documented in docs/security.md.
 */
#ifndef TORWART_API_API_OPERATOR_H
#define TORWART_API_API_OPERATOR_H

#include <event2/event.h>

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct api_operator;

/*
 * Start the HTTPS listener on base when [api] tls_listen is set; *out stays NULL (and
 * TW_OK) when it is not, so a home without an operator CA still serves /health.
 * home and store are borrowed for the listener's lifetime. Free with api_operator_free.
 */
tw_rc api_operator_start(struct event_base *base, const struct tw_home *home,
	struct tw_store *store, struct api_operator **out, struct tw_error *err);
void api_operator_free(struct api_operator *op);

/* metrics_render_fn of the api (net/metrics_http.h): request and login counters. */
struct tw_buf;
tw_rc api_operator_metrics(struct tw_buf *out, void *arg, struct tw_error *err);

#endif
