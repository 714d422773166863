/*
 * test_auth.c: the auth module: roles and exclusions, scrypt passwords, TOTP against the
 * RFC 6238 test vectors, session tokens, the request parser, login throttling, sessions,
 * four-eyes approvals, and the policy matrix: every service-layer operation as every
 * role and against a foreign tenant, expecting TW_E_DENIED exactly where the policy
 * (written out independently below) says so, each denial logged. Also: TOTP keys sealed
 * at rest (and plain rows of older homes resealed on first use), and a disabled
 * operator's certificate revoked in the certificates table that the operator CRL is
 * generated from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "auth/approval.h"
#include "auth/auth.h"
#include "auth/cred.h"
#include "auth/opca.h"
#include "auth/request.h"
#include "auth/service.h"
#include "auth/session.h"
#include "base/util.h"
#include "crypto/keys.h"
#include "crypto/secretbox.h"
#include "store/store_auth.h"
#include "store/store_ca.h"

struct fx {
	char dir[64];
	struct tw_store *st;
	struct auth_settings s;
	int64_t tenant_a, tenant_b;
	EVP_PKEY *key;
	struct secretbox *box;
	int seq;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char path[128];
	struct tw_error err;

	snprintf(f->dir, sizeof(f->dir), "/tmp/test-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/store.db", f->dir);
	assert_int_equal(store_open(path, &f->st, &err), TW_OK);
	assert_int_equal(store_migrate(f->st, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "tenant-a", &f->tenant_a, &err), TW_OK);
	assert_int_equal(store_tenant_ensure(f->st, "tenant-b", &f->tenant_b, &err), TW_OK);
	assert_int_equal(auth_settings_load(NULL, &f->s, &err), TW_OK);
	assert_int_equal(keys_generate_ec(NID_brainpoolP256r1, &f->key, &err), TW_OK);
	{
		static const unsigned char data_key[32] = { 7, 1, 2, 3 };

		assert_int_equal(secretbox_from_key(data_key, &f->box, &err), TW_OK);
	}
	auth_actions_register_builtin();
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	store_close(f->st);
	EVP_PKEY_free(f->key);
	secretbox_free(f->box);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* An operator row with a password (scrypt N = 2^10 to keep the test fast). */
static int64_t fx_operator(struct fx *f, const char *name, int64_t tenant, uint32_t roles,
	const char *password)
{
	struct store_operator op;
	struct tw_error err;
	int64_t id = 0;

	memset(&op, 0, sizeof(op));
	op.tenant_id = tenant;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.roles = roles;
	snprintf(op.status, sizeof(op.status), "enabled");
	snprintf(op.factor, sizeof(op.factor), "password");
	assert_int_equal(auth_password_hash(password, strlen(password), 10, op.secret,
		sizeof(op.secret), &err), TW_OK);
	/* A fake fingerprint derived from the name: the store only needs 64 hex digits. */
	{
		unsigned char h[32];
		unsigned int n = 0;

		EVP_Digest(name, strlen(name), h, &n, EVP_sha256(), NULL);
		tw_hex_encode(h, 32, op.cert_fingerprint);
	}
	snprintf(op.cert_serial, sizeof(op.cert_serial), "01");
	op.cert_not_after = tw_now_ms() / 1000 + 86400;
	snprintf(op.cert_status, sizeof(op.cert_status), "valid");
	snprintf(op.created_by, sizeof(op.created_by), "test");
	op.created_ms = tw_now_ms();
	assert_int_equal(store_operator_insert(f->st, &op, &id, &err), TW_OK);
	return id;
}

static void fx_principal(struct fx *f, struct auth_principal *p, const char *name)
{
	struct store_operator op;
	struct tw_error err;

	assert_int_equal(store_operator_get_by_name(f->st, name, &op, &err), TW_OK);
	memset(p, 0, sizeof(*p));
	p->operator_id = op.id;
	p->tenant_id = op.tenant_id;
	p->roles = op.roles;
	snprintf(p->name, sizeof(p->name), "%s", op.name);
	snprintf(p->tenant, sizeof(p->tenant), "%s", op.tenant);
	snprintf(p->client, sizeof(p->client), "test");
}

static int count_cb(const struct store_audit_row *row, void *arg)
{
	if (strcmp(row->action, "auth.denied") == 0 || strcmp(row->result, "refused") == 0)
		(*(int *)arg)++;
	return 0;
}

static int refusals(struct fx *f)
{
	struct tw_error err;
	int n = 0;

	assert_int_equal(store_audit_foreach(f->st, 1, count_cb, &n, &err), TW_OK);
	return n;
}

/* ---- pure functions ---- */

static void test_roles_and_exclusions(void **state)
{
	struct auth_exclusions ex;
	struct tw_error err;
	uint32_t roles = 0;
	char buf[256];

	(void)state;
	assert_int_equal(auth_roles_parse("approver, auditor", &roles, &err), TW_OK);
	assert_int_equal(roles, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER) | AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR));
	auth_roles_format(roles, buf, sizeof(buf));
	assert_string_equal(buf, "approver,auditor");
	assert_int_equal(auth_roles_parse("root", &roles, &err), TW_E_INVALID);
	assert_int_equal(auth_roles_parse("", &roles, &err), TW_OK);
	assert_int_equal(roles, 0);
	assert_int_equal(auth_exclusions_parse(AUTH_DEFAULT_EXCLUSIONS, &ex, &err), TW_OK);
	/* The auditor is read only: with any write role it is refused, alone it is fine. */
	assert_int_equal(auth_exclusions_check(&ex, AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR), &err), TW_OK);
	for (int r = 0; r < AUTH_ROLE__COUNT; r++) {
		if (r == AUTH_ROLE_AUDITOR)
			continue;
		assert_int_equal(auth_exclusions_check(&ex, AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR) |
			AUTH_ROLE_BIT(r), &err), TW_E_DENIED);
		assert_int_equal(auth_exclusions_check(&ex, AUTH_ROLE_BIT(r), &err), TW_OK);
	}
	assert_int_equal(auth_exclusions_check(&ex, AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER) |
		AUTH_ROLE_BIT(AUTH_ROLE_CA_OPERATOR), &err), TW_E_DENIED);
	assert_int_equal(auth_exclusions_check(&ex, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER) |
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), &err), TW_OK);
	assert_int_equal(auth_exclusions_parse("auditor", &ex, &err), TW_E_CONFIG);
	assert_int_equal(auth_exclusions_parse("auditor+king", &ex, &err), TW_E_CONFIG);
}

