/*
 * test_metering.c: metering messages (parse, CMS verification, outbox), the time
 * service's parsers and the TAF request parser (src/metering, src/store/store_metering.c).
 * Includes the regression test for evaluation profiles refusing TAF5 (UC-3.5.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth/command.h"
#include "base/util.h"
#include "gwa/profile.h"
#include "metering/metering.h"
#include "metering/metering_deliver.h"
#include "metering/metering_taf.h"
#include "metering/timesvc.h"
#include "sim/sim_metering.h"
#include "store/store_metering.h"
#include "store/store_profiles.h"

/* A self-signed certificate for a new brainpoolP256r1 key (*key is the caller's). */
static X509 *mk_cert(EVP_PKEY **key)
{
	X509 *x = X509_new();

	*key = EVP_EC_gen("brainpoolP256r1");
	assert_non_null(*key);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)"unit", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_pubkey(x, *key), 1);
	assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
	return x;
}

static void test_taf5_profile_accepted(void **state)
{
	static const char doc[] = "{\"profile_id\":\"taf5\",\"type\":\"evaluation\","
		"\"taf\":\"TAF5\",\"meters\":[\"M1\"],\"obis\":[\"1-0:1.8.0*255\"],"
		"\"interval_s\":900,\"recipients\":[{\"emt\":\"E1\",\"wan_profile\":\"w\"}]}";
	struct profile_doc *d = NULL;
	struct tw_error err;

	(void)state;
	/* Before issue 14 the evaluation profile refused TAF5 (UC-3.5.3 needs it). */
	assert_int_equal(profile_parse(doc, sizeof(doc) - 1, &d, &err), TW_OK);
	profile_doc_free(d);
}

static void test_cms_roundtrip(void **state)
{
	EVP_PKEY *sig_key, *enc_key, *other_key;
	X509 *sig = mk_cert(&sig_key), *enc = mk_cert(&enc_key), *other = mk_cert(&other_key);
	unsigned char *der = NULL, *inner = NULL, *got = NULL;
	size_t len = 0, ilen = 0, glen = 0;
	struct tw_error err;

	(void)state;
	assert_int_equal(sim_metering_build("GW1", "m1", "MP1", "tariffed", true,
		1700000000000LL, enc, sig, sig_key, &der, &len, &inner, &ilen, &err), TW_OK);
	assert_int_equal(metering_cms_verify(der, len, sig, &got, &glen, &err), TW_OK);
	assert_int_equal(glen, ilen);
	assert_memory_equal(got, inner, ilen);
	free(got);
	got = NULL;
	/* Another gateway's (or a forger's) certificate: the signature does not verify. */
	assert_int_equal(metering_cms_verify(der, len, other, &got, &glen, &err), TW_E_CRYPTO);
	assert_null(got);
	/* The EnvelopedData alone is not a SignedData. */
	assert_int_equal(metering_cms_verify(inner, ilen, sig, &got, &glen, &err), TW_E_INVALID);
	/* Trailing bytes after the DER are refused. */
	der = realloc(der, len + 1);
	der[len] = 0;
	assert_int_equal(metering_cms_verify(der, len + 1, sig, &got, &glen, &err), TW_E_INVALID);
	/* A flipped byte in the signed content. */
	der[len / 2] ^= 1;
	assert_int_not_equal(metering_cms_verify(der, len, sig, &got, &glen, &err), TW_OK);
	assert_null(got);
	free(der);
	free(inner);
	X509_free(sig);
	X509_free(enc);
	X509_free(other);
	EVP_PKEY_free(sig_key);
	EVP_PKEY_free(enc_key);
	EVP_PKEY_free(other_key);
}

