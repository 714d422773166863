/*
 * sim_metering.c: `torwart-sim values` (sim_metering.h).
 *
 * Per gateway, one blocking TLS connection (the gateway's TLS certificate, TR-03116-3
 * profile): POST /v1/session, optionally POST /v1/time (the drifting clock in
 * state-free form: --clock-offset-ms is how far this gateway's clock is off; the time
 * exchange measures it, and a gateway off by more than the GWA's max_offset_ms marks its
 * values clock_ok=false), then --messages messages on POST /v1/metering/values.
 * Fault modes check the GWA's refusals: --forge signs with a key that is not the
 * gateway's (expect 422), --resend posts every message twice (expect one ack and one
 * duplicate ack), --replay posts the same CMS under a new message id (expect 409).
 * Exit 0 only when every answer was the expected one.
 */
#include "sim/sim_metering.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "auth/command.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "metering/timesvc.h"
#include "sim/sim_internal.h"
#include "sim/sim_orders.h"

#define SM_ANSWER_MAX (64 * 1024)

struct sm_opts {
	const char *gwa, *home, *emt, *emt_enc, *metering_point, *kind, *ids, *out_dir, *expect;
	char **dirs;
	size_t ndirs;
	long count, messages, clock_offset_ms;
	bool time_sync, forge, resend, replay, quiet;
};

static const char sm_usage[] =
	"usage: torwart-sim values --gwa HOST:PORT (--gateways DIR... | --home DIR --count N)\n"
	"         --emt MPID --emt-enc CERT.pem [--metering-point ID] [--kind tariffed|grid-status]\n"
	"         [--messages K] [--time-sync] [--clock-offset-ms N] [--ids FILE] [--out-dir DIR]\n"
	"         [--forge | --resend | --replay] [--expect ERROR-CODE] [--quiet]\n"
	"Send K messages of a day of quarter-hour values per gateway, encrypted for the EMT's\n"
	"ENC certificate and signed with the gateway's SIG key (CMS), to the GWA. Without\n"
	"--metering-point: for every meter of the evaluation profiles the gateway holds for\n"
	"the EMT (DIR/state.json). --expect: every\n"
	"message must be refused with that error code (e.g. not_authorised).\n";

/* ---- building a message ---- */

tw_rc sim_metering_build(const char *gateway_id, const char *message_id,
	const char *metering_point, const char *kind, bool clock_ok, int64_t day_start_ms,
	X509 *emt_enc, X509 *sig_cert, EVP_PKEY *sig_key, unsigned char **der, size_t *len,
	unsigned char **inner, size_t *inner_len, struct tw_error *err)
{
	STACK_OF(X509) *recips = NULL;
	CMS_ContentInfo *env = NULL, *sd = NULL;
	BIO *plain = NULL, *envbio = NULL;
	json_t *doc = NULL, *vals = NULL;
	unsigned char *envder = NULL, *p;
	char start[48], *text = NULL;
	int envlen, n;
	uint64_t reg = 0;
	tw_rc rc = TW_OK;

	*der = NULL;
	*len = 0;
	/* A day of quarter-hour register readings (Wh), monotonic like a real meter. */
	if ((vals = json_array()) == NULL)
		goto nomem;
	if (RAND_bytes((unsigned char *)&reg, sizeof(reg)) != 1)
		goto nomem;
	reg %= 100000000ULL;
	for (int i = 0; i < 96; i++) {
		reg += 50 + (uint64_t)(i % 7) * 13;
		if (json_array_append_new(vals, json_integer((json_int_t)reg)) != 0)
			goto nomem;
	}
	tw_time_format_utc(day_start_ms, start, sizeof(start));
	doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:O, s:b}", "gateway_id",
		gateway_id, "message_id", message_id, "metering_point", metering_point, "kind", kind,
		"obis", "1-0:1.8.0*255", "interval_s", 900, "start", start, "values", vals,
		"clock_ok", clock_ok);
	if (doc == NULL || (text = json_dumps(doc, JSON_COMPACT)) == NULL)
		goto nomem;
	if ((plain = BIO_new_mem_buf(text, (int)strlen(text))) == NULL ||
	    (recips = sk_X509_new_null()) == NULL || !sk_X509_push(recips, emt_enc))
		goto nomem;
	/* Encrypted for the EMT only: the GWA can relay it but never read it. */
	if ((env = CMS_encrypt(recips, plain, EVP_aes_256_cbc(), CMS_BINARY)) == NULL) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encrypt for the EMT");
		goto out;
	}
	if ((envlen = i2d_CMS_ContentInfo(env, &envder)) <= 0)
		goto nomem;
	if ((envbio = BIO_new_mem_buf(envder, envlen)) == NULL)
		goto nomem;
	if ((sd = CMS_sign(NULL, NULL, NULL, NULL, CMS_BINARY | CMS_PARTIAL)) == NULL ||
	    CMS_set1_eContentType(sd, OBJ_nid2obj(NID_pkcs7_enveloped)) != 1 ||
	    CMS_add1_signer(sd, sig_cert, sig_key, EVP_sha256(), CMS_BINARY) == NULL ||
	    CMS_final(sd, envbio, NULL, CMS_BINARY) != 1) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot sign the message");
		goto out;
	}
	if ((n = i2d_CMS_ContentInfo(sd, NULL)) <= 0 || (*der = malloc((size_t)n)) == NULL)
		goto nomem;
	p = *der;
	i2d_CMS_ContentInfo(sd, &p);
	*len = (size_t)n;
	if (inner != NULL) {
		*inner = envder;
		*inner_len = (size_t)envlen;
		envder = NULL;
	}
	goto out;
