/*
 * metrics.h: Prometheus text exposition (format 0.0.4) for the services' /metrics
 * (docs/monitoring.md, "Service metrics").
 *
 * Counters and histograms are plain C11 atomics updated with relaxed ordering: the hot
 * paths (a TLS handshake, a session) pay one atomic add, never a lock. A scrape reads
 * them without stopping anybody, so the numbers of one scrape may be a few events apart
 * from each other; Prometheus expects nothing stronger.
 *
 * Rendering appends to a tw_buf; each family's HELP and TYPE lines are written once by
 * tw_metrics_family, then its samples. Label values are escaped here (backslash, quote,
 * newline), so a label taken from data (a CA name) cannot break the format.
 */
#ifndef TORWART_BASE_METRICS_H
#define TORWART_BASE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/error.h"
#include "base/util.h"

/* Upper bounds (seconds) of the latency histograms' buckets, +Inf implied. */
#define TW_METRICS_BUCKETS 10
extern const double tw_metrics_bucket_le[TW_METRICS_BUCKETS];

struct tw_histogram {
	atomic_uint_fast64_t bucket[TW_METRICS_BUCKETS];   /* not cumulative: one per range */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

static inline void tw_counter_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* One observation of us microseconds. */
void tw_histogram_observe(struct tw_histogram *h, uint64_t us);

/* "# HELP name help\n# TYPE name type\n"; type "counter", "gauge" or "histogram". */
tw_rc tw_metrics_family(struct tw_buf *out, const char *name, const char *type,
	const char *help, struct tw_error *err);
/*
 * One sample: name{label="value"} v. label NULL: no labels. The value is escaped.
 * Integers are written exactly; tw_metrics_sample_double for fractions.
 */
tw_rc tw_metrics_sample(struct tw_buf *out, const char *name, const char *label,
	const char *value, uint64_t v, struct tw_error *err);
tw_rc tw_metrics_sample_double(struct tw_buf *out, const char *name, const char *label,
	const char *value, double v, struct tw_error *err);
/* A histogram's _bucket (cumulative), _sum (seconds) and _count lines, family included. */
tw_rc tw_metrics_histogram(struct tw_buf *out, const char *name, const char *help,
	const struct tw_histogram *h, struct tw_error *err);

#endif
