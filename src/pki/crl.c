/*
 * crl.c: CRL generation by streaming (crl.h).
 *
 * Why by hand: OpenSSL's X509_CRL holds one X509_REVOKED object (several allocations)
 * per entry and sorts them, which for a million revoked certificates costs about a
 * gigabyte and seconds; `openssl ca -gencrl` does that plus parsing index.txt. Here the
 * revokedCertificates SEQUENCE is written directly from the store's rows, in a single
 * pass over one SELECT (a consistent snapshot in WAL mode), read by a thread of its own
 * while this one encodes (crl_scan). Only the fixed parts (issuer name, times, algorithm
 * identifier, extensions) are encoded by OpenSSL; we write the TLV headers around them.
 *
 * A CRL of one signer frame is built in memory. A larger one goes chunk by chunk into the
 * new file, at the offset the entries have in the finished CertificateList (crl_stream);
 * the TBSCertList is then streamed to the signer from the file, hashed for the check of
 * the signature beside it, and the headers and the rest are written around the entries.
 */
#include "pki/crl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer_proto.h"
#include "pki/ca_state.h"
#include "pki/profile.h"
#include "store/store_ca.h"

#define CRL_FIXED_MAX 2048         /* version + sigAlg + issuer + two times */
#define CRL_SERIAL_MAX 32          /* bytes of a serial we encode (RFC 5280: <= 20) */
/* Delta CRLs repeat revocations this long before their base's thisUpdate. */
#define CRL_DELTA_MARGIN_S 3600

/* ---- DER primitives (only for the hand-written parts) ---- */

static size_t der_len_size(size_t len)
{
	size_t n = 1;

	if (len >= 0x80)
		for (size_t l = len; l > 0; l >>= 8)
			n++;
	return n;
}

/* Write tag and length at p (which has room); returns the bytes written. */
static size_t der_put_header(unsigned char *p, unsigned char tag, size_t len)
{
	size_t n = der_len_size(len);

	p[0] = tag;
	if (n == 1) {
		p[1] = (unsigned char)len;
	} else {
		p[1] = (unsigned char)(0x80 | (n - 1));
		for (size_t i = 0; i < n - 1; i++)
			p[2 + i] = (unsigned char)(len >> (8 * (n - 2 - i)));
	}
	return 1 + n;
}

/* UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 5.1.2.4). out: >= 17 bytes. */
/*
 * Two decimal digits of v (0..99) at p. der_time runs once per CRL entry (a million times
 * for a large CRL): gmtime_r + snprintf were a fifth of the CRL's whole CPU time (perf, see
 * docs/performance.md), so the date is computed with integer arithmetic instead.
 */
static void put2(unsigned char *p, int v)
{
	p[0] = (unsigned char)('0' + v / 10);
	p[1] = (unsigned char)('0' + v % 10);
}

/*
 * UTCTime for 1950-2049, else GeneralizedTime (RFC 5280 4.1.2.5), with its tag and length,
 * into out (at least 17 bytes); returns the bytes written. The civil date from days since
 * the epoch is the proleptic Gregorian calendar (the era algorithm: 400-year eras of
 * 146097 days). Checked against gmtime over 1970-2280 in unit/test_ca.c.
 */
static size_t der_time(int64_t secs, unsigned char *out)
{
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int day = (int)(doy - (153 * mp + 2) / 5 + 1);
	int month = (int)(mp < 10 ? mp + 3 : mp - 9);
	int64_t year = yoe + era * 400 + (month <= 2);
	unsigned char *p = out + 2;

	if (year < 0 || year > 9999)
		year = year < 0 ? 0 : 9999;   /* outside what a CRL can say; never stored */
	if (year >= 1950 && year < 2050) {
		out[0] = 0x17;
		put2(p, (int)(year % 100));
		p += 2;
	} else {
		out[0] = 0x18;
		put2(p, (int)(year / 100));
		put2(p + 2, (int)(year % 100));
		p += 4;
	}
	put2(p, month);
	put2(p + 2, day);
	put2(p + 4, (int)(rem / 3600));
	put2(p + 6, (int)(rem / 60 % 60));
	put2(p + 8, (int)(rem % 60));
	p[10] = 'Z';
	p += 11;
	out[1] = (unsigned char)(p - out - 2);
	return (size_t)(p - out);
}

/*
 * Hex digit values plus one (0: not a hex digit). A table instead of three range tests:
 * the serial's 32 digits were most of crl_put_entry's time per entry (perf annotate).
 */
static const unsigned char hex_plus1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static int hexval(char c)
{
	return (int)hex_plus1[(unsigned char)c] - 1;
}

/* ---- the revoked list ---- */

/*
 * The revoked entries while they are produced: one chunk of at most CRL_CHUNK bytes of
 * whole entries in memory (what one signer frame carries). A CRL of one chunk stays in
 * memory. Beyond that every full chunk goes straight into the new CRL file, at the offset
 * its entries will have in the finished CertificateList, and only the chunk lengths are
 * kept (they are the signer's frames), so a large CRL never sits in memory (1,000,000
 * entries are 49 MB of DER). The headers in front of the entries carry lengths known only
 * after the scan (the outer one only after the signature), so the entries are placed as
 * if all three lengths took four bytes (the long form for 16 MiB .. 4 GiB, the CRLs this
 * is for); a smaller CRL's entries are moved down by the few bytes the difference makes
 * once the signature is known (crl_move_down). Until issue 16 the chunks went to a spill
 * file and were copied into the CRL file at the end: per million entries 49 MB more
 * written into new pages (docs/performance.md).
 */
#define CRL_CHUNK SIGNER_DATA_MAX
#define CRL_CHUNKS_MAX 4096        /* 4096 chunks of about 1 MB: beyond CRL_MAX_BYTES */
#define CRL_HDR_MAX 6              /* tag, 0x84 and four length bytes (CRL_MAX_BYTES) */

struct crl_stream {
	unsigned char *chunk;      /* CRL_CHUNK bytes */
	size_t chunk_len;
	int fd;                    /* the new CRL file (the writer's, borrowed) */
	size_t fixed_len;          /* version .. nextUpdate: where the entries go */
	off_t base;                /* file offset of the first entry, once one is flushed */
	size_t flushed;            /* entries' bytes in the file */
	size_t spilled[CRL_CHUNKS_MAX];   /* lengths of the chunks in the file */
	size_t n_spilled;
	size_t list_len;           /* all entries' bytes */
	int64_t since_ms;          /* delta CRLs: only revocations from then on; 0: all */
	int64_t entries;
	/* The last entry's revocation day and its encoded Time (tag, length, date, 000000Z):
	 * revocations cluster in days, so the calendar arithmetic runs once per day. */
	int64_t time_day;
	unsigned char time_buf[24];
	size_t time_len;
	struct tw_error *err;
	tw_rc rc;
	crl_progress_fn progress;  /* may be NULL; display only */
	void *progress_arg;
};

/* All len bytes of data to fd at offset at. what names the file for the message. */
static tw_rc crl_pwrite(int fd, const void *data, size_t len, off_t at, const char *what,
	struct tw_error *err)
{
	const unsigned char *p = data;

