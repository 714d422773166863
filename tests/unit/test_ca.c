/*
 * test_ca.c: the Sub-CA engine (src/pki/ca*.c, crl.c, src/store/store_ca.c) against a real
 * home: SoftHSM2 token, test PKI, signer child. Registration and queue rules in the store,
 * issuance through the batch signer op, every bad-request class with its WSDL code and
 * nothing changed, revocation, and a CRL over one signer frame (the streamed path) that
 * OpenSSL parses and verifies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/home.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/signer.h"
#include "pki/ca.h"
#include "pki/crl.h"
#include "pki/reqgen.h"
#include "pki/testpki.h"
#include "signer/signer_server.h"
#include "store/db.h"
#include "store/store_ca.h"

#define assert_rc(expr, want) do { \
	tw_rc rc_ = (expr); \
	if (rc_ != (want)) \
		fail_msg("%s = %s (%s), want %s", #expr, tw_strerror(rc_), err.message, \
			tw_strerror(want)); \
} while (0)

struct env {
	char dir[64];
	struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;
	char issuer[STORE_TEXT_MAX + 1];
	int nreq;
};

static const struct ca_actor who = { "test-officer", "local-admin", "local:test" };

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct tw_error err;
	char path[160];
	const char *conf = "[store]\nurl = store.db\n\n[signer]\nsocket = run/signer.sock\n"
		"module = /usr/lib/softhsm/libsofthsm2.so\nsofthsm_conf = softhsm2.conf\n"
		"pin_file = secrets/pins\ntoken_label = torwart-ca-test\n\n[log]\nlevel = warn\n";

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/tw-ca-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(path, sizeof(path), "%s/torwart.conf", e->dir);
	assert_rc(tw_write_file(path, conf, strlen(conf), 0600, false, &err), TW_OK);
	assert_rc(signer_home_prepare(e->dir, &err), TW_OK);
	assert_rc(tw_home_open(e->dir, &e->home, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/store.db", e->dir);
	assert_rc(store_open(path, &e->store, &err), TW_OK);
	assert_rc(store_migrate(e->store, &err), TW_OK);
	assert_rc(signer_client_open(e->home, true, &e->sc, &err), TW_OK);
	signer_client_set_actor(e->sc, "test-officer", "local-admin");
	assert_rc(testpki_create(e->home, e->sc, e->store, &err), TW_OK);
	assert_rc(ca_issuer_name(e->home, CA_DEFAULT_NAME, e->issuer, sizeof(e->issuer), &err),
		TW_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char cmd[128];

	signer_client_close(e->sc);
	store_close(e->store);
	tw_home_free(e->home);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);   /* ours, from mkdtemp */
	if (system(cmd) != 0)
		print_error("could not remove %s\n", e->dir);
	free(e);
	return 0;
}

static void register_emt(struct env *e, const char *name, const char *cn, const char *mp)
{
	struct store_ca_participant p;
	struct tw_error err;

	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "%s", name);
	snprintf(p.organisation, sizeof(p.organisation), "Test Org");
	snprintf(p.role, sizeof(p.role), "emt");
	snprintf(p.market_partner_id, sizeof(p.market_partner_id), "%s", mp);
	snprintf(p.common_name, sizeof(p.common_name), "%s", cn);
	assert_rc(ca_register(e->store, &who, &p, &err), TW_OK);
}

/* Write a fresh initial request (curve for all three keys) to a file; returns its path. */
static char *make_request(struct env *e, const char *cn, const char *mp, int curve)
{
	struct reqgen_params p;
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0;
	char *path;

	memset(&p, 0, sizeof(p));
	p.subject.common_name = cn;
	p.subject.org_unit = mp;
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC; u++)
		assert_rc(keys_generate_ec(curve, &p.keys[u], &err), TW_OK);
	assert_rc(reqgen_build(&p, true, &der, &len, &err), TW_OK);
	path = tw_asprintf("%s/req%d.der", e->dir, ++e->nreq);
	assert_non_null(path);
	assert_rc(tw_write_file(path, der, len, 0600, false, &err), TW_OK);
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC; u++)
		EVP_PKEY_free(p.keys[u]);
	free(der);
	return path;
}

