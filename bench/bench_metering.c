/*
 * bench_metering.c: metering messages accepted per second by the GWA's receipt path
 * (metering_accept: authorisation lookups, CMS verification with the gateway's SIG
 * certificate from the store, one durable INSERT per message, as wan does before it
 * acknowledges), next to peers measured in the same run on the same machine:
 *   - peer "verify": raw OpenSSL CMS_verify of the same messages with the same
 *     certificate (no store);
 *   - peer "insert": the same bytes inserted into the same table with one commit (fsync)
 *     per batch of 100, no checks (the plain durable peer of issue 14).
 * Also: bytes stored per message. Messages are one day of quarter-hour values (96) per
 * metering point, signed and encrypted like the simulator's.
 *
 *   bench_metering [N] [DIR]     N messages (default 2000), store under DIR (a new
 *                                temporary directory by default; SQLite WAL, synchronous
 *                                FULL as in production)
 * The last line is machine-readable: "bench_metering: key=value ...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "base/util.h"
#include "metering/metering.h"
#include "sim/sim_metering.h"
#include "store/store.h"
#include "store/store_metering.h"
#include "store/store_profiles.h"

static X509 *mk_cert(EVP_PKEY **key)
{
	X509 *x = X509_new();

	*key = EVP_EC_gen("brainpoolP256r1");
	if (x == NULL || *key == NULL)
		exit(2);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)"bench", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, *key);
	if (X509_sign(x, *key, EVP_sha256()) <= 0)
		exit(2);
	return x;
}

static void die(const char *what, const struct tw_error *e)
{
	fprintf(stderr, "bench_metering: %s: %s\n", what, e->message);
	exit(1);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	char tmpl[] = "/tmp/torwart-bench-metering-XXXXXX", db[256], db2[256];
	const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
	EVP_PKEY *sig_key, *enc_key;
	X509 *sig, *enc;
	struct tw_store *st = NULL, *peer = NULL;
	struct tw_error e;
	struct metering_msg *msgs;
	struct store_gateway gw;
	struct store_certificate c;
	struct store_profile p;
	struct store_metering_counts cnt;
	unsigned char *der = NULL;
	int dlen;
	double t_accept, t_verify, t_insert;
	int64_t t0;
	bool dup;
	int64_t id;

	if (n < 1 || dir == NULL)
		return 2;
	snprintf(db, sizeof(db), "%s/store.db", dir);
	snprintf(db2, sizeof(db2), "%s/peer.db", dir);
	sig = mk_cert(&sig_key);
	enc = mk_cert(&enc_key);
	if (store_open(db, &st, &e) != TW_OK || store_migrate(st, &e) != TW_OK)
		die("store", &e);
	memset(&gw, 0, sizeof(gw));
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "GW-BENCH");
	snprintf(gw.state, sizeof(gw.state), "registered");
	if (store_tenant_ensure(st, "default", &gw.tenant_id, &e) != TW_OK ||
	    store_gateway_insert(st, &gw, &e) != TW_OK)
		die("gateway", &e);
	memset(&c, 0, sizeof(c));
	c.tenant_id = gw.tenant_id;
	snprintf(c.serial_hex, sizeof(c.serial_hex), "01");
	snprintf(c.issuer, sizeof(c.issuer), "CN=bench");
	snprintf(c.subject, sizeof(c.subject), "CN=bench");
	snprintf(c.owner_kind, sizeof(c.owner_kind), "smgw");
	snprintf(c.owner_id, sizeof(c.owner_id), "GW-BENCH");
	snprintf(c.usage, sizeof(c.usage), "SIG");
	snprintf(c.status, sizeof(c.status), "valid");
	memset(c.fingerprint, 'a', 64);
	c.not_after = 4102444800LL;
	if ((dlen = i2d_X509(sig, &der)) <= 0)
		return 2;
	c.der = der;
	c.der_len = (size_t)dlen;
	if (store_certificate_insert(st, &c, &e) != TW_OK)
		die("certificate", &e);
	if (store_emt_authorise(st, "GW-BENCH", "9900000000001", 1, &e) != TW_OK)
		die("authorisation", &e);
	memset(&p, 0, sizeof(p));
	snprintf(p.gateway_id, sizeof(p.gateway_id), "GW-BENCH");
	snprintf(p.profile_id, sizeof(p.profile_id), "taf1");
	snprintf(p.type, sizeof(p.type), "evaluation");
	memset(p.hash, 'b', 64);
	p.doc = (char *)"{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\","
		"\"meters\":[\"MP1\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,"
		"\"recipients\":[{\"emt\":\"9900000000001\",\"wan_profile\":\"w\"}]}";
	if (store_profile_put(st, &p, &dup, &e) != TW_OK)
		die("profile", &e);

	/* The messages, made before any clock runs. */
	if ((msgs = calloc((size_t)n, sizeof(*msgs))) == NULL)
		return 2;
	for (long i = 0; i < n; i++) {
		struct metering_msg *m = &msgs[i];

		snprintf(m->gateway_id, sizeof(m->gateway_id), "GW-BENCH");
		snprintf(m->message_id, sizeof(m->message_id), "m%ld", i);
		snprintf(m->kind, sizeof(m->kind), "tariffed");
		snprintf(m->emt, sizeof(m->emt), "9900000000001");
		snprintf(m->metering_point, sizeof(m->metering_point), "MP1");
		m->clock_ok = true;
		if (sim_metering_build(m->gateway_id, m->message_id, "MP1", "tariffed", true,
		    1700000000000LL, enc, sig, sig_key, &m->cms, &m->cms_len, NULL, NULL, &e)
		    != TW_OK)
			die("building messages", &e);
	}

	/* ours: the receipt path */
	t0 = tw_monotonic_ms();
	for (long i = 0; i < n; i++)
		if (metering_accept(st, "GW-BENCH", &msgs[i], tw_now_ms(), &id, &dup, &e) != TW_OK)
			die("accept", &e);
	t_accept = (double)(tw_monotonic_ms() - t0) / 1000.0;

	/* peer 1: raw CMS_verify */
	t0 = tw_monotonic_ms();
	for (long i = 0; i < n; i++) {
		const unsigned char *q = msgs[i].cms;
		CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &q, (long)msgs[i].cms_len);
		STACK_OF(X509) *certs = sk_X509_new_null();
		BIO *out = BIO_new(BIO_s_mem());

		sk_X509_push(certs, sig);
		if (ci == NULL || CMS_verify(ci, certs, NULL, NULL, out, CMS_NOINTERN |
		    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1)
			return 1;
		BIO_free(out);
		sk_X509_free(certs);
		CMS_ContentInfo_free(ci);
	}
	t_verify = (double)(tw_monotonic_ms() - t0) / 1000.0;

	/* peer 2: plain inserts, one commit per 100 */
	if (store_open(db2, &peer, &e) != TW_OK || store_migrate(peer, &e) != TW_OK)
		die("peer store", &e);
	t0 = tw_monotonic_ms();
	for (long i = 0; i < n; i++) {
		struct store_metering_msg r;
		unsigned char h[32];

		if (i % 100 == 0 && store_begin(peer, &e) != TW_OK)
			die("peer begin", &e);
		memset(&r, 0, sizeof(r));
		snprintf(r.gateway_id, sizeof(r.gateway_id), "GW-BENCH");
		snprintf(r.message_id, sizeof(r.message_id), "m%ld", i);
		snprintf(r.kind, sizeof(r.kind), "tariffed");
		snprintf(r.emt_id, sizeof(r.emt_id), "9900000000001");
		snprintf(r.metering_point, sizeof(r.metering_point), "MP1");
		EVP_Digest(msgs[i].cms, msgs[i].cms_len, h, NULL, EVP_sha256(), NULL);
		tw_hex_encode(h, 32, r.sha256);
		r.body = msgs[i].cms;
		r.body_len = msgs[i].cms_len;
		r.received_ms = tw_now_ms();
		if (store_metering_insert(peer, &r, &id, &dup, &e) != TW_OK)
			die("peer insert", &e);
		if ((i % 100 == 99 || i == n - 1) && store_commit(peer, &e) != TW_OK)
			die("peer commit", &e);
	}
	t_insert = (double)(tw_monotonic_ms() - t0) / 1000.0;
	if (store_metering_count(st, NULL, &cnt, &e) != TW_OK)
		die("count", &e);

	printf("messages: %ld, %zu bytes CMS each (96 quarter-hour values), %.0f bytes stored per "
		"message\n", n, msgs[0].cms_len, (double)cnt.bytes / (double)n);
	printf("ours  accept (authorise + verify + durable insert each): %8.1f msg/s\n",
		(double)n / t_accept);
	printf("peer  raw OpenSSL CMS_verify only:                       %8.1f msg/s\n",
		(double)n / t_verify);
	printf("peer  plain inserts, one commit per 100:                 %8.1f msg/s\n",
		(double)n / t_insert);
	printf("bench_metering: n=%ld accept_per_s=%.1f verify_per_s=%.1f insert_per_s=%.1f "
		"ratio_accept_verify=%.2f ratio_accept_insert=%.2f bytes_per_msg=%.0f\n", n,
		(double)n / t_accept, (double)n / t_verify, (double)n / t_insert,
		t_verify / t_accept, t_insert / t_accept, (double)cnt.bytes / (double)n);
	for (long i = 0; i < n; i++)
		metering_msg_clear(&msgs[i]);
	free(msgs);
	free(der);
	store_close(st);
	store_close(peer);
	X509_free(sig);
	X509_free(enc);
	EVP_PKEY_free(sig_key);
	EVP_PKEY_free(enc_key);
	if (argc <= 2) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_metering: could not remove %s\n", dir);
	}
	return 0;
}
