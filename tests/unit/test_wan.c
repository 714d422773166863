/*
 * test_wan.c: WAN protocol v1 codec, and wan + torwart-sim end to end in one process.
 *
 * The end-to-end part builds a throw-away home with code-made brainpoolP256r1
 * certificates (a Root-CA, the GWA TLS certificate and one directory per test gateway),
 * registers gateways and certificates through store.h, starts wan on a free port and
 * drives it with sim_run and with a raw blocking TLS client (for HTTP error paths). The
 * admin log is then read back to prove every refusal was recorded with its reason.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/home.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/tls.h"
#include "sim/sim.h"
#include "store/db.h"
#include "store/store.h"
#include "wan/wan.h"
#include "wan/wan_session_cache.h"
#include "net/wan_message.h"

/* ------------------------------------------------------------------ codec */

static void parse_req(const char *json, tw_rc want, struct wan_session_request *out)
{
	struct tw_error e;
	tw_rc rc = wan_session_request_parse(json, strlen(json), out, &e);

	if (rc != want)
		fail_msg("parse(%s) = %s (%s), want %s", json, tw_strerror(rc), e.message,
			tw_strerror(want));
}

static void test_codec_session_request_valid(void **state)
{
	struct wan_session_request r;
	struct tw_buf buf;
	struct wan_session_request back;

	(void)state;
	parse_req("{\"gateway_id\":\"ETWA0012345678\",\"firmware_version\":\"1.2.3\","
		"\"time\":\"2026-11-24T06:51:41.123Z\"}", TW_OK, &r);
	assert_string_equal(r.gateway_id, "ETWA0012345678");
	assert_string_equal(r.firmware_version, "1.2.3");
	assert_int_equal(r.time_ms, 1795503101123LL);
	/* Offsets are honoured. */
	parse_req("{\"gateway_id\":\"a\",\"firmware_version\":\"x\","
		"\"time\":\"2026-11-24T07:51:41.123+01:00\"}", TW_OK, &r);
	assert_int_equal(r.time_ms, 1795503101123LL);
	/* Encode, parse again: same content. */
	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	assert_int_equal(wan_session_request_encode(&r, &buf, NULL), TW_OK);
	assert_int_equal(wan_session_request_parse(buf.data, buf.len, &back, NULL), TW_OK);
	assert_memory_equal(&r, &back, sizeof(r));
	tw_buf_free(&buf);
}

/* One parse hands out the status object too (session_open no longer parses twice). */
static void test_codec_session_request_status(void **state)
{
	const char *with = "{\"gateway_id\":\"a\",\"firmware_version\":\"x\","
		"\"time\":\"2026-11-24T06:51:41Z\",\"status\":{\"profiles\":{}}}";
	const char *without = "{\"gateway_id\":\"a\",\"firmware_version\":\"x\","
		"\"time\":\"2026-11-24T06:51:41Z\"}";
	const char *bad = "{\"gateway_id\":\"a\",\"firmware_version\":\"x\","
		"\"time\":\"nope\",\"status\":{\"profiles\":{}}}";
	struct wan_session_request r;
	json_t *status = NULL, *stale = NULL;

	(void)state;
	assert_int_equal(wan_session_request_parse_status(with, strlen(with), &r, &status,
		NULL), TW_OK);
	assert_non_null(status);
	assert_true(json_is_object(json_object_get(status, "profiles")));
	assert_string_equal(r.gateway_id, "a");
	json_decref(status);
	/* *status is only an output: a value in it before is overwritten, not freed. */
	status = stale = json_object();
	assert_int_equal(wan_session_request_parse_status(without, strlen(without), &r, &status,
		NULL), TW_OK);
	assert_null(status);
	json_decref(stale);
	assert_int_equal(wan_session_request_parse_status(bad, strlen(bad), &r, &status, NULL),
		TW_E_INVALID);
	assert_null(status);
	assert_int_equal(wan_session_request_parse_status(with, strlen(with), &r, NULL, NULL),
		TW_OK);
}

static void test_codec_session_request_invalid(void **state)
{
	struct wan_session_request r;
	static const char *const invalid[] = {
		"{\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\"}",
		"{\"gateway_id\":\"\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G W\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G/..\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":7,\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":[],\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":1795503101}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\\n\",\"time\":\"2026-11-24T06:51:41Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-11-24\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-02-30T00:00:00Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T24:00:00Z\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Zjunk\"}",
		"{\"gateway_id\":\"G\",\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\","
			"\"admin\":true}",
		NULL
	};
	static const char *const not_json[] = {
		"", "null", "[]", "\"x\"", "{", "{\"gateway_id\":\"G\",\"gateway_id\":\"H\","
		"\"firmware_version\":\"1\",\"time\":\"2026-11-24T06:51:41Z\"}",
		NULL
	};
	char big_id[200];

	(void)state;
	for (size_t i = 0; invalid[i] != NULL; i++)
		parse_req(invalid[i], TW_E_INVALID, &r);
	for (size_t i = 0; not_json[i] != NULL; i++)
		parse_req(not_json[i], TW_E_PROTOCOL, &r);
	/* Nothing half-filled comes back on failure. */
	assert_string_equal(r.gateway_id, "");
	/* A 65-character id is too long. */
	memset(big_id, 0, sizeof(big_id));
	snprintf(big_id, sizeof(big_id), "{\"gateway_id\":\"%065d\",\"firmware_version\":\"1\","
		"\"time\":\"2026-11-24T06:51:41Z\"}", 0);
	parse_req(big_id, TW_E_TOO_LARGE, &r);
}