static int count_req(const struct store_ca_request *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int count_cert(const struct store_ca_cert *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

static void counts(struct env *e, int *reqs, int *certs)
{
	struct tw_error err;

	*reqs = *certs = 0;
	assert_rc(store_ca_request_foreach(e->store, NULL, count_req, reqs, &err), TW_OK);
	assert_rc(store_ca_cert_foreach(e->store, e->issuer, count_cert, certs, &err), TW_OK);
}

static void test_reason_and_serial(void **state)
{
	struct tw_error err;
	char out[STORE_ID_MAX + 1];
	int r;

	(void)state;
	assert_rc(ca_reason_parse("keyCompromise", &r, &err), TW_OK);
	assert_int_equal(r, 1);
	assert_rc(ca_reason_parse("cessation-of-operation", &r, &err), TW_OK);
	assert_int_equal(r, 5);
	assert_rc(ca_reason_parse("10", &r, &err), TW_OK);
	assert_int_equal(r, 10);
	assert_rc(ca_reason_parse("7", &r, &err), TW_E_INVALID);      /* unused in RFC 5280 */
	assert_rc(ca_reason_parse("because", &r, &err), TW_E_INVALID);
	assert_string_equal(ca_reason_name(9), "privilegeWithdrawn");
	assert_rc(ca_serial_normalise("0A:BC:de", out, sizeof(out), &err), TW_OK);
	assert_string_equal(out, "0abcde");
	assert_rc(ca_serial_normalise("abc", out, sizeof(out), &err), TW_OK);
	assert_string_equal(out, "0abc");                               /* whole bytes */
	assert_rc(ca_serial_normalise("xyz", out, sizeof(out), &err), TW_E_INVALID);
	assert_rc(ca_serial_normalise("", out, sizeof(out), &err), TW_E_INVALID);
}

static void test_store_rules(void **state)
{
	struct env *e = *state;
	struct store_ca_participant p;
	struct store_ca_request r;
	struct tw_error err;
	unsigned char der[4] = { 0x30, 0x02, 0x05, 0x00 };
	int64_t id = 0, first;
	bool changed = true;

	register_emt(e, "store-p", "STORE.EMT.T", "1");
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "store-p");
	snprintf(p.organisation, sizeof(p.organisation), "X");
	snprintf(p.role, sizeof(p.role), "emt");
	snprintf(p.market_partner_id, sizeof(p.market_partner_id), "1");
	snprintf(p.common_name, sizeof(p.common_name), "X");
	assert_rc(ca_register(e->store, &who, &p, &err), TW_E_EXISTS);
	snprintf(p.name, sizeof(p.name), "smgw-p");
	snprintf(p.role, sizeof(p.role), "smgw");
	assert_rc(ca_register(e->store, &who, &p, &err), TW_E_INVALID);  /* no gateway id */
	snprintf(p.role, sizeof(p.role), "ca");
	snprintf(p.gateway_id, sizeof(p.gateway_id), "G");
	assert_rc(store_ca_participant_insert(e->store, &p, &err), TW_E_INVALID);

	memset(&r, 0, sizeof(r));
	memset(r.digest, 'a', 64);
	snprintf(r.participant, sizeof(r.participant), "store-p");
	snprintf(r.kind, sizeof(r.kind), "initial");
	snprintf(r.state, sizeof(r.state), "pending");
	snprintf(r.subject, sizeof(r.subject), "CN=STORE.EMT.T");
	r.der = der;
	r.der_len = sizeof(der);
	assert_rc(store_ca_request_insert(e->store, &r, &id, &err), TW_OK);
	assert_true(id > 0);
	first = id;
	assert_rc(store_ca_request_insert(e->store, &r, &id, &err), TW_E_EXISTS);   /* replay */
	assert_int_equal(id, 0);
	memset(r.digest, 'b', 64);
	snprintf(r.participant, sizeof(r.participant), "nobody");
	assert_rc(store_ca_request_insert(e->store, &r, &id, &err), TW_E_NOT_FOUND);
	r.der_len = STORE_CA_REQUEST_MAX + 1;
	assert_rc(store_ca_request_insert(e->store, &r, &id, &err), TW_E_TOO_LARGE);

	assert_rc(ca_decide(e->store, &who, first, false, "no", &err), TW_OK);
	assert_rc(ca_decide(e->store, &who, first, true, "yes", &err), TW_E_DENIED); /* rejected */
	assert_rc(ca_decide(e->store, &who, 999, true, "yes", &err), TW_E_NOT_FOUND);
	assert_rc(store_ca_cert_revoke(e->store, e->issuer, "00ff", 1, 1, &changed, &err),
		TW_E_NOT_FOUND);
	assert_false(changed);
	assert_rc(store_ca_cert_revoke(e->store, e->issuer, "00ff", 7, 1, &changed, &err),
		TW_E_INVALID);
}

static void test_issue_and_bad_requests(void **state)
{
	struct env *e = *state;
	struct ca_issue_outcome out[6];
	struct tw_error err;
	const char *files[6];
	char *good, *p256, *stranger, *wrong_mp, *big, *trunc;
	unsigned char *der = NULL;
	size_t len = 0;
	int r0, c0, r1, c1;
	bool changed = false;

	register_emt(e, "issue-p", "ISSUE.EMT.T", "9900000000011");
	good = make_request(e, "ISSUE.EMT.T", "9900000000011", NID_brainpoolP256r1);
	p256 = make_request(e, "ISSUE.EMT.T", "9900000000011", NID_X9_62_prime256v1);
	stranger = make_request(e, "NOBODY.EMT.T", "9900000000011", NID_brainpoolP256r1);
	wrong_mp = make_request(e, "ISSUE.EMT.T", "1234", NID_brainpoolP384r1);
	/* Truncated and oversized variants of the good request. */
	assert_rc(tw_read_file(good, 1 << 20, &der, &len, &err), TW_OK);
	trunc = tw_asprintf("%s/trunc.der", e->dir);
	big = tw_asprintf("%s/big.der", e->dir);
	assert_rc(tw_write_file(trunc, der, len - 20, 0600, false, &err), TW_OK);
	{
		unsigned char *b = calloc(1, 70 * 1024);

		assert_non_null(b);
		memcpy(b, der, len);
		assert_rc(tw_write_file(big, b, 70 * 1024, 0600, false, &err), TW_OK);
		free(b);
	}
	free(der);

	counts(e, &r0, &c0);
	files[0] = good;
	files[1] = p256;
	files[2] = stranger;
	files[3] = wrong_mp;
	files[4] = trunc;
	files[5] = big;
	assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, NULL, files, 6, out, NULL, &err),
		TW_OK);
	assert_int_equal(out[0].rc, TW_OK);
	assert_int_equal(out[0].result, PKI_OK_CERT_AVAILABLE);
	assert_int_equal(out[0].n_certs, 3);
	assert_int_equal(strlen(out[0].serials[0]), 32);               /* 16-byte serial */
	assert_int_equal(out[1].result, PKI_FAILURE_DOMAIN_PARAMETERS);
	assert_int_equal(out[2].result, PKI_FAILURE_UNAUTHORIZED_REQUEST);
	assert_int_equal(out[3].result, PKI_FAILURE_INCORRECT_REQUEST);
	assert_int_equal(out[4].result, PKI_FAILURE_SYNTAX);
	assert_int_equal(out[5].result, PKI_FAILURE_SYNTAX);
	counts(e, &r1, &c1);
	assert_int_equal(r1, r0 + 1);                                   /* only the good one */
	assert_int_equal(c1, c0 + 3);

	/* Replay: refused, nothing changes. */
	assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, NULL, files, 1, out, NULL, &err),
		TW_OK);
	assert_int_equal(out[0].result, PKI_FAILURE_REQUEST_NOT_ACCEPTED);
	counts(e, &r0, &c0);
	assert_int_equal(r0, r1);
	assert_int_equal(c0, c1);

	/* Revocation is idempotent and keeps the first reason. */
	assert_rc(ca_revoke(e->home, e->store, &who, CA_DEFAULT_NAME, "00ee", 1, &changed, &err),
		TW_E_NOT_FOUND);
	{
		struct ca_issue_outcome o2[1];
		char *again = make_request(e, "ISSUE.EMT.T", "9900000000011", NID_brainpoolP512r1);
		struct store_ca_cert c;

		files[0] = again;
		assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, "issue-p", files, 1, o2,
			NULL, &err), TW_OK);
		assert_int_equal(o2[0].rc, TW_OK);
		assert_rc(ca_revoke(e->home, e->store, &who, CA_DEFAULT_NAME, o2[0].serials[1], 1,
			&changed, &err), TW_OK);
		assert_true(changed);
		assert_rc(ca_revoke(e->home, e->store, &who, CA_DEFAULT_NAME, o2[0].serials[1], 4,
			&changed, &err), TW_OK);
		assert_false(changed);
		assert_rc(store_ca_cert_get(e->store, e->issuer, o2[0].serials[1], false, &c, &err),
			TW_OK);
		assert_string_equal(c.status, "revoked");
		assert_int_equal(c.revocation_reason, 1);
		free(again);
	}
	free(good);
	free(p256);
	free(stranger);
	free(wrong_mp);
	free(trunc);
	free(big);
}