static void test_four_eyes_policy(void **state)
{
	struct fx *f = *state;

	assert_true(auth_four_eyes_required(&f->s, "operator.role", 0));
	assert_true(auth_four_eyes_required(&f->s, "ca.key.activate", 0));
	/* issue 13: a downgrade is its own four-eyes action, not covered by a release. */
	assert_true(auth_four_eyes_required(&f->s, "firmware.downgrade", 0));
	assert_true(auth_four_eyes_required(&f->s, "break-glass", 0));
	assert_false(auth_four_eyes_required(&f->s, "fleet.order", 100));
	assert_true(auth_four_eyes_required(&f->s, "fleet.order", 101));
	assert_false(auth_four_eyes_required(&f->s, "gateway.list", 0));
}

static void test_password(void **state)
{
	char rec[AUTH_SCRYPT_RECORD_MAX];
	struct tw_error err;

	(void)state;
	assert_int_equal(auth_password_hash("correct horse battery", 21, 10, rec, sizeof(rec),
		&err), TW_OK);
	assert_int_equal(strncmp(rec, "scrypt$10$8$1$", 14), 0);
	assert_int_equal(auth_password_verify("correct horse battery", 21, rec, &err), TW_OK);
	assert_int_equal(auth_password_verify("correct horse batterx", 21, rec, &err), TW_E_DENIED);
	assert_int_equal(auth_password_hash("short", 5, 10, rec, sizeof(rec), &err), TW_E_INVALID);
	assert_int_equal(auth_password_verify("x", 1, "scrypt$99$8$1$00$00", &err), TW_E_INTEGRITY);
	assert_int_equal(auth_password_verify("x", 1, "plain", &err), TW_E_INTEGRITY);
}

static void test_totp_rfc6238(void **state)
{
	/* RFC 6238 appendix B, SHA-1 key "12345678901234567890". */
	static const struct { uint64_t t; uint32_t code; } v[] = {
		{ 59, 94287082 }, { 1111111109, 7081804 }, { 1111111111, 14050471 },
		{ 1234567890, 89005924 }, { 2000000000, 69279037 }, { 20000000000ULL, 65353130 },
	};
	const char *key = "12345678901234567890";
	char b32[64], code[8];
	struct tw_error err;
	int64_t step = 0;
	uint32_t got = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(auth_hotp((const unsigned char *)key, 20, v[i].t / 30, 8, &got,
			&err), TW_OK);
		assert_int_equal(got, v[i].code);
	}
	auth_base32_encode((const unsigned char *)key, 20, b32, sizeof(b32));
	assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	assert_int_equal(auth_totp_verify(b32, "287082", 59, &step, &err), TW_OK);
	assert_int_equal(step, 1);
	assert_int_equal(auth_totp_verify(b32, "287082", 59 + 30, &step, &err), TW_OK);   /* skew */
	assert_int_equal(auth_totp_verify(b32, "287082", 59 + 90, &step, &err), TW_E_DENIED);
	assert_int_equal(auth_totp_verify(b32, "28708", 59, &step, &err), TW_E_INVALID);
	assert_int_equal(auth_totp_verify(b32, "28708a", 59, &step, &err), TW_E_INVALID);
	snprintf(code, sizeof(code), "%06u", 0u);
	assert_int_equal(auth_totp_verify("!!", code, 59, &step, &err), TW_E_INTEGRITY);
}

static void test_token(void **state)
{
	struct auth_token a, b;
	char text[AUTH_TOKEN_LEN + 1], bad[AUTH_TOKEN_LEN + 1];
	struct tw_error err;

	(void)state;
	assert_int_equal(auth_token_new(&a, text, &err), TW_OK);
	assert_int_equal(strlen(text), AUTH_TOKEN_LEN);
	assert_int_equal(auth_token_parse(text, strlen(text), &b, &err), TW_OK);
	assert_string_equal(a.id, b.id);
	assert_memory_equal(a.secret, b.secret, 32);
	memcpy(bad, text, sizeof(bad));
	bad[10] = 'G';
	assert_int_equal(auth_token_parse(bad, strlen(bad), &b, &err), TW_E_INVALID);
	memcpy(bad, text, sizeof(bad));
	bad[36] = '.';
	assert_int_equal(auth_token_parse(bad, strlen(bad), &b, &err), TW_E_INVALID);
	assert_int_equal(auth_token_parse(text, strlen(text) - 1, &b, &err), TW_E_INVALID);
	assert_int_equal(auth_token_parse("", 0, &b, &err), TW_E_INVALID);
	assert_int_equal(auth_bearer_parse("Basic abc", &b, &err), TW_E_INVALID);
}

static void test_request_parser(void **state)
{
	char a[8], b[8];
	struct auth_field f[] = {
		{ "a", a, sizeof(a), true, false, 0 },
		{ "b", b, sizeof(b), false, false, 0 },
	};
	struct tw_error err;

	(void)state;
#define P(s) auth_request_parse((s), strlen(s), f, 2, &err)
	assert_int_equal(P("{\"a\":\"x\"}"), TW_OK);
	assert_true(f[0].present && !f[1].present);
	assert_string_equal(a, "x");
	assert_int_equal(P("{\"b\":\"x\"}"), TW_E_INVALID);           /* a missing */
	assert_int_equal(P("{\"a\":\"x\",\"c\":\"y\"}"), TW_E_INVALID); /* unknown */
	assert_int_equal(P("{\"a\":1}"), TW_E_INVALID);
	assert_int_equal(P("{\"a\":\"12345678\"}"), TW_E_TOO_LARGE);
	assert_int_equal(P("{\"a\":\"x\",\"a\":\"y\"}"), TW_E_INVALID); /* duplicate */
	assert_int_equal(P("{\"a\":\"x\\u0000y\"}"), TW_E_INVALID);
	assert_int_equal(P("[]"), TW_E_INVALID);
	assert_int_equal(P("{"), TW_E_INVALID);
#undef P
}

/* ---- sessions ---- */

