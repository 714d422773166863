/*
 * test_signer.c: unit tests of the signer: the frame codec (roundtrip and every kind of
 * bad frame), and end to end in a temporary home with a real SoftHSM2 token: ceremony,
 * key generation, public keys, data and certificate signatures, the purpose policy,
 * issuer checks, the admin log, the private child and the socket daemon (signer_run).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/home.h"
#include "base/util.h"
#include "crypto/secretbox.h"
#include "crypto/shares.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "pki/reqgen.h"
#include "pki/request.h"
#include "signer/signer_certreq.h"
#include "signer/signer_keys.h"
#include "crypto/signer_proto.h"
#include "signer/signer_peer.h"
#include "signer/signer_server.h"
#include "store/store.h"

/* Like assert_int_equal on a tw_rc, but shows the error message when it fails. */
#define assert_rc(expr, want) do { \
		tw_rc rc_ = (expr); \
		if (rc_ != (want)) \
			print_error("%s -> %s (%s), want %s\n", #expr, tw_strerror(rc_), \
				err.message, tw_strerror(want)); \
		assert_int_equal(rc_, (want)); \
	} while (0)

/* ---------------- frame codec ---------------- */

static void encode_body(const struct signer_msg *m, struct tw_buf *frame)
{
	struct tw_error err;

	tw_buf_init(frame, SIGNER_FRAME_MAX + 16);
	assert_rc(signer_frame_encode(m, frame, &err), TW_OK);
}

static void test_frame_roundtrip(void **state)
{
	struct signer_msg m, d;
	struct tw_buf frame;
	struct tw_error err;
	unsigned char data[300];
	unsigned char purpose = SIGNER_PURPOSE_WAKEUP;
	uint32_t len;

	(void)state;
	memset(data, 0xa5, sizeof(data));
	signer_msg_init(&m, SIGNER_OP_SIGN_DATA, 0xbeef);
	signer_msg_set_str(&m, SIGNER_TAG_LABEL, "gwa-sig");
	signer_msg_set(&m, SIGNER_TAG_PURPOSE, &purpose, 1);
	signer_msg_set(&m, SIGNER_TAG_DATA, data, sizeof(data));
	encode_body(&m, &frame);
	assert_rc(signer_frame_check_len(frame.data, &len, &err), TW_OK);
	assert_int_equal(len, frame.len - SIGNER_LEN_BYTES);
	assert_rc(signer_frame_decode(frame.data + 4, len, &d, &err), TW_OK);
	assert_int_equal(d.op, SIGNER_OP_SIGN_DATA);
	assert_int_equal(d.id, 0xbeef);
	assert_int_equal(d.f[SIGNER_TAG_LABEL].len, 7);
	assert_memory_equal(d.f[SIGNER_TAG_LABEL].ptr, "gwa-sig", 7);
	assert_int_equal(d.f[SIGNER_TAG_PURPOSE].ptr[0], SIGNER_PURPOSE_WAKEUP);
	assert_int_equal(d.f[SIGNER_TAG_DATA].len, sizeof(data));
	assert_memory_equal(d.f[SIGNER_TAG_DATA].ptr, data, sizeof(data));
	assert_false(d.f[SIGNER_TAG_ACTOR].present);
	assert_rc(signer_msg_require(&d, SIGNER_BIT(SIGNER_TAG_LABEL) |
		SIGNER_BIT(SIGNER_TAG_PURPOSE) | SIGNER_BIT(SIGNER_TAG_DATA), 0, &err), TW_OK);
	/* A field the op does not take is an error, as is a missing one. */
	assert_rc(signer_msg_require(&d, SIGNER_BIT(SIGNER_TAG_LABEL), 0, &err),
		TW_E_PROTOCOL);
	assert_rc(signer_msg_require(&d, SIGNER_BIT(SIGNER_TAG_LABEL) |
		SIGNER_BIT(SIGNER_TAG_PURPOSE) | SIGNER_BIT(SIGNER_TAG_DATA) |
		SIGNER_BIT(SIGNER_TAG_CURVE), 0, &err), TW_E_PROTOCOL);
	tw_buf_free(&frame);

	/* Responses carry a status byte. */
	signer_msg_init(&m, SIGNER_OP_GET_PUBLIC_KEY | SIGNER_OP_RESPONSE, 7);
	m.status = TW_E_DENIED;
	signer_msg_set_str(&m, SIGNER_TAG_MESSAGE, "no");
	encode_body(&m, &frame);
	assert_rc(signer_frame_decode(frame.data + 4, frame.len - 4, &d, &err), TW_OK);
	assert_int_equal(d.status, TW_E_DENIED);
	assert_int_equal(d.id, 7);
	assert_int_equal(d.f[SIGNER_TAG_MESSAGE].len, 2);
	tw_buf_free(&frame);
}

/* SIGN_DATA_BATCH element lists: taken one by one, refused when truncated or empty. */
static void test_batch_elements(void **state)
{
	const unsigned char good[] = { 0, 2, 'a', 'b', 0, 1, 'c' };
	const unsigned char cut[] = { 0, 3, 'a', 'b' }, empty[] = { 0, 0, 'x' };
	const unsigned char half[] = { 0 }, big[] = { 0x04, 0x01 };
	const unsigned char *p = good, *item;
	struct tw_error err;
	size_t len;

	(void)state;
	assert_int_equal(signer_batch_next(&p, good + sizeof(good), 16, &item, &len, &err),
		TW_OK);
	assert_int_equal(len, 2);
	assert_memory_equal(item, "ab", 2);
	assert_int_equal(signer_batch_next(&p, good + sizeof(good), 16, &item, &len, &err),
		TW_OK);
	assert_int_equal(len, 1);
	assert_int_equal(*item, 'c');
	assert_ptr_equal(p, good + sizeof(good));
	assert_int_equal(signer_batch_next(&p, good + sizeof(good), 16, &item, &len, &err),
		TW_E_INVALID);
	/* A length beyond the bytes, zero, half a length, over the limit: nothing taken. */
	p = cut;
	assert_int_equal(signer_batch_next(&p, cut + sizeof(cut), 16, &item, &len, &err),
		TW_E_INVALID);
	assert_ptr_equal(p, cut);
	assert_null(item);
	p = empty;
	assert_int_equal(signer_batch_next(&p, empty + sizeof(empty), 16, &item, &len, &err),
		TW_E_INVALID);
	p = half;
	assert_int_equal(signer_batch_next(&p, half + sizeof(half), 16, &item, &len, &err),
		TW_E_INVALID);
	p = big;
	assert_int_equal(signer_batch_next(&p, big + sizeof(big), SIGNER_BATCH_ITEM_MAX, &item,
		&len, &err), TW_E_INVALID);
}

