/*
 * gwa_renew_key.c: renewal of the GWA's own signer-held TLS, SIG and ENC keys and
 * certificates (gwa_renew.h; the state machine in gwa_rotation.h).
 *
 * Order of the switch: the new certificate is installed first, then the signer makes the
 * new key current. For TLS the order does not matter to the wan: it binds its key handle
 * to the version named by the certificate it loaded (crypto/key_label.h), and that
 * version exists from PREPARE on; the api and the worker that sign under the base label
 * follow the signer's pointer. For SIG and ENC the two renames leave a short window in
 * which the base label still names the old key while the file holds the new
 * certificate; a crash inside it is finished by the rerun (COMMIT).
 */
#include "gwa/gwa_renew.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/key_label.h"
#include "crypto/keys.h"
#include "crypto/signer_proto.h"
#include "crypto/tls_signer_key.h"
#include "gwa/gwa_renew_internal.h"
#include "gwa/gwa_rotation.h"
#include "gwa/gwa_sig_push.h"
#include "pki/ca.h"
#include "pki/ca_state.h"
#include "pki/certstore.h"
#include "pki/profile.h"

#define GRK_GRACE_DAYS_DEFAULT 7

struct grk_kind {
	const char *name, *usage, *label, *cert;
	enum pki_usage pki_usage;
};

static const struct grk_kind grk_kinds[] = {
	{ "tls", "TLS", SIGNER_KEY_GWA_TLS, TW_HOME_GWA_TLS_CERT, PKI_USAGE_TLS },
	{ "sig", "SIG", SIGNER_KEY_GWA_SIG, TW_HOME_GWA_SIG_CERT, PKI_USAGE_SIG },
	{ "enc", "ENC", SIGNER_KEY_GWA_ENC, TW_HOME_GWA_ENC_CERT, PKI_USAGE_ENC },
};

/* One rotation's context. */
struct grk {
	const struct tw_home *home;
	struct tw_store *store;
	struct signer_client *sc;
	const struct gwa_renew_actor *who;
	const struct grk_kind *kind;
	char *cert, *staged, *prev_cert;
	char current[SIGNER_LABEL_MAX + 1], next[SIGNER_LABEL_MAX + 1], prev[SIGNER_LABEL_MAX + 1];
	char installed[SIGNER_LABEL_MAX + 1], staged_label[SIGNER_LABEL_MAX + 1];
};

/*
 * Tests only (gwa_renew_signer.sh): TORWART_TEST_GWA_KILL_AFTER=<step> kills this process
 * with SIGKILL right after that step, so the test can show that every state a crash
 * leaves is a working GWA and that the rerun completes the rotation.
 */
static void grk_test_crash(enum gwa_rot_step done)
{
	const char *hook = getenv("TORWART_TEST_GWA_KILL_AFTER");

	if (hook != NULL && strcmp(hook, gwa_rot_step_name(done)) == 0)
		(void)raise(SIGKILL);
}

static const struct grk_kind *grk_kind_of(const char *name)
{
	for (size_t i = 0; i < sizeof(grk_kinds) / sizeof(grk_kinds[0]); i++)
		if (strcmp(grk_kinds[i].name, name) == 0)
			return &grk_kinds[i];
	return NULL;
}

static void grk_serial(X509 *x, char *out, size_t n)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, n, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

static tw_rc grk_audit(struct grk *g, const char *action, const char *result,
	const char *detail, struct tw_error *err)
{
	char object[64];
	struct audit_entry e;

	snprintf(object, sizeof(object), "gwa-key:%s", g->kind->name);
	e = (struct audit_entry){ .actor = g->who->actor, .role = g->who->role,
		.client = g->who->client, .action = action, .object = object, .result = result,
		.detail = detail };
	return audit_append(g->store, &e, err);
}