/*
 * The web service's path (ca_issue_buffer): the caller is bound, so a request naming
 * anyone else is failure_unauthorized_request (where `ca issue --participant` says
 * failure_incorrect_request), and nothing is stored for it.
 */
static void test_issue_buffer_caller_bound(void **state)
{
	struct env *e = *state;
	struct ca_issue_outcome o;
	struct tw_error err;
	const char *files[1];
	char *a, *b, *a_wrong_mp;
	unsigned char *der_a = NULL, *der_b = NULL, *der_m = NULL, *big;
	size_t len_a = 0, len_b = 0, len_m = 0;
	int r0, c0, r1, c1;

	register_emt(e, "buf-a", "BUF.A.T", "9900000000021");
	register_emt(e, "buf-b", "BUF.B.T", "9900000000022");
	a = make_request(e, "BUF.A.T", "9900000000021", NID_brainpoolP256r1);
	b = make_request(e, "BUF.B.T", "9900000000022", NID_brainpoolP256r1);
	a_wrong_mp = make_request(e, "BUF.A.T", "9900000000022", NID_brainpoolP256r1);
	assert_rc(tw_read_file(a, 1 << 20, &der_a, &len_a, &err), TW_OK);
	assert_rc(tw_read_file(b, 1 << 20, &der_b, &len_b, &err), TW_OK);
	assert_rc(tw_read_file(a_wrong_mp, 1 << 20, &der_m, &len_m, &err), TW_OK);

	counts(e, &r0, &c0);
	assert_rc(ca_issue_buffer(e->home, e->store, e->sc, &who, "buf-a", der_b, len_b, &o, &err),
		TW_OK);
	assert_int_equal(o.result, PKI_FAILURE_UNAUTHORIZED_REQUEST);
	assert_int_not_equal(o.rc, TW_OK);
	assert_rc(ca_issue_buffer(e->home, e->store, e->sc, &who, "buf-a", der_m, len_m, &o, &err),
		TW_OK);
	assert_int_equal(o.result, PKI_FAILURE_UNAUTHORIZED_REQUEST);
	assert_rc(ca_issue_buffer(e->home, e->store, e->sc, &who, "nobody", der_a, len_a, &o,
		&err), TW_OK);
	assert_int_equal(o.result, PKI_FAILURE_UNAUTHORIZED_REQUEST);
	big = calloc(1, 70 * 1024);
	assert_non_null(big);
	memcpy(big, der_a, len_a);
	assert_rc(ca_issue_buffer(e->home, e->store, e->sc, &who, "buf-a", big, 70 * 1024, &o,
		&err), TW_OK);
	assert_int_equal(o.result, PKI_FAILURE_SYNTAX);
	free(big);
	counts(e, &r1, &c1);
	assert_int_equal(r1, r0);
	assert_int_equal(c1, c0);

	/* The command line keeps its meaning for the same request. */
	files[0] = b;
	assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, "buf-a", files, 1, &o, NULL,
		&err), TW_OK);
	assert_int_equal(o.result, PKI_FAILURE_INCORRECT_REQUEST);

	/* The caller's own request is issued. */
	assert_rc(ca_issue_buffer(e->home, e->store, e->sc, &who, "buf-a", der_a, len_a, &o, &err),
		TW_OK);
	assert_int_equal(o.rc, TW_OK);
	assert_int_equal(o.result, PKI_OK_CERT_AVAILABLE);
	assert_int_equal(o.n_certs, 3);
	counts(e, &r1, &c1);
	assert_int_equal(r1, r0 + 1);
	assert_int_equal(c1, c0 + 3);
	free(der_a);
	free(der_b);
	free(der_m);
	free(a);
	free(b);
	free(a_wrong_mp);
}

/* ca_issue_files_progress' callback: every call's count, in order. */
struct issue_calls {
	size_t calls, last, n;
	bool in_order;
};

static void count_issue_progress(void *arg, size_t done, size_t n)
{
	struct issue_calls *c = arg;

	c->in_order = c->in_order && done == c->last + 1;
	c->calls++;
	c->last = done;
	c->n = n;
}