static void test_frame_encode_limits(void **state)
{
	struct signer_msg m;
	struct tw_buf frame;
	struct tw_error err;
	unsigned char *big = calloc(1, SIGNER_FRAME_MAX + 1);
	char label[SIGNER_LABEL_MAX + 2];

	(void)state;
	assert_non_null(big);
	tw_buf_init(&frame, 2 * SIGNER_FRAME_MAX);
	signer_msg_init(&m, SIGNER_OP_SIGN_DATA, 1);
	signer_msg_set(&m, SIGNER_TAG_DATA, big, SIGNER_FRAME_MAX + 1);
	assert_rc(signer_frame_encode(&m, &frame, &err), TW_E_TOO_LARGE);
	assert_int_equal(frame.len, 0);
	memset(label, 'a', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	signer_msg_init(&m, SIGNER_OP_GET_PUBLIC_KEY, 1);
	signer_msg_set_str(&m, SIGNER_TAG_LABEL, label);
	assert_rc(signer_frame_encode(&m, &frame, &err), TW_E_TOO_LARGE);
	signer_msg_set_str(&m, SIGNER_TAG_LABEL, "../etc/passwd");
	assert_rc(signer_frame_encode(&m, &frame, &err), TW_E_PROTOCOL);
	assert_int_equal(frame.len, 0);
	tw_buf_free(&frame);
	free(big);
}

static void test_frame_rejects(void **state)
{
	struct signer_msg m, d;
	struct tw_buf frame;
	struct tw_error err;
	unsigned char body[64], prefix[4];
	uint32_t len;
	const unsigned char *b;
	size_t blen;

	(void)state;
	/* Length prefix: too large (checked before allocation) and too small. */
	prefix[0] = 0x00; prefix[1] = 0x10; prefix[2] = 0x00; prefix[3] = 0x01;
	assert_rc(signer_frame_check_len(prefix, &len, &err), TW_E_TOO_LARGE);
	prefix[0] = 0xff; prefix[1] = 0xff; prefix[2] = 0xff; prefix[3] = 0xff;
	assert_rc(signer_frame_check_len(prefix, &len, &err), TW_E_TOO_LARGE);
	prefix[0] = 0; prefix[1] = 0; prefix[2] = 0; prefix[3] = 3;
	assert_rc(signer_frame_check_len(prefix, &len, &err), TW_E_PROTOCOL);

	signer_msg_init(&m, SIGNER_OP_HELLO, 3);
	signer_msg_set_str(&m, SIGNER_TAG_ACTOR, "alice");
	signer_msg_set_str(&m, SIGNER_TAG_ROLE, "admin");
	encode_body(&m, &frame);
	b = frame.data + 4;
	blen = frame.len - 4;
	/* Every cut that is not at a field boundary must fail; none may crash. */
	for (size_t cut = 0; cut < blen; cut++) {
		tw_rc rc = signer_frame_decode(b, cut, &d, &err);
		int boundary = cut == 4 || cut == 4 + 5 + 5;

		if (boundary)
			assert_int_equal(rc, TW_OK);
		else
			assert_int_not_equal(rc, TW_OK);
	}
	assert_true(blen <= sizeof(body));
	/* Wrong version. */
	memcpy(body, b, blen);
	body[0] = 2;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* Unknown op. */
	memcpy(body, b, blen);
	body[1] = 0x42;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* Unknown tag. */
	memcpy(body, b, blen);
	body[4] = 99;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* Duplicate tag (role relabelled as actor). */
	memcpy(body, b, blen);
	body[4 + 5 + 5] = SIGNER_TAG_ACTOR;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* Field length beyond the body, and a huge one that would wrap. */
	memcpy(body, b, blen);
	body[8] = 200;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	memcpy(body, b, blen);
	body[5] = 0xff; body[6] = 0xff; body[7] = 0xff; body[8] = 0xff;
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* NUL inside a text field. */
	memcpy(body, b, blen);
	body[4 + 5 + 1] = '\0';
	assert_rc(signer_frame_decode(body, blen, &d, &err), TW_E_PROTOCOL);
	/* Response without status. */
	memcpy(body, b, 4);
	body[1] = SIGNER_OP_HELLO | SIGNER_OP_RESPONSE;
	assert_rc(signer_frame_decode(body, 4, &d, &err), TW_E_PROTOCOL);
	body[4] = 200;
	assert_rc(signer_frame_decode(body, 5, &d, &err), TW_E_PROTOCOL);
	/* Purpose must be exactly one byte. */
	{
		const unsigned char two[] = { 1, 5, 0, 1, SIGNER_TAG_PURPOSE, 0, 0, 0, 2, 3, 3 };

		assert_rc(signer_frame_decode(two, sizeof(two), &d, &err), TW_E_TOO_LARGE);
	}
	/* Garbage: random bodies never crash and almost never decode. */
	for (int i = 0; i < 2000; i++) {
		unsigned char g[48];

		assert_int_equal(RAND_bytes(g, sizeof(g)), 1);
		(void)signer_frame_decode(g, sizeof(g), &d, &err);
	}
	tw_buf_free(&frame);
}

static X509 *make_cert(const char *subject_cn, const char *issuer_cn, EVP_PKEY *pub);

/* reqgen signing callback for test_certreq_payload: keeps a copy of what it signs. */
struct captured {
	EVP_PKEY *key;
	unsigned char *data;
	size_t len;
};

static tw_rc capture_sign(void *ctx, const unsigned char *data, size_t len,
	unsigned char **sig, size_t *sig_len, struct tw_error *err)
{
	struct captured *c = ctx;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	size_t n = 0;

	(void)err;
	free(c->data);
	assert_non_null(c->data = malloc(len));
	memcpy(c->data, data, len);
	c->len = len;
	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, c->key), 1);
	assert_int_equal(EVP_DigestSign(m, NULL, &n, data, len), 1);
	assert_non_null(*sig = malloc(n));
	assert_int_equal(EVP_DigestSign(m, *sig, &n, data, len), 1);
	*sig_len = n;
	EVP_MD_CTX_free(m);
	return TW_OK;
}

/*
 * The payload check of the purpose certreq (signer_certreq.h) on what reqgen really
 * signs: the proof of possession of the key's own request and gwa-sig's signed
 * attributes pass; another key's request, another label, garbage and a SET without the
 * request content type are refused, whatever the policy would allow.
 */
static void test_certreq_payload(void **state)
{
	struct tw_error err;
	struct captured pop = { NULL, NULL, 0 }, outer = { NULL, NULL, 0 };
	struct reqgen_params p;
	EVP_PKEY *other = NULL;
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	X509_EXTENSION *ku;
	X509V3_CTX v3;
	unsigned char *der = NULL;
	size_t len = 0;
	const char *kind = NULL;
	const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	const unsigned char bad_set[] = { 0x31, 0x03, 0x02, 0x01, 0x00 };

	(void)state;
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &pop.key, &err), TW_OK);
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &outer.key, &err), TW_OK);
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &other, &err), TW_OK);
	memset(&p, 0, sizeof(p));
	p.subject.common_name = "Test GWA";
	assert_rc(pki_subject_to_name(&p.subject, &name, &err), TW_OK);
	cert = make_cert("x", "Test Sub-CA", outer.key);
	assert_int_equal(X509_set_subject_name(cert, name), 1);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
	assert_non_null(ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
		"critical,digitalSignature"));
	assert_int_equal(X509_add_ext(cert, ku, -1), 1);
	X509_EXTENSION_free(ku);
	assert_true(X509_sign(cert, other, EVP_sha256()) > 0);
	p.held[PKI_USAGE_ENC] = (struct reqgen_signer){ pop.key, capture_sign, &pop };
	p.outer_cert = cert;
	p.outer_held = (struct reqgen_signer){ outer.key, capture_sign, &outer };
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_OK);
	assert_non_null(pop.data);
	assert_non_null(outer.data);

	/* What reqgen signs passes, for the key's own label and its versions. */
	assert_null(signer_certreq_refusal("gwa-enc", pop.key, pop.data, pop.len, &kind));
	assert_string_equal(kind, "pop");
	assert_null(signer_certreq_refusal("gwa-tls.k0123456789abcdef", pop.key, pop.data,
		pop.len, &kind));
	assert_null(signer_certreq_refusal("gwa-sig", outer.key, outer.data, outer.len, &kind));
	assert_string_equal(kind, "outer");
	/* Another key's request (a gateway's): not this key's possession. */
	assert_non_null(signer_certreq_refusal("gwa-enc", other, pop.data, pop.len, &kind));
	/* Keys that are not the GWA's never sign requests, whatever the policy says. */
	assert_non_null(signer_certreq_refusal("sub-ca", pop.key, pop.data, pop.len, &kind));
	assert_non_null(signer_certreq_refusal("root-ca", outer.key, outer.data, outer.len,
		&kind));
	assert_non_null(signer_certreq_refusal("api-tls", pop.key, pop.data, pop.len, &kind));
	/* The outer signature is gwa-sig's only, and only over the request's attributes. */
	assert_non_null(signer_certreq_refusal("gwa-enc", outer.key, outer.data, outer.len,
		&kind));
	assert_non_null(signer_certreq_refusal("gwa-sig", outer.key, bad_set, sizeof(bad_set),
		&kind));
	/* The contentType attribute's bytes hidden in another attribute's value, and the
	 * attribute twice: both are refused (only a SET OF Attribute with one contentType
	 * of id-bsiCertReqMsgs is signed). */
	{
		static const unsigned char ctype[] = {
			0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03,
			0x31, 0x0b, 0x06, 0x09, 0x04, 0x00, 0x7f, 0x00, 0x07, 0x04, 0x01, 0x01, 0x01,
		};
		unsigned char hidden[36], twice[54];

		memcpy(hidden, (const unsigned char[]){ 0x31, 0x22, 0x30, 0x20, 0x06, 0x02, 0x2a,
			0x03, 0x31, 0x1a, 0x04, 0x18 }, 12);
		memcpy(hidden + 12, ctype, sizeof(ctype));
		twice[0] = 0x31;
		twice[1] = 0x34;
		for (int i = 0; i < 2; i++) {
			twice[2 + 26 * i] = 0x30;
			twice[3 + 26 * i] = 0x18;
			memcpy(twice + 4 + 26 * i, ctype, sizeof(ctype));
		}
		assert_non_null(signer_certreq_refusal("gwa-sig", outer.key, hidden,
			sizeof(hidden), &kind));
		assert_non_null(signer_certreq_refusal("gwa-sig", outer.key, twice, sizeof(twice),
			&kind));
		/* One such attribute alone, as a SET, is what the outer signature covers. */
		twice[1] = 0x1a;
		assert_null(signer_certreq_refusal("gwa-sig", outer.key, twice, 28, &kind));
	}
	/* Not a CertRequest, cut short, or trailing bytes. */
	assert_non_null(signer_certreq_refusal("gwa-enc", pop.key, junk, sizeof(junk), &kind));
	assert_non_null(signer_certreq_refusal("gwa-enc", pop.key, pop.data, pop.len - 1,
		&kind));
	{
		unsigned char *longer = malloc(pop.len + 1);

		assert_non_null(longer);
		memcpy(longer, pop.data, pop.len);
		longer[pop.len] = 0;
		assert_non_null(signer_certreq_refusal("gwa-enc", pop.key, longer, pop.len + 1,
			&kind));
		free(longer);
	}

	free(der);
	free(pop.data);
	free(outer.data);
	X509_NAME_free(name);
	X509_free(cert);
	EVP_PKEY_free(other);
	EVP_PKEY_free(pop.key);
	EVP_PKEY_free(outer.key);
}