/* "current=A next=B prev=C ..." from the signer into g. */
static tw_rc grk_signer(struct grk *g, const char *action, struct tw_error *err)
{
	char answer[512], *tok, *save = NULL;
	tw_rc rc;

	if ((rc = signer_key_rotate(g->sc, g->kind->label, action, answer, sizeof(answer),
	    err)) != TW_OK)
		return rc;
	g->current[0] = g->next[0] = g->prev[0] = '\0';
	for (tok = strtok_r(answer, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		char *dst = strncmp(tok, "current=", 8) == 0 ? g->current :
			strncmp(tok, "next=", 5) == 0 ? g->next :
			strncmp(tok, "prev=", 5) == 0 ? g->prev : NULL;
		const char *v = strchr(tok, '=') + 1;

		if (dst != NULL && strcmp(v, "-") != 0)
			snprintf(dst, SIGNER_LABEL_MAX + 1, "%s", v);
	}
	if (g->current[0] == '\0')
		return tw_error_set(err, TW_E_PROTOCOL, "the signer's rotation answer names no "
			"current key for '%s'", g->kind->label);
	return TW_OK;
}

/* The versioned label of the certificate file's key; "" when the file does not exist. */
static tw_rc grk_cert_label(struct grk *g, const char *path, char *out, X509 **cert,
	struct tw_error *err)
{
	X509 *x = NULL;
	tw_rc rc;

	out[0] = '\0';
	if (cert != NULL)
		*cert = NULL;
	if (!tw_path_exists(path))
		return TW_OK;
	if ((rc = keys_read_cert_pem(path, &x, err)) != TW_OK)
		return rc;
	rc = signer_label_of_key(g->kind->label, X509_get0_pubkey(x), out, SIGNER_LABEL_MAX + 1,
		err);
	if (rc == TW_OK && cert != NULL) {
		*cert = x;
		x = NULL;
	}
	X509_free(x);
	return rc;
}

static tw_rc grk_facts(struct grk *g, struct tw_error *err)
{
	tw_rc rc;

	if ((rc = grk_signer(g, "status", err)) != TW_OK ||
	    (rc = grk_cert_label(g, g->cert, g->installed, NULL, err)) != TW_OK ||
	    (rc = grk_cert_label(g, g->staged, g->staged_label, NULL, err)) != TW_OK)
		return rc;
	if (g->installed[0] == '\0')
		return tw_error_set(err, TW_E_CONFIG, "the GWA %s certificate %s does not exist",
			g->kind->usage, g->cert);
	return TW_OK;
}

/* tmp -> path by rename, with path's owner and mode (gwa_renew.c's rule). */
static tw_rc grk_install_file(const char *tmp, const char *path, struct tw_error *err)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0) {
		bool ok = (fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0 &&
			(fchown(fd, st.st_uid, st.st_gid) == 0 || geteuid() != 0) &&
			fchmod(fd, st.st_mode & 07777) == 0;
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (!ok)
			return tw_error_set(err, TW_E_IO, "cannot give %s the owner and mode of %s: "
				"%s", tmp, path, strerror(e));
	}
	if (rename(tmp, path) != 0)
		return tw_error_set(err, TW_E_IO, "cannot replace %s: %s", path, strerror(errno));
	return TW_OK;
}

/*
 * ISSUE: a certificate for the prepared key by the Sub-CA of the home's own tenant (this
 * home's CA engine, or a remote Sub-CA: gwa_renew_internal.h), staged and recorded.
 */