static void test_codec_oversized(void **state)
{
	struct wan_session_request r;
	size_t n = WAN_MESSAGE_MAX_BODY + 1;
	char *big = malloc(n);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(wan_session_request_parse(big, n, &r, NULL), TW_E_TOO_LARGE);
	/* One byte less is fine size-wise and then fails on content. */
	big[n - 2] = '}';
	assert_int_equal(wan_session_request_parse(big, n - 1, &r, NULL), TW_E_INVALID);
	free(big);
	assert_string_equal(wan_error_code_for(TW_E_TOO_LARGE), "too_large");
}

static void test_codec_response_and_error(void **state)
{
	struct wan_session_response res, back;
	struct wan_error_body eb;
	struct tw_buf buf;
	const char *j;

	(void)state;
	memset(&res, 0, sizeof(res));
	res.protocol = 1;
	snprintf(res.session, sizeof(res.session), "0123abcd");
	snprintf(res.server_time, sizeof(res.server_time), "2026-11-24T06:51:41.000Z");
	tw_buf_init(&buf, WAN_MESSAGE_MAX_BODY);
	assert_int_equal(wan_session_response_encode(&res, &buf, NULL), TW_OK);
	assert_int_equal(wan_session_response_parse(buf.data, buf.len, &back, NULL), TW_OK);
	assert_int_equal(back.protocol, 1);
	assert_string_equal(back.session, "0123abcd");
	assert_int_equal(back.pending_orders, 0);
	/* Responses tolerate unknown members, but not wrong types. */
	j = "{\"protocol\":1,\"session\":\"s\",\"server_time\":\"2026-11-24T06:51:41Z\","
		"\"pending_orders\":0,\"future\":{}}";
	assert_int_equal(wan_session_response_parse(j, strlen(j), &back, NULL), TW_OK);
	j = "{\"protocol\":\"1\",\"session\":\"s\",\"server_time\":\"2026-11-24T06:51:41Z\","
		"\"pending_orders\":0}";
	assert_int_equal(wan_session_response_parse(j, strlen(j), &back, NULL), TW_E_INVALID);
	j = "{\"protocol\":1,\"session\":\"s\",\"server_time\":\"2026-11-24T06:51:41Z\","
		"\"pending_orders\":-1}";
	assert_int_equal(wan_session_response_parse(j, strlen(j), &back, NULL), TW_E_INVALID);

	tw_buf_reset(&buf);
	assert_int_equal(wan_error_encode("identity_mismatch", "no \"quotes\" lost", &buf, NULL),
		TW_OK);
	assert_int_equal(wan_error_parse(buf.data, buf.len, &eb, NULL), TW_OK);
	assert_string_equal(eb.code, "identity_mismatch");
	assert_string_equal(eb.message, "no \"quotes\" lost");
	assert_int_not_equal(wan_error_encode("Bad Code", "x", &buf, NULL), TW_OK);
	tw_buf_free(&buf);
}