static void test_login_sessions_throttle(void **state)
{
	struct fx *f = *state;
	struct auth_login_input in;
	struct auth_principal p, q;
	struct store_operator op;
	struct tw_error err;
	char token[AUTH_TOKEN_LEN + 1], forged[AUTH_TOKEN_LEN + 1];
	int64_t exp = 0, now = tw_now_ms();

	fx_operator(f, "sam", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR), "sam-password-1234");
	assert_int_equal(store_operator_get_by_name(f->st, "sam", &op, &err), TW_OK);
	memset(&in, 0, sizeof(in));
	in.cert_fingerprint = op.cert_fingerprint;
	in.client = "10.0.0.1:1";
	in.password = "sam-password-1234";
	in.password_len = strlen(in.password);
	assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_OK);
	assert_string_equal(p.name, "sam");
	assert_true(exp > now);
	assert_int_equal(auth_session_check(f->st, token, strlen(token), op.cert_fingerprint,
		"c", 0, &q, &err), TW_OK);
	assert_int_equal(q.roles, AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR));
	/* Bound to the certificate, expires, forged secret refused. */
	assert_int_equal(auth_session_check(f->st, token, strlen(token),
		"0000000000000000000000000000000000000000000000000000000000000000", "c", 0, &q, &err),
		TW_E_DENIED);
	assert_int_equal(auth_session_check(f->st, token, strlen(token), op.cert_fingerprint,
		"c", exp + 1, &q, &err), TW_E_DENIED);
	memcpy(forged, token, sizeof(forged));
	forged[50] = forged[50] == 'a' ? 'b' : 'a';
	assert_int_equal(auth_session_check(f->st, forged, strlen(forged), op.cert_fingerprint,
		"c", 0, &q, &err), TW_E_DENIED);
	/* Logout revokes. */
	assert_int_equal(auth_session_logout(f->st, &p, &err), TW_OK);
	assert_int_equal(auth_session_check(f->st, token, strlen(token), op.cert_fingerprint,
		"c", 0, &q, &err), TW_E_DENIED);
	/* Unknown certificate. */
	in.cert_fingerprint = "1111111111111111111111111111111111111111111111111111111111111111";
	in.client = "10.0.0.9:1";
	assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_E_DENIED);
	/* Throttle: max_failures wrong passwords lock the operator even for the right one. */
	in.cert_fingerprint = op.cert_fingerprint;
	in.client = "10.0.0.2:1";
	in.password = "wrong-password-000";
	in.password_len = strlen(in.password);
	for (long i = 0; i < f->s.max_failures; i++)
		assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_E_DENIED);
	in.password = "sam-password-1234";
	in.password_len = strlen(in.password);
	in.client = "10.0.0.3:1";
	assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "too many"));
	/* After the window it works again. */
	in.now_ms = now + (f->s.failure_window_s + 1) * 1000;
	assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_OK);
	/* Disabled operators cannot log in. */
	assert_int_equal(store_operator_set_status(f->st, op.id, "disabled", "revoked", &err),
		TW_OK);
	in.now_ms = 0;
	in.client = "10.0.0.4:1";
	assert_int_equal(auth_login(f->st, &f->s, &in, &p, token, &exp, &err), TW_E_DENIED);
}

/* ---- four-eyes ---- */

static void test_four_eyes(void **state)
{
	struct fx *f = *state;
	struct auth_principal admin, appr, appr2;
	struct store_approval a;
	struct store_operator op;
	struct tw_error err;
	int64_t id = 0;
	int n = 0;

	fx_operator(f, "ta", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "ta-password-12345");
	fx_operator(f, "ap", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER), "ap-password-12345");
	fx_operator(f, "ap2", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER), "ap-password-12345");
	fx_operator(f, "gw", f->tenant_a, 0, "gw-password-12345");
	fx_principal(f, &admin, "ta");
	fx_principal(f, &appr, "ap");
	fx_principal(f, &appr2, "ap2");
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &admin, "gw",
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), "needs it", &id, &err), TW_OK);
	assert_true(id > 0);
	assert_int_equal(store_operator_get_by_name(f->st, "gw", &op, &err), TW_OK);
	assert_int_equal(op.roles, 0);   /* nothing before release */
	/* Requester, a foreign tenant's approver: refused. */
	assert_int_equal(auth_approval_decide(f->st, &f->s, &admin, id, true, "", NULL, &err),
		TW_E_DENIED);
	/* (Issue 9: the foreign approver is told there is no such request.) */
	assert_int_equal(auth_approval_decide(f->st, &f->s, &appr2, id, true, "", NULL, &err),
		TW_E_NOT_FOUND);
	assert_int_equal(auth_approval_decide(f->st, &f->s, &appr, id, true, "ok", &a, &err),
		TW_OK);
	assert_string_equal(a.state, "executed");
	assert_int_equal(store_operator_get_by_name(f->st, "gw", &op, &err), TW_OK);
	assert_int_equal(op.roles, AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR));
	assert_int_equal(auth_approval_decide(f->st, &f->s, &appr, id, true, "", NULL, &err),
		TW_E_EXISTS);
	/* A claim of the executed request (a released batch fetched once): only against
	 * the result read before; of two racing claims the second changes nothing. */
	{
		struct store_approval now;
		char seen[sizeof(a.result)];

		assert_int_equal(store_approval_get(f->st, id, &now, &err), TW_OK);
		snprintf(seen, sizeof(seen), "%s", now.result);
		assert_int_equal(auth_approval_claim(f->st, &admin, id, "not the result", "x",
			&err), TW_E_EXISTS);
		assert_int_equal(auth_approval_claim(f->st, &admin, id, seen, "claimed once",
			&err), TW_OK);
		assert_int_equal(auth_approval_claim(f->st, &admin, id, seen, "claimed twice",
			&err), TW_E_EXISTS);
		assert_int_equal(store_approval_get(f->st, id, &now, &err), TW_OK);
		assert_string_equal(now.result, "executed: claimed once");
	}
	/* Exclusion at request time; and at execution time. */
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &admin, "gw",
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR) | AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR), "x",
		&id, &err), TW_E_DENIED);
	/* Expiry. */
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &admin, "gw", 0, "drop", &id, &err),
		TW_OK);
	assert_int_equal(auth_approval_expire(f->st, tw_now_ms() + f->s.approval_ttl_s * 1000 + 1,
		&n, &err), TW_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_approval_get(f->st, id, &a, &err), TW_OK);
	assert_string_equal(a.state, "expired");
	assert_int_equal(auth_approval_decide(f->st, &f->s, &appr, id, true, "", NULL, &err),
		TW_E_EXISTS);
	/* Rejection. */
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &admin, "gw", 0, "drop", &id, &err),
		TW_OK);
	assert_int_equal(auth_approval_decide(f->st, &f->s, &appr, id, false, "no", &a, &err),
		TW_OK);
	assert_string_equal(a.state, "rejected");
	assert_int_equal(store_operator_get_by_name(f->st, "gw", &op, &err), TW_OK);
	assert_int_equal(op.roles, AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR));
	/* Break-glass cannot release. */
	{
		struct auth_principal bg;

		auth_principal_break_glass(&bg, "os:test", "local:1");
		assert_int_equal(auth_svc_operator_role(f->st, &f->s, &admin, "gw", 0, "drop", &id,
			&err), TW_OK);
		assert_int_equal(auth_approval_decide(f->st, &f->s, &bg, id, true, "", NULL, &err),
			TW_E_DENIED);
	}
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 }, &err), TW_OK);
}