/* More requests than one batch: the pipeline, and a replay of a request still in flight. */
static void test_issue_pipelined(void **state)
{
	struct env *e = *state;
	enum { N = CA_BATCH_MAX + 3 };
	struct ca_issue_outcome *out = calloc(N, sizeof(*out));
	const char *files[N];
	char *paths[N - 1];
	struct ca_issue_stats st;
	struct issue_calls calls = { 0, 0, 0, true };
	struct tw_error err;
	int r0, c0, r1, c1;

	assert_non_null(out);
	register_emt(e, "pipe-p", "PIPE.EMT.T", "9900000000022");
	for (int i = 0; i < N - 1; i++) {
		paths[i] = make_request(e, "PIPE.EMT.T", "9900000000022", NID_brainpoolP256r1);
		files[i] = paths[i];
	}
	files[N - 1] = paths[0];   /* prepared while the first batch is with the signer */
	counts(e, &r0, &c0);
	assert_rc(ca_issue_files_progress(e->home, e->store, e->sc, &who, "pipe-p", files, N, out,
		&st, count_issue_progress, &calls, &err), TW_OK);
	/* The progress display saw every request once, in order, including the rejected one. */
	assert_int_equal(calls.calls, N);
	assert_true(calls.in_order);
	assert_int_equal(calls.last, N);
	assert_int_equal(calls.n, N);
	for (int i = 0; i < N - 1; i++)
		assert_int_equal(out[i].rc, TW_OK);
	assert_int_equal(out[N - 1].result, PKI_FAILURE_REQUEST_NOT_ACCEPTED);
	counts(e, &r1, &c1);
	assert_int_equal(r1, r0 + N - 1);
	assert_int_equal(c1, c0 + 3 * (N - 1));
	assert_true(st.sign_us > 0 && st.store_us > 0);
	for (int i = 0; i < N - 1; i++)
		free(paths[i]);
	free(out);
}

/* Admin-log entries after seq `from`: refusals and issuances. */
struct audit_counts {
	int64_t from;
	int refused, issued;
};

static int count_audit(const struct store_audit_row *row, void *arg)
{
	struct audit_counts *a = arg;

	if (row->seq <= a->from)
		return 0;
	a->refused += strcmp(row->action, "ca.request.refuse") == 0;
	a->issued += strcmp(row->action, "ca.issue") == 0;
	return 0;
}

/*
 * Verifying threads ahead of the store thread, small flights to the signer and several
 * flights per store transaction: every outcome still belongs to its own file, in order;
 * rejections anywhere in the run are refused and audited by the store thread; a replay of
 * a request that is signed but not yet committed (gathered for the next transaction) and
 * of one still with the signer is refused, not issued twice (nor does it fail the batch
 * that holds the first copy); nothing but the good requests is stored.
 */
static void test_issue_threaded_mixed(void **state)
{
	struct env *e = *state;
	enum { N = CA_BATCH_MAX + 6 };
	struct ca_issue_outcome *out = calloc(N, sizeof(*out));
	const char *files[N];
	char *paths[N], *p256, *trunc, *missing;
	struct audit_counts ac = { 0, 0, 0 };
	struct store_audit_row last;
	struct audit_verify_result vr;
	struct tw_error err;
	unsigned char *der = NULL;
	size_t len = 0;
	bool found = false;
	int r0, c0, r1, c1, good = 0;

	assert_non_null(out);
	register_emt(e, "mix-p", "MIX.EMT.T", "9900000000033");
	for (int i = 0; i < N; i++) {
		paths[i] = make_request(e, "MIX.EMT.T", "9900000000033", NID_brainpoolP256r1);
		files[i] = paths[i];
	}
	p256 = make_request(e, "MIX.EMT.T", "9900000000033", NID_X9_62_prime256v1);
	assert_rc(tw_read_file(paths[0], 1 << 20, &der, &len, &err), TW_OK);
	trunc = tw_asprintf("%s/trunc-mix.der", e->dir);
	missing = tw_asprintf("%s/no-such-request.der", e->dir);
	assert_rc(tw_write_file(trunc, der, len - 20, 0600, false, &err), TW_OK);
	free(der);
	files[5] = p256;
	files[17] = trunc;
	files[23] = missing;
	files[30] = paths[2];        /* signed by then, gathered, not yet committed */
	files[N - 1] = paths[N - 3]; /* still being prepared or with the signer */
	assert_rc(store_audit_last(e->store, &last, &found, &err), TW_OK);
	ac.from = found ? last.seq : 0;
	counts(e, &r0, &c0);
	assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, "mix-p", files, N, out, NULL,
		&err), TW_OK);
	for (int i = 0; i < N; i++) {
		assert_ptr_equal(out[i].file, files[i]);
		if (i == 5) {
			assert_int_equal(out[i].result, PKI_FAILURE_DOMAIN_PARAMETERS);
		} else if (i == 17) {
			assert_int_equal(out[i].result, PKI_FAILURE_SYNTAX);
		} else if (i == 23) {
			assert_int_equal(out[i].result, PKI_FAILURE_OTHER_ERROR);
		} else if (i == 30 || i == N - 1) {
			assert_int_equal(out[i].result, PKI_FAILURE_REQUEST_NOT_ACCEPTED);
		} else {
			assert_int_equal(out[i].rc, TW_OK);
			assert_int_equal(out[i].result, PKI_OK_CERT_AVAILABLE);
			assert_int_equal(out[i].n_certs, 3);
			assert_true(out[i].request_id > 0);
			good++;
			continue;
		}
		assert_int_not_equal(out[i].rc, TW_OK);
		assert_int_equal(out[i].request_id, 0);
	}
	assert_int_equal(good, N - 5);
	counts(e, &r1, &c1);
	assert_int_equal(r1, r0 + good);
	assert_int_equal(c1, c0 + 3 * good);
	/* Every refusal audited (an unreadable file is reported, not audited), every issue. */
	assert_rc(store_audit_foreach(e->store, ac.from + 1, count_audit, &ac, &err), TW_OK);
	assert_int_equal(ac.refused, 4);
	assert_int_equal(ac.issued, good);
	assert_rc(audit_verify(e->store, &vr, &err), TW_OK);
	assert_int_equal(vr.first_bad_seq, 0);
	for (int i = 0; i < N; i++)
		free(paths[i]);
	free(p256);
	free(trunc);
	free(missing);
	free(out);
}

