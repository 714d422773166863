/*
 * signer_metrics.h: the signer's operation counters and latency, for the worker's
 * /metrics (docs/monitoring.md). The signer has no network socket (docs/security.md),
 * so it serves nothing itself: the long-running signer writes its counters in the
 * Prometheus text format to SIGNER_METRICS_FILE next to its socket (atomically, at most
 * once a second, only after a change), and the worker's /metrics includes that file.
 * No labels, subjects or data of a request go into it: operation names and numbers only.
 */
#ifndef TORWART_SIGNER_SIGNER_METRICS_H
#define TORWART_SIGNER_SIGNER_METRICS_H

#include <stdint.h>

#include "base/error.h"

#define SIGNER_METRICS_FILE "signer.metrics"

struct signer_metrics;

/* path: the file to write (owned by the object after the call; NULL = record nothing). */
struct signer_metrics *signer_metrics_new(char *path);
void signer_metrics_free(struct signer_metrics *m);
/* One request of op (signer_proto.h) that took us microseconds, failed unless rc is OK. */
void signer_metrics_observe(struct signer_metrics *m, uint8_t op, tw_rc rc, uint64_t us);
/* One TLS handshake signature (purpose tls-handshake): counted here instead of being
 * written to the admin log one by one (thousands per second). */
void signer_metrics_tls_handshake(struct signer_metrics *m, tw_rc rc);
/* Write the file if something changed and at least a second passed (force: now).
 * Returns the ms until a pending write is due, or -1 when nothing is pending. */
int signer_metrics_flush(struct signer_metrics *m, int force);

#endif
