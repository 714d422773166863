/*
 * renewal_remote.c: a tenant's remote Sub-CA for SMGW renewals (renewal.h,
 * renewal_remote_issue), through the web-service client of ws_client.h.
 *
 * The authorised request goes out as RequestCertificate. A synchronous answer carries the
 * certificates; ok_syntax (the remote's RA decides first) leaves a messageID, and the
 * certificates arrive later at this home's SendCertificates endpoint ([ws] listen), where
 * ws_client_poll finds them. The caller keeps the messageID in the renewal row and asks
 * again on its next ticks (nothing is sent twice).
 *
 * What is retried and what fails: a remote that cannot be reached (connection refused,
 * TLS, timeout, an answer that does not parse) is RENEWAL_REMOTE_UNREACHABLE, and the
 * renewal waits visibly and retries; a remote that answers with a failure code refused the
 * request (RENEWAL_REMOTE_REFUSED: final, its WSDL code). Certificates that do not belong to
 * the request's keys are refused as failure_other_error: installing them would break the
 * gateway.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "base/log.h"
#include "gwa/renewal.h"
#include "ws/ws_client.h"

void renewal_remote_result_clear(struct renewal_remote_result *res)
{
	for (size_t i = 0; i < res->n; i++)
		X509_free(res->certs[i]);
	memset(res, 0, sizeof(*res));
}

/* res->certs from the answer's DER, each matched to the request entry with its key. */
static void rr_take_certs(const struct request *req, const struct ws_client_result *ans,
	struct renewal_remote_result *res)
{
	bool used[REQUEST_MAX_ENTRIES] = { false };

	if (ans->n_certs != req->n_entries) {
		res->state = RENEWAL_REMOTE_REFUSED;
		res->code = PKI_FAILURE_OTHER_ERROR;
		snprintf(res->why, sizeof(res->why), "the remote Sub-CA delivered %zu "
			"certificates for a request of %zu", ans->n_certs, req->n_entries);
		return;
	}
	for (size_t i = 0; i < ans->n_certs; i++) {
		const unsigned char *p = ans->certs[i];
		X509 *x = d2i_X509(NULL, &p, (long)ans->cert_len[i]);
		EVP_PKEY *pk = x != NULL ? X509_get0_pubkey(x) : NULL;
		size_t k = req->n_entries;

		for (size_t j = 0; pk != NULL && j < req->n_entries; j++)
			if (!used[j] && EVP_PKEY_eq(pk, req->entries[j].public_key) == 1) {
				k = j;
				break;
			}
		if (k == req->n_entries) {
			X509_free(x);
			res->state = RENEWAL_REMOTE_REFUSED;
			res->code = PKI_FAILURE_OTHER_ERROR;
			snprintf(res->why, sizeof(res->why), "certificate %zu of the remote Sub-CA "
				"%s", i, x == NULL ? "does not decode" :
				"is not for a key of the request");
			return;
		}
		used[k] = true;
		res->certs[res->n] = x;
		res->usages[res->n++] = req->entries[k].usage;
	}
	res->state = RENEWAL_REMOTE_ISSUED;
}

/* A remote's answer (sent now or polled) into res. */
static void rr_outcome(const struct request *req, const char *remote,
	const struct ws_client_result *ans, struct renewal_remote_result *res)
{
	res->code = ans->code;
	if (ans->pending) {
		res->state = RENEWAL_REMOTE_PENDING;
		snprintf(res->message_id, sizeof(res->message_id), "%s", ans->message_id);
		snprintf(res->why, sizeof(res->why), "remote Sub-CA %s: request %s accepted "
			"(ok_syntax), its RA decides; the certificates come by SendCertificates",
			remote, ans->message_id);
	} else if (pki_result_is_ok(ans->code) && ans->n_certs > 0) {
		rr_take_certs(req, ans, res);
	} else {
		res->state = RENEWAL_REMOTE_REFUSED;
		if (pki_result_is_ok(ans->code))
			res->code = PKI_FAILURE_OTHER_ERROR;
		snprintf(res->why, sizeof(res->why), "remote Sub-CA %s answered %s%s%s", remote,
			pki_result_name(ans->code), ans->message[0] ? ": " : "", ans->message);
	}
}

tw_rc renewal_remote_issue(const struct tw_home *home, struct tw_store *store,
	const char *remote, const char *pending_id, const struct request *req,
	const unsigned char *authorised, size_t len, struct renewal_remote_result *res,
	struct tw_error *err)
{
	struct ws_remote *wr = NULL;
	struct ws_client_result ans;
	struct tw_error e;
	bool callback;
	tw_rc rc;

	memset(res, 0, sizeof(*res));
	memset(&ans, 0, sizeof(ans));
	if (pending_id != NULL && *pending_id != '\0') {
		/* Asked before: look whether SendCertificates brought the answer. */
		if ((rc = ws_client_poll(store, pending_id, &ans, err)) != TW_OK)
			goto out;
		rr_outcome(req, remote, &ans, res);
		goto out;
	}
	if ((rc = ws_remote_open(home, remote, &wr, &e)) != TW_OK) {
		if (rc == TW_E_CONFIG || rc == TW_E_INVALID) {
			/* a name or section the configuration gets wrong: no retry helps */
			rc = tw_error_set(err, TW_E_CONFIG, "%s", e.message);
		} else {
			/* Files of the remote unreadable now (e.g. being replaced): retry later. */
			res->state = RENEWAL_REMOTE_UNREACHABLE;
			snprintf(res->why, sizeof(res->why), "remote Sub-CA %s: %s", remote, e.message);
			rc = TW_OK;
		}
		goto out;
	}
	/* Only a home with a SendCertificates endpoint can take a later delivery. */
	callback = tw_config_get(home->conf, "ws", "listen") != NULL;
	rc = ws_client_request(wr, store, authorised, len, callback, &ans, &e);
	if (rc == TW_E_NOMEM || rc == TW_E_STORE || rc == TW_E_INVALID) {
		*err = e;
		goto out;
	}
	if (rc != TW_OK) {
		/* Transport, TLS, timeout or an unparsable answer: the remote may come back. */
		res->state = RENEWAL_REMOTE_UNREACHABLE;
		snprintf(res->why, sizeof(res->why), "remote Sub-CA %s not reachable: %s", remote,
			e.message);
		rc = TW_OK;
		goto out;
	}
	rr_outcome(req, remote, &ans, res);
out:
	ws_client_result_clear(&ans);
	ws_remote_close(wr);
	if (rc != TW_OK)
		renewal_remote_result_clear(res);
	return rc;
}