/* ---------------- end to end ---------------- */

struct env {
	char dir[64];
	struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;    /* ceremony client */
	EVP_PKEY *root_pub, *sub_pub, *sig_pub;
	pid_t daemon;                /* signer_run child of the daemon test, 0 if none */
};

static void write_text(const char *path, const char *text)
{
	struct tw_error err;

	assert_int_equal(tw_write_file(path, text, strlen(text), 0600, false, &err), TW_OK);
}

static int e2e_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tw_error err;
	char path[160];
	struct stat st;
	tw_rc rc;

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/tw-signer-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", e->dir);
	/* policy.sub-ca is set explicitly; root-ca and gwa-sig use the built-in defaults. */
	write_text(path, "[store]\nurl = store.db\n\n[signer]\nsocket = run/signer.sock\n"
		"module = /usr/lib/softhsm/libsofthsm2.so\nsofthsm_conf = softhsm2.conf\n"
		"pin_file = secrets/pins\ntoken_label = torwart-test\n"
		"policy.sub-ca = certificate, crl\npolicy.gwa-enc =\n\n[log]\nlevel = warn\n");
	rc = signer_home_prepare(e->dir, &err);
	assert_int_equal(rc, TW_OK);
	/* Never overwrite a token. */
	assert_rc(signer_home_prepare(e->dir, &err), TW_E_EXISTS);
	snprintf(path, sizeof(path), "%s/secrets/pins", e->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/tokens", e->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(tw_home_open(e->dir, &e->home, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/store.db", e->dir);
	assert_rc(store_open(path, &e->store, &err), TW_OK);
	assert_rc(store_migrate(e->store, &err), TW_OK);
	rc = signer_client_open(e->home, true, &e->sc, &err);
	if (rc != TW_OK)
		print_error("signer_client_open: %s\n", err.message);
	assert_int_equal(rc, TW_OK);
	signer_client_set_actor(e->sc, "test-admin", "local-admin");
	*state = e;
	return 0;
}

static int e2e_teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	/* A failed assertion may leave the daemon running: stop it so the suite ends. */
	if (e->daemon > 0) {
		kill(e->daemon, SIGTERM);
		waitpid(e->daemon, NULL, 0);
	}
	signer_client_close(e->sc);
	EVP_PKEY_free(e->root_pub);
	EVP_PKEY_free(e->sub_pub);
	EVP_PKEY_free(e->sig_pub);
	store_close(e->store);
	tw_home_free(e->home);
	/* The directory is ours (mkdtemp) and holds only test material. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", e->dir);
	free(e);
	return 0;
}

static int verify_sig(EVP_PKEY *pub, const EVP_MD *md, const unsigned char *data,
	size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) == 1 &&
		EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok;
}

static X509 *make_cert(const char *subject_cn, const char *issuer_cn, EVP_PKEY *pub)
{
	X509 *x = X509_new();
	X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(s);
	assert_non_null(i);
	assert_int_equal(X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_ASC,
		(const unsigned char *)subject_cn, -1, -1, 0), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_ASC,
		(const unsigned char *)issuer_cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 4711), 1);
	assert_int_equal(X509_set_subject_name(x, s), 1);
	assert_int_equal(X509_set_issuer_name(x, i), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, pub), 1);
	X509_NAME_free(s);
	X509_NAME_free(i);
	return x;
}

static void test_e2e_keys(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	EVP_PKEY *pub = NULL;

	assert_rc(signer_generate_key(e->sc, SIGNER_KEY_ROOT_CA, NID_brainpoolP384r1,
		&e->root_pub, &err), TW_OK);
	assert_rc(signer_generate_key(e->sc, SIGNER_KEY_SUB_CA, NID_brainpoolP256r1,
		&e->sub_pub, &err), TW_OK);
	assert_rc(signer_generate_key(e->sc, SIGNER_KEY_GWA_SIG, NID_brainpoolP256r1,
		&e->sig_pub, &err), TW_OK);
	assert_int_equal(EVP_PKEY_get_bits(e->root_pub), 384);
	assert_int_equal(EVP_PKEY_get_bits(e->sub_pub), 256);
	/* Keys are never replaced. */
	assert_rc(signer_generate_key(e->sc, SIGNER_KEY_GWA_SIG, NID_brainpoolP256r1,
		&pub, &err), TW_E_EXISTS);
	assert_null(pub);
	/* An unsupported curve is refused before the token is touched. */
	assert_rc(signer_generate_key(e->sc, "x", NID_secp224r1, &pub, &err),
		TW_E_INVALID);

	assert_rc(signer_get_public_key(e->sc, SIGNER_KEY_GWA_SIG, &pub, &err), TW_OK);
	assert_int_equal(EVP_PKEY_eq(pub, e->sig_pub), 1);
	EVP_PKEY_free(pub);
	pub = NULL;
	assert_rc(signer_get_public_key(e->sc, "no-such-key", &pub, &err),
		TW_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "no-such-key"));
	assert_rc(signer_get_public_key(e->sc, "../x", &pub, &err), TW_E_INVALID);
}

static void test_e2e_sign_data(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	const unsigned char msg[] = "wake up, gateway ETWA0012345678";
	unsigned char *sig = NULL;
	size_t siglen = 0;

	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP,
		msg, sizeof(msg), &sig, &siglen, &err), TW_OK);
	assert_true(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
	/* The signature is over exactly these bytes. */
	assert_false(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg) - 1, sig, siglen));
	free(sig);
	sig = NULL;

	/* Policy: a CA key signs no wake-ups; gwa-sig signs no CRLs. */
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_WAKEUP,
		msg, sizeof(msg), &sig, &siglen, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "sub-ca"));
	assert_non_null(strstr(err.message, "wakeup"));
	assert_null(sig);
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_CRL,
		msg, sizeof(msg), &sig, &siglen, &err), TW_E_DENIED);
	/* Certificates only through SIGN_CERTIFICATE. */
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_CERTIFICATE,
		msg, sizeof(msg), &sig, &siglen, &err), TW_E_DENIED);
	/* CRL purpose needs a TBSCertList. */
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_CRL,
		msg, sizeof(msg), &sig, &siglen, &err), TW_E_INVALID);
	/* Unknown key. */
	assert_rc(signer_sign_data(e->sc, "nope", SIGNER_PURPOSE_WAKEUP,
		msg, sizeof(msg), &sig, &siglen, &err), TW_E_NOT_FOUND);
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP,
		msg, 0, &sig, &siglen, &err), TW_E_INVALID);
}

/*
 * SIGN_DATA in two halves (the wan's asynchronous handshakes wait on the client's fd
 * between them): the answer is the same signature, one request at a time, a refusal
 * arrives with the answer and leaves the connection usable.
 */
static void test_e2e_sign_data_split(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	const unsigned char msg[] = "wake up, gateway ETWA0012345679";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	struct pollfd pfd;

	assert_rc(signer_sign_data_recv(e->sc, &sig, &siglen, &err), TW_E_INTERNAL);
	assert_rc(signer_sign_data_send(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &err), TW_OK);
	/* A second request before the answer was read is refused, nothing sent. */
	assert_rc(signer_sign_data_send(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &err), TW_E_INTERNAL);
	pfd.fd = signer_client_fd(e->sc);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	assert_int_equal(poll(&pfd, 1, 30000), 1);    /* the answer wakes the fd */
	assert_rc(signer_sign_data_recv(e->sc, &sig, &siglen, &err), TW_OK);
	assert_true(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
	free(sig);
	sig = NULL;
	assert_rc(signer_sign_data_recv(e->sc, &sig, &siglen, &err), TW_E_INTERNAL);
	/* A refusal comes with the answer; the connection stays usable. */
	assert_rc(signer_sign_data_send(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &err), TW_OK);
	assert_rc(signer_sign_data_recv(e->sc, &sig, &siglen, &err), TW_E_DENIED);
	assert_null(sig);
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &sig, &siglen, &err), TW_OK);
	free(sig);
	/* Bad arguments are refused before anything is sent. */
	assert_rc(signer_sign_data_send(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg, 0,
		&err), TW_E_INVALID);
	assert_rc(signer_sign_data_send(NULL, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &err), TW_E_INVALID);
	assert_int_equal(signer_client_fd(NULL), -1);
}