	for (size_t off = 0; off < len;) {
		ssize_t w = pwrite(fd, p + off, len - off, at + (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return tw_error_set(err, TW_E_IO, "cannot write %s: %s", what,
				w < 0 ? strerror(errno) : "short write");
		off += (size_t)w;
	}
	return TW_OK;
}

/* Exactly len bytes of fd from offset at into data. */
static tw_rc crl_pread(int fd, void *data, size_t len, off_t at, const char *what,
	struct tw_error *err)
{
	unsigned char *p = data;

	for (size_t off = 0; off < len;) {
		ssize_t r = pread(fd, p + off, len - off, at + (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return tw_error_set(err, TW_E_IO, "cannot read back %s: %s", what,
				r < 0 ? strerror(errno) : "short read");
		off += (size_t)r;
	}
	return TW_OK;
}

/* The chunk in memory to the CRL file, after the ones before it. */
static tw_rc crl_flush(struct crl_stream *cs)
{
	tw_rc rc;

	if (cs->n_spilled == 0)
		cs->base = (off_t)(3 * CRL_HDR_MAX + cs->fixed_len);
	if (cs->n_spilled >= CRL_CHUNKS_MAX)
		return tw_error_set(cs->err, TW_E_TOO_LARGE, "the CRL exceeds %d chunks",
			CRL_CHUNKS_MAX);
	if ((rc = crl_pwrite(cs->fd, cs->chunk, cs->chunk_len, cs->base + (off_t)cs->flushed,
		"the new CRL file", cs->err)) != TW_OK)
		return rc;
	/*
	 * Start writing the chunk to disk now, without waiting for it: the sync before the
	 * rename (crl_writer_close) then finds most of the file written, instead of 49 MB per
	 * million entries to write while everything waits (docs/performance.md). A hint only:
	 * when it fails, that sync does it all.
	 */
	(void)sync_file_range(cs->fd, cs->base + (off_t)cs->flushed, (off_t)cs->chunk_len,
		SYNC_FILE_RANGE_WRITE);
	cs->spilled[cs->n_spilled++] = cs->chunk_len;
	cs->flushed += cs->chunk_len;
	cs->chunk_len = 0;
	return TW_OK;
}

/* Chunk i of the entries (in the file) into cs->chunk; *pos: its offset in the list. */
static tw_rc crl_chunk_at(struct crl_stream *cs, size_t i, size_t *pos, size_t *len)
{
	tw_rc rc;

	*len = cs->spilled[i];
	if ((rc = crl_pread(cs->fd, cs->chunk, *len, cs->base + (off_t)*pos, "the new CRL file",
		cs->err)) != TW_OK)
		return rc;
	*pos += *len;
	return TW_OK;
}

/*
 * Move the len bytes at offset from of fd down to offset to (to < from; the ranges may
 * overlap) through buf (cap bytes), from the start, so that no byte is overwritten
 * unread. The entries are only ever moved down: their room was made for the longest
 * headers (crl_flush).
 */
static tw_rc crl_move_down(int fd, off_t from, off_t to, size_t len, unsigned char *buf,
	size_t cap, struct tw_error *err)
{
	tw_rc rc = TW_OK;

	if (to > from)
		return tw_error_set(err, TW_E_INTERNAL, "CRL entries would move up by %lld bytes",
			(long long)(to - from));
	for (size_t done = 0; rc == TW_OK && done < len;) {
		size_t n = len - done < cap ? len - done : cap;

		if ((rc = crl_pread(fd, buf, n, from + (off_t)done, "the new CRL file", err)) ==
		    TW_OK)
			rc = crl_pwrite(fd, buf, n, to + (off_t)done, "the new CRL file", err);
		done += n;
	}
	return rc;
}

/*
 * One revokedCertificates entry:
 *   SEQUENCE { INTEGER serial, Time revocationDate,
 *              [ SEQUENCE { SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED r } } } ] }
 * The reasonCode extension is left out for "unspecified" (RFC 5280 5.3.1: SHOULD be absent).
 */
static int crl_put_entry(const char *hex, size_t hex_len, int64_t revoked_ms, int reason,
	void *arg)
{
	static const unsigned char reason_ext[] = {
		0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01,
	};
	struct crl_stream *cs = arg;
	unsigned char serial[CRL_SERIAL_MAX + 1], entry[2 + 4 + 2 + CRL_SERIAL_MAX + 1 + 17 + 16];
	size_t slen = 0, body, off = 0, i = 0;
	int64_t secs = revoked_ms / 1000;
	unsigned char tbuf[24];
	size_t tlen;

	if (revoked_ms < cs->since_ms)
		return 0;   /* already on the base CRL */
	/* Hex to big-endian bytes; an odd count has an implicit leading zero nibble. */
	if (hex_len % 2 == 1) {
		int v = hexval(hex[0]);

		if (v < 0)
			goto bad;
		serial[1] = (unsigned char)v;
		slen = 1;
		i = 1;
	}
	if ((hex_len - i) / 2 + slen > CRL_SERIAL_MAX)
		goto bad;
	for (; i < hex_len; i += 2) {
		unsigned hi = hex_plus1[(unsigned char)hex[i]];
		unsigned lo = hex_plus1[(unsigned char)hex[i + 1]];

		if (hi == 0 || lo == 0)
			goto bad;
		serial[1 + slen++] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	/* Minimal positive INTEGER: strip leading zeros, add one back if the top bit is set. */
	{
		unsigned char *s = serial + 1;

		while (slen > 1 && s[0] == 0) {
			s++;
			slen--;
		}
		if (s[0] & 0x80) {
			s--;
			*s = 0;
			slen++;
		}
		memmove(serial, s, slen);
	}
	{
		int64_t day = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
		int64_t rem = secs - day * 86400;

		if (cs->time_len == 0 || day != cs->time_day) {
			cs->time_len = der_time(day * 86400, cs->time_buf);
			cs->time_day = day;
		}
		tlen = cs->time_len;
		memcpy(tbuf, cs->time_buf, tlen);
		/* ...HHMMSSZ: the time of day is the last seven bytes. */
		put2(tbuf + tlen - 7, (int)(rem / 3600));
		put2(tbuf + tlen - 5, (int)(rem / 60 % 60));
		put2(tbuf + tlen - 3, (int)(rem % 60));
	}
	body = 2 + slen + tlen + (reason > 0 ? sizeof(reason_ext) + 1 : 0);
	off = der_put_header(entry, 0x30, body);
	entry[off++] = 0x02;
	entry[off++] = (unsigned char)slen;
	memcpy(entry + off, serial, slen);
	off += slen;
	memcpy(entry + off, tbuf, tlen);
	off += tlen;
	if (reason > 0) {
		memcpy(entry + off, reason_ext, sizeof(reason_ext));
		off += sizeof(reason_ext);
		entry[off++] = (unsigned char)reason;
	}
	if (cs->list_len + off > CRL_MAX_BYTES) {
		cs->rc = tw_error_set(cs->err, TW_E_TOO_LARGE, "the CRL would exceed %zu bytes",
			CRL_MAX_BYTES);
		return 1;
	}
	/* The last chunk stays in memory: spill only when the next entry does not fit. */
	if (cs->chunk_len + off > CRL_CHUNK && (cs->rc = crl_flush(cs)) != TW_OK)
		return 1;
	memcpy(cs->chunk + cs->chunk_len, entry, off);
	cs->chunk_len += off;
	cs->list_len += off;
	cs->entries++;
	if (cs->progress != NULL && cs->entries % CRL_PROGRESS_ENTRIES == 0)
		cs->progress(cs->progress_arg, "reading revoked certificates", cs->entries, 0);
	return 0;
bad:
	cs->rc = tw_error_set(cs->err, TW_E_INTEGRITY, "a revoked certificate has the stored "
		"serial '%.*s', which is not hexadecimal of at most %d bytes (edited database?)",
		(int)hex_len, hex, CRL_SERIAL_MAX);
	return 1;
}

/* ---- the scan: the store's rows read by a thread of their own ---- */

/*
 * The helper threads take no signals: the process's handlers (the CLI's, the worker's
 * event loop) stay with the thread that runs them, as before there were helpers.
 */
static void crl_thread_no_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* CPU time of the calling thread (ms): which side of the scan bounds it (crl_result). */
static int64_t crl_thread_cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * SQLite's reading of the revoked rows was the largest part of the scan (perf:
 * docs/performance.md); encoding the entries and writing the chunks the rest. One thread
 * reads rows into batches, the caller's thread encodes them (crl_put_entry) and writes,
 * both at once, with at most CRL_SCAN_SLOTS batches of CRL_SCAN_ROWS rows between them
 * (about 1.3 MB). The store is used by the reading thread alone while it runs: the caller
 * only encodes and waits for it to end.
 */
#define CRL_SCAN_ROWS 4096
#define CRL_SCAN_SLOTS 4

struct crl_row {
	int64_t ms;
	int reason;
	unsigned char hex_len;
	char hex[STORE_ID_MAX];
};

struct crl_scan {
	struct tw_store *store;
	const char *issuer;
	pthread_mutex_t mu;
	pthread_cond_t more;            /* a batch was handed over, or the reader ended */
	pthread_cond_t room;            /* a slot became free, or the encoder stopped */
	struct crl_row *rows;           /* CRL_SCAN_SLOTS x CRL_SCAN_ROWS */
	size_t n[CRL_SCAN_SLOTS];       /* rows in each handed-over batch */
	size_t rd, wr, full;            /* the ring of handed-over batches */
	size_t fill;                    /* rows in slot wr while the reader fills it */
	bool filling, done, stop;
	tw_rc rc;                       /* the reader's */
	struct tw_error err;
	int64_t cpu_ms;                 /* the reader's CPU time */
};

/* The reader: slot wr to the encoder. */
static void crl_scan_hand_over(struct crl_scan *s)
{
	pthread_mutex_lock(&s->mu);
	s->n[s->wr] = s->fill;
	s->wr = (s->wr + 1) % CRL_SCAN_SLOTS;
	s->full++;
	s->filling = false;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->mu);
}

/* store_ca_revoked_foreach's callback in the reading thread: one row into the batch. */
static int crl_scan_row(const char *hex, size_t hex_len, int64_t revoked_ms, int reason,
	void *arg)
{
	struct crl_scan *s = arg;
	struct crl_row *r;

	if (!s->filling) {
		bool stop;

		pthread_mutex_lock(&s->mu);
		while (s->full == CRL_SCAN_SLOTS && !s->stop)
			pthread_cond_wait(&s->room, &s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			return 1;   /* the encoder failed: its error is the one reported */
		s->filling = true;
		s->fill = 0;
	}
	r = &s->rows[s->wr * CRL_SCAN_ROWS + s->fill++];
	r->ms = revoked_ms;
	r->reason = reason;
	r->hex_len = (unsigned char)hex_len;   /* <= STORE_ID_MAX: the store checks it */
	memcpy(r->hex, hex, hex_len);
	if (s->fill == CRL_SCAN_ROWS)
		crl_scan_hand_over(s);
	return 0;
}

static void *crl_scan_main(void *arg)
{
	struct crl_scan *s = arg;
	int64_t cpu0;

	crl_thread_no_signals();
	cpu0 = crl_thread_cpu_ms();

	s->rc = store_ca_revoked_foreach(s->store, s->issuer, crl_scan_row, s, &s->err);
	s->cpu_ms = crl_thread_cpu_ms() - cpu0;
	if (s->filling && s->fill > 0)
		crl_scan_hand_over(s);
	pthread_mutex_lock(&s->mu);
	s->done = true;
	pthread_cond_signal(&s->more);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/*
 * Every revoked row of issuer through crl_put_entry into cs, the store read by a second
 * thread. Without one (pthread_create failed) in this thread, one row after the other.
 * *reader_ms, *encoder_ms: CPU time of the two threads (the reader's 0 without one).
 */
static tw_rc crl_scan(struct tw_store *store, const char *issuer, struct crl_stream *cs,
	int64_t *reader_ms, int64_t *encoder_ms, struct tw_error *err)
{
	struct crl_scan s;
	pthread_t th;
	bool failed = false;
	int64_t cpu0 = crl_thread_cpu_ms();
	tw_rc rc;

	*reader_ms = 0;
	memset(&s, 0, sizeof(s));
	s.store = store;
	s.issuer = issuer;
	tw_error_clear(&s.err);
	if ((s.rows = malloc(sizeof(*s.rows) * CRL_SCAN_SLOTS * CRL_SCAN_ROWS)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.more, NULL);
	pthread_cond_init(&s.room, NULL);
	if (pthread_create(&th, NULL, crl_scan_main, &s) != 0) {
		rc = store_ca_revoked_foreach(store, issuer, crl_put_entry, cs, err);
		if (rc == TW_OK)
			rc = cs->rc;
		goto out;
	}
	for (;;) {
		size_t slot, n;

		pthread_mutex_lock(&s.mu);
		while (s.full == 0 && !s.done)
			pthread_cond_wait(&s.more, &s.mu);
		if (s.full == 0) {
			pthread_mutex_unlock(&s.mu);
			break;
		}
		slot = s.rd;
		n = s.n[slot];
		pthread_mutex_unlock(&s.mu);
		for (size_t i = 0; i < n && !failed; i++) {
			const struct crl_row *r = &s.rows[slot * CRL_SCAN_ROWS + i];

			failed = crl_put_entry(r->hex, r->hex_len, r->ms, r->reason, cs) != 0;
		}
		pthread_mutex_lock(&s.mu);
		s.rd = (s.rd + 1) % CRL_SCAN_SLOTS;
		s.full--;
		s.stop = failed;
		pthread_cond_signal(&s.room);
		pthread_mutex_unlock(&s.mu);
		if (failed)
			break;
	}
	pthread_join(th, NULL);
	*reader_ms = s.cpu_ms;
	if (failed)
		rc = cs->rc;
	else if ((rc = s.rc) != TW_OK)
		tw_error_set(err, rc, "%s", s.err.message);
out:
	*encoder_ms = crl_thread_cpu_ms() - cpu0;
	pthread_cond_destroy(&s.room);
	pthread_cond_destroy(&s.more);
	pthread_mutex_destroy(&s.mu);
	free(s.rows);
	return rc;
}

/* ---- hashing beside other work ---- */

/*
 * A digest over pre, then len bytes of fd from offset off, then post, in a thread of its
 * own: the check of the signer's signature hashes the TBSCertList while the signer gets
 * it, and the CRL file's SHA-256 runs while the file is synced. pre, post, fd and buf
 * (CRL_CHUNK bytes, for the reads) are borrowed and must stay unchanged until
 * crl_hash_finish. Without a thread (pthread_create failed) the digest is computed in
 * crl_hash_start.
 */
struct crl_hash {
	pthread_t th;
	bool started;
	int fd;
	off_t off;
	size_t len;
	const unsigned char *pre, *post;
	size_t pre_len, post_len;
	unsigned char *buf;
	EVP_MD_CTX *ctx;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len;
	tw_rc rc;
	struct tw_error err;
};

static void *crl_hash_main(void *arg)
{
	struct crl_hash *h = arg;

	if (h->started)
		crl_thread_no_signals();   /* not when run in the caller's thread */
	h->rc = TW_OK;
	if (EVP_DigestUpdate(h->ctx, h->pre, h->pre_len) != 1)
		h->rc = tw_error_set_openssl(&h->err, TW_E_CRYPTO, "hashing the CRL");
	for (size_t done = 0; h->rc == TW_OK && done < h->len;) {
		size_t n = h->len - done < CRL_CHUNK ? h->len - done : CRL_CHUNK;

		if ((h->rc = crl_pread(h->fd, h->buf, n, h->off + (off_t)done, "the new CRL file",
			&h->err)) == TW_OK && EVP_DigestUpdate(h->ctx, h->buf, n) != 1)
			h->rc = tw_error_set_openssl(&h->err, TW_E_CRYPTO, "hashing the CRL");
		done += n;
	}
	if (h->rc == TW_OK && (EVP_DigestUpdate(h->ctx, h->post, h->post_len) != 1 ||
	    EVP_DigestFinal_ex(h->ctx, h->digest, &h->digest_len) != 1))
		h->rc = tw_error_set_openssl(&h->err, TW_E_CRYPTO, "hashing the CRL");
	return NULL;
}

static tw_rc crl_hash_start(struct crl_hash *h, const EVP_MD *md, const unsigned char *pre,
	size_t pre_len, int fd, off_t off, size_t len, const unsigned char *post,
	size_t post_len, unsigned char *buf, struct tw_error *err)
{
	memset(h, 0, sizeof(*h));
	h->pre = pre;
	h->pre_len = pre_len;
	h->fd = fd;
	h->off = off;
	h->len = len;
	h->post = post;
	h->post_len = post_len;
	h->buf = buf;
	tw_error_clear(&h->err);
	if ((h->ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot start hashing the CRL");
	}
	h->started = true;   /* before the thread reads it */
	if (pthread_create(&h->th, NULL, crl_hash_main, h) != 0) {
		h->started = false;
		crl_hash_main(h);
	}
	return TW_OK;
}

/* Wait for the digest (h->digest, h->digest_len); the thread's error into err. */
static tw_rc crl_hash_finish(struct crl_hash *h, struct tw_error *err)
{
	if (h->ctx == NULL)
		return TW_OK;   /* never started */
	if (h->started)
		pthread_join(h->th, NULL);
	h->started = false;
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
	if (h->rc != TW_OK)
		return tw_error_set(err, h->rc, "%s", h->err.message);
	return TW_OK;
}

/* ---- fixed parts, encoded by OpenSSL ---- */

/* DER of an object through its i2d function, appended to out. */
#define CRL_I2D_APPEND(i2d, obj, out, err, what) \
	crl_append_der((i2d)((obj), &der_tmp), &der_tmp, (out), (err), (what))

static tw_rc crl_append_der(int n, unsigned char **der, struct tw_buf *out,
	struct tw_error *err, const char *what)
{
	tw_rc rc;

	if (n <= 0)
		return tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the CRL's %s", what);
	rc = tw_buf_append(out, *der, (size_t)n, err);
	OPENSSL_free(*der);
	*der = NULL;
	return rc;
}

static const EVP_MD *crl_md(EVP_PKEY *pub)
{
	int bits = EVP_PKEY_get_bits(pub);

	return bits <= 256 ? EVP_sha256() : bits <= 384 ? EVP_sha384() : EVP_sha512();
}

/* version, signature AlgorithmIdentifier, issuer, thisUpdate, nextUpdate. */
static tw_rc crl_fixed(X509 *ca, const EVP_MD *md, int64_t this_update, int64_t next_update,
	struct tw_buf *fixed, struct tw_buf *alg, struct tw_error *err)
{
	static const unsigned char v2[] = { 0x02, 0x01, 0x01 };
	unsigned char *der_tmp = NULL, tbuf[24];
	X509_ALGOR *a = X509_ALGOR_new();
	int nid = EVP_MD_get_type(md) == NID_sha256 ? NID_ecdsa_with_SHA256 :
		EVP_MD_get_type(md) == NID_sha384 ? NID_ecdsa_with_SHA384 : NID_ecdsa_with_SHA512;
	tw_rc rc;

	if (a == NULL || X509_ALGOR_set0(a, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL) != 1) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the CRL signature algorithm");
		goto out;
	}
	if ((rc = CRL_I2D_APPEND(i2d_X509_ALGOR, a, alg, err, "signature algorithm")) != TW_OK ||
	    (rc = tw_buf_append(fixed, v2, sizeof(v2), err)) != TW_OK ||
	    (rc = tw_buf_append(fixed, alg->data, alg->len, err)) != TW_OK ||
	    (rc = CRL_I2D_APPEND(i2d_X509_NAME, X509_get_subject_name(ca), fixed, err,
		"issuer name")) != TW_OK ||
	    (rc = tw_buf_append(fixed, tbuf, der_time(this_update, tbuf), err)) != TW_OK ||
	    (rc = tw_buf_append(fixed, tbuf, der_time(next_update, tbuf), err)) != TW_OK)
		goto out;
out:
	X509_ALGOR_free(a);
	return rc;
}

/*
 * freshestCRL (RFC 5280 5.2.6): one distributionPoint naming every delta CRL URL
 * (space-separated, checked by profile_config.c). *out is the caller's.
 */
static tw_rc crl_freshest(const char *urls, X509_EXTENSION **out, struct tw_error *err)
{
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	tw_rc rc = TW_OK;

	*out = NULL;
	if (cdp == NULL || dp == NULL || (dp->distpoint = DIST_POINT_NAME_new()) == NULL ||
	    (dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) == NULL)
		goto nomem;
	dp->distpoint->type = 0;   /* fullName */
	for (const char *p = urls; *p != '\0';) {
		GENERAL_NAME *gn;
		ASN1_IA5STRING *ia5;
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		if ((n = strcspn(p, " \t")) == 0)
			break;
		gn = GENERAL_NAME_new();
		ia5 = ASN1_IA5STRING_new();
		if (gn == NULL || ia5 == NULL || ASN1_STRING_set(ia5, p, (int)n) != 1) {
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(ia5);
			goto nomem;
		}
		GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
		if (sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) <= 0) {
			GENERAL_NAME_free(gn);
			goto nomem;
		}
		p += n;
	}
	if (sk_DIST_POINT_push(cdp, dp) <= 0)
		goto nomem;
	dp = NULL;
	if ((*out = X509V3_EXT_i2d(NID_freshest_crl, 0, cdp)) == NULL)
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the freshestCRL extension");
	goto out;
nomem:
	rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the freshestCRL extension");
out:
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return rc;
}

/*
 * [0] EXPLICIT Extensions { authorityKeyIdentifier, cRLNumber,
 *   deltaCRLIndicator (critical, base CRL number; delta CRLs only, base > 0),
 *   freshestCRL (full CRLs with delta URLs only) }
 */
static tw_rc crl_extensions(X509 *ca, int64_t number, int64_t base, const char *freshest,
	struct tw_buf *out, struct tw_error *err)
{
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ASN1_INTEGER *base_num = NULL;
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e1 = NULL, *e2 = NULL, *e3 = NULL;
	unsigned char *der = NULL, hdr[8];
	int n;
	tw_rc rc;

	if (ski == NULL) {
		rc = tw_error_set(err, TW_E_INVALID, "the CA certificate has no subject key "
			"identifier, so its CRL cannot name it (RFC 5280 requires the AKI)");
		goto out;
	}
	if (akid == NULL || num == NULL || exts == NULL ||
	    (akid->keyid = ASN1_OCTET_STRING_dup(ski)) == NULL ||
	    ASN1_INTEGER_set_int64(num, number) != 1 ||
	    (e1 = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid)) == NULL ||
	    (e2 = X509V3_EXT_i2d(NID_crl_number, 0, num)) == NULL ||
	    sk_X509_EXTENSION_push(exts, e1) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot build the CRL extensions");
		goto out;
	}
	e1 = NULL;
	if (sk_X509_EXTENSION_push(exts, e2) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the CRL extensions");
		goto out;
	}
	e2 = NULL;
	if (base > 0) {
		/* RFC 5280 5.2.4: critical, so a relying party without delta support drops it. */
		if ((base_num = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set_int64(base_num, base) != 1 ||
		    (e3 = X509V3_EXT_i2d(NID_delta_crl, 1, base_num)) == NULL) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot build the delta CRL "
				"indicator");
			goto out;
		}
	} else if (freshest != NULL && (rc = crl_freshest(freshest, &e3, err)) != TW_OK) {
		goto out;
	}
	if (e3 != NULL) {
		if (sk_X509_EXTENSION_push(exts, e3) <= 0) {
			rc = tw_error_set_openssl(err, TW_E_NOMEM, "cannot build the CRL extensions");
			goto out;
		}
		e3 = NULL;
	}
	if ((n = i2d_X509_EXTENSIONS(exts, &der)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the CRL extensions");
		goto out;
	}
	if ((rc = tw_buf_append(out, hdr, der_put_header(hdr, 0xa0, (size_t)n), err)) != TW_OK)
		goto out;
	rc = tw_buf_append(out, der, (size_t)n, err);
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(e1);
	X509_EXTENSION_free(e2);
	X509_EXTENSION_free(e3);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ASN1_INTEGER_free(num);
	ASN1_INTEGER_free(base_num);
	AUTHORITY_KEYID_free(akid);
	return rc;
}

char *crl_home_path(const struct tw_home *home, const char *path)
{
	if (path[0] == '/')
		return tw_strdup(path);
	return tw_home_join(home, path);
}

/* The directory part of path must exist (0755: CRLs are public). */
static tw_rc crl_mkdir_parent(const char *path, struct tw_error *err)
{
	char *dir = tw_strdup(path), *slash;
	tw_rc rc = TW_OK;

	if (dir == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		rc = tw_mkdir_p(dir, 0755, err);
	}
	free(dir);
	return rc;
}

/*
 * ---- temporary files of crashed writers ----
 * A writer killed between crl_writer_open and the rename (kill -9, the OOM killer, a
 * power loss) leaves "<crl>.tmp.<pid>" beside the CRL; nothing else ever removes it, and
 * a large CRL's file is as large as the CRL. Each CRL run first removes those of its own
 * CRL whose writer is certainly gone:
 *   - its pid runs no process (kill(pid, 0) fails with ESRCH), or
 *   - the process now holding that pid started after the file was last written (the pid
 *     was reused: that process cannot have written it).
 * The file of a pid that runs and may be its writer (the worker and `torwart ca crl` can
 * write one CRL at the same time, each under its own pid) stays, as does our own pid's
 * and every name that is not exactly "<crl>.tmp.<digits>". Pids are compared in this
 * process's PID namespace: writers of one home run on one host and see one another.
 */

/* Seconds the process start must lie after the file's mtime (the boot time in
 * /proc/stat has whole seconds, the start time clock ticks). */
#define CRL_TMP_START_SLACK_S 2

/* The decimal number at the start of s (its end a space, a newline or the end). */
static bool crl_read_ull(const char *s, unsigned long long *out)
{
	char *end = NULL;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && (*end == ' ' || *end == '\n' || *end == '\0');
}

/* Start of process pid, in seconds since the epoch; -1 when it cannot be read. */
static int64_t crl_proc_start_s(long pid)
{
	char path[64], line[1024];
	const char *p = NULL;
	unsigned long long ticks = 0, btime = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = NULL;
	size_t n;
	int field = 2;
	int64_t start = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (hz <= 0 || (f = fopen(path, "re")) == NULL)
		goto out;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	f = NULL;
	line[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields
	 * are counted from the last ')'; the state is field 3, starttime field 22. */
	if ((p = strrchr(line, ')')) == NULL)
		goto out;
	for (p++; field < 22 && *p != '\0'; field++) {
		while (*p == ' ')
			p++;
		if (field < 21)
			p += strcspn(p, " ");
	}
	if (field != 22 || !crl_read_ull(p, &ticks) ||
	    (f = fopen("/proc/stat", "re")) == NULL)
		goto out;
	while (start < 0 && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "btime ", 6) == 0 && crl_read_ull(line + 6, &btime))
			start = (int64_t)(btime + ticks / (unsigned long long)hz);
out:
	if (f != NULL)
		fclose(f);
	return start;
}

/*
 * Remove the stale temporary files of the CRL at path (see above); a warning names each.
 * Never fails the CRL run: what cannot be read or removed is left (and said so).
 * Returns the number removed.
 */
static int crl_remove_stale_tmp(const char *path)
{
	char *dir = tw_strdup(path), *slash, prefix[512];
	const char *base;
	DIR *d = NULL;
	struct dirent *de;
	size_t plen;
	int removed = 0;

	/* crl_home_path always gives an absolute path: there is a slash. */
	if (dir == NULL || (slash = strrchr(dir, '/')) == NULL)
		goto out;
	*slash = '\0';
	base = slash + 1;
	if ((size_t)snprintf(prefix, sizeof(prefix), "%s.tmp.", base) >= sizeof(prefix) ||
	    (d = opendir(slash == dir ? "/" : dir)) == NULL)
		goto out;
	plen = strlen(prefix);
	while ((de = readdir(d)) != NULL) {
		const char *digits, *why = NULL;
		struct stat st;
		long pid;

		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		digits = de->d_name + plen;
		if (*digits < '1' || *digits > '9' || strlen(digits) > 9 ||
		    strspn(digits, "0123456789") != strlen(digits))
			continue;
		pid = strtol(digits, NULL, 10);
		if (pid <= 0 || pid > INT_MAX || pid == (long)getpid())
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			why = "is not running";
		} else {
			/* Running (or not ours to signal): its writer only if it started before the
			 * file was last written. */
			int64_t start = crl_proc_start_s(pid);

			if (start >= 0 && (int64_t)st.st_mtime + CRL_TMP_START_SLACK_S < start)
				why = "now belongs to a process started after the file was written";
		}
		if (why == NULL)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			removed++;
			tw_warn("CRL: removed %s/%s (%lld bytes), a temporary file a crashed writer "
				"left: its pid %ld %s", dir, de->d_name, (long long)st.st_size, pid, why);
		} else if (errno != ENOENT) {
			tw_warn("CRL: cannot remove the stale temporary file %s/%s: %s", dir,
				de->d_name, strerror(errno));
		}
	}
out:
	if (d != NULL)
		closedir(d);
	free(dir);
	return removed;
}

/*
 * The CRL file, written under a temporary name beside it and renamed into place, so
 * that the api never serves half a CRL. It is created before the scan (the entries of a
 * large CRL go into it as they are encoded) and written by offset (crl_pwrite).
 */
struct crl_writer {
	int fd;
	char *tmp, *path;
	struct tw_error *err;
};

static tw_rc crl_writer_open(struct crl_writer *w, const char *path, struct tw_error *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->err = err;
	if ((w->tmp = tw_asprintf("%s.tmp.%ld", path, (long)getpid())) == NULL ||
	    (w->path = tw_strdup(path)) == NULL) {
		free(w->tmp);
		free(w->path);
		w->tmp = w->path = NULL;
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	/* Read and write: the signer's chunks and the SHA-256 are read back from it. */
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		tw_rc rc = tw_error_set(err, TW_E_IO, "cannot create %s: %s", w->tmp,
			strerror(errno));

		free(w->tmp);
		free(w->path);
		w->tmp = w->path = NULL;
		return rc;
	}
	return TW_OK;
}

/* len bytes at *at, which advances. */
static tw_rc crl_writer_put(struct crl_writer *w, const void *data, size_t len, off_t *at)
{
	tw_rc rc = crl_pwrite(w->fd, data, len, *at, w->tmp, w->err);

	if (rc == TW_OK)
		*at += (off_t)len;
	return rc;
}

/*
 * Close; on rc == TW_OK (the file holds the len bytes of the CRL) rename into place and
 * give its SHA-256 (computed from the file by a second thread while this one syncs it;
 * buf: CRL_CHUNK bytes for its reads), else remove. A writer never opened (fd -1) is
 * left alone.
 */
static tw_rc crl_writer_close(struct crl_writer *w, tw_rc rc, size_t len, unsigned char *buf,
	unsigned char digest[32])
{
	struct crl_hash h;

	if (w->fd < 0)
		return rc;
	memset(&h, 0, sizeof(h));
	if (rc == TW_OK)
		rc = crl_hash_start(&h, EVP_sha256(), NULL, 0, w->fd, 0, len, NULL, 0, buf, w->err);
	/*
	 * On disk before it replaces the published CRL and before the store records its
	 * number and SHA-256 (committed with fsync): without this a power loss could leave
	 * the api serving an empty or cut file that the store says is CRL n (as
	 * tw_write_file does for every other file).
	 */
	if (rc == TW_OK && fsync(w->fd) != 0)
		rc = tw_error_set(w->err, TW_E_IO, "cannot sync %s: %s", w->tmp, strerror(errno));
	{
		struct tw_error herr;
		tw_rc hrc = crl_hash_finish(&h, &herr);

		if (rc == TW_OK && hrc != TW_OK)
			rc = tw_error_set(w->err, hrc, "%s", herr.message);
	}
	if (rc == TW_OK)
		memcpy(digest, h.digest, 32);
	if (close(w->fd) != 0 && rc == TW_OK)
		rc = tw_error_set(w->err, TW_E_IO, "cannot write %s: %s", w->tmp, strerror(errno));
	w->fd = -1;
	if (rc == TW_OK && rename(w->tmp, w->path) != 0)
		rc = tw_error_set(w->err, TW_E_IO, "cannot rename %s to %s: %s", w->tmp, w->path,
			strerror(errno));
	if (rc != TW_OK)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	w->tmp = w->path = NULL;
	return rc;
}

/* The store row of the delta CRL of ca: "<ca>-delta" (also its URL, /crl/<ca>-delta.crl). */
static tw_rc crl_delta_row(const char *ca, char out[STORE_ID_MAX + 1], struct tw_error *err)
{
	if (strlen(ca) + sizeof(CRL_DELTA_SUFFIX) - 1 > STORE_ID_MAX)
		return tw_error_set(err, TW_E_CONFIG, "CA name '%s' is too long for a delta CRL "
			"(at most %zu characters)", ca, STORE_ID_MAX - (sizeof(CRL_DELTA_SUFFIX) - 1));
	(void)snprintf(out, STORE_ID_MAX + 1, "%s%s", ca, CRL_DELTA_SUFFIX);
	return TW_OK;
}

/*
 * Full (delta == false) or delta CRL of ca. Full and delta CRLs share one CRL number
 * sequence (RFC 5280 5.2.4): the next number is one above both stored rows. A delta
 * names the current full CRL's number as its base and lists the revocations since that
 * CRL's thisUpdate minus CRL_DELTA_MARGIN_S (a revocation committed while the base was
 * being generated is listed again rather than missed; repeating one is harmless).
 */
static tw_rc crl_generate_kind(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, bool delta,
	crl_progress_fn progress, void *progress_arg, struct crl_result *res,
	struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	struct store_ca_crl meta, other;
	char row[STORE_ID_MAX + 1];
	bool other_found = false;
	int64_t base = 0, since_ms = 0, next_update_s;
	const char *publish;
	struct tw_buf head, fixed, alg, tail;
	struct crl_stream cs;
	char *cert_path = NULL, *out_path = NULL, issuer[STORE_TEXT_MAX + 1], detail[256];
	X509 *ca_cert = NULL;
	EVP_PKEY *pub = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const EVP_MD *md;
	unsigned char *sig = NULL, *vbuf = NULL, hdr[16], digest[32];
	unsigned char vdigest[EVP_MAX_MD_SIZE];
	unsigned int vdigest_len = 0;
	struct crl_hash vh;
	struct crl_writer w;
	size_t sig_len = 0, list_len, tbs_len, hl, n_chunks, total_len = 0;
	int64_t now = tw_now_ms() / 1000, number = 1;
	int64_t t_start = 0, t_scan = 0, t_sign = 0, t_write = 0;   /* monotonic ms */
	bool found = false;
	BIO *bio = NULL;
	char *name_text = NULL;
	long name_len;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&cs, 0, sizeof(cs));
	memset(&vh, 0, sizeof(vh));
	memset(&w, 0, sizeof(w));
	cs.fd = w.fd = -1;
	tw_buf_init(&head, CRL_FIXED_MAX + 2 * SIGNER_DATA_MAX);
	tw_buf_init(&fixed, CRL_FIXED_MAX);
	tw_buf_init(&alg, 64);
	tw_buf_init(&tail, 1024);
	if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) != TW_OK ||
	    (rc = ca_state_require_active(store, ca, "CRL signing", err)) != TW_OK)
		goto out;
	if (delta && !cfg->delta_crl) {
		rc = tw_error_set(err, TW_E_CONFIG, "CA '%s' publishes no delta CRL (set [ca.%s] "
			"delta_crl = yes)", ca, ca);
		goto out;
	}
	snprintf(row, sizeof(row), "%s", ca);
	if (delta && (rc = crl_delta_row(ca, row, err)) != TW_OK)
		goto out;
	publish = delta ? cfg->delta_crl_publish_path : cfg->crl_publish_path;
	next_update_s = delta ? cfg->delta_crl_next_update_hours * 3600 :
		cfg->crl_next_update_hours * 3600;
	if ((cert_path = crl_home_path(home, cfg->cert_path)) == NULL ||
	    (out_path = crl_home_path(home, publish)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (!tw_path_exists(cert_path)) {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' has no certificate at %s (see "
			"[ca.%s] cert)", ca, cert_path, ca);
		goto out;
	}
	if ((rc = keys_read_cert_pem(cert_path, &ca_cert, err)) != TW_OK)
		goto out;
	if ((pub = X509_get_pubkey(ca_cert)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot read the key of %s", cert_path);
		goto out;
	}
	md = crl_md(pub);
	/* The issuer as certstore.c records it (RFC 2253), to select this CA's rows. */
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || X509_NAME_print_ex(bio, X509_get_subject_name(ca_cert), 0,
		XN_FLAG_RFC2253) < 0 || (name_len = BIO_get_mem_data(bio, &name_text)) < 0 ||
	    (size_t)name_len >= sizeof(issuer)) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot print the CA's name");
		goto out;
	}
	memcpy(issuer, name_text, (size_t)name_len);
	issuer[name_len] = '\0';
	if ((rc = store_ca_crl_get(store, row, &meta, &found, err)) != TW_OK)
		goto out;
	if (found)
		number = meta.number + 1;
	/* The other kind's row: the shared number sequence, and a delta's base. */
	if (cfg->delta_crl || delta) {
		char other_row[STORE_ID_MAX + 1];

		snprintf(other_row, sizeof(other_row), "%s", ca);
		if (!delta && (rc = crl_delta_row(ca, other_row, err)) != TW_OK)
			goto out;
		if ((rc = store_ca_crl_get(store, other_row, &other, &other_found, err)) != TW_OK)
			goto out;
		if (other_found && other.number + 1 > number)
			number = other.number + 1;
	}
	if (delta) {
		if (!other_found) {
			rc = tw_error_set(err, TW_E_NOT_FOUND, "CA '%s' has no full CRL yet to be the "
				"delta CRL's base (generate it first: torwart ca crl --ca %s)", ca, ca);
			goto out;
		}
		base = other.number;
		since_ms = (other.this_update - CRL_DELTA_MARGIN_S) * 1000;
	}
	if ((rc = crl_fixed(ca_cert, md, now, now + next_update_s, &fixed, &alg, err)) !=
	    TW_OK ||
	    (rc = crl_extensions(ca_cert, number, base, delta ? NULL : cfg->delta_crl_url,
		&tail, err)) != TW_OK)
		goto out;

	/*
	 * The new CRL file first: beyond one chunk the entries go into it as they are
	 * encoded (crl_stream), read by a second thread from the store (crl_scan).
	 */
	if ((rc = crl_mkdir_parent(out_path, err)) != TW_OK)
		goto out;
	res->stale_tmp_removed = crl_remove_stale_tmp(out_path);
	if ((rc = crl_writer_open(&w, out_path, err)) != TW_OK)
		goto out;
	if ((cs.chunk = malloc(CRL_CHUNK)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	cs.fd = w.fd;
	cs.fixed_len = fixed.len;
	cs.since_ms = since_ms;
	cs.err = err;
	cs.progress = progress;
	cs.progress_arg = progress_arg;
	t_start = tw_monotonic_ms();
	if ((rc = crl_scan(store, issuer, &cs, &res->scan_reader_cpu_ms,
		&res->scan_encoder_cpu_ms, err)) != TW_OK)
		goto out;
	t_scan = tw_monotonic_ms();
	list_len = cs.list_len;

	/* The head: TBS header, the fixed parts, the revokedCertificates header. */
	tbs_len = fixed.len + (cs.entries > 0 ? 1 + der_len_size(list_len) + list_len : 0) +
		tail.len;
	hl = der_put_header(hdr, 0x30, tbs_len);
	if ((rc = tw_buf_append(&head, hdr, hl, err)) != TW_OK ||
	    (rc = tw_buf_append(&head, fixed.data, fixed.len, err)) != TW_OK ||
	    (cs.entries > 0 && (rc = tw_buf_append(&head, hdr, der_put_header(hdr, 0x30,
		list_len), err)) != TW_OK))
		goto out;
	tbs_len += hl;
	/* Streamed to the signer: every chunk from the file (the last one too). */
	if (tbs_len > SIGNER_DATA_MAX && cs.chunk_len > 0 && (rc = crl_flush(&cs)) != TW_OK)
		goto out;
	n_chunks = cs.n_spilled;

	/*
	 * The signer checks that this is a TBSCertList of the key's own name, and audits. One
	 * frame when it fits; else streamed: the head, the chunks of entries, the tail. The
	 * same bytes are hashed here for the check of the returned signature (a wrong key
	 * must never reach relying parties): while they are streamed, by a second thread
	 * reading the file.
	 */
	if (n_chunks == 0) {
		size_t len = cs.chunk_len;

		if ((rc = tw_buf_append(&head, cs.chunk, len, err)) != TW_OK ||
		    (rc = tw_buf_append(&head, tail.data, tail.len, err)) != TW_OK)
			goto out;
		rc = signer_sign_data(sc, cfg->key_label, SIGNER_PURPOSE_CRL, head.data, head.len,
			&sig, &sig_len, err);
		if (rc == TW_OK && EVP_Digest(head.data, head.len, vdigest, &vdigest_len, md,
			NULL) != 1)
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "CRL signature check");
		head.len -= len + tail.len;   /* the head again, for writing */
	} else {
		size_t pos = 0;

		if ((vbuf = malloc(CRL_CHUNK)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			goto out;
		}
		if ((rc = crl_hash_start(&vh, md, head.data, head.len, cs.fd, cs.base, list_len,
			tail.data, tail.len, vbuf, err)) != TW_OK)
			goto out;
		rc = signer_client_crl_begin(sc, cfg->key_label, head.data, head.len, err);
		for (size_t i = 0; rc == TW_OK && i < n_chunks; i++) {
			size_t len = 0;

			if ((rc = crl_chunk_at(&cs, i, &pos, &len)) == TW_OK)
				rc = signer_client_crl_data(sc, cfg->key_label, cs.chunk, len, err);
			if (rc == TW_OK && progress != NULL)
				progress(progress_arg, "signing (streamed to the signer)",
					(int64_t)i + 1, (int64_t)n_chunks);
		}
		if (rc == TW_OK)
			rc = signer_client_crl_end(sc, cfg->key_label, tail.data, tail.len, &sig,
				&sig_len, err);
		{
			struct tw_error herr;
			tw_rc hrc = crl_hash_finish(&vh, &herr);

			if (rc == TW_OK && hrc != TW_OK)
				rc = tw_error_set(err, hrc, "%s", herr.message);
		}
		memcpy(vdigest, vh.digest, vh.digest_len);
		vdigest_len = vh.digest_len;
	}
	if (rc != TW_OK)
		goto out;
	if ((pctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_verify_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, md) != 1 ||
	    EVP_PKEY_verify(pctx, sig, sig_len, vdigest, vdigest_len) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "the signer's CRL signature does not "
			"verify with %s (key '%s' does not belong to that certificate?)", cert_path,
			cfg->key_label);
		goto out;
	}
	t_sign = tw_monotonic_ms();

	/*
	 * The CertificateList: header, TBS, algorithm, signature. Streamed entries are in
	 * the file already: moved to their final offset when the headers are shorter than
	 * the room left for them, then the headers before and the rest after them.
	 */
	{
		unsigned char bits[16], outer[16];
		size_t bl = der_put_header(bits, 0x03, sig_len + 1), ol;
		off_t at = 0;

		bits[bl++] = 0;   /* no unused bits */
		total_len = tbs_len + alg.len + bl + sig_len;
		ol = der_put_header(outer, 0x30, total_len);
		total_len += ol;
		rc = crl_writer_put(&w, outer, ol, &at);
		if (rc == TW_OK && n_chunks > 0 && (off_t)(ol + head.len) != cs.base)
			rc = crl_move_down(w.fd, cs.base, (off_t)(ol + head.len), list_len,
				cs.chunk, CRL_CHUNK, err);
		if (rc == TW_OK)
			rc = crl_writer_put(&w, head.data, head.len, &at);
		if (rc == TW_OK && n_chunks == 0)
			rc = crl_writer_put(&w, cs.chunk, cs.chunk_len, &at);
		else
			at += (off_t)list_len;
		if (rc == TW_OK && (rc = crl_writer_put(&w, tail.data, tail.len, &at)) == TW_OK &&
		    (rc = crl_writer_put(&w, alg.data, alg.len, &at)) == TW_OK &&
		    (rc = crl_writer_put(&w, bits, bl, &at)) == TW_OK)
			rc = crl_writer_put(&w, sig, sig_len, &at);
		/* The file ends at at: it was empty, and moved entries only go down by the
		 * header bytes saved, fewer than the tail, algorithm and signature after them. */
		rc = crl_writer_close(&w, rc, total_len, cs.chunk, digest);
		if (rc != TW_OK)
			goto out;
	}
	t_write = tw_monotonic_ms();
	memset(&meta, 0, sizeof(meta));
	if ((rc = tw_strlcpy_checked(meta.ca, row, sizeof(meta.ca), err, "CA name")) != TW_OK ||
	    (rc = tw_strlcpy_checked(meta.path, out_path, sizeof(meta.path), err,
		"CRL path")) != TW_OK)
		goto out;
	meta.number = number;
	meta.this_update = now;
	meta.next_update = now + next_update_s;
	meta.entries = cs.entries;
	tw_hex_encode(digest, sizeof(digest), meta.sha256);
	if (delta)
		snprintf(detail, sizeof(detail), "delta number=%lld base=%lld entries=%lld "
			"bytes=%zu sha256=%.16s", (long long)number, (long long)base,
			(long long)cs.entries, total_len, meta.sha256);
	else
		snprintf(detail, sizeof(detail), "number=%lld entries=%lld bytes=%zu sha256=%.16s",
			(long long)number, (long long)cs.entries, total_len, meta.sha256);
	{
		struct audit_entry e = {
			/* The role the caller gave its signer session (operator roles, break-glass,
			 * service), so the CRL entry names it like the signer's own entry. */
			.actor = actor, .role = signer_client_role(sc) != NULL ?
				signer_client_role(sc) : "local-admin", .client = "local",
			.action = delta ? "ca.crl.delta" : "ca.crl.generate", .object = ca,
			.result = "ok", .detail = detail,
		};

		if ((rc = store_begin(store, err)) != TW_OK)
			goto out;
		if ((rc = store_ca_crl_put(store, &meta, err)) != TW_OK ||
		    (rc = audit_append_in_tx(store, &e, err)) != TW_OK ||
		    (rc = store_commit(store, err)) != TW_OK) {
			store_rollback(store);
			goto out;
		}
	}
	res->number = number;
	res->entries = cs.entries;
	res->scan_ms = t_scan - t_start;
	res->sign_ms = t_sign - t_scan;
	res->write_ms = t_write - t_sign;
	res->der_len = total_len;
	memcpy(res->sha256, meta.sha256, sizeof(res->sha256));
	snprintf(res->path, sizeof(res->path), "%s", out_path);
	tw_info("%sCRL %lld of %s: %lld entries, %zu bytes (read and encoded %lld ms, signed "
		"%lld ms, written and synced %lld ms; CPU of the store reader %lld ms, of the "
		"encoder %lld ms)", delta ? "delta " : "", (long long)number, ca,
		(long long)cs.entries, res->der_len, (long long)res->scan_ms,
		(long long)res->sign_ms, (long long)res->write_ms,
		(long long)res->scan_reader_cpu_ms, (long long)res->scan_encoder_cpu_ms);
out:
	BIO_free(bio);
	free(sig);
	EVP_PKEY_free(pub);
	X509_free(ca_cert);
	free(cert_path);
	free(out_path);
	pki_ca_config_free(cfg);
	tw_buf_free(&head);
	tw_buf_free(&fixed);
	/* Only on a failure before the writer's close (which sets w.fd to -1): removed. */
	(void)crl_writer_close(&w, rc != TW_OK ? rc : TW_E_INTERNAL, 0, NULL, NULL);
	EVP_PKEY_CTX_free(pctx);
	free(vbuf);
	free(cs.chunk);
	tw_buf_free(&alg);
	tw_buf_free(&tail);
	return rc;
}