/* ---- the policy matrix ---- */

static tw_rc soft_issue(void *arg, const char *name, const char *tenant, EVP_PKEY *pub,
	X509 **out, struct tw_error *err)
{
	X509 *x = X509_new();
	EVP_PKEY *key = arg;
	static long serial = 1000;

	(void)tenant;
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)name, -1, -1, 0);
	/* Issuer and serial as a CA would set them: the certificates table keys on both. */
	X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
		(const unsigned char *)"Test Operator CA", -1, -1, 0);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pub);
	X509_sign(x, key, EVP_sha256());
	*out = x;
	(void)err;
	return TW_OK;
}

enum mop { M_LIST, M_ADD, M_DISABLE, M_ROLE, M_AP_LIST, M_AP_SHOW, M_AP_DECIDE, M_GW_LIST,
	M__COUNT };

/* The policy as the documentation states it (docs/security.md), written independently
 * of src/auth/auth.c's table so that a change there must be a deliberate change here. */
static bool policy_allows(enum mop op, int role)
{
	switch (op) {
	case M_LIST:
		return role == AUTH_ROLE_SECURITY_OFFICER || role == AUTH_ROLE_TENANT_ADMIN ||
			role == AUTH_ROLE_SYSTEM_ADMIN || role == AUTH_ROLE_AUDITOR;
	case M_ADD: case M_DISABLE: case M_ROLE:
		return role == AUTH_ROLE_SECURITY_OFFICER || role == AUTH_ROLE_TENANT_ADMIN ||
			role == AUTH_ROLE_SYSTEM_ADMIN;
	case M_AP_LIST: case M_AP_SHOW:
		return role == AUTH_ROLE_APPROVER || role == AUTH_ROLE_AUDITOR ||
			role == AUTH_ROLE_SECURITY_OFFICER || role == AUTH_ROLE_TENANT_ADMIN ||
			role == AUTH_ROLE_SYSTEM_ADMIN;
	case M_AP_DECIDE:
		return role == AUTH_ROLE_APPROVER;
	case M_GW_LIST:
		return role == AUTH_ROLE_GATEWAY_OPERATOR || role == AUTH_ROLE_FIRMWARE_MANAGER ||
			role == AUTH_ROLE_AUDITOR || role == AUTH_ROLE_TENANT_ADMIN ||
			role == AUTH_ROLE_SYSTEM_ADMIN;
	default:
		return false;
	}
}

static int noop_op(const struct store_operator *o, void *a) { (void)o; (void)a; return 0; }
static int noop_ap(const struct store_approval *o, void *a) { (void)o; (void)a; return 0; }
static int noop_gw(const struct store_gateway *o, void *a) { (void)o; (void)a; return 0; }

/* Run op as p against an object of tenant `foreign ? B : A`. */
static tw_rc matrix_run(struct fx *f, enum mop op, const struct auth_principal *p,
	bool foreign, int64_t req_a, int64_t req_b)
{
	struct tw_error err;
	char name[32];
	int64_t id = 0;
	struct store_approval a;

	switch (op) {
	case M_LIST:
		return auth_svc_operator_list(f->st, p, noop_op, NULL, &err);
	case M_ADD: {
		struct auth_operator_new in = { 0 };
		struct auth_operator_added out;
		tw_rc rc;

		snprintf(name, sizeof(name), "new%d", f->seq++);
		in.name = name;
		in.tenant = foreign ? "tenant-b" : NULL;
		in.factor = "totp";
		in.public_key = f->key;
		in.issue = soft_issue;
		in.issue_arg = f->key;
		in.box = f->box;
		in.enrol = true;
		rc = auth_svc_operator_add(f->st, &f->s, p, &in, &out, &err);
		X509_free(out.cert);
		return rc;
	}
	case M_DISABLE:
		snprintf(name, sizeof(name), "victim%d", f->seq++);
		fx_operator(f, name, foreign ? f->tenant_b : f->tenant_a, 0, "victim-password-1");
		return auth_svc_operator_disable(f->st, p, name, "test", &err);
	case M_ROLE:
		return auth_svc_operator_role(f->st, &f->s, p, foreign ? "target-b" : "target-a",
			AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), "matrix", &id, &err);
	case M_AP_LIST:
		return auth_approval_list(f->st, p, NULL, noop_ap, NULL, &err);
	case M_AP_SHOW:
		return auth_approval_show(f->st, p, foreign ? req_b : req_a, &a, &err);
	case M_AP_DECIDE:
		return auth_approval_decide(f->st, &f->s, p, foreign ? req_b : req_a, false, "m",
			NULL, &err);
	case M_GW_LIST:
		return auth_svc_gateway_list(f->st, p, noop_gw, NULL, &err);
	default:
		return TW_E_INTERNAL;
	}
}

static void test_policy_matrix(void **state)
{
	struct fx *f = *state;
	struct auth_principal req_a, req_b;
	struct tw_error err;
	int denials = 0, checked = 0;

	fx_operator(f, "target-a", f->tenant_a, 0, "target-password-1");
	fx_operator(f, "target-b", f->tenant_b, 0, "target-password-1");
	fx_operator(f, "req-a", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "req-password-12");
	fx_operator(f, "req-b", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "req-password-12");
	fx_principal(f, &req_a, "req-a");
	fx_principal(f, &req_b, "req-b");
	for (int role = 0; role < AUTH_ROLE__COUNT; role++) {
		struct auth_principal p;
		char name[32];

		snprintf(name, sizeof(name), "actor-%d", role);
		fx_operator(f, name, f->tenant_a, AUTH_ROLE_BIT(role), "actor-password-1");
		fx_principal(f, &p, name);
		for (int op = 0; op < M__COUNT; op++) {
			for (int foreign = 0; foreign <= 1; foreign++) {
				int64_t ra = 0, rb = 0;
				bool tenant_bound = op == M_ADD || op == M_DISABLE || op == M_ROLE ||
					op == M_AP_SHOW || op == M_AP_DECIDE;
				bool expect_denied = !policy_allows(op, role) ||
					(foreign && tenant_bound);
				int before = refusals(f);
				tw_rc rc;

				/* Fresh pending requests in both tenants for show/decide. */
				assert_int_equal(auth_svc_operator_role(f->st, &f->s, &req_a, "target-a",
					0, "fixture", &ra, &err), TW_OK);
				assert_int_equal(auth_svc_operator_role(f->st, &f->s, &req_b, "target-b",
					0, "fixture", &rb, &err), TW_OK);
				rc = matrix_run(f, op, &p, foreign, ra, rb);
				/* Issue 9: another tenant's operator or request is a missing one. */
				bool hidden = foreign && policy_allows(op, role) && (op == M_DISABLE ||
					op == M_ROLE || op == M_AP_SHOW || op == M_AP_DECIDE);

				if (expect_denied) {
					if (rc != (hidden ? TW_E_NOT_FOUND : TW_E_DENIED))
						fail_msg("%s as %s (%s tenant): expected denied, got %s",
							op == M_LIST ? "operator.list" : auth_op_name((enum auth_op)op),
							auth_role_name(role), foreign ? "foreign" : "own",
							tw_strerror(rc));
					assert_true(refusals(f) > before);   /* logged */
					denials++;
				} else if (rc == TW_E_DENIED) {
					fail_msg("op %d as %s (%s tenant): unexpectedly denied", op,
						auth_role_name(role), foreign ? "foreign" : "own");
				}
				checked++;
			}
		}
	}
	assert_int_equal(checked, AUTH_ROLE__COUNT * M__COUNT * 2);
	assert_true(denials > 0);
	/* An operator without roles and an unauthenticated principal get nothing. */
	{
		struct auth_principal none;

		memset(&none, 0, sizeof(none));
		snprintf(none.name, sizeof(none.name), "nobody");
		assert_int_equal(auth_check(f->st, &none, AUTH_OP_GATEWAY_LIST, 0, "x", &err),
			TW_E_DENIED);
	}
}