/* UC-3.2.4: the EMT's cls-request body, strict and small. */
static void test_codec_emt_cls_request(void **state)
{
	struct wan_emt_cls_request r, back;
	struct tw_buf buf;
	struct tw_error e;
	static const char *const invalid[] = {
		"{\"cls\":\"c\",\"duration_s\":1}",
		"{\"gateway\":\"G\",\"duration_s\":1}",
		"{\"gateway\":\"G\",\"cls\":\"c\"}",
		"{\"gateway\":\"G\",\"cls\":\"c\",\"duration_s\":0}",
		"{\"gateway\":\"G\",\"cls\":\"c\",\"duration_s\":86401}",
		"{\"gateway\":\"G\",\"cls\":\"c\",\"duration_s\":1.5}",
		"{\"gateway\":\"G\",\"cls\":\"c\",\"duration_s\":\"1\"}",
		"{\"gateway\":\"G W\",\"cls\":\"c\",\"duration_s\":1}",
		"{\"gateway\":\"G\",\"cls\":\"a/b\",\"duration_s\":1}",
		"{\"gateway\":\"G\",\"cls\":\"\",\"duration_s\":1}",
		"{\"gateway\":7,\"cls\":\"c\",\"duration_s\":1}",
		"{\"gateway\":\"G\",\"cls\":\"c\",\"duration_s\":1,\"emt\":\"x\"}",
		NULL
	};
	static const char *const not_json[] = {
		"", "[]", "{", "null",
		"{\"gateway\":\"G\",\"gateway\":\"H\",\"cls\":\"c\",\"duration_s\":1}",
		NULL
	};
	char big[WAN_EMT_BODY_MAX + 64];
	const char *ok = "{\"gateway\":\"GW-1\",\"cls\":\"cls-heatpump.1\",\"duration_s\":600}";

	(void)state;
	assert_int_equal(wan_emt_cls_request_parse(ok, strlen(ok), &r, &e), TW_OK);
	assert_string_equal(r.gateway, "GW-1");
	assert_string_equal(r.cls, "cls-heatpump.1");
	assert_int_equal(r.duration_s, 600);
	tw_buf_init(&buf, WAN_EMT_BODY_MAX);
	assert_int_equal(wan_emt_cls_request_encode(&r, &buf, NULL), TW_OK);
	assert_int_equal(wan_emt_cls_request_parse(buf.data, buf.len, &back, NULL), TW_OK);
	assert_memory_equal(&r, &back, sizeof(r));
	tw_buf_free(&buf);
	for (size_t i = 0; invalid[i] != NULL; i++)
		if (wan_emt_cls_request_parse(invalid[i], strlen(invalid[i]), &r, &e) != TW_E_INVALID)
			fail_msg("not refused as invalid: %s", invalid[i]);
	for (size_t i = 0; not_json[i] != NULL; i++)
		if (wan_emt_cls_request_parse(not_json[i], strlen(not_json[i]), &r, &e) !=
		    TW_E_PROTOCOL)
			fail_msg("not refused as bad JSON: %s", not_json[i]);
	/* Nothing half-filled on failure. */
	assert_string_equal(r.gateway, "");
	/* A 65-byte CLS id and a body over the EMT limit are too large. */
	snprintf(big, sizeof(big), "{\"gateway\":\"G\",\"cls\":\"%065d\",\"duration_s\":1}", 0);
	assert_int_equal(wan_emt_cls_request_parse(big, strlen(big), &r, &e), TW_E_TOO_LARGE);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[WAN_EMT_BODY_MAX] = '}';
	assert_int_equal(wan_emt_cls_request_parse(big, WAN_EMT_BODY_MAX + 1, &r, &e),
		TW_E_TOO_LARGE);
	/* The encoder refuses what the parser would refuse. */
	memset(&r, 0, sizeof(r));
	snprintf(r.gateway, sizeof(r.gateway), "G");
	snprintf(r.cls, sizeof(r.cls), "c");
	tw_buf_init(&buf, WAN_EMT_BODY_MAX);
	assert_int_equal(wan_emt_cls_request_encode(&r, &buf, NULL), TW_E_INVALID);
	tw_buf_free(&buf);
}

static void test_codec_time(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(wan_time_parse("1970-01-01T00:00:00Z", &ms, NULL), TW_OK);
	assert_int_equal(ms, 0);
	assert_int_equal(wan_time_parse("2000-02-29T12:00:00.5z", &ms, NULL), TW_OK);
	assert_int_equal(ms, 951825600500LL);
	assert_int_equal(wan_time_parse("2001-02-29T12:00:00Z", &ms, NULL), TW_E_INVALID);
	assert_int_equal(wan_time_parse("2026-11-24T06:51:41.1234567890Z", &ms, NULL),
		TW_E_INVALID);
	assert_int_equal(wan_time_parse("2026-11-24T06:51:41+1:00", &ms, NULL), TW_E_INVALID);
	assert_int_equal(wan_time_parse("2026-11-24T06:51:41.Z", &ms, NULL), TW_E_INVALID);
	assert_int_equal(wan_time_parse("", &ms, NULL), TW_E_INVALID);
}

/* ------------------------------------------------------------------ fixture */

struct fixture {
	char dir[64];
	struct tw_home *home;
	struct wan_server *srv;
	char gwa[32];
	EVP_PKEY *root_key, *foreign_key;
	X509 *root, *foreign;
};

static struct fixture fx;

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
	bool ca, long from_s, long to_s)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	unsigned char serial[8];
	BIGNUM *bn;
	static const struct { int nid; const char *ca, *leaf; } exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE", "critical,CA:FALSE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign", "critical,digitalSignature" },
		{ NID_ext_key_usage, NULL, "critical,serverAuth,clientAuth" },
		{ NID_subject_key_identifier, "hash", "hash" },
		{ NID_authority_key_identifier, "keyid:always", "keyid:always" },
	};

	assert_non_null(x);
	assert_int_equal(RAND_bytes(serial, sizeof(serial)), 1);
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"DE", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"SM-PKI-DE",
		-1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, key);
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		const char *v = ca ? exts[i].ca : exts[i].leaf;
		X509_EXTENSION *ext;

		if (v == NULL)
			continue;
		ext = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, v);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static EVP_PKEY *bp256(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");

	assert_non_null(k);
	return k;
}