tw_rc crl_generate(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, struct crl_result *res,
	struct tw_error *err)
{
	return crl_generate_kind(home, store, sc, ca, actor, false, NULL, NULL, res, err);
}

tw_rc crl_generate_progress(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, crl_progress_fn fn,
	void *arg, struct crl_result *res, struct tw_error *err)
{
	return crl_generate_kind(home, store, sc, ca, actor, false, fn, arg, res, err);
}

tw_rc crl_generate_delta(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *ca, const char *actor, struct crl_result *res,
	struct tw_error *err)
{
	return crl_generate_kind(home, store, sc, ca, actor, true, NULL, NULL, res, err);
}

/* ---- the worker's schedule ---- */

/*
 * Is the CRL of ca due (full), and its delta CRL (when configured)? A delta is due with
 * every new full CRL (it must name the current base), when dirty (a revocation), missing,
 * older than delta_crl_interval_minutes, or within a quarter of its validity of
 * nextUpdate.
 */
static tw_rc crl_due(const struct tw_home *home, struct tw_store *store, const char *ca,
	bool *due, bool *delta_due, struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	struct store_ca_crl meta;
	char row[STORE_ID_MAX + 1];
	bool found = false;
	int64_t now = tw_now_ms() / 1000, margin, full_number;
	tw_rc rc;

	*due = false;
	*delta_due = false;
	if ((rc = pki_ca_config_load(home->conf, ca, &cfg, err)) != TW_OK ||
	    (rc = store_ca_crl_get(store, ca, &meta, &found, err)) != TW_OK)
		goto out;
	margin = (meta.next_update - meta.this_update) / 4;
	*due = !found || meta.dirty || now - meta.this_update >= cfg->crl_interval_minutes * 60 ||
		meta.next_update - now <= margin || !tw_path_exists(meta.path);
	if (!cfg->delta_crl)
		goto out;
	if (*due) {
		*delta_due = true;
		goto out;
	}
	full_number = meta.number;
	if ((rc = crl_delta_row(ca, row, err)) != TW_OK ||
	    (rc = store_ca_crl_get(store, row, &meta, &found, err)) != TW_OK)
		goto out;
	margin = (meta.next_update - meta.this_update) / 4;
	/* Older than the full CRL (`torwart ca revoke` wrote one): its base is not current. */
	*delta_due = !found || meta.dirty || meta.number < full_number ||
		now - meta.this_update >= cfg->delta_crl_interval_minutes * 60 ||
		meta.next_update - now <= margin || !tw_path_exists(meta.path);
out:
	pki_ca_config_free(cfg);
	return rc;
}