/*
 * The revocation instant (seconds) of test_crl_streamed's entry i. Even entries walk
 * 1970-2280; each odd one is 1 to 23 hours after the entry before it, so the same day or
 * the next: the encoder keeps the last day's date and writes only the time of day when
 * the day repeats (crl.c), and a wrong day or time on such a neighbour fails below.
 */
static int64_t crl_test_instant(int i)
{
	int64_t base = 1 + (int64_t)(i - i % 2) * 377171;

	return i % 2 == 0 ? base : base + 3671 * (i % 23 + 1);
}

/* More entries than one signer frame holds: the streamed path, checked by OpenSSL. */
/* crl_generate_progress' callback: calls per phase, and the last signing count. */
struct crl_calls {
	int64_t reading, signing, last_done, last_total;
};

static void count_crl_progress(void *arg, const char *phase, int64_t done, int64_t total)
{
	struct crl_calls *c = arg;

	if (strncmp(phase, "reading", 7) == 0)
		c->reading++;
	else
		c->signing++;
	c->last_done = done;
	c->last_total = total;
}

static void test_crl_streamed(void **state)
{
	struct crl_calls calls = { 0, 0, 0, 0 };
	struct env *e = *state;
	struct tw_error err;
	struct crl_result res, res2;
	struct store_certificate row;
	unsigned char *der = NULL, blob[1] = { 0 };
	const unsigned char *p;
	size_t len = 0;
	X509_CRL *crl = NULL;
	X509 *ca = NULL;
	char path[160];
	const int n = 26000;
	bool changed;

	assert_rc(store_begin(e->store, &err), TW_OK);
	for (int i = 0; i < n; i++) {
		memset(&row, 0, sizeof(row));
		row.tenant_id = 1;
		snprintf(row.serial_hex, sizeof(row.serial_hex), "7f%030x", i);
		snprintf(row.issuer, sizeof(row.issuer), "%s", e->issuer);
		snprintf(row.subject, sizeof(row.subject), "CN=X");
		snprintf(row.owner_kind, sizeof(row.owner_kind), "emt");
		snprintf(row.owner_id, sizeof(row.owner_id), "x");
		snprintf(row.usage, sizeof(row.usage), "TLS");
		snprintf(row.status, sizeof(row.status), "valid");
		snprintf(row.fingerprint, sizeof(row.fingerprint), "%064x", i + 1);
		row.not_after = 4000000000LL;
		row.der = blob;
		row.der_len = 1;
		assert_rc(store_certificate_insert(e->store, &row, &err), TW_OK);
		/* Revocation dates from 1970 to 2280 in steps of about 4.4 days: leap days,
		 * the 2049/2050 switch from UTCTime to GeneralizedTime, 2100 (no leap day). */
		assert_rc(store_ca_cert_revoke(e->store, e->issuer, row.serial_hex, i % 6,
			crl_test_instant(i) * 1000, &changed, &err), TW_OK);
	}
	assert_rc(store_commit(e->store, &err), TW_OK);

	assert_rc(crl_generate_progress(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test",
		count_crl_progress, &calls, &res, &err), TW_OK);
	assert_true(res.der_len > 1024 * 1024);                         /* over one frame */
	assert_true(res.entries >= n);
	/* The progress display: every CRL_PROGRESS_ENTRIES entries read, every chunk signed. */
	assert_int_equal(calls.reading, res.entries / CRL_PROGRESS_ENTRIES);
	assert_true(calls.signing >= 2);
	assert_int_equal(calls.last_done, calls.signing);
	assert_int_equal(calls.last_total, calls.signing);
	assert_rc(tw_read_file(res.path, 64 << 20, &der, &len, &err), TW_OK);
	p = der;
	crl = d2i_X509_CRL(NULL, &p, (long)len);
	assert_non_null(crl);
	assert_ptr_equal(p, der + len);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), (int)res.entries);
	/* Every revocationDate says the stored instant, in the type RFC 5280 asks for. */
	for (int i = 0; i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), i);
		const ASN1_TIME *t = X509_REVOKED_get0_revocationDate(r);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL);
		char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
		unsigned long idx;
		time_t want;
		struct tm got, exp;

		assert_non_null(hex);
		BN_free(bn);
		/* This test's serials are 7f + 30 hex digits of the index; others (revoked by
		 * earlier tests, today) are skipped. */
		if (strlen(hex) != 32 || strncmp(hex, "7F", 2) != 0) {
			OPENSSL_free(hex);
			continue;
		}
		idx = strtoul(hex + 24, NULL, 16);
		OPENSSL_free(hex);
		want = (time_t)crl_test_instant((int)idx);
		assert_non_null(gmtime_r(&want, &exp));
		assert_int_equal(ASN1_TIME_to_tm(t, &got), 1);
		assert_int_equal(got.tm_year, exp.tm_year);
		assert_int_equal(got.tm_mon, exp.tm_mon);
		assert_int_equal(got.tm_mday, exp.tm_mday);
		assert_int_equal(got.tm_hour, exp.tm_hour);
		assert_int_equal(got.tm_min, exp.tm_min);
		assert_int_equal(got.tm_sec, exp.tm_sec);
		assert_int_equal(ASN1_STRING_type(t), exp.tm_year + 1900 < 2050 ?
			V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);
	}
	snprintf(path, sizeof(path), "%s/%s", e->dir, TW_HOME_SUBCA_CERT);
	assert_rc(keys_read_cert_pem(path, &ca, &err), TW_OK);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)), 0);

	/* The next CRL has the next number. */
	assert_rc(crl_generate(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res2, &err),
		TW_OK);
	assert_int_equal(res2.number, res.number + 1);
	/* No delta CRL unless the CA is configured for one (delta_crl = yes). */
	assert_rc(crl_generate_delta(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res2,
		&err), TW_E_CONFIG);
	assert_non_null(strstr(err.message, "delta_crl = yes"));
	X509_CRL_free(crl);
	X509_free(ca);
	free(der);
}

