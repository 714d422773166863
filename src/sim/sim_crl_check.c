/*
 * sim_crl_check.c: the simulated gateway checks a communication partner's certificate
 * against the CRLs the GWA distributed (issue 12, UC-3.3.3 "fetch and apply CRLs",
 * T-SZ.7-9; the CRLs arrive by the crl-update order, sim_renewal.c, and are kept in
 * gw->state "crls" after their signature was verified with the issuer from the
 * gateway's own chain).
 *
 * A partner certificate (an EMT's TLS certificate in a WAN or proxy profile) is accepted
 * only when
 *   - it chains to the gateway's root (DIR/root-ca.crt, DIR/chain.pem) and is within its
 *     validity                                      else  certificate_untrusted
 *   - the gateway holds a CRL of its issuer           else  crl_missing
 *   - that CRL is current: nextUpdate in the future (TR-03109-4: a revocation status
 *     from an outdated CRL is no status)             else  crl_stale
 *   - its serial number is not on that CRL           else  certificate_revoked
 * A real SMGW refuses the TLS channel to such a partner; the simulator refuses the
 * profile that would configure it, which is where it meets EMT certificates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "pki/request.h"
#include "sim/sim_crl_check.h"

#define FAIL(c, rcode, ...) (*code = (c), tw_error_set(err, (rcode), __VA_ARGS__))

/* The held CRL whose issuer is name (new object, caller frees), or NULL. */
static X509_CRL *held_crl_of(struct sim_gw *gw, const X509_NAME *name)
{
	const json_t *held = json_object_get(gw->state, "crls");
	X509_CRL *found = NULL;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)held, k, v) {
		const char *b64 = json_string_value(json_object_get(v, "der"));
		unsigned char *der = NULL;
		size_t len = 0;
		const unsigned char *p;
		X509_CRL *crl;
		struct tw_error e;

		(void)k;
		if (b64 == NULL || request_decode((const unsigned char *)b64, strlen(b64), &der,
		    &len, &e) != TW_OK)
			continue;
		p = der;
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		free(der);
		if (crl != NULL && X509_NAME_cmp(X509_CRL_get_issuer(crl), name) == 0) {
			found = crl;
			break;
		}
		X509_CRL_free(crl);
	}
	return found;
}

tw_rc sim_crl_check_peer(struct sim_gw *gw, X509 *cert, const char *who, const char **code,
	struct tw_error *err)
{
	X509_CRL *crl = NULL;
	X509_REVOKED *r = NULL;
	const ASN1_TIME *next;
	char serial[80] = "?";
	ASN1_INTEGER *sn = X509_get_serialNumber(cert);
	BIGNUM *bn = sn != NULL ? ASN1_INTEGER_to_BN(sn, NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	time_t now = time(NULL);
	tw_rc rc;

	if (hex != NULL)
		snprintf(serial, sizeof(serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	if ((rc = sim_verify_chain(gw, cert, err)) != TW_OK) {
		char why[TW_ERROR_MESSAGE_MAX];

		/* err->message cannot be an argument of the call that rewrites it. */
		snprintf(why, sizeof(why), "%s", err->message);
		rc = FAIL("certificate_untrusted", TW_E_DENIED, "the certificate of %s (serial %s) "
			"is not trusted by this gateway: %s", who, serial, why);
		goto out;
	}
	if ((crl = held_crl_of(gw, X509_get_issuer_name(cert))) == NULL) {
		rc = FAIL("crl_missing", TW_E_DENIED, "no CRL of the issuer of %s's certificate "
			"(serial %s) on this gateway: its revocation status is unknown (the GWA "
			"distributes CRLs by crl-update)", who, serial);
		goto out;
	}
	next = X509_CRL_get0_nextUpdate(crl);
	if (next == NULL || X509_cmp_time(next, &now) <= 0) {
		rc = FAIL("crl_stale", TW_E_DENIED, "the CRL of the issuer of %s's certificate "
			"(serial %s) is past its nextUpdate: its revocation status is unknown", who,
			serial);
		goto out;
	}
	if (X509_CRL_get0_by_serial(crl, &r, sn) == 1) {
		rc = FAIL("certificate_revoked", TW_E_DENIED, "the certificate of %s (serial %s) "
			"is revoked by the CRL this gateway holds", who, serial);
		goto out;
	}
	rc = TW_OK;
out:
	X509_CRL_free(crl);
	return rc;
}

json_t *sim_crl_revoked_partners(struct sim_gw *gw)
{
	const json_t *profiles = json_object_get(gw->state, "profiles");
	json_t *out = json_array(), *doc;
	const char *pid;

	json_object_foreach((json_t *)profiles, pid, doc) {
		const char *b64 = json_string_value(json_object_get(doc, "tls_cert"));
		unsigned char *der = NULL;
		size_t len = 0;
		const unsigned char *p;
		X509 *x = NULL;
		X509_CRL *crl = NULL;
		X509_REVOKED *r = NULL;
		struct tw_error e;

		if (b64 == NULL)
			b64 = json_string_value(json_object_get(doc, "emt_tls_cert"));
		if (out == NULL || b64 == NULL ||
		    request_decode((const unsigned char *)b64, strlen(b64), &der, &len, &e) != TW_OK)
			continue;
		p = der;
		/* Only revocation counts here: an unknown status is judged on the next insert. */
		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL &&
		    (crl = held_crl_of(gw, X509_get_issuer_name(x))) != NULL &&
		    X509_CRL_get0_by_serial(crl, &r, X509_get0_serialNumber(x)) == 1) {
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
			char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

			json_array_append_new(out, json_pack("{s:s, s:s}", "profile_id", pid, "serial",
				hex != NULL ? hex : "?"));
			OPENSSL_free(hex);
			BN_free(bn);
		}
		X509_CRL_free(crl);
		X509_free(x);
		free(der);
	}
	return out;
}

tw_rc sim_crl_check_peer_b64(struct sim_gw *gw, const char *b64, const char *who,
	const char **code, struct tw_error *err)
{
	unsigned char *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	X509 *x = NULL;
	tw_rc rc;

	if (request_decode((const unsigned char *)b64, strlen(b64), &der, &len, err) != TW_OK) {
		rc = FAIL("invalid_certificate", TW_E_INVALID, "the certificate of %s is not "
			"base64 DER", who);
		goto out;
	}
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = FAIL("invalid_certificate", TW_E_INVALID, "the certificate of %s does not "
			"parse", who);
		goto out;
	}
	rc = sim_crl_check_peer(gw, x, who, code, err);
out:
	X509_free(x);
	free(der);
	return rc;
}