static int count_certs(const struct store_ca_cert *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
	return 0;
}

/* ---- TOTP keys at rest ---- */

/* The current code of a base32 key at now_s. */
static void totp_code(const char *b32, int64_t now_s, char code[8])
{
	unsigned char key[AUTH_TOTP_KEY_MAX];
	size_t len = 0;
	uint32_t v = 0;
	struct tw_error err;

	assert_int_equal(auth_base32_decode(b32, key, sizeof(key), &len, &err), TW_OK);
	assert_int_equal(auth_hotp(key, len, (uint64_t)(now_s / AUTH_TOTP_STEP_S),
		AUTH_TOTP_DIGITS, &v, &err), TW_OK);
	snprintf(code, 8, "%06u", (unsigned)v);
}

static void test_totp_sealed(void **state)
{
	struct fx *f = *state;
	const char *b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
	char sealed[STORE_AUTH_SECRET_MAX + 1], code[8], token[AUTH_TOKEN_LEN + 1];
	struct auth_principal bg, p;
	struct auth_operator_new in = { 0 };
	struct auth_operator_added out;
	struct auth_login_input li;
	struct store_operator op;
	struct tw_error err;
	int64_t step = 0, exp = 0, now = tw_now_ms();
	bool plain = true;

	/* The pure functions: sealed, bound to the operator, opened only with the key. */
	assert_int_equal(auth_totp_seal(f->box, "tina", b32, sealed, sizeof(sealed), &err),
		TW_OK);
	assert_true(secretbox_is_sealed(sealed));
	assert_null(strstr(sealed, b32));
	assert_int_equal(auth_totp_verify_stored(f->box, "tina", sealed, "287082", 59, &step,
		&plain, &err), TW_OK);
	assert_false(plain);
	assert_int_equal(step, 1);
	assert_int_equal(auth_totp_verify_stored(f->box, "tina", sealed, "287083", 59, &step,
		&plain, &err), TW_E_DENIED);
	/* Copied into another operator's row: does not open. */
	assert_int_equal(auth_totp_verify_stored(f->box, "tom", sealed, "287082", 59, &step,
		&plain, &err), TW_E_INTEGRITY);
	assert_int_equal(auth_totp_verify_stored(NULL, "tina", sealed, "287082", 59, &step,
		&plain, &err), TW_E_CONFIG);
	assert_int_equal(auth_totp_seal(NULL, "tina", b32, sealed, sizeof(sealed), &err),
		TW_E_CONFIG);
	/* A plain row of an older home verifies and says so. */
	assert_int_equal(auth_totp_verify_stored(f->box, "tina", b32, "287082", 59, &step,
		&plain, &err), TW_OK);
	assert_true(plain);

	/* operator add stores the key sealed; the operator gets it in the clear once. */
	auth_principal_break_glass(&bg, "os:test", "local:1");
	in.name = "tina";
	in.factor = "totp";
	in.public_key = f->key;
	in.issue = soft_issue;
	in.issue_arg = f->key;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &bg, &in, &out, &err), TW_E_CONFIG);
	in.box = f->box;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &bg, &in, &out, &err), TW_OK);
	assert_int_equal(strlen(out.totp_key), 32);
	assert_int_equal(store_operator_get_by_name(f->st, "tina", &op, &err), TW_OK);
	assert_true(secretbox_is_sealed(op.secret));
	assert_null(strstr(op.secret, out.totp_key));
	memset(&li, 0, sizeof(li));
	li.cert_fingerprint = op.cert_fingerprint;
	li.client = "10.1.0.1:1";
	totp_code(out.totp_key, now / 1000, code);
	li.totp = code;
	li.now_ms = now;
	/* Without the data key a sealed key cannot be checked: an error, never a success. */
	assert_int_not_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	li.box = f->box;
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	assert_string_equal(p.name, "tina");
	X509_free(out.cert);
	tw_wipe(out.totp_key, sizeof(out.totp_key));

	/* A plain row (written before sealing) logs in and is sealed by that login. */
	fx_operator(f, "olga", f->tenant_a, 0, "olga-password-123");
	assert_int_equal(store_operator_get_by_name(f->st, "olga", &op, &err), TW_OK);
	{
		/* Turn the fixture's password row into an old-style TOTP row, as 0005 stored it. */
		char sql[256];

		snprintf(sql, sizeof(sql), "UPDATE operators SET factor = 'totp', secret = '%s' "
			"WHERE name = 'olga'", b32);
		char db[128];
		sqlite3 *h = NULL;

		snprintf(db, sizeof(db), "%s/store.db", f->dir);
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		sqlite3_busy_timeout(h, 5000);
		assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(h);
	}
	li.cert_fingerprint = op.cert_fingerprint;
	li.client = "10.1.0.2:1";
	totp_code(b32, now / 1000, code);
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	assert_int_equal(store_operator_get_by_name(f->st, "olga", &op, &err), TW_OK);
	assert_true(secretbox_is_sealed(op.secret));
	assert_null(strstr(op.secret, b32));
	/* ... and the sealed row verifies at the next step. */
	li.now_ms = now + AUTH_TOTP_STEP_S * 1000;
	totp_code(b32, li.now_ms / 1000, code);
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	tw_wipe(&op, sizeof(op));
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 }, &err), TW_OK);
}