tw_rc crl_schedule_tick(const struct tw_home *home, struct tw_store *store, int *generated,
	struct tw_error *err)
{
	const char *list = tw_config_get_or(home->conf, "ca", "crl_cas", CRL_DEFAULT_CA);
	struct signer_client *sc = NULL;
	tw_rc rc = TW_OK, first = TW_OK;
	struct tw_error one;

	*generated = 0;
	for (const char *p = list; *p != '\0';) {
		char ca[STORE_ID_MAX + 1];
		size_t n;
		bool due = false, delta_due = false;
		struct crl_result res;

		while (*p == ' ' || *p == ',')
			p++;
		n = strcspn(p, " ,");
		if (n == 0)
			break;
		if (n > STORE_ID_MAX) {
			rc = tw_error_set(err, TW_E_CONFIG, "[ca] crl_cas names a CA longer than %d "
				"bytes", STORE_ID_MAX);
			goto out;
		}
		memcpy(ca, p, n);
		ca[n] = '\0';
		p += n;
		tw_error_clear(&one);
		rc = crl_due(home, store, ca, &due, &delta_due, &one);
		if (rc == TW_OK && (due || delta_due) && sc == NULL) {
			rc = signer_client_open(home, false, &sc, &one);
			if (rc == TW_OK)
				signer_client_set_actor(sc, "system:worker", "service");
		}
		if (rc == TW_OK && due)
			rc = crl_generate(home, store, sc, ca, "system:worker", &res, &one);
		if (rc == TW_OK && due)
			(*generated)++;
		/* The delta after its base: it names the full CRL just written. */
		if (rc == TW_OK && delta_due)
			rc = crl_generate_delta(home, store, sc, ca, "system:worker", &res, &one);
		if (rc == TW_OK && delta_due)
			(*generated)++;
		/* One failing CA must not starve the others; report the first failure. */
		if (rc != TW_OK && first == TW_OK) {
			first = rc;
			tw_error_set(err, rc, "CRL of %s: %s", ca, one.message);
		}
	}
	rc = first;
out:
	signer_client_close(sc);
	return rc;
}