static void test_msg_parse(void **state)
{
	static const struct metering_msg zero;
	struct metering_msg m;
	struct tw_error err;
	char body[512];

	(void)state;
#define BODY(extra, kind, cms) snprintf(body, sizeof(body), "{\"gateway_id\":\"GW1\"," \
	"\"message_id\":\"m1\",\"kind\":\"%s\",\"emt\":\"E1\",\"metering_point\":\"MP1\"," \
	"\"clock_ok\":true,\"cms\":\"%s\"%s}", kind, cms, extra)
	BODY("", "tariffed", "AAEC");
	assert_int_equal(metering_msg_parse(body, strlen(body), &m, &err), TW_OK);
	assert_int_equal(m.cms_len, 3);
	assert_true(m.clock_ok);
	metering_msg_clear(&m);
	BODY(",\"x\":1", "tariffed", "AAEC");
	assert_int_equal(metering_msg_parse(body, strlen(body), &m, &err), TW_E_INVALID);
	assert_memory_equal(&m, &zero, sizeof(m));
	BODY("", "raw", "AAEC");
	assert_int_equal(metering_msg_parse(body, strlen(body), &m, &err), TW_E_INVALID);
	BODY("", "grid-status", "AA!C");
	assert_int_equal(metering_msg_parse(body, strlen(body), &m, &err), TW_E_INVALID);
	assert_int_equal(metering_msg_parse("{\"kind\":1,\"kind\":2}", 19, &m, &err),
		TW_E_PROTOCOL);
	assert_int_equal(metering_msg_parse(body, METERING_BODY_MAX + 1, &m, &err),
		TW_E_TOO_LARGE);
}

