/* job_bucket.c: token buckets for wake-ups (see job_bucket.h for why). */
#include "gwa/job_bucket.h"

#include <string.h>

void job_bucket_init(struct job_bucket *b, double rate, double burst, int64_t now_ms)
{
	b->rate = rate > 0 ? rate : 1;
	b->burst = burst >= 1 ? burst : 1;
	b->tokens = b->burst;
	b->last_ms = now_ms;
}

double job_bucket_refill(struct job_bucket *b, int64_t now_ms)
{
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ms = now_ms;
	}
	return b->tokens;
}

bool job_bucket_take(struct job_bucket *b, int64_t now_ms)
{
	if (job_bucket_refill(b, now_ms) < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

void job_pacer_init(struct job_pacer *p, double rate, double burst, double tenant_rate,
	double tenant_burst, int64_t now_ms)
{
	memset(p, 0, sizeof(*p));
	job_bucket_init(&p->global, rate, burst, now_ms);
	p->tenant_rate = tenant_rate;
	p->tenant_burst = tenant_burst;
}

static struct job_bucket *tenant_bucket(struct job_pacer *p, int64_t tenant_id,
	int64_t now_ms)
{
	for (size_t i = 0; i < p->ntenants; i++)
		if (p->tenant_ids[i] == tenant_id)
			return &p->tenants[i];
	if (p->ntenants == JOB_BUCKET_TENANTS_MAX) {
		/* More tenants than slots: recycle the fullest bucket (it is idle). */
		size_t best = 0;

		for (size_t i = 1; i < p->ntenants; i++)
			if (job_bucket_refill(&p->tenants[i], now_ms) >
			    job_bucket_refill(&p->tenants[best], now_ms))
				best = i;
		p->tenant_ids[best] = tenant_id;
		job_bucket_init(&p->tenants[best], p->tenant_rate, p->tenant_burst, now_ms);
		return &p->tenants[best];
	}
	p->tenant_ids[p->ntenants] = tenant_id;
	job_bucket_init(&p->tenants[p->ntenants], p->tenant_rate, p->tenant_burst, now_ms);
	return &p->tenants[p->ntenants++];
}

bool job_pacer_take(struct job_pacer *p, int64_t tenant_id, int64_t now_ms)
{
	struct job_bucket *t = tenant_bucket(p, tenant_id, now_ms);

	if (job_bucket_refill(&p->global, now_ms) < 1.0 || job_bucket_refill(t, now_ms) < 1.0)
		return false;
	p->global.tokens -= 1.0;
	t->tokens -= 1.0;
	return true;
}

size_t job_pacer_available(struct job_pacer *p, int64_t now_ms)
{
	double t = job_bucket_refill(&p->global, now_ms);

	return t < 1.0 ? 0 : (size_t)t;
}

size_t job_pacer_empty_tenants(struct job_pacer *p, int64_t now_ms, int64_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->ntenants && n < max; i++)
		if (job_bucket_refill(&p->tenants[i], now_ms) < 1.0)
			out[n++] = p->tenant_ids[i];
	return n;
}