static void write_pem(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	if (cert != NULL)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(tw_write_file(path, text, strlen(text), 0644, false, NULL), TW_OK);
}

static void register_cert(struct tw_store *st, int64_t tenant, X509 *cert, const char *owner,
	const char *status)
{
	struct store_certificate c;
	unsigned char *der = NULL;
	int len;

	memset(&c, 0, sizeof(c));
	c.tenant_id = tenant;
	assert_int_equal(keys_cert_fingerprint(cert, c.fingerprint, NULL), TW_OK);
	snprintf(c.serial_hex, sizeof(c.serial_hex), "%.16s", c.fingerprint);
	X509_NAME_oneline(X509_get_issuer_name(cert), c.issuer, sizeof(c.issuer));
	X509_NAME_oneline(X509_get_subject_name(cert), c.subject, sizeof(c.subject));
	snprintf(c.owner_kind, sizeof(c.owner_kind), "smgw");
	snprintf(c.owner_id, sizeof(c.owner_id), "%s", owner);
	snprintf(c.usage, sizeof(c.usage), "TLS");
	snprintf(c.status, sizeof(c.status), "%s", status);
	c.not_before = time(NULL) - 3600;
	c.not_after = time(NULL) + 86400;
	len = i2d_X509(cert, &der);
	assert_true(len > 0);
	c.der = der;
	c.der_len = (size_t)len;
	assert_int_equal(store_certificate_insert(st, &c, NULL), TW_OK);
	OPENSSL_free(der);
}

/*
 * One gateway directory. state NULL: not in the inventory. cert_status NULL: certificate
 * not in the store. claimed_id: what the id file says (normally id).
 */
static void make_gateway(struct tw_store *st, int64_t tenant, const char *id,
	const char *claimed_id, const char *state, const char *cert_status, bool foreign,
	bool expired)
{
	char dir[128], idline[80];
	EVP_PKEY *k = bp256();
	X509 *c = make_cert(id, k, foreign ? fx.foreign : fx.root,
		foreign ? fx.foreign_key : fx.root_key, false, expired ? -7200 : -60,
		expired ? -3600 : 86400);

	snprintf(dir, sizeof(dir), "%s/gateways/%s", fx.dir, id);
	assert_int_equal(tw_mkdir_p(dir, 0755, NULL), TW_OK);
	snprintf(idline, sizeof(idline), "%s\n", claimed_id);
	write_text(dir, "id", idline);
	write_pem(dir, "tls.key", NULL, k);
	write_pem(dir, "tls.crt", c, NULL);
	write_pem(dir, "chain.pem", foreign ? fx.foreign : fx.root, NULL);
	write_pem(dir, "root-ca.crt", fx.root, NULL);
	if (state != NULL) {
		struct store_gateway gw;

		memset(&gw, 0, sizeof(gw));
		gw.tenant_id = tenant;
		snprintf(gw.gateway_id, sizeof(gw.gateway_id), "%s", id);
		snprintf(gw.state, sizeof(gw.state), "%s", state);
		gw.created_ms = tw_now_ms();
		assert_int_equal(store_gateway_insert(st, &gw, NULL), TW_OK);
	}
	if (cert_status != NULL)
		register_cert(st, tenant, c, id, cert_status);
	X509_free(c);
	EVP_PKEY_free(k);
}