/* Counts admin-log rows whose detail is exactly want. */
struct detail_count {
	const char *want;
	int n;
};

static int count_detail(const struct store_audit_row *row, void *arg)
{
	struct detail_count *dc = arg;

	if (strcmp(row->action, "signer.sign") == 0 && strcmp(row->detail, dc->want) == 0)
		dc->n++;
	return 0;
}

/*
 * SIGN_DATA_BATCH (the worker's wake-ups of one tick): each item gets its own signature
 * over exactly its bytes, in order; refusals and malformed batches hand out nothing.
 */
static void test_e2e_sign_data_batch(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	unsigned char m[3][40], big[SIGNER_BATCH_ITEM_MAX + 1];
	const unsigned char *data[3] = { m[0], m[1], m[2] };
	size_t len[3] = { 31, 17, 40 }, sig_len[3];
	unsigned char *sig[3] = { NULL, NULL, NULL };

	for (int i = 0; i < 3; i++)
		memset(m[i], 'a' + i, sizeof(m[i]));
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, data,
		len, 3, sig, sig_len, &err), TW_OK);
	for (int i = 0; i < 3; i++) {
		assert_non_null(sig[i]);
		assert_true(verify_sig(e->sig_pub, EVP_sha256(), m[i], len[i], sig[i], sig_len[i]));
		/* ... and over no other item's bytes. */
		assert_false(verify_sig(e->sig_pub, EVP_sha256(), m[(i + 1) % 3], len[(i + 1) % 3],
			sig[i], sig_len[i]));
		free(sig[i]);
		sig[i] = NULL;
	}
	/* One signer.sign entry per item, with SIGN_DATA's detail (the data's SHA-256 prefix). */
	for (int i = 0; i < 3; i++) {
		unsigned char md[SHA256_DIGEST_LENGTH];
		char hex[17], want[96];
		struct detail_count dc = { want, 0 };

		SHA256(m[i], len[i], md);
		tw_hex_encode(md, 8, hex);
		snprintf(want, sizeof(want), "purpose=wakeup len=%zu sha256=%s", len[i], hex);
		assert_rc(store_audit_foreach(e->store, 1, count_detail, &dc, &err), TW_OK);
		assert_int_equal(dc.n, 1);
	}
	/* The key's policy as for SIGN_DATA: nothing handed out. */
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_WAKEUP, data,
		len, 3, sig, sig_len, &err), TW_E_DENIED);
	assert_null(sig[0]);
	/* Purposes the signer checks or does not audit per signature are never batched. */
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_CRL, data,
		len, 3, sig, sig_len, &err), TW_E_DENIED);
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_CERTIFICATE,
		data, len, 3, sig, sig_len, &err), TW_E_DENIED);
	assert_null(sig[0]);
	/* Bad arguments are refused before anything is sent. */
	memset(big, 'x', sizeof(big));
	data[1] = big;
	len[1] = sizeof(big);
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, data,
		len, 3, sig, sig_len, &err), TW_E_INVALID);
	len[1] = 0;
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, data,
		len, 3, sig, sig_len, &err), TW_E_INVALID);
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, data,
		len, 0, sig, sig_len, &err), TW_E_INVALID);
	assert_null(sig[0]);
	/* The connection is still usable. */
	len[1] = 17;
	data[1] = m[1];
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, data,
		len, 1, sig, sig_len, &err), TW_OK);
	free(sig[0]);
}

static void test_e2e_sign_certificates(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	X509 *root = make_cert("Test Root", "Test Root", e->root_pub);
	X509 *signed_root = NULL, *sub = NULL, *signed_sub = NULL, *bad = NULL, *out = NULL;
	char path[160];
	BIO *b;

	/* Self-signed root with the root key: verifies with its own public key, SHA-384. */
	assert_rc(signer_sign_certificate(e->sc, SIGNER_KEY_ROOT_CA, root, &signed_root,
		&err), TW_OK);
	assert_int_equal(X509_verify(signed_root, e->root_pub), 1);
	assert_int_equal(X509_get_signature_nid(signed_root), NID_ecdsa_with_SHA384);

	/* gwa-sig may not sign certificates at all. */
	assert_rc(signer_sign_certificate(e->sc, SIGNER_KEY_GWA_SIG, root, &out, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "gwa-sig"));
	assert_non_null(strstr(err.message, "certificate"));
	assert_null(out);

	/* A "self-signed" certificate for someone else's key is refused. */
	bad = make_cert("Fake Root", "Fake Root", e->sub_pub);
	assert_rc(signer_sign_certificate(e->sc, SIGNER_KEY_ROOT_CA, bad, &out, &err),
		TW_E_DENIED);
	X509_free(bad);

	/* Once the root's certificate is known, the issuer name must match it. */
	snprintf(path, sizeof(path), "%s/pki", e->dir);
	assert_int_equal(tw_mkdir_p(path, 0755, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/pki/root-ca.crt", e->dir);
	assert_non_null(b = BIO_new_file(path, "w"));
	assert_int_equal(PEM_write_bio_X509(b, signed_root), 1);
	BIO_free(b);
	bad = make_cert("Test Sub-CA", "Someone Else", e->sub_pub);
	assert_rc(signer_sign_certificate(e->sc, SIGNER_KEY_ROOT_CA, bad, &out, &err),
		TW_E_DENIED);
	X509_free(bad);
	sub = make_cert("Test Sub-CA", "Test Root", e->sub_pub);
	assert_rc(signer_sign_certificate(e->sc, SIGNER_KEY_ROOT_CA, sub, &signed_sub,
		&err), TW_OK);
	assert_int_equal(X509_verify(signed_sub, e->root_pub), 1);
	assert_int_equal(X509_verify(signed_sub, e->sub_pub), 0);
	/* Unknown signing key. */
	assert_rc(signer_sign_certificate(e->sc, "missing", sub, &out, &err),
		TW_E_NOT_FOUND);

	X509_free(root);
	X509_free(signed_root);
	X509_free(sub);
	X509_free(signed_sub);
}

/* PEM text of x, signed with a throwaway key (the signer reads only its subject). */
static char *cert_pem(X509 *x, size_t *len)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *out;
	long n;

	assert_non_null(k);
	assert_non_null(b);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0);
	assert_non_null(out = malloc((size_t)n + 1));
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	EVP_PKEY_free(k);
	return out;
}

/* Sign one batch of two certificates issued by issuer_cn with sub-ca: the result code. */
static tw_rc sign_issued_by(struct env *e, const char *issuer_cn, struct tw_error *err)
{
	X509 *tbs[2], *done[2] = { NULL, NULL };
	tw_rc rc;

	tbs[0] = make_cert("GW 1", issuer_cn, e->sig_pub);
	tbs[1] = make_cert("GW 2", issuer_cn, e->sig_pub);
	rc = signer_sign_certificates(e->sc, SIGNER_KEY_SUB_CA, tbs, 2, done, err);
	for (int i = 0; i < 2; i++) {
		if (rc == TW_OK) {
			assert_non_null(done[i]);
			assert_int_equal(X509_verify(done[i], e->sub_pub), 1);
		}
		X509_free(done[i]);
		X509_free(tbs[i]);
	}
	return rc;
}

/*
 * The signer keeps the key's decoded certificate between requests; a changed file (a
 * rotated or renewed key's new certificate, a restore) must count from the very next
 * request, also when it is rewritten in place with the same size and the old times
 * (nothing about the file but its bytes tells the two apart), replaced by rename, made
 * unreadable as a certificate or removed.
 */