/* ---- disabling revokes the certificate for the operator CRL ---- */

static void test_disable_revokes_certificate(void **state)
{
	struct fx *f = *state;
	struct auth_principal bg, p;
	struct auth_operator_new in = { 0 };
	struct auth_operator_added out;
	struct auth_login_input li;
	struct store_certificate cert;
	struct store_ca_cert cc;
	struct store_ca_crl crl, got;
	struct tw_error err;
	char token[AUTH_TOKEN_LEN + 1];
	int64_t exp = 0;
	bool found = false;
	int n = 0;

	auth_principal_break_glass(&bg, "os:test", "local:1");
	in.name = "ron";
	in.factor = "password";
	in.password = "ron-password-1234";
	in.password_len = strlen(in.password);
	in.public_key = f->key;
	in.issue = soft_issue;
	in.issue_arg = f->key;
	in.box = f->box;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &bg, &in, &out, &err), TW_OK);
	/* Recorded as an operator certificate, valid. */
	memset(&cert, 0, sizeof(cert));
	assert_int_equal(store_certificate_get_by_fingerprint(f->st, out.fingerprint, &cert,
		&err), TW_OK);
	assert_string_equal(cert.owner_kind, AUTH_OPCA_OWNER_KIND);
	assert_string_equal(cert.owner_id, "ron");
	assert_string_equal(cert.status, "valid");
	/* The operator CA has a CRL (init publishes the first one). */
	memset(&crl, 0, sizeof(crl));
	snprintf(crl.ca, sizeof(crl.ca), "%s", AUTH_OPCA_CRL_CA);
	crl.number = 1;
	crl.this_update = tw_now_ms() / 1000;
	crl.next_update = crl.this_update + 3600;
	memset(crl.sha256, 'a', 64);
	snprintf(crl.path, sizeof(crl.path), "%s/operator.crl", f->dir);
	assert_int_equal(store_ca_crl_put(f->st, &crl, &err), TW_OK);
	memset(&li, 0, sizeof(li));
	li.cert_fingerprint = out.fingerprint;
	li.client = "10.2.0.1:1";
	li.password = "ron-password-1234";
	li.password_len = strlen(li.password);
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);

	assert_int_equal(auth_svc_operator_disable(f->st, &bg, "ron", "left", &err), TW_OK);
	memset(&cc, 0, sizeof(cc));
	assert_int_equal(store_ca_cert_get(f->st, cert.issuer, cert.serial_hex, false, &cc,
		&err), TW_OK);
	assert_string_equal(cc.status, "revoked");
	assert_int_equal(cc.revocation_reason, AUTH_OPCA_REVOKE_REASON);
	assert_true(cc.revoked_ms > 0);
	store_ca_cert_clear(&cc);
	assert_int_equal(store_ca_crl_get(f->st, AUTH_OPCA_CRL_CA, &got, &found, &err), TW_OK);
	assert_true(found);
	assert_true(got.dirty);   /* the worker (or the caller) republishes */
	/* The api's own check: login and the open session are refused from the store. */
	assert_int_equal(auth_session_check(f->st, token, strlen(token), out.fingerprint, "c", 0,
		&p, &err), TW_E_DENIED);
	li.client = "10.2.0.2:1";
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "disabled"));

	/* An operator from before certificates were recorded: disabled all the same. */
	fx_operator(f, "old", f->tenant_a, 0, "old-password-1234");
	assert_int_equal(auth_svc_operator_disable(f->st, &bg, "old", "left", &err), TW_OK);
	assert_int_equal(store_ca_cert_foreach(f->st, cert.issuer, count_certs, &n, &err),
		TW_OK);
	assert_int_equal(n, 1);
	store_certificate_clear(&cert);
	X509_free(out.cert);
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 }, &err), TW_OK);
}

/* ---- issue 9: trust boundaries ---- */

static void fx_sql(struct fx *f, const char *sql)
{
	char db[128];
	sqlite3 *h = NULL;

	snprintf(db, sizeof(db), "%s/store.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/*
 * Defect 1: a tenant-admin (or system-admin) cannot ask for installation-wide roles,
 * neither for a new operator nor for an existing one; a security officer can, through
 * four-eyes; and a request whose requester lost the security-officer role meanwhile is
 * refused at execution.
 */
static void test_installation_roles(void **state)
{
	struct fx *f = *state;
	struct auth_principal ta, sa, so, ap;
	struct store_approval a;
	struct store_operator op;
	struct tw_error err;
	int64_t id = 0;
	static const enum auth_role wide[] = { AUTH_ROLE_RA_OFFICER, AUTH_ROLE_CA_OPERATOR,
		AUTH_ROLE_FIRMWARE_MANAGER, AUTH_ROLE_AUDITOR, AUTH_ROLE_SECURITY_OFFICER,
		AUTH_ROLE_SYSTEM_ADMIN, AUTH_ROLE_TENANT_ADMIN };

	fx_operator(f, "ta", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "ta-password-12345");
	fx_operator(f, "sa", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_SYSTEM_ADMIN), "sa-password-12345");
	fx_operator(f, "so", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_SECURITY_OFFICER),
		"so-password-12345");
	fx_operator(f, "ap", f->tenant_b, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER), "ap-password-12345");
	fx_operator(f, "x", f->tenant_b, 0, "x-password-123456");
	fx_principal(f, &ta, "ta");
	fx_principal(f, &sa, "sa");
	fx_principal(f, &so, "so");
	fx_principal(f, &ap, "ap");
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++) {
		struct auth_operator_new in = { 0 };
		struct auth_operator_added out;

		assert_true((AUTH_ROLES_INSTALLATION & AUTH_ROLE_BIT(wide[i])) != 0);
		assert_int_equal(auth_svc_operator_role(f->st, &f->s, &ta, "x",
			AUTH_ROLE_BIT(wide[i]), "escalate", &id, &err), TW_E_DENIED);
		assert_int_equal(auth_svc_operator_role(f->st, &f->s, &sa, "x",
			AUTH_ROLE_BIT(wide[i]), "escalate", &id, &err), TW_E_DENIED);
		in.name = "newbie";
		in.factor = "password";
		in.public_key = f->key;
		in.issue = soft_issue;
		in.issue_arg = f->key;
		in.enrol = true;
		in.roles = AUTH_ROLE_BIT(wide[i]);
		in.reason = "escalate";
		assert_int_equal(auth_svc_operator_add(f->st, &f->s, &ta, &in, &out, &err),
			TW_E_DENIED);
	}
	/* Tenant-scoped roles stay the tenant-admin's to ask for. */
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &ta, "x",
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), "fine", &id, &err), TW_OK);
	/* The security officer asks for ra-officer; the request waits for an approver. */
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &so, "x",
		AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER), "new RA officer", &id, &err), TW_OK);
	assert_true(id > 0);
	assert_int_equal(store_operator_get_by_name(f->st, "x", &op, &err), TW_OK);
	assert_int_equal(op.roles & AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER), 0);
	/* ... but the requester is no security officer any more when it is released. */
	fx_sql(f, "UPDATE operators SET roles = 128 WHERE name = 'so'");   /* tenant-admin */
	assert_int_equal(auth_approval_decide(f->st, &f->s, &ap, id, true, "ok", NULL, &err),
		TW_E_DENIED);
	assert_int_equal(store_approval_get(f->st, id, &a, &err), TW_OK);
	assert_string_equal(a.state, "failed");
	assert_non_null(strstr(a.result, "refused:"));
	assert_int_equal(store_operator_get_by_name(f->st, "x", &op, &err), TW_OK);
	assert_int_equal(op.roles & AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER), 0);
	/* Restored, a fresh request executes. */
	fx_sql(f, "UPDATE operators SET roles = 1 WHERE name = 'so'");
	fx_principal(f, &so, "so");
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &so, "x",
		AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER), "new RA officer", &id, &err), TW_OK);
	assert_int_equal(auth_approval_decide(f->st, &f->s, &ap, id, true, "ok", &a, &err),
		TW_OK);
	assert_string_equal(a.state, "executed");
	assert_int_equal(store_operator_get_by_name(f->st, "x", &op, &err), TW_OK);
	assert_int_equal(op.roles, AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER));
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 }, &err), TW_OK);
}