static tw_rc grk_issue(struct grk *g, struct gwa_renew_result *out, struct tw_error *err)
{
	struct pki_ca_config *cfg = NULL;
	struct store_certificate row;
	struct pki_cert_request cr;
	GENERAL_NAMES *san = NULL;
	X509 *cur = NULL, *ca = NULL, *fresh = NULL;
	EVP_PKEY *pub = NULL;
	char fp_old[65], *ca_path = NULL, *tmp = NULL, detail[512], label[SIGNER_LABEL_MAX + 1];
	char *pending = NULL, key_object[64], rerun[64], issued_by[96];
	const char *remote = NULL;
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	if ((tmp = tw_asprintf("%s.tmp", g->staged)) == NULL ||
	    (pending = tw_asprintf("%s.remote", g->staged)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(g->cert, &cur, err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(cur, fp_old, err)) != TW_OK)
		goto out;
	rc = store_certificate_get_by_fingerprint(g->store, fp_old, &row, err);
	if (store_scoped_tenant(g->store) != 0 && (rc == TW_E_NOT_FOUND ||
	    (rc == TW_OK && row.tenant_id != store_scoped_tenant(g->store)))) {
		rc = tw_error_set(err, TW_E_DENIED, "the GWA's own %s certificate belongs to the "
			"home's own tenant, not to this operator's", g->kind->usage);
		goto out;
	}
	if (rc == TW_E_NOT_FOUND)
		rc = tw_error_set(err, rc, "the current GWA %s certificate %s is not in the "
			"inventory; was it issued by this home?", g->kind->usage, g->cert);
	if (rc != TW_OK)
		goto out;
	if (strcmp(row.owner_kind, "gwa") != 0 || strcmp(row.usage, g->kind->usage) != 0) {
		rc = tw_error_set(err, TW_E_INVALID, "%s is a %s %s certificate, not the GWA's %s "
			"certificate", g->cert, row.owner_kind, row.usage, g->kind->usage);
		goto out;
	}
	/* The new key's public half, under its versioned label: it must be that version. */
	if ((rc = signer_get_public_key(g->sc, g->next, &pub, err)) != TW_OK ||
	    (rc = signer_label_of_key(g->kind->label, pub, label, sizeof(label), err)) != TW_OK)
		goto out;
	if (strcmp(label, g->next) != 0) {
		rc = tw_error_set(err, TW_E_INTEGRITY, "the signer's key '%s' is not that version "
			"(its public key names '%s')", g->next, label);
		goto out;
	}
	if ((rc = gwa_renew_sub_ca(g->home, g->store, row.tenant_id, &remote, err)) != TW_OK)
		goto out;
	if (remote != NULL) {
		struct gwa_remote_req q;

		snprintf(key_object, sizeof(key_object), "gwa-key:%s", g->kind->name);
		snprintf(rerun, sizeof(rerun), "torwart gwa renew --key %s", g->kind->name);
		q = (struct gwa_remote_req){ .kind = g->kind->name, .object = key_object,
			.rerun = rerun, .usage = g->kind->pki_usage, .cur = cur, .new_pub = pub,
			.new_label = g->next, .pending_path = pending };
		if ((rc = gwa_renew_remote_issue(g->home, g->store, g->sc, g->who, remote, &q,
		    &fresh, err)) != TW_OK)
			goto out;
		snprintf(issued_by, sizeof(issued_by), "the remote Sub-CA %.64s", remote);
		goto issued;
	}
	if ((rc = ca_state_require_active(g->store, CA_DEFAULT_NAME, "issuance", err)) != TW_OK ||
	    (rc = pki_ca_config_load(g->home->conf, CA_DEFAULT_NAME, &cfg, err)) != TW_OK)
		goto out;
	if ((ca_path = tw_home_join(g->home, cfg->cert_path)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(ca_path, &ca, err)) != TW_OK)
		goto out;
	san = X509_get_ext_d2i(cur, NID_subject_alt_name, NULL, NULL);
	memset(&cr, 0, sizeof(cr));
	cr.usage = g->kind->pki_usage;
	cr.role = PKI_ROLE_GWA;
	cr.subject_name = X509_get_subject_name(cur);
	cr.san = san;
	cr.public_key = pub;
	cr.issuer_cert = ca;
	pki_ca_config_apply(cfg, &cr);
	if (cr.policy_oid == NULL)
		cr.policy_oid = tw_config_get(g->home->conf, "pki", "policy_oid");
	if (cr.cps_uri == NULL)
		cr.cps_uri = tw_config_get(g->home->conf, "pki", "cps_uri");
	if ((rc = pki_issue_certificate(g->sc, cfg->key_label, &cr, &fresh, err)) != TW_OK)
		goto out;
	snprintf(issued_by, sizeof(issued_by), "%s", cfg->name);
issued:
	grk_serial(fresh, out->new_serial, sizeof(out->new_serial));
	if ((rc = keys_cert_fingerprint(fresh, out->new_fingerprint, err)) != TW_OK)
		goto out;
	/* Staged by rename first: recorded afterwards, so a crash in between leaves a staged
	 * certificate the rerun records (it finds no row for its fingerprint). */
	(void)unlink(tmp);
	if ((rc = keys_write_certs_pem(tmp, &fresh, 1, err)) != TW_OK ||
	    (rc = grk_install_file(tmp, g->staged, err)) != TW_OK)
		goto out;
	snprintf(detail, sizeof(detail), "GWA %s certificate issued by %s for key %s: serial %s "
		"(current %s), fingerprint %s; staged as %s", g->kind->usage, issued_by, g->next,
		out->new_serial, out->old_serial, out->new_fingerprint, g->staged);
	if ((rc = store_begin(g->store, err)) != TW_OK)
		goto out;
	{
		char object[STORE_ID_MAX + 32];
		struct audit_entry e;

		snprintf(object, sizeof(object), "gwa:%s", row.owner_id);
		e = (struct audit_entry){ .actor = g->who->actor, .role = g->who->role,
			.client = g->who->client, .action = "gwa.key-issue", .object = object,
			.result = "ok", .detail = detail };
		if ((rc = pki_certificate_record(g->store, row.tenant_id, fresh, "gwa",
		    row.owner_id, g->kind->usage, err)) != TW_OK ||
		    (rc = audit_append_in_tx(g->store, &e, err)) != TW_OK ||
		    (rc = store_commit(g->store, err)) != TW_OK) {
			store_rollback(g->store);
			goto out;
		}
	}
out:
	if (tmp != NULL)
		(void)unlink(tmp);
	store_certificate_clear(&row);
	GENERAL_NAMES_free(san);
	X509_free(cur);
	X509_free(ca);
	X509_free(fresh);
	EVP_PKEY_free(pub);
	pki_ca_config_free(cfg);
	free(ca_path);
	free(tmp);
	free(pending);
	return rc;
}

/* A staged certificate of an earlier run whose inventory row was not written. */
static tw_rc grk_record_staged(struct grk *g, struct tw_error *err)
{
	struct store_certificate row, cur_row;
	X509 *staged = NULL, *cur = NULL;
	char fp[65], fp_cur[65];
	tw_rc rc;

	memset(&row, 0, sizeof(row));
	memset(&cur_row, 0, sizeof(cur_row));
	if ((rc = keys_read_cert_pem(g->staged, &staged, err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(staged, fp, err)) != TW_OK)
		goto out;
	rc = store_certificate_get_by_fingerprint(g->store, fp, &row, err);
	if (rc != TW_E_NOT_FOUND)
		goto out;
	tw_error_clear(err);
	if ((rc = keys_read_cert_pem(g->cert, &cur, err)) != TW_OK ||
	    (rc = keys_cert_fingerprint(cur, fp_cur, err)) != TW_OK ||
	    (rc = store_certificate_get_by_fingerprint(g->store, fp_cur, &cur_row, err)) != TW_OK)
		goto out;
	rc = pki_certificate_record(g->store, cur_row.tenant_id, staged, "gwa", cur_row.owner_id,
		g->kind->usage, err);
out:
	store_certificate_clear(&row);
	store_certificate_clear(&cur_row);
	X509_free(staged);
	X509_free(cur);
	return rc;
}

/*
 * The SIG certificate being replaced, appended to "<cert>.history": the admin log's tree
 * heads signed with the old key keep verifying (audit/tree.h, audit_sig_key_load). Never
 * shortened; a rerun does not append the same certificate twice.
 */
static tw_rc grk_history_add(struct grk *g, const unsigned char *pem, size_t len,
	struct tw_error *err)
{
	char *path = tw_asprintf("%s.history", g->cert);
	unsigned char *old = NULL, *both = NULL;
	size_t old_len = 0;
	tw_rc rc = TW_OK;

	if (path == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	if (tw_path_exists(path) &&
	    (rc = tw_read_file(path, 1024 * 1024, &old, &old_len, err)) != TW_OK)
		goto out;
	if (old != NULL && strstr((const char *)old, (const char *)pem) != NULL)
		goto out;
	if ((both = malloc(old_len + len + 1)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if (old_len > 0)
		memcpy(both, old, old_len);
	memcpy(both + old_len, pem, len);
	rc = tw_write_file(path, both, old_len + len, 0644, false, err);
out:
	free(both);
	free(old);
	free(path);
	return rc;
}

/* INSTALL: the staged certificate replaces the installed one (kept as "<cert>.prev"). */
static tw_rc grk_install(struct grk *g, struct tw_error *err)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	char detail[256];
	tw_rc rc;

	if ((rc = grk_record_staged(g, err)) != TW_OK)
		return rc;
	/* The replaced certificate is kept: its key's grace period counts from here. */
	if ((rc = tw_read_file(g->cert, 65536, &pem, &len, err)) == TW_OK)
		rc = tw_write_file(g->prev_cert, pem, len, 0644, false, err);
	if (rc == TW_OK && g->kind->pki_usage == PKI_USAGE_SIG)
		rc = grk_history_add(g, pem, len, err);
	free(pem);
	if (rc != TW_OK || (rc = grk_install_file(g->staged, g->cert, err)) != TW_OK)
		return rc;
	snprintf(detail, sizeof(detail), "GWA %s certificate for key %s installed as %s (the "
		"previous one kept as %s)", g->kind->usage, g->next, g->cert, g->prev_cert);
	return grk_audit(g, "gwa.key-install", "ok", detail, err);
}

static long grk_grace_days(const struct tw_home *home)
{
	const char *v = tw_config_get(home->conf, "gwa", "key_grace_days");
	char *end = NULL;
	long d = v != NULL ? strtol(v, &end, 10) : GRK_GRACE_DAYS_DEFAULT;

	return v != NULL && (end == v || *end != '\0' || d < 0 || d > 3650) ?
		-1 : d;
}

static tw_rc grk_open(struct grk *g, const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *key, const struct gwa_renew_actor *who,
	struct tw_error *err)
{
	memset(g, 0, sizeof(*g));
	g->home = home;
	g->store = store;
	g->sc = sc;
	g->who = who;
	if ((g->kind = grk_kind_of(key)) == NULL)
		return tw_error_set(err, TW_E_INVALID, "--key %s: expected tls, sig or enc", key);
	g->cert = g->kind->pki_usage == PKI_USAGE_TLS ?
		tw_home_path(home, "wan", "cert", TW_HOME_GWA_TLS_CERT) :
		tw_home_join(home, g->kind->cert);
	if (g->cert == NULL || (g->staged = tw_asprintf("%s.next", g->cert)) == NULL ||
	    (g->prev_cert = tw_asprintf("%s.prev", g->cert)) == NULL)
		return tw_error_set(err, TW_E_NOMEM, "out of memory");
	return TW_OK;
}

static void grk_close(struct grk *g)
{
	free(g->cert);
	free(g->staged);
	free(g->prev_cert);
}

/*
 * The SIG orders' job policy. Why a day per attempt and a week in all by default: the
 * wake-ups of a gateway without the new certificate are signed with the kept previous key
 * (wakeup_key.c), but a gateway that is offline or unreachable by wake-up is only reached
 * at its own next contact; the week matches [gwa] key_grace_days, after which the
 * previous key may be retired and such a gateway can no longer verify any wake-up.
 */
static tw_rc grk_sig_policy(const struct tw_home *home, long *timeout_s, int *attempts,
	struct tw_error *err)
{
	long a = 0;
	tw_rc rc;

	if ((rc = tw_config_get_long(home->conf, "gwa", "sig_order_timeout",
	    GWA_SIG_ORDER_TIMEOUT_DEFAULT, 10, JOB_MAX_TIMEOUT_S, timeout_s, err)) != TW_OK ||
	    (rc = tw_config_get_long(home->conf, "gwa", "sig_order_attempts",
	    GWA_SIG_ORDER_ATTEMPTS_DEFAULT, 1, 100, &a, err)) != TW_OK)
		return rc;
	*attempts = (int)a;
	return TW_OK;
}

/* SIG: the new certificate's orders to the gateways (gwa_sig_push.h), as this actor. */
static tw_rc grk_sig_orders(struct grk *g, struct gwa_renew_result *out, struct tw_error *err)
{
	struct job_actor ja = { .actor = g->who->actor, .role = g->who->role,
		.client = g->who->client };
	struct gwa_sig_push_result r;
	long timeout_s = 0;
	int attempts = 0;
	tw_rc rc;

	if ((rc = grk_sig_policy(g->home, &timeout_s, &attempts, err)) != TW_OK ||
	    (rc = gwa_sig_push_ensure(g->store, g->cert, timeout_s, attempts, &ja, &r, err)) !=
	    TW_OK) {
		char why[TW_ERROR_MESSAGE_MAX];

		snprintf(why, sizeof(why), "%s", err->message);
		return tw_error_set(err, rc, "the GWA SIG key was switched, but the orders of the "
			"new certificate to the gateways failed (rerun `torwart gwa renew --key sig` "
			"to create them): %s", why);
	}
	out->sig_batches = r.batches;
	out->sig_gateways = r.gateways;
	out->sig_unconfirmed = r.unconfirmed;
	return TW_OK;
}

tw_rc gwa_renew_key(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *key, const struct gwa_renew_actor *who,
	struct gwa_renew_result *out, struct tw_error *err)
{
	struct grk g;
	struct gwa_rot_facts f;
	enum gwa_rot_step step;
	char detail[512];
	X509 *x = NULL;
	bool committed = false;
	tw_rc rc;

	memset(out, 0, sizeof(*out));
	if ((rc = grk_open(&g, home, store, sc, key, who, err)) != TW_OK)
		goto out;
	/* At most one pass through the four steps; each reads the state afresh. */
	for (int round = 0; round < 6 && !committed; round++) {
		if ((rc = grk_facts(&g, err)) != TW_OK)
			goto out;
		if (out->old_serial[0] == '\0' && keys_read_cert_pem(g.cert, &x, err) == TW_OK) {
			grk_serial(x, out->old_serial, sizeof(out->old_serial));
			X509_free(x);
			x = NULL;
		}
		f = (struct gwa_rot_facts){ .current = g.current, .next = g.next, .prev = g.prev,
			.installed = g.installed, .staged = g.staged_label };
		step = gwa_rot_next(&f);
		tw_info("gwa renew --key %s: %s (current %s, next %s, installed %s)", key,
			gwa_rot_step_name(step), g.current, g.next[0] ? g.next : "-", g.installed);
		switch (step) {
		case GWA_ROT_BLOCKED:
			/* A SIG rotation that crashed between the switch and its orders: the rerun
			 * orders (nothing else is left to do). */
			if (g.kind->pki_usage == PKI_USAGE_SIG) {
				if ((rc = grk_sig_orders(&g, out, err)) != TW_OK)
					goto out;
				if (out->sig_batches > 0) {
					out->sig_orders_only = true;
					committed = true;
					break;
				}
			}
			rc = tw_error_set(err, TW_E_EXISTS, "the GWA %s key's previous version %s is "
				"kept until its grace period ([gwa] key_grace_days) ends; destroy it "
				"first with `torwart gwa renew --key %s --retire`", g.kind->usage, g.prev,
				key);
			goto out;
		case GWA_ROT_BROKEN:
			rc = tw_error_set(err, TW_E_INTEGRITY, "the installed GWA %s certificate %s has "
				"the key %s, which is neither the signer's current key %s nor the "
				"prepared one %s; nothing changed (restore the certificate of the current "
				"key)", g.kind->usage, g.cert, g.installed, g.current,
				g.next[0] ? g.next : "(none)");
			goto out;
		case GWA_ROT_PREPARE:
			if ((rc = grk_signer(&g, "prepare", err)) != TW_OK)
				goto out;
			snprintf(detail, sizeof(detail), "new GWA %s key %s generated in the signer "
				"(current %s)", g.kind->usage, g.next, g.current);
			if ((rc = grk_audit(&g, "gwa.key-prepare", "ok", detail, err)) != TW_OK)
				goto out;
			break;
		case GWA_ROT_ISSUE:
			(void)unlink(g.staged);   /* a certificate for another key: no use now */
			if ((rc = grk_issue(&g, out, err)) != TW_OK)
				goto out;
			break;
		case GWA_ROT_INSTALL:
			if ((rc = grk_install(&g, err)) != TW_OK)
				goto out;
			break;
		case GWA_ROT_COMMIT: {
			char action[16 + SIGNER_LABEL_MAX];
			const char *to = g.next[0] != '\0' ? g.next : g.installed;
			char next[SIGNER_LABEL_MAX + 1];

			snprintf(next, sizeof(next), "%s", to);
			snprintf(action, sizeof(action), "commit %s", next);
			if ((rc = grk_signer(&g, action, err)) != TW_OK)
				goto out;
			snprintf(detail, sizeof(detail), "the signer's GWA %s key is now %s (previous "
				"%s kept for %ld days)", g.kind->usage, g.current,
				g.prev[0] ? g.prev : "-", grk_grace_days(home));
			if ((rc = grk_audit(&g, "gwa.key-switch", "ok", detail, err)) != TW_OK)
				goto out;
			committed = true;
			break;
		}
		}
		grk_test_crash(step);
	}
	if (!committed) {
		rc = tw_error_set(err, TW_E_INTERNAL, "the GWA %s key rotation did not finish",
			g.kind->usage);
		goto out;
	}
	/* After the switch (the signer now signs wake-ups with the new key). */
	if (g.kind->pki_usage == PKI_USAGE_SIG && !out->sig_orders_only &&
	    (rc = grk_sig_orders(&g, out, err)) != TW_OK)
		goto out;
	if ((rc = keys_read_cert_pem(g.cert, &x, err)) != TW_OK)
		goto out;
	grk_serial(x, out->new_serial, sizeof(out->new_serial));
	if ((rc = keys_cert_fingerprint(x, out->new_fingerprint, err)) != TW_OK)
		goto out;
	{
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
			strftime(out->not_after, sizeof(out->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	snprintf(out->key_label, sizeof(out->key_label), "%s", g.current);
out:
	if (rc != TW_OK && g.kind != NULL && g.store != NULL) {
		struct tw_error aerr;

		tw_error_clear(&aerr);
		snprintf(detail, sizeof(detail), "GWA %s key rotation stopped (rerun to continue): "
			"%s", g.kind->usage, err->message);
		(void)grk_audit(&g, "gwa.key-renew", "error", detail, &aerr);
	}
	X509_free(x);
	grk_close(&g);
	return rc;
}

tw_rc gwa_retire_key(const struct tw_home *home, struct tw_store *store,
	struct signer_client *sc, const char *key, const struct gwa_renew_actor *who,
	bool now, const char *force_reason, char *gone, size_t size, struct tw_error *err)
{
	struct grk g;
	struct stat st;
	char detail[512];
	long days = grk_grace_days(home);
	tw_rc rc;

	gone[0] = '\0';
	if ((rc = grk_open(&g, home, store, sc, key, who, err)) != TW_OK)
		goto out;
	if (days < 0) {
		rc = tw_error_set(err, TW_E_CONFIG, "[gwa] key_grace_days: expected 0..3650 days");
		goto out;
	}
	if ((rc = grk_signer(&g, "status", err)) != TW_OK)
		goto out;
	if (g.prev[0] == '\0') {
		rc = tw_error_set(err, TW_E_NOT_FOUND, "the signer keeps no previous GWA %s key",
			g.kind->usage);
		goto out;
	}
	/* The grace period counts from the switch: when the previous certificate was set
	 * aside (gwa.key-install). */
	if (!now && stat(g.prev_cert, &st) == 0 &&
	    (int64_t)st.st_mtime + (int64_t)days * 86400 > (int64_t)time(NULL)) {
		char until[32];
		time_t t = st.st_mtime + (time_t)days * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
		rc = tw_error_set(err, TW_E_DENIED, "the previous GWA %s key %s is kept until %s "
			"([gwa] key_grace_days = %ld after the switch); --now destroys it earlier",
			g.kind->usage, g.prev, until, days);
		goto out;
	}
	/* SIG: not while gateways still need the old key's wake-ups (gwa_renew.h). */
	if (g.kind->pki_usage == PKI_USAGE_SIG) {
		struct job_actor ja = { .actor = who->actor, .role = who->role,
			.client = who->client };
		struct gwa_sig_push_result r;
		long timeout_s = 0;
		int attempts = 0;

		if ((rc = grk_sig_policy(home, &timeout_s, &attempts, err)) != TW_OK ||
		    (rc = gwa_sig_push_ensure(store, g.cert, timeout_s, attempts, &ja, &r, err)) !=
		    TW_OK)
			goto out;
		if (r.unconfirmed > 0 && force_reason == NULL) {
			rc = tw_error_set(err, TW_E_DENIED, "%lld gateways have not confirmed the new "
				"GWA SIG certificate (their gwa-cert-update orders are not done: `torwart "
				"job batches`); they verify wake-ups with the previous key %s, so it is "
				"kept. Retire it when they have, or with --force --reason TEXT",
				(long long)r.unconfirmed, g.prev);
			goto out;
		}
		if (r.unconfirmed > 0) {
			snprintf(detail, sizeof(detail), "retirement of the previous GWA SIG key %s "
				"forced although %lld gateways have not confirmed the new certificate "
				"%.16s...; why: %s", g.prev, (long long)r.unconfirmed, r.fingerprint,
				force_reason);
			if ((rc = grk_audit(&g, "gwa.key-retire-forced", "ok", detail, err)) != TW_OK)
				goto out;
			tw_warn("%s", detail);
		}
	}
	if ((rc = signer_key_rotate(sc, g.kind->label, "retire prev", detail, sizeof(detail),
	    err)) != TW_OK)
		goto out;
	snprintf(gone, size, "%s", g.prev);
	snprintf(detail, sizeof(detail), "previous GWA %s key %s destroyed in the signer%s",
		g.kind->usage, g.prev, now ? " (--now, before the end of its grace period)" : "");
	if ((rc = grk_audit(&g, "gwa.key-destroy", "ok", detail, err)) != TW_OK)
		goto out;
	if (unlink(g.prev_cert) != 0 && errno != ENOENT)
		tw_warn("cannot remove %s: %s", g.prev_cert, strerror(errno));
out:
	grk_close(&g);
	return rc;
}