/*
 * A serial the encoder refuses, early in a scan of more rows than the batches between
 * the store's reading thread and the encoder hold (crl.c, crl_scan): the reader is then
 * waiting for room when the encoder stops, and must end too (else this test hangs); the
 * encoder's error is the one reported, the published CRL and its number stay, and no
 * temporary file is left beside it. Runs after test_crl_streamed (its 26,000 revoked
 * rows of this CA).
 */
static void test_crl_bad_serial_stops_scan(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct crl_result res;
	struct store_ca_crl before, after;
	bool found = false;
	char good[STORE_ID_MAX + 1], dir[160], cmd[256];
	struct db *d = store_db(e->store, &err);
	struct db_stmt *st = NULL;
	bool row = false;
	int64_t n = 0;

	assert_non_null(d);
	assert_rc(db_fetch(d, "SELECT count(*) FROM certificates WHERE issuer = ?1 AND "
		"status = 'revoked'", &st, &row, "counting", &err, "t", e->issuer), TW_OK);
	assert_true(row);
	n = db_column_int64(st, 0);
	db_done(d, st);
	assert_true(n > 5 * 4096);
	assert_rc(store_ca_crl_get(e->store, CA_DEFAULT_NAME, &before, &found, &err), TW_OK);
	assert_true(found);
	/* The second of the streamed test's rows gets a serial that is not hexadecimal. */
	snprintf(good, sizeof(good), "7f%030x", 1);
	assert_rc(db_run(d, "UPDATE certificates SET serial_hex = 'zz' || substr(serial_hex, 3) "
		"WHERE serial_hex = ?1", NULL, "breaking a serial", &err, "t", good), TW_OK);
	assert_rc(crl_generate(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res, &err),
		TW_E_INTEGRITY);
	assert_non_null(strstr(err.message, "not hexadecimal"));
	assert_rc(store_ca_crl_get(e->store, CA_DEFAULT_NAME, &after, &found, &err), TW_OK);
	assert_int_equal(after.number, before.number);
	assert_string_equal(after.sha256, before.sha256);
	snprintf(dir, sizeof(dir), "%s", before.path);
	assert_non_null(strrchr(dir, '/'));
	*strrchr(dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "! ls -a '%s' | grep -q '\\.tmp\\.'", dir);
	assert_int_equal(system(cmd), 0);
	/* Mended: the next CRL is made again. */
	assert_rc(db_run(d, "UPDATE certificates SET serial_hex = ?1 WHERE serial_hex = "
		"'zz' || substr(?1, 3)", NULL, "mending the serial", &err, "t", good), TW_OK);
	assert_rc(crl_generate(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res, &err),
		TW_OK);
	assert_int_equal(res.entries, n);
}

/* Create path (a few bytes) with the given mtime (0: now). */
static void plant(const char *path, time_t mtime)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs("half a CRL", f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	if (mtime != 0) {
		struct timespec t[2] = { { mtime, 0 }, { mtime, 0 } };

		assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
	}
}

/* The idle children of test_crl_stale_tmp, killed by its teardown also after a failure. */
static pid_t idle_children[2];

/*
 * A child that waits to be killed: a running process with a pid of its own. It keeps no
 * descriptor of the test process (the signer's socket among them: the signer would not
 * see it close, and the test's teardown waits for the signer), dies with the test
 * process, and is recorded in idle_children[slot].
 */
static pid_t idle_child(int slot)
{
	pid_t parent = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(0);
		if (null >= 0) {
			(void)dup2(null, STDIN_FILENO);
			(void)dup2(null, STDOUT_FILENO);
			(void)dup2(null, STDERR_FILENO);
		}
		(void)close_range(3, ~0U, 0);
		pause();
		_exit(0);
	}
	idle_children[slot] = pid;
	return pid;
}

static int kill_idle_children(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(idle_children) / sizeof(idle_children[0]); i++) {
		if (idle_children[i] > 0) {
			kill(idle_children[i], SIGKILL);
			(void)waitpid(idle_children[i], NULL, 0);
		}
		idle_children[i] = 0;
	}
	return 0;
}

/*
 * Temporary files that crashed CRL writers left ("<crl>.tmp.<pid>"): the next CRL run
 * removes the one of a pid that runs no process and the one whose pid now belongs to a
 * process started after the file was written (a reused pid); it keeps the file of a pid
 * that runs and may be writing it, another CRL's file, and a name that is not
 * "<crl>.tmp.<digits>". Runs after the CRL tests above (the CA has its CRL file).
 */