static uint16_t free_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static int setup_home(void **state)
{
	struct tw_store *st = NULL;
	struct tw_error e;
	char path[256], conf[1024], pki[128];
	EVP_PKEY *gwa_key;
	X509 *gwa;
	int64_t tenant;
	uint16_t port = free_port();

	(void)state;
	tw_log_init("test_wan", TW_LOG_ERROR);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test_wan.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(pki, sizeof(pki), "%s/pki", fx.dir);
	assert_int_equal(tw_mkdir_p(pki, 0755, NULL), TW_OK);

	fx.root_key = bp256();
	fx.root = make_cert("Test Root-CA", fx.root_key, NULL, NULL, true, -3600, 86400 * 30);
	fx.foreign_key = bp256();
	fx.foreign = make_cert("Foreign Root-CA", fx.foreign_key, NULL, NULL, true, -3600,
		86400 * 30);
	gwa_key = bp256();
	gwa = make_cert("localhost", gwa_key, fx.root, fx.root_key, false, -60, 86400);
	write_pem(pki, "gwa-tls.crt", gwa, NULL);
	write_pem(pki, "gwa-tls.key", NULL, gwa_key);
	write_pem(pki, "chain.pem", fx.root, NULL);
	X509_free(gwa);
	EVP_PKEY_free(gwa_key);

	snprintf(conf, sizeof(conf),
		"[store]\nurl = store.db\n\n[wan]\nlisten = 127.0.0.1:%u\nthreads = 2\n"
		"cert = pki/gwa-tls.crt\nkey = pki/gwa-tls.key\nchain = pki/chain.pem\n"
		"trust = pki/chain.pem\nsession_lifetime = 172800\n", port);
	write_text(fx.dir, "torwart.conf", conf);
	snprintf(fx.gwa, sizeof(fx.gwa), "127.0.0.1:%u", port);

	snprintf(path, sizeof(path), "%s/store.db", fx.dir);
	if (store_open(path, &st, &e) != TW_OK || store_migrate(st, &e) != TW_OK)
		fail_msg("store: %s", e.message);
	assert_int_equal(store_tenant_ensure(st, "default", &tenant, NULL), TW_OK);
	make_gateway(st, tenant, "GW-OK", "GW-OK", "registered", "valid", false, false);
	make_gateway(st, tenant, "GW-DIS", "GW-DIS", "disabled", "valid", false, false);
	make_gateway(st, tenant, "GW-UNK", "GW-UNK", NULL, NULL, false, false);
	make_gateway(st, tenant, "GW-REV", "GW-REV", "registered", "revoked", false, false);
	make_gateway(st, tenant, "GW-FOREIGN", "GW-FOREIGN", "registered", "valid", true, false);
	make_gateway(st, tenant, "GW-OLD", "GW-OLD", "registered", "valid", false, true);
	make_gateway(st, tenant, "GW-LIAR", "GW-OK", "registered", "valid", false, false);
	make_gateway(st, tenant, "GW-CACHE", "GW-CACHE", "registered", "valid", false, false);
	store_close(st);

	if (tw_home_open(fx.dir, &fx.home, &e) != TW_OK)
		fail_msg("home: %s", e.message);
	if (wan_server_start(fx.home, &fx.srv, &e) != TW_OK)
		fail_msg("wan_server_start: %s", e.message);
	return 0;
}

static int teardown_home(void **state)
{
	char cmd[128];

	(void)state;
	wan_server_stop(fx.srv);
	fx.srv = NULL;
	tw_home_free(fx.home);
	X509_free(fx.root);
	X509_free(fx.foreign);
	EVP_PKEY_free(fx.root_key);
	EVP_PKEY_free(fx.foreign_key);
	if (getenv("TORWART_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", fx.dir);
	}
	return 0;
}

static tw_rc run_sim(const char *gateway, unsigned rounds, int resume, struct sim_result *res)
{
	char dir[160];
	char *dirs[1] = { dir };
	struct sim_options opt = { .gwa_address = fx.gwa, .gateway_dirs = dirs,
		.gateway_count = 1, .rounds = rounds, .resume = resume, .quiet = 1 };

	snprintf(dir, sizeof(dir), "%s/gateways/%s", fx.dir, gateway);
	return sim_run(&opt, res, NULL);
}

/* Find an admin-log row with action and a detail containing needle. */
struct log_find { const char *action, *actor, *needle; int hits; };

static int log_find_cb(const struct store_audit_row *row, void *arg)
{
	struct log_find *f = arg;

	if (strcmp(row->action, f->action) == 0 &&
	    (f->actor == NULL || strcmp(row->actor, f->actor) == 0) &&
	    (f->needle == NULL || strstr(row->detail, f->needle) != NULL))
		f->hits++;
	return 0;
}

static int log_count(const char *action, const char *actor, const char *needle)
{
	struct log_find f = { action, actor, needle, 0 };
	struct tw_store *st = NULL;
	char path[256];

	/* Entries are batched every 100 ms: give the loops time to flush. */
	usleep(400 * 1000);
	snprintf(path, sizeof(path), "%s/store.db", fx.dir);
	assert_int_equal(store_open(path, &st, NULL), TW_OK);
	assert_int_equal(store_audit_foreach(st, 1, log_find_cb, &f, NULL), TW_OK);
	store_close(st);
	return f.hits;
}

/* ------------------------------------------------------------------ end to end */

static void test_session_accepted_and_resumed(void **state)
{
	struct sim_result res;

	(void)state;
	assert_int_equal(run_sim("GW-OK", 3, 1, &res), TW_OK);
	assert_int_equal(res.sessions_ok, 3);
	assert_int_equal(res.sessions_failed, 0);
	assert_int_equal(res.resumed, 2);
	assert_true(log_count("wan.connect", "gateway:GW-OK", "full") >= 1);
	assert_true(log_count("wan.connect", "gateway:GW-OK", "resumed") >= 2);
	assert_true(log_count("wan.session.open", "gateway:GW-OK", "firmware torwart-sim") >= 3);
}