static void test_time_parsers(void **state)
{
	unsigned char pkt[48] = { 0x24, 2 }, origin[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct timesvc_request rq;
	struct tw_error err;
	int64_t t2, t3;
	int stratum;
	static const char good[] = "{\"gateway_id\":\"GW1\",\"nonce\":"
		"\"00112233445566778899aabbccddeeff\",\"t1\":\"2026-11-24T06:51:41.123Z\"}";
	static const char badnonce[] = "{\"gateway_id\":\"GW1\",\"nonce\":\"00\","
		"\"t1\":\"2026-11-24T06:51:41.123Z\"}";

	(void)state;
	assert_int_equal(timesvc_request_parse(good, sizeof(good) - 1, &rq, &err), TW_OK);
	assert_string_equal(rq.gateway_id, "GW1");
	assert_int_equal(timesvc_request_parse(badnonce, sizeof(badnonce) - 1, &rq, &err),
		TW_E_INVALID);
	/* NTP: 2026 in NTP seconds (0xED...), origin echoed */
	memcpy(pkt + 24, origin, 8);
	pkt[32] = 0xED; pkt[40] = 0xED;
	assert_int_equal(timesvc_ntp_parse(pkt, sizeof(pkt), origin, &t2, &t3, &stratum, &err),
		TW_OK);
	assert_int_equal(stratum, 2);
	origin[0] ^= 1;   /* a spoofed or stale answer */
	assert_int_equal(timesvc_ntp_parse(pkt, sizeof(pkt), origin, &t2, &t3, &stratum, &err),
		TW_E_PROTOCOL);
	origin[0] ^= 1;
	pkt[0] = 0xE4;    /* leap indicator 3: unsynchronised */
	assert_int_equal(timesvc_ntp_parse(pkt, sizeof(pkt), origin, &t2, &t3, &stratum, &err),
		TW_E_PROTOCOL);
	pkt[0] = 0x23;    /* a client packet */
	assert_int_equal(timesvc_ntp_parse(pkt, sizeof(pkt), origin, &t2, &t3, &stratum, &err),
		TW_E_PROTOCOL);
	assert_int_equal(timesvc_ntp_parse(pkt, 47, origin, &t2, &t3, &stratum, &err),
		TW_E_PROTOCOL);
}

static void test_taf_parse(void **state)
{
	struct metering_taf_request r;
	struct tw_error err;
	static const char t5[] = "{\"gateway\":\"GW1\",\"metering_point\":\"MP1\",\"taf\":\"TAF5\","
		"\"tariff_stage\":2}";
	static const char t5nostage[] = "{\"gateway\":\"GW1\",\"metering_point\":\"MP1\","
		"\"taf\":\"TAF5\"}";
	static const char t6stage[] = "{\"gateway\":\"GW1\",\"metering_point\":\"MP1\","
		"\"taf\":\"TAF6\",\"tariff_stage\":2}";
	static const char t1[] = "{\"gateway\":\"GW1\",\"metering_point\":\"MP1\",\"taf\":\"TAF1\"}";

	(void)state;
	assert_int_equal(metering_taf_request_parse(t5, sizeof(t5) - 1, &r, &err), TW_OK);
	assert_int_equal(r.tariff_stage, 2);
	assert_string_equal(r.taf, "TAF5");
	assert_int_equal(metering_taf_request_parse(t5nostage, sizeof(t5nostage) - 1, &r, &err),
		TW_E_INVALID);
	assert_int_equal(metering_taf_request_parse(t6stage, sizeof(t6stage) - 1, &r, &err),
		TW_E_INVALID);
	assert_int_equal(metering_taf_request_parse(t1, sizeof(t1) - 1, &r, &err), TW_E_INVALID);
	assert_string_equal(metering_taf_kind("TAF9"), "grid-status");
	assert_string_equal(metering_taf_kind("TAF6"), "tariffed");
}

static void test_outbox(void **state)
{
	char dir[] = "/tmp/tw-test-metering-XXXXXX", db[128], cmd[160];
	struct tw_store *st = NULL;
	struct store_metering_msg m, *due = NULL;
	struct store_metering_counts c;
	unsigned char body[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	struct tw_error err;
	int64_t id = 0, id2 = 0, n = 0;
	bool dup = true;
	size_t k = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/store.db", dir);
	assert_int_equal(store_open(db, &st, &err), TW_OK);
	assert_int_equal(store_migrate(st, &err), TW_OK);
	memset(&m, 0, sizeof(m));
	snprintf(m.gateway_id, sizeof(m.gateway_id), "GW1");
	snprintf(m.message_id, sizeof(m.message_id), "m1");
	snprintf(m.kind, sizeof(m.kind), "tariffed");
	snprintf(m.emt_id, sizeof(m.emt_id), "E1");
	snprintf(m.metering_point, sizeof(m.metering_point), "MP1");
	memset(m.sha256, 'a', 64);
	m.body = body;
	m.body_len = sizeof(body);
	m.received_ms = 1000;
	assert_int_equal(store_metering_insert(st, &m, &id, &dup, &err), TW_OK);
	assert_false(dup);
	/* The same id and bytes again: acknowledged, not stored twice. */
	assert_int_equal(store_metering_insert(st, &m, &id2, &dup, &err), TW_OK);
	assert_true(dup);
	assert_int_equal(id2, id);
	/* The same bytes under a new id: a replay. */
	snprintf(m.message_id, sizeof(m.message_id), "m2");
	assert_int_equal(store_metering_insert(st, &m, &id2, &dup, &err), TW_E_EXISTS);
	/* The same id with other bytes: refused. */
	snprintf(m.message_id, sizeof(m.message_id), "m1");
	memset(m.sha256, 'b', 64);
	assert_int_equal(store_metering_insert(st, &m, &id2, &dup, &err), TW_E_EXISTS);
	/* Bad input changes nothing. */
	snprintf(m.kind, sizeof(m.kind), "other");
	assert_int_equal(store_metering_insert(st, &m, &id2, &dup, &err), TW_E_INVALID);

	assert_int_equal(store_metering_due(st, 999, 8, &due, &k, &err), TW_OK);
	assert_int_equal(k, 0);
	store_metering_msgs_free(due, 8);
	assert_int_equal(store_metering_due(st, 1000, 8, &due, &k, &err), TW_OK);
	assert_int_equal(k, 1);
	assert_int_equal(due[0].body_len, sizeof(body));
	assert_memory_equal(due[0].body, body, sizeof(body));
	store_metering_msgs_free(due, 8);
	assert_int_equal(store_metering_retry(st, id, 5000, "EMT down", &err), TW_OK);
	assert_int_equal(store_metering_due(st, 4999, 8, &due, &k, &err), TW_OK);
	assert_int_equal(k, 0);
	store_metering_msgs_free(due, 8);
	assert_int_equal(store_metering_mark_overdue(st, 2000, &n, &err), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_metering_mark_overdue(st, 2000, &n, &err), TW_OK);
	assert_int_equal(n, 0);   /* alerted once */
	assert_int_equal(store_metering_delivered(st, id, 6000, &err), TW_OK);
	assert_int_equal(store_metering_delivered(st, id, 6001, &err), TW_E_NOT_FOUND);
	assert_int_equal(store_metering_count(st, NULL, &c, &err), TW_OK);
	assert_int_equal(c.delivered, 1);
	assert_int_equal(c.pending, 0);
	assert_int_equal(store_metering_purge(st, 6000, &n, &err), TW_OK);
	assert_int_equal(n, 0);   /* delivered at 6000 is not before 6000 */
	assert_int_equal(store_metering_purge(st, 6001, &n, &err), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_emt_endpoint_set(st, "E1", "http://x/", 1, "unit", &err),
		TW_E_INVALID);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * What wan's group commit (wan_orders.c batch) relies on: inside one transaction a second
 * copy of a queued message is a duplicate of the first (same id); a rolled-back batch
 * leaves nothing (its values were not acknowledged, their resends are new); a replay in
 * a batch fails it, and run alone the items get the answers they would have had.
 */
static void test_outbox_batch(void **state)
{
	char dir[] = "/tmp/tw-test-metering-XXXXXX", db[128], cmd[160];
	struct tw_store *st = NULL;
	struct store_metering_msg a, b;
	struct store_metering_counts c;
	unsigned char body_a[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	unsigned char body_b[] = { 0x30, 0x03, 0x02, 0x01, 0x06 };
	struct tw_error err;
	int64_t id_a = 0, id = 0;
	bool dup = true;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/store.db", dir);
	assert_int_equal(store_open(db, &st, &err), TW_OK);
	assert_int_equal(store_migrate(st, &err), TW_OK);
	memset(&a, 0, sizeof(a));
	snprintf(a.gateway_id, sizeof(a.gateway_id), "GW1");
	snprintf(a.message_id, sizeof(a.message_id), "m1");
	snprintf(a.kind, sizeof(a.kind), "tariffed");
	snprintf(a.emt_id, sizeof(a.emt_id), "E1");
	snprintf(a.metering_point, sizeof(a.metering_point), "MP1");
	memset(a.sha256, 'a', 64);
	a.body = body_a;
	a.body_len = sizeof(body_a);
	a.received_ms = 1000;
	b = a;
	snprintf(b.gateway_id, sizeof(b.gateway_id), "GW2");
	memset(b.sha256, 'b', 64);
	b.body = body_b;
	b.body_len = sizeof(body_b);

	/* A batch rolled back: nothing stored. */
	assert_int_equal(store_begin(st, &err), TW_OK);
	assert_int_equal(store_metering_insert(st, &a, &id_a, &dup, &err), TW_OK);
	assert_false(dup);
	store_rollback(st);
	assert_int_equal(store_metering_count(st, NULL, &c, &err), TW_OK);
	assert_int_equal(c.pending, 0);

	/* Two gateways' values and a resend of the first in one transaction. */
	assert_int_equal(store_begin(st, &err), TW_OK);
	assert_int_equal(store_metering_insert(st, &a, &id_a, &dup, &err), TW_OK);
	assert_false(dup);
	assert_int_equal(store_metering_insert(st, &b, &id, &dup, &err), TW_OK);
	assert_false(dup);
	assert_int_not_equal(id, id_a);
	assert_int_equal(store_metering_insert(st, &a, &id, &dup, &err), TW_OK);
	assert_true(dup);
	assert_int_equal(id, id_a);
	assert_int_equal(store_commit(st, &err), TW_OK);
	assert_int_equal(store_metering_count(st, NULL, &c, &err), TW_OK);
	assert_int_equal(c.pending, 2);

	/* A replay (a's bytes under a new id) fails the batch; alone, each gets its answer. */
	snprintf(a.message_id, sizeof(a.message_id), "m2");
	snprintf(b.message_id, sizeof(b.message_id), "m3");
	memset(b.sha256, 'c', 64);
	assert_int_equal(store_begin(st, &err), TW_OK);
	assert_int_equal(store_metering_insert(st, &b, &id, &dup, &err), TW_OK);
	assert_int_equal(store_metering_insert(st, &a, &id, &dup, &err), TW_E_EXISTS);
	store_rollback(st);
	assert_int_equal(store_metering_count(st, NULL, &c, &err), TW_OK);
	assert_int_equal(c.pending, 2);
	assert_int_equal(store_metering_insert(st, &b, &id, &dup, &err), TW_OK);
	assert_false(dup);
	assert_int_equal(store_metering_insert(st, &a, &id, &dup, &err), TW_E_EXISTS);
	assert_int_equal(store_metering_count(st, NULL, &c, &err), TW_OK);
	assert_int_equal(c.pending, 3);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* metering_prepare: the row to store, its body owned; nothing left on a refusal. */
static void test_prepare(void **state)
{
	char dir[] = "/tmp/tw-test-metering-XXXXXX", db[128], cmd[160];
	struct tw_store *st = NULL;
	struct store_gateway gw;
	struct store_certificate c;
	struct store_profile p;
	struct store_metering_msg row;
	struct metering_msg m;
	EVP_PKEY *sig_key, *enc_key;
	X509 *sig = mk_cert(&sig_key), *enc = mk_cert(&enc_key);
	unsigned char *der = NULL, *inner = NULL;
	size_t ilen = 0;
	struct tw_error err;
	int dlen;
	bool dup;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/store.db", dir);
	assert_int_equal(store_open(db, &st, &err), TW_OK);
	assert_int_equal(store_migrate(st, &err), TW_OK);
	memset(&gw, 0, sizeof(gw));
	snprintf(gw.gateway_id, sizeof(gw.gateway_id), "GW1");
	snprintf(gw.state, sizeof(gw.state), "registered");
	assert_int_equal(store_tenant_ensure(st, "default", &gw.tenant_id, &err), TW_OK);
	assert_int_equal(store_gateway_insert(st, &gw, &err), TW_OK);
	memset(&c, 0, sizeof(c));
	c.tenant_id = gw.tenant_id;
	snprintf(c.serial_hex, sizeof(c.serial_hex), "07");
	snprintf(c.issuer, sizeof(c.issuer), "CN=unit");
	snprintf(c.subject, sizeof(c.subject), "CN=unit");
	snprintf(c.owner_kind, sizeof(c.owner_kind), "smgw");
	snprintf(c.owner_id, sizeof(c.owner_id), "GW1");
	snprintf(c.usage, sizeof(c.usage), "SIG");
	snprintf(c.status, sizeof(c.status), "valid");
	memset(c.fingerprint, 'a', 64);
	c.not_after = 4102444800LL;
	assert_true((dlen = i2d_X509(sig, &der)) > 0);
	c.der = der;
	c.der_len = (size_t)dlen;
	assert_int_equal(store_certificate_insert(st, &c, &err), TW_OK);
	free(der);
	der = NULL;
	assert_int_equal(store_emt_authorise(st, "GW1", "E1", 1, &err), TW_OK);
	memset(&p, 0, sizeof(p));
	snprintf(p.gateway_id, sizeof(p.gateway_id), "GW1");
	snprintf(p.profile_id, sizeof(p.profile_id), "taf1");
	snprintf(p.type, sizeof(p.type), "evaluation");
	memset(p.hash, 'b', 64);
	p.doc = (char *)"{\"profile_id\":\"taf1\",\"type\":\"evaluation\",\"taf\":\"TAF1\","
		"\"meters\":[\"MP1\"],\"obis\":[\"1-0:1.8.0*255\"],\"interval_s\":900,"
		"\"recipients\":[{\"emt\":\"E1\",\"wan_profile\":\"w\"}]}";
	assert_int_equal(store_profile_put(st, &p, &dup, &err), TW_OK);

	memset(&m, 0, sizeof(m));
	snprintf(m.gateway_id, sizeof(m.gateway_id), "GW1");
	snprintf(m.message_id, sizeof(m.message_id), "m1");
	snprintf(m.kind, sizeof(m.kind), "tariffed");
	snprintf(m.emt, sizeof(m.emt), "E1");
	snprintf(m.metering_point, sizeof(m.metering_point), "MP1");
	m.clock_ok = true;
	assert_int_equal(sim_metering_build("GW1", "m1", "MP1", "tariffed", true,
		1700000000000LL, enc, sig, sig_key, &m.cms, &m.cms_len, &inner, &ilen, &err), TW_OK);
	/* Tariffed values: the whole SignedData, copied (the row owns its body). */
	assert_int_equal(metering_prepare(st, "GW1", &m, 5, &row, &err), TW_OK);
	assert_int_equal(row.body_len, m.cms_len);
	assert_true(row.body != m.cms);
	assert_memory_equal(row.body, m.cms, m.cms_len);
	assert_string_equal(row.message_id, "m1");
	assert_int_equal(row.received_ms, 5);
	store_metering_msg_clear(&row);
	/* Grid-status data: the inner EnvelopedData. */
	snprintf(m.kind, sizeof(m.kind), "grid-status");
	assert_int_equal(metering_prepare(st, "GW1", &m, 5, &row, &err), TW_OK);
	assert_int_equal(row.body_len, ilen);
	assert_memory_equal(row.body, inner, ilen);
	store_metering_msg_clear(&row);
	/* Refusals leave an empty row: another TLS identity, an unauthorised EMT. */
	assert_int_equal(metering_prepare(st, "GW2", &m, 5, &row, &err), TW_E_DENIED);
	assert_null(row.body);
	snprintf(m.emt, sizeof(m.emt), "E2");
	assert_int_equal(metering_prepare(st, "GW1", &m, 5, &row, &err), TW_E_DENIED);
	assert_null(row.body);
	/* Nothing was stored by prepare. */
	{
		struct store_metering_counts cnt;

		assert_int_equal(store_metering_count(st, NULL, &cnt, &err), TW_OK);
		assert_int_equal(cnt.pending, 0);
	}
	metering_msg_clear(&m);
	free(inner);
	store_close(st);
	X509_free(sig);
	X509_free(enc);
	EVP_PKEY_free(sig_key);
	EVP_PKEY_free(enc_key);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* The EMT's answer head decides whether a kept connection can carry the next POST. */
static void test_answer_head(void **state)
{
	struct metering_answer a;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	const char *body = "HTTP/1.1 202 Accepted\r\ncontent-length:  5 \r\nX: y\r\n\r\nhello";
	const char *closing = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	const char *http10 = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	const char *nolen = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
	const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	const char *twice = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n";
	const char *huge = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n";
	const char *signed_len = "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
	const char *partial = "HTTP/1.1 500 Internal";

	(void)state;
	metering_answer_head(ok, strlen(ok), &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.head_len, strlen(ok));
	assert_int_equal(a.content_length, 0);
	assert_true(a.keep_alive);
	metering_answer_head(body, strlen(body), &a);
	assert_int_equal(a.status, 202);
	assert_int_equal(a.content_length, 5);
	assert_int_equal(a.head_len, strlen(body) - 5);
	assert_true(a.keep_alive);
	metering_answer_head(closing, strlen(closing), &a);
	assert_false(a.keep_alive);
	metering_answer_head(http10, strlen(http10), &a);
	assert_int_equal(a.status, 200);
	assert_false(a.keep_alive);
	metering_answer_head(nolen, strlen(nolen), &a);
	assert_false(a.keep_alive);
	metering_answer_head(chunked, strlen(chunked), &a);
	assert_false(a.keep_alive);
	metering_answer_head(twice, strlen(twice), &a);
	assert_false(a.keep_alive);
	metering_answer_head(huge, strlen(huge), &a);
	assert_false(a.keep_alive);
	metering_answer_head(signed_len, strlen(signed_len), &a);
	assert_false(a.keep_alive);
	metering_answer_head(partial, strlen(partial), &a);
	assert_int_equal(a.status, 500);
	assert_int_equal(a.head_len, 0);
	assert_false(a.keep_alive);
	metering_answer_head("garbage\r\n\r\n", 11, &a);
	assert_int_equal(a.status, 0);
	assert_false(a.keep_alive);
	metering_answer_head("", 0, &a);
	assert_int_equal(a.status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_taf5_profile_accepted),
		cmocka_unit_test(test_answer_head),
		cmocka_unit_test(test_cms_roundtrip),
		cmocka_unit_test(test_msg_parse),
		cmocka_unit_test(test_time_parsers),
		cmocka_unit_test(test_taf_parse),
		cmocka_unit_test(test_outbox),
		cmocka_unit_test(test_outbox_batch),
		cmocka_unit_test(test_prepare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
