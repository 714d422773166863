/*
 * job_bucket.h: token buckets that pace wake-ups (T-WU.4, capacity planning).
 *
 * A fleet order must never release more wake-ups per second than wan can handshake:
 * each wake-up needs one token from the global bucket and one from its tenant's bucket
 * (so one tenant's fleet order cannot starve the others). Buckets refill continuously
 * at `rate` tokens per second up to `burst`. Pure arithmetic on a caller-given clock,
 * so tests drive time.
 */
#ifndef TORWART_GWA_JOB_BUCKET_H
#define TORWART_GWA_JOB_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_BUCKET_TENANTS_MAX 256

struct job_bucket {
	double rate;          /* tokens per second (> 0) */
	double burst;         /* capacity (>= 1) */
	double tokens;
	int64_t last_ms;
};

void job_bucket_init(struct job_bucket *b, double rate, double burst, int64_t now_ms);
/* Refill to now; returns whole tokens available. */
double job_bucket_refill(struct job_bucket *b, int64_t now_ms);
/* Take one token if available. */
bool job_bucket_take(struct job_bucket *b, int64_t now_ms);

/* A global bucket plus one per tenant (created on first use, same rate/burst). */
struct job_pacer {
	struct job_bucket global;
	double tenant_rate, tenant_burst;
	int64_t tenant_ids[JOB_BUCKET_TENANTS_MAX];
	struct job_bucket tenants[JOB_BUCKET_TENANTS_MAX];
	size_t ntenants;
};

void job_pacer_init(struct job_pacer *p, double rate, double burst, double tenant_rate,
	double tenant_burst, int64_t now_ms);
/* Take a token from the global and the tenant's bucket, or from neither. */
bool job_pacer_take(struct job_pacer *p, int64_t tenant_id, int64_t now_ms);
/* Whole tokens left in the global bucket now. */
size_t job_pacer_available(struct job_pacer *p, int64_t now_ms);
/* Tenants whose bucket is empty now (written to out, at most max). */
size_t job_pacer_empty_tenants(struct job_pacer *p, int64_t now_ms, int64_t *out, size_t max);

#endif
