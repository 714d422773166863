/*
 * worker.h: jobs and schedules (`torwartd worker`). Today: periodic admin-log chain
 * verification with an error log line on tampering; jobs, wake-ups and CRL schedules
 * come with issues 3 and 4.
 */
#ifndef TORWART_WORKER_WORKER_H
#define TORWART_WORKER_WORKER_H

#include "base/error.h"
#include "base/home.h"

tw_rc worker_run(const struct tw_home *home, struct tw_error *err);

#endif