static void test_crl_stale_tmp(void **state)
{
	struct env *e = *state;
	struct tw_error err;
	struct crl_result res;
	struct store_ca_crl meta;
	bool found = false;
	char dir[160], dead[256], live[256], reused[256], other[256], odd[256];
	pid_t gone, running, later;
	int status;

	assert_rc(store_ca_crl_get(e->store, CA_DEFAULT_NAME, &meta, &found, &err), TW_OK);
	assert_true(found);
	snprintf(dir, sizeof(dir), "%s", meta.path);
	assert_non_null(strrchr(dir, '/'));
	*strrchr(dir, '/') = '\0';
	/* A writer that is gone: a child that exited and was reaped. */
	gone = fork();
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, &status, 0), gone);
	running = idle_child(0);
	later = idle_child(1);
	snprintf(dead, sizeof(dead), "%s.tmp.%ld", meta.path, (long)gone);
	snprintf(live, sizeof(live), "%s.tmp.%ld", meta.path, (long)running);
	/* Written an hour before the process holding its pid started. */
	snprintf(reused, sizeof(reused), "%s.tmp.%ld", meta.path, (long)later);
	snprintf(other, sizeof(other), "%s/root-ca.crl.tmp.%ld", dir, (long)gone);
	snprintf(odd, sizeof(odd), "%s.tmp.%ldx", meta.path, (long)gone);
	plant(dead, 0);
	plant(live, 0);
	plant(reused, time(NULL) - 3600);
	plant(other, 0);
	plant(odd, 0);

	assert_rc(crl_generate(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res, &err),
		TW_OK);
	assert_int_equal(res.stale_tmp_removed, 2);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(reused, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	assert_int_equal(access(odd, F_OK), 0);
	/* The next run finds nothing more to remove while the writer still runs. */
	assert_rc(crl_generate(e->home, e->store, e->sc, CA_DEFAULT_NAME, "test", &res, &err),
		TW_OK);
	assert_int_equal(res.stale_tmp_removed, 0);
	assert_int_equal(access(live, F_OK), 0);

	kill_idle_children(NULL);
	unlink(live);
	unlink(other);
	unlink(odd);
}

/*
 * Issue 11, section 6: a TLS request asking for several DNS names gets all of them (the
 * engine certified only the first), notAfter is 23:59:59 UTC of the same calendar day two
 * years on (the real SM-PKI rule), and the CRL distribution point is the URL the api
 * serves for this CA (no [ca.sub-ca] crl_url: derived from the default [api] listen).
 */
static void test_issue_several_dns(void **state)
{
	struct env *e = *state;
	struct ca_issue_outcome out[1];
	struct store_ca_cert row;
	struct reqgen_params p;
	struct tw_error err;
	unsigned char *der = NULL;
	const unsigned char *q;
	const char *files[1];
	size_t len = 0;
	char *path;
	int dns = 0, tls = -1;

	register_emt(e, "dns-p", "DNS.EMT.T", "9900000000012");
	memset(&p, 0, sizeof(p));
	p.subject.common_name = "DNS.EMT.T";
	p.subject.org_unit = "9900000000012";
	p.subject.dns_name = "a.dns.example";
	p.extra_dns[0] = "b.dns.example";
	p.extra_dns[1] = "c.dns.example";
	p.n_extra_dns = 2;
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC; u++)
		assert_rc(keys_generate_ec(NID_brainpoolP256r1, &p.keys[u], &err), TW_OK);
	assert_rc(reqgen_build(&p, false, &der, &len, &err), TW_OK);
	path = tw_asprintf("%s/dns.der", e->dir);
	assert_non_null(path);
	assert_rc(tw_write_file(path, der, len, 0600, false, &err), TW_OK);
	free(der);
	der = NULL;
	for (int u = PKI_USAGE_TLS; u <= PKI_USAGE_ENC; u++)
		EVP_PKEY_free(p.keys[u]);
	files[0] = path;
	assert_rc(ca_issue_files(e->home, e->store, e->sc, &who, NULL, files, 1, out, NULL, &err),
		TW_OK);
	assert_int_equal(out[0].result, PKI_OK_CERT_AVAILABLE);
	for (size_t i = 0; i < out[0].n_certs; i++) {
		X509 *x;
		GENERAL_NAMES *san;
		CRL_DIST_POINTS *cdp;
		const ASN1_TIME *na;
		struct tm tm;

		memset(&row, 0, sizeof(row));
		assert_rc(store_ca_cert_get(e->store, e->issuer, out[0].serials[i], true, &row,
			&err), TW_OK);
		q = row.der;
		x = d2i_X509(NULL, &q, (long)row.der_len);
		assert_non_null(x);
		san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
		for (int k = 0; san != NULL && k < sk_GENERAL_NAME_num(san); k++)
			if (sk_GENERAL_NAME_value(san, k)->type == GEN_DNS) {
				dns++;
				tls = (int)i;
			}
		GENERAL_NAMES_free(san);
		/* 730 days: the same calendar day two years on, 23:59:59 UTC. */
		na = X509_get0_notAfter(x);
		assert_int_equal(ASN1_TIME_to_tm(na, &tm), 1);
		assert_int_equal(tm.tm_hour, 23);
		assert_int_equal(tm.tm_min, 59);
		assert_int_equal(tm.tm_sec, 59);
		{
			struct tm nb;

			assert_int_equal(ASN1_TIME_to_tm(X509_get0_notBefore(x), &nb), 1);
			if (!(nb.tm_mon == 1 && nb.tm_mday == 29)) {
				assert_int_equal(tm.tm_year, nb.tm_year + 2);
				assert_int_equal(tm.tm_mon, nb.tm_mon);
				assert_int_equal(tm.tm_mday, nb.tm_mday);
			}
		}
		cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, NULL, NULL);
		assert_non_null(cdp);
		{
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(
				sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname, 0);

			assert_int_equal(gn->type, GEN_URI);
			assert_string_equal((const char *)ASN1_STRING_get0_data(
				gn->d.uniformResourceIdentifier), "http://127.0.0.1:7080/crl/sub-ca.crl");
		}
		CRL_DIST_POINTS_free(cdp);
		X509_free(x);
		store_ca_cert_clear(&row);
	}
	assert_true(tls >= 0);
	assert_int_equal(dns, 3);   /* all three names, only on the TLS certificate */
	free(path);
}

