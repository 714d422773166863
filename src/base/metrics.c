/*
 * metrics.c: Prometheus text format helpers (see metrics.h).
 */
#include "base/metrics.h"

#include <stdio.h>
#include <string.h>

const double tw_metrics_bucket_le[TW_METRICS_BUCKETS] = {
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
};

void tw_histogram_observe(struct tw_histogram *h, uint64_t us)
{
	size_t i = 0;

	while (i < TW_METRICS_BUCKETS && (double)us > tw_metrics_bucket_le[i] * 1e6)
		i++;
	/* Past the last bound: only count and sum (the +Inf bucket is the count). */
	if (i < TW_METRICS_BUCKETS)
		atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

tw_rc tw_metrics_family(struct tw_buf *out, const char *name, const char *type,
	const char *help, struct tw_error *err)
{
	return tw_buf_appendf(out, err, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="escaped value"} or name, into out. */
static tw_rc metrics_series(struct tw_buf *out, const char *name, const char *label,
	const char *value, struct tw_error *err)
{
	tw_rc rc = tw_buf_appendf(out, err, "%s", name);

	if (rc != TW_OK || label == NULL)
		return rc;
	if ((rc = tw_buf_appendf(out, err, "{%s=\"", label)) != TW_OK)
		return rc;
	for (const char *p = value != NULL ? value : ""; *p != '\0' && rc == TW_OK; p++) {
		if (*p == '\\')
			rc = tw_buf_append(out, "\\\\", 2, err);
		else if (*p == '"')
			rc = tw_buf_append(out, "\\\"", 2, err);
		else if (*p == '\n')
			rc = tw_buf_append(out, "\\n", 2, err);
		else
			rc = tw_buf_append(out, p, 1, err);
	}
	return rc != TW_OK ? rc : tw_buf_append(out, "\"}", 2, err);
}

tw_rc tw_metrics_sample(struct tw_buf *out, const char *name, const char *label,
	const char *value, uint64_t v, struct tw_error *err)
{
	tw_rc rc = metrics_series(out, name, label, value, err);

	return rc != TW_OK ? rc : tw_buf_appendf(out, err, " %llu\n", (unsigned long long)v);
}

tw_rc tw_metrics_sample_double(struct tw_buf *out, const char *name, const char *label,
	const char *value, double v, struct tw_error *err)
{
	tw_rc rc = metrics_series(out, name, label, value, err);

	return rc != TW_OK ? rc : tw_buf_appendf(out, err, " %.6f\n", v);
}

tw_rc tw_metrics_histogram(struct tw_buf *out, const char *name, const char *help,
	const struct tw_histogram *h, struct tw_error *err)
{
	uint64_t cum = 0, count = atomic_load_explicit(&h->count, memory_order_relaxed);
	uint64_t sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	tw_rc rc = tw_metrics_family(out, name, "histogram", help, err);

	for (size_t i = 0; i < TW_METRICS_BUCKETS && rc == TW_OK; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		/* A bucket read before a concurrent count update must not exceed +Inf. */
		if (cum > count)
			count = cum;
		rc = tw_buf_appendf(out, err, "%s_bucket{le=\"%g\"} %llu\n", name,
			tw_metrics_bucket_le[i], (unsigned long long)cum);
	}
	if (rc == TW_OK)
		rc = tw_buf_appendf(out, err, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n"
			"%s_count %llu\n", name, (unsigned long long)count, name,
			(double)sum_us / 1e6, name, (unsigned long long)count);
	return rc;
}