static void test_e2e_key_certificate_changes(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	X509 *ca = make_cert("Test Sub-CA A", "Test Root", e->sub_pub);
	char path[160], *pem_a, *pem_b;
	size_t len_a = 0, len_b = 0;
	struct stat st;
	struct timespec times[2];
	char *at;
	int fd;

	snprintf(path, sizeof(path), "%s/pki", e->dir);
	assert_int_equal(tw_mkdir_p(path, 0755, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/pki/%s.crt", e->dir, SIGNER_KEY_SUB_CA);
	pem_a = cert_pem(ca, &len_a);
	/* B: the same PEM with the subject's last letter changed (same size). */
	{
		unsigned char *der = NULL, *hit;
		int n = i2d_X509(ca, &der);
		const unsigned char *p;
		X509 *b;

		assert_true(n > 0);
		hit = memmem(der, (size_t)n, "Test Sub-CA A", 13);
		assert_non_null(hit);
		hit[12] = 'B';
		p = der;
		assert_non_null(b = d2i_X509(NULL, &p, n));
		{
			BIO *bio = BIO_new(BIO_s_mem());
			char *data = NULL;
			long m;

			assert_non_null(bio);
			assert_int_equal(PEM_write_bio_X509(bio, b), 1);
			m = BIO_get_mem_data(bio, &data);
			assert_non_null(pem_b = malloc((size_t)m + 1));
			memcpy(pem_b, data, (size_t)m);
			pem_b[m] = '\0';
			len_b = (size_t)m;
			BIO_free(bio);
		}
		X509_free(b);
		OPENSSL_free(der);
	}
	assert_int_equal(len_a, len_b);
	assert_int_not_equal(memcmp(pem_a, pem_b, len_a), 0);

	/* A: issuer A signs, issuer B is refused (twice: the second from the kept copy). */
	assert_int_equal(tw_write_file(path, pem_a, len_a, 0644, false, &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA A", &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "issuer name differs"));
	assert_rc(sign_issued_by(e, "Test Sub-CA A", &err), TW_OK);

	/* B written over A in place: same inode, same size, A's times put back. */
	assert_int_equal(stat(path, &st), 0);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	assert_true((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(pwrite(fd, pem_b, len_b, 0), (ssize_t)len_b);
	assert_int_equal(futimens(fd, times), 0);
	assert_int_equal(close(fd), 0);
	{
		struct stat st2;

		assert_int_equal(stat(path, &st2), 0);
		assert_int_equal(st2.st_ino, st.st_ino);
		assert_int_equal(st2.st_size, st.st_size);
		assert_int_equal(st2.st_mtim.tv_sec, st.st_mtim.tv_sec);
		assert_int_equal(st2.st_mtim.tv_nsec, st.st_mtim.tv_nsec);
	}
	assert_rc(sign_issued_by(e, "Test Sub-CA A", &err), TW_E_DENIED);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_OK);

	/* A again, replaced by rename (how the home's files are written). */
	assert_int_equal(tw_write_file(path, pem_a, len_a, 0644, false, &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_E_DENIED);
	assert_rc(sign_issued_by(e, "Test Sub-CA A", &err), TW_OK);

	/* No certificate in the file, or no file: the issuer check is skipped, as always. */
	at = strstr(pem_a, "-----BEGIN");
	assert_non_null(at);
	at[5] = 'X';
	assert_int_equal(tw_write_file(path, pem_a, len_a, 0644, false, &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_OK);
	at[5] = 'B';
	assert_int_equal(tw_write_file(path, pem_a, len_a, 0644, false, &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_E_DENIED);
	assert_int_equal(unlink(path), 0);
	assert_rc(sign_issued_by(e, "Test Sub-CA B", &err), TW_OK);
	assert_rc(sign_issued_by(e, "Test Sub-CA A", &err), TW_OK);

	free(pem_a);
	free(pem_b);
	X509_free(ca);
}

/* Admin-log rows of certreq signatures and refusals (test_e2e_certreq). */
struct certreq_count {
	int pop, outer, refused;
};

static int count_certreq(const struct store_audit_row *row, void *arg)
{
	struct certreq_count *c = arg;

	if (strcmp(row->action, "signer.sign") == 0 &&
	    strncmp(row->detail, "purpose=certreq kind=pop ", 25) == 0)
		c->pop++;
	if (strcmp(row->action, "signer.sign") == 0 &&
	    strncmp(row->detail, "purpose=certreq kind=outer ", 27) == 0)
		c->outer++;
	if (strcmp(row->action, "signer.refuse") == 0 &&
	    strncmp(row->detail, "purpose=certreq:", 16) == 0)
		c->refused++;
	return 0;
}

/*
 * Purpose certreq (issue 12, the GWA's own certificate requests through a remote Sub-CA):
 * reqgen builds a renewal whose SIG proof of possession and outer signature gwa-sig makes
 * in the signer; the CA's parser accepts it. Refused: another key (a CA key), data that is
 * not a request, the proof of possession of another key (a gateway's request), batches.
 */
static void test_e2e_certreq(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct reqgen_signer_key k_sig = { e->sc, SIGNER_KEY_GWA_SIG };
	struct reqgen_signer_key k_sub = { e->sc, SIGNER_KEY_SUB_CA };
	struct reqgen_params p;
	struct request *req = NULL;
	enum pki_result res;
	struct certreq_count before = { 0, 0, 0 }, after = { 0, 0, 0 };
	EVP_PKEY *ca_key = NULL, *tls = NULL, *gw = NULL, *gw_pub = NULL;
	X509 *sig_cert = make_cert("Test GWA", "Test Sub-CA", e->sig_pub);
	unsigned char *der = NULL, *sig = NULL, *pub_der = NULL;
	const unsigned char *pp;
	const unsigned char wake[] = "wake up, gateway ETWA0012345678";
	const unsigned char *items[1] = { wake };
	size_t len = 0, siglen = 0, item_len[1] = { sizeof(wake) };
	int pub_len;

	assert_rc(store_audit_foreach(e->store, 1, count_certreq, &before, &err), TW_OK);
	/* The current SIG certificate (signed by some CA: the parser checks signatures only). */
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &ca_key, &err), TW_OK);
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &tls, &err), TW_OK);

	memset(&p, 0, sizeof(p));
	p.subject.common_name = "Test GWA";
	p.subject.dns_name = "gwa.example";
	/* The outer signer is the requester: its certificate names the request's subject. */
	{
		X509_NAME *name = NULL;

		X509_EXTENSION *ku;
		X509V3_CTX v3;

		assert_rc(pki_subject_to_name(&p.subject, &name, &err), TW_OK);
		assert_int_equal(X509_set_subject_name(sig_cert, name), 1);
		X509_NAME_free(name);
		/* A SIG certificate: digitalSignature without EKU. */
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, sig_cert, sig_cert, NULL, NULL, 0);
		assert_non_null(ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
			"critical,digitalSignature"));
		assert_int_equal(X509_add_ext(sig_cert, ku, -1), 1);
		X509_EXTENSION_free(ku);
	}
	assert_true(X509_sign(sig_cert, ca_key, EVP_sha256()) > 0);
	p.keys[PKI_USAGE_TLS] = tls;    /* a software key next to a held one */
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ e->sig_pub, reqgen_sign_certreq, &k_sig };
	p.outer_cert = sig_cert;
	p.outer_held = (struct reqgen_signer){ e->sig_pub, reqgen_sign_certreq, &k_sig };
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_OK);
	assert_rc(request_parse(der, len, NULL, &req, &res, &err), TW_OK);
	assert_int_equal(res, PKI_OK_SYNTAX);
	assert_int_equal(req->kind, REQUEST_KIND_RENEWAL);
	assert_int_equal(req->n_entries, 2);
	assert_int_equal(X509_cmp(req->outer_signer, sig_cert), 0);
	assert_non_null(request_find(req, PKI_USAGE_SIG));
	assert_int_equal(EVP_PKEY_eq(request_find(req, PKI_USAGE_SIG)->public_key, e->sig_pub), 1);
	assert_int_equal(EVP_PKEY_eq(request_find(req, PKI_USAGE_TLS)->public_key, tls), 1);
	request_free(req);
	req = NULL;
	free(der);
	der = NULL;
	/* Each signature is in the admin log by kind: one proof of possession, one outer. */
	assert_rc(store_audit_foreach(e->store, 1, count_certreq, &after, &err), TW_OK);
	assert_int_equal(after.pop, before.pop + 1);
	assert_int_equal(after.outer, before.outer + 1);

	/* A held key given together with a software key for the same usage is a bug. */
	p.keys[PKI_USAGE_SIG] = tls;
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_E_INVALID);
	p.keys[PKI_USAGE_SIG] = NULL;

	/* Another key: the Sub-CA key signs no certificate requests. */
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ e->sub_pub, reqgen_sign_certreq, &k_sub };
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "sub-ca"));
	assert_non_null(strstr(err.message, "certreq"));
	assert_null(der);

	/* A gateway's request (its key, not gwa-sig's): gwa-sig does not prove its possession. */
	assert_rc(keys_generate_ec(NID_brainpoolP256r1, &gw, &err), TW_OK);
	pub_len = i2d_PUBKEY(gw, &pub_der);
	assert_true(pub_len > 0);
	pp = pub_der;
	assert_non_null(gw_pub = d2i_PUBKEY(NULL, &pp, pub_len));
	p.held[PKI_USAGE_SIG] = (struct reqgen_signer){ gw_pub, reqgen_sign_certreq, &k_sig };
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "another public key"));
	assert_null(der);

	/* Data that is not a certificate request, and batches: refused. */
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_CERT_REQUEST,
		wake, sizeof(wake), &sig, &siglen, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "CertRequest"));
	assert_null(sig);
	assert_rc(signer_sign_data_batch(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_CERT_REQUEST,
		items, item_len, 1, &sig, &siglen, &err), TW_E_DENIED);
	/* ... and the certreq signature is no wake-up signature: gwa-sig's other purposes stay. */
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_CERT_REQUEST,
		wake, sizeof(wake), &sig, &siglen, &err), TW_E_DENIED);
	assert_rc(store_audit_foreach(e->store, 1, count_certreq, &after, &err), TW_OK);
	assert_true(after.refused >= before.refused + 5);
	assert_string_equal(signer_purpose_name(SIGNER_PURPOSE_CERT_REQUEST), "certreq");

	OPENSSL_free(pub_der);
	EVP_PKEY_free(gw_pub);
	EVP_PKEY_free(gw);
	EVP_PKEY_free(tls);
	EVP_PKEY_free(ca_key);
	X509_free(sig_cert);
}