static void test_refusals_logged(void **state)
{
	static const struct { const char *gw, *actor, *detail; } cases[] = {
		{ "GW-DIS", "gateway:GW-DIS", "gateway disabled" },
		{ "GW-UNK", "unknown", "unknown certificate" },
		{ "GW-REV", "gateway:GW-REV", "certificate revoked" },
		/* The foreign gateway sends its own root along, hence "self-signed". */
		{ "GW-FOREIGN", "unknown", "self-signed certificate in certificate chain" },
		{ "GW-OLD", "unknown", "certificate has expired" },
	};
	struct sim_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_not_equal(run_sim(cases[i].gw, 1, 0, &res), TW_OK);
		assert_int_equal(res.sessions_failed, 1);
		if (log_count("wan.refuse", cases[i].actor, cases[i].detail) < 1)
			fail_msg("no wan.refuse row for %s (%s)", cases[i].gw, cases[i].detail);
	}
}

static void test_identity_mismatch(void **state)
{
	struct sim_result res;

	(void)state;
	/* GW-LIAR's certificate, but its id file claims GW-OK. */
	assert_int_not_equal(run_sim("GW-LIAR", 1, 0, &res), TW_OK);
	assert_int_equal(res.sessions_failed, 1);
	assert_int_equal(log_count("wan.refuse", "gateway:GW-LIAR", "identity mismatch"), 1);
}

/* Raw blocking TLS request as GW-OK; returns the status code, body in body (NUL-ended). */
static int raw_request(const char *head, const char *body, size_t body_len, char *out,
	size_t out_size)
{
	struct tls_profile_config cfg;
	char cert[160], key[160], chain[160], trust[160], hdr[512];
	struct sockaddr_in sin;
	SSL_CTX *ctx = NULL;
	SSL *ssl;
	size_t got = 0;
	int fd, n, code = -1;
	char *hp;
	const char *colon = strrchr(fx.gwa, ':');
	long port;

	snprintf(cert, sizeof(cert), "%s/gateways/GW-OK/tls.crt", fx.dir);
	snprintf(key, sizeof(key), "%s/gateways/GW-OK/tls.key", fx.dir);
	snprintf(chain, sizeof(chain), "%s/gateways/GW-OK/chain.pem", fx.dir);
	snprintf(trust, sizeof(trust), "%s/gateways/GW-OK/root-ca.crt", fx.dir);
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.chain_file = chain, .trust_file = trust };
	assert_int_equal(tls_client_ctx_new(&cfg, &ctx, NULL), TW_OK);
	assert_int_equal(tw_parse_long(colon + 1, 1, 65535, &port, NULL, "port"), TW_OK);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	n = snprintf(hdr, sizeof(hdr), "%s\r\nHost: gwa\r\nConnection: close\r\n"
		"Content-Length: %zu\r\n\r\n", head, body_len);
	assert_int_equal(SSL_write(ssl, hdr, n), n);
	if (body_len > 0)
		assert_int_equal(SSL_write(ssl, body, (int)body_len), (int)body_len);
	while (got + 1 < out_size && (n = SSL_read(ssl, out + got, (int)(out_size - got - 1))) > 0)
		got += (size_t)n;
	out[got] = '\0';
	if (got > 12 && strncmp(out, "HTTP/1.1 ", 9) == 0) {
		long c;
		char digits[4] = { out[9], out[10], out[11], 0 };

		if (tw_parse_long(digits, 100, 599, &c, NULL, "status") == TW_OK)
			code = (int)c;
	}
	hp = strstr(out, "\r\n\r\n");
	if (hp != NULL)
		memmove(out, hp + 4, strlen(hp + 4) + 1);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
	return code;
}

/*
 * One connection as GW-CACHE offering sess (NULL: a full handshake): GET /v1/orders,
 * which an identified gateway without a session gets 409 for and anybody else 403.
 * Returns the status; *reused says whether the handshake resumed, *out (may be NULL)
 * gets the session to offer next.
 */
static int cache_call(SSL_CTX *ctx, SSL_SESSION *sess, SSL_SESSION **out, int *reused)
{
	static const char req[] = "GET /v1/orders HTTP/1.1\r\nHost: gwa\r\n"
		"Connection: close\r\n\r\n";
	struct sockaddr_in sin;
	char buf[2048];
	const char *colon = strrchr(fx.gwa, ':');
	size_t got = 0;
	long port;
	int fd, n, code = -1;
	SSL *ssl;

	assert_int_equal(tw_parse_long(colon + 1, 1, 65535, &port, NULL, "port"), TW_OK);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	/* The wan may close after its answer without close_notify; as a fatal error that
	 * would mark the session not resumable, as gateways' stacks do not. */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(ssl, sess), 1);
	assert_int_equal(SSL_connect(ssl), 1);
	*reused = SSL_session_reused(ssl);
	if (out != NULL)
		*out = SSL_get1_session(ssl);
	assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
	while (got + 1 < sizeof(buf) &&
	       (n = SSL_read(ssl, buf + got, (int)(sizeof(buf) - got - 1))) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	if (got > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0)
		code = (int)strtol(buf + 9, NULL, 10);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
	return code;
}