nomem:
	rc = tw_error_set(err, TW_E_NOMEM, "out of memory building a metering message");
out:
	if (rc != TW_OK) {
		free(*der);
		*der = NULL;
	}
	OPENSSL_free(envder);
	BIO_free(plain);
	BIO_free(envbio);
	CMS_ContentInfo_free(env);
	CMS_ContentInfo_free(sd);
	sk_X509_free(recips);
	json_decref(doc);
	json_decref(vals);
	free(text);
	return rc;
}

/* ---- a blocking HTTP/1.1 client over one TLS connection ---- */

struct sm_conn {
	SSL *ssl;
	int fd;
};

static void sm_close(struct sm_conn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/*
 * Connect as the gateway in dir. The client context (profile, trust anchor, chain) is
 * the shared one of the home (sim_tls.c, one per distinct root-ca.crt + chain.pem, kept
 * in st for the whole command); only the gateway's certificate and key are read per
 * connection (this command visits each gateway once). It used to build a whole SSL_CTX
 * per connection.
 */
static tw_rc sm_open(struct sm_conn *c, struct sim_state *st, const char *dir,
	const char *gwa, struct tw_error *err)
{
	struct sim_gateway g;
	struct addrinfo hints, *ai = NULL;
	char *host = NULL, port[8];
	uint16_t portn = 0;
	tw_rc rc;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	memset(&g, 0, sizeof(g));
	g.pub.dir = dir;
	rc = sim_tls_ssl_new(st, &g, &c->ssl, err);
	sim_tls_identity_drop(&g);   /* the SSL holds its own references */
	if (rc != TW_OK || (rc = tw_parse_hostport(gwa, &host, &portn, err)) != TW_OK)
		goto out;
	snprintf(port, sizeof(port), "%u", (unsigned)portn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0 ||
	    (c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		rc = tw_error_set(err, TW_E_UNAVAILABLE, "cannot connect to %s: %s", gwa,
			strerror(errno));
		goto out;
	}
	if (SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
		rc = tw_error_set_openssl(err, TW_E_TLS, "TLS handshake with %s failed", gwa);
		goto out;
	}
out:
	if (ai != NULL)
		freeaddrinfo(ai);
	free(host);
	if (rc != TW_OK)
		sm_close(c);
	return rc;
}

/* The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK"); 0 if it is none. */
static int http_status(const char *line)
{
	if (strncmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
	    line[11] < '0' || line[11] > '9')
		return 0;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* POST path with a JSON body; *status and body (NUL-terminated, at most size-1). */
static tw_rc sm_post(struct sm_conn *c, const char *path, const char *body, int *status,
	char *answer, size_t size, struct tw_error *err)
{
	char head[512], *buf = NULL, *end, *cl;
	size_t got = 0, need = 0, hl, blen = strlen(body);
	int n;
	tw_rc rc = TW_OK;

	snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: gwa\r\nContent-Type: "
		"application/json\r\nContent-Length: %zu\r\n\r\n", path, blen);
	if (SSL_write(c->ssl, head, (int)strlen(head)) <= 0 ||
	    (blen > 0 && SSL_write(c->ssl, body, (int)blen) <= 0))
		return tw_error_set_openssl(err, TW_E_IO, "sending %s failed", path);
	if ((buf = malloc(SM_ANSWER_MAX + 1)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	for (;;) {
		if (got >= SM_ANSWER_MAX) {
			rc = tw_error_set(err, TW_E_TOO_LARGE, "answer too large");
			goto out;
		}
		if ((n = SSL_read(c->ssl, buf + got, (int)(SM_ANSWER_MAX - got))) <= 0) {
			rc = tw_error_set_openssl(err, TW_E_IO, "no answer to %s", path);
			goto out;
		}
		got += (size_t)n;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		hl = (size_t)(end - buf) + 4;
		cl = strcasestr(buf, "\r\nContent-Length:");
		need = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (got >= hl + need)
			break;
	}
	if ((*status = http_status(buf)) == 0) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "not an HTTP answer");
		goto out;
	}
	snprintf(answer, size, "%.*s", (int)need, buf + hl);
out:
	free(buf);
	return rc;
}

/* ---- the command ---- */

struct sm_stats {
	long sent, acked, duplicates, refused_expected, unexpected, clock_marked;
};

static X509 *sm_read_cert(const char *path, struct tw_error *err)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	if (x == NULL)
		tw_error_set_openssl(err, TW_E_IO, "cannot read the certificate %s", path);
	return x;
}

static bool sm_id_of(const char *dir, char *id, size_t size)
{
	char *path = tw_asprintf("%s/id", dir);
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	bool ok = f != NULL && fgets(id, (int)size, f) != NULL;

	if (f != NULL)
		fclose(f);
	free(path);
	if (ok)
		id[strcspn(id, "\r\n")] = '\0';
	return ok && id[0] != '\0';
}

/* The time exchange: *offset_ms = GWA - gateway clock (after the simulated drift). */
static tw_rc sm_time(struct sm_conn *c, const char *gw, long drift_ms, int64_t *offset_ms,
	long *max_offset, struct tw_error *err)
{
	unsigned char nonce[16];
	char hex[33], t1s[48], body[256], answer[1024];
	struct timesvc_answer a;
	int64_t t1, t4;
	int status = 0;
	tw_rc rc;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return tw_error_set(err, TW_E_CRYPTO, "no random nonce");
	tw_hex_encode(nonce, sizeof(nonce), hex);
	t1 = tw_now_ms() + drift_ms;
	tw_time_format_utc(t1, t1s, sizeof(t1s));
	snprintf(body, sizeof(body), "{\"gateway_id\":\"%s\",\"nonce\":\"%s\",\"t1\":\"%s\"}",
		gw, hex, t1s);
	if ((rc = sm_post(c, "/v1/time", body, &status, answer, sizeof(answer), err)) != TW_OK)
		return rc;
	t4 = tw_now_ms() + drift_ms;
	if (status != 200)
		return tw_error_set(err, TW_E_UNAVAILABLE, "time synchronisation refused (%d): %s",
			status, answer);
	if ((rc = timesvc_answer_parse(answer, strlen(answer), &a, err)) != TW_OK)
		return rc;
	/* T-ZS.1: the answer must be to this request, and not delayed. */
	if (strcmp(a.nonce, hex) != 0 || a.t1_ms != t1)
		return tw_error_set(err, TW_E_PROTOCOL, "time answer to another request");
	if ((t4 - t1) - (a.t3_ms - a.t2_ms) > 2000)
		return tw_error_set(err, TW_E_PROTOCOL, "time answer delayed beyond 2 s: discarded");
	*offset_ms = ((a.t2_ms - t1) + (a.t3_ms - t4)) / 2;
	*max_offset = a.max_offset_ms;
	return TW_OK;
}

static void sm_write_file(const char *dir, const char *name, const unsigned char *d, size_t n)
{
	char *path = tw_asprintf("%s/%s", dir, name);
	FILE *f = path != NULL ? fopen(path, "wb") : NULL;

	if (f != NULL) {
		fwrite(d, 1, n, f);
		fclose(f);
	}
	free(path);
}

/*
 * The metering points this gateway sends to emt: the meters of the evaluation profiles
 * it holds (DIR/state.json "profiles", as the GWA installed them) that name emt as a
 * recipient. A new JSON array of strings (caller's).
 */
static json_t *sm_points_from_profiles(const char *dir, const char *emt)
{
	char *path = tw_asprintf("%s/state.json", dir);
	json_t *state = path != NULL ? json_load_file(path, 0, NULL) : NULL;
	json_t *out = json_array(), *doc, *v, *r;
	const char *pid;
	size_t i, j, k;

	free(path);
	json_object_foreach(json_object_get(state, "profiles"), pid, doc) {
		bool mine = false;

		(void)pid;
		if (!json_is_string(json_object_get(doc, "type")) ||
		    strcmp(json_string_value(json_object_get(doc, "type")), "evaluation") != 0)
			continue;
		json_array_foreach(json_object_get(doc, "recipients"), i, r)
			if (json_is_string(json_object_get(r, "emt")) &&
			    strcmp(json_string_value(json_object_get(r, "emt")), emt) == 0)
				mine = true;
		if (!mine)
			continue;
		json_array_foreach(json_object_get(doc, "meters"), j, v) {
			bool seen = false;
			json_t *w;

			json_array_foreach(out, k, w)
				if (json_equal(w, v))
					seen = true;
			if (!seen && json_is_string(v))
				json_array_append(out, v);
		}
	}
	json_decref(state);
	return out;
}

/* A forger's certificate: the gateway's subject, a key the gateway never had. */
static X509 *sm_forge_cert(X509 *real, EVP_PKEY *key)
{
	X509 *x = X509_new();

	if (x == NULL || X509_set_version(x, 2) != 1 ||
	    X509_set_subject_name(x, X509_get_subject_name(real)) != 1 ||
	    X509_set_issuer_name(x, X509_get_issuer_name(real)) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 || X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static tw_rc sm_gateway(const struct sm_opts *o, struct sim_state *tls, const char *dir,
	X509 *emt_enc, EVP_PKEY *forge_key, struct sm_stats *st, FILE *ids, struct tw_error *err)
{
	struct sm_conn c = { .fd = -1 };
	X509 *sig_cert = NULL;
	EVP_PKEY *sig_key = NULL;
	char gw[80], body_s[256], answer[1024], *path = NULL, mid[40], *b64 = NULL, *body = NULL;
	unsigned char rnd[12], *der = NULL, *inner = NULL;
	size_t len = 0, ilen = 0;
	bool clock_ok = true;
	json_t *points = NULL;
	int status;
	tw_rc rc = TW_OK;

	if (!sm_id_of(dir, gw, sizeof(gw)))
		return tw_error_set(err, TW_E_IO, "%s/id is missing", dir);
	if ((path = tw_asprintf("%s/sig.crt", dir)) == NULL ||
	    (sig_cert = sm_read_cert(path, err)) == NULL) {
		rc = TW_E_IO;
		goto out;
	}
	free(path);
	if ((path = tw_asprintf("%s/sig.key", dir)) == NULL ||
	    (rc = keys_read_private_pem(path, &sig_key, err)) != TW_OK)
		goto out;
	if (o->forge) {
		X509 *fc = sm_forge_cert(sig_cert, forge_key);

		if (fc == NULL) {
			rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot make a forged certificate");
			goto out;
		}
		X509_free(sig_cert);
		sig_cert = fc;
		EVP_PKEY_free(sig_key);
		sig_key = forge_key;
		EVP_PKEY_up_ref(forge_key);
	}
	if ((rc = sm_open(&c, tls, dir, o->gwa, err)) != TW_OK)
		goto out;
	{
		char t[48];

		tw_time_format_utc(tw_now_ms() + o->clock_offset_ms, t, sizeof(t));
		snprintf(body_s, sizeof(body_s), "{\"gateway_id\":\"%s\",\"firmware_version\":"
			"\"1.0\",\"time\":\"%s\"}", gw, t);
	}
	if ((rc = sm_post(&c, "/v1/session", body_s, &status, answer, sizeof(answer), err))
	    != TW_OK)
		goto out;
	if (status != 200) {
		rc = tw_error_set(err, TW_E_PROTOCOL, "session refused (%d): %s", status, answer);
		goto out;
	}
	if (o->time_sync) {
		int64_t off = 0;
		long max = 0;

		if ((rc = sm_time(&c, gw, o->clock_offset_ms, &off, &max, err)) != TW_OK)
			goto out;
		/* The values of the past period were registered with this clock: mark them. */
		clock_ok = off <= max && off >= -max;
		if (!o->quiet)
			printf("%s: clock offset %lld ms (bound %ld ms)%s\n", gw, (long long)off, max,
				clock_ok ? "" : ": values marked, clock corrected");
		if (!clock_ok)
			st->clock_marked++;
	}
	if (o->metering_point != NULL) {
		points = json_pack("[s]", o->metering_point);
	} else {
		points = sm_points_from_profiles(dir, o->emt);
		if (points != NULL && json_array_size(points) == 0 && !o->quiet)
			printf("%s: no evaluation profile for EMT %s: nothing to send\n", gw, o->emt);
	}
	if (points == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	for (size_t pi = 0; pi < json_array_size(points); pi++)
	for (long k = 0; k < o->messages; k++) {
		const char *mp = json_string_value(json_array_get(points, pi));
		const char *expect = o->expect != NULL ? o->expect : o->forge ? "bad_signature" :
			"ack";

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			rc = tw_error_set(err, TW_E_CRYPTO, "no random bytes");
			goto out;
		}
		memcpy(mid, "m", 2);
		tw_hex_encode(rnd, sizeof(rnd), mid + 1);
		free(der);
		free(inner);
		der = inner = NULL;
		if ((rc = sim_metering_build(gw, mid, mp, o->kind, clock_ok,
		    (tw_now_ms() / 86400000 - 1) * 86400000, emt_enc, sig_cert, sig_key, &der, &len, &inner, &ilen, err)) != TW_OK)
			goto out;
		free(b64);
		b64 = NULL;
		if ((rc = auth_b64_encode(der, len, &b64, err)) != TW_OK)
			goto out;
		for (int rep = 0; rep < (o->resend || o->replay ? 2 : 1); rep++) {
			const char *id = mid;
			char mid2[48];

			if (o->replay && rep == 1) {
				snprintf(mid2, sizeof(mid2), "%s-r", mid);
				id = mid2;
				expect = "replayed";
			} else if (o->resend && rep == 1) {
				expect = "duplicate";
			}
			free(body);
			body = tw_asprintf("{\"gateway_id\":\"%s\",\"message_id\":\"%s\",\"kind\":\"%s\","
				"\"emt\":\"%s\",\"metering_point\":\"%s\",\"clock_ok\":%s,\"cms\":\"%s\"}",
				gw, id, o->kind, o->emt, mp, clock_ok ? "true" : "false",
				b64);
			if (body == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				goto out;
			}
			if ((rc = sm_post(&c, "/v1/metering/values", body, &status, answer,
			    sizeof(answer), err)) != TW_OK)
				goto out;
			st->sent++;
			if (status == 200 && strstr(answer, "\"duplicate\":true") != NULL) {
				st->duplicates++;
				if (strcmp(expect, "duplicate") != 0)
					st->unexpected++;
			} else if (status == 200) {
				st->acked++;
				if (strcmp(expect, "ack") != 0)
					st->unexpected++;
				if (ids != NULL) {
					/* Each ack at once: a test may kill the GWA meanwhile. */
					fprintf(ids, "%s/%s\n", gw, mid);
					fflush(ids);
				}
				if (o->out_dir != NULL) {
					char name[160];

					snprintf(name, sizeof(name), "%s_%s.signed.der", gw, mid);
					sm_write_file(o->out_dir, name, der, len);
					snprintf(name, sizeof(name), "%s_%s.inner.der", gw, mid);
					sm_write_file(o->out_dir, name, inner, ilen);
				}
			} else if (strstr(answer, expect) != NULL) {
				st->refused_expected++;
			} else {
				st->unexpected++;
				if (!o->quiet)
					printf("%s: message %s: unexpected answer %d %s\n", gw, id, status,
						answer);
			}
		}
	}
out:
	json_decref(points);
	free(path);
	free(b64);
	free(body);
	free(der);
	free(inner);
	X509_free(sig_cert);
	EVP_PKEY_free(sig_key);
	sm_close(&c);
	return rc;
}

static int sm_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first n gateway directories of home/gateways, sorted. */
static tw_rc sm_home_dirs(struct sm_opts *o, struct tw_error *err)
{
	char *gwdir = tw_asprintf("%s/gateways", o->home);
	DIR *d = gwdir != NULL ? opendir(gwdir) : NULL;
	struct dirent *de;
	size_t cap = 0, n = 0;
	char **all = NULL;
	tw_rc rc = TW_OK;

	if (d == NULL) {
		free(gwdir);
		return tw_error_set(err, TW_E_IO, "cannot read %s/gateways", o->home);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **g = realloc(all, (cap = cap ? cap * 2 : 64) * sizeof(*all));

			if (g == NULL) {
				rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
				break;
			}
			all = g;
		}
		if ((all[n] = tw_asprintf("%s/%s", gwdir, de->d_name)) == NULL) {
			rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	free(gwdir);
	if (rc == TW_OK && (long)n < o->count)
		rc = tw_error_set(err, TW_E_INVALID, "only %zu gateways under %s", n, o->home);
	if (rc != TW_OK) {
		for (size_t i = 0; i < n; i++)
			free(all[i]);
		free(all);
		return rc;
	}
	qsort(all, n, sizeof(*all), sm_cmp);
	for (size_t i = (size_t)o->count; i < n; i++)
		free(all[i]);
	o->dirs = all;
	o->ndirs = (size_t)o->count;
	return TW_OK;
}

int sim_metering_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gwa", required_argument, NULL, 'g' }, { "home", required_argument, NULL, 'H' },
		{ "count", required_argument, NULL, 'n' }, { "gateways", no_argument, NULL, 'G' },
		{ "emt", required_argument, NULL, 'e' }, { "emt-enc", required_argument, NULL, 'E' },
		{ "metering-point", required_argument, NULL, 'm' },
		{ "kind", required_argument, NULL, 'k' }, { "messages", required_argument, NULL, 'K' },
		{ "time-sync", no_argument, NULL, 't' },
		{ "clock-offset-ms", required_argument, NULL, 'c' },
		{ "ids", required_argument, NULL, 'i' }, { "out-dir", required_argument, NULL, 'o' },
		{ "forge", no_argument, NULL, 'f' }, { "resend", no_argument, NULL, 'r' },
		{ "replay", no_argument, NULL, 'R' }, { "quiet", no_argument, NULL, 'q' },
		{ "expect", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct sm_opts o = { .kind = "tariffed", .messages = 1 };
	struct sm_stats st = { 0 };
	struct sim_state tls;          /* only its shared TLS contexts (sim_tls.c) */
	struct tw_error err;
	X509 *enc = NULL;
	EVP_PKEY *forge = NULL;
	FILE *ids = NULL;
	bool gateways = false;
	size_t failed = 0;
	int c, ret = 2;
	int64_t t0;

	tw_error_clear(&err);
	memset(&tls, 0, sizeof(tls));
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'g': o.gwa = optarg; break;
		case 'H': o.home = optarg; break;
		case 'n': o.count = strtol(optarg, NULL, 10); break;
		case 'G': gateways = true; break;
		case 'e': o.emt = optarg; break;
		case 'E': o.emt_enc = optarg; break;
		case 'm': o.metering_point = optarg; break;
		case 'k': o.kind = optarg; break;
		case 'K': o.messages = strtol(optarg, NULL, 10); break;
		case 't': o.time_sync = true; break;
		case 'c': o.clock_offset_ms = strtol(optarg, NULL, 10); break;
		case 'i': o.ids = optarg; break;
		case 'o': o.out_dir = optarg; break;
		case 'f': o.forge = true; break;
		case 'r': o.resend = true; break;
		case 'R': o.replay = true; break;
		case 'q': o.quiet = true; break;
		case 'x': o.expect = optarg; break;
		case 'h': fputs(sm_usage, stdout); return 0;
		default: fputs(sm_usage, stderr); return 2;
		}
	}
	if (gateways) {
		o.dirs = argv + optind;
		o.ndirs = (size_t)(argc - optind);
	} else if (optind != argc) {
		fputs(sm_usage, stderr);
		return 2;
	}
	if (o.gwa == NULL || o.emt == NULL || o.emt_enc == NULL ||
	    o.messages < 0 || (!gateways && (o.home == NULL || o.count < 1)) ||
	    (strcmp(o.kind, "tariffed") != 0 && strcmp(o.kind, "grid-status") != 0)) {
		fputs(sm_usage, stderr);
		return 2;
	}
	if (!gateways && sm_home_dirs(&o, &err) != TW_OK) {
		fprintf(stderr, "torwart-sim: %s\n", err.message);
		return 2;
	}
	if ((enc = sm_read_cert(o.emt_enc, &err)) == NULL) {
		fprintf(stderr, "torwart-sim: %s\n", err.message);
		goto out;
	}
	if (o.forge && (forge = EVP_EC_gen("brainpoolP256r1")) == NULL) {
		fprintf(stderr, "torwart-sim: cannot make a forger's key\n");
		goto out;
	}
	if (o.ids != NULL && (ids = fopen(o.ids, "a")) == NULL) {
		fprintf(stderr, "torwart-sim: cannot open %s: %s\n", o.ids, strerror(errno));
		goto out;
	}
	t0 = tw_monotonic_ms();
	for (size_t i = 0; i < o.ndirs; i++) {
		if (sm_gateway(&o, &tls, o.dirs[i], enc, forge, &st, ids, &err) != TW_OK) {
			failed++;
			fprintf(stderr, "torwart-sim: %s: %s\n", o.dirs[i], err.message);
		}
	}
	printf("values: %zu gateways, %ld sent, %ld acknowledged, %ld duplicate acks, %ld refused "
		"as expected, %ld unexpected, %ld clock-marked, %zu failed, %.1f s\n", o.ndirs,
		st.sent, st.acked, st.duplicates, st.refused_expected, st.unexpected, st.clock_marked,
		failed, (double)(tw_monotonic_ms() - t0) / 1000.0);
	ret = failed == 0 && st.unexpected == 0 ? 0 : 1;
out:
	sim_tls_cache_free(&tls);
	if (ids != NULL)
		fclose(ids);
	X509_free(enc);
	EVP_PKEY_free(forge);
	if (!gateways && o.dirs != NULL) {
		for (size_t i = 0; i < o.ndirs; i++)
			free(o.dirs[i]);
		free(o.dirs);
	}
	return ret;
}

/* ---- the order taf-request (UC-3.5.3-3.5.5) ---- */

/*
 * TAF5: the gateway switches the tariff stage of the metering point and records it in
 * its state (gw->state["tariff_stages"][MP]). TAF6/TAF9: it reads the metering point now
 * and answers with a metering message for the EMT, encrypted for the EMT's ENC
 * certificate, which a gateway holds with its evaluation profile; the simulator reads it
 * from DIR/emt-<MPID>.enc.crt (a test installs it there).
 */
static tw_rc taf_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const char *to = json_string_value(json_object_get(payload, "gateway_id"));
	const char *taf = json_string_value(json_object_get(payload, "taf"));
	const char *mp = json_string_value(json_object_get(payload, "metering_point"));
	const char *emt = json_string_value(json_object_get(payload, "emt"));
	const json_t *stage = json_object_get(payload, "tariff_stage");
	unsigned char rnd[12], *der = NULL;
	char mid[40], *path = NULL, *b64 = NULL;
	X509 *enc = NULL, *sig = NULL;
	EVP_PKEY *key;
	json_t *stages;
	size_t len = 0;
	tw_rc rc = TW_OK;

	if (to == NULL || strcmp(to, gw->id) != 0) {
		*code = "wrong_gateway";
		return tw_error_set(err, TW_E_DENIED, "taf-request is addressed to another gateway");
	}
	if (taf == NULL || mp == NULL || emt == NULL || json_string_length(json_object_get(
	    payload, "emt")) > 64 || json_string_length(json_object_get(payload,
	    "metering_point")) > 64) {
		*code = "invalid_payload";
		return tw_error_set(err, TW_E_INVALID, "taf-request needs taf, metering_point, emt");
	}
	if (strcmp(taf, "TAF5") == 0) {
		if (!json_is_integer(stage)) {
			*code = "invalid_payload";
			return tw_error_set(err, TW_E_INVALID, "TAF5 needs tariff_stage");
		}
		stages = json_object_get(gw->state, "tariff_stages");
		if (!json_is_object(stages)) {
			stages = json_object();
			if (stages == NULL || json_object_set_new(gw->state, "tariff_stages", stages))
				goto nomem;
		}
		if (json_object_set(stages, mp, (json_t *)stage) != 0)
			goto nomem;
		*result = json_pack("{s:s, s:s, s:s, s:O}", "gateway_id", gw->id, "taf", taf,
			"metering_point", mp, "tariff_stage", stage);
		return *result != NULL ? TW_OK : tw_error_set(err, TW_E_NOMEM, "out of memory");
	}
	if (strcmp(taf, "TAF6") != 0 && strcmp(taf, "TAF9") != 0) {
		*code = "unknown_taf";
		return tw_error_set(err, TW_E_INVALID, "this gateway supports TAF5, TAF6, TAF9 "
			"requests");
	}
	if ((path = tw_asprintf("%s/emt-%s.enc.crt", gw->dir, emt)) == NULL)
		goto nomem;
	if ((enc = sm_read_cert(path, err)) == NULL) {
		*code = "no_emt_certificate";
		rc = TW_E_NOT_FOUND;
		goto out;
	}
	free(path);
	if ((path = tw_asprintf("%s/sig.crt", gw->dir)) == NULL)
		goto nomem;
	if ((sig = sm_read_cert(path, err)) == NULL || (key = sim_gw_sig_key(gw, err)) == NULL) {
		*code = "no_sig_key";
		rc = TW_E_NOT_FOUND;
		goto out;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto nomem;
	memcpy(mid, "r", 2);
	tw_hex_encode(rnd, sizeof(rnd), mid + 1);
	if ((rc = sim_metering_build(gw->id, mid, mp, strcmp(taf, "TAF9") == 0 ? "grid-status" :
	    "tariffed", true, (tw_now_ms() / 900000) * 900000, enc, sig, key, &der, &len, NULL,
	    NULL, err)) != TW_OK || (rc = auth_b64_encode(der, len, &b64, err)) != TW_OK) {
		*code = "internal";
		goto out;
	}
	*result = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:b, s:s}}",
		"gateway_id", gw->id, "taf", taf, "metering_point", mp, "message",
		"gateway_id", gw->id, "message_id", mid, "kind",
		strcmp(taf, "TAF9") == 0 ? "grid-status" : "tariffed", "emt", emt,
		"metering_point", mp, "clock_ok", 1, "cms", b64);
	if (*result == NULL)
		goto nomem;
	goto out;
nomem:
	*code = "internal";
	rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
out:
	free(path);
	free(der);
	free(b64);
	X509_free(enc);
	X509_free(sig);
	return rc;
}

const struct sim_order_handler sim_order_taf_request = { "taf-request", taf_execute };
