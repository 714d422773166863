/*
 * firmware_worker.h: the worker's timer for the daily firmware check (M-4.5.19):
 * firmware_check_all at start and every [firmware] check_interval seconds (default
 * 86400, 60 .. 604800). home and store are borrowed and must outlive it;
 * firmware_worker_stop(NULL) is fine.
 */
#ifndef TORWART_GWA_FIRMWARE_WORKER_H
#define TORWART_GWA_FIRMWARE_WORKER_H

#include "base/error.h"
#include "base/home.h"
#include "store/store.h"

struct event_base;
struct firmware_worker;
tw_rc firmware_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct firmware_worker **out, struct tw_error *err);
void firmware_worker_stop(struct firmware_worker *w);

#endif