static void set_gateway_state(const char *id, const char *state)
{
	struct tw_store *st = NULL;
	struct tw_error e;
	char path[256], sql[160];

	snprintf(path, sizeof(path), "%s/store.db", fx.dir);
	snprintf(sql, sizeof(sql), "UPDATE gateways SET state = '%s' WHERE gateway_id = '%s'",
		state, id);
	assert_int_equal(store_open(path, &st, NULL), TW_OK);
	if (db_exec(store_db(st, NULL), sql, "test: gateway state", &e) != TW_OK)
		fail_msg("%s", e.message);
	store_close(st);
}

/*
 * A ticket resumed once is kept in memory and its next resumptions skip the ticket
 * decode; the identity is still checked on each of them, and a refusal drops the kept
 * session (the next resumption decodes the ticket again).
 */
static void test_resumption_from_memory(void **state)
{
	struct tls_profile_config cfg;
	struct wan_session_cache_stats s0, s1, s2, s3, s4;
	char cert[160], key[160], chain[160], trust[160];
	SSL_CTX *ctx = NULL;
	SSL_SESSION *sess = NULL;
	int reused = -1;

	(void)state;
	snprintf(cert, sizeof(cert), "%s/gateways/GW-CACHE/tls.crt", fx.dir);
	snprintf(key, sizeof(key), "%s/gateways/GW-CACHE/tls.key", fx.dir);
	snprintf(chain, sizeof(chain), "%s/gateways/GW-CACHE/chain.pem", fx.dir);
	snprintf(trust, sizeof(trust), "%s/gateways/GW-CACHE/root-ca.crt", fx.dir);
	cfg = (struct tls_profile_config){ .cert_file = cert, .key_file = key,
		.chain_file = chain, .trust_file = trust, .session_lifetime_s = 172800 };
	assert_int_equal(tls_client_ctx_new(&cfg, &ctx, NULL), TW_OK);

	/* Full handshake: the session comes with a ticket. */
	assert_int_equal(cache_call(ctx, NULL, &sess, &reused), 409);
	assert_int_equal(reused, 0);
	assert_non_null(sess);
	assert_true(SSL_SESSION_has_ticket(sess));
	wan_session_cache_stats(&s0);
	/* First resumption: the ticket is decoded, the session kept. */
	assert_int_equal(cache_call(ctx, sess, NULL, &reused), 409);
	assert_int_equal(reused, 1);
	wan_session_cache_stats(&s1);
	assert_int_equal(s1.learned, s0.learned + 1);
	assert_int_equal(s1.hits, s0.hits);
	/* Second and third: from memory, still identified (409, not 403). */
	assert_int_equal(cache_call(ctx, sess, NULL, &reused), 409);
	assert_int_equal(reused, 1);
	assert_int_equal(cache_call(ctx, sess, NULL, &reused), 409);
	assert_int_equal(reused, 1);
	wan_session_cache_stats(&s2);
	assert_int_equal(s2.hits, s1.hits + 2);
	assert_int_equal(s2.learned, s1.learned);

	/* Disabled meanwhile: the session from memory resumes, the gateway is refused. */
	set_gateway_state("GW-CACHE", "disabled");
	assert_int_equal(cache_call(ctx, sess, NULL, &reused), 403);
	wan_session_cache_stats(&s3);
	assert_int_equal(s3.hits, s2.hits + 1);
	assert_int_equal(s3.size, s2.size - 1);
	assert_true(log_count("wan.refuse", "gateway:GW-CACHE", "gateway disabled") >= 1);

	/* Enabled again: the kept session is gone, so the ticket is decoded once more. */
	set_gateway_state("GW-CACHE", "registered");
	assert_int_equal(cache_call(ctx, sess, NULL, &reused), 409);
	assert_int_equal(reused, 1);
	wan_session_cache_stats(&s4);
	assert_int_equal(s4.hits, s3.hits);
	assert_int_equal(s4.learned, s3.learned + 1);
	SSL_SESSION_free(sess);
	SSL_CTX_free(ctx);
}

static void expect_error(int code, const char *body, int want_code, const char *want_ecode)
{
	struct wan_error_body eb;
	struct tw_error e;

	if (code != want_code)
		fail_msg("status %d, want %d (body %s)", code, want_code, body);
	if (wan_error_parse(body, strlen(body), &eb, &e) != TW_OK)
		fail_msg("error body not parseable (%s): %s", e.message, body);
	assert_string_equal(eb.code, want_ecode);
}