/* Defect 8: a request of a requester disabled meanwhile is refused, and says so. */
static void test_disabled_requester(void **state)
{
	struct fx *f = *state;
	struct auth_principal ta, ap;
	struct store_approval a;
	struct store_operator op;
	struct tw_error err;
	int64_t id = 0;

	fx_operator(f, "ta", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "ta-password-12345");
	fx_operator(f, "ap", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER), "ap-password-12345");
	fx_operator(f, "gw", f->tenant_a, 0, "gw-password-12345");
	fx_principal(f, &ta, "ta");
	fx_principal(f, &ap, "ap");
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &ta, "gw",
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), "needs it", &id, &err), TW_OK);
	assert_int_equal(store_operator_get_by_name(f->st, "ta", &op, &err), TW_OK);
	assert_int_equal(store_operator_set_status(f->st, op.id, "disabled", "revoked", &err),
		TW_OK);
	assert_int_equal(auth_approval_decide(f->st, &f->s, &ap, id, true, "ok", NULL, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "disabled"));
	assert_int_equal(store_approval_get(f->st, id, &a, &err), TW_OK);
	assert_string_equal(a.state, "failed");          /* never "executed" */
	assert_non_null(strstr(a.result, "refused: the requester ta is disabled"));
	assert_string_equal(a.decided_by, "ap");
	assert_int_equal(store_operator_get_by_name(f->st, "gw", &op, &err), TW_OK);
	assert_int_equal(op.roles, 0);                  /* nothing ran */
	/* A rejection is still possible for such a request (nothing runs either way). */
	assert_int_equal(audit_verify(f->st, &(struct audit_verify_result){ 0 }, &err), TW_OK);
}

/* Defect 2: the creator rule for approvers, within [auth] creator_window. */
static void test_creator_rule(void **state)
{
	struct fx *f = *state;
	struct auth_principal ta, minted, other;
	struct store_approval a;
	struct tw_error err;
	int64_t id = 0;

	fx_operator(f, "ta", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "ta-password-12345");
	fx_operator(f, "minted", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER),
		"mi-password-12345");
	fx_operator(f, "other", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_APPROVER),
		"ot-password-12345");
	fx_operator(f, "gw", f->tenant_a, 0, "gw-password-12345");
	fx_sql(f, "UPDATE operators SET created_by = 'ta' WHERE name = 'minted'");
	fx_principal(f, &ta, "ta");
	fx_principal(f, &minted, "minted");
	fx_principal(f, &other, "other");
	assert_int_equal(auth_svc_operator_role(f->st, &f->s, &ta, "gw",
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), "needs it", &id, &err), TW_OK);
	/* The account ta created cannot release ta's request ... */
	assert_int_equal(auth_approval_decide(f->st, &f->s, &minted, id, true, "ok", NULL, &err),
		TW_E_DENIED);
	assert_non_null(strstr(err.message, "creator_window"));
	assert_int_equal(store_approval_get(f->st, id, &a, &err), TW_OK);
	assert_string_equal(a.state, "pending");        /* another approver still can */
	/* ... nor can the creator release a request of the account it created. */
	fx_sql(f, "UPDATE operators SET created_by = 'other' WHERE name = 'ta'");
	assert_int_equal(auth_approval_decide(f->st, &f->s, &other, id, true, "ok", NULL, &err),
		TW_E_DENIED);
	/* Outside the window the rule no longer applies. */
	fx_sql(f, "UPDATE operators SET created_ms = 1000 WHERE name = 'ta'");
	assert_int_equal(auth_approval_decide(f->st, &f->s, &other, id, true, "ok", &a, &err),
		TW_OK);
	assert_string_equal(a.state, "executed");
}

