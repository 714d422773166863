/*
 * sim_gwa_cert.c: the simulated gateway's side of "gwa-cert-update" (gwa/gwa_cert_order.c):
 * the GWA's new SIG certificate after a rotation of its SIG key. The gateway verifies
 * wake-ups with DIR/gwa-sig.crt (sim_state.c, sim_gwa_key); it replaces that file only
 * with a certificate that chains to its own root and names the same GWA as the one it
 * has. Refusals: gwa_cert_invalid (not one certificate), gwa_cert_untrusted (no chain),
 * gwa_cert_other_gwa (another GWA). The file is replaced by rename: a crash leaves the
 * old or the new certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/util.h"
#include "crypto/keys.h"
#include "gwa/wakeup.h"
#include "pki/request.h"
#include "sim/sim_orders.h"

#define SGC_B64_MAX (8 * 1024)

static tw_rc sgc_execute(struct sim_gw *gw, const json_t *payload, json_t **result,
	const char **code, struct tw_error *err)
{
	const json_t *sig = json_object_get(payload, "sig");
	char new_id[WAKEUP_ID_MAX + 1], cur_id[WAKEUP_ID_MAX + 1], fp[65], *path = NULL;
	unsigned char *der = NULL, md[32];
	const unsigned char *p;
	size_t len = 0;
	X509 *x = NULL, *cur = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	long pem_len;
	tw_rc rc;

	*result = NULL;
	*code = "gwa_cert_invalid";
	if (!json_is_string(sig) || json_string_length(sig) > SGC_B64_MAX) {
		rc = tw_error_set(err, TW_E_INVALID, "gwa-cert-update: no \"sig\" certificate");
		goto out;
	}
	if ((rc = request_decode((const unsigned char *)json_string_value(sig),
	    json_string_length(sig), &der, &len, err)) != TW_OK)
		goto out;
	p = der;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len) {
		rc = tw_error_set(err, TW_E_INVALID, "gwa-cert-update: \"sig\" is not one DER "
			"certificate");
		goto out;
	}
	*code = "gwa_cert_untrusted";
	if ((rc = sim_verify_chain(gw, x, err)) != TW_OK)
		goto out;
	*code = "gwa_cert_other_gwa";
	if ((path = tw_asprintf("%s/gwa-sig.crt", gw->dir)) == NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = keys_read_cert_pem(path, &cur, err)) != TW_OK ||
	    (rc = wakeup_cert_gwa_id(cur, cur_id, err)) != TW_OK ||
	    (rc = wakeup_cert_gwa_id(x, new_id, err)) != TW_OK)
		goto out;
	if (strcmp(cur_id, new_id) != 0) {
		rc = tw_error_set(err, TW_E_DENIED, "gwa-cert-update: the certificate names GWA "
			"'%s', this gateway's GWA is '%s'", new_id, cur_id);
		goto out;
	}
	*code = "failed";
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(bio, x) != 1 ||
	    (pem_len = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = tw_error_set_openssl(err, TW_E_CRYPTO, "cannot encode the certificate");
		goto out;
	}
	if ((rc = tw_write_file(path, pem, (size_t)pem_len, 0644, false, err)) != TW_OK)
		goto out;
	EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL);
	tw_hex_encode(md, sizeof(md), fp);
	if ((*result = json_pack("{s:s, s:s}", "gateway_id", gw->id, "fingerprint", fp)) ==
	    NULL) {
		rc = tw_error_set(err, TW_E_NOMEM, "out of memory");
		goto out;
	}
	*code = NULL;
	rc = TW_OK;
out:
	BIO_free(bio);
	X509_free(x);
	X509_free(cur);
	free(der);
	free(path);
	return rc;
}

const struct sim_order_handler sim_order_gwa_cert_update = {
	.type = "gwa-cert-update",
	.execute = sgc_execute,
};