static void test_http_errors(void **state)
{
	static const char good[] = "{\"gateway_id\":\"GW-OK\",\"firmware_version\":\"1\","
		"\"time\":\"2026-11-24T06:51:41Z\"}";
	char out[8192];
	char *big;
	size_t big_len = WAN_MESSAGE_MAX_BODY + 100;
	int code;

	(void)state;
	code = raw_request("GET /v1/session HTTP/1.1", NULL, 0, out, sizeof(out));
	expect_error(code, out, 405, "method_not_allowed");
	code = raw_request("POST /v2/session HTTP/1.1", good, strlen(good), out, sizeof(out));
	expect_error(code, out, 404, "not_found");
	code = raw_request("POST /v1/session HTTP/1.1\r\nContent-Type: application/json",
		"{nope", 5, out, sizeof(out));
	expect_error(code, out, 400, "bad_json");
	code = raw_request("POST /v1/session HTTP/1.1\r\nContent-Type: application/json",
		"{\"gateway_id\":1}", 16, out, sizeof(out));
	expect_error(code, out, 400, "invalid_request");
	code = raw_request("POST /v1/session HTTP/1.1\r\nContent-Type: text/plain", good,
		strlen(good), out, sizeof(out));
	expect_error(code, out, 415, "unsupported_media_type");
	big = malloc(big_len);
	assert_non_null(big);
	memset(big, ' ', big_len);
	code = raw_request("POST /v1/session HTTP/1.1\r\nContent-Type: application/json", big,
		big_len, out, sizeof(out));
	free(big);
	expect_error(code, out, 413, "too_large");
	/* And a good one over the same path, to show the errors changed nothing. */
	code = raw_request("POST /v1/session HTTP/1.1\r\nContent-Type: application/json", good,
		strlen(good), out, sizeof(out));
	assert_int_equal(code, 200);
	assert_non_null(strstr(out, "\"protocol\":1"));
}

static void stop_watchdog(int sig)
{
	static const char msg[] = "test_wan: wan_server_stop right after wan_server_start did "
		"not return within 60 s (a loop missed its stop)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * A stop right after start: the loops may not have reached event_base_dispatch yet. With
 * loopbreak that stop was lost and wan_server_stop joined for ever (a wan ignoring SIGTERM
 * during start-up). Each round starts two more loops on the same port (SO_REUSEPORT).
 */
static void test_stop_right_after_start(void **state)
{
	(void)state;
	signal(SIGALRM, stop_watchdog);
	alarm(60);
	for (int i = 0; i < 40; i++) {
		struct wan_server *srv = NULL;
		struct tw_error e;

		if (wan_server_start(fx.home, &srv, &e) != TW_OK)
			fail_msg("wan_server_start (round %d): %s", i, e.message);
		wan_server_stop(srv);
	}
	alarm(0);
	signal(SIGALRM, SIG_DFL);
}

/* Last: stop wan (flushes everything), then check the store as an auditor would. */
static void test_shutdown_flushes(void **state)
{
	struct tw_store *st = NULL;
	struct store_gateway gw;
	struct audit_verify_result vr;
	struct sim_result res;
	char path[256];

	(void)state;
	assert_int_equal(run_sim("GW-OK", 1, 0, &res), TW_OK);
	/* Stop at once: the entries of this session are still queued. */
	wan_server_stop(fx.srv);
	fx.srv = NULL;
	snprintf(path, sizeof(path), "%s/store.db", fx.dir);
	assert_int_equal(store_open(path, &st, NULL), TW_OK);
	assert_int_equal(store_gateway_get(st, "GW-OK", &gw, NULL), TW_OK);
	assert_true(gw.last_contact_ms > 0);
	assert_string_equal(gw.state, "active");
	assert_int_equal(store_gateway_get(st, "GW-DIS", &gw, NULL), TW_OK);
	assert_int_equal(gw.last_contact_ms, 0);
	assert_int_equal(audit_verify(st, &vr, NULL), TW_OK);
	assert_true(vr.entries >= 10);
	store_close(st);
	assert_true(log_count("wan.session.open", "gateway:GW-OK", NULL) >= 5);
}

int main(void)
{
	const struct CMUnitTest codec[] = {
		cmocka_unit_test(test_codec_session_request_valid),
		cmocka_unit_test(test_codec_session_request_status),
		cmocka_unit_test(test_codec_session_request_invalid),
		cmocka_unit_test(test_codec_oversized),
		cmocka_unit_test(test_codec_response_and_error),
		cmocka_unit_test(test_codec_time),
		cmocka_unit_test(test_codec_emt_cls_request),
	};
	const struct CMUnitTest e2e[] = {
		cmocka_unit_test(test_session_accepted_and_resumed),
		cmocka_unit_test(test_refusals_logged),
		cmocka_unit_test(test_identity_mismatch),
		cmocka_unit_test(test_resumption_from_memory),
		cmocka_unit_test(test_http_errors),
		cmocka_unit_test(test_stop_right_after_start),
		cmocka_unit_test(test_shutdown_flushes),
	};
	int failed;

	failed = cmocka_run_group_tests_name("wan codec", codec, NULL, NULL);
	failed += cmocka_run_group_tests_name("wan end to end", e2e, setup_home, teardown_home);
	return failed;
}