struct audit_count {
	int sign, refuse, keygen, with_actor, worker, key_alert;
};

static int count_row(const struct store_audit_row *row, void *arg)
{
	struct audit_count *c = arg;

	/* The alert of a refused key use is written as the system, not the caller. */
	if (strcmp(row->action, "alert.key-access") == 0) {
		c->key_alert++;
		assert_string_equal(row->actor, "system");
		return 0;
	}
	if (strcmp(row->action, "signer.sign") == 0)
		c->sign++;
	else if (strcmp(row->action, "signer.refuse") == 0)
		c->refuse++;
	else if (strcmp(row->action, "signer.keygen") == 0)
		c->keygen++;
	if (strcmp(row->actor, "test-admin") == 0 && strcmp(row->role, "local-admin") == 0 &&
	    strncmp(row->client, "uid:", 4) == 0)
		c->with_actor++;
	if (strcmp(row->actor, "worker") == 0 && strcmp(row->role, "service") == 0)
		c->worker++;
	assert_int_equal(strncmp(row->client, "uid:", 4), 0);
	/* Details name purpose and subject or a hash prefix; never key or PIN material. */
	assert_null(strstr(row->detail, "pin"));
	return 0;
}

static void test_e2e_audit(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct audit_count c = { 0, 0, 0, 0, 0, 0 };
	struct audit_verify_result res;

	assert_rc(store_audit_foreach(e->store, 1, count_row, &c, &err), TW_OK);
	assert_int_equal(c.keygen, 3);
	assert_true(c.sign >= 3);      /* wakeup, root, sub-ca */
	assert_true(c.refuse >= 5);
	/* Every refused use of a key raised a key-access alert (issue 5). */
	assert_int_equal(c.key_alert, c.refuse);
	assert_true(c.with_actor >= c.keygen + 3 + 5);
	assert_int_equal(c.worker, 3);     /* client b in the daemon test */
	assert_rc(audit_verify(e->store, &res, &err), TW_OK);
	assert_int_equal(res.first_bad_seq, 0);
}