/* ---- the worker's timer ---- */

struct crl_worker {
	const struct tw_home *home;
	struct tw_store *store;
	struct event *timer;
};

static void crl_worker_fire(evutil_socket_t fd, short events, void *arg)
{
	struct crl_worker *w = arg;
	struct tw_error err;
	int generated = 0;

	(void)fd;
	(void)events;
	tw_error_clear(&err);
	/* T-SZ.7: a stale CRL is a threat, so a failure is an error line every time. */
	if (crl_schedule_tick(w->home, w->store, &generated, &err) != TW_OK)
		tw_err("CRL regeneration failed: %s", err.message);
	else if (generated > 0)
		tw_info("%d CRL%s regenerated", generated, generated == 1 ? "" : "s");
}

tw_rc crl_worker_start(const struct tw_home *home, struct event_base *base,
	struct tw_store *store, struct crl_worker **out, struct tw_error *err)
{
	struct crl_worker *w = NULL;
	struct timeval every = { 0, 0 };
	long interval;
	tw_rc rc;

	*out = NULL;
	if ((rc = tw_config_get_long(home->conf, "ca", "crl_check_interval", 60, 1, 86400,
		&interval, err)) != TW_OK)
		return rc;
	every.tv_sec = interval;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	w->home = home;
	w->store = store;
	if ((w->timer = event_new(base, -1, EV_PERSIST, crl_worker_fire, w)) == NULL ||
	    event_add(w->timer, &every) != 0) {
		crl_worker_stop(w);
		return tw_error_set(err, TW_E_INTERNAL, "cannot set up the CRL timer");
	}
	crl_worker_fire(-1, 0, w);
	*out = w;
	return TW_OK;
}

void crl_worker_stop(struct crl_worker *w)
{
	if (w == NULL)
		return;
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}
