/*
 * signer_metrics.c: counters of the signer, written as a Prometheus text file (see
 * signer_metrics.h). The signer is one thread: plain counters suffice.
 */
#include "signer/signer_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "crypto/signer_proto.h"

#define SM_OPS 16                     /* op codes 0..15 (signer_proto.h has 1..11) */
#define SM_WRITE_EVERY_MS 1000

struct signer_metrics {
	char *path;
	uint64_t ops[SM_OPS], errors[SM_OPS];
	uint64_t tls_ok, tls_failed;      /* tls-handshake signatures */
	struct tw_histogram latency;
	int dirty;
	int warned;
	int64_t written_ms;
};

struct signer_metrics *signer_metrics_new(char *path)
{
	struct signer_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		free(path);
		return NULL;
	}
	m->path = path;
	m->dirty = 1;   /* the first file says "0 so far" rather than nothing */
	return m;
}

void signer_metrics_free(struct signer_metrics *m)
{
	if (m == NULL)
		return;
	free(m->path);
	free(m);
}

void signer_metrics_observe(struct signer_metrics *m, uint8_t op, tw_rc rc, uint64_t us)
{
	if (m == NULL || m->path == NULL)
		return;
	op &= (uint8_t)~SIGNER_OP_RESPONSE;
	if (op < SM_OPS) {
		m->ops[op]++;
		if (rc != TW_OK)
			m->errors[op]++;
	}
	tw_histogram_observe(&m->latency, us);
	m->dirty = 1;
}

void signer_metrics_tls_handshake(struct signer_metrics *m, tw_rc rc)
{
	if (m == NULL || m->path == NULL)
		return;
	if (rc == TW_OK)
		m->tls_ok++;
	else
		m->tls_failed++;
	m->dirty = 1;
}

static tw_rc sm_render(const struct signer_metrics *m, struct tw_buf *out,
	struct tw_error *err)
{
	tw_rc rc = tw_metrics_family(out, "torwart_signer_operations_total", "counter",
		"requests the signer answered, by operation", err);

	for (uint8_t op = 1; op < SM_OPS && rc == TW_OK; op++)
		if (strcmp(signer_op_name(op), "?") != 0 && strcmp(signer_op_name(op), "unknown") != 0)
			rc = tw_metrics_sample(out, "torwart_signer_operations_total", "op",
				signer_op_name(op), m->ops[op], err);
	if (rc == TW_OK)
		rc = tw_metrics_family(out, "torwart_signer_errors_total", "counter",
			"requests the signer refused or failed, by operation", err);
	for (uint8_t op = 1; op < SM_OPS && rc == TW_OK; op++)
		if (strcmp(signer_op_name(op), "?") != 0 && strcmp(signer_op_name(op), "unknown") != 0)
			rc = tw_metrics_sample(out, "torwart_signer_errors_total", "op",
				signer_op_name(op), m->errors[op], err);
	if (rc == TW_OK)
		rc = tw_metrics_family(out, "torwart_signer_tls_handshake_signatures_total",
			"counter", "TLS handshake signatures (not in the admin log), by result", err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(out, "torwart_signer_tls_handshake_signatures_total",
			"result", "ok", m->tls_ok, err);
	if (rc == TW_OK)
		rc = tw_metrics_sample(out, "torwart_signer_tls_handshake_signatures_total",
			"result", "failed", m->tls_failed, err);
	if (rc == TW_OK)
		rc = tw_metrics_histogram(out, "torwart_signer_operation_seconds",
			"time the signer took per request (signing by the key backend included)",
			&m->latency, err);
	return rc;
}

int signer_metrics_flush(struct signer_metrics *m, int force)
{
	int64_t now = tw_monotonic_ms();
	struct tw_buf out;
	struct tw_error err;
	char tmp[4096];
	FILE *f;

	if (m == NULL || m->path == NULL || !m->dirty)
		return -1;
	if (!force && m->written_ms != 0 && now - m->written_ms < SM_WRITE_EVERY_MS)
		return (int)(SM_WRITE_EVERY_MS - (now - m->written_ms));
	m->written_ms = now;
	m->dirty = 0;
	tw_buf_init(&out, 64 * 1024);
	snprintf(tmp, sizeof(tmp), "%s.tmp", m->path);
	if (sm_render(m, &out, &err) != TW_OK) {
		tw_warn("signer: cannot render its metrics: %s", err.message);
	} else if ((f = fopen(tmp, "w")) == NULL ||
	    fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0 ||
	    rename(tmp, m->path) != 0) {
		/* Metrics are a convenience: never a reason to stop signing. Said once. */
		if (!m->warned++)
			tw_warn("signer: cannot write %s (metrics stay stale)", m->path);
		unlink(tmp);
	}
	tw_buf_free(&out);
	return -1;
}