/* Without a ceremony no key is generated, even through a private child. */
static void test_e2e_no_ceremony(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct signer_client *sc = NULL;
	EVP_PKEY *pub = NULL;
	const unsigned char msg[] = "tree head";
	unsigned char *sig = NULL;
	size_t siglen = 0;

	assert_rc(signer_client_open(e->home, false, &sc, &err), TW_OK);
	assert_rc(signer_generate_key(sc, "extra", NID_brainpoolP256r1, &pub, &err),
		TW_E_DENIED);
	assert_rc(signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD,
		msg, sizeof(msg), &sig, &siglen, &err), TW_OK);
	assert_true(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
	free(sig);
	signer_client_close(sc);
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The daemon: many clients at once, bad frames close only their connection, SIGTERM. */
static void test_e2e_daemon(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct signer_client *a = NULL, *b = NULL, *c = NULL;
	char sock[160];
	pid_t pid;
	int idle, bad, status;
	unsigned char junk[8] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4 }, r;
	const unsigned char msg[] = "authorisation";
	unsigned char *sig = NULL;
	size_t siglen = 0;
	struct stat st;
	struct secretbox *box = NULL;
	char *sealed = NULL;

	snprintf(sock, sizeof(sock), "%s/run/signer.sock", e->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tw_error cerr;

		/* If the test process dies (timeout), the daemon must not outlive it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		_exit(signer_run(e->home, &cerr) == TW_OK ? 0 : 1);
	}
	e->daemon = pid;
	for (int i = 0; i < 100 && raw_connect(sock) < 0; i++)
		usleep(50 * 1000);
	assert_int_equal(stat(sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);

	/* A client that connects and says nothing must not block the others. */
	idle = raw_connect(sock);
	assert_true(idle >= 0);
	assert_rc(signer_client_connect(sock, &a, &err), TW_OK);
	assert_rc(signer_client_open(e->home, false, &b, &err), TW_OK);
	signer_client_set_actor(b, "worker", "service");
	/* An oversized length prefix closes that connection only. */
	bad = raw_connect(sock);
	assert_true(bad >= 0);
	assert_int_equal(write(bad, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	/* EOF, or a reset because the server dropped unread bytes. */
	assert_true(read(bad, &r, 1) <= 0);
	close(bad);
	for (int i = 0; i < 5; i++) {
		struct signer_client *x = i % 2 ? a : b;

		assert_rc(signer_sign_data(x, SIGNER_KEY_GWA_SIG,
			SIGNER_PURPOSE_AUTHORISATION, msg, sizeof(msg), &sig, &siglen, &err), TW_OK);
		assert_true(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
		free(sig);
		sig = NULL;
	}
	/* The daemon never generates keys. */
	{
		EVP_PKEY *pub = NULL;

		assert_rc(signer_generate_key(a, "k", NID_brainpoolP256r1, &pub, &err),
			TW_E_DENIED);
	}
	/* The data key through the running daemon (secretbox_open connects on first use). */
	assert_rc(secretbox_open(e->home, &box, &err), TW_OK);
	assert_rc(secretbox_seal(box, "torwart-api-request/00ff", "record", 6, &sealed, &err),
		TW_OK);
	/* A second daemon on the same socket is refused. */
	assert_rc(signer_run(e->home, &err), TW_E_EXISTS);
	close(idle);
	assert_int_equal(kill(pid, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	e->daemon = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(tw_path_exists(sock));
	/* The clients notice, with a message that says what to do. */
	{
		EVP_PKEY *pub = NULL;

		assert_rc(signer_get_public_key(a, SIGNER_KEY_GWA_SIG, &pub, &err),
			TW_E_UNAVAILABLE);
		assert_null(pub);
	}
	signer_client_close(a);
	signer_client_close(b);
	/* The daemon is gone: the same box reconnects, finds nobody, and uses the key file
	 * (this process may read it: embedded mode). */
	{
		char *plain = NULL;
		size_t plen = 0;

		assert_rc(secretbox_unseal(box, "torwart-api-request/00ff", sealed, &plain, &plen,
			&err), TW_OK);
		assert_string_equal(plain, "record");
		free(plain);
		free(sealed);
		secretbox_free(box);
	}
	assert_rc(signer_client_connect(sock, &c, &err), TW_E_UNAVAILABLE);
	assert_non_null(strstr(err.message, "torwartd"));
}

/*
 * The data key inside the signer (issue 9): SEAL/UNSEAL round trip through the ceremony
 * signer; a context opens only secrets of its own namespace; secretbox_open seals through
 * the running signer and falls back to the key file without one, with the same key.
 */
static void test_e2e_seal(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct secretbox *box = NULL, *key = NULL;
	char *sealed = NULL, *plain = NULL, *other = NULL;
	size_t len = 0;

	assert_rc(signer_seal(e->sc, "totp", "operator/ann/totp", "JBSWY3DP", 8, &sealed, &err),
		TW_OK);
	assert_true(secretbox_is_sealed(sealed));
	assert_rc(signer_unseal(e->sc, "totp", "operator/ann/totp", sealed, &plain, &len, &err),
		TW_OK);
	assert_int_equal(len, 8);
	assert_string_equal(plain, "JBSWY3DP");
	free(plain);
	plain = NULL;
	/* Another operator's place: AES-GCM refuses (the aad is bound). */
	assert_rc(signer_unseal(e->sc, "totp", "operator/bob/totp", sealed, &plain, &len, &err),
		TW_E_CRYPTO);
	/* The profile context with a TOTP key's aad: refused before any decryption. */
	assert_rc(signer_unseal(e->sc, "profile", "operator/ann/totp", sealed, &plain, &len,
		&err), TW_E_DENIED);
	assert_rc(signer_seal(e->sc, "nonsense", "operator/ann/totp", "x", 1, &other, &err),
		TW_E_DENIED);
	assert_null(plain);
	/* Not a sealed value, an empty one: clear errors, no crash. */
	assert_rc(signer_unseal(e->sc, "totp", "operator/ann/totp", "twbox1:AAAA", &plain, &len,
		&err), TW_E_INTEGRITY);
	assert_rc(signer_unseal(e->sc, "totp", "operator/ann/totp", "plain", &plain, &len,
		&err), TW_E_INVALID);
	/* What the signer sealed opens with the key file (same key), and vice versa through
	 * secretbox_open, which without a running signer uses the file (embedded mode). */
	assert_rc(secretbox_open_key(e->home, &key, &err), TW_OK);
	assert_rc(secretbox_unseal(key, "operator/ann/totp", sealed, &plain, &len, &err), TW_OK);
	assert_string_equal(plain, "JBSWY3DP");
	free(plain);
	plain = NULL;
	assert_rc(secretbox_open(e->home, &box, &err), TW_OK);
	assert_rc(secretbox_seal(box, "profile/gw/p/key.value", "k", 1, &other, &err), TW_OK);
	assert_rc(secretbox_unseal(key, "profile/gw/p/key.value", other, &plain, &len, &err),
		TW_OK);
	assert_string_equal(plain, "k");
	free(plain);
	free(other);
	free(sealed);
	secretbox_free(box);
	secretbox_free(key);
}

/* The contexts' namespaces (secretbox.h). */
static void test_seal_contexts(void **state)
{
	(void)state;
	assert_string_equal(secretbox_context_of("operator/ann/totp"), "totp");
	assert_string_equal(secretbox_context_of("operator//totp"), "other");
	assert_string_equal(secretbox_context_of("operator/a/b/totp"), "other");
	assert_string_equal(secretbox_context_of("profile/gw/p/key.value"), "profile");
	assert_string_equal(secretbox_context_of("torwart-api-command-principal"), "principal");
	assert_string_equal(secretbox_context_of("torwart-api-spool-key"), "gateway-key");
	assert_string_equal(secretbox_context_of("torwart-api-request/ab12"), "request");
	assert_string_equal(secretbox_context_of("torwart-api-request/"), "other");
	assert_string_equal(secretbox_context_of("anything"), "other");
	assert_true(secretbox_context_matches("totp", "operator/ann/totp"));
	assert_false(secretbox_context_matches("profile", "operator/ann/totp"));
	assert_false(secretbox_context_matches(NULL, "operator/ann/totp"));
}

/*
 * Who may ask what (signer_peer.h), by the service the caller's uid names. Stated here
 * again, independently of the table in signer_peer.c.
 */
static void test_peer_policy(void **state)
{
	struct signer_peers p;

	(void)state;
	/* Self and root: everything. */
	for (uint8_t op = SIGNER_OP_HELLO; op <= SIGNER_OP__LAST; op++) {
		assert_null(signer_peer_refusal(SIGNER_PEER_SELF, op, SIGNER_PURPOSE_WAKEUP, "totp",
			"deactivate"));
		assert_null(signer_peer_refusal(SIGNER_PEER_ROOT, op, SIGNER_PURPOSE_WAKEUP, "totp",
			"deactivate"));
	}
	/* Another uid: HELLO only. */
	assert_null(signer_peer_refusal(SIGNER_PEER_OTHER, SIGNER_OP_HELLO, 0, NULL, NULL));
	for (uint8_t op = SIGNER_OP_GET_PUBLIC_KEY; op <= SIGNER_OP__LAST; op++)
		assert_non_null(signer_peer_refusal(SIGNER_PEER_OTHER, op, SIGNER_PURPOSE_CRL,
			"profile", "status"));
	/* Custodian shares only from the api. */
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_CUSTODIAN_SHARE, 0, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_CUSTODIAN_SHARE, 0, NULL,
		NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_CUSTODIAN_SHARE, 0,
		NULL, NULL));
	/* The wan signs nothing and opens only profile secrets. */
	for (int purpose = SIGNER_PURPOSE_CERTIFICATE; purpose <= SIGNER_PURPOSE_INITIAL_CONFIG;
	     purpose++)
		assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA, purpose,
			NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_CERTIFICATE, 0, NULL,
		NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_UNSEAL, 0, "profile", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SEAL, 0, "profile", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_UNSEAL, 0, "totp", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_UNSEAL, 0, "other", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_ACTIVATION, 0, NULL, "status"));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_ACTIVATION, 0, NULL,
		"deactivate"));
	/* The worker: wake-ups, tree heads, CRLs, the GWA's authorisation of gateways' renewal
	 * requests (issue 12, gwa/renewal.c); no secrets, no initial configuration files. */
	assert_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_WAKEUP, NULL, NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_CRL_END, 0, NULL, NULL));
	/* Batched data signatures: the same callers per purpose; never TLS handshakes. */
	assert_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA_BATCH,
		SIGNER_PURPOSE_WAKEUP, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA_BATCH,
		SIGNER_PURPOSE_WAKEUP, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA_BATCH,
		SIGNER_PURPOSE_WAKEUP, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA_BATCH,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "gwa-tls", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_AUTHORISATION, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_INITIAL_CONFIG, NULL, NULL));
	for (const char *const *c = (const char *const[]){ "totp", "profile", "principal",
	     "gateway-key", "request", "other", NULL }; *c != NULL; c++) {
		assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SEAL, 0, *c, NULL));
		assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_UNSEAL, 0, *c,
			NULL));
	}
	/* The api: its secrets, sealing profiles (operator commands) but not opening them,
	 * authorisations, no wake-ups, never key generation or the "other" context. */
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_UNSEAL, 0, "totp", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SEAL, 0, "profile", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_UNSEAL, 0, "profile", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_UNSEAL, 0, "other", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_AUTHORISATION, NULL, NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_INITIAL_CONFIG, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_WAKEUP, NULL, NULL));
	/* The web console's TLS key (console-tls): the api only, which runs the console. */
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "console-tls", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "console-tls", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "console-tls", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "console-tls-x", NULL));
	/* Delivery notes (ws/ws_note.h): the api alone (web service, `ca delivery-note`). */
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_DELIVERY_NOTE, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_DELIVERY_NOTE, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_DELIVERY_NOTE, NULL, NULL));
	assert_string_equal(signer_purpose_name(SIGNER_PURPOSE_DELIVERY_NOTE), "delivery-note");
	/* The GWA's own certificate requests (certreq): operator commands in the api; never
	 * the wan or the worker. */
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_CERT_REQUEST, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_CERT_REQUEST, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_CERT_REQUEST, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_GENERATE_KEY, 0, NULL,
		NULL));
	/* TLS handshake signatures (issue 16): by key, the label passed as context. */
	assert_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "gwa-tls", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "api-tls", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "api-tls", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "gwa-tls", NULL));
	assert_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "gwa-tls", NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WORKER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "api-tls", NULL));
	/* No service gets a handshake signature from any other key, nor without a label. */
	for (const char *const *l = (const char *const[]){ "sub-ca", "gwa-sig", "root-ca",
	     "operator-ca", NULL }; *l != NULL; l++)
		assert_non_null(signer_peer_refusal(SIGNER_PEER_API, SIGNER_OP_SIGN_DATA,
			SIGNER_PURPOSE_TLS_HANDSHAKE, *l, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_WAN, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, NULL, NULL));
	assert_non_null(signer_peer_refusal(SIGNER_PEER_OTHER, SIGNER_OP_SIGN_DATA,
		SIGNER_PURPOSE_TLS_HANDSHAKE, "gwa-tls", NULL));
	/* Classification: the signer's own uid, root, and a one-user home's strangers. */
	signer_peers_init(&p, NULL);
	assert_int_equal(signer_peer_classify(&p, geteuid()), SIGNER_PEER_SELF);
	if (geteuid() != 0)
		assert_int_equal(signer_peer_classify(&p, 0), SIGNER_PEER_ROOT);
	assert_int_equal(signer_peer_classify(&p, 4242424), SIGNER_PEER_OTHER);
}