/* touch DIR/NAME as a regular file */
static void reqdir_touch(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs("x", f);
	fclose(f);
}

static const struct ca_reqdir_note *reqdir_note(const struct ca_reqdir *d, const char *name)
{
	for (size_t i = 0; i < d->nnotes; i++)
		if (strcmp(d->notes[i].name, name) == 0)
			return &d->notes[i];
	return NULL;
}

/*
 * ca_reqdir_list (ca issue --request-dir): regular *.der files in byte order; hidden files
 * ignored; symlinks, directories, fifos and unprintable names ending in .der refused
 * unread; other entries skipped; the cap refused before anything is listed as a request;
 * an empty, a missing and a non-directory path each a typed error.
 */
static void test_reqdir_rules(void **state)
{
	struct tw_error err;
	struct ca_reqdir d;
	char dir[64], sub[128], p[256], q[256];
	const struct ca_reqdir_note *n;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/torwart-reqdir-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* empty (a hidden file does not count) */
	reqdir_touch(dir, ".partial.der");
	assert_rc(ca_reqdir_list(dir, CA_REQDIR_MAX, &d, &err), TW_E_NOT_FOUND);
	assert_non_null(strstr(err.message, "no request file"));
	ca_reqdir_free(&d);
	/* "B" < "a" < "b" < "b0" in byte order; readdir order is the file system's */
	reqdir_touch(dir, "b.der");
	reqdir_touch(dir, "a.der");
	reqdir_touch(dir, "B.der");
	reqdir_touch(dir, "b0.der");
	reqdir_touch(dir, "notes.txt");
	reqdir_touch(dir, "UPPER.DER");
	reqdir_touch(dir, "ctl\x1b[2Jx.der");
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	reqdir_touch(sub, "deep.der");   /* below DIR: never looked at */
	snprintf(sub, sizeof(sub), "%s/dir.der", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(p, sizeof(p), "%s/link.der", dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	snprintf(p, sizeof(p), "%s/fifo.der", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_rc(ca_reqdir_list(dir, CA_REQDIR_MAX, &d, &err), TW_OK);
	assert_int_equal(d.n, 4);
	snprintf(q, sizeof(q), "%s/B.der", dir);
	assert_string_equal(d.files[0], q);
	snprintf(q, sizeof(q), "%s/a.der", dir);
	assert_string_equal(d.files[1], q);
	snprintf(q, sizeof(q), "%s/b.der", dir);
	assert_string_equal(d.files[2], q);
	snprintf(q, sizeof(q), "%s/b0.der", dir);
	assert_string_equal(d.files[3], q);
	assert_int_equal(d.refused, 4);   /* ctl..., dir.der, link.der, fifo.der */
	assert_int_equal(d.skipped, 3);   /* notes.txt, UPPER.DER, sub */
	assert_int_equal(d.nnotes, 7);
	assert_non_null(n = reqdir_note(&d, "ctl\\x1b[2Jx.der"));   /* escaped, never raw */
	assert_int_equal(n->kind, CA_REQDIR_REFUSED);
	for (size_t i = 0; i < d.nnotes; i++)
		assert_null(strchr(d.notes[i].name, 0x1b));
	assert_non_null(n = reqdir_note(&d, "link.der"));
	assert_int_equal(n->kind, CA_REQDIR_REFUSED);
	assert_non_null(strstr(n->why, "symbolic link"));
	assert_non_null(n = reqdir_note(&d, "fifo.der"));
	assert_int_equal(n->kind, CA_REQDIR_REFUSED);
	assert_non_null(n = reqdir_note(&d, "dir.der"));
	assert_int_equal(n->kind, CA_REQDIR_REFUSED);
	assert_non_null(n = reqdir_note(&d, "sub"));
	assert_int_equal(n->kind, CA_REQDIR_SKIPPED);
	assert_non_null(n = reqdir_note(&d, "UPPER.DER"));
	assert_int_equal(n->kind, CA_REQDIR_SKIPPED);
	assert_null(reqdir_note(&d, ".partial.der"));
	ca_reqdir_free(&d);
	/* the cap counts every *.der entry, refused ones too: 8 > 7 */
	assert_rc(ca_reqdir_list(dir, 7, &d, &err), TW_E_TOO_LARGE);
	assert_non_null(strstr(err.message, "more than 7 request files"));
	ca_reqdir_free(&d);
	assert_rc(ca_reqdir_list(dir, 8, &d, &err), TW_OK);
	ca_reqdir_free(&d);
	/* missing; a file instead of a directory */
	snprintf(p, sizeof(p), "%s/missing", dir);
	assert_rc(ca_reqdir_list(p, CA_REQDIR_MAX, &d, &err), TW_E_NOT_FOUND);
	ca_reqdir_free(&d);
	snprintf(p, sizeof(p), "%s/a.der", dir);
	assert_rc(ca_reqdir_list(p, CA_REQDIR_MAX, &d, &err), TW_E_INVALID);
	ca_reqdir_free(&d);
	assert_rc(ca_reqdir_list("", CA_REQDIR_MAX, &d, &err), TW_E_INVALID);
	ca_reqdir_free(&d);
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reason_and_serial),
		cmocka_unit_test(test_store_rules),
		cmocka_unit_test(test_issue_and_bad_requests),
		cmocka_unit_test(test_issue_buffer_caller_bound),
		cmocka_unit_test(test_issue_pipelined),
		cmocka_unit_test(test_issue_threaded_mixed),
		cmocka_unit_test(test_crl_streamed),
		cmocka_unit_test(test_crl_bad_serial_stops_scan),
		cmocka_unit_test_teardown(test_crl_stale_tmp, kill_idle_children),
		cmocka_unit_test(test_issue_several_dns),
		cmocka_unit_test(test_reqdir_rules),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
