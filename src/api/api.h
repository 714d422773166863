/*
 * api.h: the operator/EMT-facing service (`torwartd api`). Today: health and read-only
 * status over HTTP on the configured address; the REST API, SOAP service and CRL
 * distribution grow here (issues 3-5).
 */
#ifndef TORWART_API_API_H
#define TORWART_API_API_H

#include "base/error.h"
#include "base/home.h"

tw_rc api_run(const struct tw_home *home, struct tw_error *err);

#endif