/* backend = file (tests only): same policy; key files must be 0600 and are never replaced. */
static void test_file_backend(void **state)
{
	const unsigned char msg[] = "wake up, gateway ETWA0012345678";
	char dir[64], path[160], cmd[128];
	struct tw_home *home = NULL;
	struct tw_store *store = NULL;
	struct signer_client *sc = NULL;
	EVP_PKEY *pub = NULL, *again = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	struct tw_error err;
	struct stat st;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tw-signer-file-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", dir);
	write_text(path, "[store]\nurl = store.db\n\n[signer]\nbackend = file\n"
		"key_dir = secrets/keys\n\n[log]\nlevel = error\n");
	assert_int_equal(tw_home_open(dir, &home, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/store.db", dir);
	assert_rc(store_open(path, &store, &err), TW_OK);
	assert_rc(store_migrate(store, &err), TW_OK);
	assert_rc(signer_client_open(home, true, &sc, &err), TW_OK);
	assert_rc(signer_generate_key(sc, SIGNER_KEY_GWA_SIG, NID_brainpoolP256r1, &pub, &err),
		TW_OK);
	assert_rc(signer_generate_key(sc, SIGNER_KEY_GWA_SIG, NID_brainpoolP256r1, &again,
		&err), TW_E_EXISTS);
	assert_rc(signer_generate_key(sc, SIGNER_KEY_SUB_CA, NID_brainpoolP256r1, &again, &err),
		TW_OK);
	EVP_PKEY_free(again);
	again = NULL;
	snprintf(path, sizeof(path), "%s/secrets/keys/gwa-sig.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_rc(signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &sig, &siglen, &err), TW_OK);
	assert_true(verify_sig(pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
	free(sig);
	sig = NULL;
	/* The same policy as with the token. */
	assert_rc(signer_sign_data(sc, SIGNER_KEY_SUB_CA, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_DENIED);
	signer_client_close(sc);
	sc = NULL;

	/* A key file readable by others is refused, with the fix in the message. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_rc(signer_client_open(home, false, &sc, &err), TW_OK);
	assert_rc(signer_sign_data(sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_WAKEUP, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_null(sig);
	/* No key generation outside the ceremony. */
	assert_rc(signer_generate_key(sc, "other", NID_brainpoolP256r1, &again, &err),
		TW_E_DENIED);
	signer_client_close(sc);
	EVP_PKEY_free(pub);
	store_close(store);
	tw_home_free(home);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", dir);
}

/* Read a share file of the ceremony into buf (NUL-terminated). */
static size_t read_share(const char *dir, int i, char *buf, size_t size)
{
	char path[200];
	unsigned char *text = NULL;
	size_t len = 0;
	struct tw_error err;

	snprintf(path, sizeof(path), "%s/shares/share-%d-of-3.txt", dir, i);
	assert_rc(tw_read_file(path, size - 1, &text, &len, &err), TW_OK);
	memcpy(buf, text, len + 1);
	free(text);
	return len;
}

/*
 * Custodian activation (M-4.5.18) against the real token: the ceremony splits the PINs
 * 2 of 3 and removes the pin file; a (private) signer then starts inactive, refuses every
 * signature with TW_E_UNAVAILABLE, takes one share, refuses non-custodians, a second share
 * of the same operator and the same share again, activates with the second custodian,
 * deactivates, refuses a tampered set without activating, and refuses to start at all
 * when a pin file reappears. Runs last: it turns the home into a production home.
 */
static void test_e2e_custodians(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	const unsigned char msg[] = "tree head";
	unsigned char *sig = NULL;
	size_t siglen = 0, len;
	char share[3][SHARES_TEXT_MAX + 1], answer[200], path[200], outdir[200];
	EVP_PKEY *pub = NULL;
	struct share s;

	signer_client_close(e->sc);
	e->sc = NULL;
	snprintf(outdir, sizeof(outdir), "%s/shares", e->dir);
	assert_rc(signer_custodians_split(e->home, 1, 3, outdir, NULL, &err), TW_E_INVALID);
	assert_rc(signer_custodians_split(e->home, 2, 3, outdir, NULL, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/secrets/pins", e->dir);
	assert_false(tw_path_exists(path));
	assert_rc(signer_custodians_split(e->home, 2, 3, outdir, NULL, &err), TW_E_EXISTS);
	for (int i = 0; i < 3; i++)
		read_share(e->dir, i + 1, share[i], sizeof(share[i]));

	assert_rc(signer_client_open(e->home, false, &e->sc, &err), TW_OK);
	signer_client_set_actor(e->sc, "c1", "custodian");
	assert_rc(signer_activation(e->sc, "status", answer, sizeof(answer), &err), TW_OK);
	assert_string_equal(answer, "mode=custodians k=2 n=3 active=no entered=0");
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_UNAVAILABLE);
	assert_non_null(strstr(err.message, "signer inactive"));
	assert_null(sig);
	/* Public keys need no login. */
	assert_rc(signer_get_public_key(e->sc, SIGNER_KEY_GWA_SIG, &pub, &err), TW_OK);
	assert_int_equal(EVP_PKEY_eq(pub, e->sig_pub), 1);
	EVP_PKEY_free(pub);

	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[0], strlen(share[0]),
		answer, sizeof(answer), &err), TW_OK);
	assert_non_null(strstr(answer, "waiting: share 1 accepted, 1 of 2"));
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[1], strlen(share[1]),
		answer, sizeof(answer), &err), TW_E_EXISTS);
	assert_non_null(strstr(err.message, "different custodians"));
	signer_client_set_actor(e->sc, "mallory", "gateway-operator");
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[1], strlen(share[1]),
		answer, sizeof(answer), &err), TW_E_DENIED);
	signer_client_set_actor(e->sc, "c2", "approver,custodian");
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[0], strlen(share[0]),
		answer, sizeof(answer), &err), TW_E_EXISTS);
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)"junk", 4, answer,
		sizeof(answer), &err), TW_E_INVALID);
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_UNAVAILABLE);
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[1], strlen(share[1]),
		answer, sizeof(answer), &err), TW_OK);
	assert_non_null(strstr(answer, "active"));
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, msg,
		sizeof(msg), &sig, &siglen, &err), TW_OK);
	assert_true(verify_sig(e->sig_pub, EVP_sha256(), msg, sizeof(msg), sig, siglen));
	free(sig);
	sig = NULL;
	/* Active: more shares are not taken. */
	signer_client_set_actor(e->sc, "c3", "custodian");
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[2], strlen(share[2]),
		answer, sizeof(answer), &err), TW_E_EXISTS);

	/* Deactivated: signatures stop at once. */
	assert_rc(signer_activation(e->sc, "deactivate", answer, sizeof(answer), &err), TW_OK);
	assert_non_null(strstr(answer, "active=no"));
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_UNAVAILABLE);
	assert_rc(signer_activation(e->sc, "bogus", answer, sizeof(answer), &err), TW_E_INVALID);

	/* A tampered share that still parses (re-encoded): the set does not combine. */
	len = strlen(share[2]);
	assert_rc(share_parse((unsigned char *)share[2], len, &s, &err), TW_OK);
	s.y[0] ^= 0x01;
	assert_rc(share_encode(&s, NULL, share[2], sizeof(share[2]), &err), TW_OK);
	share_wipe(&s);
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[2], strlen(share[2]),
		answer, sizeof(answer), &err), TW_OK);
	signer_client_set_actor(e->sc, "c1", "custodian");
	assert_rc(signer_custodian_share(e->sc, (unsigned char *)share[0], strlen(share[0]),
		answer, sizeof(answer), &err), TW_E_INTEGRITY);
	assert_non_null(strstr(err.message, "wrong or was altered"));
	assert_rc(signer_activation(e->sc, "status", answer, sizeof(answer), &err), TW_OK);
	assert_string_equal(answer, "mode=custodians k=2 n=3 active=no entered=0");
	assert_rc(signer_sign_data(e->sc, SIGNER_KEY_GWA_SIG, SIGNER_PURPOSE_TREE_HEAD, msg,
		sizeof(msg), &sig, &siglen, &err), TW_E_UNAVAILABLE);
	signer_client_close(e->sc);
	e->sc = NULL;

	/* Fail closed: a pin file next to the set record stops the signer. */
	write_text(path, "user_pin=00\nso_pin=00\n");
	assert_rc(signer_client_open(e->home, false, &e->sc, &err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "must not be stored"));
	e->sc = NULL;
}

int main(void)
{
	const struct CMUnitTest codec[] = {
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_encode_limits),
		cmocka_unit_test(test_batch_elements),
		cmocka_unit_test(test_frame_rejects),
		cmocka_unit_test(test_file_backend),
		cmocka_unit_test(test_seal_contexts),
		cmocka_unit_test(test_peer_policy),
		cmocka_unit_test(test_certreq_payload),
	};
	/* Order matters: keys first, audit after the signatures and refusals. */
	const struct CMUnitTest e2e[] = {
		cmocka_unit_test(test_e2e_keys),
		cmocka_unit_test(test_e2e_sign_data),
		cmocka_unit_test(test_e2e_sign_data_split),
		cmocka_unit_test(test_e2e_sign_data_batch),
		cmocka_unit_test(test_e2e_sign_certificates),
		cmocka_unit_test(test_e2e_key_certificate_changes),
		cmocka_unit_test(test_e2e_certreq),
		cmocka_unit_test(test_e2e_no_ceremony),
		cmocka_unit_test(test_e2e_seal),
		cmocka_unit_test(test_e2e_daemon),
		cmocka_unit_test(test_e2e_audit),
		cmocka_unit_test(test_e2e_custodians),
	};
	int failed = cmocka_run_group_tests_name("signer-codec", codec, NULL, NULL);

	failed += cmocka_run_group_tests_name("signer-e2e", e2e, e2e_setup, e2e_teardown);
	return failed;
}