/* Defect 2: enrolment. The creator never holds the secret; the code works once. */
static void test_enrolment(void **state)
{
	struct fx *f = *state;
	struct auth_principal ta, p;
	struct auth_operator_new in = { 0 };
	struct auth_operator_added out;
	struct auth_login_input li;
	struct store_operator op;
	struct tw_error err;
	char token[AUTH_TOKEN_LEN + 1], totp_key[33] = "", dir[128], path[160];
	int64_t exp = 0;

	fx_operator(f, "ta", f->tenant_a, AUTH_ROLE_BIT(AUTH_ROLE_TENANT_ADMIN), "ta-password-12345");
	fx_principal(f, &ta, "ta");
	in.name = "newop";
	in.factor = "password";
	in.public_key = f->key;
	in.issue = soft_issue;
	in.issue_arg = f->key;
	/* The creator may not choose the password, nor skip enrolment. */
	in.password = "creator-chosen-pw";
	in.password_len = strlen(in.password);
	in.enrol = true;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &ta, &in, &out, &err), TW_E_DENIED);
	in.password = NULL;
	in.enrol = false;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &ta, &in, &out, &err), TW_E_DENIED);
	in.enrol = true;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &ta, &in, &out, &err), TW_OK);
	assert_int_equal(strlen(out.enrol_code), AUTH_ENROL_CODE_LEN);
	assert_int_equal(store_operator_get_by_name(f->st, "newop", &op, &err), TW_OK);
	assert_true(auth_enrol_pending(op.secret));
	assert_null(strstr(op.secret, out.enrol_code));
	snprintf(dir, sizeof(dir), "%s/enrolment", f->dir);
	assert_int_equal(auth_enrol_code_deliver(dir, "newop", out.enrol_code,
		out.enrol_expires_ms, &err), TW_OK);
	snprintf(path, sizeof(path), "%s/newop.code", dir);
	assert_true(tw_path_exists(path));

	memset(&li, 0, sizeof(li));
	li.cert_fingerprint = op.cert_fingerprint;
	li.client = "10.9.0.1:1";
	li.box = f->box;
	li.totp_key_out = totp_key;
	/* No login before enrolment, whatever password is tried. */
	li.password = "creator-chosen-pw";
	li.password_len = strlen(li.password);
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_E_DENIED);
	/* A wrong code is refused. */
	li.enrol_code = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	li.password = "operator-own-pw-1";
	li.password_len = strlen(li.password);
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_E_DENIED);
	/* Expired: refused (time travel past the expiry). */
	li.enrol_code = out.enrol_code;
	li.now_ms = out.enrol_expires_ms + 1;
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_E_DENIED);
	assert_non_null(strstr(err.message, "expired"));
	/* The right code with the operator's own certificate and its own password. */
	li.now_ms = 0;
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	assert_string_equal(p.name, "newop");
	/* Once only. */
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_E_DENIED);
	/* From now on its own password. */
	li.enrol_code = NULL;
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	X509_free(out.cert);
	tw_wipe(out.enrol_code, sizeof(out.enrol_code));

	/* TOTP: the key is made at enrolment, handed to the operator once, stored sealed. */
	in.name = "totpop";
	in.factor = "totp";
	in.box = f->box;
	assert_int_equal(auth_svc_operator_add(f->st, &f->s, &ta, &in, &out, &err), TW_OK);
	assert_int_equal(strlen(out.totp_key), 0);       /* nothing for the creator */
	assert_int_equal(store_operator_get_by_name(f->st, "totpop", &op, &err), TW_OK);
	memset(&li, 0, sizeof(li));
	li.cert_fingerprint = op.cert_fingerprint;
	li.client = "10.9.0.2:1";
	li.box = f->box;
	li.totp_key_out = totp_key;
	li.enrol_code = out.enrol_code;
	assert_int_equal(auth_login(f->st, &f->s, &li, &p, token, &exp, &err), TW_OK);
	assert_int_equal(strlen(totp_key), 32);
	assert_int_equal(store_operator_get_by_name(f->st, "totpop", &op, &err), TW_OK);
	assert_true(secretbox_is_sealed(op.secret));
	assert_null(strstr(op.secret, totp_key));
	X509_free(out.cert);
	tw_wipe(out.enrol_code, sizeof(out.enrol_code));
	tw_wipe(totp_key, sizeof(totp_key));
}

/* Defect 10: policy floors: no configuration goes below them. */
static void test_policy_floors(void **state)
{
	struct auth_settings s;
	struct tw_config *conf = NULL;
	struct tw_error err;
	static const char *const weak[] = {
		"[auth]\nfleet_order_threshold = 100000000\n",
		"[auth]\nmax_failures = 1000\n",
		"[auth]\nsession_ttl = 86400\n",
		"[auth]\nfailure_window = 10\n",
		"[auth]\napproval_ttl = 2592000\n",
		"[auth]\ncreator_window = 0\n",
	};
	const char *empty = "[auth]\nexclusions = approver+auditor\n";

	(void)state;
	for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
		assert_int_equal(tw_config_parse(weak[i], strlen(weak[i]), "t", &conf, &err), TW_OK);
		assert_int_equal(auth_settings_load(conf, &s, &err), TW_E_CONFIG);
		tw_config_free(conf);
		conf = NULL;
	}
	/* An emptied (or shortened) exclusion list still keeps the mandatory pairs. */
	assert_int_equal(tw_config_parse(empty, strlen(empty), "t", &conf, &err), TW_OK);
	assert_int_equal(auth_settings_load(conf, &s, &err), TW_OK);
	assert_int_equal(auth_exclusions_check(&s.exclusions, AUTH_ROLE_BIT(AUTH_ROLE_AUDITOR) |
		AUTH_ROLE_BIT(AUTH_ROLE_GATEWAY_OPERATOR), &err), TW_E_DENIED);
	assert_int_equal(auth_exclusions_check(&s.exclusions, AUTH_ROLE_BIT(AUTH_ROLE_RA_OFFICER) |
		AUTH_ROLE_BIT(AUTH_ROLE_CA_OPERATOR), &err), TW_E_DENIED);
	assert_int_equal(auth_exclusions_check(&s.exclusions,
		AUTH_ROLE_BIT(AUTH_ROLE_SECURITY_OFFICER) | AUTH_ROLE_BIT(AUTH_ROLE_SYSTEM_ADMIN),
		&err), TW_E_DENIED);
	tw_config_free(conf);
	assert_false(auth_exclusions_keep_mandatory(""));
	assert_false(auth_exclusions_keep_mandatory("auditor+write"));
	assert_true(auth_exclusions_keep_mandatory(AUTH_DEFAULT_EXCLUSIONS ", approver+auditor"));
	/* The four-eyes list cannot lose ca.key.deactivate or operator.role either. */
	assert_int_equal(auth_settings_load(NULL, &s, &err), TW_OK);
	assert_true(auth_four_eyes_required(&s, "ca.key.deactivate", 0));
	assert_true(auth_four_eyes_required(&s, "operator.role", 0));
	assert_true(auth_four_eyes_required(&s, "fleet.order", AUTH_FLOOR_FLEET_THRESHOLD_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_and_exclusions),
		cmocka_unit_test_setup_teardown(test_four_eyes_policy, fx_setup, fx_teardown),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_token),
		cmocka_unit_test(test_request_parser),
		cmocka_unit_test_setup_teardown(test_login_sessions_throttle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_totp_sealed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disable_revokes_certificate, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_four_eyes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_matrix, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_installation_roles, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_disabled_requester, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_creator_rule, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_enrolment, fx_setup, fx_teardown),
		cmocka_unit_test(test_policy_floors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
