/*
 * crl.h: full CRLs of our CAs (DOMAIN.md S-5, T-SZ.7/8).
 *
 * A CRL is encoded by streaming the revoked certificates from the store straight into
 * DER (one pass, no OpenSSL object per entry), the TBSCertList is signed by the signer
 * (purpose crl; the CA key never leaves it), and the CertificateList is written to
 * the configured crl_publish_path atomically. The store keeps number, times, SHA-256 and a dirty flag
 * (store_ca.h); the api serves the file, the worker regenerates it.
 *
 * Configuration: the CAs that publish CRLs are listed in [ca] crl_cas (space-separated,
 * default "sub-ca"); everything else per CA comes from [ca.<name>] (profile.h,
 * struct pki_ca_config): key_label, cert, crl_publish_path, crl_next_update_hours,
 * crl_interval_minutes. The worker regenerates a CRL when it is dirty (a revocation
 * happened), older than crl_interval_minutes, or within a quarter of its validity of
 * nextUpdate.
 */
#ifndef TORWART_PKI_CRL_H
#define TORWART_PKI_CRL_H

#include <stdint.h>

#include "base/error.h"
#include "base/home.h"
#include "crypto/signer.h"
#include "store/store.h"

#define CRL_DEFAULT_CA "sub-ca"
#define CRL_DELTA_SUFFIX "-delta"   /* store row and URL of a CA's delta CRL */
/* Longest revoked list we encode (bytes): 1.5 GiB keeps every length in 32 bits. */
#define CRL_MAX_BYTES ((size_t)1536 * 1024 * 1024)

struct crl_result {
	int64_t number;
	int64_t entries;
	size_t der_len;
	char sha256[65];
	char path[1024];
	/* Wall time of the phases (ms, also in the info log line): the store read and the
	 * entries encoded, the TBSCertList signed and its signature checked, the file
	 * finished, synced and renamed. */
	int64_t scan_ms, sign_ms, write_ms;
	/* CPU time (ms) during the first phase of the thread reading the store and of the
	 * one encoding and writing the entries: the larger one bounds that phase. */
	int64_t scan_reader_cpu_ms, scan_encoder_cpu_ms;
	/* Temporary files of crashed writers of this CRL removed before it was written
	 * ("<crl>.tmp.<pid>" whose writer is gone; a warning names each). */
	int stale_tmp_removed;
};

/*
 * Generate, sign, write and record the CRL of CA `ca` now. sc must be connected (its
 * actor is the one the signer audits). The admin log gets "ca.crl.generate" in the same
 * transaction as the metadata. TW_E_NOT_FOUND when the CA certificate is missing.
 */
tw_rc crl_generate(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, struct crl_result *res,
	struct tw_error *err);
/*
 * crl_generate reporting its progress: fn (may be NULL) is called every
 * CRL_PROGRESS_ENTRIES revoked certificates read (done, total 0: not known yet) and, for a
 * CRL streamed to the signer, after each chunk signed (done of total). fn only displays.
 */
#define CRL_PROGRESS_ENTRIES 10000
typedef void (*crl_progress_fn)(void *arg, const char *phase, int64_t done, int64_t total);
tw_rc crl_generate_progress(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, crl_progress_fn fn,
	void *arg, struct crl_result *res, struct tw_error *err);

/*
 * The delta CRL (RFC 5280 5.2.4) of CA `ca` ([ca.<name>] delta_crl = yes): the revocations
 * since its base, the current full CRL, whose number it names in a critical
 * deltaCRLIndicator; it shares the full CRL's number sequence. Written to
 * delta_crl_publish_path, recorded as store row "<ca>-delta" (served at
 * /crl/<ca>-delta.crl), audited as "ca.crl.delta". TW_E_NOT_FOUND without a full CRL,
 * TW_E_CONFIG when the CA has no delta CRLs configured. The full CRL carries freshestCRL
 * naming delta_crl_url when that is set.
 */
tw_rc crl_generate_delta(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, struct crl_result *res,
	struct tw_error *err);

/*
 * The worker's schedule: for each configured CA, regenerate when it has no CRL, is dirty,
 * is older than crl_interval, or is near its nextUpdate; its delta CRL (if configured)
 * after every full CRL and every delta_crl_interval_minutes. Opens the signer only when
 * something is due. *generated counts the CRLs written (full and delta).
 */
tw_rc crl_schedule_tick(const struct tw_home *home, struct tw_store *store, int *generated,
	struct tw_error *err);

/*
 * The worker's CRL timer: runs crl_schedule_tick every [ca] crl_check_interval seconds
 * (default 60, 1..86400) and once at start. home and store are borrowed and must
 * outlive it. crl_worker_stop(NULL) is fine.
 */
struct event_base;
struct crl_worker;
tw_rc crl_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct crl_worker **out, struct tw_error *err);
void crl_worker_stop(struct crl_worker *w);

/* Absolute path of a home-relative or absolute configured path (caller frees; NULL: no memory). */
char *crl_home_path(const struct tw_home *home, const char *path);

#endif
